"""Parse and validate the aws-auth ConfigMap (eks-facts.md section 4). Pure, except `load_aws_auth_file`.

The ConfigMap comes as `kubectl get configmap aws-auth -n kube-system -o yaml` (or `-o json`) output, or as
the object the Kubernetes API returns. Its `mapRoles`, `mapUsers` and `mapAccounts` keys hold YAML inside
strings; they are parsed here too, and every problem is reported as `SourceError(file, line, message)`
with the line in the *outer* file whenever it can be known:

- a literal block (`mapRoles: |`) keeps its lines one to one, starting on the line after the key;
- a quoted or folded value (and every value of JSON input) cannot be mapped line by line, so errors point
  at the key's line and name the line inside the value;
- for a live object (`parse_configmap_object`) there is no file: lines are counted inside each block.

The authenticator is lenient (it skips what it cannot read, so a typo silently drops mappings); this parser
is strict and refuses to go on, because a plan made from a half-read aws-auth would lose access. It does not
judge what parses: an STS ARN under mapRoles, a role path, the account root and the like are the
translator's findings, not parse errors.

Fidelity notes (kubernetes-sigs/aws-iam-authenticator, pkg/mapper/configmap/configmap.go):
- mapRoles and mapUsers go YAML -> JSON -> Go structs, so keys inside entries match case-insensitively and
  a value that YAML 1.1 reads as a number or boolean (`12`, `on`, `yes`) is not a string there: refused here.
- mapAccounts is read by yaml.v2 straight into `[]string`, which keeps each scalar's text as written, so an
  unquoted `- 111122223333` (or `- 012345678901`) is a valid account id; it is read from the raw text here
  as well, never through an integer that would drop a leading zero.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarstring import LiteralScalarString

from migrator.arn import PARTITIONS, ArnError, parse_arn
from migrator.errors import SourceError
from migrator.model import AccountMapping, AwsAuth, Mapping, Section, SourceRef

__all__ = [
    "AWS_AUTH_NAME",
    "AWS_AUTH_NAMESPACE",
    "DATA_KEYS",
    "MAX_BYTES",
    "data_sha256",
    "load_aws_auth_file",
    "parse_aws_auth",
    "parse_configmap_object",
]

AWS_AUTH_NAME = "aws-auth"
AWS_AUTH_NAMESPACE = "kube-system"
DATA_KEYS = (Section.MAP_ROLES.value, Section.MAP_USERS.value, Section.MAP_ACCOUNTS.value)
MAX_BYTES = 1024 * 1024  # a ConfigMap cannot hold more than 1 MiB, so anything larger is not one

_EXPORT_HINT = "export it with: kubectl get configmap aws-auth -n kube-system -o yaml > aws-auth.yaml"

# Canonical key names per entry kind, looked up by their lower-cased spelling (Go's JSON decoding is
# case-insensitive). `userid` is a field of the authenticator's structs that the ConfigMap backend ignores,
# so it is reported as an unknown key like any other.
_ENTRY_KEYS: dict[Section, dict[str, str]] = {
    Section.MAP_ROLES: {"rolearn": "rolearn", "sso": "sso", "username": "username", "groups": "groups"},
    Section.MAP_USERS: {"userarn": "userarn", "username": "username", "groups": "groups"},
}
_ARN_KEY = {Section.MAP_ROLES: "rolearn", Section.MAP_USERS: "userarn"}
_SSO_KEYS = {"permissionsetname": "permissionSetName", "accountid": "accountID", "partition": "partition"}
_PERMISSION_SET_RE = re.compile(r"^[\w+=,.@-]{1,32}$")  # the authenticator's own check
_ACCOUNT_RE = re.compile(r"^\d{12}$")

# Plain words that YAML 1.1 (yaml.v2, which the authenticator uses) reads as booleans but YAML 1.2 (ruamel)
# reads as strings. true/false are booleans in both, so ruamel already refuses them as strings.
_YAML11_BOOLEANS = frozenset(
    ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"]
)
_YAML_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
# The authenticator skips a data value that is blank or one of these (configmap.go, isSkippable).
_SKIPPABLE = frozenset(("", "``", '""'))


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
    source = _decode(text, file)
    if not source.strip():
        raise SourceError(file, None, "the file is empty: expected the aws-auth ConfigMap", hint=_EXPORT_HINT)
    document, tree = _load_document(source, file)
    return _from_configmap(document, _Positions(file, tree), strict=True)


def parse_configmap_object(obj: dict[str, Any], file: str) -> AwsAuth:
    """Parse the aws-auth ConfigMap as the Kubernetes API returns it (JSON form, camelCase keys).

    There is no outer file: the lines in SourceRefs count inside each embedded block, and errors name that
    line in their message. `kind` and `metadata.name` are checked when present (the caller fetched the
    object by name). Otherwise the same rules as `parse_aws_auth`.
    """
    return _from_configmap(obj, _Positions(file, None, relative_blocks=True), strict=False)


def data_sha256(data: MappingABC[str, str]) -> str:
    """The content hash of aws-auth: the three mapping keys' values as stored, so metadata does not count."""
    relevant = {key: data[key] for key in DATA_KEYS if key in data}
    # ensure_ascii keeps the text encodable whatever it holds (even lone surrogates from JSON escapes).
    canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# --- positions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    """How the lines of one YAML text (the outer file, or one embedded block) map to lines a person can open."""

    file: str
    section: str  # the data key holding the text, "" for the outer document
    first_line: int | None  # the outer line holding the text's first line, when lines map one to one
    key_line: int | None = None  # where to point otherwise: the data key's line
    relative: bool = False  # a live object: no outer file, lines count inside the block

    def line(self, line0: int | None) -> int | None:
        """The line to report for a 0-based line inside the text."""
        if line0 is None or self.first_line is None:
            return self.key_line
        return self.first_line + line0

    def error(self, line0: int | None, message: str, *, hint: str | None = None) -> SourceError:
        if self.section and line0 is not None and (self.first_line is None or self.relative):
            message = f"{message} (line {line0 + 1} of {self.section})"
        return SourceError(self.file, None if self.relative else self.line(line0), message, hint=hint)


