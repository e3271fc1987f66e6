"""The access-entry steps: create a principal's entry, associate its policies, and replace a node role's
entry of the wrong type. An entry that differs from the plan is somebody else's change: these steps raise
ConflictError and never overwrite it.

"Ours" vs "adopted": an equivalent entry found by `check` is ours ("recovered") only when the journal says
this step's call may have been made before (a crash between the call and its journal record); otherwise
somebody else made it and it is adopted, which rollback never deletes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from migrator.errors import ConflictError, RemoteError
from migrator.model import AccessEntrySpec, AccessScope, AuthMode, EntryType, PolicyAssociation, ScopeType, Step
from migrator.rules import identity
from migrator.rules.arn import entry_key
from migrator.run.journal import StepState
from migrator.run.observer import StepStatus
from migrator.run.steps.context import Check, RunContext, Undo, poll_until


def _policy_key(policy: PolicyAssociation) -> tuple[str, str, tuple[str, ...]]:
    return (policy.policy_arn, policy.scope.type.value, tuple(sorted(policy.scope.namespaces)))


def policy_of(step: Step) -> PolicyAssociation:
    scope = step.params["accessScope"]
    return PolicyAssociation(
        step.params["policyArn"], AccessScope(ScopeType(scope["type"]), tuple(scope.get("namespaces") or ()))
    )


def entry_conflicts(planned: AccessEntrySpec, live: AccessEntrySpec) -> list[str]:
    """How a live entry differs from the planned one, policies still to be associated not counted."""
    if live.type is not planned.type:
        return [f"its type is {live.type.value}, the plan needs {planned.type.value}"]
    bare = identity.differences(
        identity.from_entry(dataclasses.replace(planned, policies=())),
        identity.from_entry(dataclasses.replace(live, policies=())),
    )
    wanted = {_policy_key(p) for p in planned.policies}
    extra = [
        f"it has {p.policy_name} ({p.scope.type.value} scope), which the plan does not give"
        for p in live.policies
        if _policy_key(p) not in wanted
    ]
    return [*bare, *extra]


def _conflict(arn: str, gaps: list[str], what: str = "an access entry made outside this plan") -> ConflictError:
    return ConflictError(
        f"{arn} has {what} that differs from the plan: {'; '.join(gaps)}; nothing was overwritten",
        hint="decide which identity is right (remove or fix the entry), then re-run apply; or make a new plan",
    )


def _not_ours(state: StepState) -> Undo | None:
    if state.done and state.detail.get("adopted"):
        return Undo(StepStatus.KEPT, {"adopted": True}, "it existed before this run: not ours to undo")
    return None


class CreateEntry:
    def check(self, step: Step, ctx: RunContext) -> Check:
        if not ctx.mode.reads_entries:
            return Check(True, note="would create the entry (after the mode switch)")
        planned = ctx.planned(step.principal_arn)
        live = ctx.eks.describe_entry(planned.principal_arn)
        if live is None:
            return Check(True, note="would create the entry")
        if gaps := entry_conflicts(planned, live):
            if entry_key(planned.principal_arn) in ctx.eks_created and identity.from_entry(live).cluster_admin:
                # The hidden cluster creator: EKS gave it an admin entry at our switch. It was cluster-admin
                # before (the bootstrap mapping wins over aws-auth), so keeping the entry changes nothing.
                ctx.kept.add(entry_key(planned.principal_arn))
                ctx.say(f"keeping the cluster-admin entry EKS made for the cluster creator {planned.principal_arn}")
                return Check(False, {"adopted": True, "eksCreated": True, "differences": gaps})
            raise _conflict(planned.principal_arn, gaps)
        return Check(False, ctx.ours_or_adopted(step, "created"))

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        planned = ctx.planned(step.principal_arn)
        try:
            ctx.eks.create_entry(dataclasses.replace(planned, policies=()))
        except ConflictError:
            # Someone made one between our check and our call: keep it only if it is the same identity,
            # and never count it as ours (rollback must not delete what we did not create).
            live = ctx.eks.describe_entry(planned.principal_arn)
            if live is None or (gaps := entry_conflicts(planned, live)):
                raise _conflict(planned.principal_arn, gaps if live else ["it vanished"]) from None
            return {"adopted": True}
        return {"created": True}

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        planned = ctx.planned(step.principal_arn)
        try:
            live = poll_until(
                lambda: ctx.eks.describe_entry(planned.principal_arn),
                lambda entry: entry is not None and not entry_conflicts(planned, entry),
                ctx,
                what=f"the new entry of {planned.principal_arn} to read back as created",
                read_back=True,
            )
        except RemoteError:
            live = ctx.eks.describe_entry(planned.principal_arn)
            if live is not None and (gaps := entry_conflicts(planned, live)):
                raise _conflict(
                    planned.principal_arn, gaps, "an entry changed right after this run created it"
                ) from None
            raise
        return {"username": live.username} if live is not None else {}

    def effect(self, step: Step, ctx: RunContext) -> str:
        return f"from now on EKS authenticates {step.principal_arn} with this entry, not its aws-auth mapping"

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        if not (state.created or state.attempted):
            return _not_ours(state)
        planned = ctx.planned(step.principal_arn)
        if ctx.mode is AuthMode.API:
            return Undo(
                StepStatus.KEPT,
                reason=f"the cluster is in API mode: deleting the entry would lock {planned.principal_arn} out",
            )
        live = ctx.eks.describe_entry(planned.principal_arn)
        if live is None:
            return Undo(StepStatus.UNDONE, {"absent": True})
        if gaps := entry_conflicts(planned, live):
            raise _conflict(planned.principal_arn, gaps, "an entry changed since this run created it")
        ctx.eks.delete_entry(planned.principal_arn)
        poll_until(
            lambda: ctx.eks.describe_entry(planned.principal_arn),
            lambda entry: entry is None,
            ctx,
            what=f"the entry of {planned.principal_arn} to be gone",
            read_back=True,
        )
        return Undo(StepStatus.UNDONE, {"deleted": True})


class AssociatePolicy:
    def check(self, step: Step, ctx: RunContext) -> Check:
        policy = policy_of(step)
        note = f"would associate {policy.policy_name}"
        if not ctx.mode.reads_entries:
            return Check(True, note=note)
        live = ctx.eks.describe_entry(step.params["principalArn"])
        if live is None:
            if ctx.dry_run:  # its create-entry step would make it
                return Check(True, note=note)
            raise ConflictError(f"the entry of {step.principal_arn} vanished before its policies were associated")
        same = [p for p in live.policies if p.policy_arn == policy.policy_arn]
        if same and _policy_key(same[0]) == _policy_key(policy):
            return Check(False, ctx.ours_or_adopted(step, "associated"))
        if same and not ctx.attempted(step):
            raise _conflict(step.params["principalArn"], [f"{policy.policy_name} has another scope"])
        return Check(True, note=note)

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        ctx.eks.associate_policy(step.params["principalArn"], policy_of(step))
        return {"associated": True}

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        wanted = _policy_key(policy_of(step))
        poll_until(
            lambda: ctx.eks.describe_entry(step.params["principalArn"]),
            lambda entry: entry is not None and wanted in {_policy_key(p) for p in entry.policies},
            ctx,
            what=f"{policy_of(step).policy_name} on {step.principal_arn} to read back",
            read_back=True,
        )
        return {}

    def effect(self, step: Step, ctx: RunContext) -> str:
        policy = policy_of(step)
        return f"{step.principal_arn} gets {policy.policy_name}: with its entry, the access aws-auth gives it today"

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        if not (state.created or state.attempted):
            return _not_ours(state)
        arn = step.params["principalArn"]
        policy = policy_of(step)
        if ctx.mode is AuthMode.API:
            return Undo(
                StepStatus.KEPT,
                reason=f"the cluster is in API mode: removing {policy.policy_name} from {arn} could lock it out",
            )
        live = ctx.eks.describe_entry(arn)
        if live is None or policy.policy_arn not in {p.policy_arn for p in live.policies}:
            return Undo(StepStatus.UNDONE, {"absent": True})
        ctx.eks.disassociate_policy(arn, policy.policy_arn)
        return Undo(StepStatus.UNDONE, {"disassociated": True})


class RepairNodeEntry:
    def check(self, step: Step, ctx: RunContext) -> Check:
        target = EntryType(step.params["type"])
        note = f"would replace the {step.params['currentType']} entry with {target.value}"
        if not ctx.mode.reads_entries:
            return Check(True, note=note)
        live = ctx.eks.describe_entry(step.params["principalArn"])
        if live is None or live.type.value == step.params["currentType"]:
            return Check(True, note=note)
        if live.type is target:
            return Check(False, {"recovered": True} if ctx.attempted(step) else {"already": True})
        raise _conflict(step.params["principalArn"], [f"its type is {live.type.value}"])

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        arn = step.params["principalArn"]
        live = ctx.eks.describe_entry(arn)
        detail: dict[str, Any] = {}
        if live is not None and live.type.value == step.params["currentType"]:
            ctx.eks.delete_entry(arn)  # types are immutable: delete, then create the right one
            detail["replaced"] = live.type.value
        ctx.eks.create_entry(AccessEntrySpec(arn, EntryType(step.params["type"])))
        return detail

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        poll_until(
            lambda: ctx.eks.describe_entry(step.params["principalArn"]),
            lambda entry: entry is not None and entry.type.value == step.params["type"],
            ctx,
            what=f"the {step.params['type']} entry of {step.principal_arn} to read back",
            read_back=True,
        )
        return {}

    def effect(self, step: Step, ctx: RunContext) -> str:
        return "the nodes authenticate through their aws-auth mapping for the moment between delete and create"

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        if not (state.done or state.attempted):
            return None
        return Undo(StepStatus.KEPT, reason="not undone: an EC2_LINUX entry would break the Windows nodes again")
