"""Choosing scenes: the before/after pair, a newsroom's own dates, each date's sources."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from geo import errors
from geo.plot import time_index
from geo.review.tables import main_change
from geo.select import (
    Basis,
    BeforeAfter,
    KeyDate,
    match_dates,
)

__all__ = ["pick_before_after", "keep_requested", "with_requested", "with_sources", "clearest_scene"]

log = logging.getLogger(__name__)


def _split_at(sel: pd.DataFrame, change_points: Any, events: tuple[KeyDate, ...]
              ) -> tuple[Basis, pd.Timestamp, pd.Timestamp, pd.Timestamp, str]:
    """(basis, split date, lower, upper, event label) of the before/after pair."""
    change = main_change(change_points)
    if not change.empty:
        row = change.iloc[0]
        return "change point", row["date"], row["lower"], row["upper"], ""
    first, last = sel["date"].min(), sel["date"].max()
    inside = sorted((e for e in events if e.required and first < e.date <= last),
                    key=lambda e: e.date)
    if inside:
        return "key date", inside[0].date, inside[0].date, inside[0].date, inside[0].label
    middle = pd.Timestamp(sel["date"].median()).normalize()
    return "median date", middle, middle, middle, ""


def pick_before_after(scenes: pd.DataFrame, change_points: Any = None,
                      events: tuple[KeyDate, ...] = (), *, settle_days: int = 180
                      ) -> BeforeAfter:
    """Choose the before/after pair among the selected scenes, and say what it is split at.

    The split: the main change point (:func:`main_change`); without one, the first
    required key date within the selected images' span; without any, their median date.
    *Before*: the clearest selected scene before the split (the change point's lower
    bound), the earliest on ties. *After*: among selected scenes at least ``settle_days``
    after the split (the upper bound), the one closest in day of year to *before* (same
    season: comparable sun and snow), then the clearest, then the earliest. When no
    selected scene lies on one side, an early and a later scene are taken and the result
    says so (``straddles`` False).

    Returns
    -------
    geo.select.BeforeAfter
        The two dates, the basis (``"change point"``, ``"key date"``, ``"median date"``)
        and the date split at; its :meth:`~geo.select.BeforeAfter.where` words captions.

    Examples
    --------
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2020-10-05", "2021-03-01", "2022-10-10",
    ...                   "2023-03-01"]), "clear_fraction": 1.0, "selected": True})
    >>> pair = pick_before_after(s, {"date": "2021-08-01"})
    >>> [d.date().isoformat() for d in (pair.before, pair.after)], pair.basis
    (['2020-10-05', '2022-10-10'], 'change point')
    >>> pick_before_after(s).where()
    'either side of 2021-12-20, the median date of the selected images (no change point, no key date)'
    """
    sel = scenes[scenes["selected"].astype(bool)].copy()
    if len(sel) < 2:
        raise errors.ReviewError("a before/after pair needs at least 2 selected images")
    sel["date"] = pd.to_datetime(sel["date"])
    basis, split, lower, upper, event = _split_at(sel, change_points, events)
    before_pool = sel[sel["date"] < lower]
    if before_pool.empty:
        before_pool = sel.iloc[: max(1, len(sel) // 2)]
    before = before_pool.sort_values(["clear_fraction", "date"], ascending=[False, True]).iloc[0]
    after_pool = sel[sel["date"] >= upper + pd.Timedelta(days=settle_days)]
    if after_pool.empty:
        after_pool = sel[sel["date"] > max(upper, before["date"])]
    if after_pool.empty:
        after_pool = sel[sel["date"] != before["date"]]
    doy = before["date"].day_of_year
    gap = (after_pool["date"].dt.day_of_year - doy).abs()
    after_pool = after_pool.assign(season_gap=np.minimum(gap, 365 - gap))
    after = after_pool.sort_values(["season_gap", "clear_fraction", "date"],
                                   ascending=[True, False, True]).iloc[0]
    b, a = pd.Timestamp(before["date"]), pd.Timestamp(after["date"])
    return BeforeAfter(b, a, basis, pd.Timestamp(split), event,
                       straddles=bool(b < lower and a >= upper))


def keep_requested(items: list[Any], wanted: list[pd.Timestamp], tolerance: int
                    ) -> tuple[list[Any], pd.DataFrame]:
    """The items of the passes nearest the wanted dates, and the match table."""
    from geo.search import solar_day

    table = match_dates([solar_day(i) for i in items], wanted, tolerance_days=tolerance)
    keep = set(table["date"].dropna())
    if len(keep) < 2:
        missing = ", ".join(f"{d:%Y-%m-%d}" for d in table.loc[table["date"].isna(),
                                                                 "requested_date"])
        raise errors.ReviewError(
            f"Only {len(keep)} of the {len(wanted)} dates asked for have a pass within "
            f"{tolerance} days (none for: {missing or '-'}); a review needs 2. Check the "
            "dates and the source, or widen --dates-tolerance.")
    return [i for i in items if pd.Timestamp(solar_day(i)) in keep], table


def clearest_scene(stack: Any, scenes: pd.DataFrame) -> pd.Timestamp:
    """The selected date with the most clear pixels over the whole window (map background)."""
    sel = scenes[scenes["selected"]].sort_values(["clear_fraction", "date"],
                                                ascending=[False, True]).head(8)
    if "clear" not in stack:
        return pd.Timestamp(sel["date"].iloc[0])
    idx = [time_index(stack, d) for d in sel["date"]]
    share = stack["clear"].isel(time=idx).mean(("y", "x")).compute().to_numpy()
    return pd.Timestamp(sel["date"].iloc[int(np.argmax(share))])


def with_sources(scenes: pd.DataFrame, stack: Any) -> pd.DataFrame:
    """Add each date's collection(s) and any reads skipped as unreadable to a scene table.

    ``collection`` comes from the stack's per-time coordinate of that name; ``unreadable``
    lists ``band: reason`` for the reads :func:`geo.load` skipped (``on_error="skip"``,
    recorded in ``stack.attrs["skipped"]``), empty where none was.

    Examples
    --------
    >>> from geo.testing.review import toy_stack
    >>> stack = toy_stack(n_dates=2)
    >>> t = pd.DataFrame({"date": pd.DatetimeIndex(stack["time"].values)})
    >>> sorted(with_sources(t, stack).columns)
    ['collection', 'date', 'unreadable']
    """
    dates = pd.to_datetime(scenes["date"]).dt.normalize()
    times = pd.DatetimeIndex(stack["time"].values).normalize()
    out = scenes.copy()
    if "collection" in stack.coords:
        by_day = pd.Series([str(v) for v in stack["collection"].values], index=times)
        by_day = by_day.groupby(level=0).agg(lambda v: ",".join(sorted(set(",".join(v).split(",")))))
        out["collection"] = dates.map(by_day).fillna("").to_numpy()
    else:
        out["collection"] = ""
    out["unreadable"] = dates.map(_skipped_by_day(stack)).fillna("").to_numpy()
    return out


def with_requested(scenes: pd.DataFrame, requested: pd.DataFrame, notes: list[str]
                    ) -> pd.DataFrame:
    """Say, per scene, which asked-for date it answers; note the dates with no pass."""
    found = requested.dropna(subset=["date"])
    by_pass = found.groupby("date").agg(
        requested_date=("requested_date", lambda v: ";".join(f"{d:%Y-%m-%d}" for d in v)),
        days_off=("days_off", lambda v: ";".join(f"{int(d):+d}" for d in v)))
    days = pd.to_datetime(scenes["date"]).dt.normalize()
    out = scenes.copy()
    for col in ("requested_date", "days_off"):
        out[col] = days.map(by_pass[col]).fillna("").to_numpy()
    off = found[found["days_off"] != 0]
    missing = requested[requested["date"].isna()]
    notes.append(
        f"measured the {len(requested)} dates asked for (--dates): {len(found) - len(off)} "
        f"on the day, {len(off)} at the nearest pass"
        + (f" (up to {int(off['days_off'].abs().max())} days off)" if len(off) else "")
        + (f", {len(missing)} with no pass within reach: "
           + ", ".join(f"{d:%Y-%m-%d}" for d in missing["requested_date"]) if len(missing)
           else ""))
    return out


def _skipped_by_day(stack: Any) -> pd.Series:
    """date -> 'item/band: reason; ...' for the reads the load skipped."""
    skipped = stack.attrs.get("skipped") or []
    if not skipped or "item_id" not in stack.coords:
        return pd.Series(dtype=object)
    times = pd.DatetimeIndex(stack["time"].values).normalize()
    day_of = {i: t for ids, t in zip(stack["item_id"].values, times, strict=True)
              for i in str(ids).split(",")}
    rows: dict[pd.Timestamp, list[str]] = {}
    for entry in skipped:
        day = day_of.get(str(entry.get("item_id")))
        if day is not None:
            rows.setdefault(day, []).append(
                f"{entry.get('item_id')}/{entry.get('band')}: {entry.get('reason')}")
    return pd.Series({d: "; ".join(v) for d, v in rows.items()}, dtype=object)