@dataclass(frozen=True)
class _Positions:
    """Line lookups in the outer document: `tree` is its ruamel round-trip form, or None when there is none."""

    file: str
    tree: Any
    relative_blocks: bool = False

    def line(self, *path: str) -> int | None:
        """1-based line of the key at `path` (e.g. "metadata", "name"), when known."""
        node = self.tree
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        line0 = _key_line0(node, path[-1])
        return None if line0 is None else line0 + 1

    def origin(self, data_key: str) -> _Origin:
        if self.relative_blocks:
            return _Origin(self.file, data_key, first_line=1, relative=True)
        data = self.tree.get("data") if isinstance(self.tree, dict) else None
        first_line = None
        if isinstance(data, dict) and isinstance(data.get(data_key), LiteralScalarString):
            indicator0 = _value_line0(data, data_key)  # the line of `|`; the content starts below it
            first_line = None if indicator0 is None else indicator0 + 2
        return _Origin(self.file, data_key, first_line, self.line("data", data_key))


def _lc(node: Any, kind: str, key: Any) -> int | None:
    """0-based line ruamel recorded for a key, value or item; None for plain dicts/lists or merged keys."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        position = getattr(lc, kind)(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return position[0] if isinstance(position, tuple) and isinstance(position[0], int) else None


def _key_line0(node: Any, key: Any) -> int | None:
    return _lc(node, "key", key)


def _value_line0(node: Any, key: Any) -> int | None:
    """The value's line; for a missing value (null) ruamel records the next token, so take the key's."""
    if isinstance(node, dict) and node.get(key) is None:
        return _lc(node, "key", key)
    return _lc(node, "value", key)


def _item_line0(node: Any, index: int) -> int | None:
    return _lc(node, "item", index)


def _either(line0: int | None, fallback: int | None) -> int | None:
    """The first known line (0 is a line, so `or` would not do)."""
    return fallback if line0 is None else line0


def _node_line0(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    line = getattr(lc, "line", None)
    return line if isinstance(line, int) else None


# --- reading text ----------------------------------------------------------------------------------------


def _decode(text: str | bytes, file: str) -> str:
    if isinstance(text, str):
        size = len(text) if len(text) > MAX_BYTES else len(text.encode("utf-8", "surrogatepass"))
        _check_size(size, file)
        if "\x00" in text:
            raise SourceError(file, None, "is a binary file (it contains NUL bytes), not an aws-auth ConfigMap")
        return text.removeprefix("\ufeff")
    _check_size(len(text), file)
    # Windows PowerShell 5 writes `kubectl ... > file` as UTF-16 with a byte order mark.
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if text.startswith(bom) and not text.startswith(codecs.BOM_UTF32_LE):
            try:
                return text[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                raise SourceError(file, None, "starts with a UTF-16 byte order mark but is not UTF-16 text") from None
    if b"\x00" in text:
        line = text.count(b"\n", 0, text.index(b"\x00")) + 1
        raise SourceError(file, line, "is a binary file (it contains NUL bytes), not an aws-auth ConfigMap")
    try:
        return text.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = text.count(b"\n", 0, exc.start) + 1
        bad = text[exc.start : exc.start + 1].hex()
        raise SourceError(file, line, f"is not UTF-8 text (byte 0x{bad}); save the file as UTF-8") from None


def _check_size(size: int, file: str) -> None:
    if size > MAX_BYTES:
        raise SourceError(file, None, "is larger than 1 MiB, and a ConfigMap holds at most 1 MiB: this is not aws-auth")


def _load_document(source: str, file: str) -> tuple[Any, Any]:
    """The outer document and its ruamel tree (for line numbers; None when unavailable)."""
    outer = _Origin(file, "", first_line=1)
    if not source.lstrip().startswith("{"):
        tree = _load_yaml(source, outer)
        return tree, tree
    try:
        document = json.loads(source, object_pairs_hook=_json_object)
    except (ValueError, RecursionError) as json_error:
        # A YAML flow mapping starts with "{" too: only blame JSON when YAML cannot read it either.
        try:
            tree = _load_yaml(source, outer)
        except SourceError as yaml_error:
            if isinstance(json_error, _JsonDuplicateKey):
                raise yaml_error from None  # ruamel knows the duplicate's line, json does not
            raise _json_failure(json_error, file) from None
        if isinstance(json_error, _JsonDuplicateKey):
            raise SourceError(file, None, f"duplicate key {json_error.key!r}: each key may appear once") from None
        return tree, tree
    return document, _quiet_tree(source)


class _JsonDuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JsonDuplicateKey(key)
        result[key] = value
    return result


def _json_failure(exc: Exception, file: str) -> SourceError:
    if isinstance(exc, json.JSONDecodeError):
        return SourceError(file, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
    if isinstance(exc, RecursionError):
        return SourceError(file, None, "invalid JSON: nested too deeply")
    return SourceError(file, None, f"invalid JSON: {_shorten(str(exc))}")


def _quiet_tree(source: str) -> Any:
    """ruamel's view of JSON text, used only for key lines; the values always come from `json`."""
    try:
        return _new_yaml().load(source)
    except Exception:  # line numbers are a courtesy here; json already validated the text
        return None


