"""Small synthetic image stacks with known content, for tests and notebooks.

:func:`make_stack` paints a scene on the grid of an AOI, in the layout of the stack
contract of :func:`geo.load` (dims ``time, y, x``; float32 reflectance bands; ``scl``,
``clear`` and ``snow``; per-time coords; ``crs`` attribute): a background whose surface
depends on the zone kind (concrete for aprons and runways, asphalt for parking, gravel
elsewhere) with a fixed per-pixel texture, plus aircraft drawn as a fuselage and wings
(sub-pixel coverage, so edges are mixed pixels as in real 10 m imagery) with their
shadows (8 m high, sun at 40 degrees elevation from the south-south-east), painted decoys
present on every date, a per-date brightness gain and haze offset applied to the whole
scene alike (site and control), optional whole-image shifts of a pixel or two
(misregistration), clouds and snow.

:func:`small_aoi` is a compact AOI (apron, revetment with decoys, parking, runway,
control) whose stacks are small enough for property tests. Hypothesis strategies for
gains, shifts and aircraft layouts are at the end.

Examples
--------
>>> aoi = small_aoi()
>>> ds = make_stack(aoi, 4, aircraft=[Aircraft(x=-100, y=120, dates=[1])])
>>> ds["red"].dims, ds.sizes["time"]
(('time', 'y', 'x'), 4)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pyproj import Transformer
from shapely.geometry import Polygon, box, mapping

from geo import aoi as aoi_mod
from geo.aoi import AOI
from geo.zones import zone_masks

__all__ = [
    "BANDS",
    "SURFACES",
    "CENTRE",
    "seasonal_gain",
    "Aircraft",
    "small_aoi",
    "make_stack",
    "gains",
    "shifts",
    "layouts",
]

BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "swir22")

SURFACES: dict[str, tuple[float, ...]] = {
    "concrete": (0.20, 0.22, 0.24, 0.27, 0.32, 0.29),
    "asphalt": (0.08, 0.09, 0.10, 0.12, 0.15, 0.14),
    "gravel": (0.13, 0.16, 0.20, 0.25, 0.31, 0.28),
    "aircraft": (0.34, 0.35, 0.35, 0.37, 0.30, 0.24),
    "decoy": (0.06, 0.06, 0.06, 0.08, 0.10, 0.09),
    "car": (0.30, 0.30, 0.32, 0.33, 0.28, 0.24),
    "cloud": (0.60, 0.60, 0.61, 0.62, 0.50, 0.40),
    "snow": (0.80, 0.80, 0.78, 0.70, 0.10, 0.08),
}
"""Reflectance spectra (blue .. swir22) used to paint scenes."""

SHADOW_DEPTH = 0.55
"""Share of the ground's reflectance an aircraft's shadow takes away."""

HAZE_SHAPE: tuple[float, ...] = (1.0, 0.8, 0.6, 0.3, 0.1, 0.05)
"""Relative strength of an additive haze offset per band (strongest in blue)."""

CENTRE: tuple[float, float] = (524_200.0, 3_867_100.0)
"""UTM (EPSG:32642) centre of :func:`small_aoi`, near Bagram's reference point."""

_KIND_SURFACE = {"apron": "concrete", "revetment": "concrete", "runway": "concrete",
                 "taxiway": "concrete", "hangar": "concrete", "parking": "asphalt"}


@dataclass(frozen=True)
class Aircraft:
    """An aircraft (or, with ``surface="decoy"`` and ``dates=None``, a painted decoy).

    Coordinates are metres relative to :data:`CENTRE` unless ``absolute``.

    Attributes
    ----------
    x, y
        Centre.
    wingspan, length
        Size in metres (fuselage width is 10 % of the length, wing chord 20 %).
    heading
        Degrees clockwise from north.
    dates
        Indices of the dates it is present on; ``None`` means every date (static).
    surface
        Key of :data:`SURFACES` it is painted with.
    """

    x: float
    y: float
    wingspan: float = 40.0
    length: float = 35.0
    heading: float = 30.0
    dates: Sequence[int] | None = None
    surface: str = "aircraft"
    absolute: bool = False

    def shadow(self, height: float = 8.0, elevation: float = 40.0, azimuth: float = 150.0
               ) -> Any:
        """The planform shifted away from the sun by its shadow length (metres)."""
        from shapely import affinity
        reach = height / np.tan(np.radians(elevation))
        az = np.radians(azimuth)
        return affinity.translate(self.polygon(), -reach * np.sin(az), -reach * np.cos(az))

    def polygon(self) -> Any:
        """The planform (fuselage union wings) in UTM metres."""
        from shapely import affinity
        cx, cy = (self.x, self.y) if self.absolute else (CENTRE[0] + self.x, CENTRE[1] + self.y)
        fus_w = max(0.1 * self.length, 3.0)
        chord = 0.2 * self.length
        body = box(-fus_w / 2, -self.length / 2, fus_w / 2, self.length / 2)
        wings = box(-self.wingspan / 2, -chord / 2, self.wingspan / 2, chord / 2)
        shape = body.union(wings)
        shape = affinity.rotate(shape, -self.heading, origin=(0, 0))
        return affinity.translate(shape, cx, cy)


