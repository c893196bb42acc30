"""Small loopback HTTP servers for tests, benchmarks and notebooks.

:class:`RangeFileServer` serves a folder over HTTP with byte-range support (what GDAL's
``/vsicurl/`` and object stores speak) and records every request, so tests can count
requests and bytes, or make chosen requests fail. :class:`JsonRouteServer` answers
requests with JSON from a function, to replay recorded STAC API pages.

Examples
--------
>>> import tempfile, pathlib, urllib.request
>>> folder = pathlib.Path(tempfile.mkdtemp()); _ = (folder / "a.txt").write_text("hello")
>>> with RangeFileServer(folder) as srv:
...     req = urllib.request.Request(srv.url + "/a.txt", headers={"Range": "bytes=1-3"})
...     urllib.request.urlopen(req).read()
b'ell'
>>> srv.requests[0].method, srv.requests[0].range
('GET', 'bytes=1-3')
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from geo.scenario._fileserver import etag_of

__all__ = ["Request", "RangeFileServer", "JsonRouteServer"]

log = logging.getLogger(__name__)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class Request:
    """One request seen by a server."""

    method: str
    path: str
    range: str | None
    status: int
    nbytes: int
    body: bytes = b""


class _Base:
    """Start/stop and request log shared by the servers."""

    _handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43215``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Request]:
        """A copy of the requests seen so far (thread-safe)."""
        with self._lock:
            return list(self._requests)

    @property
    def bytes_sent(self) -> int:
        """Body bytes sent so far."""
        return sum(r.nbytes for r in self.requests)

    def reset(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self._requests.clear()

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> _Base:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _RangeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    @property
    def owner(self) -> RangeFileServer:
        return self.server.owner  # type: ignore[attr-defined,no-any-return]

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        owner = self.owner
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        rng = self.headers.get("Range")
        status = owner.fail(self.command, path, rng) if owner.fail else None
        if status:
            return self._reply(status, b"", rng, head)
        file = owner.resolve(path)
        if file is None:
            return self._reply(404, b"", rng, head)
        data = file.read_bytes()
        size = len(data)
        st = file.stat()
        version = {"ETag": etag_of(size, st.st_mtime_ns),  # like an object store
                   "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True)}
        if rng is None:
            return self._reply(200, data, rng, head, {"Accept-Ranges": "bytes", **version})
        m = _RANGE.match(rng.strip())
        if not m or (not m.group(1) and not m.group(2)):
            return self._reply(416, b"", rng, head, {"Content-Range": f"bytes */{size}"})
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:
            start, end = max(size - int(m.group(2)), 0), size - 1
        if start >= size or end < start:
            return self._reply(416, b"", rng, head, {"Content-Range": f"bytes */{size}"})
        headers = {"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes",
                   **version}
        self._reply(206, data[start : end + 1], rng, head, headers)

    def _reply(
        self, status: int, body: bytes, rng: str | None, head: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        sent = 0 if head else len(body)
        path = urllib.parse.urlsplit(self.path).path
        self.owner._record(Request(self.command, path, rng, status, sent))  # before: no race
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if sent:
            self.wfile.write(body)


class RangeFileServer(_Base):
    """Serve a folder over loopback HTTP with byte ranges, recording every request.

    Parameters
    ----------
    root
        Folder to serve. Paths that resolve outside it are answered 404.
    fail
        Optional ``fail(method, path, range) -> int | None``: return an HTTP status
        (e.g. 503) to fail that request, ``None`` to serve it.

    Attributes
    ----------
    url
        Base URL (``http://127.0.0.1:<port>``).
    requests
        List of :class:`Request` seen, in arrival order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with RangeFileServer(pathlib.Path(tempfile.mkdtemp())) as srv:
    ...     srv.url.startswith("http://127.0.0.1:")
    True
    """

    _handler = _RangeHandler

    def __init__(
        self, root: str | Path, *, fail: Callable[[str, str, str | None], int | None] | None = None
    ) -> None:
        self.root = Path(root).resolve()
        self.fail = fail
        super().__init__()

    def __enter__(self) -> RangeFileServer:
        return self

    def resolve(self, url_path: str) -> Path | None:
        """The file under ``root`` for a URL path, or None (missing or outside root)."""
        candidate = (self.root / url_path.lstrip("/")).resolve()
        if not candidate.is_file() or not candidate.is_relative_to(self.root):
            return None
        return candidate

    def href(self, path: str | Path) -> str:
        """The URL of a file under ``root`` (absolute or relative path)."""
        rel = Path(path).resolve().relative_to(self.root) if Path(path).is_absolute() else Path(path)
        return f"{self.url}/{urllib.parse.quote(rel.as_posix())}"


Route = Callable[[str, str, dict[str, list[str]], Any], "tuple[int, Any]"]


class _JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        owner: JsonRouteServer = self.server.owner  # type: ignore[attr-defined]
        split = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = _parse_body(raw, self.headers.get("Content-Type") or "")
        status, obj = owner.route(self.command, split.path, urllib.parse.parse_qs(split.query), body)
        text = isinstance(obj, str)  # a plain-text answer (e.g. Overpass's /status)
        data = obj.encode() if text else json.dumps(obj).encode()
        # Recorded before the answer goes out: a client that has its answer finds its
        # request in ``requests`` (no race with a test counting them).
        owner._record(Request(self.command, self.path, None, status, len(data), raw))
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _parse_body(raw: bytes, content_type: str) -> Any:
    """A request body as JSON, as a form (``{key: [values]}``), or as text."""
    if not raw:
        return None
    if "application/x-www-form-urlencoded" in content_type:
        return urllib.parse.parse_qs(raw.decode())
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class JsonRouteServer(_Base):
    """Answer loopback HTTP requests with JSON from ``route(method, path, query, body)``.

    ``route`` returns ``(status, object)``: the object is sent as JSON, or as plain text
    if it is a ``str``. ``body`` is the request's JSON, its form fields
    (``{key: [values]}``) or its text; the server records each request with its
    raw body, so tests can check what a client sent (e.g. a STAC ``next`` token).

    Examples
    --------
    >>> import urllib.request, json
    >>> with JsonRouteServer(lambda m, p, q, b: (200, {"path": p})) as srv:
    ...     json.load(urllib.request.urlopen(srv.url + "/x"))
    {'path': '/x'}
    """

    _handler = _JsonHandler

    def __init__(self, route: Route) -> None:
        self.route = route
        super().__init__()

    def __enter__(self) -> JsonRouteServer:
        return self
