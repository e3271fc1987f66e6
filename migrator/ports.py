"""The seam between the core and the outside world: what the planner's snapshot and the executor need from
one cluster, as a Protocol. `migrator/aws` + `migrator/kube` implement it over boto3 and the kubernetes
client; unit tests implement it over plain dicts. Where a run keeps what it must remember (plans, journals,
backups, pointers, reports, locks) is the StateStore: local files (`migrator/state`) or S3 (`migrator/aws`).

Every method is one observable operation with the tool's own types and errors (RemoteError, ConflictError,
StalePlanError), never a library's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    FargateProfile,
    NodeGroup,
    PolicyAssociation,
    PrincipalLookup,
    RbacObjects,
)
from migrator.rules.arn import Arn


@dataclass(frozen=True)
class ClusterInfo:
    name: str
    region: str
    account: str
    partition: str
    mode: AuthMode
    kubernetes_version: str | None = None
    platform_version: str | None = None
    bootstrap_admin: bool | None = None
    endpoint: str | None = None
    certificate_authority: str | None = None  # base64 PEM, as DescribeCluster gives it
    uses_hybrid_nodes: bool = False
    authenticator_logging: bool = False  # the authenticator control-plane log goes to CloudWatch Logs


@dataclass(frozen=True)
class ConfigMapState:
    """A ConfigMap as read: its data keys verbatim and the resourceVersion to write against."""

    namespace: str
    name: str
    data: dict[str, str] = field(default_factory=dict, hash=False)
    resource_version: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, hash=False)  # the whole object as the API returned it


@dataclass(frozen=True)
class LeaseState:
    """A coordination.k8s.io/v1 Lease as the tool sees it (times are aware UTC datetimes). `holder` None or
    empty means free; `resource_version` is what an update or delete is made against (None: not stored yet)."""

    namespace: str
    name: str
    holder: str | None = None
    duration_seconds: int | None = None
    acquired_at: datetime | None = None
    renewed_at: datetime | None = None
    transitions: int = 0
    resource_version: str | None = None


@dataclass(frozen=True)
class ModeUpdate:
    id: str
    status: str  # InProgress | Successful | Failed | Cancelled
    errors: tuple[str, ...] = ()


class EksGateway(Protocol):
    def describe_cluster(self) -> ClusterInfo: ...
    def list_nodegroups(self) -> Sequence[NodeGroup]: ...
    def list_fargate_profiles(self) -> Sequence[FargateProfile]: ...
    def list_entries(self) -> Sequence[AccessEntrySpec]: ...
    def list_entry_arns(self) -> Sequence[str]:
        """The principal ARNs of every entry (ListAccessEntries alone: no describe)."""
        ...

    def policy_holders(self) -> Mapping[str, frozenset[str]]:
        """Access policy ARN -> entry keys (rules.arn.entry_key) of the entries that hold it, any scope."""
        ...

    def describe_entry(self, principal_arn: str) -> AccessEntrySpec | None: ...
    def describe_entries(
        self, principal_arns: Sequence[str], with_policies: Collection[str]
    ) -> Sequence[AccessEntrySpec]:
        """These entries, read in bounded parallel; policies are listed only for the entry keys in
        `with_policies` (the others come back without any). An entry that does not exist is left out."""
        ...

    def create_entry(self, spec: AccessEntrySpec) -> AccessEntrySpec:
        """Create it; the entry as EKS answered (no policies). ConflictError when the principal has one."""
        ...

    def delete_entry(self, principal_arn: str) -> None: ...
    def associate_policy(self, principal_arn: str, policy: PolicyAssociation) -> PolicyAssociation:
        """Associate it (replacing the scope of the same policy); the association as EKS answered."""
        ...

    def disassociate_policy(self, principal_arn: str, policy_arn: str) -> None: ...
    def start_mode_update(self, mode: AuthMode) -> ModeUpdate: ...
    def describe_update(self, update_id: str) -> ModeUpdate: ...
    def in_progress_updates(self) -> Sequence[ModeUpdate]: ...
    def caller_arn(self) -> str: ...


class LeaseKeeper(Protocol):
    """Where a lease lives, read and written with preconditions: the cluster's Lease (KubeGateway), or a lock
    object in a shared run state (run/lockobject.py). ClusterLease takes and keeps either the same way."""

    def read_lease(self, namespace: str, name: str) -> LeaseState | None: ...
    def create_lease(self, lease: LeaseState) -> LeaseState:
        """Create it; ConflictError when it exists (HTTP 409), so two takers cannot both create it."""
        ...

    def update_lease(self, lease: LeaseState) -> LeaseState:
        """Replace it against `lease.resource_version`; ConflictError when it changed or is gone meanwhile."""
        ...

    def delete_lease(self, lease: LeaseState) -> None:
        """Delete it with a resourceVersion precondition; ConflictError when it changed; gone already is fine."""
        ...


class KubeGateway(LeaseKeeper, Protocol):
    def read_config_map(self, namespace: str, name: str) -> ConfigMapState | None: ...
    def create_config_map(self, namespace: str, name: str, data: dict[str, str]) -> ConfigMapState: ...
    def delete_config_map(self, state: ConfigMapState) -> None: ...
    def self_subject_review(self) -> dict[str, Any]: ...
    def read_rbac(self) -> RbacObjects:
        """Every ClusterRole, Role, ClusterRoleBinding and RoleBinding (all namespaces, every page), as the
        API serves them. Read-only; ForbiddenError when the caller may not list them (HTTP 403)."""
        ...


class IamDirectory(Protocol):
    def lookup(self, arn: Arn) -> PrincipalLookup:
        """The principal's real ARN (with path) from IAM in its own account, NOT_FOUND, or UNRESOLVED + why."""
        ...

    def prefetch(self, arns: Sequence[Arn]) -> None:
        """These principals are about to be looked up: read them in bulk where that takes fewer calls. Only a
        speed-up: `lookup` answers the same with or without it."""
        ...


