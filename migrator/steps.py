"""One handler per step kind: check (is it done already? is it safe?), apply, read back, undo.

Handlers talk to the cluster only through the gateway Protocols and never touch the journal: the executor
journals around them. `check` is read-only and runs in dry runs too; it raises ConflictError when someone
else's change stands where the step would write, and never overwrites it.

"Ours" vs "adopted": an equivalent entry found by `check` is ours ("recovered") only when the journal says
this step's call may have been made before (a crash between the call and its journal record); otherwise
somebody else made it and it is adopted, which rollback never deletes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tenacity import Retrying, retry_if_result, stop_after_attempt, stop_after_delay, wait_exponential
from tenacity.stop import stop_base

from migrator import identity
from migrator.awsauth import data_sha256
from migrator.errors import ConflictError, RemoteError, StalePlanError, UpdateInProgressError
from migrator.gateway import EksGateway, KubeGateway
from migrator.journal import AwsAuthBackup, JournalState, StepState, load_backup, write_backup
from migrator.lockout import check_verified, entry_key, migrated, projected_entries
from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AuthMode,
    EntryType,
    Plan,
    PolicyAssociation,
    ScopeType,
    Step,
    StepKind,
)
from migrator.observer import StepStatus

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class PollPolicy:
    """How to wait for EKS: exponential backoff from `initial_seconds`, capped at `max_seconds`."""

    initial_seconds: float = 5.0
    max_seconds: float = 30.0
    read_back_attempts: int = 6  # access entries are eventually consistent (a few seconds)
    read_back_seconds: float = 1.0  # first wait of a read-back: 1, 2, 4, 8, 16 s
    max_polls: int | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


class RunContext:
    """What handlers share during one run. `mode` is the cluster's live mode as last seen (set-mode and
    its checks update it); in a dry run it stays the live one, since nothing is switched."""

    def __init__(
        self,
        plan: Plan,
        eks: EksGateway,
        kube: KubeGateway,
        *,
        backup_path: Path,
        poll: PollPolicy,
        timeout_seconds: float,
        dry_run: bool,
        prior: JournalState,
        mode: AuthMode,
        say: Callable[[str], None],
    ) -> None:
        self.plan = plan
        self.eks = eks
        self.kube = kube
        self.backup_path = backup_path
        self.poll = poll
        self.timeout_seconds = timeout_seconds
        self.dry_run = dry_run
        self.prior = prior
        self.mode = mode
        self.say = say
        self.deleting: set[str] = set()  # rollback: principals whose entries are being deleted
        # Entries EKS made at this plan's mode switch (node roles, Fargate, the hidden cluster creator).
        self.eks_created: set[str] = {
            entry_key(arn)
            for step in plan.steps
            if step.kind is StepKind.SET_MODE
            for arn in prior.of(step.id).detail.get("eksCreatedEntries", ())
        }
        # Of those, entries kept although they differ from the plan (journaled as eksCreated on create-entry).
        self.kept: set[str] = {
            entry_key(step.principal_arn or "")
            for step in plan.steps
            if step.kind is StepKind.CREATE_ENTRY and prior.of(step.id).detail.get("eksCreated")
        }
        self._planned = {entry_key(e.spec.principal_arn): e.spec for e in migrated(plan)}

    def planned(self, principal_arn: str | None) -> AccessEntrySpec:
        return self._planned[entry_key(principal_arn or "")]

    def attempted(self, step: Step) -> bool:
        return self.prior.of(step.id).attempted

    def ours_or_adopted(self, step: Step, key: str) -> dict[str, Any]:
        return {"recovered": True, key: True} if self.attempted(step) else {"adopted": True}

    def live_entries(self) -> tuple[AccessEntrySpec, ...]:
        return tuple(self.eks.list_entries()) if self.mode.reads_entries else ()


@dataclass(frozen=True)
class Check:
    todo: bool
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # when not todo: why it is done
    note: str = ""  # when todo: what would be done (dry run)


@dataclass(frozen=True)
class Undo:
    status: StepStatus  # UNDONE or KEPT
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    reason: str = ""


class StepHandler(Protocol):
    def check(self, step: Step, ctx: RunContext) -> Check: ...
    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]: ...
    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]: ...
    def effect(self, step: Step, ctx: RunContext) -> str: ...
    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None: ...


# --- helpers ---------------------------------------------------------------------------------------------


def poll_until(
    read: Callable[[], T], finished: Callable[[T], bool], ctx: RunContext, *, what: str, read_back: bool = False
) -> T:
    """Call `read` with backoff until `finished`; RemoteError naming `what` when time or attempts run out.
    A read-back (eventual consistency) starts shorter and gives up after `read_back_attempts`."""
    stop: stop_base = stop_after_delay(ctx.timeout_seconds)
    limit = ctx.poll.read_back_attempts if read_back else ctx.poll.max_polls
    if limit is not None:
        stop = stop | stop_after_attempt(limit)
    initial = min(ctx.poll.read_back_seconds, ctx.poll.initial_seconds) if read_back else ctx.poll.initial_seconds
    retrying = Retrying(
        retry=retry_if_result(lambda value: not finished(value)),
        wait=wait_exponential(multiplier=initial, max=ctx.poll.max_seconds),
        stop=stop,
        sleep=ctx.poll.sleep,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome is not None else None,
        reraise=True,
    )
    result: T = retrying(read)
    if not finished(result):
        raise RemoteError(f"gave up waiting for {what}", hint="re-run apply: it resumes and waits again")
    return result


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


# --- handlers --------------------------------------------------------------------------------------------


class BackupAwsAuth:
    def check(self, step: Step, ctx: RunContext) -> Check:
        config_map = ctx.kube.read_config_map(step.params["namespace"], step.params["name"])
        sha = data_sha256(config_map.data) if config_map is not None else ""
        if sha != step.params["sha256"]:
            raise StalePlanError(
                f"aws-auth changed since the plan was made (sha256 {step.params['sha256'][:12]} -> {sha[:12]})",
                hint="make a new plan",
            )
        existing = load_backup(ctx.backup_path)
        if existing is not None and existing.sha256 == sha:
            return Check(False, {"already": True, "path": str(ctx.backup_path)})
        return Check(True, note=f"would write {ctx.backup_path}")

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        config_map = ctx.kube.read_config_map(step.params["namespace"], step.params["name"])
        backup = AwsAuthBackup.of(step.params["namespace"], step.params["name"], config_map)
        if backup.sha256 != step.params["sha256"]:
            raise StalePlanError("aws-auth changed while it was being backed up", hint="make a new plan")
        write_backup(ctx.backup_path, backup)
        return {"path": str(ctx.backup_path), "resourceVersion": backup.resource_version, "absent": backup.absent}

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        backup = load_backup(ctx.backup_path)
        if backup is None or backup.sha256 != step.params["sha256"]:
            raise RemoteError(f"the backup {ctx.backup_path} does not read back as written")
        return {"sha256": backup.sha256}

    def effect(self, step: Step, ctx: RunContext) -> str:
        return f"writes {ctx.backup_path} (mode 0600); changes nothing on the cluster"

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        return None  # nothing on the cluster; the backup stays for restoring aws-auth


class SetMode:
    def check(self, step: Step, ctx: RunContext) -> Check:
        target = AuthMode(step.params["mode"])
        live = ctx.eks.describe_cluster().mode
        ctx.mode = live
        if live.rank >= target.rank:
            return Check(False, {"mode": live.value, **({"recovered": True} if ctx.attempted(step) else {})})
        previous = next(m for m in AuthMode if m.next is target)
        return Check(True, note=f"would switch {previous.value} -> {target.value} and wait for EKS")

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        target = AuthMode(step.params["mode"])
        before = {entry_key(e.principal_arn) for e in ctx.live_entries()}
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

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        live = ctx.eks.describe_cluster().mode
        if live.value != step.params["mode"]:
            raise RemoteError(f"EKS reports mode {live.value} after switching to {step.params['mode']}")
        return {}

    def effect(self, step: Step, ctx: RunContext) -> str:
        return step.description

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        if not state.done:
            return None
        return Undo(StepStatus.KEPT, reason=f"EKS cannot leave {step.params['mode']}: mode switches are one way")


def _wait_for_updates(ctx: RunContext) -> None:
    poll_until(lambda: tuple(ctx.eks.in_progress_updates()), lambda ups: not ups, ctx, what="updates in progress")


def _eks_created(ctx: RunContext, before: set[str]) -> dict[str, Any]:
    """The entries EKS made at the switch (node roles, Fargate, the creator): journaled, and remembered so
    that the creator's entry, which the plan could not foresee, is kept rather than taken for a conflict."""
    made = sorted(e.principal_arn for e in ctx.live_entries() if entry_key(e.principal_arn) not in before)
    ctx.eks_created.update(entry_key(arn) for arn in made)
    return {"eksCreatedEntries": made}


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


