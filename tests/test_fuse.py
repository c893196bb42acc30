"""The fused optical + radar timeline (issue 15, part 4): scale, weights, band, coverage."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from geo import errors
from geo.fuse import apron_counts, calibrate, coverage, fuse, fuse_counts, sensor_noise
from geo.when import change_points


def _truth(days: pd.DatetimeIndex, step_day: str = "2021-08-15") -> np.ndarray:
    return np.where(days < pd.Timestamp(step_day), 30.0, 2.0)


def _archive(seed: int = 0, scale: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame,
                                                          pd.DatetimeIndex]:
    """Optical every 5 days but lost in winter; radar every 6 days, counting `scale` x."""
    rng = np.random.default_rng(seed)
    d2 = pd.date_range("2020-10-01", "2022-09-30", freq="5D")
    d2 = d2[~d2.month.isin([12, 1, 2])]
    d1 = pd.date_range("2020-10-03", "2022-09-30", freq="6D")
    opt = pd.DataFrame({"date": d2, "sensor": "s2",
                        "count": np.maximum(_truth(d2) + rng.normal(0, 2, len(d2)), 0).round()})
    rad = pd.DataFrame({"date": d1, "sensor": "s1",
                        "count": np.maximum(scale * _truth(d1) + rng.normal(0, 1, len(d1)),
                                            0).round()})
    return opt, rad, d1.union(d2)


def test_calibration_recovers_the_scale_between_sensors() -> None:
    opt, rad, _ = _archive(scale=0.5)
    cal = calibrate(opt, rad)
    assert cal.fitted and cal.pairs >= 20
    assert cal.scale == pytest.approx(2.0, rel=0.1)
    few = calibrate(opt.head(3), rad)
    assert not few.fitted and few.scale == 1.0 and "scale 1" in few.why


def test_fused_values_are_the_weighted_mean_and_the_band_holds_the_truth() -> None:
    opt, rad, _ = _archive(seed=1)
    fused = fuse_counts(opt, rad)
    both = fused[fused["sensors"] == "s2+s1"]
    assert len(both) > 0  # the two repeats meet on some dates
    w2, w1 = 1 / fused.attrs["noise_s2"] ** 2, 1 / fused.attrs["noise_s1"] ** 2
    want = (both["s2"] * w2 + both["s1"] * w1) / (w2 + w1)
    assert np.allclose(both["value"], want)
    truth = _truth(pd.DatetimeIndex(fused["date"]))
    inside = ((fused["low"] <= truth) & (truth <= fused["high"])).mean()
    assert inside > 0.85, f"the 95 % band holds the truth on only {inside:.0%} of dates"
    winter = pd.DatetimeIndex(fused["date"]).month.isin([12, 1, 2])
    assert set(fused.loc[winter, "sensors"]) == {"s1"}  # radar fills the optical gap
    assert (fused["low"] >= 0).all() and (fused["low"] <= fused["value"]).all()


def test_change_point_on_the_fused_series_dates_a_winter_change() -> None:
    """A change in mid-winter: optical alone cannot date it closer than its gap; fused can."""
    opt, rad, _ = _archive(seed=2)
    step = "2022-01-10"
    rng = np.random.default_rng(3)
    opt["count"] = np.maximum(_truth(pd.DatetimeIndex(opt["date"]), step)
                              + rng.normal(0, 2, len(opt)), 0).round()
    rad["count"] = np.maximum(0.5 * _truth(pd.DatetimeIndex(rad["date"]), step)
                              + rng.normal(0, 1, len(rad)), 0).round()
    fused = fuse_counts(opt, rad)
    series = pd.Series(fused["value"].to_numpy(), index=pd.DatetimeIndex(fused["date"]))
    found = change_points(series).main
    assert found is not None
    assert abs((pd.Timestamp(found["date"]) - pd.Timestamp(step)).days) <= 15
    alone = change_points(pd.Series(opt["count"].to_numpy(), index=pd.DatetimeIndex(opt["date"])))
    gap = abs((pd.Timestamp(alone.main["date"]) - pd.Timestamp(step)).days)
    assert gap > abs((pd.Timestamp(found["date"]) - pd.Timestamp(step)).days)


def test_apron_counts_keep_only_fully_clear_dates_and_split_sensors() -> None:
    table = pd.DataFrame({
        "date": ["2021-01-01"] * 3 + ["2021-01-02"] * 3 + ["2021-01-03"] * 2,
        "zone": ["a", "b", "p", "a", "b", "p", "a", "b"],
        "kind": ["apron", "revetment", "parking"] * 2 + ["apron", "revetment"],
        "objects": [2, 1, None, 4, 4, None, 1, None],
        "flagged": [False, False, True, False, False, False, False, False],
        "sensor": ["s2"] * 3 + ["s1"] * 3 + ["s2"] * 2,
        "relative_orbit": [np.nan] * 3 + [78] * 3 + [np.nan] * 2,
    })
    counts = apron_counts(table)
    # the parking flag does not matter; a missing apron count drops the date
    assert counts[["sensor", "count"]].values.tolist() == [["s2", 3.0], ["s1", 8.0]]
    fused = fuse(table)
    assert fused["sensors"].tolist() == ["s2", "s1"]
    with pytest.raises(errors.AnalysisError, match="objects"):
        apron_counts(table.drop(columns="objects"))


def test_coverage_counts_windows_with_a_measurement() -> None:
    start, end = pd.Timestamp("2021-01-01"), pd.Timestamp("2021-12-31")
    rng = np.random.default_rng(4)
    days = pd.DatetimeIndex(sorted(start + pd.to_timedelta(rng.integers(0, 365, 20), "D")))
    edges = [*pd.date_range(start, end, freq="12D"), end + pd.Timedelta(days=1)]
    brute = np.mean([((days >= a) & (days < b)).any()
                     for a, b in itertools.pairwise(edges)])
    assert coverage(days, start, end) == pytest.approx(brute)
    assert coverage(pd.date_range(start, end, freq="6D"), start, end) == 1.0


def test_sensor_noise_ignores_a_step() -> None:
    rng = np.random.default_rng(5)
    flat = rng.normal(0, 2, 200)
    stepped = flat + np.where(np.arange(200) < 100, 30, 0)
    assert sensor_noise(pd.Series(stepped)) == pytest.approx(sensor_noise(pd.Series(flat)), rel=0.1)
    assert np.std(stepped) > 5 * sensor_noise(pd.Series(stepped))  # the spread of values would not
    assert sensor_noise(pd.Series(flat)) == pytest.approx(2.0, rel=0.25)
