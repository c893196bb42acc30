"""Areas of interest: a site's named zones, validated, with their UTM CRS and S2 tiles.

An AOI is a GeoJSON FeatureCollection in longitude/latitude (EPSG:4326). Each feature is
a zone with at least the properties ``name`` and ``kind`` (one of :data:`KINDS`); a
``source`` property says where its geometry came from (``"approximate"`` where it was
placed by hand). Exactly one zone is the ``perimeter``; every other zone lies inside it,
except ``control`` zones (off-site ground used to normalise for season and sun angle).

The AOI's grid (:attr:`AOI.epsg`) is the UTM CRS of the Sentinel-2 tile that covers most
of its perimeter (:func:`geo.grid.tile_cover`; ties go to the tile whose zone holds more
of the perimeter, then to the zone of its centre). For a site inside one UTM zone that
is simply its zone. A perimeter that crosses a zone boundary is accepted with a warning:
imagery from the other zone's tiles is reprojected onto the chosen grid (nearest
neighbour) when loaded.

Examples
--------
>>> import geo
>>> aoi = geo.aoi.load("bagram")
>>> aoi.epsg, aoi.tiles
(32642, ['42SWD'])
>>> sorted(set(aoi.zones["kind"]))[:3]
['apron', 'built', 'control']
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from geo import errors
from geo.grid import align_bounds, s2_tile, tile_cover, utm_epsg, zone_shares

__all__ = [
    "KINDS",
    "ACTIVITY_KINDS",
    "AOI",
    "load",
    "from_geojson",
    "from_runways",
    "read_runways",
    "runway_polygon",
    "RunwayFrame",
    "builtin_names",
    "AOI_DIR",
]

log = logging.getLogger(__name__)

KINDS: dict[str, str] = {
    "perimeter": "the site's outer boundary (exactly one)",
    "runway": "a runway surface",
    "taxiway": "taxiways and connectors",
    "apron": "aprons, ramps and dispersal areas where aircraft park",
    "revetment": "rows of aircraft revetments (protective parking bays)",
    "parking": "vehicle parking lots",
    "yard": "container or storage yards",
    "hangar": "hangars and other large roofs",
    "built": "other built-up ground (barracks, offices, roads)",
    "control": "off-site reference ground for normalisation (may lie outside the perimeter)",
}
"""Zone kinds geo knows, with what each means."""

ACTIVITY_KINDS: tuple[str, ...] = ("apron", "revetment", "parking", "yard")
"""Kinds of zone whose occupancy the activity index measures."""

AOI_DIR = Path(__file__).resolve().parent.parent / "aoi"
"""Folder of the built-in AOIs (``aoi/`` at the top of the repository)."""

MAX_SITE_AREA_KM2 = 100.0
"""Largest perimeter accepted without ``allow_large=True``."""

_GEOD = Geod(ellps="WGS84")
_REQUIRED = ("name", "kind")


@dataclass
class AOI:
    """A validated area of interest.

    Attributes
    ----------
    name
        Short name of the site (file stem for built-in AOIs).
    zones
        One row per zone, EPSG:4326, columns ``name``, ``kind``, ``source``,
        ``geometry`` and any further properties of the GeoJSON.
    epsg
        EPSG code of the AOI's grid: the UTM CRS of ``tiles[0]``, the Sentinel-2 tile
        covering most of the perimeter (see the module notes for ties).
    tiles
        Sentinel-2 MGRS tiles covering part of the perimeter, most-covering first.
    path
        Where the AOI was read from, if from a file.
    properties
        The FeatureCollection's own ``properties``.
    tile_shares
        Share (0..1) of the perimeter's area each tile of ``tiles`` covers, same order.
    utm_zones
        Share (0..1) of the perimeter's area in each UTM zone number it touches.
    """

    name: str
    zones: gpd.GeoDataFrame
    epsg: int
    tiles: list[str]
    path: Path | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    tile_shares: dict[str, float] = field(default_factory=dict)
    utm_zones: dict[int, float] = field(default_factory=dict)

    @property
    def crs(self) -> CRS:
        """The local UTM CRS as a pyproj CRS."""
        return CRS.from_epsg(self.epsg)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees, over all zones (controls included)."""
        w, s, e, n = self.zones.total_bounds
        return (float(w), float(s), float(e), float(n))

    @property
    def perimeter(self) -> BaseGeometry:
        """The perimeter polygon in EPSG:4326."""
        return self.zones.loc[self.zones["kind"] == "perimeter", "geometry"].iloc[0]

    def zones_utm(self) -> gpd.GeoDataFrame:
        """The zones reprojected to the local UTM CRS (metres)."""
        return self.zones.to_crs(self.epsg)

    def zone(self, name: str) -> BaseGeometry:
        """One zone's geometry (EPSG:4326) by name."""
        hit = self.zones.loc[self.zones["name"] == name, "geometry"]
        if hit.empty:
            close = difflib.get_close_matches(name, list(self.zones["name"]), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"AOI {self.name!r} has no zone {name!r}.{hint}")
        return hit.iloc[0]

    def utm_bounds(self, margin: float = 0.0, resolution: float = 60.0) -> tuple[float, ...]:
        """UTM bounds of all zones grown by ``margin`` metres, on the S2 pixel lattice."""
        xmin, ymin, xmax, ymax = self.zones_utm().total_bounds
        return align_bounds(
            (xmin - margin, ymin - margin, xmax + margin, ymax + margin), resolution
        )

    def summary(self) -> pd.DataFrame:
        """A table of zones: name, kind, area in hectares and source.

        Examples
        --------
        >>> load("bagram").summary().columns.tolist()
        ['name', 'kind', 'area_ha', 'source']
        """
        utm = self.zones_utm()
        return pd.DataFrame(
            {
                "name": utm["name"].to_numpy(),
                "kind": utm["kind"].to_numpy(),
                "area_ha": (utm.geometry.area / 1e4).round(2).to_numpy(),
                "source": utm["source"].to_numpy(),
            }
        )

    def to_geojson(self) -> dict[str, Any]:
        """The AOI as a GeoJSON FeatureCollection (dict)."""
        features = []
        for row in self.zones.itertuples(index=False):
            props = {k: v for k, v in row._asdict().items() if k != "geometry"}
            props = {k: v for k, v in props.items() if not _is_missing(v)}
            features.append({"type": "Feature", "properties": props, "geometry": mapping(row.geometry)})
        out: dict[str, Any] = {"type": "FeatureCollection", "name": self.name, "features": features}
        if self.properties:
            out["properties"] = self.properties
        return out

    def __repr__(self) -> str:
        return (
            f"AOI({self.name!r}, {len(self.zones)} zones, EPSG:{self.epsg}, "
            f"tiles={self.tiles})"
        )


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def builtin_names() -> list[str]:
    """Names of the AOIs shipped in ``aoi/``.

    Examples
    --------
    >>> "bagram" in builtin_names()
    True
    """
    return sorted(p.stem for p in AOI_DIR.glob("*.geojson"))


