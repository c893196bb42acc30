"""Accuracy of the analysis against the scenario's truth, scored honestly (issue 18).

Runs the whole chain on a synthetic scenario (``geo.scenario.build`` -> ``geo.search`` ->
``geo.load`` -> ``geo.activity.analyse`` -> ``geo.when.change_points``) and scores the
columns users read (``activity_index``, ``objects``) and the change points the review
reports, on the rows the **truth** calls clear, flagged or not. The rules and the
targets are in :mod:`geo.testing.accuracy`; the README lists the targets and today's
figures.

When the scenario holds a Sentinel-1 archive (``truth-s1.csv``; ``--sensors s2,s1``, the
default then), the radar chain runs too (``geo.search(..., sensor="s1")`` -> ``geo.load``
-> ``geo.sar_activity``) and issue 15's figures are printed beside the optical ones:
radar apron activity against the true aircraft over every pass (no cloud filter), radar
counts against the true aircraft (per zone and per pass), the share of 12-day windows
with a usable measurement from each sensor and from either (and in winter), and the
change points of the fused series (``geo.fuse.fuse`` -> ``geo.when.change_points``)
with the calibration scale.

Prints every measure with its target; ``--check`` exits 1 when a target is missed.
``--compare-scl`` runs the analysis a second time trusting the scene classification's
clouds (``recover_clouds=False``), to show what recovering false clouds gains and that it
adds no false activity on truly cloudy dates. ``--sensitivity`` re-runs the analysis with
each key parameter at x0.8 and x1.25 and prints how the main figures move.

Usage (from the repository root)::

    python benchmarks/accuracy.py                      # builds the small profile in /tmp
    python benchmarks/accuracy.py --profile full --check
    python benchmarks/accuracy.py --profile full --story steady   # steady, then quiet
    python benchmarks/accuracy.py --scenario /path/to/built/scenario --compare-scl
    python benchmarks/accuracy.py --sensitivity        # small profile: about 10 minutes
    python benchmarks/accuracy.py --scenario ~/.cache/geo/scenario/bagram-full-seed0-... \
        --sensors s2,s1 --check                        # issue 15's radar goals too
"""

from __future__ import annotations

import argparse
import inspect
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import geo  # noqa: E402
from geo import errors  # noqa: E402
from geo.activity import analyse  # noqa: E402
from geo.testing import accuracy  # noqa: E402

KINDS = ("apron", "revetment", "parking", "yard", "runway", "taxiway")
SENSITIVITY = ("threshold", "occupancy_threshold", "min_object_pixels", "pixels_per_aircraft",
               "min_clear", "broad_threshold", "max_cloud_share", "noise_floor", "tolerance",
               "season_days")
HEADLINE = ("spearman_dates", "spearman_busy_dates", "count_mae_busy_period",
            "count_mae_quiet_period", "flagged_truth_clear_apron", "precision", "recall_large",
            "change_error_days", "changes_spurious", "cloudy_false_objects", "decoy_objects")


def _scenario(args: argparse.Namespace) -> Path:
    if args.scenario:
        return Path(args.scenario)
    story = "" if args.story == "bagram" else f"_{args.story}"
    out = Path(f"/tmp/geo_accuracy_{args.profile}{story}_seed{args.seed}")
    if (out / "manifest.json").exists():
        print(f"using the scenario already built in {out}")
        return out
    import geo.scenario

    t0 = time.perf_counter()
    geo.scenario.build("bagram", out, seed=args.seed, profile=args.profile, overwrite=True,
                       story=args.story)
    print(f"built the {args.profile} scenario in {out} ({time.perf_counter() - t0:.0f} s)")
    return out


def _load(folder: Path) -> tuple[geo.AOI, Any]:
    from geo.load import load
    from geo.search import search

    aoi = geo.aoi.load("bagram")
    items = search(aoi, "2015-01-01", "2030-01-01", source=str(folder), progress=False)
    return aoi, load(items, aoi, progress=False)


