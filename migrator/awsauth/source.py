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

The authenticator reads this YAML with yaml.v2 (YAML 1.1), ruamel with YAML 1.2: `_Scanner` narrows what
ruamel accepts to YAML both read alike (`NotAccepted` names the construct), per kind of text (`_Profile`),
in the one parse. tests/differential checks it against the real Go libraries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarstring import LiteralScalarString
from ruamel.yaml.scanner import RoundTripScanner, Scanner, ScannerError

from migrator.awsauth.golang import Yaml11Kind, taken_as_json, yaml11_kind
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


def load_document(source: str, file: str, *, bom: bool = False) -> tuple[Any, Any]:
    """The outer document and its ruamel tree (for line numbers; None when unavailable).

    Kubernetes tools read a document whose first non-space character is `{` as JSON, and only as JSON; so
    does this reader. `bom`: the text had a byte order mark, which Go's space test does not skip, so a Go
    reader would read JSON after it as YAML: refused rather than guessed."""
    outer = Origin(file, "", first_line=1)
    if not taken_as_json(source):
        tree = load_yaml(source, outer)
        return tree, tree
    if bom:
        raise SourceError(file, 1, "a byte order mark before JSON: Go readers take the file for YAML, others for "
                          "JSON; save it without the byte order mark")  # fmt: skip
    refuse_characters(source, True, outer)
    _refuse_json_escapes(source, outer)
    try:
        document = json.loads(source, object_pairs_hook=_json_object, parse_constant=_json_constant)
    except (ValueError, RecursionError) as json_error:
        if isinstance(json_error, _JsonDuplicateKey):
            line = _duplicate_key_line(source)
            raise SourceError(file, line, f"duplicate key {json_error.key!r}: each key may appear once") from None
        raise _json_failure(json_error, file) from None
    return document, _quiet_tree(source)


def _duplicate_key_line(source: str) -> int | None:
    """Where the duplicate key is: json does not say, ruamel (which reads this JSON as YAML) does."""
    try:
        _new_yaml().load(source)
    except MarkedYAMLError as exc:
        return line1(getattr(exc.problem_mark, "line", None))
    except Exception:  # a courtesy only: the error stands without a line
        return None
    return None


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (Go's encoding/json rejects it)")


# JSON escapes a YAML reader (sigs.k8s.io/yaml reads JSON as YAML) rejects: `\/`, and surrogates, even paired.
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def _refuse_json_escapes(source: str, origin: Origin) -> None:
    for match in _JSON_ESCAPE.finditer(source):
        escape = match.group(1)
        if escape == "/" or (escape[0] == "u" and 0xD800 <= int(escape[1:], 16) <= 0xDFFF):
            line0 = source.count("\n", 0, match.start())
            raise origin.error(line0, f"not accepted: the escape \\{escape}: yaml.v2 rejects it")


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
        return SourceError(
            file,
            exc.lineno,
            f"invalid JSON: {exc.msg} (column {exc.colno})",
            hint="a file that starts with '{' is JSON to Kubernetes tools: write it as JSON, or as block YAML",
        )
    if isinstance(exc, RecursionError):
        return SourceError(file, None, "invalid JSON: nested too deeply")
    return SourceError(file, None, f"invalid JSON: {shorten(str(exc))}")


def _quiet_tree(source: str) -> Any:
    """ruamel's view of JSON text, used only for key lines; the values always come from `json`."""
    try:
        return _new_yaml().load(source)
    except Exception:  # line numbers are a courtesy here; json already validated the text
        return None


class NotAccepted(ScannerError):
    """YAML this reader does not accept: yaml.v2 (the authenticator's reader) would read it otherwise, or
    reject it, or reading it the same way is not worth the risk. The problem names the construct."""


@dataclass(frozen=True)
class _Profile:
    """What one kind of text may hold, beyond what ruamel itself accepts."""

    name: str
    one_line_scalars: bool  # inside aws-auth's data keys: no folding rules to get wrong
    block_scalars: bool  # `|` literals (the outer document's data values)
    plain_rule: str  # "string": only strings or null (JSON-decoded sections); "agree": yaml.v2 and ruamel
    #                  resolve it alike (the outer document); "text": the raw text is used (mapAccounts)
    max_depth: int
    crlf: bool  # Windows line ends (an exported file; data values never hold a raw CR)


_OUTER = _Profile("outer", one_line_scalars=False, block_scalars=True, plain_rule="agree", max_depth=32, crlf=True)
_MAPPINGS = _Profile("mappings", one_line_scalars=True, block_scalars=False, plain_rule="string", max_depth=8,
                     crlf=False)  # fmt: skip
_ACCOUNTS = _Profile("accounts", one_line_scalars=True, block_scalars=False, plain_rule="text", max_depth=8,
                     crlf=False)  # fmt: skip

# Characters refused anywhere: controls (tabs too: yaml.v2 and ruamel disagree on where a tab may stand),
# the line separators yaml.v2 breaks lines at but YAML 1.2 does not (U+0085, U+2028, U+2029), the other
# Unicode spaces (Go's unicode.IsSpace skips them where YAML does not), byte order marks and lone surrogates.
_REFUSED_CHARACTERS = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\ufffe\uffff\ud800-\udfff]"
)
_CHARACTER_NAMES = {"\r": "a carriage return (U+000D)", "\x85": "U+0085 (NEL)", "\xa0": "a no-break space (U+00A0)"}
# Escapes both yaml.v2 and ruamel decode alike; `\/` (JSON's) is yaml.v2's "unknown escape character".
_ESCAPES = frozenset('0abtnvfre "\\N_LP')
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_YAML_TAGS = "tag:yaml.org,2002:"
_RUAMEL_KINDS = {
    f"{_YAML_TAGS}str": Yaml11Kind.STR,
    f"{_YAML_TAGS}null": Yaml11Kind.NULL,
    f"{_YAML_TAGS}bool": Yaml11Kind.BOOL,
    f"{_YAML_TAGS}int": Yaml11Kind.INT,
    f"{_YAML_TAGS}float": Yaml11Kind.FLOAT,
    f"{_YAML_TAGS}timestamp": Yaml11Kind.TIMESTAMP,
    f"{_YAML_TAGS}merge": Yaml11Kind.MERGE,
}
_KIND_WORDS = {
    Yaml11Kind.BOOL: "a boolean",
    Yaml11Kind.INT: "a number",
    Yaml11Kind.FLOAT: "a number",
    Yaml11Kind.TIMESTAMP: "a timestamp",
    Yaml11Kind.MERGE: "a merge key",
    Yaml11Kind.NULL: "null",
}


