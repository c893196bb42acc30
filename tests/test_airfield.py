"""geo.airfield: paved zones found in a composite, the AOI made from a code or a box."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
import xarray as xr
from pyproj import Transformer
from typer.testing import CliRunner

import geo.aoi as aoi_mod
from geo import airfield, errors
from geo.cli import app
from geo.testing import accuracy

# --- a synthetic composite: a runway, a parallel taxiway, two aprons, soil, fields ----

X0, Y1, RES, EPSG = 520_000.0, 3_870_000.0, 10.0, 32642
SHAPE = (400, 320)
# reflectance (blue, green, red, nir, swir16, swir22) from typical library spectra
CONCRETE = (0.20, 0.22, 0.235, 0.255, 0.29, 0.26)
ASPHALT = (0.07, 0.08, 0.09, 0.11, 0.14, 0.13)
SOIL = (0.11, 0.15, 0.19, 0.24, 0.32, 0.28)  # iron-bearing: red/blue 1.7
CROP = (0.04, 0.08, 0.05, 0.40, 0.22, 0.11)
ROOF = (0.18, 0.19, 0.20, 0.22, 0.24, 0.22)  # grey, but not linked to the runway

# (row0, row1, col0, col1) in pixels, end exclusive
RUNWAY = (40, 360, 100, 105)          # 3.2 km x 50 m
TAXIWAY = (50, 350, 120, 123)         # 30 m wide, 170 m east of the runway centreline
CONNECTORS = [(50, 53, 105, 120), (200, 203, 105, 120), (347, 350, 105, 120)]
APRONS = {"a": (90, 110, 123, 153), "b": (250, 275, 123, 148)}  # 6 ha and 6.25 ha
FIELDS = (60, 200, 200, 300)
ROOFS = (300, 330, 250, 290)


def _paint(bands: np.ndarray, box: tuple[int, int, int, int], spectrum: tuple[float, ...]) -> None:
    r0, r1, c0, c1 = box
    bands[:, r0:r1, c0:c1] = np.asarray(spectrum)[:, None, None]


def _box_utm(box: tuple[int, int, int, int]) -> shapely.Polygon:
    r0, r1, c0, c1 = box
    return shapely.box(X0 + c0 * RES, Y1 - r1 * RES, X0 + c1 * RES, Y1 - r0 * RES)


def synthetic_composite(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    bands = np.empty((6, *SHAPE))
    bands[:] = np.asarray(SOIL)[:, None, None]
    _paint(bands, FIELDS, CROP)
    _paint(bands, ROOFS, ROOF)
    _paint(bands, RUNWAY, CONCRETE)
    _paint(bands, TAXIWAY, ASPHALT)
    for box in CONNECTORS:
        _paint(bands, box, ASPHALT)
    for box in APRONS.values():
        _paint(bands, box, CONCRETE)
    bands *= 1 + rng.normal(0, 0.02, SHAPE)  # texture of the ground
    bands += rng.normal(0, 0.004, bands.shape)  # sensor noise
    names = ("blue", "green", "red", "nir", "swir16", "swir22")
    x = X0 + (np.arange(SHAPE[1]) + 0.5) * RES
    y = Y1 - (np.arange(SHAPE[0]) + 0.5) * RES
    data = {n: (("y", "x"), bands[i].astype(np.float32)) for i, n in enumerate(names)}
    spread = np.full(SHAPE, 0.03)
    spread[FIELDS[0]:FIELDS[1], FIELDS[2]:FIELDS[3]] = 0.5
    peak = np.full(SHAPE, 0.12)
    peak[FIELDS[0]:FIELDS[1], FIELDS[2]:FIELDS[3]] = 0.7
    data.update(spread=(("y", "x"), spread), ndvi_peak=(("y", "x"), peak),
                clear_count=(("y", "x"), np.full(SHAPE, 12, dtype=np.int16)))
    return xr.Dataset(data, coords={"x": x, "y": y},
                      attrs={"crs": f"EPSG:{EPSG}", "start": "2021-01-01", "end": "2021-12-31"})


def _to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    fwd = Transformer.from_crs(EPSG, 4326, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1])))


def synthetic_site() -> aoi_mod.AOI:
    perimeter = _to_lonlat(_box_utm((5, 395, 5, 315)))
    runway = _to_lonlat(_box_utm(RUNWAY))
    feats = [{"type": "Feature", "geometry": shapely.geometry.mapping(g),
              "properties": {"name": n, "kind": k}}
             for n, k, g in (("perimeter", "perimeter", perimeter),
                             ("runway_01_19", "runway", runway))]
    return aoi_mod.from_geojson({"type": "FeatureCollection", "features": feats},
                                name="synthetic")


def _iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return a.intersection(b).area / a.union(b).area


@pytest.fixture(scope="module")
def found() -> aoi_mod.AOI:
    return airfield.find_zones(synthetic_composite(), synthetic_site())


def test_synthetic_aprons_found_with_good_overlap(found: aoi_mod.AOI) -> None:
    zones = found.zones_utm()
    aprons = zones[zones["kind"] == "apron"]
    assert len(aprons) == 2
    for box in APRONS.values():
        truth = _box_utm(box)
        assert max(_iou(truth, g) for g in aprons.geometry) >= 0.6


def test_synthetic_taxiway_is_a_taxiway_and_nothing_on_soil(found: aoi_mod.AOI) -> None:
    zones = found.zones_utm()
    taxiways = zones[zones["kind"] == "taxiway"].geometry.union_all()
    assert taxiways.intersection(_box_utm(TAXIWAY)).area >= 0.6 * _box_utm(TAXIWAY).area
    paved = shapely.union_all([_box_utm(b) for b in (RUNWAY, TAXIWAY, *CONNECTORS,
                                                      *APRONS.values())]).buffer(RES)
    for geom in zones[zones["kind"].isin(["apron", "taxiway"])].geometry:
        assert geom.difference(paved).area <= 0.05 * geom.area
    assert zones[zones["kind"] == "apron"].geometry.union_all().intersection(
        _box_utm(ROOFS)).is_empty


def test_found_zones_carry_source_and_confidence(found: aoi_mod.AOI) -> None:
    new = found.zones[found.zones["name"].str.contains("_found_")]
    assert (new["source"] == "found in imagery 2021-01-01 to 2021-12-31").all()
    assert new["confidence"].between(0, 1).all()
    assert (new["confidence"] > 0.5).all()  # clean synthetic evidence is strong


def test_found_aoi_round_trips_through_geojson(found: aoi_mod.AOI, tmp_path: Path) -> None:
    path = tmp_path / "found.geojson"
    path.write_text(json.dumps(found.to_geojson()))
    back = aoi_mod.load(path)
    assert list(back.zones["name"]) == list(found.zones["name"])
    assert back.zones["confidence"].dropna().tolist() == found.zones["confidence"].dropna().tolist()


def test_soil_alone_gives_no_paved_pixels() -> None:
    comp = synthetic_composite()
    ev = airfield.paved_evidence(comp)
    soil = np.zeros(SHAPE, dtype=bool)
    soil[:, 200:] = True
    soil[FIELDS[0]:FIELDS[1], FIELDS[2]:FIELDS[3]] = False
    soil[ROOFS[0]:ROOFS[1], ROOFS[2]:ROOFS[3]] = False
    assert ev["paved"][soil].mean() < 0.01
    assert ev["fail:reddish like soil"][soil].mean() > 0.95


def test_runway_found_in_imagery_for_a_box() -> None:
    comp = synthetic_composite()
    site = synthetic_site()
    w, s, e, n = site.perimeter.bounds
    box = airfield.bbox_aoi((w, s, e, n), name="box")
    out = airfield.find_runways(comp, box).zones_utm()
    runways = out[out["kind"] == "runway"]
    assert len(runways) == 1
    assert _iou(runways.geometry.iloc[0], _box_utm(RUNWAY)) >= 0.6


def test_find_zones_needs_runways() -> None:
    box = airfield.bbox_aoi("69.24,34.92,69.26,34.94", name="box")
    with pytest.raises(errors.AnalysisError, match="no runway zone"):
        airfield.find_zones(synthetic_composite(), box)


@pytest.mark.parametrize("bbox, error", [
    ("69.24,34.92,69.29", errors.InvalidGeometry),
    ("69.29,34.92,69.24,34.97", errors.InvalidGeometry),
    ("a,b,c,d", errors.InvalidGeometry),
    ("69.24,95,69.29,96", errors.CoordinatesOutOfRange),
    ("68.0,34.0,70.0,36.0", errors.AOITooLarge),
])
def test_bad_bbox_errors(bbox: str, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"(W,S,E,N|km\^2|longitude)"):
        airfield.bbox_aoi(bbox)


def test_bbox_needs_a_name() -> None:
    with pytest.raises(errors.MissingProperty, match="--name"):
        airfield.make_aoi("69.24,34.92,69.29,34.97", "nowhere")


# --- on the synthetic Bagram scenario (small profile) ---------------------------------


@pytest.fixture(scope="module")
def bagram_made(scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> aoi_mod.AOI:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GeoWarning)
        return airfield.make_aoi("OAIX", scenario_dir, start="2021-01-01", end="2021-12-31",
                                 store=tmp_path_factory.mktemp("store"), progress=False)


def test_scenario_aprons_match_truth(bagram_made: aoi_mod.AOI) -> None:
    truth = aoi_mod.load("bagram").zones_utm().to_crs(bagram_made.epsg)
    found = bagram_made.zones_utm()
    aprons = found[found["kind"] == "apron"]
    ious = [max(_iou(t, f) for f in aprons.geometry)
            for t in truth[truth["kind"] == "apron"].geometry]
    assert min(ious) >= 0.6, ious
    paved = truth[truth["kind"].isin(["runway", "taxiway", "apron"])].geometry.union_all()
    for geom in aprons.geometry:  # no false apron outside the true paved area
        assert geom.intersection(paved).area >= 0.8 * geom.area


def test_scenario_aoi_has_controls_and_round_trips(bagram_made: aoi_mod.AOI,
                                                   tmp_path: Path) -> None:
    kinds = set(bagram_made.zones["kind"])
    assert {"runway", "taxiway", "apron", "perimeter"} <= kinds
    path = tmp_path / "oaix.geojson"
    path.write_text(json.dumps(bagram_made.to_geojson()))
    assert len(aoi_mod.load(path).zones) == len(bagram_made.zones)


def test_no_clear_dates_is_a_clear_error(scenario_dir: Path, tmp_path: Path) -> None:
    site = aoi_mod.load("bagram")
    with pytest.raises(errors.NoImagery, match="clear on 3 or more"):
        airfield.composite(site, scenario_dir, "2021-01-15", "2021-01-25",
                           store=tmp_path, progress=False)
    with pytest.raises(errors.NoImagery):
        airfield.composite(site, scenario_dir, "2021-02-01", "2021-02-02",
                           store=tmp_path, progress=False)


def test_cli_aoi_make_on_the_scenario(scenario_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.geojson"
    result = CliRunner().invoke(app, [
        "aoi", "make", "OAIX", "--source", str(scenario_dir), "--start", "2021-01-01",
        "--end", "2021-12-31", "--store", str(tmp_path / "store"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    made = aoi_mod.load(out)
    assert (made.zones["kind"] == "apron").sum() >= 1


def test_cli_aoi_make_bad_bbox(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["aoi", "make", "--bbox", "1,2,3", "--name", "x",
                                      "--out", str(tmp_path / "x.geojson")])
    assert result.exit_code != 0
    assert isinstance(result.exception, errors.InvalidGeometry)


# --- snow left on pavement, thin composites ------------------------------------------


def test_snow_on_a_date_is_not_clear_ground() -> None:
    """Patchy snow SCL calls clear is left out; pavement's own views are kept."""
    t, shape = 5, (2, 3)
    asphalt = np.asarray(ASPHALT)[:, None, None, None] * np.ones((6, t, *shape))
    snow = np.asarray((0.80, 0.79, 0.77, 0.70, 0.12, 0.09))
    asphalt[:, 0, 0, 0] = 0.8 * asphalt[:, 0, 0, 0] + 0.2 * snow  # a fifth of snow
    names = ("blue", "green", "red", "nir", "swir16", "swir22")
    ds = xr.Dataset({n: (("time", "y", "x"), asphalt[i]) for i, n in enumerate(names)})
    ds["clear"] = (("time", "y", "x"), np.ones((t, *shape), dtype=bool))
    out = airfield._reduce(ds, synthetic_site(), airfield.MIN_CLEAR_DATES)
    assert out["clear_count"].values[0, 0] == t - 1
    assert (out["clear_count"].values.ravel()[1:] == t).all()
    assert float(out["spread"].values[0, 0]) < 0.01  # the snowy date no longer counts


