"""Fleet runs: plan, apply, status and rollback for every cluster of an inventory.

Each cluster is its own unit, in its own thread: its own session and credentials (the inventory's roleArn in
its account), plan file, journal and locks, all through the single-cluster use cases (plan_live, apply_plan,
rollback_plan, plan_status, verify_ports). Whatever happens to one cluster (an error, a stale plan, a blocker,
a bug) ends up in its entry of the report and never reaches another cluster.

Where a cluster's state lives: `<state>/<account>/<region>/<name>/` in the run state (`--state`: a local
directory, or `s3://BUCKET/PREFIX` shared by every runner), from the cluster's identity alone, so that the same
name in two accounts or regions cannot collide and a folder never moves when other clusters are added or
removed. A local state takes `no-account` for a cluster the inventory names no account of; an S3 state refuses
it (`require_accounts`): there the single-cluster commands keep the cluster in the same folder (app/state.py
cluster_folder) and meet a batch's lock object there. `batch plan` also writes `batch.current` there, the name
of the plan the fleet runs, so a later re-plan replaces it and older plans in the folder are left alone. In a
shared state, every batch command that writes takes the cluster's lock object there first (run/lockobject.py).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Protocol

from migrator.app.planning import ClusterAccess, now_iso, plan_live
from migrator.app.running import (
    ClusterPorts,
    PlanRun,
    apply_plan,
    connect_cluster,
    plan_status,
    rollback_plan,
    state_lease,
)
from migrator.app.state import read_plan, write_plan_to
from migrator.app.verifying import Reference, journal_creator, verify_ports
from migrator.errors import ClusterLockedError, InputError, MigratorError, RunInProgressError, StalePlanError
from migrator.fleet.inventory import InventoryCluster
from migrator.fleet.report import (
    BatchReport,
    ClusterResult,
    ErrorInfo,
    FleetSet,
    Outcome,
    Timing,
    held_by_another_run,
    ordered,
)
from migrator.model import AnyStep, AuthMode, Plan, SetMode, Step
from migrator.plan.planfile import plan_name
from migrator.plan.planner import PlanOptions
from migrator.ports import StateStore
from migrator.run.interrupts import InterruptGuard
from migrator.run.journal import Event, Journal, Record, fold, journal_for
from migrator.run.observer import RunReport, RunResult, StepStatus
from migrator.run.settings import RunSettings
from migrator.state.files import FileStore

POINTER = "batch.current"
_PLAN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
INTERRUPT_EXIT = 130  # as a single apply interrupted by Ctrl-C or SIGTERM
INTERRUPTED_BEFORE_START = "not run: the batch was interrupted before this cluster started"
INTERRUPTED_IN_FLIGHT = (
    "interrupted: the principal in flight was finished and journaled, then the run stopped; run the same "
    "command again to resume"
)


class FleetObserver(Protocol):
    """Progress of a fleet run, one cluster at a time. Calls come from the clusters' threads, concurrently."""

    def on_cluster(self, cluster: str, phase: str, done: int, total: int) -> None: ...
    def on_cluster_message(self, cluster: str, text: str) -> None: ...
    def on_cluster_done(self, result: ClusterResult) -> None: ...


class NullFleetObserver:
    def on_cluster(self, cluster: str, phase: str, done: int, total: int) -> None:
        pass

    def on_cluster_message(self, cluster: str, text: str) -> None:
        pass

    def on_cluster_done(self, result: ClusterResult) -> None:
        pass


@dataclass(frozen=True)
class BatchSettings:
    """How the fleet runs; per cluster, what its plan says (and its inventory settings) decides the rest."""

    state: StateStore = field(default_factory=lambda: FileStore(Path("plans")))
    # How each cluster's run goes (approvals, waits, --rollback-on-failure); per cluster, its inventory entry and
    # what this batch may reach of its plan fill in the rest (max concurrency, until, accept-managed-aws-auth).
    run: RunSettings = RunSettings()
    max_parallel: int = 8
    account_budget: int = 16  # EKS requests in flight at once per account and region, all its clusters together
    canary: int = 0
    target: AuthMode | None = None  # batch plan: overrides the inventory's targets
    created_at: str | None = None  # batch plan: pin createdAt for byte-identical plans
    shard: str | None = None
    inventory: str = ""
    fleet: FleetSet | None = None  # the clusters before --shard split them: shard reports name it, merges check it


