"""EKS's fixed rules that both the planner (predicting EKS) and the sandbox (simulating it) need: kept in one
place so that a change on AWS's side is one edit (eks-facts.md sections 1 and 2)."""

from __future__ import annotations

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
