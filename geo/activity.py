"""Activity index: how far each zone departs from its empty state, date by date.

Method
------
For every activity zone (aprons, revetments, parking, yards; optionally runways and
taxiways) and every date the index is the fraction of the zone's clear pixels that depart
significantly from that pixel's own *empty-state baseline*. Step by step:

1. **Pixels.** The zone's bounding box (plus a margin) is pulled out of the stack a block
   of dates at a time (:func:`geo.stats.extract_cubes`); cloud, shadow, cirrus, snow (SCL
   and an NDSI test), saturated and nodata pixels are NaN.
2. **Gain from a control zone** (season, sun elevation, calibration). Per date and band
   ``g = median over the control's clear pixels of (obs / control baseline)``, where the
   control baseline is the per-pixel median over dates of obs divided by that date's
   control median. Every observation of the site is divided by ``g`` and so expressed in
   units of the control's brightness. Without a control zone each zone is normalised by
   its own median brightness instead. A brightness factor
   applied to a whole date (site and control alike) cancels exactly. The default control
   is the least vegetated ``control`` zone of the AOI (bare ground behaves like concrete;
   farmland does not). Dates whose control is cloudy take the gain of the nearest clear
   date and say so in ``note``.
3. **Per-pixel baseline** = median of the normalised clear observations of the reference
   period (``reference``: by default the site's quietest regime, found from the aprons'
   aircraft-scale texture, else all dates; or a period, or one date), per season (dates within
   ``season_days`` of the same day of year, in any year) where enough observations exist,
   which absorbs seasonal shadows of fixed structures. Whatever is there in most
   reference images, painted decoys, hangars, revetment walls, parked wrecks, *is* the
   empty state and never counts as activity.
4. **Zone shift** (haze, wet ground, BRDF). The median residual over the zone's pixels
   (trimmed at 3 robust sigma) is subtracted per date and band. Haze brightens blue far
   more than near-infrared: dates where the control's blue gain exceeds its nir gain by
   more than ``haze_limit`` (relative) are flagged as hazy (without a control: the zone's
   blue shift relative to its baseline).
5. **Misregistration tolerance.** A pixel only departs where it falls outside the
   min..max of the baseline over its ``(2 tolerance + 1)^2`` neighbourhood, so an image
   shifted by up to ``tolerance`` pixels (Sentinel-2 co-registration is good to ~5 m)
   does not light up edges.
6. **Score** = max over bands of (departure / per-pixel robust spread), where the spread
   is 1.4826 x the median absolute residual over the reference dates (per season where
   enough dates exist), floored at ``noise_floor`` (of the control's brightness) and 2 %
   of the baseline. Every step is a ratio or an order statistic, so the scores do not
   change when a date, or the whole stack, is made uniformly brighter or darker.
7. **Index.** Pixels scoring above ``threshold`` form 8-connected components; components
   smaller than ``min_pixels`` are noise. ``activity_index`` = anomalous pixels / clear
   zone pixels, with ``activity_low`` / ``activity_high`` at 1.25 x and 1 / 1.25 x the
   threshold as a sensitivity band. For parking and yards (sub-pixel vehicles,
   containers) the threshold is ``occupancy_threshold`` and single pixels count: the
   index is the occupancy of the lot. For aprons and revetments ``objects`` counts
   aircraft-plausible components (:func:`geo.objects.find_objects`).
8. **Own cloud mask.** The SCL misses thin cloud, soft cloud-shadow edges and haze
   patches; they depart over areas far larger than an aircraft. Where more than half of
   a 9 x 9 pixel window departs, the pixels (grown by two) are masked as not clear in
   aprons, revetments, runways, taxiways and controls; parking and yard rows are flagged
   when much of the rest of the site was masked so (a full car park is broad too).
9. **Flags.** Dates with less than ``min_clear`` of a zone clear are flagged (``cloud``,
   ``snow``, ``no data``), as are hazy ones; they keep their row and their (less
   reliable) numbers, they are never dropped. ``control_activity`` is the same index on
   the control zone: the date's false-alarm level.

Memory: the empty state (the control's per-pixel reference, steps 3 and 6's baseline,
spread and envelope) is fitted to at most ``baseline_dates`` dates: all of them for a
short stack, otherwise the least cloudy date of each of ``baseline_dates`` equal runs of
the reference dates (every season of every year is sampled). Every date is then scored
against that fit a block of ``block`` dates at a time, so a ten-year stack needs no more
memory than a two-year one. Stacks of up to ``baseline_dates`` dates are scored exactly
as if fitted to every date.

Own cloud mask, the other way round: the SCL (Sen2Cor) calls bright concrete and arid
ground cloud on some dates. Pixels it calls cloud or cirrus, and the margins grown around
its clouds and snow, are scored against their empty state like any other and masked only
where they show the signs of cloud (brighter than their empty state in blue, and white
or hazy: :func:`cloud_signs`), grown by one pixel; a patch mostly showing them is a real
cloud and stays masked whole. What is counted clear so is said in ``note``.

Defaults, and where they come from
----------------------------------
Every default is set from the sensor or the objects, not fitted to a scenario;
``benchmarks/accuracy.py --sensitivity`` shows how the figures move when each key one
is scaled by 0.8 and 1.25.

- ``threshold = 5`` robust sigmas: a Gaussian tail beyond 5 sigma is 3e-7, so a zone of
  10,000 pixels over 365 dates expects about one false pixel in a whole review (and
  ``min_pixels = 2`` removes it). A grey aircraft (reflectance 0.10-0.15) on concrete
  (0.19-0.28) departs by 0.05-0.15 on a fully covered pixel, 12-35 times the 0.004
  spread floor: a pixel a third covered still clears 5 sigma.
- ``occupancy_threshold = 4.5``: single pixels count in parking lots and yards, where
  cars are sub-pixel (a car covers 8 % of a pixel); slightly below ``threshold`` because
  many cars in one pixel add up to a smaller departure than an aircraft's.
- ``min_object_pixels = 6`` and ``pixels_per_aircraft = 15``: an aircraft of 30 m span
  covers about 4 pixels with its shadow and mixed edges bringing it to 6 or more; a
  C-17 (52 x 53 m) with its shadow covers about 15 (:mod:`geo.objects`).
- ``noise_floor = 0.02`` of the control's brightness (0.004 reflectance on bare ground):
  the radiometric noise of Sentinel-2 L2A over bright ground (SNR above 100).
- ``tolerance = 1`` pixel: Sentinel-2 multi-temporal co-registration is better than
  one 10 m pixel (about 5 m, DESIGN.md section 3).
- ``season_days = 45``: the sun's elevation at mid latitudes moves by up to about 15
  degrees in 45 days, which changes the shadows of fixed structures.
- ``min_obs = 5``: the smallest sample whose median survives two outliers.
- ``min_clear = 0.7``: a zone less than 70 % visible can hide a third of its stands.
- ``broad_threshold = 3``, ``broad_window = 9``: an aircraft (at most 5 x 5 pixels)
  never fills half of a 9 x 9 window; a cloud or its shadow does.
- ``haze_limit = 0.3``: haze brightens blue far more than near-infrared; a 30 %
  relative excess is far beyond calibration drift (about 1 %).
- ``max_cloud_share = 0.5`` and the signs of :func:`cloud_signs` (Fmask's whiteness
  0.7 and haze-optimised transform 0.08, Zhu & Woodcock 2012): a real cloud brightens
  most of what it covers; a false one brightens nothing.
- ``baseline_dates = 96``: memory, not accuracy (about two dates a month over four
  years; every season of every year is sampled).

Limits: 10 m pixels resolve large aircraft only (see :mod:`geo.objects`); something that
stays in place for most of the reference period belongs to the baseline; a busy
reference period hides activity: the default finds a quiet regime where the imagery
shows one, but a site that was never empty has none (choose ``reference`` when the empty
period is known).

Examples
--------
>>> from geo.testing.stacks import Aircraft, make_stack, small_aoi
>>> aoi = small_aoi()
>>> ds = make_stack(aoi, 12, aircraft=[Aircraft(x=-150, y=150, wingspan=45, dates=[3])])
>>> df = activity_index(ds, aoi, season_days=None)
>>> apron = df[df["zone"] == "apron_test"].set_index("date")
>>> int(apron["objects"].iloc[3]), float(apron["activity_index"].drop(apron.index[3]).max())
(1, 0.0)
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from geo import errors
from geo.aoi import ACTIVITY_KINDS, AOI
from geo.objects import components, find_objects
from geo.stats import Cube, clear_fraction_flags, extract_cubes, iter_cubes

__all__ = ["ZoneScores", "ActivityResult", "analyse", "activity_index", "COLUMNS"]

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = (
    "date", "zone", "kind", "activity_index", "activity_low", "activity_high", "objects",
    "anomalous_area_m2", "clear_fraction", "snow_fraction", "clear_pixels", "zone_pixels",
    "control_activity", "ndvi", "flagged", "flag_reason", "note", "item_id",
)
"""Columns of :func:`activity_index`'s table, in order."""

