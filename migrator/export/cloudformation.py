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
entry without interruption (the documentation's "Update requires: No interruption"), and an entry is always
whole in one template.

A large cluster does not fit one template: CreateChangeSet takes at most 200 ResourcesToImport (botocore's
model of the API; a template holds at most 500 resources) and a template body passed inline at most 51,200
bytes (1 MB from S3; eks-facts.md section 4b). The export is then split into parts, each a template of its
own for a stack of its own, within both limits. An entry's part is a function of its principal alone: the
entries whose SHA-256 of PrincipalArn starts with the same bits, as few bits as make each part fit (part "" is
all of them, then "0" and "1", then "00", ...). Adding principals therefore never moves an entry to another
part unless its part no longer fits; then that part splits in two and only its entries move.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from migrator.errors import InputError
from migrator.export.entries import ExportedEntry, ExportSet, Origin
from migrator.export.naming import logical_ids
from migrator.model import ClusterRef, EntryType, PolicyAssociation, ScopeType

RESOURCE_TYPE = "AWS::EKS::AccessEntry"
METADATA_KEY = "AwsAuthMigrate"
MAX_IMPORTED_RESOURCES = 200  # CreateChangeSet's ResourcesToImport (a template itself may hold 500)
MAX_INLINE_BYTES = 51_200  # a template body passed in the request (--template-body)
MAX_S3_BYTES = 1_000_000  # a template body read from S3 (--template-url): 1 MB

_ORIGIN_NOTES = {
    Origin.CREATED: "created by the migration (aws-auth-migrate apply)",
    Origin.ADOPTED: "existed before the migration, which kept it as it is",
    Origin.REPAIRED: "a Windows managed node group role's entry, replaced by the migration with EC2_WINDOWS",
    Origin.EKS_MANAGED: "made by EKS for a managed node group or Fargate profile, which deletes it with them",
    Origin.CREATOR: "the cluster creator's admin entry, made by EKS at the first switch and kept by the migration",
}


@dataclass(frozen=True)
class CloudFormationPart:
    """One template and its ResourcesToImport, for one stack of its own: the entries whose SHA-256 of their
    PrincipalArn starts with `bits` ("" when the export is one part)."""

    bits: str
    template: str
    resources_to_import: str
    resources: int

    @property
    def template_bytes(self) -> int:
        return len(self.template.encode("utf-8"))

    @property
    def inline(self) -> bool:
        """Whether the template may be passed as --template-body; otherwise it must be read from S3."""
        return self.template_bytes <= MAX_INLINE_BYTES


@dataclass(frozen=True)
class CloudFormationExport:
    parts: tuple[CloudFormationPart, ...]

    @property
    def resources(self) -> int:
        return sum(part.resources for part in self.parts)

    def combined(self) -> str:
        """Every part's template and import list as one YAML stream of JSON documents (JSON is YAML), for stdout."""
        return "---\n".join(f"{part.template}---\n{part.resources_to_import}" for part in self.parts)


def export_cloudformation(selected: ExportSet) -> CloudFormationExport:
    """The entries in as few bit-prefix parts as keep every template within CloudFormation's limits."""
    ids = logical_ids((e.spec.principal_arn for e in selected.entries), selected.cluster.account)
    keyed = [(_bits(e.spec.principal_arn), e) for e in selected.entries]
    return CloudFormationExport(tuple(_parts(selected.cluster, ids, keyed, "")))


def _bits(principal_arn: str) -> str:
    digest = hashlib.sha256(principal_arn.encode()).digest()
    return "".join(f"{byte:08b}" for byte in digest)


def _parts(
    cluster: ClusterRef, ids: Mapping[str, str], keyed: Sequence[tuple[str, ExportedEntry]], bits: str
) -> list[CloudFormationPart]:
    entries = [entry for _, entry in keyed]
    part = _part(cluster, ids, entries, bits, whole=not bits)
    if (part.inline and part.resources <= MAX_IMPORTED_RESOURCES) or len(entries) <= 1:
        if part.template_bytes > MAX_S3_BYTES:
            raise InputError(
                f"the access entry of {entries[0].spec.principal_arn} alone makes a CloudFormation template of "
                f"{part.template_bytes} bytes, more than CloudFormation reads (1 MB)",
                hint="export it with --format terraform, or shorten its groups and namespaces",
            )
        return [part]
    found: list[CloudFormationPart] = []
    for bit in "01":
        half = [(digest, entry) for digest, entry in keyed if digest[len(bits)] == bit]
        if half:
            found += _parts(cluster, ids, half, bits + bit)
    return found


def _part(
    cluster: ClusterRef, ids: Mapping[str, str], entries: Sequence[ExportedEntry], bits: str, *, whole: bool
) -> CloudFormationPart:
    description = (
        f"Access entries of EKS cluster {cluster.name} ({cluster.region}, account {cluster.account}), exported "
        "by aws-auth-migrate for a change set of type IMPORT"
    )
    if not whole:
        description += f"; part {bits}: the entries whose SHA-256 of PrincipalArn starts with the bits {bits}"
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Resources": {ids[e.spec.principal_arn]: _resource(e, cluster.name) for e in entries},
    }
    to_import = [
        {
            "ResourceType": RESOURCE_TYPE,
            "LogicalResourceId": ids[e.spec.principal_arn],
            "ResourceIdentifier": {"PrincipalArn": e.spec.principal_arn, "ClusterName": cluster.name},
        }
        for e in entries
    ]
    return CloudFormationPart(bits, _json(template), _json(to_import), len(entries))


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
