"""Per-zone cloud, snow and data coverage of a loaded stack.

Scene cloud cover (``eo:cloud_cover``) is over the whole 110 km tile; what matters is
whether each zone of the site was visible on each date. :func:`zone_clear_fraction`
measures that from the stack's ``clear``/``snow``/``scl`` masks (SCL at 20 m, repeated
to 10 m nearest by :func:`geo.load`).

Examples
--------
>>> import geo
>>> ds = geo.load(geo.search("bagram", "2022-01-01", "2022-02-01"), "bagram")  # doctest: +SKIP
>>> zone_clear_fraction(ds, "bagram").columns.tolist()  # doctest: +SKIP
['date', 'time', 'item_id', 'zone', 'kind', 'clear_fraction', 'snow_fraction', 'valid_fraction']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from geo import aoi as aoi_mod
from geo import errors
from geo.aoi import AOI
from geo.load import NOT_CLEAR, SNOW
from geo.zones import zone_masks

__all__ = ["zone_clear_fraction", "clear_mask"]


def clear_mask(scl: xr.DataArray) -> xr.DataArray:
    """True where SCL says clear ground (valid, not cloud/shadow/cirrus/saturated/snow).

    Examples
    --------
    >>> clear_mask(xr.DataArray(np.array([0, 4, 9, 11], dtype="uint8"))).values.tolist()
    [False, True, False, False]
    """
    return ~scl.isin(list(NOT_CLEAR))


def zone_clear_fraction(ds: xr.Dataset, aoi: AOI | str | Path) -> pd.DataFrame:
    """Fraction of each zone that is clear, snowy and valid, per date.

    A pixel belongs to a zone when its centre lies inside the zone. Fractions are of
    the zone's pixels: ``valid_fraction`` has data (SCL not 0), ``clear_fraction`` is
    clear ground (SCL not in 0,1,3,8,9,10,11), ``snow_fraction`` is snow (SCL 11).

    Parameters
    ----------
    ds
        A stack from :func:`geo.load` with ``scl`` (or ``clear``/``snow``) variables.
    aoi
        The AOI the stack was loaded for (or its name / path).

    Returns
    -------
    pandas.DataFrame
        One row per (date, zone): ``date`` (day), ``time``, ``item_id``, ``zone``,
        ``kind``, ``clear_fraction``, ``snow_fraction``, ``valid_fraction``.

    Raises
    ------
    geo.errors.AnalysisError
        The stack has no ``scl`` nor ``clear`` variable.

    Examples
    --------
    >>> import numpy as np, xarray as xr, geo
    >>> site = geo.aoi.load("bagram")
    >>> x0, y0, x1, y1 = site.utm_bounds(100)
    >>> x = np.arange(x0 + 5, x1, 10.0); y = np.arange(y1 - 5, y0, -10.0)
    >>> scl = np.full((1, y.size, x.size), 4, dtype="uint8")
    >>> ds = xr.Dataset({"scl": (("time", "y", "x"), scl)},
    ...                 coords={"time": [np.datetime64("2022-01-25")], "y": y, "x": x})
    >>> df = zone_clear_fraction(ds, site)
    >>> float(df.clear_fraction.min())
    1.0
    """
    site = aoi if isinstance(aoi, AOI) else aoi_mod.load(aoi)
    if "scl" in ds:
        scl = ds["scl"]
        valid = scl != 0
        clear = clear_mask(scl)
        snow = scl == SNOW
    elif "clear" in ds:
        clear = ds["clear"]
        snow = ds["snow"] if "snow" in ds else xr.zeros_like(clear)
        valid = xr.ones_like(clear)
    else:
        raise errors.AnalysisError(
            "The stack has no 'scl' or 'clear' variable; load it with 'scl' among bands."
        )
    masks = zone_masks(site, ds)
    weights = masks.astype(np.float32)
    counts = weights.sum(dim=("y", "x"))
    frac = {
        name: (xr.dot(arr.astype(np.float32), weights, dim=("y", "x")) / counts)
        for name, arr in (("clear_fraction", clear), ("snow_fraction", snow),
                          ("valid_fraction", valid))
    }
    table = xr.Dataset(frac).compute()
    df = table.to_dataframe().reset_index()
    times = pd.to_datetime(df["time"])
    ids = (ds["item_id"].to_series() if "item_id" in ds.coords else
           pd.Series("", index=ds["time"].to_index()))
    out = pd.DataFrame({
        "date": times.dt.normalize(),
        "time": times,
        "item_id": df["time"].map(ids).astype(str).to_numpy(),
        "zone": df["zone"].astype(str),
        "kind": df["kind"].astype(str) if "kind" in df else df["zone"].map(
            dict(zip(masks["zone"].values, masks["kind"].values))),
        "clear_fraction": df["clear_fraction"].astype(float),
        "snow_fraction": df["snow_fraction"].astype(float),
        "valid_fraction": df["valid_fraction"].astype(float),
    })
    return out.sort_values(["time", "zone"]).reset_index(drop=True)
