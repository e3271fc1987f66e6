"""Kubernetes RBAC as plain data: a rule and the RBAC objects a live plan read. `rules.rbac` decides with
these, `rules.privilege` compares them with the access policies. Nothing EKS here: `domain` builds on it
(the snapshot's RBAC objects, a planned entry's group conversions), never the other way round."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _strings(value: Any) -> tuple[str, ...]:
    # The API server refuses non-strings here; a stored object that has them grants nothing by them.
    return tuple(v for v in value or () if isinstance(v, str))


@dataclass(frozen=True)
class PolicyRule:
    """One `rules[]` item of a Role or ClusterRole (rbac/v1 PolicyRule)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_object(cls, rule: Mapping[str, Any]) -> PolicyRule:
        names = rule.get("resourceNames")
        resource_names = _strings(names)
        # No resourceNames means every name, so a list whose names are not all strings must not shrink to
        # that: such a rule (the API server refuses it) grants nothing.
        exact_names = not names or (isinstance(names, list | tuple) and len(resource_names) == len(names))
        return cls(
            verbs=_strings(rule.get("verbs")) if exact_names else (),
            api_groups=_strings(rule.get("apiGroups")),
            resources=_strings(rule.get("resources")),
            resource_names=resource_names,
            non_resource_urls=_strings(rule.get("nonResourceURLs")),
        )

    def to_object(self) -> dict[str, Any]:
        """The rule as the API serves it (empty lists left out, as the API server's JSON does)."""
        fields = (
            ("apiGroups", self.api_groups),
            ("nonResourceURLs", self.non_resource_urls),
            ("resourceNames", self.resource_names),
            ("resources", self.resources),
            ("verbs", self.verbs),
        )
        return {key: list(values) for key, values in fields if values or key == "verbs"}

    def describe(self) -> str:
        """One line for people: `get,list coordination.k8s.io/leases`, `get /healthz`."""
        verbs = ",".join(self.verbs)
        if self.non_resource_urls:
            return f"{verbs} {','.join(self.non_resource_urls)}"
        groups = ",".join(g or "core" for g in self.api_groups)
        shown = ",".join(name or '""' for name in self.resource_names)  # "" is a name too, not "any"
        names = f" (names {shown})" if self.resource_names else ""
        return f"{verbs} {groups}/{','.join(self.resources)}{names}"


@dataclass(frozen=True)
class RbacObjects:
    """The cluster's ClusterRoles, Roles, ClusterRoleBindings and RoleBindings as the API served them.

    `available` False: they could not be read (HTTP 403), `reason` says why; the plan says so and goes on.
    """

    cluster_roles: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    roles: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    cluster_role_bindings: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    role_bindings: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    available: bool = True
    reason: str = ""
