"""geo.search: real API pages replayed on loopback, local catalogs, duplicates, cache."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pystac
import pytest
import rasterio
from stac_geoparquet.arrow import parse_stac_items_to_arrow

import geo
from geo import errors
from geo.search import canonicalise, collapse_duplicates, relative_orbit, search, solar_day
from geo.testing.servers import JsonRouteServer

ES = "stac/earth-search"
PC = "stac/planetary-computer"
CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
]


def _landing(url: str) -> dict[str, Any]:
    return {
        "type": "Catalog", "id": "replay", "description": "replayed pages",
        "stac_version": "1.0.0", "conformsTo": CONFORMS,
        "links": [{"rel": "self", "href": url}, {"rel": "root", "href": url},
                  {"rel": "search", "href": url + "/search", "method": "POST",
                   "type": "application/geo+json"}],
    }


def _rewrite_next(page: dict[str, Any], base: str) -> dict[str, Any]:
    page = copy.deepcopy(page)
    for link in page["links"]:
        if link["rel"] == "next":
            tail = link["href"].split("/v1", 1)[1]
            link["href"] = base + tail
    return page


class Replay:
    """Serve recorded pages: each answer is chosen by the exact request the client sent."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.first: dict[str, Any] | None = None
        self.server = JsonRouteServer(self.route)

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if method == "GET" and path in ("", "/"):
            return 200, _landing(self.server.url)
        if method == "POST" and path == "/search":
            if body and set(body) == {"next"}:
                key = ("POST", path, body["next"])
            elif body and "next" in body:
                return 400, {"code": "BadRequest", "description": "next merged with query"}
            else:
                assert self.first is not None
                return 200, self.first
        else:
            key = (method, path, (query.get("token") or [""])[0])
        if key not in self.routes:
            return 404, {"code": "NotFound", "description": f"no replay for {key}"}
        return 200, self.routes[key]


@pytest.fixture
def replay() -> Iterator[Replay]:
    r = Replay()
    try:
        yield r
    finally:
        r.server.close()


def _empty() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [], "links": []}


def test_earth_search_pages_follow_next_post_body_exactly(
    real_fixtures: Path, replay: Replay, tmp_path: Path
) -> None:
    base = replay.server.url
    p1 = json.loads((real_fixtures / ES / "search_response_filter_cloudcover_lte40_page1_20250731.json").read_text())
    p2 = json.loads((real_fixtures / ES / "search_response_filter_cloudcover_lte40_page2_20250731.json").read_text())
    token1 = p1["links"][0]["body"]["next"]
    token2 = p2["links"][0]["body"]["next"]
    replay.first = _rewrite_next(p1, base)
    replay.routes[("POST", "/search", token1)] = _rewrite_next(p2, base)
    replay.routes[("POST", "/search", token2)] = _empty()

    items = search("bagram", "2025-07-01", "2025-07-31", source=base, progress=False,
                   store=tmp_path, collection="sentinel-2-l2a")

    posts = [json.loads(r.body) for r in replay.server.requests if r.method == "POST"]
    assert len(posts) == 3
    assert posts[0]["collections"] == ["sentinel-2-l2a"] and "bbox" in posts[0]
    assert posts[1] == {"next": token1}  # merge: false -> the link's body, nothing else
    assert posts[2] == {"next": token2}
    expected = [f["id"] for p in (p1, p2) for f in p["features"]
                if f["collection"] == "sentinel-2-l2a"]
    assert sorted(i.id for i in items) == sorted(expected)
    assert {i.collection_id for i in items} == {"sentinel-2-l2a"}
    assert all("red" in i.assets and "scl" in i.assets for i in items)


