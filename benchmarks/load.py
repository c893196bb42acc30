"""Benchmark geo.load against the minimum bytes/requests and a plain odc.stac.load.

A five-year load of the Bagram AOI from the synthetic scenario, served over a loopback
range-request server. Prints, per scene:

- bytes and requests geo.load made, against the minimum: the COG header of each band
  plus the internal tiles that intersect the AOI window (target ratio <= 1.25);
- wall time and peak memory of geo.load (empty store), of a second geo.load (full
  store: zero range requests; one HEAD per file asks whether it changed) and of a plain
  ``odc.stac.load`` of the same items and grid,
  the whole stack computed: odc as it comes (raw uint16 DN, half the bytes of geo's
  float32 reflectance) and with ``dtype="float32"`` (the same result size as geo's);
- the same for a streaming use of the lazy stack (the per-date mean of each band), where
  peak memory shows how the load is chunked rather than how big the result is.

Each load runs in its own process (fresh GDAL caches, honest peak memory).

Usage::

    python benchmarks/load.py                         # builds the full scenario in /tmp
    python benchmarks/load.py --catalog /tmp/scenario --bands red,nir,scl
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import rasterio
from rasterio.crs import CRS

log = logging.getLogger("benchmarks.load")

# Run as a script, sys.path[0] is benchmarks/; put the repository first so ``geo`` is
# the package (the editable install's finder would otherwise yield a namespace package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
mode, items_path, store, bands, what = sys.argv[1:6]
bands = bands.split(",")
items = json.load(open(items_path))
# Both kinds of child import the same modules first, so their peaks differ by the load.
import pystac, odc.stac
from odc.geo.geobox import GeoBox
import geo
from geo.load import load
site = geo.aoi.load("bagram")
with open("/proc/self/statm") as fh:
    base = int(fh.read().split()[1]) * resource.getpagesize() / 2**20
t0 = time.perf_counter()
if mode == "geo":
    ds = load(items, site, bands=bands, store=store, progress=False)[bands]
else:
    gbox = GeoBox.from_bbox(site.utm_bounds(100), f"EPSG:{site.epsg}", resolution=10)
    its = [pystac.Item.from_dict(i) for i in items]
    dtype = {"odc": None, "odc-float32": "float32"}[mode]
    ds = odc.stac.load(its, bands=bands, geobox=gbox, groupby="solar_day", chunks={},
                       resampling="nearest", dtype=dtype)
if what == "mean":  # stream: one value per date and band, the stack never held whole
    ds = ds.mean(("y", "x"))
ds = ds.compute()
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_mb": peak, "base_mb": base, "times": int(ds.sizes["time"]),
                  "result_mb": ds.nbytes / 2**20}))
"""


def _blocks(path: Path, window: rasterio.windows.Window) -> tuple[int, list[tuple[int, int]]]:
    """(header bytes, [(offset, size) of the tiles intersecting the window])."""
    with rasterio.open(path) as src:
        bh, bw = src.block_shapes[0]
        nbx, nby = math.ceil(src.width / bw), math.ceil(src.height / bh)
        offsets = []
        for by in range(nby):
            for bx in range(nbx):
                off = src.get_tag_item(f"BLOCK_OFFSET_{bx}_{by}", "TIFF", bidx=1)
                size = src.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=1)
                if off:
                    offsets.append((bx, by, int(off), int(size)))
        header = min(o for _, _, o, _ in offsets)
        n_overviews = len(src.overviews(1))
    for level in range(n_overviews):  # overview tiles sit before the full-resolution ones
        with rasterio.open(path, overview_level=level) as ovr:
            first = ovr.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1)
            if first:
                header = min(header, int(first))
    with rasterio.open(path) as src:
        bh, bw = src.block_shapes[0]
        c0, r0 = int(window.col_off), int(window.row_off)
        c1, r1 = c0 + int(window.width), r0 + int(window.height)
        hit = [(o, s) for bx, by, o, s in offsets
               if bx * bw < c1 and (bx + 1) * bw > c0 and by * bh < r1 and (by + 1) * bh > r0]
    return header, sorted(hit)


def _runs(ranges: list[tuple[int, int]]) -> int:
    """Requests needed if adjacent tiles are merged (COG tiles sit 8 bytes apart: each
    has a 4-byte size leader and a 4-byte trailer)."""
    runs, end = 0, -(10**12)
    for off, size in ranges:
        if off - end > 16:
            runs += 1
        end = off + size
    return runs


def minimum(items: list[dict[str, Any]], folder: Path, bands: list[str],
            bounds: tuple[float, ...], crs: CRS) -> tuple[int, int]:
    """Minimum (bytes, requests) to read the AOI window of every item and band."""
    from geo.load import _pixel_window

    total_bytes = total_requests = 0
    for item in items:
        for band in bands:
            path = folder / item["assets"][band]["local"]
            with rasterio.open(path) as src:
                window = _pixel_window(src, bounds, crs)
            if window is None:
                continue
            header, tiles = _blocks(path, window)
            total_bytes += header + sum(s for _, s in tiles)
            total_requests += 1 + _runs(tiles)
    return total_bytes, total_requests


def _child(mode: str, items_path: Path, store: Path, bands: list[str], what: str = "all"
           ) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(items_path), str(store),
                          ",".join(bands), what], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} load failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _clear(store: Path) -> None:
    if store.exists():
        import shutil

        shutil.rmtree(store)


