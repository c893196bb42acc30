"""Figures: maps of zones, and (with the review) trends, before/after pairs, contact sheets.

Every figure says where its data came from; figures made from the synthetic scenario
carry a SYNTHETIC stamp.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from geo.aoi import AOI

__all__ = ["KIND_COLOURS", "zones_map", "draw_zones", "scale_bar", "north_arrow", "stamp"]

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
