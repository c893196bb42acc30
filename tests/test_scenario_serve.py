"""The served scenario: a real STAC API (rustac) and a range-request file server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pystac_client
import pytest
import rasterio

from geo import errors
from geo.scenario import serve
from geo.scenario.serve import FileServer

pytestmark = pytest.mark.slow

BAGRAM_BBOX = [69.25, 34.93, 69.28, 34.96]


def _all_items(folder):
    return [json.loads(line) for line in (folder / "items.ndjson").read_text().splitlines()]


@pytest.fixture(scope="module")
def client(scenario_server):
    return pystac_client.Client.open(scenario_server.stac_url)


def test_search_with_bbox_and_datetime(client, scenario_server, scenario_dir):
    search = client.search(collections=[scenario_server.collection], bbox=BAGRAM_BBOX,
                           datetime="2022-01-01/2022-12-31")
    items = list(search.items())
    expected = [i["id"] for i in _all_items(scenario_dir)
                if i["properties"]["datetime"].startswith("2022")
                and i["collection"] == scenario_server.collection]
    assert sorted(i.id for i in items) == sorted(expected)
    assert all(i.datetime.year == 2022 for i in items)
    for item in items:
        assert item.properties["geo:synthetic"] is True
        assert item.assets["red"].href.startswith(scenario_server.files_url)
    far = client.search(collections=[scenario_server.collection], bbox=[10, 10, 11, 11])
    assert list(far.items()) == []


def test_both_collections_are_served_and_searchable(client, scenario_server, scenario_dir):
    assert scenario_server.collection == "sentinel-2-l2a"
    assert scenario_server.collections == ["sentinel-2-c1-l2a", "sentinel-2-l2a",
                                           "sentinel-1-rtc"]
    assert sorted(c.id for c in client.get_collections()) == sorted(scenario_server.collections)
    everything = _all_items(scenario_dir)
    found = {}
    for coll in scenario_server.collections:
        items = list(client.search(collections=[coll], bbox=BAGRAM_BBOX).items())
        assert sorted(i.id for i in items) == sorted(
            i["id"] for i in everything if i["collection"] == coll)
        found[coll] = items
    c1 = found["sentinel-2-c1-l2a"]
    assert all(i.assets["red"].href.startswith(scenario_server.files_url + "cogs-c1/")
               for i in c1)
    both = list(client.search(collections=scenario_server.collections, bbox=BAGRAM_BBOX,
                              datetime="2022-01-01/2022-12-31").items())
    assert {i.collection_id for i in both} == set(scenario_server.collections)
    item = c1[len(c1) // 2]
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), \
            rasterio.open(item.assets["scl"].href) as src:
        assert src.read(1).max() > 0


def test_paging_follows_next_links(client, scenario_server, scenario_dir):
    search = client.search(collections=scenario_server.collections, bbox=BAGRAM_BBOX,
                           limit=7)
    pages = list(search.pages())
    ids = [i.id for page in pages for i in page.items]
    assert len(pages) >= 5
    assert all(len(p.items) <= 7 for p in pages)
    assert len(ids) == len(set(ids)) == len(_all_items(scenario_dir))


def test_cogs_are_read_with_range_requests(client, scenario_server):
    item = next(client.search(collections=[scenario_server.collection],
                              datetime="2022-07-24/2022-07-24").items())
    scenario_server.clear_requests()
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), \
            rasterio.open(item.assets["red"].href) as src:
        block = src.read(1, window=((300, 364), (300, 364)))
        assert src.crs.to_epsg() == 32642
    assert block.min() > 0
    seen = scenario_server.requests
    path = "/" + item.assets["red"].href.removeprefix(scenario_server.files_url)
    ranged = [r for m, p, r in seen if m == "GET" and p == path and r]
    assert ranged and all(r.startswith("bytes=") for r in ranged)


def test_file_server_speaks_http_ranges(scenario_dir):
    target = next((scenario_dir / "cogs").rglob("B04.tif"))
    size = target.stat().st_size
    rel = target.relative_to(scenario_dir).as_posix()
    data = target.read_bytes()
    with FileServer(scenario_dir) as fs:
        url = fs.url + rel
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as r:
            assert r.status == 200 and int(r.headers["Content-Length"]) == size
            assert r.headers["Accept-Ranges"] == "bytes"
        req = urllib.request.Request(url, headers={"Range": "bytes=100-199"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 206
            assert r.headers["Content-Range"] == f"bytes 100-199/{size}"
            assert r.read() == data[100:200]
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(urllib.request.Request(
                url, headers={"Range": f"bytes={size + 10}-"}))
        assert bad.value.code == 416
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(fs.url + "../../etc/passwd")
        assert missing.value.code == 404
        assert [m for m, _, _ in fs.requests][:2] == ["HEAD", "GET"]


def test_serving_an_incomplete_folder_is_refused(tmp_path):
    (tmp_path / "items.ndjson").write_text("")
    with pytest.raises(errors.ScenarioError, match="not a complete scenario"):
        serve(tmp_path)
