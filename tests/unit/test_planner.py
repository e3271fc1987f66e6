"""The planner's whole-picture rules and step order, from hand-written snapshots."""

from __future__ import annotations

import dataclasses

import pytest

from migrator.errors import InputError
from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AccountMapping,
    AuthMode,
    AwsAuth,
    ClusterRef,
    EntryAction,
    EntryType,
    FargateProfile,
    Finding,
    LookupStatus,
    Mapping,
    NodeGroup,
    PolicyAssociation,
    PrincipalLookup,
    RepairNodeEntry,
    Section,
    SetMode,
    Severity,
    Snapshot,
    SourceRef,
    Step,
    StepKind,
)
from migrator.plan.compare import plan_differences
from migrator.plan.planner import PlanOptions, build_plan, platform_version_problem
from tests.support.arns import ACCOUNT, role, user

CLUSTER = ClusterRef("prod", "us-east-1", ACCOUNT, "aws")
ADMIN = PolicyAssociation("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", AccessScope())
NODE = "system:node:{{EC2PrivateDNSName}}"


def m(section: Section, index: int, arn: str, username: str | None, *groups: str) -> Mapping:
    return Mapping(section, arn, username, groups, SourceRef(section, index, 10 + index, "aws-auth.yaml"))


def roles(*entries: tuple[str, str | None, tuple[str, ...]]) -> tuple[Mapping, ...]:
    return tuple(m(Section.MAP_ROLES, i, arn, u, *g) for i, (arn, u, g) in enumerate(entries))


def users(*entries: tuple[str, str | None, tuple[str, ...]]) -> tuple[Mapping, ...]:
    return tuple(m(Section.MAP_USERS, i, arn, u, *g) for i, (arn, u, g) in enumerate(entries))


def found_all(aws_auth: AwsAuth) -> dict[str, PrincipalLookup]:
    from migrator.rules.arn import parse_arn

    lookups = {}
    for mapping in aws_auth.mappings:
        arn = parse_arn(mapping.arn)
        lookups[arn.lookup_key] = PrincipalLookup(LookupStatus.FOUND, mapping.arn)
    return lookups


def snapshot(aws_auth: AwsAuth, **kwargs: object) -> Snapshot:
    fields: dict[str, object] = {"mode": AuthMode.CONFIG_MAP, "iam": found_all(aws_auth), "caller_arn": role("Admin")}
    fields.update(kwargs)
    return Snapshot(cluster=CLUSTER, aws_auth=aws_auth, **fields)  # type: ignore[arg-type]


SMALL = AwsAuth(
    map_roles=roles(
        (role("nodes"), NODE, ("system:bootstrappers", "system:nodes")),
        (role("Admin"), "admin", ("system:masters",)),
        (role("Dev"), "dev:{{SessionName}}", ("developers",)),
    ),
    map_users=users((user("alice"), "alice", ("viewers",))),
    sha256="abc",
    resource_version="42",
)


def mode_of(step: Step) -> str | None:
    return step.mode.value if isinstance(step, SetMode) else None


def test_small_cluster_to_api_has_the_documented_step_order() -> None:
    plan = build_plan(snapshot(SMALL), PlanOptions(target=AuthMode.API, remove_aws_auth=True))
    assert [(s.kind, mode_of(s), s.principal_arn) for s in plan.steps] == [
        (StepKind.BACKUP_AWS_AUTH, None, None),
        (StepKind.SET_MODE, "API_AND_CONFIG_MAP", None),
        (StepKind.CREATE_ENTRY, None, role("nodes")),
        (StepKind.CREATE_ENTRY, None, role("Admin")),
        (StepKind.ASSOCIATE_POLICY, None, role("Admin")),
        (StepKind.CREATE_ENTRY, None, role("Dev")),
        (StepKind.CREATE_ENTRY, None, user("alice")),
        (StepKind.VERIFY, None, None),
        (StepKind.SET_MODE, "API", None),
        (StepKind.REMOVE_AWS_AUTH, None, None),
    ]
    gates = [s for s in plan.steps if s.gate]
    assert all(s.irreversible and not plan.gate_blockers(s) for s in gates)
    assert [s.id for s in plan.steps][:3] == ["01-backup-aws-auth", "02-set-mode", "03-create-entry"]
    assert plan.findings == ()


