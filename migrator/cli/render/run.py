"""What a person sees of a run: a progress display (an Observer), rich prompts (a Prompter), the report.

The executor never imports this: the CLI attaches these objects. On a terminal the progress is a live bar
on stderr; elsewhere (CI logs, pipes, interactive runs whose prompts would fight a live display) it is one
line per finished step.
"""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.prompt import Prompt
from rich.table import Table
from rich.text import Text

from migrator.cli.render import clean
from migrator.model import AnyStep, SetMode, Step
from migrator.run.observer import Answer, NextAction, NextKind, RunReport, RunResult, StepStatus

FINISHED = frozenset(
    {
        StepStatus.DONE,
        StepStatus.FAILED,
        StepStatus.UNDONE,
        StepStatus.WOULD_RUN,
        StepStatus.WAITING,
        StepStatus.SKIPPED,
        StepStatus.KEPT,
    }
)
STATUS_STYLE = {
    StepStatus.DONE: "green",
    StepStatus.UNDONE: "cyan",
    StepStatus.WOULD_RUN: "cyan",
    StepStatus.FAILED: "bold red",
    StepStatus.WAITING: "bold magenta",
    StepStatus.STARTED: "yellow",
    StepStatus.KEPT: "yellow",
    StepStatus.SKIPPED: "yellow",
    StepStatus.PENDING: "dim",
    StepStatus.RUNNING: "blue",
}
RESULT_STYLE = {
    RunResult.COMPLETED: "bold green",
    RunResult.NOTHING_TO_DO: "green",
    RunResult.ROLLED_BACK: "bold cyan",
    RunResult.STOPPED_AT_GATE: "bold magenta",
    RunResult.STOPPED: "yellow",
    RunResult.FAILED: "bold red",
    RunResult.IN_PROGRESS: "blue",
    RunResult.INTERRUPTED: "yellow",
    RunResult.NOT_STARTED: "dim",
}


class LineObserver:
    """One line per finished step: for logs, pipes and interactive runs."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._total = 0
        self._finished = 0

    def on_start(self, total_steps: int) -> None:
        self._total, self._finished = total_steps, 0

    def on_step(self, step: AnyStep, status: StepStatus) -> None:
        if status not in FINISHED:
            return
        self._finished += 1
        line = Text(f"[{self._finished}/{self._total}] ")
        line.append(f"{status.value:9}", style=STATUS_STYLE[status])
        line.append(clean(f" {step.id}  {step.describe()}"))
        self.console.print(line, highlight=False)

    def on_message(self, text: str) -> None:
        self.console.print(Text(clean(f"note: {text}"), style="yellow"), highlight=False)

    def __enter__(self) -> LineObserver:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        pass


class ProgressObserver:
    """A live bar on a terminal; finished steps scroll above it. Used as a context manager around the run."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("starting", total=None)
        self._lines = LineObserver(console)

    def on_start(self, total_steps: int) -> None:
        with self._lock:
            self._lines.on_start(total_steps)
            self._progress.update(self._task, total=total_steps, completed=0, description="applying")

    def on_step(self, step: AnyStep, status: StepStatus) -> None:
        with self._lock:
            if status is StepStatus.RUNNING:
                self._progress.update(self._task, description=clean(f"{step.id} {step.kind.value}"))
                return
            self._lines.on_step(step, status)  # printed above the live bar
            if status in FINISHED:
                self._progress.advance(self._task)

    def on_message(self, text: str) -> None:
        with self._lock:
            self._lines.on_message(text)

    def __enter__(self) -> ProgressObserver:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()


def progress_observer(console: Console, *, interactive: bool) -> LineObserver | ProgressObserver:
    if console.is_terminal and not interactive:
        return ProgressObserver(console)
    return LineObserver(console)


