"""Reading aws-auth text into values, and pointing every problem at a line a person can open.

The outer document is YAML or JSON; the `mapRoles`, `mapUsers` and `mapAccounts` data keys hold more YAML
inside strings. Every problem becomes `SourceError(file, line, message)` with the line in the *outer* file
whenever it can be known:

- a literal block (`mapRoles: |`) keeps its lines one to one, starting on the line after the key;
- a quoted or folded value (and every value of JSON input) cannot be mapped line by line, so errors point
  at the key's line and name the line inside the value;
- for a live object (`parse_configmap_object`) there is no file: lines are counted inside each block.

ruamel (round-trip mode) supplies the line numbers; `json` supplies the values of JSON input, so a JSON
document is read exactly as JSON, and ruamel's view of it serves only to find key lines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import Node
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarstring import LiteralScalarString
from ruamel.yaml.scanner import RoundTripScanner, Scanner

from migrator.errors import SourceError

# --- positions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
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
class Positions:
    """Line lookups in the outer document: `tree` is its ruamel round-trip form, or None when there is none."""

    file: str
    tree: Any
    relative_blocks: bool = False

    def line(self, *path: str) -> int | None:
        """1-based line of the key at `path` (e.g. "metadata", "name"), when known."""
        node = self.tree
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        line0 = key_line0(node, path[-1])
        return None if line0 is None else line0 + 1

    def origin(self, data_key: str) -> Origin:
        if self.relative_blocks:
            return Origin(self.file, data_key, first_line=1, relative=True)
        data = self.tree.get("data") if isinstance(self.tree, dict) else None
        first_line = None
        if isinstance(data, dict) and isinstance(data.get(data_key), LiteralScalarString):
            indicator0 = value_line0(data, data_key)  # the line of `|`; the content starts below it
            first_line = None if indicator0 is None else indicator0 + 2
        return Origin(self.file, data_key, first_line, self.line("data", data_key))


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


def key_line0(node: Any, key: Any) -> int | None:
    return _lc(node, "key", key)


def value_line0(node: Any, key: Any) -> int | None:
    """The value's line; for a missing value (null) ruamel records the next token, so take the key's."""
    if isinstance(node, dict) and node.get(key) is None:
        return _lc(node, "key", key)
    return _lc(node, "value", key)


def item_line0(node: Any, index: int) -> int | None:
    return _lc(node, "item", index)


def either(line0: int | None, fallback: int | None) -> int | None:
    """The first known line (0 is a line, so `or` would not do)."""
    return fallback if line0 is None else line0


def node_line0(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    line = getattr(lc, "line", None)
    return line if isinstance(line, int) else None


def line1(line0: int | None) -> int | None:
    """The 1-based line a person reads for ruamel's 0-based one."""
    return None if line0 is None else line0 + 1


# --- reading text ----------------------------------------------------------------------------------------


def load_document(source: str, file: str) -> tuple[Any, Any]:
    """The outer document and its ruamel tree (for line numbers; None when unavailable)."""
    outer = Origin(file, "", first_line=1)
    if not source.lstrip().startswith("{"):
        tree = load_yaml(source, outer)
        return tree, tree
    try:
        document = json.loads(source, object_pairs_hook=_json_object)
    except (ValueError, RecursionError) as json_error:
        # A YAML flow mapping starts with "{" too: only blame JSON when YAML cannot read it either.
        try:
            tree = load_yaml(source, outer)
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
    return SourceError(file, None, f"invalid JSON: {shorten(str(exc))}")


def _quiet_tree(source: str) -> Any:
    """ruamel's view of JSON text, used only for key lines; the values always come from `json`."""
    try:
        return _new_yaml().load(source)
    except Exception:  # line numbers are a courtesy here; json already validated the text
        return None


class _Scanner(Scanner):
    """The plain scanner: the round-trip one gathers comments at every token, ~12% of reading a 1 MiB
    aws-auth, and nothing here reads a comment. Tags keep the round-trip scanner's `%XX` handling: its
    parser decodes a tag's escapes once (`Tag.uri_decoded_suffix`), and the plain scanner would decode them
    first, so `!!%2569nt` would become `!!int`."""

    scan_uri_escapes = RoundTripScanner.scan_uri_escapes


# Explicit tags are refused (the non-specific `!` aside, which only keeps a scalar a string): ruamel
# builds a mapping from an `!!omap` list, say, where the authenticator (Go's YAML) sees a list and maps
# nobody, and a grant aws-auth never gave must not be migrated. Tagged scalars were refused already, as
# ruamel's TaggedScalar is no string; this says why, for collections too.
_YAML_TAGS = "tag:yaml.org,2002:"


class _Composer(Composer):
    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        tag = None if isinstance(event, AliasEvent) else event.tag
        if tag is not None and tag != "!":
            shown = f"!!{tag[len(_YAML_TAGS) :]}" if tag.startswith(_YAML_TAGS) else tag
            raise ComposerError(None, None, f"YAML tags ({shown}) are not allowed in aws-auth", event.start_mark)
        return super().compose_node(parent, index)


def _new_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # quoted scalars keep a str subclass, so plain words can be told apart
    yaml.Scanner = _Scanner
    yaml.Composer = _Composer
    return yaml


def load_yaml(text: str, origin: Origin) -> Any:
    try:
        return _new_yaml().load(text)
    except Exception as exc:
        raise _yaml_failure(exc, text, origin) from None


def compose_yaml(text: str, origin: Origin) -> Node | None:
    try:
        node: Node | None = _new_yaml().compose(text)
    except Exception as exc:
        raise _yaml_failure(exc, text, origin) from None
    return node


def _yaml_failure(exc: Exception, text: str, origin: Origin) -> SourceError:
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
    return origin.error(None, f"{prefix}: {type(exc).__name__}: {shorten(str(exc))}")


def _yaml_problem(exc: MarkedYAMLError, text: str, line0: int | None) -> str:
    problem = str(exc.problem or exc.context or type(exc).__name__)
    if line0 is not None and "\t" in _leading_space(text, line0):
        return "the line is indented with a tab; YAML indentation must use spaces"
    if "\\t" in problem:
        return "a tab character where YAML does not allow one; use spaces"
    duplicate = re.match(r'found duplicate key "(.*?)" with value', problem, re.S)
    if duplicate:
        return f"duplicate key {shorten(duplicate.group(1))!r}: each key may appear once"
    if exc.context and exc.problem:
        return f"{shorten(problem)} ({exc.context})"
    return shorten(problem)


def _leading_space(text: str, line0: int) -> str:
    lines = text.splitlines()
    if line0 >= len(lines):
        return ""
    line = lines[line0]
    return line[: len(line) - len(line.lstrip(" \t"))]


# --- messages --------------------------------------------------------------------------------------------


def describe(value: Any) -> str:
    """A value as YAML or JSON produced it, named for a message ("the number 12", "a list")."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {shorten(repr(value) if isinstance(value, float) else str(int(value)))}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        return f"the string {shorten(repr(str(value)))}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
