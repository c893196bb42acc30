"""geo: watch a site from space.

Find every free Sentinel-2 image of an area of interest, load only the pixels it needs,
measure change and activity zone by zone, and draw figures that can be published and
defended. See README.md for the quick start.

Examples
--------
>>> import geo
>>> sorted(geo.__all__)[:4]
['AOI', '__version__', 'activity_index', 'aoi']
"""

from __future__ import annotations

from geo import _redact, aoi, errors
from geo._versions import show_versions
from geo.activity import activity_index
from geo.aoi import AOI
from geo.load import load
from geo.sar import sar_activity
from geo.search import search

__all__ = ["AOI", "__version__", "activity_index", "aoi", "errors", "load", "sar_activity",
           "search", "show_versions"]
__version__ = "0.1.0"

_redact.install()  # signed URLs and tokens never reach geo's log records
