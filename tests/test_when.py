"""Change points with uncertainty, anomalous dates, and steps at known dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo import errors
from geo.when import change_points, noise, series, step_at

DATES = pd.date_range("2020-10-02", periods=120, freq="5D")


def _series(drop_at: int = 50, level: float = 0.03, sd: float = 0.002, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(len(DATES)) < drop_at, level, 0.0) + rng.normal(0, sd, len(DATES))
    return pd.Series(y, index=DATES)


def test_finds_the_drop_and_brackets_it() -> None:
    s = _series()
    cp = change_points(s)
    row = cp.main
    assert row is not None and len(cp.table) == 1
    assert row["last_before"] == DATES[49] and row["first_after"] == DATES[50]
    assert row["lower"] <= row["date"] <= row["upper"]
    assert row["step"] == pytest.approx(-0.03, abs=0.003)
    assert row["step_over_noise"] < -8


@pytest.mark.parametrize("seed", range(4))
def test_interval_covers_the_truth_under_heavy_noise(seed: int) -> None:
    s = _series(sd=0.012, seed=seed)
    cp = change_points(s, n_bkps=1)
    row = cp.main
    assert row["lower"] <= DATES[50] - pd.Timedelta(days=2) <= row["upper"]
    assert (row["upper"] - row["lower"]).days < 120


def test_spikes_are_anomalies_not_changes() -> None:
    s = _series()
    s.iloc[[80, 81, 100]] = [0.02, 0.018, 0.025]  # a two-day parade and a lone aircraft
    cp = change_points(s)
    assert len(cp.table) == 1
    assert list(cp.anomalies["date"]) == [DATES[80], DATES[81], DATES[100]]
    assert (cp.anomalies["segment"] == 1).all()


def test_no_change_in_a_flat_series() -> None:
    rng = np.random.default_rng(3)
    s = pd.Series(0.02 + rng.normal(0, 0.002, 80), index=DATES[:80])
    cp = change_points(s)
    assert cp.table.empty and cp.main is None


def test_series_weights_by_clear_pixels_and_skips_flagged_rows() -> None:
    d = pd.to_datetime(["2021-01-01", "2021-01-01", "2021-01-01", "2021-01-06"])
    df = pd.DataFrame({"date": d, "zone": ["a", "b", "c", "a"], "kind": "apron",
                       "activity_index": [0.1, 0.3, 0.9, 0.2],
                       "clear_pixels": [100, 300, 50, 10], "flagged": [False, False, True, False]})
    s = series(df)
    assert s.loc["2021-01-01"] == pytest.approx(0.25)
    assert s.loc["2021-01-06"] == pytest.approx(0.2)
    assert series(df, include_flagged=True).loc["2021-01-01"] == pytest.approx(
        (10 + 90 + 45) / 450)
    with pytest.raises(errors.AnalysisError, match="No unflagged rows"):
        series(df, kinds=("parking",))


def test_too_short_series_is_an_error() -> None:
    with pytest.raises(errors.AnalysisError, match="at least 6"):
        change_points(pd.Series([1.0, 0.0, 0.0], index=DATES[:3]))


def test_step_at_a_known_date_and_noise() -> None:
    s = _series(drop_at=200)  # no drop in range
    st = step_at(s, DATES[60], window_days=60)
    assert abs(st["ratio"]) < 3 and st["n_before"] == 12 and st["n_after"] == 12
    jump = s.copy()
    jump.iloc[60:] += 0.01
    assert step_at(jump, DATES[60], window_days=60)["ratio"] > 3
    assert np.isnan(step_at(s, "2035-01-01")["step"])
    assert noise(np.random.default_rng(0).normal(0, 0.5, 4000)) == pytest.approx(0.5, rel=0.05)
