"""Close-ups of the key zones (geo.review.closeups) and the figures that show them.

The stack is the toy stack at Sentinel-2's 10 m; the objects tables are made by hand
here, so each test knows which objects belong to which date and zone.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from geo import errors
from geo.plot import true_colour
from geo.review.before_after import before_after
from geo.review.closeups import (
    MARGIN_M,
    bar_length,
    crop,
    draw_closeup,
    key_zones,
    objects_on,
    zone_box,
)
from geo.review.contact_sheet import contact_sheet
from geo.select import select_scenes
from geo.testing.review import toy_inputs, toy_stack

ZONE = "apron_central"


@pytest.fixture(scope="module")
def toy() -> dict:
    return toy_inputs(n_dates=6, seed=2)


@pytest.fixture(scope="module")
def stack10(toy: dict):
    """The toy stack at 10 m, three dates."""
    return toy_stack(toy["aoi"], n_dates=3, resolution=10.0, seed=2)


@pytest.fixture()
def ax():
    fig, axis = plt.subplots()
    yield axis
    plt.close(fig)


def _objects(aoi, stack, zone: str = ZONE) -> pd.DataFrame:
    """Objects placed inside ``zone``'s bounds: three on the first date (one counting as
    two), two on the second, none on the third, and one in another zone on the first."""
    xmin, ymin, xmax, ymax = zone_box(aoi, zone, 0)
    t = pd.DatetimeIndex(stack["time"].values)
    fx = lambda f: xmin + f * (xmax - xmin)  # noqa: E731
    fy = lambda f: ymin + f * (ymax - ymin)  # noqa: E731
    rows = [
        (t[0], zone, fx(0.3), fy(0.3), 30.0, 1, False),
        (t[0], zone, fx(0.5), fy(0.6), 52.0, 2, False),
        (t[0], zone, fx(0.7), fy(0.4), 8.0, 1, True),
        (t[1], zone, fx(0.4), fy(0.5), 30.0, 1, False),
        (t[1], zone, fx(0.6), fy(0.7), 30.0, 1, False),
        (t[0], "apron_north", fx(0.5), fy(0.5), 30.0, 1, False),
    ]
    table = pd.DataFrame(rows, columns=["date", "zone", "x", "y", "length_m", "count",
                                        "flagged"])
    table["kind"] = "apron"
    return table


def _object_squares(axis: Axes) -> list[Rectangle]:
    return [p for p in axis.patches if isinstance(p, Rectangle) and p.get_gid() == "object"]


def test_crop_draws_the_stacks_own_pixels(ax: Axes, toy: dict, stack10) -> None:
    """The image drawn is the stack's true colour on the pixels around the zone, untouched."""
    day = stack10["time"].values[1]
    draw_closeup(ax, stack10, toy["aoi"], ZONE, day)
    xmin, ymin, xmax, ymax = zone_box(toy["aoi"], ZONE, MARGIN_M)
    x, y = stack10["x"].values, stack10["y"].values
    cols = np.flatnonzero((x >= xmin) & (x <= xmax))
    rows = np.flatnonzero((y >= ymin) & (y <= ymax))
    whole = true_colour(stack10.isel(time=1))
    expected = whole[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    drawn = np.asarray(ax.images[0].get_array())
    assert drawn.shape == expected.shape
    np.testing.assert_array_equal(drawn, expected)
    assert ax.images[0].get_interpolation() == "nearest"
    part = crop(stack10, toy["aoi"], ZONE)
    np.testing.assert_array_equal(part["red"].values,
                                  stack10["red"].values[:, rows[0]: rows[-1] + 1,
                                                        cols[0]: cols[-1] + 1])


def test_extent_is_on_pixel_edges(ax: Axes, toy: dict, stack10) -> None:
    draw_closeup(ax, stack10, toy["aoi"], ZONE, stack10["time"].values[0])
    part = crop(stack10, toy["aoi"], ZONE)
    left, right, bottom, top = ax.images[0].get_extent()
    x, y = part["x"].values, part["y"].values
    assert (left, right) == (x.min() - 5.0, x.max() + 5.0)
    assert (bottom, top) == (y.min() - 5.0, y.max() + 5.0)
    assert (right - left) / part.sizes["x"] == 10.0 and (top - bottom) / part.sizes["y"] == 10.0
    assert ax.get_xlim() == (left, right) and ax.get_ylim() == (bottom, top)


def test_scale_bar_is_in_metres(ax: Axes, toy: dict, stack10) -> None:
    draw_closeup(ax, stack10, toy["aoi"], ZONE, stack10["time"].values[0])
    labels = [t.get_text() for t in ax.texts if re.fullmatch(r"\d+ m", t.get_text())]
    assert len(labels) == 1, [t.get_text() for t in ax.texts]
    length = float(labels[0].split()[0])
    width = ax.get_xlim()[1] - ax.get_xlim()[0]
    bars = [ln for ln in ax.lines if np.ptp(ln.get_xdata()) == pytest.approx(length)
            and np.ptp(ln.get_ydata()) == 0]
    assert bars, "no bar as long as its label"
    assert width / 8 <= length <= width / 2


@pytest.mark.parametrize("width", [90.0, 250.0, 700.0, 6000.0])
def test_bar_length_is_round_and_fits(width: float) -> None:
    length = bar_length(width)
    assert length <= max(width / 4, 10) and length > width / 10
    assert str(int(length)).rstrip("0") in ("1", "2", "5")


def test_outlines_the_objects_of_that_date_and_zone_only(ax: Axes, toy: dict, stack10) -> None:
    objs = _objects(toy["aoi"], stack10)
    day = stack10["time"].values[0]
    n = draw_closeup(ax, stack10, toy["aoi"], ZONE, day, objects=objs)
    mine = objs[(objs["date"] == day) & (objs["zone"] == ZONE)]
    squares = _object_squares(ax)
    assert len(squares) == len(mine)
    assert n == int(mine["count"].sum())
    centres = sorted((round(s.get_x() + s.get_width() / 2, 6), round(s.get_y() + s.get_height() / 2, 6))
                     for s in squares)
    assert centres == sorted(zip(mine["x"].round(6), mine["y"].round(6)))
    sides = sorted(s.get_width() for s in squares)
    assert sides == sorted(max(v, 20.0) for v in mine["length_m"])
    dashed = [s for s in squares if s.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == int(mine["flagged"].sum())
    counted = [t.get_text() for t in ax.texts if t.get_text().isdigit()]
    assert counted == [str(c) for c in mine["count"] if c > 1]


def test_no_outlines_from_other_dates(toy: dict, stack10) -> None:
    objs = _objects(toy["aoi"], stack10)
    for i in range(stack10.sizes["time"]):
        fig, axis = plt.subplots()
        try:
            day = stack10["time"].values[i]
            n = draw_closeup(axis, stack10, toy["aoi"], ZONE, day, objects=objs)
            expected = objs[(objs["date"] == day) & (objs["zone"] == ZONE)]
            assert len(_object_squares(axis)) == len(expected)
            assert n == int(expected["count"].sum())
        finally:
            plt.close(fig)


def test_objects_match_by_day_whatever_the_time_of_day() -> None:
    objs = pd.DataFrame({"date": ["2021-03-04", "2021-03-04T23:59", "2021-03-05T00:00"],
                         "zone": ["a", "a", "a"], "x": 0.0, "y": 0.0, "count": [1, 1, 1]})
    assert len(objects_on(objs, pd.Timestamp("2021-03-04T06:00"), "a")) == 2
    assert objects_on(objs, "2021-03-04", "b").empty
    assert objects_on(None, "2021-03-04", "a").empty


def test_zone_choice_prefers_aprons_then_objects_and_is_deterministic(toy: dict) -> None:
    aoi = toy["aoi"]
    kinds = aoi.zones.set_index("name")["kind"]
    objs = pd.DataFrame({"date": "2021-01-01", "x": 0.0, "y": 0.0,
                         "zone": ["revetments_north"] * 9 + ["apron_north"] * 3
                         + ["apron_army_aviation"] * 5,
                         "count": 1})
    chosen = key_zones(aoi, objs, n=3)
    assert chosen[:2] == ["apron_army_aviation", "apron_north"]
    assert all(kinds[z] == "apron" for z in chosen)  # aprons first, however busy a revetment
    shuffled = objs.sample(frac=1.0, random_state=1)
    assert key_zones(aoi, shuffled, n=3) == chosen
    assert key_zones(aoi, objs, toy["activity"], n=3)[:2] == chosen[:2]
    every = key_zones(aoi, objs, n=50)
    order = [kinds[z] for z in every]
    assert order == sorted(order, key=["apron", "revetment", "parking", "yard"].index)
    assert every.index("revetments_north") < every.index("revetments_southeast")
    assert key_zones(aoi, n=0) == []


def test_zone_choice_by_activity_without_objects(toy: dict) -> None:
    act = toy["activity"]
    usable = act[~act["flagged"]]
    aprons = usable[usable["kind"] == "apron"]
    busiest = aprons.groupby("zone")["activity_index"].mean().idxmax()
    assert key_zones(toy["aoi"], None, act, n=1) == [busiest]


def test_zone_outside_the_stack_is_an_error(toy: dict, stack10) -> None:
    small = stack10.isel(x=slice(0, 5), y=slice(0, 5))
    with pytest.raises(errors.ReviewError, match="outside the stack"):
        crop(small, toy["aoi"], ZONE)
    assert ZONE not in key_zones(toy["aoi"], stack=small, n=10)
    with pytest.raises(errors.ReviewError, match="no zone"):
        zone_box(toy["aoi"], "apron_nowhere")


def _closeup_axes(fig) -> list[Axes]:
    return [a for a in fig.axes if a.images and a.get_xlim()[1] - a.get_xlim()[0] < 1500]


def test_before_after_closeups_count_the_objects(toy: dict, stack10) -> None:
    objs = _objects(toy["aoi"], stack10)
    times = stack10["time"].values
    fig = before_after(stack10, toy["aoi"], times[0], times[1], objects=objs, zones=[ZONE])
    try:
        panels = _closeup_axes(fig)
        assert len(panels) == 2
        for panel, day in zip(panels, times[:2], strict=True):
            mine = objs[(objs["date"] == day) & (objs["zone"] == ZONE)]
            assert len(_object_squares(panel)) == len(mine)
            n = int(mine["count"].sum())
            assert f": {n} object{'s' if n != 1 else ''}" in panel.get_title()
    finally:
        plt.close(fig)


def test_contact_sheet_closeups_per_image(toy: dict, stack10) -> None:
    objs = _objects(toy["aoi"], stack10)
    times = pd.DatetimeIndex(stack10["time"].values)
    scenes = pd.DataFrame({"date": times.normalize(), "clear_fraction": 1.0, "selected": True,
                           "item_ids": stack10["item_id"].values})
    fig = contact_sheet(stack10, scenes, aoi=toy["aoi"], objects=objs, zones=[ZONE, "apron_north"])
    try:
        panels = _closeup_axes(fig)
        assert len(panels) == 2 * len(times)
        for k, day in enumerate(times):
            for panel, zone in zip(panels[2 * k: 2 * k + 2], (ZONE, "apron_north"), strict=True):
                mine = objs[(objs["date"] == day) & (objs["zone"] == zone)]
                assert len(_object_squares(panel)) == len(mine)
                assert f"{int(mine['count'].sum())} obj." in panel.get_title()
        whole = [a for a in fig.axes if a.images and a not in panels]
        assert len(whole) == len(times)
        block = stack10.isel(time=0).coarsen(x=3, y=3, boundary="trim").mean()
        np.testing.assert_allclose(np.asarray(whole[0].images[0].get_array()),
                                   true_colour(block), atol=1e-6)
        assert "means of 3 x 3 pixels (30 m)" in " ".join(t.get_text() for t in fig.texts)
    finally:
        plt.close(fig)


def test_figures_draw_without_objects(toy: dict) -> None:
    """Older callers (no objects, no zones) still get both figures, with close-ups."""
    s = toy["stack"]
    scenes = select_scenes(toy["clear"], n=3)
    fig = before_after(s, toy["aoi"], s.time.values[0], s.time.values[-1],
                       activity=toy["activity"])
    try:
        panels = _closeup_axes(fig)
        assert len(panels) == 4 and not any(_object_squares(p) for p in panels)
        assert not any("object" in p.get_title() for p in panels)
    finally:
        plt.close(fig)
    fig = contact_sheet(s, scenes, aoi=toy["aoi"])
    try:
        assert len(_closeup_axes(fig)) == 2 * 3
    finally:
        plt.close(fig)


def test_closeups_can_be_turned_off(toy: dict) -> None:
    s = toy["stack"]
    scenes = select_scenes(toy["clear"], n=3)
    fig = contact_sheet(s, scenes, aoi=toy["aoi"], closeups=0)
    try:
        assert len(fig.axes) == 3
    finally:
        plt.close(fig)
    fig = before_after(s, toy["aoi"], s.time.values[0], s.time.values[-1], zones=[])
    try:
        assert len(fig.axes) == 2
    finally:
        plt.close(fig)
    fig = contact_sheet(s, scenes)  # no AOI: no zones to show
    try:
        assert len(fig.axes) == 3
    finally:
        plt.close(fig)
