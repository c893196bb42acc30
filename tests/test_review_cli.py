"""``geo review`` / ``geo demo``: argument errors, exit codes, help, and the demo end to end."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import geo
from geo import errors
from geo.aoi import AOI_DIR
from geo.cli import app
from geo.review import BAGRAM_PERIOD, choose_period, latest_pass
from geo.review_cli import EXIT_CODES, exit_code

runner = CliRunner()
_BOX = str.maketrans(dict.fromkeys("│╭╮╰╯─", " "))


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    """Run the app; return the result and its output with rich's box borders removed."""
    result = runner.invoke(app, list(args))
    text = result.output + (result.stderr if result.stderr_bytes else "")
    return result, " ".join(text.translate(_BOX).split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2025-01-01", "--end", "2020-01-01"], "start 2025-01-01 is after end"),
        (["--start", "2020-13-45"], "is not a date"),
        (["--source", "no-such-source"], "neither a known source"),
        (["--aoi", "atlantis"], "No AOI 'atlantis'"),
        (["--images", "0"], "--images"),
        (["--images", "-4"], "--images"),
        (["--resolution", "15"], "use 10, 20 or 60"),
        (["--offline"], "--offline needs --store"),
        (["--format", "jpg"], "figures can be written as png and svg"),
        (["--aoi", "ZZZ9"], "ZZZ9"),
    ],
)
def test_review_bad_arguments(args: list[str], message: str) -> None:
    result, text = _invoke("review", *args)
    assert result.exit_code == 2, text
    assert message in text, text
    assert "Traceback" not in text
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_review_bad_geojson(tmp_path: Path) -> None:
    bad = tmp_path / "site.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "x", "kind": "apron"},
         "geometry": {"type": "Point", "coordinates": [69.2, 34.9]}}]}))
    result, text = _invoke("review", "--aoi", str(bad))
    assert result.exit_code == 2
    assert "'--aoi'" in text and "Traceback" not in text


def test_demo_bad_profile() -> None:
    result, text = _invoke("demo", "--profile", "huge")
    assert result.exit_code == 2 and "use full or small" in text


@pytest.mark.parametrize(
    ("exc", "code", "hint"),
    [
        (errors.NoImagery("no items of bagram in 1990"), 3, "no items of bagram"),
        (errors.SourceUnavailable("https://example.test kept failing (503)"), 4, "503"),
        (errors.OfflineMiss("the store lacks 3 windows"), 5, "lacks 3 windows"),
        (errors.ReviewError("too few dates"), 1, "too few dates"),
    ],
)
def test_review_runtime_errors_give_message_and_code(monkeypatch: pytest.MonkeyPatch,
                                                     exc: Exception, code: int,
                                                     hint: str) -> None:
    import geo.review

    def fail(*_a: object, **_k: object) -> None:
        raise exc

    monkeypatch.setattr(geo.review, "run_review", fail)
    result, text = _invoke("review", "--aoi", "bagram", "--no-progress")
    assert result.exit_code == code, text
    assert hint in text and type(exc).__name__ in text
    assert "Traceback" not in text


def test_exit_codes_documented_in_help() -> None:
    result, text = _invoke("review", "--help")
    assert result.exit_code == 0
    assert "geo review --aoi bagram" in text
    for code in EXIT_CODES:
        assert f"{code}:" in text
    result, text = _invoke("demo", "--help")
    assert result.exit_code == 0 and "geo demo --out" in text


def test_exit_code_mapping() -> None:
    assert exit_code(errors.AOINotFound("x")) == 2
    assert exit_code(errors.ScenarioError("x")) == 6
    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(RuntimeError("x")) == 1


def test_real_process_exit_code_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "geo.cli", "review", "--start", "2024-01-01",
                           "--end", "2023-01-01"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"}, check=False)
    assert proc.returncode == 2
    assert "start 2024-01-01 is after end 2023-01-01" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.slow
