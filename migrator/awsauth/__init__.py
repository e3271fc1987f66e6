"""Parse and validate the aws-auth ConfigMap (eks-facts.md section 4). Pure, except `load_aws_auth_file`.

The ConfigMap comes as `kubectl get configmap aws-auth -n kube-system -o yaml` (or `-o json`) output, or as
the object the Kubernetes API returns. Its `mapRoles`, `mapUsers` and `mapAccounts` keys hold YAML inside
strings; they are parsed too, and every problem is reported as `SourceError(file, line, message)` with the
line in the *outer* file whenever it can be known.

The authenticator is lenient (it skips what it cannot read, so a typo silently drops mappings); this parser
is strict and refuses to go on, because a plan made from a half-read aws-auth would lose access. It does not
judge what parses: an STS ARN under mapRoles, a role path, the account root and the like are the
translator's findings, not parse errors.

This module is the public API and the ConfigMap level (bytes to text, kind, metadata, data). The rest:
- `awsauth_source`: loading YAML/JSON text, and mapping positions to lines a person can open;
- `awsauth_sections`: the YAML inside mapRoles, mapUsers and mapAccounts, and the authenticator's rules for it.

`yamlsource` is not aws-auth's: it is the line-numbered YAML reader the inventory and scenario loaders share.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Mapping as MappingABC
from pathlib import Path
from typing import Any

from migrator.awsauth.golang import FieldMatch, go_trim_space, json_field
from migrator.awsauth.sections import parse_accounts, parse_mappings
from migrator.awsauth.source import Positions, describe, line1, load_document, node_line0
from migrator.errors import SourceError
from migrator.model import (
    AWS_AUTH_NAME,
    AWS_AUTH_NAMESPACE,
    AccountMapping,
    AwsAuth,
    FieldManager,
    IgnoredSection,
    Mapping,
    ObjectMeta,
    Section,
)

__all__ = [
    "AWS_AUTH_NAME",
    "AWS_AUTH_NAMESPACE",
    "DATA_KEYS",
    "MAX_BYTES",
    "data_sha256",
    "load_aws_auth_file",
    "object_meta",
    "parse_aws_auth",
    "parse_configmap_object",
]

DATA_KEYS = (Section.MAP_ROLES.value, Section.MAP_USERS.value, Section.MAP_ACCOUNTS.value)
MAX_BYTES = 1024 * 1024  # a ConfigMap cannot hold more than 1 MiB, so anything larger is not one

_EXPORT_HINT = "export it with: kubectl get configmap aws-auth -n kube-system -o yaml > aws-auth.yaml"

# The authenticator skips a data value that is blank or one of these after strings.TrimSpace (configmap.go,
# isSkippable).
_SKIPPABLE = frozenset(("", "``", '""', "''"))


# --- public API ------------------------------------------------------------------------------------------


def load_aws_auth_file(path: str | Path) -> AwsAuth:
    """Read and parse an aws-auth file; the label in errors and in `AwsAuth.file` is the path as given."""
    label = str(path)
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SourceError(label, None, "no such file", hint=_EXPORT_HINT) from None
    except IsADirectoryError:
        raise SourceError(label, None, "is a directory, not an aws-auth file") from None
    except OSError as exc:
        raise SourceError(label, None, f"cannot read the file: {exc.strerror or exc}") from None
    return parse_aws_auth(content, label)


def parse_aws_auth(text: str | bytes, file: str) -> AwsAuth:
    """Parse the aws-auth ConfigMap as YAML or JSON kubectl output; raise SourceError for anything malformed.

    `sso:` entries of mapRoles parse into a Mapping with `sso=True` and the synthetic
    `arn = "sso:<accountID>:<permissionSetName>"` (no ARN exists for them; they are dead on EKS).
    """
    source, bom = _decode(text, file)
    if not source.strip():
        raise SourceError(file, None, "the file is empty: expected the aws-auth ConfigMap", hint=_EXPORT_HINT)
    document, tree = load_document(source, file, bom=bom)
    return _from_configmap(document, Positions(file, tree), strict=True)


def parse_configmap_object(obj: dict[str, Any], file: str) -> AwsAuth:
    """Parse the aws-auth ConfigMap as the Kubernetes API returns it (JSON form, camelCase keys).

    There is no outer file: the lines in SourceRefs count inside each embedded block, and errors name that
    line in their message. `kind` and `metadata.name` are checked when present (the caller fetched the
    object by name). Otherwise the same rules as `parse_aws_auth`.
    """
    return _from_configmap(obj, Positions(file, None, relative_blocks=True), strict=False)


def object_meta(obj: dict[str, Any], file: str) -> ObjectMeta:
    """The labels, annotations and field managers of a ConfigMap as the Kubernetes API returns it: who
    writes it (rules/ownership.py), read again right before aws-auth is deleted."""
    metadata = obj.get("metadata")
    return _object_meta(metadata if isinstance(metadata, dict) else {}, Positions(file, None, relative_blocks=True))


def data_sha256(data: MappingABC[str, str]) -> str:
    """The content hash of aws-auth: the three mapping keys' values as stored, so metadata does not count."""
    relevant = {key: data[key] for key in DATA_KEYS if key in data}
    # ensure_ascii keeps the text encodable whatever it holds (even lone surrogates from JSON escapes).
    canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# --- reading text ----------------------------------------------------------------------------------------


