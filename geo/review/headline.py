"""The headline: three to five sentences a reporter can quote, each with its numbers.

The sentences rest on one number per date: the count of aircraft-sized objects on the
aprons (and revetments, where the site has them), the sum of ``objects`` over those zones'
rows of :func:`geo.activity_index`'s table. A date counts only when every one of those
rows is unflagged (a cloudy apron would count as an empty one), so a *clear date* below
means exactly that. Then:

1. the median count before and after the main change point, each with a distribution-free
   95% interval of the median (order statistics, :func:`median_interval`) and the number
   of clear dates it rests on; without a change point, the median over the whole period;
2. the date of the main change, its interval and the step of the activity index;
3. the busiest and quietest clear dates after the change (or over the period), ties to
   the earliest;
4. how many of the dates searched were clear, and what the others were lost to.

With radar (``fused``, the series of :func:`geo.fuse.fuse`), the number per date is the
fused aircraft-equivalent count of optical and radar instead, on every date either sensor
counted; the sentences say "optical and radar", and the last one says which dates each
sensor supplied.

Where the data are thin (fewer than :data:`MIN_CLEAR_DATES` clear dates on a side, or a
change interval wider than :data:`MAX_INTERVAL_DAYS`), the wording says "suggest",
"about" or "too few clear dates". Each sentence links to the figure anchors and the files
of the review folder it rests on.

Examples
--------
>>> import pandas as pd
>>> days = pd.date_range("2021-01-01", periods=12, freq="10D")
>>> act = pd.DataFrame({"date": days, "zone": "apron_a", "kind": "apron",
...                     "objects": [9, 8, 9, 7, 8, 9, 0, 1, 0, 0, 1, 0], "flagged": False})
>>> s = headline(act, {"date": "2021-02-25", "lower": "2021-02-20", "upper": "2021-03-02"},
...              pd.DataFrame({"date": days}))
>>> len(s), s[0].numbers["median_before"], s[0].numbers["median_after"]
(4, 8.5, 0.0)
>>> print(s[1].text)
The main change in apron activity came on 2021-02-25 (between 2021-02-20 and 2021-03-02, a 10-day interval).
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geo import errors
from geo.activity import OBJECT_KINDS
from geo.review.tables import change_table, main_change

__all__ = ["Sentence", "headline", "headline_html", "headline_text", "has_counts",
           "clear_counts", "fused_counts", "median_interval", "MIN_CLEAR_DATES", "MAX_INTERVAL_DAYS", "LEVEL"]

log = logging.getLogger(__name__)

LEVEL = 0.95
"""Coverage of the interval put on each median."""

MIN_CLEAR_DATES = 6
"""Fewest clear dates on a side for a firm sentence about it. Six is the fewest values
for which a distribution-free 95% interval of a median exists at all: with five, even
the smallest and largest value bound it with only 1 - 2 x 0.5^5 = 94% confidence. Below
it the headline says "about" and "too few clear dates to say how uncertain"."""

MAX_INTERVAL_DAYS = 60
"""Widest change interval (days from ``lower`` to ``upper``) for a firm date. Beyond two
months the change is placed in a season, not on a day: a spell of cloud or snow of that
length is common, and the review's own change rule asks each regime to span 60 days
(:func:`geo.when.change_points`, ``min_days``). Wider intervals are worded "the data
suggest ... about"."""

_KIND_WORDS = {"apron": "aprons", "revetment": "revetments"}
_REASON_WORDS = {"cloudy": "cloud", "snowy": "snow", "hazy": "haze"}
_OBJECTS = "aircraft-sized objects"


@dataclass(frozen=True)
class Sentence:
    """One headline sentence.

    Attributes
    ----------
    text
        The sentence, plain text.
    numbers
        The values it quotes, by name (counts, medians and their interval, ISO dates).
    links
        ``(label, href)`` pairs: the figure anchors of ``report.html`` and the files of
        the review folder (relative links) the sentence rests on.
    parts
        ``text`` in pieces, ``(piece, is_number)``: :func:`headline_html` shows the
        numbers and dates in bold. Empty: ``text`` is shown as it is.
    """

    text: str
    numbers: dict[str, Any] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()
    parts: tuple[tuple[str, bool], ...] = ()


