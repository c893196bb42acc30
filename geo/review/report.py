"""The review's report: one self-contained HTML page with figures, tables, method, provenance.

The page embeds its figures, so it can be mailed or published as one file and opened
without a network. To keep it small (a five-year review stays under 5 MB), each still
figure is scaled to the page's width (:data:`PAGE_IMAGE_WIDTH`) and embedded as WebP
where that is much smaller than the PNG; the animation is the review's small animated
WebP. Each image links to its full-quality file beside the report, and the page says so.

Every number in the page traces to a scene: the provenance table lists each scene's id,
date, clear fraction over the key zones, processing baseline and how the baseline-04.00
offset was handled.

Examples
--------
>>> import pandas as pd
>>> scenes = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"]), "item_ids": ["S2A_x"],
...                        "clear_fraction": [0.9], "selected": [True], "reason": ["only one"]})
>>> html = render_report(site="test", period=("2021-01-01", "2021-12-31"), source="toy",
...                      scenes=scenes, activity=pd.DataFrame(), figures={})
>>> "S2A_x" in html and html.startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from geo import errors
from geo.review.headline import Sentence, has_counts, headline, headline_html
from geo.review.tables import change_table
from geo.select import BeforeAfter

__all__ = ["FIGURE_CAPTIONS", "PAGE_IMAGE_WIDTH", "figure_caption", "offset_handling",
           "scene_provenance", "activity_summary", "render_report", "sensor_dates",
           "write_report"]


log = logging.getLogger(__name__)


FIGURE_CAPTIONS: dict[str, tuple[str, str]] = {
    "zones": ("The area of interest",
              "Zones of the AOI over a clear scene. Apron, revetment, parking and yard zones are "
              "the key zones whose activity is measured; most outlines are approximate."),
    "trend": ("Aircraft-sized objects and activity over time",
              "Top: the number of aircraft-sized objects counted on the aprons (summed over the "
              "apron zones, revetments included where the site has them) on every usable date, "
              "with the inter-quartile range of neighbouring clear dates as a band. Below: the "
              "activity index of each key zone, with its uncertainty band, and the clear "
              "fraction of the key zones, the selected images marked. Axes are scaled to the "
              "usable dates; dates flagged for cloud or snow are hollow grey markers, drawn at "
              "the axis edge as triangles where they fall beyond it. Key dates are dashed and "
              "numbered."),
    "before_after": ("Before and after",
                     "A true-colour pair of selected images in the same season, the same "
                     "stretch for both, with the change map and each zone's numbers."),
    "before_after_radar": ("Before and after, by radar",
                           "Sentinel-1 VV backscatter of the two passes of one relative orbit "
                           "(the same viewing geometry) nearest the optical before/after "
                           "dates, grey, -25 to +5 dB, the same stretch for both: smooth "
                           "aprons are dark, aircraft and buildings bright."),
    "contact_sheet": ("The selected images",
                      "Every selected image, with its date, clear fraction and activity."),
    "timelapse": ("Timelapse", "The selected images in date order."),
}
"""Title and caption of each figure of the review, by file stem.

The captions state only what holds for every review; :func:`figure_caption` adds what
this review did (whether a change point was found, what the before/after pair is split
at)."""


_MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".webp": "image/webp", ".svg": "image/svg+xml"}


_FORMAT_NAMES = {"image/png": "PNG", "image/gif": "GIF", "image/jpeg": "JPEG",
                 "image/webp": "WebP", "image/svg+xml": "SVG"}


_MAX_EMBED = 40 * 1024 * 1024
"""Bytes above which a figure is linked, not embedded (the page would not open)."""


PAGE_IMAGE_WIDTH = 1600
"""Widest embedded still image, in pixels. The page is at most 1150 px wide (1102 px of
content); 1600 px stays sharp at 1.5x screen density and keeps the page small. The
full-quality file is linked from each image."""


_WEBP_QUALITY = 85
"""WebP quality of the embedded figures: text at 8 pt stays crisp (checked by eye at 1600 px)."""


_WEBP_IF_UNDER = 0.7
"""Embed an unscaled figure as WebP only when that is under 70 % of its file's bytes."""


