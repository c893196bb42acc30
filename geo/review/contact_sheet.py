"""``contact_sheet.png``: the selected images in a grid, each with its date, clear fraction
and activity, and close-ups of the key zones under it."""

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
    SELECTED_COLOUR,
    finish,
    footer,
    halo,
    image_axis,
    image_extent,
    outline_zones,
    source_text,
    time_index,
    true_colour,
)
from geo.review.closeups import (
    CLOSEUP_ZONES,
    OBJECT_COLOUR,
    closeup_aspect,
    crop,
    draw_closeup,
    key_zones,
    zone_box,
)

__all__ = ["contact_sheet", "selected_scenes"]

log = logging.getLogger(__name__)


def selected_scenes(scenes: pd.DataFrame) -> pd.DataFrame:
    sel = scenes[scenes["selected"].astype(bool)] if "selected" in scenes.columns else scenes
    if sel.empty:
        raise errors.ReviewError("no selected scenes to draw: run geo.select_scenes first")
    return sel.sort_values("date").reset_index(drop=True)


def contact_sheet(stack: Any, scenes: pd.DataFrame, out: str | Path | None = None, *,
                  aoi: AOI | None = None, ncols: int = 6, site: str = "", source: str = "",
                  synthetic: bool = False, objects: pd.DataFrame | None = None,
                  activity: pd.DataFrame | None = None, zones: Sequence[str] | None = None,
                  closeups: int = CLOSEUP_ZONES) -> Figure:
    """The selected images in a grid, each with its date, scene id, clear fraction, activity.

    Images chosen for a key date get an orange frame and the event's name. Under each
    image, close-ups of the key zones at native pixels, the objects detected that day
    outlined and counted.

    Parameters
    ----------
    stack
        Dataset from :func:`geo.load` with ``red``, ``green``, ``blue``.
    scenes
        Table from :func:`geo.select_scenes` (its selected rows are drawn, in date order).
    out
        Where to save the PNG.
    aoi
        Draw the perimeter on each image (and the key zones, which need it).
    ncols
        Images per row.
    site, source, synthetic
        Title, data source in the footer, SYNTHETIC stamp.
    objects
        Objects table of :func:`geo.activity.analyse`: outlined in the close-ups, their
        number in each close-up's title. None: no outlines.
    activity
        Activity table, to choose the key zones when ``zones`` is None.
    zones
        Zones shown close up; default :func:`geo.review.closeups.key_zones`. Pass the
        review's choice so every figure shows the same zones.
    closeups
        How many zones are chosen when ``zones`` is None; 0 for none (the sheet as before).

    Examples
    --------
    >>> from geo.testing.review import toy_inputs
    >>> from geo.select import select_scenes
    >>> toy = toy_inputs(n_dates=4)
    >>> sel = select_scenes(toy["clear"], n=2)
    >>> fig = contact_sheet(toy["stack"], sel, aoi=toy["aoi"], closeups=1)
    >>> len(fig.axes)  # each image and its close-up
    4
    """
    sel = selected_scenes(scenes)
    if zones is None:
        zones = key_zones(aoi, objects, activity, n=closeups, stack=stack) if aoi else []
    zones = list(zones)
    if zones and aoi is None:
        raise errors.ReviewError("close-ups of zones need the AOI: pass aoi= (or zones=[])")
    nrows = int(np.ceil(len(sel) / ncols))
    ncols = min(ncols, len(sel))
    close_h = _closeup_height(aoi, zones) if aoi is not None else 0.0
    fig = plt.figure(figsize=(2.3 * ncols, (2.55 + close_h) * nrows + 1.0), dpi=150)
    grid = fig.add_gridspec(nrows, ncols, wspace=0.04, hspace=0.22 if not zones else 0.12)
    idx = [time_index(stack, d) for d in sel["date"]]
    rgb = stack[["red", "green", "blue"]].isel(time=idx).compute()
    parts = {zone: crop(rgb, aoi, zone) for zone in zones} if aoi is not None else {}
    for k in range(len(sel)):
        cell = grid[k // ncols, k % ncols]
        sub = (cell.subgridspec(2, len(zones), height_ratios=[2.3, close_h - 0.25],
                                hspace=0.1, wspace=0.04) if zones else None)
        ax = fig.add_subplot(sub[0, :] if sub is not None else cell)
        row = sel.iloc[k]
        view = _overview(rgb.isel(time=k), _OVERVIEW_BLOCK if zones else 1)
        extent = image_extent(view)
        ax.imshow(true_colour(view), extent=extent, origin="upper", interpolation="nearest")
        if aoi is not None:
            outline_zones(aoi, ax, kinds=("perimeter",), linewidth=0.6)
            _mark_zones(ax, aoi, zones)
        image_axis(ax, extent)
        _frame(ax, sel, row)
        if sub is not None:
            assert aoi is not None
            day = pd.Timestamp(stack["time"].values[idx[k]])
            for z, zone in enumerate(zones):
                _closeup(fig.add_subplot(sub[1, z]), parts[zone], aoi, zone, z, day, objects)
    t0, t1 = pd.Timestamp(sel["date"].min()), pd.Timestamp(sel["date"].max())
    fig.suptitle(f"{site + ': ' if site else ''}the {len(sel)} selected images, "
                 f"{t0:%b %Y} to {t1:%b %Y}", fontsize=12, fontweight="bold", y=0.995)
    footer(fig, f"{source_text(source, synthetic)}. Each: date, clear fraction over key zones, "
                 "mean activity index of key zones, scene id. Orange frame: chosen for a key date. "
                 "Selection and reasons: scenes.csv." + _closeup_note(stack, zones, objects))
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.75 / fig.get_figheight(),
                        bottom=0.6 / fig.get_figheight())
    return finish(fig, out, synthetic)


