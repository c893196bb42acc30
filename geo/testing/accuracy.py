"""Score an activity analysis against a scenario's ground truth, honestly.

Used by ``benchmarks/accuracy.py`` (full figures, ``--check`` against :data:`TARGETS`) and
by the CI gate (``tests/test_accuracy_gate.py``, lower bars on the small scenario). The
rules, chosen so that the figures cannot flatter the analysis:

- Rows are chosen by the **truth**, never by the analysis: a (date, zone) counts when the
  truth calls at least ``min_clear`` of the zone clear (no cloud, shadow or snow), whether
  or not the analysis flagged it. A busy date lost to a false cloud therefore costs.
- The columns scored are those users read: ``activity_index`` and ``objects``.
- Correlation is reported over all such dates *and* within busy dates only (true aircraft
  ``>= busy``), because most dates of a quiet site have no aircraft and an all-dates
  figure is then mostly a busy/idle test. Per date, ``activity_index`` (a share of the
  zones' area) is set against aircraft per zone pixel over the same truth-clear zones,
  and ``objects`` (a count) against the aircraft count.
- Detections match a true aircraft only within half the stand spacing (the median
  distance between neighbouring aircraft in the truth), so one blob cannot claim two
  stands.
- Objects on decoys and on truly cloudy dates are counted on the rows a user sees
  unflagged (the trend's); those on flagged rows are reported beside them.
- Change points are those :func:`geo.when.change_points` returns on the activity table,
  exactly what the review reports; the true changes come from the truth alone
  (:func:`true_changes`). A gradual change (a wind-down over months) has no single true
  date: a reported date inside the transition has error 0, outside it the days to its
  nearer end.

Examples
--------
>>> import pandas as pd
>>> truth = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"] * 2), "zone": ["a", "b"],
...                       "kind": "apron", "aircraft": [3, 0], "clear_fraction": [1.0, 0.2]})
>>> truth_clear_rows(truth, "apron")["zone"].tolist()
['a']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import spatial, stats

__all__ = ["TARGETS", "CI_BARS", "Target", "TrueChange", "load_truth", "truth_clear_rows", "stand_spacing",
           "true_changes", "score", "missed", "report", "measures_frame"]

APRON_KINDS = ("apron",)
COUNT_KINDS = ("apron", "revetment")


@dataclass(frozen=True)
class Target:
    """A bar a measure must clear: ``value >= bar`` (``at_least``) or ``value <= bar``."""

    bar: float
    at_least: bool
    why: str

    def met(self, value: float) -> bool:
        """Whether ``value`` clears the bar (NaN never does)."""
        if not np.isfinite(value):
            return False
        return value >= self.bar if self.at_least else value <= self.bar


TARGETS: dict[str, Target] = {
    "rows_missing": Target(0.0, False, "truth-clear rows the analysis left out"),
    "spearman_dates": Target(0.85, True, "apron activity ranks dates as the true aircraft count"),
    "spearman_busy_dates": Target(0.5, True, "and still does among busy dates alone"),
    "count_mae_busy_period": Target(3.0, False, "error of the count of aircraft >= 30 m per "
                                    "date, busy period"),
    "count_mae_quiet_period": Target(0.2, False, "the same, quiet period"),
    "flagged_truth_clear_apron": Target(0.05, False, "truth-clear apron rows flagged (issue 18)"),
    "precision": Target(0.8, True, "detections that are a true aircraft"),
    "recall_large": Target(0.6, True, "true aircraft of 30 m or more detected"),
    "change_error_days": Target(30.0, False, "reported change against the true one"),
    "changes_missed": Target(0.0, False, "true changes with no reported change"),
    "changes_spurious": Target(0.0, False, "reported changes with no true change"),
    "decoy_objects": Target(0.0, False, "objects on painted decoys (unflagged rows)"),
    "cloudy_false_objects": Target(0.0, False, "objects on truth-cloudy empty unflagged rows"),
}
"""Targets of the full five-year scenario (``benchmarks/accuracy.py --check``)."""

CI_BARS: dict[str, Target] = {
    "rows_missing": TARGETS["rows_missing"],
    "spearman_dates": Target(0.9, True, TARGETS["spearman_dates"].why),
    "count_mae_busy_period": Target(3.0, False, TARGETS["count_mae_busy_period"].why),
    "count_mae_quiet_period": Target(0.3, False, TARGETS["count_mae_quiet_period"].why),
    "flagged_truth_clear_apron": Target(0.05, False, TARGETS["flagged_truth_clear_apron"].why),
    "precision": Target(0.85, True, TARGETS["precision"].why),
    "recall_large": Target(0.6, True, TARGETS["recall_large"].why),
    "change_error_days": Target(30.0, False, TARGETS["change_error_days"].why),
    "changes_missed": Target(0.0, False, TARGETS["changes_missed"].why),
    "changes_spurious": Target(0.0, False, TARGETS["changes_spurious"].why),
    "decoy_objects": Target(0.0, False, TARGETS["decoy_objects"].why),
    "cloudy_false_objects": Target(0.0, False, TARGETS["cloudy_false_objects"].why),
}
"""Bars for the small scenario in CI, below its figures (spearman 0.999, count error 1.2,
flagged 0.8 %, precision 0.976, recall 0.721 at the time of writing) so that noise does
not fail them, while a real regression does: trusting the SCL's clouds again flags 7.4 %
of truth-clear apron rows; a detector that stops matching stands loses precision."""


def load_truth(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A built scenario's ``truth.csv`` and ``truth_objects.csv`` (dates as days)."""
    folder = Path(folder)
    truth = pd.read_csv(folder / "truth.csv", parse_dates=["date"])
    objects = pd.read_csv(folder / "truth_objects.csv", parse_dates=["date"])
    return truth, objects


