"""Fixtures that run a real `Sandbox` on an ephemeral 127.0.0.1 port and hand out real boto3 clients."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from migrator.sandbox.eks.ext import HANDLED
from migrator.sandbox.scenario import Scenario, parse_scenario
from migrator.sandbox.server import Sandbox
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT
from tests.support.scenarios import indent

REGION = "us-east-1"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/teams/platform/Admin"

AWS_AUTH = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
  mapRoles: |
    - rolearn: arn:aws:iam::{ACCOUNT}:role/NodeRole
      username: system:node:{{{{EC2PrivateDNSName}}}}
      groups: [system:bootstrappers, system:nodes]
    - rolearn: arn:aws:iam::{ACCOUNT}:role/Admin
      username: admin:{{{{SessionName}}}}
      groups: [system:masters]
"""


SCENARIO = f"""\
schema: aws-auth-migrate/scenario/v1
clusters:
  - name: legacy
    region: {REGION}
    account: "{ACCOUNT}"
    version: "1.30"
    platformVersion: eks.8
    authenticationMode: CONFIG_MAP
    bootstrapClusterCreatorAdminPermissions: true
    creator: {ADMIN}
    nodegroups:
      - {{name: linux, nodeRole: "arn:aws:iam::{ACCOUNT}:role/NodeRole", amiType: AL2023_x86_64_STANDARD}}
      - {{name: windows, nodeRole: "arn:aws:iam::{ACCOUNT}:role/WinNodeRole", amiType: WINDOWS_CORE_2022_x86_64}}
    fargateProfiles:
      - {{name: fp, podExecutionRole: "arn:aws:iam::{ACCOUNT}:role/PodExec"}}
    awsAuth: |
{indent(AWS_AUTH, 6)}
  - name: modern
    region: {REGION}
    account: "{ACCOUNT}"
    version: "1.31"
    authenticationMode: API_AND_CONFIG_MAP
    creator: {ADMIN}
    accessEntries:
      - principalArn: {ADMIN}
        policies: [{{policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}}]
  - name: old-platform
    region: {REGION}
    account: "{ACCOUNT}"
    version: "1.28"
    platformVersion: eks.5
  - name: remote
    region: eu-west-1
    account: "{OTHER_ACCOUNT}"
    version: "1.30"
    authenticationMode: API
    creator: arn:aws:iam::{OTHER_ACCOUNT}:role/Deployer
iam:
  roles:
    - arn: {ADMIN}
    - arn: arn:aws:iam::{ACCOUNT}:role/NodeRole
    - arn: arn:aws:iam::{ACCOUNT}:role/WinNodeRole
    - arn: arn:aws:iam::{ACCOUNT}:role/PodExec
    - arn: arn:aws:iam::{ACCOUNT}:role/Dev
    - arn: arn:aws:iam::{ACCOUNT}:role/teams/x/Pathy
    - arn: arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS
    - arn: arn:aws:iam::{OTHER_ACCOUNT}:role/Deployer
    - arn: arn:aws:iam::{OTHER_ACCOUNT}:role/CrossNode
  users:
    - arn: arn:aws:iam::{ACCOUNT}:user/people/alice
caller: {ADMIN}
simulation:
  updateSeconds: 1.5  # long enough that a loaded CI machine still sees InProgress
"""

SandboxFactory = Callable[..., Sandbox]


def scenario(text: str = SCENARIO, **simulation: Any) -> Scenario:
    """The inline scenario, with `simulation` keys (scenario spelling) replaced."""
    if simulation:
        head, _, _ = text.rpartition("simulation:\n")
        lines = "".join(f"  {key}: {value}\n" for key, value in simulation.items())
        text = f"{head}simulation:\n{lines}"
    return parse_scenario(text, "inline-scenario.yaml")


@pytest.fixture
def make_sandbox() -> Iterator[SandboxFactory]:
    """Start sandboxes (one at a time per process) and stop every one at teardown."""
    started: list[Sandbox] = []

    def start(scn: Scenario | None = None) -> Sandbox:
        for running in started:
            running.stop()
        sandbox = Sandbox(scn or scenario()).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


def hold_updates(sandbox: Sandbox) -> None:
    """From now on an update started on the sandbox lasts an hour: it ends when a test calls `end_updates`, so
    what a test checks while it is InProgress cannot race the machine's load."""
    with sandbox.world.lock:
        sandbox.world.settings.update_seconds = 3600.0


def end_updates(sandbox: Sandbox, cluster: str, region: str = REGION, account: str = ACCOUNT) -> None:
    """EKS ends every update of the cluster now: the next request that looks sees it done."""
    sim = sandbox.world.cluster(account, region, cluster)
    assert sim is not None
    with sandbox.world.lock:
        for update in sim.updates.values():
            update.finishes_at = min(update.finishes_at, time.time())


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return make_sandbox()


def unknown_keys(shape: Shape | None, value: Any, path: str = "") -> list[str]:
    """Paths in a JSON response that botocore's output shape does not have (botocore would drop them)."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            if key not in shape.members:
                found.append(f"{path}.{key}".lstrip("."))
            else:
                found += unknown_keys(shape.members[key], item, f"{path}.{key}")
        return found
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [p for item in value for p in unknown_keys(shape.member, item, f"{path}[]")]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return [p for item in value.values() for p in unknown_keys(shape.value, item, f"{path}{{}}")]
    return []


def _check_response_shape(operation_model: OperationModel, response_dict: dict[str, Any], **_: Any) -> None:
    if operation_model.name not in HANDLED or response_dict["status_code"] != 200 or not response_dict["body"]:
        return
    extra = unknown_keys(operation_model.output_shape, json.loads(response_dict["body"]))
    assert not extra, f"{operation_model.name} answered with keys botocore does not know: {extra}"


def client(
    sandbox: Sandbox,
    service: str = "eks",
    *,
    region: str = REGION,
    credentials: dict[str, str] | None = None,
    attempts: int = 3,
) -> Any:
    """A real boto3 client for the sandbox (botocore's parameter validation on), as the caller by default.

    EKS clients also check that every response of an operation the extension handles uses only keys of
    botocore's output shape (through botocore's public event hooks).
    """
    creds = credentials or sandbox.caller_credentials()
    made = boto3.client(
        service,
        endpoint_url=sandbox.endpoint_url,
        region_name=region,
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds.get("AWS_SESSION_TOKEN"),
        config=Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=30, read_timeout=60),
    )
    if service == "eks":
        made.meta.events.register("before-parse.eks", _check_response_shape)
    return made


@pytest.fixture
def eks(sandbox: Sandbox) -> Any:
    return client(sandbox)
