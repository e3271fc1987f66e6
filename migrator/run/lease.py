"""One apply (or rollback) per cluster at a time anywhere: a Kubernetes Lease on the cluster itself.

`kube-system/aws-auth-migrate` (coordination.k8s.io/v1) names its holder in `holderIdentity` (JSON: host, pid,
machine, planId, user), with `leaseDurationSeconds`, `acquireTime` and `renewTime`. While a run lasts a thread
renews it every third of the duration; at the end it is deleted.

Expiry is judged as client-go's leader election judges it: from when *this* run last saw the lease change
(its resourceVersion, renewTime, holder), on this run's own monotonic clock, never by comparing the holder's
`renewTime` with our clock (another host's clock may be minutes off). So a run that finds the lease held
watches it for its `leaseDurationSeconds`: renewed meanwhile, its holder is alive and the cluster is locked;
unchanged for the whole duration, its holder died (or lost its network) and the lease is taken over and
reported. One naming a process of this host and machine (boot and pid namespace: `migrator/run/machine.py`)
that no longer exists is taken over at once (a SIGKILLed run resumed here need not wait it out); a host name
alone is no proof (CI runners on other machines, containers on this one, share host names), and a holder that
names no machine (an older version's, or one written without /proc) is watched. A lease longer than
MAX_WATCH_SECONDS is not waited out: it refuses.

The holder side: a run that cannot renew for RENEW_DEADLINE of the duration (on its monotonic clock; before
anyone watching can take it over), or whose renewal finds the lease changed by someone else, has lost it:
`lost_reason` says why, and the executor stops before its next principal (exit 7, the journal true).

Two takers cannot both win: creating fails with 409 when the Lease exists, and every update and delete is made
against the resourceVersion read, so the loser of a race gets a ConflictError and reports the cluster locked.
Kubernetes is reached only through the KubeGateway port, the time only through an injectable clock. The same
algorithm keeps a cluster's lock object in a shared run state (run/lockobject.py adapts a StateStore object to
the LeaseKeeper port; `label`, `kind` and `removal` name it in messages).
"""

from __future__ import annotations

import datetime
import getpass
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType

from migrator.errors import ClusterLockedError, ConflictError, ForbiddenError, MigratorError
from migrator.ports import LeaseKeeper, LeaseState
from migrator.run.machine import Process, alive_here, is_this_process

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "aws-auth-migrate"
LEASE_SECONDS = 60
MAX_WATCH_SECONDS = 300  # a lease held for longer after each renewal is not waited out, but refused
WATCH_EVERY_SECONDS = 2.0  # how often a waiting run reads a held lease (at most a third of its duration)
RENEW_DEADLINE = 2 / 3  # of the duration: a holder that could not renew for this long stops, before others take it

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds the Lease, as written in its holderIdentity."""

    host: str
    pid: int
    plan_id: str
    user: str
    machine: str | None = None  # boot id and pid namespace (machine.py): what makes the pid mean one process

    @staticmethod
    def here(plan_id: str, process: Process | None = None) -> LeaseHolder:
        me = process or Process.this()
        return LeaseHolder(me.host, me.pid, plan_id, _user(), me.machine)

    def identity(self) -> str:
        machine = {} if self.machine is None else {"machine": self.machine}
        return json.dumps(
            {
                "tool": LEASE_NAME,
                "host": self.host,
                "pid": self.pid,
                **machine,
                "planId": self.plan_id,
                "user": self.user,
            },
            separators=(",", ":"),
        )


def describe_holder(identity: str | None) -> str:
    """A holderIdentity for people: ours parsed, anyone else's verbatim."""
    try:
        data = json.loads(identity or "")
        return f"pid {int(data['pid'])} on {data['host']} (plan {data['planId']}, user {data['user']})"
    except (ValueError, KeyError, TypeError, OverflowError):
        return repr(identity)


def _stamp(moment: datetime.datetime | None) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z") if moment is not None else "never"


def is_free(lease: LeaseState) -> bool:
    return not lease.holder


