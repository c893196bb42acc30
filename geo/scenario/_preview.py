"""A figure of a few dates of a scenario (true colour and SCL), for a person to judge.

Examples
--------
>>> fig = preview("/tmp/scenario", out="/tmp/scenario_preview.png")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

__all__ = ["preview", "SCL_COLOURS", "SCL_NAMES", "reflectance"]

SCL_NAMES = ["no data", "saturated", "dark", "cloud shadow", "vegetation", "not vegetated",
             "water", "unclassified", "cloud medium", "cloud high", "thin cirrus", "snow"]
SCL_COLOURS = ["#000000", "#ff0000", "#2f2f2f", "#643200", "#00a000", "#ffe65a",
               "#0000ff", "#808080", "#c0c0c0", "#ffffff", "#64c8ff", "#ff96ff"]
"""ESA's colours for the scene classification classes 0-11."""


def _items(folder: Path) -> list[dict[str, Any]]:
    """The scenario's Sentinel-2 items (a preview is true colour: radar items are left out)."""
    with (folder / "items.ndjson").open(encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    return [i for i in items if i.get("collection") != "sentinel-1-rtc"]


def reflectance(dn: np.ndarray, props: dict[str, Any]) -> np.ndarray:
    """Reflectance from stored DNs by the Earth Search / Planetary Computer rules.

    Examples
    --------
    >>> reflectance(np.array([2000]), {"s2:processing_baseline": "04.00",
    ...                                "earthsearch:boa_offset_applied": False})
    array([0.1])
    """
    baseline = str(props.get("s2:processing_baseline", "00.00"))
    applied = bool(props.get("earthsearch:boa_offset_applied", False))
    offset = 1000.0 if baseline >= "04.00" and not applied else 0.0
    out = (dn.astype(np.float64) - offset) / 10000.0
    return np.where(dn == 0, np.nan, out)


def _pick(items: list[dict[str, Any]], dates: list[str | date] | None) -> list[dict[str, Any]]:
    firsts = [it for it in items if not it["id"].endswith("_1_L2A")]
    if dates:
        wanted = [str(d)[:10] for d in dates]
        chosen = []
        for w in wanted:
            near = min(firsts, key=lambda it: abs(
                date.fromisoformat(it["properties"]["datetime"][:10]).toordinal()
                - date.fromisoformat(w).toordinal()))
            chosen.append(near)
        return chosen
    targets = ["2020-10-05", "2021-01-20", "2022-07-24", "2025-04-25"]
    return _pick(items, list(targets)) if firsts else []


def _asset_path(folder: Path, item: dict[str, Any], keys: tuple[str, ...]) -> Path:
    for k in keys:
        if k in item["assets"]:
            return folder / item["assets"][k]["href"].removeprefix("./")
    raise KeyError(f"item {item['id']} has none of the assets {keys}")


def _true_colour(folder: Path, item: dict[str, Any]) -> np.ndarray:
    bands = []
    for keys in (("red", "B04"), ("green", "B03"), ("blue", "B02")):
        with rasterio.open(_asset_path(folder, item, keys)) as src:
            bands.append(reflectance(src.read(1), item["properties"]))
    rgb = np.stack(bands, -1)
    # a fixed stretch (not per image), so dates compare: 0..0.33 reflectance, mild gamma
    return np.clip(np.nan_to_num(rgb / 0.33), 0, 1) ** (1 / 1.25)


def preview(folder: str | Path, dates: list[str | date] | None = None,
            out: str | Path | None = None) -> Figure:
    """True colour and SCL of a few dates of a scenario, stamped SYNTHETIC.

    Parameters
    ----------
    folder
        A scenario folder (:func:`geo.scenario.build`).
    dates
        Dates to show (the nearest item of each); default four telling dates (busy 2020,
        winter 2021, the car events of 2022 and 2025).
    out
        Where to save the PNG (nothing saved if None).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = preview("/tmp/scenario", ["2020-10-02"])  # doctest: +SKIP
    """
    from geo.plot import stamp

    folder = Path(folder)
    chosen = _pick(_items(folder), dates)
    n = max(len(chosen), 1)
    fig = Figure(figsize=(4.2 * n, 8.6), dpi=150)
    axes = fig.subplots(2, n, squeeze=False)
    cmap = ListedColormap(SCL_COLOURS)
    for k, item in enumerate(chosen):
        p = item["properties"]
        with rasterio.open(_asset_path(folder, item, ("scl", "SCL"))) as src:
            scl = src.read(1)
            extent = (src.bounds.left, src.bounds.right, src.bounds.bottom, src.bounds.top)
        axes[0, k].imshow(_true_colour(folder, item), extent=extent, interpolation="nearest")
        axes[0, k].set_title(f"{p['datetime'][:10]}  {item['id']}\n"
                             f"cloud cover (tile) {p['eo:cloud_cover']:.0f} %, baseline "
                             f"{p.get('s2:processing_baseline')}", fontsize=7)
        axes[1, k].imshow(scl, cmap=cmap, vmin=-0.5, vmax=11.5, extent=extent,
                          interpolation="nearest")
        axes[1, k].set_title("scene classification (SCL, 20 m)", fontsize=7)
        for ax in axes[:, k]:
            ax.set_xticks([])
            ax.set_yticks([])
    present = range(12)
    fig.legend(handles=[Patch(color=SCL_COLOURS[c], label=f"{c} {SCL_NAMES[c]}")
                        for c in present], loc="lower center", ncol=6, fontsize=7,
               frameon=False)
    fig.suptitle("Synthetic Sentinel-2 L2A scenario (geo.scenario): true colour (B04/B03/B02, "
                 "0-0.33 reflectance) and SCL", fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.08, wspace=0.04, hspace=0.12)
    stamp(fig)
    if out is not None:
        fig.savefig(out)
    return fig
