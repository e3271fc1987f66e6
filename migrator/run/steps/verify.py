"""The verify step: read the entries back and check that every migrated principal has an equivalent one.
It writes nothing, so it has no inverse."""

from __future__ import annotations

from typing import Any

from migrator.model import AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, Verify
from migrator.rules.arn import entry_key
from migrator.run.freshness import refuse_aws_auth_drift
from migrator.run.safety import check_verified, migrated, projected_entries
from migrator.run.steps.context import Check, RunContext


class VerifyHandler:
    def check(self, step: Verify, ctx: RunContext) -> Check:
        if ctx.dry_run:  # against the entries the earlier steps would leave
            check_verified(ctx.plan, projected_entries(ctx.plan, ctx.live_entries()), ctx.kept)
            return Check(True, note="would pass once the earlier steps have run")
        return Check(True)

    def apply(self, step: Verify, ctx: RunContext) -> dict[str, Any]:
        # The entries were made from the aws-auth the plan was made from: it must still be that one.
        config_map = ctx.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
        refuse_aws_auth_drift(ctx.plan, ctx.prior, config_map, "call the entries verified")
        check_verified(ctx.plan, ctx.live_entries(), ctx.kept)
        kept = sorted(e.spec.principal_arn for e in migrated(ctx.plan) if entry_key(e.spec.principal_arn) in ctx.kept)
        return {"verified": len(migrated(ctx.plan)), "keptAsEksMadeThem": kept}

    def read_back(self, step: Verify, ctx: RunContext) -> dict[str, Any]:
        return {}

    def effect(self, step: Verify, ctx: RunContext) -> str:
        return "reads the entries back; changes nothing"
