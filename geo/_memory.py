"""Handing freed memory back to the system.

glibc keeps freed heap memory for reuse, in one arena per thread that allocated it. A
step that frees many medium-sized arrays (a review's analysis) or that reads windows in
several threads at once (:func:`geo.load.fetch`) would otherwise leave that memory with
the process, and the next step's peak would stack on top of it.

Elsewhere than glibc (macOS, Windows, musl) every function here does nothing.

Examples
--------
>>> from geo._memory import return_freed_memory, buffers_returned_at_once
>>> return_freed_memory()
>>> with buffers_returned_at_once():
...     pass
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

__all__ = ["return_freed_memory", "buffers_returned_at_once"]

_M_MMAP_THRESHOLD = -3  # mallopt parameter, from glibc's malloc.h
_SMALL = 128 * 1024  # glibc's initial mmap threshold
_LARGE = 32 * 1024 * 1024  # the most glibc's own adaptive threshold grows to (64-bit)
_lock = threading.Lock()
_inside = 0


@cache
def _libc() -> Any:
    with contextlib.suppress(OSError):
        libc = ctypes.CDLL("libc.so.6")
        if hasattr(libc, "malloc_trim"):
            return libc
    return None


def return_freed_memory() -> None:
    """Return free heap pages of every arena to the system (glibc ``malloc_trim``).

    Takes a few milliseconds; elsewhere than glibc it does nothing.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def _user_tuned() -> bool:
    """Whether the user set glibc's mmap threshold; geo then leaves it alone."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in tunables


def _set_mmap_threshold(nbytes: int) -> None:
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_MMAP_THRESHOLD, nbytes)


@contextlib.contextmanager
def buffers_returned_at_once() -> Iterator[None]:
    """Inside, buffers of 128 KB or more go back to the system as soon as they are freed.

    glibc serves such buffers from the heap once it has seen one freed (its adaptive
    mmap threshold rises up to 32 MB) and then keeps them, per thread. Eight threads
    that each read, decode and write a window hold on to their last window's buffers
    (about 4 MB each on the Bagram AOI). Inside this block the threshold is fixed at
    128 KB, so each such buffer is its own mapping, unmapped when freed; on leaving it
    is fixed at 32 MB, where glibc's adaptive threshold ends up in a numpy-heavy
    process. A threshold the user set (``MALLOC_MMAP_THRESHOLD_`` or
    ``GLIBC_TUNABLES``) is left alone.
    """
    global _inside
    if _user_tuned():
        yield
        return
    with _lock:
        _inside += 1
        _set_mmap_threshold(_SMALL)
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                _set_mmap_threshold(_LARGE)
