"""Radiometry rules on real items from every source, and the data check."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pystac
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo import errors, harmonise
from geo.harmonise import OFFSET_DN, Radiometry, check_offset, decide, dn_histogram

ES = "stac/earth-search"
PC = "stac/planetary-computer"
V0 = "stac/earth-search-v0-legacy"


def _item(root: Path, rel: str) -> dict:
    return json.loads((root / rel).read_text())


@pytest.mark.parametrize(
    ("rel", "baseline", "dn_offset", "offset_applied"),
    [
        # Earth Search before 2022: baseline 02.14, flag false, raster:bands offset 0
        (f"{ES}/item_sentinel-2-l2a_S2A_29RKH_20200219_0_L2A_baseline02.14.json", "02.14", 0, False),
        # Earth Search after 2022, flag true: raster:bands says -0.1 but it is already removed
        (f"{ES}/item_sentinel-2-l2a_S2A_13TDE_20231008_0_L2A.json", "05.09", 0, True),
        (f"{ES}/item_sentinel-2-l2a_S2B_20EPT_20250731_0_L2A.json", "05.11", 0, True),
        # Earth Search Collection 1: raw DNs, offset applies
        (f"{ES}/item_sentinel-2-c1-l2a_S2B_T20EPT_20250731T131905_L2A.json", "05.11", OFFSET_DN, True),
        # Planetary Computer: raw DNs, offset by baseline
        (f"{PC}/item_sentinel-2-l2a_S2A_MSIL2A_20190101T000001_R116_T60VUK_20201007T214652.json",
         "02.12", 0, False),
        # Earth Search v0 legacy: baseline only in the product id (N0301); flag in sentinel:*
        (f"{V0}/S2B_42TUM_20220107_0_L2A.json", "03.01", 0, False),
        (f"{V0}/S2A_17SPR_20221106_0_L2A.json", "04.00", 0, True),
    ],
)
def test_real_items_follow_the_rule_of_their_source(
    real_fixtures: Path, rel: str, baseline: str, dn_offset: int, offset_applied: bool
) -> None:
    item = _item(real_fixtures, rel)
    r = decide(item)
    assert (r.baseline, r.dn_offset, r.offset_applied) == (baseline, dn_offset, offset_applied)
    # the same from a pystac Item
    assert decide(pystac.Item.from_dict(item, migrate=False)).dn_offset == dn_offset


def test_planetary_computer_item_after_2022_is_offset_by_baseline(real_fixtures: Path) -> None:
    page = _item(real_fixtures, f"{PC}/items_page_sentinel-2-l2a_limit1_20250312.json")
    item = page["features"][0]
    assert harmonise.source_kind(item) == "planetary-computer"
    assert decide(item).dn_offset == OFFSET_DN


def test_earth_search_raster_bands_offset_is_not_subtracted_twice(real_fixtures: Path) -> None:
    item = _item(real_fixtures, f"{ES}/item_sentinel-2-l2a_S2A_13TDE_20231008_0_L2A.json")
    assert item["assets"]["red"]["raster:bands"][0]["offset"] == -0.1  # the advertised trap
    dn = np.array([1, 500, 2500], dtype="uint16")
    refl = harmonise.to_reflectance(dn, decide(item).dn_offset)
    np.testing.assert_array_equal(refl, dn.astype("float32") / np.float32(10000))


def test_flag_false_after_2022_subtracts_offset() -> None:
    item = {"id": "S2A_42SWD_20220301_0_L2A", "collection": "sentinel-2-l2a",
            "properties": {"s2:processing_baseline": "04.00",
                           "earthsearch:boa_offset_applied": False}}
    assert decide(item).dn_offset == OFFSET_DN
    assert harmonise.to_reflectance(np.array([3500], dtype="uint16"), OFFSET_DN)[0] == 0.25


def test_baseline_from_product_name_when_property_missing() -> None:
    item = {"id": "S2B_MSIL2A_20220130T055109_N0400_R048_T42SWD_20220130T080000",
            "properties": {}}
    assert harmonise.processing_baseline(item) == "04.00"
    assert decide(item).dn_offset == OFFSET_DN


def _hist(values: np.ndarray) -> np.ndarray:
    return dn_histogram(values.astype("uint16"))


def test_data_check_never_adds_a_subtraction_from_one_date() -> None:
    """Raw DNs under a flag that says harmonised: one date's brightness cannot tell
    (bright desert without the offset looks the same); the time check does that."""
    rng = np.random.default_rng(0)
    dn = 1000 + rng.integers(20, 3000, 20_000)  # raw: nothing below DN 1000
    meta = Radiometry(0, True, "04.00", "earth-search: flag true")
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.HarmonisationWarning)
        assert check_offset(meta, _hist(dn), item_id="S2A_X") == meta


def test_radiometry_stays_backward_compatible() -> None:
    r = Radiometry(1000, True, "05.09", "x")
    assert (r.dn_offset, r.offset_applied, r.baseline, r.reason, r.evidence) == (
        1000, True, "05.09", "x", "")


def test_data_check_catches_flag_false_with_offset_already_removed() -> None:
    rng = np.random.default_rng(1)
    dn = rng.integers(30, 3000, 20_000)  # harmonised: dark pixels well below 1000
    meta = Radiometry(OFFSET_DN, True, "04.00", "earth-search: flag false")
    with pytest.warns(errors.HarmonisationWarning, match="S2A_X.*already removed"):
        out = check_offset(meta, _hist(dn), item_id="S2A_X")
    assert out.dn_offset == 0 and "offset absent" in out.reason
    assert "below 900" in out.evidence


@pytest.mark.parametrize("dn_offset", [0, OFFSET_DN])
def test_data_check_keeps_metadata_when_data_agree_or_cannot_tell(dn_offset: int) -> None:
    meta = Radiometry(dn_offset, True, "05.09", "x")
    agreeing = 1000 + np.arange(20_000) % 2000 if dn_offset else np.arange(1, 20_001) % 2000 + 1
    bright = np.full(20_000, 4000)  # snow: the darkest pixels say nothing
    few = np.full(10, 1010)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for values in (agreeing, bright, few):
            assert check_offset(meta, _hist(values)) == meta


def test_data_check_never_touches_baselines_before_04() -> None:
    meta = Radiometry(0, False, "02.14", "x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_offset(meta, _hist(np.full(20_000, 1050))) == meta


@given(st.lists(st.integers(1, 65535), min_size=1, max_size=50), st.sampled_from([0, 1000]))
def test_to_reflectance_inverts_the_quantisation(dns: list[int], offset: int) -> None:
    dn = np.array(dns, dtype="uint16")
    refl = harmonise.to_reflectance(dn, offset)
    assert refl.dtype == np.float32
    np.testing.assert_allclose(refl.astype(np.float64) * 10000 + offset, dn, atol=0.01)


def test_nodata_becomes_nan() -> None:
    assert np.isnan(harmonise.to_reflectance(np.array([0], dtype="uint16"), 1000)[0])


@pytest.mark.parametrize("dtype,nodata", [("uint16", 0), ("uint16", 65535), ("int16", -1),
                                          ("float32", 0)])
def test_dn_histogram_counts_like_numpy_histogram(dtype: str, nodata: float) -> None:
    rng = np.random.default_rng(3)
    low = 0 if dtype == "uint16" else -60
    dn = rng.integers(low, 6000, size=(300, 310)).astype(dtype)  # > one slice of pixels
    dn[:4] = nodata
    dn[5, :7] = 3000  # the top edge belongs to the last bin, as in numpy
    dn[6, :9] = 2950
    values = dn.ravel()[dn.ravel() != nodata].astype(np.float64)
    counts, _ = np.histogram(values, bins=harmonise.HIST_EDGES)
    expected = np.append(counts, np.count_nonzero(values > harmonise.HIST_EDGES[-1]))
    np.testing.assert_array_equal(dn_histogram(dn, nodata), expected)
