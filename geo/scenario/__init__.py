"""An offline synthetic Sentinel-2 L2A archive of a site, served like Earth Search.

``build`` writes five years of imagery of an AOI (COGs, STAC items, stac-geoparquet) in
Earth Search v1's form (its two Sentinel-2 L2A collections, ``sentinel-2-c1-l2a`` and
``sentinel-2-l2a``, with their gaps), with a truth table of everything planted in it
and of which collection holds each pass (``passes.csv``); ``serve`` starts
a real STAC API (``rustac serve``) and a range-request file server over it on loopback;
by default the folder also holds a Sentinel-1 RTC archive in Planetary Computer's form
(``sentinel-1-rtc``, from the same planted truth: ``truth-s1.csv``, ``passes-s1.csv``;
``sensors="s2"`` skips it);
``preview`` draws a few dates for a person to judge. Everything it makes is marked
SYNTHETIC.

Examples
--------
>>> import tempfile, pathlib, geo.scenario
>>> out = geo.scenario.build("bagram", pathlib.Path(tempfile.mkdtemp()) / "s",
...                          start="2022-07-24", end="2022-07-24", workers=1)
>>> (out / "SYNTHETIC.txt").exists()
True
"""

from __future__ import annotations

from geo.scenario._build import build
from geo.scenario._preview import preview
from geo.scenario.serve import ScenarioServer, serve

__all__ = ["build", "serve", "ScenarioServer", "preview", "code_version"]


def code_version(site: str = "bagram") -> str:
    """A short hash of the generator's code and the site's AOI file.

    A cached scenario whose folder name carries this hash is rebuilt when the generator
    (or the AOI) changes, instead of being silently reused.

    Examples
    --------
    >>> len(code_version())
    10
    """
    import hashlib
    from pathlib import Path

    from geo.aoi import AOI_DIR

    digest = hashlib.sha256(site.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    aoi = AOI_DIR / f"{site}.geojson"
    if aoi.is_file():
        digest.update(aoi.read_bytes())
    return digest.hexdigest()[:10]
