"""Figures, the HTML report and the review folder, from small synthetic inputs (no servers).

The toy inputs (:mod:`geo.testing.review`) were built with a drop in activity in August
2021. These tests assert what the code computes from them (the change point that
:func:`geo.when.change_points` finds, the numbers of the activity.csv written, what the
captions say was done), never the drop or the dates the toy data were built with.
"""

from __future__ import annotations

import re
from html import escape as html_escape
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geo import errors, plot
from geo.review import OUTPUTS, ReviewResult, main_change, pick_before_after, review_stack
from geo.review.before_after import before_after
from geo.review.report import (
    activity_summary,
    figure_caption,
    offset_handling,
    render_report,
    scene_provenance,
)
from geo.review.tables import change_table
from geo.review.trend import trend
from geo.select import BAGRAM_EVENTS, BeforeAfter, select_scenes
from geo.testing.review import toy_inputs
from geo.when import change_points as find_changes

NO_CHANGE = pd.DataFrame(columns=["date", "lower", "upper"])


@pytest.fixture(scope="module")
def toy() -> dict:
    return toy_inputs(n_dates=36, seed=4)


@pytest.fixture(scope="module")
def scenes(toy: dict) -> pd.DataFrame:
    return select_scenes(toy["clear"], n=12, key_dates=BAGRAM_EVENTS, activity=toy["activity"])


@pytest.fixture(scope="module")
def review(toy: dict, tmp_path_factory: pytest.TempPathFactory) -> ReviewResult:
    """The review with change points left to geo.when (change_points=None)."""
    out = tmp_path_factory.mktemp("review")
    return review_stack(toy["stack"], toy["aoi"], images=12, out=out, clear=toy["clear"],
                        activity=toy["activity"], source_label="toy stack",
                        timelapse_size=240)


@pytest.fixture(scope="module")
def review_no_change(toy: dict, tmp_path_factory: pytest.TempPathFactory) -> ReviewResult:
    """The same review told that no change point was found."""
    out = tmp_path_factory.mktemp("review_no_change")
    return review_stack(toy["stack"], toy["aoi"], images=12, out=out, clear=toy["clear"],
                        activity=toy["activity"], change_points=NO_CHANGE,
                        source_label="toy stack", timelapse_size=240)


def _html(result: ReviewResult) -> str:
    return (result.out / "report.html").read_text(encoding="utf-8")


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
    with Image.open(review.out / "timelapse.webp") as gif:
        assert gif.n_frames == 12
        gif.seek(5)
        frame = np.asarray(gif.convert("RGB"), dtype=float)
    assert frame.std() > 10


