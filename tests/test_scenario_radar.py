"""The scenario in radar: a Sentinel-1 RTC archive in Planetary Computer's form (issue 15).

The revisit history is checked on the full schedule (no rendering); the rasters, items,
truth and the loopback server on the session's small scenario; determinism and the
``sensors`` switch on three tiny builds of two days each.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pystac_client
import pytest
import rasterio
import xarray as xr
from rio_cogeo.cogeo import cog_validate
from scipy.ndimage import binary_dilation, binary_erosion

import geo
from geo import errors
from geo.scenario import build
from geo.scenario._radar import ORBITS, S1B_FAILURE, S1C_START, schedule_s1
from geo.scenario.serve import rustac_binary
from geo.zones import zone_masks

pytestmark = pytest.mark.slow

S1 = "sentinel-1-rtc"
PC_ITEM = "stac/planetary-computer/items_page_sentinel-1-rtc_limit1_20250311.json"
ID_RE = re.compile(r"^S1[ABC]_IW_GRDH_1SDV_\d{8}T\d{6}_\d{8}T\d{6}_\d{6}_[0-9A-F]{6}_rtc$")
TINY = ("2020-10-27", "2020-10-28")  # one Sentinel-2 pass and two radar passes (one shared day)


def _items(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "items.ndjson").read_text().splitlines()]


def _radar(folder: Path) -> list[dict]:
    return [i for i in _items(folder) if i["collection"] == S1]


def _read(folder: Path, item: dict, pol: str = "vv") -> np.ndarray:
    with rasterio.open(folder / item["assets"][pol]["href"][2:]) as src:
        return src.read(1)


def _db(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.where(x > 0, x, np.nan))


@pytest.fixture(scope="module")
def masks(scenario_dir) -> xr.DataArray:
    item = _radar(scenario_dir)[0]
    with rasterio.open(scenario_dir / item["assets"]["vv"]["href"][2:]) as src:
        t, h, w = src.transform, src.height, src.width
    xs = t.c + (np.arange(w) + 0.5) * t.a
    ys = t.f + (np.arange(h) + 0.5) * t.e
    return zone_masks(geo.aoi.load("bagram"), xr.Dataset(coords={"x": xs, "y": ys}))


@pytest.fixture(scope="module")
def passes(scenario_dir) -> pd.DataFrame:
    return pd.read_csv(scenario_dir / "passes-s1.csv", keep_default_na=False)


# --- revisit history ---------------------------------------------------------------------


def test_revisit_history_follows_the_constellation():
    full = schedule_s1("2020-10-01", "2025-09-30")
    assert {p.orbit.state for p in full} == {"ascending", "descending"}
    for orbit in ORBITS:
        days = [p.day for p in full if p.orbit == orbit]
        pairs = [(a, b, (b - a).days) for a, b in itertools.pairwise(days)]
        before = {g for a, b, g in pairs if b < S1B_FAILURE}
        between = {g for a, b, g in pairs if a >= S1B_FAILURE and b < S1C_START}
        after = {g for a, b, g in pairs if a >= S1C_START + timedelta(days=12)}
        assert before == {6}, f"orbit {orbit.relative}: 1A and 1B give a 6-day repeat"
        assert between == {12}, f"orbit {orbit.relative}: 1A alone gives 12 days"
        assert after == {6}, f"orbit {orbit.relative}: 1C restores 6 days"
        assert {g for _, _, g in pairs} == {6, 12}
    b = [p.day for p in full if p.platform == "sentinel-1b"]
    c = [p.day for p in full if p.platform == "sentinel-1c"]
    assert b and max(b) < S1B_FAILURE <= max(b) + timedelta(days=12)
    assert c and min(c) >= S1C_START and min(c).year == 2025
    a = [p for p in full if p.platform == "sentinel-1a"]
    assert all(np.diff([p.absolute_orbit for p in a]) > 0), "absolute orbits increase"
    assert all((p.absolute_orbit - 73) % 175 + 1 == p.orbit.relative for p in a)
    hours = {o.state: {p.start.hour for p in full if p.orbit == o} for o in ORBITS}
    assert all(len(h) == 1 for h in hours.values()), "each orbit passes at one time of day"
    assert hours["descending"] != hours["ascending"], "morning and evening passes"


def test_schedule_is_seeded_and_a_subrange_gets_the_same_passes():
    full = schedule_s1("2020-10-01", "2025-09-30", seed=3)
    part = schedule_s1("2023-01-01", "2023-06-30", seed=3)
    assert part == [p for p in full if date(2023, 1, 1) <= p.day <= date(2023, 6, 30)]
    assert schedule_s1("2020-10-01", "2025-09-30", seed=3) == full
    shifted = [p for p in full if p.shift_px > 0]
    assert 0.05 < len(shifted) / len(full) < 0.16, "about one date in ten is shifted"
    assert all(1.5 <= p.shift_px <= 2.5 for p in shifted)
    angles = np.degrees(np.arctan2([p.shift[1] for p in shifted], [p.shift[0] for p in shifted]))
    assert np.ptp(angles) > 180, "shifts go in every direction"
    assert schedule_s1("2020-10-01", "2025-09-30", seed=4) != full


# --- the small scenario's radar files -------------------------------------------------------


def test_items_match_the_real_planetary_computer_item(real_fixtures, scenario_dir):
    real = json.loads((real_fixtures / PC_ITEM).read_text())["features"][0]
    items = _radar(scenario_dir)
    assert 30 <= len(items) <= 60
    for ours in items:
        assert ID_RE.match(ours["id"]), ours["id"]
        assert set(ours) == set(real)
        assert set(ours["properties"]) - {"geo:synthetic"} == set(real["properties"])
        assert ours["properties"]["geo:synthetic"] is True
        for key, value in real["properties"].items():
            assert type(ours["properties"][key]) is type(value), key
        assert set(ours["assets"]) == set(real["assets"])
        for pol in ("vv", "vh"):
            assert set(ours["assets"][pol]) == set(real["assets"][pol])
            assert ours["assets"][pol]["raster:bands"] == real["assets"][pol]["raster:bands"]
            assert ours["assets"][pol]["title"] == real["assets"][pol]["title"]
        assert ours["stac_extensions"] == real["stac_extensions"]
        p = ours["properties"]
        assert p["platform"] == ours["id"][:3].replace("S1", "SENTINEL-1")
        assert p["sat:absolute_orbit"] == int(ours["id"].split("_")[6])
        assert p["s1:datatake_id"] == str(int(ours["id"].split("_")[7], 16))
        assert p["proj:shape"] == p["s1:shape"][::-1]


def test_cogs_are_float32_linear_gamma0_on_the_aoi_grid(scenario_dir):
    items = _radar(scenario_dir)
    optical = next(i for i in _items(scenario_dir) if i["collection"] != S1)
    for item in items[:: max(1, len(items) // 6)]:
        for pol in ("vv", "vh"):
            asset = item["assets"][pol]
            path = scenario_dir / asset["href"][2:]
            assert asset["href"] == f"./cogs-s1/{item['id']}/iw-{pol}.rtc.tiff"
            data = path.read_bytes()
            assert asset["file:size"] == len(data)
            assert asset["file:checksum"] == hashlib.md5(data).hexdigest()
            assert cog_validate(str(path), quiet=True)[0]
            with rasterio.open(path) as src:
                assert src.dtypes[0] == "float32" and src.nodata == -32768
                assert src.res == (10, 10) and src.crs.to_epsg() == 32642
                assert src.overviews(1) and src.block_shapes[0] == (256, 256)
                assert list(src.transform)[:6] == item["properties"]["proj:transform"][:6]
                assert list(src.transform)[:6] == optical["assets"]["red"]["proj:transform"]
                band = src.read(1)
        inside = band != -32768
        assert (band[inside] > 0).all(), "linear power is positive inside the footprint"
        clipped = item["properties"]["sat:orbit_state"] == "ascending"
        assert (not inside.all()) == clipped, "only the ascending swath edge cuts the window"
        if clipped:
            assert not inside[0, -1] and inside[-1, 0], "the north-east corner is outside"
            assert len(item["geometry"]["coordinates"][0]) == 6


def test_apron_is_dark_and_aircraft_are_bright(scenario_dir, masks, passes):
    objects = pd.read_csv(scenario_dir / "truth_objects-s1.csv")
    with rasterio.open(scenario_dir / _radar(scenario_dir)[0]["assets"]["vv"]["href"][2:]) as s:
        t = s.transform
    apron = masks.sel(zone=[z for z in masks.zone.values if str(z).startswith("apron")]).any("zone")
    apron = binary_erosion(apron.to_numpy(), iterations=1)
    busy = passes[(passes["date"] < "2021-06-01") & (passes["shift_px"] == 0)]
    assert len(busy) >= 3
    for _, row in busy.iterrows():
        item = next(i for i in _radar(scenario_dir) if i["id"] == row["item_id"])
        vv, vh = _db(_read(scenario_dir, item)), _db(_read(scenario_dir, item, "vh"))
        air = objects[(objects["date"] == row["date"]) & (objects["category"] == "aircraft")]
        assert len(air) >= 10, "the busy years have aircraft on the aprons"
        cols = ((air["x"] - t.c) / t.a).astype(int).to_numpy()
        rows = ((air["y"] - t.f) / t.e).astype(int).to_numpy()
        near = np.zeros(apron.shape, bool)
        near[rows, cols] = True
        near = binary_dilation(near, iterations=4)
        empty = apron & ~near
        assert -21 < np.nanmedian(vv[empty]) < -16, "smooth concrete is dark in VV"
        assert 7 < np.nanmedian(vv[empty]) - np.nanmedian(vh[empty]) < 11, "VH ~9 dB lower"
        peaks = np.array([np.nanmax(vv[r - 1:r + 2, c - 1:c + 2]) for r, c in
                          zip(rows, cols, strict=True)])
        assert np.mean(peaks > 0) > 0.8, f"aircraft peaks {np.round(peaks, 1)} dB"
        assert np.median(peaks) - np.nanmedian(vv[empty]) > 15


def test_speckle_has_the_equivalent_number_of_looks(scenario_dir, masks, passes):
    """mean^2 / var of linear intensity over empty smooth concrete is the ENL (4.4)."""
    objects = pd.read_csv(scenario_dir / "truth_objects-s1.csv")
    apron = binary_erosion(masks.sel(zone="apron_central").to_numpy(), iterations=2)
    parked = objects[(objects["zone"] == "apron_central")
                     & objects["category"].isin(["aircraft", "helicopter", "vehicle"])]
    quiet = passes[(passes["shift_px"] == 0) & (passes["date"] > "2021-08-01")
                   & (passes["snow"] == "") & ~passes["date"].isin(parked["date"])]
    assert len(quiet) >= 3 and apron.sum() > 1000
    enl, stacks = [], []
    for item_id in quiet["item_id"].iloc[:4]:
        item = next(i for i in _radar(scenario_dir) if i["id"] == item_id)
        for pol in ("vv", "vh"):
            x = _read(scenario_dir, item, pol)[apron].astype(np.float64)
            enl.append(x.mean() ** 2 / x.var())
            stacks.append(x / x.mean())
    assert all(3.9 < e < 5.0 for e in enl), f"ENL estimates {np.round(enl, 2)} (4.4 given)"
    corr = np.corrcoef(np.array(stacks))
    off = corr[~np.eye(len(stacks), dtype=bool)]
    limit = 4 / np.sqrt(apron.sum())  # four standard errors of a zero correlation
    assert np.abs(off).max() < limit, "speckle is independent per date and polarisation"


def _shift_between(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(dx, dy) of ``b`` against ``a`` from the peak of their cross-correlation."""
    a, b = a - a.mean(), b - b.mean()
    cc = np.fft.ifft2(np.fft.fft2(b) * np.conj(np.fft.fft2(a))).real
    cc = np.fft.fftshift(cc)
    r, c = np.unravel_index(np.argmax(cc), cc.shape)

    def vertex(m: float, z: float, p: float) -> float:
        return 0.5 * (m - p) / (m - 2 * z + p)

    dy = r - cc.shape[0] // 2 + vertex(cc[r - 1, c], cc[r, c], cc[r + 1, c])
    dx = c - cc.shape[1] // 2 + vertex(cc[r, c - 1], cc[r, c], cc[r, c + 1])
    return float(dx), float(dy)


