"""The headline (:mod:`geo.review.headline`): its numbers, its caution, its links.

Every number is checked against a value computed here, independently, from the same
table (a pivot of the apron rows, numpy medians, scipy's binomial for the interval of
the median), never against a number written into the test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geo import errors
from geo.review.headline import (
    MAX_INTERVAL_DAYS,
    MIN_CLEAR_DATES,
    Sentence,
    headline,
    headline_html,
    headline_text,
    median_interval,
)
from geo.review.tables import change_points_table
from geo.testing.review import toy_inputs

CAUTION = re.compile(r"suggest|about|too few", re.IGNORECASE)
ANCHORS = {"#fig-trend", "#fig-before_after", "#fig-contact_sheet", "#findings", "#selected",
           "#provenance"}
FILES = {"activity.csv", "change_points.csv", "scenes.csv", "objects.geojson"}


# --- independent computations -------------------------------------------------------


def apron_counts(activity: pd.DataFrame) -> pd.Series:
    """Per date, objects summed over apron and revetment zones; dates with any such row
    flagged left out (a pivot, not the module's groupby)."""
    rows = activity[activity["kind"].isin(["apron", "revetment"])].copy()
    rows["day"] = pd.to_datetime(rows["date"]).dt.normalize()
    counts = rows.pivot_table(index="day", columns="zone", values="objects", aggfunc="sum")
    flags = rows.pivot_table(index="day", columns="zone", values="flagged", aggfunc="max")
    return counts[~flags.astype(bool).any(axis=1)].sum(axis=1)


def binomial_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Order-statistic interval of the median, from scipy's binomial distribution."""
    x = np.sort(values)
    n = x.size
    ok = [j for j in range(1, n // 2 + 1) if stats.binom.cdf(j - 1, n, 0.5) <= (1 - level) / 2]
    if not ok:
        return None
    j = max(ok)
    return float(x[j - 1]), float(x[n - j])


def table(before: list[int], after: list[int], *, start: str = "2021-01-01",
          step_days: int = 7, zones: int = 2) -> pd.DataFrame:
    """An activity table: per date ``zones`` apron rows sharing the count, plus a parking row."""
    counts = before + after
    days = pd.date_range(start, periods=len(counts), freq=f"{step_days}D")
    rows = []
    for day, count in zip(days, counts, strict=True):
        for z in range(zones):
            rows.append({"date": day + pd.Timedelta(hours=6), "zone": f"apron_{z}",
                         "kind": "apron", "objects": count if z == 0 else 0,
                         "flagged": False, "flag_reason": ""})
        rows.append({"date": day + pd.Timedelta(hours=6), "zone": "parking", "kind": "parking",
                     "objects": pd.NA, "flagged": False, "flag_reason": ""})
    frame = pd.DataFrame(rows)
    frame["objects"] = frame["objects"].astype("Int64")
    return frame


def change_between(activity: pd.DataFrame, k: int, *, pad_days: int = 0) -> dict[str, Any]:
    """A change between the k-th and (k+1)-th dates of a table (interval widened by pad)."""
    days = sorted(pd.to_datetime(activity["date"]).dt.normalize().unique())
    lower = days[k - 1] - pd.Timedelta(days=pad_days)
    upper = days[k] + pd.Timedelta(days=pad_days)
    return {"date": lower + (upper - lower) / 2, "lower": lower, "upper": upper,
            "step": -0.5, "before": 0.6, "after": 0.1}


def scenes_of(activity: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime(activity["date"]).dt.normalize().unique()})


# --- the toy review --------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy() -> dict[str, Any]:
    return toy_inputs(n_dates=60)


@pytest.fixture(scope="module")
def toy_headline(toy: dict[str, Any]) -> list[Sentence]:
    return headline(toy["activity"], toy["change_points"], scenes_of(toy["activity"]))


def test_medians_before_and_after_equal_those_of_the_table(toy, toy_headline) -> None:
    counts = apron_counts(toy["activity"])
    main = toy["change_points"].main
    before = counts[counts.index <= main["lower"]].to_numpy(dtype=float)
    after = counts[counts.index >= main["upper"]].to_numpy(dtype=float)
    level = toy_headline[0]
    assert level.numbers["clear_dates_before"] == before.size
    assert level.numbers["clear_dates_after"] == after.size
    assert level.numbers["median_before"] == np.median(before)
    assert level.numbers["median_after"] == np.median(after)
    interval = binomial_interval(after)
    assert interval is not None
    lo, hi = interval
    assert (level.numbers["median_after_low"], level.numbers["median_after_high"]) == (lo, hi)
    assert f"interval of the median {lo:.0f} to {hi:.0f}" in level.text
    assert f"on the {after.size} clear dates after it" in level.text
    assert "aprons and revetments" in level.text  # the toy site has both kinds


def test_change_sentence_quotes_the_main_change_and_its_interval(toy, toy_headline) -> None:
    main = toy["change_points"].main
    change = toy_headline[1]
    day = f"{main['date']:%Y-%m-%d}"
    assert change.numbers["change_date"] == day
    assert change.numbers["change_lower"] == f"{main['lower']:%Y-%m-%d}"
    assert change.numbers["interval_days"] == (main["upper"] - main["lower"]).days
    assert change.numbers["step"] == pytest.approx(float(main["step"]))
    assert day in change.text and f"{float(main['step']):+.3f}" in change.text
    assert ("fell" in change.text) == (float(main["step"]) < 0)
    assert (f"change_points.csv row: {day}", "change_points.csv") in change.links


def test_busiest_and_quietest_dates_after_the_change(toy, toy_headline) -> None:
    counts = apron_counts(toy["activity"])
    after = counts[counts.index >= toy["change_points"].main["upper"]]
    frame = pd.DataFrame({"date": after.index, "n": after.to_numpy()})
    busiest = frame.sort_values(["n", "date"], ascending=[False, True]).iloc[0]
    quietest = frame.sort_values(["n", "date"], ascending=[True, True]).iloc[0]
    extremes = toy_headline[2]
    assert extremes.numbers["busiest_date"] == f"{busiest['date']:%Y-%m-%d}"
    assert extremes.numbers["busiest_count"] == busiest["n"]
    assert extremes.numbers["quietest_date"] == f"{quietest['date']:%Y-%m-%d}"
    assert extremes.numbers["quietest_count"] == quietest["n"]
    assert f"{busiest['date']:%Y-%m-%d} with {int(busiest['n'])} aircraft-sized" in extremes.text


def test_usable_dates_out_of_searched(toy, toy_headline) -> None:
    activity = toy["activity"]
    counts = apron_counts(activity)
    searched = scenes_of(activity)
    usable = toy_headline[-1]
    assert usable.numbers["dates_searched"] == len(searched)
    assert usable.numbers["dates_usable"] == len(counts)
    lost = sum(v for k, v in usable.numbers.items() if k.startswith("lost_"))
    assert lost == len(searched) - len(counts)
    assert f"{len(searched)} dates searched, {len(counts)} (" in usable.text


def test_firm_wording_with_many_clear_dates(toy_headline) -> None:
    assert 3 <= len(toy_headline) <= 5
    assert not any(CAUTION.search(s.text) for s in toy_headline), [s.text for s in toy_headline]
    assert not any("SYNTHETIC" in s.text for s in toy_headline)


def test_csv_tables_give_the_same_headline(toy, toy_headline, tmp_path: Path) -> None:
    """activity.csv, change_points.csv and scenes.csv read back say the same."""
    toy["activity"].to_csv(tmp_path / "a.csv", index=False)
    change_points_table(toy["change_points"]).to_csv(tmp_path / "c.csv", index=False)
    scenes_of(toy["activity"]).to_csv(tmp_path / "s.csv", index=False)
    again = headline(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "c.csv"),
                     pd.read_csv(tmp_path / "s.csv"))
    assert [s.text for s in again] == [s.text for s in toy_headline]


# --- caution, synthetic, no change -------------------------------------------------------


def test_few_clear_dates_before_are_worded_cautiously() -> None:
    act = table([9, 8, 9], [1, 0, 2, 1, 0, 1, 0, 1])
    sentences = headline(act, change_between(act, 3), scenes_of(act))
    level = sentences[0]
    assert level.text.startswith("The data suggest")
    assert "about 9 (too few clear dates" in level.text
    assert "median_before_low" not in level.numbers
    assert level.numbers["median_before"] == np.median([9, 8, 9])
    assert "median_after_low" in level.numbers  # the side with enough dates keeps its interval


def test_many_clear_dates_on_both_sides_are_worded_firmly() -> None:
    before = [9, 8, 9, 7, 10, 9, 8]
    act = table(before, [1, 0, 2, 1, 0, 1, 0, 1])
    sentences = headline(act, change_between(act, len(before)), scenes_of(act))
    assert len(before) >= MIN_CLEAR_DATES
    assert not any(CAUTION.search(s.text) for s in sentences), [s.text for s in sentences]
    numbers = sentences[0].numbers
    assert (numbers["median_before_low"], numbers["median_before_high"]) \
        == binomial_interval(np.array(before, dtype=float))


def test_a_wide_change_interval_is_worded_cautiously() -> None:
    before = [9, 8, 9, 7, 10, 9, 8]
    act = table(before, [1, 0, 2, 1, 0, 1, 0, 1], step_days=30)
    change = change_between(act, len(before), pad_days=MAX_INTERVAL_DAYS)
    sentences = headline(act, change, scenes_of(act))
    assert sentences[1].numbers["interval_days"] > MAX_INTERVAL_DAYS
    assert "suggest" in sentences[1].text and "too wide" in sentences[1].text
    assert sentences[0].text.startswith("The data suggest")
    # dates inside the widened interval count on neither side, and it says so
    days = apron_counts(act).index
    lower, upper = pd.Timestamp(change["lower"]), pd.Timestamp(change["upper"])
    level = sentences[0].numbers
    inside = int(((days > lower) & (days < upper)).sum())
    assert inside > 0 and level["dates_in_interval"] == inside
    assert level["clear_dates_before"] == int((days <= lower).sum())
    assert level["clear_dates_after"] == int((days >= upper).sum())
    assert f"the {inside} clear dates within the change's interval" in sentences[0].text


def test_min_clear_dates_sets_the_bar() -> None:
    before = [9, 8, 9, 7, 10, 9, 8]
    act = table(before, [1, 0, 2, 1, 0, 1, 0, 1, 0, 1, 2, 0])
    change = change_between(act, len(before))
    strict = headline(act, change, scenes_of(act), min_clear_dates=len(before) + 1)
    assert "about 9 (too few clear dates" in strict[0].text
    assert "median_before_low" not in strict[0].numbers
    assert "median_after_low" in strict[0].numbers


def test_synthetic_iff_synthetic() -> None:
    act = table([9, 8, 9, 7, 10, 9, 8], [1, 0, 2, 1, 0, 1, 0, 1])
    change = change_between(act, 7)
    real = headline(act, change, scenes_of(act))
    fake = headline(act, change, scenes_of(act), synthetic=True)
    assert all(s.text.startswith("In this SYNTHETIC scenario, ") for s in fake)
    assert not any("SYNTHETIC" in s.text for s in real)
    assert all(s.text[0].isupper() and s.text.endswith(".") for s in real)
    assert [s.numbers for s in fake] == [s.numbers for s in real]


@pytest.mark.parametrize("changes", [None, pd.DataFrame(columns=["date", "lower", "upper"])])
def test_no_change_point(changes: object) -> None:
    counts = [3, 4, 2, 5, 3, 4, 3, 2, 4, 3]
    act = table(counts, [])
    sentences = headline(act, changes, scenes_of(act))
    assert len(sentences) == 3
    first = sentences[0]
    assert first.text.startswith("No change point was found")
    assert first.numbers["median"] == np.median(counts)
    assert (first.numbers["median_low"], first.numbers["median_high"]) \
        == binomial_interval(np.array(counts, dtype=float))
    assert first.numbers["period_start"] == "2021-01-01"
    assert not any(CAUTION.search(s.text) for s in sentences)


def test_no_change_point_with_few_clear_dates_says_too_few() -> None:
    act = table([3, 4, 2], [])
    first = headline(act, None, scenes_of(act))[0]
    assert "too few clear dates to say whether activity changed" in first.text
    assert "about 3" in first.text


def test_flagged_and_missing_dates_are_lost_and_counted() -> None:
    act = table([9, 8, 9, 7, 10, 9, 8], [1, 0, 2, 1, 0, 1, 0, 1])
    days = sorted(act["date"].unique())
    snowy = act["date"].isin(days[:2]) & (act["zone"] == "apron_1")
    act.loc[snowy, "flagged"], act.loc[snowy, "flag_reason"] = True, "snow: 10% clear < 70%"
    cloudy = (act["date"] == days[5]) & (act["zone"] == "apron_0")
    act.loc[cloudy, "flagged"], act.loc[cloudy, "flag_reason"] = True, "cloud: 3% clear < 70%"
    scenes = pd.concat([scenes_of(act), pd.DataFrame({"date": [pd.Timestamp("2022-06-01")]})])
    sentences = headline(act, change_between(act, 7), scenes)
    usable = sentences[-1].numbers
    assert usable["dates_searched"] == len(days) + 1
    assert usable["dates_usable"] == len(apron_counts(act)) == len(days) - 3
    assert (usable["lost_snow"], usable["lost_cloud"], usable["lost_not_measured"]) == (2, 1, 1)
    # a flagged date is not a clear date: the before side lost 3 of its 7
    assert sentences[0].numbers["clear_dates_before"] == 4


# --- HTML and text ------------------------------------------------------------------------


def test_html_is_escaped_and_links_every_sentence() -> None:
    act = table([9, 8, 9, 7, 10, 9, 8], [1, 0, 2, 1, 0, 1, 0, 1])
    days = sorted(act["date"].unique())
    smoke = (act["date"] == days[1]) & (act["zone"] == "apron_0")
    act.loc[smoke, "flagged"], act.loc[smoke, "flag_reason"] = True, "<i>smoke</i> & haze: 5%"
    sentences = headline(act, change_between(act, 7), scenes_of(act))
    page = headline_html(sentences)
    assert page.startswith("<section id='headline'><h2>")
    assert "<i>smoke" not in page and "&lt;i&gt;smoke&lt;/i&gt; &amp; haze" in page
    assert page.count("<li>") == len(sentences)
    hrefs = set(re.findall(r"href='([^']*)'", page))
    assert hrefs <= ANCHORS | FILES and {"#fig-trend", "activity.csv", "scenes.csv"} <= hrefs
    for item, sentence in zip(page.split("<li>")[1:], sentences, strict=True):
        assert "<a href=" in item  # every sentence links to what it rests on
        assert len(sentence.links) >= 1
    median = sentences[0].numbers["median_before"]
    assert f"<strong>{median:.0f}</strong>" in page


def test_text_lists_every_sentence_and_its_links() -> None:
    act = table([9, 8, 9, 7, 10, 9, 8], [1, 0, 2, 1, 0, 1, 0, 1])
    sentences = headline(act, change_between(act, 7), scenes_of(act))
    text = headline_text(sentences)
    for s in sentences:
        assert f"- {s.text}" in text
    assert "report.html#fig-trend" in text and "(change_points.csv)" in text
    assert "<" not in text


# --- the interval and the errors ------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5, 6, 7, 12, 31, 100])
def test_median_interval_matches_the_binomial(n: int) -> None:
    values = np.random.default_rng(n).poisson(5, size=n).astype(float)
    assert median_interval(values) == binomial_interval(values)
    assert (median_interval(values) is None) == (n < MIN_CLEAR_DATES)


def test_missing_columns_raise_naming_them() -> None:
    act = table([1, 2, 3], []).drop(columns="objects")
    with pytest.raises(errors.AnalysisError, match="objects"):
        headline(act, None, None)


def test_a_change_in_steps_is_named_whole_and_after_counts_from_its_last_step() -> None:
    """A wind-down found as two steps: both are named; "after" starts after the second."""
    act = table([9, 8, 9, 7, 10, 9, 8], [5, 4, 5, 5, 4, 5] + [0] * 8, step_days=10)
    days = apron_counts(act).index
    first, second = days[7], days[13]
    cp = pd.DataFrame({"date": [first, second], "lower": [days[6], days[12]],
                       "upper": [first, second], "size": [-4.0, -5.0],
                       "before": [8.5, 4.7], "after": [4.7, 0.0]})
    sentences = headline(act, cp, scenes_of(act))
    change = sentences[1]
    assert change.numbers["change_date"] == f"{second:%Y-%m-%d}"  # the larger step is main
    assert change.numbers["further_steps"] == [f"{first:%Y-%m-%d}"]
    assert "1 further step" in change.text
    level = sentences[0].numbers
    assert level["clear_dates_before"] == int((days <= days[6]).sum())
    assert level["clear_dates_after"] == int((days >= second).sum())  # not the 5s between
    assert level["median_after"] == 0
    far = cp.assign(date=[first, first + pd.Timedelta(days=400)],
                    upper=[first, first + pd.Timedelta(days=400)])
    assert "further" not in headline(act, far, scenes_of(act))[1].text
