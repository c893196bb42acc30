"""``trend.png``: aircraft-sized objects on the aprons, then activity per zone over time,
the clear fraction below, key dates and change points marked.

Every panel's y-axis is set from the usable (unflagged) dates and their band: a flagged
date beyond that range is drawn at the axis edge as a grey triangle pointing out, so a
cloudy outlier cannot squeeze the story into the bottom of a panel.

With radar (a :func:`geo.sar_activity` table and the fused series of
:func:`geo.fuse.fuse`), the first panel also shows the radar counts of each relative
orbit on the optical scale (squares and diamonds, blue) and the fused line with its 95 %
band (purple); the index panels stay optical.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from geo import errors
from geo.activity import OBJECT_KINDS
from geo.aoi import ACTIVITY_KINDS
from geo.plot import CHANGE_COLOUR, EVENT_COLOUR, SELECTED_COLOUR, finish, footer, source_text
from geo.review.tables import change_table

__all__ = ["trend", "apron_objects", "radar_counts", "OBJECTS_LABEL"]

log = logging.getLogger(__name__)

OBJECTS_LABEL = "aircraft-sized objects on aprons (count)"
"""The y label of the trend's first panel (line breaks aside)."""

_MAX_GAP_DAYS = 75
_MARGIN = 0.08
"""Room above the usable values (and below them when some are negative), as a share of
their span."""
_ROLL = 7
_ROLL_NOTE = (f"inter-quartile range over the {_ROLL} neighbouring clear dates (never across "
              f"a gap over {_MAX_GAP_DAYS} days or a change point)")
_FLAG_COLOUR = "#999999"
_OBJECTS_COLOUR = "#222222"
_FUSED_COLOUR = "#6a3d9a"
_RADAR_COLOURS = ("#1f78b4", "#33a0c8", "#0b4f7a")
_RADAR_MARKERS = ("s", "D", "v")
_BEYOND = "flagged, beyond the axis\n(drawn at its edge)"


_BAND_COLUMNS = (("activity_low", "activity_high"), ("activity_lower", "activity_upper"), ("lower", "upper"),
                 ("ci_low", "ci_high"), ("activity_index_lower", "activity_index_upper"))


_SD_COLUMNS = ("activity_std", "activity_sd", "uncertainty", "std", "sigma")


