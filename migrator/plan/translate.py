"""One aws-auth mapping -> the access entry that keeps its identity, or the findings that explain why not.

The rules are eks-facts.md section 5, one function per concern, applied in a fixed order. Rules that need
the whole aws-auth (duplicates, existing entries, quota) live in the planner.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import Protocol

from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    ClusterRef,
    EntryType,
    Finding,
    LookupStatus,
    Mapping,
    PolicyAssociation,
    PrincipalLookup,
    Section,
    Severity,
)
from migrator.rules import identity
from migrator.rules.arn import Arn, PrincipalKind, is_padded_arn, mapping_arn, parse_arn
from migrator.rules.findings import finding
from migrator.rules.limits import RESERVED_USERNAME_PREFIXES

SERVICE_LINKED_NAME_PREFIX = "AWSServiceRoleFor"
_SESSION_TEMPLATE_RE = re.compile(r"\{\{SessionName(Raw)?\}\}")

EC2_NODE_GROUPS = frozenset({identity.BOOTSTRAPPERS_GROUP, identity.NODES_GROUP})
WINDOWS_NODE_GROUPS = EC2_NODE_GROUPS | {identity.KUBE_PROXY_WINDOWS_GROUP}
SESSION_NODE_GROUPS = EC2_NODE_GROUPS | {identity.NODE_PROXIER_GROUP}


class NoteFn(Protocol):
    def __call__(self, code: str, message: str, arn: str | None = ..., severity: Severity | None = ...) -> None: ...


@dataclass(frozen=True)
class TranslationContext:
    cluster: ClusterRef
    iam: MappingABC[str, PrincipalLookup]
    offline: bool
    pod_execution_roles: frozenset[str] = frozenset()  # Arn.lookup_key of Fargate pod execution roles
    uses_hybrid_nodes: bool = False


@dataclass(frozen=True)
class Translation:
    mapping: Mapping
    spec: AccessEntrySpec | None  # None: nothing to create (the mapping is dead or blocked)
    findings: tuple[Finding, ...]
    dead: bool = False  # the mapping gives nobody access today
    principal: Arn | None = None  # who the mapping matches (as written, kind corrected)
    entry_principal: Arn | None = None  # the principal `spec` names (IAM's ARN, path and all), parsed

    @property
    def blocked(self) -> bool:
        return any(f.severity is Severity.BLOCKER for f in self.findings)


def translate(mapping: Mapping, ctx: TranslationContext) -> Translation:
    notes: list[Finding] = []

    def note(code: str, message: str, arn: str | None = mapping.arn, severity: Severity | None = None) -> None:
        notes.append(finding(code, message, principal_arn=arn, source=mapping.source, severity=severity))

    def dead(code: str, message: str) -> Translation:
        note(code, message)
        return Translation(mapping, None, tuple(notes), dead=True)

    if mapping.unknown_keys:
        note("UNKNOWN_KEY", f"{mapping.arn} has key(s) {', '.join(mapping.unknown_keys)}, which are ignored")
    if mapping.sso:
        return dead("DEAD_SSO_BLOCK", f"the sso: entry {mapping.arn} gives no access on EKS; not migrated")

    if is_padded_arn(mapping.arn):
        return dead(
            "DEAD_ARN_WHITESPACE",
            f"{mapping.arn!r} has whitespace around the ARN: aws-auth compares the whole ARN, so it gives no access "
            "today and is not migrated",
        )
    arn = mapping_arn(mapping)
    if arn.kind is PrincipalKind.ASSUMED_ROLE:
        return dead("DEAD_STS_ARN", f"{mapping.arn} is a session ARN that aws-auth never matches; not migrated")
    if arn.kind is PrincipalKind.ROOT:
        note("ROOT_PRINCIPAL", f"{mapping.arn} is the account root, which cannot have an access entry")
        return Translation(mapping, None, tuple(notes), principal=arn)
    if mapping.section is Section.MAP_ROLES and arn.kind is PrincipalKind.USER:
        note("USER_IN_MAP_ROLES", f"{mapping.arn} is an IAM user under mapRoles; migrated as a user")
    if mapping.section is Section.MAP_USERS and arn.kind is PrincipalKind.ROLE:
        note("ROLE_IN_MAP_USERS", f"{mapping.arn} is an IAM role under mapUsers; migrated as a role")
    if arn.kind is PrincipalKind.ROLE and arn.has_path:
        remedy = (
            "it is a service-linked role, which cannot have an entry anyway"
            if arn.is_service_linked
            else f"map {arn.without_path()} to grant access"
        )
        return dead(
            "DEAD_ROLE_PATH",
            f"{mapping.arn} includes the IAM path {arn.path!r}: aws-auth never matches it, so it gives no access "
            f"today and is not migrated ({remedy})",
        )
    if arn.partition != ctx.cluster.partition:
        note(
            "PARTITION_MISMATCH",
            f"{mapping.arn} is in partition {arn.partition}, but the cluster is in {ctx.cluster.partition}: EKS "
            "rejects it as an access entry principal",
        )
        return Translation(mapping, None, tuple(notes), principal=arn)
    if arn.kind is PrincipalKind.ROLE and arn.name.startswith(SERVICE_LINKED_NAME_PREFIX):
        note("SERVICE_LINKED_ROLE", f"{mapping.arn} is a service-linked role, which cannot have an access entry")
        return Translation(mapping, None, tuple(notes), principal=arn)

    principal_arn = _resolve_principal(arn, ctx, note)
    if principal_arn is None:
        return Translation(mapping, None, tuple(notes), dead=True, principal=arn)
    # IAM's ARN is parsed only where it is not the mapping's own (a path the mapping leaves out).
    resolved = arn if principal_arn == str(arn) else parse_arn(principal_arn)
    if resolved.is_service_linked:
        note("SERVICE_LINKED_ROLE", f"{principal_arn} is a service-linked role, which cannot have an access entry")
        return Translation(mapping, None, tuple(notes), principal=arn)
    if resolved.is_sso_role:
        note("SSO_ROLE", f"{principal_arn} is an IAM Identity Center role; its name changes on re-provisioning")

    account = arn.account
    username = identity.render_account_id(mapping.username, account) if mapping.username is not None else None
    groups = tuple(dict.fromkeys(identity.render_account_id(g, account) for g in mapping.groups))
    if any("{{AccountID}}" in text for text in (mapping.username or "", *mapping.groups)):
        note("ACCOUNT_ID_TEMPLATE", f"{{{{AccountID}}}} rendered to {account} for {principal_arn}")

    unclear = [text for text in (username or "", *groups) if _unclear_text(text)]
    if unclear:
        note(
            "IDENTITY_WHITESPACE",
            f"{principal_arn}: {', '.join(repr(t) for t in unclear)} has whitespace around it or a control "
            "character; the authenticator uses it verbatim, what EKS makes of it is undocumented",
        )
    node_type = _node_type(arn, username, groups, ctx)
    if node_type is not None:
        spec = _node_entry(principal_arn, arn, node_type, groups, ctx, note)
    else:
        spec = _standard_entry(principal_arn, username, groups, ctx, note)
    if any(f.severity is Severity.BLOCKER for f in notes):
        return Translation(mapping, None, tuple(notes), principal=arn)
    checked = _checked_equivalent(mapping, spec, account, note)
    return Translation(mapping, checked, tuple(notes), principal=arn, entry_principal=resolved)


def _unclear_text(text: str) -> bool:
    """Whitespace around a name, or a control character in it: not provably the same identity in an entry."""
    return text != text.strip() or any(not char.isprintable() and char != " " for char in text)


def _resolve_principal(arn: Arn, ctx: TranslationContext, note: NoteFn) -> str | None:
    """The principal's real ARN (with its IAM path): entries need it, aws-auth does not have it."""
    lookup = ctx.iam.get(arn.lookup_key)
    if lookup is not None and lookup.status is LookupStatus.FOUND and lookup.arn:
        if arn.kind is PrincipalKind.USER and lookup.arn.lower() != str(arn).lower():
            note("DEAD_USER_PATH", f"{arn} is not the user's ARN {lookup.arn}: aws-auth compares the whole ARN, "
                 "so the mapping matches nobody and is not migrated")  # fmt: skip
            return None
        return lookup.arn
    if lookup is not None and lookup.status is LookupStatus.NOT_FOUND:
        note("PRINCIPAL_NOT_FOUND", f"IAM has no {arn.kind.value} {arn.name} in account {arn.account}: the "
             "mapping matches nobody and is not migrated")  # fmt: skip
        return None
    reason = f" ({lookup.reason})" if lookup is not None and lookup.reason else ""
    if arn.kind is PrincipalKind.ROLE:
        note(
            "PATH_UNRESOLVED",
            f"the IAM path of {arn} was not looked up{reason}; the entry uses the ARN without a path, which EKS "
            "rejects if the role has one",
            severity=Severity.INFO if ctx.offline else Severity.WARNING,
        )
    return str(arn)


