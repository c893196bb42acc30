"""geo._memory: freed buffers handed back to the system (glibc only)."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import pytest


def _glibc() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallopt")
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _glibc(), reason="glibc's malloc only (Linux)")

_CHILD = textwrap.dedent("""
    import threading, numpy as np
    from geo._memory import buffers_returned_at_once

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2**20

    def churn():  # what a fetch thread does: a few MB of buffers, freed, again and again
        for _ in range(20):
            a = np.ones(600_000, dtype=np.float64)  # 4.6 MB
            del a

    def run():
        threads = [threading.Thread(target=churn) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]

    base = rss_mb()
    if {inside}:
        with buffers_returned_at_once():
            run()
    else:
        run()
    print(rss_mb() - base)
""")


def _held_after(inside: bool, env: dict[str, str] | None = None) -> float:
    import os

    out = subprocess.run([sys.executable, "-c", _CHILD.format(inside=inside)],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return float(out.stdout.strip().splitlines()[-1])


def test_threads_buffers_go_back_to_the_system_inside_the_block() -> None:
    held_inside = _held_after(True)
    assert held_inside < 4  # MB: nothing of the 8 threads' buffers stays


def test_a_threshold_the_user_set_is_left_alone() -> None:
    # The user asked for a 64 MB threshold: geo must not lower it, so the threads'
    # buffers come from (and stay in) their heaps.
    held = _held_after(True, {"MALLOC_MMAP_THRESHOLD_": str(64 * 2**20)})
    assert held > 4


def test_block_nests_and_can_be_left_by_an_exception() -> None:
    from geo._memory import buffers_returned_at_once

    with pytest.raises(RuntimeError), buffers_returned_at_once(), buffers_returned_at_once():
        raise RuntimeError("boom")
    with buffers_returned_at_once():
        pass
