"""EKS access entries on the `World`: the five access-entry operations (Create, Describe, List, Update,
Delete) and the entries that come about outside them (the creator's admin entry, the ones EKS makes for
roles it manages, the ones a scenario says exist).

Each operation takes the parsed request (`params`: URI labels, query string and JSON body merged) and
returns the response payload, or raises `EksError`, which the HTTP layer (`eks_ext`) turns into EKS's
error response. Callers hold `world.lock`. The rest of the access API lives beside this module:
- `eks_policies`: policy associations and ListAccessPolicies;
- `eks_principals`: the IAM principals behind requests, looked up in moto's IAM and STS;
- `eks_requests`: what every operation shares (`EksError`, `RequestContext`, lookups, pagination);
- `eks_clusters`: cluster updates and the hooks around moto's cluster operations.
The names `eks_ext`, `eks_clusters` and `server` use are importable from here too (`__all__`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from migrator.model import AccessEntrySpec, EntryType
from migrator.rules.arn import Arn, ArnError, parse_arn
from migrator.rules.identity import CLUSTER_ADMIN_POLICY, NODE_IDENTITIES, default_username
from migrator.rules.limits import MAX_ENTRIES_PER_CLUSTER
from migrator.sandbox.eks import rules as eks_rules
from migrator.sandbox.eks.policies import (
    associate_access_policy,
    disassociate_access_policy,
    list_access_policies,
    list_associated_access_policies,
)
from migrator.sandbox.eks.principals import caller_arn, principal_id
from migrator.sandbox.eks.requests import (
    ERROR_STATUS,
    EksError,
    RequestContext,
    entries_cluster,
    find_entry,
    get_cluster,
    page_payload,
    paginate,
    string_list,
)
from migrator.sandbox.eks.rules import RuleViolation
from migrator.sandbox.state import SimCluster, SimEntry, World

__all__ = [
    "ERROR_STATUS",
    "EksError",
    "RequestContext",
    "associate_access_policy",
    "bootstrap_creator",
    "caller_arn",
    "create_access_entry",
    "delete_access_entry",
    "describe_access_entry",
    "disassociate_access_policy",
    "ensure_entry",
    "entry_json",
    "get_cluster",
    "list_access_entries",
    "list_access_policies",
    "list_associated_access_policies",
    "page_payload",
    "paginate",
    "principal_id",
    "seed_entry",
    "update_access_entry",
]


# --- entries made outside the access-entry API -----------------------------------------------------


def bootstrap_creator(cluster: SimCluster, at: float) -> None:
    """The creator's admin entry, made when the cluster starts reading entries (unless it has one already)."""
    if cluster.bootstrap_admin and cluster.creator_arn:
        entry = ensure_entry(cluster, cluster.creator_arn, EntryType.STANDARD, at)
        if entry is not None:
            admin = eks_rules.policy_arn(cluster.partition, CLUSTER_ADMIN_POLICY)
            scope = {"type": "cluster", "namespaces": []}
            entry.associations[admin] = {"accessScope": scope, "associatedAt": at, "modifiedAt": at}


def ensure_entry(cluster: SimCluster, principal_arn: str, entry_type: EntryType, at: float) -> SimEntry | None:
    """Make an entry as EKS does for roles it manages; None when the principal has one already (EKS leaves
    that alone) or the ARN does not parse."""
    try:
        arn = parse_arn(principal_arn)
    except ArnError:
        return None
    if arn.principal_key in cluster.entries:
        return None
    entry = _new_entry(cluster, arn, principal_arn, entry_type, None, (), {}, at, principal_id(arn) or "")
    cluster.entries[arn.principal_key] = entry
    return entry


def seed_entry(cluster: SimCluster, spec: AccessEntrySpec, at: float) -> SimEntry:
    """Store an entry a scenario says exists, with its policy associations (no validation: the loader did it)."""
    arn = parse_arn(spec.principal_arn)
    iam_id = principal_id(arn) or ""
    entry = _new_entry(cluster, arn, spec.principal_arn, spec.type, spec.username, spec.groups, {}, at, iam_id)
    for policy in spec.policies:
        scope = {"type": policy.scope.type.value, "namespaces": list(policy.scope.namespaces)}
        entry.associations[policy.policy_arn] = {"accessScope": scope, "associatedAt": at, "modifiedAt": at}
    cluster.entries[arn.principal_key] = entry
    return entry


# --- shapes -----------------------------------------------------------------------------------------


