"""The review: from an AOI and a period to a folder one can publish from.

:func:`run_review` chains the pipeline's public steps::

    search -> load -> zone clear fractions -> activity index -> change points
           -> select scenes -> figures, change map, CSV tables -> report.html

and writes one folder (see :data:`OUTPUTS`). Every number in it traces to a scene:
``scenes.csv`` lists every date with its item ids, clear fraction and why it was or was
not selected, and the report's provenance table gives each scene's processing baseline
and offset handling.

Examples
--------
>>> from geo.review import OUTPUTS
>>> sorted(OUTPUTS)[:3]
['activity.csv', 'before_after.png', 'change.tif']
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import errors
from geo import plot as gplot
from geo import report as greport
from geo._memory import return_freed_memory
from geo.aoi import AOI
from geo.aoi import load as load_aoi
from geo.select import (
    Basis,
    BeforeAfter,
    KeyDate,
    events_for,
    match_dates,
    read_dates,
    select_scenes,
)

__all__ = ["OUTPUTS", "BAGRAM_PERIOD", "ReviewPeriod", "ReviewResult", "run_review",
           "review_stack", "check_day", "check_period", "check_source", "choose_period",
           "latest_pass", "main_change", "pick_before_after", "change_points_table",
           "write_objects", "with_sources"]

log = logging.getLogger(__name__)

OUTPUTS: dict[str, str] = {
    "activity.csv": "activity index per (date, zone), as geo.activity_index returns it",
    "scenes.csv": "every date: item ids, clear fraction over key zones, selected, reason",
    "trend.png": "activity per zone over time, clear fraction, key dates, change point if found",
    "before_after.png": "a true-colour pair in one season, split at the change point or, "
                        "without one, at a key date (its title says which); change map, numbers",
    "contact_sheet.png": "the selected images in a grid",
    "zones.png": "the AOI's zones over a clear scene",
    "timelapse.gif": "the selected images, animated",
    "change.tif": "the change map between the before/after pair (Cloud Optimized GeoTIFF)",
    "change_points.csv": "each change found: date, interval, direction, size, sensor",
    "objects.geojson": "each aircraft-sized object detected, per date: zone, area, length, "
                       "confidence, item id (points, lon/lat)",
    "report.html": "self-contained report: figures, tables, method, provenance",
}
"""Files a review folder holds, with what each is."""

BAGRAM_PERIOD: tuple[str, str] = ("2020-10-01", "2025-09-30")
"""Bagram's default period: that of the BBC's 2025 review (late 2020 to 2025)."""

DEFAULT_YEARS = 5
"""Length of the default period of sites other than Bagram, in years."""

SENTINEL2_START = "2015-06-23"
"""Launch of Sentinel-2A: no pass is older."""

_STEPS = ("search", "load", "clear fractions", "activity index", "change points",
          "select scenes", "change map", "figures", "report")


@dataclass(frozen=True)
class ReviewPeriod:
    """A review's period and why it is that one.

    Attributes
    ----------
    start, end
        First and last day, inclusive.
    basis
        How it was chosen: ``"given"`` (both ends given), ``"bagram"`` (Bagram's default,
        :data:`BAGRAM_PERIOD`), ``"latest pass"`` (five years to the latest pass),
        ``"from start"`` / ``"from end"`` (one end given, the other derived), ``"stack"``
        (the first and last dates of the imagery given to :func:`review_stack`).
    why
        The reason in words, for the notes and the report.

    Examples
    --------
    >>> p = ReviewPeriod(pd.Timestamp("2020-10-01"), pd.Timestamp("2025-09-30"), "given",
    ...                  "as given (--start/--end)")
    >>> p.note
    'period: as given (--start/--end); 2020-10-01 to 2025-09-30'
    """

    start: pd.Timestamp
    end: pd.Timestamp
    basis: str
    why: str

    @property
    def note(self) -> str:
        """``"period: <why>; <start> to <end>"``, as the review's notes give it."""
        return f"period: {self.why}; {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"


@dataclass
class ReviewResult:
    """What :func:`run_review` produced.

    Attributes
    ----------
    out
        The review folder.
    files
        Output name -> path, for the files written.
    scenes
        The scene table (:func:`geo.select_scenes`).
    activity
        The activity table (:func:`geo.activity_index`).
    change_points
        What :func:`geo.when.change_points` returned (None if it could not run).
    provenance
        Every scene: id, date, platform, clear fraction, baseline, offset handling.
    before, after
        Dates of the before/after pair.
    synthetic
        Made from the synthetic scenario.
    n_items
        Items found by the search.
    notes
        Why the period is what it is, then steps that were skipped or degraded, in words.
    pair
        The before/after pair and what it was split at (:class:`geo.select.BeforeAfter`).
    period
        The period and why it was chosen (:class:`ReviewPeriod`).
    """

    out: Path
    files: dict[str, Path]
    scenes: pd.DataFrame
    activity: pd.DataFrame
    change_points: Any
    provenance: pd.DataFrame
    before: pd.Timestamp | None
    after: pd.Timestamp | None
    synthetic: bool
    n_items: int
    notes: list[str] = field(default_factory=list)
    pair: BeforeAfter | None = None
    period: ReviewPeriod | None = None

    @property
    def selected(self) -> pd.DataFrame:
        """The selected rows of :attr:`scenes`."""
        return self.scenes[self.scenes["selected"]]