def _load_radar(folder: Path, aoi: geo.AOI) -> pd.DataFrame:
    """The radar chain on the scenario's Sentinel-1 items: ``geo.sar_activity``'s table."""
    from geo.load import load
    from geo.search import search

    items = search(aoi, "2015-01-01", "2030-01-01", source=str(folder), sensor="s1",
                   progress=False)
    return geo.sar_activity(load(items, aoi, progress=False), aoi)


def _sensors(args: argparse.Namespace, folder: Path) -> tuple[str, ...]:
    if args.sensors != "auto":
        return tuple(s.strip() for s in args.sensors.split(","))
    return ("s2", "s1") if (folder / "truth-s1.csv").is_file() else ("s2",)


def _radar(folder: Path, aoi: geo.AOI, optical: pd.DataFrame, truth: pd.DataFrame,
           ci: bool) -> tuple[dict[str, float], dict[str, accuracy.Target], pd.DataFrame,
                              pd.DataFrame]:
    """Run and print issue 15's figures; the measures, targets, radar table, fused series."""
    t0 = time.perf_counter()
    radar = _load_radar(folder, aoi)
    truth_s1 = accuracy.load_radar_truth(folder)
    measures, fused, found = accuracy.score_sensors(optical, radar, truth, truth_s1,
                                                    *accuracy.scenario_period(folder))
    targets = accuracy.RADAR_CI_BARS if ci else accuracy.RADAR_TARGETS
    print(f"\n== radar and the fused timeline (issue 15; {int(measures['radar_passes'])} "
          f"passes, radar {time.perf_counter() - t0:.0f} s; empty state: "
          f"{radar.attrs.get('reference', '')}) ==")
    print(accuracy.report(measures, targets))
    print("\n== radar counts against true aircraft, per zone ==")
    print(accuracy.radar_zone_errors(radar, truth_s1).round(2).to_string(index=False))
    _orbits(radar, truth_s1)
    _worst(folder, radar, truth_s1)
    print(f"\n== fused change points ({fused.attrs['calibration']}) ==")
    print(found.to_string(index=False) if len(found) else "none")
    return measures, targets, radar, fused


def _orbits(radar: pd.DataFrame, truth_s1: pd.DataFrame) -> None:
    """The radar figures of each relative orbit apart (their geometries differ)."""
    rows = {}
    for orbit, part in radar.groupby("relative_orbit"):
        m = accuracy.score_radar(part, truth_s1[truth_s1["relative_orbit"] == orbit])
        rows[f"orbit {orbit}"] = {k: m[k] for k in ("radar_passes", "radar_spearman_dates",
                                                    "radar_count_mae_site",
                                                    "radar_count_bias_site",
                                                    "radar_flagged_apron")}
    print("\n== radar per relative orbit ==")
    print(accuracy.measures_frame(rows).round(3).to_string())


def _worst(folder: Path, radar: pd.DataFrame, truth_s1: pd.DataFrame, n: int = 10) -> None:
    """The passes counted furthest from the truth, with their shift and wetness."""
    per = accuracy.radar_pass_errors(radar, truth_s1)
    passes = folder / "passes-s1.csv"
    if passes.is_file():
        info = pd.read_csv(passes, parse_dates=["date"])
        cols = [c for c in ("date", "relative_orbit", "shift_px", "wet", "wet_db", "snow")
                if c in info]
        per = per.merge(info[cols], on=["date", "relative_orbit"], how="left")
    worst = per.reindex(per["err"].abs().sort_values(ascending=False).index).head(n)
    print(f"\n== the {n} passes counted furthest from the truth ==")
    print(worst.to_string(index=False))


def _run(ds: Any, aoi: geo.AOI, truth: tuple[pd.DataFrame, pd.DataFrame], **params: Any
         ) -> tuple[dict[str, float], Any, Any]:
    res = analyse(ds, aoi, kinds=KINDS, keep_scores=False, **params)
    measures, found = accuracy.score(res.table, res.objects, *truth)
    return measures, found, res


def _defaults() -> dict[str, Any]:
    sig = inspect.signature(analyse)
    return {k: sig.parameters[k].default for k in SENSITIVITY}


