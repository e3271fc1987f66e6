"""The CI examples stay in step with the CLI: valid YAML, every option they pass is a batch option, their state
lives in S3 through --state (never copied around by a sync step), and each states the state bucket's settings."""

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


CI_EXAMPLES = ["github-actions-fleet.yml", "gitlab-ci-fleet.yml", "kubernetes-indexed-job.yml"]


@pytest.mark.parametrize("name", CI_EXAMPLES)
def test_a_ci_example_is_yaml_and_passes_only_options_the_batch_commands_have(name: str) -> None:
    text = (EXAMPLES / name).read_text()
    assert all(yaml.safe_load_all(text))
    options = _batch_options()
    commands = re.findall(r"aws-auth-migrate batch ([a-z]+)", text)
    assert {"plan", "apply", "report"} <= set(commands)
    known = set().union(*(options[c] for c in commands))
    used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))
    assert used <= known, f"{name} passes options no batch command has: {sorted(used - known)}"
    assert "--shard" in used and "--approve-gate" in used


@pytest.mark.parametrize("name", CI_EXAMPLES)
def test_a_ci_example_keeps_its_state_in_s3_and_says_how_the_bucket_must_be_set_up(name: str) -> None:
    text = (EXAMPLES / name).read_text()
    assert not re.search(r"aws s3 (sync|cp)|download-artifact|after_script", text)  # nothing carries state by hand
    assert "AWS_AUTH_MIGRATE_STATE" in text and re.search(r"s3://[^\n]+/fleet\b", text)  # --state from the env
    # the shard reports are merged from the state, by their s3:// URLs (keys of this run: never a stale one)
    assert "batch report --merge" in text and "/reports/" in text
    for setting in ("VersioningConfiguration: {Status: Enabled}", "SSEAlgorithm", "BlockPublicAcls: true",
                    "IgnorePublicAcls: true", "BlockPublicPolicy: true", "RestrictPublicBuckets: true",
                    "BucketOwnerEnforced"):  # fmt: skip
        assert setting in text, f"{name} does not state the bucket's {setting}"


def test_the_indexed_job_runs_one_shard_per_completion_index() -> None:
    *_, job = yaml.safe_load_all((EXAMPLES / "kubernetes-indexed-job.yml").read_text())
    spec = job["spec"]
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    assert spec["completions"] == int(env["SHARDS"]) and 1 <= spec["parallelism"] <= spec["completions"]
    assert pod["serviceAccountName"] and pod["restartPolicy"] == "Never"
    script = container["args"][0]
    # `$$` is Kubernetes' escape for `$`: the shell computes the shard 1..N from the index 0..N-1
    assert 'shard="$$((JOB_COMPLETION_INDEX + 1))/$SHARDS"' in script
    assert '--shard "$shard"' in script and env["AWS_AUTH_MIGRATE_STATE"].startswith("s3://")
