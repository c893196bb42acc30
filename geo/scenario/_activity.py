"""What the scenario plants on the ground, date by date, and how it is drawn.

Objects are drawn at 1 m (footprints and their shadows from the day's sun) and averaged
to 10 m, so a C-17 darkens a patch of about 5 x 5 pixels by the right amount and a car
shifts one pixel's value a little, as in real Sentinel-2 imagery.

The story follows public reporting on Bagram (see DESIGN.md): 35-45 aircraft on the
base in 2020, fewer through spring 2021, none from the US departure (2021-07-02) on,
except helicopters at the parades of 2022-08-31 and 2024-08-14 and one transport in
February 2025; 100+ cars in the main parking lot on 2022-07-24 and 2025-04-25; container
stacks removed between October 2021 and June 2022; painted aircraft silhouettes (decoys)
in the south-eastern revetments, unchanged throughout.

A second story, ``steady`` (:class:`Story`), serves as a control for change detection:
aircraft on the aprons at one steady busy level (``STEADY_SHARE`` of the fleet, give or
take ``STEADY_JITTER`` airframes from date to date) from the start until a drop date,
then none; cars steady in every parking zone, then a few; no parades or other events.
The stories share everything else, shifted with the drop: containers go over the months
after it as they go after the Bagram withdrawal.

Zones are chosen by kind (any AOI with apron and parking zones works); Bagram's names
only refine the choice (``army`` aprons hold helicopters, ``cargo`` aprons the
February 2025 transport, ``southeast``/``decoy`` revetments the decoys).

Examples
--------
>>> TYPES["C-17"].span, TYPES["C-17"].length
(51.75, 53.0)
>>> aircraft_target(date(2020, 12, 1), np.random.default_rng(0)) >= 35
True
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import shapely
from rasterio import features
from shapely import affinity
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from geo import errors
from geo.scenario._cadence import EVENT_DATES, parse_date
from geo.scenario._radiometry import SHADOW_KEEP, WITHDRAWAL, Scene, _lattice

__all__ = ["AircraftType", "TYPES", "Placed", "Layout", "plan_layout", "objects_for",
           "overlay", "aircraft_target", "CONTAINER_REMOVAL", "Story", "STORIES", "make_story"]

CONTAINER_REMOVAL = (date(2021, 10, 1), date(2022, 6, 30))
"""Container stacks are taken away one by one between these dates (Bagram story)."""

STORIES = ("bagram", "steady")
"""The stories a scenario can tell (see the module docstring)."""

STEADY_SHARE = 0.8
"""Share of the fleet on the ground on each date of the steady story, before the drop."""

STEADY_JITTER = 2
"""Date-to-date variation (airframes, uniform +-) of the steady story's level."""


@dataclass(frozen=True)
class Story:
    """Which story the scenario tells, and the date activity drops.

    ``drop`` is the date the site falls quiet: the US departure for ``bagram`` (fixed),
    any date for ``steady``. Ploughing, weeds and container removal follow it.
    """

    name: str = "bagram"
    drop: date = WITHDRAWAL

    @property
    def shift(self) -> timedelta:
        """How far this story's drop is from the Bagram withdrawal."""
        return self.drop - WITHDRAWAL


def make_story(name: str = "bagram", drop: str | date | None = None,
               start: str | date = "2020-10-01") -> Story:
    """The story of a build: ``steady``'s drop defaults to four years after ``start``.

    Examples
    --------
    >>> make_story("steady", start="2020-10-01").drop
    datetime.date(2024, 10, 1)
    >>> make_story() == Story()
    True
    """
    if name not in STORIES:
        raise errors.ScenarioError(f"Story {name!r} is unknown; use one of {', '.join(STORIES)}.")
    if name == "bagram":
        if drop is not None:
            raise errors.ScenarioError(
                "The bagram story's drop is the 2021-07-02 withdrawal; a drop date applies "
                "only to story='steady'.")
        return Story()
    return Story(name, parse_date(drop) if drop is not None else _years_after(parse_date(start), 4))


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class AircraftType:
    """Plan-view dimensions (metres) and paint of an aircraft type."""

    name: str
    length: float
    span: float
    fuselage: float
    root_chord: float
    tip_chord: float
    sweep: float           # metres the wing tip's leading edge sits behind the root's
    wing_at: float         # root leading edge, metres behind the nose
    tail_span: float
    tail_chord: float
    wing_height: float     # height of the wing above ground (shadow offset)
    fin_height: float
    paint: tuple[float, ...]
    rotor: float = 0.0     # rotor diameter (helicopters)
    rotors: int = 0

    @property
    def helicopter(self) -> bool:
        return self.rotors > 0

    @property
    def large(self) -> bool:
        """Wingspan (or rotor span) of 30 m or more."""
        return self.span >= 30.0


