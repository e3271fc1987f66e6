"""Kubernetes RBAC decided the way the API server's RBAC authorizer decides it. Pure.

Shared by the sandbox's Kubernetes simulator (which authorizes every request with it) and the privilege
review (which compares what a principal may do before and after a migration). Taken from kubernetes/kubernetes:
- `rule_allows` is `RuleAllows` of pkg/registry/rbac/validation/rule.go with the matchers of
  pkg/apis/rbac/v1/evaluation_helpers.go: `*` matches any verb, API group or resource; `*/sub` matches the
  subresource `sub` of any resource; empty `resourceNames` matches any name; a non-resource URL rule matches
  the path exactly, or by prefix when it ends in `*` (`/apis/*`).
- `aggregate` is what the clusterrole-aggregation controller (pkg/controller/clusterroleaggregation) writes
  into a ClusterRole with an `aggregationRule`: the rules of every other ClusterRole whose labels match one of
  its selectors, selectors in order, matched roles by name, duplicates dropped; repeated until nothing
  changes, since the controller re-queues on every change (so `admin` gets `edit`'s aggregated rules).
- `RbacPolicy.decide` is the RBAC authorizer (plugin/pkg/auth/authorizer/rbac): ClusterRoleBindings first,
  then the RoleBindings of the request's namespace; a subject applies by User name, Group membership, or
  ServiceAccount (`system:serviceaccount:<ns>:<name>`); a binding to a role that does not exist grants
  nothing and adds `<kind> "<name>" not found` to the reason, as the API server's message does.

Objects come in as the API serves them (camelCase dicts) through `PolicyRule.from_object` and
`RbacPolicy.from_objects`; everything after that is typed and frozen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# PolicyRule is plain data (the plan file carries rules); re-exported here, where RBAC is decided.
from migrator.model.rbac import PolicyRule as PolicyRule

RBAC_GROUP = "rbac.authorization.k8s.io"
ALL = "*"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def _strings(value: Any) -> tuple[str, ...]:
    # The API server refuses non-strings here; a stored object that has them grants nothing by them.
    return tuple(v for v in value or () if isinstance(v, str))


@dataclass(frozen=True)
class ResourceRequest:
    """The authorizer attributes of a request for an API object (`IsResourceRequest() == true`).

    `namespace` is "" for cluster-scoped objects and for lists across all namespaces; `name` is "" for
    collections (list, create)."""

    verb: str
    api_group: str
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True)
class NonResourceRequest:
    """The authorizer attributes of a request for a path that is no object: /api, /apis/..., /version."""

    verb: str
    path: str


Request = ResourceRequest | NonResourceRequest


def _verb_matches(rule: PolicyRule, verb: str) -> bool:
    return ALL in rule.verbs or verb in rule.verbs


def _group_matches(rule: PolicyRule, group: str) -> bool:
    return ALL in rule.api_groups or group in rule.api_groups


def _resource_matches(rule: PolicyRule, combined: str, subresource: str) -> bool:
    for resource in rule.resources:
        if resource in (ALL, combined):
            return True
        # `*/status` names the status subresource of every resource, and nothing else.
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def _name_matches(rule: PolicyRule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def _url_matches(rule: PolicyRule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url in (ALL, path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(request: Request, rule: PolicyRule) -> bool:
    """Whether `rule` grants `request` (upstream `RuleAllows`)."""
    if not _verb_matches(rule, request.verb):
        return False
    if isinstance(request, NonResourceRequest):
        return _url_matches(rule, request.path)
    return (
        _group_matches(rule, request.api_group)
        and _resource_matches(rule, request.combined_resource, request.subresource)
        and _name_matches(rule, request.name)
    )


def rules_allow(request: Request, rules: Iterable[PolicyRule]) -> bool:
    return any(rule_allows(request, rule) for rule in rules)


# --- label selectors and aggregation ---------------------------------------------------------------------


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return labels.get(self.key) not in self.values
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        return False  # the API server refuses other operators; a stored one matches nothing


@dataclass(frozen=True)
class LabelSelector:
    """A metav1.LabelSelector; an empty one selects everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[LabelRequirement, ...] = ()

    @classmethod
    def from_object(cls, selector: Mapping[str, Any]) -> LabelSelector:
        labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
        return cls(
            match_labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
            match_expressions=tuple(
                LabelRequirement(str(e.get("key", "")), str(e.get("operator", "")), _strings(e.get("values")))
                for e in expressions
                if isinstance(e, Mapping)
            ),
        )

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            e.matches(labels) for e in self.match_expressions
        )


