"""Drawing blocks shared by geo's figures: zone outlines, true-colour images, scale bars,
stamps, footers, and the AOI maps.

The review's figures (trend, before/after, contact sheet, timelapse) are in
:mod:`geo.review`; the comparison of sites in :mod:`geo.compare`. Every figure says where
its data came from; figures made from the synthetic scenario carry a SYNTHETIC stamp.
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
from geo.aoi import AOI

__all__ = [
    "KIND_COLOURS", "RGB_STRETCH", "EVENT_COLOUR", "CHANGE_COLOUR", "SELECTED_COLOUR",
    "zones_map", "aoi_map", "draw_zones", "outline_zones", "scale_bar", "north_arrow",
    "stamp", "image_extent", "time_index", "scene_label", "true_colour", "footer",
    "source_text", "halo", "finish", "save_figure", "image_axis",
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


RGB_STRETCH = (0.03, 0.30)
"""Reflectance mapped to black and white in true-colour images (one stretch for all dates,
so brightness can be compared between them)."""


_GAMMA = 1.0


_FOOTER_SIZE = 7


EVENT_COLOUR = "#555555"


CHANGE_COLOUR = "#c0392b"


SELECTED_COLOUR = "#e67e22"


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


def footer(fig: Figure, text: str) -> None:
    import textwrap

    width = int(fig.get_figwidth() * 72 / (_FOOTER_SIZE * 0.6))
    fig.text(0.01, 0.005, textwrap.fill(text, width), fontsize=_FOOTER_SIZE, color="#333333",
             ha="left", va="bottom", linespacing=1.3)


def source_text(source: str, synthetic: bool) -> str:
    if synthetic:
        return (f"Data: {source or 'the synthetic scenario'} - SYNTHETIC, not real imagery "
                "(simulated Sentinel-2 L2A)")
    return f"Data: {source or 'Sentinel-2 L2A'}; contains modified Copernicus Sentinel data"


def outline_zones(aoi: AOI, ax: Axes, *, kinds: Sequence[str] | None = None, linewidth: float = 0.8,
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
                        color="white", path_effects=[halo()])


def halo() -> Any:
    from matplotlib import patheffects

    return patheffects.withStroke(linewidth=1.5, foreground="black")


def finish(fig: Figure, out: str | Path | None, synthetic: bool) -> Figure:
    """Stamp SYNTHETIC if needed and save the figure (atomically, see :func:`save_figure`)."""
    if synthetic:
        stamp(fig)
    if out is not None:
        save_figure(fig, out)
    return fig


def save_figure(fig: Figure, out: str | Path, **kwargs: Any) -> Path:
    """Save a figure in the format its suffix names, through a temporary file.

    An interrupted run leaves no truncated figure that looks complete (the report embeds
    what it finds). ``kwargs`` go to ``savefig`` (default dpi: the figure's; white face).

    Examples
    --------
    >>> import tempfile
    >>> fig, ax = plt.subplots()
    >>> save_figure(fig, Path(tempfile.mkdtemp()) / "a.svg").suffix
    '.svg'
    """
    path = Path(out)
    tmp = path.with_name(path.name + ".tmp")
    options = {"dpi": fig.dpi, "facecolor": "white", **kwargs}
    try:
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", **options)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s", path)
    return path


def image_axis(ax: Axes, extent: tuple[float, float, float, float]) -> None:
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
    outline_zones(aoi, ax, linewidth=1.0, labels=True)
    image_axis(ax, extent)
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
    footer(fig, f"{source_text(source, synthetic)}. Zones: {aoi.path.name if aoi.path else aoi.name}"
                 f" ({approx} of {len(aoi.zones)} placed approximately by hand). "
                 f"True colour B04/B03/B02, reflectance {RGB_STRETCH[0]:g}-{RGB_STRETCH[1]:g}.")
    fig.tight_layout(rect=(0, 0.03, 1, 0.98))
    return finish(fig, out, synthetic)
