"""One set of expectations for the StateStore port (migrator/ports.py), run against the local directory
(FileStore, in tmp_path) and against S3 (S3Store through the real boto3 over HTTP, in a bucket of the sandbox,
at the bucket's root and under a prefix), so that a run behaves the same wherever its state lives. The
journal of record objects and the lock object are checked over each store too; the S3-only part checks what
`open_s3_store` refuses before writing anything, the marker, and server-side encryption.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest

from migrator.aws.s3state import open_s3_store
from migrator.errors import ClusterLockedError, InputError, WriteConflict
from migrator.ports import StateStore, StoredObject
from migrator.run.journal import Event, JournalCorrupt, JournalForked, ObjectJournal
from migrator.run.lease import ClusterLease, LeaseHolder
from migrator.run.lockobject import LOCK_KEY, StoreLeases, lock_label
from migrator.run.machine import Process
from migrator.sandbox.scenario import parse_scenario
from migrator.sandbox.server import Sandbox
from migrator.state.files import FileStore
from migrator.state.location import MARKER_KEY, STATE_SCHEMA, S3Location, parse_s3_url
from tests.support.arns import ACCOUNT, role
from tests.support.clock import FakeTime
from tests.support.scenarios import scenario_yaml

REGION = "us-east-1"
PREFIX = "runs/team-a"
T0 = datetime.datetime(2025, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
ME = LeaseHolder("runner-a", 4242, "plan-mine", "alice")
OTHER = LeaseHolder("ci-runner-7", 77, "plan-theirs", "bob")
BAD_KEYS = ("", "/a", "a/", "a//b", ".", "..", "../a", "a/../b", "a/..", ".hidden", "a/.b", "a b", "a\nb")


# --- the sandbox and the stores --------------------------------------------------------------------------


@dataclass
class SandboxS3:
    sandbox: Sandbox
    s3: Any  # a raw boto3 client, to look behind the store
    buckets: Iterator[int]

    def new_bucket(self) -> str:
        name = f"state-{next(self.buckets)}"
        self.s3.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        return [str(item["Key"]) for item in self.s3.list_objects_v2(Bucket=bucket).get("Contents", ())]


@pytest.fixture(scope="module")
def sandbox_s3() -> Iterator[SandboxS3]:
    """One sandbox for the module (each test gets a bucket of its own); its env for boto3 while it runs."""
    text = scenario_yaml(
        f'  - name: prod\n    region: {REGION}\n    account: "{ACCOUNT}"\n',
        roles=[role("Admin")],
        caller=role("Admin"),
    )
    with Sandbox(parse_scenario(text, "state-store.yaml")) as sandbox, pytest.MonkeyPatch.context() as env:
        for name, value in sandbox.env().items():
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.delenv(name, raising=False)
        s3 = boto3.client("s3", region_name=REGION)  # AWS_ENDPOINT_URL and the caller's credentials, from the env
        yield SandboxS3(sandbox, s3, itertools.count(1))


@dataclass
class Place:
    """A store, and how a second writer (another process, another machine) opens the same place."""

    kind: str
    store: StateStore
    reopen: Callable[[], StateStore]


def s3_place(sandbox_s3: SandboxS3, prefix: str, *, kms_key: str | None = None) -> Place:
    location = S3Location(sandbox_s3.new_bucket(), prefix)

    def reopen() -> StateStore:
        return open_s3_store(location, region=REGION, profile=None, kms_key=kms_key)

    return Place("s3", reopen(), reopen)


@pytest.fixture(
    params=[
        "file",
        pytest.param("s3", marks=pytest.mark.integration),
        pytest.param("s3-prefix", marks=pytest.mark.integration),
    ]
)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "file":
        root = tmp_path / "state"
        return Place("file", FileStore(root), lambda: FileStore(root))
    sandbox_s3: SandboxS3 = request.getfixturevalue("sandbox_s3")
    return s3_place(sandbox_s3, PREFIX if request.param == "s3-prefix" else "")


# --- objects ---------------------------------------------------------------------------------------------


def test_get_of_a_missing_key_is_none(place: Place) -> None:
    assert place.store.get("nothing.json") is None
    assert place.store.get("no/such/folder.json") is None


def test_put_then_get_gives_the_bytes_and_the_version_put_returned(place: Place) -> None:
    store = place.store
    version = store.put("prod/plan.json", b'{"a": 1}\n')
    stored = store.get("prod/plan.json")
    assert stored is not None and stored.data == b'{"a": 1}\n' and stored.version == version and version
    replaced = store.put("prod/plan.json", b"\x00\xffbinary")
    again = store.get("prod/plan.json")
    assert again is not None and again.data == b"\x00\xffbinary" and again.version == replaced != version
    empty = store.put("empty", b"")
    assert store.get("empty") == StoredObject(b"", empty)
    other = place.reopen().get("prod/plan.json")  # another writer reads the same object and version
    assert other == again


def test_if_none_match_creates_only_and_leaves_an_existing_object_unchanged(place: Place) -> None:
    store = place.store
    version = store.put("prod/lock.json", b"first", if_none_match=True)
    with pytest.raises(WriteConflict) as refused:
        place.reopen().put("prod/lock.json", b"second", if_none_match=True)
    assert refused.value.exit_code == 6
    assert store.get("prod/lock.json") == StoredObject(b"first", version)


def test_if_match_replaces_only_the_version_read(place: Place) -> None:
    store = place.store
    first = store.put("prod/pointer.json", b"one")
    second = store.put("prod/pointer.json", b"two", if_match=first)
    stored = store.get("prod/pointer.json")
    assert stored is not None and (stored.data, stored.version) == (b"two", second) and second != first
    with pytest.raises(WriteConflict):
        place.reopen().put("prod/pointer.json", b"stale", if_match=first)
    stored = store.get("prod/pointer.json")
    assert stored is not None and (stored.data, stored.version) == (b"two", second)
    with pytest.raises(WriteConflict):
        store.put("prod/missing.json", b"x", if_match=second)  # nothing there: no version can match
    assert store.get("prod/missing.json") is None


def test_list_gives_sorted_keys_relative_to_the_store_under_a_prefix_and_through_child(place: Place) -> None:
    store = place.store
    for key in ("prod/b.json", "prod/a.json", "prod/plan.journal/000000002.json", "prod/plan.journal/000000001.json"):
        store.put(key, b"x")
    store.put("staging/a.json", b"x")
    store.put("top.json", b"x")
    assert store.list() == [
        "prod/a.json",
        "prod/b.json",
        "prod/plan.journal/000000001.json",
        "prod/plan.journal/000000002.json",
        "staging/a.json",
        "top.json",
    ]
    assert store.list("prod/plan.journal") == ["prod/plan.journal/000000001.json", "prod/plan.journal/000000002.json"]
    assert store.list("prod/a.json") == []  # a prefix names a folder, never an object
    assert store.list("nothing") == []
    prod = store.child("prod")
    assert prod.list() == ["a.json", "b.json", "plan.journal/000000001.json", "plan.journal/000000002.json"]
    assert prod.list("plan.journal") == ["plan.journal/000000001.json", "plan.journal/000000002.json"]
    assert prod.child("plan.journal").list() == ["000000001.json", "000000002.json"]
    prod.child("plan.journal").put("000000003.json", b"y")
    assert store.get("prod/plan.journal/000000003.json") is not None
    assert place.reopen().list("prod/plan.journal")[-1] == "prod/plan.journal/000000003.json"


def test_delete_plain_conditional_and_of_a_missing_key(place: Place) -> None:
    store = place.store
    store.put("a.json", b"x")
    store.delete("a.json")
    assert store.get("a.json") is None
    store.delete("a.json")  # gone already: fine
    store.delete("never/was.json")
    version = store.put("b.json", b"one")
    newer = store.put("b.json", b"two")
    with pytest.raises(WriteConflict):
        store.delete("b.json", if_match=version)
    stored = store.get("b.json")
    assert stored is not None and (stored.data, stored.version) == (b"two", newer)
    store.delete("b.json", if_match=newer)
    assert store.get("b.json") is None
    store.delete("b.json", if_match=newer)  # gone already: fine, whatever the version
    assert store.list() == []


def uses_of(store: StateStore, key: str) -> list[Callable[[], object]]:
    uses: list[Callable[[], object]] = [
        lambda: store.get(key),
        lambda: store.put(key, b"x"),
        lambda: store.put(key, b"x", if_none_match=True),
        lambda: store.delete(key),
        lambda: store.where(key),
        lambda: store.child(key),
    ]
    if key:  # list("") lists the whole store
        uses.append(lambda: store.list(key))
    return uses


def test_keys_that_could_climb_out_hide_or_name_nothing_are_refused(place: Place) -> None:
    store = place.store
    for key in BAD_KEYS:
        for attempt in uses_of(store, key):
            with pytest.raises(InputError) as refused:
                attempt()
            assert refused.value.exit_code == 2, key
    assert store.list() == []  # nothing written (for S3: not even the marker)
    if place.kind == "s3":
        assert place.reopen().get(MARKER_KEY) is None


def race(
    writers: list[StateStore], label: str, write: Callable[[StateStore, bytes], str]
) -> tuple[dict[int, str], list[int]]:
    """Each writer writes `<label> by writer N` at once (started together); who won (their versions), who lost."""
    start = threading.Barrier(len(writers))
    won: dict[int, str] = {}
    lost: list[int] = []

    def attempt(number: int) -> None:
        start.wait()
        try:
            won[number] = write(writers[number], f"{label} by writer {number}".encode())
        except WriteConflict:
            lost.append(number)

    threads = [threading.Thread(target=attempt, args=(number,)) for number in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won, lost


def create(key: str, store: StateStore, data: bytes) -> str:
    return store.put(key, data, if_none_match=True)


def replace(key: str, version: str, store: StateStore, data: bytes) -> str:
    return store.put(key, data, if_match=version)


def test_of_two_racing_writers_exactly_one_wins(place: Place) -> None:
    writers = [place.store, place.reopen()]
    for round_ in range(20):
        key = f"race/{round_:02d}.json"
        for condition in ("create", "replace"):
            read = place.store.get(key)
            if condition == "create":
                assert read is None
                won, lost = race(writers, condition, partial(create, key))
            else:
                assert read is not None
                won, lost = race(writers, condition, partial(replace, key, read.version))
            assert len(won) == 1 and len(lost) == 1, f"round {round_}, {condition}: won {won}, lost {lost}"
            ((winner, version),) = won.items()
            stored = place.store.get(key)
            expected = f"{condition} by writer {winner}".encode()  # new bytes: a content version changes
            assert stored is not None and (stored.data, stored.version) == (expected, version)


def test_where_and_location_name_the_object(place: Place) -> None:
    store = place.store
    child = store.child("prod")
    if isinstance(store, FileStore):
        root = store.root
        assert store.location == str(root)
        assert store.where("prod/plan.json") == str(root / "prod" / "plan.json")
        assert child.location == str(root / "prod") and child.where("plan.json") == str(root / "prod" / "plan.json")
        assert store.local_path("prod/plan.json") == root / "prod" / "plan.json"
        assert not store.shared
        return
    base = store.location
    assert base.startswith("s3://state-") and not base.endswith("/")
    assert base.endswith(f"/{PREFIX}") or base.count("/") == 2
    assert store.where("prod/plan.json") == f"{base}/prod/plan.json"
    assert child.location == f"{base}/prod" and child.where("plan.json") == f"{base}/prod/plan.json"
    assert parse_s3_url(child.where("plan.json")).url() == child.where("plan.json")
    assert store.local_path("prod/plan.json") is None and store.shared


def test_a_key_naming_a_folder_or_under_an_object_is_no_object(place: Place) -> None:
    store = place.store
    store.put("prod/plan.json", b"x")
    assert store.get("prod") is None
    assert store.get("prod/plan.json/inside") is None
    store.delete("prod")
    store.delete("prod/plan.json/inside")
    assert store.list() == ["prod/plan.json"]


# --- FileStore only --------------------------------------------------------------------------------------


def test_the_file_store_writes_files_0600_and_makes_missing_directories_0700(tmp_path: Path) -> None:
    root = tmp_path / "state"
    store = FileStore(root)
    store.put("prod/plan.json", b"x")
    store.put("prod/plan.journal/000000001.json", b"x", if_none_match=True)
    first = store.put("prod/pointer.json", b"x")
    store.put("prod/pointer.json", b"y", if_match=first)
    for key in ("prod/plan.json", "prod/plan.journal/000000001.json", "prod/pointer.json"):
        assert stat.S_IMODE(os.stat(root / key).st_mode) == 0o600, key
    for folder in (root, root / "prod", root / "prod" / "plan.journal"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    assert sorted(os.listdir(root / "prod")) == ["plan.journal", "plan.json", "pointer.json"]  # no temp file left
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o750)
    FileStore(shared).put("a.json", b"x")
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o750  # one it did not create is used as it is


def test_the_file_store_refuses_to_read_what_is_no_regular_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    os.mkfifo(tmp_path / "plan.json")  # opened for reading, a fifo would wait for a writer for ever
    with pytest.raises(InputError, match="not a regular file"):
        store.get("plan.json")
    (tmp_path / "elsewhere.json").write_bytes(b"x")
    (tmp_path / "pointer.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(InputError, match="cannot read"):
        store.get("pointer.json")


# --- the journal of record objects over each store -------------------------------------------------------


def clock() -> str:
    return "2025-03-01T12:00:00.000Z"


def test_object_journal_round_trip(place: Place) -> None:
    journal = ObjectJournal(place.store, "plan-1.journal", "plan-1", clock=clock)
    assert journal.read().records == ()
    journal.append(Event.RUN_STARTED, operation="apply")
    journal.append(Event.STEP_STARTED, "step-1")
    journal.append(Event.STEP_DONE, "step-1", created=True)
    read = ObjectJournal(place.reopen(), "plan-1.journal", "plan-1").read()
    assert [(r.event, r.step, dict(r.detail)) for r in read.records] == [
        (Event.RUN_STARTED, None, {"operation": "apply"}),
        (Event.STEP_STARTED, "step-1", {}),
        (Event.STEP_DONE, "step-1", {"created": True}),
    ]
    assert read.torn_line is None and all(r.plan_id == "plan-1" and r.at == clock() for r in read.records)
    assert place.store.list("plan-1.journal") == [f"plan-1.journal/00000000{n}.json" for n in (1, 2, 3)]
    assert journal.where == place.store.where("plan-1.journal")


def test_a_second_writer_of_one_journal_forks_it_not_and_the_first_records_stand(place: Place) -> None:
    first = ObjectJournal(place.store, "plan-1.journal", "plan-1", clock=clock)
    first.append(Event.RUN_STARTED, operation="apply")
    first.append(Event.STEP_STARTED, "step-1")
    second = ObjectJournal(place.reopen(), "plan-1.journal", "plan-1", clock=clock)  # took over the run
    second.append(Event.RUN_STARTED, operation="apply", resumed=True)
    with pytest.raises(JournalForked) as forked:
        first.append(Event.STEP_DONE, "step-1")  # the first runner writes on: it collides, it does not fork
    assert forked.value.exit_code == 7
    assert place.store.where("plan-1.journal/000000003.json") in str(forked.value)
    with pytest.raises(JournalForked):
        first.append(Event.STEP_DONE, "step-1")  # and keeps colliding
    records = ObjectJournal(place.store, "plan-1.journal", "plan-1").read().records
    assert [(r.event, r.step, dict(r.detail)) for r in records] == [
        (Event.RUN_STARTED, None, {"operation": "apply"}),
        (Event.STEP_STARTED, "step-1", {}),
        (Event.RUN_STARTED, None, {"operation": "apply", "resumed": True}),
    ]


def test_a_journal_missing_a_record_in_the_middle_is_corrupt(place: Place) -> None:
    journal = ObjectJournal(place.store, "plan-1.journal", "plan-1", clock=clock)
    for _ in range(3):
        journal.append(Event.GATE_WAITING, "gate")
    place.store.delete("plan-1.journal/000000002.json")
    with pytest.raises(JournalCorrupt) as corrupt:
        ObjectJournal(place.reopen(), "plan-1.journal", "plan-1").read()
    assert corrupt.value.exit_code == 2 and "record 2 of the journal is missing" in str(corrupt.value)
    place.store.put("plan-1.journal/000000002.json", b"{not json")
    with pytest.raises(JournalCorrupt, match="not a journal record"):
        ObjectJournal(place.store, "plan-1.journal", "plan-1").read()


# --- the lock object over each store ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        self.now += datetime.timedelta(seconds=1)  # every reading later than the last: each renewal differs
        return self.now


def taker(store: StateStore, holder: LeaseHolder, waits: FakeTime | None = None) -> ClusterLease:
    waits = waits or FakeTime()
    return ClusterLease(
        StoreLeases(store),
        "prod",
        holder.plan_id,
        label=lock_label(store),
        clock=Clock(),
        holder=holder,
        renew_in_background=False,
        monotonic=waits.clock,
        sleep=waits.sleep,
    )


def test_the_lock_object_is_taken_refused_to_a_second_taker_while_renewed_and_freed_by_release(place: Place) -> None:
    cluster = place.store.child("prod")
    held = taker(cluster, ME).acquire()
    body = json.loads((cluster.get(LOCK_KEY) or pytest.fail("no lock object")).data)
    assert body["holderIdentity"] == ME.identity() and body["leaseDurationSeconds"] == 60
    assert held.renew()

    class RenewingWhileWatched(FakeTime):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            assert held.renew()  # the holder is alive: it renews while the second taker watches

    watching = RenewingWhileWatched()
    with pytest.raises(ClusterLockedError) as refused:
        taker(place.reopen().child("prod"), OTHER, watching).acquire()
    assert refused.value.exit_code == 7
    assert "pid 4242 on runner-a" in str(refused.value) and "renewed while this run watched it" in str(refused.value)
    assert cluster.where(LOCK_KEY) in str(refused.value)
    assert watching.slept  # it watched before refusing
    assert StoreLeases(cluster).read_lease("", "").holder == ME.identity()  # type: ignore[union-attr]

    held.release()
    assert StoreLeases(cluster).read_lease("", "").holder is None  # type: ignore[union-attr]
    waits = FakeTime()
    with taker(place.reopen().child("prod"), OTHER, waits) as theirs:
        assert waits.slept == [] and theirs.taken_over is None  # free: taken at once
        lease = StoreLeases(cluster).read_lease("", "")
        assert lease is not None and lease.holder == OTHER.identity() and lease.transitions == 1
    assert StoreLeases(cluster).read_lease("", "").holder is None  # type: ignore[union-attr]


def test_a_lock_object_whose_holder_died_on_this_host_is_taken_over_at_once(place: Place) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that no longer exists: a run SIGKILLed here, its lock object left behind
    me = Process.this()
    gone = LeaseHolder.here("plan-killed", Process(me.host, child.pid, me.machine))  # as this version writes it
    taker(place.store.child("prod"), gone).acquire()  # never released
    waits = FakeTime()
    with taker(place.reopen().child("prod"), ME, waits) as held:
        assert waits.slept == []
        assert held.taken_over is not None and held.taken_over.holder == gone.identity()
        assert "is gone" in (held.takeover_message or "")
        lease = StoreLeases(place.store.child("prod")).read_lease("", "")
        assert lease is not None and lease.holder == ME.identity() and lease.transitions == 1


# --- S3 only: what open_s3_store refuses, the marker, encryption -----------------------------------------

s3_only = pytest.mark.integration


def open_at(bucket: str, prefix: str = "", kms_key: str | None = None) -> StateStore:
    return open_s3_store(S3Location(bucket, prefix), region=REGION, profile=None, kms_key=kms_key)


@s3_only
def test_open_refuses_a_missing_bucket_and_creates_none(sandbox_s3: SandboxS3) -> None:
    with pytest.raises(InputError) as refused:
        open_at("no-such-state-bucket")
    assert refused.value.exit_code == 2 and "s3://no-such-state-bucket: no such bucket" in str(refused.value)
    names = [b["Name"] for b in sandbox_s3.s3.list_buckets()["Buckets"]]
    assert "no-such-state-bucket" not in names


@s3_only
@pytest.mark.parametrize("prefix", ["", PREFIX])
def test_open_refuses_a_prefix_holding_another_tools_objects_and_writes_nothing(
    sandbox_s3: SandboxS3, prefix: str
) -> None:
    bucket = sandbox_s3.new_bucket()
    foreign = f"{prefix}/terraform.tfstate".lstrip("/")
    sandbox_s3.s3.put_object(Bucket=bucket, Key=foreign, Body=b"{}")
    with pytest.raises(InputError) as refused:
        open_at(bucket, prefix)
    assert refused.value.exit_code == 2 and "did not write (e.g. terraform.tfstate)" in str(refused.value)
    assert sandbox_s3.keys(bucket) == [foreign]
    if prefix:
        open_at(bucket, f"{prefix}/ours").put("a.json", b"x")  # a prefix of its own beside them is fine
        assert sandbox_s3.keys(bucket) == [f"{prefix}/ours/a.json", f"{prefix}/ours/{MARKER_KEY}", foreign]


@s3_only
@pytest.mark.parametrize("marker", [b'{"schema": "aws-auth-migrate/state/v2"}', b"not json", b"[]"])
def test_open_refuses_a_marker_of_another_schema_and_writes_nothing(sandbox_s3: SandboxS3, marker: bytes) -> None:
    bucket = sandbox_s3.new_bucket()
    key = f"{PREFIX}/{MARKER_KEY}"
    sandbox_s3.s3.put_object(Bucket=bucket, Key=key, Body=marker)
    with pytest.raises(InputError) as refused:
        open_at(bucket, PREFIX)
    assert refused.value.exit_code == 2 and f"reads {STATE_SCHEMA}" in str(refused.value)
    assert sandbox_s3.keys(bucket) == [key]
    assert sandbox_s3.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == marker


@s3_only
@pytest.mark.parametrize("prefix", ["", PREFIX])
def test_the_marker_is_written_with_the_first_put_and_never_by_reads(sandbox_s3: SandboxS3, prefix: str) -> None:
    bucket = sandbox_s3.new_bucket()
    store = open_at(bucket, prefix)
    store.get("prod/plan.json")
    store.list()
    store.child("prod").list()
    store.delete("prod/plan.json")
    assert sandbox_s3.keys(bucket) == []
    store.child("prod").put("plan.json", b"x")
    marker = f"{prefix}/{MARKER_KEY}".lstrip("/")
    assert sandbox_s3.keys(bucket) == sorted([marker, f"{prefix}/prod/plan.json".lstrip("/")])
    body = json.loads(sandbox_s3.s3.get_object(Bucket=bucket, Key=marker)["Body"].read())
    assert body["schema"] == STATE_SCHEMA
    assert store.list() == ["prod/plan.json"]  # the marker is the store's own, not one of its keys
    again = open_at(bucket, prefix)  # ours now: opened again, and written to without a second marker
    again.put("prod/other.json", b"y")
    assert store.list() == ["prod/other.json", "prod/plan.json"]


@s3_only
@pytest.mark.parametrize("kms_key", [None, "alias/aws-auth-migrate-state"])
def test_every_object_is_written_with_server_side_encryption(sandbox_s3: SandboxS3, kms_key: str | None) -> None:
    bucket = sandbox_s3.new_bucket()
    store = open_at(bucket, PREFIX, kms_key)
    store.put("prod/plan.json", b"x")
    version = store.put("prod/lock.json", b"x", if_none_match=True)
    store.put("prod/lock.json", b"y", if_match=version)
    keys = sandbox_s3.keys(bucket)
    assert len(keys) == 3
    for key in keys:
        head = sandbox_s3.s3.head_object(Bucket=bucket, Key=key)
        if kms_key is None:
            assert head["ServerSideEncryption"] == "AES256", key
        else:
            assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms_key), key
