"""The scenario in radar: Sentinel-1 passes and their gamma nought, from the same truth.

Sentinel-1A and 1B fly the same orbit half a cycle apart, each back over a place every 12
days, so one relative orbit saw a site every 6 days until Sentinel-1B failed on
2021-12-23, then every 12 days (1A alone) until Sentinel-1C took 1B's slot
(:data:`S1C_START`, about April 2025). The site is seen from one ascending (evening)
and one descending (morning) relative orbit with different viewing geometry
(:data:`ORBITS`; the orbit numbers, times and angles are illustrative, not looked up).

Each pass is rendered as Planetary Computer's ``sentinel-1-rtc`` stores it: linear
gamma nought (power) at 10 m on the AOI's UTM grid, VV and VH. The scene's materials
(:mod:`geo.scenario._radiometry`) give the level: smooth concrete and asphalt dark
(about -19 dB VV), bare soil and gravel about -13 dB, fields -12 to -8 dB with the
season, buildings and hangars bright by double bounce (depending on how their walls face
the radar); VH is 6-10 dB below VV. Natural surfaces fall off with the incidence angle;
soils are 2-4 dB brighter after rain; dry snow is nearly transparent, wet snow dark.
Aircraft, helicopters, vehicles and containers (:func:`geo.scenario._activity.objects_for`,
the same objects the optical scenario draws) are bright scatterers whose brightness
depends on their heading against the look direction; painted decoys are flat and
invisible to radar. Multi-looked speckle (gamma-distributed intensity, ENL 4.4, the
real items' ``sar:looks_equivalent_number``) is drawn independently per date and
polarisation, and about one date in ten is shifted by about two pixels in a random
direction, as Planetary Computer users report.

Examples
--------
>>> passes = schedule_s1("2021-12-01", "2022-01-31")
>>> sorted({p.platform for p in passes})
['sentinel-1a', 'sentinel-1b']
>>> max(p.day for p in passes if p.platform == "sentinel-1b") < S1B_FAILURE
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from geo.scenario._cadence import EVENT_DATES, parse_date
from geo.scenario._noise import fractal_noise, smoothstep, subpixel_shift
from geo.scenario._radiometry import MATERIALS, WITHDRAWAL, Scene, _snow_cover, snow_history

__all__ = ["Orbit", "ORBITS", "Pass", "schedule_s1", "RadarScene", "radar_scene",
           "render_pass", "rain_history", "footprint_polygon", "absolute_orbit", "S1B_FAILURE", "S1C_START", "ENL", "NODATA",
           "SHIFT_SHARE", "MATERIAL_DB"]

S1B_FAILURE = date(2021, 12, 23)
"""Sentinel-1B's power failure: no 1B acquisition on or after this date."""
S1C_START = date(2025, 4, 1)
"""Sentinel-1C's first acquisitions in 1B's old slot (illustrative; operational 2025)."""
ENL = 4.4
"""Equivalent number of looks of the GRD/RTC products (``sar:looks_equivalent_number``)."""
NODATA = -32768.0
"""Value outside the footprint (``raster:bands`` nodata of the real items)."""
SHIFT_SHARE = 0.1
"""Share of passes whose image is shifted by about :data:`SHIFT_PX` pixels."""
SHIFT_PX = 2.0
CYCLE = 12
"""Days of one satellite's repeat cycle."""


ORBIT_S = 12 * 86400 / 175
"""Seconds of one orbit: 175 orbits in the 12-day repeat cycle."""

# platform: (an ascending-node crossing starting relative orbit 80, its absolute orbit).
# Sentinel-1A's is the real fixture item's (58252, frame centre 04:42:40 on 2025-03-11,
# 41.1 minutes after the node); 1B and 1C fly the same track 6 days later (their
# absolute numbers there are illustrative).
_NODE_A = datetime(2025, 3, 11, 4, 1, 34, tzinfo=UTC)
_PLATFORMS = {
    "sentinel-1a": (_NODE_A, 58252),
    "sentinel-1b": (_NODE_A + timedelta(days=6), 47356),
    "sentinel-1c": (_NODE_A + timedelta(days=6), 1460),
}