_GREY = (0.105, 0.115, 0.125, 0.145, 0.150, 0.130)
_LIGHT = (0.300, 0.320, 0.330, 0.350, 0.300, 0.250)
_OLIVE = (0.050, 0.068, 0.066, 0.150, 0.120, 0.090)
TYPES: dict[str, AircraftType] = {
    t.name: t for t in (
        AircraftType("C-17", 53.0, 51.75, 6.9, 12.0, 4.0, 8.0, 17.0, 20.0, 6.0, 5.5, 16.8, _GREY),
        AircraftType("C-130", 29.8, 40.4, 4.3, 4.9, 2.8, 1.0, 9.5, 16.0, 4.5, 4.5, 11.7,
                     (0.085, 0.095, 0.098, 0.130, 0.125, 0.105)),
        AircraftType("KC-135", 41.5, 39.9, 3.8, 8.0, 2.5, 9.0, 14.0, 12.5, 4.0, 2.5, 12.7, _LIGHT),
        AircraftType("F-16", 15.06, 9.96, 1.6, 5.0, 1.0, 3.5, 6.0, 5.6, 2.0, 1.5, 5.1,
                     (0.180, 0.190, 0.200, 0.220, 0.200, 0.170)),
        AircraftType("A-10", 16.26, 17.53, 1.8, 3.0, 1.8, 0.5, 6.0, 5.7, 2.0, 1.4, 4.5,
                     (0.120, 0.130, 0.135, 0.160, 0.150, 0.130)),
        AircraftType("CH-47", 30.1, 18.3, 3.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.5, 5.7, _OLIVE,
                     rotor=18.3, rotors=2),
        AircraftType("UH-60", 19.8, 16.4, 2.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.5, 5.1, _OLIVE,
                     rotor=16.4, rotors=1),
        AircraftType("Mi-17", 25.4, 21.3, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.8,
                     (0.080, 0.095, 0.085, 0.160, 0.140, 0.110), rotor=21.3, rotors=1),
    )
}
"""Aircraft types of the scenario (published dimensions: length, wingspan or rotor)."""

FLEET_2020 = {"C-17": 3, "C-130": 8, "KC-135": 2, "F-16": 12, "A-10": 6, "CH-47": 6,
              "UH-60": 10}
"""The airframes based at the site in 2020 (about 35-45 are on the ground on a date)."""

CAR_COLOURS = np.array([
    (0.42, 0.43, 0.44, 0.46, 0.40, 0.34),   # white
    (0.20, 0.21, 0.22, 0.24, 0.22, 0.19),   # silver
    (0.05, 0.05, 0.05, 0.07, 0.07, 0.06),   # black
    (0.06, 0.05, 0.22, 0.25, 0.20, 0.16),   # red
    (0.12, 0.08, 0.05, 0.10, 0.10, 0.08),   # blue
    (0.20, 0.19, 0.16, 0.22, 0.25, 0.22),   # beige / military tan
], np.float32)
CAR_P = (0.42, 0.2, 0.12, 0.06, 0.06, 0.14)
CONTAINER_COLOURS = np.array([
    (0.07, 0.07, 0.15, 0.22, 0.20, 0.16),   # rust red
    (0.14, 0.09, 0.06, 0.13, 0.11, 0.09),   # blue
    (0.06, 0.10, 0.07, 0.18, 0.15, 0.11),   # green
    (0.36, 0.37, 0.37, 0.40, 0.36, 0.30),   # white
    (0.16, 0.16, 0.16, 0.19, 0.18, 0.16),   # grey
    (0.17, 0.16, 0.13, 0.19, 0.21, 0.18),   # tan
], np.float32)
DECOY_PAINT = (0.060, 0.065, 0.068, 0.078, 0.090, 0.085)


