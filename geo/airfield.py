"""Airfields from imagery: a clear-sky composite, then runways, taxiways and aprons.

An analyst who has only an ICAO code (or a box around a new field) needs zones before a
review can count anything. This module finds them in Sentinel-2 imagery:

1. :func:`composite` builds a clear-sky median of the site over a period (through
   :func:`geo.search` and :func:`geo.load`: windowed reads, the imagery store,
   harmonised reflectance, the SCL clear mask), plus, per pixel, how stable it is across
   the period and how many clear dates it had.
2. :func:`find_zones` finds paved surfaces in it, keeps those connected to the
   runways, and splits them into ``taxiway`` (long, narrow) and ``apron`` (wide) zones,
   each with a ``source`` ("found in imagery <start> to <end>") and a ``confidence``.
3. :func:`make_aoi` goes from a code (:func:`geo.aoi.from_icao`) or a bounding box
   (runways are then found in the imagery too) to a finished AOI with control zones
   (:func:`geo.aoi.pick_controls`), ready to save, edit and feed back.

The physics behind the tests
----------------------------
Thresholds are set from published spectra of the materials (USGS spectral library
v7 and ECOSTRESS/ASTER man-made and soil spectra, Herold et al. 2004 on urban
surfaces), not fitted to any site; each is a named constant below.

* **Vegetation** reflects strongly in the near infrared: NDVI of crops, grass and
  scrub is above 0.3 when green; bare soil, gravel and pavements lie at 0.0-0.2
  (:data:`NDVI_MAX`). A paved pixel must also stay below :data:`NDVI_PEAK_MAX` on its
  greenest clear dates (fields green and brown; pavement does not).
* **Water** is darker in the near infrared than in green (NDWI > 0) and in SWIR than
  in green (MNDWI > 0); pavements are not (:data:`MNDWI_MAX`).
* **Grey, not red.** Soils, loess and most gravels hold iron oxides whose charge-
  transfer absorption darkens the blue: their red/blue ratio is 1.5-2.5. Portland
  cement concrete and bitumen are nearly grey: red/blue 1.0-1.4
  (:data:`RED_BLUE_MAX`). Soils also brighten steeply from red to SWIR-1 (the SWIR-1
  peak of dry mineral ground; swir16/red 1.5-2.2), concrete much less (1.0-1.35); aged
  asphalt brightens too (1.2-1.7), so this slope only raises the confidence of a pixel
  already grey (:data:`SWIR_RED_SOIL`).
* **Brightness.** Asphalt is dark (mean of red, nir, swir16 about 0.06-0.16), concrete
  bright (0.18-0.35); both lie in :data:`BRIGHTNESS_RANGE`. White roofs, salt and
  cloud residue are brighter; water and deep shadow darker.
* **Smooth.** A runway, taxiway or apron is one material over tens of metres: the
  3 x 3 coefficient of variation of brightness stays low (:data:`TEXTURE_MAX`);
  buildings (roofs, walls, shadows at 10 m) and field edges are rough.
* **Snow is not ground.** A pixel on a date when it is under snow, ice or water
  (NDSI > 0, :data:`SNOW_NDSI_MIN`: SWIR-1 darker than green, which bare ground and
  pavement never are) is left out of the composite, like SCL's snow: SCL labels snow
  only where it dominates a pixel, and the snow left on cleared dark asphalt would
  otherwise make a taxiway fail the water and stability tests.
* **Stable.** Pavement changes little over a year: the interquartile range of the
  brightness over clear dates, relative to its median, stays below
  :data:`SPREAD_MAX` (wetting darkens soil by 20-40 %, crops change completely;
  parked aircraft make aprons vary somewhat, hence a generous bound).

Shapes follow ICAO Annex 14 design widths: a taxiway is 15-25 m wide (38-44 m with
shoulders, :data:`TAXIWAY_MAX_WIDTH_M`); a runway 23-60 m (to 90 m with shoulders);
aprons are wide areas, at least one large stand (about 80 x 80 m,
:data:`APRON_MIN_AREA_M2`). Paved ground is kept only when it connects to a runway
(directly or through other paved pixels): roads, car parks and villages elsewhere are
not airfield zones. Revetment rows (small bays in earth berms) and vehicle parking lots
are not told apart at 10 m: a paved area wide enough is an apron, whatever parks on it;
neither kind is produced.

Examples
--------
>>> import geo
>>> aoi = make_aoi("OAIX", "scenario/", start="2021-01-01", end="2021-12-31")  # doctest: +SKIP
>>> aoi.summary().kind.value_counts()["apron"] > 0  # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pystac
import shapely
import xarray as xr
from affine import Affine
from pyproj import CRS
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo import aoi as aoi_mod
from geo import errors
from geo.aoi import AOI
from geo.store import Store

__all__ = [
    "composite",
    "find_zones",
    "find_runways",
    "make_aoi",
    "paved_evidence",
    "COMPOSITE_BANDS",
    "MAX_DATES",
    "MAX_BBOX_KM2",
]

log = logging.getLogger(__name__)

# --- the composite ----------------------------------------------------------------------

COMPOSITE_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")
"""Bands read for the composite (all six reflective S2 bands geo loads, and SCL)."""

MAX_DATES = 24
"""Most dates read for a composite: the clearest, spread over the period."""

MIN_CLEAR_DATES = 3
"""Clear dates a pixel needs for its median and spread to count."""

DEFAULT_MARGIN_M = 1500.0
"""Ground read around the AOI's zones, so control squares can be picked off-site."""

LOOKBACK_YEARS = 4
"""Without a period: the latest year with imagery, looking back at most this far."""

MAX_BBOX_KM2 = 100.0
"""Largest bounding box :func:`make_aoi` accepts (the size of a site, as for AOIs)."""