def _sensitivity(ds: Any, aoi: geo.AOI, truth: tuple[pd.DataFrame, pd.DataFrame],
                 base: dict[str, float]) -> pd.DataFrame:
    """Each key parameter at x0.8 and x1.25: the headline measures, side by side."""
    runs: dict[str, dict[str, float]] = {"default": {k: base[k] for k in HEADLINE}}
    for name, value in _defaults().items():
        for factor in (0.8, 1.25):
            v = value * factor
            if isinstance(value, int) and not isinstance(value, bool):
                v = max(1, round(v)) if round(v) != value else value + (1 if factor > 1 else -1)
            t0 = time.perf_counter()
            measures, _, _ = _run(ds, aoi, truth, **{name: v})
            runs[f"{name}={v:g} (x{factor:g})"] = {k: measures[k] for k in HEADLINE}
            print(f"  {name} = {v:g}: {time.perf_counter() - t0:.0f} s", flush=True)
    return accuracy.measures_frame(runs).T


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", help="a built scenario folder (default: build one in /tmp)")
    p.add_argument("--profile", default="small", choices=["small", "full"])
    p.add_argument("--story", default="bagram", choices=["bagram", "steady"],
                   help="the scenario's story (steady: busy at one level, then quiet)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write activity.csv, objects.csv, measures.csv here")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--ci-bars", action="store_true",
                   help="check against the CI gate's lower bars instead of the targets")
    p.add_argument("--compare-scl", action="store_true",
                   help="also run trusting the SCL's clouds (recover_clouds=False)")
    p.add_argument("--sensitivity", action="store_true",
                   help="each key parameter at x0.8 and x1.25")
    p.add_argument("--sensors", default="auto",
                   help="s2 or s2,s1 (default: s2,s1 when the scenario holds radar)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore", errors.CloudyDateWarning)
    warnings.simplefilter("ignore", errors.HarmonisationWarning)

    folder = _scenario(args)
    truth = accuracy.load_truth(folder)
    t0 = time.perf_counter()
    aoi, ds = _load(folder)
    measures, found, res = _run(ds, aoi, truth)
    print(f"\n{ds.sizes['time']} dates; analysis {time.perf_counter() - t0:.0f} s; control "
          f"{res.control}; true changes: "
          + ", ".join(f"{c.date.date()} (transition {c.start.date()}..{c.end.date()})"
                      for c in accuracy.true_changes(truth[0])))
    targets = accuracy.CI_BARS if args.ci_bars else accuracy.TARGETS
    print("\n== measures (rows chosen by the truth; targets: "
          f"{'CI bars' if args.ci_bars else 'full-scenario targets'}) ==")
    print(accuracy.report(measures, targets))
    print("\n== change points as the review reports them ==")
    print(found.to_string(index=False) if len(found) else "none")
    failed = accuracy.missed(measures, targets)
    if "s1" in _sensors(args, folder):
        radar_measures, radar_targets, radar, fused = _radar(folder, aoi, res.table, truth[0],
                                                             args.ci_bars)
        failed += accuracy.missed(radar_measures, radar_targets)
        measures = {**measures, **radar_measures}
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            radar.to_csv(Path(args.out) / "activity-s1.csv", index=False)
            fused.to_csv(Path(args.out) / "fused.csv", index=False)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        res.table.to_csv(out / "activity.csv", index=False)
        res.objects.to_csv(out / "objects.csv", index=False)
        pd.Series(measures).to_csv(out / "measures.csv", header=["value"])
    if args.compare_scl:
        trusting, _, _ = _run(ds, aoi, truth, recover_clouds=False)
        both = accuracy.measures_frame({"recover false clouds": measures,
                                        "trust the SCL": trusting})
        print("\n== recovering the SCL's false clouds against trusting it ==")
        rows = [*HEADLINE, "flagged_truth_clear_busy_apron", "cloudy_unflagged",
                "cloudy_false_activity", "cloudy_false_objects_all"]
        print(both.loc[rows].round(3).to_string())
    if args.sensitivity:
        print("\n== sensitivity: each parameter at x0.8 and x1.25 ==", flush=True)
        print(_sensitivity(ds, aoi, truth, measures).round(3).to_string())
    if failed:
        print("\ntargets missed:\n  " + "\n  ".join(failed))
    else:
        print("\nevery target met")
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
