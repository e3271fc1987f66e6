"""The tool's domain data: plain frozen data, no I/O, no behaviour beyond small derived views.

Everything that crosses a module boundary (parser -> translator -> planner -> plan file -> executor) is
one of these types, so each stage can be tested with hand-written values.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from enum import StrEnum

from migrator.model.arn import Arn
from migrator.model.rbac import PolicyRule, RbacObjects
from migrator.model.usage import UsageEvidence


class AuthMode(StrEnum):
    CONFIG_MAP = "CONFIG_MAP"
    API_AND_CONFIG_MAP = "API_AND_CONFIG_MAP"
    API = "API"

    @property
    def next(self) -> AuthMode | None:
        """The only mode EKS lets this one move to (one way, no skipping)."""
        return {AuthMode.CONFIG_MAP: AuthMode.API_AND_CONFIG_MAP, AuthMode.API_AND_CONFIG_MAP: AuthMode.API}.get(self)

    @property
    def rank(self) -> int:
        return (AuthMode.CONFIG_MAP, AuthMode.API_AND_CONFIG_MAP, AuthMode.API).index(self)

    @property
    def reads_entries(self) -> bool:
        return self is not AuthMode.CONFIG_MAP

    @property
    def reads_aws_auth(self) -> bool:
        return self is not AuthMode.API


class Section(StrEnum):
    MAP_ROLES = "mapRoles"
    MAP_USERS = "mapUsers"
    MAP_ACCOUNTS = "mapAccounts"


class Severity(StrEnum):
    BLOCKER = "blocker"
    WARNING = "warning"
    INFO = "info"


class EntryType(StrEnum):
    STANDARD = "STANDARD"
    EC2_LINUX = "EC2_LINUX"
    EC2_WINDOWS = "EC2_WINDOWS"
    FARGATE_LINUX = "FARGATE_LINUX"
    EC2 = "EC2"
    HYBRID_LINUX = "HYBRID_LINUX"
    HYPERPOD_LINUX = "HYPERPOD_LINUX"

    @property
    def is_node(self) -> bool:
        return self is not EntryType.STANDARD


class EntryAction(StrEnum):
    CREATE = "create"  # no entry yet: create it and associate its policies
    ADOPT = "adopt"  # an equivalent entry exists (made by EKS, a person, or an earlier run): keep it
    REPAIR_NODE_TYPE = "repair-node-type"  # EKS made a node role's entry with the wrong type: replace it
    SKIP = "skip"  # no entry: the mapping is dead, blocked, or must not be migrated


@dataclass(frozen=True)
class SourceRef:
    """Where a mapping came from: the section, its index there, and the line in the outer file."""

    section: Section
    index: int
    line: int | None = None
    file: str | None = None

    def where(self) -> str:
        location = f"{self.file}:{self.line}" if self.file and self.line else (self.file or "")
        label = f"{self.section.value}[{self.index}]"
        return f"{location} ({label})" if location else label


@dataclass(frozen=True)
class Mapping:
    """One mapRoles or mapUsers entry exactly as written (ARN text untouched)."""

    section: Section
    arn: str
    username: str | None
    groups: tuple[str, ...]
    source: SourceRef
    unknown_keys: tuple[str, ...] = ()
    sso: bool = False  # written in the `sso:` form (dead on EKS)
    # `arn` as aws-auth's reader parsed it (None: not an IAM/STS ARN, or a mapping built by hand), so the plan
    # and apply path need not parse it again (`rules.arn.mapping_arn`). Derived from `arn`: not compared.
    parsed_arn: Arn | None = field(default=None, compare=False, repr=False)

    @property
    def arn_key(self) -> str:
        """aws-iam-authenticator compares ARNs case-insensitively."""
        return self.arn.lower()


@dataclass(frozen=True)
class AccountMapping:
    account: str
    source: SourceRef


@dataclass(frozen=True)
class IgnoredSection:
    """A data key the authenticator reads nobody from, though it holds text: `why` says how it reads it."""

    section: Section
    why: str
    line: int | None = None
    file: str | None = None


@dataclass(frozen=True)
class FieldManager:
    """One `metadata.managedFields` entry: which workflow wrote fields of the object (the request's
    fieldManager, else its User-Agent up to the first '/'), and how (`Update`, or `Apply` for server-side apply)."""

    manager: str
    operation: str


@dataclass(frozen=True)
class ObjectMeta:
    """What an object's metadata says about who writes it: its labels, annotations and field managers."""

    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    managers: tuple[FieldManager, ...] = ()


