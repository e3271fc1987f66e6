"""The set-mode step: switch the cluster's authentication mode one notch (CONFIG_MAP -> API_AND_CONFIG_MAP
-> API) and wait for EKS to finish. EKS cannot switch back, so the step has no inverse; the entries EKS makes at
the switch are journaled, so that later steps tell them apart from somebody else's.

The first switch (CONFIG_MAP -> API_AND_CONFIG_MAP) also journals which of them is the cluster creator's admin
entry (`creatorEntry`): EKS does not say who created a cluster, and an entry of that shape is easy to make, so
this record is the evidence that apply, `verify --journal` and `batch apply`'s verify go by. It is the one
STANDARD entry among those EKS made, when it has the creator's shape; none when there are two (somebody made an
entry meanwhile: neither can be told for the creator's) or it has another shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from migrator.errors import RemoteError, UpdateInProgressError
from migrator.model import AuthMode, CreateEntry, EntryType, SetMode
from migrator.rules import identity
from migrator.rules.arn import entry_key
from migrator.run.journal import JournalState
from migrator.run.steps.context import CREATOR_ENTRY, Check, RunContext, poll_until


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
            return Check(False, {"mode": live.value, "recovered": True, **_eks_created(ctx, step, _before(step, ctx))})
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
                return {"mode": live.value, "recovered": True, **_eks_created(ctx, step, before)}
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
        return {"mode": target.value, "updateId": update_id, **_eks_created(ctx, step, before)}

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


def _eks_created(ctx: RunContext, step: SetMode, before: set[str]) -> dict[str, Any]:
    """The entries EKS made at the switch (node roles, Fargate, the creator): there now, not there before, and
    not created by a run of this plan. Journaled, and remembered so that the creator's entry, which the plan
    could not foresee, is kept rather than taken for a conflict."""
    live = list(ctx.eks.list_entry_arns()) if ctx.mode.reads_entries else []
    ours = _created_by_this_plan(ctx)
    made = sorted(arn for arn in live if entry_key(arn) not in before and entry_key(arn) not in ours)
    ctx.eks_created.update(entry_key(arn) for arn in made)
    ctx.listed = frozenset(entry_key(arn) for arn in live)  # what the entry steps need not describe
    if step.previous is not AuthMode.CONFIG_MAP:
        return {"eksCreatedEntries": made}  # EKS makes entries only when the mode first reads them
    creator = _tell_creator_apart(ctx, made)
    ctx.creator = entry_key(creator) if creator is not None else None
    cluster = ctx.plan.cluster
    return {
        "eksCreatedEntries": made,
        CREATOR_ENTRY: creator,
        "cluster": {"name": cluster.name, "region": cluster.region, "account": cluster.account},
    }


def _created_by_this_plan(ctx: RunContext) -> set[str]:
    """Entry keys of the create-entry steps a run of this plan made, or may have made."""
    journaled = {
        entry_key(s.principal_arn)
        for s in ctx.plan.steps
        if isinstance(s, CreateEntry) and (ctx.prior.of(s.id).attempted or ctx.prior.of(s.id).done)
    }
    return journaled | set(ctx.answered)


def _tell_creator_apart(ctx: RunContext, made: list[str]) -> str | None:
    """The principal ARN of the admin entry EKS made for the cluster creator at this switch, when it can be
    told: the one STANDARD entry EKS made (the others are node roles and Fargate), in the creator's shape."""
    described = ctx.eks.describe_entries(made, {entry_key(arn) for arn in made}) if made else ()
    standard = [entry for entry in described if entry.type is EntryType.STANDARD]
    if standard and ctx.eks.describe_cluster().bootstrap_admin is not True:
        # A cluster created without bootstrapClusterCreatorAdminPermissions gets no creator entry: an entry
        # of that shape is somebody's, whatever it looks like.
        ctx.say("EKS gives this cluster's creator no admin entry (bootstrapClusterCreatorAdminPermissions is off)")
        return None
    if len(standard) > 1:
        names = ", ".join(sorted(entry.principal_arn for entry in standard))
        ctx.say(f"{len(standard)} STANDARD entries appeared at the switch ({names}): none is taken for the creator's")
        return None
    if not standard or not identity.creator_shape(standard[0]):
        return None
    return standard[0].principal_arn


@dataclass(frozen=True)
class FirstSwitch:
    """What a journal records of the first switch: the creator's entry as it was told apart then (None: EKS
    made none that could be told apart), and the cluster it was switched on."""

    creator_arn: str | None
    cluster: Mapping[str, str]


def journaled_first_switch(state: JournalState) -> FirstSwitch | None:
    """The first switch a run of this journal's plan made and saw finish (None: it made none, or the journal
    predates this record)."""
    found = [
        step.detail
        for step in state.steps.values()
        if step.done and CREATOR_ENTRY in step.detail and isinstance(step.detail.get("cluster"), Mapping)
    ]
    if len(found) != 1:
        return None
    creator, cluster = found[0][CREATOR_ENTRY], found[0]["cluster"]
    return FirstSwitch(
        creator if isinstance(creator, str) and creator else None, {str(k): str(v) for k, v in cluster.items()}
    )
