"""Use cases of running a plan: apply (or dry-run) it, roll it back (or dry-run that), and read its status.

Plain inputs and outputs: a PlanRun (the plan and where its run files live), the cluster's ports, settings
for how far and how fast, and an observer/prompter for whoever watches. The CLI, the demo, the benchmark and
the tests call these; nothing else builds an Executor. Reports carry structured next actions; turning them
into command lines is the caller's business.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migrator.app.planning import ClusterAccess, open_plan, plan_id_of
from migrator.app.replan import refuse_unless_replanned
from migrator.errors import InputError
from migrator.model import AuthMode, Plan, Snapshot
from migrator.ports import EksGateway, IamDirectory, KubeGateway
from migrator.run.backup import backup_path
from migrator.run.executor import Executor
from migrator.run.journal import Journal, journal_path, read_state
from migrator.run.lease import ClusterLease
from migrator.run.lock import ClusterLock, holder_alive, lock_path, read_holder
from migrator.run.observer import NullObserver, Observer, Prompter, RunReport, StepStatus, status_report
from migrator.run.steps.context import PollPolicy

MAX_POLL_SECONDS = 4.0  # a finished mode switch is seen within this (and a round trip): issue 12 asks <= 5 s


def update_polling(first_seconds: float = 1.0) -> PollPolicy:
    """How a run waits for EKS: the first look after `first_seconds`, then doubling, but never more than
    MAX_POLL_SECONDS apart (or `first_seconds`, when asked for longer), so a finished mode switch is seen
    within that of EKS finishing it; the old 30 s cap could leave a run idle for 30 s after a switch of a
    few minutes. DescribeUpdate is a read: one every 4 s is nothing next to EKS's per-operation rates."""
    return PollPolicy(initial_seconds=first_seconds, max_seconds=max(MAX_POLL_SECONDS, first_seconds))


@dataclass(frozen=True)
class ClusterPorts:
    """The plan's cluster as the core sees it: EKS and Kubernetes behind their ports."""

    eks: EksGateway
    kube: KubeGateway
    iam: IamDirectory  # apply plans again before a plan's first step (IAM paths included)


@dataclass(frozen=True)
class PlanRun:
    """A plan and its run directory, which holds `<planId>.journal.jsonl` and `<planId>.aws-auth.backup.json`.
    The cluster's lock is not in it: it is one per cluster per machine (`lock_path`), plus the cluster's Lease."""

    plan: Plan
    run_dir: Path
    plan_id: str

    @staticmethod
    def of(plan: Plan, run_dir: Path) -> PlanRun:
        return PlanRun(plan, run_dir, plan_id_of(plan))

    @staticmethod
    def open(plan_file: Path, plans_dir: Path | None = None) -> PlanRun:
        """The run directory is `<plans_dir>/<cluster>/` when given, else the plan file's own directory."""
        plan = open_plan(plan_file)
        run_dir = plans_dir / plan.cluster.name if plans_dir is not None else plan_file.resolve().parent
        return PlanRun.of(plan, run_dir)

    @property
    def journal(self) -> Journal:
        return Journal(journal_path(self.run_dir, self.plan_id), self.plan_id)

    @property
    def backup_path(self) -> Path:
        return backup_path(self.run_dir, self.plan_id)

    @property
    def lock_path(self) -> Path:
        return lock_path(self.plan.cluster)


@dataclass(frozen=True)
class RunSettings:
    """How far and how fast; never what (the plan decides that)."""

    approvals: frozenset[AuthMode] = frozenset()
    dry_run: bool = False
    max_concurrency: int = 8
    timeout_seconds: float = 1800.0
    poll: PollPolicy = field(default_factory=update_polling)
    until: str | None = None
    rollback_on_failure: bool = False
    # As a gate approval: the operator says the source of an aws-auth that a tool re-applies no longer has it,
    # so the plan's remove-aws-auth step may delete it (--accept-managed-aws-auth).
    accept_managed_aws_auth: bool = False
    # Interrupts a run that is not in the main thread (a fleet's clusters): set, it stops as Ctrl-C does.
    stop: threading.Event | None = field(default=None, compare=False)


def connect_cluster(plan: Plan, access: ClusterAccess) -> ClusterPorts:
    """The real ports for the plan's cluster, refusing credentials that reach another account."""
    from migrator.connect import ConnectOptions, connect

    cluster = plan.cluster
    if cluster.region is None:  # only offline plans made without --region, which apply and rollback refuse
        raise InputError(
            f"the plan for {cluster.name} names no region: it was made offline, for review only",
            hint=f"plan against the cluster: aws-auth-migrate plan --cluster {cluster.name} --region REGION",
        )
    connection = connect(
        cluster.name,
        ConnectOptions(
            cluster.region,
            access.profile,
            access.role_arn,
            access.kube_context,
            iam_roles=access.iam_roles,
            eks_budget=access.eks_budget,
        ),
    )
    if connection.info.account != cluster.account:
        raise InputError(
            f"the credentials reach cluster {cluster.name} in account {connection.info.account}, but the plan is "
            f"for account {cluster.account}",
            hint="use --profile or --role-arn for the plan's account",
        )
    return ClusterPorts(connection.eks, connection.kube, connection.iam)


