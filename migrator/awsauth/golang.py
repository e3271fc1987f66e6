"""What the authenticator's Go libraries make of text: the few rules of gopkg.in/yaml.v2, encoding/json and
k8s.io/apimachinery that decide who aws-auth maps, modelled for the text this reader accepts. Pure.

aws-iam-authenticator reads mapRoles and mapUsers with `utilyaml.ToJSON` (text whose first non-space
character is `{` is taken as JSON as it is; anything else goes through sigs.k8s.io/yaml over yaml.v2, YAML
1.1) and then decodes the JSON with Go's `encoding/json` into its structs; mapAccounts goes through yaml.v2
straight into `[]string`. tests/differential runs these rules against the real libraries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

# --- yaml.v2: what a plain scalar resolves to (resolve.go) ------------------------------------------------


class Yaml11Kind(StrEnum):
    STR = "str"
    NULL = "null"
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    MERGE = "merge"  # `<<`
    TIMESTAMP = "timestamp"  # decoded into interface{} as its text, but never a plain string to us


_RESOLVE_MAP: dict[str, Yaml11Kind] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), Yaml11Kind.BOOL),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), Yaml11Kind.BOOL),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), Yaml11Kind.NULL),
    **dict.fromkeys((".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF"), Yaml11Kind.FLOAT),
    **dict.fromkeys(("+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"), Yaml11Kind.FLOAT),
    "<<": Yaml11Kind.MERGE,
}
# Go's strconv.ParseInt(s, 0, 64) syntax (range aside: a number too large for it is still no string to us).
_GO_INT = re.compile(r"[-+]?(?:0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", re.ASCII)
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_BINARY_AFTER_0B = re.compile(r"(?:0b[-+]?|-0b)[01]+", re.ASCII)
# strconv.ParseFloat on text starting with "." (yaml.v2's '.' hint): a superset, so nothing numeric slips by.
_DOT_FLOAT = re.compile(r"\.[0-9_]+(?:[eE][-+]?[0-9_]*)?", re.ASCII)
# parseTimestamp: four digits and '-' first, then one of four layouts; a superset of those layouts.
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?", re.ASCII | re.DOTALL)


def yaml11_kind(plain: str) -> Yaml11Kind:
    """What yaml.v2 resolves an untagged plain scalar to. Where Go's parsers would need exact emulation (a
    number out of range, an odd float), the answer errs towards "not a string", which only refuses more."""
    kind = _RESOLVE_MAP.get(plain)
    if kind is not None:
        return kind
    first = plain[0]
    if first == ".":
        return Yaml11Kind.FLOAT if _DOT_FLOAT.fullmatch(plain) else Yaml11Kind.STR
    if first not in "+-0123456789":
        return Yaml11Kind.STR
    if _TIMESTAMP.fullmatch(plain):
        return Yaml11Kind.TIMESTAMP
    digits = plain.replace("_", "")  # yaml.v2 drops every underscore before parsing a number
    if _GO_INT.fullmatch(digits) or _BINARY_AFTER_0B.fullmatch(digits):
        return Yaml11Kind.INT
    if _YAML_STYLE_FLOAT.fullmatch(digits):
        return Yaml11Kind.FLOAT
    return Yaml11Kind.STR


# --- apimachinery's ToJSON: which text is taken as JSON ------------------------------------------------------

# Go's unicode.IsSpace: what bytes.TrimLeftFunc skips before looking for `{`.
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)


def is_go_space(char: str) -> bool:
    return char in _GO_SPACE


def taken_as_json(text: str) -> bool:
    """ToJSON's sniff: the first non-space character is `{`, so the text is decoded as JSON, never as YAML.
    A JSON object never decodes into the authenticator's list of mappings."""
    for char in text:
        if not is_go_space(char):
            return char == "{"
    return False


def go_trim_space(text: str) -> str:
    """strings.TrimSpace: the authenticator's test for a blank section."""
    start, end = 0, len(text)
    while start < end and is_go_space(text[start]):
        start += 1
    while end > start and is_go_space(text[end - 1]):
        end -= 1
    return text[start:end]


# --- encoding/json: which struct field a key lands in ---------------------------------------------------------

# encoding/json matches a key to a field case-insensitively. Every Go version folds the long s (U+017F) to s
# and the Kelvin sign (U+212A) to k; Go 1.21 and later (ToUpper(ToLower(r))) also fold the dotless i (U+0131)
# and the dotted I (U+0130) to i, older versions (Unicode simple folding) do not. Listed by running Go over
# every rune.
_FOLDS_EVERYWHERE = {"\u017f": "s", "\u212a": "k"}
_FOLDS_IN_NEWER_GO = {"\u0131": "i", "\u0130": "i"}


class FieldMatch(StrEnum):
    NONE = "none"
    FIELD = "field"
    GO_VERSION_DEPENDENT = "go-version-dependent"


def json_field(key: str, fields: Iterable[str]) -> tuple[FieldMatch, str | None]:
    """The struct field (by its JSON name) that encoding/json decodes `key` into, if any."""
    everywhere = "".join(_FOLDS_EVERYWHERE.get(c, c) for c in key)
    newer = "".join(_FOLDS_IN_NEWER_GO.get(c, c) for c in everywhere)
    for name in fields:
        if _ascii_fold(everywhere) == _ascii_fold(name):
            return FieldMatch.FIELD, name
        if _ascii_fold(newer) == _ascii_fold(name):
            return FieldMatch.GO_VERSION_DEPENDENT, name
    return FieldMatch.NONE, None


def _ascii_fold(text: str) -> str:
    """Upper-case ASCII letters only (non-ASCII characters other than the folds above match only
    themselves, and field names are ASCII)."""
    return text.translate(_ASCII_UPPER)


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
