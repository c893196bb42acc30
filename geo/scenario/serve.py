"""Serve a scenario like Earth Search: a real STAC API plus a range-request file server.

``rustac serve`` (the Rust STAC server from PyPI) serves the items of every collection
in the folder (Earth Search form: ``sentinel-2-c1-l2a`` and ``sentinel-2-l2a``, plus
Planetary Computer's ``sentinel-1-rtc`` when the scenario holds radar); a threaded HTTP
server answers ``GET``/``HEAD`` with ``Range: bytes=a-b`` over the COGs, the way an
object store does. Both listen on free loopback ports; item hrefs point at the file
server, so code under test reads the scenario exactly as it reads Earth Search.

Examples
--------
>>> with serve("/tmp/scenario") as srv:  # doctest: +SKIP
...     print(srv.stac_url, srv.files_url)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from geo import errors
from geo.scenario._fileserver import parse_range

__all__ = ["ScenarioServer", "serve", "FileServer", "rustac_binary", "free_port",
           "parse_range"]

log = logging.getLogger(__name__)

def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rustac_binary() -> str:
    """Path of the ``rustac`` executable (on PATH or beside the running Python).

    Raises
    ------
    geo.errors.MissingDependency
        When no ``rustac`` executable is found.
    """
    found = shutil.which("rustac") or shutil.which("rustac", path=str(Path(sys.executable).parent))
    if not found:
        raise errors.MissingDependency(
            "The 'rustac' command (a STAC API server) was not found on PATH or beside "
            f"{sys.executable}. Install it with: pip install rustac"
        )
    return found



def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child process: terminate, then kill if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

class FileServer:
    """A loopback HTTP server of a folder with byte-range support (like an object store).

    It runs in a child process: GDAL holds Python's GIL while it opens a remote file, so a
    server thread in the reading process would deadlock. Requests are logged to a file
    the parent reads (:attr:`requests`).

    Examples
    --------
    >>> import tempfile, pathlib, urllib.request
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.bin").write_bytes(b"0123456789")
    >>> with FileServer(d) as fs:
    ...     req = urllib.request.Request(fs.url + "a.bin", headers={"Range": "bytes=2-4"})
    ...     urllib.request.urlopen(req).read()
    b'234'
    """

    def __init__(self, root: str | Path, *, timeout: float = 15.0) -> None:
        self.root = Path(root).resolve()
        fd, log_name = tempfile.mkstemp(prefix="geo-files-", suffix=".log")
        os.close(fd)
        self._log = Path(log_name)
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            # run the file by path: it needs only the standard library, and importing the
            # geo package would slow the start by seconds
            [sys.executable, "-I", str(Path(__file__).with_name("_fileserver.py")),
             str(self.root), str(self._log)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        line = _read_line(self._proc, timeout)
        if not line.startswith("PORT "):
            self.close()
            raise errors.ScenarioError(
                f"The scenario file server did not start (said {line!r}); run "
                f"`{sys.executable} -m geo.scenario._fileserver DIR LOG` to see why."
            )
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/"

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        """(method, path, Range header) of every request so far, oldest first."""
        with self._lock:
            text = self._log.read_text(encoding="utf-8") if self._log.exists() else ""
        out = []
        for line in text.splitlines():
            try:
                method, path, rng = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            out.append((method, path, rng))
        return out

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._log.write_text("")

    def close(self) -> None:
        """Stop the server process and remove its log."""
        _terminate(self._proc)
        if self._proc.stdout:
            self._proc.stdout.close()
        self._log.unlink(missing_ok=True)

    def __enter__(self) -> FileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """First stdout line of a child process, or '' if none comes within ``timeout``."""
    result: list[str] = []
    def reader() -> None:
        assert proc.stdout is not None
        result.append(proc.stdout.readline().decode(errors="replace").strip())
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    return result[0] if result else ""


class ScenarioServer:
    """A running STAC API (``rustac serve``) and file server over a scenario folder.

    Attributes
    ----------
    stac_url
        Root of the STAC API, e.g. ``http://127.0.0.1:40123``.
    files_url
        Root of the file server (item hrefs start with it), ending in ``/``.
    collection
        The older collection's id (``"sentinel-2-l2a"``; the only one in the Planetary
        Computer form).
    collections
        Every collection served, Collection 1 first and the radar last
        (``["sentinel-2-c1-l2a", "sentinel-2-l2a", "sentinel-1-rtc"]`` in the Earth
        Search form with radar).
    folder
        The scenario folder served.

    Examples
    --------
    >>> import pystac_client  # doctest: +SKIP
    >>> with ScenarioServer("/tmp/scenario") as srv:  # doctest: +SKIP
    ...     client = pystac_client.Client.open(srv.stac_url)
    ...     items = list(client.search(collections=[srv.collection], max_items=5).items())
    """

    def __init__(self, folder: str | Path, *, timeout: float = 30.0) -> None:
        self.folder = Path(folder).resolve()
        for name in ("items.ndjson", "collection.json", "manifest.json"):
            if not (self.folder / name).is_file():
                raise errors.ScenarioError(
                    f"{self.folder} is not a complete scenario (no {name}); build one with "
                    "`geo scenario build --out DIR`."
                )
        self.collection = json.loads((self.folder / "collection.json").read_text())["id"]
        self._documents = _collection_documents(self.folder)
        self.collections = [json.loads(p.read_text())["id"] for p in self._documents]
        self._tmp = Path(tempfile.mkdtemp(prefix="geo-serve-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._files = FileServer(self.folder)
        self.files_url = self._files.url
        try:
            self._write_api_inputs()
            self.stac_url = self._start_rustac(timeout)
        except BaseException:
            self.close()
            raise
        self.stac_requests = None
        """Not counted: rustac does not report its requests."""

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        """(method, path, Range header) of every file-server request so far (a copy)."""
        return self._files.requests

    def clear_requests(self) -> None:
        """Forget the file-server requests recorded so far."""
        self._files.clear()

    def _write_api_inputs(self) -> None:
        base = self.files_url
        with (self.folder / "items.ndjson").open(encoding="utf-8") as src, \
                (self._tmp / "items.ndjson").open("w", encoding="utf-8") as dst:
            for line in src:
                if not line.strip():
                    continue
                item = json.loads(line)
                for asset in item["assets"].values():
                    href = asset["href"]
                    if href.startswith("./"):
                        asset["href"] = base + href[2:]
                item["links"] = [ln for ln in item.get("links", [])
                                 if not str(ln.get("href", "")).startswith(".")]
                dst.write(json.dumps(item) + "\n")
        for path in self._documents:
            coll = json.loads(path.read_text())
            coll["links"] = [ln for ln in coll.get("links", [])
                             if not str(ln.get("href", "")).startswith(".")]
            (self._tmp / path.name).write_text(json.dumps(coll))

    def _start_rustac(self, timeout: float) -> str:
        binary = rustac_binary()
        last = ""
        for _ in range(3):  # a port can be taken between picking and binding it
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            self._proc = subprocess.Popen(
                [binary, "serve", "--addr", f"127.0.0.1:{port}",
                 *(str(self._tmp / p.name) for p in self._documents),
                 str(self._tmp / "items.ndjson")],
                stdout=subprocess.DEVNULL, stderr=(self._tmp / "rustac.log").open("wb"),
                env={**os.environ, "RUST_LOG": "error"},
            )
            if self._wait_ready(url, timeout):
                log.info("STAC API at %s, files at %s", url, self.files_url)
                return url
            last = (self._tmp / "rustac.log").read_text(errors="replace")[-2000:]
            self._stop_proc()
        raise errors.ScenarioError(
            f"`rustac serve` did not start on 127.0.0.1 (log: {last.strip() or 'empty'}). "
            "Check that `rustac serve --help` works in this environment."
        )

    def _wait_ready(self, url: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.02
        waiting = list(self.collections)
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url + f"/collections/{waiting[0]}",
                                            timeout=2) as resp:
                    if resp.status == 200:
                        waiting.pop(0)
                        if not waiting:
                            return True
                        continue
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(delay)  # polling a child process's readiness, not syncing a test
            delay = min(delay * 1.5, 0.25)
        return False

    def _stop_proc(self) -> None:
        if self._proc is None:
            return
        _terminate(self._proc)
        self._proc = None

    def close(self) -> None:
        """Stop both servers and remove the temporary API inputs."""
        self._stop_proc()
        self._files.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> ScenarioServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScenarioServer(stac_url={self.stac_url!r}, files_url={self.files_url!r})"


_ORDER = {"sentinel-2-c1-l2a": 0, "sentinel-2-l2a": 1, "sentinel-1-rtc": 2}


def _collection_documents(folder: Path) -> list[Path]:
    """The collection documents of a scenario folder: Collection 1 first, radar last.

    The manifest names them (``collections``); an older scenario has only
    ``collection.json``.
    """
    manifest = json.loads((folder / "manifest.json").read_text())
    named = manifest.get("collections") or {}
    ids = sorted(named, key=lambda c: (_ORDER.get(c, 1), c))
    docs = [folder / str(named[c]["document"]) for c in ids] or [folder / "collection.json"]
    missing = [p.name for p in docs if not p.is_file()]
    if missing:
        raise errors.ScenarioError(
            f"{folder} is not a complete scenario (no {', '.join(missing)}); rebuild it with "
            "`geo scenario build --out DIR --overwrite`."
        )
    return docs


def serve(folder: str | Path, *, timeout: float = 30.0) -> ScenarioServer:
    """Start a STAC API and a range-request file server over a scenario folder.

    Use it as a context manager (or call ``.close()``).

    Parameters
    ----------
    folder
        A folder written by :func:`geo.scenario.build`.
    timeout
        Seconds to wait for ``rustac serve`` to answer.

    Returns
    -------
    ScenarioServer

    Raises
    ------
    geo.errors.ScenarioError
        The folder is not a complete scenario, or the API did not start.
    geo.errors.MissingDependency
        ``rustac`` is not installed.

    Examples
    --------
    >>> with serve("/tmp/scenario") as srv:  # doctest: +SKIP
    ...     srv.collection
    'sentinel-2-l2a'
    """
    return ScenarioServer(folder, timeout=timeout)
