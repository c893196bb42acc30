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
    """Print an AOI's zones and write a map of them.

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
    plot.zones_map(area, out)
    console.print(f"map written to {out}")


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
