"""One timeline from two sensors: optical and radar counts of aircraft on the aprons.

Sentinel-2 sees the aprons on clear days only (about half of Bagram's dates are lost to
cloud and snow, most of them in winter); Sentinel-1 sees them on every pass, day or night,
through cloud. Both count the same thing, aircraft-sized objects on the aprons
(:func:`geo.activity_index` and :func:`geo.sar_activity` give an ``objects`` count per
zone and date), but not with the same sensitivity: radar may split or merge aircraft that
optical imagery resolves differently. So the two are put on one scale before they are
joined:

1. **Per-date counts.** For each sensor, the apron count of a date is the sum of
   ``objects`` over the apron and revetment zones, taken only where every such zone's row
   is unflagged (:func:`apron_counts`). Radar passes of different orbits stay separate
   measurements.
2. **Common scale: aircraft-equivalent counts, calibrated where both see.** Radar counts
   are scaled to optical counts by one factor fitted on pairs of dates at most
   ``max_days`` apart (:func:`calibrate`): the ratio of the two sensors' summed counts over
   those pairs, a robust through-the-origin fit (both count zero aircraft on an empty
   apron). Without enough pairs the factor is 1 (both count aircraft) and the result says
   so.
3. **Noise of each sensor.** Each sensor's noise is the robust spread of its own
   date-to-date differences (``1.4826 * MAD / sqrt(2)``): real changes are rare steps,
   so the differences of neighbouring dates are mostly noise.
4. **Fused value.** A date seen by one sensor takes its (scaled) count; a date seen by
   both takes their inverse-variance weighted mean. The band is +/- 1.96 standard errors.

Change points are then found on the fused series with :func:`geo.when.change_points`, and
:func:`coverage` measures how many windows of the period (12 days, one Sentinel-1 repeat)
hold a usable measurement.

Examples
--------
>>> import pandas as pd
>>> days = pd.date_range("2021-01-01", periods=6, freq="6D")
>>> opt = pd.DataFrame({"date": days[::2], "sensor": "s2", "count": [10.0, 9.0, 0.0]})
>>> rad = pd.DataFrame({"date": days[1::2], "sensor": "s1", "count": [5.0, 5.0, 0.0]})
>>> fused = fuse_counts(opt, rad, max_days=6)
>>> fused["sensors"].tolist()
['s2', 's1', 's2', 's1', 's2', 's1']
>>> fused.attrs["calibration"][:45]
'only 3 date pairs within 6 days with aircraft'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo import errors
from geo.activity import OBJECT_KINDS

__all__ = ["COUNT_KINDS", "MAX_PAIR_DAYS", "MIN_PAIRS", "Calibration", "apron_counts",
           "calibrate", "coverage", "fuse", "fuse_counts", "sensor_noise"]

log = logging.getLogger(__name__)

COUNT_KINDS: tuple[str, ...] = OBJECT_KINDS
"""Zone kinds whose objects are aircraft (:data:`geo.activity.OBJECT_KINDS`)."""

MAX_PAIR_DAYS = 3
"""Days apart two sensors' dates may be and still calibrate one against the other: parked
aircraft mostly stay for days, and a 3-day window pairs most Sentinel-2 passes (5-day
repeat) with a Sentinel-1 pass (6- to 12-day repeat)."""

MIN_PAIRS = 5
"""Fewest calibration pairs for a fitted scale; with fewer the scale is 1."""

_Z95 = 1.959964


def apron_counts(activity: pd.DataFrame, *, sensor: str | None = None) -> pd.DataFrame:
    """Per date (and radar pass), the count of aircraft-sized objects on the aprons.

    Parameters
    ----------
    activity
        A table of :func:`geo.activity_index` or :func:`geo.sar_activity` (or both
        concatenated: rows are split by their ``sensor`` column).
    sensor
        The sensor of rows without a ``sensor`` column (default ``"s2"``).

    Returns
    -------
    pandas.DataFrame
        ``date``, ``sensor``, ``count``, ``zones`` (apron zones summed), and
        ``relative_orbit`` for radar. Only dates whose every apron row is unflagged and
        counted.

    Examples
    --------
    >>> t = pd.DataFrame({"date": ["2021-01-01"] * 2 + ["2021-01-06"] * 2,
    ...                   "zone": ["a", "b"] * 2, "kind": "apron", "objects": [2, 3, 4, 1],
    ...                   "flagged": [False, False, True, False]})
    >>> apron_counts(t)[["date", "count"]].astype(str).values.tolist()
    [['2021-01-01', '5.0']]
    """
    missing = {"date", "zone", "kind", "objects"} - set(activity.columns)
    if missing:
        raise errors.AnalysisError(
            f"the activity table lacks {sorted(missing)}: pass the table of "
            "geo.activity_index or geo.sar_activity")
    rows = activity[activity["kind"].isin(COUNT_KINDS)].copy()
    rows["date"] = pd.to_datetime(rows["date"])
    rows["sensor"] = rows["sensor"].fillna(sensor or "s2") if "sensor" in rows \
        else (sensor or "s2")
    flagged = rows["flagged"].astype(bool) if "flagged" in rows else False
    rows["bad"] = flagged | rows["objects"].isna()
    keys = ["date", "sensor"] + (["relative_orbit"] if "relative_orbit" in rows else [])
    if "relative_orbit" in rows:
        rows["relative_orbit"] = rows["relative_orbit"].fillna(-1).astype(int)
    grouped = rows.groupby(keys, sort=True)
    table = pd.DataFrame({
        "count": grouped["objects"].sum(min_count=1).astype(float),
        "zones": grouped["zone"].nunique(),
        "bad": grouped["bad"].any(),
    }).reset_index()
    return table[~table["bad"]].drop(columns="bad").reset_index(drop=True)


def sensor_noise(counts: pd.Series) -> float:
    """Robust noise of one sensor's count series: ``1.4826 * MAD(diff) / sqrt(2)``.

    Floored at 0.5 (counts are whole numbers: no series is known better than that).

    Examples
    --------
    >>> sensor_noise(pd.Series([3.0, 5, 3, 6, 2, 5]))
    1.048...
    """
    diff = np.diff(np.asarray(counts, dtype=float))
    if diff.size < 2:
        return 1.0
    mad = np.median(np.abs(diff - np.median(diff)))
    return float(max(1.4826 * mad / np.sqrt(2), 0.5))


@dataclass(frozen=True)
class Calibration:
    """How radar counts were put on the optical scale.

    Attributes
    ----------
    scale
        Optical count per radar count (1 when not fitted).
    pairs
        Date pairs (optical, radar) at most ``max_days`` apart used for the fit.
    fitted
        Whether the scale was fitted (enough pairs with aircraft) or assumed 1.
    why
        In words, for the notes and the report.
    """

    scale: float
    pairs: int
    fitted: bool
    why: str


def calibrate(optical: pd.DataFrame, radar: pd.DataFrame, *,
              max_days: int = MAX_PAIR_DAYS) -> Calibration:
    """Scale radar counts to optical ones over dates both see (at most ``max_days`` apart).

    Each optical date is paired with the nearest radar date within ``max_days``; the
    scale is ``sum(optical) / sum(radar)`` over the pairs, a through-the-origin fit that
    resists single outliers better than a mean of ratios.

    Examples
    --------
    >>> d = pd.date_range("2021-01-01", periods=8, freq="5D")
    >>> o = pd.DataFrame({"date": d, "count": [8.0, 8, 6, 6, 4, 4, 2, 2]})
    >>> r = pd.DataFrame({"date": d + pd.Timedelta(days=1), "count": [4.0, 4, 3, 3, 2, 2, 1, 1]})
    >>> calibrate(o, r).scale
    2.0
    """
    if optical.empty or radar.empty:
        return Calibration(1.0, 0, False, "one sensor only: no scale needed")
    r_dates = pd.to_datetime(radar["date"]).to_numpy()
    r_counts = radar["count"].to_numpy(float)
    pairs = []
    for day, count in zip(pd.to_datetime(optical["date"]), optical["count"], strict=True):
        gap = np.abs((r_dates - day.to_datetime64()) / np.timedelta64(1, "D"))
        j = int(np.argmin(gap))
        if gap[j] <= max_days:
            pairs.append((float(count), float(r_counts[j])))
    both = np.asarray(pairs).reshape(-1, 2)
    n = len(both)
    if n < MIN_PAIRS or both[:, 1].sum() <= 0 or both[:, 0].sum() <= 0:
        return Calibration(1.0, n, False,
                           f"only {n} date pairs within {max_days} days with aircraft seen by "
                           "both sensors: radar counts taken as aircraft counts (scale 1)")
    scale = float(both[:, 0].sum() / both[:, 1].sum())
    return Calibration(scale, n, True,
                       f"radar counts x {scale:.2f}, fitted on {n} date pairs within "
                       f"{max_days} days")


def fuse_counts(optical: pd.DataFrame, radar: pd.DataFrame, *,
                max_days: int = MAX_PAIR_DAYS) -> pd.DataFrame:
    """Join two sensors' apron counts (as :func:`apron_counts` gives) into one series.

    Returns
    -------
    pandas.DataFrame
        One row per calendar date seen by either sensor: ``date``, ``value``
        (aircraft-equivalent count), ``low``, ``high`` (95 % band), ``sensors``
        (``"s2"``, ``"s1"`` or ``"s2+s1"``), ``s2`` and ``s1`` (each sensor's count on
        the optical scale, NaN where it did not see). ``attrs`` holds ``scale``,
        ``calibration`` (words), ``noise_s2`` and ``noise_s1``.
    """
    cal = calibrate(optical, radar, max_days=max_days)
    per: dict[str, pd.Series] = {}
    noise: dict[str, float] = {}
    for name, frame, factor in (("s2", optical, 1.0), ("s1", radar, cal.scale)):
        if frame is None or frame.empty:
            per[name] = pd.Series(dtype=float)
            noise[name] = np.nan
            continue
        days = pd.to_datetime(frame["date"]).dt.normalize()
        series = (frame["count"].astype(float) * factor).groupby(days.to_numpy()).mean()
        per[name] = series.sort_index()
        noise[name] = sensor_noise(series)
    table = pd.DataFrame({"s2": per["s2"], "s1": per["s1"]}).sort_index()
    w2 = 1 / noise["s2"] ** 2 if np.isfinite(noise["s2"]) else 0.0
    w1 = 1 / noise["s1"] ** 2 if np.isfinite(noise["s1"]) else 0.0
    has2, has1 = table["s2"].notna(), table["s1"].notna()
    weight = np.where(has2, w2, 0.0) + np.where(has1, w1, 0.0)
    value = (table["s2"].fillna(0) * np.where(has2, w2, 0) +
             table["s1"].fillna(0) * np.where(has1, w1, 0)) / weight
    se = 1 / np.sqrt(weight)
    out = pd.DataFrame({
        "date": table.index, "value": value.to_numpy(),
        "low": np.maximum(value.to_numpy() - _Z95 * se, 0.0),
        "high": value.to_numpy() + _Z95 * se,
        "sensors": np.select([has2 & has1, has2], ["s2+s1", "s2"], "s1"),
        "s2": table["s2"].to_numpy(), "s1": table["s1"].to_numpy(),
    }).reset_index(drop=True)
    out.attrs.update(scale=cal.scale, calibration=cal.why, pairs=cal.pairs,
                     noise_s2=noise["s2"], noise_s1=noise["s1"])
    return out


def fuse(activity: pd.DataFrame, *, max_days: int = MAX_PAIR_DAYS) -> pd.DataFrame:
    """The fused apron timeline of an activity table holding both sensors' rows.

    ``activity`` is :func:`geo.activity_index`'s table and :func:`geo.sar_activity`'s
    concatenated (rows without ``sensor`` are optical). See :func:`fuse_counts`.

    Examples
    --------
    >>> t = pd.DataFrame({"date": ["2021-01-01", "2021-01-02"], "zone": "a", "kind": "apron",
    ...                   "objects": [3, 2], "flagged": False, "sensor": ["s2", "s1"]})
    >>> fuse(t)[["sensors", "value"]].values.tolist()
    [['s2', 3.0], ['s1', 2.0]]
    """
    counts = apron_counts(activity)
    optical = counts[counts["sensor"] == "s2"]
    radar = counts[counts["sensor"] == "s1"]
    return fuse_counts(optical, radar, max_days=max_days)


def coverage(dates: pd.Series | pd.DatetimeIndex, start: str | pd.Timestamp,
             end: str | pd.Timestamp, *,
             window_days: int = 12) -> float:
    """Share of the period's ``window_days``-day windows holding at least one date.

    The period is cut into windows from ``start``; the last one ends at ``end`` and may
    be shorter. Dates outside the period are ignored.

    Examples
    --------
    >>> d = pd.to_datetime(["2021-01-02", "2021-01-20"])
    >>> coverage(d, "2021-01-01", "2021-02-05", window_days=12)
    0.666...
    >>> coverage(pd.to_datetime(["2021-01-28"]), "2021-01-01", "2021-01-30")
    0.333...
    >>> coverage(d.as_unit("ns"), "2021-01-01", "2021-02-05", window_days=12)  # any unit
    0.666...
    """
    t0, t1 = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    n = max(1, int(np.ceil(((t1 - t0).days + 1) / window_days)))  # the last may be shorter
    edges = pd.DatetimeIndex([t0 + pd.Timedelta(days=k * window_days) for k in range(n)]
                             + [t1 + pd.Timedelta(days=1)])
    days = pd.DatetimeIndex(pd.to_datetime(dates)).normalize()
    days = days[(days >= t0) & (days <= t1)]
    # one time unit for both: pandas 3 infers s, us or ns from the input and asi8 counts
    # in it (dates from xarray are ns, timestamps parsed from strings us or s)
    hits = np.histogram(days.as_unit("ns").asi8, bins=edges.as_unit("ns").asi8)[0]
    return float((hits > 0).mean())
