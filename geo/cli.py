"""The ``geo`` command line: a thin layer over the public functions.

Sub-commands live beside the step they drive; this module only assembles them.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from geo import aoi as aoi_mod
from geo import errors
from geo.grid import s2_tile

if TYPE_CHECKING:
    from geo.store import PruneReport, Store, VerifyReport

app = typer.Typer(
    name="geo",
    help="Watch a site from space: AOIs, Sentinel-2 imagery, activity per zone, reviews.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
aoi_app = typer.Typer(help="Areas of interest: list, show and check them.", no_args_is_help=True)
app.add_typer(aoi_app, name="aoi")
store_app = typer.Typer(help="The local imagery store: check it and tidy it.", no_args_is_help=True)
app.add_typer(store_app, name="store")
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


@aoi_app.command("list")
def aoi_list() -> None:
    """List the built-in AOIs."""
    for name in aoi_mod.builtin_names():
        console.print(name)


@aoi_app.command("show")
def aoi_show(
    name: str = typer.Argument(..., help="Built-in AOI name (e.g. bagram), a GeoJSON path, "
                                         "or an airfield's ICAO code (e.g. OAKN)."),
    out: Path = typer.Option(Path("zones.png"), "--out", "-o", help="Where to write the map."),
    allow_large: bool = typer.Option(False, help="Accept a perimeter over 100 km^2."),
) -> None:
    """Print an AOI's zones, its Sentinel-2 tiles and UTM zones, and write a map.

    The tiles table gives the share of the perimeter each tile covers (most first; the
    first sets the grid) and the UTM zones line the share of the perimeter in each zone.
    An ICAO code shows the airfield's runways and perimeter from the OurAirports table
    (no imagery needed); ``geo aoi make CODE`` adds the aprons found in imagery.

    Example: ``geo aoi show bagram --out bagram_zones.png`` or ``geo aoi show OAKN``
    """
    from geo import plot
    from geo.review_cli import is_icao_code

    try:
        area = aoi_mod.load(name, allow_large=allow_large)
    except errors.AOINotFound:
        if not is_icao_code(name):
            raise
        area = aoi_mod.from_icao(name)
        console.print(f"{name.upper()}: runways and perimeter from OurAirports "
                      f"({area.properties.get('site', '')}); aprons: geo aoi make {name.upper()}",
                      highlight=False)
    table = Table(title=f"{area.name}: EPSG:{area.epsg}, Sentinel-2 tile(s) {', '.join(area.tiles)}")
    for col in ("name", "kind", "area_ha", "source"):
        table.add_column(col, overflow="fold")
    for row in area.summary().itertuples(index=False):
        table.add_row(str(row.name), str(row.kind), f"{row.area_ha:,.2f}", str(row.source))
    console.print(table)
    console.print(_tiles_table(area))
    console.print(f"UTM zones: {_zones_text(area)}", highlight=False)
    plot.zones_map(area, out)
    console.print(f"map written to {out}")


_STORE_HELP_AOI = "The imagery store folder (default $GEO_IMAGERY_DIR or imagery/)."


@aoi_app.command("make")
def aoi_make(
    code: str | None = typer.Argument(None, help="ICAO code of the airfield (e.g. OAKN)."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the AOI (GeoJSON)."),
    bbox: str | None = typer.Option(None, "--bbox", metavar="W,S,E,N",
                                    help="A box in degrees instead of a code (needs --name)."),
    name: str | None = typer.Option(None, "--name", help="Name of the AOI."),
    source: str = typer.Option("earth-search", "--source",
                               help="earth-search, planetary-computer, a STAC URL or a local catalog."),
    start: str | None = typer.Option(None, "--start", help="First date of the composite."),
    end: str | None = typer.Option(None, "--end", help="Last date of the composite."),
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP_AOI),
    offline: bool = typer.Option(False, "--offline", help="Use the imagery store only."),
) -> None:
    """Make an airfield's AOI: runways (OurAirports or imagery), taxiways and aprons
    found in a clear-sky composite, and off-site control squares.

    Examples: ``geo aoi make OAKN --out oakn.geojson``;
    ``geo aoi make --bbox 69.24,34.92,69.29,34.97 --name field --out field.geojson``
    """
    import json

    from geo import airfield

    if (code is None) == (bbox is None):
        raise errors.AOIError("Give either an ICAO code or --bbox W,S,E,N (with --name), "
                              "not both nor neither.")
    area = airfield.make_aoi(code if code is not None else str(bbox), source, start=start,
                             end=end, name=name, store=store, offline=offline)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(area.to_geojson(), indent=1, default=str), encoding="utf-8")
    os.replace(tmp, out)  # an interrupted run leaves no broken AOI file
    table = Table(title=f"{area.name}: {area.properties.get('zones_found', '')}")
    for col in ("name", "kind", "area_ha", "confidence"):
        table.add_column(col)
    conf = dict(zip(area.zones["name"], area.zones.get("confidence", [None] * len(area.zones)),
                    strict=True))
    for row in area.summary().itertuples(index=False):
        value = conf.get(row.name)
        table.add_row(str(row.name), str(row.kind), f"{row.area_ha:,.2f}",
                      "" if value is None or value != value else f"{value:.2f}")
    console.print(table)
    console.print(f"AOI written to {out}; edit it and use it with --aoi {out}")


def _tiles_table(area: aoi_mod.AOI) -> Table:
    """One row per Sentinel-2 tile: its CRS and the share of the perimeter it covers."""
    table = Table(title=f"{area.name}: Sentinel-2 tiles (grid EPSG:{area.epsg})")
    for col in ("tile", "utm_zone", "epsg", "perimeter_covered", "grid"):
        table.add_column(col)
    for tile in area.tiles:
        epsg = s2_tile(tile).epsg
        share = area.tile_shares.get(tile)
        table.add_row(tile, str(epsg % 100), str(epsg),
                      "?" if share is None else f"{100 * share:.1f} %",
                      "yes" if tile == area.tiles[0] else "")
    return table


def _zones_text(area: aoi_mod.AOI) -> str:
    """``"28 (75.0 %), 29 (25.0 %)"``: the UTM zones the perimeter touches."""
    if not area.utm_zones:
        return str(area.epsg % 100)
    return ", ".join(f"{zone} ({100 * share:.1f} %)" for zone, share in area.utm_zones.items())


_STORE_HELP = "The imagery store folder (default $GEO_IMAGERY_DIR or imagery/)."


def _open_store(store: Path | None) -> Store:
    """The store named on the command line; a missing folder is an error, not a new store."""
    from geo.store import Store

    opened = Store(store)
    if not opened.root.is_dir():
        err_console.print(f"[bold red]error:[/] no imagery store at {opened.root}; pass "
                          "--store DIR (a folder geo has stored windows in).")
        raise typer.Exit(2)
    return opened


@store_app.command("verify")
def store_verify(
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    repair: bool = typer.Option(False, "--repair",
                                help="Remove corrupt windows and their entries (read again next run)."),
) -> None:
    """Hash every stored window again and report missing, truncated or corrupt ones.

    Exits 1 when something is corrupt and --repair was not given.

    Example: ``geo store verify --store imagery --repair``
    """
    report = _open_store(store).verify(repair=repair)
    console.print(_verify_table(report))
    if report.problems and not repair:
        err_console.print(f"{len(report.problems)} of {report.checked} window(s) are corrupt; "
                          "run `geo store verify --repair` to remove them (they are read "
                          "again on the next run).")
        raise typer.Exit(1)


def _verify_table(report: VerifyReport) -> Table:
    table = Table(title=f"store {report.root}: {report.checked} window(s) checked")
    for col in ("problem", "item", "asset", "file", "detail", "removed"):
        table.add_column(col, overflow="fold")
    removed = {p.key for p in report.repaired}
    for p in report.problems:
        table.add_row(p.kind, p.item_id, p.asset, p.path.name, p.detail,
                      "yes" if p.key in removed else "no")
    if not report.problems:
        table.add_row("none", "", "", "", "every window matches its sha256", "")
    return table


@store_app.command("prune")
def store_prune(
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    older_than: float | None = typer.Option(
        None, "--older-than", min=0, metavar="DAYS",
        help="Also remove windows and cached searches older than DAYS."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
) -> None:
    """Remove files no manifest entry names, partial files of dead runs, and old entries.

    Example: ``geo store prune --store imagery --older-than 180 --dry-run``
    """
    report = _open_store(store).prune(older_than=older_than, dry_run=dry_run)
    console.print(_prune_table(report))


def _prune_table(report: PruneReport) -> Table:
    verb = "would remove" if report.dry_run else "removed"
    table = Table(title=f"store {report.root}: {verb} {report.removed} item(s), "
                        f"{report.nbytes / 1e6:.2f} MB")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("MB", justify="right")
    rows = (("old entries", report.old_files, len(report.old_entries)),
            ("orphan files", report.orphans, None), ("partial files", report.partials, None),
            ("cached searches", report.searches, None))
    for label, paths, count in rows:
        size = report.bytes_of(paths)
        table.add_row(label, str(len(paths) if count is None else count), f"{size / 1e6:.2f}")
    return table


@app.command("versions")
def versions_cmd() -> None:
    """Print the versions of geo, Python, GDAL, PROJ and key packages (for bug reports)."""
    from geo._versions import show_versions

    console.print(show_versions(), highlight=False)


def _register_optional() -> None:
    """Attach the sub-commands of later pipeline steps that are present."""
    import importlib

    for module, attr, name in (
        ("geo.scenario.cli", "app", "scenario"),
        ("geo.review_cli", "register", None),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("geo"):
                continue
            raise
        target = getattr(mod, attr)
        if name:
            app.add_typer(target, name=name)
        else:
            target(app)


_register_optional()


def main() -> None:
    """Entry point: run the app, turning geo's errors into a clear message and exit code."""
    try:
        app()
    except errors.GeoError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
