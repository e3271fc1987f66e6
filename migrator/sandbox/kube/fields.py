"""`metadata.managedFields` as the API server keeps them: which field manager set which field, and how.

Tools are told apart by these entries (rules/ownership.py: Terraform, eksctl, Helm, Argo CD, Flux, kubectl
apply), so the sandbox keeps them as the API server does, for what a client can observe:
- the manager is the request's `fieldManager` query parameter, else the User-Agent up to its first '/'
  (printable characters only, at most 128 bytes: the API server's `managerOrUserAgent`); kubectl names its
  own (`kubectl-client-side-apply`, `kubectl-create`, `kubectl-label`, ...; `kubectl` for --server-side);
- create, update and patch are operation `Update`: the manager comes to own the fields the request changed
  (on create, every field), and other managers lose them; a field removed is nobody's; one `Update` entry per
  manager, its `time` when it last changed something;
- server-side apply (`application/apply-patch+yaml`, operation `Apply`) needs a fieldManager; its manager owns
  exactly the fields of its configuration, a field it applied before and no longer does is removed unless
  another manager owns it, a field another manager owns with another value is a conflict (409) unless
  `force=true`, which takes it over; applying the value another manager set shares the field; applying to
  an object that does not exist creates it;
- entries that own nothing are dropped; a write that changes nothing changes no entry (and keeps the
  resourceVersion).
Simplified, and said so: `fieldsV1` lists leaf fields only (the API server also marks the maps a manager
created with `.`), lists are atomic, and managedFields sent by a client are ignored rather than taken as a
reset. Not tracked, as in the API server: apiVersion, kind, status and the metadata the server makes.
"""

from __future__ import annotations

import copy
import unicodedata
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]

MAX_MANAGER_BYTES = 128  # validation.FieldManagerMaxLength
UPDATE, APPLY = "Update", "Apply"
_UNTRACKED_TOP = frozenset({"apiVersion", "kind", "status"})
_UNTRACKED_METADATA = frozenset(
    {
        "name",
        "namespace",
        "generateName",
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
        "managedFields",
    }
)


def _printable(text: str) -> bool:
    # Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
    return text == " " or unicodedata.category(text)[0] in "LMNPS"


def manager_from_user_agent(user_agent: str) -> str:
    """The API server's default manager: the User-Agent before its first '/', printable characters only,
    cut at 128 bytes (`prefixFromUserAgent`)."""
    kept, size = [], 0
    for character in user_agent.split("/", 1)[0]:
        if not _printable(character):
            continue
        width = len(character.encode("utf-8"))
        if size + width > MAX_MANAGER_BYTES:
            break
        kept.append(character)
        size += width
    return "".join(kept)


def invalid_manager(manager: str) -> str | None:
    """Why the API server refuses an explicit fieldManager, or None."""
    if len(manager.encode("utf-8")) > MAX_MANAGER_BYTES:
        return f"must be no more than {MAX_MANAGER_BYTES} characters"
    if not all(_printable(character) for character in manager):
        return "must only contain printable characters"
    return None


def leaves(body: dict[str, Any]) -> dict[Path, Any]:
    """Every tracked field of an object, by path, with its value: maps are walked, anything else (a scalar, a
    list, an empty map) is a leaf."""
    found: dict[Path, Any] = {}
    for key, value in body.items():
        if key in _UNTRACKED_TOP:
            continue
        if key == "metadata" and isinstance(value, dict):
            for meta_key, meta_value in value.items():
                if meta_key not in _UNTRACKED_METADATA:
                    _walk(("metadata", meta_key), meta_value, found)
            continue
        _walk((key,), value, found)
    return found


