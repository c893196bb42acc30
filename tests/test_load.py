"""geo.load over loopback: real rasters, coordinate-encoded COGs, the store, radiometry."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from pyproj import Transformer

import geo
from geo import errors
from geo.aoi import from_geojson
from geo.load import load
from geo.store import Store
from geo.testing.servers import RangeFileServer

REAL = "raster/sentinel2-l2a-cogs_S2A_29RKH_20200219_0_L2A"
BAGRAM = geo.aoi.load("bagram")
X0, Y1 = 521_000.0, 3_871_000.0  # upper-left of the synthetic rasters (on the 20 m lattice)
W10, H10 = 800, 900  # 10 m pixels


# --- helpers ---------------------------------------------------------------------------


def write_cog(path: Path, data: np.ndarray, transform: Affine, *, crs: str = "EPSG:32642",
              nodata: float = 0, blocksize: int = 256) -> Path:
    """Write a tiled, DEFLATE-compressed COG (what Earth Search serves)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype=data.dtype, crs=crs, transform=transform,
                       nodata=nodata) as dst:
        dst.write(data, 1)
    rasterio.shutil.copy(tmp, path, driver="COG", BLOCKSIZE=blocksize, COMPRESS="DEFLATE",
                         PREDICTOR=2, OVERVIEWS="NONE")
    tmp.unlink()
    return path


def encode(rows: np.ndarray, cols: np.ndarray, base: int) -> np.ndarray:
    """Pixel values that encode their own position (never 0 = nodata)."""
    return (base + (rows % 97) * 97 + cols % 97 + 1).astype("uint16")


def synthetic_scene(folder: Path, *, base: int = 1000, scl: int = 4) -> dict[str, Path]:
    r10, c10 = np.mgrid[0:H10, 0:W10]
    r20, c20 = np.mgrid[0 : H10 // 2, 0 : W10 // 2]
    t10 = Affine(10, 0, X0, 0, -10, Y1)
    t20 = Affine(20, 0, X0, 0, -20, Y1)
    scl_data = np.full(r20.shape, scl, dtype="uint8")
    scl_data[:, :10] = 9  # a cloudy strip on the west edge
    return {
        "red": write_cog(folder / "B04.tif", encode(r10, c10, base), t10),
        "swir16": write_cog(folder / "B11.tif", encode(r20, c20, base), t20),
        "scl": write_cog(folder / "SCL.tif", scl_data, t20),
    }


def es_item(item_id: str, when: str, hrefs: dict[str, str], *, baseline: str = "02.14",
            flag: bool = False, bbox: list[float] | None = None) -> dict[str, Any]:
    w, s, e, n = bbox or [69.0, 34.6, 69.6, 35.2]
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-2-l2a",
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {
            "datetime": when, "platform": "sentinel-2a", "s2:processing_baseline": baseline,
            "earthsearch:boa_offset_applied": flag, "view:sun_elevation": 40.0,
            "view:sun_azimuth": 150.0, "eo:cloud_cover": 5.0, "mgrs:utm_zone": 42,
            "mgrs:latitude_band": "S", "mgrs:grid_square": "WD", "geo:synthetic": True,
            "s2:product_uri": f"S2A_MSIL2A_x_N{baseline.replace('.', '')}_R005_T42SWD_x.SAFE",
        },
        "assets": {k: {"href": v, "type": "image/tiff"} for k, v in hrefs.items()},
        "links": [],
    }


def expected(ds_x: np.ndarray, ds_y: np.ndarray, res: float, base: int) -> np.ndarray:
    """The encoded values an independent nearest lookup gives at the output pixel centres."""
    cols = np.floor((ds_x - X0) / res).astype(int)
    rows = np.floor((Y1 - ds_y) / res).astype(int)
    return encode(rows[:, None], cols[None, :], base)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RangeFileServer, Path]]:
    root = tmp_path_factory.mktemp("cogs")
    synthetic_scene(root / "a", base=1000)
    synthetic_scene(root / "b", base=2000, scl=11)
    synthetic_scene(root / "c", base=0)  # "a" without the +1000
    with RangeFileServer(root) as srv:
        yield srv, root


