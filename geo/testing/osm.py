"""An Overpass API on loopback, answering in Overpass's documented JSON and status formats.

:func:`overpass_response` writes an AOI's aprons, hangars, taxiways and runways as an
Overpass answer (``[out:json]``: nodes with ``lat``/``lon``, ways with ``nodes`` and
``tags``), the way OpenStreetMap maps airfields: aprons and hangars as closed ways,
taxiways and runways as centre lines with (sometimes) a ``width`` tag.
:class:`OverpassServer` serves it at ``/api/interpreter`` and answers ``/api/status`` as
the real server does, so :mod:`geo.osm` runs osmnx's real request path against it.

Examples
--------
>>> from geo.aoi import load
>>> doc = overpass_response(load("bagram"), kinds=("apron",))
>>> sorted({e["type"] for e in doc["elements"]}), doc["version"]
(['node', 'way'], 0.6)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from geo.aoi import AOI
from geo.testing.servers import JsonRouteServer

__all__ = ["STATUS", "OverpassServer", "overpass_response"]

STATUS = """Connected as: 2130706433
Current time: {now}
Announced endpoint: none
Rate limit: 2
2 slots available now.
Currently running queries (pid, space limit, time limit, start time):
"""
"""Overpass's ``/api/status`` text (osmnx reads its fifth line for the slots free)."""

_COPYRIGHT = ("The data included in this document is from www.openstreetmap.org. "
              "The data is made available under ODbL.")


class _Elements:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.ways: list[dict[str, Any]] = []

    def way(self, coords: Sequence[tuple[float, float]], tags: dict[str, str],
            closed: bool) -> None:
        ids = []
        for lon, lat in (coords[:-1] if closed else coords):
            self.nodes.append({"type": "node", "id": 1_000_000 + len(self.nodes),
                               "lat": round(lat, 7), "lon": round(lon, 7)})
            ids.append(self.nodes[-1]["id"])
        self.ways.append({"type": "way", "id": 5_000 + len(self.ways),
                          "nodes": ids + ids[:1] if closed else ids, "tags": tags})


def _centre_line(geom: BaseGeometry) -> tuple[list[tuple[float, float]], float]:
    """The long axis of a (lon/lat) strip's minimum rotated rectangle, and its width (m)."""
    from pyproj import Geod

    rect = np.asarray(geom.minimum_rotated_rectangle.exterior.coords)[:4]
    geod = Geod(ellps="WGS84")
    sides = [geod.inv(*rect[i], *rect[(i + 1) % 4])[2] for i in range(4)]
    i = int(np.argmax(sides[:2]))  # the long side starts at corner i
    a = (rect[(i + 1) % 4] + rect[(i + 2) % 4]) / 2  # midpoints of the two short sides
    b = (rect[(i + 3) % 4] + rect[i]) / 2
    return [tuple(a), tuple(b)], float(min(sides[:2]))


def overpass_response(aoi: AOI, *, kinds: Sequence[str] = ("apron", "hangar", "taxiway",
                                                            "runway"),
                      skip: Sequence[str] = (), width_tags: bool = True) -> dict[str, Any]:
    """An AOI's airfield zones as Overpass would answer a query for their aeroways.

    Parameters
    ----------
    aoi
        The AOI whose zones to map.
    kinds
        Zone kinds to include (``apron`` and ``hangar`` as closed ways; ``taxiway`` and
        ``runway`` as centre lines).
    skip
        Zone names to leave out (OSM rarely maps a whole site).
    width_tags
        Tag centre lines with their width (``"23"``); without, osmnx gets bare lines.
    """
    found = _Elements()
    for row in aoi.zones.itertuples():
        if row.kind not in kinds or row.name in skip:
            continue
        polys = getattr(row.geometry, "geoms", [row.geometry])
        for poly in polys:
            tags = {"aeroway": str(row.kind), "name": str(row.name)}
            if row.kind in ("taxiway", "runway"):
                line, width = _centre_line(poly)
                if width_tags:
                    tags["width"] = f"{width:.0f}"
                found.way(line, tags, closed=False)
            else:
                if row.kind == "hangar":
                    tags["building"] = "hangar"
                found.way(list(poly.exterior.coords), tags, closed=True)
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"version": 0.6, "generator": "Overpass API 0.7.62.1 084b4234",
            "osm3s": {"timestamp_osm_base": now, "copyright": _COPYRIGHT},
            "elements": found.ways + found.nodes}


_ERROR_PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"
    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en"><head>
<title>OSM3S Response</title></head><body>
<p><strong style="color:#FF0000">Error</strong>: line 1: static error: the query failed. </p>
</body></html>
"""


class OverpassServer(JsonRouteServer):
    """An Overpass API on loopback: ``/api/status`` and ``/api/interpreter``.

    ``url`` + ``"/api"`` is the base URL osmnx wants (``settings.overpass_url``). Every
    query is answered with ``response``; ``status`` makes the interpreter fail instead
    (e.g. 400 for a bad query).
    """

    def __init__(self, response: dict[str, Any], *, status: int = 200) -> None:
        self.response = response
        self.status = status
        super().__init__(self._answer)

    @property
    def api(self) -> str:
        """The base URL to give osmnx or :func:`geo.osm.aeroways`."""
        return self.url + "/api"

    def _answer(self, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        if path.endswith("/status"):
            return 200, STATUS.format(now=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if path.endswith("/interpreter"):
            if self.status != 200:
                return self.status, _ERROR_PAGE  # Overpass answers errors in HTML
            return 200, self.response
        return 404, {"error": f"no route {path}"}
