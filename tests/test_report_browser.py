"""report.html opens in headless Chromium, shows the report, loads every image, stays small.

The review here is the size of the five-year demo's where it matters for the report's
size: 30 selected images on the toy stack at the demo's 10 m pixels, with the review's
default timelapse size. Skips the Chromium tests when Chromium is absent, unless
``GEO_REQUIRE_BROWSER=1`` (set by .ci/run when it installed Chromium), which turns the
absence into a failure; the size budget needs no browser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geo.review import ReviewResult, review_stack
from geo.review.report import PAGE_IMAGE_WIDTH
from geo.testing.review import toy_inputs, toy_stack

IMAGES = 30
"""Selected images: the review's default, as in the five-year demo."""

DEMO_SCENES = 365
"""Scenes of a five-year review: one Sentinel-2 pass every 5 days (the demo finds 364)."""

LIMIT = 5 * 2**20
"""The five-year demo's report must stay under 5 MB."""

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-extensions", "--hide-scrollbars"]

_PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images].map(i => ({src: i.currentSrc.slice(0, 30),
    complete: i.complete, w: i.naturalWidth, h: i.naturalHeight}));
  const out = document.createElement("pre");
  out.id = "img-probe";
  out.textContent = JSON.stringify(imgs);
  document.body.appendChild(out);
});
</script>"""
"""Appended to a copy of the report: lists each image's natural size once the page loaded."""


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                       else None)
        if found:
            return found
    msg = ("headless Chromium not found (install Debian's `chromium` package, as .ci/run "
           "does) - the report's browser test cannot run")
    if os.environ.get("GEO_REQUIRE_BROWSER") == "1":
        pytest.fail(msg + "; GEO_REQUIRE_BROWSER=1 makes this a failure")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> ReviewResult:
    """30 images of a toy stack at 10 m; clear and activity tables from the 20 m toy.

    The tables only need the same dates (both toys space ``n_dates`` evenly over the same
    period); the imagery, which is what fills the report, is at the demo's resolution.
    """
    toy = toy_inputs(n_dates=IMAGES + 2, seed=3)
    stack = toy_stack(toy["aoi"], n_dates=IMAGES + 2, resolution=10.0, seed=3)
    out = tmp_path_factory.mktemp("browser_review")
    return review_stack(stack, toy["aoi"], images=IMAGES, out=out, clear=toy["clear"],
                        activity=toy["activity"], change_points=toy["change_points"],
                        source_label="toy stack")


@pytest.fixture(scope="module")
def report(review: ReviewResult) -> Path:
    return review.out / "report.html"


def _run(chromium: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(tmp)}
    return subprocess.run([chromium, *_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, env=env, check=False)


@pytest.mark.browser
def test_report_renders_in_chromium(chromium: str, report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = _run(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1200,2000",
                report.as_uri())
    assert shot.is_file(), f"no screenshot: rc={proc.returncode} stderr={proc.stderr[-2000:]}"
    with Image.open(shot) as img:
        px = np.asarray(img.convert("RGB"), dtype=np.int16)
    assert px.shape[:2] == (2000, 1200)
    # not blank: real variation, many colours, white page not everywhere
    assert px.std() > 20, f"screenshot looks blank (std {px.std():.1f})"
    colours = np.unique(px[::4, ::4].reshape(-1, 3), axis=0)
    assert len(colours) > 500, f"only {len(colours)} colours: not the report's figures"
    white = np.all(px > 245, axis=-1).mean()
    assert 0.2 < white < 0.97, f"{white:.0%} white"
    # the report itself, not an error page: the red SYNTHETIC banner (#b71c1c) on top
    top = px[:200]
    banner = (np.abs(top[..., 0] - 0xB7) < 25) & (top[..., 1] < 60) & (top[..., 2] < 60)
    assert banner.sum() > 5000, "the SYNTHETIC banner is not at the top of the page"


@pytest.mark.browser
def test_report_dom_in_chromium(chromium: str, report: Path, tmp_path: Path) -> None:
    proc = _run(chromium, tmp_path, "--dump-dom", report.as_uri())
    dom = proc.stdout
    assert "was it busy or idle" in dom, proc.stderr[-2000:]
    assert dom.count("<img") == 5
    assert "Provenance of every scene" in dom


@pytest.mark.browser
def test_every_image_loads_from_the_report_alone(chromium: str, report: Path,
                                                 tmp_path: Path) -> None:
    """A copy of report.html alone in an empty folder, no network: every image decodes."""
    alone = tmp_path / "alone" / "report.html"
    alone.parent.mkdir()
    alone.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
                     encoding="utf-8")
    proc = _run(chromium, tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND",
                "--virtual-time-budget=10000", "--dump-dom", alone.as_uri())
    probe = re.search(r'<pre id="img-probe">(.*?)</pre>', proc.stdout, re.S)
    assert probe, f"the page did not finish loading: {proc.stderr[-2000:]}"
    images = json.loads(probe.group(1).replace("&quot;", '"'))
    assert len(images) == 5
    broken = [i for i in images if not (i["complete"] and i["w"] > 0 and i["h"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    kinds = [i["src"].split(";")[0] for i in images]
    assert kinds.count("data:image/webp") >= 4, kinds  # timelapse and the photo figures
    widths = [i["w"] for i in images]
    assert max(widths) <= PAGE_IMAGE_WIDTH, widths


def test_report_size_scales_to_under_5_mb_for_five_years(review: ReviewResult) -> None:
    """The report's size, extrapolated from this review to the five-year demo, is < 5 MB.

    What fills the report is its images: five figures whose pixel size does not depend on
    the period (each still figure is scaled to at most ``PAGE_IMAGE_WIDTH``), and the
    timelapse, which grows with the number of selected images - 30 here, as in the demo,
    at the review's default frame size and the demo's 10 m pixels. The toy imagery has
    per-pixel noise, so it compresses worse than the scenario's and over-estimates them.
    What grows with the period is the provenance table: one row per scene. So the demo's
    report is this one plus ``DEMO_SCENES - scenes`` more rows at this table's bytes per
    row; that must stay under :data:`LIMIT`.
    """
    html = (review.out / "report.html").read_text(encoding="utf-8")
    table = re.search(r"<h2 id='provenance'>.*?</table>", html, re.S)
    assert table, "no provenance table"
    rows = table.group(0).count("<tr") - 1
    assert rows == len(review.provenance) > 0
    per_row = len(table.group(0)) / rows
    images = sum(len(m) for m in re.findall(r'src="(data:[^"]+)"', html))
    demo = len(html.encode()) + (DEMO_SCENES - rows) * per_row
    assert demo < LIMIT, (f"{demo / 2**20:.2f} MB extrapolated to {DEMO_SCENES} scenes "
                          f"(images {images / 2**20:.2f} MB, {per_row:.0f} bytes per scene)")
    assert images > 0.5 * len(html), "the figures are not embedded"
