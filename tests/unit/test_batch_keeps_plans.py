"""`batch plan` keeps a cluster's current plan while a run of it is unfinished (issue 20, defect 7): the rule,
from journals the executor really wrote (against the in-memory fake), without planning anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.app.batch import POINTER, _kept_plan, cluster_store
from migrator.app.planning import open_plan, plan_id_of
from migrator.app.state import write_plan_to
from migrator.errors import InputError, RemoteError
from migrator.fleet.inventory import InventoryCluster
from migrator.fleet.report import Outcome
from migrator.model import AuthMode
from migrator.run.observer import RunResult
from migrator.state.files import FileStore
from tests.support.poll import FAST
from tests.unit.fake_cluster import Crash, FakeCluster, make_plan, small_cluster
from tests.unit.runner import Runner

BOTH = frozenset({AuthMode.API_AND_CONFIG_MAP, AuthMode.API})
FIRST = frozenset({AuthMode.API_AND_CONFIG_MAP})


def _fleet(out: Path) -> tuple[FakeCluster, InventoryCluster, Path]:
    """A cluster planned as `batch plan` leaves it: its plan in its folder, named by `batch.current`."""
    fake = small_cluster()
    cluster = InventoryCluster(fake.name, fake.region, fake.account, None, None, AuthMode.API, False, 1)
    plan = make_plan(fake, AuthMode.API)
    store = cluster_store(cluster, FileStore(out))
    write_plan_to(store, plan)
    store.put(POINTER, f"{plan_id_of(plan)}.plan.yaml\n".encode())
    folder = store.local_path(POINTER)
    assert folder is not None
    return fake, cluster, folder.parent


def _runner(fake: FakeCluster, folder: Path, approvals: frozenset[AuthMode] = frozenset()) -> Runner:
    """The saved plan run from its folder, as `batch apply` and `batch rollback` run it."""
    plan = open_plan(folder / (folder / POINTER).read_text().strip())
    return Runner(plan, fake, folder, poll=FAST, max_concurrency=1, approvals=approvals)


def test_a_plan_that_changed_nothing_yet_is_replaced(tmp_path: Path) -> None:
    fake, cluster, folder = _fleet(tmp_path)
    assert _kept_plan(cluster, FileStore(tmp_path)) is None
    # Nobody approved the first gate: only the backup of aws-auth was made, which changes nothing on the cluster.
    report = _runner(fake, folder).apply()
    assert report.result is RunResult.STOPPED_AT_GATE and report.step("01-backup-aws-auth").status.value == "done"
    assert _kept_plan(cluster, FileStore(tmp_path)) is None


def test_a_plan_past_its_first_gate_is_kept_until_rolled_back(tmp_path: Path) -> None:
    fake, cluster, folder = _fleet(tmp_path)
    runner = _runner(fake, folder, FIRST)
    assert runner.apply().result is RunResult.STOPPED_AT_GATE
    kept = _kept_plan(cluster, FileStore(tmp_path))
    assert kept is not None and kept.outcome is Outcome.FAILED and not kept.ok
    assert kept.error is not None and (kept.error.type, kept.error.exit_code) == ("RunInProgressError", 7)
    assert kept.plan_id == runner.run.plan_id and kept.gates_passed == ("API_AND_CONFIG_MAP",)
    assert kept.message.startswith(f"cluster prod: not planned again: the run of its plan {runner.run.plan_id} ")
    assert "has not finished (" in kept.message and "waiting at gate" in kept.message
    assert kept.message.endswith("finish it with batch apply, or undo it with batch rollback, then plan again")

    assert runner.rollback().result is RunResult.ROLLED_BACK
    assert _kept_plan(cluster, FileStore(tmp_path)) is None  # its entries are undone; the one-way switch is kept


def test_a_finished_plan_is_replaced(tmp_path: Path) -> None:
    fake, cluster, folder = _fleet(tmp_path)
    assert _runner(fake, folder, BOTH).apply().result is RunResult.COMPLETED
    assert _kept_plan(cluster, FileStore(tmp_path)) is None


def test_a_run_applied_again_after_its_rollback_is_unfinished_again(tmp_path: Path) -> None:
    fake, cluster, folder = _fleet(tmp_path)
    runner = _runner(fake, folder, FIRST)
    runner.apply()
    runner.rollback()
    assert runner.apply().result is RunResult.STOPPED_AT_GATE
    assert _kept_plan(cluster, FileStore(tmp_path)) is not None


def test_a_killed_run_and_a_failed_rollback_keep_the_plan(tmp_path: Path) -> None:
    fake, cluster, folder = _fleet(tmp_path)
    fake.crash("create_entry", 2, after=True)
    with pytest.raises(Crash):
        _runner(fake, folder, BOTH).apply()
    fake.revive()
    kept = _kept_plan(cluster, FileStore(tmp_path))
    assert kept is not None and "the last run stopped without finishing" in kept.message

    fake.reset_calls()
    fake.fail("delete_entry", 1, RemoteError("EKS said no"))
    assert _runner(fake, folder).rollback().result is RunResult.FAILED
    assert _kept_plan(cluster, FileStore(tmp_path)) is not None


def test_a_plan_that_cannot_be_read_is_replaced_only_when_it_never_ran(tmp_path: Path) -> None:
    _, cluster, folder = _fleet(tmp_path)
    plan_file = folder / (folder / POINTER).read_text().strip()
    plan_file.write_text(plan_file.read_text().replace("us-east-1", "us-east-2"))  # edited: refused by its hash
    assert _kept_plan(cluster, FileStore(tmp_path)) is None
    journal = plan_file.with_name(plan_file.name.removesuffix(".plan.yaml") + ".journal.jsonl")
    journal.write_text("")
    with pytest.raises(InputError):
        _kept_plan(cluster, FileStore(tmp_path))
