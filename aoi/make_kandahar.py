"""Regenerate ``aoi/kandahar.geojson``: a third airfield, for the zone finder's benchmark.

Kandahar Airport (ICAO OAKN, Kandahar province, Afghanistan): one asphalt runway, 05/23,
in a dry climate. The runway is the real OurAirports row (both ends' coordinates, 148 ft
= 45 m wide; ``geo/data/ourairports_runways.csv.gz``). Every other zone is placed by hand
in a frame aligned with it: ``s`` metres along it from the 05 threshold (south-west),
``t`` metres across it, positive to the south-east. They are plausible, not surveyed.

The layout is deliberately unlike Bagram's and Shindand's (aprons there lie east of the
runway, beside the parallel taxiway): here the parallel taxiway and most aprons lie on
the north-west side, the main apron is set back behind the taxiway and reached by a
single link, one apron is L-shaped, and a small apron lies on the far (south-east)
side, reached straight from the runway by a stub. ``benchmarks/find_zones.py`` scores
the zones found from the code ``OAKN`` against these; the finder was not tuned on them.

Run: ``python aoi/make_kandahar.py`` (writes aoi/kandahar.geojson).
"""

from __future__ import annotations

import json
from pathlib import Path

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo.aoi import RunwayFrame, runway_polygon

RUNWAY = ((31.497499465942383, 65.83390045166016), (31.513999938964844, 65.86170196533203))
"""05/23 ends (lat, lon) as in the OurAirports row (le 05, he 23)."""
WIDTH_M = 45.0  # 148 ft in the row
REF = (31.5058, 65.8478)  # airportsdata reference point (lat, lon)
APPROX = "approximate: placed by hand beside the OurAirports runway, not surveyed"
RUNWAY_SOURCE = "OurAirports runways.csv row OAKN 05/23 (ends, 148 ft width)"
rect = RunwayFrame(*RUNWAY).rect  # s along from the 05 end, t across (south-east +)


def zone(name: str, kind: str, geom: BaseGeometry, source: str = APPROX,
         **extra: str) -> dict:
    rounded = json.loads(json.dumps(mapping(geom)), parse_float=lambda v: round(float(v), 6))
    return {"type": "Feature",
            "properties": {"name": name, "kind": kind, "source": source, **extra},
            "geometry": rounded}


ZONES = [
    zone("perimeter", "perimeter", rect(-500, 3700, -1300, 800)),
    zone("runway_05_23", "runway", runway_polygon(*RUNWAY, WIDTH_M), RUNWAY_SOURCE),
    zone("taxiway_parallel_north", "taxiway", rect(250, 2950, -215, -192),
         description="parallel taxiway, north-west side"),
    zone("taxiway_links", "taxiway", shapely.union_all([
        rect(250, 275, -192, -22.5), rect(1600, 1625, -192, -22.5),
        rect(2925, 2950, -192, -22.5),      # runway to the parallel taxiway
        rect(1480, 1510, -300, -215),       # parallel taxiway to the set-back apron
        rect(2380, 2405, 22.5, 140),        # runway to the small south-east apron
    ]), description="connectors and links"),
    zone("apron_set_back", "apron", rect(1150, 1850, -560, -300),
         description="main ramp, set back behind the parallel taxiway"),
    zone("apron_l_west", "apron", shapely.union_all([rect(450, 800, -400, -215),
                                                     rect(450, 600, -560, -400)]),
         description="L-shaped ramp off the parallel taxiway"),
    zone("apron_southeast", "apron", rect(2320, 2470, 140, 270),
         description="small ramp on the far side of the runway"),
    zone("hangar_1", "hangar", rect(1250, 1330, -650, -590)),
    zone("hangar_2", "hangar", rect(1420, 1500, -650, -590)),
    zone("parking_terminal", "parking", rect(2150, 2300, -700, -560)),
    zone("container_yard", "yard", rect(700, 900, 300, 480)),
    zone("control_open_ground", "control", rect(1000, 1800, 1100, 1400),
         description="static bare-ground reference, off-site"),
]

if __name__ == "__main__":
    out = Path(__file__).with_name("kandahar.geojson")
    fc = {"type": "FeatureCollection", "name": "kandahar",
          "properties": {"site": "Kandahar Airport, Kandahar, Afghanistan", "icao": "OAKN",
                         "reference_point": [REF[1], REF[0]]},
          "features": ZONES}
    out.write_text(json.dumps(fc, indent=1) + "\n")
    print(f"wrote {out} ({len(ZONES)} zones)")
