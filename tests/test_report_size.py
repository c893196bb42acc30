"""A report that travels: the animated WebP timelapse and figures sized for the page.

Small inputs only (the toy stack at 20 m, figures drawn here): what the size of a whole
review's report comes to is checked in ``test_report_browser.py``.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from PIL import Image, ImageDraw

from geo import errors
from geo.review import animation
from geo.review.animation import timelapse
from geo.review.report import PAGE_IMAGE_WIDTH, render_report
from geo.select import select_scenes
from geo.testing.review import toy_inputs

SCENES = pd.DataFrame({"date": pd.to_datetime(["2021-01-01"]), "item_ids": ["S2A_x"],
                       "clear_fraction": [0.9], "selected": [True], "reason": ["only one"]})

_IMG = re.compile(r'<a href="([^"]+)"[^>]*><img [^>]*src="data:(image/[a-z+]+);base64,([^"]+)"')


@pytest.fixture(scope="module")
def toy() -> dict:
    return toy_inputs(n_dates=10, seed=5)


@pytest.fixture(scope="module")
def chosen(toy: dict) -> pd.DataFrame:
    return select_scenes(toy["clear"], n=6, key_dates=())


def _object_stack(toy: dict) -> tuple[xr.Dataset, int, int]:
    """The toy stack with a bright 2 x 3 pixel object (40 x 60 m at 20 m) on every date."""
    stack = toy["stack"].copy(deep=True)
    row, col = stack.sizes["y"] // 2, stack.sizes["x"] // 2
    for band in ("red", "green", "blue"):
        stack[band][:, row:row + 2, col:col + 3] = 0.28
    return stack, row, col


def _contrast(frame: np.ndarray, y: float, x: float) -> float:
    """Brightness of the object's centre above the median of a ring 6-9 pixels around it."""
    yi, xi = round(y), round(x)
    core = frame[yi - 1:yi + 1, xi - 1:xi + 1].mean()
    yy, xx = np.mgrid[0:frame.shape[0], 0:frame.shape[1]]
    dist = np.hypot(yy - y, xx - x)
    return float(core - np.median(frame[(dist > 6) & (dist < 9)]))