@dataclass(frozen=True)
class Orbit:
    """A relative orbit that sees the site, and its viewing geometry there.

    Attributes
    ----------
    relative
        Relative orbit number (1-175).
    state
        ``"ascending"`` or ``"descending"``.
    phase
        Minutes from the ascending-node crossing to the pass over the site (about 10 for
        an ascending pass at 35 N, 40 for a descending one); with the relative number
        it fixes the time of day and the absolute orbit of every pass.
    incidence
        Local incidence angle at the site (degrees).
    look
        Azimuth the radar looks towards (degrees clockwise from north; right-looking).
    clip
        Whether the swath edge cuts a corner of the scenario window (nodata there).
    """

    relative: int
    state: str
    phase: float
    incidence: float
    look: float
    clip: bool = False

    @property
    def first(self) -> datetime:
        """A Sentinel-1A pass over the site on this orbit (others follow every 12 days)."""
        n = (self.relative - 80) % 175
        return _NODE_A + timedelta(seconds=n * ORBIT_S, minutes=self.phase)


ORBITS = (
    Orbit(5, "descending", 39.7, 35.2, 282.0),
    Orbit(85, "ascending", 9.7, 41.6, 78.0, clip=True),
)
"""The two relative orbits of the scenario: a morning descending pass looking west and
an evening ascending one looking east. Derived from the real item's orbit with a
simple circular-orbit model for ~69.3E 34.9N, so illustrative, not looked up."""


@dataclass(frozen=True)
class Pass:
    """One Sentinel-1 acquisition over the site (one ``sentinel-1-rtc`` item).

    Attributes
    ----------
    day
        Sensing date (UTC).
    start, end
        Product start and end times (UTC).
    platform
        ``sentinel-1a`` / ``sentinel-1b`` / ``sentinel-1c``.
    orbit
        The relative orbit and its geometry.
    absolute_orbit
        Absolute orbit number (consistent with the relative one).
    datatake
        Datatake id (an integer; written in hex in the item id).
    shift
        Geolocation error (dx east, dy south) in pixels; (0, 0) on most dates.
    wet_db
        Brightening of soils by rain (dB; 0 when dry).
    snow
        ``""`` (no snow), ``"dry"`` or ``"wet"``.
    """

    day: date
    start: datetime
    end: datetime
    platform: str
    orbit: Orbit
    absolute_orbit: int
    datatake: int
    shift: tuple[float, float] = (0.0, 0.0)
    wet_db: float = 0.0
    snow: str = ""

    @property
    def short_platform(self) -> str:
        """``S1A``, ``S1B`` or ``S1C``."""
        return "S1" + self.platform[-1].upper()

    @property
    def time(self) -> datetime:
        """The item's ``datetime``: the middle of the product."""
        return self.start + (self.end - self.start) / 2

    @property
    def item_id(self) -> str:
        """Planetary Computer's id, e.g. ``S1A_IW_GRDH_1SDV_..._058252_073302_rtc``."""
        return (f"{self.short_platform}_IW_GRDH_1SDV_{self.start:%Y%m%dT%H%M%S}_"
                f"{self.end:%Y%m%dT%H%M%S}_{self.absolute_orbit:06d}_{self.datatake:06X}_rtc")

    @property
    def shift_px(self) -> float:
        """Size of the geolocation error in pixels."""
        return round(math.hypot(*self.shift), 2)


# --- revisit history ---------------------------------------------------------------------


def _platform_on(day: date, orbit: Orbit) -> str | None:
    """The satellite passing on ``day`` over ``orbit``, or None (no pass that day)."""
    phase = (day - orbit.first.date()).days % CYCLE
    if phase == 0:
        return "sentinel-1a"
    if phase == CYCLE // 2:
        if day < S1B_FAILURE:
            return "sentinel-1b"
        if day >= S1C_START:
            return "sentinel-1c"
    return None


