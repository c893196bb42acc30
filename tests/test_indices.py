"""Spectral indices: formulas against spyndex (on its real samples) and hand values."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import errors, indices
from geo.indices import INDICES, compute

spyndex = pytest.importorskip("spyndex")

SPYNDEX_SYMBOL = {v: k for k, v in indices.BAND_SYMBOLS.items()}


@pytest.fixture(scope="module")
def sentinel() -> dict[str, np.ndarray]:
    """spyndex's real Sentinel-2 10 m sample (B02 B03 B04 B08), as reflectance."""
    ds = spyndex.datasets.open("sentinel")
    names = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir"}
    return {names[b]: ds.sel(band=b).to_numpy().astype(float) / 10000 for b in names}


@pytest.fixture(scope="module")
def landsat() -> dict[str, np.ndarray]:
    """spyndex's real Landsat 8 surface reflectance samples, which include the SWIR."""
    df = spyndex.datasets.open("spectral")
    names = {"SR_B2": "blue", "SR_B3": "green", "SR_B4": "red", "SR_B5": "nir",
             "SR_B6": "swir16", "SR_B7": "swir22"}
    return {ours: df[theirs].to_numpy(dtype=float) for theirs, ours in names.items()}


def _spyndex(index: indices.Index, bands: dict[str, np.ndarray]) -> np.ndarray:
    params = {SPYNDEX_SYMBOL[b]: bands[b] for b in index.bands}
    params.update(index.constants)
    return np.asarray(spyndex.computeIndex(index.spyndex_name, params=params), dtype=float)


def test_registry_formulas_match_spyndex_text() -> None:
    for index in INDICES.values():
        if index.spyndex_name:
            ref = spyndex.indices[index.spyndex_name]
            assert index.formula == ref.formula, index.name
            assert {SPYNDEX_SYMBOL[b] for b in index.bands} <= set(ref.bands), index.name


@pytest.mark.parametrize("name", [n for n, i in INDICES.items()
                                  if i.spyndex_name and "swir16" not in i.bands
                                  and "swir22" not in i.bands])
def test_visible_nir_indices_match_spyndex_on_real_sentinel2(name: str, sentinel) -> None:
    index = INDICES[name]
    ours = compute(name, sentinel)
    theirs = _spyndex(index, sentinel)
    assert ours.shape == (300, 300)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", [n for n, i in INDICES.items() if i.spyndex_name])
def test_every_index_matches_spyndex_on_real_landsat(name: str, landsat) -> None:
    ours = compute(name, landsat)
    theirs = _spyndex(INDICES[name], landsat)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


PIXEL = {"blue": 0.05, "green": 0.08, "red": 0.06, "nir": 0.40, "swir16": 0.20, "swir22": 0.10}
HAND = {
    "NDVI": (0.40 - 0.06) / (0.40 + 0.06),
    "NDBI": (0.20 - 0.40) / (0.20 + 0.40),
    "BSI": ((0.20 + 0.06) - (0.40 + 0.05)) / ((0.20 + 0.06) + (0.40 + 0.05)),
    "NDWI": (0.08 - 0.40) / (0.08 + 0.40),
    "MNDWI": (0.08 - 0.20) / (0.08 + 0.20),
    "NDSI": (0.08 - 0.20) / (0.08 + 0.20),
    "NBR": (0.40 - 0.10) / (0.40 + 0.10),
    "NDMI": (0.40 - 0.20) / (0.40 + 0.20),
    "SAVI": 1.5 * (0.40 - 0.06) / (0.40 + 0.06 + 0.5),
    "EVI": 2.5 * (0.40 - 0.06) / (0.40 + 6 * 0.06 - 7.5 * 0.05 + 1.0),
    "brightness": (0.05 + 0.08 + 0.06 + 0.40) / 4,
}


def test_hand_values_cover_the_whole_registry() -> None:
    assert set(HAND) == set(INDICES)


@pytest.mark.parametrize("name", sorted(HAND))
def test_index_against_hand_computed_value(name: str) -> None:
    bands = {k: np.array([v]) for k, v in PIXEL.items()}
    assert compute(name, bands)[0] == pytest.approx(HAND[name], rel=1e-12)


def test_hand_values_are_what_they_should_be() -> None:
    # a few values worked out on paper, so a wrong HAND formula cannot pass silently
    assert HAND["NDVI"] == pytest.approx(0.739130, abs=1e-6)
    assert HAND["SAVI"] == pytest.approx(0.53125, abs=1e-12)
    assert HAND["brightness"] == pytest.approx(0.1475, abs=1e-12)


def test_constants_can_be_overridden() -> None:
    bands = {k: np.array([v]) for k, v in PIXEL.items()}
    assert compute("SAVI", bands, L=0.0)[0] == pytest.approx(HAND["NDVI"])
    with pytest.raises(errors.AnalysisError, match="no constant"):
        compute("NDVI", bands, L=1.0)


reflectance = st.floats(min_value=0.01, max_value=0.9, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(reflectance, min_size=6, max_size=6),
       gain=st.floats(min_value=0.5, max_value=2.0))
def test_normalised_indices_invariant_to_uniform_gain(values, gain) -> None:
    bands = {b: np.array([v]) for b, v in zip(PIXEL, values)}
    scaled = {b: v * gain for b, v in bands.items()}
    for name, index in INDICES.items():
        if index.gain_invariant:
            assert compute(name, scaled)[0] == pytest.approx(compute(name, bands)[0],
                                                             rel=1e-9, abs=1e-12)
    assert compute("brightness", scaled)[0] == pytest.approx(
        gain * compute("brightness", bands)[0], rel=1e-12)


@settings(max_examples=20, deadline=None)
@given(dy=st.integers(-1, 1), dx=st.integers(-1, 1), seed=st.integers(0, 1000))
def test_indices_commute_with_a_one_pixel_shift(dy, dx, seed) -> None:
    rng = np.random.default_rng(seed)
    bands = {b: rng.uniform(0.02, 0.6, (8, 8)) for b in PIXEL}
    shifted = {b: np.roll(v, (dy, dx), axis=(0, 1)) for b, v in bands.items()}
    for name in INDICES:
        np.testing.assert_allclose(compute(name, shifted),
                                   np.roll(compute(name, bands), (dy, dx), axis=(0, 1)))


def test_add_indices_stays_lazy_and_names_variables() -> None:
    arr = {b: (("y", "x"), da.full((4, 4), v, chunks=2)) for b, v in PIXEL.items()}
    ds = indices.add_indices(xr.Dataset(arr), ["NDVI", "ndbi", "brightness"])
    assert {"NDVI", "NDBI", "brightness"} <= set(ds.data_vars)
    assert ds["NDVI"].chunks is not None
    assert float(ds["NDVI"][0, 0]) == pytest.approx(HAND["NDVI"])
    assert ds["NDVI"].attrs["formula"] == "(N-R)/(N+R)"


def test_unknown_index_and_missing_band_errors() -> None:
    with pytest.raises(errors.AnalysisError, match="Unknown spectral index 'NDXI'"):
        compute("NDXI", {})
    with pytest.raises(errors.MissingBand, match="swir16"):
        compute("NDBI", {"nir": np.ones(1)})
    with pytest.raises(KeyError):  # MissingBand is also a KeyError
        compute("NDBI", {"nir": np.ones(1)})


def test_table_lists_every_index_with_reference() -> None:
    t = indices.table()
    assert set(t["name"]) == set(INDICES)
    assert t["reference"].str.len().min() > 5
