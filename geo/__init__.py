"""geo: watch a site from space.

Find every free Sentinel-2 image of an area of interest, load only the pixels it needs,
measure change and activity zone by zone, and draw figures that can be published and
defended. See README.md for the quick start.
"""

from __future__ import annotations

from geo import _redact, aoi, errors
from geo._versions import show_versions
from geo.aoi import AOI

__all__ = ["AOI", "__version__", "aoi", "errors", "show_versions"]
__version__ = "0.1.0"

_redact.install()  # signed URLs and tokens never reach geo's log records

from geo.activity import activity_index  # noqa: E402  (analysis, issue 5)

__all__ += ["activity_index"]

from geo.load import load  # noqa: E402  (imagery, issue 4)
from geo.search import search  # noqa: E402  (imagery, issue 4)

__all__ += ["search", "load"]
