"""The cluster's Lease over the in-memory fake: taken, renewed, released; a held one is watched for its duration
and refuses naming its holder once renewed; one left unrenewed that long is taken over and reported, whatever
the hosts' clocks say; a lost race (409) means locked; a holder that cannot renew loses it, and its run stops.
Fake clocks, no sleeps."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from migrator.errors import ClusterLockedError, ForbiddenError, RemoteError
from migrator.model import AuthMode
from migrator.plan.planfile import plan_to_dict
from migrator.ports import LeaseState
from migrator.run.executor import Executor
from migrator.run.journal import FileJournal, Phase, read_state
from migrator.run.lease import (
    LEASE_NAME,
    LEASE_NAMESPACE,
    ClusterLease,
    LeaseHolder,
    describe_holder,
    held_by_this_process,
    holder_dead_here,
)
from migrator.run.lock import ClusterLock, lock_path
from migrator.run.machine import Process
from migrator.run.observer import RunResult
from migrator.run.settings import RunSettings
from tests.support.clock import FakeTime
from tests.support.poll import FAST
from tests.support.statefiles import backup_slot, journal_path
from tests.unit.fake_cluster import FakeCluster, make_plan, small_cluster
from tests.unit.runner import Runner

T0 = datetime.datetime(2025, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
ME = LeaseHolder("runner-a", 4242, "plan-mine", "alice")
OTHER = LeaseHolder("ci-runner-7", 77, "plan-theirs", "bob")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


def lease(fake: FakeCluster, clock: Clock, waits: FakeTime | None = None, **options: object) -> ClusterLease:
    """Our lease; `waits` is this run's monotonic clock and sleep (a held lease is watched on it)."""
    waits = waits or FakeTime()
    return ClusterLease(
        fake,
        "prod",
        "plan-mine",
        clock=clock,
        holder=ME,
        renew_in_background=False,
        monotonic=waits.clock,
        sleep=waits.sleep,
        **options,  # type: ignore[arg-type]
    )


def theirs(renewed: datetime.datetime, duration: int = 60) -> LeaseState:
    return LeaseState(LEASE_NAMESPACE, LEASE_NAME, OTHER.identity(), duration, renewed, renewed, transitions=3)


def renewed_before_read(fake: FakeCluster, nth: int, renewed: datetime.datetime) -> None:
    """The other machine renews its lease (by its own clock: `renewed`) just before our `nth` read of it."""
    reads = 0

    def renew(op: str) -> None:
        nonlocal reads
        if op == "read_lease":
            reads += 1
            if reads == nth and fake.lease is not None:
                fake.put_lease(dataclasses.replace(fake.lease, renewed_at=renewed))

    fake.before_lease = renew


def test_the_lease_is_taken_renewed_and_released() -> None:
    fake, clock = small_cluster(), Clock()
    with lease(fake, clock) as held:
        assert fake.lease is not None
        assert json.loads(fake.lease.holder or "") == {
            "tool": "aws-auth-migrate",
            "host": "runner-a",
            "pid": 4242,
            "planId": "plan-mine",
            "user": "alice",
        }
        assert (fake.lease.duration_seconds, fake.lease.acquired_at, fake.lease.renewed_at) == (60, T0, T0)
        assert held.taken_over is None and held.takeover_message is None
        clock.advance(20)
        assert held.renew()
        assert fake.lease.renewed_at == T0 + datetime.timedelta(seconds=20) and fake.lease.acquired_at == T0
    assert fake.lease is None  # released: deleted
    assert fake.lease_calls == ["read_lease", "create_lease", "update_lease", "delete_lease"]


def test_a_held_lease_is_watched_and_refuses_naming_its_holder_once_renewed() -> None:
    fake, clock, waits = small_cluster(), Clock(), FakeTime()
    fake.put_lease(theirs(T0 - datetime.timedelta(seconds=10)))
    renewed_before_read(fake, 3, T0 + datetime.timedelta(seconds=10))
    heard: list[str] = []
    with pytest.raises(ClusterLockedError) as refused:
        lease(fake, clock, waits, on_message=heard.append).acquire()
    assert refused.value.exit_code == 7
    message = str(refused.value)
    assert "pid 77 on ci-runner-7 (plan plan-theirs, user bob)" in message
    assert "renewed while this run watched it" in message
    assert fake.lease is not None and fake.lease.holder == OTHER.identity()  # untouched
    assert fake.lease_calls == ["read_lease"] * 3 and waits.slept == [2.0, 2.0]
    assert heard == [
        "the lease on cluster prod (kube-system/aws-auth-migrate) is held by pid 77 on ci-runner-7 (plan "
        "plan-theirs, user bob): watching it for up to 60 s to tell whether that run is alive (a live run renews "
        "it every third of that)"
    ]


