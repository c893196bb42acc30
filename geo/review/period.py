"""A review's period: parsed from what the user gave, or chosen for the site, with the
reason in words."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from geo import errors
from geo.aoi import AOI

__all__ = ["BAGRAM_PERIOD", "DEFAULT_YEARS", "SENTINEL2_START", "ReviewPeriod", "check_day", "check_period", "choose_period", "latest_pass", "check_source"]

log = logging.getLogger(__name__)

BAGRAM_PERIOD: tuple[str, str] = ("2020-10-01", "2025-09-30")
"""Bagram's default period: that of the BBC's 2025 review (late 2020 to 2025)."""


DEFAULT_YEARS = 5
"""Length of the default period of sites other than Bagram, in years."""


SENTINEL2_START = "2015-06-23"
"""Launch of Sentinel-2A: no pass is older."""


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
