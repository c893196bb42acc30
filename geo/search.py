"""Find Sentinel-2 L2A items of an AOI: public STAC APIs or a local catalog.

One function, :func:`search`, whatever the source: Earth Search (default, no account),
the Planetary Computer (hrefs signed with the optional ``planetary-computer`` package),
any STAC API URL, or a local catalog (a folder holding ``items.parquet`` or
``items.ndjson``, or the path of such a file). The items come back with canonical asset
keys (``blue green red nir swir16 swir22 scl visual``) whatever the source calls them,
one item per pass (duplicates collapsed, newest processing kept), sorted by time.

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
from geo.aoi import AOI
from geo.store import Store, href_key, open_store

__all__ = [
    "SOURCES",
    "CANONICAL",
    "search",
    "canonicalise",
    "collapse_duplicates",
    "solar_day",
    "relative_orbit",
    "mgrs_tile",
    "read_local_catalog",
]

log = logging.getLogger(__name__)

SOURCES: dict[str, dict[str, str]] = {
    "earth-search": {"url": "https://earth-search.aws.element84.com/v1",
                     "collection": "sentinel-2-l2a"},
    "planetary-computer": {"url": "https://planetarycomputer.microsoft.com/api/stac/v1",
                           "collection": "sentinel-2-l2a"},
}
"""Named STAC APIs and their default collection."""

CANONICAL: dict[str, str] = {
    "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1",
    "B06": "rededge2", "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09",
    "B11": "swir16", "B12": "swir22", "SCL": "scl", "AOT": "aot", "WVP": "wvp",
    "TCI": "visual", "visual": "visual",
}
"""Source asset key -> canonical key (Planetary Computer and Earth Search v0 use B-keys)."""

_RELATIVE_ORBIT = re.compile(r"_R(\d{3})(?:_|$)")
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


def _processing_rank(item: pystac.Item) -> tuple[str, int, str, str]:
    """Sort key: larger = newer processing."""
    props = item.properties
    seq_match = re.search(r"_(\d+)_L2A$", item.id)
    sequence = int(props.get("s2:sequence", seq_match.group(1) if seq_match else 0) or 0)
    return (
        str(props.get("s2:generation_time") or ""),
        sequence,
        str(props.get("updated") or ""),
        str(props.get("s2:processing_baseline") or ""),
    )


def collapse_duplicates(items: Iterable[pystac.Item], aoi: AOI | None = None) -> list[pystac.Item]:
    """One item per pass: group by solar day, relative orbit and tile; keep the newest.

    Within a pass, if one tile's footprint holds the whole AOI, only the best such
    tile is kept (the AOI's own tile first); otherwise every tile of the pass is kept
    and :func:`geo.load` mosaics them.

    Examples
    --------
    >>> collapse_duplicates([])
    []
    """
    by_tile: dict[tuple[Any, ...], pystac.Item] = {}
    for item in items:
        key = (solar_day(item), relative_orbit(item), mgrs_tile(item) or item.id)
        best = by_tile.get(key)
        if best is None or _processing_rank(item) > _processing_rank(best):
            if best is not None:
                log.debug("duplicate %s replaced by newer %s", best.id, item.id)
            by_tile[key] = item
        else:
            log.debug("duplicate %s dropped for newer %s", item.id, best.id)
    passes: dict[tuple[Any, ...], list[pystac.Item]] = defaultdict(list)
    for (day, orbit, _tile), item in by_tile.items():
        passes[(day, orbit)].append(item)
    out: list[pystac.Item] = []
    for group in passes.values():
        out.extend(_best_tiles(group, aoi))
    return sorted(out, key=lambda i: (_when(i), i.id))


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
    """(kind, location): kind is "api" or "local"."""
    text = str(source)
    if text in SOURCES:
        return "api", SOURCES[text]["url"]
    if text.startswith(("http://", "https://")):
        return "api", text.rstrip("/")
    path = Path(text).expanduser()
    if path.is_dir() and any((path / f).is_file() for f in _LOCAL_FILES):
        return "local", str(path.resolve())
    if path.is_file() and path.name.endswith((".parquet", ".geoparquet", ".ndjson", ".jsonl")):
        return "local", str(path.resolve())
    known = ", ".join(SOURCES)
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


def _api_pages(
    url: str, *, collection: str, bbox: Sequence[float], datetime: str,
    max_cloud: float | None, limit: int, max_items: int | None, modifier: Any,
    progress: bool,
) -> list[dict[str, Any]]:
    from pystac_client import Client
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO
    from urllib3.util.retry import Retry

    retry = Retry(total=5, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=None)
    try:
        client = Client.open(url, modifier=modifier, stac_io=StacApiIO(max_retries=retry))
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


def _local_items(
    location: str, *, collection: str | None, footprint: shapely.Geometry,
    start: dt.datetime, end: dt.datetime, max_cloud: float | None,
) -> list[dict[str, Any]]:
    path = Path(location)
    folder = path if path.is_dir() else path.parent
    folder = folder.resolve()
    out = []
    for obj in read_local_catalog(path):
        if collection and obj.get("collection") not in (None, collection):
            continue
        geom = obj.get("geometry")
        if geom and not shape(geom).intersects(footprint):
            continue
        props = obj.get("properties", {})
        when = props.get("datetime") or props.get("start_datetime")
        if when is None:
            continue
        stamp = _as_date(str(when), end=False)
        if not start <= stamp <= end:
            continue
        cloud = props.get("eo:cloud_cover")
        if max_cloud is not None and cloud is not None and float(cloud) > max_cloud:
            continue
        for asset in obj.get("assets", {}).values():
            if "href" in asset:
                asset["href"] = _local_href(str(asset["href"]), folder, str(obj.get("id")))
        out.append(obj)
    return out


def _query_key(source: str, query: Mapping[str, Any]) -> str:
    text = json.dumps({"source": source, **query}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _cached_items(
    store: Store, key: str, end: dt.datetime, *, offline: bool, refresh: bool, what: str,
) -> list[dict[str, Any]] | None:
    cached = store.get_search(key)
    if offline:
        if cached is None:
            raise errors.OfflineMiss(
                f"offline=True, but the store {store.root} holds no result for {what}. "
                "Run the same search once online to fill it, or point store= at the "
                "store of a run that did."
            )
        return list(cached["items"])
    if cached is None or refresh:
        return None
    created = _as_date(str(cached.get("created")), end=False)
    if end < created:
        log.info("search served from the store (%s; cached %s)", what, cached.get("created"))
        return list(cached["items"])
    return None


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
) -> list[pystac.Item]:
    """Find the Sentinel-2 L2A items of an AOI between two dates.

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
        hrefs leading out of it raise :class:`geo.errors.UnsafeHref`.
    collection
        The collection to search (default ``sentinel-2-l2a``; local catalogs: any).
    max_cloud
        Keep scenes with ``eo:cloud_cover`` at or below this (percent of the whole
        tile, not of the AOI: prefer per-zone clear fractions from the SCL band).
    limit
        Page size asked of the API; paging follows the server's ``next`` links.
    max_items
        Stop after this many items (before duplicates are collapsed).
    progress
        Show a progress bar.
    store, offline, refresh
        The imagery store caches results of periods that had ended when searched;
        ``offline=True`` answers from it only (or raises :class:`geo.errors.OfflineMiss`);
        ``refresh=True`` always asks the API.

    Returns
    -------
    list of pystac.Item
        Sorted by time, canonical asset keys, one item per pass. Each item carries the
        property ``geo:source`` (the source it came from).

    Raises
    ------
    geo.errors.UnknownSource
        The source is not a known name, URL or local catalog.
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
    >>> {i.properties["geo:source"] for i in items}  # doctest: +SKIP
    {'earth-search'}
    """
    site = _as_aoi(aoi)
    t0, t1 = _as_date(start, end=False), _as_date(end, end=True)
    if t1 < t0:
        raise errors.SearchError(f"The period ends ({end}) before it starts ({start}); swap them.")
    kind, location = resolve_source(source)
    label = str(source)
    footprint = box(*site.bounds)
    if kind == "local":
        raw = _local_items(location, collection=collection, footprint=footprint, start=t0,
                           end=t1, max_cloud=max_cloud)
        label = location
    else:
        coll = collection or SOURCES.get(label, {}).get("collection", "sentinel-2-l2a")
        query = {"collection": coll, "bbox": [round(b, 6) for b in site.bounds],
                 "start": t0.isoformat(), "end": t1.isoformat(), "max_cloud": max_cloud,
                 "max_items": max_items}
        shop = open_store(store)
        key = _query_key(location, query)
        what = f"{label} {coll} {t0.date()}..{t1.date()} over {site.name}"
        cached = _cached_items(shop, key, t1, offline=offline, refresh=refresh, what=what)
        if cached is not None:
            raw = cached
        else:
            modifier = _pc_modifier() if "planetarycomputer" in location else None
            raw = _api_pages(location, collection=coll, bbox=site.bounds,
                             datetime=f"{_iso(t0)}/{_iso(t1)}", max_cloud=max_cloud,
                             limit=limit, max_items=max_items, modifier=modifier,
                             progress=progress)
            raw = [f for f in raw if f.get("collection") in (None, coll)]
            shop.put_search(key, query, raw)
    items = list(_to_items(raw, label))
    out = collapse_duplicates(items, site)
    log.info("search %s: %d items, %d after collapsing duplicates", label, len(items), len(out))
    if not out:
        raise errors.NoImagery(
            f"No Sentinel-2 L2A items for {site.name} between {t0.date()} and {t1.date()} "
            f"in {label}" + (f" with cloud cover <= {max_cloud} %" if max_cloud is not None else "")
            + ". Widen the period or cloud limit, or check the source and collection."
        )
    return out


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_items(raw: Iterable[Mapping[str, Any]], label: str) -> Iterator[pystac.Item]:
    for obj in raw:
        item = pystac.Item.from_dict(dict(obj), preserve_dict=True, migrate=False)
        item.properties.setdefault("geo:source", label)
        yield canonicalise(item)


def unsigned(href: str) -> str:
    """The href without a signature (for logs and keys); see :func:`geo.store.href_key`."""
    return href_key(href)