def test_by_default_both_earth_search_collections_give_one_item_per_pass(
    real_fixtures: Path, replay: Replay, tmp_path: Path
) -> None:
    """The real pages hold both collections' items of one pass (tile 20EPT, 2025-07-31):
    the Collection 1 item is kept, the older collection fills passes c1 lacks."""
    base = replay.server.url
    p1 = json.loads((real_fixtures / ES / "search_response_filter_cloudcover_lte40_page1_20250731.json").read_text())
    p2 = json.loads((real_fixtures / ES / "search_response_filter_cloudcover_lte40_page2_20250731.json").read_text())

    def pass_of(f: dict[str, Any]) -> tuple[str, str]:
        return f["properties"].get("grid:code", ""), f["properties"]["datetime"][:10]

    # A gap: take out one Collection 1 item whose pass the older collection also holds.
    older = {pass_of(f) for p in (p1, p2) for f in p["features"] if f["collection"] == "sentinel-2-l2a"}
    gap = next(f for f in p2["features"] if f["collection"] == "sentinel-2-c1-l2a"
               and pass_of(f) in older and "20EPT" not in f["id"])
    p2["features"].remove(gap)
    replay.first = _rewrite_next(p1, base)
    replay.routes[("POST", "/search", p1["links"][0]["body"]["next"])] = _rewrite_next(p2, base)
    replay.routes[("POST", "/search", p2["links"][0]["body"]["next"])] = _empty()

    items = search("bagram", "2025-07-01", "2025-07-31", source=base, progress=False,
                   store=tmp_path)

    posts = [json.loads(r.body) for r in replay.server.requests if r.method == "POST"]
    asked = [p["collections"] for p in posts if "collections" in p]
    assert asked == [["sentinel-2-c1-l2a"], ["sentinel-2-l2a"]]
    ids = {i.id for i in items}
    assert "S2B_T20EPT_20250731T131905_L2A" in ids  # c1 item of the shared pass kept
    assert "S2B_20EPT_20250731_0_L2A" not in ids  # its sentinel-2-l2a twin dropped
    features = [f for p in (p1, p2) for f in p["features"]]
    c1_passes = {pass_of(f) for f in features if f["collection"] == "sentinel-2-c1-l2a"}
    for f in features:
        key = pass_of(f)
        if f["collection"] == "sentinel-2-c1-l2a":
            assert f["id"] in ids
        elif f["collection"] == "sentinel-2-l2a":
            assert (f["id"] in ids) == (key not in c1_passes), f["id"]
    by_collection = {i.id: i.properties["geo:collection"] for i in items}
    assert set(by_collection.values()) == {"sentinel-2-c1-l2a", "sentinel-2-l2a"}
    assert len({(i.properties.get("grid:code"), solar_day(i)) for i in items}) == len(items)


def test_planetary_computer_pages_follow_next_get_token(
    real_fixtures: Path, replay: Replay, tmp_path: Path
) -> None:
    base = replay.server.url
    page = json.loads((real_fixtures / PC / "items_page_sentinel-2-l2a_limit1_20250312.json").read_text())
    nxt = next(link for link in page["links"] if link["rel"] == "next")
    token = nxt["href"].split("token=")[1]
    replay.first = _rewrite_next(page, base)
    replay.routes[("GET", "/collections/sentinel-2-l2a/items", token)] = _empty()

    items = search("bagram", "2025-03-01", "2025-03-31", source=base, limit=1,
                   progress=False, store=tmp_path, collection="sentinel-2-l2a")

    gets = [r for r in replay.server.requests if r.method == "GET" and "items" in r.path]
    assert len(gets) == 1 and f"token={token}" in gets[0].path
    assert [i.id for i in items] == [page["features"][0]["id"]]
    assert {"blue", "green", "red", "nir", "swir16", "swir22", "scl", "visual"} <= set(items[0].assets)
    assert "B04" not in items[0].assets


def _serve_one_page(real_fixtures: Path, replay: Replay) -> None:
    """The replay answers every search with one real Earth Search page (no next link)."""
    page = json.loads((real_fixtures / ES / "search_response_s2l2a_landsat_point_20231008.json").read_text())
    page["links"] = [link for link in page["links"] if link["rel"] != "next"]
    replay.first = page


