"""When the synthetic archive has imagery: the Sentinel-2 revisit, baselines and the sun.

Sentinel-2A and 2B fly the same orbit half a cycle apart, so one relative orbit sees a
site every 5 days (each satellite every 10). Sentinel-2C took over Sentinel-2A's slot on
2025-01-21. One pass can appear as two items (sequence numbers ``_0`` and ``_1``), and a
few passes are missing (instrument or ground-segment anomalies), as in the real archive.

Earth Search holds Sentinel-2 L2A in two collections and neither has every pass:
``sentinel-2-c1-l2a`` (Collection 1, reprocessed) lacks most of 2022 and whole months of
earlier years; the older ``sentinel-2-l2a`` lacks about a third of the passes from
October 2024 on. :func:`schedule` says which collection holds each pass (``in_c1``,
``in_l2a``; every pass is in at least one) and which older-collection items carry a wrong
``earthsearch:boa_offset_applied`` (``flag_wrong``), all drawn from the seed.
The scenario also adds acquisitions from a neighbouring relative orbit on the dates of the
events it plants (a site near a swath edge is seen from two orbits), so that every event
has an image on its day.

The relative orbit numbers are a scenario choice, not looked up for the tile.

Examples
--------
>>> acq = schedule("2020-10-01", "2020-10-31", profile="full", seed=0)
>>> [a.platform for a in acq][:2]
['sentinel-2a', 'sentinel-2b']
>>> solar_position(datetime(2021, 6, 21, 6, 6, tzinfo=UTC), 69.265, 34.946)[0] > 65
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np

__all__ = [
    "Acquisition",
    "EVENT_DATES",
    "S2C_TAKEOVER",
    "BASELINE_04",
    "schedule",
    "baseline_for",
    "solar_position",
    "parse_date",
    "C1_ID",
    "L2A_ID",
]

C1_ID = "sentinel-2-c1-l2a"
"""Earth Search's Collection 1 (reprocessed) Sentinel-2 L2A collection."""
L2A_ID = "sentinel-2-l2a"
"""Earth Search's older Sentinel-2 L2A collection."""

C1_2022_MISSING = 0.85
"""Share of 2022 passes that ``sentinel-2-c1-l2a`` lacks."""
C1_MONTH_MISSING = 0.2
"""Share of months before 2022 that ``sentinel-2-c1-l2a`` lacks entirely."""
L2A_GAP_FROM = date(2024, 10, 1)
"""From this date ``sentinel-2-l2a`` lacks a share of the passes."""
L2A_GAP_SHARE = 0.35
"""Share of passes from :data:`L2A_GAP_FROM` on that ``sentinel-2-l2a`` lacks."""
WRONG_FLAG_SHARE = 0.03
"""Share of baseline >= 04.00 ``sentinel-2-l2a`` items whose offset flag is wrong, per
direction (flag true on raw DNs; flag false on DNs without the offset)."""

ANCHOR = date(2020, 10, 2)
"""A Sentinel-2A pass over the site (its 10-day cycle and 2B's, 5 days later, follow)."""

S2C_TAKEOVER = date(2025, 1, 21)
"""Sentinel-2C replaces Sentinel-2A in the constellation from this date."""

BASELINE_04 = date(2022, 1, 25)
"""Processing baseline 04.00 (BOA offset of +1000 DN) starts on this date."""

PRIMARY_ORBIT = 5
SECONDARY_ORBIT = 48

EVENT_DATES: dict[str, date] = {
    "cars_2022": date(2022, 7, 24),
    "parade_2022": date(2022, 8, 31),
    "parade_2024": date(2024, 8, 14),
    "aircraft_2025": date(2025, 2, 12),
    "cars_2025": date(2025, 4, 25),
}
"""Dates of planted events; the schedule guarantees an acquisition on each."""

_BASELINES: tuple[tuple[date, str], ...] = (
    (date(2015, 1, 1), "02.14"),
    (date(2021, 6, 30), "03.00"),
    (date(2021, 11, 1), "03.01"),
    (BASELINE_04, "04.00"),
    (date(2022, 12, 6), "05.09"),
    (date(2023, 12, 13), "05.10"),
    (date(2024, 7, 23), "05.11"),
)


