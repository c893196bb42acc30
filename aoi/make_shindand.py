"""Regenerate ``aoi/shindand.geojson``: a second, smaller airfield for multi-site runs.

Shindand Air Base (ICAO OASD, Herat province, Afghanistan). Only the reference point
(airportsdata: 33.3913 N, 62.2610 E) is taken from a database; the runway is drawn as a
2,740 m x 45 m strip on a 000/180 deg true heading through it, and every other zone is
placed by hand beside it. All geometry is therefore approximate and says so.

Run: ``python aoi/make_shindand.py`` (writes aoi/shindand.geojson).
"""

from __future__ import annotations

import json
from pathlib import Path

from pyproj import Geod
from shapely.geometry import mapping

from geo.aoi import RunwayFrame

REF = (33.3913, 62.2610)  # lat, lon
_GEOD = Geod(ellps="WGS84")
_s_lon, _s_lat, _ = _GEOD.fwd(REF[1], REF[0], 180.0, 1370.0)
_n_lon, _n_lat, _ = _GEOD.fwd(REF[1], REF[0], 0.0, 1370.0)
RUNWAY = ((_s_lat, _s_lon), (_n_lat, _n_lon))
APPROX = "approximate: placed by hand around the airportsdata reference point, not surveyed"
rect = RunwayFrame(*RUNWAY).rect  # s north along the runway from its south end, t east


def zone(name: str, kind: str, geom, **extra: str) -> dict:
    rounded = json.loads(json.dumps(mapping(geom)), parse_float=lambda v: round(float(v), 6))
    return {"type": "Feature",
            "properties": {"name": name, "kind": kind, "source": APPROX, **extra},
            "geometry": rounded}


ZONES = [
    zone("perimeter", "perimeter", rect(-500, 3240, -900, 1600)),
    zone("runway_18_36", "runway", rect(0, 2740, -22.5, 22.5)),
    zone("taxiway_parallel", "taxiway", rect(200, 2540, 170, 193)),
    zone("apron_main", "apron", rect(1000, 1600, 220, 420), description="main ramp"),
    zone("apron_south", "apron", rect(300, 700, 220, 380), description="southern ramp"),
    zone("parking_main", "parking", rect(1700, 1850, 500, 650)),
    zone("container_yard", "yard", rect(1200, 1400, 600, 750)),
    zone("hangar_1", "hangar", rect(1650, 1740, 230, 300)),
    zone("control_open_ground", "control", rect(800, 1600, 1800, 2100),
         description="static bare-ground reference, off-site"),
]

if __name__ == "__main__":
    out = Path(__file__).with_name("shindand.geojson")
    fc = {"type": "FeatureCollection", "name": "shindand",
          "properties": {"site": "Shindand Air Base, Herat, Afghanistan", "icao": "OASD",
                         "reference_point": [REF[1], REF[0]]},
          "features": ZONES}
    out.write_text(json.dumps(fc, indent=1) + "\n")
    print(f"wrote {out} ({len(ZONES)} zones)")
