"""`plan --prefer-access-policies / --accept-narrowing` refuse what cannot work before anything is read: exit 2,
no AWS call."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli.conftest import EXAMPLES
from tests.cli.test_usage_cli import Cli, aws_env, listener, nobody_called  # noqa: F401
from tests.support.rbac import cluster_binding, live_objects

OFFLINE = ("--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--accept-narrowing",), "--accept-narrowing goes with --prefer-access-policies"),
        (("--prefer-access-policies", *OFFLINE), "needs the cluster's RBAC"),
        (("--rbac-file", "rbac.yaml"), "--rbac-file is for --offline plans"),
        (("--prefer-access-policies", "--no-rbac"), "needs the cluster's RBAC"),
    ],
)
def test_conversions_without_rbac_are_bad_input_and_call_nothing(
    cli: Cli,
    listener: socket.socket,  # noqa: F811
    args: tuple[str, ...],
    said: str,
) -> None:
    result = cli("plan", "--cluster", "prod", *args, env=aws_env(listener))
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert nobody_called(listener)


def test_an_offline_plan_has_no_rbac_review(cli: Cli, listener: socket.socket) -> None:  # noqa: F811
    result = cli("plan", "--cluster", "prod", *OFFLINE, "-o", "json", env=aws_env(listener))
    assert result.returncode == 0, result.stderr
    assert '"rbacReview"' not in result.stdout


def test_an_offline_plan_reviews_an_rbac_export_and_converts_from_it(
    cli: Cli,
    listener: socket.socket,  # noqa: F811
    tmp_path: Path,
) -> None:
    objects = live_objects(cluster_binding("app-developers-view", "view", ("Group", "app-developers")))
    export = tmp_path / "rbac.json"
    export.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    result = cli(
        "plan", "--cluster", "prod", *OFFLINE, "--rbac-file", str(export), "--prefer-access-policies",
        "-o", "json", env=aws_env(listener),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["rbacReview"] == {"preferAccessPolicies": True, "acceptNarrowing": False}
    converted = [e for e in plan["entries"] if e.get("conversions")]
    assert [c["group"] for e in converted for c in e["conversions"]] == ["app-developers"]
    assert nobody_called(listener)


def test_a_bad_rbac_export_is_bad_input(cli: Cli, listener: socket.socket, tmp_path: Path) -> None:  # noqa: F811
    export = tmp_path / "rbac.yaml"
    export.write_text("apiVersion: v1\nkind: List\nitems:\n- {kind: ConfigMap, metadata: {name: x}}\n")
    result = cli("plan", "--cluster", "prod", *OFFLINE, "--rbac-file", str(export), env=aws_env(listener))
    assert result.returncode == 2, result.stderr
    assert "items[0] is a 'ConfigMap'" in result.stderr