def test_demo_over_loopback(scenario_dir: Path, tmp_path: Path) -> None:
    """`geo demo` on the small scenario: served over loopback, the whole folder written."""
    from geo.review import OUTPUTS

    meta = pd.read_csv(scenario_dir / "truth.csv", usecols=["date"])
    dates = pd.to_datetime(meta["date"]).dt.normalize().nunique()
    n = min(12, dates)
    out = tmp_path / "demo"
    result, text = _invoke("demo", "--profile", "small", "--cache", str(scenario_dir),
                           "--out", str(out), "--images", str(n), "--no-progress")
    assert result.exit_code == 0, text
    assert set(OUTPUTS) <= {p.name for p in out.iterdir()}
    scenes = pd.read_csv(out / "scenes.csv")
    assert int(scenes["selected"].sum()) == n
    assert "HTTP requests" in text
    served = int(text.split("file server answered")[1].split()[0])
    assert served > 0, "the review did not read through the loopback file server"
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "SYNTHETIC" in report
    # no --start/--end: Bagram's default period, and the report says why
    assert f"{BAGRAM_PERIOD[0]} to {BAGRAM_PERIOD[1]}" in report
    assert "Bagram&#x27;s default period, the BBC review&#x27;s" in report
    assert "period: Bagram's default period" in text
    # both Earth Search collections served: each scene says where it came from
    passes = pd.read_csv(scenario_dir / "passes.csv")
    want = set(passes.groupby("date")["collection"].min())  # c1 sorts first where present
    assert set(scenes["collection"]) == want == {"sentinel-2-c1-l2a", "sentinel-2-l2a"}
    counts = scenes["collection"].value_counts()
    assert (f"<code>sentinel-2-c1-l2a</code> {counts['sentinel-2-c1-l2a']}" in report)
    # the data behind the figures: every change found, every object counted
    changes = pd.read_csv(out / "change_points.csv")
    assert list(changes.columns[:6]) == ["date", "lower", "upper", "direction", "size", "sensor"]
    assert (changes["lower"] <= changes["date"]).all() and (changes["date"] <= changes["upper"]).all()
    assert ((changes["size"] < 0) == (changes["direction"] == "down")).all()
    assert "href='change_points.csv'" in report and "href='objects.geojson'" in report
    doc = json.loads((out / "objects.geojson").read_text())
    assert doc["synthetic"] is True and "SYNTHETIC" in doc["name"]
    found = pd.DataFrame([f["properties"] for f in doc["features"]])
    activity = pd.read_csv(out / "activity.csv")
    assert set(activity["sensor"]) == {"s2", "s1"}  # the scenario's default: both sensors
    assert (out / "fused.csv").exists() and "Sentinel-1" in report
    activity = activity[activity["sensor"] == "s2"]  # objects.geojson holds optical objects
    counted = activity.dropna(subset=["objects"])
    counted = counted[counted["objects"] > 0]
    assert len(counted) > 0  # the small scenario has aircraft on its aprons before the change
    per_row = found.groupby(["date", "zone"])["count"].sum()
    want = counted.assign(date=pd.to_datetime(counted["date"]).dt.strftime("%Y-%m-%d")
                          ).set_index(["date", "zone"])["objects"].astype(int)
    assert per_row.sort_index().to_dict() == want.sort_index().to_dict()
    lon, lat = zip(*(f["geometry"]["coordinates"] for f in doc["features"]), strict=True)
    w, s_, e, n_ = geo.aoi.load("bagram").bounds
    assert all(w <= x <= e for x in lon) and all(s_ <= y <= n_ for y in lat)
    id_col = "item_ids" if "item_ids" in scenes.columns else "item_id"
    assert set(found["item_id"]) <= set(scenes[id_col].astype(str))
    # the headline opens the report, and the same sentences are in headline.txt and the summary
    headline = (out / "headline.txt").read_text(encoding="utf-8")
    sentences = [line[2:] for line in headline.splitlines() if line.startswith("- ")]
    assert 3 <= len(sentences) <= 5
    assert all(s.startswith("In this SYNTHETIC scenario") for s in sentences)
    assert report.index("id='headline'") < report.index("id='figures'")
    assert "Headline" in text and sentences[0].split(",")[0] in text


# --- the default period -------------------------------------------------------------

LATEST = pd.Timestamp("2026-11-28")


def _no_search() -> pd.Timestamp:
    raise AssertionError("the latest pass was looked up though it was not needed")


def test_period_bagram_default_needs_no_search() -> None:
    p = choose_period("bagram", latest=_no_search)
    assert (p.start, p.end) == tuple(pd.Timestamp(d) for d in BAGRAM_PERIOD)
    assert p.basis == "bagram" and "BBC review" in p.why