def test_shifted_dates_are_shifted(scenario_dir, passes):
    items = {i["id"]: i for i in _radar(scenario_dir)}
    shifted = passes[passes["shift_px"] > 0]
    assert len(shifted) >= 2
    for _, row in shifted.iterrows():
        same = passes[(passes["relative_orbit"] == row["relative_orbit"])
                      & (passes["shift_px"] == 0)]
        ref = same.iloc[(pd.to_datetime(same["date"]) - pd.Timestamp(row["date"])).abs()
                        .argsort().iloc[0]]
        win = (slice(150, 650), slice(100, 600))  # inside every footprint
        a = np.nan_to_num(_db(_read(scenario_dir, items[ref["item_id"]])))[win]
        b = np.nan_to_num(_db(_read(scenario_dir, items[row["item_id"]])))[win]
        dx, dy = _shift_between(a, b)
        assert abs(dx - row["shift_dx"]) < 0.6 and abs(dy - row["shift_dy"]) < 0.6, \
            (row["item_id"], (dx, dy), (row["shift_dx"], row["shift_dy"]))
    for _, pair in passes[passes["shift_px"] == 0].groupby("relative_orbit"):
        a, b = (np.nan_to_num(_db(_read(scenario_dir, items[i])))[150:650, 100:600]
                for i in pair["item_id"].iloc[:2])
        assert np.hypot(*_shift_between(a, b)) < 0.5, "unshifted dates line up"


