"""Close-ups of the key zones at native pixels, with the detected objects outlined.

The whole perimeter of an airfield is kilometres across: drawn in a figure, its 10 m
pixels are too small to show an aircraft. The close-ups crop the stack around a few key
zones (aprons first), draw the crop pixel for pixel (nearest-neighbour, the image's
extent on the pixel edges, nothing resampled) with the stretch of the other figures, and
outline each object :func:`geo.activity.analyse` found there on that date.

The zones are chosen once per review (:func:`key_zones`) and passed to every figure, so
the contact sheet and the before/after figure show the same places.

Examples
--------
>>> from geo.testing.review import toy_inputs
>>> toy = toy_inputs(n_dates=2)
>>> zones = key_zones(toy["aoi"], activity=toy["activity"], n=2)
>>> [toy["aoi"].zones.set_index("name").loc[z, "kind"] for z in zones]
['apron', 'apron']
>>> crop(toy["stack"], toy["aoi"], zones[0]).sizes["time"]
2
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from geo import errors
from geo.aoi import AOI
from geo.plot import (
    KIND_COLOURS,
    halo,
    image_axis,
    image_extent,
    scale_bar,
    time_index,
    true_colour,
)

__all__ = ["CLOSEUP_KINDS", "CLOSEUP_ZONES", "MARGIN_M", "OBJECT_COLOUR", "key_zones",
           "zone_box", "crop", "objects_on", "draw_closeup", "bar_length", "object_count", "closeup_aspect"]

log = logging.getLogger(__name__)

CLOSEUP_KINDS: tuple[str, ...] = ("apron", "revetment", "parking", "yard")
"""Kinds of zone shown close up, in order of preference (aircraft stand on the first two)."""

CLOSEUP_ZONES = 2
"""How many key zones the figures show close up by default."""

MARGIN_M = 60.0
"""Ground (metres) shown around a zone's bounds in its close-up."""

OBJECT_COLOUR = "#00e5ff"
"""Outline of detected objects: cyan, which no zone outline and little ground is."""


def key_zones(aoi: AOI, objects: pd.DataFrame | None = None,
              activity: pd.DataFrame | None = None, *, n: int = CLOSEUP_ZONES,
              stack: Any = None) -> list[str]:
    """The zones to show close up: aprons first, the busiest of each kind first.

    Zones are ranked by kind (:data:`CLOSEUP_KINDS`), then by the objects detected in
    them over all dates, then by their mean activity index, then by area, then by name,
    so the same inputs always give the same zones.

    Parameters
    ----------
    aoi
        The area of interest.
    objects
        Objects table of :func:`geo.activity.analyse` (``zone`` and ``count`` columns).
    activity
        Activity table (``zone``, ``activity_index``; flagged rows are left out).
    n
        At most this many zones.
    stack
        If given, only zones that lie within its grid are chosen.

    Returns
    -------
    list of str
        Zone names, best first; empty when the AOI has no zone of those kinds.

    Examples
    --------
    >>> import geo
    >>> key_zones(geo.aoi.load("bagram"), n=2)
    ['dispersal_west', 'apron_central']
    """
    if n < 0:
        raise errors.ReviewError(f"n={n} close-up zones: give 0 (none) or more")
    utm = aoi.zones_utm()
    utm = utm[utm["kind"].isin(CLOSEUP_KINDS)]
    if stack is not None:
        left, right, bottom, top = image_extent(stack)
        b = utm.geometry.bounds
        utm = utm[(b.minx >= left) & (b.maxx <= right) & (b.miny >= bottom) & (b.maxy <= top)]
    table = pd.DataFrame({
        "name": utm["name"].astype(str).to_numpy(),
        "rank": [CLOSEUP_KINDS.index(k) for k in utm["kind"]],
        "objects": _per_zone(objects, "count", "sum", utm["name"]),
        "activity": _per_zone(_usable(activity), "activity_index", "mean", utm["name"]),
        "area": utm.geometry.area.to_numpy(),
    })
    table = table.sort_values(["rank", "objects", "activity", "area", "name"],
                              ascending=[True, False, False, False, True])
    return table["name"].head(n).tolist()


def _usable(activity: pd.DataFrame | None) -> pd.DataFrame | None:
    if activity is None or "flagged" not in activity.columns:
        return activity
    return activity[~activity["flagged"].astype(bool)]


