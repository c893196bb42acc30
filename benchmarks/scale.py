"""Benchmark: does a review's memory stay flat as the years grow, and time grow linearly?

Runs the scenario review (local catalog, fresh imagery store) over one, two and five
years, and for one against two sites, each in its own process, and prints peak resident
memory (ru_maxrss of the child) and wall time, with ratios against the one-year run.

Targets (issue 7): memory flat within 20 % from one to five years; time roughly linear.

Usage::

    python benchmarks/scale.py                          # uses/builds the full scenarios
    python benchmarks/scale.py --bagram DIR --shindand DIR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
from geo.compare import run_sites
args = json.loads(sys.argv[1])
t0 = time.perf_counter()
multi = run_sites(args["sites"], sources=args["sources"], out=args["out"], start=args["start"],
                  end=args["end"], images=args["images"], store=args["store"], progress=False)
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "dates": int(sum(r.scenes["date"].nunique() for r in multi.results.values())),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _scenario(site: str, folder: str | None) -> Path:
    from geo.scenario import build

    path = Path(folder) if folder else Path(tempfile.gettempdir()) / f"geo-bench-{site}-full"
    if not (path / "manifest.json").is_file():
        print(f"building the full {site} scenario in {path} (several minutes) ...", flush=True)
        build(site, path, profile="full", overwrite=True)
    return path


def _run(sites: list[str], sources: list[str], start: str, end: str, images: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        args = {"sites": sites, "sources": sources, "out": f"{tmp}/out", "store": f"{tmp}/store",
                "start": start, "end": end, "images": images}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)],
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"review failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall"] = wall  # peak_mb: the child's own ru_maxrss (its peak resident memory)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bagram", help="full Bagram scenario folder (built if absent)")
    parser.add_argument("--shindand", help="full Shindand scenario folder (built if absent)")
    parser.add_argument("--images", type=int, default=12)
    args = parser.parse_args()
    bagram = str(_scenario("bagram", args.bagram))
    rows = []
    for years, end in ((1, "2021-09-30"), (2, "2022-09-30"), (5, "2025-09-30")):
        r = _run(["bagram"], [bagram], "2020-10-01", end, args.images)
        rows.append((f"bagram, {years} year(s)", r))
        print(f"{rows[-1][0]:<28} {r['dates']:>4} dates  {r['wall']:7.1f} s  "
              f"peak {r['peak_mb']:7.0f} MB",
              flush=True)
    one = rows[0][1]
    for label, r in rows[1:]:
        print(f"{label}: time x{r['wall'] / one['wall']:.2f} for dates x"
              f"{r['dates'] / one['dates']:.2f}; memory x{r['peak_mb'] / one['peak_mb']:.2f} "
              "(target <= 1.20)")
    shindand = str(_scenario("shindand", args.shindand))
    two = _run(["bagram", "shindand"], [bagram, shindand], "2020-10-01", "2021-09-30",
               args.images)
    print(f"{'bagram + shindand, 1 year':<28} {two['dates']:>4} dates  {two['wall']:7.1f} s  "
          f"peak {two['peak_mb']:7.0f} MB")
    print(f"two sites vs one: time x{two['wall'] / one['wall']:.2f}, "
          f"memory x{two['peak_mb'] / one['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