@dataclass(frozen=True)
class ClusterRole:
    name: str
    rules: tuple[PolicyRule, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    aggregation: tuple[LabelSelector, ...] | None = None  # None: no aggregationRule

    @classmethod
    def from_object(cls, body: Mapping[str, Any]) -> ClusterRole:
        metadata = body.get("metadata") or {}
        rule = body.get("aggregationRule")
        selectors = None
        if isinstance(rule, Mapping):
            items = rule.get("clusterRoleSelectors") or []
            selectors = tuple(LabelSelector.from_object(s) for s in items if isinstance(s, Mapping))
        return cls(
            name=str(metadata.get("name", "")),
            rules=tuple(PolicyRule.from_object(r) for r in body.get("rules") or () if isinstance(r, Mapping)),
            labels=tuple(sorted((str(k), str(v)) for k, v in (metadata.get("labels") or {}).items())),
            aggregation=selectors,
        )


def aggregate(cluster_roles: Sequence[ClusterRole]) -> dict[str, tuple[PolicyRule, ...]]:
    """The rules of every ClusterRole once the aggregation controller is done with them."""
    rules = {role.name: role.rules for role in cluster_roles}
    by_name = sorted(cluster_roles, key=lambda role: role.name)
    for _ in range(len(by_name) + 1):  # each pass settles at least one more level of a chain
        changed = False
        for role in by_name:
            if role.aggregation is None:
                continue
            gathered: list[PolicyRule] = []
            for selector in role.aggregation:
                for other in by_name:
                    if other.name == role.name or not selector.matches(dict(other.labels)):
                        continue
                    gathered.extend(r for r in rules[other.name] if r not in gathered)
            if tuple(gathered) != rules[role.name]:
                rules[role.name] = tuple(gathered)
                changed = True
        if not changed:
            break
    return rules


# --- bindings and the decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    kind: str  # User, Group, ServiceAccount
    name: str
    namespace: str = ""

    def applies_to(self, user: str, groups: Iterable[str], binding_namespace: str) -> bool:
        if self.kind == "User":
            return self.name == user
        if self.kind == "Group":
            return self.name in groups
        if self.kind == "ServiceAccount":
            namespace = self.namespace or binding_namespace
            return user == f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{self.name}"
        return False

    def describe(self, binding_namespace: str) -> str:
        if self.kind == "ServiceAccount":
            return f'{self.kind} "{self.name}/{self.namespace or binding_namespace}"'
        return f'{self.kind} "{self.name}"'


@dataclass(frozen=True)
class Binding:
    """A RoleBinding (namespace set) or ClusterRoleBinding (namespace "")."""

    name: str
    namespace: str
    role_kind: str  # Role or ClusterRole
    role_name: str
    subjects: tuple[Subject, ...]

    @classmethod
    def from_object(cls, body: Mapping[str, Any], namespace: str) -> Binding:
        metadata = body.get("metadata") or {}
        ref = body.get("roleRef") or {}
        return cls(
            name=str(metadata.get("name", "")),
            namespace=namespace,
            role_kind=str(ref.get("kind", "")),
            role_name=str(ref.get("name", "")),
            subjects=tuple(
                Subject(str(s.get("kind", "")), str(s.get("name", "")), str(s.get("namespace") or ""))
                for s in body.get("subjects") or ()
                if isinstance(s, Mapping)
            ),
        )

    @property
    def kind(self) -> str:
        return "RoleBinding" if self.namespace else "ClusterRoleBinding"

    def describe(self, subject: Subject) -> str:
        """As the API server names the binding that allowed a request (rbac's binding describers)."""
        name = f"{self.name}/{self.namespace}" if self.namespace else self.name
        return f'{self.kind} "{name}" of {self.role_kind} "{self.role_name}" to {subject.describe(self.namespace)}'


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class RbacPolicy:
    """Everything RBAC decides with: effective (aggregated) rules of each role, and the bindings."""

    cluster_roles: Mapping[str, tuple[PolicyRule, ...]]
    roles: Mapping[tuple[str, str], tuple[PolicyRule, ...]]  # (namespace, name)
    cluster_bindings: tuple[Binding, ...]
    role_bindings: tuple[Binding, ...]

    @classmethod
    def from_objects(
        cls,
        cluster_roles: Iterable[Mapping[str, Any]],
        roles: Iterable[Mapping[str, Any]],
        cluster_bindings: Iterable[Mapping[str, Any]],
        role_bindings: Iterable[Mapping[str, Any]],
    ) -> RbacPolicy:
        def namespace(body: Mapping[str, Any]) -> str:
            return str((body.get("metadata") or {}).get("namespace") or "")

        def name(body: Mapping[str, Any]) -> str:
            return str((body.get("metadata") or {}).get("name") or "")

        return cls(
            cluster_roles=aggregate([ClusterRole.from_object(b) for b in cluster_roles]),
            roles={
                (namespace(b), name(b)): tuple(
                    PolicyRule.from_object(r) for r in b.get("rules") or () if isinstance(r, Mapping)
                )
                for b in roles
            },
            cluster_bindings=tuple(sorted((Binding.from_object(b, "") for b in cluster_bindings), key=_by_name)),
            role_bindings=tuple(sorted((Binding.from_object(b, namespace(b)) for b in role_bindings), key=_by_name)),
        )

    def _rules_of(self, binding: Binding) -> tuple[PolicyRule, ...] | None:
        if binding.role_kind == "ClusterRole":
            return self.cluster_roles.get(binding.role_name)
        if binding.role_kind == "Role" and binding.namespace:
            return self.roles.get((binding.namespace, binding.role_name))
        return None

    def _missing(self, binding: Binding) -> str:
        kind = binding.role_kind.lower()
        return f'{kind}.{RBAC_GROUP} "{binding.role_name}" not found'

    def bindings_for(self, user: str, groups: Sequence[str], namespace: str) -> Iterable[Binding]:
        """The bindings that apply to the subject for a request in `namespace` ("" = cluster scope), in the
        order the authorizer visits them."""
        for binding in self.cluster_bindings:
            if any(s.applies_to(user, groups, "") for s in binding.subjects):
                yield binding
        if not namespace:
            return
        for binding in self.role_bindings:
            if binding.namespace == namespace and any(s.applies_to(user, groups, namespace) for s in binding.subjects):
                yield binding

    def rules_for(self, user: str, groups: Sequence[str], namespace: str) -> tuple[tuple[PolicyRule, ...], str]:
        """Every rule granted to the subject in `namespace` (what SelfSubjectRulesReview lists), and the
        errors met on the way (bindings to roles that do not exist)."""
        rules: list[PolicyRule] = []
        errors: list[str] = []
        for binding in self.bindings_for(user, groups, namespace):
            found = self._rules_of(binding)
            if found is None:
                errors.append(self._missing(binding))
            else:
                rules.extend(found)
        return tuple(rules), _errors_reason(errors)

    def decide(self, user: str, groups: Sequence[str], request: Request) -> Decision:
        """Allowed with the binding that allows it as the reason; otherwise not allowed (RBAC never
        denies, it only has no opinion), the reason naming roles that bindings point at and do not exist."""
        namespace = request.namespace if isinstance(request, ResourceRequest) else ""
        errors: list[str] = []
        for binding in self.bindings_for(user, groups, namespace):
            found = self._rules_of(binding)
            if found is None:
                errors.append(self._missing(binding))
                continue
            if rules_allow(request, found):
                subject = next(s for s in binding.subjects if s.applies_to(user, groups, binding.namespace))
                return Decision(True, f"RBAC: allowed by {binding.describe(subject)}")
        return Decision(False, _errors_reason(errors))


def _by_name(binding: Binding) -> tuple[str, str]:
    return (binding.namespace, binding.name)


def _errors_reason(errors: Sequence[str]) -> str:
    if not errors:
        return ""
    if len(errors) == 1:
        return f"RBAC: {errors[0]}"
    return f"RBAC: [{', '.join(errors)}]"