def _new_entry(
    cluster: SimCluster,
    arn: Arn,
    principal_arn: str,
    entry_type: EntryType,
    username: str | None,
    groups: Sequence[str],
    tags: dict[str, str],
    now: float,
    iam_id: str,
    token: str | None = None,
) -> SimEntry:
    entry_arn = (
        f"arn:{cluster.partition}:eks:{cluster.region}:{cluster.account}:access-entry/{cluster.name}/"
        f"{arn.kind.value}/{arn.account}/{arn.name}/{uuid.uuid4()}"
    )
    spec = AccessEntrySpec(principal_arn, entry_type, username, tuple(groups))
    return SimEntry(spec, entry_arn, now, now, {}, dict(tags), iam_id, token)


def entry_json(cluster: SimCluster, entry: SimEntry) -> dict[str, Any]:
    spec = entry.spec
    # EKS reports a node entry's fixed identity in kubernetesGroups and fills in default usernames.
    groups = sorted(NODE_IDENTITIES[spec.type][1]) if spec.type.is_node else list(spec.groups)
    return {
        "clusterName": cluster.name,
        "principalArn": spec.principal_arn,
        "kubernetesGroups": groups,
        "accessEntryArn": entry.entry_arn,
        "createdAt": entry.created_at,
        "modifiedAt": entry.modified_at,
        "tags": dict(entry.tags),
        "username": spec.username if spec.username is not None else default_username(spec.principal_arn, spec.type),
        "type": spec.type.value,
    }


# --- access entries ---------------------------------------------------------------------------------


def create_access_entry(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = entries_cluster(world, ctx, params["name"])
    token = params.get("clientRequestToken")
    principal = str(params.get("principalArn") or "")
    if token:
        for entry in cluster.entries.values():
            if entry.client_request_token == token and entry.spec.principal_arn == principal:
                return {"accessEntry": entry_json(cluster, entry)}
    groups = string_list(params, "kubernetesGroups") or []
    username = params.get("username")
    try:
        entry_type = eks_rules.check_entry_type(str(params.get("type") or "STANDARD"))
        arn = eks_rules.check_principal_shape(principal, entry_type, cluster.account, cluster.partition)
        eks_rules.check_identity_fields(entry_type, username, groups)
    except RuleViolation as violation:
        raise EksError.of(violation) from None
    iam_id = principal_id(arn)
    if iam_id is None:
        raise EksError("InvalidParameterException", "The specified principalArn is invalid: invalid principal.")
    if arn.principal_key in cluster.entries:
        raise EksError(
            "ResourceInUseException", "The specified access entry resource is already in use on this cluster."
        )
    if len(cluster.entries) >= MAX_ENTRIES_PER_CLUSTER:
        raise EksError(
            "ResourceLimitExceededException",
            f"Cluster {cluster.name} has reached the limit of {MAX_ENTRIES_PER_CLUSTER} access entries.",
        )
    tags = params.get("tags") or {}
    entry = _new_entry(cluster, arn, principal, entry_type, username, groups, tags, time.time(), iam_id, token)
    cluster.entries[arn.principal_key] = entry
    return {"accessEntry": entry_json(cluster, entry)}


def describe_access_entry(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = entries_cluster(world, ctx, params["name"])
    return {"accessEntry": entry_json(cluster, find_entry(cluster, params["principalArn"]))}


def list_access_entries(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = entries_cluster(world, ctx, params["name"])
    policy = params.get("associatedPolicyArn")
    arns = [e.spec.principal_arn for e in cluster.entries.values() if policy is None or policy in e.associations]
    page, next_token = paginate(arns, params)
    return page_payload({"accessEntries": page}, next_token)


def update_access_entry(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = entries_cluster(world, ctx, params["name"])
    entry = find_entry(cluster, params["principalArn"])
    groups = string_list(params, "kubernetesGroups")
    username = params.get("username")
    try:
        eks_rules.check_identity_fields(entry.spec.type, username, groups)
    except RuleViolation as violation:
        raise EksError.of(violation) from None
    spec = entry.spec
    entry.spec = AccessEntrySpec(
        spec.principal_arn,
        spec.type,
        username if username is not None else spec.username,
        tuple(groups) if groups is not None else spec.groups,
    )
    entry.modified_at = time.time()
    return {"accessEntry": entry_json(cluster, entry)}


def delete_access_entry(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = entries_cluster(world, ctx, params["name"])
    entry = find_entry(cluster, params["principalArn"])
    del cluster.entries[parse_arn(entry.spec.principal_arn).principal_key]
    return {}
