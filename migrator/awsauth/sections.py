"""Parse the YAML inside the aws-auth data keys: mapRoles and mapUsers into Mappings, mapAccounts into
AccountMappings. Pure; every problem is a SourceError pointing at its line through an `Origin`.

Fidelity notes (kubernetes-sigs/aws-iam-authenticator, pkg/mapper/configmap/configmap.go;
docs/aws-auth.md):
- mapRoles and mapUsers go YAML -> JSON -> Go structs, so keys inside entries match fields as encoding/json
  matches them (case-insensitively, with Unicode folding: `golang.json_field`), and a value that YAML 1.1
  reads as a number or boolean (`12`, `on`, `0X1F`) is no string there: the scanner refuses it.
- text whose first non-space character is `{` is decoded as JSON, and a section that decodes to no list
  gives nobody access: an `IgnoredSection` (the planner's DEAD_SECTION), never mappings.
- mapAccounts is read by yaml.v2 straight into `[]string`, which keeps each scalar's text as written, so an
  unquoted `- 111122223333` (or `- 012345678901`) is a valid account id; it is read from the raw text here
  as well, never through an integer that would drop a leading zero.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from ruamel.yaml.nodes import ScalarNode, SequenceNode

from migrator.awsauth.golang import FieldMatch, json_field, taken_as_json
from migrator.awsauth.source import (
    Origin,
    compose_yaml,
    describe,
    either,
    item_line0,
    key_line0,
    load_yaml,
    node_line0,
    shorten,
    value_line0,
)
from migrator.model import AccountMapping, IgnoredSection, Mapping, Section, SourceRef
from migrator.rules.arn import PARTITIONS, Arn, ArnError, is_padded_arn, parse_arn

# The JSON names of the authenticator's struct fields, per entry kind. `userid` is a field too, which the
# ConfigMap backend ignores, so it is reported as an unknown key like any other.
_ENTRY_FIELDS: dict[Section, tuple[str, ...]] = {
    Section.MAP_ROLES: ("rolearn", "sso", "username", "groups"),
    Section.MAP_USERS: ("userarn", "username", "groups"),
}
_ARN_KEY = {Section.MAP_ROLES: "rolearn", Section.MAP_USERS: "userarn"}
_SSO_FIELDS = ("permissionSetName", "accountID", "partition")
_PERMISSION_SET_RE = re.compile(r"[\w+=,.@-]{1,32}", re.ASCII)  # the authenticator's own check
_ACCOUNT_RE = re.compile(r"\d{12}", re.ASCII)
_YAML_NULLS = frozenset(("", "~", "null", "Null", "NULL"))


# --- mapRoles and mapUsers -------------------------------------------------------------------------------


def parse_mappings(text: str, section: Section, origin: Origin) -> tuple[tuple[Mapping, ...], IgnoredSection | None]:
    """The entries of mapRoles or mapUsers; `origin` says where `text` sits, for the lines of errors and refs.

    A section the authenticator decodes to no list at all gives nobody access: it comes back as the
    IgnoredSection that says why, with no mappings."""
    if taken_as_json(text):
        why = (
            "it starts with '{', so the authenticator decodes it as JSON, and a JSON object is not the list of "
            "mappings it expects"
        )
        return (), _ignored(section, why, origin, 0)
    items = load_yaml(text, origin)
    if items is None:
        return (), None
    if not isinstance(items, list):
        example = f"- {_ARN_KEY[section]}: ..."
        why = f"it is {describe(items)}, not a YAML list of mappings (`{example}`)"
        return (), _ignored(section, why, origin, either(node_line0(items), 0))
    return tuple(_parse_entry(items, index, section, origin) for index in range(len(items))), None


def _ignored(section: Section, why: str, origin: Origin, line0: int | None) -> IgnoredSection:
    return IgnoredSection(section, why, None if origin.relative else origin.line(line0), origin.file)


def _parse_entry(items: list[Any], index: int, section: Section, origin: Origin) -> Mapping:
    label = f"{section.value}[{index}]"
    line0 = item_line0(items, index)
    entry = items[index]
    if not isinstance(entry, dict):
        arn_key = _ARN_KEY[section]
        raise origin.error(line0, f"{label} must be a mapping (`- {arn_key}: ...`), found {describe(entry)}")
    keys, unknown = _canonical_keys(entry, _ENTRY_FIELDS[section], label, origin, line0)
    ref = SourceRef(section, index, origin.line(line0), origin.file)
    username = _optional_string(entry, keys.get("username"), f"{label}.username", origin, line0)
    groups = _groups(entry, keys.get("groups"), label, origin, line0)
    if section is Section.MAP_ROLES and "sso" in keys:
        if "rolearn" in keys:
            raise origin.error(line0, f"{label} has both rolearn and sso; an entry takes one or the other")
        arn, sso_unknown = _parse_sso(entry, keys["sso"], label, origin, line0)
        return Mapping(section, arn, username, groups, ref, tuple(unknown) + sso_unknown, sso=True)
    arn, parsed = _arn(entry, keys, section, label, origin, line0)
    return Mapping(section, arn, username, groups, ref, tuple(unknown), parsed_arn=parsed)


def _canonical_keys(
    entry: dict[Any, Any], fields: tuple[str, ...], label: str, origin: Origin, line0: int | None
) -> tuple[dict[str, Any], list[str]]:
    """Map each field to its key as written, as Go's encoding/json matches them (case-insensitively, with
    Unicode folding: a long s, U+017F, is an s); collect the unknown keys (in order, as written)."""
    found: dict[str, Any] = {}
    unknown: list[str] = []
    for key in entry:
        at = either(key_line0(entry, key), line0)
        if not isinstance(key, str):
            raise origin.error(at, f"{label} has a key that is not a string: {describe(key)}")
        match, field = json_field(key, fields)
        if match is FieldMatch.GO_VERSION_DEPENDENT:
            raise origin.error(
                at,
                f"{label} has the key {key!r}, which the authenticator reads as {field!r} or ignores depending on "
                "the Go version it was built with: spell it plainly",
            )
        if field is None:
            unknown.append(str(key))
        elif field in found:
            # encoding/json would keep the value of the key that sorts last: refused rather than modelled.
            raise origin.error(
                at,
                f"{label} has both {found[field]!r} and {key!r}; the authenticator reads both as {field!r} "
                "(keys match case-insensitively), keep one",
            )
        else:
            found[field] = key
    return found, unknown


def _arn(
    entry: dict[Any, Any], keys: dict[str, Any], section: Section, label: str, origin: Origin, line0: int | None
) -> tuple[str, Arn | None]:
    """The ARN as written, and its parse: kept, so that nothing after the reader parses it again."""
    arn_key = _ARN_KEY[section]
    if arn_key not in keys:
        other = "userarn" if section is Section.MAP_ROLES else "rolearn"
        misplaced = any(str(key).lower() == other for key in entry)
        hint = f" ({other} belongs under {'mapUsers' if other == 'userarn' else 'mapRoles'})" if misplaced else ""
        raise origin.error(line0, f"{label} has no {arn_key}{hint}; the authenticator skips such an entry")
    written = keys[arn_key]
    arn_line0 = either(value_line0(entry, written), line0)
    arn = _string(entry[written], f"{label}.{arn_key}", origin, arn_line0)
    try:
        return arn, parse_arn(arn)
    except ArnError as exc:
        if not is_padded_arn(arn):
            raise origin.error(arn_line0, f"{label}.{arn_key}: {exc}") from None
    # A padded ARN is kept as written: it matches nobody today, the planner reports it (DEAD_ARN_WHITESPACE).
    return arn, None


def _parse_sso(
    entry: dict[Any, Any], written: Any, label: str, origin: Origin, line0: int | None
) -> tuple[str, tuple[str, ...]]:
    sso = entry[written]
    sso_line0 = either(value_line0(entry, written), line0)
    what = f"{label}.sso"
    if not isinstance(sso, dict):
        raise origin.error(sso_line0, f"{what} must be a mapping with permissionSetName and accountID")
    keys, unknown = _canonical_keys(sso, _SSO_FIELDS, what, origin, sso_line0)
    for required in ("permissionSetName", "accountID"):
        if required not in keys:
            raise origin.error(sso_line0, f"{what} has no {required}")
    account_line0 = either(value_line0(sso, keys["accountID"]), sso_line0)
    account = _string(sso[keys["accountID"]], f"{what}.accountID", origin, account_line0)
    if not _ACCOUNT_RE.fullmatch(account):
        raise origin.error(account_line0, f"{what}.accountID {account!r} is not a 12-digit AWS account id")
    name_line0 = either(value_line0(sso, keys["permissionSetName"]), sso_line0)
    name = _string(sso[keys["permissionSetName"]], f"{what}.permissionSetName", origin, name_line0)
    if not _PERMISSION_SET_RE.fullmatch(name):
        raise origin.error(name_line0, f"{what}.permissionSetName {name!r} is not a permission set name")
    if "partition" in keys:
        partition_line0 = either(value_line0(sso, keys["partition"]), sso_line0)
        partition = _string(sso[keys["partition"]], f"{what}.partition", origin, partition_line0)
        if partition not in PARTITIONS:
            raise origin.error(partition_line0, f"{what}.partition {partition!r} is not one of {', '.join(PARTITIONS)}")
    return f"sso:{account}:{name}", tuple(f"sso.{key}" for key in unknown)


def _optional_string(entry: dict[Any, Any], written: Any, what: str, origin: Origin, line0: int | None) -> str | None:
    if written is None or entry[written] is None:
        return None
    return _string(entry[written], what, origin, either(value_line0(entry, written), line0))


def _groups(entry: dict[Any, Any], written: Any, label: str, origin: Origin, line0: int | None) -> tuple[str, ...]:
    if written is None or entry[written] is None:
        return ()
    groups = entry[written]
    groups_line0 = either(value_line0(entry, written), line0)
    if not isinstance(groups, list):
        raise origin.error(
            groups_line0, f"{label}.groups must be a list of strings (`groups: [a, b]`), found {describe(groups)}"
        )
    return tuple(
        _string(group, f"{label}.groups[{i}]", origin, either(item_line0(groups, i), groups_line0))
        for i, group in enumerate(groups)
    )


def _string(value: Any, what: str, origin: Origin, line0: int | None) -> str:
    """A value the authenticator decodes into a Go string: YAML must have read it as a string (the scanner
    has refused plain words that YAML 1.1 reads as something else)."""
    if isinstance(value, str):
        return str(value)
    quote = ": quote it" if isinstance(value, bool | int | float | date) else ""
    raise origin.error(line0, f"{what} must be a string, found {describe(value)}{quote}")


# --- mapAccounts -----------------------------------------------------------------------------------------


def parse_accounts(text: str, section: Section, origin: Origin) -> tuple[AccountMapping, ...]:
    """The account ids of mapAccounts, each exactly as written."""
    # Read as nodes, not values: yaml.v2 keeps a scalar's text as written, and so must we (see module doc).
    root = compose_yaml(text, origin)
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
        if not _ACCOUNT_RE.fullmatch(item.value):
            shown = "an empty value" if item.value in _YAML_NULLS and item.style is None else repr(item.value)
            raise origin.error(line0, f"{label}: {shorten(shown)} is not a 12-digit AWS account id")
        accounts.append(AccountMapping(item.value, SourceRef(section, index, origin.line(line0), origin.file)))
    return tuple(accounts)
