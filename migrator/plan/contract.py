"""Access entries, policies and steps as the JSON contract spells them (plan files, `--output json`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AssociatePolicy,
    AuthMode,
    BackupAwsAuth,
    CreateEntry,
    EntryAction,
    EntryType,
    GroupConversion,
    Plan,
    PlannedEntry,
    PolicyAssociation,
    PolicyRule,
    PrincipalUsage,
    RemoveAwsAuth,
    RepairNodeEntry,
    ScopeType,
    SetMode,
    Step,
    StepKind,
    UsageEvidence,
    Verify,
)
from migrator.plan.build_steps import permissions_for
from migrator.rules.usage import iso


def policy_to_dict(policy: PolicyAssociation) -> dict[str, Any]:
    return {
        "policyArn": policy.policy_arn,
        "accessScope": {"type": policy.scope.type.value, "namespaces": list(policy.scope.namespaces)},
    }


def entry_to_dict(spec: AccessEntrySpec) -> dict[str, Any]:
    return {
        "principalArn": spec.principal_arn,
        "type": spec.type.value,
        "username": spec.username,
        "kubernetesGroups": list(spec.groups),
        "policies": [policy_to_dict(p) for p in spec.policies],
    }


def policy_from_dict(data: Mapping[str, Any]) -> PolicyAssociation:
    scope = data["accessScope"]
    return PolicyAssociation(
        data["policyArn"], AccessScope(ScopeType(scope["type"]), tuple(scope.get("namespaces") or ()))
    )


# --- conversions (--prefer-access-policies) ----------------------------------------------------------------
# Written on an entry only when it has some, so every other plan file stays as it was.


def conversion_to_dict(conversion: GroupConversion) -> dict[str, Any]:
    return {
        "group": conversion.group,
        "clusterRole": conversion.cluster_role,
        **policy_to_dict(conversion.policy),
        "rulesGained": [r.to_object() for r in conversion.gained],
        "rulesLost": [r.to_object() for r in conversion.lost],
    }


def _rule(data: Mapping[str, Any]) -> PolicyRule:
    for key, values in data.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"rule {key} is {values!r}, not a list of strings")
    return PolicyRule.from_object(data)


def conversion_from_dict(data: Mapping[str, Any]) -> GroupConversion:
    return GroupConversion(
        group=str(data["group"]),
        cluster_role=str(data["clusterRole"]),
        policy=policy_from_dict(data),
        gained=tuple(_rule(r) for r in data["rulesGained"]),
        lost=tuple(_rule(r) for r in data["rulesLost"]),
    )


# --- steps -------------------------------------------------------------------------------------------------
# A step is written as its id, kind, principal, the kind's typed params, and what the kind decides (for the
# reviewer). A create-entry step names its principal only: the entry is in the plan's `entries`, once.

DERIVED_STEP_KEYS = ("description", "irreversible", "gate", "blocked", "permissions")


def step_params(step: Step) -> dict[str, Any]:
    match step:
        case BackupAwsAuth():
            return {"namespace": step.namespace, "name": step.name, "sha256": step.sha256}
        case SetMode():
            return {"mode": step.mode.value}
        case CreateEntry():
            return {"principalArn": step.entry.principal_arn}
        case AssociatePolicy():
            return {"principalArn": step.principal, **policy_to_dict(step.policy)}
        case RepairNodeEntry():
            return {"principalArn": step.principal, "type": step.type.value, "currentType": step.current_type.value}
        case Verify():
            return {"principals": step.principals}
        case RemoveAwsAuth():
            return {"namespace": step.namespace, "name": step.name}


def step_to_dict(plan: Plan, step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "kind": step.kind.value,
        "description": step.describe(),
        "irreversible": step.irreversible,
        "gate": step.gate,
        "blocked": bool(plan.gate_blockers(step)),
        "params": step_params(step),
        "permissions": list(permissions_for(step.kind)),
        "principalArn": step.principal_arn,
    }


def step_from_dict(data: Mapping[str, Any], entries: Sequence[PlannedEntry]) -> Step:
    """The typed step a file's step stands for; KeyError/ValueError/TypeError when it is not one."""
    step_id, kind, params = str(data["id"]), StepKind(data["kind"]), data["params"]
    match kind:
        case StepKind.BACKUP_AWS_AUTH:
            return BackupAwsAuth(step_id, str(params["sha256"]), str(params["namespace"]), str(params["name"]))
        case StepKind.SET_MODE:
            return SetMode(step_id, AuthMode(params["mode"]))
        case StepKind.CREATE_ENTRY:
            return CreateEntry(step_id, _planned_spec(entries, str(params["principalArn"])))
        case StepKind.ASSOCIATE_POLICY:
            return AssociatePolicy(step_id, str(params["principalArn"]), policy_from_dict(params))
        case StepKind.REPAIR_NODE_ENTRY:
            return RepairNodeEntry(
                step_id, str(params["principalArn"]), EntryType(params["type"]), EntryType(params["currentType"])
            )
        case StepKind.VERIFY:
            return Verify(step_id, int(params["principals"]))
        case StepKind.REMOVE_AWS_AUTH:
            return RemoveAwsAuth(step_id, str(params["namespace"]), str(params["name"]))
    raise ValueError(f"step {step_id}: {kind.value} steps are not planned (rollback makes them)")


def _planned_spec(entries: Sequence[PlannedEntry], principal_arn: str) -> AccessEntrySpec:
    for entry in entries:
        if entry.action is EntryAction.CREATE and entry.spec.principal_arn == principal_arn:
            return entry.spec
    raise ValueError(f"no planned entry to create for {principal_arn}")


# --- usage evidence ----------------------------------------------------------------------------------------
# Written only by plans made with --usage-since, so every other plan file stays as it was.


def usage_to_dict(usage: UsageEvidence) -> dict[str, Any]:
    return {
        "since": iso(usage.since),
        "until": iso(usage.until),
        "available": usage.available,
        "reason": usage.reason,
        "linesRead": usage.lines,
        "malformedLines": usage.malformed,
        "refusedTokens": usage.refused,
        "principals": [
            {
                "principalArn": p.arn,
                "firstSeen": iso(p.first_seen),
                "lastSeen": iso(p.last_seen),
                "count": p.count,
                "denied": p.denied,
                "usernames": list(p.usernames),
                "groups": list(p.groups),
            }
            for p in usage.principals
        ],
    }


def _moment(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a time")
    return datetime.fromisoformat(text).astimezone(UTC)


def _strings(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{values!r} is not a list of strings")
    return tuple(values)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def usage_from_dict(data: Mapping[str, Any]) -> UsageEvidence:
    """ValueError/KeyError/TypeError when it is not usage evidence as `usage_to_dict` writes it."""
    principals = tuple(
        PrincipalUsage(
            arn=str(p["principalArn"]),
            first_seen=_moment(p["firstSeen"]),
            last_seen=_moment(p["lastSeen"]),
            count=_count(p["count"]),
            usernames=_strings(p["usernames"]),
            groups=_strings(p["groups"]),
            denied=_count(p["denied"]),
        )
        for p in data["principals"]
    )
    return UsageEvidence(
        since=_moment(data["since"]),
        until=_moment(data["until"]),
        available=bool(data["available"]),
        reason=str(data["reason"]),
        principals=principals,
        lines=_count(data["linesRead"]),
        malformed=_count(data["malformedLines"]),
        refused=_count(data["refusedTokens"]),
    )
