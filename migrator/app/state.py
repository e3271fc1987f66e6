"""Use cases of the run state: open the store `--state` names, and read and write plans in it.

`--state` is a local directory (the default: `plans/`, this machine's files) or `s3://BUCKET/PREFIX`, shared
by every runner that can reach the bucket. A plan, a backup or a journal can also be named by its own
`s3://...` URL (apply, status, rollback, verify, export take one wherever they take a file).

Where a cluster's runs keep their state (`cluster_folder`): in an S3 state its folder is its identity,
`<account>/<region>/<name>/`, for single-cluster commands as for `batch` (app/batch.py), so that every run of
one cluster meets the same lock object and journal whichever command started it, and same-named clusters of
two accounts never share them; in a local state `<name>/` (this machine's lock keeps its runs apart). A plan
named by its `s3://` URL always runs in its own folder: a state only places local plans (`plan_folder_in_state`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import InputError
from migrator.model import ClusterRef, Plan
from migrator.plan.planfile import dump_plan, load_plan, parse_plan_bytes, plan_name
from migrator.ports import StateStore
from migrator.rules.state_permissions import S3Place, StateGrant, check_kms_key
from migrator.state.files import FileStore
from migrator.state.keys import join
from migrator.state.location import MARKER_KEY, S3Location, is_s3_url, parse_s3_url, refuse_url_like

DEFAULT_STATE_REGION = "us-east-1"  # S3 redirects a request to the bucket's own region


@dataclass(frozen=True)
class StateAccess:
    """How to reach an S3 state (ignored for a local one): credentials, region, and the KMS key to encrypt
    with (SSE-KMS; without one, SSE-S3)."""

    profile: str | None = None
    region: str | None = None
    kms_key: str | None = None

    @property
    def s3_region(self) -> str:
        return (
            self.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_STATE_REGION
        )


def open_state(spec: str | Path, access: StateAccess | None = None) -> StateStore:
    """The store `spec` names, checked (read-only) before it is used; InputError (exit 2) or RemoteError
    (exit 5) with nothing written when it is missing, unreadable, another tool's, or of a newer layout."""
    text = str(spec)
    access = access or StateAccess()
    if is_s3_url(text):
        return _s3(parse_s3_url(text), access, check=True)
    if not text.strip():  # `--state "$STATE"` with STATE unset: not the working directory, silently
        raise InputError("--state: empty", hint="--state s3://BUCKET/PREFIX, or a local folder")
    refuse_url_like(text, "--state")
    if access.kms_key is not None:
        raise InputError("--state-kms-key encrypts an S3 state: give --state s3://BUCKET/PREFIX")
    return FileStore(Path(text))


def open_object(ref: str | Path, access: StateAccess | None = None, *, label: str = "file") -> tuple[StateStore, str]:
    """The store of the folder that holds `ref` (a path, or an `s3://BUCKET/KEY` URL) and the object's name."""
    text = str(ref)
    access = access or StateAccess()
    if is_s3_url(text):
        location = parse_s3_url(text, label)
        folder, _, name = location.prefix.rpartition("/")
        if not name:
            raise InputError(f"{label}: {text!r} names a bucket, not an object")
        return _s3(S3Location(location.bucket, folder), access, check=False), name
    refuse_url_like(text, label)
    path = Path(text)
    return FileStore(path.resolve().parent), path.name


def _s3(location: S3Location, access: StateAccess, *, check: bool) -> StateStore:
    from migrator.wiring.state import open_s3_state

    kms_key = check_kms_key(access.kms_key) if access.kms_key is not None else None  # exit 2 before any call
    return open_s3_state(location, region=access.s3_region, profile=access.profile, kms_key=kms_key, check=check)


def load_plan_ref(ref: str | Path, access: StateAccess | None = None) -> tuple[Plan, StateStore, str]:
    """The plan `ref` names (a file, or an `s3://` object), the store of its folder, and its name for messages."""
    folder, name = open_object(ref, access, label="PLAN")
    if folder.shared:
        return read_plan(folder, name), folder, folder.where(name)
    return load_plan(Path(str(ref))), folder, str(ref)


def read_plan(store: StateStore, key: str) -> Plan:
    """The plan stored under `key`, checked as a plan file is (edited, foreign or older: InputError)."""
    where = store.where(key)
    stored = store.get(key)
    if stored is None:
        raise InputError(f"{where}: no such plan file")
    return parse_plan_bytes(stored.data, where)


