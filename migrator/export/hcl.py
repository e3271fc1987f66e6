"""HCL literals. A quoted HCL string is a template: besides `\\` and `"`, the sequences `${` and `%{` start
interpolations and directives, so they are escaped as `$${` and `%%{` (HCL native syntax specification,
"Template Literals" and "Escape Sequences" in hashicorp/hcl hclsyntax/spec.md). `{{SessionName}}` in a
username is not one of them and stays as it is."""

from __future__ import annotations

from collections.abc import Iterable

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _control(char: str) -> bool:
    return ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0


def _char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\u{ord(char):04x}" if _control(char) else char


def string(text: str) -> str:
    escaped = "".join(_char(c) for c in text)
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def string_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(string(item) for item in items) + "]"


def comment(text: str) -> str:
    """`# ` before each line; control characters are shown escaped, so a value cannot end the comment."""
    lines = ("".join(f"\\u{ord(c):04x}" if _control(c) else c for c in line) for line in text.split("\n"))
    return "\n".join(f"# {line}".rstrip() for line in lines)