def _hrefs(srv: RangeFileServer, name: str) -> dict[str, str]:
    return {"red": f"{srv.url}/{name}/B04.tif", "swir16": f"{srv.url}/{name}/B11.tif",
            "scl": f"{srv.url}/{name}/SCL.tif"}


# --- real rasters ------------------------------------------------------------------------


def test_real_rasters_over_loopback_give_dn_over_10000_pixel_for_pixel(
    real_fixtures: Path, tmp_path: Path
) -> None:
    folder = real_fixtures / REAL
    item = json.loads((folder / "S2A_29RKH_20200219_0_L2A.json").read_text())
    to_ll = Transformer.from_crs(32629, 4326, always_xy=True)
    x0, y0 = 250_000, 2_750_000
    ring = [to_ll.transform(x, y) for x, y in
            [(x0, y0), (x0 + 3000, y0), (x0 + 3000, y0 + 3000), (x0, y0 + 3000), (x0, y0)]]
    site = from_geojson({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": "perimeter", "kind": "perimeter", "source": "test"}}]}, name="t")
    files = {"red": "B04.tif", "nir": "B08.tif", "swir16": "B11.tif", "scl": "SCL.tif"}
    with RangeFileServer(folder) as srv:
        served = copy.deepcopy(item)
        for band, name in files.items():
            served["assets"][band]["href"] = srv.href(name)
            with rasterio.open(folder / name) as src:  # the decimated files' true grid
                served["assets"][band]["proj:shape"] = [src.height, src.width]
                served["assets"][band]["proj:transform"] = list(src.transform)[:6]
        ds = load([served], site, bands=list(files), store=tmp_path, progress=False).compute()
        assert {r.path for r in srv.requests} == {f"/{n}" for n in files.values()}
    for band, name in files.items():
        with rasterio.open(folder / name) as src:
            dn = src.read(1)
            t = src.transform
        cols = np.floor((ds.x.values - t.c) / t.a).astype(int)
        rows = np.floor((ds.y.values - t.f) / t.e).astype(int)
        want = dn[np.ix_(rows, cols)]
        got = ds[band].isel(time=0).values
        if band == "scl":
            np.testing.assert_array_equal(got, want)
        else:  # baseline 02.14: reflectance = DN / 10000, exactly
            np.testing.assert_array_equal(got, want.astype(np.float32) / np.float32(10000))
    assert ds.processing_baseline.item() == "02.14" and not ds.offset_applied.item()
    assert ds.attrs["crs"] == "EPSG:32629"


# --- coordinate-encoded COGs -------------------------------------------------------------


def test_windows_land_on_the_right_pixels_and_contract_holds(
    scenes: tuple[RangeFileServer, Path], tmp_path: Path
) -> None:
    srv, _ = scenes
    item = es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z", _hrefs(srv, "a"))
    ds = load([item], BAGRAM, store=tmp_path, bands=["red", "swir16", "scl"], progress=False)
    assert ds.red.dims == ("time", "y", "x") and ds.red.chunks is not None  # lazy
    ds = ds.compute()
    x, y = ds.x.values, ds.y.values
    assert np.all(np.diff(x) == 10) and np.all(np.diff(y) == -10)
    assert np.all(x % 10 == 5) and np.all(y % 10 == 5)  # pixel centres on the S2 lattice
    xmin, ymin, xmax, ymax = BAGRAM.utm_bounds(100)
    assert (x[0] - 5, y[-1] - 5, x[-1] + 5, y[0] + 5) == (xmin, ymin, xmax, ymax)
    assert ds.red.dtype == np.float32 and ds.scl.dtype == np.uint8
    assert ds.clear.dtype == bool and ds.snow.dtype == bool
    red_dn = expected(x, y, 10, 1000)
    swir_dn = expected(x, y, 20, 1000)  # 20 m: each pixel repeated 2 x 2
    np.testing.assert_array_equal(ds.red[0].values, red_dn.astype(np.float32) / np.float32(1e4))
    np.testing.assert_array_equal(ds.swir16[0].values, swir_dn.astype(np.float32) / np.float32(1e4))
    cols20 = np.floor((x - X0) / 20).astype(int)
    assert np.array_equal(ds.clear[0].values[0], cols20 >= 10)  # the cloudy strip, 20 m wide
    for name in ("item_id", "platform", "processing_baseline", "offset_applied",
                 "sun_elevation", "sun_azimuth"):
        assert ds[name].dims == ("time",)
    assert ds.attrs["crs"] == "EPSG:32642" and ds.attrs["synthetic"] is True


def test_spatial_chunks_give_the_same_stack(
    scenes: tuple[RangeFileServer, Path], tmp_path: Path
) -> None:
    srv, _ = scenes
    item = es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z", _hrefs(srv, "a"))
    kwargs: dict[str, Any] = {"store": tmp_path, "bands": ["red", "scl"], "progress": False}
    whole = load([item], BAGRAM, **kwargs).compute()
    chunked = load([item], BAGRAM, chunks={"y": 128, "x": 200}, **kwargs)
    assert chunked.red.data.numblocks == (1, 6, 4)
    assert chunked.compute().equals(whole)


def test_second_run_asks_one_head_per_file_and_offline_run_nothing(
    scenes: tuple[RangeFileServer, Path], tmp_path: Path
) -> None:
    srv, root = scenes
    items = [es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z", _hrefs(srv, "a")),
             es_item("S2A_42SWD_20210311_0_L2A", "2021-03-11T06:00:00Z", _hrefs(srv, "b"))]
    srv.reset()
    first = load(items, BAGRAM, store=tmp_path, bands=["red", "scl"], progress=False).compute()
    assert len(srv.requests) > 0
    srv.reset()
    second = load(items, BAGRAM, store=tmp_path, bands=["red", "scl"], progress=False).compute()
    heads = sorted(r.path for r in srv.requests)
    assert [r.method for r in srv.requests] == ["HEAD"] * 4  # no range request
    assert heads == sorted(f"/{n}/{f}" for n in "ab" for f in ("B04.tif", "SCL.tif"))
    srv.reset()
    offline = load(items, BAGRAM, store=tmp_path, bands=["red", "scl"], progress=False,
                   offline=True).compute()
    assert srv.requests == []
    assert second.equals(first) and offline.equals(first)
    assert first.attrs["skipped"] == []
    stored = {(e.item_id, e.asset): e for e in Store(tmp_path).entries()}
    assert stored[("S2A_42SWD_20210301_0_L2A", "red")].file_size == \
        (root / "a" / "B04.tif").stat().st_size  # from GDAL's own responses
    assert Store(tmp_path).partial_files() == []
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {(w["item_id"], w["asset"]) for w in manifest["windows"].values()} == {
        (i["id"], b) for i in items for b in ("red", "scl")}


def test_offline_miss_names_what_is_missing(
    scenes: tuple[RangeFileServer, Path], tmp_path: Path
) -> None:
    srv, _ = scenes
    item = es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z", _hrefs(srv, "a"))
    srv.reset()
    with pytest.raises(errors.OfflineMiss, match=r"S2A_42SWD_20210301_0_L2A/red"):
        load([item], BAGRAM, store=tmp_path, bands=["red"], progress=False, offline=True)
    assert srv.requests == []


def test_offset_is_removed_per_item_and_no_step_appears(
    tmp_path: Path, scenes: tuple[RangeFileServer, Path]
) -> None:
    """Same ground, before (02.14) and after (04.00, raw DN + 1000) the baseline change."""
    srv, root = scenes
    synthetic_scene(root / "dark", base=0)  # scene "a" is the same ground + 1000 DN
    before = es_item("S2A_42SWD_20220120_0_L2A", "2022-01-20T06:00:00Z", _hrefs(srv, "dark"))
    after = es_item("S2A_42SWD_20220130_0_L2A", "2022-01-30T06:00:00Z", _hrefs(srv, "a"),
                    baseline="04.00", flag=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.HarmonisationWarning)  # data agree: no warning
        ds = load([before, after], BAGRAM, store=tmp_path, bands=["red"], progress=False)
    ds = ds.compute()
    np.testing.assert_array_equal(ds.red[0].values, ds.red[1].values)
    assert ds.dn_offset.values.tolist() == [0, 1000]
    assert ds.offset_applied.values.tolist() == [False, True]


def test_wrongly_flagged_item_is_caught_by_its_neighbours_in_time(
    tmp_path: Path, scenes: tuple[RangeFileServer, Path]
) -> None:
    """An item that says harmonised but still holds raw DNs steps up by 0.1 in every band
    against the same ground on the dates before and after it: the offset is subtracted."""
    srv, _ = scenes
    clean = [es_item(f"S2A_42SWD_{day}_0_L2A", f"{day[:4]}-{day[4:6]}-{day[6:]}T06:00:00Z",
                     _hrefs(srv, "c"), baseline="04.00", flag=True)
             for day in ("20220120", "20220209")]
    liar = es_item("S2A_42SWD_20220130_0_L2A", "2022-01-30T06:00:00Z", _hrefs(srv, "a"),
                   baseline="04.00", flag=True)  # says harmonised; data still raw (DN >= 1001)
    with pytest.warns(errors.HarmonisationWarning, match="S2A_42SWD_20220130_0_L2A"):
        ds = load([clean[0], liar, clean[1]], BAGRAM, store=tmp_path, bands=["red", "swir16", "scl"],
                  progress=False)
    assert ds.dn_offset.values.tolist() == [0, 1000, 0]
    assert "time check" in str(ds.offset_reason.values[1])
    want = expected(ds.x.values, ds.y.values, 10, 0).astype(np.float32) / np.float32(1e4)
    np.testing.assert_array_equal(ds.red[1].values, want)
    np.testing.assert_array_equal(ds.red[1].values, ds.red[0].values)


def test_a_lone_item_keeps_its_metadata(
    tmp_path: Path, scenes: tuple[RangeFileServer, Path]
) -> None:
    """With no neighbour in time and no DN below 900, nothing proves the flag wrong:
    the metadata stand (brightness alone never decides)."""
    srv, _ = scenes
    liar = es_item("S2A_42SWD_20220130_0_L2A", "2022-01-30T06:00:00Z", _hrefs(srv, "a"),
                   baseline="04.00", flag=True)
    ds = load([liar], BAGRAM, store=tmp_path, bands=["red", "swir16"], progress=False)
    assert ds.dn_offset.item() == 0


def test_tiles_of_one_solar_day_are_mosaicked(tmp_path: Path) -> None:
    """Two half-tiles of one pass fill one date; the west one's pixels come first."""
    t10 = Affine(10, 0, X0, 0, -10, Y1)
    r, c = np.mgrid[0:H10, 0:W10]
    west, east = encode(r, c, 1000), encode(r, c, 3000)
    split = 400  # columns
    west[:, split:] = 0
    east[:, : split - 50] = 0  # 50 columns of overlap
    write_cog(tmp_path / "w" / "B04.tif", west, t10)
    write_cog(tmp_path / "e" / "B04.tif", east, t10)
    with RangeFileServer(tmp_path) as srv:
        items = [
            es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z",
                    {"red": srv.href("w/B04.tif")}, bbox=[69.0, 34.6, 69.26, 35.2]),
            es_item("S2A_42SXD_20210301_0_L2A", "2021-03-01T06:00:02Z",
                    {"red": srv.href("e/B04.tif")}, bbox=[69.25, 34.6, 69.6, 35.2]),
        ]
        items[1]["properties"]["mgrs:grid_square"] = "XD"
        ds = load(items, BAGRAM, store=tmp_path / "store", bands=["red"], progress=False)
        ds = ds.compute()
    assert ds.sizes["time"] == 1 and not np.isnan(ds.red.values).any()
    cols = np.floor((ds.x.values - X0) / 10).astype(int)
    base = np.where(cols < split, 1000, 3000)
    rows = np.floor((Y1 - ds.y.values) / 10).astype(int)
    want = (base[None, :] + (rows[:, None] % 97) * 97 + cols[None, :] % 97 + 1) / 1e4
    np.testing.assert_allclose(ds.red[0].values, want.astype(np.float32))


def test_missing_band_names_the_item_and_what_it_has(
    scenes: tuple[RangeFileServer, Path], tmp_path: Path
) -> None:
    srv, _ = scenes
    item = es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z", _hrefs(srv, "a"))
    with pytest.raises(errors.MissingBand, match=r"no asset 'nir'.*red"):
        load([item], BAGRAM, store=tmp_path, bands=["nir"], progress=False)


def test_failed_read_is_retried_then_names_item_band_and_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "2")
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.01")
    with RangeFileServer(tmp_path, fail=lambda m, p, r: 503) as srv:
        item = es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z",
                       {"red": srv.href("a/B04.tif")})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(errors.ReadError, match=r"red of item S2A_42SWD_20210301_0_L2A.*B04"):
                load([item], BAGRAM, store=tmp_path / "s", bands=["red"], progress=False)
        assert len(srv.requests) >= 3  # the first try and two retries