def test_period_other_site_is_five_years_to_the_latest_pass() -> None:
    p = choose_period("shindand", latest=lambda: LATEST)
    assert (p.start, p.end) == (pd.Timestamp("2021-11-29"), LATEST)
    assert p.note.startswith("period: the five years ending at the latest available pass, "
                             "2026-11-28")
    leap = choose_period("x", latest=lambda: pd.Timestamp("2024-02-29"))
    assert leap.start == pd.Timestamp("2019-03-01")


def test_period_as_given() -> None:
    p = choose_period("shindand", "2022-01-01", "2022-12-31", latest=_no_search)
    assert (p.start, p.end, p.basis) == (pd.Timestamp("2022-01-01"),
                                         pd.Timestamp("2022-12-31"), "given")
    assert "as given" in p.why


def test_period_one_end_given_derives_the_other() -> None:
    p = choose_period("bagram", end="2023-06-30", latest=_no_search)
    assert (p.start, p.basis) == (pd.Timestamp("2018-07-01"), "from end")
    assert "start five years earlier, 2018-07-01" in p.why
    p = choose_period("shindand", start="2019-03-01", latest=_no_search)
    assert (p.end, p.basis) == (pd.Timestamp("2024-02-29"), "from start")
    assert "end five years later, 2024-02-29" in p.why
    recent = pd.Timestamp.now().normalize() - pd.Timedelta(days=400)
    p = choose_period("shindand", start=recent, latest=lambda: LATEST.replace(year=2000))
    assert p.end == recent  # never before the start, even if the source is stale
    p = choose_period("shindand", start=recent,
                      latest=lambda: pd.Timestamp.now().normalize() - pd.Timedelta(days=3))
    assert p.end == pd.Timestamp.now().normalize() - pd.Timedelta(days=3)
    assert "end the latest available pass" in p.why


@pytest.mark.parametrize(("start", "end", "match"), [
    ("2020-13-45", None, "is not a date"),
    (None, "2099-01-01", "in the future"),
    ("2024-01-01", "2023-01-01", "after end"),
])
def test_period_bad_ends(start: str | None, end: str | None, match: str) -> None:
    with pytest.raises(errors.ReviewError, match=match):
        choose_period("shindand", start, end, latest=lambda: LATEST)


def _last_day(scenario_dir: Path) -> pd.Timestamp:
    days = [json.loads(line)["properties"]["datetime"][:10]
            for line in (scenario_dir / "items.ndjson").read_text().splitlines() if line]
    return pd.Timestamp(max(days))