def _scenario(catalog: str | None, work: Path) -> Path:
    if catalog:
        return Path(catalog)
    import geo.scenario

    out = work / "scenario-full"
    if not (out / "items.ndjson").is_file():
        log.info("building the full scenario in %s (once)", out)
        geo.scenario.build("bagram", out, profile="full")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", help="scenario folder (default: build the full one)")
    parser.add_argument("--bands", default="blue,green,red,nir,swir16,swir22,scl")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "geo-bench-load"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import geo
    from geo.search import read_local_catalog
    from geo.testing.servers import RangeFileServer

    bands = args.bands.split(",")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    folder = _scenario(args.catalog, work).resolve()
    site = geo.aoi.load("bagram")
    raw = read_local_catalog(folder)
    items = [i for i in (geo.search(site, "2000-01-01", "2100-01-01", source=folder,
                                    progress=False)) if all(b in i.assets for b in bands)]
    ids = {i.id for i in items}
    chosen = [r for r in raw if r["id"] in ids]
    xmin, ymin, xmax, ymax = site.utm_bounds(100, resolution=60)
    crs = CRS.from_epsg(site.epsg)
    with RangeFileServer(folder) as srv:
        canon = [i.to_dict() for i in items]
        for item in canon:
            for band in bands:
                local = Path(item["assets"][band]["href"]).resolve()
                item["assets"][band]["local"] = str(local.relative_to(folder))
                item["assets"][band]["href"] = srv.href(local)
        items_path = work / "items.json"
        items_path.write_text(json.dumps(canon))
        n = len(chosen)
        min_bytes, min_requests = minimum(canon, folder, bands, (xmin, ymin, xmax, ymax), crs)

        store = work / "store"
        _clear(store)
        srv.reset()
        first = _child("geo", items_path, store, bands)
        geo_requests, geo_bytes = len(srv.requests), srv.bytes_sent
        srv.reset()
        second = _child("geo", items_path, store, bands)
        second_requests = len(srv.requests)
        second_ranged = sum(1 for r in srv.requests if r.range is not None)
        srv.reset()
        odc = _child("odc", items_path, work / "unused", bands)
        odc_requests, odc_bytes = len(srv.requests), srv.bytes_sent
        odc32 = _child("odc-float32", items_path, work / "unused", bands)
        _clear(store)
        geo_mean = _child("geo", items_path, store, bands, "mean")
        odc_mean = _child("odc", items_path, work / "unused", bands, "mean")

    gets = geo_requests  # HEAD requests carry no body but are requests
    print(f"\nscenario: {folder}  scenes: {n}  dates: {first['times']}  bands: {','.join(bands)}")
    print(f"AOI window: {(xmax - xmin) / 10:.0f} x {(ymax - ymin) / 10:.0f} px at 10 m")
    print("\nper scene                 bytes        requests")
    print(f"minimum            {min_bytes / n:>12,.0f}  {min_requests / n:>8.1f}")
    print(f"geo.load           {geo_bytes / n:>12,.0f}  {gets / n:>8.1f}"
          f"   ratio bytes {geo_bytes / min_bytes:.3f}, requests {gets / min_requests:.2f}")
    print(f"odc.stac.load      {odc_bytes / n:>12,.0f}  {odc_requests / n:>8.1f}"
          f"   ratio bytes {odc_bytes / min_bytes:.3f}, requests {odc_requests / min_requests:.2f}")
    print(f"geo.load (stored)  {0:>12,.0f}  {second_requests / n:>8.1f}"
          f"   ({second_ranged} range requests; the rest HEADs asking whether a file changed)")
    print("\nthe whole stack computed        wall s    peak MB   result MB")
    for name, res in (("geo.load (float32 reflectance)", first),
                      ("geo.load, from the store", second),
                      ("odc.stac.load (uint16 DN)", odc),
                      ("odc.stac.load dtype=float32", odc32)):
        print(f"{name:<31} {res['wall_s']:>6.1f}  {res['peak_mb']:>9.0f}  {res['result_mb']:>9.0f}")
    print("\nper-date mean of each band      wall s    peak MB   added MB")
    for name, res in (("geo.load (empty store)", geo_mean), ("odc.stac.load", odc_mean)):
        print(f"{name:<31} {res['wall_s']:>6.1f}  {res['peak_mb']:>9.0f}  "
              f"{res['peak_mb'] - res['base_mb']:>9.0f}")
    print(f"(added: peak minus the {geo_mean['base_mb']:.0f} MB each process held after its "
          "imports, before the load)")
    over_geo = first["peak_mb"] - first["result_mb"]
    over_odc = odc["peak_mb"] - odc["result_mb"]
    print(f"\nmemory beyond the result itself: geo.load {over_geo:.0f} MB, odc.stac.load "
          f"{over_odc:.0f} MB")
    print(f"same dtype (float32): geo.load peak x{first['peak_mb'] / odc32['peak_mb']:.2f} of "
          f"odc.stac.load's; streaming: x{geo_mean['peak_mb'] / odc_mean['peak_mb']:.2f}; "
          f"wall x{first['wall_s'] / odc['wall_s']:.2f}")
    print("\ntargets (issue 13, part 8), against odc.stac.load in this run:")
    checks = [
        ("bytes <= odc-stac's", geo_bytes <= odc_bytes),
        ("requests <= odc-stac's", geo_requests <= odc_requests),
        ("wall <= 0.85 x odc-stac's", first["wall_s"] <= 0.85 * odc["wall_s"]),
        ("whole-stack peak <= odc-stac's uint16 peak", first["peak_mb"] <= odc["peak_mb"]),
        ("rerun makes no range request", second_ranged == 0),
        ("bytes ratio <= 1.25 of the minimum", geo_bytes / min_bytes <= 1.25),
    ]
    for name, ok in checks:
        print(f"  {name:<45} {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
