"""Radar activity per zone (geo.sar) on synthetic Sentinel-1 stacks with known content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geo import errors
from geo.activity import COLUMNS as OPTICAL_COLUMNS
from geo.aoi import AOI
from geo.sar import COLUMNS, cfar_threshold, estimate_shift, sar_activity
from geo.testing.radar import ENL, ORBITS, make_radar_stack
from geo.testing.stacks import Aircraft, make_stack, small_aoi

N_DATES = 24
SHIFTED = 7          # a date with aircraft, displaced by 2 px rows and columns
SHIFTED_EMPTY = 10   # an empty date displaced 3 px east (the building enters the apron)
WET, DAMP = 12, 14   # +4 dB and +2 dB on bare ground
NODATA = 16

PLANES = [
    # (zone, aircraft): well apart, sizes from a fighter-sized 20 m to a C-17-sized 50 m
    ("apron_test", Aircraft(x=-300, y=80, wingspan=40, dates=[4, 5, 6, 7, 8, DAMP])),
    ("apron_test", Aircraft(x=-150, y=200, wingspan=30, length=25, dates=[5, 6, 7, 8])),
    ("apron_test", Aircraft(x=0, y=100, wingspan=50, length=50, dates=[6, 7, 8])),
    ("revetments_test", Aircraft(x=320, y=200, wingspan=20, length=18, dates=[7, 8])),
]


def _expected(zone: str) -> np.ndarray:
    """Aircraft placed in ``zone`` on each date."""
    out = np.zeros(N_DATES, int)
    for z, a in PLANES:
        if z == zone:
            out[list(a.dates or [])] += 1
    return out


@pytest.fixture(scope="module")
def aoi() -> AOI:
    return small_aoi()


@pytest.fixture(scope="module")
def stack(aoi: AOI) -> xr.Dataset:
    return make_radar_stack(aoi, N_DATES, aircraft=[a for _, a in PLANES],
                            shift={SHIFTED: (2, -2), SHIFTED_EMPTY: (0, 3)},
                            wet={WET: 4.0, DAMP: 2.0}, nodata={NODATA: 0.6}, seed=3)


@pytest.fixture(scope="module")
def table(stack, aoi: AOI) -> pd.DataFrame:
    return sar_activity(stack, aoi)


def _zone(df: pd.DataFrame, zone: str) -> pd.DataFrame:
    return df[df["zone"] == zone].sort_values("date").reset_index(drop=True)


def test_columns_as_promised(table: pd.DataFrame, stack: xr.Dataset) -> None:
    assert list(table.columns) == list(COLUMNS)
    assert list(COLUMNS[:len(OPTICAL_COLUMNS)]) == list(OPTICAL_COLUMNS)
    assert set(table["sensor"]) == {"s1"}
    assert table["ndvi"].isna().all() and table["snow_fraction"].isna().all()
    apron = _zone(table, "apron_test")
    assert apron["relative_orbit"].tolist() == stack["relative_orbit"].values.tolist()
    assert apron["orbit_state"].tolist() == stack["orbit_state"].values.tolist()
    assert apron["item_id"].tolist() == stack["item_id"].values.tolist()
    assert str(table["objects"].dtype) == "Int64"
    assert table.loc[table["kind"] == "parking", "objects"].isna().all()
    assert set(table.attrs["enl"]) == {o.relative_orbit for o in ORBITS}


@pytest.mark.parametrize("zone", ["apron_test", "revetments_test"])
def test_counts_equal_placed_aircraft(table: pd.DataFrame, zone: str) -> None:
    rows = _zone(table, zone)
    got = rows["objects"].fillna(-1).to_numpy(dtype=int)
    want = _expected(zone)
    ok = rows["clear_fraction"].to_numpy() > 0
    assert np.abs(got[ok] - want[ok]).max() <= 0, (got.tolist(), want.tolist())
    assert (rows.loc[~ok, "objects"].isna()).all()


def test_activity_index_rises_with_aircraft(table: pd.DataFrame) -> None:
    apron = _zone(table, "apron_test")
    want = _expected("apron_test")
    idx = apron["activity_index"].to_numpy()
    empty = (want == 0) & np.isfinite(idx)
    assert idx[empty].max() == 0.0
    assert idx[4] < idx[5] < idx[6]  # one, two, three aircraft
    assert (apron["anomalous_area_m2"].to_numpy()[[4, 5, 6]] > 0).all()


def test_shifted_dates_are_coregistered(table: pd.DataFrame, stack: xr.Dataset,
                                        aoi: AOI) -> None:
    apron = _zone(table, "apron_test")
    assert "co-registered" in apron.loc[SHIFTED, "note"]
    assert "+2, -2" in apron.loc[SHIFTED, "note"]
    assert apron.loc[SHIFTED, "objects"] == _expected("apron_test")[SHIFTED]
    assert apron.loc[SHIFTED_EMPTY, "objects"] == 0
    # without co-registration the building dragged onto the apron is a false bright blob
    raw = _zone(sar_activity(stack, aoi, max_shift=0), "apron_test")
    assert raw.loc[SHIFTED_EMPTY, "activity_index"] > 0


def test_wet_dates_make_no_false_aircraft(table: pd.DataFrame) -> None:
    for zone in ("apron_test", "revetments_test", "parking_test"):
        rows = _zone(table, zone)
        assert rows.loc[WET, "activity_index"] == 0.0
        if zone == "apron_test":
            assert rows.loc[WET, "objects"] == 0
            assert rows.loc[DAMP, "objects"] == 1  # the aircraft there is still seen
    apron = _zone(table, "apron_test")
    assert apron.loc[WET, "flagged"] and "wet ground" in apron.loc[WET, "flag_reason"]
    assert not apron.loc[DAMP, "flagged"] and "wet ground" in apron.loc[DAMP, "note"]
    assert not apron.loc[SHIFTED_EMPTY, "flagged"]


def test_no_data_date_is_flagged(table: pd.DataFrame) -> None:
    apron = _zone(table, "apron_test")
    assert apron.loc[NODATA, "flagged"] and "no data" in apron.loc[NODATA, "flag_reason"]
    assert apron.loc[NODATA, "clear_fraction"] < 0.7
    assert apron["clear_fraction"].drop(NODATA).min() == 1.0


def test_each_orbit_has_its_own_empty_state(aoi: AOI) -> None:
    ds = make_radar_stack(aoi, 16, seed=5)  # the orbits are 3 dB apart, nothing moves
    per_orbit = sar_activity(ds, aoi, reference=None)
    assert per_orbit["activity_index"].max() == 0.0
    assert per_orbit["objects"].sum() == 0
    # the same dates taken as one orbit: the 3 dB level offset lights up pixels
    one = ds.assign_coords(relative_orbit=("time", np.full(ds.sizes["time"], 5)))
    mixed = sar_activity(one, aoi, reference=None, min_pixels=1)
    assert mixed["activity_index"].max() > 0.0


def test_false_alarm_rate_matches_design(aoi: AOI) -> None:
    ds = make_radar_stack(aoi, 24, seed=11)
    pfa = 1e-3  # measurable on ~50,000 pixel-dates; the default 1e-5 is not
    df = sar_activity(ds, aoi, reference=None, pfa=pfa, min_pixels=1)
    measured = (df["anomalous_area_m2"] / 100).sum() / df["clear_pixels"].sum()
    assert 0.25 * pfa < measured < 2 * pfa
    default = sar_activity(ds, aoi, reference=None)
    assert default["objects"].sum() == 0 and default["activity_index"].max() == 0.0


def test_enl_estimated_or_read(aoi: AOI) -> None:
    ds = make_radar_stack(aoi, 12, seed=2)
    est = sar_activity(ds, aoi, reference=None).attrs["enl"]
    assert all(abs(v - ENL) / ENL < 0.1 for v in est.values())
    given = make_radar_stack(aoi, 12, seed=2, enl=3.0, enl_coord=True)
    assert set(sar_activity(given, aoi, reference=None).attrs["enl"].values()) == {3.0}


def test_lazy_stack_gives_the_same_table(stack: xr.Dataset, aoi: AOI,
                                         table: pd.DataFrame) -> None:
    lazy = sar_activity(stack.chunk({"time": 5}), aoi)
    pd.testing.assert_frame_equal(lazy, table)


def test_auto_reference_finds_the_quiet_regime(aoi: AOI) -> None:
    n = 40
    busy = list(range(0, 24))  # parked on most dates of the first 24, then gone
    planes = [Aircraft(x=-300, y=80, wingspan=45, dates=busy),
              Aircraft(x=-100, y=200, wingspan=45, dates=busy),
              Aircraft(x=50, y=80, wingspan=45, dates=busy)]
    ds = make_radar_stack(aoi, n, aircraft=planes, seed=4)
    every = _zone(sar_activity(ds, aoi, reference=None), "apron_test")
    auto = sar_activity(ds, aoi)
    assert "quietest regime" in auto.attrs["reference"]
    apron = _zone(auto, "apron_test")
    # against every date, aircraft there on most dates are the empty state: unseen
    assert every["objects"].iloc[:24].sum() < 24
    assert (apron["objects"].iloc[:24] == 3).mean() > 0.9
    assert apron["objects"].iloc[24:].sum() == 0


def test_error_without_vv(stack: xr.Dataset, aoi: AOI) -> None:
    with pytest.raises(errors.AnalysisError, match="'vv'"):
        sar_activity(stack.drop_vars("vv"), aoi)
    optical = make_stack(aoi, 3)
    with pytest.raises(errors.AnalysisError, match="Sentinel-1"):
        sar_activity(optical, aoi)


def test_error_with_one_date_per_orbit(aoi: AOI) -> None:
    ds = make_radar_stack(aoi, 2)
    with pytest.raises(errors.AnalysisError, match="Relative orbit 5 has 1 date"):
        sar_activity(ds, aoi)


def test_error_with_too_short_reference(stack: xr.Dataset,
                                        aoi: AOI) -> None:
    with pytest.raises(errors.AnalysisError, match="in the reference"):
        sar_activity(stack, aoi, reference=("2022-01-01", "2022-01-20"))


def test_error_without_orbit_coordinate(stack: xr.Dataset,
                                        aoi: AOI) -> None:
    with pytest.raises(errors.AnalysisError, match="relative_orbit"):
        sar_activity(stack.drop_vars("relative_orbit"), aoi)


def test_error_on_bad_pfa() -> None:
    with pytest.raises(errors.AnalysisError, match="pfa"):
        cfar_threshold(4.4, 10, 0.9)


@pytest.mark.parametrize("dy, dx", [(0, 0), (2, -1), (-3, 3), (1, 2)])
def test_estimate_shift_recovers_integer_shifts(dy: int, dx: int) -> None:
    rng = np.random.default_rng(7)
    ref = np.full((60, 60), -18.0)
    ref[10:14, 20:26] = 8.0   # two buildings
    ref[40:45, 35:38] = 6.0
    speckle = 10 * np.log10(rng.gamma(ENL, 1 / ENL, ref.shape))
    image = np.roll(ref, (dy, dx), axis=(0, 1)) + speckle
    assert estimate_shift(image, ref) == (dy, dx)


def test_threshold_is_stricter_for_rarer_false_alarms() -> None:
    k = [float(cfar_threshold(ENL, 12, p)) for p in (1e-3, 1e-4, 1e-5)]
    assert 1.0 < k[0] < k[1] < k[2]
    # a longer reference is a surer empty state: a lower threshold
    assert float(cfar_threshold(ENL, 40, 1e-5)) < k[2]
