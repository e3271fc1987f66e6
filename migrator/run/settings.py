"""How a run goes: how far and how fast, never what (the plan decides that). One frozen object that the CLI,
the fleet and the tests build and the executor reads, instead of a constructor argument per field."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from migrator.model import AuthMode
from migrator.run.steps.context import PollPolicy

MAX_POLL_SECONDS = 4.0  # a finished mode switch is seen within this (and a round trip): issue 12 asks <= 5 s
UPDATE_TIMEOUT_SECONDS = 1800.0  # how long a run waits for one EKS update (and the updates before it)


def update_polling(first_seconds: float = 1.0) -> PollPolicy:
    """How a run waits for EKS: the first look after `first_seconds`, then doubling, but never more than
    MAX_POLL_SECONDS apart (or `first_seconds`, when asked for longer), so a finished mode switch is seen
    within that of EKS finishing it; the old 30 s cap could leave a run idle for 30 s after a switch of a
    few minutes. DescribeUpdate is a read: one every 4 s is nothing next to EKS's per-operation rates."""
    return PollPolicy(initial_seconds=first_seconds, max_seconds=max(MAX_POLL_SECONDS, first_seconds))


@dataclass(frozen=True)
class RunSettings:
    """How far and how fast; never what (the plan decides that)."""

    approvals: frozenset[AuthMode] = frozenset()
    dry_run: bool = False
    max_concurrency: int = 8
    timeout_seconds: float = UPDATE_TIMEOUT_SECONDS
    poll: PollPolicy = field(default_factory=update_polling)
    until: str | None = None
    rollback_on_failure: bool = False
    # As a gate approval: the operator says the source of an aws-auth that a tool re-applies no longer has it,
    # so the plan's remove-aws-auth step may delete it (--accept-managed-aws-auth).
    accept_managed_aws_auth: bool = False
    # Interrupts a run that is not in the main thread (a fleet's clusters): set, it stops as Ctrl-C does.
    stop: threading.Event | None = field(default=None, compare=False)