def _day(values: pd.Series) -> pd.Series:
    days = pd.to_datetime(values)
    if days.dt.tz is not None:
        days = days.dt.tz_localize(None)
    return days.dt.normalize()


def truth_clear_rows(truth: pd.DataFrame, kinds: str | Sequence[str],
                     min_clear: float = 0.7) -> pd.DataFrame:
    """Truth rows of these zone kinds that the truth calls at least ``min_clear`` clear."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    rows = truth[truth["kind"].isin(kinds)]
    return rows[rows["clear_fraction"] >= min_clear]


def stand_spacing(truth_objects: pd.DataFrame) -> float:
    """Median distance (m) from each true aircraft to its nearest neighbour that date."""
    air = truth_objects[truth_objects.get("category", "aircraft") == "aircraft"]
    gaps: list[float] = []
    for _, day in air.groupby("date"):
        if len(day) < 2:
            continue
        xy = day[["x", "y"]].to_numpy(float)
        dist, _ = spatial.cKDTree(xy).query(xy, k=2)
        gaps.extend(dist[:, 1].tolist())
    return float(np.median(gaps)) if gaps else float("nan")


@dataclass(frozen=True)
class TrueChange:
    """A change of regime in the truth: the transition runs from ``start`` to ``end``.

    A step has a transition one revisit long; a wind-down over months a long one, and
    any date inside it is right. ``date`` is where the level crosses halfway.
    """

    date: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp

    def error_days(self, when: pd.Timestamp) -> int:
        """Days from ``when`` to the transition (0 inside it; negative before it)."""
        if when < self.start:
            return int((when - self.start).days)
        if when > self.end:
            return int((when - self.end).days)
        return 0


def true_changes(truth: pd.DataFrame, *, kinds: Sequence[str] = APRON_KINDS,
                 smooth: int = 9, min_level: float = 5.0) -> list[TrueChange]:
    """Where the true aircraft count moves between regimes, from the truth alone.

    The per-date true count (all dates, whatever the weather) is smoothed by a running
    median over ``smooth`` dates, so a one-day parade is not a regime. Between its 10th
    and 90th percentiles (``lo``, ``hi``; at least ``min_level`` aircraft apart), a
    change is where the smoothed count crosses halfway; its transition runs from the
    last date still within 10 % of the old regime's median level to the first within
    10 % of the new one's (each regime up to its neighbouring changes).
    """
    counts = truth[truth["kind"].isin(kinds)].groupby("date")["aircraft"].sum().sort_index()
    if len(counts) < smooth:
        return []
    level = counts.rolling(smooth, center=True, min_periods=1).median().to_numpy(float)
    lo, hi = np.percentile(level, [10, 90])
    if hi - lo < min_level:
        return []
    above = level > (lo + hi) / 2
    dates = list(counts.index)
    flips = np.flatnonzero(above[1:] != above[:-1])
    edges = [0, *(flips + 1).tolist(), len(level)]
    out = []
    for j, i in enumerate(flips):
        # each side's own level: the median of its regime, up to the neighbouring changes
        old = float(np.median(level[edges[j]:i + 1]))
        new = float(np.median(level[i + 1:edges[j + 2]]))
        rel = (level - new) / (old - new)  # 1 at the old level, 0 at the new
        before = np.flatnonzero(rel[: i + 1] >= 0.9)
        after = np.flatnonzero(rel[i + 1:] <= 0.1)
        first = dates[before[-1]] if len(before) else dates[i]
        last = dates[i + 1 + after[0]] if len(after) else dates[i + 1]
        out.append(TrueChange(dates[i] + (dates[i + 1] - dates[i]) / 2, first, last))
    return out


def _spearman(a: pd.Series, b: pd.Series) -> float:
    pair = pd.DataFrame({"a": a.astype(float), "b": b.astype(float)}).dropna()
    if len(pair) < 3 or pair["a"].nunique() < 2 or pair["b"].nunique() < 2:
        return float("nan")
    return float(stats.spearmanr(pair["a"], pair["b"]).statistic)


def _joined(table: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Truth rows of the scored kinds, each with the analysis row of its (date, zone).

    A row the analysis left out is kept: flagged, activity 0, no object, ``missing``.
    """
    t = table.assign(date=_day(table["date"])).drop(columns=["kind"], errors="ignore")
    cols = ["date", "zone", "kind", "aircraft", "aircraft_large", "decoys", "clear_fraction"]
    rows = truth.loc[truth["kind"].isin(COUNT_KINDS), cols]
    df = rows.merge(t, on=["date", "zone"], how="left", suffixes=("_true", ""),
                    indicator=True)
    df["missing"] = df.pop("_merge") == "left_only"
    size = df.groupby("zone")["zone_pixels"].transform("max").fillna(1.0)
    return df.assign(activity_index=df["activity_index"].where(~df["missing"], 0.0),
                     objects=df["objects"].astype("Float64").where(~df["missing"], 0.0)
                     .astype(float),
                     flagged=df["flagged"].where(~df["missing"], True).astype(bool),
                     zone_pixels=df["zone_pixels"].fillna(size),
                     snow_fraction=df["snow_fraction"].fillna(0.0))


