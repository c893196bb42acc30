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
    "from_icao",
    "runway_rows",
    "pick_controls",
    "RUNWAY_TABLE",
    "RUNWAY_COLUMNS",
    "CONTROL_TESTS",
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
            stacklevel=4,
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
    return _runway_aoi(frame, icao.upper(), ref, name=name or icao.lower(), margin_m=margin_m,
                       tolerance=tolerance, width_from=width_from)


def _runway_aoi(
    frame: pd.DataFrame,
    icao: str,
    ref: tuple[float, float],
    *,
    name: str,
    margin_m: float,
    tolerance: float,
    width_from: str = "row",
    allow_large: bool = False,
    properties: dict[str, Any] | None = None,
) -> AOI:
    """Runway zones and a perimeter (hull + ``margin_m``) from checked runway rows."""
    _check_lengths(frame, icao, tolerance)
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
    props = {"icao": icao, "reference_point": [ref[1], ref[0]], **(properties or {})}
    fc = {"type": "FeatureCollection", "features": features, "properties": props}
    return from_geojson(fc, name=name, label=f"{icao} runways", allow_large=allow_large)


def _reference_point(icao: str) -> tuple[float, float]:
    lats, lons, codes = _airports()
    if icao.upper() not in codes:
        raise errors.RunwayDataError(
            f"ICAO code {icao!r} is not in the airportsdata database; check the code "
            "(four letters, e.g. 'OAIX')."
        )
    i = codes.index(icao.upper())
    return float(lats[i]), float(lons[i])


# --- any airfield by its ICAO code (the shipped OurAirports runway table) ------------

RUNWAY_TABLE = Path(__file__).resolve().parent / "data" / "ourairports_runways.csv.gz"
"""The OurAirports runway table shipped with geo (see ``geo/data/README.md``)."""

RUNWAY_COLUMNS: tuple[str, ...] = (
    "airport_ident", "length_ft", "width_ft", "surface", "closed",
    "le_ident", "le_latitude_deg", "le_longitude_deg",
    "he_ident", "he_latitude_deg", "he_longitude_deg",
)
"""Columns of OurAirports ``runways.csv`` kept in :data:`RUNWAY_TABLE`."""

RUNWAY_TABLE_SOURCE = (
    "OurAirports runways.csv (github.com/davidmegginson/ourairports-data, commit "
    "1fb3eea05228ec98d700f4bcfa68e8fc364ca0e5, data of 2026-08-22; public domain)"
)
"""Where :data:`RUNWAY_TABLE` comes from, quoted in the AOIs built from it."""

DEFAULT_RUNWAY_WIDTH_FT = 100.0
"""Width used for a runway whose row gives none (30 m, a common paved width)."""

_END_COLUMNS = ("le_latitude_deg", "le_longitude_deg", "he_latitude_deg", "he_longitude_deg")


@cache
def _runway_table() -> pd.DataFrame:
    """The shipped runway table, every value a string (read once, on first use)."""
    frame = pd.read_csv(RUNWAY_TABLE, dtype=str, keep_default_na=False)
    log.debug("read %d runway rows from %s", len(frame), RUNWAY_TABLE)
    return frame


@cache
def _runway_index() -> dict[str, np.ndarray]:
    """Upper-case airport ident -> positions of its rows in :func:`_runway_table`."""
    idents = _runway_table()["airport_ident"].str.upper()
    return {str(k): np.asarray(v) for k, v in idents.groupby(idents).indices.items()}


@cache
def _airport_table() -> pd.DataFrame:
    """airportsdata's table (ICAO, IATA, name, city, country, lat, lon, lid), by ICAO."""
    import importlib.resources

    table = importlib.resources.files("airportsdata").joinpath("airports.csv")
    with table.open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh, dtype=str, keep_default_na=False)
    return frame[frame["icao"] != ""].set_index("icao")


def _airport_record(code: str) -> dict[str, str] | None:
    table = _airport_table()
    return {str(k): str(v) for k, v in table.loc[code].items()} if code in table.index else None