def _node_type(arn: Arn, username: str | None, groups: tuple[str, ...], ctx: TranslationContext) -> EntryType | None:
    """Which node entry type a mapping is, by the patterns EKS and eksctl write; None for STANDARD."""
    if arn.kind is not PrincipalKind.ROLE:
        return None
    if username == identity.EC2_NODE_USERNAME:
        return EntryType.EC2_WINDOWS if identity.KUBE_PROXY_WINDOWS_GROUP in groups else EntryType.EC2_LINUX
    if username == identity.SESSION_NODE_USERNAME:
        if ctx.uses_hybrid_nodes and arn.lookup_key not in ctx.pod_execution_roles:
            return EntryType.HYBRID_LINUX
        return EntryType.FARGATE_LINUX
    return None


def _node_entry(
    principal_arn: str, arn: Arn, node_type: EntryType, groups: tuple[str, ...], ctx: TranslationContext, note: NoteFn
) -> AccessEntrySpec:
    allowed = {
        EntryType.EC2_LINUX: EC2_NODE_GROUPS,
        EntryType.EC2_WINDOWS: WINDOWS_NODE_GROUPS,
        EntryType.FARGATE_LINUX: SESSION_NODE_GROUPS,
        EntryType.HYBRID_LINUX: EC2_NODE_GROUPS,
    }[node_type]
    if extra := sorted(set(groups) - allowed):
        note(
            "NODE_EXTRA_GROUPS",
            f"node role {principal_arn} also has group(s) {', '.join(extra)}, which an entry of type "
            f"{node_type.value} cannot carry",
        )
    if missing := sorted(identity.NODE_IDENTITIES[node_type][1] - set(groups)):
        note(
            "NODE_MISSING_GROUPS",
            f"a {node_type.value} entry would give node role {principal_arn} group(s) {', '.join(missing)} "
            "that its mapping does not have",
        )
    if arn.account != ctx.cluster.account:
        note(
            "CROSS_ACCOUNT_NODE",
            f"node role {principal_arn} is in account {arn.account}, not the cluster's {ctx.cluster.account}",
        )
    return AccessEntrySpec(principal_arn, node_type)


