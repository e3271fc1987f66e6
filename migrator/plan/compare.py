"""Does a plan file say what the planner says? Apply re-runs the (pure, deterministic) planner on the fresh
snapshot with the plan's recorded options and compares: the integrity hash only catches accidents, since
whoever can edit a plan can recompute it. Pure functions over two plans."""

from __future__ import annotations

from typing import Any

from migrator.model import Plan
from migrator.plan.contract import conversion_to_dict, entry_to_dict, step_to_dict
from migrator.rules.findings import USAGE_CODES

MAX_SHOWN = 5


def _entries(plan: Plan) -> dict[str, dict[str, Any]]:
    # A conversion's rules gained and lost are what the reviewer approved: a change in them is a change.
    return {
        e.spec.principal_arn: {
            **entry_to_dict(e.spec),
            "action": e.action.value,
            "conversions": [conversion_to_dict(c) for c in e.conversions],
        }
        for e in plan.entries
    }


def plan_differences(written: Plan, derived: Plan) -> list[str]:
    """How the plan file differs from the plan derived now, one line each (the first few)."""
    found: list[str] = []
    mine, theirs = _entries(written), _entries(derived)
    for arn in sorted(set(mine) | set(theirs)):
        if arn not in theirs:
            found.append(f"the file has an entry for {arn} that is not planned from the cluster now")
        elif arn not in mine:
            found.append(f"the file has no entry for {arn}")
        elif mine[arn] != theirs[arn]:
            changed = sorted(k for k in mine[arn] if mine[arn][k] != theirs[arn].get(k))
            found.append(f"the entry of {arn} differs in {', '.join(changed)}")
    # Usage evidence is not re-read when apply plans again: its findings (never blockers) are left out.
    codes = sorted((f.code, f.principal_arn or "") for f in written.findings if f.code not in USAGE_CODES)
    derived_codes = sorted((f.code, f.principal_arn or "") for f in derived.findings if f.code not in USAGE_CODES)
    if codes != derived_codes:
        extra = [" ".join(c).strip() for c in codes if c not in derived_codes]
        missing = [" ".join(c).strip() for c in derived_codes if c not in codes]
        found.append(
            "the findings differ: "
            + "; ".join([*(f"not planned now: {x}" for x in extra), *(f"missing from the file: {x}" for x in missing)])
        )
    # An entry step's file form names only its principal: compare what it does, description included.
    steps = [{**step_to_dict(written, s), "description": s.describe()} for s in written.steps]
    derived_steps = [{**step_to_dict(derived, s), "description": s.describe()} for s in derived.steps]
    if steps != derived_steps:
        found.append(_first_step_difference(steps, derived_steps))
    if len(found) > MAX_SHOWN:
        return [*found[:MAX_SHOWN], f"... and {len(found) - MAX_SHOWN} more"]
    return found


def _first_step_difference(steps: list[dict[str, Any]], derived: list[dict[str, Any]]) -> str:
    for mine, theirs in zip(steps, derived, strict=False):
        if mine != theirs:
            keys = sorted(k for k in mine if mine[k] != theirs.get(k))
            return f"step {mine['id']} differs in {', '.join(keys)} from the one planned now ({theirs['id']})"
    return f"the file has {len(steps)} steps, {len(derived)} are planned now"
