"""The Sentinel-2 grid: MGRS tiles, UTM zones and 10 m pixel alignment.

Sentinel-2 L2A products are cut into 109.8 x 109.8 km tiles named after the MGRS 100 km
square whose upper-left corner they share (e.g. ``42SWD``), in that square's UTM zone.
Pixels of every band sit on multiples of 60 m from that corner, so any grid aligned to
multiples of 10 m (or 20 m, 60 m) in the tile's UTM CRS lines up with the imagery and
nothing needs resampling.

Examples
--------
>>> utm_epsg(69.265, 34.946)
32642
>>> s2_tiles((69.25, 34.93, 69.28, 34.96))
['42SWD']
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import mgrs
from mgrs.core import MGRSError
from pyproj import CRS, Transformer

__all__ = ["TILE_SIZE_M", "S2Tile", "utm_epsg", "s2_tile", "s2_tiles", "align_bounds"]

TILE_SIZE_M = 109_800
"""Side of a Sentinel-2 tile in metres (10980 pixels of 10 m)."""

_MGRS = mgrs.MGRS()


@dataclass(frozen=True)
class S2Tile:
    """One Sentinel-2 tile: its MGRS name, UTM CRS and upper-left corner.

    Examples
    --------
    >>> t = s2_tile("42SWD")
    >>> t.epsg, t.x0, t.y1
    (32642, 500000.0, 3900000.0)
    """

    name: str
    epsg: int
    x0: float
    y1: float

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in the tile's UTM CRS."""
        return (self.x0, self.y1 - TILE_SIZE_M, self.x0 + TILE_SIZE_M, self.y1)

    @property
    def utm_zone(self) -> int:
        return int(self.name[:2])

    @property
    def latitude_band(self) -> str:
        return self.name[2]

    @property
    def grid_square(self) -> str:
        return self.name[3:5]

    def contains(self, x: float, y: float) -> bool:
        """Whether the UTM point (in this tile's CRS) lies inside the tile."""
        xmin, ymin, xmax, ymax = self.bounds
        return xmin <= x <= xmax and ymin <= y <= ymax


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone holding a lon/lat point.

    Uses the plain 6-degree zones (Sentinel-2 does not apply the Norway/Svalbard
    exceptions to its tiling CRS choice for most tiles, and sites there are rare).
    """
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def s2_tile(name: str) -> S2Tile:
    """Describe a Sentinel-2 tile from its MGRS name (``"42SWD"`` or ``"T42SWD"``)."""
    name = name.upper().removeprefix("T")
    if len(name) != 5 or not name[:2].isdigit():
        raise ValueError(f"{name!r} is not an MGRS tile name like '42SWD'")
    with warnings.catch_warnings():  # the square's SW corner may lie outside its band
        warnings.simplefilter("ignore", RuntimeWarning)
        zone, hemi, x0, y0 = _MGRS.MGRSToUTM(name + "0000000000")
    epsg = (32600 if hemi == "N" else 32700) + int(zone)
    x0 = math.floor(float(x0) / 100_000.0) * 100_000.0
    y0 = math.floor(float(y0) / 100_000.0) * 100_000.0
    return S2Tile(name=name, epsg=epsg, x0=x0, y1=y0 + 100_000.0)


def _candidate_tiles(lon: float, lat: float) -> set[str]:
    """Tiles whose squares hold the point or lie just west/north of it.

    A tile reaches 9.8 km beyond its square to the east and south, so a point can
    belong to the square west or north of its own.
    """
    names: set[str] = set()
    epsg = utm_epsg(lon, lat)
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    x, y = to_utm.transform(lon, lat)
    for dx, dy in ((0, 0), (-9_800, 0), (0, 9_800), (-9_800, 9_800)):
        plon, plat = to_ll.transform(x + dx, y + dy)
        names.add(_MGRS.toMGRS(plat, plon, MGRSPrecision=0))
    return names


def s2_tiles(bounds: tuple[float, float, float, float]) -> list[str]:
    """Sentinel-2 tiles that wholly contain a lon/lat box, best first.

    Parameters
    ----------
    bounds
        ``(west, south, east, north)`` in degrees.

    Returns
    -------
    list of str
        Tile names containing the whole box, nearest to the box centre's own UTM
        zone first; if no single tile contains it, the tiles covering any corner.

    Examples
    --------
    >>> s2_tiles((69.25, 34.93, 69.28, 34.96))
    ['42SWD']
    """
    west, south, east, north = bounds
    corners = [(west, south), (west, north), (east, south), (east, north)]
    candidates: set[str] = set()
    for lon, lat in corners:
        candidates |= _candidate_tiles(lon, lat)
    covering: dict[str, int] = {}
    for name in sorted(candidates):
        try:
            tile = s2_tile(name)
        except MGRSError:  # a name for a point on the equator that mgrs cannot map back
            continue
        to_utm = Transformer.from_crs(4326, tile.epsg, always_xy=True)
        inside = sum(tile.contains(*to_utm.transform(lon, lat)) for lon, lat in corners)
        if inside:
            covering[name] = inside
    home = utm_epsg((west + east) / 2, (south + north) / 2)
    full = [n for n, k in covering.items() if k == 4]
    chosen = full or list(covering)
    return sorted(chosen, key=lambda n: (s2_tile(n).epsg != home, n))


def align_bounds(
    bounds: tuple[float, float, float, float], resolution: float = 60.0
) -> tuple[float, float, float, float]:
    """Grow UTM bounds outward to multiples of ``resolution`` (the S2 pixel lattice).

    Examples
    --------
    >>> align_bounds((524_003.0, 3_866_011.0, 525_001.0, 3_867_999.0))
    (523980.0, 3865980.0, 525060.0, 3868020.0)
    """
    xmin, ymin, xmax, ymax = bounds
    r = resolution
    return (
        math.floor(xmin / r) * r,
        math.floor(ymin / r) * r,
        math.ceil(xmax / r) * r,
        math.ceil(ymax / r) * r,
    )


def crs_of(epsg: int) -> CRS:
    """A pyproj CRS from an EPSG code."""
    return CRS.from_epsg(epsg)
