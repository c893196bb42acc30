"""``geo review`` and ``geo demo``: the review from the command line.

:func:`register` adds both commands to the ``geo`` typer app (done by :mod:`geo.cli`).
The commands are thin: they check their arguments, call :func:`geo.review.run_review`
and turn geo's errors into one clear line and an exit code (:data:`EXIT_CODES`), never
a traceback.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from geo import errors

__all__ = ["EXIT_CODES", "register", "exit_code", "default_cache"]

log = logging.getLogger(__name__)
console = Console()
err_console = Console(stderr=True)

EXIT_CODES: dict[int, str] = {
    0: "the review folder was written",
    1: "the review failed (the message says why)",
    2: "bad arguments: period, AOI, source, sensors, image count",
    3: "no imagery found for the AOI and period",
    4: "the source (STAC API or file server) could not be reached",
    5: "offline and the local store lacks imagery the review needs",
    6: "the synthetic scenario could not be built or served",
    130: "interrupted",
}
"""Exit codes of ``geo review`` and ``geo demo``."""

_EXIT_TABLE = "\n\n".join(f"{code}: {what}" for code, what in EXIT_CODES.items())

REVIEW_HELP = f"""Review a site: choose N images over a period, draw figures, write a report.

Searches the source for every Sentinel-2 L2A image of the AOI in the period, loads only \
the AOI's pixels, measures the clear fraction and activity index of every key zone on \
every date, looks for a change point, chooses the images (spread over the period, clearest \
over the key zones, always around the key dates), and writes to --out: activity.csv, \
scenes.csv, change_points.csv, objects.geojson, trend.png, before_after.png, \
contact_sheet.png, zones.png, timelapse.webp, change.tif, headline.txt and report.html.

--aoi takes a built-in name, a GeoJSON file, or any airfield's ICAO code (e.g. OAKN): the AOI is then made on first use from the OurAirports runways and the aprons and taxiways found in the imagery (geo aoi make), kept beside the review as aoi_<CODE>.geojson and reused from there; edit it and pass the file to refine it.

--sensors s2,s1 adds Sentinel-1 radar (default for --source planetary-computer, STAC API \
URLs and local catalogs; Earth Search has no loadable Sentinel-1, so its default is s2): \
activity.csv gets the radar passes' rows, fused.csv the fused apron timeline of both \
sensors with its 95 % band, change points are found on it, and trend.png, \
before_after_radar.png and the report show both sensors. A source without Sentinel-1 \
passes in the period gives an optical review and a note.

The period: --start/--end. Without them, Bagram keeps the BBC review's period \
(2020-10-01 to 2025-09-30) and any other site gets the five years ending at its latest \
available pass (a small search of the source finds it). With only one of them, the other \
is five years away. The report says which rule gave the period.

