"""The trend figure (issue 17): objects on the aprons first, axes set from usable dates.

Small hand-made activity tables; every expected number is computed here from the table
passed, never copied from the figure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from geo import errors
from geo.review.trend import OBJECTS_LABEL, apron_objects, trend

ZONES = (("apron_a", "apron"), ("apron_b", "apron"), ("rev_n", "revetment"),
         ("park", "parking"))


def _table(n: int = 16, seed: int = 1, kinds: tuple[str, ...] = ("apron", "revetment",
                                                                    "parking")) -> pd.DataFrame:
    """Activity ~0.05 and a few objects per zone; some dates flagged in some zones."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-05", periods=n, freq="10D")
    rows = []
    for i, day in enumerate(dates):
        for zone, kind in ZONES:
            if kind not in kinds:
                continue
            counted = kind in ("apron", "revetment")
            rows.append({"date": day, "zone": zone, "kind": kind,
                         "activity_index": float(rng.uniform(0.03, 0.07)),
                         "objects": int(rng.integers(0, 5)) if counted else pd.NA,
                         # flagged: an apron on date 3, the revetment on 7, parking on 10
                         "flagged": (i, zone) in {(3, "apron_b"), (7, "rev_n"), (10, "park")}})
    table = pd.DataFrame(rows)
    table["objects"] = table["objects"].astype("Int64")
    return table


def _outlier(table: pd.DataFrame, zone: str, when: int, **values: float) -> pd.DataFrame:
    """The table with a flagged outlier on the ``when``-th date of ``zone``."""
    out = table.copy()
    day = sorted(out["date"].unique())[when]
    row = (out["zone"] == zone) & (out["date"] == day)
    out.loc[row, "flagged"] = True
    for column, value in values.items():
        out.loc[row, column] = value
    return out


@pytest.fixture
def figures() -> Iterator[list[Figure]]:
    made: list[Figure] = []
    yield made
    for fig in made:
        plt.close(fig)


def _draw(made: list[Figure], table: pd.DataFrame, **kwargs: Any) -> Figure:
    fig = trend(table, **kwargs)
    made.append(fig)
    return fig


def _label(ax: Axes) -> str:
    return ax.get_ylabel().replace("\n", " ")


def _objects_line(ax: Axes) -> pd.Series:
    """The objects line's points (gap breaks dropped), indexed by date."""
    line = next(ln for ln in ax.get_lines() if ln.get_gid() == "objects")
    y = np.asarray(line.get_ydata(), dtype=float)
    x = pd.to_datetime(np.asarray(line.get_xdata()))
    keep = np.isfinite(y)
    return pd.Series(y[keep], index=x[keep])


def _edge_markers(ax: Axes, marker: str) -> list[Line2D]:
    return [ln for ln in ax.get_lines() if ln.get_marker() == marker]