def composite(
    aoi_or_bounds: AOI | str | Path | Sequence[float],
    source: str | Path,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    *,
    store: Store | str | Path | None = None,
    offline: bool = False,
    max_cloud: float | None = 60.0,
    max_dates: int = MAX_DATES,
    margin: float = DEFAULT_MARGIN_M,
    progress: bool = True,
) -> xr.Dataset:
    """A clear-sky median composite of a site, with its per-pixel stability.

    The period's items are searched (:func:`geo.search`), the clearest ``max_dates``
    of them are kept, spread over the period (one per equal slice of it first, then
    the clearest of the rest), and loaded (:func:`geo.load`: windows only, through the
    store, harmonised reflectance). Each pixel's median is taken over the dates SCL
    calls clear ground (cloud, shadow, cirrus, snow and nodata are left out) on which
    the pixel itself is not under snow or water (NDSI above :data:`SNOW_NDSI_MIN`:
    patchy snow that SCL calls clear would make pavement look wet and unstable).

    Parameters
    ----------
    aoi_or_bounds
        An :class:`geo.aoi.AOI` (or built-in name / GeoJSON path), or a bounding box
        ``(west, south, east, north)`` in degrees.
    source
        Where the imagery comes from (see :func:`geo.search`): ``"earth-search"``, a
        STAC API URL, or a local catalog folder.
    start, end
        The period. Without them: the latest year with imagery, looking back up to
        :data:`LOOKBACK_YEARS` years from today.
    store, offline
        The imagery store and whether to use it alone (see :func:`geo.load`).
    max_cloud
        Drop scenes whose tile-wide cloud cover exceeds this (percent); the per-pixel
        SCL mask does the rest.
    max_dates
        Most dates read (default :data:`MAX_DATES`).
    margin
        Metres read around the AOI's zones (for off-site control squares).
    progress
        Show progress bars.

    Returns
    -------
    xarray.Dataset
        On the AOI's 10 m UTM grid (``y``, ``x``): the median reflectance of
        ``blue green red nir swir16 swir22``; ``ndvi_peak`` (90th percentile of NDVI
        over clear dates), ``spread`` (interquartile range of the brightness, the mean
        of red, nir and swir16, over clear dates, relative to its median) and
        ``clear_count`` (clear dates per pixel; medians need :data:`MIN_CLEAR_DATES`).
        Attributes ``start``, ``end``, ``dates`` (ISO days read), ``source`` and
        ``crs`` (``EPSG:<code>``).

    Raises
    ------
    geo.errors.NoImagery
        No items in the period, or no pixel with enough clear dates; the message
        says how many dates were read and what to widen.

    Examples
    --------
    >>> comp = composite("bagram", "scenario/", "2021-01-01", "2021-12-31")  # doctest: +SKIP
    >>> sorted(comp.data_vars)[:3]  # doctest: +SKIP
    ['blue', 'clear_count', 'green']
    """
    from geo.load import load

    site = _site(aoi_or_bounds)
    items, t0, t1 = _period_items(site, source, start, end, store=store, offline=offline,
                                  max_cloud=max_cloud, progress=progress)
    chosen = pick_dates(items, t0, t1, max_dates)
    log.info("composite of %s: %d of %d dates between %s and %s", site.name, len(chosen),
             len(items), t0, t1)
    ds = load(chosen, site, bands=COMPOSITE_BANDS, margin=margin, store=store,
              offline=offline, progress=progress)
    out = _reduce(ds, site, MIN_CLEAR_DATES)
    out.attrs.update({"start": str(t0), "end": str(t1), "source": str(source),
                      "dates": [str(d)[:10] for d in ds["time"].values],
                      "crs": f"EPSG:{site.epsg}"})
    return out


def _site(aoi_or_bounds: AOI | str | Path | Sequence[float]) -> AOI:
    if isinstance(aoi_or_bounds, AOI):
        return aoi_or_bounds
    if isinstance(aoi_or_bounds, (str, Path)):
        return aoi_mod.load(aoi_or_bounds)
    return bbox_aoi(aoi_or_bounds)


def _period_items(
    site: AOI, source: str | Path, start: str | dt.date | None, end: str | dt.date | None,
    **kw: Any,
) -> tuple[list[pystac.Item], dt.date, dt.date]:
    """The items of the period; without one, of the latest year that has imagery."""
    from geo.search import search

    if start is not None or end is not None:
        t0 = _day(start) if start is not None else _day(end or "") - dt.timedelta(days=365)
        t1 = _day(end) if end is not None else t0 + dt.timedelta(days=365)
        return search(site, t0, t1, source=source, **kw), t0, t1
    t1 = dt.date.today()
    for _ in range(LOOKBACK_YEARS):
        t0 = t1 - dt.timedelta(days=365)
        try:
            return search(site, t0, t1, source=source, **kw), t0, t1
        except (errors.NoImagery, errors.OfflineMiss):  # offline: the store may lack a year
            log.info("no imagery of %s between %s and %s; looking a year earlier",
                     site.name, t0, t1)
            t1 = t0
    raise errors.NoImagery(
        f"No Sentinel-2 imagery of {site.name} in {source} over the last {LOOKBACK_YEARS} "
        "years; pass start= and end= (--start/--end) for a period the source covers.")