def _decode(text: str | bytes, file: str) -> tuple[str, bool]:
    """The text, and whether it began with a byte order mark (dropped here)."""
    if isinstance(text, str):
        size = len(text) if len(text) > MAX_BYTES else len(text.encode("utf-8", "surrogatepass"))
        _check_size(size, file)
        if "\x00" in text:
            raise SourceError(file, None, "is a binary file (it contains NUL bytes), not an aws-auth ConfigMap")
        return text.removeprefix("\ufeff"), text.startswith("\ufeff")
    _check_size(len(text), file)
    # Windows PowerShell 5 writes `kubectl ... > file` as UTF-16 with a byte order mark.
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if text.startswith(bom) and not text.startswith(codecs.BOM_UTF32_LE):
            try:
                return text[len(bom) :].decode(codec), True
            except UnicodeDecodeError:
                raise SourceError(file, None, "starts with a UTF-16 byte order mark but is not UTF-16 text") from None
    if b"\x00" in text:
        line = text.count(b"\n", 0, text.index(b"\x00")) + 1
        raise SourceError(file, line, "is a binary file (it contains NUL bytes), not an aws-auth ConfigMap")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = text.count(b"\n", 0, exc.start) + 1
        bad = text[exc.start : exc.start + 1].hex()
        raise SourceError(file, line, f"is not UTF-8 text (byte 0x{bad}); save the file as UTF-8") from None
    return decoded.removeprefix("\ufeff"), decoded.startswith("\ufeff")


def _check_size(size: int, file: str) -> None:
    if size > MAX_BYTES:
        raise SourceError(file, None, "is larger than 1 MiB, and a ConfigMap holds at most 1 MiB: this is not aws-auth")


# --- the ConfigMap -----------------------------------------------------------------------------------------