OBJECT_KINDS = ("apron", "revetment")
SIGN_GROW = 1
"""Pixels by which :func:`_false_cloud` grows the pixels with signs of cloud: one, the
co-registration tolerance; the signs are tested on 10 m pixels, not on the SCL's 20 m."""
OCCUPANCY_KINDS = ("parking", "yard")
ReferenceLike = Any  # None | date-like | (start, end)


@dataclass
class ZoneScores:
    """Per-pixel anomaly scores of one zone over time.

    Attributes
    ----------
    zone, kind
        Zone name and kind.
    score
        ``float32 (time, y, x)``: robust standard deviations beyond the baseline
        envelope, NaN where not clear.
    mask
        ``bool (y, x)``: inside the zone.
    x, y
        Pixel-centre coordinates of the box.
    clear_fraction, snow_fraction
        Per date, of the zone.
    shift
        ``(time, band)`` zone shift subtracted (reflectance).
    ndvi
        Per date, median NDVI of the zone's clear pixels (NaN without red/nir).
    recovered
        Per date, the fraction of the zone that was suspect (called cloud by the SCL, or
        in the margin grown around its clouds and snow) and was counted as clear (see
        :func:`_false_cloud`).
    """

    zone: str
    kind: str
    score: np.ndarray
    mask: np.ndarray
    x: np.ndarray
    y: np.ndarray
    clear_fraction: np.ndarray
    snow_fraction: np.ndarray
    shift: np.ndarray
    ndvi: np.ndarray
    recovered: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def valid(self, t: int) -> np.ndarray:
        """Pixels of date ``t`` that count: clear and inside the zone."""
        return np.isfinite(self.score[t]) & self.mask

    def to_dataarray(self, times: Sequence[Any]) -> xr.DataArray:
        """The scores as a DataArray (time, y, x), NaN outside the zone."""
        data = np.where(self.mask[None], self.score, np.nan)
        return xr.DataArray(data, dims=("time", "y", "x"),
                            coords={"time": list(times), "y": self.y, "x": self.x},
                            name=f"anomaly_{self.zone}")


@dataclass
class ActivityResult:
    """Everything :func:`analyse` measured.

    Attributes
    ----------
    table
        One row per (date, zone): see :data:`COLUMNS`.
    objects
        One row per aircraft-plausible object: ``date, zone, kind, x, y, area_px,
        area_m2, length_m, width_m, elongation, peak_score, count, flagged``.
    scores
        Zone name -> :class:`ZoneScores` (controls included); empty when
        :func:`analyse` ran with ``keep_scores=False``.
    gain
        ``(time, band)`` control gain used: the control's brightness per date, so the
        normalised observations are in units of the control's brightness.
    control
        Control zone names used (empty without normalisation).
    """

    table: pd.DataFrame
    objects: pd.DataFrame
    scores: dict[str, ZoneScores] = field(repr=False)
    gain: np.ndarray = field(repr=False)
    control: list[str] = field(default_factory=list)


# --- small numerics ---------------------------------------------------------------------