def _per_zone(table: pd.DataFrame | None, column: str, how: str, names: Any) -> np.ndarray:
    """``how`` of ``column`` per zone of ``names`` (0 where the table says nothing)."""
    if table is None or table.empty or column not in table.columns:
        return np.zeros(len(names))
    values = pd.to_numeric(table[column], errors="coerce")
    per = values.groupby(table["zone"].astype(str)).agg(how)
    return per.reindex(list(names)).fillna(0.0).to_numpy(dtype=float)


def zone_box(aoi: AOI, zone: str, margin: float = MARGIN_M) -> tuple[float, float, float, float]:
    """A zone's bounds in the AOI's UTM CRS (metres), grown by ``margin``.

    Examples
    --------
    >>> import geo
    >>> xmin, ymin, xmax, ymax = zone_box(geo.aoi.load("bagram"), "apron_central", 0)
    >>> 400 < xmax - xmin < 700
    True
    """
    utm = aoi.zones_utm()
    hit = utm[utm["name"] == zone]
    if hit.empty:
        raise errors.ReviewError(
            f"AOI {aoi.name!r} has no zone {zone!r} to show close up: choose one of "
            f"{', '.join(map(str, utm['name']))} (or let key_zones choose)")
    xmin, ymin, xmax, ymax = hit.geometry.iloc[0].bounds
    return (xmin - margin, ymin - margin, xmax + margin, ymax + margin)


def crop(stack: Any, aoi: AOI, zone: str, margin: float = MARGIN_M) -> Any:
    """The stack's pixels around a zone: whole pixels, none resampled.

    Keeps every pixel whose centre lies in the zone's bounds grown by ``margin`` metres
    (:func:`zone_box`), by position along ``x`` and ``y``, so its values are the stack's.

    Examples
    --------
    >>> from geo.testing.review import toy_stack
    >>> import geo
    >>> s = toy_stack(n_dates=1, resolution=10.0)
    >>> c = crop(s, geo.aoi.load("bagram"), "apron_central")
    >>> bool((c["red"].values == s["red"].sel(x=c.x, y=c.y).values).all())
    True
    """
    xmin, ymin, xmax, ymax = zone_box(aoi, zone, margin)
    x = np.asarray(stack["x"].values, dtype=float)
    y = np.asarray(stack["y"].values, dtype=float)
    cols = np.flatnonzero((x >= xmin) & (x <= xmax))
    rows = np.flatnonzero((y >= ymin) & (y <= ymax))
    if cols.size == 0 or rows.size == 0:
        raise errors.ReviewError(
            f"zone {zone!r} lies outside the stack's grid ({image_extent(stack)}): load the "
            "stack over the whole AOI, or choose zones with key_zones(..., stack=stack)")
    return stack.isel(x=slice(cols[0], cols[-1] + 1), y=slice(rows[0], rows[-1] + 1))


def objects_on(objects: pd.DataFrame | None, day: Any, zone: str) -> pd.DataFrame:
    """The objects detected in ``zone`` on the day of ``day`` (an empty table if none).

    Examples
    --------
    >>> import pandas as pd
    >>> objs = pd.DataFrame({"date": ["2021-01-01T06:00", "2021-01-06T06:00"],
    ...                      "zone": "a", "x": 0.0, "y": 0.0, "count": [1, 2]})
    >>> objects_on(objs, "2021-01-06", "a")["count"].tolist()
    [2]
    """
    if objects is None or objects.empty:
        return pd.DataFrame(columns=["date", "zone", "x", "y", "length_m", "count", "flagged"])
    dates = pd.to_datetime(objects["date"], utc=True, format="mixed").dt.tz_convert(None)
    target = pd.Timestamp(day)
    if target.tz is not None:
        target = target.tz_convert(None)
    keep = (dates.dt.normalize() == target.normalize()) & (objects["zone"].astype(str) == zone)
    return objects[keep.to_numpy()]


def object_count(found: pd.DataFrame) -> int:
    """Aircraft-sized objects in a table from :func:`objects_on` (the sum of ``count``).

    Examples
    --------
    >>> import pandas as pd
    >>> object_count(pd.DataFrame({"count": [1, 3]}))
    4
    """
    if found.empty:
        return 0
    if "count" not in found.columns:
        return len(found)
    return int(pd.to_numeric(found["count"], errors="coerce").fillna(1).sum())


def bar_length(width_m: float) -> float:
    """A round scale-bar length (metres) about a quarter of a close-up's width.

    Examples
    --------
    >>> bar_length(700), bar_length(250), bar_length(5000)
    (100, 50, 1000)
    """
    steps = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    return max([s for s in steps if s <= width_m / 4] or [steps[0]])


