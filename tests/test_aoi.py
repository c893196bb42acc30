"""The AOI model: Bagram's facts, validation of user GeoJSON, airfields from runways."""

from __future__ import annotations

import copy
import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod
from typer.testing import CliRunner

import geo
from geo import errors
from geo.aoi import from_geojson, from_runways, load, read_runways
from geo.cli import app

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def bagram() -> geo.AOI:
    return load("bagram")


def _long_axis(poly: Any) -> tuple[float, float]:
    """Length (m) and true azimuth (deg) of a rectangle's long axis, from its corners."""
    rect = poly.minimum_rotated_rectangle
    pts = list(rect.exterior.coords)[:4]
    sides = []
    for a, b in zip(pts, pts[1:] + pts[:1], strict=True):
        az, _, dist = GEOD.inv(a[0], a[1], b[0], b[1])
        sides.append((dist, az % 180))
    return max(sides)


@pytest.mark.parametrize(("zone", "length", "width"), [
    ("runway_east_03R_21L", 3604.0, 46.0),
    ("runway_west_03L_21R", 2955.0, 26.0),
])
def test_bagram_runways_match_published_facts(bagram, zone, length, width):
    measured, azimuth = _long_axis(bagram.zone(zone))
    assert measured == pytest.approx(length, rel=0.01)
    assert abs(azimuth - 29.8) < 1.0
    area = abs(GEOD.geometry_area_perimeter(bagram.zone(zone))[0])
    assert area / measured == pytest.approx(width, rel=0.05)


def test_bagram_west_runway_is_west_and_parallel(bagram):
    east = bagram.zones_utm().set_index("name").geometry
    offset = east["runway_west_03L_21R"].centroid.distance(east["runway_east_03R_21L"].centroid)
    assert east["runway_west_03L_21R"].centroid.x < east["runway_east_03R_21L"].centroid.x
    assert 50 < offset < 400


def test_bagram_crs_tile_and_bounds(bagram):
    assert bagram.epsg == 32642
    assert bagram.tiles == ["42SWD"]
    w, s, e, n = bagram.bounds
    assert w < 69.265 < e and s < 34.946 < n
    assert bagram.perimeter.contains(
        __import__("shapely").geometry.Point(69.26500, 34.94611)
    )


def test_bagram_zones_inside_perimeter_or_control(bagram):
    perim = bagram.zones_utm().set_index("name").geometry["perimeter"].buffer(1.0)
    for row in bagram.zones_utm().itertuples():
        if row.kind == "control":
            assert not row.geometry.intersects(perim), f"control {row.name} should be off-site"
        else:
            assert perim.contains(row.geometry), row.name


def test_bagram_has_the_zones_a_review_needs(bagram):
    kinds = bagram.zones.groupby("kind")["name"].apply(list).to_dict()
    assert len(kinds["runway"]) == 2
    assert len(kinds["hangar"]) == 3
    assert len(kinds["apron"]) >= 4 and kinds["parking"] and kinds["yard"]
    assert kinds["control"] and kinds["taxiway"] and kinds["revetment"]
    approximate = bagram.zones[bagram.zones["kind"].isin(["apron", "parking", "yard"])]
    assert approximate["source"].str.contains("approximate").all()
    area = bagram.summary().set_index("name").loc["perimeter", "area_ha"] / 100
    assert 18 <= area <= 25  # quoted base area 20-25 km^2


def test_geojson_round_trip(bagram, tmp_path):
    path = tmp_path / "copy.geojson"
    path.write_text(json.dumps(bagram.to_geojson()))
    again = load(path)
    assert list(again.zones["name"]) == list(bagram.zones["name"])
    assert again.zones.geometry.geom_equals_exact(bagram.zones.geometry, 1e-9).all()


# --- bad input, table-driven -------------------------------------------------------

SQUARE = [[69.26, 34.94], [69.27, 34.94], [69.27, 34.95], [69.26, 34.95], [69.26, 34.94]]
INNER = [[69.262, 34.942], [69.264, 34.942], [69.264, 34.944], [69.262, 34.944], [69.262, 34.942]]


