"""Use cases of running a plan: apply (or dry-run) it, roll it back (or dry-run that), and read its status.

Plain inputs and outputs: a PlanRun (the plan and where its run files live), the cluster's ports, settings
for how far and how fast, and an observer/prompter for whoever watches. The CLI, the demo, the benchmark and
the tests call these; nothing else builds an Executor. Reports carry structured next actions; turning them
into command lines is the caller's business.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from migrator.app.planning import ClusterAccess, plan_id_of
from migrator.app.replan import refuse_unless_replanned
from migrator.app.state import StateAccess, cluster_folder, load_plan_ref, plan_folder_in_state
from migrator.errors import InputError
from migrator.model import ClusterRef, Plan, Snapshot
from migrator.plan.planfile import plan_name
from migrator.ports import EksGateway, IamDirectory, KubeGateway, StateStore
from migrator.run.backup import BackupSlot
from migrator.run.executor import Executor
from migrator.run.journal import Journal, journal_for, read_state
from migrator.run.lease import ClusterLease, describe_holder, held_by_this_process, holder_dead_here
from migrator.run.lock import ClusterLock, holder_alive, lock_path, read_holder
from migrator.run.lockobject import LOCK_KIND, StoreLeases, lock_label
from migrator.run.observer import NullObserver, Observer, Prompter, RunReport, StepStatus, status_report
from migrator.run.settings import RunSettings
from migrator.state.location import is_s3_url


@dataclass(frozen=True)
class ClusterPorts:
    """The plan's cluster as the core sees it: EKS and Kubernetes behind their ports."""

    eks: EksGateway
    kube: KubeGateway
    iam: IamDirectory  # apply plans again before a plan's first step (IAM paths included)


@dataclass(frozen=True)
class PlanRun:
    """A plan and its run's store (the *run directory*: a local folder, or a folder of an S3 state), which holds
    the plan's journal and `<planId>.aws-auth.backup.json`, and in a shared state the cluster's lock object.
    This machine's lock on the cluster is one per cluster per machine (`lock_path`), beside the cluster's Lease."""

    plan: Plan
    store: StateStore
    plan_id: str
    plan_where: str = ""  # the plan file or object, for messages

    @staticmethod
    def of(plan: Plan, store: StateStore, plan_where: str = "") -> PlanRun:
        return PlanRun(plan, store, plan_id_of(plan), plan_where or store.where(plan_name(plan)))

    @staticmethod
    def open(plan_ref: str | Path, state: StateStore | None = None, access: StateAccess | None = None) -> PlanRun:
        """The plan (a file, or an `s3://` object) and its run directory. A plan named by its URL runs in its own
        folder, whatever the state (which must then hold it: InputError otherwise, before anything is read). A
        plan file runs in its cluster's folder of the state (`cluster_folder`: `<account>/<region>/<name>/` in
        S3, `<name>/` in a local state), or without a state in the plan file's own folder."""
        ref = str(plan_ref)
        inside = plan_folder_in_state(ref, state.location) if state is not None and is_s3_url(ref) else None
        plan, folder, where = load_plan_ref(plan_ref, access)
        if state is None:
            store = folder
        elif inside is not None:  # the plan's own folder, reached through the state (its marker checked, its key)
            store = state.child(inside) if inside else state
        else:
            store = cluster_folder(state, plan.cluster)
        return PlanRun(plan, store, plan_id_of(plan), where)

    @property
    def journal(self) -> Journal:
        return journal_for(self.store, self.plan_id)

    @property
    def backup(self) -> BackupSlot:
        return BackupSlot.of(self.store, self.plan_id)

    @property
    def lock_path(self) -> Path:
        return lock_path(self.plan.cluster)


def connect_cluster(plan: Plan, access: ClusterAccess) -> ClusterPorts:
    """The real ports for the plan's cluster, refusing credentials that reach another account."""
    from migrator.wiring.connect import ConnectOptions, connect

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
    leases: RunLeases | None = None,
) -> Executor:
    return Executor(
        run.plan,
        ports.eks,
        ports.kube,
        run.journal,
        plan_id=run.plan_id,
        backup=run.backup,
        settings=settings,
        observer=observer,
        prompter=prompter,
        lease_lost=None if leases is None else leases.loss,
    )