@dataclass(frozen=True)
class Placed:
    """One object on the ground on one date (UTM centre, heading clockwise from north)."""

    category: str        # aircraft | helicopter | vehicle | container | decoy
    type: str
    zone: str
    x: float
    y: float
    heading: float
    length: float
    width: float
    height: float        # shadow-casting height (m); 0 for flat paint
    paint: tuple[float, ...]
    fin_height: float = 0.0

    def footprint(self) -> BaseGeometry:
        """The plan-view outline in UTM metres."""
        if self.type in TYPES:
            shape = _template(self.type)
        else:
            shape = Polygon([(-self.width / 2, -self.length / 2), (self.width / 2, -self.length / 2),
                             (self.width / 2, self.length / 2), (-self.width / 2, self.length / 2)])
        rotated = affinity.rotate(shape, -self.heading, origin=(0, 0))
        return affinity.translate(rotated, self.x, self.y)


@dataclass
class Airframe:
    type: str
    zone: str
    x: float
    y: float
    heading: float


@dataclass
class Layout:
    """Where things can be, fixed for a whole scenario."""

    fleet: list[Airframe]
    helo_zone: str | None
    cargo_zone: str | None
    car_zone: str | None
    car_slots: np.ndarray                     # (n, 3) x, y, heading
    other_car_slots: dict[str, np.ndarray]
    containers: dict[str, np.ndarray]         # zone -> (n, 7) x y heading len colour removal levels
    decoys: list[Placed]
    helo_stands: np.ndarray                   # (n, 3) for parade helicopters
    seed: int = 0
    zone_kinds: dict[str, str] = field(default_factory=dict)
    story: Story = field(default_factory=Story)


def _template(name: str) -> BaseGeometry:
    return _TEMPLATES[name]


def _fixed_wing(t: AircraftType) -> BaseGeometry:
    """Outline centred on the fuselage middle, nose towards +y."""
    half = t.length / 2
    fw = t.fuselage / 2
    nose = half - min(3.0, t.length * 0.08)
    body = Polygon([(-fw * 0.5, half), (fw * 0.5, half), (fw, nose), (fw, -half + t.tail_chord),
                    (fw * 0.4, -half), (-fw * 0.4, -half), (-fw, -half + t.tail_chord),
                    (-fw, nose)])
    le = half - t.wing_at
    s = t.span / 2
    wing = Polygon([(-s, le - t.sweep), (-fw, le), (fw, le), (s, le - t.sweep),
                    (s, le - t.sweep - t.tip_chord), (fw, le - t.root_chord),
                    (-fw, le - t.root_chord), (-s, le - t.sweep - t.tip_chord)])
    ts = t.tail_span / 2
    tle = -half + t.tail_chord + 0.5
    tail = Polygon([(-ts, tle - t.tail_chord * 0.6), (0, tle), (ts, tle - t.tail_chord * 0.6),
                    (ts, tle - t.tail_chord), (-ts, tle - t.tail_chord)])
    return shapely.union_all([body, wing, tail])


def _helicopter(t: AircraftType) -> BaseGeometry:
    half = t.length / 2
    fw = t.fuselage / 2
    cabin_back = half - (t.length * 0.85 if t.rotors == 2 else t.length * 0.55)
    body = Polygon([(-fw * 0.7, half), (fw * 0.7, half), (fw, half - 2), (fw, cabin_back),
                    (-fw, cabin_back), (-fw, half - 2)])
    parts = [body]
    if t.rotors == 1:
        parts.append(Polygon([(-0.5, cabin_back), (0.5, cabin_back), (0.4, -half),
                              (-0.4, -half)]))
        hubs = [(0.0, half - t.length * 0.3)]
    else:
        hubs = [(0.0, half - 2.5), (0.0, cabin_back + 2.5)]
    blades = 4 if t.rotors == 1 else 3
    r = t.rotor / 2
    for hx, hy in hubs:
        for k in range(blades):
            a = math.radians(45 + k * 360 / blades)
            dx, dy = math.sin(a), math.cos(a)
            px, py = -dy * 0.3, dx * 0.3
            parts.append(Polygon([(hx + px, hy + py), (hx - px, hy - py),
                                  (hx + r * dx - px, hy + r * dy - py),
                                  (hx + r * dx + px, hy + r * dy + py)]))
    return shapely.union_all(parts)


