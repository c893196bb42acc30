"""Scale-out: the review through a real dask.distributed cluster, and several sites at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from geo import errors
from geo.cli import app
from geo.compare import compare_sites, dask_client, read_site_list, run_sites

pytestmark = pytest.mark.slow

PERIOD = {"start": "2020-10-01", "end": "2022-06-30", "images": 8}


@pytest.fixture(scope="module")
def shindand_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from geo.scenario import build

    return build("shindand", tmp_path_factory.mktemp("scn") / "shindand", profile="small",
                 seed=1, end=PERIOD["end"])


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as lc:
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def in_process(scenario_dir: Path, shindand_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local")
    run_sites(["bagram", "shindand"], sources=[scenario_dir, shindand_dir], out=out,
              store=out / "store", progress=False, sensors=("s2",), **PERIOD)
    return out


def test_two_sites_write_a_review_each_and_a_comparison(in_process):
    for site in ("bagram", "shindand"):
        assert (in_process / site / "report.html").stat().st_size > 10_000
        assert (in_process / site / "activity.csv").is_file()
    table = pd.read_csv(in_process / "comparison.csv")
    assert list(table["site"]) == ["bagram", "shindand"]
    assert (table["selected"] == PERIOD["images"]).all()
    assert table["synthetic"].all()
    assert (in_process / "comparison.png").stat().st_size > 20_000


def test_cluster_run_gives_the_same_activity(in_process, scenario_dir, shindand_dir, cluster,
                                             tmp_path):
    from distributed import Client, get_task_stream

    out = tmp_path / "cluster"
    args = ["review", "--aoi", "bagram", "--aoi", "shindand", "--source", str(scenario_dir),
            "--source", str(shindand_dir), "--start", PERIOD["start"], "--end", PERIOD["end"],
            "--images", str(PERIOD["images"]), "--out", str(out), "--store", str(tmp_path / "st"),
            "--scheduler", cluster, "--no-progress", "--sensors", "s2"]
    with Client(cluster) as watcher, get_task_stream(watcher) as stream:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    assert len(stream.data) > 50  # the heavy steps ran as tasks on the cluster's workers
    for site in ("bagram", "shindand"):
        local = pd.read_csv(in_process / site / "activity.csv")
        remote = pd.read_csv(out / site / "activity.csv")
        pd.testing.assert_frame_equal(local, remote)
        scenes_local = pd.read_csv(in_process / site / "scenes.csv")
        scenes_remote = pd.read_csv(out / site / "scenes.csv")
        pd.testing.assert_frame_equal(scenes_local, scenes_remote)


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(errors.SchedulerUnavailable, match=r"tcp://127\.0\.0\.1:9"), \
            dask_client("tcp://127.0.0.1:9", timeout="2s"):
        pass


def test_scheduler_from_environment(monkeypatch, cluster):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster)
    with dask_client() as client:
        assert client is not None
        assert client.submit(lambda: 41 + 1).result() == 42
        env = client.run(lambda: __import__("os").environ.get("GDAL_DISABLE_READDIR_ON_OPEN"))
        assert set(env.values()) == {"EMPTY_DIR"}  # geo's GDAL settings reached the workers


def test_site_list_file(tmp_path):
    sites = tmp_path / "sites.txt"
    sites.write_text("# airfields\nbagram\n\nshindand  # second\n")
    assert read_site_list(sites) == ["bagram", "shindand"]
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(errors.AOIError, match="names no site"):
        read_site_list(tmp_path / "empty.txt")


def test_mismatched_sources_are_refused(scenario_dir):
    with pytest.raises(errors.ReviewError, match="one per site"):
        run_sites(["bagram", "shindand"], sources=[scenario_dir] * 3, out="unused")
    result = CliRunner().invoke(app, ["review", "--aoi", "bagram", "--aoi", "shindand",
                                      "--source", "a", "--source", "b", "--source", "c"])
    assert result.exit_code == 2 and "sources for 2 sites" in result.output


def test_compare_sites_of_nothing_is_empty():
    assert compare_sites({}).empty