def test_someone_elses_holder_identity_is_named_verbatim_and_a_lease_longer_than_a_run_waits_refuses_at_once() -> None:
    fake, clock = small_cluster(), Clock()
    fake.put_lease(LeaseState(LEASE_NAMESPACE, LEASE_NAME, "kubectl-by-hand", 3600, T0, T0))
    with pytest.raises(ClusterLockedError, match="locked by 'kubectl-by-hand'") as refused:
        lease(fake, clock).acquire()
    assert "keeps it for 3600 s after each renewal" in str(refused.value)
    assert "kubectl -n kube-system delete lease aws-auth-migrate" in (refused.value.hint or "")
    assert fake.lease_calls == ["read_lease"]


def test_a_lease_left_unrenewed_for_its_duration_is_taken_over_and_reported() -> None:
    fake, clock, waits = small_cluster(), Clock(), FakeTime()
    fake.put_lease(theirs(T0 - datetime.timedelta(seconds=61)))
    with lease(fake, clock, waits) as held:
        assert waits.now - 100.0 == 60.0  # watched for the lease's whole duration on our own clock
        assert held.taken_over is not None and held.taken_over.holder == OTHER.identity()
        assert fake.lease is not None and fake.lease.holder == ME.identity()
        assert fake.lease.transitions == 4 and fake.lease.acquired_at == T0
        message = held.takeover_message or ""
        assert "took over an expired lease on cluster prod" in message
        assert "pid 77 on ci-runner-7" in message and "did not renew it while this run watched it for 60 s" in message
        assert "2025-03-01T11:58:59Z" in message  # its renewTime, said to be by its own clock
    assert fake.lease is None


def test_a_renewal_seen_at_the_last_look_still_holds() -> None:
    fake, clock = small_cluster(), Clock()
    fake.put_lease(theirs(T0))
    renewed_before_read(fake, 31, T0 + datetime.timedelta(seconds=59))  # the read at 60 s of watching
    with pytest.raises(ClusterLockedError, match="renewed while this run watched it"):
        lease(fake, clock).acquire()
    assert fake.lease is not None and fake.lease.holder == OTHER.identity()


def test_a_host_whose_clock_is_ahead_does_not_take_a_live_runs_lease() -> None:
    # Regression (issue 20, defect 4): expiry was judged by the holder's renewTime against our clock, so a host
    # two minutes ahead took a live run's lease at once.
    fake, clock = small_cluster(), Clock()
    clock.advance(120)  # our clock; the holder's renewTime (T0) looks a minute past its 60 s
    fake.put_lease(theirs(T0))
    renewed_before_read(fake, 11, T0 + datetime.timedelta(seconds=20))  # its renewal 20 s later
    with pytest.raises(ClusterLockedError, match="pid 77 on ci-runner-7"):
        lease(fake, clock).acquire()
    assert fake.lease is not None and fake.lease.holder == OTHER.identity()
    assert "update_lease" not in fake.lease_calls


def test_a_host_whose_clock_is_behind_takes_over_a_dead_lease_after_watching_it() -> None:
    fake, clock, waits = small_cluster(), Clock(), FakeTime()
    fake.put_lease(theirs(T0 + datetime.timedelta(minutes=10)))  # its clock was ten minutes ahead of ours
    with lease(fake, clock, waits) as held:
        assert held.taken_over is not None and waits.now - 100.0 == 60.0
        assert fake.lease is not None and fake.lease.holder == ME.identity()


def test_a_lease_released_while_watched_is_taken_without_a_takeover_report() -> None:
    fake, clock = small_cluster(), Clock()
    fake.put_lease(theirs(T0))
    reads = 0

    def released(op: str) -> None:
        nonlocal reads
        reads += op == "read_lease"
        if reads == 4:
            fake.lease = None  # its run finished and deleted it

    fake.before_lease = released
    with lease(fake, clock) as held:
        assert held.taken_over is None and fake.lease is not None and fake.lease.holder == ME.identity()


def test_a_freed_lease_is_taken_without_a_takeover_report() -> None:
    fake, clock = small_cluster(), Clock()
    fake.put_lease(LeaseState(LEASE_NAMESPACE, LEASE_NAME, "", 60, T0, T0))
    with lease(fake, clock) as held:
        assert held.taken_over is None and fake.lease is not None and fake.lease.holder == ME.identity()