def load(name_or_path: str | Path, *, allow_large: bool = False) -> AOI:
    """Load and validate an AOI by built-in name or GeoJSON path.

    Parameters
    ----------
    name_or_path
        A built-in name (see :func:`builtin_names`, e.g. ``"bagram"``) or the path of a
        GeoJSON FeatureCollection of zones.
    allow_large
        Accept a perimeter larger than 100 km^2 (a region rather than a site).

    Returns
    -------
    AOI

    Raises
    ------
    geo.errors.AOINotFound
        Neither a built-in name nor an existing file.
    geo.errors.AOIError
        The GeoJSON is malformed; the subclass and message say what and how to fix it.

    Warns
    -----
    geo.errors.UTMBoundaryWarning
        The perimeter crosses a UTM zone boundary (see :func:`from_geojson`).

    Examples
    --------
    >>> aoi = load("bagram")
    >>> aoi.name
    'bagram'
    """
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = AOI_DIR / f"{name_or_path}.geojson"
    if not path.is_file():
        known = ", ".join(builtin_names())
        raise errors.AOINotFound(
            f"No AOI {str(name_or_path)!r}: it is neither a built-in AOI ({known}) nor an "
            "existing GeoJSON file. Check the spelling or the path."
        )
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise errors.InvalidGeoJSON(
            f"AOI file {path} is not UTF-8 text ({exc.reason}); save it as GeoJSON."
        ) from None
    except json.JSONDecodeError as exc:
        raise errors.InvalidGeoJSON(
            f"AOI file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); fix the syntax or re-export it as GeoJSON."
        ) from None
    name = obj.get("name") if isinstance(obj, dict) and isinstance(obj.get("name"), str) else None
    aoi = from_geojson(obj, name=name or path.stem, allow_large=allow_large, label=str(path))
    aoi.path = path
    return aoi


