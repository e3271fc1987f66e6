"""The aws-auth backup a run keeps next to its journal (`<planId>.aws-auth.backup.json` in the run's store):
written before anything changes aws-auth's meaning, read by rollback to restore aws-auth exactly as it was."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from migrator.awsauth import data_sha256
from migrator.errors import InputError
from migrator.ports import ConfigMapState, StateStore
from migrator.run.journal import utc_now

BACKUP_SUFFIX = ".aws-auth.backup.json"


def backup_name(plan_id: str) -> str:
    return f"{plan_id}{BACKUP_SUFFIX}"


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


@dataclass(frozen=True)
class BackupSlot:
    """Where a plan's backup lives: a key of the run's store. `where` names it for people."""

    store: StateStore
    key: str

    @staticmethod
    def of(store: StateStore, plan_id: str) -> BackupSlot:
        return BackupSlot(store, backup_name(plan_id))

    @property
    def where(self) -> str:
        return self.store.where(self.key)

    def write(self, backup: AwsAuthBackup) -> None:
        """Whole or not at all, readable by the owner only (aws-auth names every principal with access)."""
        body = {
            "schema": BACKUP_SCHEMA,
            "namespace": backup.namespace,
            "name": backup.name,
            "data": dict(backup.data) if backup.data is not None else None,
            "resourceVersion": backup.resource_version,
            "sha256": backup.sha256,
            "takenAt": utc_now(),
        }
        self.store.put(self.key, json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8"))

    def load(self) -> AwsAuthBackup | None:
        """The backup, or None when missing, unreadable or not matching its own hash (never half-trusted)."""
        try:
            stored = self.store.get(self.key)
        except InputError:
            return None
        return None if stored is None else parse_backup(stored.data)


def parse_backup(raw: bytes) -> AwsAuthBackup | None:
    try:
        body = json.loads(raw.decode("utf-8"))
        if body.get("schema") != BACKUP_SCHEMA:
            return None
        data = body["data"]
        backup = AwsAuthBackup(
            str(body["namespace"]),
            str(body["name"]),
            {str(k): str(v) for k, v in data.items()} if data is not None else None,
            body.get("resourceVersion"),
            str(body["sha256"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    expected = data_sha256(backup.data) if backup.data is not None else ""
    return backup if expected == backup.sha256 else None
