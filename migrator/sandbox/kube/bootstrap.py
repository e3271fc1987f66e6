"""The API server's bootstrap RBAC that matters to who may do what, stored in every simulated cluster.

Taken from kubernetes/kubernetes `plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go` and its
golden files `testdata/cluster-roles.yaml` and `testdata/cluster-role-bindings.yaml`:
- `cluster-admin` (everything) bound to the group system:masters;
- `system:discovery` (GET of /api, /apis, /version, ...) and `system:basic-user` (create
  selfsubjectreviews, selfsubjectaccessreviews, selfsubjectrulesreviews) bound to system:authenticated;
  `system:public-info-viewer` (/healthz, /livez, /readyz, /version) bound to system:authenticated and
  system:unauthenticated;
- the user-facing `admin`, `edit` and `view`, which hold no rules of their own but an aggregationRule, and
  the `system:aggregate-to-*` ClusterRoles that feed them (edit is labelled aggregate-to-admin and view
  aggregate-to-edit, so admin ⊇ edit ⊇ view).
Left out: the controller, node and kube-proxy roles (nothing the tool or a person migrating does touches
them). Like the API server, the sandbox stores these once per cluster when it starts serving it; objects
of the same name from a scenario's `rbac` replace them (a real cluster's own `admin`, exported, included).
"""

from __future__ import annotations

from typing import Any

from migrator.rules.identity import AUTHENTICATED_GROUP, MASTERS_GROUP
from migrator.sandbox.kube import store as kube_store
from migrator.sandbox.state import SimCluster

RBAC_API = "rbac.authorization.k8s.io/v1"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def _metadata(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": _metadata(name, labels), "rules": rules}


def _aggregated(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    body = _cluster_role(name, [], labels)
    body["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {f"{AGGREGATE_TO}{name}": "true"}}]}
    return body


def _binding(name: str, role: str, *groups: str) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API,
        "kind": "ClusterRoleBinding",
        "metadata": _metadata(name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups],
    }


AGGREGATE_TO_ADMIN = [
    _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    _rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], sorted(READ + WRITE)),
]

AGGREGATE_TO_EDIT = [
    _rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], READ),
    _rule([""], ["serviceaccounts"], ["impersonate"]),
    _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
    _rule([""], ["pods/eviction"], ["create"]),
    _rule(
        [""],
        [
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
        WRITE,
    ),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule(
        ["apps"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
        WRITE,
    ),
    _rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
    _rule(["batch"], ["cronjobs", "jobs"], WRITE),
    _rule(
        ["extensions"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "ingresses",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
        ],
        WRITE,
    ),
    _rule(["policy"], ["poddisruptionbudgets"], WRITE),
    _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    _rule(["coordination.k8s.io"], ["leases"], sorted(READ + WRITE)),
]

AGGREGATE_TO_VIEW = [
    _rule(
        [""],
        [
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
        ],
        READ,
    ),
    _rule(
        [""],
        [
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
        ],
        READ,
    ),
    _rule([""], ["namespaces"], READ),
    _rule(["discovery.k8s.io"], ["endpointslices"], READ),
    _rule(
        ["apps"],
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
        READ,
    ),
    _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
    _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    _rule(
        ["extensions"],
        [
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
        ],
        READ,
    ),
    _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
]

DISCOVERY_URLS = [
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
]
PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def bootstrap_objects() -> list[dict[str, Any]]:
    """Fresh copies of the bootstrap ClusterRoles and ClusterRoleBindings (callers may change them)."""
    return [
        _aggregated("admin"),
        _cluster_role(
            "cluster-admin",
            [_rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}],
        ),
        _aggregated("edit", {f"{AGGREGATE_TO}admin": "true"}),
        _cluster_role("system:aggregate-to-admin", AGGREGATE_TO_ADMIN, {f"{AGGREGATE_TO}admin": "true"}),
        _cluster_role("system:aggregate-to-edit", AGGREGATE_TO_EDIT, {f"{AGGREGATE_TO}edit": "true"}),
        _cluster_role("system:aggregate-to-view", AGGREGATE_TO_VIEW, {f"{AGGREGATE_TO}view": "true"}),
        _cluster_role(
            "system:basic-user",
            [
                _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
                _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        _cluster_role("system:discovery", [{"nonResourceURLs": DISCOVERY_URLS, "verbs": ["get"]}]),
        _cluster_role("system:public-info-viewer", [{"nonResourceURLs": PUBLIC_INFO_URLS, "verbs": ["get"]}]),
        _aggregated("view", {f"{AGGREGATE_TO}edit": "true"}),
        _binding("cluster-admin", "cluster-admin", MASTERS_GROUP),
        _binding("system:basic-user", "system:basic-user", AUTHENTICATED_GROUP),
        _binding("system:discovery", "system:discovery", AUTHENTICATED_GROUP),
        _binding("system:public-info-viewer", "system:public-info-viewer", AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP),
    ]


def ensure_bootstrap(cluster: SimCluster) -> None:
    """Store the bootstrap objects once per cluster, keeping any of the same name already there (the caller
    holds World.lock). Deleting one later is not undone, as on an API server until it restarts."""
    if cluster.rbac_bootstrapped:
        return
    cluster.rbac_bootstrapped = True
    missing = [body for body in bootstrap_objects() if not kube_store.exists(cluster, body)]
    kube_store.seed(cluster, missing)
