"""The journal: the checkpoint of a plan's runs, one record per event, durable before the run goes on.

It lives in the run's store beside the plan. In a local directory it is `<planId>.journal.jsonl`, one JSON line
per record, fsynced (FileJournal); in a shared store (S3) records go to numbered objects (one each, or those
appended together in one), created with if-none-match, so that two writers collide instead of forking it
(ObjectJournal). Resume, rollback and `status` read it; only the executor writes it. A crash can tear the
file's last line (a partial write): reading tolerates that and says so, and the next append first cuts the torn
bytes off, since a torn line records nothing that happened (the event it would have recorded is re-derived by
the next run's checks).

`fold` turns the records into each step's state. The one subtle field is `attempted`: the step's mutating
call may have reached AWS since its last undo, without an outcome recorded. A resumed run uses it to tell an
entry it made itself before a crash ("recovered", ours to roll back) from one somebody else made ("adopted",
never deleted by rollback).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol

from migrator.errors import ClusterLockedError, InputError, WriteConflict
from migrator.files import fsync_directory, open_private_append, private_dir
from migrator.ports import StateStore


class Event(StrEnum):
    RUN_STARTED = "run-started"
    STEP_STARTED = "step-started"
    STEP_DONE = "step-done"
    STEP_FAILED = "step-failed"
    STEP_UNDONE = "step-undone"
    GATE_WAITING = "gate-waiting"
    RUN_FINISHED = "run-finished"


class Phase(StrEnum):
    PENDING = "pending"
    STARTED = "started"
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Record:
    event: Event
    at: str
    plan_id: str
    step: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> str:
        data: dict[str, Any] = {"at": self.at, "event": self.event.value, "planId": self.plan_id}
        if self.step is not None:
            data["step"] = self.step
        if self.detail:
            data["detail"] = dict(self.detail)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> Record:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        step, detail = data.get("step"), data.get("detail") or {}
        # what fold() keys steps by and reads details from: anything else was edited, and is not guessed at
        if not isinstance(step, str | None):
            raise ValueError(f"its step is {type(step).__name__}, not a step id")
        if not isinstance(detail, dict):
            raise ValueError(f"its detail is {type(detail).__name__}, not an object")
        return Record(
            event=Event(data["event"]),
            at=str(data["at"]),
            plan_id=str(data["planId"]),
            step=step,
            detail=dict(detail),
        )


@dataclass(frozen=True)
class JournalRead:
    records: tuple[Record, ...]
    torn_line: str | None = None  # the unfinished last line a crash left, if any

    @property
    def torn_message(self) -> str | None:
        if self.torn_line is None:
            return None
        shown = self.torn_line if len(self.torn_line) <= 80 else self.torn_line[:77] + "..."
        return f"the journal's last line was cut off by a crash and is ignored: {shown!r}"


class JournalCorrupt(InputError):
    """A line before the last one is not a record: not a crash artifact, so nothing is guessed."""


def parse_journal(text: str, label: str = "journal") -> JournalRead:
    lines = text.split("\n")
    # A complete file ends with "\n", so its last element is "". Anything else there was torn mid-write.
    tail = lines.pop()
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(Record.from_json(line))
        except (ValueError, KeyError, TypeError, RecursionError) as error:  # RecursionError: nesting bombs
            raise JournalCorrupt(
                f"{label}:{number}: not a journal record ({error})",
                hint="the journal was edited or damaged; `status` and resume need it intact",
            ) from None
    if tail.strip():
        try:
            records.append(Record.from_json(tail))  # the newline alone was lost: the record is whole
        except (ValueError, KeyError, TypeError, RecursionError):
            return JournalRead(tuple(records), torn_line=tail)
    return JournalRead(tuple(records))


class Journal(Protocol):
    """A plan's journal: `append` returns once the record is durable; `read` gives every record, oldest first."""

    plan_id: str

    @property
    def where(self) -> str: ...
    def exists(self) -> bool:
        """Whether any run wrote to it (even a record a crash cut short)."""
        ...

    def read(self) -> JournalRead: ...
    def append(self, event: Event, step: str | None = None, **detail: Any) -> Record: ...
    def close(self) -> None: ...


def journal_for(store: StateStore, plan_id: str) -> Journal:
    """The plan's journal in a run's store: the append-only file of a local directory (`<planId>.journal.jsonl`),
    record objects elsewhere (`<planId>.journal/<sequence>.json`)."""
    path = store.local_path(journal_name(plan_id))
    if path is not None:
        return FileJournal(path, plan_id)
    return ObjectJournal(store, f"{plan_id}.journal", plan_id)


JOURNAL_SUFFIX = ".journal.jsonl"


def journal_name(plan_id: str) -> str:
    return f"{plan_id}{JOURNAL_SUFFIX}"


