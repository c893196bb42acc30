"""Many writers, one store: overlapping loads in two processes and on a two-worker Dask
cluster give what each gives alone, and the manifest lists every window with its hash."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine

from geo.aoi import AOI_DIR
from geo.store import Store, WindowEntry

START, END = "2021-01-01", "2021-06-30"
BANDS = ("red", "nir", "scl")
SUBSET = {"perimeter", "runway_east_03R_21L", "apron_central", "control_farmland_west",
          "control_open_ground_east"}


def _run(stac: str, store: str, aoi: str, out: str, go: str = "-") -> None:
    """One run: search and load into a store, save the arrays.

    Waits for a ``go`` file so that two processes start their reads together (imports
    take longer than the load).
    """
    import time

    import geo

    Path(out + ".ready").touch()
    deadline = time.monotonic() + 120  # never outlive a test that gave up
    while go != "-" and not Path(go).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal within 120 s")
        time.sleep(0.01)
    items = geo.search(aoi, START, END, source=stac, progress=False, store=store)
    ds = geo.load(items, aoi, bands=BANDS, store=store, progress=False, workers=4)
    ds = ds.compute(scheduler="synchronous")
    arrays: dict[str, Any] = {"time": ds.time.values, **{b: ds[b].values for b in BANDS}}
    np.savez(out, **arrays)


_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_store_concurrency import {func}
{call}
"""


def _script(func: str, call: str) -> str:
    return _SCRIPT.format(tests=str(Path(__file__).parent), func=func, call=call)


def _subset_aoi(folder: Path) -> Path:
    """A second AOI over the same ground: some of Bagram's zones, the perimeter kept."""
    obj = json.loads((AOI_DIR / "bagram.geojson").read_text())
    obj["features"] = [f for f in obj["features"] if f["properties"]["name"] in SUBSET]
    path = folder / "bagram_part.geojson"
    path.write_text(json.dumps(obj))
    return path


def _start(stac: str, store: Path, aoi: str, out: Path, go: Path | None) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", _script("_run", "_run(*sys.argv[1:6])"), stac, str(store),
            aoi, str(out), str(go or "-")]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str]) -> None:
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _assert_store_sound(root: Path) -> int:
    """Every entry's file exists and hashes as listed; no journal left; no partial."""
    manifest = json.loads((root / "manifest.json").read_text())["windows"]
    store = Store(root)
    assert manifest, "the manifest lists nothing"
    for key, listed in manifest.items():
        path = store.window_path(listed["item_id"], listed["asset"], key)
        assert path.is_file(), path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed["sha256"], path
    assert not store.partial_files()
    assert store.verify().problems == []
    return len(manifest)


@pytest.fixture(scope="module")
def alone(scenario_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each AOI loaded alone, each into a store of its own (both at once, to save time)."""
    root = tmp_path_factory.mktemp("alone")
    part = str(_subset_aoi(root))
    procs = [_start(scenario_server.stac_url, root / f"store{i}", aoi, root / f"out{i}.npz", None)
             for i, aoi in enumerate(("bagram", part))]
    for proc in procs:
        _finish(proc)
    counts = [_assert_store_sound(root / f"store{i}") for i in range(2)]
    return {"part": part, "arrays": [_arrays(root / f"out{i}.npz") for i in range(2)],
            "windows": counts}


def test_two_processes_share_one_store(alone: dict[str, Any], scenario_server: Any,
                                       tmp_path: Path) -> None:
    store, go = tmp_path / "store", tmp_path / "go"
    outs = [tmp_path / "a.npz", tmp_path / "b.npz"]
    procs = [_start(scenario_server.stac_url, store, aoi, out, go)
             for aoi, out in zip(("bagram", alone["part"]), outs, strict=True)]
    try:
        _wait_ready(outs, procs)
        go.touch()
        for proc in procs:
            _finish(proc)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for out, expected in zip(outs, alone["arrays"], strict=True):
        _assert_same(_arrays(out), expected)
    shared = _assert_store_sound(store)
    assert max(alone["windows"]) <= shared < sum(alone["windows"])  # the AOIs share windows


def _wait_ready(outs: list[Path], procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 120
    for out, proc in zip(outs, procs, strict=True):
        while not Path(str(out) + ".ready").exists():
            if proc.poll() is not None:
                _finish(proc)
            assert time.monotonic() < deadline, "a writer process did not start in 120 s"
            threading.Event().wait(0.01)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as lc:
        yield lc.scheduler_address


def _load_job(stac: str, store: str, aoi: str) -> dict[str, np.ndarray]:
    """One run on a Dask worker; returns its arrays."""
    import tempfile

    out = str(Path(tempfile.mkdtemp()) / "out.npz")
    _run(stac, store, aoi, out)
    return _arrays(Path(out))


def test_two_dask_workers_share_one_store(alone: dict[str, Any], scenario_server: Any,
                                          cluster: str, tmp_path: Path) -> None:
    import cloudpickle
    from distributed import Client

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    store = str(tmp_path / "store")
    with Client(cluster) as client:
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        futures = [client.submit(_load_job, scenario_server.stac_url, store, aoi,
                                 workers=[w], pure=False)
                   for aoi, w in zip(("bagram", alone["part"]), workers, strict=True)]
        results = client.gather(futures)
    for got, expected in zip(results, alone["arrays"], strict=True):
        _assert_same(got, expected)
    _assert_store_sound(Path(store))


# --- stress: many writers of distinct and identical keys ----------------------------------

_BOUNDS = (0.0, 0.0, 80.0, 80.0)


def _put_many(root: str, writer: int, n: int) -> list[str]:
    """``n`` windows of this writer's own plus ``n`` every writer also writes."""
    store = Store(root)
    keys = []
    for i in range(n):
        for item in (f"own-{writer}-{i}", f"same-{i}"):
            key = store.window_key(item, "red", "https://h/B04.tif", "EPSG:32642", _BOUNDS)
            entry = WindowEntry(key=key, item_id=item, asset="red", href="https://h/B04.tif",
                                crs="EPSG:32642", bounds=_BOUNDS, path="", hist=[writer])
            data = np.full((8, 8), writer * 100 + i, "uint16")
            store.put(entry, data, transform=Affine(10, 0, 0, 0, -10, 80), crs="EPSG:32642",
                      nodata=0)
            keys.append(key)
            if i % 3 == 0:
                store.flush()
    store.flush()
    return keys


def test_many_writers_lose_no_entry(tmp_path: Path) -> None:
    root, n = tmp_path / "store", 12
    script = _script("_put_many", "import json; print(json.dumps(_put_many(sys.argv[1], "
                     "int(sys.argv[2]), int(sys.argv[3]))))")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(root), str(w), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(3)]
    with ThreadPoolExecutor(3) as pool:  # and threads of this process, on their own Stores
        threaded = list(pool.map(lambda w: _put_many(str(root), w, n), range(3, 6)))
    written = set().union(*threaded)
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        written |= set(json.loads(out))
    assert len(written) == 6 * n + n  # own keys of six writers, plus the shared ones
    listed = json.loads((root / "manifest.json").read_text())["windows"]
    assert set(listed) == written
    assert _assert_store_sound(root) == len(written)
    journal = root / "manifest.journal"
    assert not journal.exists() or journal.stat().st_size == 0  # all folded into the manifest
