"""The plan: what a planner decided for one cluster, as plain frozen data. Written to a file for review
(plan/planfile.py) and applied by the executor, which never trusts it for a safety decision: gates come from
the step kinds, and a gate's blockers from the plan's findings as re-derived on load."""

from __future__ import annotations

from dataclasses import dataclass

from migrator.model.domain import AuthMode, ClusterRef, Finding, PlannedEntry, PrincipalLookup, Severity
from migrator.model.steps import RemoveAwsAuth, SetMode, Step
from migrator.model.usage import UsageEvidence

PLAN_SCHEMA = "aws-auth-migrate/plan/v3"
# Blockers of the remove-aws-auth step alone: the migration is safe with them, only deleting aws-auth is not.
REMOVAL_BLOCKER_CODES = frozenset({"AWS_AUTH_MANAGED"})


@dataclass(frozen=True)
class Fingerprint:
    """The state a plan was made from; apply refuses the plan when the cluster no longer matches."""

    aws_auth_sha256: str
    aws_auth_resource_version: str | None
    authentication_mode: AuthMode
    entries_sha256: str
    offline: bool


@dataclass(frozen=True)
class IamAnswer:
    """What IAM said, when the plan was made, of one principal that aws-auth names, where that was anything but
    "found, at the ARN aws-auth names" (a path, another case, not found, not looked up). Apply may not reach IAM
    in every account the plan did (--iam-role): it then plans again with these answers, but only with those
    that cannot cost anyone access (app/replan.py)."""

    principal_arn: str  # as aws-auth names it
    lookup: PrincipalLookup


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
    accept_managed_aws_auth: bool = False  # --accept-managed-aws-auth: the owner's source no longer has aws-auth
    iam: tuple[IamAnswer, ...] = ()  # IAM's answers, where not the trivial one (a live plan only)

    @property
    def offline(self) -> bool:
        return self.fingerprint.offline

    @property
    def blockers(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.BLOCKER)

    @property
    def api_blockers(self) -> tuple[Finding, ...]:
        """The blockers that keep the API gate shut: all but those of the removal of aws-auth alone."""
        return tuple(f for f in self.blockers if f.code not in REMOVAL_BLOCKER_CODES)

    def gate_blockers(self, step: Step) -> tuple[Finding, ...]:
        """The findings that keep this gate (or the removal of aws-auth) shut. Leaving CONFIG_MAP needs a
        platform version that supports access entries; entering API needs no blocker at all (a blocked
        principal would lose access) but those of the removal; removing aws-auth needs no owner that
        re-applies it (AWS_AUTH_MANAGED), which the remove-aws-auth step itself checks again."""
        if isinstance(step, RemoveAwsAuth):
            return tuple(f for f in self.blockers if f.code in REMOVAL_BLOCKER_CODES)
        if not isinstance(step, SetMode):
            return ()
        if step.mode is AuthMode.API:
            return self.api_blockers
        return tuple(f for f in self.blockers if f.code == "PLATFORM_VERSION")

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