def _not_ours(state: StepState) -> Undo | None:
    if state.done and state.detail.get("adopted"):
        return Undo(StepStatus.KEPT, {"adopted": True}, "it existed before this run: not ours to undo")
    return None


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
        if entry_key(arn) in ctx.deleting:
            return Undo(StepStatus.UNDONE, {"droppedWithEntry": True})  # DeleteAccessEntry drops associations
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


class RemoveAwsAuth:
    def check(self, step: Step, ctx: RunContext) -> Check:
        config_map = ctx.kube.read_config_map(step.params["namespace"], step.params["name"])
        if config_map is None:
            return Check(False, {"recovered": True} if ctx.attempted(step) else {"already": True})
        if not ctx.dry_run:
            self._backup(ctx)
        if data_sha256(config_map.data) != ctx.plan.fingerprint.aws_auth_sha256:
            raise StalePlanError(
                "aws-auth changed since it was backed up; deleting it would lose those changes",
                hint="make a new plan",
            )
        return Check(True, note="would delete aws-auth (resourceVersion precondition)")

    def _backup(self, ctx: RunContext) -> AwsAuthBackup:
        backup = load_backup(ctx.backup_path)
        if backup is None or backup.sha256 != ctx.plan.fingerprint.aws_auth_sha256:
            raise RemoteError(f"no valid aws-auth backup at {ctx.backup_path}: refusing to delete aws-auth")
        return backup

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        config_map = ctx.kube.read_config_map(step.params["namespace"], step.params["name"])
        if config_map is None:
            return {"already": True}
        if data_sha256(config_map.data) != ctx.plan.fingerprint.aws_auth_sha256:
            raise StalePlanError("aws-auth changed since it was backed up", hint="make a new plan")
        ctx.kube.delete_config_map(config_map)  # fails if written since we read it (resourceVersion)
        return {"deleted": True, "resourceVersion": config_map.resource_version}

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        if ctx.kube.read_config_map(step.params["namespace"], step.params["name"]) is not None:
            raise RemoteError("aws-auth is still there after deleting it")
        return {}

    def effect(self, step: Step, ctx: RunContext) -> str:
        return f"deletes kube-system/aws-auth; `rollback` restores it from {ctx.backup_path}"

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        if not (state.done or state.attempted):
            return None
        namespace, name = step.params["namespace"], step.params["name"]
        backup = self._backup(ctx)
        if backup.data is None:
            return Undo(StepStatus.UNDONE, {"absent": True})  # there was no aws-auth to restore
        current = ctx.kube.read_config_map(namespace, name)
        if current is not None:
            if data_sha256(current.data) == backup.sha256:
                return Undo(StepStatus.UNDONE, {"present": True})
            raise ConflictError(f"{namespace}/{name} was re-created with other content; not overwritten")
        restored = ctx.kube.create_config_map(namespace, name, dict(backup.data))
        if data_sha256(restored.data) != backup.sha256:
            raise RemoteError(f"{namespace}/{name} does not read back as the backup after restoring it")
        return Undo(StepStatus.UNDONE, {"restored": True, "resourceVersion": restored.resource_version})


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
