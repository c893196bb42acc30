"""Choose the images of a review: N dates spread over the period, each clear over the key zones.

A newsroom reviewing a site over five years does not show every pass: it picks a few
dozen images, spread evenly in time, each the clearest of its stretch, and makes sure the
images either side of the key dates are there. :func:`select_scenes` does that from a
per-date table of clear fractions, deterministically, and says why each date was (or was
not) chosen.

The selection looks only at how clear each date is, never at the activity measured on it:
choosing images by what they show would cherry-pick the story.

Examples
--------
>>> import pandas as pd
>>> dates = pd.date_range("2021-01-01", periods=40, freq="5D")
>>> table = pd.DataFrame({"date": dates, "zone": "apron", "kind": "apron",
...                       "clear_fraction": [1.0 if i % 3 else 0.2 for i in range(40)]})
>>> scenes = select_scenes(table, n=8, key_dates=())
>>> int(scenes["selected"].sum())
8
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from geo import errors
from geo.aoi import ACTIVITY_KINDS, AOI

__all__ = ["KeyDate", "BAGRAM_EVENTS", "BeforeAfter", "events_for", "key_zone_table",
           "select_scenes", "read_dates", "match_dates"]

log = logging.getLogger(__name__)

Side = Literal["before", "after", "nearest"]
Basis = Literal["change point", "key date", "median date"]


@dataclass(frozen=True)
class KeyDate:
    """An event the review must show images around.

    Attributes
    ----------
    date
        The event's date.
    label
        Short description (used in reasons, figures and the report).
    side
        Which image to insist on: the last clear one ``before`` the event, the first
        clear one ``after`` it, or the ``nearest`` clear one either side.
    window_days
        How far from the event an image may be and still count.
    required
        Select an image for it (True), or only mark the event on figures (False).
    """

    date: pd.Timestamp
    label: str
    side: Side = "nearest"
    window_days: int = 60
    required: bool = True

    @classmethod
    def make(cls, date: Any, label: str, side: Side = "nearest", window_days: int = 60,
             required: bool = True) -> KeyDate:
        """Build a KeyDate from anything :func:`pandas.Timestamp` accepts.

        Examples
        --------
        >>> KeyDate.make("2021-07-02", "US forces leave", "before").date.year
        2021
        """
        if side not in ("before", "after", "nearest"):
            raise errors.ReviewError(
                f"key date {label!r}: side {side!r} is not one of 'before', 'after', 'nearest'"
            )
        return cls(pd.Timestamp(date).normalize(), label, side, int(window_days), required)


@dataclass(frozen=True)
class BeforeAfter:
    """The before/after pair of a review, and what it was split at (so captions say so).

    Attributes
    ----------
    before, after
        Dates of the two images.
    basis
        What the pair was split at: ``"change point"`` (the main change found by
        :func:`geo.when.change_points`), ``"key date"`` (no change point: the site's first
        key date that asks for an image) or ``"median date"`` (neither: the median date
        of the selected images).
    split
        The date split at: the change's date, the key date, or the median date.
    event
        The key date's label (``""`` for the other bases).
    straddles
        The pair lies on both sides of the split (``before`` before it, ``after`` on or
        after it); False when the selected images did not allow that.

    Examples
    --------
    >>> pair = BeforeAfter(pd.Timestamp("2020-10-05"), pd.Timestamp("2022-10-10"), "key date",
    ...                    pd.Timestamp("2021-07-02"), "US forces leave Bagram")
    >>> pair.where()
    'either side of the key date 2021-07-02 (US forces leave Bagram)'
    """

    before: pd.Timestamp
    after: pd.Timestamp
    basis: Basis
    split: pd.Timestamp
    event: str = ""
    straddles: bool = True

    def split_text(self) -> str:
        """The split in words: ``"the change on 2021-07-20"``, ``"the key date ..."``.

        Examples
        --------
        >>> BeforeAfter(pd.Timestamp("2020-10-05"), pd.Timestamp("2022-10-10"), "change point",
        ...             pd.Timestamp("2021-07-20")).split_text()
        'the change on 2021-07-20'
        """
        day = f"{pd.Timestamp(self.split):%Y-%m-%d}"
        if self.basis == "change point":
            return f"the change on {day}"
        if self.basis == "key date":
            return f"the key date {day}" + (f" ({self.event})" if self.event else "")
        return f"{day}, the median date of the selected images (no change point, no key date)"

    def where(self) -> str:
        """Where the pair lies, in words, true to what was done.

        Examples
        --------
        >>> BeforeAfter(pd.Timestamp("2020-10-05"), pd.Timestamp("2022-10-10"), "change point",
        ...             pd.Timestamp("2021-07-20")).where()
        'either side of the change on 2021-07-20'
        >>> BeforeAfter(pd.Timestamp("2022-01-05"), pd.Timestamp("2023-01-10"), "change point",
        ...             pd.Timestamp("2021-07-20"), straddles=False).where()[:35]
        'an early and a later selected image'
        """
        if self.straddles:
            return f"either side of {self.split_text()}"
        return (f"an early and a later selected image (the selected images do not lie on "
                f"both sides of {self.split_text()})")

    def caption(self) -> str:
        """One sentence naming both dates and where they lie.

        Examples
        --------
        >>> BeforeAfter(pd.Timestamp("2020-10-05"), pd.Timestamp("2022-10-10"), "median date",
        ...             pd.Timestamp("2021-09-01")).caption()[:46]
        'Before 2020-10-05 and after 2022-10-10, either'
        """
        return (f"Before {pd.Timestamp(self.before):%Y-%m-%d} and after "
                f"{pd.Timestamp(self.after):%Y-%m-%d}, {self.where()}.")


BAGRAM_EVENTS: tuple[KeyDate, ...] = (
    KeyDate.make("2020-02-29", "Doha agreement", "after", 90, required=False),
    KeyDate.make("2021-07-02", "US forces leave Bagram", "before", 60),
    KeyDate.make("2021-08-15", "Taliban take Bagram", "after", 60),
    KeyDate.make("2022-08-31", "Taliban parade (1st anniversary)", "nearest", 30),
    KeyDate.make("2024-08-14", "Parade and flypast (3rd anniversary)", "nearest", 30),
    KeyDate.make("2025-02-15", "Aircraft sighted (CSIS, Feb 2025)", "nearest", 30),
    KeyDate.make("2025-09-18", "US president: 'trying to get it back'", "before", 45),
)
"""The timeline of ../shared/DESIGN.md that Bagram's activity is read against."""

