"""OpenStreetMap's aeroways for a site, and their reconciliation with zones found in imagery.

OpenStreetMap maps many airfields' aprons, taxiways, runways and hangars
(``aeroway=apron|taxiway|runway|hangar``), often more exactly than 10 m imagery can. Where
it has a site, its outlines are the better zones; where it has nothing (or only some of
the site), the zones :mod:`geo.airfield` found in the imagery stand. :func:`aeroways`
asks the Overpass API through `osmnx`_ (which caches every answer on disk, so a site is
asked for once); :func:`reconcile` merges the two sources zone by zone and says, per
zone, where it came from.

Taxiways and runways are mostly mapped as centre lines: they become areas by their
``width`` tag, or by a typical width (:data:`DEFAULT_WIDTH_M`) when untagged, and the
zone's ``source`` says which.

Needs the optional dependency ``osmnx`` (``pip install geo[osm]``) and a network. OSM
data are (c) OpenStreetMap contributors, under the ODbL; the zones say so.

.. _osmnx: https://osmnx.readthedocs.io

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString
>>> osm = gpd.GeoDataFrame({"aeroway": ["taxiway"], "osm_id": ["way/1"], "width": [None]},
...                        geometry=[LineString([(69.26, 34.94), (69.27, 34.95)])], crs=4326)
>>> zones = as_zones(osm, epsg=32642)
>>> zones[["name", "kind"]].values.tolist()
[['osm_taxiway_way1', 'taxiway']]
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from geo import errors
from geo.aoi import AOI, from_geojson

__all__ = ["AEROWAYS", "DEFAULT_WIDTH_M", "COVERED_SHARE", "MATCH_IOU", "OSM_SOURCE", "OVERPASS_URL", "aeroways", "as_zones",
           "cache_dir", "reconcile"]

log = logging.getLogger(__name__)

AEROWAYS: tuple[str, ...] = ("apron", "taxiway", "runway", "hangar")
"""The ``aeroway`` values asked for; each becomes the zone kind of the same name."""

DEFAULT_WIDTH_M: dict[str, float] = {"taxiway": 23.0, "runway": 45.0}
"""Width given to a centre line with no ``width`` tag: ICAO's taxiway width for code
letter D-E aircraft (23 m) and the common 45 m runway."""

MATCH_IOU = 0.3
"""Overlap (intersection over union) above which an imagery zone and an OSM zone of the
same kind are one zone: OSM's outline is kept and the zone says both found it."""

COVERED_SHARE = 0.5
"""Share of an AOI zone under OSM zones of its kind above which OSM's pieces replace it."""

OVERPASS_URL = "https://overpass-api.de/api"
"""The Overpass API asked by default (OpenStreetMap's main public instance)."""

OSM_SOURCE = "OpenStreetMap contributors (ODbL)"
"""Attribution carried by every zone taken from OpenStreetMap."""


