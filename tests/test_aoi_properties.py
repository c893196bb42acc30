"""Property tests: AOI parsing never fails except with a GeoError; grid arithmetic holds."""

from __future__ import annotations

import json
import math
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo import errors
from geo.aoi import KINDS, from_geojson
from geo.grid import align_bounds, s2_tile, s2_tiles, utm_epsg

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
lon = st.floats(-179.5, 179.5)
lat = st.floats(-79.0, 83.0)  # the UTM / MGRS latitude range


def _feature(name: str, kind: str, ring: list[list[float]]) -> dict:
    return {"type": "Feature", "properties": {"name": name, "kind": kind},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


@st.composite
def fuzzy_geojson(draw: st.DrawFn) -> object:
    """Anything from garbage to nearly right AOIs."""
    n = draw(st.integers(0, 4))
    features = []
    for i in range(n):
        ring = draw(st.lists(st.lists(finite, min_size=2, max_size=3), min_size=0, max_size=6))
        kind = draw(st.sampled_from([*KINDS, "aprn", ""]))
        name = draw(st.sampled_from([f"z{i}", "z0", ""]))
        features.append(_feature(name, kind, ring))
    top = draw(st.sampled_from(["FeatureCollection", "Feature", None]))
    return {"type": top, "features": features} if top else draw(st.none() | st.integers())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzzy_geojson())
def test_parsing_fails_only_with_geo_errors(obj):
    try:
        aoi = from_geojson(obj)  # type: ignore[arg-type]
    except errors.GeoError as exc:
        assert str(exc)  # every error says something
        assert isinstance(exc, ValueError)
    else:
        assert (aoi.zones["kind"] == "perimeter").sum() == 1


def _mgrs_exception(x: float, y: float) -> bool:
    """South-west Norway and Svalbard, where MGRS (and S2's tiles) bend the UTM zones."""
    return (56 <= y < 64 and 3 <= x < 12) or (72 <= y <= 84 and 0 <= x < 42)


@settings(max_examples=100, deadline=None)
@given(lon, lat, st.floats(100, 5000), st.floats(100, 5000))
def test_any_site_box_loads_on_the_grid_of_its_best_tile(x, y, w, h):
    dlon = w / (111_320 * max(math.cos(math.radians(y)), 0.1))
    dlat = h / 110_540
    perimeter = box(x, y, x + dlon, y + dlat)
    ring = [list(c) for c in perimeter.exterior.coords]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aoi = from_geojson({"type": "FeatureCollection",
                            "features": [_feature("p", "perimeter", ring)]})
    assert aoi.tiles, "every site lies in at least one Sentinel-2 tile"
    assert aoi.tiles[0] == max(aoi.tile_shares, key=lambda t: aoi.tile_shares[t])
    assert aoi.tile_shares[aoi.tiles[0]] == 1.0  # a site under 10 km fits in one tile
    assert aoi.epsg == s2_tile(aoi.tiles[0]).epsg
    assert sum(aoi.utm_zones.values()) == pytest.approx(1.0, abs=1e-5)
    crossing = [c for c in caught if issubclass(c.category, errors.GeoWarning)]
    assert bool(crossing) == (len(aoi.utm_zones) > 1)
    if len(aoi.utm_zones) == 1 and not _mgrs_exception(x, y):
        assert aoi.epsg == utm_epsg(perimeter.centroid.x, perimeter.centroid.y)
    round_trip = from_geojson(json.loads(json.dumps(aoi.to_geojson())))
    assert round_trip.zones.geometry.iloc[0].equals_exact(aoi.zones.geometry.iloc[0], 1e-12)


centimetres = st.integers(-10**8, 10**9).map(lambda v: v / 100)  # UTM metres, to the cm


@given(st.tuples(centimetres, centimetres, centimetres.map(abs), centimetres.map(abs)),
       st.sampled_from([10.0, 20.0, 60.0]))
def test_align_bounds_grows_outward_onto_the_lattice(raw, res):
    x, y, w, h = raw
    bounds = (x, y, x + w, y + h)
    out = align_bounds(bounds, res)
    assert out[0] <= bounds[0] and out[1] <= bounds[1]
    assert out[2] >= bounds[2] and out[3] >= bounds[3]
    assert all(math.isclose(v / res, round(v / res), abs_tol=1e-9) for v in out)
    assert out[2] - bounds[2] < res and bounds[0] - out[0] < res
    assert align_bounds(out, res) == out  # idempotent


@settings(max_examples=60, deadline=None)
@given(lon, lat)
def test_point_tile_contains_the_point(x, y):
    names = s2_tiles((x, y, x, y))
    assert names
    for name in names:
        tile = s2_tile(name)
        from pyproj import Transformer

        px, py = Transformer.from_crs(4326, tile.epsg, always_xy=True).transform(x, y)
        assert tile.contains(px, py)
        assert tile.x0 % 100_000 == 0 and tile.y1 % 100_000 == 0


def test_points_on_the_equator_get_a_tile():
    """mgrs names a square for a point just south of the equator that it cannot map back."""
    for x, y in ((0.0, -1.649126238157865e-08), (0.0, 0.0), (12.3, -1e-9)):
        names = s2_tiles((x, y, x, y))
        assert names


@settings(max_examples=60, deadline=None)
# Latitudes at GeoJSON precision (1e-7 deg): GEOS drops vertices at subnormal values.
@given(st.integers(1, 59), st.floats(-79.0, 83.0).map(lambda v: round(v, 7)), st.floats(0.05, 0.95),
       st.floats(500, 5000), st.floats(500, 5000))
def test_site_across_a_zone_boundary_warns_and_splits_by_longitude(zone, y, frac, w, h):
    boundary = -180.0 + 6.0 * zone  # between zones `zone` and `zone + 1`
    dlon = w / (111_320 * max(math.cos(math.radians(y)), 0.1))
    dlat = h / 110_540
    x = boundary - frac * dlon
    ring = [list(c) for c in box(x, y, x + dlon, y + dlat).exterior.coords]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aoi = from_geojson({"type": "FeatureCollection",
                            "features": [_feature("p", "perimeter", ring)]})
    # a lon/lat box's area is proportional to its width in longitude
    assert aoi.utm_zones[zone] == pytest.approx(frac, abs=1e-4)
    assert aoi.utm_zones[zone + 1] == pytest.approx(1 - frac, abs=1e-4)
    messages = [str(c.message) for c in caught if issubclass(c.category, errors.GeoWarning)]
    assert len(messages) == 1
    assert f"UTM zones {zone} and {zone + 1}" in messages[0]
    assert f"EPSG:{aoi.epsg}" in messages[0]
    if not _mgrs_exception(x, y):
        assert aoi.epsg % 100 in (zone, zone + 1)
    assert aoi.tile_shares[aoi.tiles[0]] == max(aoi.tile_shares.values())
