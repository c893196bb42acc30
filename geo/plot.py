"""Figures: maps of zones, and (with the review) trends, before/after pairs, contact sheets.

Every figure says where its data came from; figures made from the synthetic scenario
carry a SYNTHETIC stamp.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

if "ipykernel" not in sys.modules and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")  # files, not windows; notebooks keep their inline backend
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from geo import errors
from geo.aoi import ACTIVITY_KINDS, AOI
from geo.select import BeforeAfter

__all__ = [
    "KIND_COLOURS", "zones_map", "draw_zones", "scale_bar", "north_arrow", "stamp",
    "RGB_STRETCH", "image_extent", "time_index", "scene_label", "true_colour", "change_table",
    "zone_numbers", "aoi_map", "trend", "before_after", "contact_sheet", "timelapse",
]

log = logging.getLogger(__name__)

KIND_COLOURS = {
    "perimeter": "#444444",
    "runway": "#1f77b4",
    "taxiway": "#7fb3d5",
    "apron": "#d62728",
    "revetment": "#ff7f0e",
    "parking": "#9467bd",
    "yard": "#8c564b",
    "hangar": "#e377c2",
    "built": "#bcbd22",
    "control": "#2ca02c",
}


def draw_zones(aoi: AOI, ax: Axes, *, labels: bool = True, linewidth: float = 1.0) -> None:
    """Outline an AOI's zones (in its UTM CRS, metres) on a matplotlib axis."""
    utm = aoi.zones_utm()
    for kind, group in utm.groupby("kind"):
        colour = KIND_COLOURS.get(str(kind), "black")
        fill = kind not in ("perimeter", "built")
        group.plot(ax=ax, facecolor=colour if fill else "none", alpha=0.35 if fill else 1,
                   edgecolor=colour, linewidth=linewidth)
        group.boundary.plot(ax=ax, color=colour, linewidth=linewidth)
    if labels:
        for row in utm.itertuples():
            if row.kind in ("perimeter", "runway", "taxiway"):
                continue
            p = row.geometry.representative_point()
            ax.annotate(row.name, (p.x, p.y), fontsize=5, ha="center", va="center")


