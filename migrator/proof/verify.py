"""`verify`: does every principal have, in the cluster's current mode, the identity aws-auth gave it?

Pure: the application layer reads the cluster (mode, live aws-auth, access entries, node roles, IAM) and
hands it here with the *reference* aws-auth (the live one, a file, or a run's backup once aws-auth is
gone). The reference is always aws-auth, never a plan: a plan can be wrong, and verify exists to catch it.

For each principal that the reference maps or that has an entry or a live mapping, two identities:
- expected: what the reference aws-auth gives it (none for a dead mapping: a path in a role ARN, an STS
  ARN, a user ARN without its real path, a principal IAM says does not exist);
- actual: what the cluster gives it now: its access entry when the mode reads entries and it has one,
  else the live aws-auth when the mode reads aws-auth, else nothing.
and a category: equivalent, missing (expected, no actual), differs (which fields), extra (an identity the
reference never gave), or eks-made (an entry EKS creates itself: node-group and Fargate roles, the
cluster creator; reported apart, not a failure).

The cluster creator: EKS does not say who created a cluster, and anybody can make an entry of the shape EKS
gives the creator's (cluster-admin, the default username, no groups). So an entry is the creator's only on
evidence (`CreatorEvidence`: the entry apply's journal recorded EKS making at the first switch, or the ARN
the operator gives), and one entry at most: without evidence an admin entry of that shape is `extra`.

mapAccounts cannot be enumerated: each listed account is one pseudo-principal `mapAccounts:<account>`,
missing once the mode no longer reads aws-auth (or the live aws-auth dropped it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    AwsAuth,
    EntryType,
    LookupStatus,
    PolicyAssociation,
    PrincipalLookup,
    ScopeType,
)
from migrator.rules import identity
from migrator.rules.arn import Arn, ArnError, PrincipalKind, mapping_arn, parse_arn
from migrator.rules.identity import IdentityTemplate
from migrator.rules.privilege import candidate, describe_rules
from migrator.rules.rbac import RbacPolicy

NODE_USERNAMES = frozenset({identity.EC2_NODE_USERNAME, identity.SESSION_NODE_USERNAME})
MAP_ACCOUNTS_PREFIX = "mapAccounts:"


class Category(StrEnum):
    EQUIVALENT = "equivalent"
    MISSING = "missing"
    DIFFERS = "differs"
    EXTRA = "extra"
    EKS_MADE = "eks-made"

    @property
    def passes(self) -> bool:
        return self in (Category.EQUIVALENT, Category.EKS_MADE)


@dataclass(frozen=True)
class Difference:
    """One field in which the actual identity is not the expected one."""

    field: str  # username | groups | cluster-admin | policies
    expected: str
    actual: str

    def describe(self) -> str:
        return f"{self.field}: aws-auth gives {self.expected}, the cluster gives {self.actual}"


@dataclass(frozen=True)
class Verdict:
    principal: str  # the ARN as the entry or the reference names it (mapAccounts:<account> for an account)
    category: Category
    expected: IdentityTemplate | None
    expected_via: str  # "aws-auth mapRoles[2]", ... ; "" when none
    actual: IdentityTemplate | None
    actual_via: str  # "access entry", "aws-auth mapUsers[0]", ... ; "" when none
    differences: tuple[Difference, ...] = ()
    note: str = ""  # why a mapping is dead, what made an eks-made entry
    node: bool = False


@dataclass(frozen=True)
class CreatorEvidence:
    """Who created the cluster, and how we know (`source`, for the report). `principal_arn` None: the evidence
    is that EKS made no entry for the creator that could be told apart (apply's journal says so)."""

    principal_arn: str | None
    source: str  # "--creator", "apply's journal <file>"
    account: str | None = None  # the cluster's account as the journal recorded it (a journal is of one cluster)


@dataclass(frozen=True)
class ClusterState:
    """What verify needs of the cluster, read once by the application layer."""

    mode: AuthMode
    live_aws_auth: AwsAuth | None  # None when the ConfigMap does not exist
    entries: tuple[AccessEntrySpec, ...]  # () in CONFIG_MAP, where EKS refuses to list them
    node_roles: frozenset[str] = frozenset()  # lookup keys of node-group roles and Fargate pod execution roles
    bootstrap_admin: bool | None = None
    iam: Mapping[str, PrincipalLookup] = field(default_factory=dict)  # lookup key -> what IAM said
    rbac: RbacPolicy | None = None  # the live RBAC, to recognise groups replaced by access policies
    partition: str = "aws"
    creator: CreatorEvidence | None = None  # None: nothing says who created the cluster


@dataclass(frozen=True)
class VerifyResult:
    verdicts: tuple[Verdict, ...]

    @property
    def ok(self) -> bool:
        return all(v.category.passes for v in self.verdicts)

    def count(self, category: Category) -> int:
        return sum(v.category is category for v in self.verdicts)


def _key(arn: str) -> str | None:
    try:
        return parse_arn(arn).lookup_key
    except ArnError:
        return None


def _is_node_mapping(template: IdentityTemplate | None) -> bool:
    return template is not None and template.username in NODE_USERNAMES


def _mapped_arns(aws_auth: AwsAuth | None) -> Iterable[tuple[str, Arn]]:
    """ARNs (as written, and parsed) of mappings that could authenticate someone: IAM roles and users (STS ARNs
    and sso blocks never do)."""
    if aws_auth is None:
        return
    for mapping in (*aws_auth.map_roles, *aws_auth.map_users):
        if mapping.sso:
            continue
        try:
            arn = mapping_arn(mapping)
        except ArnError:
            continue
        if arn.kind in (PrincipalKind.ROLE, PrincipalKind.USER):
            yield mapping.arn, arn


def aws_auth_view(
    aws_auth: AwsAuth | None, principal_arn: str, lookup: PrincipalLookup | None
) -> tuple[IdentityTemplate | None, str, str]:
    """(identity, via, why dead) that `aws_auth` gives the principal, with IAM's word on its real ARN.

    The caller signs in as its real ARN: a role without its path (STS drops it), a user with its path. So a
    user mapping without the user's real path, or a role mapping with a path, matches nobody.
    """
    if aws_auth is None:
        return None, "", ""
    if lookup is not None and lookup.status is LookupStatus.NOT_FOUND:
        return None, "", "IAM says the principal does not exist"
    real = lookup.arn if lookup is not None and lookup.status is LookupStatus.FOUND else None
    template, via = identity.aws_auth_identity(aws_auth, real or principal_arn)
    if template is None and _mentions(aws_auth, principal_arn):
        return None, "", "the mapping's ARN is not the ARN the principal signs in with (an IAM path?)"
    return template, via, ""


def _mentions(aws_auth: AwsAuth, principal_arn: str) -> bool:
    wanted = principal_arn.lower()
    return any(m.arn.lower() == wanted for m in (*aws_auth.map_roles, *aws_auth.map_users))


def _policy_text(policy: PolicyAssociation) -> str:
    if policy.scope.type is ScopeType.CLUSTER:
        return f"{policy.policy_name} (cluster)"
    return f"{policy.policy_name} (namespaces {', '.join(policy.scope.namespaces)})"


def _list(values: Iterable[str]) -> str:
    items = sorted(values)
    return ", ".join(items) if items else "none"


def compare(expected: IdentityTemplate, actual: IdentityTemplate, *, node: bool) -> tuple[Difference, ...]:
    """Each field in which `actual` is not `expected`; node identities need no system:bootstrappers."""
    found: list[Difference] = []
    if expected.username != actual.username:
        found.append(Difference("username", repr(expected.username), repr(actual.username)))
    expected_groups = identity.node_groups_today(expected.groups) if node else expected.groups
    actual_groups = identity.node_groups_today(actual.groups) if node else actual.groups
    if expected_groups != actual_groups:
        found.append(Difference("groups", _list(expected_groups), _list(actual_groups)))
    if expected.cluster_admin != actual.cluster_admin:
        found.append(
            Difference(
                "cluster-admin", "yes" if expected.cluster_admin else "no", "yes" if actual.cluster_admin else "no"
            )
        )
    if expected.other_policies != actual.other_policies:
        found.append(
            Difference(
                "policies",
                _list(_policy_text(p) for p in expected.other_policies),
                _list(_policy_text(p) for p in actual.other_policies),
            )
        )
    return tuple(found)


def _is_creators(entry: AccessEntrySpec, state: ClusterState) -> bool:
    """Is this the admin entry EKS made for the cluster creator? Only when the evidence names its principal
    (one principal at most) and it still has the shape EKS gave it."""
    evidence = state.creator
    return (
        evidence is not None
        and evidence.principal_arn is not None
        and _key(evidence.principal_arn) == _key(entry.principal_arn)
        and state.bootstrap_admin is not False  # without it EKS makes the creator no entry
        and identity.creator_shape(entry)
    )


def _creator_note(state: ClusterState) -> str:
    """Why an admin entry of the creator's shape counts as the creator's, as the report says."""
    source = state.creator.source if state.creator is not None else ""
    return f"the cluster creator's admin entry, which EKS makes at the first switch (the creator per {source})"


def _unmapped_entry(entry: AccessEntrySpec, state: ClusterState) -> tuple[Category, str]:
    """An entry aws-auth gives nothing: made by EKS itself (eks-made, with why), or somebody's (extra)."""
    if entry.type is not EntryType.STANDARD and _key(entry.principal_arn) in state.node_roles:
        return Category.EKS_MADE, f"EKS creates {entry.type.value} entries for node-group and Fargate roles"
    if _is_creators(entry, state):
        return Category.EKS_MADE, _creator_note(state)
    if not identity.creator_shape(entry):
        return Category.EXTRA, ""
    evidence = state.creator
    if evidence is None:
        return Category.EXTRA, (
            "admin, possibly the creator's: EKS gives the cluster creator an entry of this shape at the first "
            "switch, but so can anybody; if it is the creator's, say so with --creator ARN (or --journal with "
            "the journal of the apply that switched the mode)"
        )
    if evidence.principal_arn is None:
        return Category.EXTRA, f"admin, of the shape of the creator's entry, but {evidence.source} records none"
    return (
        Category.EXTRA,
        f"admin, of the shape of the creator's entry, but the creator is {evidence.principal_arn} "
        f"(per {evidence.source})",
    )


def verify(reference: AwsAuth, state: ClusterState) -> VerifyResult:
    entries = {key: entry for entry in state.entries if (key := _key(entry.principal_arn)) is not None}
    names: dict[str, str] = {}
    for written, arn in (*_mapped_arns(reference), *_mapped_arns(state.live_aws_auth)):
        names.setdefault(arn.lookup_key, written)
    for key, entry in entries.items():
        names[key] = entry.principal_arn  # the entry names the principal with its real path
    verdicts = [_principal_verdict(key, names[key], reference, state, entries.get(key)) for key in sorted(names)]
    verdicts += _account_verdicts(reference, state)
    return VerifyResult(tuple(v for v in verdicts if v is not None))


def _principal_verdict(
    key: str, arn: str, reference: AwsAuth, state: ClusterState, entry: AccessEntrySpec | None
) -> Verdict | None:
    lookup = state.iam.get(key)
    expected, expected_via, dead = aws_auth_view(reference, arn, lookup)
    actual: IdentityTemplate | None
    if state.mode.reads_entries and entry is not None:
        actual, actual_via = identity.from_entry(entry), "access entry"
    elif state.mode.reads_aws_auth:
        actual, actual_via, _ = aws_auth_view(state.live_aws_auth, arn, lookup)
    else:
        actual, actual_via = None, ""
    node = _is_node_mapping(expected) or (entry is not None and entry.type.is_node)
    if expected is None and actual is None:
        return None if not dead else Verdict(arn, Category.EQUIVALENT, None, "", None, "", note=f"dead mapping: {dead}")
    if expected is None:
        category, why = Category.EXTRA, ""
        if entry is not None and actual_via == "access entry":
            category, why = _unmapped_entry(entry, state)
        nothing = f"aws-auth gives it nothing ({dead})" if dead else "aws-auth gives it nothing"
        note = why if category is Category.EKS_MADE else "; ".join(filter(None, (nothing, why)))
        return Verdict(arn, category, None, "", actual, actual_via, note=note, node=node)
    if actual is None:
        return Verdict(arn, Category.MISSING, expected, expected_via, None, "", node=node)
    differences = compare(expected, actual, node=node)
    if differences and actual_via == "access entry" and entry is not None and _is_creators(entry, state):
        # The creator mapped in aws-auth: its hidden bootstrap mapping (cluster-admin) won over that mapping
        # until the first switch, and the entry EKS made for it keeps it cluster-admin (apply keeps it too).
        note = f"{_creator_note(state)}; until then its hidden bootstrap mapping (cluster-admin) won over aws-auth"
        return Verdict(arn, Category.EKS_MADE, expected, expected_via, actual, actual_via, differences, note, node)
    if differences and actual_via == "access entry" and state.rbac is not None:
        converted = _converted(expected, actual, state.rbac, state.partition)
        if converted is not None:
            exact, note = converted
            category = Category.EQUIVALENT if exact else Category.DIFFERS
            return Verdict(arn, category, expected, expected_via, actual, actual_via,
                           () if exact else differences, note=note, node=node)  # fmt: skip
    category = Category.DIFFERS if differences else Category.EQUIVALENT
    return Verdict(arn, category, expected, expected_via, actual, actual_via, differences, node=node)


def _converted(
    expected: IdentityTemplate, actual: IdentityTemplate, rbac: RbacPolicy, partition: str
) -> tuple[bool, str] | None:
    """When the entry differs from aws-auth only by groups replaced by access policies
    (`plan --prefer-access-policies`), and the LIVE RBAC says each such group's bindings grant exactly (True)
    or more than (False) its policy at its scope: that, with a note naming each. None otherwise: a policy
    that grants more than the group it replaced, or any other difference, stays a plain difference. No plan
    is read: the proof comes from the cluster's RBAC and the access policy table."""
    if expected.username != actual.username or actual.groups - expected.groups:
        return None
    if expected.cluster_admin and not actual.cluster_admin:
        return None
    gained = set(actual.other_policies - expected.other_policies)
    if expected.other_policies - actual.other_policies:
        return None
    admin_gained = actual.cluster_admin and not expected.cluster_admin
    exact, notes = True, []
    for group in sorted(expected.groups - actual.groups):
        conversion = candidate(rbac, group, partition).conversion
        if conversion is None or conversion.gained:
            return None
        policy = conversion.policy
        if policy in gained:
            gained.discard(policy)
        elif admin_gained and identity.is_cluster_admin(policy):
            admin_gained = False
        else:
            return None
        what = f"group {group} replaced by {_policy_text(policy)}"
        if conversion.lost:
            exact = False
            notes.append(f"{what}, which grants less than its bindings (lost: {describe_rules(conversion.lost)})")
        else:
            notes.append(f"{what}, exactly what its bindings grant (ClusterRole {conversion.cluster_role})")
    if gained or admin_gained or not notes:
        return None
    return exact, "; ".join(notes)


def _account_verdicts(reference: AwsAuth, state: ClusterState) -> list[Verdict]:
    expected = {a.account for a in reference.map_accounts}
    live = (
        {a.account for a in state.live_aws_auth.map_accounts}
        if state.mode.reads_aws_auth and state.live_aws_auth is not None
        else set()
    )
    verdicts = []
    for account in sorted(expected | live):
        template = IdentityTemplate(username="<the principal's ARN>", groups=frozenset())
        name = f"{MAP_ACCOUNTS_PREFIX}{account}"
        if account in expected and account in live:
            verdicts.append(Verdict(name, Category.EQUIVALENT, template, "aws-auth mapAccounts", template, "aws-auth"))
        elif account in expected:
            note = "principals of this account without their own access entry no longer sign in"
            verdicts.append(Verdict(name, Category.MISSING, template, "aws-auth mapAccounts", None, "", note=note))
        else:
            note = "the live aws-auth lets every principal of this account in; the reference did not"
            verdicts.append(Verdict(name, Category.EXTRA, None, "", template, "aws-auth mapAccounts", note=note))
    return verdicts
