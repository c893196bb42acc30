"""The real archive's shape, end to end: two collections, gaps, wrong offset flags.

The small scenario serves both Earth Search collections over a loopback STAC API
(``passes.csv`` lists every item with its true DN offset). These tests check what a user
of Earth Search relies on: every pass once, Collection 1 first, no radiometric step
between passes served from different collections, and wrong offset flags corrected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geo
from geo.search import PREFERRED_COLLECTIONS, item_collection, solar_day
from geo.zones import zone_masks

C1, L2A = PREFERRED_COLLECTIONS


def _passes(scenario_dir: Path) -> pd.DataFrame:
    return pd.read_csv(scenario_dir / "passes.csv", dtype={"item_id": str})


def _period(passes: pd.DataFrame) -> tuple[str, str]:
    return str(passes["date"].min()), str(passes["date"].max())


def _expected_items(passes: pd.DataFrame) -> dict[str, str]:
    """date -> the item a review should read: the c1 item, else the newest l2a one."""
    out = {}
    for day, rows in passes.groupby("date"):
        c1 = rows[rows["collection"] == C1]
        pick = c1 if not c1.empty else rows.sort_values("sequence").tail(1)
        out[str(day)] = str(pick["item_id"].iloc[0])
    return out


@pytest.fixture(scope="module")
def searched(scenario_dir: Path, scenario_server: Any, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Any]:
    passes = _passes(scenario_dir)
    store = tmp_path_factory.mktemp("archive-store")
    start, end = _period(passes)
    items = geo.search("bagram", start, end, source=scenario_server.stac_url, store=store,
                       progress=False)
    return {"items": items, "passes": passes, "store": store, "start": start, "end": end}


def test_every_pass_is_found_exactly_once_from_collection_1_where_it_has_it(
    searched: dict[str, Any],
) -> None:
    items, passes = searched["items"], searched["passes"]
    days = [str(solar_day(i)) for i in items]
    assert len(days) == len(set(days))  # one item per pass
    assert {d: i.id for d, i in zip(days, items, strict=True)} == _expected_items(passes)
    supplied = {item_collection(i) for i in items}
    assert supplied == {C1, L2A}  # the gaps of each are filled by the other


def test_no_step_between_passes_served_from_different_collections(
    searched: dict[str, Any], scenario_server: Any,
) -> None:
    """Where both collections hold a pass, their reflectance of the control zone agrees
    (c1 stores +1000 on every date, the older collection does not before 2022)."""
    passes = searched["passes"]
    both = passes.groupby("date")["collection"].nunique()
    both = both[both == 2].index
    assert len(both) >= 5
    site = geo.aoi.load("bagram")
    means = {}
    for coll in (C1, L2A):
        items = geo.search(site, searched["start"], searched["end"],
                           source=scenario_server.stac_url, store=searched["store"],
                           collection=coll, progress=False)
        items = [i for i in items if str(solar_day(i)) in set(both)]
        ds = geo.load(items, site, bands=["red", "nir", "swir16", "scl"],
                      store=searched["store"], progress=False)
        masks = zone_masks(site, ds)
        mask = masks.values[np.asarray(masks["kind"] == "control")].any(axis=0)
        clear = ds["clear"].values & mask
        for band in ("red", "nir", "swir16"):
            values = np.where(clear, ds[band].values, np.nan)
            means[(coll, band)] = pd.Series(np.nanmedian(values.reshape(len(ds.time), -1),
                                                        axis=1),
                                            index=pd.DatetimeIndex(ds.time.values).normalize())
    for band in ("red", "nir", "swir16"):
        diff = (means[(C1, band)] - means[(L2A, band)]).dropna()
        assert len(diff) >= 3
        assert float(np.median(np.abs(diff))) < 0.005, (band, diff.round(4).to_dict())


def test_wrong_offset_flags_are_corrected_both_ways_in_a_mixed_review(
    searched: dict[str, Any],
) -> None:
    """Every item read gets its true DN offset, whatever its flag says (passes.csv holds
    the truth); the overrides warn, naming the item."""
    passes = searched["passes"].set_index("item_id")
    items = searched["items"]
    wrong = {i.id for i in items if bool(passes.loc[i.id, "flag_wrong"])}
    truth_raw = {i: int(passes.loc[i, "dn_offset"]) for i in wrong}
    assert set(truth_raw.values()) == {0, 1000}  # both directions are read by the review
    with pytest.warns(geo.errors.HarmonisationWarning) as caught:
        ds = geo.load(items, "bagram", bands=["red", "nir", "swir16", "scl"],
                      store=searched["store"], progress=False)
    got = dict(zip((str(v) for v in ds["item_id"].values),
                   (int(v) for v in ds["dn_offset"].values), strict=True))
    assert got == {i.id: int(passes.loc[i.id, "dn_offset"]) for i in items}
    named = " ".join(str(w.message) for w in caught)
    assert all(item_id in named for item_id in wrong)
    for item_id in wrong:
        row = list(ds["item_id"].values).index(item_id)
        assert "time check" in str(ds["offset_reason"].values[row])