def _ll_polygon(xmin: float, ymin: float, xmax: float, ymax: float) -> dict[str, Any]:
    to_ll = Transformer.from_crs(32642, 4326, always_xy=True)
    poly = box(CENTRE[0] + xmin, CENTRE[1] + ymin, CENTRE[0] + xmax, CENTRE[1] + ymax)
    xs, ys = to_ll.transform(*np.asarray(poly.exterior.coords).T)
    return dict(mapping(Polygon(zip(xs, ys))))


SMALL_ZONES: dict[str, tuple[str, tuple[float, float, float, float]]] = {
    "perimeter": ("perimeter", (-600, -500, 600, 500)),
    "runway_test": ("runway", (-550, -450, 550, -400)),
    "apron_test": ("apron", (-400, 0, 100, 300)),
    "revetments_test": ("revetment", (200, 100, 450, 300)),
    "parking_test": ("parking", (200, -250, 330, -120)),
    "control_test": ("control", (-450, -330, -150, -100)),
}
"""Zones of :func:`small_aoi`: name -> (kind, (xmin, ymin, xmax, ymax) around CENTRE)."""


def small_aoi() -> AOI:
    """A compact AOI near Bagram: apron, revetment, parking, runway, control.

    Examples
    --------
    >>> sorted(small_aoi().zones["kind"])
    ['apron', 'control', 'parking', 'perimeter', 'revetment', 'runway']
    """
    feats = [
        {"type": "Feature", "geometry": _ll_polygon(*bounds),
         "properties": {"name": name, "kind": kind, "source": "synthetic test zone"}}
        for name, (kind, bounds) in SMALL_ZONES.items()
    ]
    return aoi_mod.from_geojson({"type": "FeatureCollection", "features": feats},
                                name="small_test")


def _dates(dates: int | Sequence[Any]) -> pd.DatetimeIndex:
    if isinstance(dates, int):
        return pd.date_range("2021-01-05", periods=dates, freq="10D")
    return pd.DatetimeIndex(pd.to_datetime(list(dates)))


def _per_date(value: Any, times: pd.DatetimeIndex, default: float) -> np.ndarray:
    if value is None:
        return np.full(len(times), default)
    if callable(value):
        return np.array([float(value(t)) for t in times])
    arr = np.asarray(value, dtype=float)
    return np.full(len(times), float(arr)) if arr.ndim == 0 else arr


def seasonal_gain(amplitude: float = 0.15) -> Callable[[pd.Timestamp], float]:
    """A gain peaking at the summer solstice: ``1 + amplitude*cos(2 pi (doy-172)/365)``."""
    return lambda t: 1.0 + amplitude * np.cos(2 * np.pi * (t.day_of_year - 172) / 365.25)


def _coverage(shapes: Sequence[Any], x: np.ndarray, y: np.ndarray, ss: int = 5) -> np.ndarray:
    """Fraction of each pixel (centres x, y) covered by the union of shapes."""
    import shapely
    res = float(x[1] - x[0])
    out = np.zeros((y.size, x.size))
    if not shapes:
        return out
    geom = shapely.union_all(list(shapes))
    xmin, ymin, xmax, ymax = geom.bounds
    ix = np.where((x + res / 2 >= xmin) & (x - res / 2 <= xmax))[0]
    iy = np.where((y + res / 2 >= ymin) & (y - res / 2 <= ymax))[0]
    if ix.size == 0 or iy.size == 0:
        return out
    offs = (np.arange(ss) + 0.5) / ss - 0.5
    sx = (x[ix][:, None] + offs[None, :] * res).ravel()
    sy = (y[iy][:, None] - offs[None, :] * res).ravel()
    gx, gy = np.meshgrid(sx, sy)
    inside = shapely.contains_xy(geom, gx, gy).reshape(iy.size, ss, ix.size, ss)
    out[np.ix_(iy, ix)] = inside.mean(axis=(1, 3))
    return out