def runway_rows(code: str, runways: pd.DataFrame | str | Path | None = None) -> pd.DataFrame:
    """The OurAirports runway rows of one airport, every value as written (strings).

    Parameters
    ----------
    code
        ICAO code (or OurAirports ident, or the FAA id airportsdata gives), any case.
    runways
        A table in OurAirports ``runways.csv`` format, or its path, instead of the one
        shipped with geo.

    Raises
    ------
    geo.errors.RunwayDataError
        The code is in neither table; the message suggests close codes.

    Examples
    --------
    >>> runway_rows("OAKN")[["le_ident", "he_ident", "width_ft"]].values.tolist()
    [['05', '23', '148']]
    """
    code = code.strip().upper()
    if runways is None:
        table, index = _runway_table(), _runway_index()
    else:
        table = (pd.read_csv(runways, dtype=str, keep_default_na=False)
                 if isinstance(runways, (str, Path)) else runways.astype(str))
        idents = table["airport_ident"].str.upper()
        index = {str(k): np.asarray(v) for k, v in idents.groupby(idents).indices.items()}
    record = _airport_record(code)
    for ident in (code, (record or {}).get("lid", "").upper()):
        if ident and ident in index:
            return table.iloc[index[ident]].reset_index(drop=True)
    raise errors.UnknownAirport(_unknown_code_message(code, record, index))


def _unknown_code_message(code: str, record: dict[str, str] | None,
                          index: dict[str, np.ndarray]) -> str:
    """Why ``code`` has no runway rows, and what to try instead."""
    where = "Look the airfield up on https://ourairports.com (its 'ident') and pass that."
    if record is not None:
        label = f"{code} ({record['name']}, {record['country']})"
        if any(w in record["name"].lower() for w in ("heliport", "helipad", "heli port")):
            return (f"{label} is a heliport: OurAirports lists no runway for it, and geo "
                    "builds an airfield from its runways. Draw the site as a GeoJSON AOI "
                    "instead (see geo.aoi.load).")
        return (f"{label} is a known airport, but OurAirports lists no runway under "
                f"{code!r}. {where} Or draw the site as a GeoJSON AOI.")
    prefix = sorted(k for k in index if k.startswith(code[:3]) and len(code) >= 3)[:8]
    close = difflib.get_close_matches(code, list(_airport_table().index), n=4, cutoff=0.75)
    hints = list(dict.fromkeys(prefix + [c for c in close if c in index]))[:8]
    hint = f" Codes with runways that look close: {', '.join(hints)}." if hints else ""
    return (f"No airfield {code!r} in the runway table ({RUNWAY_TABLE.name}) or in "
            f"airportsdata.{hint} ICAO codes have four letters, e.g. 'OAKN'. {where}")


def _is_water(surface: str) -> bool:
    text = surface.strip().upper()
    return "WAT" in text or text in ("W", "WTR")


def _flag(value: Any) -> bool:
    """OurAirports' 0/1 flags, read as text ('1') or numbers (1, 1.0)."""
    try:
        return float(value) == 1.0
    except (TypeError, ValueError):
        return str(value).strip().lower() == "true"


def _runway_label(row: Any) -> str:
    return f"{row.le_ident or '?'}/{row.he_ident or '?'}"


def _usable_runways(frame: pd.DataFrame, code: str, site: str) -> pd.DataFrame:
    """Drop closed, water and end-less runways (each with a warning); numbers as floats.

    Raises :class:`geo.errors.RunwayDataError` when no runway is left.
    """
    dropped: dict[str, list[str]] = {"closed": [], "water": [], "without both ends": []}
    keep: list[int] = []
    for i, row in enumerate(frame.itertuples()):
        label = _runway_label(row)
        ends = pd.to_numeric(pd.Series([getattr(row, c) for c in _END_COLUMNS]),
                             errors="coerce")
        if _flag(row.closed):
            dropped["closed"].append(label)
        elif _is_water(str(row.surface)):
            dropped["water"].append(label)
        elif ends.isna().any() or (ends.iloc[0] == ends.iloc[2] and ends.iloc[1] == ends.iloc[3]):
            dropped["without both ends"].append(label)
        else:
            keep.append(i)
    _warn_dropped(code, site, dropped)
    if not keep:
        found = "; ".join(f"{len(v)} {k} ({', '.join(v)})" for k, v in dropped.items() if v)
        raise errors.NoUsableRunway(
            f"{code} ({site}) has no usable runway: {found}. geo needs an open, non-water "
            "runway with both ends' coordinates. Draw the site as a GeoJSON AOI instead, "
            "or pass runways= a corrected table in OurAirports format."
        )
    return _numeric_runways(frame.iloc[keep].reset_index(drop=True), code)


