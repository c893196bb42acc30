"""Find Sentinel-2 L2A (or Sentinel-1 RTC) items of an AOI: STAC APIs or a local catalog.

One function, :func:`search`, whatever the source: Earth Search (default, no account),
the Planetary Computer (hrefs signed with the optional ``planetary-computer`` package),
any STAC API URL, or a local catalog (a folder holding ``items.parquet`` or
``items.ndjson``, or the path of such a file). The items come back with canonical asset
keys (``blue green red nir swir16 swir22 scl visual``) whatever the source calls them,
one item per pass (duplicates collapsed, newest processing kept), sorted by time.
With ``sensor="s1"`` it finds the Planetary Computer's ``sentinel-1-rtc`` items instead
(assets ``vv``/``vh``), one item per acquisition (see :func:`collapse_duplicates`).

Paging follows the server's ``next`` links exactly as given (POST body or GET token);
pystac-client does this. Results of searches over periods that had already ended are
kept in the imagery store, so an identical second run asks the network nothing.

Examples
--------
>>> import geo
>>> items = geo.search("bagram", "2021-01-01", "2021-12-31")  # doctest: +SKIP
>>> sorted(items[0].assets)[:3]  # doctest: +SKIP
['blue', 'green', 'nir']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pystac
import shapely
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from shapely.geometry import box, shape

from geo import aoi as aoi_mod
from geo import errors
from geo._redact import redact_url
from geo.aoi import AOI
from geo.store import Store, href_key, open_store

__all__ = [
    "SOURCES",
    "PREFERRED_COLLECTIONS",
    "SEARCH_MAX_AGE",
    "READ_KEYS",
    "CANONICAL",
    "search",
    "canonicalise",
    "collapse_duplicates",
    "collection_counts",
    "item_collection",
    "solar_day",
    "relative_orbit",
    "mgrs_tile",
    "read_local_catalog",
    "SENSORS",
    "S1_COLLECTION",
    "sensor_of",
    "absolute_orbit",
    "acquisition_key",
    "check_sensor",
]

log = logging.getLogger(__name__)

C1_COLLECTION = "sentinel-2-c1-l2a"
"""Earth Search's Collection 1 (one processing baseline for every year; raw DNs)."""

PREFERRED_COLLECTIONS: tuple[str, ...] = (C1_COLLECTION, "sentinel-2-l2a")
"""Collections searched by default, best first: one item per pass is kept, from the
first collection that has it."""

SOURCES: dict[str, dict[str, Any]] = {
    "earth-search": {"url": "https://earth-search.aws.element84.com/v1",
                     "collections": PREFERRED_COLLECTIONS},
    "planetary-computer": {"url": "https://planetarycomputer.microsoft.com/api/stac/v1",
                           "collections": ("sentinel-2-l2a",)},
}
"""Named STAC APIs and the collections searched by default (best first)."""

S1_COLLECTION = "sentinel-1-rtc"
"""The Planetary Computer's Sentinel-1 radiometrically terrain corrected collection
(float32 linear gamma nought in UTM, assets ``vv`` and ``vh``)."""

SENSORS: tuple[str, ...] = ("s2", "s1")
"""Sensors :func:`search` and :func:`geo.load` know: Sentinel-2 L2A, Sentinel-1 RTC."""

S1_SOURCES: dict[str, tuple[str, ...]] = {"planetary-computer": (S1_COLLECTION,)}
"""Named STAC APIs that serve Sentinel-1 geo can load, and their collections."""

_NO_RADAR = {
    "earth-search": (
        "Earth Search has no Sentinel-1 collection geo can load: its sentinel-1-grd items "
        "are requester-pays (s3:// hrefs billed to the reader) and unprojected (GCPs only, "
        "no map grid; they need calibration and terrain correction). Search Sentinel-1 "
        "with source='planetary-computer' (--source planetary-computer), whose "
        "sentinel-1-rtc items are terrain corrected on a UTM grid."
    ),
}

SEARCH_MAX_AGE = dt.timedelta(days=7)
"""How long a cached search result is reused when online (see :func:`search`)."""

CANONICAL: dict[str, str] = {
    "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1",
    "B06": "rededge2", "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09",
    "B11": "swir16", "B12": "swir22", "SCL": "scl", "AOT": "aot", "WVP": "wvp",
    "TCI": "visual", "visual": "visual",
}
"""Source asset key -> canonical key (Planetary Computer and Earth Search v0 use B-keys)."""

RADAR_KEYS = frozenset({"vv", "vh"})
"""Sentinel-1 RTC asset keys geo reads (linear gamma nought, one polarisation each)."""

READ_KEYS = frozenset(CANONICAL) | frozenset(CANONICAL.values()) | frozenset(
    k.lower() for k in CANONICAL) | RADAR_KEYS
"""Asset keys geo may read (source or canonical band names, radar ``vv``/``vh``); href
rules apply to these only: other assets (``*-jp2`` copies, metadata, thumbnails) are
kept as they are."""

_RELATIVE_ORBIT = re.compile(r"_R(\d{3})(?:_|$)")
_S1_ID = re.compile(r"^S1([A-D])_.*?_\d{8}T\d{6}_\d{8}T\d{6}_(\d{6})_([0-9A-F]{6})")
_TILE = re.compile(r"(?:^|_)T?(\d{2}[C-X][A-Z]{2})(?:_|$)")
_LOCAL_FILES = ("items.parquet", "items.ndjson", "items.geoparquet")