# --- killed mid-load ----------------------------------------------------------------------

_CHILD = """
import json, sys
from geo.load import load
items = json.load(open(sys.argv[1]))
load(items, "bagram", bands=["red", "scl"], store=sys.argv[2], progress=False,
              workers=2).compute()
"""


def test_a_killed_load_resumes_to_the_same_result_with_no_partial_file(tmp_path: Path) -> None:
    t10 = Affine(10, 0, X0, 0, -10, Y1)
    r, c = np.mgrid[0:H10, 0:W10]
    write_cog(tmp_path / "cogs" / "B04.tif", encode(r, c, 1000), t10)
    write_cog(tmp_path / "cogs" / "SCL.tif", np.full((H10 // 2, W10 // 2), 4, "uint8"),
              Affine(20, 0, X0, 0, -20, Y1))

    def slow(method: str, path: str, rng: str | None) -> None:
        time.sleep(0.02)  # a slow network, so the kill lands mid-load
        return None

    with RangeFileServer(tmp_path / "cogs", fail=slow) as srv:
        hrefs = {"red": srv.href("B04.tif"), "scl": srv.href("SCL.tif")}
        items = [es_item(f"S2A_42SWD_2021{m:02d}{d:02d}_0_L2A", f"2021-{m:02d}-{d:02d}T06:00:00Z",
                         hrefs) for m in range(1, 13) for d in (5, 20)]
        (tmp_path / "items.json").write_text(json.dumps(items))
        store = tmp_path / "store"
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tmp_path / "items.json"), str(store)],
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and child.poll() is None:
                if len(list((store / "windows").rglob("*.tif"))) >= 6:
                    break
                time.sleep(0.01)
            assert child.poll() is None, "the load finished before it could be killed"
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(timeout=30)
        written = len(list((store / "windows").rglob("*.tif")))
        assert 0 < written < len(items) * 2
        resumed = load(items, BAGRAM, store=store, bands=["red", "scl"], progress=False).compute()
        clean = load(items, BAGRAM, store=tmp_path / "clean", bands=["red", "scl"],
                     progress=False).compute()
    assert resumed.equals(clean)
    assert Store(store).partial_files() == []
    assert len(list((store / "windows").rglob("*.tif"))) == len(items) * 2


