"""`aws-auth-migrate batch ...`: plan, apply, status and roll back every cluster of an inventory file, and
merge the reports of CI shards. Registered as a sub-app by migrator/cli/__init__.py.

Batch runs never prompt (one terminal cannot answer for many clusters at once): apply and rollback need
--yes, and gates still need --approve-gate. The report goes to stdout (a table, or JSON with -o json) and,
as JSON, to a file (`--report`, default `<out-dir>/batch-<command>[-shard-I-of-N].json`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from migrator.app import RunSettings, update_polling
from migrator.app.batch import (
    POINTER,
    BatchSettings,
    batch_apply,
    batch_plan,
    batch_rollback,
    batch_status,
    interrupts_stop,
    report_name,
    require_accounts,
    write_report,
)
from migrator.app.state import StateAccess, load_plan_ref, open_object
from migrator.cli import OutputFormat, OutputOption, Target, stderr, stdout
from migrator.cli.render import clean
from migrator.cli.render.batch import fleet_observer, fleet_summary, print_batch
from migrator.cli.render.dashboard import render_dashboard
from migrator.cli.render.markdown import batch_plan_markdown
from migrator.cli.run import GateMode
from migrator.cli.state import (
    StateKmsKeyOption,
    StateOption,
    StateProfileOption,
    StateRegionOption,
    state_store,
)
from migrator.errors import ClusterLockedError, InputError, MigratorError
from migrator.files import atomic_write
from migrator.fleet.inventory import Inventory, InventoryCluster, parse_inventory
from migrator.fleet.merging import merge_reports
from migrator.fleet.reading import read_report
from migrator.fleet.report import BATCH_INTERRUPTED_EXIT, BatchReport, FleetSet, Outcome
from migrator.fleet.selection import parse_shard, select
from migrator.model import AuthMode, Plan
from migrator.ports import StateStore
from migrator.run.backup import BACKUP_SUFFIX
from migrator.run.journal import JOURNAL_SUFFIX
from migrator.run.lockobject import LOCK_KEY
from migrator.run.settings import UPDATE_TIMEOUT_SECONDS
from migrator.state.files import FileStore
from migrator.state.location import MARKER_KEY, is_s3_url

batch_app = typer.Typer(
    help="Plan, apply, check and roll back many clusters from an inventory file (inventory/v1); merge CI "
    "shard reports. Exit 0 when every cluster reached what was approved, 5 when any did not.",
    no_args_is_help=True,
)

InventoryArgument = Annotated[
    Path, typer.Argument(help="The inventory file (schema: aws-auth-migrate/inventory/v1).", show_default=False)
]
SelectOption = Annotated[
    list[str] | None,
    typer.Option("--select", help="Only clusters whose name matches this glob, or with this label=value (repeatable)."),
]
ShardOption = Annotated[
    str | None,
    typer.Option(help="I/N: only the clusters of shard I of N (stable by account/region/name), for CI matrices."),
]
OutDirOption = Annotated[
    Path | None,
    typer.Option(
        envvar="AWS_AUTH_MIGRATE_PLANS",
        help="Plans, journals, backups: one folder per cluster (default: plans). --state s3://... keeps them in S3.",
        show_default=False,
    ),
]
ReportOption = Annotated[
    str | None,
    typer.Option(
        help="Write the JSON report here, a file or an s3://BUCKET/KEY object (default: "
        "<state>/batch-<command>[-shard-I-of-N].json).",
        show_default=False,
    ),
]
# batch status and batch report write no report unless asked to.
ReportCopyOption = Annotated[
    str | None,
    typer.Option(
        "--report",
        help="Also write the JSON report here, a file or an s3://BUCKET/KEY object (none is written without it).",
        show_default=False,
    ),
]
HtmlOption = Annotated[
    str | None,
    typer.Option(
        "--html",
        help="Also write the fleet dashboard here: one self-contained HTML page (each cluster's mode, steps, gates, "
        "blockers, verify result and last error; sortable and filterable; it loads nothing from the network), a "
        "file (0600: it names clusters) or an s3://BUCKET/KEY object.",
        show_default=False,
    ),
]


class SummaryFormat(StrEnum):
    MARKDOWN = "markdown"


MaxParallelOption = Annotated[int, typer.Option(min=1, max=64, help="Clusters run at once.")]
AccountBudgetOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=256,
        help="EKS requests in flight at once per account and region, all its clusters together; they also "
        "share one learned pace per EKS operation (EKS throttles per account and region).",
    ),
]
STOPPING = (
    "interrupted: each cluster in flight finishes its principal in flight, journals it and stops; clusters not "
    "started stay so (interrupt again to abort at once)"
)
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Required: batch runs never prompt.")]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=1, help="Seconds to wait for each EKS update (a mode switch, an undo).")
]


def _load(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the inventory: {error}") from None
    return parse_inventory(text, str(path))


@dataclass(frozen=True)
class _Picked:
    """The inventory, the clusters this run covers, and what its report says of them."""

    inventory: Inventory
    clusters: tuple[InventoryCluster, ...]
    shard: str | None
    fleet: FleetSet  # the selected clusters before --shard: the shards of one batch share it

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.clusters]


def _clusters(inventory: Path, selectors: list[str] | None, shard: str | None) -> _Picked:
    parsed_shard = parse_shard(shard) if shard is not None else None
    loaded = _load(inventory)
    fleet = FleetSet.of(c.identity for c in select(loaded, selectors or ()))
    picked = select(loaded, selectors or (), parsed_shard)
    return _Picked(loaded, picked, str(parsed_shard) if parsed_shard else None, fleet)


@dataclass(frozen=True)
class _Batch:
    """What every batch command starts from: the clusters it covers and where their state is."""

    picked: _Picked
    state: _State

    def settings(self, **how: Any) -> BatchSettings:
        """The batch's settings: its state, shard, inventory and fleet, plus `how` (the command's own)."""
        picked = self.picked
        return BatchSettings(
            state=self.state.store, shard=picked.shard, inventory=picked.inventory.file, fleet=picked.fleet, **how
        )


def _batch(
    inventory: Path,
    selectors: list[str] | None,
    shard: str | None,
    state: str | None,
    out_dir: Path | None,
    profile: str | None,
    region: str | None,
    kms_key: str | None = None,
) -> _Batch:
    """The inventory read and its clusters picked, then the state opened: bad input of either is exit 2
    before anything is written. With an S3 state every cluster of the inventory must name its account (its
    folder there is `<account>/<region>/<name>/`), so that every shard of the batch refuses alike."""
    picked = _clusters(inventory, selectors, shard)
    if state is not None and is_s3_url(state):
        require_accounts(picked.inventory.clusters, picked.inventory.file)
    return _Batch(picked, _state(state, out_dir, profile, region, kms_key))


@dataclass(frozen=True)
class _State:
    """Where the batch keeps its state (`--state`, else `--out-dir`, else plans/) and how to reach it."""

    store: StateStore
    access: StateAccess


def _state(
    state: str | None,
    out_dir: Path | None,
    profile: str | None = None,
    region: str | None = None,
    kms_key: str | None = None,
) -> _State:
    store = state_store(state, out_dir, profile=profile, region=region, kms_key=kms_key) or FileStore(Path("plans"))
    return _State(store, StateAccess(profile, region, kms_key))


def _finish(
    report: BatchReport,
    output: OutputFormat,
    state: _State | None,
    report_ref: str | None,
    *,
    save: bool = True,
    fail: bool = True,
    markdown: bool = False,
    access: StateAccess | None = None,
) -> None:
    """Save the report (to --report, else into the state), then print it: a table, JSON or Markdown. `access`
    reaches an s3:// --report when there is no state (batch report)."""
    where: str | None = None
    if save or report_ref is not None:
        if report_ref is not None:
            reach = state.access if state is not None else access
            folder, name = open_object(report_ref, reach, label="--report")
            where = write_report(report, folder, name)
        elif report.exit_code == ClusterLockedError.exit_code:
            # Every cluster that fell short is another run's: that run writes this report's key; ours would
            # replace its report with one that says only "held".
            stderr.print(
                f"Report not written: the clusters are held by another run, which writes {report_name(report)}"
            )
        else:
            assert state is not None  # every command that saves by default has a state
            where = write_report(report, state.store, report_name(report))
        if where is not None:
            stderr.print(Text(clean(f"Report written to {where}")), highlight=False)
    if markdown:  # the one data format on stdout; the live lines on stderr already named each cluster's outcome
        print(_markdown_summary(report, state.access if state is not None else None, where), end="")
        stderr.print(Text(fleet_summary(report)), highlight=False)
    elif output is OutputFormat.JSON:
        print(report.to_json(), end="")
    else:
        print_batch(report, stdout)
    if report.exit_code and fail:
        raise typer.Exit(report.exit_code)


