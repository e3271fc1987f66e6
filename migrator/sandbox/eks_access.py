"""EKS access entries on the `World`: the nine access-entry operations, the entries EKS makes itself, and
the moto lookups (IAM principals, the caller behind an access key) they need.

Each operation takes the parsed request (`params`: URI labels, query string and JSON body merged) and
returns the response payload, or raises `EksError`, which the HTTP layer (`eks_ext`) turns into EKS's
error response. Callers hold `world.lock`. Cluster updates and hooks live in `eks_clusters`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from migrator.arn import Arn, ArnError, PrincipalKind, parse_arn, partition_of_region
from migrator.identity import CLUSTER_ADMIN_POLICY, NODE_IDENTITIES, default_username
from migrator.model import AccessEntrySpec, EntryType
from migrator.sandbox import eks_rules
from migrator.sandbox.eks_rules import RuleViolation
from migrator.sandbox.state import SimCluster, SimEntry, World

ERROR_STATUS: dict[str, int] = {
    "InvalidParameterException": 400,
    "InvalidRequestException": 400,
    "ClientException": 400,
    "ResourceLimitExceededException": 400,
    "ResourceNotFoundException": 404,
    "ResourceInUseException": 409,
    "ThrottlingException": 429,
    "ServerException": 500,
}


class EksError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return ERROR_STATUS.get(self.code, 400)

    @classmethod
    def of(cls, violation: RuleViolation) -> EksError:
        return cls(violation.code, violation.message)


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, where: the account comes from the access key, the region from the signature."""

    account: str
    region: str
    access_key: str = ""

    @property
    def partition(self) -> str:
        return partition_of_region(self.region)


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


# --- moto lookups -----------------------------------------------------------------------------------


def principal_id(arn: Arn) -> str | None:
    """IAM's id of the principal named by exactly this ARN (path included), or None when IAM has none."""
    backend = iam_backends[arn.account][arn.partition]
    if arn.kind is PrincipalKind.ROLE:
        for role in list(backend.get_roles()):
            if role.arn == str(arn):
                return str(role.id)
        return None
    if arn.kind is PrincipalKind.USER:
        user = backend.users.get(arn.name)
        return str(user.id) if user is not None and user.arn == str(arn) else None
    return None


def caller_arn(access_key: str, account: str) -> str | None:
    """The IAM ARN (with path) of whoever owns `access_key`: the assumed role, or the IAM user."""
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        assumed = sts_backends[account][partition].get_assumed_role_from_access_key(access_key)
        if assumed is not None:
            try:
                name = parse_arn(assumed.role_arn).name
            except ArnError:
                return None
            for role in list(iam_backends[account][partition].get_roles()):
                if role.name == name:
                    return str(role.arn)
            return str(assumed.role_arn)
        user = iam_backends[account][partition].get_user_from_access_key_id(access_key)
        if user is not None:
            return str(user.arn)
    return None


# --- shared helpers ---------------------------------------------------------------------------------


def get_cluster(world: World, ctx: RequestContext, name: str) -> SimCluster:
    cluster = world.cluster(ctx.account, ctx.region, name)
    if cluster is None:
        raise EksError("ResourceNotFoundException", f"No cluster found for name: {name}.")
    return cluster


def _entries_cluster(world: World, ctx: RequestContext, name: str) -> SimCluster:
    cluster = get_cluster(world, ctx, name)
    if not cluster.mode.reads_entries:
        raise EksError("InvalidRequestException", eks_rules.CONFIG_MAP_ONLY_MESSAGE)
    return cluster


def _entry(cluster: SimCluster, principal_arn: str) -> SimEntry:
    try:
        key = parse_arn(principal_arn).principal_key
    except ArnError:
        key = None
    entry = cluster.entries.get(key) if key else None
    if entry is None or entry.spec.principal_arn != principal_arn:
        raise EksError(
            "ResourceNotFoundException",
            "The specified principalArn could not be found. You can view your available access entries with "
            "'list-access-entries'.",
        )
    return entry


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


def _association_json(policy_arn: str, assoc: dict[str, Any]) -> dict[str, Any]:
    scope = assoc["accessScope"]
    return {
        "policyArn": policy_arn,
        "accessScope": {"type": scope["type"], "namespaces": list(scope.get("namespaces") or [])},
        "associatedAt": assoc["associatedAt"],
        "modifiedAt": assoc["modifiedAt"],
    }


