"""An in-memory EKS cluster + Kubernetes API implementing EksGateway and KubeGateway, faithful to
eks-facts.md where the executor can tell the difference:

- modes move one way, one step at a time; asking for anything else fails as EKS does;
- access-entry operations are refused in CONFIG_MAP; creating an existing entry is ResourceInUse
  (ConflictError); the username EKS stores defaults as EKS's does;
- a mode update is InProgress until it has been polled `update_polls` times (describe_update and
  in_progress_updates each count as time passing), then Successful (or `update_outcome`);
- leaving CONFIG_MAP creates entries for node group roles (EC2_LINUX, Windows ones too: the defect),
  Fargate pod execution roles (FARGATE_LINUX) and the cluster creator (admin policy);
- in API mode the Kubernetes API answers only a caller whose entry has cluster-admin.

Fault injection: `fail(op, nth, error)` raises an error on the nth call of an operation; `crash(op, nth,
after=...)` raises `Crash` (a BaseException: the process dies) before or after the call takes effect, and
every later call raises it too until `revive()` (a new process); `hook(op, nth, action)` lets "someone
else" change the cluster at that point.

The Lease (the cluster lock) lives apart: `lease` is the stored one, `lease_calls` lists the lease operations
(they are not in `calls`, which stay the migration's own), and `before_lease(op)` lets "another machine" act
just before a lease operation takes effect (to lose a race). Creating an existing lease or writing against a
stale resourceVersion is a ConflictError, as the API server's 409.

`gather(op, parties)` holds the first `parties` calls of an operation
until all of them are in flight (a barrier: overlap by construction, not by sleeping and hoping). Every
call is recorded; `effective` lists the mutating calls that took effect, which is how tests prove "no
duplicate create, nothing lost".
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from migrator.errors import ConflictError, ForbiddenError, MigratorError, RemoteError, UpdateInProgressError
from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AuthMode,
    EntryType,
    FargateProfile,
    LookupStatus,
    NodeGroup,
    Plan,
    PolicyAssociation,
    PrincipalLookup,
    RbacObjects,
)
from migrator.plan.planfile import plan_from_dict, plan_to_dict
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import live_snapshot
from migrator.ports import ClusterInfo, ConfigMapState, LeaseState, ModeUpdate
from migrator.rules.arn import Arn, entry_key, parse_arn
from migrator.rules.identity import default_username, is_cluster_admin, policy_arn
from tests.support.arns import ACCOUNT, role, user

__all__ = ["ACCOUNT", "role", "user"]  # re-exported for the tests that build on this cluster
MUTATING = frozenset(
    {
        "create_entry",
        "delete_entry",
        "associate_policy",
        "disassociate_policy",
        "start_mode_update",
        "create_config_map",
        "delete_config_map",
    }
)
ADMIN_POLICY = PolicyAssociation(policy_arn("aws", "AmazonEKSClusterAdminPolicy"), AccessScope())


class Crash(BaseException):
    """The process died here. Not an Exception: nothing in the tool may catch it."""


@dataclass
class Fault:
    op: str
    nth: int
    error: MigratorError | None = None
    crash: bool = False
    after: bool = False  # crash after the call took effect (before its caller could journal it)
    action: Callable[[], None] | None = None
    fired: bool = False


@dataclass
class _Update:
    id: str
    target: AuthMode | None  # None: not a mode update (EKS's own platform patching)
    polls_left: int
    status: str = "InProgress"
    errors: tuple[str, ...] = ()


@dataclass
class Call:
    op: str
    args: tuple[Any, ...]
    effective: bool = False


def key(principal_arn: str) -> tuple[str, str, str, str]:
    return parse_arn(principal_arn).principal_key


@dataclass
class FakeCluster:
    name: str = "prod"
    region: str = "us-east-1"
    account: str = ACCOUNT
    mode: AuthMode = AuthMode.CONFIG_MAP
    aws_auth: dict[str, str] | None = None
    nodegroups: Sequence[NodeGroup] = ()
    fargate_profiles: Sequence[FargateProfile] = ()
    creator_arn: str | None = None
    bootstrap_admin: bool | None = True  # CreateCluster's default: EKS gives the creator an admin entry
    caller: str = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"
    update_polls: int = 2
    update_outcome: str = "Successful"
    update_errors: tuple[str, ...] = ()
    op_delay: float = 0.0  # seconds each mutating call takes, so concurrent calls overlap
    entries: dict[tuple[str, str, str, str], AccessEntrySpec] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    dead: bool = False
    in_flight: int = 0
    max_in_flight: int = 0
    lease: LeaseState | None = None
    lease_calls: list[str] = field(default_factory=list)
    before_lease: Callable[[str], None] | None = None
    rbac: list[dict[str, Any]] = field(default_factory=list)  # RBAC objects (apiVersion/kind/metadata/...)
    rbac_forbidden: bool = False  # read_rbac answers 403

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._counts: dict[str, int] = {}
        self._updates: dict[str, _Update] = {}
        self._ids = itertools.count(1)
        self._resource_versions = itertools.count(1000)
        self._lease_versions = itertools.count(1)
        self._barriers: dict[str, tuple[int, threading.Barrier]] = {}
        self.config_map: ConfigMapState | None = None
        if self.aws_auth is not None:
            self.config_map = self._config_map(dict(self.aws_auth))

    # --- test controls -----------------------------------------------------------------------------------

    def fail(self, op: str, nth: int, error: MigratorError) -> None:
        self.faults.append(Fault(op, nth, error=error))

    def crash(self, op: str, nth: int, *, after: bool = False) -> None:
        self.faults.append(Fault(op, nth, crash=True, after=after))

    def hook(self, op: str, nth: int, action: Callable[[], None], *, after: bool = False) -> None:
        self.faults.append(Fault(op, nth, action=action, after=after))

    def gather(self, op: str, parties: int, *, timeout: float = 60.0) -> None:
        """The first `parties` calls of `op` wait inside the call until all of them have started. The timeout
        only turns a run that can never gather them (too little concurrency) into a failure instead of a hang."""
        self._barriers[op] = (parties, threading.Barrier(parties, timeout=timeout))

    def revive(self) -> None:
        """A new process: the cluster keeps its state, the faults that fired are gone."""
        self.dead = False
        self.faults = [f for f in self.faults if not f.fired]

    def put_entry(self, spec: AccessEntrySpec) -> None:
        """Somebody else's change, outside the gateway (not recorded as a call)."""
        with self._lock:
            self.entries[key(spec.principal_arn)] = self._stored(spec)

    def remove_entry(self, principal_arn: str) -> None:
        with self._lock:
            self.entries.pop(key(principal_arn), None)

    def start_platform_update(self, polls: int) -> None:
        """EKS's own patching: an update of another type is in progress for `polls` polls."""
        with self._lock:
            update = _Update(f"platform-{next(self._ids)}", None, polls)
            self._updates[update.id] = update

    def finish_updates(self) -> None:
        """Time passes until every update in progress has ended (however many polls it had left)."""
        with self._lock:
            for update in self._updates.values():
                update.polls_left = min(update.polls_left, 1)
            self._tick()

    def write_aws_auth(self, data: dict[str, str]) -> None:
        with self._lock:
            self.config_map = self._config_map(data)

    def reset_calls(self) -> None:
        """Forget the calls so far (the planner's reads), so `nth` counts from the run under test."""
        with self._lock:
            self.calls.clear()
            self._counts.clear()
            self.max_in_flight = 0

    def mutating_calls(self) -> list[Call]:
        return [c for c in self.calls if c.op in MUTATING]

    def effective(self) -> list[Call]:
        return [c for c in self.calls if c.op in MUTATING and c.effective]

    def ops(self) -> list[str]:
        return [c.op for c in self.calls]

    def state(self) -> tuple[AuthMode, dict[tuple[str, str, str, str], AccessEntrySpec], dict[str, str] | None]:
        data = dict(self.config_map.data) if self.config_map is not None else None
        return self.mode, dict(self.entries), data

    # --- the call machinery ------------------------------------------------------------------------------

    def _call(self, op: str, args: tuple[Any, ...], action: Callable[[], Any]) -> Any:
        with self._lock:
            if self.dead:
                raise Crash(f"the process is dead ({op} after the crash)")
            call = Call(op, args)
            self.calls.append(call)
            nth = self._counts[op] = self._counts.get(op, 0) + 1
            faults = [f for f in self.faults if f.op == op and f.nth == nth and not f.fired]
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            gathered = self._barriers.get(op)
            if gathered is not None and nth <= gathered[0]:
                gathered[1].wait()
            if self.op_delay and op in MUTATING:
                time.sleep(self.op_delay)
            self._fire(faults, after=False)
            with self._lock:
                result = action()
                call.effective = True
            self._fire(faults, after=True)
            return result
        finally:
            with self._lock:
                self.in_flight -= 1

    def _fire(self, faults: list[Fault], *, after: bool) -> None:
        for fault in faults:
            if fault.after is not after:
                continue
            fault.fired = True
            if fault.action is not None:
                fault.action()
            if fault.crash:
                self.dead = True
                raise Crash(f"crash {'after' if after else 'before'} {fault.op} #{fault.nth}")
            if fault.error is not None:
                raise fault.error

    # --- EksGateway --------------------------------------------------------------------------------------

    def describe_cluster(self) -> ClusterInfo:
        def action() -> ClusterInfo:
            return ClusterInfo(
                self.name, self.region, self.account, "aws", self.mode, "1.30", "eks.5", self.bootstrap_admin
            )

        return self._call("describe_cluster", (), action)  # type: ignore[no-any-return]

    def list_nodegroups(self) -> Sequence[NodeGroup]:
        return self._call("list_nodegroups", (), lambda: tuple(self.nodegroups))  # type: ignore[no-any-return]

    def list_fargate_profiles(self) -> Sequence[FargateProfile]:
        return self._call("list_fargate_profiles", (), lambda: tuple(self.fargate_profiles))  # type: ignore[no-any-return]

    def list_entries(self) -> Sequence[AccessEntrySpec]:
        def action() -> tuple[AccessEntrySpec, ...]:
            self._require_entries_mode()
            return tuple(sorted(self.entries.values(), key=lambda e: e.principal_arn))

        return self._call("list_entries", (), action)  # type: ignore[no-any-return]

    def list_entry_arns(self) -> Sequence[str]:
        def action() -> tuple[str, ...]:
            self._require_entries_mode()
            return tuple(sorted(e.principal_arn for e in self.entries.values()))

        return self._call("list_entry_arns", (), action)  # type: ignore[no-any-return]

    def policy_holders(self) -> dict[str, frozenset[str]]:
        def action() -> dict[str, frozenset[str]]:
            self._require_entries_mode()
            holders: dict[str, set[str]] = {}
            for entry in self.entries.values():
                for policy in entry.policies:
                    holders.setdefault(policy.policy_arn, set()).add(entry_key(entry.principal_arn))
            return {arn: frozenset(keys) for arn, keys in holders.items()}

        return self._call("policy_holders", (), action)  # type: ignore[no-any-return]

    def describe_entry(self, principal_arn: str) -> AccessEntrySpec | None:
        def action() -> AccessEntrySpec | None:
            self._require_entries_mode()
            return self.entries.get(key(principal_arn))

        return self._call("describe_entry", (principal_arn,), action)  # type: ignore[no-any-return]

    def describe_entries(
        self, principal_arns: Sequence[str], with_policies: Collection[str]
    ) -> Sequence[AccessEntrySpec]:
        def action() -> tuple[AccessEntrySpec, ...]:
            self._require_entries_mode()
            found = (self.entries.get(key(arn)) for arn in principal_arns)
            return tuple(
                entry if entry_key(entry.principal_arn) in with_policies else replace(entry, policies=())
                for entry in found
                if entry is not None
            )

        return self._call("describe_entries", (tuple(principal_arns),), action)  # type: ignore[no-any-return]

    def create_entry(self, spec: AccessEntrySpec) -> AccessEntrySpec:
        def action() -> AccessEntrySpec:
            self._require_entries_mode()
            if spec.policies:
                raise AssertionError("CreateAccessEntry takes no policies: associate them one by one")
            if spec.type.is_node and (spec.username is not None or spec.groups):
                raise RemoteError(f"InvalidParameterException: no username or groups for type {spec.type.value}")
            if key(spec.principal_arn) in self.entries:
                raise ConflictError(
                    "ResourceInUseException: The specified access entry resource is already in use on this cluster."
                )
            stored = self.entries[key(spec.principal_arn)] = self._stored(spec)
            return stored

        return self._call("create_entry", (spec.principal_arn,), action)  # type: ignore[no-any-return]

    def delete_entry(self, principal_arn: str) -> None:
        def action() -> None:
            self._require_entries_mode()
            self.entries.pop(key(principal_arn), None)  # already gone is the goal of a delete (as the adapter)

        self._call("delete_entry", (principal_arn,), action)

    def associate_policy(self, principal_arn: str, policy: PolicyAssociation) -> PolicyAssociation:
        def action() -> PolicyAssociation:
            entry = self._entry(principal_arn)
            if entry.type.is_node:
                raise RemoteError(f"InvalidParameterException: no access policies for type {entry.type.value}")
            others = tuple(p for p in entry.policies if p.policy_arn != policy.policy_arn)
            self.entries[key(principal_arn)] = replace(entry, policies=(*others, policy))  # replaces the scope
            return policy

        return self._call("associate_policy", (principal_arn, policy.policy_arn), action)  # type: ignore[no-any-return]

    def disassociate_policy(self, principal_arn: str, policy_arn: str) -> None:
        def action() -> None:
            self._require_entries_mode()
            entry = self.entries.get(key(principal_arn))
            if entry is None:
                return  # the adapter treats ResourceNotFoundException (entry or association) as done
            kept = tuple(p for p in entry.policies if p.policy_arn != policy_arn)
            self.entries[key(principal_arn)] = replace(entry, policies=kept)

        self._call("disassociate_policy", (principal_arn, policy_arn), action)

    def start_mode_update(self, mode: AuthMode) -> ModeUpdate:
        def action() -> ModeUpdate:
            if self.mode.next is not mode:
                raise RemoteError(
                    f"InvalidParameterException: Unsupported authentication mode update from {self.mode.value} "
                    f"to {mode.value}"
                )
            for update in self._updates.values():
                if update.status == "InProgress":
                    raise UpdateInProgressError(
                        f"ResourceInUseException: Cluster {self.name} currently has update {update.id} in progress."
                    )
            update = _Update(f"update-{next(self._ids)}", mode, self.update_polls)
            self._updates[update.id] = update
            return ModeUpdate(update.id, update.status)

        return self._call("start_mode_update", (mode.value,), action)  # type: ignore[no-any-return]

    def describe_update(self, update_id: str) -> ModeUpdate:
        def action() -> ModeUpdate:
            self._tick()
            update = self._updates.get(update_id)
            if update is None:
                raise RemoteError(f"ResourceNotFoundException: No update found for ID: {update_id}.")
            return ModeUpdate(update.id, update.status, update.errors)

        return self._call("describe_update", (update_id,), action)  # type: ignore[no-any-return]

    def in_progress_updates(self) -> Sequence[ModeUpdate]:
        def action() -> tuple[ModeUpdate, ...]:
            self._tick()
            return tuple(ModeUpdate(u.id, u.status) for u in self._updates.values() if u.status == "InProgress")

        return self._call("in_progress_updates", (), action)  # type: ignore[no-any-return]

    def caller_arn(self) -> str:
        return self._call("caller_arn", (), lambda: self.caller)  # type: ignore[no-any-return]

    # --- KubeGateway -------------------------------------------------------------------------------------

    def read_config_map(self, namespace: str, name: str) -> ConfigMapState | None:
        def action() -> ConfigMapState | None:
            self._authorize_kube()
            return self.config_map if (namespace, name) == ("kube-system", "aws-auth") else None

        return self._call("read_config_map", (namespace, name), action)  # type: ignore[no-any-return]

    def create_config_map(self, namespace: str, name: str, data: dict[str, str]) -> ConfigMapState:
        def action() -> ConfigMapState:
            self._authorize_kube()
            if self.config_map is not None:
                raise ConflictError(f'AlreadyExists: configmaps "{name}" already exists')
            self.config_map = self._config_map(dict(data))
            return self.config_map

        return self._call("create_config_map", (namespace, name), action)  # type: ignore[no-any-return]

    def delete_config_map(self, state: ConfigMapState) -> None:
        def action() -> None:
            self._authorize_kube()
            if self.config_map is None:
                return  # 404: already gone, as the adapter reports it
            self._precondition(state)
            self.config_map = None

        self._call("delete_config_map", (state.name, state.resource_version), action)

    def self_subject_review(self) -> dict[str, Any]:
        return {}

    def read_rbac(self) -> RbacObjects:
        def action() -> RbacObjects:
            self._authorize_kube()
            if self.rbac_forbidden:
                raise ForbiddenError(
                    "Kubernetes list ClusterRole: HTTP 403 Forbidden: the caller lacks the Kubernetes permission"
                )
            kinds = ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")
            return RbacObjects(*(tuple(dict(o) for o in self.rbac if o.get("kind") == kind) for kind in kinds))

        return self._call("read_rbac", (), action)  # type: ignore[no-any-return]

    # --- the Lease -----------------------------------------------------------------------------------------

    def put_lease(self, lease: LeaseState) -> LeaseState:
        """Another machine's lease, stored as it wrote it (not recorded as a call)."""
        with self._lock:
            self.lease = replace(lease, resource_version=f"lease-{next(self._lease_versions)}")
            return self.lease

    def _lease_op(self, op: str, action: Callable[[], Any]) -> Any:
        if self.before_lease is not None:
            self.before_lease(op)
        with self._lock:
            self.lease_calls.append(op)
            self._authorize_kube()
            return action()

    def read_lease(self, namespace: str, name: str) -> LeaseState | None:
        return self._lease_op("read_lease", lambda: self.lease)  # type: ignore[no-any-return]

    def create_lease(self, lease: LeaseState) -> LeaseState:
        def action() -> LeaseState:
            if self.lease is not None:
                raise ConflictError(f'AlreadyExists: leases.coordination.k8s.io "{lease.name}" already exists')
            return self.put_lease(lease)

        return self._lease_op("create_lease", action)  # type: ignore[no-any-return]

    def update_lease(self, lease: LeaseState) -> LeaseState:
        def action() -> LeaseState:
            self._lease_precondition(lease)
            return self.put_lease(lease)

        return self._lease_op("update_lease", action)  # type: ignore[no-any-return]

    def delete_lease(self, lease: LeaseState) -> None:
        def action() -> None:
            if self.lease is None:
                return
            self._lease_precondition(lease)
            self.lease = None

        self._lease_op("delete_lease", action)

    def _lease_precondition(self, lease: LeaseState) -> None:
        if self.lease is None or lease.resource_version != self.lease.resource_version:
            raise ConflictError(f'Conflict: leases.coordination.k8s.io "{lease.name}": the object has been modified')

    # --- internals ---------------------------------------------------------------------------------------

    def _require_entries_mode(self) -> None:
        if not self.mode.reads_entries:
            raise RemoteError(
                "InvalidRequestException: The cluster's authentication mode must be set to one of "
                "[API, API_AND_CONFIG_MAP] to perform this operation."
            )

    def _entry(self, principal_arn: str) -> AccessEntrySpec:
        self._require_entries_mode()
        entry = self.entries.get(key(principal_arn))
        if entry is None:
            raise RemoteError(f"ResourceNotFoundException: no access entry for {principal_arn}")
        return entry

    def _stored(self, spec: AccessEntrySpec) -> AccessEntrySpec:
        """What EKS stores: the default username filled in (node types keep none visible here)."""
        if spec.type.is_node or spec.username is not None:
            return spec
        return replace(spec, username=default_username(spec.principal_arn, spec.type))

    def _tick(self) -> None:
        """Time passes: every update in progress gets one poll closer to its end."""
        for update in self._updates.values():
            if update.status != "InProgress":
                continue
            update.polls_left -= 1
            if update.polls_left > 0:
                continue
            if update.target is None:
                update.status = "Successful"
            elif self.update_outcome != "Successful":
                update.status, update.errors = self.update_outcome, self.update_errors
            else:
                update.status = "Successful"
                self._switch(update.target)

    def _switch(self, target: AuthMode) -> None:
        leaving_config_map = self.mode is AuthMode.CONFIG_MAP
        self.mode = target
        if not leaving_config_map:
            return
        for nodegroup in self.nodegroups:  # Windows node groups too: EKS's defect
            self.entries.setdefault(key(nodegroup.node_role), AccessEntrySpec(nodegroup.node_role, EntryType.EC2_LINUX))
        for profile in self.fargate_profiles:
            role = profile.pod_execution_role
            self.entries.setdefault(key(role), AccessEntrySpec(role, EntryType.FARGATE_LINUX))
        if self.creator_arn is not None:
            creator = AccessEntrySpec(self.creator_arn, policies=(ADMIN_POLICY,))
            self.entries.setdefault(key(self.creator_arn), self._stored(creator))

    def _authorize_kube(self) -> None:
        if self.mode is not AuthMode.API:
            return
        entry = self.entries.get(key(self.caller))
        if entry is None or not any(is_cluster_admin(p) for p in entry.policies):
            raise RemoteError(f"Unauthorized (401): {self.caller} has no access entry with cluster-admin")

    def _precondition(self, state: ConfigMapState) -> None:
        if self.config_map is None:
            raise RemoteError(f'NotFound: configmaps "{state.name}" not found')
        if state.resource_version != self.config_map.resource_version:
            raise ConflictError(
                f"Conflict: the resourceVersion precondition failed ({state.resource_version} != "
                f"{self.config_map.resource_version})"
            )

    def _config_map(self, data: dict[str, str]) -> ConfigMapState:
        version = str(next(self._resource_versions))
        raw = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system", "resourceVersion": version},
            "data": dict(data),
        }
        return ConfigMapState("kube-system", "aws-auth", dict(data), version, raw)


