"""What apply's re-plan takes as IAM's answer (app/replan.py `PlannedIam`): IAM's own where it answers now, the
plan's record where it cannot, and never a recorded answer that would drop a mapping unmigrated."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from migrator.app.replan import PlannedIam
from migrator.errors import PlanIntegrityError
from migrator.model import AuthMode, AwsAuth, IamAnswer, LookupStatus, Plan, PrincipalLookup
from migrator.plan.planfile import load_plan, plan_to_dict, write_plan
from migrator.plan.planner import PlanOptions, build_plan
from migrator.rules.arn import Arn, parse_arn
from tests.support.arns import OTHER_ACCOUNT, role, user
from tests.unit.test_planfile import _rehashed
from tests.unit.test_planner import roles, snapshot, users

FOUND, NOT_FOUND, UNRESOLVED = LookupStatus.FOUND, LookupStatus.NOT_FOUND, LookupStatus.UNRESOLVED
NO_ACCESS = PrincipalLookup(UNRESOLVED, reason=f"no IAM access to account {OTHER_ACCOUNT}")

CI = role("ci", OTHER_ACCOUNT)  # IAM never answered for it
COLLECTOR = role("collector", OTHER_ACCOUNT)  # under a path
GONE = role("gone", OTHER_ACCOUNT)  # IAM said: no such role
BOB = user("bob", OTHER_ACCOUNT)  # IAM said: user/ops/bob, so the mapping matches nobody
DEV = role("Dev")  # the cluster's account, no path

PLAN_TIME = {
    CI: PrincipalLookup(UNRESOLVED, reason="no IAM access"),
    COLLECTOR: PrincipalLookup(FOUND, role("teams/obs/collector", OTHER_ACCOUNT)),
    GONE: PrincipalLookup(NOT_FOUND, reason="no such role"),
    BOB: PrincipalLookup(FOUND, user("ops/bob", OTHER_ACCOUNT)),
    DEV: PrincipalLookup(FOUND, DEV),
}


def key(arn: str) -> str:
    return parse_arn(arn).lookup_key


class ScriptedIam:
    """IAM as apply's runner sees it: `answers` by ARN, anything else unreadable."""

    def __init__(self, answers: dict[str, PrincipalLookup] | None = None) -> None:
        self.answers = {key(arn): lookup for arn, lookup in (answers or {}).items()}

    def lookup(self, arn: Arn) -> PrincipalLookup:
        return self.answers.get(arn.lookup_key, NO_ACCESS)

    def prefetch(self, arns: Sequence[Arn]) -> None:
        pass


def cross_account_plan() -> Plan:
    aws_auth = AwsAuth(
        map_roles=roles(*((arn, "u:{{SessionName}}", ("g",)) for arn in (CI, COLLECTOR, GONE, DEV))),
        map_users=users((BOB, "bob", ("ops",))),
        sha256="s",
        resource_version="1",
    )
    made = snapshot(aws_auth, iam={key(arn): lookup for arn, lookup in PLAN_TIME.items()})
    return build_plan(made, PlanOptions(target=AuthMode.API))


def answers(plan: Plan, iam: ScriptedIam) -> tuple[dict[str, PrincipalLookup], PlannedIam]:
    planned = PlannedIam(iam, plan)
    return {arn: planned.lookup(parse_arn(arn)) for arn in PLAN_TIME}, planned


def test_the_plan_records_every_answer_but_found_at_the_mapped_arn_in_aws_auth_order() -> None:
    plan = cross_account_plan()
    assert plan.iam == (
        IamAnswer(CI, PrincipalLookup(UNRESOLVED)),
        IamAnswer(COLLECTOR, PrincipalLookup(FOUND, role("teams/obs/collector", OTHER_ACCOUNT))),
        IamAnswer(GONE, PrincipalLookup(NOT_FOUND)),
        IamAnswer(BOB, PrincipalLookup(FOUND, user("ops/bob", OTHER_ACCOUNT))),
    )  # no reasons: they are in the findings, and need not be the same when apply asks again