_TEMPLATES: dict[str, BaseGeometry] = {
    name: (_helicopter(t) if t.helicopter else _fixed_wing(t)) for name, t in TYPES.items()
}


# --- layout -------------------------------------------------------------------------------


def _zone_text(scene: Scene, i: int, descriptions: dict[str, str]) -> str:
    name = scene.zone_names[i]
    return f"{name} {descriptions.get(name, '')}".lower()


def plan_layout(scene: Scene, descriptions: dict[str, str] | None = None,
                seed: int = 0, story: Story | None = None) -> Layout:
    """Stands, parking slots, container yards and decoys for a scene's zones.

    Examples
    --------
    >>> import geo
    >>> from geo.scenario._radiometry import build_scene
    >>> scene = build_scene(geo.aoi.load("bagram"))
    >>> lay = plan_layout(scene)
    >>> len(lay.fleet) >= 45, lay.car_zone
    (True, 'parking_main')
    """
    desc = descriptions or {}
    rng = np.random.default_rng([seed, 21])
    kinds = dict(zip(scene.zone_names, scene.zone_kinds, strict=True))
    geoms = dict(zip(scene.zone_names, scene.zone_geoms, strict=True))
    text = {n: _zone_text(scene, i, desc) for i, n in enumerate(scene.zone_names)}
    aprons = sorted((n for n, k in kinds.items() if k == "apron"), key=lambda n: -geoms[n].area)
    revets = [n for n, k in kinds.items() if k == "revetment"]
    decoy_zones = [n for n in revets if "southeast" in text[n] or "decoy" in text[n]]
    fighter_zones = [n for n in revets if n not in decoy_zones]
    helo = next((n for n in aprons if any(w in text[n] for w in ("army", "heli", "aviation"))),
                aprons[-1] if len(aprons) > 1 else (aprons[0] if aprons else None))
    cargo = next((n for n in aprons if "cargo" in text[n]), aprons[0] if aprons else None)
    fixed = [n for n in aprons if n != helo] or aprons
    h = scene.heading
    stands: dict[str, list[tuple[float, float, float]]] = {}

    def take(zones: list[str], step: float, key: str) -> tuple[str, float, float, float] | None:
        for _ in range(len(zones)):
            zone = zones[0]
            zones.append(zones.pop(0))
            pool = stands.setdefault(f"{key}:{zone}", _stands(geoms[zone], step, h, rng))
            if pool:
                x, y, hd = pool.pop(0)
                return zone, x, y, hd
        return None

    fleet: list[Airframe] = []
    order = sorted(FLEET_2020.items(), key=lambda kv: -TYPES[kv[0]].span)
    for name, count in order:
        t = TYPES[name]
        if t.helicopter:
            zones, step = ([helo] if helo else list(fixed)), 32.0
        elif t.span < 20:
            zones, step = (list(fighter_zones) or fixed[-1:] or list(aprons)), 38.0
        else:
            zones, step = list(fixed), t.span + 14.0
        for _ in range(count):
            got = take(zones, step, f"{step:.0f}") or take(list(aprons), 30.0, "spill")
            if got:
                fleet.append(Airframe(name, *got))
    parking = sorted((n for n, k in kinds.items() if k == "parking"),
                     key=lambda n: ("main" not in n, -geoms[n].area))
    car_zone = parking[0] if parking else None
    slots = {n: _car_slots(geoms[n], h) for n in parking}
    containers = {n: _containers(geoms[n], h, rng) for n, k in kinds.items() if k == "yard"}
    decoys = [p for z in decoy_zones for p in _decoys(z, geoms[z], h, rng)]
    helo_stands = np.array(_stands(geoms[helo], 30.0, h, rng) if helo else [], float)
    return Layout(
        fleet=fleet, helo_zone=helo, cargo_zone=cargo, car_zone=car_zone,
        car_slots=slots.get(car_zone, np.zeros((0, 3))) if car_zone else np.zeros((0, 3)),
        other_car_slots={n: s for n, s in slots.items() if n != car_zone},
        containers=containers, decoys=decoys, helo_stands=helo_stands.reshape(-1, 3),
        seed=seed, zone_kinds=kinds, story=story or Story(),
    )


