"""Who may do what on a simulated cluster: RBAC, then the EKS access policies, as an EKS API server decides.

EKS runs its authorizers in this order (eks-facts.md section 2): Kubernetes RBAC first, then the EKS
authorizer, which grants what the access policies associated with the caller's access entry grant within
their scopes. Either can allow; neither denies, so a request is forbidden only when both have no opinion.
The rules themselves are pure (`rules.rbac`, `rules.access_policies`); this module reads the cluster's
stored RBAC objects and turns a "no" into the API server's 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.model import PolicyAssociation
from migrator.rules.access_policies import access_policies_allow
from migrator.rules.identity import Identity
from migrator.rules.rbac import Decision, NonResourceRequest, RbacPolicy, Request, ResourceRequest
from migrator.sandbox.kube import store as kube_store
from migrator.sandbox.kube.store import KubeError
from migrator.sandbox.state import SimCluster

ANONYMOUS_USER = "system:anonymous"
UNAUTHENTICATED_GROUP = "system:unauthenticated"


@dataclass(frozen=True)
class Subject:
    """Whom a request is decided for: the user and groups RBAC sees, and the associations the EKS authorizer
    sees (empty for anyone whose access entry is not known, e.g. an impersonated or anonymous user)."""

    user: str
    groups: tuple[str, ...]
    policies: tuple[PolicyAssociation, ...] = ()

    @classmethod
    def of(cls, identity: Identity | None) -> Subject:
        if identity is None:
            return cls(ANONYMOUS_USER, (UNAUTHENTICATED_GROUP,))
        return cls(identity.username, identity.groups, identity.policies)


def rbac_policy(cluster: SimCluster) -> RbacPolicy:
    """The cluster's RBAC as stored now (so a binding written by one request counts from the next)."""
    return RbacPolicy.from_objects(
        kube_store.objects_of(cluster, kube_store.CLUSTERROLES),
        kube_store.objects_of(cluster, kube_store.ROLES),
        kube_store.objects_of(cluster, kube_store.CLUSTERROLEBINDINGS),
        kube_store.objects_of(cluster, kube_store.ROLEBINDINGS),
    )


def decide(cluster: SimCluster, subject: Subject, request: Request) -> Decision:
    rbac = rbac_policy(cluster).decide(subject.user, subject.groups, request)
    if rbac.allowed:
        return rbac
    grant = access_policies_allow(subject.policies, request)
    if grant.association is not None:
        scope = grant.association.scope
        where = "cluster scope" if not scope.namespaces else f"namespaces {', '.join(scope.namespaces)}"
        return Decision(True, f"EKS: allowed by access policy {grant.association.policy_name} ({where})")
    return rbac  # not allowed; its reason names any binding to a missing role


def authorize(cluster: SimCluster, identity: Identity | None, request: Request) -> None:
    """Return if `identity` (None: anonymous) may make `request`; raise the API server's 403 otherwise."""
    subject = Subject.of(identity)
    decision = decide(cluster, subject, request)
    if not decision.allowed:
        raise forbidden(subject.user, request, decision.reason)


def forbidden(user: str, request: Request, reason: str = "") -> KubeError:
    """The API server's 403 (apiserver `ForbiddenStatusError` wrapped in `NewForbidden`)."""
    message = f'User "{user}" cannot {request.verb}'
    if isinstance(request, NonResourceRequest):
        message += f' path "{request.path}"'
        message = f"forbidden: {message}"
        details: dict[str, str] = {}
    else:
        where = f'in the namespace "{request.namespace}"' if request.namespace else "at the cluster scope"
        message += f' resource "{request.combined_resource}" in API group "{request.api_group}" {where}'
        qualified = f"{request.resource}.{request.api_group}" if request.api_group else request.resource
        subject = f'{qualified} "{request.name}"' if request.name else qualified
        message = f"{subject} is forbidden: {message}"
        details = {"kind": request.resource} | ({"name": request.name} if request.name else {})
        if request.api_group:
            details["group"] = request.api_group
    if reason:
        message += f": {reason}"
    return KubeError(403, "Forbidden", message, details)


def resource_request(
    verb: str, group: str, plural: str, namespace: str | None = "", name: str = "", subresource: str = ""
) -> ResourceRequest:
    return ResourceRequest(verb, group, plural, namespace or "", name, subresource)
