"""Every field the tool reads from an EKS response exists in botocore's output shape for that operation.

botocore drops response keys its model does not know and never complains about a key we ask for that it
cannot have, so a misspelt field would read as "absent" forever. Add each field the code reads here.
Paths: `a.b` for structure members, `a[]` for list members, `a{}` for map values.
"""

from __future__ import annotations

import botocore.session
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

FIELDS_READ: dict[str, list[str]] = {
    "DescribeCluster": [
        "cluster.name",
        "cluster.arn",
        "cluster.version",
        "cluster.platformVersion",
        "cluster.endpoint",
        "cluster.status",
        "cluster.certificateAuthority.data",
        "cluster.accessConfig.authenticationMode",
        "cluster.accessConfig.bootstrapClusterCreatorAdminPermissions",
        "cluster.remoteNetworkConfig.remoteNodeNetworks[].cidrs[]",
    ],
    "ListClusters": ["clusters[]", "nextToken"],
    "ListNodegroups": ["nodegroups[]", "nextToken"],
    "DescribeNodegroup": ["nodegroup.nodegroupName", "nodegroup.nodeRole", "nodegroup.amiType"],
    "ListFargateProfiles": ["fargateProfileNames[]", "nextToken"],
    "DescribeFargateProfile": ["fargateProfile.fargateProfileName", "fargateProfile.podExecutionRoleArn"],
    "ListAccessEntries": ["accessEntries[]", "nextToken"],
    "DescribeAccessEntry": [
        "accessEntry.clusterName",
        "accessEntry.principalArn",
        "accessEntry.type",
        "accessEntry.username",
        "accessEntry.kubernetesGroups[]",
        "accessEntry.accessEntryArn",
        "accessEntry.createdAt",
        "accessEntry.modifiedAt",
        "accessEntry.tags{}",
    ],
    "CreateAccessEntry": ["accessEntry.principalArn", "accessEntry.type", "accessEntry.username"],
    "UpdateAccessEntry": ["accessEntry.principalArn", "accessEntry.username", "accessEntry.kubernetesGroups[]"],
    "ListAssociatedAccessPolicies": [
        "associatedAccessPolicies[].policyArn",
        "associatedAccessPolicies[].accessScope.type",
        "associatedAccessPolicies[].accessScope.namespaces[]",
        "associatedAccessPolicies[].associatedAt",
        "nextToken",
    ],
    "AssociateAccessPolicy": [
        "associatedAccessPolicy.policyArn",
        "associatedAccessPolicy.accessScope.type",
        "associatedAccessPolicy.accessScope.namespaces[]",
    ],
    "ListAccessPolicies": ["accessPolicies[].name", "accessPolicies[].arn", "nextToken"],
    "UpdateClusterConfig": [
        "update.id",
        "update.status",
        "update.type",
        "update.params[].type",
        "update.params[].value",
    ],
    "DescribeUpdate": [
        "update.id",
        "update.status",
        "update.type",
        "update.createdAt",
        "update.errors[].errorCode",
        "update.errors[].errorMessage",
    ],
    "ListUpdates": ["updateIds[]", "nextToken"],
}

_MODEL = botocore.session.get_session().get_service_model("eks")


def resolve(shape: Shape, path: str) -> Shape:
    """The shape at `path` below `shape`; KeyError naming the first step that does not exist."""
    for step in path.split("."):
        name = step.rstrip("[]{}")
        suffix = step[len(name) :]
        if not isinstance(shape, StructureShape) or name not in shape.members:
            raise KeyError(f"{name!r} is not a member of {shape.name}")
        shape = shape.members[name]
        for marker in (suffix[i : i + 2] for i in range(0, len(suffix), 2)):
            if marker == "[]" and isinstance(shape, ListShape):
                shape = shape.member
            elif marker == "{}" and isinstance(shape, MapShape):
                shape = shape.value
            else:
                raise KeyError(f"{name!r} ({shape.type_name}) is not indexed with {marker}")
    return shape


@pytest.mark.parametrize(
    ("operation", "path"), [(operation, path) for operation, paths in FIELDS_READ.items() for path in paths]
)
def test_field_exists_in_botocore_output_shape(operation: str, path: str) -> None:
    output = _MODEL.operation_model(operation).output_shape
    assert output is not None, f"{operation} has no output"
    resolve(output, path)


def test_resolve_rejects_unknown_fields() -> None:
    output = _MODEL.operation_model("DescribeAccessEntry").output_shape
    with pytest.raises(KeyError):
        resolve(output, "accessEntry.kubernetesGroup[]")
    with pytest.raises(KeyError):
        resolve(output, "accessEntry.username[]")