class _ClusterWatcher:
    """The executor's Observer for one cluster, forwarded to the fleet's observer with the cluster's name."""

    def __init__(self, cluster: str, fleet: FleetObserver, phase: str) -> None:
        self.cluster, self.fleet, self.phase = cluster, fleet, phase
        self.total = 0
        self.done = 0

    def on_start(self, total_steps: int) -> None:
        self.total, self.done = total_steps, 0
        self.fleet.on_cluster(self.cluster, self.phase, 0, total_steps)

    def on_step(self, step: AnyStep, status: StepStatus) -> None:
        if status in (StepStatus.DONE, StepStatus.UNDONE, StepStatus.KEPT):
            self.done += 1
        detail = f"{self.phase}: {step.id} {status.value}"
        self.fleet.on_cluster(self.cluster, detail, self.done, self.total)

    def on_message(self, text: str) -> None:
        self.fleet.on_cluster_message(self.cluster, text)


def access_of(cluster: InventoryCluster, settings: BatchSettings) -> ClusterAccess:
    """The cluster's credentials, and the EKS call budget it shares with the other clusters of its account
    (named by the inventory's account, else by the credentials that reach it)."""
    account_key = cluster.account or cluster.role_arn or f"profile:{cluster.profile or 'default'}"
    return ClusterAccess(
        cluster.region, cluster.profile, cluster.role_arn, eks_budget=(account_key, settings.account_budget)
    )


def _error(error: BaseException) -> ErrorInfo:
    if isinstance(error, MigratorError):
        return ErrorInfo(type(error).__name__, error.exit_code, str(error))
    return ErrorInfo(type(error).__name__, 1, f"internal error: {error}")  # a bug, kept to this cluster


def _base(cluster: InventoryCluster, outcome: Outcome, canary: bool = False) -> ClusterResult:
    return ClusterResult(
        cluster.name, cluster.account, cluster.region, cluster.index, outcome, canary=canary, label=cluster.label
    )


def _guarded(
    cluster: InventoryCluster, work: Callable[[], ClusterResult], observer: FleetObserver, canary: bool = False
) -> ClusterResult:
    """Run one cluster's work; whatever it raises becomes its failed entry, never another cluster's problem."""
    started, clock = now_iso(), time.monotonic()
    try:
        result = work()
    except Exception as error:  # every failure, bugs included, stays with its cluster
        outcome = Outcome.STALE if isinstance(error, StalePlanError) else Outcome.FAILED
        result = replace(_base(cluster, outcome), message=str(error).splitlines()[0], error=_error(error))
    result = replace(result, canary=canary, timing=Timing(started, time.monotonic() - clock))
    observer.on_cluster_done(result)
    return result


def _in_parallel(
    clusters: Sequence[InventoryCluster],
    work: Callable[[InventoryCluster], ClusterResult],
    limit: int,
    stop: threading.Event | None = None,
    on_stop: Callable[[], None] = lambda: None,
) -> list[ClusterResult]:
    """`work` for each cluster, up to `limit` at once.

    Ctrl-C (or SIGTERM, see `interrupts_stop`) arrives in this, the main thread. Without `stop`, it starts no
    further cluster, lets the running ones finish, and propagates. With `stop`, it sets it: every cluster in
    flight stops as a single apply does on Ctrl-C (its principal in flight finished, journaled, then it
    reports itself interrupted), clusters not started are reported `not-run`, and the results come back. A
    second interrupt while the clusters in flight stop propagates at once."""
    if not clusters:
        return []
    pool = ThreadPoolExecutor(max_workers=max(1, min(limit, len(clusters))), thread_name_prefix="cluster")
    futures = [pool.submit(work, cluster) for cluster in clusters]
    try:
        wait(futures)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        if stop is None:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        stop.set()
        on_stop()
        try:
            wait(futures)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    pool.shutdown(wait=True)
    return [
        _not_started(cluster) if future.cancelled() else future.result()
        for cluster, future in zip(clusters, futures, strict=True)
    ]


