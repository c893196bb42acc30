"""Bad input across the CLI and the API: a clear message, a non-zero exit, no traceback,
and nothing lost (no partial file in the imagery store, no broken manifest)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio

import geo
from geo import errors

pytestmark = pytest.mark.slow

SWAPPED = json.loads((geo.aoi.AOI_DIR / "bagram.geojson").read_text())


def _swap(c: Any) -> Any:
    return [c[1], c[0]] if isinstance(c[0], (int, float)) else [_swap(x) for x in c]


for _f in SWAPPED["features"]:
    _f["geometry"]["coordinates"] = _swap(_f["geometry"]["coordinates"])

COUNTRY = {"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {"name": "afghanistan", "kind": "perimeter"},
    "geometry": {"type": "Polygon", "coordinates": [[[60.5, 29.4], [74.9, 29.4], [74.9, 38.5],
                                                      [60.5, 38.5], [60.5, 29.4]]]}}]}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``geo ARGS`` in-process through the real entry point; (exit code, all output)."""
    from geo.cli import main

    argv = sys.argv
    sys.argv = ["geo", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out + out.err


def _copy_catalog(src: Path, dst: Path, n: int, edit: Callable[[dict, Path], None] | None = None,
                  ) -> Path:
    """A catalog of the first n Sentinel-2 items of the scenario, files copied, optionally edited."""
    dst.mkdir(parents=True)
    lines = [line for line in (src / "items.ndjson").read_text().splitlines()
             if json.loads(line).get("collection") != "sentinel-1-rtc"][:n]  # optical only
    out = []
    for line in lines:
        item = json.loads(line)
        rel = Path(item["assets"]["red"]["href"]).parent  # cogs/<id> or cogs-c1/<id>
        shutil.copytree(src / rel, dst / rel)
        if edit:
            edit(item, dst / rel)
        out.append(json.dumps(item))
    (dst / "items.ndjson").write_text("\n".join(out) + "\n")
    return dst


def _drop_red(item: dict, folder: Path) -> None:
    del item["assets"]["red"]


def _all_cloud(item: dict, folder: Path) -> None:
    path = folder / "SCL.tif"
    with rasterio.open(path) as src:
        profile = src.profile
    profile.update(driver="GTiff")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((profile["height"], profile["width"]), 9, dtype="uint8"), 1)


