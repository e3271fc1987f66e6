"""The journal of record objects (a shared state's) commits concurrent appends in groups: records appended while
an object is being written go out together in the next one, so the units in flight share a round trip rather
than queueing for one each (issue 21: S3 state must not pace the run). The guarantees stay: an append returns
only once its record is stored, the objects have no gaps, and a second writer still collides."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from migrator.ports import StateStore, StoredObject
from migrator.run.journal import Event, JournalCorrupt, JournalForked, ObjectJournal
from migrator.state.files import FileStore
from tests.support.waiting import wait_until

FOLDER = "plan-1.journal"
UNITS = 8  # as --max-concurrency's default


def clock() -> str:
    return "2025-03-01T12:00:00.000Z"


class HeldWrite:
    """A store whose next write after `hold()` waits until `release` (a PUT in flight); records every write."""

    def __init__(self, inner: StateStore) -> None:
        self.inner = inner
        self.release = threading.Event()
        self.held = False  # the held write has begun
        self.written: list[tuple[str, bytes]] = []
        self._hold = False

    def hold(self) -> None:
        self._hold = True

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        if self._hold:
            self._hold, self.held = False, True
            assert self.release.wait(timeout=300)
        version = self.inner.put(key, data, if_none_match=if_none_match, if_match=if_match)
        self.written.append((key, data))
        return version

    def get(self, key: str) -> StoredObject | None:
        return self.inner.get(key)

    def list(self, prefix: str = "") -> Sequence[str]:
        return self.inner.list(prefix)


def append_in_threads(journal: ObjectJournal, store: HeldWrite) -> tuple[list[BaseException], list[int]]:
    """One append from each of UNITS threads while the first one's object is held in flight; the errors, and the
    numbers of the appends that returned (each checked to be stored by then)."""
    errors: list[BaseException] = []
    returned: list[int] = []
    lock = threading.Lock()

    def unit(number: int) -> None:
        try:
            journal.append(Event.STEP_DONE, f"step-{number}")
        except BaseException as error:
            with lock:
                errors.append(error)
            return
        stored = b"".join(data for _, data in store.written)
        with lock:
            if f'"step-{number}"'.encode() in stored:  # durable before append returned
                returned.append(number)

    store.hold()
    first = threading.Thread(target=unit, args=(0,))
    first.start()
    wait_until("the first write in flight", lambda: store.held)
    others = [threading.Thread(target=unit, args=(n,)) for n in range(1, UNITS)]
    for thread in others:
        thread.start()
    # white-box: the records that arrived during the write wait for the next object
    wait_until("the other appends waiting", lambda: len(journal._gathering.lines) == UNITS - 1)
    store.release.set()
    for thread in (first, *others):
        thread.join(timeout=300)
    return errors, returned


def read_back(tmp_path: Path) -> list[tuple[Event, str | None]]:
    return [(r.event, r.step) for r in ObjectJournal(FileStore(tmp_path), FOLDER, "plan-1").read().records]


def test_appends_during_a_write_go_out_together_in_the_next_object(tmp_path: Path) -> None:
    store = HeldWrite(FileStore(tmp_path))
    journal = ObjectJournal(store, FOLDER, "plan-1", clock=clock)
    errors, returned = append_in_threads(journal, store)
    assert errors == [] and sorted(returned) == list(range(UNITS))
    # two round trips for eight records: the first alone, the seven that waited for it together
    assert [key for key, _ in store.written] == [f"{FOLDER}/000000001.json", f"{FOLDER}/000000002.json"]
    assert store.written[1][1].count(b"\n") == UNITS - 2  # one record per line
    assert sorted(str(step) for _, step in read_back(tmp_path)) == sorted(f"step-{n}" for n in range(UNITS))
    journal.append(Event.RUN_FINISHED, result="completed")  # alone: one record, one object, as before
    assert store.written[-1][0] == f"{FOLDER}/000000003.json"
    assert read_back(tmp_path)[-1] == (Event.RUN_FINISHED, None)


def test_a_second_writer_collides_with_every_append_of_a_group(tmp_path: Path) -> None:
    store = HeldWrite(FileStore(tmp_path))
    journal = ObjectJournal(store, FOLDER, "plan-1", clock=clock)
    journal.append(Event.RUN_STARTED, operation="apply")
    other = ObjectJournal(FileStore(tmp_path), FOLDER, "plan-1", clock=clock)  # took over the run
    other.append(Event.RUN_STARTED, operation="apply", resumed=True)
    errors, returned = append_in_threads(journal, store)
    assert returned == []  # no append returned as if its record were stored
    assert len(errors) == UNITS and all(isinstance(e, JournalForked) for e in errors)
    assert read_back(tmp_path) == [(Event.RUN_STARTED, None), (Event.RUN_STARTED, None)]


def test_a_damaged_line_of_an_object_is_named_and_an_empty_line_is_damage(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    line = '{"at":"2025-03-01T12:00:00.000Z","event":"run-started","planId":"plan-1"}'
    store.put(f"{FOLDER}/000000001.json", f"{line}\n{line}".encode())
    assert len(ObjectJournal(store, FOLDER, "plan-1").read().records) == 2
    for damaged in (f"{line}\n{{not json", f"{line}\n"):
        store.put(f"{FOLDER}/000000002.json", damaged.encode())
        with pytest.raises(JournalCorrupt, match=r"000000002\.json:2: not a journal record"):
            ObjectJournal(store, FOLDER, "plan-1").read()
