"""`aws-auth-migrate export`: a plan's entries as Terraform (with import blocks) or CloudFormation (with the
ResourcesToImport list), so infrastructure as code adopts what the migration made instead of fighting it."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from migrator.app.exporting import export_selection
from migrator.app.state import StateAccess
from migrator.cli import app
from migrator.cli.render import clean
from migrator.cli.run import PlansDirOption
from migrator.cli.state import StateOption, StateProfileOption, StateRegionOption, state_for_plan, state_store
from migrator.errors import InputError
from migrator.export import ExportSet, check_cluster_name_expr, export_cloudformation, export_terraform
from migrator.export.cloudformation import MAX_IMPORTED_RESOURCES, MAX_INLINE_BYTES, CloudFormationPart
from migrator.files import atomic_write, check_writable_target

IMPORTS_SUFFIX = ".resources-to-import.json"


class ExportFormat(StrEnum):
    TERRAFORM = "terraform"
    CLOUDFORMATION = "cloudformation"


@app.command("export")
def export_plan(
    ctx: typer.Context,
    plan_file: Annotated[
        str,
        typer.Argument(
            help="A plan written by `plan` (and applied): a file or an s3://BUCKET/KEY object.", show_default=False
        ),
    ],
    export_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="terraform: resources and import blocks; cloudformation: a template and its ResourcesToImport.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            help="terraform: an existing directory, gets access_entries.tf and imports.tf. cloudformation: the "
            f"template file; the ResourcesToImport list goes next to it (<name>{IMPORTS_SUFFIX}). More entries "
            f"than one template takes ({MAX_IMPORTED_RESOURCES} per import, {MAX_INLINE_BYTES:,} bytes inline) "
            "are split into parts, <name>-part-<bits>, one stack each. Default: stdout."
        ),
    ] = None,
    cluster_name_expr: Annotated[
        str | None,
        typer.Option(
            help="terraform: a reference to use as each resource's cluster_name instead of the literal name, e.g. "
            "module.eks.cluster_name (import IDs keep the literal name)."
        ),
    ] = None,
    include_eks_managed: Annotated[
        bool,
        typer.Option(
            help="Also export the entries EKS makes itself for managed node groups and Fargate profiles "
            "(otherwise they are listed in a comment)."
        ),
    ] = False,
    plans_dir: PlansDirOption = None,
    state: StateOption = None,
    profile: StateProfileOption = None,
    region: StateRegionOption = None,
) -> None:
    """Hand the migrated entries to Terraform or CloudFormation.

    The adoption workflow: apply the plan until it has finished, then export it. For Terraform, put the two
    files into the configuration that manages the cluster, run `terraform plan` (it shows only imports: one
    per access entry and per policy association, no change) and `terraform apply`; from then on Terraform
    owns the entries and the next apply no longer fails with "already in use". For CloudFormation, create a
    change set of type IMPORT with the template and --resources-to-import file://<the list>, then execute it
    (a large cluster's entries come in several templates, one stack each; the commands are printed).
    Entries EKS makes for managed node groups and Fargate profiles stay EKS's unless --include-eks-managed.
    Nothing is read from AWS: the plan is the input, and its journal says which planned entry apply kept as
    EKS made it (the cluster creator's admin entry).
    """
    if cluster_name_expr is not None:
        if export_format is not ExportFormat.TERRAFORM:
            raise InputError("--cluster-name-expr is for --format terraform (CloudFormation names the cluster)")
        check_cluster_name_expr(cluster_name_expr)
    state, plans_dir = state_for_plan(ctx, plan_file, state, plans_dir)
    store = state_store(state, plans_dir, profile=profile, region=region)
    selected = export_selection(plan_file, store, StateAccess(profile, region), include_eks_managed=include_eks_managed)
    if export_format is ExportFormat.TERRAFORM:
        _terraform(selected, out, cluster_name_expr)
    else:
        _cloudformation(selected, out)
    _notes(selected)


def _terraform(selected: ExportSet, out: Path | None, cluster_name_expr: str | None) -> None:
    exported = export_terraform(selected, cluster_name_expr=cluster_name_expr)
    if out is None:
        sys.stdout.write(exported.combined())
        return
    _check_directory(out)
    _write({out / name: text for name, text in exported.files().items()})
    _say(
        f"Wrote {out / 'access_entries.tf'} ({exported.resources} resources) and {out / 'imports.tf'} "
        f"({exported.imports} import blocks)"
    )


def _cloudformation(selected: ExportSet, out: Path | None) -> None:
    exported = export_cloudformation(selected)
    parts = exported.parts
    if out is None:
        sys.stdout.write(exported.combined())
        if len(parts) > 1:
            _say(
                f"note: {exported.resources} entries in {len(parts)} templates, each followed by its ResourcesToImport "
                f"(a change set imports at most {MAX_IMPORTED_RESOURCES} resources, an inline template is at most "
                f"{MAX_INLINE_BYTES:,} bytes); --out FILE writes them as files, with the commands that adopt them"
            )
        return
    files = {part: _part_files(out, part, single=len(parts) == 1) for part in parts}
    written: dict[Path, str] = {}
    for part, (template, imports) in files.items():
        written[template], written[imports] = part.template, part.resources_to_import
    _write(written)
    if len(parts) > 1:
        _say(
            f"{exported.resources} AWS::EKS::AccessEntry resources in {len(parts)} templates, one stack each: a "
            f"change set imports at most {MAX_IMPORTED_RESOURCES} resources and a template passed inline is at most "
            f"{MAX_INLINE_BYTES:,} bytes. An entry's part is the leading bits of the SHA-256 of its principal ARN, "
            "so exporting again after adding principals keeps every entry in its part unless that part splits."
        )
    _say("Adopt them with (STACK: a name of your choice):")
    for part, (template, imports) in files.items():
        stack = "STACK" if len(parts) == 1 else f"STACK-part-{part.bits}"
        if part.inline:
            source = f"--template-body {shlex.quote(f'file://{template}')}"
        else:
            _say(
                f"  {template} is {part.template_bytes:,} bytes, more than the {MAX_INLINE_BYTES:,} a --template-body "
                "takes: upload it to an S3 bucket and pass its URL"
            )
            source = f"--template-url https://BUCKET.s3.REGION.amazonaws.com/{shlex.quote(template.name)}"
        _say(
            f"  aws cloudformation create-change-set --change-set-type IMPORT --stack-name {stack} "
            f"--change-set-name adopt-access-entries {source} --resources-to-import "
            f"{shlex.quote(f'file://{imports}')}  # {part.resources} resources"
        )
    each, stack = ("then", "STACK") if len(parts) == 1 else ("then, for each stack", "STACK-part-BITS")
    _say(f"{each}: aws cloudformation execute-change-set --stack-name {stack} --change-set-name adopt-access-entries")


def _part_files(out: Path, part: CloudFormationPart, *, single: bool) -> tuple[Path, Path]:
    """FILE and FILE's stem + .resources-to-import.json; for a part of several, `-part-<bits>` after the stem."""
    stem = out.name.removesuffix(out.suffix)
    if not single:
        stem = f"{stem}-part-{part.bits}"
    return out.with_name(stem + out.suffix), out.with_name(stem + IMPORTS_SUFFIX)


def _write(files: dict[Path, str]) -> None:
    """Every target is checked before the first is written, so a refused one leaves no half export."""
    for path in files:
        check_writable_target(path)
    for path, text in files.items():
        atomic_write(path, text.encode("utf-8"))


def _check_directory(out: Path) -> None:
    try:
        info = os.stat(out)
    except FileNotFoundError:
        raise InputError(f"{out}: no such directory", hint="--out names an existing directory for terraform") from None
    except OSError as error:
        raise InputError(f"{out}: {error.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{out}: is not a directory", hint="--out names an existing directory for terraform")


def _notes(selected: ExportSet) -> None:
    if selected.eks_managed:
        _say(
            f"note: {len(selected.eks_managed)} entries EKS manages (node groups, Fargate profiles) are listed, "
            "not exported; --include-eks-managed exports them too"
        )
    if selected.skipped:
        _say(f"note: {selected.skipped} aws-auth mappings get no entry (dead or blocked; see `show`)")


def _say(text: str) -> None:
    print(clean(text), file=sys.stderr)