class _Words:
    """Builds a sentence from words and (bold) numbers."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, bool]] = []

    def say(self, text: str) -> _Words:
        if text:
            self.parts.append((text, False))
        return self

    def num(self, text: str) -> _Words:
        self.parts.append((text, True))
        return self

    def sentence(self, synthetic: bool, numbers: dict[str, Any],
                 links: Sequence[tuple[str, str]]) -> Sentence:
        parts = list(self.parts)
        first, bold = parts[0]
        if synthetic:
            parts.insert(0, ("In this SYNTHETIC scenario, ", False))
        else:
            parts[0] = (first[:1].upper() + first[1:], bold)
        parts.append((".", False))
        text = "".join(p for p, _ in parts)
        return Sentence(text, numbers, tuple(links), tuple(parts))


def median_interval(values: Sequence[float] | np.ndarray, level: float = LEVEL
                    ) -> tuple[float, float] | None:
    """Distribution-free interval of the median from order statistics.

    With the ``n`` values sorted, the interval is ``(x[j], x[n - j + 1])`` (1-based) for
    the largest ``j`` with ``P(B <= j - 1) <= (1 - level) / 2``, ``B ~ Binomial(n, 1/2)``:
    it covers the median with at least ``level`` confidence whatever the distribution.

    Returns
    -------
    tuple of float, or None
        ``None`` when no such interval exists (fewer than 6 values at 95%).

    Examples
    --------
    >>> median_interval([3, 1, 2, 5, 4, 6])
    (1.0, 6.0)
    >>> median_interval([1, 2, 3, 4, 5]) is None
    True
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    tail = (1.0 - level) / 2.0
    j, cdf = 0, 0.0
    while j < n // 2:
        cdf += math.comb(n, j) / 2.0**n  # P(B <= j)
        if cdf > tail:
            break
        j += 1
    if j == 0:
        return None
    return float(x[j - 1]), float(x[n - j])


def clear_counts(activity: pd.DataFrame) -> pd.Series:
    """Aircraft-sized objects on the aprons (and revetments) per clear date.

    The sum of ``objects`` over the rows of kind ``apron`` or ``revetment``, for the
    dates on which every such row is unflagged and has a count; indexed by the date
    (normalised to the day), sorted.

    Raises
    ------
    geo.errors.AnalysisError
        The table lacks ``date``, ``kind``, ``objects`` or ``flagged``.

    Examples
    --------
    >>> act = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"] * 2 + ["2021-01-06"] * 2),
    ...     "zone": ["a", "b"] * 2, "kind": "apron", "objects": [2, 3, 4, 5],
    ...     "flagged": [False, False, False, True]})
    >>> clear_counts(act).to_dict()
    {Timestamp('2021-01-01 00:00:00'): 5}
    """
    missing = [c for c in ("date", "kind", "objects", "flagged") if c not in activity.columns]
    if missing:
        raise errors.AnalysisError(
            f"The activity table lacks {missing}; pass the table of geo.activity_index "
            "(or activity.csv), which has them.")
    rows = activity[activity["kind"].isin(OBJECT_KINDS)]
    dates = pd.to_datetime(rows["date"]).dt.normalize()
    counts = pd.to_numeric(rows["objects"], errors="coerce")
    bad = rows["flagged"].astype(bool) | counts.isna()
    frame = pd.DataFrame({"date": dates, "n": counts.fillna(0), "bad": bad})
    per_day = frame.groupby("date").agg(n=("n", "sum"), bad=("bad", "any"))
    out = per_day.loc[~per_day["bad"], "n"].astype(int).sort_index()
    out.name = "objects"
    return out


def _s(n: int) -> str:
    """Plural ending: 's' unless ``n`` is 1."""
    return "" if n == 1 else "s"


def _a(n: int) -> str:
    """The article before the number ``n`` read aloud: 'an' 8, 11, 18, 80..., else 'a'."""
    return "an" if str(n).startswith("8") or n in (11, 18) else "a"


