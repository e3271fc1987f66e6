"""Shared by every test.

- The machine's cluster locks go to a directory of the test's own, never to the user's `~/.local/state` (the
  CLI subprocesses inherit the variable).
- Markers by directory: everything under tests/integration/ is `integration` (a real sandbox over HTTP), so
  `make test-fast` (`-m "not integration"`) can never pick up a slow test by a forgotten module marker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.run.lock import LOCK_DIR_ENV

INTEGRATION = Path(__file__).parent / "integration"


@pytest.fixture(autouse=True)
def lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's cluster locks live (`AWS_AUTH_MIGRATE_LOCK_DIR`)."""
    path = tmp_path_factory.mktemp("locks") / "locks"
    monkeypatch.setenv(LOCK_DIR_ENV, str(path))
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.integration)