def _walk(path: Path, value: Any, found: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _walk((*path, str(key)), item, found)
    else:
        found[path] = value


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: set[Path] = field(default_factory=set)

    def to_object(self) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for path in sorted(self.fields):
            node = tree
            for part in path:
                node = node.setdefault(f"f:{part}", {})
        return {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": tree,
        }


def entries_of(body: dict[str, Any]) -> list[Entry]:
    """The managedFields the store keeps on `body` (written by `to_object`)."""
    entries = []
    for item in (body.get("metadata") or {}).get("managedFields") or ():
        paths: set[Path] = set()
        _paths(item.get("fieldsV1") or {}, (), paths)
        entries.append(
            Entry(item["manager"], item["operation"], item.get("apiVersion", ""), item.get("time", ""), paths)
        )
    return entries


def _paths(tree: dict[str, Any], prefix: Path, found: set[Path]) -> None:
    for key, child in tree.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        if child:
            _paths(child, path, found)
        else:
            found.add(path)


def _store(body: dict[str, Any], entries: list[Entry]) -> None:
    metadata = body.setdefault("metadata", {})
    kept = [entry.to_object() for entry in entries if entry.fields]
    if kept:
        metadata["managedFields"] = kept
    else:
        metadata.pop("managedFields", None)


def _own(entries: list[Entry], manager: str, operation: str, api_version: str) -> Entry:
    for entry in entries:
        if (entry.manager, entry.operation) == (manager, operation):
            return entry
    entry = Entry(manager, operation, api_version, "")
    entries.append(entry)
    return entry


def _changes(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[set[Path], set[Path]]:
    """(fields set or changed, fields removed) from `old` to `new`."""
    before, after = leaves(old) if old is not None else {}, leaves(new)
    changed = {path for path, value in after.items() if path not in before or before[path] != value}
    return changed, set(before) - set(after)


def track_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, api_version: str, now: str) -> None:
    """Set `new`'s managedFields after `manager` wrote it over `old` (None: created it) with create, update or
    patch: it owns what it changed, nobody owns what it removed."""
    entries = entries_of(old) if old is not None else []
    changed, removed = _changes(old, new)
    for entry in entries:
        entry.fields -= changed | removed
    if changed:
        mine = _own(entries, manager, UPDATE, api_version)
        mine.fields |= changed
        mine.time, mine.api_version = now, api_version
    _store(new, entries)


class ApplyConflict(Exception):
    """Fields another manager owns with another value than the applied configuration's."""

    def __init__(self, conflicts: list[tuple[str, Path]], api_version: str) -> None:
        self.conflicts = conflicts
        with_whom = ", ".join(f'"{manager}"' for manager in sorted({manager for manager, _ in conflicts}))
        if len(conflicts) == 1:
            message = f"Apply failed with 1 conflict: conflict with {with_whom} using {api_version}: "
            message += f".{'.'.join(conflicts[0][1])}"
        else:
            fields = "".join(f"\n- .{'.'.join(path)}" for _, path in conflicts)
            message = f"Apply failed with {len(conflicts)} conflicts: conflicts with {with_whom} using {api_version}:"
            message += fields
        super().__init__(message)


def applied(
    old: dict[str, Any], config: dict[str, Any], manager: str, *, force: bool, api_version: str, now: str
) -> dict[str, Any]:
    """`old` after `manager` applied `config` (server-side apply), its managedFields included; ApplyConflict
    when another manager owns a field the configuration sets to another value and `force` is off."""
    entries = entries_of(old)
    wanted, current = leaves(config), leaves(old)
    others = [entry for entry in entries if (entry.manager, entry.operation) != (manager, APPLY)]
    conflicts = sorted(
        (entry.manager, path)
        for path, value in wanted.items()
        if path in current and current[path] != value
        for entry in others
        if path in entry.fields
    )
    if conflicts and not force:
        raise ApplyConflict(conflicts, api_version)
    previous = next((e.fields for e in entries if (e.manager, e.operation) == (manager, APPLY)), set())
    new = copy.deepcopy(old)
    for path, value in wanted.items():
        _set(new, path, copy.deepcopy(value))
    for path in previous - set(wanted):
        if not any(path in entry.fields for entry in others):
            _remove(new, path)
    changed, removed = _changes(old, new)
    for entry in others:
        entry.fields -= changed | removed
    mine = _own(entries, manager, APPLY, api_version)
    if mine.fields != set(wanted) or changed:
        mine.time = now
    mine.fields, mine.api_version = set(wanted), api_version
    _store(new, entries)
    return new


def created_by_apply(new: dict[str, Any], manager: str, api_version: str, now: str) -> None:
    """`new`, created by applying it: its manager owns every field of it, as an Apply entry."""
    _store(new, [Entry(manager, APPLY, api_version, now, set(leaves(new)))])


def _set(body: dict[str, Any], path: Path, value: Any) -> None:
    node = body
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _remove(body: dict[str, Any], path: Path) -> None:
    """Remove the field, and the maps it leaves empty (but never the object's top level)."""
    trail: list[dict[str, Any]] = [body]
    for part in path[:-1]:
        child = trail[-1].get(part)
        if not isinstance(child, dict):
            return
        trail.append(child)
    trail[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):
        if trail[depth]:
            break
        trail[depth - 1].pop(path[depth - 1], None)
