"""The validating reader under the scenario and inventory loaders: typed access to a ruamel round-trip tree,
where every problem becomes a `SourceError` naming the file and the 1-based line a person can open.

It lives beside `awsauth.source` (reading YAML with the lines a person can open) because awsauth is the
lowest layer that reads YAML files: migrator.fleet (the inventory) sits above it and migrator.sandbox (the
scenario) outside the layers, so both can use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from migrator.errors import SourceError


class YamlReader:
    """Typed access to a ruamel round-trip tree, with 1-based lines for every error."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, line: int | None, message: str, hint: str | None = None) -> SourceError:
        return SourceError(self.file, line, message, hint=hint)

    @staticmethod
    def line(node: Any, key: Any = None) -> int | None:
        try:
            if key is None:
                return int(node.lc.line) + 1
            if isinstance(node, CommentedSeq):
                return int(node.lc.item(key)[0]) + 1
            return int(node.lc.key(key)[0]) + 1
        except (AttributeError, KeyError, IndexError, TypeError):
            return None

    def mapping(self, node: Any, line: int | None, what: str, allowed: Iterable[str]) -> CommentedMap:
        if not isinstance(node, CommentedMap):
            raise self.error(line, f"{what} must be a mapping")
        allowed = tuple(allowed)
        for key in node:
            if key not in allowed:
                raise self.error(
                    self.line(node, key), f"unknown key {key!r} in {what}", hint=f"known keys: {', '.join(allowed)}"
                )
        return node

    def seq(self, node: CommentedMap, key: str, what: str) -> list[tuple[Any, int | None]]:
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, CommentedSeq):
            raise self.error(self.line(node, key), f"{what}.{key} must be a list")
        return [(item, self.line(value, i) or self.line(node, key)) for i, item in enumerate(value)]

    def text(self, node: CommentedMap, key: str, what: str, default: str | None = None) -> str:
        value = node.get(key)
        if value is None:
            if default is None:
                raise self.error(self.line(node), f"{what} needs {key!r}")
            return default
        if not isinstance(value, str):
            # YAML reads 012345678901 as a number and 1.30 as 1.3: both need quotes.
            number = isinstance(value, int | float) and not isinstance(value, bool)
            hint = (
                f'put the value in quotes, e.g. {key}: "..."; unquoted, YAML reads it as a number' if number else None
            )
            raise self.error(self.line(node, key), f"{what}.{key} must be a string, not {value!r}", hint=hint)
        return value

    def optional_text(self, node: CommentedMap, key: str, what: str) -> str | None:
        return self.text(node, key, what) if node.get(key) is not None else None

    def flag(self, node: CommentedMap, key: str, what: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            raise self.error(self.line(node, key), f"{what}.{key} must be true or false")
        return value

    def number(self, node: CommentedMap, key: str, what: str, default: float, *, upper: float | None = None) -> float:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error(self.line(node, key), f"{what}.{key} must be a number >= 0")
        if upper is not None and value > upper:
            raise self.error(self.line(node, key), f"{what}.{key} must be at most {upper}")
        return float(value)

    def integer(self, node: CommentedMap, key: str, what: str, default: int) -> int:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(self.line(node, key), f"{what}.{key} must be a whole number >= 0")
        return value
