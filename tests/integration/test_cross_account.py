"""Principals of other accounts, through the real CLI against the sandbox: one account the runner cannot read
IAM in (no --iam-role), one read through `--iam-role`. A plan of such a cluster applies to the unchanged
cluster (apply plans again first, and must get the same plan), and verify finds every identity kept."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from migrator.sandbox.scenario import Scenario, parse_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import run_cli
from tests.integration.conftest import SandboxFactory, client
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT, role, user
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml

pytestmark = pytest.mark.integration

UNREAD = "777788889999"  # nobody gives the runner IAM access here
READER = role("aws-auth-migrate-iam-reader", OTHER_ACCOUNT)
IAM_ROLE = ("--iam-role", f"{OTHER_ACCOUNT}={READER}")
ADMIN = role("ClusterAdmin")
VERIFY = (*IAM_ROLE, "--creator", ADMIN)  # EKS does not say who created a cluster
BOTH_GATES = ("--yes", "--approve-gate", "API_AND_CONFIG_MAP", "--approve-gate", "API", "--poll-seconds", "0.1")

COLLECTOR = role("teams/obs/collector", OTHER_ACCOUNT)  # mapped without its path
AUDIT_SSO = role("aws-reserved/sso.amazonaws.com/AWSReservedSSO_Audit_0123456789abcdef", OTHER_ACCOUNT)
OPS_USER = user("ops/bob", OTHER_ACCOUNT)
CI = role("shared-ci", UNREAD)
CAROL = user("carol", UNREAD)


def _mapping(arn: str, username: str, groups: str) -> str:
    return f"- rolearn: {arn}\n  username: {username}\n  groups: {groups}\n"


def cross_account_text(extra_roles: str = "", extra_iam: tuple[str, ...] = ()) -> str:
    map_roles = (
        _mapping(ADMIN, "admin:{{SessionName}}", "[system:masters]")
        + _mapping(role("nodes"), "system:node:{{EC2PrivateDNSName}}", "[system:bootstrappers, system:nodes]")
        + _mapping(role("collector", OTHER_ACCOUNT), "collector:{{SessionName}}", "[observers]")
        + _mapping(role("AWSReservedSSO_Audit_0123456789abcdef", OTHER_ACCOUNT), "audit:{{SessionName}}", "[view]")
        + _mapping(CI, "ci:{{SessionName}}", "[deployers]")
        + extra_roles
    )
    map_users = (
        f"- userarn: {OPS_USER}\n  username: bob\n  groups: [ops]\n"
        f"- userarn: {CAROL}\n  username: carol\n  groups: [ops]\n"
    )
    clusters = (
        f'  - name: shared\n    region: us-east-1\n    account: "{ACCOUNT}"\n    version: "1.31"\n'
        f"    authenticationMode: CONFIG_MAP\n    creator: {ADMIN}\n"
        f"    nodegroups: [{{name: ng, nodeRole: '{role('nodes')}'}}]\n"
        f"    awsAuth: |\n{indent(aws_auth_config_map(map_roles, map_users), 6)}"
    )
    roles = [ADMIN, role("nodes"), READER, COLLECTOR, AUDIT_SSO, CI, *extra_iam]
    return scenario_yaml(clusters, roles=roles, users=[OPS_USER, CAROL], caller=ADMIN, simulation="updateSeconds: 0.2")


def cross_account(extra_roles: str = "", extra_iam: tuple[str, ...] = ()) -> Scenario:
    return parse_scenario(cross_account_text(extra_roles, extra_iam), "cross-account.yaml")


def cli(sandbox: Sandbox, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args, cwd=cwd, env=sandbox.env())
    assert "Traceback" not in result.stderr, result.stderr
    return result


def make_plan(sandbox: Sandbox, cwd: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    path = cwd / "plans" / "shared" / "cross.plan.yaml"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    result = cli(sandbox, cwd, "plan", "--cluster", "shared", "--target", "API", "--out", str(path), *extra)
    assert result.returncode == 0, result.stderr
    shown = cli(sandbox, cwd, "show", str(path), "-o", "json")
    assert shown.returncode == 0, shown.stderr
    plan: dict[str, Any] = json.loads(shown.stdout)
    return path, plan


def findings(plan: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(f["code"], f["principalArn"]) for f in plan["findings"]}


def live_entry_arns(sandbox: Sandbox) -> set[str]:
    eks = client(sandbox)
    return {arn for page in eks.get_paginator("list_access_entries").paginate(clusterName="shared")
            for arn in page["accessEntries"]}  # fmt: skip


def test_unreadable_and_iam_role_accounts_plan_apply_and_verify_on_the_unchanged_cluster(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(cross_account())
    plan_file, plan = make_plan(sandbox, tmp_path, *IAM_ROLE)
    unresolved = {arn for code, arn in findings(plan) if code == "PATH_UNRESOLVED"}
    assert unresolved == {CI}  # the unreadable account's role; users carry their path in aws-auth
    assert ("SSO_ROLE", role("AWSReservedSSO_Audit_0123456789abcdef", OTHER_ACCOUNT)) in findings(plan)
    assert not [f for f in plan["findings"] if f["severity"] == "blocker"]

    applied = cli(sandbox, tmp_path, "apply", str(plan_file), *BOTH_GATES)  # apply has no --iam-role here
    assert applied.returncode == 0, applied.stderr
    assert "API" in cli(sandbox, tmp_path, "status", str(plan_file)).stdout
    assert {COLLECTOR, AUDIT_SSO, OPS_USER, CI, CAROL} <= live_entry_arns(sandbox)

    verified = cli(sandbox, tmp_path, "verify", "--cluster", "shared", *VERIFY, "-o", "json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    verdicts = {v["principal"]: v["category"] for v in json.loads(verified.stdout)["principals"]}
    for arn in (COLLECTOR, AUDIT_SSO, OPS_USER, CI, CAROL):
        assert verdicts[arn] == "equivalent", verdicts
    assert verdicts[ADMIN] == "eks-made"  # the creator, mapped: EKS's entry for it is kept (cluster-admin)


def test_a_blocked_principal_of_an_iam_role_account_stops_at_the_api_gate_not_as_stale(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # Found through --iam-role (under a path), blocked (a system: group): no entry records its path in the plan.
    monitor = role("teams/obs/monitor", OTHER_ACCOUNT)
    sandbox = make_sandbox(
        cross_account(_mapping(role("monitor", OTHER_ACCOUNT), "monitor", "[system:monitoring]"), (monitor,))
    )
    plan_file, plan = make_plan(sandbox, tmp_path, *IAM_ROLE)
    assert ("SYSTEM_GROUP", role("monitor", OTHER_ACCOUNT)) in findings(plan)
    assert ("PATH_UNRESOLVED", role("monitor", OTHER_ACCOUNT)) not in findings(plan)

    applied = cli(sandbox, tmp_path, "apply", str(plan_file), *BOTH_GATES)
    assert applied.returncode == 4, applied.stderr  # the blocker keeps the API gate shut; nothing is stale
    assert "SYSTEM_GROUP" in applied.stderr
    assert client(sandbox).describe_cluster(name="shared")["cluster"]["accessConfig"]["authenticationMode"] == (
        "API_AND_CONFIG_MAP"
    )
    verified = cli(sandbox, tmp_path, "verify", "--cluster", "shared", *VERIFY)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_principal_iam_said_does_not_exist_is_not_taken_on_the_plan_s_word(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # IAM (read through --iam-role) has no role `gone`: the plan skips its mapping as dead. Apply cannot read that
    # account unless given --iam-role too; a plan that says so must not make a principal lose access on its word.
    gone = role("gone", OTHER_ACCOUNT)
    sandbox = make_sandbox(cross_account(_mapping(gone, "gone", "[ops]")))
    plan_file, plan = make_plan(sandbox, tmp_path, *IAM_ROLE)
    assert ("PRINCIPAL_NOT_FOUND", gone) in findings(plan)

    refused = cli(sandbox, tmp_path, "apply", str(plan_file), *BOTH_GATES)
    assert refused.returncode == 3, refused.stderr
    assert gone in refused.stderr
    assert f"--iam-role {OTHER_ACCOUNT}=" in refused.stderr  # what to do about it
    assert client(sandbox).describe_cluster(name="shared")["cluster"]["accessConfig"]["authenticationMode"] == (
        "CONFIG_MAP"
    )

    applied = cli(sandbox, tmp_path, "apply", str(plan_file), *BOTH_GATES, *IAM_ROLE)
    assert applied.returncode == 0, applied.stderr
    assert gone not in live_entry_arns(sandbox)


def test_sandbox_demo_rehearses_a_cross_account_cluster_with_a_mapped_creator(tmp_path: Path) -> None:
    # `sandbox demo FILE` replays what the property test prints: it passes --iam-role to apply as to plan (else a
    # principal the plan found missing in that account is refused, exit 3), and the mapped creator, whose
    # bootstrap identity EKS replaces at the switch with an admin entry of its own, counts as kept while admin.
    gone = role("gone", OTHER_ACCOUNT)
    scenario_file = tmp_path / "cross.yaml"
    scenario_file.write_text(cross_account_text(_mapping(gone, "gone", "[ops]")))
    result = run_cli("sandbox", "demo", str(scenario_file), "--workdir", str(tmp_path / "demo"), cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    assert "admin (EKS)" in result.stdout  # the creator's row says why it is not byte for byte the same