def _fmt(value: float) -> str:
    """A count or median: '11', '10.5'."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _day(value: Any) -> str:
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def _where(activity: pd.DataFrame) -> tuple[str, int]:
    """('aprons and revetments', number of zones) of the object kinds present."""
    rows = activity[activity["kind"].isin(OBJECT_KINDS)]
    kinds = [k for k in OBJECT_KINDS if k in set(rows["kind"])] or ["apron"]
    zones = int(rows["zone"].nunique()) if "zone" in rows.columns else 0
    return " and ".join(_KIND_WORDS[k] for k in kinds), zones


def _median(words: _Words, counts: pd.Series, name: str, numbers: dict[str, Any],
            min_dates: int, side: str, day: str = "clear date") -> None:
    """'11 (95% interval of the median 7 to 13) on the 15 clear dates before the change'.

    Quotes ``numbers[name]`` (the median), ``name_low``/``name_high`` (its interval) and
    the number of clear dates; with fewer than ``min_dates`` dates, "about" and no interval.
    """
    n = len(counts)
    if n == 0:
        words.say(f"not known: no date {side} was clear over all of them" if day == "clear date"
                  else f"not known: no {day} {side}")
        return
    med = float(np.median(counts.to_numpy(dtype=float)))
    numbers[name] = med
    ci = median_interval(counts.to_numpy()) if n >= min_dates else None
    words.say("about " if ci is None else "").num(_fmt(med))
    if ci is None:
        words.say(f" (too few {_dates(day)} to say how uncertain: fewer than ").num(str(min_dates))
        words.say(")")
    else:
        numbers[f"{name}_low"], numbers[f"{name}_high"] = ci
        words.say(f" ({LEVEL:.0%} interval of the median ").num(_fmt(ci[0])).say(" to ")
        words.num(_fmt(ci[1])).say(")")
    words.say(" on the ").num(str(n)).say(f" {_dates(day, n)} {side}")


def _split(counts: pd.Series, change: pd.Series) -> tuple[pd.Series, pd.Series, int]:
    """Counts before and after a change; dates inside its interval go to neither side."""
    date, lower, upper = (pd.Timestamp(change[k]).normalize() for k in ("date", "lower", "upper"))
    idx = counts.index
    before = counts[(idx < date) & (idx <= lower)]
    after = counts[(idx >= date) & (idx >= upper)]
    return before, after, len(counts) - len(before) - len(after)


def _interval_days(change: pd.Series) -> int:
    return int((pd.Timestamp(change["upper"]) - pd.Timestamp(change["lower"])).days)


_LEVEL_LINKS = (("trend figure", "#fig-trend"), ("findings", "#findings"))


def _level_sentence(counts: pd.Series, change: pd.Series, where: str, zones: int,
                    min_dates: int, synthetic: bool, fused: bool = False,
                    dated_by: pd.Series | None = None) -> Sentence:
    """``change`` splits the dates (an episode's span); ``dated_by`` (default: ``change``)
    is the change whose interval says how well it is dated."""
    before, after, inside = _split(counts, change)
    wide = _interval_days(change if dated_by is None else dated_by) > MAX_INTERVAL_DAYS
    thin = wide or min(len(before), len(after)) < min_dates
    day = _DAY_FUSED if fused else "clear date"
    numbers: dict[str, Any] = {"zones": zones, "dates_in_interval": inside}
    w = _Words().say("the data suggest that " if thin else "")
    w.say(f"the median {_what(fused)} on the {where} (").num(str(zones))
    w.say(f" zone{_s(zones)}) was ")
    numbers.update(clear_dates_before=len(before), clear_dates_after=len(after))
    _median(w, before, "median_before", numbers, min_dates, "before the change", day)
    w.say(" and ")
    _median(w, after, "median_after", numbers, min_dates, "after it", day)
    if inside:
        w.say("; the ").num(str(inside)).say(f" {_dates(day, inside)} within the change's interval "
                                              f"count{'s' if inside == 1 else ''} on neither side")
    links = (*_LEVEL_LINKS, *_table_links(where, fused),
             ("change_points.csv", "change_points.csv"), ("objects.geojson", "objects.geojson"))
    return w.sentence(synthetic, numbers, links)


_DAY_FUSED = "date seen by optical or radar"


def _dates(day: str, n: int = 2) -> str:
    """'clear dates', 'dates seen by optical or radar' (plural unless ``n`` is 1).

    Examples
    --------
    >>> _dates(_DAY_FUSED), _dates("clear date", 1)
    ('dates seen by optical or radar', 'clear date')
    """
    head, _, tail = day.partition(" seen")
    return f"{head}{_s(n)}" + (f" seen{tail}" if tail else "")


def _what(fused: bool) -> str:
    """The measure in words."""
    return ("aircraft-equivalent count of optical and radar (fused)" if fused
            else f"count of {_OBJECTS}")


def _table_links(where: str, fused: bool) -> tuple[tuple[str, str], ...]:
    """The rows a level rests on: fused.csv with radar, else activity.csv."""
    if fused:
        return (("fused.csv: the fused series", "fused.csv"),
                (f"activity.csv rows: {where}, both sensors", "activity.csv"))
    return ((f"activity.csv rows: {where}, unflagged", "activity.csv"),)


def _no_change_sentence(counts: pd.Series, activity: pd.DataFrame, where: str, zones: int,
                        min_dates: int, synthetic: bool, fused: bool = False) -> Sentence:
    dates = pd.to_datetime(activity["date"])
    first, last = _day(dates.min()), _day(dates.max())
    day = _DAY_FUSED if fused else "clear date"
    numbers: dict[str, Any] = {"zones": zones, "period_start": first, "period_end": last}
    w = _Words()
    if len(counts) < min_dates:
        w.say("with only ").num(str(len(counts))).say(f" {_dates(day)}, there are too few {_dates(day)} "
                                                      "to say whether activity changed; ")
    else:
        w.say("no change point was found in apron activity "
              + ("(optical and radar) " if fused else "") + "from ").num(first).say(" to ")
        w.num(last).say(": ")
    w.say(f"the median {_what(fused)} on the {where} (").num(str(zones))
    w.say(f" zone{_s(zones)}) was ")
    numbers["clear_dates"] = len(counts)
    _median(w, counts, "median", numbers, min_dates, "of the period", day)
    links = (*_LEVEL_LINKS, *_table_links(where, fused),
             ("objects.geojson", "objects.geojson"))
    return w.sentence(synthetic, numbers, links)


def _step_words(change: pd.Series) -> tuple[str, dict[str, Any]]:
    """('fell' or 'rose', {step, index_before, index_after}) of a change ('', {}) without
    a step."""
    step = pd.to_numeric(pd.Series([change.get("step", change.get("size"))]),
                         errors="coerce").iloc[0]
    if pd.isna(step):
        return "", {}
    before = pd.to_numeric(pd.Series([change.get("before")]), errors="coerce").iloc[0]
    after = pd.to_numeric(pd.Series([change.get("after")]), errors="coerce").iloc[0]
    numbers: dict[str, Any] = {"step": float(step)}
    if pd.notna(before) and pd.notna(after):
        numbers.update(index_before=float(before), index_after=float(after))
    return ("fell" if step < 0 else "rose"), numbers


EPISODE_GAP_DAYS = 180
"""Changes in the same direction less than this apart, with none the other way between
them, are steps of one episode (a wind-down over months is found as two or three steps):
the headline names every step and counts "after" from the last one."""


def episode(change_points: Any, main: pd.Series) -> pd.DataFrame:
    """The steps of the main change's episode (see :data:`EPISODE_GAP_DAYS`), in date order.

    Examples
    --------
    >>> cp = pd.DataFrame({"date": ["2021-04-11", "2021-06-18", "2023-01-01"],
    ...                    "size": [-6.1, -5.3, 2.0]})
    >>> episode(cp, change_table(cp).iloc[0])["date"].dt.strftime("%m-%d").tolist()
    ['04-11', '06-18']
    """
    table = change_table(change_points).sort_values("date").reset_index(drop=True)
    size_col = "step" if "step" in table else "size" if "size" in table else None
    if size_col is None or len(table) < 2:
        return pd.DataFrame([main])
    sign = np.sign(pd.to_numeric(table[size_col], errors="coerce").fillna(0.0))
    k = int(np.argmin(np.abs(table["date"] - pd.Timestamp(main["date"]))))
    lo = hi = k
    gap = pd.Timedelta(days=EPISODE_GAP_DAYS)
    while lo > 0 and sign[lo - 1] == sign[k] and table["date"][lo] - table["date"][lo - 1] < gap:
        lo -= 1
    while (hi < len(table) - 1 and sign[hi + 1] == sign[k]
           and table["date"][hi + 1] - table["date"][hi] < gap):
        hi += 1
    return table.iloc[lo:hi + 1].reset_index(drop=True)


def _change_sentence(change: pd.Series, synthetic: bool, fused: bool = False,
                     further: pd.DataFrame | None = None) -> Sentence:
    days = _interval_days(change)
    date, lower, upper = (_day(change[k]) for k in ("date", "lower", "upper"))
    numbers: dict[str, Any] = {"change_date": date, "change_lower": lower,
                               "change_upper": upper, "interval_days": days}
    w = _Words()
    if days > MAX_INTERVAL_DAYS:
        w.say("the data suggest the main change in apron activity came about ").num(date)
        w.say(", somewhere between ").num(lower).say(" and ").num(upper).say(f" ({_a(days)} ")
        w.num(str(days)).say(f"-day interval, wider than {MAX_INTERVAL_DAYS} days: "
                             "too wide to date it closely)")
    else:
        w.say("the main change in apron activity came on ").num(date).say(" (between ")
        w.num(lower).say(" and ").num(upper).say(f", {_a(days)} ").num(str(days))
        w.say("-day interval)")
    verb, step = _step_words(change)
    numbers.update(step)
    measure = ("the fused aircraft-equivalent count (optical and radar)" if fused
               else "the apron activity index")
    fmt = "{:.1f}" if fused else "{:.3f}"
    if "index_before" in step:
        w.say(f": {measure} {verb} from ").num(fmt.format(step["index_before"]))
        w.say(" to ").num(fmt.format(step["index_after"]))
    if verb:
        w.say(" (a step of ").num(("{:+.1f}" if fused else "{:+.3f}").format(step["step"]))
        w.say(")")
    if further is not None and len(further):
        numbers["further_steps"] = [_day(d) for d in further["date"]]
        w.say("; it went on in ").num(str(len(further))).say(" further step" + _s(len(further)))
        w.say(" in the same direction, on ")
        for i, (_, more) in enumerate(further.iterrows()):
            w.say(", " if i else "").num(_day(more["date"]))
            w.say(" (between ").num(_day(more["lower"])).say(" and ").num(_day(more["upper"]))
            w.say(")")
    links = (("trend figure: the change and its interval", "#fig-trend"),
             ("before/after figure", "#fig-before_after"),
             (f"change_points.csv row: {date}", "change_points.csv"))
    return w.sentence(synthetic, numbers, links)


def _extremes_sentence(counts: pd.Series, after_change: bool, where: str, min_dates: int,
                       synthetic: bool, fused: bool = False) -> Sentence:
    span = "after the change" if after_change else "of the period"
    day = _DAY_FUSED if fused else "clear date"
    w = _Words()
    numbers: dict[str, Any] = {"clear_dates": len(counts)}
    if counts.empty:
        w.say(f"no {day} {span} names a busiest or quietest day")
        return w.sentence(synthetic, numbers, (("contact sheet", "#fig-contact_sheet"),))
    values = counts.round(1) if fused else counts.astype(int)
    kind = float if fused else int
    busy_day, busy = values.idxmax(), kind(values.max())  # first (earliest) of ties
    quiet_day, quiet = values.idxmin(), kind(values.min())
    ties = int((values == quiet).sum())
    numbers.update(busiest_date=_day(busy_day), busiest_count=busy,
                   quietest_date=_day(quiet_day), quietest_count=quiet, quietest_ties=ties)
    if len(counts) < min_dates:
        w.say("of only ").num(str(len(counts))).say(f" {_dates(day)} {span} (too few {_dates(day)} "
                                                     "to say what is typical), ")
    else:
        w.say("of the ").num(str(len(counts))).say(f" {_dates(day)} {span}, ")
    noun = "aircraft-equivalent (fused)" if fused else _OBJECTS
    w.say("the busiest was ").num(_day(busy_day)).say(" with ").num(_fmt(busy))
    w.say(f" {noun} on the {where}, the quietest ").num(_day(quiet_day)).say(" with ")
    w.num(_fmt(quiet))
    if ties > 1:
        w.say(" (").num(str(ties)).say(" dates share that count; the earliest is named)")
    days = f"{_day(busy_day)}, {_day(quiet_day)}"
    links = (("contact sheet", "#fig-contact_sheet"), ("trend figure", "#fig-trend"),
             (f"activity.csv rows: {where}, {days}", "activity.csv"),
             (f"objects.geojson features: {days}", "objects.geojson"))
    return w.sentence(synthetic, numbers, links)


def _lost_to(activity: pd.DataFrame, searched: pd.DatetimeIndex, clear: pd.DatetimeIndex
             ) -> dict[str, int]:
    """Dates not clear, by what their flagged apron rows give as reason (or 'not measured')."""
    rows = activity[activity["kind"].isin(OBJECT_KINDS)].copy()
    rows["day"] = pd.to_datetime(rows["date"]).dt.normalize()
    reason = rows["flag_reason"] if "flag_reason" in rows.columns else pd.Series("", rows.index)
    rows["why"] = reason.fillna("").astype(str).str.split(":").str[0].str.strip()
    rows["why"] = rows["why"].replace(_REASON_WORDS).replace("", "other flags")
    flagged = rows[rows["flagged"].astype(bool)]
    lost: dict[str, int] = {}
    for day in searched.difference(clear):
        whys = flagged.loc[flagged["day"] == day, "why"]
        why = str(whys.value_counts().sort_index().idxmax()) if len(whys) else (
            "no object count" if (rows["day"] == day).any() else "not measured")
        lost[why] = lost.get(why, 0) + 1
    return dict(sorted(lost.items(), key=lambda kv: (-kv[1], kv[0])))


def _usable_sentence(activity: pd.DataFrame, scenes: pd.DataFrame | None, counts: pd.Series,
                     where: str, zones: int, synthetic: bool) -> Sentence:
    dates = scenes["date"] if scenes is not None and "date" in scenes.columns \
        and len(scenes) else activity["date"]
    searched = pd.DatetimeIndex(pd.to_datetime(dates)).normalize().unique().sort_values()
    clear = pd.DatetimeIndex(counts.index).intersection(searched)
    lost = _lost_to(activity, searched, clear)
    n, k = len(searched), len(clear)
    share = 1 - k / n if n else 0.0
    numbers: dict[str, Any] = {"dates_searched": n, "dates_usable": k, "share_lost": share,
                               **{f"lost_{why.replace(' ', '_')}": c for why, c in lost.items()}}
    w = _Words().say("of the ").num(str(n)).say(" dates searched, ").num(str(k))
    w.say(" (").num(f"{1 - share:.0%}").say(") were clear over all ").num(str(zones))
    w.say(f" zones of {where} and are the dates counted")
    if lost:
        w.say("; ").num(str(n - k)).say(" (").num(f"{share:.0%}").say(") were lost: ")
        for i, (why, c) in enumerate(lost.items()):
            w.say(", " if i else "").num(str(c)).say(f" to {why}")
    w.say(". Every count above rests on those dates")
    links = (("scenes.csv: every date searched", "scenes.csv"),
             ("selected images", "#selected"), ("provenance", "#provenance"))
    return w.sentence(synthetic, numbers, links)


def _sensors_sentence(activity: pd.DataFrame, scenes: pd.DataFrame | None, counts: pd.Series,
                      fused: pd.DataFrame, synthetic: bool) -> Sentence:
    """Which dates each sensor supplied: optical clear dates, radar passes, both."""
    dates = scenes["date"] if scenes is not None and "date" in scenes.columns \
        and len(scenes) else activity["date"]
    searched = pd.DatetimeIndex(pd.to_datetime(dates)).normalize().unique()
    by = fused["sensors"].astype(str).value_counts()
    optical = int(fused["s2"].notna().sum())
    radar = int(fused["s1"].notna().sum())
    numbers: dict[str, Any] = {
        "dates_searched": len(searched), "dates_usable": len(counts),
        "optical_dates": optical, "radar_dates": radar,
        "only_optical": int(by.get("s2", 0)), "only_radar": int(by.get("s1", 0)),
        "both_sensors": int(by.get("s2+s1", 0)),
        "radar_scale": float(fused.attrs.get("scale", 1.0))}
    w = _Words().say("of the ").num(str(len(searched))).say(" optical dates searched, ")
    w.num(str(optical)).say(" were clear over the aprons; radar, which sees through cloud, "
                             "added ").num(str(radar)).say(" passes counted, so ")
    w.num(str(len(counts))).say(" dates carry a count (").num(str(numbers["only_optical"]))
    w.say(" optical only, ").num(str(numbers["only_radar"])).say(" radar only, ")
    w.num(str(numbers["both_sensors"])).say(" both). Radar counts are put on the optical "
                                            "scale: ")
    w.say(str(fused.attrs.get("calibration", "scale 1")))
    links = (("fused.csv: every date, its sensors", "fused.csv"),
             ("scenes.csv: every optical date searched", "scenes.csv"),
             ("which dates each sensor supplied", "#sensors"))
    return w.sentence(synthetic, numbers, links)


def fused_counts(fused: pd.DataFrame) -> pd.Series:
    """The fused aircraft-equivalent count per date (:func:`geo.fuse.fuse`'s ``value``).

    Indexed by the date (normalised to the day), sorted; dates without a value dropped.

    Examples
    --------
    >>> f = pd.DataFrame({"date": ["2021-01-02", "2021-01-01"], "value": [2.5, 3.0]})
    >>> fused_counts(f).tolist()
    [3.0, 2.5]
    """
    values = pd.Series(pd.to_numeric(fused["value"], errors="coerce").to_numpy(float),
                       index=pd.DatetimeIndex(pd.to_datetime(fused["date"])).normalize())
    out = values.dropna().groupby(level=0).mean().sort_index()
    out.name = "fused"
    return out


def has_counts(activity: pd.DataFrame) -> bool:
    """Whether an activity table carries what a headline needs (per-zone object counts).

    Examples
    --------
    >>> has_counts(pd.DataFrame())
    False
    """
    return not activity.empty and {"objects", "flagged", "kind", "date"} <= set(activity.columns)


def headline(activity: pd.DataFrame, change_points: Any, scenes: pd.DataFrame | None, *,
             synthetic: bool = False, min_clear_dates: int = MIN_CLEAR_DATES,
             fused: pd.DataFrame | None = None) -> list[Sentence]:
    """Three or four sentences a reporter can quote, each with its numbers and links.

    Parameters
    ----------
    activity
        The table of :func:`geo.activity_index` (or ``activity.csv``): ``date``,
        ``zone``, ``kind``, ``objects``, ``flagged`` (and ``flag_reason``).
    change_points
        What :func:`geo.when.change_points` returned, a change table (``date``,
        ``lower``, ``upper``; ``step`` or ``size``; ``before``, ``after``, as in
        ``change_points.csv``), or None. Its main change (:func:`main_change`) splits
        the period; clear dates inside its interval count on neither side.
    scenes
        The review's scene table (every date searched: ``date``); None to take the
        activity table's dates.
    synthetic
        The data are the synthetic scenario's: every sentence begins "In this SYNTHETIC
        scenario".
    min_clear_dates
        Fewest clear dates on a side for firm wording (:data:`MIN_CLEAR_DATES`).
    fused
        The fused optical and radar series of :func:`geo.fuse.fuse` (``date``,
        ``value``, ``sensors``, ``s2``, ``s1``): the medians, busiest and quietest dates
        rest on its values (every date either sensor counted), the sentences say
        "optical and radar", and the last sentence says which dates each sensor
        supplied. None: optical clear dates only. ``activity`` stays the optical table.

    Returns
    -------
    list of Sentence
        With a change: the median count before and after it, its date and interval,
        the busiest and quietest clear dates after it, the dates usable. Without: the
        median over the period (saying no change was found), the busiest and quietest
        dates, the dates usable.

    Raises
    ------
    geo.errors.AnalysisError
        The activity table lacks a needed column.

    Examples
    --------
    >>> from geo.testing.review import toy_inputs
    >>> toy = toy_inputs(n_dates=24)
    >>> s = headline(toy["activity"], toy["change_points"], None, synthetic=True)
    >>> all(x.text.startswith("In this SYNTHETIC scenario") for x in s)
    True
    """
    if "sensor" in activity.columns:  # activity.csv of a review with radar: optical rows
        activity = activity[activity["sensor"].astype(str) != "s1"]
    counts = clear_counts(activity)
    if activity.empty:
        raise errors.AnalysisError(
            "The activity table is empty: a headline needs the rows of geo.activity_index "
            "(or activity.csv) for at least one date.")
    both = fused is not None and not fused.empty
    if both:
        assert fused is not None
        counts = fused_counts(fused)
    where, zones = _where(activity)
    change = main_change(change_points)
    if change.empty:
        out = [_no_change_sentence(counts, activity, where, zones, min_clear_dates, synthetic,
                                   both),
               _extremes_sentence(counts, False, where, min_clear_dates, synthetic, both)]
    else:
        row = change.iloc[0]
        steps = episode(change_points, row)
        span = steps.iloc[0].copy()
        span["upper"] = steps["upper"].max()  # "after" starts after the episode's last step
        out = [_level_sentence(counts, span, where, zones, min_clear_dates, synthetic, both,
                               dated_by=row),
               _change_sentence(row, synthetic, both, further=steps[steps["date"] != row["date"]]),
               _extremes_sentence(_split(counts, span)[1], True, where, min_clear_dates,
                                  synthetic, both)]
    if both:
        assert fused is not None
        out.append(_sensors_sentence(activity, scenes, counts, fused, synthetic))
    else:
        out.append(_usable_sentence(activity, scenes, counts, where, zones, synthetic))
    log.debug("headline: %d sentences on %d clear dates", len(out), len(counts))
    return out


def _marked_up(sentence: Sentence) -> str:
    """The sentence as HTML, its numbers in <strong>."""
    if not sentence.parts:
        return html.escape(sentence.text)
    return "".join(f"<strong>{html.escape(p)}</strong>" if bold else html.escape(p)
                   for p, bold in sentence.parts)


def headline_html(sentences: Sequence[Sentence], *, title: str = "Headline") -> str:
    """The sentences as an HTML fragment: ``<section id='headline'>`` with a list.

    Numbers and dates are in ``<strong>``; each sentence is followed by its links.

    Examples
    --------
    >>> s = Sentence("Busiest on 2021-05-01 <b>.", {}, (("trend", "#fig-trend"),),
    ...              (("Busiest on ", False), ("2021-05-01", True), (" <b>.", False)))
    >>> print(headline_html([s]))  # doctest: +NORMALIZE_WHITESPACE
    <section id='headline'><h2>Headline</h2><ul><li>Busiest on
    <strong>2021-05-01</strong> &lt;b&gt;. <span class='links'>(see
    <a href='#fig-trend'>trend</a>)</span></li></ul></section>
    """
    items = []
    for s in sentences:
        links = ", ".join(f"<a href='{html.escape(href, quote=True)}'>{html.escape(label)}</a>"
                          for label, href in s.links)
        more = f" <span class='links'>(see {links})</span>" if links else ""
        items.append(f"<li>{_marked_up(s)}{more}</li>")
    return (f"<section id='headline'><h2>{html.escape(title)}</h2><ul>{''.join(items)}</ul>"
            "</section>")


def headline_text(sentences: Sequence[Sentence]) -> str:
    """The sentences as plain text, one paragraph each with its links below.

    Examples
    --------
    >>> print(headline_text([Sentence("Quiet.", {}, (("trend", "#fig-trend"),))]))
    - Quiet.
      see: trend (report.html#fig-trend)
    """
    lines = []
    for s in sentences:
        lines.append(f"- {s.text}")
        if s.links:
            lines.append("  see: " + "; ".join(
                f"{label} ({'report.html' + href if href.startswith('#') else href})"
                for label, href in s.links))
    return "\n".join(lines)
