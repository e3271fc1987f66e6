"""The access-entry steps: create a principal's entry, associate its policies, replace a node role's entry
of the wrong type; and their inverses, delete the entry and disassociate a policy. An entry that differs
from the plan is somebody else's change: these steps raise ConflictError and never overwrite it.

"Ours" vs "adopted": an equivalent entry found by `check` is ours ("recovered") only when the journal says
this step's call may have been made before (a crash between the call and its journal record); otherwise
somebody else made it and it is adopted, which rollback never deletes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from migrator.awsauth import parse_configmap_object
from migrator.errors import ConflictError, InputError, RemoteError
from migrator.model import (
    AWS_AUTH_NAME,
    AWS_AUTH_NAMESPACE,
    AccessEntrySpec,
    AssociatePolicy,
    AuthMode,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    PolicyAssociation,
    RepairNodeEntry,
)
from migrator.rules import identity
from migrator.rules.arn import entry_key
from migrator.run.steps.context import Check, RunContext, poll_until


def _policy_key(policy: PolicyAssociation) -> tuple[str, str, tuple[str, ...]]:
    return (policy.policy_arn, policy.scope.type.value, tuple(sorted(policy.scope.namespaces)))


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


def _creator_entry(principal_arn: str, live: AccessEntrySpec, ctx: RunContext) -> bool:
    """Is `live` the admin entry EKS makes for the (hidden) cluster creator at the first switch? The one entry
    our switch told apart as the creator's (`ctx.creator`, journaled), still in that shape: anything else is
    somebody's entry, which the plan must not take for the creator's."""
    return entry_key(principal_arn) == ctx.creator and identity.creator_shape(live)


class CreateEntryHandler:
    def check(self, step: CreateEntry, ctx: RunContext) -> Check:
        if not ctx.mode.reads_entries:
            return Check(True, note="would create the entry (after the mode switch)")
        planned = step.entry
        if ctx.unseen(step):
            return Check(True, note="would create the entry")
        if (done := _recheck_done(step, ctx)) is not None:
            return done
        live = ctx.eks.describe_entry(planned.principal_arn)
        if live is None:
            return Check(True, note="would create the entry")
        if gaps := entry_conflicts(planned, live):
            if _creator_entry(planned.principal_arn, live, ctx):
                # The hidden cluster creator: EKS gave it an admin entry at our switch. It was cluster-admin
                # before (the bootstrap mapping wins over aws-auth), so keeping the entry changes nothing.
                ctx.kept.add(entry_key(planned.principal_arn))
                ctx.say(f"keeping the cluster-admin entry EKS made for the cluster creator {planned.principal_arn}")
                return Check(False, {"adopted": True, "eksCreated": True, "differences": gaps})
            raise _conflict(planned.principal_arn, gaps)
        return Check(False, ctx.ours_or_adopted(step, "created"))

    def apply(self, step: CreateEntry, ctx: RunContext) -> dict[str, Any]:
        planned = step.entry
        try:
            ctx.remember(ctx.eks.create_entry(dataclasses.replace(planned, policies=())))
        except ConflictError:
            # Someone made one between our check and our call: keep it only if it is the same identity,
            # and never count it as ours (rollback must not delete what we did not create).
            live = ctx.eks.describe_entry(planned.principal_arn)
            if live is None or (gaps := entry_conflicts(planned, live)):
                raise _conflict(planned.principal_arn, gaps if live else ["it vanished"]) from None
            return {"adopted": True}
        return {"created": True}

    def read_back(self, step: CreateEntry, ctx: RunContext) -> dict[str, Any]:
        planned = step.entry
        answered = ctx.answered.get(entry_key(planned.principal_arn))
        if answered is not None and not entry_conflicts(planned, answered):
            # EKS answered CreateAccessEntry with the entry it stored: that is the read-back, no describe.
            return {"username": answered.username}
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

    def effect(self, step: CreateEntry, ctx: RunContext) -> str:
        return f"from now on EKS authenticates {step.principal_arn} with this entry, not its aws-auth mapping"


def _recheck_done(step: CreateEntry | AssociatePolicy, ctx: RunContext) -> Check | None:
    """A resumed run's re-check of a step a run of this plan finished, from the listing the run made at its
    start (one ListAccessEntries, and one per policy) rather than a describe per step: still there is done;
    gone is work (the executor makes it again, or stops when it was adopted). None: no listing to go by."""
    if not ctx.prior.of(step.id).done or ctx.listed is None:
        return None
    key = entry_key(step.principal_arn)
    if isinstance(step, AssociatePolicy):
        if ctx.holders is None:
            return None
        there = key in ctx.holders.get(step.policy.policy_arn, frozenset())
    else:
        there = key in ctx.listed
    return Check(False) if there else Check(True, note="was removed since this plan made it")


class AssociatePolicyHandler:
    def check(self, step: AssociatePolicy, ctx: RunContext) -> Check:
        note = f"would associate {step.policy.policy_name}"
        if not ctx.mode.reads_entries:
            return Check(True, note=note)
        if (done := _recheck_done(step, ctx)) is not None:
            return done
        # The entry this unit has just made, as EKS answered (and this run's associations since): no describe.
        live = ctx.answered.get(entry_key(step.principal)) or ctx.eks.describe_entry(step.principal)
        if live is None:
            if ctx.dry_run:  # its create-entry step would make it
                return Check(True, note=note)
            raise ConflictError(f"the entry of {step.principal} vanished before its policies were associated")
        same = [p for p in live.policies if p.policy_arn == step.policy.policy_arn]
        if same and _policy_key(same[0]) == _policy_key(step.policy):
            return Check(False, ctx.ours_or_adopted(step, "associated"))
        if same and not ctx.attempted(step):
            raise _conflict(step.principal, [f"{step.policy.policy_name} has another scope"])
        return Check(True, note=note)

    def apply(self, step: AssociatePolicy, ctx: RunContext) -> dict[str, Any]:
        answered = ctx.eks.associate_policy(step.principal, step.policy)
        ctx.associated[(entry_key(step.principal), answered.policy_arn)] = answered
        if (entry := ctx.answered.get(entry_key(step.principal))) is not None:
            others = tuple(p for p in entry.policies if p.policy_arn != answered.policy_arn)
            ctx.remember(dataclasses.replace(entry, policies=(*others, answered)))
        return {"associated": True}

    def read_back(self, step: AssociatePolicy, ctx: RunContext) -> dict[str, Any]:
        wanted = _policy_key(step.policy)
        answered = ctx.associated.get((entry_key(step.principal), step.policy.policy_arn))
        if answered is not None and _policy_key(answered) == wanted:
            return {}  # EKS answered AssociateAccessPolicy with this very association: no describe
        poll_until(
            lambda: ctx.eks.describe_entry(step.principal),
            lambda entry: entry is not None and wanted in {_policy_key(p) for p in entry.policies},
            ctx,
            what=f"{step.policy.policy_name} on {step.principal} to read back",
            read_back=True,
        )
        return {}

    def effect(self, step: AssociatePolicy, ctx: RunContext) -> str:
        return f"{step.principal} gets {step.policy.policy_name}: with its entry, the access aws-auth gives it today"


class RepairNodeEntryHandler:
    def check(self, step: RepairNodeEntry, ctx: RunContext) -> Check:
        note = f"would replace the {step.current_type.value} entry with {step.type.value}"
        if not ctx.mode.reads_entries:
            return Check(True, note=note)
        live = ctx.eks.describe_entry(step.principal)
        if live is None or live.type is step.current_type:
            return Check(True, note=note)
        if live.type is step.type:
            return Check(False, {"recovered": True} if ctx.attempted(step) else {"already": True})
        raise _conflict(step.principal, [f"its type is {live.type.value}"])

    def apply(self, step: RepairNodeEntry, ctx: RunContext) -> dict[str, Any]:
        live = ctx.eks.describe_entry(step.principal)
        detail: dict[str, Any] = {}
        if live is not None and live.type is step.current_type:
            ctx.eks.delete_entry(step.principal)  # types are immutable: delete, then create the right one
            detail["replaced"] = live.type.value
        ctx.eks.create_entry(AccessEntrySpec(step.principal, step.type))
        return detail

    def read_back(self, step: RepairNodeEntry, ctx: RunContext) -> dict[str, Any]:
        poll_until(
            lambda: ctx.eks.describe_entry(step.principal),
            lambda entry: entry is not None and entry.type is step.type,
            ctx,
            what=f"the {step.type.value} entry of {step.principal} to read back",
            read_back=True,
        )
        return {}

    def effect(self, step: RepairNodeEntry, ctx: RunContext) -> str:
        return "the nodes authenticate through their aws-auth mapping for the moment between delete and create"


# --- inverses ---------------------------------------------------------------------------------------------


class DeleteEntryHandler:
    """Undo a create-entry: only while aws-auth is still read (the principal falls back to its mapping),
    and only an entry that is still the one this plan made."""

    def check(self, step: DeleteEntry, ctx: RunContext) -> Check:
        arn = step.principal_arn
        if ctx.mode is AuthMode.API:
            return Check(False, keep=f"the cluster is in API mode: deleting the entry would lock {arn} out")
        if not ctx.mode.reads_entries:
            return Check(False, {"absent": True})
        live = ctx.eks.describe_entry(arn)
        if live is None:
            return Check(False, {"absent": True})
        if gaps := entry_conflicts(step.entry, live):
            raise _conflict(arn, gaps, "an entry changed since this run created it")
        if entry_key(arn) in ctx.half_made and _missing_policies(step.entry, live):
            # Left without its policies by a killed run, and aws-auth cannot be read (the cluster refuses us):
            # its identity was never the plan's; without it the principal has its aws-auth mapping, as before.
            return Check(True, note=f"would delete the entry of {arn}, which a killed run left without its policies")
        if (loss := _fallback_loss(step.entry, ctx)) is not None:
            return Check(False, keep=f"deleting the entry would change what {arn} can do: {loss}")
        return Check(True, note=f"would delete the entry of {arn} (it falls back to aws-auth)")

    def apply(self, step: DeleteEntry, ctx: RunContext) -> dict[str, Any]:
        ctx.eks.delete_entry(step.principal_arn)
        return {"deleted": True}

    def read_back(self, step: DeleteEntry, ctx: RunContext) -> dict[str, Any]:
        poll_until(
            lambda: ctx.eks.describe_entry(step.principal_arn),
            lambda entry: entry is None,
            ctx,
            what=f"the entry of {step.principal_arn} to be gone",
            read_back=True,
        )
        return {}

    def effect(self, step: DeleteEntry, ctx: RunContext) -> str:
        return f"{step.principal_arn} authenticates through its aws-auth mapping again"


def _missing_policies(planned: AccessEntrySpec, live: AccessEntrySpec) -> bool:
    return bool({_policy_key(p) for p in planned.policies} - {_policy_key(p) for p in live.policies})


def _as_mapped(entry: AccessEntrySpec, ctx: RunContext) -> AccessEntrySpec:
    """The entry with the plan's group conversions (--prefer-access-policies) undone: the identity aws-auth
    gave the principal when the plan was made. Going back to the group never grants more than that: the plan
    converted only when the policy granted exactly, or (accepted) less than, the group's bindings."""
    planned = next((e for e in ctx.plan.entries if e.spec.principal_arn == entry.principal_arn), None)
    if planned is None or not planned.conversions:
        return entry
    policies = {c.policy for c in planned.conversions}
    return dataclasses.replace(
        entry,
        groups=(*entry.groups, *(c.group for c in planned.conversions)),
        policies=tuple(p for p in entry.policies if p not in policies),
    )


