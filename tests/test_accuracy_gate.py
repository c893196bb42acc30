"""The accuracy gate: the analysis against the small scenario's truth, in CI.

The whole chain runs on the small synthetic Bagram archive (search -> load -> analyse ->
change points) and is scored by :mod:`geo.testing.accuracy` on the rows the truth calls
clear, flagged or not. The bars (:data:`geo.testing.accuracy.CI_BARS`) sit below
today's figures so that noise does not fail CI, while a real regression (a lost busy
date, a phantom change, counted decoys, a detector that stops matching stands) does.
``benchmarks/accuracy.py --check`` holds the full scenario to the stricter targets.

Radar and the fused timeline (issue 15) are gated the same way on the small scenario's
Sentinel-1 passes (:data:`geo.testing.accuracy.RADAR_CI_BARS`, whose docstring reasons
each bar from what the small profile's ~41 passes can support).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import geo
from geo import errors
from geo.activity import analyse
from geo.testing import accuracy


@pytest.fixture(scope="module")
def scored(scenario_dir: Path) -> tuple[dict[str, float], pd.DataFrame, Any]:
    aoi = geo.aoi.load("bagram")
    items = geo.search(aoi, "2015-01-01", "2030-01-01", source=str(scenario_dir),
                       progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GeoWarning)
        stack = geo.load(items, aoi, progress=False)
        res = analyse(stack, aoi, keep_scores=False)
    truth = accuracy.load_truth(scenario_dir)
    measures, found = accuracy.score(res.table, res.objects, *truth)
    return measures, found, res


@pytest.fixture(scope="module")
def radar(scenario_dir: Path) -> pd.DataFrame:
    """geo.sar_activity on the small scenario's Sentinel-1 passes (about 20 s)."""
    aoi = geo.aoi.load("bagram")
    items = geo.search(aoi, "2015-01-01", "2030-01-01", source=str(scenario_dir), sensor="s1",
                       progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GeoWarning)
        return geo.sar_activity(geo.load(items, aoi, progress=False), aoi)


@pytest.fixture(scope="module")
def radar_scored(scored: tuple[dict[str, float], Any, Any], radar: pd.DataFrame,
                 scenario_dir: Path) -> dict[str, float]:
    _, _, res = scored
    truth, _ = accuracy.load_truth(scenario_dir)
    measures, _, _ = accuracy.score_sensors(res.table, radar, truth,
                                            accuracy.load_radar_truth(scenario_dir),
                                            *accuracy.scenario_period(scenario_dir))
    return measures


@pytest.mark.parametrize("name", sorted(accuracy.RADAR_CI_BARS))
def test_radar_measure_clears_its_bar(radar_scored: dict[str, float], name: str) -> None:
    bar = accuracy.RADAR_CI_BARS[name]
    assert bar.met(radar_scored[name]), accuracy.missed(radar_scored, {name: bar})


def test_the_radar_gate_scores_every_pass(radar_scored: dict[str, float],
                                          scenario_dir: Path) -> None:
    """No pass is left out for weather: every pass of passes-s1.csv is scored."""
    passes = pd.read_csv(scenario_dir / "passes-s1.csv")
    assert radar_scored["radar_passes"] == len(passes) > 0
    assert radar_scored["radar_busy_passes"] >= 2
    assert radar_scored["coverage_either"] >= max(radar_scored["coverage_optical"],
                                                  radar_scored["coverage_radar"])


def test_the_radar_gate_can_fail_on_a_broken_radar(scored: tuple[dict[str, float], Any, Any],
                                                   radar: pd.DataFrame,
                                                   scenario_dir: Path) -> None:
    """Radar that lost its signal (nothing bright, every row flagged) misses its bars."""
    _, _, res = scored
    truth, _ = accuracy.load_truth(scenario_dir)
    broken = radar.assign(activity_index=0.0, objects=0, flagged=True)
    measures, _, _ = accuracy.score_sensors(res.table, broken, truth,
                                            accuracy.load_radar_truth(scenario_dir),
                                            *accuracy.scenario_period(scenario_dir))
    failed = accuracy.missed(measures, accuracy.RADAR_CI_BARS)
    for name in ("radar_spearman_dates", "radar_count_mae_site", "coverage_gain"):
        assert any(f.startswith(name) for f in failed), failed
    assert measures["coverage_either"] == measures["coverage_optical"]


