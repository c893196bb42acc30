"""The DN offset judged from evidence (dark pixels, neighbouring dates), never brightness."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
from affine import Affine

from geo import errors, harmonise
from geo.harmonise import OFFSET_DN, Radiometry, SceneSamples, check_over_time

RKH = "raster/sentinel2-l2a-cogs_S2A_29RKH_20200219_0_L2A"
BANDS = {"red": "B04", "nir": "B08", "swir16": "B11"}
UTM42 = "EPSG:32642"


def _harmonised_relabel(root: Path) -> Radiometry:
    """The real 2020 item relabelled as a harmonised post-2022 one (05.09, flag true)."""
    item = json.loads((root / RKH / "S2A_29RKH_20200219_0_L2A.json").read_text())
    item["properties"]["s2:processing_baseline"] = "05.09"
    item["properties"]["earthsearch:boa_offset_applied"] = True
    r = harmonise.decide(item)
    assert r.dn_offset == 0 and r.baseline == "05.09"
    return r


def _real_dn(root: Path) -> dict[str, np.ndarray]:
    out = {}
    for band, name in {**BANDS, "scl": "SCL"}.items():
        with rasterio.open(root / RKH / f"{name}.tif") as src:
            out[band] = src.read(1)
    return out


# --- (a) the real bright-desert scene is never shifted ---------------------------


def test_real_desert_relabelled_harmonised_is_not_shifted_in_any_4km_window(
    real_fixtures: Path,
) -> None:
    meta = _harmonised_relabel(real_fixtures)
    dn = _real_dn(real_fixtures)
    old_rule_fired, windows = 0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.HarmonisationWarning)
        for r in range(0, 1098, 40):  # 40 px of 100 m = 4 km (B11 at 200 m: 20 px)
            for c in range(0, 1098, 40):
                hist = (harmonise.dn_histogram(dn["red"][r:r + 40, c:c + 40])
                        + harmonise.dn_histogram(dn["nir"][r:r + 40, c:c + 40])
                        + harmonise.dn_histogram(dn["swir16"][r // 2:r // 2 + 20,
                                                              c // 2:c // 2 + 20]))
                dark = harmonise.darkest_dn(hist)
                if dark is None:
                    continue
                windows += 1
                old_rule_fired += 950 <= dark <= 1500  # the removed brightness rule
                assert harmonise.check_offset(meta, hist, item_id="x") == meta
                # the same DNs with a real +1000, declared: the offset is kept too
                raw = Radiometry(OFFSET_DN, True, "05.09", "raw")
                shifted = np.r_[np.zeros(20, np.int64), hist[:-20]]  # +1000 DN = 20 bins
                shifted[-1] += hist[-20:].sum()
                assert harmonise.check_offset(raw, shifted) == raw
    assert windows > 700
    # the test means something: the old rule subtracted in some of these windows
    assert old_rule_fired >= 10


def _write(path: Path, data: np.ndarray, transform: Affine, crs: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype=data.dtype, crs=crs, transform=transform,
                       nodata=0) as dst:
        dst.write(data, 1)
    return str(path)


def _samples(
    paths: Mapping[str, str], xs: np.ndarray, ys: np.ndarray, crs: str
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    dn = {b: harmonise.sample_dn(p, xs, ys, crs) for b, p in paths.items() if b != "scl"}
    return dn, harmonise.clear_from_scl(harmonise.sample_dn(paths["scl"], xs, ys, crs))


def test_real_desert_series_without_a_wrong_item_is_left_alone(
    real_fixtures: Path, tmp_path: Path
) -> None:
    """Five dates of the real scene (the files themselves, then copies with small
    gains and noise, one stored raw +1000 and declared so): no override."""
    meta = _harmonised_relabel(real_fixtures)
    dn = _real_dn(real_fixtures)
    with rasterio.open(real_fixtures / RKH / "B04.tif") as src:
        crs = str(src.crs)
    # 30 km box in the middle of the tile
    xs, ys = harmonise.sample_points((230_000, 2_730_000, 260_000, 2_760_000), n=4096)
    rng = np.random.default_rng(5)
    scenes = []
    for day in range(5):
        if day == 0:
            paths = {b: str(real_fixtures / RKH / f"{n}.tif") for b, n in BANDS.items()}
            paths["scl"] = str(real_fixtures / RKH / "SCL.tif")
        else:
            paths = {}
            raw = day == 3
            for band, values in dn.items():
                res = 100 if values.shape[0] == 1098 else 200
                t = Affine(res, 0, 199_980, 0, -res, 2_800_020)
                if band != "scl":
                    gain = 1 + rng.uniform(-0.04, 0.04)  # season, BRDF, atmosphere
                    v = values * gain + rng.normal(0, 60, values.shape) + (1000 if raw else 0)
                    values = np.where(values == 0, 0, np.clip(v, 1, 65535)).astype("uint16")
                paths[band] = _write(tmp_path / f"d{day}" / f"{band}.tif", values, t, crs)
        d, clear = _samples(paths, xs, ys, crs)
        r = Radiometry(OFFSET_DN, True, "05.09", "raw declared") if day == 3 else meta
        scenes.append(SceneSamples(f"S2A_29RKH_2023010{day + 1}", dt.datetime(2023, 1, 1 + 5 * day),
                                   r, d, clear))
    assert int(scenes[0].clear.sum()) > 3000  # type: ignore[union-attr]
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.HarmonisationWarning)
        out = check_over_time(scenes)
    assert out == [s.radiometry for s in scenes]


# --- (b) a synthetic series with one wrong item each way -------------------------

X0, Y1 = 500_000.0, 3_850_000.0
BOX = (X0 + 100, Y1 - 1900, X0 + 1900, Y1 - 100)


def _ground(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Bright desert at 10 m (200 x 200), smooth, with a darker gravel patch."""
    y, x = np.mgrid[0:200, 0:200] / 200.0
    base = 0.05 * np.sin(6 * x) * np.cos(4 * y) + rng.normal(0, 0.01, (200, 200))
    return {"red": 0.27 + base, "nir": 0.32 + 0.8 * base, "swir16": 0.41 + 0.6 * base}