# --- the scenario archive (issue 3's fixtures) -------------------------------------------


def _scenario_fixture(request: pytest.FixtureRequest, name: str) -> Any:
    return request.getfixturevalue(name)


@pytest.fixture(scope="module")
def scenario_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    import pandas as pd

    from geo.search import search

    server = _scenario_fixture(request, "scenario_server")
    folder = Path(_scenario_fixture(request, "scenario_dir"))
    truth = pd.read_csv(folder / "truth.csv", parse_dates=["date"])
    store = tmp_path_factory.mktemp("scenario-store")
    start, end = truth["date"].min().date(), truth["date"].max().date()
    kwargs: dict[str, Any] = {"store": store, "progress": False}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", errors.HarmonisationWarning)
        items = search(BAGRAM, start, end, source=server.stac_url,
                       **kwargs)
        ds = load(items, BAGRAM, bands=["red", "nir", "scl"], **kwargs).compute()
    return {"server": server, "folder": folder, "truth": truth, "store": store, "items": items,
            "ds": ds, "start": start, "end": end, "kwargs": kwargs, "warnings": caught}


@pytest.mark.slow
def test_scenario_one_image_per_pass(scenario_run: dict[str, Any]) -> None:
    from geo.search import relative_orbit, solar_day

    items, truth, ds = scenario_run["items"], scenario_run["truth"], scenario_run["ds"]
    passes = [(solar_day(i), relative_orbit(i)) for i in items]
    assert len(passes) == len(set(passes))
    assert sorted(set(pd_dates(ds))) == sorted({d.date() for d in truth["date"]})
    assert ds.sizes["time"] == truth["date"].nunique()