def _new_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # quoted scalars keep a str subclass, so plain words can be told apart
    return yaml


def _load_yaml(text: str, origin: _Origin) -> Any:
    try:
        return _new_yaml().load(text)
    except Exception as exc:
        raise _yaml_failure(exc, text, origin) from None


def _compose_yaml(text: str, origin: _Origin) -> Node | None:
    try:
        node: Node | None = _new_yaml().compose(text)
    except Exception as exc:
        raise _yaml_failure(exc, text, origin) from None
    return node


def _yaml_failure(exc: Exception, text: str, origin: _Origin) -> SourceError:
    """A SourceError for anything ruamel raised; it can raise more than YAMLError on hostile input."""
    prefix = f"{origin.section}: invalid YAML" if origin.section else "invalid YAML"
    if isinstance(exc, ReaderError):
        line0 = text.count("\n", 0, exc.position) if isinstance(exc.position, int) else None
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        return origin.error(line0, f"{prefix}: character U+{char:04X} is not allowed in YAML")
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "end of stream" in str(exc.problem):
            mark = exc.context_mark  # "while scanning a quoted scalar" points where it was opened
        line0 = getattr(mark, "line", None)
        line0 = line0 if isinstance(line0, int) else None
        return origin.error(line0, f"{prefix}: {_yaml_problem(exc, text, line0)}")
    if isinstance(exc, RecursionError):
        return origin.error(None, f"{prefix}: nested too deeply")
    return origin.error(None, f"{prefix}: {type(exc).__name__}: {_shorten(str(exc))}")


def _yaml_problem(exc: MarkedYAMLError, text: str, line0: int | None) -> str:
    problem = str(exc.problem or exc.context or type(exc).__name__)
    if line0 is not None and "\t" in _leading_space(text, line0):
        return "the line is indented with a tab; YAML indentation must use spaces"
    if "\\t" in problem:
        return "a tab character where YAML does not allow one; use spaces"
    duplicate = re.match(r'found duplicate key "(.*?)" with value', problem, re.S)
    if duplicate:
        return f"duplicate key {_shorten(duplicate.group(1))!r}: each key may appear once"
    if exc.context and exc.problem:
        return f"{_shorten(problem)} ({exc.context})"
    return _shorten(problem)


