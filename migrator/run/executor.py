"""Apply a plan, dry-run it, roll it back: one loop that decides whether each step is safe *now*.

The plan decided what to do. Here: refuse a stale plan, skip what the journal says is done, check each step
against the cluster (adopt what is already there, refuse to overwrite what differs, keep what must not be
undone), stop at unapproved gates, refuse a gate that would lock someone out, run independent principals
concurrently, and journal every step before going on. A dry run is the same loop with the writes (cluster
and journal) left out. Rollback is the same loop over the plan's inverse (rollback.py); so is the
compensation that deletes a new entry again when its policies cannot follow.

Around the loop: units.py groups the steps, steps/ has a handler per step kind, record.py keeps what the run
did (statuses, failures, journal records, the report).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from migrator.errors import (
    ClusterLockedError,
    ConflictError,
    ForbiddenError,
    InputError,
    LockoutError,
    MigratorError,
    NotAuthenticatedError,
    StalePlanError,
)
from migrator.model import (
    AWS_AUTH_NAME,
    AWS_AUTH_NAMESPACE,
    AnyStep,
    AssociatePolicy,
    AuthMode,
    CreateEntry,
    DeleteEntry,
    EntryAction,
    Plan,
    RepairNodeEntry,
    SetMode,
    Snapshot,
)
from migrator.ports import ConfigMapState, EksGateway, KubeGateway
from migrator.rules.arn import entry_key
from migrator.run.backup import BackupSlot
from migrator.run.freshness import (
    check_same_cluster,
    config_map_seen,
    raise_if_stale,
    refuse_aws_auth_drift,
    resume_problems,
    stale_problems,
)
from migrator.run.interrupts import InterruptGuard
from migrator.run.journal import Event, Journal, JournalState, StepState
from migrator.run.observer import (
    RESUME,
    ROLLBACK,
    Answer,
    NextAction,
    NextKind,
    NullObserver,
    Observer,
    Prompter,
    RunReport,
    RunResult,
    StepStatus,
)
from migrator.run.record import RunRecord
from migrator.run.rollback import Keep, inverse_plan
from migrator.run.safety import check_api_gate, projected_entries
from migrator.run.settings import RunSettings
from migrator.run.steps import handler_for
from migrator.run.steps.context import RunContext
from migrator.run.units import Unit, build_units, steps_until, waves

# build_units and waves are imported from here by the tests.
__all__ = ["Executor", "Unit", "build_units", "waves"]


class Executor:
    def __init__(
        self,
        plan: Plan,
        eks: EksGateway,
        kube: KubeGateway,
        journal: Journal,
        *,
        plan_id: str,
        backup: BackupSlot,
        settings: RunSettings = RunSettings(),
        observer: Observer | None = None,
        prompter: Prompter | None = None,
        lease_lost: Callable[[], str | None] | None = None,
    ) -> None:
        if settings.max_concurrency < 1:
            raise InputError("--max-concurrency must be at least 1")
        self.plan = plan
        self.plan_id = plan_id
        self.settings = settings
        self.eks = eks
        self.kube = kube
        self.journal = journal
        self.observer: Observer = observer or NullObserver()
        self.prompter = prompter
        self.dry_run = settings.dry_run
        self.poll = settings.poll
        self.backup = backup
        self._runnable = steps_until(plan.steps, settings.until)
        self._record = RunRecord(plan, self.plan_id, journal, self.observer, dry_run=self.dry_run)
        self._stop: tuple[RunResult, str, tuple[NextAction, ...]] | None = None  # why it stopped; under lock
        # The operation whose run-started record is written (early, when a resume or rollback repairs first).
        self._started: str | None = None
        self._interrupts = InterruptGuard(self._record.say)
        self._calls_made: set[str] = set()  # plan steps whose mutating call this run made (or may have)
        self._aws_auth_watch = AwsAuthWatch(plan, kube, self.poll.clock)
        # Set from another thread (a fleet run's main thread, where signals arrive) to interrupt this run as
        # Ctrl-C interrupts a single apply: between units, never inside one.
        self._stop_requested = settings.stop
        # Why the cluster's Lease is lost (None while held): another run may be changing the cluster, so this
        # one stops before its next unit (the one in flight finishes, as on Ctrl-C), exit 7, resumable.
        self._lease_lost = lease_lost
        self._lost: ClusterLockedError | None = None  # set once the loss stopped the run; under the record's lock

    # --- apply -------------------------------------------------------------------------------------------

    def apply(self, *, fresh: Snapshot | None = None) -> RunReport:
        """`fresh`: the cluster as just read for this run (apply planned it again), so that the stale check
        before a plan's first step need not read it a second time."""
        if self.plan.offline:
            raise InputError("this plan was made offline, for review: it cannot be applied")
        prior = self._record.read_journal()
        if self.plan.steps and prior.all_done(s.id for s in self.plan.steps):
            return self._record.report(RunResult.NOTHING_TO_DO, "every step of this plan is done", prior=prior)
        if not self.plan.steps:
            return self._record.report(RunResult.NOTHING_TO_DO, "the plan has no steps", prior=prior)
        holders: Mapping[str, frozenset[str]] | None = None
        if fresh is not None and not prior.any_progress:
            check_same_cluster(self.plan, fresh.cluster)
            raise_if_stale(stale_problems(self.plan, fresh.mode, config_map_seen(fresh), fresh.entries), self.plan)
            mode, listed = fresh.mode, [e.principal_arn for e in fresh.entries]
        else:
            info = self.eks.describe_cluster()
            check_same_cluster(self.plan, info)
            mode = info.mode
            if prior.any_progress:
                prior, config_map = self._aws_auth_on_resume(prior, mode)
                raise_if_stale(resume_problems(self.plan, prior, info.mode, config_map), self.plan)
                # Done steps are re-checked against one listing, not a describe each (run/steps/entries.py).
                listed = list(self.eks.list_entry_arns()) if mode.reads_entries else []
                if mode.reads_entries and _has_done_policies(self.plan, prior):
                    holders = self.eks.policy_holders()
            else:
                config_map = self.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
                entries = tuple(self.eks.list_entries()) if info.mode.reads_entries else ()
                raise_if_stale(stale_problems(self.plan, info.mode, config_map, entries), self.plan)
                listed = [e.principal_arn for e in entries]
        ctx = self._context(prior, mode, {entry_key(arn) for arn in listed}, holders)
        if self._started != "apply":
            self._record.start("apply", len(self.plan.steps))
        try:
            with self._interrupts.sigterm_as_ctrl_c():
                self._run_all(ctx)
        except KeyboardInterrupt:
            self._record.finish(RunResult.INTERRUPTED)
            raise
        report = self._outcome(prior)
        self._record.finish(report.result, failures=list(report.failures))
        if self._lost is not None:  # nothing more, not even a rollback on failure: the cluster is not ours now
            return report if report.error is not None else dataclasses.replace(report, error=self._lost)
        if report.result is RunResult.FAILED and self.settings.rollback_on_failure and not self.dry_run:
            return self._rolled_back_after(report)
        return report

    def _aws_auth_on_resume(self, prior: JournalState, mode: AuthMode) -> tuple[JournalState, ConfigMapState | None]:
        """aws-auth as a resumed run first reads it, after finishing what a killed run left half done if the
        cluster refuses us (`_recover_refused`)."""
        try:
            return prior, self.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
        except (ForbiddenError, NotAuthenticatedError) as refused:
            prior = self._recover_refused(prior, mode, refused, "apply")
            return prior, self.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)

    def _recover_refused(
        self, prior: JournalState, mode: AuthMode, refused: MigratorError, operation: str
    ) -> JournalState:
        """Undo, from EKS alone, the principals a killed run left half done, because the cluster refuses us
        (`refused`, re-raised when there are none); the journal as it is then.

        A run killed (SIGKILL, power loss) between a create-entry and its policies, or while its create call
        was in flight (journaled started, not done), may leave that principal a bare entry, which grants no
        Kubernetes access on EKS. When that principal is the runner itself, every Kubernetes read answers
        401/403, and neither a resume nor a rollback could reach the step that fixes it. Those units need
        EKS only. An entry that exists for a create journaled started was made by that call. Apply and
        rollback alike delete each such entry, undoing the unit, without comparing it with aws-auth, which
        cannot be read: deleting it gives the principal back its aws-auth mapping, as before the unit, while
        finishing it (its policies) before aws-auth is read could grant what an admin has since revoked there.
        Each step goes through the one step loop, with its journal. Only then, as always, does the run read
        Kubernetes and compare the cluster with the plan; a resumed apply then makes the units again through
        the loop and its checks, or stops as stale if aws-auth changed."""
        ctx = self._context(prior, mode)
        interrupted = [
            unit
            for unit in build_units(self.plan.steps)
            if not self.dry_run and mode.reads_entries and _interrupted(unit, prior) and self._recoverable(unit, prior)
        ]
        if not interrupted:
            raise refused
        self._record.say(
            f"the cluster refuses us ({refused}); first deleting the entries of {len(interrupted)} principal(s) a "
            "killed run left with an entry but without its policies"
        )
        self._record.start(operation, len(self.plan.steps))
        self._started = operation
        for unit in interrupted:
            with self._interrupts.hold(f"the steps of {unit.steps[0].principal_arn}"):
                if not self._undo_half_made(ctx, unit):
                    # The step's own error (a conflict, an EKS error) says more than the cluster's refusal.
                    failed = self._record.failures[-1][1] if self._record.failures else refused
                    self._record.finish(RunResult.FAILED, failures=[str(failed)])
                    raise failed from None
        return self._record.read_journal()

    def _recoverable(self, unit: Unit, prior: JournalState) -> bool:
        """Is the interrupted unit's entry ours to delete? Only what this plan made (or was making)."""
        first = unit.steps[0]
        assert isinstance(first, CreateEntry)
        state = prior.of(first.id)
        return state.created or state.attempted

    def _undo_half_made(self, ctx: RunContext, unit: Unit) -> bool:
        first = unit.steps[0]
        assert isinstance(first, CreateEntry)
        done_policies = tuple(s.id for s in unit.steps[1:] if ctx.prior.of(s.id).done)
        ctx.half_made.add(entry_key(first.principal_arn))
        inverse = DeleteEntry(f"undo-{first.id}", first.id, first.entry, done_policies)
        return self._run_step(ctx, inverse) and self._record.status_of(first.id) is StepStatus.UNDONE

    def _context(
        self,
        prior: JournalState,
        mode: AuthMode,
        listed: set[str] | None = None,
        holders: Mapping[str, frozenset[str]] | None = None,
    ) -> RunContext:
        return RunContext(
            self.plan,
            self.eks,
            self.kube,
            backup=self.backup,
            poll=self.poll,
            timeout_seconds=self.settings.timeout_seconds,
            dry_run=self.dry_run,
            prior=prior,
            mode=mode,
            say=self._record.say,
            listed=listed,
            holders=holders,
            accept_managed_aws_auth=self.settings.accept_managed_aws_auth,
        )

    def _run_all(self, ctx: RunContext) -> None:
        auto = self.prompter is None  # interactive runs ask per unit until "all in this phase"
        for wave in waves(build_units(self._runnable)):
            if self._stopped():
                return
            if wave[0].steps[0].gate:
                auto = self.prompter is None  # a gate ends the phase
            index = 0
            while index < len(wave) and not auto and not self.dry_run:
                unit = wave[index]
                if self._all_done(ctx, unit) or unit.steps[0].gate:
                    self._run_unit(ctx, unit)
                else:
                    answer = self._ask(ctx, unit)
                    if answer is Answer.ALL_IN_PHASE:
                        auto = True
                        break
                    if answer is not Answer.YES:
                        self._user_stop(unit, answer)
                        return
                    self._run_unit(ctx, unit)
                index += 1
                if self._stopped():
                    return
            self._run_concurrently(ctx, wave[index:])

    def _ask(self, ctx: RunContext, unit: Unit) -> Answer:
        assert self.prompter is not None
        steps = [s for s in unit.steps if not ctx.prior.of(s.id).done]
        return self.prompter.confirm_steps(steps, [handler_for(s).effect(s, ctx) for s in steps])

    def _user_stop(self, unit: Unit, answer: Answer) -> None:
        if answer is Answer.SKIP_AND_STOP:
            for step in unit.steps:
                self._record.mark(step, StepStatus.SKIPPED)
        self._stop = (RunResult.STOPPED, f"stopped on request before {unit.steps[0].id}", (RESUME,))

    def _run_concurrently(self, ctx: RunContext, units: Sequence[Unit]) -> None:
        queue = list(units)
        if len(queue) <= 1 or self.settings.max_concurrency == 1:
            for unit in queue:
                if self._stopped():
                    return
                self._run_unit(ctx, unit)
            return
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency, thread_name_prefix="unit") as pool:
            running: set[Future[None]] = set()
            try:
                while queue or running:
                    while queue and len(running) < self.settings.max_concurrency and not self._stopped():
                        running.add(pool.submit(self._run_unit, ctx, queue.pop(0)))
                    if not running:
                        return
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
            except BaseException:
                # Ctrl-C (or a crash in a worker): schedule nothing more, but let running units finish, so
                # no entry we created is left without its policies by our own hand.
                wait(running)
                raise

    def _all_done(self, ctx: RunContext, unit: Unit) -> bool:
        return all(ctx.prior.of(s.id).done for s in unit.steps)

    def _stopped(self) -> bool:
        if self._stop_requested is not None and self._stop_requested.is_set():
            raise KeyboardInterrupt  # what Ctrl-C raises here in a single apply: the units in flight finish first
        if not self._lease_held(RESUME):
            return True
        with self._record.lock:
            return self._stop is not None or (bool(self._record.failures) and not self.dry_run)

    def _lease_held(self, next_action: NextAction) -> bool:
        """False (and the run's stop recorded) once the cluster's Lease is lost."""
        why = self._lease_lost() if self._lease_lost is not None else None
        if why is None:
            return True
        with self._record.lock:
            if self._lost is None:
                self._lost = ClusterLockedError(
                    f"{why}; stopped before the next step, the journal holds where",
                    hint="make sure no other run is changing this cluster, then run the same command again: it "
                    "resumes from the journal",
                )
                self._stop = (RunResult.STOPPED, f"stopped: {why}", (next_action,))
        return False

    def _run_unit(self, ctx: RunContext, unit: Unit) -> None:
        with self._interrupts.hold(f"the steps of {unit.steps[0].principal_arn or unit.steps[0].id}"):
            first = unit.steps[0]
            untouched = not (ctx.prior.of(first.id).done or ctx.prior.of(first.id).attempted)
            # A unit whose entry exists already is finished, not refused: that would leave it bare for good.
            if isinstance(first, CreateEntry | RepairNodeEntry) and untouched:
                try:
                    self._aws_auth_watch.check(ctx.prior)
                except StalePlanError as error:
                    self._fail(unit.steps[0], error, started=False)
                    return
            for step in unit.steps:
                if not self._run_step(ctx, step):
                    if not self.dry_run:
                        self._compensate(ctx, unit, step)
                    return

    # --- the one step loop: plan steps and inverse steps alike --------------------------------------------

    def _run_step(self, ctx: RunContext, step: AnyStep, **extra: Any) -> bool:
        """Check, apply, read back, journal. False when the step failed or the run must stop here."""
        inverse = step.undoes is not None
        state = ctx.prior.of(step.id)
        handler = handler_for(step)
        if not inverse and state.done and not isinstance(step, CreateEntry | AssociatePolicy):
            self._record.mark(step, StepStatus.DONE, dict(state.detail))
            return True
        self._record.mark(step, StepStatus.RUNNING)
        started = False
        try:
            check = handler.check(step, ctx)
            if not inverse and state.done:
                if not check.todo:
                    self._record.mark(step, StepStatus.DONE, dict(state.detail))
                    return True
                assert isinstance(step, CreateEntry | AssociatePolicy)  # the only kinds re-checked once done
                if ctx.mode is AuthMode.API:  # entries alone decide access now: a removal was meant
                    self._record.say(
                        f"what {step.id} made for {step.principal_arn} was removed in API mode, where entries alone "
                        "decide access: not made again (make a new plan if that was not meant)"
                    )
                    self._record.mark(step, StepStatus.DONE, {**state.detail, "removedSince": True})
                    return True
                self._redo(step, state)
            if check.keep:
                self._kept(step, check.keep)
                return True
            if not check.todo:
                self._finished(step, {**check.detail, **extra}, applied=inverse)
                return True
            if isinstance(step, SetMode) and not self._pass_gate(ctx, step, check.note):
                return False
            if self.dry_run:
                self._record.mark(step, StepStatus.WOULD_RUN, {"note": check.note} if check.note else {})
                return True
            if not inverse:  # an undo needs no mark: its plan step's own record still says what was done
                self._record.journal(Event.STEP_STARTED, step.id, **check.started)
                started = True
                with self._record.lock:
                    self._calls_made.add(step.id)
            detail = handler.apply(step, ctx)
            detail.update(handler.read_back(step, ctx))
        except Exception as error:
            # A journaled step whose re-check failed keeps its record: it still says what this plan did.
            self._fail(step, error, started, journal=not (not inverse and state.done))
            return False
        self._finished(step, {**detail, **extra}, applied=True)
        return True

    def _redo(self, step: CreateEntry | AssociatePolicy, state: StepState) -> None:
        """A journaled entry or policy is gone from the cluster: someone removed it since this plan made it.
        Made again when it was ours (a principal whose entry is gone has lost what the plan gave it); one
        this plan adopted was somebody else's, so the run stops and says what to do."""
        what = "the entry" if isinstance(step, CreateEntry) else f"{step.policy.policy_name} on the entry"
        if not state.created:
            raise ConflictError(
                f"{what} of {step.principal_arn} was there when this plan adopted it ({step.id}) and is gone now",
                hint="make a new plan: it sees the cluster as it is now",
            )
        self._record.say(f"{what} of {step.principal_arn} was removed since {step.id} made it: making it again")

    def _finished(self, step: AnyStep, detail: dict[str, Any], *, applied: bool) -> None:
        if step.undoes is None:
            self._record.journal(Event.STEP_DONE, step.id, **detail)
            status = StepStatus.DONE
        else:
            self._record.journal(Event.STEP_UNDONE, step.undoes, **detail)
            status = StepStatus.UNDONE
            for policy_step_id in step.dropped if isinstance(step, DeleteEntry) else ():
                self._record.journal(Event.STEP_UNDONE, policy_step_id, droppedWithEntry=True)
                self._record.mark(self.plan.step(policy_step_id), StepStatus.UNDONE, {"droppedWithEntry": True})
        if applied:
            self._record.count_applied()
        self._record.mark(step, status, detail)

    def _kept(self, step: AnyStep, reason: str) -> None:
        self._record.mark(step, StepStatus.KEPT, {"reason": reason})
        self._keep_dropped(step, f"its entry was kept: {reason}")

    def _keep_dropped(self, step: AnyStep, reason: str) -> None:
        """The policies that would have gone with an entry stay when the entry stays."""
        for policy_step_id in step.dropped if isinstance(step, DeleteEntry) else ():
            self._record.mark(self.plan.step(policy_step_id), StepStatus.KEPT, {"reason": reason})

    def _fail(self, step: AnyStep, error: BaseException, started: bool, *, journal: bool = True) -> None:
        if step.undoes is None and journal:  # a failed undo leaves the plan step's record as it was: still ours to undo
            exit_code = error.exit_code if isinstance(error, MigratorError) else 1
            self._record.journal(Event.STEP_FAILED, step.id, error=str(error), exitCode=exit_code, callMade=started)
        self._record.fail(step, error)
        self._keep_dropped(step, "its entry was not deleted")

    def _pass_gate(self, ctx: RunContext, step: SetMode, note: str) -> bool:
        mode = step.mode
        config_map = self.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)  # right before: it can change
        refuse_aws_auth_drift(self.plan, ctx.prior, config_map, f"pass gate {step.id} into {mode.value}")
        if blockers := self.plan.gate_blockers(step):
            raise LockoutError(
                f"gate {step.id} ({mode.value}) is blocked by the plan's findings:\n"
                + "\n".join(f"  - {f.code}: {f.message}" for f in blockers),
                hint="resolve the blockers and make a new plan (a plan made after the first gate also sees the entries "
                "EKS created then, such as the cluster creator's); the steps before the gate are safe to keep",
            )
        if mode is AuthMode.API:
            live = ctx.live_entries()
            check_api_gate(
                self.plan,
                projected_entries(self.plan, live) if self.dry_run else live,
                self.eks.caller_arn(),
                ctx.kept,
            )
        if self.dry_run:
            approval = "approved" if mode in self.settings.approvals else f"needs --approve-gate {mode.value}"
            self._record.mark(step, StepStatus.WOULD_RUN, {"note": note, "gate": approval})
            return False  # nothing to run; the dry run goes on past the gate
        if mode in self.settings.approvals:
            return True
        if self.prompter is not None and self.prompter.confirm_gate(
            step, self.gate_consequences(step), self.plan.cluster.name
        ):
            return True
        self._record.journal(Event.GATE_WAITING, step.id, mode=mode.value)
        self._record.mark(step, StepStatus.WAITING)
        with self._record.lock:
            self._stop = (
                RunResult.STOPPED_AT_GATE,
                f"stopped in front of gate {step.id}: {step.describe()}. {_sentence(step.consequence())}",
                (NextAction(NextKind.APPROVE_GATE, mode),),
            )
        return False

    def gate_consequences(self, step: SetMode) -> list[str]:
        lines = [step.consequence()]
        if step.mode is AuthMode.API:
            lost = [e.spec.principal_arn for e in self.plan.entries if e.action is EntryAction.SKIP]
            if lost:
                lines.append("these aws-auth mappings are not migrated and stop working: " + ", ".join(lost))
        else:
            lines.append("EKS creates access entries for node group and Fargate roles itself")
        return lines

    def _compensate(self, ctx: RunContext, unit: Unit, failed: AnyStep) -> None:
        """An entry created in this unit whose policies could not follow is deleted again, through its inverse
        step: a bare entry would replace the principal's aws-auth identity with less (a system:masters user
        locked out). So is one whose create call was made but failed after (a read-back that timed out, an
        answer lost): the inverse's check finds out whether it exists. Its policies associated before the
        failure go with it, so a resumed run redoes them."""
        first = unit.steps[0]
        if not isinstance(first, CreateEntry):
            return
        with self._record.lock:
            status, detail = self._record.statuses.get(first.id, (StepStatus.PENDING, {}))
            called = first.id in self._calls_made
        if first is failed:
            error = next((e for s, e in self._record.failures if s is first), None)
            if not called or isinstance(error, ConflictError):  # no entry of ours: none, or somebody else's
                return
            try:
                if ctx.eks.describe_entry(first.principal_arn) is None:  # the call did not make it
                    return
            except MigratorError as lookup:
                self._record.say(f"could not tell whether the entry of {first.principal_arn} exists: {lookup}")
                return
        elif status is not StepStatus.DONE or not detail.get("created"):
            return
        done_policies = tuple(
            s.id for s in unit.steps[1:] if self._record.status_of(s.id) is StepStatus.DONE or ctx.prior.of(s.id).done
        )
        inverse = DeleteEntry(f"undo-{first.id}", first.id, first.entry, done_policies)
        if self._run_step(ctx, inverse, compensated=True):
            if self._record.status_of(first.id) is StepStatus.UNDONE:
                self._record.say(f"deleted the new entry of {first.principal_arn} again: its policies could not follow")
        else:
            self._record.say(f"could not delete the bare entry of {first.principal_arn}; re-run apply soon")

    # --- rollback ----------------------------------------------------------------------------------------

    def rollback(self) -> RunReport:
        """Undo, newest first, what this plan's runs did, through the same loop (a dry run checks only)."""
        prior = self._record.read_journal()
        items = inverse_plan(self.plan, prior)
        if not items:
            return self._record.report(
                RunResult.NOTHING_TO_DO, "nothing of this plan was done: nothing to undo", prior=prior
            )
        info = self.eks.describe_cluster()
        check_same_cluster(self.plan, info)
        half_made = any(_interrupted(unit, prior) for unit in build_units(self.plan.steps))
        if half_made and info.mode is AuthMode.API_AND_CONFIG_MAP and not self.dry_run:
            try:  # each undo of an entry reads aws-auth: a killed run may have left the runner a bare entry
                self.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
            except (ForbiddenError, NotAuthenticatedError) as refused:
                prior = self._recover_refused(prior, info.mode, refused, "rollback")
                items = inverse_plan(self.plan, prior)
        ctx = self._context(prior, info.mode)
        if self._started != "rollback":
            self._record.start("rollback", len(items))
        try:
            with self._interrupts.sigterm_as_ctrl_c():
                for item in items:
                    if not self._lease_held(ROLLBACK):
                        break
                    if isinstance(item, Keep):
                        self._record.mark(item.step, StepStatus.KEPT, {**item.detail, "reason": item.reason})
                    else:
                        with self._interrupts.hold(f"undoing {item.record_id}"):
                            self._run_step(ctx, item)
        except KeyboardInterrupt:
            self._record.finish(RunResult.INTERRUPTED)
            raise
        report = self._rollback_outcome(prior)
        self._record.finish(report.result, failures=list(report.failures))
        return report

    def _rolled_back_after(self, failed: RunReport) -> RunReport:
        self.observer.on_message("apply failed: rolling back what this plan did")
        self._record.reset()
        undone = self.rollback()
        result = RunResult.ROLLED_BACK if undone.result is not RunResult.FAILED else RunResult.FAILED
        return RunReport(
            plan_id=self.plan_id,
            cluster=self.plan.cluster.name,
            result=result,
            steps=undone.steps,
            message=f"{failed.message}; then {undone.message}",
            failures=failed.failures + undone.failures,
            error=failed.error,
        )

    def _rollback_outcome(self, prior: JournalState) -> RunReport:
        with self._record.lock:
            kept = sum(1 for status, _ in self._record.statuses.values() if status is StepStatus.KEPT)
            would = sum(1 for status, _ in self._record.statuses.values() if status is StepStatus.WOULD_RUN)
        if self._record.failures:
            return self._record.report(RunResult.FAILED, "rollback could not undo everything", prior=prior)
        if self._lost is not None and self._stop is not None:
            result, message, next_actions = self._stop
            return dataclasses.replace(
                self._record.report(result, message, next_actions, prior=prior), error=self._lost
            )
        kept_text = f"; kept {kept} step(s) that cannot safely be undone (each says why)" if kept else ""
        if self.dry_run:
            result = RunResult.COMPLETED if would else RunResult.NOTHING_TO_DO
            return self._record.report(
                result, f"dry run: {would} step(s) would be undone{kept_text}; nothing changed", prior=prior
            )
        if not self._record.applied:
            return self._record.report(RunResult.NOTHING_TO_DO, f"nothing left to undo{kept_text}", prior=prior)
        return self._record.report(
            RunResult.ROLLED_BACK, f"rolled back {self._record.applied} step(s){kept_text}", prior=prior
        )

    # --- outcome -----------------------------------------------------------------------------------------

    def _outcome(self, prior: JournalState) -> RunReport:
        if self._record.failures:
            first = self._record.failures[0][1]
            undoable = isinstance(first, ConflictError | LockoutError | StalePlanError)
            return self._record.report(
                RunResult.FAILED,
                f"{len(self._record.failures)} step(s) failed",
                (RESUME, ROLLBACK) if undoable else (RESUME,),
                prior=prior,
            )
        if self._stop is not None:
            result, message, next_actions = self._stop
            return self._record.report(result, message, next_actions, prior=prior)
        if len(self._runnable) < len(self.plan.steps) and not self.dry_run:
            last = self._runnable[-1].id
            return self._record.report(
                RunResult.STOPPED, f"stopped after {last} as asked (--until)", (RESUME,), prior=prior
            )
        would = sum(1 for status, _ in self._record.statuses.values() if status is StepStatus.WOULD_RUN)
        if self.dry_run:
            if not would:
                return self._record.report(RunResult.NOTHING_TO_DO, "dry run: every step is done already", prior=prior)
            return self._record.report(
                RunResult.COMPLETED, f"dry run: {would} step(s) would run; nothing changed", prior=prior
            )
        if not self._record.applied:
            return self._record.report(RunResult.NOTHING_TO_DO, "everything was in place already", prior=prior)
        message = f"applied {self._record.applied} step(s); {self.plan.cluster.name} is in {self.plan.target.value}"
        return self._record.report(RunResult.COMPLETED, message, prior=prior)


