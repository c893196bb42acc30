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
>>> from geo.review.folder import OUTPUTS
>>> sorted(OUTPUTS)[:3]
['activity.csv', 'before_after.png', 'change.tif']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import errors
from geo._memory import return_freed_memory
from geo.aoi import AOI
from geo.aoi import load as load_aoi
from geo.plot import aoi_map, save_figure, time_index
from geo.review.animation import timelapse
from geo.review.before_after import before_after, before_after_radar
from geo.review.closeups import key_zones
from geo.review.contact_sheet import contact_sheet
from geo.review.headline import has_counts, headline, headline_text
from geo.review.period import (
    ReviewPeriod,
    check_day,
    check_period,
    check_source,
    choose_period,
    latest_pass,
)
from geo.review.report import scene_provenance, write_report
from geo.review.scenes import (
    clearest_scene,
    keep_requested,
    pick_before_after,
    with_requested,
    with_sources,
)
from geo.review.sensors import (
    Radar,
    both_sensors,
    check_sensors,
    fused_change_points,
    fused_series,
    fused_table,
    radar_stack,
    radar_table,
)
from geo.review.tables import atomic_csv, change_points_table, write_objects, write_tables
from geo.review.trend import trend
from geo.select import (
    BeforeAfter,
    KeyDate,
    events_for,
    read_dates,
    select_scenes,
)

__all__ = ["OUTPUTS", "RADAR_OUTPUTS", "ReviewResult", "run_review", "review_stack"]

log = logging.getLogger(__name__)

OUTPUTS: dict[str, str] = {
    "activity.csv": "activity index per (date, zone), as geo.activity_index returns it",
    "scenes.csv": "every date: item ids, clear fraction over key zones, selected, reason",
    "trend.png": "aircraft-sized objects on the aprons, then activity per zone, over time; "
                 "clear fraction, key dates, change point if found",
    "before_after.png": "a true-colour pair in one season, split at the change point or, "
                        "without one, at a key date (its title says which); change map, "
                        "numbers, close-ups of the key zones with the objects outlined",
    "contact_sheet.png": "the selected images in a grid, each with close-ups of the key zones",
    "zones.png": "the AOI's zones over a clear scene",
    "timelapse.webp": "the selected images, animated (looping WebP, embedded in the report)",
    "change.tif": "the change map between the before/after pair (Cloud Optimized GeoTIFF)",
    "change_points.csv": "each change found: date, interval, direction, size, sensor",
    "objects.geojson": "each aircraft-sized object detected, per date: zone, area, length, "
                       "confidence, item id (points, lon/lat)",
    "headline.txt": "the report's headline: sentences a reporter can quote, with numbers, "
                    "intervals, dates and the rows behind them",
    "report.html": "self-contained report: headline, figures, tables, method, provenance",
}
"""Files a review folder holds, with what each is."""

RADAR_OUTPUTS: dict[str, str] = {
    "fused.csv": "the apron timeline of both sensors in aircraft-equivalent counts "
                 "(geo.fuse.fuse): date, value, low, high (95 % band), sensors, s2, s1",
    "before_after_radar.png": "a Sentinel-1 VV pair (one relative orbit, same dB stretch) "
                              "nearest the optical before/after dates",
}
"""Files a review folder holds in addition to :data:`OUTPUTS` when radar was reviewed
(``sensors`` with ``"s1"`` and Sentinel-1 passes in the period). With radar,
``activity.csv`` holds both sensors' rows (column ``sensor``) and ``change_points.csv``
the changes of the fused series (sensor ``"s2+s1"``)."""


_STEPS = ("search", "load", "clear fractions", "activity index", "change points",
          "select scenes", "change map", "figures", "report")


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
    radar
        The radar activity table (:func:`geo.sar_activity`), None without radar.
    fused
        The fused apron timeline (:func:`geo.fuse.fuse`), None without radar.
    sensors
        The sensors whose rows are in ``activity.csv``.
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
    radar: pd.DataFrame | None = None
    fused: pd.DataFrame | None = None
    sensors: tuple[str, ...] = ("s2",)

    @property
    def selected(self) -> pd.DataFrame:
        """The selected rows of :attr:`scenes`."""
        return self.scenes[self.scenes["selected"]]


