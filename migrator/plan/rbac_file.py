"""`plan --offline --rbac-file F`: the cluster's RBAC from `kubectl get clusterroles,roles,clusterrolebindings,
rolebindings -A -o yaml` (or `-o json`), for reviewing an offline plan. Strict like the aws-auth reader: a file
that is not such a list is refused with where and why, never guessed at."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrator.awsauth.source import load_document
from migrator.errors import SourceError
from migrator.model import RbacObjects

MAX_RBAC_BYTES = 64 * 1024 * 1024
KINDS = ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")
HINT = "export it with: kubectl get clusterroles,roles,clusterrolebindings,rolebindings -A -o yaml"


def load_rbac_file(path: Path) -> RbacObjects:
    label = str(path)
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_RBAC_BYTES + 1)
    except OSError as error:
        raise SourceError(label, None, f"cannot read the file: {error.strerror or error}", hint=HINT) from None
    if len(content) > MAX_RBAC_BYTES:
        raise SourceError(label, None, f"is larger than {MAX_RBAC_BYTES // (1024 * 1024)} MiB", hint=HINT)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(label, None, "is not UTF-8 text", hint=HINT) from None
    document, _ = load_document(text, label)
    return rbac_from_document(document, label)


def rbac_from_document(document: Any, label: str) -> RbacObjects:
    if not isinstance(document, Mapping):
        raise SourceError(label, None, "expected a Kubernetes List of RBAC objects", hint=HINT)
    items = document.get("items") if document.get("kind") == "List" else [document]
    if not isinstance(items, list):
        raise SourceError(label, None, "the List has no `items`", hint=HINT)
    found: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind in KINDS}
    for index, item in enumerate(items):
        kind = item.get("kind") if isinstance(item, Mapping) else None
        if kind not in found:
            raise SourceError(label, None, f"items[{index}] is a {kind!r}, not one of {', '.join(KINDS)}", hint=HINT)
        metadata = item.get("metadata")
        if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
            raise SourceError(label, None, f"items[{index}] ({kind}) has no metadata.name", hint=HINT)
        found[kind].append(item)
    return RbacObjects(
        tuple(found["ClusterRole"]),
        tuple(found["Role"]),
        tuple(found["ClusterRoleBinding"]),
        tuple(found["RoleBinding"]),
    )