class RichPrompter:
    """The Prompter on a terminal: per unit y / s / a / q; a gate needs the cluster's name typed."""

    CHOICES = {"y": Answer.YES, "s": Answer.SKIP_AND_STOP, "a": Answer.ALL_IN_PHASE, "q": Answer.QUIT}

    def __init__(self, console: Console) -> None:
        self.console = console

    def confirm_steps(self, steps: Sequence[Step], effects: Sequence[str]) -> Answer:
        for step, effect in zip(steps, effects, strict=True):
            self.console.print(Text(f"{step.id}  ", style="bold") + Text(clean(step.describe())), highlight=False)
            self.console.print(Text(clean(f"    effect: {effect}"), style="dim"), highlight=False)
        answer = Prompt.ask(
            Text("Run? [y]es, [s]kip and stop, [a]ll until the next gate, [q]uit"),  # Text: no markup
            console=self.console,
            choices=list(self.CHOICES),
            default="y",
            show_choices=False,
        )
        return self.CHOICES[answer]

    def confirm_gate(self, step: SetMode, consequences: Sequence[str], cluster_name: str) -> bool:
        self.console.print(Text(clean(f"GATE {step.id}: {step.describe()}"), style="bold magenta"), highlight=False)
        for line in consequences:
            self.console.print(Text(clean(f"  - {line}")), highlight=False)
        question = clean(f"Type the cluster name ({cluster_name}) to pass this gate, anything else to stop")
        typed = Prompt.ask(Text(question), console=self.console, default="")
        return typed.strip() == cluster_name

    def confirm_rollback(self, actions: Sequence[str]) -> bool:
        self.console.print(Text("Rollback would:", style="bold"))
        for line in actions:
            self.console.print(Text(clean(f"  {line}")), highlight=False)
        return Prompt.ask(Text("Roll back?"), console=self.console, choices=["y", "n"], default="n") == "y"


def next_command(action: NextAction, plan_label: str) -> str:
    """The command line that carries out what the core says to do next."""
    plan = shlex.quote(plan_label)
    if action.kind is NextKind.APPROVE_GATE and action.mode is not None:
        return f"aws-auth-migrate apply {plan} --yes --approve-gate {action.mode.value}"
    if action.kind is NextKind.ROLLBACK:
        return f"aws-auth-migrate rollback {plan}"
    return f"aws-auth-migrate apply {plan}"


def next_commands(report: RunReport, plan_label: str) -> list[str]:
    return [next_command(action, plan_label) for action in report.next]


def report_json(report: RunReport, plan_label: str) -> str:
    return json.dumps(report.to_dict(next_commands(report, plan_label)), indent=2, ensure_ascii=False)


def print_report(report: RunReport, console: Console, plan_label: str) -> None:
    table = Table(title=clean(f"Plan {report.plan_id} on {report.cluster}"), title_justify="left")
    for column in ("step", "status", "description", "detail"):
        table.add_column(column, overflow="fold")
    for step in report.steps:
        table.add_row(
            clean(step.id),
            Text(step.status.value, style=STATUS_STYLE[step.status]),
            Text(clean(step.description)),
            Text(clean(_detail_text(step.detail))),
        )
    console.print(table)
    heading = Text(("dry run: " if report.dry_run else "") + report.result.value, style=RESULT_STYLE[report.result])
    console.print(heading + Text(clean(f"  {report.message}")), highlight=False)
    for failure in report.failures:
        console.print(Text(clean(f"  failed: {failure}"), style="red"), highlight=False)
    for number, command in enumerate(next_commands(report, plan_label)):
        console.print(Text(clean(f"{'next' if number == 0 else '  or'}: {command}"), style="bold"), highlight=False)


def _detail_text(detail: object) -> str:
    if not isinstance(detail, Mapping) or not detail:
        return ""
    shown = {k: v for k, v in detail.items() if k not in ("sha256",)}
    return ", ".join(f"{k}={v}" if not isinstance(v, bool) else k for k, v in shown.items() if v not in (False, None))