def _write_date(folder: Path, refl: Mapping[str, np.ndarray], scl: np.ndarray,
                add: int) -> dict[str, str]:
    t10, t20 = Affine(10, 0, X0, 0, -10, Y1), Affine(20, 0, X0, 0, -20, Y1)
    paths = {}
    for band, r in refl.items():
        dn = np.round(np.clip(r, 0.0001, 5) * 10000).astype("uint16") + np.uint16(add)
        if band == "swir16":
            dn, t = dn[::2, ::2].copy(), t20
        else:
            t = t10
        paths[band] = _write(folder / f"{band}.tif", dn, t, UTM42)
    paths["scl"] = _write(folder / "scl.tif", scl, t20, UTM42)
    return paths


def _synthetic_series(tmp_path: Path) -> tuple[list[SceneSamples], dict[str, str]]:
    rng = np.random.default_rng(11)
    ground = _ground(rng)
    xs, ys = harmonise.sample_points(BOX, n=2500)
    # (id suffix, day, baseline, flag-says-removed, data carry +1000, what else)
    plan = [
        ("20211201", "02.14", False, False, ""),
        ("20211211", "02.14", False, False, ""),
        ("20220204", "04.00", True, False, ""),
        ("20220209", "04.00", True, True, ""),  # undeclared +1000
        ("20220214", "04.00", True, False, "cloud"),
        ("20220219", "04.00", False, False, ""),  # claims +1000 that is not there
        ("20220224", "04.00", True, False, "change"),
        ("20220301", "04.00", False, True, ""),  # raw, declared: right
        ("20220306", "04.00", True, False, "haze"),
        ("20220311", "04.00", True, False, ""),
    ]
    scenes, names = [], {}
    for day, baseline, removed, raw, what in plan:
        gain = 1 + rng.uniform(-0.03, 0.03)
        refl = {b: g * gain + rng.normal(0, 0.005, g.shape) for b, g in ground.items()}
        scl = np.full((100, 100), 5, dtype="uint8")
        if what == "cloud":  # 70 % cloud, brighter in the visible than in the SWIR
            cloud = np.zeros((200, 200), bool)
            cloud[:, :140] = True
            for b, extra in (("red", 0.35), ("nir", 0.3), ("swir16", 0.15)):
                refl[b][cloud] += extra
            scl[:, :70] = 9
        if what == "change":  # a new apron on 30 % of the pixels: darker in every band
            refl = {b: np.where(np.arange(200)[None, :] < 60, r - 0.1, r) for b, r in refl.items()}
        if what == "haze":  # unmasked haze: every band brighter, unequally
            refl = {b: r + s for (b, r), s in zip(refl.items(), (0.09, 0.06, 0.02), strict=True)}
        item_id = f"S2A_42SWD_{day}_0_L2A"
        paths = _write_date(tmp_path / day, refl, scl, 1000 if raw else 0)
        names[day] = item_id
        decided = 0 if (removed or baseline < "04.00") else OFFSET_DN
        r = Radiometry(decided, baseline >= "04.00", baseline, f"flag {removed}")
        dn, clear = _samples(paths, xs, ys, UTM42)
        when = dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC)
        scenes.append(SceneSamples(item_id, when, r, dn, clear))
    return scenes, names