@dataclass(frozen=True)
class Acquisition:
    """One item of the archive: a pass (date, platform, orbit) and how it was processed.

    Attributes
    ----------
    day
        Sensing date (UTC).
    time
        Sensing time (UTC, timezone-aware).
    platform
        ``sentinel-2a`` / ``sentinel-2b`` / ``sentinel-2c``.
    relative_orbit
        Relative orbit number (1-143).
    sequence
        0 for the first item of a pass, 1 for its duplicate.
    baseline
        Processing baseline, e.g. ``"04.00"``.
    offset_applied
        Whether the stored DNs already have the baseline's +1000 offset removed (Earth
        Search's ``earthsearch:boa_offset_applied``); always False before 04.00.
    forced
        True for an acquisition added on an event date (neighbouring orbit).
    index
        Position of the pass in the full schedule (seeds its random draws).
    in_c1, in_l2a
        Whether ``sentinel-2-c1-l2a`` / ``sentinel-2-l2a`` hold the pass.
    flag_wrong
        The older collection's ``earthsearch:boa_offset_applied`` says the opposite of
        ``offset_applied`` (only on baseline >= 04.00 items).
    """

    day: date
    time: datetime
    platform: str
    relative_orbit: int
    sequence: int = 0
    baseline: str = "02.14"
    offset_applied: bool = False
    forced: bool = False
    index: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)
    in_c1: bool = True
    in_l2a: bool = True
    flag_wrong: bool = False

    @property
    def flag(self) -> bool:
        """The ``earthsearch:boa_offset_applied`` the older collection's item states."""
        return self.offset_applied != self.flag_wrong

    @property
    def collections(self) -> tuple[str, ...]:
        """Ids of the Earth Search collections holding this pass (c1 first)."""
        return tuple(c for c, on in ((C1_ID, self.in_c1), (L2A_ID, self.in_l2a)) if on)

    @property
    def short_platform(self) -> str:
        """``S2A``, ``S2B`` or ``S2C``."""
        return "S2" + self.platform[-1].upper()

    @property
    def raw_offset(self) -> bool:
        """True when the stored DNs carry the +1000 offset (baseline >= 04.00, not removed)."""
        return self.baseline >= "04.00" and not self.offset_applied