def cache_dir() -> Path:
    """Where Overpass answers are cached: ``$GEO_CACHE_DIR/osm`` or ``~/.cache/geo/osm``.

    Examples
    --------
    >>> cache_dir().name
    'osm'
    """
    root = os.environ.get("GEO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "geo")
    return Path(root) / "osm"


def aeroways(area: AOI | BaseGeometry, *, overpass_url: str | None = None,
             cache: str | Path | None = None, timeout: float = 120) -> gpd.GeoDataFrame:
    """The aprons, taxiways, runways and hangars OpenStreetMap maps inside an area.

    Parameters
    ----------
    area
        An AOI (its perimeter is asked for) or a lon/lat polygon.
    overpass_url
        Base URL of an Overpass API (default: :data:`OVERPASS_URL`).
    cache
        Folder of osmnx's answer cache (default: :func:`cache_dir`). A site asked for
        before is answered from it, with no request.
    timeout
        Seconds to wait for the server.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per OSM element: ``osm_id`` (``way/123``), ``aeroway``, ``name``,
        ``width`` (the tag, as text, or None), ``geometry`` (EPSG:4326). Empty when OSM
        maps nothing there.

    Raises
    ------
    geo.errors.MissingDependency
        osmnx is not installed.
    geo.errors.SourceUnavailable
        The Overpass API cannot be reached or answered with an error.
    """
    ox = _osmnx()
    polygon = area.perimeter if isinstance(area, AOI) else area
    where = (overpass_url or OVERPASS_URL).rstrip("/")
    wanted = {"use_cache": True, "cache_folder": str(Path(cache) if cache is not None
                                                     else cache_dir()),
              "requests_timeout": int(timeout), "overpass_url": where}
    # Unreachable: no rate-limit wait; a cached answer still comes from the cache, and an
    # uncached one fails at once.
    wanted["overpass_rate_limit"] = _reachable(where, timeout)
    try:
        with _settings(ox, wanted):
            found = ox.features.features_from_polygon(polygon,
                                                      tags={"aeroway": list(AEROWAYS)})
    except ox._errors.InsufficientResponseError:
        log.info("OpenStreetMap maps no aeroway inside the area (%s)", where)
        return _empty()
    except (ox._errors.ResponseStatusCodeError, OSError, ValueError, KeyError) as exc:
        raise errors.SourceUnavailable(
            f"OpenStreetMap's Overpass API at {where} did not answer ({exc}). --osm needs "
            "a network: try again later, or drop --osm to use the imagery's zones alone."
        ) from exc
    except Exception as exc:  # requests' own errors (timeouts, refused connections)
        if type(exc).__module__.startswith(("requests", "urllib3")):
            raise errors.SourceUnavailable(
                f"OpenStreetMap's Overpass API at {where} cannot be reached ({exc}). --osm "
                "needs a network: drop --osm to use the imagery's zones alone."
            ) from exc
        raise
    return _tidy(found)


@contextlib.contextmanager
def _settings(ox: Any, wanted: dict[str, Any]) -> Iterator[None]:
    """osmnx's module-wide settings for one call, put back after it (and the resolver
    osmnx replaces to pin the server's address)."""
    before = {k: getattr(ox.settings, k) for k in wanted}
    resolver = socket.getaddrinfo  # osmnx pins the Overpass host's address process-wide
    for key, value in wanted.items():
        setattr(ox.settings, key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            setattr(ox.settings, key, value)
        socket.getaddrinfo = resolver


def _reachable(url: str, timeout: float) -> bool:
    """Whether the Overpass server answers its status page (a quick check: osmnx itself
    would wait a minute before giving up on an unreachable server)."""
    import requests

    try:
        requests.get(url.rstrip("/") + "/status", timeout=min(timeout, 10))
    except requests.RequestException as exc:
        log.info("Overpass at %s cannot be reached (%s): cached answers only", url, exc)
        return False
    return True


def _osmnx() -> Any:
    try:
        import osmnx
    except ImportError as exc:
        raise errors.MissingDependency(
            "OpenStreetMap zones need osmnx: pip install 'geo[osm]' (or osmnx), or drop --osm."
        ) from exc
    return osmnx


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"osm_id": [], "aeroway": [], "name": [], "width": []},
                            geometry=[], crs=4326)


