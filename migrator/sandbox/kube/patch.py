"""The patch formats the sandbox's Kubernetes API accepts: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

Strategic-merge patches are applied as merge patches: for ConfigMaps and RBAC objects the API server does the
same, because their lists carry no merge keys; only `$patch`-style directives differ, and `has_directive`
lets the caller refuse those. Pure functions on JSON values; errors carry the HTTP code the server uses.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(400, "BadRequest", f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, parts: list[str]) -> tuple[Any, str]:
    node = document
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise PatchError(422, "Invalid", f"jsonpatch: path element {part!r} not found") from error
    return node, parts[-1]


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 add, remove, replace and test (what clients send for ConfigMaps); others are refused."""
    if not isinstance(operations, list):
        raise PatchError(400, "BadRequest", "a JSON patch must be a list of operations")
    document = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError(400, "BadRequest", "a JSON patch operation must be an object")
        try:
            _apply(document, operation)
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise PatchError(
                422, "Invalid", f"jsonpatch {operation.get('op')} operation does not apply: {error}"
            ) from None
    return document


def _apply(document: Any, operation: dict[str, Any]) -> None:
    op, parts = operation.get("op"), _pointer(str(operation.get("path", "")))
    if not parts:
        raise PatchError(422, "Invalid", "jsonpatch: the whole document cannot be patched")
    parent, last = _parent(document, parts)
    index: Any = (len(parent) if last == "-" else int(last)) if isinstance(parent, list) else last
    exists = (0 <= index < len(parent)) if isinstance(parent, list) else last in parent
    if op == "add":
        if isinstance(parent, list):
            parent.insert(index, copy.deepcopy(operation.get("value")))
        else:
            parent[last] = copy.deepcopy(operation.get("value"))
    elif op in ("remove", "replace", "test"):
        if not exists:
            raise PatchError(422, "Invalid", f"jsonpatch {op} operation does not apply: doc is missing path")
        if op == "remove":
            del parent[index]
        elif op == "replace":
            parent[index] = copy.deepcopy(operation.get("value"))
        elif parent[index] != operation.get("value"):
            raise PatchError(422, "Invalid", f"testing value {operation.get('path')} failed")
    else:
        raise PatchError(415, "UnsupportedMediaType", f"jsonpatch operation {op!r} is not supported here")


def has_directive(patch: Any) -> bool:
    if isinstance(patch, dict):
        return any(str(k).startswith("$") or has_directive(v) for k, v in patch.items())
    if isinstance(patch, list):
        return any(has_directive(v) for v in patch)
    return False
