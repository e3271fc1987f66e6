"""The journal (append, fsync, torn lines, folding), the aws-auth backup file, and the cluster lock."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from migrator.errors import ClusterLockedError
from migrator.model import ClusterRef
from migrator.ports import ConfigMapState
from migrator.run.backup import AwsAuthBackup
from migrator.run.journal import Event, FileJournal, Journal, JournalCorrupt, Phase, fold, parse_journal, read_state
from migrator.run.lock import LOCK_DIR_ENV, ClusterLock, LockHolder, holder_alive, lock_dir, lock_path, read_holder
from tests.support.statefiles import journal_path, load_backup, write_backup

PLAN_ID = "abc123def456"


def clock() -> str:
    return "2024-05-01T00:00:00.000Z"


def journal(tmp_path: Path) -> Journal:
    return FileJournal(journal_path(tmp_path / "prod", PLAN_ID), PLAN_ID, clock=clock)


# --- append and read -------------------------------------------------------------------------------------


def test_records_round_trip_one_json_line_each(tmp_path: Path) -> None:
    j = journal(tmp_path)
    j.append(Event.RUN_STARTED, operation="apply", pid=1)
    j.append(Event.STEP_STARTED, "01-backup-aws-auth")
    j.append(Event.STEP_DONE, "01-backup-aws-auth", path="x")
    j.close()
    lines = j.path.read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["run-started", "step-started", "step-done"]
    assert json.loads(lines[2]) == {
        "at": "2024-05-01T00:00:00.000Z",
        "event": "step-done",
        "planId": PLAN_ID,
        "step": "01-backup-aws-auth",
        "detail": {"path": "x"},
    }
    read = j.read()
    assert read.torn_line is None
    assert [r.event for r in read.records] == [Event.RUN_STARTED, Event.STEP_STARTED, Event.STEP_DONE]
    assert read.records[2].detail == {"path": "x"}


def test_every_append_is_fsynced_and_the_new_file_s_directory_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    j = journal(tmp_path)
    j.append(Event.RUN_STARTED)
    j.append(Event.STEP_STARTED, "01")
    assert synced == ["dir", "file", "file"]


def test_a_missing_journal_reads_as_empty(tmp_path: Path) -> None:
    state = read_state(journal(tmp_path))
    assert state.runs == 0 and not state.any_progress


def test_a_torn_last_line_is_tolerated_reported_and_cut_before_the_next_append(tmp_path: Path) -> None:
    j = journal(tmp_path)
    j.append(Event.RUN_STARTED)
    j.append(Event.STEP_STARTED, "01")
    j.close()
    with open(j.path, "a") as handle:
        handle.write('{"at":"2024","event":"step-do')  # the crash hit mid-write
    read = j.read()
    assert [r.event for r in read.records] == [Event.RUN_STARTED, Event.STEP_STARTED]
    assert read.torn_line == '{"at":"2024","event":"step-do'
    assert read.torn_message is not None and "cut off by a crash" in read.torn_message
    assert read_state(j).torn_message == read.torn_message

    resumed = journal(tmp_path)
    resumed.append(Event.STEP_DONE, "01")
    read = resumed.read()
    assert read.torn_line is None
    assert [r.event for r in read.records] == [Event.RUN_STARTED, Event.STEP_STARTED, Event.STEP_DONE]


def test_a_whole_record_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    j = journal(tmp_path)
    j.append(Event.RUN_STARTED)
    j.close()
    j.path.write_text(j.path.read_text().rstrip("\n"))
    assert [r.event for r in j.read().records] == [Event.RUN_STARTED]
    again = journal(tmp_path)
    again.append(Event.RUN_FINISHED, result="completed")
    assert [r.event for r in again.read().records] == [Event.RUN_STARTED, Event.RUN_FINISHED]


def test_a_corrupt_line_before_the_last_is_not_guessed_around() -> None:
    text = '{"at":"t","event":"run-started","planId":"p"}\nGARBAGE\n{"at":"t","event":"run-finished","planId":"p"}\n'
    with pytest.raises(JournalCorrupt, match="journal:2"):
        parse_journal(text)


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    j = journal(tmp_path)

    def worker(number: int) -> None:
        for step in range(25):
            j.append(Event.STEP_DONE, f"{number:02d}-{step:02d}", filler="x" * 300)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read = j.read()
    assert read.torn_line is None and len(read.records) == 200


# --- folding ---------------------------------------------------------------------------------------------


def records(*events: tuple[Event, str | None, dict[str, object]]) -> list[object]:
    from migrator.run.journal import Record

    return [Record(event, "t", PLAN_ID, step, detail) for event, step, detail in events]


def test_fold_gives_each_step_its_latest_state() -> None:
    state = fold(
        records(  # type: ignore[arg-type]
            (Event.RUN_STARTED, None, {}),
            (Event.STEP_STARTED, "01", {}),
            (Event.STEP_DONE, "01", {"path": "b"}),
            (Event.STEP_STARTED, "02", {}),
            (Event.STEP_FAILED, "02", {"error": "boom"}),
            (Event.GATE_WAITING, "03", {"mode": "API"}),
            (Event.RUN_FINISHED, None, {"result": "failed"}),
        )
    )
    assert state.of("01").phase is Phase.DONE and state.of("01").detail == {"path": "b"}
    assert state.of("02").phase is Phase.FAILED and state.of("02").error == "boom"
    assert state.of("04").phase is Phase.PENDING
    assert (state.runs, state.last_result, state.waiting_gate, state.open_run) == (1, "failed", "03", False)


def test_attempted_tells_a_call_that_may_have_reached_aws() -> None:
    state = fold(
        records(  # type: ignore[arg-type]
            (Event.RUN_STARTED, None, {}),
            (Event.STEP_STARTED, "a", {}),  # crashed here: the call may have happened
            (Event.STEP_STARTED, "b", {}),
            (Event.STEP_FAILED, "b", {"error": "timeout"}),  # failed after the call: may have happened
            (Event.STEP_FAILED, "c", {"error": "conflict"}),  # failed in its check: no call
            (Event.STEP_STARTED, "d", {}),
            (Event.STEP_DONE, "d", {"created": True}),
            (Event.STEP_STARTED, "e", {}),
            (Event.STEP_DONE, "e", {}),
            (Event.STEP_UNDONE, "e", {"deleted": True}),
        )
    )
    assert state.open_run
    assert [state.of(s).attempted for s in "abcde"] == [True, True, False, False, False]
    assert state.of("a").phase is Phase.STARTED
    assert state.of("d").created and not state.of("e").created
    assert state.any_progress


def test_a_failure_in_a_later_check_keeps_the_earlier_attempt() -> None:
    state = fold(
        records(  # type: ignore[arg-type]
            (Event.STEP_STARTED, "a", {}),
            (Event.STEP_FAILED, "a", {"error": "conflict"}),
        )
    )
    assert state.of("a").attempted and state.of("a").phase is Phase.FAILED


# --- backup ----------------------------------------------------------------------------------------------


def test_backup_is_private_atomic_and_self_checking(tmp_path: Path) -> None:
    path = tmp_path / "prod" / f"{PLAN_ID}.aws-auth.backup.json"
    state = ConfigMapState("kube-system", "aws-auth", {"mapRoles": "- rolearn: x\n"}, "42")
    backup = AwsAuthBackup.of("kube-system", "aws-auth", state)
    write_backup(path, backup)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_name(path.name + ".tmp").exists()
    loaded = load_backup(path)
    assert loaded == backup and loaded is not None and loaded.resource_version == "42"

    body = json.loads(path.read_text())
    body["data"]["mapRoles"] = "- rolearn: someone-else\n"
    path.write_text(json.dumps(body))
    assert load_backup(path) is None  # edited: never half-trusted
    assert load_backup(tmp_path / "missing.json") is None


def test_backup_of_a_missing_aws_auth_records_its_absence(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    write_backup(path, AwsAuthBackup.of("kube-system", "aws-auth", None))
    loaded = load_backup(path)
    assert loaded is not None and loaded.absent and loaded.sha256 == ""


# --- the cluster lock ------------------------------------------------------------------------------------

PROD = ClusterRef("prod", "eu-west-1", "111122223333")


def test_the_lock_is_one_file_per_cluster_identity_in_the_machine_lock_dir(lock_dir: Path) -> None:
    assert lock_path(PROD) == lock_dir / "aws-111122223333-eu-west-1-prod.lock"
    others = [
        ClusterRef("prod", "eu-west-1", "111122223333", partition="aws-cn"),
        ClusterRef("prod", "eu-west-1", "444455556666"),
        ClusterRef("prod", "us-east-1", "111122223333"),
        ClusterRef("staging", "eu-west-1", "111122223333"),
    ]
    assert len({lock_path(c) for c in [PROD, *others]}) == 5


def test_without_the_override_the_locks_live_in_the_xdg_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(LOCK_DIR_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert lock_dir() == tmp_path / "state" / "aws-auth-migrate" / "locks"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert lock_dir() == tmp_path / "home" / ".local" / "state" / "aws-auth-migrate" / "locks"


def test_the_lock_dir_and_file_are_private(lock_dir: Path) -> None:
    with ClusterLock(lock_path(PROD), "prod", "plan-one"):
        assert oct(lock_dir.stat().st_mode & 0o777) == "0o700"
        assert oct(lock_path(PROD).stat().st_mode & 0o777) == "0o600"


def test_a_second_apply_on_the_same_cluster_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = lock_path(PROD)
    with ClusterLock(path, "prod", "plan-one") as first:
        assert first.stale is None
        with pytest.raises(ClusterLockedError) as refused:
            ClusterLock(path, "prod", "plan-two").acquire()
        assert refused.value.exit_code == 7
        assert f"pid {os.getpid()}" in str(refused.value) and "plan plan-one" in str(refused.value)
        holder = read_holder(path)
        assert holder is not None and holder.plan_id == "plan-one" and holder_alive(holder)
    assert read_holder(path) is None  # released cleanly: the file is emptied, never deleted
    assert path.exists()
    with ClusterLock(path, "prod", "plan-two") as again:
        assert again.stale is None


def test_a_lock_held_by_another_process_is_refused(tmp_path: Path) -> None:
    path = lock_path(PROD)
    holder = _hold_lock_in_child(path)
    try:
        with pytest.raises(ClusterLockedError, match=f"pid {holder.pid}"):
            ClusterLock(path, "prod", "mine").acquire()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over_and_reported(tmp_path: Path) -> None:
    path = lock_path(PROD)
    child = _hold_lock_in_child(path)
    child.kill()  # SIGKILL: no cleanup; the kernel drops the flock, the file still names the child
    child.wait()
    left = read_holder(path)
    assert left is not None and left.pid == child.pid and holder_alive(left) is False
    with ClusterLock(path, "prod", "mine") as lock:
        assert lock.stale is not None and lock.stale.pid == child.pid
        assert lock.stale_message is not None
        assert f"pid {child.pid}" in lock.stale_message and "stale" in lock.stale_message
        current = read_holder(path)
        assert current is not None and current.pid == os.getpid()


def test_holder_on_another_host_cannot_be_judged() -> None:
    assert holder_alive(LockHolder(1, "some-other-host.example", "p", "t")) is None


def _hold_lock_in_child(path: Path) -> subprocess.Popen[str]:
    """A child that takes the lock, says so, and holds it until its stdin closes or it is killed (no timer)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from migrator.run.lock import ClusterLock\n"
        f"lock = ClusterLock(Path({str(path)!r}), 'prod', 'child-plan').acquire()\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()  # blocks until the child has the lock, or returns "" when it died
    if line.strip() == "locked":
        return child
    child.kill()
    child.wait()
    raise AssertionError("the child never took the lock")


def test_a_nesting_bomb_is_a_corrupt_journal_not_a_crash() -> None:
    # Review of issue 20: `verify --journal` of a deeply nested line exited 1 with a RecursionError.
    with pytest.raises(JournalCorrupt, match="journal:1: not a journal record"):
        parse_journal("[" * 200_000 + "]" * 200_000 + "\n")
