"""``contact_sheet.png``: the selected images in a grid, each with its date, clear fraction
and activity."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
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

__all__ = ["contact_sheet", "selected_scenes"]

log = logging.getLogger(__name__)


def selected_scenes(scenes: pd.DataFrame) -> pd.DataFrame:
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
    sel = selected_scenes(scenes)
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
            outline_zones(aoi, ax, kinds=("perimeter",), linewidth=0.6)
        image_axis(ax, extent)
        sid = str(row["item_ids"]).split(";")[0] if "item_ids" in sel.columns else ""
        act = row.get("activity", np.nan)
        act_txt = f" · activity {act:.2f}" if pd.notna(act) else ""
        ax.set_title(f"{pd.Timestamp(row['date']):%d %b %Y} · {row['clear_fraction']:.0%} clear"
                     f"{act_txt}\n{_short_id(sid)}", fontsize=5.8, pad=2)
        key = str(row.get("key_date", "") or "")
        for spine in ax.spines.values():
            spine.set_edgecolor(SELECTED_COLOUR if key else "#999999")
            spine.set_linewidth(2.2 if key else 0.5)
        if key:
            ax.text(0.02, 0.03, key.split(";")[0], transform=ax.transAxes, fontsize=5,
                    color="white", va="bottom", ha="left", path_effects=[halo()])
    t0, t1 = pd.Timestamp(sel["date"].min()), pd.Timestamp(sel["date"].max())
    fig.suptitle(f"{site + ': ' if site else ''}the {len(sel)} selected images, "
                 f"{t0:%b %Y} to {t1:%b %Y}", fontsize=12, fontweight="bold", y=0.995)
    footer(fig, f"{source_text(source, synthetic)}. Each: date, clear fraction over key zones, "
                 "mean activity index of key zones, scene id. Orange frame: chosen for a key date. "
                 "Selection and reasons: scenes.csv.")
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.75 / fig.get_figheight(),
                        bottom=0.45 / fig.get_figheight(), wspace=0.04, hspace=0.22)
    return finish(fig, out, synthetic)


def _short_id(item_id: str, width: int = 38) -> str:
    return item_id if len(item_id) <= width else item_id[: width - 1] + "…"
