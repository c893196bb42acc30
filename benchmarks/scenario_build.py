"""Benchmark: time and size of a scenario build, small and full profiles.

Run: ``python benchmarks/scenario_build.py [--profile small|full|both] [--workers N]``.
Prints one line per profile: items, seconds, MB, seconds per item. Targets (2 cores):
small < 30 s, full < 5 min. Outputs go to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from geo.scenario import build

TARGET_S = {"small": 30.0, "full": 300.0}


def run(profile: str, workers: int | None) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="geo-bench-"))
    try:
        t0 = time.perf_counter()
        out = build("bagram", root / profile, seed=0, profile=profile, workers=workers)
        seconds = time.perf_counter() - t0
        manifest = json.loads((out / "manifest.json").read_text())
        size = sum(f["bytes"] for f in manifest["files"].values())
        return {"items": manifest["items"], "seconds": seconds, "mb": size / 1e6}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=["small", "full", "both"], default="both")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    profiles = ["small", "full"] if args.profile == "both" else [args.profile]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cpus={os.cpu_count()} load_avg_1min={load:.1f} workers={args.workers or 'auto'}")
    for profile in profiles:
        r = run(profile, args.workers)
        verdict = "OK" if r["seconds"] < TARGET_S[profile] else "SLOW"
        print(f"{profile:5s}: {r['items']:4.0f} items  {r['seconds']:7.1f} s  "
              f"{r['mb']:8.1f} MB  {r['seconds'] / r['items']:.2f} s/item  "
              f"(target < {TARGET_S[profile]:.0f} s: {verdict})")


if __name__ == "__main__":
    main()
