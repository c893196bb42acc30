"""Figures, the HTML report and the review folder, from small synthetic inputs (no servers)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geo import errors, plot
from geo.report import activity_summary, offset_handling, render_report, scene_provenance
from geo.review import OUTPUTS, ReviewResult, pick_before_after, review_stack
from geo.select import BAGRAM_EVENTS, select_scenes
from geo.testing.review import toy_inputs


@pytest.fixture(scope="module")
def toy() -> dict:
    return toy_inputs(n_dates=36, seed=4)


@pytest.fixture(scope="module")
def scenes(toy: dict) -> pd.DataFrame:
    return select_scenes(toy["clear"], n=12, key_dates=BAGRAM_EVENTS, activity=toy["activity"])


@pytest.fixture(scope="module")
def review(toy: dict, tmp_path_factory: pytest.TempPathFactory) -> ReviewResult:
    out = tmp_path_factory.mktemp("review")
    return review_stack(toy["stack"], toy["aoi"], images=12, out=out, clear=toy["clear"],
                        activity=toy["activity"], change_points=toy["change_points"],
                        source_label="toy stack", timelapse_size=240)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=float)


def _assert_not_blank(path: Path, min_colours: int = 50) -> None:
    px = _pixels(path)
    assert px.std() > 10, f"{path.name} looks blank (std {px.std():.1f})"
    colours = np.unique(px.reshape(-1, 3)[:: max(1, px.size // 300000)], axis=0)
    assert len(colours) >= min_colours, f"{path.name} has only {len(colours)} colours"


def _has_crimson(path: Path) -> bool:
    """The SYNTHETIC stamp is crimson text: look for reddish pixels in the top band."""
    px = _pixels(path)
    top = px[: max(8, px.shape[0] // 12)]
    red = (top[..., 0] > 170) & (top[..., 1] < 120) & (top[..., 2] < 140)
    return int(red.sum()) > 20


def test_review_folder_has_every_output(review: ReviewResult) -> None:
    names = {p.name for p in review.out.iterdir() if p.is_file()}
    assert set(OUTPUTS) <= names
    scenes = pd.read_csv(review.out / "scenes.csv")
    assert list(scenes.columns[:5]) == ["date", "item_ids", "clear_fraction", "selected", "reason"]
    assert int(scenes["selected"].sum()) == 12
    activity = pd.read_csv(review.out / "activity.csv")
    assert {"date", "zone", "kind", "activity_index"} <= set(activity.columns)
    assert review.synthetic


def test_change_tif_is_a_cog_in_utm(review: ReviewResult) -> None:
    import rasterio
    from rio_cogeo.cogeo import cog_validate

    valid, problems, _ = cog_validate(review.out / "change.tif")
    assert valid, problems
    with rasterio.open(review.out / "change.tif") as src:
        assert src.crs.to_epsg() == 32642


@pytest.mark.parametrize("name", ["trend.png", "before_after.png", "contact_sheet.png",
                                  "zones.png"])
def test_figures_are_not_blank_and_stamped(review: ReviewResult, name: str) -> None:
    path = review.out / name
    _assert_not_blank(path)
    assert _has_crimson(path), f"{name} lacks the SYNTHETIC stamp"


def test_timelapse_has_one_frame_per_selected_image(review: ReviewResult) -> None:
    with Image.open(review.out / "timelapse.gif") as gif:
        assert gif.n_frames == 12
        gif.seek(5)
        frame = np.asarray(gif.convert("RGB"), dtype=float)
    assert frame.std() > 10


def test_report_is_self_contained_and_traceable(review: ReviewResult) -> None:
    html = (review.out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "SYNTHETIC" in html
    images = re.findall(r'<img [^>]*src="data:image/(png|jpeg|gif);base64,', html)
    assert len(images) == 5
    assert not re.search(r'src="(?!data:)', html), "the report links an external resource"
    for item_id in review.provenance["item_id"]:
        assert item_id in html
    assert "offset of 1000 DN removed" in html and "none needed: baseline 02.14" in html
    assert "Method" in html and "Limits" in html


def test_before_after_pair_straddles_the_change(review: ReviewResult) -> None:
    assert review.before is not None and review.after is not None
    assert review.before < pd.Timestamp("2021-06-15") < review.after


def test_trend_has_kind_panels_and_clear_panel(toy: dict, scenes: pd.DataFrame) -> None:
    fig = plot.trend(toy["activity"], scenes=scenes, events=BAGRAM_EVENTS,
                     change_points=toy["change_points"], site="toy", synthetic=True)
    try:
        labels = [ax.get_ylabel() for ax in fig.axes]
        assert sum("activity index" in label for label in labels) == 4
        assert any("clear" in label for label in labels)
        texts = " ".join(t.get_text() for t in fig.texts)
        assert "Taliban take Bagram" in texts and "change point" in texts and "SYNTHETIC" in texts
    finally:
        plt.close(fig)


def test_trend_uses_the_index_sensitivity_band(toy: dict) -> None:
    act = toy["activity"].assign(activity_low=lambda d: d["activity_index"] - 0.1,
                                 activity_high=lambda d: d["activity_index"] + 0.1)
    fig = plot.trend(act)
    try:
        assert "activity_low..activity_high" in " ".join(t.get_text() for t in fig.texts)
    finally:
        plt.close(fig)


def test_change_table_reads_dataclass_with_table() -> None:
    class CP:
        table = pd.DataFrame({"date": ["2021-08-01"], "lower": ["2021-07-01"],
                              "upper": ["2021-09-01"]})

    out = plot.change_table(CP())
    assert out["date"].iloc[0] == pd.Timestamp("2021-08-01")
    assert plot.change_table(None).empty


def test_true_colour_needs_rgb(toy: dict) -> None:
    with pytest.raises(errors.ReviewError, match="red, green, blue"):
        plot.true_colour(toy["stack"][["red"]], toy["stack"].time.values[0])


def test_provenance_lists_every_scene(toy: dict, scenes: pd.DataFrame) -> None:
    prov = scene_provenance(toy["stack"], scenes)
    assert len(prov) == toy["stack"].sizes["time"]
    assert prov["selected"].sum() == 12
    assert prov["offset_handling"].str.len().gt(10).all()


def test_offset_handling_words() -> None:
    assert offset_handling("05.10", True).startswith("offset of 1000 DN removed")
    assert "check this scene" in offset_handling("04.00", False)
    assert offset_handling(None, False).startswith("baseline unknown")


def test_pick_before_after_prefers_same_season() -> None:
    s = pd.DataFrame({"date": pd.to_datetime(["2020-11-01", "2021-02-01", "2022-05-01",
                                              "2022-11-05", "2023-02-01"]),
                      "clear_fraction": [1.0, 0.9, 1.0, 0.95, 1.0], "selected": True})
    before, after = pick_before_after(s, {"date": "2021-08-01", "lower": "2021-07-01",
                                          "upper": "2021-09-01"})
    assert before == pd.Timestamp("2020-11-01") and after == pd.Timestamp("2022-11-05")


def test_activity_summary_splits_at_change(toy: dict) -> None:
    summary = activity_summary(toy["activity"], toy["change_points"])
    assert (summary["before"] > summary["after"]).all()


def test_render_report_escapes_text() -> None:
    scenes = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"]), "item_ids": ["<script>"],
                           "clear_fraction": [1.0], "selected": [True], "reason": ["a & b"]})
    html = render_report(site="x", period=("2021-01-01", "2021-02-01"), source="s",
                         scenes=scenes, activity=pd.DataFrame(), figures={})
    assert "<script>" not in html and "&lt;script&gt;" in html
