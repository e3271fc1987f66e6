"""Is the cluster still the state a plan was made from (or, on resume, the state the journaled steps left)?
Otherwise the plan is stale (terraform's rule: apply takes the saved plan as its whole input). Pure functions
over the plan, the journal and live state read by the caller."""

from __future__ import annotations

from collections.abc import Sequence

from migrator.awsauth import data_sha256
from migrator.errors import InputError, StalePlanError
from migrator.model import (
    AWS_AUTH_NAME,
    AWS_AUTH_NAMESPACE,
    AccessEntrySpec,
    AuthMode,
    ClusterRef,
    Plan,
    RemoveAwsAuth,
    SetMode,
    Snapshot,
)
from migrator.ports import ClusterInfo, ConfigMapState
from migrator.rules.fingerprint import entries_digest
from migrator.run.journal import JournalState, Phase


def config_map_seen(snapshot: Snapshot) -> ConfigMapState | None:
    """aws-auth as a snapshot read it: what the stale check compares (None when it did not exist)."""
    aws_auth = snapshot.aws_auth
    if not aws_auth.sha256:  # the fingerprint's convention for "no aws-auth"
        return None
    return ConfigMapState(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME, dict(aws_auth.raw_data), aws_auth.resource_version)


def check_same_cluster(plan: Plan, info: ClusterInfo | ClusterRef) -> None:
    """The credentials must reach the cluster the plan is for (a wrong profile is an easy mistake)."""
    want, got = plan.cluster, info
    if (want.name, want.account, want.region) != (got.name, got.account, got.region):
        raise InputError(
            f"the credentials reach cluster {got.name} in account {got.account} ({got.region}); the plan is for "
            f"{want.name} in account {want.account} ({want.region})",
            hint="use --profile / --role-arn for the plan's account",
        )


def _aws_auth_sha(config_map: ConfigMapState | None) -> str:
    return data_sha256(config_map.data) if config_map is not None else ""


def _aws_auth_change(plan: Plan, config_map: ConfigMapState | None) -> str | None:
    before, now = plan.fingerprint.aws_auth_sha256, _aws_auth_sha(config_map)
    if before == now:
        return None
    if config_map is None:
        return "aws-auth was deleted"
    if not before:
        return "aws-auth was created"
    return f"aws-auth's content changed (sha256 {before[:12]} -> {now[:12]})"


def expected_resource_version(plan: Plan, prior: JournalState) -> str | None:
    """The resourceVersion aws-auth should have: the plan's, or the one a rollback of this plan restored."""
    expected = plan.fingerprint.aws_auth_resource_version
    for step in plan.steps:
        state = prior.of(step.id)
        if isinstance(step, RemoveAwsAuth) and state.phase is Phase.UNDONE and state.detail.get("restored"):
            expected = state.detail.get("resourceVersion")
    return expected


def aws_auth_drift(plan: Plan, prior: JournalState, config_map: ConfigMapState | None) -> str | None:
    """How aws-auth, as just read, differs from the aws-auth the plan was made from (its content, or a write
    since, seen in its resourceVersion); None when it is the same. Run right before every one-way gate and
    before deleting aws-auth: the plan's entries are only right for the aws-auth they were made from."""
    if (change := _aws_auth_change(plan, config_map)) is not None:
        return change
    expected = expected_resource_version(plan, prior)
    if config_map is not None and config_map.resource_version != expected:
        now = config_map.resource_version
        return f"aws-auth was written since the plan was made (resourceVersion {expected} -> {now})"
    return None


def refuse_aws_auth_drift(plan: Plan, prior: JournalState, config_map: ConfigMapState | None, before: str) -> None:
    if (drift := aws_auth_drift(plan, prior, config_map)) is not None:
        raise StalePlanError(
            f"{drift}; refusing to {before}: the plan's entries were made from the aws-auth it had then",
            hint=f"review the change, then make a new plan: aws-auth-migrate plan --cluster {plan.cluster.name}",
        )


def stale_problems(
    plan: Plan, mode: AuthMode, config_map: ConfigMapState | None, live_entries: Sequence[AccessEntrySpec]
) -> list[str]:
    """What changed on the cluster since the plan was made (before the first step of a plan)."""
    fingerprint = plan.fingerprint
    problems: list[str] = []
    if mode is not fingerprint.authentication_mode:
        problems.append(
            f"the authentication mode is {mode.value}, the plan was made in {fingerprint.authentication_mode.value}"
        )
    if (change := _aws_auth_change(plan, config_map)) is not None:
        problems.append(change)
    elif config_map is not None and config_map.resource_version != fingerprint.aws_auth_resource_version:
        problems.append(
            f"aws-auth was written since the plan was made (resourceVersion "
            f"{fingerprint.aws_auth_resource_version} -> {config_map.resource_version})"
        )
    if entries_digest(live_entries) != fingerprint.entries_sha256:
        problem = f"the access entries or their policies changed ({len(live_entries)} entries now)"
        if not fingerprint.authentication_mode.reads_entries:  # the plan saw none: every one is new
            problem += ": " + ", ".join(sorted(e.principal_arn for e in live_entries)[:10])
        problems.append(problem)
    return problems


def resume_problems(plan: Plan, prior: JournalState, mode: AuthMode, config_map: ConfigMapState | None) -> list[str]:
    """What changed outside the journaled runs (when resuming): aws-auth and the mode. Entries are not
    compared as a whole, since our own steps changed them; each step's check guards its own entry."""
    problems: list[str] = []
    expected = plan.fingerprint.authentication_mode
    for step in plan.steps:
        if isinstance(step, SetMode) and prior.of(step.id).done:
            reached = step.mode
            expected = reached if reached.rank > expected.rank else expected
    if mode.rank < expected.rank:
        problems.append(
            f"the cluster is in {mode.value}, but the journal says it reached {expected.value}: "
            "is this the same cluster?"
        )
    elif mode.rank > expected.rank:
        ours = any(isinstance(s, SetMode) and s.mode is mode and prior.of(s.id).attempted for s in plan.steps)
        if not ours:
            problems.append(f"the authentication mode was switched to {mode.value} outside this plan's runs")
    removal = [s for s in plan.steps if isinstance(s, RemoveAwsAuth)]
    touched = any(prior.of(s.id).done or prior.of(s.id).attempted for s in removal)
    # The resourceVersion is not compared: rollback's restore writes aws-auth anew with the same content.
    if not touched and (change := _aws_auth_change(plan, config_map)) is not None:
        problems.append(change)
    return problems


def raise_if_stale(problems: Sequence[str], plan: Plan) -> None:
    if problems:
        raise StalePlanError(
            f"the plan is stale: {'; '.join(problems)}",
            hint=f"review the change, then make a new plan: aws-auth-migrate plan --cluster {plan.cluster.name}",
        )
