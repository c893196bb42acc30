"""Per-pixel change against a reference, as maps and as a Cloud-Optimised GeoTIFF.

A *reference* is either one date (the nearest date of the stack, its clear pixels only)
or a period ``(start, end)``, reduced to a robust composite: the per-pixel median of the
clear observations in it (optionally only those within ``season_days`` of a given day of
year, for a seasonal baseline). Change is measured with a misregistration tolerance: a
pixel only changes by as much as it falls outside the min..max of the reference over its
``(2 tolerance + 1)^2`` neighbourhood, so a one-pixel shift between dates does not show
up as change along every edge.

- :func:`composite` - the reference composite (lazy).
- :func:`change_map` - before/after: a signed index difference, or the change magnitude
  (Euclidean norm over bands of the tolerant difference, in reflectance).
- :func:`magnitude` - a lazy (time, y, x) magnitude map of every date against a reference.
- :func:`write_cog` - write a 2-D map as a COG (GDAL's COG driver) with its CRS.

Examples
--------
>>> from geo.testing.stacks import Aircraft, make_stack, small_aoi
>>> aoi = small_aoi()
>>> ds = make_stack(aoi, 4, aircraft=[Aircraft(x=-150, y=150, dates=[3])])
>>> m = change_map(ds, ds.time[0].values, ds.time[3].values)
>>> bool(m.max() > 0.03), m.attrs["crs"]
(True, 'EPSG:32642')
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geo import errors, indices
from geo.stats import REFLECTANCE_BANDS
from geo.zones import grid_transform

__all__ = ["composite", "change_map", "magnitude", "write_cog"]

log = logging.getLogger(__name__)


def _clear(stack: xr.Dataset) -> xr.DataArray:
    if "clear" in stack:
        ok = stack["clear"].astype(bool)
    elif "scl" in stack:
        ok = ~stack["scl"].isin([0, 1, 3, 8, 9, 10, 11])
    else:
        ok = xr.ones_like(stack[_bands(stack, None)[0]], dtype=bool)
    if "snow" in stack:
        ok = ok & ~stack["snow"].astype(bool)
    return ok


def _bands(stack: xr.Dataset, bands: Sequence[str] | None) -> list[str]:
    chosen = list(bands) if bands else [b for b in REFLECTANCE_BANDS if b in stack.data_vars]
    missing = [b for b in chosen if b not in stack.data_vars]
    if missing or not chosen:
        raise errors.MissingBand(
            f"The stack lacks band(s) {', '.join(missing) or 'any reflectance band'}; load "
            "them with geo.load(..., bands=...)."
        )
    return chosen


def _select(stack: xr.Dataset, when: Any, season_days: float | None) -> xr.Dataset:
    times = pd.DatetimeIndex(stack["time"].to_numpy())
    if isinstance(when, (tuple, list)) and len(when) == 2:
        start, end = (pd.Timestamp(w) for w in when)
        sel = np.asarray((times >= start) & (times <= end))
        if season_days is not None:
            middle = start + (end - start) / 2
            d = np.abs(times.day_of_year.to_numpy() - middle.day_of_year)
            sel &= np.minimum(d, 365 - d) <= season_days
        if not sel.any():
            raise errors.AnalysisError(
                f"No date of the stack ({times.min().date()}..{times.max().date()}) falls in "
                f"the period {start.date()}..{end.date()}; widen it."
            )
        return stack.isel(time=np.nonzero(sel)[0])
    t = pd.Timestamp(when)
    i = int(np.abs((times - t).days).argmin())
    if abs((times[i] - t).days) > 31:
        log.warning("nearest date to %s is %s", t.date(), times[i].date())
    return stack.isel(time=[i])


def _nanmedian_last(a: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN (without a warning) where all are NaN."""
    empty = np.isnan(a).all(axis=-1)
    filled = np.where(empty[..., None], 0.0, a)
    return np.where(empty, np.nan, np.nanmedian(filled, axis=-1)).astype(np.float32)


def composite(stack: xr.Dataset, when: Any, *, bands: Sequence[str] | None = None,
              season_days: float | None = None) -> xr.Dataset:
    """Per-pixel median of the clear observations of a date or period (lazy).

    Parameters
    ----------
    stack
        Stack from :func:`geo.load`.
    when
        A date (the nearest one is used) or a ``(start, end)`` period.
    bands
        Bands to composite (default: all reflectance bands present).
    season_days
        For a period, keep only dates within this many days of year of the period's
        middle (a seasonal baseline).

    Returns
    -------
    xarray.Dataset
        Bands on (y, x); attribute ``dates``: the dates used.

    Examples
    --------
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> ds = make_stack(small_aoi(), 5)
    >>> composite(ds, ("2021-01-01", "2021-03-01")).attrs["dates"][:2]
    ['2021-01-05', '2021-01-15']
    """
    bands = _bands(stack, bands)
    sub = _select(stack, when, season_days)
    ok = _clear(sub)
    data = sub[bands].where(ok)
    if data.chunks:
        data = data.chunk({"time": -1})
    out = xr.apply_ufunc(_nanmedian_last, data, input_core_dims=[["time"]],
                         dask="parallelized", output_dtypes=[np.float32])
    out.attrs = {"crs": stack.attrs.get("crs"),
                 "dates": [str(pd.Timestamp(t).date()) for t in sub["time"].to_numpy()]}
    return out