def _uncertainty(frame: pd.DataFrame, splits: Sequence[Any] = ()
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    """Lower and upper bounds of the activity index, and what they are."""
    value = frame["activity_index"].to_numpy(dtype=float)
    for lo, hi in _BAND_COLUMNS:
        if lo in frame.columns and hi in frame.columns:
            return (frame[lo].to_numpy(dtype=float), frame[hi].to_numpy(dtype=float),
                    f"band: {lo}..{hi} from geo.activity_index")
    for col in _SD_COLUMNS:
        if col in frame.columns:
            sd = frame[col].to_numpy(dtype=float)
            return value - sd, value + sd, f"band: ±1 {col} from geo.activity_index"
    low, high = _rolling_iqr(value, _runs(frame["date"], splits))
    return low, high, f"band: rolling {_ROLL_NOTE}"


def _num(value: Any) -> float:
    """A date as a matplotlib date number."""
    from matplotlib import dates as mdates

    return float(mdates.date2num(pd.Timestamp(value).to_pydatetime()))


def _events_in(events: Sequence[Any], t0: pd.Timestamp, t1: pd.Timestamp) -> list[Any]:
    return [e for e in events if t0 <= pd.Timestamp(e.date) <= t1]


def _mark_events(ax: Axes, events: Sequence[Any], labels: bool) -> None:
    """Dashed lines at the events; numbered tags above the axis when ``labels``."""
    for k, event in enumerate(events, start=1):
        day = _num(event.date)
        ax.axvline(day, color=EVENT_COLOUR, linestyle=(0, (4, 3)), linewidth=0.8, zorder=1)
        if labels:
            ax.text(day, 1.01, str(k), transform=ax.get_xaxis_transform(), fontsize=6.5,
                    color="white", ha="center", va="bottom", fontweight="bold",
                    bbox={"boxstyle": "circle,pad=0.25", "facecolor": EVENT_COLOUR,
                          "edgecolor": "none"})


def _event_key(fig: Figure, events: Sequence[Any], changes: pd.DataFrame, y: float) -> None:
    """Numbered events in two columns, and the change point(s), at height ``y``."""
    per = int(np.ceil(len(events) / 2)) if events else 0
    for c in range(2 if events else 0):
        lines = [f"{k}  {pd.Timestamp(e.date):%d %b %Y}  {e.label}"
                 for k, e in enumerate(events, start=1) if (k - 1) // per == c]
        fig.text(0.07 + c * 0.33, y, "\n".join(lines), fontsize=7, color=EVENT_COLOUR,
                 ha="left", va="top", linespacing=1.4)
    if not changes.empty:
        text = "\n".join(f"change point {r.date:%d %b %Y}\n(interval {r.lower:%d %b %Y}"
                         f" to {r.upper:%d %b %Y}, shaded)" for r in changes.head(2).itertuples())
        fig.text(0.76, y, text, fontsize=7, color=CHANGE_COLOUR, ha="left", va="top",
                 linespacing=1.4)


def _mark_change(ax: Axes, changes: pd.DataFrame, label: bool) -> None:
    for k, row in enumerate(changes.itertuples()):
        ax.axvspan(_num(row.lower), _num(row.upper), color=CHANGE_COLOUR, alpha=0.12, zorder=0, linewidth=0)
        ax.axvline(_num(row.date), color=CHANGE_COLOUR, linewidth=1.4, zorder=2,
                   label="change point (shaded: its interval)" if label and k == 0 else None)


def trend(activity: pd.DataFrame, out: str | Path | None = None, *,
          scenes: pd.DataFrame | None = None, events: Sequence[Any] = (),
          change_points: Any = None, site: str = "", source: str = "",
          synthetic: bool = False, radar: pd.DataFrame | None = None,
          fused: pd.DataFrame | None = None) -> Figure:
    """Aircraft-sized objects on the aprons and activity per zone over time.

    The first panel shows, per date, the aircraft-sized objects counted on the aprons (the
    sum of ``objects`` over the apron zones, revetments included where the table has
    them; see :func:`apron_objects`), with a band; then one panel per zone kind (apron,
    revetment, parking, yard...) with a line per zone. Dates flagged by
    :func:`geo.activity_index` (cloud, snow) are hollow grey markers left out of the
    lines. Each panel's y-axis is set from its unflagged values and their band; a flagged
    value beyond it is a grey triangle at the axis edge, pointing out. The bottom panel
    shows the clear fraction over the key zones of every date, the selected images
    marked. Key dates are dashed and numbered, the change point red with its interval
    shaded.

    Parameters
    ----------
    activity
        Table from :func:`geo.activity_index`: ``date``, ``zone``, ``kind``,
        ``activity_index``, optional ``objects``, ``flagged`` and uncertainty columns
        (``activity_low``/``activity_high`` or ``activity_std``; without them the band
        is a rolling inter-quartile range, and the legend says so). Without ``objects``
        (older tables) the objects panel is left out.
    out
        Where to save the figure (PNG, or any format matplotlib writes).
    scenes
        Table from :func:`geo.select_scenes` (clear fraction and selection).
    events
        :class:`geo.select.KeyDate` events to mark.
    change_points
        What :func:`geo.when.change_points` returns (see :func:`change_table`).
    site, source, synthetic
        Name in the title, data source in the footer, SYNTHETIC stamp.
    radar
        The radar table of :func:`geo.sar_activity` (or the ``sensor == "s1"`` rows of
        ``activity``, taken from it when ``activity`` holds both sensors): each relative
        orbit's apron counts (:func:`geo.fuse.apron_counts`), on the optical scale of
        ``fused``, are drawn in the first panel, one marker per orbit.
    fused
        The fused timeline of :func:`geo.fuse.fuse` (``date``, ``value``, ``low``,
        ``high``; ``attrs["scale"]``): a line with its 95 % band in the first panel.

    Returns
    -------
    matplotlib.figure.Figure
        Panels top to bottom: objects (if any, with radar and the fused line when
        given), one per zone kind, clear fraction (if ``scenes``).

    Raises
    ------
    geo.errors.ReviewError
        If ``activity`` has no rows or lacks ``date``, ``zone`` or ``activity_index``.

    Examples
    --------
    >>> import pandas as pd
    >>> act = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=10, freq="10D"),
    ...                     "zone": "apron_a", "kind": "apron", "activity_index": range(10)})
    >>> fig = trend(act, site="test")
    >>> len(fig.axes)
    1
    >>> fig = trend(act.assign(objects=[3, 2, 4, 3, 0, 1, 0, 0, 1, 0]), site="test")
    >>> fig.axes[0].get_ylabel().replace("\\n", " ")
    'aircraft-sized objects on aprons (count)'
    """
    act, radar = _split_sensors(_checked(activity), radar)
    series = apron_objects(act)
    kinds = [k for k in (*ACTIVITY_KINDS, *sorted(set(act["kind"]) - set(ACTIVITY_KINDS)))
             if k in set(act["kind"])]
    has_clear = scenes is not None and not scenes.empty
    has_objects = not series.empty or fused is not None
    fig, axs = _layout(int(has_objects), len(kinds), has_clear)
    changes = change_table(change_points)
    splits = list(changes["date"])
    notes: dict[str, str] = {}
    if has_objects:
        extra, notes["radar"] = _radar_layers(axs[0], radar, fused)
        notes["objects"] = _objects_panel(axs[0], series, splits, extra)
    for kind, ax in zip(kinds, axs[int(has_objects):], strict=False):
        notes["index"] = _trend_panel(ax, act[act["kind"] == kind], str(kind), splits) \
            or notes.get("index", "")
    if has_clear:
        assert scenes is not None
        _clear_panel(axs[-1], scenes)
    t0, t1 = _span(act, fused)
    shown = _events_in(events, t0, t1)
    for n, ax in enumerate(axs):
        _mark_events(ax, shown, labels=n == 0)
        _mark_change(ax, changes, label=n == 0)
        _legend(ax)
    axs[-1].set_xlim(_num(t0 - pd.Timedelta(days=20)), _num(t1 + pd.Timedelta(days=20)))
    what = ("aircraft-sized objects on aprons, activity index per zone" if has_objects
            else "activity index per zone")
    if fused is not None:
        what = "aircraft on aprons (optical and radar), optical activity index per zone"
    title = f"{site + ': ' if site else ''}{what}, {t0:%d %b %Y} to {t1:%d %b %Y}"
    # wrapped to leave the top-left corner to the SYNTHETIC stamp
    fig.suptitle(textwrap.fill(title, width=int(fig.get_figwidth() * 72 * 0.72 / (0.62 * 12))),
                 fontsize=12, y=1 - 0.12 / fig.get_figheight(), va="top", fontweight="bold")
    text = _footer_text(act, scenes, changes, series, notes, source, synthetic)
    footer(fig, text)
    height = fig.get_figheight()
    top = 1 - (0.55 + 0.16 * max(int(np.ceil(len(shown) / 2)), 2) + 0.35) / height
    _event_key(fig, shown, changes, 1 - 0.5 / height)
    # room for the footer's lines (wrapped as geo.plot.footer wraps them) and the dates
    lines = len(textwrap.wrap(text, int(fig.get_figwidth() * 72 / (7 * 0.6))))
    fig.subplots_adjust(left=0.07, right=0.8, top=top, bottom=(0.45 + 0.135 * lines) / height)
    return finish(fig, out, synthetic)


def apron_objects(activity: pd.DataFrame) -> pd.DataFrame:
    """Aircraft-sized objects on the aprons per date: ``objects`` summed over apron zones.

    Revetment zones (kind ``"revetment"``) count as aprons here, as in
    :func:`geo.activity_index`; ``attrs["kinds"]`` says which kinds were summed.

    Parameters
    ----------
    activity
        Table from :func:`geo.activity_index` (``date``, ``zone``, ``kind``, ``objects``,
        optional ``flagged``).

    Returns
    -------
    pandas.DataFrame
        One row per date with a count, in date order: ``date``, ``objects`` (the sum over
        the apron zones counted that date), ``zones`` (how many were summed) and
        ``flagged`` (any apron zone flagged that date). Empty, with these columns, when
        the table has no ``objects`` column or no apron zone with a count.
        ``attrs["kinds"]`` and ``attrs["zones"]`` list the kinds and zones summed.

    Examples
    --------
    >>> import pandas as pd
    >>> act = pd.DataFrame({"date": ["2021-01-01"] * 3 + ["2021-01-11"] * 3,
    ...                     "zone": ["a1", "a2", "p1"] * 2,
    ...                     "kind": ["apron", "apron", "parking"] * 2,
    ...                     "objects": [2, 1, None, 0, 3, None],
    ...                     "flagged": [False, False, False, False, True, False]})
    >>> apron_objects(act)[["objects", "zones", "flagged"]].values.tolist()
    [[3.0, 2, False], [3.0, 2, True]]
    >>> apron_objects(act.drop(columns="objects")).empty
    True
    """
    empty = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"),
                          "objects": pd.Series(dtype=float), "zones": pd.Series(dtype=int),
                          "flagged": pd.Series(dtype=bool)})
    if not {"objects", "kind", "date"} <= set(activity.columns):
        return empty
    rows = activity[activity["kind"].isin(OBJECT_KINDS)]
    rows = rows.assign(date=pd.to_datetime(rows["date"]),
                       objects=pd.to_numeric(rows["objects"], errors="coerce"),
                       flagged=_flags(rows))
    counted = rows[rows["objects"].notna()]
    if counted.empty:
        return empty
    out = (rows.groupby("date")
           .agg(objects=("objects", lambda v: v.sum(min_count=1)),
                zones=("objects", "count"), flagged=("flagged", "any"))
           .dropna(subset=["objects"]).reset_index())
    out["objects"] = out["objects"].astype(float)
    out.attrs["kinds"] = [k for k in OBJECT_KINDS if k in set(counted["kind"])]
    out.attrs["zones"] = sorted(map(str, set(counted["zone"])))
    return out


