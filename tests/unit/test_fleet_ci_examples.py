"""The CI examples stay in step with the CLI: valid YAML, and every option they pass is a batch option."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from migrator.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"


def _batch_options() -> dict[str, set[str]]:
    root: Any = typer.main.get_command(app)
    batch: Any = root.commands["batch"]
    return {name: {o for p in command.params for o in p.opts} for name, command in batch.commands.items()}


@pytest.mark.parametrize("name", ["github-actions-fleet.yml", "gitlab-ci-fleet.yml"])
def test_a_ci_example_is_yaml_and_passes_only_options_the_batch_commands_have(name: str) -> None:
    text = (EXAMPLES / name).read_text()
    assert yaml.safe_load(text)
    options = _batch_options()
    commands = re.findall(r"aws-auth-migrate batch ([a-z]+)", text)
    assert {"plan", "apply", "report"} <= set(commands)
    known = set().union(*(options[c] for c in commands))
    used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))
    assert used <= known, f"{name} passes options no batch command has: {sorted(used - known)}"
    assert "--shard" in used and "--approve-gate" in used
