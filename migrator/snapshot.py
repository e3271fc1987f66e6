"""Building the planner's input. Offline: from an aws-auth file and what the user tells us, nothing else."""

from __future__ import annotations

from collections import Counter

from migrator.arn import ArnError, parse_arn, partition_of_region
from migrator.errors import InputError
from migrator.model import AuthMode, AwsAuth, ClusterRef, LookupStatus, PrincipalLookup, Snapshot


def infer_account(aws_auth: AwsAuth) -> str | None:
    """The cluster's account, guessed from aws-auth: node roles must live there, so they decide first."""
    node_accounts: Counter[str] = Counter()
    all_accounts: Counter[str] = Counter()
    for mapping in aws_auth.mappings:
        try:
            account = parse_arn(mapping.arn).account
        except ArnError:
            continue
        all_accounts[account] += 1
        if (mapping.username or "").startswith("system:node:"):
            node_accounts[account] += 1
    for counter in (node_accounts, all_accounts):
        if counter:
            return counter.most_common(1)[0][0]
    return None


def offline_snapshot(
    aws_auth: AwsAuth,
    *,
    cluster: str,
    region: str,
    account: str | None,
    mode: AuthMode = AuthMode.CONFIG_MAP,
) -> Snapshot:
    """No AWS or Kubernetes call: IAM paths are unknown (PATH_UNRESOLVED info) and no entries exist."""
    resolved_account = account or infer_account(aws_auth)
    if resolved_account is None:
        raise InputError("cannot tell the cluster's account from an aws-auth with no mappings", hint="pass --account")
    iam: dict[str, PrincipalLookup] = {}
    for mapping in aws_auth.mappings:
        try:
            key = parse_arn(mapping.arn).lookup_key
        except ArnError:
            continue
        iam[key] = PrincipalLookup(LookupStatus.UNRESOLVED, reason="offline plan")
    return Snapshot(
        cluster=ClusterRef(cluster, region, resolved_account, partition_of_region(region)),
        mode=mode,
        aws_auth=aws_auth,
        iam=iam,
        offline=True,
    )
