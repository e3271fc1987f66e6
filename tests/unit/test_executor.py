"""The executor over an in-memory cluster: gates, dry run, resume, staleness, conflicts, lockout, faults,
crashes at every point, concurrency. Plans are made by the real planner against the fake cluster."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from migrator.errors import ConflictError, InputError, LockoutError, RemoteError, StalePlanError, UpdateInProgressError
from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    EntryType,
    Fingerprint,
    Plan,
    Step,
    StepKind,
)
from migrator.plan.planfile import plan_to_dict
from migrator.run.executor import build_units, waves
from migrator.run.journal import Event, FileJournal, Journal, Phase, read_state
from migrator.run.lock import lock_path, read_holder
from migrator.run.observer import Answer, NextAction, NextKind, RunResult, StepStatus, status_report
from tests.support.poll import FAST
from tests.support.statefiles import journal_path
from tests.unit.fake_cluster import (
    ADMIN_POLICY,
    Crash,
    FakeCluster,
    aws_auth_data,
    big_cluster,
    key,
    make_plan,
    role,
    small_cluster,
    user,
)
from tests.unit.runner import Runner

BOTH = frozenset({AuthMode.API_AND_CONFIG_MAP, AuthMode.API})
FIRST = frozenset({AuthMode.API_AND_CONFIG_MAP})


def plan_id(plan: Plan) -> str:
    return str(plan_to_dict(plan)["planId"])


def journal_of(plan: Plan, run_dir: Path) -> Journal:
    return FileJournal(journal_path(run_dir, plan_id(plan)), plan_id(plan))


def executor(plan: Plan, fake: FakeCluster, run_dir: Path, **options: Any) -> Runner:
    options.setdefault("poll", FAST)
    return Runner(plan, fake, run_dir, **options)


def statuses(report: Any) -> dict[str, StepStatus]:
    return {s.id: s.status for s in report.steps}


def events(plan: Plan, run_dir: Path) -> list[tuple[str, str | None]]:
    return [(r.event.value, r.step) for r in journal_of(plan, run_dir).read().records]


# --- the happy path and gates ----------------------------------------------------------------------------


def test_full_apply_through_both_gates_reaches_api_with_equivalent_entries(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, remove_aws_auth=True)
    original = dict(fake.config_map.data) if fake.config_map else {}
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()

    assert report.result is RunResult.COMPLETED and report.exit_code == 0
    assert set(statuses(report).values()) == {StepStatus.DONE}
    assert fake.mode is AuthMode.API and fake.config_map is None
    entries = fake.entries
    assert entries[key(role("win-nodes"))].type is EntryType.EC2_WINDOWS  # the Windows defect repaired
    assert entries[key(role("nodes"))].type is EntryType.EC2_LINUX  # adopted from EKS
    assert entries[key(role("Admin"))].policies == (ADMIN_POLICY,)
    assert entries[key(role("Dev"))] == AccessEntrySpec(
        role("Dev"), username="dev:{{SessionName}}", groups=("developers",)
    )
    assert entries[key(user("alice"))].groups == ("viewers",)
    # the backup holds the exact data, readable by the owner only
    backup = tmp_path / f"{plan_id(plan)}.aws-auth.backup.json"
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert '"resourceVersion"' in backup.read_text() and original["mapRoles"][:20] in backup.read_text()
    # the journal: every step started before it was done, the run opened and closed
    state = read_state(journal_of(plan, tmp_path))
    assert state.all_done(s.id for s in plan.steps) and not state.open_run and state.last_result == "completed"
    log = events(plan, tmp_path)
    for step in plan.steps:
        assert log.index(("step-started", step.id)) < log.index(("step-done", step.id))
    assert report.step("02-set-mode").detail["eksCreatedEntries"] == sorted(
        [role("Creator"), role("fargate-pods"), role("nodes"), role("win-nodes")]
    )


def test_an_unapproved_gate_stops_the_run_in_front_of_it_and_a_rerun_with_approval_continues(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)

    first = executor(plan, fake, tmp_path).apply()
    assert first.result is RunResult.STOPPED_AT_GATE and first.exit_code == 0
    assert statuses(first)["01-backup-aws-auth"] is StepStatus.DONE
    assert statuses(first)["02-set-mode"] is StepStatus.WAITING
    assert first.next == (NextAction(NextKind.APPROVE_GATE, AuthMode.API_AND_CONFIG_MAP),)
    assert "no way back to CONFIG_MAP" in first.message
    assert fake.mode is AuthMode.CONFIG_MAP and not fake.mutating_calls()
    assert ("gate-waiting", "02-set-mode") in events(plan, tmp_path)

    second = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert second.result is RunResult.STOPPED_AT_GATE
    assert statuses(second)["09-set-mode"] is StepStatus.WAITING
    assert fake.state()[0] is AuthMode.API_AND_CONFIG_MAP
    assert second.next == (NextAction(NextKind.APPROVE_GATE, AuthMode.API),)

    third = executor(plan, fake, tmp_path, approvals=frozenset({AuthMode.API})).apply()
    assert third.result is RunResult.COMPLETED and fake.state()[0] is AuthMode.API
    assert status_report(plan, plan_id(plan), read_state(journal_of(plan, tmp_path))).result is RunResult.COMPLETED


def test_a_blocked_gate_is_refused_listing_the_blockers(tmp_path: Path) -> None:
    fake = small_cluster()
    assert fake.aws_auth is not None
    fake.write_aws_auth({**fake.aws_auth, "mapAccounts": "- '444455556666'\n"})
    plan = make_plan(fake)
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert report.result is RunResult.FAILED
    assert isinstance(report.error, LockoutError) and report.exit_code == 4
    assert "MAP_ACCOUNTS" in str(report.error)
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP  # the first gate was fine; the API gate is not


# --- dry run and re-runs ---------------------------------------------------------------------------------


def test_dry_run_checks_every_step_but_writes_nothing(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, remove_aws_auth=True)
    report = executor(plan, fake, tmp_path, dry_run=True).apply()
    assert report.dry_run and report.result is RunResult.COMPLETED
    assert not fake.mutating_calls()
    assert not list(tmp_path.iterdir())  # no journal, no backup
    assert set(statuses(report).values()) == {StepStatus.WOULD_RUN}
    assert report.step("02-set-mode").detail["gate"] == "needs --approve-gate API_AND_CONFIG_MAP"
    assert "would create" in report.step("04-create-entry").detail["note"]


def test_dry_run_reports_every_problem_without_writing(tmp_path: Path) -> None:
    fake = small_cluster(mode=AuthMode.API_AND_CONFIG_MAP)
    plan = make_plan(fake)

    def theirs() -> None:  # after the freshness check, before the first entry is checked
        fake.put_entry(AccessEntrySpec(role("Dev"), username="someone-else", groups=("admins",)))
        fake.put_entry(AccessEntrySpec(user("alice"), username="alice", groups=("root-ish",)))

    fake.hook("describe_entry", 1, theirs)
    report = executor(plan, fake, tmp_path, dry_run=True, max_concurrency=4).apply()
    assert report.result is RunResult.FAILED and isinstance(report.error, ConflictError)
    conflicts = [f for f in report.failures if "create-entry" in f]
    assert len(conflicts) == 2 and "role/Dev" in conflicts[0] + conflicts[1] and "user/alice" in "".join(conflicts)
    # the dry run goes on: verify and the API gate are checked against what the plan would leave
    assert statuses(report)["09-verify"] is StepStatus.FAILED and statuses(report)["10-set-mode"] is StepStatus.FAILED
    assert not fake.mutating_calls() and not list(tmp_path.iterdir())


def test_rerunning_a_finished_plan_makes_zero_mutating_calls(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, remove_aws_auth=True)
    executor(plan, fake, tmp_path, approvals=BOTH).apply()
    fake.reset_calls()
    again = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert again.result is RunResult.NOTHING_TO_DO
    assert fake.mutating_calls() == []
    assert set(statuses(again).values()) == {StepStatus.DONE}


def test_a_plan_whose_work_is_already_there_adopts_it_and_changes_nothing(tmp_path: Path) -> None:
    fake = small_cluster(mode=AuthMode.API_AND_CONFIG_MAP)
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)

    def someone_else_did_it() -> None:  # the planned entries, with their policies, made by another hand
        for planned in plan.entries:
            fake.put_entry(planned.spec)

    # After the run listed the entries: each create is refused by EKS (it never overwrites), and adopts.
    fake.hook("create_entry", 1, someone_else_did_it)
    report = executor(plan, fake, tmp_path).apply()
    assert report.result is RunResult.COMPLETED and fake.effective() == []
    assert {c.op for c in fake.mutating_calls()} == {"create_entry"}
    creates = [s for s in report.steps if s.kind in ("create-entry", "associate-policy")]
    assert len(creates) >= 4 and all(s.detail.get("adopted") is True for s in creates)
    assert not any(s.detail.get("created") or s.detail.get("associated") for s in creates)


# --- staleness and refusals ------------------------------------------------------------------------------


def test_an_offline_plan_is_refused(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    offline = replace(plan, fingerprint=replace(plan.fingerprint, offline=True))
    with pytest.raises(InputError, match="offline"):
        executor(offline, fake, tmp_path).apply()
    assert fake.calls == []


def test_a_plan_for_another_cluster_is_refused(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    with pytest.raises(InputError, match="the plan is for prod"):
        executor(plan, replace_name(fake, "staging"), tmp_path).apply()


def replace_name(fake: FakeCluster, name: str) -> FakeCluster:
    fake.name = name
    return fake


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda f: f.write_aws_auth(aws_auth_data([(role("X"), "x", ["x"])])), "aws-auth's content changed"),
        (lambda f: f.write_aws_auth(dict(f.config_map.data)), "resourceVersion 1000 -> 1001"),
        (lambda f: setattr(f, "mode", AuthMode.API_AND_CONFIG_MAP), "the authentication mode is API_AND_CONFIG_MAP"),
        (lambda f: setattr(f, "config_map", None), "aws-auth was deleted"),
    ],
)
def test_a_stale_plan_is_refused_saying_what_changed(tmp_path: Path, change: Any, said: str) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    change(fake)
    with pytest.raises(StalePlanError) as stale:
        executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert said in str(stale.value) and stale.value.exit_code == 3
    # nothing written: no journal, no backup; the cluster lock (kept apart) and the Lease released
    assert fake.mutating_calls() == [] and list(tmp_path.iterdir()) == []
    assert read_holder(lock_path(plan.cluster)) is None and fake.lease is None


def test_entries_made_since_the_plan_make_it_stale(tmp_path: Path) -> None:
    fake = small_cluster(mode=AuthMode.API_AND_CONFIG_MAP)
    plan = make_plan(fake)
    fake.put_entry(AccessEntrySpec(role("Intruder"), username="i"))
    with pytest.raises(StalePlanError, match="access entries or their policies changed"):
        executor(plan, fake, tmp_path).apply()


def test_on_resume_aws_auth_edits_make_the_plan_stale_but_our_own_changes_do_not(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    executor(plan, fake, tmp_path, approvals=FIRST).apply()  # entries changed: by us
    assert executor(plan, fake, tmp_path, approvals=FIRST).apply().result is RunResult.STOPPED_AT_GATE
    fake.write_aws_auth({"mapRoles": "[]\n"})
    with pytest.raises(StalePlanError, match="aws-auth's content changed"):
        executor(plan, fake, tmp_path, approvals=BOTH).apply()


def test_on_resume_a_mode_switch_made_by_someone_else_makes_the_plan_stale(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    executor(plan, fake, tmp_path).apply()  # backup done, stopped at the first gate
    fake.mode = AuthMode.API_AND_CONFIG_MAP
    with pytest.raises(StalePlanError, match="switched to API_AND_CONFIG_MAP outside this plan's runs"):
        executor(plan, fake, tmp_path, approvals=FIRST).apply()


# --- conflicts and failures ------------------------------------------------------------------------------


def test_an_entry_someone_else_made_mid_run_is_a_conflict_and_is_not_overwritten(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    theirs = AccessEntrySpec(role("Dev"), username="dev", groups=("cluster-admins",))
    fake.hook("describe_update", fake.update_polls, lambda: fake.put_entry(theirs), after=True)
    report = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    assert report.result is RunResult.FAILED
    assert isinstance(report.error, ConflictError) and report.exit_code == 6
    assert "role/Dev" in str(report.error) and "nothing was overwritten" in str(report.error)
    assert fake.entries[key(role("Dev"))] == theirs
    assert ("create_entry", (role("Dev"),)) not in [(c.op, c.args) for c in fake.calls]
    assert statuses(report)["07-create-entry"] is StepStatus.PENDING  # nothing scheduled after a failure
    assert NextAction(NextKind.ROLLBACK) in report.next
    assert ("step-failed", "06-create-entry") in events(plan, tmp_path)


def test_an_equivalent_entry_made_between_check_and_create_is_adopted_not_claimed(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    same = AccessEntrySpec(role("Dev"), username="dev:{{SessionName}}", groups=("developers",))
    fake.hook("create_entry", 3, lambda: fake.put_entry(same))  # repair, Admin, then Dev
    report = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    assert report.step("06-create-entry").detail["adopted"] is True
    assert "created" not in report.step("06-create-entry").detail


def test_a_remote_error_fails_the_step_cleanly_and_no_bare_entry_is_left(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    fake.fail("associate_policy", 1, RemoteError("AccessDeniedException: not allowed to associate"))
    report = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    assert report.result is RunResult.FAILED and report.exit_code == 5
    assert "AccessDeniedException" in report.failures[0]
    # the Admin entry could not get its policy: it is deleted again, Admin keeps its aws-auth identity
    assert key(role("Admin")) not in fake.entries
    assert statuses(report)["04-create-entry"] is StepStatus.UNDONE
    state = read_state(journal_of(plan, tmp_path))
    assert state.of("05-associate-policy").phase is Phase.FAILED

    again = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    assert again.result is RunResult.STOPPED_AT_GATE
    assert fake.entries[key(role("Admin"))].policies == (ADMIN_POLICY,)
    assert again.step("04-create-entry").detail["created"] is True


def test_a_failed_mode_update_reports_eks_errors(tmp_path: Path) -> None:
    fake = small_cluster(update_outcome="Failed", update_errors=("InsufficientPermissions: no way",))
    plan = make_plan(fake)
    report = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert isinstance(report.error, RemoteError) and "ended Failed: InsufficientPermissions" in str(report.error)
    assert fake.mode is AuthMode.CONFIG_MAP


def test_an_update_in_progress_is_waited_out_before_the_switch(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    fake.start_platform_update(polls=3)
    report = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert report.result is RunResult.STOPPED_AT_GATE and fake.mode is AuthMode.API_AND_CONFIG_MAP
    assert fake.ops().count("start_mode_update") == 1
    assert fake.ops().index("in_progress_updates") < fake.ops().index("start_mode_update")


def test_resource_in_use_on_the_switch_waits_and_retries(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    fake.hook("start_mode_update", 1, lambda: fake.start_platform_update(polls=2))
    report = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert report.result is RunResult.STOPPED_AT_GATE and fake.mode is AuthMode.API_AND_CONFIG_MAP
    assert [c.effective for c in fake.calls if c.op == "start_mode_update"] == [False, True]


def test_resource_in_use_that_never_ends_gives_up_at_the_timeout(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    for nth in range(1, 500):  # an update the gateway cannot list blocks every attempt
        fake.fail("start_mode_update", nth, UpdateInProgressError("ResourceInUseException: update in progress"))
    clock = [0.0]  # each back-off sleep advances a fake clock by one second

    def sleep(seconds: float) -> None:
        clock[0] += 1

    poll = replace(FAST, sleep=sleep, clock=lambda: clock[0])
    report = executor(plan, fake, tmp_path, approvals=FIRST, poll=poll, timeout_seconds=30).apply()
    assert isinstance(report.error, RemoteError) and "kept refusing the switch" in str(report.error)
    assert 25 <= fake.ops().count("start_mode_update") <= 35


def test_waiting_for_the_switch_gives_up_after_the_poll_limit(tmp_path: Path) -> None:
    fake = small_cluster(update_polls=1000)
    plan = make_plan(fake)
    poll = replace(FAST, max_polls=5)
    report = executor(plan, fake, tmp_path, approvals=FIRST, poll=poll).apply()
    assert isinstance(report.error, RemoteError) and "gave up waiting for EKS update" in str(report.error)
    assert read_state(journal_of(plan, tmp_path)).of("02-set-mode").attempted


# --- lockout ---------------------------------------------------------------------------------------------


def test_the_api_gate_is_refused_when_the_caller_would_lose_admin(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    fake.caller = f"arn:aws:sts::{fake.account}:assumed-role/Dev/bob"  # someone else runs apply
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert isinstance(report.error, LockoutError) and report.exit_code == 4
    assert "assumed-role/Dev/bob" not in str(report.error) or "no cluster-scoped" in str(report.error)
    assert "no cluster-scoped AmazonEKSClusterAdminPolicy" in str(report.error)
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP
    assert fake.ops().count("start_mode_update") == 1


def test_the_api_gate_is_refused_when_a_planned_entry_is_missing(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    executor(plan, fake, tmp_path, approvals=FIRST).apply()
    fake.reset_calls()
    fake.hook("list_entries", 1, lambda: fake.remove_entry(user("alice")))  # after verify passed, at the gate
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert isinstance(report.error, LockoutError)
    assert f"{user('alice')} has no access entry" in str(report.error)
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP


class Recorder:
    """An observer that keeps the run's messages."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages

    def on_start(self, total_steps: int) -> None:
        pass

    def on_step(self, step: Any, status: StepStatus) -> None:
        pass

    def on_message(self, text: str) -> None:
        self.messages.append(text)


