"""Aprons found in imagery against the scenario's truth (issue 16, part 4).

For each site, starting from its ICAO code alone (:func:`geo.aoi.from_icao`), builds a
composite from the synthetic scenario (a local catalog), finds taxiways and aprons
(:func:`geo.airfield.find_zones`) and scores:

- every **true apron** of the site's AOI by the IoU of the found apron that overlaps it
  best (target >= 0.6);
- every **found apron** by the share of it inside the true paved area (runways,
  taxiways, aprons): under 0.5 is a false apron, named with the true zone it lies on;
- the **review from the found AOI** (controls picked off-site, then the whole archive
  loaded and analysed with :func:`geo.activity.analyse`, as a user would) against the
  truth, with the rank correlation of ``benchmarks/accuracy.py``'s ``spearman_dates``
  (target >= 0.9), at the level of the site (:func:`site_spearman`): found aprons need
  not map one-to-one onto true ones (one found apron may cover two adjoining true ones,
  or miss one), and the question a user asks of the review is how busy the site's
  aprons are on each date. The same review from the hand-drawn AOI is scored beside it.

Usage (from the repository root)::

    python benchmarks/find_zones.py                        # every site, small profile
    python benchmarks/find_zones.py --sites bagram --start 2023-01-01 --end 2023-12-31
    python benchmarks/find_zones.py --no-review            # zones only (seconds a site)
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import geo.aoi as aoi_mod  # noqa: E402
from geo import airfield, errors  # noqa: E402

SITES = {"bagram": "OAIX", "shindand": "OASD", "kandahar": "OAKN"}
"""Scenario sites and the ICAO code the finder starts from. Kandahar's apron layout was
drawn after the finder was last changed and the finder was not tuned on it."""

IOU_TARGET = 0.6
SPEARMAN_TARGET = 0.9
MIN_CLEAR = 0.7
"""Truth clear fraction from which a true apron counts as seen (as in geo.testing.accuracy)."""


def scenario(site: str, cache: Path) -> Path:
    """The small-profile scenario of a site, built once (keyed by the generator's code)."""
    from geo.scenario import build, code_version

    out = cache / f"{site}-small-{code_version(site)}"
    if not (out / "manifest.json").is_file():
        build(site, out, seed=0, profile="small", overwrite=True)
    return out


def score(site: str, found: aoi_mod.AOI) -> tuple[list[tuple[str, float, str]],
                                                  list[tuple[str, float, float, str]]]:
    """(true apron, best IoU, found name) and (found apron, share paved, confidence, on)."""
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
    others = truth[truth["kind"] != "perimeter"]
    per_found = []
    for f in aprons.itertuples():
        share = float(f.geometry.intersection(paved).area / f.geometry.area)
        on = max(((f.geometry.intersection(t.geometry).area, t.name)
                  for t in others.itertuples()), default=(0.0, "nothing"))
        per_found.append((str(f.name), share, float(f.confidence),
                          str(on[1]) if on[0] > 0 else "open ground"))
    return per_true, per_found


def site_spearman(table: pd.DataFrame, truth: pd.DataFrame, *,
                  min_clear: float = MIN_CLEAR) -> dict[str, float]:
    """Rank correlation of a review's apron activity with the true aircraft, per date.

    Dates are chosen by the truth alone: a date counts when the truth calls every true
    apron at least ``min_clear`` clear, whatever the review flagged. On those dates the
    review's apron activity is its active apron area (``activity_index`` times
    ``zone_pixels``, summed over every apron zone of the review; a row the review left
    out counts 0) and its ``objects``; the truth's is the aircraft on all true aprons.

    Returns
    -------
    dict
        ``dates``, ``spearman_dates`` (active area against aircraft) and
        ``spearman_objects_dates`` (objects against aircraft); NaN with fewer than 3
        dates or a constant side.

    Examples
    --------
    >>> truth = pd.DataFrame({"date": pd.to_datetime(["2021-01-01", "2021-02-01",
    ...                       "2021-03-01"] * 2), "kind": "apron", "zone": ["t"] * 3 + ["u"] * 3,
    ...                       "aircraft": [1, 5, 3, 0, 2, 1], "clear_fraction": 1.0})
    >>> table = pd.DataFrame({"date": pd.to_datetime(["2021-01-01", "2021-02-01",
    ...                       "2021-03-01"]), "kind": "apron", "zone": "f",
    ...                       "activity_index": [0.01, 0.09, 0.05], "zone_pixels": 100,
    ...                       "objects": [1, 6, 4]})
    >>> round(site_spearman(table, truth)["spearman_dates"], 2)
    1.0
    """
    from scipy import stats

    aprons = truth[truth["kind"] == "apron"].assign(date=_day(truth["date"]))
    clear = aprons.groupby("date")["clear_fraction"].min() >= min_clear
    dates = clear.index[clear.to_numpy()]
    true = aprons.groupby("date")["aircraft"].sum().reindex(dates)
    rows = table[table["kind"] == "apron"].assign(date=_day(table["date"]))
    rows = rows.assign(active=rows["activity_index"].astype(float)
                       * rows["zone_pixels"].astype(float),
                       objects=rows["objects"].astype(float))
    seen = rows.groupby("date")[["active", "objects"]].sum().reindex(dates, fill_value=0.0)

    def rho(a: pd.Series) -> float:
        if len(dates) < 3 or a.nunique() < 2 or true.nunique() < 2:
            return float("nan")
        return float(stats.spearmanr(a.to_numpy(float), true.to_numpy(float)).statistic)

    return {"dates": float(len(dates)), "spearman_dates": rho(seen["active"].fillna(0.0)),
            "spearman_objects_dates": rho(seen["objects"].fillna(0.0))}


def _day(values: pd.Series) -> pd.Series:
    days = pd.to_datetime(values)
    if days.dt.tz is not None:
        days = days.dt.tz_localize(None)
    return days.dt.normalize()


def review(aoi: aoi_mod.AOI, folder: Path, store: Path | None = None) -> pd.DataFrame:
    """The activity table of a review of the whole archive from ``aoi``."""
    import geo
    from geo.activity import analyse

    items = geo.search(aoi, "2015-01-01", "2030-01-01", source=str(folder), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GeoWarning)
        stack = geo.load(items, aoi, store=store, progress=False)
        return analyse(stack, aoi, keep_scores=False).table


def made_aoi(code: str, folder: Path, start: str, end: str,
             store: Path | None = None) -> tuple[aoi_mod.AOI, float]:
    """The AOI made from the code alone (zones and controls), and the seconds it took."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GeoWarning)
        made = airfield.make_aoi(code, folder, start=start, end=end, store=store,
                                 progress=False)
    return made, time.perf_counter() - t0


def run(site: str, folder: Path, start: str, end: str, *, with_review: bool = True) -> None:
    code = SITES[site]
    found, took = made_aoi(code, folder, start, end)
    per_true, per_found = score(site, found)
    print(f"\n{site} ({code}), {found.properties.get('composite', '?')}: make_aoi {took:.1f} s")
    for name, iou, best in per_true:
        flag = "ok" if iou >= IOU_TARGET else "MISSED"
        print(f"  true {name:<22} IoU {iou:.2f} with {best:<16} {flag}")
    for name, share, conf, on in per_found:
        flag = "" if share >= 0.5 else f"  FALSE APRON (on {on})"
        print(f"  found {name:<16} {100 * share:5.1f} % on true paved, confidence {conf:.2f}{flag}")
    taxi = (found.zones["kind"] == "taxiway").sum()
    false = sum(share < 0.5 for _, share, _, _ in per_found)
    ious = [i for _, i, _ in per_true]
    print(f"  {len(per_found)} apron(s), {taxi} taxiway(s) found; {false} false apron(s); "
          f"aprons at IoU >= {IOU_TARGET}: {sum(i >= IOU_TARGET for i in ious)} of "
          f"{len(per_true)} (min IoU {min(ious, default=np.nan):.2f})")
    if not with_review:
        return
    truth = pd.read_csv(folder / "truth.csv", parse_dates=["date"])
    for label, aoi in (("found AOI", found), ("drawn AOI", aoi_mod.load(site))):
        t0 = time.perf_counter()
        if not (aoi.zones["kind"] == "apron").any():
            print(f"  review from the {label}: no apron zone to review  MISSED")
            continue
        measures = site_spearman(review(aoi, folder), truth)
        flag = "ok" if measures["spearman_dates"] >= SPEARMAN_TARGET else "MISSED"
        print(f"  review from the {label}: Spearman {measures['spearman_dates']:.3f} "
              f"(objects {measures['spearman_objects_dates']:.3f}) over "
              f"{measures['dates']:.0f} truth-clear dates, {time.perf_counter() - t0:.0f} s"
              + (f"  {flag}" if label == "found AOI" else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sites", nargs="+", default=list(SITES), choices=list(SITES))
    parser.add_argument("--start", default="2021-01-01")
    parser.add_argument("--end", default="2021-12-31")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/geo-scenario-cache"))
    parser.add_argument("--scenario", action="append", default=[],
                        help="SITE=FOLDER: a scenario already built (else built in --cache)")
    parser.add_argument("--no-review", action="store_true",
                        help="score the zones only, not the review from the found AOI")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    given = dict(str(s).split("=", 1) for s in args.scenario)
    for site in args.sites:
        folder = Path(given[site]) if site in given else scenario(site, args.cache)
        run(site, folder, args.start, args.end, with_review=not args.no_review)


if __name__ == "__main__":
    main()