def _paint(canvas: np.ndarray, cover: np.ndarray, surface: str) -> None:
    spec = np.asarray(SURFACES[surface], dtype=float)
    canvas *= (1 - cover)[None]
    canvas += cover[None] * spec[:, None, None]


def make_stack(
    aoi: AOI,
    dates: int | Sequence[Any],
    *,
    aircraft: Sequence[Aircraft] = (),
    decoys: Sequence[Aircraft] = (),
    gain: float | Sequence[float] | Callable[[pd.Timestamp], float] | None = None,
    haze: float | Sequence[float] | Callable[[pd.Timestamp], float] | None = None,
    shift: Mapping[int, tuple[int, int]] | None = None,
    clouds: Mapping[int, float] | None = None,
    false_clouds: Mapping[int, float] | None = None,
    snow: Mapping[int, float] | None = None,
    noise: float = 0.003,
    texture: float = 0.04,
    margin: float = 60.0,
    resolution: float = 10.0,
    seed: int = 0,
    chunks: Mapping[str, int] | None = None,
) -> xr.Dataset:
    """Paint a synthetic stack on an AOI's UTM grid, following :func:`geo.load`'s contract.

    Parameters
    ----------
    aoi
        Site whose zones set the surfaces (see :data:`SURFACES`); the grid covers all
        zones plus ``margin`` metres.
    dates
        Number of dates (every 10 days from 2021-01-05) or a sequence of dates.
    aircraft
        Aircraft painted on the dates they list.
    decoys
        Static shapes painted on every date (their ``dates`` is ignored).
    gain
        Brightness factor per date (scalar, one per date, or a function of the date such
        as :func:`seasonal_gain`), applied to every pixel alike.
    haze
        Additive haze per date at blue (scaled down towards the SWIR by :data:`HAZE_SHAPE`).
    shift
        ``{date index: (dy, dx)}`` whole-image shifts in pixels (|d| <= 2).
    clouds
        ``{date index: fraction}``: a cloud over the top fraction of rows (SCL 9).
    false_clouds
        ``{date index: fraction}``: the SCL says cloud (9) over the top fraction of rows
        but the ground is seen as usual (Sen2Cor's error over bright concrete).
    snow
        ``{date index: fraction}``: snow over the left fraction of columns (SCL 11).
    noise
        Standard deviation of per-date sensor noise (reflectance).
    texture
        Relative amplitude of the fixed per-pixel texture of the ground.
    margin, resolution
        Grid margin around the zones (m) and pixel size (m).
    seed
        Random seed (texture and noise).
    chunks
        Dask chunks (e.g. ``{"time": 1}``); ``None`` returns numpy-backed variables.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> ds = make_stack(small_aoi(), 3, clouds={0: 0.5}, chunks={"time": 1})
    >>> float(ds["clear"].isel(time=0).mean()) < 0.6
    True
    """
    times = _dates(dates)
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = aoi.utm_bounds(margin=margin, resolution=resolution)
    pad = 2
    x = np.arange(xmin + resolution / 2 - pad * resolution, xmax + pad * resolution, resolution)
    y = np.arange(ymax - resolution / 2 + pad * resolution, ymin - pad * resolution, -resolution)
    grid = xr.Dataset(coords={"x": x, "y": y})
    masks = zone_masks(aoi, grid)
    nb, ny, nx = len(BANDS), y.size, x.size

    base = np.empty((nb, ny, nx))
    base[:] = np.asarray(SURFACES["gravel"])[:, None, None]
    for name, kind in zip(masks["zone"].values, masks["kind"].values):
        surface = _KIND_SURFACE.get(str(kind))
        if surface:
            m = masks.sel(zone=name).values
            base[:, m] = np.asarray(SURFACES[surface])[:, None]
    base *= 1 + texture * rng.standard_normal((1, ny, nx))
    _paint(base, _coverage([d.polygon() for d in decoys], x, y), "decoy")

    g = _per_date(gain, times, 1.0)
    h = _per_date(haze, times, 0.0)
    shift = dict(shift or {})
    clouds, snow = dict(clouds or {}), dict(snow or {})
    false_clouds = dict(false_clouds or {})
    ys, xs = slice(pad, ny - pad), slice(pad, nx - pad)
    data = np.empty((len(times), nb, ny - 2 * pad, nx - 2 * pad), dtype=np.float32)
    scl = np.full((len(times), ny - 2 * pad, nx - 2 * pad), 5, dtype=np.uint8)
    for t in range(len(times)):
        scene = base.copy()
        here = [a for a in aircraft if a.dates is None or t in a.dates]
        if here:
            shade = _coverage([a.shadow() for a in here if a.surface == "aircraft"], x, y)
            scene *= 1 - SHADOW_DEPTH * shade[None]
            for surface in {a.surface for a in here}:
                polys = [a.polygon() for a in here if a.surface == surface]
                _paint(scene, _coverage(polys, x, y), surface)
        dy, dx = shift.get(t, (0, 0))
        scene = np.roll(scene, (dy, dx), axis=(1, 2))[:, ys, xs]
        scene = scene * g[t] + h[t] * np.asarray(HAZE_SHAPE)[:, None, None]
        scene += noise * rng.standard_normal(scene.shape)
        if t in clouds:
            rows = int(round(clouds[t] * scene.shape[1]))
            scene[:, :rows] = np.asarray(SURFACES["cloud"])[:, None, None]
            scl[t, :rows] = 9
        if t in false_clouds:
            scl[t, :int(round(false_clouds[t] * scene.shape[1]))] = 9
        if t in snow:
            cols = int(round(snow[t] * scene.shape[2]))
            scene[:, :, :cols] = np.asarray(SURFACES["snow"])[:, None, None]
            scl[t, :, :cols] = 11
        data[t] = scene
    return _dataset(data, scl, times, x[xs], y[ys], aoi, chunks)


