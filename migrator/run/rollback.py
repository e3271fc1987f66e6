"""Roll back a plan: undo, newest first, what this plan's runs did and can safely be undone.

Each step's handler decides what undoing it means (step_*.py `undo`): a mode switch is kept (EKS cannot go
back), an adopted entry is kept (not ours), an entry is kept in API mode (deleting it would lock its principal
out), aws-auth is restored from its backup. A policy whose entry is being deleted goes with the entry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from migrator.model import AuthMode, Plan, Step, StepKind
from migrator.ports import EksGateway
from migrator.rules.arn import entry_key
from migrator.run.freshness import check_same_cluster
from migrator.run.journal import Event, JournalState
from migrator.run.observer import RunReport, RunResult, StepStatus
from migrator.run.record import RunRecord
from migrator.run.steps import handler_for
from migrator.run.steps.context import RunContext


def rollback_candidates(plan: Plan, prior: JournalState) -> list[Step]:
    return [s for s in reversed(plan.steps) if prior.of(s.id).done or prior.of(s.id).attempted]


class Rollback:
    """One plan's rollback, written to the executor's RunRecord (journal, observer, report)."""

    def __init__(
        self,
        plan: Plan,
        eks: EksGateway,
        record: RunRecord,
        *,
        backup_path: Path,
        make_context: Callable[[JournalState, AuthMode], RunContext],
    ) -> None:
        self.plan = plan
        self.eks = eks
        self.record = record
        self.backup_path = backup_path
        self.make_context = make_context

    def preview(self) -> list[str]:
        """What `rollback` would do, one line per step, from the journal and the live mode (read-only)."""
        prior = self.record.read_journal()
        candidates = rollback_candidates(self.plan, prior)
        if not candidates:
            return []
        api = self.eks.describe_cluster().mode is AuthMode.API
        lines: list[str] = []
        for step in candidates:
            state, arn = prior.of(step.id), step.principal_arn
            ours = state.created or state.attempted
            if step.kind is StepKind.CREATE_ENTRY:
                if not ours:
                    lines.append(f"keep   {step.id}: the entry of {arn} existed before (adopted)")
                elif api:
                    lines.append(f"keep   {step.id}: API mode; deleting the entry of {arn} would lock it out")
                else:
                    lines.append(f"undo   {step.id}: delete the entry of {arn} (it falls back to aws-auth)")
            elif step.kind is StepKind.ASSOCIATE_POLICY and ours:
                action = "keep  " if api else "undo  "
                lines.append(f"{action} {step.id}: {step.params['policyArn'].rsplit('/', 1)[-1]} of {arn}")
            elif step.kind is StepKind.REMOVE_AWS_AUTH:
                lines.append(f"undo   {step.id}: re-create kube-system/aws-auth from {self.backup_path}")
            elif step.kind is StepKind.REPAIR_NODE_ENTRY:
                lines.append(f"keep   {step.id}: an EC2_LINUX entry would break the Windows nodes again")
            elif step.kind is StepKind.SET_MODE:
                lines.append(f"keep   {step.id}: EKS cannot leave {step.params['mode']} (one way)")
        return lines

    def run(self) -> RunReport:
        prior = self.record.read_journal()
        candidates = rollback_candidates(self.plan, prior)
        if not candidates:
            return self.record.report(
                RunResult.NOTHING_TO_DO, "nothing of this plan was done: nothing to undo", prior=prior
            )
        info = self.eks.describe_cluster()
        check_same_cluster(self.plan, info)
        ctx = self.make_context(prior, info.mode)
        deleting = {
            entry_key(s.principal_arn or "")
            for s in candidates
            if s.kind is StepKind.CREATE_ENTRY and (prior.of(s.id).created or prior.of(s.id).attempted)
        }
        dropped: dict[str, list[Step]] = {}
        self.record.start("rollback", len(candidates))
        for step in candidates:
            state = prior.of(step.id)
            key = entry_key(step.principal_arn or "")
            if step.kind is StepKind.ASSOCIATE_POLICY and key in deleting and ctx.mode is not AuthMode.API:
                dropped.setdefault(key, []).append(step)  # DeleteAccessEntry drops it with the entry
                continue
            self.record.mark(step, StepStatus.RUNNING)
            try:
                undo = handler_for(step).undo(step, state, ctx)
            except Exception as error:
                self.record.fail(step, error)
                for policy_step in dropped.pop(key, []):
                    self.record.mark(policy_step, StepStatus.KEPT, {"reason": "its entry was not deleted"})
                continue
            if undo is None:
                self.record.mark(step, StepStatus.DONE if state.done else StepStatus.PENDING, dict(state.detail))
                continue
            detail = {**undo.detail, **({"reason": undo.reason} if undo.reason else {})}
            if undo.status is StepStatus.UNDONE:
                self.record.journal(Event.STEP_UNDONE, step.id, **undo.detail)
                self.record.count_applied()
            self.record.mark(step, undo.status, detail)
            for policy_step in dropped.pop(key, []):
                if undo.status is StepStatus.UNDONE:
                    self.record.journal(Event.STEP_UNDONE, policy_step.id, droppedWithEntry=True)
                    self.record.mark(policy_step, StepStatus.UNDONE, {"droppedWithEntry": True})
                else:
                    self.record.mark(policy_step, StepStatus.KEPT, {"reason": "its entry was kept"})
        report = self._outcome(prior)
        self.record.finish(report.result, failures=list(report.failures))
        return report

    def _outcome(self, prior: JournalState) -> RunReport:
        kept = [step_id for step_id, (status, _) in self.record.statuses.items() if status is StepStatus.KEPT]
        if self.record.failures:
            return self.record.report(RunResult.FAILED, "rollback could not undo everything", prior=prior)
        kept_text = f"; kept {len(kept)} step(s) that cannot safely be undone (each says why)" if kept else ""
        if not self.record.applied:
            return self.record.report(RunResult.NOTHING_TO_DO, f"nothing left to undo{kept_text}", prior=prior)
        return self.record.report(
            RunResult.ROLLED_BACK, f"rolled back {self.record.applied} step(s){kept_text}", prior=prior
        )