def _not_started(cluster: InventoryCluster) -> ClusterResult:
    return replace(_base(cluster, Outcome.NOT_RUN), message=INTERRUPTED_BEFORE_START)


@contextlib.contextmanager
def interrupts_stop() -> Iterator[threading.Event]:
    """For a fleet apply run from the main thread: SIGTERM (a cancelled CI job) becomes Ctrl-C, as in a single
    apply; the event is what `_in_parallel` sets to stop the clusters in flight."""
    with InterruptGuard(lambda _: None).sigterm_as_ctrl_c():
        yield threading.Event()


# --- plan --------------------------------------------------------------------------------------------------


def batch_plan(
    clusters: Sequence[InventoryCluster], settings: BatchSettings, observer: FleetObserver | None = None
) -> BatchReport:
    """A live plan per cluster in its folder (`cluster_dir`; read-only calls); a failing cluster stops no other."""
    watcher = observer or NullFleetObserver()
    created_at = settings.created_at or now_iso()

    def one(cluster: InventoryCluster) -> ClusterResult:
        def work() -> ClusterResult:
            watcher.on_cluster(cluster.label, "planning", 0, 0)
            options = PlanOptions(
                target=settings.target or cluster.target,
                remove_aws_auth=cluster.remove_aws_auth,
                accept_managed_aws_auth=cluster.accept_managed_aws_auth,
                created_at=created_at,
            )
            folder = cluster_store(cluster, settings.state)
            lease = state_lease(folder, cluster.name, "batch-plan", partial(watcher.on_cluster_message, cluster.label))
            with lease if lease is not None else contextlib.nullcontext():
                if lease is not None and lease.takeover_message:
                    watcher.on_cluster_message(cluster.label, lease.takeover_message)
                if (kept := _kept_plan(cluster, settings.state)) is not None:
                    return kept  # refused from the journal alone: no call to the cluster
                plan = plan_live(cluster.name, access_of(cluster, settings), options)
                _check_identity(cluster, plan)
                where = write_plan_to(folder, plan)
                if (kept := _kept_plan(cluster, settings.state)) is not None:
                    return kept  # a run started while we planned (the new plan stays, unnamed by the pointer)
                folder.put(POINTER, f"{plan_name(plan)}\n".encode())
                run = PlanRun.of(plan, folder, where)
                return _described(cluster, run, Outcome.PLANNED, f"plan written to {where}")

        return _guarded(cluster, work, watcher)

    results = _in_parallel(clusters, one, settings.max_parallel)
    return BatchReport("plan", ordered(results), settings.inventory, settings.shard, fleet=settings.fleet)


def _kept_plan(cluster: InventoryCluster, state: StateStore) -> ClusterResult | None:
    """The cluster's entry when `batch plan` must keep its current plan, else None: a run of that plan is in
    progress, or stopped part-way (at a gate, interrupted, failed) and not rolled back. Pointing the fleet at a
    new plan then would orphan what the run did: status would say not-started, rollback "never applied", and
    the run's entries would be nobody's to undo."""
    folder = cluster_store(cluster, state)
    pointer = folder.get(POINTER)
    if pointer is None:
        return None
    try:
        run = open_cluster_run(cluster, state)
    except InputError:
        if not _pointed_journal(folder, pointer.data).exists():
            return None  # a plan that cannot be read, but never run: nothing to orphan
        raise  # cannot tell how far its run went: this cluster fails with the reason
    unfinished = _unfinished(run)
    if unfinished is None:
        return None
    refused = RunInProgressError(
        f"cluster {cluster.label}: not planned again: the run of its plan {run.plan_id} {unfinished}; a new plan "
        "would orphan what that run did: finish it with batch apply, or undo it with batch rollback, then plan again"
    )
    return replace(_described(cluster, run, Outcome.FAILED, str(refused)), error=_error(refused))


