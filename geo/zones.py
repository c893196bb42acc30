"""Zones on a raster grid: which pixels of a stack belong to which zone.

Examples
--------
>>> import numpy as np, xarray as xr, geo
>>> aoi = geo.aoi.load("bagram")
>>> xmin, ymin, xmax, ymax = aoi.utm_bounds(margin=100)
>>> x = np.arange(xmin + 5, xmax, 10.0); y = np.arange(ymax - 5, ymin, -10.0)
>>> grid = xr.Dataset(coords={"x": x, "y": y})
>>> masks = zone_masks(aoi, grid)
>>> masks.sel(zone="apron_central").sum().item() > 1000
True
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from affine import Affine
from rasterio import features

from geo.aoi import AOI

__all__ = ["grid_transform", "zone_masks"]


def grid_transform(obj: xr.Dataset | xr.DataArray) -> Affine:
    """The affine transform of a regular (y, x) grid given by pixel-centre coordinates."""
    x = obj["x"].to_numpy()
    y = obj["y"].to_numpy()
    dx = float(x[1] - x[0]) if x.size > 1 else 10.0
    dy = float(y[1] - y[0]) if y.size > 1 else -10.0
    return Affine(dx, 0.0, float(x[0]) - dx / 2, 0.0, dy, float(y[0]) - dy / 2)


def zone_masks(
    aoi: AOI, grid: xr.Dataset | xr.DataArray, *, all_touched: bool = False
) -> xr.DataArray:
    """Boolean masks (zone, y, x) of every zone of an AOI on a stack's UTM grid.

    A pixel belongs to a zone when its centre lies inside the zone's polygon (or, with
    ``all_touched``, when the polygon touches it at all). The grid must be in the AOI's
    UTM CRS, as stacks from :func:`geo.load` are.

    Parameters
    ----------
    aoi
        The area of interest.
    grid
        Anything with 1-D ``x`` and ``y`` pixel-centre coordinates in metres.
    all_touched
        Include pixels the polygon merely touches.

    Returns
    -------
    xarray.DataArray
        ``bool`` with dims ``(zone, y, x)``; coordinates ``zone`` (name) and ``kind``.
    """
    transform = grid_transform(grid)
    shape = (grid["y"].size, grid["x"].size)
    utm = aoi.zones_utm()
    stack = np.zeros((len(utm), *shape), dtype=bool)
    for i, geom in enumerate(utm.geometry):
        stack[i] = features.rasterize(
            [(geom, 1)], out_shape=shape, transform=transform, fill=0,
            all_touched=all_touched, dtype="uint8",
        ).astype(bool)
    return xr.DataArray(
        stack,
        dims=("zone", "y", "x"),
        coords={"zone": utm["name"].to_numpy(), "kind": ("zone", utm["kind"].to_numpy()),
                "y": grid["y"], "x": grid["x"]},
        name="zone_mask",
    )
