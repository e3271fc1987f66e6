"""Where a cluster's runs keep their state (docs/run-state.md, "Layout"), on plain data: in an S3 state every
cluster's folder is its identity, `<account>/<region>/<name>/`, for a single run as for a batch, so that the two
meet the same lock object and same-named clusters of two accounts never share one; a local state keeps
`<state>/<name>/` for single runs. A shared state is tests/unit/test_state_adversarial.py's SharedStore (a
FileStore seen as S3 is)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from migrator.app import PlanRun
from migrator.app.batch import cluster_store, open_cluster_run
from migrator.app.state import cluster_folder, write_plan_to
from migrator.errors import InputError
from migrator.fleet.inventory import InventoryCluster
from migrator.model import AuthMode
from migrator.plan.planfile import plan_name, write_plan
from migrator.run.lockobject import lock_label
from migrator.state.files import FileStore
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT
from tests.unit.fake_cluster import make_plan, small_cluster
from tests.unit.test_state_adversarial import SharedStore


def inventory_cluster(account: str | None = ACCOUNT, name: str = "prod") -> InventoryCluster:
    return InventoryCluster(name, "us-east-1", account, None, None, AuthMode.API, False, 8)


def test_a_single_run_of_a_local_plan_and_the_batch_run_of_its_cluster_share_the_lock_object(tmp_path: Path) -> None:
    state = SharedStore(FileStore(tmp_path / "state"))
    plan = make_plan(small_cluster())
    batch_folder = cluster_store(inventory_cluster(), state)
    write_plan_to(batch_folder, plan)
    batch_folder.put("batch.current", f"{plan_name(plan)}\n".encode())
    local = write_plan(plan, tmp_path / "downloaded.plan.yaml")

    single = PlanRun.open(local, state)
    batch = open_cluster_run(inventory_cluster(), state)

    assert (
        lock_label(single.store)
        == lock_label(batch.store)
        == str(tmp_path / f"state/{ACCOUNT}/us-east-1/prod/lock.json")
    )
    assert single.journal.exists() is batch.journal.exists() is False
    assert single.store.location == batch.store.location  # one journal, one backup


def test_same_named_clusters_of_two_accounts_have_two_folders_in_a_shared_state(tmp_path: Path) -> None:
    state = SharedStore(FileStore(tmp_path))
    plan = make_plan(small_cluster())
    other = dataclasses.replace(plan.cluster, account=OTHER_ACCOUNT)
    assert cluster_folder(state, plan.cluster).location == str(tmp_path / f"{ACCOUNT}/us-east-1/prod")
    assert cluster_folder(state, other).location == str(tmp_path / f"{OTHER_ACCOUNT}/us-east-1/prod")


def test_a_local_state_keeps_its_layout(tmp_path: Path) -> None:
    plan = make_plan(small_cluster())
    local = write_plan(plan, tmp_path / "p.plan.yaml")
    assert PlanRun.open(local, FileStore(tmp_path / "plans")).store.location == str(tmp_path / "plans/prod")
    assert PlanRun.open(local).store.location == str(tmp_path)  # no state: the plan's own folder
    assert cluster_store(inventory_cluster(None), FileStore(tmp_path)).location == str(
        tmp_path / "no-account/us-east-1/prod"
    )


def test_a_plan_without_a_region_has_no_folder_in_a_shared_state_and_an_inventory_cluster_without_an_account_neither(
    tmp_path: Path,
) -> None:
    plan = make_plan(small_cluster())
    offline = dataclasses.replace(plan.cluster, region=None)
    state = SharedStore(FileStore(tmp_path))
    with pytest.raises(InputError, match="names no region") as refused:
        cluster_folder(state, offline)
    assert refused.value.exit_code == 2
    with pytest.raises(InputError, match="names no account"):
        cluster_store(inventory_cluster(None), state)
    assert list(tmp_path.iterdir()) == []