def _executor(
    run: PlanRun,
    ports: ClusterPorts,
    settings: RunSettings,
    observer: Observer,
    prompter: Prompter | None,
    lease: ClusterLease | None = None,
) -> Executor:
    return Executor(
        run.plan,
        ports.eks,
        ports.kube,
        run.journal,
        plan_id=run.plan_id,
        backup_path=run.backup_path,
        observer=observer,
        max_concurrency=settings.max_concurrency,
        approvals=settings.approvals,
        prompter=prompter,
        dry_run=settings.dry_run,
        timeout_seconds=settings.timeout_seconds,
        poll=settings.poll,
        until=settings.until,
        stop=settings.stop,
        accept_managed_aws_auth=settings.accept_managed_aws_auth,
        lease_lost=None if lease is None else lease.loss,
    )


def _lease(run: PlanRun, kube: KubeGateway, observer: Observer) -> ClusterLease:
    return ClusterLease(kube, run.plan.cluster.name, run.plan_id, on_message=observer.on_message)


@contextlib.contextmanager
def _locked(run: PlanRun, lease: ClusterLease, observer: Observer) -> Iterator[None]:
    """This machine's lock on the cluster, then the cluster's own Lease (other machines, CI runners). A run
    that loses the Lease stops (the executor asks `lease.loss()` before each unit)."""
    with ClusterLock(run.lock_path, run.plan.cluster.name, run.plan_id) as lock:
        if lock.stale_message:
            observer.on_message(lock.stale_message)
        with lease:
            for message in (lease.takeover_message, lease.forbidden):
                if message:
                    observer.on_message(message)
            yield


def apply_plan(
    run: PlanRun,
    ports: ClusterPorts,
    settings: RunSettings = RunSettings(),
    *,
    observer: Observer | None = None,
    prompter: Prompter | None = None,
) -> RunReport:
    """Apply the plan: resumable, stops in front of each unapproved gate, journals every step. A dry run
    takes no lock (it writes nothing, so it may run beside a real apply)."""
    if run.plan.offline:
        raise InputError(
            "an offline plan is for review only and cannot be applied",
            hint=f"plan against the cluster: aws-auth-migrate plan --cluster {run.plan.cluster.name}",
        )
    if settings.accept_managed_aws_auth and not run.plan.remove_aws_auth:
        raise InputError(
            "--accept-managed-aws-auth lets the remove-aws-auth step delete an aws-auth that a tool re-applies; "
            "this plan does not remove aws-auth",
            hint="drop --accept-managed-aws-auth",
        )
    watcher = observer or NullObserver()
    lease = _lease(run, ports.kube, watcher)
    executor = _executor(run, ports, settings, watcher, prompter, lease)
    if settings.dry_run:
        return executor.apply(fresh=_replan_before_the_first_step(run, ports))
    with _locked(run, lease, watcher):
        fresh = _replan_before_the_first_step(run, ports)
        return executor.apply(rollback_on_failure=settings.rollback_on_failure, fresh=fresh)


def _replan_before_the_first_step(run: PlanRun, ports: ClusterPorts) -> Snapshot | None:
    """A plan whose journal shows no progress yet must be what the planner makes of the cluster now; a
    resumed one was checked so by its first run (the journal is named by the plan's content hash)."""
    prior = read_state(run.journal)
    if prior.any_progress or not run.plan.steps or prior.all_done(s.id for s in run.plan.steps):
        return None
    return refuse_unless_replanned(run.plan, ports.eks, ports.kube, ports.iam)


def rollback_plan(
    run: PlanRun,
    ports: ClusterPorts,
    settings: RunSettings = RunSettings(),
    *,
    observer: Observer | None = None,
    confirm: Callable[[Sequence[str]], bool] | None = None,
) -> RunReport | None:
    """Undo what this plan's runs did, where that is safe. `confirm` sees the preview (one line per step,
    from a dry run of the rollback under the same lock) and may decline: then nothing is changed and None is
    returned."""
    watcher = observer or NullObserver()
    lease = _lease(run, ports.kube, watcher)
    executor = _executor(run, ports, settings, watcher, None, lease)
    if settings.dry_run:
        return executor.rollback()
    with _locked(run, lease, watcher):
        if confirm is not None:
            preview = rollback_preview(
                _executor(run, ports, dataclasses.replace(settings, dry_run=True), NullObserver(), None)
            )
            if preview and not confirm(preview):
                return None
        return executor.rollback()


def rollback_preview(dry_run: Executor) -> list[str]:
    """One line per step a rollback would undo or keep, from a dry run of it (read-only calls only)."""
    lines: list[str] = []
    for step in reversed(dry_run.rollback().steps):  # newest first, as rollback goes
        if step.status is StepStatus.WOULD_RUN:
            lines.append(f"undo   {step.id}: {str(step.detail.get('note', step.description)).removeprefix('would ')}")
        elif step.status is StepStatus.KEPT:
            lines.append(f"keep   {step.id}: {step.detail.get('reason', '')}")
    return lines


def plan_status(run: PlanRun) -> RunReport:
    """What the journal says about the plan's runs (no AWS or Kubernetes call)."""
    state = read_state(run.journal)
    holder = read_holder(run.lock_path)
    running = holder.describe() if holder is not None and holder_alive(holder) is not False else None
    return status_report(run.plan, run.plan_id, state, holder=running)