def from_geojson(
    obj: dict[str, Any],
    *,
    name: str = "aoi",
    allow_large: bool = False,
    label: str | None = None,
) -> AOI:
    """Validate a GeoJSON FeatureCollection (as a dict) and build an AOI.

    The checks, in order: a FeatureCollection with features; WGS 84 lon/lat (no other
    ``crs``); per zone the required properties, a non-empty (Multi)Polygon, coordinates
    in range and in lon/lat order, a valid ring, a known kind; unique names; exactly one
    perimeter, every non-control zone inside it; a site-sized perimeter. The grid is then
    the UTM CRS of the Sentinel-2 tile covering most of the perimeter (see the module
    notes).

    Warns
    -----
    geo.errors.UTMBoundaryWarning
        When the perimeter crosses a UTM zone boundary: the message gives the share in
        each zone and the grid chosen; imagery from the other zone is reprojected.

    Examples
    --------
    >>> square = [[69.26, 34.94], [69.27, 34.94], [69.27, 34.95], [69.26, 34.95], [69.26, 34.94]]
    >>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
    ...       "properties": {"name": "site", "kind": "perimeter"},
    ...       "geometry": {"type": "Polygon", "coordinates": [square]}}]}
    >>> from_geojson(fc, name="demo").epsg
    32642
    """
    where = label or name
    features = _features(obj, where)
    rows: list[dict[str, Any]] = []
    for i, feature in enumerate(features):
        rows.append(_zone_row(feature, i, where))
    zones = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    _check_names(zones, where)
    _check_perimeter(zones, where, allow_large)
    _check_swapped_site(zones, where)
    perimeter = zones.loc[zones["kind"] == "perimeter", "geometry"].iloc[0]
    cover = tile_cover(perimeter)
    by_zone = zone_shares(perimeter)
    epsg = _grid_epsg(perimeter, cover)
    if len(by_zone) > 1:
        _warn_zone_crossing(where, by_zone, epsg, cover)
    props = obj.get("properties") if isinstance(obj.get("properties"), dict) else {}
    return AOI(name=name, zones=zones, epsg=epsg, tiles=list(cover), properties=dict(props or {}),
               tile_shares=cover, utm_zones=by_zone)


def _grid_epsg(perimeter: BaseGeometry, cover: dict[str, float]) -> int:
    """EPSG of the tile covering most of the perimeter (its own zone if none is known)."""
    if cover:
        return s2_tile(next(iter(cover))).epsg
    centre = perimeter.centroid
    return utm_epsg(centre.x, centre.y)