def refuse_characters(text: str, profile_crlf: bool, origin: Origin) -> None:
    """Refuse the first character outside what every reader agrees on, naming its line."""
    for match in _REFUSED_CHARACTERS.finditer(text):
        char = match.group()
        if char == "\r" and profile_crlf and text.startswith("\n", match.end()):
            continue
        line0 = text.count("\n", 0, match.start())
        line_start = text.rfind("\n", 0, match.start()) + 1
        if char == "\t" and not text[line_start : match.start()].strip(" \t"):
            problem = "the line is indented with a tab; YAML indentation must use spaces"
        elif char == "\t":
            problem = (
                "a tab character is not allowed in aws-auth (YAML readers disagree on where one may stand); use spaces"
            )
        else:
            name = _CHARACTER_NAMES.get(char, f"the character U+{ord(char):04X}")
            problem = f"{name} is not allowed in aws-auth (the authenticator's YAML reads it otherwise)"
        raise origin.error(line0, f"{_prefix(origin)}: {problem}")


class _Scanner(Scanner):
    """ruamel's plain scanner (the round-trip one gathers comments at every token, ~12% of reading a 1 MiB
    aws-auth, and nothing here reads a comment), narrowed to YAML that yaml.v2 reads the same way.

    Tags keep the round-trip scanner's `%XX` handling: its parser decodes a tag's escapes once
    (`Tag.uri_decoded_suffix`), and the plain scanner would decode them first."""

    profile = _OUTER
    scan_uri_escapes = RoundTripScanner.scan_uri_escapes

    def _refuse(self, construct: str, mark: Any = None) -> NoReturn:
        raise NotAccepted(None, None, construct, mark or self.reader.get_mark())

    def fetch_directive(self) -> None:
        self._refuse("a YAML directive (%YAML, %TAG): yaml.v2 reads only YAML 1.1 and rejects %YAML 1.2")

    def fetch_document_end(self) -> None:
        self._refuse("a document end marker (...)")

    def fetch_anchor(self) -> None:
        self._refuse("YAML anchors and aliases (&name, *name): yaml.v2 merges and limits them its own way")

    fetch_alias = fetch_anchor

    def fetch_tag(self) -> None:
        mark = self.reader.get_mark()
        handle, suffix = self.scan_tag().value
        shown = (handle or "") + (suffix or "")
        self._refuse(f"YAML tags ({shown}) are not allowed in aws-auth: yaml.v2 resolves them otherwise", mark)

    def fetch_key(self) -> None:
        self._refuse("an explicit key (`? key`)")

    def fetch_value(self) -> None:
        if self.flow_level not in self.possible_simple_keys:
            self._refuse("a ':' with no key before it: yaml.v2 rejects an empty key")
        super().fetch_value()

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
        self._check_depth()
        super().fetch_flow_collection_start(TokenClass, to_push)

    def add_indent(self, column: int) -> bool:
        added = super().add_indent(column)
        if added:
            self._check_depth()
        return added

    def _check_depth(self) -> None:
        if self.flow_level + len(self.indents) >= self.profile.max_depth:
            self._refuse(f"nesting deeper than {self.profile.max_depth} levels")

    def fetch_block_scalar(self, style: Any) -> None:
        if style != "|" or not self.profile.block_scalars:
            shown = "a folded block scalar (>)" if style == ">" else "a block scalar (|)"
            self._refuse(f"{shown} here: write the value on one line, quoted if needed")
        super().fetch_block_scalar(style)

    def fetch_flow_scalar(self, style: Any) -> None:
        mark = self.reader.get_mark()
        try:
            super().fetch_flow_scalar(style)
        except (ValueError, OverflowError):  # chr() of an escape above U+10FFFF
            self._refuse("an escape above U+10FFFF: yaml.v2 rejects surrogates and code points above U+10FFFF", mark)
        token = self.tokens[-1]
        self._check_lines(token)
        if style == '"':
            self._check_escapes(token)

    def fetch_plain(self) -> None:
        super().fetch_plain()
        token = self.tokens[-1]
        self._check_lines(token)
        value = token.value
        if self.flow_level and "?" in value:
            self._refuse(f"{_quoted(value)}: a '?' in an unquoted value inside [ ] or {{ }} ends the value for "
                         "yaml.v2: quote it", token.start_mark)  # fmt: skip
        if (self.profile.one_line_scalars or self.flow_level) and value[:1] in _INDICATORS:
            self._refuse(f"{_quoted(value)}: an unquoted value starting with {value[0]!r}: quote it", token.start_mark)
        self._check_kind(token)

    def _check_lines(self, token: Any) -> None:
        if self.profile.one_line_scalars and token.end_mark.line != token.start_mark.line:
            self._refuse("a value spread over several lines: write it on one line", token.start_mark)

    def _check_escapes(self, token: Any) -> None:
        raw = self.reader.buffer[token.start_mark.index + 1 : token.end_mark.index - 1]
        index = raw.find("\\")
        while index != -1:
            escape = raw[index + 1 : index + 2]
            if escape in _HEX_ESCAPES:
                digits = raw[index + 2 : index + 2 + _HEX_ESCAPES[escape]]
                code = int(digits, 16)  # ruamel has checked the hex digits
                if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                    self._refuse(f"the escape \\{escape}{digits}: yaml.v2 rejects surrogates and code points "
                                 "above U+10FFFF", token.start_mark)  # fmt: skip
                index += 2 + len(digits)
            elif escape in "\r\n" and not self.profile.one_line_scalars:  # a line continued
                index += 2
            elif escape not in _ESCAPES:
                self._refuse(f"the escape \\{escape} in a double-quoted value: yaml.v2 does not know it",
                             token.start_mark)  # fmt: skip
            else:
                index += 2
            index = raw.find("\\", index)

    def _check_kind(self, token: Any) -> None:
        rule = self.profile.plain_rule
        if rule == "text":
            return
        value = token.value
        v2 = yaml11_kind(value)
        tag = self.loader.resolver.resolve(ScalarNode, value, (True, False))
        ours = _RUAMEL_KINDS.get(str(tag), Yaml11Kind.MERGE)  # an unknown tag (`=`, YAML 1.1's value) is refused
        if v2 is Yaml11Kind.MERGE or ours is Yaml11Kind.MERGE:
            shown = (
                "a merge key (<<): yaml.v2 applies it by position"
                if value == "<<"
                else (f"{_quoted(value)}: YAML 1.1 gives it a meaning of its own: quote it")
            )
            self._refuse(shown, token.start_mark)
        if value.lstrip("+-").lower() in (".inf", ".nan"):
            self._refuse(f"{_quoted(value)}: a value JSON cannot hold (sigs.k8s.io/yaml fails on it): quote it",
                         token.start_mark)  # fmt: skip
        if rule == "string" and (v2 not in _STRINGISH or ours not in _STRINGISH or v2 is not ours):
            odd = v2 if v2 not in _STRINGISH else ours
            self._refuse(f"{_quoted(value)} is {_KIND_WORDS.get(odd, 'no string')} to YAML 1.1 (the authenticator "
                         "reads aws-auth with it), not text: quote it if it is text", token.start_mark)  # fmt: skip
        if rule == "agree" and v2 is not ours:
            self._refuse(f"{_quoted(value)} is {_KIND_WORDS.get(v2, 'text')} to YAML 1.1 and "
                         f"{_KIND_WORDS.get(ours, 'text')} to YAML 1.2: quote it", token.start_mark)  # fmt: skip


