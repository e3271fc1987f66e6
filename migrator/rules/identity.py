"""The authentication model: which Kubernetes identity does a principal get, from aws-auth or an access entry?

Two views of the same rules:
- *templates* (`IdentityTemplate`): what a mapping or an entry gives before the session is known. The
  planner proves equivalence with these, and `verify` compares live entries with them.
- *runtime* (`authenticate`): what one concrete caller (an STS identity) gets from a cluster in a given
  mode. The sandbox's Kubernetes API uses it to answer SelfSubjectReview.

Facts encoded here come from eks-facts.md sections 2-4; the node identities are *(inferred)* and live in
one table (`NODE_IDENTITIES`) so they are easy to change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    AwsAuth,
    EntryType,
    Mapping,
    PolicyAssociation,
    ScopeType,
)
from migrator.rules.arn import Arn, ArnError, PrincipalKind, canonical_caller_arn, parse_arn

MASTERS_GROUP = "system:masters"
BOOTSTRAPPERS_GROUP = "system:bootstrappers"
NODES_GROUP = "system:nodes"
NODE_PROXIER_GROUP = "system:node-proxier"
KUBE_PROXY_WINDOWS_GROUP = "eks:kube-proxy-windows"
AUTHENTICATED_GROUP = "system:authenticated"
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
CREATOR_USERNAME = "kubernetes-admin"  # the hidden bootstrap mapping of CONFIG_MAP clusters (inferred)

EC2_NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
SESSION_NODE_USERNAME = "system:node:{{SessionName}}"

# What each non-STANDARD entry type authenticates as. Node entries do not need system:bootstrappers, so
# an aws-auth node mapping that has it is still equivalent (see `node_groups_today`).
NODE_IDENTITIES: dict[EntryType, tuple[str, frozenset[str]]] = {
    EntryType.EC2_LINUX: (EC2_NODE_USERNAME, frozenset({NODES_GROUP})),
    EntryType.EC2_WINDOWS: (EC2_NODE_USERNAME, frozenset({NODES_GROUP, KUBE_PROXY_WINDOWS_GROUP})),
    EntryType.FARGATE_LINUX: (SESSION_NODE_USERNAME, frozenset({NODES_GROUP, NODE_PROXIER_GROUP})),
    EntryType.HYBRID_LINUX: (SESSION_NODE_USERNAME, frozenset({NODES_GROUP})),
    EntryType.EC2: (EC2_NODE_USERNAME, frozenset({NODES_GROUP})),
    EntryType.HYPERPOD_LINUX: (EC2_NODE_USERNAME, frozenset({NODES_GROUP})),
}

TEMPLATE_RE = re.compile(r"\{\{(\w+)\}\}")


def policy_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{name}"


def is_cluster_admin(policy: PolicyAssociation) -> bool:
    return policy.policy_name == CLUSTER_ADMIN_POLICY and policy.scope.type is ScopeType.CLUSTER


def default_username(principal_arn: str, entry_type: EntryType = EntryType.STANDARD) -> str:
    """The username EKS gives an entry created without one."""
    if entry_type.is_node:
        return NODE_IDENTITIES[entry_type][0]
    arn = parse_arn(principal_arn)
    if arn.kind is PrincipalKind.ROLE:
        return f"arn:{arn.partition}:sts::{arn.account}:assumed-role/{arn.name}/{{{{SessionName}}}}"
    return str(arn)


def creator_shape(entry: AccessEntrySpec) -> bool:
    """Has the entry the shape of the admin entry EKS makes for the cluster creator at the first switch:
    STANDARD, EKS's default username (reported or not), no groups, cluster-admin and nothing else? Anybody can
    make an entry of this shape, so it is never evidence on its own: only with evidence of who the creator is
    (the entry apply saw EKS make, or the operator's word)."""
    return (
        entry.type is EntryType.STANDARD
        and entry.username in (None, default_username(entry.principal_arn))
        and not entry.groups
        and [is_cluster_admin(p) for p in entry.policies] == [True]
    )


def render_account_id(text: str, account: str) -> str:
    """`{{AccountID}}` cannot vary for one principal, so the planner renders it once."""
    return text.replace("{{AccountID}}", account)


@dataclass(frozen=True)
class IdentityTemplate:
    """An identity before the session is known. Cluster-admin through a policy counts as system:masters."""

    username: str
    groups: frozenset[str]
    cluster_admin: bool = False
    other_policies: frozenset[PolicyAssociation] = frozenset()


def node_groups_today(groups: Iterable[str]) -> frozenset[str]:
    return frozenset(groups) - {BOOTSTRAPPERS_GROUP}


def from_mapping(mapping: Mapping, account: str) -> IdentityTemplate:
    """What an aws-auth mapping gives today (account templates rendered; a missing username is "")."""
    groups = frozenset(render_account_id(g, account) for g in mapping.groups)
    return IdentityTemplate(
        username=render_account_id(mapping.username or "", account),
        groups=groups - {MASTERS_GROUP},
        cluster_admin=MASTERS_GROUP in groups,
    )


def from_entry(entry: AccessEntrySpec) -> IdentityTemplate:
    """What an access entry gives: its username (or EKS's default), its groups, its policies."""
    if entry.type.is_node:
        username, groups = NODE_IDENTITIES[entry.type]
        return IdentityTemplate(username=username, groups=groups)
    admin = any(is_cluster_admin(p) for p in entry.policies)
    return IdentityTemplate(
        username=entry.username if entry.username is not None else default_username(entry.principal_arn),
        groups=frozenset(entry.groups),
        cluster_admin=admin,
        other_policies=frozenset(p for p in entry.policies if not is_cluster_admin(p)),
    )


def differences(today: IdentityTemplate, planned: IdentityTemplate, *, node: bool = False) -> tuple[str, ...]:
    """Each way in which `planned` is not the identity `today`; empty when they are equivalent.

    For node entries system:bootstrappers is ignored on today's side: node entries do not need it.
    """
    found: list[str] = []
    if today.username != planned.username:
        found.append(f"username {today.username!r} would become {planned.username!r}")
    today_groups = node_groups_today(today.groups) if node else today.groups
    if lost := sorted(today_groups - planned.groups):
        found.append(f"would lose group(s) {', '.join(lost)}")
    if gained := sorted(planned.groups - today_groups):
        found.append(f"would gain group(s) {', '.join(gained)}")
    if today.cluster_admin and not planned.cluster_admin:
        found.append("would lose cluster-admin (system:masters)")
    if planned.cluster_admin and not today.cluster_admin:
        found.append("would gain cluster-admin")
    if planned.other_policies - today.other_policies:
        names = sorted(p.policy_name for p in planned.other_policies - today.other_policies)
        found.append(f"would gain access policies {', '.join(names)}")
    if today.other_policies - planned.other_policies:
        names = sorted(p.policy_name for p in today.other_policies - planned.other_policies)
        found.append(f"would lose access policies {', '.join(names)}")
    return tuple(found)


# --- runtime -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """An authenticated AWS caller as STS GetCallerIdentity reports it."""

    arn: Arn  # assumed-role ARN for roles, IAM user ARN (with path) for users
    user_id: str  # "AROA...:session" for roles, "AIDA..." for users
    access_key_id: str = ""
    ec2_private_dns_name: str | None = None  # what EC2 says for the instance named by the session

    @property
    def session_name(self) -> str:
        return self.arn.session or "" if self.arn.kind is PrincipalKind.ASSUMED_ROLE else ""

    @property
    def principal_id(self) -> str:
        return self.user_id.split(":", 1)[0]

    @property
    def canonical_arn(self) -> Arn:
        return canonical_caller_arn(self.arn)


@dataclass(frozen=True)
class Identity:
    """What the API server sees (userInfo) plus the access policies the EKS authorizer adds."""

    username: str
    groups: tuple[str, ...]
    uid: str
    extra: tuple[tuple[str, str], ...] = ()
    policies: tuple[PolicyAssociation, ...] = field(default=())
    via: str = ""  # "access-entry", "aws-auth mapRoles[3]", "aws-auth mapAccounts", "cluster creator"


class Unrenderable(Exception):
    """A template could not be rendered for this caller: the authenticator denies the request."""


def render(text: str, caller: Caller) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "AccountID":
            return caller.arn.account
        if name == "SessionName":
            return caller.session_name.replace("@", "-")
        if name == "SessionNameRaw":
            return caller.session_name
        if name == "AccessKeyID":
            return caller.access_key_id
        if name == "EC2PrivateDNSName":
            if not caller.ec2_private_dns_name:
                raise Unrenderable(f"session {caller.session_name!r} is not an EC2 instance id")
            return caller.ec2_private_dns_name
        return match.group(0)

    return TEMPLATE_RE.sub(substitute, text)


def _entry_key(principal_arn: str) -> tuple[str, str, str, str] | None:
    try:
        return parse_arn(principal_arn).principal_key
    except ArnError:
        return None


def _aws_auth_lookup(aws_auth: AwsAuth, caller: Caller) -> tuple[Mapping | None, str]:
    return _mapping_for(aws_auth, str(caller.canonical_arn).lower())


def _mapping_for(aws_auth: AwsAuth, canonical: str) -> tuple[Mapping | None, str]:
    # Later duplicates overwrite earlier ones, as the authenticator's map keyed by lower-cased ARN does.
    for section, mappings in (("mapRoles", aws_auth.map_roles), ("mapUsers", aws_auth.map_users)):
        winner = None
        for mapping in mappings:
            if not mapping.sso and mapping.arn_key == canonical:
                winner = mapping
        if winner is not None:
            return winner, f"aws-auth {section}[{winner.source.index}]"
    return None, ""


def aws_auth_identity(aws_auth: AwsAuth, principal_arn: str) -> tuple[IdentityTemplate | None, str]:
    """What aws-auth gives the principal an access entry names, were the entry not in the way (so: in
    API_AND_CONFIG_MAP), and through which mapping; (None, "") when aws-auth does not authenticate it.
    A role signs in through STS, so aws-auth sees its ARN without the path; a user keeps its path."""
    arn = parse_arn(principal_arn)
    canonical = arn.without_path() if arn.kind is PrincipalKind.ROLE else arn
    mapping, via = _mapping_for(aws_auth, str(canonical).lower())
    if mapping is not None:
        return from_mapping(mapping, arn.account), via
    if any(a.account == arn.account for a in aws_auth.map_accounts):
        return IdentityTemplate(username=str(canonical), groups=frozenset()), "aws-auth mapAccounts"
    return None, ""


def authenticate(
    caller: Caller,
    mode: AuthMode,
    aws_auth: AwsAuth | None,
    entries: Sequence[AccessEntrySpec],
    *,
    creator_arn: str | None = None,
) -> Identity | None:
    """The identity a cluster in `mode` gives `caller`, or None when it is not authenticated (HTTP 401)."""
    uid = f"aws-iam-authenticator:{caller.arn.account}:{caller.principal_id}"
    extra = (
        ("accessKeyId", caller.access_key_id),
        ("arn", str(caller.arn)),
        ("canonicalArn", str(caller.canonical_arn)),
        ("principalId", caller.principal_id),
        ("sessionName", caller.session_name),
    )

    def made(username: str, groups: Iterable[str], via: str, policies: Sequence[PolicyAssociation] = ()) -> Identity:
        rendered = {render(g, caller) for g in groups} | {AUTHENTICATED_GROUP}
        return Identity(render(username, caller), tuple(sorted(rendered)), uid, extra, tuple(policies), via)

    try:
        if mode.reads_entries:
            key = caller.canonical_arn.principal_key
            for entry in entries:
                if _entry_key(entry.principal_arn) == key:
                    template = from_entry(entry)
                    return made(template.username, template.groups, "access-entry", entry.policies)
        if mode is AuthMode.CONFIG_MAP and creator_arn is not None:
            creator_key = _entry_key(creator_arn)
            if creator_key == caller.canonical_arn.principal_key:
                return made(CREATOR_USERNAME, [MASTERS_GROUP], "cluster creator")
        if mode.reads_aws_auth and aws_auth is not None:
            mapping, via = _aws_auth_lookup(aws_auth, caller)
            if mapping is not None:
                return made(mapping.username or "", mapping.groups, via)
            if any(a.account == caller.arn.account for a in aws_auth.map_accounts):
                return made(str(caller.canonical_arn), [], "aws-auth mapAccounts")
    except Unrenderable:
        return None
    return None
