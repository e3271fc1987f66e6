"""Plan -> CloudFormation: a template of `AWS::EKS::AccessEntry` resources with their `AccessPolicies`, and
the `ResourcesToImport` list for a change set of type IMPORT, so a stack adopts the entries without a change.

Checked against the CloudFormation Template Reference:
- aws-resource-eks-accessentry: properties AccessPolicies (list of AccessPolicy), ClusterName (String,
  required), KubernetesGroups (list of String), PrincipalArn (String, required), Tags (list of Tag),
  Type (String), Username (String).
- aws-properties-eks-accessentry-accesspolicy: PolicyArn (String) and AccessScope (required);
  AccessScope: Type (`namespace` or `cluster`) and Namespaces (list of String).
- The resource's primary identifier is PrincipalArn and ClusterName (the Cloud Control identifier is
  `<PrincipalArn>|<ClusterName>`), so each ResourceIdentifier names both (CloudFormation API Reference,
  ResourceToImport: LogicalResourceId, ResourceType, ResourceIdentifier as a string map).
- Every resource of an import must carry a DeletionPolicy: `Retain`, so deleting the stack (or dropping a
  resource from it) never takes anyone's access away by accident.

Unlike Terraform, CloudFormation keeps an entry's policies inside the entry: changing a scope updates the
entry without interruption (the documentation's "Update requires: No interruption").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from migrator.export.entries import ExportedEntry, ExportSet, Origin
from migrator.export.naming import logical_ids
from migrator.model import EntryType, PolicyAssociation, ScopeType

RESOURCE_TYPE = "AWS::EKS::AccessEntry"
METADATA_KEY = "AwsAuthMigrate"

_ORIGIN_NOTES = {
    Origin.CREATED: "created by the migration (aws-auth-migrate apply)",
    Origin.ADOPTED: "existed before the migration, which kept it as it is",
    Origin.REPAIRED: "a Windows managed node group role's entry, replaced by the migration with EC2_WINDOWS",
    Origin.EKS_MANAGED: "made by EKS for a managed node group or Fargate profile, which deletes it with them",
    Origin.CREATOR: "the cluster creator's admin entry, made by EKS at the first switch and kept by the migration",
}


@dataclass(frozen=True)
class CloudFormationExport:
    template: str
    resources_to_import: str
    resources: int

    def combined(self) -> str:
        """Both as one YAML stream of two documents (JSON is YAML), for stdout."""
        return f"{self.template}---\n{self.resources_to_import}"


def export_cloudformation(selected: ExportSet) -> CloudFormationExport:
    cluster = selected.cluster
    ids = logical_ids((e.spec.principal_arn for e in selected.entries), cluster.account)
    resources = {ids[e.spec.principal_arn]: _resource(e, cluster.name) for e in selected.entries}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"Access entries of EKS cluster {cluster.name} ({cluster.region}, account {cluster.account}), exported "
            "by aws-auth-migrate for a change set of type IMPORT"
        ),
        "Resources": resources,
    }
    to_import = [
        {
            "ResourceType": RESOURCE_TYPE,
            "LogicalResourceId": ids[e.spec.principal_arn],
            "ResourceIdentifier": {"PrincipalArn": e.spec.principal_arn, "ClusterName": cluster.name},
        }
        for e in selected.entries
    ]
    return CloudFormationExport(_json(template), _json(to_import), len(resources))


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _resource(entry: ExportedEntry, cluster_name: str) -> dict[str, Any]:
    spec = entry.spec
    properties: dict[str, Any] = {"ClusterName": cluster_name, "PrincipalArn": spec.principal_arn}
    properties["Type"] = spec.type.value
    if spec.type is EntryType.STANDARD and spec.username is not None:
        properties["Username"] = spec.username
    if spec.type is EntryType.STANDARD and spec.groups:
        properties["KubernetesGroups"] = list(spec.groups)
    if spec.policies:
        properties["AccessPolicies"] = [_policy(p) for p in spec.policies]
    return {
        "Type": RESOURCE_TYPE,
        "DeletionPolicy": "Retain",
        "Metadata": {METADATA_KEY: {"origin": entry.origin.value, "note": _ORIGIN_NOTES[entry.origin]}},
        "Properties": properties,
    }


def _policy(policy: PolicyAssociation) -> dict[str, Any]:
    scope: dict[str, Any] = {"Type": policy.scope.type.value}
    if policy.scope.type is ScopeType.NAMESPACE:
        scope["Namespaces"] = list(policy.scope.namespaces)
    return {"PolicyArn": policy.policy_arn, "AccessScope": scope}
