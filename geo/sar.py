"""Radar activity per zone: Sentinel-1 bright scatterers against each orbit's empty state.

Why radar, and what it sees
---------------------------
A smooth concrete apron reflects C-band radar away from the sensor: it is dark, about
-17 to -20 dB gamma nought. A parked aircraft is metal with corners (fuselage on
ground, tail on fuselage: double bounce) and is among the brightest things in the scene,
about 0 to +10 dB. The contrast is 15-30 dB, far above anything optical imagery offers at
10 m, and clouds, snow and night do not matter. What limits radar is *speckle*: a
multi-looked intensity is the true backscatter times a Gamma(L, 1/L) variable (mean 1),
with L the equivalent number of looks (ENL; 4.4 for Sentinel-1 IW GRD high resolution,
``sar:looks_equivalent_number``). One look of an ENL 4.4 pixel has a spread of about
2.2 dB, so a single date's pixel can be 5 dB above its mean by chance.

Method
------
1. **Per orbit.** Each ``relative_orbit`` sees the site from its own incidence and
   aspect (layover, foreshortening, corner reflectors lit or not), so each gets its own
   per-pixel empty state; dates of different orbits are never compared.
2. **Co-registration.** Planetary Computer RTC items are misplaced by about 20 m
   (2 pixels) on some dates. Each date is shifted back onto its orbit's reference by the
   integer shift within +-``max_shift`` pixels that maximises the correlation of its dB
   image with the reference's over the zones' surroundings (:func:`estimate_shift`);
   the stable bright features (buildings, revetment walls, pavement edges at 7-20 dB
   contrast) dominate the correlation. Done twice: shifted dates are first located
   against a median reference, then the reference is fitted to co-registered dates.
   Why co-register rather than tolerate (the optical index's min..max envelope over a
   neighbourhood): a tolerant detector must accept any pixel as bright as the
   brightest pixel within 2-3 pixels of it, which blinds it next to every hangar and
   revetment wall, exactly where aircraft park; and a building dragged 2 pixels onto a
   dark apron is an aircraft-sized bright blob. Co-registration keeps full sensitivity
   and removes the false blobs. The shift applied is said in ``note``.
3. **Empty state.** Per pixel, the median of the linear intensity over the orbit's
   reference dates, divided by the median of a Gamma(L, 1/L) variable so it estimates
   the mean. The median ignores aircraft present on fewer than half of the reference
   dates. ``reference`` works as in :func:`geo.activity_index`: by default (``"auto"``)
   the site's quietest regime (the apron's share of very bright pixels, segmented by
   :func:`geo.when.change_points`), else all dates; an orbit with too few dates in that
   regime uses all of its dates.
4. **Detector: CFAR on the speckle statistics.** With the observation
   ``I ~ mu Gamma(L, 1/L)`` and the empty state ``E ~ mu Gamma(L_ref, 1/L_ref)`` the
   ratio ``I / E`` follows an F(2L, 2L_ref) distribution whatever ``mu`` is; a pixel is
   *active* when the ratio exceeds the F quantile ``1 - pfa``
   (:func:`cfar_threshold`). ``L_ref`` is that of a median of n looks-L intensities
   (asymptotic variance ``1 / (4 n f(m)^2)``, :func:`reference_looks`: about 0.6 n L).
   Why not a threshold from each pixel's temporal spread (as the optical index does):
   the speckle spread is known from physics, while a spread estimated from the 10-30
   dates of one orbit is itself noisy (its relative error is about 1/sqrt(2n), 15-20 %),
   and an unlucky low estimate makes a false alarm; an aircraft present on a few
   reference dates inflates it and blinds the pixel. The CFAR threshold keeps the
   designed false-alarm rate on every pixel with a speckle-dominated empty state (the
   smooth aprons that matter), is conservative on stable bright targets (less variable
   than speckle), and needs no fit beyond the median. Its weakness, pixels whose
   empty state truly changes (crops, wet soil), is met by the zone level (5.) and the
   control zone (6.).
5. **Zone level.** Per date the ratio is divided by its median over the zone's valid
   pixels (relative to the F distribution's median), so a broad brightening of the whole
   zone (wet pavement, calibration) is not activity. Aircraft fill far less than half of
   a zone, so they do not move the median.
6. **Wet ground.** Rain raises bare soil's backscatter by several dB (dielectric
   constant); smooth pavement changes less. The control zones' level against their own
   empty state measures it: dates where it exceeds ``wet_note_db`` are noted, beyond
   ``wet_flag_db`` flagged (``wet ground``), like the optical index's haze. The zone
   level (5.) already removes what the wet date does to the zone itself.
7. **Index and objects.** Active pixels form 8-connected components; components
   smaller than ``min_pixels`` are noise. ``activity_index`` = active pixels / valid
   zone pixels (``activity_low`` / ``activity_high`` at ``pfa / 10`` and ``pfa * 10``).
   For aprons and revetments ``objects`` counts aircraft-size components
   (:func:`geo.objects.find_objects` on the dB excess over the threshold): an aircraft
   of 15-60 m seen at about 20 m resolution and 10 m pixels is a blob of about 3-40
   pixels; components longer than ``max_single_length_m`` count as several. Parking and
   yards count single pixels (occupancy).
8. **Valid pixels and flags.** A pixel is valid where the date's and the empty state's
   values are finite (RTC has no data in radar shadow, in layover and beyond the swath).
   ``clear_fraction`` is the valid share of the zone; below ``min_clear`` the row is
   flagged ``no data``. ``snow_fraction`` and ``ndvi`` have no radar meaning: NaN.

Defaults, and where they come from
----------------------------------
- ``pfa = 1e-5`` (:data:`PFA`) per pixel and date: an apron of 10,000 pixels sees one
  false pixel every ten dates, and ``min_pixels = 2`` removes isolated ones; the
  threshold is then about 7.5 dB above the empty state (12 reference dates), still 10-25 dB below an
  aircraft on concrete.
- ``enl``: the stack's ``looks_equivalent_number`` coordinate or attribute when present
  (the items' ``sar:looks_equivalent_number``), else estimated per orbit from the
  temporal variance of the log-intensity of the zones over the reference dates
  (``Var ln I = trigamma(L)``, :func:`estimate_enl`), which only overestimates the speckle
  where the ground truly changes (a conservative threshold).
- ``min_object_pixels = 3``, ``pixels_per_aircraft = 12``, ``max_single_length_m = 80``:
  a 15 m aircraft blurred by the 20 m resolution lights about 3 pixels, a C-17 about 20.
- ``max_shift = 3`` pixels: the reported shifts are about 2 pixels.
- ``min_reference_dates = 5``: the smallest sample whose median survives two dates with
  an aircraft on the pixel.
- ``wet_note_db = 1``, ``wet_flag_db = 3``: calibration is stable to about 0.5 dB; soil
  after rain brightens by 2-6 dB.

Limits: a bright object that stays for most of the reference dates is part of the empty
state; aircraft parked against a hangar whose double bounce saturates the pixel may be
missed; sub-pixel residual misregistration remains; zones less than half empty on a date
(a packed ramp) lift the zone level and undercount.

Examples
--------
>>> from geo.testing.radar import make_radar_stack
>>> from geo.testing.stacks import Aircraft, small_aoi
>>> aoi = small_aoi()
>>> ds = make_radar_stack(aoi, 16, aircraft=[Aircraft(x=-150, y=150, wingspan=45, dates=[4])])
>>> df = sar_activity(ds, aoi, reference=None)
>>> apron = df[df["zone"] == "apron_test"].reset_index()
>>> int(apron["objects"].iloc[4]), int(apron["objects"].drop(4).sum())
(1, 0)
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize, special, stats

from geo import errors
from geo.activity import (
    COLUMNS as OPTICAL_COLUMNS,
)
from geo.activity import (
    OBJECT_KINDS,
    OCCUPANCY_KINDS,
    ReferenceLike,
    control_names,
    nanmedian,
    reference_dates,
    zone_names,
)
from geo.aoi import ACTIVITY_KINDS, AOI
from geo.objects import components, find_objects
from geo.zones import zone_masks

__all__ = ["COLUMNS", "PFA", "sar_activity", "cfar_threshold", "reference_looks",
           "estimate_enl", "estimate_shift"]

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = (*OPTICAL_COLUMNS, "sensor", "orbit_state", "relative_orbit")
"""Columns of :func:`sar_activity`'s table: :data:`geo.activity.COLUMNS` plus three."""

