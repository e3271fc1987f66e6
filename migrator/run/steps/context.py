"""What every step handler works with: the run's shared context, how to wait for EKS, and what a check or
an undo reports back to the executor."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_result, stop_after_attempt, stop_after_delay, wait_exponential
from tenacity.stop import stop_base

from migrator.errors import RemoteError
from migrator.model import AccessEntrySpec, AnyStep, AuthMode, CreateEntry, Plan, PolicyAssociation, SetMode
from migrator.ports import EksGateway, KubeGateway
from migrator.rules.arn import entry_key
from migrator.run.backup import BackupSlot
from migrator.run.journal import JournalState

T = TypeVar("T")

CREATOR_ENTRY = "creatorEntry"  # the journal key of the creator's entry, as the first switch told it apart


@dataclass(frozen=True, kw_only=True)
class PollPolicy:
    """How to wait for EKS: exponential backoff from `initial_seconds`, capped at `max_seconds`."""

    initial_seconds: float = 1.0
    # A mode update takes minutes; polling it every 4 s at most sees its end within 4 s, for a few dozen
    # DescribeUpdate calls (their own budget: they never slow the entry calls). As app.update_polling().
    max_seconds: float = 4.0
    read_back_attempts: int = 6  # access entries are eventually consistent (a few seconds)
    read_back_seconds: float = 1.0  # first wait of a read-back: 1, 2, 4, 8, 16 s
    max_polls: int | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


class RunContext:
    """What handlers share during one run. `mode` is the cluster's live mode as last seen (set-mode and
    its checks update it); in a dry run it stays the live one, since nothing is switched."""

    def __init__(
        self,
        plan: Plan,
        eks: EksGateway,
        kube: KubeGateway,
        *,
        backup: BackupSlot,
        poll: PollPolicy,
        timeout_seconds: float,
        dry_run: bool,
        prior: JournalState,
        mode: AuthMode,
        say: Callable[[str], None],
        listed: Collection[str] | None = None,
        holders: Mapping[str, frozenset[str]] | None = None,
        accept_managed_aws_auth: bool = False,
    ) -> None:
        self.plan = plan
        # The operator says the source of an aws-auth that something re-applies no longer has it: the plan's
        # --accept-managed-aws-auth, or apply's (for a plan made before the source was changed).
        self.accept_managed_aws_auth = accept_managed_aws_auth or plan.accept_managed_aws_auth
        self.eks = eks
        self.kube = kube
        self.backup = backup
        self.poll = poll
        self.timeout_seconds = timeout_seconds
        self.dry_run = dry_run
        self.prior = prior
        self.mode = mode
        self.say = say
        # What this run read of the entries, to re-read only what could have changed since (see `unseen`):
        # the entry keys of the run's last listing (None: not listed), and which entries held each policy.
        self.listed: frozenset[str] | None = None if listed is None else frozenset(listed)
        self.holders = holders
        # What EKS answered this run's CreateAccessEntry and AssociateAccessPolicy calls, by entry key: the
        # read-back of the step itself, and what the next step of the same unit knows without a describe.
        self.answered: dict[str, AccessEntrySpec] = {}
        self.associated: dict[tuple[str, str], PolicyAssociation] = {}  # (entry key, policy ARN) -> answer
        # Entries EKS made at this plan's mode switch (node roles, Fargate, the hidden cluster creator).
        self.eks_created: set[str] = {
            entry_key(arn)
            for step in plan.steps
            if isinstance(step, SetMode)
            for arn in prior.of(step.id).detail.get("eksCreatedEntries", ())
        }
        # Of those, the cluster creator's admin entry, as the first switch told it apart (steps.mode): one
        # entry at most, and only on that evidence, never by its shape alone.
        self.creator: str | None = next(
            (
                entry_key(arn)
                for step in plan.steps
                if isinstance(step, SetMode) and isinstance(arn := prior.of(step.id).detail.get(CREATOR_ENTRY), str)
            ),
            None,
        )
        # Entry keys of units a killed run left without their policies, which a rollback the cluster refuses
        # deletes without comparing them with aws-auth (executor._recover_refused).
        self.half_made: set[str] = set()
        # The creator's entry, when a create-entry step kept it although it differs from the plan (journaled
        # as eksCreated): never more than that one entry.
        self.kept: set[str] = {
            entry_key(step.principal_arn)
            for step in plan.steps
            if isinstance(step, CreateEntry)
            and prior.of(step.id).detail.get("eksCreated")
            and entry_key(step.principal_arn) == self.creator
        }

    def attempted(self, step: AnyStep) -> bool:
        return self.prior.of(step.id).attempted

    def ours_or_adopted(self, step: AnyStep, key: str) -> dict[str, Any]:
        return {"recovered": True, key: True} if self.attempted(step) else {"adopted": True}

    def unseen(self, step: CreateEntry) -> bool:
        """Is the step's principal surely without an entry, with no describe? True when this run's listing
        did not have it and no run of this plan touched the step. An entry made by someone since is no risk:
        CreateAccessEntry refuses to overwrite it (ConflictError), and the step then reads it. A dry run
        makes no create to find that out, so it always looks."""
        return (
            not self.dry_run
            and self.listed is not None
            and entry_key(step.principal_arn) not in self.listed
            and not self.attempted(step)
            and not self.prior.of(step.id).done
        )

    def remember(self, entry: AccessEntrySpec) -> None:
        self.answered[entry_key(entry.principal_arn)] = entry

    def live_entries(self) -> tuple[AccessEntrySpec, ...]:
        return tuple(self.eks.list_entries()) if self.mode.reads_entries else ()


@dataclass(frozen=True)
class Check:
    """What a step's check found. `todo`: the step has work to do (`note` says what, for a dry run).
    Otherwise it is done already (`detail` says why), or, with `keep`, it must not run and its change stays
    where it is (an undo that would cost someone access); the executor reports `keep` as the reason."""

    todo: bool
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    note: str = ""
    keep: str = ""
    started: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # journaled with step-started


def poll_until(
    read: Callable[[], T], finished: Callable[[T], bool], ctx: RunContext, *, what: str, read_back: bool = False
) -> T:
    """Call `read` with backoff until `finished`; RemoteError naming `what` when time or attempts run out.
    A read-back (eventual consistency) starts shorter and gives up after `read_back_attempts`."""
    stop: stop_base = stop_after_delay(ctx.timeout_seconds)
    limit = ctx.poll.read_back_attempts if read_back else ctx.poll.max_polls
    if limit is not None:
        stop = stop | stop_after_attempt(limit)
    initial = min(ctx.poll.read_back_seconds, ctx.poll.initial_seconds) if read_back else ctx.poll.initial_seconds
    retrying = Retrying(
        retry=retry_if_result(lambda value: not finished(value)),
        wait=wait_exponential(multiplier=initial, max=ctx.poll.max_seconds),
        stop=stop,
        sleep=ctx.poll.sleep,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome is not None else None,
        reraise=True,
    )
    result: T = retrying(read)
    if not finished(result):
        raise RemoteError(f"gave up waiting for {what}", hint="re-run apply: it resumes and waits again")
    return result