def _corrupt(item: dict, folder: Path) -> None:
    data = (folder / "B04.tif").read_bytes()
    (folder / "B04.tif").write_bytes(data[: len(data) // 3])


def _as_float(item: dict, folder: Path) -> None:
    path = folder / "B04.tif"
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read(1)
    profile.update(driver="GTiff", dtype="float32", predictor=1)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype("float32") / 10000, 1)


def _store_is_intact(store: Path) -> None:
    partial = [p for p in store.rglob("*") if ".partial" in p.name or p.name.endswith(".tmp")]
    assert partial == [], f"partial files left in the store: {partial}"
    manifest = store / "manifest.json"
    if manifest.exists():
        json.loads(manifest.read_text())  # still valid JSON


@pytest.fixture(scope="module")
def catalogs(scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("catalogs")
    empty = root / "empty"
    empty.mkdir()
    (empty / "items.ndjson").write_text("")
    bad_aoi = root / "aoi"
    bad_aoi.mkdir()
    (bad_aoi / "swapped.geojson").write_text(json.dumps(SWAPPED))
    (bad_aoi / "country.geojson").write_text(json.dumps(COUNTRY))
    (bad_aoi / "broken.geojson").write_text('{"type": "FeatureCollection", "features": [')
    return {
        "empty": empty,
        "no_red": _copy_catalog(scenario_dir, root / "no_red", 3, _drop_red),
        "cloud": _copy_catalog(scenario_dir, root / "cloud", 3, _all_cloud),
        "corrupt": _copy_catalog(scenario_dir, root / "corrupt", 3, _corrupt),
        "float": _copy_catalog(scenario_dir, root / "float", 3, _as_float),
        "aoi": bad_aoi,
        "good": scenario_dir,
    }


PERIOD = ["--start", "2020-10-01", "--end", "2020-12-31"]

CLI_CASES: list[tuple[str, Callable[[dict[str, Path]], list[str]], int, str]] = [
    ("malformed AOI", lambda c: ["--aoi", str(c["aoi"] / "broken.geojson")], 2, "not valid JSON"),
    ("swapped AOI", lambda c: ["--aoi", str(c["aoi"] / "swapped.geojson")], 2, "[lon, lat]"),
    ("country-sized AOI", lambda c: ["--aoi", str(c["aoi"] / "country.geojson")], 2,
     "allow_large"),
    ("missing AOI file", lambda c: ["--aoi", "no/such/site.geojson"], 2, "neither a built-in"),
    ("start after end", lambda c: ["--start", "2022-01-01", "--end", "2021-01-01"], 2,
     "after end"),
    ("dates in the future", lambda c: ["--start", "2020-10-01", "--end", "2099-01-01"], 2,
     "in the future"),
    ("not a date", lambda c: ["--start", "yesterday-ish"], 2, "not a date"),
    ("unknown source", lambda c: ["--source", "nowhere"], 2, "neither a known source"),
    ("unreachable URL", lambda c: ["--source", "http://127.0.0.1:9/stac", *PERIOD], 4,
     "127.0.0.1:9"),
    ("catalog with no items", lambda c: ["--source", str(c["empty"]), *PERIOD], 3,
     "holds no items at all"),
    ("items missing a band", lambda c: ["--source", str(c["no_red"]), *PERIOD], 1,
     "no asset 'red'"),
    ("period all cloud", lambda c: ["--source", str(c["cloud"]), *PERIOD], 1, "clear"),
    ("corrupt COG", lambda c: ["--source", str(c["corrupt"]), *PERIOD], 1, "corrupt or truncated"),
    ("COG of the wrong dtype", lambda c: ["--source", str(c["float"]), *PERIOD], 1, "float32"),
    ("zero images", lambda c: ["--images", "0"], 2, "--images"),
    ("odd resolution", lambda c: ["--resolution", "15"], 2, "use 10, 20 or 60"),
    ("offline without store", lambda c: ["--offline"], 2, "--store"),
    ("offline, empty store", lambda c: ["--offline", "--source", "http://127.0.0.1:9/stac",
                                        *PERIOD], 5, "offline"),
    ("site list missing", lambda c: ["--aois", "no_such_list.txt"], 2, "does not exist"),
    # no --start/--end for a site other than Bagram: the latest-pass search must work
    ("no period, unreachable URL", lambda c: ["--aoi", "shindand", "--source",
                                              "http://127.0.0.1:9/stac"], 4, "127.0.0.1:9"),
    ("no period, catalog with no items", lambda c: ["--aoi", "shindand", "--source",
                                                    str(c["empty"])], 3,
     "holds no items at all"),
    ("no period, offline", lambda c: ["--offline", "--aoi", "shindand", "--source",
                                      "http://127.0.0.1:9/stac"], 5, "give --start and --end"),
    ("store is a file", lambda c: ["--source", str(c["good"]), *PERIOD, "--store",
                                   str(c["good"] / "truth.csv")], 5, "is a file"),
]


@pytest.mark.parametrize(("label", "make", "code", "needle"), CLI_CASES,
                         ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(label, make, code, needle, catalogs, tmp_path, capsys):
    args = make(catalogs)
    store = tmp_path / "store"
    if "--store" not in args and label not in ("site list missing", "offline without store"):
        args = [*args, "--store", str(store)]
    exit_code, output = run_cli(["review", "--out", str(tmp_path / "out"), "--no-progress",
                                 *args], capsys)
    assert exit_code == code, f"{label}: exit {exit_code}\n{output}"
    assert "Traceback" not in output, output
    flat = " ".join(output.replace("│", " ").split()).lower()  # undo rich's panel wrapping
    assert needle.lower() in flat, output
    if store.exists():
        _store_is_intact(store)
    assert not (tmp_path / "out" / "report.html").exists()  # no half review pretending


def test_api_bad_inputs_raise_geo_errors(scenario_dir, tmp_path):
    cases: list[tuple[Callable[[], Any], type[errors.GeoError], str]] = [
        (lambda: geo.search("bagram", "2022-01-01", "2021-01-01", source=scenario_dir),
         errors.SearchError, "before it starts"),
        (lambda: geo.search("bagram", "2020-10-01", "2020-12-31", source="nowhere"),
         errors.UnknownSource, "nowhere"),
        (lambda: geo.load([], "bagram", store=tmp_path / "s"), errors.GeoError, "item"),
        (lambda: geo.aoi.load(tmp_path / "missing.geojson"), errors.AOINotFound, "missing"),
    ]
    for call, kind, needle in cases:
        with pytest.raises(kind) as info:
            call()
        assert needle in str(info.value)


def test_full_disk_loses_nothing(scenario_dir, tmp_path, monkeypatch):
    """A store write that fails half way (ENOSPC) leaves no partial file and a sound manifest."""
    import errno
    import os

    items = geo.search("bagram", "2020-10-01", "2020-10-20", source=scenario_dir, progress=False)
    from geo.testing.servers import RangeFileServer

    store = tmp_path / "store"
    with RangeFileServer(scenario_dir) as files:
        for item in items:  # serve the catalog over HTTP, so windows go through the store
            for asset in item.assets.values():
                if not asset.href.startswith("http"):
                    rel = Path(asset.href).resolve().relative_to(scenario_dir.resolve())
                    asset.href = files.url + "/" + rel.as_posix()
        geo.load(items[:1], "bagram", bands=("red",), store=store, progress=False).red.compute()
        before = (store / "manifest.json").read_text()
        real_replace = os.replace

        def full(src: Any, dst: Any) -> None:
            if str(dst).endswith(".tif"):
                raise OSError(errno.ENOSPC, "No space left on device", str(dst))
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", full)
        with pytest.raises(errors.GeoError) as info:
            geo.load(items, "bagram", bands=("red", "nir"), store=store,
                     progress=False).red.compute()
    assert "space" in str(info.value).lower()
    _store_is_intact(store)
    assert json.loads((store / "manifest.json").read_text()) == json.loads(before)


def test_skip_unreadable_goes_on_past_a_corrupt_scene_and_lists_it(
    scenario_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cat = _copy_catalog(scenario_dir, tmp_path / "cat", 16)
    items = [json.loads(line) for line in (cat / "items.ndjson").read_text().splitlines()]
    victim = next(i for i in items[4:] if i["collection"] == "sentinel-2-c1-l2a")
    red = cat / victim["assets"]["red"]["href"]
    red.write_bytes(red.read_bytes()[: red.stat().st_size // 3])
    out = tmp_path / "out"
    args = ["review", "--out", str(out), "--no-progress", "--source", str(cat), *PERIOD[:2],
            "--end", "2025-09-30", "--store", str(tmp_path / "store"), "--images", "4"]

    code, output = run_cli(args, capsys)
    flat = " ".join(output.replace("│", " ").split())
    assert code == 1 and "Traceback" not in output, output
    assert victim["id"] in flat and "--skip-unreadable" in flat, output
    assert not (out / "report.html").exists()

    code, output = run_cli([*args, "--skip-unreadable"], capsys)
    assert code == 0, output
    scenes = pd.read_csv(out / "scenes.csv")
    listed = scenes[scenes["unreadable"].fillna("").str.contains(victim["id"])]
    assert len(listed) == 1 and "red" in listed["unreadable"].iloc[0]
    assert scenes["unreadable"].fillna("").str.len().gt(0).sum() == 1
    assert scenes["collection"].notna().all()
    assert set(scenes["collection"]) <= {"sentinel-2-c1-l2a", "sentinel-2-l2a"}
