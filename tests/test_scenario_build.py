"""Integration tests of a built scenario: files, COGs, items, truth, determinism, safety."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

import geo
from geo import errors
from geo.scenario import _build, build
from geo.scenario._cadence import EVENT_DATES
from geo.scenario._preview import reflectance
from geo.scenario.serve import rustac_binary

pytestmark = pytest.mark.slow

ES_ITEM = "stac/earth-search/item_sentinel-2-l2a_S2B_20EPT_20250731_0_L2A.json"
ES_EARLY = ("stac/earth-search/item_sentinel-2-l2a_S2A_13TDE_20231008_0_L2A.json",
            "stac/earth-search/item_sentinel-2-l2a_S2A_29RKH_20200219_0_L2A_baseline02.14.json")
C1_ITEM = "stac/earth-search/item_sentinel-2-c1-l2a_S2B_T20EPT_20250731T131905_L2A.json"
C1, L2A = "sentinel-2-c1-l2a", "sentinel-2-l2a"
WRITTEN = {"blue", "green", "red", "nir", "swir16", "swir22", "scl", "visual"}
EXTRA_PROPS = {"sat:relative_orbit", "sat:orbit_state", "geo:synthetic",
               "s2:dark_features_percentage"}


def _all_items(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "items.ndjson").read_text().splitlines()]


def _items(folder: Path) -> list[dict]:
    """The Sentinel-2 items (the radar ones are tested in test_scenario_radar.py)."""
    return [i for i in _all_items(folder) if i["collection"] != "sentinel-1-rtc"]


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


# --- layout and formats ---------------------------------------------------------------------


def test_folder_layout_and_manifest(scenario_dir):
    names = {p.name for p in scenario_dir.iterdir()}
    assert {"SYNTHETIC.txt", "manifest.json", "truth.csv", "truth_objects.csv",
            "collection.json", "collection-c1.json", "passes.csv", "items.ndjson",
            "items.parquet", "cogs", "cogs-c1"} <= names
    assert "SYNTHETIC" in (scenario_dir / "SYNTHETIC.txt").read_text()
    manifest = _manifest(scenario_dir)
    assert manifest["synthetic"] is True
    files = [p for p in scenario_dir.rglob("*") if p.is_file() and p.name != "manifest.json"]
    assert {p.relative_to(scenario_dir).as_posix() for p in files} == set(manifest["files"])
    for p in files[:: max(1, len(files) // 25)]:  # a sample: hashing all takes seconds
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert manifest["files"][p.relative_to(scenario_dir).as_posix()]["sha256"] == digest


def test_items_point_at_their_cogs(scenario_dir):
    items = _items(scenario_dir)
    assert 55 <= len(items) <= 90  # about 35 passes, most of them in both collections
    folders = {C1: "cogs-c1", L2A: "cogs"}
    for item in items:
        assert item["properties"]["geo:synthetic"] is True
        assert item["collection"] in folders
        for key, asset in item["assets"].items():
            href = asset["href"]
            if href.startswith("s3://"):  # the older collection's jp2 and metadata
                assert item["collection"] == L2A and key not in WRITTEN
                continue
            assert href.startswith(f"./{folders[item['collection']]}/{item['id']}/")
            assert (scenario_dir / href[2:]).is_file() == (key in WRITTEN), key
    assert any(i["id"].endswith("_1_L2A") for i in items)
    assert {i["collection"] for i in items if i["id"].endswith("_1_L2A")} == {L2A}
    c1 = [i for i in items if i["collection"] == C1]
    assert c1 and all(i["id"].startswith(("S2A_T42SWD_", "S2B_T42SWD_", "S2C_T42SWD_"))
                      for i in c1)
    for i in c1:  # file:size and file:checksum describe the written files
        red = i["assets"]["red"]
        data = (scenario_dir / red["href"][2:]).read_bytes()
        assert red["file:size"] == len(data)
        assert red["file:checksum"] == "1220" + hashlib.sha256(data).hexdigest()


def test_every_cog_is_valid_and_laid_out_like_earth_search(scenario_dir):
    tifs = sorted((scenario_dir / "cogs").rglob("*.tif")) + \
        sorted((scenario_dir / "cogs-c1").rglob("*.tif"))
    assert len(tifs) == 8 * len(_items(scenario_dir))
    for tif in tifs:
        valid, errs, _ = cog_validate(str(tif), quiet=True)
        assert valid, (tif, errs)
    item = _items(scenario_dir)[0]
    for key, dtype, res in (("red", "uint16", 10), ("swir16", "uint16", 20),
                            ("scl", "uint8", 20), ("visual", "uint8", 10)):
        asset = item["assets"][key]
        with rasterio.open(scenario_dir / asset["href"][2:]) as src:
            assert src.dtypes[0] == dtype and src.nodata == 0
            assert src.res == (res, res) and src.crs.to_epsg() == 32642
            assert src.compression.name == "deflate" and src.block_shapes[0] == (256, 256)
            assert src.overviews(1), "COGs carry overviews"
            assert [src.height, src.width] == asset["proj:shape"]
            assert list(src.transform)[:6] == asset["proj:transform"]
            # on the Sentinel-2 lattice of tile 42SWD (x0 500000, y1 3900000)
            assert src.transform.c % 60 == 0 and src.transform.f % 60 == 0
            tags = src.tags(1)
            assert not tags.get("scale") and not tags.get("offset")
    with rasterio.open(scenario_dir / item["assets"]["red"]["href"][2:]) as src:
        assert src.tags().get("TIFFTAG_DATETIME") is None


def test_items_match_the_real_earth_search_item(real_fixtures, scenario_dir):
    real = json.loads((real_fixtures / ES_ITEM).read_text())
    ours = next(i for i in _items(scenario_dir) if i["collection"] == L2A
                and i["properties"]["datetime"] >= "2025")
    assert set(real) - {"links"} <= set(ours)
    rp, op = real["properties"], ours["properties"]
    assert set(rp) <= set(op), f"missing properties: {set(rp) - set(op)}"
    assert set(op) - set(rp) <= EXTRA_PROPS
    for key in rp:
        assert type(op[key]) is type(rp[key]) or {type(op[key]), type(rp[key])} <= {int, float}, key
    assert op["datetime"].endswith("Z") and len(op["datetime"]) == len(rp["datetime"])
    for key, asset in ours["assets"].items():
        ra = real["assets"][key]
        assert set(asset) == set(ra), key
        for field in asset:
            assert type(asset[field]) is type(ra[field]), (key, field)
        if "raster:bands" in ra:
            assert [set(b) for b in asset["raster:bands"]] == [set(b) for b in ra["raster:bands"]]
            assert asset["raster:bands"][0]["data_type"] == ra["raster:bands"][0]["data_type"]
        assert asset.get("title") == ra.get("title")
        assert asset.get("eo:bands") == ra.get("eo:bands")
        assert asset["roles"] == ra["roles"]
    assert set(ours["stac_extensions"]) >= set(real["stac_extensions"])


def test_c1_items_match_the_real_collection_1_item(real_fixtures, scenario_dir):
    real = json.loads((real_fixtures / C1_ITEM).read_text())
    items = [i for i in _items(scenario_dir) if i["collection"] == C1]
    old = next(i for i in items if i["properties"]["datetime"] < "2021")
    rp, op = real["properties"], old["properties"]
    assert set(rp) <= set(op), f"missing properties: {set(rp) - set(op)}"
    assert set(op) - set(rp) <= {"sat:relative_orbit", "sat:orbit_state", "geo:synthetic"}
    assert "earthsearch:boa_offset_applied" not in op and "s2:sequence" not in op
    assert op["s2:processing_baseline"] == "05.00", "Collection 1: one baseline, all years"
    for key, asset in old["assets"].items():
        ra = real["assets"][key]
        assert set(asset) - {"file:checksum", "file:size"} == \
            set(ra) - {"file:checksum", "file:size"}, key
        assert asset.get("title") == ra.get("title") and asset["roles"] == ra["roles"], key
        assert asset.get("raster:bands") == ra.get("raster:bands"), key  # -0.1, every date
    assert set(old["stac_extensions"]) >= set(real["stac_extensions"]) - {
        "https://stac-extensions.github.io/storage/v1.0.0/schema.json"}


def test_asset_keys_equal_the_real_items(real_fixtures, scenario_dir):
    def keys(name: str) -> set[str]:
        return set(json.loads((real_fixtures / name).read_text())["assets"])

    early, late, c1 = keys(ES_EARLY[0]), keys(ES_ITEM), keys(C1_ITEM)
    assert keys(ES_EARLY[1]) == early
    seen = {C1: set(), L2A: set()}
    for item in _items(scenario_dir):
        got = set(item["assets"])
        seen[item["collection"]].add(frozenset(got))
        if item["collection"] == C1:
            assert got == c1, item["id"]
        else:
            assert got == (late if item["properties"]["datetime"] >= "2025" else early)
    assert seen[L2A] == {frozenset(early), frozenset(late)}


def test_items_validate_with_rustac(scenario_dir, tmp_path):
    """Core STAC validation (offline: extension schemas would need the network)."""
    binary = rustac_binary()
    items = _items(scenario_dir)
    sample = [i for i in items if i["collection"] == L2A][:3] + \
        [i for i in items if i["collection"] == C1][:3]
    assert {i["collection"] for i in sample} == {C1, L2A}
    for item in sample:
        item["stac_extensions"] = []
        path = tmp_path / f"{item['id']}.json"
        path.write_text(json.dumps(item))
        done = subprocess.run([binary, "validate", str(path)], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    broken = _items(scenario_dir)[0]
    broken["stac_extensions"] = []
    del broken["properties"]["datetime"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    done = subprocess.run([binary, "validate", str(tmp_path / "broken.json")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode != 0, "the validator must catch a broken item"


def test_geoparquet_holds_the_same_items(scenario_dir):
    import rustac

    table = rustac.read_sync(str(scenario_dir / "items.parquet"))
    ids = [f["id"] for f in table["features"]]
    assert ids == [i["id"] for i in _all_items(scenario_dir)]
    first = table["features"][0]
    assert first["properties"]["geo:synthetic"] is True
    folder = "cogs-c1" if first["collection"] == C1 else "cogs"
    assert first["assets"]["red"]["href"].startswith(f"./{folder}/{first['id']}/")
    assert {f["collection"] for f in table["features"]} == {C1, L2A, "sentinel-1-rtc"}


# --- truth -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(scenario_dir) -> pd.DataFrame:
    return pd.read_csv(scenario_dir / "truth.csv", parse_dates=["date"])


def test_truth_has_the_contract_columns(truth, scenario_dir):
    assert list(truth.columns) == _build.TRUTH_COLUMNS
    objects = pd.read_csv(scenario_dir / "truth_objects.csv")
    assert list(objects.columns)[:8] == ["date", "zone", "type", "x", "y", "length_m",
                                         "wingspan_m", "heading_deg"]
    zones = set(geo.aoi.load("bagram").zones["name"])
    assert set(truth["zone"]) == zones
    assert truth.groupby("date")["zone"].count().eq(len(zones)).all()
    for col in ("cloud_fraction", "snow_fraction", "clear_fraction"):
        assert truth[col].between(0, 1).all()
    assert (truth["cloud_fraction"] + truth["clear_fraction"] <= 1.0001).all()


def test_truth_tells_the_bagram_story(truth):
    per_day = truth.groupby("date")[["aircraft", "helicopters", "containers", "decoys"]].sum()
    y2020 = per_day[per_day.index < "2021-01-01"]
    assert len(y2020) >= 2 and (y2020["aircraft"] >= 35).all()
    after = per_day[per_day.index >= "2021-07-02"]
    events = {pd.Timestamp(d) for d in (EVENT_DATES["parade_2022"], EVENT_DATES["parade_2024"])}
    for day, row in after.iterrows():
        if day in events:
            assert row["aircraft"] > 0 and row["aircraft"] == row["helicopters"]
        elif day == pd.Timestamp(EVENT_DATES["aircraft_2025"]):
            assert row["aircraft"] == 1 and row["helicopters"] == 0
        else:
            assert row["aircraft"] == 0, day
    assert per_day["decoys"].nunique() == 1 and per_day["decoys"].iloc[0] > 0
    before = per_day.loc[per_day.index < "2021-10-01", "containers"]
    gone = per_day.loc[per_day.index > "2022-07-01", "containers"]
    assert before.min() > 500 and gone.max() < 0.1 * before.min()
    assert per_day["containers"].is_monotonic_decreasing


def test_truth_cars_in_the_main_parking(truth):
    cars = truth[truth["zone"] == "parking_main"].set_index("date")["vehicles"]
    busy = [pd.Timestamp(EVENT_DATES["cars_2022"]), pd.Timestamp(EVENT_DATES["cars_2025"])]
    assert (cars.loc[busy] >= 100).all()
    assert cars.drop(busy).max() < 40


def test_truth_objects_agree_with_truth(truth, scenario_dir):
    objects = pd.read_csv(scenario_dir / "truth_objects.csv", parse_dates=["date"])
    counts = objects.groupby(["date", "zone", "category"]).size().unstack(fill_value=0)
    t = truth.set_index(["date", "zone"])
    air = counts.get("aircraft", 0) + counts.get("helicopter", 0)
    assert (t.loc[air.index, "aircraft"] == air).all()
    assert (t.loc[counts.index, "containers"] == counts["container"]).all()
    large = objects[objects["type"].isin(["C-17", "C-130", "KC-135"])]
    assert (large["wingspan_m"] >= 30).all()


@pytest.fixture(scope="module")
def passes(scenario_dir) -> pd.DataFrame:
    return pd.read_csv(scenario_dir / "passes.csv", dtype={"baseline": str},
                       keep_default_na=False)


def test_truth_baseline_and_offset_match_items(truth, passes, scenario_dir):
    items = {i["id"]: i for i in _items(scenario_dir)}
    assert set(passes["item_id"]) == set(items)
    rows = passes.set_index("item_id")
    for iid, it in items.items():
        p, row = it["properties"], rows.loc[iid]
        assert row["collection"] == it["collection"]
        assert p["s2:processing_baseline"] == row["baseline"]
        if it["collection"] == C1:
            assert row["dn_offset"] == 1000 and row["boa_offset_applied"] == ""
            continue
        stated = p["earthsearch:boa_offset_applied"]
        assert row["boa_offset_applied"] == str(stated)
        honest = stated or p["s2:processing_baseline"] < "04.00"
        assert (row["dn_offset"] == 0) == (honest != row["flag_wrong"]), iid
    # truth.csv names the item a review preferring Collection 1 reads, one per pass
    preferred = passes.sort_values("collection").drop_duplicates("pass")
    assert set(truth["item_id"]) == set(preferred["item_id"])
    for row in truth.drop_duplicates("item_id").itertuples():
        assert bool(row.offset_applied) == (rows.loc[row.item_id, "dn_offset"] == 0)


def test_every_pass_is_in_a_collection_with_the_real_gaps(passes, truth):
    first = passes.drop_duplicates("pass").assign(day=lambda d: pd.to_datetime(d["date"]))
    assert set(first["collections"]) == {C1, L2A, f"{C1}+{L2A}"}
    assert len(first) == truth["date"].nunique() and first["date"].is_unique
    y2022 = first[first["day"].dt.year == 2022]
    assert (y2022["collections"] == L2A).mean() > 0.5, "c1 lacks most of 2022"
    c1_only = first[first["collections"] == C1]
    assert len(c1_only) and (c1_only["day"] >= "2024-10-01").all()
    l2a_only = first[first["collections"] == L2A]
    assert (l2a_only["day"] < "2023-01-01").all()
    events = {d.isoformat() for d in EVENT_DATES.values()}
    assert events <= set(first["date"])
    dups = passes[passes["sequence"] == 1]
    assert len(dups) and set(dups["collection"]) == {L2A}


def test_wrong_offset_flags_both_ways_on_passes_c1_lacks(passes, scenario_dir):
    wrong = passes[passes["flag_wrong"]]
    true_on_raw = wrong[(wrong["boa_offset_applied"] == "True") & (wrong["dn_offset"] == 1000)]
    false_on_clean = wrong[(wrong["boa_offset_applied"] == "False") & (wrong["dn_offset"] == 0)]
    assert len(true_on_raw) + len(false_on_clean) == len(wrong)
    for kind in (true_on_raw, false_on_clean):
        assert (kind["collections"] == L2A).any(), "one of each on a pass c1 lacks"
        assert (kind["baseline"] >= "04.00").all()
    honest_raw = passes[(passes["boa_offset_applied"] == "False") & (passes["dn_offset"] == 1000)
                        & ~passes["flag_wrong"]]
    assert len(honest_raw), "raw_share keeps raw items with a correct false flag"
    manifest = _manifest(scenario_dir)["passes"]
    assert manifest["flag_true_on_raw_dns"] == sorted(true_on_raw["item_id"])
    assert manifest["flag_false_on_clean_dns"] == sorted(false_on_clean["item_id"])
    items = {i["id"]: i for i in _items(scenario_dir)}
    for iid, dark in ((true_on_raw["item_id"].iloc[0], True),
                      (false_on_clean["item_id"].iloc[0], False)):
        low = np.percentile(_dns(scenario_dir, items[iid], "red"), 0.1)
        assert (low > 1000) == dark, (iid, low)


# --- pixels --------------------------------------------------------------------------------------


def _read(folder: Path, item: dict, key: str) -> np.ndarray:
    with rasterio.open(folder / item["assets"][key]["href"][2:]) as src:
        return src.read(1)


def _dns(folder: Path, item: dict, key: str) -> np.ndarray:
    dn = _read(folder, item, key)
    return dn[dn > 0]


def test_c1_dns_carry_1000_on_every_date(passes, scenario_dir):
    items = {i["id"]: i for i in _items(scenario_dir)}
    both = passes[(passes["collections"] == f"{C1}+{L2A}") & (passes["sequence"] == 0)]
    early = both[both["date"] < "2022-01-01"]
    assert len(early)
    day = early["date"].iloc[0]
    pair = both[both["date"] == day].set_index("collection")["item_id"]
    c1, l2a = items[pair[C1]], items[pair[L2A]]
    assert l2a["properties"]["s2:processing_baseline"] < "04.00"
    for key in ("blue", "red", "nir", "swir16"):
        a = _read(scenario_dir, c1, key).astype(int)
        b = _read(scenario_dir, l2a, key).astype(int)
        valid = (b > 1) & (a < 65535)
        assert valid.mean() > 0.99
        assert (a[valid] - b[valid] == 1000).all(), key
    assert (_read(scenario_dir, c1, "scl") == _read(scenario_dir, l2a, "scl")).all()
    band = c1["assets"]["red"]["raster:bands"][0]
    assert (band["scale"], band["offset"]) == (0.0001, -0.1)


def test_raw_offset_items_show_it_in_their_dns(scenario_dir, passes):
    items = _items(scenario_dir)
    honest = passes[~passes["flag_wrong"] & (passes["collection"] == L2A)]
    raw_ids = set(honest.loc[(honest["dn_offset"] == 1000), "item_id"])
    raw = [i for i in items if i["id"] in raw_ids]
    done = [i for i in items if i["collection"] == L2A and i["id"] in set(honest["item_id"])
            and i["properties"]["earthsearch:boa_offset_applied"]
            and i["properties"]["datetime"][5:7] in ("07", "08", "09")]  # no snow
    assert raw and done
    assert np.percentile(_read(scenario_dir, raw[0], "red"), 0.1) > 1000
    assert np.percentile(_read(scenario_dir, done[0], "red"), 0.1) < 1000
    # harmonised, the two agree on ground that does not change (open gravel, clear days)
    for item in (raw[0], done[0]):
        refl = reflectance(_read(scenario_dir, item, "red"), item["properties"])
        assert 0.0 < np.nanmedian(refl) < 0.4


def test_aircraft_darken_their_pixels(scenario_dir, truth):
    items = {i["id"]: i for i in _items(scenario_dir)}
    apron = truth[(truth["kind"] == "apron") & (truth["date"] < "2021-01-01")]
    clear_day = apron.groupby("date")["clear_fraction"].min().idxmax()
    item = items[apron[apron["date"] == clear_day]["item_id"].iloc[0]]
    objects = pd.read_csv(scenario_dir / "truth_objects.csv", parse_dates=["date"])
    big = objects[(objects["date"] == clear_day) & (objects["type"] == "C-17")]
    assert len(big)
    red = _read(scenario_dir, item, "red").astype(float)
    with rasterio.open(scenario_dir / item["assets"]["red"]["href"][2:]) as src:
        rows, cols = rasterio.transform.rowcol(src.transform, big["x"].to_numpy(),
                                               big["y"].to_numpy())
    zone = big["zone"].iloc[0]
    scene_zone = geo.aoi.load("bagram").zones_utm().set_index("name").loc[zone, "geometry"]
    c = scene_zone.representative_point()
    with rasterio.open(scenario_dir / item["assets"]["red"]["href"][2:]) as src:
        r0, c0 = src.index(c.x, c.y)
    at_aircraft = red[np.asarray(rows), np.asarray(cols)]
    apron_level = np.median(red[r0 - 3:r0 + 4, c0 - 3:c0 + 4])
    assert (at_aircraft < 0.85 * apron_level).all()


# --- determinism and safety ----------------------------------------------------------------------


def _hashes(folder: Path) -> dict[str, str]:
    return {k: v["sha256"] for k, v in _manifest(folder)["files"].items()}


def test_same_seed_same_bytes_and_overwrite_rules(tmp_path, scenario_dir):
    kw = {"start": "2022-07-24", "end": "2022-07-24", "profile": "small", "workers": 1}
    a = build("bagram", tmp_path / "a", seed=7, **kw)
    b = build("bagram", tmp_path / "b", seed=7, **kw)
    assert _hashes(a) == _hashes(b)
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    with pytest.raises(errors.OutputExists, match="overwrite"):
        build("bagram", a, seed=7, **kw)
    with pytest.raises(FileExistsError):
        build("bagram", a, seed=7, **kw)
    c = build("bagram", a, seed=7, overwrite=True, **kw)
    assert _hashes(c) == _hashes(b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    red = "cogs/S2A_42SWD_20220724_0_L2A/B04.tif"    # also in the seed-0 small scenario
    assert _hashes(a)[red] != _hashes(scenario_dir)[red]


def test_steady_story_build_records_its_story(tmp_path):
    from typer.testing import CliRunner

    from geo.cli import app

    out = tmp_path / "steady"
    args = ["scenario", "build", "--out", str(out), "--start", "2024-08-14", "--end",
            "2024-10-31", "--profile", "small", "--workers", "1", "--story", "steady",
            "--drop", "2024-09-20"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = _manifest(out)
    assert (manifest["story"], manifest["drop"]) == ("steady", "2024-09-20")
    assert "Story: steady" in (out / "SYNTHETIC.txt").read_text()
    truth = pd.read_csv(out / "truth.csv", parse_dates=["date"])
    apron = truth[truth["kind"] == "apron"].groupby("date")["aircraft"].sum()
    busy, quiet = apron[apron.index < "2024-09-20"], apron[apron.index >= "2024-09-20"]
    assert len(busy) >= 2 and len(quiet) >= 1
    assert busy.min() >= 20 and busy.max() - busy.min() <= 8 and (quiet == 0).all()
    with pytest.raises(errors.ScenarioError, match="only to story='steady'"):
        build("bagram", tmp_path / "x", drop="2024-09-20")
    assert "story" not in _manifest(build("bagram", tmp_path / "b", start="2024-08-14",
                                          end="2024-08-14", workers=1))


def test_interrupted_build_leaves_no_catalog(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing the manifest")

    monkeypatch.setattr(_build, "_write_manifest", boom)
    out = tmp_path / "scn"
    with pytest.raises(KeyboardInterrupt):
        build("bagram", out, start="2022-07-24", end="2022-07-24", workers=1)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [], "the partial folder must be removed"


def test_killed_build_process_leaves_no_catalog(tmp_path):
    """A build killed by a signal leaves at most a hidden partial folder, never `out`."""
    import signal
    import sys
    import time

    out = tmp_path / "scn"
    code = (f"import geo.scenario as s; s.build('bagram', {str(out)!r}, "
            "start='2020-10-01', end='2021-03-01', workers=1)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(tmp_path.glob(".scn.partial-*/cogs/*/TCI.tif")):
        time.sleep(0.2)   # waiting for the child to be mid-build (no sync primitive across it)
    assert proc.poll() is None, "the build ended before it could be killed"
    assert any(tmp_path.glob(".scn.partial-*/cogs/*/TCI.tif")), "no build in progress to kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists()
    leftovers = list(tmp_path.iterdir())
    assert leftovers, "the killed build should have left its hidden partial folder"
    assert all(p.name.startswith(".scn.partial-") for p in leftovers)
    assert not any((p / "manifest.json").exists() for p in leftovers)


def test_pc_style_items(tmp_path):
    out = build("bagram", tmp_path / "pc", start="2022-07-24", end="2022-07-24",
                pc_style=True, workers=1)
    item = _items(out)[0]
    assert set(item["assets"]) == {"B02", "B03", "B04", "B08", "B11", "B12", "SCL", "visual"}
    assert item["id"].startswith("S2A_MSIL2A_20220724T") and "_R005_T42SWD_" in item["id"]
    assert all("raster:bands" not in a for a in item["assets"].values())
    p = item["properties"]
    assert p["s2:mgrs_tile"] == "42SWD" and p["platform"] == "Sentinel-2A"
    assert "earthsearch:boa_offset_applied" not in p
    assert np.percentile(_read(out, item, "B04"), 0.1) > 1000    # raw DNs, baseline 04.00


def test_other_aoi_and_refusals(tmp_path):
    out = build("shindand", tmp_path / "sh", start=EVENT_DATES["cars_2022"],
                end=EVENT_DATES["cars_2022"], workers=1)
    truth = pd.read_csv(out / "truth.csv")
    cars = truth.loc[truth["kind"] == "parking", "vehicles"]
    assert cars.max() >= 100
    square = [[62.2, 33.4], [62.22, 33.4], [62.22, 33.42], [62.2, 33.42], [62.2, 33.4]]
    bare = geo.aoi.from_geojson({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "site", "kind": "perimeter"},
        "geometry": {"type": "Polygon", "coordinates": [square]}}]})
    with pytest.raises(errors.ScenarioError, match="apron"):
        build(bare, tmp_path / "bare")
    with pytest.raises(errors.ScenarioError, match="widen"):
        build("bagram", tmp_path / "none", start="2022-07-25", end="2022-07-26")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sh"]


def test_preview_figure(scenario_dir, tmp_path):
    from geo.scenario import preview

    png = tmp_path / "preview.png"
    fig = preview(scenario_dir, [date(2020, 10, 2), "2022-07-24"], out=png)
    assert png.stat().st_size > 50_000
    assert any(t.get_text() == "SYNTHETIC" for t in fig.texts)
    assert len(fig.axes) == 4


def test_cli_build(tmp_path):
    from typer.testing import CliRunner

    from geo.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["scenario", "build", "--out", str(out), "--start",
                                      "2022-07-24", "--end", "2022-07-24", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC scenario written" in result.output
    again = CliRunner().invoke(app, ["scenario", "build", "--out", str(out), "--start",
                                     "2022-07-24", "--end", "2022-07-24"])
    assert again.exit_code != 0 and isinstance(again.exception, errors.OutputExists)
