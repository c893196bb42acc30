"""When did activity change? Change points with uncertainty, and anomalous dates.

The activity table of :func:`geo.activity_index` is first reduced to one series: per
date, the clear-area-weighted mean of ``activity_index`` over the chosen zones (default:
the aprons), using unflagged rows only, so a cloudy zone neither drags a date down nor
silently fills it.

Candidate breaks are found with `ruptures`_ (PELT, least-squares cost; penalty
``penalty * log(n)``; or a fixed number of candidates by dynamic programming) on the
series after a running median over ``smooth`` dates, which keeps steps where they are but
removes one- or two-date spikes (a parade is an anomaly, not a change of regime). The
series is standardised by ``max(noise, min_step * (q95 - q5))``: the robust noise
(median absolute deviation from the running median), but never less than a tenth of the
series' range. Candidates are generous: a level that wanders slowly, or noise that is
larger on a busy site than on an idle one, gives several.

A candidate is reported as a change only if it is a step between two regimes. The
candidates are judged top-down: over the whole series first, of the candidates whose two
sides (everything before it, everything after it) pass all three tests below, the one
with the smallest p-value is kept:

1. a rank test (Mann-Whitney U, two-sided) of the raw values on its two sides gives
   ``p <= alpha`` after a Bonferroni correction for the ``m - 1`` places a break could
   have been put among the stretch's ``m`` dates. ``alpha = 0.05``, the usual family-wise
   level; the correction stands for the search that chose the place, and is what keeps a
   run of a few unusual dates from passing;
2. the step between the two sides' medians is at least ``min_effect`` (1.5) pooled robust
   standard deviations of the two sides, each side's own spread (1.4826 x the median
   absolute deviation from its median, so a multiplicative noise that is larger on a
   busy site counts where it is, and zeros and spikes do not). At 1.5 the middle halves
   of two normal regimes do not overlap (1.5 > 2 x 0.674); 1.5 is beyond "very large"
   (1.2) on Sawilowsky's scale of effect sizes;
3. both sides span at least ``min_days`` (60) days: weather spells (snow cover, haze, a
   run of half-cloudy dates) last weeks, and a level held for less than two months at
   either end of the series is not yet a regime.

The same is then done on each side of a kept break, with the candidates inside it. Where
no single break passes, a *spell* is looked for: the stretch between two candidates
tested against both sides together (the same three tests, Bonferroni over the pairs of
places), so quiet months inside a busy period, or a surge inside a quiet one, are two
changes. A
candidate is always tested against everything up to the neighbouring changes, never only
against the neighbouring candidates: across the turn of a slow wiggle both sides hold the
rest of the wiggle, so their medians barely differ and their spread includes it, whereas
a real change leaves the whole stretch after it at another level.

Each change gets an uncertainty interval by a residual bootstrap: the fitted
piecewise-constant series plus resampled residuals (moving blocks, to respect
autocorrelation) is re-segmented ``n_boot`` times within the break's own window (between
its neighbouring changes), and the interval spans the ``level`` quantiles of the
re-estimated break. A break whose interval spans more than ``max_interval`` (0.5) of its
window (the stretch between its neighbouring changes) is not located (the data would put it almost anywhere in
the stretch): it is taken out of the candidates and the selection is made again. Reported dates bracket the change: the change happened after
``last_before`` and by ``first_after``; ``lower``/``upper`` are the corresponding
bracket dates of the interval's ends, ``date`` the midpoint of the bracket; ``effect`` and
``p_value`` are those of the test that admitted the change.

After the first change, dates whose value departs from their segment's median by more
than ``anomaly_z`` robust standard deviations of that segment (and by more than
``anomaly_fraction`` of the largest step) are listed as anomalous (a parade, a lone
aircraft, a car park full for one day).

.. _ruptures: https://centre-borelli.github.io/ruptures-docs/

Examples
--------
>>> import numpy as np, pandas as pd
>>> d = pd.date_range("2021-01-01", periods=60, freq="7D")
>>> y = np.r_[np.full(30, 0.05), np.full(30, 0.0)] + np.random.default_rng(0).normal(0, 0.004, 60)
>>> cp = change_points(pd.Series(y, index=d))
>>> str(cp.table["first_after"].iloc[0].date())
'2021-07-30'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo import errors

__all__ = ["ChangePoints", "series", "change_points", "step_at", "noise"]

log = logging.getLogger(__name__)


@dataclass
class ChangePoints:
    """Change points of an activity series.

    Attributes
    ----------
    table
        One row per change: ``date, lower, upper, last_before, first_after, before,
        after, step, step_over_noise, effect, p_value`` (``effect``: step over the two
        sides' pooled robust spread; ``p_value``: Bonferroni-corrected rank test).
    anomalies
        Anomalous dates after the first change: ``date, value, expected, z, segment``.
    series
        The series that was segmented.
    noise
        Robust noise estimate (standard deviation) of the series.
    """

    table: pd.DataFrame
    anomalies: pd.DataFrame
    series: pd.Series
    noise: float

    @property
    def main(self) -> pd.Series | None:
        """The change with the largest step relative to noise (``None`` if no change)."""
        if self.table.empty:
            return None
        return self.table.iloc[int(np.argmax(self.table["step_over_noise"].abs().to_numpy()))]


def series(
    activity: pd.DataFrame,
    *,
    kinds: Sequence[str] | None = ("apron",),
    zones: Sequence[str] | None = None,
    value: str = "activity_index",
    include_flagged: bool = False,
) -> pd.Series:
    """One value per date: clear-area-weighted mean of ``value`` over the chosen zones.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"] * 2), "zone": ["a", "b"],
    ...                    "kind": "apron", "activity_index": [0.1, 0.3],
    ...                    "clear_pixels": [100, 300], "flagged": False})
    >>> float(series(df).iloc[0])
    0.25
    """
    df = activity
    if kinds is not None:
        df = df[df["kind"].isin(kinds)]
    if zones is not None:
        df = df[df["zone"].isin(zones)]
    if not include_flagged and "flagged" in df:
        df = df[~df["flagged"].astype(bool)]
    df = df[np.isfinite(df[value].astype(float))]
    if df.empty:
        raise errors.AnalysisError(
            f"No unflagged rows of kinds={kinds} zones={zones} with a finite {value!r}; "
            "check the zone names or pass include_flagged=True."
        )
    w = df["clear_pixels"].astype(float) if "clear_pixels" in df else pd.Series(1.0, df.index)
    num = (df[value].astype(float) * w).groupby(df["date"]).sum()
    den = w.groupby(df["date"]).sum()
    out = (num / den).sort_index()
    out.name = value
    return out


def noise(values: np.ndarray) -> float:
    """Robust noise standard deviation from first differences (MAD / sqrt 2).

    Examples
    --------
    >>> import numpy as np
    >>> round(noise(np.random.default_rng(1).normal(0, 2.0, 5000)), 1)
    2.0
    """
    d = np.diff(np.asarray(values, dtype=float))
    if d.size == 0:
        return 0.0
    mad = 1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2)
    if mad <= 0:
        mad = float(np.std(d) / np.sqrt(2))
    return float(mad)


def _robust_noise(y: np.ndarray, smoothed: np.ndarray) -> float:
    """Noise standard deviation: MAD of the residuals from the running median."""
    r = y - smoothed
    mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    if mad > 0:
        return mad
    return float(np.mean(np.abs(r))) * 1.2533  # mean |r| of a normal is 0.798 sigma


def _segment(y: np.ndarray, penalty: float, n_bkps: int | None, min_size: int) -> list[int]:
    import ruptures as rpt

    sig = y.reshape(-1, 1)
    if n_bkps is not None:
        algo = rpt.Dynp(model="l2", min_size=min_size, jump=1).fit(sig)
        return list(algo.predict(n_bkps=n_bkps))[:-1]
    algo = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(sig)
    return list(algo.predict(pen=penalty))[:-1]


def _best_split(y: np.ndarray, min_size: int) -> int:
    """Index k (y[:k] | y[k:]) minimising the two-segment squared error."""
    n = y.size
    c1, c2 = np.cumsum(y), np.cumsum(y**2)
    k = np.arange(min_size, n - min_size + 1)
    left = c2[k - 1] - c1[k - 1] ** 2 / k
    right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    return int(k[np.argmin(left + right)])


def _bootstrap(y: np.ndarray, a: int, k: int, b: int, n_boot: int, level: float, block: int,
               min_size: int, rng: np.random.Generator) -> tuple[int, int]:
    seg = y[a:b]
    kk = k - a
    fit = np.r_[np.full(kk, np.mean(seg[:kk])), np.full(seg.size - kk, np.mean(seg[kk:]))]
    resid = seg - fit
    n = seg.size
    found = np.empty(n_boot, dtype=int)
    starts_max = max(n - block, 0)
    for i in range(n_boot):
        starts = rng.integers(0, starts_max + 1, size=int(np.ceil(n / block)))
        res = np.concatenate([resid[s:s + block] for s in starts])[:n]
        found[i] = _best_split(fit + res, min_size)
    lo, hi = np.quantile(found, [(1 - level) / 2, (1 + level) / 2])
    return a + int(np.floor(lo)), a + int(np.ceil(hi))


def change_points(
    activity: pd.DataFrame | pd.Series,
    *,
    kinds: Sequence[str] | None = ("apron",),
    zones: Sequence[str] | None = None,
    value: str = "activity_index",
    penalty: float = 4.0,
    n_bkps: int | None = None,
    min_size: int = 3,
    smooth: int = 5,
    min_step: float = 0.1,
    n_boot: int = 300,
    level: float = 0.95,
    block: int = 3,
    anomaly_z: float = 4.0,
    anomaly_fraction: float = 0.02,
    seed: int = 0,
    alpha: float = 0.05,
    min_effect: float = 1.5,
    max_interval: float = 0.5,
    min_days: float = 60.0,
) -> ChangePoints:
    """Change points of the activity series with bootstrap intervals, plus anomalous dates.

    Parameters
    ----------
    activity
        The table of :func:`geo.activity_index`, or a ready series indexed by date.
    kinds, zones, value
        Which rows and column make the series (see :func:`series`).
    penalty
        PELT penalty per break, times ``log(n)``, on the noise-standardised series.
    n_bkps
        Take exactly this many candidate breaks (dynamic programming) instead of PELT's;
        the rules below still decide which of them are reported.
    min_size
        Fewest dates per candidate segment.
    smooth
        Running-median window (dates) applied before segmentation (1: none).
    min_step
        Smallest reported change, as a fraction of the series' 5-95 % range.
    n_boot, level, block
        Bootstrap replicates, interval coverage, moving-block length (dates).
    anomaly_z, anomaly_fraction
        A date after the first change is anomalous when it departs from its segment's
        median by more than ``anomaly_z`` robust standard deviations of the segment and
        by more than ``anomaly_fraction`` of the largest step (so that a perfectly flat
        segment does not make every blip an anomaly).
    seed
        Random seed of the bootstrap.
    alpha, min_effect, min_days
        A break is reported only if the rank test of its two sides gives a
        Bonferroni-corrected ``p <= alpha``, their medians are ``min_effect`` pooled
        robust standard deviations apart, and each side spans ``min_days`` days (see the
        module docstring for where each default comes from).
    max_interval
        A break whose interval spans more than this share of the two segments it
        separates is not reported.

    Returns
    -------
    ChangePoints

    Raises
    ------
    geo.errors.AnalysisError
        Fewer than ``2 * min_size`` dates.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> d = pd.date_range("2021-01-01", periods=40, freq="10D")
    >>> cp = change_points(pd.Series(np.r_[np.ones(20), np.zeros(20)], index=d))
    >>> cp.table[["last_before", "first_after"]].iloc[0].dt.strftime("%Y-%m-%d").tolist()
    ['2021-07-10', '2021-07-20']
    """
    s = activity if isinstance(activity, pd.Series) else series(
        activity, kinds=kinds, zones=zones, value=value)
    s = s.dropna().sort_index()
    if len(s) < 2 * min_size:
        raise errors.AnalysisError(
            f"The activity series has {len(s)} usable dates; change points need at least "
            f"{2 * min_size}. Use a longer period or fewer flagged dates (lower min_clear)."
        )
    y = s.to_numpy(dtype=float)
    dates = pd.DatetimeIndex(s.index)
    smoothed = (pd.Series(y).rolling(smooth, center=True, min_periods=1).median().to_numpy()
                if smooth > 1 else y)
    sigma = _robust_noise(y, smoothed)
    q5, q95 = np.quantile(y, [0.05, 0.95])
    scale = max(sigma, min_step * (q95 - q5), 1e-12)
    z = (y - np.median(y)) / scale
    zs = (smoothed - np.median(y)) / scale
    candidates = _segment(zs, penalty * np.log(len(y)), n_bkps, min_size)
    rules = _Rules(alpha=alpha, min_effect=min_effect, max_interval=max_interval,
                   n_boot=n_boot, level=level, block=block, min_size=min_size,
                   min_days=min_days)
    bkps, intervals, tests = _located_regimes(y, z, dates, candidates, rules,
                                              np.random.default_rng(seed))
    table = _table(y, dates, bkps, intervals, tests, sigma)
    biggest = float(table["step"].abs().max()) if not table.empty else float(q95 - q5)
    anomalies = _anomalies(y, dates, [0, *bkps, len(y)], anomaly_z, anomaly_fraction * biggest)
    return ChangePoints(table=table, anomalies=anomalies, series=s, noise=sigma)


_COLUMNS = ["date", "lower", "upper", "last_before", "first_after", "before", "after", "step",
            "step_over_noise", "effect", "p_value"]


def _table(y: np.ndarray, dates: pd.DatetimeIndex, bkps: list[int],
           intervals: list[tuple[int, int]], tests: list[tuple[float, float]],
           sigma: float) -> pd.DataFrame:
    edges = [0, *bkps, len(y)]
    rows = []
    for j, k in enumerate(bkps):
        a, b = edges[j], edges[j + 2]
        lo, hi = intervals[j]
        before, after = float(np.median(y[a:k])), float(np.median(y[k:b]))
        rows.append({
            "date": dates[k - 1] + (dates[k] - dates[k - 1]) / 2,
            "lower": dates[max(lo - 1, 0)], "upper": dates[min(hi, len(y) - 1)],
            "last_before": dates[k - 1], "first_after": dates[k],
            "before": before, "after": after, "step": after - before,
            "step_over_noise": (after - before) / max(sigma, 1e-12),
            "effect": tests[j][1], "p_value": tests[j][0],
        })
    table = pd.DataFrame(rows, columns=_COLUMNS)
    if not table.empty:
        table["date"] = table["date"].dt.round("D")
    return table


@dataclass(frozen=True)
class _Rules:
    """What a break must pass to be reported (see the module docstring)."""

    alpha: float
    min_effect: float
    max_interval: float
    n_boot: int
    level: float
    block: int
    min_size: int
    min_days: float


def _spread(v: np.ndarray) -> float:
    """Robust standard deviation of a segment's values (MAD about its median)."""
    return 1.4826 * float(np.median(np.abs(v - np.median(v))))


