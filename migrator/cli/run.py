"""`apply`, `status` and `rollback`: registered on the app of migrator/cli.py (imported at its bottom).

Where a plan's run keeps its files: the *run directory*, `<--plans-dir>/<cluster>/` when --plans-dir (or
AWS_AUTH_MIGRATE_PLANS) is given, else the plan file's own directory (which is `<plans dir>/<cluster>/` for
plans written by `plan`). It holds `<planId>.journal.jsonl`, `<planId>.aws-auth.backup.json` and the
cluster's `.apply.lock`.

Interactive when stdin is a terminal and --yes is not given; with --yes, gates still need --approve-gate.
Without --yes and without a terminal the commands refuse (a pipe cannot answer prompts; guessing "yes"
would be dangerous, guessing "no" useless). A dry run never prompts and needs no --yes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from migrator.cli import (
    KubeContextOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    RoleArnOption,
    app,
    print_error,
    print_internal_error,
    stderr,
    stdout,
)
from migrator.cli.render.run import RichPrompter, print_report, progress_observer, report_json
from migrator.errors import InputError, MigratorError
from migrator.model import AuthMode, ClusterRef, Plan
from migrator.plan.planfile import load_plan, plan_to_dict
from migrator.ports import EksGateway, KubeGateway
from migrator.run.executor import Executor
from migrator.run.journal import Journal, journal_path, read_state
from migrator.run.lock import ClusterLock, holder_alive, lock_path, read_holder
from migrator.run.observer import RunReport, status_report
from migrator.run.steps import PollPolicy


class GateMode(StrEnum):
    API_AND_CONFIG_MAP = "API_AND_CONFIG_MAP"
    API = "API"


PlanArgument = Annotated[
    Path, typer.Argument(help="A plan file written by `plan` against the cluster.", show_default=False)
]
PlansDirOption = Annotated[
    Path | None,
    typer.Option(
        envvar="AWS_AUTH_MIGRATE_PLANS",
        help="Keep the journal, backup and lock in <dir>/<cluster>/ (default: next to the plan file).",
        show_default=False,
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="No prompts (gates still need --approve-gate).")]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=1, help="Seconds to wait for each EKS mode update (and updates before it).")
]


def connect_gateways(
    cluster: ClusterRef, *, profile: str | None, role_arn: str | None, kube_context: str | None
) -> tuple[EksGateway, KubeGateway]:
    """The real gateways for the plan's cluster, refusing credentials that reach another account."""
    from migrator.connect import ConnectOptions, connect

    connection = connect(cluster.name, ConnectOptions(cluster.region, profile, role_arn, kube_context))
    if connection.info.account != cluster.account:
        raise InputError(
            f"the credentials reach cluster {cluster.name} in account {connection.info.account}, but the plan is "
            f"for account {cluster.account}",
            hint="use --profile or --role-arn for the plan's account",
        )
    return connection.eks, connection.kube


@dataclass(frozen=True)
class AwsAccess:
    profile: str | None
    role_arn: str | None
    kube_context: str | None


def _executor(plan_file: Path, plan: Plan, run_dir: Path, access: AwsAccess, **options: Any) -> Executor:
    """One Executor for apply and rollback: the plan's cluster, its journal, and how far and fast to go."""
    eks, kube = connect_gateways(
        plan.cluster, profile=access.profile, role_arn=access.role_arn, kube_context=access.kube_context
    )
    plan_id = _plan_id(plan)
    journal = Journal(journal_path(run_dir, plan_id), plan_id)
    return Executor(plan, eks, kube, journal, plan_label=str(plan_file), **options)


@contextlib.contextmanager
def _locked(run_dir: Path, executor: Executor) -> Iterator[None]:
    with ClusterLock(lock_path(run_dir), executor.plan.cluster.name, executor.plan_id) as lock:
        if lock.stale_message:
            stderr.print(f"note: {lock.stale_message}", highlight=False, markup=False)
        yield


def _run_dir(plan_file: Path, plan: Plan, plans_dir: Path | None) -> Path:
    return plans_dir / plan.cluster.name if plans_dir is not None else plan_file.resolve().parent


def _plan_id(plan: Plan) -> str:
    return str(plan_to_dict(plan)["planId"])


def _interactive(yes: bool, dry_run: bool = False) -> bool:
    if yes or dry_run:
        return False
    if not sys.stdin.isatty():
        raise InputError(
            "stdin is not a terminal, so nobody can answer the prompts",
            hint="pass --yes to run without prompts (gates then need --approve-gate MODE)",
        )
    return True


