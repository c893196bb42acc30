"""Untrusted catalogs: a remote catalog cannot make geo read local files, write outside
its store, or leak signed URLs into logs, manifests and error messages."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import geo
from geo import errors
from geo.testing.servers import JsonRouteServer, RangeFileServer

SECRET = "c2VjcmV0LXNpZ25hdHVyZQ"  # what a SAS signature looks like
CONFORMS = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"]


class FakeApi:
    """A STAC API on loopback that answers every search with the given items."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.server = JsonRouteServer(self.route)

    def route(self, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        url = self.server.url
        if path in ("", "/"):
            return 200, {"type": "Catalog", "id": "evil", "description": "untrusted",
                         "stac_version": "1.0.0", "conformsTo": CONFORMS,
                         "links": [{"rel": "self", "href": url}, {"rel": "root", "href": url},
                                   {"rel": "search", "href": url + "/search", "method": "POST"}]}
        if path == "/search":
            return 200, {"type": "FeatureCollection", "features": self.items, "links": []}
        return 404, {"code": "NotFound"}


@pytest.fixture(scope="module")
def first_item(scenario_dir: Path) -> dict[str, Any]:
    line = (scenario_dir / "items.ndjson").read_text().splitlines()[0]
    return json.loads(line)


@pytest.fixture(scope="module")
def files(scenario_dir: Path) -> Iterator[RangeFileServer]:
    with RangeFileServer(scenario_dir) as server:
        yield server


def _with_href(item: dict[str, Any], href: str, item_id: str | None = None) -> dict[str, Any]:
    out = copy.deepcopy(item)
    out["assets"]["red"]["href"] = href
    if item_id:
        out["id"] = item_id
    out.pop("links", None)
    return out


def _search(items: list[dict[str, Any]], tmp_path: Path) -> list[Any]:
    api = FakeApi(items)
    try:
        return geo.search("bagram", "2020-10-01", "2020-10-31", source=api.server.url,
                          store=tmp_path / "store", progress=False)
    finally:
        api.server.close()


@pytest.mark.parametrize("href", [
    "file:///etc/passwd",
    "/etc/passwd",
    "../../../../etc/passwd",
    "cogs/B04.tif",
    "s3://some-bucket/B04.tif",
    "ftp://example.org/B04.tif",
    "http://127.0.0.1:1/cogs/../../../etc/passwd",
])
def test_remote_catalog_cannot_point_at_local_files(first_item, tmp_path, href):
    items = _search([_with_href(first_item, href)], tmp_path)
    with pytest.raises(errors.UnsafeHref, match="only http"):
        geo.load(items, "bagram", bands=("red",), store=tmp_path / "store", progress=False)
    windows = list((tmp_path / "store").rglob("*.tif"))
    assert windows == []


def test_item_id_cannot_steer_the_store(first_item, files, tmp_path):
    href = files.url + "/" + first_item["assets"]["red"]["href"].removeprefix("./")
    evil = _with_href(first_item, href, item_id="../../../../tmp/evil/x")
    items = _search([evil], tmp_path)
    store = tmp_path / "store"
    geo.load(items, "bagram", bands=("red",), store=store, progress=False).red.compute()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to(store.resolve()) for p in written)
    assert not Path("/tmp/evil").exists()


def test_signed_urls_never_reach_logs_manifest_or_errors(first_item, files, tmp_path, caplog):
    href = files.url + "/" + first_item["assets"]["red"]["href"].removeprefix("./")
    signed = f"{href}?st=2025&se=2025&sp=rl&sig={SECRET}"
    items = _search([_with_href(first_item, signed)], tmp_path)
    store = tmp_path / "store"
    seen = len(files.requests)
    with caplog.at_level(logging.DEBUG, logger="geo"):
        geo.load(items, "bagram", bands=("red",), store=store, progress=False).red.compute()
    new = files.requests[seen:]
    assert any(r.path.split("?")[0].endswith("B04.tif") for r in new)  # read over HTTP
    for path in store.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in caplog.text
    # and in an error message: the same signed URL, to a file that is not there
    missing = _with_href(first_item, signed.replace("B04.tif", "B99.tif"))
    items = _search([missing], tmp_path / "again")
    with pytest.raises(errors.GeoError) as info:
        geo.load(items, "bagram", bands=("red",), store=tmp_path / "s2", progress=False)
    assert SECRET not in str(info.value)
    assert "B99.tif" in str(info.value)