_STRINGISH = frozenset((Yaml11Kind.STR, Yaml11Kind.NULL))


def _quoted(value: str) -> str:
    return repr(shorten(value, 40))


class _MappingsScanner(_Scanner):
    profile = _MAPPINGS


class _AccountsScanner(_Scanner):
    profile = _ACCOUNTS


def _profile_of(origin: Origin) -> type[_Scanner]:
    if not origin.section:
        return _Scanner
    return _AccountsScanner if origin.section == "mapAccounts" else _MappingsScanner


def _prefix(origin: Origin) -> str:
    return f"{origin.section}: not accepted" if origin.section else "not accepted"


def _new_yaml(scanner: type[_Scanner] = _Scanner) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # quoted scalars keep a str subclass, so plain words can be told apart
    yaml.Scanner = scanner
    return yaml


def load_yaml(text: str, origin: Origin) -> Any:
    scanner = _profile_of(origin)
    refuse_characters(text, scanner.profile.crlf, origin)
    try:
        tree = _new_yaml(scanner).load(text)
    except Exception as exc:
        raise _yaml_failure(exc, text, origin) from None
    _refuse_odd_keys(tree, origin, None)
    return tree


def _refuse_odd_keys(node: Any, origin: Origin, line0: int | None) -> None:
    """Every key, at any depth (under keys we ignore too), must be text: sigs.k8s.io/yaml cannot turn a null
    key into JSON and yaml.v2 rejects a list or mapping as a key, and either drops the whole section."""
    if isinstance(node, dict):
        for key, value in node.items():
            at = either(key_line0(node, key), line0)
            if not isinstance(key, str):
                raise origin.error(at, f"{_prefix(origin)}: the key {describe(key)} is no text; the authenticator's "
                                   "YAML cannot read it, and drops everything around it")  # fmt: skip
            _refuse_odd_keys(value, origin, at)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _refuse_odd_keys(item, origin, either(item_line0(node, index), line0))


