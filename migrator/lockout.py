"""The executor's refusals, as pure functions over the plan, the journal and live state read by the caller.

- Freshness: is the cluster still the state the plan was made from (or, on resume, the state the journaled
  steps left)? Otherwise the plan is stale (terraform's rule: apply takes the saved plan as its whole input).
- Lockout: would passing the API gate cost anyone access? In API mode aws-auth is ignored, so every
  principal the plan migrates must already hold an entry that gives it exactly today's identity, no blocker
  may remain, and the person running the tool must keep cluster-admin through an entry (or nobody is left
  to finish or repair the migration). `verify` runs the same equivalence check, without the caller part.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from migrator import identity
from migrator.arn import ArnError, parse_arn
from migrator.awsauth import data_sha256
from migrator.errors import InputError, LockoutError, StalePlanError
from migrator.gateway import ClusterInfo, ConfigMapState
from migrator.journal import JournalState
from migrator.model import AccessEntrySpec, AuthMode, EntryAction, Plan, PlannedEntry, StepKind
from migrator.planner import entries_digest


def entry_key(principal_arn: str) -> str:
    """Who an ARN names, whatever its path or case (what EKS keys entries by)."""
    try:
        return parse_arn(principal_arn).lookup_key
    except ArnError:
        return principal_arn.lower()


def by_principal(entries: Iterable[AccessEntrySpec]) -> dict[str, AccessEntrySpec]:
    return {entry_key(e.principal_arn): e for e in entries}


def migrated(plan: Plan) -> tuple[PlannedEntry, ...]:
    return tuple(e for e in plan.entries if e.action is not EntryAction.SKIP)


def entry_gaps(plan: Plan, live_entries: Iterable[AccessEntrySpec], kept: Collection[str] = frozenset()) -> list[str]:
    """Each planned principal without a live entry equivalent to its planned one, and why. `kept`: entry
    keys of entries EKS made at this plan's switch and the run kept as they are (the cluster creator's)."""
    live = by_principal(live_entries)
    gaps: list[str] = []
    for planned in migrated(plan):
        arn = planned.spec.principal_arn
        current = live.get(entry_key(arn))
        if current is None:
            gaps.append(f"{arn} has no access entry")
            continue
        if entry_key(arn) in kept:
            continue
        if current.type is not planned.spec.type:
            gaps.append(f"{arn}: its entry is {current.type.value}, the plan needs {planned.spec.type.value}")
            continue
        found = identity.differences(identity.from_entry(planned.spec), identity.from_entry(current))
        if found:
            gaps.append(f"{arn}: its entry {'; '.join(found)}")
    return gaps


def caller_gap(caller_arn: str, live_entries: Iterable[AccessEntrySpec]) -> str | None:
    """Why the caller (an STS assumed-role ARN or an IAM user ARN) would not be cluster-admin in API mode."""
    entry = by_principal(live_entries).get(entry_key(caller_arn))
    if entry is None:
        return f"you ({caller_arn}) have no access entry: in API mode you could not reach the cluster"
    if not identity.from_entry(entry).cluster_admin:
        return f"your entry ({entry.principal_arn}) has no cluster-scoped AmazonEKSClusterAdminPolicy"
    return None


def api_gate_problems(
    plan: Plan, live_entries: Sequence[AccessEntrySpec], caller_arn: str, kept: Collection[str] = frozenset()
) -> list[str]:
    problems = [f"blocker {f.code}: {f.message}" for f in plan.blockers]
    problems.extend(entry_gaps(plan, live_entries, kept))
    if (gap := caller_gap(caller_arn, live_entries)) is not None:
        problems.append(gap)
    return problems


def check_api_gate(
    plan: Plan, live_entries: Sequence[AccessEntrySpec], caller_arn: str, kept: Collection[str] = frozenset()
) -> None:
    problems = api_gate_problems(plan, live_entries, caller_arn, kept)
    if problems:
        raise LockoutError(
            f"refusing to switch {plan.cluster.name} to API: {len(problems)} principal(s) or finding(s) would "
            "lose access:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="fix these (or make a new plan), then re-run apply; the cluster stays in API_AND_CONFIG_MAP",
        )


def check_verified(plan: Plan, live_entries: Sequence[AccessEntrySpec], kept: Collection[str] = frozenset()) -> None:
    gaps = entry_gaps(plan, live_entries, kept)
    if gaps:
        raise LockoutError(
            f"verification failed on {plan.cluster.name}: {len(gaps)} principal(s) lack an equivalent entry:\n"
            + "\n".join(f"  - {g}" for g in gaps),
            hint="someone changed entries during the run, or an entry could not be created; re-run apply to retry",
        )


def projected_entries(plan: Plan, live_entries: Iterable[AccessEntrySpec]) -> tuple[AccessEntrySpec, ...]:
    """The entries once the plan has run: what a dry run checks the gates against."""
    projected: Mapping[str, AccessEntrySpec] = by_principal(live_entries)
    result = dict(projected)
    for planned in migrated(plan):
        key = entry_key(planned.spec.principal_arn)
        if key not in result or planned.action is EntryAction.UPDATE:
            result[key] = planned.spec
    return tuple(result.values())


# --- freshness -------------------------------------------------------------------------------------------


def check_same_cluster(plan: Plan, info: ClusterInfo) -> None:
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
        if step.kind is StepKind.SET_MODE and prior.of(step.id).done:
            reached = AuthMode(step.params["mode"])
            expected = reached if reached.rank > expected.rank else expected
    if mode.rank < expected.rank:
        problems.append(
            f"the cluster is in {mode.value}, but the journal says it reached {expected.value}: "
            "is this the same cluster?"
        )
    elif mode.rank > expected.rank:
        ours = any(
            s.kind is StepKind.SET_MODE and s.params["mode"] == mode.value and prior.of(s.id).attempted
            for s in plan.steps
        )
        if not ours:
            problems.append(f"the authentication mode was switched to {mode.value} outside this plan's runs")
    removal = [s for s in plan.steps if s.kind is StepKind.REMOVE_AWS_AUTH]
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
