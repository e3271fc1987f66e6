"""`apply`, `status` and `rollback`: registered on the app of migrator/cli.py (imported at its bottom).

Where a plan's run keeps its state: the *run directory*. A plan named by its s3:// URL runs in its own folder
(a --state on the command line must hold it). A plan file runs in its cluster's folder of the state when --state
(a directory or s3://BUCKET/PREFIX; AWS_AUTH_MIGRATE_STATE) or --plans-dir (AWS_AUTH_MIGRATE_PLANS) is given:
`<state>/<account>/<region>/<name>/` in S3, as `batch` keeps the cluster (so the two meet the same lock object),
`<dir>/<cluster>/` in a local directory; else in the plan file's own folder (which is that folder for plans
written by `plan`). It holds the journal and `<planId>.aws-auth.backup.json`, and in an S3 state the cluster's
`lock.json`.

Interactive when stdin is a terminal and --yes is not given; with --yes, gates still need --approve-gate.
Without --yes and without a terminal the commands refuse (a pipe cannot answer prompts; guessing "yes"
would be dangerous, guessing "no" useless). A dry run never prompts and needs no --yes.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from migrator.app import (
    ClusterAccess,
    PlanRun,
    RunSettings,
    apply_plan,
    connect_cluster,
    plan_status,
    rollback_plan,
    update_polling,
)
from migrator.app.state import StateAccess
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
from migrator.cli.state import (
    StateKmsKeyOption,
    StateOption,
    StateProfileOption,
    StateRegionOption,
    state_for_plan,
    state_store,
)
from migrator.errors import InputError, MigratorError
from migrator.model import AuthMode
from migrator.run.observer import RunReport
from migrator.run.settings import UPDATE_TIMEOUT_SECONDS
from migrator.state.location import is_s3_url


class GateMode(StrEnum):
    API_AND_CONFIG_MAP = "API_AND_CONFIG_MAP"
    API = "API"


PlanArgument = Annotated[
    str,
    typer.Argument(
        help="A plan written by `plan` against the cluster: a file, or an s3://BUCKET/KEY object of an S3 state.",
        show_default=False,
    ),
]
PlansDirOption = Annotated[
    Path | None,
    typer.Option(
        envvar="AWS_AUTH_MIGRATE_PLANS",
        help="Keep the journal, backup and lock of a plan file in <dir>/<cluster>/ (default: next to the plan "
        "file). --state s3://... keeps them in S3, in <state>/<account>/<region>/<cluster>/.",
        show_default=False,
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="No prompts (gates still need --approve-gate).")]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=1, help="Seconds to wait for each EKS mode update (and updates before it).")
]


def _access(
    profile: str | None,
    role_arn: str | None,
    kube_context: str | None,
    region: str | None,
    iam_roles: list[str] | None = None,
) -> ClusterAccess:
    # The region comes from the plan; connect_cluster refuses a plan without one (offline, for review).
    from migrator.wiring.connect import parse_iam_roles

    return ClusterAccess(region or "", profile, role_arn, kube_context, iam_roles=parse_iam_roles(iam_roles or []))


def _interactive(yes: bool, dry_run: bool = False) -> bool:
    if yes or dry_run:
        return False
    if not sys.stdin.isatty():
        raise InputError(
            "stdin is not a terminal, so nobody can answer the prompts",
            hint="pass --yes to run without prompts (gates then need --approve-gate MODE)",
        )
    return True


def open_run(
    ctx: typer.Context,
    plan_file: str,
    plans_dir: Path | None,
    state: str | None,
    *,
    profile: str | None = None,
    region: str | None = None,
    kms_key: str | None = None,
) -> PlanRun:
    """The plan and its run directory (see the module's docstring; --state-kms-key applies to the plan's own
    folder too when that is in S3)."""
    state, plans_dir = state_for_plan(ctx, plan_file, state, plans_dir)
    named = state is not None or plans_dir is not None
    if kms_key is not None and not named and not is_s3_url(plan_file):
        raise InputError("--state-kms-key encrypts an S3 state: give --state s3://BUCKET/PREFIX or an s3:// plan")
    store = state_store(state, plans_dir, profile=profile, region=region, kms_key=kms_key if named else None)
    return PlanRun.open(plan_file, store, StateAccess(profile, region, kms_key))


def _emit(report: RunReport, output: OutputFormat, plan_file: str) -> None:
    if output is OutputFormat.JSON:
        print(report_json(report, str(plan_file)))
    else:
        print_report(report, stdout, str(plan_file))
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
    ctx: typer.Context,
    plan_file: PlanArgument,
    yes: YesOption = False,
    approve_gate: Annotated[
        list[GateMode] | None,
        typer.Option("--approve-gate", help="Pass the gate into this mode without a prompt (repeatable)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Run every check; change nothing, write no journal.")] = False,
    max_concurrency: Annotated[int, typer.Option(min=1, max=64, help="Principals migrated at once.")] = 8,
    timeout: TimeoutOption = UPDATE_TIMEOUT_SECONDS,
    rollback_on_failure: Annotated[
        bool, typer.Option(help="When a step fails, undo what this plan did (what can safely be undone).")
    ] = False,
    poll_seconds: Annotated[
        float,
        typer.Option(min=0.05, help="First wait between polls of an EKS mode update (doubles, capped at 4 s)."),
    ] = 1.0,
    until: Annotated[
        str | None,
        typer.Option(help="Stop after this step id (and the rest of its principal's policies); re-run to go on."),
    ] = None,
    accept_managed_aws_auth: Annotated[
        bool,
        typer.Option(
            help="Let the remove-aws-auth step delete an aws-auth that a tool re-applies (AWS_AUTH_MANAGED): you "
            "have changed that tool's source since the plan was made."
        ),
    ] = False,
    output: OutputOption = OutputFormat.TEXT,
    kube_context: KubeContextOption = None,
    profile: ProfileOption = None,
    role_arn: RoleArnOption = None,
    plans_dir: PlansDirOption = None,
    state: StateOption = None,
    state_kms_key: StateKmsKeyOption = None,
    iam_role: Annotated[
        list[str] | None,
        typer.Option(
            help="ACCOUNT=ROLE_ARN: role to read IAM in another account (repeatable), as given to `plan`. Apply "
            "plans again before its first step; without it, it takes the plan's word for paths found there, but "
            "not that a principal does not exist."
        ),
    ] = None,
) -> None:
    """Apply a plan: resumable, stops in front of each unapproved gate, journals every step."""
    run = open_run(ctx, plan_file, plans_dir, state, profile=profile, kms_key=state_kms_key)
    if run.plan.offline:
        raise InputError(
            f"{plan_file}: an offline plan is for review only and cannot be applied",
            hint=f"plan against the cluster: aws-auth-migrate plan --cluster {run.plan.cluster.name}",
        )
    interactive = _interactive(yes, dry_run)
    settings = RunSettings(
        approvals=frozenset(AuthMode(g.value) for g in approve_gate or ()),
        dry_run=dry_run,
        max_concurrency=max_concurrency,
        timeout_seconds=timeout,
        poll=update_polling(poll_seconds),
        until=until,
        rollback_on_failure=rollback_on_failure,
        accept_managed_aws_auth=accept_managed_aws_auth,
    )
    access = _access(profile, role_arn, kube_context, run.plan.cluster.region, iam_role)
    ports = connect_cluster(run.plan, access)
    observer = progress_observer(stderr, interactive=interactive)
    with observer:
        report = apply_plan(
            run, ports, settings, observer=observer, prompter=RichPrompter(stderr) if interactive else None
        )
    _emit(report, output, plan_file)


@app.command()
def status(
    ctx: typer.Context,
    plan_file: PlanArgument,
    output: OutputOption = OutputFormat.TEXT,
    plans_dir: PlansDirOption = None,
    state: StateOption = None,
    profile: StateProfileOption = None,
    region: StateRegionOption = None,
) -> None:
    """Show what the journal says about a plan's runs, and who holds the cluster's lock (no AWS or Kubernetes
    call; reads of an S3 state only)."""
    _emit(plan_status(open_run(ctx, plan_file, plans_dir, state, profile=profile, region=region)), output, plan_file)


@app.command()
def rollback(
    ctx: typer.Context,
    plan_file: PlanArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Undo without asking for confirmation.")] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Check what would be undone or kept, against the cluster; change nothing.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for EKS to show each undone change.")
    ] = UPDATE_TIMEOUT_SECONDS,
    output: OutputOption = OutputFormat.TEXT,
    kube_context: KubeContextOption = None,
    profile: ProfileOption = None,
    role_arn: RoleArnOption = None,
    plans_dir: PlansDirOption = None,
    state: StateOption = None,
    state_kms_key: StateKmsKeyOption = None,
) -> None:
    """Undo what this plan's runs did, newest first, where that is safe (never past the API gate)."""
    run = open_run(ctx, plan_file, plans_dir, state, profile=profile, kms_key=state_kms_key)
    interactive = _interactive(yes, dry_run)
    ports = connect_cluster(run.plan, _access(profile, role_arn, kube_context, run.plan.cluster.region))
    observer = progress_observer(stderr, interactive=interactive)
    confirm = RichPrompter(stderr).confirm_rollback if interactive else None
    with observer:
        report = rollback_plan(
            run, ports, RunSettings(dry_run=dry_run, timeout_seconds=timeout), observer=observer, confirm=confirm
        )
    if report is None:
        stderr.print("Nothing was changed.")
        return
    _emit(report, output, plan_file)
