"""A range-request HTTP file server, run as its own process by :class:`FileServer`.

Usage: ``python -m geo.scenario._fileserver ROOT LOGFILE``. It binds a free port on
127.0.0.1, prints ``PORT <n>`` on stdout, and appends one JSON line
``[method, path, range]`` per request to LOGFILE. It answers ``GET`` and ``HEAD``, with
``Range: bytes=a-b`` / ``a-`` / ``-n`` (206 + ``Content-Range``; 416 when
unsatisfiable), ``Accept-Ranges: bytes`` and ``Content-Length``, like an object store.
Every answer about a file carries its ``ETag`` (from its size and modification time,
so a replaced file gets a new one) and ``Last-Modified``; ``If-None-Match`` and
``If-Modified-Since`` are honoured with 304 Not Modified, and ``If-Range`` with the
whole file when the file changed.

Examples
--------
>>> parse_range("bytes=0-99", 1000), parse_range("bytes=-10", 1000), parse_range("bytes=5-", 8)
((0, 99), (990, 999), (5, 7))
>>> parse_range("bytes=2000-", 1000) is None
True
>>> etag_of(1234, 1_700_000_000_123_456_789)
'"4d2-17979cfe3d85cd15"'
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["parse_range", "etag_of", "main"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range, or None if unsatisfiable."""
    m = _RANGE.match(header.strip())
    if not m or size == 0:
        return None
    a, b = m.groups()
    if a == "" and b == "":
        return None
    if a == "":                       # suffix: the last b bytes
        n = int(b)
        return (max(0, size - n), size - 1) if n > 0 else None
    start = int(a)
    end = min(int(b), size - 1) if b else size - 1
    if start >= size or end < start:
        return None
    return start, end


def etag_of(size: int, mtime_ns: int) -> str:
    """A strong ETag for one version of a file: its size and modification time."""
    return f'"{size:x}-{mtime_ns:x}"'


def _not_modified(headers: Any, etag: str, mtime: float) -> bool:
    """Whether a conditional request's validators still match the file (RFC 9110 13.2.2)."""
    match = headers.get("If-None-Match")
    if match is not None:
        tags = [t.strip().removeprefix("W/") for t in match.split(",")]
        return "*" in tags or etag in tags
    since = headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError):
        return False
    return int(mtime) <= when


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, log: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.log = log
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _target(self) -> Path | None:
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        root = self.server.root
        path = (root / rel).resolve()
        if root not in path.parents:
            return None
        return path if path.is_file() else None

    def _record(self, rng: str | None) -> None:
        line = json.dumps([self.command, urlsplit(self.path).path, rng]) + "\n"
        with self.server.lock, self.server.log.open("a", encoding="utf-8") as f:
            f.write(line)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        rng = self.headers.get("Range")
        self._record(rng)
        path = self._target()
        if path is None:
            self._empty(404)
            return
        st = os.stat(path)
        size = st.st_size
        meta = {"ETag": etag_of(size, st.st_mtime_ns),
                "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True)}
        if _not_modified(self.headers, meta["ETag"], st.st_mtime):
            self._empty(304, meta)
            return
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range not in (meta["ETag"], meta["Last-Modified"]):
            rng = None  # the file changed: the whole of it, not a piece of the new version
        ctype = {".tif": "image/tiff", ".tiff": "image/tiff", ".json": "application/json"}.get(
            path.suffix.lower(), "application/octet-stream")
        if rng is None:
            self._send(path, 0, size, size, 200, ctype, body, meta)
            return
        span = parse_range(rng, size)
        if span is None:
            self._empty(416, {"Content-Range": f"bytes */{size}", **meta})
            return
        self._send(path, span[0], span[1] + 1, size, 206, ctype, body, meta)

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, path: Path, start: int, stop: int, size: int, status: int, ctype: str,
              body: bool, meta: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in meta.items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(stop - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.end_headers()
        if body:
            with path.open("rb") as f:
                f.seek(start)
                self.wfile.write(f.read(stop - start))


def main(argv: list[str] | None = None) -> None:
    """Serve ROOT until terminated, logging requests to LOGFILE."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.exit("usage: python -m geo.scenario._fileserver ROOT LOGFILE")
    server = _Server(Path(args[0]).resolve(), Path(args[1]))
    sys.stdout.write(f"PORT {server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
