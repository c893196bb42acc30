"""``geo scenario``: build and serve the offline synthetic Sentinel-2 archive.

Examples
--------
``geo scenario build --site bagram --out /tmp/bagram-scenario --seed 0 --profile small``
``geo scenario build --out /tmp/steady --story steady --drop 2024-10-01``
``geo scenario build --out /tmp/optical-only --sensors s2``
``geo scenario serve /tmp/bagram-scenario``
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import typer
from rich.console import Console

__all__ = ["app"]

app = typer.Typer(help="The offline synthetic Sentinel-2 L2A (and Sentinel-1 RTC) scenario: "
                  "build it, serve it.",
                  no_args_is_help=True)
console = Console()


@app.command("build")
def build_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (must not exist)."),
    site: str = typer.Option("bagram", help="Built-in AOI name or GeoJSON path."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same bytes."),
    start: str = typer.Option("2020-10-01", help="First sensing date (YYYY-MM-DD)."),
    end: str = typer.Option("2025-09-30", help="Last sensing date (YYYY-MM-DD)."),
    profile: str = typer.Option("full", help="full (~365 dates) or small (~35 dates)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
    pc_style: bool = typer.Option(False, "--pc-style",
                                  help="Write Planetary Computer style items (raw DNs)."),
    raw_share: float = typer.Option(0.1, help="Share of baseline >= 04.00 items with raw DNs."),
    workers: int = typer.Option(0, help="Rendering processes (0: up to 2 CPUs)."),
    preview_png: Path = typer.Option(None, "--preview",
                                     help="Also write a PNG of a few dates here."),
    story: str = typer.Option("bagram", help="bagram (the reported timeline) or steady "
                              "(busy at one level until --drop, then quiet; no events)."),
    drop: str = typer.Option(None, help="The steady story's drop date (YYYY-MM-DD; "
                             "default: four years after --start)."),
    sensors: str = typer.Option("s2,s1", help="s2,s1 (Sentinel-2 and a Sentinel-1 RTC "
                                "archive, the default) or s2 (skip the radar)."),
) -> None:
    """Build a synthetic archive of a site (COGs, STAC items, truth tables).

    Example: ``geo scenario build --site bagram --out /tmp/scn --profile small``;
    ``geo scenario build --out /tmp/steady --story steady --drop 2024-10-01``
    """
    from geo.scenario import build, preview

    folder = build(site, out, seed=seed, start=start, end=end, profile=profile,
                   overwrite=overwrite, pc_style=pc_style, raw_share=raw_share,
                   workers=workers or None, story=story, drop=drop, sensors=sensors)
    manifest = json.loads((folder / "manifest.json").read_text())
    size = sum(f["bytes"] for f in manifest["files"].values())
    console.print(f"SYNTHETIC scenario written to {folder}: {manifest['items']} items, "
                  f"{size / 1e6:,.0f} MB")
    if preview_png:
        preview(folder, out=preview_png)
        console.print(f"preview written to {preview_png}")


@app.command("serve")
def serve_cmd(
    folder: Path = typer.Argument(..., help="A scenario folder (geo scenario build)."),
) -> None:
    """Serve a scenario: a STAC API (rustac) and a range-request file server, until Ctrl-C.

    Example: ``geo scenario serve /tmp/scn`` then
    ``geo ... --source http://127.0.0.1:PORT`` or pystac-client on the printed URL.
    """
    from geo.scenario import serve

    stop = threading.Event()
    with serve(folder) as srv:
        console.print(f"STAC API:    {srv.stac_url}  (collections "
                      f"{', '.join(srv.collections)})")
        console.print(f"files:       {srv.files_url}")
        console.print("SYNTHETIC data. Press Ctrl-C to stop.")
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    console.print("stopped")