def check_day(name: str, value: Any) -> pd.Timestamp:
    """Parse one end of a review period (a day, not in the future).

    Parameters
    ----------
    name
        ``"start"`` or ``"end"``, for the message.
    value
        Anything :class:`pandas.Timestamp` reads (``"2020-10-01"``, a date).

    Returns
    -------
    pandas.Timestamp
        The day (midnight, no time zone).

    Examples
    --------
    >>> check_day("start", "2020-10-01 14:00")
    Timestamp('2020-10-01 00:00:00')
    >>> check_day("start", "soon")
    Traceback (most recent call last):
    ...
    geo.errors.ReviewError: start 'soon' is not a date: use YYYY-MM-DD, e.g. 2020-10-01
    """
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise errors.ReviewError(
            f"{name} {value!r} is not a date: use YYYY-MM-DD, e.g. 2020-10-01"
        ) from exc
    if stamp is pd.NaT or pd.isna(stamp):
        raise errors.ReviewError(f"{name} {value!r} is not a date: use YYYY-MM-DD")
    stamp = stamp.tz_localize(None) if stamp.tzinfo else stamp
    today = pd.Timestamp.now().normalize()
    if stamp > today:
        raise errors.ReviewError(
            f"{name} {stamp.date()} is in the future (today is {today.date()}): no image "
            f"of it exists yet; give {today.date()} or an earlier date"
        )
    return stamp.normalize()


