"""``before_after.png``: a true-colour pair either side of the change, the change map,
close-ups of the key zones on both dates, and each zone's numbers.

``before_after_radar.png`` (:func:`before_after_radar`): the Sentinel-1 pair that goes
beside it, VV backscatter in dB, grey, one stretch for both (:data:`RADAR_STRETCH_DB`),
two passes of one relative orbit (same viewing geometry) nearest the optical dates."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from geo import errors
from geo.aoi import AOI
from geo.plot import (
    RGB_STRETCH,
    finish,
    footer,
    image_axis,
    image_extent,
    north_arrow,
    outline_zones,
    scale_bar,
    scene_label,
    source_text,
    time_index,
    true_colour,
)
from geo.review.closeups import (
    CLOSEUP_ZONES,
    closeup_aspect,
    draw_closeup,
    key_zones,
)
from geo.select import BeforeAfter

__all__ = ["before_after", "before_after_radar", "radar_pair", "zone_numbers",
           "RADAR_STRETCH_DB"]

log = logging.getLogger(__name__)

RADAR_STRETCH_DB = (-25.0, 5.0)
"""VV gamma nought (dB) shown as black and as white: smooth aprons (-15 to -20 dB) dark
grey, aircraft and buildings (0 dB and above) white."""


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
                 pair: BeforeAfter | None = None, objects: pd.DataFrame | None = None,
                 zones: Sequence[str] | None = None,
                 closeups: int = CLOSEUP_ZONES) -> Figure:
    """A true-colour pair with zone outlines, the change map, close-ups and per-zone numbers.

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
    objects
        Objects table of :func:`geo.activity.analyse`: the objects of the two dates are
        outlined in the close-ups and counted in their titles. None: no outlines.
    zones
        Zones shown close up (before and after side by side, at native pixels); default
        :func:`geo.review.closeups.key_zones` of ``objects`` and ``activity``. Pass the
        review's choice so every figure shows the same zones.
    closeups
        How many zones :func:`~geo.review.closeups.key_zones` chooses when ``zones`` is
        None; 0 for no close-ups.

    Examples
    --------
    >>> from geo.testing.review import toy_inputs
    >>> toy = toy_inputs(n_dates=4)
    >>> s = toy["stack"]
    >>> fig = before_after(s, toy["aoi"], s.time.values[0], s.time.values[-1],
    ...                    activity=toy["activity"], closeups=1)
    >>> len(fig.axes)  # the pair, one zone before and after, the table
    5
    """
    ib, ia = time_index(stack, before), time_index(stack, after)
    days = [pd.Timestamp(stack["time"].values[i]) for i in (ib, ia)]
    ids = [scene_label(stack, i) for i in (ib, ia)]
    n_img = 3 if change is not None else 2
    has_table = activity is not None and not activity.empty
    if zones is None:
        zones = key_zones(aoi, objects, activity, n=closeups, stack=stack)
    zones = list(zones)
    width = 5.0 * n_img + 0.6
    close_h = _closeup_height(aoi, zones, width)
    ratios = [5.4] + ([close_h] if zones else []) + ([2.6] if has_table else [])
    fig = plt.figure(figsize=(width, 6.2 + (close_h + 0.2 if zones else 0)
                              + (2.8 if has_table else 0)), dpi=150)
    grid = fig.add_gridspec(len(ratios), n_img, height_ratios=ratios, hspace=0.1, wspace=0.04)
    extent = image_extent(stack)
    for k, (i, day, sid) in enumerate(zip((ib, ia), days, ids, strict=True)):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(true_colour(stack.isel(time=i)), extent=extent, origin="upper",
                  interpolation="nearest")
        outline_zones(aoi, ax, linewidth=0.7)
        image_axis(ax, extent)
        ax.set_title(f"{'before' if k == 0 else 'after'}: {day:%d %b %Y}\n{sid}", fontsize=8.5)
        scale_bar(ax)
        north_arrow(ax)
    if change is not None:
        ax = fig.add_subplot(grid[0, 2])
        _change_panel(fig, ax, change, extent)
        outline_zones(aoi, ax, linewidth=0.7)
        image_axis(ax, extent)
        scale_bar(ax)
        north_arrow(ax)
    if zones:
        _closeup_row(fig, grid[1, :], stack, aoi, zones, days, objects)
    if has_table:
        assert activity is not None
        _numbers_table(fig.add_subplot(grid[-1, :]), zone_numbers(activity, days[0], days[1]),
                       days)
    height = fig.get_figheight()
    fig.suptitle(f"{site or aoi.name}: before and after, {days[0]:%d %b %Y} against {days[1]:%d %b %Y}",
                 fontsize=12, fontweight="bold", y=1 - 0.08 / height, va="top")
    if pair is not None:
        fig.text(0.5, 1 - 0.36 / height, f"The pair: {pair.where()}", ha="center", va="top",
                 fontsize=9.5, wrap=True)
    footer(fig, f"{source_text(source, synthetic)}. Scenes {ids[0]} and {ids[1]}. "
                 f"True colour B04/B03/B02, reflectance {RGB_STRETCH[0]:g}-{RGB_STRETCH[1]:g}, "
                 "same stretch for both. Outlines: zones of the AOI (see zones.png)."
                 + (_closeup_note(stack, objects) if zones else ""))
    top = 1 - (0.95 if pair is not None else 0.75) / height
    fig.subplots_adjust(left=0.02, right=0.95, top=top, bottom=0.55 / height)
    return finish(fig, out, synthetic)


def _closeup_height(aoi: AOI, zones: Sequence[str], width: float) -> float:
    """Height (inches) of the close-up row: its panels' width times the crops' aspect."""
    if not zones:
        return 0.0
    panel = 0.93 * width / (2 * len(zones))
    return float(min(panel * closeup_aspect(aoi, zones), 4.2) + 0.45)


def _closeup_row(fig: Figure, cell: Any, stack: Any, aoi: AOI, zones: Sequence[str],
                 days: Sequence[pd.Timestamp], objects: pd.DataFrame | None) -> None:
    """For each zone, the before and the after close-up side by side."""
    sub = cell.subgridspec(1, 2 * len(zones), wspace=0.06)
    for z, zone in enumerate(zones):
        for k, day in enumerate(days):
            ax = fig.add_subplot(sub[0, 2 * z + k])
            n = draw_closeup(ax, stack, aoi, zone, day, objects=objects)
            count = f": {n} object{'s' if n != 1 else ''}" if objects is not None else ""
            ax.set_title(f"{zone}\n{'before' if k == 0 else 'after'}, {day:%d %b %Y}{count}",
                         fontsize=7.5)


def _closeup_note(stack: Any, objects: pd.DataFrame | None) -> str:
    x = np.asarray(stack["x"].values, dtype=float)
    res = float(abs(x[1] - x[0])) if x.size > 1 else 10.0
    note = (f" Close-ups: key zones at the native {res:g} m pixels (nearest-neighbour, "
            "not resampled).")
    if objects is None:
        return note + " Detected objects not given: none outlined."
    return note + (" Cyan squares: aircraft-sized objects detected "
                   "(geo.activity), dashed on a flagged date; a number beside one: objects "
                   "it counts as.")


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


def radar_pair(radar: Any, before: Any, after: Any) -> tuple[int, int]:
    """Positions along ``time`` of the radar pair for an optical before/after pair.

    Both passes come from one relative orbit (the same viewing geometry, so a difference
    is a change on the ground, not of incidence); of the orbits with two distinct passes,
    the one whose passes are nearest the two dates (the larger of the two gaps smallest).

    Raises
    ------
    geo.errors.ReviewError
        The stack lacks ``relative_orbit`` or no orbit has two passes.

    Examples
    --------
    >>> import pandas as pd, xarray as xr
    >>> ds = xr.Dataset(coords={"time": pd.to_datetime(["2021-01-01", "2021-01-04",
    ...                                                "2021-06-01", "2021-06-05"]),
    ...                         "relative_orbit": ("time", [5, 85, 5, 85])})
    >>> radar_pair(ds, "2021-01-05", "2021-06-04")
    (1, 3)
    """
    if "relative_orbit" not in getattr(radar, "coords", {}):
        raise errors.ReviewError(
            "the radar stack has no relative_orbit coordinate: load Sentinel-1 items with "
            "geo.load (geo.search(..., sensor='s1')), which gives it")
    times = pd.DatetimeIndex(radar["time"].values)
    orbits = np.asarray(radar["relative_orbit"].values)
    wanted = [pd.Timestamp(before), pd.Timestamp(after)]
    best: tuple[float, int, int] | None = None
    for orbit in dict.fromkeys(orbits.tolist()):
        idx = np.flatnonzero(orbits == orbit)
        gaps = [np.abs((times[idx] - day).total_seconds().to_numpy()) for day in wanted]
        ib, ia = (int(idx[np.argmin(g)]) for g in gaps)
        cost = max(float(g.min()) for g in gaps)
        if ib != ia and (best is None or cost < best[0]):
            best = (cost, ib, ia)
    if best is None:
        raise errors.ReviewError(
            "no relative orbit of the radar stack has two passes: a radar pair needs two "
            "passes of one orbit; widen the period")
    return best[1], best[2]


def _radar_db(radar: Any, i: int, band: str = "vv") -> np.ndarray:
    return np.asarray(radar[band].isel(time=i).values, dtype="float32")


def _radar_counts(activity: pd.DataFrame | None, day: pd.Timestamp) -> str:
    """': 3 aircraft-sized objects on the aprons' of the radar table on ``day`` (or '')."""
    if activity is None or activity.empty or "objects" not in activity.columns:
        return ""
    rows = activity[(pd.to_datetime(activity["date"]).dt.normalize() == day.normalize())
                    & activity["kind"].isin(("apron", "revetment"))]
    if rows.empty or rows["objects"].isna().all():
        return ""
    n = int(rows["objects"].sum())
    return f"\n{n} radar object{'s' if n != 1 else ''} on the aprons"


def before_after_radar(radar: Any, aoi: AOI, before: Any, after: Any,
                       out: str | Path | None = None, *,
                       activity: pd.DataFrame | None = None, site: str = "",
                       source: str = "", synthetic: bool = False,
                       stretch: tuple[float, float] = RADAR_STRETCH_DB) -> Figure:
    """The Sentinel-1 pair beside the optical one: VV dB, grey, the same stretch for both.

    Parameters
    ----------
    radar
        Radar stack from :func:`geo.load` (``vv`` in dB; ``relative_orbit``,
        ``orbit_state``, ``item_id`` per time).
    aoi
        The area of interest (outlines).
    before, after
        The optical pair's dates: the radar passes of one orbit nearest them are shown
        (:func:`radar_pair`); titles say how far each lies from its optical date.
    out
        Where to save the PNG.
    activity
        The radar table of :func:`geo.sar_activity`: each pass's apron count in its title.
    site, source, synthetic
        Name in the title, data source in the footer, SYNTHETIC stamp.
    stretch
        dB shown as black and as white (default :data:`RADAR_STRETCH_DB`).

    Examples
    --------
    >>> from geo.testing.radar import make_radar_stack
    >>> from geo.testing.stacks import small_aoi
    >>> aoi = small_aoi()
    >>> ds = make_radar_stack(aoi, 8)
    >>> fig = before_after_radar(ds, aoi, ds.time.values[0], ds.time.values[-1])
    >>> len(fig.axes)  # the pair and the colour bar
    3
    """
    ib, ia = radar_pair(radar, before, after)
    times = pd.DatetimeIndex(radar["time"].values)
    extent = image_extent(radar)
    fig = plt.figure(figsize=(10.6, 6.4), dpi=150)
    grid = fig.add_gridspec(1, 2, wspace=0.04)
    image = None
    for k, (i, wanted) in enumerate(zip((ib, ia), (before, after), strict=True)):
        ax = fig.add_subplot(grid[0, k])
        image = ax.imshow(_radar_db(radar, i), extent=extent, origin="upper", cmap="gray",
                          vmin=stretch[0], vmax=stretch[1], interpolation="nearest")
        outline_zones(aoi, ax, linewidth=0.6)
        image_axis(ax, extent)
        scale_bar(ax)
        north_arrow(ax)
        ax.set_title(_radar_title(radar, i, k, pd.Timestamp(wanted))
                     + _radar_counts(activity, times[i]), fontsize=8)
    assert image is not None
    cbar = fig.colorbar(image, cax=fig.add_axes((0.935, 0.25, 0.012, 0.5)))
    cbar.set_label("VV gamma nought (dB)", fontsize=7)
    cbar.ax.tick_params(labelsize=6)
    fig.suptitle(f"{site or aoi.name}: radar before and after, {times[ib]:%d %b %Y} against "
                 f"{times[ia]:%d %b %Y}", fontsize=12, fontweight="bold", y=0.985, va="top")
    data = (f"Data: {source or 'Sentinel-1 RTC'} - SYNTHETIC, not real imagery (simulated "
            "Sentinel-1 RTC)" if synthetic else
            f"Data: {source or 'Sentinel-1 RTC'}; contains modified Copernicus Sentinel data")
    footer(fig, f"{data}. Passes {scene_label(radar, ib)} and {scene_label(radar, ia)}, one "
                f"relative orbit (same viewing geometry). VV backscatter, {stretch[0]:g} to "
                f"{stretch[1]:+g} dB, same stretch for both: smooth aprons are dark, aircraft "
                "and buildings bright. Outlines: zones of the AOI (see zones.png).")
    fig.subplots_adjust(left=0.02, right=0.92, top=0.86, bottom=0.1)
    return finish(fig, out, synthetic)


def _radar_title(radar: Any, i: int, k: int, wanted: pd.Timestamp) -> str:
    """'before: 04 Oct 2020, orbit 5 descending (2 days from the optical 02 Oct 2020)'."""
    day = pd.Timestamp(radar["time"].values[i])
    orbit = int(radar["relative_orbit"].values[i])
    state = str(radar["orbit_state"].values[i]) if "orbit_state" in radar.coords else ""
    gap = abs((day.normalize() - wanted.normalize()).days)
    return (f"{'before' if k == 0 else 'after'}: {day:%d %b %Y}, orbit {orbit} {state}".rstrip()
            + f"\n({gap} day{'s' if gap != 1 else ''} from the optical {wanted:%d %b %Y})")
