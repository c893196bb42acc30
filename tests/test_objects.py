"""Aircraft-sized objects from anomaly maps, and the disuse signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.objects import components, disuse, find_objects


def _blob(shape=(40, 40), boxes=()) -> np.ndarray:
    s = np.zeros(shape)
    for r0, r1, c0, c1 in boxes:
        s[r0:r1, c0:c1] = 12.0
    return s


def test_components_drop_small_ones_and_use_8_connectivity() -> None:
    a = np.zeros((6, 6), bool)
    a[0, 0] = a[1, 1] = True           # diagonal neighbours: one component of 2
    a[4, 4] = True                      # a lone pixel
    labels, sizes = components(a, min_pixels=2)
    assert sorted(sizes[sizes > 0].tolist()) == [2]
    assert labels[4, 4] == 0 and labels[0, 0] == labels[1, 1] != 0


def test_a_compact_aircraft_sized_blob_is_one_object() -> None:
    s = _blob(boxes=[(10, 14, 10, 14)])  # 4 x 4 px: a C-130 at 10 m
    y = 3_867_000.0 - 10 * np.arange(40) - 5
    x = 524_000.0 + 10 * np.arange(40) + 5
    (obj,) = find_objects(s, np.ones(s.shape, bool), x=x, y=y)
    assert obj["area_px"] == 16 and obj["count"] == 1
    assert obj["x"] == pytest.approx(524_000 + 120) and obj["y"] == pytest.approx(3_867_000 - 120)
    assert obj["length_m"] == pytest.approx(40, abs=1) and obj["elongation"] == pytest.approx(1)


def test_detection_limit_small_and_thin_things_are_not_aircraft() -> None:
    small = _blob(boxes=[(5, 7, 5, 7)])               # 2 x 2 px: a fighter or a car
    line = _blob(boxes=[(20, 21, 2, 30)])             # a row of vehicles / a marking
    assert find_objects(small, np.ones(small.shape, bool)) == []
    assert find_objects(line, np.ones(line.shape, bool)) == []
    assert len(find_objects(small, np.ones(small.shape, bool), min_pixels=4)) == 1


def test_merged_aircraft_are_counted_by_area() -> None:
    s = _blob(boxes=[(10, 15, 5, 16)])  # 5 x 11 px: two C-17 wingtip to wingtip
    (obj,) = find_objects(s, np.ones(s.shape, bool))
    assert obj["length_m"] == pytest.approx(110, abs=1)  # longer than any one aircraft
    assert obj["count"] == round(55 / 15)


def test_invalid_pixels_and_threshold_are_respected() -> None:
    s = _blob(boxes=[(10, 14, 10, 14)])
    valid = np.ones(s.shape, bool)
    valid[10:14, 10:12] = False  # half under cloud: 8 px left
    assert find_objects(s, valid)[0]["area_px"] == 8
    assert find_objects(s, np.ones(s.shape, bool), threshold=20.0) == []


def test_disuse_needs_rising_vegetation_and_no_activity() -> None:
    d = pd.date_range("2021-09-01", periods=30, freq="30D")
    rising = 0.05 + 0.002 * np.arange(30)
    df = pd.concat([
        pd.DataFrame({"date": d, "zone": "rw", "kind": "runway", "ndvi": rising,
                      "activity_index": 0.0, "flagged": False}),
        pd.DataFrame({"date": d, "zone": "tw", "kind": "taxiway", "ndvi": 0.06,
                      "activity_index": 0.0, "flagged": False}),
        pd.DataFrame({"date": d, "zone": "busy", "kind": "runway", "ndvi": rising,
                      "activity_index": 0.05, "flagged": False}),
    ])
    out = disuse(df).set_index("zone")
    assert out.loc["rw", "disused"] and out.loc["rw", "ndvi_slope_per_year"] == pytest.approx(
        0.002 * 365.25 / 30, rel=0.05)
    assert not out.loc["tw", "disused"] and not out.loc["busy", "disused"]
    assert disuse(df, since="2030-01-01").empty
