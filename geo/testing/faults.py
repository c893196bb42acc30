"""A fault-injecting HTTP proxy on loopback, to test how geo survives a bad network.

Put it in front of any loopback server (the scenario's STAC API or its file server) and
point the client at the proxy. Each request is forwarded to the upstream server; some are
answered with a fault instead, chosen deterministically from a seed:

- ``500``, ``502``, ``503``: an error status;
- ``429``: "too many requests" with a ``Retry-After`` header;
- ``reset``: the connection is closed with a TCP reset before any response;
- ``slow``: the right response, after a delay;
- ``truncate``: the right headers (the full ``Content-Length``), then only part of the
  body (1/16 to 1/2, chosen per request) and a closed connection;
- ``length``: a ``Content-Length`` larger than the body that follows;
- ``short``: a ``Content-Length`` smaller than the body (the client reads a cut body and
  no error from the transport).

Faults reach every phase: ``HEAD`` requests (statuses and resets; ``methods=("HEAD",)``
targets them alone), the first read of each file (``first_only=True``: only the request
that repeats a path's first ``GET`` range, i.e. a COG's header read, can fault), range
reads of tiles, and the ``GET``/``POST`` pages of a STAC API. The upstream's own URL in
response bodies (a STAC API's links) is rewritten to the proxy's, so a client that
follows links stays behind the proxy; ``rewrite`` adds more (e.g. the file server's URL
in item hrefs, to put a second proxy in front of the files).

With ``burst=k`` a faulty request fails ``k`` times in a row and then goes through, so a
client with bounded retries finishes; with ``persistent=True`` it never goes through.

Examples
--------
>>> with FaultProxy("http://127.0.0.1:9", rate=0.0) as proxy:  # doctest: +SKIP
...     proxy.url
'http://127.0.0.1:...'
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FAULT_KINDS", "FaultProxy", "ProxyEvent"]

FAULT_KINDS: tuple[str, ...] = ("500", "502", "503", "429", "reset", "slow", "truncate", "length",
                                 "short")
_SETTINGS = {"rate", "kinds", "burst", "persistent", "seed", "slow_seconds", "retry_after",
             "only", "first_only", "methods"}
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass(frozen=True)
class ProxyEvent:
    """One request seen by the proxy and what it did with it."""

    method: str
    path: str
    range: str | None
    fault: str | None
    status: int | None


@dataclass
class _State:
    rate: float
    kinds: tuple[str, ...]
    burst: int
    persistent: bool
    seed: int
    slow_seconds: float
    retry_after: int
    only: str | None
    first_only: bool = False
    methods: tuple[str, ...] | None = None
    attempts: dict[tuple[str, str, str | None], int] = field(default_factory=dict)
    first_range: dict[str, str | None] = field(default_factory=dict)
    events: list[ProxyEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def choose(self, method: str, path: str, rng: str | None) -> str | None:
        """The fault for this request, or None to forward it untouched."""
        if self.only and self.only not in path:
            return None
        if self.methods is not None and method not in self.methods:
            return None
        if self.first_only and not self._is_first_read(method, path, rng):
            return None
        key = (method, path, rng)
        digest = hashlib.sha256(f"{self.seed}|{method}|{path}|{rng}".encode()).digest()
        draw = struct.unpack(">Q", digest[:8])[0] / 2**64
        if draw >= self.rate:
            return None
        with self.lock:
            n = self.attempts.get(key, 0)
            self.attempts[key] = n + 1
        if not self.persistent and n >= self.burst:
            return None
        return self.kinds[(digest[8] + n) % len(self.kinds)]

    def kept(self, size: int, method: str, path: str, rng: str | None) -> int:
        """Bytes of a body of ``size`` that a ``truncate``/``short`` fault lets through:
        1/16 to 1/2 of it, chosen per request (a header read may be cut anywhere)."""
        digest = hashlib.sha256(f"{self.seed}|cut|{method}|{path}|{rng}".encode()).digest()
        return size * (1 + digest[0] % 8) // 16

    def _is_first_read(self, method: str, path: str, rng: str | None) -> bool:
        """Whether this is (a repeat of) the path's first GET: a COG's header read."""
        if method != "GET":
            return False
        with self.lock:
            first = self.first_range.setdefault(path, rng)
        return first == rng


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._proxy()

    def do_HEAD(self) -> None:
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    def _record(self, fault: str | None, status: int | None) -> None:
        state = self.server.state
        with state.lock:
            state.events.append(ProxyEvent(self.command, self.path, self.headers.get("Range"),
                                           fault, status))

    def _proxy(self) -> None:
        state = self.server.state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = state.choose(self.command, self.path, self.headers.get("Range"))
        if fault in ("500", "502", "503", "429"):
            self._fail(int(fault))
            return
        if fault == "reset":
            self._record(fault, None)
            self._reset()
            return
        if fault == "slow":
            time.sleep(state.slow_seconds)
        status, headers, payload = self._forward(body)
        payload = self.server.rewrite(payload)
        self._record(fault, status)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP and name.lower() != "content-length":
                self.send_header(name, value)
        size = len(payload)
        if self.command == "HEAD":  # no body: pass on the upstream's stated length
            size = int(dict((k.lower(), v) for k, v in headers).get("content-length", 0))
        if fault == "truncate":
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload[: state.kept(len(payload), self.command, self.path,
                                                      self.headers.get("Range"))])
            self.close_connection = True
            return
        short = state.kept(size, self.command, self.path, self.headers.get("Range"))
        claimed = {"length": size + 1024, "short": short}.get(fault or "", size)
        self.send_header("Content-Length", str(claimed))
        if fault in ("length", "short"):
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        if fault in ("length", "short"):
            self.close_connection = True

    def _fail(self, status: int) -> None:
        self._record(str(status), status)
        message = f"injected fault {status}\n".encode()
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", str(self.server.state.retry_after))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(message)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(message)

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        finally:
            self.connection.close()

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port or 80, timeout=60)
        try:
            # identity bodies, so the rewriting of URLs in them works
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in _HOP and k.lower() != "accept-encoding"}
            headers["Host"] = up.netloc
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, resp.getheaders(), payload
        finally:
            conn.close()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    upstream: Any
    state: _State
    replacements: list[tuple[bytes, bytes]]

    def rewrite(self, payload: bytes) -> bytes:
        for old, new in self.replacements:
            payload = payload.replace(old, new)
        return payload


class FaultProxy:
    """A loopback HTTP proxy that injects faults into a share of the requests.

    Parameters
    ----------
    upstream
        Base URL of the server to forward to (``http://127.0.0.1:PORT``).
    rate
        Share of distinct requests (method, path, range) that fault, 0..1.
    kinds
        Fault kinds to draw from (see :data:`FAULT_KINDS`).
    burst
        How many times in a row a faulty request fails before it goes through.
    persistent
        Faulty requests never go through.
    seed
        Seeds the choice of requests and kinds (same seed, same faults).
    slow_seconds, retry_after
        Delay of ``slow`` faults; ``Retry-After`` seconds sent with 429.
    only
        Fault only requests whose path contains this text.
    first_only
        Fault only each path's first ``GET`` (and its repeats: the same range), which
        for a COG is the header read; with ``rate=1.0`` every file's header read faults.
    methods
        Fault only these methods (e.g. ``("HEAD",)``); default all.
    rewrite
        Extra ``{old: new}`` text replacements in response bodies; the upstream's base
        URL always becomes the proxy's.

    Examples
    --------
    >>> with FaultProxy("http://127.0.0.1:9", rate=1.0, kinds=("truncate",),
    ...                 first_only=True) as proxy:  # doctest: +SKIP
    ...     proxy.fault_counts()
    {}
    """

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.3,
        kinds: tuple[str, ...] = FAULT_KINDS,
        burst: int = 1,
        persistent: bool = False,
        seed: int = 0,
        slow_seconds: float = 0.3,
        retry_after: int = 1,
        only: str | None = None,
        first_only: bool = False,
        methods: tuple[str, ...] | None = None,
        rewrite: Mapping[str, str] | None = None,
    ) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {FAULT_KINDS}")
        self._server = _ProxyServer(("127.0.0.1", 0), _Handler)
        self._server.upstream = urlsplit(upstream.rstrip("/"))
        self._server.state = _State(rate, kinds, burst, persistent, seed, slow_seconds,
                                    retry_after, only, first_only,
                                    None if methods is None else tuple(methods))
        own = {upstream.rstrip("/"): self.url, **(rewrite or {})}
        self._server.replacements = [(a.encode(), b.encode()) for a, b in
                                     sorted(own.items(), key=lambda kv: -len(kv[0]))]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL of the proxy (loopback, free port)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def events(self) -> list[ProxyEvent]:
        """Every request seen so far, in order."""
        with self._server.state.lock:
            return list(self._server.state.events)

    @property
    def faults(self) -> list[ProxyEvent]:
        """The requests that were answered with a fault (slow ones included)."""
        return [e for e in self.events if e.fault]

    def fault_counts(self) -> dict[str, int]:
        """How many faults of each kind were injected so far."""
        return dict(Counter(str(e.fault) for e in self.faults))

    def configure(self, **settings: Any) -> None:
        """Change the fault settings of the running proxy (same port, same URL).

        Takes the keyword settings of the constructor except ``upstream`` and
        ``rewrite`` (``rate``, ``kinds``, ``burst``, ``persistent``, ``seed``,
        ``slow_seconds``, ``retry_after``, ``only``, ``first_only``, ``methods``). The
        counts of repeated requests and first reads start afresh; the events so far are
        kept.

        Examples
        --------
        >>> with FaultProxy("http://127.0.0.1:9", rate=0.0) as proxy:  # doctest: +SKIP
        ...     proxy.configure(rate=1.0, kinds=("503",), methods=("HEAD",))
        """
        state = self._server.state
        unknown = set(settings) - _SETTINGS
        if unknown:
            raise ValueError(f"unknown proxy settings {sorted(unknown)}; use {sorted(_SETTINGS)}")
        bad = set(settings.get("kinds", ())) - set(FAULT_KINDS)
        if bad:
            raise ValueError(f"unknown fault kinds {sorted(bad)}; use {FAULT_KINDS}")
        if settings.get("methods") is not None:
            settings["methods"] = tuple(settings["methods"])
        with state.lock:
            for name, value in settings.items():
                setattr(state, name, tuple(value) if name == "kinds" else value)
            state.attempts.clear()
            state.first_range.clear()

    def close(self) -> None:
        """Stop the proxy."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
