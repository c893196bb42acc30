"""An offline synthetic Sentinel-2 L2A archive of a site, served like Earth Search.

``build`` writes five years of imagery of an AOI (COGs, STAC items, stac-geoparquet) in
Earth Search v1's form, with a truth table of everything planted in it; ``serve`` starts
a real STAC API (``rustac serve``) and a range-request file server over it on loopback;
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

__all__ = ["build", "serve", "ScenarioServer", "preview"]