def test_series_corrects_an_undeclared_and_a_false_offset_and_nothing_else(
    tmp_path: Path,
) -> None:
    scenes, names = _synthetic_series(tmp_path)
    # the single-date check cannot see either error on this bright ground
    for s in scenes:
        hist = np.sum([harmonise.dn_histogram(v) for v in s.dn.values()], axis=0)
        assert harmonise.check_offset(s.radiometry, hist) == s.radiometry
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = check_over_time(scenes)
    got = {s.item_id: r.dn_offset for s, r in zip(scenes, out, strict=True)}
    assert got[names["20220209"]] == OFFSET_DN  # undeclared offset now subtracted
    assert got[names["20220219"]] == 0  # false claim no longer subtracted
    for s, r in zip(scenes, out, strict=True):
        if s.item_id not in (names["20220209"], names["20220219"]):
            assert r == s.radiometry, s.item_id
    msgs = [str(w.message) for w in caught if issubclass(w.category, errors.HarmonisationWarning)]
    assert len(msgs) == 2
    assert names["20220209"] in msgs[0] and "subtracting 1000 DN" in msgs[0]
    assert names["20220219"] in msgs[1] and "not subtracting" in msgs[1]
    fixed = out[3]
    assert "time check: offset present" in fixed.reason
    assert "red +0.1" in fixed.evidence and "swir16 +0.1" in fixed.evidence
    assert "time check: offset absent" in out[5].reason and out[5].offset_applied


# --- (c) the old false positive -------------------------------------------------


def test_darkest_dn_951_on_bright_ground_with_flag_true_does_not_subtract() -> None:
    rng = np.random.default_rng(2)
    dn = np.r_[np.full(30, 951), rng.integers(1400, 4500, 20_000)].astype("uint16")
    hist = harmonise.dn_histogram(dn)
    assert 950 <= (harmonise.darkest_dn(hist) or 0) <= 1500  # where the old rule fired
    meta = Radiometry(0, True, "05.09", "earth-search: boa_offset_applied true")
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.HarmonisationWarning)
        assert harmonise.check_offset(meta, hist, item_id="S2A_X") == meta


def test_few_dark_pixels_of_water_do_not_rule_the_offset_out() -> None:
    """Raw DNs with a tail of negative reflectance (dark water) keep the offset."""
    rng = np.random.default_rng(4)
    land = 1000 + rng.integers(300, 3000, 20_000)
    water = 1000 + np.round(rng.normal(0, 60, 2000)).astype(int)  # ~0 +- 0.006
    hist = harmonise.dn_histogram(np.r_[land, water].astype("uint16"))
    assert 0 < (harmonise.absent_share(hist) or 0) <= 0.005
    meta = Radiometry(OFFSET_DN, True, "05.09", "raw")
    assert harmonise.check_offset(meta, hist) == meta


# --- robustness of the time check, on plain arrays ----------------------------------


def _scene(ground: np.ndarray, day: int, *, add: int = 0, decided: int = 0,
           baseline: str = "05.09", shift: tuple[float, ...] = (0, 0, 0),
           clear: np.ndarray | None = None, seed: int = 0) -> SceneSamples:
    rng = np.random.default_rng(1000 + day + seed)
    dn = {b: np.round((ground[k] + shift[k] + rng.normal(0, 0.006, ground.shape[1])) * 1e4)
          .astype(np.int64) + add for k, b in enumerate(("red", "nir", "swir16"))}
    r = Radiometry(decided, baseline >= "04.00", baseline, "metadata")
    return SceneSamples(f"S2B_{day:03d}", dt.datetime(2023, 1, 1) + dt.timedelta(days=5 * day),
                        r, dn, clear)


@pytest.fixture
def ground() -> np.ndarray:
    rng = np.random.default_rng(9)
    return rng.uniform(0.22, 0.36, (3, 800)) + np.array([[0.0], [0.04], [0.1]])


def _offsets(scenes: list[SceneSamples]) -> list[int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.HarmonisationWarning)
        return [r.dn_offset for r in check_over_time(scenes)]


def test_a_run_of_wrong_items_among_right_ones_is_corrected(ground: np.ndarray) -> None:
    """Three consecutive items of one collection with undeclared offsets, amid the
    other collection's (raw, declared) items."""
    wrong = {4, 5, 6}
    scenes = [_scene(ground, d, add=1000, decided=0 if d in wrong else 1000) for d in range(11)]
    assert _offsets(scenes) == [1000] * 11


def test_uniform_error_cannot_be_told_and_nothing_changes(ground: np.ndarray) -> None:
    scenes = [_scene(ground, d, add=1000, decided=0) for d in range(6)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.HarmonisationWarning)
        assert [r.dn_offset for r in check_over_time(scenes)] == [0] * 6


