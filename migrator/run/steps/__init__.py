"""One handler per step kind: check (is it done already? is it safe?), apply, read back, undo.

Handlers talk to the cluster only through the gateway Protocols and never touch the journal: the executor
journals around them. `check` is read-only and runs in dry runs too; it raises ConflictError when someone
else's change stands where the step would write, and never overwrites it.

This module is the registry. The handlers live by concern in step_aws_auth.py, step_mode.py, step_entries.py
and step_verify.py; what they share (the run context, polling, Check and Undo) in step_context.py.
"""

from __future__ import annotations

from typing import Any, Protocol

from migrator.model import Step, StepKind
from migrator.run.journal import StepState
from migrator.run.steps.aws_auth import BackupAwsAuth, RemoveAwsAuth
from migrator.run.steps.context import Check, PollPolicy, RunContext, Undo
from migrator.run.steps.entries import AssociatePolicy, CreateEntry, RepairNodeEntry
from migrator.run.steps.mode import SetMode
from migrator.run.steps.verify import Verify

# PollPolicy and RunContext are imported from here by the executor's callers and the tests.
__all__ = ["HANDLERS", "Check", "PollPolicy", "RunContext", "StepHandler", "Undo", "handler_for"]


class StepHandler(Protocol):
    def check(self, step: Step, ctx: RunContext) -> Check: ...
    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]: ...
    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]: ...
    def effect(self, step: Step, ctx: RunContext) -> str: ...
    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None: ...


HANDLERS: dict[StepKind, StepHandler] = {
    StepKind.BACKUP_AWS_AUTH: BackupAwsAuth(),
    StepKind.SET_MODE: SetMode(),
    StepKind.CREATE_ENTRY: CreateEntry(),
    StepKind.ASSOCIATE_POLICY: AssociatePolicy(),
    StepKind.REPAIR_NODE_ENTRY: RepairNodeEntry(),
    StepKind.VERIFY: Verify(),
    StepKind.REMOVE_AWS_AUTH: RemoveAwsAuth(),
}


def handler_for(step: Step) -> StepHandler:
    return HANDLERS[step.kind]
