"""The runner's permissions: the per-step table (hand-written expectations read off the handlers), and the
IAM policy and Kubernetes Role a plan gets. The integration test test_permissions_cli.py holds them against
the calls a real run makes."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from migrator.awsauth import load_aws_auth_file
from migrator.model import AuthMode, Plan, StepKind
from migrator.model.steps import PLAN_STEP_KINDS
from migrator.plan.planfile import plan_to_dict
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import offline_snapshot
from migrator.rules.permissions import (
    RESOURCE_OF,
    STEP_PERMISSIONS,
    Resource,
    iam_policy,
    kube_role,
    required_permissions,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "plans" / "examples"
ACTION = re.compile(r"[a-z0-9-]+:[A-Za-z0-9]+")


def make_plan(
    target: AuthMode = AuthMode.API, remove_aws_auth: bool = True, example: str = "aws-auth-small.yaml"
) -> Plan:
    snapshot = offline_snapshot(
        load_aws_auth_file(EXAMPLES / example),
        cluster="team",
        region="eu-west-1",
        account="111122223333",
        mode=AuthMode.CONFIG_MAP,
    )
    return build_plan(
        snapshot, PlanOptions(target=target, remove_aws_auth=remove_aws_auth, created_at="2026-01-01T00:00:00Z")
    )


def without(plan: Plan, *kinds: StepKind) -> Plan:
    return dataclasses.replace(plan, steps=tuple(s for s in plan.steps if s.kind not in kinds))


def actions_of(plan: Plan) -> set[str]:
    return {a for statement in iam_policy(plan)["Statement"] for a in statement["Action"]}


# --- the table ---------------------------------------------------------------------------------------------


def test_every_step_kind_declares_its_permissions() -> None:
    # an inverse step (delete-entry, disassociate-policy, restore-aws-auth) is its plan step's `undo`
    assert set(STEP_PERMISSIONS) == set(PLAN_STEP_KINDS)
    inverses = {s.inverse().kind for s in make_plan().steps if s.inverse() is not None}  # type: ignore[union-attr]
    assert inverses and inverses <= set(StepKind) - set(PLAN_STEP_KINDS)


def test_every_declared_action_is_well_formed_and_has_a_resource_type() -> None:
    declared = {a for p in STEP_PERMISSIONS.values() for a in (*p.apply, *p.undo)}
    assert all(re.fullmatch(ACTION, a) for a in declared)
    assert declared <= set(RESOURCE_OF)


def test_set_mode_declares_the_waits_read_backs_and_the_api_gate_check() -> None:
    assert set(STEP_PERMISSIONS[StepKind.SET_MODE].apply) == {
        "eks:DescribeCluster",
        "eks:ListAccessPolicies",
        "eks:UpdateClusterConfig",
        "eks:ListUpdates",
        "eks:DescribeUpdate",
        "eks:ListAccessEntries",
        "eks:DescribeAccessEntry",
        "eks:ListAssociatedAccessPolicies",
        "sts:GetCallerIdentity",
    }
    assert STEP_PERMISSIONS[StepKind.SET_MODE].undo == ()  # kept: EKS is one way


def test_undo_deletes_entries_disassociates_policies_and_recreates_aws_auth() -> None:
    assert "eks:DeleteAccessEntry" in STEP_PERMISSIONS[StepKind.CREATE_ENTRY].undo
    assert "eks:DisassociateAccessPolicy" in STEP_PERMISSIONS[StepKind.ASSOCIATE_POLICY].undo
    assert "eks:DisassociateAccessPolicy" not in STEP_PERMISSIONS[StepKind.ASSOCIATE_POLICY].apply
    assert set(STEP_PERMISSIONS[StepKind.REMOVE_AWS_AUTH].kube_undo) == {"get", "create"}
    assert STEP_PERMISSIONS[StepKind.REPAIR_NODE_ENTRY].undo == ()


def test_the_plan_file_records_apply_and_undo_actions_per_step() -> None:
    plan = make_plan()
    create = plan_to_dict(plan)["stepKinds"][StepKind.CREATE_ENTRY.value]
    assert tuple(create["permissions"]) == (
        "eks:CreateAccessEntry",
        "eks:DeleteAccessEntry",
        "eks:DescribeAccessEntry",
        "eks:ListAssociatedAccessPolicies",
    )


# --- the policy -----------------------------------------------------------------------------------------------


def test_the_policy_is_valid_iam_json_of_the_expected_shape() -> None:
    policy = json.loads(json.dumps(iam_policy(make_plan())))
    assert set(policy) == {"Version", "Statement"} and policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids)) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
    for statement in policy["Statement"]:
        assert set(statement) - {"Condition"} == {"Sid", "Effect", "Action", "Resource"}
        assert statement["Effect"] == "Allow"
        assert statement["Action"] and all(re.fullmatch(ACTION, a) for a in statement["Action"])
        assert statement["Resource"] and all(isinstance(r, str) for r in statement["Resource"])


def test_resources_are_scoped_to_the_cluster_and_its_entries() -> None:
    by_sid = {s["Sid"]: s for s in iam_policy(make_plan())["Statement"]}
    assert by_sid["EksCluster"]["Resource"] == ["arn:aws:eks:eu-west-1:111122223333:cluster/team"]
    assert by_sid["EksAccessEntries"]["Resource"] == ["arn:aws:eks:eu-west-1:111122223333:access-entry/team/*"]
    associate = by_sid["EksAssociatePlannedAccessPolicies"]
    assert associate["Action"] == ["eks:AssociateAccessPolicy"]
    assert associate["Condition"] == {
        "ArnEquals": {"eks:policyArn": ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"]}
    }
    # Only the actions IAM cannot scope: who the caller is, and the access policies AWS offers (no cluster's).
    assert by_sid["NoResourceLevel"] == {
        "Sid": "NoResourceLevel",
        "Effect": "Allow",
        "Action": ["eks:ListAccessPolicies", "iam:ListRoles", "iam:ListUsers", "sts:GetCallerIdentity"],
        "Resource": ["*"],
    }
    star = [s["Sid"] for s in iam_policy(make_plan())["Statement"] if "*" in s["Resource"]]
    assert star == ["NoResourceLevel"]
    assert all(RESOURCE_OF[a] is Resource.ANY for a in by_sid["NoResourceLevel"]["Action"])


def test_a_partition_other_than_aws_shows_in_every_arn() -> None:
    plan = make_plan()
    plan = dataclasses.replace(plan, cluster=dataclasses.replace(plan.cluster, partition="aws-cn"))
    arns = [r for s in iam_policy(plan)["Statement"] for r in s["Resource"] if r != "*"]
    assert arns and all(r.startswith(("arn:aws-cn:eks:", "arn:aws-cn:iam::")) for r in arns)


def test_only_the_actions_of_planned_step_kinds() -> None:
    plan = make_plan()
    assert "eks:CreateAccessEntry" not in actions_of(without(plan, StepKind.CREATE_ENTRY, StepKind.ASSOCIATE_POLICY))
    assert "eks:AssociateAccessPolicy" not in actions_of(without(plan, StepKind.ASSOCIATE_POLICY))
    assert "eks:UpdateClusterConfig" not in actions_of(without(plan, StepKind.SET_MODE))
    # Before any step apply describes the cluster, lists the entries and plans the cluster again (node
    # groups, Fargate profiles, IAM paths, the caller); rollback describes the cluster.
    assert actions_of(dataclasses.replace(plan, steps=())) == {
        "eks:DescribeCluster",
        "eks:ListAccessEntries",
        "eks:ListAccessPolicies",
        "eks:DescribeAccessEntry",
        "eks:ListAssociatedAccessPolicies",
        "eks:ListNodegroups",
        "eks:DescribeNodegroup",
        "eks:ListFargateProfiles",
        "eks:DescribeFargateProfile",
        "iam:GetRole",
        "iam:GetUser",
        "iam:ListRoles",
        "iam:ListUsers",
        "sts:GetCallerIdentity",
    }


def test_rollback_actions_are_declared_apart_from_apply() -> None:
    required = required_permissions(make_plan())
    assert "eks:DisassociateAccessPolicy" in required.rollback
    assert "eks:DisassociateAccessPolicy" not in required.steps | required.preflight


# --- the Role ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remove_aws_auth", "named_verbs", "create"),
    [(False, ["get"], False), (True, ["delete", "get"], True)],
)
def test_the_role_reads_aws_auth_and_deletes_or_recreates_it_only_when_planned(
    remove_aws_auth: bool, named_verbs: list[str], create: bool
) -> None:
    role = kube_role(make_plan(remove_aws_auth=remove_aws_auth))
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "kube-system"
    named, *others = [rule for rule in role["rules"] if rule["resources"] == ["configmaps"]]
    assert named == {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["aws-auth"],
        "verbs": named_verbs,
    }
    assert others == ([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}] if create else [])
    assert not any("update" in rule["verbs"] for rule in [named, *others])


def test_the_role_lets_the_runner_take_renew_and_release_its_lease_only() -> None:
    leases = [rule for rule in kube_role(make_plan())["rules"] if rule["resources"] == ["leases"]]
    assert leases == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["aws-auth-migrate"],
            "verbs": ["delete", "get", "update"],
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
