"""JSON-shaped data as block YAML text, written directly: ruamel's pure-Python emitter took ~1.4 s per MB of
plan (an event, a style analysis and a representer call per scalar), more than planning itself.

The output is deliberately plain: block mappings and lists, with a collection that holds only scalars on one
line in flow style (`kubernetesGroups: [a, b]`, `params: {principalArn: arn:...}`), which is what keeps a
plan of thousands of entries small and still easy to read. A string is written plain only when its
characters cannot mean anything else in YAML and both YAML 1.2 (ruamel, our reader) and YAML 1.1 (PyYAML, a
reviewer's script) read it back as that string; anything else is double-quoted with JSON's escapes, which
YAML's double-quoted style shares, plus `\\u` escapes for the characters YAML treats as line breaks or does
not allow in a stream. tests/unit/test_yamltext.py checks `load(dump(x)) == x` over generated data.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ruamel.yaml.resolver import VersionedResolver

# Characters that cannot start or end a token in block or flow context: no indicators (`-?:,[]{}#&*!|>'"%@`),
# no spaces. A ":" inside (an ARN's) is fine when a character from this set follows it.
_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./=+-]*(?::+[A-Za-z0-9_./=+*-]+)*")
# YAML 1.1 reads these as booleans, and `1:30` as a sexagesimal number; YAML 1.2 reads them as strings.
_YAML11_SPECIAL = re.compile(r"(?i:y|n|yes|no|on|off)|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
# After json.dumps: line breaks YAML knows beyond \n and \r, the BOM, C1 controls, DEL, surrogates and
# non-characters are not allowed raw in a YAML stream (or would end the line).
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
# ruamel's own implicit-type table for YAML 1.2 (first character -> [(tag, pattern)]), looked up directly:
# its `resolve()` re-derives the version per call, which was half the time of writing a plan.
_IMPLICIT: dict[str | None, list[tuple[str, re.Pattern[str]]]] = VersionedResolver(version=(1, 2)).versioned_resolver
_INDENT = "  "


def dump_yaml(data: Mapping[str, Any]) -> str:
    """`data` (dicts with string keys, lists, str, int, bool, None) as a YAML document."""
    return "".join(_block_mapping(data, ""))


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"a plan file holds no {type(value).__name__} ({value!r})")


@functools.lru_cache(maxsize=4096)  # a plan repeats its keys, groups and policy ARNs thousands of times
def _string(text: str) -> str:
    return text if _is_plain(text) else _quoted(text)


def _is_plain(text: str) -> bool:
    return (
        _PLAIN.fullmatch(text) is not None
        and _YAML11_SPECIAL.fullmatch(text) is None
        and not any(pattern.match(text) for _tag, pattern in _IMPLICIT.get(text[0], ()))
    )


def _quoted(text: str) -> str:
    return _UNSAFE.sub(_escape, json.dumps(text, ensure_ascii=False))


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _is_leaf(value: Any) -> bool:
    """Written on one line: a scalar, or a collection of scalars only (an empty one included)."""
    if isinstance(value, Mapping):
        return all(_is_atom(v) for v in value.values())
    if isinstance(value, list):
        return all(_is_atom(v) for v in value)
    return True


def _is_atom(value: Any) -> bool:
    return not isinstance(value, Mapping | list) or not value


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{scalar(k)}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return scalar(value)


def _block_mapping(data: Mapping[str, Any], indent: str) -> Iterator[str]:
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"a plan file's keys are strings, not {key!r}")
        if _is_leaf(value) and not (not indent and isinstance(value, Mapping) and value):
            # the top level's own sections (cluster, fingerprint) stay blocks: they are read first
            yield f"{indent}{scalar(key)}: {_inline(value)}\n"
        elif isinstance(value, Mapping):
            yield f"{indent}{scalar(key)}:\n"
            yield from _block_mapping(value, indent + _INDENT)
        else:
            yield f"{indent}{scalar(key)}:\n"
            yield from _block_list(value, indent)


def _block_list(items: Sequence[Any], indent: str) -> Iterator[str]:
    """Items at the parent key's indentation, as ruamel and kubectl write them."""
    for item in items:
        if _is_leaf(item) and not (isinstance(item, Mapping) and item):
            yield f"{indent}- {_inline(item)}\n"
        elif isinstance(item, Mapping):
            lines = _block_mapping(item, indent + _INDENT)
            yield f"{indent}- {next(lines)[len(indent) + 2 :]}"
            yield from lines
        else:
            yield f"{indent}-\n"
            yield from _block_list(item, indent + _INDENT)
