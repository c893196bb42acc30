"""Sentinel-1 RTC: search (API, local catalog) and load (dB stack, store, offline).

The items are the real Planetary Computer ``sentinel-1-rtc`` item with its properties
copied and its hrefs pointed at COGs written here (float32 linear power, nodata -32768,
UTM, 10 m, tiled) and served over loopback.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS

import geo
from geo import errors
from geo.load import expected_of
from geo.search import (
    _wanted_collections,
    absolute_orbit,
    acquisition_key,
    collapse_duplicates,
    relative_orbit,
    sensor_of,
)
from geo.store import Store
from geo.testing.servers import JsonRouteServer, RangeFileServer

PC_S1 = "stac/planetary-computer/items_page_sentinel-1-rtc_limit1_20250311.json"
ES_S2 = "stac/earth-search/item_sentinel-2-l2a_S2A_13TDE_20231008_0_L2A.json"
ES_GRD = ("stac/earth-search/item_sentinel-1-grd_S1A_IW_GRDH_1SSH_20250731T135702_"
          "20250731T135722_060328_077F7E.json")
BAGRAM = geo.aoi.load("bagram")
EPSG = 32642
X0, Y1 = 521_000.0, 3_871_000.0  # upper-left of the written rasters
W, H = 800, 900  # 10 m pixels: 521000..529000 x 3862000..3871000, holds the AOI's grid
NODATA = -32768.0
CONFORMS = ["https://api.stacspec.org/v1.0.0/core",
            "https://api.stacspec.org/v1.0.0/item-search"]


# --- the written archive ---------------------------------------------------------------


def linear(rows: np.ndarray, cols: np.ndarray, base: float) -> np.ndarray:
    """Linear gamma0 that encodes its own position (a window error is a wrong number)."""
    return (base * (1 + (rows % 97) * 97 + cols % 97) / 10_000).astype(np.float32)


def truth(pol: str) -> np.ndarray:
    """The full written field of one polarisation, before slicing and nodata."""
    rows, cols = np.mgrid[0:H, 0:W]
    out = linear(rows, cols, 1.0 if pol == "vv" else 0.2)
    out[:, 100:120] = NODATA  # a nodata strip inside the AOI (x 522000..522200)
    out[300:303, :] = 0.0  # not positive: no dB value
    return out


def write_cog(path: Path, data: np.ndarray, row0: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.tif")
    transform = Affine(10, 0, X0, 0, -10, Y1 - 10 * row0)
    with rasterio.open(tmp, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype="float32", crs=f"EPSG:{EPSG}", transform=transform,
                       nodata=NODATA) as dst:
        dst.write(data, 1)
    rasterio.shutil.copy(tmp, path, driver="COG", BLOCKSIZE=256, COMPRESS="DEFLATE",
                         OVERVIEWS="NONE")
    tmp.unlink()
    return path


# (name, platform letter, orbit state, relative, absolute orbit, time, rows of the slice)
ACQUISITIONS = [
    ("a", "A", "ascending", 5, 37_700, "2021-06-01T13:30:10Z", (0, H)),
    ("b1", "B", "descending", 78, 26_900, "2021-06-02T01:30:00Z", (0, 520)),
    ("b2", "B", "descending", 78, 26_900, "2021-06-02T01:30:20Z", (480, H)),
]


def footprint(row0: int, row1: int) -> list[list[float]]:
    to_ll = Transformer.from_crs(EPSG, 4326, always_xy=True)
    y0, y1 = Y1 - 10 * row1, Y1 - 10 * row0
    corners = [(X0, y0), (X0 + 10 * W, y0), (X0 + 10 * W, y1), (X0, y1), (X0, y0)]
    return [list(to_ll.transform(x, y)) for x, y in corners]


def pc_item(real: dict[str, Any], spec: tuple[Any, ...], hrefs: dict[str, str]) -> dict[str, Any]:
    """The real PC item, its properties kept, moved onto the written rasters."""
    _name, letter, state, rel, absolute, when, (row0, row1) = spec
    item = copy.deepcopy(real)
    stamp = when[:19].replace("-", "").replace(":", "")
    item["id"] = f"S1{letter}_IW_GRDH_1SDV_{stamp}_{stamp}_{absolute:06d}_{absolute % 99991:06X}_rtc"
    ring = footprint(row0, row1)
    item["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    item["bbox"] = [min(lons), min(lats), max(lons), max(lats)]
    props = item["properties"]
    props.update({
        "datetime": when, "start_datetime": when, "end_datetime": when,
        "platform": f"SENTINEL-1{letter}", "sat:orbit_state": state,
        "sat:relative_orbit": rel, "sat:absolute_orbit": absolute, "proj:epsg": EPSG,
        "proj:shape": [row1 - row0, W], "geo:synthetic": True,
        "proj:transform": [10.0, 0.0, X0, 0.0, -10.0, Y1 - 10 * row0, 0.0, 0.0, 1.0],
        "proj:bbox": [X0, Y1 - 10 * row1, X0 + 10 * W, Y1 - 10 * row0],
    })
    for pol, href in hrefs.items():
        item["assets"][pol]["href"] = href
    item["links"] = []
    return item


def s2_item(real: dict[str, Any], href: str) -> dict[str, Any]:
    """The real Earth Search S2 item moved over Bagram with one written red band."""
    item = copy.deepcopy(real)
    ring = footprint(0, H)
    item["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    item["bbox"] = [min(p[0] for p in ring), min(p[1] for p in ring),
                    max(p[0] for p in ring), max(p[1] for p in ring)]
    item["properties"].update({"datetime": "2021-06-03T06:00:00Z", "proj:epsg": EPSG})
    item["assets"]["red"].update({"href": href, "proj:shape": [H, W],
                                  "proj:transform": [10, 0, X0, 0, -10, Y1]})
    item["links"] = []
    return item


class Archive:
    """Radar COGs on a range server, the items (PC form), and a local catalog."""

    def __init__(self, root: Path, real: Path) -> None:
        page = json.loads((real / PC_S1).read_text())
        self.real = page["features"][0]
        self.files = RangeFileServer(root / "cogs")
        self.radar: list[dict[str, Any]] = []
        for spec in ACQUISITIONS:
            name, row0, row1 = spec[0], *spec[-1]
            hrefs = {}
            for pol in ("vv", "vh"):
                cog = write_cog(root / "cogs" / name / f"{pol}.tif", truth(pol)[row0:row1], row0)
                hrefs[pol] = self.files.href(cog)
            self.radar.append(pc_item(self.real, spec, hrefs))
        rows, cols = np.mgrid[0:H, 0:W]
        red = (2000 + (rows % 97) * 97 + cols % 97).astype("uint16")
        s2_path = root / "catalog" / "s2" / "B04.tif"
        self._write_s2(s2_path, red)
        grd = json.loads((real / ES_GRD).read_text())
        grd.update(geometry=self.radar[0]["geometry"], bbox=self.radar[0]["bbox"])
        grd["properties"]["datetime"] = "2021-06-04T01:00:00Z"
        self.grd = grd
        self.s2 = s2_item(json.loads((real / ES_S2).read_text()), "s2/B04.tif")
        self.catalog = root / "catalog"
        lines = [json.dumps(o) for o in (*self.radar, self.s2, grd)]
        (self.catalog / "items.ndjson").write_text("\n".join(lines) + "\n")

    @staticmethod
    def _write_s2(path: Path, red: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1,
                           dtype="uint16", crs=f"EPSG:{EPSG}", nodata=0, tiled=True,
                           transform=Affine(10, 0, X0, 0, -10, Y1)) as dst:
            dst.write(red, 1)


@pytest.fixture(scope="module")
def archive(real_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    arc = Archive(tmp_path_factory.mktemp("radar"), real_fixtures)
    try:
        yield arc
    finally:
        arc.files.close()


class Api:
    """A loopback STAC API that answers every search with every item it holds (it
    ignores the collections asked for, so the client must sort them out)."""

    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.features = features
        self.server = JsonRouteServer(self.route)

    def route(self, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        url = self.server.url
        if method == "GET" and path in ("", "/"):
            return 200, {"type": "Catalog", "id": "api", "description": "loopback",
                         "stac_version": "1.0.0", "conformsTo": CONFORMS,
                         "links": [{"rel": "self", "href": url}, {"rel": "root", "href": url},
                                   {"rel": "search", "href": url + "/search",
                                    "method": "POST", "type": "application/geo+json"}]}
        if path == "/search":
            return 200, {"type": "FeatureCollection", "features": self.features, "links": []}
        return 404, {"code": "NotFound", "description": path}


@pytest.fixture(scope="module")
def api(archive: Archive) -> Iterator[Api]:
    a = Api([*archive.radar, archive.s2])
    try:
        yield a
    finally:
        a.server.close()


# --- the real item -----------------------------------------------------------------------


def test_real_pc_rtc_item_is_read_as_sentinel1(real_fixtures: Path) -> None:
    page = json.loads((real_fixtures / PC_S1).read_text())
    item = pystac.Item.from_dict(page["features"][0], migrate=False)
    assert sensor_of(item) == "s1"
    assert item.properties["sat:orbit_state"] == "descending"
    assert relative_orbit(item) == 80
    assert absolute_orbit(item) == 58252
    assert acquisition_key(item)[:2] == ("sentinel-1a", "58252")
    assert {"vv", "vh"} <= set(item.assets)
    vv = expected_of(item, "vv")
    assert vv.dtype == "float32" and vv.nodata == NODATA
    assert vv.crs is not None and vv.crs.to_epsg() == 32634
    assert vv.shape == (17058, 28320)  # item-level proj:shape: rows, cols
    assert vv.transform is not None and tuple(vv.transform)[:6] == (
        10.0, 0.0, 180600.0, 0.0, -10.0, 3408040.0)


def test_planetary_computer_is_searched_in_sentinel_1_rtc() -> None:
    assert _wanted_collections("planetary-computer", None, "s1") == (("sentinel-1-rtc",), False)
    assert _wanted_collections("planetary-computer", None, "s2") == (("sentinel-2-l2a",), False)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["earth-search", "https://earth-search.aws.element84.com/v1"])
def test_earth_search_has_no_loadable_sentinel1(source: str, tmp_path: Path) -> None:
    with pytest.raises(errors.UnsupportedSensor) as info:
        geo.search(BAGRAM, "2021-06-01", "2021-06-30", source=source, sensor="s1",
                   store=tmp_path, progress=False)
    text = str(info.value)
    assert "requester-pays" in text and "GCPs" in text and "planetary-computer" in text


def test_unknown_sensor_and_grd_collection_are_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.UnsupportedSensor, match="'s3'"):
        geo.search(BAGRAM, "2021-06-01", "2021-06-30", sensor="s3", store=tmp_path)
    with pytest.raises(errors.UnsupportedSensor, match="unprojected"):
        geo.search(BAGRAM, "2021-06-01", "2021-06-30", source="planetary-computer",
                   sensor="s1", collection="sentinel-1-grd", store=tmp_path)


def test_mixed_sensors_in_one_load_are_refused(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(errors.LoadError, match="mix Sentinel-1"):
        geo.load([archive.radar[0], archive.s2], BAGRAM, store=tmp_path, progress=False)
    with pytest.raises(errors.LoadError, match="Sentinel-1 RTC"):
        geo.load(archive.radar[:1], BAGRAM, bands=["red"], store=tmp_path, progress=False)


# --- duplicates ----------------------------------------------------------------------------


def test_one_item_per_acquisition_where_a_slice_covers_the_aoi(archive: Archive) -> None:
    full, north, south = (pystac.Item.from_dict(copy.deepcopy(o), migrate=False)
                          for o in archive.radar)
    neighbour = full.clone()  # another slice of the same datatake, also holding the AOI
    neighbour.id = full.id.replace("_rtc", "_x_rtc")
    neighbour.properties["s1:orbit_source"] = "POEORB"  # a more precise orbit than PREORB
    kept = collapse_duplicates([full, neighbour], BAGRAM)
    assert [i.id for i in kept] == [neighbour.id]
    # No slice of the B acquisition holds the whole AOI: both are kept (load mosaics).
    assert {i.id for i in collapse_duplicates([north, south], BAGRAM)} == {north.id, south.id}
    # Ascending and descending passes of one solar day are two acquisitions.
    other = full.clone()
    other.properties.update({"sat:absolute_orbit": 37_707, "sat:orbit_state": "descending"})
    other.id = "other"
    assert len(collapse_duplicates([full, other], BAGRAM)) == 2


# --- search ------------------------------------------------------------------------------


def test_local_catalog_gives_each_sensor_its_own_items(archive: Archive) -> None:
    radar = geo.search(BAGRAM, "2021-06-01", "2021-06-30", source=archive.catalog,
                       sensor="s1", progress=False)
    optical = geo.search(BAGRAM, "2021-06-01", "2021-06-30", source=archive.catalog,
                         progress=False)
    assert sorted(i.id for i in radar) == sorted(o["id"] for o in archive.radar)  # no GRD
    assert [i.id for i in optical] == [archive.s2["id"]]
    assert {sensor_of(i) for i in radar} == {"s1"}


def test_api_search_finds_rtc_items_and_caches_them(api: Api, archive: Archive,
                                                    tmp_path: Path) -> None:
    base = api.server.url
    radar = geo.search(BAGRAM, "2021-06-01", "2021-06-30", source=base, sensor="s1",
                       store=tmp_path, progress=False)
    optical = geo.search(BAGRAM, "2021-06-01", "2021-06-30", source=base, store=tmp_path,
                         progress=False)
    posts = [json.loads(r.body) for r in api.server.requests if r.method == "POST"]
    assert ["sentinel-1-rtc"] in [p["collections"] for p in posts]
    assert sorted(i.id for i in radar) == sorted(o["id"] for o in archive.radar)
    assert {i.properties["geo:collection"] for i in radar} == {"sentinel-1-rtc"}
    assert [i.id for i in optical] == [archive.s2["id"]]
    api.server.reset()
    again = geo.search(BAGRAM, "2021-06-01", "2021-06-30", source=base, sensor="s1",
                       store=tmp_path, progress=False, offline=True)
    assert [i.id for i in again] == [i.id for i in radar]
    assert api.server.requests == []


# --- load --------------------------------------------------------------------------------


def expected_db(ds: Any, pol: str) -> np.ndarray:
    """dB at the output pixel centres by an independent nearest lookup of the truth."""
    cols = np.floor((ds.x.values - X0) / 10).astype(int)
    rows = np.floor((Y1 - ds.y.values) / 10).astype(int)
    values = truth(pol)[np.ix_(rows, cols)].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, 10 * np.log10(values), np.nan)


@pytest.fixture(scope="module")
def loaded(api: Api, archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("store")
    items = geo.search(BAGRAM, "2021-06-01", "2021-06-30", source=api.server.url,
                       sensor="s1", store=store, progress=False)
    archive.files.reset()
    ds = geo.load(items, BAGRAM, store=store, progress=False).compute()
    return {"items": items, "store": store, "ds": ds, "reads": archive.files.requests}


def test_load_gives_db_of_the_written_linear_values(loaded: dict[str, Any]) -> None:
    ds = loaded["ds"]
    assert set(ds.data_vars) == {"vv", "vh"} and ds.vv.dims == ("time", "y", "x")
    assert ds.vv.dtype == np.float32
    assert ds.sizes["time"] == 2  # the two slices of acquisition B are one time
    for pol in ("vv", "vh"):
        want = expected_db(ds, pol)
        for t in range(2):
            np.testing.assert_allclose(ds[pol].isel(time=t).values, want, rtol=1e-5,
                                       atol=1e-4, equal_nan=True)
    assert np.isnan(ds.vv.values).any() and not np.isnan(ds.vv.values).all()
    assert ds.vv.attrs["units"] == "dB"


def test_load_coords_follow_the_radar_contract(loaded: dict[str, Any], archive: Archive) -> None:
    ds = loaded["ds"]
    assert ds.time.values.tolist() == sorted(ds.time.values.tolist())
    ids = [o["id"] for o in archive.radar]
    assert ds.item_id.values.tolist() == [ids[0], f"{ids[1]},{ids[2]}"]
    assert ds.platform.values.tolist() == ["sentinel-1a", "sentinel-1b"]
    assert ds.orbit_state.values.tolist() == ["ascending", "descending"]
    assert ds.relative_orbit.values.tolist() == [5, 78]
    assert ds.relative_orbit.dtype.kind == "i"
    assert set(ds.collection.values.tolist()) == {"sentinel-1-rtc"}
    assert "spatial_ref" in ds.coords
    assert CRS.from_wkt(ds.spatial_ref.attrs["crs_wkt"]).to_epsg() == EPSG
    assert ds.attrs["sensor"] == "s1" and ds.attrs["synthetic"] is True
    assert np.all(np.diff(ds.x.values) == 10) and np.all(np.diff(ds.y.values) == -10)


def test_radar_and_optical_stacks_share_one_grid(loaded: dict[str, Any], archive: Archive,
                                                 tmp_path: Path) -> None:
    items = geo.search(BAGRAM, "2021-06-01", "2021-06-30", source=archive.catalog,
                       progress=False)
    optical = geo.load(items, BAGRAM, bands=["red"], store=tmp_path, progress=False)
    radar = loaded["ds"]
    assert optical.attrs["sensor"] == "s2"
    np.testing.assert_array_equal(optical.x.values, radar.x.values)
    np.testing.assert_array_equal(optical.y.values, radar.y.values)
    assert optical.spatial_ref.attrs["crs_wkt"] == radar.spatial_ref.attrs["crs_wkt"]


def test_store_is_filled_and_an_offline_reload_reads_nothing(
    loaded: dict[str, Any], archive: Archive
) -> None:
    reads = loaded["reads"]
    assert {r.path.rsplit("/", 1)[-1] for r in reads} == {"vv.tif", "vh.tif"}
    entries = Store(loaded["store"]).entries()
    assert sorted((e.item_id, e.asset) for e in entries) == sorted(
        (o["id"], pol) for o in archive.radar for pol in ("vv", "vh"))
    assert {e.dtype for e in entries} == {"float32"}
    archive.files.reset()
    again = geo.load(loaded["items"], BAGRAM, store=loaded["store"], offline=True,
                     progress=False).compute()
    assert archive.files.requests == []
    np.testing.assert_array_equal(again.vv.values, loaded["ds"].vv.values)


# --- the served scenario (rustac STAC API) -----------------------------------------------


def test_served_scenario_gives_each_sensor_its_own_collection(
    scenario_server: Any, scenario_dir: Path, tmp_path: Path
) -> None:
    if "sentinel-1-rtc" not in scenario_server.collections:
        pytest.skip("this scenario build has no radar items (built without sensor s1)")
    period = ("2021-01-01", "2021-06-30")
    radar = geo.search(BAGRAM, *period, source=scenario_server.stac_url, sensor="s1",
                       store=tmp_path, progress=False)
    optical = geo.search(BAGRAM, *period, source=scenario_server.stac_url, store=tmp_path,
                         progress=False)
    local = geo.search(BAGRAM, *period, source=scenario_dir, sensor="s1", progress=False)
    assert radar and {i.properties["geo:collection"] for i in radar} == {"sentinel-1-rtc"}
    assert [i.id for i in radar] == [i.id for i in local]
    assert not {sensor_of(i) for i in optical} & {"s1"}
