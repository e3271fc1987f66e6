# ruff: noqa: RUF001, RUF002, RUF003  (the look-alike letters are the point: keys encoding/json folds)
"""Whole aws-auth ConfigMap documents for the differential test against the Go oracle (conftest.py).

One generator, two drivers: the hypothesis strategies below (`ordinary_document()`, one strategy per class
of the issue, `any_document()`) and `corpus.py`'s seeded `random.Random`, so the seeded corpus file is
stable. The generator only makes text; what the text means is the oracle's to say, so nothing here
predicts a result, and an odd construct is never "wrong": it is a test.

Documents are mostly `kubectl get cm aws-auth -n kube-system -o yaml` shaped (each data value written as
yaml.v2's emitter writes it: a literal block when it may, else a double-quoted scalar folded at 80 columns),
some `-o json` (Go's encoder), some with odd outer encodings. Inside, 1-12 mappings drawn from a small
pool of principals (a handful of accounts, three partitions), so duplicates within and across sections,
case variants and mapAccounts hits are common. The classes (`Kind`) are those of issue 19:

1. YAML_REJECTS: what yaml.v2 rejects and other parsers accept (`?` in a flow plain scalar, `\\/`,
   directives, U+0085/U+2028/U+2029/U+00A0 in plain scalars, alias bombs, anchors, markers, tabs);
2. FOLDED_KEYS: keys encoding/json folds onto a field (`uſername`, `groupſ`, `ſso`, `USERNAME`, ...);
3. MERGE_KEYS: `<<` with anchors, inline, lists, in every position, overriding any field;
4. YAML11_SCALARS: YAML 1.1 numbers, booleans, nulls and timestamps in every place;
5. ESCAPES: double-quoted escapes (surrogates, `\\U`, `\\x85`, `\\N`, `\\_`, `\\L`, `\\P`, escaped breaks),
   inside the sections and in the outer document;
6. ODD_SHAPES: sections that are JSON, mappings, scalars, null or quotes; items that are not mappings;
   mappings without an ARN; wrong types; `sso:` with `rolearn:`; flow styles; multi-line scalars; CRLF;
   comments; indentation variants and errors.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

__all__ = [
    "ACCOUNTS",
    "DrawChooser",
    "Kind",
    "RandomChooser",
    "any_document",
    "document",
    "escapes_document",
    "folded_keys_document",
    "generate",
    "merge_keys_document",
    "mixed_document",
    "odd_shapes_document",
    "ordinary_document",
    "yaml11_scalars_document",
    "yaml_rejects_document",
]


class Kind(StrEnum):
    YAML_REJECTS = "yaml-rejects"
    FOLDED_KEYS = "folded-keys"
    MERGE_KEYS = "merge-keys"
    YAML11_SCALARS = "yaml11-scalars"
    ESCAPES = "escapes"
    ODD_SHAPES = "odd-shapes"


# --- drivers ---------------------------------------------------------------------------------------------


class Chooser(Protocol):
    """Every decision the generator makes. Options come simplest first (hypothesis shrinks towards them)."""

    def pick(self, options: Sequence[T]) -> T: ...

    def number(self, low: int, high: int) -> int: ...

    def maybe(self, percent: int) -> bool: ...


class RandomChooser:
    """Decisions from a seeded `random.Random`: a stable corpus."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def number(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def maybe(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent


class DrawChooser:
    """Decisions drawn by hypothesis: each shrinks towards the first option, the low number, and "no"."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def pick(self, options: Sequence[T]) -> T:
        return options[self.draw(st.integers(0, len(options) - 1))]

    def number(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def maybe(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) >= 100 - percent


# --- the pieces of aws-auth ------------------------------------------------------------------------------

ACCOUNTS = ("111122223333", "444455556666", "012345678901", "999988887777")
PARTITIONS = ("aws", "aws", "aws", "aws", "aws-cn", "aws-us-gov")
MAP_ROLES, MAP_USERS, MAP_ACCOUNTS = "mapRoles", "mapUsers", "mapAccounts"


@dataclass(frozen=True)
class Persona:
    """A kind of principal: its IAM names and paths, and the identities aws-auth gives such principals."""

    kind: str  # "role" or "user"
    names: tuple[str, ...]
    usernames: tuple[str | None, ...]
    groups: tuple[tuple[str, ...], ...]
    paths: tuple[str, ...] = ("",)


EC2_NODE = "system:node:{{EC2PrivateDNSName}}"
SESSION_NODE = "system:node:{{SessionName}}"
BOOT, NODES, PROXIER, WIN = "system:bootstrappers", "system:nodes", "system:node-proxier", "eks:kube-proxy-windows"

PERSONAS: tuple[Persona, ...] = (
    Persona(
        "role",
        ("Admin", "ClusterAdmin", "platform-admin"),
        ("admin", "cluster-admin", "admin:{{SessionName}}", None, "{{SessionName}}", "kubernetes-admin"),
        (("system:masters",), ("system:masters", "ops"), ("ops", "system:masters", "ops")),
    ),
    Persona(
        "role",
        ("Developer", "dev-team", "ci-deployer"),
        ("dev:{{SessionName}}", "developer", "dev-{{AccountID}}:{{SessionNameRaw}}", None, "", "deployer"),
        ((), ("developers",), ("developers", "viewers"), ("team-{{AccountID}}",)),
        ("", "", "", "team/"),
    ),
    Persona(
        "role",
        ("ReadOnly", "Auditor"),
        ("viewer", "ro:{{SessionName}}", "arn:aws:sts::{{AccountID}}:assumed-role/ReadOnly/{{SessionName}}"),
        (("viewers",), ("viewers", "system:authenticated")),
    ),
    Persona(
        "role",
        ("eks-node-NodeInstanceRole-1A2B3C4D", "eksctl-prod-nodegroup-ng-1-NodeInstanceRole-X1Y2"),
        (EC2_NODE,),
        ((BOOT, NODES), (NODES,), (BOOT, NODES, "ops"), (NODES, BOOT)),
    ),
    Persona(
        "role", ("WindowsNodeRole", "eks-win-NodeInstanceRole-9Z"), (EC2_NODE,), ((BOOT, NODES, WIN), (NODES, WIN))
    ),
    Persona(
        "role",
        ("AmazonEKSFargatePodExecutionRole", "fargate-pod-exec"),
        (SESSION_NODE,),
        ((BOOT, NODES, PROXIER), (NODES, PROXIER), (BOOT, NODES)),
    ),
    Persona(
        "role",
        ("AWSReservedSSO_AdministratorAccess_0123456789abcdef", "AWSReservedSSO_ReadOnly_fedcba9876543210"),
        ("sso-admin:{{SessionName}}", None, "{{SessionName}}"),
        (("system:masters",), ("viewers",)),
        ("", "", "aws-reserved/sso.amazonaws.com/", "aws-reserved/sso.amazonaws.com/eu-west-1/"),
    ),
    Persona(
        "role",
        ("Odd", "AWSServiceRoleForAmazonEKS", "odd.role@corp"),
        (
            "eks:reserved",
            "{{AccessKeyID}}",
            EC2_NODE,
            "alice:{{EC2PrivateDNSName}}",
            "\u016bser",
            "two words",
            "x:{{SessionName}}",
            "arn:aws:iam::{{AccountID}}:role/Odd",
        ),
        ((NODES,), ("{{SessionName}}",), ("system:masters", NODES), ("",), ("ops", "ops")),
        ("", "service-role/", "aws-service-role/eks.amazonaws.com/"),
    ),
    Persona(
        "user",
        ("alice", "Carol"),
        ("alice", "admin-alice", None, "{{SessionName}}"),
        (("system:masters",), (), ("system:masters", "auditors")),
        ("", "", "dev/"),
    ),
    Persona(
        "user",
        ("bob", "ci-bot", "deploy+prod", "dev.user@corp"),
        ("bob", "ci", "{{AccountID}}:bob", ""),
        (("developers",), ("deployers", "viewers"), ()),
        ("", "", "", "a/b/"),
    ),
)


@dataclass(frozen=True)
class Principal:
    persona: Persona
    partition: str
    account: str
    name: str
    path: str

    @property
    def kind(self) -> str:
        return self.persona.kind

    def arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:{self.kind}/{self.path}{self.name}"


# Keys that Go's encoding/json decodes into a field (case-insensitive, `ſ` U+017F folds to s). `ı`/`İ`
# (U+0131/U+0130) fold to i only from Go 1.21 on (appendFoldedName), not in the simple folding before it.
FOLDED_KEYS: dict[str, tuple[str, ...]] = {
    "rolearn": ("RoleArn", "ROLEARN", "roleArn", "RoleARN", "rOLEARN"),
    "userarn": ("uſerarn", "UserArn", "USERARN", "uſerArn", "userARN", "UſERARN"),
    "username": ("uſername", "USERNAME", "UserName", "Username", "uſerName", "UſERNAME"),
    "groups": ("groupſ", "Groups", "GROUPS", "GROUPſ", "gRoups"),
    "sso": ("ſso", "sſo", "SSO", "ſſo", "Sso"),
    "permissionSetName": ("permıssionSetName", "permİssionSetName", "PERMISSIONSETNAME", "permiſſionſetName"),
    "accountID": ("accountıd", "accountİD", "AccountId", "ACCOUNTID", "accountid"),
    "partition": ("partıtion", "PARTITION", "Partition"),
}
# Keys that look like a field but are not one to encoding/json.
NEAR_MISS_KEYS = ("user_name", '"username "', "user-name", "rolearn2", "role arn", "userId", "groups_", "usernamé")

YAML11_SCALARS = (
    "0X1F", "0x1F", "0O17", "0o17", "0B101", "0b101", "-0b1", ".5e3", "1e5_", "1_000", "+12", "012", "08",
    ".inf", "-.inf", ".NaN", "y", "Yes", "off", "ON", "n", "~", "null", "2001-12-14", "2001-12-14T21:59:43Z",
    "1:20", "0.", "123456789012", "true", "False", "1e5", "-0x1F", "+0o17", "0x_1F", "1__0", "0b", ".5", "5.",
    "+.inf", "NULL", "TRUE", "yEs", "0777", "0_7", "1_2.5", "190:20:30", "-1:30", "1.2.3",
    "2001-12-14 21:59:43.10 -5", "0x", "=", "<<",
)  # fmt: skip
# Plain scalars that start with an indicator, or hold one where it may end the scalar.
INDICATOR_LED = (
    "%admin", "@admin", "`admin`", "!admin", "&admin", "*admin", "-admin", ":admin", "?admin", ",admin", "- admin",
    "| admin", "> admin", "admin:", "a: b", "a :b", "#admin", "[admin]", "{admin}", "admin]", "admin}", "a,b",
)  # fmt: skip
# Keys written otherwise that every reader takes as the field (quoted, escaped, spaced before the colon).
SPELLED_KEYS: dict[str, tuple[str, ...]] = {
    "rolearn": ('"rolearn"', "'rolearn'", '"r\x6flearn"', "rolearn  ", '"ROLEARN"'),
    "userarn": ('"userarn"', "'userarn'", '"u\x73erarn"', "userarn  "),
    "username": ('"username"', "'username'", '"u\x73ername"', "username  ", '"u\u017fername"'),
    "groups": ('"groups"', "'groups'", '"group\x73"', "groups ", "'GROUPS'"),
}
OUTER_QUIRKS = (
    "data-case", "data-key-case", "duplicate-data-key", "alias", "folded", "comments", "directive", "bom",
    "cr", "merge", "second-document", "json-duplicate",
)  # fmt: skip

# Escapes inside a double-quoted YAML scalar, as written (the text between the quotes).
ESCAPES = (
    "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\U0010FFFF", "\\U00110000", "\\U0001F600", "\\x85", "\\N", "\\_",
    "\\L", "\\P", "\\e", "\\0", "\\t", "\\/", "\\x41", "\\u00e9", "\\uFEFF", "\\ ", "\\\t",
)  # fmt: skip
ODD_CHARS = ("\x85", "\u2028", "\u2029", "\xa0", "\u3000", "\ufeff")


# --- a small YAML tree, written as text ------------------------------------------------------------------


@dataclass(eq=False)  # compared by identity: a tree holds the same node twice only on purpose
class Scalar:
    text: str  # as written on the key's (or dash's) line: plain, quoted, `|`, `&anchor value`...
    more: tuple[str, ...] = ()  # continuation lines, written indented below
    value: str | None = None  # the string `text` was written for, to write it again in flow style


@dataclass(eq=False)  # compared by identity: a tree holds the same node twice only on purpose
class Alias:
    name: str


@dataclass(eq=False)  # compared by identity: a tree holds the same node twice only on purpose
class Seq:
    items: list[Node]
    flow: bool = False
    anchor: str = ""


@dataclass(eq=False)  # compared by identity: a tree holds the same node twice only on purpose
class Map:
    fields: list[tuple[str, Node]]
    flow: bool = False
    anchor: str = ""

    def text_at(self, index: int | None) -> str | None:
        """The text of the scalar at field `index`, without quotes; None when it is not a scalar."""
        node = self.fields[index][1] if index is not None else None
        return node.text.strip("\"'") if isinstance(node, Scalar) else None

    def find(self, *names: str) -> int | None:
        """The index of the first field whose key is one of `names` (compared lower-cased, quotes off)."""
        wanted = {name.lower() for name in names}
        for index, (key, _) in enumerate(self.fields):
            if key.strip("\"'").lower() in wanted:
                return index
        return None


Node = Scalar | Alias | Seq | Map


@dataclass(frozen=True)
class Layout:
    step: int = 2  # indentation of a nested block mapping
    seq_indent: int = 0  # of a block list below a key: 0 as kubectl and eksctl write it, or 2
    gap: int = 1  # spaces after a list's dash


def _anchor(name: str) -> str:
    return f"&{name} " if name else ""


def flow_text(node: Node) -> str:
    if isinstance(node, Scalar):
        return " ".join((node.text, *node.more)) if node.more else node.text
    if isinstance(node, Alias):
        return f"*{node.name}"
    if isinstance(node, Seq):
        return _anchor(node.anchor) + "[" + ", ".join(flow_text(item) for item in node.items) + "]"
    return _anchor(node.anchor) + "{" + ", ".join(f"{k}: {flow_text(v)}" for k, v in node.fields) + "}"


def block_fields(fields: Sequence[tuple[str, Node]], indent: int, layout: Layout) -> list[str]:
    lines: list[str] = []
    for key, node in fields:
        lines.extend(block_field(key, node, indent, layout))
    return lines or [" " * indent + "{}"]


def block_field(key: str, node: Node, indent: int, layout: Layout) -> list[str]:
    pad = " " * indent
    if isinstance(node, Scalar):
        head = f"{pad}{key}: {node.text}" if node.text else f"{pad}{key}:"
        return [head, *(" " * (indent + 2) + line if line else "" for line in node.more)]
    if isinstance(node, Alias) or node.flow or not (node.items if isinstance(node, Seq) else node.fields):
        return [f"{pad}{key}: {flow_text(node)}"]
    head = f"{pad}{key}:" + (f" &{node.anchor}" if node.anchor else "")
    if isinstance(node, Seq):
        return [head, *block_items(node.items, indent + layout.seq_indent, layout)]
    return [head, *block_fields(node.fields, indent + layout.step, layout)]


def block_items(items: Sequence[Node], indent: int, layout: Layout) -> list[str]:
    if not items:
        return [" " * indent + "[]"]
    lines: list[str] = []
    dash = " " * indent + "-" + " " * layout.gap
    inner = indent + 1 + layout.gap
    for node in items:
        if isinstance(node, Scalar):
            lines.append(dash + node.text if node.text else dash.rstrip())
            lines.extend(" " * inner + line if line else "" for line in node.more)
        elif isinstance(node, Alias) or node.flow or not (node.items if isinstance(node, Seq) else node.fields):
            lines.append(dash + flow_text(node))
        elif isinstance(node, Seq):
            lines.append(dash + f"&{node.anchor}" if node.anchor else dash.rstrip())
            lines.extend(block_items(node.items, inner, layout))
        elif node.anchor:
            lines.append(dash + f"&{node.anchor}")
            lines.extend(block_fields(node.fields, inner, layout))
        else:
            body = block_fields(node.fields, inner, layout)
            lines.append(dash + body[0][inner:])
            lines.extend(body[1:])
    return lines


# --- scalars as YAML writes them -------------------------------------------------------------------------

_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_SHORT_ESCAPES = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
                  "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\xa0": "\\_",
                  "\u2028": "\\L", "\u2029": "\\P"}  # fmt: skip


def _looks_typed(text: str) -> bool:
    """Plain text that some YAML version reads as something other than a string (a number, bool, null, date)."""
    lowered = text.lower()
    if lowered in {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ""}:
        return True
    return text[0] in "0123456789+-." or lowered.startswith((".inf", ".nan", "-.inf", "+.inf"))


def plain_ok(text: str, *, flow: bool = False) -> bool:
    """Whether `text` can be written as a plain scalar that every YAML reader takes as this string."""
    if not text or text != text.strip() or text[0] in _INDICATORS or _looks_typed(text):
        return False
    if ": " in text or " #" in text or text.endswith(":") or not text.isprintable() or "\t" in text:
        return False
    return not (flow and any(char in text for char in ",[]{}?"))


def double_quoted(text: str) -> str:
    """A YAML double-quoted scalar for any text (no surrogates in it)."""
    out = []
    for char in text:
        code = ord(char)
        if char in _SHORT_ESCAPES and char != "\xa0":
            out.append(_SHORT_ESCAPES[char])
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif code == 0xFEFF:
            out.append("\\uFEFF")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- the outer document as kubectl (yaml.v2's emitter, Go's JSON encoder) writes it ---------------------------


def go_printable(char: str) -> bool:
    """yaml.v2's is_printable (unicode on): what its emitter may write unescaped."""
    code = ord(char)
    return (
        code == 0x0A or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
    )


