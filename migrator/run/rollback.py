"""Rollback as an inverse plan (alembic's downgrade): from the journal, newest first, the inverse of each
step this plan's runs did, for the executor's one loop to run with the same checks, journal and report.

Pure: which steps are ours to undo is decided from the journal here; whether undoing is safe *now* is
decided by each inverse step's check against the live cluster (an entry is kept in API mode, where
deleting it would lock its principal out; one that changed since we made it is a conflict).
- A mode switch is kept (EKS cannot go back); a node entry's type repair is kept (undoing breaks nodes).
- An entry or policy somebody else made (adopted) is kept: not ours.
- A policy whose entry is being deleted goes with the entry (DeleteAccessEntry drops its associations).
- aws-auth removed by this plan is restored from the backup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from migrator.model import AssociatePolicy, CreateEntry, DeleteEntry, InverseStep, Plan, RemoveAwsAuth, Step
from migrator.rules.arn import entry_key
from migrator.run.journal import JournalState, StepState

NOT_OURS = "it existed before this run: not ours to undo"


@dataclass(frozen=True)
class Keep:
    """A step of the plan that rollback leaves as it is, and why."""

    step: Step
    reason: str
    detail: Mapping[str, Any] = field(default_factory=dict)


RollbackItem = InverseStep | Keep


def _ours(step: Step, state: StepState) -> bool:
    """Did this plan's runs make the change (or may they have, before a crash)?"""
    if isinstance(step, RemoveAwsAuth):
        return state.done or state.attempted
    return state.created or state.attempted


def inverse_plan(plan: Plan, prior: JournalState) -> tuple[RollbackItem, ...]:
    touched = [s for s in reversed(plan.steps) if prior.of(s.id).done or prior.of(s.id).attempted]
    deleting = {entry_key(s.principal_arn) for s in touched if isinstance(s, CreateEntry) and _ours(s, prior.of(s.id))}
    dropped: dict[str, list[str]] = {}
    for step in touched:
        if isinstance(step, AssociatePolicy) and entry_key(step.principal) in deleting:
            dropped.setdefault(entry_key(step.principal), []).append(step.id)
    items: list[RollbackItem] = []
    for step in touched:
        state = prior.of(step.id)
        if isinstance(step, AssociatePolicy) and entry_key(step.principal) in deleting:
            continue  # undone (or kept) together with its entry
        inverse = step.inverse()
        if inverse is None:
            if state.done and (reason := step.kept_because()) is not None:
                items.append(Keep(step, reason))
        elif not _ours(step, state):
            if state.done and state.detail.get("adopted"):
                items.append(Keep(step, NOT_OURS, {"adopted": True}))
        elif isinstance(inverse, DeleteEntry):
            items.append(dataclasses.replace(inverse, dropped=tuple(dropped.get(entry_key(inverse.principal_arn), ()))))
        else:
            items.append(inverse)
    return tuple(items)