def pd_dates(ds: Any) -> list[Any]:
    import pandas as pd

    return [t.date() for t in pd.to_datetime(ds.time.values)]


@pytest.mark.slow
def test_scenario_no_step_in_a_static_zone_at_the_baseline_change(
    scenario_run: dict[str, Any]
) -> None:
    """A static zone's clear-sky brightness does not jump at 2022-01-25 (baseline 04.00)."""
    from geo.zones import zone_masks

    ds = scenario_run["ds"]
    static = BAGRAM.zones.loc[BAGRAM.zones["kind"].isin(["control", "runway"]), "name"].tolist()
    masks = zone_masks(BAGRAM, ds).sel(zone=static).any("zone")
    usable = ds.clear & masks
    red = ds.red.where(usable).median(("y", "x"))
    share = usable.sum(("y", "x")) / masks.sum()
    times = ds.time.values
    change = np.datetime64("2022-01-25")
    for days in (60, 120, 240):
        window = np.timedelta64(days, "D")
        before = (times >= change - window) & (times < change) & (share.values > 0.5)
        after = (times >= change) & (times < change + window) & (share.values > 0.5)
        if before.sum() >= 2 and after.sum() >= 2:
            break
    else:
        pytest.fail("too few clear dates around 2022-01-25 in the scenario to test the step")
    step = float(np.median(red.values[after]) - np.median(red.values[before]))
    assert abs(step) < 0.02, f"brightness step of {step:.3f} at 2022-01-25"


