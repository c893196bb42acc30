"""Shared test fixtures.

Real-world fixtures are read from ../shared/fixtures/real (beside the clone). On a
user's fresh clone that folder does not exist: those tests skip and say why. CI sets
``GEO_REQUIRE_SHARED=1``, which turns their absence into a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GEO_SHARED_DIR", ROOT.parent / "shared")) / "fixtures" / "real"

pytest_plugins = ["geo.testing.scenario"]


@pytest.fixture(scope="session")
def real_fixtures() -> Path:
    """Folder of real public STAC items, API pages and rasters (see its PROVENANCE.md)."""
    if not SHARED.is_dir():
        msg = (
            f"real fixtures not found at {SHARED}: they live in the project's shared/ "
            "folder beside the clone (set GEO_SHARED_DIR to point elsewhere)"
        )
        if os.environ.get("GEO_REQUIRE_SHARED") == "1":
            pytest.fail(msg + "; GEO_REQUIRE_SHARED=1 makes this a failure")
        pytest.skip(msg)
    return SHARED
