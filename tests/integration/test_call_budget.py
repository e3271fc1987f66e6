"""What apply costs in EKS calls per principal, counted by the sandbox (a count, never a time), so the
calls the speed issue removed cannot come back unnoticed. The migration itself needs one CreateAccessEntry
per principal and one AssociateAccessPolicy per policy; everything else is a safety read: the check before
a create only when the run's listing had an entry, EKS's own answers as read-backs, verify's listings (no
describe of an entry this run was answered for), and the API gate's fresh describe of every entry (with a
policy listing only for entries that hold a policy) right before the one irreversible switch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from migrator.sandbox.recorder import Call
from migrator.sandbox.scenario import parse_scenario
from tests.integration.conftest import SandboxFactory
from tests.integration.test_apply_cli import FAST, cli, make_plan

pytestmark = pytest.mark.integration

ACCOUNT = "111122223333"
PRINCIPALS = 12  # half without a policy, half with one (system:masters -> AmazonEKSClusterAdminPolicy)


def _role(i: int) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/budget-{'p' if i % 2 else 'n'}-{i:02d}"


def scenario_text() -> str:
    admin = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    mappings = "".join(
        f"          - rolearn: {_role(i)}\n            username: budget-{i}:{{{{SessionName}}}}\n"
        f"            groups: [budget{', system:masters' if i % 2 else ''}]\n"
        for i in range(PRINCIPALS)
    )
    roles = "".join(f"    - arn: {arn}\n" for arn in [*(_role(i) for i in range(PRINCIPALS)), admin])
    return (
        "schema: aws-auth-migrate/scenario/v1\nclusters:\n  - name: budget\n    region: us-east-1\n"
        f'    account: "{ACCOUNT}"\n    version: "1.31"\n    authenticationMode: CONFIG_MAP\n'
        "    awsAuth: |\n      apiVersion: v1\n      kind: ConfigMap\n"
        "      metadata: {name: aws-auth, namespace: kube-system}\n      data:\n        mapRoles: |\n"
        f"          - rolearn: {admin}\n            username: admin\n            groups: [system:masters]\n"
        f"{mappings}iam:\n  roles:\n{roles}caller: {admin}\nsimulation:\n  updateSeconds: 0.5\n"
    )


def per_principal(calls: list[Call], kind: str) -> dict[str, int]:
    """EKS calls naming each principal of one kind ("n": no policy, "p": one policy), the most any made."""
    counts: Counter[tuple[str, str]] = Counter(
        (c.principal_arn, c.operation) for c in calls if c.service == "eks" and f"/budget-{kind}-" in c.principal_arn
    )
    totals: Counter[str] = Counter()
    for (principal, _), count in counts.items():
        totals[principal] += count
    return dict(totals)


def _apply(make_sandbox: SandboxFactory, tmp_path: Path, *gates: str) -> list[Call]:
    sandbox = make_sandbox(parse_scenario(scenario_text(), "budget.yaml"))
    plan = make_plan(sandbox, tmp_path, "budget", "us-east-1", "--target", gates[-1])
    sandbox.clear_calls()
    approvals = [arg for gate in gates for arg in ("--approve-gate", gate)]
    result = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *approvals, *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = sandbox.calls()
    operations = Counter(c.operation for c in calls if c.service == "eks")
    assert operations["CreateAccessEntry"] == PRINCIPALS + 1  # and the admin's: nothing created twice
    assert operations["AssociateAccessPolicy"] == PRINCIPALS // 2 + 1
    return calls


def test_the_first_switch_makes_one_eks_call_per_principal_and_two_with_a_policy(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    calls = _apply(make_sandbox, tmp_path, "API_AND_CONFIG_MAP")
    without, with_policy = per_principal(calls, "n"), per_principal(calls, "p")
    assert len(without) == len(with_policy) == PRINCIPALS // 2
    assert max(without.values()) == 1, without  # CreateAccessEntry: verify goes by the listings and its answer
    assert max(with_policy.values()) == 2, with_policy  # and AssociateAccessPolicy


def test_through_the_api_gate_two_calls_per_principal_and_four_with_a_policy(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    calls = _apply(make_sandbox, tmp_path, "API_AND_CONFIG_MAP", "API")
    without, with_policy = per_principal(calls, "n"), per_principal(calls, "p")
    # The gate's DescribeAccessEntry, and ListAssociatedAccessPolicies for an entry that holds a policy.
    assert max(without.values()) == 2, without
    assert max(with_policy.values()) == 4, with_policy