def test_default_target_stops_before_the_api_gate() -> None:
    plan = build_plan(snapshot(SMALL), PlanOptions())
    assert [mode_of(s) for s in plan.steps if s.kind is StepKind.SET_MODE] == ["API_AND_CONFIG_MAP"]


def test_blockers_block_only_the_api_gate() -> None:
    aws_auth = dataclasses.replace(
        SMALL, map_accounts=(AccountMapping("444455556666", SourceRef(Section.MAP_ACCOUNTS, 0, 30)),)
    )
    plan = build_plan(snapshot(aws_auth), PlanOptions(target=AuthMode.API))
    gates = {mode_of(s): bool(plan.gate_blockers(s)) for s in plan.steps if s.gate}
    assert gates == {"API_AND_CONFIG_MAP": False, "API": True}
    assert [f.code for f in plan.blockers] == ["MAP_ACCOUNTS"]


def test_duplicates_in_map_roles_last_wins() -> None:
    aws_auth = AwsAuth(
        map_roles=roles(
            (role("Dev"), "first", ("a",)),
            (role("dev"), "second", ("b",)),
        )
    )
    plan = build_plan(snapshot(aws_auth), PlanOptions())
    assert [(e.action, e.spec.username) for e in plan.entries] == [
        (EntryAction.SKIP, "first"),
        (EntryAction.CREATE, "second"),
    ]
    assert [f.code for f in plan.findings] == ["DUPLICATE_ARN"]
    assert plan.findings[0].source == aws_auth.map_roles[0].source


def test_map_roles_wins_over_map_users() -> None:
    aws_auth = AwsAuth(
        map_roles=roles((user("bob"), "from-roles", ())),
        map_users=users((user("bob"), "from-users", ())),
    )
    plan = build_plan(snapshot(aws_auth), PlanOptions())
    assert [(e.action, e.spec.username) for e in plan.entries] == [
        (EntryAction.CREATE, "from-roles"),
        (EntryAction.SKIP, "from-users"),
    ]
    assert {f.code for f in plan.findings} == {"USER_IN_MAP_ROLES", "DUPLICATE_ARN"}


def test_case_only_duplicates_in_map_users_with_different_identities_are_ambiguous() -> None:
    aws_auth = AwsAuth(map_users=users((user("Bob"), "bob", ("a",)), (user("bob"), "bob", ("b",))))
    plan = build_plan(snapshot(aws_auth, iam={}), PlanOptions())
    assert all(e.action is EntryAction.SKIP for e in plan.entries)
    assert [f.code for f in plan.findings if f.severity is Severity.BLOCKER] == ["AMBIGUOUS_DUPLICATE"] * 2


def test_identical_duplicates_in_map_users_resolve_to_the_last() -> None:
    aws_auth = AwsAuth(map_users=users((user("bob"), "bob", ("a",)), (user("bob"), "bob", ("a",))))
    plan = build_plan(snapshot(aws_auth), PlanOptions())
    assert [e.action for e in plan.entries] == [EntryAction.SKIP, EntryAction.CREATE]