@pytest.mark.slow
def test_scenario_clear_fractions_match_truth(scenario_run: dict[str, Any]) -> None:
    """SCL-derived clear fractions against the true ones, per date and zone.

    Tolerance: mean absolute error <= 0.03 over all rows and <= 0.02 over the perimeter,
    and 90 % of rows within 0.10. SCL is a classifier at 20 m: it misses thin cloud,
    calls bright concrete cloud, and small zones (hangars) hold a handful of its pixels,
    so single rows can be far off; the bias over many rows is what must stay small.
    """
    from geo.mask import zone_clear_fraction

    truth = scenario_run["truth"]
    got = zone_clear_fraction(scenario_run["ds"], BAGRAM)
    truth = truth.assign(date=truth["date"].dt.normalize())
    merged = got.merge(truth[["date", "zone", "clear_fraction"]], on=["date", "zone"],
                       suffixes=("", "_true"))
    assert len(merged) == len(truth)
    err = (merged["clear_fraction"] - merged["clear_fraction_true"]).abs()
    assert float(err.mean()) <= 0.03
    assert float(err[merged["zone"] == "perimeter"].mean()) <= 0.02
    assert float((err <= 0.10).mean()) >= 0.90, merged.loc[err > 0.10].head(10)


@pytest.mark.slow
def test_scenario_second_run_makes_zero_range_requests(scenario_run: dict[str, Any]) -> None:
    """A rerun asks once per stored file whether it changed (HEAD) and reads nothing."""
    from geo.search import search

    server = scenario_run["server"]
    before = len(server.requests)
    stac_before = len(getattr(server, "stac_requests", None) or [])
    items = search(BAGRAM, scenario_run["start"], scenario_run["end"], source=server.stac_url,
                   **scenario_run["kwargs"])
    ds = load(items, BAGRAM, bands=["red", "nir", "scl"], **scenario_run["kwargs"]).compute()
    rerun = server.requests[before:]
    stored = Store(scenario_run["store"]).entries()
    assert [m for m, _, _ in rerun] == ["HEAD"] * len(stored)
    assert all(r is None for _, _, r in rerun)
    assert len({p for _, p, _ in rerun}) == len(stored)
    assert len(getattr(server, "stac_requests", None) or []) == stac_before
    assert ds.equals(scenario_run["ds"])


