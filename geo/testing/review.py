"""Small, fast stand-ins for the review's inputs: a toy stack, activity and clear tables.

They have the shapes and column names of :func:`geo.load`, :func:`geo.activity_index`
and :func:`geo.mask.zone_clear_fraction`, so figures and the report can be tested (and
shown in notebooks) in a second, without the scenario. The pictures are crude: bright
runways, dark aprons with bright "aircraft" until August 2021, and a few clouds.

The toy change points are not made up: they are what :func:`geo.when.change_points`
finds in the toy activity table. Tests should assert what the code computes from these
inputs (a date equal to the change point found, numbers equal to the table written), not
the facts the toy data were built with.

Examples
--------
>>> from geo.testing.review import toy_inputs
>>> toy = toy_inputs(n_dates=12)
>>> sorted(toy)
['activity', 'aoi', 'change_points', 'clear', 'stack']
>>> toy["stack"]["red"].dims
('time', 'y', 'x')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from rasterio import features

from geo import aoi as aoi_mod
from geo.aoi import ACTIVITY_KINDS, AOI
from geo.zones import grid_transform

__all__ = ["toy_stack", "toy_inputs", "scenario_folder"]

_BASE = {"red": 0.16, "green": 0.14, "blue": 0.11}
_SURFACE = {"runway": 0.24, "taxiway": 0.21, "apron": 0.19, "revetment": 0.17, "parking": 0.18,
            "yard": 0.17, "hangar": 0.28, "built": 0.15}
_TAKEOVER = pd.Timestamp("2021-08-15")


def toy_stack(aoi: AOI | None = None, *, start: str = "2020-10-01", end: str = "2025-09-30",
              n_dates: int = 40, resolution: float = 20.0, seed: int = 0) -> xr.Dataset:
    """A toy (time, y, x) stack over an AOI with red/green/blue/scl/clear and item ids.

    Examples
    --------
    >>> ds = toy_stack(n_dates=3)
    >>> ds.sizes["time"], ds.attrs["synthetic"]
    (3, True)
    """
    area = aoi or aoi_mod.load("bagram")
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = area.utm_bounds(margin=200, resolution=resolution)
    x = np.arange(xmin + resolution / 2, xmax, resolution)
    y = np.arange(ymax - resolution / 2, ymin, -resolution)
    grid = xr.Dataset(coords={"x": x, "y": y})
    shape = (y.size, x.size)
    transform = grid_transform(grid)
    surface = np.zeros(shape, dtype="float32")
    apron = np.zeros(shape, dtype=bool)
    for row in area.zones_utm().itertuples():
        if row.kind not in _SURFACE:
            continue
        mask = features.rasterize([(row.geometry, 1)], out_shape=shape, transform=transform,
                                  fill=0, dtype="uint8").astype(bool)
        surface[mask] = _SURFACE[row.kind] - _BASE["red"]
        if row.kind in ("apron", "revetment"):
            apron |= mask
    times = pd.date_range(start, end, periods=n_dates).normalize() + pd.Timedelta(hours=6)
    texture = rng.normal(0, 0.012, shape).astype("float32")
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    bands: dict[str, list[np.ndarray]] = {b: [] for b in _BASE}
    scl = []
    for t in times:
        planes = _scene(t, surface, apron, texture, rng, yy, xx)
        for b in _BASE:
            bands[b].append(planes[b])
        scl.append(planes["scl"])
    dims = ("time", "y", "x")
    ds = xr.Dataset({b: (dims, np.stack(v)) for b, v in bands.items()},
                    coords={"time": times.to_numpy(), "y": y, "x": x})
    ds["scl"] = (dims, np.stack(scl))
    ds["clear"] = ds["scl"] == 5
    ds = ds.assign_coords(
        item_id=("time", [f"S2{'AB'[i % 2]}_42SWD_{t:%Y%m%d}_0_L2A" for i, t in enumerate(times)]),
        processing_baseline=("time", ["04.00" if t >= pd.Timestamp("2022-01-25") else "02.14"
                                      for t in times]),
        offset_applied=("time", [bool(t >= pd.Timestamp("2022-01-25")) for t in times]),
        platform=("time", ["sentinel-2a" if i % 2 == 0 else "sentinel-2b"
                           for i in range(len(times))]),
    )
    ds.attrs.update(crs=f"EPSG:{area.epsg}", source="toy", synthetic=True)
    return ds


def _scene(t: pd.Timestamp, surface: np.ndarray, apron: np.ndarray, texture: np.ndarray,
           rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> dict[str, np.ndarray]:
    season = 0.02 * np.cos(2 * np.pi * (t.day_of_year - 200) / 365.25)
    planes = {b: (v + season + surface + texture).astype("float32") for b, v in _BASE.items()}
    if t < _TAKEOVER:
        busy = apron & (rng.random(apron.shape) < 0.05)
        for b in planes:
            planes[b][busy] = 0.45
    cloud = np.zeros(apron.shape, dtype=bool)
    for _ in range(int(rng.integers(0, 4))):
        cy, cx = rng.integers(0, apron.shape[0]), rng.integers(0, apron.shape[1])
        r = rng.integers(10, 60)
        cloud |= (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    for b in planes:
        planes[b][cloud] = 0.6
    scl = np.where(cloud, 9, 5).astype("uint8")
    return {**planes, "scl": scl}


def toy_inputs(aoi: AOI | None = None, *, n_dates: int = 40, seed: int = 0) -> dict[str, Any]:
    """A toy stack plus matching clear, activity and change-point tables.

    ``change_points`` is :func:`geo.when.change_points` of the toy activity (``None``
    when the series is too short for it).

    Examples
    --------
    >>> toy = toy_inputs(n_dates=6)
    >>> {"date", "zone", "kind", "activity_index", "flagged"} <= set(toy["activity"].columns)
    True
    """
    area = aoi or aoi_mod.load("bagram")
    stack = toy_stack(area, n_dates=n_dates, seed=seed)
    from geo.zones import zone_masks

    masks = zone_masks(area, stack)
    clear = stack["clear"].values
    rows, act_rows = [], []
    rng = np.random.default_rng(seed + 1)
    for i, t in enumerate(pd.DatetimeIndex(stack["time"].values)):
        for zone, kind in zip(masks["zone"].values, masks["kind"].values, strict=True):
            m = masks.sel(zone=zone).values
            frac = float(clear[i][m].mean()) if m.any() else 0.0
            rows.append({"date": t.normalize(), "zone": zone, "kind": kind,
                         "clear_fraction": frac, "snow_fraction": 0.0, "valid_fraction": 1.0,
                         "item_id": str(stack["item_id"].values[i])})
            if kind in ACTIVITY_KINDS:
                level = 0.7 if t < _TAKEOVER else 0.1
                value = level + float(rng.normal(0, 0.06))
                act_rows.append({"date": t.normalize(), "zone": zone, "kind": kind,
                                 "activity_index": value, "objects": max(0, round(value * 20)),
                                 "clear_fraction": frac, "flagged": frac < 0.6,
                                 "flag_reason": "cloudy" if frac < 0.6 else ""})
    activity = pd.DataFrame(act_rows)
    return {"aoi": area, "stack": stack, "clear": pd.DataFrame(rows), "activity": activity,
            "change_points": _found_changes(activity)}


def _found_changes(activity: pd.DataFrame) -> Any:
    """What :func:`geo.when.change_points` finds in a toy table (None if it cannot run)."""
    from geo import errors
    from geo.when import change_points

    try:
        return change_points(activity)
    except errors.AnalysisError:
        return None


def scenario_folder(profile: str = "small", *, seed: int = 0) -> Any:
    """The offline scenario for notebooks: ``$GEO_SCENARIO_DIR``, else a cached build.

    The build (:func:`geo.scenario.build`) goes to the cache folder ``geo demo`` uses
    (:func:`geo.review_cli.default_cache`) and is reused afterwards.

    Examples
    --------
    >>> scenario_folder().name  # doctest: +SKIP
    'bagram-small-seed0-...'
    """
    import os
    from pathlib import Path

    from geo.review_cli import default_cache

    env = os.environ.get("GEO_SCENARIO_DIR")
    folder = Path(env) if env else default_cache(profile, seed)
    if not (folder / "manifest.json").is_file():
        from geo import scenario

        folder.parent.mkdir(parents=True, exist_ok=True)
        scenario.build("bagram", folder, seed=seed, profile=profile, overwrite=True)
    return folder
