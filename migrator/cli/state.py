"""The `--state` options every command that reads or writes run state shares, and how they open the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migrator.app.state import StateAccess, open_state
from migrator.errors import InputError
from migrator.ports import StateStore
from migrator.state.location import STATE_ENV

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
    if state is not None and plans_dir is not None:
        raise InputError(
            "--state and --plans-dir (AWS_AUTH_MIGRATE_STATE and AWS_AUTH_MIGRATE_PLANS) both name where runs keep "
            "their files: give one",
        )
    spec = state if state is not None else plans_dir
    if spec is None:
        if kms_key is not None:
            raise InputError("--state-kms-key encrypts an S3 state: give --state s3://BUCKET/PREFIX")
        return None
    return open_state(spec, StateAccess(profile, region, kms_key))
