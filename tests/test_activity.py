"""Activity index on synthetic stacks with known aircraft, decoys, gains and shifts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings

import geo
from geo import errors
from geo.activity import COLUMNS, activity_index, analyse
from geo.testing.stacks import (
    BANDS,
    Aircraft,
    gains,
    layouts,
    make_stack,
    seasonal_gain,
    shifts,
    small_aoi,
)

N_DATES = 14
DECOYS = [Aircraft(x=260, y=200, surface="decoy"),
          Aircraft(x=380, y=170, heading=80, surface="decoy"),
          Aircraft(x=-60, y=240, wingspan=50, heading=0, surface="decoy")]  # on the apron
PLANES = [Aircraft(x=-150, y=150, wingspan=45, length=40, dates=[3]),
          Aircraft(x=-300, y=60, wingspan=35, length=30, dates=[3, 5]),
          Aircraft(x=330, y=230, wingspan=40, length=36, heading=80, dates=[8])]  # revetment
QUIET = dict(category=errors.CloudyDateWarning)


@pytest.fixture(scope="module")
def aoi():
    return small_aoi()


@pytest.fixture(scope="module")
def decoy_stack(aoi) -> xr.Dataset:
    return make_stack(aoi, N_DATES, decoys=DECOYS, gain=seasonal_gain(0.2), seed=1)


@pytest.fixture(scope="module")
def plane_stack(aoi) -> xr.Dataset:
    return make_stack(aoi, N_DATES, aircraft=PLANES, decoys=DECOYS, seed=2)


def _run(stack: xr.Dataset, aoi, **kw) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.CloudyDateWarning)
        return activity_index(stack, aoi, season_days=None, **kw)


def _scaled(stack: xr.Dataset, factor: np.ndarray | float) -> xr.Dataset:
    f = xr.DataArray(np.broadcast_to(factor, (stack.sizes["time"],)), dims="time")
    return stack.assign({b: (stack[b] * f).astype("float32") for b in BANDS})


def _shifted(stack: xr.Dataset, t: int, dy: int, dx: int) -> xr.Dataset:
    out = stack.copy(deep=True)
    for b in BANDS:
        out[b][t] = np.roll(stack[b][t].values, (dy, dx), axis=(0, 1))
    return out


def test_columns_and_one_row_per_date_and_zone(aoi, plane_stack) -> None:
    df = _run(plane_stack, aoi)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == N_DATES * 3
    assert set(df["kind"]) == {"apron", "revetment", "parking"}
    assert df["flagged"].dtype == bool
    assert df["objects"].dtype == "Int64"
    assert df.loc[df["kind"] == "parking", "objects"].isna().all()


def test_decoys_and_fixed_ground_give_zero_activity(aoi, decoy_stack) -> None:
    df = _run(decoy_stack, aoi)
    assert (df["activity_index"] == 0).all()
    assert (df.loc[df["kind"] != "parking", "objects"] == 0).all()


def test_planted_aircraft_are_detected_on_their_dates_only(aoi, plane_stack) -> None:
    df = _run(plane_stack, aoi).set_index(["zone", "date"]).sort_index()
    dates = pd.DatetimeIndex(plane_stack["time"].values)
    apron = df.loc["apron_test"]
    assert apron.loc[dates[3], "objects"] == 2
    assert apron.loc[dates[5], "objects"] == 1
    assert df.loc[("revetments_test", dates[8]), "objects"] == 1
    busy = {3, 5}
    for t, date in enumerate(dates):
        if t in busy:
            assert apron.loc[date, "activity_index"] * 1500 >= 4  # pixels
        else:
            assert apron.loc[date, "activity_index"] == 0
    # more aircraft, more activity; the sensitivity band brackets the index
    assert apron.loc[dates[3], "activity_index"] > apron.loc[dates[5], "activity_index"]
    assert (df["activity_low"] <= df["activity_index"]).all()
    assert (df["activity_index"] <= df["activity_high"]).all()


def test_objects_table_locates_the_aircraft(aoi, plane_stack) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", **QUIET)
        res = analyse(plane_stack, aoi, season_days=None)
    objs = res.objects
    assert len(objs) == 4
    t3 = pd.Timestamp(plane_stack["time"].values[3])
    found = objs[objs["date"] == t3]
    for plane in PLANES[:2]:
        p = plane.polygon().centroid
        d = np.hypot(found["x"] - p.x, found["y"] - p.y).min()
        assert d < 15, (plane, found[["x", "y"]])
    assert (objs["area_px"] >= 4).all() and (objs["length_m"] < 100).all()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gain=gains(), layout=layouts(3))
def test_activity_invariant_to_uniform_gain_of_site_and_control(aoi, gain, layout) -> None:
    planes = [Aircraft(x=a.x, y=a.y, wingspan=a.wingspan, length=a.length, heading=a.heading,
                       dates=[2]) for a in layout]
    stack = make_stack(aoi, 10, aircraft=planes, decoys=DECOYS, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", **QUIET)
        base = analyse(stack, aoi, season_days=None)
    # one date brighter or darker (sun elevation), and every date (calibration)
    factor = np.ones(stack.sizes["time"])
    factor[2] = gain
    for scaled in (_scaled(stack, factor), _scaled(stack, gain)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", **QUIET)
            out = analyse(scaled, aoi, season_days=None)
        # the scores are the same up to float32 rounding ...
        for zone, zs in base.scores.items():
            np.testing.assert_allclose(out.scores[zone].score, zs.score, rtol=2e-3, atol=1e-3)
        # ... so the index can differ only by a pixel sitting exactly on the threshold
        diff = (out.table["activity_index"] - base.table["activity_index"]).abs()
        assert (diff * base.table["zone_pixels"] <= 1.0 + 1e-9).all()
        assert out.table["objects"].fillna(-1).tolist() == base.table["objects"].fillna(-1).tolist()
    assert base.table.loc[base.table["zone"] == "apron_test", "activity_index"].iloc[2] > 0


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shift=shifts())
def test_one_pixel_misregistration_is_not_activity(aoi, decoy_stack, shift) -> None:
    base = _run(decoy_stack, aoi)
    out = _run(_shifted(decoy_stack, 4, *shift), aoi)
    assert (out["activity_index"] == 0).all(), out[out["activity_index"] > 0]
    assert (base["activity_index"] == 0).all()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shift=shifts())
def test_aircraft_measured_alike_after_a_one_pixel_shift(aoi, plane_stack, shift) -> None:
    base = _run(plane_stack, aoi).set_index(["zone", "date"])
    out = _run(_shifted(plane_stack, 3, *shift), aoi).set_index(["zone", "date"])
    d3 = pd.Timestamp(plane_stack["time"].values[3])
    a, b = base.loc[("apron_test", d3)], out.loc[("apron_test", d3)]
    assert b["objects"] == a["objects"] == 2
    # the same aircraft, seen one pixel off, cover about the same area (within 4 pixels)
    assert abs(b["anomalous_area_m2"] - a["anomalous_area_m2"]) <= 400
    others = out.drop(index=("apron_test", d3))
    assert others.drop(index=[i for i in others.index if i[1] in
                              {pd.Timestamp(plane_stack["time"].values[k]) for k in (5, 8)}]
                       )["activity_index"].eq(0).all()


def test_season_sun_and_haze_do_not_count(aoi) -> None:
    dates = pd.date_range("2021-01-01", periods=36, freq="10D")
    haze = np.zeros(len(dates))
    haze[[5, 17, 30]] = [0.02, 0.03, 0.08]
    stack = make_stack(aoi, dates, decoys=DECOYS, gain=seasonal_gain(0.3), haze=haze, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", **QUIET)
        df = activity_index(stack, aoi, season_days=45)
    assert (df["activity_index"] == 0).all()
    heavy = df[df["date"] == dates[30]]
    assert heavy["flagged"].all() and heavy["flag_reason"].str.contains("haze").all()
    assert not df[df["date"] == dates[5]]["flagged"].any()


def test_cloudy_and_snowy_dates_are_flagged_not_dropped(aoi) -> None:
    stack = make_stack(aoi, 8, clouds={2: 1.0, 3: 0.2}, snow={5: 1.0, 6: 0.35}, seed=5)
    with pytest.warns(errors.CloudyDateWarning, match="flagged"):
        df = activity_index(stack, aoi, season_days=None)
    assert len(df) == 8 * 3
    by_date = df[df["zone"] == "apron_test"].reset_index(drop=True)
    assert by_date.loc[2, "flagged"] and by_date.loc[2, "flag_reason"].startswith("cloud")
    assert np.isnan(by_date.loc[2, "activity_index"])
    assert by_date.loc[5, "flagged"] and by_date.loc[5, "flag_reason"].startswith("snow")
    assert by_date.loc[5, "snow_fraction"] == 1.0
    assert not by_date.loc[[0, 1, 4, 7], "flagged"].any()
    # partly snowy: only the clear pixels are measured, and nothing is made up
    assert 0 < by_date.loc[6, "clear_fraction"] < 1
    assert by_date.loc[6, "activity_index"] == 0 or np.isnan(by_date.loc[6, "activity_index"])


def test_parking_occupancy_signal(aoi) -> None:
    cars = [Aircraft(x=215 + 12 * i, y=-200 + 14 * j, wingspan=2.0, length=4.5, heading=0,
                     dates=[4, 5], surface="car") for i in range(9) for j in range(5)]
    stack = make_stack(aoi, 10, aircraft=cars, seed=6)
    df = _run(stack, aoi, zones=["parking_test"])
    occ = df["activity_index"].to_numpy()
    assert occ[4] > 0.03 and occ[5] > 0.03
    assert occ[[0, 1, 2, 3, 6, 7, 8, 9]].max() <= 0.01


def test_reference_period_and_errors(aoi, plane_stack) -> None:
    dates = pd.DatetimeIndex(plane_stack["time"].values)
    ref = (str(dates[6].date()), str(dates[-1].date()))
    df = _run(plane_stack, aoi, reference=ref, zones=["apron_test"])
    assert df.loc[df["date"] == dates[3], "objects"].item() == 2
    with pytest.raises(errors.AnalysisError, match="reference"):
        _run(plane_stack, aoi, reference=("2030-01-01", "2030-02-01"))
    with pytest.raises(errors.AnalysisError, match="no zone of kind"):
        _run(plane_stack, aoi, kinds=["yard"])
    with pytest.raises(errors.AnalysisError, match="EPSG:32642"):
        _run(plane_stack.assign_attrs(crs="EPSG:32643"), aoi)
    with pytest.raises(errors.AnalysisError, match="Control zone"):
        _run(plane_stack, aoi, control="nowhere")


def test_lazy_stack_gives_the_same_answer(aoi, plane_stack) -> None:
    lazy = plane_stack.chunk({"time": 1})
    assert lazy["red"].chunks is not None
    a = _run(plane_stack, aoi)
    b = _run(lazy, aoi, block=3)
    pd.testing.assert_frame_equal(a, b)


def test_runway_rows_carry_ndvi_for_disuse(aoi, decoy_stack) -> None:
    df = _run(decoy_stack, aoi, kinds=["runway"])
    assert set(df["kind"]) == {"runway"}
    assert df["ndvi"].between(0.0, 0.2).all()


def test_exported_from_package() -> None:
    assert geo.activity_index is activity_index


# --- a long stack: the empty state fitted to a sample, every date scored a block at a time


@pytest.fixture(scope="module")
def long_stack(aoi) -> xr.Dataset:
    planes = [Aircraft(x=-150, y=150, wingspan=45, length=40, dates=[7, 41]),
              Aircraft(x=330, y=230, wingspan=40, length=36, heading=80, dates=[29])]
    return make_stack(aoi, 60, aircraft=planes, decoys=DECOYS, gain=seasonal_gain(0.2),
                      clouds={12: 1.0, 50: 1.0}, seed=5)


def test_sampled_fit_finds_the_aircraft_of_a_long_stack(aoi, long_stack) -> None:
    sampled = _run(long_stack, aoi, baseline_dates=20)
    full = _run(long_stack, aoi, baseline_dates=None)
    for df in (sampled, full):
        counts = df.groupby("date")["objects"].sum().to_numpy()
        assert np.flatnonzero(counts).tolist() == [7, 29, 41]
        quiet = df[~df["date"].isin(df["date"].unique()[[7, 29, 41]]) & ~df["flagged"]]
        assert quiet["activity_index"].max() <= 0.01
    assert len(sampled) == len(full)
    assert (sampled["flagged"] == full["flagged"]).all()


def test_blocks_do_not_change_a_sampled_answer(aoi, long_stack) -> None:
    lazy = long_stack.chunk({"time": 4})
    a = _run(long_stack, aoi, baseline_dates=16, block=60)
    b = _run(lazy, aoi, baseline_dates=16, block=5)
    pd.testing.assert_frame_equal(a, b)


def test_short_stacks_are_fitted_to_every_date(aoi, plane_stack) -> None:
    pd.testing.assert_frame_equal(_run(plane_stack, aoi, baseline_dates=N_DATES),
                                  _run(plane_stack, aoi, baseline_dates=None))


def test_sample_covers_the_period_and_prefers_clear_dates(long_stack) -> None:
    from geo.activity import _sample_dates

    n = long_stack.sizes["time"]
    cloud = np.full(n, 50.0)
    cloud[[3, 4]] = 1.0
    stack = long_stack.assign_coords(cloud_cover=("time", cloud))
    picked = _sample_dates(stack, np.ones(n, bool), 12)
    assert len(picked) == 12 and picked[0] <= n // 12 and picked[-1] >= n - n // 12
    assert {3, 4} & set(picked.tolist())
    gaps = np.diff(picked)
    assert gaps.max() < 2 * n / 12
    ref = np.zeros(n, bool)
    ref[:4] = True  # a reference of four dates: others make up the ten the spread needs
    assert set(range(4)) <= set(_sample_dates(stack, ref, 12).tolist())
    assert len(_sample_dates(stack, ref, 12)) == 12


def test_too_small_a_sample_is_refused(aoi, plane_stack) -> None:
    with pytest.raises(errors.AnalysisError, match="baseline_dates=5"):
        _run(plane_stack, aoi, baseline_dates=5)


def test_blocks_of_cubes_match_the_whole_window(aoi) -> None:
    """Cropping to the zones' window keeps cloud edges just outside it growing in."""
    from geo.stats import _clear_and_snow, extract_cubes, iter_cubes

    stack = make_stack(aoi, 6, clouds={1: 0.4, 4: 0.7}, seed=3)
    names = ["apron_test", "parking_test"]
    cubes = extract_cubes(stack, aoi, names, block=2)
    bands = list(BANDS)
    vals = {k: stack[k].to_numpy() for k in [*bands, "clear", "snow", "scl"] if k in stack}
    clear, _ = _clear_and_snow(vals, bands, buffer=2)
    for name in names:
        c = cubes[name]
        ys = np.flatnonzero(np.isin(stack["y"].to_numpy(), c.y))
        xs = np.flatnonzero(np.isin(stack["x"].to_numpy(), c.x))
        np.testing.assert_array_equal(c.clear, clear[:, ys][:, :, xs])
    parts = list(iter_cubes(stack, aoi, names, block=4, dates=[5, 1, 3]))
    assert [p[0].tolist() for p in parts] == [[5, 1, 3]]
    np.testing.assert_array_equal(parts[0][1]["apron_test"].data[1], cubes["apron_test"].data[1])


