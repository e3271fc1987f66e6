"""Start-up stays light: `--help`, `version` and an offline plan import none of the heavy edge libraries
(boto3/botocore, kubernetes, moto/werkzeug), which only a live command needs. Checked on the module list
`python -X importtime` prints, never on a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import EXAMPLES, REPO, inherited_env

HEAVY = frozenset({"boto3", "botocore", "s3transfer", "kubernetes", "moto", "werkzeug"})


def imported(*args: str, cwd: Path) -> set[str]:
    """The top-level packages a CLI run imports, from `-X importtime`'s report on stderr."""
    env = {**inherited_env(), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "migrator", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    modules = {line.rsplit("|", 1)[-1].strip() for line in lines[1:]}  # the first line is the header
    assert "migrator" in modules  # the report was read
    return {module.split(".")[0] for module in modules}


@pytest.mark.parametrize("args", [("--help",), ("version",), ("plan", "--help")])
def test_help_and_version_import_no_aws_kubernetes_or_sandbox_library(args: tuple[str, ...], tmp_path: Path) -> None:
    assert imported(*args, cwd=tmp_path) & HEAVY == set()


def test_an_offline_plan_imports_no_aws_kubernetes_or_sandbox_library(tmp_path: Path) -> None:
    out = tmp_path / "prod.plan.yaml"
    args = ("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"))
    assert imported(*args, "--out", str(out), cwd=tmp_path) & HEAVY == set()
    assert out.exists()
    assert imported(*args, "--output", "json", "--out", str(tmp_path / "json.plan.yaml"), cwd=tmp_path) & HEAVY == set()


def test_showing_a_plan_imports_no_aws_kubernetes_or_sandbox_library(tmp_path: Path) -> None:
    out = tmp_path / "prod.plan.yaml"
    args = ("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"))
    imported(*args, "--out", str(out), cwd=tmp_path)
    assert imported("show", str(out), cwd=tmp_path) & HEAVY == set()