def _regime_test(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """Rank-test p-value and step over the two segments' pooled robust spread."""
    from scipy.stats import mannwhitneyu

    step = abs(float(np.median(after) - np.median(before)))
    spread = float(np.sqrt((_spread(before) ** 2 + _spread(after) ** 2) / 2))
    effect = step / spread if spread > 0 else (np.inf if step > 0 else 0.0)
    p = float(mannwhitneyu(before, after, alternative="two-sided").pvalue)
    return (p if np.isfinite(p) else 1.0), float(effect)


def _test(y: np.ndarray, dates: pd.DatetimeIndex, a: int, k: int,
          b: int) -> tuple[float, float, float]:
    """Break ``k`` between ``y[a:k]`` and ``y[k:b]``: rank-test p-value (Bonferroni over
    the ``b - a - 1`` places a break could be), effect, days of the shorter side."""
    p, effect = _regime_test(y[a:k], y[k:b])
    days = min((dates[k - 1] - dates[a]).days, (dates[b - 1] - dates[k]).days)
    return min(1.0, p * (b - a - 1)), effect, float(days)


def _select(y: np.ndarray, dates: pd.DatetimeIndex, candidates: list[int], rules: _Rules,
            a: int, b: int) -> dict[int, tuple[float, float]]:
    """Top-down: the candidate in ``[a, b)`` that best separates two regimes (smallest p
    among those passing every test), then the same on each side of it."""
    best: tuple[float, float, int] | None = None
    for k in candidates:
        if not a < k < b:
            continue
        p, effect, days = _test(y, dates, a, k, b)
        passes = p <= rules.alpha and effect >= rules.min_effect and days >= rules.min_days
        if passes and (best is None or (p, -effect) < best[:2]):
            best = (p, -effect, k)
    if best is None:
        return _spell(y, dates, candidates, rules, a, b)
    k = best[2]
    return {**_select(y, dates, candidates, rules, a, k), k: (best[0], -best[1]),
            **_select(y, dates, candidates, rules, k, b)}


def _spell(y: np.ndarray, dates: pd.DatetimeIndex, candidates: list[int], rules: _Rules,
           a: int, b: int) -> dict[int, tuple[float, float]]:
    """A spell in ``[a, b)`` at another level that ends where it began (quiet months in a
    busy period, a surge in a quiet one): no single break separates ``[a, b)`` into two
    regimes, but the stretch between two candidates differs from everything around it.
    The same three tests, the middle against both sides together, Bonferroni over the
    pairs of places; each of the three parts must span ``min_days``."""
    inside = sorted(k for k in candidates if a < k < b)
    pairs = max((b - a) * (b - a - 1) // 2, 1)
    best: tuple[float, float, int, int] | None = None
    for i, k1 in enumerate(inside):
        for k2 in inside[i + 1:]:
            days = min((dates[k1 - 1] - dates[a]).days, (dates[k2 - 1] - dates[k1]).days,
                       (dates[b - 1] - dates[k2]).days)
            if days < rules.min_days:
                continue
            p, effect = _regime_test(y[k1:k2], np.r_[y[a:k1], y[k2:b]])
            p = min(1.0, p * pairs)
            if p <= rules.alpha and effect >= rules.min_effect and (
                    best is None or (p, -effect) < best[:2]):
                best = (p, -effect, k1, k2)
    if best is None:
        return {}
    p, neg, k1, k2 = best
    return {**_select(y, dates, candidates, rules, a, k1), k1: (p, -neg),
            **_select(y, dates, candidates, rules, k1, k2), k2: (p, -neg),
            **_select(y, dates, candidates, rules, k2, b)}


def _widest(intervals: list[tuple[int, int]], bkps: list[int], dates: pd.DatetimeIndex,
            rules: _Rules) -> int | None:
    """The break whose interval spans most of the two segments it separates, if over
    ``max_interval`` of them."""
    n = len(dates)
    edges = [0, *bkps, n]
    share = [(dates[min(hi, n - 1)] - dates[max(lo - 1, 0)])
             / max(dates[edges[j + 2] - 1] - dates[edges[j]], pd.Timedelta(days=1))
             for j, (lo, hi) in enumerate(intervals)]
    wide = [j for j, f in enumerate(share) if f > rules.max_interval]
    return max(wide, key=lambda j: share[j]) if wide else None


def _located_regimes(y: np.ndarray, z: np.ndarray, dates: pd.DatetimeIndex,
                     candidates: list[int], rules: _Rules, rng: np.random.Generator
                     ) -> tuple[list[int], list[tuple[int, int]], list[tuple[float, float]]]:
    """Breaks between regimes, with intervals; a break that is not located is taken out of
    the candidates and the selection is made again."""
    candidates = list(candidates)
    while True:
        chosen = _select(y, dates, candidates, rules, 0, len(y))
        bkps = sorted(chosen)
        edges = [0, *bkps, len(y)]
        intervals = [_bootstrap(z, edges[j], k, edges[j + 2], rules.n_boot, rules.level,
                                rules.block, rules.min_size, rng) for j, k in enumerate(bkps)]
        drop = _widest(intervals, bkps, dates, rules)
        if drop is None:
            return bkps, intervals, [chosen[k] for k in bkps]
        candidates.remove(bkps[drop])


def _anomalies(y: np.ndarray, dates: pd.DatetimeIndex, edges: list[int], zmax: float,
               smallest: float) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for j in range(1, len(edges) - 1):
        a, b = edges[j], edges[j + 1]
        seg = y[a:b]
        med = float(np.median(seg))
        spread = 1.4826 * float(np.median(np.abs(seg - med)))
        dev = np.abs(seg - med)
        for i in np.nonzero((dev > zmax * spread) & (dev > smallest))[0]:
            rows.append({"date": dates[int(a + i)], "value": float(seg[i]), "expected": med,
                         "z": float((seg[i] - med) / spread) if spread > 0 else float("inf"),
                         "segment": j})
    return pd.DataFrame(rows, columns=["date", "value", "expected", "z", "segment"])


def step_at(s: pd.Series, when: Any, *, window_days: int = 90) -> dict[str, float]:
    """Step of a series at a date (median after - median before, within a window).

    Used to check that a known non-event (e.g. the 2022-01-25 processing-baseline change)
    leaves no step: compare ``ratio`` (step / noise) with what is found at real changes.

    Examples
    --------
    >>> import pandas as pd, numpy as np
    >>> s = pd.Series(np.r_[np.zeros(10), np.ones(10)], pd.date_range("2022-01-01", periods=20))
    >>> step_at(s, "2022-01-11")["step"]
    1.0
    """
    t = pd.Timestamp(when)
    s = s.dropna().sort_index()
    before = s[(s.index < t) & (s.index >= t - pd.Timedelta(days=window_days))]
    after = s[(s.index >= t) & (s.index < t + pd.Timedelta(days=window_days))]
    if before.empty or after.empty:
        return {"step": float("nan"), "noise": float("nan"), "ratio": float("nan"),
                "n_before": float(len(before)), "n_after": float(len(after))}
    step = float(after.median() - before.median())
    sig = noise(s.to_numpy())
    return {"step": step, "noise": sig, "ratio": step / sig if sig > 0 else float("inf"),
            "n_before": float(len(before)), "n_after": float(len(after))}