def _per_date(rows: pd.DataFrame) -> pd.DataFrame:
    w = rows["zone_pixels"].astype(float)
    grouped = rows.assign(weighted=rows["activity_index"].astype(float) * w, w=w,
                          objects=rows["objects"].astype(float)).groupby("date")
    out = grouped.agg(weighted=("weighted", "sum"), w=("w", "sum"),
                      objects=("objects", "sum"), aircraft=("aircraft", "sum"))
    out["activity"] = out["weighted"] / out["w"]
    out["density"] = out["aircraft"] / out["w"]  # aircraft per zone pixel, as the index is
    return out


def _correlations(df: pd.DataFrame, busy: int) -> dict[str, float]:
    aprons = df[df["kind"].isin(APRON_KINDS) & df["truth_clear"]]
    per_date = _per_date(aprons)
    busy_dates = per_date[per_date["aircraft"] >= busy]
    return {
        "dates_truth_clear": float(len(per_date)),
        "spearman_dates": _spearman(per_date["activity"], per_date["density"]),
        "spearman_objects_dates": _spearman(per_date["objects"], per_date["aircraft"]),
        "busy_dates": float(len(busy_dates)),
        "spearman_busy_dates": _spearman(busy_dates["activity"], busy_dates["density"]),
        "spearman_objects_busy_dates": _spearman(busy_dates["objects"], busy_dates["aircraft"]),
        "spearman_rows": _spearman(aprons["activity_index"], aprons["aircraft"]),
    }


def _counts(df: pd.DataFrame, changes: Sequence[TrueChange]) -> dict[str, float]:
    """Objects per date against aircraft of 30 m or more (what ``objects`` counts) and all."""
    rows = df[df["kind"].isin(COUNT_KINDS) & df["truth_clear"]]
    per_date = rows.groupby("date").agg(objects=("objects", "sum"), aircraft=("aircraft", "sum"),
                                        large=("aircraft_large", "sum"))
    split = changes[0].date if changes else per_date.index.max() + pd.Timedelta(days=1)
    out: dict[str, float] = {}
    for period, sel in (("busy_period", per_date.index < split),
                        ("quiet_period", per_date.index >= split)):
        part = per_date[sel]
        for versus, suffix in (("large", ""), ("aircraft", "_all")):
            err = part["objects"].astype(float) - part[versus]
            # nothing to measure is NaN, which meets no target
            out[f"count_mae{suffix}_{period}"] = float(err.abs().mean()) if len(err) else np.nan
            out[f"count_bias{suffix}_{period}"] = float(err.mean()) if len(err) else np.nan
        out[f"true_large_{period}"] = float(part["large"].mean()) if len(part) else np.nan
    return out


