"""A plan file's YAML read in one pass over ruamel's event stream, checked as it is built.

Plan files are plain JSON-shaped YAML: no anchors or aliases (a billion-laughs bomb expands only when built,
so it is refused at its first anchor), no tags, no merge keys, no duplicate keys, one document, nesting at
most MAX_DEPTH deep. Checking the events and then letting ruamel load the text parsed it twice and built a
node graph in between: 3.3 s + 5.9 s for a 2.7 MB plan, where this reader takes the parse alone and builds
the data as it goes. Scalars mean what ruamel's safe loader (YAML 1.2) makes of them: a plain scalar is
resolved with ruamel's own resolver and constructed by its SafeConstructor (ints, booleans, nulls, dates;
the caller refuses what JSON does not have); a quoted or block scalar is a string.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import BaseConstructor
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from migrator.errors import PlanIntegrityError

MAX_DEPTH = 32  # a plan nests 6 levels deep; deeper is not a plan, and would exhaust the recursion
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
# ruamel's YAML 1.2 implicit-type table, used as its resolver does (`resolve()` re-derives the version per call)
_IMPLICIT: dict[str | None, list[tuple[str, re.Pattern[str]]]] = VersionedResolver(version=(1, 2)).versioned_resolver


class _Key:
    """A mapping key that is a collection: kept as a marker, refused when it is used as a key."""


def read_yaml(text: str, label: str) -> Any:
    """The data of a plan file's text; PlanIntegrityError naming label:line for what a plan never holds.
    ruamel's YAMLError (invalid YAML) passes through, as ruamel's own loader would raise it."""
    stack: list[Any] = []  # open collections; a mapping's pending key rides along as [dict, key]
    documents = 0
    result: Any = None
    yaml = YAML(typ="safe", pure=True)
    for event in yaml.parse(text):
        where = _where(event, label)
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise PlanIntegrityError(f"{where}: YAML anchors and aliases are not allowed in a plan file")
        if getattr(event, "tag", None) is not None:
            raise PlanIntegrityError(f"{where}: YAML tags ({event.tag}) are not allowed in a plan file")
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise PlanIntegrityError(f"{where}: invalid YAML: a plan file is one YAML document")
            continue
        if isinstance(event, MappingStartEvent | SequenceStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise PlanIntegrityError(f"{where}: nested deeper than {MAX_DEPTH} levels; not a plan file")
            stack.append([{}, None] if isinstance(event, MappingStartEvent) else [[]])
            continue
        if isinstance(event, MappingEndEvent | SequenceEndEvent):
            value = stack.pop()[0]
        elif isinstance(event, ScalarEvent):
            value = _scalar(event, where, yaml.constructor)
        else:
            continue  # stream and document ends
        if not stack:
            result = value
        else:
            _add(stack[-1], value, where)
    return result


def _add(open_collection: list[Any], value: Any, where: str) -> None:
    container = open_collection[0]
    if isinstance(container, list):
        container.append(value)
        return
    key = open_collection[1]
    if key is None:
        open_collection[1] = _Key() if isinstance(value, dict | list) else _Pending(value)
        return
    open_collection[1] = None
    key = key.value if isinstance(key, _Pending) else key
    if isinstance(key, _Key):
        raise PlanIntegrityError(f"{where}: a plan file has a key that is not a string")
    if key in container:
        raise PlanIntegrityError(f"{where}: duplicate key {key!r}: each key may appear once")
    container[key] = value


class _Pending:
    """A key read, its value not yet (a key may itself be None, so None cannot mean 'no key')."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _scalar(event: ScalarEvent, where: str, constructor: BaseConstructor) -> Any:
    if event.style:  # quoted or block: always a string
        return event.value
    tag = _implicit_tag(event.value)
    if tag == _STR:
        return event.value
    if tag == _MERGE:
        raise PlanIntegrityError(f"{where}: YAML merge keys (<<) are not allowed in a plan file")
    return constructor.construct_object(ScalarNode(tag, event.value), deep=True)


def _implicit_tag(value: str) -> str:
    for tag, pattern in [*_IMPLICIT.get(value[0] if value else "", ()), *_IMPLICIT.get(None, ())]:
        if pattern.match(value):
            return str(tag)
    return _STR


def _where(event: Any, label: str) -> str:
    mark = event.start_mark
    return f"{label}:{mark.line + 1}" if mark is not None else label