_GO_BREAKS = "\n\r\x85\u2028\u2029"


def go_literal_allowed(text: str) -> bool:
    """yaml.v2's emitter writes a multi-line string as a literal block unless this says no (analyze_scalar)."""
    if not text or text.endswith(" ") or not all(go_printable(char) for char in text):
        return False
    return not any(text[i] == " " and text[i + 1] in _GO_BREAKS for i in range(len(text) - 1))


def go_literal(key: str, text: str, indent: int) -> list[str]:
    """`key: |` and the text below it, as yaml.v2 writes a literal block (hints, breaks, empty lines)."""
    hints = "2" if text[:1] in (" ", *_GO_BREAKS) else ""
    if not text or text[-1] not in _GO_BREAKS:
        hints += "-"
    elif len(text) == 1 or text[-2] in _GO_BREAKS:
        hints += "+"
    out: list[str] = []
    at_line_start = True
    for char in text:
        if char == "\n":
            out.append("\n")
            at_line_start = True
        elif char in _GO_BREAKS:
            out.append(char)
            at_line_start = True
        else:
            if at_line_start:
                out.append(" " * (indent + 2))
                at_line_start = False
            out.append(char)
    body = "".join(out)
    if not body.endswith("\n"):
        body += "\n"
    return [" " * indent + f"{key}: |{hints}", *body[:-1].split("\n")]


@dataclass(frozen=True)
class OuterEscapes:
    """How a double-quoted outer value writes what it escapes; the defaults are yaml.v2's."""

    surrogate_pairs: bool = False  # non-BMP as `\uD83D\uDE00` (yaml.v2 refuses these), not `\U0001F600`
    slash: bool = False  # every `/` as `\/` (JSON's escape, which yaml.v2 refuses)
    hex_nel: bool = False  # U+0085 as `\x85`, not `\N`
    escaped_breaks: bool = False  # fold with `\` + line break, not with a space
    lone_surrogate: bool = False  # the LONE marker as `\ud800`


LONE = "\uf8ff"  # a private-use character the outer writers turn into a lone surrogate escape, when asked


def _go_escape(char: str, escapes: OuterEscapes) -> str | None:
    code = ord(char)
    if char == LONE and escapes.lone_surrogate:
        return "\\ud800"
    if char == "/" and escapes.slash:
        return "\\/"
    if char == "\x85" and escapes.hex_nel:
        return "\\x85"
    if char in _SHORT_ESCAPES and char not in ("\xa0",):
        return _SHORT_ESCAPES[char]
    if go_printable(char):
        return None
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    if escapes.surrogate_pairs:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
    return f"\\U{code:08X}"


def go_double_quoted(key: str, text: str, indent: int, escapes: OuterEscapes, width: int = 80) -> list[str]:
    """`key: "..."` as yaml.v2 writes a double-quoted scalar: escapes, and a line folded at a space past
    `width` columns (the next space escaped as `\\ ` so that it survives the fold)."""
    line = " " * indent + f'{key}: "'
    lines: list[str] = []
    spaces = False
    for i, char in enumerate(text):
        escape = _go_escape(char, escapes)
        if escape is not None:
            line += escape
            spaces = False
        elif char == " ":
            if not spaces and len(line) > width and 0 < i < len(text) - 1:
                lines.append(line)
                line = " " * (indent + 2)
                if text[i + 1] == " ":
                    line += "\\"
            else:
                line += " "
            spaces = True
        else:
            if escapes.escaped_breaks and len(line) > width and 0 < i < len(text) - 1 and text[i - 1] != " ":
                lines.append(line + "\\")
                line = " " * (indent + 2)
            line += char
            spaces = False
    lines.append(line + '"')
    return lines


def go_json(document: dict[str, object], *, ascii_only: bool, lone_surrogate: bool) -> str:
    """`kubectl -o json`: Go's json.MarshalIndent (4 spaces, HTML-safe escapes, U+2028/U+2029 escaped)."""
    text = json.dumps(document, indent=4, ensure_ascii=ascii_only)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    marker = "\\uf8ff" if ascii_only else LONE
    return text.replace(marker, "\\ud800" if lone_surrogate else marker)


# --- the generator ----------------------------------------------------------------------------------------


@dataclass
class Draft:
    """One data value being made: its items (or raw text), and edits made to its text afterwards."""

    name: str
    items: list[Node] = field(default_factory=list)
    raw: str | None = None
    prefix: list[str] = field(default_factory=list)
    suffix: list[str] = field(default_factory=list)
    edits: list[Callable[[str], str]] = field(default_factory=list)
    indent: int = 0
    trailing_newlines: int = 1
    layout: Layout = Layout()

    def text(self) -> str:
        if self.raw is not None:
            text = self.raw
        else:
            body = block_items(self.items, self.indent, self.layout)
            text = "\n".join([*self.prefix, *body, *self.suffix]) + "\n" * self.trailing_newlines
        for edit in self.edits:
            text = edit(text)
        return text


def _trailing_space(text: str, line: int) -> str:
    lines = text.split("\n")
    index = min(line, max(len(lines) - 2, 0))
    lines[index] += " "
    return "\n".join(lines)


class Generator:
    """Makes one document: a pool of principals, drafts of the three sections, the classes' constructs in
    them, and the outer ConfigMap around them."""

    def __init__(self, ch: Chooser, kinds: Iterable[Kind]) -> None:
        self.ch = ch
        self.kinds = frozenset(kinds)
        self.partition = ch.pick(PARTITIONS)
        first = ch.number(0, len(ACCOUNTS) - 1)
        self.accounts = [ACCOUNTS[(first + i) % len(ACCOUNTS)] for i in range(ch.number(1, 3))]
        self.anchors = 0
        self.pool: list[Principal] = []
        self.drafts: dict[str, Draft] = {}
        self.entries: list[tuple[Draft, Map]] = []
        self.crlf = False
        self.outer_form = "yaml"
        self.outer_escapes = OuterEscapes()
        self.forced_style: dict[str, str] = {}
        self.outer_quirks: list[str] = []

    # --- principals and values ---

    def anchor_name(self) -> str:
        self.anchors += 1
        return self.ch.pick(("a", "base", "d", "x")) + str(self.anchors)

    def principal(self, kind: str | None = None) -> Principal:
        personas = [p for p in PERSONAS if kind is None or p.kind == kind]
        persona = self.ch.pick(personas)
        partition = self.partition if self.ch.maybe(90) else self.ch.pick(("aws", "aws-cn", "aws-us-gov"))
        principal = Principal(
            persona, partition, self.ch.pick(self.accounts), self.ch.pick(persona.names), self.ch.pick(persona.paths)
        )
        self.pool.append(principal)
        return principal

    def pooled(self, kind: str) -> Principal:
        """Mostly a principal of the pool (so duplicates are common), sometimes a new one or another kind."""
        same = [p for p in self.pool if p.kind == kind]
        if same and self.ch.maybe(55):
            return self.ch.pick(same)
        if self.pool and self.ch.maybe(8):
            return self.ch.pick(self.pool)
        return self.principal(kind)

    def arn_text(self, principal: Principal) -> str:
        arn = principal.arn()
        variant = self.ch.number(0, 99)
        if variant < 86:
            return arn
        prefix = f"arn:{principal.partition}:iam::{principal.account}:{principal.kind}/{principal.path}"
        if variant < 89:
            return prefix + principal.name.upper()
        if variant < 92:
            return prefix + principal.name.lower()
        if variant < 94:
            return f"arn:{principal.partition}:sts::{principal.account}:assumed-role/{principal.name}/session-1"
        if variant < 95:
            return f"arn:{principal.partition}:iam::{principal.account}:root"
        if variant < 97:
            return f"arn:{principal.partition}:iam::{principal.account}:{principal.kind}/team/{principal.name}"
        if variant < 98:
            other = "user" if principal.kind == "role" else "role"
            return f"arn:{principal.partition}:iam::{principal.account}:{other}/{principal.name}"
        if variant < 99:
            return arn.replace(":role/", ":Role/").replace(":user/", ":User/")
        return arn.upper()

    def scalar(self, text: str, *, flow: bool = False) -> Scalar:
        """`text` in a style every reader takes as that string: plain when it may be, else quoted."""
        if plain_ok(text, flow=flow) and self.ch.maybe(80):
            return Scalar(text, value=text)
        if text.isprintable() and self.ch.maybe(35):
            return Scalar(single_quoted(text), value=text)
        return Scalar(double_quoted(text), value=text)

    def flowify(self, node: Node) -> None:
        """Write `node` in flow style, quoting again the plain scalars that flow style would misread (mostly)."""
        if isinstance(node, Map | Seq):
            node.flow = True
            for child in [v for _, v in node.fields] if isinstance(node, Map) else node.items:
                if isinstance(child, Scalar) and child.value is not None and child.text == child.value:
                    if not plain_ok(child.value, flow=True) and self.ch.maybe(90):
                        child.text = double_quoted(child.value)
                else:
                    self.flowify(child)

    def groups_node(self, groups: Sequence[str], flow: bool) -> Seq:
        flow = flow or self.ch.maybe(25)
        return Seq([self.scalar(group, flow=flow) for group in groups], flow=flow)

    # --- entries ---

    def entry(self, draft: Draft) -> Map:
        section = draft.name
        kind = "role" if section == MAP_ROLES else "user"
        principal = self.pooled(kind)
        persona = principal.persona
        flow = self.ch.maybe(12)
        arn_key = "rolearn" if section == MAP_ROLES else "userarn"
        fields: list[tuple[str, Node]] = []
        if section == MAP_ROLES and self.ch.maybe(4):
            fields.append(("sso", self.sso_node(principal, flow)))
        else:
            fields.append((arn_key, self.arn_scalar(principal, flow)))
        username = self.ch.pick(persona.usernames)
        if username is not None:
            fields.append(("username", self.scalar(username, flow=flow)))
        elif self.ch.maybe(25):
            fields.append(("username", Scalar(self.ch.pick(("", '""', "''", "~", "null")))))
        groups = self.ch.pick(persona.groups)
        if groups:
            fields.append(("groups", self.groups_node(groups, flow)))
        elif self.ch.maybe(30):
            fields.append(("groups", Scalar(self.ch.pick(("[]", "", "~")))))
        order = self.ch.number(0, 5)
        if order == 1:  # as yaml.v2 writes a map: sorted keys (eksctl's and kubectl's round trips)
            fields.sort(key=lambda f: f[0])
        elif order == 2:
            fields.reverse()
        elif order == 3 and len(fields) > 2:
            fields.insert(0, fields.pop(1))
        return Map(fields, flow=flow)

    def arn_scalar(self, principal: Principal, flow: bool) -> Scalar:
        return self.scalar(self.arn_text(principal), flow=flow)

    def sso_node(self, principal: Principal, flow: bool) -> Map:
        name = self.ch.pick(("AdministratorAccess", "ReadOnly", "Admin_Access", "AdministratorAccess", "bad name"))
        fields: list[tuple[str, Node]] = [
            ("permissionSetName", self.scalar(name, flow=flow)),
            ("accountID", self.scalar(principal.account, flow=flow)),
        ]
        if self.ch.maybe(30):
            fields.append(("partition", self.scalar(self.ch.pick(("aws", "aws-cn", "aws-us-gov", "aws", "aws-moon")))))
        return Map(fields, flow=flow or self.ch.maybe(30))

    def account_item(self) -> Scalar:
        account = self.ch.pick(self.accounts) if self.ch.maybe(85) else self.ch.pick(ACCOUNTS)
        return Scalar(self.ch.pick((double_quoted(account), account, single_quoted(account))))

    # --- the document ---

    def layout(self) -> Layout:
        if self.ch.maybe(75):
            return Layout()
        return Layout(step=self.ch.pick((2, 4, 3)), seq_indent=self.ch.pick((0, 2)), gap=self.ch.pick((1, 3)))

    def build(self) -> str:
        ch = self.ch
        names = [MAP_ROLES]
        if ch.maybe(55):
            names.append(MAP_USERS)
        if ch.maybe(25 if self.kinds else 15):
            names.append(MAP_ACCOUNTS)
        if ch.maybe(10):
            names.remove(MAP_ROLES)
            if not names:
                names.append(MAP_USERS)
        total = ch.number(1, 12)
        for name in names:
            draft = Draft(name, layout=self.layout(), indent=ch.pick((0, 0, 0, 2)))
            self.drafts[name] = draft
            if name == MAP_ACCOUNTS:
                draft.items = [self.account_item() for _ in range(ch.number(0, 3))]
                draft.items = draft.items or [self.account_item()]
        mapping_sections = [self.drafts[n] for n in names if n != MAP_ACCOUNTS]
        for index in range(total):
            if not mapping_sections:
                break
            draft = mapping_sections[0] if index == 0 or len(mapping_sections) == 1 else ch.pick(mapping_sections)
            entry = self.entry(draft)
            draft.items.append(entry)
            self.entries.append((draft, entry))
        if ch.maybe(15):
            self.comments(ch.pick(list(self.drafts.values())))
        if ch.maybe(10):  # a trailing space: kubectl then writes the value double-quoted, with escapes
            line = ch.number(0, 4)
            self.text_edit(ch.pick(list(self.drafts.values())), lambda text: _trailing_space(text, line))
        for kind in sorted(self.kinds):
            for _ in range(ch.number(1, 3)):
                MUTATIONS[kind](self)
        return self.outer()

    # --- the outer ConfigMap ---

    def outer(self) -> str:
        ch = self.ch
        quirks = self.outer_quirks
        values = {name: draft.text() for name, draft in self.drafts.items()}
        if ch.maybe(4):
            values["note"] = "owned by eksctl"
        if "data-key-case" in quirks:  # a data key spelled otherwise: the authenticator reads exact keys only
            values[ch.pick(("MapRoles", "maproles", "mapRoles ", "MAPUSERS", "mapusers"))] = self.extra_text()
        metadata: dict[str, object] = {"name": "aws-auth", "namespace": "kube-system"}
        if ch.maybe(70):
            metadata["resourceVersion"] = str(ch.number(100, 99999))
            metadata["uid"] = "0b6d3f5e-8c1a-4a49-9c5e-3f1f7d2a6b10"
            metadata["creationTimestamp"] = "2024-03-01T10:00:00Z"
        data_key = ch.pick(("Data", "DATA", "dAta")) if "data-case" in quirks else "data"
        if self.outer_form == "json":
            document: dict[str, object] = {
                "apiVersion": "v1",
                data_key: values,
                "kind": "ConfigMap",
                "metadata": metadata,
            }
            text = go_json(
                document,
                ascii_only=self.outer_escapes.surrogate_pairs,
                lone_surrogate=self.outer_escapes.lone_surrogate,
            )
            if "json-duplicate" in quirks:  # the same data key twice: Go's decoder keeps the last
                first = json.dumps(self.extra_text() if ch.maybe(50) else "")
                text = text.replace(f'"{data_key}": {{', f'"{data_key}": {{\n        "{MAP_ROLES}": {first},', 1)
            return text
        data = [f"{data_key}:"]
        if "duplicate-data-key" in quirks:  # the same data key twice: yaml.v2 keeps the last
            data.extend(self.data_value(MAP_ROLES, self.extra_text() if ch.maybe(50) else ""))
        for key in sorted(values):
            data.extend(self.data_value(key, values[key]))
        if "alias" in quirks and MAP_USERS not in values:  # mapUsers: *r, the text of mapRoles again
            for index, line in enumerate(data):
                if line.startswith(f"  {MAP_ROLES}: "):
                    data[index] = line.replace(": ", ": &r ", 1)
                    data.append(f"  {MAP_USERS}: *r")
                    break
        if "folded" in quirks:  # `>`: the lines of the text folded into one
            data = [line.replace(": |", ": >", 1) if line.startswith(f"  {MAP_ROLES}: |") else line for line in data]
        if "comments" in quirks:
            data = [line + " # the roles" if line.endswith(": |") else line for line in data]
            data.insert(1, "  # mapRoles: |")
        meta = ["metadata:"] + [
            f"  {key}: {value if key == 'name' else json.dumps(value)}" for key, value in metadata.items()
        ]
        head = ["apiVersion: v1"]
        if "merge" in quirks:  # data merged from an anchor in metadata's labels
            meta += ["  labels: &extra", f"    {MAP_ACCOUNTS}: {json.dumps(ch.pick(self.accounts))}"]
            data.insert(1, "  <<: *extra")
            lines = [*head, "kind: ConfigMap", *meta, *data]
        else:
            lines = [*head, *data, "kind: ConfigMap", *meta]
            if ch.maybe(10):  # written by hand: kind and metadata first
                lines = [*head, "kind: ConfigMap", *meta, *data]
        if "directive" in quirks:
            lines[:0] = ch.pick((["---"], ["%YAML 1.1", "---"], ["%YAML 1.2", "---"], ["--- # aws-auth"]))
            if ch.maybe(30):
                lines.append("...")
        if "second-document" in quirks:  # kubectl reads the first document only
            second = self.pooled("role").arn()
            lines += ["---", "apiVersion: v1", "kind: ConfigMap", "metadata: {name: aws-auth, namespace: kube-system}"]
            lines += ["data:", f"  {MAP_ROLES}: |", f"    - rolearn: {second}", "      username: second"]
        text = "\n".join(lines) + "\n"
        if "bom" in quirks:
            text = "\ufeff" + text
        if "cr" in quirks:
            return text.replace("\n", "\r")
        return text.replace("\n", "\r\n") if self.crlf else text

    def extra_text(self) -> str:
        """A small mapRoles text of its own, for data keys the authenticator does not read (or reads twice)."""
        principal = self.pooled("role")
        return f"- rolearn: {principal.arn()}\n  username: extra\n  groups: [system:masters]\n"

    def data_value(self, key: str, text: str) -> list[str]:
        """One data value as yaml.v2's emitter writes a string ("kubectl"), or always double-quoted, or always a
        literal block ("raw", which kubectl never writes for what it may not hold)."""
        style = self.forced_style.get(key) or ("kubectl" if self.ch.maybe(85) else self.ch.pick(("double", "raw")))
        if LONE in text or style == "double" or not text:
            return go_double_quoted(key, text, 2, self.outer_escapes)
        if "\n" in text:
            if style == "raw" or go_literal_allowed(text):
                return go_literal(key, text, 2)
            return go_double_quoted(key, text, 2, self.outer_escapes)
        if plain_ok(text):
            return [f"  {key}: {text}"]
        if all(go_printable(char) for char in text):
            return [f"  {key}: {single_quoted(text)}"]
        return go_double_quoted(key, text, 2, self.outer_escapes)

    # --- helpers for the mutations ---

    def target(self, section: str | None = None) -> tuple[Draft, Map] | None:
        candidates = [(d, m) for d, m in self.entries if section is None or d.name == section]
        return self.ch.pick(candidates) if candidates else None

    def any_draft(self, *, mappings_only: bool = True) -> Draft:
        drafts = [d for d in self.drafts.values() if not mappings_only or d.name != MAP_ACCOUNTS]
        if not drafts:
            draft = Draft(MAP_ROLES)
            self.drafts[MAP_ROLES] = draft
            drafts = [draft]
        return self.ch.pick(drafts)

    def value_field(self, entry: Map) -> int | None:
        """The index of a field holding a scalar (username, ARN, ...), preferring username."""
        scalars = [i for i, (_, node) in enumerate(entry.fields) if isinstance(node, Scalar)]
        if not scalars:
            return None
        preferred = entry.find("username")
        return preferred if preferred is not None and self.ch.maybe(50) else self.ch.pick(scalars)

    def group_items(self, entry: Map) -> Seq | None:
        index = entry.find("groups")
        node = entry.fields[index][1] if index is not None else None
        return node if isinstance(node, Seq) and node.items else None

    def set_value(self, entry: Map, key: str, node: Node) -> None:
        index = entry.find(key)
        if index is None:
            entry.fields.insert(self.ch.number(0, len(entry.fields)), (key, node))
        else:
            entry.fields[index] = (entry.fields[index][0], node)

    def text_edit(self, draft: Draft, edit: Callable[[str], str]) -> None:
        draft.edits.append(edit)

    def comments(self, draft: Draft) -> None:
        at = self.ch.number(0, 5)
        trailing = self.ch.maybe(50)
        note = self.ch.pick(("# managed by eksctl", "#comment", "# username: admin", "  # indented"))

        def edit(text: str) -> str:
            lines = text.split("\n")
            index = min(at, len(lines) - 1)
            if trailing and lines[index].strip():
                lines[index] += " " + note if not note.startswith(" ") else note
            else:
                lines.insert(index, note)
            return "\n".join(lines)

        self.text_edit(draft, edit)

    def other_identity(self) -> tuple[str, tuple[str, ...]]:
        persona = self.ch.pick(PERSONAS)
        return self.ch.pick([u for u in persona.usernames if u is not None] or ["someone"]), self.ch.pick(
            persona.groups
        )


# --- class 1: what yaml.v2 rejects and other parsers accept ----------------------------------------------------


def _yaml_rejects(g: Generator) -> None:
    ch = g.ch
    target = g.target()
    choice = ch.number(0, 11)
    if target is None or choice >= 8:
        draft = g.any_draft()
        if choice == 8 or target is None:
            g.drafts[draft.name].prefix[:0] = ch.pick(
                (
                    ["%YAML 1.2", "---"],
                    ["%YAML 1.1", "---"],
                    ["%TAG !e! tag:example.com,2000:", "---"],
                    ["%YAML 1.2"],
                    ["%YAML 1.1", "%YAML 1.1", "---"],
                    ["%FOO bar", "---"],
                )
            )
        elif choice == 9:
            _markers(g, draft)
        elif choice == 10:
            _tabs(g, draft)
        else:
            _alias_bomb(g, draft)
        return
    draft, entry = target
    if choice == 0:  # `?` inside a flow plain scalar
        g.flowify(entry)
        text = ch.pick(("who?", "dev?ops", "a?", "x ? y", "ops?:{{SessionName}}"))
        items = g.group_items(entry)
        if items is not None and ch.maybe(40):
            items.items[ch.number(0, len(items.items) - 1)] = Scalar(text)
        else:
            g.set_value(entry, "username", Scalar(text))
    elif choice == 1:  # JSON's `\/` in a double-quoted scalar
        index = entry.find("rolearn", "userarn")
        arn = entry.text_at(index)
        if index is not None and arn is not None and ch.maybe(60):
            entry.fields[index] = (entry.fields[index][0], Scalar('"' + arn.replace("/", "\\/", 1) + '"'))
        else:
            g.set_value(entry, "username", Scalar(ch.pick(('"dev\\/ops"', '"\\/"', '"a\\/b:{{SessionName}}"'))))
    elif choice == 2:  # U+0085, U+2028, U+2029, U+00A0 inside a plain scalar
        odd = ch.pick(ODD_CHARS)
        text = ch.pick(("ali{}ce", "dev{}", "{}x", "ops:{}{{{{SessionName}}}}"))
        value = Scalar(text.format(odd))
        items = g.group_items(entry)
        if items is not None and ch.maybe(40):
            items.items[ch.number(0, len(items.items) - 1)] = value
        else:
            g.set_value(entry, "username", value)
    elif choice in (3, 5):
        _aliases(g, draft, entry)
    elif choice == 4:
        _alias_bomb(g, draft, entry)
    elif choice == 6:
        _tabs(g, draft)
    else:  # plain scalars led by (or holding) an indicator; a block `?` inside one is text to every reader
        text = ch.pick(("who?", "dev?ops", *INDICATOR_LED))
        items = g.group_items(entry)
        if items is not None and ch.maybe(30):
            items.items[ch.number(0, len(items.items) - 1)] = Scalar(text)
        else:
            g.set_value(entry, "username", Scalar(text))