def test_second_identical_search_of_a_past_period_asks_nothing(
    real_fixtures: Path, replay: Replay, tmp_path: Path
) -> None:
    _serve_one_page(real_fixtures, replay)
    kwargs: dict[str, Any] = {"source": replay.server.url, "progress": False, "store": tmp_path}
    first = search("bagram", "2023-10-01", "2023-10-31", **kwargs)
    n = len(replay.server.requests)
    assert first and n > 0
    again = search("bagram", "2023-10-01", "2023-10-31", **kwargs)
    offline = search("bagram", "2023-10-01", "2023-10-31", offline=True, **kwargs)
    assert len(replay.server.requests) == n
    assert [i.id for i in again] == [i.id for i in offline] == [i.id for i in first]
    with pytest.raises(errors.OfflineMiss, match="no result"):
        search("bagram", "2023-11-01", "2023-11-30", offline=True, **kwargs)


def test_a_cached_search_is_reused_only_while_young_and_offline_says_its_age(
    real_fixtures: Path, replay: Replay, tmp_path: Path
) -> None:
    _serve_one_page(real_fixtures, replay)
    kwargs: dict[str, Any] = {"source": replay.server.url, "progress": False,
                              "store": tmp_path, "collection": "sentinel-2-l2a"}
    search("bagram", "2023-10-01", "2023-10-31", **kwargs)
    n = len(replay.server.requests)
    search("bagram", "2023-10-01", "2023-10-31", **kwargs)
    assert len(replay.server.requests) == n  # young: reused
    search("bagram", "2023-10-01", "2023-10-31", max_age=0, **kwargs)
    assert len(replay.server.requests) > n  # older than max_age: asked again
    n = len(replay.server.requests)
    search("bagram", "2023-10-01", "2023-10-31", refresh=True, **kwargs)
    assert len(replay.server.requests) > n  # refresh: asked again
    n = len(replay.server.requests)
    with pytest.warns(errors.StaleSearchWarning, match="days old"):
        old = search("bagram", "2023-10-01", "2023-10-31", offline=True, max_age=-1, **kwargs)
    assert old and len(replay.server.requests) == n


def test_planetary_computer_without_its_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "planetary_computer", None)
    with pytest.raises(errors.MissingDependency, match=r'pip install "geo\[planetary-computer\]"'):
        search("bagram", "2022-01-01", "2022-01-31", source="planetary-computer",
               progress=False, store=tmp_path)


def test_unknown_source_says_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(errors.UnknownSource, match="earth-search"):
        search("bagram", "2022-01-01", "2022-01-31", source=str(tmp_path / "nope"))


# --- local catalogs --------------------------------------------------------------------


def _local_item(item_id: str, when: str, href: str, *, cloud: float = 10.0,
                props: dict[str, Any] | None = None) -> dict[str, Any]:
    aoi = geo.aoi.load("bagram")
    w, s, e, n = aoi.bounds
    poly = {"type": "Polygon", "coordinates": [[[w - 1, s - 1], [e + 1, s - 1], [e + 1, n + 1],
                                                 [w - 1, n + 1], [w - 1, s - 1]]]}
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-2-l2a",
        "geometry": poly, "bbox": [w - 1, s - 1, e + 1, n + 1],
        "properties": {"datetime": when, "eo:cloud_cover": cloud, "s2:mgrs_tile": "42SWD",
                       "sat:relative_orbit": 5, **(props or {})},
        "assets": {"B04": {"href": href, "type": "image/tiff"}},
        "links": [],
    }


