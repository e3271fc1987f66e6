"""EKS access policies on the `World`: associating them with access entries (Associate, Disassociate,
ListAssociated) and the list of policies EKS offers (ListAccessPolicies).

An entry keeps its associations as `{policy ARN: {"accessScope", "associatedAt", "modifiedAt"}}`, one per
policy, as EKS does. Same conventions as `eks_access`: parsed `params` in, response payload or `EksError`
out, callers hold `world.lock`.
"""

from __future__ import annotations

import time
from typing import Any

from migrator.sandbox.eks import rules as eks_rules
from migrator.sandbox.eks.requests import (
    EksError,
    RequestContext,
    entries_cluster,
    find_entry,
    page_payload,
    paginate,
)
from migrator.sandbox.eks.rules import RuleViolation
from migrator.sandbox.state import World


def _association_json(policy_arn: str, assoc: dict[str, Any]) -> dict[str, Any]:
    scope = assoc["accessScope"]
    return {
        "policyArn": policy_arn,
        "accessScope": {"type": scope["type"], "namespaces": list(scope.get("namespaces") or [])},
        "associatedAt": assoc["associatedAt"],
        "modifiedAt": assoc["modifiedAt"],
    }


def associate_access_policy(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = entries_cluster(world, ctx, params["name"])
    entry = find_entry(cluster, params["principalArn"])
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
    cluster = entries_cluster(world, ctx, params["name"])
    entry = find_entry(cluster, params["principalArn"])
    if entry.associations.pop(params["policyArn"], None) is None:
        raise EksError("ResourceNotFoundException", f"The specified policyArn {params['policyArn']} is not associated.")
    return {}


def list_associated_access_policies(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = entries_cluster(world, ctx, params["name"])
    entry = find_entry(cluster, params["principalArn"])
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
