"""Kubernetes object storage of the sandbox: the API server's semantics for the few resources we serve.

Objects live in `SimCluster.objects`, keyed by `(apiVersion, plural, namespace or "", name)`, e.g.
`("v1", "configmaps", "kube-system", "aws-auth")`. Callers hold `World.lock`. What the real API server
does and we copy, because the tool's optimistic concurrency and backup/restore code must meet it here:
- resourceVersion comes from one counter per cluster and changes on every write that changes the object;
  a write that changes nothing keeps it (the API server skips no-op updates);
- create refuses a resourceVersion (HTTP 500, as the API server does) and an existing name (409);
- update and patch with a stale metadata.resourceVersion, and delete with stale preconditions, get 409;
- errors are `Status` objects with the real messages and `details.kind` set to the plural resource name.
- a ClusterRole with an `aggregationRule` gets its `rules` filled from the ClusterRoles its selectors match
  after every ClusterRole write, as the clusterrole-aggregation controller does (`reconcile_aggregation`);
- labels and annotations are kept as written, and `metadata.managedFields` record which field manager set
  which field (`kube_fields`, server-side apply included) for writes made with a manager (every request
  through the API; not the scenario's seeded objects, which no manager wrote).
Patch formats are in `kube_patch`.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from migrator.errors import InputError
from migrator.rules.rbac import ClusterRole, aggregate
from migrator.sandbox.kube import fields as kube_fields
from migrator.sandbox.kube.patch import PatchError, has_directive, json_patch, merge_patch
from migrator.sandbox.state import KubeEvent, KubeObject, SimCluster

RBAC = "rbac.authorization.k8s.io"
COORDINATION = "coordination.k8s.io"
SYSTEM_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "generation")


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()  # what `kubectl get cm` resolves through discovery

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource(RBAC, "v1", "roles", "Role", True),
    Resource(RBAC, "v1", "rolebindings", "RoleBinding", True),
    Resource(RBAC, "v1", "clusterroles", "ClusterRole", False),
    Resource(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource(COORDINATION, "v1", "leases", "Lease", True),
)
CONFIGMAPS = RESOURCES[0]
ROLES, ROLEBINDINGS, CLUSTERROLES, CLUSTERROLEBINDINGS, LEASES = RESOURCES[1:]


def find_resource(group: str, version: str, plural: str) -> Resource | None:
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


def resource_for_kind(api_version: str, kind: str) -> Resource | None:
    for resource in RESOURCES:
        if (resource.api_version, resource.kind) == (api_version, kind):
            return resource
    return None


class KubeError(Exception):
    """An API error, rendered as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(resource: Resource, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return details


def _qualified(resource: Resource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def not_found(resource: Resource, name: str) -> KubeError:
    return KubeError(404, "NotFound", f'{_qualified(resource)} "{name}" not found', _details(resource, name))


def conflict(resource: Resource, name: str, why: str) -> KubeError:
    message = f'Operation cannot be fulfilled on {_qualified(resource)} "{name}": {why}'
    return KubeError(409, "Conflict", message, _details(resource, name))


def bad_request(message: str) -> KubeError:
    return KubeError(400, "BadRequest", message)


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(resource: Resource, namespace: str, name: str) -> tuple[str, str, str, str]:
    return (resource.api_version, resource.plural, namespace if resource.namespaced else "", name)


def _stored(cluster: SimCluster, resource: Resource, namespace: str, name: str) -> KubeObject:
    stored = cluster.objects.get(_key(resource, namespace, name))
    if stored is None:
        raise not_found(resource, name)
    return stored


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata")
    if metadata is None:
        metadata = body["metadata"] = {}
    if not isinstance(metadata, dict):
        raise bad_request("metadata must be an object")
    return metadata


def _check_body(resource: Resource, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"the body of a {resource.kind} must be a JSON object")
    if body.get("kind", resource.kind) != resource.kind or body.get("apiVersion", resource.api_version) != (
        resource.api_version
    ):
        raise bad_request(
            f"the API version in the data ({body.get('apiVersion')}) and kind ({body.get('kind')}) do not match "
            f"{resource.api_version} {resource.kind}"
        )
    return body


def _normalised(resource: Resource, body: dict[str, Any], namespace: str) -> dict[str, Any]:
    """`body` with kind/apiVersion filled in and the URL's namespace checked and set."""
    body = copy.deepcopy(body)
    body["apiVersion"] = resource.api_version
    body["kind"] = resource.kind
    metadata = _metadata(body)
    if resource.namespaced:
        if metadata.get("namespace") not in (None, "", namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    return body


CONFIG_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
CONFIGMAP_MAX_BYTES = 1024 * 1024


def _validate(resource: Resource, body: dict[str, Any], old: dict[str, Any] | None) -> None:
    """The API server's checks that code writing aws-auth and bindings could trip over."""
    name = body["metadata"].get("name")
    invalid = f'{resource.kind}{"." + resource.group if resource.group else ""} "{name}" is invalid'
    if resource.kind == "ConfigMap":
        size = 0
        for field in ("data", "binaryData"):
            values = body.get(field) or {}
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise bad_request(f'ConfigMap in version "v1" cannot be handled: {field} must map keys to strings')
            for key, value in values.items():
                if not CONFIG_KEY_RE.fullmatch(key):
                    raise KubeError(
                        422,
                        "Invalid",
                        f'{invalid}: {field}[{key}]: Invalid value: "{key}": a valid config key must consist of '
                        "alphanumeric characters, '-', '_' or '.'",
                        _details(resource, str(name)),
                    )
                size += len(key) + len(value.encode("utf-8"))
        if size > CONFIGMAP_MAX_BYTES:
            message = f"{invalid}: []: Too long: must have at most {CONFIGMAP_MAX_BYTES} bytes"
            raise KubeError(422, "Invalid", message, _details(resource, str(name)))
    if resource.kind == "Lease":
        _validate_lease(body, invalid, _details(resource, str(name)))
    if resource.kind.endswith("Binding") and old is not None and body.get("roleRef") != old.get("roleRef"):
        message = f"{invalid}: roleRef: Invalid value: {json.dumps(body.get('roleRef'))}: cannot change roleRef"
        raise KubeError(422, "Invalid", message, _details(resource, str(name)))


MICRO_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def _validate_lease(body: dict[str, Any], invalid: str, details: dict[str, Any]) -> None:
    """The Lease spec checks of the API server: a positive duration, RFC 3339 times, a non-negative count."""
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise bad_request('Lease in version "v1" cannot be handled: spec must be an object')
    problems = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        problems.append(f"spec.leaseDurationSeconds: Invalid value: {duration}: must be greater than 0")
    transitions = spec.get("leaseTransitions")
    if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
        problems.append(f"spec.leaseTransitions: Invalid value: {transitions}: must be greater than or equal to 0")
    for field in ("acquireTime", "renewTime"):
        value = spec.get(field)
        if value is not None and (not isinstance(value, str) or not MICRO_TIME_RE.match(value)):
            problems.append(f"spec.{field}: Invalid value: {json.dumps(value)}: not an RFC 3339 time")
    holder = spec.get("holderIdentity")
    if holder is not None and not isinstance(holder, str):
        problems.append("spec.holderIdentity: Invalid value: must be a string")
    if problems:
        raise KubeError(422, "Invalid", f"{invalid}: {', '.join(problems)}", details)


def get(cluster: SimCluster, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(_stored(cluster, resource, namespace, name).body)


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`); set-based ones are refused."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if " in " in term or " notin " in term or "(" in term:
            raise bad_request(f"unsupported label selector {term!r} (the sandbox knows equality-based ones)")
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def list_objects(
    cluster: SimCluster, resource: Resource, namespace: str | None, label_selector: str | None = None
) -> dict[str, Any]:
    """A `<Kind>List`; `namespace` None lists all namespaces. Items carry no kind/apiVersion, as served."""
    items = []
    for (api_version, plural, item_namespace, _), stored in sorted(cluster.objects.items()):
        if (api_version, plural) != (resource.api_version, resource.plural):
            continue
        if namespace is not None and resource.namespaced and item_namespace != namespace:
            continue
        labels = stored.body.get("metadata", {}).get("labels") or {}
        if label_selector and not selector_matches(label_selector, labels):
            continue
        item = copy.deepcopy(stored.body)
        item.pop("kind", None)
        item.pop("apiVersion", None)
        items.append(item)
    return {
        "kind": f"{resource.kind}List",
        "apiVersion": resource.api_version,
        "metadata": {"resourceVersion": str(cluster.resource_version)},
        "items": items,
    }


def create(
    cluster: SimCluster,
    resource: Resource,
    namespace: str,
    body: Any,
    *,
    dry_run: bool = False,
    manager: str | None = None,
    apply: bool = False,
) -> dict[str, Any]:
    """Create it; `manager` (None: a seeded object, which nobody wrote) owns every field, by operation Update,
    or Apply when `apply` (server-side apply of an object that did not exist)."""
    new = _normalised(resource, _check_body(resource, body), namespace)
    metadata = _metadata(new)
    if metadata.get("resourceVersion"):
        raise KubeError(500, "InternalError", "resourceVersion should not be set on objects to be created")
    name = metadata.get("name")
    if not name and metadata.get("generateName"):
        name = metadata["name"] = f"{metadata['generateName']}{uuid.uuid4().hex[:5]}"
    if not name or not isinstance(name, str):
        raise KubeError(422, "Invalid", f"{resource.kind} is invalid: metadata.name: Required value: name is required")
    key = _key(resource, namespace, name)
    if key in cluster.objects:
        message = f'{_qualified(resource)} "{name}" already exists'
        raise KubeError(409, "AlreadyExists", message, _details(resource, name))
    for field in SYSTEM_FIELDS:
        metadata.pop(field, None)
    _validate(resource, new, None)
    if manager is not None and apply:
        kube_fields.created_by_apply(new, manager, resource.api_version, _now())
    elif manager is not None:
        kube_fields.track_update(None, new, manager, resource.api_version, _now())
    metadata["uid"] = str(uuid.uuid4())
    metadata["creationTimestamp"] = _now()
    if dry_run:
        metadata["resourceVersion"] = ""
        return new
    metadata["resourceVersion"] = cluster.next_resource_version()
    cluster.objects[key] = KubeObject(new)
    _event(cluster, "ADDED", key, new)
    _after_write(cluster, resource)
    return copy.deepcopy(new)


def _event(cluster: SimCluster, kind: str, key: tuple[str, str, str, str], body: dict[str, Any]) -> None:
    """Remember a change for watches (`kube_watch`); the body is copied, later writes must not change it."""
    cluster.kube_events.append(KubeEvent(cluster.resource_version, kind, key, copy.deepcopy(body)))


def _write(
    cluster: SimCluster,
    resource: Resource,
    stored: KubeObject,
    new: dict[str, Any],
    dry_run: bool,
    manager: str | None = None,
    *,
    applied: bool = False,
) -> dict[str, Any]:
    """Store `new` over `stored`, keeping the system fields; a write that changes nothing keeps the version.
    managedFields: `manager` owns what it changed (operation Update); `applied`: `new` carries them already
    (server-side apply); no manager: they stay as they were."""
    _validate(resource, new, stored.body)
    metadata, old_metadata = _metadata(new), stored.body["metadata"]
    for field in ("uid", "creationTimestamp"):
        metadata[field] = old_metadata[field]
    if not applied:
        metadata.pop("managedFields", None)  # what a client sends is not taken (kube_fields: simplified)
        if manager is not None:
            kube_fields.track_update(stored.body, new, manager, resource.api_version, _now())
        elif "managedFields" in old_metadata:
            metadata["managedFields"] = copy.deepcopy(old_metadata["managedFields"])
    metadata["resourceVersion"] = old_metadata["resourceVersion"]
    if new == stored.body or dry_run:
        return copy.deepcopy(new)
    metadata["resourceVersion"] = cluster.next_resource_version()
    stored.body = new
    _event(cluster, "MODIFIED", _key(resource, str(metadata.get("namespace") or ""), metadata["name"]), new)
    _after_write(cluster, resource)
    return copy.deepcopy(new)


def _check_version(resource: Resource, name: str, stored: KubeObject, metadata: dict[str, Any]) -> None:
    old = stored.body["metadata"]
    if metadata.get("uid") and metadata["uid"] != old["uid"]:
        raise conflict(
            resource,
            name,
            f"Precondition failed: UID in precondition: {metadata['uid']}, UID in object meta: {old['uid']}",
        )
    if metadata.get("resourceVersion") and metadata["resourceVersion"] != old["resourceVersion"]:
        raise conflict(resource, name, STALE)


def replace(
    cluster: SimCluster,
    resource: Resource,
    namespace: str,
    name: str,
    body: Any,
    *,
    dry_run: bool = False,
    manager: str | None = None,
) -> dict[str, Any]:
    new = _normalised(resource, _check_body(resource, body), namespace)
    metadata = _metadata(new)
    if metadata.get("name") != name:
        raise bad_request(
            f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({name})"
        )
    stored = _stored(cluster, resource, namespace, name)
    _check_version(resource, name, stored, metadata)
    return _write(cluster, resource, stored, new, dry_run, manager)


PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


def patch(
    cluster: SimCluster,
    resource: Resource,
    namespace: str,
    name: str,
    body: Any,
    content_type: str,
    *,
    dry_run: bool = False,
    manager: str | None = None,
) -> dict[str, Any]:
    stored = _stored(cluster, resource, namespace, name)
    try:
        new = _patched(stored.body, body, content_type)
    except PatchError as error:
        raise KubeError(error.code, error.reason, error.message) from None
    if not isinstance(new, dict):
        raise bad_request("the patched object is not an object")
    metadata = _metadata(new)
    if metadata.get("name") != name or (resource.namespaced and metadata.get("namespace") != namespace):
        raise bad_request("the patch would change the object's name or namespace")
    _check_body(resource, new)
    _check_version(resource, name, stored, metadata)
    return _write(cluster, resource, stored, new, dry_run, manager)


APPLY_PATCH = "application/apply-patch+yaml"


def apply_patch(
    cluster: SimCluster,
    resource: Resource,
    namespace: str,
    name: str,
    body: Any,
    *,
    manager: str,
    force: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Server-side apply of the configuration `body` by `manager` (kube_fields): creates the object when it
    does not exist; 409 Conflict for fields another manager owns with another value, unless `force`."""
    config = _normalised(resource, _check_body(resource, body), namespace)
    metadata = _metadata(config)
    if metadata.get("name") != name:
        raise bad_request(
            f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({name})"
        )
    stored = cluster.objects.get(_key(resource, namespace, name))
    if stored is None:
        metadata.pop("resourceVersion", None)
        return create(cluster, resource, namespace, config, dry_run=dry_run, manager=manager, apply=True)
    _check_version(resource, name, stored, metadata)
    try:
        new = kube_fields.applied(
            stored.body, config, manager, force=force, api_version=resource.api_version, now=_now()
        )
    except kube_fields.ApplyConflict as error:
        causes = [
            {"reason": "FieldManagerConflict", "message": f'conflict with "{who}"', "field": f".{'.'.join(path)}"}
            for who, path in error.conflicts
        ]
        raise KubeError(409, "Conflict", str(error), _details(resource, name) | {"causes": causes}) from None
    return _write(cluster, resource, stored, new, dry_run, applied=True)


def _patched(document: dict[str, Any], body: Any, content_type: str) -> Any:
    if content_type == "application/json-patch+json":
        return json_patch(document, body)
    if content_type not in PATCH_TYPES:
        allowed = ", ".join(PATCH_TYPES)
        message = f"the body of the request was in an unknown format - accepted media types include: {allowed}"
        raise KubeError(415, "UnsupportedMediaType", message)
    if not isinstance(body, dict):
        raise bad_request("a merge patch must be a JSON object")
    if content_type.startswith("application/strategic") and has_directive(body):
        raise KubeError(415, "UnsupportedMediaType", "strategic merge directives ($patch, ...) are not simulated")
    return merge_patch(document, body)


def delete(
    cluster: SimCluster, resource: Resource, namespace: str, name: str, options: Any, *, dry_run: bool = False
) -> dict[str, Any]:
    stored = _stored(cluster, resource, namespace, name)
    preconditions = (options.get("preconditions") if isinstance(options, dict) else None) or {}
    old = stored.body["metadata"]
    wanted_rv, wanted_uid = preconditions.get("resourceVersion"), preconditions.get("uid")
    if wanted_uid and wanted_uid != old["uid"]:
        why = f"Precondition failed: UID in precondition: {wanted_uid}, UID in object meta: {old['uid']}"
        raise conflict(resource, name, why)
    if wanted_rv and wanted_rv != old["resourceVersion"]:
        why = (
            f"Precondition failed: ResourceVersion in precondition: {wanted_rv}, ResourceVersion in object meta: "
            f"{old['resourceVersion']}"
        )
        raise conflict(resource, name, why)
    if not dry_run:
        key = _key(resource, namespace, name)
        gone = cluster.objects.pop(key).body
        gone["metadata"]["resourceVersion"] = cluster.next_resource_version()
        _event(cluster, "DELETED", key, gone)
        _after_write(cluster, resource)
    details = _details(resource, name) | {"uid": old["uid"]}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def objects_of(cluster: SimCluster, resource: Resource) -> list[dict[str, Any]]:
    """The stored bodies of one resource in every namespace, by key order (not copies: do not change them)."""
    return [
        stored.body
        for (api_version, plural, _, _), stored in sorted(cluster.objects.items())
        if (api_version, plural) == (resource.api_version, resource.plural)
    ]


def exists_at(cluster: SimCluster, resource: Resource, namespace: str, name: str) -> bool:
    return _key(resource, namespace, name) in cluster.objects


def exists(cluster: SimCluster, body: dict[str, Any]) -> bool:
    resource = resource_for_kind(str(body.get("apiVersion")), str(body.get("kind")))
    metadata = body.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default")
    return resource is not None and _key(resource, namespace, str(metadata.get("name", ""))) in cluster.objects


def _after_write(cluster: SimCluster, resource: Resource) -> None:
    if resource is CLUSTERROLES:
        reconcile_aggregation(cluster)


def reconcile_aggregation(cluster: SimCluster) -> None:
    """Fill the `rules` of every aggregated ClusterRole from the roles its selectors match, as the
    clusterrole-aggregation controller does (a change is a write: a new resourceVersion)."""
    bodies = objects_of(cluster, CLUSTERROLES)
    effective = aggregate([ClusterRole.from_object(body) for body in bodies])
    for body in bodies:
        if not isinstance(body.get("aggregationRule"), dict):
            continue
        rules = [rule.to_object() for rule in effective[str(body["metadata"].get("name", ""))]]
        if body.get("rules") != rules:
            body["rules"] = rules
            body["metadata"]["resourceVersion"] = cluster.next_resource_version()
            _event(cluster, "MODIFIED", _key(CLUSTERROLES, "", str(body["metadata"].get("name", ""))), body)


def load_objects(text: str, what: str) -> list[dict[str, Any]]:
    """The objects in a YAML text: one, several documents, or a `kind: List`."""
    try:
        documents = [d for d in YAML(typ="safe").load_all(text) if d is not None]
    except YAMLError as error:
        raise InputError(f"the {what} YAML does not parse: {error}") from error
    objects: list[dict[str, Any]] = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            objects.extend(document.get("items") or [])
        else:
            objects.append(document)
    for body in objects:
        if not isinstance(body, dict) or "kind" not in body:
            raise InputError(f"the {what} YAML holds something that is not a Kubernetes object: {str(body)[:80]}")
    return objects


def seed(cluster: SimCluster, objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store `objects` with fresh metadata (what the server made is dropped), replacing same-named ones."""
    stored = []
    for body in objects:
        resource = resource_for_kind(str(body.get("apiVersion")), str(body.get("kind")))
        if resource is None:
            known = ", ".join(f"{r.api_version} {r.kind}" for r in RESOURCES)
            raise InputError(f"cannot seed {body.get('apiVersion')} {body.get('kind')} (known: {known})")
        body = copy.deepcopy(body)
        metadata = _metadata(body)
        for field in SYSTEM_FIELDS:
            metadata.pop(field, None)
        body.pop("status", None)
        namespace = str(metadata.get("namespace") or "default") if resource.namespaced else ""
        cluster.objects.pop(_key(resource, namespace, str(metadata.get("name", ""))), None)
        try:
            stored.append(create(cluster, resource, namespace, body))
        except KubeError as error:
            raise InputError(f"cannot seed {resource.kind} {metadata.get('name')!r}: {error.message}") from error
    return stored
