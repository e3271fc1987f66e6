"""Which partition a plan is for, and what becomes of principals of another partition (hand-written)."""

from __future__ import annotations

import dataclasses

from migrator.model import AuthMode, AwsAuth, EntryAction, Mapping, Plan, Section, Severity, SourceRef
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import infer_partition, offline_snapshot
from migrator.rules.permissions import cluster_arn

CN_ADMIN_POLICY = "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE = "system:node:{{EC2PrivateDNSName}}"
NODE_GROUPS = ("system:bootstrappers", "system:nodes")


def _mapping(index: int, arn: str, username: str, groups: tuple[str, ...]) -> Mapping:
    return Mapping(Section.MAP_ROLES, arn, username, groups, SourceRef(Section.MAP_ROLES, index))


def _aws_auth(*mappings: tuple[str, str, tuple[str, ...]]) -> AwsAuth:
    return AwsAuth(map_roles=tuple(_mapping(i, *m) for i, m in enumerate(mappings)))


CHINA = _aws_auth(
    ("arn:aws-cn:iam::111122223333:role/NodeRole", NODE, NODE_GROUPS),
    ("arn:aws-cn:iam::111122223333:role/Admin", "admin", ("system:masters",)),
)


def _plan(aws_auth: AwsAuth, region: str | None) -> Plan:
    snapshot = offline_snapshot(aws_auth, cluster="prod", region=region, account=None)
    return build_plan(snapshot, PlanOptions(target=AuthMode.API))


def _blocked(plan: Plan, code: str) -> list[str]:
    return sorted(f.principal_arn or "" for f in plan.findings if f.code == code and f.severity is Severity.BLOCKER)


def test_a_china_aws_auth_without_region_plans_for_aws_cn() -> None:
    plan = _plan(CHINA, None)
    assert (plan.cluster.region, plan.cluster.partition, plan.cluster.account) == (None, "aws-cn", "111122223333")
    admin = next(e for e in plan.entries if e.spec.principal_arn.endswith("role/Admin"))
    assert [p.policy_arn for p in admin.spec.policies] == [CN_ADMIN_POLICY]
    assert [f.code for f in plan.findings if f.code.startswith("PARTITION")] == ["PARTITION_INFERRED"]
    assert cluster_arn(plan.cluster) == "arn:aws-cn:eks:*:111122223333:cluster/prod"


def test_a_china_aws_auth_with_a_china_region_needs_no_inference() -> None:
    plan = _plan(CHINA, "cn-northwest-1")
    assert (plan.cluster.region, plan.cluster.partition) == ("cn-northwest-1", "aws-cn")
    assert not [f for f in plan.findings if f.code.startswith("PARTITION")]
    assert cluster_arn(plan.cluster) == "arn:aws-cn:eks:cn-northwest-1:111122223333:cluster/prod"


def test_a_region_of_another_partition_blocks_every_principal() -> None:
    plan = _plan(CHINA, "eu-west-1")
    assert plan.cluster.partition == "aws"
    assert _blocked(plan, "PARTITION_MISMATCH") == [
        "arn:aws-cn:iam::111122223333:role/Admin",
        "arn:aws-cn:iam::111122223333:role/NodeRole",
    ]
    assert all(e.action is EntryAction.SKIP for e in plan.entries)


def test_a_mix_without_region_follows_the_node_role_and_blocks_the_others() -> None:
    mixed = _aws_auth(
        ("arn:aws:iam::444455556666:role/A", "a", ("devs",)),
        ("arn:aws:iam::444455556666:role/B", "b", ("devs",)),
        ("arn:aws-us-gov:iam::111122223333:role/NodeRole", NODE, NODE_GROUPS),
    )
    assert infer_partition(mixed) == "aws-us-gov"
    plan = _plan(mixed, None)
    assert (plan.cluster.partition, plan.cluster.account) == ("aws-us-gov", "111122223333")
    assert _blocked(plan, "PARTITION_MISMATCH") == [
        "arn:aws:iam::444455556666:role/A",
        "arn:aws:iam::444455556666:role/B",
    ]


def test_a_mix_without_node_roles_follows_the_majority() -> None:
    mixed = _aws_auth(
        ("arn:aws-eusc:iam::111122223333:role/A", "a", ("devs",)),
        ("arn:aws:iam::111122223333:role/B", "b", ("devs",)),
        ("arn:aws-eusc:iam::111122223333:role/C", "c", ("system:masters",)),
    )
    plan = _plan(mixed, None)
    assert plan.cluster.partition == "aws-eusc"
    assert _blocked(plan, "PARTITION_MISMATCH") == ["arn:aws:iam::111122223333:role/B"]
    admin = next(e for e in plan.entries if e.spec.principal_arn.endswith("role/C"))
    assert [p.policy_arn for p in admin.spec.policies] == [
        "arn:aws-eusc:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    ]


def test_a_live_cluster_blocks_a_principal_of_another_partition() -> None:
    snapshot = offline_snapshot(
        _aws_auth(
            ("arn:aws:iam::111122223333:role/Admin", "admin", ("system:masters",)),
            ("arn:aws-cn:iam::111122223333:role/Stray", "stray", ("devs",)),
        ),
        cluster="prod",
        region="us-east-1",
        account=None,
    )
    plan = build_plan(dataclasses.replace(snapshot, offline=False), PlanOptions())
    assert _blocked(plan, "PARTITION_MISMATCH") == ["arn:aws-cn:iam::111122223333:role/Stray"]
    assert not [f for f in plan.findings if f.code == "PARTITION_INFERRED"]


def test_an_empty_aws_auth_with_an_account_defaults_to_aws() -> None:
    snapshot = offline_snapshot(AwsAuth(), cluster="prod", region=None, account="111122223333")
    assert (snapshot.cluster.partition, snapshot.cluster.region) == ("aws", None)