def absolute_orbit(platform: str, when: datetime, orbit: Orbit) -> int:
    """The absolute orbit of a platform passing over the site on ``orbit`` at ``when``.

    Examples
    --------
    >>> ref = Orbit(80, "descending", 41.1, 35.0, 282.0)
    >>> absolute_orbit("sentinel-1a", datetime(2025, 3, 11, 4, 42, 40, tzinfo=UTC), ref)
    58252
    """
    node, number = _PLATFORMS[platform]
    since = (when - timedelta(minutes=orbit.phase) - node).total_seconds()
    return number + int(round(since / ORBIT_S))


def rain_history(seed: int, start: date = date(2015, 7, 1),
                 end: date = date(2030, 12, 31)) -> set[date]:
    """Days with rain at the site (a dry summer, wet late winter and spring).

    Examples
    --------
    >>> days = rain_history(0)
    >>> sum(d.month == 3 for d in days) > sum(d.month == 7 for d in days)
    True
    """
    p = {1: 0.10, 2: 0.14, 3: 0.18, 4: 0.14, 5: 0.06, 6: 0.01, 7: 0.01, 8: 0.01, 9: 0.01,
         10: 0.03, 11: 0.06, 12: 0.08}
    rng = np.random.default_rng([seed, 23])
    days = (end - start).days + 1
    u = rng.random(days)
    return {start + timedelta(days=n) for n in range(days)
            if u[n] < p[(start + timedelta(days=n)).month]}


