"""The aws-auth backup a run keeps next to its journal: written before anything changes aws-auth's meaning,
read by rollback to restore aws-auth exactly as it was."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from migrator.awsauth import data_sha256
from migrator.files import atomic_write, private_dir
from migrator.ports import ConfigMapState
from migrator.run.journal import utc_now


def backup_path(run_dir: Path, plan_id: str) -> Path:
    return run_dir / f"{plan_id}.aws-auth.backup.json"


BACKUP_SCHEMA = "aws-auth-migrate/aws-auth-backup/v1"


@dataclass(frozen=True)
class AwsAuthBackup:
    """aws-auth's data keys verbatim (None when the ConfigMap did not exist) and the resourceVersion read."""

    namespace: str
    name: str
    data: Mapping[str, str] | None
    resource_version: str | None
    sha256: str  # data_sha256(data), "" when absent: the plan fingerprint's convention

    @property
    def absent(self) -> bool:
        return self.data is None

    @staticmethod
    def of(namespace: str, name: str, config_map: ConfigMapState | None) -> AwsAuthBackup:
        if config_map is None:
            return AwsAuthBackup(namespace, name, None, None, "")
        data = dict(config_map.data)
        return AwsAuthBackup(namespace, name, data, config_map.resource_version, data_sha256(data))


def write_backup(path: Path, backup: AwsAuthBackup) -> None:
    """Atomically, readable by the owner only (aws-auth names every principal with access)."""
    body = {
        "schema": BACKUP_SCHEMA,
        "namespace": backup.namespace,
        "name": backup.name,
        "data": dict(backup.data) if backup.data is not None else None,
        "resourceVersion": backup.resource_version,
        "sha256": backup.sha256,
        "takenAt": utc_now(),
    }
    private_dir(path.parent)
    atomic_write(path, json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def load_backup(path: Path) -> AwsAuthBackup | None:
    """The backup, or None when missing, unreadable or not matching its own hash (never half-trusted)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        data = body["data"]
        backup = AwsAuthBackup(
            str(body["namespace"]),
            str(body["name"]),
            {str(k): str(v) for k, v in data.items()} if data is not None else None,
            body.get("resourceVersion"),
            str(body["sha256"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    expected = data_sha256(backup.data) if backup.data is not None else ""
    return backup if expected == backup.sha256 else None