def test_two_dates_that_disagree_are_reported_not_guessed(ground: np.ndarray) -> None:
    scenes = [_scene(ground, 0), _scene(ground, 1, add=1000)]
    with pytest.warns(errors.HarmonisationWarning, match="cannot tell"):
        out = check_over_time(scenes)
    assert [r.dn_offset for r in out] == [0, 0]


def test_an_anchor_before_04_decides_between_two_dates(ground: np.ndarray) -> None:
    scenes = [_scene(ground, 0, baseline="02.14"), _scene(ground, 1, add=1000)]
    with pytest.warns(errors.HarmonisationWarning, match="S2B_001"):
        assert [r.dn_offset for r in check_over_time(scenes)] == [0, 1000]


def test_a_date_without_comparable_neighbours_keeps_its_metadata(ground: np.ndarray) -> None:
    cloudy = np.zeros(ground.shape[1], bool)
    cloudy[:100] = True  # 100 clear points: too few to compare
    scenes = [_scene(ground, d) for d in range(4)]
    scenes.insert(2, _scene(ground, 9, add=1000, clear=cloudy))
    assert _offsets(scenes) == [0] * 5


def test_a_jump_in_some_bands_only_is_not_an_offset(ground: np.ndarray) -> None:
    """Green-up or wet soil: red and NIR move by 0.1, SWIR does not."""
    scenes = [_scene(ground, d) for d in range(5)]
    scenes[2] = _scene(ground, 2, shift=(0.1, 0.1, 0.0))
    assert _offsets(scenes) == [0] * 5


def test_a_single_band_cannot_show_an_offset(ground: np.ndarray) -> None:
    scenes = [_scene(ground, d, add=1000 if d == 2 else 0) for d in range(5)]
    for s in scenes:
        del s.dn["nir"], s.dn["swir16"]  # type: ignore[attr-defined]
    assert _offsets(scenes) == [0] * 5


# --- sampling -------------------------------------------------------------------------


def test_sample_dn_reads_the_right_pixels_from_another_crs(tmp_path: Path) -> None:
    rows, cols = np.mgrid[0:300, 0:300]
    values = (rows * 300 + cols + 1).astype("uint32")  # each pixel encodes its place
    values[0, :] = 0  # nodata row
    t = Affine(10, 0, X0, 0, -10, Y1)
    path = _write(tmp_path / "code.tif", values, t, UTM42)
    xs, ys = harmonise.sample_points((X0, Y1 - 3000, X0 + 3000, Y1), n=400)
    lon, lat = rasterio.warp.transform(UTM42, "EPSG:32641", xs, ys)
    got = harmonise.sample_dn(path, np.asarray(lon), np.asarray(lat), "EPSG:32641")
    c = np.floor((xs - X0) / 10).astype(int)
    r = np.floor((Y1 - ys) / 10).astype(int)
    np.testing.assert_array_equal(got, values[r, c])
    outside = harmonise.sample_dn(path, np.array([X0 - 50.0, X0 + 5]), np.array([Y1 - 5, Y1 - 5]),
                                  UTM42)
    assert outside.tolist() == [0, 0]  # outside the raster; nodata


def test_sample_points_lattice_covers_the_bounds_evenly() -> None:
    xs, ys = harmonise.sample_points((0, 0, 1000, 500), n=100)
    assert xs.size == 100 and xs.min() > 0 and xs.max() < 1000 and ys.max() < 500
    assert np.unique(xs).size == 10 and np.allclose(np.diff(np.unique(xs)), 100)
    with pytest.raises(errors.LoadError, match="xmax > xmin"):
        harmonise.sample_points((5, 0, 5, 1))


def test_hazy_neighbours_on_both_sides_are_looked_past(ground: np.ndarray) -> None:
    """Haze brightens bands unequally: no evidence. The wrong date between two hazy
    ones is still compared with clear dates further out."""
    haze = (0.08, 0.05, 0.02)
    scenes = [_scene(ground, d, shift=haze if d in (2, 4) else (0, 0, 0),
                     add=1000 if d == 3 else 0) for d in range(7)]
    assert _offsets(scenes) == [0, 0, 0, 1000, 0, 0, 0]


def test_one_misleading_pair_does_not_move_a_date(ground: np.ndarray) -> None:
    """From date 5 on, 40 % of the ground is 0.1 brighter in every band (new concrete);
    date 6 is clear only there, so against date 4 alone it looks like an offset."""
    changed = np.arange(ground.shape[1]) < 0.4 * ground.shape[1]
    shifted = ground + np.where(changed, 0.1, 0.0)
    scenes = [_scene(ground if d < 5 else shifted, d, clear=changed if d == 6 else None)
              for d in range(10)]
    assert _offsets(scenes) == [0] * 10