def test_thin_composite_warns_and_says_how_to_fix() -> None:
    comp = synthetic_composite()
    comp["clear_count"] = comp["clear_count"] * 0 + 2
    with pytest.warns(errors.GeoWarning, match="fewer than 3 dates clear.*Widen the period"):
        airfield.find_zones(comp, synthetic_site())


# --- the review from the found AOI (issue 16, part 4) ----------------------------------

SPEARMAN_BAR = 0.9
"""CI bar for the review from Bagram's found AOI (small profile: 0.998 when written)."""


def _benchmark() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "find_zones.py"
    spec = importlib.util.spec_from_file_location("find_zones_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def found_review(bagram_made: aoi_mod.AOI, scenario_dir: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    bench = _benchmark()
    table = bench.review(bagram_made, scenario_dir, store=tmp_path_factory.mktemp("rstore"))
    return bench, table


def test_review_from_the_found_aoi_tracks_the_true_aircraft(
        found_review: tuple[Any, Any], scenario_dir: Path) -> None:
    bench, table = found_review
    truth, _ = accuracy.load_truth(scenario_dir)
    measures = bench.site_spearman(table, truth)
    assert measures["dates"] >= 10
    assert measures["spearman_dates"] >= SPEARMAN_BAR, measures


def test_the_review_measure_fails_a_review_that_lost_its_aprons(
        found_review: tuple[Any, Any], scenario_dir: Path) -> None:
    """The same measure on a review whose activity no longer follows the aircraft."""
    bench, table = found_review
    truth, _ = accuracy.load_truth(scenario_dir)
    shuffled = table.assign(activity_index=np.random.default_rng(0).permutation(
        table["activity_index"].to_numpy()))
    assert not bench.site_spearman(shuffled, truth)["spearman_dates"] >= SPEARMAN_BAR
    quiet = table.assign(activity_index=0.0)
    assert not bench.site_spearman(quiet, truth)["spearman_dates"] >= SPEARMAN_BAR