@dataclass(frozen=True)
class ProbeObservation:
    """What the cluster said when asked, as a principal, who it is (SelfSubjectReview).

    `authenticated` False: the cluster answered 401. `reason` set: the principal could not be probed at all
    (an IAM user, a role the caller may not assume), which is never counted as a pass.
    """

    authenticated: bool = False
    username: str = ""
    groups: tuple[str, ...] = ()
    session_name: str = ""
    reason: str = ""

    @property
    def probed(self) -> bool:
        return not self.reason


class IdentityProber(Protocol):
    def probe(self, principal_arn: str) -> ProbeObservation:
        """Sign in to the cluster as the principal (assume the role, make an EKS token) and ask who it is."""
        ...


class SignInLog(Protocol):
    def authenticator_events(
        self, since: datetime, until: datetime
    ) -> Sequence[tuple[datetime | None, str | None]] | None:
        """(timestamp, message) of every event of the cluster's authenticator log streams in [since, until],
        oldest first; None when the cluster's log group does not exist. Read-only. A timestamp or message the
        service sent as something else is None (the line is then read without it, or counted malformed)."""
        ...


@dataclass(frozen=True)
class StoredObject:
    """An object as read: its bytes and the version a conditional write is made against (S3's ETag, the file
    store's content hash). Versions are opaque: compared for equality, never ordered."""

    data: bytes = field(repr=False)
    version: str


class StateStore(Protocol):
    """Where a run keeps its state, under keys of `/`-separated names (never `..`, never empty parts).

    Writes are whole objects, durable when `put` returns. `if_none_match` creates only (a second writer gets
    WriteConflict, not a silent overwrite); `if_match` replaces only the version read. `location` names the
    store for people (`/path/to/dir` or `s3://bucket/prefix`); `shared` says whether other machines may see
    it (then a lock object keeps their runs out, since this machine's flock cannot)."""

    @property
    def location(self) -> str: ...
    @property
    def shared(self) -> bool: ...
    def where(self, key: str) -> str:
        """The object's full name for messages: `<location>/<key>`."""
        ...

    def child(self, prefix: str) -> StateStore:
        """The same store, its keys under `prefix/`."""
        ...

    def get(self, key: str) -> StoredObject | None: ...
    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        """Write it; the new version. WriteConflict when a condition does not hold."""
        ...

    def list(self, prefix: str = "") -> Sequence[str]:
        """Every key under `prefix` (keys relative to this store), sorted."""
        ...

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Delete it (gone already is fine); WriteConflict when `if_match` does not hold."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file behind the key when the store is a local directory (the journal appends there), else None."""
        ...