def _write_ndjson(folder: Path, items: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "items.ndjson"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def test_local_catalog_resolves_relative_hrefs_inside_its_folder(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    _write_ndjson(cat, [
        _local_item("S2A_42SWD_20220110_0_L2A", "2022-01-10T06:00:00Z", "./cogs/a/B04.tif"),
        _local_item("S2A_42SWD_20220210_0_L2A", "2022-02-10T06:00:00Z", "./cogs/b/B04.tif"),
        _local_item("S2A_42SWD_20220115_0_L2A", "2022-01-15T06:00:00Z", "./cogs/c/B04.tif",
                    cloud=90),
    ])
    items = search("bagram", "2022-01-01", "2022-01-31", source=cat, max_cloud=50, progress=False)
    assert [i.id for i in items] == ["S2A_42SWD_20220110_0_L2A"]
    assert items[0].assets["red"].href == str((cat / "cogs/a/B04.tif").resolve())
    assert items[0].properties["geo:source"] == str(cat.resolve())


@pytest.mark.parametrize("href", ["../outside/B04.tif", "./cogs/../../x.tif", "/etc/passwd",
                                  "file:///etc/passwd", "ftp://host/B04.tif"])
def test_local_catalog_refuses_hrefs_that_leave_it(tmp_path: Path, href: str) -> None:
    cat = tmp_path / "cat"
    _write_ndjson(cat, [_local_item("S2A_42SWD_20220110_0_L2A", "2022-01-10T06:00:00Z", href)])
    items = search("bagram", "2022-01-01", "2022-01-31", source=cat, progress=False)
    # The search lists the item; reading the band it points at is refused.
    with pytest.raises(errors.UnsafeHref, match="S2A_42SWD_20220110_0_L2A"):
        geo.load(items, "bagram", bands=["red"], store=tmp_path / "store", progress=False)


def test_a_missing_path_a_folder_without_catalog_and_an_empty_catalog_differ(
    tmp_path: Path,
) -> None:
    with pytest.raises(errors.UnknownSource, match="does not exist"):
        search("bagram", "2022-01-01", "2022-01-31", source=tmp_path / "nope")
    with pytest.raises(errors.UnknownSource, match="holds no catalog"):
        search("bagram", "2022-01-01", "2022-01-31", source=tmp_path)
    (tmp_path / "items.ndjson").write_text("")
    with pytest.raises(errors.EmptyCatalog, match="no items at all") as info:
        search("bagram", "2022-01-01", "2022-01-31", source=tmp_path)
    assert "Widen" not in str(info.value)


def test_real_earth_search_items_with_s3_assets_load_over_loopback(
    real_fixtures: Path, tmp_path: Path
) -> None:
    """A local catalog of real Earth Search v1 items keeps their s3:// ``*-jp2`` and
    metadata assets (never read) and loads the bands it reads from a range server."""
    from geo.scenario.serve import FileServer

    raster = real_fixtures / "raster" / "sentinel2-l2a-cogs_S2A_29RKH_20200219_0_L2A"
    item = json.loads((raster / "S2A_29RKH_20200219_0_L2A.json").read_text())
    s3_keys = {k for k, a in item["assets"].items() if a["href"].startswith("s3://")}
    assert {"red-jp2", "scl-jp2"} <= s3_keys
    served = {"red": "B04.tif", "nir": "B08.tif", "swir16": "B11.tif", "scl": "SCL.tif"}
    square = [[-11.60, 24.70], [-11.56, 24.70], [-11.56, 24.74], [-11.60, 24.74], [-11.60, 24.70]]
    site = geo.aoi.from_geojson({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "site", "kind": "perimeter"},
        "geometry": {"type": "Polygon", "coordinates": [square]}}]}, name="rkh")
    with FileServer(raster) as files:
        for key, name in served.items():
            item["assets"][key]["href"] = files.url + name
            with rasterio.open(raster / name) as src:  # the fixture files are decimated
                item["assets"][key]["proj:shape"] = [src.height, src.width]
                item["assets"][key]["proj:transform"] = list(src.transform)[:6]
        cat = tmp_path / "cat"
        _write_ndjson(cat, [item])
        items = search(site, "2020-02-01", "2020-02-28", source=cat, progress=False)
        assert [i.id for i in items] == ["S2A_29RKH_20200219_0_L2A"]
        assert {k for k, a in items[0].assets.items() if a.href.startswith("s3://")} == s3_keys
        ds = geo.load(items, site, bands=list(served), store=tmp_path / "store", progress=False)
        red = ds["red"].isel(time=0).values
    assert red.size > 0 and np.isfinite(red).mean() > 0.99
    assert 0.05 < float(np.nanmedian(red)) < 0.6  # desert reflectance, no offset removed
    assert int(ds["dn_offset"].values[0]) == 0


