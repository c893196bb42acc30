"""The imagery store: safe paths, atomic writes, manifest, clean-up of dead runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import errors
from geo.store import ENV_VAR, Store, WindowEntry, href_key, open_store, safe_name

BOUNDS = (521940.0, 3863280.0, 528240.0, 3869940.0)


def _put(store: Store, item_id: str = "S2A_42SWD_20220125_0_L2A", asset: str = "red") -> WindowEntry:
    key = store.window_key(item_id, asset, "https://h/B04.tif", "EPSG:32642", BOUNDS)
    entry = WindowEntry(key=key, item_id=item_id, asset=asset, href="https://h/B04.tif",
                        crs="EPSG:32642", bounds=BOUNDS, path="", hist=[1, 2])
    data = np.arange(300 * 280, dtype="uint16").reshape(300, 280)
    return store.put(entry, data, transform=Affine(10, 0, 521940, 0, -10, 3869940),
                     crs="EPSG:32642", nodata=0)


@given(st.text(min_size=1, max_size=80))
@settings(max_examples=200, deadline=None)
def test_ids_never_steer_paths(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    store = Store(tmp_path_factory.getbasetemp() / "store")
    path = store.window_path(text, text, "0" * 64)
    assert path.is_relative_to(store.root / "windows")
    assert len(path.relative_to(store.root).parts) == 3
    name = safe_name(text)
    assert name not in ("", ".", "..") and "/" not in name and "\\" not in name


def test_distinct_ids_that_clean_alike_get_distinct_names() -> None:
    assert safe_name("a/b") != safe_name("a_b") and safe_name("a:b") != safe_name("a/b")


def test_put_is_atomic_listed_and_read_back(tmp_path: Path) -> None:
    store = Store(tmp_path)
    entry = _put(store)
    store.flush()
    path = Path(entry.path)
    assert path.is_file() and path.is_relative_to(tmp_path)
    assert store.partial_files() == []
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    listed = manifest["windows"][entry.key]
    assert listed["item_id"] == "S2A_42SWD_20220125_0_L2A" and listed["asset"] == "red"
    assert listed["sha256"] and listed["nbytes"] == path.stat().st_size
    with rasterio.open(path) as src:
        assert src.read(1)[1, 2] == 282
    again = Store(tmp_path).get(entry.key, entry.item_id, entry.asset)
    assert again is not None and again.hist == [1, 2]


def test_manifest_can_be_rebuilt_from_the_files(tmp_path: Path) -> None:
    store = Store(tmp_path)
    entry = _put(store)
    store.flush()
    (tmp_path / "manifest.json").unlink()
    assert Store(tmp_path).rebuild_manifest() == 1
    assert entry.key in json.loads((tmp_path / "manifest.json").read_text())["windows"]


def test_manifest_write_that_fails_keeps_the_old_manifest_and_no_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    first = _put(store)
    store.flush()
    before = (tmp_path / "manifest.json").read_text()
    _put(store, item_id="S2B_42SWD_20220130_0_L2A")

    def fail_midway(obj: object, fh: object, **kwargs: object) -> None:
        fh.write('{"format": "geo-imag')  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("geo.store.json.dump", fail_midway)
    with pytest.raises(OSError):
        store.flush()
    assert (tmp_path / "manifest.json").read_text() == before
    assert first.key in json.loads(before)["windows"]
    assert store.partial_files() == []


def test_unflushed_window_is_still_found(tmp_path: Path) -> None:
    entry = _put(Store(tmp_path))  # never flushed: as if the process died
    hit = Store(tmp_path).get(entry.key, entry.item_id, entry.asset)
    assert hit is not None and hit.key == entry.key


def test_partials_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    folder = tmp_path / "windows" / "x"
    folder.mkdir(parents=True)
    stale = folder / f".red-abc.tif.{pid}.deadbeef.partial"
    mine = folder / f".red-abd.tif.{os.getpid()}.deadbeef.partial"
    stale.write_bytes(b"half a file")
    mine.write_bytes(b"being written")
    removed = Store(tmp_path).clean_partials()
    assert removed == [stale] and mine.exists() and not stale.exists()


def test_href_key_drops_signatures() -> None:
    assert href_key("https://a.blob.core.windows.net/c/B04.tif?st=1&sig=x") == \
        "https://a.blob.core.windows.net/c/B04.tif"
    store = Store("/tmp/unused-store")
    k1 = store.window_key("i", "red", "https://a/B04.tif?sig=1", "EPSG:32642", BOUNDS)
    k2 = store.window_key("i", "red", "https://a/B04.tif?sig=2", "EPSG:32642", BOUNDS)
    k3 = store.window_key("i", "red", "https://a/B04.tif", "EPSG:32642", (0, 0, 60, 60))
    assert k1 == k2 != k3


def test_default_location_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert open_store(None).root == (tmp_path / "elsewhere").resolve()


def test_a_file_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(errors.StoreError, match="not a folder"):
        Store(tmp_path / "f")


def test_search_cache_strips_signatures(tmp_path: Path) -> None:
    store = Store(tmp_path)
    item = {"id": "x", "assets": {"red": {"href": "https://a/B04.tif?sig=secret"}}}
    store.put_search("k", {"q": 1}, [item])
    text = (tmp_path / "searches" / "k.json").read_text()
    assert "secret" not in text
    cached = store.get_search("k")
    assert cached is not None and cached["items"][0]["assets"]["red"]["href"] == "https://a/B04.tif"


# --- validators: what identifies one version of a remote file ---------------------------


def test_validators_are_parsed_from_head_and_range_responses() -> None:
    from geo.store import parse_validators

    head = ["HTTP/1.1 200 OK", 'ETag: "abc"', "Last-Modified: Tue, 01 Dec 2026 10:00:00 GMT",
            "Content-Length: 978531"]
    ranged = ["HTTP/1.1 206 Partial Content", "Content-Range: bytes 0-16383/978531",
              "Content-Length: 16384"]
    got = parse_validators(head + ranged)
    assert (got.etag, got.size) == ('"abc"', 978531)
    assert got.last_modified == "Tue, 01 Dec 2026 10:00:00 GMT"
    assert parse_validators(ranged).size == 978531  # not the length of the piece
    assert parse_validators(["HTTP/1.1 206 Partial Content", "Content-Length: 10"]).size == -1
    assert not parse_validators([]).known


def test_a_change_is_what_both_sides_can_compare() -> None:
    from geo.store import Validators

    old = Validators('"a"', "Tue, 01 Dec 2026 10:00:00 GMT", 100)
    assert not old.differs(Validators('"a"', "Tue, 01 Dec 2026 10:00:00 GMT", 100))
    assert old.differs(Validators('"b"', "Tue, 01 Dec 2026 10:00:00 GMT", 100))
    assert not old.differs(Validators('W/"a"', "", 100))  # a weak form of the same tag
    assert old.differs(Validators("", "Wed, 02 Dec 2026 10:00:00 GMT", 100))
    assert old.differs(Validators("", "", 101))
    assert not old.differs(Validators())  # the server says nothing: no evidence of change


def test_head_validators_asks_the_server_once(tmp_path: Path) -> None:
    from geo.scenario.serve import FileServer
    from geo.store import head_validators

    (tmp_path / "a.tif").write_bytes(b"x" * 1234)
    with FileServer(tmp_path) as fs:
        first = head_validators(fs.url + "a.tif")
        (tmp_path / "a.tif").write_bytes(b"y" * 1234)  # same size, new version
        os.utime(tmp_path / "a.tif", ns=(1, 2_000_000_000))
        second = head_validators(fs.url + "a.tif")
        assert [m for m, _, _ in fs.requests] == ["HEAD", "HEAD"]
        with pytest.raises(errors.ReadError, match="HTTP 404"):
            head_validators(fs.url + "missing.tif")
    with pytest.raises(errors.SourceUnavailable, match="offline"):
        head_validators(fs.url + "a.tif", attempts=1)  # the server is gone
    assert first.size == second.size == 1234 and first.etag and first.last_modified
    assert first.differs(second)


def test_validators_are_kept_in_the_manifest_and_the_file_tags(tmp_path: Path) -> None:
    from geo.store import Validators

    store = Store(tmp_path)
    key = store.window_key("i", "red", "https://h/B04.tif", "EPSG:32642", BOUNDS)
    entry = WindowEntry(key=key, item_id="i", asset="red", href="https://h/B04.tif",
                        crs="EPSG:32642", bounds=BOUNDS, path="")
    entry.set_validators(Validators('"v1"', "Tue, 01 Dec 2026 10:00:00 GMT", 555))
    store.put(entry, np.ones((4, 4), "uint16"), transform=Affine(10, 0, 0, 0, -10, 0),
              crs="EPSG:32642", nodata=0)
    store.flush()
    (tmp_path / "manifest.json").unlink()
    Store(tmp_path).rebuild_manifest()
    again = Store(tmp_path).get(key, "i", "red")
    assert again is not None and again.validators == Validators(
        '"v1"', "Tue, 01 Dec 2026 10:00:00 GMT", 555)
