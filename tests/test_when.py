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


# --- no phantom changes (issue 18) ------------------------------------------------------------

FIVE_YEARS = pd.date_range("2020-10-02", periods=365, freq="5D")
FOUR_YEARS_IN = 292                                  # first quiet date, 2024-10-01
TRUE_DROP = FIVE_YEARS[FOUR_YEARS_IN - 1] + (FIVE_YEARS[FOUR_YEARS_IN]
                                             - FIVE_YEARS[FOUR_YEARS_IN - 1]) / 2


def _busy_then_quiet(seed: int, quiet_from: int = FOUR_YEARS_IN,
                     level: float = 0.05) -> pd.Series:
    """A steady busy level (lognormal date-to-date variation of about +-30 %), then ~0;
    10 % of dates are zero or a spike (1.5-3 x the level when busy, up to the level when
    quiet: a parade, a cloud remnant)."""
    rng = np.random.default_rng(seed)
    n = len(FIVE_YEARS)
    busy = np.arange(n) < quiet_from
    y = np.where(busy, level * rng.lognormal(0, 0.3, n), np.abs(rng.normal(0, 0.002, n)))
    odd, spike = rng.random(n) < 0.1, rng.random(n) < 0.5
    big = level * np.where(busy, rng.uniform(1.5, 3, n), rng.uniform(0.2, 1.0, n))
    y = np.where(odd & spike, big, np.where(odd, 0.0, y))
    return pd.Series(y, index=FIVE_YEARS)


def _seasonal(s: pd.Series, amplitude: float) -> pd.Series:
    """The same series with a slow yearly wiggle of the level (+-amplitude, relative)."""
    return s * (1 + amplitude * np.sin(2 * np.pi * s.index.day_of_year / 365.25))


@pytest.mark.parametrize("seed", range(5))
def test_steady_then_quiet_gives_only_the_true_drop(seed: int) -> None:
    for s in (_busy_then_quiet(seed), _seasonal(_busy_then_quiet(seed), 0.15)):
        cp = change_points(s)
        assert len(cp.table) == 1, cp.table
        row = cp.main
        assert abs((row["date"] - TRUE_DROP).days) <= 15
        assert row["lower"] <= row["date"] <= row["upper"]
        assert (row["upper"] - row["lower"]).days < 90
        assert row["step"] < 0 and row["effect"] >= 1.5 and row["p_value"] <= 0.05


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_busy_level_has_no_change(seed: int) -> None:
    steady = _busy_then_quiet(seed, quiet_from=len(FIVE_YEARS))
    for s in (steady, _seasonal(steady, 0.15), _seasonal(steady, 0.3)):
        cp = change_points(s)
        assert cp.table.empty and cp.main is None, cp.table


def _bagram_shaped(seed: int, wind_down: bool) -> pd.Series:
    """Busy (~0.05) until the 2021-07-02 withdrawal, then ~0 with one-date parades."""
    rng = np.random.default_rng(seed)
    days = (pd.Timestamp("2021-07-02") - FIVE_YEARS).days.to_numpy()
    share = np.clip(days / 92, 0, 1) if wind_down else (days > 0).astype(float)
    y = 0.05 * share * rng.lognormal(0, 0.3, len(FIVE_YEARS))
    s = pd.Series(y + np.abs(rng.normal(0, 0.002, len(y))), index=FIVE_YEARS)
    for day, value in (("2022-08-31", 0.015), ("2024-08-14", 0.0125), ("2025-02-12", 0.003)):
        s.iloc[FIVE_YEARS.get_indexer([pd.Timestamp(day)], method="nearest")[0]] = value
    return s


@pytest.mark.parametrize("seed", range(5))
def test_bagram_shaped_drop_with_parades_as_anomalies(seed: int) -> None:
    withdrawal = pd.Timestamp("2021-07-02")
    cp = change_points(_bagram_shaped(seed, wind_down=False))
    assert len(cp.table) == 1
    assert abs((cp.main["date"] - withdrawal).days) <= 15 and cp.main["step"] < -0.03
    parades = [FIVE_YEARS[FIVE_YEARS.get_indexer([pd.Timestamp(d)], method="nearest")[0]]
               for d in ("2022-08-31", "2024-08-14")]
    assert set(parades) <= set(cp.anomalies["date"])
    # with the April-July wind-down: the changes lie within it, none in the steady years
    ramp = change_points(_bagram_shaped(seed, wind_down=True)).table
    assert 1 <= len(ramp) <= 2
    assert ramp["date"].between("2021-04-01", withdrawal + pd.Timedelta(days=15)).all()


@pytest.mark.parametrize("seed", range(3))
def test_an_unlocated_break_is_not_reported(seed: int) -> None:
    """Forced to find a break in a steady series, with the regime tests off, the break's
    interval spans most of the period: it is still not reported."""
    rng = np.random.default_rng(seed)
    s = pd.Series(0.03 * rng.lognormal(0, 0.3, len(FIVE_YEARS)), index=FIVE_YEARS)
    tests_off = {"n_bkps": 1, "alpha": 1.0, "min_effect": 0.0, "min_days": 0.0}
    shown = change_points(s, max_interval=1.0, **tests_off).table
    assert len(shown) == 1                                      # the setting can report it
    span = FIVE_YEARS[-1] - FIVE_YEARS[0]
    assert shown["upper"].iloc[0] - shown["lower"].iloc[0] > 0.5 * span
    assert change_points(s, **tests_off).table.empty


def test_each_rule_rejects_what_it_is_for() -> None:
    d = FIVE_YEARS[:120]
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 0.002, len(d))
    # a few busy dates at the end: significant, large, but not two months of a regime
    late = pd.Series(np.where(np.arange(len(d)) >= 112, 0.05, 0.0) + noise, index=d)
    assert change_points(late, min_days=0.0).table.shape[0] == 1
    assert change_points(late).table.empty
    # a shift of one spread: significant over 60 + 60 dates and located, but the two
    # sides overlap too much to be two regimes
    small = pd.Series(np.where(np.arange(len(d)) < 60, 0.05, 0.04) + 5 * noise, index=d)
    found = change_points(small, min_effect=0.0).table
    assert len(found) == 1 and found["p_value"].iloc[0] < 0.05 and found["effect"].iloc[0] < 1.5
    assert change_points(small).table.empty


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


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("levels", [(1, 0, 1), (0, 1, 0)], ids=["quiet spell", "surge"])
def test_a_spell_that_ends_where_it_began_is_two_changes(seed: int, levels: tuple) -> None:
    """Quiet months inside a busy period (or a surge inside a quiet one): no single break
    separates two regimes, but the spell is reported as its two ends."""
    rng = np.random.default_rng(seed)
    d = pd.date_range("2020-01-01", periods=150, freq="10D")
    a, b, c = levels
    y = 0.05 * np.r_[np.full(60, a), np.full(30, b), np.full(60, c)] + rng.normal(0, 0.005, 150)
    found = change_points(pd.Series(y, index=d)).table
    assert len(found) == 2
    assert abs((found["date"].iloc[0] - d[60]).days) <= 15
    assert abs((found["date"].iloc[1] - d[90]).days) <= 15