def _aliases(g: Generator, draft: Draft, entry: Map) -> None:
    """Anchors and aliases as people use them: a whole mapping again, shared groups, a shared username."""
    ch = g.ch
    name = g.anchor_name()
    way = ch.number(0, 3)
    position = _position(draft, entry)
    if way == 0:
        entry.anchor = name
        draft.items.insert(ch.number(position + 1, len(draft.items)), Alias(name))
    elif way == 1:
        groups = g.group_items(entry) or Seq([g.scalar("developers")])
        groups.anchor = name
        g.set_value(entry, "groups", groups)
        other = g.target(draft.name)
        if other is not None and other[1] is not entry and _position(draft, other[1]) > position:
            g.set_value(other[1], "groups", Alias(name))
        else:
            g.set_value(entry, ch.pick(("x-groups", "groups")), Alias(name))
    elif way == 2:
        username = ch.pick(("admin", "dev:{{SessionName}}"))
        g.set_value(entry, "username", Scalar(f"&{name} " + g.scalar(username).text))
        later = [m for m in draft.items[position + 1 :] if isinstance(m, Map)]
        if later:
            g.set_value(ch.pick(later), "username", Alias(name))
        else:
            entry.fields.append(("alias", Alias(name)))
    else:  # an anchor on the key itself: `- &a rolearn: ...` (the anchor is the key's, not the mapping's)
        if entry.fields and not entry.flow:
            key, node = entry.fields[0]
            entry.fields[0] = (f"&{name} {key}", node)


def _position(draft: Draft, node: Node) -> int:
    """Where `node` is among the draft's items (by identity), or -1."""
    return next((i for i, item in enumerate(draft.items) if item is node), -1)


def _alias_bomb(g: Generator, draft: Draft, entry: Map | None = None) -> None:
    """A billion-laughs under a key the authenticator ignores: yaml.v2 says "excessive aliasing"."""
    ch = g.ch
    width, depth = ch.number(3, 9), ch.number(3, 6)
    base = g.anchor_name()
    fields: list[tuple[str, Node]] = [(f"lol{base}", Scalar(f"&{base}0 lol"))]
    for level in range(1, depth + 1):
        fields.append(
            (f"lol{base}{level}", Seq([Alias(f"{base}{level - 1}")] * width, flow=True, anchor=f"{base}{level}"))
        )
    if entry is not None:
        entry.fields.extend(fields)
    else:  # a list item of its own, which is no mapping to the authenticator (no ARN)
        draft.items.insert(0, Map(fields))


def _markers(g: Generator, draft: Draft) -> None:
    ch = g.ch
    way = ch.number(0, 4)
    if way == 0:
        draft.prefix.insert(0, "---")
    elif way == 1:
        draft.suffix.append("...")
    elif way == 2:  # a second document: yaml.v2 reads the first only
        principal = g.pooled("role")
        draft.suffix += ["---", f"- rolearn: {principal.arn()}", "  username: second-document", "  groups: [x]"]
    elif way == 3:
        draft.prefix.insert(0, "--- # aws-auth")
    else:
        draft.suffix += ["...", "---", "- rolearn: arn:aws:iam::111122223333:role/After"]


def _tabs(g: Generator, draft: Draft) -> None:
    way = g.ch.number(0, 4)
    replacements = {0: ("- ", "-\t"), 1: (": ", ":\t"), 2: ("\n", "\t\n"), 3: ("\n  ", "\n\t"), 4: (", ", ",\t")}
    old, new = replacements[way]
    g.text_edit(draft, lambda text: text.replace(old, new, 1))


# --- class 2: keys that encoding/json folds onto a field ----------------------------------------------------


def _folded_keys(g: Generator) -> None:
    ch = g.ch
    target = g.target()
    if target is None:
        return
    draft, entry = target
    way = ch.number(0, 4)
    present = [i for i, (key, _) in enumerate(entry.fields) if key.strip("\"'").lower() in FOLDED_KEYS]
    if way <= 1 and present:  # a field's key spelled another way: folded, or quoted, escaped, spaced
        at = ch.pick(present)
        key, value = entry.fields[at]
        name = key.strip("\"'").lower()
        spellings = FOLDED_KEYS[name] + (SPELLED_KEYS.get(name, ()) if ch.maybe(40) else ())
        entry.fields[at] = (ch.pick(spellings), value)
    elif way == 2 and present:  # two keys for one field in one mapping: the later one wins in Go
        at = ch.pick(present)
        key = entry.fields[at][0].strip("\"'")
        if key.lower() in ("rolearn", "userarn"):
            other: Node = g.arn_scalar(g.pooled("role" if key.lower() == "rolearn" else "user"), entry.flow)
        elif key.lower() == "groups":
            other = g.groups_node(g.other_identity()[1] or ("other",), entry.flow)
        else:
            other = g.scalar(g.other_identity()[0], flow=entry.flow)
        spelled = ch.pick((*FOLDED_KEYS.get(key.lower(), (key.upper(),)), key))
        entry.fields.insert(ch.pick((at, at + 1, len(entry.fields))), (spelled, other))
    elif way == 3:  # the field is missing, its folded spelling is there
        field_name = ch.pick(("username", "groups", "userarn" if draft.name == MAP_USERS else "rolearn"))
        if field_name == "groups":
            node: Node = g.groups_node(g.other_identity()[1] or ("folded",), entry.flow)
        elif field_name == "username":
            node = g.scalar(g.other_identity()[0], flow=entry.flow)
        else:
            node = g.arn_scalar(g.pooled("role" if field_name == "rolearn" else "user"), entry.flow)
        found = entry.find(field_name)
        if found is not None and ch.maybe(50):
            del entry.fields[found]
        entry.fields.insert(ch.number(0, len(entry.fields)), (ch.pick(FOLDED_KEYS[field_name]), node))
    else:  # sso spelled otherwise, near misses, the ConfigMap's own keys spelled otherwise
        if ch.maybe(15):
            g.outer_quirks.append(ch.pick(("data-case", "data-key-case")))
        elif draft.name == MAP_ROLES and ch.maybe(50):
            principal = g.pooled("role")
            sso = g.sso_node(principal, entry.flow)
            sso.fields = [(ch.pick((k, *FOLDED_KEYS[k])), v) for k, v in sso.fields]
            found = entry.find("rolearn")
            if found is not None and ch.maybe(70):
                del entry.fields[found]
            entry.fields.insert(0, (ch.pick(FOLDED_KEYS["sso"]), sso))
        else:
            entry.fields.append((ch.pick(NEAR_MISS_KEYS), g.scalar(g.other_identity()[0], flow=entry.flow)))


# --- class 3: merge keys ------------------------------------------------------------------------------------


