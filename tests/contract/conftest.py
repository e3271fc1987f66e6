"""The two implementations of the gateways, behind one harness: the in-memory fake (tests/unit/fake_cluster.py)
and the sandbox reached through the real adapters (BotoEksGateway + KubernetesGateway, wired by connect()).

Both start from the same cluster: `prod` in us-east-1, a Linux node group, created by Admin (the caller),
aws-auth mapping the node role and Admin, in the mode the test asks for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from migrator.model import AuthMode, NodeGroup
from migrator.ports import EksGateway, KubeGateway, ModeUpdate
from migrator.sandbox.scenario import parse_scenario
from migrator.sandbox.server import Sandbox
from migrator.wiring.connect import ConnectOptions, connect
from tests.support.arns import ACCOUNT, role, user
from tests.support.rbac import live_objects, role_binding
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml
from tests.unit.fake_cluster import FakeCluster, aws_auth_data

CLUSTER = "prod"
REGION = "us-east-1"
ADMIN = role("Admin")
NODES = role("nodes")
PRINCIPALS = (role("Dev"), role("Ops"), role("teams/x/Pathy"), user("alice"))
NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
AWS_AUTH = aws_auth_data(
    [(NODES, NODE_USERNAME, ["system:bootstrappers", "system:nodes"]), (ADMIN, "admin", ["system:masters"])],
    [(user("alice"), "alice", ["viewers"])],
)

# alice's group `viewers` may read the namespace `dev` (read_rbac lists it, with the bootstrap roles).
VIEWERS_BINDING = role_binding("dev", "viewers-view", "view", ("Group", "viewers"))


@dataclass
class Harness:
    kind: str
    eks: EksGateway
    kube: KubeGateway
    finish: Callable[[str], ModeUpdate]  # end the update now (as EKS eventually does) and describe it


def _fake(mode: AuthMode) -> Harness:
    fake = FakeCluster(
        name=CLUSTER,
        region=REGION,
        mode=mode,
        aws_auth=dict(AWS_AUTH),
        nodegroups=(NodeGroup("linux", NODES),),
        creator_arn=ADMIN,
        caller=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/aws-auth-migrate",
        update_polls=1_000_000,  # as the sandbox's hour: an update ends when `finish` says so
        rbac=live_objects(VIEWERS_BINDING),
    )

    def finish(update_id: str) -> ModeUpdate:
        fake.finish_updates()
        return fake.describe_update(update_id)

    return Harness("fake", fake, fake, finish)


def _scenario_text(mode: AuthMode) -> str:
    aws_auth = aws_auth_config_map(AWS_AUTH["mapRoles"], AWS_AUTH["mapUsers"])
    clusters = (
        f'  - name: {CLUSTER}\n    region: {REGION}\n    account: "{ACCOUNT}"\n    version: "1.31"\n'
        f"    authenticationMode: {mode.value}\n    bootstrapClusterCreatorAdminPermissions: true\n"
        f"    creator: {ADMIN}\n"
        f"    nodegroups: [{{name: linux, nodeRole: '{NODES}'}}]\n"
        f"    awsAuth: |\n{indent(aws_auth, 6)}"
        f"    rbac: |\n{indent(json.dumps(VIEWERS_BINDING) + chr(10), 6)}"
    )
    roles = [ADMIN, NODES, *(p for p in PRINCIPALS if ":role/" in p)]
    users = [p for p in PRINCIPALS if ":user/" in p]
    # An update never ends by itself (an hour): `finish` ends it, so no test waits on the clock.
    return scenario_yaml(clusters, roles=roles, users=users, caller=ADMIN, simulation="updateSeconds: 3600")


def _sandbox(mode: AuthMode, monkeypatch: pytest.MonkeyPatch, started: list[Sandbox]) -> Harness:
    sandbox = Sandbox(parse_scenario(_scenario_text(mode), "contract.yaml")).start()
    started.append(sandbox)
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    connection = connect(CLUSTER, ConnectOptions(region=REGION))
    sim = sandbox.world.cluster(ACCOUNT, REGION, CLUSTER)
    assert sim is not None

    def finish(update_id: str) -> ModeUpdate:
        with sandbox.world.lock:
            sim.updates[update_id].finishes_at = time.time()
        return connection.eks.describe_update(update_id)

    return Harness("sandbox", connection.eks, connection.kube, finish)


MakeHarness = Callable[[AuthMode], Harness]


@pytest.fixture(params=["fake", pytest.param("sandbox", marks=pytest.mark.integration)])
def make(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeHarness]:
    """`make(mode)`: the cluster in that mode, through one implementation of the gateways."""
    started: list[Sandbox] = []

    def build(mode: AuthMode) -> Harness:
        return _fake(mode) if request.param == "fake" else _sandbox(mode, monkeypatch, started)

    yield build
    for sandbox in started:
        sandbox.stop()
