"""Airfields by ICAO code (shipped OurAirports runways) and controls picked from imagery.

Real airports are used for each case (found in the shipped table, data of 2026-08-22):
OAIX (Bagram, rows with lengths/widths swapped), OAKN (Kandahar, one runway), BGSG
(Sermiligaaq heliport, no rows), OYHD (Hodeidah, only runway closed), PALH (Lake Hood,
water runways only), BIRK (Reykjavik, one of three closed), PAFA (Fairbanks, one water
runway), CCP2 (Botwood, one of two runways without end coordinates), 00AK (Lowell
Field, no end coordinates at all), K01J (Hilliard Airpark, listed by its FAA id 01J).
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from affine import Affine
from pyproj import CRS, Transformer

from geo import errors
from geo.aoi import (
    AOI,
    AOI_DIR,
    RUNWAY_COLUMNS,
    RUNWAY_TABLE,
    from_geojson,
    from_icao,
    from_runways,
    pick_controls,
    read_runways,
    runway_rows,
)

# --- the shipped table --------------------------------------------------------------


def _rows(text: str) -> list[tuple[str, ...]]:
    reader = csv.DictReader(io.StringIO(text))
    return [tuple(row[c] for c in RUNWAY_COLUMNS) for row in reader]


def test_shipped_table_equals_the_real_rows(real_fixtures: Path) -> None:
    source = (real_fixtures / "ourairports" / "runways.csv").read_text(encoding="utf-8")
    shipped = gzip.decompress(RUNWAY_TABLE.read_bytes()).decode("utf-8")
    assert _rows(shipped) == _rows(source)


def test_make_runway_table_regenerates_the_shipped_bytes(real_fixtures: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_runway_table", AOI_DIR / "make_runway_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build_table(real_fixtures / "ourairports" / "runways.csv")
    assert built == RUNWAY_TABLE.read_bytes()  # deterministic (gzip mtime 0)


def test_shipped_table_is_small_and_licensed() -> None:
    assert RUNWAY_TABLE.stat().st_size < 1_500_000
    licence = RUNWAY_TABLE.with_name("OURAIRPORTS_LICENSE.txt").read_text()
    assert "public domain" in licence
    assert "1fb3eea05228ec98d700f4bcfa68e8fc364ca0e5" in RUNWAY_TABLE.with_name(
        "README.md").read_text()


# --- from_icao ------------------------------------------------------------------------


def _utm(aoi_zones: gpd.GeoDataFrame, epsg: int) -> dict[str, shapely.Geometry]:
    return dict(zip(aoi_zones["name"], aoi_zones.to_crs(epsg).geometry, strict=True))


def test_oaix_matches_the_fixture_rows_and_reports_the_swap(real_fixtures: Path) -> None:
    with pytest.warns(errors.RunwayLengthMismatch, match="look swapped") as record:
        aoi = from_icao("oaix")
    assert sum(issubclass(w.category, errors.RunwayLengthMismatch) for w in record) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.RunwayLengthMismatch)
        ref = from_runways(real_fixtures / "airfield" / "ourairports_OAIX_runways.csv", "OAIX")
    got, want = _utm(aoi.zones, aoi.epsg), _utm(ref.zones, aoi.epsg)
    assert set(got) == set(want) == {"perimeter", "runway_03L_21R", "runway_03R_21L"}
    for name, geom in want.items():
        assert got[name].hausdorff_distance(geom) < 0.5, name  # metres
    assert aoi.name == "oaix" and aoi.epsg == ref.epsg
    assert aoi.properties["site"].startswith("Bagram")


def test_oaix_runways_agree_with_the_shipped_bagram_aoi() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.RunwayLengthMismatch)
        aoi = from_icao("OAIX")
    bagram = gpd.read_file(AOI_DIR / "bagram.geojson")
    ours = aoi.zones[aoi.zones["kind"] == "runway"].to_crs(aoi.epsg)
    theirs = bagram[bagram["kind"] == "runway"].to_crs(aoi.epsg)
    # Same ends (hand-built AOI uses published widths): centroids agree to a metre.
    for geom in theirs.geometry:
        assert ours.geometry.centroid.distance(geom.centroid).min() < 1.0
    assert ours.geometry.union_all().within(aoi.zones_utm().geometry.iloc[0])


def test_oakn_from_the_code_alone() -> None:
    rows = runway_rows("OAKN")
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.GeoWarning)
        aoi = from_icao("OAKN", margin_m=500)
    utm = aoi.zones_utm().set_index("name")
    runway = utm.loc[f"runway_{rows['le_ident'][0]}_{rows['he_ident'][0]}", "geometry"]
    stated_len = float(rows["length_ft"][0]) * 0.3048
    stated_width = float(rows["width_ft"][0]) * 0.3048
    rect = runway.minimum_rotated_rectangle
    sides = sorted({round(a.distance(b), 1) for a, b in zip(
        [shapely.Point(c) for c in rect.exterior.coords[:-1]],
        [shapely.Point(c) for c in rect.exterior.coords[1:]], strict=True)})
    assert sides[0] == pytest.approx(stated_width, rel=0.01)
    assert sides[-1] == pytest.approx(stated_len, rel=0.02)
    # The perimeter is the runway grown by the margin asked for.
    gap = utm.loc["perimeter", "geometry"].exterior.distance(runway)
    assert gap == pytest.approx(500, abs=1)
    assert aoi.properties["icao"] == "OAKN" and "Kandahar" in aoi.properties["site"]
    assert "public domain" in aoi.properties["runways_source"]


def test_margin_grows_the_perimeter() -> None:
    small, large = from_icao("OAKN", margin_m=300), from_icao("OAKN", margin_m=1500)
    assert small.perimeter.within(large.perimeter)
    assert large.zones_utm().area.iloc[0] > 2 * small.zones_utm().area.iloc[0]


def test_unknown_code_suggests_close_codes() -> None:
    with pytest.raises(errors.RunwayDataError, match="OAKN") as info:
        from_icao("OAKX")
    assert "ourairports.com" in str(info.value)
    with pytest.raises(errors.RunwayDataError, match="'QQQQ'"):
        from_icao("QQQQ")


def test_heliport_without_runway_rows() -> None:
    with pytest.raises(errors.RunwayDataError, match=r"BGSG .*heliport"):
        from_icao("BGSG")


@pytest.mark.parametrize(("code", "why"), [("OYHD", "closed"), ("PALH", "water")])
def test_no_usable_runway_left(code: str, why: str) -> None:
    with pytest.warns(errors.GeoWarning, match=why), \
            pytest.raises(errors.RunwayDataError, match=f"no usable runway: .*{why}"):
        from_icao(code)


@pytest.mark.filterwarnings("ignore::geo.errors.RunwayLengthMismatch")  # PAFA 02R/20L
@pytest.mark.parametrize(("code", "why"), [("BIRK", "closed"), ("PAFA", "water")])
def test_closed_or_water_runways_are_left_out(code: str, why: str) -> None:
    rows = runway_rows(code)
    left_out = (rows["closed"] == "1") if why == "closed" else rows["surface"].str.upper(
    ).str.contains("WAT")
    with pytest.warns(errors.GeoWarning, match=why) as record:
        aoi = from_icao(code)
    named = [w for w in record if why in str(w.message)]
    for row in rows[left_out].itertuples():
        assert f"{row.le_ident}/{row.he_ident}" in str(named[0].message)
    assert (aoi.zones["kind"] == "runway").sum() == int((~left_out).sum())


def test_a_numeric_dataframe_is_read_like_the_shipped_text() -> None:
    frame = pd.read_csv(RUNWAY_TABLE)  # numbers parsed, NaN for blanks
    with pytest.warns(errors.GeoWarning, match="closed"):
        aoi = from_icao("BIRK", runways=frame[frame["airport_ident"] == "BIRK"])
    with pytest.warns(errors.GeoWarning, match="closed"):
        shipped = from_icao("BIRK")
    assert sorted(aoi.zones["name"]) == sorted(shipped.zones["name"])
    assert aoi.properties["runways_source"] == "runway table passed as a DataFrame"


def test_rows_without_ends_are_skipped_with_a_warning() -> None:
    rows = runway_rows("CCP2")
    no_ends = rows[rows["le_latitude_deg"] == ""].iloc[0]
    with pytest.warns(errors.GeoWarning, match=f"{no_ends.le_ident}/{no_ends.he_ident}"):
        aoi = from_icao("CCP2")
    assert (aoi.zones["kind"] == "runway").sum() == (rows["le_latitude_deg"] != "").sum()
    with pytest.warns(errors.GeoWarning), \
            pytest.raises(errors.RunwayDataError, match="without both ends"):
        from_icao("00AK")


def test_custom_table_fills_ends_and_missing_width(tmp_path: Path) -> None:
    rows = runway_rows("CCP2")
    fixed = rows.copy()
    missing = fixed["le_latitude_deg"] == ""
    fixed.loc[missing, list(RUNWAY_COLUMNS[6:8])] = ["49.0500", "-55.4600"]
    fixed.loc[missing, list(RUNWAY_COLUMNS[9:11])] = ["49.0560", "-55.4480"]
    fixed.loc[missing, "width_ft"] = ""
    path = tmp_path / "runways.csv"
    fixed.to_csv(path, index=False)
    with pytest.warns(errors.GeoWarning, match="no width"):
        aoi = from_icao("CCP2", runways=path)
    assert (aoi.zones["kind"] == "runway").sum() == len(rows)
    assert str(path) in aoi.properties["runways_source"]


def test_faa_id_of_a_us_field_is_found_through_airportsdata() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.RunwayLengthMismatch)
        aoi = from_icao("K01J")
    assert aoi.properties["ident"] == "01J"
    assert (aoi.zones["kind"] == "runway").sum() >= 1


def test_existing_from_runways_behaviour_kept(real_fixtures: Path) -> None:
    rows = read_runways(real_fixtures / "airfield" / "ourairports_OAIX_runways.csv", "OAIX")
    with pytest.warns(errors.RunwayLengthMismatch):
        aoi = from_runways(rows, "OAIX", name="bagram_runways")
    assert aoi.name == "bagram_runways" and aoi.properties["icao"] == "OAIX"


# --- pick_controls on a synthetic composite -------------------------------------------

EPSG = 32642
X0, Y0, RES, SIZE = 520_000.0, 3_870_000.0, 10.0, 500
TRANSFORM = Affine(RES, 0, X0, 0, -RES, Y0)
# (row0, row1, col0, col1) of each patch on the 500 x 500 grid (5 km square)
PERIMETER = (200, 300, 200, 300)
BARE = [(60, 140, 330, 410), (360, 440, 330, 410)]
TURBID_WATER = (330, 410, 60, 140)  # smooth, not green, dull: water only by MNDWI
SALT = (60, 140, 60, 140)  # smooth and bare but too bright
FAR_BARE = (0, 40, 460, 500)  # bare but cut off by max_distance_m in one test
LAKE, TOWN = (0, 50, 150, 300), (440, 500, 0, 200)


def _paint(bands: dict[str, np.ndarray], box: tuple[int, int, int, int],
           values: dict[str, float], noise: float, rng: np.random.Generator) -> None:
    r0, r1, c0, c1 = box
    for band, value in values.items():
        bands[band][r0:r1, c0:c1] = value * (1 + noise * rng.standard_normal((r1 - r0, c1 - c0)))


def _composite(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    stripes = np.tile((np.arange(SIZE) // 8 % 2)[None, :], (SIZE, 1)).astype(float)
    bands = {  # fields: green, striped by crop rows
        "green": 0.06 + 0.02 * stripes, "red": 0.04 + 0.03 * stripes,
        "nir": 0.38 - 0.08 * stripes, "swir16": 0.20 + 0.04 * stripes,
    }
    bare = {"green": 0.17, "red": 0.21, "nir": 0.25, "swir16": 0.31}
    for box in [*BARE, FAR_BARE, PERIMETER]:  # the airfield itself is bare too
        _paint(bands, box, bare, 0.01, rng)
    _paint(bands, TURBID_WATER, {"green": 0.18, "red": 0.15, "nir": 0.12, "swir16": 0.05}, 0.0, rng)
    _paint(bands, SALT, {"green": 0.62, "red": 0.64, "nir": 0.66, "swir16": 0.6}, 0.0, rng)
    _paint(bands, LAKE, {"green": 0.06, "red": 0.03, "nir": 0.02, "swir16": 0.01}, 0.02, rng)
    _paint(bands, TOWN, {"green": 0.2, "red": 0.22, "nir": 0.24, "swir16": 0.28}, 0.5, rng)
    return bands


def _box_geom(box: tuple[int, int, int, int]) -> shapely.Geometry:
    r0, r1, c0, c1 = box
    return shapely.box(X0 + c0 * RES, Y0 - r1 * RES, X0 + c1 * RES, Y0 - r0 * RES)


@pytest.fixture(scope="module")
def site() -> AOI:
    to_ll = Transformer.from_crs(EPSG, 4326, always_xy=True)
    ring = [list(to_ll.transform(x, y)) for x, y in _box_geom(PERIMETER).exterior.coords]
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "name": "perimeter", "kind": "perimeter"}, "geometry": {"type": "Polygon",
                                                               "coordinates": [ring]}}]}
    return from_geojson(fc, name="synthetic")


def _controls(aoi: AOI) -> gpd.GeoDataFrame:
    return aoi.zones[aoi.zones["kind"] == "control"].to_crs(EPSG)


def test_pick_controls_finds_the_bare_patches(site: AOI) -> None:
    out = pick_controls(site, _composite(), TRANSFORM, EPSG, n=2, size_m=300)
    controls = _controls(out)
    assert len(controls) == 2
    patches = [_box_geom(b) for b in [*BARE, FAR_BARE]]  # all within 3 km of the site
    hits = [int(np.argmax([g.intersection(p).area for p in patches]))
            for g in controls.geometry]
    assert len(set(hits)) == 2  # two different bare patches, not one patch twice
    perimeter = _box_geom(PERIMETER)
    for geom, patch in zip(controls.geometry, [patches[h] for h in hits], strict=True):
        assert geom.difference(patch).area < 0.01 * geom.area
        assert geom.distance(perimeter) >= 250 - RES
        assert geom.area == pytest.approx(310**2, rel=0.02)  # 31 px of 10 m, odd window
    assert controls["source"].str.startswith("picked from imagery").all()
    assert (controls["ndvi"] < 0.2).all()
    assert set(out.zones["name"]) >= {"perimeter", "control_picked_1", "control_picked_2"}


def test_without_green_turbid_water_can_pass_but_not_with_it(site: AOI) -> None:
    bands = _composite()
    water = _box_geom(TURBID_WATER)
    no_green = {k: v for k, v in bands.items() if k != "green"}
    blind = _controls(pick_controls(site, no_green, TRANSFORM, EPSG, n=3, size_m=300))
    seeing = _controls(pick_controls(site, bands, TRANSFORM, EPSG, n=3, size_m=300))
    # Perfectly smooth turbid water looks like the best bare ground without a green band.
    assert any(g.intersects(water) for g in blind.geometry)
    assert not any(g.intersects(water) for g in seeing.geometry)


def test_distance_limit_and_fewer_than_asked(site: AOI) -> None:
    with pytest.warns(errors.GeoWarning, match="only 2 of the 3"):
        out = pick_controls(site, _composite(), TRANSFORM, EPSG, n=3, size_m=300,
                            max_distance_m=1500)
    far = _box_geom(FAR_BARE)
    controls = _controls(out)
    assert not any(g.intersects(far) for g in controls.geometry)
    for geom in controls.geometry:  # both near patches found instead
        assert any(geom.within(_box_geom(b)) for b in BARE)


def test_dataset_input_gives_the_same_controls(site: AOI) -> None:
    bands = _composite()
    x = X0 + RES * (np.arange(SIZE) + 0.5)
    y = Y0 - RES * (np.arange(SIZE) + 0.5)
    ds = xr.Dataset({k: (("y", "x"), v) for k, v in bands.items()},
                    coords={"x": x, "y": y, "spatial_ref": ((), 0, {
                        "crs_wkt": CRS.from_epsg(EPSG).to_wkt()})})
    from_arrays = _controls(pick_controls(site, bands, TRANSFORM, EPSG, size_m=300))
    from_ds = _controls(pick_controls(site, ds, size_m=300))
    for a, b in zip(from_arrays.geometry, from_ds.geometry, strict=True):
        assert a.hausdorff_distance(b) < 0.01


def test_replace_drops_old_controls_and_names_stay_unique(site: AOI) -> None:
    once = pick_controls(site, _composite(), TRANSFORM, EPSG, n=1, size_m=300)
    twice = pick_controls(once, _composite(), TRANSFORM, EPSG, n=1, size_m=300)
    assert sorted(_controls(twice)["name"]) == ["control_picked_1", "control_picked_2"]
    replaced = pick_controls(twice, _composite(), TRANSFORM, EPSG, n=1, size_m=300,
                             replace=True)
    assert _controls(replaced)["name"].tolist() == ["control_picked_1"]


def test_no_bare_ground_is_an_error_that_says_why(site: AOI) -> None:
    bands = _composite()
    fields = {k: np.full((SIZE, SIZE), v[250, 0]) for k, v in bands.items()}  # all crops
    with pytest.raises(errors.AnalysisError, match="vegetated"):
        pick_controls(site, fields, TRANSFORM, EPSG)


def test_bad_composites_are_named(site: AOI) -> None:
    bands = _composite()
    with pytest.raises(errors.AnalysisError, match="swir16"):
        pick_controls(site, {k: v for k, v in bands.items() if k != "swir16"}, TRANSFORM, EPSG)
    with pytest.raises(errors.AnalysisError, match="transform="):
        pick_controls(site, bands)
    elsewhere = Affine(RES, 0, X0 + 50_000, 0, -RES, Y0)
    with pytest.raises(errors.AnalysisError, match="does not cover"):
        pick_controls(site, bands, elsewhere, EPSG)


def test_picked_controls_survive_a_geojson_round_trip(site: AOI) -> None:
    out = pick_controls(site, _composite(), TRANSFORM, EPSG, size_m=300)
    again = from_geojson(out.to_geojson(), name=out.name)
    assert pd.Series(again.zones["kind"]).eq("control").sum() == 2


def test_aoi_show_draws_an_airfield_from_its_code(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from geo.cli import app

    out = tmp_path / "oakn.png"
    result = CliRunner().invoke(app, ["aoi", "show", "OAKN", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "runways and perimeter from OurAirports" in result.output
    assert out.exists() and out.stat().st_size > 10_000
    unknown = CliRunner().invoke(app, ["aoi", "show", "QQQQ"])
    assert unknown.exit_code != 0 and "Traceback" not in unknown.output
