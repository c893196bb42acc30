"""The local imagery store: every window of imagery geo read, kept for the next run.

Layout (under ``imagery/`` at the top of the repository, ``$GEO_IMAGERY_DIR``, or a
folder passed as ``store=``)::

    imagery/
      manifest.json                      # every window: item, asset, href, bounds, sha256
      manifest.journal                   # windows stored since the last flush, one a line
      windows/<item>/<asset>-<key>.tif   # the window's raw DNs, as a small GeoTIFF
      searches/<key>.json                # cached search results

A window is keyed by item id, asset key, the asset's href (without its query string, so
re-signed Planetary Computer URLs still match) and the requested bounds and CRS. It also
records the validators the server sent for the file when the window was read (ETag,
Last-Modified and total size, :class:`Validators`): a later online run asks the server
for them again (one ``HEAD`` per file, no range request, :func:`head_validators`) and
reads a window again when its file changed (:meth:`Validators.differs`). Every
file is written to a temporary name in its final folder and moved into place with
:func:`os.replace`, so a killed run leaves either the whole file or none; temporaries
of dead runs are removed when a store is opened. Item ids and asset keys never steer
paths: they are reduced to a safe alphabet and suffixed with a hash.

Each GeoTIFF also carries its metadata as tags, so the manifest can be rebuilt from the
files (:meth:`Store.rebuild_manifest`) after a crash between a file and the manifest.

Many writers, one store
-----------------------
Several runs (processes, Dask workers, threads) may share a store. The choice is file
locking plus a small append-only journal:

- One writer lock, ``.manifest.lock`` (``fcntl.flock``, exclusive), guards every change
  of the manifest, of the journal and of the set of stored files. Readers take no lock:
  every file they read was moved into place whole.
- :meth:`Store.put` writes the window to a temporary of its own process, hashes it, then
  under the lock moves it into place and appends one line (``{"key", "entry"}``) to
  ``manifest.journal``. Moves and journal lines therefore happen in the same order, so
  the last line for a key always describes the file on disk, even when two runs write
  the same key at once; nothing is listed before its file is whole.
- :meth:`Store.flush` (every 64 windows and at the end of a fetch) folds the journal into
  ``manifest.json`` under the lock: read, replay, write a temporary, :func:`os.replace`,
  empty the journal. A reader sees the manifest with the journal replayed over it.
- A long-lived :class:`Store` keeps the manifest in memory, but notices (by inode, size
  and mtime of both files) when another writer changed them and reads them again, so it
  never writes back a stale copy; every rewrite starts from the files under the lock.
- Temporaries carry host and process id; only those of dead processes on this host (or
  any over an hour old) are removed. :meth:`Store.verify` (``--repair``),
  :meth:`Store.prune`, :meth:`Store.rebuild_manifest` and cached-search writes take the
  same lock. ``flock`` needs a local file system or one that honours it (NFSv4, Lustre);
  on others, give each cluster node its own store.

Examples
--------
>>> import tempfile
>>> store = Store(tempfile.mkdtemp())
>>> store.entries()
[]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import http.client
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import rasterio
from affine import Affine

from geo import errors
from geo._gdal import rio_env
from geo._redact import redact_url
from geo.aoi import AOI_DIR

__all__ = ["ENV_VAR", "DEFAULT_ROOT", "WindowEntry", "Store", "open_store", "safe_name",
           "href_key", "Validators", "parse_validators", "head_validators", "VerifyReport",
           "PruneReport", "Problem"]

log = logging.getLogger(__name__)

ENV_VAR = "GEO_IMAGERY_DIR"
"""Environment variable naming the store folder."""

DEFAULT_ROOT = AOI_DIR.parent / "imagery"
"""The default store: ``imagery/`` at the top of the repository."""

MANIFEST = "manifest.json"
JOURNAL = "manifest.journal"
_LOCK = ".manifest.lock"
_HOST = "h" + hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
"""This host, as written into temporary names (a shared store may have several)."""
_HOST_RE = re.compile(r"h[0-9a-f]{8}")
_PARTIAL = ".partial"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_STALE_SECONDS = 3600.0
_FLUSH_EVERY = 64
_TAG_PREFIX = "GEO_"


def safe_name(text: str, *, maxlen: int = 64) -> str:
    """A file name made from arbitrary text: safe characters only, never ``.``/``..``.

    Text that had to be changed (or was long) gets a short hash of the original, so two
    different ids never share a name.

    Examples
    --------
    >>> safe_name("S2A_42SWD_20220125_0_L2A")
    'S2A_42SWD_20220125_0_L2A'
    >>> safe_name("../../etc/passwd").startswith("etc_passwd-")
    True
    """
    cleaned = _SAFE.sub("_", text).strip("._")[:maxlen]
    if cleaned == text and cleaned:
        return cleaned
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{cleaned or 'x'}-{digest}"


def href_key(href: str) -> str:
    """An href without query string or fragment (signatures change; the file does not).

    Examples
    --------
    >>> href_key("https://a.blob.core.windows.net/c/B04.tif?st=1&sig=abc")
    'https://a.blob.core.windows.net/c/B04.tif'
    """
    parts = urlsplit(href)
    if parts.scheme in ("http", "https", "s3", "gs", "az"):
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return href


@dataclass(frozen=True)
class Validators:
    """What identifies one version of a remote file: ETag, Last-Modified, total size.

    Empty strings and ``-1`` mean the server did not say.

    Examples
    --------
    >>> old = Validators(etag='"a1"', last_modified="", size=100)
    >>> old.differs(Validators(etag='"b2"', size=100)), old.differs(Validators(size=100))
    (True, False)
    """

    etag: str = ""
    last_modified: str = ""
    size: int = -1

    @property
    def known(self) -> bool:
        """Whether the server sent anything to compare."""
        return bool(self.etag or self.last_modified or self.size >= 0)

    def differs(self, now: Validators) -> bool:
        """Whether ``now`` shows a different file (only validators both sides have count)."""
        if self.etag and now.etag:
            return _strong(self.etag) != _strong(now.etag)
        if self.last_modified and now.last_modified and self.last_modified != now.last_modified:
            return True
        return self.size >= 0 and now.size >= 0 and self.size != now.size


def _strong(etag: str) -> str:
    return etag[2:] if etag.startswith("W/") else etag


def parse_validators(lines: list[str]) -> Validators:
    """Validators from HTTP response header lines (the last response that has them wins).

    The size comes from ``Content-Range: bytes a-b/SIZE`` of a range response or from
    ``Content-Length`` of a whole-file response (HEAD or 200).

    Examples
    --------
    >>> parse_validators(["HTTP/1.1 206 Partial Content", 'ETag: "x"',
    ...                   "Content-Range: bytes 0-9/1234", "Content-Length: 10"])
    Validators(etag='"x"', last_modified='', size=1234)
    """
    etag = modified = ""
    size, whole = -1, False
    for line in lines:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name.startswith("http/"):  # a status line starts the next response
            whole = name.split()[1:2] == ["200"]
        elif name == "etag" and value:
            etag = value
        elif name == "last-modified" and value:
            modified = value
        elif name == "content-range" and "/" in value and not value.endswith("*"):
            with contextlib.suppress(ValueError):
                size = int(value.rsplit("/", 1)[1])
        elif name == "content-length" and whole:
            with contextlib.suppress(ValueError):
                size = int(value)
    return Validators(etag, modified, size)


def head_validators(url: str, *, timeout: float = 15.0, attempts: int = 3) -> Validators:
    """Ask the server for a file's validators with one ``HEAD`` request (retried).

    Raises
    ------
    geo.errors.SourceUnavailable
        The server did not answer or kept failing (time-outs, resets, 5xx, 429).
    geo.errors.ReadError
        The server answered that the file cannot be had (404, 403, ...).

    Examples
    --------
    >>> head_validators("http://127.0.0.1:9/x.tif", attempts=1)  # doctest: +SKIP
    Traceback (most recent call last):
    geo.errors.SourceUnavailable: ...
    """
    last: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.25 * 2 ** (attempt - 1))
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                lines = [f"HTTP/1.1 {resp.status}"] + [f"{k}: {v}" for k, v in resp.getheaders()]
            return parse_validators(lines)
        except urllib.error.HTTPError as exc:
            last = exc
            if exc.code not in (408, 429, 500, 502, 503, 504):
                raise errors.ReadError(
                    f"{redact_url(url)} answered HTTP {exc.code} to a HEAD request: the file "
                    "is gone or not readable. Check the catalog's href."
                ) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            last = exc
    raise errors.SourceUnavailable(
        f"Could not check whether {redact_url(url)} changed ({last}); the server does not "
        "answer. Run again later, or use offline=True (--offline) to use the stored windows "
        "as they are."
    )


@dataclass
class WindowEntry:
    """One stored window: what it is, where it came from and where it lies."""

    key: str
    item_id: str
    asset: str
    href: str
    crs: str
    bounds: tuple[float, float, float, float]
    path: str
    width: int = 0
    height: int = 0
    transform: tuple[float, ...] = ()
    src_crs: str = ""
    dtype: str = ""
    nodata: float | None = None
    hist: list[int] = field(default_factory=list)
    nbytes: int = 0
    sha256: str = ""
    created: str = ""
    empty: bool = False
    etag: str = ""
    last_modified: str = ""
    file_size: int = -1

    @property
    def validators(self) -> Validators:
        """The validators of the file this window was read from."""
        return Validators(self.etag, self.last_modified, self.file_size)

    def set_validators(self, found: Validators) -> None:
        """Record the validators of the file the window is read from."""
        self.etag, self.last_modified, self.file_size = found.etag, found.last_modified, found.size

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> WindowEntry:
        names = set(cls.__dataclass_fields__)
        data = {k: v for k, v in obj.items() if k in names}
        data["bounds"] = tuple(data.get("bounds", ()))
        data["transform"] = tuple(data.get("transform", ()))
        return cls(**data)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """A folder of cached imagery windows and search results.

    Parameters
    ----------
    root
        The folder; default ``$GEO_IMAGERY_DIR`` or ``imagery/`` at the repo top.

    Examples
    --------
    >>> import tempfile
    >>> s = Store(tempfile.mkdtemp())
    >>> len(s.window_key("S2A_X", "red", "https://h/B04.tif", "EPSG:32642", (0, 0, 60, 60)))
    64
    """

    def __init__(self, root: str | Path | None = None) -> None:
        chosen = root if root is not None else os.environ.get(ENV_VAR) or DEFAULT_ROOT
        self.root = Path(chosen).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise errors.StoreError(
                f"Imagery store {self.root} is a file, not a folder; pass store= a folder "
                f"or set {ENV_VAR}."
            )
        self._lock = threading.Lock()
        self._manifest: dict[str, dict[str, Any]] | None = None
        self._stamp: tuple[Any, ...] | None = None
        self._pending: dict[str, dict[str, Any]] = {}
        self._journaled = 0
        self._cleaned = False

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # --- paths -------------------------------------------------------------------

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise errors.UnsafeHref(f"Store path {path} would lie outside the store {self.root}.")
        return resolved

    def window_key(
        self, item_id: str, asset: str, href: str, crs: str,
        bounds: tuple[float, float, float, float],
    ) -> str:
        """The key of a window: a hash of item, asset, href (no query), CRS and bounds."""
        ident = {"item": item_id, "asset": asset, "href": href_key(href), "crs": crs,
                 "bounds": [round(float(b), 3) for b in bounds]}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def window_path(self, item_id: str, asset: str, key: str) -> Path:
        """Where a window's GeoTIFF lives (inside the store, whatever the id says)."""
        path = self.root / "windows" / safe_name(item_id) / f"{safe_name(asset, maxlen=24)}-{key[:16]}.tif"
        return self._inside(path)

    def _entry_path(self, key: str, listed: dict[str, Any]) -> Path:
        """The file of a manifest entry, from its ids (never from its ``path`` field)."""
        return self.window_path(str(listed.get("item_id", "")), str(listed.get("asset", "")), key)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's writer lock (``.manifest.lock``, ``flock``) for a block.

        Every change of the manifest, the journal, or the set of stored files happens
        under it; readers need no lock.

        Examples
        --------
        >>> import tempfile
        >>> with Store(tempfile.mkdtemp()).locked():
        ...     pass
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.root / _LOCK):
            yield

    # --- maintenance ---------------------------------------------------------------

    def clean_partials(self) -> list[Path]:
        """Remove temporaries left by runs that died mid-write; return what was removed.

        A temporary is kept while the process that writes it lives (same host) or, for
        a writer on another host of a shared store, until it is an hour old.
        """
        removed: list[Path] = []
        for tmp in self.partial_files():
            if not _partial_is_dead(tmp):
                continue
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
                log.info("removed partial file %s left by an interrupted run", tmp)
        return removed

    def _ensure_clean(self) -> None:
        if not self._cleaned:
            self._cleaned = True
            self.clean_partials()

    def _tmp_path(self, final: Path) -> Path:
        return final.with_name(
            f".{final.name}.{_HOST}.{os.getpid()}.{uuid.uuid4().hex[:8]}{_PARTIAL}")

    # --- manifest ------------------------------------------------------------------

    def _stamp_now(self) -> tuple[Any, ...]:
        return tuple(_file_stamp(self.root / name) for name in (MANIFEST, JOURNAL))

    def _read_manifest(self) -> dict[str, dict[str, Any]]:
        """``manifest.json`` with the journal replayed over it (no lock needed)."""
        windows = self._read_compacted()
        if windows is None:
            windows = self._scan_files(hash_files=False)
        _replay(windows, self.root / JOURNAL)
        return windows

    def _read_compacted(self) -> dict[str, dict[str, Any]] | None:
        path = self.root / MANIFEST
        if not path.is_file():
            return {}
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            log.warning("manifest %s unreadable (%s); rebuilding it from the files", path, exc)
            return None
        windows = obj.get("windows", {}) if isinstance(obj, dict) else {}
        return windows if isinstance(windows, dict) else None

    def _manifest_now(self, *, refresh: bool = False) -> dict[str, dict[str, Any]]:
        """The manifest as this process last read it; re-read when other writers changed it."""
        stamp = self._stamp_now() if refresh or self._manifest is None else self._stamp
        with self._lock:
            if self._manifest is not None and stamp == self._stamp:
                return self._manifest
        windows = self._read_manifest()
        with self._lock:
            self._manifest, self._stamp = windows, stamp
            return windows

    def _journal_locked(self, records: list[dict[str, Any]]) -> None:
        """Append records to the journal; the caller holds :meth:`locked`."""
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        fd = os.open(self.root / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def flush(self) -> None:
        """Fold the journal into ``manifest.json`` (atomically, under the writer lock).

        Windows are listed in the journal as soon as :meth:`put` stores them; this
        rewrites the manifest with them and empties the journal.
        """
        with self._lock:
            pending, self._pending = self._pending, {}
            journaled, self._journaled = self._journaled, 0
        if not pending and not journaled:
            return
        with self.locked():
            merged = self._compact_locked()
            stamp = self._stamp_now()  # under the writer lock: no other line slips in
        with self._lock:
            self._manifest, self._stamp = merged, stamp

    def _compact_locked(self, drop: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
        """Write manifest = manifest + journal - ``drop``; empty the journal. Lock held."""
        merged = self._read_manifest()
        for key in drop:
            merged.pop(key, None)
        self._write_manifest(merged)
        with contextlib.suppress(FileNotFoundError):
            os.truncate(self.root / JOURNAL, 0)
        return merged

    def _write_manifest(self, windows: dict[str, dict[str, Any]]) -> None:
        final = self.root / MANIFEST
        obj = {"format": "geo-imagery-store/1", "updated": _now(), "windows": windows}
        tmp = self._tmp_path(final)
        try:
            with open(tmp, "w", encoding="utf-8") as fh:  # streamed: no copy of it in memory
                json.dump(obj, fh, indent=1, sort_keys=True)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def rebuild_manifest(self) -> int:
        """Rebuild ``manifest.json`` from the stored files' tags; return the entry count.

        The files are hashed again, so the rebuilt entries can be verified.

        Examples
        --------
        >>> import tempfile
        >>> Store(tempfile.mkdtemp()).rebuild_manifest()
        0
        """
        if not self.root.is_dir():
            return 0
        with self.locked():
            windows = self._scan_files(hash_files=True)
            self._write_manifest(windows)
            with contextlib.suppress(FileNotFoundError):
                os.truncate(self.root / JOURNAL, 0)
            stamp = self._stamp_now()
        with self._lock:
            self._manifest, self._stamp = windows, stamp
            self._pending = {}
        return len(windows)

    def _scan_files(self, *, hash_files: bool) -> dict[str, dict[str, Any]]:
        windows: dict[str, dict[str, Any]] = {}
        for tif in sorted((self.root / "windows").rglob("*.tif")):
            entry = self._entry_from_file(tif, hash_file=hash_files)
            if entry is not None:
                windows[entry.key] = {**entry.to_json(), "path": _rel(tif, self.root)}
        return windows

    def entries(self) -> list[WindowEntry]:
        """Every window listed in the manifest and its journal (other writers' too)."""
        listed = dict(self._manifest_now(refresh=True))
        with self._lock:
            listed.update(self._pending)
        return [WindowEntry.from_json(v) for v in listed.values()]

    # --- windows -------------------------------------------------------------------

    def get(self, key: str, item_id: str, asset: str) -> WindowEntry | None:
        """The stored window with this key, or None (missing or unreadable)."""
        path = self.window_path(item_id, asset, key)
        if not path.is_file():
            return None
        with self._lock:
            listed = self._pending.get(key)
        listed = (listed or self._manifest_now().get(key)
                  or self._manifest_now(refresh=True).get(key))
        if listed is not None:
            entry = WindowEntry.from_json(listed)
            entry.path = str(path)
            return entry
        return self._adopt(key, path)

    def _adopt(self, key: str, path: Path) -> WindowEntry | None:
        """List a file that no entry names (its writer died before listing it)."""
        with self.locked():
            listed = self._read_manifest().get(key)
            if listed is not None:
                entry = WindowEntry.from_json(listed)
                entry.path = str(path)
                return entry
            found = self._entry_from_file(path, hash_file=True)
            if found is None or found.key != key:
                return None
            record = {**found.to_json(), "path": _rel(path, self.root)}
            self._journal_locked([{"key": key, "entry": record}])
        with self._lock:
            self._pending[key] = record
        return found

    def put(
        self, entry: WindowEntry, data: np.ndarray, *, transform: Affine, crs: Any,
        nodata: float | None,
    ) -> WindowEntry:
        """Write a window's pixels atomically and record it; return the final entry.

        The file is written to a temporary of this process, then moved into place and
        listed in the journal under the writer lock, so the last entry listed for a key
        always describes the file on disk, whoever else writes the same key.
        """
        self._ensure_clean()
        final = self.window_path(entry.item_id, entry.asset, entry.key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp_path(final)
        _describe(entry, data, transform=transform, crs=crs, nodata=nodata)
        try:
            _write_tif(tmp, data, transform=transform, crs=crs, nodata=nodata,
                       tags=_entry_tags(entry))
            _fsync(tmp)
            entry.sha256, entry.nbytes = _hash_file(tmp)
            record = {**entry.to_json(), "path": _rel(final, self.root)}
            with self.locked():
                os.replace(tmp, final)
                self._journal_locked([{"key": entry.key, "entry": record}])
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if isinstance(exc, OSError) and not isinstance(exc, errors.GeoError):
                raise self._write_error(entry, exc) from exc
            raise
        entry.path = str(final)
        with self._lock:
            self._pending[entry.key] = record
            self._journaled += 1
            due = self._journaled >= _FLUSH_EVERY
        if due:
            self.flush()
        return entry

    def _write_error(self, entry: WindowEntry, exc: OSError) -> errors.StoreError:
        return errors.StoreError(
            f"Cannot write {entry.asset} of item {entry.item_id} into the imagery "
            f"store {self.root}: {exc.strerror or exc}. Free some space or make the "
            f"folder writable, or point --store / {ENV_VAR} elsewhere; windows "
            "already stored are kept."
        )

    def _entry_from_file(self, path: Path, *, hash_file: bool = False) -> WindowEntry | None:
        try:
            with rio_env(), rasterio.open(path) as src:
                tags = src.tags()
        except rasterio.errors.RasterioIOError as exc:
            log.warning("stored window %s is unreadable (%s); it will be read again", path, exc)
            return None
        raw = tags.get(_TAG_PREFIX + "ENTRY")
        if raw is None:
            return None
        try:
            entry = WindowEntry.from_json(json.loads(raw))
        except (json.JSONDecodeError, TypeError):
            return None
        entry.path = str(path)
        if hash_file:
            entry.sha256, entry.nbytes = _hash_file(path)
        return entry

    # --- verify and prune ------------------------------------------------------------

    def verify(self, *, repair: bool = False) -> VerifyReport:
        """Hash every stored window again and compare it with its manifest entry.

        Parameters
        ----------
        repair
            Remove the corrupt files and their entries (atomically, under the writer
            lock), so the next run reads those windows again.

        Returns
        -------
        VerifyReport
            Every problem found: ``missing`` (no file), ``truncated`` (shorter than
            listed), ``corrupt`` (sha256 differs) or ``unreadable`` (not a GeoTIFF).

        Examples
        --------
        >>> import tempfile
        >>> report = Store(tempfile.mkdtemp()).verify()
        >>> report.checked, report.ok
        (0, True)
        """
        windows = self._manifest_now(refresh=True)
        problems = [p for key, listed in sorted(windows.items())
                    if (p := self._check(key, listed)) is not None]
        report = VerifyReport(self.root, len(windows), problems)
        if repair and problems:
            report.repaired = self._repair(problems)
        return report

    def _check(self, key: str, listed: dict[str, Any]) -> Problem | None:
        path = self._entry_path(key, listed)
        problem = _check_file(path, listed)
        if problem is None:
            return None
        kind, detail = problem
        return Problem(key, str(listed.get("item_id", "")), str(listed.get("asset", "")),
                       path, kind, detail)

    def _repair(self, problems: list[Problem]) -> list[Problem]:
        """Remove what is still corrupt (another writer may have replaced it meanwhile)."""
        done: list[Problem] = []
        with self.locked():
            windows = self._read_manifest()
            for problem in problems:
                listed = windows.get(problem.key)
                if listed is None or _check_file(problem.path, listed) is None:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    problem.path.unlink()  # the file first: an unlisted file is never trusted
                done.append(problem)
            merged = self._compact_locked(drop=[p.key for p in done])
            stamp = self._stamp_now()
        with self._lock:
            self._manifest, self._stamp = merged, stamp
            for p in done:
                self._pending.pop(p.key, None)
        for p in done:
            log.info("removed corrupt window %s (%s)", p.path, p.kind)
        return done

    def prune(self, *, older_than: float | None = None, dry_run: bool = False) -> PruneReport:
        """Remove what no manifest entry names, and entries older than an age.

        Parameters
        ----------
        older_than
            Age in days: entries whose ``created`` is older (and their files), and
            cached searches older, are removed. ``None`` keeps every entry.
        dry_run
            Only report what would be removed.

        Returns
        -------
        PruneReport
            Orphan files (no entry names them), partial files of dead runs, old
            entries, old or unreadable cached searches, and the bytes they hold.

        Examples
        --------
        >>> import tempfile
        >>> Store(tempfile.mkdtemp()).prune(older_than=30).removed
        0
        """
        cutoff = None if older_than is None else _cutoff(older_than)
        report = PruneReport(self.root, dry_run=dry_run)
        if not self.root.is_dir():
            return report
        with self.locked():
            windows = self._read_manifest()
            report.old_entries = _old_keys(windows, cutoff)
            old = set(report.old_entries)
            report.old_files = sorted(p for k in old if (p := self._entry_path(k, windows[k])).exists())
            keep = {self._entry_path(k, v) for k, v in windows.items() if k not in old}
            report.orphans, report.partials = self._strays(keep | set(report.old_files))
            report.searches = self._old_searches(cutoff)
            report.sizes = {p: _size(p) for p in report.paths}
            if not dry_run:
                self._remove_locked(report)
        if not dry_run:
            with self._lock:
                self._manifest, self._stamp = None, None
                for key in report.old_entries:
                    self._pending.pop(key, None)
        return report

    def _strays(self, listed: set[Path]) -> tuple[list[Path], list[Path]]:
        """Files under ``windows/`` no entry names, and partial files of dead runs."""
        orphans, partials = [], []
        folder = self.root / "windows"
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if not path.is_file() or path in listed:
                continue
            if path.name.endswith(_PARTIAL):
                if _partial_is_dead(path):
                    partials.append(path)
            else:
                orphans.append(path)
        partials += [p for p in sorted(self.root.glob(f"*{_PARTIAL}")) if _partial_is_dead(p)]
        return orphans, partials

    def _old_searches(self, cutoff: dt.datetime | None) -> list[Path]:
        folder = self.root / "searches"
        found = []
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            if path.name.endswith(_PARTIAL):
                if _partial_is_dead(path):
                    found.append(path)
                continue
            created = _created_of(path)
            if created is None or (cutoff is not None and created < cutoff):
                found.append(path)
        return found

    def _remove_locked(self, report: PruneReport) -> None:
        for path in report.paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if report.old_entries or (self.root / MANIFEST).exists():
            self._compact_locked(drop=report.old_entries)
        _remove_empty_dirs(self.root / "windows")

    # --- search cache ----------------------------------------------------------------

    def search_path(self, key: str) -> Path:
        return self._inside(self.root / "searches" / f"{safe_name(key)}.json")

    def get_search(self, key: str) -> dict[str, Any] | None:
        """A cached search result ({"query", "created", "items"}) or None."""
        path = self.search_path(key)
        if not path.is_file():
            return None
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return obj if isinstance(obj, dict) else None

    def put_search(self, key: str, query: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """Cache a search result atomically (hrefs are stored without query strings)."""
        self._ensure_clean()
        final = self.search_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        clean = [_strip_signatures(i) for i in items]
        obj = {"query": query, "created": _now(), "items": clean}
        tmp = self._tmp_path(final)
        try:
            tmp.write_text(json.dumps(obj), encoding="utf-8")
            with self.locked():  # so a prune never removes a search cached meanwhile
                os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def partial_files(self) -> list[Path]:
        """Temporary files present in the store (none after a clean run)."""
        return sorted(self.root.rglob(f"*{_PARTIAL}")) if self.root.is_dir() else []


def open_store(store: Store | str | Path | None) -> Store:
    """A :class:`Store` from a Store, a folder path, or None (the default store).

    Examples
    --------
    >>> import tempfile
    >>> isinstance(open_store(tempfile.mkdtemp()), Store)
    True
    """
    return store if isinstance(store, Store) else Store(store)


@dataclass
class Problem:
    """One stored window that failed :meth:`Store.verify`."""

    key: str
    item_id: str
    asset: str
    path: Path
    kind: str
    """``missing``, ``truncated``, ``corrupt`` (sha256 differs) or ``unreadable``."""
    detail: str


@dataclass
class VerifyReport:
    """What :meth:`Store.verify` found (and removed, with ``repair=True``).

    Examples
    --------
    >>> VerifyReport(Path("imagery"), checked=3, problems=[]).ok
    True
    """

    root: Path
    checked: int
    problems: list[Problem]
    repaired: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the store is sound now (nothing found, or everything found removed)."""
        return len(self.problems) == len(self.repaired)

    def counts(self) -> dict[str, int]:
        """Problems per kind."""
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out


@dataclass
class PruneReport:
    """What :meth:`Store.prune` removed (or, with ``dry_run=True``, would remove).

    Examples
    --------
    >>> PruneReport(Path("imagery")).removed
    0
    """

    root: Path
    dry_run: bool = False
    old_entries: list[str] = field(default_factory=list)
    old_files: list[Path] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)
    partials: list[Path] = field(default_factory=list)
    searches: list[Path] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        """Every file removed."""
        return self.old_files + self.orphans + self.partials + self.searches

    @property
    def removed(self) -> int:
        """How many files (and entries without a file) are removed."""
        return len(self.paths) + len(self.old_entries) - len(self.old_files)

    sizes: dict[Path, int] = field(default_factory=dict)
    """Bytes of each file, measured before it was removed."""

    @property
    def nbytes(self) -> int:
        """The bytes those files hold (held)."""
        return self.bytes_of(self.paths)

    def bytes_of(self, paths: Iterable[Path]) -> int:
        """The bytes some of those files hold (held)."""
        return sum(self.sizes.get(p, 0) for p in paths)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _replay(windows: dict[str, dict[str, Any]], journal: Path) -> None:
    """Apply the journal's records, in order, to ``windows``.

    A line cut short (a writer killed mid-append) is skipped: its file is found again
    from its tags (:meth:`Store.get`) or removed by :meth:`Store.prune`.
    """
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            record = json.loads(line)
            key = record["key"]
            entry = record["entry"]
        except (json.JSONDecodeError, KeyError, TypeError):
            log.debug("skipped a torn journal line in %s", journal)
            continue
        if isinstance(key, str) and isinstance(entry, dict):
            windows[key] = entry


def _hash_file(path: Path) -> tuple[str, int]:
    """The sha256 and size of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_file(path: Path, listed: dict[str, Any]) -> tuple[str, str] | None:
    """``(kind, detail)`` of what is wrong with a stored file, or None."""
    if not path.is_file():
        return "missing", "the manifest lists it but the file is gone"
    expected, nbytes = str(listed.get("sha256") or ""), int(listed.get("nbytes") or 0)
    if not expected:
        return _check_readable(path)
    sha, size = _hash_file(path)
    if sha == expected:
        return None
    if nbytes and size < nbytes:
        return "truncated", f"{size} of {nbytes} bytes"
    return "corrupt", f"sha256 {sha[:12]}... is not the listed {expected[:12]}..."


def _check_readable(path: Path) -> tuple[str, str] | None:
    """For entries without a hash (older stores): can the GeoTIFF be read whole?"""
    try:
        with rio_env(), rasterio.open(path) as src:
            src.read()
    except rasterio.errors.RasterioError as exc:
        return "unreadable", str(exc).splitlines()[0][:120]
    return None


def _partial_is_dead(path: Path) -> bool:
    """Whether a temporary file's writer is gone (or it is over an hour old)."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if age >= _STALE_SECONDS:
        return True
    host, pid = _partial_owner(path)
    if host is not None and host != _HOST:
        return False  # a writer on another host of a shared store: only age tells
    if pid is None:
        return True
    return pid != os.getpid() and not _pid_alive(pid)


def _partial_owner(path: Path) -> tuple[str | None, int | None]:
    """``(host token, pid)`` from ``.<name>.<host>.<pid>.<rand>.partial`` (host optional)."""
    parts = path.name.split(".")
    try:
        pid = int(parts[-3])
    except (IndexError, ValueError):
        return None, None
    host = parts[-4] if len(parts) >= 5 and _HOST_RE.fullmatch(parts[-4]) else None
    return host, pid


def _cutoff(days: float) -> dt.datetime:
    if days < 0:
        raise errors.StoreError(f"older_than={days} days is negative; give an age of 0 or more days.")
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def _parse_time(text: Any) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _old_keys(windows: dict[str, dict[str, Any]], cutoff: dt.datetime | None) -> list[str]:
    """Keys of entries created before ``cutoff`` (entries without a date count as old)."""
    if cutoff is None:
        return []
    old = []
    for key, listed in windows.items():
        created = _parse_time(listed.get("created", ""))
        if created is None or created < cutoff:
            old.append(key)
    return sorted(old)


def _created_of(path: Path) -> dt.datetime | None:
    """When a cached search was made; None for an unreadable file."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return _parse_time(obj.get("created", "")) if isinstance(obj, dict) else None


def _remove_empty_dirs(folder: Path) -> None:
    if not folder.is_dir():
        return
    for sub in sorted(folder.iterdir()):
        if sub.is_dir():
            with contextlib.suppress(OSError):
                sub.rmdir()  # only succeeds when empty


def _describe(entry: WindowEntry, data: np.ndarray, *, transform: Affine, crs: Any,
              nodata: float | None) -> None:
    entry.width, entry.height = int(data.shape[-1]), int(data.shape[-2])
    entry.transform = tuple(transform)[:6]
    entry.src_crs = str(crs)
    entry.dtype = str(data.dtype)
    entry.nodata = nodata
    entry.created = _now()


def _rel(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root).as_posix()


def _entry_tags(entry: WindowEntry) -> dict[str, str]:
    data = entry.to_json()
    data["href"] = redact_url(data["href"])
    return {_TAG_PREFIX + "ENTRY": json.dumps(data)}


def _write_tif(
    path: Path, data: np.ndarray, *, transform: Affine, crs: Any, nodata: float | None,
    tags: dict[str, str],
) -> None:
    arr = data if data.ndim == 3 else data[np.newaxis]
    count, height, width = arr.shape
    profile: dict[str, Any] = {
        "driver": "GTiff", "width": width, "height": height, "count": count,
        "dtype": arr.dtype, "crs": crs, "transform": transform, "nodata": nodata,
        "compress": "zstd", "zstd_level": 1, "predictor": 2 if arr.dtype.kind in "ui" else 1,
    }
    if width >= 256 and height >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rio_env(), rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
        dst.update_tags(**tags)


def _strip_signatures(item: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(item))
    for asset in out.get("assets", {}).values():
        if "href" in asset:
            asset["href"] = href_key(asset["href"])
    return out


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