def _from_configmap(obj: Any, pos: Positions, *, strict: bool) -> AwsAuth:
    if not isinstance(obj, dict):
        raise SourceError(
            pos.file,
            line1(node_line0(obj)),
            f"expected the aws-auth ConfigMap (a mapping with kind: ConfigMap), found {describe(obj)}",
            hint=_EXPORT_HINT,
        )
    _check_spelling(obj, _CONFIGMAP_FIELDS, pos, ())
    _check_kind(obj, pos, strict=strict)
    metadata = _metadata(obj, pos, strict=strict)
    _check_spelling(metadata, _METADATA_FIELDS, pos, ("metadata",))
    data = _data(obj, pos)
    file = pos.file
    map_roles, roles_ignored = _mappings(data, Section.MAP_ROLES, pos)
    map_users, users_ignored = _mappings(data, Section.MAP_USERS, pos)
    return AwsAuth(
        map_roles=map_roles,
        map_users=map_users,
        map_accounts=_accounts(data, pos),
        resource_version=_resource_version(metadata, pos),
        sha256=data_sha256(data),
        file=file,
        raw_data=tuple(sorted(data.items())),
        ignored_sections=tuple(ignored for ignored in (roles_ignored, users_ignored) if ignored is not None),
        meta=_object_meta(metadata, pos),
    )


_CONFIGMAP_FIELDS = ("apiVersion", "kind", "metadata", "data")
_METADATA_FIELDS = ("name", "namespace", "resourceVersion", "labels", "annotations", "managedFields")


def _check_spelling(obj: dict[str, Any], fields: tuple[str, ...], pos: Positions, path: tuple[str, ...]) -> None:
    """A key Go's encoding/json would read as one of `fields` (it matches case-insensitively, with Unicode
    folding) must be spelled as the field is: `Data:` is the data to a Go reader and nothing to a strict one."""
    for key in obj:
        if not isinstance(key, str):
            continue
        match, field = json_field(key, fields)
        if match is not FieldMatch.NONE and key != field:
            raise SourceError(
                pos.file,
                pos.line(*path, key),
                f"the key {key!r} is {field!r} to some readers and unknown to others: spell it {field!r}",
            )


def _check_kind(obj: dict[str, Any], pos: Positions, *, strict: bool) -> None:
    kind = obj.get("kind")
    if kind == "List":
        raise SourceError(
            pos.file, pos.line("kind"), "holds a List, not the aws-auth ConfigMap itself", hint=_EXPORT_HINT
        )
    if kind != "ConfigMap" and (strict or "kind" in obj):
        found = "no kind" if "kind" not in obj else f"kind {describe(kind)}"
        raise SourceError(pos.file, pos.line("kind"), f"expected kind: ConfigMap, found {found}", hint=_EXPORT_HINT)
    api_version = obj.get("apiVersion", "v1")
    if api_version != "v1":
        raise SourceError(pos.file, pos.line("apiVersion"), f"expected apiVersion: v1, found {describe(api_version)}")


def _metadata(obj: dict[str, Any], pos: Positions, *, strict: bool) -> dict[str, Any]:
    metadata = obj.get("metadata")
    if metadata is None and not strict:
        return {}
    if not isinstance(metadata, dict):
        found = "none" if metadata is None else describe(metadata)
        raise SourceError(pos.file, pos.line("metadata"), f"the ConfigMap needs metadata with its name; found {found}")
    name = metadata.get("name")
    if name != AWS_AUTH_NAME and (strict or "name" in metadata):
        if "name" not in metadata:
            found = "has no name"
        else:
            found = f"is named {name!r}" if isinstance(name, str) else f"has the name {describe(name)}"
        raise SourceError(
            pos.file,
            pos.line("metadata", "name") or pos.line("metadata"),
            f"this ConfigMap {found}; expected the ConfigMap named {AWS_AUTH_NAME}",
            hint=_EXPORT_HINT,
        )
    namespace = metadata.get("namespace", AWS_AUTH_NAMESPACE)
    if namespace != AWS_AUTH_NAMESPACE:
        raise SourceError(
            pos.file,
            pos.line("metadata", "namespace"),
            f"aws-auth is in namespace {describe(namespace)}; EKS reads it only from {AWS_AUTH_NAMESPACE}",
        )
    return metadata


def _resource_version(metadata: dict[str, Any], pos: Positions) -> str | None:
    # The Python client's to_dict() spells it resource_version; accept both rather than lose the fingerprint.
    value = metadata.get("resourceVersion", metadata.get("resource_version"))
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise SourceError(
        pos.file,
        pos.line("metadata", "resourceVersion"),
        f"metadata.resourceVersion must be a string, found {describe(value)}",
    )