def paginate(keys: list[str], params: dict[str, Any]) -> tuple[list[str], str | None]:
    """One page of sorted `keys`. The token names the next key, so a page survives deletions before it."""
    raw_max = params.get("maxResults")
    try:
        max_results = 100 if raw_max is None else int(raw_max)
    except ValueError:
        raise EksError("InvalidParameterException", "maxResults must be an integer between 1 and 100.") from None
    if not 1 <= max_results <= 100:
        raise EksError("InvalidParameterException", "maxResults must be an integer between 1 and 100.")
    keys = sorted(keys)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
            start = bisect.bisect_left(keys, after)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise EksError("InvalidParameterException", "The nextToken is invalid.") from None
    page = keys[start : start + max_results]
    more = start + max_results < len(keys)
    next_token = base64.urlsafe_b64encode(keys[start + max_results].encode()).decode() if more else None
    return page, next_token


def page_payload(payload: dict[str, Any], next_token: str | None) -> dict[str, Any]:
    if next_token:
        payload["nextToken"] = next_token
    return payload


def _string_list(params: dict[str, Any], key: str) -> list[str] | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EksError("InvalidParameterException", f"{key} must be a list of strings.")
    return list(value)


# --- access entries ---------------------------------------------------------------------------------


def create_access_entry(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _entries_cluster(world, ctx, params["name"])
    token = params.get("clientRequestToken")
    principal = str(params.get("principalArn") or "")
    if token:
        for entry in cluster.entries.values():
            if entry.client_request_token == token and entry.spec.principal_arn == principal:
                return {"accessEntry": entry_json(cluster, entry)}
    groups = _string_list(params, "kubernetesGroups") or []
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
    if len(cluster.entries) >= eks_rules.MAX_ENTRIES_PER_CLUSTER:
        raise EksError(
            "ResourceLimitExceededException",
            f"Cluster {cluster.name} has reached the limit of {eks_rules.MAX_ENTRIES_PER_CLUSTER} access entries.",
        )
    tags = params.get("tags") or {}
    entry = _new_entry(cluster, arn, principal, entry_type, username, groups, tags, time.time(), iam_id, token)
    cluster.entries[arn.principal_key] = entry
    return {"accessEntry": entry_json(cluster, entry)}


def describe_access_entry(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _entries_cluster(world, ctx, params["name"])
    return {"accessEntry": entry_json(cluster, _entry(cluster, params["principalArn"]))}


def list_access_entries(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _entries_cluster(world, ctx, params["name"])
    policy = params.get("associatedPolicyArn")
    arns = [e.spec.principal_arn for e in cluster.entries.values() if policy is None or policy in e.associations]
    page, next_token = paginate(arns, params)
    return page_payload({"accessEntries": page}, next_token)


def update_access_entry(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _entries_cluster(world, ctx, params["name"])
    entry = _entry(cluster, params["principalArn"])
    groups = _string_list(params, "kubernetesGroups")
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
    cluster = _entries_cluster(world, ctx, params["name"])
    entry = _entry(cluster, params["principalArn"])
    del cluster.entries[parse_arn(entry.spec.principal_arn).principal_key]
    return {}


def associate_access_policy(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _entries_cluster(world, ctx, params["name"])
    entry = _entry(cluster, params["principalArn"])
    policy = str(params.get("policyArn") or "")
    raw_scope = params.get("accessScope") or {}
    try:
        eks_rules.check_policy_arn(policy, cluster.partition)
        eks_rules.check_policy_allowed(entry.spec.type)
        scope = eks_rules.check_scope(str(raw_scope.get("type", "")), list(raw_scope.get("namespaces") or []))
    except RuleViolation as violation:
        raise EksError.of(violation) from None
    now = time.time()
    previous = entry.associations.get(policy)
    # One association per policy: associating again replaces the scope and keeps associatedAt.
    entry.associations[policy] = {
        "accessScope": {"type": scope.type.value, "namespaces": list(scope.namespaces)},
        "associatedAt": previous["associatedAt"] if previous else now,
        "modifiedAt": now,
    }
    return {
        "clusterName": cluster.name,
        "principalArn": entry.spec.principal_arn,
        "associatedAccessPolicy": _association_json(policy, entry.associations[policy]),
    }


def disassociate_access_policy(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _entries_cluster(world, ctx, params["name"])
    entry = _entry(cluster, params["principalArn"])
    if entry.associations.pop(params["policyArn"], None) is None:
        raise EksError("ResourceNotFoundException", f"The specified policyArn {params['policyArn']} is not associated.")
    return {}


def list_associated_access_policies(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _entries_cluster(world, ctx, params["name"])
    entry = _entry(cluster, params["principalArn"])
    page, next_token = paginate(list(entry.associations), params)
    return page_payload(
        {
            "clusterName": cluster.name,
            "principalArn": entry.spec.principal_arn,
            "associatedAccessPolicies": [_association_json(p, entry.associations[p]) for p in page],
        },
        next_token,
    )


def list_access_policies(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    page, next_token = paginate(list(eks_rules.ACCESS_POLICY_NAMES), params)
    policies = [{"name": n, "arn": eks_rules.policy_arn(ctx.partition, n)} for n in page]
    return page_payload({"accessPolicies": policies}, next_token)


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
