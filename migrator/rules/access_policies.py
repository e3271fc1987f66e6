"""The Kubernetes permissions of the EKS access policies, as data, and how a scoped association grants them.

Source: the EKS access policy reference, awsdocs/amazon-eks-user-guide
`latest/ug/manage-access/k8s-access/access-policy-reference.adoc` ("Review access policy permissions"),
transcribed table row by table row, in the document's order. Only the policies whose rules the reference
lists are here; the others (Auto Mode, block storage, networking, ...) are described there in prose only, and
are reserved for service-linked roles anyway. eks-facts.md section 2 sums up how they differ from the
upstream user-facing ClusterRoles (Edit and Admin grant less than `edit`/`admin`, AdminView more than
`view`); the privilege review compares against the live cluster's roles, not against this module.

Scopes (`access-policies.adoc`, "Associate access policies with access entries"): a cluster scope grants the
rules everywhere; a namespace scope grants them only to requests in one of its namespaces, so never for
cluster-scoped objects or lists across all namespaces. A namespace may be given with a wildcard: the docs'
one example is `dev-*`, "all namespaces that start with `dev-`". We read that as a trailing `*` meaning
"starts with" and any other text, a `*` elsewhere included, as the exact name *(inferred: the docs say
nothing more)*. EKS does not check that the namespaces exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from migrator.model import PolicyAssociation, ScopeType
from migrator.rules.rbac import NonResourceRequest, PolicyRule, Request, rules_allow

REFERENCE = "awsdocs/amazon-eks-user-guide latest/ug/manage-access/k8s-access/access-policy-reference.adoc"

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")


def _rule(groups: str, resources: str, verbs: Iterable[str]) -> PolicyRule:
    """A table row: API groups and resources as the reference lists them (comma-separated; "" is core)."""
    return PolicyRule(
        verbs=tuple(verbs),
        api_groups=tuple(g.strip() for g in groups.split(",")) if groups else ("",),
        resources=tuple(r.strip() for r in resources.split(",")),
    )


APPS_WRITE = _rule(
    "apps",
    "daemonsets, deployments, deployments/rollback, deployments/scale, replicasets, replicasets/scale, "
    "statefulsets, statefulsets/scale",
    WRITE,
)
APPS_READ = _rule(
    "apps",
    "controllerrevisions, daemonsets, daemonsets/status, deployments, deployments/scale, deployments/status, "
    "replicasets, replicasets/scale, replicasets/status, statefulsets, statefulsets/scale, statefulsets/status",
    READ,
)
HPA_WRITE = _rule("autoscaling", "horizontalpodautoscalers", WRITE)
HPA_READ = _rule("autoscaling", "horizontalpodautoscalers, horizontalpodautoscalers/status", READ)
BATCH_WRITE = _rule("batch", "cronjobs, jobs", WRITE)
BATCH_READ = _rule("batch", "cronjobs, cronjobs/status, jobs, jobs/status", READ)
ENDPOINTSLICES_READ = _rule("discovery.k8s.io", "endpointslices", READ)
EXTENSIONS_WRITE = _rule(
    "extensions",
    "daemonsets, deployments, deployments/rollback, deployments/scale, ingresses, networkpolicies, replicasets, "
    "replicasets/scale, replicationcontrollers/scale",
    WRITE,
)
EXTENSIONS_READ = _rule(
    "extensions",
    "daemonsets, daemonsets/status, deployments, deployments/scale, deployments/status, ingresses, "
    "ingresses/status, networkpolicies, replicasets, replicasets/scale, replicasets/status, "
    "replicationcontrollers/scale",
    READ,
)
NETWORKING_READ = _rule("networking.k8s.io", "ingresses, ingresses/status, networkpolicies", READ)
NETWORKING_WRITE = _rule("networking.k8s.io", "ingresses, networkpolicies", WRITE)
PDB_WRITE = _rule("policy", "poddisruptionbudgets", WRITE)
PDB_READ = _rule("policy", "poddisruptionbudgets, poddisruptionbudgets/status", READ)
CORE_READ = _rule(
    "",
    "configmaps, endpoints, persistentvolumeclaims, persistentvolumeclaims/status, pods, replicationcontrollers, "
    "replicationcontrollers/scale, serviceaccounts, services, services/status",
    READ,
)
CORE_SENSITIVE_READ = _rule("", "pods/attach, pods/exec, pods/portforward, pods/proxy, secrets, services/proxy", READ)
CORE_WRITE = _rule(
    "",
    "configmaps, events, persistentvolumeclaims, replicationcontrollers, replicationcontrollers/scale, secrets, "
    "serviceaccounts, services, services/proxy",
    WRITE,
)
PODS_WRITE = _rule("", "pods, pods/attach, pods/exec, pods/portforward, pods/proxy", WRITE)
IMPERSONATE_SERVICEACCOUNTS = _rule("", "serviceaccounts", ("impersonate",))
CORE_STATUS_READ = _rule(
    "",
    "bindings, events, limitranges, namespaces/status, pods/log, pods/status, replicationcontrollers/status, "
    "resourcequotas, resourcequotas/status",
    READ,
)
NAMESPACES_READ = _rule("", "namespaces", READ)

# Each tuple follows its table in the reference, top to bottom.
POLICY_RULES: Mapping[str, tuple[PolicyRule, ...]] = {
    "AmazonEKSAdminPolicy": (
        APPS_WRITE,
        APPS_READ,
        _rule("authorization.k8s.io", "localsubjectaccessreviews", ("create",)),
        HPA_WRITE,
        HPA_READ,
        BATCH_WRITE,
        BATCH_READ,
        ENDPOINTSLICES_READ,
        EXTENSIONS_WRITE,
        EXTENSIONS_READ,
        NETWORKING_READ,
        NETWORKING_WRITE,
        PDB_WRITE,
        PDB_READ,
        _rule("rbac.authorization.k8s.io", "rolebindings, roles", (*READ, *WRITE)),
        CORE_READ,
        CORE_SENSITIVE_READ,
        CORE_WRITE,
        PODS_WRITE,
        IMPERSONATE_SERVICEACCOUNTS,
        CORE_STATUS_READ,
        NAMESPACES_READ,
    ),
    "AmazonEKSClusterAdminPolicy": (
        PolicyRule(verbs=("*",), api_groups=("*",), resources=("*",)),
        PolicyRule(verbs=("*",), non_resource_urls=("*",)),
    ),
    "AmazonEKSAdminViewPolicy": (PolicyRule(verbs=READ, api_groups=("*",), resources=("*",)),),
    "AmazonEKSEditPolicy": (
        APPS_WRITE,
        APPS_READ,
        HPA_READ,
        HPA_WRITE,
        BATCH_WRITE,
        BATCH_READ,
        ENDPOINTSLICES_READ,
        EXTENSIONS_WRITE,
        EXTENSIONS_READ,
        NETWORKING_WRITE,
        NETWORKING_READ,
        PDB_WRITE,
        PDB_READ,
        NAMESPACES_READ,
        CORE_SENSITIVE_READ,
        IMPERSONATE_SERVICEACCOUNTS,
        PODS_WRITE,
        CORE_WRITE,
        CORE_READ,
        CORE_STATUS_READ,
    ),
    "AmazonEKSViewPolicy": (
        APPS_READ,
        HPA_READ,
        BATCH_READ,
        ENDPOINTSLICES_READ,
        EXTENSIONS_READ,
        NETWORKING_READ,
        PDB_READ,
        CORE_READ,
        CORE_STATUS_READ,
        NAMESPACES_READ,
    ),
    "AmazonEKSSecretReaderPolicy": (_rule("", "secrets", READ),),
    # Reserved for service-linked roles (hybrid nodes); the reference gives its one rule.
    "AmazonEKSHybridPolicy": (PolicyRule(verbs=("list",), api_groups=("*",), resources=("nodes",)),),
}


def policy_rules(policy_name: str) -> tuple[PolicyRule, ...] | None:
    """The rules of an access policy by name; None for a policy whose rules the reference does not list."""
    return POLICY_RULES.get(policy_name)


def namespace_matches(pattern: str, namespace: str) -> bool:
    """Whether a namespace of an access scope covers `namespace` (`dev-*` covers every name starting `dev-`)."""
    if pattern.endswith("*"):
        return namespace.startswith(pattern[:-1])
    return pattern == namespace


def in_scope(association: PolicyAssociation, request: Request) -> bool:
    """Whether the association's scope reaches the request at all (its rules decide the rest)."""
    if association.scope.type is ScopeType.CLUSTER:
        return True
    if isinstance(request, NonResourceRequest) or not request.namespace:
        return False
    return any(namespace_matches(p, request.namespace) for p in association.scope.namespaces)


@dataclass(frozen=True)
class PolicyGrant:
    """Which association allowed a request (None: none did)."""

    association: PolicyAssociation | None

    @property
    def allowed(self) -> bool:
        return self.association is not None


def access_policies_allow(associations: Iterable[PolicyAssociation], request: Request) -> PolicyGrant:
    """The EKS authorizer: the first association whose scope reaches the request and whose rules allow it."""
    for association in associations:
        rules = policy_rules(association.policy_name)
        if rules is not None and in_scope(association, request) and rules_allow(request, rules):
            return PolicyGrant(association)
    return PolicyGrant(None)