@dataclass(frozen=True)
class AwsAuth:
    """The parsed aws-auth ConfigMap. `sha256` is of the three data keys as stored, so noise does not count."""

    map_roles: tuple[Mapping, ...] = ()
    map_users: tuple[Mapping, ...] = ()
    map_accounts: tuple[AccountMapping, ...] = ()
    resource_version: str | None = None
    sha256: str = ""
    file: str | None = None
    raw_data: tuple[tuple[str, str], ...] = ()  # the ConfigMap's data keys verbatim, for backup/restore
    ignored_sections: tuple[IgnoredSection, ...] = ()  # nobody in these has access today
    meta: ObjectMeta = ObjectMeta()  # who writes it (Argo CD, Flux, Helm, Terraform, ...): rules/ownership.py

    @property
    def mappings(self) -> tuple[Mapping, ...]:
        return self.map_roles + self.map_users


class ScopeType(StrEnum):
    CLUSTER = "cluster"
    NAMESPACE = "namespace"


@dataclass(frozen=True)
class AccessScope:
    type: ScopeType = ScopeType.CLUSTER
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyAssociation:
    policy_arn: str
    scope: AccessScope = AccessScope()

    @property
    def policy_name(self) -> str:
        return self.policy_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class AccessEntrySpec:
    """An access entry as EKS stores it. username None means "EKS's default for this type"."""

    principal_arn: str
    type: EntryType = EntryType.STANDARD
    username: str | None = None
    groups: tuple[str, ...] = ()
    policies: tuple[PolicyAssociation, ...] = ()


@dataclass(frozen=True)
class NodeGroup:
    name: str
    node_role: str
    ami_type: str = "AL2023_x86_64_STANDARD"

    @property
    def is_windows(self) -> bool:
        return self.ami_type.upper().startswith("WINDOWS")


@dataclass(frozen=True)
class FargateProfile:
    name: str
    pod_execution_role: str


class LookupStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not-found"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class PrincipalLookup:
    """What IAM said about a principal named in aws-auth: its real ARN (with path), or why we do not know."""

    status: LookupStatus
    arn: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class ClusterRef:
    """Which cluster. `region` is None only in an offline plan made without --region (for review: the
    partition was inferred from aws-auth's ARNs, and apply needs a live plan anyway)."""

    name: str
    region: str | None
    account: str
    partition: str = "aws"


@dataclass(frozen=True)
class Snapshot:
    """Everything the planner reads, gathered once, read-only. Offline snapshots leave the live parts empty."""

    cluster: ClusterRef
    mode: AuthMode
    aws_auth: AwsAuth
    entries: tuple[AccessEntrySpec, ...] = ()
    nodegroups: tuple[NodeGroup, ...] = ()
    fargate_profiles: tuple[FargateProfile, ...] = ()
    # keyed by Arn.principal_key rendered as "partition:account:kind:name"
    iam: MappingABC[str, PrincipalLookup] = field(default_factory=dict)
    kubernetes_version: str | None = None
    platform_version: str | None = None
    caller_arn: str | None = None
    offline: bool = False
    uses_hybrid_nodes: bool = False
    bootstrap_admin: bool | None = None  # EKS gives the (hidden) cluster creator an admin entry on leaving CONFIG_MAP
    usage: UsageEvidence | None = None  # who signed in lately (--usage-since); None: not asked
    rbac: RbacObjects | None = None  # the cluster's RBAC objects (--rbac); None: not read


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    principal_arn: str | None = None
    source: SourceRef | None = None


@dataclass(frozen=True)
class GroupConversion:
    """A Kubernetes group of a principal's entry replaced by the EKS access policy that grants what the
    group's bindings grant (`--prefer-access-policies`): the group is left out of `kubernetesGroups` and the
    policy is associated with the scope of its bindings. `gained` and `lost` are the rules the principal gets
    and loses by it, computed from the live cluster's aggregated ClusterRoles (both empty: exact)."""

    group: str
    cluster_role: str  # the built-in ClusterRole its bindings name: cluster-admin, admin, edit or view
    policy: PolicyAssociation
    gained: tuple[PolicyRule, ...] = ()
    lost: tuple[PolicyRule, ...] = ()

    @property
    def exact(self) -> bool:
        return not self.gained and not self.lost


@dataclass(frozen=True)
class PlannedEntry:
    spec: AccessEntrySpec
    action: EntryAction
    source: SourceRef | None = None
    current: AccessEntrySpec | None = None  # the live entry, for adopt/repair-node-type
    # Groups of `spec` replaced by access policies (--prefer-access-policies): `spec` already has the policies
    # and lacks the groups; these say which and what the principal gains and loses by it.
    conversions: tuple[GroupConversion, ...] = ()
