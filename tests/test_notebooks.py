"""The notebooks (jupytext percent files) execute without error against the offline scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="notebook tests need jupytext (pip install geo[notebooks])")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient")
pytest.importorskip("ipykernel", reason="notebook tests need ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_area_of_interest", "02_imagery", "03_activity_index", "04_bagram_review", "05_radar", "06_any_airfield"]


@pytest.fixture(scope="module")
def scenario(request: pytest.FixtureRequest) -> Path:
    """The small scenario: the suite's shared fixture if present, else a cached build."""
    try:
        return Path(request.getfixturevalue("scenario_dir"))
    except pytest.FixtureLookupError:
        from geo.testing.review import scenario_folder

        return Path(scenario_folder("small"))


def _errors(nb: object) -> list[str]:
    found = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{out['ename']}: {out['evalue']}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name: str, scenario: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_SCENARIO_DIR", str(scenario))
    monkeypatch.setenv("GEO_REVIEW_OUT", str(tmp_path / "review"))
    monkeypatch.setenv("GEO_REVIEW_IMAGES", "12")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert not _errors(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code)
    images = sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert images >= 1, f"{name} shows no figure"
    if name == "04_bagram_review":
        assert (tmp_path / "review" / "report.html").is_file()
        assert images >= 3, "the review notebook shows fewer than 3 figures"
    # the generated .ipynb round-trips (they are git-ignored, made on demand)
    out = tmp_path / f"{name}.ipynb"
    jupytext.write(nb, out)
    assert out.stat().st_size > 0


def test_notebooks_are_paired_percent_files() -> None:
    for name in NAMES:
        text = (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8")
        assert "format_name: percent" in text and "# %% [markdown]" in text
