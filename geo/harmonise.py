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
there subtracts the offset twice. The flag itself is wrong on some items, so
:func:`check_offset` also looks at the data: on a scene whose DNs still carry the
offset, the darkest valid pixels sit just above DN 1000, not near 0.

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

import logging
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pystac

from geo import errors

__all__ = [
    "OFFSET_DN",
    "QUANTIFICATION",
    "HIST_EDGES",
    "Radiometry",
    "processing_baseline",
    "source_kind",
    "decide",
    "dn_histogram",
    "darkest_dn",
    "check_offset",
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

# Thresholds of the data check (DN of the 0.1th percentile of valid pixels, pooled over
# the reflectance bands of one item's window).
_PRESENT_LOW, _PRESENT_HIGH = 950.0, 1500.0  # darkest pixels just above 1000: offset in
_ABSENT_BELOW = 800.0  # darkest pixels well below 1000: no offset in the data
_MIN_PIXELS = 1000  # fewer valid pixels than this: the data cannot tell
_QUANTILE = 0.001

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
    """

    dn_offset: int
    offset_applied: bool
    baseline: str | None
    reason: str


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


def check_offset(
    radiometry: Radiometry, hist: np.ndarray | None, *, item_id: str = "?"
) -> Radiometry:
    """Check a metadata decision against the data; believe the data when they disagree.

    Only items whose baseline may carry the offset (04.00+ or unknown) are checked. The
    darkest valid pixels (0.1th percentile, pooled over the item's reflectance bands)
    decide: between DN 950 and 1500, the offset is in the data; below 800, it is not;
    otherwise (bright scenes, few pixels) the metadata stand.

    Warns
    -----
    geo.errors.HarmonisationWarning
        When the data contradict the metadata.

    Examples
    --------
    >>> r = Radiometry(0, True, "05.09", "earth-search: flag true")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):
    ...     check_offset(r, dn_histogram(np.full(5000, 1020)), item_id="x").dn_offset
    1000
    """
    if hist is None or (radiometry.baseline is not None and not _at_least(radiometry.baseline)):
        return radiometry
    dark = darkest_dn(hist)
    if dark is None:
        return radiometry
    in_data = _PRESENT_LOW <= dark <= _PRESENT_HIGH
    not_in_data = dark < _ABSENT_BELOW
    if in_data and radiometry.dn_offset == 0:
        msg = (
            f"Item {item_id}: its metadata say the 1000 DN offset is already removed "
            f"({radiometry.reason}), but its darkest valid pixels sit at DN ~{dark:.0f}, "
            "just above 1000: the offset is still in the data. Subtracting it."
        )
        warnings.warn(errors.HarmonisationWarning(msg), stacklevel=3)
        return replace(radiometry, dn_offset=OFFSET_DN, offset_applied=True,
                       reason=radiometry.reason + "; data check: offset present")
    if not_in_data and radiometry.dn_offset == OFFSET_DN:
        msg = (
            f"Item {item_id}: its metadata say the data still carry the 1000 DN offset "
            f"({radiometry.reason}), but its darkest valid pixels sit at DN ~{dark:.0f}, "
            "well below 1000: the offset was already removed. Not subtracting it."
        )
        warnings.warn(errors.HarmonisationWarning(msg), stacklevel=3)
        return replace(radiometry, dn_offset=0, offset_applied=True,
                       reason=radiometry.reason + "; data check: offset absent")
    return radiometry


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
