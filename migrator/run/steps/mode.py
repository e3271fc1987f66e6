"""The set-mode step: switch the cluster's authentication mode one notch (CONFIG_MAP -> API_AND_CONFIG_MAP
-> API) and wait for EKS to finish. EKS cannot switch back, so the step has no inverse; the entries EKS makes at
the switch are journaled, so that later steps tell them apart from somebody else's."""

from __future__ import annotations

from typing import Any

from migrator.errors import RemoteError, UpdateInProgressError
from migrator.model import SetMode
from migrator.rules.arn import entry_key
from migrator.run.steps.context import Check, RunContext, poll_until


class SetModeHandler:
    def check(self, step: SetMode, ctx: RunContext) -> Check:
        target = step.mode
        live = ctx.eks.describe_cluster().mode
        ctx.mode = live
        if live.rank >= target.rank:
            if not ctx.attempted(step):
                return Check(False, {"mode": live.value})
            # A run that started this switch stopped before it saw the end (a crash, a kill): what EKS made
            # at the switch is re-derived from the entries journaled before it and the entries now.
            return Check(False, {"mode": live.value, "recovered": True, **_eks_created(ctx, _before(step, ctx))})
        return Check(
            True,
            note=f"would switch {step.previous.value} -> {target.value} and wait for EKS",
            started={"entriesBefore": _entries_before(step, ctx)},
        )

    def apply(self, step: SetMode, ctx: RunContext) -> dict[str, Any]:
        target = step.mode
        before = _before(step, ctx)
        update_id: str | None = None
        deadline = ctx.poll.clock() + ctx.timeout_seconds
        while update_id is None:
            # An update may be running: EKS's own patching, or the one we started before a crash.
            _wait_for_updates(ctx)
            live = ctx.eks.describe_cluster().mode
            if live.rank >= target.rank:
                ctx.mode = live
                return {"mode": live.value, "recovered": True, **_eks_created(ctx, before)}
            try:
                update_id = ctx.eks.start_mode_update(target).id
            except UpdateInProgressError as error:  # ResourceInUseException: an update started since we looked
                if ctx.poll.clock() > deadline:
                    raise RemoteError(f"EKS kept refusing the switch to {target.value}: {error}") from None
                ctx.say("another cluster update started first; waiting for it")
                ctx.poll.sleep(ctx.poll.initial_seconds)
        final = poll_until(
            lambda: ctx.eks.describe_update(update_id),
            lambda update: update.status != "InProgress",
            ctx,
            what=f"EKS update {update_id} (switch to {target.value})",
        )
        if final.status != "Successful":
            errors = "; ".join(final.errors) or "EKS gave no reason"
            raise RemoteError(f"EKS update {update_id} to {target.value} ended {final.status}: {errors}")
        ctx.mode = target
        return {"mode": target.value, "updateId": update_id, **_eks_created(ctx, before)}

    def read_back(self, step: SetMode, ctx: RunContext) -> dict[str, Any]:
        live = ctx.eks.describe_cluster().mode
        if live is not step.mode:
            raise RemoteError(f"EKS reports mode {live.value} after switching to {step.mode.value}")
        return {}

    def effect(self, step: SetMode, ctx: RunContext) -> str:
        return step.describe()


def _entries_before(step: SetMode, ctx: RunContext) -> list[str]:
    """The entries there were before this switch started: as journaled when it first started (a resumed
    run must not take the entries EKS made at the switch for entries that were always there), else live."""
    journaled = ctx.prior.of(step.id).detail.get("entriesBefore") if ctx.attempted(step) else None
    if isinstance(journaled, list):
        return sorted(str(arn) for arn in journaled)
    return sorted(ctx.eks.list_entry_arns()) if ctx.mode.reads_entries else []


def _before(step: SetMode, ctx: RunContext) -> set[str]:
    return {entry_key(arn) for arn in _entries_before(step, ctx)}


def _wait_for_updates(ctx: RunContext) -> None:
    poll_until(lambda: tuple(ctx.eks.in_progress_updates()), lambda ups: not ups, ctx, what="updates in progress")


def _eks_created(ctx: RunContext, before: set[str]) -> dict[str, Any]:
    """The entries EKS made at the switch (node roles, Fargate, the creator): journaled, and remembered so
    that the creator's entry, which the plan could not foresee, is kept rather than taken for a conflict."""
    live = list(ctx.eks.list_entry_arns()) if ctx.mode.reads_entries else []
    made = sorted(arn for arn in live if entry_key(arn) not in before)
    ctx.eks_created.update(entry_key(arn) for arn in made)
    ctx.listed = frozenset(entry_key(arn) for arn in live)  # what the entry steps need not describe
    return {"eksCreatedEntries": made}
