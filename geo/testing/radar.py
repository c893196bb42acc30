"""Small synthetic Sentinel-1 RTC stacks with known content, for tests and notebooks.

:func:`make_radar_stack` paints a radar scene on the grid of an AOI in the layout of the
radar stack contract of :func:`geo.load` (dims ``time, y, x``; ``vv`` and ``vh`` as
float32 dB; per-time coords ``item_id``, ``platform``, ``orbit_state``,
``relative_orbit``, ``collection``; ``attrs["sensor"] = "s1"``):

- **Surfaces** (gamma nought, dB, :data:`SURFACE_DB`): smooth concrete aprons and
  runways are dark (-18 / -20 dB), asphalt parking a little brighter, bare gravel
  (controls, the rest of the site) about -11 dB, hangars and other buildings very bright
  (+8 dB, double bounce), aircraft bright (+5 dB).
- **Orbits** (:class:`Orbit`): each relative orbit sees the site from its own geometry:
  a whole-scene level offset and its own fixed per-pixel texture, so one orbit's empty
  state does not fit another's. Dates alternate between the orbits, six days apart
  (each orbit repeats every twelve days, as after Sentinel-1B's loss).
- **Speckle**: every pixel of every date is multiplied by an independent
  Gamma(ENL, 1/ENL) variable (mean 1), the statistics of multi-looked intensity
  (ENL 4.4 for Sentinel-1 IW GRD).
- **Aircraft** (:class:`geo.testing.stacks.Aircraft`) mixed into the pixels they cover
  (linear power, sub-pixel coverage), on the dates they list.
- **Geolocation shifts** (``shift``: whole-scene shifts of up to 3 pixels on chosen
  dates), **wet ground** (``wet``: bare ground brightened by some dB, paved ground by
  :data:`WET_PAVED_SHARE` of that) and **no data** (``nodata``: the top rows NaN, as at
  a swath edge or in radar shadow).

Examples
--------
>>> from geo.testing.stacks import small_aoi
>>> ds = make_radar_stack(small_aoi(), 4)
>>> ds["vv"].dims, ds.attrs["sensor"], sorted(set(ds["relative_orbit"].values.tolist()))
(('time', 'y', 'x'), 's1', [5, 78])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from shapely.geometry import box

from geo.aoi import AOI
from geo.testing.stacks import CENTRE, Aircraft, _coverage
from geo.zones import zone_masks

__all__ = ["SURFACE_DB", "ENL", "Orbit", "ORBITS", "BUILDINGS", "make_radar_stack",
           "radar_dates"]

SURFACE_DB: dict[str, float] = {
    "concrete": -18.0, "runway": -20.0, "asphalt": -15.0, "gravel": -11.0,
    "building": 8.0, "aircraft": 5.0,
}
"""VV gamma nought (dB) of each surface; VH is :data:`VH_OFFSET_DB` lower."""

VH_OFFSET_DB: dict[str, float] = {"aircraft": -4.0, "building": -6.0}
"""VH minus VV (dB) per surface; other surfaces :data:`VH_GROUND_DB`."""

VH_GROUND_DB = -7.0
"""VH minus VV (dB) of natural and paved ground."""

ENL = 4.4
"""Equivalent number of looks of Sentinel-1 IW GRD high resolution (the items'
``sar:looks_equivalent_number``)."""

WET_PAVED_SHARE = 0.4
"""Share of a wet date's brightening (dB) that smooth paved ground takes: moisture
raises bare soil's dielectric constant and backscatter; smooth pavement reflects
mostly away from the sensor, wet or dry."""

ORBIT_TEXTURE_DB = 1.0
"""Standard deviation (dB) of each orbit's fixed per-pixel texture (viewing geometry)."""

PAD = 3
"""Pixels painted beyond the grid on each side, so shifts of up to 3 pixels stay filled."""

_KIND_SURFACE = {"apron": "concrete", "revetment": "concrete", "runway": "runway",
                 "taxiway": "concrete", "parking": "asphalt"}


@dataclass(frozen=True)
class Orbit:
    """One relative orbit's viewing geometry.

    Attributes
    ----------
    relative_orbit, orbit_state
        As in the items (``sat:relative_orbit``, ``sat:orbit_state``).
    offset_db
        Level of the whole scene from this geometry (dB, added to every pixel).
    platform
        Lower-case platform name.
    """

    relative_orbit: int
    orbit_state: str
    offset_db: float = 0.0
    platform: str = "sentinel-1a"


ORBITS: tuple[Orbit, ...] = (Orbit(5, "ascending", 0.0), Orbit(78, "descending", 3.0))
"""Default orbits: an ascending and a descending one, 3 dB apart."""

