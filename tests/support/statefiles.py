"""The run files of a local state, by path, for tests that look at them directly (FileStore underneath)."""

from __future__ import annotations

from pathlib import Path

from migrator.run.backup import AwsAuthBackup, BackupSlot
from migrator.run.journal import journal_name
from migrator.state.files import FileStore


def journal_path(run_dir: Path, plan_id: str) -> Path:
    """Where a local run directory keeps the plan's journal."""
    return run_dir / journal_name(plan_id)


def backup_slot(path: Path) -> BackupSlot:
    return BackupSlot(FileStore(path.parent), path.name)


def write_backup(path: Path, backup: AwsAuthBackup) -> None:
    backup_slot(path).write(backup)


def load_backup(path: Path) -> AwsAuthBackup | None:
    return backup_slot(path).load()
