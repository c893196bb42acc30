"""Aircraft-sized objects, vehicle occupancy and disuse, from per-pixel anomaly maps.

The anomaly maps come from :mod:`geo.activity`: per date, per pixel, how many robust
standard deviations a pixel departs from its own empty-state baseline (after the
control-zone gain, the zone's haze shift and a one-pixel misregistration tolerance).
This module turns them into things:

- **Aircraft** (apron and revetment zones): 8-connected components of anomalous pixels
  whose size and shape are plausible for a large aircraft seen at 10 m. An aircraft of
  wingspan W and length L covers roughly a W x L box, of which the fuselage and wings
  fill a third to a half; at 10 m its anomalous footprint is the pixels it covers enough
  to change by more than the threshold: about 5-15 pixels for a 30-40 m aircraft
  (C-130, KC-135, A400M), 15-30 for a 50-65 m one (C-17, 747). Components of
  ``min_pixels`` (default 6) to ``max_pixels`` pixels, no longer than ``max_length_m``
  and not elongated beyond ``max_elongation`` count; components longer than any single
  aircraft (``max_single_length_m``) are counted as several parked side by side
  (``round(area / pixels_per_aircraft)``, at least 2).
- **Detection limit**: aircraft with wingspan below about 30 m (fighters, business jets)
  cover fewer than 6 pixels and are not counted (they may still add to the activity
  index); large helicopters (CH-47, Mi-17: ~30 m long with rotors) sit at the limit and
  are sometimes counted; slender swept-wing aircraft of ~40 m (KC-135) are sometimes
  missed; aircraft parked wingtip to wingtip merge and are counted by area, so counts
  of dense ramps are estimates; an aircraft parked on the same spot for most of the
  reference period belongs to the baseline and is invisible.
- **Vehicle occupancy** (parking and yard zones): cars are sub-pixel, so instead of
  objects the occupancy is the fraction of the zone's clear pixels that depart from the
  empty lot (at a lower threshold, no size filter).
- **Disuse** (runways and taxiways): a vegetation trend (Theil-Sen slope of the zone's
  median NDVI per year) together with the absence of change, see :func:`disuse`.

Examples
--------
>>> import numpy as np
>>> score = np.zeros((20, 20)); score[5:8, 5:9] = 10.0
>>> objs = find_objects(score, np.ones((20, 20), bool), threshold=5.0)
>>> objs[0]["area_px"], objs[0]["count"]
(12, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage, stats

__all__ = ["EIGHT", "components", "find_objects", "disuse"]

EIGHT = np.ones((3, 3), dtype=bool)
"""8-connectivity structuring element."""


def components(anomalous: np.ndarray, min_pixels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Label 8-connected components and drop those smaller than ``min_pixels``.

    Returns
    -------
    (labels, sizes)
        ``labels`` int array (0 = background) and ``sizes[i]`` = pixels of label i.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((5, 5), bool); a[0, 0] = True; a[2:4, 2:4] = True
    >>> labels, sizes = components(a, min_pixels=2)
    >>> int((labels > 0).sum()), sizes.tolist()
    (4, [0, 0, 4])
    """
    labels, n = ndimage.label(anomalous, structure=EIGHT)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    small = sizes < min_pixels
    if small[1:].any():
        labels = np.where(small[labels], 0, labels)
        sizes = np.where(small, 0, sizes)
    return labels, sizes


def _shape(rows: np.ndarray, cols: np.ndarray, res: float) -> tuple[float, float, float]:
    """Length and width (m, from second moments of a uniform rectangle) and elongation."""
    if rows.size < 2:
        return res, res, 1.0
    cov = np.cov(np.vstack([rows, cols]).astype(float), bias=True) + np.eye(2) / 12.0
    ev = np.sort(np.linalg.eigvalsh(cov))[::-1]
    length = float(np.sqrt(12 * ev[0]) * res)
    width = float(np.sqrt(12 * max(ev[1], 1e-6)) * res)
    return length, width, length / width


