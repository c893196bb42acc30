"""A review through a faulty network: bursts of 5xx/429, resets, slow, truncated and
mis-sized responses in front of the scenario's STAC API and COGs."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import geo
from geo import errors
from geo.review import run_review
from geo.store import Store
from geo.testing.faults import FaultProxy
from geo.testing.servers import RangeFileServer

pytestmark = pytest.mark.slow

START, END, IMAGES = "2020-10-01", "2021-03-31", 6


@pytest.fixture(scope="module")
def files(scenario_dir: Path) -> Iterator[RangeFileServer]:
    with RangeFileServer(scenario_dir) as server:
        yield server


def _catalog(scenario_dir: Path, base: str, folder: Path) -> Path:
    """The scenario's items of the period, their COG hrefs pointing at ``base``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for line in (scenario_dir / "items.ndjson").read_text().splitlines():
        item = json.loads(line)
        if not START <= item["properties"]["datetime"][:10] <= END:
            continue
        for asset in item["assets"].values():
            asset["href"] = base + "/" + asset["href"].removeprefix("./")
        lines.append(json.dumps(item))
    (folder / "items.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def _review(catalog: Path, out: Path) -> pd.DataFrame:
    run_review("bagram", source=catalog, start=START, end=END, images=IMAGES, out=out,
               store=out / "store", progress=False, sensors=("s2",))
    return pd.read_csv(out / "activity.csv")


def _store_sound(root: Path) -> int:
    store = Store(root)
    entries = store.entries()
    for entry in entries:
        if entry.empty:
            continue
        path = Path(entry.path)
        data = (path if path.is_absolute() else root / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256, entry.path
    assert not [p for p in root.rglob("*.partial")]
    return len(entries)


@pytest.fixture(scope="module")
def clean(scenario_dir, files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    _review(_catalog(scenario_dir, files.url, out / "cat"), out / "review")
    return out / "review"


def test_moderate_faults_same_result(scenario_dir, files, clean, tmp_path):
    with FaultProxy(files.url, rate=0.25, burst=1, seed=7, slow_seconds=0.1) as proxy:
        activity = _review(_catalog(scenario_dir, proxy.url, tmp_path / "cat"), tmp_path / "r")
        kinds = {e.fault for e in proxy.faults}
    assert {"500", "503", "truncate", "reset"} & kinds, kinds  # faults really happened
    assert len(proxy.faults) >= 10
    pd.testing.assert_frame_equal(activity, pd.read_csv(clean / "activity.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "r" / "scenes.csv"),
                                  pd.read_csv(clean / "scenes.csv"))
    assert _store_sound(tmp_path / "r" / "store") > 0


def test_persistent_faults_stop_with_the_scene_and_url(scenario_dir, files, tmp_path,
                                                       monkeypatch):
    # GDAL's own retries of a 503 (5, backing off to 8 s) only make this test slow; geo's
    # whole-read retries are what it checks. A user's setting in the environment wins.
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "1")
    with FaultProxy(files.url, rate=1.0, kinds=("503",), persistent=True,
                    only="B08.tif") as proxy:
        catalog = _catalog(scenario_dir, proxy.url, tmp_path / "cat")
        with pytest.raises(errors.ReadError) as info:
            _review(catalog, tmp_path / "r")
    message = str(info.value)
    assert "B08.tif" in message and proxy.url in message and "S2" in message
    assert "nir" in message
    _store_sound(tmp_path / "r" / "store")
    assert not (tmp_path / "r" / "report.html").exists()


def test_search_through_a_faulty_stac_api(scenario_server, tmp_path):
    clean = geo.search("bagram", START, END, source=scenario_server.stac_url, progress=False,
                       store=tmp_path / "a")
    with FaultProxy(scenario_server.stac_url.rstrip("/"), rate=1.0,
                    kinds=("500", "502", "503", "429", "reset", "slow"), burst=1,
                    seed=3, slow_seconds=0.1) as proxy:
        noisy = geo.search("bagram", START, END, source=proxy.url, progress=False,
                           store=tmp_path / "b")
        assert proxy.faults, "the proxy injected no fault"
    assert [i.id for i in noisy] == [i.id for i in clean]


# --- faults in every phase: STAC API pages, HEADs, header reads, tiles ------------------

OUTPUTS = ("activity.csv", "scenes.csv", "change.tif")


def _api_review(server, out: Path, *, files_kw: dict, api_kw: dict,
                store: Path | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """A review searched through a faulty STAC API and read through faulty files."""
    with FaultProxy(server.files_url, **files_kw) as files, \
            FaultProxy(server.stac_url, rewrite={server.files_url.rstrip("/"): files.url},
                       **api_kw) as api:
        run_review("bagram", source=api.url, start=START, end=END, images=IMAGES, out=out,
                   store=store or out / "store", progress=False, sensors=("s2",))
        return files.fault_counts(), api.fault_counts()


@pytest.fixture(scope="module")
def clean_api(scenario_server, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean-api") / "review"
    _api_review(scenario_server, out, files_kw={"rate": 0.0}, api_kw={"rate": 0.0})
    return out


def _same_outputs(out: Path, clean: Path) -> None:
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name


@pytest.mark.parametrize(("rate", "seed"), [(0.05, 5), (0.15, 11)])
def test_review_through_faults_in_every_phase_is_identical(
    scenario_server, clean_api, tmp_path, rate, seed
):
    files, api = _api_review(
        scenario_server, tmp_path / "r",
        files_kw={"rate": rate, "seed": seed, "slow_seconds": 0.05},
        api_kw={"rate": max(rate, 0.3), "seed": seed, "slow_seconds": 0.05})
    assert sum(files.values()) >= 3 and api, (files, api)  # both phases faulted
    _same_outputs(tmp_path / "r", clean_api)
    assert _store_sound(tmp_path / "r" / "store") > 0


def test_every_header_read_and_page_cut_once_is_identical(scenario_server, clean_api, tmp_path):
    cuts = ("truncate", "short", "length")
    files, api = _api_review(
        scenario_server, tmp_path / "r",
        files_kw={"rate": 1.0, "kinds": cuts, "first_only": True},
        api_kw={"rate": 1.0, "kinds": cuts})
    assert {"truncate", "short"} <= set(files) and sum(files.values()) >= 20, files
    assert set(api) & {"truncate", "short"}, api  # pages cut: decode errors, read again
    _same_outputs(tmp_path / "r", clean_api)
    assert _store_sound(tmp_path / "r" / "store") > 0


def test_header_reads_cut_for_good_stop_with_the_scene_and_the_cause(scenario_dir, files,
                                                                      tmp_path):
    with FaultProxy(files.url, rate=1.0, kinds=("truncate",), first_only=True,
                    persistent=True, only="SCL.tif") as proxy:
        catalog = _catalog(scenario_dir, proxy.url, tmp_path / "cat")
        with pytest.raises(errors.ReadError) as info:
            _review(catalog, tmp_path / "r")
    message = str(info.value)
    assert "SCL.tif" in message and "S2" in message and "scl" in message
    assert "cut short" in message and "has no CRS" not in message
    _store_sound(tmp_path / "r" / "store")
    assert not (tmp_path / "r" / "report.html").exists()


def test_rerun_whose_heads_fail_finishes_from_the_store(scenario_dir, files, clean, tmp_path,
                                                       caplog):
    """An online rerun asks one HEAD per stored file; a host whose HEADs keep failing is
    taken as unchanged: the rerun uses the store, warns once for the host, reads nothing."""
    store = tmp_path / "store"
    with FaultProxy(files.url, rate=0.0) as proxy:  # one proxy: same URLs, same store keys
        catalog = _catalog(scenario_dir, proxy.url, tmp_path / "cat")
        run_review("bagram", source=catalog, start=START, end=END, images=IMAGES,
                   out=tmp_path / "first", store=store, progress=False, sensors=("s2",))
        stored = _store_sound(store)
        kinds = ("503", "reset")
        proxy.configure(rate=1.0, kinds=kinds, methods=("HEAD",), persistent=True)
        seen = len(proxy.events)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="geo.load"):
            run_review("bagram", source=catalog, start=START, end=END, images=IMAGES,
                       out=tmp_path / "again", store=store, progress=False,
                       sensors=("s2",))
        rerun = proxy.events[seen:]
    host = proxy.url.removeprefix("http://")
    warned = [r for r in caplog.records if r.name == "geo.load" and host in r.getMessage()
              and "Using the stored windows" in r.getMessage()]
    loads = {r.getMessage() for r in warned}
    assert len(warned) == len(loads) >= 1, [r.getMessage() for r in caplog.records]
    assert rerun and {e.method for e in rerun} == {"HEAD"}  # zero range reads, zero GETs
    assert {e.fault for e in rerun} == set(kinds)  # every HEAD failed, both ways
    for name in OUTPUTS:
        assert (tmp_path / "again" / name).read_bytes() == \
            (tmp_path / "first" / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again" / "activity.csv"),
                                  pd.read_csv(clean / "activity.csv"))
    assert _store_sound(store) == stored  # nothing added, nothing lost