def scale_bar(ax: Axes, length_m: float | None = None) -> None:
    """Draw a metric scale bar in the lower-left corner of a UTM axis."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    if length_m is None:
        span = (x1 - x0) / 4
        length_m = max(b for b in (100, 200, 500, 1000, 2000, 5000, 10000) if b <= max(span, 100))
    x = x0 + 0.05 * (x1 - x0)
    y = y0 + 0.05 * (y1 - y0)
    ax.plot([x, x + length_m], [y, y], color="black", linewidth=3, solid_capstyle="butt")
    ax.plot([x, x + length_m], [y, y], color="white", linewidth=1, solid_capstyle="butt")
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(x + length_m / 2, y + 0.015 * (y1 - y0), label, ha="center", va="bottom", fontsize=7)


def north_arrow(ax: Axes) -> None:
    """Draw a north arrow in the upper-right corner (grid north of the UTM axis)."""
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.85), xycoords="axes fraction",
                ha="center", va="center", fontsize=9, fontweight="bold",
                arrowprops={"arrowstyle": "-|>", "color": "black"})


def stamp(fig: Figure, text: str = "SYNTHETIC") -> None:
    """Stamp a figure (e.g. SYNTHETIC for scenario data) across its top-left corner."""
    fig.text(0.01, 0.99, text, color="crimson", fontsize=12, fontweight="bold",
             ha="left", va="top", alpha=0.8)


def zones_map(aoi: AOI, out: str | Path | None = None, *, synthetic: bool = False) -> Figure:
    """Map an AOI's zones with a legend, scale bar and north arrow.

    Parameters
    ----------
    aoi
        The area of interest.
    out
        Where to save the PNG (nothing saved if None).
    synthetic
        Stamp the figure SYNTHETIC.

    Examples
    --------
    >>> import geo
    >>> fig = zones_map(geo.aoi.load("bagram"))
    >>> len(fig.axes)
    1
    """
    fig, ax = plt.subplots(figsize=(8, 8), dpi=150)
    draw_zones(aoi, ax)
    ax.set_aspect("equal")
    ax.set_xlabel(f"easting (m, EPSG:{aoi.epsg})")
    ax.set_ylabel("northing (m)")
    ax.set_title(f"{aoi.name}: zones of the area of interest\n"
                 f"EPSG:{aoi.epsg}, Sentinel-2 tile {', '.join(aoi.tiles)}", fontsize=10)
    from matplotlib.patches import Patch

    kinds = sorted(set(aoi.zones["kind"]))
    ax.legend(handles=[Patch(facecolor=KIND_COLOURS.get(k, "k"), alpha=0.5, label=k) for k in kinds],
              loc="lower right", fontsize=7)
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=6)
    scale_bar(ax)
    north_arrow(ax)
    if synthetic:
        stamp(fig)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out)
    return fig


# --- review figures ----------------------------------------------------------------
# Built from a stack (geo.load), an activity table (geo.activity_index), a scene table
# (geo.select_scenes) and change points (geo.when.change_points). Every figure carries a
# title, its dates, the scene ids it shows, the data source, and SYNTHETIC when made from
# the scenario.

RGB_STRETCH = (0.03, 0.30)
"""Reflectance mapped to black and white in true-colour images (one stretch for all dates,
so brightness can be compared between them)."""

_GAMMA = 1.0
_FOOTER_SIZE = 7
_EVENT_COLOUR = "#555555"
_CHANGE_COLOUR = "#c0392b"
_SELECTED_COLOUR = "#e67e22"
_MAX_GAP_DAYS = 75


def image_extent(stack: Any) -> tuple[float, float, float, float]:
    """Matplotlib ``extent`` (left, right, bottom, top) of a stack's pixel-centre grid.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"),
    ...                   coords={"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]})
    >>> image_extent(da)
    (0.0, 30.0, 0.0, 20.0)
    """
    x = np.asarray(stack["x"].values, dtype=float)
    y = np.asarray(stack["y"].values, dtype=float)
    dx = float(abs(x[1] - x[0])) if x.size > 1 else 10.0
    dy = float(abs(y[1] - y[0])) if y.size > 1 else 10.0
    return (float(x.min() - dx / 2), float(x.max() + dx / 2),
            float(y.min() - dy / 2), float(y.max() + dy / 2))


def time_index(stack: Any, date: Any) -> int:
    """Position along ``time`` of the scene taken on ``date`` (the nearest, if none that day).

    Examples
    --------
    >>> import pandas as pd, xarray as xr
    >>> ds = xr.Dataset(coords={"time": pd.to_datetime(["2021-01-01T06:00", "2021-01-06T06:00"])})
    >>> time_index(ds, "2021-01-06")
    1
    """
    times = pd.DatetimeIndex(stack["time"].values)
    if times.tz is not None:
        times = times.tz_convert(None)
    day = pd.Timestamp(date)
    if day.tz is not None:
        day = day.tz_convert(None)
    same = np.flatnonzero(times.normalize() == day.normalize())
    if same.size:
        return int(same[0])
    return int(np.argmin(np.abs((times - day).asi8)))


def scene_label(stack: Any, i: int) -> str:
    """The item id of a stack's ``i``-th scene (or its date when the stack has no ids)."""
    if "item_id" in getattr(stack, "coords", {}):
        return str(stack["item_id"].values[i])
    return str(pd.Timestamp(stack["time"].values[i]).date())


def true_colour(stack: Any, date: Any | None = None, *,
                stretch: tuple[float, float] = RGB_STRETCH) -> np.ndarray:
    """A true-colour image (y, x, RGB in 0..1) of one scene, NaN (no data) shown white.

    Parameters
    ----------
    stack
        Dataset with ``red``, ``green``, ``blue`` reflectance (1.0 = 100 %), with or
        without a ``time`` dimension.
    date
        Which scene (see :func:`time_index`); needed when the stack has ``time``.
    stretch
        Reflectance shown as black and as white.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> band = xr.DataArray(np.full((2, 2), 0.15, "float32"), dims=("y", "x"))
    >>> rgb = true_colour(xr.Dataset({"red": band, "green": band, "blue": band}))
    >>> rgb.shape, bool(0 < rgb[0, 0, 0] < 1)
    ((2, 2, 3), True)
    """
    missing = [b for b in ("red", "green", "blue") if b not in stack]
    if missing:
        raise errors.ReviewError(
            f"true colour needs bands red, green, blue; the stack lacks {missing}: "
            "load them with geo.load(..., bands=(..., 'red', 'green', 'blue'))"
        )
    scene = stack[["red", "green", "blue"]]
    if "time" in scene.dims:
        if date is None:
            raise errors.ReviewError("the stack has several scenes: say which with date=")
        scene = scene.isel(time=time_index(stack, date))
    arr = np.stack([np.asarray(scene[b].values, dtype="float32") for b in ("red", "green", "blue")],
                   axis=-1)
    lo, hi = stretch
    with np.errstate(invalid="ignore"):
        out = np.clip((arr - lo) / (hi - lo), 0, 1) ** _GAMMA
    out[~np.isfinite(out)] = 1.0
    return out


def _footer(fig: Figure, text: str) -> None:
    import textwrap

    width = int(fig.get_figwidth() * 72 / (_FOOTER_SIZE * 0.6))
    fig.text(0.01, 0.005, textwrap.fill(text, width), fontsize=_FOOTER_SIZE, color="#333333",
             ha="left", va="bottom", linespacing=1.3)


def _source_text(source: str, synthetic: bool) -> str:
    if synthetic:
        return (f"Data: {source or 'the synthetic scenario'} - SYNTHETIC, not real imagery "
                "(simulated Sentinel-2 L2A)")
    return f"Data: {source or 'Sentinel-2 L2A'}; contains modified Copernicus Sentinel data"


def _outline(aoi: AOI, ax: Axes, *, kinds: Sequence[str] | None = None, linewidth: float = 0.8,
             labels: bool = False, fontsize: float = 5) -> None:
    """Zone outlines only (no fill), to draw over imagery."""
    utm = aoi.zones_utm()
    for row in utm.itertuples():
        if row.kind == "control" or (kinds is not None and row.kind not in kinds):
            continue
        colour = KIND_COLOURS.get(str(row.kind), "white")
        geoms = getattr(row.geometry, "geoms", [row.geometry])
        for g in geoms:
            xs, ys = g.exterior.xy
            ax.plot(xs, ys, color="black", linewidth=linewidth + 0.8, alpha=0.6)
            ax.plot(xs, ys, color=colour, linewidth=linewidth)
        if labels and row.kind not in ("perimeter", "runway", "taxiway"):
            p = row.geometry.representative_point()
            ax.annotate(str(row.name), (p.x, p.y), fontsize=fontsize, ha="center", va="center",
                        color="white", path_effects=[_halo()])


def _halo() -> Any:
    from matplotlib import patheffects

    return patheffects.withStroke(linewidth=1.5, foreground="black")


def _finish(fig: Figure, out: str | Path | None, synthetic: bool) -> Figure:
    if synthetic:
        stamp(fig)
    if out is not None:
        fig.savefig(out, dpi=fig.dpi, facecolor="white")
        log.info("wrote %s", out)
    return fig


def _image_axis(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def aoi_map(aoi: AOI, out: str | Path | None = None, *, stack: Any = None, date: Any = None,
            site: str = "", source: str = "", synthetic: bool = False) -> Figure:
    """Map of an AOI's zones over a true-colour scene, with legend, scale bar, north arrow.

    Without a stack it falls back to :func:`zones_map`.

    Parameters
    ----------
    aoi
        The area of interest.
    out
        Where to save the PNG.
    stack, date
        The scene drawn underneath (dataset from :func:`geo.load` and its date).
    site
        Name in the title (default: the AOI's).
    source
        The imagery source, printed in the footer.
    synthetic
        Stamp the figure SYNTHETIC.

    Examples
    --------
    >>> import geo
    >>> fig = aoi_map(geo.aoi.load("bagram"))
    >>> len(fig.axes)
    1
    """
    if stack is None:
        return zones_map(aoi, out, synthetic=synthetic)
    i = time_index(stack, date) if "time" in stack.dims else 0
    scene = stack.isel(time=i) if "time" in stack.dims else stack
    fig, ax = plt.subplots(figsize=(8, 8.6), dpi=150)
    extent = image_extent(stack)
    ax.imshow(true_colour(scene), extent=extent, origin="upper", interpolation="nearest")
    _outline(aoi, ax, linewidth=1.0, labels=True)
    _image_axis(ax, extent)
    from matplotlib.lines import Line2D

    kinds = [k for k in KIND_COLOURS if k in set(aoi.zones["kind"]) and k != "control"]
    ax.legend(handles=[Line2D([], [], color=KIND_COLOURS[k], lw=2, label=k) for k in kinds],
              loc="lower right", fontsize=7, framealpha=0.85, title="zone kind", title_fontsize=7)
    scale_bar(ax)
    north_arrow(ax)
    day = pd.Timestamp(stack["time"].values[i]).date() if "time" in stack.dims else ""
    ax.set_title(f"{site or aoi.name}: zones of the area of interest over the scene of {day}\n"
                 f"scene {scene_label(stack, i) if 'time' in stack.dims else ''}; "
                 f"EPSG:{aoi.epsg}, Sentinel-2 tile {', '.join(aoi.tiles)}", fontsize=10)
    approx = int(aoi.zones["source"].astype(str).str.startswith("approximate").sum())
    _footer(fig, f"{_source_text(source, synthetic)}. Zones: {aoi.path.name if aoi.path else aoi.name}"
                 f" ({approx} of {len(aoi.zones)} placed approximately by hand). "
                 f"True colour B04/B03/B02, reflectance {RGB_STRETCH[0]:g}-{RGB_STRETCH[1]:g}.")
    fig.tight_layout(rect=(0, 0.03, 1, 0.98))
    return _finish(fig, out, synthetic)


# --- trend -------------------------------------------------------------------------

_BAND_COLUMNS = (("activity_low", "activity_high"), ("activity_lower", "activity_upper"), ("lower", "upper"),
                 ("ci_low", "ci_high"), ("activity_index_lower", "activity_index_upper"))
_SD_COLUMNS = ("activity_std", "activity_sd", "uncertainty", "std", "sigma")


def _uncertainty(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
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
    roll = pd.Series(value).rolling(7, center=True, min_periods=3)
    return (roll.quantile(0.25).to_numpy(), roll.quantile(0.75).to_numpy(),
            "band: rolling inter-quartile range over 7 clear dates")


def change_table(change_points: Any) -> pd.DataFrame:
    """Change points as a DataFrame with ``date``, ``lower``, ``upper`` (and ``zone`` if any).

    Accepts a DataFrame, a dataclass or object with those attributes, a dict, or a
    list of them (what :func:`geo.when.change_points` returns).

    Examples
    --------
    >>> change_table({"date": "2021-08-20", "lower": "2021-07-30", "upper": "2021-09-10"}).shape
    (1, 3)
    """
    if change_points is None:
        return pd.DataFrame(columns=["date", "lower", "upper"])
    if isinstance(change_points, pd.DataFrame):
        frame = change_points.copy()
    elif isinstance(change_points, dict):
        frame = pd.DataFrame([change_points])
    elif isinstance(change_points, list | tuple):
        frame = pd.concat([change_table(c) for c in change_points], ignore_index=True) \
            if change_points else pd.DataFrame(columns=["date", "lower", "upper"])
    else:
        for attr in ("table", "frame", "points", "change_points"):
            inner = getattr(change_points, attr, None)
            if isinstance(inner, pd.DataFrame | list):
                return change_table(inner)
        fields = {k: getattr(change_points, k) for k in ("date", "lower", "upper", "zone")
                  if hasattr(change_points, k)}
        if "date" not in fields:
            return pd.DataFrame(columns=["date", "lower", "upper"])
        frame = pd.DataFrame([fields])
    if "date" not in frame.columns:
        return pd.DataFrame(columns=["date", "lower", "upper"])
    for col in ("date", "lower", "upper"):
        if col not in frame.columns:
            frame[col] = frame["date"]
        frame[col] = pd.to_datetime(frame[col], errors="coerce")
        if getattr(frame[col].dt, "tz", None) is not None:
            frame[col] = frame[col].dt.tz_convert(None)
    return frame.dropna(subset=["date"]).reset_index(drop=True)


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
        ax.axvline(day, color=_EVENT_COLOUR, linestyle=(0, (4, 3)), linewidth=0.8, zorder=1)
        if labels:
            ax.text(day, 1.01, str(k), transform=ax.get_xaxis_transform(), fontsize=6.5,
                    color="white", ha="center", va="bottom", fontweight="bold",
                    bbox={"boxstyle": "circle,pad=0.25", "facecolor": _EVENT_COLOUR,
                          "edgecolor": "none"})


def _event_key(fig: Figure, events: Sequence[Any], changes: pd.DataFrame, y: float) -> None:
    """Numbered events in two columns, and the change point(s), at height ``y``."""
    per = int(np.ceil(len(events) / 2)) if events else 0
    for c in range(2 if events else 0):
        lines = [f"{k}  {pd.Timestamp(e.date):%d %b %Y}  {e.label}"
                 for k, e in enumerate(events, start=1) if (k - 1) // per == c]
        fig.text(0.07 + c * 0.33, y, "\n".join(lines), fontsize=7, color=_EVENT_COLOUR,
                 ha="left", va="top", linespacing=1.4)
    if not changes.empty:
        text = "\n".join(f"change point {r.date:%d %b %Y}\n(interval {r.lower:%d %b %Y}"
                         f" to {r.upper:%d %b %Y}, shaded)" for r in changes.head(2).itertuples())
        fig.text(0.76, y, text, fontsize=7, color=_CHANGE_COLOUR, ha="left", va="top",
                 linespacing=1.4)


def _mark_change(ax: Axes, changes: pd.DataFrame, label: bool) -> None:
    for k, row in enumerate(changes.itertuples()):
        ax.axvspan(_num(row.lower), _num(row.upper), color=_CHANGE_COLOUR, alpha=0.12, zorder=0, linewidth=0)
        ax.axvline(_num(row.date), color=_CHANGE_COLOUR, linewidth=1.4, zorder=2,
                   label="change point (shaded: its interval)" if label and k == 0 else None)


def trend(activity: pd.DataFrame, out: str | Path | None = None, *,
          scenes: pd.DataFrame | None = None, events: Sequence[Any] = (),
          change_points: Any = None, site: str = "", source: str = "",
          synthetic: bool = False) -> Figure:
    """Activity per zone over time, with uncertainty, clear fraction, events, change point.

    One panel per zone kind (apron, revetment, parking, yard...) with a line per zone;
    dates flagged by :func:`geo.activity_index` (cloud, snow) drawn as hollow grey
    markers and left out of the lines. The bottom panel shows the clear fraction over
    the key zones of every date, the selected images marked.

    Parameters
    ----------
    activity
        Table from :func:`geo.activity_index`: ``date``, ``zone``, ``kind``,
        ``activity_index``, optional ``flagged`` and uncertainty columns
        (``activity_lower``/``activity_upper`` or ``activity_std``; without them the band
        is a rolling inter-quartile range, and the legend says so).
    out
        Where to save the PNG.
    scenes
        Table from :func:`geo.select_scenes` (clear fraction and selection).
    events
        :class:`geo.select.KeyDate` events to mark.
    change_points
        What :func:`geo.when.change_points` returns (see :func:`change_table`).
    site, source, synthetic
        Name in the title, data source in the footer, SYNTHETIC stamp.

    Examples
    --------
    >>> import pandas as pd
    >>> act = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=10, freq="10D"),
    ...                     "zone": "apron_a", "kind": "apron", "activity_index": range(10)})
    >>> fig = trend(act, site="test")
    >>> len(fig.axes)
    1
    """
    act = activity.copy()
    act["date"] = pd.to_datetime(act["date"])
    if "kind" not in act.columns:
        act["kind"] = "zone"
    kinds = [k for k in (*ACTIVITY_KINDS, *sorted(set(act["kind"]) - set(ACTIVITY_KINDS)))
             if k in set(act["kind"])]
    has_clear = scenes is not None and not scenes.empty
    heights = [3.0] * len(kinds) + ([1.6] if has_clear else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(11, 2.2 + 2.0 * sum(heights) / 3),
                             dpi=150, sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": heights, "hspace": 0.12})
    axs = list(axes[:, 0])
    t0, t1 = act["date"].min(), act["date"].max()
    changes = change_table(change_points)
    band_note = ""
    shown = _events_in(events, t0, t1)
    for n_kind, (kind, ax) in enumerate(zip(kinds, axs, strict=False)):
        band_note = _trend_panel(ax, act[act["kind"] == kind], str(kind)) or band_note
        _mark_events(ax, shown, labels=n_kind == 0)
        _mark_change(ax, changes, label=n_kind == 0)
    if has_clear:
        assert scenes is not None
        _clear_panel(axs[-1], scenes)
        _mark_events(axs[-1], shown, labels=False)
        _mark_change(axs[-1], changes, label=False)
    axs[-1].set_xlim(t0 - pd.Timedelta(days=20), t1 + pd.Timedelta(days=20))
    n_sel = int(scenes["selected"].sum()) if has_clear and scenes is not None else 0
    cp = "; ".join(f"{r.date:%d %b %Y} ({r.lower:%b %Y}..{r.upper:%b %Y})"
                   for r in changes.itertuples()) or "none found"
    fig.suptitle(f"{site + ': ' if site else ''}activity index per zone, "
                 f"{t0:%d %b %Y} to {t1:%d %b %Y}", fontsize=12,
                 y=1 - 0.12 / fig.get_figheight(), va="top", fontweight="bold")
    ids = _id_range(scenes)
    _footer(fig, f"{_source_text(source, synthetic)}. {act['date'].nunique()} dates; "
                 f"{n_sel} selected images ▲ ({ids}; all ids in scenes.csv). Change point: {cp}. "
                 f"{band_note.capitalize()}. Dashed, numbered: key dates. Hollow grey: dates "
                 "flagged by the activity index (cloud, snow), left out of the lines.")
    height = fig.get_figheight()
    top = 1 - (0.55 + 0.16 * max(int(np.ceil(len(shown) / 2)), 2) + 0.35) / height
    _event_key(fig, shown, changes, 1 - 0.5 / height)
    fig.subplots_adjust(left=0.07, right=0.8, top=top, bottom=0.85 / height)
    return _finish(fig, out, synthetic)


def _id_range(scenes: pd.DataFrame | None) -> str:
    if scenes is None or scenes.empty or "item_ids" not in scenes.columns:
        return "scene ids in scenes.csv"
    sel = scenes[scenes["selected"]] if "selected" in scenes.columns else scenes
    if sel.empty:
        return "none selected"
    first = str(sel["item_ids"].iloc[0]).split(";")[0]
    last = str(sel["item_ids"].iloc[-1]).split(";")[0]
    return f"first {first}, last {last}"


def _trend_panel(ax: Axes, frame: pd.DataFrame, kind: str) -> str:
    flagged_col = frame["flagged"].astype(bool) if "flagged" in frame.columns \
        else pd.Series(False, index=frame.index)
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
    note = ""
    for k, (zone, group) in enumerate(frame.groupby("zone", sort=True)):
        group = group.sort_values("date")
        flag = flagged_col.loc[group.index].to_numpy()
        good = group[~flag]
        colour = colours[k % len(colours)]
        if not good.empty:
            lo, hi, note = _uncertainty(good)
            # no line or band across long gaps (cloudy or snowy seasons): they hide no data
            t, y, lo, hi = _break_gaps(good["date"], good["activity_index"], lo, hi)
            ax.fill_between(t, lo, hi, color=colour, alpha=0.18, linewidth=0)
            ax.plot(t, y, color=colour, linewidth=1.1, marker="o", markersize=2.2,
                    label=str(zone))
        bad = group[flag]
        if not bad.empty:
            ax.plot(bad["date"], bad["activity_index"], linestyle="none", marker="o",
                    markersize=2.5, markerfacecolor="none", markeredgecolor="#999999",
                    markeredgewidth=0.6)
    ax.set_ylabel(f"{kind}\nactivity index", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=6.5, frameon=False)
    return note


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
    ax.vlines(dates[sel], 0, scenes.loc[sel, "clear_fraction"], color=_SELECTED_COLOUR,
              linewidth=0.8)
    ax.plot(dates[sel], scenes.loc[sel, "clear_fraction"], linestyle="none", marker="^",
            markersize=5, color=_SELECTED_COLOUR, label="selected image")
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("clear\nfraction", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=6.5, frameon=False)


# --- before / after ----------------------------------------------------------------


def zone_numbers(activity: pd.DataFrame, before: Any, after: Any) -> pd.DataFrame:
    """Per-zone activity on two dates and the difference (for before/after tables).

    Examples
    --------
    >>> import pandas as pd
    >>> act = pd.DataFrame({"date": ["2020-06-01", "2022-06-01"], "zone": "a", "kind": "apron",
    ...                     "activity_index": [0.8, 0.1]})
    >>> zone_numbers(act, "2020-06-01", "2022-06-01")["change"].round(2).tolist()
    [-0.7]
    """
    act = activity.copy()
    act["day"] = pd.to_datetime(act["date"]).dt.normalize()
    keep = ["zone", "kind", "activity_index"]
    keep += [c for c in ("clear_fraction", "flagged") if c in act.columns]
    b = act[act["day"] == pd.Timestamp(before).normalize()][keep].set_index(["zone", "kind"])
    a = act[act["day"] == pd.Timestamp(after).normalize()][keep].set_index(["zone", "kind"])
    table = b.add_suffix("_before").join(a.add_suffix("_after"), how="outer").reset_index()
    table["change"] = table["activity_index_after"] - table["activity_index_before"]
    return table


def before_after(stack: Any, aoi: AOI, before: Any, after: Any, out: str | Path | None = None, *,
                 change: Any = None, activity: pd.DataFrame | None = None, site: str = "",
                 source: str = "", synthetic: bool = False,
                 pair: BeforeAfter | None = None) -> Figure:
    """A true-colour pair with zone outlines, the change map, and per-zone numbers.

    Parameters
    ----------
    stack
        Dataset from :func:`geo.load` with ``red``, ``green``, ``blue``.
    aoi
        The area of interest (outlines).
    before, after
        Dates of the two scenes.
    out
        Where to save the PNG.
    change
        Change map (y, x) from :func:`geo.change.change_map` (third panel, if given).
    activity
        Activity table; its values on the two dates fill the table under the images.
    site, source, synthetic
        Name in the title (default: the AOI's), data source in the footer, SYNTHETIC stamp.
    pair
        What the pair was split at (:func:`geo.review.pick_before_after`): said under
        the title. Without it the figure makes no claim about a change.

    Examples
    --------
    >>> from geo.testing.review import toy_inputs
    >>> toy = toy_inputs(n_dates=4)
    >>> s = toy["stack"]
    >>> fig = before_after(s, toy["aoi"], s.time.values[0], s.time.values[-1],
    ...                    activity=toy["activity"])
    >>> len(fig.axes)
    3
    """
    ib, ia = time_index(stack, before), time_index(stack, after)
    days = [pd.Timestamp(stack["time"].values[i]) for i in (ib, ia)]
    ids = [scene_label(stack, i) for i in (ib, ia)]
    n_img = 3 if change is not None else 2
    has_table = activity is not None and not activity.empty
    fig = plt.figure(figsize=(5.0 * n_img + 0.6, 6.2 + (2.8 if has_table else 0)), dpi=150)
    grid = fig.add_gridspec(2 if has_table else 1, n_img,
                            height_ratios=[5.4, 2.6] if has_table else [1], hspace=0.06,
                            wspace=0.04)
    extent = image_extent(stack)
    for k, (i, day, sid) in enumerate(zip((ib, ia), days, ids, strict=True)):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(true_colour(stack.isel(time=i)), extent=extent, origin="upper",
                  interpolation="nearest")
        _outline(aoi, ax, linewidth=0.7)
        _image_axis(ax, extent)
        ax.set_title(f"{'before' if k == 0 else 'after'}: {day:%d %b %Y}\n{sid}", fontsize=8.5)
        scale_bar(ax)
        north_arrow(ax)
    if change is not None:
        ax = fig.add_subplot(grid[0, 2])
        _change_panel(fig, ax, change, extent)
        _outline(aoi, ax, linewidth=0.7)
        _image_axis(ax, extent)
        scale_bar(ax)
        north_arrow(ax)
    if has_table:
        assert activity is not None
        _numbers_table(fig.add_subplot(grid[1, :]), zone_numbers(activity, days[0], days[1]),
                       days)
    height = fig.get_figheight()
    fig.suptitle(f"{site or aoi.name}: before and after, {days[0]:%d %b %Y} against {days[1]:%d %b %Y}",
                 fontsize=12, fontweight="bold", y=1 - 0.08 / height, va="top")
    if pair is not None:
        fig.text(0.5, 1 - 0.36 / height, f"The pair: {pair.where()}", ha="center", va="top",
                 fontsize=9.5, wrap=True)
    _footer(fig, f"{_source_text(source, synthetic)}. Scenes {ids[0]} and {ids[1]}. "
                 f"True colour B04/B03/B02, reflectance {RGB_STRETCH[0]:g}-{RGB_STRETCH[1]:g}, "
                 "same stretch for both. Outlines: zones of the AOI (see zones.png).")
    top = 1 - (0.95 if pair is not None else 0.75) / height
    fig.subplots_adjust(left=0.02, right=0.95, top=top, bottom=0.4 / height)
    return _finish(fig, out, synthetic)


def _change_panel(fig: Figure, ax: Axes, change: Any,
                  extent: tuple[float, float, float, float]) -> None:
    values = np.asarray(change.values if hasattr(change, "values") else change, dtype="float32")
    if values.ndim == 3:
        values = values[0]
    finite = values[np.isfinite(values)]
    signed = finite.size > 0 and float(finite.min()) < 0 < float(finite.max())
    if signed:
        lim = float(np.nanpercentile(np.abs(finite), 99)) or 1.0
        im = ax.imshow(values, extent=extent, origin="upper", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       interpolation="nearest")
    else:
        hi = float(np.nanpercentile(finite, 99)) if finite.size else 1.0
        im = ax.imshow(values, extent=extent, origin="upper", cmap="YlOrRd", vmin=0,
                       vmax=hi or 1.0, interpolation="nearest")
    attrs = getattr(change, "attrs", {})
    label = str(attrs.get("long_name") or attrs.get("description") or getattr(change, "name", None)
                or "change")
    units = attrs.get("units")
    cbar = fig.colorbar(im, cax=ax.inset_axes((1.02, 0.15, 0.035, 0.7)))
    cbar.set_label(f"{label}{f' ({units})' if units else ''}", fontsize=7)
    cbar.ax.tick_params(labelsize=6)
    ax.set_title(f"change map\n{label}", fontsize=8.5)


def _numbers_table(ax: Axes, numbers: pd.DataFrame, days: Sequence[pd.Timestamp]) -> None:
    ax.axis("off")
    cols = ["zone", "kind", f"activity {days[0]:%d %b %Y}", f"activity {days[1]:%d %b %Y}",
            "change"]
    has_clear = "clear_fraction_before" in numbers.columns
    if has_clear:
        cols += ["clear before", "clear after"]
    rows: list[list[str]] = []
    flags = "flagged_before" in numbers.columns
    for r in numbers.sort_values(["kind", "zone"]).itertuples():
        mark_b = " †" if flags and r.flagged_before is True else ""
        mark_a = " †" if flags and r.flagged_after is True else ""
        row = [str(r.zone), str(r.kind), _fmt(r.activity_index_before) + mark_b,
               _fmt(r.activity_index_after) + mark_a, _fmt(r.change, signed=True)]
        if has_clear:
            row += [_pct(r.clear_fraction_before), _pct(r.clear_fraction_after)]
        rows.append(row)
    if not rows:
        ax.text(0.5, 0.5, "no activity values on these dates", ha="center", va="center")
        return
    from matplotlib.transforms import Bbox

    table = ax.table(cellText=rows, colLabels=cols, cellLoc="center",
                     bbox=Bbox.from_bounds(0.0, 0.1, 1.0, 0.9))
    if flags and (numbers["flagged_before"].eq(True).any() or numbers["flagged_after"].eq(True).any()):
        ax.text(0.0, 0.02, "† flagged by the activity index (cloud or snow over the zone): "
                "not a reliable value", transform=ax.transAxes, fontsize=7, va="top")
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    for (i, _c), cell in table.get_celld().items():
        cell.set_edgecolor("#cccccc")
        if i == 0:
            cell.set_facecolor("#eeeeee")
            cell.set_text_props(fontweight="bold")


def _fmt(value: Any, signed: bool = False) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    if not np.isfinite(v):
        return "-"
    return f"{v:+.2f}" if signed else f"{v:.2f}"


def _pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    return f"{v:.0%}" if np.isfinite(v) else "-"


# --- contact sheet and timelapse ------------------------------------------------------


def _selected(scenes: pd.DataFrame) -> pd.DataFrame:
    sel = scenes[scenes["selected"].astype(bool)] if "selected" in scenes.columns else scenes
    if sel.empty:
        raise errors.ReviewError("no selected scenes to draw: run geo.select_scenes first")
    return sel.sort_values("date").reset_index(drop=True)


def contact_sheet(stack: Any, scenes: pd.DataFrame, out: str | Path | None = None, *,
                  aoi: AOI | None = None, ncols: int = 6, site: str = "", source: str = "",
                  synthetic: bool = False) -> Figure:
    """The selected images in a grid, each with its date, scene id, clear fraction, activity.

    Images chosen for a key date get an orange frame and the event's name.

    Parameters
    ----------
    stack
        Dataset from :func:`geo.load` with ``red``, ``green``, ``blue``.
    scenes
        Table from :func:`geo.select_scenes` (its selected rows are drawn, in date order).
    out
        Where to save the PNG.
    aoi
        Draw the perimeter on each image.
    ncols
        Images per row.
    site, source, synthetic
        Title, data source in the footer, SYNTHETIC stamp.
    """
    sel = _selected(scenes)
    nrows = int(np.ceil(len(sel) / ncols))
    ncols = min(ncols, len(sel))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.55 * nrows + 1.0), dpi=150,
                             squeeze=False)
    extent = image_extent(stack)
    idx = [time_index(stack, d) for d in sel["date"]]
    rgb = stack[["red", "green", "blue"]].isel(time=idx).compute()
    for k, ax in enumerate(axes.ravel()):
        if k >= len(sel):
            ax.axis("off")
            continue
        row = sel.iloc[k]
        ax.imshow(true_colour(rgb.isel(time=k)), extent=extent, origin="upper",
                  interpolation="nearest")
        if aoi is not None:
            _outline(aoi, ax, kinds=("perimeter",), linewidth=0.6)
        _image_axis(ax, extent)
        sid = str(row["item_ids"]).split(";")[0] if "item_ids" in sel.columns else ""
        act = row.get("activity", np.nan)
        act_txt = f" · activity {act:.2f}" if pd.notna(act) else ""
        ax.set_title(f"{pd.Timestamp(row['date']):%d %b %Y} · {row['clear_fraction']:.0%} clear"
                     f"{act_txt}\n{_short_id(sid)}", fontsize=5.8, pad=2)
        key = str(row.get("key_date", "") or "")
        for spine in ax.spines.values():
            spine.set_edgecolor(_SELECTED_COLOUR if key else "#999999")
            spine.set_linewidth(2.2 if key else 0.5)
        if key:
            ax.text(0.02, 0.03, key.split(";")[0], transform=ax.transAxes, fontsize=5,
                    color="white", va="bottom", ha="left", path_effects=[_halo()])
    t0, t1 = pd.Timestamp(sel["date"].min()), pd.Timestamp(sel["date"].max())
    fig.suptitle(f"{site + ': ' if site else ''}the {len(sel)} selected images, "
                 f"{t0:%b %Y} to {t1:%b %Y}", fontsize=12, fontweight="bold", y=0.995)
    _footer(fig, f"{_source_text(source, synthetic)}. Each: date, clear fraction over key zones, "
                 "mean activity index of key zones, scene id. Orange frame: chosen for a key date. "
                 "Selection and reasons: scenes.csv.")
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.75 / fig.get_figheight(),
                        bottom=0.45 / fig.get_figheight(), wspace=0.04, hspace=0.22)
    return _finish(fig, out, synthetic)


def _short_id(item_id: str, width: int = 38) -> str:
    return item_id if len(item_id) <= width else item_id[: width - 1] + "…"


def timelapse(stack: Any, scenes: pd.DataFrame, out: str | Path, *, aoi: AOI | None = None,
              site: str = "", source: str = "", synthetic: bool = False,
              size: int = 560, seconds_per_frame: float = 0.8) -> Path:
    """An animated GIF of the selected images, each frame labelled with date and scene id.

    Parameters
    ----------
    stack
        Dataset from :func:`geo.load` with ``red``, ``green``, ``blue``.
    scenes
        Table from :func:`geo.select_scenes` (selected rows, in date order).
    out
        Path of the GIF.
    aoi
        Draw the zone outlines on each frame.
    site, source, synthetic
        Header text, footer text, SYNTHETIC mark.
    size
        Longest side of the image part of a frame, in pixels.
    seconds_per_frame
        Display time of each frame.

    Returns
    -------
    pathlib.Path
        The GIF written.
    """
    from PIL import Image, ImageDraw

    sel = _selected(scenes)
    idx = [time_index(stack, d) for d in sel["date"]]
    rgb = stack[["red", "green", "blue"]].isel(time=idx).compute()
    extent = image_extent(stack)
    first = true_colour(rgb.isel(time=0))
    scale = size / max(first.shape[:2])
    w, h = round(first.shape[1] * scale), round(first.shape[0] * scale)
    head, foot = 44, 22
    outlines = _outline_pixels(aoi, extent, w, h) if aoi is not None else []
    fonts = (_font(15), _font(12), _font(10))
    frames = []
    for k in range(len(sel)):
        row = sel.iloc[k]
        img = Image.fromarray((true_colour(rgb.isel(time=k)) * 255).astype("uint8"))
        img = img.resize((w, h), Image.Resampling.BILINEAR)
        canvas = Image.new("RGB", (w, h + head + foot), "white")
        canvas.paste(img, (0, head))
        draw = ImageDraw.Draw(canvas)
        for colour, pts in outlines:
            draw.line([(x, y + head) for x, y in pts], fill=colour, width=1)
        act = row.get("activity", np.nan)
        act_txt = f"  activity {act:.2f}" if pd.notna(act) else ""
        draw.text((8, 4), f"{site + '  ' if site else ''}{pd.Timestamp(row['date']):%d %b %Y}"
                  f"  ({k + 1}/{len(sel)}){act_txt}", fill="black", font=fonts[0])
        sid = str(row.get("item_ids", "")).split(";")[0]
        draw.text((8, 24), f"{sid}  {row['clear_fraction']:.0%} clear", fill="#333333",
                  font=fonts[2])
        if synthetic:
            draw.text((w - 8, 4), "SYNTHETIC", fill="crimson", font=fonts[0], anchor="ra")
        draw.text((8, h + head + 5), _source_text(source, synthetic)[:110], fill="#333333",
                  font=fonts[2])
        frames.append(canvas.convert("P", palette=Image.Palette.ADAPTIVE, colors=255))
    out = Path(out)
    frames[0].save(out, save_all=True, append_images=frames[1:], loop=0,
                   duration=int(seconds_per_frame * 1000), optimize=True)
    log.info("wrote %s (%d frames)", out, len(frames))
    return out


def _font(size: int) -> Any:
    from PIL import ImageFont

    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _outline_pixels(aoi: AOI, extent: tuple[float, float, float, float], w: int,
                    h: int) -> list[tuple[str, list[tuple[float, float]]]]:
    left, right, bottom, top = extent
    sx, sy = w / (right - left), h / (top - bottom)
    lines = []
    for row in aoi.zones_utm().itertuples():
        if row.kind in ("control", "runway", "taxiway", "built", "hangar"):
            continue
        for g in getattr(row.geometry, "geoms", [row.geometry]):
            xs, ys = g.exterior.xy
            lines.append((KIND_COLOURS.get(str(row.kind), "white"),
                          [((x - left) * sx, (top - y) * sy) for x, y in zip(xs, ys, strict=True)]))
    return lines


def site_comparison(results: dict[str, Any], out: str | Path | None = None) -> Figure:
    """Apron activity of several sites over time, one line each, change points marked.

    Parameters
    ----------
    results
        Site name -> :class:`geo.review.ReviewResult` (as :func:`geo.scale.run_sites` makes).
    out
        Where to save the PNG.
    """
    from geo.scale import _main_change, _site_series

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=130)
    synthetic = False
    for i, (name, res) in enumerate(results.items()):
        series = _site_series(res.activity)
        colour = f"C{i}"
        ax.plot(series.index, series.to_numpy(), "-o", ms=2.5, lw=1.2, color=colour,
                label=f"{name} ({len(series)} dates)")
        change = _main_change(res.change_points)
        if change is not None:
            ax.axvline(change, color=colour, ls="--", lw=1)  # type: ignore[arg-type]
            ax.annotate(f"{name}: change {change:%Y-%m-%d}", (change, ax.get_ylim()[1]),
                        xytext=(3, -12 - 11 * i), textcoords="offset points", fontsize=7,
                        color=colour)
        synthetic = synthetic or bool(res.synthetic)
    ax.set_ylabel("apron activity index (mean of apron zones)")
    ax.set_title("Activity across sites (dashed: each site's main change point)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.text(0.99, 0.01, "source: " + "; ".join(sorted({str(r.out) for r in results.values()})),
             ha="right", va="bottom", fontsize=6, color="0.4")
    if synthetic:
        stamp(fig)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out)
    plt.close(fig)
    return fig
