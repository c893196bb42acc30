"""Regenerate ``aoi/bagram.geojson`` from the public facts in DESIGN.md.

The runways are built from their OurAirports end coordinates (which are
self-consistent; the rows' labels and lengths are swapped) and published widths.
Everything else is placed by hand in a frame aligned with the main (east) runway:
``s`` metres along it from its south-west threshold, ``t`` metres across it,
positive towards the east-south-east. No public apron polygons exist, so those zones
say ``approximate`` in their ``source``.

Run: ``python aoi/make_bagram.py`` (writes aoi/bagram.geojson).
"""

from __future__ import annotations

import json
from pathlib import Path

from shapely.geometry import MultiPolygon, Polygon, mapping

from geo.aoi import RunwayFrame, runway_polygon

EAST = ((34.93170, 69.25610), (34.95990, 69.27570))  # 03R/21L, 3,604 m x 46 m
WEST = ((34.93470, 69.25700), (34.95780, 69.27310))  # 03L/21R, 2,955 m x 26 m
APPROX = "approximate: placed by hand from public descriptions (DESIGN.md), not surveyed"
rect = RunwayFrame(*EAST).rect  # s along the east runway from its SW end, t across (ESE +)


def zone(name: str, kind: str, geom: Polygon | MultiPolygon, source: str = APPROX,
         **extra: str) -> dict:
    coords = json.loads(json.dumps(mapping(geom)))
    rounded = json.loads(json.dumps(coords), parse_float=lambda v: round(float(v), 6))
    return {"type": "Feature", "properties": {"name": name, "kind": kind, "source": source,
                                              **extra}, "geometry": rounded}


ZONES = [
    zone("perimeter", "perimeter", rect(-700, 4300, -1100, 3000),
         "approximate: rectangle enclosing the runways and cantonment, about 20.5 km^2 "
         "(quoted base area 20-25 km^2)"),
    zone("runway_east_03R_21L", "runway", runway_polygon(*EAST, 46.0),
         "OurAirports end coordinates 34.93170,69.25610 -> 34.95990,69.27570; width 46 m"),
    zone("runway_west_03L_21R", "runway", runway_polygon(*WEST, 26.0),
         "OurAirports end coordinates 34.93470,69.25700 -> 34.95780,69.27310; width 26 m"),
    zone("taxiway_parallel_east", "taxiway", rect(150, 3450, 188, 212)),
    zone("taxiway_parallel_west", "taxiway", rect(400, 3200, -232, -208)),
    zone("taxiway_connectors", "taxiway", MultiPolygon(
        [rect(s, s + 23, 23, 188) for s in (300, 1200, 2000, 2800, 3427)])),
    zone("apron_cargo_south", "apron", rect(250, 800, 230, 480),
         description="cargo ramp at the south end"),
    zone("apron_army_aviation", "apron", rect(850, 1250, 230, 430),
         description="army aviation (helicopter) ramp, south"),
    zone("apron_central", "apron", rect(1400, 2100, 230, 430),
         description="main ramp east of the runway"),
    zone("apron_north", "apron", rect(2300, 2900, 230, 430),
         description="northern ramp"),
    zone("dispersal_west", "apron", rect(1100, 1900, -460, -260),
         description="dispersal area west of the runways"),
    zone("revetments_southeast", "revetment", rect(100, 700, 600, 780),
         description="south-eastern revetment rows; painted aircraft silhouettes "
                     "(decoys) are reported here"),
    zone("revetments_north", "revetment", rect(3000, 3400, 230, 420),
         description="northern revetment rows"),
    zone("hangar_1", "hangar", rect(1450, 1540, 470, 540)),
    zone("hangar_2", "hangar", rect(1600, 1690, 470, 540)),
    zone("hangar_3", "hangar", rect(1750, 1840, 470, 540)),
    zone("parking_main", "parking", rect(2150, 2300, 650, 850),
         description="vehicle parking where 100+ cars were reported (Jul 2022, Apr 2025)"),
    zone("container_yard_east", "yard", rect(1300, 1600, 900, 1100)),
    zone("container_yard_north", "yard", rect(2600, 2800, 700, 900)),
    zone("cantonment", "built", rect(1000, 3000, 1250, 2600),
         description="barracks, offices and roads"),
    zone("control_farmland_west", "control", rect(1200, 2200, -1700, -1350),
         "approximate: irrigated fields west of the base, off-site",
         description="seasonal farmland reference"),
    zone("control_open_ground_east", "control", rect(500, 1500, 3100, 3400),
         "approximate: open gravel ground east of the base, off-site",
         description="static bare-ground reference"),
]

if __name__ == "__main__":
    out = Path(__file__).with_name("bagram.geojson")
    fc = {"type": "FeatureCollection", "name": "bagram",
          "properties": {"site": "Bagram Air Base, Parwan, Afghanistan", "icao": "OAIX",
                         "reference_point": [69.26500, 34.94611]},
          "features": ZONES}
    out.write_text(json.dumps(fc, indent=1) + "\n")
    print(f"wrote {out} ({len(ZONES)} zones)")