def _leading_space(text: str, line0: int) -> str:
    lines = text.splitlines()
    if line0 >= len(lines):
        return ""
    line = lines[line0]
    return line[: len(line) - len(line.lstrip(" \t"))]


# --- the ConfigMap -----------------------------------------------------------------------------------------


def _from_configmap(obj: Any, pos: _Positions, *, strict: bool) -> AwsAuth:
    if not isinstance(obj, dict):
        raise SourceError(
            pos.file,
            _line1(_node_line0(obj)),
            f"expected the aws-auth ConfigMap (a mapping with kind: ConfigMap), found {_describe(obj)}",
            hint=_EXPORT_HINT,
        )
    _check_kind(obj, pos, strict=strict)
    metadata = _metadata(obj, pos, strict=strict)
    data = _data(obj, pos)
    file = pos.file
    return AwsAuth(
        map_roles=_mappings(data, Section.MAP_ROLES, pos),
        map_users=_mappings(data, Section.MAP_USERS, pos),
        map_accounts=_accounts(data, pos),
        resource_version=_resource_version(metadata, pos),
        sha256=data_sha256(data),
        file=file,
        raw_data=tuple(sorted(data.items())),
    )


def _line1(line0: int | None) -> int | None:
    return None if line0 is None else line0 + 1


def _check_kind(obj: dict[str, Any], pos: _Positions, *, strict: bool) -> None:
    kind = obj.get("kind")
    if kind == "List":
        raise SourceError(
            pos.file, pos.line("kind"), "holds a List, not the aws-auth ConfigMap itself", hint=_EXPORT_HINT
        )
    if kind != "ConfigMap" and (strict or "kind" in obj):
        found = "no kind" if "kind" not in obj else f"kind {_describe(kind)}"
        raise SourceError(pos.file, pos.line("kind"), f"expected kind: ConfigMap, found {found}", hint=_EXPORT_HINT)
    api_version = obj.get("apiVersion", "v1")
    if api_version != "v1":
        raise SourceError(pos.file, pos.line("apiVersion"), f"expected apiVersion: v1, found {_describe(api_version)}")


def _metadata(obj: dict[str, Any], pos: _Positions, *, strict: bool) -> dict[str, Any]:
    metadata = obj.get("metadata")
    if metadata is None and not strict:
        return {}
    if not isinstance(metadata, dict):
        found = "none" if metadata is None else _describe(metadata)
        raise SourceError(pos.file, pos.line("metadata"), f"the ConfigMap needs metadata with its name; found {found}")
    name = metadata.get("name")
    if name != AWS_AUTH_NAME and (strict or "name" in metadata):
        if "name" not in metadata:
            found = "has no name"
        else:
            found = f"is named {name!r}" if isinstance(name, str) else f"has the name {_describe(name)}"
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
            f"aws-auth is in namespace {_describe(namespace)}; EKS reads it only from {AWS_AUTH_NAMESPACE}",
        )
    return metadata


def _resource_version(metadata: dict[str, Any], pos: _Positions) -> str | None:
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
        f"metadata.resourceVersion must be a string, found {_describe(value)}",
    )


def _data(obj: dict[str, Any], pos: _Positions) -> dict[str, str]:
    data = obj.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SourceError(
            pos.file, pos.line("data"), f"data must be a mapping of keys to strings, found {_describe(data)}"
        )
    result: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise SourceError(pos.file, None, f"data key {_describe(key)} is not a string")
        result[str(key)] = _data_value(key, value, pos)
    return result


def _data_value(key: str, value: Any, pos: _Positions) -> str:
    if isinstance(value, str):
        return str(value)
    if value is None:  # what the API server stores for a null string
        return ""
    hint = ""
    if key in DATA_KEYS and isinstance(value, list | dict):
        hint = f": the YAML goes inside a string, so write `{key}: |` and indent the list below it"
    raise SourceError(pos.file, pos.line("data", key), f"data.{key} must be a string, found {_describe(value)}{hint}")


def _section_text(data: dict[str, str], section: Section) -> str | None:
    text = data.get(section.value)
    return None if text is None or text.strip() in _SKIPPABLE else text


def _mappings(data: dict[str, str], section: Section, pos: _Positions) -> tuple[Mapping, ...]:
    text = _section_text(data, section)
    return () if text is None else _parse_mappings(text, section, pos.origin(section.value))


