"""The ordered, typed steps of a plan.

Order (eks-facts.md sections 1 and 3): back up aws-auth; leave CONFIG_MAP (a gate); repair the entries
EKS made with the wrong type; per principal, create its entry and associate its policies back to back
(an entry replaces the principal's aws-auth mapping at once); verify; enter API (a gate); remove aws-auth.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from migrator.model import (
    AssociatePolicy,
    AuthMode,
    BackupAwsAuth,
    CreateEntry,
    EntryAction,
    PlannedEntry,
    RemoveAwsAuth,
    RepairNodeEntry,
    SetMode,
    Snapshot,
    Step,
    StepKind,
    Verify,
)
from migrator.rules.permissions import STEP_PERMISSIONS

UNNUMBERED = ""  # steps are numbered once the order is known


def permissions_for(kind: StepKind) -> tuple[str, ...]:
    """The IAM actions a step of this kind may call, applying or undoing it: what the plan file records."""
    return STEP_PERMISSIONS[kind].actions


def build_steps(
    snapshot: Snapshot,
    target: AuthMode,
    remove_aws_auth: bool,
    entries: Sequence[PlannedEntry],
) -> tuple[Step, ...]:
    if snapshot.mode is AuthMode.API:
        return ()
    steps: list[Step] = [BackupAwsAuth(UNNUMBERED, snapshot.aws_auth.sha256)]
    if snapshot.mode is AuthMode.CONFIG_MAP:
        steps.append(SetMode(UNNUMBERED, AuthMode.API_AND_CONFIG_MAP))
    for entry in entries:
        if entry.action is EntryAction.REPAIR_NODE_TYPE and entry.current is not None:
            spec = entry.spec
            steps.append(RepairNodeEntry(UNNUMBERED, spec.principal_arn, spec.type, entry.current.type))
    for entry in entries:
        if entry.action is EntryAction.CREATE:
            steps.append(CreateEntry(UNNUMBERED, entry.spec))
            steps.extend(AssociatePolicy(UNNUMBERED, entry.spec.principal_arn, p) for p in entry.spec.policies)
    steps.append(Verify(UNNUMBERED, sum(1 for e in entries if e.action is not EntryAction.SKIP)))
    if target is AuthMode.API:
        steps.append(SetMode(UNNUMBERED, AuthMode.API))
    if remove_aws_auth:
        steps.append(RemoveAwsAuth(UNNUMBERED))
    return number_steps(steps)


def number_steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    """Ids are the position, zero-padded to a common width, and the kind: "07-create-entry"."""
    width = max(2, len(str(len(steps))))
    return tuple(
        dataclasses.replace(step, id=f"{number:0{width}d}-{step.kind.value}")
        for number, step in enumerate(steps, start=1)
    )
