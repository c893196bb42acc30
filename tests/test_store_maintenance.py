"""``Store.verify`` / ``Store.prune`` and ``geo store verify|prune``: corrupted, truncated,
missing and orphaned files, old entries and old cached searches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from typer.testing import CliRunner

from geo.cli import app
from geo.store import Store, WindowEntry

BOUNDS = (0.0, 0.0, 80.0, 80.0)
runner = CliRunner()


def _put(store: Store, item: str, value: int = 7) -> WindowEntry:
    key = store.window_key(item, "red", "https://h/B04.tif", "EPSG:32642", BOUNDS)
    entry = WindowEntry(key=key, item_id=item, asset="red", href="https://h/B04.tif",
                        crs="EPSG:32642", bounds=BOUNDS, path="")
    data = np.arange(64, dtype="uint16").reshape(8, 8) + value
    return store.put(entry, data, transform=Affine(10, 0, 0, 0, -10, 80), crs="EPSG:32642",
                     nodata=0)


def _flip(path: Path, at: int = -40) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))


def _damaged(root: Path) -> dict[str, WindowEntry]:
    """Four windows: one good, one with a byte flipped, one cut short, one deleted."""
    store = Store(root)
    entries = {name: _put(store, f"item-{name}") for name in ("good", "flip", "cut", "gone")}
    store.flush()
    _flip(Path(entries["flip"].path))
    cut = Path(entries["cut"].path)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    Path(entries["gone"].path).unlink()
    return entries


def _manifest(root: Path) -> dict[str, dict[str, object]]:
    return json.loads((root / "manifest.json").read_text())["windows"]  # type: ignore[no-any-return]


def test_verify_finds_each_kind_of_damage(tmp_path: Path) -> None:
    entries = _damaged(tmp_path)
    report = Store(tmp_path).verify()
    kinds = {p.item_id: p.kind for p in report.problems}
    assert kinds == {"item-flip": "corrupt", "item-cut": "truncated", "item-gone": "missing"}
    assert report.checked == 4 and not report.ok and report.repaired == []
    assert Path(entries["flip"].path).exists()  # without repair nothing is touched
    assert len(_manifest(tmp_path)) == 4


def test_repair_removes_the_damaged_and_keeps_the_good(tmp_path: Path) -> None:
    entries = _damaged(tmp_path)
    report = Store(tmp_path).verify(repair=True)
    assert report.ok and len(report.repaired) == 3
    assert set(_manifest(tmp_path)) == {entries["good"].key}
    assert Path(entries["good"].path).is_file()
    assert not Path(entries["flip"].path).exists() and not Path(entries["cut"].path).exists()
    again = Store(tmp_path)
    assert again.verify().problems == []
    assert again.get(entries["flip"].key, "item-flip", "red") is None  # read again next run


def test_repair_spares_a_window_rewritten_since_the_check(tmp_path: Path) -> None:
    store = Store(tmp_path)
    entry = _put(store, "item-a")
    store.flush()
    _flip(Path(entry.path))
    found = store.verify()
    assert [p.kind for p in found.problems] == ["corrupt"]
    other = Store(tmp_path)  # another writer stores the window again meanwhile
    _put(other, "item-a", value=9)
    other.flush()
    assert store._repair(found.problems) == []
    assert Path(entry.path).is_file() and Store(tmp_path).verify().problems == []


def test_unhashed_entry_is_checked_by_reading_it(tmp_path: Path) -> None:
    store = Store(tmp_path)
    entry = _put(store, "item-old")
    store.flush()
    windows = _manifest(tmp_path)
    windows[entry.key]["sha256"] = ""  # as an older store wrote it
    (tmp_path / "manifest.json").write_text(json.dumps({"windows": windows}))
    assert Store(tmp_path).verify().problems == []
    Path(entry.path).write_bytes(b"II*\x00 not really a tiff")
    assert [p.kind for p in Store(tmp_path).verify().problems] == ["unreadable"]


def test_a_long_lived_store_keeps_what_other_writers_added(tmp_path: Path) -> None:
    mine, theirs = Store(tmp_path), Store(tmp_path)
    assert mine.entries() == []  # the manifest is now cached in memory
    added = _put(theirs, "item-theirs")
    theirs.flush()
    seen = mine.get(added.key, "item-theirs", "red")
    assert seen is not None and seen.sha256 == added.sha256
    _put(mine, "item-mine")
    mine.flush()
    windows = _manifest(tmp_path)
    assert windows[added.key]["sha256"] == added.sha256 and len(windows) == 2


def _untidy(root: Path) -> dict[str, Path]:
    """A store with an old entry, orphans, partial files (dead and live) and searches."""
    store = Store(root)
    fresh, old = _put(store, "item-fresh"), _put(store, "item-old")
    store.flush()
    windows = _manifest(root)
    windows[old.key]["created"] = "2001-01-01T00:00:00+00:00"
    (root / "manifest.json").write_text(json.dumps({"windows": windows}))
    folder = Path(fresh.path).parent
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    paths = {"fresh": Path(fresh.path), "old": Path(old.path),
             "orphan": folder / "red-0123456789abcdef.tif", "stray": folder / "notes.txt",
             "dead": folder / f".red-x.tif.{dead}.deadbeef.partial",
             "live": folder / f".red-y.tif.{os.getpid()}.deadbeef.partial"}
    paths["orphan"].write_bytes(paths["fresh"].read_bytes())
    for name in ("stray", "dead", "live"):
        paths[name].write_bytes(b"x" * 10)
    store.put_search("new", {"q": 1}, [])
    store.put_search("old", {"q": 2}, [])
    paths["new_search"], paths["old_search"] = store.search_path("new"), store.search_path("old")
    obj = json.loads(paths["old_search"].read_text())
    paths["old_search"].write_text(json.dumps({**obj, "created": "2001-01-01T00:00:00+00:00"}))
    paths["bad_search"] = root / "searches" / "broken.json"
    paths["bad_search"].write_text("{not json")
    return paths


def test_prune_removes_orphans_and_dead_partials_only(tmp_path: Path) -> None:
    paths = _untidy(tmp_path)
    report = Store(tmp_path).prune()
    assert report.orphans == sorted([paths["orphan"], paths["stray"]])
    assert report.partials == [paths["dead"]] and report.old_entries == []
    assert report.searches == [paths["bad_search"]]
    assert report.nbytes == sum(report.sizes.values()) > 0
    gone = {"orphan", "stray", "dead", "bad_search"}
    for name, path in paths.items():
        assert path.exists() == (name not in gone), name
    assert len(_manifest(tmp_path)) == 2


def test_prune_by_age_and_dry_run(tmp_path: Path) -> None:
    paths = _untidy(tmp_path)
    store = Store(tmp_path)
    old_key = next(k for k, v in _manifest(tmp_path).items() if v["item_id"] == "item-old")
    planned = store.prune(older_than=30, dry_run=True)
    assert planned.old_entries == [old_key] and planned.old_files == [paths["old"]]
    assert all(p.exists() for p in paths.values())  # a dry run removes nothing
    done = Store(tmp_path).prune(older_than=30)
    assert (done.old_entries, done.old_files) == (planned.old_entries, planned.old_files)
    assert not paths["old"].exists() and not paths["old_search"].exists()
    assert paths["fresh"].exists() and paths["new_search"].exists() and paths["live"].exists()
    assert old_key not in _manifest(tmp_path) and len(_manifest(tmp_path)) == 1
    assert Store(tmp_path).verify().problems == []


# --- the command line ---------------------------------------------------------------------


def test_cli_verify_exits_non_zero_until_repaired(tmp_path: Path) -> None:
    _damaged(tmp_path)
    first = runner.invoke(app, ["store", "verify", "--store", str(tmp_path)])
    assert first.exit_code == 1, first.output
    for word in ("corrupt", "truncated", "missing", "--repair"):
        assert word in first.output
    repaired = runner.invoke(app, ["store", "verify", "--store", str(tmp_path), "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert len(_manifest(tmp_path)) == 1
    clean = runner.invoke(app, ["store", "verify", "--store", str(tmp_path)])
    assert clean.exit_code == 0 and "every window matches" in clean.output


def test_cli_prune(tmp_path: Path) -> None:
    paths = _untidy(tmp_path)
    dry = runner.invoke(app, ["store", "prune", "--store", str(tmp_path), "--older-than", "30",
                              "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remove" in dry.output and "orphan files" in dry.output
    assert all(p.exists() for p in paths.values())
    done = runner.invoke(app, ["store", "prune", "--store", str(tmp_path), "--older-than", "30"])
    assert done.exit_code == 0 and "removed" in done.output
    assert not paths["orphan"].exists() and not paths["old"].exists()


@pytest.mark.parametrize("command", ["verify", "prune"])
def test_cli_refuses_a_missing_store(tmp_path: Path, command: str) -> None:
    result = runner.invoke(app, ["store", command, "--store", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no imagery store" in result.output
    assert not (tmp_path / "nowhere").exists()