def _stands(geom: BaseGeometry, step: float, heading: float,
            rng: np.random.Generator) -> list[tuple[float, float, float]]:
    x, y = _lattice(geom, step, step, heading)
    order = rng.permutation(x.size)
    nose = heading + 90 + 180 * (rng.random(x.size) < 0.5)
    return [(float(x[i]), float(y[i]), float(nose[i] % 360)) for i in order]


def _car_slots(geom: BaseGeometry, heading: float) -> np.ndarray:
    x, y = _lattice(geom, 2.7, 6.2, heading + 90)
    # every third row is a driving aisle
    a = math.radians(heading)
    c = geom.centroid
    across = (x - c.x) * math.sin(a) + (y - c.y) * math.cos(a)
    keep = np.round(across / 6.2).astype(int) % 3 != 2
    x, y = x[keep], y[keep]
    return np.stack([x, y, np.full(x.size, heading)], -1)


def _containers(geom: BaseGeometry, heading: float, rng: np.random.Generator) -> np.ndarray:
    x, y = _lattice(geom, 13.2, 2.65, heading)
    a = math.radians(heading + 90)
    c = geom.centroid
    across = (x - c.x) * math.sin(a) + (y - c.y) * math.cos(a)
    block = np.round(across / 2.65).astype(int) % 8
    keep = (block != 7) & (rng.random(x.size) < 0.62)
    x, y = x[keep], y[keep]
    n = x.size
    forty = rng.random(n) < 0.55
    length = np.where(forty, 12.19, 6.06)
    colour = rng.choice(len(CONTAINER_COLOURS), n, p=(0.3, 0.2, 0.15, 0.12, 0.13, 0.1))
    lo, hi = (d.toordinal() for d in CONTAINER_REMOVAL)
    removal = np.where(rng.random(n) < 0.93, rng.integers(lo, hi + 1, n), 10**7)
    levels = rng.choice([1, 2, 3], n, p=(0.5, 0.35, 0.15))
    return np.stack([x, y, np.full(n, heading), length, colour, removal, levels], -1)


def _decoys(zone: str, geom: BaseGeometry, heading: float,
            rng: np.random.Generator) -> list[Placed]:
    x, y = _lattice(geom, 38.0, 38.0, heading)
    pick = rng.permutation(x.size)[: min(10, x.size)]
    out = []
    for k, i in enumerate(pick):
        name = "F-16" if k % 3 else "A-10"
        t = TYPES[name]
        out.append(Placed("decoy", f"decoy_{name}", zone, float(x[i]), float(y[i]),
                          float((heading + 90 + rng.normal(0, 2)) % 360), t.length, t.span,
                          0.0, DECOY_PAINT))
    return out


# --- the story ----------------------------------------------------------------------------


def aircraft_target(day: date, rng: np.random.Generator) -> int:
    """How many of the 2020 fleet are on the ground on ``day``.

    Examples
    --------
    >>> aircraft_target(date(2021, 7, 2), np.random.default_rng(0))
    0
    """
    if day >= WITHDRAWAL:
        return 0
    base = 36 + int(rng.integers(0, 9))
    wind_down = date(2021, 4, 1)
    if day < wind_down:
        return base
    share = (WITHDRAWAL - day).days / (WITHDRAWAL - wind_down).days
    return max(0, int(round(base * share + rng.normal(0, 1.5))))


