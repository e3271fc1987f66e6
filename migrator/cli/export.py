"""`aws-auth-migrate export`: a plan's entries as Terraform (with import blocks) or CloudFormation (with the
ResourcesToImport list), so infrastructure as code adopts what the migration made instead of fighting it."""

from __future__ import annotations

import os
import stat
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from migrator.app.exporting import export_selection
from migrator.cli import app
from migrator.cli.render import clean
from migrator.cli.run import PlansDirOption
from migrator.errors import InputError
from migrator.export import ExportSet, check_cluster_name_expr, export_cloudformation, export_terraform
from migrator.files import atomic_write, check_writable_target

IMPORTS_SUFFIX = ".resources-to-import.json"


class ExportFormat(StrEnum):
    TERRAFORM = "terraform"
    CLOUDFORMATION = "cloudformation"


@app.command("export")
def export_plan(
    plan_file: Annotated[Path, typer.Argument(help="A plan file written by `plan` (and applied).", show_default=False)],
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
            f"template file; the ResourcesToImport list goes next to it (<name>{IMPORTS_SUFFIX}). Default: stdout."
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
) -> None:
    """Hand the migrated entries to Terraform or CloudFormation.

    The adoption workflow: apply the plan until it has finished, then export it. For Terraform, put the two
    files into the configuration that manages the cluster, run `terraform plan` (it shows only imports: one
    per access entry and per policy association, no change) and `terraform apply`; from then on Terraform
    owns the entries and the next apply no longer fails with "already in use". For CloudFormation, create a
    change set of type IMPORT with the template and --resources-to-import file://<the list>, then execute it.
    Entries EKS makes for managed node groups and Fargate profiles stay EKS's unless --include-eks-managed.
    Nothing is read from AWS: the plan is the input, and its journal says which planned entry apply kept as
    EKS made it (the cluster creator's admin entry).
    """
    if cluster_name_expr is not None:
        if export_format is not ExportFormat.TERRAFORM:
            raise InputError("--cluster-name-expr is for --format terraform (CloudFormation names the cluster)")
        check_cluster_name_expr(cluster_name_expr)
    selected = export_selection(plan_file, plans_dir, include_eks_managed=include_eks_managed)
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
    if out is None:
        sys.stdout.write(exported.combined())
        return
    imports = out.with_name(out.name.removesuffix(out.suffix) + IMPORTS_SUFFIX)
    _write({out: exported.template, imports: exported.resources_to_import})
    _say(f"Wrote {out} ({exported.resources} AWS::EKS::AccessEntry resources) and {imports}")
    _say(
        "Adopt them with: aws cloudformation create-change-set --change-set-type IMPORT --stack-name STACK "
        f"--change-set-name adopt-access-entries --template-body file://{out} --resources-to-import file://{imports}"
    )


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