_CSS = """
#headline{background:#f7f7f2;border-left:4px solid #555;padding:2px 16px;margin:1em 0}
#headline .links{font-size:.85em;color:#555}
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:1150px;margin:0 auto;
padding:24px;color:#222;line-height:1.45;background:#fff}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}figure{margin:1.2em 0}figure img{max-width:100%;height:auto;
border:1px solid #ddd}
figcaption{font-size:.9em;color:#444;margin-top:.4em}
table{border-collapse:collapse;font-size:.82em;margin:.8em 0;width:100%}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr.sel td{background:#fff7ea}td.num{text-align:right;white-space:nowrap}
.synthetic{background:#b71c1c;color:#fff;padding:10px 14px;font-weight:bold;border-radius:4px}
.meta{color:#555;font-size:.9em}.facts{display:grid;grid-template-columns:max-content auto;
gap:2px 16px}.facts dt{font-weight:bold}.facts dd{margin:0}code{font-size:.9em}
details summary{cursor:pointer;font-weight:bold;margin:.6em 0}
"""


def offset_handling(baseline: Any, offset_applied: Any, reason: str | None = None) -> str:
    """Say in words how a scene's baseline-04.00 DN offset was handled.

    Examples
    --------
    >>> offset_handling("02.14", False)
    'none needed: baseline 02.14 < 04.00, reflectance = DN / 10000'
    >>> offset_handling("04.00", True)
    'offset of 1000 DN removed (by the source or by geo): reflectance = (DN - 1000) / 10000'
    """
    base = "" if baseline is None or (isinstance(baseline, float) and np.isnan(baseline)) \
        else str(baseline)
    if reason:
        return str(reason)
    if not base:
        return "baseline unknown: treated as 04.00+ raw DNs"
    try:
        old = tuple(int(p) for p in base.split(".")[:2]) < (4, 0)
    except ValueError:
        old = False
    if old:
        return f"none needed: baseline {base} < 04.00, reflectance = DN / 10000"
    if bool(offset_applied):
        return "offset of 1000 DN removed (by the source or by geo): reflectance = (DN - 1000) / 10000"
    return f"baseline {base}: offset not removed (check this scene)"


def scene_provenance(stack: Any, scenes: pd.DataFrame | None = None, *,
                     items: Iterable[Any] | None = None) -> pd.DataFrame:
    """One row per scene of a stack: id, date, platform, clear fraction, baseline, offset.

    Parameters
    ----------
    stack
        Dataset from :func:`geo.load` (per-time coords ``item_id``, ``platform``,
        ``processing_baseline``, ``offset_applied``).
    scenes
        Table from :func:`geo.select_scenes`: adds ``clear_fraction``, ``selected`` and
        ``reason``.
    items
        The pystac Items loaded: where :mod:`geo.harmonise` is available, its decision's
        ``reason`` describes the offset handling in full.

    Examples
    --------
    >>> from geo.testing.review import toy_stack
    >>> scene_provenance(toy_stack(n_dates=2))[["item_id", "baseline"]].shape
    (2, 2)
    """
    times = pd.DatetimeIndex(stack["time"].values)
    n = times.size

    def coord(name: str, default: Any) -> list[Any]:
        return list(stack[name].values) if name in stack.coords else [default] * n

    frame = pd.DataFrame({
        "date": times.normalize(),
        "time": times,
        "item_id": [str(v) for v in coord("item_id", "")],
        "collection": [str(v) for v in coord("collection", "")],
        "platform": [str(v) for v in coord("platform", "")],
        "baseline": [None if v is None else str(v) for v in coord("processing_baseline", None)],
        "offset_applied": coord("offset_applied", False),
    })
    reasons = _harmonise_reasons(items)
    if "offset_reason" in stack.coords:  # what load decided, data checks included
        reasons.update(zip(frame["item_id"], (str(v) for v in coord("offset_reason", "")),
                           strict=True))
    frame["offset_handling"] = [offset_handling(b, o, reasons.get(i))
                                for b, o, i in zip(frame["baseline"], frame["offset_applied"],
                                                   frame["item_id"], strict=True)]
    if scenes is not None and not scenes.empty:
        info = scenes.assign(date=pd.to_datetime(scenes["date"]).dt.normalize())
        keep = [c for c in ("date", "clear_fraction", "selected", "reason") if c in info.columns]
        frame = frame.merge(info[keep].drop_duplicates("date"), on="date", how="left")
        frame["selected"] = frame["selected"].fillna(False).astype(bool)
    return frame


