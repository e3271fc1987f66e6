"""Live planning through the real CLI against the sandbox, compared with offline plans of the same aws-auth."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from migrator.sandbox.scenario import load_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import EXAMPLES, run_cli
from tests.integration.conftest import SandboxFactory

pytestmark = pytest.mark.integration

OTHER_ACCOUNT_READER = "444455556666=arn:aws:iam::444455556666:role/aws-auth-migrate-iam-reader"


def cli(sandbox: Sandbox, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args, cwd=cwd, env=sandbox.env())
    assert "Traceback" not in result.stderr, result.stderr
    return result


def plan_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def entries(plan: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            e["principalArn"],
            e["type"],
            e["username"],
            tuple(e["kubernetesGroups"]),
            json.dumps(e["policies"]),
            e["action"],
        )
        for e in plan["entries"]
    ]


def test_live_plan_equals_offline_plan_where_nothing_live_changes_the_answer(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    # RBAC is live-only (the review finds the small scenario's groups bound to nothing): left out here.
    live = plan_json(
        cli(sandbox, tmp_path, "plan", "--cluster", "team", "--region", "eu-west-1", "--no-rbac", "-o", "json")
    )
    reviewed = plan_json(cli(sandbox, tmp_path, "plan", "--cluster", "team", "--region", "eu-west-1", "-o", "json"))
    assert {f["code"] for f in reviewed["findings"]} == {"GROUP_UNBOUND"}
    assert entries(reviewed) == entries(live)
    offline = plan_json(
        run_cli(
            "plan", "--cluster", "team", "--region", "eu-west-1", "--offline", "-o", "json",
            "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"), cwd=tmp_path,
        )
    )  # fmt: skip
    assert entries(live) == entries(offline)
    assert [s["kind"] for s in live["steps"]] == [s["kind"] for s in offline["steps"]]
    assert live["fingerprint"]["awsAuthSha256"] == offline["fingerprint"]["awsAuthSha256"]
    assert live["fingerprint"]["offline"] is False
    assert live["callerArn"] == "arn:aws:sts::111122223333:assumed-role/ClusterAdmin/aws-auth-migrate"
    assert {f["code"] for f in offline["findings"]} == {"PATH_UNRESOLVED"}
    assert live["findings"] == []


def test_live_plan_resolves_paths_adopts_eks_entries_and_repairs_windows(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-large.yaml"))
    live = plan_json(
        cli(sandbox, tmp_path, "plan", "--cluster", "demo", "--target", "API", "--iam-role", OTHER_ACCOUNT_READER,
            "-o", "json")
    )  # fmt: skip
    offline = plan_json(
        run_cli("plan", "--cluster", "demo", "--offline", "--target", "API", "-o", "json",
                "--aws-auth-file", str(EXAMPLES / "aws-auth-large.yaml"), cwd=tmp_path)
    )  # fmt: skip
    by_source = {(e["source"]["section"], e["source"]["index"]): e for e in live["entries"]}
    offline_by_source = {(e["source"]["section"], e["source"]["index"]): e for e in offline["entries"]}
    assert by_source.keys() == offline_by_source.keys()

    sso_admin = by_source[("mapRoles", 7)]
    assert sso_admin["principalArn"] == (
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PlatformAdmin_0123456789abcdef"
    )
    assert offline_by_source[("mapRoles", 7)]["principalArn"].endswith(
        ":role/AWSReservedSSO_PlatformAdmin_0123456789abcdef"
    )
    assert by_source[("mapRoles", 12)]["principalArn"].endswith(":role/teams/sre/sre-oncall")
    actions = {e["principalArn"].rsplit("/", 1)[-1]: e["action"] for e in live["entries"]}
    assert actions["eks-platform-prod-general-node-role"] == "adopt"  # EKS creates it at the switch
    assert actions["eks-platform-prod-fargate-pod-execution-role"] == "adopt"
    assert actions["eks-platform-prod-windows-node-role"] == "repair-node-type"  # EKS makes it EC2_LINUX: repaired
    assert actions["KarpenterNodeRole-platform-prod"] == "create"  # not a managed node group
    assert actions["eks-platform-prod-gpu-node-role"] == "skip"  # IAM has no such role
    assert all(offline_by_source[k]["action"] == "create" for k in offline_by_source)
    codes = {f["code"] for f in live["findings"]}
    assert {"EKS_CREATES_ENTRY", "WINDOWS_NODE_ENTRY_TYPE", "PRINCIPAL_NOT_FOUND", "SSO_ROLE"} <= codes
    assert "PATH_UNRESOLVED" not in codes  # the other account's paths were read through --iam-role
    assert not [f for f in live["findings"] if f["severity"] == "blocker"]
    assert [s["kind"] for s in live["steps"]][:3] == ["backup-aws-auth", "set-mode", "repair-node-entry"]


def test_existing_entries_are_adopted_or_kept(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    scenario_text = (
        (EXAMPLES / "scenario-small.yaml")
        .read_text()
        .replace(
            "authenticationMode: CONFIG_MAP",
            "authenticationMode: API_AND_CONFIG_MAP\n"
            "    accessEntries:\n"
            "      - {principalArn: 'arn:aws:iam::111122223333:role/Developer', username: 'someone-else',"
            " kubernetesGroups: [other]}\n"
            "      - principalArn: 'arn:aws:iam::111122223333:role/ClusterAdmin'\n"
            "        username: 'cluster-admin:{{SessionName}}'\n"
            "        policies: [{policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy'}]\n",
        )
    )
    scenario_file = EXAMPLES / "scenario-small.yaml"
    from migrator.sandbox.scenario import parse_scenario

    sandbox = make_sandbox(parse_scenario(scenario_text, "inline.yaml", base_dir=scenario_file.parent))
    live = plan_json(cli(sandbox, tmp_path, "plan", "--cluster", "team", "--region", "eu-west-1", "-o", "json"))
    actions = {e["principalArn"].rsplit("/", 1)[-1]: (e["action"], e["username"]) for e in live["entries"]}
    assert actions["Developer"] == ("adopt", "someone-else")  # the live identity is kept, not the dead mapping's
    assert actions["ClusterAdmin"][0] == "adopt"
    assert actions["maria"][0] == "create"
    shadowed = {
        f["principalArn"].rsplit("/", 1)[-1]: f["severity"]
        for f in live["findings"]
        if f["code"] == "SHADOWED_BY_ENTRY"
    }
    assert shadowed == {"Developer": "warning", "ClusterAdmin": "info"}
    assert "set-mode" not in [s["kind"] for s in live["steps"]]


def test_sandbox_export_round_trips(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    original = make_sandbox(load_scenario(EXAMPLES / "scenario-large.yaml"))
    args = ("plan", "--cluster", "demo", "--target", "API", "--iam-role", OTHER_ACCOUNT_READER, "-o", "json")
    before = plan_json(cli(original, tmp_path, *args))
    exported = tmp_path / "rehearsal.yaml"
    result = cli(original, tmp_path, "sandbox", "export", "--cluster", "demo", "--out", str(exported),
                 "--iam-role", OTHER_ACCOUNT_READER)  # fmt: skip
    assert result.returncode == 0, result.stderr
    replay = make_sandbox(load_scenario(exported))
    after = plan_json(cli(replay, tmp_path, *args))
    assert entries(after) == entries(before)
    assert [(f["code"], f["principalArn"]) for f in after["findings"]] == [
        (f["code"], f["principalArn"]) for f in before["findings"]
    ]
    assert after["steps"] == before["steps"]


def test_kube_context_from_the_sandbox_kubeconfig_plans_the_same(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    base = ("plan", "--cluster", "team", "--region", "eu-west-1", "-o", "json", "--created-at", "2026-01-01T00:00:00Z")
    through_eks = plan_json(cli(sandbox, tmp_path, *base))
    through_kubeconfig = plan_json(cli(sandbox, tmp_path, *base, "--kube-context", "team"))
    assert through_kubeconfig == through_eks
    wrong = cli(sandbox, tmp_path, *base, "--kube-context", "no-such-context")
    assert wrong.returncode == 2
    assert "no-such-context" in wrong.stderr
