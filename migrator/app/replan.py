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

import contextlib
import dataclasses
import threading
from collections.abc import Sequence

from migrator.errors import StalePlanError
from migrator.model import LookupStatus, Plan, PrincipalLookup, Snapshot
from migrator.plan.compare import plan_differences
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import live_snapshot
from migrator.ports import EksGateway, IamDirectory, KubeGateway
from migrator.rules.arn import Arn, ArnError, PrincipalKind, parse_arn
from migrator.run.freshness import config_map_seen, raise_if_stale, stale_problems

MAX_NOTES = 5


class PlannedIam:
    """IAM for the re-plan: what IAM says now wherever it answers; where it cannot (an account `plan` read with
    --iam-role and apply was not given, a denied or failed read), the plan's own record of what IAM said then.

    A recorded answer is used only where it cannot cost anyone access, since whoever edits a plan can rewrite
    it: a principal's ARN with a path (for that same principal only: a wrong path makes EKS refuse the entry),
    and "not looked up" (the plan then keeps its PATH_UNRESOLVED finding, as a live plan would make now).
    "No such principal" and "a user under another path" would make a mapping dead, so it would be dropped
    unmigrated: those the re-plan believes only from IAM itself, and treats as unresolved otherwise (the plan
    is then refused as stale, with `notes` saying why and what to pass).

    Where IAM answers now and the plan recorded something else (a path found now that was not looked up then,
    another path, a principal gone), IAM's answer is used and the plan differs: it is stale, as the entries it
    would create may name the wrong principal or the plan's review lacked an answer it has now."""

    def __init__(self, live: IamDirectory, plan: Plan) -> None:
        self._live = live
        self._account = plan.cluster.account
        self._recorded: dict[str, PrincipalLookup] = {}
        # Plans written before `iamAnswers` say it through their entries (the path found) and findings.
        for entry in plan.entries:
            with contextlib.suppress(ArnError):
                key = parse_arn(entry.spec.principal_arn).lookup_key
                self._recorded[key] = PrincipalLookup(LookupStatus.FOUND, entry.spec.principal_arn)
        for unresolved in (f.principal_arn for f in plan.findings if f.code == "PATH_UNRESOLVED" and f.principal_arn):
            with contextlib.suppress(ArnError):
                self._recorded[parse_arn(unresolved).lookup_key] = PrincipalLookup(LookupStatus.UNRESOLVED)
        for answer in plan.iam:
            with contextlib.suppress(ArnError):
                self._recorded[parse_arn(answer.principal_arn).lookup_key] = answer.lookup
        self._notes: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def notes(self) -> list[str]:
        """Where the re-plan's IAM answers are not the plan's, and why: one line per principal, the first few."""
        with self._lock:
            notes = [self._notes[key] for key in sorted(self._notes)]
        if len(notes) > MAX_NOTES:
            return [*notes[:MAX_NOTES], f"... and {len(notes) - MAX_NOTES} more principals whose IAM answer changed"]
        return notes

    def prefetch(self, arns: Sequence[Arn]) -> None:
        self._live.prefetch(arns)

    def lookup(self, arn: Arn) -> PrincipalLookup:
        found = self._live.lookup(arn)
        recorded = self._recorded.get(arn.lookup_key, PrincipalLookup(LookupStatus.FOUND, str(arn)))
        if found.status is not LookupStatus.UNRESOLVED:
            if (found.status, found.arn) != (recorded.status, recorded.arn):
                self._note(arn, f"IAM says {_said(arn, found)}; when the plan was made: {_said(arn, recorded)}")
            return found
        if recorded.status is LookupStatus.UNRESOLVED:
            return found
        if _harmless(arn, recorded):
            return recorded
        remedy = (
            f"IAM access to account {arn.account}: pass --iam-role {arn.account}=ROLE_ARN to apply, as to plan"
            if arn.account != self._account
            else f"an answer from IAM ({found.reason or 'none'}): give apply's runner iam:GetRole and iam:GetUser"
        )
        self._note(
            arn,
            f"the plan says {_said(arn, recorded)}, so its mapping is not migrated; apply confirms that only with "
            f"{remedy}, or remove the mapping from aws-auth and plan again",
        )
        return found

    def _note(self, arn: Arn, text: str) -> None:
        with self._lock:
            self._notes[arn.lookup_key] = text


def _said(arn: Arn, lookup: PrincipalLookup) -> str:
    if lookup.status is LookupStatus.FOUND:
        return f"{arn} exists" if lookup.arn == str(arn) else f"{arn} is {lookup.arn}"
    if lookup.status is LookupStatus.NOT_FOUND:
        return f"{arn} does not exist"
    return f"nothing of {arn} (not looked up)"


def _harmless(arn: Arn, recorded: PrincipalLookup) -> bool:
    """Whether the re-plan may take this recorded FOUND answer on the plan's word: the same principal, and
    (for a user, whose ARN aws-auth compares whole) not one that would make the mapping match nobody."""
    try:
        same = recorded.arn is not None and parse_arn(recorded.arn).lookup_key == arn.lookup_key
    except ArnError:
        return False
    if arn.kind is PrincipalKind.USER:
        return same and recorded.arn is not None and recorded.arn.lower() == str(arn).lower()
    return same


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
        accept_managed_aws_auth=plan.accept_managed_aws_auth,
    )
    return build_plan(dataclasses.replace(snapshot, caller_arn=plan.caller_arn), options)


def refuse_unless_replanned(plan: Plan, eks: EksGateway, kube: KubeGateway, iam: IamDirectory) -> Snapshot:
    """The cluster as read now; StalePlanError (exit 3) unless the planner, run on it, makes this plan (its
    fingerprint included: a cluster that changed since, or a fingerprint that was edited, is refused)."""
    planned_iam = PlannedIam(iam, plan)
    snapshot = live_snapshot(eks, kube, planned_iam, aws_auth_label=f"{plan.cluster.name}:aws-auth", rbac=plan.rbac)
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
            + "\n".join(f"  - {d}" for d in [*planned_iam.notes, *differences]),
            hint="IAM answers otherwise now, or cannot answer where it did (the first lines say which): make a new "
            "plan, or give apply the --iam-role that plan had"
            if planned_iam.notes
            else "if nobody edited the plan file, the cluster changed (node groups, Fargate profiles, IAM paths, "
            "the platform version): make a new plan",
        )
    return snapshot