class RunLeases:
    """The leases a run holds: the cluster's Lease (kept on the cluster itself) and, in a shared state, the
    cluster's lock object there. The executor asks `loss()` before each unit: losing either stops the run."""

    def __init__(self, run: PlanRun, kube: KubeGateway, observer: Observer) -> None:
        name, on_message = run.plan.cluster.name, observer.on_message
        self.cluster = ClusterLease(kube, name, run.plan_id, on_message=on_message)
        self.state = state_lease(run.store, name, run.plan_id, on_message)

    def loss(self) -> str | None:
        held = (self.state, self.cluster) if self.state is not None else (self.cluster,)
        return next((why for lease in held if (why := lease.loss()) is not None), None)


def state_lease(
    store: StateStore, cluster: str, plan_id: str, on_message: Callable[[str], None]
) -> ClusterLease | None:
    """The cluster's lock object in a shared state (None in a local one, where this machine's lock does)."""
    if not store.shared:
        return None
    where = lock_label(store)
    return ClusterLease(
        StoreLeases(store),
        cluster,
        plan_id,
        label=where,
        kind=LOCK_KIND,
        removal=f"aws s3 rm {where}" if where.startswith("s3://") else f"rm {where}",
        on_message=on_message,
    )


@contextlib.contextmanager
def cluster_locked(
    store: StateStore, cluster: ClusterRef, plan_id: str, observer: Observer, state: ClusterLease | None
) -> Iterator[None]:
    """This machine's lock on the cluster, then (a shared state) the cluster's lock object in it: together they
    keep out every other run of the cluster that uses this state, whatever machine it runs on."""
    with ClusterLock(lock_path(cluster), cluster.name, plan_id) as lock:
        if lock.stale_message:
            observer.on_message(lock.stale_message)
        with state if state is not None else contextlib.nullcontext():
            if state is not None and state.takeover_message:
                observer.on_message(state.takeover_message)
            yield


@contextlib.contextmanager
def _locked(run: PlanRun, leases: RunLeases, observer: Observer) -> Iterator[None]:
    """The locks of `cluster_locked`, then the cluster's own Lease (other machines, CI runners, other states).
    A run that loses a lease stops (the executor asks `leases.loss()` before each unit)."""
    with cluster_locked(run.store, run.plan.cluster, run.plan_id, observer, leases.state):
        lease = leases.cluster
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
    leases = RunLeases(run, ports.kube, watcher)
    executor = _executor(run, ports, settings, watcher, prompter, leases)
    if settings.dry_run:
        return executor.apply(fresh=_replan_before_the_first_step(run, ports))
    with _locked(run, leases, watcher):
        fresh = _replan_before_the_first_step(run, ports)
        return executor.apply(fresh=fresh)


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
    leases = RunLeases(run, ports.kube, watcher)
    executor = _executor(run, ports, settings, watcher, None, leases)
    if settings.dry_run:
        return executor.rollback()
    with _locked(run, leases, watcher):
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
    return status_report(run.plan, run.plan_id, state, holder=lock_holder(run))


def lock_holder(run: PlanRun) -> str | None:
    """Who holds the cluster's lock, as far as the state shows without a call to the cluster: the lock object
    of a shared state (held until released or taken over), or this machine's lock file (while its process
    lives)."""
    if run.store.shared:
        lease = StoreLeases(run.store).read_lease("", "")
        if lease is None or not lease.holder or holder_dead_here(lease) or held_by_this_process(lease):
            # free, named a process of this host that is gone (the next run takes it at once), or our own hold
            return None
        return f"{describe_holder(lease.holder)} ({LOCK_KIND} {lock_label(run.store)})"
    holder = read_holder(run.lock_path)
    return holder.describe() if holder is not None and holder_alive(holder) is not False else None