def test_window_coverage_is_the_fused_timelines(radar: pd.DataFrame, scenario_dir: Path) -> None:
    """The benchmark's windows are geo.fuse.coverage's, in any time unit of the dates."""
    from geo.fuse import coverage

    start, end = accuracy.scenario_period(scenario_dir)
    days = accuracy.usable_dates(radar, "s1")
    assert len(days) > 0
    for unit in ("s", "us", "ns"):
        mine = accuracy.window_coverage(days.as_unit(unit), start, end)
        assert mine == coverage(days.as_unit(unit), start, end) > 0
    # a 12-day window holding a January date is centred in winter; one holding a summer
    # date never is
    january, summer = days[days.month == 1], days[days.month.isin([6, 7, 8])]
    assert len(january) and len(summer)
    winter = accuracy.RADAR_WINTER
    assert accuracy.window_coverage(january, start, end, months=winter) > 0
    assert accuracy.window_coverage(summer, start, end, months=winter) == 0


@pytest.mark.parametrize("name", sorted(accuracy.CI_BARS))
def test_measure_clears_its_bar(scored: tuple[dict[str, float], Any, Any], name: str) -> None:
    measures, _, _ = scored
    bar = accuracy.CI_BARS[name]
    assert bar.met(measures[name]), accuracy.missed(measures, {name: bar})


def test_the_gate_scores_rows_the_truth_calls_clear(scored: tuple[dict[str, float], Any, Any],
                                                    scenario_dir: Path) -> None:
    measures, _, _ = scored
    truth, _ = accuracy.load_truth(scenario_dir)
    expected = len(accuracy.truth_clear_rows(truth, "apron"))
    assert measures["rows_truth_clear_apron"] == expected > 0
    assert measures["busy_dates"] >= 2  # the small profile holds busy dates to rank


def test_the_gate_can_fail_on_a_broken_analysis(scored: tuple[dict[str, float], Any, Any],
                                                scenario_dir: Path) -> None:
    """The same scoring, fed an analysis that lost its signal, misses its bars."""
    _, _, res = scored
    broken = res.table.assign(activity_index=0.0, objects=0, flagged=True)
    truth = accuracy.load_truth(scenario_dir)
    measures, _ = accuracy.score(broken, res.objects.iloc[0:0], *truth)
    failed = accuracy.missed(measures, accuracy.CI_BARS)
    assert any(f.startswith("spearman_dates") for f in failed)
    assert any(f.startswith("flagged_truth_clear_apron") for f in failed)
    assert any(f.startswith("changes_missed") for f in failed)
    nothing, _ = accuracy.score(res.table.iloc[0:0], res.objects.iloc[0:0], *truth)
    assert nothing["rows_missing"] > 0 and nothing["flagged_truth_clear_apron"] == 1.0
    assert accuracy.missed(nothing, accuracy.CI_BARS)


def test_false_clouds_are_recovered_and_said(scored: tuple[dict[str, float], Any, Any]) -> None:
    """Rows the SCL called partly cloud, counted clear by the analysis, say so in note."""
    _, _, res = scored
    notes = res.table["note"].fillna("")
    assert notes.str.contains("the SCL called cloud").any()


def test_true_changes_come_from_the_truth_alone() -> None:
    dates = pd.date_range("2020-01-01", periods=60, freq="5D")
    counts = [30] * 30 + [0] * 30
    counts[40] = 12  # a parade: one date is not a regime
    truth = pd.DataFrame({"date": dates, "zone": "a", "kind": "apron", "aircraft": counts})
    (change,) = accuracy.true_changes(truth)
    assert dates[29] < change.date < dates[30]
    assert (change.start, change.end) == (dates[29], dates[30])
    assert change.error_days(dates[29] - pd.Timedelta(days=12)) == -12
    ramp = truth.assign(aircraft=[30] * 20 + list(range(30, 0, -3)) + [0] * 30)
    (slow,) = accuracy.true_changes(ramp)
    assert slow.error_days(dates[25]) == 0 and slow.end - slow.start > pd.Timedelta(days=30)
    steady = truth.assign(aircraft=30)
    assert accuracy.true_changes(steady) == []


def test_stand_spacing_is_the_median_nearest_neighbour() -> None:
    objs = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"] * 3), "x": [0.0, 50.0, 150.0],
                         "y": [0.0, 0.0, 0.0], "category": "aircraft"})
    assert accuracy.stand_spacing(objs) == 50.0
