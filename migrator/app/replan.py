"""Apply trusts no plan field for a safety decision: before the first step of a plan, the planner runs again
on the cluster as it is now, with the plan's recorded options, and the plan must be what it produces.

The integrity hash catches accidents only: whoever can edit a plan file can recompute it. A self-consistent
edit (a developer made cluster-admin, a blocker removed, a gate flag turned off) therefore changes what the
planner would not produce, and apply refuses it (exit 3). Later runs of the same plan resume from its journal,
which is named by the plan's content hash: an edited plan is another plan, with no journal, and is checked
again. The same holds for the API gate and `verify`: they compare the live entries with the plan's entries,
which are then exactly what aws-auth gives, because aws-auth is re-read before each gate and must not have
changed since.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from migrator.errors import StalePlanError
from migrator.model import LookupStatus, Plan, PrincipalLookup, Snapshot
from migrator.plan.compare import plan_differences
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import live_snapshot
from migrator.ports import EksGateway, IamDirectory, KubeGateway
from migrator.rules.arn import Arn, ArnError, parse_arn
from migrator.run.freshness import config_map_seen, raise_if_stale, stale_problems


class PlannedPaths:
    """IAM as the plan saw it where IAM cannot answer now (an account whose reader role `plan` was given
    with --iam-role): the principal's ARN with the path the plan resolved, for that same principal only."""

    def __init__(self, live: IamDirectory, plan: Plan) -> None:
        self._live = live
        self._paths: dict[str, str] = {}
        for entry in plan.entries:
            try:
                self._paths[parse_arn(entry.spec.principal_arn).lookup_key] = entry.spec.principal_arn
            except ArnError:
                continue

    def prefetch(self, arns: Sequence[Arn]) -> None:
        self._live.prefetch(arns)

    def lookup(self, arn: Arn) -> PrincipalLookup:
        found = self._live.lookup(arn)
        planned = self._paths.get(arn.lookup_key)
        if found.status is LookupStatus.UNRESOLVED and planned is not None:
            return PrincipalLookup(LookupStatus.FOUND, planned)
        return found


def replanned(plan: Plan, snapshot: Snapshot) -> Plan:
    """The plan the planner makes of `snapshot` with the plan's recorded options (and its caller: the caller
    running apply is checked live at the API gate)."""
    options = PlanOptions(
        target=plan.target,
        remove_aws_auth=plan.remove_aws_auth,
        created_at=plan.created_at,
        tool_version=plan.tool_version,
        prefer_access_policies=plan.prefer_access_policies,
        accept_narrowing=plan.accept_narrowing,
    )
    return build_plan(dataclasses.replace(snapshot, caller_arn=plan.caller_arn), options)


def refuse_unless_replanned(plan: Plan, eks: EksGateway, kube: KubeGateway, iam: IamDirectory) -> Snapshot:
    """The cluster as read now; StalePlanError (exit 3) unless the planner, run on it, makes this plan (its
    fingerprint included: a cluster that changed since, or a fingerprint that was edited, is refused)."""
    snapshot = live_snapshot(
        eks, kube, PlannedPaths(iam, plan), aws_auth_label=f"{plan.cluster.name}:aws-auth", rbac=plan.rbac
    )
    derived = replanned(plan, snapshot)
    if derived.fingerprint != plan.fingerprint:
        # Stale, or a fingerprint edited: refuse either way, with what changed where the stale check can say
        # it, else with the fields that differ (an edited fingerprint must never skip this comparison).
        problems = stale_problems(plan, snapshot.mode, config_map_seen(snapshot), snapshot.entries)
        fields = [
            f"fingerprint.{field.name} is {getattr(plan.fingerprint, field.name)!r} in the plan, "
            f"{getattr(derived.fingerprint, field.name)!r} now"
            for field in dataclasses.fields(plan.fingerprint)
            if getattr(plan.fingerprint, field.name) != getattr(derived.fingerprint, field.name)
        ]
        raise_if_stale(problems or fields, plan)
    if differences := plan_differences(plan, derived):
        raise StalePlanError(
            "the plan is not what aws-auth-migrate plans from this cluster now:\n"
            + "\n".join(f"  - {d}" for d in differences),
            hint="if nobody edited the plan file, the cluster changed (node groups, Fargate profiles, IAM paths, "
            "the platform version): make a new plan",
        )
    return snapshot