def draw_closeup(ax: Axes, stack: Any, aoi: AOI, zone: str, date: Any, *,
                 objects: pd.DataFrame | None = None, margin: float = MARGIN_M,
                 fontsize: float = 7, bar: bool = True) -> int:
    """Draw one zone on one date at native pixels, its outline and its objects.

    Parameters
    ----------
    ax
        Axis to draw on (its limits become the crop's pixel edges).
    stack
        Dataset with ``red``, ``green``, ``blue`` and ``time`` (UTM ``x``/``y``).
    aoi, zone
        The AOI and the zone's name.
    date
        Which scene (:func:`geo.plot.time_index`: that day, else the nearest).
    objects
        Objects table of :func:`geo.activity.analyse`; those of this day and zone are
        outlined (a square of side ``max(length_m, 2 pixels)``, dashed on a flagged
        date, with the count beside it when above 1). None draws no outlines.
    margin
        Ground around the zone's bounds (metres).
    fontsize
        Size of the count labels and the scale bar.
    bar
        Draw a scale bar in metres.

    Returns
    -------
    int
        Aircraft-sized objects outlined (the sum of their ``count``).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from geo.testing.review import toy_inputs
    >>> toy = toy_inputs(n_dates=2)
    >>> fig, ax = plt.subplots()
    >>> draw_closeup(ax, toy["stack"], toy["aoi"], "apron_central", toy["stack"].time.values[0])
    0
    >>> ax.images[0].get_interpolation()
    'nearest'
    >>> plt.close(fig)
    """
    part = crop(stack, aoi, zone, margin)
    i = time_index(part, date) if "time" in part.dims else None
    scene = part.isel(time=i) if i is not None else part
    extent = image_extent(part)
    ax.imshow(true_colour(scene), extent=extent, origin="upper", interpolation="nearest",
              resample=False)
    _outline_zone(ax, aoi, zone)
    res = float(abs(extent[1] - extent[0]) / max(part.sizes["x"], 1))
    day = pd.Timestamp(part["time"].values[i]) if i is not None else pd.Timestamp(date)
    found = objects_on(objects, day, zone)
    for obj in found.itertuples():
        _outline_object(ax, obj, res, fontsize)
    image_axis(ax, extent)
    if bar:
        scale_bar(ax, bar_length(extent[1] - extent[0]))
        for text in ax.texts[-1:]:
            text.set_fontsize(fontsize)
            text.set_color("white")
            text.set_path_effects([halo()])
    return object_count(found)


def _outline_zone(ax: Axes, aoi: AOI, zone: str) -> None:
    utm = aoi.zones_utm()
    row = utm[utm["name"] == zone].iloc[0]
    colour = KIND_COLOURS.get(str(row["kind"]), "white")
    for g in getattr(row.geometry, "geoms", [row.geometry]):
        xs, ys = g.exterior.xy
        ax.plot(xs, ys, color="black", linewidth=1.6, alpha=0.6)
        ax.plot(xs, ys, color=colour, linewidth=0.9)


def _outline_object(ax: Axes, obj: Any, res: float, fontsize: float) -> None:
    length = getattr(obj, "length_m", np.nan)
    side = max(float(length) if pd.notna(length) else 0.0, 2 * res)
    flagged = bool(getattr(obj, "flagged", False) is True)
    square = Rectangle((float(obj.x) - side / 2, float(obj.y) - side / 2), side, side,
                       fill=False, edgecolor=OBJECT_COLOUR, linewidth=1.0,
                       linestyle="--" if flagged else "-", gid="object")
    ax.add_patch(square)
    count = getattr(obj, "count", 1)
    if pd.notna(count) and int(count) > 1:
        ax.text(float(obj.x) + side / 2, float(obj.y) + side / 2, f"{int(count)}",
                color=OBJECT_COLOUR, fontsize=fontsize, ha="left", va="bottom",
                path_effects=[halo()])


def closeup_aspect(aoi: AOI, zones: Sequence[str], margin: float = MARGIN_M) -> float:
    """The tallest height/width ratio among the zones' close-ups (1.0 for none).

    Examples
    --------
    >>> import geo
    >>> 1.0 < closeup_aspect(geo.aoi.load("bagram"), ["apron_central"]) < 1.5
    True
    """
    ratios = []
    for zone in zones:
        xmin, ymin, xmax, ymax = zone_box(aoi, zone, margin)
        ratios.append((ymax - ymin) / max(xmax - xmin, 1e-9))
    return max(ratios, default=1.0)
