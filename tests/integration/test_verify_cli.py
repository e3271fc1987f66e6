"""`verify` through the real CLI against the sandbox: a migrated cluster is equivalent (exit 0), each kind of
drift is named (exit 8), probes agree with the identity model, bad input changes nothing (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from migrator.sandbox.demo import iam_reader_args
from migrator.sandbox.scenario import load_scenario, parse_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import EXAMPLES
from tests.integration.conftest import SandboxFactory, client
from tests.integration.test_apply_cli import BOTH_GATES, FAST, cli, make_plan
from tests.support.arns import ACCOUNT, role
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml

ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
REGION = "us-east-1"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"

MAP_ROLES = f"""\
- rolearn: {role("Admin")}
  username: admin:{{{{SessionName}}}}
  groups: [system:masters, platform]
- rolearn: {role("Breakglass")}
  username: breakglass:{{{{SessionName}}}}
  groups: [system:masters]
- rolearn: {role("nodes")}
  username: system:node:{{{{EC2PrivateDNSName}}}}
  groups: [system:bootstrappers, system:nodes]
- rolearn: {role("Dev")}
  username: dev:{{{{SessionName}}}}
  groups: [developers]
- rolearn: {role("Ops")}
  username: ops:{{{{SessionName}}}}
  groups: [operators]
- rolearn: {role("Viewer")}
  username: viewer:{{{{SessionName}}}}
  groups: [viewers]
"""
MAP_USERS = f"- userarn: {ALICE}\n  username: alice\n  groups: [people]\n"
AWS_AUTH = aws_auth_config_map(MAP_ROLES, MAP_USERS)


def _entries() -> str:
    """The access entries a migration of AWS_AUTH makes, as scenario YAML."""
    return f"""\
- {{principalArn: "{role("Admin")}", username: "admin:{{{{SessionName}}}}", kubernetesGroups: [platform],
   policies: [{{policyArn: "{ADMIN_POLICY}"}}]}}
- {{principalArn: "{role("Breakglass")}", username: "breakglass:{{{{SessionName}}}}",
   policies: [{{policyArn: "{ADMIN_POLICY}"}}]}}