def _tolerant_difference(after: xr.DataArray, before: xr.DataArray, tolerance: int
                         ) -> xr.DataArray:
    if tolerance <= 0:
        return after - before
    win = 2 * tolerance + 1
    roll = before.rolling(y=win, x=win, center=True, min_periods=1)
    hi, lo = roll.max(), roll.min()
    return xr.where(after > hi, after - hi, xr.where(after < lo, after - lo, 0.0)).where(
        np.isfinite(after) & np.isfinite(before))


def change_map(
    stack: xr.Dataset,
    before: Any,
    after: Any,
    *,
    index: str | None = None,
    bands: Sequence[str] | None = None,
    tolerance: int = 1,
    season_days: float | None = None,
) -> xr.DataArray:
    """Change between two dates or periods: a signed index difference or a magnitude.

    Parameters
    ----------
    stack
        Stack from :func:`geo.load`.
    before, after
        A date (nearest used) or a ``(start, end)`` period (median of its clear
        observations) each.
    index
        If given (e.g. ``"NDVI"``), return ``index(after) - index(before)``; otherwise the
        change magnitude: the Euclidean norm over ``bands`` of the tolerant difference.
    bands
        Bands for the magnitude (default: all reflectance bands present).
    tolerance
        Misregistration tolerance in pixels (0 for a plain difference).
    season_days
        Seasonal filter for periods (see :func:`composite`).

    Returns
    -------
    xarray.DataArray
        (y, x), NaN where either side has no clear observation; attributes ``crs``,
        ``before``, ``after`` (dates used), ``long_name``.

    Examples
    --------
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> ds = make_stack(small_aoi(), 3)
    >>> d = change_map(ds, ds.time[0].values, ds.time[2].values, index="NDVI")
    >>> abs(float(d.mean())) < 0.01
    True
    """
    need = list(indices._lookup(index).bands) if index else _bands(stack, bands)
    b = composite(stack, before, bands=need, season_days=season_days)
    a = composite(stack, after, bands=need, season_days=season_days)
    if index:
        out = indices.compute(index, a) - indices.compute(index, b)
        name, long_name = f"d{indices._lookup(index).name}", f"change of {index} (after - before)"
    else:
        diffs = [_tolerant_difference(a[v], b[v], tolerance) for v in need]
        out = np.sqrt(sum(d**2 for d in diffs))
        name, long_name = "change_magnitude", f"change magnitude over {', '.join(need)}"
    out = out.rename(name)
    out.attrs = {"crs": stack.attrs.get("crs"), "before": ",".join(b.attrs["dates"]),
                 "after": ",".join(a.attrs["dates"]), "long_name": long_name,
                 "tolerance_px": tolerance}
    return out


def magnitude(
    stack: xr.Dataset,
    reference: Any,
    *,
    bands: Sequence[str] | None = None,
    tolerance: int = 1,
) -> xr.DataArray:
    """Lazy change magnitude of every date against a reference composite.

    Examples
    --------
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> ds = make_stack(small_aoi(), 3, chunks={"time": 1})
    >>> m = magnitude(ds, ("2021-01-01", "2021-02-01"))
    >>> m.dims, m.chunks is not None
    (('time', 'y', 'x'), True)
    """
    bands = _bands(stack, bands)
    ref = composite(stack, reference, bands=bands)
    ok = _clear(stack)
    diffs = [_tolerant_difference(stack[v].where(ok), ref[v], tolerance) for v in bands]
    out = xr.DataArray(np.sqrt(sum(d**2 for d in diffs))).rename("change_magnitude")
    out.attrs = {"crs": stack.attrs.get("crs"), "reference": ",".join(ref.attrs["dates"])}
    return out


def write_cog(da: xr.DataArray, path: str | Path, *, crs: str | None = None,
              nodata: float = float("nan"), blocksize: int = 256) -> Path:
    """Write a 2-D (y, x) map as a Cloud-Optimised GeoTIFF (float32, DEFLATE) with its CRS.

    Parameters
    ----------
    da
        Map with 1-D ``y``/``x`` pixel-centre coordinates (y descending).
    path
        Output file.
    crs
        CRS (default: ``da.attrs["crs"]``).
    nodata
        Nodata value written in the header.
    blocksize
        Internal tile size.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, rasterio
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> ds = make_stack(small_aoi(), 2)
    >>> m = change_map(ds, ds.time[0].values, ds.time[1].values)
    >>> p = write_cog(m, tempfile.mkdtemp() + "/change.tif")
    >>> rasterio.open(p).crs.to_epsg()
    32642
    """
    import rasterio

    if da.ndim != 2 or set(da.dims) != {"y", "x"}:
        raise errors.AnalysisError(
            f"write_cog needs a 2-D (y, x) map, got dims {da.dims}; select one date first, "
            "e.g. da.isel(time=0)."
        )
    crs = crs or da.attrs.get("crs")
    if not crs:
        raise errors.AnalysisError(
            "The map has no CRS (attrs['crs']); pass crs='EPSG:32642' (the stack's CRS)."
        )
    da = da.transpose("y", "x")
    data = np.asarray(da.values, dtype=np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "COG", "height": data.shape[0], "width": data.shape[1], "count": 1,
        "dtype": "float32", "crs": crs, "transform": grid_transform(da), "nodata": nodata,
        "compress": "DEFLATE", "predictor": 3, "blocksize": blocksize,
        "overview_resampling": "average",
    }
    tmp = path.with_name(path.name + ".part")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(**{k: str(v) for k, v in da.attrs.items() if k != "crs"})
        if da.name:
            dst.set_band_description(1, str(da.name))
    tmp.replace(path)
    log.info("wrote %s (%d x %d)", path, data.shape[1], data.shape[0])
    return path
