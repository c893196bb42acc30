"""The Sentinel-2 grid: MGRS tiles, UTM zones and 10 m pixel alignment.

Sentinel-2 L2A products are cut into 109.8 x 109.8 km tiles named after the MGRS 100 km
square whose upper-left corner they share (e.g. ``42SWD``), in that square's UTM zone.
Pixels of every band sit on multiples of 60 m from that corner, so any grid aligned to
multiples of 10 m (or 20 m, 60 m) in the tile's UTM CRS lines up with the imagery and
nothing needs resampling.

Near a UTM zone boundary the tiles of both zones overlap the ground on either side of
it: a site there can be read from tiles in two CRSs. :func:`tile_cover` measures how much
of a site each nearby tile covers and :func:`zone_shares` how much of it lies in each
zone; :mod:`geo.aoi` puts a site on the grid of the tile covering most of it.

Examples
--------
>>> utm_epsg(69.265, 34.946)
32642
>>> s2_tiles((69.25, 34.93, 69.28, 34.96))
['42SWD']
>>> from shapely.geometry import box
>>> tile_cover(box(69.25, 34.93, 69.28, 34.96))
{'42SWD': 1.0}
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache

import mgrs
import numpy as np
import shapely
from mgrs.core import MGRSError
from pyproj import CRS, Geod, Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

__all__ = [
    "TILE_SIZE_M",
    "S2Tile",
    "utm_epsg",
    "utm_zone",
    "s2_tile",
    "s2_tiles",
    "tile_cover",
    "zone_shares",
    "align_bounds",
]

TILE_SIZE_M = 109_800
"""Side of a Sentinel-2 tile in metres (10980 pixels of 10 m)."""

_MGRS = mgrs.MGRS()
_GEOD = Geod(ellps="WGS84")
_SHARE_DIGITS = 6
"""Shares are compared rounded to this many digits, so float noise never decides a tie."""
_SEGMENT_DEG = 0.002
"""Longest edge (degrees, about 200 m) kept when a lon/lat outline is projected."""
_CANDIDATE_STEP_DEG = 0.4
"""Spacing of the points whose tiles are candidates (well under a tile's 1 degree)."""


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
    return (32600 if lat >= 0 else 32700) + utm_zone(lon)


def utm_zone(lon: float) -> int:
    """The plain 6-degree UTM zone number (1..60) of a longitude.

    Examples
    --------
    >>> utm_zone(-12.01), utm_zone(-12.0)
    (28, 29)
    """
    return int(math.floor((lon + 180.0) / 6.0)) % 60 + 1


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


_OFFSETS = ((0, 0), (-9_800, 0), (0, 9_800), (-9_800, 9_800))
"""A tile reaches 9.8 km beyond its square to the east and south, so a point can belong
to the square west or north of its own."""
_COLUMNS = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")  # MGRS column letters, by zone % 3
_ROWS = "ABCDEFGHJKLMNPQRSTUV"  # MGRS row letters (even zones start at F)
_BANDS = "CDEFGHJKLMNPQRSTUVWX"  # latitude bands of 8 degrees from 80 S (X: 72-84 N)


@cache
def _transformers(epsg: int) -> tuple[Transformer, Transformer]:
    return (Transformer.from_crs(4326, epsg, always_xy=True),
            Transformer.from_crs(epsg, 4326, always_xy=True))


def _candidate_tiles(lon: float, lat: float) -> set[str]:
    """Tiles whose squares hold the point or lie just west/north of it, in its own zone
    and in the zones on either side (whose edge tiles reach across the boundary).

    Examples
    --------
    >>> sorted(_candidate_tiles(-12.02, 24.5))  # zone 28, but 29RJH reaches this far west
    ['28RGN', '28RHN', '29RJH']
    """
    epsg = utm_epsg(lon, lat)
    to_utm, to_ll = _transformers(epsg)
    x, y = to_utm.transform(lon, lat)
    names: set[str] = set()
    for dx, dy in _OFFSETS:
        plon, plat = to_ll.transform(x + dx, y + dy)
        names.add(_MGRS.toMGRS(plat, plon, MGRSPrecision=0))
    zone = epsg % 100  # the plain zone too: mgrs applies the Norway/Svalbard exceptions
    for other in (zone, zone % 60 + 1, (zone - 2) % 60 + 1):
        names |= _squares_in_zone(lon, lat, other, south=epsg > 32700)
    return names


def _squares_in_zone(lon: float, lat: float, zone: int, *, south: bool) -> set[str]:
    """MGRS squares of another zone near a point (its edge tiles may hold the point)."""
    to_utm, _ = _transformers((32700 if south else 32600) + zone)
    x, y = to_utm.transform(lon, lat)
    names: set[str] = set()
    for dx, dy in _OFFSETS:
        col, row = int((x + dx) // 100_000), int((y + dy) // 100_000)
        if not 1 <= col <= 8:
            continue
        band = _BANDS[min(max(int((lat + 80.0) // 8), 0), len(_BANDS) - 1)]
        name = (f"{zone:02d}{band}{_COLUMNS[zone % 3][col - 1]}"
                f"{_ROWS[(row + (5 if zone % 2 == 0 else 0)) % 20]}")
        try:
            tile = s2_tile(name)
        except (MGRSError, ValueError):
            continue
        if (tile.x0, tile.y1) == (col * 100_000.0, (row + 1) * 100_000.0) and _in_zone(tile):
            names.add(name)
    return names


def _in_zone(tile: S2Tile) -> bool:
    """Whether the tile's 100 km square reaches into its own zone (else MGRS has no such
    square). A zone edge is nearly straight across a square, so a corner tells."""
    _, to_ll = _transformers(tile.epsg)
    x0, y1 = tile.x0, tile.y1
    lons, _ = to_ll.transform([x0, x0, x0 + 100_000, x0 + 100_000],
                              [y1, y1 - 100_000, y1, y1 - 100_000])
    return any(utm_zone(float(lon)) == tile.utm_zone for lon in lons)


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


def _candidates_in(bounds: tuple[float, float, float, float]) -> set[str]:
    """Tiles of the points on a grid over a lon/lat box (corners included)."""
    west, south, east, north = bounds
    nx = max(2, math.ceil((east - west) / _CANDIDATE_STEP_DEG) + 1)
    ny = max(2, math.ceil((north - south) / _CANDIDATE_STEP_DEG) + 1)
    names: set[str] = set()
    for i in range(nx):
        for j in range(ny):
            lon = west + (east - west) * i / (nx - 1)
            lat = south + (north - south) * j / (ny - 1)
            names |= _candidate_tiles(lon, lat)
    return names


def _share_in_tile(geometry: BaseGeometry, tile: S2Tile) -> float:
    """Share of a lon/lat geometry's area that lies inside a tile (in the tile's CRS)."""
    to_utm = _transformers(tile.epsg)[0]
    dense = shapely.segmentize(geometry, _SEGMENT_DEG)
    projected = shapely.transform(dense, lambda xy: np.column_stack(
        to_utm.transform(xy[:, 0], xy[:, 1])))
    if projected.area <= 0:
        return 0.0
    return float(projected.intersection(box(*tile.bounds)).area / projected.area)


def zone_shares(geometry: BaseGeometry) -> dict[int, float]:
    """Share of a lon/lat polygon's area in each UTM zone it touches (by zone number).

    The zones are the plain 6-degree ones of :func:`utm_zone`; areas are geodesic
    (WGS 84). Zones holding none of the area are left out.

    Parameters
    ----------
    geometry
        A (Multi)Polygon in longitude/latitude degrees.

    Returns
    -------
    dict
        ``{zone number: share}``, west to east, shares summing to 1.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> zone_shares(box(-12.03, 26.7, -11.99, 26.73))
    {28: 0.75, 29: 0.25}
    """
    west, _, east, _ = geometry.bounds
    total = abs(_GEOD.geometry_area_perimeter(geometry)[0])
    if total <= 0:
        return {utm_zone((west + east) / 2): 1.0}
    out: dict[int, float] = {}
    for zone in range(utm_zone(west), utm_zone(east) + 1):
        lon0 = -180.0 + 6.0 * (zone - 1)
        part = geometry.intersection(box(lon0, -90.0, lon0 + 6.0, 90.0))
        area = abs(_GEOD.geometry_area_perimeter(part)[0]) if not part.is_empty else 0.0
        share = round(area / total, _SHARE_DIGITS)
        if share > 0:
            out[zone] = share
    return out


def tile_cover(geometry: BaseGeometry) -> dict[str, float]:
    """Sentinel-2 tiles covering part of a lon/lat polygon, with the share each covers.

    Each share is the part of the polygon's area inside the tile, measured in the tile's
    UTM CRS. Tiles come most-covering first; ties (e.g. two tiles each holding all of it)
    go to the tile whose UTM zone holds more of the polygon (:func:`zone_shares`), then
    to the zone of the polygon's centre, then by name.

    Parameters
    ----------
    geometry
        A (Multi)Polygon in longitude/latitude degrees (a site's perimeter).

    Returns
    -------
    dict
        ``{tile name: share}`` in that order; tiles covering none of it are left out.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cover = tile_cover(box(-12.03, 26.7, -11.99, 26.73))  # across zones 28 and 29
    >>> {name: round(share, 2) for name, share in cover.items()}
    {'28RGQ': 1.0, '29RKK': 0.63}
    """
    shares: dict[str, float] = {}
    for name in sorted(_candidates_in(geometry.bounds)):
        try:
            tile = s2_tile(name)
        except MGRSError:  # a name for a point on the equator that mgrs cannot map back
            continue
        share = round(min(_share_in_tile(geometry, tile), 1.0), _SHARE_DIGITS)
        if share > 0:
            shares[name] = share
    by_zone = zone_shares(geometry)
    centre = geometry.centroid
    home = utm_zone(centre.x)

    def rank(name: str) -> tuple[float, float, bool, str]:
        zone = s2_tile(name).epsg % 100
        return (-shares[name], -by_zone.get(zone, 0.0), zone != home, name)

    return {name: shares[name] for name in sorted(shares, key=rank)}


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
