"""What one run (apply, dry run or rollback) did: each step's status, shown to the observer as it changes;
the failures; how many steps it changed; the journal records written as it goes (none in a dry run); and
the RunReport that sums it up. The executor and the rollback both keep theirs here."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

from migrator import __version__
from migrator.model import AnyStep, Plan
from migrator.run.journal import Event, Journal, JournalState, read_state
from migrator.run.observer import NextAction, Observer, RunReport, RunResult, StepReport, StepStatus, status_of_phase


class RunRecord:
    def __init__(self, plan: Plan, plan_id: str, journal: Journal, observer: Observer, *, dry_run: bool) -> None:
        self.plan = plan
        self.plan_id = plan_id
        self.observer = observer
        self.dry_run = dry_run
        self._journal = journal
        # Guards the fields below (and the executor's stop) and serializes observer calls: units run in threads.
        # Re-entrant: an interrupt handler may report while the main thread is inside `mark` (run/interrupts.py).
        self.lock = threading.RLock()
        self.statuses: dict[str, tuple[StepStatus, dict[str, Any]]] = {}
        self.failures: list[tuple[AnyStep, BaseException]] = []
        self.applied = 0

    def reset(self) -> None:
        """Start over, for the rollback that follows a failed apply in the same process."""
        self.failures, self.statuses, self.applied = [], {}, 0

    def read_journal(self) -> JournalState:
        state = read_state(self._journal)
        if state.torn_message:
            self.observer.on_message(state.torn_message)
        return state

    def journal(self, event: Event, step: str | None = None, **detail: Any) -> None:
        if not self.dry_run:
            self._journal.append(event, step, **detail)

    def start(self, operation: str, total_steps: int) -> None:
        self.journal(Event.RUN_STARTED, operation=operation, **_who())
        self.observer.on_start(total_steps)

    def finish(self, result: RunResult, **detail: Any) -> None:
        self.journal(Event.RUN_FINISHED, result=result.value, **detail)
        self._journal.close()

    def mark(self, step: AnyStep, status: StepStatus, detail: dict[str, Any] | None = None) -> None:
        """The status of the plan step `step` stands for (an inverse step reports on the step it undoes)."""
        with self.lock:
            self.statuses[step.record_id] = (status, detail or {})
            self.observer.on_step(step, status)

    def status_of(self, step_id: str) -> StepStatus:
        with self.lock:
            return self.statuses.get(step_id, (StepStatus.PENDING, {}))[0]

    def fail(self, step: AnyStep, error: BaseException) -> None:
        with self.lock:
            self.failures.append((step, error))
        self.mark(step, StepStatus.FAILED, {"error": str(error)})

    def count_applied(self) -> None:
        with self.lock:
            self.applied += 1

    def say(self, text: str) -> None:
        with self.lock:
            self.observer.on_message(text)

    def report(
        self, result: RunResult, message: str, next_actions: tuple[NextAction, ...] = (), *, prior: JournalState
    ) -> RunReport:
        steps = []
        for step in self.plan.steps:
            if step.id in self.statuses:
                status, detail = self.statuses[step.id]
            else:
                status, detail = status_of_phase(prior.of(step.id).phase), dict(prior.of(step.id).detail)
            steps.append(StepReport(step.id, step.kind.value, step.describe(), status, detail))
        failures = tuple(f"{step.record_id}: {error}" for step, error in self.failures)
        return RunReport(
            plan_id=self.plan_id,
            cluster=self.plan.cluster.name,
            result=result,
            steps=tuple(steps),
            message=message,
            next=next_actions,
            dry_run=self.dry_run,
            failures=failures,
            error=self.failures[0][1] if self.failures else None,
        )


def _who() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "toolVersion": __version__}