def _steady_target(layout: Layout, day: date, rng: np.random.Generator) -> int:
    """The steady story: a fixed share of the fleet, give or take a few, until the drop."""
    if day >= layout.story.drop:
        return 0
    level = round(STEADY_SHARE * len(layout.fleet))
    return max(0, level + int(rng.integers(-STEADY_JITTER, STEADY_JITTER + 1)))


def _aircraft(layout: Layout, day: date, rng: np.random.Generator) -> list[Placed]:
    target = (aircraft_target(day, rng) if layout.story.name == "bagram"
              else _steady_target(layout, day, rng))
    n = min(target, len(layout.fleet))
    chosen = rng.permutation(len(layout.fleet))[:n]
    out = []
    for i in sorted(chosen):
        a = layout.fleet[i]
        out.append(_place_aircraft(a.type, a.zone, a.x + rng.normal(0, 1.2),
                                   a.y + rng.normal(0, 1.2), a.heading + rng.normal(0, 3)))
    return out


def _place_aircraft(name: str, zone: str, x: float, y: float, heading: float) -> Placed:
    t = TYPES[name]
    return Placed("helicopter" if t.helicopter else "aircraft", name, zone, float(x), float(y),
                  float(heading % 360), t.length, t.span, t.wing_height, t.paint, t.fin_height)


def _events(layout: Layout, day: date, rng: np.random.Generator) -> list[Placed]:
    out: list[Placed] = []
    if layout.story.name != "bagram":
        return out
    parades = {EVENT_DATES["parade_2022"]: 6, EVENT_DATES["parade_2024"]: 5}
    if day in parades and layout.helo_zone and len(layout.helo_stands):
        for k in range(min(parades[day], len(layout.helo_stands))):
            x, y, hd = layout.helo_stands[k]
            name = "Mi-17" if k % 2 else "UH-60"
            out.append(_place_aircraft(name, layout.helo_zone, x, y, hd))
    if day == EVENT_DATES["aircraft_2025"] and layout.cargo_zone:
        stand = next((a for a in layout.fleet if a.zone == layout.cargo_zone), None)
        if stand:
            out.append(_place_aircraft("C-130", stand.zone, stand.x + 4, stand.y - 3,
                                       stand.heading + 7))
    return out


def _cars(layout: Layout, day: date, rng: np.random.Generator) -> list[Placed]:
    out: list[Placed] = []
    busy = layout.story.name == "bagram" and day in (EVENT_DATES["cars_2022"],
                                                     EVENT_DATES["cars_2025"])
    for zone, slots in [(layout.car_zone, layout.car_slots), *layout.other_car_slots.items()]:
        if zone is None or not len(slots):
            continue
        if busy and zone == layout.car_zone:
            n = int(rng.integers(115, 150))
        elif day < layout.story.drop:
            n = int(rng.integers(12, 30))
        else:
            n = int(rng.poisson(2.5))
        n = min(n, len(slots))
        # people park near the entrance first: fill slots nearest one corner
        start = int(rng.integers(0, max(1, len(slots) - n)))
        idx = (np.arange(n) + start) if busy else rng.choice(len(slots), n, replace=False)
        colours = rng.choice(len(CAR_COLOURS), n, p=CAR_P)
        for i, c in zip(idx, colours, strict=True):
            x, y, hd = slots[i]
            out.append(Placed("vehicle", "car", zone, float(x + rng.normal(0, 0.2)),
                              float(y + rng.normal(0, 0.3)), float(hd + rng.normal(0, 2)),
                              4.6, 1.85, 1.5, tuple(float(v) for v in CAR_COLOURS[c])))
    return out


def _container_objects(layout: Layout, day: date) -> list[Placed]:
    out = []
    o = day.toordinal() - layout.story.shift.days  # removal dates follow the drop
    for zone, arr in layout.containers.items():
        for x, y, hd, ln, colour, _removal, levels in arr[arr[:, 5] > o]:
            out.append(Placed("container", "container", zone, float(x), float(y), float(hd),
                              float(ln), 2.44, 2.59 * float(levels),
                              tuple(float(v) for v in CONTAINER_COLOURS[int(colour)])))
    return out


