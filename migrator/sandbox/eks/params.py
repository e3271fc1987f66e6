"""The JSON body of each EKS request the sandbox routes, checked before any handler (or moto) reads it.

EKS speaks rest-json (Smithy's restJson1). That protocol answers a body that is not a JSON object, or a
member of the wrong JSON type, with HTTP 400 `SerializationException`; members it does not know are ignored,
and `null` counts as absent. A missing required member is answered here with EKS's own
`InvalidParameterException` (the wording is ours). Without these checks a wrong type reached the handlers
(or moto) and came back as an HTML 500.

The table lists every body member of botocore's input shape (tests/unit/test_eks_request_params.py compares
them); URI labels and query strings are not in the body. A type is "string", "integer", "boolean",
"list<T>", "map<T>", "object" (any JSON object: a structure the sandbox never looks into), or a `Struct`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from migrator.sandbox.eks.requests import EksError


@dataclass(frozen=True)
class Struct:
    members: Mapping[str, Spec]
    required: frozenset[str] = frozenset()


Spec = str | Struct

_VPC = Struct(
    {
        "subnetIds": "list<string>",
        "securityGroupIds": "list<string>",
        "endpointPublicAccess": "boolean",
        "endpointPrivateAccess": "boolean",
        "publicAccessCidrs": "list<string>",
        "controlPlaneEgressMode": "string",
    }
)
# Cluster settings the sandbox passes to moto untouched: their type is checked, their inside is moto's.
_CLUSTER_SETTINGS: dict[str, Spec] = {
    "kubernetesNetworkConfig": "object",
    "logging": "object",
    "upgradePolicy": "object",
    "zonalShiftConfig": "object",
    "remoteNetworkConfig": "object",
    "computeConfig": "object",
    "storageConfig": "object",
    "deletionProtection": "boolean",
    "controlPlaneScalingConfig": "object",
    "kubeApiServerConfig": "object",
    "kubeSchedulerConfig": "object",
    "kubeControllerManagerConfig": "object",
}

BODIES: dict[str, Struct] = {
    "CreateAccessEntry": Struct(
        {
            "principalArn": "string",
            "kubernetesGroups": "list<string>",
            "tags": "map<string>",
            "clientRequestToken": "string",
            "username": "string",
            "type": "string",
        },
        frozenset({"principalArn"}),
    ),
    "UpdateAccessEntry": Struct(
        {"kubernetesGroups": "list<string>", "clientRequestToken": "string", "username": "string"}
    ),
    "AssociateAccessPolicy": Struct(
        {"policyArn": "string", "accessScope": Struct({"type": "string", "namespaces": "list<string>"})},
        frozenset({"policyArn", "accessScope"}),
    ),
    "UpdateClusterConfig": Struct(
        {
            **_CLUSTER_SETTINGS,
            "resourcesVpcConfig": _VPC,
            "clientRequestToken": "string",
            "accessConfig": Struct({"authenticationMode": "string"}),
        }
    ),
    "CreateCluster": Struct(
        {
            **_CLUSTER_SETTINGS,
            "name": "string",
            "version": "string",
            "roleArn": "string",
            "resourcesVpcConfig": _VPC,
            "clientRequestToken": "string",
            "tags": "map<string>",
            "encryptionConfig": "list<object>",
            "outpostConfig": "object",
            "accessConfig": Struct(
                {"bootstrapClusterCreatorAdminPermissions": "boolean", "authenticationMode": "string"}
            ),
            "bootstrapSelfManagedAddons": "boolean",
        },
        frozenset({"name", "roleArn", "resourcesVpcConfig"}),
    ),
    "CreateNodegroup": Struct(
        {
            "nodegroupName": "string",
            "scalingConfig": Struct({"minSize": "integer", "maxSize": "integer", "desiredSize": "integer"}),
            "diskSize": "integer",
            "subnets": "list<string>",
            "instanceTypes": "list<string>",
            "amiType": "string",
            "remoteAccess": "object",
            "nodeRole": "string",
            "labels": "map<string>",
            "taints": "list<object>",
            "tags": "map<string>",
            "clientRequestToken": "string",
            "launchTemplate": "object",
            "updateConfig": "object",
            "nodeRepairConfig": "object",
            "capacityType": "string",
            "version": "string",
            "releaseVersion": "string",
            "warmPoolConfig": "object",
        },
        frozenset({"nodegroupName", "subnets", "nodeRole"}),
    ),
    "CreateFargateProfile": Struct(
        {
            "fargateProfileName": "string",
            "podExecutionRoleArn": "string",
            "subnets": "list<string>",
            "selectors": "list<object>",
            "clientRequestToken": "string",
            "tags": "map<string>",
        },
        frozenset({"fargateProfileName", "podExecutionRoleArn"}),
    ),
}

_SCALARS: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "boolean": (bool,), "object": (dict,)}


def _type_error(path: str, spec: Spec, value: Any) -> EksError:
    expected = "structure" if isinstance(spec, Struct) else spec
    return EksError(
        "SerializationException", f"Cannot deserialize {path}: expected {expected}, got {type(value).__name__}."
    )


def _check(path: str, spec: Spec, value: Any) -> None:
    if isinstance(spec, Struct):
        if not isinstance(value, dict):
            raise _type_error(path, spec, value)
        check_struct(spec, value, path + ".")
    elif spec.startswith("list<"):
        if not isinstance(value, list):
            raise _type_error(path, spec, value)
        for index, item in enumerate(value):
            if item is None:  # EKS's lists are dense
                raise _type_error(f"{path}[{index}]", spec[5:-1], item)
            _check(f"{path}[{index}]", spec[5:-1], item)
    elif spec.startswith("map<"):
        if not isinstance(value, dict):
            raise _type_error(path, spec, value)
        for key, item in value.items():
            _check(f"{path}.{key}", spec[4:-1], item)
    elif (isinstance(value, bool) and spec == "integer") or not isinstance(value, _SCALARS[spec]):
        raise _type_error(path, spec, value)


def check_struct(spec: Struct, value: dict[str, Any], prefix: str = "") -> None:
    """Raise EksError for the first member of the wrong JSON type, then for a missing required member."""
    for name, member in spec.members.items():
        if value.get(name) is not None:
            _check(prefix + name, member, value[name])
    for name in sorted(spec.required):
        if value.get(name) is None:
            raise EksError("InvalidParameterException", f"Missing required parameter: {prefix}{name}.")


def parse_body(operation: str, body: bytes) -> dict[str, Any]:
    """The members of a request body, checked against the operation's table; {} for an empty body."""
    spec = BODIES.get(operation)
    if spec is None:
        return {}
    if not body.strip():
        loaded: Any = {}
    else:
        try:
            loaded = json.loads(body)
        except ValueError:
            raise EksError("SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(loaded, dict):
        raise EksError("SerializationException", "The request body must be a JSON object.")
    check_struct(spec, loaded)
    return loaded