PFA = 1e-5
"""Designed false-alarm probability per pixel and date (see the module docstring)."""
MIN_REFERENCE_DATES = 5
"""Fewest reference dates per orbit for a median empty state."""
MIN_PIXEL_OBS = 3
"""Fewest valid reference observations for a pixel to have an empty state."""
MAX_SHIFT = 3
"""Largest geolocation shift (pixels) searched for in co-registration."""
MIN_SHIFT_GAIN = 0.01
"""Correlation a shift must gain over no shift to be applied (noise never does)."""
COREG_MARGIN = 10
"""Pixels around the zones read for co-registration (their surroundings' buildings)."""
MIN_OBJECT_PIXELS = 3
PIXELS_PER_AIRCRAFT = 12.0
MAX_SINGLE_LENGTH_M = 80.0
WET_NOTE_DB = 1.0
WET_FLAG_DB = 3.0
BRIGHT_DB = 10.0
"""A pixel this far above its zone's median (dB) is a bright scatterer (auto reference)."""
ENL_RANGE = (1.0, 50.0)
"""Plausible equivalent numbers of looks; estimates are clipped to it."""
ENL_NAMES = ("looks_equivalent_number", "enl")
"""Coordinate or attribute names read for the ENL."""


# --- speckle statistics -------------------------------------------------------------