def _dataset(data: np.ndarray, scl: np.ndarray, times: pd.DatetimeIndex, x: np.ndarray,
             y: np.ndarray, aoi: AOI, chunks: Mapping[str, int] | None) -> xr.Dataset:
    dims = ("time", "y", "x")
    doy = times.day_of_year.to_numpy()
    elev = 52.5 + 22.5 * np.cos(2 * np.pi * (doy - 172) / 365.25)
    ds = xr.Dataset(
        {b: (dims, data[:, i]) for i, b in enumerate(BANDS)}
        | {"scl": (dims, scl),
           "clear": (dims, ~np.isin(scl, (0, 1, 3, 8, 9, 10, 11))),
           "snow": (dims, scl == 11)},
        coords={
            "time": times.to_numpy(dtype="datetime64[ns]"), "y": y, "x": x,
            "item_id": ("time", [f"S2A_TEST_{t:%Y%m%d}" for t in times]),
            "platform": ("time", ["sentinel-2a"] * len(times)),
            "processing_baseline": ("time", ["05.00"] * len(times)),
            "offset_applied": ("time", [True] * len(times)),
            "sun_elevation": ("time", elev),
            "sun_azimuth": ("time", np.full(len(times), 150.0)),
        },
        attrs={"crs": f"EPSG:{aoi.epsg}", "source": "geo.testing.stacks", "synthetic": True},
    )
    return ds.chunk(dict(chunks)) if chunks else ds


# --- hypothesis strategies ----------------------------------------------------------

def gains() -> Any:
    """Strategy: a uniform brightness gain between 0.6 and 1.6."""
    from hypothesis import strategies as st
    return st.floats(min_value=0.6, max_value=1.6, allow_nan=False)


def shifts() -> Any:
    """Strategy: a whole-image shift of one pixel in any of the 8 directions."""
    from hypothesis import strategies as st
    return st.sampled_from([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                            if (dy, dx) != (0, 0)])


def layouts(max_aircraft: int = 4) -> Any:
    """Strategy: lists of aircraft well inside :func:`small_aoi`'s apron, not touching."""
    from hypothesis import strategies as st
    slots = [(-330 + 110 * i, 70 + 120 * j) for i in range(4) for j in range(2)]
    plane = st.builds(
        lambda slot, span, heading: Aircraft(x=slot[0], y=slot[1], wingspan=span,
                                             length=span * 0.9, heading=heading),
        st.sampled_from(slots), st.floats(35, 60), st.floats(0, 180),
    )
    return st.lists(plane, min_size=1, max_size=max_aircraft,
                    unique_by=lambda a: (a.x, a.y))
