"""The authentication model, pinned with hand-written identities (eks-facts.md sections 2-4).

Expected values are written out in full on purpose: a test that derives them from `identity.py` itself
would agree with any bug in it.
"""

from __future__ import annotations

import pytest

from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AccountMapping,
    AuthMode,
    AwsAuth,
    EntryType,
    Mapping,
    PolicyAssociation,
    ScopeType,
    Section,
    SourceRef,
)
from migrator.rules.arn import parse_arn
from migrator.rules.identity import (
    Caller,
    Identity,
    IdentityTemplate,
    authenticate,
    aws_auth_identity,
    default_username,
    differences,
    from_entry,
    from_mapping,
)

ACCOUNT = "111122223333"
PARTNER = "444455556666"
ADMIN_POLICY = PolicyAssociation("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
ADMIN_POLICY_IN_DEV = PolicyAssociation(
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
    AccessScope(ScopeType.NAMESPACE, ("dev",)),
)
VIEW_POLICY = PolicyAssociation("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy")


def role(index: int, arn: str, username: str | None, *groups: str, sso: bool = False) -> Mapping:
    return Mapping(Section.MAP_ROLES, arn, username, groups, SourceRef(Section.MAP_ROLES, index), sso=sso)


def user(index: int, arn: str, username: str | None, *groups: str) -> Mapping:
    return Mapping(Section.MAP_USERS, arn, username, groups, SourceRef(Section.MAP_USERS, index))


AWS_AUTH = AwsAuth(
    map_roles=(
        role(0, f"arn:aws:iam::{ACCOUNT}:role/Dev", "dev:{{SessionName}}", "developers"),
        role(1, f"arn:aws:iam::{ACCOUNT}:role/teams/PathRole", "path-role", "path-group"),
        role(2, f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/alice", "ops", "ops"),
        role(3, f"arn:aws:iam::{ACCOUNT}:role/Dup", "first", "a"),
        role(4, f"arn:aws:iam::{ACCOUNT}:role/dup", "second", "b"),
        role(5, f"arn:aws:iam::{ACCOUNT}:user/carol", "carol-from-roles", "r"),
        role(
            6,
            f"arn:aws:iam::{ACCOUNT}:role/NodeRole",
            "system:node:{{EC2PrivateDNSName}}",
            "system:bootstrappers",
            "system:nodes",
        ),
        role(
            7,
            f"arn:aws:iam::{ACCOUNT}:role/Templ",
            "u:{{SessionNameRaw}}:{{AccessKeyID}}:{{AccountID}}:{{Nope}}",
            "g-{{AccountID}}",
        ),
        role(8, f"arn:aws:iam::{ACCOUNT}:role/NoName", None),
        role(9, f"arn:aws:iam::{ACCOUNT}:role/Masters", "admin:{{SessionName}}", "system:masters", "ops"),
        role(10, f"sso:{ACCOUNT}:Admins", "sso-admins", "admins", sso=True),
    ),
    map_users=(
        user(0, f"arn:aws:iam::{ACCOUNT}:user/carol", "carol", "users"),
        user(1, f"arn:aws:iam::{ACCOUNT}:user/people/bob", "bob", "viewers"),
        user(2, f"arn:aws:iam::{ACCOUNT}:user/people/bob", "bob-again", "viewers-again"),
    ),
    map_accounts=(AccountMapping(PARTNER, SourceRef(Section.MAP_ACCOUNTS, 0)),),
)


def assumed(role_name: str, session: str, *, account: str = ACCOUNT, dns: str | None = None) -> Caller:
    return Caller(
        arn=parse_arn(f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
        user_id=f"AROA{role_name.upper()}:{session}",
        access_key_id="ASIAEXAMPLE",
        ec2_private_dns_name=dns,
    )


def iam_user(path_and_name: str) -> Caller:
    return Caller(parse_arn(f"arn:aws:iam::{ACCOUNT}:user/{path_and_name}"), "AIDAUSER", "AKIAEXAMPLE")


def extra(caller: Caller, canonical: str, session: str) -> tuple[tuple[str, str], ...]:
    return (
        ("accessKeyId", caller.access_key_id),
        ("arn", str(caller.arn)),
        ("canonicalArn", canonical),
        ("principalId", caller.user_id.split(":")[0]),
        ("sessionName", session),
    )


# --- templates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            role(0, f"arn:aws:iam::{ACCOUNT}:role/A", "admin:{{SessionName}}", "system:masters", "devs"),
            IdentityTemplate("admin:{{SessionName}}", frozenset({"devs"}), cluster_admin=True),
        ),
        (role(0, f"arn:aws:iam::{ACCOUNT}:role/A", None), IdentityTemplate("", frozenset())),
        (
            role(0, f"arn:aws:iam::{ACCOUNT}:role/A", "acct-{{AccountID}}-{{SessionName}}", "g-{{AccountID}}"),
            IdentityTemplate(f"acct-{ACCOUNT}-{{{{SessionName}}}}", frozenset({f"g-{ACCOUNT}"})),
        ),
        (
            user(0, f"arn:aws:iam::{ACCOUNT}:user/u", "u", "a", "b"),
            IdentityTemplate("u", frozenset({"a", "b"})),
        ),
    ],
)
def test_from_mapping(mapping: Mapping, expected: IdentityTemplate) -> None:
    assert from_mapping(mapping, ACCOUNT) == expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/teams/Dev"),
            IdentityTemplate(f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/{{{{SessionName}}}}", frozenset()),
        ),
        (
            AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:user/people/bob", groups=("viewers",)),
            IdentityTemplate(f"arn:aws:iam::{ACCOUNT}:user/people/bob", frozenset({"viewers"})),
        ),
        (
            AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/A", username="a:{{SessionName}}", policies=(ADMIN_POLICY,)),
            IdentityTemplate("a:{{SessionName}}", frozenset(), cluster_admin=True),
        ),
        (
            AccessEntrySpec(
                f"arn:aws:iam::{ACCOUNT}:role/A", username="a", policies=(ADMIN_POLICY_IN_DEV, VIEW_POLICY)
            ),
            IdentityTemplate("a", frozenset(), other_policies=frozenset({ADMIN_POLICY_IN_DEV, VIEW_POLICY})),
        ),
        (
            AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/Node", EntryType.EC2_LINUX),
            IdentityTemplate("system:node:{{EC2PrivateDNSName}}", frozenset({"system:nodes"})),
        ),
        (
            AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/Node", EntryType.EC2_WINDOWS),
            IdentityTemplate(
                "system:node:{{EC2PrivateDNSName}}", frozenset({"system:nodes", "eks:kube-proxy-windows"})
            ),
        ),
        (
            AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/Pods", EntryType.FARGATE_LINUX),
            IdentityTemplate("system:node:{{SessionName}}", frozenset({"system:nodes", "system:node-proxier"})),
        ),
        (
            AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/Hybrid", EntryType.HYBRID_LINUX),
            IdentityTemplate("system:node:{{SessionName}}", frozenset({"system:nodes"})),
        ),
    ],
)
def test_from_entry(entry: AccessEntrySpec, expected: IdentityTemplate) -> None:
    assert from_entry(entry) == expected