def _gamma_median(enl: float) -> float:
    """Median of a Gamma(L, 1/L) variable (mean 1)."""
    return float(stats.gamma.median(enl, scale=1.0 / enl))


def reference_looks(enl: float, n: int | np.ndarray) -> np.ndarray:
    """Equivalent looks of an empty state that is the median of ``n`` dates of ``enl`` looks.

    The sample median of Gamma(L, 1/L) variables is asymptotically normal with variance
    ``1 / (4 n f(m)^2)`` (``f`` the density, ``m`` the median); a gamma variable of the
    same relative variance has ``4 n (m f(m))^2`` looks, about ``0.64 n L`` for large L.

    Examples
    --------
    >>> float(np.round(reference_looks(4.4, 10), 1))
    26.3
    """
    m = _gamma_median(enl)
    f = float(stats.gamma.pdf(m, enl, scale=1.0 / enl))
    return np.asarray(4.0 * np.asarray(n, dtype=float) * (m * f) ** 2)


def cfar_threshold(enl: float, n_reference: int | np.ndarray, pfa: float = PFA) -> np.ndarray:
    """Ratio to the empty state above which a pixel is active at false-alarm rate ``pfa``.

    Under no change the ratio of an observation (``enl`` looks) to an empty state that is
    the median of ``n_reference`` dates follows F(2 L, 2 L_ref) (:func:`reference_looks`).

    Examples
    --------
    >>> k = cfar_threshold(4.4, 12, 1e-5)
    >>> round(float(10 * np.log10(k)), 1)
    7.6
    """
    if not 0 < pfa < 0.5:
        raise errors.AnalysisError(f"pfa={pfa} is not a false-alarm probability; use e.g. 1e-5.")
    lref = reference_looks(enl, np.maximum(np.asarray(n_reference), 1))
    return np.asarray(stats.f.ppf(1.0 - pfa, 2.0 * enl, 2.0 * lref))


def _inverse_trigamma(v: float) -> float:
    lo, hi = ENL_RANGE
    if v >= float(special.polygamma(1, lo)):
        return lo
    if v <= float(special.polygamma(1, hi)):
        return hi
    return float(optimize.brentq(lambda L: float(special.polygamma(1, L)) - v, lo, hi))


def estimate_enl(log_intensity: np.ndarray) -> float:
    """ENL from the temporal spread of natural-log intensities ``(time, pixel)``.

    ``Var ln I = trigamma(L)`` for Gamma(L) speckle. Per pixel the sample variance over
    the dates (a pixel's fixed texture cancels), its median over the pixels (robust to
    the few pixels an aircraft visited), corrected for the median of a chi-square sample
    variance, is inverted. Real change adds variance, so the estimate errs low (a higher,
    safer threshold). Clipped to :data:`ENL_RANGE`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.log(rng.gamma(4.4, 1 / 4.4, (12, 4000)))
    >>> round(estimate_enl(x), 0)
    4.0
    """
    a = np.asarray(log_intensity, dtype=float)
    n = np.isfinite(a).sum(axis=0)
    ok = n >= 3
    if not ok.any():
        raise errors.AnalysisError(
            "Too few valid observations to estimate the ENL (at least 3 dates per pixel); "
            "pass enl= (Sentinel-1 IW GRD: 4.4)."
        )
    var = np.nanvar(a[:, ok], axis=0, ddof=1)
    df = float(np.median(n[ok]) - 1)
    correction = float(stats.chi2.median(df) / df)
    return _inverse_trigamma(float(np.median(var)) / correction)


# --- co-registration ---------------------------------------------------------------

def _filled(img: np.ndarray) -> np.ndarray:
    out = np.clip(img, -30.0, 15.0)
    med = float(np.nanmedian(out)) if np.isfinite(out).any() else 0.0
    return np.where(np.isfinite(out), out, med)