def compose_yaml(text: str, origin: Origin) -> Node | None:
    scanner = _profile_of(origin)
    refuse_characters(text, scanner.profile.crlf, origin)
    try:
        node: Node | None = _new_yaml(scanner).compose(text)
    except Exception as exc:
        raise _yaml_failure(exc, text, origin) from None
    return node


def _yaml_failure(exc: Exception, text: str, origin: Origin) -> SourceError:
    """A SourceError for anything ruamel raised; it can raise more than YAMLError on hostile input."""
    if isinstance(exc, NotAccepted):
        line0 = getattr(exc.problem_mark, "line", None)
        return origin.error(line0 if isinstance(line0, int) else None, f"{_prefix(origin)}: {exc.problem}")
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
        return origin.error(line0, f"{prefix}: {_yaml_problem(exc)}")
    if isinstance(exc, RecursionError):
        return origin.error(None, f"{prefix}: nested too deeply")
    return origin.error(None, f"{prefix}: {type(exc).__name__}: {shorten(str(exc))}")


def _yaml_problem(exc: MarkedYAMLError) -> str:
    """ruamel's words, shortened (tabs never get here: `refuse_characters` names them first)."""
    problem = str(exc.problem or exc.context or type(exc).__name__)
    duplicate = re.match(r'found duplicate key "(.*?)" with value', problem, re.S)
    if duplicate:
        return f"duplicate key {shorten(duplicate.group(1))!r}: each key may appear once"
    if exc.context and exc.problem:
        return f"{shorten(problem)} ({exc.context})"
    return shorten(problem)


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
    if isinstance(value, list | tuple):  # ruamel gives a list used as a key as a tuple
        return "a list"
    return f"a {type(value).__name__}"


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
