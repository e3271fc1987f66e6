"""authorization.k8s.io/v1 access reviews: what `kubectl auth can-i` and permission checkers ask.

- SelfSubjectAccessReview: may *I* do this? Decided for the caller's own identity, access policies included.
- SubjectAccessReview (and its namespaced twin LocalSubjectAccessReview): may *this user* do it? Decided
  for exactly the user and groups given (the API server adds nothing, not even system:authenticated). The
  EKS authorizer keys on the caller's access entry, which it finds through the identity the authenticator
  made, i.e. through the `extra` fields (`arn`, `principalId`); so here access policies count only when the
  review's `extra.arn` (or `extra.canonicalArn`) names a principal whose access entry the cluster reads now,
  and, when `extra.principalId` is given too, only if it is the id the entry was made for. A review without
  `extra` is decided by RBAC alone, like `kubectl --as`, which also bypasses access policies on EKS
  *(inferred: AWS does not document how its authorizer answers SubjectAccessReviews)*.
- SelfSubjectRulesReview (`kubectl auth can-i --list`): the RBAC rules that apply to the caller in a
  namespace, without the access-policy rules, as on EKS (access-policies.adoc: "you won't see any Kubernetes
  permissions assigned by access policies"); `incomplete` stays false, and bindings to missing roles are
  reported in `evaluationError`.
Creating any of them is itself authorized (verb create on the review resource) before it gets here.
"""

from __future__ import annotations

from typing import Any

from migrator.model import PolicyAssociation
from migrator.rules.arn import ArnError, canonical_caller_arn, parse_arn
from migrator.rules.identity import Identity
from migrator.rules.rbac import NonResourceRequest, PolicyRule, Request, ResourceRequest
from migrator.sandbox.kube.authorize import Subject, decide, rbac_policy
from migrator.sandbox.kube.store import KubeError
from migrator.sandbox.state import SimCluster

AUTHORIZATION = "authorization.k8s.io"
VERSION = "v1"
REVIEWS: dict[str, tuple[str, bool]] = {  # plural -> (kind, namespaced)
    "localsubjectaccessreviews": ("LocalSubjectAccessReview", True),
    "selfsubjectaccessreviews": ("SelfSubjectAccessReview", False),
    "selfsubjectrulesreviews": ("SelfSubjectRulesReview", False),
    "subjectaccessreviews": ("SubjectAccessReview", False),
}