def test_losing_the_create_race_means_locked() -> None:
    fake, clock = small_cluster(), Clock()

    def other_machine_first(op: str) -> None:
        if op == "create_lease" and fake.lease is None:
            fake.put_lease(theirs(T0))

    fake.before_lease = other_machine_first
    with pytest.raises(ClusterLockedError, match="pid 77 on ci-runner-7"):
        lease(fake, clock).acquire()
    assert fake.lease is not None and fake.lease.holder == OTHER.identity()


def test_losing_the_takeover_race_409_means_locked() -> None:
    fake, clock = small_cluster(), Clock()
    fake.put_lease(theirs(T0 - datetime.timedelta(minutes=5)))
    raced = LeaseHolder("runner-b", 5, "plan-b", "carol")

    def other_taker_first(op: str) -> None:
        if op == "update_lease" and fake.lease is not None and fake.lease.holder == OTHER.identity():
            fake.put_lease(LeaseState(LEASE_NAMESPACE, LEASE_NAME, raced.identity(), 60, T0, T0))

    fake.before_lease = other_taker_first
    with pytest.raises(ClusterLockedError, match="pid 5 on runner-b"):
        lease(fake, clock).acquire()
    assert fake.lease is not None and fake.lease.holder == raced.identity()  # exactly one winner


def test_a_lease_taken_over_by_someone_else_is_reported_lost_and_not_deleted() -> None:
    fake, clock = small_cluster(), Clock()
    heard: list[str] = []
    with lease(fake, clock, on_message=heard.append) as held:
        assert held.lost_reason is None
        fake.put_lease(theirs(T0))  # another machine thought ours expired
        assert not held.renew() and held.lost
        assert len(heard) == 1 and "lost the lease on cluster prod" in heard[0] and "pid 77" in heard[0]
        assert "stopping before the next step" in heard[0]
        assert held.lost_reason is not None and "pid 77" in held.lost_reason
    assert fake.lease is not None and fake.lease.holder == OTHER.identity()  # theirs now: left alone


def test_a_holder_that_cannot_renew_for_two_thirds_of_the_duration_loses_the_lease() -> None:
    fake, clock, waits = small_cluster(), Clock(), FakeTime()
    with lease(fake, clock, waits) as held:

        def unreachable(op: str) -> None:
            if op == "update_lease":
                raise RemoteError("Kubernetes update lease: connection refused")

        fake.before_lease = unreachable
        waits.now += 20
        assert not held.renew() and not held.lost  # a blip: others watching cannot take it over yet
        waits.now += 20
        assert not held.renew() and held.lost  # 40 s without a renewal: stop before others may take it
        assert "could not be renewed for 40 s" in (held.lost_reason or "")
        fake.before_lease = None


def test_the_background_thread_renews_every_third_of_the_duration_until_released() -> None:
    fake, clock = small_cluster(), Clock()
    ticks: list[float] = []
    tick, renewed = threading.Semaphore(0), threading.Semaphore(0)
    stop = threading.Event()

    def wait(seconds: float) -> bool:  # the test decides when the thread's wait is over
        ticks.append(seconds)
        if len(ticks) > 1:
            renewed.release()  # the previous tick's renewal is done
        tick.acquire()
        return stop.is_set()

    held = ClusterLease(fake, "prod", "plan-mine", clock=clock, holder=ME, duration_seconds=30, wait=wait)
    held.acquire()
    for n in (1, 2):
        clock.advance(10)
        tick.release()
        renewed.acquire()
        assert fake.lease is not None and fake.lease.renewed_at == T0 + datetime.timedelta(seconds=10 * n)
    stop.set()
    tick.release()
    held.release()
    assert ticks == [10.0, 10.0, 10.0] and fake.lease is None


def test_a_caller_forbidden_the_lease_runs_without_it_warned() -> None:
    fake, clock = small_cluster(), Clock()

    def forbidden(op: str) -> None:
        raise ForbiddenError("Kubernetes get lease kube-system/aws-auth-migrate: HTTP 403 Forbidden")

    fake.before_lease = forbidden
    with lease(fake, clock) as held:
        assert held.forbidden is not None and "runs on other machines are not kept out" in held.forbidden
    assert fake.lease is None


# --- through the application layer -----------------------------------------------------------------------


class Heard:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def __getattr__(self, name: str) -> object:
        if name == "on_message":
            return self.messages.append
        return lambda *args, **kwargs: None


