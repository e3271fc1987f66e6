"""What a sandbox scenario holds, as values: the `Scenario` and its `ScenarioCluster`s, and the defaults
of the scenario format (`scenario` reads and writes them; the sandbox server builds its world from them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from migrator.model import AccessEntrySpec, AuthMode, AwsAuth, ClusterRef, FargateProfile, NodeGroup
from migrator.rules.arn import partition_of_region
from migrator.sandbox.state import SimulationSettings

SCENARIO_SCHEMA = "aws-auth-migrate/scenario/v1"
DEFAULT_VERSION = "1.30"
DEFAULT_AMI_TYPE = "AL2023_x86_64_STANDARD"
# Looks like an EC2 instance id, so that node mappings ({{EC2PrivateDNSName}}) render for seeded sign-ins too.
SEED_SESSION_NAME = "i-0a1b2c3d4e5f60718"


@dataclass(frozen=True)
class SeededSignIn:
    """`signIns[]`: a past sign-in the authenticator log already holds when the sandbox starts."""

    arn: str  # an IAM role or user ARN
    at: datetime  # aware, UTC
    count: int = 1
    session: str = SEED_SESSION_NAME  # roles only: the STS session name ({{SessionName}})


@dataclass(frozen=True)
class ScenarioCluster:
    name: str
    region: str
    account: str
    version: str = DEFAULT_VERSION
    platform_version: str = ""
    mode: AuthMode = AuthMode.CONFIG_MAP
    bootstrap_admin: bool = True
    creator: str | None = None
    nodegroups: tuple[NodeGroup, ...] = ()
    fargate_profiles: tuple[FargateProfile, ...] = ()
    access_entries: tuple[AccessEntrySpec, ...] = ()
    aws_auth_text: str | None = None  # the ConfigMap as written; the Kubernetes simulator stores it
    rbac_text: str | None = None
    aws_auth: AwsAuth | None = field(default=None, compare=False)  # parsed (positions are file-specific)
    log_types: tuple[str, ...] = ()  # `logging: {authenticator: true}`: control-plane log types turned on
    sign_ins: tuple[SeededSignIn, ...] = ()

    @property
    def partition(self) -> str:
        return partition_of_region(self.region)

    @property
    def ref(self) -> ClusterRef:
        return ClusterRef(self.name, self.region, self.account, self.partition)


@dataclass(frozen=True)
class Scenario:
    clusters: tuple[ScenarioCluster, ...]
    roles: tuple[str, ...]  # IAM role ARNs, paths included
    users: tuple[str, ...]
    caller: str
    simulation: SimulationSettings = field(default_factory=SimulationSettings)
    file: str = field(default="", compare=False)

    def cluster(self, name: str, account: str | None = None, region: str | None = None) -> ScenarioCluster:
        matches = [
            c for c in self.clusters if c.name == name and account in (None, c.account) and region in (None, c.region)
        ]
        if len(matches) != 1:
            raise KeyError(name)
        return matches[0]