@pytest.mark.parametrize(
    ("arn", "entry_type", "expected"),
    [
        (
            f"arn:aws:iam::{ACCOUNT}:role/Dev",
            EntryType.STANDARD,
            f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/{{{{SessionName}}}}",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:role/a/b/Dev",
            EntryType.STANDARD,
            f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/{{{{SessionName}}}}",
        ),
        (
            "arn:aws-cn:iam::111122223333:role/Dev",
            EntryType.STANDARD,
            "arn:aws-cn:sts::111122223333:assumed-role/Dev/{{SessionName}}",
        ),
        (f"arn:aws:iam::{ACCOUNT}:user/p/u", EntryType.STANDARD, f"arn:aws:iam::{ACCOUNT}:user/p/u"),
        (f"arn:aws:iam::{ACCOUNT}:role/N", EntryType.EC2_LINUX, "system:node:{{EC2PrivateDNSName}}"),
        (f"arn:aws:iam::{ACCOUNT}:role/N", EntryType.EC2_WINDOWS, "system:node:{{EC2PrivateDNSName}}"),
        (f"arn:aws:iam::{ACCOUNT}:role/N", EntryType.FARGATE_LINUX, "system:node:{{SessionName}}"),
        (f"arn:aws:iam::{ACCOUNT}:role/N", EntryType.HYBRID_LINUX, "system:node:{{SessionName}}"),
    ],
)
def test_default_username(arn: str, entry_type: EntryType, expected: str) -> None:
    assert default_username(arn, entry_type) == expected