_SITE_EVENTS: dict[str, tuple[KeyDate, ...]] = {"bagram": BAGRAM_EVENTS, "oaix": BAGRAM_EVENTS}


def events_for(aoi: AOI | str | None) -> tuple[KeyDate, ...]:
    """The key dates of a site: from the AOI's ``events`` property, else the built-in timeline.

    An AOI GeoJSON may carry ``"properties": {"events": [{"date": "2021-07-02", "label":
    "...", "side": "before", "window_days": 60}, ...]}`` at the collection level.

    Examples
    --------
    >>> [e.label for e in events_for("bagram")][1]
    'US forces leave Bagram'
    >>> events_for("nowhere")
    ()
    """
    if aoi is None:
        return ()
    if isinstance(aoi, AOI):
        raw = aoi.properties.get("events")
        if raw:
            return tuple(_event_from_dict(e, aoi.name) for e in raw)
        keys = [aoi.name, str(aoi.properties.get("icao", ""))]
    else:
        keys = [str(aoi)]
    for key in keys:
        if key.lower() in _SITE_EVENTS:
            return _SITE_EVENTS[key.lower()]
    return ()


def _event_from_dict(raw: Mapping[str, Any], where: str) -> KeyDate:
    try:
        return KeyDate.make(raw["date"], str(raw.get("label", raw["date"])),
                            raw.get("side", "nearest"), int(raw.get("window_days", 60)),
                            bool(raw.get("required", True)))
    except (KeyError, ValueError, TypeError) as exc:
        raise errors.ReviewError(
            f"AOI {where!r}: event {raw!r} is malformed ({exc}); give at least a 'date' "
            "(YYYY-MM-DD) and a 'label'"
        ) from exc