def write_plan_to(store: StateStore, plan: Plan) -> str:
    """Store the plan as `<planId>.plan.yaml` in `store`; where it went."""
    name = plan_name(plan)
    store.put(name, dump_plan(plan).encode("utf-8"))
    return store.where(name)


def cluster_key(cluster: ClusterRef) -> str:
    """The cluster's folder in an S3 state, `<account>/<region>/<name>`: its identity, as batch names it
    (InventoryCluster.directory). InputError (exit 2) for a plan without a region (offline, made without
    --region): a folder made up for it would be one no run of the cluster ever finds."""
    if cluster.region is None:
        raise InputError(
            f"the plan for {cluster.name} names no region (an offline plan made without --region), and in an S3 "
            "state a cluster's folder is <account>/<region>/<name>",
            hint="plan with --region REGION; an offline plan for review can also stay a file (plan --out FILE)",
        )
    return f"{cluster.account}/{cluster.region}/{cluster.name}"


def cluster_folder(state: StateStore, cluster: ClusterRef) -> StateStore:
    """Where `plan --state` writes the cluster's plans, and where a single run of a local plan file keeps its
    journal, backup and lock object: `<state>/<account>/<region>/<name>/` in a shared (S3) state, as batch keeps
    the cluster there; `<state>/<name>/` in a local one (its layout of old; this machine's lock keeps its runs
    apart)."""
    return state.child(cluster_key(cluster) if state.shared else cluster.name)


def holds_plan(plan_url: str, state: str) -> bool:
    """Whether the S3 state `state` (a URL) holds the plan object `plan_url`: the plan's folder is the state's
    prefix or below it. Pure; the state's URL is checked first (a bad --state is named as such)."""
    return _folder_in_state(plan_url, state) is not None


def plan_folder_in_state(plan_url: str, state: str) -> str:
    """The folder of the plan `plan_url` as a key of the state `state` ("" its root); InputError (exit 2) when the
    state does not hold it: a plan named by its s3:// URL runs in its own folder, and a state that does not hold
    it cannot say which folder was meant."""
    inside = _folder_in_state(plan_url, state)
    if inside is None:
        raise InputError(
            f"{plan_url}: not in the state {state}: a plan named by its s3:// URL runs in its own folder (its journal, "
            "backup and lock object are there); --state places only local plan files",
            hint="drop --state, or give the state that holds the plan",
        )
    return inside


def _folder_in_state(plan_url: str, state: str) -> str | None:
    if not is_s3_url(state):
        return None
    root, plan = parse_s3_url(state), _object_place(plan_url, "PLAN")
    folder = plan.key.rpartition("/")[0]
    if plan.bucket != root.bucket:
        return None
    if not root.prefix or folder == root.prefix:
        return folder.removeprefix(root.prefix)
    return folder.removeprefix(f"{root.prefix}/") if folder.startswith(f"{root.prefix}/") else None


def state_grant(plan_ref: str | Path, plan: Plan, state: str | None, kms_key: str | None) -> StateGrant | None:
    """The S3 state the apply and rollback of `plan` (named `plan_ref`, run with `--state state`) reach, for
    `show --iam-policy`; None when the run keeps everything in local files. The run directory is found as
    PlanRun.open finds it: a plan named by its s3:// URL runs in its own folder (`state`, if given, must hold it:
    its marker is read then); a local plan file with an S3 state runs in `<state>/<account>/<region>/<name>/`.
    Pure: no S3 call."""
    ref = str(plan_ref)
    root = parse_s3_url(state) if state is not None and is_s3_url(state) else None
    if is_s3_url(ref):
        if state is not None:
            plan_folder_in_state(ref, state)
        plan_place = _object_place(ref, "PLAN")
        run_dir = S3Place(plan_place.bucket, plan_place.key.rpartition("/")[0])
    elif root is not None:
        run_dir = S3Place(root.bucket, join(root.prefix, cluster_key(plan.cluster)))
    else:
        if kms_key is not None:
            raise InputError("--state-kms-key encrypts an S3 state: give --state s3://BUCKET/PREFIX")
        return None
    marker = S3Place(root.bucket, join(root.prefix, MARKER_KEY)) if root is not None else None
    return StateGrant(run_dir, marker, check_kms_key(kms_key) if kms_key is not None else None)


def _object_place(url: str, label: str) -> S3Place:
    location = parse_s3_url(url, label)
    if not location.prefix:
        raise InputError(f"{label}: {url!r} names a bucket, not an object")
    return S3Place(location.bucket, location.prefix)
