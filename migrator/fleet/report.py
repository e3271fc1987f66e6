"""The batch report (`schema: aws-auth-migrate/batch-report/v1`): one entry per cluster, what it reached and
why, as data, and its JSON form. Reading one back is migrator/fleet/reading.py; merging shard reports into
the report of the whole fleet is migrator/fleet/merging.py.

Exit codes of a batch: 0 when every cluster reached what was approved (a cluster in front of a gate nobody
approved reached it), 5 when any did not: a failure, a stale plan, a blocker in front of an approved gate,
a cluster left unrun because a canary failed; 130 when Ctrl-C or SIGTERM stopped it. Each cluster's own exit
code is in its entry.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from migrator.errors import ClusterLockedError, RemoteError

BATCH_REPORT_SCHEMA = "aws-auth-migrate/batch-report/v1"
BATCH_FAILED_EXIT = RemoteError.exit_code  # 5: documented as "any cluster failed" for batch runs
BATCH_INTERRUPTED_EXIT = 130  # as any run stopped by Ctrl-C or SIGTERM


class Outcome(StrEnum):
    PLANNED = "planned"  # batch plan wrote its plan
    COMPLETED = "completed"  # every step of the plan is done: the target mode is reached
    AT_GATE = "at-gate"  # everything approved is done; the next step is a gate nobody approved
    NOT_STARTED = "not-started"  # status: a plan, no run yet
    IN_PROGRESS = "in-progress"  # status: a live process holds the cluster's lock
    INTERRUPTED = "interrupted"  # Ctrl-C/SIGTERM stopped it (apply), or its last run did not finish (status)
    BLOCKED = "blocked"  # stopped in front of an approved gate that the plan's blocker findings keep shut
    STALE = "stale"  # the cluster changed since the plan (exit 3 for this cluster): plan again
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"  # failed, then what was reversible was undone (--rollback-on-failure)
    NOT_RUN = "not-run"  # no plan to run, or the canaries did not all succeed


# A rollback that `batch rollback` asked for succeeded; one after a failure carries that failure's error.
OK_OUTCOMES = frozenset({Outcome.PLANNED, Outcome.COMPLETED, Outcome.AT_GATE, Outcome.NOT_STARTED, Outcome.ROLLED_BACK})


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    exit_code: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "exitCode": self.exit_code, "message": self.message}


def held_by_another_run(error: ErrorInfo | None) -> bool:
    """The cluster's lock or Lease is another run's (a plan kept for its unfinished run is not that)."""
    return error is not None and error.exit_code == ClusterLockedError.exit_code and error.type != "RunInProgressError"


@dataclass(frozen=True)
class Timing:
    started_at: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"startedAt": self.started_at, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class ClusterResult:
    """One cluster's line of the report. `mode` is the authentication mode its journal says it reached."""

    name: str
    account: str | None
    region: str
    index: int  # position in the inventory: reports (and merged shard reports) keep inventory order
    outcome: Outcome
    message: str = ""
    plan_file: str | None = None
    plan_id: str | None = None
    mode: str | None = None
    target: str | None = None
    steps_done: int = 0
    steps_total: int = 0
    gates_passed: tuple[str, ...] = ()
    findings: Mapping[str, int] = field(default_factory=dict, hash=False)  # severity -> count
    blockers: tuple[str, ...] = ()  # finding codes
    canary: bool = False
    skipped: bool = False  # nothing left to do for what was approved: no call was made
    verified: Mapping[str, Any] | None = field(default=None, hash=False)  # {ok, counts} from verify
    error: ErrorInfo | None = None
    timing: Timing | None = None
    label: str = field(default="", compare=False)  # the inventory's label (live display only; not in the JSON)

    @property
    def shown(self) -> str:
        return self.label or self.name

    @property
    def ok(self) -> bool:
        verified = self.verified is None or bool(self.verified.get("ok"))
        return self.error is None and self.outcome in OK_OUTCOMES and verified

    @property
    def identity(self) -> str:
        return f"{self.account or ''}/{self.region}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "account": self.account,
            "region": self.region,
            "index": self.index,
            "outcome": self.outcome.value,
            "ok": self.ok,
            "message": self.message,
            "planFile": self.plan_file,
            "planId": self.plan_id,
            "mode": self.mode,
            "target": self.target,
            "stepsDone": self.steps_done,
            "stepsTotal": self.steps_total,
            "gatesPassed": list(self.gates_passed),
            "findings": dict(self.findings),
            "blockers": list(self.blockers),
            "canary": self.canary,
            "skipped": self.skipped,
            "verified": dict(self.verified) if self.verified is not None else None,
            "error": self.error.to_dict() if self.error is not None else None,
            "timing": self.timing.to_dict() if self.timing is not None else None,
        }


@dataclass(frozen=True)
class FleetSet:
    """The clusters a batch covers before `--shard` splits them (the inventory's, after `--select`): the shard
    reports of one batch name the same set, and `batch report --merge` refuses shards of different ones."""

    clusters: int
    sha256: str  # of the sorted identities, one a line

    @staticmethod
    def of(identities: Iterable[str]) -> FleetSet:
        ordered_ids = sorted(identities)
        digest = hashlib.sha256("".join(f"{i}\n" for i in ordered_ids).encode()).hexdigest()
        return FleetSet(len(ordered_ids), digest)

    def to_dict(self) -> dict[str, Any]:
        return {"clusters": self.clusters, "sha256": self.sha256}


@dataclass(frozen=True)
class BatchReport:
    command: str  # plan | apply | status | rollback
    clusters: tuple[ClusterResult, ...]
    inventory: str = ""
    shard: str | None = None
    merged_from: tuple[str, ...] = ()
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped the batch: its clusters in flight say `interrupted`
    fleet: FleetSet | None = None  # None only in reports of older versions

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(c.ok for c in self.clusters)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return BATCH_INTERRUPTED_EXIT
        if self.ok:
            return 0
        failed = [c for c in self.clusters if not c.ok]
        # Every cluster that fell short was held by another run (its lock, its Lease): the batch is exit 7, as a
        # single apply would be, so that a second runner of the same shard can tell "someone else has it".
        if all(held_by_another_run(c.error) for c in failed):
            return ClusterLockedError.exit_code
        return BATCH_FAILED_EXIT

    def summary(self) -> dict[str, int]:
        counts = Counter(c.outcome.value for c in self.clusters)
        return {outcome.value: counts[outcome.value] for outcome in Outcome if counts[outcome.value]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": BATCH_REPORT_SCHEMA,
            "command": self.command,
            "inventory": self.inventory,
            "shard": self.shard,
            "mergedFrom": list(self.merged_from),
            "fleet": self.fleet.to_dict() if self.fleet is not None else None,
            "ok": self.ok,
            "exitCode": self.exit_code,
            "interrupted": self.interrupted,
            "summary": self.summary(),
            "clusters": [c.to_dict() for c in self.clusters],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def ordered(results: Iterable[ClusterResult]) -> tuple[ClusterResult, ...]:
    return tuple(sorted(results, key=lambda r: (r.index, r.identity)))