def parse_date(value: str | date | datetime) -> date:
    """A date from ``YYYY-MM-DD`` text, a date or a datetime.

    Examples
    --------
    >>> parse_date("2022-01-25")
    datetime.date(2022, 1, 25)
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date; give it as YYYY-MM-DD, e.g. '2020-10-01'."
        ) from None


def baseline_for(day: date) -> str:
    """The processing baseline ESA used for products sensed on ``day``.

    Examples
    --------
    >>> baseline_for(date(2022, 1, 24)), baseline_for(date(2022, 1, 25))
    ('03.01', '04.00')
    """
    current = _BASELINES[0][1]
    for start, name in _BASELINES:
        if day >= start:
            current = name
    return current


def _platform(day: date) -> str:
    phase = (day - ANCHOR).days % 10
    if phase < 5:
        return "sentinel-2c" if day >= S2C_TAKEOVER else "sentinel-2a"
    return "sentinel-2b"


def _grid_days(start: date, end: date) -> list[date]:
    first = ANCHOR + timedelta(days=math.ceil((start - ANCHOR).days / 5) * 5)
    out = []
    day = first
    while day <= end:
        out.append(day)
        day += timedelta(days=5)
    return out


def _sensing_time(day: date, forced: bool, rng: np.random.Generator) -> datetime:
    base = datetime(day.year, day.month, day.day, 6, 6, 29, tzinfo=UTC)
    if forced:  # the neighbouring orbit passes a few minutes later
        base += timedelta(minutes=1, seconds=30)
    return base + timedelta(milliseconds=int(rng.integers(0, 1500)))


def schedule(
    start: str | date = "2020-10-01",
    end: str | date = "2025-09-30",
    *,
    profile: str = "full",
    seed: int = 0,
    raw_share: float = 0.1,
    duplicate_share: float = 0.04,
    missing_share: float = 0.015,
) -> list[Acquisition]:
    """The scenario's acquisitions between two dates (inclusive), sorted by time.

    Parameters
    ----------
    start, end
        First and last sensing date.
    profile
        ``"full"``: every pass (about 365 over five years); ``"small"``: every 11th
        pass, plus the event dates (about 35 over five years).
    seed
        Seed of the random draws (missing passes, duplicates, raw-offset items).
    raw_share
        Share of baseline >= 04.00 items whose DNs keep the raw +1000 offset
        (``earthsearch:boa_offset_applied`` false).
    duplicate_share
        Share of passes that also appear as a ``_1`` item.
    missing_share
        Share of regular passes with no item at all (full profile only).

    Examples
    --------
    >>> small = schedule(profile="small")
    >>> 30 <= len({a.day for a in small}) <= 45
    True
    """
    start_d, end_d = parse_date(start), parse_date(end)
    if end_d < start_d:
        raise ValueError(f"end {end_d} is before start {start_d}; swap them.")
    if profile not in ("full", "small"):
        raise ValueError(f"profile {profile!r} is unknown; use 'full' or 'small'.")
    rng = np.random.default_rng([seed, 20201002])
    # Draw per pass of the *whole* five-year grid so a sub-range gets the same items.
    all_days = _grid_days(date(2015, 7, 1), date(2030, 12, 31))
    draws = {d: rng.random(4) for d in all_days}
    days = _grid_days(start_d, end_d)
    if profile == "small":
        days = [d for d in days if ((d - ANCHOR).days // 5) % 11 == 0]
    out: list[Acquisition] = []
    events = {d for d in EVENT_DATES.values() if start_d <= d <= end_d}
    for day in days:
        u = draws[day]
        if profile == "full" and u[0] < missing_share and day not in events:
            continue
        out.append(_make(day, forced=False, u=u, raw_share=raw_share, seed=seed))
    have = {a.day for a in out}
    for name, day in EVENT_DATES.items():
        if day in events and day not in have:
            u = np.random.default_rng([seed, day.toordinal()]).random(4)
            out.append(_make(day, forced=True, u=u, raw_share=raw_share, seed=seed,
                             tags=(name,)))
    out.sort(key=lambda a: a.time)
    out = [replace(a, index=(a.day - ANCHOR).days) for a in out]
    dup_days = {a.day for k, a in enumerate(out)
                if _u(draws, a.day, seed)[1] < duplicate_share
                or (profile == "small" and k == len(out) // 2)}
    out = _plan_collections(out, dup_days, profile, seed)
    post = [k for k, a in enumerate(out) if a.baseline >= "04.00" and a.in_l2a]
    if profile == "small" and raw_share > 0 and post and not any(out[k].raw_offset for k in post):
        k = post[len(post) // 3]  # keep one raw-offset item for harmonisation tests
        out[k] = replace(out[k], offset_applied=False)
    out = _plant_wrong_flags(out, seed, keep=out[post[len(post) // 3]].day if post else None)
    # a duplicate (_1, reprocessed) item of the older collection: c1 ids have no sequence
    dups = [replace(a, sequence=1, time=a.time + timedelta(milliseconds=7), in_c1=False)
            for a in out if a.day in dup_days]
    return sorted(out + dups, key=lambda a: (a.time, a.sequence))


def _u(draws: dict[date, np.ndarray], day: date, seed: int) -> np.ndarray:
    return draws.get(day, np.random.default_rng([seed, day.toordinal()]).random(4))


def _membership(day: date, seed: int) -> tuple[bool, bool]:
    """(in c1, in l2a) of a pass, from draws keyed by its day (and month for c1's gaps)."""
    u = np.random.default_rng([seed, day.toordinal(), 13]).random(2)
    month = np.random.default_rng([seed, day.year, day.month, 17]).random()
    if day.year == 2022:
        in_c1 = bool(u[0] >= C1_2022_MISSING)
    else:
        in_c1 = not (day.year < 2022 and month < C1_MONTH_MISSING)
    in_l2a = not (day >= L2A_GAP_FROM and u[1] < L2A_GAP_SHARE)
    return in_c1, in_l2a or not in_c1


def _plan_collections(out: list[Acquisition], dup_days: set[date], profile: str,
                      seed: int) -> list[Acquisition]:
    """Say which collection holds each pass; the small profile gets every combination."""
    planned = []
    for a in out:
        in_c1, in_l2a = _membership(a.day, seed)
        planned.append(replace(a, in_c1=in_c1, in_l2a=in_l2a or a.day in dup_days))
    if profile != "small":
        return planned
    wants = (  # (window, in_c1, in_l2a): each must occur at least once where it can
        (lambda a: a.day >= L2A_GAP_FROM and a.day not in dup_days, True, False),
        (lambda a: a.day.year == 2022 and a.baseline >= "04.00", False, True),
        (lambda a: a.day.year == 2022 and a.baseline >= "04.00", False, True),
        (lambda a: True, True, True),
    )
    taken: set[date] = set()
    for window, c1, l2a in wants:
        pool = [k for k, a in enumerate(planned) if window(a) and a.day not in taken]
        have = [k for k in pool if (planned[k].in_c1, planned[k].in_l2a) == (c1, l2a)]
        if pool and not have:
            k = pool[len(pool) // 2]
            planned[k] = replace(planned[k], in_c1=c1, in_l2a=l2a)
            have = [k]
        taken.update(planned[k].day for k in have[:1])
    return planned


def _plant_wrong_flags(out: list[Acquisition], seed: int, keep: date | None) -> list[Acquisition]:
    """Give some older-collection items a wrong offset flag, both ways.

    Each direction is drawn with :data:`WRONG_FLAG_SHARE`; if a direction is then absent,
    it is planted on a pass that c1 lacks (so a review preferring c1 still meets it), in
    the dry season where one is free (the data can prove a flag wrong only where the
    ground is seen).
    """
    post = [k for k, a in enumerate(out) if a.baseline >= "04.00" and a.in_l2a]
    res = list(out)
    for k in post:
        if not out[k].offset_applied:
            continue  # raw with a correct false flag (raw_share): keep it so
        u = np.random.default_rng([seed, out[k].day.toordinal(), 19]).random()
        if u < WRONG_FLAG_SHARE:
            res[k] = replace(res[k], offset_applied=False, flag_wrong=True)  # flag true, raw
        elif u < 2 * WRONG_FLAG_SHARE:
            res[k] = replace(res[k], offset_applied=True, flag_wrong=True)   # flag false, clean
    lacking = [k for k in post if not out[k].in_c1 and out[k].day != keep]
    for raw in (False, True):
        if any(res[k].flag_wrong and res[k].raw_offset == raw for k in post if not res[k].in_c1):
            continue
        free = [k for k in lacking if not res[k].flag_wrong and res[k].offset_applied]
        # Dry-season passes first: a flag is only provably wrong where ground is seen.
        dry = [k for k in free if 5 <= res[k].day.month <= 10]
        free = dry or free
        if free:
            k = free[0] if raw else free[-1]
            res[k] = replace(res[k], offset_applied=not raw, flag_wrong=True)
    return res


def _make(
    day: date, *, forced: bool, u: np.ndarray, raw_share: float, seed: int,
    tags: tuple[str, ...] = (),
) -> Acquisition:
    baseline = baseline_for(day)
    offset_applied = baseline >= "04.00" and u[2] >= raw_share
    rng = np.random.default_rng([seed, day.toordinal(), 7])
    return Acquisition(
        day=day,
        time=_sensing_time(day, forced, rng),
        platform=_platform(day),
        relative_orbit=SECONDARY_ORBIT if forced else PRIMARY_ORBIT,
        baseline=baseline,
        offset_applied=bool(offset_applied),
        forced=forced,
        tags=tags,
    )


def solar_position(when: datetime, lon: float, lat: float) -> tuple[float, float]:
    """Sun elevation and azimuth (degrees, azimuth clockwise from north) at a place and time.

    NOAA's solar-position equations (accurate to a few hundredths of a degree, without
    refraction).

    Examples
    --------
    >>> el, az = solar_position(datetime(2020, 12, 21, 6, 6, tzinfo=UTC), 69.265, 34.946)
    >>> 25 < el < 32 and 150 < az < 170  # mid-morning overpass, low winter sun
    True
    """
    when = when.astimezone(UTC)
    jd = when.timestamp() / 86400.0 + 2440587.5
    t = (jd - 2451545.0) / 36525.0
    l0 = (280.46646 + t * (36000.76983 + 0.0003032 * t)) % 360
    m = math.radians(357.52911 + t * (35999.05029 - 0.0001537 * t))
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    c = (math.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
         + math.sin(2 * m) * (0.019993 - 0.000101 * t) + math.sin(3 * m) * 0.000289)
    true_long = l0 + c
    omega = 125.04 - 1934.136 * t
    app_long = math.radians(true_long - 0.00569 - 0.00478 * math.sin(math.radians(omega)))
    eps0 = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
    eps = math.radians(eps0 + 0.00256 * math.cos(math.radians(omega)))
    decl = math.asin(math.sin(eps) * math.sin(app_long))
    y = math.tan(eps / 2) ** 2
    l0r = math.radians(l0)
    eq_time = 4 * math.degrees(
        y * math.sin(2 * l0r) - 2 * e * math.sin(m) + 4 * e * y * math.sin(m) * math.cos(2 * l0r)
        - 0.5 * y * y * math.sin(4 * l0r) - 1.25 * e * e * math.sin(2 * m)
    )
    minutes = when.hour * 60 + when.minute + when.second / 60
    true_solar = (minutes + eq_time + 4 * lon) % 1440
    hour_angle = math.radians(true_solar / 4 - 180)
    phi = math.radians(lat)
    cos_zen = (math.sin(phi) * math.sin(decl)
               + math.cos(phi) * math.cos(decl) * math.cos(hour_angle))
    zen = math.acos(max(-1.0, min(1.0, cos_zen)))
    az = math.degrees(math.atan2(
        math.sin(hour_angle),
        math.cos(hour_angle) * math.sin(phi) - math.tan(decl) * math.cos(phi),
    )) + 180
    return 90 - math.degrees(zen), az % 360


def earth_sun_factor(day: date) -> float:
    """ESA's reflectance conversion factor (1 / d^2, d the Earth-Sun distance in AU)."""
    doy = day.timetuple().tm_yday
    return 1.0 / (1 - 0.01673 * math.cos(math.radians(0.9856 * (doy - 4)))) ** 2
