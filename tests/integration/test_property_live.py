"""A property of the live path: on generated clusters, a plan applies to the unchanged cluster through both gates.

Each example is a whole sandbox scenario: one cluster in account 111122223333 with principals in 1-4 accounts
(the others read through `--iam-role` or not read at all), roles with IAM paths, IAM Identity Center (SSO)
roles, IAM users, mapAccounts, managed node groups (Linux and Windows), a Fargate profile, a cluster creator
mapped in aws-auth or not, RBAC bindings or none, and a cluster in CONFIG_MAP or already in API_AND_CONFIG_MAP
(with the entries EKS made at that switch). The real CLI plans it (`--target API`), applies it with both gates
approved and nothing changed in between, and verifies it:

- apply never says the plan is stale (exit 3): it plans again from the cluster and must get the same plan;
- without blockers it reaches API (exit 0); with blockers (exactly those the scenario was built to have:
  mapAccounts, a `system:` group, a node role of another account) it stops at the API gate (exit 4) in
  API_AND_CONFIG_MAP, where aws-auth still answers for the blocked principals;
- `verify` finds every identity as aws-auth gives it (exit 0) either way: nothing lost, nothing widened.

What the generator leaves out, because the tool cannot know it and says so in the plan: a role under a path, or
an SSO role, in an account whose IAM nobody reads (PATH_UNRESOLVED: its entry has no path and EKS refuses it);
and a principal IAM said does not exist in an `--iam-role` account unless apply is given that --iam-role too
(apply takes no "does not exist" on the plan's word: tests/integration/test_cross_account.py).

A failure prints the scenario YAML: save it and replay it with `aws-auth-migrate sandbox demo FILE` (which passes
`--iam-role` for each account with an `aws-auth-migrate-iam-reader` role, as this test does), or with
`AWS_AUTH_MIGRATE_PROPERTY_SCENARIO=FILE pytest tests/integration/test_property_live.py -k replay`.
`AWS_AUTH_MIGRATE_PROPERTY_EXAMPLES` sets how many examples run (few by default: each is a sandbox and three
CLI runs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from migrator.plan.planfile import load_plan, plan_to_dict
from migrator.sandbox.demo import iam_reader_args
from migrator.sandbox.scenario import Scenario, parse_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import run_cli
from tests.integration.conftest import client
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml

pytestmark = pytest.mark.integration

EXPLORING = bool(os.environ.get("AWS_AUTH_MIGRATE_PROPERTY_EXAMPLES"))
EXAMPLES = int(os.environ.get("AWS_AUTH_MIGRATE_PROPERTY_EXAMPLES") or "3")  # and the two explicit ones
HOME = "111122223333"
OTHERS = ("444455556666", "777788889999", "210987654321")
REGION = "us-east-1"
CLUSTER = "prop"
READER_NAME = "aws-auth-migrate-iam-reader"  # what `sandbox demo` passes as --iam-role
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
SSO_PATH = "aws-reserved/sso.amazonaws.com/"
GROUPS = ("developers", "viewers", "deployers")
FAST = ("--poll-seconds", "0.05")


def arn(account: str, kind: str, name: str, path: str = "") -> str:
    return f"arn:aws:iam::{account}:{kind}/{path}{name}"


@dataclass(frozen=True)
class Principal:
    """One aws-auth mapping and the IAM principal behind it (if any)."""

    account: str
    kind: str  # role | user
    name: str
    path: str = ""  # the IAM path; aws-auth maps roles without it, users with it
    exists: bool = True
    groups: tuple[str, ...] = ()
    mapped_with_path: bool = False  # a role mapped with its path: dead today (DEAD_ROLE_PATH)

    @property
    def iam_arn(self) -> str:
        return arn(self.account, self.kind, self.name, self.path)

    @property
    def mapped_arn(self) -> str:
        keep_path = self.kind == "user" or self.mapped_with_path
        return arn(self.account, self.kind, self.name, self.path if keep_path else "")

    def mapping(self) -> str:
        key = "rolearn" if self.kind == "role" else "userarn"
        username = f"{self.name.lower()}:{{{{SessionName}}}}" if self.kind == "role" else self.name.lower()
        return f"- {key}: {self.mapped_arn}\n  username: '{username}'\n  groups: [{', '.join(self.groups)}]\n"


@dataclass(frozen=True)
class World:
    """A generated cluster and everything around it; `scenario_text` writes it as the sandbox loads it."""

    readable: tuple[str, ...]  # other accounts with an IAM reader role (--iam-role)
    unreadable: tuple[str, ...]
    principals: tuple[Principal, ...]
    nodegroups: tuple[tuple[str, bool, bool], ...]  # (name, windows, mapped in aws-auth)
    fargate: bool
    creator_mapped: bool
    caller_is_creator: bool  # unmapped, it is admin through EKS's bootstrap mapping, then through EKS's entry
    rbac: bool
    already_api_and_config_map: bool
    map_accounts: tuple[str, ...]
    system_group: bool
    foreign_node: bool  # a node role of an --iam-role account, under a path: blocked, found only through IAM
    apply_gets_iam_roles: bool
    blockers: frozenset[str] = field(default=frozenset())

    @property
    def creator(self) -> str:
        return arn(HOME, "role", "Creator", "automation/")

    @property
    def caller(self) -> str:
        return self.creator if self.caller_is_creator else arn(HOME, "role", "Operator")


@st.composite
def principals_of(draw: st.DrawFn, account: str, readable: bool, dead_allowed: bool) -> list[Principal]:
    """0-4 principals of one account: roles (under a path or not, SSO), users (under a path or not), and where
    the tool can know it, principals IAM does not have and roles mapped with their path."""
    found: list[Principal] = []
    for index in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["role", "role", "sso", "user"] if readable else ["role", "user"]))
        groups = tuple(draw(st.lists(st.sampled_from(GROUPS), max_size=2, unique=True)))
        if index == 0 and draw(st.booleans()):
            groups = ("system:masters", *groups)
        if kind == "sso":
            name = f"AWSReservedSSO_Team{index}_{account[:4]}{index:012d}"
            found.append(Principal(account, "role", name, SSO_PATH, groups=groups))
            continue
        path = draw(st.sampled_from(["", "teams/a/", "ci/"])) if readable or kind == "user" else ""
        exists = not (dead_allowed and draw(st.integers(0, 4)) == 4)
        with_path = kind == "role" and bool(path) and exists and draw(st.integers(0, 5)) == 5
        found.append(Principal(account, kind, f"{kind}{index}", path, exists, groups, with_path))
    return found


@st.composite
def worlds(draw: st.DrawFn) -> World:
    others = draw(st.lists(st.sampled_from(OTHERS), max_size=3, unique=True))
    readable = tuple(a for a in others if draw(st.booleans()))
    unreadable = tuple(a for a in others if a not in readable)
    apply_gets_iam_roles = bool(readable) and draw(st.booleans())
    principals = draw(principals_of(HOME, True, True))
    for account in others:
        dead_allowed = account in readable and apply_gets_iam_roles
        principals += draw(principals_of(account, account in readable, dead_allowed))
    nodegroups = tuple(
        (f"ng{i}", draw(st.booleans()), draw(st.integers(0, 3)) > 0) for i in range(draw(st.integers(0, 2)))
    )
    # Rare features are the largest draw, so the simplest example (what hypothesis shrinks to) has none.
    map_accounts = (draw(st.sampled_from(OTHERS)),) if draw(st.integers(0, 4)) == 4 else ()
    system_group = draw(st.integers(0, 7)) == 7
    foreign_node = bool(readable) and draw(st.integers(0, 5)) == 5
    blockers = {"MAP_ACCOUNTS"} if map_accounts else set()
    blockers |= {"SYSTEM_GROUP"} if system_group else set()
    blockers |= {"CROSS_ACCOUNT_NODE"} if foreign_node else set()
    return World(
        readable=readable,
        unreadable=unreadable,
        principals=tuple(principals),
        nodegroups=nodegroups,
        fargate=draw(st.booleans()),
        creator_mapped=draw(st.booleans()),
        caller_is_creator=draw(st.booleans()),
        rbac=draw(st.booleans()),
        already_api_and_config_map=draw(st.integers(0, 3)) == 3,
        map_accounts=map_accounts,
        system_group=system_group,
        foreign_node=foreign_node,
        apply_gets_iam_roles=apply_gets_iam_roles,
        blockers=frozenset(blockers),
    )


def _node_role(name: str) -> str:
    return arn(HOME, "role", f"{name}-node-role")


def scenario_text(world: World) -> str:
    """The world as a sandbox scenario (schema aws-auth-migrate/scenario/v1)."""
    map_roles: list[str] = []
    roles: list[str] = []
    users: list[str] = []
    entries: list[str] = []
    node = "system:node:{{EC2PrivateDNSName}}"
    for name, windows, mapped in world.nodegroups:
        roles.append(_node_role(name))
        groups = "system:bootstrappers, system:nodes" + (", eks:kube-proxy-windows" if windows else "")
        if mapped:
            map_roles.append(f"- rolearn: {_node_role(name)}\n  username: '{node}'\n  groups: [{groups}]\n")
        entries.append(f"{{principalArn: '{_node_role(name)}', type: EC2_LINUX}}")  # Windows too: EKS's defect
    if world.fargate:
        pod = arn(HOME, "role", "pod-execution-role")
        roles.append(pod)
        map_roles.append(
            f"- rolearn: {pod}\n  username: 'system:node:{{{{SessionName}}}}'\n"
            "  groups: [system:bootstrappers, system:nodes, system:node-proxier]\n"
        )
        entries.append(f"{{principalArn: '{pod}', type: FARGATE_LINUX}}")
    roles.append(world.creator)
    admin = f"{{policyArn: '{ADMIN_POLICY}'}}"
    entries.append(f"{{principalArn: '{world.creator}', policies: [{admin}]}}")
    if world.creator_mapped:
        map_roles.append(
            f"- rolearn: {arn(HOME, 'role', 'Creator')}\n  username: 'creator'\n  groups: [system:masters]\n"
        )
    if not world.caller_is_creator:
        roles.append(world.caller)
        map_roles.append(
            f"- rolearn: {world.caller}\n  username: 'operator:{{{{SessionName}}}}'\n  groups: [system:masters]\n"
        )
    if world.foreign_node:
        foreign = arn(world.readable[0], "role", "shared-node-role")
        roles.append(arn(world.readable[0], "role", "shared-node-role", "nodes/"))
        map_roles.append(
            f"- rolearn: {foreign}\n  username: '{node}'\n  groups: [system:bootstrappers, system:nodes]\n"
        )
    if world.system_group:
        map_roles.append(
            f"- rolearn: {arn(HOME, 'role', 'Monitor')}\n  username: 'monitor'\n  groups: [system:monitoring]\n"
        )
        roles.append(arn(HOME, "role", "Monitor"))
    map_users: list[str] = []
    for principal in world.principals:
        (map_roles if principal.kind == "role" else map_users).append(principal.mapping())
        if principal.exists:
            (roles if principal.kind == "role" else users).append(principal.iam_arn)
    roles += [arn(account, "role", READER_NAME) for account in world.readable]
    aws_auth = aws_auth_config_map("".join(map_roles), "".join(map_users))
    if world.map_accounts:
        aws_auth += "  mapAccounts: |\n" + "".join(f"    - '{a}'\n" for a in world.map_accounts)
    mode = "API_AND_CONFIG_MAP" if world.already_api_and_config_map else "CONFIG_MAP"
    cluster = (
        f'  - name: {CLUSTER}\n    region: {REGION}\n    account: "{HOME}"\n    version: "1.31"\n'
        f"    authenticationMode: {mode}\n    creator: {world.creator}\n"
    )
    if world.nodegroups:
        cluster += "    nodegroups:\n" + "".join(
            f"      - {{name: {name}, nodeRole: '{_node_role(name)}', "
            f"amiType: {'WINDOWS_CORE_2022_x86_64' if windows else 'AL2023_x86_64_STANDARD'}}}\n"
            for name, windows, _ in world.nodegroups
        )
    if world.fargate:
        cluster += (
            f"    fargateProfiles: [{{name: fp, podExecutionRole: '{arn(HOME, 'role', 'pod-execution-role')}'}}]\n"
        )
    if world.already_api_and_config_map:  # what EKS made at that switch: node and Fargate entries, the creator's
        cluster += "    accessEntries:\n" + "".join(f"      - {e}\n" for e in entries)
    cluster += f"    awsAuth: |\n{indent(aws_auth, 6)}"
    if world.rbac:
        cluster += f"    rbac: |\n{indent(_rbac(), 6)}"
    return scenario_yaml(
        cluster, roles=roles, users=users, caller=world.caller, simulation="updateSeconds: 0.05\nlatencyMs: 0"
    )


def _rbac() -> str:
    bindings = [
        ("developers", "ClusterRole", "edit"),
        ("viewers", "ClusterRole", "view"),
    ]
    return "---\n".join(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
        f"metadata: {{name: {group}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {kind}, name: {name}}}\n"
        f"subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: {group}}}]\n"
        for group, kind, name in bindings
    )


# --- the property ------------------------------------------------------------------------------------------


@dataclass
class Runner:
    sandbox: Sandbox
    workdir: Path
    log: list[str] = field(default_factory=list)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, cwd=self.workdir, env=self.sandbox.env())
        self.log.append(f"$ aws-auth-migrate {' '.join(args)}  -> exit {result.returncode}\n{result.stderr.strip()}")
        assert "Traceback" not in result.stderr, result.stderr
        return result


def check_world(scenario: Scenario, text: str, expected_blockers: frozenset[str] | None, apply_iam: bool) -> None:
    """Plan, apply through both gates, verify; `expected_blockers` None: whatever the plan says (a replay)."""
    cluster = scenario.clusters[0]
    with tempfile.TemporaryDirectory() as workdir, Sandbox(scenario) as sandbox:
        cli = Runner(sandbox, Path(workdir))
        try:
            _check(cli, cluster.name, cluster.region, iam_reader_args(scenario, cluster), expected_blockers, apply_iam)
        except AssertionError as failure:
            raise AssertionError(
                f"{failure}\n\n--- the CLI runs ---\n" + "\n".join(cli.log) + "\n\n--- the scenario (save it as FILE, "
                "replay with `aws-auth-migrate sandbox demo FILE` or AWS_AUTH_MIGRATE_PROPERTY_SCENARIO=FILE) ---\n"
                + text
            ) from None


def _check(
    cli: Runner, name: str, region: str, iam: list[str], expected_blockers: frozenset[str] | None, apply_iam: bool
) -> None:
    plan_file = cli.workdir / "plans" / name / "prop.plan.yaml"
    plan_file.parent.mkdir(mode=0o700, parents=True)
    planned = cli("plan", "--cluster", name, "--region", region, "--target", "API", "--out", str(plan_file), *iam)
    assert planned.returncode == 0, "plan failed"
    plan: dict[str, Any] = plan_to_dict(load_plan(plan_file))
    blockers = {f["code"] for f in plan["findings"] if f["severity"] == "blocker"}
    if expected_blockers is not None:
        assert blockers == expected_blockers, f"blockers {sorted(blockers)}, expected {sorted(expected_blockers)}"
    gates = ("--yes", "--approve-gate", "API_AND_CONFIG_MAP", "--approve-gate", "API", *FAST)
    applied = cli("apply", str(plan_file), *gates, *(iam if apply_iam else ()))
    assert applied.returncode != 3, "apply called the plan of the unchanged cluster stale"
    mode = client(cli.sandbox, region=region).describe_cluster(name=name)["cluster"]["accessConfig"]
    if blockers:
        assert applied.returncode == 4, f"apply exited {applied.returncode}, not 4 at the blocked API gate"
        assert mode["authenticationMode"] == "API_AND_CONFIG_MAP"
    else:
        assert applied.returncode == 0, f"apply exited {applied.returncode}"
        assert mode["authenticationMode"] == "API"
    verified = cli("verify", "--cluster", name, "--region", region, *iam, "-o", "json", *_creator(cli.sandbox, name))
    report = json.loads(verified.stdout) if verified.stdout else {}
    failing = [
        (v["principal"], v["category"], v.get("note"), v.get("differences"))
        for v in report.get("principals", [])
        if v["category"] not in ("equivalent", "eks-made")
    ]
    assert verified.returncode == 0 and not failing, f"verify exited {verified.returncode}: {failing}"


def _creator(sandbox: Sandbox, name: str) -> tuple[str, ...]:
    """`--creator`: EKS does not say who created a cluster; the scenario does."""
    cluster = next(c for c in sandbox.scenario.clusters if c.name == name)
    return ("--creator", cluster.creator) if cluster.creator else ()


RICH = World(  # every feature at once, no blocker: the cluster reaches API
    readable=("444455556666",),
    unreadable=("777788889999",),
    principals=(
        Principal(HOME, "role", "role0", groups=("system:masters", "developers")),
        Principal(HOME, "role", "role1", "teams/a/", groups=("viewers",)),
        Principal(HOME, "role", "AWSReservedSSO_Admin_0123456789abcdef", SSO_PATH, groups=("developers",)),
        Principal(HOME, "user", "user2", "ci/", groups=("deployers",)),
        Principal(HOME, "role", "role3", exists=False, groups=("viewers",)),
        Principal(HOME, "role", "role4", "teams/a/", groups=("viewers",), mapped_with_path=True),
        Principal("444455556666", "role", "role0", "teams/a/", groups=("viewers",)),
        Principal("444455556666", "role", "AWSReservedSSO_Audit_fedcba9876543210", SSO_PATH, groups=("viewers",)),
        Principal("444455556666", "user", "user1", "ci/", groups=("deployers",)),
        Principal("444455556666", "role", "role2", exists=False, groups=("viewers",)),
        Principal("777788889999", "role", "role0", groups=("deployers",)),
        Principal("777788889999", "user", "user1", groups=("viewers",)),
    ),
    nodegroups=(("linux", False, True), ("windows", True, True), ("spare", False, False)),
    fargate=True,
    creator_mapped=True,
    caller_is_creator=False,
    rbac=True,
    already_api_and_config_map=False,
    map_accounts=(),
    system_group=False,
    foreign_node=False,
    apply_gets_iam_roles=True,
)
SWITCHED = dataclasses.replace(  # already in API_AND_CONFIG_MAP (EKS's Windows entry to repair), run by the creator
    RICH,
    principals=tuple(p for p in RICH.principals if p.exists),
    already_api_and_config_map=True,
    creator_mapped=False,
    caller_is_creator=True,
    apply_gets_iam_roles=False,
)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # Shrinking runs the CLI dozens of times: only when asked for more examples (a failure prints its scenario).
    phases=(Phase.explicit, Phase.generate, *((Phase.shrink,) if EXPLORING else ())),
    # One lock directory (autouse fixture) for all examples is right: each run releases its lock.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(RICH)
@example(SWITCHED)
@given(worlds())
def test_a_plan_of_a_generated_cluster_applies_unchanged_and_keeps_every_identity(world: World) -> None:
    text = scenario_text(world)
    check_world(parse_scenario(text, "property.yaml"), text, world.blockers, world.apply_gets_iam_roles)


@pytest.mark.skipif(
    not os.environ.get("AWS_AUTH_MIGRATE_PROPERTY_SCENARIO"), reason="set AWS_AUTH_MIGRATE_PROPERTY_SCENARIO=FILE"
)
def test_replay_a_saved_scenario() -> None:
    path = Path(os.environ["AWS_AUTH_MIGRATE_PROPERTY_SCENARIO"])
    text = path.read_text()
    check_world(parse_scenario(text, str(path), base_dir=path.parent), text, None, apply_iam=True)
