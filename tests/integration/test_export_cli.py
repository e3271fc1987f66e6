"""Plan, apply against the sandbox, export: the exported Terraform and CloudFormation describe the live entries
(read through boto3) exactly, and every import ID names a live entry or association."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from migrator.rules.identity import default_username
from migrator.sandbox.server import Sandbox
from tests.integration.conftest import ADMIN, REGION, SandboxFactory, client
from tests.integration.test_apply_cli import BOTH_GATES, FAST, cli, make_plan
from tests.support.arns import ACCOUNT, role
from tests.support.exports import parse_terraform

pytestmark = pytest.mark.integration

Live = dict[str, dict[str, Any]]


def live_entries(sandbox: Sandbox, cluster: str) -> Live:
    """principalArn -> {type, username, groups, policies {(policyArn, scope type, namespaces)}} through boto3."""
    eks = client(sandbox)
    found: Live = {}
    for page in eks.get_paginator("list_access_entries").paginate(clusterName=cluster):
        for arn in page["accessEntries"]:
            entry = eks.describe_access_entry(clusterName=cluster, principalArn=arn)["accessEntry"]
            associated = eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)
            found[arn] = {
                "type": entry["type"],
                "username": entry.get("username"),
                "groups": sorted(entry.get("kubernetesGroups", [])),
                "policies": {
                    (p["policyArn"], p["accessScope"]["type"], tuple(sorted(p["accessScope"].get("namespaces", []))))
                    for p in associated["associatedAccessPolicies"]
                },
            }
    return found


def described_by_terraform(resources: dict[str, dict[str, dict[str, Any]]]) -> Live:
    """The same shape, from the exported resources (references resolved by hand)."""
    entries = resources["aws_eks_access_entry"]
    described: Live = {}
    for args in entries.values():
        arn = args["principal_arn"]
        standard = args["type"] == "STANDARD"
        described[arn] = {
            "type": args["type"],
            # left out = EKS's default, which the provider reads back without a diff
            "username": args.get("user_name", default_username(arn) if standard else None),
            "groups": sorted(args.get("kubernetes_groups", [])),
            "policies": set(),
        }
    for args in resources.get("aws_eks_access_policy_association", {}).values():
        entry_name = args["principal_arn"].removeprefix("${aws_eks_access_entry.").removesuffix(".principal_arn}")
        [scope] = args["access_scope"]
        policy = (args["policy_arn"], scope["type"], tuple(sorted(scope.get("namespaces", []))))
        described[entries[entry_name]["principal_arn"]]["policies"].add(policy)
    return described


def comparable(live: Live, arns: set[str]) -> Live:
    """Node entries: username and groups are EKS's (type decides them); compare the rest."""
    shown: Live = {}
    for arn in arns:
        entry = dict(live[arn])
        if entry["type"] != "STANDARD":
            entry["username"], entry["groups"] = None, []
        shown[arn] = entry
    return shown