def _accounts(data: dict[str, str], pos: _Positions) -> tuple[AccountMapping, ...]:
    text = _section_text(data, Section.MAP_ACCOUNTS)
    return () if text is None else _parse_accounts(text, Section.MAP_ACCOUNTS, pos.origin(Section.MAP_ACCOUNTS.value))


# --- mapRoles and mapUsers -------------------------------------------------------------------------------


def _parse_mappings(text: str, section: Section, origin: _Origin) -> tuple[Mapping, ...]:
    items = _load_yaml(text, origin)
    if items is None or (isinstance(items, str) and not items.strip()):
        return ()
    if not isinstance(items, list):
        example = f"- {_ARN_KEY[section]}: ..."
        raise origin.error(
            _either(_node_line0(items), 0),
            f"{section.value} must be a YAML list (`{example}`), found {_describe(items)}",
        )
    return tuple(_parse_entry(items, index, section, origin) for index in range(len(items)))


def _parse_entry(items: list[Any], index: int, section: Section, origin: _Origin) -> Mapping:
    label = f"{section.value}[{index}]"
    line0 = _item_line0(items, index)
    entry = items[index]
    if not isinstance(entry, dict):
        arn_key = _ARN_KEY[section]
        raise origin.error(line0, f"{label} must be a mapping (`- {arn_key}: ...`), found {_describe(entry)}")
    keys, unknown = _canonical_keys(entry, _ENTRY_KEYS[section], label, origin, line0)
    ref = SourceRef(section, index, origin.line(line0), origin.file)
    username = _optional_string(entry, keys.get("username"), f"{label}.username", origin, line0)
    groups = _groups(entry, keys.get("groups"), label, origin, line0)
    if section is Section.MAP_ROLES and "sso" in keys:
        if "rolearn" in keys:
            raise origin.error(line0, f"{label} has both rolearn and sso; an entry takes one or the other")
        arn, sso_unknown = _parse_sso(entry, keys["sso"], label, origin, line0)
        return Mapping(section, arn, username, groups, ref, tuple(unknown) + sso_unknown, sso=True)
    arn = _arn(entry, keys, section, label, origin, line0)
    return Mapping(section, arn, username, groups, ref, tuple(unknown))


def _canonical_keys(
    entry: dict[Any, Any], known: dict[str, str], label: str, origin: _Origin, line0: int | None
) -> tuple[dict[str, Any], list[str]]:
    """Map canonical key names to the keys as written; collect the unknown ones (in order, as written)."""
    found: dict[str, Any] = {}
    unknown: list[str] = []
    for key in entry:
        if not isinstance(key, str):
            raise origin.error(
                _either(_key_line0(entry, key), line0), f"{label} has a key that is not a string: {_describe(key)}"
            )
        canonical = known.get(key.lower())
        if canonical is None:
            unknown.append(str(key))
        elif canonical in found:
            raise origin.error(
                _either(_key_line0(entry, key), line0),
                f"{label} has both {found[canonical]!r} and {key!r}; keys match case-insensitively, keep one",
            )
        else:
            found[canonical] = key
    return found, unknown


def _arn(
    entry: dict[Any, Any], keys: dict[str, Any], section: Section, label: str, origin: _Origin, line0: int | None
) -> str:
    arn_key = _ARN_KEY[section]
    if arn_key not in keys:
        other = "userarn" if section is Section.MAP_ROLES else "rolearn"
        misplaced = any(str(key).lower() == other for key in entry)
        hint = f" ({other} belongs under {'mapUsers' if other == 'userarn' else 'mapRoles'})" if misplaced else ""
        raise origin.error(line0, f"{label} has no {arn_key}{hint}; the authenticator skips such an entry")
    written = keys[arn_key]
    value_line0 = _either(_value_line0(entry, written), line0)
    arn = _string(entry[written], f"{label}.{arn_key}", origin, value_line0)
    try:
        parse_arn(arn)
    except ArnError as exc:
        raise origin.error(value_line0, f"{label}.{arn_key}: {exc}") from None
    return arn


