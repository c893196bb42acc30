"""geo.mask.zone_clear_fraction on stacks with known cloud, snow and gaps."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from shapely.geometry import box

import geo
from geo import errors
from geo.mask import zone_clear_fraction

SITE = geo.aoi.load("bagram")


def _stack(scl: np.ndarray | None = None, n: int = 3) -> xr.Dataset:
    x0, y0, x1, y1 = SITE.utm_bounds(100)
    x = np.arange(x0 + 5, x1, 10.0)
    y = np.arange(y1 - 5, y0, -10.0)
    if scl is None:
        scl = np.full((n, y.size, x.size), 4, dtype="uint8")
    times = np.array(["2022-01-20T06:01", "2022-01-25T06:01", "2022-01-30T06:01"][:n],
                     dtype="datetime64[ns]")
    return xr.Dataset({"scl": (("time", "y", "x"), scl)},
                      coords={"time": times, "y": y, "x": x,
                              "item_id": ("time", [f"S2A_{i}" for i in range(n)])})


def test_fractions_follow_the_scl_classes() -> None:
    ds = _stack()
    ds["scl"][1] = 11  # all snow
    ds["scl"][2] = 0  # no data
    df = zone_clear_fraction(ds, SITE)
    assert list(df.columns) == ["date", "time", "item_id", "zone", "kind", "clear_fraction",
                                "snow_fraction", "valid_fraction"]
    assert len(df) == 3 * len(SITE.zones)
    by_day = df.groupby("date")[["clear_fraction", "snow_fraction", "valid_fraction"]].mean()
    assert by_day.round(6).values.tolist() == [[1, 0, 1], [0, 1, 1], [0, 0, 0]]
    assert set(df["item_id"]) == {"S2A_0", "S2A_1", "S2A_2"}
    assert str(df["date"].iloc[0].date()) == "2022-01-20"


def test_cloud_over_half_the_grid_splits_zones_by_their_side() -> None:
    ds = _stack(n=1)
    cut = float(ds.x.values[ds.sizes["x"] // 2])
    ds["scl"][0] = xr.where(ds.x < cut, 9, 4).broadcast_like(ds["scl"][0]).astype("uint8")
    df = zone_clear_fraction(ds, SITE).set_index("zone")
    utm = SITE.zones_utm().set_index("name")
    for name, geom in utm.geometry.items():
        xmin, _, xmax, _ = geom.bounds
        if xmax < cut - 10:
            assert df.loc[name, "clear_fraction"] == 0.0, name
        elif xmin > cut + 10:
            assert df.loc[name, "clear_fraction"] == 1.0, name
        else:  # straddles the cut: its fraction is the share of its area east of it
            east = geom.intersection(box(cut, -1e8, 1e8, 1e8)).area / geom.area
            assert df.loc[name, "clear_fraction"] == pytest.approx(east, abs=0.03), name


def test_stack_without_masks_is_refused() -> None:
    ds = _stack().rename({"scl": "red"})
    with pytest.raises(errors.AnalysisError, match="scl"):
        zone_clear_fraction(ds, SITE)
