"""Load a harmonised, masked Sentinel-2 time series of an AOI as a lazy xarray Dataset.

Sentinel-1 RTC items (Planetary Computer ``sentinel-1-rtc``) load the same way (the same
windows, store, retries and checks) into a radar stack: ``vv``/``vh`` in dB on the same
grid, one time per acquisition, no harmonisation and no cloud mask.

:func:`load` works in two phases:

1. **Fetch** (eager, threaded, with a progress bar): for every item and band asked
   for, read only the window of the asset that covers the AOI (GDAL reads the COG
   header and the internal tiles that intersect the window, nothing else) and keep it
   in the imagery store (:mod:`geo.store`), with the ETag, Last-Modified and size the
   server sent for the file (taken from GDAL's own responses: no extra request). A
   later run asks for them again with one ``HEAD`` per stored file and makes no range
   request unless the file changed, in which case the window is read again;
   ``offline=True`` uses the store only and asks nothing. Files of a local catalog are
   read in place. With ``on_error="skip"`` an unreadable file (missing, corrupt, a
   source that keeps failing) becomes missing data, listed with its reason in
   ``ds.attrs["skipped"]``. The fetch also takes a histogram of the
   darkest DNs, which the radiometry check (:mod:`geo.harmonise`) needs.
2. **Assemble** (lazy): a Dask graph with one task per (date, band, chunk) reads the
   stored windows, places them on the output grid (nearest neighbour; 20 m bands
   become 2 x 2 blocks of 10 m pixels), converts DNs to reflectance per item, and
   mosaics the items of one solar day (first valid pixel wins).

The output grid is the AOI's UTM grid aligned to the Sentinel-2 pixel lattice
(:meth:`geo.aoi.AOI.utm_bounds`), built with odc-geo. Reads go through the settings
in :mod:`geo._gdal`, inside each task, so they hold on Dask workers too.

Why not ``odc.stac.load`` directly: the store must sit between the network and the
stack, and the radiometry is decided per item (metadata and data), before items of a
day are mosaicked; both are simpler with rasterio windows. ``benchmarks/load.py``
compares the two.

Examples
--------
>>> import geo
>>> items = geo.search("bagram", "2022-01-01", "2022-03-01")  # doctest: +SKIP
>>> ds = geo.load(items, "bagram")  # doctest: +SKIP
>>> ds.red.dtype, ds.scl.dtype  # doctest: +SKIP
(dtype('float32'), dtype('uint8'))
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import dask.array as da
import numpy as np
import pystac
import rasterio
import rasterio.warp
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from geo import aoi as aoi_mod
from geo import errors, harmonise
from geo._gdal import TAP_SETTINGS, rio_env, tap_http_headers, tap_transfer_faults
from geo._memory import buffers_returned_at_once, return_freed_memory
from geo._redact import redact_text, redact_url
from geo.aoi import AOI
from geo.search import (
    RADAR_KEYS,
    _platform,
    _progress,
    _when,
    acquisition_key,
    canonicalise,
    collapse_duplicates,
    item_collection,
    mgrs_tile,
    relative_orbit,
    sensor_of,
    solar_day,
)
from geo.store import Store, Validators, WindowEntry, head_validators, open_store, parse_validators

__all__ = ["DEFAULT_BANDS", "REFLECTANCE_BANDS", "RADAR_BANDS", "NOT_CLEAR", "SNOW", "load",
           "fetch", "skipped_reads", "Expected", "expected_of", "to_db"]

log = logging.getLogger(__name__)

DEFAULT_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")
"""Bands :func:`load` reads unless told otherwise."""

REFLECTANCE_BANDS = frozenset({
    "coastal", "blue", "green", "red", "rededge1", "rededge2", "rededge3", "nir", "nir08",
    "nir09", "swir16", "swir22",
})
"""Bands converted to reflectance (float32); others (``scl``) keep their DNs."""

RADAR_BANDS: tuple[str, ...] = tuple(sorted(RADAR_KEYS, reverse=True))
"""Sentinel-1 RTC bands (``vv``, ``vh``): :func:`load` reads both unless told otherwise."""

_RADAR = harmonise.Radiometry(0, False, None, "Sentinel-1 RTC: linear gamma0 to dB, "
                              "not harmonised")
"""The radiometry record of a radar scene (no DN offset applies)."""

NOT_CLEAR: tuple[int, ...] = (0, 1, 3, 8, 9, 10, 11)
"""SCL classes that are not clear ground: nodata, saturated, cloud shadow, cloud
(medium, high), thin cirrus, snow."""

SNOW = 11
"""SCL class of snow and ice."""

_EMPTY_SHAPE = (1, 1)


@dataclass
class Piece:
    """One band of one item, ready to be read locally."""

    item_id: str
    band: str
    path: str | None  # local file with the window (None: the item misses the AOI)
    nodata: float = 0
    hist: np.ndarray | None = None
    stored: bool = False
    skipped: str = ""  # why the read was skipped (on_error="skip"), else ""
    href: str = ""  # redacted href of the asset, for the record of skipped reads


@dataclass
class Scene:
    """One item with its radiometry and its pieces."""

    item: pystac.Item
    radiometry: harmonise.Radiometry
    pieces: dict[str, Piece] = field(default_factory=dict)


# --- fetch ---------------------------------------------------------------------------


def _gdal_path(href: str) -> str:
    parts = urlsplit(href)
    if parts.scheme in ("http", "https"):
        return "/vsicurl/" + href
    if parts.scheme == "s3":
        return f"/vsis3/{parts.netloc}{parts.path}"
    if parts.scheme == "file":
        return unquote(parts.path)
    return href


def _is_remote(href: str) -> bool:
    return urlsplit(href).scheme in ("http", "https", "s3", "gs", "az")


@dataclass(frozen=True)
class Expected:
    """What an item says about one asset's file; None where it says nothing.

    From the STAC projection extension (``proj:epsg``/``proj:code`` of the asset or
    the item, ``proj:transform`` and ``proj:shape`` of the asset) and the raster
    extension (``raster:bands[0]``: ``data_type``, ``nodata``).
    """

    crs: CRS | None = None
    transform: Affine | None = None
    shape: tuple[int, int] | None = None  # (rows, cols)
    dtype: str | None = None
    nodata: float | None = None


def _proj_crs(fields: Mapping[str, Any]) -> CRS | None:
    code = fields.get("proj:code") or (
        f"EPSG:{fields['proj:epsg']}" if fields.get("proj:epsg") else None)
    if not code:
        return None
    try:
        return CRS.from_user_input(str(code))
    except (rasterio.errors.CRSError, ValueError):
        log.info("ignoring unreadable CRS %r in item metadata", code)
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _numbers(value: Any, least: int) -> list[float] | None:
    """A list of at least ``least`` finite numbers, or None (metadata that do not parse
    say nothing rather than break the load)."""
    if not isinstance(value, list | tuple) or len(value) < least:
        return None
    out = [_float_or_none(v) for v in value]
    if any(v is None or not math.isfinite(v) for v in out):
        return None
    return [float(v) for v in out if v is not None]


def expected_of(item: pystac.Item, band: str) -> Expected:
    """What ``item`` says about the file of its ``band`` asset.

    Examples
    --------
    >>> import pystac, datetime as dt
    >>> item = pystac.Item("x", None, None, dt.datetime(2022, 1, 1), {"proj:epsg": 32642})
    >>> item.add_asset("red", pystac.Asset("r.tif", extra_fields={
    ...     "proj:shape": [2, 3], "proj:transform": [10, 0, 0, 0, -10, 20],
    ...     "raster:bands": [{"data_type": "uint16", "nodata": 0}]}))
    >>> e = expected_of(item, "red")
    >>> e.crs.to_epsg(), e.shape, e.dtype, e.nodata
    (32642, (2, 3), 'uint16', 0.0)
    """
    asset = item.assets.get(band)
    fields: dict[str, Any] = dict(asset.extra_fields) if asset is not None else {}
    if sensor_of(item) == "s1":  # one grid for both polarisations, given on the item
        shared: dict[str, Any] = {k: item.properties[k] for k in ("proj:transform", "proj:shape")
                                  if k in item.properties}
        fields = {**shared, **fields}
    crs = _proj_crs(fields) or _proj_crs(item.properties)
    t = _numbers(fields.get("proj:transform"), 6)
    transform = Affine(*t[:6]) if t is not None and len(t) >= 6 else None
    shape_ = _numbers(fields.get("proj:shape"), 2)
    shape = (int(shape_[0]), int(shape_[1])) if shape_ is not None and len(shape_) == 2 else None
    rb = fields.get("raster:bands")
    first = rb[0] if isinstance(rb, list) and rb and isinstance(rb[0], dict) else {}
    dtype = str(first["data_type"]) if first.get("data_type") else None
    return Expected(crs, transform, shape, dtype, _float_or_none(first.get("nodata")))


def _crs_text(crs: Any) -> str:
    if crs is None:
        return "none"
    found = CRS.from_user_input(crs)
    epsg = found.to_epsg()
    return f"EPSG:{epsg}" if epsg else found.to_string()[:60]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _differences(src: Any, want: Expected) -> list[str]:
    """How an open file differs from what its item says (and a missing CRS), as text."""
    out = []
    if src.crs is None or (want.crs is not None and CRS.from_user_input(src.crs) != want.crs):
        out.append(f"CRS: expected {_crs_text(want.crs) if want.crs else 'one'}, "
                   f"read {_crs_text(src.crs)}")
    if want.shape is not None and (src.height, src.width) != want.shape:
        out.append(f"shape (rows, cols): expected {want.shape}, read {(src.height, src.width)}")
    if want.transform is not None and not all(
            _close(a, b) for a, b in zip(tuple(src.transform)[:6], tuple(want.transform)[:6],
                                         strict=True)):
        out.append(f"transform: expected {tuple(want.transform)[:6]}, "
                   f"read {tuple(src.transform)[:6]}")
    if want.dtype is not None and src.dtypes[0] != want.dtype:
        out.append(f"data type: expected {want.dtype}, read {src.dtypes[0]}")
    if want.nodata is not None and src.nodata is not None and not (
            _close(src.nodata, want.nodata) or (math.isnan(src.nodata) and math.isnan(want.nodata))):
        out.append(f"nodata: expected {want.nodata:g}, read {src.nodata:g}")
    return out


class _Mismatch(Exception):
    """A file opened as something else than its item says (transient until it persists)."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__("; ".join(differences))
        self.differences = differences