def _tidy(found: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if found.empty:
        return _empty()
    frame = found.reset_index()
    ids = [f"{t}/{i}" for t, i in zip(frame["element"], frame["id"], strict=True)]
    keep = frame["aeroway"].isin(AEROWAYS).to_numpy()

    def column(name: str) -> list[Any]:
        values = frame[name] if name in frame else pd.Series([None] * len(frame))
        return [None if pd.isna(v) else str(v) for v in values]

    out = gpd.GeoDataFrame({"osm_id": ids, "aeroway": frame["aeroway"].astype(str),
                            "name": column("name"), "width": column("width")},
                           geometry=frame.geometry.to_numpy(), crs=4326)
    return out[keep].reset_index(drop=True)


def _width(row: Any, kind: str) -> tuple[float, str]:
    """The width of a mapped centre line, in metres, and how it was known."""
    raw = row.width
    if raw:
        try:
            return float(str(raw).replace("m", "").strip()), f"width tag {raw}"
        except ValueError:
            pass
    return DEFAULT_WIDTH_M.get(kind, 23.0), f"no width tag: {DEFAULT_WIDTH_M.get(kind, 23.0):g} m assumed"


def as_zones(osm: gpd.GeoDataFrame, *, epsg: int) -> gpd.GeoDataFrame:
    """OSM aeroways as AOI zones (lon/lat polygons): ``name``, ``kind``, ``source``.

    Areas are kept as mapped; centre lines (taxiways, runways) are grown to their width;
    points are dropped. ``epsg`` is the metric CRS the widths are applied in.
    """
    rows = []
    utm = osm.to_crs(epsg)
    for i, row in enumerate(utm.itertuples()):
        kind = str(row.aeroway)
        geom = row.geometry
        how = "mapped as an area"
        if geom is None or geom.is_empty or geom.geom_type in ("Point", "MultiPoint"):
            continue
        if geom.geom_type in ("LineString", "MultiLineString"):
            width, how = _width(row, kind)
            geom = geom.buffer(width / 2, cap_style="flat")
        element, _, num = str(row.osm_id).partition("/")
        rows.append({"name": f"osm_{kind}_{element or 'element'}{num or i}", "kind": kind, "geometry": geom,
                     "source": f"{OSM_SOURCE}, {row.osm_id} ({how})",
                     "osm_id": str(row.osm_id), "found_by": "osm"})
    zones = gpd.GeoDataFrame(rows, geometry="geometry", crs=epsg) if rows else \
        gpd.GeoDataFrame({"name": [], "kind": [], "source": [], "osm_id": [], "found_by": []},
                         geometry=[], crs=epsg)
    return zones.to_crs(4326)


def _iou(a: BaseGeometry, b: BaseGeometry) -> float:
    union = a.union(b).area
    return float(a.intersection(b).area / union) if union > 0 else 0.0


def _covered(ours: gpd.GeoDataFrame, theirs: gpd.GeoDataFrame) -> set[int]:
    """AOI zones mapped by OSM in pieces: half or more of the zone under OSM zones of its
    kind (e.g. a taxiway network mapped as one line per taxiway). The OSM pieces are
    marked as found by both."""
    gone = set()
    for k, zone in ours[ours["kind"].isin(AEROWAYS)].iterrows():
        pieces = theirs[(theirs["kind"] == zone["kind"])
                        & theirs.geometry.intersects(zone.geometry)]
        if pieces.empty or zone.geometry.area <= 0:
            continue
        share = zone.geometry.intersection(pieces.geometry.union_all()).area / zone.geometry.area
        if share >= COVERED_SHARE:
            gone.add(int(k))
            hit = pieces.index[pieces["found_by"] == "osm"]
            theirs.loc[hit, "found_by"] = "both"
            theirs.loc[hit, "source"] = theirs.loc[hit, "source"] + (
                f"; part of {zone['name']} ({100 * share:.0f} % of it mapped)")
    return gone


def reconcile(aoi: AOI, osm: gpd.GeoDataFrame, *, match_iou: float = MATCH_IOU) -> AOI:
    """Merge an AOI's zones (found in imagery or drawn) with OpenStreetMap's aeroways.

    Per kind (apron, taxiway, runway, hangar): an OSM zone overlapping an AOI zone of
    the same kind by more than ``match_iou`` replaces it, and says both found it
    (``found_by="both"``, the imagery zone's name and overlap in ``source``); an OSM zone
    with no match is added (``found_by="osm"``); an AOI zone OSM lacks stays
    (``found_by`` as it was, else ``"imagery"``), unless OSM maps it in pieces that
    cover :data:`COVERED_SHARE` of it (then the pieces replace it). Other kinds (perimeter, controls,
    parking, ...) stay as they are. OSM zones outside the perimeter are clipped to it;
    those left smaller than 100 m2 are dropped.

    Returns
    -------
    AOI
        A normal AOI (validated like any GeoJSON AOI) whose ``properties["osm"]`` counts
        the zones from each source.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from geo.aoi import load
    >>> aoi = load("bagram")
    >>> same = reconcile(aoi, gpd.GeoDataFrame({"osm_id": [], "aeroway": [], "name": [],
    ...                                         "width": []}, geometry=[], crs=4326))
    >>> len(same.zones) == len(aoi.zones), same.properties["osm"]["osm"]
    (True, 0)
    """
    epsg = aoi.epsg
    ours = aoi.zones.to_crs(epsg).copy()
    if "found_by" not in ours:
        ours["found_by"] = None
    theirs = as_zones(osm, epsg=epsg).to_crs(epsg)
    perimeter = aoi.zones_utm().loc[aoi.zones_utm()["kind"] == "perimeter"].geometry.union_all()
    theirs["geometry"] = theirs.geometry.intersection(perimeter)
    theirs = theirs[theirs.geometry.area >= 100].reset_index(drop=True)
    drop: set[int] = set()
    for j, other in theirs.iterrows():
        same_kind = ours[(ours["kind"] == other["kind"]) & ~ours.index.isin(list(drop))]
        scores = same_kind.geometry.apply(lambda g, o=other.geometry: _iou(g, o))
        if len(scores) and scores.max() > match_iou:
            k = scores.idxmax()
            drop.add(int(k))
            theirs.loc[j, "found_by"] = "both"
            theirs.loc[j, "source"] = (f"{other['source']}; also found as {ours.loc[k, 'name']} "
                                       f"(IoU {scores.max():.2f})")
    drop |= _covered(ours.drop(index=list(drop)), theirs)
    ours.loc[ours["found_by"].isna() & ours["kind"].isin(AEROWAYS), "found_by"] = "imagery"
    kept = ours.drop(index=list(drop))
    merged = pd.concat([kept, theirs], ignore_index=True)
    counts = merged["found_by"].value_counts().to_dict()
    props = dict(aoi.properties)
    props["osm"] = {k: int(counts.get(k, 0)) for k in ("osm", "both", "imagery")}
    zones = gpd.GeoDataFrame(merged, geometry="geometry", crs=epsg).to_crs(4326)
    draft = dataclasses.replace(aoi, zones=zones, properties=props)
    return from_geojson(draft.to_geojson(), name=aoi.name)  # validated like any AOI file
