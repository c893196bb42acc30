"""The fault-injecting proxy itself: each fault kind happens as described, deterministically."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from geo.testing.faults import FAULT_KINDS, FaultProxy

PAYLOAD = bytes(range(256)) * 64  # 16 KiB


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _get(url: str, path: str = "/a.tif") -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_no_faults_forwards_bytes_exactly(upstream):
    with FaultProxy(upstream, rate=0.0) as proxy:
        status, _, body = _get(proxy.url)
    assert status == 200 and body == PAYLOAD
    assert proxy.faults == []


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_status_burst_then_success(upstream, status):
    with FaultProxy(upstream, rate=1.0, kinds=(str(status),), burst=2) as proxy:
        first, headers, _ = _get(proxy.url)
        second, _, _ = _get(proxy.url)
        third, _, body = _get(proxy.url)
    assert (first, second, third) == (status, status, 200)
    assert body == PAYLOAD
    if status == 429:
        assert headers["Retry-After"] == "1"


def test_persistent_faults_never_clear(upstream):
    with FaultProxy(upstream, rate=1.0, kinds=("503",), persistent=True) as proxy:
        assert {_get(proxy.url)[0] for _ in range(5)} == {503}


def test_truncated_body_is_incomplete(upstream):
    with FaultProxy(upstream, rate=1.0, kinds=("truncate",)) as proxy, \
            pytest.raises(http.client.IncompleteRead):
        _get(proxy.url)


def test_wrong_content_length_is_incomplete(upstream):
    with FaultProxy(upstream, rate=1.0, kinds=("length",)) as proxy, \
            pytest.raises(http.client.IncompleteRead):
        _get(proxy.url)


def test_reset_drops_the_connection(upstream):
    with FaultProxy(upstream, rate=1.0, kinds=("reset",)) as proxy, \
            pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        _get(proxy.url)


def test_slow_is_late_but_right(upstream):
    import time

    with FaultProxy(upstream, rate=1.0, kinds=("slow",), slow_seconds=0.2) as proxy:
        t0 = time.monotonic()
        status, _, body = _get(proxy.url)
        assert time.monotonic() - t0 >= 0.2
    assert status == 200 and body == PAYLOAD
    assert [e.fault for e in proxy.events] == ["slow"]


def test_same_seed_same_faults(upstream):
    def run(seed: int) -> list[str | None]:
        with FaultProxy(upstream, rate=0.5, kinds=("500", "503", "429"), seed=seed) as proxy:
            for i in range(30):
                _get(proxy.url, f"/f{i}.tif")
            return [e.fault for e in proxy.events]

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first != other
    assert 5 < sum(f is not None for f in first) < 25  # about half


def test_unknown_kind_is_refused(upstream):
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultProxy(upstream, kinds=("teapot",))
    assert "reset" in FAULT_KINDS
