"""The CloudFormation export against AWS::EKS::AccessEntry's documented properties (CloudFormation Template
Reference: aws-resource-eks-accessentry, aws-properties-eks-accessentry-accesspolicy and -accessscope),
written out here by hand so the exporter cannot agree with itself."""

from __future__ import annotations

import io
import json
from typing import Any

from ruamel.yaml import YAML

from migrator.export import export_cloudformation, select_entries
from migrator.model import AccessEntrySpec, ClusterRef, EntryType, PolicyAssociation
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT, role, user
from tests.unit.test_export_terraform import ADMIN_POLICY, PLAN, VIEW_POLICY, make_plan, planned

# Property name -> (type, required), from the documentation.
ACCESS_ENTRY_PROPERTIES: dict[str, tuple[type, bool]] = {
    "AccessPolicies": (list, False),
    "ClusterName": (str, True),
    "KubernetesGroups": (list, False),
    "PrincipalArn": (str, True),
    "Tags": (list, False),
    "Type": (str, False),
    "Username": (str, False),
}
ACCESS_POLICY_PROPERTIES: dict[str, tuple[type, bool]] = {"AccessScope": (dict, True), "PolicyArn": (str, True)}
ACCESS_SCOPE_PROPERTIES: dict[str, tuple[type, bool]] = {"Namespaces": (list, False), "Type": (str, True)}
SCOPE_TYPES = {"cluster", "namespace"}
ENTRY_TYPES = {"STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "EC2", "HYBRID_LINUX", "HYPERPOD_LINUX"}
RESOURCE_ATTRIBUTES = {"Type", "Properties", "DeletionPolicy", "UpdateReplacePolicy", "Metadata", "DependsOn"}


def problems(value: dict[str, Any], allowed: dict[str, tuple[type, bool]], where: str) -> list[str]:
    found = [f"{where}.{k}: not a documented property" for k in value if k not in allowed]
    found += [f"{where}.{k}: required" for k, (_, required) in allowed.items() if required and k not in value]
    found += [f"{where}.{k}: not a {allowed[k][0].__name__}" for k in value if k in allowed and not isinstance(
        value[k], allowed[k][0])]  # fmt: skip
    return found


def check_template(template: dict[str, Any]) -> list[str]:
    found: list[str] = []
    assert set(template) <= {"AWSTemplateFormatVersion", "Description", "Resources"}
    for logical_id, resource in template["Resources"].items():
        where = f"Resources.{logical_id}"
        assert logical_id.isascii() and logical_id.isalnum(), logical_id
        assert set(resource) <= RESOURCE_ATTRIBUTES and resource["Type"] == "AWS::EKS::AccessEntry"
        assert resource["DeletionPolicy"] == "Retain"  # an import needs one; Retain never removes access
        properties = resource["Properties"]
        found += problems(properties, ACCESS_ENTRY_PROPERTIES, where)
        assert properties.get("Type", "STANDARD") in ENTRY_TYPES
        assert all(isinstance(g, str) for g in properties.get("KubernetesGroups", []))
        for index, policy in enumerate(properties.get("AccessPolicies", [])):
            found += problems(policy, ACCESS_POLICY_PROPERTIES, f"{where}.AccessPolicies[{index}]")
            scope = policy["AccessScope"]
            found += problems(scope, ACCESS_SCOPE_PROPERTIES, f"{where}.AccessPolicies[{index}].AccessScope")
            assert scope["Type"] in SCOPE_TYPES and ("Namespaces" in scope) == (scope["Type"] == "namespace")
    return found


def test_the_template_uses_only_documented_properties_with_their_types() -> None:
    exported = export_cloudformation(select_entries(PLAN, include_eks_managed=True))
    template = json.loads(exported.template)
    assert check_template(template) == []


def test_each_entry_is_described_exactly_as_the_plan_says() -> None:
    template = json.loads(export_cloudformation(select_entries(PLAN)).template)
    resources = {r["Properties"]["PrincipalArn"]: r["Properties"] for r in template["Resources"].values()}
    assert resources == {
        role("Admin"): {
            "ClusterName": "prod",
            "PrincipalArn": role("Admin"),
            "Type": "STANDARD",
            "Username": "admin:{{SessionName}}",
            "KubernetesGroups": ["oncall"],
            "AccessPolicies": [{"PolicyArn": ADMIN_POLICY, "AccessScope": {"Type": "cluster"}}],
        },
        role("Dev"): {
            "ClusterName": "prod",
            "PrincipalArn": role("Dev"),
            "Type": "STANDARD",
            "Username": "dev:{{SessionName}}",
            "KubernetesGroups": ["developers", "readers"],
        },
        user("maria"): {"ClusterName": "prod", "PrincipalArn": user("maria"), "Type": "STANDARD", "Username": "maria"},
        role("Deployer", OTHER_ACCOUNT): {
            "ClusterName": "prod",
            "PrincipalArn": role("Deployer", OTHER_ACCOUNT),
            "Type": "STANDARD",
            "AccessPolicies": [{"PolicyArn": ADMIN_POLICY, "AccessScope": {"Type": "cluster"}}],
        },
        role("teams/Viewer"): {
            "ClusterName": "prod",
            "PrincipalArn": role("teams/Viewer"),
            "Type": "STANDARD",
            "AccessPolicies": [
                {"PolicyArn": VIEW_POLICY, "AccessScope": {"Type": "namespace", "Namespaces": ["dev", "team-*"]}}
            ],
        },
        role("WinNodes"): {"ClusterName": "prod", "PrincipalArn": role("WinNodes"), "Type": "EC2_WINDOWS"},
    }


def test_resources_to_import_names_every_resource_by_its_primary_identifier() -> None:
    exported = export_cloudformation(select_entries(PLAN))
    template = json.loads(exported.template)
    to_import = json.loads(exported.resources_to_import)
    assert sorted(r["LogicalResourceId"] for r in to_import) == sorted(template["Resources"])
    for item in to_import:
        assert set(item) == {"ResourceType", "LogicalResourceId", "ResourceIdentifier"}
        assert item["ResourceType"] == "AWS::EKS::AccessEntry"
        properties = template["Resources"][item["LogicalResourceId"]]["Properties"]
        assert item["ResourceIdentifier"] == {"PrincipalArn": properties["PrincipalArn"], "ClusterName": "prod"}


def test_logical_ids_are_readable_and_unique() -> None:
    template = json.loads(export_cloudformation(select_entries(PLAN)).template)
    assert sorted(template["Resources"]) == sorted(
        ["RoleAdmin", "RoleDev", "UserMaria", f"RoleDeployer{OTHER_ACCOUNT}", "RoleViewer", "RoleWinNodes"]
    )
    alike = make_plan(*(planned(AccessEntrySpec(role(n))) for n in ("ci.bot", "ci-bot", "CiBot", "Ci_Bot")))
    ids = list(json.loads(export_cloudformation(select_entries(alike)).template)["Resources"])
    assert len({i.lower() for i in ids}) == 4 and all(i.startswith("RoleCi") for i in ids)


def test_stdout_is_one_yaml_stream_of_the_template_and_the_import_list_and_is_deterministic() -> None:
    exported = export_cloudformation(select_entries(PLAN))
    template, to_import = YAML(typ="safe", pure=True).load_all(io.StringIO(exported.combined()))
    assert template == json.loads(exported.template) and to_import == json.loads(exported.resources_to_import)
    assert export_cloudformation(select_entries(PLAN)) == exported


def test_a_china_template_keeps_the_partition() -> None:
    china = ClusterRef("prod", "cn-north-1", ACCOUNT, "aws-cn")
    policy = "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    node = f"arn:aws-cn:iam::{ACCOUNT}:role/Nodes"
    plan = make_plan(
        planned(AccessEntrySpec(f"arn:aws-cn:iam::{ACCOUNT}:role/A", policies=(PolicyAssociation(policy),))),
        planned(AccessEntrySpec(node, EntryType.EC2_LINUX)),
        cluster=china,
    )
    text = export_cloudformation(select_entries(plan)).template
    assert policy in text and "arn:aws:" not in text and check_template(json.loads(text)) == []