# --- item helpers --------------------------------------------------------------------


def canonicalise(item: pystac.Item) -> pystac.Item:
    """Rename an item's assets to canonical band names (in place; returns the item).

    Keys already canonical are kept; a source key is renamed only if its canonical name
    is free. Other assets (metadata, ``*-jp2`` copies) are left alone.

    Examples
    --------
    >>> it = pystac.Item("x", None, None, dt.datetime(2020, 1, 1), {})
    >>> it.add_asset("B04", pystac.Asset("B04.tif"))
    >>> sorted(canonicalise(it).assets)
    ['red']
    """
    for key in list(item.assets):
        target = CANONICAL.get(key) or CANONICAL.get(key.upper())
        if target and target != key and target not in item.assets:
            item.assets[target] = item.assets.pop(key)
    return item


def _centre_lon(item: pystac.Item) -> float:
    if item.bbox:
        return (float(item.bbox[0]) + float(item.bbox[2])) / 2.0
    if item.geometry:
        return float(shape(item.geometry).centroid.x)
    return 0.0


def _when(item: pystac.Item) -> dt.datetime:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise errors.SearchError(f"Item {item.id} has no datetime; it cannot be placed in time.")
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def solar_day(item: pystac.Item) -> dt.date:
    """The local solar day of an acquisition (UTC time shifted by longitude / 15 h).

    Examples
    --------
    >>> it = pystac.Item("x", None, [69, 34, 70, 35], dt.datetime(2022, 1, 25, 22, 0), {})
    >>> solar_day(it)
    datetime.date(2022, 1, 26)
    """
    return (_when(item) + dt.timedelta(hours=_centre_lon(item) / 15.0)).date()


def relative_orbit(item: pystac.Item) -> int | None:
    """The relative orbit number, from ``sat:relative_orbit`` or ``_Rnnn_`` in names.

    Examples
    --------
    >>> relative_orbit(pystac.Item("x", None, None, dt.datetime(2020, 1, 1),
    ...     {"s2:product_uri": "S2A_MSIL2A_20200219T112111_N0214_R037_T29RKH_x.SAFE"}))
    37
    """
    props = item.properties
    for key in ("sat:relative_orbit", "sentinel:relative_orbit"):
        if props.get(key) is not None:
            return int(props[key])
    for text in (props.get("s2:product_uri"), props.get("sentinel:product_id"), item.id):
        m = _RELATIVE_ORBIT.search(str(text or "").removesuffix(".SAFE"))
        if m:
            return int(m.group(1))
    return None


def mgrs_tile(item: pystac.Item) -> str | None:
    """The MGRS tile (``"42SWD"``) from the item's properties or id.

    Examples
    --------
    >>> mgrs_tile(pystac.Item("S2A_42SWD_20220125_0_L2A", None, None,
    ...     dt.datetime(2022, 1, 25), {}))
    '42SWD'
    """
    props = item.properties
    if props.get("s2:mgrs_tile"):
        return str(props["s2:mgrs_tile"]).upper().removeprefix("T")
    for prefix in ("mgrs:", "sentinel:"):
        zone, band, square = (props.get(prefix + k) for k in
                              ("utm_zone", "latitude_band", "grid_square"))
        if zone and band and square:
            return f"{int(zone):02d}{band}{square}"
    if props.get("grid:code", "").startswith("MGRS-"):
        return str(props["grid:code"])[5:]
    m = _TILE.search(item.id)
    return m.group(1) if m else None


def sensor_of(item: pystac.Item | Mapping[str, Any]) -> str:
    """``"s1"`` for a Sentinel-1 item, ``"s2"`` otherwise.

    Decided by the collection (``sentinel-1-*``), else by the platform
    (``sentinel-1a``...), else by SAR properties (``sar:polarizations``).

    Examples
    --------
    >>> sensor_of({"collection": "sentinel-1-rtc", "properties": {}})
    's1'
    >>> sensor_of({"collection": "sentinel-2-l2a", "properties": {}})
    's2'
    """
    if isinstance(item, pystac.Item):
        collection, props = item.collection_id, item.properties
    else:
        collection, props = item.get("collection"), item.get("properties") or {}
    name = str(collection or props.get("geo:collection") or "").lower()
    if name:
        return "s1" if name.startswith("sentinel-1") else "s2"
    if str(props.get("platform") or "").lower().startswith("sentinel-1"):
        return "s1"
    return "s1" if "sar:polarizations" in props else "s2"


def _s1_id(item: pystac.Item) -> re.Match[str] | None:
    return _S1_ID.match(item.id)


def absolute_orbit(item: pystac.Item) -> int | None:
    """A Sentinel-1 item's absolute orbit, from ``sat:absolute_orbit`` or its id.

    Examples
    --------
    >>> absolute_orbit(pystac.Item("S1A_IW_GRDH_1SDV_20250311T044231_20250311T044249_"
    ...     "058252_073302_rtc", None, None, dt.datetime(2025, 3, 11), {}))
    58252
    """
    value = item.properties.get("sat:absolute_orbit")
    if value is not None:
        return int(value)
    m = _s1_id(item)
    return int(m.group(2)) if m else None


