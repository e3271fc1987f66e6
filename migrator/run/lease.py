"""One apply (or rollback) per cluster at a time anywhere: a Kubernetes Lease on the cluster itself.

`kube-system/aws-auth-migrate` (coordination.k8s.io/v1) names its holder in `holderIdentity` (JSON: host, pid,
planId, user), with `leaseDurationSeconds`, `acquireTime` and `renewTime`. While a run lasts a thread renews it
every third of the duration; at the end it is deleted. A lease whose `renewTime + leaseDurationSeconds` is in
the past was left by a run that died (or lost its network): it is taken over and reported; so is at once one
naming a process of this host that no longer exists (a SIGKILLed run resumed here need not wait it out).

Two takers cannot both win: creating fails with 409 when the Lease exists, and every update and delete is made
against the resourceVersion read, so the loser of a race gets a ConflictError and reports the cluster locked.
Kubernetes is reached only through the KubeGateway port, the time only through an injectable clock.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType

from migrator.errors import ClusterLockedError, ConflictError, ForbiddenError, MigratorError
from migrator.ports import KubeGateway, LeaseState
from migrator.run.lock import LockHolder, holder_alive

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "aws-auth-migrate"
LEASE_SECONDS = 60

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

    @staticmethod
    def here(plan_id: str) -> LeaseHolder:
        return LeaseHolder(socket.gethostname(), os.getpid(), plan_id, _user())

    def identity(self) -> str:
        return json.dumps(
            {"tool": LEASE_NAME, "host": self.host, "pid": self.pid, "planId": self.plan_id, "user": self.user},
            separators=(",", ":"),
        )


def describe_holder(identity: str | None) -> str:
    """A holderIdentity for people: ours parsed, anyone else's verbatim."""
    try:
        data = json.loads(identity or "")
        return f"pid {int(data['pid'])} on {data['host']} (plan {data['planId']}, user {data['user']})"
    except (ValueError, KeyError, TypeError):
        return repr(identity)


def _stamp(moment: datetime.datetime | None) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z") if moment is not None else "never"


def expires_at(lease: LeaseState) -> datetime.datetime | None:
    last = lease.renewed_at or lease.acquired_at
    if last is None:
        return None
    return last + datetime.timedelta(seconds=lease.duration_seconds or LEASE_SECONDS)


def is_free(lease: LeaseState) -> bool:
    return not lease.holder


def holder_dead_here(lease: LeaseState) -> bool:
    """The lease names a process on this host that no longer exists (a run killed here). Taken under this
    machine's lock on the cluster, such a lease cannot belong to a live run, so it need not expire first."""
    try:
        data = json.loads(lease.holder or "")
        return holder_alive(LockHolder(int(data["pid"]), str(data["host"]), "", "")) is False
    except (ValueError, KeyError, TypeError):
        return False


def is_expired(lease: LeaseState, now: datetime.datetime) -> bool:
    """Past its renewTime + leaseDurationSeconds (a lease that never says when it was renewed counts as
    expired: nothing will ever renew it)."""
    end = expires_at(lease)
    return end is None or end < now