def _pointed_journal(folder: StateStore, pointer: bytes) -> Journal:
    """The journal of the plan `batch.current` names, found by name alone (`<planId>.plan.yaml`)."""
    name = pointer.decode("utf-8", errors="replace").strip()
    return journal_for(folder, _plan_id_named(name) or "unreadable-pointer")


def _plan_id_named(name: str) -> str | None:
    plan_id = name.removesuffix(".plan.yaml")
    return plan_id if name.endswith(".plan.yaml") and _PLAN_ID.fullmatch(plan_id) else None


def _unfinished(run: PlanRun) -> str | None:
    """How the plan's run stands when it is unfinished: a live process runs it, or it changed the cluster (a step
    that rollback undoes or keeps was done, or its call made) while not every step is done, and its last run was
    not a rollback that finished. None otherwise (a backup of aws-auth alone changed nothing)."""
    status = plan_status(run)
    if status.result is RunResult.IN_PROGRESS:
        return f"is in progress ({status.message})"
    read = run.journal.read()
    state = fold(read.records, read.torn_message)
    changed = any(
        (state.of(s.id).done or state.of(s.id).attempted) and (s.inverse() is not None or s.kept_because() is not None)
        for s in run.plan.steps
    )
    if not changed or state.all_done(s.id for s in run.plan.steps) or _rolled_back(read.records):
        return None
    return f"has not finished ({status.message})"


def _rolled_back(records: Sequence[Record]) -> bool:
    """Was the plan's last run a rollback that finished (nothing of the plan left to undo, or kept on purpose)?"""
    operation: object = None
    result: object = None
    for record in records:
        if record.event is Event.RUN_STARTED:
            operation, result = record.detail.get("operation"), None
        elif record.event is Event.RUN_FINISHED:
            result = record.detail.get("result")
    return operation == "rollback" and result in (RunResult.ROLLED_BACK.value, RunResult.NOTHING_TO_DO.value)


def _check_identity(cluster: InventoryCluster, plan: Plan) -> None:
    """The credentials must reach the cluster the inventory names: same account and region."""
    ref = plan.cluster
    if (cluster.account is not None and ref.account != cluster.account) or ref.region != cluster.region:
        raise InputError(
            f"cluster {cluster.name}: the inventory says account {cluster.account} in {cluster.region}, the "
            f"credentials reached account {ref.account} in {ref.region}",
            hint="fix the cluster's account, region, profile or roleArn in the inventory",
        )


def _described(cluster: InventoryCluster, run: PlanRun, outcome: Outcome, message: str) -> ClusterResult:
    """The cluster's entry with what its plan and its journal say."""
    plan = run.plan
    status = plan_status(run)
    done = {s.id for s in status.steps if s.status is StepStatus.DONE}
    gates = tuple(s.mode.value for s in plan.steps if isinstance(s, SetMode) and s.id in done)
    findings: dict[str, int] = {}
    for finding in plan.findings:
        findings[finding.severity.value] = findings.get(finding.severity.value, 0) + 1
    return replace(
        _base(cluster, outcome),
        message=message,
        plan_file=run.plan_where,
        plan_id=run.plan_id,
        mode=gates[-1] if gates else plan.current_mode.value,
        target=plan.target.value,
        steps_done=len(done),
        steps_total=len(plan.steps),
        gates_passed=gates,
        findings=findings,
        blockers=tuple(sorted({f.code for f in plan.blockers})),
    )


# --- locating a cluster's plan -------------------------------------------------------------------------------