def test_local_geoparquet_catalog(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    cat.mkdir()
    raw = [_local_item("S2A_42SWD_20220110_0_L2A", "2022-01-10T06:00:00Z", "./cogs/a/B04.tif")]
    pq.write_table(parse_stac_items_to_arrow(raw).read_all(), cat / "items.parquet")
    items = search("bagram", "2022-01-01", "2022-01-31", source=cat / "items.parquet",
                   progress=False)
    assert [i.id for i in items] == ["S2A_42SWD_20220110_0_L2A"]
    assert Path(items[0].assets["red"].href).is_relative_to(cat.resolve())


# --- duplicates -------------------------------------------------------------------------


def _item(item_id: str, when: dt.datetime, tile: str, gen: str, bbox: list[float] | None = None,
          orbit: int = 5) -> pystac.Item:
    bbox = bbox or [69.0, 34.5, 69.6, 35.2]
    geom = {"type": "Polygon", "coordinates": [[[bbox[0], bbox[1]], [bbox[2], bbox[1]],
                                                 [bbox[2], bbox[3]], [bbox[0], bbox[3]],
                                                 [bbox[0], bbox[1]]]]}
    return pystac.Item(item_id, geom, bbox, when, {
        "s2:mgrs_tile": tile, "s2:generation_time": gen, "sat:relative_orbit": orbit})


def test_duplicates_keep_newest_processing_and_the_aois_tile() -> None:
    aoi = geo.aoi.load("bagram")
    t = dt.datetime(2022, 1, 25, 6, 0, tzinfo=dt.UTC)
    old = _item("S2A_42SWD_20220125_0_L2A", t, "42SWD", "2022-01-25T08:00:00Z")
    new = _item("S2A_42SWD_20220125_1_L2A", t, "42SWD", "2023-03-01T00:00:00Z")
    other_tile = _item("S2A_42SWC_20220125_0_L2A", t, "42SWC", "2022-01-25T08:00:00Z")
    next_pass = _item("S2B_42SWD_20220130_0_L2A", t + dt.timedelta(days=5), "42SWD",
                      "2022-01-30T08:00:00Z")
    out = collapse_duplicates([old, other_tile, new, next_pass], aoi)
    assert [i.id for i in out] == ["S2A_42SWD_20220125_1_L2A", "S2B_42SWD_20220130_0_L2A"]


def test_tiles_of_a_pass_are_all_kept_when_none_holds_the_aoi() -> None:
    aoi = geo.aoi.load("bagram")
    t = dt.datetime(2022, 1, 25, 6, 0, tzinfo=dt.UTC)
    west = _item("S2A_42SWD_20220125_0_L2A", t, "42SWD", "g", bbox=[69.0, 34.5, 69.26, 35.2])
    east = _item("S2A_42SXD_20220125_0_L2A", t, "42SXD", "g", bbox=[69.26, 34.5, 69.6, 35.2])
    assert len(collapse_duplicates([west, east], aoi)) == 2


def test_solar_day_and_orbit_helpers(real_fixtures: Path) -> None:
    d = json.loads((real_fixtures / ES / "item_sentinel-2-l2a_S2A_29RKH_20200219_0_L2A_baseline02.14.json").read_text())
    item = pystac.Item.from_dict(d, migrate=False)
    assert relative_orbit(item) == 37  # from s2:product_uri "_R037_"
    assert solar_day(item) == dt.date(2020, 2, 19)


def test_canonicalise_maps_planetary_computer_keys(real_fixtures: Path) -> None:
    d = json.loads((real_fixtures / PC / "item_sentinel-2-l2a_S2A_MSIL2A_20190101T000001_R116_T60VUK_20201007T214652.json").read_text())
    item = canonicalise(pystac.Item.from_dict(d, migrate=False))
    for key in ("blue", "green", "red", "nir", "swir16", "swir22", "scl", "visual"):
        assert key in item.assets
    assert item.assets["red"].href.endswith("_B04_10m.tif")
    assert item.assets["scl"].href.endswith("_SCL_20m.tif")
