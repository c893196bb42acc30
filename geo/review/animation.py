"""``timelapse.gif``: the selected images in date order, animated."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.aoi import AOI
from geo.plot import KIND_COLOURS, image_extent, source_text, time_index, true_colour
from geo.review.contact_sheet import selected_scenes

__all__ = ["timelapse"]

log = logging.getLogger(__name__)


def timelapse(stack: Any, scenes: pd.DataFrame, out: str | Path, *, aoi: AOI | None = None,
              site: str = "", source: str = "", synthetic: bool = False,
              size: int = 560, seconds_per_frame: float = 0.8) -> Path:
    """An animated GIF of the selected images, each frame labelled with date and scene id.

    Parameters
    ----------
    stack
        Dataset from :func:`geo.load` with ``red``, ``green``, ``blue``.
    scenes
        Table from :func:`geo.select_scenes` (selected rows, in date order).
    out
        Path of the GIF.
    aoi
        Draw the zone outlines on each frame.
    site, source, synthetic
        Header text, footer text, SYNTHETIC mark.
    size
        Longest side of the image part of a frame, in pixels.
    seconds_per_frame
        Display time of each frame.

    Returns
    -------
    pathlib.Path
        The GIF written.
    """
    from PIL import Image, ImageDraw

    sel = selected_scenes(scenes)
    idx = [time_index(stack, d) for d in sel["date"]]
    rgb = stack[["red", "green", "blue"]].isel(time=idx).compute()
    extent = image_extent(stack)
    first = true_colour(rgb.isel(time=0))
    scale = size / max(first.shape[:2])
    w, h = round(first.shape[1] * scale), round(first.shape[0] * scale)
    head, foot = 44, 22
    outlines = _outline_pixels(aoi, extent, w, h) if aoi is not None else []
    fonts = (_font(15), _font(12), _font(10))
    frames = []
    for k in range(len(sel)):
        row = sel.iloc[k]
        img = Image.fromarray((true_colour(rgb.isel(time=k)) * 255).astype("uint8"))
        img = img.resize((w, h), Image.Resampling.BILINEAR)
        canvas = Image.new("RGB", (w, h + head + foot), "white")
        canvas.paste(img, (0, head))
        draw = ImageDraw.Draw(canvas)
        for colour, pts in outlines:
            draw.line([(x, y + head) for x, y in pts], fill=colour, width=1)
        act = row.get("activity", np.nan)
        act_txt = f"  activity {act:.2f}" if pd.notna(act) else ""
        draw.text((8, 4), f"{site + '  ' if site else ''}{pd.Timestamp(row['date']):%d %b %Y}"
                  f"  ({k + 1}/{len(sel)}){act_txt}", fill="black", font=fonts[0])
        sid = str(row.get("item_ids", "")).split(";")[0]
        draw.text((8, 24), f"{sid}  {row['clear_fraction']:.0%} clear", fill="#333333",
                  font=fonts[2])
        if synthetic:
            draw.text((w - 8, 4), "SYNTHETIC", fill="crimson", font=fonts[0], anchor="ra")
        draw.text((8, h + head + 5), source_text(source, synthetic)[:110], fill="#333333",
                  font=fonts[2])
        frames.append(canvas.convert("P", palette=Image.Palette.ADAPTIVE, colors=255))
    out = Path(out)
    frames[0].save(out, save_all=True, append_images=frames[1:], loop=0,
                   duration=int(seconds_per_frame * 1000), optimize=True)
    log.info("wrote %s (%d frames)", out, len(frames))
    return out


def _font(size: int) -> Any:
    from PIL import ImageFont

    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _outline_pixels(aoi: AOI, extent: tuple[float, float, float, float], w: int,
                    h: int) -> list[tuple[str, list[tuple[float, float]]]]:
    left, right, bottom, top = extent
    sx, sy = w / (right - left), h / (top - bottom)
    lines = []
    for row in aoi.zones_utm().itertuples():
        if row.kind in ("control", "runway", "taxiway", "built", "hangar"):
            continue
        for g in getattr(row.geometry, "geoms", [row.geometry]):
            xs, ys = g.exterior.xy
            lines.append((KIND_COLOURS.get(str(row.kind), "white"),
                          [((x - left) * sx, (top - y) * sy) for x, y in zip(xs, ys, strict=True)]))
    return lines
