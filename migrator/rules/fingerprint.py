"""The digest of a cluster's access entries that a plan's fingerprint records: the planner writes it, and apply
compares it with the live entries to refuse a stale plan. One definition, so the two can never disagree."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from migrator.model import AccessEntrySpec


def entries_digest(entries: Iterable[AccessEntrySpec]) -> str:
    """A digest of existing entries and their policies, independent of listing order."""
    canonical = sorted(
        json.dumps(
            {
                "principalArn": e.principal_arn.lower(),
                "type": e.type.value,
                "username": e.username,
                "groups": sorted(e.groups),
                "policies": sorted([p.policy_arn, p.scope.type.value, sorted(p.scope.namespaces)] for p in e.policies),
            },
            sort_keys=True,
        )
        for e in entries
    )
    return hashlib.sha256("\n".join(canonical).encode()).hexdigest()