def _flags(df: pd.DataFrame, busy_row: int = 1) -> dict[str, float]:
    aprons = df[df["kind"].isin(APRON_KINDS)]
    clear = aprons[aprons["truth_clear"]]
    snowless = clear[clear["snow_fraction"].fillna(0) == 0]
    busy = clear[clear["aircraft"] >= busy_row]
    cloudy = aprons[~aprons["truth_clear"] & (aprons["aircraft"] == 0)]
    shown = cloudy[~cloudy["flagged"].astype(bool)]
    return {
        "rows_truth_clear_apron": float(len(clear)),
        "flagged_truth_clear_apron": float(clear["flagged"].mean()) if len(clear) else np.nan,
        "flagged_truth_clear_busy_apron": float(busy["flagged"].mean()) if len(busy) else np.nan,
        "flagged_truth_clear_snowless_apron": float(snowless["flagged"].mean())
        if len(snowless) else np.nan,
        "rows_truth_cloudy_empty": float(len(cloudy)),
        "cloudy_unflagged": float(len(shown)),
        "cloudy_false_activity": float((shown["activity_index"] > 0).sum()),
        "cloudy_false_objects": float(shown["objects"].astype(float).sum()),
        "cloudy_false_objects_all": float(cloudy["objects"].astype(float).sum()),
    }


def _match(objs: pd.DataFrame, truth: pd.DataFrame, radius: float) -> tuple[int, int]:
    """Greedy nearest matching per (date, zone): (detections matched, truths matched)."""
    det_hit = truth_hit = 0
    for (d, z), det in objs.groupby(["date", "zone"]):
        tru = truth[(truth["date"] == d) & (truth["zone"] == z)]
        xy = tru[["x", "y"]].to_numpy(float)
        used = np.zeros(len(xy), bool)
        for x, y, count in det[["x", "y", "count"]].to_numpy(float):
            if not len(xy):
                break
            dist = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
            dist[used] = np.inf
            hits = np.flatnonzero(dist <= radius)
            hits = hits[np.argsort(dist[hits])][: max(int(count), 1)]
            used[hits] = True
            det_hit += min(len(hits), max(int(count), 1))
        truth_hit += int(used.sum())
    return det_hit, truth_hit


def _detections(objects: pd.DataFrame, df: pd.DataFrame, truth_objects: pd.DataFrame
                ) -> dict[str, float]:
    radius = stand_spacing(truth_objects) / 2
    keep = df.loc[df["truth_clear"], ["date", "zone"]]
    objs = objects.assign(date=_day(objects["date"])).merge(keep, on=["date", "zone"])
    tobj = truth_objects.merge(keep, on=["date", "zone"])
    planes = tobj[tobj["category"].isin(["aircraft", "helicopter"])]
    large = planes[planes["wingspan_m"] >= 30]
    det_hit, _ = _match(objs, planes, radius)
    _, large_hit = _match(objs, large, radius)
    n_det = int(objs["count"].clip(lower=1).sum()) if len(objs) else 0
    return {
        "match_radius_m": radius,
        "detections": float(n_det),
        "precision": det_hit / n_det if n_det else float("nan"),
        "true_large": float(len(large)),
        "recall_large": large_hit / len(large) if len(large) else float("nan"),
    }


def _decoys(df: pd.DataFrame) -> dict[str, float]:
    zones = df.loc[df["decoys"].fillna(0) > 0, "zone"].unique()
    rows = df[df["zone"].isin(zones) & df["truth_clear"] & (df["aircraft"] == 0)]
    shown = rows[~rows["flagged"].astype(bool)]
    return {
        "decoy_rows": float(len(rows)),
        "decoy_active_rows": float((shown["activity_index"] > 0).sum()),
        "decoy_objects": float(shown["objects"].astype(float).sum()),
        "decoy_objects_flagged_rows": float(rows["objects"].astype(float).sum()
                                            - shown["objects"].astype(float).sum()),
    }


