"""Every translation rule of eks-facts.md section 5, each with its expected entry written by hand."""

from __future__ import annotations

import pytest

from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    ClusterRef,
    EntryType,
    LookupStatus,
    Mapping,
    PolicyAssociation,
    PrincipalLookup,
    Section,
    Severity,
    SourceRef,
)
from migrator.plan.translate import TranslationContext, translate
from migrator.rules.findings import RULES
from tests.support.arns import ACCOUNT, role, user
from tests.support.arns import OTHER_ACCOUNT as OTHER

CLUSTER = ClusterRef("prod", "us-east-1", ACCOUNT, "aws")
ADMIN_POLICY = PolicyAssociation("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", AccessScope())
NODE = "system:node:{{EC2PrivateDNSName}}"
FARGATE = "system:node:{{SessionName}}"


def mapping(
    arn: str,
    username: str | None = None,
    groups: tuple[str, ...] = (),
    section: Section = Section.MAP_ROLES,
    unknown_keys: tuple[str, ...] = (),
    sso: bool = False,
) -> Mapping:
    return Mapping(section, arn, username, groups, SourceRef(section, 0, 7, "aws-auth.yaml"), unknown_keys, sso)


def context(iam: dict[str, PrincipalLookup] | None = None, **kwargs: object) -> TranslationContext:
    return TranslationContext(cluster=CLUSTER, iam=iam or {}, offline=True, **kwargs)  # type: ignore[arg-type]


def found(arn: str, path_arn: str) -> dict[str, PrincipalLookup]:
    from migrator.rules.arn import parse_arn

    return {parse_arn(arn).lookup_key: PrincipalLookup(LookupStatus.FOUND, path_arn)}