def estimate_shift(image_db: np.ndarray, reference_db: np.ndarray, max_shift: int = MAX_SHIFT
                   ) -> tuple[int, int]:
    """Integer ``(dy, dx)`` by which ``image_db``'s content is displaced from the reference.

    The shift within +-``max_shift`` pixels that maximises the correlation of the two dB
    images (clipped to -30..15 dB, NaN filled with the median) over the reference's
    interior; it must beat no shift by :data:`MIN_SHIFT_GAIN`, else ``(0, 0)``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> ref = rng.normal(-15, 4, (40, 40))
    >>> estimate_shift(np.roll(ref, (2, -1), axis=(0, 1)), ref)
    (2, -1)
    """
    m = max_shift
    img, ref = _filled(image_db), _filled(reference_db)
    ny, nx = ref.shape
    if ny <= 2 * m + 2 or nx <= 2 * m + 2:
        return 0, 0
    r = ref[m:ny - m, m:nx - m].ravel()
    r = (r - r.mean()) / (r.std() or 1.0)
    best, best_c, zero_c = (0, 0), -np.inf, 0.0
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            w = img[m + dy:ny - m + dy, m + dx:nx - m + dx].ravel()
            c = float(np.mean(r * (w - w.mean())) / (w.std() or 1.0))
            if (dy, dx) == (0, 0):
                zero_c = c
            if c > best_c:
                best, best_c = (dy, dx), c
    return best if best_c > zero_c + MIN_SHIFT_GAIN else (0, 0)


def _unshift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move content displaced by ``(dy, dx)`` back; uncovered pixels NaN."""
    if (dy, dx) == (0, 0):
        return img
    out = np.full_like(img, np.nan)
    ny, nx = img.shape
    out[max(-dy, 0):ny - max(dy, 0), max(-dx, 0):nx - max(dx, 0)] = \
        img[max(dy, 0):ny + min(dy, 0), max(dx, 0):nx + min(dx, 0)]
    return out


def _median_db(lin: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(10 * np.log10(nanmedian(lin)))


def _coregister(lin: np.ndarray, ref: np.ndarray, max_shift: int
                ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Shift each date onto the orbit's reference (two passes); returns data and shifts."""
    shifts: list[tuple[int, int]] = [(0, 0)] * lin.shape[0]
    if max_shift <= 0:
        return lin, shifts
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10 * np.log10(lin)
    moved = lin
    for _ in range(2):
        ref_db = _median_db(moved[ref])
        shifts = [estimate_shift(db[t], ref_db, max_shift) for t in range(lin.shape[0])]
        moved = np.stack([_unshift(lin[t], *s) for t, s in enumerate(shifts)])
    return moved, shifts


# --- orbits ------------------------------------------------------------------------

@dataclass
class _OrbitFit:
    """One orbit's dates, co-registered intensities and fitted empty state."""

    idx: np.ndarray
    lin: np.ndarray
    shifts: list[tuple[int, int]]
    empty: np.ndarray
    n_ref: np.ndarray
    enl: float
    basis: str


def _stack_enl(stack: xr.Dataset, idx: np.ndarray) -> float | None:
    for name in ENL_NAMES:
        if name in stack.coords:
            v = np.asarray(stack[name].to_numpy(), dtype=float)
            v = v[idx] if v.ndim == 1 else v
            if np.isfinite(v).any():
                return float(np.nanmedian(v))
        if name in stack.attrs:
            return float(stack.attrs[name])
    return None