def test_existing_equivalent_entry_is_adopted_and_different_one_kept() -> None:
    existing = (
        AccessEntrySpec(role("Admin"), EntryType.STANDARD, "admin", (), (ADMIN,)),
        AccessEntrySpec(role("Dev"), EntryType.STANDARD, "someone-else", ("other",)),
    )
    plan = build_plan(snapshot(SMALL, mode=AuthMode.API_AND_CONFIG_MAP, entries=existing), PlanOptions())
    actions = {e.spec.principal_arn: e.action for e in plan.entries}
    assert actions[role("Admin")] is EntryAction.ADOPT
    assert actions[role("Dev")] is EntryAction.ADOPT
    dev = next(e for e in plan.entries if e.spec.principal_arn == role("Dev"))
    assert dev.spec == existing[1]  # the live identity is kept, not the dead mapping's
    shadowed = {f.principal_arn: f.severity for f in plan.findings if f.code == "SHADOWED_BY_ENTRY"}
    assert shadowed == {role("Admin"): Severity.INFO, role("Dev"): Severity.WARNING}
    assert not any(s.kind is StepKind.SET_MODE for s in plan.steps)


def test_managed_node_group_and_fargate_roles_are_adopted_from_eks_and_windows_is_repaired() -> None:
    aws_auth = AwsAuth(
        map_roles=roles(
            (role("linux-nodes"), NODE, ("system:bootstrappers", "system:nodes")),
            (role("win-nodes"), NODE, ("system:bootstrappers", "system:nodes", "eks:kube-proxy-windows")),
            (
                role("fargate"),
                "system:node:{{SessionName}}",
                ("system:bootstrappers", "system:nodes", "system:node-proxier"),
            ),
        )
    )
    snap = snapshot(
        aws_auth,
        nodegroups=(
            NodeGroup("linux", role("linux-nodes")),
            NodeGroup("win", role("win-nodes"), "WINDOWS_CORE_2022_x86_64"),
        ),
        fargate_profiles=(FargateProfile("fp", role("fargate")),),
    )
    plan = build_plan(snap, PlanOptions())
    assert [(e.spec.type, e.action) for e in plan.entries] == [
        (EntryType.EC2_LINUX, EntryAction.ADOPT),
        (EntryType.EC2_WINDOWS, EntryAction.REPAIR_NODE_TYPE),
        (EntryType.FARGATE_LINUX, EntryAction.ADOPT),
    ]
    kinds = [s.kind for s in plan.steps]
    assert kinds == [StepKind.BACKUP_AWS_AUTH, StepKind.SET_MODE, StepKind.REPAIR_NODE_ENTRY, StepKind.VERIFY]
    assert {f.code for f in plan.findings} == {"EKS_CREATES_ENTRY", "WINDOWS_NODE_ENTRY_TYPE"}


def test_unmapped_windows_node_group_with_eks_entry_is_repaired() -> None:
    existing = (AccessEntrySpec(role("win-nodes"), EntryType.EC2_LINUX),)
    snap = snapshot(
        SMALL,
        mode=AuthMode.API_AND_CONFIG_MAP,
        entries=existing,
        nodegroups=(NodeGroup("win", role("win-nodes"), "WINDOWS_FULL_2019_x86_64"),),
    )
    plan = build_plan(snap, PlanOptions())
    repairs = [s for s in plan.steps if s.kind is StepKind.REPAIR_NODE_ENTRY]
    assert [
        (s.principal_arn, s.type.value, s.current_type.value) for s in repairs if isinstance(s, RepairNodeEntry)
    ] == [(role("win-nodes"), "EC2_WINDOWS", "EC2_LINUX")]


def test_caller_without_admin_entry_is_a_lockout_blocker_for_api() -> None:
    plan = build_plan(snapshot(SMALL, caller_arn=role("Dev")), PlanOptions(target=AuthMode.API))
    assert [f.code for f in plan.blockers] == ["CALLER_LOCKOUT"]
    sts_caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/session-1"
    assert build_plan(snapshot(SMALL, caller_arn=sts_caller), PlanOptions(target=AuthMode.API)).blockers == ()