def _object_meta(metadata: dict[str, Any], pos: Positions) -> ObjectMeta:
    """Who writes aws-auth, as its metadata says: labels and annotations (Argo CD, Flux, Helm, kubectl apply)
    and `managedFields` managers (Terraform, eksctl, ...). `kubectl get -o yaml` leaves managedFields out
    unless given --show-managed-fields; the API returns them."""
    return ObjectMeta(
        labels=_string_map(metadata, "labels", pos),
        annotations=_string_map(metadata, "annotations", pos),
        managers=_field_managers(metadata, pos),
    )


def _string_map(metadata: dict[str, Any], key: str, pos: Positions) -> tuple[tuple[str, str], ...]:
    values = metadata.get(key)
    if values is None:
        return ()
    if not isinstance(values, dict):
        raise SourceError(
            pos.file, pos.line("metadata", key), f"metadata.{key} must map names to strings, found {describe(values)}"
        )
    for name, value in values.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise SourceError(
                pos.file,
                pos.line("metadata", key, name) if isinstance(name, str) else pos.line("metadata", key),
                f"metadata.{key}: {describe(name)} must map to a string, found {describe(value)} (quote it)",
            )
    return tuple(sorted(values.items()))


def _field_managers(metadata: dict[str, Any], pos: Positions) -> tuple[FieldManager, ...]:
    entries = metadata.get("managedFields")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise SourceError(
            pos.file,
            pos.line("metadata", "managedFields"),
            f"metadata.managedFields must be a list, found {describe(entries)}",
        )
    managers: list[FieldManager] = []
    for index, entry in enumerate(entries):
        manager = entry.get("manager", "") if isinstance(entry, dict) else None
        operation = entry.get("operation", "") if isinstance(entry, dict) else None
        if not isinstance(manager, str) or not isinstance(operation, str):
            raise SourceError(
                pos.file,
                pos.line("metadata", "managedFields"),
                f"metadata.managedFields[{index}] must be a mapping whose manager and operation are strings",
            )
        managers.append(FieldManager(manager, operation))
    return tuple(managers)


def _data(obj: dict[str, Any], pos: Positions) -> dict[str, str]:
    data = obj.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SourceError(
            pos.file, pos.line("data"), f"data must be a mapping of keys to strings, found {describe(data)}"
        )
    result: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise SourceError(pos.file, None, f"data key {describe(key)} is not a string")
        result[str(key)] = _data_value(key, value, pos)
    return result


def _data_value(key: str, value: Any, pos: Positions) -> str:
    if isinstance(value, str):
        return str(value)
    if value is None:  # what the API server stores for a null string
        return ""
    hint = ""
    if key in DATA_KEYS and isinstance(value, list | dict):
        hint = f": the YAML goes inside a string, so write `{key}: |` and indent the list below it"
    raise SourceError(pos.file, pos.line("data", key), f"data.{key} must be a string, found {describe(value)}{hint}")


def _section_text(data: dict[str, str], section: Section) -> str | None:
    text = data.get(section.value)
    return None if text is None or go_trim_space(text) in _SKIPPABLE else text


def _mappings(
    data: dict[str, str], section: Section, pos: Positions
) -> tuple[tuple[Mapping, ...], IgnoredSection | None]:
    text = _section_text(data, section)
    return ((), None) if text is None else parse_mappings(text, section, pos.origin(section.value))


def _accounts(data: dict[str, str], pos: Positions) -> tuple[AccountMapping, ...]:
    text = _section_text(data, Section.MAP_ACCOUNTS)
    return () if text is None else parse_accounts(text, Section.MAP_ACCOUNTS, pos.origin(Section.MAP_ACCOUNTS.value))