@pytest.mark.slow
def test_latest_pass_searches_recent_then_wider(scenario_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module = importlib.import_module("geo.search")  # geo.search is also the function
    last = _last_day(scenario_dir)
    calls: list[tuple[str, str]] = []
    real = module.search

    def counting(aoi, start, end, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((str(start), str(end)))
        return real(aoi, start, end, **kwargs)

    monkeypatch.setattr(module, "search", counting)
    assert latest_pass(geo.aoi.load("bagram"), scenario_dir, today=last + pd.Timedelta(days=5)) \
        == last
    assert len(calls) == 1  # a live archive: one small search
    calls.clear()
    assert latest_pass(geo.aoi.load("bagram"), scenario_dir,
                       today=last + pd.Timedelta(days=200)) == last
    assert [c[0] for c in calls] == [str((last + pd.Timedelta(days=140)).date()),
                                     str((last - pd.Timedelta(days=165)).date())]


def _elsewhere(tmp_path: Path) -> Path:
    """Bagram's zones under another name: a site without Bagram's default period."""
    obj = json.loads((AOI_DIR / "bagram.geojson").read_text())
    obj["name"] = "elsewhere"
    obj["properties"] = {"site": "Elsewhere (test site)"}
    path = tmp_path / "elsewhere.geojson"
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.slow
def test_review_other_site_defaults_to_five_years_to_latest_pass(scenario_dir: Path,
                                                                  tmp_path: Path) -> None:
    last = _last_day(scenario_dir)
    start = last - pd.DateOffset(years=5) + pd.Timedelta(days=1)
    out = tmp_path / "review"
    result, text = _invoke("review", "--aoi", str(_elsewhere(tmp_path)), "--source",
                           str(scenario_dir), "--images", "8", "--out", str(out),
                           "--no-progress", "--sensors", "s2")
    assert result.exit_code == 0, text
    why = f"the five years ending at the latest available pass, {last:%Y-%m-%d}"
    assert f"period: {why}" in text
    report = (out / "report.html").read_text(encoding="utf-8")
    assert f"{start:%Y-%m-%d} to {last:%Y-%m-%d}: {why}" in report
    scenes = pd.read_csv(out / "scenes.csv", parse_dates=["date"])
    assert scenes["date"].max() == last
    assert scenes.loc[scenes["reason"] != "outside the review period", "date"].min() >= start


@pytest.mark.slow
def test_review_with_only_end_says_so(scenario_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "review"
    result, text = _invoke("review", "--aoi", "bagram", "--source", str(scenario_dir),
                           "--end", "2021-03-31", "--images", "4", "--out", str(out),
                           "--no-progress", "--sensors", "s2")
    assert result.exit_code == 0, text
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "2016-04-01 to 2021-03-31: end as given (--end), start five years earlier" in report


# --- a newsroom's own dates -------------------------------------------------------------


def test_review_measures_exactly_the_dates_asked_for(scenario_dir: Path, tmp_path: Path) -> None:
    days = sorted(pd.to_datetime(pd.read_csv(scenario_dir / "truth.csv")["date"]).unique())
    days = [pd.Timestamp(d) for d in days if pd.Timestamp(d) < pd.Timestamp("2022-01-01")]
    exact, shifted = days[0:3], days[3:5]
    gaps = [b - a for a, b in itertools.pairwise(days)]
    k = int(np.argmax(gaps))
    lonely = days[k] + gaps[k] / 2  # the middle of the longest gap: no pass within 3 days
    assert gaps[k] > pd.Timedelta(days=8)
    asked = [*exact, *(d + pd.Timedelta(days=1) for d in shifted), lonely.normalize()]
    listing = tmp_path / "bbc_dates.txt"
    listing.write_text("# our review's dates\n" + "".join(f"{d:%Y-%m-%d}\n" for d in asked))
    out = tmp_path / "mirror"
    result, text = _invoke("review", "--source", str(scenario_dir), "--dates", str(listing),
                           "--store", str(tmp_path / "store"), "--out", str(out),
                           "--no-progress", "--sensors", "s2")
    assert result.exit_code == 0, text
    scenes = pd.read_csv(out / "scenes.csv", parse_dates=["date"], dtype={"days_off": str})
    assert sorted(scenes["date"]) == sorted([*exact, *shifted])  # exactly those passes
    assert scenes["selected"].all()
    offs = dict(zip(scenes["date"], scenes["days_off"].astype(str), strict=True))
    assert all(offs[d] == "+0" for d in exact) and all(offs[d] == "-1" for d in shifted)
    assert f"{lonely:%Y-%m-%d}" in text and "no pass within reach" in text


def test_a_bad_dates_file_names_its_line(tmp_path: Path) -> None:
    listing = tmp_path / "dates.txt"
    listing.write_text("2021-01-05\nnext tuesday\n")
    result, text = _invoke("review", "--dates", str(listing), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2, text
    assert "line 2" in text and "next tuesday" in text


# --- any airfield by its code, figures as SVG ----------------------------------------------


def test_review_of_an_airfield_by_its_code_makes_its_aoi_once(scenario_dir: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "oaix"
    args = ("review", "--aoi", "OAIX", "--source", str(scenario_dir), "--start", "2020-10-01",
            "--end", "2021-06-30", "--images", "4", "--out", str(out), "--no-progress",
            "--format", "png,svg", "--sensors", "s2")
    result, text = _invoke(*args)
    assert result.exit_code == 0, text
    made = out / "aoi_OAIX.geojson"
    assert "no AOI yet" in text and "AOI kept at" in text and made.exists()
    area = geo.aoi.load(made)
    found = area.zones[area.zones["kind"] == "apron"]
    assert len(found) >= 1 and all("found in imagery" in s for s in found["source"])
    assert set(area.zones["kind"]) >= {"runway", "apron", "perimeter"}
    for stem in ("trend", "before_after", "contact_sheet", "zones"):
        svg = (out / f"{stem}.svg").read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg[:2000]
        assert (out / f"{stem}.png").exists()
    assert "SYNTHETIC" in (out / "trend.svg").read_text(encoding="utf-8")
    stamp = made.stat().st_mtime_ns
    again, text2 = _invoke(*args)
    assert again.exit_code == 0, text2
    assert "using the AOI made earlier" in text2 and made.stat().st_mtime_ns == stamp
