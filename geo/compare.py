"""Many sites compared, and the review on a Dask cluster.

Every heavy step of a review (assembling the stack, the per-pixel baselines, the
per-zone reductions) is a Dask graph. Without a cluster it runs on Dask's local
threaded scheduler; inside :func:`dask_client` it runs on a ``dask.distributed``
cluster, local or remote, with geo's GDAL settings applied on every worker. Windows are
fetched into the imagery store by the client process, so workers of a remote cluster
need the store on a shared file system (``--store`` or ``GEO_IMAGERY_DIR``).

Examples
--------
>>> import geo.compare
>>> with geo.compare.dask_client(None) as client:  # no address: in-process scheduler
...     client is None
True
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from geo import errors
from geo.aoi import AOI
from geo.aoi import load as load_aoi
from geo.plot import save_figure, stamp
from geo.review import run_review
from geo.review.tables import atomic_csv, main_change

__all__ = ["SCHEDULER_ENV", "MultiReview", "compare_sites", "dask_client", "read_site_list",
           "run_sites"]


log = logging.getLogger(__name__)


SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
"""The usual Dask variable naming a scheduler; ``--scheduler`` wins over it."""


@contextmanager
def dask_client(address: str | None = None, *, timeout: str = "20s") -> Iterator[Any]:
    """Connect to a ``dask.distributed`` scheduler for the duration of a block.

    Parameters
    ----------
    address
        ``tcp://host:port`` of a running scheduler. ``None`` reads
        ``$DASK_SCHEDULER_ADDRESS``; if that is unset too, nothing is connected and the
        block runs on Dask's in-process scheduler (the client yielded is ``None``).
    timeout
        How long to wait for the scheduler.

    Yields
    ------
    distributed.Client or None

    Raises
    ------
    geo.errors.SchedulerUnavailable
        The scheduler cannot be reached.
    """
    address = address or os.environ.get(SCHEDULER_ENV) or None
    if not address:
        yield None
        return
    from distributed import Client

    from geo._gdal import configure_dask

    try:
        client = Client(address, timeout=timeout, set_as_default=True)
    except (OSError, TimeoutError) as exc:
        raise errors.SchedulerUnavailable(
            f"No Dask scheduler answers at {address!r} ({type(exc).__name__}). Start one "
            "(`dask scheduler`, then `dask worker ADDRESS`), fix --scheduler / "
            f"${SCHEDULER_ENV}, or leave both unset to run in this process."
        ) from None
    configure_dask(client)
    log.info("running on the Dask cluster at %s (%d workers)", address,
             len(client.scheduler_info().get("workers", {})))
    try:
        yield client
    finally:
        client.close()


def read_site_list(path: str | Path) -> list[str]:
    """Site names or GeoJSON paths, one per line (``#`` comments and blanks ignored).

    Relative paths are taken relative to the list's folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "sites.txt"
    >>> _ = f.write_text("bagram  # the flagship\\n\\nshindand\\n")
    >>> read_site_list(f)
    ['bagram', 'shindand']
    """
    file = Path(path)
    if not file.is_file():
        raise errors.AOINotFound(f"Site list {file} does not exist; write one AOI per line.")
    sites = []
    for raw in file.read_text(encoding="utf-8").splitlines():
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        candidate = file.parent / entry
        sites.append(str(candidate) if candidate.suffix and candidate.exists() else entry)
    if not sites:
        raise errors.AOIError(f"Site list {file} names no site; write one AOI per line.")
    return sites


@dataclass
class MultiReview:
    """The reviews of several sites and their comparison."""

    out: Path
    results: dict[str, Any]
    comparison: pd.DataFrame
    files: dict[str, Path]


def run_sites(
    sites: Sequence[AOI | str | Path],
    *,
    sources: Sequence[str | Path] | str | Path = "earth-search",
    out: str | Path = "review",
    **review_kwargs: Any,
) -> MultiReview:
    """Review several sites: one review folder each, plus a comparison table and figure.

    Parameters
    ----------
    sites
        AOIs, built-in names or GeoJSON paths.
    sources
        One source for all sites, or one per site (same order).
    out
        Parent folder: each site's review goes to ``out/<site name>/``; the comparison
        to ``out/comparison.csv`` and ``out/comparison.png``.
    **review_kwargs
        Passed on to :func:`geo.review.run_review` (start, end, images, store, ...).

    Returns
    -------
    MultiReview
    """

    areas = [s if isinstance(s, AOI) else load_aoi(s) for s in sites]
    names = [a.name for a in areas]
    if len(set(names)) != len(names):
        raise errors.AOIError(f"Sites {names} repeat a name; each site needs its own.")
    per_site = ([sources] * len(areas) if isinstance(sources, (str, Path))
                else list(sources))
    if len(per_site) == 1:
        per_site = per_site * len(areas)
    if len(per_site) != len(areas):
        raise errors.ReviewError(
            f"{len(per_site)} sources for {len(areas)} sites: give one source for all, "
            "or one per site in the same order."
        )
    root = Path(out)
    results: dict[str, Any] = {}
    for area, source in zip(areas, per_site, strict=True):
        log.info("site %s: reviewing from %s", area.name, source)
        results[area.name] = run_review(area, source=source, out=root / area.name,
                                        **review_kwargs)
    table = compare_sites(results)
    files = {"comparison.csv": root / "comparison.csv", "comparison.png": root / "comparison.png"}
    atomic_csv(table, files["comparison.csv"])
    site_comparison(results, files["comparison.png"])
    return MultiReview(out=root, results=results, comparison=table, files=files)


def compare_sites(results: dict[str, Any]) -> pd.DataFrame:
    """One row per site: dates, the change point, apron activity before and after it.

    Examples
    --------
    >>> compare_sites({}).columns.tolist()[:3]
    ['site', 'dates', 'selected']
    """
    rows = []
    for name, res in results.items():
        series = _site_series(res.activity)
        change = _main_change_date(res.change_points)
        before = series[series.index < change] if change is not None else series
        after = series[series.index >= change] if change is not None else series.iloc[:0]
        rows.append({
            "site": name,
            "dates": int(res.scenes["date"].nunique()) if len(res.scenes) else 0,
            "selected": int(res.scenes["selected"].sum()) if len(res.scenes) else 0,
            "change_point": change,
            "activity_before": float(before.mean()) if len(before) else np.nan,
            "activity_after": float(after.mean()) if len(after) else np.nan,
            "synthetic": bool(res.synthetic),
            "review": str(res.out),
        })
    columns = ["site", "dates", "selected", "change_point", "activity_before",
               "activity_after", "synthetic", "review"]
    table = pd.DataFrame(rows, columns=columns)
    table["drop"] = table["activity_before"] - table["activity_after"]
    return table


def _site_series(activity: pd.DataFrame) -> pd.Series:
    """Mean activity index of the site's apron zones per date (unflagged rows only)."""
    if activity is None or activity.empty:
        return pd.Series(dtype=float)
    rows = activity[activity["kind"] == "apron"] if "kind" in activity else activity
    if "flagged" in rows:
        rows = rows[~rows["flagged"].astype(bool)]
    return rows.groupby(pd.to_datetime(rows["date"]))["activity_index"].mean().sort_index()


def _main_change_date(change_points: Any) -> pd.Timestamp | None:
    main = main_change(change_points)
    return None if main.empty else pd.Timestamp(main["date"].iloc[0])


def site_comparison(results: dict[str, Any], out: str | Path | None = None) -> Figure:
    """Apron activity of several sites over time, one line each, change points marked.

    Parameters
    ----------
    results
        Site name -> :class:`geo.review.ReviewResult` (as :func:`geo.compare.run_sites` makes).
    out
        Where to save the PNG.
    """
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=130)
    synthetic = False
    for i, (name, res) in enumerate(results.items()):
        series = _site_series(res.activity)
        colour = f"C{i}"
        ax.plot(series.index, series.to_numpy(), "-o", ms=2.5, lw=1.2, color=colour,
                label=f"{name} ({len(series)} dates)")
        change = _main_change_date(res.change_points)
        if change is not None:
            ax.axvline(change, color=colour, ls="--", lw=1)  # type: ignore[arg-type]
            ax.annotate(f"{name}: change {change:%Y-%m-%d}", (change, ax.get_ylim()[1]),
                        xytext=(3, -12 - 11 * i), textcoords="offset points", fontsize=7,
                        color=colour)
        synthetic = synthetic or bool(res.synthetic)
    ax.set_ylabel("apron activity index (mean of apron zones)")
    ax.set_title("Activity across sites (dashed: each site's main change point)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.text(0.99, 0.01, "source: " + "; ".join(sorted({str(r.out) for r in results.values()})),
             ha="right", va="bottom", fontsize=6, color="0.4")
    if synthetic:
        stamp(fig)
    fig.tight_layout()
    if out is not None:
        save_figure(fig, out)
    plt.close(fig)
    return fig
