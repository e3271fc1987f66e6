"""The simulated world the sandbox serves: one `World` shared by the EKS extension and the Kubernetes API.

moto keeps clusters, node groups, Fargate profiles, IAM and STS. What moto lacks (authentication modes,
access entries, cluster updates) and the Kubernetes side of each cluster (ConfigMaps, RBAC objects) live
here. Every read or write happens under `World.lock`, so the two HTTP front ends see one consistent state.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from migrator.model import AccessEntrySpec, AccessScope, AuthMode, PolicyAssociation, ScopeType


@dataclass
class SimEntry:
    """An access entry as EKS stores it (DescribeAccessEntry's fields) plus its policy associations."""

    spec: AccessEntrySpec  # policies live in `associations`, not in spec.policies
    entry_arn: str
    created_at: float
    modified_at: float
    associations: dict[str, dict[str, Any]] = field(default_factory=dict)  # policyArn -> {scope, times}
    tags: dict[str, str] = field(default_factory=dict)
    principal_id: str = ""  # IAM's role/user id: EKS matches on it, so a recreated principal loses its entry
    client_request_token: str | None = None  # makes a retried CreateAccessEntry return this entry


@dataclass
class SimUpdate:
    id: str
    type: str  # "AccessConfigUpdate"
    params: list[dict[str, str]]
    created_at: float
    finishes_at: float
    target_mode: AuthMode | None
    status: str = "InProgress"  # -> Successful | Failed | Cancelled
    errors: list[dict[str, Any]] = field(default_factory=list)
    client_request_token: str | None = None  # makes a retried UpdateClusterConfig return this update


@dataclass
class KubeObject:
    """A stored Kubernetes object; `body` is the full JSON object with metadata.resourceVersion kept current."""

    body: dict[str, Any]


WATCH_HISTORY = 4096  # events kept for watches; an older resourceVersion gets 410 Gone, as from etcd compaction


@dataclass(frozen=True)
class KubeEvent:
    """One change of a stored object, for watches: ADDED, MODIFIED or DELETED, with the object as it became."""

    resource_version: int
    type: str
    key: tuple[str, str, str, str]
    body: dict[str, Any]


@dataclass
class SimCluster:
    name: str
    region: str
    account: str
    partition: str
    mode: AuthMode
    kubernetes_version: str
    platform_version: str
    bootstrap_admin: bool
    creator_arn: str | None
    entries: dict[tuple[str, str, str, str], SimEntry] = field(default_factory=dict)  # Arn.principal_key
    updates: dict[str, SimUpdate] = field(default_factory=dict)
    # Kubernetes side: (apiVersion group path, kind plural, namespace or "", name) -> object
    objects: dict[tuple[str, str, str, str], KubeObject] = field(default_factory=dict)
    resource_version: int = 1000
    kube_events: deque[KubeEvent] = field(default_factory=lambda: deque(maxlen=WATCH_HISTORY))
    uses_hybrid_nodes: bool = False
    rbac_bootstrapped: bool = False  # the API server's bootstrap roles and bindings are stored (kube_bootstrap)

    def next_resource_version(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)

    def entry_specs(self) -> list[AccessEntrySpec]:
        """Entries with their associations folded into `policies`, as the identity model wants them."""
        specs = []
        for entry in self.entries.values():
            policies = tuple(
                PolicyAssociation(
                    arn,
                    AccessScope(
                        ScopeType(assoc["accessScope"]["type"]),
                        tuple(assoc["accessScope"].get("namespaces") or ()),
                    ),
                )
                for arn, assoc in sorted(entry.associations.items())
            )
            spec = entry.spec
            specs.append(AccessEntrySpec(spec.principal_arn, spec.type, spec.username, spec.groups, policies))
        return specs


@dataclass
class SimulationSettings:
    latency_ms: int = 0
    update_seconds: float = 2.0
    rate_limit_tps: float | None = None
    rate_limit_burst: int | None = None
    fault_seed: int = 0
    throttle: float = 0.0
    server_error: float = 0.0
    connection_reset: float = 0.0


@dataclass
class World:
    clusters: dict[tuple[str, str, str], SimCluster] = field(default_factory=dict)  # (account, region, name)
    settings: SimulationSettings = field(default_factory=SimulationSettings)
    lock: threading.RLock = field(default_factory=threading.RLock)
    stats: Counter[str] = field(default_factory=Counter)  # EKS requests, throttles and injected faults
    closed: threading.Event = field(default_factory=threading.Event)  # set when the sandbox stops: ends watches
    kube_base_url: str = ""  # where the Kubernetes API simulator listens (https); DescribeCluster reports it
    kube_ca_data: str = ""  # base64 PEM of the run's CA, DescribeCluster's certificateAuthority.data

    def cluster(self, account: str, region: str, name: str) -> SimCluster | None:
        return self.clusters.get((account, region, name))

    def add_cluster(self, cluster: SimCluster) -> None:
        self.clusters[(cluster.account, cluster.region, cluster.name)] = cluster