def holder_process(lease: LeaseState) -> Process | None:
    """The process a holderIdentity of ours names (None: free, or someone else's)."""
    try:
        data = json.loads(lease.holder or "")
        machine = data.get("machine")
        return Process(str(data["host"]), int(data["pid"]), machine if isinstance(machine, str) else None)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        return None


def holder_dead_here(lease: LeaseState, here: Process | None = None) -> bool:
    """The lease names a process of this host and machine (`here`: this process) that no longer exists (a run
    killed here). Taken under this machine's lock on the cluster, such a lease cannot belong to a live run, so
    it need not expire first. A holder on another machine of the same host name, in another pid namespace, or
    naming no machine is not judged by our pids: False."""
    holder = holder_process(lease)
    return holder is not None and alive_here(holder, here or Process.this()) is False


def held_by_this_process(lease: LeaseState, here: Process | None = None) -> bool:
    """The lease names this very process (`here`): `batch plan`, which holds a cluster's lock object while it
    reads how that cluster's run stands, must not take its own hold for a run in progress."""
    holder = holder_process(lease)
    return holder is not None and is_this_process(holder, here or Process.this())


class ClusterLease:
    """`with ClusterLease(kube, cluster, plan_id) as lease:` holds the cluster's Lease for the block.

    `taken_over` is the expired lease we replaced (its message in `takeover_message`); `on_message` hears
    what the lease has to say (a held lease watched, a lost lease); `lost_reason` says why the lease is lost
    (None while held). A caller whose RBAC forbids the Lease (a Role from before the lease existed) runs
    without it, warned (`forbidden`): this machine's lock still holds. `wait` is how the thread waits between
    renewals (an Event's wait by default, so release wakes it at once); `monotonic` and `sleep` are how
    expiry is measured and a held lease watched; `here` is this process as a holder names it (whose pids judge
    a holder of this host and machine dead at once). Tests pass their own.
    """

    def __init__(
        self,
        kube: LeaseKeeper,
        cluster: str,
        plan_id: str,
        *,
        label: str = f"{LEASE_NAMESPACE}/{LEASE_NAME}",
        kind: str = "Lease",
        removal: str = f"kubectl -n {LEASE_NAMESPACE} delete lease {LEASE_NAME}",
        duration_seconds: int = LEASE_SECONDS,
        clock: Clock = utc_now,
        holder: LeaseHolder | None = None,
        here: Process | None = None,
        on_message: Callable[[str], None] | None = None,
        wait: Callable[[float], bool] | None = None,
        renew_in_background: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kube = kube
        self.cluster = cluster
        self.label = label  # names the lease in messages: the Lease's name, or the URL of a run state's lock object
        self.kind = kind
        self.removal = removal  # how a person removes it when its holder is gone for good
        self.duration_seconds = duration_seconds
        self.clock = clock
        self.here = here or Process.this()
        self.holder = holder or LeaseHolder.here(plan_id, self.here)
        self.on_message = on_message or (lambda _message: None)
        self.taken_over: LeaseState | None = None
        self.holder_gone = False  # the lease taken over named a process of this machine that no longer existed
        self.watched_seconds = 0.0  # how long the lease we took over was watched unchanged
        self.lost = False
        self.lost_reason: str | None = None
        self._monotonic = monotonic
        self._sleep = sleep
        self._renewed_at = 0.0  # on our monotonic clock: when we last wrote the lease
        self.forbidden: str | None = None
        self._state: LeaseState | None = None
        self._guard = threading.Lock()
        self._stopped = threading.Event()
        self._wait = wait or self._stopped.wait
        self._renew_in_background = renew_in_background
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> LeaseState | None:
        with self._guard:
            return self._state

    @property
    def takeover_message(self) -> str | None:
        if self.taken_over is None:
            return None
        old = self.taken_over
        why = (
            "is gone (its process no longer exists on this host)"
            if self.holder_gone
            else f"did not renew it while this run watched it for {self.watched_seconds:g} s (its last renewTime, "
            f"by its own clock: {_stamp(old.renewed_at or old.acquired_at)})"
        )
        return (
            f"took over an expired lease on cluster {self.cluster} ({self.label}): its holder, "
            f"{describe_holder(old.holder)}, {why}; that run's journal shows where it stopped"
        )

    # --- taking it -----------------------------------------------------------------------------------------

    def acquire(self) -> ClusterLease:
        try:
            return self._acquire()
        except ForbiddenError as error:
            self.forbidden = (
                f"ran without the cluster's lease ({self.label}): {error}; runs on other machines "
                "are not kept out; grant the Role `show --iam-policy` prints"
            )
            return self

    def _acquire(self) -> ClusterLease:
        current = self.kube.read_lease(LEASE_NAMESPACE, LEASE_NAME)
        gone = current is not None and not is_free(current) and holder_dead_here(current, self.here)
        if current is not None and not is_free(current) and not gone:
            current = self._watch(current)
        now = self.clock()
        mine = LeaseState(
            LEASE_NAMESPACE,
            LEASE_NAME,
            holder=self.holder.identity(),
            duration_seconds=self.duration_seconds,
            acquired_at=now,
            renewed_at=now,
        )
        try:
            if current is None:
                taken = self.kube.create_lease(mine)
            else:
                stale = None if is_free(current) else current
                taken = self.kube.update_lease(
                    replace(
                        mine,
                        transitions=current.transitions + 1,
                        resource_version=current.resource_version,
                    )
                )
                self.taken_over = stale
                self.holder_gone = gone
        except ConflictError:
            # Someone else created or changed it between our read and our write: they won.
            raise self._locked(self.kube.read_lease(LEASE_NAMESPACE, LEASE_NAME)) from None
        with self._guard:
            self._state = taken
            self._renewed_at = self._monotonic()
        if self._renew_in_background:
            self._thread = threading.Thread(target=self._renew_loop, name="lease-renewal", daemon=True)
            self._thread.start()
        return self

    def _watch(self, held: LeaseState) -> LeaseState | None:
        """The lease as last read once it went unchanged for its whole duration on our clock (its holder is
        gone), or None/free when released meanwhile; ClusterLockedError when it changed (its holder is alive).
        client-go's leader election: expiry counts from when this run last saw the lease change."""
        duration = held.duration_seconds or LEASE_SECONDS
        if duration > MAX_WATCH_SECONDS:
            raise self._locked(
                held,
                f"its holder keeps it for {duration} s after each renewal, longer than a run waits",
                hint=f"wait for it to finish; if its holder is gone, delete the {self.kind}: {self.removal}",
            )
        self.on_message(
            f"the lease on cluster {self.cluster} ({self.label}) is held by "
            f"{describe_holder(held.holder)}: watching it for up to {duration} s to tell whether that run is "
            "alive (a live run renews it every third of that)"
        )
        observed_at = self._monotonic()
        while (waited := self._monotonic() - observed_at) < duration:
            self._sleep(min(WATCH_EVERY_SECONDS, duration / 3, duration - waited))
            current = self.kube.read_lease(LEASE_NAMESPACE, LEASE_NAME)
            if current is None or is_free(current):
                return current
            if current != held:
                raise self._locked(current, "it was renewed while this run watched it")
        self.watched_seconds = self._monotonic() - observed_at
        return held

    def _locked(self, current: LeaseState | None, why: str = "", *, hint: str | None = None) -> ClusterLockedError:
        who = describe_holder(current.holder) if current is not None and current.holder else "another run"
        because = f" ({why})" if why else ""
        return ClusterLockedError(
            f"cluster {self.cluster} is locked by {who}{because}: another run is applying or rolling back a plan "
            f"({self.kind} {self.label})",
            hint=hint
            or "wait for it to finish; a lease its holder stops renewing is taken over once it has gone "
            "unrenewed for its duration",
        )

    # --- keeping it ----------------------------------------------------------------------------------------

    def renew(self) -> bool:
        """Move renewTime to now; False (and `lost`, reported once) when someone else has the lease now."""
        with self._guard:
            state = self._state
        if state is None or self.lost:
            return False
        try:
            renewed = self._renewed(state)
        except ConflictError:
            self._lose(self.kube_holder())
            return False
        except MigratorError as error:
            # A blip: try again at the next tick, while others watching the lease cannot take it over yet.
            deadline = (state.duration_seconds or LEASE_SECONDS) * RENEW_DEADLINE
            if self._monotonic() - self._renewed_at >= deadline:
                self._lose(f"it could not be renewed for {deadline:g} s ({error}), and others may take it over")
            return False
        with self._guard:
            self._state = renewed
            self._renewed_at = self._monotonic()
        return True

    def _renewed(self, state: LeaseState) -> LeaseState:
        """The lease renewed; ConflictError when someone else has it now. A conflict with our own earlier write
        (stored, its answer lost: the call failed, yet the lease moved on to our bytes) is renewed again against
        the version that write made: the lease still names this very acquisition (holder, acquireTime,
        transitions), which a run that took it over would have replaced."""
        try:
            return self.kube.update_lease(replace(state, renewed_at=self.clock()))
        except ConflictError:
            stored = self._our_own(state)
            if stored is None:
                raise
            return self.kube.update_lease(replace(stored, renewed_at=self.clock()))

    def _our_own(self, state: LeaseState) -> LeaseState | None:
        """The lease as stored when it is still this acquisition of ours (only its renewTime and version moved)."""
        current = self.kube.read_lease(LEASE_NAMESPACE, LEASE_NAME)
        if current is None or (current.holder, current.acquired_at, current.transitions) != (
            state.holder,
            state.acquired_at,
            state.transitions,
        ):
            return None
        return current

    def loss(self) -> str | None:
        """Why the lease is lost, if it is: `lost_reason`, or, while renewing in the background, no renewal for
        RENEW_DEADLINE of the duration on our clock, whatever the renewal call is doing meanwhile: a call hung
        on a dead connection never returns to say so, while others may already take the lease over."""
        if self.lost_reason is not None or not self._renew_in_background:
            return self.lost_reason
        with self._guard:
            state, renewed_at = self._state, self._renewed_at
        if state is None:
            return None
        deadline = (state.duration_seconds or LEASE_SECONDS) * RENEW_DEADLINE
        if self._monotonic() - renewed_at >= deadline:
            return (
                f"lost the lease on cluster {self.cluster} ({self.label}): not renewed for "
                f"{deadline:g} s, and others may take it over"
            )
        return None

    def kube_holder(self) -> str:
        try:
            current = self.kube.read_lease(LEASE_NAMESPACE, LEASE_NAME)
        except MigratorError as error:
            return f"it could not be read again ({error})"
        if current is None or not current.holder:
            return "it was deleted or released by someone else"
        return f"it is held by {describe_holder(current.holder)} now"

    def _lose(self, why: str) -> None:
        self.lost = True
        self.lost_reason = f"lost the lease on cluster {self.cluster} ({self.label}): {why}"
        with self._guard:
            self._state = None
        self.on_message(f"{self.lost_reason}; another run may be changing the cluster: stopping before the next step")

    def _renew_loop(self) -> None:
        interval = max(self.duration_seconds / 3, 0.01)
        while not self._wait(interval) and not self._stopped.is_set():
            self.renew()

    # --- giving it back ------------------------------------------------------------------------------------

    def release(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._guard:
            state, self._state = self._state, None
        if state is None:
            return
        try:
            self._delete(state)
        except ConflictError:
            pass  # someone took it over meanwhile: it is theirs now, not ours to delete
        except MigratorError as error:
            self.on_message(
                f"could not release the lease on cluster {self.cluster} ({error}); others take it over once it has "
                f"gone unrenewed for {state.duration_seconds or LEASE_SECONDS} s"
            )

    def _delete(self, state: LeaseState) -> None:
        try:
            self.kube.delete_lease(state)
        except ConflictError:
            stored = self._our_own(state)  # a renewal stored though its answer was lost: still ours to release
            if stored is None:
                raise
            self.kube.delete_lease(stored)

    def __enter__(self) -> ClusterLease:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
