"""The ``geo`` command line: a thin layer over the public functions.

Sub-commands live beside the step they drive; this module only assembles them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from geo import aoi as aoi_mod
from geo import errors
from geo.grid import s2_tile

app = typer.Typer(
    name="geo",
    help="Watch a site from space: AOIs, Sentinel-2 imagery, activity per zone, reviews.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
aoi_app = typer.Typer(help="Areas of interest: list, show and check them.", no_args_is_help=True)
app.add_typer(aoi_app, name="aoi")
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
    name: str = typer.Argument(..., help="Built-in AOI name (e.g. bagram) or a GeoJSON path."),
    out: Path = typer.Option(Path("zones.png"), "--out", "-o", help="Where to write the map."),
    allow_large: bool = typer.Option(False, help="Accept a perimeter over 100 km^2."),
) -> None:
    """Print an AOI's zones, its Sentinel-2 tiles and UTM zones, and write a map.

    The tiles table gives the share of the perimeter each tile covers (most first; the
    first sets the grid) and the UTM zones line the share of the perimeter in each zone.

    Example: ``geo aoi show bagram --out bagram_zones.png``
    """
    from geo import plot

    area = aoi_mod.load(name, allow_large=allow_large)
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