def test_rain_brightens_soil(scenario_dir, masks, passes):
    ground = masks.sel(zone="control_open_ground_east").to_numpy()
    items = {i["id"]: i for i in _radar(scenario_dir)}
    wet = passes[passes["wet"] & (passes["shift_px"] == 0)]
    dry = passes[~passes["wet"] & (passes["snow"] == "") & (passes["shift_px"] == 0)]
    assert len(wet) >= 1
    for _, row in wet.iterrows():
        same = dry[dry["relative_orbit"] == row["relative_orbit"]]
        level = [np.nanmedian(_db(_read(scenario_dir, items[i]))[ground])
                 for i in same["item_id"]]
        got = np.nanmedian(_db(_read(scenario_dir, items[row["item_id"]]))[ground])
        assert got - np.median(level) > 1.2, (row["item_id"], got, level)


def test_truth_counts_come_from_the_planted_objects(scenario_dir, passes):
    truth = pd.read_csv(scenario_dir / "truth-s1.csv")
    objects = pd.read_csv(scenario_dir / "truth_objects-s1.csv")
    assert set(truth["item_id"]) == set(passes["item_id"]) == {i["id"] for i in
                                                               _radar(scenario_dir)}
    aircraft = objects[objects["category"].isin(["aircraft", "helicopter"])]
    counted = aircraft.groupby(["date", "zone"]).size()
    table = truth.set_index(["date", "zone"])["aircraft"]
    assert table.index.is_unique
    assert (table == counted.reindex(table.index, fill_value=0)).all()
    assert table.sum() == len(aircraft) > 0
    by_day = truth.groupby("date")["aircraft"].sum()
    assert by_day[by_day.index < "2021-04-01"].min() >= 25
    assert by_day[(by_day.index > "2021-08-01") & (by_day.index < "2025-01-01")].max() <= 12