def cluster_store(cluster: InventoryCluster, state: StateStore) -> StateStore:
    """The cluster's folder: `<state>/<account>/<region>/<name>/` (see InventoryCluster.directory), where a
    single-cluster command finds it too (app/state.py cluster_folder). In a shared state the account must be
    the inventory's (`require_accounts`); `no-account` is for a local state only."""
    if state.shared and cluster.account is None:
        raise _no_account(cluster)
    return state.child(cluster.directory)


def require_accounts(clusters: Sequence[InventoryCluster], inventory: str = "") -> None:
    """For a shared (S3) state: InputError (exit 2) when a cluster names no account. There a cluster's folder is
    its identity, `<account>/<region>/<name>/`, known before planning, where a single-cluster command of a plan
    of the cluster runs too; a `no-account` folder would be one that no such command finds, and that two
    accounts' same-named clusters share. Checked before anything is read or written; `inventory` names the file."""
    if (missing := next((c for c in clusters if c.account is None), None)) is not None:
        raise _no_account(missing, inventory)


def _no_account(cluster: InventoryCluster, inventory: str = "") -> InputError:
    where = f"{inventory}:{cluster.line}: " if inventory and cluster.line is not None else ""
    return InputError(
        f"{where}cluster {cluster.name!r} names no account: in an S3 state a cluster's folder is "
        "<account>/<region>/<name>, its identity, known before planning",
        hint="give every cluster its account (or defaults.account) in the inventory",
    )


def open_cluster_run(cluster: InventoryCluster, state: StateStore) -> PlanRun:
    """The plan `batch plan` made for this cluster; InputError (exit 2, for this cluster) when there is none."""
    folder = cluster_store(cluster, state)
    pointer = folder.get(POINTER)
    if pointer is None:
        raise InputError(
            f"cluster {cluster.name}: no plan in {folder.location} (no {POINTER})", hint="run batch plan for it first"
        )
    name = pointer.data.decode("utf-8", errors="replace").strip()
    if _plan_id_named(name) is None:
        raise InputError(f"{folder.where(POINTER)}: not a plan file name: {name!r}")
    # The run directory is the plan's own folder, where a single-cluster command of a plan file finds it too.
    run = PlanRun.of(read_plan(folder, name), folder)
    ref = run.plan.cluster
    if ref.name != cluster.name or ref.region != cluster.region or (cluster.account not in (None, ref.account)):
        raise InputError(
            f"{run.plan_where}: the plan is for {ref.account}/{ref.region}/{ref.name}, the inventory lists "
            f"{cluster.identity}",
            hint="run batch plan again",
        )
    return run


# --- apply -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reach:
    """How far this batch may take a plan: the steps before the first gate that is unapproved or that the
    plan's blockers keep shut (`gate`, None when the whole plan may run)."""

    wanted: tuple[Step, ...]
    gate: SetMode | None = None
    blocked: bool = False  # the plan's blocker findings keep `gate` shut
    approved: bool = False  # `gate` was approved: a blocked cluster then falls short of what was approved

    @property
    def until(self) -> str | None:
        # The executor refuses a blocked gate with a lockout error (exit 4), approved or not; a fleet stops in
        # front of it instead, so that the steps before it stand (and --rollback-on-failure keeps them).
        return self.wanted[-1].id if self.blocked and self.wanted else None

    @property
    def short(self) -> bool:
        return self.blocked and self.approved


def _reach(plan: Plan, approvals: frozenset[AuthMode]) -> _Reach:
    for index, step in enumerate(plan.steps):
        if isinstance(step, SetMode) and step.gate:
            blocked, approved = bool(plan.gate_blockers(step)), step.mode in approvals
            if blocked or not approved:
                return _Reach(plan.steps[:index], step, blocked, approved)
    return _Reach(plan.steps)


def _settled(run: PlanRun, reach: _Reach) -> Outcome | None:
    """What the journal alone says this batch has nothing left to do for, or None."""
    status = plan_status(run)
    if status.result is RunResult.IN_PROGRESS:
        return None
    done = {s.id for s in status.steps if s.status is StepStatus.DONE}
    if not all(s.id in done for s in reach.wanted):
        return None
    if all(s.id in done for s in run.plan.steps):
        return Outcome.COMPLETED
    return Outcome.BLOCKED if reach.short else Outcome.AT_GATE


