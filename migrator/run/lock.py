"""One apply (or rollback) per cluster at a time on this machine: one lock file per cluster identity, held
with flock, in one place per machine: `$AWS_AUTH_MIGRATE_LOCK_DIR`, else `$XDG_STATE_HOME/aws-auth-migrate/locks`,
else `~/.local/state/aws-auth-migrate/locks`, named `<partition>-<account>-<region>-<name>.lock` (file 0600;
the directory made 0700, or an existing one used as it is: `migrator.files.private_dir`). The same plan
copied into two directories therefore meets the same lock. Other machines are kept out by the cluster's
Lease (`migrator/run/lease.py`), taken under this lock.

The kernel releases a flock when its process dies, so a crashed run never blocks the next one. The file
also holds who has it ({pid, host, machine, planId, startedAt}) to name the holder in the refusal; `status`
judges that holder's pid only on the same machine (`migrator/run/machine.py`: a lock directory may be shared
by containers with pid namespaces of their own). A clean release empties the file; finding a holder written in
it when we get the lock therefore means that holder died (stale), and we say so and take over.

The file is never deleted: with flock, unlinking a lock file lets two processes lock two different inodes.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from migrator.errors import ClusterLockedError
from migrator.files import private_dir
from migrator.model import ClusterRef
from migrator.run.machine import Process, alive_here

LOCK_DIR_ENV = "AWS_AUTH_MIGRATE_LOCK_DIR"


def lock_dir() -> Path:
    """Where this machine keeps its cluster locks (see the module docstring)."""
    override = os.environ.get(LOCK_DIR_ENV)
    if override:
        return Path(override)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "aws-auth-migrate" / "locks"


def lock_path(cluster: ClusterRef) -> Path:
    """The machine's lock file for one cluster identity (partition, account, region, name)."""
    return lock_dir() / f"{cluster.partition}-{cluster.account}-{cluster.region}-{cluster.name}.lock"


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    plan_id: str
    started_at: str
    machine: str | None = None  # boot id and pid namespace (machine.py); None: unreadable, or an older version's

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} (plan {self.plan_id}, since {self.started_at})"

    def to_json(self) -> str:
        data: dict[str, object] = {"pid": self.pid, "host": self.host, "planId": self.plan_id}
        if self.machine is not None:
            data["machine"] = self.machine
        return json.dumps({**data, "startedAt": self.started_at})

    @staticmethod
    def parse(text: str) -> LockHolder | None:
        try:
            data = json.loads(text)
            machine = data.get("machine")
            return LockHolder(
                int(data["pid"]),
                str(data["host"]),
                str(data["planId"]),
                str(data["startedAt"]),
                machine if isinstance(machine, str) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            return None


def read_holder(path: Path) -> LockHolder | None:
    """Who the lock file names (without locking it: for `status`). None when free or unreadable."""
    try:
        return LockHolder.parse(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def holder_alive(holder: LockHolder, here: Process | None = None) -> bool | None:
    """Whether the holder's process exists; None when this process (`here`) cannot tell: another host name or
    machine, or no machine recorded or readable (see machine.py)."""
    return alive_here(Process(holder.host, holder.pid, holder.machine), here or Process.this())


class ClusterLock:
    """`with ClusterLock(path, cluster, plan_id) as lock:`; `lock.stale` names a dead holder taken over."""

    def __init__(self, path: Path, cluster: str, plan_id: str) -> None:
        self.path = path
        self.cluster = cluster
        self.plan_id = plan_id
        self.stale: LockHolder | None = None
        self._handle: IO[str] | None = None

    @property
    def stale_message(self) -> str | None:
        if self.stale is None:
            return None
        return (
            f"took over a stale lock on cluster {self.cluster}: its holder, {self.stale.describe()}, "
            "is gone without releasing it; its journal shows where it stopped"
        )

    def acquire(self) -> ClusterLock:
        private_dir(self.path.parent)
        # 0600 (it names the holder), never through a symlink
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        handle = open(descriptor, "r+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = LockHolder.parse(handle.read())
            handle.close()
            who = holder.describe() if holder is not None else "another process"
            raise ClusterLockedError(
                f"cluster {self.cluster} is locked by {who}: another run is applying or rolling back a plan",
                hint=f"wait for it to finish; `status` shows its progress (lock file {self.path})",
            ) from None
        handle.seek(0)
        previous = handle.read()
        self.stale = LockHolder.parse(previous) if previous.strip() else None
        me = Process.this()
        holder = LockHolder(me.pid, me.host, self.plan_id, _now(), me.machine)
        handle.seek(0)
        handle.truncate()
        handle.write(holder.to_json())
        handle.flush()
        os.fsync(handle.fileno())
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is None:
            return
        # Empty the file before unlocking, so the next holder does not mistake us for a dead one.
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None

    def __enter__(self) -> ClusterLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