def find_objects(
    score: np.ndarray,
    valid: np.ndarray,
    *,
    threshold: float = 5.0,
    resolution: float = 10.0,
    min_pixels: int = 6,
    max_pixels: int = 400,
    max_length_m: float = 400.0,
    max_elongation: float = 4.0,
    pixels_per_aircraft: float = 15.0,
    max_single_length_m: float = 75.0,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Aircraft-plausible connected components of one date's anomaly map.

    Parameters
    ----------
    score
        ``(y, x)`` anomaly scores (robust standard deviations).
    valid
        ``(y, x)`` pixels that count (clear and inside the zone).
    threshold
        Score above which a pixel is anomalous.
    resolution
        Pixel size in metres.
    min_pixels, max_pixels
        Plausible component size (pixels); see the module docstring.
    max_length_m, max_elongation
        Longest plausible component and largest length/width ratio (long thin
        components are vehicles in a row, markings or edges, not aircraft).
    pixels_per_aircraft, max_single_length_m
        A component longer than ``max_single_length_m`` (the largest aircraft plus a
        pixel) holds several aircraft: ``max(2, round(area / pixels_per_aircraft))``.
    x, y
        Pixel-centre coordinates (to report UTM centres); pixel indices otherwise.

    Returns
    -------
    list of dict
        Per object: ``x, y`` (centre), ``area_px``, ``area_m2``, ``length_m``,
        ``width_m``, ``elongation``, ``peak_score``, ``count`` (aircraft it holds).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.zeros((30, 30)); s[2, 2:25] = 9.0   # a long thin line: not an aircraft
    >>> find_objects(s, np.ones((30, 30), bool))
    []
    """
    anomalous = (score > threshold) & valid
    labels, sizes = components(anomalous, min_pixels)
    out: list[dict[str, Any]] = []
    if not sizes.any():
        return out
    for lab in np.nonzero(sizes)[0]:
        rows, cols = np.nonzero(labels == lab)
        area = rows.size
        length, width, elong = _shape(rows, cols, resolution)
        if area > max_pixels or length > max_length_m or elong > max_elongation:
            continue
        r, c = float(rows.mean()), float(cols.mean())
        cx = float(np.interp(c, np.arange(x.size), x)) if x is not None else c
        cy = float(np.interp(r, np.arange(y.size), y)) if y is not None else r
        count = (max(2, int(round(area / pixels_per_aircraft)))
                 if length > max_single_length_m else 1)
        out.append({
            "x": cx, "y": cy, "area_px": int(area), "area_m2": area * resolution**2,
            "length_m": length, "width_m": width, "elongation": elong,
            "peak_score": float(score[rows, cols].max()), "count": max(count, 1),
        })
    return out


def disuse(activity: pd.DataFrame, *, kinds: tuple[str, ...] = ("runway", "taxiway"),
           since: Any = None) -> pd.DataFrame:
    """Disuse signal of runways and taxiways: vegetation trend and (lack of) change.

    Parameters
    ----------
    activity
        Output of :func:`geo.activity_index` run with runway/taxiway kinds included (it
        carries per zone and date the median ``ndvi`` and the ``activity_index``).
    kinds
        Zone kinds to summarise.
    since
        Only dates on or after this one (e.g. the takeover date).

    Returns
    -------
    pandas.DataFrame
        One row per zone: ``zone, kind, n_dates, ndvi_first, ndvi_last,
        ndvi_slope_per_year`` (Theil-Sen), ``ndvi_slope_low/high`` (95 %),
        ``mean_activity``, ``disused`` (NDVI rising significantly while activity stays
        below 1 % of the zone).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.date_range("2022-01-01", periods=20, freq="30D")
    >>> df = pd.DataFrame({"date": d, "zone": "rw", "kind": "runway", "flagged": False,
    ...                    "ndvi": [0.05 + 0.01 * i for i in range(20)],
    ...                    "activity_index": 0.0})
    >>> bool(disuse(df)["disused"].iloc[0])
    True
    """
    df = activity[activity["kind"].isin(kinds) & ~activity["flagged"].astype(bool)]
    if since is not None:
        df = df[df["date"] >= pd.Timestamp(since)]
    rows = []
    for (zone, kind), g in df.groupby(["zone", "kind"], sort=True):
        g = g.dropna(subset=["ndvi"]).sort_values("date")
        if len(g) < 3:
            continue
        years = (g["date"] - g["date"].iloc[0]).dt.days.to_numpy() / 365.25
        fit = stats.theilslopes(g["ndvi"].to_numpy(), years, alpha=0.95)
        mean_act = float(g["activity_index"].mean())
        rows.append({
            "zone": zone, "kind": kind, "n_dates": len(g),
            "ndvi_first": float(g["ndvi"].iloc[: max(len(g) // 10, 1)].median()),
            "ndvi_last": float(g["ndvi"].iloc[-max(len(g) // 10, 1):].median()),
            "ndvi_slope_per_year": float(fit.slope),
            "ndvi_slope_low": float(fit.low_slope), "ndvi_slope_high": float(fit.high_slope),
            "mean_activity": mean_act,
            "disused": bool(fit.low_slope > 0 and mean_act < 0.01),
        })
    return pd.DataFrame(rows, columns=["zone", "kind", "n_dates", "ndvi_first", "ndvi_last",
                                       "ndvi_slope_per_year", "ndvi_slope_low",
                                       "ndvi_slope_high", "mean_activity", "disused"])
