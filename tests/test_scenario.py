"""Unit tests of the scenario's pieces: cadence, sun, story, drawing, encoding, ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from geo.scenario import _activity as act
from geo.scenario._build import _encode_reflectance, _tci
from geo.scenario._cadence import (
    BASELINE_04,
    C1_ID,
    EVENT_DATES,
    L2A_GAP_FROM,
    L2A_ID,
    S2C_TAKEOVER,
    Acquisition,
    baseline_for,
    schedule,
    solar_position,
)
from geo.scenario._fileserver import parse_range
from geo.scenario._noise import block_mean, subpixel_shift
from geo.scenario._preview import reflectance
from geo.scenario._stac import item_id

BAGRAM = (69.265, 34.946)


# --- cadence -------------------------------------------------------------------------


def test_full_cadence_is_five_daily_with_both_satellites():
    acqs = [a for a in schedule(profile="full") if a.sequence == 0 and not a.forced]
    days = sorted(a.day for a in acqs)
    gaps = np.diff([d.toordinal() for d in days])
    assert 350 <= len(days) <= 370
    assert set(gaps) <= {5, 10}                       # 10 where a pass is missing
    assert (gaps == 5).mean() > 0.95
    platforms = {a.platform for a in acqs}
    assert platforms == {"sentinel-2a", "sentinel-2b", "sentinel-2c"}


def test_s2c_replaces_s2a_in_january_2025():
    acqs = schedule(profile="full")
    assert not any(a.platform == "sentinel-2a" for a in acqs if a.day >= S2C_TAKEOVER)
    assert not any(a.platform == "sentinel-2c" for a in acqs if a.day < S2C_TAKEOVER)


def test_duplicates_share_a_pass():
    acqs = schedule(profile="full")
    dups = [a for a in acqs if a.sequence == 1]
    assert dups, "the archive should contain some _1 duplicates"
    firsts = {(a.day, a.platform) for a in acqs if a.sequence == 0}
    assert all((d.day, d.platform) in firsts for d in dups)


def test_event_dates_have_an_acquisition_in_both_profiles():
    for profile in ("full", "small"):
        days = {a.day for a in schedule(profile=profile)}
        assert set(EVENT_DATES.values()) <= days, profile


def test_small_profile_size_and_spread():
    acqs = schedule(profile="small")
    days = sorted({a.day for a in acqs})
    assert 30 <= len(days) <= 45
    assert days[0] < date(2020, 12, 31) and days[-1] > date(2025, 6, 1)
    assert any(a.raw_offset for a in acqs), "small profile keeps a raw-offset item"


def test_baselines_and_offsets_follow_the_2022_change():
    acqs = schedule(profile="full", raw_share=0.25)
    before = [a for a in acqs if a.day < BASELINE_04]
    after = [a for a in acqs if a.day >= BASELINE_04]
    assert {a.baseline[:2] for a in before} <= {"02", "03"}
    assert {a.baseline[:2] for a in after} <= {"04", "05"}
    assert not any(a.offset_applied for a in before)
    share = np.mean([a.raw_offset for a in after])
    assert 0.15 < share < 0.35
    assert baseline_for(date(2022, 1, 24)) < "04.00" <= baseline_for(date(2022, 1, 25))


def test_subrange_gives_the_same_items_as_the_full_range():
    full = [a for a in schedule(profile="full") if date(2023, 3, 1) <= a.day <= date(2023, 4, 30)]
    part = schedule("2023-03-01", "2023-04-30", profile="full")
    assert [(a.day, a.sequence, a.baseline, a.offset_applied) for a in full] == \
        [(a.day, a.sequence, a.baseline, a.offset_applied) for a in part]


def test_every_pass_is_in_a_collection_with_gaps_like_the_real_ones():
    acqs = [a for a in schedule(profile="full") if a.sequence == 0]
    assert all(a.collections for a in acqs)
    y2022 = [a for a in acqs if a.day.year == 2022]
    assert np.mean([not a.in_c1 for a in y2022]) > 0.7
    early = [a for a in acqs if a.day.year < 2022]
    months = {(a.day.year, a.day.month) for a in early if not a.in_c1}
    assert 2 <= len(months) <= 0.5 * len({(a.day.year, a.day.month) for a in early})
    assert all(a.in_c1 for a in acqs if a.day.year >= 2023)
    late = [a for a in acqs if a.day >= L2A_GAP_FROM]
    assert 0.2 < np.mean([not a.in_l2a for a in late]) < 0.5
    assert all(a.in_l2a for a in acqs if a.day < L2A_GAP_FROM and a.day.year != 2022
               and a.day.year >= 2022)
    dups = [a for a in schedule(profile="full") if a.sequence == 1]
    assert all(d.in_l2a and not d.in_c1 for d in dups)


def test_small_profile_has_every_kind_of_pass_and_both_wrong_flags():
    acqs = schedule(profile="small")
    kinds = {a.collections for a in acqs if a.sequence == 0}
    assert kinds == {(C1_ID,), (L2A_ID,), (C1_ID, L2A_ID)}
    wrong = [a for a in acqs if a.flag_wrong]
    assert all(a.baseline >= "04.00" and a.in_l2a for a in wrong)
    lacking = [a for a in wrong if not a.in_c1]
    assert {(a.flag, a.raw_offset) for a in lacking} == {(True, True), (False, False)}
    assert any(a.raw_offset and not a.flag and not a.flag_wrong for a in acqs)
    assert acqs == schedule(profile="small"), "deterministic from the seed"
    other = schedule(profile="small", seed=3)
    assert [a.collections for a in other] != [a.collections for a in acqs] or \
        [a.flag_wrong for a in other] != [a.flag_wrong for a in acqs]


def test_bad_dates_and_profiles_are_refused():
    with pytest.raises(ValueError, match="before start"):
        schedule("2022-01-01", "2021-01-01")
    with pytest.raises(ValueError, match="profile"):
        schedule(profile="huge")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        schedule("last tuesday")


# --- sun -----------------------------------------------------------------------------


@pytest.mark.parametrize(("month", "low", "high"), [(12, 26, 33), (6, 66, 76), (3, 45, 56)])
def test_sun_elevation_at_overpass_by_season(month, low, high):
    el, az = solar_position(datetime(2021, month, 21, 6, 6, tzinfo=UTC), *BAGRAM)
    assert low < el < high
    assert 100 < az < 170   # mid-morning: sun in the south-east


def test_solar_noon_elevation_matches_declination():
    # at the June solstice, local solar noon (about 07:23 UTC at 69.27 E)
    el, az = solar_position(datetime(2021, 6, 21, 7, 20, tzinfo=UTC), *BAGRAM)
    assert el == pytest.approx(90 - 34.946 + 23.44, abs=0.6)
    assert az == pytest.approx(180, abs=10)


# --- story and drawing ----------------------------------------------------------------


def test_aircraft_story():
    rng = np.random.default_rng(1)
    assert all(act.aircraft_target(date(2020, 11, d), rng) >= 35 for d in range(1, 29))
    assert act.aircraft_target(date(2021, 7, 2), rng) == 0
    assert act.aircraft_target(date(2023, 5, 1), rng) == 0
    spring = [act.aircraft_target(date(2021, 6, 1), rng) for _ in range(20)]
    assert 0 < np.mean(spring) < 35


def _counts(layout: act.Layout, day: date) -> tuple[int, int, int, int]:
    """Aircraft, vehicles, vehicles in the main parking and containers on a date."""
    objs = act.objects_for(layout, day)
    cars = [o for o in objs if o.category == "vehicle"]
    return (sum(o.category in ("aircraft", "helicopter") for o in objs), len(cars),
            sum(o.zone == layout.car_zone for o in cars),
            sum(o.category == "container" for o in objs))


def test_steady_story_is_steady_then_none():
    import geo
    from geo import errors
    from geo.scenario._radiometry import build_scene

    story = act.make_story("steady", start="2020-10-01")
    assert story.drop == date(2024, 10, 1)
    assert act.make_story("steady", "2023-03-05").drop == date(2023, 3, 5)
    assert act.make_story("steady", start="2020-02-29").drop == date(2024, 2, 29)
    with pytest.raises(errors.ScenarioError, match="unknown"):
        act.make_story("busy")
    with pytest.raises(errors.ScenarioError, match="only to story='steady'"):
        act.make_story("bagram", "2024-10-01")
    layout = act.plan_layout(build_scene(geo.aoi.load("bagram")), story=story)
    assert act.plan_layout(build_scene(geo.aoi.load("bagram"))).story == act.Story()
    days = sorted({a.day for a in schedule(profile="small")})    # with the event dates
    counts = {d: _counts(layout, d) for d in days}
    before = [c for d, c in counts.items() if d < story.drop]
    after = [c for d, c in counts.items() if d >= story.drop]
    assert len(before) >= 25 and len(after) >= 5
    level = round(act.STEADY_SHARE * len(layout.fleet))
    assert level >= 30
    assert all(abs(c[0] - level) <= act.STEADY_JITTER for c in before)  # parades too
    assert len({c[0] for c in before}) > 1                               # not a constant
    assert all(c[0] == 0 for c in after)                                 # the Feb 2025 C-130 too
    cars_before, cars_after = [c[1] for c in before], [c[1] for c in after]
    assert min(cars_before) > max(cars_after)
    assert np.mean(cars_after) < 0.3 * np.mean(cars_before)
    assert max(c[2] for c in before) < 40                                # no car-park days
    assert len({c[3] for c in before}) == 1 and after[-1][3] < 0.5 * before[0][3]


def test_aircraft_templates_have_published_size():
    for name, t in act.TYPES.items():
        xmin, ymin, xmax, ymax = act._TEMPLATES[name].bounds
        if t.helicopter:  # rotor blades at rest: the outline reaches about a rotor across
            assert max(xmax - xmin, ymax - ymin) >= 0.8 * t.rotor
            continue
        assert xmax - xmin == pytest.approx(t.span, rel=0.02)
        assert ymax - ymin == pytest.approx(t.length, rel=0.02)
    assert act.TYPES["C-17"].large and not act.TYPES["F-16"].large


def test_objects_are_drawn_sub_pixel_correct():
    """A 10 x 10 m black square half over a pixel darkens it by half."""
    from geo.scenario._radiometry import SceneGrid

    grid = SceneGrid(500000.0, 3900000.0, 12, 12)
    refl = np.full((6, 12, 12), 0.3, np.float32)
    obj = act.Placed("vehicle", "box", "z", 500055.0, 3899945.0, 0.0, 10.0, 10.0, 0.0,
                     (0.0,) * 6)
    act._draw_window(refl, [obj], (0, 12, 0, 12), grid.x0, grid.y1, 0.0, 0.0)
    # the square spans x 500050-500060, y 3899940-3899950: exactly pixel (5, 5)
    assert refl[0, 5, 5] == pytest.approx(0.0, abs=1e-6)
    assert refl[0, 5, 4] == pytest.approx(0.3)
    obj2 = act.Placed("vehicle", "box", "z", 500020.0, 3899945.0, 0.0, 10.0, 10.0, 0.0,
                      (0.0,) * 6)   # x 500015-500025: half of pixel 1 and half of pixel 2
    act._draw_window(refl, [obj2], (0, 12, 0, 12), grid.x0, grid.y1, 0.0, 0.0)
    assert refl[0, 5, 1] == pytest.approx(0.15, abs=0.01)
    assert refl[0, 5, 2] == pytest.approx(0.15, abs=0.01)


def test_shadows_fall_away_from_the_sun():
    sx, sy = act._shadow_vector(30.0, 150.0)     # sun in the south-south-east
    assert sx < 0 and sy > 0                     # shadow to the north-north-west
    assert np.hypot(sx, sy) == pytest.approx(1 / np.tan(np.radians(30)), rel=1e-6)
    low = np.hypot(*act._shadow_vector(30.0, 150.0))
    high = np.hypot(*act._shadow_vector(75.0, 150.0))
    assert low > 3 * high


# --- pixels and encoding ----------------------------------------------------------------


def test_subpixel_shift_and_block_mean():
    a = np.zeros((4, 4), np.float32)
    a[1, 1] = 1
    assert subpixel_shift(a, 1, 0)[1, 2] == 1
    half = subpixel_shift(a, 0.5, 0)
    assert half[1, 1] == pytest.approx(0.5) and half[1, 2] == pytest.approx(0.5)
    assert block_mean(np.arange(16, dtype=np.float32).reshape(4, 4), 2)[0, 0] == 2.5


def _acq(baseline: str, applied: bool) -> Acquisition:
    t = datetime(2023, 1, 1, 6, 6, tzinfo=UTC)
    return Acquisition(t.date(), t, "sentinel-2a", 5, baseline=baseline, offset_applied=applied)


@pytest.mark.parametrize(("baseline", "applied", "pc", "expected"), [
    ("02.14", False, False, 1234), ("05.10", True, False, 1234), ("05.10", False, False, 2234),
    ("05.10", True, True, 2234), ("03.01", False, True, 1234),
])
def test_dn_encoding_follows_each_archive(baseline, applied, pc, expected):
    dn = _encode_reflectance(np.array([[0.1234]], np.float32), _acq(baseline, applied), pc)
    assert dn.dtype == np.uint16 and int(dn[0, 0]) == expected
    props = {"s2:processing_baseline": baseline}
    if not pc:
        props["earthsearch:boa_offset_applied"] = applied
    assert reflectance(dn, props)[0, 0] == pytest.approx(0.1234, abs=1e-4)


def test_collection_1_keeps_the_offset_on_every_baseline():
    for baseline in ("02.14", "03.01", "05.11"):
        dn = _encode_reflectance(np.array([[0.1234]], np.float32), _acq(baseline, True),
                                 False, c1=True)
        assert int(dn[0, 0]) == 2234
    acq = _acq("02.14", False)
    assert item_id(acq, "42SWD", collection=C1_ID) == "S2A_T42SWD_20230101T060600_L2A"


def test_dark_pixels_never_become_nodata():
    dn = _encode_reflectance(np.zeros((1, 2, 2), np.float32), _acq("02.14", False), False)
    assert dn.min() == 1
    tci = _tci(np.zeros((6, 2, 2), np.float32))
    assert tci.min() == 1 and tci.dtype == np.uint8


def test_item_ids_in_both_styles():
    acq = _acq("05.09", True)
    assert item_id(acq, "42SWD") == "S2A_42SWD_20230101_0_L2A"
    pc = item_id(acq, "42SWD", pc_style=True)
    assert pc.startswith("S2A_MSIL2A_20230101T060600_R005_T42SWD_")


# --- the file server's ranges ------------------------------------------------------------


@pytest.mark.parametrize(("header", "size", "expected"), [
    ("bytes=0-99", 1000, (0, 99)), ("bytes=900-", 1000, (900, 999)),
    ("bytes=-100", 1000, (900, 999)), ("bytes=990-2000", 1000, (990, 999)),
    ("bytes=1000-", 1000, None), ("bytes=5-2", 1000, None), ("items=0-1", 1000, None),
    ("bytes=-", 1000, None),
])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected
