"""The aws-iam-authenticator's log lines about sign-ins, both ways: read them (the tool) and write them (the
sandbox). Pure.

The authenticator (kubernetes-sigs/aws-iam-authenticator, pkg/server/server.go `authenticateEndpoint`) logs
through logrus' text formatter, which EKS control-plane logging ships to CloudWatch Logs unchanged (log group
`/aws/eks/<cluster>/cluster`, streams `authenticator-<hex>`):

    time="2026-10-01T12:00:00Z" level=info msg="access granted" arn="arn:aws:iam::111122223333:role/Dev"
      client="127.0.0.1:50372" groups="[dev viewers]" method=POST path=/authenticate
      uid="aws-iam-authenticator:111122223333:AROAEXAMPLE" username="dev:alice"
    time="..." level=warning msg="access denied" arn="arn:aws:iam::111122223333:role/Other" client=...
      error="identity is not mapped" method=POST path=/authenticate

(one line each). Every request carries `client`, `method` and `path`; `arn` (the canonical ARN: an assumed
role becomes `role/<name>`, without path or session) is added once STS has answered, so a refused token is
logged without it; a granted one adds `username`, `uid` and `groups` (Go's `fmt` of a []string: `[a b]`).
logrus sorts the fields after time, level and msg, and quotes a value (Go `%q`) unless every character is
a letter, digit or one of `-._/@^+`. An "STS response" line before each grant names the session and the
access key; it is not needed here.

A group name with a space in it cannot be told apart from two groups in `[a b]`: the log format loses it.

Reading is total: any text (lone surrogates included, as `json.loads` makes them from CloudWatch's `\\ud800`)
is a sign-in, another line, or MalformedLine. A quoted value is Go's: `\\x` escapes are bytes and the whole
value must be UTF-8; `\\u`/`\\U` must name a Unicode scalar value (no surrogate, at most U+10FFFF), as
strconv.Unquote requires. A value Go could not have written, or that is not text, makes the line malformed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from migrator.model.usage import SignInEvent

GRANTED = "access granted"
DENIED = "access denied"
NOT_MAPPED = "identity is not mapped"  # pkg/errutil ErrNotMapped

_KEY_RE = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)
_BARE_RE = re.compile(r"[A-Za-z0-9./@^+_-]+", re.ASCII)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}
_HEX_RE = re.compile(r"[0-9a-fA-F]+", re.ASCII)
_MAX_RUNE = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class MalformedLine(ValueError):
    """The line is not in the authenticator's format, or a sign-in line lacks what attributes it."""


# --- reading ------------------------------------------------------------------------------------------------


def _unquote(text: str, start: int) -> tuple[str, int]:
    """The Go-quoted string opening at text[start] == '"', and the index after its closing quote. Built as
    bytes, as Go's are: `\\xHH` is one byte, `\\u`/`\\U` a rune's UTF-8; the result must decode as UTF-8."""
    out = bytearray()
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            try:
                return out.decode("utf-8"), i + 1
            except UnicodeDecodeError:
                raise MalformedLine(f"the value quoted at column {start + 1} is not UTF-8") from None
        if char != "\\":
            out += char.encode("utf-8")  # the line holds no surrogate: parse_line checked
            i += 1
            continue
        if i + 1 >= len(text):
            break
        code = text[i + 1]
        if code in _ESCAPES:
            out += _ESCAPES[code].encode("ascii")
            i += 2
        elif code in _HEX_WIDTH:
            digits = text[i + 2 : i + 2 + _HEX_WIDTH[code]]
            if len(digits) != _HEX_WIDTH[code] or not _HEX_RE.fullmatch(digits):
                raise MalformedLine(f"bad escape {text[i : i + 2 + len(digits)]!a} at column {i + 1}")
            value = int(digits, 16)
            if code == "x":
                out.append(value)
            elif value > _MAX_RUNE or _SURROGATES[0] <= value <= _SURROGATES[1]:
                raise MalformedLine(f"escape \\{code}{digits} at column {i + 1} is not a Unicode character")
            else:
                out += chr(value).encode("utf-8")
            i += 2 + len(digits)
        else:
            raise MalformedLine(f"unknown escape {text[i : i + 2]!a} at column {i + 1}")
    raise MalformedLine("a quoted value is not closed")


def fields_of(line: str) -> dict[str, str]:
    """`key=value key="quoted value" ...` (logfmt as logrus writes it) as a dict; MalformedLine otherwise."""
    if _SURROGATE_RE.search(line):
        raise MalformedLine("the line is not text: it holds a lone surrogate")
    fields: dict[str, str] = {}
    i, end = 0, len(line.rstrip("\r\n"))
    while i < end:
        if line[i] in " \t":
            i += 1
            continue
        key = _KEY_RE.match(line, i)
        if key is None or key.end() >= end or line[key.end()] != "=":
            raise MalformedLine(f"expected key=value at column {i + 1}")
        i = key.end() + 1
        if i < end and line[i] == '"':
            value, i = _unquote(line, i)
        else:
            stop = i
            while stop < end and line[stop] not in " \t":
                stop += 1
            value, i = line[i:stop], stop
        if key.group() in fields:
            raise MalformedLine(f"field {key.group()!r} appears twice")
        fields[key.group()] = value
    return fields


def _groups(text: str) -> tuple[str, ...]:
    if not (text.startswith("[") and text.endswith("]")):
        raise MalformedLine(f"groups {text!a} is not a [list]")
    return tuple(name for name in text[1:-1].split(" ") if name)  # Go's fmt joins with one space, nothing else


def _time(fields: Mapping[str, str], default: datetime | None) -> datetime:
    text = fields.get("time")
    if text is None:
        if default is None:
            raise MalformedLine("no time")
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedLine(f"time {text!a} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise MalformedLine(f"time {text!a} has no time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first UTC moment Python has
        raise MalformedLine(f"time {text!a} is out of range") from None


def parse_line(line: str, *, received: datetime | None = None) -> SignInEvent | None:
    """The sign-in a log line records; None for the authenticator's other lines (STS response, startup, ...);
    MalformedLine for a line that is not logfmt, or a sign-in line that names no principal it could credit.
    `received` (the CloudWatch event's timestamp) stands in for a line without `time`."""
    fields = fields_of(line)
    message = fields.get("msg")
    if message not in (GRANTED, DENIED):
        return None
    at = _time(fields, received)
    arn = fields.get("arn") or None
    if message == DENIED:
        return SignInEvent(at, False, arn, error=fields.get("error"))
    if arn is None:
        raise MalformedLine("an access granted line without arn")
    if "groups" not in fields:
        raise MalformedLine("an access granted line without groups")
    return SignInEvent(at, True, arn, fields.get("username"), _groups(fields["groups"]), fields.get("uid"))


# --- writing (the sandbox) -----------------------------------------------------------------------------------


def _quoted(value: str) -> str:
    """logrus' rule: bare when every character is safe, else Go's %q (JSON's escaping, close enough)."""
    if value and _BARE_RE.fullmatch(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def format_line(at: datetime, level: str, message: str, fields: Mapping[str, str]) -> str:
    """One line as logrus' text formatter writes it: time, level, msg, then the fields sorted by key."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [f"time={_quoted(stamp)}", f"level={level}", f"msg={_quoted(message)}"]
    parts.extend(f"{key}={_quoted(value)}" for key, value in sorted(fields.items()))
    return " ".join(parts)


def go_list(values: tuple[str, ...] | list[str]) -> str:
    """Go's fmt of a []string."""
    return "[" + " ".join(values) + "]"