def key_zone_table(
    clear: pd.DataFrame,
    *,
    kinds: Sequence[str] = ACTIVITY_KINDS,
    zones: Sequence[str] | None = None,
    activity: pd.DataFrame | None = None,
    items: Mapping[Any, Sequence[str] | str] | None = None,
) -> pd.DataFrame:
    """Collapse a per-(date, zone) table to one row per date over the key zones.

    Parameters
    ----------
    clear
        Long table with at least ``date`` and ``clear_fraction``, and ``zone``/``kind``
        (as :func:`geo.mask.zone_clear_fraction` returns); may carry ``item_id`` or
        ``item_ids`` and ``snow_fraction``. A table without ``zone`` is taken as already
        one row per date.
    kinds
        Zone kinds that count as key zones (used when ``zones`` is None and the table
        has a ``kind`` column).
    zones
        Explicit key zone names (overrides ``kinds``).
    activity
        Optional per-(date, zone) activity table (:func:`geo.activity_index`); its mean
        ``activity_index`` over the key zones is carried along as ``activity``.
    items
        Optional mapping date -> item id(s), used where the table has no item ids.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (day), ``item_ids`` (``;``-joined), ``clear_fraction`` (mean over
        the key zones), ``min_zone_clear``, ``snow_fraction`` (if given), ``n_zones``,
        ``activity`` (if given), sorted by date.

    Examples
    --------
    >>> t = pd.DataFrame({"date": ["2021-01-01"] * 2, "zone": ["a", "b"],
    ...                   "kind": ["apron", "control"], "clear_fraction": [0.5, 1.0]})
    >>> key_zone_table(t)["clear_fraction"].tolist()
    [0.5]
    """
    _require(clear, ("date", "clear_fraction"), "clear-fraction table")
    frame = clear.copy()
    frame["date"] = _days(frame["date"])
    if "zone" in frame.columns:
        if zones is not None:
            keep = frame["zone"].isin(list(zones))
            what = f"zones {list(zones)}"
        elif "kind" in frame.columns:
            keep = frame["kind"].isin(list(kinds))
            what = f"zone kinds {list(kinds)}"
        else:
            keep = pd.Series(True, index=frame.index)
            what = "zones"
        if not keep.any():
            raise errors.ReviewError(
                f"the clear-fraction table has no rows for the key {what}; it has zones "
                f"{sorted(frame['zone'].unique())[:8]}: pass zones=[...] or kinds=[...] that exist"
            )
        frame = frame[keep]
    grouped = frame.groupby("date", sort=True)
    out = pd.DataFrame({
        "clear_fraction": grouped["clear_fraction"].mean(),
        "min_zone_clear": grouped["clear_fraction"].min(),
        "n_zones": grouped.size(),
    })
    if "snow_fraction" in frame.columns:
        out["snow_fraction"] = grouped["snow_fraction"].mean()
    id_col = next((c for c in ("item_ids", "item_id") if c in frame.columns), None)
    if id_col is not None:
        out["item_ids"] = grouped[id_col].agg(_join_ids)
    elif items is not None:
        lookup = {pd.Timestamp(k).normalize(): v for k, v in items.items()}
        out["item_ids"] = [_join_ids([lookup.get(d, "")]) for d in out.index]
    else:
        out["item_ids"] = ""
    if activity is not None:
        out["activity"] = _mean_activity(activity, zones, kinds).reindex(out.index)
    out = out.reset_index()
    cols = ["date", "item_ids", "clear_fraction", "min_zone_clear", "n_zones"]
    cols += [c for c in ("snow_fraction", "activity") if c in out.columns]
    return out[cols]


def _mean_activity(activity: pd.DataFrame, zones: Sequence[str] | None,
                   kinds: Sequence[str]) -> pd.Series:
    _require(activity, ("date", "activity_index"), "activity table")
    act = activity.copy()
    act["date"] = _days(act["date"])
    if zones is not None and "zone" in act.columns:
        act = act[act["zone"].isin(list(zones))]
    elif "kind" in act.columns:
        act = act[act["kind"].isin(list(kinds))]
    return act.groupby("date")["activity_index"].mean()


