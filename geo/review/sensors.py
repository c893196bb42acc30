"""The sensors of a review: which to use, the radar stack and its activity, and the one
timeline fused from optical and radar (:mod:`geo.fuse`).

Examples
--------
>>> default_sensors("earth-search")
('s2',)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import errors
from geo.aoi import AOI
from geo.review.period import ReviewPeriod

__all__ = ["Radar", "both_sensors", "check_sensors", "default_sensors", "fused_change_points",
           "fused_series", "fused_table", "radar_stack", "radar_table"]

log = logging.getLogger(__name__)


def default_sensors(source: str | Path) -> tuple[str, ...]:
    """The sensors a review of ``source`` uses by default.

    Optical only for Earth Search (no loadable Sentinel-1 there), optical and radar for
    every other source (the Planetary Computer, STAC API URLs, local catalogs).

    Examples
    --------
    >>> default_sensors("earth-search"), default_sensors("planetary-computer")
    (('s2',), ('s2', 's1'))
    """
    from geo.search import check_sensor

    try:
        check_sensor("s1", source)
    except errors.UnsupportedSensor:
        return ("s2",)
    return ("s2", "s1")


def check_sensors(sensors: str | tuple[str, ...] | list[str] | None,
                  source: str | Path = "planetary-computer") -> tuple[str, ...]:
    """Parse ``--sensors`` (``"s2"``, ``"s2,s1"``, a tuple, None for the source's default).

    Returns the sensors in the order ``("s2", "s1")``.

    Raises
    ------
    geo.errors.UnsupportedSensor
        An unknown sensor, or radar from a source that has none geo can load (the
        message of :func:`geo.search.check_sensor` says why and where to find it).
    geo.errors.ReviewError
        Radar alone (``"s1"``): the review's scene selection, figures and report are
        built on the optical images; add ``s2``.

    Examples
    --------
    >>> check_sensors("S1, s2", "planetary-computer")
    ('s2', 's1')
    >>> check_sensors(None, "earth-search")
    ('s2',)
    >>> check_sensors("s2,s1", "earth-search")
    Traceback (most recent call last):
    ...
    geo.errors.UnsupportedSensor: Earth Search has no Sentinel-1 collection geo can load: ...
    """
    from geo.search import check_sensor

    if sensors is None:
        return default_sensors(source)
    items = sensors.split(",") if isinstance(sensors, str) else list(sensors)
    wanted = [str(s).strip().lower() for s in items if str(s).strip()]
    for sensor in wanted:
        check_sensor(sensor, source)
    if "s2" not in wanted:
        raise errors.ReviewError(
            f"sensors={','.join(wanted) or '(none)'}: a review needs Sentinel-2 (its scene "
            "selection, figures and report are built on the optical images); use s2 for "
            "optical only or s2,s1 for optical and radar (--sensors s2,s1).")
    return tuple(s for s in ("s2", "s1") if s in wanted)


@dataclass(frozen=True)
class Radar:
    """What the figures need of the radar: its stack, activity and the fused series."""

    stack: Any
    activity: pd.DataFrame | None
    fused: pd.DataFrame


def radar_stack(area: AOI, period: ReviewPeriod, source: str, *, resolution: float, store: Any,
           offline: bool, progress: bool, refresh: bool, on_error: str,
           required: bool) -> tuple[Any, list[str]]:
    """The Sentinel-1 stack of the period (None when the source has none) and notes.

    No pass in the period is not an error: the review goes on with optical imagery and
    the notes say why. Offline without a stored radar search is an error only when radar
    was asked for (``required``); by default it is noted too.
    """
    from geo.load import load
    from geo.search import search

    t0, t1 = period.start, period.end
    kwargs: dict[str, Any] = {"source": source, "progress": progress, "refresh": refresh,
                              "sensor": "s1"}
    if store is not None:
        kwargs.update(store=store, offline=offline)
    try:
        items = search(area, t0.date(), t1.date(), **kwargs)
    except errors.NoImagery:
        note = (f"no Sentinel-1 RTC pass of {area.name} between {t0.date()} and {t1.date()} "
                f"in {source}: optical imagery only (no fused.csv)")
        log.warning(note)
        return None, [note]
    except errors.OfflineMiss as exc:
        if required:
            raise
        note = f"radar not reviewed (optical only): {exc}"
        log.warning(note)
        return None, [note]
    log.info("%d Sentinel-1 passes found", len(items))
    stack = load(items, area, resolution=resolution, store=store, offline=offline,
                 progress=progress, on_error=on_error)  # type: ignore[arg-type]
    return stack, []


def radar_table(radar: Any, area: AOI, notes: list[str]) -> tuple[Any, pd.DataFrame | None]:
    """The radar stack of the orbits with enough passes, and its activity table."""
    from geo.sar import MIN_REFERENCE_DATES, sar_activity

    orbit = pd.Series(np.asarray(radar["relative_orbit"].values))
    counts = orbit.value_counts()
    few = sorted(int(o) for o in counts[counts < MIN_REFERENCE_DATES].index)
    if few:
        notes.append(f"radar: relative orbit{'s' if len(few) > 1 else ''} "
                     f"{', '.join(map(str, few))} left out: fewer than {MIN_REFERENCE_DATES} "
                     "passes in the period to fit an empty state (widen the period)")
        radar = radar.isel(time=np.flatnonzero(~orbit.isin(few).to_numpy()))
    if radar.sizes["time"] == 0:
        notes.append("radar not used: no relative orbit has enough passes in the period")
        return radar, None
    try:
        table = sar_activity(radar, area)
    except errors.AnalysisError as exc:
        notes.append(f"radar not used: {exc}")
        log.warning(notes[-1])
        return radar, None
    return radar, table


def fused_series(activity: pd.DataFrame, radar: pd.DataFrame | None,
           notes: list[str]) -> pd.DataFrame | None:
    """The fused apron timeline (:func:`geo.fuse.fuse`), None without usable radar rows."""
    from geo.fuse import fuse

    if radar is None or radar.empty:
        return None
    fused = fuse(both_sensors(activity, radar))
    if fused.empty or not (fused["sensors"] != "s2").any():
        notes.append("radar not fused: no radar pass counted the aprons (all flagged)")
        return None
    notes.append(f"optical and radar fused: {fused.attrs.get('calibration', '')}")
    return fused


def fused_change_points(fused: pd.DataFrame, notes: list[str]) -> Any:
    """Change points of the fused apron count (geo.when.change_points on its values)."""
    from geo.when import change_points

    series = pd.Series(fused["value"].to_numpy(float),
                       index=pd.DatetimeIndex(pd.to_datetime(fused["date"])))
    try:
        return change_points(series)
    except errors.AnalysisError as exc:
        notes.append(f"no change point: {exc}")
        log.warning(notes[-1])
        return None


def both_sensors(activity: pd.DataFrame, radar: pd.DataFrame | None) -> pd.DataFrame:
    """The optical and radar activity tables in one (what ``activity.csv`` holds).

    Without radar the optical table is returned as it is. With radar, optical rows get
    ``sensor`` ``"s2"``; the columns are :data:`geo.activity.COLUMNS`, then ``sensor``,
    ``orbit_state``, ``relative_orbit``, then any others; rows by date, optical first.

    Examples
    --------
    >>> opt = pd.DataFrame({"date": ["2021-01-02"], "zone": ["a"], "objects": [3]})
    >>> rad = pd.DataFrame({"date": ["2021-01-01"], "zone": ["a"], "objects": [2],
    ...                     "sensor": ["s1"], "relative_orbit": [5]})
    >>> both_sensors(opt, rad)[["date", "sensor", "objects"]].values.tolist()
    [['2021-01-01', 's1', 2], ['2021-01-02', 's2', 3]]
    """
    from geo.activity import COLUMNS

    if radar is None or radar.empty:
        return activity
    optical = activity.assign(sensor="s2")
    table = pd.concat([optical, radar], ignore_index=True, sort=False)
    first = [c for c in (*COLUMNS, "sensor", "orbit_state", "relative_orbit") if c in table]
    table = table[first + [c for c in table.columns if c not in first]]
    order = pd.to_datetime(table["date"]).rank(method="dense")
    rank = table["sensor"].map({"s2": 0, "s1": 1})
    table = table.assign(_t=order.to_numpy(), _s=rank.to_numpy())
    table = table.sort_values(["_t", "_s"], kind="stable").drop(columns=["_t", "_s"])
    table.attrs = dict(activity.attrs)
    return table.reset_index(drop=True)


def fused_table(fused: pd.DataFrame) -> pd.DataFrame:
    """``fused.csv``: dates as YYYY-MM-DD, the columns of :func:`geo.fuse.fuse`."""
    return fused.assign(date=pd.to_datetime(fused["date"]).dt.strftime("%Y-%m-%d"))