def _harmonise_reasons(items: Iterable[Any] | None) -> dict[str, str]:
    if items is None:
        return {}
    try:
        from geo.harmonise import decide
    except ImportError:  # pragma: no cover - the imagery step is part of geo
        return {}
    out = {}
    for item in items:
        try:
            rad = decide(item)
        except errors.GeoError as exc:
            log.debug("no radiometry decision for %s: %s", getattr(item, "id", item), exc)
            continue
        verb = f"subtract {rad.dn_offset} DN" if rad.dn_offset else "no DN subtracted"
        out[str(getattr(item, "id", ""))] = f"{verb}; {rad.reason}"
    return out


def figure_caption(stem: str, change_points: Any = None, pair: BeforeAfter | None = None,
                   fused: pd.DataFrame | None = None) -> tuple[str, str]:
    """Title and caption of a figure, saying what this review did.

    Parameters
    ----------
    stem
        Figure file stem (``"trend"``, ``"before_after"``...).
    change_points
        What :func:`geo.when.change_points` returned (None: not found or not run).
    pair
        The before/after pair (:func:`geo.review.pick_before_after`).
    fused
        The fused optical and radar series (:func:`geo.fuse.fuse`), if radar was used.

    Examples
    --------
    >>> figure_caption("trend")[1].endswith("No change point was found, so none is drawn.")
    True
    """
    title, caption = FIGURE_CAPTIONS.get(stem, (stem.replace("_", " "), ""))
    if stem == "trend" and fused is not None:
        caption += (" With radar, the top panel also shows each Sentinel-1 pass's count on "
                    "the optical scale (open blue markers, one kind per relative orbit) and "
                    "the fused series of both sensors (purple) with its 95 % band; the "
                    "change point is found on the fused series.")
    if stem == "trend":
        found = not change_table(change_points).empty
        caption += (" The change point found is red, its interval shaded." if found
                    else " No change point was found, so none is drawn.")
    if stem == "before_after" and pair is not None:
        caption += f" {pair.caption()}"
    return title, caption


def _summary_split(activity: pd.DataFrame, change_points: Any,
                   pair: BeforeAfter | None) -> tuple[pd.Timestamp | None, str]:
    """The date the findings table splits at, and its words."""
    if pair is not None:
        return pair.split, pair.split_text()
    changes = change_table(change_points)
    if not changes.empty:
        return changes["date"].iloc[0], f"the change on {changes['date'].iloc[0]:%Y-%m-%d}"
    if activity is None or activity.empty or "date" not in activity.columns:
        return None, ""
    middle = pd.Timestamp(pd.to_datetime(activity["date"]).median()).normalize()
    return middle, f"{middle:%Y-%m-%d}, the median date of the activity table (no change point)"