def _platform(item: pystac.Item) -> str:
    """Lower-case platform (``"sentinel-1a"``), from the property or a Sentinel-1 id."""
    text = str(item.properties.get("platform") or "").lower()
    if text:
        return text
    m = _s1_id(item)
    return f"sentinel-1{m.group(1).lower()}" if m else ""


def acquisition_key(item: pystac.Item) -> tuple[str, str, dt.date]:
    """(platform, absolute orbit or datatake, solar day): one Sentinel-1 acquisition.

    The Planetary Computer cuts one datatake into overlapping slices; slices of one
    acquisition share this key.

    Examples
    --------
    >>> it = pystac.Item("s", None, [69, 34, 70, 35], dt.datetime(2025, 3, 11, 1),
    ...     {"platform": "SENTINEL-1A", "sat:absolute_orbit": 58252})
    >>> acquisition_key(it)
    ('sentinel-1a', '58252', datetime.date(2025, 3, 11))
    """
    orbit = absolute_orbit(item)
    props = item.properties
    pass_id = orbit if orbit is not None else props.get("s1:datatake_id") or item.id
    return _platform(item), str(pass_id), solar_day(item)


_ORBIT_SOURCE_RANK = {"POEORB": 3, "RESORB": 2, "PREORB": 1}


def _covers(item: pystac.Item, aoi: AOI | None) -> bool:
    return aoi is not None and bool(item.geometry) and shape(item.geometry).covers(
        box(*aoi.bounds))


def _radar_rank(item: pystac.Item, aoi: AOI | None) -> tuple[bool, int, str]:
    """Larger = preferred: covers the AOI, then the most precise orbit, then newest."""
    source = str(item.properties.get("s1:orbit_source") or "").upper()
    return (_covers(item, aoi), _ORBIT_SOURCE_RANK.get(source, 0),
            str(item.properties.get("updated") or ""))


def _collapse_radar(items: Iterable[pystac.Item], aoi: AOI | None) -> list[pystac.Item]:
    """One Sentinel-1 acquisition = one item where one slice covers the AOI; else all."""
    groups: dict[tuple[str, str, dt.date], list[pystac.Item]] = defaultdict(list)
    for item in items:
        groups[acquisition_key(item)].append(item)
    out: list[pystac.Item] = []
    for group in groups.values():
        best = max(group, key=lambda i: (_radar_rank(i, aoi), i.id))
        if len(group) > 1 and _covers(best, aoi):
            log.debug("acquisition %s: kept %s of %d slices", acquisition_key(best), best.id,
                      len(group))
            out.append(best)
        else:
            out.extend(group)
    return out


def _collection_rank(item: pystac.Item) -> int:
    """Larger = preferred collection (:data:`PREFERRED_COLLECTIONS`, best first)."""
    coll = item.collection_id or item.properties.get("geo:collection")
    if coll in PREFERRED_COLLECTIONS:
        return len(PREFERRED_COLLECTIONS) - PREFERRED_COLLECTIONS.index(coll)
    return 0


def _processing_rank(item: pystac.Item) -> tuple[int, str, int, str, str]:
    """Sort key: larger = preferred collection, then newer processing."""
    props = item.properties
    seq_match = re.search(r"_(\d+)_L2A$", item.id)
    sequence = int(props.get("s2:sequence", seq_match.group(1) if seq_match else 0) or 0)
    return (
        _collection_rank(item),
        str(props.get("s2:generation_time") or ""),
        sequence,
        str(props.get("updated") or ""),
        str(props.get("s2:processing_baseline") or ""),
    )


def collapse_duplicates(items: Iterable[pystac.Item], aoi: AOI | None = None) -> list[pystac.Item]:
    """One item per pass: group by solar day and MGRS tile; keep the best item.

    Sentinel-1 items (:func:`sensor_of`) are grouped by acquisition instead
    (:func:`acquisition_key`: platform, absolute orbit, day): where a slice covers the
    whole AOI only the best such slice is kept (most precise orbit source first), else
    every slice of the acquisition is kept and :func:`geo.load` mosaics them.

    The best item of a pass comes from the preferred collection
    (:data:`PREFERRED_COLLECTIONS`: Earth Search's ``sentinel-2-c1-l2a`` before
    ``sentinel-2-l2a``), then from the newest processing (generation time, ``_1`` over
    ``_0``). Within a day, if one tile's footprint holds the whole AOI, only the best
    such tile is kept (the AOI's own tile first); otherwise every tile of the day is
    kept and :func:`geo.load` mosaics them.

    Examples
    --------
    >>> collapse_duplicates([])
    []
    """
    optical: list[pystac.Item] = []
    radar: list[pystac.Item] = []
    for item in items:
        (radar if sensor_of(item) == "s1" else optical).append(item)
    out = _collapse_optical(optical, aoi) + _collapse_radar(radar, aoi)
    return sorted(out, key=lambda i: (_when(i), i.id))


def _collapse_optical(items: Iterable[pystac.Item], aoi: AOI | None) -> list[pystac.Item]:
    by_tile: dict[tuple[Any, ...], pystac.Item] = {}
    for item in items:
        key = (solar_day(item), mgrs_tile(item) or item.id)
        best = by_tile.get(key)
        if best is None or _processing_rank(item) > _processing_rank(best):
            if best is not None:
                log.debug("duplicate %s replaced by %s", best.id, item.id)
            by_tile[key] = item
        else:
            log.debug("duplicate %s dropped for %s", item.id, best.id)
    passes: dict[dt.date, list[pystac.Item]] = defaultdict(list)
    for (day, _tile), item in by_tile.items():
        passes[day].append(item)
    out: list[pystac.Item] = []
    for group in passes.values():
        out.extend(_best_tiles(group, aoi))
    return out


