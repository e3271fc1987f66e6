"""The aws-auth ConfigMap's steps: back it up before anything changes, delete it at the end, and restore it
from the backup on rollback. Both refuse an aws-auth whose content changed since the plan was made (the plan
holds its sha256): the plan was made for the old content, and deleting the new one would lose it."""

from __future__ import annotations

from typing import Any

from migrator.awsauth import data_sha256
from migrator.errors import ConflictError, RemoteError, StalePlanError
from migrator.model import Step
from migrator.run.backup import AwsAuthBackup, load_backup, write_backup
from migrator.run.journal import StepState
from migrator.run.observer import StepStatus
from migrator.run.steps.context import Check, RunContext, Undo


class BackupAwsAuth:
    def check(self, step: Step, ctx: RunContext) -> Check:
        config_map = ctx.kube.read_config_map(step.params["namespace"], step.params["name"])
        sha = data_sha256(config_map.data) if config_map is not None else ""
        if sha != step.params["sha256"]:
            raise StalePlanError(
                f"aws-auth changed since the plan was made (sha256 {step.params['sha256'][:12]} -> {sha[:12]})",
                hint="make a new plan",
            )
        existing = load_backup(ctx.backup_path)
        if existing is not None and existing.sha256 == sha:
            return Check(False, {"already": True, "path": str(ctx.backup_path)})
        return Check(True, note=f"would write {ctx.backup_path}")

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        config_map = ctx.kube.read_config_map(step.params["namespace"], step.params["name"])
        backup = AwsAuthBackup.of(step.params["namespace"], step.params["name"], config_map)
        if backup.sha256 != step.params["sha256"]:
            raise StalePlanError("aws-auth changed while it was being backed up", hint="make a new plan")
        write_backup(ctx.backup_path, backup)
        return {"path": str(ctx.backup_path), "resourceVersion": backup.resource_version, "absent": backup.absent}

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        backup = load_backup(ctx.backup_path)
        if backup is None or backup.sha256 != step.params["sha256"]:
            raise RemoteError(f"the backup {ctx.backup_path} does not read back as written")
        return {"sha256": backup.sha256}

    def effect(self, step: Step, ctx: RunContext) -> str:
        return f"writes {ctx.backup_path} (mode 0600); changes nothing on the cluster"

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        return None  # nothing on the cluster; the backup stays for restoring aws-auth


class RemoveAwsAuth:
    def check(self, step: Step, ctx: RunContext) -> Check:
        config_map = ctx.kube.read_config_map(step.params["namespace"], step.params["name"])
        if config_map is None:
            return Check(False, {"recovered": True} if ctx.attempted(step) else {"already": True})
        if not ctx.dry_run:
            self._backup(ctx)
        if data_sha256(config_map.data) != ctx.plan.fingerprint.aws_auth_sha256:
            raise StalePlanError(
                "aws-auth changed since it was backed up; deleting it would lose those changes",
                hint="make a new plan",
            )
        return Check(True, note="would delete aws-auth (resourceVersion precondition)")

    def _backup(self, ctx: RunContext) -> AwsAuthBackup:
        backup = load_backup(ctx.backup_path)
        if backup is None or backup.sha256 != ctx.plan.fingerprint.aws_auth_sha256:
            raise RemoteError(f"no valid aws-auth backup at {ctx.backup_path}: refusing to delete aws-auth")
        return backup

    def apply(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        config_map = ctx.kube.read_config_map(step.params["namespace"], step.params["name"])
        if config_map is None:
            return {"already": True}
        if data_sha256(config_map.data) != ctx.plan.fingerprint.aws_auth_sha256:
            raise StalePlanError("aws-auth changed since it was backed up", hint="make a new plan")
        ctx.kube.delete_config_map(config_map)  # fails if written since we read it (resourceVersion)
        return {"deleted": True, "resourceVersion": config_map.resource_version}

    def read_back(self, step: Step, ctx: RunContext) -> dict[str, Any]:
        if ctx.kube.read_config_map(step.params["namespace"], step.params["name"]) is not None:
            raise RemoteError("aws-auth is still there after deleting it")
        return {}

    def effect(self, step: Step, ctx: RunContext) -> str:
        return f"deletes kube-system/aws-auth; `rollback` restores it from {ctx.backup_path}"

    def undo(self, step: Step, state: StepState, ctx: RunContext) -> Undo | None:
        if not (state.done or state.attempted):
            return None
        namespace, name = step.params["namespace"], step.params["name"]
        backup = self._backup(ctx)
        if backup.data is None:
            return Undo(StepStatus.UNDONE, {"absent": True})  # there was no aws-auth to restore
        current = ctx.kube.read_config_map(namespace, name)
        if current is not None:
            if data_sha256(current.data) == backup.sha256:
                return Undo(StepStatus.UNDONE, {"present": True})
            raise ConflictError(f"{namespace}/{name} was re-created with other content; not overwritten")
        restored = ctx.kube.create_config_map(namespace, name, dict(backup.data))
        if data_sha256(restored.data) != backup.sha256:
            raise RemoteError(f"{namespace}/{name} does not read back as the backup after restoring it")
        return Undo(StepStatus.UNDONE, {"restored": True, "resourceVersion": restored.resource_version})
