"""pytest fixtures over the synthetic scenario: a small archive and servers over it.

``scenario_dir`` builds the small profile once per session and caches it under the
system temp folder, keyed by the hash of the scenario's source code, so later sessions
reuse it (a changed generator gives a new key). ``scenario_server`` serves it with
``rustac serve`` and a range-request file server on loopback.

Examples
--------
In a test module (the fixtures are registered for the whole suite)::

    def test_search(scenario_server):
        client = pystac_client.Client.open(scenario_server.stac_url)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["scenario_dir", "scenario_server", "scenario_cache_key", "small_scenario"]

SEED = 0


def scenario_cache_key(seed: int = SEED, profile: str = "small") -> str:
    """A key that changes whenever the scenario's code (or seed/profile) changes."""
    import geo.aoi
    import geo.scenario

    h = hashlib.sha256(f"{seed}:{profile}".encode())
    src = Path(geo.scenario.__file__).parent
    for path in sorted(src.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    aoi = geo.aoi.AOI_DIR / "bagram.geojson"
    if aoi.exists():
        h.update(aoi.read_bytes())
    return h.hexdigest()[:16]


def small_scenario(cache: Path | None = None, *, seed: int = SEED) -> Path:
    """The small-profile Bagram scenario, built once and cached on disk.

    Examples
    --------
    >>> folder = small_scenario()  # doctest: +SKIP
    """
    from geo import errors
    from geo.scenario import build

    root = cache or Path(os.environ.get("GEO_SCENARIO_CACHE",
                                        Path(tempfile.gettempdir()) / "geo-scenario-cache"))
    out = root / f"bagram-small-{scenario_cache_key(seed)}"
    if (out / "manifest.json").is_file():
        return out
    try:
        return build("bagram", out, seed=seed, profile="small")
    except errors.OutputExists:  # another process finished it first
        if (out / "manifest.json").is_file():
            return out
        raise


@pytest.fixture(scope="session")
def scenario_dir() -> Path:
    """Folder of the small synthetic Bagram archive (built once, cached under /tmp)."""
    return small_scenario()


@pytest.fixture(scope="session")
def scenario_server(scenario_dir: Path) -> Iterator[object]:
    """A :class:`geo.scenario.ScenarioServer` over ``scenario_dir`` for the session."""
    from geo.scenario import serve

    with serve(scenario_dir) as srv:
        yield srv