def _zone_logs(lin: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
    """Log-intensities ``(time, pixel)`` of the zones, less each date's zone median."""
    parts = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for m in masks.values():
            v = np.log(lin[:, m])
            parts.append(v - nanmedian(v, axis=1)[:, None])
    return np.concatenate(parts, axis=1)


def _fit_orbit(lin: np.ndarray, idx: np.ndarray, ref: np.ndarray, basis: str,
               enl: float | None, masks: dict[str, np.ndarray], max_shift: int) -> _OrbitFit:
    moved, shifts = _coregister(lin, ref, max_shift)
    ref_data = moved[ref]
    if enl is None:
        enl = estimate_enl(_zone_logs(ref_data, masks))
        log.info("ENL estimated at %.2f", enl)
    n_ref = np.isfinite(ref_data).sum(axis=0)
    empty = nanmedian(ref_data) / _gamma_median(enl)
    empty = np.where(n_ref >= MIN_PIXEL_OBS, empty, np.nan).astype(np.float32)
    return _OrbitFit(idx=idx, lin=moved, shifts=shifts, empty=empty, n_ref=n_ref, enl=enl,
                     basis=basis)


def _orbit_reference(times: pd.DatetimeIndex, idx: np.ndarray, ref: np.ndarray, orbit: str,
                     auto: bool, min_dates: int) -> tuple[np.ndarray, str]:
    """Which of an orbit's dates are its reference, and in words; errors when too few."""
    if len(idx) < min_dates:
        raise errors.AnalysisError(
            f"Relative orbit {orbit} has {len(idx)} date(s); its empty state needs at least "
            f"{min_dates}. Search a longer period, or leave that orbit's dates out of the "
            "stack (stack.where(stack.relative_orbit != ..., drop=True))."
        )
    sel = ref[idx]
    if sel.sum() >= min_dates:
        t = times[idx][sel]
        return sel, f"{t.min():%Y-%m-%d} to {t.max():%Y-%m-%d} ({int(sel.sum())} dates)"
    if auto:
        log.info("orbit %s: too few dates in the quiet regime; all its dates are its reference",
                 orbit)
        return np.ones(len(idx), bool), f"all {len(idx)} dates"
    raise errors.AnalysisError(
        f"Relative orbit {orbit} has {int(sel.sum())} date(s) in the reference; its empty "
        f"state needs at least {min_dates}. Widen reference= or pass reference=None."
    )


# --- reading -----------------------------------------------------------------------

def _check(stack: xr.Dataset, polarisation: str) -> None:
    if stack.attrs.get("sensor") == "s2" or polarisation not in stack.data_vars:
        have = ", ".join(map(str, stack.data_vars)) or "nothing"
        raise errors.AnalysisError(
            f"The stack has no {polarisation!r} variable (it has {have}); sar_activity needs "
            "a Sentinel-1 RTC stack in dB (geo.search(..., sensor='s1') then geo.load), or "
            "polarisation= naming one of its radar variables."
        )
    missing = [c for c in ("relative_orbit", "time") if c not in stack.coords]
    if missing:
        raise errors.AnalysisError(
            f"The radar stack lacks the coordinate(s) {', '.join(missing)}; load it with "
            "geo.load, which adds time, relative_orbit and orbit_state."
        )


def _box(masks: dict[str, np.ndarray], margin: int) -> tuple[slice, slice]:
    union = np.logical_or.reduce(list(masks.values()))
    rows, cols = np.nonzero(union.any(axis=1))[0], np.nonzero(union.any(axis=0))[0]
    ny, nx = union.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, ny)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, nx)))


def _masks(stack: xr.Dataset, aoi: AOI, names: Sequence[str]) -> dict[str, np.ndarray]:
    zm = zone_masks(aoi, stack)
    out = {n: zm.sel(zone=n).to_numpy() for n in names}
    empty = [n for n, m in out.items() if not m.any()]
    if empty:
        raise errors.AnalysisError(
            f"Zone(s) {', '.join(empty)} of AOI {aoi.name!r} cover no pixel of the stack; "
            "load the stack over this AOI (geo.load(items, aoi))."
        )
    return out


def _read(stack: xr.Dataset, var: str, idx: np.ndarray, box: tuple[slice, slice]
          ) -> np.ndarray:
    """Linear intensities ``(time, y, x)`` of the dates ``idx`` in the box (NaN: no data)."""
    db = np.asarray(stack[var].isel(time=idx, y=box[0], x=box[1]).to_numpy(), dtype=np.float32)
    with np.errstate(over="ignore"):
        return np.asarray(10.0 ** (db / 10.0), dtype=np.float32)


# --- auto reference ----------------------------------------------------------------

