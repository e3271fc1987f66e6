"""Which clusters of the inventory a run covers: `--select` (a name glob or `label=value`) and `--shard I/N`
(a stable subset by cluster identity, so a CI matrix keeps each cluster on the same runner when the list
is reordered or grows)."""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from migrator.errors import InputError
from migrator.fleet.inventory import Inventory, InventoryCluster

SHARD_RE = re.compile(r"([1-9][0-9]{0,3})/([1-9][0-9]{0,3})")
LABEL_SELECTOR_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]*)=(.*)")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, cluster: InventoryCluster) -> bool:
        return shard_of(cluster.identity, self.count) == self.index - 1


def parse_shard(text: str) -> Shard:
    match = SHARD_RE.fullmatch(text)
    if match is None or int(match[1]) > int(match[2]):
        raise InputError(f"--shard {text!r}: expected I/N with 1 <= I <= N, e.g. 2/3")
    return Shard(int(match[1]), int(match[2]))


def shard_of(identity: str, count: int) -> int:
    """0..count-1 from a SHA-256 of the identity: the same on every machine and Python (no hash seed)."""
    digest = hashlib.sha256(identity.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def matches(cluster: InventoryCluster, selector: str) -> bool:
    """`tier=prod` compares a label (the value may be a glob); anything else is a glob on the name."""
    label = LABEL_SELECTOR_RE.fullmatch(selector)
    if label is not None:
        value = cluster.labels.get(label[1])
        return value is not None and fnmatch.fnmatchcase(value, label[2])
    return fnmatch.fnmatchcase(cluster.name, selector)


def select(
    inventory: Inventory, selectors: Sequence[str] = (), shard: Shard | None = None
) -> tuple[InventoryCluster, ...]:
    """The clusters any selector picks (all without selectors), then those of the shard; inventory order."""
    picked = tuple(
        c
        for c in inventory.clusters
        if (not selectors or any(matches(c, s) for s in selectors)) and (shard is None or shard.holds(c))
    )
    if selectors and not any(matches(c, s) for c in inventory.clusters for s in selectors):
        raise InputError(
            f"--select {', '.join(selectors)} matches no cluster of {inventory.file}",
            hint="a selector is a name glob (prod-*) or a label (tier=prod)",
        )
    return picked