def _expected_sums(table: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per date, apron + revetment objects summed: (unflagged dates, flagged dates)."""
    sums, flagged = {}, {}
    for day, rows in table.groupby("date"):
        aprons = rows[rows["kind"].isin(["apron", "revetment"])]
        total = sum(int(v) for v in aprons["objects"])
        (flagged if aprons["flagged"].any() else sums)[day] = float(total)
    return pd.Series(sums, dtype=float), pd.Series(flagged, dtype=float)


def test_objects_line_is_the_per_date_apron_sum(figures: list[Figure]) -> None:
    table = _table()
    fig = _draw(figures, table)
    good, bad = _expected_sums(table)
    line = _objects_line(fig.axes[0])
    assert list(line.index) == list(good.index)
    np.testing.assert_allclose(line.to_numpy(), good.to_numpy())
    # the parking zone's flag does not flag the date; the apron and revetment flags do
    assert len(bad) == 2 and len(good) == table["date"].nunique() - 2
    hollow = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "o"
              and ln.get_markerfacecolor() == "none"]
    drawn = {(pd.Timestamp(x), float(y)) for ln in hollow
             for x, y in zip(ln.get_xdata(), ln.get_ydata(), strict=True)}
    assert drawn == set(bad.items())


def test_objects_are_the_first_panel_then_index_panels_then_clear(
        figures: list[Figure]) -> None:
    table = _table()
    days = sorted(table["date"].unique())
    scenes = pd.DataFrame({"date": days, "clear_fraction": np.linspace(0.4, 1.0, len(days)),
                           "selected": [i % 4 == 0 for i in range(len(days))],
                           "item_ids": [f"S2A_T_{pd.Timestamp(d):%Y%m%d}" for d in days]})
    fig = _draw(figures, table, scenes=scenes)
    labels = [_label(ax) for ax in fig.axes]
    assert labels[0].startswith(OBJECTS_LABEL)
    assert "revetments included" in labels[0]
    assert labels[1:] == ["apron activity index", "revetment activity index",
                          "parking activity index", "clear fraction"]


def test_label_says_nothing_of_revetments_without_them(figures: list[Figure]) -> None:
    fig = _draw(figures, _table(kinds=("apron", "parking")))
    assert _label(fig.axes[0]) == OBJECTS_LABEL


@pytest.mark.parametrize("kind", ["apron", "parking"])
def test_flagged_outlier_does_not_stretch_the_index_axis(figures: list[Figure],
                                                          kind: str) -> None:
    table = _outlier(_table(), "apron_a" if kind == "apron" else "park", 5,
                     activity_index=1.0)
    fig = _draw(figures, table)
    ax = next(a for a in fig.axes if _label(a) == f"{kind} activity index")
    bottom, top = ax.get_ylim()
    usable = table[(table["kind"] == kind) & ~table["flagged"]]["activity_index"]
    assert top < 0.5 and top >= usable.max() and bottom == 0.0
    day = sorted(table["date"].unique())[5]
    at_edge = [(pd.Timestamp(x), y) for ln in _edge_markers(ax, "^")
               for x, y in zip(ln.get_xdata(), ln.get_ydata(), strict=True)]
    assert at_edge == [(pd.Timestamp(day), top)]


def test_flagged_outlier_does_not_stretch_the_objects_axis(figures: list[Figure]) -> None:
    table = _outlier(_table(), "apron_a", 9, objects=60)
    fig = _draw(figures, table)
    ax = fig.axes[0]
    good, bad = _expected_sums(table)
    bottom, top = ax.get_ylim()
    assert bottom == 0.0 and good.max() <= top < bad.max()
    day = sorted(table["date"].unique())[9]
    edge = _edge_markers(ax, "^")
    assert len(edge) == 1 and list(pd.to_datetime(edge[0].get_xdata())) == [day]
    assert list(edge[0].get_ydata()) == [top]
    assert not edge[0].get_clip_on()  # the whole triangle shows, on the edge


def test_negative_flagged_value_is_drawn_at_the_lower_edge(figures: list[Figure]) -> None:
    table = _outlier(_table(), "apron_b", 12, activity_index=-0.8)
    ax = _draw(figures, table).axes[1]
    bottom, top = ax.get_ylim()
    assert bottom == 0.0 and top < 0.5  # set from the usable values, all in [0, 0.07]
    low = _edge_markers(ax, "v")
    assert [float(y) for ln in low for y in ln.get_ydata()] == [bottom]


def test_table_without_objects_still_draws(figures: list[Figure]) -> None:
    table = _outlier(_table().drop(columns="objects"), "apron_a", 5, activity_index=1.0)
    assert apron_objects(table).empty
    fig = _draw(figures, table, site="old table")
    labels = [_label(ax) for ax in fig.axes]
    assert labels == ["apron activity index", "revetment activity index",
                      "parking activity index"]
    assert fig.axes[0].get_ylim()[1] < 0.5 and _edge_markers(fig.axes[0], "^")
    assert "aircraft-sized" not in " ".join(t.get_text() for t in fig.texts)


def test_objects_empty_for_aprons_leaves_the_panel_out(figures: list[Figure]) -> None:
    table = _table().assign(objects=pd.array([pd.NA] * len(_table()), dtype="Int64"))
    fig = _draw(figures, table)
    assert not _label(fig.axes[0]).startswith(OBJECTS_LABEL)


def test_apron_objects_reads_a_csv_round_trip(tmp_path: Path) -> None:
    table = _table()
    path = tmp_path / "activity.csv"
    table.to_csv(path, index=False)
    read = apron_objects(pd.read_csv(path))
    good, bad = _expected_sums(table)
    both = pd.concat([good, bad]).sort_index()
    assert list(read["date"]) == list(both.index)
    np.testing.assert_allclose(read["objects"], both.to_numpy())
    assert read["flagged"].sum() == len(bad)
    assert read.attrs["kinds"] == ["apron", "revetment"]


@pytest.mark.parametrize("synthetic", [True, False])
def test_synthetic_stamp(figures: list[Figure], synthetic: bool) -> None:
    fig = _draw(figures, _table(), synthetic=synthetic)
    texts = [t.get_text() for t in fig.texts]
    assert ("SYNTHETIC" in texts) is synthetic


def test_key_dates_and_change_point_are_marked_on_the_objects_panel(
        figures: list[Figure]) -> None:
    from geo.select import KeyDate

    table = _table()
    days = sorted(table["date"].unique())
    event = KeyDate(pd.Timestamp(days[4]), "a key date")
    changes = pd.DataFrame({"date": [days[8]], "lower": [days[7]], "upper": [days[9]]})
    fig = _draw(figures, table, events=[event], change_points=changes)
    ax = fig.axes[0]
    vertical = {float(ln.get_xdata()[0]) for ln in ax.get_lines()
                if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]}
    from matplotlib import dates as mdates

    assert {mdates.date2num(pd.Timestamp(days[4])),
            mdates.date2num(pd.Timestamp(days[8]))} <= vertical
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("change point") for t in legend)


def test_empty_table_is_refused() -> None:
    with pytest.raises(errors.ReviewError, match="activity table has no rows"):
        trend(_table().iloc[:0])
