"""EKS's fixed rules that both the planner (predicting EKS) and the sandbox (simulating it) need: kept in one
place so that a change on AWS's side is one edit (eks-facts.md sections 1 and 2)."""

from __future__ import annotations

import re

from migrator.errors import InputError

# EKS's cluster name rule (CreateCluster): 1-100 characters, a letter or digit first, then letters, digits,
# hyphens and underscores. Names become folder names, so nothing else may pass (no `..`, `/`, newline).
CLUSTER_NAME_RE = re.compile(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}", re.ASCII)

# Access entries per cluster (a quota AWS does not raise).
MAX_ENTRIES_PER_CLUSTER = 3000

# Username prefixes EKS refuses in STANDARD entries.
RESERVED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")

# The first platform version of each Kubernetes version that supports access entries; every Kubernetes
# version after the last one listed supports them from its first platform version.
MIN_PLATFORM_VERSION: dict[str, int] = {
    "1.23": 17,
    "1.24": 15,
    "1.25": 12,
    "1.26": 11,
    "1.27": 10,
    "1.28": 6,
    "1.29": 1,
    "1.30": 2,
}


def check_cluster_name(name: str, *, where: str = "cluster name") -> str:
    """`name` if EKS would accept it as a cluster name; an InputError (exit 2) saying why otherwise."""
    if CLUSTER_NAME_RE.fullmatch(name):
        return name
    if not name:
        reason = "it is empty"
    elif len(name) > 100:
        reason = f"it is {len(name)} characters long, EKS allows at most 100"
    else:
        reason = "it must start with a letter or digit and contain only letters, digits, '-' and '_'"
    shown = name if len(name) <= 100 else name[:100] + "..."
    raise InputError(
        f"{where} {shown!r} is not an EKS cluster name: {reason}", hint="use the cluster's name as EKS shows it"
    )
