"""The verify step: read the entries back and check that every migrated principal has an equivalent one.
It writes nothing, so there is nothing to undo."""

from __future__ import annotations

from typing import Any

from migrator.model import Step
from migrator.rules.arn import entry_key
from migrator.run.journal import StepState
from migrator.run.safety import check_verified, migrated, projected_entries
from migrator.run.steps.context import Check, RunContext, Undo


class Verify:
    def check(self, step: Step, ctx: RunContext) -> Check:
        if ctx.dry_run:  # against the entries the earlier steps would leave
            check_verified(ctx.plan, projected_entries(ctx.plan, ctx.live_entries()), ctx.kept)
            return Check(True, note="would pass once the earlier steps have run")
        return Check(True)

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        check_verified(ctx.plan, ctx.live_entries(), ctx.kept)
        kept = sorted(e.spec.principal_arn for e in migrated(ctx.plan) if entry_key(e.spec.principal_arn) in ctx.kept)
        return {"verified": len(migrated(ctx.plan)), "keptAsEksMadeThem": kept}

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        return {}

    def effect(self, step: Step, ctx: RunContext) -> str:
        return "reads the entries back; changes nothing"

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        return None
