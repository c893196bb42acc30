"""A review killed with SIGKILL during load, then run again, gives the same outputs as an
uninterrupted review, and the imagery store holds no partial or corrupt window."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

PERIOD = ["--start", "2020-10-01", "--end", "2021-04-30", "--images", "3"]


def _review(source: str, out: Path, store: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "geo.cli", "review", "--aoi", "bagram", "--source", source,
            *PERIOD, "--out", str(out), "--store", str(store), "--no-progress", "--sensors", "s2"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _windows(store: Path) -> int:
    return sum(1 for _ in (store / "windows").rglob("*.tif")) if store.exists() else 0


@pytest.fixture(scope="module")
def uninterrupted(scenario_server, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    proc = _review(scenario_server.stac_url, out / "review", out / "store")
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode() if proc.stderr else ""
    return out


@pytest.mark.parametrize("share", [0.05, 0.4, 0.7])  # kill while windows are still missing
def test_killed_review_resumes_to_identical_outputs(share, scenario_server, uninterrupted,
                                                    tmp_path):
    total = _windows(uninterrupted / "store")
    kill_after = max(1, int(share * total))
    assert total > kill_after
    store, out = tmp_path / "store", tmp_path / "review"
    proc = _review(scenario_server.stac_url, out, store)
    deadline = time.monotonic() + 300
    while _windows(store) < kill_after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the review finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = _windows(store)
    assert kill_after <= stored < total  # killed mid-load
    assert not (out / "activity.csv").exists()

    again = _review(scenario_server.stac_url, out, store)
    assert again.wait(timeout=600) == 0, again.stderr.read().decode() if again.stderr else ""
    assert not list(store.rglob("*.partial"))
    assert _windows(store) == total
    for name in ("activity.csv", "scenes.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(out / name),
                                      pd.read_csv(uninterrupted / "review" / name))
    with open(out / "change.tif", "rb") as a, \
            open(uninterrupted / "review" / "change.tif", "rb") as b:
        assert a.read() == b.read()
