"""Fleet runs for people: a live line per cluster while the batch runs (a progress bar on a terminal, one
line per finished cluster in a CI log), and the final table."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from migrator.cli.render import clean
from migrator.fleet.report import BatchReport, ClusterResult

OUTCOME_STYLES = {
    "completed": "green",
    "planned": "green",
    "at-gate": "cyan",
    "not-started": "dim",
    "blocked": "yellow",
    "stale": "red",
    "failed": "red",
    "rolled-back": "magenta",
    "not-run": "red",
    "interrupted": "yellow",
    "in-progress": "cyan",
}


def _summary(result: ClusterResult) -> str:
    return f"{result.shown}: {result.outcome.value} ({result.steps_done}/{result.steps_total} steps) {result.message}"


class ProgressFleetObserver:
    """One rich progress line per cluster (phase and steps), on a terminal."""

    def __init__(self, console: Console, clusters: Sequence[str]) -> None:
        self.progress = Progress(
            TextColumn("{task.fields[cluster]}", style="bold"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {
            name: self.progress.add_task("waiting", total=None, cluster=clean(name)) for name in clusters
        }

    def __enter__(self) -> ProgressFleetObserver:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def on_cluster(self, cluster: str, phase: str, done: int, total: int) -> None:
        self.progress.update(self.tasks[cluster], description=clean(phase), completed=done, total=total or None)

    def on_cluster_message(self, cluster: str, text: str) -> None:
        self.progress.console.print(Text(clean(f"{cluster}: {text}")), highlight=False)

    def on_cluster_done(self, result: ClusterResult) -> None:
        style = OUTCOME_STYLES.get(result.outcome.value, "")
        self.progress.update(
            self.tasks[result.shown],
            description=f"[{style}]{result.outcome.value}[/] {clean(result.message)[:80]}".replace("[]", ""),
            completed=result.steps_done,
            total=result.steps_total or None,
        )


class LineFleetObserver:
    """Without a terminal (CI logs): a line when a cluster starts a phase and when it ends."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._phases: dict[str, str] = {}

    def __enter__(self) -> LineFleetObserver:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        pass

    def _say(self, text: str) -> None:
        with self._lock:
            self.console.print(Text(clean(text)), highlight=False, soft_wrap=True)

    def on_cluster(self, cluster: str, phase: str, done: int, total: int) -> None:
        head = phase.split(":", 1)[0]
        with self._lock:
            if self._phases.get(cluster) == head:
                return
            self._phases[cluster] = head
        self._say(f"{cluster}: {head}")

    def on_cluster_message(self, cluster: str, text: str) -> None:
        self._say(f"{cluster}: {text}")

    def on_cluster_done(self, result: ClusterResult) -> None:
        self._say(_summary(result))


def fleet_observer(console: Console, clusters: Sequence[str]) -> ProgressFleetObserver | LineFleetObserver:
    return ProgressFleetObserver(console, clusters) if console.is_terminal else LineFleetObserver(console)


def print_batch(report: BatchReport, console: Console) -> None:
    table = Table(title=f"batch {report.command}" + (f" (shard {report.shard})" if report.shard else ""))
    for column in ("cluster", "where", "outcome", "mode", "steps", "gates passed", "findings", "verified", "detail"):
        table.add_column(column)
    for result in report.clusters:
        findings = ", ".join(f"{count} {severity}" for severity, count in sorted(result.findings.items()))
        verified = "-" if result.verified is None else ("ok" if result.verified.get("ok") else "DIFFERS")
        detail = result.error.message if result.error is not None else result.message
        if result.error is not None:
            detail = f"exit {result.error.exit_code}: {detail}"
        if result.blockers:
            detail += f" [blockers: {', '.join(result.blockers)}]"
        table.add_row(
            Text(clean(result.name)),
            Text(clean(f"{result.account or '-'}/{result.region}")),
            Text(result.outcome.value, style=OUTCOME_STYLES.get(result.outcome.value, "")),
            result.mode or "-",
            f"{result.steps_done}/{result.steps_total}",
            ", ".join(result.gates_passed) or "-",
            findings or "-",
            verified,
            Text(clean(detail.splitlines()[0] if detail else "")),
        )
    console.print(table)
    console.print(Text(fleet_summary(report)), highlight=False)


def fleet_summary(report: BatchReport) -> str:
    """`N cluster(s): 3 planned, 1 failed`: the report's last line."""
    summary = ", ".join(f"{count} {outcome}" for outcome, count in report.summary().items())
    return f"{len(report.clusters)} cluster(s): {summary or 'none'}"