def _parse_sso(
    entry: dict[Any, Any], written: Any, label: str, origin: _Origin, line0: int | None
) -> tuple[str, tuple[str, ...]]:
    sso = entry[written]
    sso_line0 = _either(_value_line0(entry, written), line0)
    what = f"{label}.sso"
    if not isinstance(sso, dict):
        raise origin.error(sso_line0, f"{what} must be a mapping with permissionSetName and accountID")
    keys, unknown = _canonical_keys(sso, _SSO_KEYS, what, origin, sso_line0)
    for required in ("permissionSetName", "accountID"):
        if required not in keys:
            raise origin.error(sso_line0, f"{what} has no {required}")
    account_line0 = _either(_value_line0(sso, keys["accountID"]), sso_line0)
    account = _string(sso[keys["accountID"]], f"{what}.accountID", origin, account_line0)
    if not _ACCOUNT_RE.match(account):
        raise origin.error(account_line0, f"{what}.accountID {account!r} is not a 12-digit AWS account id")
    name_line0 = _either(_value_line0(sso, keys["permissionSetName"]), sso_line0)
    name = _string(sso[keys["permissionSetName"]], f"{what}.permissionSetName", origin, name_line0)
    if not _PERMISSION_SET_RE.match(name):
        raise origin.error(name_line0, f"{what}.permissionSetName {name!r} is not a permission set name")
    if "partition" in keys:
        partition_line0 = _either(_value_line0(sso, keys["partition"]), sso_line0)
        partition = _string(sso[keys["partition"]], f"{what}.partition", origin, partition_line0)
        if partition not in PARTITIONS:
            raise origin.error(partition_line0, f"{what}.partition {partition!r} is not one of {', '.join(PARTITIONS)}")
    return f"sso:{account}:{name}", tuple(f"sso.{key}" for key in unknown)


def _optional_string(entry: dict[Any, Any], written: Any, what: str, origin: _Origin, line0: int | None) -> str | None:
    if written is None or entry[written] is None:
        return None
    return _string(entry[written], what, origin, _either(_value_line0(entry, written), line0))


def _groups(entry: dict[Any, Any], written: Any, label: str, origin: _Origin, line0: int | None) -> tuple[str, ...]:
    if written is None or entry[written] is None:
        return ()
    groups = entry[written]
    groups_line0 = _either(_value_line0(entry, written), line0)
    if not isinstance(groups, list):
        raise origin.error(
            groups_line0, f"{label}.groups must be a list of strings (`groups: [a, b]`), found {_describe(groups)}"
        )
    return tuple(
        _string(group, f"{label}.groups[{i}]", origin, _either(_item_line0(groups, i), groups_line0))
        for i, group in enumerate(groups)
    )


def _string(value: Any, what: str, origin: _Origin, line0: int | None) -> str:
    """A value the authenticator decodes into a Go string: YAML must have read it as a string."""
    if isinstance(value, str):
        # preserve_quotes gives quoted scalars a subclass: a plain `str` was written without quotes.
        if type(value) is str and value in _YAML11_BOOLEANS:
            raise origin.error(
                line0, f"{what} is the unquoted word {value!r}, which the authenticator reads as a boolean: quote it"
            )
        return str(value)
    quote = ": quote it" if isinstance(value, bool | int | float | date) else ""
    raise origin.error(line0, f"{what} must be a string, found {_describe(value)}{quote}")


# --- mapAccounts -----------------------------------------------------------------------------------------


def _parse_accounts(text: str, section: Section, origin: _Origin) -> tuple[AccountMapping, ...]:
    # Read as nodes, not values: yaml.v2 keeps a scalar's text as written, and so must we (see module doc).
    root = _compose_yaml(text, origin)
    if root is None or (isinstance(root, ScalarNode) and root.style is None and root.value in _YAML_NULLS):
        return ()
    if not isinstance(root, SequenceNode):
        raise origin.error(
            root.start_mark.line, f'{section.value} must be a YAML list of account ids (`- "111122223333"`)'
        )
    accounts = []
    for index, item in enumerate(root.value):
        line0 = item.start_mark.line
        label = f"{section.value}[{index}]"
        if not isinstance(item, ScalarNode):
            raise origin.error(line0, f"{label} must be a 12-digit account id, found a {item.id}")
        if not _ACCOUNT_RE.match(item.value):
            shown = "an empty value" if item.value in _YAML_NULLS and item.style is None else repr(item.value)
            raise origin.error(line0, f"{label}: {_shorten(shown)} is not a 12-digit AWS account id")
        accounts.append(AccountMapping(item.value, SourceRef(section, index, origin.line(line0), origin.file)))
    return tuple(accounts)


# --- messages --------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {_shorten(repr(value) if isinstance(value, float) else str(int(value)))}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        return f"the string {_shorten(repr(str(value)))}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