def test_apply_holds_the_lease_while_it_runs_and_releases_it(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    seen: list[LeaseState | None] = []
    fake.hook("describe_cluster", 1, lambda: seen.append(fake.lease))
    report = Runner(plan, fake, tmp_path).apply()
    assert report.result is not RunResult.FAILED
    [during] = seen
    assert during is not None and json.loads(during.holder or "")["planId"]
    assert fake.lease is None and fake.lease_calls[-1] == "delete_lease"


def test_apply_refuses_with_exit_7_while_another_machine_holds_the_lease(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    fake.reset_calls()
    fake.put_lease(theirs(datetime.datetime.now(datetime.UTC), duration=3600))
    with pytest.raises(ClusterLockedError, match="pid 77 on ci-runner-7") as refused:
        Runner(plan, fake, tmp_path).apply()
    assert refused.value.exit_code == 7 and fake.calls == []  # no cluster call but the lease's read


def test_apply_takes_over_an_expired_lease_and_says_so(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    # A one-second lease, so that the watch (real time here) is short.
    fake.put_lease(theirs(datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1), duration=1))
    heard = Heard()
    Runner(plan, fake, tmp_path, observer=heard).apply()  # type: ignore[arg-type]
    assert any("took over an expired lease" in m and "pid 77" in m for m in heard.messages)
    assert fake.lease is None


def test_the_same_plan_in_two_directories_meets_one_machine_lock(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    with (
        ClusterLock(lock_path(plan.cluster), "prod", "someone"),
        pytest.raises(ClusterLockedError, match="plan someone"),
    ):
        Runner(plan, fake, tmp_path / "copy").apply()
    assert fake.lease_calls == []  # refused before reaching the cluster


def test_a_dry_run_takes_no_lock(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    fake.put_lease(theirs(datetime.datetime.now(datetime.UTC), duration=3600))
    Runner(plan, fake, tmp_path, dry_run=True).apply()
    assert fake.lease_calls == []


def test_a_lease_of_a_dead_process_on_this_host_is_taken_over_at_once() -> None:
    fake, clock, waits = small_cluster(), Clock(), FakeTime()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that no longer exists: a run SIGKILLed here
    gone = dataclasses.replace(LeaseHolder.here("plan-killed"), pid=child.pid)  # as this version writes it
    assert gone.machine is not None  # Linux: the boot id and our pid namespace are readable
    fake.put_lease(LeaseState(LEASE_NAMESPACE, LEASE_NAME, gone.identity(), 60, T0, T0))  # not expired
    with lease(fake, clock, waits) as held:
        assert held.taken_over is not None and "is gone" in (held.takeover_message or "")
        assert waits.slept == []  # not watched


# A machine as `migrator.run.machine` reads it: the kernel's boot id and the pid namespace of this process.
BOOT, OTHER_BOOT = "6b11095c-6774-4cef-9d02-fba9a7505ba2", "0c4d2e7a-1b3f-4a5e-8d9c-7f6e5d4c3b2a"
OURS = f"{BOOT}/pid:[4026531836]"
HERE = Process(socket.gethostname(), os.getpid(), OURS)
GONE_PID = 2**22 + 12345  # above Linux's largest pid_max: no process has it


@pytest.mark.parametrize(
    ("here", "machine", "at_once"),
    [
        pytest.param(HERE, OURS, True, id="same-host-boot-and-pid-namespace"),
        pytest.param(HERE, f"{OTHER_BOOT}/pid:[4026531836]", False, id="another-machine-of-our-host-name"),
        pytest.param(HERE, f"{BOOT}/pid:[4026532311]", False, id="another-container-of-this-machine"),
        pytest.param(HERE, None, False, id="written-by-an-older-version"),
        pytest.param(dataclasses.replace(HERE, machine=None), None, False, id="we-cannot-read-our-machine"),
    ],
)
def test_a_dead_pid_of_our_host_name_is_taken_over_at_once_only_on_our_machine(
    here: Process, machine: str | None, at_once: bool
) -> None:
    # Review of issue 21: "dead here" trusted the host name alone. CI runners on other machines share host names
    # (autoscaled VMs, --hostname, pods), and containers on one machine have pid namespaces of their own: a live
    # run's Lease (and its lock object) was taken over at once, and two runs changed one cluster.
    fake, clock, waits = small_cluster(), Clock(), FakeTime()
    dead = LeaseHolder(HERE.host, GONE_PID, "plan-killed", "alice", machine)
    fake.put_lease(LeaseState(LEASE_NAMESPACE, LEASE_NAME, dead.identity(), 60, T0, T0))
    with lease(fake, clock, waits, here=here) as held:
        assert held.taken_over is not None and held.taken_over.holder == dead.identity()
        assert (waits.slept == []) is at_once  # else watched for its 60 s: unrenewed, then taken over
        assert ("is gone (its process no longer exists on this host)" in (held.takeover_message or "")) is at_once


def test_a_lease_of_our_host_name_and_pid_on_another_machine_is_not_held_by_this_process() -> None:
    mine = LeaseHolder(HERE.host, HERE.pid, "batch-plan", "alice", OURS)
    theirs = dataclasses.replace(mine, machine=f"{OTHER_BOOT}/pid:[4026531836]")
    older = dataclasses.replace(mine, machine=None)

    def held(holder: LeaseHolder) -> bool:
        return held_by_this_process(LeaseState(LEASE_NAMESPACE, LEASE_NAME, holder.identity()), HERE)

    assert held(mine) and not held(theirs) and not held(older)
    assert json.loads(mine.identity())["machine"] == OURS


@pytest.mark.parametrize("pid", ["1e999", "-1", "0", "[1]"])
def test_a_holder_naming_no_pid_of_ours_is_not_judged(pid: str) -> None:
    # `"pid": 1e999` (a lock object edited by hand) raised OverflowError: exit 1, an internal error.
    holder = f'{{"tool":"aws-auth-migrate","host":"{HERE.host}","pid":{pid},"machine":"{OURS}","planId":"p"}}'
    lease = LeaseState(LEASE_NAMESPACE, LEASE_NAME, holder)
    assert not holder_dead_here(lease, HERE) and not held_by_this_process(lease, HERE)
    assert describe_holder(holder)


def test_a_run_that_loses_its_lease_stops_before_its_next_step_with_exit_7_and_resumes(tmp_path: Path) -> None:
    # Regression (issue 20, defect 4): a run that lost its lease said so and carried on with every step left.
    fake, clock = small_cluster(), Clock()
    plan = make_plan(fake)
    plan_id = str(plan_to_dict(plan)["planId"])
    journal = FileJournal(journal_path(tmp_path, plan_id), plan_id)
    held = lease(fake, clock).acquire()

    def another_machine_takes_it() -> None:
        fake.put_lease(theirs(T0))
        assert not held.renew()  # the renewal thread's next tick finds it theirs

    fake.hook("associate_policy", 1, another_machine_takes_it)  # lost between a principal's entry and policy
    report = Executor(
        plan,
        fake,
        fake,
        journal,
        plan_id=plan_id,
        backup=backup_slot(tmp_path / "backup.json"),
        settings=RunSettings(
            approvals=frozenset({AuthMode.API_AND_CONFIG_MAP, AuthMode.API}), max_concurrency=1, poll=FAST
        ),
        lease_lost=lambda: held.lost_reason,
    ).apply()
    assert report.result is RunResult.STOPPED and report.exit_code == 7
    assert isinstance(report.error, ClusterLockedError) and "lost the lease on cluster prod" in str(report.error)
    ops = [c.op for c in fake.calls]
    assert ops.count("associate_policy") == 1 and ops[-1] == "associate_policy"  # nothing after the unit in flight
    state = read_state(journal)
    assert not state.open_run and state.last_result == "stopped"  # the journal is true: resumable
    principal = next(c.args[0] for c in fake.calls if c.op == "associate_policy")
    unit = [s.id for s in plan.steps if s.principal_arn == principal]
    assert len(unit) == 2 and all(state.of(step).done for step in unit)  # the principal in flight was finished
    assert any(state.of(s.id).phase is Phase.PENDING for s in plan.steps)

    fake.lease = None  # the other run is done
    both = frozenset({AuthMode.API_AND_CONFIG_MAP, AuthMode.API})
    resumed = Runner(plan, fake, tmp_path, approvals=both, poll=FAST).apply()
    assert resumed.result is RunResult.COMPLETED and resumed.exit_code == 0


def test_a_renewal_that_never_returns_loses_the_lease_by_our_own_clock() -> None:
    # Review of issue 20: a lease was lost only when a renewal call came back; one hung on a dead connection
    # let the run go on while another machine could already take the lease over.
    fake, clock, waits = small_cluster(), Clock(), FakeTime()
    hung = threading.Event()
    held = ClusterLease(
        fake, "prod", "plan-mine", clock=clock, holder=ME, monotonic=waits.clock, sleep=waits.sleep,
        wait=lambda _seconds: hung.wait(),  # the background renewal never gets a turn: as if its call hung
    ).acquire()  # fmt: skip
    try:
        waits.sleep(39)
        assert held.loss() is None
        waits.sleep(2)  # past two thirds of the 60 s lease without a renewal
        loss = held.loss()
        assert loss is not None and "not renewed for 40 s" in loss
    finally:
        hung.set()
        held.release()