BUILDINGS: tuple[tuple[float, float, float, float], ...] = (
    (-440, 100, -412, 140), (-560, 330, -520, 380), (-60, 380, 0, 420),
    (480, 360, 540, 400), (500, -60, 540, 0), (-20, -220, 30, -180),
    (380, -330, 440, -290), (-560, -250, -520, -200),
)
"""Bright buildings ``(xmin, ymin, xmax, ymax)``, metres from :data:`CENTRE`, around the
zones of :func:`geo.testing.stacks.small_aoi`; the first stands one pixel from the
apron's west edge (a geolocation shift drags it onto the apron)."""


def radar_dates(n: int, start: str = "2022-01-03", step_days: int = 6) -> pd.DatetimeIndex:
    """``n`` acquisition times ``step_days`` apart (each orbit's date every second one).

    Examples
    --------
    >>> radar_dates(3).strftime("%m-%d").tolist()
    ['01-03', '01-09', '01-15']
    """
    return pd.date_range(start, periods=n, freq=f"{step_days}D") + pd.Timedelta(hours=13)


def _ground(aoi: AOI, x: np.ndarray, y: np.ndarray,
            buildings: Sequence[tuple[float, float, float, float]]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VV and VH linear power of the empty scene, and which pixels are paved."""
    masks = zone_masks(aoi, xr.Dataset(coords={"x": x, "y": y}))
    vv = np.full((y.size, x.size), SURFACE_DB["gravel"])
    paved = np.zeros(vv.shape, bool)
    for name, kind in zip(masks["zone"].values, masks["kind"].values):
        surface = _KIND_SURFACE.get(str(kind))
        if surface:
            m = masks.sel(zone=name).values
            vv[m] = SURFACE_DB[surface]
            paved |= m
    vh = vv + VH_GROUND_DB
    shapes = [box(CENTRE[0] + a, CENTRE[1] + b, CENTRE[0] + c, CENTRE[1] + d)
              for a, b, c, d in buildings]
    cover = _coverage(shapes, x, y)
    lin_vv, lin_vh = 10 ** (vv / 10), 10 ** (vh / 10)
    lin_vv = _mix(lin_vv, cover, SURFACE_DB["building"])
    lin_vh = _mix(lin_vh, cover, SURFACE_DB["building"] + VH_OFFSET_DB["building"])
    return lin_vv, lin_vh, paved


def _mix(lin: np.ndarray, cover: np.ndarray, db: float) -> np.ndarray:
    """Pixels covered by a share ``cover`` of a surface of ``db`` (linear power mix)."""
    return np.asarray((1 - cover) * lin + cover * 10 ** (db / 10))


def _orbit_of(times: pd.DatetimeIndex, orbits: Sequence[Orbit],
              orbit_of: Sequence[int] | None) -> list[int]:
    if orbit_of is not None:
        if len(orbit_of) != len(times):
            raise ValueError(f"orbit_of has {len(orbit_of)} entries for {len(times)} dates")
        return list(orbit_of)
    return [i % len(orbits) for i in range(len(times))]


def make_radar_stack(
    aoi: AOI,
    dates: int | Sequence[object],
    *,
    aircraft: Sequence[Aircraft] = (),
    orbits: Sequence[Orbit] = ORBITS,
    orbit_of: Sequence[int] | None = None,
    buildings: Sequence[tuple[float, float, float, float]] = BUILDINGS,
    shift: Mapping[int, tuple[int, int]] | None = None,
    wet: Mapping[int, float] | None = None,
    nodata: Mapping[int, float] | None = None,
    enl: float = ENL,
    enl_coord: bool = False,
    margin: float = 60.0,
    resolution: float = 10.0,
    seed: int = 0,
) -> xr.Dataset:
    """Paint a synthetic Sentinel-1 RTC stack on an AOI's UTM grid (dB, per the contract).

    Parameters
    ----------
    aoi
        Site whose zones set the surfaces (see :data:`SURFACE_DB`).
    dates
        Number of dates (see :func:`radar_dates`) or a sequence of dates.
    aircraft
        Aircraft mixed in on the dates (indices) they list; ``dates=None``: every date.
    orbits
        The relative orbits (default :data:`ORBITS`).
    orbit_of
        Index into ``orbits`` of each date (default: they take turns).
    buildings
        Bright buildings (default :data:`BUILDINGS`), present on every date.
    shift
        ``{date index: (dy, dx)}`` whole-scene geolocation shifts in pixels (|d| <= 3).
    wet
        ``{date index: dB}``: bare ground brightened by ``dB``, paved ground by
        :data:`WET_PAVED_SHARE` of it.
    nodata
        ``{date index: fraction}``: the top fraction of rows NaN.
    enl
        Equivalent number of looks of the speckle.
    enl_coord
        Carry ``enl`` as a per-time coordinate ``looks_equivalent_number`` (as the
        items' ``sar:looks_equivalent_number``); by default the stack does not say it.
    margin, resolution
        Grid margin around the zones (m) and pixel size (m).
    seed
        Random seed (orbit textures and speckle).

    Returns
    -------
    xarray.Dataset
        ``vv``, ``vh`` (float32 dB) with the radar stack's coordinates.

    Examples
    --------
    >>> from geo.testing.stacks import small_aoi
    >>> ds = make_radar_stack(small_aoi(), 2, wet={1: 3.0})
    >>> bool(ds["vv"].isel(time=1).median() > ds["vv"].isel(time=0).median())
    True
    """
    times = radar_dates(dates) if isinstance(dates, int) else pd.DatetimeIndex(
        pd.to_datetime(list(dates)))  # type: ignore[arg-type]
    which = _orbit_of(times, orbits, orbit_of)
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = aoi.utm_bounds(margin=margin, resolution=resolution)
    x = np.arange(xmin + resolution / 2 - PAD * resolution, xmax + PAD * resolution, resolution)
    y = np.arange(ymax - resolution / 2 + PAD * resolution, ymin - PAD * resolution, -resolution)
    vv0, vh0, paved = _ground(aoi, x, y, buildings)
    texture = [10 ** ((o.offset_db + ORBIT_TEXTURE_DB * rng.standard_normal(vv0.shape)) / 10)
               for o in orbits]
    shift, wet, nodata = dict(shift or {}), dict(wet or {}), dict(nodata or {})
    ny, nx = y.size - 2 * PAD, x.size - 2 * PAD
    out = np.empty((2, len(times), ny, nx), dtype=np.float32)
    for t in range(len(times)):
        vv, vh = vv0.copy(), vh0.copy()
        if t in wet:
            gain = 10 ** (np.where(paved, WET_PAVED_SHARE, 1.0) * wet[t] / 10)
            vv, vh = vv * gain, vh * gain
        here = [a for a in aircraft if a.dates is None or t in a.dates]
        if here:
            cover = _coverage([a.polygon() for a in here], x, y)
            vv = _mix(vv, cover, SURFACE_DB["aircraft"])
            vh = _mix(vh, cover, SURFACE_DB["aircraft"] + VH_OFFSET_DB["aircraft"])
        dy, dx = shift.get(t, (0, 0))
        for p, power in enumerate((vv, vh)):
            scene = np.roll(power * texture[which[t]], (dy, dx), axis=(0, 1))
            scene = scene[PAD:-PAD, PAD:-PAD] * rng.gamma(enl, 1 / enl, (ny, nx))
            out[p, t] = 10 * np.log10(scene)
        if t in nodata:
            out[:, t, :int(round(nodata[t] * ny))] = np.nan
    return _dataset(out, times, [orbits[i] for i in which], x[PAD:-PAD], y[PAD:-PAD], aoi,
                    enl if enl_coord else None)


def _dataset(out: np.ndarray, times: pd.DatetimeIndex, orbit: Sequence[Orbit], x: np.ndarray,
             y: np.ndarray, aoi: AOI, enl: float | None) -> xr.Dataset:
    dims = ("time", "y", "x")
    coords: dict[str, object] = {
        "time": times.to_numpy(dtype="datetime64[ns]"), "y": y, "x": x,
        "item_id": ("time", [f"S1A_IW_GRDH_1SDV_{t:%Y%m%dT%H%M%S}_{o.relative_orbit:03d}_rtc"
                             for t, o in zip(times, orbit)]),
        "platform": ("time", [o.platform for o in orbit]),
        "orbit_state": ("time", [o.orbit_state for o in orbit]),
        "relative_orbit": ("time", np.array([o.relative_orbit for o in orbit], dtype=int)),
        "collection": ("time", ["sentinel-1-rtc"] * len(times)),
        "spatial_ref": ((), 0, {"crs": f"EPSG:{aoi.epsg}"}),
    }
    if enl is not None:
        coords["looks_equivalent_number"] = ("time", np.full(len(times), enl))
    return xr.Dataset(
        {"vv": (dims, out[0]), "vh": (dims, out[1])}, coords=coords,
        attrs={"crs": f"EPSG:{aoi.epsg}", "sensor": "s1", "source": "geo.testing.radar",
               "synthetic": True},
    )
