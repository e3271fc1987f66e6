"""`show --iam-policy` through the real CLI: text (IAM JSON, `---`, Role YAML) and JSON output."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from tests.cli.conftest import EXAMPLES

Cli = Callable[..., subprocess.CompletedProcess[str]]


def plan_file(cli: Cli, tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "p.plan.yaml"
    args = ("plan", "--cluster", "team", "--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"))
    assert cli(*args, "--out", str(path), *extra).returncode == 0
    return path


def test_text_output_is_the_iam_policy_then_the_role(cli: Cli, tmp_path: Path) -> None:
    result = cli("show", str(plan_file(cli, tmp_path, "--target", "API", "--remove-aws-auth")), "--iam-policy")
    assert result.returncode == 0, result.stderr
    policy_text, role_text = result.stdout.split("\n---\n")
    policy = json.loads(policy_text)
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert {"Sid", "Effect", "Action", "Resource"} <= set(statement)
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action) for action in statement["Action"])
    role = YAML(typ="safe", pure=True).load(role_text)
    assert role["kind"] == "Role" and "delete" in role["rules"][0]["verbs"]
    assert list(YAML(typ="safe", pure=True).load_all(result.stdout)) == [policy, role]  # one valid YAML stream


def test_json_output_is_one_object(cli: Cli, tmp_path: Path) -> None:
    result = cli("show", str(plan_file(cli, tmp_path)), "--iam-policy", "-o", "json")
    assert result.returncode == 0, result.stderr
    both = json.loads(result.stdout)
    assert set(both) == {"iamPolicy", "kubernetesRole"}
    assert "eks:UpdateClusterConfig" in json.dumps(both["iamPolicy"])
    assert both["kubernetesRole"]["rules"][0]["verbs"] == ["get"]


def test_help_explains_the_option(cli: Cli) -> None:
    result = cli("show", "--help")
    assert "--iam-policy" in result.stdout and "least-privilege" in result.stdout