- {{principalArn: "{role("nodes")}", type: EC2_LINUX}}
- {{principalArn: "{role("Dev")}", username: "dev:{{{{SessionName}}}}", kubernetesGroups: [developers]}}
- {{principalArn: "{role("Ops")}", username: "ops:{{{{SessionName}}}}", kubernetesGroups: [operators]}}
- {{principalArn: "{role("Viewer")}", username: "viewer:{{{{SessionName}}}}", kubernetesGroups: [viewers]}}
- {{principalArn: "{ALICE}", username: alice, kubernetesGroups: [people]}}
"""


def _scenario(mode: str) -> str:
    cluster = (
        f'  - name: migrated\n    region: {REGION}\n    account: "{ACCOUNT}"\n    version: "1.31"\n'
        f"    authenticationMode: {mode}\n"
        f"    nodegroups: [{{name: ng, nodeRole: '{role('nodes')}'}}]\n"
        f"    accessEntries:\n{indent(_entries(), 6)}"
        f"    awsAuth: |\n{indent(AWS_AUTH, 6)}"
    )
    roles = [role(n) for n in ("Admin", "Breakglass", "nodes", "Dev", "Ops", "Viewer", "Stranger", "Intruder")]
    return scenario_yaml(cluster, roles=roles, users=[ALICE], caller=role("Admin"), simulation="updateSeconds: 1")


def verify_json(sandbox: Sandbox, cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli(sandbox, cwd, "verify", "--cluster", "migrated", "--region", REGION, "-o", "json", *args)
    assert result.returncode in (0, 8), result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "aws-auth-migrate/verify/v1"
    return result.returncode, {p["principal"]: p for p in report["principals"]}


def test_a_migrated_cluster_verifies_equivalent_and_each_drift_is_named_with_exit_8(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(parse_scenario(_scenario("API"), "migrated.yaml"))
    code, before = verify_json(sandbox, tmp_path)
    assert code == 0
    assert {p: v["category"] for p, v in before.items()} == {
        role("Admin"): "equivalent",
        role("Breakglass"): "equivalent",
        role("nodes"): "equivalent",
        role("Dev"): "equivalent",
        role("Ops"): "equivalent",
        role("Viewer"): "equivalent",
        ALICE: "equivalent",
    }

    eks = client(sandbox)
    name = {"clusterName": "migrated"}
    eks.delete_access_entry(**name, principalArn=role("Dev"))  # missing
    eks.update_access_entry(**name, principalArn=role("Ops"), kubernetesGroups=["admins"])  # wrong group
    # Lost cluster-admin (not the caller's own: verify must still read aws-auth).
    eks.disassociate_access_policy(**name, principalArn=role("Breakglass"), policyArn=ADMIN_POLICY)
    eks.associate_access_policy(  # a policy aws-auth never gave
        **name,
        principalArn=role("Viewer"),
        policyArn=VIEW_POLICY,
        accessScope={"type": "namespace", "namespaces": ["prod"]},
    )
    eks.update_access_entry(**name, principalArn=ALICE, username="alice-renamed")  # changed username
    eks.create_access_entry(**name, principalArn=role("Stranger"), kubernetesGroups=["developers"])  # extra

    code, after = verify_json(sandbox, tmp_path)
    assert code == 8
    assert after[role("Dev")]["category"] == "missing" and after[role("Dev")]["actual"] is None
    assert after[role("Ops")]["differences"] == [{"field": "groups", "expected": "operators", "actual": "admins"}]
    assert after[role("Breakglass")]["differences"] == [{"field": "cluster-admin", "expected": "yes", "actual": "no"}]
    assert after[role("Viewer")]["differences"] == [
        {"field": "policies", "expected": "none", "actual": "AmazonEKSViewPolicy (namespaces prod)"}
    ]
    assert after[ALICE]["differences"] == [{"field": "username", "expected": "'alice'", "actual": "'alice-renamed'"}]
    assert after[role("Stranger")]["category"] == "extra"
    assert after[role("nodes")]["category"] == after[role("Admin")]["category"] == "equivalent"


def test_an_aws_auth_edit_in_api_and_config_map_shows_against_the_original_and_text_output_names_it(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(parse_scenario(_scenario("API_AND_CONFIG_MAP"), "migrated.yaml"))
    original = tmp_path / "aws-auth.yaml"
    original.write_text(AWS_AUTH)
    eks = client(sandbox)
    eks.delete_access_entry(clusterName="migrated", principalArn=role("Dev"))  # Dev falls back to aws-auth
    cluster = sandbox.world.cluster(ACCOUNT, REGION, "migrated")
    assert cluster is not None
    with sandbox.world.lock:
        stored = cluster.objects[("v1", "configmaps", "kube-system", "aws-auth")].body
        stored["data"]["mapRoles"] = stored["data"]["mapRoles"].replace("[developers]", "[developers, ops]")
    code, report = verify_json(sandbox, tmp_path, "--aws-auth-file", str(original))
    assert code == 8
    assert report[role("Dev")]["actualVia"] == "aws-auth mapRoles[3]"
    assert report[role("Dev")]["differences"] == [
        {"field": "groups", "expected": "developers", "actual": "developers, ops"}
    ]
    # Against its own (edited) aws-auth the cluster is consistent: verify compares with aws-auth, not a plan.
    code, _ = verify_json(sandbox, tmp_path)
    assert code == 0
    text = cli(sandbox, tmp_path, "verify", "--cluster", "migrated", "--region", REGION, "--aws-auth-file",
               str(original))  # fmt: skip
    assert text.returncode == 8
    assert "differs (1):" in text.stdout and "groups: aws-auth gives developers, the cluster gives developers, ops" in (
        text.stdout
    )
    assert "error: verify: identities differ from aws-auth (1 differs)" in text.stderr


def test_a_probe_catches_a_role_recreated_under_the_same_arn(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    sandbox = make_sandbox(parse_scenario(_scenario("API"), "migrated.yaml"))
    iam = client(sandbox, "iam")
    trust = iam.get_role(RoleName="Dev")["Role"]["AssumeRolePolicyDocument"]
    iam.delete_role(RoleName="Dev")
    iam.create_role(RoleName="Dev", AssumeRolePolicyDocument=json.dumps(trust))
    # The API still shows the entry, so the model alone says all is well ...
    assert verify_json(sandbox, tmp_path)[0] == 0
    # ... but signed in as the new role, the cluster does not know it: its entry names the old role's id.
    code, report = verify_json(sandbox, tmp_path, "--probe")
    assert code == 8
    dev = report[role("Dev")]
    assert dev["category"] == "equivalent"
    assert dev["probe"]["status"] == "disagrees" and dev["probe"]["authenticated"] is False
    assert report[role("Ops")]["probe"]["status"] == "agrees"
    assert report[ALICE]["probe"]["status"] == "not-probed"


def test_an_admin_entry_of_the_creators_shape_fails_verify_unless_the_operator_names_the_creator(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # Regression (issue 20, defect 2): any entry with cluster-admin, the default username and no groups was
    # called "eks-made: the cluster creator's admin entry, by its shape" (exit 0), even two of them.
    sandbox = make_sandbox(parse_scenario(_scenario("API"), "migrated.yaml"))
    eks = client(sandbox)
    for name in ("Stranger", "Intruder"):
        arn = role(name)
        eks.create_access_entry(clusterName="migrated", principalArn=arn)
        eks.associate_access_policy(
            clusterName="migrated", principalArn=arn, policyArn=ADMIN_POLICY, accessScope={"type": "cluster"}
        )
    code, report = verify_json(sandbox, tmp_path)
    assert code == 8
    assert report[role("Stranger")]["category"] == report[role("Intruder")]["category"] == "extra"
    assert "admin, possibly the creator's" in report[role("Stranger")]["note"]
    # The operator names the creator: that one entry is EKS's; the other stays somebody's.
    code, report = verify_json(sandbox, tmp_path, "--creator", role("Stranger"))
    assert code == 8
    assert report[role("Stranger")]["category"] == "eks-made"
    assert report[role("Intruder")]["category"] == "extra"
    assert f"the creator is {role('Stranger')}" in report[role("Intruder")]["note"]
    eks.delete_access_entry(clusterName="migrated", principalArn=role("Intruder"))
    code, report = verify_json(sandbox, tmp_path, "--creator", role("Stranger"))
    assert code == 0
    text = cli(sandbox, tmp_path, "verify", "--cluster", "migrated", "--region", REGION)
    assert text.returncode == 8 and "admin, possibly the creator's" in text.stdout
    assert "error: verify: identities differ from aws-auth (1 extra)" in text.stderr


def test_bad_input_is_refused_before_any_call(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    sandbox = make_sandbox(parse_scenario(_scenario("API"), "migrated.yaml"))
    sandbox.clear_calls()
    bogus = tmp_path / "backup.json"
    bogus.write_text('{"schema": "nope"}')
    for args in (
        ("--backup", str(bogus)),
        ("--backup", str(tmp_path / "missing.json")),
        ("--backup", str(bogus), "--aws-auth-file", str(bogus)),
        ("--aws-auth-file", str(tmp_path / "missing.yaml")),
        ("--creator", "Admin"),
        ("--creator", f"arn:aws:iam::{ACCOUNT}:root"),
        ("--creator", role("Admin"), "--journal", str(bogus)),
        ("--journal", str(tmp_path / "missing.jsonl")),
        ("--journal", str(bogus)),
    ):
        result = cli(sandbox, tmp_path, "verify", "--cluster", "migrated", "--region", REGION, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ")
    assert sandbox.calls() == []


def test_after_a_real_migration_that_deleted_aws_auth_the_backup_verifies_and_probes_agree(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-large.yaml"))
    cluster = sandbox.scenario.clusters[0]
    readers = iam_reader_args(sandbox.scenario, cluster)  # IAM paths in the other account, as a user would
    # aws-auth-large.yaml carries kubectl apply's marks (AWS_AUTH_MANAGED): the rehearsal accepts them
    plan = make_plan(sandbox, tmp_path, cluster.name, cluster.region, "--target", "API", "--remove-aws-auth",
                     "--accept-managed-aws-auth", *readers)  # fmt: skip
    applied = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert applied.returncode == 0, applied.stderr
    [backup] = plan.parent.glob("*.aws-auth.backup.json")
    [journal] = plan.parent.glob("*.journal.jsonl")

    gone = cli(sandbox, tmp_path, "verify", "--cluster", cluster.name, "--region", cluster.region)
    assert gone.returncode == 2 and "no aws-auth ConfigMap" in gone.stderr

    # The journal says which entry EKS made for the creator at the first switch: without it (or --creator) the
    # creator's admin entry is only "possibly the creator's", and verify fails.
    unproven = cli(sandbox, tmp_path, "verify", "--cluster", cluster.name, "--region", cluster.region,
                   "--backup", str(backup), "-o", "json", *readers)  # fmt: skip
    assert unproven.returncode == 8, unproven.stderr
    # The journal of a cluster of the same name and region in another account proves nothing here.
    elsewhere = tmp_path / "elsewhere.journal.jsonl"
    elsewhere.write_text(journal.read_text().replace(f'"account":"{ACCOUNT}"', '"account":"999999999999"'))
    assert '"account":"999999999999"' in elsewhere.read_text()
    foreign = cli(sandbox, tmp_path, "verify", "--cluster", cluster.name, "--region", cluster.region,
                  "--backup", str(backup), "--journal", str(elsewhere), *readers)  # fmt: skip
    assert foreign.returncode == 2 and "account 999999999999" in foreign.stderr, foreign.stderr
    extra = [p for p in json.loads(unproven.stdout)["principals"] if p["category"] == "extra"]
    assert [p["principal"] for p in extra] == [cluster.creator]
    assert "admin, possibly the creator's" in extra[0]["note"]

    result = cli(
        sandbox, tmp_path, "verify", "--cluster", cluster.name, "--region", cluster.region,
        "--backup", str(backup), "--journal", str(journal), "--probe", "-o", "json", *readers,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    principals = report["principals"]
    assert {p["category"] for p in principals} <= {"equivalent", "eks-made"}
    creator = next(p for p in principals if p["principal"] == cluster.creator)
    assert creator["category"] == "eks-made" and f"apply's journal {journal}" in creator["note"]
    probes = {p["principal"]: p["probe"] for p in principals if p["probe"] is not None}
    users = {p for p in probes if ":user/" in p}
    assert users and all(probes[u]["status"] == "not-probed" and "IAM user" in probes[u]["reason"] for u in users)
    roles = {p for p in probes if ":role/" in p}
    node_roles = {p["principal"] for p in principals if p["actual"] and "EC2PrivateDNSName" in p["actual"]["username"]}
    assert all(probes[r]["status"] == "not-probed" for r in node_roles)
    assert roles - node_roles and all(probes[r]["status"] == "agrees" for r in roles - node_roles), probes
    assert report["counts"]["probe-disagrees"] == 0