def _fc(*features: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


def _zone(name: str, kind: str, ring: list[list[float]] | None = None, gtype: str = "Polygon",
          coords: Any = None) -> dict[str, Any]:
    geometry = {"type": gtype, "coordinates": coords if coords is not None else [ring or SQUARE]}
    return {"type": "Feature", "properties": {"name": name, "kind": kind, "source": "test"},
            "geometry": geometry}


def _without(feature: dict[str, Any], key: str) -> dict[str, Any]:
    f = copy.deepcopy(feature)
    del f["properties"][key]
    return f


PERIM = _zone("perimeter", "perimeter")
BOWTIE = [[69.26, 34.94], [69.27, 34.95], [69.27, 34.94], [69.26, 34.95], [69.26, 34.94]]
FAR = [[69.30, 34.94], [69.31, 34.94], [69.31, 34.95], [69.30, 34.95], [69.30, 34.94]]
HUGE = [[69.0, 34.5], [70.0, 34.5], [70.0, 35.5], [69.0, 35.5], [69.0, 34.5]]
SWAPPED = [[p[1], p[0]] for p in SQUARE]
SWAPPED_OUT = [[34.94, 169.26], [34.95, 169.26], [34.95, 169.27], [34.94, 169.27], [34.94, 169.26]]
METRES = [[524000, 3866000], [525000, 3866000], [525000, 3867000], [524000, 3867000], [524000, 3866000]]


def _oaix_swapped() -> dict[str, Any]:
    """An airfield drawn in [lat, lon] order: every value stays in range."""
    bag = load("bagram").to_geojson()
    for f in bag["features"]:
        # shapely's mapping() gives tuples; a JSON round trip makes them lists to swap in place
        f["geometry"]["coordinates"] = json.loads(json.dumps(f["geometry"]["coordinates"]))
        _swap(f["geometry"]["coordinates"])
    return bag


def _swap(coords: Any) -> None:
    for i, c in enumerate(coords):
        if isinstance(c[0], (int, float)):
            coords[i] = [c[1], c[0]]
        else:
            _swap(c)


BAD = [
    ("not a feature collection", {"type": "Feature", "geometry": None}, errors.InvalidGeoJSON,
     "FeatureCollection"),
    ("no features", _fc(), errors.InvalidGeoJSON, "no features"),
    ("projected crs member", _fc(PERIM, crs={"type": "name", "properties": {"name": "EPSG:32642"}}),
     errors.UnsupportedCRS, "EPSG:4326"),
    ("missing kind", _fc(_without(PERIM, "kind")), errors.MissingProperty, "'kind'"),
    ("missing name", _fc(_without(PERIM, "name")), errors.MissingProperty, "'name'"),
    ("unknown kind", _fc(PERIM, _zone("a", "aprn", INNER)), errors.UnknownZoneKind, "'apron'"),
    ("null geometry", _fc({"type": "Feature", "properties": {"name": "p", "kind": "perimeter"},
                           "geometry": None}), errors.EmptyGeometry, "no geometry"),
    ("empty coordinates", _fc(_zone("p", "perimeter", coords=[])), errors.EmptyGeometry,
     "no geometry"),
    ("point zone", _fc(PERIM, _zone("pt", "apron", gtype="Point", coords=[69.26, 34.94])),
     errors.UnsupportedGeometry, "Polygon"),
    ("self-intersecting ring", _fc(_zone("p", "perimeter", BOWTIE)), errors.InvalidGeometry,
     "Self-intersection"),
    ("swapped, out of range", _fc(_zone("p", "perimeter", SWAPPED_OUT)), errors.SwappedCoordinates,
     "[lon, lat]"),
    ("swapped airfield, in range", _oaix_swapped(), errors.SwappedCoordinates, "OAIX"),
    ("projected metres", _fc(_zone("p", "perimeter", METRES)), errors.CoordinatesOutOfRange,
     "EPSG:4326"),
    ("no perimeter", _fc(_zone("a", "apron")), errors.NoPerimeter, "exactly one"),
    ("two perimeters", _fc(PERIM, _zone("p2", "perimeter")), errors.NoPerimeter, "exactly one"),
    ("duplicate names", _fc(PERIM, _zone("a", "apron", INNER), _zone("a", "parking", INNER)),
     errors.DuplicateZoneName, "'a'"),
    ("zone outside perimeter", _fc(PERIM, _zone("far", "apron", FAR)),
     errors.ZoneOutsidePerimeter, "'control'"),
    ("country-sized", _fc(_zone("p", "perimeter", HUGE)), errors.AOITooLarge, "allow_large"),
    ("two-point ring", _fc(_zone("p", "perimeter", coords=[[[69.26, 34.94], [69.27, 34.95]]])),
     errors.InvalidGeometry, "four"),
    ("text coordinates", _fc(_zone("p", "perimeter", coords=[[["a", "b"]] * 4])),
     errors.InvalidGeometry, "numbers"),
]


@pytest.mark.parametrize(("label", "obj", "exc", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_aoi_gives_its_own_clear_error(label, obj, exc, needle, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(obj))
    with pytest.raises(exc) as info:
        load(path)
    assert type(info.value) is exc, f"{label}: got {type(info.value).__name__}"
    message = str(info.value)
    assert needle in message
    assert str(path) in message or "bad.geojson" in message or label.startswith("swapped airfield")
    assert info.value.__cause__ is None or isinstance(info.value.__cause__, errors.GeoError)


def test_bad_input_classes_are_distinct_and_builtin_catchable():
    classes = {b[2] for b in BAD}
    assert len(classes) >= 12
    assert all(issubclass(c, errors.GeoError) and issubclass(c, ValueError) for c in classes)


def test_not_json_and_missing_file(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{ not json")
    with pytest.raises(errors.InvalidGeoJSON, match="line 1"):
        load(path)
    with pytest.raises(FileNotFoundError, match="bagram"):
        load(tmp_path / "missing.geojson")
    with pytest.raises(errors.AOINotFound, match="neither a built-in"):
        load("no-such-site")


def test_large_area_allowed_when_asked():
    aoi = from_geojson(_fc(_zone("p", "perimeter", HUGE)), allow_large=True)
    assert aoi.epsg == 32642


def test_control_zone_may_lie_outside():
    aoi = from_geojson(_fc(PERIM, _zone("ctl", "control", FAR)))
    assert set(aoi.zones["kind"]) == {"perimeter", "control"}


# --- airfields from runway rows ------------------------------------------------------


def test_from_runways_warns_on_oaix_length_mismatch(real_fixtures: Path):
    csv = real_fixtures / "airfield" / "ourairports_OAIX_runways.csv"
    with pytest.warns(errors.RunwayLengthMismatch, match="look swapped") as record:
        aoi = from_runways(csv, "OAIX")
    assert len([w for w in record if issubclass(w.category, errors.RunwayLengthMismatch)]) == 2
    assert aoi.epsg == 32642 and aoi.tiles == ["42SWD"]
    runways = aoi.zones[aoi.zones["kind"] == "runway"]
    lengths = sorted(_long_axis(g)[0] for g in runways.geometry)
    assert lengths == [pytest.approx(2955, rel=0.01), pytest.approx(3604, rel=0.01)]
    assert aoi.properties["reference_point"] == [pytest.approx(69.265, abs=1e-3),
                                                 pytest.approx(34.946, abs=1e-3)]


def test_from_runways_matched_widths_fix_swapped_rows(real_fixtures: Path):
    rows = read_runways(real_fixtures / "airfield" / "ourairports_OAIX_runways.csv", "OAIX")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.RunwayLengthMismatch)
        aoi = from_runways(rows, "OAIX", width_from="matched")
    geod_area = {r.name: abs(GEOD.geometry_area_perimeter(r.geometry)[0]) / _long_axis(r.geometry)[0]
                 for r in aoi.zones[aoi.zones["kind"] == "runway"].itertuples()}
    widths = sorted(geod_area.values())
    assert widths == [pytest.approx(85 * 0.3048, rel=0.05), pytest.approx(151 * 0.3048, rel=0.05)]


def test_from_runways_consistent_rows_do_not_warn(tmp_path):
    le, he = (34.93170, 69.25610), (34.95990, 69.27570)
    _, _, dist = GEOD.inv(le[1], le[0], he[1], he[0])
    csv = tmp_path / "runways.csv"
    csv.write_text(
        "airport_ident,length_ft,width_ft,le_ident,le_latitude_deg,le_longitude_deg,"
        "he_ident,he_latitude_deg,he_longitude_deg\n"
        f"OAIX,{dist / 0.3048:.0f},151,03R,{le[0]},{le[1]},21L,{he[0]},{he[1]}\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.RunwayLengthMismatch)
        aoi = from_runways(csv, "OAIX")
    assert math.isclose(_long_axis(aoi.zone("runway_03R_21L"))[0], dist, rel_tol=0.01)


def test_from_runways_unknown_airport(tmp_path):
    with pytest.raises(errors.RunwayDataError, match="No runway rows"):
        from_runways(tmp_path.joinpath("x.csv").write_text(
            "airport_ident,length_ft,width_ft,le_ident,le_latitude_deg,le_longitude_deg,"
            "he_ident,he_latitude_deg,he_longitude_deg\n") and tmp_path / "x.csv", "ZZZZ")


# --- the command line -----------------------------------------------------------------


def test_cli_aoi_show_prints_zones_and_writes_map(tmp_path):
    out = tmp_path / "zones.png"
    result = CliRunner().invoke(app, ["aoi", "show", "bagram", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "apron_central" in result.output and "42SWD" in result.output
    assert out.stat().st_size > 20_000
    from PIL import Image

    image = Image.open(out).convert("L")
    assert len(image.getcolors(maxcolors=100000) or []) > 20  # drawn, not blank


def test_cli_aoi_show_lists_tiles_with_shares_and_zones(tmp_path):
    """A site across UTM zones 28/29 (longitude -12): every tile with its share, both zones."""
    ring = [[-12.06, 26.70], [-11.98, 26.70], [-11.98, 26.73], [-12.06, 26.73], [-12.06, 26.70]]
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
          "properties": {"name": "site", "kind": "perimeter"},
          "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    path = tmp_path / "edge.geojson"
    path.write_text(json.dumps(fc))
    with pytest.warns(errors.GeoWarning, match="UTM zones 28 and 29"):
        area = load(path)
    assert len(area.tiles) >= 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GeoWarning)
        result = CliRunner().invoke(app, ["aoi", "show", str(path), "--out",
                                          str(tmp_path / "z.png")])
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line for line in result.output.splitlines()
            if line.startswith("│") and any(t in line for t in area.tiles)}
    assert set(rows) == set(area.tiles)
    for tile, share in area.tile_shares.items():
        assert f"{100 * share:.1f} %" in rows[tile]
        assert str(area.epsg) in rows[tile] or tile != area.tiles[0]
    assert "yes" in rows[area.tiles[0]]
    assert "UTM zones: 28 (75.0 %), 29 (25.0 %)" in result.output


def test_cli_aoi_show_bad_input_is_one_clear_line(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "geo.cli", "aoi", "show", "nowhere"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "neither a built-in" in result.stderr


def test_airport_table_holds_every_airport_of_airportsdata() -> None:
    import airportsdata

    from geo.aoi import _airports

    table = airportsdata.load("ICAO")
    lats, lons, codes = _airports()
    assert set(codes) == set(table)
    i = codes.index("OAIX")
    assert (lats[i], lons[i]) == (table["OAIX"]["lat"], table["OAIX"]["lon"])