class FileJournal:
    """Appends are serialized (units run in threads) and each is on disk before `append` returns."""

    def __init__(self, path: Path, plan_id: str, *, clock: Callable[[], str] = utc_now) -> None:
        self.path = path
        self.plan_id = plan_id
        self._clock = clock
        self._lock = threading.Lock()
        self._handle: IO[bytes] | None = None

    @property
    def where(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> JournalRead:
        try:
            text = self.path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return JournalRead(())
        return parse_journal(text, str(self.path))

    def append(self, event: Event, step: str | None = None, **detail: Any) -> Record:
        record = Record(event, self._clock(), self.plan_id, step, detail)
        line = (record.to_json() + "\n").encode("utf-8")
        with self._lock:
            handle = self._open()
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return record

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def _open(self) -> IO[bytes]:
        if self._handle is not None:
            return self._handle
        private_dir(self.path.parent)
        created = not self.path.exists()
        # 0600, never through a symlink or a device: the journal names every principal the run touches
        handle = open(self.path, "ab", opener=lambda path, _flags: open_private_append(Path(path)))  # noqa: SIM115
        if created:
            fsync_directory(self.path.parent)  # the new file's name must survive a crash too
        else:
            _cut_torn_tail(handle)
        self._handle = handle
        return handle


def _cut_torn_tail(handle: IO[bytes]) -> None:
    """Make the file end at a record boundary before appending to it."""
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        return
    with open(handle.name, "rb") as reader:
        content = reader.read()
    if content.endswith(b"\n"):
        return
    start = content.rfind(b"\n") + 1
    try:
        Record.from_json(content[start:].decode("utf-8"))
    except (ValueError, KeyError, TypeError):
        os.truncate(handle.name, start)  # torn: drop the fragment
    else:
        handle.write(b"\n")  # whole record, only its newline was lost
    handle.flush()
    os.fsync(handle.fileno())


_RECORD_NAME = re.compile(r"([0-9]{9})\.json")
READ_PARALLELISM = 16  # GETs in flight when a journal of record objects is read
_DAMAGED = "the journal was edited or damaged; `status` and resume need it intact"


@dataclass
class _Batch:
    """Records that go out in one object: those appended while the object before it was being written."""

    lines: list[str] = field(default_factory=list)
    written: bool = False  # its write is over (stored, or failed with `error`)
    error: BaseException | None = None


class ObjectJournal:
    """A journal as numbered objects, `<folder>/<sequence>.json` (000000001, 000000002, ...), each holding one or
    more records (one JSON object per line) and created with if-none-match: a store write is whole or absent
    (nothing is ever torn), and a second writer of the same journal gets a WriteConflict instead of forking the
    history. Writes are serialized: the next sequence number is taken only once the previous object is stored, so
    the objects have no gaps, and a runner that lost its lock and writes on collides with the one that took over
    rather than filling a gap in its past.

    Appends are committed in groups: a record appended while an object is being written waits for it, then goes
    out in the next object with every record that arrived meanwhile. Each append still returns only once the
    object holding its record is stored, but the units in flight share a round trip instead of queueing for one
    each: with one PUT per record, S3's round trip (~50 ms) capped a run at ~17 records a second, below what
    EKS's rate limit allows (bench/state.py). One appender at a time writes one record per object, as before."""

    def __init__(self, store: StateStore, folder: str, plan_id: str, *, clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.folder = folder
        self.plan_id = plan_id
        self._clock = clock
        self._turn = threading.Condition()  # guards the two fields below; notified when a write is over
        self._gathering = _Batch()  # the next object's records
        self._writing = False  # an object is on its way (the only write in flight)
        self._next: int | None = None  # touched by the one writer only

    @property
    def where(self) -> str:
        return self.store.where(self.folder)

    def exists(self) -> bool:
        return bool(self.store.list(self.folder))

    def _sequences(self) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        for key in self.store.list(self.folder):
            name = key.removeprefix(f"{self.folder}/")
            match = _RECORD_NAME.fullmatch(name)
            if match is None:
                raise JournalCorrupt(f"{self.store.where(key)}: not a journal record's name", hint=_DAMAGED)
            found.append((int(match.group(1)), key))
        return sorted(found)

    def read(self) -> JournalRead:
        found = self._sequences()
        for expected, (sequence, key) in enumerate(found, start=1):
            if sequence != expected:
                raise JournalCorrupt(
                    f"{self.store.where(key)}: record {expected} of the journal is missing", hint=_DAMAGED
                )
        with ThreadPoolExecutor(max_workers=READ_PARALLELISM) as pool:
            objects = list(pool.map(self.store.get, [key for _, key in found]))
        records: list[Record] = []
        for (_, key), stored in zip(found, objects, strict=True):
            if stored is None:
                raise JournalCorrupt(f"{self.store.where(key)}: deleted while the journal was read", hint=_DAMAGED)
            records.extend(_object_records(self.store.where(key), stored.data))
        with self._turn:
            if self._next is None and not self._writing:
                # This writer builds on what it read: a record another runner writes after this read (one that lost
                # its lock and writes on) makes our next write collide rather than follow a record we never saw.
                self._next = len(found) + 1
        return JournalRead(tuple(records))

    def append(self, event: Event, step: str | None = None, **detail: Any) -> Record:
        record = Record(event, self._clock(), self.plan_id, step, detail)
        with self._turn:
            batch = self._gathering
            batch.lines.append(record.to_json())
            while self._writing and not batch.written:  # an object is on its way: ours goes in the next one
                self._turn.wait()
            writes = not batch.written  # nobody writes and ours is not out: this thread writes it, with the rest
            if writes:
                self._writing = True
                self._gathering = _Batch()
        if writes:
            try:
                self._write("\n".join(batch.lines).encode("utf-8"))
            except BaseException as error:  # the batch's every record failed with it (none is known stored)
                batch.error = error
                raise
            finally:
                with self._turn:
                    batch.written, self._writing = True, False
                    self._turn.notify_all()
        elif batch.error is not None:
            raise batch.error
        return record

    def _write(self, data: bytes) -> None:
        """The next object, created only if absent; the sequence moves on only once it is stored (no gaps)."""
        if self._next is None:
            found = self._sequences()
            self._next = found[-1][0] + 1 if found else 1
        key = f"{self.folder}/{self._next:09d}.json"
        try:
            self.store.put(key, data, if_none_match=True)
        except WriteConflict:
            raise JournalForked(
                f"{self.store.where(key)}: another runner wrote this record of the plan's journal first: it is "
                "running this plan too; this run stops so that the journal keeps one history",
                hint="let that run finish; `status` shows the journal",
            ) from None
        self._next += 1

    def close(self) -> None:
        pass


def _object_records(where: str, data: bytes) -> list[Record]:
    """The records of one journal object, one per line (split at "\n" only: JSON escapes it, not U+2028)."""
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise JournalCorrupt(f"{where}: not a journal record ({error})", hint=_DAMAGED) from None
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(Record.from_json(line))
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            at = f"{where}:{number}" if len(lines) > 1 else where
            raise JournalCorrupt(f"{at}: not a journal record ({error})", hint=_DAMAGED) from None
    return records


class JournalForked(ClusterLockedError):
    """Another runner appended to the journal this run writes (exit 7): two runs of one plan at once."""


# --- folding ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepState:
    phase: Phase = Phase.PENDING
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)
    error: str | None = None
    attempted: bool = False  # see the module docstring

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def created(self) -> bool:
        """This plan's run made the change (not adopted): rollback may undo it."""
        return self.done and bool(self.detail.get("created") or self.detail.get("associated"))


@dataclass(frozen=True)
class JournalState:
    steps: Mapping[str, StepState]
    runs: int = 0
    last_result: str | None = None
    waiting_gate: str | None = None
    open_run: bool = False  # the last run-started has no run-finished: it crashed (or is running)
    torn_message: str | None = None

    def of(self, step_id: str) -> StepState:
        return self.steps.get(step_id, StepState())

    @property
    def any_progress(self) -> bool:
        return any(s.phase is not Phase.PENDING or s.attempted for s in self.steps.values())

    def all_done(self, step_ids: Iterable[str]) -> bool:
        return all(self.of(i).done for i in step_ids)


def fold(records: Sequence[Record], torn_message: str | None = None) -> JournalState:
    """The state of each step after these records, oldest first. Pure."""
    steps: dict[str, StepState] = {}
    runs = 0
    last_result: str | None = None
    waiting_gate: str | None = None
    open_run = False
    for record in records:
        current = steps.get(record.step or "", StepState())
        if record.event is Event.RUN_STARTED:
            runs += 1
            open_run = True
            waiting_gate = None
        elif record.event is Event.RUN_FINISHED:
            open_run = False
            last_result = str(record.detail.get("result", "")) or None
        elif record.event is Event.GATE_WAITING:
            waiting_gate = record.step
        elif record.step is None:
            continue
        elif record.event is Event.STEP_STARTED:
            # what the step recorded as it started (e.g. the entries before a mode switch) joins its detail
            steps[record.step] = StepState(Phase.STARTED, {**current.detail, **record.detail}, None, attempted=True)
        elif record.event is Event.STEP_DONE:
            steps[record.step] = StepState(Phase.DONE, dict(record.detail), None, attempted=False)
        elif record.event is Event.STEP_FAILED:
            # a failure does not prove the call never reached AWS: `attempted` carries over
            error = str(record.detail.get("error", ""))
            steps[record.step] = replace(current, phase=Phase.FAILED, error=error)
        elif record.event is Event.STEP_UNDONE:
            steps[record.step] = StepState(Phase.UNDONE, dict(record.detail), None, attempted=False)
    return JournalState(steps, runs, last_result, waiting_gate, open_run, torn_message)


def read_state(journal: Journal) -> JournalState:
    read = journal.read()
    return fold(read.records, read.torn_message)
