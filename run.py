#!/usr/bin/env python3
"""Set up geo's environment and run the main job or the test suite.

Only python3 (>= 3.11) is needed; everything else comes from PyPI into ``.venv``.

    python3 run.py demo [ARGS]   # offline Bagram review on the synthetic scenario
    python3 run.py test [ARGS]   # ruff, mypy and the whole pytest suite
    python3 run.py geo ARGS      # any geo command, e.g. `geo aoi show bagram`

The environment is rebuilt when pyproject.toml changes (a hash stamp in .venv).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("GEO_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".geo-stamp"
EXTRAS = "test,notebooks"


def _say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def _stamp() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(EXTRAS.encode())
    return digest.hexdigest()


def ensure_env() -> None:
    """Create .venv and install geo (editable) with its pinned dependencies."""
    if sys.version_info < (3, 11):  # noqa: UP036 (run.py may be started by an older python3)
        sys.exit(f"geo needs Python >= 3.11; this is {sys.version.split()[0]}")
    if STAMP.is_file() and STAMP.read_text() == _stamp() and PY.exists():
        return
    if not PY.exists():
        _say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _say("installing geo and its pinned dependencies (first run takes a few minutes)")
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[{EXTRAS}]"], check=True)
    STAMP.write_text(_stamp())


def _run(cmd: list[str]) -> int:
    _say(" ".join([Path(cmd[0]).name, *cmd[1:]]))
    return subprocess.run(cmd, cwd=ROOT, check=False).returncode


def run_tests(args: list[str]) -> int:
    """ruff, then mypy, then pytest; stop at the first that fails."""
    steps = [
        [str(BIN / "ruff"), "check", "geo", "tests", "benchmarks", "notebooks", "aoi", "run.py", "conftest.py"],
        [str(BIN / "mypy")],
        [str(PY), "-m", "pytest", *args],
    ]
    for step in steps:
        code = _run(step)
        if code != 0:
            _say(f"failed: {Path(step[0]).name} exited {code}")
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in ("demo", "test", "geo"):
        print(f"unknown command {command!r}; use demo, test or geo\n{__doc__}")
        return 2
    ensure_env()
    if command == "test":
        return run_tests(rest)
    if command == "demo":
        return _run([str(BIN / "geo"), "demo", *rest])
    return _run([str(BIN / "geo"), *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
