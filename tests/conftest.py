"""Shared by every test: the machine's cluster locks go to a directory of the test's own, never to the
user's `~/.local/state` (the CLI subprocesses inherit the variable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.run.lock import LOCK_DIR_ENV


@pytest.fixture(autouse=True)
def lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's cluster locks live (`AWS_AUTH_MIGRATE_LOCK_DIR`)."""
    path = tmp_path_factory.mktemp("locks") / "locks"
    monkeypatch.setenv(LOCK_DIR_ENV, str(path))
    return path