def nanmedian(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """Median ignoring NaN along one axis (sort-based: fast for many short series)."""
    a = np.moveaxis(np.asarray(a, dtype=np.float32), axis, 0)
    n = np.isfinite(a).sum(axis=0)
    if a.shape[0] == 0:
        return np.full(a.shape[1:], np.nan, dtype=np.float32)
    s = np.sort(a, axis=0)  # NaN sort last
    lo = np.clip((n - 1) // 2, 0, None)[None]
    hi = np.clip(n // 2, 0, a.shape[0] - 1)[None]
    med = 0.5 * (np.take_along_axis(s, lo, 0)[0] + np.take_along_axis(s, hi, 0)[0])
    return np.where(n > 0, med, np.nan).astype(np.float32)


def _fill_time(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Fill rows of ``values`` (time, k) where ``ok`` is False from the nearest ok row."""
    if ok.all() or not ok.any():
        return values
    idx = np.arange(len(ok))
    good = idx[ok]
    nearest = good[np.abs(idx[:, None] - good[None, :]).argmin(axis=1)]
    return values[nearest]


def reference_dates(times: pd.DatetimeIndex, reference: ReferenceLike) -> np.ndarray:
    """Mask of the dates an empty state is fitted to: all for None or ``"auto"`` (the
    caller then narrows ``"auto"`` to the quiet regime), a (start, end) period, or dates.

    Shared by the optical index and :func:`geo.sar.sar_activity`.
    """
    if reference is None or (isinstance(reference, str) and reference == "auto"):
        return np.ones(len(times), dtype=bool)
    if isinstance(reference, (tuple, list)) and len(reference) == 2:
        start, end = (pd.Timestamp(r) for r in reference)
        sel = np.asarray((times >= start) & (times <= end))
        what = f"period {start.date()}..{end.date()}"
    else:
        when = pd.Timestamp(reference)
        sel = np.zeros(len(times), dtype=bool)
        sel[int(np.abs((times - when).days).argmin())] = True
        what = f"date {when.date()}"
    if not sel.any():
        raise errors.AnalysisError(
            f"The reference {what} holds no date of the stack ({times.min().date()}.."
            f"{times.max().date()}); pick a reference inside it."
        )
    return sel


def _seasons(times: pd.DatetimeIndex, season_days: float | None
             ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Season of each date and, per season, which dates are within ``season_days``."""
    if not season_days:
        return np.zeros(len(times), dtype=int), [np.ones(len(times), dtype=bool)]
    centres = np.arange(12) * 365.25 / 12 + 15
    doy = times.day_of_year.to_numpy()
    dist = np.abs(doy[:, None] - centres[None, :])
    dist = np.minimum(dist, 365.25 - dist)
    return dist.argmin(axis=1), [dist[:, s] <= season_days for s in range(12)]


def _ndvi(cube: Cube) -> np.ndarray:
    if not {"red", "nir"} <= set(cube.bands):
        return np.full(cube.data.shape[0], np.nan)
    clear = cube.clear[:, cube.mask]
    r = np.where(clear, cube.data[:, cube.bands.index("red")][:, cube.mask], np.nan)
    n = np.where(clear, cube.data[:, cube.bands.index("nir")][:, cube.mask], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (n - r) / (n + r)
    out = np.full(v.shape[0], np.nan)
    has = np.isfinite(v).any(axis=1)
    out[has] = nanmedian(v[has], axis=1)
    return out


# --- gain ---------------------------------------------------------------------------------

def _gain_pixels(cubes: Sequence[Cube], min_clear: float) -> tuple[np.ndarray, np.ndarray]:
    """The gain zones' pixels ``(T, band, P)`` and which dates are at least ``min_clear`` clear."""
    data = np.concatenate([c.data[:, :, c.mask] for c in cubes], axis=2)
    clear = np.concatenate([c.clear[:, c.mask] for c in cubes], axis=1)
    data[np.broadcast_to(~clear[:, None], data.shape)] = np.nan
    return data, clear.mean(axis=1) >= min_clear


def _gain_base(data: np.ndarray, ok: np.ndarray, zones: Sequence[str], min_clear: float
               ) -> np.ndarray | None:
    """Per-pixel brightness ``(band, P)`` of the gain zone(s) relative to each date's median.

    ``data, ok`` come from :func:`_gain_pixels`. ``None`` (with a warning) when no date
    is at least ``min_clear`` clear.
    """
    if not ok.any():
        warnings.warn(
            f"The control zone(s) {', '.join(zones)} are never at least "
            f"{min_clear:.0%} clear; no gain normalisation is applied.",
            errors.CloudyDateWarning, stacklevel=4,
        )
        return None
    per_date = nanmedian(data[ok], axis=2)  # (n_ok, nb)
    return nanmedian(data[ok] / per_date[:, :, None], axis=0)


def _gain_dates(data: np.ndarray, base: np.ndarray | None) -> np.ndarray:
    """Per (date, band) gain of the dates of ``data`` (NaN where unknown)."""
    if base is None:
        return np.ones(data.shape[:2], dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return nanmedian(data / base[None], axis=2)


def _fill_gain(gain: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Dates whose gain zone was not clear take the gain of the nearest clear date."""
    return _fill_time(gain, ok & np.isfinite(gain).all(axis=1)).astype(np.float32)


def _pick_control(cubes: dict[str, Cube]) -> str:
    ndvi = {}
    for name, c in cubes.items():
        v = _ndvi(c)
        ndvi[name] = float(np.nanmedian(v)) if np.isfinite(v).any() else np.inf
    best = min(ndvi, key=lambda k: ndvi[k])
    log.info("control zone %s chosen (median NDVI %.2f)", best, ndvi[best])
    return best


# --- scores ---------------------------------------------------------------------------------

@dataclass
class _Options:
    reference: np.ndarray
    season_of: np.ndarray
    windows: list[np.ndarray]
    tolerance: int
    noise_floor: float
    min_obs: int


def _baselines(norm: np.ndarray, opts: _Options) -> tuple[np.ndarray, np.ndarray]:
    """Per-season baselines (season, band, y, x) and the all-season one (band, y, x)."""
    ref = opts.reference
    overall = nanmedian(norm[ref], axis=0)
    seasonal = np.empty((len(opts.windows), *overall.shape), dtype=np.float32)
    for s, win in enumerate(opts.windows):
        sel = ref & win
        if len(opts.windows) == 1:
            seasonal[s] = overall
            continue
        med = nanmedian(norm[sel], axis=0)
        count = np.isfinite(norm[sel]).sum(axis=0)
        seasonal[s] = np.where(count >= opts.min_obs, med, overall)
    return seasonal, overall


def _envelope(seasonal: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """How far the baseline's neighbourhood max/min reach above/below each pixel."""
    if tolerance <= 0:
        zero = np.zeros_like(seasonal)
        return zero, zero
    size = (1, 1, 2 * tolerance + 1, 2 * tolerance + 1)
    finite = np.isfinite(seasonal)
    hi = ndimage.maximum_filter(np.where(finite, seasonal, -np.inf), size=size, mode="nearest")
    lo = ndimage.minimum_filter(np.where(finite, seasonal, np.inf), size=size, mode="nearest")
    up = np.where(finite, hi - seasonal, 0.0)
    down = np.where(finite, seasonal - lo, 0.0)
    return up.astype(np.float32), down.astype(np.float32)


def _zone_shift(resid: np.ndarray, mask: np.ndarray, spread: np.ndarray | None) -> np.ndarray:
    """Per (date, band) median residual over the zone (trimmed at 3 sigma if spread)."""
    inside = resid[:, :, mask]  # (T, nb, P)
    if spread is not None:
        first = nanmedian(inside, axis=2)
        z = np.abs(inside - first[:, :, None]) / spread[:, :, mask]
        inside = np.where(z < 3, inside, np.nan)
        out = nanmedian(inside, axis=2)
        return np.where(np.isfinite(out), out, first)
    return nanmedian(inside, axis=2)


def _spread(resid: np.ndarray, overall: np.ndarray, opts: _Options) -> np.ndarray:
    """Robust per-pixel spread (season, band, y, x) of the residuals, floored and smoothed."""
    ref = opts.reference if opts.reference.sum() >= 10 else np.ones_like(opts.reference)
    absr = np.abs(resid)
    every = 1.4826 * nanmedian(absr[ref], axis=0)
    out = np.empty((len(opts.windows), *every.shape), dtype=np.float32)
    for s, win in enumerate(opts.windows):
        sel = ref & win
        if len(opts.windows) == 1 or sel.sum() < 2 * opts.min_obs:
            out[s] = every
            continue
        med = 1.4826 * nanmedian(absr[sel], axis=0)
        n = np.isfinite(absr[sel]).sum(axis=0)
        out[s] = np.where(n >= 2 * opts.min_obs, med, every)
    floor = np.maximum(opts.noise_floor, 0.02 * np.abs(np.nan_to_num(overall)))
    out = np.where(np.isfinite(out), np.maximum(out, floor[None]), floor[None])
    # a spread estimated from a few dozen dates is noisy: lift pixels below their
    # neighbourhood's median, so unlucky low estimates do not raise false alarms
    local = ndimage.median_filter(out, size=(1, 1, 3, 3), mode="nearest")
    return np.maximum(out, local).astype(np.float32)


@dataclass
class _Model:
    """A zone's empty state: per-season baseline, spread and envelope ``(season, band, y, x)``."""

    seasonal: np.ndarray
    spread: np.ndarray
    up: np.ndarray
    down: np.ndarray


def _fit(cube: Cube, gain: np.ndarray, opts: _Options) -> _Model:
    """Fit a zone's empty state to the dates of ``cube`` (those of ``opts``)."""
    norm = cube.clear_only(cube.data / gain[:, :, None, None])
    seasonal, overall = _baselines(norm, opts)
    resid = norm - seasonal[opts.season_of]
    del norm
    shift = _zone_shift(resid, cube.mask, None)
    resid -= shift[:, :, None, None]
    spread = _spread(resid, overall, opts)
    del resid
    up, down = _envelope(seasonal, opts.tolerance)
    return _Model(seasonal=seasonal, spread=spread, up=up, down=down)


def _score(cube: Cube, gain: np.ndarray, season_of: np.ndarray, model: _Model,
           cloud_test: tuple[float, float] | None = None) -> ZoneScores:
    """Anomaly scores of the dates of ``cube`` against the zone's fitted empty state.

    Pixels the SCL alone calls cloud (``cube.suspect``) are scored too, then kept only
    where :func:`_false_cloud` (with ``cloud_test = (threshold, max_share)``) finds no
    sign of cloud; ``None`` keeps none of them (the SCL is trusted).
    """
    resid = cube.data / gain[:, :, None, None]
    resid -= model.seasonal[season_of]
    spread_t = model.spread[season_of]
    suspect = cube.suspect if cube.suspect is not None and cube.suspect.any() else None
    clear_resid = resid if suspect is None else cube.clear_only(resid.copy())
    shift = _zone_shift(clear_resid, cube.mask, spread_t)
    del clear_resid
    if suspect is not None:  # no clear pixel to measure haze by: judge the SCL's clouds as they are
        shift = np.where(np.isfinite(shift), shift, 0.0).astype(np.float32)
    resid -= shift[:, :, None, None]
    up_t = model.up[season_of]
    departure = np.maximum(resid - up_t, -resid - model.down[season_of])
    keep = np.zeros(cube.clear.shape, bool)
    if suspect is not None and cloud_test is not None:
        keep = _false_cloud(cube, resid, up_t, spread_t, suspect, *cloud_test)
    del resid, up_t
    np.maximum(departure, 0.0, out=departure)
    with np.errstate(invalid="ignore"):
        departure /= spread_t
        all_nan = np.isnan(departure).all(axis=1)
        score = np.where(all_nan, np.nan,
                         np.nanmax(np.where(np.isnan(departure), -np.inf, departure), axis=1))
    if suspect is not None:
        score[suspect & ~keep] = np.nan
    recovered = (keep & cube.mask).sum(axis=(1, 2)) / max(cube.n_pixels, 1)
    return ZoneScores(
        zone=cube.zone, kind=cube.kind, score=score.astype(np.float32), mask=cube.mask,
        x=cube.x, y=cube.y, clear_fraction=cube.clear_fraction() + recovered,
        snow_fraction=cube.snow_fraction(), shift=shift, ndvi=_ndvi(cube),
        recovered=recovered,
    )


def cloud_signs(blue_rise: np.ndarray, blue: np.ndarray, green: np.ndarray, red: np.ndarray,
                threshold: float) -> np.ndarray:
    """Pixels with the spectral signs of cloud or haze over their usual ground.

    A cloud, thin cloud or haze *brightens* what lies under it, most of all in blue, and
    makes it *white*. A pixel shows the signs when its blue is brighter than its own
    empty state by more than ``threshold`` robust spreads (``blue_rise``, in spreads)
    and it is either white (the visible bands within 70 % of their mean: Fmask's
    whiteness test, Zhu & Woodcock 2012) or hazy (the haze-optimised transform
    ``blue - 0.5 red > 0.08``, Zhang et al. 2002, as used by Fmask). Bright concrete or
    desert on an ordinary day is not brighter than its own empty state, so it never
    shows them, however bright and white it is: that is how the SCL's false clouds are
    told from real ones. Dark objects (aircraft, shadows) darken and never show them.

    Examples
    --------
    >>> import numpy as np
    >>> rise = np.array([0.0, 40.0, 40.0])     # concrete as usual; a cloud; yellow paint
    >>> blue, green, red = (np.array([0.19, 0.55, 0.25]), np.array([0.21, 0.55, 0.40]),
    ...                     np.array([0.23, 0.56, 0.55]))
    >>> cloud_signs(rise, blue, green, red, 5.0).tolist()
    [False, True, False]
    """
    mean = (blue + green + red) / 3
    with np.errstate(divide="ignore", invalid="ignore"):
        whiteness = (np.abs(blue - mean) + np.abs(green - mean) + np.abs(red - mean)) / mean
    hazy = blue - 0.5 * red > 0.08
    return np.asarray((blue_rise > threshold) & ((whiteness < 0.7) | hazy))


def _false_cloud(cube: Cube, resid: np.ndarray, up: np.ndarray, spread: np.ndarray,
                 suspect: np.ndarray, threshold: float, max_share: float) -> np.ndarray:
    """Which suspect pixels to count as clear: those with no sign of cloud near them.

    ``resid``, ``up`` and ``spread`` are ``(time, band, y, x)``: each pixel's departure
    from its empty state, the envelope above it, and its robust spread; only blue's are
    used (how far above the envelope, in spreads). Within the suspect pixels (the SCL's clouds and the
    two-pixel margins grown around them and around snow), the cloud mask is drawn again
    from what the pixels show: pixels with :func:`cloud_signs`, grown by
    :data:`SIGN_GROW` pixel, stay masked; the rest count as clear. Each 8-connected patch of
    suspect pixels on a date is also judged as a whole: where more than ``max_share`` of
    it shows the signs it is a real cloud, and none of it is kept (a cloud's thin parts
    need not show the signs one pixel at a time). Bright ground the SCL mistook for
    cloud is not brighter than its own empty state, so it is kept whole; an aircraft or
    a vehicle on it departs from the empty state but darkens, so it is kept and scored.
    Returns ``bool (time, y, x)``.

    Limit: a white aircraft on grey pavement is brighter and whiter than its empty state
    too, so under a false cloud it stays masked with its margin: a lost detection, never
    a false one (keeping small bright blobs instead counts snow remnants as aircraft).
    """
    keep = np.zeros(suspect.shape, bool)
    if not {"blue", "green", "red"} <= set(cube.bands):
        return keep
    b, g, r = (cube.bands.index(k) for k in ("blue", "green", "red"))
    with np.errstate(invalid="ignore"):
        rise = (resid[:, b] - up[:, b]) / spread[:, b]
        signs = cloud_signs(rise, cube.data[:, b], cube.data[:, g], cube.data[:, r],
                            threshold) & suspect
    eight = np.ones((3, 3), bool)
    for t in np.flatnonzero(suspect.any(axis=(1, 2))):
        label, n = ndimage.label(suspect[t], structure=eight)
        size = np.bincount(label.ravel(), minlength=n + 1)
        cloudy = np.bincount(label.ravel(), weights=signs[t].ravel(), minlength=n + 1)
        seen = np.bincount(label.ravel(), weights=np.isfinite(rise[t]).ravel(),
                           minlength=n + 1)
        false_patch = (cloudy <= max_share * size) & (seen >= 0.5 * size)
        false_patch[0] = False
        near_signs = ndimage.binary_dilation(signs[t], structure=eight, iterations=SIGN_GROW)
        keep[t] = false_patch[label] & ~near_signs
    return keep


def _join(parts: Sequence[ZoneScores]) -> ZoneScores:
    """One zone's scores of consecutive blocks of dates, joined along time."""
    first = parts[0]
    return ZoneScores(
        zone=first.zone, kind=first.kind, mask=first.mask, x=first.x, y=first.y,
        **{k: np.concatenate([getattr(p, k) for p in parts])
           for k in ("score", "clear_fraction", "snow_fraction", "shift", "ndvi",
                     "recovered")},
    )


def _mask_broad(zs: ZoneScores, threshold: float, window: int) -> np.ndarray:
    """Mask departures broader than any aircraft (cloud, cloud shadow, haze the SCL missed).

    A pixel is *broad* where more than half of the ``window x window`` pixels around it
    score above ``threshold``; an aircraft (at most ~5 x 5 pixels at 10 m) never fills
    half of a 9 x 9 window, a cloud or its shadow does. Broad pixels, grown by two
    pixels, are set to NaN (not clear). Returns the per-date fraction of the zone masked.
    """
    valid = np.isfinite(zs.score)
    hot = np.where(valid, zs.score > threshold, False).astype(np.float32)
    share = ndimage.uniform_filter(hot, size=(1, window, window), mode="constant")
    cover = ndimage.uniform_filter(valid.astype(np.float32), size=(1, window, window),
                                   mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        broad = (share / np.maximum(cover, 1e-6) > 0.5) & (cover > 0.25)
    if not broad.any():
        return np.zeros(zs.score.shape[0])
    broad = ndimage.binary_dilation(broad, structure=np.ones((1, 5, 5), bool))
    masked = broad & valid & zs.mask[None]
    zs.score[broad] = np.nan
    n = max(int(zs.mask.sum()), 1)
    frac = masked.sum(axis=(1, 2)) / n
    zs.clear_fraction = np.maximum(zs.clear_fraction - frac, 0.0)
    return frac


# --- index -----------------------------------------------------------------------------------

def _fraction(zs: ZoneScores, t: int, threshold: float, min_pixels: int) -> tuple[float, int]:
    valid = zs.valid(t)
    n = int(valid.sum())
    if n == 0:
        return float("nan"), 0
    anomalous = (np.nan_to_num(zs.score[t]) > threshold) & valid
    if min_pixels > 1:
        _, sizes = components(anomalous, min_pixels)
        count = int(sizes.sum())
    else:
        count = int(anomalous.sum())
    return count / n, count


def _haze(gain: np.ndarray, bands: Sequence[str]) -> np.ndarray:
    """Per date, relative excess brightening of blue over nir in the control (a haze sign)."""
    if "blue" not in bands or "nir" not in bands:
        return np.zeros(gain.shape[0])
    b, n = bands.index("blue"), bands.index("nir")
    rel = gain / np.nanmedian(gain, axis=0)
    return np.asarray(rel[:, b] / rel[:, n] - 1.0)


def _own_haze(zs: ZoneScores, bands: Sequence[str]) -> np.ndarray:
    """Without a control: the zone's blue shift, relative to paved ground's blue (~0.2)."""
    if "blue" not in bands or "nir" not in bands:
        return np.zeros(zs.shift.shape[0])
    return np.asarray(zs.shift[:, bands.index("blue")] / 0.2)


def _zone_rows(zs: ZoneScores, times: pd.DatetimeIndex, ids: np.ndarray, p: dict[str, Any],
               control: ZoneScores | None, ctrl_ok: np.ndarray, res: float, haze: np.ndarray,
               masked: np.ndarray | None, site_broad: np.ndarray
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    occupancy = zs.kind in OCCUPANCY_KINDS
    k = p["occupancy_threshold"] if occupancy else p["threshold"]
    min_px = 1 if occupancy else p["min_pixels"]
    flagged, reasons = clear_fraction_flags(zs.clear_fraction, zs.snow_fraction, p["min_clear"])
    rows, objs = [], []
    for t in range(len(times)):
        frac, count = _fraction(zs, t, k, min_px)
        low, _ = _fraction(zs, t, k * 1.25, min_px)
        high, _ = _fraction(zs, t, k / 1.25, min_px)
        reason, flag = reasons[t], bool(flagged[t])
        if np.isfinite(haze[t]) and haze[t] > p["haze_limit"]:
            flag, reason = True, "; ".join(filter(None, [reason, f"haze: +{haze[t]:.0%} blue"]))
        notes = [] if ctrl_ok[t] else ["control zone not clear: gain of nearest clear date"]
        if zs.recovered.size and zs.recovered[t] >= 0.005:
            notes.append(f"{zs.recovered[t]:.0%} of the zone that the SCL called cloud (or the "
                         "edge of snow) counted as clear: no sign of cloud over its empty state")
        if masked is not None and masked[t] >= 0.005:
            notes.append(f"{masked[t]:.0%} of the zone masked as cloud, shadow or haze the "
                         "SCL missed")
            if masked[t] >= p["max_masked"] and not flag:
                # what is left next to a large masked patch is often its faint edge
                flag, reason = True, (f"cloud: {masked[t]:.0%} masked as cloud, shadow or "
                                      "haze the SCL missed")
        if masked is None and site_broad[t] > p["max_site_broad"]:
            flag = True
            reason = "; ".join(filter(None, [reason, f"site {site_broad[t]:.0%} under cloud, "
                                                     "shadow or haze the SCL missed"]))
        found: list[dict[str, Any]] = []
        if zs.kind in OBJECT_KINDS:
            found = find_objects(zs.score[t], zs.valid(t), threshold=k, resolution=res,
                                 min_pixels=p["min_object_pixels"],
                                 pixels_per_aircraft=p["pixels_per_aircraft"], x=zs.x, y=zs.y)
            for o in found:
                objs.append({"date": times[t], "zone": zs.zone, "kind": zs.kind, **o,
                             "flagged": flag})
        ctrl = float("nan")
        if control is not None:
            ctrl, _ = _fraction(control, t, k, min_px)
        rows.append({
            "date": times[t], "zone": zs.zone, "kind": zs.kind, "activity_index": frac,
            "activity_low": low, "activity_high": high,
            "objects": sum(o["count"] for o in found) if zs.kind in OBJECT_KINDS else pd.NA,
            "anomalous_area_m2": count * res * res,
            "clear_fraction": float(zs.clear_fraction[t]),
            "snow_fraction": float(zs.snow_fraction[t]),
            "clear_pixels": int(zs.valid(t).sum()), "zone_pixels": int(zs.mask.sum()),
            "control_activity": ctrl, "ndvi": float(zs.ndvi[t]), "flagged": flag,
            "flag_reason": reason,
            "note": "; ".join(notes),
            "item_id": str(ids[t]),
        })
    return rows, objs


def _site_broad(scores: dict[str, ZoneScores], masked: dict[str, np.ndarray]) -> np.ndarray:
    """Per date, the area-weighted share of the (non-parking) zones masked as broad."""
    if not masked:
        return np.zeros(next(iter(scores.values())).score.shape[0])
    w = np.array([scores[n].mask.sum() for n in masked], dtype=float)
    return np.asarray(sum(f * wi for f, wi in zip(masked.values(), w)) / w.sum())


def _texture(cube: Cube) -> np.ndarray:
    """Per date, the zone's aircraft-scale texture beyond what never changes.

    Each clear pixel's departure from the median of its 7 x 7 neighbourhood, relative to
    the zone's median brightness that date (so sun and calibration cancel), less that
    pixel's own 20th percentile over the dates (markings, joints, kerbs: the texture
    that is always there), averaged over the zone. Parked aircraft and their shadows are
    3-6 pixel blobs on smooth pavement: they raise it; an empty apron leaves only noise.
    NaN where less than half of the zone is clear.
    """
    vis = [cube.bands.index(b) for b in ("blue", "green", "red") if b in cube.bands]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels and dates
        bright = np.nanmean(cube.clear_only(cube.data[:, vis or slice(None)].copy()), axis=1)
        inside = np.where(cube.mask[None], bright, np.nan)
        level = nanmedian(inside.reshape(len(inside), -1), axis=1)
        filled = np.where(np.isfinite(bright), bright, np.nan_to_num(level)[:, None, None])
        smooth = ndimage.median_filter(filled, size=(1, 7, 7), mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            rough = np.abs(inside - smooth) / level[:, None, None]
        always = np.nanpercentile(rough, 20, axis=0)
        excess = np.clip(rough - always[None], 0, None)
        out = np.nanmean(excess.reshape(len(excess), -1), axis=1)
    seen = np.isfinite(inside).reshape(len(inside), -1).sum(axis=1) / max(cube.n_pixels, 1)
    return np.where(seen >= 0.5, out, np.nan)


def _resample(walk: _Walk, cubes: dict[str, Cube], read: np.ndarray, wanted: np.ndarray
              ) -> dict[str, Cube]:
    """The cubes of the dates ``wanted``: taken from those already ``read`` when they are
    all among them (a short stack), else read again."""
    where = np.searchsorted(read, wanted)
    if np.all(where < len(read)) and np.array_equal(read[np.minimum(where, len(read) - 1)],
                                                    wanted):
        return {n: _take(c, where) for n, c in cubes.items()}
    return walk.extract(wanted)


def _take(c: Cube, dates: np.ndarray | slice) -> Cube:
    """A cube's dates at positions ``dates`` (a slice gives views, no copy)."""
    return Cube(zone=c.zone, kind=c.kind, data=c.data[dates], clear=c.clear[dates],
                snow=c.snow[dates], mask=c.mask, x=c.x, y=c.y, bands=c.bands,
                suspect=None if c.suspect is None else c.suspect[dates])


def _reference_basis(times: pd.DatetimeIndex, ref: np.ndarray, reference: ReferenceLike
                     ) -> str:
    """In words, which dates the empty state is fitted to (before any quiet regime)."""
    if reference is None:
        return "every date"
    if isinstance(reference, str) and reference == "auto":
        return "every date (the imagery shows no quieter regime)"
    chosen = times[ref]
    return f"the reference {chosen.min():%Y-%m-%d} to {chosen.max():%Y-%m-%d}"


def _quiet_regime(cubes: dict[str, Cube], times: pd.DatetimeIndex, min_dates: int = 12,
                  min_days: float = 0.0) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The first and last date of the site's quietest regime, if it has one.

    The aprons' aircraft-scale texture (:func:`_texture`, weighted by zone size; the
    revetments' where there is no apron) is segmented by
    :func:`geo.when.change_points`, with its rules for a real change of regime; the
    regime with the lowest median texture is the quietest. ``None`` when there is no
    change of regime, or the quietest holds fewer than ``min_dates`` or spans fewer than
    ``min_days`` (a regime that misses a season would leave that season's shadows
    without an empty state).
    """
    from geo.when import change_points

    # aprons first: revetments' walls cast shadows that change with the season
    zones = ([c for c in cubes.values() if c.kind == "apron"]
             or [c for c in cubes.values() if c.kind in OBJECT_KINDS])
    if not zones:
        return None
    tex = np.array([_texture(c) for c in zones])
    weight = np.array([c.n_pixels for c in zones], float)[:, None] * np.isfinite(tex)
    with np.errstate(invalid="ignore", divide="ignore"):
        site = np.nansum(np.nan_to_num(tex) * weight, axis=0) / weight.sum(axis=0)
    series = pd.Series(site, index=times).dropna()
    try:
        found = change_points(series).table
    except errors.AnalysisError:
        return None
    if found.empty:
        return None
    edges = [series.index[0], *found["first_after"], series.index[-1] + pd.Timedelta(days=1)]
    regimes = [series[(series.index >= a) & (series.index < b)]
               for a, b in itertools.pairwise(edges)]
    quiet = min(regimes, key=lambda r: float(r.median()))
    if len(quiet) < min_dates or (quiet.index[-1] - quiet.index[0]).days < min_days:
        return None
    return quiet.index[0], quiet.index[-1]


def _sample_dates(stack: xr.Dataset, reference: np.ndarray, limit: int | None) -> np.ndarray:
    """Positions of the dates the empty state is fitted to: all, or ``limit`` of them.

    With more dates than ``limit``, the reference dates are cut into ``limit`` equal runs
    and the least cloudy date of each run is kept (``cloud_cover`` of the item), so the
    sample covers every season of every year. At least ten dates are kept (the spread
    needs them): non-reference dates make up the number when the reference is shorter.
    """
    n = len(reference)
    if limit is None or n <= limit:
        return np.arange(n)
    cloud = (np.asarray(stack["cloud_cover"].to_numpy(), dtype=float)
             if "cloud_cover" in stack.coords else np.zeros(n))
    cloud = np.where(np.isfinite(cloud), cloud, 100.0)

    def pick(candidates: np.ndarray, k: int) -> np.ndarray:
        if len(candidates) <= k:
            return candidates
        return np.array([run[np.argmin(cloud[run])] for run in np.array_split(candidates, k)])

    chosen = pick(np.flatnonzero(reference), limit)
    if len(chosen) < 10:
        chosen = np.concatenate([chosen, pick(np.flatnonzero(~reference), limit - len(chosen))])
    return np.sort(chosen)


@dataclass
class _Walk:
    """How to walk the stack: which zones, bands, margin and dates per block."""

    stack: xr.Dataset
    aoi: AOI
    zones: list[str]
    bands: Sequence[str] | None
    margin: int
    block: int

    def blocks(self, zones: Sequence[str] | None = None
               ) -> Iterator[tuple[np.ndarray, dict[str, Cube]]]:
        return iter_cubes(self.stack, self.aoi, list(zones or self.zones), bands=self.bands,
                          margin=self.margin, block=self.block, keep_suspect=True)

    def extract(self, dates: np.ndarray) -> dict[str, Cube]:
        return extract_cubes(self.stack, self.aoi, self.zones, bands=self.bands,
                             margin=self.margin, block=self.block, dates=dates,
                             keep_suspect=True)


def _in_memory(cubes: dict[str, Cube], block: int) -> Iterator[tuple[np.ndarray, dict[str, Cube]]]:
    """Blocks of dates of cubes already in memory (views, no copy)."""
    nt = next(iter(cubes.values())).data.shape[0]
    for start in range(0, nt, block):
        sl = slice(start, min(start + block, nt))
        yield np.arange(sl.start, sl.stop), {n: _take(c, sl) for n, c in cubes.items()}


def _gains(walk: _Walk, cubes: dict[str, Cube], groups: dict[str, list[str]], every_date: bool,
           nt: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per gain group, the ``(time, band)`` gain of every date and which dates were clear.

    The per-pixel reference of each group comes from ``cubes`` (the sample dates); when
    those are not all the dates, the stack is walked once more for the groups' zones.
    """
    sample = {g: _gain_pixels([cubes[n] for n in members], 0.5)
              for g, members in groups.items()}
    bases = {g: _gain_base(*sample[g], members, 0.5) for g, members in groups.items()}
    if every_date:
        raw = {g: (_gain_dates(data, bases[g]), ok) for g, (data, ok) in sample.items()}
    else:
        del sample
        nb = next(iter(cubes.values())).data.shape[1]
        raw = {g: (np.full((nt, nb), np.nan, np.float32), np.zeros(nt, bool)) for g in groups}
        needed = list(dict.fromkeys(n for members in groups.values() for n in members))
        for idx, part in walk.blocks(needed):
            for g, members in groups.items():
                data, ok = _gain_pixels([part[n] for n in members], 0.5)
                raw[g][0][idx], raw[g][1][idx] = _gain_dates(data, bases[g]), ok
    return {g: (gain if bases[g] is None else _fill_gain(gain, ok), ok)
            for g, (gain, ok) in raw.items()}


def _walk_scores(
    blocks: Iterator[tuple[np.ndarray, dict[str, Cube]]], names: Sequence[str],
    gain_of: Callable[[str, np.ndarray], np.ndarray], season_of: np.ndarray,
    models: dict[str, _Model], params: dict[str, Any], ctrl_names: Sequence[str],
    ctrl_ok: np.ndarray, haze: np.ndarray | None, bands: Sequence[str],
    times: pd.DatetimeIndex, ids: np.ndarray, res: float, broad: tuple[float, int],
    keep_scores: bool, cloud_test: tuple[float, float] | None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]],
           dict[str, list[ZoneScores]]]:
    """Score every block of dates against the fitted empty state: rows, objects, scores."""
    rows: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    objs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    kept: dict[str, list[ZoneScores]] = {n: [] for n in models}
    for idx, part in blocks:
        scores = {n: _score(c, gain_of(n, idx), season_of[idx], models[n], cloud_test)
                  for n, c in part.items()}
        masked = {n: _mask_broad(zs, *broad) for n, zs in scores.items()
                  if zs.kind not in OCCUPANCY_KINDS}
        site_broad = _site_broad(scores, masked)
        ctrl_scores = scores[ctrl_names[0]] if ctrl_names else None
        for n in names:
            zone_haze = haze[idx] if haze is not None else _own_haze(scores[n], bands)
            r, o = _zone_rows(scores[n], times[idx], ids[idx], params, ctrl_scores,
                              ctrl_ok[idx], res, zone_haze, masked.get(n), site_broad)
            rows[n] += r
            objs[n] += o
        if keep_scores:
            for n, zs in scores.items():
                kept[n].append(zs)
    return rows, objs, kept


def zone_names(aoi: AOI, kinds: Sequence[str], zones: Sequence[str] | None) -> list[str]:
    """Names of the AOI's zones of the given kinds (only ``zones`` if given), checked."""
    z = aoi.zones
    names = [n for n, k in zip(z["name"], z["kind"])
             if k in kinds and (zones is None or n in zones)]
    if not names:
        raise errors.AnalysisError(
            f"AOI {aoi.name!r} has no zone of kind {', '.join(kinds)}"
            + (f" named {', '.join(zones)}" if zones else "")
            + f"; its zones are {', '.join(z['name'])}."
        )
    return names


def control_names(aoi: AOI, control: str | Sequence[str] | bool | None) -> list[str]:
    """The control zones to use: all of kind control (None/True), none (False), or named."""
    if control is False:
        return []
    if control is None or control is True:
        return [n for n, k in zip(aoi.zones["name"], aoi.zones["kind"]) if k == "control"]
    names = [control] if isinstance(control, str) else list(control)
    missing = [n for n in names if n not in set(aoi.zones["name"])]
    if missing:
        raise errors.AnalysisError(
            f"Control zone(s) {', '.join(missing)} not in AOI {aoi.name!r}; use one of "
            f"{', '.join(aoi.zones.loc[aoi.zones['kind'] == 'control', 'name'])}."
        )
    return names


def analyse(
    stack: xr.Dataset,
    aoi: AOI,
    *,
    reference: ReferenceLike = "auto",
    kinds: Sequence[str] = ACTIVITY_KINDS,
    zones: Sequence[str] | None = None,
    control: str | Sequence[str] | bool | None = None,
    season_days: float | None = 45.0,
    tolerance: int = 1,
    threshold: float = 5.0,
    occupancy_threshold: float = 4.5,
    min_pixels: int = 2,
    min_object_pixels: int = 6,
    pixels_per_aircraft: float = 15.0,
    min_clear: float = 0.7,
    haze_limit: float = 0.3,
    broad_threshold: float = 3.0,
    broad_window: int = 9,
    max_site_broad: float = 0.05,
    max_masked: float = 0.1,
    recover_clouds: bool = True,
    max_cloud_share: float = 0.5,
    noise_floor: float = 0.02,
    min_obs: int = 5,
    bands: Sequence[str] | None = None,
    block: int = 8,
    baseline_dates: int | None = 96,
    keep_scores: bool = True,
) -> ActivityResult:
    """Activity index, objects and per-pixel anomaly scores in one pass.

    Same parameters as :func:`activity_index`, plus ``keep_scores``: keep every zone's
    per-pixel scores of every date in :attr:`ActivityResult.scores` (memory grows with
    the dates; ``False`` keeps only the tables). Returns an :class:`ActivityResult`.

    Examples
    --------
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> aoi = small_aoi()
    >>> res = analyse(make_stack(aoi, 6), aoi, season_days=None)
    >>> res.control, len(res.objects)
    (['control_test'], 0)
    """
    names = zone_names(aoi, kinds, zones)
    ctrl_names = control_names(aoi, control)
    if baseline_dates is not None and baseline_dates < 12:
        raise errors.AnalysisError(
            f"baseline_dates={baseline_dates} is too few to fit a seasonal empty state; "
            "use at least 12 (the default is 96), or None for every date."
        )
    times = pd.DatetimeIndex(stack["time"].to_numpy())
    ref = reference_dates(times, reference)
    walk = _Walk(stack, aoi, list(dict.fromkeys([*names, *ctrl_names])), bands,
                 tolerance + 2, block)
    sample = _sample_dates(stack, ref, baseline_dates)
    cubes = walk.extract(sample)
    basis = _reference_basis(times, ref, reference)
    if isinstance(reference, str) and reference == "auto":
        # every seasonal window (+-season_days) must hold reference dates
        quiet = _quiet_regime(cubes, times[sample],
                              min_days=365.25 - 2 * season_days if season_days else 0.0)
        if quiet is not None:
            basis = (f"the quietest regime found in the imagery, {quiet[0]:%Y-%m-%d} to "
                     f"{quiet[1]:%Y-%m-%d}")
            log.info("empty state fitted to %s", basis)
            ref = reference_dates(times, quiet)
            wanted = _sample_dates(stack, ref, baseline_dates)
            cubes, sample = _resample(walk, cubes, sample, wanted), wanted
    every_date = len(sample) == len(times)
    if not every_date:
        log.info("empty state fitted to %d of %d dates", len(sample), len(times))
    if control is None and len(ctrl_names) > 1:
        ctrl_names = [_pick_control({n: cubes[n] for n in ctrl_names})]
    if not ctrl_names:
        log.warning("no control zone: each zone is normalised by its own median brightness")
    groups = {"control": ctrl_names} if ctrl_names else {n: [n] for n in names}
    gains = _gains(walk, cubes, groups, every_date, len(times))
    group_of = {n: "control" if ctrl_names else n for n in walk.zones}
    season_of, windows = _seasons(times, season_days)
    opts = _Options(ref[sample], season_of[sample], [w[sample] for w in windows], tolerance,
                    noise_floor, min_obs)
    models = {n: _fit(cubes[n], gains[group_of[n]][0][sample], opts) for n in walk.zones}
    band_names = next(iter(cubes.values())).bands
    blocks = _in_memory(cubes, block) if every_date else walk.blocks()
    del cubes
    gain, ctrl_ok = (gains["control"] if ctrl_names else
                     (np.ones((len(times), len(band_names)), np.float32),
                      np.ones(len(times), bool)))
    params = {"threshold": threshold, "occupancy_threshold": occupancy_threshold,
              "min_pixels": min_pixels, "min_object_pixels": min_object_pixels,
              "pixels_per_aircraft": pixels_per_aircraft, "min_clear": min_clear,
              "haze_limit": haze_limit, "max_site_broad": max_site_broad,
              "max_masked": max_masked}
    res = float(abs(stack["x"].values[1] - stack["x"].values[0])) if stack.sizes["x"] > 1 else 10.0
    ids = (stack["item_id"].to_numpy() if "item_id" in stack.coords
           else np.full(len(times), "", dtype=object))
    haze = _haze(gain, band_names) if ctrl_names else None
    rows, objs, kept = _walk_scores(
        blocks, names, lambda n, idx: gains[group_of[n]][0][idx], season_of, models, params,
        ctrl_names, ctrl_ok, haze, band_names, times, ids, res,
        (broad_threshold, broad_window), keep_scores,
        (threshold, max_cloud_share) if recover_clouds else None,
    )
    table = pd.DataFrame([r for n in names for r in rows[n]], columns=list(COLUMNS))
    table["objects"] = table["objects"].astype("Int64")
    table.attrs["reference"] = basis
    obj_cols = ["date", "zone", "kind", "x", "y", "area_px", "area_m2", "length_m", "width_m",
                "elongation", "peak_score", "count", "flagged"]
    n_flag = int(table["flagged"].sum())
    if n_flag:
        warnings.warn(f"{n_flag} of {len(table)} (date, zone) rows are flagged (cloud, snow or "
                      "haze); see the flag_reason column", errors.CloudyDateWarning, stacklevel=2)
    return ActivityResult(
        table=table, objects=pd.DataFrame([o for n in names for o in objs[n]], columns=obj_cols),
        scores={n: _join(parts) for n, parts in kept.items() if parts}, gain=gain,
        control=ctrl_names,
    )


def activity_index(
    stack: xr.Dataset,
    aoi: AOI,
    *,
    reference: ReferenceLike = "auto",
    kinds: Sequence[str] = ACTIVITY_KINDS,
    zones: Sequence[str] | None = None,
    control: str | Sequence[str] | bool | None = None,
    season_days: float | None = 45.0,
    tolerance: int = 1,
    threshold: float = 5.0,
    occupancy_threshold: float = 4.5,
    min_pixels: int = 2,
    min_object_pixels: int = 6,
    pixels_per_aircraft: float = 15.0,
    min_clear: float = 0.7,
    haze_limit: float = 0.3,
    broad_threshold: float = 3.0,
    broad_window: int = 9,
    max_site_broad: float = 0.05,
    max_masked: float = 0.1,
    recover_clouds: bool = True,
    max_cloud_share: float = 0.5,
    noise_floor: float = 0.02,
    min_obs: int = 5,
    bands: Sequence[str] | None = None,
    block: int = 8,
    baseline_dates: int | None = 96,
) -> pd.DataFrame:
    """Per zone and date, how far each activity zone departs from its empty state.

    See the module docstring for the method. Works on lazy stacks: dates are computed a
    block at a time and only the zones' pixels are kept.

    Parameters
    ----------
    stack
        Stack from :func:`geo.load` (dims time, y, x; reflectance bands; ``clear``/``snow``).
    aoi
        Its AOI.
    reference
        Which dates define the empty state: ``"auto"`` (the default: the site's
        quietest regime, found in the imagery, see below; all dates when it has no
        change of regime), ``None`` (all dates; fine when most dates are empty), a
        ``(start, end)`` period, or one date. With ``"auto"``, the aprons' and
        revetments' aircraft-scale texture (parked aircraft are 3-6 pixel blobs on
        smooth pavement) is segmented into regimes by :func:`geo.when.change_points`,
        and the regime with the least texture is the reference: a site busy for years
        and then quiet is measured against its quiet years, not against a median that
        holds its aircraft.
    kinds
        Zone kinds to measure (add ``"runway"``, ``"taxiway"`` for the disuse signal).
    zones
        Only these zone names.
    control
        Control zone name(s); ``None`` picks the least vegetated ``control`` zone;
        ``False`` disables the control normalisation.
    season_days
        Half-width (days of year) of the seasonal baseline window; ``None`` for one
        baseline over the whole reference.
    tolerance
        Misregistration tolerance in pixels.
    threshold
        Anomaly score (robust sigmas) above which an apron/revetment pixel departs.
    occupancy_threshold
        The same for parking and yards (where single pixels count).
    min_pixels
        Smallest component counted in the apron/revetment index.
    min_object_pixels, pixels_per_aircraft
        Aircraft detection (see :func:`geo.objects.find_objects`).
    min_clear
        Clear fraction below which a (date, zone) is flagged.
    haze_limit
        Relative excess of blue over nir brightening (control gain) above which a date
        is flagged as hazy.
    broad_threshold, broad_window
        Departures above ``broad_threshold`` filling more than half of a
        ``broad_window``-pixel square are broader than any aircraft: cloud, cloud shadow
        or haze the SCL missed. They are masked (not clear) in aprons, revetments,
        runways, taxiways and controls.
    max_masked
        A row whose own cloud mask (above) took this share of the zone or more is
        flagged: the faint edges of what was masked may remain.
    max_site_broad
        Parking and yard rows (where a full lot is legitimately broad) are flagged when
        more than this share of the other zones was masked so on that date.
    recover_clouds, max_cloud_share
        Second-guess the SCL's clouds (it calls bright concrete and arid ground cloud on
        some dates): its cloud mask is drawn again from the pixels, which are masked
        only where they are brighter than their empty state with the spectral signs of
        cloud (:func:`cloud_signs`), and next to such; a patch where more
        than ``max_cloud_share`` shows the signs is a real cloud and stays masked whole.
        ``note`` says how much was counted as clear. ``recover_clouds=False`` trusts
        the SCL.
    noise_floor
        Smallest per-pixel spread, as a fraction of the control zone's brightness in
        the band (0.02 of bare ground's ~0.2 is 0.004 reflectance).
    min_obs
        Fewest clear observations for a seasonal baseline (else the all-season one).
    bands
        Reflectance bands used (default: all six present).
    block
        Dates computed per step.
    baseline_dates
        Most dates the empty state (per-pixel baseline and spread) is fitted to. With
        more reference dates than this, the least cloudy date of each of
        ``baseline_dates`` equal runs of them is used, and every date is then scored
        against that fit a block at a time: memory stays the same however many years
        the stack holds. ``None`` fits to every date (memory grows with the dates).

    Returns
    -------
    pandas.DataFrame
        One row per (date, zone) with the columns of :data:`COLUMNS`; ``objects`` is the
        aircraft count for aprons/revetments and NA for other kinds.
        ``attrs["reference"]`` says in words which dates the empty state was fitted to.

    Raises
    ------
    geo.errors.AnalysisError
        No matching zone, a zone outside the stack, a reference outside the dates, a
        stack in another CRS.

    Examples
    --------
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> aoi = small_aoi()
    >>> df = activity_index(make_stack(aoi, 6), aoi, season_days=None)
    >>> sorted(df["kind"].unique())
    ['apron', 'parking', 'revetment']
    >>> float(df["activity_index"].max())
    0.0
    """
    return analyse(
        stack, aoi, reference=reference, kinds=kinds, zones=zones, control=control,
        season_days=season_days, tolerance=tolerance, threshold=threshold,
        occupancy_threshold=occupancy_threshold, min_pixels=min_pixels,
        min_object_pixels=min_object_pixels, pixels_per_aircraft=pixels_per_aircraft,
        min_clear=min_clear, haze_limit=haze_limit, broad_threshold=broad_threshold,
        broad_window=broad_window, max_site_broad=max_site_broad, max_masked=max_masked,
        recover_clouds=recover_clouds, max_cloud_share=max_cloud_share, noise_floor=noise_floor,
        min_obs=min_obs, bands=bands, block=block, baseline_dates=baseline_dates,
        keep_scores=False,
    ).table