def _apply_outcome(report: RunReport, run: PlanRun, reach: _Reach) -> Outcome:
    if isinstance(report.error, StalePlanError):
        return Outcome.STALE
    if report.result is RunResult.ROLLED_BACK:
        return Outcome.ROLLED_BACK
    if report.error is not None or report.result is RunResult.FAILED:
        return Outcome.FAILED
    if report.result is RunResult.STOPPED_AT_GATE:
        return Outcome.AT_GATE
    return _settled(run, reach) or Outcome.FAILED


def _settled_message(reach: _Reach, plan: Plan, fallback: str) -> str:
    if reach.gate is None or not reach.blocked:
        return fallback
    codes = ", ".join(sorted({f.code for f in plan.gate_blockers(reach.gate)}))
    return f"stopped in front of gate {reach.gate.id} ({reach.gate.mode.value}): blocked by {codes}"


def _apply_one(
    cluster: InventoryCluster,
    settings: BatchSettings,
    watcher: FleetObserver,
    *,
    canary: bool,
    stop: threading.Event | None = None,
) -> ClusterResult:
    if stop is not None and stop.is_set():
        return _not_started(cluster)
    run = open_cluster_run(cluster, settings.state)
    try:
        return _apply_run(cluster, run, settings, watcher, canary=canary, stop=stop)
    except KeyboardInterrupt:  # only our stop raises it in this thread (signals go to the main thread)
        result = _described(cluster, run, Outcome.INTERRUPTED, INTERRUPTED_IN_FLIGHT)
        return replace(result, error=ErrorInfo("Interrupted", INTERRUPT_EXIT, INTERRUPTED_IN_FLIGHT))
    except Exception as error:  # still this cluster's alone; but its entry says where its journal left it
        outcome = Outcome.STALE if isinstance(error, StalePlanError) else Outcome.FAILED
        return replace(_described(cluster, run, outcome, str(error).splitlines()[0]), error=_error(error))


def _apply_run(
    cluster: InventoryCluster,
    run: PlanRun,
    settings: BatchSettings,
    watcher: FleetObserver,
    *,
    canary: bool,
    stop: threading.Event | None,
) -> ClusterResult:
    reach = _reach(run.plan, settings.run.approvals)
    settled = _settled(run, reach)
    if settled is not None and not canary:
        # Nothing left to do for what was approved: no connection, no call at all.
        message = _settled_message(reach, run.plan, "nothing left to do")
        return replace(_described(cluster, run, settled, message), skipped=True)
    ports = connect_cluster(run.plan, access_of(cluster, settings))
    if settled is not None:  # a canary that is done already: verified all the same
        result = _described(cluster, run, settled, _settled_message(reach, run.plan, "nothing left to do"))
    else:
        run_settings = replace(
            settings.run,
            max_concurrency=cluster.max_concurrency,
            until=reach.until,
            stop=stop,
            # The inventory says the owner's source was changed: also for a plan made before it said so.
            accept_managed_aws_auth=cluster.accept_managed_aws_auth and run.plan.remove_aws_auth,
        )
        report = apply_plan(run, ports, run_settings, observer=_ClusterWatcher(cluster.label, watcher, "apply"))
        outcome = _apply_outcome(report, run, reach)
        message = report.message if report.error is not None else _settled_message(reach, run.plan, report.message)
        result = _described(cluster, run, outcome, message)
        if report.error is not None:
            return replace(result, error=_error(report.error))
    watcher.on_cluster(cluster.label, "verifying", result.steps_done, result.steps_total)
    return replace(result, verified=_verify(run, ports, result))


