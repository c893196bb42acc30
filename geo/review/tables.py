"""The review's data files: ``activity.csv``, ``scenes.csv``, ``change_points.csv`` and
``objects.geojson``, and the change-point tables the figures and report share."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.aoi import AOI

__all__ = ["CHANGE_COLUMNS", "change_table", "main_change", "change_points_table", "write_objects", "write_tables", "atomic_csv"]

log = logging.getLogger(__name__)


def change_table(change_points: Any) -> pd.DataFrame:
    """Change points as a DataFrame with ``date``, ``lower``, ``upper`` (and ``zone`` if any).

    Accepts a DataFrame, a dataclass or object with those attributes, a dict, or a
    list of them (what :func:`geo.when.change_points` returns).

    Examples
    --------
    >>> change_table({"date": "2021-08-20", "lower": "2021-07-30", "upper": "2021-09-10"}).shape
    (1, 3)
    """
    if change_points is None:
        return pd.DataFrame(columns=["date", "lower", "upper"])
    if isinstance(change_points, pd.DataFrame):
        frame = change_points.copy()
    elif isinstance(change_points, dict):
        frame = pd.DataFrame([change_points])
    elif isinstance(change_points, list | tuple):
        frame = pd.concat([change_table(c) for c in change_points], ignore_index=True) \
            if change_points else pd.DataFrame(columns=["date", "lower", "upper"])
    else:
        for attr in ("table", "frame", "points", "change_points"):
            inner = getattr(change_points, attr, None)
            if isinstance(inner, pd.DataFrame | list):
                return change_table(inner)
        fields = {k: getattr(change_points, k) for k in ("date", "lower", "upper", "zone")
                  if hasattr(change_points, k)}
        if "date" not in fields:
            return pd.DataFrame(columns=["date", "lower", "upper"])
        frame = pd.DataFrame([fields])
    if "date" not in frame.columns:
        return pd.DataFrame(columns=["date", "lower", "upper"])
    for col in ("date", "lower", "upper"):
        if col not in frame.columns:
            frame[col] = frame["date"]
        frame[col] = pd.to_datetime(frame[col], errors="coerce")
        if getattr(frame[col].dt, "tz", None) is not None:
            frame[col] = frame[col].dt.tz_convert(None)
    return frame.dropna(subset=["date"]).reset_index(drop=True)


def main_change(change_points: Any) -> pd.DataFrame:
    """The main change point as a one-row table (``date``, ``lower``, ``upper``), or empty.

    The main change of a :class:`geo.when.ChangePoints` is its largest step against the
    noise; of a table (``change_points.csv``), the row with the largest ``step`` or
    ``size``; without either column, the first row.

    Examples
    --------
    >>> main_change({"date": "2021-08-01"})["date"].dt.strftime("%Y-%m-%d").tolist()
    ['2021-08-01']
    >>> two = pd.DataFrame({"date": ["2021-01-01", "2021-08-01"], "size": [0.01, -0.03]})
    >>> main_change(two)["date"].dt.strftime("%Y-%m-%d").tolist()
    ['2021-08-01']
    >>> main_change(None).empty
    True
    """
    main = getattr(change_points, "main", None)  # geo.when.ChangePoints: the largest step
    table = change_table(main.to_frame().T if isinstance(main, pd.Series)
                         else change_points)
    for col in ("step", "size"):
        if col in table and len(table) > 1:
            size = pd.to_numeric(table[col], errors="coerce").abs()
            if size.notna().any():
                return table.loc[[size.idxmax()]].reset_index(drop=True)
    return table.head(1)


CHANGE_COLUMNS = ("date", "lower", "upper", "direction", "size", "sensor", "before", "after",
                  "p_value", "synthetic")
"""Columns of ``change_points.csv``."""


def change_points_table(changes: Any, *, sensor: str = "s2", synthetic: bool = False
                        ) -> pd.DataFrame:
    """The changes :func:`geo.when.change_points` found (a ``ChangePoints`` or its
    table), as ``change_points.csv`` holds them.

    ``lower``/``upper`` bound the date (the last date before and the first after);
    ``size`` is the step in the apron activity index, ``direction`` its sign.

    Examples
    --------
    >>> cp = pd.DataFrame({"date": [pd.Timestamp("2021-05-23")], "lower": ["2021-05-20"],
    ...                    "upper": ["2021-05-25"], "before": [0.03], "after": [0.0],
    ...                    "step": [-0.03], "p_value": [1e-9]})
    >>> change_points_table(cp)[["date", "direction", "size", "sensor"]].values.tolist()
    [['2021-05-23', 'down', -0.03, 's2']]
    """
    frame = getattr(changes, "table", changes)  # a ChangePoints, or its table
    if frame is None or len(frame) == 0:
        return pd.DataFrame(columns=list(CHANGE_COLUMNS))
    frame = pd.DataFrame(frame).reset_index(drop=True)

    def day(col: str) -> pd.Series:
        return pd.to_datetime(frame[col]).dt.strftime("%Y-%m-%d")

    step = frame["step"].astype(float)
    return pd.DataFrame({
        "date": day("date"), "lower": day("lower"), "upper": day("upper"),
        "direction": np.where(step < 0, "down", "up"), "size": step, "sensor": sensor,
        "before": frame.get("before"), "after": frame.get("after"),
        "p_value": frame.get("p_value"), "synthetic": synthetic,
    })[list(CHANGE_COLUMNS)]


def write_objects(objects: pd.DataFrame | None, stack: Any, area: AOI, path: Path, *,
                  synthetic: bool = False) -> Path:
    """Write the detected objects as a GeoJSON FeatureCollection of points (lon/lat).

    One feature per object per date: ``date``, ``zone``, ``kind``, ``count`` (aircraft
    it holds), ``area_m2``, ``length_m``, ``width_m``, ``peak_score`` (robust standard
    deviations above the empty state), ``confidence`` (``"low"`` where the date's zone
    row is flagged for cloud, snow or haze, else ``"normal"``) and ``item_id``. Without
    objects (a review from a precomputed table) the collection is empty.

    Examples
    --------
    >>> import tempfile, json
    >>> from geo.testing.review import toy_inputs
    >>> toy = toy_inputs(n_dates=3)
    >>> p = write_objects(None, toy["stack"], toy["aoi"], Path(tempfile.mkdtemp()) / "o.geojson")
    >>> json.loads(p.read_text())["features"]
    []
    """
    from pyproj import Transformer

    features = []
    if objects is not None and not objects.empty:
        to_ll = Transformer.from_crs(area.epsg, 4326, always_xy=True)
        lon, lat = to_ll.transform(objects["x"].to_numpy(), objects["y"].to_numpy())
        ids = _items_by_day(stack)
        rows: list[dict[str, Any]] = objects.to_dict("records")  # type: ignore[assignment]
        for k, row in enumerate(rows):
            day = pd.Timestamp(row["date"]).normalize()
            point = [round(float(lon[k]), 7), round(float(lat[k]), 7)]
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": point},
                             "properties": _object_properties(row, day, ids.get(day, ""))})
    doc = {"type": "FeatureCollection", "name": "objects" + (" (SYNTHETIC)" if synthetic else ""),
           "synthetic": synthetic, "features": features}
    tmp = path.with_suffix(".geojson.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _object_properties(row: dict[str, Any], day: pd.Timestamp, item_id: str) -> dict[str, Any]:
    return {
        "date": f"{day:%Y-%m-%d}", "zone": str(row["zone"]), "kind": str(row["kind"]),
        "count": int(row["count"]), "area_m2": float(row["area_m2"]),
        "length_m": round(float(row["length_m"]), 1), "width_m": round(float(row["width_m"]), 1),
        "peak_score": round(float(row["peak_score"]), 2),
        "confidence": "low" if bool(row["flagged"]) else "normal", "item_id": item_id,
    }


def _items_by_day(stack: Any) -> dict[pd.Timestamp, str]:
    if "item_id" not in stack.coords:
        return {}
    times = pd.DatetimeIndex(stack["time"].values).normalize()
    return {t: str(i) for t, i in zip(times, stack["item_id"].values, strict=True)}


def write_tables(folder: Path, activity: pd.DataFrame, scenes: pd.DataFrame) -> dict[str, Path]:
    files = {"activity.csv": folder / "activity.csv", "scenes.csv": folder / "scenes.csv"}
    atomic_csv(activity, files["activity.csv"])
    table = scenes.copy()
    table["date"] = pd.to_datetime(table["date"]).dt.strftime("%Y-%m-%d")
    atomic_csv(table, files["scenes.csv"])
    return files


def atomic_csv(frame: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False, float_format="%.4f")
    os.replace(tmp, path)
    return path