def _merge_keys(g: Generator) -> None:
    ch = g.ch
    fresh = [(d, m) for d, m in g.entries if m.find("<<") is None]
    target = ch.pick(fresh) if fresh and ch.maybe(85) else g.target()
    if target is None:
        return
    draft, entry = target
    arn_key = "rolearn" if draft.name == MAP_ROLES else "userarn"
    merged: list[tuple[str, Node]] = []
    username, groups = g.other_identity()
    for name in ch.pick(
        (
            ("username",),
            ("groups",),
            (arn_key,),
            ("username", "groups"),
            (arn_key, "username"),
            (arn_key, "username", "groups"),
        )
    ):
        if name == arn_key:
            merged.append((arn_key, g.arn_scalar(g.pooled("role" if arn_key == "rolearn" else "user"), False)))
        elif name == "username":
            merged.append(("username", g.scalar(username)))
        else:
            merged.append(("groups", Seq([g.scalar(group, flow=True) for group in groups or ("merged",)], flow=True)))
    position = ch.pick((0, len(entry.fields), ch.number(0, len(entry.fields))))
    way = ch.number(0, 4)
    if way == 0:  # `<<: {...}` inline
        value: Node = Map(merged, flow=True)
    elif way == 1:  # `<<:` and a block mapping below it
        value = Map(merged, flow=False)
    elif way == 2:  # an anchor under an ignored key of the same mapping, earlier
        name = g.anchor_name()
        entry.fields.insert(
            position, (ch.pick(("defaults", "x-base", ".base")), Map(merged, flow=ch.maybe(50), anchor=name))
        )
        position += 1
        value = Alias(name)
    else:  # an earlier list item carries the anchor (a base entry, or a mapping of only the shared fields)
        name = g.anchor_name()
        base = Map(list(merged), flow=ch.maybe(40), anchor=name)
        if base.find(arn_key) is None and ch.maybe(75):
            base.fields.insert(0, (arn_key, g.arn_scalar(g.pooled("role" if arn_key == "rolearn" else "user"), False)))
        index = max(_position(draft, entry), 0)
        draft.items.insert(index, base)
        value = Alias(name)
        if way == 4:  # two merges: `<<: [*a, *b]`
            second = g.anchor_name()
            draft.items.insert(index, Map([("username", g.scalar(g.other_identity()[0]))], anchor=second))
            value = Seq([Alias(name), Alias(second)] if ch.maybe(50) else [Alias(second), Alias(name)], flow=True)
    entry.fields.insert(position, ("<<", value))


# --- class 4: YAML 1.1 scalars that are not strings to yaml.v2 ---------------------------------------------------


def _yaml11_scalars(g: Generator) -> None:
    ch = g.ch
    text = ch.pick(YAML11_SCALARS)
    target = g.target()
    if target is None or ch.maybe(8):
        draft = g.drafts.get(MAP_ACCOUNTS) or g.any_draft(mappings_only=False)
        if draft.name == MAP_ACCOUNTS:
            draft.items.insert(ch.number(0, len(draft.items)), Scalar(text))
            return
        target = g.target(draft.name)
        if target is None:
            return
    _, entry = target
    where = ch.number(0, 5)
    if where == 0:
        g.set_value(entry, "username", Scalar(text))
    elif where == 1:
        items = g.group_items(entry)
        if items is not None:
            items.items[ch.number(0, len(items.items) - 1)] = Scalar(text)
        else:
            g.set_value(entry, "groups", Seq([Scalar(text), g.scalar("developers")], flow=ch.maybe(50)))
    elif where == 2:
        g.set_value(entry, ch.pick(("rolearn", "userarn")) if ch.maybe(20) else entry.fields[0][0], Scalar(text))
    elif where == 3:  # a key
        entry.fields.insert(ch.number(0, len(entry.fields)), (text, g.scalar("value")))
    elif where == 4:  # the value of a key the authenticator ignores
        entry.fields.insert(ch.number(0, len(entry.fields)), (ch.pick(("note", "userid", "comment")), Scalar(text)))
    else:  # the quoted forms are strings everywhere
        g.set_value(entry, "username", Scalar(ch.pick((double_quoted(text), single_quoted(text)))))


# --- class 5: escapes ----------------------------------------------------------------------------------------


def _escapes(g: Generator) -> None:
    ch = g.ch
    target = g.target()
    if target is None or ch.maybe(25):
        _outer_escapes(g)
        return
    _, entry = target
    escape = ch.pick(ESCAPES)
    way = ch.number(0, 5)
    if way == 5:  # an escaped line break (nothing) or a folded one (a space) inside a double-quoted scalar
        indent = " " * ch.pick((4, 6, 8, 1))
        value = Scalar('"adm' + ch.pick(("\\", "")), (indent + 'in"',))
        g.set_value(entry, "username", value)
        return
    text = '"' + ch.pick(("dev", "", "ops:", "a")) + escape + ch.pick(("", "x", ":{{SessionName}}")) + '"'
    if way <= 2:
        g.set_value(entry, "username", Scalar(text))
    elif way == 3:
        items = g.group_items(entry)
        if items is not None:
            items.items[ch.number(0, len(items.items) - 1)] = Scalar(text)
        else:
            g.set_value(entry, "groups", Seq([Scalar(text)], flow=ch.maybe(50)))
    else:
        index = entry.find("rolearn", "userarn")
        arn = entry.text_at(index)
        if index is not None and arn is not None:
            entry.fields[index] = (entry.fields[index][0], Scalar('"' + arn + escape + '"'))
        else:
            entry.fields.append(("note", Scalar(text)))


def _outer_escapes(g: Generator) -> None:
    """Escapes of the outer document: surrogate pairs, a lone surrogate, `\\/`, `\\x85`, escaped breaks."""
    ch = g.ch
    draft = g.any_draft()
    way = ch.number(0, 4)
    target = g.target(draft.name)
    if way in (0, 1) and target is not None:  # something outside the BMP, or a lone surrogate, in a username
        char = "\U0001f600" if way == 0 else LONE
        g.set_value(target[1], "username", Scalar(double_quoted("dev" + char) if way == 0 else "dev" + char))
        g.outer_escapes = OuterEscapes(
            surrogate_pairs=way == 0 or g.outer_escapes.surrogate_pairs,
            lone_surrogate=way == 1 or g.outer_escapes.lone_surrogate,
            slash=g.outer_escapes.slash,
        )
    elif way == 2:
        g.outer_escapes = OuterEscapes(slash=True, escaped_breaks=g.outer_escapes.escaped_breaks)
    elif way == 3:
        g.outer_escapes = OuterEscapes(hex_nel=True, escaped_breaks=ch.maybe(50))
        if target is not None:
            g.set_value(target[1], ch.pick(("note", "username")), Scalar("ali\x85ce"))
    else:
        g.outer_escapes = OuterEscapes(escaped_breaks=True, slash=g.outer_escapes.slash)
    g.forced_style[draft.name] = "double"
    if ch.maybe(35):
        g.outer_form = "json"


# --- the odd shapes --------------------------------------------------------------------------------------------


