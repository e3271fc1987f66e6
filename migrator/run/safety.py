"""The executor's refusals, as pure functions over the plan, the journal and live state read by the caller.

- Lockout: would passing the API gate cost anyone access? In API mode aws-auth is ignored, so every
  principal the plan migrates must already hold an entry that gives it exactly today's identity, no blocker
  may remain, and the person running the tool must keep cluster-admin through an entry (or nobody is left
  to finish or repair the migration). `verify` runs the same equivalence check, without the caller part.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from migrator.errors import LockoutError
from migrator.model import AccessEntrySpec, EntryAction, Plan, PlannedEntry
from migrator.rules import identity
from migrator.rules.arn import entry_key


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
    problems = [f"blocker {f.code}: {f.message}" for f in plan.api_blockers]
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
        if key not in result or planned.action is EntryAction.REPAIR_NODE_TYPE:
            result[key] = planned.spec
    return tuple(result.values())