def objects_for(layout: Layout, day: date) -> list[Placed]:
    """Everything on the ground on ``day`` (deterministic for a layout and a date).

    Examples
    --------
    >>> import geo
    >>> from geo.scenario._radiometry import build_scene
    >>> lay = plan_layout(build_scene(geo.aoi.load("bagram")))
    >>> objs = objects_for(lay, date(2022, 7, 24))
    >>> sum(o.category == "vehicle" for o in objs) >= 100
    True
    """
    rng = np.random.default_rng([layout.seed, day.toordinal(), 31])
    return (_aircraft(layout, day, rng) + _events(layout, day, rng) + _cars(layout, day, rng)
            + _container_objects(layout, day) + list(layout.decoys))


# --- drawing ------------------------------------------------------------------------------


def _shadow_vector(elev: float, az: float) -> tuple[float, float]:
    """Ground offset (east, north metres) of the shadow of a point 1 m high."""
    k = 1.0 / math.tan(math.radians(max(elev, 5.0)))
    a = math.radians(az)
    return (-k * math.sin(a), -k * math.cos(a))


def _shadow(obj: Placed, foot: BaseGeometry, sx: float, sy: float) -> BaseGeometry | None:
    if obj.height <= 0:
        return None
    moved = affinity.translate(foot, sx * obj.height, sy * obj.height)
    if obj.category in ("vehicle", "container"):
        return shapely.union(foot, moved).convex_hull
    parts = [moved]
    if obj.fin_height > obj.height:  # the tail fin casts a long thin shadow
        a = math.radians(obj.heading)
        tx, ty = obj.x - math.sin(a) * obj.length * 0.42, obj.y - math.cos(a) * obj.length * 0.42
        bx, by = obj.x - math.sin(a) * obj.length * 0.30, obj.y - math.cos(a) * obj.length * 0.30
        f = obj.fin_height
        parts.append(Polygon([(tx, ty), (bx, by), (bx + sx * f * 0.6, by + sy * f * 0.6),
                              (tx + sx * f, ty + sy * f)]))
    return shapely.union_all(parts)