def test_false_cloud_over_ground_seen_as_usual_is_counted_clear(aoi) -> None:
    """The SCL calls the whole site cloud on a busy date; the pixels say otherwise."""
    # a dark grey transport (a white one under a false cloud stays masked: see _false_cloud)
    plane = Aircraft(x=-150, y=150, wingspan=45, length=40, dates=[3], surface="decoy")
    stack = make_stack(aoi, 12, aircraft=[plane], false_clouds={3: 1.0}, seed=2)
    res = analyse(stack, aoi, season_days=None)
    row = res.table[res.table["zone"] == "apron_test"].iloc[3]
    assert not row["flagged"] and row["clear_fraction"] > 0.9
    assert int(row["objects"]) == 1
    assert "the SCL called cloud" in row["note"]
    trusting = analyse(stack, aoi, season_days=None, recover_clouds=False)
    assert trusting.table[trusting.table["zone"] == "apron_test"].iloc[3]["flagged"]


def test_real_cloud_stays_masked_when_recovering(aoi) -> None:
    stack = make_stack(aoi, 12, clouds={4: 1.0, 5: 0.5}, seed=3)
    with pytest.warns(errors.CloudyDateWarning):
        df = activity_index(stack, aoi, season_days=None)
    apron = df[df["zone"] == "apron_test"].reset_index(drop=True)
    assert apron.loc[4, "flagged"] and apron.loc[4, "clear_fraction"] == 0
    assert float(apron["activity_index"].fillna(0).max()) == 0.0


def test_auto_reference_finds_the_quiet_regime_of_a_busy_site(aoi) -> None:
    """Busy for most dates, then empty: the empty state is the empty apron, not the median."""
    stands = [Aircraft(x=-150 + 110 * i, y=150 - 60 * j, wingspan=45, length=40,
                       dates=list(range(40))) for i in range(2) for j in range(2)]
    stack = make_stack(aoi, 56, aircraft=stands, seed=4)
    auto = analyse(stack, aoi, season_days=None, keep_scores=False)
    apron = auto.table[auto.table["zone"] == "apron_test"]
    assert (apron["objects"].iloc[:40] >= 3).mean() > 0.9
    assert int(apron["objects"].iloc[40:].sum()) == 0
    assert "quietest regime" in auto.table.attrs["reference"]
    median = analyse(stack, aoi, season_days=None, reference=None, keep_scores=False)
    busy = median.table[median.table["zone"] == "apron_test"]["objects"].iloc[:40]
    assert busy.mean() < 1  # the median's empty state holds the aircraft: they vanish