def _markdown_summary(report: BatchReport, access: StateAccess | None, report_ref: str | None) -> str:
    """The Markdown of a batch plan, from its report and the plans it wrote, read back (and checked) as `show`
    reads a plan. A plan that cannot be read back is said so in its cluster's block; the others are shown."""
    plans: dict[str, Plan] = {}
    unreadable: dict[str, str] = {}
    for result in report.clusters:
        if result.outcome is Outcome.PLANNED and result.plan_file is not None:
            try:
                plans[result.identity] = load_plan_ref(result.plan_file, access)[0]
            except MigratorError as error:
                unreadable[result.identity] = str(error)
    return batch_plan_markdown(report, plans, report_ref=report_ref, unreadable=unreadable)


def _check_outputs(access: StateAccess, report: str | None, html: str | None = None) -> None:
    """Refuse a --report or --html that names no file or object (a bucket alone, a bad bucket name, a URL that is
    not s3://) before the batch runs: found when the report is written, it would be exit 2 for bad input after
    every cluster was planned, changed or rolled back."""
    for ref, label in ((report, "--report"), (html, "--html")):
        if ref is not None:
            _, name = open_object(ref, access, label=label)
            if _names_run_state(ref, name):
                raise InputError(
                    f"{label}: {ref} names an object of the run state (a plan, journal, backup, pointer, lock or the "
                    "state's marker); writing there would destroy it",
                    hint="name a file or object of its own, e.g. reports/batch-apply.json",
                )