def _warn_dropped(code: str, site: str, dropped: dict[str, list[str]]) -> None:
    for why, labels in dropped.items():
        if not labels:
            continue
        fix = ("fill in le_/he_latitude_deg and _longitude_deg (runways=...) to include it"
               if why == "without both ends" else "it is left out of the AOI")
        warnings.warn(
            errors.RunwaySkipped(
                f"{code} ({site}): runway {', '.join(labels)} is {why} in OurAirports; "
                f"{fix}."
            ),
            stacklevel=4,
        )


def _numeric_runways(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    """Ends, lengths and widths as floats; a missing width or length filled (and said)."""
    out = frame.copy()
    for col in (*_END_COLUMNS, "length_ft", "width_ft"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    row: Any
    for i, row in enumerate(out.itertuples()):
        if math.isnan(row.width_ft):
            out.loc[i, "width_ft"] = DEFAULT_RUNWAY_WIDTH_FT
            warnings.warn(errors.RunwaySkipped(
                f"{code} runway {_runway_label(row)} has no width in OurAirports; "
                f"{DEFAULT_RUNWAY_WIDTH_FT:.0f} ft is assumed. Pass runways= a table with "
                "its width_ft to draw it true."), stacklevel=4)
        if math.isnan(row.length_ft):
            out.loc[i, "length_ft"] = _row_length_m(row) / 0.3048
            log.info("%s runway %s has no stated length; its ends' distance is used",
                     code, _runway_label(row))
    labels = out["le_ident"] + "_" + out["he_ident"]
    dup = labels.duplicated(keep=False)
    out.loc[dup, "he_ident"] = out.loc[dup, "he_ident"] + "_" + (out.index[dup] + 1).astype(str)
    return out


def from_icao(
    code: str,
    *,
    margin_m: float = 800.0,
    name: str | None = None,
    runways: pd.DataFrame | str | Path | None = None,
    tolerance: float = 0.02,
    allow_large: bool = False,
) -> AOI:
    """Build an airfield's AOI from its ICAO code alone: runways and a perimeter.

    The runways come from the OurAirports table shipped with geo
    (:data:`RUNWAY_TABLE`): each open, non-water runway with both ends' coordinates
    becomes a ``runway`` zone between its ends, as wide as its ``width_ft``. The
    perimeter is the runways' convex hull grown by ``margin_m``. The site's name and
    reference point come from ``airportsdata``. There are no control zones yet: add
    bare ground from imagery with :func:`pick_controls`.

    Parameters
    ----------
    code
        ICAO code, e.g. ``"OAKN"`` (any case). The OurAirports ident, or the FAA id
        airportsdata gives for US fields, works too.
    margin_m
        How far the perimeter reaches beyond the runways, in metres (aprons and
        hangars usually lie within a few hundred metres of a runway).
    name
        Name of the AOI (default: the code in lower case).
    runways
        A table in OurAirports ``runways.csv`` format (or its path) to use instead of
        the shipped one, e.g. a newer download or a corrected row.
    tolerance
        Relative disagreement between end coordinates and stated length above which a
        :class:`geo.errors.RunwayLengthMismatch` warning is raised.
    allow_large
        Accept a perimeter larger than 100 km^2 (very large airports with a wide margin).

    Returns
    -------
    AOI
        Zones ``perimeter`` and ``runway_<le>_<he>``; ``properties`` hold ``icao``,
        ``site``, ``reference_point`` (lon, lat) and ``runways_source``.

    Raises
    ------
    geo.errors.RunwayDataError
        Unknown code (close codes are suggested), a heliport or airport without runway
        rows, or no usable runway left (all closed, water, or without end coordinates).

    Warns
    -----
    geo.errors.GeoWarning
        Closed or water runways, and runways without both ends' coordinates, are left out.
    geo.errors.RunwayLengthMismatch
        A runway's ends are not as far apart as its stated length (e.g. OAIX, whose rows
        have their lengths and widths swapped); the end coordinates are used.

    Examples
    --------
    >>> aoi = from_icao("OAKN")
    >>> aoi.properties["site"], aoi.epsg
    ('Kandahar Airport, AF', 32641)
    >>> aoi.summary()[["name", "kind"]].values.tolist()
    [['perimeter', 'perimeter'], ['runway_05_23', 'runway']]
    """
    code = code.strip().upper()
    frame = runway_rows(code, runways)
    record = _airport_record(code)
    site = (", ".join(v for v in (record["name"], record["city"], record["country"]) if v)
            if record else f"OurAirports {frame['airport_ident'].iloc[0]}")
    usable = _usable_runways(frame, code, site)
    if record is not None:
        ref = (float(record["lat"]), float(record["lon"]))
    else:
        ref = (float(usable[["le_latitude_deg", "he_latitude_deg"]].to_numpy().mean()),
               float(usable[["le_longitude_deg", "he_longitude_deg"]].to_numpy().mean()))
    source = (RUNWAY_TABLE_SOURCE if runways is None else f"runway table {runways}"
              if isinstance(runways, (str, Path)) else "runway table passed as a DataFrame")
    props = {"site": site, "ident": str(frame["airport_ident"].iloc[0]),
             "runways_source": source,
             "controls": "none: add bare ground from imagery with geo.aoi.pick_controls"}
    return _runway_aoi(usable, code, ref, name=name or code.lower(), margin_m=margin_m,
                       tolerance=tolerance, allow_large=allow_large, properties=props)


# --- off-site control zones of bare ground, picked from imagery -----------------------

CONTROL_TESTS: dict[str, Any] = {
    "ndvi_max": 0.2,  # bare soil and gravel 0.05-0.2; crops, grass and scrub lie above
    "ndwi_max": 0.0,  # (green-nir)/(green+nir) > 0 is open water (only with a green band)
    "mndwi_max": 0.0,  # (green-swir16)/(green+swir16) > 0 is water, turbid or not (green)
    "nir_min": 0.08,  # water, deep shadow and fresh asphalt are darker than this in nir
    "brightness": (0.10, 0.45),  # mean of red, nir, swir16: roofs, salt, haze are brighter
    "texture_max": 0.05,  # 3x3 std / mean of brightness: buildings, field edges lie above
    "window_cv_max": 0.08,  # std / mean of brightness over a whole control square
    "window_good_min": 0.98,  # share of a square's pixels that must pass the pixel tests
}
"""Thresholds (surface reflectance, 0-1) :func:`pick_controls` uses for bare ground."""

_CONTROL_BANDS = ("red", "nir", "swir16")


def pick_controls(
    aoi: AOI,
    composite: Any,
    transform: Any = None,
    crs: Any = None,
    *,
    n: int = 2,
    size_m: float = 300.0,
    min_gap_m: float = 250.0,
    max_distance_m: float = 3000.0,
    replace: bool = False,
) -> AOI:
    """Add off-site ``control`` zones of bare, stable ground picked from a composite.

    The activity index normalises every date by a control zone's brightness, so a good
    control is ground that changes only with season, sun and atmosphere: bare soil or
    gravel, not fields (they green and brown), water (it glints and floods) or built-up
    ground (it changes with what is parked or built). Each pixel of ``composite`` is
    tested (thresholds in :data:`CONTROL_TESTS`): NDVI low, not water (NDWI and MNDWI
    low when a ``green`` band is given, nir not dark), moderate brightness, and smooth
    (low 3x3 texture). Squares of ``size_m`` whose pixels (nearly) all pass, lying at
    least ``min_gap_m`` outside the perimeter with their centre within
    ``max_distance_m`` of it, are ranked by their brightness' spread (most uniform
    first) and the best ``n`` that do not crowd each other are kept.

    Parameters
    ----------
    aoi
        The site; its perimeter is kept clear.
    composite
        A clear-sky reflectance composite (0-1): a mapping of band name to 2-D array, or
        an xarray Dataset, with bands ``red``, ``nir`` and ``swir16`` (``green`` too if
        available, for the water tests). NaN marks missing pixels.
    transform, crs
        The composite's affine transform (north-up, square pixels) and CRS (anything
        pyproj reads). Taken from a Dataset's coordinates and ``spatial_ref`` if omitted.
    n
        How many control zones to pick.
    size_m
        Side of each square control zone, in metres.
    min_gap_m, max_distance_m
        The band around the perimeter where controls may lie, in metres.
    replace
        Drop the AOI's existing control zones first (default: keep them).

    Returns
    -------
    AOI
        A new AOI with the zones ``control_picked_1``... of kind ``control``, each with
        ``source`` "picked from imagery: ..." and its median ``ndvi`` and ``brightness``.

    Raises
    ------
    geo.errors.AnalysisError
        The composite lacks a band, has no grid, does not cover the perimeter, or holds
        no square of bare ground in the band; the message says which test failed most.

    Warns
    -----
    geo.errors.GeoWarning
        Fewer than ``n`` squares qualified; the ones found are returned.

    Examples
    --------
    >>> from affine import Affine
    >>> site = from_geojson({"type": "FeatureCollection", "features": [{"type": "Feature",
    ...     "properties": {"name": "p", "kind": "perimeter"}, "geometry": {"type": "Polygon",
    ...     "coordinates": [[[69.26, 34.94], [69.27, 34.94], [69.27, 34.95], [69.26, 34.95],
    ...                      [69.26, 34.94]]]}}]})
    >>> x0, y0 = 523_000.0, 3_868_000.0  # UTM 42N, 5 km square around the site
    >>> bare = {"red": np.full((500, 500), 0.2), "nir": np.full((500, 500), 0.25),
    ...         "swir16": np.full((500, 500), 0.3)}
    >>> out = pick_controls(site, bare, Affine(10, 0, x0, 0, -10, y0), 32642, n=1)
    >>> out.zones.loc[out.zones["kind"] == "control", "source"].str[:20].tolist()
    ['picked from imagery:']
    """
    bands, transform, crs = _composite_bands(composite, transform, crs)
    res = abs(float(transform.a))
    k = max(3, int(round(size_m / res)) | 1)  # odd, so a window has a centre pixel
    good, stats = _bare_pixels(bands)
    dist = _distance_from(aoi.perimeter, good.shape, transform, crs, res)
    score, qualified = _rank_windows(good, stats["brightness"], dist, k, min_gap_m,
                                     max_distance_m)
    picks = _spread_picks(score, qualified, k, n)
    if not picks:
        raise errors.AnalysisError(_no_control_message(aoi, good, stats, dist, size_m,
                                                       min_gap_m, max_distance_m))
    if len(picks) < n:
        warnings.warn(errors.GeoWarning(
            f"AOI {aoi.name!r}: only {len(picks)} of the {n} control zones asked for found "
            f"{size_m:.0f} m squares of bare ground within {max_distance_m:.0f} m of the "
            "perimeter; pass a smaller size_m or a larger max_distance_m for more."),
            stacklevel=2)
    zones = [_control_zone(i, j, k, transform, stats, dist, res) for i, j in picks]
    return _with_controls(aoi, zones, crs, replace)


def _composite_bands(composite: Any, transform: Any, crs: Any) -> tuple[dict[str, np.ndarray],
                                                                       Any, CRS]:
    """Bands as float arrays, plus the grid's transform and CRS, checked."""
    if hasattr(composite, "data_vars"):
        names = [str(v) for v in composite.data_vars]
        bands = {b: np.asarray(composite[b].squeeze().values, dtype=float) for b in names
                 if b in (*_CONTROL_BANDS, "green")}
        transform = transform if transform is not None else _dataset_transform(composite)
        crs = crs if crs is not None else _dataset_crs(composite)
    else:
        bands = {b: np.asarray(v, dtype=float) for b, v in dict(composite).items()
                 if b in (*_CONTROL_BANDS, "green")}
    missing = [b for b in _CONTROL_BANDS if b not in bands]
    if missing:
        raise errors.AnalysisError(
            f"The composite lacks band(s) {', '.join(missing)}; pick_controls needs red, "
            "nir and swir16 (and uses green if present). Load those bands.")
    shapes = {b.shape for b in bands.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise errors.AnalysisError(
            f"The composite's bands must be 2-D arrays of one shape, got {sorted(shapes)}; "
            "reduce over time first (e.g. a median).")
    if transform is None or crs is None:
        raise errors.AnalysisError(
            "The composite has no grid: pass transform= (an affine.Affine) and crs= (e.g. "
            "the AOI's aoi.epsg) with plain arrays.")
    if abs(transform.b) > 0 or abs(transform.d) > 0 or abs(abs(transform.a) - abs(transform.e)) > 1e-6 * abs(transform.a):
        raise errors.AnalysisError(
            f"The composite's transform {tuple(transform)[:6]} is rotated or its pixels are "
            "not square; resample it onto a north-up grid with square pixels.")
    return bands, transform, CRS.from_user_input(crs)


def _dataset_transform(ds: Any) -> Any:
    from affine import Affine

    if "x" not in ds.coords or "y" not in ds.coords or ds.sizes["x"] < 2 or ds.sizes["y"] < 2:
        return None
    x, y = ds["x"].values.astype(float), ds["y"].values.astype(float)
    dx, dy = x[1] - x[0], y[1] - y[0]
    return Affine(dx, 0.0, x[0] - dx / 2, 0.0, dy, y[0] - dy / 2)


def _dataset_crs(ds: Any) -> Any:
    if "spatial_ref" in ds.coords:
        attrs = ds["spatial_ref"].attrs
        return attrs.get("crs_wkt") or attrs.get("spatial_ref")
    return ds.attrs.get("crs")


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - b) / (a + b)


def _bare_pixels(bands: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per pixel: passes every bare-ground test? And the indices behind the tests."""
    from scipy import ndimage

    t = CONTROL_TESTS
    red, nir, swir = bands["red"], bands["nir"], bands["swir16"]
    bright = (red + nir + swir) / 3
    filled = np.nan_to_num(bright)
    mean = ndimage.uniform_filter(filled, 3)
    var = np.clip(ndimage.uniform_filter(filled**2, 3) - mean**2, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        texture = np.sqrt(var) / mean
    stats = {"ndvi": _ratio(nir, red), "brightness": bright, "texture": texture}
    tests = {
        "vegetated (NDVI)": stats["ndvi"] < t["ndvi_max"],
        "dark in nir (water, shadow, asphalt)": nir >= t["nir_min"],
        "too dark or too bright": (bright >= t["brightness"][0]) & (bright <= t["brightness"][1]),
        "textured (buildings, field edges)": texture <= t["texture_max"],
    }
    if "green" in bands:
        tests["water (NDWI/MNDWI)"] = ((_ratio(bands["green"], nir) < t["ndwi_max"])
                                       & (_ratio(bands["green"], swir) < t["mndwi_max"]))
    valid = np.isfinite(red) & np.isfinite(nir) & np.isfinite(swir)
    good = valid.copy()
    for name, passed in tests.items():
        passed = passed & valid
        stats[f"fail:{name}"] = ~passed
        good &= passed
    return good, stats


def _distance_from(perimeter: BaseGeometry, shape_: tuple[int, ...], transform: Any, crs: CRS,
                   res: float) -> np.ndarray:
    """Metres from each pixel to the perimeter (0 inside), on the composite's grid."""
    from rasterio.features import rasterize
    from scipy import ndimage

    geom = gpd.GeoSeries([perimeter], crs=4326).to_crs(crs).iloc[0]
    inside = rasterize([(geom, 1)], out_shape=shape_, transform=transform, all_touched=True,
                       fill=0, dtype="uint8")
    if not inside.any():
        raise errors.AnalysisError(
            "The composite does not cover the AOI's perimeter: controls are picked around "
            "it. Build the composite over the AOI's bounds plus max_distance_m.")
    return np.asarray(ndimage.distance_transform_edt(inside == 0)) * res


def _rank_windows(good: np.ndarray, bright: np.ndarray, dist: np.ndarray, k: int,
                  min_gap_m: float, max_distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Per centre pixel: the k x k square's brightness spread, and whether it qualifies."""
    from scipy import ndimage

    b = np.where(good, bright, 0.0)
    share = ndimage.uniform_filter(good.astype(float), k, mode="constant")
    mean = ndimage.uniform_filter(b, k, mode="constant")
    sq = ndimage.uniform_filter(b**2, k, mode="constant")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_good = mean / share
        cv = np.sqrt(np.clip(sq / share - mean_good**2, 0, None)) / mean_good
    near = ndimage.minimum_filter(dist, k, mode="constant", cval=0.0)
    h = k // 2
    inner = np.zeros(good.shape, dtype=bool)
    inner[h:good.shape[0] - h, h:good.shape[1] - h] = True
    qualified = (inner & (share >= CONTROL_TESTS["window_good_min"] - 1e-9)
                 & (cv <= CONTROL_TESTS["window_cv_max"]) & (near >= min_gap_m)
                 & (dist <= max_distance_m))
    return np.where(qualified, cv, np.inf), qualified


def _spread_picks(score: np.ndarray, qualified: np.ndarray, k: int,
                  n: int) -> list[tuple[int, int]]:
    """The best-scoring centres, each at least two squares' width from the others."""
    flat = np.flatnonzero(qualified.ravel())
    order = flat[np.argsort(score.ravel()[flat], kind="stable")]
    picks: list[tuple[int, int]] = []
    for idx in order:
        i, j = divmod(int(idx), score.shape[1])
        if all(max(abs(i - a), abs(j - b)) >= 2 * k for a, b in picks):
            picks.append((i, j))
            if len(picks) == n:
                break
    return picks


def _control_zone(i: int, j: int, k: int, transform: Any, stats: dict[str, np.ndarray],
                  dist: np.ndarray, res: float) -> dict[str, Any]:
    h = k // 2
    x0, y0 = transform @ (j - h, i - h)
    x1, y1 = transform @ (j + h + 1, i + h + 1)
    win = (slice(i - h, i + h + 1), slice(j - h, j + h + 1))
    ndvi = float(np.nanmedian(stats["ndvi"][win]))
    bright = float(np.nanmedian(stats["brightness"][win]))
    gap = float(dist[win].min())
    return {
        "geometry": shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
        "source": (f"picked from imagery: bare ground, {k * res:.0f} m square "
                   f"{gap:.0f} m outside the perimeter (NDVI {ndvi:.2f}, brightness "
                   f"{bright:.2f})"),
        "ndvi": round(ndvi, 3),
        "brightness": round(bright, 3),
    }


def _with_controls(aoi: AOI, zones: list[dict[str, Any]], crs: CRS, replace: bool) -> AOI:
    fc = aoi.to_geojson()
    if replace:
        fc["features"] = [f for f in fc["features"] if f["properties"]["kind"] != "control"]
    taken = {f["properties"]["name"] for f in fc["features"]}
    geoms = gpd.GeoSeries([z.pop("geometry") for z in zones], crs=crs).to_crs(4326)
    count = 0
    for zone, geom in zip(zones, geoms, strict=True):
        count += 1
        while f"control_picked_{count}" in taken:
            count += 1
        props = {"name": f"control_picked_{count}", "kind": "control", **zone}
        fc["features"].append({"type": "Feature", "properties": props,
                               "geometry": mapping(geom)})
    fc["properties"] = {**fc.get("properties", {}),
                        "controls": f"{len(zones)} picked from imagery (geo.aoi.pick_controls)"}
    large = _area_km2(aoi.perimeter) > MAX_SITE_AREA_KM2
    return from_geojson(fc, name=aoi.name, allow_large=large, label=f"{aoi.name} with controls")


def _no_control_message(aoi: AOI, good: np.ndarray, stats: dict[str, np.ndarray],
                        dist: np.ndarray, size_m: float, min_gap_m: float,
                        max_distance_m: float) -> str:
    band = (dist >= min_gap_m) & (dist <= max_distance_m)
    if not band.any():
        return (f"The composite holds no ground {min_gap_m:.0f}-{max_distance_m:.0f} m "
                f"outside AOI {aoi.name!r}'s perimeter; build it over a wider area.")
    fails = {k[5:]: float(v[band].mean()) for k, v in stats.items() if k.startswith("fail:")}
    worst = sorted(fails.items(), key=lambda kv: -kv[1])[:3]
    why = ", ".join(f"{100 * share:.0f} % {name}" for name, share in worst)
    return (f"No {size_m:.0f} m square of bare, smooth ground lies {min_gap_m:.0f}-"
            f"{max_distance_m:.0f} m outside AOI {aoi.name!r}'s perimeter "
            f"({100 * float(good[band].mean()):.0f} % of its pixels pass; failing: {why}). "
            "Try a smaller size_m, a larger max_distance_m, or draw a control zone by hand.")
