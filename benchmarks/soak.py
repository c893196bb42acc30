"""Soak: N reviews back to back in one process against a faulty network.

The small synthetic scenario is served on loopback (``rustac serve`` for the STAC API
and a range-request file server), each behind a :class:`geo.testing.faults.FaultProxy`:
the API proxy rewrites the file server's URL in item hrefs to the file proxy's, so
every phase (search pages, HEADs, COG header reads, tiles) meets faults. One clean
review runs first as the reference; then ``--n`` reviews, each with a fresh store and
its own fault seed. Per review it prints:

- faults injected, by kind (from ``fault_counts()`` of both proxies);
- retries: INFO records "retry" of ``geo.load`` (whole-window reads), "STAC API page"
  retries of ``geo.search``, and GDAL's own request retries ("Retrying again", logged
  by ``rasterio._env``);
- whether ``activity.csv``, ``scenes.csv`` and ``change.tif`` equal the clean review's
  bytes;
- wall time, peak RSS (``ru_maxrss``) and current RSS (``/proc/self/statm``).

At the end it prints the growth of the current RSS from review 2 to review N (review
1 warms caches and imports); growth above ``--max-growth`` MB (default 50), or a
review that differs from the clean one, is a failure: exit status 1 with ``--check``.

Usage::

    python benchmarks/soak.py                     # 5 reviews, 5 % faults, all kinds
    python benchmarks/soak.py --n 10 --rate 0.15 --kinds 503,reset,truncate --check
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, sys.path[0] is benchmarks/; put the repository first so ``geo`` is
# the package (the editable install's finder would otherwise yield a namespace package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("benchmarks.soak")

OUTPUTS = ("activity.csv", "scenes.csv", "change.tif")
START, END, IMAGES = "2020-10-01", "2021-03-31", 6


class RetryCounter(logging.Handler):
    """Counts the retry records of geo.load (window reads), geo.search (pages) and GDAL.

    Examples
    --------
    >>> counter = RetryCounter()
    >>> counter.emit(logging.makeLogRecord({"name": "geo.load", "msg": "read failed; retry 1/3"}))
    >>> counter.reads, counter.pages, counter.gdal
    (1, 0, 0)
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.reads = 0
        self.pages = 0
        self.gdal = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.name == "geo.load" and "retry" in text:
            self.reads += 1
        elif record.name == "geo.search" and text.startswith("STAC API page"):
            self.pages += 1
        elif record.name == "rasterio._env" and "Retrying again" in text:
            self.gdal += 1

    def reset(self) -> None:
        """Start counting again from zero."""
        self.reads = self.pages = self.gdal = 0


@dataclass
class Outcome:
    """One review of the soak."""

    label: str
    faults: dict[str, int] = field(default_factory=dict)
    read_retries: int = 0
    page_retries: int = 0
    gdal_retries: int = 0
    identical: bool | None = None
    error: str = ""
    seconds: float = 0.0
    peak_mb: float = 0.0
    rss_mb: float = 0.0


