"""Root pytest configuration: how the library's docstring examples are collected.

Examples that need the internet or a long build are marked ``+SKIP`` in the docstrings
(they show a user what to type, they cannot run here). A docstring made only of such
examples is not a test at all: it is deselected rather than reported as a skipped test.
"""

from __future__ import annotations

import doctest

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from _pytest.doctest import DoctestItem

    illustrations = [
        item for item in items
        if isinstance(item, DoctestItem) and item.dtest is not None and item.dtest.examples
        and all(ex.options.get(doctest.SKIP) for ex in item.dtest.examples)
    ]
    if illustrations:
        config.hook.pytest_deselected(items=illustrations)
        items[:] = [item for item in items if item not in illustrations]