def test_webp_timelapse_is_a_small_looping_animation(toy: dict, chosen: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    webp = timelapse(toy["stack"], chosen, tmp_path / "t.webp", size=300, synthetic=True)
    gif = timelapse(toy["stack"], chosen, tmp_path / "t.gif", size=300, synthetic=True)
    n = int(chosen["selected"].sum())
    with Image.open(webp) as img:
        assert img.format == "WEBP" and getattr(img, "n_frames", 1) == n
        assert img.info.get("loop") == 0
        img.seek(n - 1)
        assert np.asarray(img.convert("RGB"), dtype=float).std() > 10
    with Image.open(gif) as img:  # callers who ask for a GIF still get one
        assert img.format == "GIF" and getattr(img, "n_frames", 1) == n
    assert webp.stat().st_size < gif.stat().st_size / 3, (webp.stat().st_size,
                                                          gif.stat().st_size)


def test_webp_keeps_an_aircraft_sized_object(toy: dict, chosen: pd.DataFrame,
                                             tmp_path: Path) -> None:
    """The lossy WebP keeps most of a 2 x 3 pixel object's contrast in the frame it encodes."""
    stack, row, col = _object_stack(toy)
    size = 300  # under the stack's longest side: the frames are shrunk, as in the review
    out = timelapse(stack, chosen, tmp_path / "t.webp", size=size)
    frames = animation._frames(stack, chosen, aoi=None, site="", source="", synthetic=False,
                               size=size)
    scale = size / max(stack.sizes["y"], stack.sizes["x"])
    y, x = 44 + (row + 1) * scale, (col + 1.5) * scale  # 44: the frame's header
    with Image.open(out) as img:
        for k, lossless in enumerate(frames):
            img.seek(k)
            got = _contrast(np.asarray(img.convert("L"), dtype=float), y, x)
            want = _contrast(np.asarray(lossless.convert("L"), dtype=float), y, x)
            assert want > 40, f"frame {k}: the object is not visible before encoding ({want:.0f})"
            assert got > 0.85 * want, f"frame {k}: contrast {got:.0f} of {want:.0f} kept"


@pytest.mark.parametrize(("name", "quality"), [("t.mp4", 75), ("t", 75), ("t.webp", 0)])
def test_timelapse_refuses_what_it_cannot_write(toy: dict, chosen: pd.DataFrame,
                                                tmp_path: Path, name: str,
                                                quality: int) -> None:
    with pytest.raises(errors.ReviewError, match=r"timelapse"):
        timelapse(toy["stack"], chosen, tmp_path / name, quality=quality)
    assert not (tmp_path / name).exists()


def _photo(path: Path, width: int, height: int) -> Path:
    """A figure like the review's: a photo-like noisy image with a line of text."""
    rng = np.random.default_rng(0)
    base = rng.normal(120, 25, (height, width, 3)).clip(0, 255).astype("uint8")
    img = Image.fromarray(base)
    ImageDraw.Draw(img).text((20, 20), "17 Oct 2020  S2B_T42SWD  100% clear", fill="black")
    img.save(path)
    return path


def _line_art(path: Path) -> Path:
    """A small plot-like figure: few colours, compresses best as PNG."""
    img = Image.new("RGB", (800, 500), "white")
    draw = ImageDraw.Draw(img)
    for k in range(0, 800, 40):
        draw.line([(k, 0), (799 - k, 499)], fill="black", width=1)
    draw.text((10, 10), "activity index", fill="black")
    img.save(path)
    return path


def _animation(path: Path) -> Path:
    frames = [Image.new("RGB", (120, 90), c) for c in ("red", "green", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:], loop=0, duration=500)
    return path


def _embedded(html: str) -> list[tuple[str, str, Image.Image]]:
    """(link, mime, decoded image) of each embedded image of a page."""
    return [(href, mime, Image.open(io.BytesIO(base64.b64decode(data))))
            for href, mime, data in _IMG.findall(html)]


def _render(figures: dict[str, Path]) -> str:
    return render_report(site="t", period=("2021-01-01", "2021-12-31"), source="toy",
                         scenes=SCENES, activity=pd.DataFrame(), figures=figures)


def test_figures_are_sized_for_the_page_and_linked(tmp_path: Path) -> None:
    wide = _photo(tmp_path / "contact_sheet.png", PAGE_IMAGE_WIDTH + 700, 500)
    plot = _line_art(tmp_path / "trend.png")
    anim = _animation(tmp_path / "timelapse.webp")
    html = _render({"contact_sheet": wide, "trend": plot, "timelapse": anim})
    found = {href: (mime, img) for href, mime, img in _embedded(html)}
    assert set(found) == {"contact_sheet.png", "trend.png", "timelapse.webp"}
    mime, img = found["contact_sheet.png"]  # a wide photo: scaled, WebP, much smaller
    assert mime == "image/webp" and img.width == PAGE_IMAGE_WIDTH
    assert img.height == round(500 * PAGE_IMAGE_WIDTH / (PAGE_IMAGE_WIDTH + 700))
    b64 = re.search(r'href="contact_sheet.png"[^>]*><img [^>]*base64,([^"]+)"', html)
    assert b64 is not None and len(b64.group(1)) * 3 / 4 < wide.stat().st_size / 3
    mime, img = found["trend.png"]  # small line art: the PNG itself, not a blurrier WebP
    assert mime == "image/png" and img.size == (800, 500)
    mime, img = found["timelapse.webp"]  # the animation as written, every frame
    assert mime == "image/webp" and getattr(img, "n_frames", 1) == 3
    assert "full-quality file" in html and "scaled" in html
    assert not re.search(r'src="(?!data:)', html), "an image is not embedded"


def test_a_figure_too_large_to_embed_is_linked(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from geo.review import report

    plot = _line_art(tmp_path / "trend.png")
    monkeypatch.setattr(report, "_MAX_EMBED", 1000)
    html = _render({"trend": plot})
    assert 'src="trend.png"' in html and "data:image" not in html


def test_a_figure_of_another_format_names_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "trend.bmp"
    Image.new("RGB", (10, 10)).save(path)
    with pytest.raises(errors.ReviewError, match=r"trend\.bmp.*\.png"):
        _render({"trend": path})