def current_rss_mb() -> float:
    """Resident memory of this process now, in MB (from ``/proc/self/statm``)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _merge(*counts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for count in counts:
        for kind, n in count.items():
            out[kind] = out.get(kind, 0) + n
    return out


def _same(out: Path, clean: Path) -> bool:
    return all((out / n).read_bytes() == (clean / n).read_bytes() for n in OUTPUTS)


def one_review(server: Any, out: Path, counter: RetryCounter, *, label: str,
               files_kw: dict[str, Any], api_kw: dict[str, Any],
               clean: Path | None) -> Outcome:
    """A review searched through a faulty STAC API and read through faulty files."""
    from geo.review import run_review
    from geo.testing.faults import FaultProxy

    counter.reset()
    result = Outcome(label)
    t0 = time.perf_counter()
    with FaultProxy(server.files_url, **files_kw) as files, \
            FaultProxy(server.stac_url, rewrite={server.files_url.rstrip("/"): files.url},
                       **api_kw) as api:
        try:
            run_review("bagram", source=api.url, start=START, end=END, images=IMAGES,
                       out=out, store=out / "store", progress=False, sensors=("s2",))
        except Exception as exc:  # a soak reports a failed review and goes on
            result.error = f"{type(exc).__name__}: {exc}"[:300]
        result.faults = _merge(files.fault_counts(), api.fault_counts())
    result.seconds = time.perf_counter() - t0
    result.read_retries, result.page_retries = counter.reads, counter.pages
    result.gdal_retries = counter.gdal
    if not result.error and clean is not None:
        result.identical = _same(out, clean)
    result.peak_mb, result.rss_mb = peak_rss_mb(), current_rss_mb()
    return result


def _row(o: Outcome) -> str:
    faults = ",".join(f"{k}:{v}" for k, v in sorted(o.faults.items())) or "-"
    same = {None: "ref" if not o.error else "ERROR", True: "yes", False: "NO"}[o.identical]
    return (f"{o.label:<8} {sum(o.faults.values()):>6} {o.read_retries:>6} {o.page_retries:>6} {o.gdal_retries:>7} "
            f"{same:>9} {o.seconds:>8.1f} {o.peak_mb:>8.0f} {o.rss_mb:>8.0f}  {faults}")


HEADER = (f"{'review':<8} {'faults':>6} {'rd-rt':>6} {'pg-rt':>6} {'gdal-rt':>7} {'identical':>9} "
          f"{'wall s':>8} {'peak MB':>8} {'rss MB':>8}  faults by kind")


def soak(n: int, rate: float, kinds: tuple[str, ...], workdir: Path) -> list[Outcome]:
    """Run the clean reference review and ``n`` faulty ones; print a row per review."""
    from geo.scenario import serve
    from geo.testing.scenario import small_scenario

    counter = RetryCounter()
    for name in ("geo.load", "geo.search", "rasterio._env"):
        logging.getLogger(name).addHandler(counter)
        logging.getLogger(name).setLevel(logging.INFO)
    outcomes = []
    print(HEADER, flush=True)
    with serve(small_scenario()) as server:
        clean = workdir / "clean"
        outcomes.append(one_review(server, clean, counter, label="clean",
                                   files_kw={"rate": 0.0}, api_kw={"rate": 0.0}, clean=None))
        print(_row(outcomes[-1]), flush=True)
        for i in range(1, n + 1):
            kw = {"rate": rate, "kinds": kinds, "seed": 100 + i, "slow_seconds": 0.05}
            outcomes.append(one_review(server, workdir / f"r{i}", counter, label=f"#{i}",
                                       files_kw=kw, api_kw=kw, clean=clean))
            print(_row(outcomes[-1]), flush=True)
    return outcomes


def verdict(outcomes: list[Outcome], max_growth: float) -> tuple[bool, str]:
    """Whether the soak passed, and a summary line (RSS growth from review 2 to N)."""
    faulty = outcomes[1:]
    bad = [o.label for o in faulty if o.identical is not True]
    if len(faulty) >= 2:
        growth = faulty[-1].rss_mb - faulty[1 if len(faulty) > 2 else 0].rss_mb
        first = faulty[1 if len(faulty) > 2 else 0].label
        text = f"RSS growth {first} -> {faulty[-1].label}: {growth:+.1f} MB (limit {max_growth:g})"
    else:
        growth, text = 0.0, "RSS growth: needs two faulty reviews"
    ok = not bad and growth <= max_growth
    summary = (f"{len(faulty) - len(bad)}/{len(faulty)} reviews identical to the clean one; "
               f"{text}; {'PASS' if ok else 'FAIL'}")
    if bad:
        summary += f" (not identical: {', '.join(bad)})"
    return ok, summary


def main(argv: list[str] | None = None) -> int:
    from geo.testing.faults import FAULT_KINDS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5, help="faulty reviews (default 5)")
    parser.add_argument("--rate", type=float, default=0.05, help="share of requests that fault")
    parser.add_argument("--kinds", default=",".join(FAULT_KINDS),
                        help=f"comma-separated fault kinds (default all: {','.join(FAULT_KINDS)})")
    parser.add_argument("--max-growth", type=float, default=50.0,
                        help="RSS growth (MB) from review 2 to N that fails the soak")
    parser.add_argument("--check", action="store_true", help="exit 1 when the soak fails")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the reviews")
    parser.add_argument("--verbose", action="store_true", help="show geo's log and warnings")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.INFO if args.verbose else logging.ERROR)
    if not args.verbose:
        warnings.simplefilter("ignore")
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    print(f"soak: {args.n} reviews of bagram {START}..{END} ({IMAGES} images), "
          f"rate {args.rate:g}, kinds {','.join(kinds)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="geo-soak-") as tmp:
        outcomes = soak(args.n, args.rate, kinds, args.workdir or Path(tmp))
    for o in outcomes:
        if o.error:
            print(f"{o.label}: {o.error}")
    ok, summary = verdict(outcomes, args.max_growth)
    print(summary)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
