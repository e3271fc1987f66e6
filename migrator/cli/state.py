"""The `--state` options every command that reads or writes run state shares, and how they open the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migrator.app.state import StateAccess, holds_plan, open_state, plan_folder_in_state
from migrator.errors import InputError
from migrator.ports import StateStore
from migrator.state.location import STATE_ENV, is_s3_url

StateOption = Annotated[
    str | None,
    typer.Option(
        "--state",
        envvar=STATE_ENV,
        help="Where runs keep plans, journals, aws-auth backups, batch pointers, reports and locks: a local "
        "directory, or s3://BUCKET/PREFIX, shared by every runner that can reach it (any machine can then resume "
        "or roll back; see docs/run-state.md).",
        show_default=False,
    ),
]
StateKmsKeyOption = Annotated[
    str | None,
    typer.Option(
        "--state-kms-key",
        help="Encrypt S3 state objects with this KMS key (id, ARN or alias: SSE-KMS). Default: SSE-S3.",
        show_default=False,
    ),
]
StateProfileOption = Annotated[
    str | None, typer.Option("--profile", envvar="AWS_PROFILE", help="AWS profile for the S3 state.")
]
StateRegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
        help="AWS region to reach the S3 state from (S3 redirects to the bucket's own).",
        show_default=False,
    ),
]


def state_store(
    state: str | None,
    plans_dir: Path | None,
    *,
    profile: str | None = None,
    region: str | None = None,
    kms_key: str | None = None,
) -> StateStore | None:
    """The store `--state` (or the older `--plans-dir`) names; None when neither is given."""
    _refuse_both(state, plans_dir)
    spec = state if state is not None else plans_dir
    if spec is None:
        if kms_key is not None:
            raise InputError("--state-kms-key encrypts an S3 state: give --state s3://BUCKET/PREFIX")
        return None
    return open_state(spec, StateAccess(profile, region, kms_key))


def _refuse_both(state: str | None, plans_dir: Path | None) -> None:
    if state is not None and plans_dir is not None:
        raise InputError(
            "--state and --plans-dir (AWS_AUTH_MIGRATE_STATE and AWS_AUTH_MIGRATE_PLANS) both name where runs keep "
            "their files: give one",
        )


def on_the_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was given on the command line (not taken from its environment variable or default).
    By the source's name: typer's click (vendored or not) has its own ParameterSource class."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def state_for_plan(
    ctx: typer.Context, plan_ref: str, state: str | None, plans_dir: Path | None = None
) -> tuple[str | None, Path | None]:
    """`--state` and `--plans-dir` as they place the run of the plan `plan_ref`. A local plan file runs in its
    cluster's folder of the state they name. A plan named by its s3:// URL runs in its own folder: a state that
    holds it stays (its marker is checked, and written with the run's first object); one that does not is
    refused when given on the command line (exit 2: which folder was meant?) and set aside when it comes from
    the environment (AWS_AUTH_MIGRATE_STATE / AWS_AUTH_MIGRATE_PLANS, which a CI job exports for every
    command). Pure: nothing is read."""
    _refuse_both(state, plans_dir)
    spec, name = (state, "state") if state is not None else (plans_dir, "plans_dir")
    if spec is None or not is_s3_url(plan_ref):
        return state, plans_dir
    if on_the_command_line(ctx, name):
        plan_folder_in_state(plan_ref, str(spec))  # InputError unless it holds the plan
    elif not holds_plan(plan_ref, str(spec)):
        return None, None
    return state, plans_dir
