"""pytest fixtures shared by the whole suite (registered by tests/conftest.py).

The scenario fixtures (a small synthetic archive, and loopback servers over it) are
defined in :mod:`geo.testing.scenario` and re-exported here.
"""

from __future__ import annotations

from geo.testing.scenario import *  # noqa: F403