def t(
    username: str, *groups: str, admin: bool = False, policies: frozenset[PolicyAssociation] = frozenset()
) -> IdentityTemplate:
    return IdentityTemplate(username, frozenset(groups), admin, policies)


@pytest.mark.parametrize(
    ("today", "planned", "node", "expected"),
    [
        (t("u", "a"), t("u", "a"), False, ()),
        (t("u", "a"), t("v", "a"), False, ("username 'u' would become 'v'",)),
        (t("u", "a", "b"), t("u", "a", "c"), False, ("would lose group(s) b", "would gain group(s) c")),
        (t("u", admin=True), t("u"), False, ("would lose cluster-admin (system:masters)",)),
        (t("u"), t("u", admin=True), False, ("would gain cluster-admin",)),
        (t("u"), t("u", policies=frozenset({VIEW_POLICY})), False, ("would gain access policies AmazonEKSViewPolicy",)),
        (t("u", policies=frozenset({VIEW_POLICY})), t("u"), False, ("would lose access policies AmazonEKSViewPolicy",)),
        (
            t("system:node:{{EC2PrivateDNSName}}", "system:bootstrappers", "system:nodes"),
            t("system:node:{{EC2PrivateDNSName}}", "system:nodes"),
            True,
            (),
        ),
        (
            t("system:node:{{EC2PrivateDNSName}}", "system:bootstrappers", "system:nodes"),
            t("system:node:{{EC2PrivateDNSName}}", "system:nodes"),
            False,
            ("would lose group(s) system:bootstrappers",),
        ),
    ],
)
def test_differences(today: IdentityTemplate, planned: IdentityTemplate, node: bool, expected: tuple[str, ...]) -> None:
    assert differences(today, planned, node=node) == expected


# --- runtime ---------------------------------------------------------------------------------------------

DEV = assumed("Dev", "alice@example.com")
CAROL = iam_user("carol")
BOB = iam_user("people/bob")
NODE = assumed("NodeRole", "i-0abc1234def567890", dns="ip-10-0-75-25.eu-west-1.compute.internal")
CREATOR = assumed("Creator", "ci")


@pytest.mark.parametrize(
    ("caller", "expected_username", "expected_groups", "via"),
    [
        pytest.param(
            DEV,
            "dev:alice-example.com",
            ("developers", "system:authenticated"),
            "aws-auth mapRoles[0]",
            id="session-name-at-becomes-dash",
        ),
        pytest.param(
            assumed("Dup", "s"),
            "second",
            ("b", "system:authenticated"),
            "aws-auth mapRoles[4]",
            id="duplicate-rolearn-last-wins-case-insensitive",
        ),
        pytest.param(
            CAROL,
            "carol-from-roles",
            ("r", "system:authenticated"),
            "aws-auth mapRoles[5]",
            id="user-arn-under-mapRoles-before-mapUsers",
        ),
        pytest.param(
            BOB,
            "bob-again",
            ("system:authenticated", "viewers-again"),
            "aws-auth mapUsers[2]",
            id="user-with-path-duplicate-last-wins",
        ),
        pytest.param(
            NODE,
            "system:node:ip-10-0-75-25.eu-west-1.compute.internal",
            ("system:authenticated", "system:bootstrappers", "system:nodes"),
            "aws-auth mapRoles[6]",
            id="ec2-private-dns-name",
        ),
        pytest.param(
            assumed("Templ", "Jane@Corp"),
            f"u:Jane@Corp:ASIAEXAMPLE:{ACCOUNT}:{{{{Nope}}}}",
            (f"g-{ACCOUNT}", "system:authenticated"),
            "aws-auth mapRoles[7]",
            id="templates",
        ),
        pytest.param(
            assumed("NoName", "s"),
            "",
            ("system:authenticated",),
            "aws-auth mapRoles[8]",
            id="missing-username-is-empty",
        ),
        pytest.param(
            assumed("Masters", "root@corp"),
            "admin:root-corp",
            ("ops", "system:authenticated", "system:masters"),
            "aws-auth mapRoles[9]",
            id="masters",
        ),
        pytest.param(
            assumed("Partner", "p", account=PARTNER),
            f"arn:aws:iam::{PARTNER}:role/Partner",
            ("system:authenticated",),
            "aws-auth mapAccounts",
            id="map-accounts-canonical-arn",
        ),
        pytest.param(
            CREATOR, "kubernetes-admin", ("system:authenticated", "system:masters"), "cluster creator", id="creator"
        ),
    ],
)
def test_authenticate_config_map(
    caller: Caller, expected_username: str, expected_groups: tuple[str, ...], via: str
) -> None:
    identity = authenticate(
        caller, AuthMode.CONFIG_MAP, AWS_AUTH, [], creator_arn=f"arn:aws:iam::{ACCOUNT}:role/Creator"
    )
    assert identity is not None
    assert (identity.username, identity.groups, identity.via) == (expected_username, expected_groups, via)