def activity_summary(activity: pd.DataFrame, change_points: Any = None, *,
                     split: Any = None) -> pd.DataFrame:
    """Mean activity per zone before and after a date, usable dates only.

    The date: ``split`` if given, else the (first) change point, else the median date
    of the usable rows.

    Examples
    --------
    >>> act = pd.DataFrame({"date": pd.to_datetime(["2021-01-01", "2022-01-01"]),
    ...     "zone": "a", "kind": "apron", "activity_index": [0.8, 0.2]})
    >>> activity_summary(act, {"date": "2021-06-01"})["after"].tolist()
    [0.2]
    >>> activity_summary(act, split="2020-06-01")["after"].tolist()
    [0.5]
    """
    if activity is None or activity.empty or "activity_index" not in activity.columns:
        return pd.DataFrame(columns=["zone", "kind", "before", "after", "change", "dates"])
    act = activity.copy()
    act["date"] = pd.to_datetime(act["date"])
    if "flagged" in act.columns:
        act = act[~act["flagged"].astype(bool)]
    changes = change_table(change_points)
    if split is not None:
        split = pd.Timestamp(split)
    elif not changes.empty:
        split = changes["date"].iloc[0]
    else:
        split = act["date"].median()
    rows = []
    for (zone, kind), group in act.groupby(["zone", "kind"], sort=True):
        before = group.loc[group["date"] < split, "activity_index"].mean()
        after = group.loc[group["date"] >= split, "activity_index"].mean()
        rows.append({"zone": zone, "kind": kind, "before": before, "after": after,
                     "change": after - before, "dates": len(group)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class _Embedded:
    """A figure as the page embeds it: its ``src`` and what was done to it."""

    src: str
    mime: str
    size: tuple[int, int] | None
    scaled: bool


def _embed(path: Path) -> _Embedded:
    """A figure sized for the page, as a data: URI (or its file name when too large).

    A still image wider than :data:`PAGE_IMAGE_WIDTH` is scaled down to it; it is
    embedded as WebP where that is under :data:`_WEBP_IF_UNDER` of the file's own bytes
    (photos with text), else as the file itself (line art stays PNG). Animations and SVG
    are embedded as they are.
    """
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise errors.ReviewError(f"cannot embed {path}: only {', '.join(sorted(_MIME))} figures "
                                 "are supported; write the figure in one of these formats")
    data, size, scaled = path.read_bytes(), None, False
    if mime != "image/svg+xml":
        data, mime, size, scaled = _page_sized(path, data, mime)
    if len(data) > _MAX_EMBED:
        log.warning("%s is %d MB: linked, not embedded", path, len(data) // 2**20)
        return _Embedded(html.escape(path.name), mime, size, scaled)
    return _Embedded(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", mime,
                     size, scaled)


def _page_sized(path: Path, data: bytes, mime: str
                ) -> tuple[bytes, str, tuple[int, int], bool]:
    """(bytes, mime, pixel size, scaled) of a raster figure for the page."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if getattr(img, "n_frames", 1) > 1:  # an animation: embedded as written
            return data, mime, img.size, False
        rgb = _flat_rgb(img)
    scale = min(1.0, PAGE_IMAGE_WIDTH / rgb.width)
    if scale < 1:
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)),
                         Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="WEBP", quality=_WEBP_QUALITY, method=4)
    if scale < 1 or buf.tell() < _WEBP_IF_UNDER * len(data):
        log.debug("%s embedded as %d px WebP (%d kB, file %d kB)", path.name, rgb.width,
                  buf.tell() // 1024, len(data) // 1024)
        return buf.getvalue(), "image/webp", rgb.size, scale < 1
    return data, mime, rgb.size, False


def _flat_rgb(img: Any) -> Any:
    """An RGB copy of a still image, transparency flattened onto white."""
    from PIL import Image

    rgba = img.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _cell(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else ""
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.3f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if value is None or value is pd.NaT:
        return ""
    return html.escape(str(value))


def _table(frame: pd.DataFrame, columns: Sequence[str], *, highlight: str | None = None,
           percent: Sequence[str] = ()) -> str:
    cols = [c for c in columns if c in frame.columns]
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in cols)
    body = []
    for _, row in frame.iterrows():
        cls = ' class="sel"' if highlight and bool(row.get(highlight, False)) else ""
        cells = []
        for c in cols:
            v = row[c]
            if c in percent and isinstance(v, float | np.floating) and np.isfinite(v):
                cells.append(f'<td class="num">{v:.0%}</td>')
            elif isinstance(v, float | np.floating):
                cells.append(f'<td class="num">{_cell(v)}</td>')
            else:
                cells.append(f"<td>{_cell(v)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figures(figures: Mapping[str, Path | str], change_points: Any = None,
             pair: BeforeAfter | None = None, fused: pd.DataFrame | None = None) -> str:
    parts = []
    for stem, path in figures.items():
        path = Path(path)
        if not path.is_file():
            log.warning("figure %s missing: %s", stem, path)
            continue
        title, caption = figure_caption(stem, change_points, pair, fused)
        parts.append(_figure(stem, path, title, caption))
    if not parts:
        return ""
    return _SCALED_NOTE + "\n".join(parts)


_SCALED_NOTE = ('<p class="meta">The images on this page are scaled to its width and, where '
                "that is much smaller, compressed as WebP, so that this one file stays small "
                "enough to mail. Click an "
                "image, or the file name under it, for its full-quality file, which sits beside "
                "this report in the review folder.</p>")


def _figure(stem: str, path: Path, title: str, caption: str) -> str:
    """One ``<figure>``: the embedded image, linked to its full-quality file."""
    emb = _embed(path)
    name, href = html.escape(path.name), html.escape(quote(path.name))
    dims = f' width="{emb.size[0]}" height="{emb.size[1]}"' if emb.size else ""
    shown = (f"Shown here scaled to {emb.size[0]} px wide" if emb.scaled and emb.size
             else "Shown here")
    kind = _FORMAT_NAMES.get(emb.mime, emb.mime)
    return (f'<figure id="fig-{html.escape(stem)}"><h3>{html.escape(title)}</h3>'
            f'<a href="{href}" title="full-quality {name}"><img alt="{html.escape(title)}" '
            f'src="{emb.src}"{dims}></a>'
            f"<figcaption>{html.escape(caption)}<br><small>{shown} as {kind}. Full-quality "
            f'file: <a href="{href}"><code>{name}</code></a>.</small></figcaption></figure>')


def _method(synthetic: bool, n_images: int, min_clear: float,
            pair: BeforeAfter | None = None, radar: bool = False) -> str:
    items = [
        "Search: every Sentinel-2 L2A item over the AOI in the period, duplicates of one pass "
        "(two tiles, sequence numbers, reprocessing) collapsed to one per solar day.",
        "Load: only the AOI's window of the bands used, on the 10 m grid of tile "
        "42SWD's UTM zone; 20 m bands and the scene classification (SCL) resampled nearest.",
        "Radiometry: DN to reflectance per the item's processing baseline and provider flags "
        "(baseline 04.00+ stores DN = 10000 x reflectance + 1000); the flag is checked against "
        "the darkest pixels. Each scene's handling is in the provenance table.",
        "Clear fraction: the share of each zone's pixels not nodata, saturated, cloud, cloud "
        "shadow or cirrus in SCL; snow counted apart. Scene cloud cover (over the whole "
        "110 km tile) is not used.",
        "Activity index: per zone and date, from geo.activity_index (occupancy and change "
        "of the key zones against the site's static reference); dates too cloudy or snowy "
        "for a zone are flagged and left out of trends.",
        ("Change point: geo.when.change_points on the fused optical and radar series "
         "(fused.csv), with its interval." if radar else
         "Change point: geo.when.change_points on the activity series, with its interval."),
        f"Selection: {n_images} images, the period split into {n_images} equal stretches of "
        "time, the clearest date over the key zones in each; the clear images nearest the key "
        f"dates always included; dates under {min_clear:.0%} clear only as a last resort. "
        "The selection never looks at activity, so it cannot cherry-pick.",
        "Before/after pair: split at the main change point; without one, at the first key "
        "date within the selected images' span that asks for an image; without any, at the "
        "median selected date. Before: the clearest selected image before the split; after: "
        "a selected image after it (at least 180 days after where there is one), nearest in "
        "day of year (same season)."
        + (f" This review's pair: {pair.caption()}" if pair is not None else ""),
    ]
    limits = [
        "At 10 m a large aircraft covers a few pixels and cars are sub-pixel: the index "
        "measures occupancy and change, not counts of small objects.",
        "Painted aircraft silhouettes (decoys) look like parked aircraft to any detector.",
        "Co-registration between dates is good to about 5 m: one-pixel shifts are not change.",
        "Season (sun elevation 30-75 degrees, winter snow) changes brightness and shadows; "
        "compare dates in the same season.",
        "Zone outlines are approximate (no public apron polygons).",
    ]
    if radar:
        items[4:4] = [
            "Radar: every Sentinel-1 RTC pass over the AOI in the period (VV and VH gamma "
            "nought in dB, terrain corrected, 10 m); per zone and date, geo.sar_activity: "
            "each relative orbit's own per-pixel empty state, a CFAR test on the speckle "
            "statistics, bright aircraft-sized components counted.",
            "Fusion: per date, the aircraft-sized objects on the aprons of each sensor "
            "(geo.fuse.apron_counts); radar counts scaled to the optical ones on dates both "
            "see within 3 days; each sensor weighted by its own noise; a 95 % band."]
        limits.append("Radar counts bright objects: vehicles, containers or equipment on an "
                      "apron can count as aircraft, and aircraft parked against a hangar may "
                      "be missed; the calibration to optical counts rests on the dates both "
                      "sensors saw.")
    if synthetic:
        limits.insert(0, "This review was made from a SYNTHETIC scenario: every image, "
                      "number and finding here is simulated, not an observation of the site.")
    return ("<h2 id='method'>Method</h2><ol>" + "".join(f"<li>{html.escape(i)}</li>" for i in items)
            + "</ol><h2 id='limits'>Limits</h2><ul>"
            + "".join(f"<li>{html.escape(i)}</li>" for i in limits) + "</ul>")


def render_report(
    *,
    site: str,
    period: tuple[Any, Any],
    source: str,
    scenes: pd.DataFrame,
    activity: pd.DataFrame,
    figures: Mapping[str, Path | str],
    provenance: pd.DataFrame | None = None,
    change_points: Any = None,
    events: Sequence[Any] = (),
    synthetic: bool = False,
    files: Sequence[str] = (),
    min_clear: float = 0.6,
    notes: Sequence[str] = (),
    pair: BeforeAfter | None = None,
    period_why: str = "",
    radar: pd.DataFrame | None = None,
    fused: pd.DataFrame | None = None,
    headline_sentences: Sequence[Sentence] | None = None,
) -> str:
    """Render the review as one self-contained HTML page (a string).

    Parameters
    ----------
    site
        Site name for the title.
    period
        (start, end) of the review.
    source
        Where the imagery came from (name or URL).
    scenes
        Table from :func:`geo.select_scenes`.
    activity
        Table from :func:`geo.activity_index`.
    figures
        File stem -> figure path (PNG, JPEG, WebP, GIF or SVG), in page order. Each is
        embedded sized for the page and linked by its file name, so the files should sit
        beside the report.
    provenance
        Table from :func:`scene_provenance` (every scene); if None, built from ``scenes``.
    change_points
        What :func:`geo.when.change_points` returns.
    events
        :class:`geo.select.KeyDate` events.
    synthetic
        Made from the synthetic scenario: a banner says so on top.
    files
        Names of the other files of the review folder, listed at the end.
    min_clear
        The selection's clear-fraction threshold (for the method text).
    notes
        Extra remarks (e.g. steps that could not run), shown near the top.
    pair
        The before/after pair (:func:`geo.review.pick_before_after`): what it is split
        at goes into its caption, the facts and the findings.
    period_why
        Why the period is this one (:attr:`geo.review.ReviewPeriod.why`).
    radar, fused
        The radar table (:func:`geo.sar_activity`) and the fused series
        (:func:`geo.fuse.fuse`) of a review with radar: the headline rests on the fused
        series, and a section says which dates each sensor supplied (:func:`sensor_dates`).
    headline_sentences
        The headline already written (:func:`geo.review.headline.headline`); made from
        the tables when None.

    Returns
    -------
    str
        The HTML document.
    """
    start, end = (pd.Timestamp(p).date() for p in period)
    sel = scenes[scenes["selected"].astype(bool)] if "selected" in scenes.columns else scenes
    changes = change_table(change_points)
    split, split_words = _summary_split(activity, change_points, pair)
    summary = activity_summary(activity, change_points, split=split)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(site)}: review {start} to {end}</title>",
             f"<style>{_CSS}</style></head><body>"]
    if synthetic:
        parts.append('<p class="synthetic">SYNTHETIC: made from the simulated scenario, not from '
                     "real imagery. Do not cite these numbers as observations.</p>")
    parts.append(f"<h1>{html.escape(site)}: was it busy or idle, and when did that change?</h1>")
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    why = f" (period: {period_why})" if period_why else ""
    imagery = ("Sentinel-2 L2A and Sentinel-1 RTC imagery" if fused is not None
               else "Sentinel-2 L2A imagery")
    parts.append(f'<p class="meta">Review of {imagery}, {start} to {end}'
                 f"{html.escape(why)}. Generated {generated} by geo {_version()}.</p>")
    if headline_sentences is None and has_counts(activity):
        headline_sentences = headline(activity, change_points, scenes, synthetic=synthetic,
                                      fused=fused)
    if headline_sentences:
        parts.append(headline_html(headline_sentences))
    parts.append(_facts(source, scenes, sel, activity, changes, synthetic,
                        period=f"{start} to {end}" + (f": {period_why}" if period_why else ""),
                        pair=pair))
    for note in notes:
        parts.append(f'<p class="meta"><b>Note:</b> {html.escape(str(note))}</p>')
    if not summary.empty:
        parts.append(f"<h2 id='findings'>Activity before and after {html.escape(split_words)}</h2>"
                     "<p>Mean activity index of each key zone over usable dates.</p>"
                     + _table(summary, ["zone", "kind", "before", "after", "change", "dates"]))
    if fused is not None:
        parts.append(_sensors_section(scenes, radar, fused, (start, end)))
    parts.append("<h2 id='figures'>Figures</h2>" + _figures(figures, change_points, pair, fused))
    if events:
        ev = pd.DataFrame({"date": [pd.Timestamp(e.date) for e in events],
                           "event": [e.label for e in events],
                           "image wanted": [e.side if e.required else "marked only" for e in events]})
        parts.append("<h2 id='events'>Key dates</h2>" + _table(ev, list(ev.columns)))
    parts.append(f"<h2 id='selected'>The {len(sel)} selected images</h2>"
                 + _table(sel, ["date", "item_ids", "clear_fraction", "activity", "key_date",
                                "reason"], percent=["clear_fraction"]))
    parts.append(_method(synthetic, len(sel), min_clear, pair, radar=fused is not None))
    prov = provenance if provenance is not None else scenes.rename(columns={"item_ids": "item_id"})
    parts.append(f"<h2 id='provenance'>Provenance of every scene ({len(prov)})</h2>"
                 "<p>Each scene's id, collection, date, clear fraction over the key zones, "
                 "processing baseline and offset handling; selected scenes highlighted. The "
                 "same data are in <code>scenes.csv</code>." + _collection_counts(prov)
                 + "</p><details open><summary>Scene table</summary>"
                 + _table(prov, ["date", "item_id", "collection", "platform", "clear_fraction",
                                 "baseline", "offset_handling", "selected", "reason"],
                          highlight="selected", percent=["clear_fraction"]) + "</details>")
    if files:
        parts.append("<h2 id='files'>Files of this review</h2><ul>"
                     + "".join(f"<li><a href='{html.escape(f)}'><code>{html.escape(f)}</code></a>"
                               "</li>" for f in files) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def sensor_dates(scenes: pd.DataFrame, radar: pd.DataFrame | None, fused: pd.DataFrame,
                 period: tuple[Any, Any]) -> pd.DataFrame:
    """Which dates each sensor supplied: one row for optical, radar and both together.

    Columns: ``sensor``, ``dates searched`` (optical dates of ``scenes``; radar passes of
    ``radar``), ``dates counted`` (dates of the fused series the sensor gave a count),
    ``only this sensor`` (dates no other sensor counted), ``first``, ``last`` and
    ``12-day windows`` (the share of the period's 12-day windows, one Sentinel-1 repeat,
    holding a counted date: :func:`geo.fuse.coverage`).

    Examples
    --------
    >>> f = pd.DataFrame({"date": pd.to_datetime(["2021-01-02", "2021-01-20"]), "value": [3.0, 2.0],
    ...                   "sensors": ["s2", "s1"], "s2": [3.0, None], "s1": [None, 2.0]})
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2021-01-02", "2021-01-12"])})
    >>> t = sensor_dates(s, None, f, ("2021-01-01", "2021-02-05"))
    >>> t["12-day windows"].round(2).tolist()
    [0.33, 0.33, 0.67]
    """
    days = pd.to_datetime(fused["date"]).dt.normalize()
    optical = pd.DatetimeIndex(pd.to_datetime(scenes["date"])).normalize().unique() \
        if "date" in scenes.columns else pd.DatetimeIndex([])
    passes = pd.DatetimeIndex(pd.to_datetime(radar["date"]) if radar is not None
                              and "date" in radar.columns else days[fused["s1"].notna()]
                              ).normalize().unique()
    rows = []
    for name, searched, seen in (
            ("optical (Sentinel-2)", len(optical), fused["s2"].notna()),
            ("radar (Sentinel-1)", len(passes), fused["s1"].notna()),
            ("either (fused)", len(optical.union(passes)), fused["value"].notna())):
        counted = days[seen.to_numpy()]
        only = {"optical (Sentinel-2)": "s2", "radar (Sentinel-1)": "s1"}.get(name)
        rows.append({"sensor": name, "dates searched": searched,
                     "dates counted": int(counted.nunique()),
                     "only this sensor": int((fused["sensors"] == only).sum()) if only else "",
                     "first": counted.min() if len(counted) else None,
                     "last": counted.max() if len(counted) else None,
                     "12-day windows": _coverage(counted, period)})
    return pd.DataFrame(rows)


def _coverage(days: Any, period: tuple[Any, Any]) -> float:
    """:func:`geo.fuse.coverage` of 12-day windows, dates and period in one time unit.

    It bins ``asi8`` integers against a ``date_range`` of the period, so both must be in
    one unit (pandas 3 infers ``s``, ``us`` or ``ns`` from its input): nanoseconds here.
    """
    from geo.fuse import coverage

    start, end = (pd.Timestamp(p).as_unit("ns") for p in period)
    return coverage(pd.DatetimeIndex(pd.to_datetime(days)).as_unit("ns"), start, end,
                    window_days=12)


def _sensors_section(scenes: pd.DataFrame, radar: pd.DataFrame | None, fused: pd.DataFrame,
                     period: tuple[Any, Any]) -> str:
    """'Which dates each sensor supplied': the table, the calibration, the radar passes."""
    table = sensor_dates(scenes, radar, fused, period)
    cal = html.escape(str(fused.attrs.get("calibration", "")))
    noise = ", ".join(f"{name} {fused.attrs[k]:.2f}" for name, k in
                      (("optical", "noise_s2"), ("radar", "noise_s1"))
                      if isinstance(fused.attrs.get(k), float) and np.isfinite(fused.attrs[k]))
    text = ("<h2 id='sensors'>Which dates each sensor supplied</h2><p>Optical images count the "
            "aprons only on clear dates; radar sees through cloud, day and night. A date counts "
            "for a sensor when every apron zone was measured unflagged. <b>Calibration:</b> "
            f"{cal}." + (f" Noise per date (aircraft, robust): {html.escape(noise)}; the fused "
                         "series weights each sensor by it." if noise else "")
            + " The fused series is in <code>fused.csv</code>; both sensors' rows are in "
            "<code>activity.csv</code> (column <code>sensor</code>).</p>"
            + _table(table, list(table.columns), percent=["12-day windows"]))
    return text + _radar_passes(radar)


def _radar_passes(radar: pd.DataFrame | None) -> str:
    """A folded table of the radar passes: date, orbit, item id, apron count, flags."""
    if radar is None or radar.empty or "date" not in radar.columns:
        return ""
    rows = radar[radar["kind"].isin(("apron", "revetment"))] if "kind" in radar else radar
    keys = [c for c in ("date", "relative_orbit", "orbit_state", "item_id") if c in rows]
    flag = rows["flagged"].astype(bool) if "flagged" in rows else pd.Series(False, rows.index)
    per = (rows.assign(flagged=flag).groupby(keys, sort=True, dropna=False)
           .agg(objects=("objects", "sum"), flagged=("flagged", "any")).reset_index())
    per["date"] = pd.to_datetime(per["date"])
    return (f"<details><summary>The {len(per)} radar passes</summary>"
            + _table(per, [*keys, "objects", "flagged"]) + "</details>")


def _collection_counts(prov: pd.DataFrame) -> str:
    """' Passes supplied: sentinel-2-c1-l2a 250, sentinel-2-l2a 115.' (or '')."""
    if "collection" not in prov.columns:
        return ""
    names = prov["collection"].astype(str).str.split(",").explode().str.strip()
    counts = names[names != ""].value_counts()
    if counts.empty:
        return ""
    text = ", ".join(f"<code>{html.escape(str(c))}</code> {n}" for c, n in counts.items())
    return f" Passes supplied per collection: {text}."


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geo")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "(unknown version)"


def _facts(source: str, scenes: pd.DataFrame, sel: pd.DataFrame, activity: pd.DataFrame,
           changes: pd.DataFrame, synthetic: bool, *, period: str,
           pair: BeforeAfter | None) -> str:
    cp = "; ".join(f"{r.date:%Y-%m-%d} (interval {r.lower:%Y-%m-%d} to {r.upper:%Y-%m-%d})"
                   for r in changes.itertuples()) or "none found"
    zones = activity["zone"].nunique() if "zone" in activity.columns else 0
    facts = [("Imagery source", f"{source}{' (synthetic scenario)' if synthetic else ''}"),
             ("Period", period),
             ("Dates found", str(len(scenes))),
             ("Images selected", str(len(sel))),
             ("Key zones measured", str(zones)),
             ("Change point", cp)]
    if pair is not None:
        facts.append(("Before/after pair", pair.caption()))
    return "<dl class='facts'>" + "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts) + "</dl>"


def write_report(path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`render_report` ``(**kwargs)`` to ``path`` (UTF-8), atomically.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> scenes = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"]), "item_ids": ["x"],
    ...                        "clear_fraction": [1.0], "selected": [True], "reason": ["r"]})
    >>> out = write_report(Path(tempfile.mkdtemp()) / "report.html", site="t",
    ...                    period=("2021", "2022"), source="toy", scenes=scenes,
    ...                    activity=pd.DataFrame(), figures={})
    >>> out.name
    'report.html'
    """
    path = Path(path)
    text = render_report(**kwargs)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    log.info("wrote %s (%d kB)", path, len(text) // 1024)
    return path