def _verify(run: PlanRun, ports: ClusterPorts, result: ClusterResult) -> dict[str, object]:
    """Every identity compared with aws-auth (the backup once the plan deleted aws-auth): read-only."""
    removed = run.plan.remove_aws_auth and result.outcome is Outcome.COMPLETED
    reference = Reference(backup=run.backup) if removed else Reference()
    try:
        # The run's journal says which entry EKS made for the creator at the first switch, if this plan made it.
        report = verify_ports(ports.eks, ports.kube, ports.iam, reference, creator=journal_creator(run.journal))
    except Exception as error:  # a verify that cannot run is a failed verify of this cluster
        return {"ok": False, "error": _error(error).message}
    counts = {name: count for name, count in report.counts().items() if count}
    return {"ok": report.ok, "counts": counts}


def held_back(rest: Sequence[InventoryCluster], failed_canaries: Sequence[ClusterResult]) -> list[ClusterResult]:
    """The clusters a failed canary keeps from running. When every failed canary was held by another run (its
    lock or Lease), so are they: their entries say so (exit 7), and a second runner of the same shard exits 7,
    not 5, which a CI job can tell apart from a failure."""
    names = ", ".join(r.name for r in failed_canaries)
    if all(held_by_another_run(r.error) for r in failed_canaries):
        why = f"not run: canary {names} is held by another run"
        error = ErrorInfo(ClusterLockedError.__name__, ClusterLockedError.exit_code, why)
        return [replace(_base(c, Outcome.NOT_RUN), message=why, error=error) for c in rest]
    why = f"not run: canary {names} did not reach what was approved (or did not verify)"
    return [replace(_base(c, Outcome.NOT_RUN), message=why) for c in rest]


def batch_apply(
    clusters: Sequence[InventoryCluster],
    settings: BatchSettings,
    observer: FleetObserver | None = None,
    stop: threading.Event | None = None,
    on_stop: Callable[[], None] = lambda: None,
) -> BatchReport:
    """Apply each cluster's plan. The first `canary` clusters run first, and are verified; the rest start only
    when every canary reached what was approved with every identity equivalent. Then up to `max_parallel`
    clusters at once. Every cluster that ran is verified afterwards.

    `stop` (see `interrupts_stop`): an interrupt stops the clusters in flight between two principals and
    reports them `interrupted`; the report then says `interrupted` and its exit code is 130. `on_stop` is called
    once the clusters were told to stop."""
    watcher = observer or NullFleetObserver()

    def runner(canary: bool) -> Callable[[InventoryCluster], ClusterResult]:
        def one(cluster: InventoryCluster) -> ClusterResult:
            def work() -> ClusterResult:
                return _apply_one(cluster, settings, watcher, canary=canary, stop=stop)

            return _guarded(cluster, work, watcher, canary)

        return one

    canaries, rest = clusters[: settings.canary], clusters[settings.canary :]
    results = _in_parallel(canaries, runner(True), settings.max_parallel, stop, on_stop)
    failed = [r for r in results if not r.ok]
    if stop is not None and stop.is_set():
        results += [_not_started(c) for c in rest]
    elif failed:
        held = held_back(rest, failed)
        for result in held:
            watcher.on_cluster_done(result)
        results += held
    else:
        results += _in_parallel(rest, runner(False), settings.max_parallel, stop, on_stop)
    interrupted = stop is not None and stop.is_set()
    return BatchReport(
        "apply", ordered(results), settings.inventory, settings.shard, interrupted=interrupted, fleet=settings.fleet
    )


# --- status and rollback ---------------------------------------------------------------------------------------

_STATUS = {
    RunResult.NOT_STARTED: Outcome.NOT_STARTED,
    RunResult.IN_PROGRESS: Outcome.IN_PROGRESS,
    RunResult.INTERRUPTED: Outcome.INTERRUPTED,
    RunResult.COMPLETED: Outcome.COMPLETED,
    RunResult.NOTHING_TO_DO: Outcome.COMPLETED,
    RunResult.STOPPED_AT_GATE: Outcome.AT_GATE,
    RunResult.FAILED: Outcome.FAILED,
    RunResult.ROLLED_BACK: Outcome.ROLLED_BACK,
}


