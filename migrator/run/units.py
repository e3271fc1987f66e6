"""How the executor groups a plan's steps: into units that run back to back in one thread, and units into
waves that may run concurrently. Also where `--until` may stop (never inside a unit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migrator.errors import InputError
from migrator.model import Step, StepKind
from migrator.rules.arn import entry_key

PARALLEL_KINDS = frozenset({StepKind.CREATE_ENTRY, StepKind.ASSOCIATE_POLICY, StepKind.REPAIR_NODE_ENTRY})


@dataclass(frozen=True)
class Unit:
    """Steps that run back to back in one thread: an entry and its policies (an entry replaces the
    principal's aws-auth mapping at once, so its policies must follow immediately), or one lone step."""

    steps: tuple[Step, ...]

    @property
    def parallel(self) -> bool:
        return self.steps[0].kind in PARALLEL_KINDS


def build_units(steps: Sequence[Step]) -> list[Unit]:
    units: list[Unit] = []
    for step in steps:
        last = units[-1].steps if units else ()
        if (
            step.kind is StepKind.ASSOCIATE_POLICY
            and last
            and last[0].kind is StepKind.CREATE_ENTRY
            and _same_principal(last[0].principal_arn or "", step.principal_arn or "")
        ):
            units[-1] = Unit((*last, step))
        else:
            units.append(Unit((step,)))
    return units


def _same_principal(first: str, second: str) -> bool:
    """The plan writes an entry's policies with its very ARN: the same text needs no parse to compare."""
    return first == second or entry_key(first) == entry_key(second)


def waves(units: Sequence[Unit]) -> list[list[Unit]]:
    """Consecutive independent units form one wave; every other step is a wave of its own (a barrier)."""
    grouped: list[list[Unit]] = []
    for unit in units:
        if unit.parallel and grouped and grouped[-1][0].parallel:
            grouped[-1].append(unit)
        else:
            grouped.append([unit])
    return grouped


def steps_until(steps: Sequence[Step], until: str | None) -> tuple[Step, ...]:
    """The plan's steps up to `until`, extended to the end of its unit: a principal's entry never runs
    without its policies."""
    if until is None:
        return tuple(steps)
    ids = [s.id for s in steps]
    if until not in ids:
        raise InputError(f"--until {until!r} is not a step of this plan", hint=f"steps: {', '.join(ids)}")
    count = 0
    for unit in build_units(steps):
        count += len(unit.steps)
        if until in (s.id for s in unit.steps):
            return tuple(steps[:count])
    raise AssertionError("unreachable: until is one of the steps")