class ClusterLease:
    """`with ClusterLease(kube, cluster, plan_id) as lease:` holds the cluster's Lease for the block.

    `taken_over` is the expired lease we replaced (its message in `takeover_message`); `on_message` hears
    what the renewal thread has to say (a lost lease). A caller whose RBAC forbids the Lease (a Role from
    before the lease existed) runs without it, warned (`forbidden`): this machine's lock still holds.
    `wait` is how the thread waits between renewals (an Event's wait by default, so release wakes it at
    once); tests pass their own.
    """

    def __init__(
        self,
        kube: KubeGateway,
        cluster: str,
        plan_id: str,
        *,
        duration_seconds: int = LEASE_SECONDS,
        clock: Clock = utc_now,
        holder: LeaseHolder | None = None,
        on_message: Callable[[str], None] | None = None,
        wait: Callable[[float], bool] | None = None,
        renew_in_background: bool = True,
    ) -> None:
        self.kube = kube
        self.cluster = cluster
        self.duration_seconds = duration_seconds
        self.clock = clock
        self.holder = holder or LeaseHolder.here(plan_id)
        self.on_message = on_message or (lambda _message: None)
        self.taken_over: LeaseState | None = None
        self.lost = False
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
            if holder_dead_here(old)
            else f"last renewed it at {_stamp(old.renewed_at or old.acquired_at)} and it expired at "
            f"{_stamp(expires_at(old))}"
        )
        return (
            f"took over an expired lease on cluster {self.cluster} ({LEASE_NAMESPACE}/{LEASE_NAME}): its holder, "
            f"{describe_holder(old.holder)}, {why}; that run's journal shows where it stopped"
        )

    # --- taking it -----------------------------------------------------------------------------------------

    def acquire(self) -> ClusterLease:
        try:
            return self._acquire()
        except ForbiddenError as error:
            self.forbidden = (
                f"ran without the cluster's lease ({LEASE_NAMESPACE}/{LEASE_NAME}): {error}; runs on other machines "
                "are not kept out; grant the Role `show --iam-policy` prints"
            )
            return self

    def _acquire(self) -> ClusterLease:
        now = self.clock()
        current = self.kube.read_lease(LEASE_NAMESPACE, LEASE_NAME)
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
            elif is_free(current) or is_expired(current, now) or holder_dead_here(current):
                stale = None if is_free(current) else current
                taken = self.kube.update_lease(
                    replace(
                        mine,
                        transitions=current.transitions + 1,
                        resource_version=current.resource_version,
                    )
                )
                self.taken_over = stale
            else:
                raise self._locked(current)
        except ConflictError:
            # Someone else created or changed it between our read and our write: they won.
            raise self._locked(self.kube.read_lease(LEASE_NAMESPACE, LEASE_NAME)) from None
        with self._guard:
            self._state = taken
        if self._renew_in_background:
            self._thread = threading.Thread(target=self._renew_loop, name="lease-renewal", daemon=True)
            self._thread.start()
        return self

    def _locked(self, current: LeaseState | None) -> ClusterLockedError:
        who = describe_holder(current.holder) if current is not None and current.holder else "another run"
        until = f", lease valid until {_stamp(expires_at(current))}" if current is not None else ""
        return ClusterLockedError(
            f"cluster {self.cluster} is locked by {who}{until}: another run is applying or rolling back a plan "
            f"(Lease {LEASE_NAMESPACE}/{LEASE_NAME})",
            hint="wait for it to finish; a lease nobody renews is taken over once it expires",
        )

    # --- keeping it ----------------------------------------------------------------------------------------

    def renew(self) -> bool:
        """Move renewTime to now; False (and `lost`, reported once) when someone else has the lease now."""
        with self._guard:
            state = self._state
        if state is None or self.lost:
            return False
        try:
            renewed = self.kube.update_lease(replace(state, renewed_at=self.clock()))
        except ConflictError:
            self._lose(self.kube_holder())
            return False
        except MigratorError as error:
            # A blip: try again at the next tick, while the lease has time left.
            if is_expired(state, self.clock()):
                self._lose(f"it expired while renewing failed ({error})")
            return False
        with self._guard:
            self._state = renewed
        return True

    def kube_holder(self) -> str:
        try:
            current = self.kube.read_lease(LEASE_NAMESPACE, LEASE_NAME)
        except MigratorError as error:
            return f"it could not be read again ({error})"
        if current is None or not current.holder:
            return "it was deleted by someone else"
        return f"it is held by {describe_holder(current.holder)} now"

    def _lose(self, why: str) -> None:
        self.lost = True
        with self._guard:
            self._state = None
        self.on_message(
            f"lost the lease on cluster {self.cluster} ({LEASE_NAMESPACE}/{LEASE_NAME}): {why}; another run may "
            "be changing the cluster at the same time"
        )

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
            self.kube.delete_lease(state)
        except ConflictError:
            pass  # someone took it over meanwhile: it is theirs now, not ours to delete
        except MigratorError as error:
            self.on_message(
                f"could not release the lease on cluster {self.cluster} ({error}); it expires by itself at "
                f"{_stamp(expires_at(state))}"
            )

    def __enter__(self) -> ClusterLease:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
