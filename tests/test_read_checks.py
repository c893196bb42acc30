"""Every read is checked against what its item says: the real items' proj/raster fields,
real files that are not what their item says (a data error after fresh reads, nothing
stored), and a cut header read (a transient fault: read again, same values)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS

from geo import errors
from geo.aoi import AOI, from_geojson
from geo.load import READ_ATTEMPTS, expected_of, load
from geo.search import canonicalise
from geo.store import Store
from geo.testing.faults import FaultProxy
from geo.testing.servers import RangeFileServer

REAL = "raster/sentinel2-l2a-cogs_S2A_29RKH_20200219_0_L2A"
ITEM = "S2A_29RKH_20200219_0_L2A"
ES = "stac/earth-search"
PC_ITEM = ("stac/planetary-computer/item_sentinel-2-l2a_S2A_MSIL2A_20190101T000001_R116_"
           "T60VUK_20201007T214652.json")
FILES = {"red": "B04.tif", "scl": "SCL.tif"}


def _raw(root: Path, rel: str) -> dict[str, Any]:
    return dict(json.loads((root / rel).read_text()))


def _stated(raw: dict[str, Any], key: str) -> tuple[CRS, Affine, tuple[int, int], str | None]:
    """What the raw JSON says about an asset, read independently of geo."""
    asset = raw["assets"][key]
    epsg = asset.get("proj:epsg") or raw["properties"]["proj:epsg"]
    bands = asset.get("raster:bands") or [{}]
    return (CRS.from_epsg(epsg), Affine(*asset["proj:transform"][:6]),
            tuple(asset["proj:shape"]), bands[0].get("data_type"))  # type: ignore[return-value]


# --- expected_of on real items ---------------------------------------------------------


@pytest.mark.parametrize("rel", [
    f"{ES}/item_sentinel-2-l2a_S2A_29RKH_20200219_0_L2A_baseline02.14.json",
    f"{ES}/item_sentinel-2-l2a_S2A_13TDE_20231008_0_L2A.json",
    f"{ES}/item_sentinel-2-l2a_S2B_20EPT_20250731_0_L2A.json",
    f"{ES}/item_sentinel-2-c1-l2a_S2B_T20EPT_20250731T131905_L2A.json",
])
@pytest.mark.parametrize("band", ["red", "scl"])
def test_expected_of_real_earth_search_items_is_what_they_state(real_fixtures, rel, band):
    raw = _raw(real_fixtures, rel)
    want = expected_of(pystac.Item.from_dict(copy.deepcopy(raw)), band)
    crs, transform, shape, dtype = _stated(raw, band)
    assert (want.crs, want.transform, want.shape, want.dtype) == (crs, transform, shape, dtype)
    assert want.dtype in ("uint16", "uint8")


def test_expected_of_the_2020_29rkh_red(real_fixtures):
    item = pystac.Item.from_dict(_raw(real_fixtures, f"{REAL}/{ITEM}.json"))
    red, scl = expected_of(item, "red"), expected_of(item, "scl")
    assert red.crs == CRS.from_epsg(32629) and red.shape == (10980, 10980)
    assert red.dtype == "uint16" and red.nodata == 0 and red.transform is not None
    assert red.transform.a == 10 and scl.transform is not None and scl.transform.a == 20
    assert scl.shape == (5490, 5490) and scl.dtype == "uint8"


def test_expected_of_a_planetary_computer_item_through_canonical_keys(real_fixtures):
    raw = _raw(real_fixtures, PC_ITEM)
    item = canonicalise(pystac.Item.from_dict(copy.deepcopy(raw)))
    assert "red" in item.assets and "B04" not in item.assets
    want = expected_of(item, "red")
    crs, transform, shape, dtype = _stated(raw, "B04")
    assert (want.crs, want.transform, want.shape) == (crs, transform, shape)
    assert want.crs == CRS.from_epsg(32660) and want.shape == (10980, 10980)
    assert want.dtype is None and dtype is None  # PC items carry no raster:bands
    assert expected_of(item, "nir").shape == tuple(raw["assets"]["B08"]["proj:shape"])


def test_expected_of_says_nothing_where_the_item_says_nothing():
    item = pystac.Item("x", None, None, dt.datetime(2020, 1, 1), {})
    item.add_asset("red", pystac.Asset("r.tif"))
    want = expected_of(item, "red")
    assert (want.crs, want.transform, want.shape, want.dtype, want.nodata) == (None,) * 5
    assert expected_of(item, "nir") == want  # no such asset: nothing expected


# --- real files against their real item --------------------------------------------------


def _site() -> AOI:
    """A 3 km square inside tile 29RKH."""
    to_ll = Transformer.from_crs(32629, 4326, always_xy=True)
    x0, y0 = 250_000, 2_750_000
    ring = [to_ll.transform(x, y) for x, y in
            [(x0, y0), (x0 + 3000, y0), (x0 + 3000, y0 + 3000), (x0, y0 + 3000), (x0, y0)]]
    return from_geojson({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": "perimeter", "kind": "perimeter", "source": "test"}}]}, name="t")


def _served(item: dict[str, Any], base: str, *, true_grid: Path | None = None) -> dict[str, Any]:
    """The item with its band hrefs at ``base``; with ``true_grid``, the decimated
    files' own proj:shape/proj:transform (else the item's 10 m originals, unmodified)."""
    out = copy.deepcopy(item)
    for band, name in FILES.items():
        out["assets"][band]["href"] = f"{base}/{name}"
        if true_grid is not None:
            with rasterio.open(true_grid / name) as src:
                out["assets"][band]["proj:shape"] = [src.height, src.width]
                out["assets"][band]["proj:transform"] = list(src.transform)[:6]
    return out


def _nothing_stored(root: Path) -> None:
    store = Store(root)
    assert store.entries() == []
    assert not [p for p in root.rglob("*") if p.suffix in (".tif", ".partial")
                or p.name.endswith(".partial")]


def test_real_files_under_their_unmodified_item_fail_after_fresh_reads(real_fixtures, tmp_path,
                                                                       caplog):
    folder = real_fixtures / REAL
    item = _raw(real_fixtures, f"{REAL}/{ITEM}.json")
    caplog.set_level(logging.INFO, logger="geo.load")
    with RangeFileServer(folder) as srv:
        served = _served(item, srv.url)
        with pytest.raises(errors.ReadError) as info:
            load([served], _site(), bands=["red"], store=tmp_path / "store", progress=False,
                 workers=1)
        reads = [r for r in srv.requests if r.path == "/B04.tif" and r.method == "GET"]
    message = str(info.value)
    assert ITEM in message and "red" in message and f"{srv.url}/B04.tif" in message
    assert "expected (10980, 10980), read (1098, 1098)" in message
    assert "expected EPSG" not in message  # the CRS is right: only the grid differs
    assert f"in all {READ_ATTEMPTS} fresh reads" in message
    retries = [r for r in caplog.records if r.name == "geo.load" and "retry" in r.getMessage()]
    assert len(retries) == READ_ATTEMPTS - 1
    assert len(reads) >= READ_ATTEMPTS  # each attempt read the header again, uncached
    _nothing_stored(tmp_path / "store")


@pytest.mark.parametrize(("field", "value", "said"), [
    ("dtype", "uint8", "data type: expected uint8, read uint16"),
    ("crs", 32630, "CRS: expected EPSG:32630, read EPSG:32629"),
])
def test_a_local_file_of_another_dtype_or_crs_fails_without_retry(real_fixtures, tmp_path,
                                                                   caplog, field, value, said):
    folder = real_fixtures / REAL
    item = _served(_raw(real_fixtures, f"{REAL}/{ITEM}.json"), str(folder), true_grid=folder)
    asset = item["assets"]["red"]
    if field == "dtype":
        asset["raster:bands"][0]["data_type"] = value
    else:
        asset["proj:epsg"] = value
    caplog.set_level(logging.INFO, logger="geo.load")
    with pytest.raises(errors.ReadError) as info:
        load([item], _site(), bands=["red"], store=tmp_path / "store", progress=False)
    message = str(info.value)
    assert ITEM in message and "red" in message and str(folder / "B04.tif") in message
    assert said in message and "read from disk" in message
    assert not [r for r in caplog.records if "retry" in r.getMessage()]
    _nothing_stored(tmp_path / "store")


def test_a_header_read_cut_once_loads_the_same_values(real_fixtures, tmp_path):
    folder = real_fixtures / REAL
    item = _raw(real_fixtures, f"{REAL}/{ITEM}.json")
    kw: dict[str, Any] = {"bands": list(FILES), "progress": False}
    with RangeFileServer(folder) as srv:
        clean = load([_served(item, srv.url, true_grid=folder)], _site(),
                     store=tmp_path / "a", **kw).compute()
        with FaultProxy(srv.url, rate=1.0, kinds=("truncate",), first_only=True) as proxy:
            cut = load([_served(item, proxy.url, true_grid=folder)], _site(),
                       store=tmp_path / "b", **kw).compute()
            first = {e.path: e for e in reversed(proxy.events) if e.method == "GET"}
    assert proxy.fault_counts() == {"truncate": len(FILES)}  # each header read, cut once
    assert all(e.range and e.range.startswith("bytes=0-") for e in first.values())
    for band in FILES:
        np.testing.assert_array_equal(cut[band].values, clean[band].values)
    assert np.isfinite(cut["red"].values).any()
    assert len(Store(tmp_path / "b").entries()) == len(FILES)


def test_metadata_that_do_not_parse_say_nothing_rather_than_break_the_load() -> None:
    import datetime as dt

    import pystac

    from geo.load import expected_of

    item = pystac.Item("x", None, None, dt.datetime(2022, 1, 1), {"proj:epsg": "not-a-code"})
    item.add_asset("red", pystac.Asset("r.tif", extra_fields={
        "proj:shape": ["a", 3], "proj:transform": [10, 0, None, 0, -10, 20],
        "raster:bands": [{"data_type": "uint16", "nodata": "n/a"}]}))
    want = expected_of(item, "red")
    assert (want.crs, want.transform, want.shape, want.nodata) == (None, None, None, None)
    assert want.dtype == "uint16"
