"""The CloudFormation export against AWS::EKS::AccessEntry's documented properties (CloudFormation Template
Reference: aws-resource-eks-accessentry, aws-properties-eks-accessentry-accesspolicy and -accessscope),
written out here by hand so the exporter cannot agree with itself."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
from ruamel.yaml import YAML

from migrator.errors import InputError
from migrator.export import CloudFormationExport, CloudFormationPart, export_cloudformation, select_entries
from migrator.export.cloudformation import MAX_IMPORTED_RESOURCES, MAX_INLINE_BYTES
from migrator.model import AccessEntrySpec, ClusterRef, EntryType, PlannedEntry, PolicyAssociation
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


def only(exported: CloudFormationExport) -> CloudFormationPart:
    [part] = exported.parts
    assert part.bits == ""
    return part


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
    template = json.loads(only(exported).template)
    assert check_template(template) == []


def test_each_entry_is_described_exactly_as_the_plan_says() -> None:
    template = json.loads(only(export_cloudformation(select_entries(PLAN))).template)
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
    exported = only(export_cloudformation(select_entries(PLAN)))
    template = json.loads(exported.template)
    to_import = json.loads(exported.resources_to_import)
    assert sorted(r["LogicalResourceId"] for r in to_import) == sorted(template["Resources"])
    for item in to_import:
        assert set(item) == {"ResourceType", "LogicalResourceId", "ResourceIdentifier"}
        assert item["ResourceType"] == "AWS::EKS::AccessEntry"
        properties = template["Resources"][item["LogicalResourceId"]]["Properties"]
        assert item["ResourceIdentifier"] == {"PrincipalArn": properties["PrincipalArn"], "ClusterName": "prod"}


def test_logical_ids_are_readable_and_unique() -> None:
    template = json.loads(only(export_cloudformation(select_entries(PLAN))).template)
    assert sorted(template["Resources"]) == sorted(
        ["RoleAdmin", "RoleDev", "UserMaria", f"RoleDeployer{OTHER_ACCOUNT}", "RoleViewer", "RoleWinNodes"]
    )
    alike = make_plan(*(planned(AccessEntrySpec(role(n))) for n in ("ci.bot", "ci-bot", "CiBot", "Ci_Bot")))
    ids = list(json.loads(only(export_cloudformation(select_entries(alike))).template)["Resources"])
    assert len({i.lower() for i in ids}) == 4 and all(i.startswith("RoleCi") for i in ids)


def test_adding_a_principal_that_sanitises_alike_changes_no_logical_id() -> None:
    """Issue 20 #12, for CloudFormation: a changed logical ID is a resource removed (retained) and another
    created, which fails on the entry that still exists."""
    before = make_plan(planned(AccessEntrySpec(role("ci.bot"))), planned(AccessEntrySpec(role("CiBot"))))
    after = make_plan(*(planned(AccessEntrySpec(role(n))) for n in ("ci.bot", "CiBot", "ci-bot", "Ci_Bot")))
    old = json.loads(only(export_cloudformation(select_entries(before))).template)["Resources"]
    new = json.loads(only(export_cloudformation(select_entries(after))).template)["Resources"]
    assert {k: v["Properties"]["PrincipalArn"] for k, v in old.items()} == {
        k: v["Properties"]["PrincipalArn"] for k, v in new.items() if k in old
    }
    assert len(old) == 2 and len(new) == 4 and "RoleCiBot" in old


def test_stdout_is_one_yaml_stream_of_the_template_and_the_import_list_and_is_deterministic() -> None:
    exported = export_cloudformation(select_entries(PLAN))
    template, to_import = YAML(typ="safe", pure=True).load_all(io.StringIO(exported.combined()))
    part = only(exported)
    assert template == json.loads(part.template) and to_import == json.loads(part.resources_to_import)
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
    text = only(export_cloudformation(select_entries(plan))).template
    assert policy in text and "arn:aws:" not in text and check_template(json.loads(text)) == []


# --- a cluster too large for one template ---------------------------------------------------------------------


def many(count: int, start: int = 0) -> list[PlannedEntry]:
    return [
        planned(AccessEntrySpec(role(f"team-{i}.svc"), username=f"team-{i}", groups=("developers",),
                                policies=(PolicyAssociation(ADMIN_POLICY),)))
        for i in range(start, start + count)
    ]  # fmt: skip


def parts_by_arn(exported: CloudFormationExport) -> dict[str, str]:
    """principal ARN -> the bits of the part that holds it, checking every part on the way."""
    found: dict[str, str] = {}
    for part in exported.parts:
        template, to_import = json.loads(part.template), json.loads(part.resources_to_import)
        assert check_template(template) == []
        assert part.resources == len(template["Resources"]) == len(to_import) <= MAX_IMPORTED_RESOURCES
        assert len(part.template.encode()) <= MAX_INLINE_BYTES and part.inline
        assert sorted(r["LogicalResourceId"] for r in to_import) == sorted(template["Resources"])
        assert part.bits in template["Description"]
        for resource in template["Resources"].values():
            arn = resource["Properties"]["PrincipalArn"]
            assert arn not in found  # each entry once
            assert "".join(f"{b:08b}" for b in hashlib.sha256(arn.encode()).digest()).startswith(part.bits)
            found[arn] = part.bits
    return found


def test_a_large_export_is_split_into_templates_cloudformation_takes() -> None:
    """Issue 20 #9: 521 entries were one template of 521 resources (CloudFormation takes 500, a change set
    imports 200, and a template body passed inline is at most 51,200 bytes)."""
    exported = export_cloudformation(select_entries(make_plan(*many(521))))
    assert len(exported.parts) > 1 and exported.resources == 521
    found = parts_by_arn(exported)
    assert len(found) == 521
    # each entry whole, its policies inside it
    assert all(
        json.loads(p.template)["Resources"][r]["Properties"]["AccessPolicies"] for p in exported.parts
        for r in json.loads(p.template)["Resources"]
    )  # fmt: skip


def test_adding_principals_moves_an_entry_only_into_a_half_of_its_part() -> None:
    before = parts_by_arn(export_cloudformation(select_entries(make_plan(*many(300)))))
    after = parts_by_arn(export_cloudformation(select_entries(make_plan(*many(330)))))
    assert all(after[arn].startswith(bits) for arn, bits in before.items())
    stayed = sum(after[arn] == bits for arn, bits in before.items())
    assert stayed > len(before) // 2, (stayed, sorted(set(before.values())), sorted(set(after.values())))


def test_an_export_that_fits_is_one_template_as_before() -> None:
    exported = export_cloudformation(select_entries(make_plan(*many(60))))
    assert only(exported).resources == 60


def test_an_entry_too_large_to_pass_inline_is_a_part_of_its_own_that_needs_s3() -> None:
    groups = tuple(f"group-{i:05d}-{'x' * 40}" for i in range(1200))
    huge = planned(AccessEntrySpec(role("Huge"), username="huge", groups=groups))
    exported = export_cloudformation(select_entries(make_plan(huge, *many(3))))
    oversized = [p for p in exported.parts if not p.inline]
    assert [json.loads(p.resources_to_import)[0]["ResourceIdentifier"]["PrincipalArn"] for p in oversized] == [
        role("Huge")
    ]
    assert oversized[0].resources == 1 and all(p.inline for p in exported.parts if p is not oversized[0])

    too_large = planned(AccessEntrySpec(role("Huge"), username="huge", groups=groups * 20))
    with pytest.raises(InputError, match="more than CloudFormation reads"):
        export_cloudformation(select_entries(make_plan(too_large)))
