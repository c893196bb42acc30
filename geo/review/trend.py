"""``trend.png``: activity per zone over time, the clear fraction below, key dates and
change points marked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from geo.aoi import ACTIVITY_KINDS
from geo.plot import CHANGE_COLOUR, EVENT_COLOUR, SELECTED_COLOUR, finish, footer, source_text
from geo.review.tables import change_table

__all__ = ["trend"]

log = logging.getLogger(__name__)

_MAX_GAP_DAYS = 75


_BAND_COLUMNS = (("activity_low", "activity_high"), ("activity_lower", "activity_upper"), ("lower", "upper"),
                 ("ci_low", "ci_high"), ("activity_index_lower", "activity_index_upper"))


_SD_COLUMNS = ("activity_std", "activity_sd", "uncertainty", "std", "sigma")


def _uncertainty(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
    """Lower and upper bounds of the activity index, and what they are."""
    value = frame["activity_index"].to_numpy(dtype=float)
    for lo, hi in _BAND_COLUMNS:
        if lo in frame.columns and hi in frame.columns:
            return (frame[lo].to_numpy(dtype=float), frame[hi].to_numpy(dtype=float),
                    f"band: {lo}..{hi} from geo.activity_index")
    for col in _SD_COLUMNS:
        if col in frame.columns:
            sd = frame[col].to_numpy(dtype=float)
            return value - sd, value + sd, f"band: ±1 {col} from geo.activity_index"
    roll = pd.Series(value).rolling(7, center=True, min_periods=3)
    return (roll.quantile(0.25).to_numpy(), roll.quantile(0.75).to_numpy(),
            "band: rolling inter-quartile range over 7 clear dates")


def _num(value: Any) -> float:
    """A date as a matplotlib date number."""
    from matplotlib import dates as mdates

    return float(mdates.date2num(pd.Timestamp(value).to_pydatetime()))


def _events_in(events: Sequence[Any], t0: pd.Timestamp, t1: pd.Timestamp) -> list[Any]:
    return [e for e in events if t0 <= pd.Timestamp(e.date) <= t1]


def _mark_events(ax: Axes, events: Sequence[Any], labels: bool) -> None:
    """Dashed lines at the events; numbered tags above the axis when ``labels``."""
    for k, event in enumerate(events, start=1):
        day = _num(event.date)
        ax.axvline(day, color=EVENT_COLOUR, linestyle=(0, (4, 3)), linewidth=0.8, zorder=1)
        if labels:
            ax.text(day, 1.01, str(k), transform=ax.get_xaxis_transform(), fontsize=6.5,
                    color="white", ha="center", va="bottom", fontweight="bold",
                    bbox={"boxstyle": "circle,pad=0.25", "facecolor": EVENT_COLOUR,
                          "edgecolor": "none"})


def _event_key(fig: Figure, events: Sequence[Any], changes: pd.DataFrame, y: float) -> None:
    """Numbered events in two columns, and the change point(s), at height ``y``."""
    per = int(np.ceil(len(events) / 2)) if events else 0
    for c in range(2 if events else 0):
        lines = [f"{k}  {pd.Timestamp(e.date):%d %b %Y}  {e.label}"
                 for k, e in enumerate(events, start=1) if (k - 1) // per == c]
        fig.text(0.07 + c * 0.33, y, "\n".join(lines), fontsize=7, color=EVENT_COLOUR,
                 ha="left", va="top", linespacing=1.4)
    if not changes.empty:
        text = "\n".join(f"change point {r.date:%d %b %Y}\n(interval {r.lower:%d %b %Y}"
                         f" to {r.upper:%d %b %Y}, shaded)" for r in changes.head(2).itertuples())
        fig.text(0.76, y, text, fontsize=7, color=CHANGE_COLOUR, ha="left", va="top",
                 linespacing=1.4)


def _mark_change(ax: Axes, changes: pd.DataFrame, label: bool) -> None:
    for k, row in enumerate(changes.itertuples()):
        ax.axvspan(_num(row.lower), _num(row.upper), color=CHANGE_COLOUR, alpha=0.12, zorder=0, linewidth=0)
        ax.axvline(_num(row.date), color=CHANGE_COLOUR, linewidth=1.4, zorder=2,
                   label="change point (shaded: its interval)" if label and k == 0 else None)


def trend(activity: pd.DataFrame, out: str | Path | None = None, *,
          scenes: pd.DataFrame | None = None, events: Sequence[Any] = (),
          change_points: Any = None, site: str = "", source: str = "",
          synthetic: bool = False) -> Figure:
    """Activity per zone over time, with uncertainty, clear fraction, events, change point.

    One panel per zone kind (apron, revetment, parking, yard...) with a line per zone;
    dates flagged by :func:`geo.activity_index` (cloud, snow) drawn as hollow grey
    markers and left out of the lines. The bottom panel shows the clear fraction over
    the key zones of every date, the selected images marked.

    Parameters
    ----------
    activity
        Table from :func:`geo.activity_index`: ``date``, ``zone``, ``kind``,
        ``activity_index``, optional ``flagged`` and uncertainty columns
        (``activity_lower``/``activity_upper`` or ``activity_std``; without them the band
        is a rolling inter-quartile range, and the legend says so).
    out
        Where to save the PNG.
    scenes
        Table from :func:`geo.select_scenes` (clear fraction and selection).
    events
        :class:`geo.select.KeyDate` events to mark.
    change_points
        What :func:`geo.when.change_points` returns (see :func:`change_table`).
    site, source, synthetic
        Name in the title, data source in the footer, SYNTHETIC stamp.

    Examples
    --------
    >>> import pandas as pd
    >>> act = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=10, freq="10D"),
    ...                     "zone": "apron_a", "kind": "apron", "activity_index": range(10)})
    >>> fig = trend(act, site="test")
    >>> len(fig.axes)
    1
    """
    act = activity.copy()
    act["date"] = pd.to_datetime(act["date"])
    if "kind" not in act.columns:
        act["kind"] = "zone"
    kinds = [k for k in (*ACTIVITY_KINDS, *sorted(set(act["kind"]) - set(ACTIVITY_KINDS)))
             if k in set(act["kind"])]
    has_clear = scenes is not None and not scenes.empty
    heights = [3.0] * len(kinds) + ([1.6] if has_clear else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(11, 2.2 + 2.0 * sum(heights) / 3),
                             dpi=150, sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": heights, "hspace": 0.12})
    axs = list(axes[:, 0])
    t0, t1 = act["date"].min(), act["date"].max()
    changes = change_table(change_points)
    band_note = ""
    shown = _events_in(events, t0, t1)
    for n_kind, (kind, ax) in enumerate(zip(kinds, axs, strict=False)):
        band_note = _trend_panel(ax, act[act["kind"] == kind], str(kind)) or band_note
        _mark_events(ax, shown, labels=n_kind == 0)
        _mark_change(ax, changes, label=n_kind == 0)
    if has_clear:
        assert scenes is not None
        _clear_panel(axs[-1], scenes)
        _mark_events(axs[-1], shown, labels=False)
        _mark_change(axs[-1], changes, label=False)
    axs[-1].set_xlim(t0 - pd.Timedelta(days=20), t1 + pd.Timedelta(days=20))
    n_sel = int(scenes["selected"].sum()) if has_clear and scenes is not None else 0
    cp = "; ".join(f"{r.date:%d %b %Y} ({r.lower:%b %Y}..{r.upper:%b %Y})"
                   for r in changes.itertuples()) or "none found"
    fig.suptitle(f"{site + ': ' if site else ''}activity index per zone, "
                 f"{t0:%d %b %Y} to {t1:%d %b %Y}", fontsize=12,
                 y=1 - 0.12 / fig.get_figheight(), va="top", fontweight="bold")
    ids = _id_range(scenes)
    footer(fig, f"{source_text(source, synthetic)}. {act['date'].nunique()} dates; "
                 f"{n_sel} selected images ▲ ({ids}; all ids in scenes.csv). Change point: {cp}. "
                 f"{band_note.capitalize()}. Dashed, numbered: key dates. Hollow grey: dates "
                 "flagged by the activity index (cloud, snow), left out of the lines.")
    height = fig.get_figheight()
    top = 1 - (0.55 + 0.16 * max(int(np.ceil(len(shown) / 2)), 2) + 0.35) / height
    _event_key(fig, shown, changes, 1 - 0.5 / height)
    fig.subplots_adjust(left=0.07, right=0.8, top=top, bottom=0.85 / height)
    return finish(fig, out, synthetic)


def _id_range(scenes: pd.DataFrame | None) -> str:
    if scenes is None or scenes.empty or "item_ids" not in scenes.columns:
        return "scene ids in scenes.csv"
    sel = scenes[scenes["selected"]] if "selected" in scenes.columns else scenes
    if sel.empty:
        return "none selected"
    first = str(sel["item_ids"].iloc[0]).split(";")[0]
    last = str(sel["item_ids"].iloc[-1]).split(";")[0]
    return f"first {first}, last {last}"


def _trend_panel(ax: Axes, frame: pd.DataFrame, kind: str) -> str:
    flagged_col = frame["flagged"].astype(bool) if "flagged" in frame.columns \
        else pd.Series(False, index=frame.index)
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
    note = ""
    for k, (zone, group) in enumerate(frame.groupby("zone", sort=True)):
        group = group.sort_values("date")
        flag = flagged_col.loc[group.index].to_numpy()
        good = group[~flag]
        colour = colours[k % len(colours)]
        if not good.empty:
            lo, hi, note = _uncertainty(good)
            # no line or band across long gaps (cloudy or snowy seasons): they hide no data
            t, y, lo, hi = _break_gaps(good["date"], good["activity_index"], lo, hi)
            ax.fill_between(t, lo, hi, color=colour, alpha=0.18, linewidth=0)
            ax.plot(t, y, color=colour, linewidth=1.1, marker="o", markersize=2.2,
                    label=str(zone))
        bad = group[flag]
        if not bad.empty:
            ax.plot(bad["date"], bad["activity_index"], linestyle="none", marker="o",
                    markersize=2.5, markerfacecolor="none", markeredgecolor="#999999",
                    markeredgewidth=0.6)
    ax.set_ylabel(f"{kind}\nactivity index", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=6.5, frameon=False)
    return note


def _break_gaps(dates: pd.Series, values: pd.Series, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Insert a NaN point in every gap longer than ``_MAX_GAP_DAYS`` so lines break there."""
    t = pd.to_datetime(dates).to_numpy()
    y = np.asarray(values, dtype=float)
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    cut = np.flatnonzero(np.diff(t) > np.timedelta64(_MAX_GAP_DAYS, "D")) + 1
    if cut.size == 0:
        return t, y, lo, hi
    mid = t[cut - 1] + (t[cut] - t[cut - 1]) / 2
    return (np.insert(t, cut, mid), np.insert(y, cut, np.nan), np.insert(lo, cut, np.nan),
            np.insert(hi, cut, np.nan))


def _clear_panel(ax: Axes, scenes: pd.DataFrame) -> None:
    dates = pd.to_datetime(scenes["date"])
    ax.plot(dates, scenes["clear_fraction"], linestyle="none", marker="o", markersize=2,
            color="#7f8c8d", label="clear fraction, key zones")
    sel = scenes["selected"].astype(bool).to_numpy()
    ax.vlines(dates[sel], 0, scenes.loc[sel, "clear_fraction"], color=SELECTED_COLOUR,
              linewidth=0.8)
    ax.plot(dates[sel], scenes.loc[sel, "clear_fraction"], linestyle="none", marker="^",
            markersize=5, color=SELECTED_COLOUR, label="selected image")
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("clear\nfraction", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=6.5, frameon=False)
