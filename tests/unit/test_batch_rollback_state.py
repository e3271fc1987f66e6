"""`batch rollback` reads every selected cluster's state before it rolls any back: a cluster whose state cannot be
read (S3 refuses its folder: a least-privilege policy of other clusters' folders) is that cluster's failed entry,
never the end of the whole batch (the others are still reported, and rolled back)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migrator.app.batch import POINTER, BatchSettings, batch_rollback, cluster_store
from migrator.app.planning import plan_id_of
from migrator.app.state import write_plan_to
from migrator.errors import RemoteError
from migrator.fleet.inventory import InventoryCluster
from migrator.fleet.report import Outcome
from migrator.model import AuthMode
from migrator.ports import StateStore, StoredObject
from migrator.state.files import FileStore
from migrator.state.keys import join
from tests.unit.fake_cluster import make_plan, small_cluster


class Refusing:
    """A state whose objects under `denied` answer access denied, as S3 does outside what a policy grants."""

    shared = False

    def __init__(self, inner: StateStore, denied: str, prefix: str = "") -> None:
        self.inner, self.denied, self.prefix = inner, denied, prefix

    @property
    def location(self) -> str:
        return self.inner.location

    def where(self, key: str) -> str:
        return self.inner.where(key)

    def child(self, prefix: str) -> StateStore:
        return Refusing(self.inner.child(prefix), self.denied, join(self.prefix, prefix))

    def _check(self, key: str) -> None:
        if join(self.prefix, key).startswith(self.denied):
            raise RemoteError(f"GetObject {self.where(key)}: access denied (AccessDenied)")

    def get(self, key: str) -> StoredObject | None:
        self._check(key)
        return self.inner.get(key)

    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        self._check(key)
        return self.inner.put(key, data, if_none_match=if_none_match, if_match=if_match)

    def list(self, prefix: str = "") -> Sequence[str]:
        self._check(prefix)
        return self.inner.list(prefix)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self._check(key)
        self.inner.delete(key, if_match=if_match)

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)


def test_a_cluster_whose_state_is_refused_fails_alone_and_the_others_are_still_reported(tmp_path: Path) -> None:
    files = FileStore(tmp_path)
    clusters = []
    for index, name in enumerate(("readable", "refused")):
        fake = small_cluster(name=name)
        cluster = InventoryCluster(fake.name, fake.region, fake.account, None, None, AuthMode.API, False, index)
        plan = make_plan(fake, AuthMode.API)
        folder = cluster_store(cluster, files)
        write_plan_to(folder, plan)
        folder.put(POINTER, f"{plan_id_of(plan)}.plan.yaml\n".encode())
        clusters.append(cluster)
    state = Refusing(files, clusters[1].directory)

    report = batch_rollback(clusters, BatchSettings(state=state))

    readable, refused = report.clusters
    assert (readable.name, readable.outcome) == ("readable", Outcome.NOT_STARTED)  # never applied: nothing to undo
    assert (refused.name, refused.outcome) == ("refused", Outcome.FAILED)
    assert refused.error is not None and refused.error.exit_code == 5 and "access denied" in refused.message
    assert report.exit_code == 5