def _changes(table: pd.DataFrame, truth_dates: Sequence[TrueChange], tolerance_days: int
             ) -> tuple[dict[str, float], pd.DataFrame]:
    from geo import errors
    from geo.when import change_points

    try:
        found = change_points(table.assign(date=_day(table["date"]))).table
    except errors.AnalysisError:
        found = pd.DataFrame(columns=["date", "lower", "upper"])
    reported = [pd.Timestamp(d) for d in found["date"]]
    errors_days = []
    matched = set()
    for true in truth_dates:  # one reported change answers one true change at most
        gaps = [np.inf if i in matched else abs(true.error_days(r))
                for i, r in enumerate(reported)]
        if gaps and min(gaps) <= tolerance_days:
            i = int(np.argmin(gaps))
            matched.add(i)
            errors_days.append(true.error_days(reported[i]))
    span = (table["date"].max() - table["date"].min()).days if len(table) else 0
    wide = found[(pd.to_datetime(found["upper"]) - pd.to_datetime(found["lower"])).dt.days
                 > span / 2] if len(found) else found
    return {
        "changes_true": float(len(truth_dates)),
        "changes_reported": float(len(reported)),
        "changes_missed": float(len(truth_dates) - len(errors_days)),
        "changes_spurious": float(len(reported) - len(matched)),
        "change_error_days": float(max(abs(e) for e in errors_days)) if errors_days else (
            0.0 if not truth_dates else float("nan")),
        "change_signed_error_days": float(errors_days[0]) if errors_days else float("nan"),
        "changes_wide_interval": float(len(wide)),
    }, found


def score(table: pd.DataFrame, objects: pd.DataFrame, truth: pd.DataFrame,
          truth_objects: pd.DataFrame, *, min_clear: float = 0.7, busy: int = 10,
          change_tolerance_days: int = 120) -> tuple[dict[str, float], pd.DataFrame]:
    """Every measure of the analysis against the truth, and the change points it reported.

    Parameters
    ----------
    table, objects
        :attr:`geo.activity.ActivityResult.table` and ``.objects``.
    truth, truth_objects
        From :func:`load_truth`.
    min_clear
        Truth clear fraction from which a (date, zone) is clear.
    busy
        True aircraft (summed over the truth-clear aprons of a date) from which a date
        is busy.
    change_tolerance_days
        A reported change further than this from every true change is spurious.

    Returns
    -------
    (dict, pandas.DataFrame)
        Measure name -> value, and the change-point table the review would report.
    """
    df = _joined(table, truth)
    df["truth_clear"] = df["clear_fraction_true"] >= min_clear
    out_missing = {"rows_missing": float(df.loc[df["truth_clear"], "missing"].sum())}
    changes = true_changes(truth)
    out: dict[str, float] = dict(out_missing)
    out.update(_correlations(df, busy))
    out.update(_counts(df, changes))
    out.update(_flags(df))
    out.update(_detections(objects, df, truth_objects))
    out.update(_decoys(df))
    found_measures, found = _changes(table, changes, change_tolerance_days)
    out.update(found_measures)
    return out, found


def missed(measures: Mapping[str, float], targets: Mapping[str, Target]) -> list[str]:
    """Names of the targets not met, each with its value and bar."""
    out = []
    for name, target in targets.items():
        value = measures.get(name, float("nan"))
        if not target.met(value):
            sign = ">=" if target.at_least else "<="
            out.append(f"{name} = {value:.3f}, target {sign} {target.bar:g} ({target.why})")
    return out


def report(measures: Mapping[str, float], targets: Mapping[str, Target] | None = None
           ) -> str:
    """The measures as an aligned text table, each with its target where it has one."""
    targets = targets or {}
    lines = []
    for name, value in measures.items():
        t = targets.get(name)
        mark = ""
        if t is not None:
            mark = f"  target {'>=' if t.at_least else '<='} {t.bar:g}: " + (
                "met" if t.met(value) else "MISSED")
        lines.append(f"{name:32s} {value:10.3f}{mark}")
    return "\n".join(lines)


def measures_frame(rows: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Several runs' measures side by side (one column per run)."""
    return pd.DataFrame({k: pd.Series(v) for k, v in rows.items()})
