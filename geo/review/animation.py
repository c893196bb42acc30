"""``timelapse.webp``: the selected images in date order, animated.

The review writes a looping animated WebP: lossy WebP keeps 10 m detail (an aircraft is a
few pixels) at a fraction of a GIF's size, and every current browser plays it, so the
report can embed it and stay small. A ``.gif`` path still gives a GIF (256 colours per
frame, several times larger) for viewers that need one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import errors
from geo.aoi import AOI
from geo.plot import KIND_COLOURS, image_extent, source_text, time_index, true_colour
from geo.review.contact_sheet import selected_scenes

__all__ = ["TIMELAPSE_FORMATS", "timelapse"]

log = logging.getLogger(__name__)


TIMELAPSE_FORMATS = (".webp", ".gif")
"""Suffixes :func:`timelapse` can write; the review writes ``.webp``."""


_HEAD, _FOOT = 44, 22


def timelapse(stack: Any, scenes: pd.DataFrame, out: str | Path, *, aoi: AOI | None = None,
              site: str = "", source: str = "", synthetic: bool = False,
              size: int = 520, seconds_per_frame: float = 0.8, quality: int = 75) -> Path:
    """A looping animation of the selected images, each frame labelled with date and scene id.

    The format follows the suffix of ``out``: ``.webp`` (animated lossy WebP, what the
    review writes) or ``.gif``.

    Parameters
    ----------
    stack
        Dataset from :func:`geo.load` with ``red``, ``green``, ``blue``.
    scenes
        Table from :func:`geo.select_scenes` (selected rows, in date order).
    out
        Path of the animation: ``.webp`` or ``.gif``.
    aoi
        Draw the zone outlines on each frame.
    site, source, synthetic
        Header text, footer text, SYNTHETIC mark.
    size
        Longest side of the image part of a frame, in pixels.
    seconds_per_frame
        Display time of each frame.
    quality
        WebP quality, 1-100 (ignored for GIF). At 75, 30 frames at 520 pixels take about
        1 MB, and a 2 x 3 pixel (20 x 30 m) object keeps as much contrast as the resizing
        leaves it (frames are shrunk with a Lanczos filter, which keeps more of it than
        the GIF's bilinear one did).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    geo.errors.ReviewError
        ``out`` has another suffix, or ``quality`` is outside 1-100.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from geo.select import select_scenes
    >>> from geo.testing.review import toy_inputs
    >>> toy = toy_inputs(n_dates=4)
    >>> chosen = select_scenes(toy["clear"], n=2, key_dates=())
    >>> out = timelapse(toy["stack"], chosen, Path(tempfile.mkdtemp()) / "t.webp", size=120)
    >>> from PIL import Image
    >>> Image.open(out).n_frames
    2
    """
    out = Path(out)
    save = _writer(out, quality)
    frames = _frames(stack, scenes, aoi=aoi, site=site, source=source, synthetic=synthetic,
                     size=size)
    save(frames, out, int(seconds_per_frame * 1000))
    log.info("wrote %s (%d frames, %d kB)", out, len(frames), out.stat().st_size // 1024)
    return out


def _writer(out: Path, quality: int) -> Callable[[Sequence[Any], Path, int], None]:
    """The function that saves frames in the format of ``out``'s suffix."""
    suffix = out.suffix.lower()
    if suffix not in TIMELAPSE_FORMATS:
        raise errors.ReviewError(
            f"cannot write a timelapse to {out}: the suffix must be one of "
            f"{', '.join(TIMELAPSE_FORMATS)} (use timelapse.webp, or .gif for a GIF)")
    if not 1 <= quality <= 100:
        raise errors.ReviewError(f"timelapse quality {quality} is outside 1-100: use e.g. 75")
    if suffix == ".gif":
        return _save_gif

    def save(frames: Sequence[Any], path: Path, duration: int) -> None:
        _save_webp(frames, path, duration, quality)

    return save


def _save_webp(frames: Sequence[Any], out: Path, duration: int, quality: int) -> None:
    with _replacing(out) as tmp:
        frames[0].save(tmp, format="WEBP", save_all=True, append_images=list(frames[1:]),
                       loop=0, duration=duration, quality=quality, method=4)


def _save_gif(frames: Sequence[Any], out: Path, duration: int) -> None:
    from PIL import Image

    pal = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=255) for f in frames]
    with _replacing(out) as tmp:
        pal[0].save(tmp, format="GIF", save_all=True, append_images=pal[1:], loop=0,
                    duration=duration, optimize=True)


@contextlib.contextmanager
def _replacing(out: Path) -> Iterator[Path]:
    """A temporary path that replaces ``out`` when the block succeeds (no half-written file)."""
    tmp = out.with_name(out.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _frames(stack: Any, scenes: pd.DataFrame, *, aoi: AOI | None, site: str, source: str,
            synthetic: bool, size: int) -> list[Any]:
    """One labelled RGB frame (PIL image) per selected scene, in date order."""
    from PIL import Image

    sel = selected_scenes(scenes)
    idx = [time_index(stack, d) for d in sel["date"]]
    rgb = stack[["red", "green", "blue"]].isel(time=idx).compute()
    first = true_colour(rgb.isel(time=0))
    scale = size / max(first.shape[:2])
    w, h = round(first.shape[1] * scale), round(first.shape[0] * scale)
    outlines = _outline_pixels(aoi, image_extent(stack), w, h) if aoi is not None else []
    frames = []
    for k in range(len(sel)):
        img = Image.fromarray((true_colour(rgb.isel(time=k)) * 255).astype("uint8"))
        img = img.resize((w, h), Image.Resampling.LANCZOS if scale < 1
                         else Image.Resampling.BILINEAR)
        frames.append(_label(img, sel.iloc[k], k, len(sel), outlines, site=site,
                             source=source, synthetic=synthetic))
    return frames


def _label(img: Any, row: pd.Series, k: int, n: int,
           outlines: list[tuple[str, list[tuple[float, float]]]], *, site: str, source: str,
           synthetic: bool) -> Any:
    """The frame: a white header (date, scene, activity), the image, outlines, a footer."""
    from PIL import Image, ImageDraw

    w, h = img.size
    canvas = Image.new("RGB", (w, h + _HEAD + _FOOT), "white")
    canvas.paste(img, (0, _HEAD))
    draw = ImageDraw.Draw(canvas)
    for colour, pts in outlines:
        draw.line([(x, y + _HEAD) for x, y in pts], fill=colour, width=1)
    act = row.get("activity", np.nan)
    act_txt = f"  activity {act:.2f}" if pd.notna(act) else ""
    big, small = _font(15), _font(10)
    draw.text((8, 4), f"{site + '  ' if site else ''}{pd.Timestamp(row['date']):%d %b %Y}"
              f"  ({k + 1}/{n}){act_txt}", fill="black", font=big)
    sid = str(row.get("item_ids", "")).split(";")[0]
    draw.text((8, 24), f"{sid}  {row['clear_fraction']:.0%} clear", fill="#333333", font=small)
    if synthetic:
        draw.text((w - 8, 4), "SYNTHETIC", fill="crimson", font=big, anchor="ra")
    draw.text((8, h + _HEAD + 5), source_text(source, synthetic)[:110], fill="#333333",
              font=small)
    return canvas


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