@pytest.mark.parametrize(
    "caller",
    [
        pytest.param(assumed("PathRole", "s"), id="rolearn-with-path-never-matches"),
        pytest.param(assumed("Ops", "alice"), id="sts-arn-in-aws-auth-never-matches"),
        pytest.param(assumed("Admins", "s"), id="sso-block-is-dead"),
        pytest.param(assumed("NodeRole", "not-an-instance"), id="ec2-dns-name-unrenderable-denies"),
        pytest.param(assumed("Stranger", "s"), id="unmapped"),
        pytest.param(assumed("Dev", "s", account="999988887777"), id="same-name-other-account"),
    ],
)
def test_authenticate_config_map_denied(caller: Caller) -> None:
    assert authenticate(caller, AuthMode.CONFIG_MAP, AWS_AUTH, []) is None


def test_full_identity_of_a_mapped_role() -> None:
    assert authenticate(DEV, AuthMode.CONFIG_MAP, AWS_AUTH, []) == Identity(
        username="dev:alice-example.com",
        groups=("developers", "system:authenticated"),
        uid=f"aws-iam-authenticator:{ACCOUNT}:AROADEV",
        extra=(
            ("accessKeyId", "ASIAEXAMPLE"),
            ("arn", f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/alice@example.com"),
            ("canonicalArn", f"arn:aws:iam::{ACCOUNT}:role/Dev"),
            ("principalId", "AROADEV"),
            ("sessionName", "alice@example.com"),
        ),
        policies=(),
        via="aws-auth mapRoles[0]",
    )


def test_full_identity_of_a_user() -> None:
    assert authenticate(BOB, AuthMode.API_AND_CONFIG_MAP, AWS_AUTH, []) == Identity(
        username="bob-again",
        groups=("system:authenticated", "viewers-again"),
        uid=f"aws-iam-authenticator:{ACCOUNT}:AIDAUSER",
        extra=extra(BOB, f"arn:aws:iam::{ACCOUNT}:user/people/bob", ""),
        via="aws-auth mapUsers[2]",
    )


DEV_ENTRY = AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/Dev", username="entry-dev", groups=("entry-group",))


def test_entry_wins_and_aws_auth_groups_are_not_merged() -> None:
    identity = authenticate(DEV, AuthMode.API_AND_CONFIG_MAP, AWS_AUTH, [DEV_ENTRY])
    assert identity is not None
    assert (identity.username, identity.groups, identity.via) == (
        "entry-dev",
        ("entry-group", "system:authenticated"),
        "access-entry",
    )


def test_entries_are_ignored_in_config_map_mode() -> None:
    identity = authenticate(DEV, AuthMode.CONFIG_MAP, AWS_AUTH, [DEV_ENTRY])
    assert identity is not None and identity.username == "dev:alice-example.com"


def test_api_mode_ignores_aws_auth() -> None:
    assert authenticate(DEV, AuthMode.API, AWS_AUTH, []) is None
    assert authenticate(assumed("Partner", "p", account=PARTNER), AuthMode.API, AWS_AUTH, []) is None


def test_entry_with_path_matches_the_session_of_that_role() -> None:
    entry = AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/teams/PathRole", policies=(ADMIN_POLICY,))
    identity = authenticate(assumed("PathRole", "a@b"), AuthMode.API, None, [entry])
    assert identity is not None
    assert identity.username == f"arn:aws:sts::{ACCOUNT}:assumed-role/PathRole/a-b"
    assert identity.groups == ("system:authenticated",)
    assert identity.policies == (ADMIN_POLICY,)


def test_node_entry_in_api_mode() -> None:
    entry = AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/NodeRole", EntryType.EC2_LINUX)
    identity = authenticate(NODE, AuthMode.API, AWS_AUTH, [entry])
    assert identity is not None
    assert (identity.username, identity.groups) == (
        "system:node:ip-10-0-75-25.eu-west-1.compute.internal",
        ("system:authenticated", "system:nodes"),
    )


def test_user_entry_keeps_its_path_and_matches_case_insensitively() -> None:
    entry = AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:user/people/BOB", groups=("g",))
    identity = authenticate(BOB, AuthMode.API, None, [entry])
    assert identity is not None
    assert (identity.username, identity.groups) == (
        f"arn:aws:iam::{ACCOUNT}:user/people/BOB",
        ("g", "system:authenticated"),
    )


@pytest.mark.parametrize(
    ("mode", "expected_username"),
    [
        (AuthMode.CONFIG_MAP, "kubernetes-admin"),
        (AuthMode.API_AND_CONFIG_MAP, None),  # the creator now needs the admin entry EKS made when switching
        (AuthMode.API, None),
    ],
)
def test_creator_is_implicit_only_in_config_map_mode(mode: AuthMode, expected_username: str | None) -> None:
    identity = authenticate(CREATOR, mode, AWS_AUTH, [], creator_arn=f"arn:aws:iam::{ACCOUNT}:role/Creator")
    assert (identity.username if identity else None) == expected_username


def test_creator_with_a_path_matches_its_sessions() -> None:
    identity = authenticate(
        CREATOR, AuthMode.CONFIG_MAP, None, [], creator_arn=f"arn:aws:iam::{ACCOUNT}:role/x/Creator"
    )
    assert identity is not None and identity.groups == ("system:authenticated", "system:masters")


def test_no_aws_auth_and_no_entries_denies_everyone() -> None:
    for mode in AuthMode:
        assert authenticate(DEV, mode, None, []) is None


def test_caller_views() -> None:
    assert (DEV.session_name, DEV.principal_id, str(DEV.canonical_arn)) == (
        "alice@example.com",
        "AROADEV",
        f"arn:aws:iam::{ACCOUNT}:role/Dev",
    )
    assert (BOB.session_name, BOB.principal_id, str(BOB.canonical_arn)) == (
        "",
        "AIDAUSER",
        f"arn:aws:iam::{ACCOUNT}:user/people/bob",
    )


@pytest.mark.parametrize(
    ("principal_arn", "expected", "via"),
    [
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:role/teams/x/Dev",  # an entry names the role with its path
            IdentityTemplate("dev:{{SessionName}}", frozenset({"developers"})),
            "aws-auth mapRoles[0]",
            id="role-entry-with-path-finds-the-pathless-mapping",
        ),
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:role/PathRole",
            None,  # aws-auth maps role/teams/PathRole, which never matches a session
            "",
            id="mapping-with-path-is-dead",
        ),
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:role/DUP",
            IdentityTemplate("second", frozenset({"b"})),
            "aws-auth mapRoles[4]",
            id="last-duplicate-wins-case-insensitively",
        ),
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:user/people/bob",
            IdentityTemplate("bob-again", frozenset({"viewers-again"})),
            "aws-auth mapUsers[2]",
            id="user-keeps-its-path",
        ),
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:role/Masters",
            IdentityTemplate("admin:{{SessionName}}", frozenset({"ops"}), cluster_admin=True),
            "aws-auth mapRoles[9]",
            id="masters-is-cluster-admin",
        ),
        pytest.param(
            f"arn:aws:iam::{PARTNER}:role/ci/Partner",
            IdentityTemplate(f"arn:aws:iam::{PARTNER}:role/Partner", frozenset()),
            "aws-auth mapAccounts",
            id="map-accounts-gives-the-pathless-arn",
        ),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:role/Stranger", None, "", id="unmapped"),
    ],
)
def test_aws_auth_identity_of_an_entry_principal(
    principal_arn: str, expected: IdentityTemplate | None, via: str
) -> None:
    assert aws_auth_identity(AWS_AUTH, principal_arn) == (expected, via)
