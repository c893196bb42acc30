"""The review with radar (issue 15, part 4): both sensors' rows, the fused series, change
points on it, the trend and report naming both sensors, the radar before/after pair; the
sensors' defaults by source; optical-only reviews unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from geo import errors
from geo.activity import COLUMNS
from geo.cli import app
from geo.review import run_review
from geo.review.folder import RADAR_OUTPUTS
from geo.review.period import ReviewPeriod
from geo.review.sensors import check_sensors, default_sensors, radar_stack

START, END = "2020-10-01", "2022-09-30"
"""Two years of the small scenario: both orbits have 11 passes, the change of mid-2021 is
inside."""

QUIET = ("2022-09-12", "2023-03-16")
"""A stretch of the small scenario with optical dates but no Sentinel-1 pass."""


@pytest.fixture(scope="module")
def radar_review(scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("radar") / "review"
    return run_review("bagram", source=scenario_dir, start=START, end=END, images=8, out=out,
                      progress=False, sensors=("s2", "s1"))


def test_activity_csv_holds_both_sensors(radar_review, scenario_dir: Path) -> None:  # type: ignore[no-untyped-def]
    table = pd.read_csv(radar_review.out / "activity.csv")
    assert list(table.columns) == [*COLUMNS, "sensor", "orbit_state", "relative_orbit"]
    assert set(table["sensor"]) == {"s2", "s1"}
    radar = table[table["sensor"] == "s1"]
    passes = pd.read_csv(scenario_dir / "passes-s1.csv", parse_dates=["date"])
    in_period = passes[(passes["date"] >= START) & (passes["date"] <= END)]
    assert set(radar["item_id"]) == set(in_period["item_id"])  # every pass of the period
    assert set(radar["relative_orbit"].astype(int)) == set(in_period["relative_orbit"])
    assert table[table["sensor"] == "s2"]["relative_orbit"].isna().all()
    assert radar_review.sensors == ("s2", "s1")


def test_fused_csv_has_a_band_and_both_sensors(radar_review) -> None:  # type: ignore[no-untyped-def]
    fused = pd.read_csv(radar_review.out / "fused.csv")
    assert list(fused.columns) == ["date", "value", "low", "high", "sensors", "s2", "s1"]
    assert {"s2", "s1"} <= set(fused["sensors"])
    assert (fused["low"] <= fused["value"]).all() and (fused["value"] < fused["high"]).all()
    assert set(RADAR_OUTPUTS) <= set(radar_review.files)
    # a date seen only by radar takes the radar count (on the optical scale)
    only = fused[fused["sensors"] == "s1"]
    assert (only["value"] - only["s1"]).abs().max() < 1e-9


def test_change_points_found_on_the_fused_series(radar_review, scenario_dir: Path) -> None:  # type: ignore[no-untyped-def]
    changes = pd.read_csv(radar_review.out / "change_points.csv", parse_dates=["date"])
    assert len(changes) >= 1 and set(changes["sensor"]) == {"s2+s1"}
    truth = pd.read_csv(scenario_dir / "truth.csv", parse_dates=["date"])
    truth = truth[(truth["date"] >= START) & (truth["date"] <= END)]
    aircraft = truth[truth["kind"].isin(("apron", "revetment"))].groupby("date")["aircraft"].sum()
    empty = aircraft[aircraft == 0].index.min()
    busy = aircraft[(aircraft > 0) & (aircraft.index < empty)].index.max()
    # the fused change lies between the last busy and the first empty true date (+/- 60 days)
    main = changes["date"].iloc[int(changes["size"].abs().to_numpy().argmax())]
    assert busy - pd.Timedelta(days=60) <= main <= empty + pd.Timedelta(days=60), (main, busy, empty)
    assert changes["size"].iloc[0] < 0  # the aprons emptied


def test_report_names_both_sensors_and_their_dates(radar_review) -> None:  # type: ignore[no-untyped-def]
    page = (radar_review.out / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", page)
    assert "Sentinel-2 L2A and Sentinel-1 RTC" in text
    assert "id='sensors'" in page and "optical (Sentinel-2)" in text and "radar (Sentinel-1)" in text
    fused = radar_review.fused
    assert f"radar counts x {fused.attrs['scale']:.2f}" in text or "scale 1" in text
    n_radar = int(fused["s1"].notna().sum())
    assert f"The {n_radar} radar passes" in text
    first_pass = radar_review.radar["date"].min()
    assert f"{pd.Timestamp(first_pass):%Y-%m-%d}" in text
    assert 'id="fig-before_after_radar"' in page
    headline = (radar_review.out / "headline.txt").read_text(encoding="utf-8")
    assert "optical and radar" in headline and f"added {n_radar} passes" in headline


def test_radar_before_after_figure(radar_review) -> None:  # type: ignore[no-untyped-def]
    path = radar_review.out / "before_after_radar.png"
    from PIL import Image

    with Image.open(path) as img:
        assert img.size[0] > 1000 and img.size[1] > 600


def test_trend_marks_both_sensors(radar_review) -> None:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    from geo.review.trend import trend

    table = pd.read_csv(radar_review.out / "activity.csv")
    fig = trend(table, fused=radar_review.fused, site="t")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    orbits = sorted(radar_review.radar["relative_orbit"].astype(int).unique())
    assert [f"radar, orbit {o}" in " ".join(labels) for o in orbits] == [True] * len(orbits)
    assert "fused optical + radar" in labels and any(la.startswith("optical") for la in labels)
    plt.close(fig)


def test_sensors_default_by_source(scenario_dir: Path, scenario_server) -> None:  # type: ignore[no-untyped-def]
    assert default_sensors("earth-search") == ("s2",)
    assert default_sensors("https://earth-search.aws.element84.com/v1") == ("s2",)
    assert default_sensors("planetary-computer") == ("s2", "s1")
    assert default_sensors(scenario_dir) == ("s2", "s1")
    assert default_sensors(scenario_server.stac_url) == ("s2", "s1")
    assert check_sensors("s2", "planetary-computer") == ("s2",)
    with pytest.raises(errors.UnsupportedSensor, match="Earth Search has no Sentinel-1"):
        check_sensors(("s2", "s1"), "earth-search")
    with pytest.raises(errors.ReviewError, match="needs Sentinel-2"):
        check_sensors("s1", "planetary-computer")


def test_no_radar_pass_in_the_period_is_a_note(scenario_dir: Path) -> None:
    from geo.aoi import load

    period = ReviewPeriod(pd.Timestamp(QUIET[0]), pd.Timestamp(QUIET[1]), "given", "as given")
    stack, notes = radar_stack(load("bagram"), period, str(scenario_dir), resolution=10, store=None,
                          offline=False, progress=False, refresh=False, on_error="raise",
                          required=False)
    assert stack is None
    assert len(notes) == 1 and "no Sentinel-1 RTC pass" in notes[0] and QUIET[0] in notes[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--sensors", "s2,s1"], "Earth Search has no Sentinel-1"),
    (["--sensors", "s1", "--source", "planetary-computer"], "needs Sentinel-2"),
    (["--sensors", "s2,radar", "--source", "planetary-computer"], "'radar' is not one geo knows"),
])
def test_cli_refuses_bad_sensors_before_any_search(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["review", "--aoi", "bagram", *args])
    text = " ".join((result.output + (result.stderr if result.stderr_bytes else "")).split())
    text = re.sub(r"[│╭╮╰╯─]", " ", text)
    assert result.exit_code == 2, text
    assert message in " ".join(text.split()), text


def test_optical_only_review_is_unchanged(scenario_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "optical"
    res = run_review("bagram", source=scenario_dir, start=QUIET[0], end=QUIET[1], images=3,
                     out=out, progress=False, sensors=("s2",))
    assert not (out / "fused.csv").exists() and not (out / "before_after_radar.png").exists()
    table = pd.read_csv(out / "activity.csv")
    assert list(table.columns) == list(COLUMNS)  # no sensor column
    assert res.fused is None and res.radar is None and res.sensors == ("s2",)
    assert not any("radar" in n.lower() or "sentinel-1" in n.lower() for n in res.notes)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "id='sensors'" not in page and "Sentinel-1" not in page