def check_images(images: Any) -> int:
    if isinstance(images, bool) or not isinstance(images, int | np.integer) or images < 1:
        raise errors.ReviewError(
            f"images={images!r}: the number of images to select must be an integer >= 1 "
            "(the default is 30)"
        )
    return int(images)


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
    formats: str | tuple[str, ...] = ("png",),
    sensors: str | tuple[str, ...] | None = None,
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
    formats
        Figure formats: ``"png"`` (always written: the report embeds it) and ``"svg"``
        (vector copies for print and editing), e.g. ``("png", "svg")`` or ``"png,svg"``.
    sensors
        ``("s2",)`` optical only, or ``("s2", "s1")`` optical and radar (also as
        ``"s2,s1"``); see :func:`check_sensors`. Default: optical only for Earth Search
        (it has no loadable Sentinel-1), both for the Planetary Computer, other STAC APIs
        and local catalogs; where such a source has no Sentinel-1 RTC pass in the period
        the notes say so and the review goes on with optical imagery alone. With radar the
        Sentinel-1 passes are searched and loaded like the optical ones (same store,
        offline, progress and skip-unreadable options) and measured with
        :func:`geo.sar_activity`: ``activity.csv`` gets their rows, ``fused.csv`` the
        fused apron timeline (:func:`geo.fuse.fuse`), change points are found on it, and
        the figures and report show both sensors (:data:`RADAR_OUTPUTS`).

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
    geo.errors.UnsupportedSensor
        ``sensors`` asks for radar from a source without loadable Sentinel-1 (Earth
        Search), or names an unknown sensor.
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
    n = check_images(images)
    check_formats(formats)  # a bad format fails before any search
    source = check_source(source)
    chosen = check_sensors(sensors, source)  # radar from Earth Search fails before any search
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
        items, requested = keep_requested(items, wanted, dates_tolerance)
        n = int(requested["date"].nunique())
    on_error = "skip" if skip_unreadable else "raise"
    stack = _load(items, area, resolution, store, offline, progress, on_error=on_error)
    radar, notes = None, list[str]()
    if "s1" in chosen:
        _step(1, f"search {source} for Sentinel-1 RTC")
        radar, notes = radar_stack(area, period, source, resolution=resolution, store=store,
                              offline=offline, progress=progress, refresh=refresh,
                              on_error=on_error, required=sensors is not None)
    return review_stack(stack, area, items=items, period=period, images=n, out=out,
                        key_dates=key_dates, min_clear=min_clear,
                        source_label=source_label or str(source),
                        timelapse_size=timelapse_size, requested=requested, formats=formats,
                        radar=radar, notes=notes)


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
    formats: str | tuple[str, ...] = ("png",),
    radar: Any = None,
    radar_activity: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
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
    images, out, key_dates, min_clear, source_label, timelapse_size, formats
        As for :func:`run_review`.
    radar
        A Sentinel-1 stack from :func:`geo.load` (``sensor="s1"`` items) of the same AOI
        and period, or None (optical only). Orbits with fewer passes than
        :data:`geo.sar.MIN_REFERENCE_DATES` are left out (the notes say so).
    radar_activity
        Precomputed :func:`geo.sar_activity` table (computed from ``radar`` when None).
        With radar rows, change points are found on the fused series
        (:func:`geo.fuse.fuse`) unless ``change_points`` is given.
    notes
        Remarks to carry into the result and the report (e.g. why radar is missing).

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
    n = check_images(images)
    figure_formats = check_formats(formats)
    area = aoi if isinstance(aoi, AOI) else load_aoi(aoi)
    events = key_dates if key_dates is not None else events_for(area)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    items = list(items or [])
    notes = list(notes)
    synthetic = _is_synthetic(stack, items)
    if clear is None:
        clear = _clear_fractions(stack, area)
    _check_some_clear(clear, area, t0, t1)
    if activity is None:
        activity, objects = _activity(stack, area)
    if activity.attrs.get("reference"):
        notes.append(f"empty state fitted to {activity.attrs['reference']}")
    if radar_activity is None and radar is not None:
        _step(3, "radar activity")
        radar, radar_activity = radar_table(radar, area, notes)
    fused = fused_series(activity, radar_activity, notes)
    if change_points is not None:
        changes = change_points
    elif fused is not None:
        _step(4, "change points (fused optical and radar)")
        changes = fused_change_points(fused, notes)
    else:
        changes = _change_points(activity, notes)
    _step(5, "select scenes")
    scenes = select_scenes(clear, n=n, start=t0, end=t1, key_dates=events, aoi=area,
                           activity=activity if not activity.empty else None,
                           min_clear=min_clear)
    scenes = with_sources(scenes, stack)
    if requested is not None:
        scenes = with_requested(scenes, requested, notes)
    files = write_tables(folder, both_sensors(activity, radar_activity if fused is not None
                                              else None), scenes)
    files["change_points.csv"] = atomic_csv(
        change_points_table(changes, synthetic=synthetic,
                            sensor="s2+s1" if fused is not None else "s2"),
        folder / "change_points.csv")
    if fused is not None:
        files["fused.csv"] = atomic_csv(fused_table(fused), folder / "fused.csv")
    files["objects.geojson"] = write_objects(objects, stack, area, folder / "objects.geojson",
                                             synthetic=synthetic)
    sentences = headline(activity, changes, scenes, synthetic=synthetic, fused=fused) \
        if has_counts(activity) else []
    files["headline.txt"] = _write_text(folder / "headline.txt", headline_text(sentences))
    pair = pick_before_after(scenes, changes, events)
    log.info("before/after: %s", pair.caption())
    change = _change_map(stack, pair.before, pair.after, folder, files, notes)
    _step(7, "figures")
    _figures(folder, files, stack=stack, aoi=area, scenes=scenes, activity=activity,
             changes=changes, events=events, pair=pair, change=change,
             label=source_label, synthetic=synthetic, timelapse_size=timelapse_size,
             objects=objects, formats=figure_formats,
             radar=Radar(radar, radar_activity, fused) if fused is not None else None)
    provenance = scene_provenance(stack, scenes, items=items or None)
    _step(8, "report")
    figures = {stem: files[name] for stem, name in (
        ("zones", "zones.png"), ("trend", "trend.png"), ("before_after", "before_after.png"),
        ("before_after_radar", "before_after_radar.png"),
        ("contact_sheet", "contact_sheet.png"), ("timelapse", "timelapse.webp")) if name in files}
    files["report.html"] = write_report(
        folder / "report.html", site=_site_name(area), period=(t0, t1), source=source_label,
        scenes=scenes, activity=activity, provenance=provenance, change_points=changes,
        events=events, synthetic=synthetic, min_clear=min_clear, notes=notes, figures=figures,
        files=sorted({*files, "report.html"}), pair=pair, period_why=period.why,
        radar=radar_activity if fused is not None else None, fused=fused,
        headline_sentences=sentences,
    )
    log.info("review written to %s (%d files)", folder, len(files))
    return ReviewResult(out=folder, files=files, scenes=scenes, activity=activity,
                        change_points=changes, provenance=provenance, before=pair.before,
                        after=pair.after, synthetic=synthetic, n_items=len(items) or len(times),
                        notes=[period.note, *notes], pair=pair, period=period,
                        radar=radar_activity if fused is not None else None, fused=fused,
                        sensors=("s2", "s1") if fused is not None else ("s2",))


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
    b, a = (times[time_index(stack, d)] for d in (before, after))
    change = change_map(stack, b, a)
    path = folder / "change.tif"
    write_cog(change, path)
    files["change.tif"] = path
    return change


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _figures(folder: Path, files: dict[str, Path], *, stack: Any, aoi: AOI,
             scenes: pd.DataFrame, activity: pd.DataFrame, changes: Any,
             events: tuple[KeyDate, ...], pair: BeforeAfter, change: Any, label: str,
             synthetic: bool, timelapse_size: int, objects: pd.DataFrame | None = None,
             formats: tuple[str, ...] = ("png",), radar: Radar | None = None) -> None:
    import matplotlib.pyplot as plt

    site = _site_name(aoi)
    common: dict[str, Any] = {"source": label, "synthetic": synthetic}
    background = clearest_scene(stack, scenes)
    zones = key_zones(aoi, objects, activity, n=2, stack=stack)  # the same in every figure
    jobs = {
        "zones.png": lambda p: aoi_map(aoi, p, stack=stack, date=background, site=site,
                                       **common),
        "trend.png": lambda p: trend(activity, p, scenes=scenes, events=events,
                                     change_points=changes, site=site,
                                     radar=radar.activity if radar else None,
                                     fused=radar.fused if radar else None, **common),
        "before_after.png": lambda p: before_after(stack, aoi, pair.before, pair.after, p,
                                                   change=change, activity=activity,
                                                   site=site, pair=pair, objects=objects,
                                                   zones=zones, **common),
        **({"before_after_radar.png": lambda p: before_after_radar(
            radar.stack, aoi, pair.before, pair.after, p, activity=radar.activity,
            site=site, **common)} if radar is not None and radar.stack is not None else {}),
        "contact_sheet.png": lambda p: contact_sheet(stack, scenes, p, aoi=aoi, site=site,
                                                     objects=objects, zones=zones, **common),
    }
    for name, job in jobs.items():
        fig = job(folder / name)
        files[name] = folder / name
        for fmt in formats:
            if fmt != "png":  # the PNG is always written: the report embeds it
                extra = (folder / name).with_suffix(f".{fmt}")
                save_figure(fig, extra)
                files[extra.name] = extra
        plt.close(fig)
    files["timelapse.webp"] = timelapse(stack, scenes, folder / "timelapse.webp", aoi=aoi,
                                        site=site, size=timelapse_size, **common)


FIGURE_FORMATS: tuple[str, ...] = ("png", "svg")
"""Formats the figures can be written in (``--format``); PNG is always written."""


def check_formats(formats: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Parse ``--format`` (``"png"``, ``"svg"``, ``"png,svg"``): the formats, PNG first.

    Examples
    --------
    >>> check_formats("svg")
    ('png', 'svg')
    >>> check_formats("PNG, svg")
    ('png', 'svg')
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    wanted = [f.strip().lower().lstrip(".") for f in items if f.strip()]
    bad = [f for f in wanted if f not in FIGURE_FORMATS]
    if bad or not wanted:
        raise errors.ReviewError(
            f"--format {','.join(items) if items else '(empty)'}: figures can be written as "
            f"{' and '.join(FIGURE_FORMATS)} (e.g. --format png,svg); {', '.join(bad) or 'nothing'} "
            "is not one of them.")
    return ("png", *sorted(set(wanted) - {"png"}))
