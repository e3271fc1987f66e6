"""The executor's interface to whoever watches it: progress events in, answers out, and the final report.

The executor knows nothing of terminals. The CLI attaches a rich progress display (render_run.py) and a
rich prompter; tests attach recorders; a fleet run can attach one observer per cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from migrator.errors import MigratorError
from migrator.model import AnyStep, AuthMode, Plan, SetMode, Step
from migrator.run.journal import JournalState, Phase, StepState


class StepStatus(StrEnum):
    PENDING = "pending"  # not reached
    STARTED = "started"  # a call may have been made, no outcome recorded (a crash, or a run in progress)
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"
    WOULD_RUN = "would-run"  # dry run: the check found work to do
    WAITING = "waiting"  # a gate that needs approval
    SKIPPED = "skipped"  # a person chose not to run it
    KEPT = "kept"  # rollback left it in place on purpose (irreversible, not ours, or unsafe to undo)


class RunResult(StrEnum):
    COMPLETED = "completed"
    STOPPED_AT_GATE = "stopped-at-gate"
    STOPPED = "stopped"  # a person answered skip-and-stop or quit
    FAILED = "failed"
    NOTHING_TO_DO = "nothing-to-do"
    ROLLED_BACK = "rolled-back"
    # only in `status`, from the journal alone
    NOT_STARTED = "not-started"
    IN_PROGRESS = "in-progress"  # a live process holds the cluster's lock for this plan
    INTERRUPTED = "interrupted"


class Observer(Protocol):
    """Progress of one run. Calls may come from worker threads, but never two at once (the executor
    serializes them)."""

    def on_start(self, total_steps: int) -> None: ...
    def on_step(self, step: AnyStep, status: StepStatus) -> None: ...
    def on_message(self, text: str) -> None: ...


class NullObserver:
    def on_start(self, total_steps: int) -> None:
        pass

    def on_step(self, step: AnyStep, status: StepStatus) -> None:
        pass

    def on_message(self, text: str) -> None:
        pass


class Answer(StrEnum):
    YES = "yes"
    SKIP_AND_STOP = "skip-and-stop"
    ALL_IN_PHASE = "all-in-this-phase"  # yes to every step up to the next gate
    QUIT = "quit"


class Prompter(Protocol):
    """A person at a terminal. Only the main thread calls it, never while a unit of steps is running."""

    def confirm_steps(self, steps: Sequence[Step], effects: Sequence[str]) -> Answer:
        """One unit (an entry and its policies run back to back, so they are asked about together)."""
        ...

    def confirm_gate(self, step: SetMode, consequences: Sequence[str], cluster_name: str) -> bool:
        """An irreversible mode switch: True only when the person typed the cluster's name."""
        ...

    def confirm_rollback(self, actions: Sequence[str]) -> bool: ...


class NextKind(StrEnum):
    APPROVE_GATE = "approve-gate"  # run apply again, approving the gate into `mode`
    RESUME = "resume"  # run apply again: it resumes from the journal
    ROLLBACK = "rollback"  # undo this plan's changes


@dataclass(frozen=True)
class NextAction:
    """What a person can do next, as data: only the CLI turns it into a command line."""

    kind: NextKind
    mode: AuthMode | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "mode": self.mode.value if self.mode is not None else None}


RESUME = NextAction(NextKind.RESUME)
ROLLBACK = NextAction(NextKind.ROLLBACK)


@dataclass(frozen=True)
class StepReport:
    id: str
    kind: str
    description: str
    status: StepStatus
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "description": self.description,
            "status": self.status.value,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class RunReport:
    """What a run did, step by step. `error` is the first failure (its exit code is the run's)."""

    plan_id: str
    cluster: str
    result: RunResult
    steps: tuple[StepReport, ...]
    message: str
    next: tuple[NextAction, ...] = ()  # the first is what to do; the others are alternatives
    dry_run: bool = False
    failures: tuple[str, ...] = ()
    error: BaseException | None = field(default=None, compare=False)

    @property
    def exit_code(self) -> int:
        if self.error is None:
            return 0
        return self.error.exit_code if isinstance(self.error, MigratorError) else 1

    def step(self, step_id: str) -> StepReport:
        return next(s for s in self.steps if s.id == step_id)

    def to_dict(self, next_commands: Sequence[str] = ()) -> dict[str, Any]:
        """The JSON report; `next_commands` are the `next` actions as the caller spells them."""
        error: dict[str, Any] | None = None
        if self.error is not None:
            error = {
                "type": type(self.error).__name__,
                "exitCode": self.exit_code,
                "message": str(self.error),
                "hint": getattr(self.error, "hint", None),
            }
        return {
            "planId": self.plan_id,
            "cluster": self.cluster,
            "result": self.result.value,
            "dryRun": self.dry_run,
            "message": self.message,
            "next": next_commands[0] if next_commands else None,
            "nextActions": [
                {**action.to_dict(), **({"command": command} if command else {})}
                for action, command in itertools.zip_longest(self.next, next_commands[: len(self.next)])
            ],
            "failures": list(self.failures),
            "error": error,
            "steps": [s.to_dict() for s in self.steps],
        }


# --- `status`: a report from the journal alone ---------------------------------------------------------


def status_of_phase(phase: Phase) -> StepStatus:
    return {
        Phase.PENDING: StepStatus.PENDING,
        Phase.STARTED: StepStatus.STARTED,
        Phase.DONE: StepStatus.DONE,
        Phase.FAILED: StepStatus.FAILED,
        Phase.UNDONE: StepStatus.UNDONE,
    }[phase]


def status_report(plan: Plan, plan_id: str, state: JournalState, *, holder: str | None = None) -> RunReport:
    """What the journal says about a plan, without asking the cluster (the `status` command)."""
    steps = tuple(
        StepReport(s.id, s.kind.value, s.describe(), status_of_phase(state.of(s.id).phase), _detail(state.of(s.id)))
        for s in plan.steps
    )
    done = sum(1 for s in steps if s.status is StepStatus.DONE)
    next_action: NextAction | None = RESUME
    if state.runs == 0:
        result, message = RunResult.NOT_STARTED, "no run of this plan yet"
    elif holder is not None:
        result, message = RunResult.IN_PROGRESS, f"a run is in progress: {holder}"
        next_action = None
    elif state.open_run:
        result, message = RunResult.INTERRUPTED, "the last run stopped without finishing (crash or kill); apply resumes"
    elif plan.steps and done == len(plan.steps):
        result, message, next_action = RunResult.COMPLETED, "every step is done", None
    else:
        result = RunResult(state.last_result) if state.last_result in set(RunResult) else RunResult.INTERRUPTED
        message = f"{done} of {len(plan.steps)} step(s) done"
        gate = _waiting_gate(plan, state)
        if gate is not None:
            next_action = NextAction(NextKind.APPROVE_GATE, gate.mode)
            message += f"; waiting at gate {gate.id}"
    if state.torn_message:
        message += f" ({state.torn_message})"
    return RunReport(plan_id, plan.cluster.name, result, steps, message, (next_action,) if next_action else ())


def _waiting_gate(plan: Plan, state: JournalState) -> SetMode | None:
    step = next((s for s in plan.steps if s.id == state.waiting_gate), None)
    return step if isinstance(step, SetMode) else None


def _detail(state: StepState) -> dict[str, Any]:
    detail = dict(state.detail)
    if state.error:
        detail["error"] = state.error
    if state.phase is Phase.STARTED:
        detail["note"] = "started, outcome unknown: the next apply checks the cluster and resumes"
    return detail