def _day(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise errors.SearchError(
            f"Date {value!r} is not an ISO date; write it as YYYY-MM-DD.") from None


def pick_dates(items: Sequence[pystac.Item], start: dt.date, end: dt.date,
               n: int) -> list[pystac.Item]:
    """The clearest ``n`` items, spread over the period.

    The period is cut into ``n`` equal slices; each slice gives its clearest item
    (lowest ``eo:cloud_cover``), then the clearest remaining items fill any gap.

    Examples
    --------
    >>> import pystac, datetime as dt
    >>> def item(day, cc):
    ...     return pystac.Item(f"i{day}-{cc}", None, None, dt.datetime(2021, 1, day),
    ...                        {"eo:cloud_cover": cc})
    >>> picked = pick_dates([item(1, 50), item(2, 5), item(20, 90)], dt.date(2021, 1, 1),
    ...                     dt.date(2021, 1, 31), 2)
    >>> [i.id for i in picked]
    ['i2-5', 'i20-90']
    """
    if n <= 0:
        raise errors.AnalysisError(f"max_dates is {n}; read at least one date.")
    span = max((end - start).days + 1, 1)

    def cloud(item: pystac.Item) -> float:
        value = item.properties.get("eo:cloud_cover")
        return float(value) if value is not None else 100.0

    def slot(item: pystac.Item) -> int:
        when = item.datetime.date() if item.datetime else start
        return min(max((when - start).days * n // span, 0), n - 1)

    ranked = sorted(items, key=cloud)
    first: dict[int, pystac.Item] = {}
    for item in ranked:
        first.setdefault(slot(item), item)
    chosen = list(first.values())
    taken = {id(i) for i in chosen}
    chosen += [i for i in ranked if id(i) not in taken][: max(n - len(chosen), 0)]
    return sorted(chosen[:n], key=lambda i: i.datetime or dt.datetime.min)


def _reduce(ds: xr.Dataset, site: AOI, min_clear: int) -> xr.Dataset:
    """Median of clear dates per band, NDVI peak, brightness spread, clear count.

    A date is clear for a pixel when SCL says clear ground and the pixel is not under
    snow or water that day (:func:`_snow_or_water`).
    """
    clear = ds["clear"].compute().to_numpy() & ~_snow_or_water(ds)
    count = clear.sum(axis=0)
    enough = count >= min_clear
    if not enough.any():
        raise errors.NoImagery(
            f"No pixel of {site.name} was clear on {min_clear} or more of the "
            f"{ds.sizes['time']} dates read (most: {int(count.max())}); widen the period "
            "or raise max_cloud.")
    out: dict[str, Any] = {}
    for band in ("blue", "green", "red", "nir", "swir16", "swir22"):
        arr = np.where(clear, ds[band].compute().to_numpy(), np.nan)
        med = nanquantile(arr, (0.5,))[0]
        out[band] = np.where(enough, med, np.nan).astype(np.float32)
        ds = ds.assign({band: (ds[band].dims, arr)})
    red, nir, swir = (ds[b].to_numpy() for b in ("red", "nir", "swir16"))
    bright = (red + nir + swir) / 3
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        ndvi = (nir - red) / (nir + red)
        q25, q50, q75 = nanquantile(bright, (0.25, 0.5, 0.75))
        out["spread"] = np.where(enough, (q75 - q25) / q50, np.nan).astype(np.float32)
        out["ndvi_peak"] = np.where(enough, nanquantile(ndvi, (0.9,))[0],
                                    np.nan).astype(np.float32)
    out["clear_count"] = count.astype(np.int16)
    dims = ("y", "x")
    coords = {k: v for k, v in ds.coords.items() if k in ("y", "x", "spatial_ref")}
    return xr.Dataset({k: (dims, v) for k, v in out.items()}, coords=coords)


SNOW_NDSI_MIN = 0.0
"""NDSI, (green - swir16) / (green + swir16), above which a pixel on a date is under
snow, ice or water. Bare ground and pavement are brighter in SWIR-1 than in green
(NDSI -0.4 to -0.1), snow and water darker (snow 0.4-0.9, water above 0); a pixel
partly snow-covered lies in between. SCL labels snow only where snow dominates a
pixel, so thin or patchy snow left on cleared pavement (a tenth of a dark asphalt
pixel is enough to brighten it by half) passes as clear ground without this test."""


def _snow_or_water(ds: xr.Dataset) -> np.ndarray:
    """Per date and pixel: NDSI above :data:`SNOW_NDSI_MIN` (snow, ice or water on it)."""
    green = ds["green"].compute().to_numpy()
    swir = ds["swir16"].compute().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ndsi = (green - swir) / (green + swir)
    return np.nan_to_num(ndsi, nan=-1.0) > SNOW_NDSI_MIN


def bbox_aoi(bounds: Sequence[float] | str, *, name: str = "site") -> AOI:
    """An AOI whose perimeter is a bounding box (west, south, east, north in degrees).

    Parameters
    ----------
    bounds
        Four numbers, or the text ``"W,S,E,N"``.
    name
        Name of the AOI.

    Raises
    ------
    geo.errors.InvalidGeometry
        Not four numbers, or west >= east / south >= north.
    geo.errors.CoordinatesOutOfRange
        A value outside longitude -180..180 / latitude -90..90.
    geo.errors.AOITooLarge
        The box covers more than :data:`MAX_BBOX_KM2`.

    Examples
    --------
    >>> bbox_aoi("69.24,34.92,69.29,34.97", name="bagram").epsg
    32642
    """
    values = _bbox_values(bounds)
    w, s, e, n = values
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise errors.CoordinatesOutOfRange(
            f"Bounding box {values} lies outside longitude -180..180 / latitude -90..90; "
            "give it as W,S,E,N in degrees (longitude first).")
    if w >= e or s >= n:
        raise errors.InvalidGeometry(
            f"Bounding box {values} is empty or inverted: it must be W,S,E,N with "
            "west < east and south < north (longitude first).")
    box = shapely.box(w, s, e, n)
    area = aoi_mod._area_km2(box)
    if area > MAX_BBOX_KM2:
        raise errors.AOITooLarge(
            f"Bounding box {values} covers {area:,.0f} km^2, more than the "
            f"{MAX_BBOX_KM2:.0f} km^2 of an airfield; draw it around the site itself "
            "(a 10 x 10 km box is plenty for the largest airfields).")
    fc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": mapping(box),
        "properties": {"name": "perimeter", "kind": "perimeter",
                       "source": f"bounding box {w:g},{s:g},{e:g},{n:g}"}}]}
    return aoi_mod.from_geojson(fc, name=name, label=f"bounding box of {name}")


