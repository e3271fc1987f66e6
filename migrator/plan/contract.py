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
# A step is written as its id, kind and the kind's typed params, and nothing the plan says elsewhere: what a
# kind decides (irreversible, gate, permissions) is written once per kind in `stepKinds`, and a step that
# acts on an entry (create-entry, associate-policy) names its principal (and policy) only: the entry, its
# identity and its policies' scopes are in the plan's `entries`, once, and `show` describes the step from
# them. Every other step carries its description, and a gate whether it is blocked, for the reviewer.

ENTRY_STEP_KINDS = frozenset({StepKind.CREATE_ENTRY, StepKind.ASSOCIATE_POLICY})
STEP_KEYS = frozenset({"id", "kind", "description", "blocked", "params"})


def step_params(step: Step) -> dict[str, Any]:
    match step:
        case BackupAwsAuth():
            return {"namespace": step.namespace, "name": step.name, "sha256": step.sha256}
        case SetMode():
            return {"mode": step.mode.value}
        case CreateEntry():
            return {"principalArn": step.entry.principal_arn}
        case AssociatePolicy():
            return {"principalArn": step.principal, "policyArn": step.policy.policy_arn}
        case RepairNodeEntry():
            return {"principalArn": step.principal, "type": step.type.value, "currentType": step.current_type.value}
        case Verify():
            return {"principals": step.principals}
        case RemoveAwsAuth():
            return {"namespace": step.namespace, "name": step.name}


def step_to_dict(plan: Plan, step: Step) -> dict[str, Any]:
    written: dict[str, Any] = {"id": step.id, "kind": step.kind.value}
    if step.kind not in ENTRY_STEP_KINDS:
        written["description"] = step.describe()
    if step.gate:
        written["blocked"] = bool(plan.gate_blockers(step))
    written["params"] = step_params(step)
    return written


def step_kinds_to_dict(steps: Sequence[Step]) -> dict[str, Any]:
    """What each kind of step in the plan decides, once per kind, in the order the kinds first appear."""
    kinds = dict.fromkeys(step.kind for step in steps)
    return {
        kind.value: {
            "irreversible": STEP_CLASSES[kind].irreversible,
            "gate": STEP_CLASSES[kind].gate,
            "permissions": list(permissions_for(kind)),
        }
        for kind in kinds
    }


STEP_CLASSES: dict[StepKind, type[Step]] = {
    StepKind.BACKUP_AWS_AUTH: BackupAwsAuth,
    StepKind.SET_MODE: SetMode,
    StepKind.CREATE_ENTRY: CreateEntry,
    StepKind.ASSOCIATE_POLICY: AssociatePolicy,
    StepKind.REPAIR_NODE_ENTRY: RepairNodeEntry,
    StepKind.VERIFY: Verify,
    StepKind.REMOVE_AWS_AUTH: RemoveAwsAuth,
}


class PlannedEntries:
    """The entries a plan creates, by principal: a step finds its entry in constant time, so rebuilding the
    steps of a large plan stays linear."""

    def __init__(self, entries: Sequence[PlannedEntry]) -> None:
        self._created = {e.spec.principal_arn: e.spec for e in entries if e.action is EntryAction.CREATE}

    def spec(self, principal_arn: str) -> AccessEntrySpec:
        try:
            return self._created[principal_arn]
        except KeyError:
            raise ValueError(f"no planned entry to create for {principal_arn}") from None

    def policy(self, principal_arn: str, policy_arn: str) -> PolicyAssociation:
        for policy in self.spec(principal_arn).policies:
            if policy.policy_arn == policy_arn:
                return policy
        raise ValueError(f"the planned entry of {principal_arn} has no policy {policy_arn}")


def step_from_dict(data: Mapping[str, Any], entries: PlannedEntries) -> Step:
    """The typed step a file's step stands for; KeyError/ValueError/TypeError when it is not one."""
    if unknown := sorted(set(data) - STEP_KEYS):
        raise ValueError(f"step {data.get('id')!r} has keys a plan step does not have: {', '.join(unknown)}")
    step_id, kind, params = str(data["id"]), StepKind(data["kind"]), data["params"]
    match kind:
        case StepKind.BACKUP_AWS_AUTH:
            return BackupAwsAuth(step_id, str(params["sha256"]), str(params["namespace"]), str(params["name"]))
        case StepKind.SET_MODE:
            return SetMode(step_id, AuthMode(params["mode"]))
        case StepKind.CREATE_ENTRY:
            return CreateEntry(step_id, entries.spec(str(params["principalArn"])))
        case StepKind.ASSOCIATE_POLICY:
            principal = str(params["principalArn"])
            return AssociatePolicy(step_id, principal, entries.policy(principal, str(params["policyArn"])))
        case StepKind.REPAIR_NODE_ENTRY:
            return RepairNodeEntry(
                step_id, str(params["principalArn"]), EntryType(params["type"]), EntryType(params["currentType"])
            )
        case StepKind.VERIFY:
            return Verify(step_id, int(params["principals"]))
        case StepKind.REMOVE_AWS_AUTH:
            return RemoveAwsAuth(step_id, str(params["namespace"]), str(params["name"]))
    raise ValueError(f"step {step_id}: {kind.value} steps are not planned (rollback makes them)")


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