def batch_status(clusters: Sequence[InventoryCluster], settings: BatchSettings) -> BatchReport:
    """Where each cluster stands, from its journal alone: no AWS or Kubernetes call."""

    def one(cluster: InventoryCluster) -> ClusterResult:
        def work() -> ClusterResult:
            run = open_cluster_run(cluster, settings.state)
            status = plan_status(run)
            outcome = _STATUS.get(status.result, Outcome.INTERRUPTED)
            if status.result is RunResult.STOPPED:  # the fleet stops so only in front of a blocked gate
                outcome = Outcome.BLOCKED if _reach(run.plan, frozenset(AuthMode)).short else Outcome.INTERRUPTED
            if status.result is RunResult.NOTHING_TO_DO and any(s.status is not StepStatus.DONE for s in status.steps):
                undone = any(s.status is StepStatus.UNDONE for s in status.steps)
                outcome = Outcome.ROLLED_BACK if undone else Outcome.AT_GATE
            return _described(cluster, run, outcome, status.message)

        return _guarded(cluster, work, NullFleetObserver())

    results = ordered(one(c) for c in clusters)
    return BatchReport("status", results, settings.inventory, settings.shard, fleet=settings.fleet)


def batch_rollback(
    clusters: Sequence[InventoryCluster], settings: BatchSettings, observer: FleetObserver | None = None
) -> BatchReport:
    """Roll back every cluster this batch touched (its journal has a run), newest run first, each through the
    same checks as `rollback`. Clusters never run are reported and left alone."""
    watcher = observer or NullFleetObserver()
    touched: list[tuple[str, InventoryCluster, PlanRun]] = []
    results: list[ClusterResult] = []
    for cluster in clusters:
        try:
            run = open_cluster_run(cluster, settings.state)
            records = run.journal.read().records if run.journal.exists() else None
        except InputError as error:
            results.append(replace(_base(cluster, Outcome.NOT_RUN), message=str(error)))
            continue
        except MigratorError as error:  # its state unreadable (S3 refused this cluster's folder): its entry alone
            results.append(
                replace(_base(cluster, Outcome.FAILED), message=str(error).splitlines()[0], error=_error(error))
            )
            continue
        if records is None:
            results.append(_described(cluster, run, Outcome.NOT_STARTED, "never applied: nothing to undo"))
            continue
        # Newest run first, by the journals' own times (compared among themselves, never with our clock).
        touched.append((records[-1].at if records else "", cluster, run))
    touched.sort(key=lambda item: item[0], reverse=True)

    def one(cluster: InventoryCluster) -> ClusterResult:
        def work() -> ClusterResult:
            run = open_cluster_run(cluster, settings.state)
            ports = connect_cluster(run.plan, access_of(cluster, settings))
            run_settings = RunSettings(timeout_seconds=settings.run.timeout_seconds, poll=settings.run.poll)
            report = rollback_plan(
                run, ports, run_settings, observer=_ClusterWatcher(cluster.label, watcher, "rollback")
            )
            assert report is not None  # no confirm callback: never declined
            failed = report.error is not None or report.result is RunResult.FAILED
            result = _described(cluster, run, Outcome.FAILED if failed else Outcome.ROLLED_BACK, report.message)
            return replace(result, error=_error(report.error)) if report.error is not None else result

        return _guarded(cluster, work, watcher)

    results += _in_parallel([c for _, c, _ in touched], one, settings.max_parallel)
    return BatchReport("rollback", ordered(results), settings.inventory, settings.shard, fleet=settings.fleet)


def report_name(report: BatchReport) -> str:
    """Where a batch command's report goes in the state by default: `batch-<command>[-shard-I-of-N].json`."""
    suffix = f"-shard-{report.shard.replace('/', '-of-')}" if report.shard else ""
    return f"batch-{report.command}{suffix}.json"


def write_report(report: BatchReport, store: StateStore, name: str) -> str:
    """Store the report's JSON as `name`; where it went."""
    store.put(name, report.to_json().encode())
    return store.where(name)