def _fallback_loss(entry: AccessEntrySpec, ctx: RunContext) -> str | None:
    """Why the principal would not get exactly its entry's identity from aws-auth once the entry is gone, or
    None. aws-auth is read now, not taken from the plan: it may have been edited or deleted since."""
    config_map = ctx.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
    if config_map is None:
        return "aws-auth is gone, so nothing would authenticate it (restore aws-auth first)"
    try:
        aws_auth = parse_configmap_object(config_map.raw, f"{AWS_AUTH_NAMESPACE}/{AWS_AUTH_NAME}")
    except InputError as error:
        return f"aws-auth cannot be read as the authenticator would ({error})"
    today, via = identity.aws_auth_identity(aws_auth, entry.principal_arn)
    if today is None:
        return "aws-auth no longer maps it, so it would be locked out"
    differences = identity.differences(today, identity.from_entry(_as_mapped(entry, ctx)), node=entry.type.is_node)
    if differences:
        return f"{via} gives it another identity than its entry (entry vs aws-auth: {'; '.join(differences)})"
    return None


class DisassociatePolicyHandler:
    def check(self, step: DisassociatePolicy, ctx: RunContext) -> Check:
        if ctx.mode is AuthMode.API:
            return Check(
                False,
                keep=f"the cluster is in API mode: removing {step.policy.policy_name} from {step.principal} "
                "could lock it out",
            )
        live = ctx.eks.describe_entry(step.principal) if ctx.mode.reads_entries else None
        if live is None or step.policy.policy_arn not in {p.policy_arn for p in live.policies}:
            return Check(False, {"absent": True})
        return Check(True, note=f"would disassociate {step.policy.policy_name}")

    def apply(self, step: DisassociatePolicy, ctx: RunContext) -> dict[str, Any]:
        ctx.eks.disassociate_policy(step.principal, step.policy.policy_arn)
        return {"disassociated": True}

    def read_back(self, step: DisassociatePolicy, ctx: RunContext) -> dict[str, Any]:
        return {}

    def effect(self, step: DisassociatePolicy, ctx: RunContext) -> str:
        return f"{step.principal} loses {step.policy.policy_name}"
