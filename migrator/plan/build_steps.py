"""The ordered steps of a plan, each with its one-line description, params and IAM permissions.

Order (eks-facts.md sections 1 and 3): back up aws-auth; leave CONFIG_MAP (a gate); repair the entries
EKS made with the wrong type; per principal, create its entry and associate its policies back to back
(an entry replaces the principal's aws-auth mapping at once); verify; enter API (a gate); remove aws-auth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    EntryAction,
    Finding,
    PlannedEntry,
    PolicyAssociation,
    ScopeType,
    Severity,
    Snapshot,
    Step,
    StepKind,
)
from migrator.plan.contract import entry_to_dict, policy_to_dict
from migrator.rules.permissions import STEP_PERMISSIONS

AWS_AUTH_NAMESPACE = "kube-system"
AWS_AUTH_NAME = "aws-auth"


def entry_params(spec: AccessEntrySpec) -> dict[str, Any]:
    """The entry itself; its policies are steps of their own."""
    return {k: v for k, v in entry_to_dict(spec).items() if k != "policies"}


def policy_params(principal_arn: str, policy: PolicyAssociation) -> dict[str, Any]:
    return {"principalArn": principal_arn, **policy_to_dict(policy)}


def describe_scope(policy: PolicyAssociation) -> str:
    if policy.scope.type is ScopeType.CLUSTER:
        return "cluster scope"
    return f"namespaces {', '.join(policy.scope.namespaces)}"


def describe_identity(spec: AccessEntrySpec) -> str:
    if spec.type.is_node:
        return spec.type.value
    username = spec.username if spec.username is not None else "EKS default username"
    groups = f"groups {', '.join(spec.groups)}" if spec.groups else "no groups"
    return f"{spec.type.value}, username {username}, {groups}"


def build_steps(
    snapshot: Snapshot,
    target: AuthMode,
    remove_aws_auth: bool,
    entries: Sequence[PlannedEntry],
    findings: Sequence[Finding],
) -> tuple[Step, ...]:
    specs: list[tuple[StepKind, str, dict[str, Any], dict[str, Any]]] = []

    def add(kind: StepKind, description: str, params: dict[str, Any], **flags: Any) -> None:
        specs.append((kind, description, params, flags))

    if snapshot.mode is AuthMode.API:
        return ()
    blockers = [f for f in findings if f.severity is Severity.BLOCKER]
    version_blocked = any(f.code == "PLATFORM_VERSION" for f in blockers)
    add(
        StepKind.BACKUP_AWS_AUTH,
        f"Back up {AWS_AUTH_NAMESPACE}/{AWS_AUTH_NAME} (sha256 {snapshot.aws_auth.sha256[:12]}) next to the journal",
        {"namespace": AWS_AUTH_NAMESPACE, "name": AWS_AUTH_NAME, "sha256": snapshot.aws_auth.sha256},
    )
    if snapshot.mode is AuthMode.CONFIG_MAP:
        add(
            StepKind.SET_MODE,
            "Switch authentication mode CONFIG_MAP -> API_AND_CONFIG_MAP (one way: EKS never returns to CONFIG_MAP)",
            {"mode": AuthMode.API_AND_CONFIG_MAP.value},
            irreversible=True,
            gate=True,
            blocked=version_blocked,
        )
    for entry in entries:
        if entry.action is EntryAction.UPDATE and entry.current is not None:
            add(
                StepKind.REPAIR_NODE_ENTRY,
                f"Replace the {entry.current.type.value} entry of {entry.spec.principal_arn} with "
                f"{entry.spec.type.value} (entry types cannot change)",
                {**entry_params(entry.spec), "currentType": entry.current.type.value},
                principal_arn=entry.spec.principal_arn,
            )
    for entry in entries:
        if entry.action is not EntryAction.CREATE:
            continue
        add(
            StepKind.CREATE_ENTRY,
            f"Create access entry for {entry.spec.principal_arn} ({describe_identity(entry.spec)})",
            entry_params(entry.spec),
            principal_arn=entry.spec.principal_arn,
        )
        for policy in entry.spec.policies:
            add(
                StepKind.ASSOCIATE_POLICY,
                f"Associate {policy.policy_name} ({describe_scope(policy)}) with {entry.spec.principal_arn}",
                policy_params(entry.spec.principal_arn, policy),
                principal_arn=entry.spec.principal_arn,
            )
    migrated = sum(1 for e in entries if e.action is not EntryAction.SKIP)
    add(
        StepKind.VERIFY,
        f"Verify that {migrated} principal(s) have entries equivalent to their aws-auth identity",
        {"principals": migrated},
    )
    if target is AuthMode.API:
        add(
            StepKind.SET_MODE,
            "Switch authentication mode API_AND_CONFIG_MAP -> API (one way: aws-auth is ignored from then on)",
            {"mode": AuthMode.API.value},
            irreversible=True,
            gate=True,
            blocked=bool(blockers),
        )
    if remove_aws_auth:
        add(
            StepKind.REMOVE_AWS_AUTH,
            f"Delete {AWS_AUTH_NAMESPACE}/{AWS_AUTH_NAME} (restorable from the backup)",
            {"namespace": AWS_AUTH_NAMESPACE, "name": AWS_AUTH_NAME},
        )
    width = max(2, len(str(len(specs))))
    return tuple(
        Step(
            id=f"{number:0{width}d}-{kind.value}",
            kind=kind,
            description=description,
            params=params,
            irreversible=bool(flags.get("irreversible", False)),
            gate=bool(flags.get("gate", False)),
            blocked=bool(flags.get("blocked", False)),
            permissions=STEP_PERMISSIONS[kind].actions,
            principal_arn=flags.get("principal_arn"),
        )
        for number, (kind, description, params, flags) in enumerate(specs, start=1)
    )
