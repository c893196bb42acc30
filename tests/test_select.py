"""Selection of the review's images: spread, clearest, key dates, exact count, reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo import errors
from geo.select import (
    BAGRAM_EVENTS,
    BeforeAfter,
    KeyDate,
    events_for,
    key_zone_table,
    select_scenes,
)

START, END = pd.Timestamp("2020-10-01"), pd.Timestamp("2025-09-30")


def _table(seed: int = 0, freq: str = "5D", start: pd.Timestamp = START,
           end: pd.Timestamp = END) -> pd.DataFrame:
    """Long (date, zone) table like geo.mask.zone_clear_fraction, with a control zone."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in pd.date_range(start, end, freq=freq):
        sky = float(rng.uniform(0, 1) ** 0.5)
        for zone, kind in (("apron_a", "apron"), ("parking_a", "parking"), ("ctl", "control")):
            rows.append({"date": d, "zone": zone, "kind": kind, "item_id": f"S2A_{d:%Y%m%d}",
                         "clear_fraction": float(np.clip(sky + rng.normal(0, 0.02), 0, 1)),
                         "snow_fraction": 0.0})
    return pd.DataFrame(rows)


def test_exactly_n_selected_and_spread_over_the_period() -> None:
    scenes = select_scenes(_table(), n=30, key_dates=BAGRAM_EVENTS)
    chosen = scenes[scenes["selected"]]
    assert len(chosen) == 30
    # every sixth of the period holds at least 3 selected images (spread, not bunched)
    sixths = pd.cut(chosen["date"], pd.date_range(START, END + pd.Timedelta(days=1), periods=7))
    assert sixths.value_counts().min() >= 3
    gaps = chosen["date"].sort_values().diff().dt.days.dropna()
    assert gaps.max() < 4 * (END - START).days / 30


def test_each_stratum_pick_is_the_clearest_of_its_stratum() -> None:
    scenes = select_scenes(_table(seed=3), n=20, key_dates=())
    chosen = scenes[scenes["selected"]]
    assert len(chosen) == 20
    for row in chosen.itertuples():
        if not row.reason.startswith("clearest in stratum"):
            continue
        same = scenes[scenes["stratum"] == row.stratum]
        assert row.clear_fraction == pytest.approx(same["clear_fraction"].max())


def test_key_dates_are_included_on_the_right_side() -> None:
    table = _table(seed=1)
    scenes = select_scenes(table, n=30, key_dates=BAGRAM_EVENTS, min_clear=0.6)
    chosen = scenes[scenes["selected"]]
    before = chosen[chosen["key_date"].str.contains("US forces leave")]
    after = chosen[chosen["key_date"].str.contains("Taliban take")]
    assert len(before) == 1 and len(after) == 1
    departure, takeover = pd.Timestamp("2021-07-02"), pd.Timestamp("2021-08-15")
    b, a = before["date"].iloc[0], after["date"].iloc[0]
    assert b < departure and a > takeover
    # nearest clear-enough date on that side: nothing clear lies between it and the event
    days = key_zone_table(table)
    clear = days[days["clear_fraction"] >= 0.6]
    assert not clear["date"].between(b + pd.Timedelta(days=1), departure - pd.Timedelta(days=1)).any()
    assert not clear["date"].between(takeover + pd.Timedelta(days=1), a - pd.Timedelta(days=1)).any()
    assert "key date" in before["reason"].iloc[0]


def test_clearest_rather_than_cloudy_dates() -> None:
    dates = pd.date_range("2022-01-01", periods=60, freq="5D")
    clear = np.where(np.arange(60) % 4 == 0, 0.95, 0.1)
    table = pd.DataFrame({"date": dates, "clear_fraction": clear})
    scenes = select_scenes(table, n=15, key_dates=())
    assert scenes["selected"].sum() == 15
    assert (scenes.loc[scenes["selected"], "clear_fraction"] == 0.95).all()
    cloudy = scenes[(~scenes["selected"]) & (scenes["clear_fraction"] < 0.5)]
    assert cloudy["reason"].str.len().gt(0).all()


def test_fewer_dates_than_asked_selects_all_and_empty_strata_are_filled() -> None:
    dates = pd.to_datetime(["2021-01-01", "2021-01-06", "2021-01-11", "2023-06-01"])
    table = pd.DataFrame({"date": dates, "clear_fraction": [0.9, 0.8, 0.7, 0.95]})
    assert select_scenes(table, n=10, key_dates=())["selected"].all()
    scenes = select_scenes(table, n=3, key_dates=())
    assert scenes["selected"].sum() == 3
    assert scenes.loc[scenes["selected"], "reason"].str.len().gt(0).all()