class _CutBody(Exception):
    """A response body ended before its Content-Length (GDAL read on from the part)."""


def _pixel_window(src: Any, bounds: Sequence[float], crs: CRS) -> Window | None:
    """The whole-pixel window of ``src`` covering ``bounds`` (in ``crs``), or None."""
    if src.crs is None:
        raise errors.LoadError(f"{src.name} has no CRS; geo cannot place it on a map.")
    b = tuple(bounds)
    if CRS.from_user_input(src.crs) != crs:
        b = rasterio.warp.transform_bounds(crs, src.crs, *b, densify_pts=21)
    inv = ~src.transform
    cols_rows = [inv @ (x, y) for x in (b[0], b[2]) for y in (b[1], b[3])]
    cols = [c for c, _ in cols_rows]
    rows = [r for _, r in cols_rows]
    eps = 1e-6
    c0 = max(math.floor(min(cols) + eps), 0)
    c1 = min(math.ceil(max(cols) - eps), src.width)
    r0 = max(math.floor(min(rows) + eps), 0)
    r1 = min(math.ceil(max(rows) - eps), src.height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


Read = tuple[np.ndarray, Affine, Any, float | None]
"""A window's DNs, its transform, CRS and nodata."""


def _read_remote(
    href: str, bounds: Sequence[float], crs: CRS, *, expect: Expected | None = None,
    **env: str,
) -> tuple[Read | None, Validators]:
    """The window of a remote file (None if it misses) and the file's validators.

    The validators come from the headers of GDAL's own responses (its HEAD and range
    GETs), collected by :func:`geo._gdal.tap_http_headers`: no request of their own.
    The open file is checked against ``expect`` (and must have a CRS): a difference
    raises ``_Mismatch``; a body cut short under any request raises ``_CutBody``.
    """
    with tap_http_headers() as headers, tap_transfer_faults() as cuts:
        try:
            read = _read_checked(href, bounds, crs, expect, cuts, env)
        except rasterio.errors.RasterioError as exc:
            if cuts:  # the error is the cut's consequence: name the cause
                raise _CutBody(f"a response body was cut short ({cuts[0]})") from exc
            raise
    if cuts:
        raise _CutBody(f"a response body was cut short ({cuts[0]})")
    return read, parse_validators(headers)


def _read_checked(
    href: str, bounds: Sequence[float], crs: CRS, expect: Expected | None, cuts: list[str],
    env: Mapping[str, str],
) -> Read | None:
    """Open a remote file, check it against its item, read the window (None: missed)."""
    with rio_env(**TAP_SETTINGS, **env), rasterio.open(_gdal_path(href)) as src:
        differences = _differences(src, expect or Expected())
        if differences and not cuts:
            raise _Mismatch(differences)
        window = None if differences else _pixel_window(src, bounds, crs)
        if window is None:
            return None
        return (src.read(1, window=window), src.window_transform(window), src.crs,
                src.nodata)


READ_ATTEMPTS = 4
"""Whole-window read attempts before giving up; GDAL retries single requests on HTTP
429/502/503/504 itself (``GDAL_HTTP_MAX_RETRY``), but not truncated bodies or resets in
the middle of a body, which public object stores also produce. A file that opens as
something else than its item says (CRS, transform, shape, data type, nodata), or
without a CRS, is read again too: a cut header read looks just like that."""

_TRANSIENT = (rasterio.errors.RasterioError, _Mismatch, _CutBody)


def _read_remote_retrying(
    href: str, bounds: Sequence[float], crs: CRS, *, expect: Expected | None = None,
    attempts: int = READ_ATTEMPTS, delay: float = 0.5, fresh: bool = False,
) -> tuple[Read | None, Validators]:
    """:func:`_read_remote`, retried with exponential backoff on read errors.

    ``fresh``: the file changed since GDAL may have cached parts of it; read it anew.
    Every retry bypasses GDAL's ``/vsicurl/`` cache of the file (size, header, blocks)
    and opens a new dataset. The last attempt's error is raised.
    """
    for attempt in range(1, attempts + 1):
        # A retry must not be served from GDAL's cache of the failed attempt's blocks.
        uncached = fresh or attempt > 1
        env = {"CPL_VSIL_CURL_NON_CACHED": _gdal_path(href)} if uncached else {}
        try:
            return _read_remote(href, bounds, crs, expect=expect, **env)
        except _TRANSIENT as exc:
            if attempt == attempts:
                raise
            wait = delay * 2 ** (attempt - 1)
            log.info("read of %s failed (%s); retry %d/%d in %.1f s", redact_url(href),
                     redact_text(str(exc))[:120], attempt, attempts - 1, wait)
            time.sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")


def _hist_for(band: str, data: np.ndarray, nodata: float | None) -> np.ndarray | None:
    if band not in REFLECTANCE_BANDS:
        return None
    return harmonise.dn_histogram(data, 0 if nodata is None else nodata)


_DN_DTYPES = ("uint16", "int16", "uint32", "int32")


def _check_dtype(dtype: Any, item_id: str, band: str, href: str) -> None:
    """Reflectance assets must hold integer DNs, SCL class codes, radar float power."""
    name = np.dtype(dtype).name
    if band in RADAR_KEYS:
        if name not in ("float32", "float64"):
            raise errors.LoadError(
                f"Item {item_id}: the {band} asset {redact_url(href)} holds {name} values; "
                "geo expects Sentinel-1 RTC linear gamma nought (float32). Is this GRD "
                "amplitude? Use the Planetary Computer's sentinel-1-rtc items.")
        return
    ok = name in _DN_DTYPES if band in REFLECTANCE_BANDS else name in ("uint8", *_DN_DTYPES)
    if not ok:
        raise errors.LoadError(
            f"Item {item_id}: the {band} asset {redact_url(href)} holds {name} values; geo "
            "expects Sentinel-2 L2A digital numbers (uint16, or uint8 class codes for scl). "
            "Is this a different product (e.g. already scaled reflectance)? Use L2A assets."
        )


_SKIP_HINT = ("or go on without it: --skip-unreadable (geo review) or on_error='skip' "
              "(geo.load), which leaves that band of the scene empty and lists it in "
              "ds.attrs['skipped']")


def _mismatch_error(item_id: str, band: str, href: str, differences: Sequence[str],
                    reads: int) -> errors.ReadError:
    again = f"in all {reads} fresh reads" if reads > 1 else "read from disk"
    return errors.ReadError(
        f"Item {item_id}: the {band} asset {redact_url(href)} is not what the item says "
        f"({again}): {'; '.join(differences)}. The file or the item's metadata is wrong: "
        f"report it to the catalog's maintainers, {_SKIP_HINT}."
    )


def _fetch_local(
    item_id: str, band: str, href: str, bounds: Sequence[float], crs: CRS,
    expect: Expected | None = None,
) -> Piece:
    path = _gdal_path(href)
    if not Path(path).is_file():
        raise errors.ReadError(
            f"Item {item_id}: the {band} file {path} does not exist. Restore the file or fix "
            f"the catalog's href, {_SKIP_HINT}."
        )
    try:
        return _fetch_local_piece(item_id, band, href, bounds, crs, expect)
    except _Mismatch as exc:
        raise _mismatch_error(item_id, band, href, exc.differences, 1) from None
    except rasterio.errors.RasterioError as exc:
        raise errors.ReadError(
            f"Item {item_id}: reading the {band} file {path} failed "
            f"({redact_text(str(exc))}). The file is corrupt or truncated: fetch it again, "
            f"{_SKIP_HINT}."
        ) from None


def _fetch_local_piece(
    item_id: str, band: str, href: str, bounds: Sequence[float], crs: CRS,
    expect: Expected | None = None,
) -> Piece:
    """Check a local file and read its window once (corrupt tiles fail here, not later)."""
    path = _gdal_path(href)
    with rio_env(), rasterio.open(path) as src:
        differences = _differences(src, expect or Expected())
        if differences:
            raise _Mismatch(differences)
        _check_dtype(src.dtypes[0], item_id, band, href)
        window = _pixel_window(src, bounds, crs)
        nodata = 0 if src.nodata is None else float(src.nodata)
        if window is None:
            return Piece(item_id, band, None)
        data = src.read(1, window=window)
    hist = harmonise.dn_histogram(data, nodata) if band in REFLECTANCE_BANDS else None
    return Piece(item_id, band, path, nodata=nodata, hist=hist)


def _fetch_remote(
    store: Store, item_id: str, band: str, href: str, bounds: Sequence[float], crs: CRS,
    *, checker: _ChangeCheck | None = None, expect: Expected | None = None,
) -> Piece:
    crs_text = crs.to_string()
    key = store.window_key(item_id, band, href, crs_text, tuple(bounds))  # type: ignore[arg-type]
    hit = store.get(key, item_id, band)
    changed = hit is not None and checker is not None and checker.changed(hit, href)
    if hit is not None and not changed:
        return _piece_from_entry(hit)
    try:
        read, found = _read_remote_retrying(href, bounds, crs, expect=expect, fresh=changed)
    except _Mismatch as exc:
        raise _mismatch_error(item_id, band, href, exc.differences, READ_ATTEMPTS) from None
    except (rasterio.errors.RasterioError, _CutBody) as exc:
        raise errors.ReadError(
            f"Reading {band} of item {item_id} from {redact_url(href)} (window {tuple(bounds)} "
            f"in {crs_text}) failed {READ_ATTEMPTS} times, the last time: "
            f"{redact_text(str(exc))}. The source may be down: run "
            f"again to resume (windows already read are kept in the store), {_SKIP_HINT}."
        ) from exc
    entry = WindowEntry(key=key, item_id=item_id, asset=band, href=redact_url(href),
                        crs=crs_text, bounds=tuple(float(b) for b in bounds),  # type: ignore[arg-type]
                        path="")
    entry.set_validators(found if found.known else _ask_validators(href))
    if read is None:
        entry.empty = True
        data = np.zeros(_EMPTY_SHAPE, dtype="uint8")
        entry = store.put(entry, data, transform=Affine.identity(), crs=crs, nodata=0)
        return Piece(item_id, band, None, stored=True)
    data, transform, src_crs, nodata = read
    _check_dtype(data.dtype, item_id, band, href)
    hist = _hist_for(band, data, nodata)
    entry.hist = hist.tolist() if hist is not None else []
    entry = store.put(entry, data, transform=transform, crs=src_crs, nodata=nodata)
    return _piece_from_entry(entry)


class _ChangeCheck:
    """Asks servers whether the files behind stored windows changed (one HEAD per file).

    A host that cannot be asked is not asked again in this load, and is no change: the
    stored windows are used (one warning), so a full store still resumes offline-like
    when the source is down.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: set[str] = set()

    def changed(self, entry: WindowEntry, href: str) -> bool:
        stored = entry.validators
        parts = urlsplit(href)
        host = parts.netloc
        if not stored.known or parts.scheme not in ("http", "https"):
            return False  # stored before validators were kept, or not plain HTTP
        with self._lock:
            if host in self._down:
                return False
        try:
            now = head_validators(href)
        except errors.SourceUnavailable as exc:
            with self._lock:
                first = host not in self._down
                self._down.add(host)
            if first:
                log.warning("%s Using the stored windows from %s as they are.", exc, host)
            return False
        except errors.ReadError as exc:
            log.warning("%s Using the stored %s window of %s as it is.", exc, entry.asset,
                        entry.item_id)
            return False
        if stored.differs(now):
            log.info("%s changed since its %s window of %s was stored (%s -> %s); reading "
                     "it again", redact_url(href), entry.asset, entry.item_id, stored, now)
            return True
        return False


def _ask_validators(href: str) -> Validators:
    """Validators by a HEAD of our own: only when GDAL sent no request for the read
    (everything came from its cache of an earlier read in this process)."""
    try:
        return head_validators(href) if urlsplit(href).scheme in ("http", "https") else Validators()
    except (errors.SourceUnavailable, errors.ReadError) as exc:
        log.info("no validators for %s (%s)", redact_url(href), exc)
        return Validators()


def _piece_from_entry(entry: WindowEntry) -> Piece:
    if entry.empty:
        return Piece(entry.item_id, entry.asset, None, stored=True)
    hist = np.asarray(entry.hist, dtype=np.int64) if entry.hist else None
    nodata = 0.0 if entry.nodata is None else float(entry.nodata)
    return Piece(entry.item_id, entry.asset, entry.path, nodata=nodata, hist=hist, stored=True)


def _asset_href(item: pystac.Item, band: str) -> str:
    asset = item.assets.get(band)
    if asset is None:
        have = ", ".join(sorted(k for k in item.assets if not k.endswith("-jp2")))
        raise errors.MissingBand(
            f"Item {item.id} has no asset {band!r} (it has: {have}). Ask for bands it has, "
            "or check the source's asset names (geo.search normalises them)."
        )
    refused = asset.extra_fields.get("geo:refused")
    if refused:
        raise errors.UnsafeHref(f"{refused} (asked for band {band!r})")
    href = str(asset.href)
    check_remote_href(item, band, href)
    return href


def _from_remote_catalog(item: pystac.Item) -> bool:
    """Whether the item came from a remote STAC API (see ``geo:source``)."""
    source = str(item.properties.get("geo:source", ""))
    return source in ("earth-search", "planetary-computer") or source.startswith(
        ("http://", "https://"))


def check_remote_href(item: pystac.Item, band: str, href: str) -> None:
    """Refuse to follow an href of a remote catalog that is not a plain http(s) URL.

    A catalog is someone else's data: an item served by a remote API must not make geo
    read local files (``file://``, absolute or relative paths), other URL schemes, or
    paths that climb with ``..``.

    Examples
    --------
    >>> import pystac, datetime as dt
    >>> item = pystac.Item("x", None, None, dt.datetime(2022, 1, 1), {"geo:source": "earth-search"})
    >>> check_remote_href(item, "red", "file:///etc/passwd")
    Traceback (most recent call last):
    ...
    geo.errors.UnsafeHref: Item x from remote catalog earth-search: asset 'red' points at 'file:///etc/passwd', ...
    """
    if not _from_remote_catalog(item):
        return
    parts = urlsplit(href)
    climbs = ".." in unquote(parts.path).split("/")
    if parts.scheme in ("http", "https") and parts.netloc and not climbs:
        return
    raise errors.UnsafeHref(
        f"Item {item.id} from remote catalog {item.properties.get('geo:source')}: asset "
        f"{band!r} points at {redact_url(href)!r}, which is not a plain http(s) URL; geo "
        "follows only http(s) hrefs from a remote catalog (no local paths, file://, other "
        "schemes or '..'). Report the catalog, or download the data and use a local catalog."
    )


_TRIM_EVERY = 64
"""Windows fetched between two hand-backs of freed memory: each fetch thread's malloc
arena keeps the buffers of its last reads (decoded tiles, the window, the file written),
which adds up over 8 threads; a trim takes milliseconds."""


def fetch(
    items: Sequence[pystac.Item],
    bounds: Sequence[float],
    crs: CRS | str | int,
    bands: Sequence[str],
    *,
    store: Store | str | Path | None = None,
    offline: bool = False,
    progress: bool = True,
    workers: int = 8,
    on_error: Literal["raise", "skip"] = "raise",
) -> dict[str, dict[str, Piece]]:
    """Make sure every (item, band) window is available locally; return the pieces.

    Remote windows are read once and kept in the store; local files are read in place.

    Parameters
    ----------
    items
        pystac Items with canonical asset keys.
    bounds, crs
        The window to read, in ``crs`` (e.g. the AOI's UTM bounds).
    bands
        Canonical band names.
    store, offline, progress
        See :func:`load`.
    workers
        Parallel reads.
    on_error
        ``"raise"`` (default) or ``"skip"``: log a failed read (a missing or corrupt
        file, a source that keeps failing) and treat the band of that item as missing
        (not stored; the next run tries again); the piece says why (``Piece.skipped``).

    Returns
    -------
    dict
        ``{item_id: {band: Piece}}``.

    Notes
    -----
    Requests: a window read for the first time costs GDAL's HEAD, one range GET for
    the COG header and one per run of adjacent tiles; the file's ETag, Last-Modified
    and size are taken from those responses. A stored window costs one ``HEAD`` per
    file when online (to notice a changed file, which is then read again) and nothing
    offline.

    Raises
    ------
    geo.errors.OfflineMiss
        ``offline=True`` and some windows are not in the store (all are named).
    geo.errors.ReadError
        A read failed (``on_error="raise"``).

    Examples
    --------
    >>> fetch([], (0, 0, 10, 10), 32642, ["red"], progress=False)
    {}
    """
    shop = open_store(store)
    target = CRS.from_user_input(crs if not isinstance(crs, int) else f"EPSG:{crs}")
    jobs = [(item, band, _asset_href(item, band)) for item in items for band in bands]
    expects = {(item.id, band): expected_of(item, band) for item in items for band in bands}
    out: dict[str, dict[str, Piece]] = {item.id: {} for item in items}
    if offline:
        _check_offline(shop, jobs, bounds, target)
    checker = None if offline else _ChangeCheck()
    # Reads over the network hold decoded buffers in every thread; local files are only
    # sampled for the data check, and the process keeps glibc's own adaptive threshold.
    remote = any(_is_remote(href) for _item, _band, href in jobs)
    releasing = buffers_returned_at_once() if remote else contextlib.nullcontext()
    with (_progress(progress, "load windows") as bar, releasing,
          ThreadPoolExecutor(max(1, workers)) as pool):
        task = bar.add_task("fetch", total=len(jobs))
        futures = {
            pool.submit(_fetch_one, shop, item.id, band, href, bounds, target, checker,
                        expects[item.id, band]):
                (item.id, band, href)
            for item, band, href in jobs
        }
        try:
            for done, fut in enumerate(as_completed(futures), 1):
                if done % _TRIM_EVERY == 0:
                    return_freed_memory()
                item_id, band, href = futures[fut]
                try:
                    out[item_id][band] = fut.result()
                except errors.ReadError as exc:
                    if on_error == "raise":
                        raise
                    log.warning("skipped %s of %s: %s", band, item_id, exc)
                    out[item_id][band] = Piece(item_id, band, None, skipped=str(exc),
                                               href=redact_url(href))
                bar.advance(task)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        finally:
            shop.flush()
    return_freed_memory()
    return out


def _fetch_one(
    store: Store, item_id: str, band: str, href: str, bounds: Sequence[float], crs: CRS,
    checker: _ChangeCheck | None = None, expect: Expected | None = None,
) -> Piece:
    if _is_remote(href):
        return _fetch_remote(store, item_id, band, href, bounds, crs, checker=checker,
                             expect=expect)
    return _fetch_local(item_id, band, href, bounds, crs, expect)


def _check_offline(
    store: Store, jobs: Iterable[tuple[pystac.Item, str, str]], bounds: Sequence[float], crs: CRS,
) -> None:
    missing = []
    for item, band, href in jobs:
        if not _is_remote(href):
            continue
        key = store.window_key(item.id, band, href, crs.to_string(), tuple(bounds))  # type: ignore[arg-type]
        if store.get(key, item.id, band) is None:
            missing.append(f"{item.id}/{band}")
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise errors.OfflineMiss(
            f"offline=True, but the store {store.root} lacks {len(missing)} window(s) this "
            f"load needs: {shown}. Run the same load once online to fill the store, or "
            "point store= at the store of a run that did."
        )


# --- assemble ------------------------------------------------------------------------


def _read_into(
    path: str, nodata: float, dst_transform: Affine, shape: tuple[int, int], dst_crs: CRS
) -> np.ndarray:
    """Raw values of a local raster on a destination grid (nearest); 0 where missing."""
    try:
        return _read_local(path, nodata, dst_transform, shape, dst_crs)
    except rasterio.errors.RasterioError as exc:
        raise errors.ReadError(
            f"Reading {path} failed ({redact_text(str(exc))}). The file is corrupt or "
            "truncated: delete it (a stored window is fetched again) or fix the catalog."
        ) from None


def _read_local(
    path: str, nodata: float, dst_transform: Affine, shape: tuple[int, int], dst_crs: CRS
) -> np.ndarray:
    with rio_env(), rasterio.open(path) as src:
        st = src.transform
        same_crs = CRS.from_user_input(src.crs) == dst_crs
        if same_crs and st.b == 0 and st.d == 0 and dst_transform.b == 0 and dst_transform.d == 0:
            return _nearest_axis_aligned(src, nodata, dst_transform, shape)
        dst = np.zeros(shape, dtype=src.dtypes[0])
        rasterio.warp.reproject(
            source=rasterio.band(src, 1), destination=dst, dst_transform=dst_transform,
            dst_crs=dst_crs, resampling=Resampling.nearest, src_nodata=nodata, dst_nodata=0,
        )
        return dst


def _nearest_axis_aligned(
    src: Any, nodata: float, dst_transform: Affine, shape: tuple[int, int]
) -> np.ndarray:
    """Nearest-neighbour placement between axis-aligned grids of one CRS (exact)."""
    st = src.transform
    ny, nx = shape
    xc = dst_transform.c + dst_transform.a * (np.arange(nx) + 0.5)
    yc = dst_transform.f + dst_transform.e * (np.arange(ny) + 0.5)
    cols = np.floor((xc - st.c) / st.a).astype(np.int64)
    rows = np.floor((yc - st.f) / st.e).astype(np.int64)
    col_ok = (cols >= 0) & (cols < src.width)
    row_ok = (rows >= 0) & (rows < src.height)
    out = np.zeros(shape, dtype=src.dtypes[0])
    if not col_ok.any() or not row_ok.any():
        return out
    c0, c1 = int(cols[col_ok].min()), int(cols[col_ok].max()) + 1
    r0, r1 = int(rows[row_ok].min()), int(rows[row_ok].max()) + 1
    block = src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
    sub = block[np.ix_(rows[row_ok] - r0, cols[col_ok] - c0)]
    if nodata != 0:
        sub = np.where(sub == nodata, 0, sub)
    out[np.ix_(row_ok, col_ok)] = sub
    return out


def _block(
    *,
    groups: Sequence[Sequence[tuple[Piece | None, int]]],
    band: str,
    transform: Affine,
    crs_wkt: str,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """One (time, y, x) chunk of one band: read, harmonise and mosaic its items."""
    assert block_info is not None
    (t0, t1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
    shape = (y1 - y0, x1 - x0)
    dst_transform = transform @ Affine.translation(x0, y0)
    crs = CRS.from_wkt(crs_wkt)
    reflectance = band in REFLECTANCE_BANDS
    out = np.full((t1 - t0, *shape), np.nan if reflectance else 0,
                  dtype=np.float32 if reflectance else np.uint8)
    for k, t in enumerate(range(t0, t1)):
        for piece, dn_offset in groups[t]:
            if piece is None or piece.path is None:
                continue
            try:
                dn = _read_into(piece.path, piece.nodata, dst_transform, shape, crs)
            except rasterio.errors.RasterioError as exc:
                raise errors.ReadError(
                    f"Reading stored {band} of item {piece.item_id} from {piece.path} failed: "
                    f"{exc}. Delete that file (the next run reads it again)."
                ) from exc
            if reflectance:
                values = harmonise.to_reflectance(dn, dn_offset)
                empty = np.isnan(out[k])
                out[k][empty] = values[empty]
            else:
                empty = out[k] == 0
                out[k][empty] = dn[empty].astype(np.uint8)
    return out


def _group_by_day(scenes: Sequence[Scene]) -> list[list[Scene]]:
    groups: dict[dt.date, list[Scene]] = {}
    for scene in sorted(scenes, key=lambda s: (_when(s.item), s.item.id)):
        groups.setdefault(solar_day(scene.item), []).append(scene)
    return list(groups.values())


def _norm_chunks(chunks: Mapping[str, int] | None, shape: tuple[int, int]) -> tuple[int, int, int]:
    chunks = dict(chunks or {})
    unknown = set(chunks) - {"time", "y", "x"}
    if unknown:
        raise errors.LoadError(f"chunks has unknown dims {sorted(unknown)}; use time, y and x.")
    ny, nx = shape
    cy = int(chunks.get("y", ny) if chunks.get("y", -1) != -1 else ny)
    cx = int(chunks.get("x", nx) if chunks.get("x", -1) != -1 else nx)
    ct = int(chunks.get("time", 1) if chunks.get("time", -1) != -1 else 1)
    return max(ct, 1), max(cy, 1), max(cx, 1)


def _offset_text(radiometry: harmonise.Radiometry) -> str:
    """How one item's DNs became reflectance, with the evidence of any override."""
    verb = f"subtract {radiometry.dn_offset} DN" if radiometry.dn_offset else "no DN subtracted"
    text = f"{verb}; {radiometry.reason}"
    return f"{text} ({radiometry.evidence})" if radiometry.evidence else text


def _time_coords(days: Sequence[Sequence[Scene]]) -> dict[str, Any]:
    def first(group: Sequence[Scene], key: str, default: Any = None) -> Any:
        return next((s.item.properties[key] for s in group if s.item.properties.get(key)
                     is not None), default)

    times = [min(_when(s.item) for s in g).astimezone(dt.UTC).replace(tzinfo=None) for g in days]
    return {
        "time": ("time", np.array(times, dtype="datetime64[ns]")),
        "item_id": ("time", np.array([",".join(s.item.id for s in g) for g in days], dtype=object)),
        "platform": ("time", np.array([str(first(g, "platform", "")) for g in days], dtype=object)),
        "processing_baseline": ("time", np.array(
            [g[0].radiometry.baseline or "" for g in days], dtype=object)),
        "offset_applied": ("time", np.array(
            [all(s.radiometry.offset_applied for s in g) for g in days], dtype=bool)),
        "dn_offset": ("time", np.array([g[0].radiometry.dn_offset for g in days], dtype=np.int16)),
        "sun_elevation": ("time", np.array(
            [float(first(g, "view:sun_elevation", np.nan)) for g in days], dtype=np.float64)),
        "sun_azimuth": ("time", np.array(
            [float(first(g, "view:sun_azimuth", np.nan)) for g in days], dtype=np.float64)),
        "cloud_cover": ("time", np.array(
            [float(first(g, "eo:cloud_cover", np.nan)) for g in days], dtype=np.float64)),
        "tile": ("time", np.array([mgrs_tile(g[0].item) or "" for g in days], dtype=object)),
        "collection": ("time", np.array(
            [",".join(dict.fromkeys(item_collection(s.item) for s in g)) for g in days],
            dtype=object)),
        "offset_reason": ("time", np.array(
            [" | ".join(_offset_text(s.radiometry) for s in g) for g in days], dtype=object)),
    }


def _as_items(items: Iterable[pystac.Item | Mapping[str, Any]]) -> list[pystac.Item]:
    out = []
    for obj in items:
        item = obj if isinstance(obj, pystac.Item) else pystac.Item.from_dict(dict(obj), migrate=False)
        out.append(canonicalise(item.clone()))
    return out


def load(
    items: Iterable[pystac.Item | Mapping[str, Any]],
    aoi: AOI | str | Path,
    *,
    bands: Sequence[str] | None = None,
    resolution: float = 10,
    margin: float = 100.0,
    chunks: Mapping[str, int] | None = None,
    store: Store | str | Path | None = None,
    offline: bool = False,
    progress: bool = True,
    workers: int = 8,
    on_error: Literal["raise", "skip"] = "raise",
) -> xr.Dataset:
    """Load a harmonised Sentinel-2 L2A (or Sentinel-1 RTC) time series of an AOI (lazy).

    Parameters
    ----------
    items
        pystac Items (or item dicts), e.g. from :func:`geo.search`. Asset keys may be
        canonical or the source's own; duplicates of a pass are collapsed again here.
    aoi
        The area of interest (or a built-in name / GeoJSON path).
    bands
        Canonical band names; default :data:`DEFAULT_BANDS` (Sentinel-2) or
        :data:`RADAR_BANDS` (Sentinel-1). Reflectance bands become float32; ``scl``
        stays uint8. With ``scl``, the Dataset also gets ``clear`` and ``snow``.
    resolution
        Output pixel size in metres (10: 20 m bands are repeated 2 x 2, nearest).
    margin
        Metres added around the AOI's zones (controls included) before aligning.
    chunks
        Dask chunks, e.g. ``{"time": 1, "y": 512, "x": 512}``; default one chunk per
        date covering the whole AOI.
    store
        The imagery store (a :class:`geo.store.Store` or folder); default
        ``$GEO_IMAGERY_DIR`` or ``imagery/``.
    offline
        Use only the store; raise :class:`geo.errors.OfflineMiss` naming every window
        that is missing.
    progress
        Show a progress bar while windows are fetched.
    workers
        Parallel reads while fetching.
    on_error
        ``"raise"`` or ``"skip"``: a read that fails (a missing or corrupt file, a
        source that keeps failing) becomes missing data, logged and listed in
        ``ds.attrs["skipped"]``.

    Returns
    -------
    xarray.Dataset
        Dims ``(time, y, x)``, one time per solar day; ``y`` descending, ``x``
        ascending, pixel centres in metres in the AOI's UTM CRS. Reflectance float32
        (1.0 = 100 %, NaN = no data); ``scl`` uint8 (0 = no data); ``clear`` (valid
        and SCL not in 0,1,3,8,9,10,11) and ``snow`` (SCL 11) bool. Per-time coords
        ``item_id``, ``platform``, ``processing_baseline``, ``offset_applied``,
        ``dn_offset``, ``sun_elevation``, ``sun_azimuth``, ``cloud_cover``, ``tile``,
        ``collection`` (the items' STAC collections) and ``offset_reason`` (how each
        item's DNs became reflectance: the rule, and the evidence of any override).
        Attributes ``crs``, ``source``, ``synthetic``, ``resolution``, ``harmonisation``
        and ``skipped``: the reads left out by ``on_error="skip"``, a list of
        ``{"item_id", "band", "href", "reason"}`` dicts (href redacted; JSON-ready),
        sorted by item and band; ``[]`` when nothing was skipped. ``attrs["sensor"]``
        is ``"s2"``.

        Sentinel-1 RTC items (:func:`geo.search.sensor_of`) give the radar stack
        instead, on the same grid: one time per acquisition (slices of one datatake
        mosaicked), ``vv``/``vh`` float32 in dB (``10 * log10`` of linear gamma nought;
        NaN where nodata or not positive), per-time coords ``item_id``, ``platform``
        (lower case), ``orbit_state``, ``relative_orbit`` (int, -1 if unknown) and
        ``collection``; attrs ``crs``, ``source``, ``synthetic``, ``resolution``,
        ``radiometry``, ``skipped`` and ``sensor="s1"``. No harmonisation, no masks.

    Raises
    ------
    geo.errors.NoImagery
        No items.
    geo.errors.LoadError
        Sentinel-1 and Sentinel-2 items mixed, or bands the items' sensor lacks.
    geo.errors.MissingBand
        An item lacks a band asked for.
    geo.errors.OfflineMiss
        ``offline=True`` and the store lacks windows.
    geo.errors.ReadError
        A read failed; the message names the item, band and URL.

    Warns
    -----
    geo.errors.HarmonisationWarning
        An item's offset flag disagrees with its data (the data are believed).

    Examples
    --------
    >>> import geo
    >>> items = geo.search("bagram", "2022-01-01", "2022-02-28")  # doctest: +SKIP
    >>> ds = geo.load(items, "bagram", bands=["red", "nir", "scl"])  # doctest: +SKIP
    >>> float(ds.red.isel(time=0).mean())  # doctest: +SKIP
    0.21
    """
    site = aoi if isinstance(aoi, AOI) else aoi_mod.load(aoi)
    all_items = _as_items(items)
    sensor = _sensor(all_items)
    bands = _check_bands(bands, sensor)
    scenes_items = collapse_duplicates(all_items, site)
    if not scenes_items:
        raise errors.NoImagery(f"No items to load for {site.name}; search found none.")
    crs = CRS.from_epsg(site.epsg)
    xmin, ymin, xmax, ymax = site.utm_bounds(margin, resolution=max(60.0, float(resolution)))
    bounds = (xmin, ymin, xmax, ymax)
    geobox = GeoBox.from_bbox(bounds, f"EPSG:{site.epsg}", resolution=resolution)
    pieces = fetch(scenes_items, bounds, crs, bands, store=store, offline=offline,
                   progress=progress, workers=workers, on_error=on_error)
    if sensor == "s1":
        scenes = [Scene(item, _RADAR, pieces[item.id]) for item in scenes_items]
        ds = _assemble_radar(scenes, bands, geobox, chunks)
    else:
        scenes = [_scene(item, pieces[item.id]) for item in scenes_items]
        scenes = _check_over_time(scenes, bounds, crs, workers)
        ds = _assemble(scenes, bands, geobox, chunks)
    ds.attrs["skipped"] = skipped_reads(scenes)
    return ds


def _sensor(items: Sequence[pystac.Item]) -> str:
    """The one sensor of the items (``"s2"`` if none); mixed sensors raise."""
    sensors = {sensor_of(i) for i in items}
    if len(sensors) > 1:
        radar = sorted(i.id for i in items if sensor_of(i) == "s1")
        raise errors.LoadError(
            f"The items mix Sentinel-1 ({len(radar)}, e.g. {radar[0]}) and Sentinel-2 "
            f"({len(items) - len(radar)}); a stack holds one sensor. Load them in two "
            "calls: geo.load(s1_items, aoi) and geo.load(s2_items, aoi).")
    return sensors.pop() if sensors else "s2"


def _check_bands(bands: Sequence[str] | None, sensor: str) -> list[str]:
    """The bands to load (defaults per sensor); bands the sensor lacks raise."""
    if bands is None:
        return list(RADAR_BANDS if sensor == "s1" else DEFAULT_BANDS)
    out = list(dict.fromkeys(bands))
    if not out:
        raise errors.LoadError("bands is empty; ask for at least one band, e.g. ['red'].")
    if sensor == "s1":
        unknown = [b for b in out if b not in RADAR_KEYS]
        if unknown:
            raise errors.LoadError(
                f"Cannot load band(s) {unknown} from Sentinel-1 RTC items: they have "
                f"{list(RADAR_BANDS)} (omit bands= to load both).")
        return out
    unknown = [b for b in out if b not in REFLECTANCE_BANDS and b != "scl"]
    if unknown:
        raise errors.LoadError(
            f"Cannot load band(s) {unknown}: geo loads the single-band assets "
            f"{sorted(REFLECTANCE_BANDS | {'scl'})} (for a true-colour picture load red, "
            "green and blue; vv/vh need Sentinel-1 items: geo.search(..., sensor='s1'))."
        )
    return out


def skipped_reads(scenes: Sequence[Scene]) -> list[dict[str, str]]:
    """The reads ``on_error="skip"`` left out: item, band, redacted href and reason.

    Examples
    --------
    >>> skipped_reads([])
    []
    """
    return [{"item_id": p.item_id, "band": p.band, "href": p.href, "reason": p.skipped}
            for s in sorted(scenes, key=lambda s: s.item.id)
            for _band, p in sorted(s.pieces.items()) if p.skipped]


def _scene(item: pystac.Item, pieces: dict[str, Piece]) -> Scene:
    hists = [p.hist for p in pieces.values() if p.hist is not None]
    hist = np.sum(hists, axis=0) if hists else None
    radiometry = harmonise.check_offset(harmonise.decide(item), hist, item_id=item.id)
    log.debug("%s: subtract %d DN (%s)", item.id, radiometry.dn_offset, radiometry.reason)
    return Scene(item, radiometry, pieces)


def _samples(scene: Scene, xs: np.ndarray, ys: np.ndarray, crs: CRS) -> harmonise.SceneSamples:
    """The scene's DNs (and clear ground) at the load's sample points."""
    dn = {band: harmonise.sample_dn(p.path, xs, ys, crs, nodata=p.nodata)
          for band, p in scene.pieces.items() if band in REFLECTANCE_BANDS and p.path}
    scl = scene.pieces.get("scl")
    clear = None
    if scl is not None and scl.path:
        clear = harmonise.clear_from_scl(harmonise.sample_dn(scl.path, xs, ys, crs))
    return harmonise.SceneSamples(scene.item.id, _when(scene.item), scene.radiometry, dn, clear)


def _check_over_time(
    scenes: list[Scene], bounds: Sequence[float], crs: CRS, workers: int
) -> list[Scene]:
    """Check every scene's offset against its neighbours in time (:mod:`geo.harmonise`).

    Needs at least two reflectance bands; the samples come from the windows already
    fetched (local files), a few thousand points per band.
    """
    if len(scenes) < 2:
        return scenes
    xs, ys = harmonise.sample_points(bounds)
    with rio_env(), ThreadPoolExecutor(max(1, workers)) as pool:
        samples = list(pool.map(lambda s: _samples(s, xs, ys, crs), scenes))
    for scene, radiometry in zip(scenes, harmonise.check_over_time(samples), strict=True):
        if radiometry != scene.radiometry:
            log.info("%s: %s", scene.item.id, radiometry.reason)
        scene.radiometry = radiometry
    return scenes


def _assemble(
    scenes: Sequence[Scene], bands: Sequence[str], geobox: GeoBox,
    chunks: Mapping[str, int] | None,
) -> xr.Dataset:
    days = _group_by_day(scenes)
    dask_chunks, crs_wkt, coords = _grid(len(days), geobox, chunks, _time_coords(days))
    data_vars: dict[str, Any] = {}
    for band in bands:
        groups = [[(s.pieces.get(band), s.radiometry.dn_offset) for s in g] for g in days]
        fn = partial(_block, groups=groups, band=band, transform=geobox.transform,
                     crs_wkt=crs_wkt)
        dtype = np.float32 if band in REFLECTANCE_BANDS else np.uint8
        arr = da.map_blocks(fn, chunks=dask_chunks, dtype=dtype, meta=np.array((), dtype=dtype),
                            name=f"geo-load-{band}-{_token(groups, geobox, dask_chunks)}")
        attrs = ({"units": "1", "long_name": f"{band} surface reflectance", "nodata": np.nan}
                 if band in REFLECTANCE_BANDS else
                 {"long_name": "scene classification (SCL)", "nodata": 0})
        data_vars[band] = (("time", "y", "x"), arr, attrs)
    ds = xr.Dataset(data_vars, coords=coords)
    if "scl" in ds:
        scl = ds["scl"]
        ds["clear"] = ~scl.isin(list(NOT_CLEAR))
        ds["clear"].attrs = {"long_name": "clear ground (SCL valid, not cloud, shadow, "
                                          "cirrus, saturated or snow)"}
        ds["snow"] = scl == SNOW
        ds["snow"].attrs = {"long_name": "snow or ice (SCL 11)"}
    else:
        log.info("scl not loaded: no clear/snow masks")
    ds.attrs.update(_stack_attrs(scenes, geobox), sensor="s2",
                    harmonisation="reflectance = (DN - dn_offset) / 10000 per item "
                                  "(geo.harmonise)")
    return ds


# --- radar ---------------------------------------------------------------------------


def to_db(linear: np.ndarray) -> np.ndarray:
    """Linear power (gamma nought) to decibels, float32; NaN where not positive.

    Examples
    --------
    >>> to_db(np.array([1.0, 0.1, 0.0, -32768.0], dtype=np.float32)).tolist()
    [0.0, -10.0, nan, nan]
    """
    values = np.asarray(linear, dtype=np.float64)
    good = np.isfinite(values) & (values > 0)
    out = np.full(values.shape, np.nan, dtype=np.float32)
    out[good] = 10.0 * np.log10(values[good])
    return out


def _radar_block(
    *,
    groups: Sequence[Sequence[tuple[Piece | None, int]]],
    band: str,
    transform: Affine,
    crs_wkt: str,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """One (time, y, x) chunk of one polarisation in dB: the slices of an acquisition
    mosaicked (first valid pixel wins)."""
    assert block_info is not None
    (t0, t1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
    shape = (y1 - y0, x1 - x0)
    dst_transform = transform @ Affine.translation(x0, y0)
    crs = CRS.from_wkt(crs_wkt)
    out = np.full((t1 - t0, *shape), np.nan, dtype=np.float32)
    for k, t in enumerate(range(t0, t1)):
        for piece, _offset in groups[t]:
            if piece is None or piece.path is None:
                continue
            values = to_db(_read_into(piece.path, piece.nodata, dst_transform, shape, crs))
            empty = np.isnan(out[k])
            out[k][empty] = values[empty]
    return out


def _group_by_acquisition(scenes: Sequence[Scene]) -> list[list[Scene]]:
    groups: dict[tuple[str, str, dt.date], list[Scene]] = {}
    for scene in sorted(scenes, key=lambda s: (_when(s.item), s.item.id)):
        groups.setdefault(acquisition_key(scene.item), []).append(scene)
    return list(groups.values())


def _radar_time_coords(acquisitions: Sequence[Sequence[Scene]]) -> dict[str, Any]:
    def one(group: Sequence[Scene], fn: Any) -> Any:
        return next((v for s in group if (v := fn(s.item)) not in (None, "")), None)

    times = [min(_when(s.item) for s in g).astimezone(dt.UTC).replace(tzinfo=None)
             for g in acquisitions]
    orbits = [one(g, relative_orbit) for g in acquisitions]
    return {
        "time": ("time", np.array(times, dtype="datetime64[ns]")),
        "item_id": ("time", np.array([",".join(s.item.id for s in g) for g in acquisitions],
                                     dtype=object)),
        "platform": ("time", np.array([one(g, _platform) or "" for g in acquisitions],
                                      dtype=object)),
        "orbit_state": ("time", np.array(
            [str(one(g, lambda i: i.properties.get("sat:orbit_state")) or "").lower()
             for g in acquisitions], dtype=object)),
        "relative_orbit": ("time", np.array([-1 if o is None else int(o) for o in orbits],
                                            dtype=np.int64)),
        "collection": ("time", np.array(
            [",".join(dict.fromkeys(item_collection(s.item) for s in g)) for g in acquisitions],
            dtype=object)),
        "looks_equivalent_number": ("time", np.array(
            [float(one(g, lambda i: i.properties.get("sar:looks_equivalent_number")) or np.nan)
             for g in acquisitions], dtype=np.float64)),
    }


def _assemble_radar(
    scenes: Sequence[Scene], bands: Sequence[str], geobox: GeoBox,
    chunks: Mapping[str, int] | None,
) -> xr.Dataset:
    acquisitions = _group_by_acquisition(scenes)
    dask_chunks, crs_wkt, coords = _grid(len(acquisitions), geobox, chunks,
                                         _radar_time_coords(acquisitions))
    data_vars: dict[str, Any] = {}
    for band in bands:
        groups = [[(s.pieces.get(band), 0) for s in g] for g in acquisitions]
        fn = partial(_radar_block, groups=groups, band=band, transform=geobox.transform,
                     crs_wkt=crs_wkt)
        arr = da.map_blocks(fn, chunks=dask_chunks, dtype=np.float32,
                            meta=np.array((), dtype=np.float32),
                            name=f"geo-load-{band}-{_token(groups, geobox, dask_chunks)}")
        attrs = {"units": "dB", "nodata": np.nan,
                 "long_name": f"{band.upper()} gamma nought (terrain corrected), dB"}
        data_vars[band] = (("time", "y", "x"), arr, attrs)
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update(_stack_attrs(scenes, geobox), sensor="s1",
                    radiometry="dB = 10 * log10(linear gamma nought); nodata and values <= 0 "
                               "-> NaN")
    return ds


def _grid(n_times: int, geobox: GeoBox, chunks: Mapping[str, int] | None,
          time_coords: Mapping[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    """Dask chunks, CRS WKT and coordinates of a (time, y, x) stack on ``geobox``."""
    ny, nx = geobox.shape.y, geobox.shape.x
    ct, cy, cx = _norm_chunks(chunks, (ny, nx))
    dask_chunks = (_splits(n_times, ct), _splits(ny, cy), _splits(nx, cx))
    coords: dict[str, Any] = dict(time_coords)
    coords.update({str(k): v for k, v in xr_coords(geobox, crs_coord_name="spatial_ref").items()})
    return dask_chunks, CRS.from_user_input(str(geobox.crs)).to_wkt(), coords


def _stack_attrs(scenes: Sequence[Scene], geobox: GeoBox) -> dict[str, Any]:
    """The attributes every stack carries: CRS, source, synthetic, resolution."""
    sources = sorted({str(s.item.properties.get("geo:source", "")) for s in scenes} - {""})
    return {"crs": str(geobox.crs), "source": ", ".join(sources) or "unknown",
            "synthetic": bool(any(s.item.properties.get("geo:synthetic") for s in scenes)),
            "resolution": float(abs(geobox.resolution.x))}


def _token(groups: Any, geobox: GeoBox, chunks: Any) -> str:
    light = [[(p.path if p else None, off) for p, off in g] for g in groups]
    return str(da.core.tokenize(light, str(geobox.crs), tuple(geobox.transform), chunks))


def _splits(n: int, size: int) -> tuple[int, ...]:
    if n == 0:
        return (0,)
    full, rest = divmod(n, size)
    return (size,) * full + ((rest,) if rest else ())

