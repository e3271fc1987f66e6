"""RBAC objects for tests: the sandbox's bootstrap ClusterRoles (what a fresh cluster has, with aggregation)
plus bindings written by hand, and an aws-auth that maps one principal per review case."""

from __future__ import annotations

from typing import Any

from migrator.model import RbacObjects
from migrator.sandbox.kube.bootstrap import bootstrap_objects
from tests.support.arns import ACCOUNT, role

RBAC_API = "rbac.authorization.k8s.io/v1"


def cluster_binding(name: str, cluster_role: str, *subjects: tuple[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": k, "name": n} for k, n in subjects],
    }


def role_binding(namespace: str, name: str, cluster_role: str, *subjects: tuple[str, str]) -> dict[str, Any]:
    body = cluster_binding(name, cluster_role, *subjects)
    body["kind"] = "RoleBinding"
    body["metadata"] = {"name": name, "namespace": namespace}
    return body


# `admin` as an operator trimmed it (no aggregation, autoupdate off): AmazonEKSAdminPolicy would widen it.
TRIMMED_ADMIN: dict[str, Any] = {
    "apiVersion": RBAC_API,
    "kind": "ClusterRole",
    "metadata": {"name": "admin", "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
}

# One binding set per review case (the groups are those of MAP_ROLES below).
CASE_BINDINGS: list[dict[str, Any]] = [
    cluster_binding("viewers-view", "view", ("Group", "viewers")),
    role_binding("dev", "editors-edit", "edit", ("Group", "editors")),
    role_binding("stage", "editors-edit", "edit", ("Group", "editors")),
    cluster_binding("platform-cluster-admin", "cluster-admin", ("Group", "platform")),
    cluster_binding("auditors-admin", "admin", ("Group", "auditors")),
    cluster_binding("mixed-view", "view", ("Group", "mixed")),
    role_binding("dev", "mixed-edit", "edit", ("Group", "mixed")),
    cluster_binding("masters-view", "view", ("Group", "system:masters")),
    cluster_binding("blank-alice", "view", ("User", f"arn:aws:sts::{ACCOUNT}:assumed-role/Blank/alice")),
]

MAP_ROLES = f"""\
- rolearn: {role("Admin")}
  username: admin:{{{{SessionName}}}}
  groups: [system:masters]
- rolearn: {role("Viewer")}
  username: viewer:{{{{SessionName}}}}
  groups: [viewers]
- rolearn: {role("Editor")}
  username: editor:{{{{SessionName}}}}
  groups: [editors]
- rolearn: {role("Platform")}
  username: platform:{{{{SessionName}}}}
  groups: [platform]
- rolearn: {role("Auditor")}
  username: auditor:{{{{SessionName}}}}
  groups: [auditors]
- rolearn: {role("Mixed")}
  username: mixed:{{{{SessionName}}}}
  groups: [mixed, lonely]
- rolearn: {role("Blank")}
  groups: [viewers]
"""
CASE_ROLES = ("Admin", "Viewer", "Editor", "Platform", "Auditor", "Mixed", "Blank")


def live_objects(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The bootstrap objects with `extra` added; an extra object replaces a bootstrap one of the same name."""
    names = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in extra}
    kept = [
        o
        for o in bootstrap_objects()
        if (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) not in names
    ]
    return [*kept, *extra]


def rbac_objects(objects: list[dict[str, Any]]) -> RbacObjects:
    kinds = ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")
    cluster_roles, roles, cluster_bindings, role_bindings = (
        tuple(o for o in objects if o["kind"] == kind) for kind in kinds
    )
    return RbacObjects(cluster_roles, roles, cluster_bindings, role_bindings)
