"""Rollback: undo, newest first, only what this plan's runs did, and never past a gate where undoing would
lock someone out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrator.errors import ConflictError, RemoteError
from migrator.model import AccessEntrySpec, AuthMode, DeleteEntry, EntryType, Plan
from migrator.run.journal import Event, FileJournal, JournalState, Phase, StepState, read_state
from migrator.run.lock import lock_path, read_holder
from migrator.run.observer import RunResult, StepStatus
from migrator.run.rollback import Keep, inverse_plan
from tests.support.poll import FAST
from tests.support.statefiles import journal_path
from tests.unit.fake_cluster import ADMIN_POLICY, Crash, FakeCluster, key, make_plan, role, small_cluster, user
from tests.unit.runner import Runner

BOTH = frozenset({AuthMode.API_AND_CONFIG_MAP, AuthMode.API})
FIRST = frozenset({AuthMode.API_AND_CONFIG_MAP})
OURS = {key(role("Admin")), key(role("Dev")), key(user("alice"))}
EKS_MADE = {key(role("nodes")), key(role("fargate-pods")), key(role("Creator")), key(role("win-nodes"))}


def executor(plan: Plan, fake: FakeCluster, run_dir: Path, **options: Any) -> Runner:
    options.setdefault("poll", FAST)
    options.setdefault("max_concurrency", 1)
    return Runner(plan, fake, run_dir, **options)


def status(report: Any, step_id: str) -> StepStatus:
    return report.step(step_id).status  # type: ignore[no-any-return]


def test_rollback_deletes_only_the_entries_this_plan_created(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    assert executor(plan, fake, tmp_path, approvals=FIRST).apply().result is RunResult.COMPLETED
    assert set(fake.entries) == OURS | EKS_MADE
    fake.reset_calls()

    report = executor(plan, fake, tmp_path).rollback()
    assert report.result is RunResult.ROLLED_BACK and report.exit_code == 0
    assert set(fake.entries) == EKS_MADE  # node, Fargate and creator entries are EKS's, not ours
    assert fake.entries[key(role("win-nodes"))].type is EntryType.EC2_WINDOWS  # the repair stays
    deleted = sorted(c.args[0] for c in fake.mutating_calls())
    assert deleted == sorted([role("Admin"), role("Dev"), user("alice")])
    assert {c.op for c in fake.mutating_calls()} == {"delete_entry"}  # the policy went with its entry
    assert status(report, "04-create-entry") is StepStatus.UNDONE
    assert report.step("05-associate-policy").detail == {"droppedWithEntry": True}
    assert status(report, "03-repair-node-entry") is StepStatus.KEPT
    assert "break the Windows nodes again" in report.step("03-repair-node-entry").detail["reason"]
    assert status(report, "02-set-mode") is StepStatus.KEPT
    assert "one way" in report.step("02-set-mode").detail["reason"]
    state = read_state(FileJournal(journal_path(tmp_path, report.plan_id), report.plan_id))
    assert state.of("06-create-entry").phase is Phase.UNDONE and state.of("02-set-mode").phase is Phase.DONE

    fake.reset_calls()
    again = executor(plan, fake, tmp_path).rollback()
    assert again.result is RunResult.NOTHING_TO_DO  # only the kept steps remain, nothing is called
    assert "kept 2 step(s)" in again.message
    assert fake.mutating_calls() == []


def test_an_entry_adopted_at_run_time_is_never_deleted(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    same = AccessEntrySpec(role("Dev"), username="dev:{{SessionName}}", groups=("developers",))
    fake.hook("describe_update", fake.update_polls, lambda: fake.put_entry(same), after=True)
    executor(plan, fake, tmp_path, approvals=FIRST).apply()
    report = executor(plan, fake, tmp_path).rollback()
    assert key(role("Dev")) in fake.entries
    assert status(report, "06-create-entry") is StepStatus.KEPT
    assert report.step("06-create-entry").detail["adopted"] is True


def test_rollback_in_api_mode_refuses_to_delete_entries_but_restores_aws_auth(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, remove_aws_auth=True)
    original = dict(fake.config_map.data) if fake.config_map else {}
    executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert fake.mode is AuthMode.API and fake.config_map is None
    fake.reset_calls()

    report = executor(plan, fake, tmp_path).rollback()
    assert report.result is RunResult.ROLLED_BACK
    assert fake.config_map is not None and fake.config_map.data == original  # restored from the backup
    assert [c.op for c in fake.mutating_calls()] == ["create_config_map"]
    assert set(fake.entries) == OURS | EKS_MADE  # nobody locked out
    assert status(report, "10-remove-aws-auth") is StepStatus.UNDONE
    for step_id in ("04-create-entry", "05-associate-policy", "06-create-entry"):
        assert status(report, step_id) is StepStatus.KEPT
        assert "API mode" in report.step(step_id).detail["reason"]
    assert "lock" in report.step("04-create-entry").detail["reason"]
    assert "kept" in report.message


def test_apply_with_rollback_on_failure_undoes_what_it_did(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    fake.fail("create_entry", 4, RemoteError("ResourceLimitExceededException: too many entries"))  # alice
    report = executor(plan, fake, tmp_path, approvals=FIRST).apply(rollback_on_failure=True)
    assert report.result is RunResult.ROLLED_BACK
    assert report.exit_code == 5 and "ResourceLimitExceeded" in report.message + " ".join(report.failures)
    assert set(fake.entries) == EKS_MADE
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP  # one way: said, not hidden
    assert status(report, "02-set-mode") is StepStatus.KEPT


def test_an_entry_whose_create_crashed_before_its_journal_record_is_still_ours(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    fake.crash("create_entry", 3, after=True)  # Dev's entry exists; its step-done was never written
    with pytest.raises(Crash):
        executor(plan, fake, tmp_path, approvals=FIRST).apply()
    fake.revive()
    assert key(role("Dev")) in fake.entries
    report = executor(plan, fake, tmp_path).rollback()
    assert key(role("Dev")) not in fake.entries and key(role("Admin")) not in fake.entries
    assert status(report, "06-create-entry") is StepStatus.UNDONE


def test_an_entry_changed_since_we_created_it_is_not_deleted(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    executor(plan, fake, tmp_path, approvals=FIRST).apply()
    theirs = AccessEntrySpec(role("Dev"), username="dev:{{SessionName}}", groups=("developers", "admins"))
    fake.put_entry(theirs)
    report = executor(plan, fake, tmp_path).rollback()
    assert report.result is RunResult.FAILED and isinstance(report.error, ConflictError)
    assert fake.entries[key(role("Dev"))] == theirs
    assert key(role("Admin")) not in fake.entries and key(user("alice")) not in fake.entries  # the rest undone


def test_rollback_of_a_plan_never_run_has_nothing_to_do(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    report = executor(plan, fake, tmp_path).rollback()
    assert report.result is RunResult.NOTHING_TO_DO and fake.calls == []
    assert list(tmp_path.iterdir()) == []  # no journal; the lock lives apart, and the Lease is released
    assert read_holder(lock_path(plan.cluster)) is None and fake.lease is None


def test_apply_after_rollback_creates_the_entries_again_as_ours(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    executor(plan, fake, tmp_path, approvals=FIRST).apply()
    executor(plan, fake, tmp_path).rollback()
    again = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert again.result is RunResult.COMPLETED
    assert fake.entries[key(role("Admin"))].policies == (ADMIN_POLICY,)
    assert again.step("06-create-entry").detail["created"] is True
    events = [r.event for r in FileJournal(journal_path(tmp_path, again.plan_id), again.plan_id).read().records]
    assert events.count(Event.RUN_STARTED) == 3


def test_the_rollback_preview_says_what_would_happen_without_calling_anything_mutating(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, remove_aws_auth=True)
    executor(plan, fake, tmp_path, approvals=FIRST).apply()
    fake.reset_calls()
    lines = executor(plan, fake, tmp_path).rollback_preview()
    assert fake.mutating_calls() == []
    assert lines[0].startswith("undo   07-create-entry: delete the entry of " + user("alice"))
    assert any(line.startswith("keep   02-set-mode") for line in lines)
    assert any("break the Windows nodes again" in line for line in lines)


def _journal(*done: tuple[str, dict[str, Any]], attempted: tuple[str, ...] = ()) -> JournalState:
    steps = {step_id: StepState(Phase.DONE, detail) for step_id, detail in done}
    steps.update({step_id: StepState(Phase.STARTED, {}, attempted=True) for step_id in attempted})
    return JournalState(steps, runs=1)


def test_the_inverse_plan_undoes_newest_first_only_what_is_ours_and_says_what_it_keeps() -> None:
    plan = make_plan(small_cluster(), remove_aws_auth=True)
    assert [s.id for s in plan.steps][3:7] == [
        "04-create-entry",
        "05-associate-policy",
        "06-create-entry",
        "07-create-entry",
    ]
    prior = _journal(
        ("01-backup-aws-auth", {"path": "b"}),
        ("02-set-mode", {"mode": "API_AND_CONFIG_MAP"}),
        ("04-create-entry", {"created": True}),  # Admin, ours
        ("05-associate-policy", {"associated": True}),  # its policy: goes with the entry
        ("06-create-entry", {"adopted": True}),  # Dev: somebody else's
        ("08-verify", {"verified": 3}),
        attempted=("07-create-entry",),  # alice: a crash after the call may have reached EKS
    )
    items = inverse_plan(plan, prior)
    described = [
        (item.step.id, "keep", item.reason) if isinstance(item, Keep) else (item.record_id, item.kind.value, "")
        for item in items
    ]
    assert described == [
        ("07-create-entry", "delete-entry", ""),
        ("06-create-entry", "keep", "it existed before this run: not ours to undo"),
        ("04-create-entry", "delete-entry", ""),
        ("02-set-mode", "keep", "EKS cannot leave API_AND_CONFIG_MAP: mode switches are one way"),
    ]
    delete_admin = items[2]
    assert isinstance(delete_admin, DeleteEntry)
    assert delete_admin.dropped == ("05-associate-policy",) and delete_admin.principal_arn == role("Admin")
    assert inverse_plan(plan, JournalState({})) == ()


def test_rollback_keeps_an_entry_whose_aws_auth_mapping_changed_and_deletes_the_rest(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert fake.config_map is not None
    edited = dict(fake.config_map.data)
    edited["mapRoles"] = edited["mapRoles"].replace("- developers", "- viewers")
    assert edited != fake.config_map.data
    fake.write_aws_auth(edited)  # Dev's mapping now gives another identity than its entry
    fake.reset_calls()

    report = executor(plan, fake, tmp_path).rollback()
    assert key(role("Dev")) in fake.entries and key(role("Admin")) not in fake.entries
    assert key(user("alice")) not in fake.entries
    assert status(report, "06-create-entry") is StepStatus.KEPT
    reason = report.step("06-create-entry").detail["reason"]
    assert "aws-auth mapRoles" in reason and "developers" in reason
    assert [c.args[0] for c in fake.mutating_calls()] == [user("alice"), role("Admin")]


def test_rollback_gives_a_converted_principal_its_group_back(tmp_path: Path) -> None:
    """--prefer-access-policies turned Dev's group into AmazonEKSViewPolicy; aws-auth still gives the group,
    so deleting the entry is what undoes the conversion (nothing kept, nobody locked out)."""
    import json

    from migrator.plan.planfile import plan_from_dict, plan_to_dict
    from migrator.plan.planner import PlanOptions, build_plan
    from migrator.plan.snapshot import live_snapshot
    from tests.support.rbac import cluster_binding, live_objects
    from tests.unit.fake_cluster import CREATED_AT, FakeIam

    fake = small_cluster(rbac=live_objects(cluster_binding("developers-view", "view", ("Group", "developers"))))
    snapshot = live_snapshot(fake, fake, FakeIam(), aws_auth_label="kube-system/aws-auth", rbac=True)
    options = PlanOptions(AuthMode.API_AND_CONFIG_MAP, created_at=CREATED_AT, prefer_access_policies=True)
    plan = plan_from_dict(json.loads(json.dumps(plan_to_dict(build_plan(snapshot, options)))))
    [dev] = [e for e in plan.entries if e.spec.principal_arn == role("Dev")]
    assert dev.spec.groups == () and [c.group for c in dev.conversions] == ["developers"]
    assert executor(plan, fake, tmp_path, approvals=FIRST).apply().result is RunResult.COMPLETED
    assert fake.entries[key(role("Dev"))].groups == ()

    report = executor(plan, fake, tmp_path).rollback()
    assert report.result is RunResult.ROLLED_BACK, report.message
    assert key(role("Dev")) not in fake.entries  # back to aws-auth: group developers