class FakeIam:
    """Every principal exists, at the path given in `paths` (keyed by lookup_key) or without one."""

    def __init__(self, paths: dict[str, str] | None = None) -> None:
        self.paths = paths or {}

    def lookup(self, arn: Arn) -> PrincipalLookup:
        return PrincipalLookup(LookupStatus.FOUND, self.paths.get(arn.lookup_key, str(arn)))

    def prefetch(self, arns: Sequence[Arn]) -> None:
        pass  # nothing to gain: every lookup is a dictionary read


# --- clusters and plans for tests ------------------------------------------------------------------------

NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
CREATED_AT = "2024-05-01T00:00:00Z"


Mapped = tuple[str, str, Sequence[str]]  # arn, username, groups


def _yaml_list(arn_key: str, items: Sequence[Mapped]) -> str:
    lines: list[str] = []
    for arn, username, groups in items:
        lines.append(f"- {arn_key}: {arn}")
        lines.append(f"  username: '{username}'")
        lines.append("  groups:" if groups else "  groups: []")
        lines.extend(f"  - {group}" for group in groups)
    return "\n".join(lines) + "\n"


def aws_auth_data(roles: Sequence[Mapped], users: Sequence[Mapped] = ()) -> dict[str, str]:
    data = {"mapRoles": _yaml_list("rolearn", roles)}
    if users:
        data["mapUsers"] = _yaml_list("userarn", users)
    return data


