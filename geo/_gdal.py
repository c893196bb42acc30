"""GDAL and HTTP settings for every raster read geo makes, in one place.

Every read of imagery goes through :func:`rio_env`, inside the task that reads, so the
same settings hold in the main process, in worker threads and on Dask workers (local
or remote) alike. :func:`configure_dask` also exports them as environment variables on
the workers of a ``dask.distributed`` client, for any library code there that opens
rasters outside :func:`rio_env`.

Examples
--------
>>> from geo._gdal import GDAL_SETTINGS, rio_env
>>> GDAL_SETTINGS["GDAL_DISABLE_READDIR_ON_OPEN"]
'EMPTY_DIR'
>>> with rio_env():
...     pass
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import rasterio

__all__ = ["GDAL_SETTINGS", "rio_env", "apply_env", "configure_dask", "tap_http_headers",
           "tap_transfer_faults", "TAP_SETTINGS"]

GDAL_SETTINGS: dict[str, str] = {
    # Never list the "directory" of a remote file: on object stores a listing is a slow,
    # sometimes paginated request that a COG read does not need.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    # Only these extensions are opened through /vsicurl/; it stops GDAL probing for
    # side-car files (.aux.xml, .ovr, .msk), each of which would be one more request.
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
    # Learn the file size with one HEAD request. ("NO" would make GDAL 3.10 send a GET
    # without a range and drop the connection after the headers: the server still
    # starts sending the whole file, so it costs more than a HEAD; measured with
    # benchmarks/load.py.) The HEAD's ETag, Last-Modified and size are also what the
    # store keeps to notice a changed file (:func:`tap_http_headers`).
    "CPL_VSIL_CURL_USE_HEAD": "YES",
    # Read the COG header (IFDs and tile offsets of all levels) in one request.
    # Earth Search headers are a few KB (1-2 KB for the scenario's and the real
    # fixtures' decimated files); 16 KB covers them with room to spare and, unlike the
    # 32 KB used before, reads no more than odc-stac does (benchmarks/load.py).
    "GDAL_INGESTED_BYTES_AT_OPEN": "16384",
    # Merge the ranges of adjacent tiles into one request (fewer round trips).
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    # Allow HTTP/2 multiplexing where the server offers it (object stores do).
    "GDAL_HTTP_MULTIPLEX": "YES",
    # Retry transient failures (HTTP 429, 502, 503, 504, time-outs) with backoff.
    "GDAL_HTTP_MAX_RETRY": "5",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    # Give up on a stalled connection instead of hanging a whole load.
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_HTTP_CONNECTTIMEOUT": "15",
    # Public buckets (Earth Search) need no credentials; never look for any.
    "AWS_NO_SIGN_REQUEST": "YES",
    # No per-handle cache: it reads in 32 KB pieces, so the COG header became a 32 KB
    # request instead of 16 KB (+14 KB a file, 3 % of all bytes; benchmarks/load.py),
    # and re-read blocks are already served by the /vsicurl/ cache below.
    "VSI_CACHE": "FALSE",
    # The /vsicurl/ cache of downloaded regions, shared by all files and threads (GDAL's
    # default is 16 MB). geo reads each file once and keeps what it read in its own
    # store, so the cache only needs to hold the reads in flight: 4 MB makes the same
    # requests as 16 MB and keeps 12 MB less (benchmarks/load.py).
    "CPL_VSIL_CURL_CACHE_SIZE": str(4 * 1024 * 1024),
    # Block cache of the GDAL raster layer (MB). Each window is decoded once per task
    # (a remote window once, a stored one once per chunk), so a big cache only keeps
    # dead blocks resident: 32 MB holds the blocks of the reads in flight.
    "GDAL_CACHEMAX": "32",
    # No .aux.xml statistics files beside local files (the store stays clean).
    "GDAL_PAM_ENABLED": "NO",
    # Nothing here reads geo-referencing from a side-car world file.
    "GDAL_GEOREF_SOURCES": "INTERNAL",
}
"""The GDAL configuration every read uses, with the reason for each setting."""


def rio_env(**overrides: Any) -> rasterio.Env:
    """A :class:`rasterio.Env` with :data:`GDAL_SETTINGS` (plus ``overrides``).

    An environment variable of the same name wins over the default, so a user can set
    e.g. ``GDAL_HTTP_MAX_RETRY=10`` without editing code.

    Examples
    --------
    >>> with rio_env(GDAL_HTTP_MAX_RETRY="0"):
    ...     pass
    """
    options: dict[str, Any] = {k: os.environ.get(k, v) for k, v in GDAL_SETTINGS.items()}
    options.update(overrides)
    # rasterio hands GDAL_CACHEMAX to GDALSetCacheMax, which takes an integer (MB).
    options["GDAL_CACHEMAX"] = int(options["GDAL_CACHEMAX"])
    return rasterio.Env(**options)


def apply_env() -> None:
    """Export :data:`GDAL_SETTINGS` as environment variables of this process.

    GDAL falls back to environment variables for configuration options, so this makes
    the settings hold for any raster opened in the process. Values already set in the
    environment win (a user's ``GDAL_HTTP_MAX_RETRY=10`` is kept).

    Examples
    --------
    >>> apply_env()
    """
    for key, value in GDAL_SETTINGS.items():
        os.environ.setdefault(key, value)


def configure_dask(client: Any) -> None:
    """Apply :data:`GDAL_SETTINGS` on every worker of a ``dask.distributed`` client.

    Parameters
    ----------
    client
        A ``distributed.Client``. Workers that join later are covered too (the call is
        registered as a worker callback).

    Examples
    --------
    >>> from distributed import Client  # doctest: +SKIP
    >>> configure_dask(Client(processes=False))  # doctest: +SKIP
    """
    client.register_worker_callbacks(apply_env)


TAP_SETTINGS: dict[str, str] = {"CPL_DEBUG": "ON", "CPL_CURL_VERBOSE": "YES"}
"""Settings under which GDAL reports the HTTP headers it receives (as debug messages)."""

_GDAL_LOGGER = "rasterio._env"  # where rasterio sends GDAL's debug messages
_HEADER_IN = "CURL_INFO_HEADER_IN:"
# What curl says when a body ends before its Content-Length (GDAL 3.10 then keeps the
# part it got and carries on: a cut COG header opens as a file without a CRS).
_CUT_BODY = ("bytes missing", "transfer closed with", "Transferred a partial file")
_tls = threading.local()
_install_lock = threading.Lock()


class _HeaderTap(logging.Filter):
    """Collect response headers of GDAL's requests made in a tapping thread.

    GDAL's debug messages are only produced while tapping (:data:`TAP_SETTINGS`); the
    filter keeps them out of the log, and lets every other record through exactly as
    the logger's level before the tap was installed would have.
    """

    def __init__(self, floor: int) -> None:
        super().__init__()
        self.floor = floor

    def filter(self, record: logging.LogRecord) -> bool:
        sink: list[str] | None = getattr(_tls, "sink", None)
        cuts: list[str] | None = getattr(_tls, "cuts", None)
        if (sink is not None or cuts is not None) and record.levelno <= logging.DEBUG:
            msg = record.getMessage()
            at = msg.find(_HEADER_IN)
            if at >= 0 and sink is not None:
                sink.append(msg[at + len(_HEADER_IN):].strip())
            elif cuts is not None and "CURL_INFO_TEXT" in msg and any(
                    c in msg for c in _CUT_BODY):
                cuts.append(msg[msg.find("CURL_INFO_TEXT:") + 15:].strip())
            return False
        return record.levelno >= self.floor


def _install_tap() -> None:
    with _install_lock:
        logger = logging.getLogger(_GDAL_LOGGER)
        if any(isinstance(f, _HeaderTap) for f in logger.filters):
            return
        logger.addFilter(_HeaderTap(logger.getEffectiveLevel()))
        logger.setLevel(logging.DEBUG)


@contextlib.contextmanager
def tap_http_headers() -> Iterator[list[str]]:
    """Collect the HTTP response header lines GDAL receives in this thread.

    Use it around a read made under ``rio_env(**TAP_SETTINGS)``: the list it yields
    fills with header lines (``"ETag: ..."``, ``"Content-Range: ..."``) of the
    responses to that read's requests, with no request of its own.

    Examples
    --------
    >>> with tap_http_headers() as lines:
    ...     lines
    []
    """
    with _collecting("sink") as lines:
        yield lines


@contextlib.contextmanager
def tap_transfer_faults() -> Iterator[list[str]]:
    """Collect what curl reports of bodies cut short, for GDAL's requests in this thread.

    GDAL keeps the part of a range response it got when the body ends before its
    ``Content-Length`` and opens or decodes from it; a read that saw a cut body must be
    read again. Use it around a read under ``rio_env(**TAP_SETTINGS)``; the list fills
    with curl's messages (``"end of response with 6255 bytes missing"``).

    Examples
    --------
    >>> with tap_transfer_faults() as cuts:
    ...     cuts
    []
    """
    with _collecting("cuts") as lines:
        yield lines


@contextlib.contextmanager
def _collecting(slot: str) -> Iterator[list[str]]:
    """A fresh list in this thread's tap ``slot`` (``sink`` or ``cuts``), restored after."""
    _install_tap()
    lines: list[str] = []
    previous = getattr(_tls, slot, None)
    setattr(_tls, slot, lines)
    try:
        yield lines
    finally:
        setattr(_tls, slot, previous)
