"""Markers by directory: everything under tests/integration/ is `integration` (a real sandbox over HTTP), so
`make test-fast` (`-m "not integration"`) can never pick up a slow test by a forgotten module marker."""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.integration)