# (mapping, context, expected entry or None, expected finding codes)
CASES = [
    pytest.param(
        mapping(role("eks-nodes"), NODE, ("system:bootstrappers", "system:nodes")),
        context(),
        AccessEntrySpec(role("eks-nodes"), EntryType.EC2_LINUX),
        {"PATH_UNRESOLVED"},
        id="linux-node",
    ),
    pytest.param(
        mapping(role("eks-nodes"), NODE, ("system:nodes",)),
        context(),
        AccessEntrySpec(role("eks-nodes"), EntryType.EC2_LINUX),
        {"PATH_UNRESOLVED"},
        id="linux-node-without-bootstrappers",
    ),
    pytest.param(
        mapping(role("win-nodes"), NODE, ("system:bootstrappers", "system:nodes", "eks:kube-proxy-windows")),
        context(),
        AccessEntrySpec(role("win-nodes"), EntryType.EC2_WINDOWS),
        {"PATH_UNRESOLVED"},
        id="windows-node",
    ),
    pytest.param(
        mapping(role("fargate"), FARGATE, ("system:bootstrappers", "system:nodes", "system:node-proxier")),
        context(),
        AccessEntrySpec(role("fargate"), EntryType.FARGATE_LINUX),
        {"PATH_UNRESOLVED"},
        id="fargate",
    ),
    pytest.param(
        mapping(role("hybrid"), FARGATE, ("system:bootstrappers", "system:nodes")),
        context(uses_hybrid_nodes=True),
        AccessEntrySpec(role("hybrid"), EntryType.HYBRID_LINUX),
        {"PATH_UNRESOLVED"},
        id="hybrid-node",
    ),
    pytest.param(
        mapping(role("fargate"), FARGATE, ("system:bootstrappers", "system:nodes")),
        context(),
        None,
        {"PATH_UNRESOLVED", "NODE_MISSING_GROUPS"},
        id="fargate-without-node-proxier-would-widen",
    ),
    pytest.param(
        mapping(role("eks-nodes"), NODE, ("system:bootstrappers", "system:nodes", "monitoring")),
        context(),
        None,
        {"PATH_UNRESOLVED", "NODE_EXTRA_GROUPS"},
        id="node-extra-group",
    ),
    pytest.param(
        mapping(role("eks-nodes", OTHER), NODE, ("system:bootstrappers", "system:nodes")),
        context(),
        None,
        {"PATH_UNRESOLVED", "CROSS_ACCOUNT_NODE"},
        id="cross-account-node",
    ),
    pytest.param(
        mapping(role("Admin"), "admin", ("system:masters", "platform-team")),
        context(),
        AccessEntrySpec(role("Admin"), EntryType.STANDARD, "admin", ("platform-team",), (ADMIN_POLICY,)),
        {"PATH_UNRESOLVED"},
        id="masters-keeps-other-groups",
    ),
    pytest.param(
        mapping(role("Dev"), "dev:{{SessionName}}", ("developers",)),
        context(),
        AccessEntrySpec(role("Dev"), EntryType.STANDARD, "dev:{{SessionName}}", ("developers",)),
        {"PATH_UNRESOLVED"},
        id="standard-with-session-template",
    ),
    pytest.param(
        mapping(role("Mon"), "mon", ("system:monitoring",)),
        context(),
        None,
        {"PATH_UNRESOLVED", "SYSTEM_GROUP"},
        id="system-group",
    ),
    pytest.param(
        mapping(role("Team"), "team", ("team-{{SessionName}}",)),
        context(),
        None,
        {"PATH_UNRESOLVED", "TEMPLATED_GROUP"},
        id="templated-group",
    ),
    pytest.param(
        mapping(role("Ops"), "eks:ops", ("ops",)),
        context(),
        None,
        {"PATH_UNRESOLVED", "RESERVED_USERNAME"},
        id="reserved-username",
    ),
    pytest.param(
        mapping(role("Ops"), "{{SessionName}}", ("ops",)),
        context(),
        None,
        {"PATH_UNRESOLVED", "SESSION_TEMPLATE_COLON"},
        id="session-template-without-colon",
    ),
    pytest.param(
        mapping(role("Ops"), "ops-{{AccessKeyID}}", ("ops",)),
        context(),
        None,
        {"PATH_UNRESOLVED", "UNSUPPORTED_TEMPLATE"},
        id="access-key-template",
    ),
    pytest.param(
        mapping(role("Ops"), "ops:{{EC2PrivateDNSName}}", ("ops",)),
        context(),
        None,
        {"PATH_UNRESOLVED", "UNSUPPORTED_TEMPLATE"},
        id="ec2-dns-template-in-standard",
    ),
    pytest.param(
        mapping(role("CI"), "ci:{{AccountID}}:{{SessionName}}", ("ci",)),
        context(),
        AccessEntrySpec(role("CI"), EntryType.STANDARD, f"ci:{ACCOUNT}:{{{{SessionName}}}}", ("ci",)),
        {"PATH_UNRESOLVED", "ACCOUNT_ID_TEMPLATE"},
        id="account-id-template-rendered",
    ),
    pytest.param(
        mapping(role("Viewer"), None, ("viewers",)),
        context(),
        AccessEntrySpec(role("Viewer"), EntryType.STANDARD, None, ("viewers",)),
        {"PATH_UNRESOLVED", "EMPTY_USERNAME"},
        id="no-username-gets-eks-default",
    ),
    pytest.param(
        mapping(role("teams/dev/Dev"), "dev", ("developers",)),
        context(),
        None,
        {"DEAD_ROLE_PATH"},
        id="rolearn-with-path-is-dead",
    ),
    pytest.param(
        mapping(f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/alice", "dev", ("developers",)),
        context(),
        None,
        {"DEAD_STS_ARN"},
        id="sts-arn-is-dead",
    ),
    pytest.param(
        mapping("sso:111122223333:Admins", "admin", ("admins",), sso=True),
        context(),
        None,
        {"DEAD_SSO_BLOCK"},
        id="sso-block-is-dead",
    ),
    pytest.param(
        mapping(role("Dev"), "dev", ("developers",)),
        context(found(role("Dev"), role("teams/dev/Dev"))),
        AccessEntrySpec(role("teams/dev/Dev"), EntryType.STANDARD, "dev", ("developers",)),
        set(),
        id="iam-path-resolved-into-entry",
    ),
    pytest.param(
        mapping(role("AWSReservedSSO_Admin_0123456789abcdef"), "sso-admin", ("system:masters",)),
        context(
            found(
                role("AWSReservedSSO_Admin_0123456789abcdef"),
                role("aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"),
            )
        ),
        AccessEntrySpec(
            role("aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"),
            EntryType.STANDARD,
            "sso-admin",
            (),
            (ADMIN_POLICY,),
        ),
        {"SSO_ROLE"},
        id="sso-role-with-path",
    ),
    pytest.param(
        mapping(role("Gone"), "gone", ("g",)),
        context({"aws:111122223333:role:gone": PrincipalLookup(LookupStatus.NOT_FOUND)}),
        None,
        {"PRINCIPAL_NOT_FOUND"},
        id="principal-not-found",
    ),
    pytest.param(
        mapping(user("alice"), "alice", ("devs",), Section.MAP_USERS),
        context(found(user("alice"), user("engineering/alice"))),
        None,
        {"DEAD_USER_PATH"},
        id="user-arn-without-its-path-is-dead",
    ),
    pytest.param(
        mapping(role("AWSServiceRoleForAmazonEKSNodegroup"), "svc", ("svc",)),
        context(),
        None,
        {"SERVICE_LINKED_ROLE"},
        id="service-linked-role",
    ),
    pytest.param(
        mapping(f"arn:aws:iam::{ACCOUNT}:root", "root", ("admins",)),
        context(),
        None,
        {"ROOT_PRINCIPAL"},
        id="root",
    ),
    pytest.param(
        mapping(user("bob"), "bob", ("devs",)),
        context(),
        AccessEntrySpec(user("bob"), EntryType.STANDARD, "bob", ("devs",)),
        {"USER_IN_MAP_ROLES"},
        id="user-under-map-roles",
    ),
    pytest.param(
        mapping(role("Ops"), "ops", ("ops",), Section.MAP_USERS),
        context(),
        AccessEntrySpec(role("Ops"), EntryType.STANDARD, "ops", ("ops",)),
        {"ROLE_IN_MAP_USERS", "PATH_UNRESOLVED"},
        id="role-under-map-users",
    ),
    pytest.param(
        mapping(role("Ops"), "ops", ("ops",), unknown_keys=("usrname",)),
        context(),
        AccessEntrySpec(role("Ops"), EntryType.STANDARD, "ops", ("ops",)),
        {"UNKNOWN_KEY", "PATH_UNRESOLVED"},
        id="unknown-key",
    ),
    pytest.param(
        mapping(role("Partner", OTHER), "partner", ("partners",)),
        context(),
        AccessEntrySpec(role("Partner", OTHER), EntryType.STANDARD, "partner", ("partners",)),
        {"PATH_UNRESOLVED"},
        id="cross-account-standard-is-fine",
    ),
]


@pytest.mark.parametrize(("given", "ctx", "expected", "codes"), CASES)
def test_translation_rule(
    given: Mapping, ctx: TranslationContext, expected: AccessEntrySpec | None, codes: set[str]
) -> None:
    result = translate(given, ctx)
    assert result.spec == expected
    assert {f.code for f in result.findings} == codes
    for finding in result.findings:
        assert finding.source == given.source
        assert finding.message


def test_china_partition_uses_its_own_policy_arn() -> None:
    cluster = ClusterRef("prod", "cn-north-1", ACCOUNT, "aws-cn")
    arn = f"arn:aws-cn:iam::{ACCOUNT}:role/Admin"
    result = translate(mapping(arn, "admin", ("system:masters",)), TranslationContext(cluster, {}, offline=True))
    assert result.spec is not None
    assert result.spec.policies == (
        PolicyAssociation("arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", AccessScope()),
    )


def test_path_unresolved_is_a_warning_when_live() -> None:
    result = translate(mapping(role("Dev"), "dev", ()), TranslationContext(CLUSTER, {}, offline=False))
    assert [(f.code, f.severity) for f in result.findings] == [("PATH_UNRESOLVED", Severity.WARNING)]


def test_every_code_the_translator_can_emit_is_catalogued() -> None:
    for case in CASES:
        given, ctx, _, codes = case.values
        assert codes <= set(RULES), codes
        assert {f.code for f in translate(given, ctx).findings} <= set(RULES)