def test_an_unresolved_principal_stays_unresolved_where_apply_cannot_read_its_account() -> None:
    plan = cross_account_plan()
    seen, planned = answers(plan, ScriptedIam({DEV: PrincipalLookup(FOUND, DEV)}))
    assert seen[CI].status is UNRESOLVED  # PlannedPaths made it FOUND at the pathless ARN: the finding was lost
    assert seen[COLLECTOR] == PrincipalLookup(FOUND, role("teams/obs/collector", OTHER_ACCOUNT))
    assert seen[DEV] == PrincipalLookup(FOUND, DEV)
    remedy = (
        f"so its mapping is not migrated; apply confirms that only with IAM access to account {OTHER_ACCOUNT}: pass "
        f"--iam-role {OTHER_ACCOUNT}=ROLE_ARN to apply, as to plan, or remove the mapping from aws-auth and plan again"
    )
    assert planned.notes == [
        f"the plan says {GONE} does not exist, {remedy}",
        f"the plan says {BOB} is {user('ops/bob', OTHER_ACCOUNT)}, {remedy}",
    ]
    # Not on the plan's word: either would drop a mapping unmigrated (its principal would lose access at API).
    assert seen[GONE].status is UNRESOLVED and seen[BOB].status is UNRESOLVED


def test_iam_answers_now_win_over_the_plan_s_record_and_say_what_changed() -> None:
    plan = cross_account_plan()
    moved = PrincipalLookup(FOUND, role("x/collector", OTHER_ACCOUNT))
    now = {**PLAN_TIME, CI: PrincipalLookup(FOUND, CI), COLLECTOR: moved}
    seen, planned = answers(plan, ScriptedIam(now))
    assert seen == {**now, CI: PrincipalLookup(FOUND, CI)}
    assert planned.notes == [
        f"IAM says {CI} exists; when the plan was made: nothing of {CI} (not looked up)",
        f"IAM says {COLLECTOR} is {role('x/collector', OTHER_ACCOUNT)}; when the plan was made: {COLLECTOR} is "
        f"{role('teams/obs/collector', OTHER_ACCOUNT)}",
    ]


def test_a_recorded_path_is_taken_for_its_own_principal_only() -> None:
    someone_else = PrincipalLookup(FOUND, role("teams/obs/someone-else", OTHER_ACCOUNT))
    forged = dataclasses.replace(cross_account_plan(), iam=(IamAnswer(COLLECTOR, someone_else),))
    seen, planned = answers(forged, ScriptedIam())
    assert seen[COLLECTOR].status is UNRESOLVED
    assert planned.notes and COLLECTOR in planned.notes[0]


def test_a_plan_without_recorded_answers_still_keeps_its_unresolved_findings_and_entry_paths() -> None:
    plan = cross_account_plan()
    older = dataclasses.replace(plan, iam=())  # written before `iamAnswers`
    seen, _ = answers(older, ScriptedIam())
    assert seen[CI].status is UNRESOLVED
    assert seen[COLLECTOR] == PrincipalLookup(FOUND, role("teams/obs/collector", OTHER_ACCOUNT))


def test_an_offline_plan_records_no_answers() -> None:
    aws_auth = AwsAuth(map_roles=roles((CI, "ci", ("g",))), sha256="s")
    offline = build_plan(snapshot(aws_auth, offline=True, iam={key(CI): PrincipalLookup(UNRESOLVED)}), PlanOptions())
    assert offline.iam == ()


def test_recorded_answers_round_trip_through_the_plan_file_and_bad_ones_are_refused(tmp_path: Path) -> None:
    plan = cross_account_plan()
    path = write_plan(plan, tmp_path / "p.plan.yaml")
    assert load_plan(path).iam == plan.iam
    assert plan_to_dict(plan)["iamAnswers"][0] == {"principalArn": CI, "status": "unresolved", "arn": None}
    _rehashed(path, lambda data: data["iamAnswers"][1].update(arn=None))  # found, but where?
    with pytest.raises(PlanIntegrityError, match="iamAnswers"):
        load_plan(path)
    write_plan(plan, path)
    _rehashed(path, lambda data: data.update(iamAnswers={"a": 1}))
    with pytest.raises(PlanIntegrityError, match="iamAnswers"):
        load_plan(path)


def test_single_account_plans_without_paths_carry_no_answers() -> None:
    plan = build_plan(snapshot(AwsAuth(map_roles=roles((DEV, "dev", ("g",))), sha256="s")), PlanOptions())
    assert plan.iam == ()
    assert "iamAnswers" not in plan_to_dict(plan)  # so every such plan file stays as it was