def _emit(report: RunReport, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print(report_json(report))
    else:
        print_report(report, stdout)
    error = report.error
    if error is not None and not isinstance(error, MigratorError):  # a bug inside a step: as cli.main says it
        if os.environ.get("AWS_AUTH_MIGRATE_DEBUG"):
            raise error
        print_internal_error(error)
    elif error is not None:
        print_error(error)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


@app.command()
def apply(
    plan_file: PlanArgument,
    yes: YesOption = False,
    approve_gate: Annotated[
        list[GateMode] | None,
        typer.Option("--approve-gate", help="Pass the gate into this mode without a prompt (repeatable)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Run every check; change nothing, write no journal.")] = False,
    max_concurrency: Annotated[int, typer.Option(min=1, max=64, help="Principals migrated at once.")] = 8,
    timeout: TimeoutOption = 1800.0,
    rollback_on_failure: Annotated[
        bool, typer.Option(help="When a step fails, undo what this plan did (what can safely be undone).")
    ] = False,
    poll_seconds: Annotated[
        float,
        typer.Option(min=0.05, help="First wait between polls of an EKS mode update (doubles, capped at 30 s)."),
    ] = 5.0,
    until: Annotated[
        str | None,
        typer.Option(help="Stop after this step id (and the rest of its principal's policies); re-run to go on."),
    ] = None,
    output: OutputOption = OutputFormat.TEXT,
    kube_context: KubeContextOption = None,
    profile: ProfileOption = None,
    role_arn: RoleArnOption = None,
    plans_dir: PlansDirOption = None,
) -> None:
    """Apply a plan: resumable, stops in front of each unapproved gate, journals every step."""
    plan = load_plan(plan_file)
    if plan.offline:
        raise InputError(
            f"{plan_file}: an offline plan is for review only and cannot be applied",
            hint=f"plan against the cluster: aws-auth-migrate plan --cluster {plan.cluster.name}",
        )
    interactive = _interactive(yes, dry_run)
    run_dir = _run_dir(plan_file, plan, plans_dir)
    observer = progress_observer(stderr, interactive=interactive)
    executor = _executor(
        plan_file,
        plan,
        run_dir,
        AwsAccess(profile, role_arn, kube_context),
        observer=observer,
        max_concurrency=max_concurrency,
        approvals=frozenset(AuthMode(g.value) for g in approve_gate or ()),
        prompter=RichPrompter(stderr) if interactive else None,
        dry_run=dry_run,
        timeout_seconds=timeout,
        poll=PollPolicy(initial_seconds=poll_seconds, max_seconds=max(30.0, poll_seconds)),
        until=until,
    )
    if dry_run:  # read-only: no lock, so it can run beside a real apply
        with observer:
            report = executor.apply()
    else:
        with _locked(run_dir, executor), observer:
            report = executor.apply(rollback_on_failure=rollback_on_failure)
    _emit(report, output)


@app.command()
def status(
    plan_file: PlanArgument,
    output: OutputOption = OutputFormat.TEXT,
    plans_dir: PlansDirOption = None,
) -> None:
    """Show what the journal says about a plan's runs (no AWS or Kubernetes call)."""
    plan = load_plan(plan_file)
    run_dir, plan_id = _run_dir(plan_file, plan, plans_dir), _plan_id(plan)
    state = read_state(Journal(journal_path(run_dir, plan_id), plan_id))
    holder = read_holder(lock_path(run_dir))
    running: str | None = None
    if holder is not None and holder_alive(holder) is not False:
        running = holder.describe()
    report = status_report(plan, state, plan_label=str(plan_file), holder=running)
    if output is OutputFormat.JSON:
        print(report_json(report))
    else:
        print_report(report, stdout)


@app.command()
def rollback(
    plan_file: PlanArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Undo without asking for confirmation.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for EKS to show each undone change.")
    ] = 1800.0,
    output: OutputOption = OutputFormat.TEXT,
    kube_context: KubeContextOption = None,
    profile: ProfileOption = None,
    role_arn: RoleArnOption = None,
    plans_dir: PlansDirOption = None,
) -> None:
    """Undo what this plan's runs did, newest first, where that is safe (never past the API gate)."""
    plan = load_plan(plan_file)
    interactive = _interactive(yes)
    run_dir = _run_dir(plan_file, plan, plans_dir)
    observer = progress_observer(stderr, interactive=interactive)
    executor = _executor(
        plan_file,
        plan,
        run_dir,
        AwsAccess(profile, role_arn, kube_context),
        observer=observer,
        timeout_seconds=timeout,
    )
    with _locked(run_dir, executor):
        if interactive:
            actions = executor.rollback_preview()
            if actions and not RichPrompter(stderr).confirm_rollback(actions):
                stderr.print("Nothing was changed.")
                return
        with observer:
            report = executor.rollback()
    _emit(report, output)