class AwsAuthWatch:
    """Is aws-auth still the one the plan was made from, before an entry replaces a principal's mapping? An
    entry made from a mapping that changed meanwhile (a revocation during the first switch) would give what
    aws-auth no longer gives. Read before the first entry and then at most every `every` seconds, shared by
    the workers: each read is the whole ConfigMap, and thousands of them would cost more than the migration."""

    def __init__(self, plan: Plan, kube: KubeGateway, clock: Callable[[], float], every: float = 10.0) -> None:
        self._plan, self._kube, self._clock, self._every = plan, kube, clock, every
        self._lock = threading.Lock()
        self._checked_at: float | None = None

    def check(self, prior: JournalState) -> None:
        with self._lock:
            now = self._clock()
            if self._checked_at is not None and now - self._checked_at < self._every:
                return
            config_map = self._kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
            refuse_aws_auth_drift(self._plan, prior, config_map, "create access entries from the plan's mappings")
            self._checked_at = now


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _has_done_policies(plan: Plan, prior: JournalState) -> bool:
    """Did a run of this plan finish an associate-policy step (which a resume re-checks)?"""
    return any(isinstance(step, AssociatePolicy) and prior.of(step.id).done for step in plan.steps)


def _interrupted(unit: Unit, prior: JournalState) -> bool:
    """A unit whose entry a previous run created, or may have (its create journaled started, not done), but
    whose policies it did not all associate."""
    first = unit.steps[0]
    return (
        isinstance(first, CreateEntry)
        and (prior.of(first.id).done or prior.of(first.id).attempted)
        and any(not prior.of(step.id).done for step in unit.steps[1:])
    )
