"""Scenario files: what they load to, and every validation error with its file:line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from migrator.errors import SourceError
from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AuthMode,
    EntryType,
    FargateProfile,
    NodeGroup,
    PolicyAssociation,
    ScopeType,
)
from migrator.sandbox.scenario import dump_scenario, load_scenario, parse_scenario
from migrator.sandbox.state import SimulationSettings

FILE = "scn.yaml"
ACCOUNT = "111122223333"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/teams/platform/Admin"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"

# Line numbers matter below: keep this text's layout in step with the tests.
VALID = f"""\
schema: aws-auth-migrate/scenario/v1
clusters:
  - name: demo
    region: us-east-1
    account: "{ACCOUNT}"
    version: "1.30"
    platformVersion: eks.8
    authenticationMode: API_AND_CONFIG_MAP
    bootstrapClusterCreatorAdminPermissions: true
    creator: {ADMIN}
    nodegroups: [{{name: ng-1, nodeRole: "arn:aws:iam::{ACCOUNT}:role/Node", amiType: WINDOWS_CORE_2022_x86_64}}]
    fargateProfiles: [{{name: fp-1, podExecutionRole: "arn:aws:iam::{ACCOUNT}:role/Pod"}}]
    accessEntries:
      - {{principalArn: "arn:aws:iam::{ACCOUNT}:role/Dev", username: "dev:{{{{SessionName}}}}",
         kubernetesGroups: [devs],
         policies: [{{policyArn: "{VIEW}", accessScope: {{type: namespace, namespaces: [dev-*]}}}}]}}
      - {{principalArn: "arn:aws:iam::{ACCOUNT}:role/Node", type: EC2_LINUX}}
    awsAuth: |
      apiVersion: v1
      kind: ConfigMap
      metadata: {{name: aws-auth, namespace: kube-system}}
      data:
        mapRoles: |
          - rolearn: arn:aws:iam::{ACCOUNT}:role/Node
            username: system:node:{{{{EC2PrivateDNSName}}}}
            groups: [system:bootstrappers, system:nodes]
    rbac: |
      apiVersion: rbac.authorization.k8s.io/v1
      kind: ClusterRoleBinding
      metadata: {{name: devs}}
      roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}
      subjects: [{{kind: Group, name: devs}}]
  - name: demo
    region: eu-west-1
    account: "444455556666"
iam:
  roles:
    - arn: {ADMIN}
    - arn: arn:aws:iam::{ACCOUNT}:role/Node
    - arn: arn:aws:iam::{ACCOUNT}:role/Pod
    - arn: arn:aws:iam::{ACCOUNT}:role/Dev
  users:
    - arn: arn:aws:iam::{ACCOUNT}:user/people/alice
caller: {ADMIN}
simulation:
  latencyMs: 5
  updateSeconds: 0.5
  rateLimit: {{tps: 10, burst: 20}}
  faults: {{seed: 7, throttle: 0.1, serverError: 0.05, connectionReset: 0.01}}
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            count += 1
            if count == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in the text")


def error(text: str) -> SourceError:
    with pytest.raises(SourceError) as caught:
        parse_scenario(text, FILE)
    return caught.value


