"""Radiometry: turn each item's digital numbers (DN) into surface reflectance.

Sentinel-2 L2A processing baseline 04.00 (from 2022-01-25, and every reprocessed
product of baseline 05.xx) stores ``DN = 10000 * reflectance + 1000``. Whether the 1000
is still in the files depends on the source (see DESIGN.md section 3):

========================================  ===============================================
source                                    DN offset still in the data
========================================  ===============================================
Earth Search ``sentinel-2-l2a``           baseline >= 04.00 and
                                          ``earthsearch:boa_offset_applied`` false
Earth Search ``sentinel-2-c1-l2a``        baseline >= 04.00 (all are 05.00+): always
Planetary Computer ``sentinel-2-l2a``     baseline >= 04.00 (raw ESA DNs)
anything else                             as Earth Search if it has the flag, else raw
========================================  ===============================================

Earth Search's ``raster:bands`` offset (-0.1) is *not* used for Earth Search
``sentinel-2-l2a``: it is set even where the offset was already removed, and using it
there subtracts the offset twice.

The flag itself is wrong on some items, in both directions, so the metadata decision
(:func:`decide`) is checked against the data, in two steps. Brightness alone never adds
a subtraction: bright desert without the offset has no pixel below DN ~950 either.

==========================  =================================  ============================
check                       evidence                           may change
==========================  =================================  ============================
single date                 more than 0.5 % of the valid DNs   subtract 1000 -> subtract 0
(:func:`check_offset`)      of the reflectance bands below
                            DN 900 (reflectance < -0.01 were
                            the offset there): no +1000 in
                            the data
over time                   against the same ground points on  subtract 0 <-> subtract 1000
(:func:`check_over_time`)   neighbouring clear dates, the
                            item is about 0.1 brighter
                            (darker) in every band: an
                            undeclared (a false) offset
==========================  =================================  ============================

Neither check can tell when every item of a series is wrong in the same way (all
dates shift together; nothing in the data separates that from the truth). Items of
baseline < 04.00, and items whose dark pixels prove that no offset is present, anchor
the series' absolute level when they are part of it.

Examples
--------
>>> item = {"id": "x", "collection": "sentinel-2-l2a", "properties": {
...     "s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True}}
>>> decide(item).dn_offset
0
>>> item["properties"]["earthsearch:boa_offset_applied"] = False
>>> decide(item).dn_offset
1000
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import warnings
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
import rasterio.errors
import rasterio.warp
from rasterio.crs import CRS
from rasterio.windows import Window

from geo import errors
from geo._gdal import rio_env

__all__ = [
    "OFFSET_DN",
    "QUANTIFICATION",
    "HIST_EDGES",
    "STEP",
    "NOT_CLEAR_SCL",
    "Radiometry",
    "processing_baseline",
    "source_kind",
    "decide",
    "dn_histogram",
    "darkest_dn",
    "absent_share",
    "check_offset",
    "SceneSamples",
    "sample_points",
    "sample_dn",
    "clear_from_scl",
    "check_over_time",
    "to_reflectance",
]

log = logging.getLogger(__name__)

OFFSET_DN = 1000
"""The radiometric offset (in DN) of processing baseline 04.00 and later."""

QUANTIFICATION = 10000.0
"""DN per unit reflectance (BOA_QUANTIFICATION_VALUE)."""

OFFSET_BASELINE = (4, 0)
"""First processing baseline whose products carry :data:`OFFSET_DN`."""

HIST_EDGES = np.arange(0, 3001, 50, dtype=np.float64)
"""Bin edges (DN) of the histograms the data check uses; values above 3000 go in one
overflow bin."""

_HIST_CHUNK = 1 << 16  # pixels per slice of dn_histogram

# Single-date check. With the offset in the data, DN < 900 means reflectance < -0.01:
# Sen2Cor's negative values (baseline 04.00+) come from noise over dark water and deep
# shadow, within about -0.01 of zero, so they stay a tiny tail: e.g. a window that is
# 10 % deep water, whose two SWIR bands (of six) dip below -0.01 on ~2 % of water pixels,
# puts ~0.1 % of its pooled DNs there. Without the offset, DN < 900 is any reflectance
# below 0.09 (vegetation in the visible bands, water, shadow): common on most ground.
_ABSENT_DN = 900  # a histogram bin edge (HIST_EDGES are 50 DN apart)
_ABSENT_SHARE = 0.005  # share of valid pooled DNs below _ABSENT_DN that rules the offset out
_MIN_PIXELS = 1000  # fewer valid pixels (or samples) than this: the data cannot tell
_QUANTILE = 0.001

# Check over time. An offset error moves every band by exactly STEP; between clear
# dates a few days apart, the same ground differs by a few hundredths (BRDF, atmosphere,
# season), and what else moves a whole scene (haze, thin cloud, wet soil) moves bands
# unequally. So a pair of dates is read as "k offsets apart" only if every band's
# median shift is within _SHIFT_TOL of k * STEP and the bands agree within _SPREAD_TOL.
STEP = OFFSET_DN / QUANTIFICATION
"""Reflectance shift of one misjudged offset (0.1)."""
_SHIFT_TOL = 0.03
_SPREAD_TOL = 0.03
_MIN_COMMON = 256  # common clear points a pair of dates needs to be compared
_MIN_BANDS = 2  # "every band" needs at least two bands
_NEIGHBOURS = 2  # neighbours on each side of a date
_LOOK = 6  # dates looked at on each side to find them (cloudy ones are skipped)
_REFINE = 20  # rounds of the level vote

NOT_CLEAR_SCL = (0, 1, 3, 8, 9, 10, 11)
"""SCL classes that are not clear ground (no data, saturated, cloud shadow, cloud
medium/high probability, cirrus, snow), as in :mod:`geo.load`."""

_N_BASELINE = re.compile(r"_N(\d{2})(\d{2})(?:_|$)")


@dataclass(frozen=True)
class Radiometry:
    """How one item's DNs become reflectance.

    Attributes
    ----------
    dn_offset
        DNs to subtract before dividing by :data:`QUANTIFICATION` (0 or 1000).
    offset_applied
        True when the product's offset has been removed, by its provider or by geo
        (False for baselines before 04.00, which never had one).
    baseline
        The processing baseline (``"04.00"``) or None if unknown.
    reason
        Which rule decided, for logs and reports.
    evidence
        What the data showed when a data check overrode the metadata (empty otherwise).
    """

    dn_offset: int
    offset_applied: bool
    baseline: str | None
    reason: str
    evidence: str = ""


def _props(item: pystac.Item | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(item, pystac.Item):
        return item.properties
    return item.get("properties", {})


def _field(item: pystac.Item | Mapping[str, Any], name: str) -> Any:
    if isinstance(item, pystac.Item):
        return getattr(item, name, None)
    return item.get(name)


def processing_baseline(item: pystac.Item | Mapping[str, Any]) -> str | None:
    """The item's processing baseline as ``"NN.NN"``, or None.

    Read from ``s2:processing_baseline`` (Earth Search v1, Planetary Computer),
    ``sentinel:processing_baseline`` (Earth Search v0), or the ``_Nxxyy_`` part of the
    product name (``s2:product_uri``, ``sentinel:product_id``) or item id.

    Examples
    --------
    >>> processing_baseline({"id": "a", "properties": {"s2:product_uri":
    ...     "S2A_MSIL2A_20200219T112111_N0214_R037_T29RKH_20200219T123947.SAFE"}})
    '02.14'
    """
    props = _props(item)
    for key in ("s2:processing_baseline", "sentinel:processing_baseline"):
        value = props.get(key)
        if value not in (None, ""):
            text = str(value)
            try:
                return f"{float(text):05.2f}"
            except ValueError:
                return text
    names = (props.get("s2:product_uri"), props.get("sentinel:product_id"), _field(item, "id"))
    for name in names:
        m = _N_BASELINE.search(str(name or "").removesuffix(".SAFE"))
        if m:
            return f"{m.group(1)}.{m.group(2)}"
    return None


def _at_least(baseline: str, minimum: tuple[int, int] = OFFSET_BASELINE) -> bool:
    major, _, minor = baseline.partition(".")
    try:
        return (int(major), int(minor or 0)) >= minimum
    except ValueError:
        return True  # an unparseable baseline is a new one; the data check decides


def source_kind(item: pystac.Item | Mapping[str, Any]) -> str:
    """Which radiometry rule applies: ``earth-search``, ``earth-search-c1``,
    ``planetary-computer`` or ``generic``.

    Examples
    --------
    >>> source_kind({"collection": "sentinel-2-c1-l2a", "properties": {}})
    'earth-search-c1'
    """
    props = _props(item)
    collection = str(_field(item, "collection_id") or _field(item, "collection") or "")
    if collection == "sentinel-2-c1-l2a":
        return "earth-search-c1"
    if "earthsearch:boa_offset_applied" in props or "sentinel:boa_offset_applied" in props:
        return "earth-search"
    hrefs = _hrefs(item)
    if any(".blob.core.windows.net/" in h for h in hrefs) or "MSIL2A" in str(_field(item, "id")):
        return "planetary-computer"
    return "generic"


def _hrefs(item: pystac.Item | Mapping[str, Any]) -> list[str]:
    if isinstance(item, pystac.Item):
        return [a.href for a in item.assets.values()]
    return [str(a.get("href", "")) for a in item.get("assets", {}).values()]


def decide(item: pystac.Item | Mapping[str, Any]) -> Radiometry:
    """Decide from metadata alone how to convert an item's DNs to reflectance.

    Parameters
    ----------
    item
        A pystac Item or an item dict (canonical or source asset keys).

    Returns
    -------
    Radiometry

    Examples
    --------
    >>> decide({"id": "S2B_MSIL2A_20250312T014549_N0511_R074_T53NKG_20250312T041213",
    ...         "properties": {"s2:processing_baseline": "05.11"}}).dn_offset
    1000
    """
    props = _props(item)
    baseline = processing_baseline(item)
    kind = source_kind(item)
    has_offset = baseline is None or _at_least(baseline)
    if baseline is None:
        reason = f"{kind}: processing baseline unknown; assuming raw DNs of baseline 04.00+"
    else:
        reason = f"{kind}: baseline {baseline}"
    if kind == "earth-search":
        flag = props.get("earthsearch:boa_offset_applied", props.get("sentinel:boa_offset_applied"))
        if flag is True:
            return Radiometry(0, has_offset, baseline, reason + ", boa_offset_applied true")
        if not has_offset:
            return Radiometry(0, False, baseline, reason + " (< 04.00: no offset)")
        return Radiometry(OFFSET_DN, True, baseline, reason + ", boa_offset_applied false")
    if not has_offset:
        return Radiometry(0, False, baseline, reason + " (< 04.00: no offset)")
    return Radiometry(OFFSET_DN, True, baseline, reason + " (raw DNs carry the offset)")


def dn_histogram(dn: np.ndarray, nodata: float = 0) -> np.ndarray:
    """Counts of valid DNs in :data:`HIST_EDGES` bins plus one overflow bin (> 3000).

    Examples
    --------
    >>> int(dn_histogram(np.array([0, 10, 1010, 5000])).sum())
    3
    """
    flat = np.asarray(dn).ravel()
    width, top = float(HIST_EDGES[1] - HIST_EDGES[0]), float(HIST_EDGES[-1])
    bins = len(HIST_EDGES) - 1
    out = np.zeros(bins + 1, dtype=np.int64)
    # A slice at a time: a whole window as float64 would cost 4x its own size, in every
    # fetch thread at once.
    for start in range(0, flat.size, _HIST_CHUNK):
        part = flat[start:start + _HIST_CHUNK]
        part = part[part != nodata]
        inside = part[(part >= 0) & (part <= top)]
        idx = np.minimum((inside // width).astype(np.intp), bins - 1)
        out[:bins] += np.bincount(idx, minlength=bins)
        out[bins] += np.count_nonzero(part > top)
    return out


def darkest_dn(hist: np.ndarray, quantile: float = _QUANTILE) -> float | None:
    """The DN below which ``quantile`` of the valid pixels lie (from a histogram).

    Returns None when the histogram holds fewer than 1000 pixels.

    Examples
    --------
    >>> h = dn_histogram(np.full(5000, 1100))
    >>> 1050 <= darkest_dn(h) <= 1100
    True
    """
    total = int(hist.sum())
    if total < _MIN_PIXELS:
        return None
    cum = np.cumsum(hist)
    idx = int(np.searchsorted(cum, quantile * total, side="left"))
    if idx >= len(HIST_EDGES) - 1:
        return float(HIST_EDGES[-1])
    return float(HIST_EDGES[idx])


def absent_share(hist: np.ndarray) -> float | None:
    """Share of the valid DNs of a histogram below DN 900 (None under 1000 pixels).

    With the 1000 DN offset in the data, DN < 900 would be reflectance below -0.01,
    which only a tiny tail of noisy dark pixels reaches; see :func:`check_offset`.

    Examples
    --------
    >>> absent_share(dn_histogram(np.r_[np.full(990, 2500), np.full(10, 300)]))
    0.01
    """
    total = int(hist.sum())
    if total < _MIN_PIXELS:
        return None
    below = int(hist[: int(np.searchsorted(HIST_EDGES, _ABSENT_DN))].sum())
    return below / total


def check_offset(
    radiometry: Radiometry, hist: np.ndarray | None, *, item_id: str = "?"
) -> Radiometry:
    """Check a metadata decision against one date's data; this can only remove a
    subtraction, never add one.

    Only items whose baseline may carry the offset (04.00+ or unknown) are checked. If
    more than 0.5 % of the valid DNs (pooled over the item's reflectance bands) lie
    below DN 900, no +1000 is in the data: were it there, those pixels would have
    reflectance below -0.01, which Sen2Cor gives only to a tiny tail of dark water
    and shadow. Anything else (bright ground, few pixels) leaves the metadata standing:
    on bright desert the darkest DNs sit near 1000 with or without the offset, so
    brightness proves nothing. An offset the metadata deny is found over time, by
    :func:`check_over_time`.

    Parameters
    ----------
    radiometry
        The metadata decision (:func:`decide`).
    hist
        :func:`dn_histogram` of the item's window, pooled over its reflectance bands,
        or None.
    item_id
        Named in the warning.

    Returns
    -------
    Radiometry
        ``radiometry``, or a copy with ``dn_offset`` 0 when the data rule the offset out.

    Warns
    -----
    geo.errors.HarmonisationWarning
        When the data contradict the metadata.

    Examples
    --------
    >>> import warnings
    >>> raw_claim = Radiometry(1000, True, "05.09", "earth-search: flag false")
    >>> dark = dn_histogram(np.r_[np.full(9000, 2500), np.full(1000, 400)])
    >>> with warnings.catch_warnings(record=True):
    ...     check_offset(raw_claim, dark, item_id="x").dn_offset
    0

    Bright desert whose darkest DN is 951 says nothing; the metadata stand:

    >>> harmonised = Radiometry(0, True, "05.09", "earth-search: flag true")
    >>> check_offset(harmonised, dn_histogram(np.r_[951, np.full(9999, 3000)])).dn_offset
    0
    """
    if hist is None or radiometry.dn_offset != OFFSET_DN:
        return radiometry
    if radiometry.baseline is not None and not _at_least(radiometry.baseline):
        return radiometry
    share = absent_share(hist)
    if share is None or share <= _ABSENT_SHARE:
        return radiometry
    evidence = (f"{100 * share:.1f} % of its valid DNs are below {_ABSENT_DN} (more than "
                f"{100 * _ABSENT_SHARE:.1f} %)")
    msg = (
        f"Item {item_id}: its metadata say the data still carry the 1000 DN offset "
        f"({radiometry.reason}), but {evidence}: reflectance below -0.01 were the offset "
        "there. The offset was already removed: not subtracting it."
    )
    warnings.warn(errors.HarmonisationWarning(msg), stacklevel=2)
    return replace(radiometry, dn_offset=0, offset_applied=True,
                   reason=radiometry.reason + "; data check: offset absent", evidence=evidence)


# --- evidence over time -----------------------------------------------------------


@dataclass(frozen=True)
class SceneSamples:
    """One item's DNs at a load's ground points, for :func:`check_over_time`.

    Attributes
    ----------
    item_id
        Named in warnings.
    time
        Acquisition time (naive times are taken as UTC).
    radiometry
        The decision so far (:func:`decide`, then :func:`check_offset`).
    dn
        DNs per reflectance band at the points of :func:`sample_points` (0: no data),
        e.g. from :func:`sample_dn`.
    clear
        Clear ground at those points (:func:`clear_from_scl`), or None without SCL.
    """

    item_id: str
    time: dt.datetime
    radiometry: Radiometry
    dn: Mapping[str, np.ndarray]
    clear: np.ndarray | None = None


@dataclass(frozen=True)
class _Pair:
    """Median per-band reflectance shift of date a against date b (a < b as indices)."""

    shift: dict[str, float]
    n: int
    k: int | None  # shift in offsets (a minus b), None when bands disagree


def sample_points(
    bounds: Sequence[float], *, n: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """A fixed lattice of about ``n`` ground points (cell centres) inside ``bounds``.

    Parameters
    ----------
    bounds
        ``(xmin, ymin, xmax, ymax)`` in the load's CRS.
    n
        Number of points wanted; the lattice is ``ceil(sqrt(n))`` points a side.

    Returns
    -------
    xs, ys
        1-D float64 arrays, row by row from the north-west corner.

    Raises
    ------
    geo.errors.LoadError
        Empty bounds.

    Examples
    --------
    >>> xs, ys = sample_points((0, 0, 40, 20), n=4)
    >>> xs.tolist(), ys.tolist()
    ([10.0, 30.0, 10.0, 30.0], [15.0, 15.0, 5.0, 5.0])
    """
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    if not (xmax > xmin and ymax > ymin) or n < 1:
        raise errors.LoadError(
            f"Cannot sample bounds {tuple(bounds)} with n={n}: give (xmin, ymin, xmax, "
            "ymax) with xmax > xmin and ymax > ymin, and n >= 1."
        )
    side = max(1, math.ceil(math.sqrt(n)))
    fx = (np.arange(side) + 0.5) / side
    gx, gy = np.meshgrid(xmin + fx * (xmax - xmin), ymax - fx * (ymax - ymin))
    return gx.ravel(), gy.ravel()


def sample_dn(
    path: str | Path | None, xs: np.ndarray, ys: np.ndarray, crs: Any, *,
    nodata: float | None = None,
) -> np.ndarray:
    """DNs of band 1 of a local raster at points (nearest pixel), 0 where missing.

    Reads one window: the pixels between the points, nothing else. Points in another
    CRS than the raster's are reprojected.

    Parameters
    ----------
    path
        A GeoTIFF (e.g. a stored window); None gives all zeros.
    xs, ys
        Point coordinates in ``crs`` (:func:`sample_points`).
    crs
        Their CRS (anything rasterio accepts).
    nodata
        The raster's no-data value if it does not say; DNs equal to it become 0.

    Returns
    -------
    numpy.ndarray
        int32 DNs, one per point; 0 outside the raster and at no-data.

    Raises
    ------
    geo.errors.ReadError
        The file cannot be read or has no CRS.

    Examples
    --------
    >>> sample_dn(None, np.zeros(3), np.zeros(3), "EPSG:32642").tolist()
    [0, 0, 0]
    """
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    out = np.zeros(xs.shape, dtype=np.int32)
    if path is None or xs.size == 0:
        return out
    try:
        with rio_env(), rasterio.open(path) as src:
            return _sample_open(src, xs, ys, CRS.from_user_input(crs), nodata, out)
    except rasterio.errors.RasterioError as exc:
        raise errors.ReadError(
            f"Sampling {path} for the offset check failed ({exc}). The stored window is "
            "corrupt: delete it (or the store) and load again."
        ) from exc


def _sample_open(
    src: Any, xs: np.ndarray, ys: np.ndarray, crs: CRS, nodata: float | None,
    out: np.ndarray,
) -> np.ndarray:
    if src.crs is None:
        raise errors.ReadError(f"{src.name} has no CRS; it cannot be sampled at map points.")
    if CRS.from_user_input(src.crs) != crs:
        tx, ty = rasterio.warp.transform(crs, src.crs, xs, ys)
        xs, ys = np.asarray(tx), np.asarray(ty)
    a, b, c, d, e, f = tuple(~src.transform)[:6]
    cols = np.floor(a * xs + b * ys + c).astype(np.int64)
    rows = np.floor(d * xs + e * ys + f).astype(np.int64)
    inside = (cols >= 0) & (cols < src.width) & (rows >= 0) & (rows < src.height)
    if not inside.any():
        return out
    c0, r0 = int(cols[inside].min()), int(rows[inside].min())
    window = Window(c0, r0, int(cols[inside].max()) + 1 - c0, int(rows[inside].max()) + 1 - r0)
    values = src.read(1, window=window)[rows[inside] - r0, cols[inside] - c0]
    values = values.astype(np.int64)
    nd = src.nodata if src.nodata is not None else nodata
    if nd is not None:
        values[values == nd] = 0
    out[inside] = np.clip(values, np.iinfo(np.int32).min, np.iinfo(np.int32).max)
    return out


def clear_from_scl(scl: np.ndarray) -> np.ndarray:
    """Clear ground from SCL classes: not in :data:`NOT_CLEAR_SCL` (0 = no data).

    Examples
    --------
    >>> clear_from_scl(np.array([0, 4, 5, 8, 9])).tolist()
    [False, True, True, False, False]
    """
    return ~np.isin(np.asarray(scl), NOT_CLEAR_SCL)


def check_over_time(scenes: Sequence[SceneSamples]) -> list[Radiometry]:
    """Check each item's offset against the same ground on neighbouring clear dates.

    A +1000 DN that the metadata deny (or a -1000 they wrongly claim) shows as a jump
    of 0.1 reflectance in *every* band against the same pixels on other dates. Each
    date is compared with up to 2 dates on each side (in time order, skipping dates
    with fewer than 256 common clear points): per band, the median over common points
    of the difference in reflectance (after each item's decided offset). A pair is
    read as k offsets apart only when every band is within 0.03 of k x 0.1 and the
    bands agree within 0.03; other pairs (haze, real change of the ground, season)
    are no evidence. The pairs link the dates into groups with relative levels (a
    vote over every date's pairs, so one wrong or odd neighbour does not decide). A
    group's absolute level comes from its anchors (items of baseline < 04.00; items
    whose samples prove no offset, as in :func:`check_offset`), else from the level
    most of its items share. Items off that level are corrected.

    Metadata stand for a date without comparable neighbours, with fewer than two
    bands, or in a group whose items split evenly between two levels (warned). If
    every item is wrong the same way, nothing can be told.

    Parameters
    ----------
    scenes
        One entry per item of a load, in any order.

    Returns
    -------
    list of Radiometry
        In the order of ``scenes``; overridden ones say why in ``reason`` and
        ``evidence``.

    Warns
    -----
    geo.errors.HarmonisationWarning
        For every override (naming the item, the per-band shifts against each
        neighbour, and what was applied) and for groups that cannot be resolved.

    Examples
    --------
    >>> import datetime as dt, warnings
    >>> rng = np.random.default_rng(0)
    >>> ground = rng.uniform(0.2, 0.35, (2, 1000))
    >>> def scene(day, offset, declared):
    ...     dn = {b: np.round((ground[i] + rng.normal(0, 0.005, 1000)) * 1e4) + offset
    ...           for i, b in enumerate(("red", "nir"))}
    ...     r = Radiometry(declared, True, "05.09", "metadata")
    ...     return SceneSamples(f"day{day}", dt.datetime(2023, 1, day), r, dn)
    >>> series = [scene(d, 0, 0) for d in (1, 6, 11, 21, 26)]
    >>> series.insert(3, scene(16, 1000, 0))  # an undeclared offset
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     [r.dn_offset for r in check_over_time(series)]
    [0, 0, 0, 1000, 0, 0]
    >>> "day16" in str(caught[0].message)
    True
    """
    out = [s.radiometry for s in scenes]
    if len(scenes) < 2:
        return out
    refl = [_reflectance_samples(s) for s in scenes]
    pairs = _neighbour_pairs(scenes, refl)
    edges = {key: p.k for key, p in pairs.items() if p.k is not None}
    adj = _adjacency(len(scenes), edges)
    levels = _solve_levels(adj)
    for comp in _components(adj):
        if len(comp) < 2:
            continue
        found = _reference_level(comp, levels, scenes)
        if found is None:
            continue
        ref, basis = found
        for i in comp:
            change = levels[i] - ref
            if change and _supported(i, levels, adj):
                out[i] = _override(i, change, _evidence(i, pairs, scenes) + "; " + basis, scenes)
    return out


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def _reflectance_samples(s: SceneSamples) -> dict[str, np.ndarray]:
    out = {}
    for band, dn in s.dn.items():
        values = np.asarray(dn, dtype=np.float64)
        r = (values - s.radiometry.dn_offset) / QUANTIFICATION
        bad = values == 0
        if s.clear is not None:
            bad |= ~np.asarray(s.clear, dtype=bool)
        r[bad] = np.nan
        out[band] = r
    return out


def _pair(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> _Pair | None:
    bands = [k for k in a if k in b and a[k].shape == b[k].shape]
    if len(bands) < _MIN_BANDS:
        return None
    ok = np.ones(a[bands[0]].shape, dtype=bool)
    for band in bands:
        ok &= np.isfinite(a[band]) & np.isfinite(b[band])
    n = int(ok.sum())
    if n < _MIN_COMMON:
        return None
    shift = {band: float(np.median(a[band][ok] - b[band][ok])) for band in bands}
    d = np.array(list(shift.values()))
    k = int(np.round(d.mean() / STEP))
    fits = np.all(np.abs(d - k * STEP) <= _SHIFT_TOL) and np.ptp(d) <= _SPREAD_TOL
    return _Pair(shift, n, k if fits and abs(k) <= 2 else None)


def _neighbour_pairs(
    scenes: Sequence[SceneSamples], refl: list[dict[str, np.ndarray]]
) -> dict[tuple[int, int], _Pair]:
    """Pairs (i, j), i < j, of each date with its nearest comparable neighbours."""
    order = sorted(range(len(scenes)), key=lambda i: (_utc(scenes[i].time), scenes[i].item_id))
    cache: dict[tuple[int, int], _Pair | None] = {}
    used: dict[tuple[int, int], _Pair] = {}
    for pos, i in enumerate(order):
        for side in (-1, 1):
            found = 0
            for step in range(1, _LOOK + 1):
                q = pos + side * step
                if not 0 <= q < len(order) or found == _NEIGHBOURS:
                    break
                key = (min(i, order[q]), max(i, order[q]))
                if key not in cache:
                    cache[key] = _pair(refl[key[0]], refl[key[1]])
                pair = cache[key]
                if pair is not None:
                    used[key] = pair
                    found += 1
    return used


def _adjacency(n: int, edges: Mapping[tuple[int, int], int]) -> list[list[tuple[int, int]]]:
    """adj[i] holds (j, k): date i sits k offsets above date j."""
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for (a, b), k in edges.items():
        adj[a].append((b, k))
        adj[b].append((a, -k))
    return adj


def _components(adj: list[list[tuple[int, int]]]) -> list[list[int]]:
    seen: set[int] = set()
    comps = []
    for root in range(len(adj)):
        if root in seen:
            continue
        comp, stack = [], [root]
        seen.add(root)
        while stack:
            i = stack.pop()
            comp.append(i)
            for j, _ in adj[i]:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        comps.append(sorted(comp))
    return comps


def _vote(i: int, levels: list[int | None], adj: list[list[tuple[int, int]]]) -> Counter[int]:
    return Counter(lv + k for j, k in adj[i] if (lv := levels[j]) is not None)


def _solve_levels(adj: list[list[tuple[int, int]]]) -> list[int]:
    """Relative level of each date (offsets), by breadth-first votes then refinement."""
    levels: list[int | None] = [None] * len(adj)
    for comp in _components(adj):
        levels[comp[0]] = 0
        queue = deque([comp[0]])
        while queue:
            i = queue.popleft()
            for j, _ in adj[i]:
                if levels[j] is None:
                    levels[j] = _vote(j, levels, adj).most_common(1)[0][0]
                    queue.append(j)
    for _ in range(_REFINE):
        changed = False
        for i in range(len(adj)):
            votes = _vote(i, levels, adj)
            if votes:
                best, count = votes.most_common(1)[0]
                if best != levels[i] and count > votes[levels[i] or 0]:
                    levels[i], changed = best, True
        if not changed:
            break
    return [0 if lv is None else lv for lv in levels]


def _known_error(s: SceneSamples) -> int | None:
    """The item's offset error (offsets) when certain without other dates, else None."""
    decided = s.radiometry.dn_offset // OFFSET_DN
    if s.radiometry.baseline is not None and not _at_least(s.radiometry.baseline):
        return -decided  # before 04.00 no offset can be in the data
    dn = np.concatenate([np.asarray(v).ravel() for v in s.dn.values()]) if s.dn else np.zeros(0)
    if s.clear is not None:
        dn = np.concatenate([np.asarray(v).ravel()[np.asarray(s.clear, dtype=bool).ravel()]
                             for v in s.dn.values()])
    share = absent_share(dn_histogram(dn))
    if share is not None and share > _ABSENT_SHARE:
        return -decided  # dark pixels prove there is no offset in the data
    return None


def _reference_level(
    comp: list[int], levels: list[int], scenes: Sequence[SceneSamples],
) -> tuple[int, str] | None:
    """The level of correct items in a group, from its anchors, else its majority; and
    a sentence saying which."""
    anchors = {i: e for i in comp if (e := _known_error(scenes[i])) is not None}
    votes = Counter(levels[i] - e for i, e in anchors.items()) or Counter(levels[i] for i in comp)
    ranked = votes.most_common(2)
    if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
        if anchors:
            basis = (f"level set by {ranked[0][1]} of {len(anchors)} linked items whose offset "
                     "is certain (baseline < 04.00, or dark pixels below DN 900)")
        else:
            basis = f"level shared by {ranked[0][1]} of {len(comp)} linked items"
        return ranked[0][0], basis
    names = ", ".join(f"{scenes[i].item_id} ({levels[i]:+d})" for i in comp)
    what = "anchors" if anchors else "items"
    msg = (
        f"Items {names} differ by multiples of 0.1 reflectance in every band against the "
        f"same ground (relative offset levels in brackets), and their {what} split evenly "
        "between levels: the data cannot tell which are right. Their metadata are kept; "
        "check these items' earthsearch:boa_offset_applied against the imagery."
    )
    warnings.warn(errors.HarmonisationWarning(msg), stacklevel=3)
    return None


def _supported(i: int, levels: list[int], adj: list[list[tuple[int, int]]]) -> bool:
    """Most of the date's own comparisons agree with its level."""
    agree = sum(levels[i] - levels[j] == k for j, k in adj[i])
    return agree >= 1 and 2 * agree > len(adj[i])


def _override(i: int, change: int, evidence: str, scenes: Sequence[SceneSamples]) -> Radiometry:
    s = scenes[i]
    r = s.radiometry
    new = r.dn_offset + change * OFFSET_DN
    if new not in (0, OFFSET_DN) or (new and r.baseline is not None and not _at_least(r.baseline)):
        msg = (f"Item {s.item_id}: against neighbouring dates it is off by {change * STEP:+.1f} "
               f"reflectance in every band ({evidence}), which no offset error of its "
               f"baseline explains; its metadata are kept ({r.reason}).")
        warnings.warn(errors.HarmonisationWarning(msg), stacklevel=3)
        return r
    if change > 0:
        said, found, done = ("the 1000 DN offset is already removed", "about 0.1 brighter",
                             "The offset is still in the data: subtracting 1000 DN.")
    else:
        said, found, done = ("the data still carry the 1000 DN offset", "about 0.1 darker",
                             "The offset was already removed: not subtracting it.")
    msg = (f"Item {s.item_id}: its metadata say {said} ({r.reason}), but it is {found} "
           f"in every band than the same ground on neighbouring clear dates ({evidence}). "
           f"{done}")
    warnings.warn(errors.HarmonisationWarning(msg), stacklevel=3)
    what = "offset present" if change > 0 else "offset absent"
    return replace(r, dn_offset=new, offset_applied=True,
                   reason=r.reason + f"; time check: {what}", evidence=evidence)


def _evidence(
    i: int, pairs: Mapping[tuple[int, int], _Pair], scenes: Sequence[SceneSamples]
) -> str:
    """Per-band shifts of date i against each neighbour it was compared with."""
    parts = []
    mine = [((b, 1) if a == i else (a, -1), p) for (a, b), p in pairs.items() if i in (a, b)]
    for (j, sign), p in sorted(mine, key=lambda m: _utc(scenes[m[0][0]].time)):
        shifts = " ".join(f"{band} {sign * v:+.3f}" for band, v in sorted(p.shift.items()))
        parts.append(f"{scenes[j].item_id}: {shifts} (n={p.n})")
    return "shift against " + "; ".join(parts)


def to_reflectance(dn: np.ndarray, dn_offset: int, nodata: float = 0) -> np.ndarray:
    """DNs to float32 reflectance (1.0 = 100 %), NaN where ``dn == nodata``.

    Examples
    --------
    >>> to_reflectance(np.array([0, 1000, 3500], dtype="uint16"), 1000).tolist()
    [nan, 0.0, 0.25]
    """
    out = (np.asarray(dn, dtype=np.float32) - np.float32(dn_offset)) / np.float32(QUANTIFICATION)
    out[np.asarray(dn) == nodata] = np.nan
    return out
