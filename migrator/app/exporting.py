"""The export use case: a plan file, plus what its journal says apply kept in place of a planned entry (the
admin entry EKS made for the cluster creator), -> the entries to hand to Terraform or CloudFormation."""

from __future__ import annotations

from migrator.app.running import PlanRun
from migrator.app.state import StateAccess
from migrator.errors import InputError
from migrator.export import ExportSet, select_entries
from migrator.model import CreateEntry
from migrator.ports import StateStore
from migrator.run.journal import read_state


def export_selection(
    plan_file: str, state: StateStore | None, access: StateAccess | None = None, *, include_eks_managed: bool
) -> ExportSet:
    """Reads the plan (refusing an edited one) and its journal, if any; makes no AWS or Kubernetes call."""
    run = PlanRun.open(plan_file, state, access)
    journaled = read_state(run.journal)
    creators = frozenset(
        step.entry.principal_arn
        for step in run.plan.steps
        if isinstance(step, CreateEntry)
        and journaled.of(step.id).done
        and journaled.of(step.id).detail.get("eksCreated")
    )
    try:
        return select_entries(run.plan, include_eks_managed=include_eks_managed, creator_entries=creators)
    except InputError as error:
        raise InputError(f"{plan_file}: {error}", hint=error.hint) from None
