"""CLI tests run the real entry point in a subprocess: exit codes, stdout/stderr split, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from migrator.run.lock import LOCK_DIR_ENV

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "plans" / "examples"


def inherited_env() -> dict[str, str]:
    """This process's environment without AWS settings and kubeconfig, keeping the test's lock directory."""
    return {
        k: v for k, v in os.environ.items() if (not k.startswith("AWS_") or k == LOCK_DIR_ENV) and k != "KUBECONFIG"
    }


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = inherited_env()
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "migrator", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, cwd=tmp_path, env=env)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return invoke
