"""A cluster's lock in a shared run state (S3): an object that ClusterLease takes and keeps as it does the
cluster's Lease, so that runners on other machines, and runs that may not write the Lease (batch plan, a
caller whose RBAC forbids it), are kept out too, and `status` can say who holds it.

`lock.json` in the cluster's folder of the state holds what a Lease holds (holder, duration, acquire and renew
times, transitions). Created with if-none-match, renewed and released with if-match on the version read, so
two takers cannot both win; expiry is judged as for the Lease, from this run's own observation of the object
changing, never from the times written in it (another host's clock). Released, the holder is emptied (the
object stays: a conditional delete is not needed, and the next taker replaces the version it read).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from typing import Any

from migrator.errors import ConflictError
from migrator.ports import LeaseState, StateStore

LOCK_KEY = "lock.json"
LOCK_SCHEMA = "aws-auth-migrate/lock/v1"


LOCK_KIND = "lock object"


def lock_label(store: StateStore) -> str:
    return store.where(LOCK_KEY)


class StoreLeases:
    """The LeaseKeeper port over one object of a StateStore (the namespace and name are the Lease's; ignored)."""

    def __init__(self, store: StateStore, key: str = LOCK_KEY) -> None:
        self.store = store
        self.key = key

    def read_lease(self, namespace: str, name: str) -> LeaseState | None:
        stored = self.store.get(self.key)
        if stored is None:
            return None
        return _lease(namespace, name, stored.data, stored.version)

    def create_lease(self, lease: LeaseState) -> LeaseState:
        version = self.store.put(self.key, _body(lease), if_none_match=True)
        return replace(lease, resource_version=version)

    def update_lease(self, lease: LeaseState) -> LeaseState:
        if lease.resource_version is None:
            raise ConflictError(f"{self.store.where(self.key)}: no version to write against")
        version = self.store.put(self.key, _body(lease), if_match=lease.resource_version)
        return replace(lease, resource_version=version)

    def delete_lease(self, lease: LeaseState) -> None:
        """Released: the holder emptied against the version read (ConflictError when someone else has it)."""
        if lease.resource_version is None:
            return
        freed = replace(lease, holder=None, acquired_at=None, renewed_at=None)
        self.store.put(self.key, _body(freed), if_match=lease.resource_version)


def _stamp(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _body(lease: LeaseState) -> bytes:
    return json.dumps(
        {
            "schema": LOCK_SCHEMA,
            "holderIdentity": lease.holder or None,
            "leaseDurationSeconds": lease.duration_seconds,
            "acquireTime": _stamp(lease.acquired_at),
            "renewTime": _stamp(lease.renewed_at),
            "leaseTransitions": lease.transitions,
        },
        sort_keys=True,
    ).encode()


def _lease(namespace: str, name: str, data: bytes, version: str) -> LeaseState:
    """The object as a LeaseState; an object that is no lock of ours reads as held by an unknown holder (never
    taken at once: it is watched for its duration, like a Lease somebody else wrote)."""
    try:
        body = json.loads(data)
        if not isinstance(body, dict) or body.get("schema") != LOCK_SCHEMA:
            raise ValueError("not a lock object")
        holder = body.get("holderIdentity")
        duration = body.get("leaseDurationSeconds")
        transitions = body.get("leaseTransitions")
        return LeaseState(
            namespace,
            name,
            holder=holder if isinstance(holder, str) else None,
            duration_seconds=duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
            acquired_at=_time(body.get("acquireTime")),
            renewed_at=_time(body.get("renewTime")),
            transitions=transitions if isinstance(transitions, int) and not isinstance(transitions, bool) else 0,
            resource_version=version,
        )
    except (ValueError, TypeError, RecursionError):
        return LeaseState(namespace, name, holder=repr(data[:80]), resource_version=version)