def _checked(activity: pd.DataFrame) -> pd.DataFrame:
    """A copy with parsed dates and a ``kind``; ReviewError if it cannot be drawn."""
    missing = [c for c in ("date", "zone", "activity_index") if c not in activity.columns]
    if missing or activity.empty:
        what = f"lacks {', '.join(missing)}" if missing else "has no rows"
        raise errors.ReviewError(
            f"trend: the activity table {what}; pass the table geo.activity_index returns "
            "(or activity.csv of a review folder) for a stack with at least one date")
    act = activity.copy()
    act["date"] = pd.to_datetime(act["date"])
    if "kind" not in act.columns:
        act["kind"] = "zone"
    return act


def _flags(frame: pd.DataFrame) -> pd.Series:
    """The ``flagged`` column as plain booleans (missing: not flagged)."""
    if "flagged" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["flagged"].astype("boolean").fillna(False).astype(bool)


def _layout(n_objects: int, n_kinds: int, has_clear: bool) -> tuple[Figure, list[Axes]]:
    """The figure and its panels, top to bottom, sharing the date axis."""
    heights = [3.0] * (n_objects + n_kinds) + ([1.6] if has_clear else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(11, 2.2 + 2.0 * sum(heights) / 3),
                             dpi=150, sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": heights, "hspace": 0.12})
    return fig, list(axes[:, 0])


def _footer_text(act: pd.DataFrame, scenes: pd.DataFrame | None, changes: pd.DataFrame,
                 series: pd.DataFrame, notes: dict[str, str], source: str,
                 synthetic: bool) -> str:
    n_sel = int(scenes["selected"].sum()) if scenes is not None and not scenes.empty else 0
    cp = "; ".join(f"{r.date:%d %b %Y} ({r.lower:%b %Y}..{r.upper:%b %Y})"
                   for r in changes.itertuples()) or "none found"
    parts = [f"{source_text(source, synthetic)}. {act['date'].nunique()} dates; {n_sel} "
             f"selected images ▲ ({_id_range(scenes)}; all ids in scenes.csv). "
             f"Change point: {cp}."]
    if "objects" in notes:
        parts.append(f"Top: {_objects_what(series)}, {notes['objects']}.")
    if notes.get("radar"):
        parts.append(notes["radar"])
    if notes.get("index"):
        parts.append(f"Index panels: {notes['index']}.")
    parts.append("Dashed, numbered: key dates. Hollow grey: dates flagged by the activity "
                 "index (cloud, snow), left out of the lines; y-axes are set from unflagged "
                 "dates, and a flagged value beyond them is a grey triangle at the edge.")
    return " ".join(parts)


def _objects_what(series: pd.DataFrame) -> str:
    """What the objects line is, in words: the zones and kinds summed."""
    zones = len(series.attrs.get("zones", []))
    kinds = series.attrs.get("kinds", ["apron"])
    which = " and ".join(f"{k}" for k in kinds)
    return (f"aircraft-sized objects on the aprons per date, summed over {zones} "
            f"{which} zone{'s' if zones != 1 else ''}")


def _id_range(scenes: pd.DataFrame | None) -> str:
    if scenes is None or scenes.empty or "item_ids" not in scenes.columns:
        return "scene ids in scenes.csv"
    sel = scenes[scenes["selected"]] if "selected" in scenes.columns else scenes
    if sel.empty:
        return "none selected"
    first = str(sel["item_ids"].iloc[0]).split(";")[0]
    last = str(sel["item_ids"].iloc[-1]).split(";")[0]
    return f"first {first}, last {last}"


def _split_sensors(act: pd.DataFrame, radar: pd.DataFrame | None
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The optical rows, and the radar ones (``radar``, else the table's ``s1`` rows)."""
    if "sensor" not in act.columns:
        return act, radar
    is_radar = act["sensor"].astype(str).eq("s1")
    if not is_radar.any():
        return act, radar
    return act[~is_radar].copy(), radar if radar is not None else act[is_radar].copy()


def _span(act: pd.DataFrame, fused: pd.DataFrame | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last date drawn: the optical table's, widened by the fused series'."""
    days = pd.to_datetime(act["date"])
    if fused is not None and not fused.empty:
        days = pd.concat([days, pd.to_datetime(fused["date"])])
    return pd.Timestamp(days.min()), pd.Timestamp(days.max())


def radar_counts(radar: pd.DataFrame | None, scale: float = 1.0) -> pd.DataFrame:
    """Each radar pass's apron count on the optical scale, per relative orbit.

    :func:`geo.fuse.apron_counts` of the radar rows (unflagged passes only) times
    ``scale`` (optical count per radar count, ``fused.attrs["scale"]``).

    Examples
    --------
    >>> rad = pd.DataFrame({"date": ["2021-01-01", "2021-01-07"], "zone": "a", "kind": "apron",
    ...                     "objects": [2, 4], "flagged": False, "sensor": "s1",
    ...                     "relative_orbit": [5, 85]})
    >>> radar_counts(rad, 1.5)[["relative_orbit", "count"]].values.tolist()
    [[5.0, 3.0], [85.0, 6.0]]
    """
    from geo.fuse import apron_counts

    empty = pd.DataFrame(columns=["date", "sensor", "count", "zones", "relative_orbit"])
    if radar is None or radar.empty or "objects" not in radar.columns:
        return empty
    counts = apron_counts(radar, sensor="s1")
    if "relative_orbit" not in counts.columns:
        counts["relative_orbit"] = -1
    return counts.assign(count=counts["count"] * float(scale),
                         relative_orbit=counts["relative_orbit"].astype(int))


def _radar_layers(ax: Axes, radar: pd.DataFrame | None, fused: pd.DataFrame | None
                  ) -> tuple[list[Any], str]:
    """Radar counts per orbit and the fused line with its band; (their values, words)."""
    if fused is None or fused.empty:
        return [], ""
    scale = float(fused.attrs.get("scale", 1.0))
    counts = radar_counts(radar, scale)
    for k, (orbit, group) in enumerate(counts.groupby("relative_orbit", sort=True)):
        ax.plot(pd.to_datetime(group["date"]), group["count"], linestyle="none",
                marker=_RADAR_MARKERS[k % 3], markersize=3.2, markerfacecolor="none",
                markeredgewidth=0.8, color=_RADAR_COLOURS[k % 3], zorder=3, gid="radar",
                label=f"radar, orbit {orbit}" + (f" (x {scale:.2f})" if scale != 1 else ""))
    t, y, lo, hi = _break_gaps(pd.to_datetime(fused["date"]), fused["value"],
                               fused["low"].to_numpy(float), fused["high"].to_numpy(float))
    ax.fill_between(t, lo, hi, color=_FUSED_COLOUR, alpha=0.13, linewidth=0,
                    label="fused: 95 % band")
    ax.plot(t, y, color=_FUSED_COLOUR, linewidth=1.5, zorder=4, gid="fused",
            label="fused optical + radar")
    words = (f"Radar (Sentinel-1, open blue markers, one per relative orbit): "
             f"{len(counts)} passes' apron counts on the optical scale "
             f"({fused.attrs.get('calibration', 'scale 1')}). Purple: the fused series "
             "(inverse-variance weighted; geo.fuse) with its 95 % band; change points are "
             "found on it.")
    return [counts["count"], fused["value"], fused["low"], fused["high"]], words


def _objects_panel(ax: Axes, series: pd.DataFrame, splits: Sequence[Any],
                   extra: Sequence[Any] = ()) -> str:
    """Objects on the aprons: unflagged dates as a line with a band, flagged ones grey.

    ``extra``: further usable values drawn in the panel (radar, fused) for its y-axis.
    """
    flag = series["flagged"].to_numpy(dtype=bool)
    good, bad = series[~flag], series[flag]
    note = f"band: {_ROLL_NOTE}"
    lo, hi = _rolling_iqr(good["objects"].to_numpy(dtype=float), _runs(good["date"], splits))
    if not good.empty:
        t, y, blo, bhi = _break_gaps(good["date"], good["objects"], lo, hi)
        ax.fill_between(t, blo, bhi, color=_OBJECTS_COLOUR, alpha=0.15, linewidth=0,
                        label=f"band: inter-quartile range,\n{_ROLL} neighbouring clear dates")
        zones = len(series.attrs.get("zones", []))
        which = "optical, " if extra else ""
        ax.plot(t, y, color=_OBJECTS_COLOUR, linewidth=1.3, marker="o", markersize=2.8,
                label=f"{which}sum over {zones} zone{'s' if zones != 1 else ''}", gid="objects")
    _set_limits(ax, [good["objects"], lo, hi, *extra], bad["date"], bad["objects"],
                min_span=1.0, label="flagged date (not in the line)")
    kinds = series.attrs.get("kinds", [])
    extra = "\nrevetments included" if "revetment" in kinds else ""
    ax.set_ylabel(OBJECTS_LABEL.replace(" on", "\non", 1) + extra, fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    return note


def _trend_panel(ax: Axes, frame: pd.DataFrame, kind: str, splits: Sequence[Any] = ()) -> str:
    """Activity index of one zone kind: a line and band per zone, flagged dates grey."""
    flagged = _flags(frame)
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
    note = ""
    usable: list[Any] = []
    for k, (zone, group) in enumerate(frame.groupby("zone", sort=True)):
        group = group.sort_values("date")
        good = group[~flagged.loc[group.index].to_numpy()]
        colour = colours[k % len(colours)]
        if not good.empty:
            lo, hi, note = _uncertainty(good, splits)
            usable += [good["activity_index"], lo, hi]
            # no line or band across long gaps (cloudy or snowy seasons): they hide no data
            t, y, lo, hi = _break_gaps(good["date"], good["activity_index"], lo, hi)
            ax.fill_between(t, lo, hi, color=colour, alpha=0.18, linewidth=0)
            ax.plot(t, y, color=colour, linewidth=1.1, marker="o", markersize=2.2,
                    label=str(zone))
    bad = frame[flagged]
    _set_limits(ax, usable, bad["date"], bad["activity_index"], min_span=0.05)
    ax.set_ylabel(f"{kind}\nactivity index", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    return note


def _limits(values: Sequence[Any], *, min_span: float) -> tuple[float, float] | None:
    """y limits around ``values`` (and bands): 0 below non-negative data, a small margin.

    None when no value is finite.

    Examples
    --------
    >>> _limits([[0.04, 0.05], [0.03, 0.06]], min_span=0.05)
    (0.0, 0.0648)
    >>> _limits([[0, 0]], min_span=1.0)
    (0.0, 1.08)
    """
    flat = [np.asarray(v, dtype=float).ravel() for v in values]
    data = np.concatenate(flat) if flat else np.array([])
    data = data[np.isfinite(data)]
    if data.size == 0:
        return None
    low, high = float(data.min()), float(data.max())
    span = max(high - min(low, 0.0), min_span)
    top = max(high, min(low, 0.0) + min_span) + _MARGIN * span
    bottom = 0.0 if low >= 0 else low - _MARGIN * span
    return round(bottom, 12), round(top, 12)


def _set_limits(ax: Axes, usable: Sequence[Any], dates: pd.Series, values: pd.Series, *,
                min_span: float, label: str | None = None) -> None:
    """Set the y range from ``usable`` values, then draw the flagged ``values`` within it.

    Flagged values inside the range are hollow grey circles (labelled ``label``); those
    beyond it are grey triangles at the edge, pointing out. Without usable values the
    range comes from the flagged ones (there is nothing else to show).
    """
    y = np.asarray(values, dtype=float)
    limits = _limits(usable, min_span=min_span) or _limits([y], min_span=min_span)
    if limits is None:
        return
    ax.set_ylim(*limits)
    t = pd.to_datetime(pd.Series(dates)).to_numpy()
    bottom, top = limits
    inside = (y >= bottom) & (y <= top)
    if inside.any():
        ax.plot(t[inside], y[inside], linestyle="none", marker="o", markersize=2.8,
                markerfacecolor="none", markeredgecolor=_FLAG_COLOUR, markeredgewidth=0.7,
                label=label)
    for beyond, edge, marker in ((y > top, top, "^"), (y < bottom, bottom, "v")):
        if beyond.any():
            log.debug("%d flagged value(s) beyond the y-axis, drawn at %.3g", beyond.sum(), edge)
            ax.plot(t[beyond], np.full(int(beyond.sum()), edge), linestyle="none",
                    marker=marker, markersize=4.5, color=_FLAG_COLOUR, clip_on=False,
                    zorder=5, label=_BEYOND)


def _runs(dates: pd.Series, splits: Sequence[Any]) -> np.ndarray:
    """Run number of each (sorted) date: a new run after every long gap and change point.

    Examples
    --------
    >>> days = pd.Series(pd.to_datetime(["2021-01-01", "2021-01-11", "2021-06-01", "2021-06-11"]))
    >>> _runs(days, [pd.Timestamp("2021-06-05")]).tolist()
    [0, 0, 1, 2]
    """
    t = pd.to_datetime(pd.Series(dates)).to_numpy()
    gaps = np.concatenate([[0], np.cumsum(np.diff(t) > np.timedelta64(_MAX_GAP_DAYS, "D"))])
    cuts = np.searchsorted(np.sort(pd.to_datetime(list(splits)).to_numpy()), t, side="right")
    return (gaps[: t.size] + cuts).astype(int)


def _rolling_iqr(values: np.ndarray, runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inter-quartile range over the ``_ROLL`` neighbouring values of the same run.

    NaN where fewer than three values are at hand.
    """
    series = pd.Series(values, dtype=float)
    roll = series.groupby(np.asarray(runs)).rolling(_ROLL, center=True, min_periods=3)
    low = roll.quantile(0.25).reset_index(level=0, drop=True).sort_index()
    high = roll.quantile(0.75).reset_index(level=0, drop=True).sort_index()
    return low.to_numpy(), high.to_numpy()


def _legend(ax: Axes) -> None:
    """The panel's legend beside it, one entry per label."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.005, 1.0),
                  fontsize=6.5, frameon=False)


def _break_gaps(dates: pd.Series, values: pd.Series, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Insert a NaN point in every gap longer than ``_MAX_GAP_DAYS`` so lines break there."""
    t = pd.to_datetime(dates).to_numpy()
    y = np.asarray(values, dtype=float)
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    cut = np.flatnonzero(np.diff(t) > np.timedelta64(_MAX_GAP_DAYS, "D")) + 1
    if cut.size == 0:
        return t, y, lo, hi
    mid = t[cut - 1] + (t[cut] - t[cut - 1]) / 2
    return (np.insert(t, cut, mid), np.insert(y, cut, np.nan), np.insert(lo, cut, np.nan),
            np.insert(hi, cut, np.nan))


def _clear_panel(ax: Axes, scenes: pd.DataFrame) -> None:
    dates = pd.to_datetime(scenes["date"])
    ax.plot(dates, scenes["clear_fraction"], linestyle="none", marker="o", markersize=2,
            color="#7f8c8d", label="clear fraction, key zones")
    sel = scenes["selected"].astype(bool).to_numpy()
    ax.vlines(dates[sel], 0, scenes.loc[sel, "clear_fraction"], color=SELECTED_COLOUR,
              linewidth=0.8)
    ax.plot(dates[sel], scenes.loc[sel, "clear_fraction"], linestyle="none", marker="^",
            markersize=5, color=SELECTED_COLOUR, label="selected image")
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("clear\nfraction", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