def test_a_caller_that_may_be_the_cluster_creator_is_warned_not_blocked() -> None:
    snap = snapshot(SMALL, caller_arn=role("Creator"), bootstrap_admin=True)
    plan = build_plan(snap, PlanOptions(target=AuthMode.API))
    assert [(f.code, f.severity) for f in plan.findings] == [("CALLER_LOCKOUT", Severity.WARNING)]
    assert not any(plan.gate_blockers(s) for s in plan.steps)
    in_between = snapshot(SMALL, caller_arn=role("Creator"), bootstrap_admin=True, mode=AuthMode.API_AND_CONFIG_MAP)
    assert [f.severity for f in build_plan(in_between, PlanOptions(target=AuthMode.API)).blockers] == [Severity.BLOCKER]


def test_quota() -> None:
    many = AwsAuth(map_users=users(*((user(f"u{i}"), f"u{i}", ()) for i in range(3001))))
    plan = build_plan(snapshot(many), PlanOptions())
    assert [f.code for f in plan.blockers] == ["QUOTA"]


@pytest.mark.parametrize(
    ("kubernetes", "platform", "problem"),
    [("1.28", "eks.5", True), ("1.28", "eks.6", False), ("1.22", "eks.20", True), ("1.31", "eks.1", False),
     ("1.30", "eks.1", True), (None, None, False)],
)  # fmt: skip
def test_platform_version(kubernetes: str | None, platform: str | None, problem: bool) -> None:
    assert (platform_version_problem(kubernetes, platform) is not None) is problem


def test_target_behind_current_mode_is_an_input_error() -> None:
    with pytest.raises(InputError, match="cannot go back"):
        build_plan(snapshot(SMALL, mode=AuthMode.API), PlanOptions(target=AuthMode.API_AND_CONFIG_MAP))


def test_remove_aws_auth_needs_target_api() -> None:
    with pytest.raises(InputError, match="--target API"):
        build_plan(snapshot(SMALL), PlanOptions(remove_aws_auth=True))


def test_same_input_same_plan() -> None:
    options = PlanOptions(target=AuthMode.API, created_at="2026-01-01T00:00:00Z")
    assert build_plan(snapshot(SMALL), options) == build_plan(snapshot(SMALL), options)


def test_plan_differences_name_what_an_edit_changed() -> None:
    plan = build_plan(snapshot(SMALL), PlanOptions(target=AuthMode.API))
    assert plan_differences(plan, plan) == []
    dev = next(e for e in plan.entries if e.spec.principal_arn == role("Dev"))
    widened = dataclasses.replace(dev, spec=dataclasses.replace(dev.spec, groups=("developers", "admins")))
    edited = dataclasses.replace(
        plan,
        entries=tuple(widened if e is dev else e for e in plan.entries),
        findings=(*plan.findings, Finding("MAP_ACCOUNTS", Severity.BLOCKER, "made up")),
    )
    assert plan_differences(edited, plan) == [
        f"the entry of {role('Dev')} differs in kubernetesGroups",
        "the findings differ: not planned now: MAP_ACCOUNTS",
        "step 09-set-mode differs in blocked from the one planned now (09-set-mode)",
    ]


def test_an_entry_aws_auth_no_longer_maps_is_named_by_the_plan() -> None:
    # Regression (chaos seed 10): aws-auth revoked a principal whose entry an earlier run had made; the new
    # plan said nothing, and the entry kept giving the revoked principal cluster-admin.
    admin = ADMIN
    entries = (
        AccessEntrySpec(role("Revoked"), username="revoked", policies=(admin,)),
        AccessEntrySpec(role("nodes"), EntryType.EC2_LINUX),  # EKS manages node entries: not named
        AccessEntrySpec(role("Admin"), username="admin", policies=(admin,)),  # mapped and equal: not named
    )
    plan = build_plan(snapshot(SMALL, mode=AuthMode.API_AND_CONFIG_MAP, entries=entries), PlanOptions())
    named = [(f.code, f.severity, f.principal_arn) for f in plan.findings if f.code == "UNMAPPED_ENTRY"]
    assert named == [("UNMAPPED_ENTRY", Severity.WARNING, role("Revoked"))]