def _odd_shapes(g: Generator) -> None:
    ch = g.ch
    way = ch.number(0, 17)
    target = g.target()
    if way <= 1 or target is None:
        _odd_section(g, g.any_draft(mappings_only=ch.maybe(85)))
        return
    if way == 2:
        g.outer_quirks.append(ch.pick(OUTER_QUIRKS))
        if g.outer_quirks[-1] == "json-duplicate":
            g.outer_form = "json"
        return
    draft, entry = target
    arn_key = "rolearn" if draft.name == MAP_ROLES else "userarn"
    if way == 3:  # an item that is not a mapping
        items: tuple[Node, ...] = (
            Scalar(entry.text_at(0) or "x") if entry.fields else Scalar("x"),
            Scalar(""),
            Scalar("null"),
            Seq([Scalar("a")], flow=True),
            Scalar("'arn'"),
        )
        draft.items.insert(ch.number(0, len(draft.items)), ch.pick(items))
    elif way == 4:  # a mapping without its ARN, or with the other section's ARN key
        index = entry.find(arn_key)
        if index is not None:
            key, node = entry.fields[index]
            if ch.maybe(50):
                del entry.fields[index]
            else:
                entry.fields[index] = ("userarn" if arn_key == "rolearn" else "rolearn", node)
    elif way == 5:  # wrong types
        wrong: tuple[Node, ...] = (
            Scalar("admins"),
            Seq([Scalar("a"), Scalar("b")], flow=True),
            Map([("a", Scalar("b"))], flow=True),
            Seq([Scalar("a"), Seq([Scalar("b")], flow=True)], flow=True),
            Seq([Scalar("a"), Scalar("")], flow=True),
            Seq([Scalar("a"), Scalar("null")], flow=True),
            Scalar("[]"),
            Scalar("{}"),
            Scalar("''"),
        )
        g.set_value(entry, ch.pick(("groups", "username", arn_key)), ch.pick(wrong))
    elif way == 6 and draft.name == MAP_ROLES:  # sso with rolearn
        entry.fields.insert(ch.number(0, len(entry.fields)), ("sso", g.sso_node(g.pooled("role"), entry.flow)))
    elif way == 7:  # flow styles, and their quirks: trailing commas, a pair in a list, a key without a value
        g.flowify(entry)
        quirk = ch.number(0, 5)
        if quirk == 1:
            g.text_edit(draft, lambda text: text.replace("}", ",}", 1))
        elif quirk == 2:
            g.text_edit(draft, lambda text: text.replace("]", ", ]", 1))
        elif quirk == 3:
            g.set_value(entry, "groups", Scalar(ch.pick(("[system:masters: x]", "[a, , b]", "[a: b, c]", "[,]"))))
        elif quirk == 4:
            g.set_value(entry, "username", Scalar(ch.pick(("{admin}", "{a: b}", "{}"))))
        elif quirk == 5:
            entry.fields.append((ch.pick(("userid", "x")), Scalar("")))
    elif way == 8:  # multi-line plain and quoted scalars, block scalars
        index = entry.find("username", arn_key)
        key = entry.fields[index][0] if index is not None else "username"
        value = ch.pick(
            (
                Scalar("dev", ("team",)),
                Scalar('"dev', ('team"',)),
                Scalar("'dev", ("", "team'")),
                Scalar("|", ("dev",)),
                Scalar(">-", ("dev", "team")),
                Scalar("|-", ("admin",)),
                Scalar(">", ("dev", "  team", "ops")),
                Scalar("|+", ("admin", "")),
                Scalar("|2", ("  admin",)),
                Scalar(">-", ("dev", "", "team")),
                Scalar("", ("admin",)),
                Scalar("dev", ("", "team")),
                Scalar("dev", ("# not a comment?", "team")),
                Scalar('"' + (g.pool[0].arn() if g.pool else "x") + '\\n"'),
            )
        )
        if index is not None and key.lower() == arn_key and ch.maybe(60) and g.pool:
            arn = g.pool[0].arn()
            value = ch.pick(
                (
                    Scalar("|", (arn,)),
                    Scalar("|-", (arn,)),
                    Scalar(">", (arn,)),
                    Scalar(double_quoted(arn + " ")),
                    Scalar(arn[:20], (arn[20:],)),
                    Scalar(double_quoted(" " + arn)),
                )
            )
        g.set_value(entry, key, value)
    elif way == 9:  # CRLF line ends: all of the document, or inside one section only (or CR alone)
        if ch.maybe(50):
            g.crlf = True
        else:
            end = ch.pick(("\r\n", "\r\n", "\r"))
            g.text_edit(draft, lambda text: text.replace("\n", end))
    elif way == 10:
        g.comments(draft)
    elif way == 11:  # an indentation error: one line shifted by a space
        line, shift = ch.number(1, 6), ch.pick((1, -1, 2))

        def shifted(text: str) -> str:
            lines = text.split("\n")
            index = min(line, max(len(lines) - 2, 0))
            lines[index] = " " * shift + lines[index] if shift > 0 else lines[index][1:]
            return "\n".join(lines)

        g.text_edit(draft, shifted)
    elif way == 12:  # indentation variants
        draft.layout = Layout(step=ch.pick((2, 3, 4)), seq_indent=ch.pick((0, 2, 4)), gap=ch.pick((1, 2, 3)))
        draft.indent = ch.pick((0, 1, 2, 4))
    elif way == 13:  # the other sections' shapes: a role under mapUsers, a user under mapRoles
        other = g.pooled("user" if draft.name == MAP_ROLES else "role")
        g.set_value(entry, arn_key, g.arn_scalar(other, entry.flow))
    elif way == 14:  # duplicate mappings: the same again, in another case, in the other section
        copy = Map(list(entry.fields), flow=entry.flow)
        if ch.maybe(50):
            index = copy.find(arn_key)
            text = copy.text_at(index)
            if index is not None and text is not None:
                copy.fields[index] = (arn_key, Scalar(text.upper() if ch.maybe(50) else text.lower()))
        if ch.maybe(50):
            username, _ = g.other_identity()
            g.set_value(copy, "username", g.scalar(username, flow=copy.flow))
        others = [d for d in g.drafts.values() if d.name != MAP_ACCOUNTS]
        home = ch.pick(others)
        if home is not draft:
            index = copy.find(arn_key)
            if index is not None:
                copy.fields[index] = ("userarn" if arn_key == "rolearn" else "rolearn", copy.fields[index][1])
        home.items.insert(ch.number(0, len(home.items)), copy)
    elif way == 15:  # the same key twice in one mapping
        if entry.fields:
            key, _ = ch.pick(entry.fields)
            entry.fields.append((key, g.scalar(g.other_identity()[0], flow=entry.flow)))
    elif way == 16:  # an unknown key with a nested value
        nested: tuple[Node, ...] = (Map([("a", Scalar("b"))]), Scalar("x"))
        entry.fields.append((ch.pick(("userid", "extra", "comment")), ch.pick(nested)))
    else:  # trailing newlines, and none
        draft.trailing_newlines = ch.pick((0, 2, 3))


def _odd_section(g: Generator, draft: Draft) -> None:
    ch = g.ch
    principal = g.pooled("role" if draft.name != MAP_USERS else "user")
    arn_key = "userarn" if draft.name == MAP_USERS else "rolearn"
    entry = {arn_key: principal.arn(), "username": g.other_identity()[0], "groups": list(g.other_identity()[1])}
    draft.raw = ch.pick(
        (
            json.dumps([entry]),  # a JSON list: YAML to the authenticator, so it works
            json.dumps([entry], indent=2) + "\n",
            json.dumps(entry),  # a JSON object: never a list
            " " + json.dumps(entry) + "\n",
            json.dumps([entry], separators=(",", ":")),  # compact JSON: `"rolearn":"arn..."`, no space after `:`
            json.dumps([entry, entry], separators=(",", ":")) + "\n",
            "{" + f"{arn_key}: {principal.arn()}, username: x" + "}\n",
            "\xa0" + json.dumps([entry]),
            "\u2028" + json.dumps(entry),
            f"{arn_key}: {principal.arn()}\nusername: admin\n",  # a mapping, not a list
            principal.arn() + "\n",  # a scalar
            "null\n",
            "~",
            '""',
            "''",
            "``",
            "",
            "   \n",
            "# nothing here\n",
            "[]\n",
            "[]\n# trailing\n",
            "- \n",
            "---\n",
        )
    )


MUTATIONS: dict[Kind, Callable[[Generator], None]] = {
    Kind.YAML_REJECTS: _yaml_rejects,
    Kind.FOLDED_KEYS: _folded_keys,
    Kind.MERGE_KEYS: _merge_keys,
    Kind.YAML11_SCALARS: _yaml11_scalars,
    Kind.ESCAPES: _escapes,
    Kind.ODD_SHAPES: _odd_shapes,
}


def generate(ch: Chooser, kinds: Iterable[Kind] = ()) -> str:
    """One whole aws-auth document with ordinary mappings and at least one construct of each of `kinds`."""
    generator = Generator(ch, kinds)
    if ch.maybe(12 if generator.kinds else 8):
        generator.outer_form = "json"
    return generator.build()


# --- hypothesis strategies ----------------------------------------------------------------------------------


@st.composite
def document(draw: st.DrawFn, kinds: frozenset[Kind] = frozenset()) -> str:
    """A document with the constructs of `kinds` (none: only ordinary mappings)."""
    return generate(DrawChooser(draw), kinds)


def ordinary_document() -> st.SearchStrategy[str]:
    return document(frozenset())


def yaml_rejects_document() -> st.SearchStrategy[str]:
    return document(frozenset({Kind.YAML_REJECTS}))


def folded_keys_document() -> st.SearchStrategy[str]:
    return document(frozenset({Kind.FOLDED_KEYS}))


def merge_keys_document() -> st.SearchStrategy[str]:
    return document(frozenset({Kind.MERGE_KEYS}))


def yaml11_scalars_document() -> st.SearchStrategy[str]:
    return document(frozenset({Kind.YAML11_SCALARS}))


def escapes_document() -> st.SearchStrategy[str]:
    return document(frozenset({Kind.ESCAPES}))


def odd_shapes_document() -> st.SearchStrategy[str]:
    return document(frozenset({Kind.ODD_SHAPES}))


@st.composite
def mixed_document(draw: st.DrawFn) -> str:
    """A document with a random set of classes (at least two)."""
    kinds = draw(st.sets(st.sampled_from(list(Kind)), min_size=2, max_size=4))
    return generate(DrawChooser(draw), kinds)


def any_document() -> st.SearchStrategy[str]:
    return st.one_of(
        ordinary_document(),
        yaml_rejects_document(),
        folded_keys_document(),
        merge_keys_document(),
        yaml11_scalars_document(),
        escapes_document(),
        odd_shapes_document(),
        mixed_document(),
    )