# --- stored windows notice a changed file (issue 13, part 5) -----------------------------


def _copy_scenario_items(scenario_dir: Path, dest: Path, n: int, files: dict[str, str]
                         ) -> list[dict[str, Any]]:
    """The first ``n`` scenario items with the given bands, their COGs copied to ``dest``."""
    import shutil

    items: list[dict[str, Any]] = []
    days = set()
    for line in (scenario_dir / "items.ndjson").read_text().splitlines():
        item = json.loads(line)
        day = item["properties"]["datetime"][:10]
        if all(b in item["assets"] for b in files) and day not in days and \
                item.get("collection") == (items[0] if items else item).get("collection"):
            items.append(item)  # one item per pass, of one collection
            days.add(day)
        if len(items) == n:
            break
    for item in items:
        for band in files:
            rel = item["assets"][band]["href"].removeprefix("./")
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(scenario_dir / rel, dest / rel)
            item["assets"][band]["href"] = rel
    return items


def test_a_replaced_cog_is_read_again_and_nothing_else_is(
    scenario_dir: Path, tmp_path: Path
) -> None:
    """Same URL, new pixels: the next load reads them; other windows make no range request."""
    from geo.scenario.serve import FileServer

    bands = {"red": "B04.tif", "scl": "SCL.tif"}
    served = tmp_path / "served"
    items = _copy_scenario_items(scenario_dir, served, 3, bands)
    with FileServer(served) as fs:
        for item in items:
            for band in bands:
                item["assets"][band]["href"] = fs.url + item["assets"][band]["href"]
        kwargs: dict[str, Any] = {"store": tmp_path / "store", "bands": list(bands),
                                  "progress": False}
        first = load(items, BAGRAM, **kwargs).compute()
        target = items[1]["assets"]["red"]["href"].removeprefix(fs.url)
        with rasterio.open(served / target) as src:  # new pixels behind the same URL
            profile, dn = src.profile, src.read(1)
        tmp = served / (target + ".new")
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(np.where(dn > 0, dn // 2 + 1, 0).astype(dn.dtype), 1)
        os.replace(tmp, served / target)
        fs.clear()
        second = load(items, BAGRAM, **kwargs).compute()
        ranged = [(p, r) for m, p, r in fs.requests if r is not None]
        heads = [p for m, p, _ in fs.requests if m == "HEAD"]
        fs.clear()
        third = load(items, BAGRAM, **kwargs).compute()
        rerun = fs.requests
    assert ranged and {p for p, _ in ranged} == {"/" + target}
    files = ["/" + i["assets"][b]["href"].removeprefix(fs.url) for i in items for b in bands]
    assert sorted(heads) == sorted([*files, "/" + target])  # one check each; GDAL's own HEAD
    when = first.time.values[1]
    changed = second.red.sel(time=when).values
    was = first.red.sel(time=when).values
    valid = ~np.isnan(was)
    assert valid.any() and not np.allclose(changed[valid], was[valid])
    assert second.red.drop_sel(time=[when]).equals(first.red.drop_sel(time=[when]))
    assert second.scl.equals(first.scl)
    assert third.equals(second)
    assert [m for m, _, _ in rerun] == ["HEAD"] * len(files)
    assert all(r is None for _, _, r in rerun)
    assert Store(tmp_path / "store").partial_files() == []
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert len(manifest["windows"]) == len(items) * len(bands)
    assert all(w["etag"] and w["last_modified"] and w["file_size"] > 0
               for w in manifest["windows"].values())


def test_offline_run_never_asks_whether_files_changed(
    scenes: tuple[RangeFileServer, Path], tmp_path: Path
) -> None:
    srv, _ = scenes
    item = es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z", _hrefs(srv, "a"))
    load([item], BAGRAM, store=tmp_path, bands=["red"], progress=False)
    entry = Store(tmp_path).entries()[0]
    assert entry.file_size > 0
    srv.reset()
    load([item], BAGRAM, store=tmp_path, bands=["red"], progress=False, offline=True)
    assert srv.requests == []


# --- unreadable files can be skipped, with the reason (issue 13, part 7) ------------------


def test_unreadable_files_are_skipped_with_their_reason(
    scenes: tuple[RangeFileServer, Path], tmp_path: Path
) -> None:
    srv, _ = scenes
    local = tmp_path / "local"
    synthetic_scene(local, base=1000)
    (local / "B11.tif").write_bytes((local / "B11.tif").read_bytes()[:3000])  # truncated
    (local / "SCL.tif").unlink()
    remote = _hrefs(srv, "a")
    remote["red"] = f"{srv.url}/a/missing/B04.tif"  # 404
    items = [
        es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z", remote),
        es_item("S2A_42SWD_20210311_0_L2A", "2021-03-11T06:00:00Z",
                {"red": str(local / "B04.tif"), "swir16": str(local / "B11.tif"),
                 "scl": str(local / "SCL.tif")}),
    ]
    bands = ["red", "swir16", "scl"]
    ds = load(items, BAGRAM, store=tmp_path / "s", bands=bands, progress=False,
              on_error="skip")
    skipped = ds.attrs["skipped"]
    assert json.loads(json.dumps(skipped)) == skipped
    assert [(s["item_id"], s["band"]) for s in skipped] == [
        ("S2A_42SWD_20210301_0_L2A", "red"), ("S2A_42SWD_20210311_0_L2A", "scl"),
        ("S2A_42SWD_20210311_0_L2A", "swir16")]
    assert skipped[0]["href"].endswith("/a/missing/B04.tif")
    assert "does not exist" in skipped[1]["reason"] and "corrupt" in skipped[2]["reason"]
    ds = ds.compute()
    assert np.isnan(ds.red[0].values).all() and not np.isnan(ds.red[1].values).all()
    assert np.isnan(ds.swir16[1].values).all() and (ds.scl[1].values == 0).all()
    assert not np.isnan(ds.swir16[0].values).all()


@pytest.mark.parametrize("broken", ["missing", "truncated"])
def test_unreadable_local_file_names_item_file_and_fix(tmp_path: Path, broken: str) -> None:
    synthetic_scene(tmp_path, base=1000)
    scl = tmp_path / "SCL.tif"
    if broken == "missing":
        scl.unlink()
    else:
        scl.write_bytes(scl.read_bytes()[:2000])
    item = es_item("S2A_42SWD_20210311_0_L2A", "2021-03-11T06:00:00Z",
                   {"red": str(tmp_path / "B04.tif"), "scl": str(scl)})
    with pytest.raises(errors.ReadError) as err:
        load([item], BAGRAM, store=tmp_path / "s", bands=["red", "scl"], progress=False)
    text = str(err.value)
    assert "S2A_42SWD_20210311_0_L2A" in text and str(scl) in text
    assert "--skip-unreadable" in text and "on_error='skip'" in text


def test_a_source_that_is_down_leaves_the_stored_windows_in_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    synthetic_scene(tmp_path / "cogs" / "a", base=1000)
    with RangeFileServer(tmp_path / "cogs") as srv:
        item = es_item("S2A_42SWD_20210301_0_L2A", "2021-03-01T06:00:00Z", _hrefs(srv, "a"))
        first = load([item], BAGRAM, store=tmp_path / "s", bands=["red", "scl"],
                     progress=False).compute()
    with caplog.at_level("WARNING", logger="geo.load"):
        again = load([item], BAGRAM, store=tmp_path / "s", bands=["red", "scl"],
                     progress=False).compute()
    assert again.equals(first)
    down = [r for r in caplog.records if "stored windows" in r.getMessage()]
    assert len(down) == 1 and "127.0.0.1" in down[0].getMessage()