def _standard_entry(
    principal_arn: str, username: str | None, groups: tuple[str, ...], ctx: TranslationContext, note: NoteFn
) -> AccessEntrySpec:
    policies: tuple[PolicyAssociation, ...] = ()
    if identity.MASTERS_GROUP in groups:
        policies = (
            PolicyAssociation(identity.policy_arn(ctx.cluster.partition, identity.CLUSTER_ADMIN_POLICY), AccessScope()),
        )
    kept_groups = tuple(g for g in groups if g != identity.MASTERS_GROUP)
    for group in kept_groups:
        if group.startswith("system:"):
            note("SYSTEM_GROUP", f"group {group!r} of {principal_arn} cannot be put in an access entry")
        if identity.TEMPLATE_RE.search(group):
            note("TEMPLATED_GROUP", f"group {group!r} of {principal_arn} contains a template")
    if username is None:
        note(
            "EMPTY_USERNAME",
            f'{principal_arn} has no username: today it is "", the entry gets EKS\'s default '
            f"{identity.default_username(principal_arn)!r}",
        )
    else:
        _check_username(principal_arn, username, note)
    return AccessEntrySpec(principal_arn, EntryType.STANDARD, username, kept_groups, policies)


def _check_username(principal_arn: str, username: str, note: NoteFn) -> None:
    if username.lower().startswith(RESERVED_USERNAME_PREFIXES):
        note("RESERVED_USERNAME", f"username {username!r} of {principal_arn} starts with a prefix EKS reserves")
    for unsupported in ("{{AccessKeyID}}", "{{EC2PrivateDNSName}}"):
        if unsupported in username:
            note("UNSUPPORTED_TEMPLATE", f"username {username!r} of {principal_arn} uses {unsupported}")
    session = _SESSION_TEMPLATE_RE.search(username)
    if session is not None and ":" not in username[: session.start()]:
        note(
            "SESSION_TEMPLATE_COLON",
            f"username {username!r} of {principal_arn} needs a ':' before {session.group(0)} in an access entry",
        )


def _checked_equivalent(mapping: Mapping, spec: AccessEntrySpec, account: str, note: NoteFn) -> AccessEntrySpec | None:
    """The last line of defence: whatever the rules built must give today's identity (or a known exception)."""
    today = identity.from_mapping(mapping, account)
    planned = identity.from_entry(spec)
    if mapping.username is None and not spec.type.is_node:
        today = identity.IdentityTemplate(planned.username, today.groups, today.cluster_admin)  # EMPTY_USERNAME
    if gaps := identity.differences(today, planned, node=spec.type.is_node):
        note("NOT_EQUIVALENT", f"the entry for {spec.principal_arn} is not equivalent: {'; '.join(gaps)}")
        return None
    return spec