def _join_ids(values: Iterable[Any]) -> str:
    seen: list[str] = []
    for value in values:
        parts = value if isinstance(value, list | tuple) else str(value).split(";")
        for part in parts:
            part = str(part).strip()
            if part and part != "nan" and part not in seen:
                seen.append(part)
    return ";".join(seen)


def _days(values: pd.Series) -> pd.Series:
    dates = pd.to_datetime(values, errors="coerce")
    if dates.isna().any():
        bad = values[dates.isna()].iloc[0]
        raise errors.ReviewError(f"date {bad!r} cannot be read as a date; use YYYY-MM-DD")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert(None)
    return dates.dt.normalize().astype("datetime64[ns]")


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise errors.ReviewError(
            f"the {what} lacks column(s) {missing}; it has {list(frame.columns)}"
        )


def select_scenes(
    clear: pd.DataFrame,
    *,
    n: int = 30,
    start: Any = None,
    end: Any = None,
    key_dates: Iterable[KeyDate] | None = None,
    aoi: AOI | None = None,
    kinds: Sequence[str] = ACTIVITY_KINDS,
    zones: Sequence[str] | None = None,
    activity: pd.DataFrame | None = None,
    items: Mapping[Any, Sequence[str] | str] | None = None,
    min_clear: float = 0.6,
) -> pd.DataFrame:
    """Pick ``n`` dates spread over the period, each the clearest over the key zones.

    The method, deterministic for a given table:

    1. Collapse the table to one row per date: the mean clear fraction over the key zones
       (zones of kind apron, revetment, parking, yard by default).
    2. For each required key date, take the clear date (at least ``min_clear``) nearest to
       it on the asked side (before / after / either) within its window; if none is clear
       enough, the key date gets no image of its own (a warning says so).
    3. Split the period into ``n`` equal strata of time. Each stratum without a key-date
       image gets its clearest date (ties: nearest the stratum's middle, then earliest),
       if that date is at least ``min_clear`` clear.
    4. If more than ``n`` are chosen (two key dates in one stratum), drop the cloudiest
       stratum picks; if fewer (empty or cloudy strata), add the date that fills the
       largest gap in time, clear-enough dates first, until ``n`` are chosen or none is
       left.

    Parameters
    ----------
    clear
        Per-(date, zone) clear fractions (:func:`geo.mask.zone_clear_fraction`), or a
        per-date table with ``date`` and ``clear_fraction``.
    n
        How many images to choose (at least 1). Fewer are chosen only when the table has
        fewer dates.
    start, end
        The period (default: the table's first and last dates). Dates outside it are
        listed but never chosen.
    key_dates
        Events to include images around; default :func:`events_for` ``(aoi)``.
    aoi
        Where to look up the default key dates.
    kinds, zones
        Which zones count as key zones (see :func:`key_zone_table`).
    activity
        Optional activity table, carried into the result as column ``activity`` (it
        plays no part in the choice).
    items
        Optional mapping date -> item id(s) when the table has no ``item_id`` column.
    min_clear
        Clear fraction below which a date is only used as a last resort.

    Returns
    -------
    pandas.DataFrame
        One row per date, sorted: ``date``, ``item_ids``, ``clear_fraction``, ``selected``
        (bool), ``reason``, then ``stratum``, ``key_date`` (event label or ""),
        ``min_zone_clear``, ``n_zones`` and, if given, ``snow_fraction`` and ``activity``.

    Raises
    ------
    geo.errors.ReviewError
        ``n`` < 1, start after end, no dates in the period, or missing columns.

    Examples
    --------
    >>> import pandas as pd
    >>> dates = pd.date_range("2021-06-01", "2021-09-30", freq="5D")
    >>> t = pd.DataFrame({"date": dates, "clear_fraction": 0.9})
    >>> s = select_scenes(t, n=4, key_dates=[KeyDate.make("2021-07-02", "x", "before")])
    >>> s.loc[s["key_date"] != "", "date"].dt.strftime("%Y-%m-%d").tolist()
    ['2021-07-01']
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise errors.ReviewError(f"n={n!r}: the number of images to select must be an integer >= 1")
    if not 0.0 <= min_clear <= 1.0:
        raise errors.ReviewError(f"min_clear={min_clear!r} must lie between 0 and 1")
    table = key_zone_table(clear, kinds=kinds, zones=zones, activity=activity, items=items)
    if table.empty:
        raise errors.ReviewError("the clear-fraction table is empty: no dates to select from")
    t0 = pd.Timestamp(start).normalize() if start is not None else table["date"].min()
    t1 = pd.Timestamp(end).normalize() if end is not None else table["date"].max()
    if t0 > t1:
        raise errors.ReviewError(
            f"start {t0.date()} is after end {t1.date()}: swap them or fix the period"
        )
    events = tuple(key_dates) if key_dates is not None else events_for(aoi)
    in_period = table["date"].between(t0, t1).to_numpy()
    if not in_period.any():
        raise errors.ReviewError(
            f"no dates between {t0.date()} and {t1.date()} in the table "
            f"({table['date'].min().date()}..{table['date'].max().date()}); widen the period"
        )
    return _select(table, int(n), t0, t1, events, in_period, min_clear)


def _select(table: pd.DataFrame, n: int, t0: pd.Timestamp, t1: pd.Timestamp,
            events: tuple[KeyDate, ...], in_period: np.ndarray, min_clear: float) -> pd.DataFrame:
    dates = table["date"].to_numpy(dtype="datetime64[ns]")
    clearf = table["clear_fraction"].to_numpy(dtype=float)
    clearf = np.where(np.isfinite(clearf), clearf, -1.0)
    edges = _edges(t0, t1, n)
    stratum = np.clip(np.searchsorted(edges, dates, side="right") - 1, 0, n - 1)
    reasons: dict[int, str] = {}
    key_label = [""] * len(table)
    chosen: dict[int, str] = {}  # index -> kind of pick: "key", "stratum", "fill"

    for event in events:
        if not event.required:
            continue
        idx = _key_pick(dates, clearf, in_period, event, min_clear)
        if idx is None:
            log.warning("no image at least %.0f%% clear within %d days %s %s (%s): no key-date "
                        "image for it", 100 * min_clear, event.window_days,
                        "of" if event.side == "nearest" else event.side, event.date.date(),
                        event.label)
            continue
        gap = (pd.Timestamp(dates[idx]) - event.date).days
        days_word = "day" if abs(gap) == 1 else "days"
        when = f"{abs(gap)} {days_word} {'before' if gap < 0 else 'after'}" if gap else "on the day"
        text = (f"key date: {_side_word(event.side)} {event.label} ({event.date.date()}), {when}, "
                f"{clearf[idx]:.0%} clear")
        key_label[idx] = f"{key_label[idx]}; {event.label}" if key_label[idx] else event.label
        reasons[idx] = f"{reasons[idx]}; {text}" if idx in reasons else text
        chosen[idx] = "key"

    covered = {int(stratum[i]) for i in chosen}
    best_in: dict[int, int] = {}
    for s in range(n):
        members = np.flatnonzero(in_period & (stratum == s))
        if members.size == 0:
            continue
        idx = _clearest(members, dates, clearf, edges[s], edges[s + 1])
        best_in[s] = idx
        if s in covered or clearf[idx] < min_clear or idx in chosen:
            continue
        chosen[idx] = "stratum"
        reasons[idx] = (f"clearest in stratum {s + 1}/{n} ({_span(edges, s)}): "
                        f"{clearf[idx]:.0%} clear over key zones")

    _trim(chosen, reasons, clearf, n)
    _fill(chosen, reasons, dates, clearf, in_period, n, min_clear)

    out = table.copy()
    out["selected"] = [i in chosen for i in range(len(table))]
    out["stratum"] = stratum + 1
    out["key_date"] = key_label
    out["reason"] = [reasons.get(i) or _why_not(i, dates, clearf, in_period, stratum, best_in,
                                                 chosen, min_clear, n, edges)
                     for i in range(len(table))]
    cols = ["date", "item_ids", "clear_fraction", "selected", "reason", "stratum", "key_date",
            "min_zone_clear", "n_zones"]
    cols += [c for c in ("snow_fraction", "activity") if c in out.columns]
    log.info("selected %d of %d dates (%d key dates)", int(out["selected"].sum()), len(out),
             sum(1 for v in chosen.values() if v == "key"))
    return out[cols].reset_index(drop=True)


def _edges(t0: pd.Timestamp, t1: pd.Timestamp, n: int) -> np.ndarray:
    """n + 1 stratum edges; the last edge is one day past ``t1`` so ``t1`` is inside."""
    lo = t0.to_datetime64().astype("datetime64[ns]").astype(np.int64)
    hi = (t1 + pd.Timedelta(days=1)).to_datetime64().astype("datetime64[ns]").astype(np.int64)
    return np.linspace(lo, hi, n + 1).astype(np.int64).astype("datetime64[ns]")


def _span(edges: np.ndarray, s: int) -> str:
    a = pd.Timestamp(edges[s]).date()
    b = (pd.Timestamp(edges[s + 1]) - pd.Timedelta(days=1)).date()
    return f"{a}..{b}"


def _side_word(side: Side) -> str:
    return {"before": "last clear image before", "after": "first clear image after",
            "nearest": "clear image nearest"}[side]


def _key_pick(dates: np.ndarray, clearf: np.ndarray, in_period: np.ndarray, event: KeyDate,
              min_clear: float) -> int | None:
    when = event.date.to_datetime64().astype("datetime64[ns]")
    window = np.timedelta64(event.window_days, "D")
    if event.side == "before":
        ok = (dates < when) & (dates >= when - window)
    elif event.side == "after":
        ok = (dates > when) & (dates <= when + window)
    else:
        ok = np.abs(dates - when) <= window
    candidates = np.flatnonzero(ok & in_period & (clearf >= min_clear))
    if candidates.size == 0:
        return None
    gap = np.abs((dates[candidates] - when).astype("timedelta64[D]").astype(np.int64))
    order = np.lexsort((dates[candidates], -clearf[candidates], gap))
    return int(candidates[order[0]])


def _clearest(members: np.ndarray, dates: np.ndarray, clearf: np.ndarray,
              lo: np.datetime64, hi: np.datetime64) -> int:
    middle = lo + (hi - lo) // 2
    dist = np.abs((dates[members] - middle).astype(np.int64))
    order = np.lexsort((dates[members], dist, -clearf[members]))
    return int(members[order[0]])


def _trim(chosen: dict[int, str], reasons: dict[int, str], clearf: np.ndarray, n: int) -> None:
    extra = len(chosen) - n
    if extra <= 0:
        return
    picks = [i for i, kind in chosen.items() if kind == "stratum"]
    picks.sort(key=lambda i: (clearf[i], -i))
    for i in picks[:extra]:
        del chosen[i]
        reasons[i] = (f"dropped: {n} images asked for and key dates took a place; "
                      f"the cloudiest stratum pick ({clearf[i]:.0%} clear) gave way")
    keys = sorted((i for i, kind in chosen.items() if kind == "key"))
    for i in keys[n:]:  # more key dates than images asked for
        del chosen[i]
        reasons[i] = f"key-date image dropped: only {n} images asked for"


def _fill(chosen: dict[int, str], reasons: dict[int, str], dates: np.ndarray,
          clearf: np.ndarray, in_period: np.ndarray, n: int, min_clear: float) -> None:
    days = dates.astype("datetime64[D]").astype(np.int64)
    while len(chosen) < n:
        free = np.array([i for i in np.flatnonzero(in_period) if i not in chosen], dtype=int)
        if free.size == 0:
            return
        good = free[clearf[free] >= min_clear]
        pool = good if good.size else free
        if chosen:
            picked = days[list(chosen)]
            gap = np.min(np.abs(days[pool][:, None] - picked[None, :]), axis=1)
        else:
            gap = np.zeros(pool.size, dtype=np.int64)
        order = np.lexsort((days[pool], -clearf[pool], -gap))
        idx = int(pool[order[0]])
        chosen[idx] = "fill"
        quality = "" if clearf[idx] >= min_clear else " (no clearer date left)"
        reasons[idx] = (f"fill: widest gap in time ({int(gap[order[0]])} days to the nearest "
                        f"chosen image), {clearf[idx]:.0%} clear{quality}")


def _why_not(i: int, dates: np.ndarray, clearf: np.ndarray, in_period: np.ndarray,
             stratum: np.ndarray, best_in: dict[int, int], chosen: dict[int, str],
             min_clear: float, n: int, edges: np.ndarray) -> str:
    if not in_period[i]:
        return "outside the review period"
    s = int(stratum[i])
    rivals = [j for j in chosen if stratum[j] == s]
    if rivals:
        j = rivals[0]
        return (f"stratum {s + 1}/{n} is shown by {pd.Timestamp(dates[j]).date()} "
                f"({clearf[j]:.0%} clear)")
    if clearf[i] < min_clear:
        return f"too cloudy: {max(clearf[i], 0):.0%} clear over key zones (< {min_clear:.0%})"
    return f"not needed: {n} images chosen"


# --- a newsroom's own dates -----------------------------------------------------------


def read_dates(path: str | Path) -> list[pd.Timestamp]:
    """The dates a review should measure, from a file: one date per line, or a CSV with
    a ``date`` column (a ``scenes.csv`` of an earlier review: its selected rows if it
    has a ``selected`` column).

    Blank lines and lines starting with ``#`` are skipped.

    Raises
    ------
    geo.errors.ReviewError
        The file is missing, empty, or holds a line that is not a date (named).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "dates.txt"
    >>> _ = p.write_text("# BBC review\\n2020-11-03\\n\\n2021-08-20\\n")
    >>> [str(d.date()) for d in read_dates(p)]
    ['2020-11-03', '2021-08-20']
    """
    p = Path(path)
    if not p.is_file():
        raise errors.ReviewError(f"--dates file {p} does not exist; give a file with one "
                                 "date (YYYY-MM-DD) per line, or a scenes.csv.")
    text = p.read_text(encoding="utf-8-sig")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if "," in first and "date" in [c.strip().lower() for c in first.split(",")]:
        table = pd.read_csv(p)
        table.columns = [c.strip().lower() for c in table.columns]
        if "selected" in table.columns:
            table = table[table["selected"].astype(str).str.lower().isin(("true", "1"))]
        lines = [(n + 2, str(v)) for n, v in enumerate(table["date"])]
    else:
        lines = [(n + 1, ln.strip()) for n, ln in enumerate(text.splitlines())
                 if ln.strip() and not ln.strip().startswith("#")]
    out = []
    for number, value in lines:
        try:
            out.append(pd.Timestamp(value[:10]).normalize())
        except ValueError:
            raise errors.ReviewError(
                f"--dates file {p}, line {number}: {value!r} is not a date; write "
                "YYYY-MM-DD, one per line.") from None
    if not out:
        raise errors.ReviewError(f"--dates file {p} holds no dates.")
    return sorted(set(out))


def match_dates(available: Sequence[Any], wanted: Sequence[Any], *,
                tolerance_days: int = 3) -> pd.DataFrame:
    """Match each wanted date to the nearest available pass within a tolerance.

    Returns one row per wanted date: ``requested_date``, ``date`` (the pass measured,
    NaT if none lies within ``tolerance_days``), ``days_off`` (signed, pass minus
    requested) and ``note``. Ties go to the earlier pass.

    Examples
    --------
    >>> t = match_dates(["2020-11-02", "2020-11-07"], ["2020-11-03", "2021-01-01"])
    >>> t["date"].dt.strftime("%Y-%m-%d").fillna("-").tolist(), t["days_off"].tolist()
    (['2020-11-02', '-'], [-1.0, nan])
    """
    days = pd.DatetimeIndex(sorted({pd.Timestamp(d).normalize() for d in available}))
    rows: list[tuple[Any, Any, float, str]] = []
    for want in (pd.Timestamp(w).normalize() for w in wanted):
        if len(days):
            off = (days - want).days.to_numpy()
            k = int(np.lexsort((off, np.abs(off)))[0])
            if abs(off[k]) <= tolerance_days:
                note = "same day" if off[k] == 0 else f"nearest pass {int(off[k]):+d} days"
                rows.append((want, days[k], float(off[k]), note))
                continue
        rows.append((want, pd.NaT, np.nan, f"no pass within {tolerance_days} days"))
    return pd.DataFrame(rows, columns=["requested_date", "date", "days_off", "note"])