def _warn_zone_crossing(
    where: str, by_zone: dict[int, float], epsg: int, cover: dict[str, float]
) -> None:
    """Warn that a perimeter spans UTM zones: how much lies where and which grid won."""
    zones = sorted(by_zone)
    chosen = epsg % 100
    others = [z for z in zones if z != chosen]
    split = ", ".join(f"{100 * by_zone[z]:.1f} % in zone {z}" for z in zones)
    lines = ", ".join(f"{-180 + 6 * (z - 1):g}" for z in zones[1:])
    tile, share = next(iter(cover.items()), ("(none)", 0.0))
    hemi = "N" if epsg < 32700 else "S"
    warnings.warn(
        errors.UTMBoundaryWarning(
            f"AOI {where}: its perimeter crosses the boundary between UTM zones "
            f"{' and '.join(map(str, zones))} (longitude {lines} deg): {split}. Its grid is "
            f"EPSG:{epsg} (UTM {chosen}{hemi}), the zone of tile {tile}, which covers "
            f"{100 * share:.1f} % of the perimeter; imagery from zone "
            f"{' and '.join(map(str, others))} tiles is reprojected onto that grid (nearest "
            "neighbour, up to half a pixel of shift). To read every pixel on its own "
            "lattice, draw the perimeter within one zone."
        ),
        stacklevel=3,
    )


