"""The batch report (`schema: aws-auth-migrate/batch-report/v1`): one entry per cluster, what it reached and
why, as data; its JSON form; and the merge of shard reports into the report of the whole fleet.

Exit codes of a batch: 0 when every cluster reached what was approved (a cluster in front of a gate nobody
approved reached it), 5 when any did not: a failure, a stale plan, a blocker in front of an approved gate,
a cluster left unrun because a canary failed; 130 when Ctrl-C or SIGTERM stopped it. Each cluster's own exit
code is in its entry.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from migrator.errors import InputError, RemoteError

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
class BatchReport:
    command: str  # plan | apply | status | rollback
    clusters: tuple[ClusterResult, ...]
    inventory: str = ""
    shard: str | None = None
    merged_from: tuple[str, ...] = ()
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped the batch: its clusters in flight say `interrupted`

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(c.ok for c in self.clusters)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return BATCH_INTERRUPTED_EXIT
        return 0 if self.ok else BATCH_FAILED_EXIT

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


# --- reading reports back (batch report --merge) -----------------------------------------------------------


def report_from_dict(data: Any, where: str) -> BatchReport:
    """A report written by a batch command; InputError (exit 2) naming `where` for anything else."""
    try:
        if not isinstance(data, dict) or data.get("schema") != BATCH_REPORT_SCHEMA:
            raise ValueError(f"not a {BATCH_REPORT_SCHEMA} report")
        clusters = tuple(_cluster_from_dict(c) for c in data["clusters"])
        return BatchReport(
            command=str(data["command"]),
            clusters=clusters,
            inventory=str(data.get("inventory") or ""),
            shard=data.get("shard"),
            merged_from=tuple(data.get("mergedFrom") or ()),
            interrupted=bool(data.get("interrupted")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{where}: {error}", hint="pass the JSON reports that batch commands write") from None


def _cluster_from_dict(data: Mapping[str, Any]) -> ClusterResult:
    error = data.get("error")
    timing = data.get("timing")
    return ClusterResult(
        name=str(data["name"]),
        account=data.get("account"),
        region=str(data["region"]),
        index=int(data["index"]),
        outcome=Outcome(data["outcome"]),
        message=str(data.get("message") or ""),
        plan_file=data.get("planFile"),
        plan_id=data.get("planId"),
        mode=data.get("mode"),
        target=data.get("target"),
        steps_done=int(data.get("stepsDone") or 0),
        steps_total=int(data.get("stepsTotal") or 0),
        gates_passed=tuple(data.get("gatesPassed") or ()),
        findings={str(k): int(v) for k, v in (data.get("findings") or {}).items()},
        blockers=tuple(data.get("blockers") or ()),
        canary=bool(data.get("canary")),
        skipped=bool(data.get("skipped")),
        verified=data.get("verified"),
        error=ErrorInfo(str(error["type"]), int(error["exitCode"]), str(error["message"])) if error else None,
        timing=Timing(str(timing["startedAt"]), float(timing["seconds"])) if timing else None,
    )


def merge_reports(reports: Sequence[tuple[str, BatchReport]]) -> BatchReport:
    """The shard reports (each with where it came from) as one: every cluster once, in inventory order."""
    if not reports:
        raise InputError("batch report --merge needs at least one report")
    commands = {r.command for _, r in reports}
    if len(commands) > 1:
        raise InputError(f"the reports are of different commands ({', '.join(sorted(commands))}): merge one kind")
    seen: dict[str, str] = {}
    clusters: list[ClusterResult] = []
    for where, report in reports:
        for cluster in report.clusters:
            if cluster.identity in seen:
                raise InputError(
                    f"{where}: cluster {cluster.identity} is also in {seen[cluster.identity]}",
                    hint="merge the reports of disjoint shards (--shard 1/N .. N/N of one inventory)",
                )
            seen[cluster.identity] = where
            clusters.append(cluster)
    first = reports[0][1]
    shards = tuple(s for _, r in reports for s in (r.merged_from or ((r.shard,) if r.shard else ())))
    interrupted = any(r.interrupted for _, r in reports)
    return replace(first, clusters=ordered(clusters), shard=None, merged_from=shards, interrupted=interrupted)
