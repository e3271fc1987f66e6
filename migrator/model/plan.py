"""The plan: what a planner decided for one cluster, as plain frozen data. Written to a file for review
(plan/planfile.py) and applied by the executor, which never trusts it for a safety decision: gates come from
the step kinds, and a gate's blockers from the plan's findings as re-derived on load."""

from __future__ import annotations

from dataclasses import dataclass

from migrator.model.domain import AuthMode, ClusterRef, Finding, PlannedEntry, Severity
from migrator.model.steps import SetMode, Step
from migrator.model.usage import UsageEvidence

PLAN_SCHEMA = "aws-auth-migrate/plan/v3"


@dataclass(frozen=True)
class Fingerprint:
    """The state a plan was made from; apply refuses the plan when the cluster no longer matches."""

    aws_auth_sha256: str
    aws_auth_resource_version: str | None
    authentication_mode: AuthMode
    entries_sha256: str
    offline: bool


@dataclass(frozen=True)
class Plan:
    cluster: ClusterRef
    current_mode: AuthMode
    target: AuthMode
    fingerprint: Fingerprint
    entries: tuple[PlannedEntry, ...]
    findings: tuple[Finding, ...]
    steps: tuple[Step, ...]
    remove_aws_auth: bool = False
    caller_arn: str | None = None
    created_at: str = ""
    tool_version: str = ""
    schema: str = PLAN_SCHEMA
    usage: UsageEvidence | None = None  # the sign-in evidence the plan was made with (--usage-since)
    rbac: bool = False  # the plan reviewed the cluster's RBAC (--rbac); apply reads it again to re-plan
    prefer_access_policies: bool = False  # --prefer-access-policies
    accept_narrowing: bool = False  # --accept-narrowing

    @property
    def offline(self) -> bool:
        return self.fingerprint.offline

    @property
    def blockers(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.BLOCKER)

    def gate_blockers(self, step: Step) -> tuple[Finding, ...]:
        """The findings that keep this gate shut. Leaving CONFIG_MAP needs a platform version that supports
        access entries; entering API needs no blocker at all (a blocked principal would lose access)."""
        if not isinstance(step, SetMode):
            return ()
        if step.mode is AuthMode.API:
            return self.blockers
        return tuple(f for f in self.blockers if f.code == "PLATFORM_VERSION")

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