_OVERVIEW_BLOCK = 3
"""With close-ups, each whole image is drawn as means of blocks of this many pixels a side
(near what its 2.3 inches show anyway: the close-ups carry the detail, and the 30-image
sheet of the five-year demo shrinks from 8.8 to 5.5 MB)."""


def _overview(scene: Any, block: int) -> Any:
    """A scene as means of ``block`` x ``block`` pixels (itself when ``block`` is 1)."""
    if block <= 1:
        return scene
    return scene.coarsen(x=block, y=block, boundary="trim").mean()


def _frame(ax: Axes, sel: pd.DataFrame, row: pd.Series) -> None:
    """Title (date, clear, activity, scene id) and the key-date frame of one image."""
    sid = str(row["item_ids"]).split(";")[0] if "item_ids" in sel.columns else ""
    act = row.get("activity", np.nan)
    act_txt = f" · activity {act:.2f}" if pd.notna(act) else ""
    ax.set_title(f"{pd.Timestamp(row['date']):%d %b %Y} · {row['clear_fraction']:.0%} clear"
                 f"{act_txt}\n{_short_id(sid)}", fontsize=5.8, pad=2)
    key = row.get("key_date", "")
    key = str(key) if pd.notna(key) and key else ""
    for spine in ax.spines.values():
        spine.set_edgecolor(SELECTED_COLOUR if key else "#999999")
        spine.set_linewidth(2.2 if key else 0.5)
    if key:
        ax.text(0.02, 0.03, key.split(";")[0], transform=ax.transAxes, fontsize=5,
                color="white", va="bottom", ha="left", path_effects=[halo()])


def _mark_zones(ax: Axes, aoi: AOI, zones: Sequence[str]) -> None:
    """Box and number the close-up zones on the whole image."""
    for z, zone in enumerate(zones):
        xmin, ymin, xmax, ymax = zone_box(aoi, zone)
        ax.plot([xmin, xmax, xmax, xmin, xmin], [ymin, ymin, ymax, ymax, ymin],
                color=OBJECT_COLOUR, linewidth=0.6)
        ax.text(xmin, ymax, str(z + 1), color=OBJECT_COLOUR, fontsize=5, ha="right",
                va="bottom", path_effects=[halo()])


def _closeup(ax: Axes, stack: Any, aoi: AOI, zone: str, z: int, day: pd.Timestamp,
             objects: pd.DataFrame | None) -> None:
    n = draw_closeup(ax, stack, aoi, zone, day, objects=objects, fontsize=4.5)
    count = f" · {n} obj." if objects is not None else ""
    ax.set_title(f"{z + 1} {_short_id(zone, 18)}{count}", fontsize=4.8, pad=1.5)
    for spine in ax.spines.values():
        spine.set_linewidth(0.4)


def _closeup_height(aoi: AOI, zones: Sequence[str]) -> float:
    """Height (inches) of a cell's close-ups under its 2.3-inch image."""
    if not zones:
        return 0.0
    return float(2.3 / len(zones) * closeup_aspect(aoi, zones) + 0.3)


def _closeup_note(stack: Any, zones: Sequence[str], objects: pd.DataFrame | None) -> str:
    if not zones:
        return ""
    x = np.asarray(stack["x"].values, dtype=float)
    res = float(abs(x[1] - x[0])) if x.size > 1 else 10.0
    note = (f" Whole images drawn as means of {_OVERVIEW_BLOCK} x {_OVERVIEW_BLOCK} pixels "
            f"({_OVERVIEW_BLOCK * res:g} m); under each, the key zones (cyan boxes, numbered) "
            f"at the native {res:g} m pixels, nearest-neighbour, not resampled.")
    if objects is None:
        return note + " Detected objects not given: none outlined."
    return note + (" Cyan squares: aircraft-sized objects detected that day (geo.activity), "
                   "dashed on a flagged date; 'obj.': their number.")


def _short_id(item_id: str, width: int = 38) -> str:
    return item_id if len(item_id) <= width else item_id[: width - 1] + "…"
