"""The local imagery store: every window of imagery geo read, kept for the next run.

Layout (under ``imagery/`` at the top of the repository, ``$GEO_IMAGERY_DIR``, or a
folder passed as ``store=``)::

    imagery/
      manifest.json                      # every window: item, asset, href, bounds, sha256
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
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
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
           "href_key", "Validators", "parse_validators", "head_validators"]

log = logging.getLogger(__name__)

ENV_VAR = "GEO_IMAGERY_DIR"
"""Environment variable naming the store folder."""

DEFAULT_ROOT = AOI_DIR.parent / "imagery"
"""The default store: ``imagery/`` at the top of the repository."""

MANIFEST = "manifest.json"
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
        except (OSError, ValueError) as exc:
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
        self._pending: dict[str, dict[str, Any]] = {}
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

    # --- maintenance ---------------------------------------------------------------

    def clean_partials(self) -> list[Path]:
        """Remove temporaries left by runs that died mid-write; return what was removed."""
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for tmp in self.root.rglob(f"*{_PARTIAL}"):
            pid = _partial_pid(tmp)
            try:
                age = time.time() - tmp.stat().st_mtime
            except FileNotFoundError:
                continue
            if pid == os.getpid() and age < _STALE_SECONDS:
                continue
            if pid is not None and pid != os.getpid() and _pid_alive(pid) and age < _STALE_SECONDS:
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
        return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{_PARTIAL}")

    # --- manifest ------------------------------------------------------------------

    def _read_manifest(self) -> dict[str, dict[str, Any]]:
        path = self.root / MANIFEST
        if not path.is_file():
            return {}
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("manifest %s unreadable (%s); rebuilding it from the files", path, exc)
            return {}
        windows = obj.get("windows", {}) if isinstance(obj, dict) else {}
        return windows if isinstance(windows, dict) else {}

    def _manifest_now(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._manifest is None:
                self._manifest = self._read_manifest()
            return self._manifest

    def flush(self) -> None:
        """Merge windows written by this process into ``manifest.json`` (atomically)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.root / ".manifest.lock"):
            merged = self._read_manifest()
            merged.update(pending)
            self._write_manifest(merged)
        with self._lock:
            self._manifest = merged

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

        Examples
        --------
        >>> import tempfile
        >>> Store(tempfile.mkdtemp()).rebuild_manifest()
        0
        """
        windows: dict[str, dict[str, Any]] = {}
        for tif in sorted((self.root / "windows").rglob("*.tif")):
            entry = self._entry_from_file(tif)
            if entry is not None:
                windows[entry.key] = entry.to_json()
        if self.root.is_dir():
            with _file_lock(self.root / ".manifest.lock"):
                self._write_manifest(windows)
        with self._lock:
            self._manifest = windows
        return len(windows)

    def entries(self) -> list[WindowEntry]:
        """Every window listed in the manifest (and not yet flushed)."""
        listed = dict(self._manifest_now())
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
        listed = listed or self._manifest_now().get(key)
        if listed is not None:
            entry = WindowEntry.from_json(listed)
            entry.path = str(path)
            return entry
        found = self._entry_from_file(path)
        if found is not None:
            with self._lock:
                self._pending[key] = found.to_json()
        return found

    def put(
        self, entry: WindowEntry, data: np.ndarray, *, transform: Affine, crs: Any,
        nodata: float | None,
    ) -> WindowEntry:
        """Write a window's pixels atomically and record it; return the final entry."""
        self._ensure_clean()
        final = self.window_path(entry.item_id, entry.asset, entry.key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp_path(final)
        entry.width, entry.height = int(data.shape[-1]), int(data.shape[-2])
        entry.transform = tuple(transform)[:6]
        entry.src_crs = str(crs)
        entry.dtype = str(data.dtype)
        entry.nodata = nodata
        entry.created = _now()
        try:
            _write_tif(tmp, data, transform=transform, crs=crs, nodata=nodata,
                       tags=_entry_tags(entry))
            _fsync(tmp)
            entry.sha256 = hashlib.sha256(tmp.read_bytes()).hexdigest()
            entry.nbytes = tmp.stat().st_size
            os.replace(tmp, final)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if isinstance(exc, OSError) and not isinstance(exc, errors.GeoError):
                raise errors.StoreError(
                    f"Cannot write {entry.asset} of item {entry.item_id} into the imagery "
                    f"store {self.root}: {exc.strerror or exc}. Free some space or make the "
                    f"folder writable, or point --store / {ENV_VAR} elsewhere; windows "
                    "already stored are kept."
                ) from exc
            raise
        entry.path = str(final)
        with self._lock:
            self._pending[entry.key] = {**entry.to_json(), "path": _rel(final, self.root)}
            due = len(self._pending) >= _FLUSH_EVERY
        if due:
            self.flush()
        return entry

    def _entry_from_file(self, path: Path) -> WindowEntry | None:
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
        return entry

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
        except (OSError, json.JSONDecodeError):
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
        tmp.write_text(json.dumps(obj), encoding="utf-8")
        os.replace(tmp, final)

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


def _rel(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root).as_posix()


def _partial_pid(path: Path) -> int | None:
    parts = path.name.split(".")
    # .<name>.<pid>.<rand>.partial
    try:
        return int(parts[-3])
    except (IndexError, ValueError):
        return None


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