def _best_tiles(group: list[pystac.Item], aoi: AOI | None) -> list[pystac.Item]:
    if len(group) == 1 or aoi is None:
        return group
    footprint = box(*aoi.bounds)
    holding = [i for i in group if i.geometry and shape(i.geometry).covers(footprint)]
    if not holding:
        return group
    order = {t: n for n, t in enumerate(aoi.tiles)}
    holding.sort(key=lambda i: (order.get(mgrs_tile(i) or "", len(order)), i.id))
    return holding[:1]


# --- sources -------------------------------------------------------------------------


def _as_aoi(aoi: AOI | str | Path) -> AOI:
    return aoi if isinstance(aoi, AOI) else aoi_mod.load(aoi)


def _as_date(value: str | dt.date | dt.datetime, *, end: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, dt.date):
        out = dt.datetime.combine(value, dt.time.max if end else dt.time.min)
    else:
        text = str(value).strip()
        try:
            out = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise errors.SearchError(
                f"Date {value!r} is not ISO 8601; write it like '2022-01-25'."
            ) from None
        if len(text) <= 10:
            out = dt.datetime.combine(out.date(), dt.time.max if end else dt.time.min)
    if out.tzinfo is None:
        out = out.replace(tzinfo=dt.UTC)
    return out.astimezone(dt.UTC)


def resolve_source(source: str | Path) -> tuple[str, str]:
    """(kind, location): kind is "api" or "local".

    Examples
    --------
    >>> resolve_source("earth-search")
    ('api', 'https://earth-search.aws.element84.com/v1')
    >>> resolve_source("/no/such/folder")
    Traceback (most recent call last):
    ...
    geo.errors.UnknownSource: No local catalog at /no/such/folder: that path does not exist. ...
    """
    text = str(source)
    if text in SOURCES:
        return "api", str(SOURCES[text]["url"])
    if text.startswith(("http://", "https://")):
        return "api", text.rstrip("/")
    path = Path(text).expanduser()
    if path.is_dir() and any((path / f).is_file() for f in _LOCAL_FILES):
        return "local", str(path.resolve())
    if path.is_file() and path.name.endswith((".parquet", ".geoparquet", ".ndjson", ".jsonl")):
        return "local", str(path.resolve())
    known = ", ".join(SOURCES)
    if path.is_dir():
        raise errors.UnknownSource(
            f"The folder {path} holds no catalog ({' or '.join(_LOCAL_FILES)}). Point "
            "source at a folder that has one, or write the items there "
            "(e.g. `geo scenario build --out FOLDER`)."
        )
    if "/" in text or "\\" in text or path.suffix:
        raise errors.UnknownSource(
            f"No local catalog at {path}: that path does not exist. Check the path, or use "
            f"a known source ({known}) or an http(s) STAC API URL."
        )
    raise errors.UnknownSource(
        f"Source {text!r} is neither a known source ({known}), an http(s) STAC API URL, "
        "nor a local catalog (a folder with items.parquet or items.ndjson, or such a file)."
    )


def _progress(enabled: bool, what: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        transient=True, disable=not enabled,
    )


def _pc_modifier() -> Any:
    try:
        import planetary_computer
    except ImportError:
        raise errors.MissingDependency(
            "Searching the Planetary Computer needs the optional 'planetary-computer' "
            'package to sign its asset URLs: pip install "geo[planetary-computer]"'
        ) from None
    return planetary_computer.sign_inplace


PAGE_ATTEMPTS = 4
"""Reads of one STAC API page (JSON document) before giving up. urllib3 already retries
error statuses and failed connections (``_stac_io``); these attempts cover what it
cannot see: a body cut short or of the wrong length, or one that is not valid JSON."""


def _page_fault(exc: Exception) -> bool:
    """Whether a failed page read is worth reading again (not a 4xx, not retried yet)."""
    from pystac_client.exceptions import APIError

    if isinstance(exc, json.JSONDecodeError):  # a cut or garbled JSON body (requests' too)
        return True
    if isinstance(exc, APIError):
        status = getattr(exc, "status_code", None)
        return status is None and "Max retries exceeded" not in str(exc)
    return False


