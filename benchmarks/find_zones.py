"""Aprons found in imagery against the scenario's truth (issue 16, part 4).

For each site, starting from its ICAO code alone (:func:`geo.aoi.from_icao`), builds a
composite from the synthetic scenario (a local catalog), finds taxiways and aprons
(:func:`geo.airfield.find_zones`) and scores every true apron of the site's AOI by the
IoU of the found apron that overlaps it best, and every found apron by the share of it
inside the true paved area (runways, taxiways, aprons): under 0.5 is a false apron.

Usage (from the repository root)::

    python benchmarks/find_zones.py                        # bagram and shindand, small
    python benchmarks/find_zones.py --sites bagram --start 2023-01-01 --end 2023-12-31
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import geo.aoi as aoi_mod
from geo import airfield, errors

SITES = {"bagram": "OAIX", "shindand": "OASD"}
IOU_TARGET = 0.6


def scenario(site: str, cache: Path) -> Path:
    """The small-profile scenario of a site, built once (keyed by the generator's code)."""
    from geo.scenario import build, code_version

    out = cache / f"{site}-small-{code_version(site)}"
    if not (out / "manifest.json").is_file():
        build(site, out, seed=0, profile="small", overwrite=True)
    return out


def score(site: str, found: aoi_mod.AOI) -> tuple[list[tuple[str, float, str]],
                                                  list[tuple[str, float, float]]]:
    """(true apron, best IoU, found name) rows and (found apron, share paved, confidence)."""
    truth = aoi_mod.load(site).zones_utm().to_crs(found.epsg)
    zones = found.zones_utm()
    aprons = zones[zones["kind"] == "apron"]
    per_true = []
    for row in truth[truth["kind"] == "apron"].itertuples():
        best = max(((f.geometry.intersection(row.geometry).area
                     / f.geometry.union(row.geometry).area, f.name)
                    for f in aprons.itertuples()), default=(0.0, "-"))
        per_true.append((str(row.name), float(best[0]), str(best[1])))
    paved = truth[truth["kind"].isin(["runway", "taxiway", "apron"])].geometry.union_all()
    per_found = [(str(f.name), float(f.geometry.intersection(paved).area / f.geometry.area),
                  float(f.confidence)) for f in aprons.itertuples()]
    return per_true, per_found


def run(site: str, folder: Path, start: str, end: str) -> None:
    code = SITES[site]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GeoWarning)
        base = aoi_mod.from_icao(code)
    t0 = time.perf_counter()
    comp = airfield.composite(base, folder, start, end, progress=False)
    t1 = time.perf_counter()
    found = airfield.find_zones(comp, base)
    t2 = time.perf_counter()
    per_true, per_found = score(site, found)
    print(f"\n{site} ({code}), {len(comp.attrs['dates'])} dates {start} to {end}: composite "
          f"{t1 - t0:.1f} s, find_zones {t2 - t1:.1f} s")
    for name, iou, best in per_true:
        flag = "ok" if iou >= IOU_TARGET else "MISSED"
        print(f"  true {name:<22} IoU {iou:.2f} with {best:<16} {flag}")
    for name, share, conf in per_found:
        flag = "" if share >= 0.5 else "  FALSE APRON"
        print(f"  found {name:<16} {100 * share:5.1f} % on true paved, confidence {conf:.2f}{flag}")
    taxi = (found.zones["kind"] == "taxiway").sum()
    false = sum(share < 0.5 for _, share, _ in per_found)
    print(f"  {len(per_found)} apron(s), {taxi} taxiway(s) found; {false} false apron(s); "
          f"aprons at IoU >= {IOU_TARGET}: {sum(i >= IOU_TARGET for _, i, _ in per_true)} of "
          f"{len(per_true)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", nargs="+", default=list(SITES), choices=list(SITES))
    parser.add_argument("--start", default="2021-01-01")
    parser.add_argument("--end", default="2021-12-31")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/geo-scenario-cache"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for site in args.sites:
        run(site, scenario(site, args.cache), args.start, args.end)


if __name__ == "__main__":
    main()
