"""The fault-injecting proxy itself: each fault kind happens as described, deterministically."""

from __future__ import annotations

import http.client
import json
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
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
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


# --- the faults of every phase: first reads, cut and mis-sized bodies, HEAD, rewriting ---

BIG = bytes(range(251)) * 261  # 65,511 bytes: a cut may end inside the first 16 KiB or after


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Iterator[str]:
    """A range-request file server over 40 files of ``BIG``."""
    from geo.testing.servers import RangeFileServer

    root = tmp_path_factory.mktemp("faulty-files")
    for i in range(40):
        (root / f"f{i}.tif").write_bytes(BIG)
    with RangeFileServer(root) as server:
        yield server.url


def _ask(url: str, path: str, *, method: str = "GET", rng: str | None = None,
         ) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, headers={"Range": rng} if rng else {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _cut(url: str, path: str, rng: str | None = None) -> tuple[int, int]:
    """(Content-Length, bytes received) of a response whose body is cut short."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Range": rng} if rng else {})
        resp = conn.getresponse()
        claimed = int(resp.getheader("Content-Length") or -1)
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        return claimed, len(info.value.partial)
    finally:
        conn.close()


def test_first_only_faults_the_first_range_read_of_each_path_and_its_repeats(files):
    with FaultProxy(files, rate=1.0, kinds=("503",), first_only=True,
                    persistent=True) as proxy:
        header = [_ask(proxy.url, "/f0.tif", rng="bytes=0-16383")[0] for _ in range(3)]
        tile, _, body = _ask(proxy.url, "/f0.tif", rng="bytes=16384-20000")
        head = _ask(proxy.url, "/f0.tif", method="HEAD")[0]
        other = _ask(proxy.url, "/f1.tif", rng="bytes=100-200")[0]  # its own first read
        other_next = _ask(proxy.url, "/f1.tif", rng="bytes=0-16383")[0]
    assert header == [503, 503, 503]
    assert (tile, body) == (206, BIG[16384:20001])
    assert head == 200 and other == 503 and other_next == 206
    assert proxy.fault_counts() == {"503": 4}


def test_truncate_cuts_the_body_at_a_varying_point_under_a_full_length(files):
    with FaultProxy(files, rate=1.0, kinds=("truncate",)) as proxy:
        cuts = [_cut(proxy.url, f"/f{i}.tif") for i in range(40)]
    assert {claimed for claimed, _ in cuts} == {len(BIG)}  # the full Content-Length
    kept = [got for _, got in cuts]
    assert all(0 < got < len(BIG) for got in kept)
    assert len(set(kept)) >= 4  # the cut point varies from request to request
    assert min(kept) < 16384 < max(kept)  # sometimes inside a COG's header read


def test_a_header_read_cut_once_then_served_whole(files):
    with FaultProxy(files, rate=1.0, kinds=("truncate",), first_only=True) as proxy:
        claimed, got = _cut(proxy.url, "/f2.tif", "bytes=0-16383")
        status, _, body = _ask(proxy.url, "/f2.tif", rng="bytes=0-16383")
    assert claimed == 16384 and got < 16384
    assert (status, body) == (206, BIG[:16384])


def test_short_sends_a_smaller_content_length_than_the_body(files):
    with FaultProxy(files, rate=1.0, kinds=("short",)) as proxy:
        status, headers, body = _ask(proxy.url, "/f3.tif")
    assert status == 200
    assert int(headers["Content-Length"]) == len(body) < len(BIG)  # no transport error
    assert body == BIG[: len(body)]


def test_length_sends_a_larger_content_length_than_the_body(files):
    with FaultProxy(files, rate=1.0, kinds=("length",)) as proxy:
        claimed, got = _cut(proxy.url, "/f4.tif")
    assert claimed > got == len(BIG)  # the whole body, and a promise of more


@pytest.mark.parametrize("kind", ["503", "reset"])
def test_head_faults_leave_gets_alone(files, kind):
    with FaultProxy(files, rate=1.0, kinds=(kind,), methods=("HEAD",),
                    persistent=True) as proxy:
        gets = [_ask(proxy.url, f"/f{i}.tif", rng="bytes=0-99") for i in range(5)]
        if kind == "503":
            heads = [_ask(proxy.url, f"/f{i}.tif", method="HEAD")[0] for i in range(5)]
            assert heads == [503] * 5
        else:
            for i in range(5):
                with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
                    _ask(proxy.url, f"/f{i}.tif", method="HEAD")
    assert [(s, b) for s, _, b in gets] == [(206, BIG[:100])] * 5
    assert {e.method for e in proxy.faults} == {"HEAD"}
    assert proxy.fault_counts() == {kind: 5}


def test_upstream_and_extra_urls_in_bodies_are_rewritten():
    from geo.testing.servers import JsonRouteServer

    def route(method, path, query, body):
        return 200, {"method": method, "next": f"{api.url}/search?page=2",
                     "href": "http://files.example:81/a/B04.tif"}

    with JsonRouteServer(route) as api, \
            FaultProxy(api.url, rate=0.0,
                       rewrite={"http://files.example:81": "http://127.0.0.1:9"}) as proxy:
        status, headers, raw = _ask(proxy.url, "/search")
    page = json.loads(raw)
    assert status == 200 and int(headers["Content-Length"]) == len(raw)
    assert page["next"] == f"{proxy.url}/search?page=2"
    assert page["href"] == "http://127.0.0.1:9/a/B04.tif"
    assert api.url.encode() not in raw


def test_fault_counts_tally_the_injected_faults_by_kind(files):
    kinds = ("500", "503", "429", "slow")
    with FaultProxy(files, rate=0.6, kinds=kinds, seed=4, slow_seconds=0.01) as proxy:
        statuses = [_ask(proxy.url, f"/f{i}.tif", rng="bytes=0-9")[0] for i in range(40)]
        counts = proxy.fault_counts()
    assert set(counts) <= set(kinds) and len(counts) >= 2
    errors_seen = sum(s in (500, 503, 429) for s in statuses)
    assert sum(n for k, n in counts.items() if k != "slow") == errors_seen
    assert sum(counts.values()) == len(proxy.faults) and 10 < errors_seen < 40


def test_configure_changes_a_running_proxy(files):
    with FaultProxy(files, rate=0.0) as proxy:
        url = proxy.url
        before = _ask(url, "/f5.tif", method="HEAD")[0]
        proxy.configure(rate=1.0, kinds=["503"], persistent=True, methods=("HEAD",))
        during = [_ask(url, "/f5.tif", method="HEAD")[0], _ask(url, "/f5.tif")[0]]
        proxy.configure(rate=0.0)
        after = _ask(url, "/f5.tif", method="HEAD")[0]
        assert proxy.url == url
        with pytest.raises(ValueError, match="unknown proxy settings"):
            proxy.configure(upstream="http://127.0.0.1:9")
        with pytest.raises(ValueError, match="unknown fault kinds"):
            proxy.configure(kinds=("teapot",))
    assert (before, during, after) == (200, [503, 200], 200)