def check_period(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Parse and check a review period (start on or before end).

    Examples
    --------
    >>> check_period("2020-10-01", "2025-09-30")[0].year
    2020
    >>> check_period("2025-01-01", "2020-01-01")
    Traceback (most recent call last):
    ...
    geo.errors.ReviewError: start 2025-01-01 is after end 2020-01-01: give the earlier date as start
    """
    t0, t1 = check_day("start", start), check_day("end", end)
    if t0 > t1:
        raise errors.ReviewError(
            f"start {t0.date()} is after end {t1.date()}: give the earlier date as start"
        )
    return t0, t1


def _years(day: pd.Timestamp, years: int) -> pd.Timestamp:
    """The same day ``years`` calendar years later (earlier if negative)."""
    return pd.Timestamp(day) + pd.DateOffset(years=years)


def _n_years(years: int) -> str:
    """``"five years"``; digits above ten."""
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    count = words[years] if 0 <= years < len(words) else str(years)
    return f"{count} year{'' if years == 1 else 's'}"


def choose_period(site: str, start: Any = None, end: Any = None, *,
                  latest: Callable[[], pd.Timestamp], years: int = DEFAULT_YEARS,
                  ) -> ReviewPeriod:
    """The review period, from what was given, and why it is that one.

    - Both ends given: as given.
    - Neither, site ``bagram``: :data:`BAGRAM_PERIOD`, the BBC review's.
    - Neither, any other site: the ``years`` years ending at the latest available pass
      (``start = end - years + 1 day``).
    - Only ``start``: ``years`` years from it, cut at the latest pass if that lies in
      the future. Only ``end``: the ``years`` years ending on it.

    Parameters
    ----------
    site
        The AOI's name (:attr:`geo.aoi.AOI.name`).
    start, end
        The ends given (``None``: not given).
    latest
        Returns the date of the latest available pass; called only when needed (see
        :func:`latest_pass`).
    years
        Length of a derived period.

    Returns
    -------
    ReviewPeriod

    Raises
    ------
    geo.errors.ReviewError
        A given end is not a date or in the future, or start is after end.

    Examples
    --------
    >>> fake = lambda: pd.Timestamp("2026-11-28")
    >>> p = choose_period("shindand", latest=fake)
    >>> str(p.start.date()), str(p.end.date()), p.why
    ('2021-11-29', '2026-11-28', 'the five years ending at the latest available pass, 2026-11-28')
    >>> choose_period("bagram", latest=fake).basis
    'bagram'
    """
    if start is not None and end is not None:
        t0, t1 = check_period(start, end)
        return ReviewPeriod(t0, t1, "given", "as given (--start/--end)")
    if start is not None:
        return _from_start(check_day("start", start), latest, years)
    if end is not None:
        return _from_end(check_day("end", end), years)
    if site.lower() == "bagram":
        t0, t1 = check_period(*BAGRAM_PERIOD)
        return ReviewPeriod(t0, t1, "bagram", "Bagram's default period, the BBC review's "
                            "(its 2025 review of images from late 2020 to 2025)")
    t1 = check_day("latest pass", latest())
    return ReviewPeriod(_years(t1, -years) + pd.Timedelta(days=1), t1, "latest pass",
                        f"the {_n_years(years)} ending at the latest available pass, "
                        f"{t1:%Y-%m-%d}")


def _from_end(t1: pd.Timestamp, years: int) -> ReviewPeriod:
    """The period of a given end: the ``years`` years ending on it."""
    t0 = _years(t1, -years) + pd.Timedelta(days=1)
    return ReviewPeriod(t0, t1, "from end", f"end as given (--end), start {_n_years(years)} "
                        f"earlier, {t0:%Y-%m-%d} (no --start)")


def _from_start(t0: pd.Timestamp, latest: Callable[[], pd.Timestamp],
                years: int) -> ReviewPeriod:
    """The period of a given start: ``years`` years, cut at the latest pass if in the future."""
    t1 = _years(t0, years) - pd.Timedelta(days=1)
    if t1 <= pd.Timestamp.now().normalize():
        return ReviewPeriod(t0, t1, "from start", f"start as given (--start), end "
                            f"{_n_years(years)} later, {t1:%Y-%m-%d} (no --end)")
    t1 = max(check_day("latest pass", latest()), t0)
    return ReviewPeriod(t0, t1, "from start", f"start as given (--start), end the latest "
                        f"available pass, {t1:%Y-%m-%d} ({_n_years(years)} after the start "
                        "is in the future; no --end)")


def latest_pass(area: AOI, source: str | Path, *, store: Any = None, offline: bool = False,
                today: Any = None, windows: tuple[int | None, ...] = (60, 365, None),
                collection: str | None = None) -> pd.Timestamp:
    """The day of the latest pass over an AOI that the source holds.

    Searches the last ``windows[0]`` days before today, then each wider window
    (``None``: back to the launch of Sentinel-2A, :data:`SENTINEL2_START`) until one
    holds an item, so a live archive costs one small search.

    Parameters
    ----------
    area
        The AOI.
    source, store, offline, collection
        As for :func:`geo.search`.
    today
        The day to look back from (default: today).
    windows
        Days to look back, in order.

    Returns
    -------
    pandas.Timestamp
        The UTC day of the latest item.

    Raises
    ------
    geo.errors.NoImagery
        No item at all since :data:`SENTINEL2_START`.
    geo.errors.OfflineMiss
        Offline, and the store has no answer to the search.

    Examples
    --------
    >>> latest_pass(load_aoi("bagram"), "earth-search")  # doctest: +SKIP
    Timestamp('2026-11-28 00:00:00')
    """
    from geo.search import search, solar_day

    end = pd.Timestamp(pd.Timestamp.now() if today is None else today).normalize()
    kwargs: dict[str, Any] = {"source": source, "progress": False, "collection": collection}
    if store is not None:
        kwargs.update(store=store, offline=offline)
    for days in windows:
        begin = end - pd.Timedelta(days=days) if days else pd.Timestamp(SENTINEL2_START)
        log.info("latest pass of %s: searching %s..%s", area.name, begin.date(), end.date())
        try:
            items = search(area, begin.date(), end.date(), **kwargs)
        except errors.EmptyCatalog:
            raise
        except errors.NoImagery:
            continue
        except errors.OfflineMiss as exc:
            raise errors.OfflineMiss(
                f"{exc} Without --start/--end, {area.name}'s period ends at its latest pass, "
                "which needs a search: give --start and --end to review from the store only."
            ) from exc
        return max(pd.Timestamp(solar_day(i)) for i in items)
    raise errors.NoImagery(
        f"No Sentinel-2 L2A item of {area.name} in {source} between {SENTINEL2_START} and "
        f"{end.date()}: check the source and the AOI"
    )


def check_source(source: str | Path) -> str:
    """Check a source names a known STAC API, an http(s) URL or a local catalog.

    Examples
    --------
    >>> check_source("earth-search")
    'earth-search'
    >>> check_source("nowhere")
    Traceback (most recent call last):
    ...
    geo.errors.UnknownSource: Source 'nowhere' is neither a known source (earth-search, planetary-computer), an http(s) STAC API URL, nor a local catalog (a folder with items.parquet or items.ndjson, or such a file).
    """
    from geo.search import resolve_source

    resolve_source(source)  # the one place that knows what a source can be
    return str(source)


def _check_images(images: Any) -> int:
    if isinstance(images, bool) or not isinstance(images, int | np.integer) or images < 1:
        raise errors.ReviewError(
            f"images={images!r}: the number of images to select must be an integer >= 1 "
            "(the default is 30)"
        )
    return int(images)


def main_change(change_points: Any) -> pd.DataFrame:
    """The main change point as a one-row table (``date``, ``lower``, ``upper``), or empty.

    The main change of a :class:`geo.when.ChangePoints` is its largest step; of a table or
    list, the first row.

    Examples
    --------
    >>> main_change({"date": "2021-08-01"})["date"].dt.strftime("%Y-%m-%d").tolist()
    ['2021-08-01']
    >>> main_change(None).empty
    True
    """
    main = getattr(change_points, "main", None)  # geo.when.ChangePoints: the largest step
    table = gplot.change_table(main.to_frame().T if isinstance(main, pd.Series)
                               else change_points)
    return table.head(1)


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


def run_review(
    aoi: AOI | str | Path,
    *,
    source: str | Path = "earth-search",
    start: Any = None,
    end: Any = None,
    images: int = 30,
    out: str | Path = "review",
    offline: bool = False,
    progress: bool = True,
    store: Any = None,
    resolution: float = 10,
    key_dates: tuple[KeyDate, ...] | None = None,
    min_clear: float = 0.6,
    source_label: str | None = None,
    timelapse_size: int = 520,
    collection: str | None = None,
    refresh: bool = False,
    skip_unreadable: bool = False,
    dates: str | Path | None = None,
    dates_tolerance: int = 3,
) -> ReviewResult:
    """Run the whole review of a site and write its folder.

    Parameters
    ----------
    aoi
        An :class:`geo.aoi.AOI`, a built-in AOI name (``"bagram"``) or a GeoJSON path.
    source
        ``"earth-search"``, ``"planetary-computer"``, a STAC API URL, or a local catalog
        (folder or ``.parquet``/``.ndjson`` file), as :func:`geo.search` takes.
    start, end
        The period (``YYYY-MM-DD``), inclusive. Without them, Bagram's default
        (:data:`BAGRAM_PERIOD`, the BBC review's) for ``"bagram"``, and for any other site
        the five years ending at the latest available pass; with one, the other is five
        years away (see :func:`choose_period`). The report and notes say which.
    images
        How many images to select (default 30).
    out
        The review folder (created; files in it are overwritten).
    offline
        Use only the local imagery store (no network); see :func:`geo.load`.
    progress
        Show progress bars (search, load) and log each step.
    store
        Local imagery store (folder) to read from and fill.
    resolution
        Pixel size in metres (10, 20 or 60).
    key_dates
        Events to include images around and mark; default: the site's timeline
        (:func:`geo.select.events_for`).
    min_clear
        Clear fraction below which a date is only selected as a last resort.
    source_label
        How figures and report name the source (default: ``source`` itself).
    timelapse_size
        Longest side of the timelapse frames, in pixels.
    collection
        Force one collection (default: Earth Search's ``sentinel-2-c1-l2a`` and
        ``sentinel-2-l2a``, one item per pass; see :func:`geo.search`).
    refresh
        Search the source again even if the store holds a recent result.
    skip_unreadable
        Go on past scenes whose files are missing or corrupt; ``scenes.csv`` lists each
        with the reason (default: stop with an error naming the item and file).
    dates, dates_tolerance
        Mirror a given review: a file of dates (one per line, or a ``scenes.csv``; see
        :func:`geo.select.read_dates`). Exactly those dates are measured and shown, each
        at the nearest pass within ``dates_tolerance`` days (``scenes.csv`` gives
        ``requested_date`` and ``days_off``; the notes list dates with no pass). Without
        ``start``/``end`` the period spans the dates.

    Returns
    -------
    ReviewResult

    Raises
    ------
    geo.errors.ReviewError
        Bad period or image count, too few dates to review.
    geo.errors.AOIError, geo.errors.AOINotFound
        The AOI cannot be loaded.
    geo.errors.UnknownSource
        The source is not a known name, URL or local catalog.
    geo.errors.NoImagery, geo.errors.SourceUnavailable, geo.errors.OfflineMiss
        From search and load.

    Examples
    --------
    >>> from geo.scenario import build, serve                    # doctest: +SKIP
    >>> folder = build("bagram", Path("/tmp/scn"), profile="small")  # doctest: +SKIP
    >>> res = run_review("bagram", source=folder, out="/tmp/review")  # doctest: +SKIP
    >>> int(res.scenes["selected"].sum())                        # doctest: +SKIP
    30
    """
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            check_day(name, value)  # a bad date fails before any search
    n = _check_images(images)
    source = check_source(source)
    area = aoi if isinstance(aoi, AOI) else load_aoi(aoi)
    wanted = read_dates(dates) if dates is not None else None
    if wanted and start is None and end is None:
        pad = pd.Timedelta(days=dates_tolerance)
        period = ReviewPeriod(wanted[0] - pad, wanted[-1] + pad, "dates",
                              f"the {len(wanted)} dates asked for (--dates), "
                              f"+/- {dates_tolerance} days")
    else:
        period = choose_period(area.name, start, end, latest=lambda: latest_pass(
            area, source, store=store, offline=offline, collection=collection))
    log.info("%s", period.note)
    items = _search(area, period.start, period.end, source, progress, store, offline,
                    collection=collection, refresh=refresh)
    requested = None
    if wanted:
        items, requested = _keep_requested(items, wanted, dates_tolerance)
        n = int(requested["date"].nunique())
    stack = _load(items, area, resolution, store, offline, progress,
                  on_error="skip" if skip_unreadable else "raise")
    return review_stack(stack, area, items=items, period=period, images=n, out=out,
                        key_dates=key_dates, min_clear=min_clear,
                        source_label=source_label or str(source),
                        timelapse_size=timelapse_size, requested=requested)


def _keep_requested(items: list[Any], wanted: list[pd.Timestamp], tolerance: int
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


def review_stack(
    stack: Any,
    aoi: AOI | str | Path,
    *,
    items: list[Any] | None = None,
    start: Any = None,
    end: Any = None,
    period: ReviewPeriod | None = None,
    images: int = 30,
    out: str | Path = "review",
    key_dates: tuple[KeyDate, ...] | None = None,
    min_clear: float = 0.6,
    source_label: str = "",
    timelapse_size: int = 520,
    clear: pd.DataFrame | None = None,
    activity: pd.DataFrame | None = None,
    change_points: Any = None,
    objects: pd.DataFrame | None = None,
    requested: pd.DataFrame | None = None,
) -> ReviewResult:
    """The review's analysis and outputs, from a loaded stack (steps 3 to 9 of :func:`run_review`).

    Parameters
    ----------
    stack
        Dataset from :func:`geo.load`.
    aoi
        Its AOI (object, built-in name or path).
    items
        The items loaded (for the count and the offset handling in the provenance).
    start, end
        The period (default: the stack's first and last dates).
    period
        The period and why it was chosen (:func:`choose_period`); overrides ``start``
        and ``end``.
    clear, activity, change_points
        Precomputed results of :func:`geo.mask.zone_clear_fraction`,
        :func:`geo.activity_index` and :func:`geo.when.change_points`; computed when None.
    objects
        The objects table of :func:`geo.activity.analyse` that goes with a precomputed
        ``activity`` (for ``objects.geojson``); found with the activity when that is None.
    requested
        The match of a newsroom's dates to passes (:func:`geo.select.match_dates`):
        added to ``scenes.csv`` and the notes.
    images, out, key_dates, min_clear, source_label, timelapse_size
        As for :func:`run_review`.

    Examples
    --------
    >>> import tempfile
    >>> from geo.testing.review import toy_inputs
    >>> toy = toy_inputs(n_dates=12)
    >>> res = review_stack(toy["stack"], toy["aoi"], images=6, out=tempfile.mkdtemp(),
    ...                    clear=toy["clear"], activity=toy["activity"],
    ...                    change_points=toy["change_points"], source_label="toy")
    >>> int(res.scenes["selected"].sum()), sorted(res.files)[0]
    (6, 'activity.csv')
    """
    times = pd.DatetimeIndex(stack["time"].values)
    period = period or _stack_period(times, start, end)
    t0, t1 = period.start, period.end
    n = _check_images(images)
    area = aoi if isinstance(aoi, AOI) else load_aoi(aoi)
    events = key_dates if key_dates is not None else events_for(area)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    items = list(items or [])
    notes: list[str] = []
    synthetic = _is_synthetic(stack, items)
    if clear is None:
        clear = _clear_fractions(stack, area)
    _check_some_clear(clear, area, t0, t1)
    if activity is None:
        activity, objects = _activity(stack, area)
    if activity.attrs.get("reference"):
        notes.append(f"empty state fitted to {activity.attrs['reference']}")
    changes = change_points if change_points is not None else _change_points(activity, notes)
    _step(5, "select scenes")
    scenes = select_scenes(clear, n=n, start=t0, end=t1, key_dates=events, aoi=area,
                           activity=activity if not activity.empty else None,
                           min_clear=min_clear)
    scenes = with_sources(scenes, stack)
    if requested is not None:
        scenes = _with_requested(scenes, requested, notes)
    files = _write_tables(folder, activity, scenes)
    files["change_points.csv"] = _atomic_csv(
        change_points_table(changes, synthetic=synthetic), folder / "change_points.csv")
    files["objects.geojson"] = write_objects(objects, stack, area, folder / "objects.geojson",
                                             activity=activity, synthetic=synthetic)
    pair = pick_before_after(scenes, changes, events)
    log.info("before/after: %s", pair.caption())
    change = _change_map(stack, pair.before, pair.after, folder, files, notes)
    _step(7, "figures")
    _figures(folder, files, stack=stack, aoi=area, scenes=scenes, activity=activity,
             changes=changes, events=events, pair=pair, change=change,
             label=source_label, synthetic=synthetic, timelapse_size=timelapse_size)
    provenance = greport.scene_provenance(stack, scenes, items=items or None)
    _step(8, "report")
    figures = {stem: files[name] for stem, name in (
        ("zones", "zones.png"), ("trend", "trend.png"), ("before_after", "before_after.png"),
        ("contact_sheet", "contact_sheet.png"), ("timelapse", "timelapse.gif")) if name in files}
    files["report.html"] = greport.write_report(
        folder / "report.html", site=_site_name(area), period=(t0, t1), source=source_label,
        scenes=scenes, activity=activity, provenance=provenance, change_points=changes,
        events=events, synthetic=synthetic, min_clear=min_clear, notes=notes, figures=figures,
        files=sorted({*files, "report.html"}), pair=pair, period_why=period.why,
    )
    log.info("review written to %s (%d files)", folder, len(files))
    return ReviewResult(out=folder, files=files, scenes=scenes, activity=activity,
                        change_points=changes, provenance=provenance, before=pair.before,
                        after=pair.after, synthetic=synthetic, n_items=len(items) or len(times),
                        notes=[period.note, *notes], pair=pair, period=period)


def _stack_period(times: pd.DatetimeIndex, start: Any, end: Any) -> ReviewPeriod:
    """The period of :func:`review_stack` without a :class:`ReviewPeriod`."""
    t0, t1 = check_period(times.min() if start is None else start,
                          times.max() if end is None else end)
    if start is not None and end is not None:
        return ReviewPeriod(t0, t1, "given", "as given (start, end)")
    if start is None and end is None:
        return ReviewPeriod(t0, t1, "stack", "the first and last dates of the imagery reviewed")
    given, other = ("start", "last") if start is not None else ("end", "first")
    return ReviewPeriod(t0, t1, "stack", f"{given} as given, the other end the {other} date "
                        "of the imagery reviewed")


def _step(i: int, name: str) -> None:
    return_freed_memory()
    log.info("step %d/%d: %s", i + 1, len(_STEPS), name)


def _site_name(area: AOI) -> str:
    """Short site name for titles: the AOI's ``site`` property up to its first comma."""
    site = str(area.properties.get("site") or "").split(",")[0].strip()
    return site or area.name


def _search(area: AOI, t0: pd.Timestamp, t1: pd.Timestamp, source: str, progress: bool,
            store: Any, offline: bool, *, collection: str | None = None,
            refresh: bool = False) -> list[Any]:
    from geo.search import search

    _step(0, f"search {source}")
    kwargs: dict[str, Any] = {"source": source, "progress": progress,
                              "collection": collection, "refresh": refresh}
    if store is not None:
        kwargs.update(store=store, offline=offline)
    items = search(area, t0.date(), t1.date(), **kwargs)
    if len(items) < 2:
        raise errors.NoImagery(
            f"{len(items)} item(s) of {area.name} between {t0.date()} and {t1.date()} in "
            f"{source}: a review needs at least 2; widen the period or check the source"
        )
    log.info("%d items found", len(items))
    return list(items)


def _load(items: list[Any], area: AOI, resolution: float, store: Any, offline: bool,
          progress: bool, on_error: str = "raise") -> Any:
    from geo.load import load

    _step(1, f"load {len(items)} scenes")
    return load(items, area, resolution=resolution, store=store, offline=offline,
                progress=progress, on_error=on_error)  # type: ignore[arg-type]


def _is_synthetic(stack: Any, items: list[Any]) -> bool:
    if bool(stack.attrs.get("synthetic", False)):
        return True
    return any(bool(getattr(i, "properties", {}).get("geo:synthetic", False)) for i in items)


def _clear_fractions(stack: Any, area: AOI) -> pd.DataFrame:
    from geo.mask import zone_clear_fraction

    _step(2, "clear fraction per zone")
    clear = zone_clear_fraction(stack, area)
    if "item_id" not in clear.columns and "item_id" in stack.coords:
        ids = pd.Series([str(v) for v in stack["item_id"].values],
                        index=pd.DatetimeIndex(stack["time"].values).normalize())
        ids = ids.groupby(level=0).agg(";".join)
        clear = clear.assign(item_id=pd.to_datetime(clear["date"]).dt.normalize().map(ids))
    return clear


def _check_some_clear(clear: pd.DataFrame, area: AOI, t0: Any, t1: Any,
                      minimum: float = 0.05) -> None:
    """Refuse a review where no date sees the site's key zones (all cloud or snow)."""
    if clear.empty or "clear_fraction" not in clear:
        return
    key = clear[clear["kind"].isin(("apron", "revetment", "parking", "yard"))]
    key = key if not key.empty else clear
    best = key.groupby("date")["clear_fraction"].mean().max()
    if not best >= minimum:
        raise errors.ReviewError(
            f"No date between {pd.Timestamp(t0).date()} and {pd.Timestamp(t1).date()} sees "
            f"{area.name}'s key zones clear (the best date is {100 * float(best or 0):.0f} % "
            "clear): the period is all cloud or snow. Widen the period or choose another."
        )


def _activity(stack: Any, area: AOI) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The activity table (as :func:`geo.activity_index` gives it) and its objects."""
    from geo.activity import analyse

    _step(3, "activity index")
    result = analyse(stack, area, keep_scores=False)
    return result.table, result.objects


CHANGE_COLUMNS = ("date", "lower", "upper", "direction", "size", "sensor", "before", "after",
                  "p_value", "synthetic")
"""Columns of ``change_points.csv``."""


def change_points_table(changes: Any, *, sensor: str = "s2", synthetic: bool = False
                        ) -> pd.DataFrame:
    """The changes :func:`geo.when.change_points` found (a ``ChangePoints`` or its
    table), as ``change_points.csv`` holds them.

    ``lower``/``upper`` bound the date (the last date before and the first after);
    ``size`` is the step in the apron activity index, ``direction`` its sign.

    Examples
    --------
    >>> cp = pd.DataFrame({"date": [pd.Timestamp("2021-05-23")], "lower": ["2021-05-20"],
    ...                    "upper": ["2021-05-25"], "before": [0.03], "after": [0.0],
    ...                    "step": [-0.03], "p_value": [1e-9]})
    >>> change_points_table(cp)[["date", "direction", "size", "sensor"]].values.tolist()
    [['2021-05-23', 'down', -0.03, 's2']]
    """
    frame = getattr(changes, "table", changes)  # a ChangePoints, or its table
    if frame is None or len(frame) == 0:
        return pd.DataFrame(columns=list(CHANGE_COLUMNS))
    frame = pd.DataFrame(frame).reset_index(drop=True)

    def day(col: str) -> pd.Series:
        return pd.to_datetime(frame[col]).dt.strftime("%Y-%m-%d")

    step = frame["step"].astype(float)
    return pd.DataFrame({
        "date": day("date"), "lower": day("lower"), "upper": day("upper"),
        "direction": np.where(step < 0, "down", "up"), "size": step, "sensor": sensor,
        "before": frame.get("before"), "after": frame.get("after"),
        "p_value": frame.get("p_value"), "synthetic": synthetic,
    })[list(CHANGE_COLUMNS)]


def write_objects(objects: pd.DataFrame | None, stack: Any, area: AOI, path: Path, *,
                  activity: pd.DataFrame | None = None, synthetic: bool = False) -> Path:
    """Write the detected objects as a GeoJSON FeatureCollection of points (lon/lat).

    One feature per object per date: ``date``, ``zone``, ``kind``, ``count`` (aircraft
    it holds), ``area_m2``, ``length_m``, ``width_m``, ``peak_score`` (robust standard
    deviations above the empty state), ``confidence`` (``"low"`` where the date's zone
    row is flagged for cloud, snow or haze, else ``"normal"``) and ``item_id``. Without
    objects (a review from a precomputed table) the collection is empty.

    Examples
    --------
    >>> import tempfile, json
    >>> from geo.testing.review import toy_inputs
    >>> toy = toy_inputs(n_dates=3)
    >>> p = write_objects(None, toy["stack"], toy["aoi"], Path(tempfile.mkdtemp()) / "o.geojson")
    >>> json.loads(p.read_text())["features"]
    []
    """
    from pyproj import Transformer

    features = []
    if objects is not None and not objects.empty:
        to_ll = Transformer.from_crs(area.epsg, 4326, always_xy=True)
        lon, lat = to_ll.transform(objects["x"].to_numpy(), objects["y"].to_numpy())
        ids = _items_by_day(stack)
        rows: list[dict[str, Any]] = objects.to_dict("records")  # type: ignore[assignment]
        for k, row in enumerate(rows):
            day = pd.Timestamp(row["date"]).normalize()
            point = [round(float(lon[k]), 7), round(float(lat[k]), 7)]
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": point},
                             "properties": _object_properties(row, day, ids.get(day, ""))})
    doc = {"type": "FeatureCollection", "name": "objects" + (" (SYNTHETIC)" if synthetic else ""),
           "synthetic": synthetic, "features": features}
    tmp = path.with_suffix(".geojson.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _object_properties(row: dict[str, Any], day: pd.Timestamp, item_id: str) -> dict[str, Any]:
    return {
        "date": f"{day:%Y-%m-%d}", "zone": str(row["zone"]), "kind": str(row["kind"]),
        "count": int(row["count"]), "area_m2": float(row["area_m2"]),
        "length_m": round(float(row["length_m"]), 1), "width_m": round(float(row["width_m"]), 1),
        "peak_score": round(float(row["peak_score"]), 2),
        "confidence": "low" if bool(row["flagged"]) else "normal", "item_id": item_id,
    }


def _items_by_day(stack: Any) -> dict[pd.Timestamp, str]:
    if "item_id" not in stack.coords:
        return {}
    times = pd.DatetimeIndex(stack["time"].values).normalize()
    return {t: str(i) for t, i in zip(times, stack["item_id"].values, strict=True)}


def _change_points(activity: pd.DataFrame, notes: list[str]) -> Any:
    _step(4, "change points")
    try:
        from geo.when import change_points
    except ImportError as exc:
        notes.append(f"change points not computed: geo.when is not available ({exc})")
        log.warning(notes[-1])
        return None
    try:
        return change_points(activity)
    except errors.AnalysisError as exc:
        notes.append(f"no change point: {exc}")
        log.warning(notes[-1])
        return None


def _change_map(stack: Any, before: pd.Timestamp, after: pd.Timestamp, folder: Path,
                files: dict[str, Path], notes: list[str]) -> Any:
    _step(6, f"change map {before.date()} -> {after.date()}")
    try:
        from geo.change import change_map, write_cog
    except ImportError as exc:
        notes.append(f"change map not made: geo.change is not available ({exc})")
        log.warning(notes[-1])
        return None
    times = pd.DatetimeIndex(stack["time"].values)
    b, a = (times[gplot.time_index(stack, d)] for d in (before, after))
    change = change_map(stack, b, a)
    path = folder / "change.tif"
    write_cog(change, path)
    files["change.tif"] = path
    return change


def _clearest_scene(stack: Any, scenes: pd.DataFrame) -> pd.Timestamp:
    """The selected date with the most clear pixels over the whole window (map background)."""
    sel = scenes[scenes["selected"]].sort_values(["clear_fraction", "date"],
                                                ascending=[False, True]).head(8)
    if "clear" not in stack:
        return pd.Timestamp(sel["date"].iloc[0])
    idx = [gplot.time_index(stack, d) for d in sel["date"]]
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


def _with_requested(scenes: pd.DataFrame, requested: pd.DataFrame, notes: list[str]
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


def _write_tables(folder: Path, activity: pd.DataFrame, scenes: pd.DataFrame) -> dict[str, Path]:
    files = {"activity.csv": folder / "activity.csv", "scenes.csv": folder / "scenes.csv"}
    _atomic_csv(activity, files["activity.csv"])
    table = scenes.copy()
    table["date"] = pd.to_datetime(table["date"]).dt.strftime("%Y-%m-%d")
    _atomic_csv(table, files["scenes.csv"])
    return files


def _atomic_csv(frame: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False, float_format="%.4f")
    os.replace(tmp, path)
    return path


def _figures(folder: Path, files: dict[str, Path], *, stack: Any, aoi: AOI,
             scenes: pd.DataFrame, activity: pd.DataFrame, changes: Any,
             events: tuple[KeyDate, ...], pair: BeforeAfter,
             change: Any, label: str, synthetic: bool, timelapse_size: int) -> None:
    import matplotlib.pyplot as plt

    site = _site_name(aoi)
    common: dict[str, Any] = {"source": label, "synthetic": synthetic}
    background = _clearest_scene(stack, scenes)
    jobs = {
        "zones.png": lambda p: gplot.aoi_map(aoi, p, stack=stack, date=background, site=site,
                                             **common),
        "trend.png": lambda p: gplot.trend(activity, p, scenes=scenes, events=events,
                                           change_points=changes, site=site, **common),
        "before_after.png": lambda p: gplot.before_after(stack, aoi, pair.before, pair.after, p,
                                                         change=change, activity=activity,
                                                         site=site, pair=pair, **common),
        "contact_sheet.png": lambda p: gplot.contact_sheet(stack, scenes, p, aoi=aoi, site=site,
                                                           **common),
    }
    for name, job in jobs.items():
        fig = job(folder / name)
        plt.close(fig)
        files[name] = folder / name
    files["timelapse.gif"] = gplot.timelapse(stack, scenes, folder / "timelapse.gif", aoi=aoi,
                                             site=site, size=timelapse_size, **common)
