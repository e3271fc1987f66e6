"""The export use case: a plan file, plus what its journal says apply kept in place of a planned entry (the
admin entry EKS made for the cluster creator), -> the entries to hand to Terraform or CloudFormation."""

from __future__ import annotations

from pathlib import Path

from migrator.app.running import PlanRun
from migrator.errors import InputError
from migrator.export import ExportSet, select_entries
from migrator.model import CreateEntry
from migrator.run.journal import read_state


def export_selection(plan_file: Path, plans_dir: Path | None, *, include_eks_managed: bool) -> ExportSet:
    """Reads the plan (refusing an edited one) and its journal, if any; makes no AWS or Kubernetes call."""
    run = PlanRun.open(plan_file, plans_dir)
    state = read_state(run.journal)
    creators = frozenset(
        step.entry.principal_arn
        for step in run.plan.steps
        if isinstance(step, CreateEntry) and state.of(step.id).done and state.of(step.id).detail.get("eksCreated")
    )
    try:
        return select_entries(run.plan, include_eks_managed=include_eks_managed, creator_entries=creators)
    except InputError as error:
        raise InputError(f"{plan_file}: {error}", hint=error.hint) from None