def test_valid_scenario_loads() -> None:
    scenario = parse_scenario(VALID, FILE)
    assert scenario.file == FILE
    assert scenario.caller == ADMIN
    assert scenario.users == (f"arn:aws:iam::{ACCOUNT}:user/people/alice",)
    assert scenario.simulation == SimulationSettings(5, 0.5, 10.0, 20, 7, 0.1, 0.05, 0.01)
    demo = scenario.cluster("demo", account=ACCOUNT)
    assert (demo.region, demo.version, demo.platform_version, demo.mode) == (
        "us-east-1",
        "1.30",
        "eks.8",
        AuthMode.API_AND_CONFIG_MAP,
    )
    assert demo.creator == ADMIN and demo.bootstrap_admin
    assert demo.nodegroups == (NodeGroup("ng-1", f"arn:aws:iam::{ACCOUNT}:role/Node", "WINDOWS_CORE_2022_x86_64"),)
    assert demo.nodegroups[0].is_windows
    assert demo.fargate_profiles == (FargateProfile("fp-1", f"arn:aws:iam::{ACCOUNT}:role/Pod"),)
    assert demo.access_entries == (
        AccessEntrySpec(
            f"arn:aws:iam::{ACCOUNT}:role/Dev",
            EntryType.STANDARD,
            "dev:{{SessionName}}",
            ("devs",),
            (PolicyAssociation(VIEW, AccessScope(ScopeType.NAMESPACE, ("dev-*",))),),
        ),
        AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/Node", EntryType.EC2_LINUX),
    )
    assert demo.aws_auth_text is not None and demo.aws_auth_text.startswith("apiVersion: v1\nkind: ConfigMap")
    assert demo.aws_auth is not None
    assert [m.arn for m in demo.aws_auth.map_roles] == [f"arn:aws:iam::{ACCOUNT}:role/Node"]
    assert demo.aws_auth.file == f"{FILE}:clusters[0].awsAuth"
    assert demo.rbac_text is not None and "ClusterRoleBinding" in demo.rbac_text
    remote = scenario.cluster("demo", region="eu-west-1")
    # Defaults: CONFIG_MAP, bootstrap on, the first platform version that supports access entries.
    assert (remote.mode, remote.bootstrap_admin, remote.version, remote.platform_version) == (
        AuthMode.CONFIG_MAP,
        True,
        "1.30",
        "eks.2",
    )
    assert remote.ref.partition == "aws"


def test_dump_round_trips() -> None:
    scenario = parse_scenario(VALID, FILE)
    dumped = dump_scenario(scenario)
    again = parse_scenario(dumped, "dumped.yaml")
    assert again == scenario
    assert dump_scenario(again) == dumped
    assert again.clusters[0].aws_auth_text == scenario.clusters[0].aws_auth_text