def test_report_is_self_contained_and_traceable(review: ReviewResult) -> None:
    html = (review.out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "SYNTHETIC" in html
    images = re.findall(r'<img [^>]*src="data:image/(png|jpeg|gif|webp);base64,', html)
    assert len(images) == 5
    assert not re.search(r'src="(?!data:)', html), "the report links an external resource"
    for item_id in review.provenance["item_id"]:
        assert item_id in html
    for words in review.provenance["offset_handling"].unique():  # each scene's handling
        assert html_escape(words) in html
    assert "Method" in html and "Limits" in html


def test_change_point_is_what_geo_when_finds(review: ReviewResult, toy: dict) -> None:
    """The review's change point is geo.when's on the activity it wrote, not an input."""
    written = pd.read_csv(review.out / "activity.csv", parse_dates=["date"])
    found = main_change(find_changes(written))
    assert not found.empty, "geo.when finds no change in the toy activity"
    assert main_change(review.change_points)["date"].iloc[0] == found["date"].iloc[0]
    day = f"{found['date'].iloc[0]:%Y-%m-%d}"
    assert f"Change point</dt><dd>{day}" in _html(review)


def test_before_after_pair_straddles_the_change(review: ReviewResult) -> None:
    found = main_change(review.change_points).iloc[0]
    pair = review.pair
    assert pair is not None and pair.basis == "change point" and pair.straddles
    assert (review.before, review.after) == (pair.before, pair.after)
    assert pair.split == found["date"]
    assert review.before < found["lower"] and review.after >= found["upper"]
    # before: the clearest selected image before the interval (earliest on ties)
    sel = review.selected
    pool = sel[sel["date"] < found["lower"]]
    assert review.before == pool.sort_values(["clear_fraction", "date"],
                                             ascending=[False, True])["date"].iloc[0]


def test_captions_name_the_change_when_one_was_found(review: ReviewResult) -> None:
    html = _html(review)
    day = f"{review.pair.split:%Y-%m-%d}"
    assert f"either side of the change on {day}" in html
    assert f"Activity before and after the change on {day}" in html
    assert "either side of the key date" not in html


def test_captions_say_key_date_when_no_change_point(review_no_change: ReviewResult) -> None:
    pair = review_no_change.pair
    assert pair is not None and pair.basis == "key date"
    first = min((e for e in BAGRAM_EVENTS if e.required
                 and review_no_change.selected["date"].min() < e.date), key=lambda e: e.date)
    assert (pair.split, pair.event) == (first.date, first.label)
    html = _html(review_no_change)
    assert "either side of the change" not in html.lower()
    assert f"either side of the key date {first.date:%Y-%m-%d} ({html_escape(first.label)})" in html
    assert "No change point was found" in html
    assert f"Activity before and after the key date {first.date:%Y-%m-%d}" in html
    assert "Change point</dt><dd>none found" in html
    assert not any("either side of the change" in what for what in OUTPUTS.values())
    notes = " ".join(review_no_change.notes)
    assert "either side of the change" not in notes


def test_before_after_figure_says_what_it_split_at(toy: dict, scenes: pd.DataFrame) -> None:
    s = toy["stack"]
    for changes, words in ((NO_CHANGE, "key date"), (toy["change_points"], "the change on")):
        pair = pick_before_after(scenes, changes, BAGRAM_EVENTS)
        fig = before_after(s, toy["aoi"], pair.before, pair.after,
                                activity=toy["activity"], pair=pair)
        try:
            texts = " ".join(t.get_text() for t in fig.texts)
            assert words in texts and pair.where() in texts
            if words == "key date":
                assert "either side of the change" not in texts
        finally:
            plt.close(fig)


def test_figure_caption_follows_the_review() -> None:
    assert "No change point was found" in figure_caption("trend", None)[1]
    found = {"date": "2021-08-01", "lower": "2021-07-01", "upper": "2021-09-01"}
    assert "change point found is red" in figure_caption("trend", found)[1]
    pair = BeforeAfter(pd.Timestamp("2020-11-01"), pd.Timestamp("2022-11-05"), "median date",
                       pd.Timestamp("2021-12-01"))
    caption = figure_caption("before_after", None, pair)[1]
    assert "median date" in caption and "either side of the change" not in caption


def test_report_findings_match_the_activity_csv(review: ReviewResult) -> None:
    """The findings table holds the means of the activity.csv written, split at the pair's split."""
    written = pd.read_csv(review.out / "activity.csv", parse_dates=["date"])
    usable = written[~written["flagged"].astype(bool)]
    split = review.pair.split
    html = _html(review)
    table = html.split("id='findings'")[1].split("</table>")[0]
    for zone, group in usable.groupby("zone"):
        before = group.loc[group["date"] < split, "activity_index"].mean()
        after = group.loc[group["date"] >= split, "activity_index"].mean()
        row = table.split(f"<td>{zone}</td>")[1].split("</tr>")[0]
        cells = [float(c) for c in re.findall(r'<td class="num">([^<]*)</td>', row)[:3]]
        # activity.csv holds 4 decimals, the report shows 3
        assert cells == pytest.approx([before, after, after - before], abs=1.5e-3), zone


def test_trend_has_kind_panels_and_clear_panel(toy: dict, scenes: pd.DataFrame) -> None:
    fig = trend(toy["activity"], scenes=scenes, events=BAGRAM_EVENTS,
                     change_points=toy["change_points"], site="toy", synthetic=True)
    try:
        labels = [ax.get_ylabel() for ax in fig.axes]
        kinds = toy["activity"]["kind"].nunique()  # one panel per zone kind in the table
        assert sum("activity index" in label for label in labels) == kinds
        assert any("clear" in label for label in labels)
        texts = " ".join(t.get_text() for t in fig.texts)
        assert "Taliban take Bagram" in texts and "SYNTHETIC" in texts  # the events passed
        found = main_change(toy["change_points"])
        assert f"change point {found['date'].iloc[0]:%d %b %Y}" in texts
    finally:
        plt.close(fig)


def test_trend_uses_the_index_sensitivity_band(toy: dict) -> None:
    act = toy["activity"].assign(activity_low=lambda d: d["activity_index"] - 0.1,
                                 activity_high=lambda d: d["activity_index"] + 0.1)
    fig = trend(act)
    try:
        assert "activity_low..activity_high" in " ".join(t.get_text() for t in fig.texts)
    finally:
        plt.close(fig)


def test_change_table_reads_dataclass_with_table() -> None:
    class CP:
        table = pd.DataFrame({"date": ["2021-08-01"], "lower": ["2021-07-01"],
                              "upper": ["2021-09-01"]})

    out = change_table(CP())
    assert out["date"].iloc[0] == pd.Timestamp("2021-08-01")
    assert change_table(None).empty


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
    pair = pick_before_after(s, {"date": "2021-08-01", "lower": "2021-07-01",
                                 "upper": "2021-09-01"})
    assert pair.before == pd.Timestamp("2020-11-01") and pair.after == pd.Timestamp("2022-11-05")
    assert pair.basis == "change point" and pair.straddles


def test_pick_before_after_without_change_uses_key_date_or_median() -> None:
    s = pd.DataFrame({"date": pd.to_datetime(["2020-11-01", "2021-02-01", "2022-05-01",
                                              "2022-11-05", "2023-02-01"]),
                      "clear_fraction": 1.0, "selected": True})
    pair = pick_before_after(s, None, BAGRAM_EVENTS)
    assert (pair.basis, pair.split, pair.event) == ("key date", pd.Timestamp("2021-07-02"),
                                                    "US forces leave Bagram")
    assert pair.where().startswith("either side of the key date 2021-07-02")
    pair = pick_before_after(s, NO_CHANGE, ())
    assert pair.basis == "median date" and pair.split == pd.Timestamp("2022-05-01")
    assert "median date" in pair.where() and "change on" not in pair.where()
    late = s[s["date"] > "2022-01-01"]  # the first key dates lie before these images
    pair = pick_before_after(late, None, BAGRAM_EVENTS)
    first_inside = min(e.date for e in BAGRAM_EVENTS
                       if e.required and late["date"].min() < e.date <= late["date"].max())
    assert pair.basis == "key date" and pair.split == first_inside and pair.straddles
    pair = pick_before_after(late, None, BAGRAM_EVENTS[:3])  # none inside the span
    assert pair.basis == "median date"


def test_pick_before_after_says_when_it_cannot_straddle() -> None:
    s = pd.DataFrame({"date": pd.to_datetime(["2021-08-10", "2022-02-01", "2022-08-01"]),
                      "clear_fraction": 1.0, "selected": True})
    pair = pick_before_after(s, {"date": "2021-08-01", "lower": "2021-07-01",
                                 "upper": "2021-09-01"})
    assert not pair.straddles
    assert "either side" not in pair.where() and "an early and a later" in pair.where()


def test_activity_summary_means_per_side_of_the_split(toy: dict) -> None:
    """Per-zone means of the usable rows either side of the change geo.when found."""
    act = toy["activity"]
    split = main_change(toy["change_points"])["date"].iloc[0]
    summary = activity_summary(act, toy["change_points"]).set_index("zone")
    usable = act[~act["flagged"]]
    for zone, group in usable.groupby("zone"):
        expect_before = group.loc[group["date"] < split, "activity_index"].mean()
        expect_after = group.loc[group["date"] >= split, "activity_index"].mean()
        assert summary.loc[zone, "before"] == pytest.approx(expect_before)
        assert summary.loc[zone, "after"] == pytest.approx(expect_after)
        assert summary.loc[zone, "dates"] == len(group)


def test_render_report_escapes_text() -> None:
    scenes = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"]), "item_ids": ["<script>"],
                           "clear_fraction": [1.0], "selected": [True], "reason": ["a & b"]})
    html = render_report(site="x", period=("2021-01-01", "2021-02-01"), source="s",
                         scenes=scenes, activity=pd.DataFrame(), figures={})
    assert "<script>" not in html and "&lt;script&gt;" in html