def test_an_entry_this_plan_made_and_someone_deleted_is_made_again_on_resume(tmp_path: Path) -> None:
    # Regression (issue 8, defect 8): the deleted entry's step was journaled done, so every re-run stopped at
    # the API gate (exit 4) while the hint said "re-run". Resume re-checks journaled entries against the cluster.
    fake = small_cluster()
    plan = make_plan(fake)
    executor(plan, fake, tmp_path, approvals=FIRST).apply()
    fake.remove_entry(role("Admin"))  # with it, its ClusterAdmin policy
    messages: list[str] = []
    report = executor(plan, fake, tmp_path, approvals=BOTH, observer=Recorder(messages)).apply()
    assert report.result is RunResult.COMPLETED, report.message
    assert fake.entries[key(role("Admin"))].policies == (ADMIN_POLICY,)
    assert any("was removed since 04-create-entry made it: making it again" in m for m in messages)
    assert report.step("04-create-entry").detail["created"] is True


def test_an_adopted_entry_someone_deleted_stops_the_resume_with_an_instruction(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    same = AccessEntrySpec(role("Dev"), username="dev:{{SessionName}}", groups=("developers",))
    fake.hook("describe_update", fake.update_polls, lambda: fake.put_entry(same), after=True)
    first = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert first.result is RunResult.STOPPED_AT_GATE and first.step("06-create-entry").detail["adopted"] is True
    fake.remove_entry(role("Dev"))
    report = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert isinstance(report.error, ConflictError) and report.exit_code == 6
    assert "adopted" in str(report.error) and "make a new plan" in (report.error.hint or "")
    assert key(role("Dev")) not in fake.entries  # not made again: it was somebody else's


def test_verify_fails_when_the_listing_lacks_an_entry_or_a_policy(tmp_path: Path) -> None:
    # Verify trusts this run's EKS answers only for entries the fresh listing still has, with exactly the
    # policies this run associated: an entry gone, or a policy gone, is described and found wanting.
    fake = small_cluster()
    plan = make_plan(fake)

    def meddle() -> None:
        fake.remove_entry(user("alice"))
        fake.put_entry(replace(fake.entries[key(role("Admin"))], policies=()))

    fake.hook("policy_holders", 1, meddle)  # verify's listing (a fresh run reads the holders there first)
    report = executor(plan, fake, tmp_path, approvals=BOTH, max_concurrency=1).apply()
    assert isinstance(report.error, LockoutError) and statuses(report)["08-verify"] is StepStatus.FAILED
    assert f"{user('alice')} has no access entry" in str(report.error)
    assert f"{role('Admin')}: its entry" in str(report.error)
    at_switch, described = [set(c.args[0]) for c in fake.calls if c.op == "describe_entries"]
    # The switch reads what EKS made (to tell the creator's entry apart); verify: Dev's entry is as EKS
    # answered this run; the node roles' entries EKS made itself at the switch.
    assert at_switch == {role("nodes"), role("win-nodes"), role("fargate-pods"), role("Creator")}
    assert described == {role("Admin"), user("alice"), role("nodes"), role("win-nodes"), role("fargate-pods")}
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP


def test_an_entry_changed_after_we_created_it_is_caught_right_before_the_api_gate(tmp_path: Path) -> None:
    # The read-back of a create is EKS's answer to it, and verify does not describe what this run was
    # answered (in API_AND_CONFIG_MAP the entry is the principal's identity already: a re-read protects no
    # one). The irreversible switch to API describes every entry afresh and refuses.
    fake = small_cluster()
    plan = make_plan(fake)
    changed = AccessEntrySpec(user("alice"), username="alice", groups=("viewers", "admins"))
    fake.hook("create_entry", 4, lambda: fake.put_entry(changed), after=True)  # right after alice's create
    report = executor(plan, fake, tmp_path, approvals=BOTH, max_concurrency=1).apply()
    assert statuses(report)["08-verify"] is StepStatus.DONE
    _, described = [set(c.args[0]) for c in fake.calls if c.op == "describe_entries"]  # the switch's, verify's
    assert user("alice") not in described  # only the entries EKS made itself at the switch
    assert isinstance(report.error, LockoutError) and statuses(report)["09-set-mode"] is StepStatus.FAILED
    assert "would gain group(s) admins" in str(report.error)
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP


def test_an_answer_that_differs_from_the_plan_is_read_back_and_a_changed_entry_is_a_conflict(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    changed = AccessEntrySpec(user("alice"), username="alice", groups=("viewers", "admins"))
    create = fake.create_entry

    def changed_before_answering(spec: AccessEntrySpec) -> AccessEntrySpec:
        answered = create(spec)
        if spec.principal_arn != user("alice"):
            return answered
        fake.put_entry(changed)
        return changed

    fake.create_entry = changed_before_answering  # type: ignore[method-assign]
    report = executor(plan, fake, tmp_path, approvals=BOTH, max_concurrency=1).apply()
    assert isinstance(report.error, ConflictError) and "changed right after this run created it" in str(report.error)
    assert statuses(report)["07-create-entry"] is StepStatus.FAILED


# --- interactive -----------------------------------------------------------------------------------------


class ScriptedPrompter:
    def __init__(self, answers: Sequence[Answer], gates: Sequence[bool] = ()) -> None:
        self.answers = list(answers)
        self.gates = list(gates)
        self.asked: list[list[str]] = []
        self.gate_asked: list[tuple[str, list[str], str]] = []

    def confirm_steps(self, steps: Sequence[Step], effects: Sequence[str]) -> Answer:
        assert len(steps) == len(effects) and all(effects)
        self.asked.append([s.id for s in steps])
        return self.answers.pop(0)

    def confirm_gate(self, step: Step, consequences: Sequence[str], cluster_name: str) -> bool:
        self.gate_asked.append((step.id, list(consequences), cluster_name))
        return self.gates.pop(0)

    def confirm_rollback(self, actions: Sequence[str]) -> bool:
        return True


def test_interactive_asks_per_unit_until_all_in_this_phase(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    prompter = ScriptedPrompter([Answer.YES, Answer.YES, Answer.ALL_IN_PHASE], gates=[True, False])
    report = executor(plan, fake, tmp_path, prompter=prompter).apply()
    # backup; then (gate); repair; the Admin unit (entry + policy together); then "all" for the rest
    assert prompter.asked == [
        ["01-backup-aws-auth"],
        ["03-repair-node-entry"],
        ["04-create-entry", "05-associate-policy"],
    ]
    assert [(g[0], g[2]) for g in prompter.gate_asked] == [("02-set-mode", "prod"), ("09-set-mode", "prod")]
    assert any("no way back to CONFIG_MAP" in line for line in prompter.gate_asked[0][1])
    assert report.result is RunResult.STOPPED_AT_GATE and fake.mode is AuthMode.API_AND_CONFIG_MAP


@pytest.mark.parametrize(("answer", "status"), [(Answer.SKIP_AND_STOP, StepStatus.SKIPPED), (Answer.QUIT, None)])
def test_interactive_skip_and_quit_stop_the_run(tmp_path: Path, answer: Answer, status: StepStatus | None) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    report = executor(plan, fake, tmp_path, prompter=ScriptedPrompter([answer])).apply()
    assert report.result is RunResult.STOPPED and report.exit_code == 0
    assert statuses(report)["01-backup-aws-auth"] is (status or StepStatus.PENDING)
    assert fake.mutating_calls() == [] and fake.ops().count("read_config_map") == 1  # the freshness check


# --- concurrency -----------------------------------------------------------------------------------------


def test_units_overlap_up_to_max_concurrency(tmp_path: Path) -> None:
    fake = big_cluster(24, op_delay=0.02)
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    fake.gather("create_entry", 2)  # two units are in flight together, however the threads are scheduled
    report = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=8).apply()
    assert report.result is RunResult.COMPLETED
    assert 2 <= fake.max_in_flight <= 8


def test_units_do_not_overlap_with_max_concurrency_one(tmp_path: Path) -> None:
    fake = big_cluster(24, op_delay=0.005)
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    assert fake.max_in_flight == 1


def test_an_entry_and_its_policy_run_back_to_back_in_one_unit() -> None:
    plan = make_plan(big_cluster(6))
    units = build_units(plan.steps)
    pairs = [tuple(s.kind for s in u.steps) for u in units if len(u.steps) > 1]
    assert pairs and all(p == (StepKind.CREATE_ENTRY, StepKind.ASSOCIATE_POLICY) for p in pairs)
    shapes = [len(w) for w in waves(units)]
    assert shapes == [1, 1, len(units) - 4, 1, 1]  # backup, gate, all the entries, verify, gate


def test_after_a_failure_no_new_unit_starts_and_every_failure_is_reported(tmp_path: Path) -> None:
    fake = big_cluster(40, op_delay=0.01)
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    # The first four creates (four units, max_concurrency) are all in flight before any fails, so both
    # failing calls are made whatever the scheduling; a failure then stops new units from starting.
    fake.gather("create_entry", 4)
    fake.fail("create_entry", 2, RemoteError("boom 2"))
    fake.fail("create_entry", 3, RemoteError("boom 3"))
    report = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=4).apply()
    assert report.result is RunResult.FAILED and len(report.failures) == 2
    assert fake.ops().count("create_entry") < 12
    assert StepStatus.PENDING in statuses(report).values()


# --- crashes ---------------------------------------------------------------------------------------------


@pytest.fixture
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of runs: durability is pinned in test_journal.py, here only the logic matters."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


def _crash_points(reference: FakeCluster) -> list[tuple[str, int, bool]]:
    seen: Counter[str] = Counter()
    points: list[tuple[str, int, bool]] = []
    for call in reference.calls:
        seen[call.op] += 1
        points.append((call.op, seen[call.op], False))
        if call.effective and call.op in {
            "create_entry",
            "delete_entry",
            "associate_policy",
            "start_mode_update",
            "delete_config_map",
            "describe_update",
        }:
            points.append((call.op, seen[call.op], True))
    return points


def _reference(principals: int, tmp_path: Path, concurrency: int) -> tuple[FakeCluster, Plan]:
    fake = big_cluster(principals)
    plan = make_plan(fake, remove_aws_auth=True)
    report = executor(plan, fake, tmp_path / "reference", approvals=BOTH, max_concurrency=concurrency).apply()
    assert report.result is RunResult.COMPLETED
    return fake, plan


def _effective(fake: FakeCluster) -> Counter[tuple[str, tuple[Any, ...]]]:
    return Counter((c.op, c.args) for c in fake.effective())


@pytest.mark.usefixtures("no_fsync")
@pytest.mark.parametrize("concurrency", [1, pytest.param(8, marks=pytest.mark.slow)])
def test_a_crash_anywhere_then_resume_ends_as_an_uninterrupted_run(tmp_path: Path, concurrency: int) -> None:
    reference, plan = _reference(50, tmp_path, concurrency)
    assert make_plan(big_cluster(50), remove_aws_auth=True) == plan
    points = _crash_points(reference)
    if concurrency > 1:  # the interleaving varies; the mutating calls are the interesting points
        points = [p for p in points if p[2] or p[0] in {"create_entry", "associate_policy", "delete_entry"}]
    assert len(points) > 100
    problems: list[str] = []
    for number, (op, nth, after) in enumerate(points):
        fake = big_cluster(50)  # the same cluster the plan was made from (planning is pure; not re-done)
        run_dir = tmp_path / f"run-{number}"
        fake.crash(op, nth, after=after)
        where = f"crash {'after' if after else 'before'} {op} #{nth}"
        try:
            executor(plan, fake, run_dir, approvals=BOTH, max_concurrency=concurrency).apply()
            problems.append(f"{where}: did not crash")
            continue
        except Crash:
            pass
        fake.revive()
        report = executor(plan, fake, run_dir, approvals=BOTH, max_concurrency=concurrency).apply()
        if report.result not in (RunResult.COMPLETED, RunResult.NOTHING_TO_DO):
            problems.append(f"{where}: resume ended {report.result}: {report.failures}")
            continue
        if fake.state() != reference.state():
            problems.append(f"{where}: final state differs")
        if _effective(fake) != _effective(reference):
            problems.append(
                f"{where}: mutating calls differ: {_effective(fake) - _effective(reference)} extra, "
                f"{_effective(reference) - _effective(fake)} missing"
            )
        state = read_state(journal_of(plan, run_dir))
        if not state.all_done(s.id for s in plan.steps) or state.open_run:
            problems.append(f"{where}: journal not complete")
        adopted = [s.id for s in plan.steps if s.kind is StepKind.CREATE_ENTRY and state.of(s.id).detail.get("adopted")]
        if adopted:
            problems.append(f"{where}: our own entries journaled as adopted (rollback would miss them): {adopted}")
    assert problems == []


@pytest.mark.usefixtures("no_fsync")
def test_a_crash_that_tears_the_journal_line_resumes_and_says_so(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    fake.crash("associate_policy", 1, after=True)
    with pytest.raises(Crash):
        executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    journal = journal_of(plan, tmp_path)
    with open(journal.path, "a") as handle:
        handle.write('{"at":"2024-05-01T00:00:00Z","event":"step-do')
    fake.revive()
    messages: list[str] = []

    class Messages:
        def on_start(self, total_steps: int) -> None:
            pass

        def on_step(self, step: Step, status: StepStatus) -> None:
            pass

        def on_message(self, text: str) -> None:
            messages.append(text)

    report = executor(plan, fake, tmp_path, approvals=FIRST, observer=Messages(), max_concurrency=1).apply()
    assert report.result is RunResult.STOPPED_AT_GATE
    assert any("cut off by a crash" in m for m in messages)
    assert report.step("05-associate-policy").detail == {"recovered": True, "associated": True}
    assert journal.read().torn_line is None


def test_status_reads_the_journal_alone(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    assert status_report(plan, plan_id(plan), read_state(journal_of(plan, tmp_path))).result is RunResult.NOT_STARTED
    fake.crash("create_entry", 2)
    with pytest.raises(Crash):
        executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    report = status_report(plan, plan_id(plan), read_state(journal_of(plan, tmp_path)))
    assert report.result is RunResult.INTERRUPTED and report.next == (NextAction(NextKind.RESUME),)
    assert statuses(report)["04-create-entry"] is StepStatus.STARTED
    assert "outcome unknown" in report.step("04-create-entry").detail["note"]
    assert report.to_dict()["steps"][0]["status"] == "done"


def test_the_report_is_json_able(tmp_path: Path) -> None:
    import json

    fake = small_cluster()
    plan = make_plan(fake)
    fake.fail("create_entry", 2, RemoteError("nope", hint="try again"))
    report = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    data = json.loads(json.dumps(report.to_dict()))
    assert data["result"] == "failed" and data["planId"] == plan_id(plan) and data["cluster"] == "prod"
    assert data["error"] == {"type": "RemoteError", "exitCode": 5, "message": "nope", "hint": "try again"}
    assert {s["status"] for s in data["steps"]} >= {"done", "failed", "pending"}


def test_fingerprint_fields_are_what_the_planner_records() -> None:
    # a guard for the freshness check: it compares exactly these fields
    assert set(Fingerprint.__dataclass_fields__) == {
        "aws_auth_sha256",
        "aws_auth_resource_version",
        "authentication_mode",
        "entries_sha256",
        "offline",
    }
    assert Event.GATE_WAITING.value == "gate-waiting"


def test_until_stops_after_the_named_step_and_its_principals_policies(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    create = next(s for s in plan.steps if s.kind is StepKind.CREATE_ENTRY and s.principal_arn == role("Admin"))
    report = executor(plan, fake, tmp_path, approvals=BOTH, until=create.id).apply()
    assert report.result is RunResult.STOPPED and report.exit_code == 0
    assert "--until" in report.message
    done = [s.id for s in plan.steps if statuses(report)[s.id] is StepStatus.DONE]
    associate = plan.steps[[s.id for s in plan.steps].index(create.id) + 1]
    assert associate.kind is StepKind.ASSOCIATE_POLICY and done[-1] == associate.id  # never a bare entry
    assert fake.entries[key(role("Admin"))].policies == (ADMIN_POLICY,)
    assert executor(plan, fake, tmp_path, approvals=BOTH).apply().result is RunResult.COMPLETED
    with pytest.raises(InputError, match="not a step of this plan"):
        executor(plan, fake, tmp_path, until="99-nope").apply()


def test_the_hidden_cluster_creator_mapped_in_aws_auth_keeps_the_admin_entry_eks_made(tmp_path: Path) -> None:
    roles = [
        (role("Admin"), "admin:{{SessionName}}", ["system:masters"]),
        (role("Creator"), "creator:{{SessionName}}", ["system:masters", "ops"]),
    ]
    fake = small_cluster(aws_auth=aws_auth_data(roles), nodegroups=(), fargate_profiles=())
    plan = make_plan(fake)
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert report.result is RunResult.COMPLETED, report.message
    creator = next(s for s in plan.steps if s.kind is StepKind.CREATE_ENTRY and s.principal_arn == role("Creator"))
    assert report.step(creator.id).detail["eksCreated"] is True
    kept = fake.entries[key(role("Creator"))]
    assert kept.username != "creator:{{SessionName}}" and kept.policies == (ADMIN_POLICY,)
    verify = next(s for s in plan.steps if s.kind is StepKind.VERIFY)
    assert report.step(verify.id).detail["keptAsEksMadeThem"] == [role("Creator")]
    # A resumed or repeated run still accepts it.
    assert executor(plan, fake, tmp_path, approvals=BOTH).apply().result is RunResult.NOTHING_TO_DO


def test_a_write_to_aws_auth_between_runs_is_seen_at_the_api_gate_even_with_the_same_content(tmp_path: Path) -> None:
    # Resume compares aws-auth's content only (rollback's restore writes it anew); the gate compares its
    # resourceVersion too, right before passing: a write may be an edit that was reverted, or not yet read.
    fake = small_cluster()
    plan = make_plan(fake)
    first = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    assert first.result is RunResult.STOPPED_AT_GATE and fake.config_map is not None
    fake.write_aws_auth(dict(fake.config_map.data))  # same content, a new resourceVersion
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert report.result is RunResult.FAILED and report.exit_code == 3
    assert "resourceVersion" in str(report.error) and "refusing to pass gate 09-set-mode" in str(report.error)
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP


@pytest.mark.parametrize(("op", "nth"), [("start_mode_update", 1), ("describe_update", 1), ("describe_update", 2)])
def test_a_crash_during_the_first_switch_resumes_with_the_creator_entry_eks_made(
    tmp_path: Path, op: str, nth: int
) -> None:
    # Regression (issue 8, defect 7): which entries EKS made at the switch was known only in the process that
    # saw the switch finish; a resumed run took the creator's admin entry for somebody else's (exit 6).
    roles = [
        (role("Admin"), "admin:{{SessionName}}", ["system:masters"]),
        (role("Creator"), "creator:{{SessionName}}", ["system:masters", "ops"]),
    ]
    fake = small_cluster(aws_auth=aws_auth_data(roles), nodegroups=(), fargate_profiles=())
    plan = make_plan(fake)
    fake.crash(op, nth, after=True)
    with pytest.raises(Crash):
        executor(plan, fake, tmp_path, approvals=BOTH).apply()
    fake.revive()
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert report.result is RunResult.COMPLETED, report.message
    assert report.step("02-set-mode").detail["eksCreatedEntries"] == [role("Creator")]
    creator = next(s for s in plan.steps if s.kind is StepKind.CREATE_ENTRY and s.principal_arn == role("Creator"))
    assert report.step(creator.id).detail["eksCreated"] is True
    assert fake.entries[key(role("Creator"))].policies == (ADMIN_POLICY,)


def test_aws_auth_edited_during_the_first_switch_stops_the_run_before_any_entry(tmp_path: Path) -> None:
    # Regression (chaos seed 27): a mapping revoked while EKS switched modes got an entry from the stale plan.
    fake = small_cluster()
    plan = make_plan(fake)
    assert fake.config_map is not None
    revoked = dict(fake.config_map.data)
    revoked["mapRoles"] = revoked["mapRoles"].replace("developers", "nobody")
    fake.hook("describe_update", 1, lambda: fake.write_aws_auth(revoked))
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert report.result is RunResult.FAILED and report.exit_code == 3
    assert "refusing to create access entries" in str(report.error)
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP
    assert not [c for c in fake.mutating_calls() if c.op == "create_entry"]


def test_an_entry_whose_read_back_failed_is_deleted_again_not_left_bare(tmp_path: Path) -> None:
    # Review finding: the compensation ran only when a policy failed; a create whose read-back failed (EKS
    # slow to show it, throttling) left a system:masters principal with a bare entry.
    fake = small_cluster()
    plan = make_plan(fake, AuthMode.API_AND_CONFIG_MAP)
    failing = {"left": 0, "armed": 1}
    create, describe = fake.create_entry, fake.describe_entry

    def create_then_throttle(spec: AccessEntrySpec) -> AccessEntrySpec:
        answered = create(spec)
        if spec.principal_arn == role("Admin") and failing["armed"]:
            failing["armed"] = 0
            failing["left"] = 2  # the read-back and its last look: then EKS answers again
            # An answer that does not show the planned identity: the read-back has to describe the entry.
            return replace(answered, username="not-yet")
        return answered

    def throttled(arn: str) -> AccessEntrySpec | None:
        if arn == role("Admin") and failing["left"]:
            failing["left"] -= 1
            raise RemoteError("Throttling: rate exceeded")
        return describe(arn)

    fake.create_entry, fake.describe_entry = create_then_throttle, throttled  # type: ignore[method-assign]
    report = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    assert report.result is RunResult.FAILED and report.exit_code == 5
    assert key(role("Admin")) not in fake.entries  # it falls back to its aws-auth mapping (system:masters)
    assert statuses(report)["04-create-entry"] is StepStatus.UNDONE
    again = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    assert again.result is RunResult.COMPLETED and fake.entries[key(role("Admin"))].policies == (ADMIN_POLICY,)


def test_a_plan_with_an_edited_fingerprint_is_refused_even_without_aws_auth(tmp_path: Path) -> None:
    # Review finding: the re-plan skipped its comparison when the fingerprints differed, trusting the stale
    # check, which compares the resourceVersion only when aws-auth exists.
    fake = small_cluster()
    fake.config_map = None
    plan = make_plan(fake)
    forged = replace(plan, fingerprint=replace(plan.fingerprint, aws_auth_resource_version="forged"))
    with pytest.raises(StalePlanError, match=re.escape("fingerprint.aws_auth_resource_version is 'forged'")):
        executor(forged, fake, tmp_path, approvals=BOTH).apply()
    assert fake.mutating_calls() == []


def test_sigterm_between_units_stops_the_run_like_ctrl_c(tmp_path: Path) -> None:
    # Review finding: SIGTERM was held only inside a unit on the main thread; elsewhere it killed the process.
    import signal as signals

    fake = small_cluster()
    plan = make_plan(fake)
    fake.hook("create_entry", 2, lambda: os.kill(os.getpid(), signals.SIGTERM), after=True)
    with pytest.raises(KeyboardInterrupt):
        executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=4).apply()
    admin = fake.entries.get(key(role("Admin")))
    assert admin is None or admin.policies == (ADMIN_POLICY,)  # never a bare admin entry
    assert read_state(journal_of(plan, tmp_path)).last_result == "interrupted"


def test_an_admin_entry_someone_makes_during_the_switch_is_not_taken_for_the_creators(tmp_path: Path) -> None:
    # Review finding: any cluster-admin entry that appeared during the first switch was kept as the hidden
    # creator's and skipped by the gates. The creator's entry has EKS's default username and nothing else.
    roles = [(role("Admin"), "admin:{{SessionName}}", ["system:masters"]), (role("Dev"), "dev", ["developers"])]
    fake = small_cluster(aws_auth=aws_auth_data(roles), nodegroups=(), fargate_profiles=())
    plan = make_plan(fake)
    intruder = AccessEntrySpec(role("Dev"), username="dev", groups=("developers",), policies=(ADMIN_POLICY,))
    fake.hook("describe_update", 1, lambda: fake.put_entry(intruder))
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert isinstance(report.error, ConflictError) and role("Dev") in str(report.error)
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP


def test_an_entry_removed_after_the_api_switch_is_not_made_again(tmp_path: Path) -> None:
    # Review finding: in API mode entries alone decide access, so an operator's removal was a revocation.
    fake = small_cluster()
    plan = make_plan(fake, remove_aws_auth=True)
    fake.fail("delete_config_map", 1, RemoteError("the API server is down"))
    first = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert first.result is RunResult.FAILED and fake.mode is AuthMode.API
    fake.remove_entry(role("Dev"))
    again = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert again.result is RunResult.COMPLETED, again.message
    assert key(role("Dev")) not in fake.entries
    assert again.step("06-create-entry").detail["removedSince"] is True


def test_verify_re_reads_aws_auth_so_a_revocation_during_the_entries_stops_the_run(tmp_path: Path) -> None:
    # Review finding: a mapping revoked after the first entry of a wave was only seen at the API gate.
    fake = small_cluster()
    plan = make_plan(fake)
    assert fake.config_map is not None
    revoked = dict(fake.config_map.data)
    revoked["mapRoles"] = revoked["mapRoles"].replace("developers", "nobody")
    fake.hook("create_entry", 1, lambda: fake.write_aws_auth(revoked), after=True)
    report = executor(plan, fake, tmp_path, approvals=BOTH, max_concurrency=1).apply()
    assert report.result is RunResult.FAILED and report.exit_code == 3
    assert fake.mode is AuthMode.API_AND_CONFIG_MAP


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_stop_set_from_another_thread_ends_the_run_between_units_like_ctrl_c(
    tmp_path: Path, concurrency: int
) -> None:
    # A fleet's clusters run in worker threads, where no signal arrives: the batch's main thread sets the
    # run's stop event instead, and the run stops as a single apply stops on Ctrl-C.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    fake = small_cluster()
    plan = make_plan(fake)
    stop = threading.Event()
    fake.hook("create_entry", 2, stop.set, after=True)
    runner = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=concurrency, stop=stop)
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(KeyboardInterrupt):
        pool.submit(runner.apply).result()
    admin = fake.entries.get(key(role("Admin")))
    assert admin is None or admin.policies == (ADMIN_POLICY,)  # the unit in flight finished: never bare
    state = read_state(journal_of(plan, tmp_path))
    assert state.last_result == "interrupted" and not state.all_done(s.id for s in plan.steps)
    resumed = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=concurrency).apply()
    assert resumed.result is RunResult.STOPPED_AT_GATE, resumed.message
    assert fake.entries[key(role("Admin"))].policies == (ADMIN_POLICY,)