def _features(obj: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection":
        got = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
        raise errors.InvalidGeoJSON(
            f"AOI {where} must be a GeoJSON FeatureCollection of zones, got {got!r}. "
            "Wrap each zone polygon in a Feature inside a FeatureCollection."
        )
    crs = obj.get("crs")
    if crs is not None:
        crs_name = str((crs.get("properties") or {}).get("name", crs)) if isinstance(crs, dict) else str(crs)
        if not any(tag in crs_name for tag in ("CRS84", "4326")):
            raise errors.UnsupportedCRS(
                f"AOI {where} declares CRS {crs_name!r}; geo reads GeoJSON in WGS 84 "
                "longitude/latitude only (RFC 7946). Reproject it to EPSG:4326, e.g. "
                "`ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`."
            )
    features = obj.get("features")
    if not isinstance(features, list) or not features:
        raise errors.InvalidGeoJSON(
            f"AOI {where} has no features. Add one Feature per zone, including one of "
            "kind 'perimeter'."
        )
    return features


def _zone_row(feature: Any, index: int, where: str) -> dict[str, Any]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise errors.InvalidGeoJSON(
            f"AOI {where}: item {index} of 'features' is not a GeoJSON Feature."
        )
    props = feature.get("properties") or {}
    label = f"zone {props.get('name', index)!r} (feature {index}) of AOI {where}"
    for key in _REQUIRED:
        if not isinstance(props.get(key), str) or not props[key].strip():
            raise errors.MissingProperty(
                f"{label} has no {key!r} property. Every zone needs a 'name' and a "
                f"'kind' (one of {', '.join(KINDS)}); add \"{key}\": \"...\" to its properties."
            )
    kind = props["kind"]
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, list(KINDS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise errors.UnknownZoneKind(
            f"{label} has kind {kind!r}, which geo does not know.{hint} "
            f"Use one of: {', '.join(KINDS)}."
        )
    geom = _zone_geometry(feature.get("geometry"), label)
    row = dict(props)
    row.setdefault("source", "user-supplied")
    row["geometry"] = geom
    return row


def _zone_geometry(raw: Any, label: str) -> BaseGeometry:
    if not raw or not isinstance(raw, dict) or not raw.get("coordinates"):
        raise errors.EmptyGeometry(
            f"{label} has no geometry (null or empty coordinates). Draw its polygon or "
            "remove the zone."
        )
    gtype = raw.get("type")
    if gtype not in ("Polygon", "MultiPolygon"):
        raise errors.UnsupportedGeometry(
            f"{label} is a {gtype}; zones must be Polygons or MultiPolygons. Buffer "
            "points and lines into areas (e.g. a runway centreline by half its width)."
        )
    coords = _flat_coords(raw["coordinates"], label)
    _check_ranges(coords, label)
    try:
        geom = shape(raw)
    except (ValueError, TypeError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise errors.InvalidGeometry(
            f"{label} has malformed coordinates ({exc}). Each ring must be a closed list "
            "of at least four [lon, lat] positions."
        ) from None
    if geom.is_empty:
        raise errors.EmptyGeometry(f"{label} has an empty geometry. Draw its polygon.")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise errors.InvalidGeometry(
            f"{label} is not a valid polygon: {reason}. Fix the ring (no "
            "self-intersections), e.g. with shapely's make_valid or QGIS 'Fix geometries'."
        )
    return geom


def _flat_coords(coords: Any, label: str) -> np.ndarray:
    try:
        flat = np.asarray(_leaves(coords), dtype=float)
    except (TypeError, ValueError):
        raise errors.InvalidGeometry(
            f"{label} has coordinates that are not numbers; write [lon, lat] pairs."
        ) from None
    if flat.ndim != 2 or flat.shape[1] < 2 or len(flat) < 4:
        raise errors.InvalidGeometry(
            f"{label} has malformed coordinates: each ring must be a closed list of at "
            "least four [lon, lat] positions."
        )
    return flat[:, :2]


def _leaves(coords: Any) -> list[Any]:
    if isinstance(coords, (list, tuple)) and coords and not isinstance(coords[0], (list, tuple)):
        return [list(coords)]
    out: list[Any] = []
    for part in coords:
        out.extend(_leaves(part))
    return out


def _check_ranges(coords: np.ndarray, label: str) -> None:
    lon, lat = coords[:, 0], coords[:, 1]
    lat_bad = (np.abs(lat) > 90).any()
    lon_bad = (np.abs(lon) > 180).any()
    if lat_bad and not lon_bad and (np.abs(lon) <= 90).all():
        example = coords[np.argmax(np.abs(lat))]
        raise errors.SwappedCoordinates(
            f"{label} has 'latitude' {example[1]:g}, impossible, while every 'longitude' "
            f"would be a valid latitude: the pairs look like [lat, lon]. GeoJSON wants "
            f"[lon, lat]; swap them, i.e. [{example[1]:g}, {example[0]:g}]."
        )
    if lat_bad or lon_bad:
        raise errors.CoordinatesOutOfRange(
            f"{label} has coordinates outside longitude -180..180 / latitude -90..90 "
            f"(e.g. {coords[np.argmax(np.abs(coords).max(axis=1))].tolist()}). Projected "
            "metres? Reproject the file to EPSG:4326 (lon/lat degrees)."
        )


def _check_names(zones: gpd.GeoDataFrame, where: str) -> None:
    dup = zones["name"][zones["name"].duplicated()].unique().tolist()
    if dup:
        raise errors.DuplicateZoneName(
            f"AOI {where} has more than one zone named {', '.join(map(repr, dup))}; "
            "per-zone results would be ambiguous. Give each zone its own name."
        )


def _area_km2(geom: BaseGeometry) -> float:
    return abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def _check_perimeter(zones: gpd.GeoDataFrame, where: str, allow_large: bool) -> None:
    perims = zones[zones["kind"] == "perimeter"]
    if len(perims) != 1:
        raise errors.NoPerimeter(
            f"AOI {where} has {len(perims)} zones of kind 'perimeter'; it needs exactly "
            "one, enclosing every zone but the controls. Add (or merge into) one."
        )
    perimeter = perims.geometry.iloc[0]
    area = _area_km2(perimeter)
    if area > MAX_SITE_AREA_KM2 and not allow_large:
        raise errors.AOITooLarge(
            f"AOI {where} has a perimeter of {area:,.0f} km^2, more than the "
            f"{MAX_SITE_AREA_KM2:.0f} km^2 of a site: reading it would mean whole "
            "Sentinel-2 tiles for every date. Draw the site itself, or pass "
            "allow_large=True (--allow-large) if you mean it."
        )
    inside = perimeter.buffer(1e-5)  # ~1 m of slack for hand-drawn shared edges
    for row in zones.itertuples():
        if row.kind in ("perimeter", "control"):
            continue
        outside = row.geometry.difference(inside)
        if outside.area > 0.01 * row.geometry.area:
            share = 100 * outside.area / row.geometry.area
            raise errors.ZoneOutsidePerimeter(
                f"Zone {row.name!r} of AOI {where} lies {share:.0f} % outside the "
                "perimeter. Move or clip it, enlarge the perimeter, or give it kind "
                "'control' if it is off-site reference ground."
            )


@cache
def _airports() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(lat, lon, ICAO code) of every airport in the ``airportsdata`` package.

    Only the three columns are kept: ``airportsdata.load()`` builds a dict per airport,
    about 40 MB held for a check that needs 1 MB.
    """
    import csv
    import importlib.resources

    lats: list[float] = []
    lons: list[float] = []
    codes: list[str] = []
    table = importlib.resources.files("airportsdata").joinpath("airports.csv")
    with table.open("r", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = next(rows)
        icao, lat, lon = header.index("icao"), header.index("lat"), header.index("lon")
        for row in rows:
            if row[icao]:
                codes.append(row[icao])
                lats.append(float(row[lat]))
                lons.append(float(row[lon]))
    return np.array(lats), np.array(lons), tuple(codes)


def _nearest_airport(lon: float, lat: float) -> tuple[str, float]:
    lats, lons, codes = _airports()
    _, _, dist = _GEOD.inv(np.full(lats.shape, lon), np.full(lats.shape, lat), lons, lats)
    i = int(np.argmin(dist))
    return codes[i], float(dist[i])


def _check_swapped_site(zones: gpd.GeoDataFrame, where: str) -> None:
    """Catch [lat, lon] pairs that stay in range, for airfields (zones of kind runway).

    An airfield drawn with swapped pairs lands far from any airport, while its swapped
    centre falls on one: the airport database tells the two apart.
    """
    if not (zones["kind"] == "runway").any():
        return
    centre = zones.loc[zones["kind"] == "perimeter", "geometry"].iloc[0].centroid
    code, dist = _nearest_airport(centre.x, centre.y)
    if dist < 20_000 or abs(centre.x) > 90:
        return
    swapped_code, swapped_dist = _nearest_airport(centre.y, centre.x)
    if swapped_dist < 5_000:
        raise errors.SwappedCoordinates(
            f"AOI {where} has runways but its centre ({centre.x:.4f}, {centre.y:.4f}) "
            f"is {dist / 1000:.0f} km from the nearest airport ({code}); read as "
            f"[lat, lon] it is {swapped_dist / 1000:.1f} km from {swapped_code}. GeoJSON "
            "wants [lon, lat]: swap each pair."
        )


# --- airfields from runway end coordinates ------------------------------------------


def runway_polygon(
    le: tuple[float, float], he: tuple[float, float], width_m: float
) -> Polygon:
    """A runway rectangle from its two end points (lat, lon) and width in metres.

    The rectangle is built in the local UTM CRS, so its length and width are true
    metres, then returned in EPSG:4326 (lon, lat).

    Examples
    --------
    >>> poly = runway_polygon((34.93170, 69.25610), (34.95990, 69.27570), 46)
    >>> round(poly.exterior.coords[0][0], 3)
    69.256
    """
    frame = RunwayFrame(le, he)
    return frame.rect(0.0, frame.length, -width_m / 2, width_m / 2)


class RunwayFrame:
    """Place zones in metres relative to a runway: ``s`` along it, ``t`` across it.

    ``s`` runs from the first end towards the second, ``t`` is positive to the right of
    that direction. Handy for drawing aprons and taxiways parallel to a runway.

    Examples
    --------
    >>> frame = RunwayFrame((34.93170, 69.25610), (34.95990, 69.27570))
    >>> round(frame.length)  # metres on the UTM grid (scale factor 0.9996 here)
    3603
    >>> apron = frame.rect(1400, 2100, 230, 430)  # 700 m x 200 m, east of the runway
    >>> apron.geom_type
    'Polygon'
    """

    def __init__(self, le: tuple[float, float], he: tuple[float, float]) -> None:
        self.epsg = utm_epsg((le[1] + he[1]) / 2, (le[0] + he[0]) / 2)
        self._fwd = Transformer.from_crs(4326, self.epsg, always_xy=True)
        self._back = Transformer.from_crs(self.epsg, 4326, always_xy=True)
        self.x0, self.y0 = self._fwd.transform(le[1], le[0])
        x1, y1 = self._fwd.transform(he[1], he[0])
        self.length = math.hypot(x1 - self.x0, y1 - self.y0)
        if self.length == 0:
            raise errors.RunwayDataError(f"Runway ends {le} and {he} coincide.")
        self.u = ((x1 - self.x0) / self.length, (y1 - self.y0) / self.length)
        self.v = (self.u[1], -self.u[0])

    def point(self, s: float, t: float) -> tuple[float, float]:
        """The (lon, lat) of a point ``s`` m along and ``t`` m across the runway."""
        x = self.x0 + s * self.u[0] + t * self.v[0]
        y = self.y0 + s * self.u[1] + t * self.v[1]
        lon, lat = self._back.transform(x, y)
        return (float(lon), float(lat))

    def rect(self, s0: float, s1: float, t0: float, t1: float) -> Polygon:
        """A rectangle spanning ``s0..s1`` along and ``t0..t1`` across, in lon/lat."""
        return Polygon([self.point(s, t) for s, t in ((s0, t0), (s1, t0), (s1, t1), (s0, t1))])


def read_runways(path: str | Path, icao: str | None = None) -> pd.DataFrame:
    """Read OurAirports ``runways.csv`` rows, optionally only one airport's.

    Examples
    --------
    >>> import io
    >>> csv = io.StringIO(
    ...     "airport_ident,length_ft,width_ft,le_ident,le_latitude_deg,le_longitude_deg,"
    ...     "he_ident,he_latitude_deg,he_longitude_deg\\n"
    ...     "XXXX,3000,100,09,0.0,10.0,27,0.0,10.01\\n")
    >>> read_runways(csv)["le_ident"].tolist()
    ['09']
    """
    frame = pd.read_csv(path, dtype={"le_ident": str, "he_ident": str})
    needed = {"airport_ident", "le_latitude_deg", "le_longitude_deg", "he_latitude_deg",
              "he_longitude_deg", "length_ft", "width_ft", "le_ident", "he_ident"}
    missing = needed - set(frame.columns)
    if missing:
        raise errors.RunwayDataError(
            f"Runway table {path} lacks the OurAirports columns {sorted(missing)}; "
            "use runways.csv from OurAirports or a file with the same header."
        )
    if icao is not None:
        frame = frame[frame["airport_ident"].str.upper() == icao.upper()]
    return frame.reset_index(drop=True)


def _row_length_m(row: Any) -> float:
    _, _, dist = _GEOD.inv(
        row.le_longitude_deg, row.le_latitude_deg, row.he_longitude_deg, row.he_latitude_deg
    )
    return float(dist)


def _check_lengths(frame: pd.DataFrame, icao: str, tolerance: float) -> None:
    measured = [_row_length_m(r) for r in frame.itertuples()]
    stated = (frame["length_ft"].astype(float) * 0.3048).tolist()
    labels = [f"{r.le_ident}/{r.he_ident}" for r in frame.itertuples()]
    for i, (m, s, lab) in enumerate(zip(measured, stated, labels, strict=True)):
        if abs(m - s) <= tolerance * s:
            continue
        swapped = [labels[j] for j in range(len(labels))
                   if j != i and abs(measured[j] - s) <= tolerance * s]
        hint = (
            f" The stated length matches the ends of runway {swapped[0]}: the rows' "
            "lengths/widths (or coordinates) look swapped. The end coordinates were used."
            if swapped else " The end coordinates were used."
        )
        warnings.warn(
            errors.RunwayLengthMismatch(
                f"{icao} runway {lab}: its ends are {m:,.0f} m apart but its stated "
                f"length is {s:,.0f} m ({s / 0.3048:,.0f} ft).{hint}"
            ),
            stacklevel=3,
        )


def from_runways(
    runways: pd.DataFrame | str | Path,
    icao: str,
    *,
    name: str | None = None,
    margin_m: float = 800.0,
    tolerance: float = 0.02,
    width_from: str = "row",
) -> AOI:
    """Build an airfield AOI from OurAirports-format runway rows.

    Each row becomes a ``runway`` zone: a rectangle between its end coordinates, as wide
    as its ``width_ft``. The perimeter is the runways' hull grown by ``margin_m``. The
    airport's reference point comes from the ``airportsdata`` package.

    Parameters
    ----------
    runways
        A table with OurAirports ``runways.csv`` columns, or the path of such a CSV.
    icao
        The airport's ICAO code; selects its rows and its reference point.
    name
        Name of the AOI (default: the ICAO code in lower case).
    margin_m
        How far the perimeter reaches beyond the runways, in metres.
    tolerance
        Relative disagreement between end coordinates and ``length_ft`` above which a
        :class:`geo.errors.RunwayLengthMismatch` warning is raised.
    width_from
        ``"row"`` uses each row's ``width_ft``; ``"matched"`` takes the width from the
        row whose stated length matches the ends (for files whose rows are swapped).

    Warns
    -----
    geo.errors.RunwayLengthMismatch
        When a runway's ends are not as far apart as its stated length.

    Examples
    --------
    >>> import warnings
    >>> csv = AOI_DIR.parent.parent / "shared/fixtures/real/airfield/ourairports_OAIX_runways.csv"
    >>> with warnings.catch_warnings(record=True):  # OAIX's rows are swapped
    ...     aoi = from_runways(csv, "OAIX")  # doctest: +SKIP
    """
    frame = read_runways(runways, icao) if isinstance(runways, (str, Path)) else runways.copy()
    frame = frame[frame["airport_ident"].astype(str).str.upper() == icao.upper()]
    if frame.empty:
        raise errors.RunwayDataError(
            f"No runway rows for {icao!r}. Check the ICAO code (e.g. 'OAIX') and that the "
            "table is OurAirports runways.csv."
        )
    ref = _reference_point(icao)
    _check_lengths(frame, icao.upper(), tolerance)
    measured = [_row_length_m(r) for r in frame.itertuples()]
    stated = (frame["length_ft"].astype(float) * 0.3048).tolist()
    zones: list[dict[str, Any]] = []
    row: Any
    for i, row in enumerate(frame.itertuples()):
        width_ft = float(row.width_ft)
        if width_from == "matched":
            match = int(np.argmin([abs(measured[i] - s) for s in stated]))
            width_ft = float(frame["width_ft"].iloc[match])
        poly = runway_polygon(
            (float(row.le_latitude_deg), float(row.le_longitude_deg)),
            (float(row.he_latitude_deg), float(row.he_longitude_deg)),
            width_ft * 0.3048,
        )
        zones.append({
            "name": f"runway_{row.le_ident}_{row.he_ident}",
            "kind": "runway",
            "source": f"OurAirports end coordinates, width {width_ft:.0f} ft",
            "geometry": poly,
        })
    utm = utm_epsg(ref[1], ref[0])
    hull = gpd.GeoSeries([z["geometry"] for z in zones], crs=4326).to_crs(utm).union_all()
    perimeter = gpd.GeoSeries([hull.convex_hull.buffer(margin_m, join_style="mitre")],
                              crs=utm).to_crs(4326).iloc[0]
    zones.insert(0, {"name": "perimeter", "kind": "perimeter",
                     "source": f"approximate: runways' hull + {margin_m:.0f} m",
                     "geometry": perimeter})
    features = [{"type": "Feature", "geometry": mapping(z.pop("geometry")), "properties": z}
                for z in zones]
    fc = {"type": "FeatureCollection", "features": features,
          "properties": {"icao": icao.upper(), "reference_point": [ref[1], ref[0]]}}
    return from_geojson(fc, name=name or icao.lower(), label=f"{icao.upper()} runways")


def _reference_point(icao: str) -> tuple[float, float]:
    lats, lons, codes = _airports()
    if icao.upper() not in codes:
        raise errors.RunwayDataError(
            f"ICAO code {icao!r} is not in the airportsdata database; check the code "
            "(four letters, e.g. 'OAIX')."
        )
    i = codes.index(icao.upper())
    return float(lats[i]), float(lons[i])
