"""Files naming principals (plan, journal, backup, lock) are 0600, and are never written through a symlink or
a device. The directories the tool creates for them are 0700; one that exists is used as it is, never
chmod-ed (issue 21 item 1), unless others can write in it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from migrator.app.planning import save_plan
from migrator.errors import InputError
from migrator.files import atomic_write, private_dir
from migrator.model import AuthMode, ClusterRef
from migrator.ports import ConfigMapState
from migrator.run.backup import AwsAuthBackup
from migrator.run.journal import Event, FileJournal
from migrator.run.lock import ClusterLock, lock_path
from tests.support.statefiles import load_backup, write_backup
from tests.unit.fake_cluster import make_plan, small_cluster

BACKUP = AwsAuthBackup.of("kube-system", "aws-auth", ConfigMapState("kube-system", "aws-auth", {"k": "v"}, "1"))


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_journal_lock_and_backup_are_0600_in_a_0700_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "plans" / "prod"
    journal = FileJournal(run_dir / "p.journal.jsonl", "p")
    journal.append(Event.RUN_STARTED)
    journal.close()
    write_backup(run_dir / "p.backup.json", BACKUP)
    lock = lock_path(ClusterRef("prod", "eu-west-1", "111122223333"))  # one place per machine, not the run dir
    with ClusterLock(lock, "prod", "p"):
        pass
    assert mode(run_dir) == 0o700 and mode(lock.parent) == 0o700 and mode(lock) == 0o600
    assert {p.name: mode(p) for p in run_dir.iterdir()} == {"p.journal.jsonl": 0o600, "p.backup.json": 0o600}


def test_an_existing_0755_directory_is_left_0755_when_a_plan_journal_and_backup_are_written_into_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`apply plan.yaml` in the user's working directory chmod-ed it to 0700 (issue 21 item 1)."""
    plan = make_plan(small_cluster(), AuthMode.API)
    run_dir = tmp_path / plan.cluster.name  # where `plan --plans-dir tmp_path` writes, already there
    run_dir.mkdir()
    os.chmod(run_dir, 0o755)
    path = save_plan(plan, None, tmp_path)
    journal = FileJournal(run_dir / "p.journal.jsonl", "p")
    journal.append(Event.RUN_STARTED)
    journal.close()
    write_backup(run_dir / "p.backup.json", BACKUP)
    assert mode(run_dir) == 0o755
    assert capsys.readouterr().err == ""
    assert {p.name: mode(p) for p in run_dir.iterdir()} == {
        path.name: 0o600,
        "p.journal.jsonl": 0o600,
        "p.backup.json": 0o600,
    }


def test_the_missing_parents_of_a_run_directory_are_created_0700_too(tmp_path: Path) -> None:
    write_backup(tmp_path / "state" / "plans" / "prod" / "p.backup.json", BACKUP)
    created = [tmp_path / "state", tmp_path / "state" / "plans", tmp_path / "state" / "plans" / "prod"]
    assert [mode(folder) for folder in created] == [0o700, 0o700, 0o700]


@pytest.mark.parametrize(
    ("permissions", "owned_by_us"),
    [(0o775, False), (0o757, False), (0o777, True), (0o1777, True), (0o1777, False)],
    ids=[
        "someone-elses-group-writable",
        "someone-elses-world-writable",
        "ours-world-writable",
        "ours-sticky",
        "someone-elses-sticky-like-tmp",
    ],
)
def test_a_directory_others_can_write_in_is_refused_and_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permissions: int, owned_by_us: bool
) -> None:
    """They could swap the journal or the backup, or create it before we do: nothing is written there."""
    run_dir = tmp_path / "shared"
    run_dir.mkdir()
    os.chmod(run_dir, permissions)
    if not owned_by_us:
        real_euid = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: real_euid + 1)
    with pytest.raises(InputError, match="others can write in this directory"):
        write_backup(run_dir / "p.backup.json", BACKUP)
    assert stat.S_IMODE(os.lstat(run_dir).st_mode) == permissions
    assert list(run_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("permissions", "owned_by_us"),
    [(0o775, True), (0o755, False), (0o500, True)],
    ids=["ours-group-writable", "someone-elses-0755", "ours-read-only"],
)
def test_a_directory_only_its_owner_or_our_own_group_can_write_in_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permissions: int, owned_by_us: bool
) -> None:
    """Ours and group-writable (a user private group, umask 002), or someone else's that only they can write in:
    private_dir accepts it and changes nothing."""
    run_dir = tmp_path / "existing"
    run_dir.mkdir()
    os.chmod(run_dir, permissions)
    if not owned_by_us:
        real_euid = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: real_euid + 1)
    assert private_dir(run_dir) == run_dir
    assert mode(run_dir) == permissions


def test_a_symlink_planted_at_the_backup_s_temporary_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    run_dir = tmp_path / "prod"
    run_dir.mkdir(mode=0o700)
    path = run_dir / "p.aws-auth.backup.json"
    path.with_name(path.name + ".tmp").symlink_to(victim)
    write_backup(path, BACKUP)
    assert victim.read_text() == "keep"
    assert load_backup(path) == BACKUP


def test_a_journal_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    run_dir = tmp_path / "prod"
    run_dir.mkdir(mode=0o700)
    (run_dir / "p.journal.jsonl").symlink_to(victim)
    with pytest.raises(InputError, match="symbolic link"):
        FileJournal(run_dir / "p.journal.jsonl", "p").append(Event.RUN_STARTED)
    assert victim.read_text() == "keep"


def test_atomic_write_refuses_a_fifo_and_leaves_no_temporary(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is a fifo"):
        atomic_write(fifo, b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["fifo"]


def test_private_dir_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="not a directory"):
        private_dir(tmp_path / "f")


def test_private_dir_refuses_a_symlink_to_a_directory(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(InputError, match="is a symbolic link, not a directory"):
        private_dir(tmp_path / "link")
