"""The verify step: check that every migrated principal has an entry equivalent to its aws-auth identity.
It writes nothing, so it has no inverse.

What it reads: the entry listing and the policy holders (a few pages for the whole cluster, fresh), and a
describe only of the entries this run has no answer for. An entry this run created is checked against what
EKS answered to its CreateAccessEntry and AssociateAccessPolicy calls (the entry EKS stored), provided the
fresh listing still has it with exactly the policies this run associated; anything else (an entry adopted or
made by an earlier run, one missing from the listing, a policy set that differs) is described now.

An entry that differs from the plan passes only when it is the cluster creator's admin entry that a
create-entry step kept (`ctx.kept`): the one entry this plan's first switch journaled as the creator's
(`creatorEntry`, steps.mode), never an entry by its shape alone.

Why not describe every entry again: this step is a report, not a gate. In API_AND_CONFIG_MAP an entry is the
principal's identity already (aws-auth is not consulted for it), so a re-read here protects no one; the one
irreversible step after it, the switch to API, describes every entry afresh right before it (executor
`_pass_gate`), and `aws-auth-migrate verify` reads everything and probes identities. Describing 3,000 entries
here would double apply's time under EKS's per-operation rate limits for no safety.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from migrator.model import AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, AccessEntrySpec, Verify
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
        entries, described = entries_to_verify(ctx)
        check_verified(ctx.plan, entries, ctx.kept)
        kept = sorted(e.spec.principal_arn for e in migrated(ctx.plan) if entry_key(e.spec.principal_arn) in ctx.kept)
        return {"verified": len(migrated(ctx.plan)), "described": described, "keptAsEksMadeThem": kept}

    def read_back(self, step: Verify, ctx: RunContext) -> dict[str, Any]:
        return {}

    def effect(self, step: Verify, ctx: RunContext) -> str:
        return "reads the entries back; changes nothing"


def entries_to_verify(ctx: RunContext) -> tuple[list[AccessEntrySpec], int]:
    """The live entries of the plan's principals (see the module docstring for what is read), and how many
    of them had to be described."""
    if not ctx.mode.reads_entries:
        return [], 0
    held: defaultdict[str, set[str]] = defaultdict(set)  # entry key -> the policy ARNs EKS lists it under
    for policy_arn, keys in ctx.eks.policy_holders().items():
        for key in keys:
            held[key].add(policy_arn)
    listed = {entry_key(arn) for arn in ctx.eks.list_entry_arns()}
    known: list[AccessEntrySpec] = []
    to_describe: list[str] = []
    with_policies: set[str] = set()
    for planned in migrated(ctx.plan):
        arn, key = planned.spec.principal_arn, entry_key(planned.spec.principal_arn)
        answered = ctx.answered.get(key)
        if answered is not None and key in listed and {p.policy_arn for p in answered.policies} == held[key]:
            known.append(answered)
            continue
        # Not listed may be eventual consistency for an entry made seconds ago: the describe says for sure.
        to_describe.append(arn)
        if held[key] or planned.spec.policies:
            with_policies.add(key)
    described = list(ctx.eks.describe_entries(to_describe, with_policies)) if to_describe else []
    return known + described, len(to_describe)