def test_items_validate_with_rustac(scenario_dir, tmp_path):
    binary = rustac_binary()
    items = _radar(scenario_dir)
    sample = [next(i for i in items if i["properties"]["sat:orbit_state"] == s)
              for s in ("ascending", "descending")]
    for item in sample:
        item["stac_extensions"] = []  # offline: extension schemas would need the network
        path = tmp_path / f"{item['id']}.json"
        path.write_text(json.dumps(item))
        done = subprocess.run([binary, "validate", str(path)], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    del sample[0]["properties"]["datetime"]  # start/end_datetime alone would be valid
    del sample[0]["properties"]["start_datetime"]
    (tmp_path / "broken.json").write_text(json.dumps(sample[0]))
    done = subprocess.run([binary, "validate", str(tmp_path / "broken.json")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode != 0, "the validator must catch a broken item"


def test_served_with_both_sensors(scenario_server, scenario_dir):
    assert scenario_server.collections[-1] == S1
    assert {"sentinel-2-l2a", S1} <= set(scenario_server.collections)
    client = pystac_client.Client.open(scenario_server.stac_url)
    assert S1 in {c.id for c in client.get_collections()}
    found = list(client.search(collections=[S1], datetime="2022-01-01/2023-12-31").items())
    expected = {i["id"] for i in _radar(scenario_dir)
                if "2022" <= i["properties"]["datetime"][:4] <= "2023"}
    assert found and {i.id for i in found} == expected
    optical = list(client.search(collections=[scenario_server.collection],
                                 datetime="2022-01-01/2023-12-31").items())
    assert optical and all(i.collection_id != S1 for i in optical)
    item = found[0]
    assert item.assets["vv"].href.startswith(scenario_server.files_url)
    with rasterio.open(item.assets["vv"].href) as src:
        remote = src.read(1, window=((100, 164), (200, 264)))
    local = _read(scenario_dir, next(i for i in _radar(scenario_dir) if i["id"] == item.id))
    assert np.array_equal(remote, local[100:164, 200:264])


# --- tiny builds: determinism and the sensors switch ------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("radar")
    kw = {"start": TINY[0], "end": TINY[1], "workers": 1, "seed": 5}
    return {"a": build("bagram", root / "a", **kw), "b": build("bagram", root / "b", **kw),
            "s2": build("bagram", root / "s2", sensors="s2", **kw)}


def _files(folder: Path) -> dict[str, str]:
    return {k: v["sha256"] for k, v in
            json.loads((folder / "manifest.json").read_text())["files"].items()}


def test_same_seed_gives_identical_bytes(tiny):
    a, b = _files(tiny["a"]), _files(tiny["b"])
    assert a == b
    assert sum(k.startswith("cogs-s1/") for k in a) == 4, "two passes, VV and VH"
    assert (tiny["a"] / "manifest.json").read_bytes() == (tiny["b"] / "manifest.json").read_bytes()


def test_sensors_s2_skips_the_radar_and_leaves_the_optical_bytes_alone(tiny):
    a, s2 = _files(tiny["a"]), _files(tiny["s2"])
    assert not any(k.startswith("cogs-s1/") or "-s1" in k for k in s2)
    assert {i["collection"] for i in _items(tiny["s2"])} <= {"sentinel-2-l2a",
                                                             "sentinel-2-c1-l2a"}
    same = [k for k in s2 if k.startswith(("cogs/", "cogs-c1/")) or k in
            ("truth.csv", "truth_objects.csv", "passes.csv", "collection.json")]
    assert same and all(a[k] == s2[k] for k in same)
    with pytest.raises(errors.ScenarioError, match="sensors"):
        build("bagram", tiny["s2"].parent / "x", sensors="s1", start=TINY[0], end=TINY[1])


def test_both_sensors_share_one_truth_on_a_shared_day(tiny):
    day = TINY[0]
    s2 = pd.read_csv(tiny["a"] / "truth_objects.csv")
    s1 = pd.read_csv(tiny["a"] / "truth_objects-s1.csv")
    assert len(s2[s2["date"] == day]) > 20
    pd.testing.assert_frame_equal(s2[s2["date"] == day].reset_index(drop=True),
                                  s1[s1["date"] == day].reset_index(drop=True))
    t2 = pd.read_csv(tiny["a"] / "truth.csv")
    t1 = pd.read_csv(tiny["a"] / "truth-s1.csv")
    cols = ["zone", "aircraft", "aircraft_large", "helicopters", "vehicles", "containers",
            "decoys"]
    pd.testing.assert_frame_equal(t2.loc[t2["date"] == day, cols].reset_index(drop=True),
                                  t1.loc[t1["date"] == day, cols].reset_index(drop=True))
