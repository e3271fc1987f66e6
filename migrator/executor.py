"""Apply (or dry-run, or roll back) a plan: one loop that decides whether each step is safe *now*.

The plan decided what to do. Here: refuse a stale plan, skip what the journal says is done, check each step
against the cluster (adopt what is already there, refuse to overwrite what differs), stop at unapproved
gates, refuse a gate that would lock someone out, run independent principals concurrently, and journal
every step before going on. A dry run is the same loop with the writes (cluster and journal) left out.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator import __version__
from migrator.errors import ConflictError, InputError, LockoutError, MigratorError, StalePlanError
from migrator.gateway import EksGateway, KubeGateway
from migrator.journal import Event, Journal, JournalState, backup_path, read_state
from migrator.lockout import (
    check_api_gate,
    check_same_cluster,
    entry_key,
    projected_entries,
    raise_if_stale,
    resume_problems,
    stale_problems,
)
from migrator.model import AuthMode, EntryAction, Plan, Step, StepKind
from migrator.observer import (
    Answer,
    NullObserver,
    Observer,
    Prompter,
    RunReport,
    RunResult,
    StepReport,
    StepStatus,
    status_of_phase,
)
from migrator.planfile import plan_to_dict
from migrator.planned_steps import AWS_AUTH_NAME, AWS_AUTH_NAMESPACE
from migrator.render import gate_consequence
from migrator.steps import PollPolicy, RunContext, handler_for

PARALLEL_KINDS = frozenset({StepKind.CREATE_ENTRY, StepKind.ASSOCIATE_POLICY, StepKind.REPAIR_NODE_ENTRY})


@dataclass(frozen=True)
class Unit:
    """Steps that run back to back in one thread: an entry and its policies (an entry replaces the
    principal's aws-auth mapping at once, so its policies must follow immediately), or one lone step."""

    steps: tuple[Step, ...]

    @property
    def parallel(self) -> bool:
        return self.steps[0].kind in PARALLEL_KINDS


def build_units(steps: Sequence[Step]) -> list[Unit]:
    units: list[Unit] = []
    for step in steps:
        last = units[-1].steps if units else ()
        if (
            step.kind is StepKind.ASSOCIATE_POLICY
            and last
            and last[0].kind is StepKind.CREATE_ENTRY
            and entry_key(last[0].principal_arn or "") == entry_key(step.principal_arn or "")
        ):
            units[-1] = Unit((*last, step))
        else:
            units.append(Unit((step,)))
    return units


def waves(units: Sequence[Unit]) -> list[list[Unit]]:
    """Consecutive independent units form one wave; every other step is a wave of its own (a barrier)."""
    grouped: list[list[Unit]] = []
    for unit in units:
        if unit.parallel and grouped and grouped[-1][0].parallel:
            grouped[-1].append(unit)
        else:
            grouped.append([unit])
    return grouped


class Executor:
    def __init__(
        self,
        plan: Plan,
        eks: EksGateway,
        kube: KubeGateway,
        journal: Journal,
        *,
        observer: Observer | None = None,
        max_concurrency: int = 8,
        approvals: frozenset[AuthMode] = frozenset(),
        prompter: Prompter | None = None,
        dry_run: bool = False,
        timeout_seconds: float = 1800.0,
        poll: PollPolicy | None = None,
        backup_dir: Path | None = None,
        plan_label: str = "PLAN",
        until: str | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise InputError("--max-concurrency must be at least 1")
        self.plan = plan
        self.plan_id = str(plan_to_dict(plan)["planId"])
        self.eks = eks
        self.kube = kube
        self.journal = journal
        self.observer: Observer = observer or NullObserver()
        self.max_concurrency = max_concurrency
        self.approvals = approvals
        self.prompter = prompter
        self.dry_run = dry_run
        self.timeout_seconds = timeout_seconds
        self.poll = poll or PollPolicy()
        self.backup_path = backup_path(backup_dir or journal.path.parent, self.plan_id)
        self.plan_label = plan_label
        self.until = until
        self._runnable = _steps_until(plan.steps, until)
        self._lock = threading.Lock()  # guards the fields below and serializes observer calls
        self._statuses: dict[str, tuple[StepStatus, dict[str, Any]]] = {}
        self._failures: list[tuple[Step, BaseException]] = []
        self._stop: tuple[RunResult, str, str | None] | None = None
        self._applied = 0

    # --- apply -------------------------------------------------------------------------------------------

    def apply(self, *, rollback_on_failure: bool = False) -> RunReport:
        if self.plan.offline:
            raise InputError(
                "this plan was made offline, for review: it cannot be applied",
                hint=f"plan against the cluster: aws-auth-migrate plan --cluster {self.plan.cluster.name}",
            )
        prior = self._read_journal()
        if self.plan.steps and prior.all_done(s.id for s in self.plan.steps):
            return self._report(RunResult.NOTHING_TO_DO, "every step of this plan is done", prior=prior)
        if not self.plan.steps:
            return self._report(RunResult.NOTHING_TO_DO, "the plan has no steps", prior=prior)
        info = self.eks.describe_cluster()
        check_same_cluster(self.plan, info)
        config_map = self.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
        if prior.any_progress:
            raise_if_stale(resume_problems(self.plan, prior, info.mode, config_map), self.plan)
        else:
            entries = tuple(self.eks.list_entries()) if info.mode.reads_entries else ()
            raise_if_stale(stale_problems(self.plan, info.mode, config_map, entries), self.plan)
        ctx = self._context(prior, info.mode)
        self._journal(Event.RUN_STARTED, operation="apply", **_who())
        self.observer.on_start(len(self.plan.steps))
        try:
            self._run_all(ctx)
        except KeyboardInterrupt:
            self._journal(Event.RUN_FINISHED, result=RunResult.INTERRUPTED.value)
            self.journal.close()
            raise
        report = self._outcome(prior)
        self._journal(Event.RUN_FINISHED, result=report.result.value, failures=list(report.failures))
        self.journal.close()
        if report.result is RunResult.FAILED and rollback_on_failure and not self.dry_run:
            return self._rolled_back_after(report)
        return report

    def _context(self, prior: JournalState, mode: AuthMode) -> RunContext:
        return RunContext(
            self.plan,
            self.eks,
            self.kube,
            backup_path=self.backup_path,
            poll=self.poll,
            timeout_seconds=self.timeout_seconds,
            dry_run=self.dry_run,
            prior=prior,
            mode=mode,
            say=self._say,
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
                self._set(step, StepStatus.SKIPPED)
        self._stop = (RunResult.STOPPED, f"stopped on request before {unit.steps[0].id}", self._resume_command())

    def _run_concurrently(self, ctx: RunContext, units: Sequence[Unit]) -> None:
        queue = list(units)
        if len(queue) <= 1 or self.max_concurrency == 1:
            for unit in queue:
                if self._stopped():
                    return
                self._run_unit(ctx, unit)
            return
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="unit") as pool:
            running: set[Future[None]] = set()
            try:
                while queue or running:
                    while queue and len(running) < self.max_concurrency and not self._stopped():
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
        with self._lock:
            return self._stop is not None or (bool(self._failures) and not self.dry_run)

    def _run_unit(self, ctx: RunContext, unit: Unit) -> None:
        for step in unit.steps:
            if not self._run_step(ctx, step):
                if not self.dry_run:
                    self._compensate(ctx, unit, step)
                return

    def _run_step(self, ctx: RunContext, step: Step) -> bool:
        """Check, apply, read back, journal. False when the step failed or the run must stop here."""
        state = ctx.prior.of(step.id)
        if state.done:
            self._set(step, StepStatus.DONE, dict(state.detail))
            return True
        handler = handler_for(step)
        self._set(step, StepStatus.RUNNING)
        started = False
        try:
            check = handler.check(step, ctx)
            if not check.todo:
                self._journal(Event.STEP_DONE, step.id, **check.detail)
                self._set(step, StepStatus.DONE, dict(check.detail))
                return True
            if step.gate and not self._pass_gate(ctx, step, check.note):
                return False
            if self.dry_run:
                self._set(step, StepStatus.WOULD_RUN, {"note": check.note} if check.note else {})
                return True
            self._journal(Event.STEP_STARTED, step.id)
            started = True
            detail = handler.apply(step, ctx)
            detail.update(handler.read_back(step, ctx))
        except Exception as error:
            self._fail(step, error, started)
            return False
        self._journal(Event.STEP_DONE, step.id, **detail)
        with self._lock:
            self._applied += 1
        self._set(step, StepStatus.DONE, detail)
        return True

    def _pass_gate(self, ctx: RunContext, step: Step, note: str) -> bool:
        mode = AuthMode(step.params["mode"])
        if step.blocked:
            raise LockoutError(
                f"gate {step.id} ({mode.value}) is blocked by the plan's findings:\n"
                + "\n".join(f"  - {f.code}: {f.message}" for f in self.plan.blockers),
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
            approval = "approved" if mode in self.approvals else f"needs --approve-gate {mode.value}"
            self._set(step, StepStatus.WOULD_RUN, {"note": note, "gate": approval})
            return False  # nothing to run; the dry run goes on past the gate
        if mode in self.approvals:
            return True
        if self.prompter is not None and self.prompter.confirm_gate(
            step, self.gate_consequences(step), self.plan.cluster.name
        ):
            return True
        self._journal(Event.GATE_WAITING, step.id, mode=mode.value)
        self._set(step, StepStatus.WAITING)
        command = f"aws-auth-migrate apply {self.plan_label} --yes --approve-gate {mode.value}"
        with self._lock:
            self._stop = (
                RunResult.STOPPED_AT_GATE,
                f"stopped in front of gate {step.id}: {step.describe()}. {_sentence(gate_consequence(step))} "
                f"To continue, run: {command}",
                command,
            )
        return False

    def gate_consequences(self, step: Step) -> list[str]:
        lines = [gate_consequence(step)]
        if AuthMode(step.params["mode"]) is AuthMode.API:
            lost = [e.spec.principal_arn for e in self.plan.entries if e.action is EntryAction.SKIP]
            if lost:
                lines.append("these aws-auth mappings are not migrated and stop working: " + ", ".join(lost))
        else:
            lines.append("EKS creates access entries for node group and Fargate roles itself")
        return lines

    def _fail(self, step: Step, error: BaseException, started: bool) -> None:
        exit_code = error.exit_code if isinstance(error, MigratorError) else 1
        self._journal(Event.STEP_FAILED, step.id, error=str(error), exitCode=exit_code, callMade=started)
        with self._lock:
            self._failures.append((step, error))
        self._set(step, StepStatus.FAILED, {"error": str(error)})

    def _compensate(self, ctx: RunContext, unit: Unit, failed: Step) -> None:
        """An entry created in this unit whose policies could not follow is deleted again: a bare entry
        would replace the principal's aws-auth identity with less (a system:masters user locked out)."""
        first = unit.steps[0]
        if first is failed or first.kind is not StepKind.CREATE_ENTRY:
            return
        status, detail = self._statuses.get(first.id, (StepStatus.PENDING, {}))
        if status is not StepStatus.DONE or not detail.get("created"):
            return
        try:
            ctx.eks.delete_entry(first.params["principalArn"])
        except MigratorError as error:
            self._say(f"could not delete the bare entry of {first.principal_arn}: {error}; re-run apply soon")
            return
        self._journal(Event.STEP_UNDONE, first.id, deleted=True, compensated=True)
        self._set(first, StepStatus.UNDONE, {"deleted": True, "compensated": True})
        self._say(f"deleted the new entry of {first.principal_arn} again: its policies could not follow")

    # --- rollback ----------------------------------------------------------------------------------------

    def rollback_candidates(self, prior: JournalState) -> list[Step]:
        return [s for s in reversed(self.plan.steps) if prior.of(s.id).done or prior.of(s.id).attempted]

    def rollback_preview(self) -> list[str]:
        """What `rollback` would do, one line per step, from the journal and the live mode (read-only)."""
        prior = self._read_journal()
        candidates = self.rollback_candidates(prior)
        if not candidates:
            return []
        api = self.eks.describe_cluster().mode is AuthMode.API
        lines: list[str] = []
        for step in candidates:
            state, arn = prior.of(step.id), step.principal_arn
            ours = state.created or state.attempted
            if step.kind is StepKind.CREATE_ENTRY:
                if not ours:
                    lines.append(f"keep   {step.id}: the entry of {arn} existed before (adopted)")
                elif api:
                    lines.append(f"keep   {step.id}: API mode; deleting the entry of {arn} would lock it out")
                else:
                    lines.append(f"undo   {step.id}: delete the entry of {arn} (it falls back to aws-auth)")
            elif step.kind is StepKind.ASSOCIATE_POLICY and ours:
                action = "keep  " if api else "undo  "
                lines.append(f"{action} {step.id}: {step.params['policyArn'].rsplit('/', 1)[-1]} of {arn}")
            elif step.kind is StepKind.REMOVE_AWS_AUTH:
                lines.append(f"undo   {step.id}: re-create kube-system/aws-auth from {self.backup_path}")
            elif step.kind is StepKind.REPAIR_NODE_ENTRY:
                lines.append(f"keep   {step.id}: an EC2_LINUX entry would break the Windows nodes again")
            elif step.kind is StepKind.SET_MODE:
                lines.append(f"keep   {step.id}: EKS cannot leave {step.params['mode']} (one way)")
        return lines

    def rollback(self) -> RunReport:
        """Undo, newest first, what this plan's runs did and can safely be undone (see steps.py undo)."""
        if self.dry_run:
            raise InputError("rollback has no dry run; `status` shows what was done")
        prior = self._read_journal()
        candidates = self.rollback_candidates(prior)
        if not candidates:
            return self._report(RunResult.NOTHING_TO_DO, "nothing of this plan was done: nothing to undo", prior=prior)
        info = self.eks.describe_cluster()
        check_same_cluster(self.plan, info)
        ctx = self._context(prior, info.mode)
        deleting = {
            entry_key(s.principal_arn or "")
            for s in candidates
            if s.kind is StepKind.CREATE_ENTRY and (prior.of(s.id).created or prior.of(s.id).attempted)
        }
        dropped: dict[str, list[Step]] = {}
        self._journal(Event.RUN_STARTED, operation="rollback", **_who())
        self.observer.on_start(len(candidates))
        for step in candidates:
            state = prior.of(step.id)
            key = entry_key(step.principal_arn or "")
            if step.kind is StepKind.ASSOCIATE_POLICY and key in deleting and ctx.mode is not AuthMode.API:
                dropped.setdefault(key, []).append(step)  # DeleteAccessEntry drops it with the entry
                continue
            self._set(step, StepStatus.RUNNING)
            try:
                undo = handler_for(step).undo(step, state, ctx)
            except Exception as error:
                with self._lock:
                    self._failures.append((step, error))
                self._set(step, StepStatus.FAILED, {"error": str(error)})
                for policy_step in dropped.pop(key, []):
                    self._set(policy_step, StepStatus.KEPT, {"reason": "its entry was not deleted"})
                continue
            if undo is None:
                self._set(step, StepStatus.DONE if state.done else StepStatus.PENDING, dict(state.detail))
                continue
            detail = {**undo.detail, **({"reason": undo.reason} if undo.reason else {})}
            if undo.status is StepStatus.UNDONE:
                self._journal(Event.STEP_UNDONE, step.id, **undo.detail)
                with self._lock:
                    self._applied += 1
            self._set(step, undo.status, detail)
            for policy_step in dropped.pop(key, []):
                if undo.status is StepStatus.UNDONE:
                    self._journal(Event.STEP_UNDONE, policy_step.id, droppedWithEntry=True)
                    self._set(policy_step, StepStatus.UNDONE, {"droppedWithEntry": True})
                else:
                    self._set(policy_step, StepStatus.KEPT, {"reason": "its entry was kept"})
        report = self._rollback_outcome(prior)
        self._journal(Event.RUN_FINISHED, result=report.result.value, failures=list(report.failures))
        self.journal.close()
        return report

    def _rollback_outcome(self, prior: JournalState) -> RunReport:
        kept = [step_id for step_id, (status, _) in self._statuses.items() if status is StepStatus.KEPT]
        if self._failures:
            return self._report(RunResult.FAILED, "rollback could not undo everything", prior=prior)
        kept_text = f"; kept {len(kept)} step(s) that cannot safely be undone (each says why)" if kept else ""
        if not self._applied:
            return self._report(RunResult.NOTHING_TO_DO, f"nothing left to undo{kept_text}", prior=prior)
        return self._report(RunResult.ROLLED_BACK, f"rolled back {self._applied} step(s){kept_text}", prior=prior)

    def _rolled_back_after(self, failed: RunReport) -> RunReport:
        self.observer.on_message("apply failed: rolling back what this plan did")
        self._failures, self._statuses, self._applied = [], {}, 0
        undone = self.rollback()
        result = RunResult.ROLLED_BACK if undone.result is not RunResult.FAILED else RunResult.FAILED
        return RunReport(
            plan_id=self.plan_id,
            cluster=self.plan.cluster.name,
            result=result,
            steps=undone.steps,
            message=f"{failed.message}; then {undone.message}",
            next_command=None,
            failures=failed.failures + undone.failures,
            error=failed.error,
        )

    # --- bookkeeping -------------------------------------------------------------------------------------

    def _read_journal(self) -> JournalState:
        state = read_state(self.journal)
        if state.torn_message:
            self.observer.on_message(state.torn_message)
        return state

    def _journal(self, event: Event, step: str | None = None, **detail: Any) -> None:
        if not self.dry_run:
            self.journal.append(event, step, **detail)

    def _set(self, step: Step, status: StepStatus, detail: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._statuses[step.id] = (status, detail or {})
            self.observer.on_step(step, status)

    def _say(self, text: str) -> None:
        with self._lock:
            self.observer.on_message(text)

    def _resume_command(self) -> str:
        return f"aws-auth-migrate apply {self.plan_label}"

    def _outcome(self, prior: JournalState) -> RunReport:
        if self._failures:
            first = self._failures[0][1]
            hint = f"fix the cause and re-run `{self._resume_command()}` (it resumes)"
            if isinstance(first, ConflictError | LockoutError | StalePlanError):
                hint += f", or undo this plan's changes with `aws-auth-migrate rollback {self.plan_label}`"
            return self._report(RunResult.FAILED, f"{len(self._failures)} step(s) failed", hint, prior=prior)
        if self._stop is not None:
            result, message, command = self._stop
            return self._report(result, message, command, prior=prior)
        if len(self._runnable) < len(self.plan.steps) and not self.dry_run:
            last = self._runnable[-1].id
            return self._report(
                RunResult.STOPPED, f"stopped after {last} as asked (--until)", self._resume_command(), prior=prior
            )
        would = sum(1 for status, _ in self._statuses.values() if status is StepStatus.WOULD_RUN)
        if self.dry_run:
            if not would:
                return self._report(RunResult.NOTHING_TO_DO, "dry run: every step is done already", prior=prior)
            return self._report(
                RunResult.COMPLETED, f"dry run: {would} step(s) would run; nothing changed", prior=prior
            )
        if not self._applied:
            return self._report(RunResult.NOTHING_TO_DO, "everything was in place already", prior=prior)
        message = f"applied {self._applied} step(s); {self.plan.cluster.name} is in {self.plan.target.value}"
        return self._report(RunResult.COMPLETED, message, prior=prior)

    def _report(self, result: RunResult, message: str, command: str | None = None, *, prior: JournalState) -> RunReport:
        steps = []
        for step in self.plan.steps:
            if step.id in self._statuses:
                status, detail = self._statuses[step.id]
            else:
                status, detail = status_of_phase(prior.of(step.id).phase), dict(prior.of(step.id).detail)
            steps.append(StepReport(step.id, step.kind.value, step.describe(), status, detail))
        failures = tuple(f"{step.id}: {error}" for step, error in self._failures)
        return RunReport(
            plan_id=self.plan_id,
            cluster=self.plan.cluster.name,
            result=result,
            steps=tuple(steps),
            message=message,
            next_command=command,
            dry_run=self.dry_run,
            failures=failures,
            error=self._failures[0][1] if self._failures else None,
        )


def _steps_until(steps: Sequence[Step], until: str | None) -> tuple[Step, ...]:
    """The plan's steps up to `until`, extended to the end of its unit: a principal's entry never runs
    without its policies."""
    if until is None:
        return tuple(steps)
    ids = [s.id for s in steps]
    if until not in ids:
        raise InputError(f"--until {until!r} is not a step of this plan", hint=f"steps: {', '.join(ids)}")
    count = 0
    for unit in build_units(steps):
        count += len(unit.steps)
        if until in (s.id for s in unit.steps):
            return tuple(steps[:count])
    raise AssertionError("unreachable: until is one of the steps")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _who() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "toolVersion": __version__}
