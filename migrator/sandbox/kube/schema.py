"""What the simulator tells clients about its types: the OpenAPI v3 index kubectl reads, and strict field checks.

kubectl (1.27 and later) validates `apply -f`/`create -f` on the server: it reads `/openapi/v3`, finds the
group-version's document, and when the PATCH operation of the kind lists a `fieldValidation` query
parameter it sends `fieldValidation=Strict` and leaves the checking to the server. With no OpenAPI at all
it falls back to downloading the v2 document and fails ("failed to download openapi"). So the simulator
serves a small but true v3 document per group-version: one path per operation kubectl looks up, marked
with `x-kubernetes-group-version-kind`, and no schemas (kubectl then computes strategic-merge patches from
its own built-in types, which know ConfigMaps and RBAC objects). Older kubectl (1.20, Debian's) asks for the
v2 document in protobuf, which is not served: use `--validate=false` there.

`unknown_fields` is the server's half: a strict request naming a field the kind does not have is refused
as the API server refuses it ("strict decoding error: unknown field ...").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from migrator.sandbox.kube.store import RESOURCES, Resource

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
TYPE_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
KIND_FIELDS: dict[str, frozenset[str]] = {
    "ConfigMap": frozenset({"data", "binaryData", "immutable"}),
    "Role": frozenset({"rules"}),
    "ClusterRole": frozenset({"rules", "aggregationRule"}),
    "RoleBinding": frozenset({"subjects", "roleRef"}),
    "ClusterRoleBinding": frozenset({"subjects", "roleRef"}),
    "Lease": frozenset({"spec"}),
}


def unknown_fields(kind: str, body: Any) -> list[str]:
    """Top-level and metadata fields of `body` that a `kind` object does not have, as the server names them."""
    if not isinstance(body, dict):
        return []
    known = TYPE_FIELDS | KIND_FIELDS.get(kind, frozenset())
    unknown = [f'unknown field "{key}"' for key in body if key not in known]
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        unknown += [f'unknown field "metadata.{key}"' for key in metadata if key not in OBJECT_META_FIELDS]
    return unknown


FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "description": "Ignore, Warn or Strict: what the server does with unknown or duplicate fields.",
    "schema": {"type": "string", "uniqueItems": True},
}


def group_version_path(group: str, version: str) -> str:
    """The OpenAPI v3 index key of a group-version: `api/v1` or `apis/<group>/<version>`."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _group_versions() -> dict[str, list[Resource]]:
    by_path: dict[str, list[Resource]] = {}
    for resource in RESOURCES:
        by_path.setdefault(group_version_path(resource.group, resource.version), []).append(resource)
    return by_path


def _operation(resource: Resource, verb: str) -> dict[str, Any]:
    return {
        "operationId": f"{verb}{resource.kind}",
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
        # Inline, not a $ref: kubectl before 1.29 only looks for the parameter's name in the operation itself.
        "parameters": [FIELD_VALIDATION] if verb in ("post", "put", "patch") else [],
        "responses": {"200": {"description": "OK"}},
    }


def group_version_document(path: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group-version, None when the simulator has no such group-version."""
    resources = _group_versions().get(path)
    if resources is None:
        return None
    paths: dict[str, Any] = {}
    for resource in resources:
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        base = f"/{path}{scope}/{resource.plural}"
        paths[base] = {"get": _operation(resource, "list"), "post": _operation(resource, "post")}
        paths[f"{base}/{{name}}"] = {
            "get": _operation(resource, "get"),
            "put": _operation(resource, "put"),
            "patch": _operation(resource, "patch"),
            "delete": _operation(resource, "delete"),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (aws-auth-migrate sandbox)", "version": "unversioned"},
        "paths": paths,
    }


def index(prefix: str) -> dict[str, Any]:
    """`/openapi/v3`: each group-version's document, by a URL relative to the server (the cluster's prefix)."""
    paths = {}
    for path in _group_versions():
        digest = hashlib.sha256(json.dumps(group_version_document(path), sort_keys=True).encode()).hexdigest()
        paths[path] = {"serverRelativeURL": f"{prefix}/openapi/v3/{path}?hash={digest.upper()[:128]}"}
    return {"paths": paths}