def overlay(refl: np.ndarray, scene: Scene, objects: list[Placed], elev: float,
            az: float) -> None:
    """Draw objects (and their shadows) into ``refl`` (band, y, x) in place, zone by zone."""
    by_zone: dict[str, list[Placed]] = {}
    for o in objects:
        by_zone.setdefault(o.zone, []).append(o)
    sx, sy = _shadow_vector(elev, az)
    g = scene.grid
    h, w = g.shape()
    for zone, objs in by_zone.items():
        geom = scene.zone_geoms[scene.zone_index(zone)]
        xmin, ymin, xmax, ymax = geom.buffer(60).bounds
        c0 = max(0, int((xmin - g.x0) // 10))
        c1 = min(w, int(math.ceil((xmax - g.x0) / 10)))
        r0 = max(0, int((g.y1 - ymax) // 10))
        r1 = min(h, int(math.ceil((g.y1 - ymin) / 10)))
        if c1 <= c0 or r1 <= r0:
            continue
        _draw_window(refl, objs, (r0, r1, c0, c1), g.x0 + c0 * 10, g.y1 - r0 * 10, sx, sy)


def _box_corners(objs: list[Placed]) -> np.ndarray:
    """Corners (n, 5, 2) of box-shaped objects (closed rings)."""
    x = np.array([o.x for o in objs])
    y = np.array([o.y for o in objs])
    ln = np.array([o.length for o in objs])
    wd = np.array([o.width for o in objs])
    hd = np.radians([o.heading for o in objs])
    ux, uy, vx, vy = np.sin(hd), np.cos(hd), np.cos(hd), -np.sin(hd)
    out = np.empty((len(objs), 5, 2))
    for k, (a, b) in enumerate(((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))):
        out[:, k, 0] = x + a * ln / 2 * ux + b * wd / 2 * vx
        out[:, k, 1] = y + a * ln / 2 * uy + b * wd / 2 * vy
    return out


def _ring_shapes(rings: list, values: list[int]) -> list[tuple[dict, int]]:
    return [({"type": "Polygon", "coordinates": [r]}, v)
            for r, v in zip(rings, values, strict=True)]


def _hull_rings(corners: np.ndarray, offset: np.ndarray) -> list:
    """Convex hulls of boxes swept along per-box offsets (their shadows), as lists."""
    pts = np.concatenate([corners[:, :4], corners[:, :4] + offset[:, None, :]], axis=1)
    hulls = shapely.convex_hull(shapely.multipoints(pts))
    coords, index = shapely.get_coordinates(shapely.get_exterior_ring(hulls),
                                            return_index=True)
    bounds = np.flatnonzero(np.diff(index)) + 1
    flat = coords.tolist()
    edges = [0, *bounds.tolist(), len(flat)]
    return [flat[a:b] for a, b in itertools.pairwise(edges)]


def _draw_window(refl: np.ndarray, objs: list[Placed], win: tuple[int, int, int, int],
                 x0: float, y1: float, sx: float, sy: float) -> None:
    from affine import Affine

    r0, r1, c0, c1 = win
    shape = ((r1 - r0) * 10, (c1 - c0) * 10)
    t = Affine(1.0, 0.0, x0, 0.0, -1.0, y1)
    boxes = [i for i, o in enumerate(objs) if o.type not in TYPES and not o.type.startswith("decoy")]
    shaped = [i for i, o in enumerate(objs) if i not in set(boxes)]
    feet_shapes: list[tuple[dict | BaseGeometry, int]] = []
    shadow_shapes: list[tuple[dict | BaseGeometry, int]] = []
    if boxes:
        bobjs = [objs[i] for i in boxes]
        corners = _box_corners(bobjs)
        feet_shapes += _ring_shapes(corners.tolist(), [i + 1 for i in boxes])
        heights = np.array([o.height for o in bobjs])
        offset = np.stack([sx * heights, sy * heights], -1)
        shadow_shapes += [(r, 1) for r, _ in _ring_shapes(_hull_rings(corners, offset),
                                                          [1] * len(bobjs))]
    for i in shaped:
        foot = objs[i].footprint()
        feet_shapes.append((foot, i + 1))
        sh = _shadow(objs[i], foot, sx, sy)
        if sh is not None:
            shadow_shapes.append((sh, 1))
    ids = features.rasterize(feet_shapes, out_shape=shape, transform=t, fill=0, dtype="uint16")
    shade = (features.rasterize(shadow_shapes, out_shape=shape, transform=t, fill=0,
                                dtype="uint8").astype(bool) & (ids == 0)
             if shadow_shapes else np.zeros(shape, bool))
    paint = np.zeros((len(objs) + 1, refl.shape[0]), np.float32)
    paint[1:] = np.array([o.paint for o in objs], np.float32)
    cells = (r1 - r0) * (c1 - c0)
    cover, obj_sum = _cell_sums(ids.ravel(), shape[1], cells, paint)
    shade_c, _ = _cell_sums(shade.ravel().astype(np.uint16), shape[1], cells, None)
    grid = (refl.shape[0], r1 - r0, c1 - c0)
    cover = cover.reshape(grid[1:])
    shade_c = shade_c.reshape(grid[1:])
    sub = refl[:, r0:r1, c0:c1]
    keep = 1 - cover - shade_c * (1 - SHADOW_KEEP[:, None, None])
    refl[:, r0:r1, c0:c1] = sub * keep + obj_sum.reshape(grid)


def _cell_sums(flat: np.ndarray, width: int, cells: int,
               paint: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per 10 m cell: the share of 1 m pixels that are set, and the mean paint over it."""
    nz = np.flatnonzero(flat)
    row, col = np.divmod(nz, width)
    cell = (row // 10) * (width // 10) + col // 10
    cover = np.bincount(cell, minlength=cells).astype(np.float32) / 100.0
    if paint is None:
        return cover, np.zeros(0, np.float32)
    vals = paint[flat[nz]]
    sums = np.stack([np.bincount(cell, weights=vals[:, b], minlength=cells)
                     for b in range(paint.shape[1])]).astype(np.float32) / 100.0
    return cover, sums
