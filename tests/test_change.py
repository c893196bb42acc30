"""Change maps against a date or a period, with misregistration tolerance, and COG output."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from geo import errors
from geo.change import change_map, composite, magnitude, write_cog
from geo.testing.stacks import Aircraft, make_stack, small_aoi

PLANE = Aircraft(x=-150, y=150, wingspan=45, length=40, dates=[3])


@pytest.fixture(scope="module")
def stack():
    return make_stack(small_aoi(), 6, aircraft=[PLANE], shift={4: (1, 1)}, clouds={5: 0.3},
                      seed=11, chunks={"time": 1})


def _interior(a):
    return a.isel(y=slice(3, -3), x=slice(3, -3))  # shifted dates bring in new border pixels


def test_change_map_finds_the_aircraft_where_it_is(stack) -> None:
    t = stack["time"].values
    m = change_map(stack, t[0], t[3])
    assert m.chunks is not None  # lazy until asked
    m = m.compute()
    assert m.dims == ("y", "x") and m.attrs["crs"] == "EPSG:32642"
    peak = m.where(m == m.max(), drop=True)
    c = PLANE.polygon().centroid
    assert abs(float(peak["x"][0]) - c.x) < 30 and abs(float(peak["y"][0]) - c.y) < 30
    assert float(m.max()) > 0.05
    quiet = change_map(stack, t[0], t[1])
    assert float(_interior(quiet).max()) < 0.02


def test_one_pixel_shift_is_tolerated_and_not_without_tolerance(stack) -> None:
    t = stack["time"].values
    tolerant = _interior(change_map(stack, t[0], t[4]))
    strict = _interior(change_map(stack, t[0], t[4], tolerance=0))
    assert float(tolerant.max()) < 0.02
    assert float(strict.max()) > 0.05  # zone edges light up without the tolerance


def test_reference_period_composite_and_index_difference(stack) -> None:
    ref = composite(stack, ("2021-01-01", "2021-01-30"))
    assert ref.attrs["dates"] == ["2021-01-05", "2021-01-15", "2021-01-25"]
    d = change_map(stack, ("2021-01-01", "2021-01-30"), stack["time"].values[3], index="NDVI").compute()
    assert d.name == "dNDVI" and np.isfinite(d).mean() > 0.99
    assert abs(float(d.median())) < 0.01


def test_clouds_give_nan_not_change(stack) -> None:
    t = stack["time"].values
    m = change_map(stack, t[0], t[5])
    clear = stack["clear"].isel(time=5).values
    assert np.isnan(m.values[~clear]).all()
    assert np.isfinite(m.values[clear]).all()


def test_magnitude_is_lazy_and_per_date(stack) -> None:
    m = magnitude(stack, ("2021-01-01", "2021-01-30"))
    assert m.chunks is not None and m.sizes["time"] == 6
    vals = _interior(m).max(["y", "x"]).compute().values
    assert vals[3] > 0.05 and vals[:3].max() < 0.02


def test_write_cog_is_a_valid_cog_with_crs(stack, tmp_path) -> None:
    t = stack["time"].values
    m = change_map(stack, t[0], t[3]).compute()
    path = write_cog(m, tmp_path / "out" / "change.tif")
    valid, errs, _ = cog_validate(path)
    assert valid, errs
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32642
        assert src.res == (10.0, 10.0)
        assert src.bounds.left == pytest.approx(float(m["x"][0]) - 5)
        assert src.bounds.top == pytest.approx(float(m["y"][0]) + 5)
        np.testing.assert_array_equal(src.read(1), m.values.astype("float32"))
        assert src.tags()["before"] == m.attrs["before"]


def test_write_cog_errors(stack, tmp_path) -> None:
    m = change_map(stack, stack["time"].values[0], stack["time"].values[1])
    with pytest.raises(errors.AnalysisError, match="2-D"):
        write_cog(m.expand_dims(time=[0]), tmp_path / "x.tif")
    m.attrs.pop("crs")
    with pytest.raises(errors.AnalysisError, match="no CRS"):
        write_cog(m, tmp_path / "x.tif")
    with pytest.raises(errors.AnalysisError, match="No date"):
        change_map(stack, ("2030-01-01", "2030-02-01"), stack["time"].values[0])