def _stac_io(delay: float = 0.5) -> Any:
    """A pystac-client StacApiIO that retries statuses (urllib3) and pages (here)."""
    from pystac_client.stac_api_io import StacApiIO
    from urllib3.util.retry import Retry

    class PageRetrying(StacApiIO):  # type: ignore[misc]
        def read_json(self, source: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            for attempt in range(1, PAGE_ATTEMPTS + 1):
                try:
                    return dict(super().read_json(source, *args, **kwargs))
                except Exception as exc:  # _page_fault sorts them out
                    if attempt == PAGE_ATTEMPTS or not _page_fault(exc):
                        raise
                    wait = delay * 2 ** (attempt - 1)
                    log.info("STAC API page %s failed (%s); retry %d/%d in %.1f s",
                             redact_url(str(getattr(source, "href", source))),
                             str(exc)[:120], attempt, PAGE_ATTEMPTS - 1, wait)
                    time.sleep(wait)
            raise AssertionError("unreachable: the loop returns or raises")

    retry = Retry(total=5, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=None)
    return PageRetrying(max_retries=retry)


def _api_pages(
    url: str, *, collection: str, bbox: Sequence[float], datetime: str,
    max_cloud: float | None, limit: int, max_items: int | None, modifier: Any,
    progress: bool,
) -> list[dict[str, Any]]:
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    try:
        client = Client.open(url, modifier=modifier, stac_io=_stac_io())
        query = {"eo:cloud_cover": {"lte": max_cloud}} if max_cloud is not None else None
        found = client.search(collections=[collection], bbox=list(bbox), datetime=datetime,
                              query=query, limit=limit, max_items=max_items)
        features: list[dict[str, Any]] = []
        with _progress(progress, f"search {collection}") as bar:
            task = bar.add_task("search", total=None)
            for page in found.pages_as_dicts():
                total = page.get("numberMatched") or (page.get("context") or {}).get("matched")
                if total is not None and max_items is not None:
                    total = min(int(total), max_items)
                bar.update(task, total=total, advance=len(page.get("features", [])))
                features.extend(page.get("features", []))
    except APIError as exc:
        raise errors.SourceUnavailable(
            f"The STAC API at {url} answered with an error: {exc}. Check the URL and "
            "collection, or try again later."
        ) from exc
    except json.JSONDecodeError as exc:  # still not JSON after PAGE_ATTEMPTS reads
        raise errors.SourceUnavailable(
            f"The STAC API at {url} sent a search page that is not valid JSON "
            f"{PAGE_ATTEMPTS} times ({exc}): its responses are cut short or garbled. Try "
            "again later, or use a local catalog (source=<folder>)."
        ) from exc
    except ValueError as exc:
        raise errors.SourceUnavailable(
            f"The STAC API at {url} sent a search page geo cannot use ({exc}). Check the "
            "URL and collection."
        ) from exc
    except OSError as exc:  # requests' ConnectionError and friends
        raise errors.SourceUnavailable(
            f"The STAC API at {url} could not be reached ({exc}). Check the network or "
            "use a local catalog (source=<folder>) or offline=True with a filled store."
        ) from exc
    return features  # pages_as_dicts has applied the modifier (signing) to each page


def read_local_catalog(path: str | Path) -> list[dict[str, Any]]:
    """Read a local catalog's items as dicts (hrefs as written in the file).

    ``path`` is a folder holding ``items.parquet`` (stac-geoparquet) or
    ``items.ndjson``, or the path of such a file.

    Examples
    --------
    >>> read_local_catalog("/nonexistent")  # doctest: +SKIP
    """
    p = Path(path)
    if p.is_dir():
        p = next((p / f for f in _LOCAL_FILES if (p / f).is_file()), p / "items.ndjson")
    if not p.is_file():
        raise errors.UnknownSource(f"No local catalog file at {p}.")
    if p.suffix in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq
        from stac_geoparquet.arrow import stac_table_to_items

        return [dict(i) for i in stac_table_to_items(pq.read_table(p))]
    items = []
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise errors.SearchError(f"{p} line {n} is not JSON: {exc.msg}") from None
    return items


def _local_href(href: str, folder: Path, item_id: str) -> str:
    """Resolve a catalog href against the folder; refuse hrefs that leave it."""
    parts = urlsplit(href)
    if parts.scheme in ("http", "https"):
        return href
    if parts.scheme == "file":
        href = unquote(parts.path)
    elif parts.scheme:
        raise errors.UnsafeHref(
            f"Item {item_id}: asset href {href!r} uses scheme {parts.scheme!r}; a local "
            "catalog may point only inside its folder or at http(s) URLs."
        )
    target = (folder / href).resolve() if not Path(href).is_absolute() else Path(href).resolve()
    if not target.is_relative_to(folder):
        raise errors.UnsafeHref(
            f"Item {item_id}: asset href {href!r} points outside the catalog folder "
            f"{folder}; geo reads only files inside it. Fix the catalog's hrefs."
        )
    return str(target)


def _wanted_local(obj: Mapping[str, Any], collection: str | None, sensor: str) -> bool:
    """Whether a local catalog's item belongs to this search (collection and sensor).

    A Sentinel-1 search takes only :data:`S1_COLLECTION` (or the forced collection);
    a Sentinel-2 search ignores Sentinel-1 items.
    """
    coll = obj.get("collection")
    if collection:
        return coll in (None, collection) and (coll is not None or sensor_of(obj) == sensor)
    if sensor_of(obj) != sensor:
        return False
    return sensor == "s2" or coll in (None, S1_COLLECTION)


def _local_items(
    location: str, *, collection: str | None, footprint: shapely.Geometry,
    start: dt.datetime, end: dt.datetime, max_cloud: float | None, sensor: str = "s2",
) -> list[dict[str, Any]]:
    path = Path(location)
    folder = path if path.is_dir() else path.parent
    folder = folder.resolve()
    everything = read_local_catalog(path)
    if not everything:
        raise errors.EmptyCatalog(
            f"The local catalog {path} holds no items at all. Fill it (write the items of "
            "a search there, or `geo scenario build --out FOLDER`) or point source at "
            "another catalog."
        )
    out = []
    for obj in everything:
        if not _wanted_local(obj, collection, sensor):
            continue
        if not _in_query(obj, footprint, start, end, max_cloud):
            continue
        item_id = str(obj.get("id"))
        for key, asset in obj.get("assets", {}).items():
            if "href" in asset:
                _resolve_asset(key, asset, folder, item_id)
        out.append(obj)
    return out


def _in_query(obj: Mapping[str, Any], footprint: shapely.Geometry, start: dt.datetime,
              end: dt.datetime, max_cloud: float | None) -> bool:
    geom = obj.get("geometry")
    if geom and not shape(geom).intersects(footprint):
        return False
    props = obj.get("properties", {})
    when = props.get("datetime") or props.get("start_datetime")
    if when is None or not start <= _as_date(str(when), end=False) <= end:
        return False
    cloud = props.get("eo:cloud_cover")
    return max_cloud is None or cloud is None or float(cloud) <= max_cloud


def _resolve_asset(key: str, asset: dict[str, Any], folder: Path, item_id: str) -> None:
    """Resolve an asset href of a local catalog in place.

    An href that breaks the rules of :func:`_local_href` is refused only for assets geo
    may read (:data:`READ_KEYS`): it is kept, with the reason in ``geo:refused``, and
    :func:`geo.load` raises :class:`geo.errors.UnsafeHref` if that band is asked for.
    Other assets (``s3://`` ``*-jp2`` copies, metadata) are left as they are.
    """
    try:
        asset["href"] = _local_href(str(asset["href"]), folder, item_id)
    except errors.UnsafeHref as exc:
        if key in READ_KEYS:
            asset["geo:refused"] = str(exc)
        log.debug("%s: asset %s left unresolved (%s)", item_id, key, exc)


def _query_key(source: str, query: Mapping[str, Any]) -> str:
    text = json.dumps({"source": source, **query}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _age(cached: Mapping[str, Any]) -> dt.timedelta:
    return dt.datetime.now(dt.UTC) - _as_date(str(cached.get("created")), end=False)


def _cached_items(
    store: Store, key: str, end: dt.datetime, *, offline: bool, refresh: bool, what: str,
    max_age: dt.timedelta,
) -> list[dict[str, Any]] | None:
    """A cached result to reuse, or None (ask the API).

    Online, a result is reused while it is younger than ``max_age`` and only if the
    period had ended when it was cached (an open period can gain passes any day).
    Offline, any age is used; one older than ``max_age`` is reported.
    """
    cached = store.get_search(key)
    if offline:
        if cached is None:
            return None
        age = _age(cached)
        if age > max_age:
            warnings.warn(errors.StaleSearchWarning(
                f"offline: the search for {what} comes from the store and is "
                f"{age.days} days old (cached {cached.get('created')}); passes added or "
                "reprocessed since are missing. Search online (refresh=True, --refresh) "
                "to update it."), stacklevel=4)
        log.info("offline search %s served from the store (%.1f days old)", what,
                 age.total_seconds() / 86400)
        return list(cached["items"])
    if cached is None or refresh:
        return None
    created = _as_date(str(cached.get("created")), end=False)
    if end < created and _age(cached) <= max_age:
        log.info("search served from the store (%s; cached %s)", what, cached.get("created"))
        return list(cached["items"])
    return None


def _api_collections(url: str, modifier: Any) -> list[str] | None:
    """The collection ids a STAC API lists, or None if it does not list them."""
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    try:
        client = Client.open(url, modifier=modifier, stac_io=_stac_io())
        if not client.conforms_to("COLLECTIONS"):
            return None  # it may still serve them; search each and see
        return [c.id for c in client.get_collections()]
    except (APIError, ValueError):  # not listed, or not readable after PAGE_ATTEMPTS
        return None
    except OSError as exc:
        raise errors.SourceUnavailable(
            f"The STAC API at {url} could not be reached ({exc}). Check the network or "
            "use a local catalog (source=<folder>) or offline=True with a filled store."
        ) from exc


def _wanted_collections(
    label: str, collection: str | None, sensor: str = "s2"
) -> tuple[tuple[str, ...], bool]:
    """(collections to search, best first; whether to ask the API which it has)."""
    if collection:
        return (collection,), False
    if sensor == "s1":
        return S1_SOURCES.get(label, (S1_COLLECTION,)), label not in SOURCES
    if label in SOURCES:
        return tuple(SOURCES[label]["collections"]), False
    return PREFERRED_COLLECTIONS, True


def _api_items(
    label: str, location: str, site: AOI, t0: dt.datetime, t1: dt.datetime, *,
    collection: str | None, max_cloud: float | None, limit: int, max_items: int | None,
    progress: bool, store: Store | str | Path | None, offline: bool, refresh: bool,
    max_age: dt.timedelta, sensor: str = "s2",
) -> list[dict[str, Any]]:
    """Every item of each wanted collection (cached per collection in the store)."""
    wanted, discover = _wanted_collections(label, collection, sensor)
    shop = open_store(store)
    modifier = _pc_modifier() if "planetarycomputer" in location else None
    queries = {c: {"collection": c, "bbox": [round(b, 6) for b in site.bounds],
                   "start": t0.isoformat(), "end": t1.isoformat(), "max_cloud": max_cloud,
                   "max_items": max_items} for c in wanted}
    found: dict[str, list[dict[str, Any]]] = {}
    for coll in wanted:
        what = f"{label} {coll} {t0.date()}..{t1.date()} over {site.name}"
        cached = _cached_items(shop, _query_key(location, queries[coll]), t1, offline=offline,
                               refresh=refresh, what=what, max_age=max_age)
        if cached is not None:
            found[coll] = [{**f, "collection": f.get("collection") or coll} for f in cached]
    missing = [c for c in wanted if c not in found]
    if missing and offline:
        if found:
            log.warning("offline: the store holds no search of %s in %s; using %s only",
                        label, ", ".join(missing), ", ".join(found))
            return [f for c in wanted for f in found.get(c, [])]
        raise errors.OfflineMiss(
            f"offline=True, but the store {shop.root} holds no result for {label} "
            f"{', '.join(missing)} {t0.date()}..{t1.date()} over {site.name}. Run the same "
            "search once online to fill it, or point store= at the store of a run that did."
        )
    listed = _api_collections(location, modifier) if missing and discover else None
    if listed is not None and not set(wanted) & set(listed):
        raise errors.SearchError(
            f"The STAC API at {location} has none of the collections "
            f"{', '.join(wanted)} (it lists: {', '.join(listed) or 'none'}). Name the "
            f"{_SENSOR_NAMES[sensor]} collection with collection= (--collection NAME)."
        )
    for coll in missing:
        if listed is not None and coll not in listed:
            log.info("%s lists no collection %s; skipped", location, coll)
            raw: list[dict[str, Any]] = []
        else:
            raw = _api_pages(location, collection=coll, bbox=site.bounds,
                             datetime=f"{_iso(t0)}/{_iso(t1)}", max_cloud=max_cloud,
                             limit=limit, max_items=max_items, modifier=modifier,
                             progress=progress)
            raw = [{**f, "collection": coll} for f in raw if f.get("collection") in (None, coll)]
        shop.put_search(_query_key(location, queries[coll]), queries[coll], raw)
        found[coll] = raw
    return [f for c in wanted for f in found.get(c, [])]


_SENSOR_NAMES = {"s2": "Sentinel-2 L2A", "s1": "Sentinel-1 RTC"}


def check_sensor(sensor: str, source: str | Path = "planetary-computer",
                 collection: str | None = None) -> str:
    """The sensor (``"s1"``/``"s2"``) if ``source`` can serve it; else raise.

    Raises
    ------
    geo.errors.UnsupportedSensor
        An unknown sensor; Sentinel-1 from Earth Search (requester-pays, unprojected
        GRD only) or from a GRD collection.

    Examples
    --------
    >>> check_sensor("s1", "planetary-computer")
    's1'
    >>> check_sensor("s1", "earth-search")
    Traceback (most recent call last):
    ...
    geo.errors.UnsupportedSensor: Earth Search has no Sentinel-1 collection geo can load: ...
    """
    if sensor not in SENSORS:
        raise errors.UnsupportedSensor(
            f"sensor={sensor!r} is not one geo knows; use 's2' (Sentinel-2 L2A, the "
            "default) or 's1' (Sentinel-1 RTC from the Planetary Computer).")
    if sensor != "s1":
        return sensor
    text = str(source).rstrip("/")
    named = next((k for k, v in SOURCES.items() if text in (k, v["url"])), text)
    if named in _NO_RADAR:
        raise errors.UnsupportedSensor(_NO_RADAR[named])
    if collection and "grd" in collection.lower():
        raise errors.UnsupportedSensor(
            f"collection={collection!r}: Sentinel-1 GRD is unprojected (GCPs only) and "
            "needs calibration and terrain correction, which geo does not do. Use the "
            f"terrain-corrected {S1_COLLECTION!r} (Planetary Computer, the default for s1).")
    return sensor


def search(
    aoi: AOI | str | Path,
    start: str | dt.date | dt.datetime,
    end: str | dt.date | dt.datetime,
    *,
    source: str | Path = "earth-search",
    collection: str | None = None,
    max_cloud: float | None = None,
    limit: int = 100,
    max_items: int | None = None,
    progress: bool = True,
    store: Store | str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    max_age: dt.timedelta | float = SEARCH_MAX_AGE,
    sensor: str = "s2",
) -> list[pystac.Item]:
    """Find the Sentinel-2 L2A (or Sentinel-1 RTC) items of an AOI between two dates.

    Parameters
    ----------
    aoi
        An :class:`geo.aoi.AOI` or a built-in AOI name / GeoJSON path.
    start, end
        The period, inclusive (``"2020-10-01"``, dates or datetimes; naive = UTC).
    source
        ``"earth-search"`` (default), ``"planetary-computer"``, any http(s) STAC API
        URL, or a local catalog: a folder with ``items.parquet``/``items.ndjson`` or
        such a file. Relative hrefs of a local catalog are resolved against its folder;
        an asset geo may read whose href leads out of it (or uses another scheme) raises
        :class:`geo.errors.UnsafeHref` when loaded; other assets are ignored.
    collection
        Force one collection. By default Earth Search is searched in both
        ``sentinel-2-c1-l2a`` and ``sentinel-2-l2a`` (neither alone has every pass), a
        STAC API URL in whichever of the two it lists, the Planetary Computer in
        ``sentinel-2-l2a``, and a local catalog in all its items.
    max_cloud
        Keep scenes with ``eo:cloud_cover`` at or below this (percent of the whole
        tile, not of the AOI: prefer per-zone clear fractions from the SCL band).
        Ignored for ``sensor="s1"``.
    limit
        Page size asked of the API; paging follows the server's ``next`` links.
    max_items
        Stop after this many items per collection (before duplicates are collapsed).
    progress
        Show a progress bar.
    store, offline, refresh, max_age
        The imagery store caches each collection's result. Online, a cached result is
        reused while younger than ``max_age`` (a timedelta or days; default 7 days),
        and only for periods that had ended when it was cached. ``refresh=True`` always
        asks the API. ``offline=True`` answers from the store only, whatever its age
        (older than ``max_age`` warns :class:`geo.errors.StaleSearchWarning`), or raises
        :class:`geo.errors.OfflineMiss`.
    sensor
        ``"s2"`` (default): Sentinel-2 L2A. ``"s1"``: Sentinel-1 RTC, collection
        ``sentinel-1-rtc`` (``source="planetary-computer"``, a STAC API URL that has it,
        or a local catalog, of which only that collection's items are taken; a
        Sentinel-2 search ignores them). One item per acquisition is kept
        (:func:`collapse_duplicates`). Earth Search has no loadable Sentinel-1:
        :class:`geo.errors.UnsupportedSensor`.

    Returns
    -------
    list of pystac.Item
        Sorted by time, canonical asset keys, one item per pass (same MGRS tile and
        solar day): the first collection's item where it has one (see
        :func:`collapse_duplicates`). Each item carries the properties ``geo:source``
        (the source) and ``geo:collection`` (the collection it came from).

    Raises
    ------
    geo.errors.UnknownSource
        The source is not a known name, URL or local catalog.
    geo.errors.UnsupportedSensor
        An unknown sensor, or ``sensor="s1"`` with Earth Search.
    geo.errors.EmptyCatalog
        The local catalog holds no items at all.
    geo.errors.MissingDependency
        ``planetary-computer`` without the ``planetary-computer`` package.
    geo.errors.SourceUnavailable
        The API cannot be reached or keeps failing.
    geo.errors.NoImagery
        Nothing found.

    Examples
    --------
    >>> import geo
    >>> items = geo.search("bagram", "2022-01-01", "2022-02-28")  # doctest: +SKIP
    >>> {i.properties["geo:collection"] for i in items}  # doctest: +SKIP
    {'sentinel-2-l2a', 'sentinel-2-c1-l2a'}
    """
    check_sensor(sensor, source, collection)
    if sensor == "s1" and max_cloud is not None:
        log.info("max_cloud=%s ignored: radar sees through cloud (items have no "
                 "eo:cloud_cover)", max_cloud)
        max_cloud = None
    site = _as_aoi(aoi)
    t0, t1 = _as_date(start, end=False), _as_date(end, end=True)
    if t1 < t0:
        raise errors.SearchError(f"The period ends ({end}) before it starts ({start}); swap them.")
    age = max_age if isinstance(max_age, dt.timedelta) else dt.timedelta(days=float(max_age))
    kind, location = resolve_source(source)
    label = str(source)
    footprint = box(*site.bounds)
    if kind == "local":
        raw = _local_items(location, collection=collection, footprint=footprint, start=t0,
                           end=t1, max_cloud=max_cloud, sensor=sensor)
        label = location
    else:
        raw = _api_items(label, location, site, t0, t1, collection=collection,
                         max_cloud=max_cloud, limit=limit, max_items=max_items,
                         progress=progress, store=store, offline=offline, refresh=refresh,
                         max_age=age, sensor=sensor)
        raw = [f for f in raw if collection or sensor_of(f) == sensor]
    items = list(_to_items(raw, label))
    out = collapse_duplicates(items, site)
    log.info("search %s: %d items, %d after collapsing duplicates (%s)", label, len(items),
             len(out), ", ".join(f"{c}: {n}" for c, n in collection_counts(out).items()))
    if not out:
        raise errors.NoImagery(
            f"No {_SENSOR_NAMES[sensor]} items for {site.name} between {t0.date()} and {t1.date()} "
            f"in {label}" + (f" with cloud cover <= {max_cloud} %" if max_cloud is not None else "")
            + ". Widen the period or cloud limit, or check the source and collection."
        )
    return out


def collection_counts(items: Iterable[pystac.Item]) -> dict[str, int]:
    """How many items each collection supplied.

    Examples
    --------
    >>> it = pystac.Item("x", None, None, dt.datetime(2020, 1, 1), {}, collection="c")
    >>> collection_counts([it, it])
    {'c': 2}
    """
    counts: dict[str, int] = {}
    for item in items:
        name = item_collection(item)
        counts[name] = counts.get(name, 0) + 1
    return counts


def item_collection(item: pystac.Item) -> str:
    """The collection an item came from ("" if unknown)."""
    return str(item.properties.get("geo:collection") or item.collection_id or "")


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_items(raw: Iterable[Mapping[str, Any]], label: str) -> Iterator[pystac.Item]:
    for obj in raw:
        item = pystac.Item.from_dict(dict(obj), preserve_dict=True, migrate=False)
        item.properties.setdefault("geo:source", label)
        if obj.get("collection"):
            item.properties.setdefault("geo:collection", str(obj["collection"]))
        yield canonicalise(item)


def unsigned(href: str) -> str:
    """The href without a signature (for logs and keys); see :func:`geo.store.href_key`."""
    return href_key(href)
