"""The aws-auth ConfigMap's steps: back it up before anything changes, delete it at the end, and restore it
from the backup on rollback. Both refuse an aws-auth whose content changed since the plan was made (the plan
holds its sha256): the plan was made for the old content, and deleting the new one would lose it."""

from __future__ import annotations

from typing import Any

from migrator.awsauth import data_sha256, object_meta
from migrator.errors import ConflictError, RemoteError, StalePlanError
from migrator.model import BackupAwsAuth, RemoveAwsAuth, RestoreAwsAuth
from migrator.ports import ConfigMapState
from migrator.rules.ownership import owners_of
from migrator.run.backup import AwsAuthBackup
from migrator.run.freshness import refuse_aws_auth_drift
from migrator.run.steps.context import Check, RunContext


class BackupAwsAuthHandler:
    def check(self, step: BackupAwsAuth, ctx: RunContext) -> Check:
        config_map = ctx.kube.read_config_map(step.namespace, step.name)
        sha = data_sha256(config_map.data) if config_map is not None else ""
        if sha != step.sha256:
            raise StalePlanError(
                f"aws-auth changed since the plan was made (sha256 {step.sha256[:12]} -> {sha[:12]})",
                hint="make a new plan",
            )
        existing = ctx.backup.load()
        if existing is not None and existing.sha256 == sha:
            return Check(False, {"already": True, "path": ctx.backup.where})
        return Check(True, note=f"would write {ctx.backup.where}")

    def apply(self, step: BackupAwsAuth, ctx: RunContext) -> dict[str, Any]:
        config_map = ctx.kube.read_config_map(step.namespace, step.name)
        backup = AwsAuthBackup.of(step.namespace, step.name, config_map)
        if backup.sha256 != step.sha256:
            raise StalePlanError("aws-auth changed while it was being backed up", hint="make a new plan")
        ctx.backup.write(backup)
        return {"path": ctx.backup.where, "resourceVersion": backup.resource_version, "absent": backup.absent}

    def read_back(self, step: BackupAwsAuth, ctx: RunContext) -> dict[str, Any]:
        backup = ctx.backup.load()
        if backup is None or backup.sha256 != step.sha256:
            raise RemoteError(f"the backup {ctx.backup.where} does not read back as written")
        return {"sha256": backup.sha256}

    def effect(self, step: BackupAwsAuth, ctx: RunContext) -> str:
        return f"writes {ctx.backup.where} (private to its owner); changes nothing on the cluster"


class RemoveAwsAuthHandler:
    def check(self, step: RemoveAwsAuth, ctx: RunContext) -> Check:
        config_map = ctx.kube.read_config_map(step.namespace, step.name)
        if config_map is None:
            return Check(False, {"recovered": True} if ctx.attempted(step) else {"already": True})
        if not ctx.dry_run:
            valid_backup(ctx, "refusing to delete aws-auth")
        refuse_aws_auth_drift(ctx.plan, ctx.prior, config_map, "delete aws-auth (those changes would be lost)")
        refuse_if_managed(ctx, config_map)
        return Check(True, note="would delete aws-auth (resourceVersion precondition)")

    def apply(self, step: RemoveAwsAuth, ctx: RunContext) -> dict[str, Any]:
        config_map = ctx.kube.read_config_map(step.namespace, step.name)
        if config_map is None:
            return {"already": True}
        refuse_aws_auth_drift(ctx.plan, ctx.prior, config_map, "delete aws-auth (those changes would be lost)")
        refuse_if_managed(ctx, config_map)
        ctx.kube.delete_config_map(config_map)  # fails if written since we read it (resourceVersion)
        return {"deleted": True, "resourceVersion": config_map.resource_version}

    def read_back(self, step: RemoveAwsAuth, ctx: RunContext) -> dict[str, Any]:
        if ctx.kube.read_config_map(step.namespace, step.name) is not None:
            raise RemoteError("aws-auth is still there after deleting it")
        return {}

    def effect(self, step: RemoveAwsAuth, ctx: RunContext) -> str:
        return f"deletes kube-system/aws-auth; `rollback` restores it from {ctx.backup.where}"


def refuse_if_managed(ctx: RunContext, config_map: ConfigMapState) -> None:
    """A tool that re-applies aws-auth (Argo CD, Flux, Helm, Terraform, ...) undoes its deletion, or fails its
    next run on it: ConflictError (exit 6) unless the operator said its source was changed
    (--accept-managed-aws-auth). Its owners are read from aws-auth as it is now, right before the delete; the
    plan's AWS_AUTH_MANAGED findings count too (they can only add the refusal, never lift it)."""
    if ctx.accept_managed_aws_auth:
        return
    owners = [owner.describe() for owner in owners_of(object_meta(config_map.raw, "kube-system/aws-auth"))]
    if not owners and any(f.code == "AWS_AUTH_MANAGED" for f in ctx.plan.findings):
        owners = ["an owner the plan found (AWS_AUTH_MANAGED), whose marks are gone since"]
    if owners:
        raise ConflictError(
            "refusing to delete aws-auth: it is written by "
            + "; and by ".join(owners)
            + ", which would re-apply it (or fail its next run on it)",
            hint="change that source first (the plan's AWS_AUTH_MANAGED findings say how), then re-run apply with "
            "--accept-managed-aws-auth; aws-auth may stay meanwhile: API mode ignores it",
        )


def valid_backup(ctx: RunContext, refusal: str) -> AwsAuthBackup:
    """The backup of the aws-auth this plan was made from; RemoteError (`refusal`) when there is none."""
    backup = ctx.backup.load()
    if backup is None or backup.sha256 != ctx.plan.fingerprint.aws_auth_sha256:
        raise RemoteError(f"no valid aws-auth backup at {ctx.backup.where}: {refusal}")
    return backup


class RestoreAwsAuthHandler:
    """Undo remove-aws-auth: re-create the ConfigMap from the backup, never over one with other content."""

    def check(self, step: RestoreAwsAuth, ctx: RunContext) -> Check:
        backup = valid_backup(ctx, "cannot restore aws-auth")
        if backup.data is None:
            return Check(False, {"absent": True})  # there was no aws-auth to restore
        current = ctx.kube.read_config_map(step.namespace, step.name)
        if current is None:
            return Check(True, note=f"would re-create {step.namespace}/{step.name} from {ctx.backup.where}")
        if data_sha256(current.data) == backup.sha256:
            return Check(False, {"present": True})
        raise ConflictError(f"{step.namespace}/{step.name} was re-created with other content; not overwritten")

    def apply(self, step: RestoreAwsAuth, ctx: RunContext) -> dict[str, Any]:
        backup = valid_backup(ctx, "cannot restore aws-auth")
        restored = ctx.kube.create_config_map(step.namespace, step.name, dict(backup.data or {}))
        return {"restored": True, "resourceVersion": restored.resource_version}

    def read_back(self, step: RestoreAwsAuth, ctx: RunContext) -> dict[str, Any]:
        current = ctx.kube.read_config_map(step.namespace, step.name)
        if current is None or data_sha256(current.data) != ctx.plan.fingerprint.aws_auth_sha256:
            raise RemoteError(f"{step.namespace}/{step.name} does not read back as the backup after restoring it")
        return {}

    def effect(self, step: RestoreAwsAuth, ctx: RunContext) -> str:
        return "aws-auth maps its principals again (in API_AND_CONFIG_MAP)"