def _bright_share(lin: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
    """Per date, the share of the zones' valid pixels ``BRIGHT_DB`` above their median."""
    hits = np.zeros(lin.shape[0])
    seen = np.zeros(lin.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        for m in masks.values():
            v = lin[:, m]
            med = nanmedian(v, axis=1)[:, None]
            hits += np.nansum(v > med * 10 ** (BRIGHT_DB / 10), axis=1)
            seen += np.isfinite(v).sum(axis=1)
    return np.where(seen > 0, hits / np.maximum(seen, 1), np.nan)


def _quiet(series: pd.Series, min_dates: int) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The quietest regime of the bright-scatterer series (:func:`geo.when.change_points`)."""
    from geo.when import change_points

    series = series.dropna().sort_index()
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
    if len(quiet) < min_dates:
        return None
    return quiet.index[0], quiet.index[-1]


# --- scoring -------------------------------------------------------------------------

@dataclass
class _Params:
    pfa: float
    min_pixels: int
    min_object_pixels: int
    pixels_per_aircraft: float
    max_single_length_m: float
    min_clear: float
    wet_note_db: float
    wet_flag_db: float
    res: float


def _level(ratio: np.ndarray, valid: np.ndarray, med0: float) -> float:
    """The zone's level: median ratio over valid pixels relative to the F median."""
    return float(np.median(ratio[valid]) / med0) if valid.any() else float("nan")


def _active_share(active: np.ndarray, valid: np.ndarray, min_pixels: int) -> tuple[float, int]:
    n = int(valid.sum())
    if n == 0:
        return float("nan"), 0
    hot = active & valid
    if min_pixels > 1:
        _, sizes = components(hot, min_pixels)
        count = int(sizes.sum())
    else:
        count = int(hot.sum())
    return count / n, count


@dataclass
class _DateScore:
    """One zone on one date: its normalised ratio, validity and level."""

    ratio: np.ndarray
    valid: np.ndarray
    level: float


def _zone_date(fit: _OrbitFit, t: int, mask: np.ndarray, med0: float) -> _DateScore:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = fit.lin[t] / fit.empty
    valid = np.isfinite(ratio) & mask
    level = _level(ratio, valid, med0)
    if np.isfinite(level) and level > 0:
        ratio = ratio / level
    return _DateScore(ratio=ratio, valid=valid, level=level)


def _row(fit: _OrbitFit, t: int, zone: str, kind: str, mask: np.ndarray,
         ks: dict[str, np.ndarray], p: _Params, med0: float, ctrl: tuple[float, float],
         x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """One (date, zone) row of the table."""
    ds = _zone_date(fit, t, mask, med0)
    min_px = 1 if kind in OCCUPANCY_KINDS else p.min_pixels
    shares = {k: _active_share(ds.ratio > thr, ds.valid, min_px) for k, thr in ks.items()}
    frac, count = shares["main"]
    n_valid, n_zone = int(ds.valid.sum()), int(mask.sum())
    clear = n_valid / max(n_zone, 1)
    objects: Any = pd.NA
    if kind in OBJECT_KINDS:
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = 10 * np.log10(ds.ratio / ks["main"])
        found = find_objects(np.where(ds.valid, excess, -np.inf), ds.valid, threshold=0.0,
                             resolution=p.res, min_pixels=p.min_object_pixels,
                             pixels_per_aircraft=p.pixels_per_aircraft,
                             max_single_length_m=p.max_single_length_m, x=x, y=y)
        objects = sum(o["count"] for o in found) if n_valid else pd.NA
    flag, reasons, notes = _flags(fit, t, clear, ds.level, ctrl[1], p)
    return {
        "zone": zone, "kind": kind, "activity_index": frac,
        "activity_low": shares["low"][0], "activity_high": shares["high"][0],
        "objects": objects, "anomalous_area_m2": count * p.res**2, "clear_fraction": clear,
        "snow_fraction": float("nan"), "clear_pixels": n_valid, "zone_pixels": n_zone,
        "control_activity": ctrl[0], "ndvi": float("nan"), "flagged": flag,
        "flag_reason": "; ".join(reasons), "note": "; ".join(notes),
    }


def _flags(fit: _OrbitFit, t: int, clear: float, level: float, wet_db: float, p: _Params
           ) -> tuple[bool, list[str], list[str]]:
    reasons: list[str] = []
    notes: list[str] = []
    if clear < p.min_clear:
        reasons.append(f"no data: {clear:.0%} valid < {p.min_clear:.0%} (radar shadow, "
                       "layover or swath edge)")
    if np.isfinite(wet_db) and wet_db >= p.wet_note_db:
        text = f"wet ground: control +{wet_db:.1f} dB over its empty state"
        (reasons if wet_db >= p.wet_flag_db else notes).append(text)
    dy, dx = fit.shifts[t]
    if (dy, dx) != (0, 0):
        notes.append(f"co-registered: image displaced by {dy:+d}, {dx:+d} px (rows, columns) "
                     "from its orbit's reference, moved back")
    if np.isfinite(level) and abs(10 * np.log10(level)) >= p.wet_note_db:
        notes.append(f"zone level {10 * np.log10(level):+.1f} dB normalised away")
    return bool(reasons), reasons, notes


def _control(fit: _OrbitFit, t: int, masks: dict[str, np.ndarray], names: Sequence[str],
             ks: dict[str, np.ndarray], p: _Params, med0: float) -> tuple[float, float]:
    """The control's activity (false-alarm level) and its level in dB (wetness) on date t."""
    if not names:
        return float("nan"), float("nan")
    mask = np.logical_or.reduce([masks[n] for n in names])
    ds = _zone_date(fit, t, mask, med0)
    if ds.valid.sum() < p.min_clear * mask.sum():
        return float("nan"), float("nan")
    frac, _ = _active_share(ds.ratio > ks["main"], ds.valid, p.min_pixels)
    return frac, float(10 * np.log10(ds.level))


def _orbit_rows(fit: _OrbitFit, stack: xr.Dataset, masks: dict[str, np.ndarray],
                names: Sequence[str], ctrl_names: Sequence[str], kinds: dict[str, str],
                p: _Params, x: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    n_max = int(fit.n_ref.max()) if fit.n_ref.size else 0
    med0 = float(stats.f.median(2 * fit.enl, 2 * float(reference_looks(fit.enl, max(n_max, 1)))))
    table = {name: cfar_threshold(fit.enl, np.arange(n_max + 1), pfa)
             for name, pfa in (("main", p.pfa), ("low", p.pfa / 10), ("high", min(p.pfa * 10, 0.4)))}
    ks = {name: tab[fit.n_ref] for name, tab in table.items()}
    coords = {c: stack[c].to_numpy() for c in ("item_id", "orbit_state", "relative_orbit")
              if c in stack.coords}
    times = pd.DatetimeIndex(stack["time"].to_numpy())
    rows = []
    for t, i in enumerate(fit.idx):
        ctrl = _control(fit, t, masks, ctrl_names, ks, p, med0)
        for name in names:
            row = _row(fit, t, name, kinds[name], masks[name], ks, p, med0, ctrl, x, y)
            row |= {"date": times[i], "item_id": str(coords.get("item_id", [""] * (i + 1))[i]),
                    "sensor": "s1",
                    "orbit_state": str(coords["orbit_state"][i]) if "orbit_state" in coords
                    else "",
                    "relative_orbit": int(coords["relative_orbit"][i])}
            rows.append(row)
    return rows


# --- public ------------------------------------------------------------------------

def sar_activity(
    stack: xr.Dataset,
    aoi: AOI,
    *,
    reference: ReferenceLike = "auto",
    kinds: Sequence[str] = ACTIVITY_KINDS,
    zones: Sequence[str] | None = None,
    control: str | Sequence[str] | bool | None = None,
    polarisation: str = "vv",
    enl: float | None = None,
    pfa: float = PFA,
    min_pixels: int = 2,
    min_object_pixels: int = MIN_OBJECT_PIXELS,
    pixels_per_aircraft: float = PIXELS_PER_AIRCRAFT,
    max_single_length_m: float = MAX_SINGLE_LENGTH_M,
    max_shift: int = MAX_SHIFT,
    min_clear: float = 0.7,
    wet_note_db: float = WET_NOTE_DB,
    wet_flag_db: float = WET_FLAG_DB,
    min_reference_dates: int = MIN_REFERENCE_DATES,
) -> pd.DataFrame:
    """Per zone and date, the share of a zone's pixels significantly brighter to radar.

    See the module docstring for the method and the defaults.

    Parameters
    ----------
    stack
        Sentinel-1 RTC stack from :func:`geo.load` (``vv``, ``vh`` in dB; per-time
        ``relative_orbit``, ``orbit_state``, ``item_id``).
    aoi
        Its AOI.
    reference
        Which dates define each orbit's empty state: ``"auto"`` (the site's quietest
        regime, else all dates), ``None`` (all dates), a ``(start, end)`` period or one
        date, as in :func:`geo.activity_index`.
    kinds, zones
        Zone kinds and names to measure.
    control
        Control zone name(s) for the wet-ground test; ``None`` takes every ``control``
        zone, ``False`` none.
    polarisation
        Variable to detect in (``"vv"``: aircraft double bounce is strongest in VV).
    enl
        Equivalent number of looks; ``None`` reads the stack's
        ``looks_equivalent_number`` or estimates it per orbit (:func:`estimate_enl`).
    pfa
        False-alarm probability per pixel and date (:func:`cfar_threshold`).
    min_pixels
        Smallest component counted in the apron/revetment index.
    min_object_pixels, pixels_per_aircraft, max_single_length_m
        Aircraft counting (:func:`geo.objects.find_objects`).
    max_shift
        Largest geolocation shift (pixels) corrected; 0 disables co-registration.
    min_clear
        Valid fraction below which a (date, zone) is flagged.
    wet_note_db, wet_flag_db
        Control-zone brightening (dB) above which a date is noted, or flagged, as wet.
    min_reference_dates
        Fewest reference dates per orbit.

    Returns
    -------
    pandas.DataFrame
        One row per (date, zone) with :data:`COLUMNS`: those of
        :func:`geo.activity_index` (``snow_fraction`` and ``ndvi`` NaN) plus ``sensor``
        (``"s1"``), ``orbit_state`` and ``relative_orbit``. ``attrs`` hold
        ``reference`` (in words, per orbit), ``enl`` and ``threshold_db`` (per orbit).

    Raises
    ------
    geo.errors.AnalysisError
        No ``vv`` (not a radar stack), no orbit coordinates, an orbit with fewer than
        ``min_reference_dates`` dates, no matching zone, a zone outside the stack.

    Examples
    --------
    >>> from geo.testing.radar import make_radar_stack
    >>> from geo.testing.stacks import small_aoi
    >>> aoi = small_aoi()
    >>> df = sar_activity(make_radar_stack(aoi, 12), aoi, reference=None)
    >>> sorted(df["relative_orbit"].unique().tolist()), float(df["activity_index"].max())
    ([5, 78], 0.0)
    """
    _check(stack, polarisation)
    names = zone_names(aoi, kinds, zones)
    ctrl_names = control_names(aoi, control)
    masks = _masks(stack, aoi, list(dict.fromkeys([*names, *ctrl_names])))
    box = _box(masks, COREG_MARGIN + max_shift)
    masks = {n: m[box] for n, m in masks.items()}
    times = pd.DatetimeIndex(stack["time"].to_numpy())
    orbit = np.asarray(stack["relative_orbit"].to_numpy())
    auto = isinstance(reference, str) and reference == "auto"
    ref = reference_dates(times, reference)
    data = {o: (np.flatnonzero(orbit == o), _read(stack, polarisation,
                                                  np.flatnonzero(orbit == o), box))
            for o in dict.fromkeys(orbit.tolist())}
    for o, (idx, _) in data.items():
        _orbit_reference(times, idx, ref, str(o), auto, min_reference_dates)
    basis = "every date"
    if auto:
        ref, basis = _auto_reference(times, data, masks, names, _kinds_of(aoi),
                                     min_reference_dates)
    fits = {}
    for o, (idx, lin) in data.items():
        sel, text = _orbit_reference(times, idx, ref, str(o), auto, min_reference_dates)
        fits[o] = _fit_orbit(lin, idx, sel, text, enl if enl is not None else
                             _stack_enl(stack, idx), {n: masks[n] for n in names}, max_shift)
    del data
    res = float(abs(stack["x"].values[1] - stack["x"].values[0])) if stack.sizes["x"] > 1 else 10.0
    p = _Params(pfa=pfa, min_pixels=min_pixels, min_object_pixels=min_object_pixels,
                pixels_per_aircraft=pixels_per_aircraft,
                max_single_length_m=max_single_length_m, min_clear=min_clear,
                wet_note_db=wet_note_db, wet_flag_db=wet_flag_db, res=res)
    x, y = stack["x"].to_numpy()[box[1]], stack["y"].to_numpy()[box[0]]
    rows = [r for fit in fits.values()
            for r in _orbit_rows(fit, stack, masks, names, ctrl_names, _kinds_of(aoi), p, x, y)]
    return _table(rows, names, fits, basis, pfa)


def _kinds_of(aoi: AOI) -> dict[str, str]:
    """Zone name -> kind of an AOI."""
    return dict(zip(aoi.zones["name"], aoi.zones["kind"]))


def _auto_reference(times: pd.DatetimeIndex, data: dict[Any, tuple[np.ndarray, np.ndarray]],
                    masks: dict[str, np.ndarray], names: Sequence[str], kinds: dict[str, str],
                    min_dates: int) -> tuple[np.ndarray, str]:
    """The quietest regime's dates (all dates when there is none) and its description."""
    obj = {n: masks[n] for n in names if kinds[n] == "apron"} or \
        {n: masks[n] for n in names if kinds[n] in OBJECT_KINDS}
    if not obj:
        return np.ones(len(times), bool), "every date (no apron to find a quiet regime in)"
    share = np.full(len(times), np.nan)
    for idx, lin in data.values():
        share[idx] = _bright_share(lin, obj)
    quiet = _quiet(pd.Series(share, index=times), min_dates)
    if quiet is None:
        return np.ones(len(times), bool), "every date (the imagery shows no quieter regime)"
    log.info("radar empty state fitted to the quiet regime %s to %s", *quiet)
    return (reference_dates(times, quiet),
            f"the quietest regime found in the radar imagery, {quiet[0]:%Y-%m-%d} to "
            f"{quiet[1]:%Y-%m-%d}")


def _table(rows: list[dict[str, Any]], names: Sequence[str], fits: dict[Any, _OrbitFit],
           basis: str, pfa: float) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    order = {n: i for i, n in enumerate(names)}
    table = (table.assign(_z=table["zone"].map(order)).sort_values(["_z", "date"], kind="stable")
             .drop(columns="_z").reset_index(drop=True))
    table["objects"] = table["objects"].astype("Int64")
    table["relative_orbit"] = table["relative_orbit"].astype(int)
    table.attrs["reference"] = basis + "; per orbit: " + "; ".join(
        f"{o}: {f.basis}" for o, f in fits.items())
    table.attrs["enl"] = {int(o): round(f.enl, 2) for o, f in fits.items()}
    table.attrs["threshold_db"] = {
        int(o): round(float(10 * np.log10(cfar_threshold(f.enl, int(f.n_ref.max()), pfa))), 2)
        for o, f in fits.items()}
    n_flag = int(table["flagged"].sum())
    if n_flag:
        log.info("%d of %d radar (date, zone) rows flagged", n_flag, len(table))
    return table