Examples:

  geo review --aoi bagram --out bagram_review

  geo review --aoi mysite.geojson --start 2023-01-01 --end 2024-12-31 --images 12

  geo review --aoi bagram --source planetary-computer --out pc_review   (optical and radar)

  geo review --aoi bagram --source planetary-computer --sensors s2   (optical only)

  geo review --aoi bagram --source ./scenario_folder --images 20

  geo review --aoi bagram --aoi shindand --out airfields   (one folder per site + comparison)

  geo review --aoi bagram --dates bbc_dates.txt   (exactly a newsroom's dates)

  geo review --aois sites.txt --scheduler tcp://10.0.0.5:8786   (on a Dask cluster)

Exit codes:

{_EXIT_TABLE}
"""

DEMO_HELP = f"""Run the review on the offline synthetic Bagram scenario (no internet needed).

Builds the scenario into a cache folder the first time (a few minutes for the full \
five-year archive), serves it on loopback through a real STAC API (rustac) and a \
range-request file server, and runs the same review a user runs against Earth Search: \
the network code path is exercised end to end. Every output says SYNTHETIC.

Examples:

  geo demo

  geo demo --out /tmp/demo --profile small --images 12

  geo demo --rebuild

Exit codes:

{_EXIT_TABLE}
"""


def exit_code(exc: BaseException) -> int:
    """The exit code for an exception (see :data:`EXIT_CODES`).

    Examples
    --------
    >>> exit_code(errors.NoImagery("none"))
    3
    >>> exit_code(errors.UnknownSource("x"))
    2
    """
    table: tuple[tuple[type[BaseException], int], ...] = (
        (errors.NoImagery, 3),
        (errors.SourceUnavailable, 4),
        (errors.OfflineMiss, 5),
        (errors.StoreError, 5),
        (errors.ScenarioError, 6),
        (errors.SchedulerUnavailable, 4),
        (errors.UnknownSource, 2),
        (errors.UnsupportedSensor, 2),
        (errors.AOIError, 2),
        (errors.AOINotFound, 2),
        (KeyboardInterrupt, 130),
    )
    for kind, code in table:
        if isinstance(exc, kind):
            return code
    return 1


def default_cache(profile: str, seed: int) -> Path:
    """Where ``geo demo`` keeps its scenario: ``$GEO_CACHE_DIR`` or ``~/.cache/geo``.

    Examples
    --------
    >>> default_cache("small", 0).name.startswith("bagram-small-seed0-")
    True
    """
    from geo.scenario import code_version

    root = os.environ.get("GEO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "geo")
    # The generator's code hash in the name: a changed generator means a fresh build.
    return Path(root) / "scenario" / f"bagram-{profile}-seed{seed}-{code_version()}"


def _fail(exc: BaseException) -> typer.Exit:
    code = exit_code(exc)
    text = str(exc) or type(exc).__name__
    err_console.print(f"[bold red]error[/] ({type(exc).__name__}): {text}", highlight=False)
    if code == 4:
        err_console.print("hint: check the network or the URL; rerun to resume (reads are cached "
                          "when --store is given)")
    return typer.Exit(code)


def _guard(run: Callable[[], Any]) -> Any:
    """Run a command body, turning geo's errors into a message and an exit code."""
    logging.captureWarnings(True)  # GeoWarnings go through the log handler, one line each
    try:
        return run()
    except errors.GeoError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None


def _check_args(aoi: str, source: str, start: str | None, end: str | None) -> Any:
    """Check the arguments before any work; raise typer.BadParameter naming the option."""
    from geo.aoi import load as load_aoi
    from geo.review import check_day, check_period, check_source

    try:
        if start is not None and end is not None:
            check_period(start, end)
        elif start is not None or end is not None:
            check_day("start" if start is not None else "end", start or end)
    except errors.ReviewError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--start' / '--end'") from None
    try:
        check_source(source)
    except errors.UnknownSource as exc:
        raise typer.BadParameter(str(exc), param_hint="'--source'") from None
    try:
        return load_aoi(aoi)
    except errors.AOINotFound as exc:
        if not is_icao_code(aoi):
            raise typer.BadParameter(str(exc), param_hint="'--aoi'") from None
        from geo.aoi import runway_rows

        try:
            runway_rows(aoi.upper())  # an unknown code fails before any search
        except errors.RunwayDataError as bad:
            raise typer.BadParameter(f"{exc} {bad}", param_hint="'--aoi'") from None
        return aoi.upper()  # made from the code once the folder is known (_icao_aoi)
    except errors.AOIError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--aoi'") from None


def _check_sensors(sensors: str | None, source: str) -> tuple[str, ...]:
    """``--sensors`` for ``source``, checked before any search (typer.BadParameter, exit 2)."""
    from geo.review.sensors import check_sensors

    try:
        return check_sensors(sensors, source)
    except (errors.UnsupportedSensor, errors.ReviewError) as exc:
        raise typer.BadParameter(str(exc), param_hint="'--sensors'") from None


def is_icao_code(name: str) -> bool:
    """Whether ``--aoi`` looks like an airfield code rather than a name or a file.

    Examples
    --------
    >>> is_icao_code("OAKN"), is_icao_code("oakn"), is_icao_code("bagram"), is_icao_code("2024")
    (True, True, False, False)
    """
    return (len(name) == 4 and name.isalnum() and any(c.isalpha() for c in name)
            and not Path(name).exists())


def _icao_aoi(code: str, folder: Path, source: str, *, store: Path | None, offline: bool,
              progress: bool, start: str | None = None, end: str | None = None) -> Any:
    """The AOI of an airfield given by code: read from the review folder, else made there.

    Its zones are found in the year of imagery ending at the review's end (or starting at
    its start; without either, the latest year), so they show the site as reviewed.
    """
    from geo.aoi import load as load_aoi

    path = folder / f"aoi_{code}.geojson"
    if path.exists():
        console.print(f"[cyan]{code}:[/] using the AOI made earlier, {path}", highlight=False)
        return load_aoi(path)
    from geo.airfield import make_aoi

    console.print(f"[cyan]{code}:[/] no AOI yet: making one from the OurAirports runways and "
                  f"the zones found in the imagery of {source} (once)", highlight=False)
    area = make_aoi(code, source, store=store, offline=offline, progress=progress,
                    start=start if end is None else None, end=end)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".geojson.tmp")
    tmp.write_text(json.dumps(area.to_geojson(), indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)
    console.print(f"[cyan]{code}:[/] AOI kept at {path}: check its zones (geo aoi show "
                  f"{path}), edit them if needed, and pass --aoi {path} to use your edit",
                  highlight=False)
    return load_aoi(path)


def _summary(result: Any) -> None:
    table = Table(title=f"review written to {result.out}"
                  + (" [bold red](SYNTHETIC)[/]" if result.synthetic else ""))
    table.add_column("file")
    table.add_column("size", justify="right")
    from geo.review import OUTPUTS
    from geo.review.folder import RADAR_OUTPUTS

    what = {**OUTPUTS, **RADAR_OUTPUTS}
    table.add_column("what")
    for name in sorted(result.files):
        path = result.files[name]
        size = path.stat().st_size if path.exists() else 0
        table.add_row(name, f"{size / 1024:,.0f} kB", what.get(name, ""))
    console.print(table)
    sel = result.selected
    pair = getattr(result, "pair", None)
    where = f" ({pair.where()})" if pair is not None else ""
    console.print(f"{len(result.scenes)} dates, {len(sel)} selected "
                  f"({sel['date'].min():%Y-%m-%d} .. {sel['date'].max():%Y-%m-%d}); "
                  f"before/after: {result.before:%Y-%m-%d} / {result.after:%Y-%m-%d}{where}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    headline = result.files.get("headline.txt")
    if headline is not None and headline.exists() and headline.read_text().strip():
        console.print("[bold]Headline[/] (from headline.txt):")
        console.print(headline.read_text(encoding="utf-8").rstrip(), markup=False,
                      highlight=False)


def review(
    aoi: list[str] = typer.Option(["bagram"], "--aoi",
                                  help="Built-in AOI name or a GeoJSON path; repeat for "
                                       "several sites."),
    aois: Path | None = typer.Option(None, "--aois",
                                     help="A file listing sites (AOI names or GeoJSON paths), "
                                          "one per line (replaces the default --aoi; adds to "
                                          "explicit ones)."),
    source: list[str] = typer.Option(["earth-search"], "--source",
                                     help="earth-search, planetary-computer, a STAC API URL, "
                                          "or a local catalog (folder or .parquet/.ndjson); "
                                          "once for all sites or once per site."),
    start: str | None = typer.Option(None, "--start",
                                     help="First day (YYYY-MM-DD); default: see the period "
                                          "rule above."),
    end: str | None = typer.Option(None, "--end",
                                   help="Last day (YYYY-MM-DD); default: see the period "
                                        "rule above."),
    images: int = typer.Option(30, "--images", "-n", min=1, help="Images to select."),
    out: Path = typer.Option(Path("review"), "--out", "-o",
                             help="Review folder to write (with several sites: one "
                                  "sub-folder per site plus comparison.csv/.png)."),
    offline: bool = typer.Option(False, "--offline",
                                 help="Read only from the local store (--store), no network."),
    store: Path | None = typer.Option(None, "--store",
                                      help="Local imagery store: reads are cached there."),
    resolution: int = typer.Option(10, "--resolution", help="Pixel size in metres (10, 20, 60)."),
    scheduler: str | None = typer.Option(None, "--scheduler",
                                         help="Address of a dask.distributed scheduler "
                                              "(default: $DASK_SCHEDULER_ADDRESS, else this "
                                              "process)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    collection: str | None = typer.Option(
        None, "--collection",
        help="Force one STAC collection (default: Earth Search's sentinel-2-c1-l2a and "
             "sentinel-2-l2a, one item per pass, Collection 1 first)."),
    refresh: bool = typer.Option(False, "--refresh",
                                 help="Search again even if the store holds a result "
                                      "younger than 7 days."),
    skip_unreadable: bool = typer.Option(
        False, "--skip-unreadable",
        help="Go on past scenes whose files are missing or corrupt; scenes.csv lists them "
             "with the reason."),
    dates: Path | None = typer.Option(
        None, "--dates",
        help="Measure and show exactly these dates (a file: one YYYY-MM-DD per line, or a "
             "scenes.csv), each at the nearest pass within --dates-tolerance days."),
    dates_tolerance: int = typer.Option(3, "--dates-tolerance", min=0,
                                        help="Days a pass may lie from a --dates date."),
    figure_format: str = typer.Option("png", "--format",
                                      help="Figure formats, comma-separated: png (always "
                                           "written; the report embeds it) and svg."),
    sensors: str | None = typer.Option(
        None, "--sensors",
        help="s2 (optical) or s2,s1 (optical and Sentinel-1 radar, fused). Default: s2 for "
             "earth-search, s2,s1 for every other source."),
) -> None:
    """Review a site (see the module help)."""
    if resolution not in (10, 20, 60):
        raise typer.BadParameter(f"{resolution} m: use 10, 20 or 60", param_hint="'--resolution'")
    if offline and store is None:
        raise typer.BadParameter("--offline needs --store DIR (the local imagery store to read)",
                                 param_hint="'--offline'")
    sites = list(aoi)
    if aois is not None:
        from geo.compare import read_site_list

        try:
            listed = read_site_list(aois)
        except errors.GeoError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--aois'") from None
        sites = listed if aoi == ["bagram"] else [*sites, *listed]
    if len(source) not in (1, len(sites)):
        raise typer.BadParameter(f"{len(source)} sources for {len(sites)} sites: give one for "
                                 "all, or one per site", param_hint="'--source'")
    sources = source * len(sites) if len(source) == 1 else list(source)
    areas = [_check_args(site, src, start, end) for site, src in zip(sites, sources, strict=True)]
    for src in dict.fromkeys(sources):
        _check_sensors(sensors, src)
    kwargs: dict[str, Any] = {"start": start, "end": end, "images": images, "offline": offline,
                              "progress": progress, "store": store, "resolution": resolution,
                              "collection": collection, "refresh": refresh,
                              "skip_unreadable": skip_unreadable, "sensors": sensors}
    try:
        from geo.review.folder import check_formats

        kwargs["formats"] = check_formats(figure_format)
    except errors.ReviewError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--format'") from None
    if dates is not None:
        try:
            from geo.select import read_dates

            read_dates(dates)  # a bad file fails before any search
        except errors.ReviewError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--dates'") from None
        kwargs.update(dates=dates, dates_tolerance=dates_tolerance)

    def run() -> Any:
        from geo.compare import dask_client, run_sites
        from geo.review import run_review

        for i, area in enumerate(areas):
            if isinstance(area, str):  # an ICAO code
                folder = out if len(areas) == 1 else out / area.lower()
                areas[i] = _icao_aoi(area, folder, sources[i], store=store, offline=offline,
                                     progress=progress, start=start, end=end)
        with dask_client(scheduler):
            if len(areas) == 1:
                return run_review(areas[0], source=sources[0], out=out, **kwargs)
            return run_sites(areas, sources=sources, out=out, **kwargs)

    result = _guard(run)
    if hasattr(result, "comparison"):
        for site_result in result.results.values():
            _summary(site_result)
        console.print(result.comparison.drop(columns=["review"]).to_string(index=False))
        console.print(f"comparison written to {result.files['comparison.csv']} and "
                      f"{result.files['comparison.png']}")
    else:
        _summary(result)


def demo(
    out: Path = typer.Option(Path("demo"), "--out", "-o", help="Review folder to write."),
    profile: str = typer.Option("full", "--profile",
                                help="Scenario size: full (five years, every pass) or small."),
    images: int = typer.Option(30, "--images", "-n", min=1, help="Images to select."),
    cache: Path | None = typer.Option(None, "--cache",
                                      help="Scenario folder (default: ~/.cache/geo/scenario/..."
                                           " or $GEO_CACHE_DIR)."),
    seed: int = typer.Option(0, "--seed", help="Scenario random seed."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild the cached scenario."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Run the review on the offline synthetic scenario (see the module help)."""
    if profile not in ("full", "small"):
        raise typer.BadParameter(f"{profile!r}: use full or small", param_hint="'--profile'")
    folder = cache or default_cache(profile, seed)

    def run() -> Any:
        return run_demo(out, profile=profile, images=images, cache=folder, seed=seed,
                        rebuild=rebuild, progress=progress)

    _summary(_guard(run))


def run_demo(out: Path, *, profile: str = "full", images: int = 30, cache: Path | None = None,
             seed: int = 0, rebuild: bool = False, progress: bool = True,
             start: str | None = None, end: str | None = None) -> Any:
    """Build (if needed) and serve the scenario, then review it over loopback.

    ``start``/``end`` (default: Bagram's default period, :data:`geo.review.BAGRAM_PERIOD`)
    are the scenario's and the review's period. Returns the
    :class:`geo.review.ReviewResult`. Used by ``geo demo`` and the tests.
    """
    from geo import scenario
    from geo.review import BAGRAM_PERIOD, run_review

    folder = Path(cache or default_cache(profile, seed))
    if rebuild or not (folder / "manifest.json").is_file():
        console.print(f"building the synthetic scenario ({profile}) in {folder} ...")
        folder.parent.mkdir(parents=True, exist_ok=True)
        scenario.build("bagram", folder, seed=seed, start=start or BAGRAM_PERIOD[0],
                       end=end or BAGRAM_PERIOD[1], profile=profile, overwrite=True)
    else:
        console.print(f"using the cached scenario in {folder}")
    with scenario.serve(folder) as server:
        console.print(f"serving it: STAC API {server.stac_url}, files {server.files_url}")
        label = (f"synthetic Bagram scenario ({profile}, seed {seed}) via a loopback "
                 f"STAC API ({server.stac_url})")
        result = run_review("bagram", source=server.stac_url, start=start, end=end,
                            images=images, out=out, progress=progress, source_label=label)
        requests = getattr(server, "requests", [])
        console.print(f"the file server answered {len(requests)} HTTP requests")
    return result


def register(app: typer.Typer) -> None:
    """Add the ``review`` and ``demo`` commands to the ``geo`` typer app.

    Examples
    --------
    >>> app = typer.Typer()
    >>> register(app)
    >>> sorted(c.name for c in app.registered_commands)
    ['demo', 'review']
    """
    app.command("review", help=REVIEW_HELP, no_args_is_help=False)(review)
    app.command("demo", help=DEMO_HELP)(demo)