def _bbox_values(bounds: Sequence[float] | str) -> tuple[float, float, float, float]:
    parts = bounds.replace(" ", "").split(",") if isinstance(bounds, str) else list(bounds)
    try:
        values = tuple(float(v) for v in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise errors.InvalidGeometry(
            f"Bounding box {bounds!r} is not four numbers; write it as W,S,E,N in "
            "degrees, e.g. 69.24,34.92,69.29,34.97.")
    return (values[0], values[1], values[2], values[3])


def nanquantile(arr: np.ndarray, qs: Sequence[float]) -> list[np.ndarray]:
    """Quantiles along the first axis ignoring NaN (linear, as numpy's default).

    ``np.nanpercentile`` loops in Python over pixels; sorting once (NaN last) and
    interpolating between the ranks is two orders of magnitude faster.

    Examples
    --------
    >>> a = np.array([[1.0, np.nan], [3.0, 2.0], [2.0, np.nan]])
    >>> [q.tolist() for q in nanquantile(a, (0.5,))]
    [[2.0, 2.0]]
    """
    ordered = np.sort(arr, axis=0)
    n = np.isfinite(arr).sum(axis=0)
    out = []
    for q in qs:
        pos = np.clip((n - 1) * q, 0, None)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        a = np.take_along_axis(ordered, lo[None], axis=0)[0]
        b = np.take_along_axis(ordered, hi[None], axis=0)[0]
        val = a + (b - a) * (pos - lo)
        out.append(np.where(n > 0, val, np.nan))
    return out


# --- paved surfaces -----------------------------------------------------------------------

NDVI_MAX = 0.2
"""Median NDVI above which a pixel is vegetated (pavement and bare ground: 0.0-0.2)."""

NDVI_PEAK_MAX = 0.3
"""NDVI on a pixel's greenest clear dates (90th percentile) above which it greens in
season: fields and weedy ground, not pavement."""

MNDWI_MAX = 0.0
"""(green - swir16) / (green + swir16) above which a pixel is water (turbid or not)."""

RED_BLUE_MAX = 1.40
"""Red/blue reflectance above which a surface is reddish (iron-bearing soil, 1.5-2.5)
rather than grey (concrete 1.0-1.3, asphalt 1.1-1.4)."""

SWIR_RED_SOIL = (1.0, 1.8)
"""swir16/red from grey concrete (1.0) to typical dry soil (1.8): a lower slope raises
a zone's confidence (aged asphalt, 1.2-1.7, gets less)."""

BRIGHTNESS_RANGE = (0.05, 0.40)
"""Mean of red, nir and swir16 for pavement: fresh asphalt about 0.05-0.08, aged
asphalt 0.08-0.16, concrete 0.18-0.35; white roofs and cloud residue are brighter, water
and deep shadow darker."""

TEXTURE_MAX = 0.25
"""3 x 3 std/mean of brightness among neighbouring grey pixels above which ground is
rough (roofs, walls and their shadows). Pavement interiors lie below 0.05; the bound is
loose because 10 m pixels at the join of concrete and asphalt differ by a factor 2."""

SPREAD_MAX = 0.25
"""Interquartile range of brightness over clear dates relative to its median above
which a pixel is not stable (soil moisture 20-40 %, crops more; parked aircraft
make aprons vary by up to about 10-15 %)."""

RUNWAY_SLACK_M = 25.0
"""Paved ground this close to a runway zone counts as the runway (its shoulders, and
widths or positions OurAirports has a few metres off)."""

TAXIWAY_MAX_WIDTH_M = 45.0
"""Widest taxiway: ICAO code F, 25 m plus shoulders to 44 m; anything wider is apron."""

APRON_MIN_AREA_M2 = 6400.0
"""Smallest apron: one stand for a large aircraft, about 80 x 80 m."""

TAXIWAY_MIN_LENGTH_M = 150.0
"""Shortest taxiway kept (shorter narrow paved bits are left out)."""

TAXIWAY_MIN_ELONGATION = 4.0
"""Length/width below which a narrow paved piece is not a taxiway (a blob, a yard)."""

RUNWAY_MIN_LENGTH_M = 1200.0
"""Shortest runway found in imagery (no runway table): shorter strips are roads."""

RUNWAY_WIDTH_M = (20.0, 90.0)
"""Width of a runway found in imagery: 18-60 m paved, to 90 m with shoulders."""

RUNWAY_MIN_ELONGATION = 15.0
"""Length / width of a runway found in imagery: straight and long."""
"""A runway found in imagery (no runway table): a straight paved strip at least this
long, this wide, and this elongated (length / width)."""

CONNECT_GAP_M = 40.0
"""Gaps in the pavement bridged when following it from the runways: an apron or
taxiway may be set back from the next one by a graded strip (ICAO taxiway strips
extend about 10-20 m beyond the shoulders), and 10 m pixels at a junction mix the two
surfaces with what lies between. Only paved pixels are kept; the gap is not."""

PARALLEL_TAXIWAY = {"min_length_m": 500.0, "max_angle_deg": 5.0, "max_separation_m": 200.0}
"""A straight narrow paved strip this long, this parallel to a runway and with its
centreline this close to the runway's (ICAO Annex 14 runway-taxiway separations run to
about 190 m) is that runway's parallel taxiway even where no connector is seen."""

CONFIDENT_DATES = 6
"""Clear dates at which the temporal evidence counts fully in a zone's confidence."""


def paved_evidence(comp: xr.Dataset) -> dict[str, np.ndarray]:
    """Per-pixel tests for pavement and the indices behind them.

    Parameters
    ----------
    comp
        A composite from :func:`composite` (bands ``blue green red nir swir16``,
        ``spread`` and ``ndvi_peak`` optional).

    Returns
    -------
    dict of numpy arrays
        ``paved`` (bool, passes every test), ``fail:<test>`` (bool per test), and the
        indices ``ndvi``, ``red_blue``, ``swir_red``, ``brightness``, ``texture``,
        ``spread``.

    Examples
    --------
    >>> grey = {b: np.full((5, 5), v) for b, v in zip(("blue", "green", "red", "nir",
    ...         "swir16"), (0.19, 0.21, 0.23, 0.25, 0.28))}
    >>> ev = paved_evidence(xr.Dataset({k: (("y", "x"), v) for k, v in grey.items()}))
    >>> bool(ev["paved"].all())
    True
    """
    b = {k: np.asarray(comp[k].values, dtype=float) for k in ("blue", "green", "red", "nir",
                                                               "swir16")}
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (b["nir"] - b["red"]) / (b["nir"] + b["red"])
        mndwi = (b["green"] - b["swir16"]) / (b["green"] + b["swir16"])
        red_blue = b["red"] / b["blue"]
        swir_red = b["swir16"] / b["red"]
    bright = (b["red"] + b["nir"] + b["swir16"]) / 3
    spread = (np.asarray(comp["spread"].values, float) if "spread" in comp
              else np.zeros_like(bright))
    peak = np.asarray(comp["ndvi_peak"].values, float) if "ndvi_peak" in comp else ndvi
    valid = np.isfinite(bright) & np.isfinite(b["blue"]) & np.isfinite(b["green"])
    spectral = {
        "vegetated": ndvi < NDVI_MAX,
        "greens in season": np.nan_to_num(peak, nan=0.0) < NDVI_PEAK_MAX,
        "water": mndwi < MNDWI_MAX,
        "reddish like soil": red_blue <= RED_BLUE_MAX,
        "too dark or too bright": (bright >= BRIGHTNESS_RANGE[0]) & (bright <= BRIGHTNESS_RANGE[1]),
    }
    grey = valid.copy()
    for passed in spectral.values():
        grey &= passed
    texture = _masked_texture(bright, grey)
    tests = {**spectral, "rough": texture <= TEXTURE_MAX,
             "changes over the period": np.nan_to_num(spread, nan=0.0) <= SPREAD_MAX}
    out: dict[str, np.ndarray] = {"ndvi": ndvi, "red_blue": red_blue, "swir_red": swir_red,
                                  "brightness": bright, "texture": texture, "spread": spread}
    paved = valid.copy()
    for name, passed in tests.items():
        # texture is measured among grey pixels only: roughness is a failure of those
        out[f"fail:{name}"] = valid & ~passed & (grey if name == "rough" else True)
        paved &= passed
    out["paved"] = paved
    return out


def _masked_texture(bright: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """3 x 3 std/mean of brightness over the neighbours inside ``mask``."""
    from scipy import ndimage

    w = mask.astype(float)
    v = np.where(mask, bright, 0.0)
    n = ndimage.uniform_filter(w, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = ndimage.uniform_filter(v, 3) / n
        var = np.clip(ndimage.uniform_filter(v**2, 3) / n - mean**2, 0, None)
        tex = np.sqrt(var) / mean
    return np.where(mask, tex, np.inf)


def find_zones(
    comp: xr.Dataset,
    runways_aoi: AOI,
    *,
    taxiway_max_width_m: float = TAXIWAY_MAX_WIDTH_M,
    apron_min_area_m2: float = APRON_MIN_AREA_M2,
    runway_slack_m: float = RUNWAY_SLACK_M,
    period: str | None = None,
) -> AOI:
    """Find the taxiways and aprons connected to an AOI's runways in a composite.

    Pixels pass the tests of :func:`paved_evidence` (not vegetated, not water, grey,
    of pavement's brightness, smooth, stable). Paved ground connected to a runway
    (directly or through other paved pixels; 8-connected) is kept; within
    ``runway_slack_m`` of a runway zone it is the runway itself. The rest is split by
    width: what survives a morphological opening by a disk wider than
    ``taxiway_max_width_m`` is wide (an apron when at least ``apron_min_area_m2``);
    the remaining narrow pieces that are long and elongated are taxiways.

    Parameters
    ----------
    comp
        A composite from :func:`composite` (its grid must be the AOI's UTM grid).
    runways_aoi
        The AOI holding the runway zones and the perimeter (e.g. from
        :func:`geo.aoi.from_icao`). Its other zones are kept as they are; found zones
        are clipped to the perimeter.
    taxiway_max_width_m, apron_min_area_m2, runway_slack_m
        The shape rules (defaults :data:`TAXIWAY_MAX_WIDTH_M`,
        :data:`APRON_MIN_AREA_M2`, :data:`RUNWAY_SLACK_M`).
    period
        Text for the zones' ``source``; default the composite's ``start`` to ``end``.

    Returns
    -------
    AOI
        The input AOI plus zones ``apron_found_<n>`` and ``taxiway_found_<n>`` (largest
        first), each with ``source`` ``"found in imagery <start> to <end>"``,
        ``confidence`` (0-1) and the evidence behind it (``grey``, ``smooth``,
        ``stable``, ``size`` scores, ``clear_dates``).

    Raises
    ------
    geo.errors.AnalysisError
        The AOI has no runway zone, or the composite misses a band or its grid.

    Examples
    --------
    >>> aoi = geo.aoi.from_icao("OAIX")  # doctest: +SKIP
    >>> found = find_zones(composite(aoi, "scenario/", "2021-01-01", "2021-12-31"), aoi)  # doctest: +SKIP
    """
    grid = _grid(comp)
    runways = runways_aoi.zones_utm()
    runways = runways[runways["kind"] == "runway"]
    if runways.empty:
        raise errors.AnalysisError(
            f"AOI {runways_aoi.name!r} has no runway zone: find_zones grows taxiways and "
            "aprons from the runways. Use geo.aoi.from_icao, or find_runways first.")
    ev = paved_evidence(comp)
    _warn_if_thin(comp, _rasterize(list(runways.geometry), grid), runways_aoi.name)
    runway_px = _rasterize(list(runways.geometry.buffer(runway_slack_m)), grid)
    seeds = _rasterize(list(runways.geometry), grid, all_touched=True)
    seeds |= _parallel_strips(ev["paved"] & ~runway_px, runways, grid)
    linked = _connected_to(ev["paved"], seeds, _gap_px(grid.res))
    network = linked & ~runway_px
    aprons, taxiways = _split_by_width(network, grid.res, taxiway_max_width_m,
                                       apron_min_area_m2)
    label = period or f"{comp.attrs.get('start', '?')} to {comp.attrs.get('end', '?')}"
    zones = (_zones_of(aprons, "apron", grid, ev, comp, label, apron_min_area_m2)
             + _zones_of(taxiways, "taxiway", grid, ev, comp, label, apron_min_area_m2))
    log.info("%s: %d apron(s), %d taxiway(s) found in imagery %s", runways_aoi.name,
             sum(z["kind"] == "apron" for z in zones),
             sum(z["kind"] == "taxiway" for z in zones), label)
    return _with_zones(runways_aoi, zones, grid.crs, label)


def _warn_if_thin(comp: xr.Dataset, runway: np.ndarray, name: str) -> None:
    """Warn when most runway pixels had too few clear dates for the tests to pass."""
    if "clear_count" not in comp or not runway.any():
        return
    count = np.asarray(comp["clear_count"].values)[runway]
    short = float(np.mean(count < MIN_CLEAR_DATES))
    if short > 0.5:
        warnings.warn(errors.GeoWarning(
            f"The composite of {name!r} ({comp.attrs.get('start', '?')} to "
            f"{comp.attrs.get('end', '?')}) saw {100 * short:.0f} % of the runways on fewer "
            f"than {MIN_CLEAR_DATES} dates clear of cloud and snow (median "
            f"{int(np.median(count))} of {len(comp.attrs.get('dates', [])) or '?'} read): "
            "pavement cannot be told from bare ground there, so few zones will be found. "
            "Widen the period: a full year evens out snow and cloud."),
            stacklevel=3)


class _Grid:
    """The composite's transform, CRS, shape and pixel size."""

    def __init__(self, transform: Affine, crs: CRS, shape: tuple[int, int]) -> None:
        self.transform, self.crs, self.shape = transform, crs, shape
        self.res = abs(float(transform.a))


def _grid(comp: xr.Dataset) -> _Grid:
    from geo.zones import grid_transform

    missing = [b for b in ("blue", "green", "red", "nir", "swir16") if b not in comp]
    if missing:
        raise errors.AnalysisError(
            f"The composite lacks band(s) {', '.join(missing)}; build it with "
            "geo.airfield.composite (blue, green, red, nir, swir16 at least).")
    crs_text = comp.attrs.get("crs") or (comp["spatial_ref"].attrs.get("crs_wkt")
                                         if "spatial_ref" in comp.coords else None)
    if not crs_text or "x" not in comp.coords or "y" not in comp.coords:
        raise errors.AnalysisError(
            "The composite has no grid: it needs x/y pixel-centre coordinates and a crs "
            "attribute (e.g. 'EPSG:32642'), as geo.airfield.composite gives.")
    return _Grid(grid_transform(comp), CRS.from_user_input(crs_text),
                 (comp.sizes["y"], comp.sizes["x"]))


def _rasterize(geoms: list[BaseGeometry], grid: _Grid, all_touched: bool = False) -> np.ndarray:
    from rasterio.features import rasterize

    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(grid.shape, dtype=bool)
    return rasterize([(g, 1) for g in geoms], out_shape=grid.shape, transform=grid.transform,
                     all_touched=all_touched, fill=0, dtype="uint8").astype(bool)


def _gap_px(res: float) -> int:
    return max(0, int(round(CONNECT_GAP_M / (2 * res))))


def _connected_to(mask: np.ndarray, seeds: np.ndarray, gap_px: int = 0) -> np.ndarray:
    """Pixels of ``mask`` 8-connected to ``seeds``, across gaps up to ``2 * gap_px``."""
    from scipy import ndimage

    grown = ndimage.binary_dilation(mask, iterations=gap_px) if gap_px else mask
    labels, _ = ndimage.label(grown, structure=np.ones((3, 3)))
    keep = np.unique(labels[seeds & mask])
    return mask & np.isin(labels, keep[keep > 0])


def _parallel_strips(mask: np.ndarray, runways: gpd.GeoDataFrame, grid: _Grid) -> np.ndarray:
    """Long narrow paved strips parallel to a runway at taxiway separation from it.

    Their connectors (narrow, often mixed with soil at 10 m) may be missed; a strip
    this long, this straight, this close and parallel is the runway's taxiway.
    """
    from scipy import ndimage

    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    out = np.zeros(mask.shape, dtype=bool)
    min_px = PARALLEL_TAXIWAY["min_length_m"] * 2 / grid.res  # at least ~2 px wide
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None or (labels[sl] == i).sum() < min_px:
            continue
        part = np.zeros(mask.shape, dtype=bool)
        part[sl] = labels[sl] == i
        strip = _strip(_outline(part, grid))
        if strip and any(_beside(strip, rw) for rw in runways.geometry):
            out |= part
    return out


def _strip(geom: BaseGeometry) -> tuple[float, float, float, BaseGeometry] | None:
    """(length, width, bearing in degrees 0-180, centreline) of a long narrow shape."""
    rect = geom.minimum_rotated_rectangle
    if rect.geom_type != "Polygon":
        return None
    xs, ys = np.asarray(rect.exterior.coords.xy)
    edges = [(xs[k + 1] - xs[k], ys[k + 1] - ys[k]) for k in range(2)]
    long_e, short_e = sorted(edges, key=lambda e: -math.hypot(*e))
    length, width = math.hypot(*long_e), math.hypot(*short_e)
    if length < PARALLEL_TAXIWAY["min_length_m"] or width > 2 * TAXIWAY_MAX_WIDTH_M:
        return None
    bearing = math.degrees(math.atan2(long_e[0], long_e[1])) % 180.0
    c = rect.centroid
    ux, uy = long_e[0] / length, long_e[1] / length
    line = shapely.LineString([(c.x - ux * length / 2, c.y - uy * length / 2),
                               (c.x + ux * length / 2, c.y + uy * length / 2)])
    return length, width, bearing, line


def _beside(strip: tuple[float, float, float, BaseGeometry], runway: BaseGeometry) -> bool:
    """Is the strip parallel to the runway, within taxiway separation, alongside it?"""
    rw = _strip_any(runway)
    if rw is None:
        return False
    turn = abs(strip[2] - rw[2]) % 180.0
    if min(turn, 180.0 - turn) > PARALLEL_TAXIWAY["max_angle_deg"]:
        return False
    line, axis = strip[3], rw[3]
    gap = axis.distance(line.interpolate(0.5, normalized=True))
    along = [axis.project(shapely.Point(p)) for p in line.coords]
    overlap = min(max(along), axis.length) - max(min(along), 0.0)
    return gap <= PARALLEL_TAXIWAY["max_separation_m"] and overlap >= 0.5 * line.length


def _strip_any(geom: BaseGeometry) -> tuple[float, float, float, BaseGeometry] | None:
    """Like :func:`_strip`, for a runway (any width)."""
    rect = geom.minimum_rotated_rectangle
    xs, ys = np.asarray(rect.exterior.coords.xy)
    edges = [(xs[k + 1] - xs[k], ys[k + 1] - ys[k]) for k in range(2)]
    long_e = max(edges, key=lambda e: math.hypot(*e))
    length = math.hypot(*long_e)
    if length == 0:
        return None
    c = rect.centroid
    ux, uy = long_e[0] / length, long_e[1] / length
    line = shapely.LineString([(c.x - ux * length / 2, c.y - uy * length / 2),
                               (c.x + ux * length / 2, c.y + uy * length / 2)])
    return length, min(math.hypot(*e) for e in edges), math.degrees(
        math.atan2(long_e[0], long_e[1])) % 180.0, line


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius**2 + radius


def _split_by_width(network: np.ndarray, res: float, max_width_m: float,
                    min_area_m2: float) -> tuple[np.ndarray, np.ndarray]:
    """Label images of wide (apron) and narrow, elongated (taxiway) paved pieces."""
    from scipy import ndimage

    radius = max(1, math.ceil(max_width_m / (2 * res)))
    wide = ndimage.binary_opening(network, structure=_disk(radius))
    wide_lab, n_wide = ndimage.label(wide, structure=np.ones((3, 3)))
    sizes = ndimage.sum(wide, wide_lab, index=np.arange(1, n_wide + 1)) * res * res
    aprons = np.where(np.isin(wide_lab, 1 + np.flatnonzero(sizes >= min_area_m2)), wide_lab, 0)
    narrow = network & ~ndimage.binary_dilation(aprons > 0)
    nar_lab, _ = ndimage.label(narrow, structure=np.ones((3, 3)))
    edt = ndimage.distance_transform_edt(narrow)
    keep = []
    for i, sl in enumerate(ndimage.find_objects(nar_lab), start=1):
        if sl is None:
            continue
        part = nar_lab[sl] == i
        width_px = max(2 * float(np.percentile(edt[sl][part], 95)) - 1, 1.0)
        length_m = part.sum() / width_px * res
        if length_m >= TAXIWAY_MIN_LENGTH_M and length_m / (width_px * res) >= TAXIWAY_MIN_ELONGATION:
            keep.append(i)
    taxiways = np.where(np.isin(nar_lab, keep), nar_lab, 0)
    return aprons, taxiways


def _zones_of(labels: np.ndarray, kind: str, grid: _Grid, ev: dict[str, np.ndarray],
              comp: xr.Dataset, period: str, min_area_m2: float) -> list[dict[str, Any]]:
    """One zone per labelled piece: its outline (UTM), source, confidence and evidence."""
    from scipy import ndimage

    count = (np.asarray(comp["clear_count"].values, float) if "clear_count" in comp
             else np.full(grid.shape, float(CONFIDENT_DATES)))
    zones = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        mask = np.zeros(grid.shape, dtype=bool)
        mask[sl] = labels[sl] == i
        geom = _outline(mask, grid)
        if geom.is_empty:
            continue
        scores = _scores(mask, ev, count, geom.area, min_area_m2)
        zones.append({"kind": kind, "geometry": geom,
                      "source": f"found in imagery {period}",
                      "confidence": round(float(np.mean(list(scores.values()))), 2),
                      **{k: round(v, 2) for k, v in scores.items()},
                      "clear_dates": int(np.median(count[mask]))})
    return sorted(zones, key=lambda z: -z["geometry"].area)


def _outline(mask: np.ndarray, grid: _Grid) -> BaseGeometry:
    from rasterio.features import shapes

    polys = [shapely.geometry.shape(g) for g, v in
             shapes(mask.astype("uint8"), mask=mask, transform=grid.transform) if v == 1]
    geom = shapely.union_all(polys).simplify(grid.res / 2)
    return shapely.make_valid(geom) if not geom.is_valid else geom


def _scores(mask: np.ndarray, ev: dict[str, np.ndarray], count: np.ndarray, area: float,
            min_area_m2: float) -> dict[str, float]:
    """Strength of each kind of evidence over a zone, each 0-1."""
    def med(name: str) -> float:
        vals = ev[name][mask]
        vals = vals[np.isfinite(vals)]
        return float(np.median(vals)) if vals.size else math.nan

    def clip(x: float) -> float:
        return float(min(max(x, 0.0), 1.0)) if math.isfinite(x) else 0.0

    lo, hi = SWIR_RED_SOIL
    grey = (0.75 * clip((RED_BLUE_MAX - med("red_blue")) / (RED_BLUE_MAX - 1.0))
            + 0.25 * clip((hi - med("swir_red")) / (hi - lo)))
    dates = clip(float(np.median(count[mask])) / CONFIDENT_DATES)
    return {"grey": grey, "smooth": clip(1 - med("texture") / TEXTURE_MAX),
            "stable": clip(1 - med("spread") / SPREAD_MAX) * dates,
            "size": clip(area / (4 * min_area_m2))}


def _with_zones(aoi: AOI, zones: list[dict[str, Any]], crs: CRS, period: str) -> AOI:
    """The AOI with ``zones`` (UTM geometries) added, clipped to its perimeter."""
    fc = aoi.to_geojson()
    taken = {f["properties"]["name"] for f in fc["features"]}
    perimeter = aoi.perimeter
    geoms = gpd.GeoSeries([z.pop("geometry") for z in zones], crs=crs).to_crs(4326)
    counts = {"apron": 0, "taxiway": 0, "runway": 0}
    for zone, geom in zip(zones, geoms, strict=True):
        clipped = _polygonal(geom.intersection(perimeter))
        if clipped is None:
            continue
        kind = zone["kind"]
        counts[kind] += 1
        name = f"{kind}_found_{counts[kind]}"
        while name in taken:
            counts[kind] += 1
            name = f"{kind}_found_{counts[kind]}"
        taken.add(name)
        fc["features"].append({"type": "Feature", "geometry": mapping(clipped),
                               "properties": {"name": name, **zone}})
    fc["properties"] = {**fc.get("properties", {}), "zones_found": (
        f"imagery {period}: {counts['apron']} apron(s), {counts['taxiway']} taxiway(s), "
        f"{counts['runway']} runway(s) (geo.airfield)")}
    large = aoi_mod._area_km2(perimeter) > aoi_mod.MAX_SITE_AREA_KM2
    return aoi_mod.from_geojson(fc, name=aoi.name, allow_large=large,
                                label=f"{aoi.name} with zones found in imagery")


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The (Multi)Polygon part of a geometry, or None when it has no area."""
    if geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def find_runways(comp: xr.Dataset, site: AOI, *, period: str | None = None) -> AOI:
    """Find runways in a composite: long, straight, uniform paved strips.

    Paved pixels (:func:`paved_evidence`) lose what is wider than the widest runway
    (aprons, by an opening with a 90 m disk) and then one pixel of their edge, which
    cuts the narrow taxiways and connectors away from the runways; each remaining piece
    whose minimum rotated rectangle is at least :data:`RUNWAY_MIN_LENGTH_M` long,
    :data:`RUNWAY_WIDTH_M` wide (edge restored) and :data:`RUNWAY_MIN_ELONGATION`
    times longer than wide is a runway.

    Parameters
    ----------
    comp
        A composite from :func:`composite`.
    site
        The AOI (its perimeter bounds the search); found runways are added to it.
    period
        Text for the zones' ``source``; default the composite's period.

    Returns
    -------
    AOI
        ``site`` plus zones ``runway_found_<n>`` (longest first) with ``source``,
        ``confidence`` and evidence, as in :func:`find_zones`.

    Raises
    ------
    geo.errors.AnalysisError
        No paved strip qualifies; the message gives the longest one seen.

    Examples
    --------
    >>> site = bbox_aoi("69.24,34.92,69.29,34.97", name="new_field")  # doctest: +SKIP
    >>> find_runways(composite(site, "scenario/", "2021-01-01", "2021-12-31"), site)  # doctest: +SKIP
    """
    from scipy import ndimage

    grid = _grid(comp)
    ev = paved_evidence(comp)
    inside = _rasterize([site.zones_utm().geometry.iloc[0]], grid)
    paved = ev["paved"] & inside
    wide = ndimage.binary_opening(paved, structure=_disk(math.ceil(RUNWAY_WIDTH_M[1]
                                                                   / (2 * grid.res))))
    core = ndimage.binary_erosion(paved & ~wide, structure=np.ones((3, 3)))
    labels, _ = ndimage.label(core, structure=np.ones((3, 3)))
    found, longest = [], 0.0
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        part = np.zeros(grid.shape, dtype=bool)
        part[sl] = labels[sl] == i
        part = ndimage.binary_dilation(part, structure=np.ones((3, 3))) & paved
        strip = _strip_any(_outline(part, grid))
        if strip is None:
            continue
        length, width = strip[0], part.sum() * grid.res**2 / strip[0]
        longest = max(longest, length)
        lo, hi = RUNWAY_WIDTH_M
        if (length >= RUNWAY_MIN_LENGTH_M and lo <= width <= hi
                and length / width >= RUNWAY_MIN_ELONGATION):
            found.append(part)
    if not found:
        raise errors.AnalysisError(
            f"No runway found in the imagery of {site.name!r}: no straight paved strip "
            f"of {RUNWAY_MIN_LENGTH_M:.0f} m or more (longest {longest:.0f} m). "
            "Check the box covers the airfield, widen the period, or give its ICAO code.")
    labels = np.zeros(grid.shape, dtype=np.int32)
    for k, part in enumerate(found, start=1):
        labels[part & (labels == 0)] = k
    label = period or f"{comp.attrs.get('start', '?')} to {comp.attrs.get('end', '?')}"
    zones = _zones_of(labels, "runway", grid, ev, comp, label, APRON_MIN_AREA_M2)
    return _with_zones(site, zones, grid.crs, label)


def make_aoi(
    code_or_bbox: str | Sequence[float],
    source: str | Path = "earth-search",
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    name: str | None = None,
    store: Store | str | Path | None = None,
    offline: bool = False,
    max_cloud: float | None = 60.0,
    max_dates: int = MAX_DATES,
    controls: int = 2,
    progress: bool = True,
) -> AOI:
    """An airfield's AOI from its ICAO code or a bounding box, zones found in imagery.

    With a code, runways and the perimeter come from :func:`geo.aoi.from_icao`; with a
    box (``W,S,E,N`` degrees, or four numbers) the perimeter is the box and runways are
    found in the imagery too (:func:`find_runways`). Then a composite
    (:func:`composite`) gives taxiways and aprons (:func:`find_zones`) and control
    squares of bare ground off-site (:func:`geo.aoi.pick_controls`).

    Parameters
    ----------
    code_or_bbox
        An ICAO code (``"OAKN"``) or a bounding box.
    source
        The imagery source (see :func:`geo.search`).
    start, end
        The period of the composite (default: the latest year with imagery).
    name
        The AOI's name (default: the code in lower case; required with a box).
    store, offline, max_cloud, max_dates, progress
        As for :func:`composite`.
    controls
        Control squares to pick (0 for none). When none qualifies the AOI is returned
        without them and a :class:`geo.errors.GeoWarning` says so.

    Returns
    -------
    AOI
        A normal AOI: save it with ``json.dump(aoi.to_geojson(), ...)``, edit it, and
        load it back with :func:`geo.aoi.load`.

    Raises
    ------
    geo.errors.AOIError
        An unknown code, a malformed or too large box, or a box without a name.
    geo.errors.NoImagery
        No clear imagery in the period.

    Examples
    --------
    >>> aoi = make_aoi("OAIX", "scenario/", start="2021-01-01", end="2021-12-31")  # doctest: +SKIP
    >>> sorted(set(aoi.zones.kind))  # doctest: +SKIP
    ['apron', 'control', 'perimeter', 'runway', 'taxiway']
    """
    site = _start_site(code_or_bbox, name)
    comp = composite(site, source, start, end, store=store, offline=offline,
                     max_cloud=max_cloud, max_dates=max_dates, progress=progress)
    if not (site.zones["kind"] == "runway").any():
        site = find_runways(comp, site)
    found = find_zones(comp, site)
    found.properties["composite"] = (f"{len(comp.attrs['dates'])} dates "
                                     f"{comp.attrs['start']} to {comp.attrs['end']} from "
                                     f"{comp.attrs['source']}")
    return _add_controls(found, comp, controls)


def _start_site(code_or_bbox: str | Sequence[float], name: str | None) -> AOI:
    if isinstance(code_or_bbox, str) and "," not in code_or_bbox:
        return aoi_mod.from_icao(code_or_bbox, name=name)
    if not name:
        raise errors.MissingProperty(
            f"A bounding box ({code_or_bbox}) needs a name for its AOI: pass name= "
            "(--name NAME), e.g. the place or a code of your own.")
    return bbox_aoi(code_or_bbox, name=name)


def _add_controls(found: AOI, comp: xr.Dataset, n: int) -> AOI:
    if n <= 0:
        return found
    try:
        return aoi_mod.pick_controls(found, comp, n=n, max_distance_m=DEFAULT_MARGIN_M)
    except errors.AnalysisError as exc:
        warnings.warn(errors.GeoWarning(
            f"AOI {found.name!r} has no control zone: {exc} Its activity index will not "
            "be normalised; draw a control square of bare ground by hand."), stacklevel=3)
        return found
