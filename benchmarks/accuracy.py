"""Accuracy of the activity index, aircraft detection and change points against truth.

Runs the whole chain on the synthetic scenario (``geo.scenario.build`` -> ``geo.search``
-> ``geo.load`` -> ``geo.activity``) and compares it with the scenario's ``truth.csv``
and ``truth_objects.csv``. Prints:

- Spearman correlation of the apron activity index with the true aircraft count
  (per date over the aprons, and per (date, apron)); target >= 0.85;
- aircraft-count mean absolute error (aircraft of 30 m wingspan or more, and all);
- precision and recall of detections of aircraft of 30 m wingspan or more;
- the change-point date, its interval, and its error against the true drop (target
  within 30 days);
- the step at 2022-01-25 (processing baseline 04.00) relative to noise, for the activity
  series and for the raw brightness of the control zone;
- activity reported on the decoy revetments (target: none);
- parking occupancy against the true vehicle count; anomalous dates after the change.

Usage (from the repository root)::

    python benchmarks/accuracy.py                      # builds the small profile in /tmp
    python benchmarks/accuracy.py --profile full       # five years, every pass
    python benchmarks/accuracy.py --scenario /path/to/built/scenario
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import geo  # noqa: E402
from geo import errors  # noqa: E402
from geo.activity import analyse  # noqa: E402
from geo.objects import disuse  # noqa: E402
from geo.when import change_points, series, step_at  # noqa: E402

BASELINE_CHANGE = "2022-01-25"
MATCH_M = 40.0


def _scenario(args: argparse.Namespace) -> Path:
    if args.scenario:
        return Path(args.scenario)
    out = Path(f"/tmp/geo_accuracy_{args.profile}_seed{args.seed}")
    if (out / "manifest.json").exists():
        print(f"using the scenario already built in {out}")
        return out
    import geo.scenario

    t0 = time.perf_counter()
    geo.scenario.build("bagram", out, seed=args.seed, profile=args.profile, overwrite=True)
    print(f"built the {args.profile} scenario in {out} ({time.perf_counter() - t0:.0f} s)")
    return out


def _load(folder: Path) -> tuple[geo.AOI, object]:
    from geo.load import load
    from geo.search import search

    aoi = geo.aoi.load("bagram")
    items = search(aoi, "2015-01-01", "2030-01-01", source=str(folder), progress=False)
    return aoi, load(items, aoi, progress=False)


def _day(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.normalize()


def _spearman(a: pd.Series, b: pd.Series) -> float:
    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def _match(objs: pd.DataFrame, truth: pd.DataFrame) -> tuple[int, int, int, int]:
    """Greedy nearest matching per (date, zone); a merged object may match ``count`` truths."""
    tp_det = tp_truth = 0
    for (d, z), det in objs.groupby(["date", "zone"]):
        tru = truth[(truth["date"] == d) & (truth["zone"] == z)][["x", "y"]].to_numpy()
        used = np.zeros(len(tru), bool)
        for o in det.itertuples():
            if not len(tru):
                break
            dist = np.hypot(tru[:, 0] - o.x, tru[:, 1] - o.y)
            dist[used] = np.inf
            hits = np.nonzero(dist <= MATCH_M + 10 * np.sqrt(o.area_px))[0]
            hits = hits[np.argsort(dist[hits])][: int(o.count)]
            if hits.size:
                used[hits] = True
                tp_det += int(o.count) if hits.size >= int(o.count) else int(hits.size)
        tp_truth += int(used.sum())
    return tp_det, int(objs["count"].sum()), tp_truth, len(truth)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", help="a built scenario folder (default: build one in /tmp)")
    p.add_argument("--profile", default="small", choices=["small", "full"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write activity.csv and objects.csv into this folder")
    p.add_argument("--baseline-dates", default="96",
                   help="dates the empty state is fitted to (geo.activity_index's "
                        "baseline_dates); 'all' for every date")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore", errors.CloudyDateWarning)

    folder = _scenario(args)
    t0 = time.perf_counter()
    aoi, ds = _load(folder)
    t1 = time.perf_counter()
    kinds = ("apron", "revetment", "parking", "yard", "runway", "taxiway")
    fit = None if args.baseline_dates == "all" else int(args.baseline_dates)
    res = analyse(ds, aoi, kinds=kinds, baseline_dates=fit, keep_scores=False)
    t2 = time.perf_counter()
    print(f"\n{ds.sizes['time']} dates, {ds.sizes['y']} x {ds.sizes['x']} px; load (lazy) "
          f"{t1 - t0:.1f} s, analysis {t2 - t1:.1f} s; control {res.control}; empty state "
          f"fitted to {'every date' if fit is None else f'at most {fit} dates'}")

    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        res.table.to_csv(Path(args.out) / "activity.csv", index=False)
        res.objects.to_csv(Path(args.out) / "objects.csv", index=False)
    table = res.table.assign(date=_day(res.table["date"]))
    truth = pd.read_csv(folder / "truth.csv", parse_dates=["date"])
    tobj = pd.read_csv(folder / "truth_objects.csv", parse_dates=["date"])
    df = table.merge(truth[["date", "zone", "aircraft", "aircraft_large", "helicopters",
                            "vehicles", "decoys", "clear_fraction"]],
                     on=["date", "zone"], how="left", suffixes=("", "_true"))
    print(f"rows: {len(df)}, flagged {int(df['flagged'].sum())} "
          f"({df['flagged'].mean():.0%}); rows without truth: {int(df['aircraft'].isna().sum())}")

    # --- activity vs aircraft count ------------------------------------------------------
    aprons = df[(df["kind"] == "apron") & ~df["flagged"]]
    per_date = aprons.groupby("date").agg(area=("anomalous_area_m2", "sum"),
                                          objects=("objects", "sum"),
                                          aircraft=("aircraft", "sum"),
                                          large=("aircraft_large", "sum"))
    print("\n== apron activity vs true aircraft count (unflagged rows) ==")
    print(f"Spearman, per date (sum over aprons), vs all aircraft:   "
          f"{_spearman(per_date['area'], per_date['aircraft']):.3f}   (target >= 0.85)")
    print(f"Spearman, per date (sum over aprons), vs large aircraft: "
          f"{_spearman(per_date['area'], per_date['large']):.3f}")
    print(f"Spearman, per (date, apron):                            "
          f"{_spearman(aprons['activity_index'], aprons['aircraft']):.3f}")
    obj_rows = df[df["kind"].isin(["apron", "revetment"]) & ~df["flagged"]]
    obj_rows = obj_rows[obj_rows["decoys"].fillna(0) == 0] if "decoys" in obj_rows else obj_rows
    mae_large = float((obj_rows["objects"].astype(float) - obj_rows["aircraft_large"]).abs().mean())
    mae_all = float((obj_rows["objects"].astype(float) - obj_rows["aircraft"]).abs().mean())
    print(f"aircraft count MAE per (date, zone): vs >= 30 m {mae_large:.2f}, vs all {mae_all:.2f} "
          f"(mean true large count {obj_rows['aircraft_large'].mean():.2f})")
    print(f"aircraft count MAE per date (all aprons): "
          f"{float((per_date['objects'].astype(float) - per_date['large']).abs().mean()):.2f}")

    # --- detections ---------------------------------------------------------------------------
    objs = res.objects.assign(date=_day(res.objects["date"]))
    objs = objs[~objs["flagged"]]
    ok_rows = df.loc[~df["flagged"], ["date", "zone"]]
    big = tobj[(tobj["wingspan_m"] >= 30) & (tobj.get("category", "aircraft") == "aircraft")]
    big = big.merge(ok_rows, on=["date", "zone"])
    tp_det, n_det, tp_truth, n_truth = _match(objs, big)
    prec = tp_det / n_det if n_det else float("nan")
    rec = tp_truth / n_truth if n_truth else float("nan")
    print(f"\n== detections of aircraft >= 30 m wingspan (match within {MATCH_M:.0f} m) ==")
    print(f"precision {prec:.3f} ({tp_det}/{n_det}), recall {rec:.3f} ({tp_truth}/{n_truth})")

    # --- change point ---------------------------------------------------------------------------
    s = series(res.table.assign(date=_day(res.table["date"])), kinds=("apron",))
    cp = change_points(s)
    true_series = truth[truth["kind"] == "apron"].groupby("date")["aircraft"].sum()
    busy = true_series[(true_series > 0) & (true_series.index < "2022-01-01")]
    last_busy = busy.index.max()
    after = true_series.index[true_series.index > last_busy]
    true_drop = last_busy + (after.min() - last_busy) / 2 if len(after) else last_busy
    print("\n== when did apron activity change ==")
    if cp.table.empty:
        print("no change point found")
    else:
        # the drop into the quietest regime (the earliest one if several reach it)
        drops = cp.table[cp.table["step"] < 0]
        if drops.empty:
            main_cp = cp.main
        else:
            floor = drops["after"].min() + 0.1 * abs(drops["step"]).max()
            main_cp = drops[drops["after"] <= floor].iloc[0]
        err = (main_cp["date"] - true_drop).days
        inside = main_cp["lower"] <= true_drop <= main_cp["upper"]
        print(cp.table.to_string(index=False))
        print(f"main drop {main_cp['date'].date()} (interval {main_cp['lower'].date()} .. "
              f"{main_cp['upper'].date()}); true drop {true_drop.date()} (last busy "
              f"{last_busy.date()}); error {err:+d} days (target within 30); true date in "
              f"interval: {inside}")
    st = step_at(s, BASELINE_CHANGE)
    print(f"step at {BASELINE_CHANGE} in the activity series: {st['step']:+.4f} = "
          f"{st['ratio']:+.2f} x noise ({st['noise']:.4f}); largest change-point step: "
          f"{cp.table['step_over_noise'].abs().max() if not cp.table.empty else float('nan'):.1f}"
          " x noise")
    ctrl = table[table["zone"].isin(res.control)] if res.control else None
    bright = _control_brightness(ds, aoi, res.control)
    if bright is not None:
        sb = step_at(bright, BASELINE_CHANGE)
        print(f"step at {BASELINE_CHANGE} in the control zone's median red reflectance: "
              f"{sb['step']:+.4f} = {sb['ratio']:+.2f} x noise ({sb['noise']:.4f})")
    del ctrl
    if not cp.anomalies.empty:
        print("anomalous dates after the change:")
        print(cp.anomalies.assign(date=cp.anomalies["date"].dt.date).to_string(index=False))

    # --- decoys, parking, disuse ---------------------------------------------------------------
    decoy_zones = truth.loc[truth["decoys"] > 0, "zone"].unique().tolist()
    print(f"\n== decoy revetments {decoy_zones} ==")
    dz = df[df["zone"].isin(decoy_zones) & ~df["flagged"]]
    quiet = dz[dz["aircraft"].fillna(0) == 0]
    print(f"dates {len(dz)}, of which {len(quiet)} without real aircraft: activity > 0 on "
          f"{int((quiet['activity_index'] > 0).sum())}, max {quiet['activity_index'].max():.4f}, "
          f"objects {int(quiet['objects'].sum())} (target: none)")
    park = df[(df["kind"] == "parking") & ~df["flagged"]]
    print(f"\n== parking: Spearman occupancy vs true vehicles "
          f"{_spearman(park['activity_index'], park['vehicles']):.3f}; busiest dates ==")
    top = park.sort_values("activity_index", ascending=False).head(4)
    print(top[["date", "zone", "activity_index", "vehicles"]].to_string(index=False))
    print("\n== runways and taxiways (disuse since 2021-08-15) ==")
    print(disuse(res.table, since="2021-08-15").round(3).to_string(index=False))
    return 0


def _control_brightness(ds: object, aoi: geo.AOI, control: list[str]) -> pd.Series | None:
    from geo.stats import zone_stats

    if not control:
        return None
    st = zone_stats(ds, aoi, variables=["red"], zones=control)  # type: ignore[arg-type]
    st = st[~st["flagged"]]
    return st.set_index(_day(st["date"]))["median"]


if __name__ == "__main__":
    raise SystemExit(main())