def small_cluster(**overrides: Any) -> FakeCluster:
    """Linux and Windows node groups, a Fargate profile, an admin (the caller), a developer and a user."""
    roles: list[Mapped] = [
        (role("nodes"), NODE_USERNAME, ["system:bootstrappers", "system:nodes"]),
        (role("win-nodes"), NODE_USERNAME, ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]),
        (
            role("fargate-pods"),
            "system:node:{{SessionName}}",
            ["system:bootstrappers", "system:nodes", "system:node-proxier"],
        ),
        (role("Admin"), "admin:{{SessionName}}", ["system:masters"]),
        (role("Dev"), "dev:{{SessionName}}", ["developers"]),
    ]
    fields: dict[str, Any] = {
        "aws_auth": aws_auth_data(roles, [(user("alice"), "alice", ["viewers"])]),
        "nodegroups": (
            NodeGroup("linux", role("nodes")),
            NodeGroup("win", role("win-nodes"), "WINDOWS_CORE_2022_x86_64"),
        ),
        "fargate_profiles": (FargateProfile("default", role("fargate-pods")),),
        "creator_arn": role("Creator"),
    }
    fields.update(overrides)
    return FakeCluster(**fields)


def big_cluster(principals: int = 50, **overrides: Any) -> FakeCluster:
    """One node group and `principals` roles; every third is a system:masters admin (entry + policy)."""
    roles: list[Mapped] = [(role("nodes"), NODE_USERNAME, ["system:bootstrappers", "system:nodes"])]
    roles.append((role("Admin"), "admin:{{SessionName}}", ["system:masters"]))
    for number in range(principals - 1):
        groups = ["system:masters", "ops"] if number % 3 == 0 else [f"team-{number % 5}"]
        roles.append((role(f"r{number:03d}"), f"r{number:03d}:{{{{SessionName}}}}", groups))
    fields: dict[str, Any] = {
        "aws_auth": aws_auth_data(roles),
        "nodegroups": (NodeGroup("linux", role("nodes")),),
    }
    fields.update(overrides)
    return FakeCluster(**fields)


def make_plan(fake: FakeCluster, target: AuthMode = AuthMode.API, *, remove_aws_auth: bool = False) -> Plan:
    """A plan made against the fake, the way `plan` does it live, round-tripped through the plan's JSON form."""
    snapshot = live_snapshot(fake, fake, FakeIam(), aws_auth_label="kube-system/aws-auth")
    plan = build_plan(snapshot, PlanOptions(target=target, remove_aws_auth=remove_aws_auth, created_at=CREATED_AT))
    fake.reset_calls()
    return plan_from_dict(json.loads(json.dumps(plan_to_dict(plan))))
