"""``geo review`` / ``geo demo``: argument errors, exit codes, help, and the demo end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from geo import errors
from geo.cli import app
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
    assert "SYNTHETIC" in (out / "report.html").read_text(encoding="utf-8")
