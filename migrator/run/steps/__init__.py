"""One handler per step kind: check (is it done already? is it safe now?), apply, read back.

Handlers talk to the cluster only through the ports and never touch the journal: the executor journals
around them. `check` is read-only and runs in dry runs too; it raises ConflictError when someone else's
change stands where the step would write, and never overwrites it. Inverse steps (rollback, compensation)
have handlers like any other step; their `check` may answer `keep` when undoing would cost someone access.

This module is the registry. The handlers live by concern in aws_auth.py, mode.py, entries.py and
verify.py; what they share (the run context, polling, Check) in context.py.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from migrator.model import AnyStep, StepKind
from migrator.run.steps.aws_auth import BackupAwsAuthHandler, RemoveAwsAuthHandler, RestoreAwsAuthHandler
from migrator.run.steps.context import Check, PollPolicy, RunContext
from migrator.run.steps.entries import (
    AssociatePolicyHandler,
    CreateEntryHandler,
    DeleteEntryHandler,
    DisassociatePolicyHandler,
    RepairNodeEntryHandler,
)
from migrator.run.steps.mode import SetModeHandler
from migrator.run.steps.verify import VerifyHandler

__all__ = ["HANDLERS", "Check", "PollPolicy", "RunContext", "StepHandler", "handler_for"]

S_contra = TypeVar("S_contra", contravariant=True)


class StepHandler(Protocol[S_contra]):
    def check(self, step: S_contra, ctx: RunContext) -> Check: ...
    def apply(self, step: S_contra, ctx: RunContext) -> dict[str, Any]: ...
    def read_back(self, step: S_contra, ctx: RunContext) -> dict[str, Any]: ...
    def effect(self, step: S_contra, ctx: RunContext) -> str: ...


HANDLERS: dict[StepKind, StepHandler[Any]] = {
    StepKind.BACKUP_AWS_AUTH: BackupAwsAuthHandler(),
    StepKind.SET_MODE: SetModeHandler(),
    StepKind.CREATE_ENTRY: CreateEntryHandler(),
    StepKind.ASSOCIATE_POLICY: AssociatePolicyHandler(),
    StepKind.REPAIR_NODE_ENTRY: RepairNodeEntryHandler(),
    StepKind.VERIFY: VerifyHandler(),
    StepKind.REMOVE_AWS_AUTH: RemoveAwsAuthHandler(),
    StepKind.DELETE_ENTRY: DeleteEntryHandler(),
    StepKind.DISASSOCIATE_POLICY: DisassociatePolicyHandler(),
    StepKind.RESTORE_AWS_AUTH: RestoreAwsAuthHandler(),
}


def handler_for(step: AnyStep) -> StepHandler[Any]:
    return HANDLERS[step.kind]