def test_aws_auth_file_is_read_relative_to_the_scenario(tmp_path: Path) -> None:
    aws_auth = VALID.split("    awsAuth: |\n", 1)[1].split("    rbac: |", 1)[0]
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth" / "aws-auth.yaml").write_text("".join(line[6:] + "\n" for line in aws_auth.splitlines()))
    text = VALID.replace("    awsAuth: |\n" + aws_auth, "    awsAuthFile: auth/aws-auth.yaml\n")
    (tmp_path / "scenario.yaml").write_text(text)
    scenario = load_scenario(tmp_path / "scenario.yaml")
    assert scenario.clusters[0].aws_auth_text == parse_scenario(VALID, FILE).clusters[0].aws_auth_text
    # Exported scenarios inline the ConfigMap.
    assert "awsAuth: |" in dump_scenario(scenario)

    (tmp_path / "auth" / "aws-auth.yaml").unlink()
    with pytest.raises(SourceError) as caught:
        load_scenario(tmp_path / "scenario.yaml")
    assert caught.value.line == line_of(text, "awsAuthFile")
    assert "no such file" in caught.value.detail


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        load_scenario(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: no such scenario file"


@pytest.mark.parametrize(
    ("old", "new", "line_needle", "message"),
    [
        ("schema: aws-auth-migrate/scenario/v1", "schema: v2", "schema:", "schema must be"),
        ('    version: "1.30"\n', '    version: "1.30"\n    colour: blue\n', "colour", "unknown key 'colour'"),
        (f'account: "{ACCOUNT}"', f"account: {ACCOUNT}", f"account: {ACCOUNT}", "must be a string"),
        (f'account: "{ACCOUNT}"', 'account: "1234"', 'account: "1234"', "not a 12-digit AWS account id"),
        ("region: us-east-1", "region: mars", "region: mars", "not an AWS region name"),
        ("  - name: demo\n    region: us", "  - name: -demo\n    region: us", "-demo", "not a valid EKS cluster name"),
        ("  - name: demo\n    region: us", '  - name: "demo\\n"\n    region: us', "demo", "not a valid EKS cluster"),
        ("  - name: demo\n    region: us", '  - name: "../etc"\n    region: us', "etc", "not a valid EKS cluster name"),
        ("region: us-east-1", 'region: "us-east-1\\n"', "region:", "not an AWS region name"),
        ("authenticationMode: API_AND_CONFIG_MAP", "authenticationMode: API_ONLY", "API_ONLY", "unknown mode"),
        (
            "    authenticationMode: API_AND_CONFIG_MAP\n    bootstrapClusterCreatorAdminPermissions: true",
            "    authenticationMode: API_AND_CONFIG_MAP\n    bootstrapClusterCreatorAdminPermissions: yes please",
            "bootstrapClusterCreatorAdminPermissions",
            "must be true or false",
        ),
        (f"creator: {ADMIN}", f"creator: arn:aws:iam::{ACCOUNT}:role/Ghost", "creator:", "is not in iam.roles"),
        (f"creator: {ADMIN}", f"creator: arn:aws:iam::{ACCOUNT}:role/Admin", "creator:", "with exactly this path"),
        (f"creator: {ADMIN}", "creator: arn:aws:s3:::bucket", "creator:", "is not an IAM ARN"),
        ('role/Node", amiType', 'user/people/alice", amiType', "nodegroups:", "must be an IAM role"),
        ('role/Pod"}]', 'role/Ghost"}]', "fargateProfiles:", "is not in iam.roles"),
        (
            'username: "dev:{{SessionName}}"',
            'username: "system:dev"',
            'principalArn: "arn:aws:iam::111122223333:role/Dev"',
            "The username must not begin with system:",
        ),
        ('username: "dev:{{SessionName}}"', 'username: "dev-{{SessionName}}"', 'role/Dev"', "must be preceded"),
        ("kubernetesGroups: [devs]", "kubernetesGroups: [system:masters]", 'role/Dev"', "cannot start with system:"),
        (
            'role/Node", type: EC2_LINUX}',
            'role/Node", type: EC2_LINUX, username: x}',
            "type: EC2_LINUX",
            "not supported for type EC2_LINUX",
        ),
        ("type: EC2_LINUX", "type: LINUX", "type: LINUX", "The access entry type LINUX is invalid"),
        ('version: "1.30"', 'version: "latest"', "version:", "is not a Kubernetes version"),
        ("platformVersion: eks.8", "platformVersion: '8'", "platformVersion", "is not like eks.8"),
        (
            'policyArn: "' + VIEW,
            'policyArn: "arn:aws:eks::aws:cluster-access-policy/Nope',
            "policies:",
            "could not be found",
        ),
        ("type: namespace, namespaces: [dev-*]", "type: namespace", "policies:", "At least one namespace"),
        (
            "type: EC2_LINUX}",
            'type: EC2_LINUX}\n      - {principalArn: "arn:aws:iam::111122223333:role/Node"}',
            'principalArn: "arn:aws:iam::111122223333:role/Node"}',
            "has two access entries",
        ),
        ("    awsAuth: |", "    awsAuthFile: x.yaml\n    awsAuth: |", "awsAuthFile", "both awsAuth and awsAuthFile"),
        ("kind: ClusterRoleBinding", "kind: Deployment", "kind: Deployment", "does not serve"),
        ("metadata: {name: devs}", "metadata: {}", "metadata: {}", "needs metadata.name"),
        (
            "  - name: demo\n    region: eu-west-1",
            "  - name: demo\n    region: us-east-1\n    colour: x",
            "colour",
            "unknown key",
        ),
        (
            '    region: eu-west-1\n    account: "444455556666"',
            '    region: us-east-1\n    account: "111122223333"',
            "  - name: demo",
            "appears twice",
        ),
        (
            "  - arn: arn:aws:iam::111122223333:role/Pod",
            "  - arn: arn:aws:iam::111122223333:user/Pod",
            "user/Pod",
            "is not an IAM role ARN",
        ),
        (
            "  - arn: arn:aws:iam::111122223333:role/Pod",
            "  - arn: arn:aws:iam::111122223333:role/x/node",
            "role/x/node",
            "names the same role",
        ),
        (f"caller: {ADMIN}", "caller: arn:aws:iam::111122223333:role/Ghost", "caller:", "is not among iam.roles"),
        ("  latencyMs: 5", "  latencyMs: -5", "latencyMs", "must be a whole number >= 0"),
        ("  rateLimit: {tps: 10, burst: 20}", "  rateLimit: {tps: 0, burst: 20}", "rateLimit", "tps must be > 0"),
        ("throttle: 0.1", "throttle: 0.99", "faults:", "add up to more than 1"),
        ("throttle: 0.1", "throttle: 2", "faults:", "must be at most 1.0"),
        ("  updateSeconds: 0.5", "  updateSecs: 0.5", "updateSecs", "unknown key 'updateSecs' in simulation"),
    ],
)
def test_validation_errors_name_the_line(old: str, new: str, line_needle: str, message: str) -> None:
    assert old in VALID, old
    text = VALID.replace(old, new, 1)
    problem = error(text)
    assert problem.file == FILE
    occurrence = 2 if line_needle == "  - name: demo" else 1
    assert problem.line == line_of(text, line_needle, occurrence), (problem.line, str(problem))
    assert message in problem.detail, str(problem)
    assert str(problem).startswith(f"{FILE}:{problem.line}: ")


def test_entries_need_an_access_entry_mode() -> None:
    text = VALID.replace("authenticationMode: API_AND_CONFIG_MAP", "authenticationMode: CONFIG_MAP")
    problem = error(text)
    assert problem.line == line_of(text, 'role/Dev"')
    assert "CONFIG_MAP mode, which has no access entries" in problem.detail


def test_bootstrap_false_is_rejected_with_config_map() -> None:
    text = VALID.replace(
        '    account: "444455556666"', '    account: "444455556666"\n    bootstrapClusterCreatorAdminPermissions: false'
    )
    problem = error(text)
    assert problem.line == line_of(text, "bootstrapClusterCreatorAdminPermissions: false")


def test_yaml_syntax_errors_name_the_line() -> None:
    text = VALID.replace("caller: ", "caller: [", 1)
    problem = error(text)
    assert problem.line is not None and problem.line >= line_of(text, "caller: [")
    assert "not valid YAML" in problem.detail
    duplicate = VALID.replace('    version: "1.30"\n', '    version: "1.30"\n    version: "1.31"\n', 1)
    assert "not valid YAML" in error(duplicate).detail


def test_malformed_aws_auth_reports_through_the_aws_auth_parser() -> None:
    text = VALID.replace("            groups: [system:bootstrappers, system:nodes]", "            groups: [unclosed")
    problem = error(text)
    assert problem.file.startswith(f"{FILE}:clusters[0].awsAuth")


def test_rbac_yaml_error_points_into_the_block() -> None:
    text = VALID.replace("      subjects: [{kind: Group, name: devs}]", "      subjects: [{kind: Group, name: devs}")
    problem = error(text)
    assert problem.line is not None and problem.line > line_of(text, "rbac: |")
    assert "rbac is not valid YAML" in problem.detail


@pytest.mark.parametrize("text", ["", "[]", "schema: aws-auth-migrate/scenario/v1\n", "just words"])
def test_degenerate_files(text: str) -> None:
    assert isinstance(error(text), SourceError)


def test_node_entries_as_eks_reports_them_load_and_dump_without_their_fixed_identity() -> None:
    text = VALID.replace(
        "type: EC2_LINUX}",
        'type: EC2_LINUX, username: "system:node:{{EC2PrivateDNSName}}", kubernetesGroups: [system:nodes]}',
    )
    assert text != VALID
    loaded = parse_scenario(text, FILE)
    assert loaded == parse_scenario(VALID, FILE)
    node = loaded.clusters[0].access_entries[1]
    exported = replace(loaded.clusters[0], access_entries=(replace(node, groups=("system:nodes",)),), version="")
    dumped = dump_scenario(replace(loaded, clusters=(exported, *loaded.clusters[1:])))
    assert "system:nodes" not in dumped.split("awsAuth:")[0]
    assert parse_scenario(dumped, "d.yaml").clusters[0].version == "1.30"


SIGN_INS = f"""\
    logging: {{authenticator: true, audit: false}}
    signIns:
      - {{arn: "arn:aws:iam::{ACCOUNT}:role/Dev", at: 2026-10-01T12:00:00Z, count: 3}}
      - {{arn: "arn:aws:iam::{ACCOUNT}:user/ghost", at: "2026-09-30", session: ignored-for-users}}
"""


def with_sign_ins(block: str = SIGN_INS) -> str:
    return VALID.replace(f"    creator: {ADMIN}\n", f"    creator: {ADMIN}\n{block}", 1)


def test_logging_and_seeded_sign_ins_load_sorted_by_time_and_round_trip() -> None:
    from datetime import UTC, datetime

    from migrator.sandbox.scenario.model import SEED_SESSION_NAME, SeededSignIn

    cluster = parse_scenario(with_sign_ins(), FILE).clusters[0]
    assert cluster.log_types == ("authenticator",)
    assert cluster.sign_ins == (
        SeededSignIn(f"arn:aws:iam::{ACCOUNT}:user/ghost", datetime(2026, 9, 30, tzinfo=UTC), 1, "ignored-for-users"),
        SeededSignIn(f"arn:aws:iam::{ACCOUNT}:role/Dev", datetime(2026, 10, 1, 12, tzinfo=UTC), 3, SEED_SESSION_NAME),
    )
    assert parse_scenario(VALID, FILE).clusters[0].log_types == ()  # EKS's default: no control-plane logs
    scenario = parse_scenario(with_sign_ins(), FILE)
    assert parse_scenario(dump_scenario(scenario), "dumped.yaml") == scenario


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("authenticator: true, audit: false", "authenticator: yes please", "logging.authenticator must be true or"),
        ("authenticator: true, audit: false", "authenticator: true, kubelet: true", "unknown key 'kubelet'"),
        ('role/Dev", at', 'role/Dev", when', "unknown key 'when' in clusters[0].signIns[0]"),
        ("at: 2026-10-01T12:00:00Z", "at: 2026-10-01T12:00:00", "signIns[0].at has no time zone"),
        ("at: 2026-10-01T12:00:00Z", "at: last tuesday", "is not a time like"),
        ("count: 3", "count: 0", "count must be 1 to 10000"),
        (
            f"arn:aws:iam::{ACCOUNT}:role/Dev",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/s",
            "must be an IAM role or user",
        ),
        (f"arn:aws:iam::{ACCOUNT}:role/Dev", f"arn:aws-cn:iam::{ACCOUNT}:role/Dev", "must be an IAM role or user"),
        ("session: ignored-for-users", "session: has spaces in it", "is not an STS session name"),
        ("authenticator: true, audit: false", "audit: true", "seeds signIns but does not send the authenticator log"),
    ],
)
def test_sign_in_errors_name_the_line(old: str, new: str, message: str) -> None:
    text = with_sign_ins(SIGN_INS.replace(old, new, 1))
    problem = error(text)
    assert message in str(problem), str(problem)
    assert problem.file == FILE and problem.line is not None
    changed = next(i for i, line in enumerate(text.splitlines(), 1) if new.split(",")[0].strip() in line)
    expected = line_of(text, "    signIns:") if "seeds signIns" in message else changed
    assert problem.line == expected, (problem.line, str(problem))
