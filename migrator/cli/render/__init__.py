"""Renderings for people (rich) and tools (JSON).

Everything shown to a person that came from outside (aws-auth usernames, groups and ARNs, plan files, API
messages, paths) goes through `clean` first: a terminal must never receive a control character from data
(`\\x1b]0;title\\x07`, `\\x1b[2J`). JSON needs nothing: json.dumps escapes control characters itself.
"""

from __future__ import annotations


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with every non-printable character (C0, DEL, C1, bidi and other format characters, line and
    paragraph separators) written as a Python-style escape; spaces stay, newlines too when asked."""
    shown = str(text)
    if shown.isprintable():
        return shown
    return "".join(char if char.isprintable() or (keep_newlines and char == "\n") else _escaped(char) for char in shown)
