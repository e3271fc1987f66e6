"""The keys of a StateStore: `/`-separated names we build ourselves (cluster names, plan ids). Checked anyway,
so that no key can climb out of its store (`..`), name the store itself, or hide as a dot file."""

from __future__ import annotations

import re

from migrator.errors import InputError

_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+=,-]*")


def check_key(key: str) -> str:
    """`key` when every part is a plain name (no `..`, no empty or dot-leading part); InputError otherwise."""
    parts = key.split("/")
    if not key or not all(_PART.fullmatch(part) and part not in (".", "..") for part in parts):
        raise InputError(f"{key!r}: not a state key (plain names separated by '/')")
    return key


def join(prefix: str, key: str) -> str:
    """`prefix/key`; either may be empty (the other alone, never a leading, trailing or doubled '/')."""
    return f"{prefix}/{key}" if prefix and key else prefix or key