def discovery_resources() -> list[dict[str, Any]]:
    return [
        {"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["create"]}
        for plural, (kind, namespaced) in REVIEWS.items()
    ]


def _invalid(kind: str, field: str, message: str) -> KubeError:
    details = {"kind": kind, "group": AUTHORIZATION, "causes": [{"field": field, "message": message}]}
    return KubeError(422, "Invalid", f'{kind}.{AUTHORIZATION} "" is invalid: {field}: {message}', details)


def _spec(kind: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise _invalid(kind, "spec", "Required value")
    if body.get("kind", kind) != kind or body.get("apiVersion", f"{AUTHORIZATION}/{VERSION}") != (
        f"{AUTHORIZATION}/{VERSION}"
    ):
        raise KubeError(400, "BadRequest", f"the body is not an {AUTHORIZATION}/{VERSION} {kind}")
    spec: dict[str, Any] = body["spec"]
    return spec


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def request_of(kind: str, spec: dict[str, Any]) -> Request:
    """The authorizer attributes a review asks about (exactly one of resource or non-resource attributes)."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        exactly_one = "exactly one of nonResourceAttributes or resourceAttributes must be specified"
        raise _invalid(kind, "spec.resourceAttributes", exactly_one)
    if isinstance(non_resource, dict):
        return NonResourceRequest(_text(non_resource.get("verb")), _text(non_resource.get("path")))
    if not isinstance(resource, dict):
        raise _invalid(kind, "spec.resourceAttributes", "must be an object")
    return ResourceRequest(
        verb=_text(resource.get("verb")),
        api_group=_text(resource.get("group")),
        resource=_text(resource.get("resource")),
        namespace=_text(resource.get("namespace")),
        name=_text(resource.get("name")),
        subresource=_text(resource.get("subresource")),
    )


def _answer(kind: str, spec: dict[str, Any], status: dict[str, Any], namespace: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None} | ({"namespace": namespace} if namespace else {})
    return {
        "kind": kind,
        "apiVersion": f"{AUTHORIZATION}/{VERSION}",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


def _access_status(cluster: SimCluster, subject: Subject, request: Request) -> dict[str, Any]:
    decision = decide(cluster, subject, request)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def policies_of_extra(cluster: SimCluster, extra: Any) -> tuple[PolicyAssociation, ...]:
    """The access policies of the access entry the review's `extra` names (see the module docstring)."""
    if not cluster.mode.reads_entries or not isinstance(extra, dict):
        return ()
    arns = extra.get("arn") or extra.get("canonicalArn") or []
    if not isinstance(arns, list) or len(arns) != 1 or not isinstance(arns[0], str):
        return ()
    try:
        key = canonical_caller_arn(parse_arn(arns[0])).principal_key
    except ArnError:
        return ()
    entry = cluster.entries.get(key)
    if entry is None:
        return ()
    ids = extra.get("principalId") or []
    if entry.principal_id and isinstance(ids, list) and ids and ids[0] != entry.principal_id:
        return ()  # a principal recreated under the same ARN does not match its old entry
    for spec in cluster.entry_specs():
        try:
            if parse_arn(spec.principal_arn).principal_key == key:
                return spec.policies
        except ArnError:
            continue
    return ()


def subject_access_review(cluster: SimCluster, body: Any, namespace: str = "") -> dict[str, Any]:
    kind = "LocalSubjectAccessReview" if namespace else "SubjectAccessReview"
    spec = _spec(kind, body)
    request = request_of(kind, spec)
    if namespace and (not isinstance(request, ResourceRequest) or request.namespace != namespace):
        raise _invalid(kind, "spec.resourceAttributes.namespace", f"must match namespace: {namespace}")
    user, groups = _text(spec.get("user")), spec.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise _invalid(kind, "spec.groups", "must be a list of strings")
    if not user and not groups:
        raise _invalid(kind, "spec.user", "at least one of user or group must be specified")
    subject = Subject(user, tuple(groups), policies_of_extra(cluster, spec.get("extra")))
    return _answer(kind, spec, _access_status(cluster, subject, request), namespace)


def self_subject_access_review(cluster: SimCluster, identity: Identity, body: Any) -> dict[str, Any]:
    kind = "SelfSubjectAccessReview"
    spec = _spec(kind, body)
    return _answer(kind, spec, _access_status(cluster, Subject.of(identity), request_of(kind, spec)))


def _resource_rule(rule: PolicyRule) -> dict[str, Any]:
    fields = (
        ("verbs", rule.verbs),
        ("apiGroups", rule.api_groups),
        ("resources", rule.resources),
        ("resourceNames", rule.resource_names),
    )
    return {key: list(values) for key, values in fields if values or key == "verbs"}


def self_subject_rules_review(cluster: SimCluster, identity: Identity, body: Any) -> dict[str, Any]:
    kind = "SelfSubjectRulesReview"
    spec = _spec(kind, body)
    namespace = _text(spec.get("namespace"))
    rules, errors = rbac_policy(cluster).rules_for(identity.username, identity.groups, namespace)
    status: dict[str, Any] = {
        "resourceRules": [_resource_rule(r) for r in rules if r.resources],
        "nonResourceRules": [
            {"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)} for r in rules if r.non_resource_urls
        ],
        "incomplete": False,
    }
    if errors:
        status["evaluationError"] = errors
    return _answer(kind, spec, status)
