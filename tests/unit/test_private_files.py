"""Files naming principals (plan, journal, backup, lock) are 0600 in a 0700 run directory, and are never
written through a symlink or a device."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from migrator.errors import InputError
from migrator.files import atomic_write, private_dir
from migrator.model import ClusterRef
from migrator.ports import ConfigMapState
from migrator.run.backup import AwsAuthBackup, load_backup, write_backup
from migrator.run.journal import Event, Journal
from migrator.run.lock import ClusterLock, lock_path

BACKUP = AwsAuthBackup.of("kube-system", "aws-auth", ConfigMapState("kube-system", "aws-auth", {"k": "v"}, "1"))


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_journal_lock_and_backup_are_0600_in_a_0700_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "plans" / "prod"
    journal = Journal(run_dir / "p.journal.jsonl", "p")
    journal.append(Event.RUN_STARTED)
    journal.close()
    write_backup(run_dir / "p.backup.json", BACKUP)
    lock = lock_path(ClusterRef("prod", "eu-west-1", "111122223333"))  # one place per machine, not the run dir
    with ClusterLock(lock, "prod", "p"):
        pass
    assert mode(run_dir) == 0o700 and mode(lock.parent) == 0o700 and mode(lock) == 0o600
    assert {p.name: mode(p) for p in run_dir.iterdir()} == {"p.journal.jsonl": 0o600, "p.backup.json": 0o600}


def test_a_loose_run_directory_of_ours_is_tightened_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "prod"
    run_dir.mkdir(mode=0o755)
    os.chmod(run_dir, 0o755)
    write_backup(run_dir / "b.json", BACKUP)
    assert mode(run_dir) == 0o700
    assert "tightened to owner-only" in capsys.readouterr().err


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
        Journal(run_dir / "p.journal.jsonl", "p").append(Event.RUN_STARTED)
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