def _make_pass(day: date, orbit: Orbit, platform: str, seed: int,
               rain: set[date], snow: dict[date, float]) -> Pass:
    rng = np.random.default_rng([seed, day.toordinal(), orbit.relative, 41])
    u = rng.random(6)
    first = orbit.first
    at = datetime.combine(day, first.timetz()) + timedelta(milliseconds=int(u[0] * 900))
    start = at - timedelta(seconds=3 + 15 * u[1], microseconds=int(u[0] * 999_999))
    end = start + timedelta(seconds=18.5 + 7 * u[1])
    abs_orbit = absolute_orbit(platform, at, orbit)
    datatake = (abs_orbit * 81 // 10 + {"a": 0, "b": 0x30000, "c": 0x60000}[platform[-1]]) \
        % 0xFFFFFF
    shift = (0.0, 0.0)
    if u[2] < SHIFT_SHARE:
        angle = u[3] * 2 * math.pi
        size = SHIFT_PX * (0.8 + 0.4 * u[4])
        shift = (round(size * math.cos(angle), 2), round(size * math.sin(angle), 2))
    wet_day = day in rain or (orbit.state == "descending" and day - timedelta(days=1) in rain)
    snow_state = ""
    if snow.get(day, 0.0) > 0.3:
        melting = day.month in (3, 4, 11) or (orbit.state == "ascending" and u[5] < 0.3)
        snow_state = "wet" if melting else "dry"
    wet_db = round(2.0 + 2.0 * u[5], 2) if wet_day and not snow_state else 0.0
    return Pass(day, start, end, platform, orbit, abs_orbit, datatake, shift, wet_db,
                snow_state)


def schedule_s1(start: str | date = "2020-10-01", end: str | date = "2025-09-30", *,
                profile: str = "full", seed: int = 0) -> list[Pass]:
    """The scenario's Sentinel-1 passes between two dates (inclusive), sorted by time.

    Parameters
    ----------
    start, end
        First and last sensing date.
    profile
        ``"full"``: every pass of both orbits (about 400 over five years); ``"small"``:
        about one pass in sixteen, plus the passes nearest each planted event and the
        first shifted, wet, snowy, Sentinel-1B and 1C passes (about 40).
    seed
        Seed of the per-pass draws (time jitter, shifts, rain, wet snow); a sub-range
        gets the same passes as the whole period.

    Examples
    --------
    >>> p = schedule_s1("2025-05-01", "2025-05-31")
    >>> sorted({x.platform for x in p}), sorted({x.orbit.state for x in p})
    (['sentinel-1a', 'sentinel-1c'], ['ascending', 'descending'])
    """
    start_d, end_d = parse_date(start), parse_date(end)
    if end_d < start_d:
        raise ValueError(f"end {end_d} is before start {start_d}; swap them.")
    if profile not in ("full", "small"):
        raise ValueError(f"profile {profile!r} is unknown; use 'full' or 'small'.")
    rain, snow = rain_history(seed), snow_history(seed)
    out = []
    for n in range((end_d - start_d).days + 1):
        day = start_d + timedelta(days=n)
        for orbit in ORBITS:
            platform = _platform_on(day, orbit)
            if platform:
                out.append(_make_pass(day, orbit, platform, seed, rain, snow))
    out.sort(key=lambda p: p.start)
    return _small(out) if profile == "small" else out


def _small(passes: list[Pass]) -> list[Pass]:
    """About one pass in sixteen per orbit, plus the passes the tests and benchmarks need to meet."""
    keep = set()
    for orbit in ORBITS:  # every 16th pass of each orbit, so both keep a history
        mine = [k for k, p in enumerate(passes) if p.orbit == orbit]
        keep.update(mine[::16])
    wanted = [lambda p: p.shift != (0.0, 0.0), lambda p: p.wet_db > 0,
              lambda p: p.snow == "dry", lambda p: p.snow == "wet",
              lambda p: p.platform == "sentinel-1c", lambda p: p.platform == "sentinel-1b"]
    for n, test in enumerate(wanted):
        hits = [k for k, p in enumerate(passes) if test(p)]
        keep.update(hits[:2 if n == 0 else 1])
    for day in EVENT_DATES.values():
        for state in ("ascending", "descending"):
            near = [k for k, p in enumerate(passes) if p.orbit.state == state
                    and abs((p.day - day).days) <= 6]
            keep.update(sorted(near, key=lambda k: abs((passes[k].day - day).days))[:1])
    return [passes[k] for k in sorted(keep)]


# --- radiometry --------------------------------------------------------------------------

MATERIAL_DB: dict[str, tuple[float, float, str]] = {
    # material: (VV dB, VH - VV dB, kind); kind: natural (incidence, rain), paved, built
    "soil": (-13.5, -8.0, "natural"),
    "gravel": (-12.5, -8.0, "natural"),
    "field": (-12.5, -8.0, "natural"),      # seasonal: see _field_db
    "concrete": (-18.5, -9.0, "paved"),
    "asphalt": (-19.5, -9.0, "paved"),
    "roof_grey": (-1.0, -9.0, "built"),
    "roof_metal": (2.0, -10.0, "built"),
    "hangar": (3.0, -10.0, "built"),
    "mudbrick": (-4.0, -8.5, "built"),
    "trees": (-8.5, -6.0, "natural"),
    "berm": (-11.0, -8.0, "natural"),
}
"""Dry gamma nought of each scene material at 38 degrees incidence (VV dB, VH below VV)."""

WET_SNOW_DB = (-21.0, -29.0)
"""Wet snow (VV, VH dB): liquid water absorbs the signal."""


def _db(x: float | np.ndarray) -> float | np.ndarray:
    return 10.0 ** (np.asarray(x, np.float64) / 10.0)


@dataclass
class RadarScene:
    """What is fixed per orbit: dry backscatter of the static materials, and weights."""

    static: dict[int, np.ndarray]     # relative orbit -> (2, y, x) linear VV, VH (no fields)
    natural: np.ndarray               # (y, x) share of natural surfaces (wetting, snow)
    paved: np.ndarray                 # (y, x) share of paved surfaces (wet snow on them)
    field: np.ndarray                 # (y, x) share of field
    valid: dict[int, np.ndarray]      # relative orbit -> (y, x) bool inside the footprint


def _aspect(look: float, heading: float) -> float:
    """0..1: how squarely walls aligned with ``heading`` face a radar looking at ``look``."""
    return 0.5 + 0.5 * math.cos(math.radians(4 * (look - heading)))


def _corner(w: int, h: int) -> float:
    """Leg (pixels, along the top edge) of the corner a clipping swath edge cuts off."""
    return 0.04 * (w + h)


def _footprint(scene: Scene, orbit: Orbit) -> np.ndarray:
    """Pixels inside the swath: the north-east corner lies beyond the edge if ``clip``."""
    h, w = scene.grid.shape()
    if not orbit.clip:
        return np.ones((h, w), bool)
    rows, cols = np.mgrid[0:h, 0:w]
    return (w - (cols + 0.5)) + 0.8 * (rows + 0.5) >= _corner(w, h)


def footprint_polygon(grid: object, orbit: Orbit) -> object | None:
    """The UTM polygon of the swath inside the window, or None if it covers all of it.

    Examples
    --------
    >>> from geo.scenario._radiometry import SceneGrid
    >>> g = SceneGrid(500000.0, 3900000.0, 100, 100)
    >>> footprint_polygon(g, ORBITS[0]) is None, footprint_polygon(g, ORBITS[1]).area < 1e6
    (True, True)
    """
    from shapely.geometry import Polygon

    if not orbit.clip:
        return None
    h, w = grid.shape()  # type: ignore[attr-defined]
    x0, y1 = grid.x0, grid.y1  # type: ignore[attr-defined]
    s = _corner(w, h)
    pix = [(0, 0), (w - s, 0), (w, s / 0.8), (w, h), (0, h), (0, 0)]
    return Polygon([(x0 + c * 10.0, y1 - r * 10.0) for c, r in pix])


def radar_scene(scene: Scene) -> RadarScene:
    """Per-orbit static backscatter of a scene (drawn once per build).

    Examples
    --------
    >>> import geo  # doctest: +SKIP
    >>> from geo.scenario._radiometry import build_scene  # doctest: +SKIP
    >>> rs = radar_scene(build_scene(geo.aoi.load("bagram")))  # doctest: +SKIP
    >>> sorted(rs.static)  # doctest: +SKIP
    [71, 78]
    """
    rng = np.random.default_rng([scene.seed, 43])
    h, w = scene.grid.shape()
    texture = (scene.texture ** 3 * np.exp(0.12 * fractal_noise((h, w), rng, beta=1.2))
               ).astype(np.float32)
    kinds = {k: np.zeros((h, w), np.float32) for k in ("natural", "paved", "built")}
    static, valid = {}, {}
    for orbit in ORBITS:
        falloff = (math.cos(math.radians(orbit.incidence)) / math.cos(math.radians(38))) ** 2.5
        face = 6.0 * _aspect(orbit.look, scene.heading) - 3.0
        out = np.zeros((2, h, w), np.float64)
        for i, name in enumerate(MATERIALS):
            vv, dvh, kind = MATERIAL_DB[name]
            if name == "field":
                continue
            if orbit is ORBITS[0]:
                kinds[kind] += scene.frac[i]
            level = vv + (face if kind == "built" else 0.0)
            gain = falloff if kind == "natural" else 1.0
            rough = 1.0 if kind == "paved" else texture  # smooth paving: no texture
            out[0] += scene.frac[i] * rough * (_db(level) * gain)
            out[1] += scene.frac[i] * rough * (_db(level + dvh) * gain)
        static[orbit.relative] = out.astype(np.float32)
        valid[orbit.relative] = _footprint(scene, orbit)
    field = scene.frac[MATERIALS.index("field")].astype(np.float32)
    return RadarScene(static, kinds["natural"], kinds["paved"], field, valid)


def _parcel_cover(scene: Scene, day: date) -> np.ndarray:
    """Green cover of each field parcel on ``day`` (the optical scenario's phenology)."""
    from geo.scenario._radiometry import _bell

    doy = day.timetuple().tm_yday + scene.parcel_shift
    k = scene.parcel_kind
    winter = 0.05 + 0.95 * _bell(doy, 125, 28)
    summer = _bell(doy, 215, 30)
    orchard = 0.15 + 0.45 * smoothstep((doy - 95) / 40) * smoothstep((300 - doy) / 30)
    v = np.select([k == 0, k == 1, k == 2, k == 3],
                  [winter, summer, np.maximum(winter, summer), orchard], 0.02)
    return np.clip(v * scene.parcel_amp, 0, 0.95).astype(np.float32)


def _fields(scene: Scene, rs: RadarScene, day: date, orbit: Orbit) -> np.ndarray:
    """(2, y, x) linear backscatter of the fields: -12.5 dB bare to about -8 dB green."""
    v = _parcel_cover(scene, day)
    falloff = (math.cos(math.radians(orbit.incidence)) / math.cos(math.radians(38))) ** 1.5
    vv = _db(-12.5 + 4.6 * v) * falloff
    vh = _db(-20.5 + 7.0 * v) * falloff
    return np.stack([rs.field * vv[scene.parcel], rs.field * vh[scene.parcel]])


def _weather(lin: np.ndarray, scene: Scene, rs: RadarScene, p: Pass,
             wettable: np.ndarray) -> np.ndarray:
    """Rain brightens soils; dry snow barely dims them; wet snow darkens the ground."""
    if p.wet_db:
        lin = lin * (1 + wettable * (float(_db(p.wet_db)) - 1))[None]
    if not p.snow:
        return lin
    cover = _snow_cover(scene, p.day, np.random.default_rng(0), WITHDRAWAL)
    ground = np.clip(rs.natural + rs.paved + rs.field, 0, 1) * cover
    if p.snow == "dry":
        return lin * (1 - 0.1 * ground)[None]
    wet = np.array([_db(WET_SNOW_DB[0]), _db(WET_SNOW_DB[1])], np.float32)[:, None, None]
    return lin * (1 - ground)[None] + ground[None] * wet


def _scatterer_db(obj: object, look: float, rng: np.random.Generator) -> float:
    """Peak VV brightness (dB) of an aircraft or helicopter: broadside is brightest."""
    from geo.scenario._activity import TYPES

    face = 0.5 - 0.5 * math.cos(math.radians(2 * (look - obj.heading)))  # type: ignore[attr-defined]
    if obj.category == "aircraft":  # type: ignore[attr-defined]
        large = TYPES[obj.type].large  # type: ignore[attr-defined]
        return float(np.clip(1.0 + 6.0 * face + 2.0 * large + rng.normal(0, 1.0), 0, 10))
    return float(np.clip(0.0 + 5.0 * face + rng.normal(0, 1.0), -2, 8))  # helicopter


_PSF_M = 8.0
"""Spread (metres, one sigma) of a point target at 20 x 22 m resolution, 10 m spacing."""


def _blob(obj: object, scene: Scene, size: tuple[float, float],
          ) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """A window and an elongated Gaussian (peak 1) along the object's heading."""
    g = scene.grid
    h, w = g.shape()
    x, y, heading = obj.x, obj.y, obj.heading  # type: ignore[attr-defined]
    along = math.hypot(size[0] / 3.5, _PSF_M)
    across = math.hypot(size[1] / 3.5, _PSF_M)
    r = int(math.ceil(3 * max(along, across) / 10))
    cc, rc = (x - g.x0) / 10 - 0.5, (g.y1 - y) / 10 - 0.5
    c0, r0 = max(0, int(cc) - r), max(0, int(rc) - r)
    c1, r1 = min(w, int(cc) + r + 2), min(h, int(rc) + r + 2)
    if c1 <= c0 or r1 <= r0:
        return None
    rows, cols = np.mgrid[r0:r1, c0:c1]
    e, n = (cols - cc) * 10.0, -(rows - rc) * 10.0
    a = math.radians(heading)
    u = e * math.sin(a) + n * math.cos(a)
    v = e * math.cos(a) - n * math.sin(a)
    return (slice(r0, r1), slice(c0, c1)), np.exp(-0.5 * ((u / along) ** 2 + (v / across) ** 2))


def _objects(lin: np.ndarray, scene: Scene, objects: list, look: float,
             rng: np.random.Generator) -> None:
    """Add the objects' bright returns to ``lin`` (2, y, x) in place; decoys are flat."""
    small = [o for o in objects if o.category in ("vehicle", "container")]
    _small_objects(lin, scene, small, look, rng)
    for obj in objects:
        if obj.category not in ("aircraft", "helicopter"):
            continue
        peak = float(_db(_scatterer_db(obj, look, rng)))
        shapes = [((obj.length, min(obj.width, 5.0)), 1.0)]
        if obj.category == "aircraft":  # the wings: a second, weaker arm across
            shapes.append(((2.0, obj.width), 0.6))
        for size, share in shapes:
            got = _blob(obj, scene, size)
            if got is None:
                continue
            win, g = got
            lin[0][win] += (peak * share * g).astype(np.float32)
            lin[1][win] += (peak * share * 0.2 * g).astype(np.float32)  # VH ~7 dB down


def _small_objects(lin: np.ndarray, scene: Scene, objs: list, look: float,
                   rng: np.random.Generator) -> None:
    """Vehicles (-10..+1 dB) and containers (-2..+8 dB) at once: 8 x 8 pixel windows."""
    if not objs:
        return
    g = scene.grid
    h, w = g.shape()
    x = np.array([o.x for o in objs])
    y = np.array([o.y for o in objs])
    heading = np.radians([o.heading for o in objs])
    length = np.array([o.length for o in objs])
    box = np.array([o.category == "container" for o in objs])
    face = 0.5 - 0.5 * np.cos(2 * (np.radians(look) - heading))
    peak_db = np.where(box, np.clip(1.0 + 5.0 * face + rng.normal(0, 1.0, len(objs)), -2, 8),
                       np.clip(-7.0 + 5.0 * face + rng.normal(0, 1.5, len(objs)), -10, 1))
    cc, rc = (x - g.x0) / 10 - 0.5, (g.y1 - y) / 10 - 0.5
    off = np.arange(-3, 5)
    cols = np.floor(cc).astype(int)[:, None, None] + off[None, None, :]
    rows = np.floor(rc).astype(int)[:, None, None] + off[None, :, None]
    e = (cols - cc[:, None, None]) * 10.0
    n = -(rows - rc[:, None, None]) * 10.0
    sin, cos = np.sin(heading)[:, None, None], np.cos(heading)[:, None, None]
    along = np.hypot(length / 3.5, _PSF_M)[:, None, None]
    u = (e * sin + n * cos) / along
    v = (e * cos - n * sin) / _PSF_M
    gain = (10.0 ** (peak_db / 10.0))[:, None, None] * np.exp(-0.5 * (u ** 2 + v ** 2))
    rows, cols = np.broadcast_arrays(rows, cols)
    ok = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    flat = rows[ok] * w + cols[ok]
    add = np.bincount(flat, weights=gain[ok], minlength=h * w).reshape(h, w)
    lin[0] += add.astype(np.float32)
    lin[1] += (add * 0.12).astype(np.float32)  # VH ~9 dB down


def render_pass(scene: Scene, rs: RadarScene, p: Pass, objects: list) -> np.ndarray:
    """Render one pass: (2, y, x) float32 linear gamma nought (VV, VH), nodata outside.

    ``objects`` are the :class:`geo.scenario._activity.Placed` of the pass's day.
    """
    rng = np.random.default_rng([scene.seed, p.day.toordinal(), p.orbit.relative, 47])
    lin = rs.static[p.orbit.relative] + _fields(scene, rs, p.day, p.orbit)
    wettable = np.clip(rs.natural + rs.field, 0, 1)
    lin = _weather(lin, scene, rs, p, wettable).astype(np.float32)
    lin *= np.float32(10 ** (rng.normal(0, 0.15) / 10))  # per-date calibration wobble
    _objects(lin, scene, objects, p.orbit.look, rng)
    if p.shift != (0.0, 0.0):
        lin = subpixel_shift(lin, p.shift[0], p.shift[1])
    lin = lin * rng.gamma(ENL, 1.0 / ENL, lin.shape).astype(np.float32)
    lin = _quantise(np.maximum(lin, np.float32(1e-6)))
    lin[:, ~rs.valid[p.orbit.relative]] = NODATA
    return lin


def _quantise(x: np.ndarray, bits: int = 8) -> np.ndarray:
    """Round float32 values to ``bits`` mantissa bits (within 0.01 dB at 8 bits).

    Speckle is far larger than that, and the files compress several times better.
    """
    drop = 23 - bits
    raw = x.astype(np.float32).view(np.uint32)
    half = np.uint32(1 << (drop - 1))
    mask = np.uint32(0xFFFFFFFF ^ ((1 << drop) - 1))
    return ((raw + half) & mask).view(np.float32)
