"""The sandbox's Leases through the tool's own Kubernetes gateway (the real kubernetes client over HTTP):
create refuses an existing one (409), updates and deletes against a stale resourceVersion are refused (409),
and reads and writes need an RBAC grant (403 without), as for ConfigMaps."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from migrator.errors import ConflictError, ForbiddenError
from migrator.ports import KubeGateway, LeaseState
from migrator.run.lease import LEASE_NAME, LEASE_NAMESPACE
from migrator.sandbox.kube import store as kube_store
from migrator.sandbox.scenario import load_scenario
from migrator.sandbox.server import Sandbox
from migrator.wiring.connect import ConnectOptions, connect
from tests.cli.conftest import EXAMPLES
from tests.integration.conftest import SandboxFactory

pytestmark = pytest.mark.integration

DEVELOPER = "arn:aws:iam::111122223333:role/Developer"
NOW = datetime.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=datetime.UTC)


def gateway(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, credentials: dict[str, str] | None = None
) -> KubeGateway:
    for name, value in {**sandbox.env(), **(credentials or {})}.items():
        monkeypatch.setenv(name, value)
    return connect("team", ConnectOptions("eu-west-1")).kube


def lease(holder: str) -> LeaseState:
    return LeaseState(LEASE_NAMESPACE, LEASE_NAME, holder, 60, NOW, NOW)


def test_lease_round_trip_and_optimistic_concurrency(
    make_sandbox: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube = gateway(make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml")), monkeypatch)
    assert kube.read_lease(LEASE_NAMESPACE, LEASE_NAME) is None
    made = kube.create_lease(lease("a"))
    assert made.resource_version and (made.holder, made.duration_seconds, made.renewed_at) == ("a", 60, NOW)
    assert kube.read_lease(LEASE_NAMESPACE, LEASE_NAME) == made
    with pytest.raises(ConflictError):
        kube.create_lease(lease("b"))  # 409 AlreadyExists: two creators cannot both win
    renewed = kube.update_lease(dataclasses.replace(made, renewed_at=NOW + datetime.timedelta(seconds=20)))
    assert renewed.resource_version != made.resource_version
    with pytest.raises(ConflictError):
        kube.update_lease(dataclasses.replace(made, holder="b"))  # 409: written against a stale version
    with pytest.raises(ConflictError):
        kube.delete_lease(made)  # 409: precondition on the stale version
    kube.delete_lease(renewed)
    assert kube.read_lease(LEASE_NAMESPACE, LEASE_NAME) is None
    kube.delete_lease(renewed)  # gone already: fine


def test_lease_needs_an_rbac_grant(make_sandbox: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    developer = gateway(sandbox, monkeypatch, sandbox.credentials_for(DEVELOPER, "dev"))
    # The developer's group app-developers is bound to nothing: reads are authorized like writes.
    with pytest.raises(ForbiddenError, match="403"):
        developer.read_lease(LEASE_NAMESPACE, LEASE_NAME)
    with pytest.raises(ForbiddenError, match="403"):
        developer.create_lease(lease("dev"))
    # The upstream `edit` ClusterRole (aggregate-to-edit) grants leases; bound in kube-system, it is enough.
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "developers-edit", "namespace": LEASE_NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "app-developers"}],
    }
    cluster = sandbox.world.cluster("111122223333", "eu-west-1", "team")
    assert cluster is not None
    with sandbox.world.lock:
        kube_store.seed(cluster, [binding])
    assert developer.read_lease(LEASE_NAMESPACE, LEASE_NAME) is None
    assert developer.create_lease(lease("dev")).holder == "dev"