def _names_run_state(ref: str, name: str) -> bool:
    """Whether a destination is (or lies inside) something a run keeps in its state."""
    folders = ref.rstrip("/").split("/")[:-1]
    return (
        name in (MARKER_KEY, LOCK_KEY, POINTER)
        or name.endswith((".plan.yaml", BACKUP_SUFFIX, JOURNAL_SUFFIX))
        or any(part.endswith(".journal") for part in folders)
    )


def _write_dashboard(report: BatchReport, ref: str, access: StateAccess) -> None:
    """The report's HTML dashboard into the file or S3 object `ref`."""
    page = render_dashboard(report).encode("utf-8")
    if is_s3_url(ref):
        folder, name = open_object(ref, access, label="--html")
        folder.put(name, page)
        where = folder.where(name)
    else:
        atomic_write(Path(ref), page)  # 0600: it names every cluster and quotes their errors
        where = ref
    stderr.print(Text(clean(f"Dashboard written to {where}")), highlight=False)


def _require_yes(yes: bool, command: str) -> None:
    if not yes:
        raise InputError(
            f"batch {command} runs without prompts: pass --yes",
            hint="gates still need --approve-gate MODE" if command == "apply" else None,
        )


@batch_app.command("plan")
def plan_command(
    inventory: InventoryArgument,
    target: Annotated[
        Target | None, typer.Option(help="Override every cluster's target (default: the inventory's).")
    ] = None,
    out_dir: OutDirOption = None,
    state: StateOption = None,
    profile: StateProfileOption = None,
    region: StateRegionOption = None,
    state_kms_key: StateKmsKeyOption = None,
    select_: SelectOption = None,
    shard: ShardOption = None,
    max_parallel: MaxParallelOption = 8,
    account_budget: AccountBudgetOption = 16,
    created_at: Annotated[str | None, typer.Option(help="Pin every plan's createdAt (ISO 8601).")] = None,
    report: ReportOption = None,
    output: OutputOption = OutputFormat.TEXT,
    summary: Annotated[
        SummaryFormat | None,
        typer.Option(
            help="markdown: print on stdout, instead of the table, a GitHub-flavoured summary for a pull-request "
            "comment or $GITHUB_STEP_SUMMARY (an overview, then per cluster its headline, gates, findings and "
            "entries), kept under GitHub's 65,536-character comment limit (what it leaves out, it says). The plans "
            "and the JSON report are written as without it. Not with -o json: stdout carries one format.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Plan every selected cluster (live, read-only) into <state>/<account>/<region>/<name>/; a failing cluster
    stops no other.
    A cluster whose current plan has an unfinished run keeps that plan (finish it with batch apply, or batch
    rollback first)."""
    if summary is not None and output is OutputFormat.JSON:
        raise InputError(
            "--summary markdown and -o json would both print on stdout: give one",
            hint="the JSON report is written to --report either way (default <state>/batch-plan.json)",
        )
    batch = _batch(inventory, select_, shard, state, out_dir, profile, region, state_kms_key)
    _check_outputs(batch.state.access, report)
    settings = batch.settings(
        max_parallel=max_parallel,
        account_budget=account_budget,
        target=AuthMode(target.value) if target is not None else None,
        created_at=created_at,
    )
    with fleet_observer(stderr, batch.picked.labels) as observer:
        result = batch_plan(batch.picked.clusters, settings, observer)
    _finish(result, output, batch.state, report, markdown=summary is SummaryFormat.MARKDOWN)


@batch_app.command("apply")
def apply_command(
    inventory: InventoryArgument,
    yes: YesOption = False,
    approve_gate: Annotated[
        list[GateMode] | None,
        typer.Option("--approve-gate", help="Pass the gate into this mode on every cluster whose plan allows it."),
    ] = None,
    max_parallel: MaxParallelOption = 8,
    account_budget: AccountBudgetOption = 16,
    canary: Annotated[
        int, typer.Option(min=0, help="Run the first N clusters first and verify them; the rest only if all pass.")
    ] = 0,
    rollback_on_failure: Annotated[
        bool, typer.Option(help="Roll back a cluster whose run fails (what is reversible); others are untouched.")
    ] = False,
    timeout: TimeoutOption = UPDATE_TIMEOUT_SECONDS,
    poll_seconds: Annotated[
        float, typer.Option(min=0.05, help="First wait between polls of an EKS update (doubles, capped at 4 s).")
    ] = 1.0,
    out_dir: OutDirOption = None,
    state: StateOption = None,
    profile: StateProfileOption = None,
    region: StateRegionOption = None,
    state_kms_key: StateKmsKeyOption = None,
    select_: SelectOption = None,
    shard: ShardOption = None,
    report: ReportOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Apply each cluster's plan (from batch plan), resuming from its journal; finished clusters are skipped."""
    _require_yes(yes, "apply")
    batch = _batch(inventory, select_, shard, state, out_dir, profile, region, state_kms_key)
    _check_outputs(batch.state.access, report)
    settings = batch.settings(
        run=RunSettings(
            approvals=frozenset(AuthMode(g.value) for g in approve_gate or ()),
            timeout_seconds=timeout,
            poll=update_polling(poll_seconds),
            rollback_on_failure=rollback_on_failure,
        ),
        max_parallel=max_parallel,
        account_budget=account_budget,
        canary=canary,
    )
    try:
        with interrupts_stop() as stop, fleet_observer(stderr, batch.picked.labels) as observer:
            result = batch_apply(
                batch.picked.clusters, settings, observer, stop, lambda: stderr.print(STOPPING, highlight=False)
            )
    except KeyboardInterrupt:
        # The second interrupt: abort at once, without waiting for the clusters in flight (their threads
        # cannot be stopped from here). Every journal is fsynced record by record: the next run resumes.
        stderr.print("aborted: the journals stay true; run the same command again to resume", highlight=False)
        sys.stderr.flush()
        os._exit(BATCH_INTERRUPTED_EXIT)
    _finish(result, output, batch.state, report)


@batch_app.command("status")
def status_command(
    inventory: InventoryArgument,
    out_dir: OutDirOption = None,
    state: StateOption = None,
    profile: StateProfileOption = None,
    region: StateRegionOption = None,
    select_: SelectOption = None,
    shard: ShardOption = None,
    report: ReportCopyOption = None,
    html: HtmlOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Where each cluster stands, from its journal alone (no AWS or Kubernetes call). Exit 0. --html writes it as a
    dashboard page too."""
    batch = _batch(inventory, select_, shard, state, out_dir, profile, region)
    _check_outputs(batch.state.access, report, html)
    status = batch_status(batch.picked.clusters, batch.settings())
    if html is not None:
        _write_dashboard(status, html, batch.state.access)
    # status reports; it does not fail because a cluster did
    _finish(status, output, batch.state, report, save=False, fail=False)


@batch_app.command("rollback")
def rollback_command(
    inventory: InventoryArgument,
    yes: YesOption = False,
    max_parallel: MaxParallelOption = 8,
    account_budget: AccountBudgetOption = 16,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for EKS changes.")
    ] = UPDATE_TIMEOUT_SECONDS,
    out_dir: OutDirOption = None,
    state: StateOption = None,
    profile: StateProfileOption = None,
    region: StateRegionOption = None,
    state_kms_key: StateKmsKeyOption = None,
    select_: SelectOption = None,
    shard: ShardOption = None,
    report: ReportOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Roll back every selected cluster this batch touched, newest run first (never past the API gate)."""
    _require_yes(yes, "rollback")
    batch = _batch(inventory, select_, shard, state, out_dir, profile, region, state_kms_key)
    _check_outputs(batch.state.access, report)
    settings = batch.settings(
        run=RunSettings(timeout_seconds=timeout), max_parallel=max_parallel, account_budget=account_budget
    )
    with fleet_observer(stderr, batch.picked.labels) as observer:
        result = batch_rollback(batch.picked.clusters, settings, observer)
    _finish(result, output, batch.state, report)


@batch_app.command("report")
def report_command(
    reports: Annotated[
        list[str],
        typer.Argument(
            help="Batch JSON reports (e.g. of each shard): files, or s3://BUCKET/KEY objects (such as "
            "<state>/batch-apply-shard-1-of-3.json).",
            show_default=False,
        ),
    ],
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Join the shard reports of one batch into the fleet's: shards 1/N..N/N each exactly once, of one "
            "inventory and --select (anything else is refused, exit 2).",
        ),
    ] = False,
    report: ReportCopyOption = None,
    html: HtmlOption = None,
    output: OutputOption = OutputFormat.TEXT,
    profile: StateProfileOption = None,
    region: StateRegionOption = None,
) -> None:
    """Show a batch report; with --merge, join the shard reports of one batch into the fleet's report. A report
    is read strictly: anything but a report a batch command wrote is exit 2. --html writes it as a dashboard
    page too."""
    access = StateAccess(profile, region)
    _check_outputs(access, report, html)
    loaded = [(ref, read_report(_report_text(ref, access), ref)) for ref in reports]
    if not merge and len(loaded) > 1:
        raise InputError("several reports: pass --merge to join them")
    joined = merge_reports(loaded) if merge else loaded[0][1]
    if html is not None:
        _write_dashboard(joined, html, access)
    _finish(joined, output, None, report, save=False, access=access)


def _report_text(ref: str, access: StateAccess) -> str:
    """The text of the report `ref` names: a file, or an object of S3 (read as any state object is)."""
    try:
        if not is_s3_url(ref):
            return Path(ref).read_text(encoding="utf-8")
        folder, name = open_object(ref, access, label="REPORT")
        stored = folder.get(name)
        if stored is None:
            raise InputError(f"{ref}: no such report")
        return stored.data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{ref}: cannot read the report: {error}") from None