def test_two_key_dates_in_one_stratum_still_give_exactly_n() -> None:
    table = _table(seed=5)
    keys = [KeyDate.make("2021-07-02", "a", "before"), KeyDate.make("2021-07-20", "b", "after")]
    scenes = select_scenes(table, n=6, key_dates=keys)
    assert scenes["selected"].sum() == 6
    assert (scenes["key_date"] != "").sum() == 2
    assert scenes["reason"].str.startswith("dropped").sum() == 1


def test_deterministic_and_output_columns() -> None:
    table = _table(seed=7)
    a = select_scenes(table, n=30, key_dates=BAGRAM_EVENTS)
    b = select_scenes(table.sample(frac=1.0, random_state=1), n=30, key_dates=BAGRAM_EVENTS)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:5]) == ["date", "item_ids", "clear_fraction", "selected", "reason"]
    assert a["date"].is_monotonic_increasing
    assert a["item_ids"].str.startswith("S2A_").all()
    assert a["reason"].str.len().gt(0).all()


def test_key_zones_exclude_control_zones() -> None:
    table = pd.DataFrame({"date": ["2021-01-01"] * 3, "zone": ["a", "b", "c"],
                          "kind": ["apron", "yard", "control"], "clear_fraction": [0.2, 0.4, 1.0]})
    days = key_zone_table(table)
    assert days["clear_fraction"].iloc[0] == pytest.approx(0.3)
    assert days["min_zone_clear"].iloc[0] == pytest.approx(0.2)


def test_activity_is_carried_but_not_used_to_choose() -> None:
    table = _table(seed=2)
    act = table[table["kind"] != "control"][["date", "zone", "kind"]].copy()
    act["activity_index"] = np.arange(len(act), dtype=float)
    plain = select_scenes(table, n=30)
    with_act = select_scenes(table, n=30, activity=act)
    assert (plain["selected"] == with_act["selected"]).all()
    assert with_act["activity"].notna().all()


def test_dates_outside_period_are_never_selected() -> None:
    scenes = select_scenes(_table(), n=10, start="2022-01-01", end="2022-12-31", key_dates=())
    chosen = scenes[scenes["selected"]]
    assert len(chosen) == 10
    assert chosen["date"].between("2022-01-01", "2022-12-31").all()
    assert (scenes.loc[~scenes["date"].between("2022-01-01", "2022-12-31"), "reason"]
            == "outside the review period").all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n=0"),
        ({"n": -3}, ">= 1"),
        ({"start": "2024-01-01", "end": "2023-01-01"}, "after end"),
        ({"start": "2030-01-01", "end": "2031-01-01"}, "no dates between"),
        ({"min_clear": 2.0}, "min_clear"),
        ({"zones": ["nope"]}, "no rows for the key zones"),
    ],
)
def test_bad_arguments_raise_review_error(kwargs: dict, match: str) -> None:
    with pytest.raises(errors.ReviewError, match=match):
        select_scenes(_table(), **kwargs)


def test_missing_columns_named() -> None:
    with pytest.raises(errors.ReviewError, match="clear_fraction"):
        select_scenes(pd.DataFrame({"date": ["2021-01-01"]}))


def test_events_for_site() -> None:
    import geo

    events = events_for(geo.aoi.load("bagram"))
    assert {e.date for e in events if e.required} >= {pd.Timestamp("2021-07-02"),
                                                     pd.Timestamp("2021-08-15")}
    assert events_for("elsewhere") == ()


@pytest.mark.parametrize(
    ("basis", "event", "straddles", "says", "never"),
    [
        ("change point", "", True, "either side of the change on 2021-08-01", "key date"),
        ("key date", "US forces leave Bagram", True,
         "either side of the key date 2021-08-01 (US forces leave Bagram)",
         "either side of the change"),
        ("median date", "", True, "either side of 2021-08-01, the median date",
         "either side of the change"),
        ("change point", "", False, "an early and a later selected image", "either side"),
    ],
)
def test_before_after_words_say_what_was_done(basis, event, straddles, says, never) -> None:
    pair = BeforeAfter(pd.Timestamp("2020-11-01"), pd.Timestamp("2022-11-05"), basis,
                       pd.Timestamp("2021-08-01"), event, straddles)
    assert says in pair.where() and never not in pair.where()
    assert pair.caption().startswith("Before 2020-11-01 and after 2022-11-05, ")