def test_an_export_after_a_sandbox_migration_matches_the_live_entries_exactly(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox()
    plan = make_plan(sandbox, tmp_path, "legacy", REGION, "--target", "API")
    applied = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert applied.returncode == 0, applied.stderr
    live = live_entries(sandbox, "legacy")

    out = tmp_path / "tf"
    out.mkdir()
    exported = cli(sandbox, tmp_path, "export", str(plan), "--format", "terraform", "--out", str(out),
                   "--include-eks-managed")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    resources, imports = parse_terraform((out / "access_entries.tf").read_text() + (out / "imports.tf").read_text())
    described = described_by_terraform(resources)
    # Everything aws-auth maps, and the node group EKS manages; by hand: the Fargate role is not mapped in
    # aws-auth (EKS made its entry, the plan knows nothing of it).
    assert set(described) == {role("NodeRole"), role("WinNodeRole"), ADMIN}
    assert set(live) - set(described) == {role("PodExec")}
    assert described == comparable(live, set(described))
    # The admin mapping resolves to the creator's role (its IAM path): apply kept the entry EKS made for it.
    assert live[ADMIN]["username"] == default_username(ADMIN) and live[ADMIN]["groups"] == []

    for target, resource_id in imports.items():
        if target.startswith("aws_eks_access_entry."):
            cluster, principal = resource_id.split(":", 1)  # the provider's SplitN(id, ":", 2)
            assert cluster == "legacy" and principal in live
        else:
            cluster, principal, policy = resource_id.split("#", 2)  # SplitN(id, "#", 3)
            assert cluster == "legacy" and policy in {p[0] for p in live[principal]["policies"]}
    associations = sum(len(e["policies"]) for e in described.values())
    assert len(imports) == len(described) + associations

    template_file = tmp_path / "access-entries.json"
    formation = cli(sandbox, tmp_path, "export", str(plan), "--format", "cloudformation", "--out", str(template_file))
    assert formation.returncode == 0, formation.stderr
    template = json.loads(template_file.read_text())
    from_template: Live = {}
    for resource in template["Resources"].values():
        properties = resource["Properties"]
        arn, standard = properties["PrincipalArn"], properties["Type"] == "STANDARD"
        from_template[arn] = {
            "type": properties["Type"],
            "username": properties.get("Username", default_username(arn) if standard else None),
            "groups": sorted(properties.get("KubernetesGroups", [])),
            "policies": {
                (p["PolicyArn"], p["AccessScope"]["Type"], tuple(sorted(p["AccessScope"].get("Namespaces", []))))
                for p in properties.get("AccessPolicies", [])
            },
        }
    # Without --include-eks-managed the node group's entry stays EKS's.
    assert set(from_template) == {role("WinNodeRole"), ADMIN}
    assert from_template == comparable(live, set(from_template))
    assert role("NodeRole") not in template_file.read_text() and "1 entries EKS manages" in formation.stderr
    assert ACCOUNT in template["Description"]


# --- real Terraform, when this machine has it and a local mirror of the AWS provider -----------------------

PLUGINS = Path(os.environ.get("AWS_AUTH_MIGRATE_TF_PLUGINS", "/opt/tf-plugins"))
AWS_PROVIDER = PLUGINS / "registry.terraform.io" / "hashicorp" / "aws"


def _provider_version() -> str | None:
    versions = sorted(p.parent.name for p in AWS_PROVIDER.glob("*/linux_amd64")) if AWS_PROVIDER.is_dir() else []
    return versions[-1] if versions else None


def terraform(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Terraform with the provider from the local mirror only (no registry, no network but the sandbox)."""
    config = work.parent / "terraform.rc"
    config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGINS}"\n  }}\n}}\n')
    environment = {**os.environ, **env, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"}
    environment.update(TF_IN_AUTOMATION="1", TF_INPUT="0")
    return subprocess.run(
        ["terraform", *args, "-no-color"], cwd=work, env=environment, capture_output=True, text=True, timeout=600
    )


@pytest.mark.skipif(shutil.which("terraform") is None or _provider_version() is None, reason="no terraform/provider")
def test_terraform_plans_only_imports_after_the_migration_and_then_no_change(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox()
    plan = make_plan(sandbox, tmp_path, "legacy", REGION, "--target", "API")
    applied = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert applied.returncode == 0, applied.stderr
    work = tmp_path / "tf"
    work.mkdir()
    exported = cli(sandbox, tmp_path, "export", str(plan), "--format", "terraform", "--out", str(work),
                   "--include-eks-managed", "--cluster-name-expr", "var.cluster_name")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    endpoint = sandbox.env()["AWS_ENDPOINT_URL"]
    (work / "main.tf").write_text(
        f"""terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws", version = "{_provider_version()}" }}
  }}
}}

variable "cluster_name" {{
  default = "legacy"
}}

provider "aws" {{
  region                      = "{REGION}"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {{
    eks = "{endpoint}"
    iam = "{endpoint}"
    sts = "{endpoint}"
  }}
}}
"""
    )
    env = sandbox.env()
    init = terraform(work, env, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    first = terraform(work, env, "plan")
    assert first.returncode == 0, first.stdout + first.stderr
    # The three entries aws-auth maps (the node group's too: --include-eks-managed) and the admin policy.
    assert "Plan: 4 to import, 0 to add, 0 to change, 0 to destroy." in first.stdout, first.stdout
    adopted = terraform(work, env, "apply", "-auto-approve")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert "Apply complete! Resources: 4 imported, 0 added, 0 changed, 0 destroyed." in adopted.stdout
    after = terraform(work, env, "plan", "-detailed-exitcode")
    assert after.returncode == 0 and "No changes." in after.stdout, after.stdout + after.stderr
