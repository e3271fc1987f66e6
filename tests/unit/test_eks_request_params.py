"""The sandbox's table of EKS request bodies agrees with botocore's input shapes, member by member.

A member missing from the table would reach a handler (or moto) unchecked; a wrong type would refuse what
real clients send. Only body members count: URI labels and query strings are not in the JSON body.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

from migrator.sandbox.eks.ext import ROUTES
from migrator.sandbox.eks.params import BODIES, Spec, Struct, parse_body
from migrator.sandbox.eks.requests import EksError

MODEL = botocore.session.get_session().get_service_model("eks")
_SCALARS = {"string": "string", "integer": "integer", "boolean": "boolean"}


def _body_members(shape: StructureShape) -> dict[str, Shape]:
    return {name: member for name, member in shape.members.items() if not member.serialization.get("location")}


def _mismatches(spec: Spec, shape: Shape, path: str) -> list[str]:
    if isinstance(spec, Struct):
        if not isinstance(shape, StructureShape):
            return [f"{path}: table says structure, botocore {shape.type_name}"]
        members = _body_members(shape)
        found = (
            [f"{path}: members {sorted(set(spec.members) ^ set(members))} differ"]
            if set(spec.members) != set(members)
            else []
        )
        if set(spec.required) != set(shape.required_members) & set(members):
            found.append(f"{path}: required {sorted(spec.required)} != {sorted(shape.required_members)}")
        for name, member in spec.members.items():
            if name in members:
                found += _mismatches(member, members[name], f"{path}.{name}")
        return found
    if spec == "object":
        return [] if isinstance(shape, StructureShape) else [f"{path}: table says object, botocore {shape.type_name}"]
    if spec.startswith("list<"):
        if not isinstance(shape, ListShape):
            return [f"{path}: table says {spec}, botocore {shape.type_name}"]
        return _mismatches(spec[5:-1], shape.member, f"{path}[]")
    if spec.startswith("map<"):
        if not isinstance(shape, MapShape):
            return [f"{path}: table says {spec}, botocore {shape.type_name}"]
        return _mismatches(spec[4:-1], shape.value, f"{path}{{}}")
    return [] if _SCALARS.get(shape.type_name) == spec else [f"{path}: table says {spec}, botocore {shape.type_name}"]


@pytest.mark.parametrize("operation", sorted(BODIES))
def test_each_body_is_botocores_input_shape(operation: str) -> None:
    shape = MODEL.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    assert _mismatches(BODIES[operation], shape, operation) == []


def test_every_routed_operation_with_a_body_is_in_the_table() -> None:
    with_body = {
        operation
        for _, _, operation in ROUTES
        if _body_members(MODEL.operation_model(operation).input_shape)  # type: ignore[arg-type]
    }
    assert with_body == set(BODIES)


@pytest.mark.parametrize(
    ("operation", "body", "code", "message"),
    [
        ("CreateAccessEntry", b"{not json", "SerializationException", "The request body is not valid JSON."),
        ("CreateAccessEntry", b'["a"]', "SerializationException", "The request body must be a JSON object."),
        ("CreateAccessEntry", b"{}", "InvalidParameterException", "Missing required parameter: principalArn."),
        ("CreateAccessEntry", b'{"principalArn": "a", "kubernetesGroups": ["g", null]}', "SerializationException",
         "Cannot deserialize kubernetesGroups[1]: expected string, got NoneType."),
        ("CreateAccessEntry", b'{"principalArn": "a", "tags": {"k": 1}}', "SerializationException",
         "Cannot deserialize tags.k: expected string, got int."),
        ("AssociateAccessPolicy", b'{"policyArn": "p", "accessScope": {"namespaces": "ns"}}',
         "SerializationException", "Cannot deserialize accessScope.namespaces: expected list<string>, got str."),
        ("CreateNodegroup", b'{"nodegroupName": "n", "subnets": [], "nodeRole": "r", "diskSize": true}',
         "SerializationException", "Cannot deserialize diskSize: expected integer, got bool."),
        ("CreateCluster", b'{"name": "c", "roleArn": "r", "resourcesVpcConfig": {"subnetIds": "s"}}',
         "SerializationException", "Cannot deserialize resourcesVpcConfig.subnetIds: expected list<string>, got str."),
    ],
)  # fmt: skip
def test_malformed_bodies(operation: str, body: bytes, code: str, message: str) -> None:
    with pytest.raises(EksError) as refused:
        parse_body(operation, body)
    assert (refused.value.code, refused.value.message) == (code, message)


@pytest.mark.parametrize(
    ("operation", "body", "parsed"),
    [
        ("UpdateAccessEntry", b"", {}),
        ("CreateAccessEntry", b'{"principalArn": "a", "username": null, "extra": 1}',
         {"principalArn": "a", "username": None, "extra": 1}),  # null is absent; unknown members are ignored
        ("ListAccessEntries", b"anything", {}),  # no body members: the body is not read
    ],
)  # fmt: skip
def test_well_formed_bodies(operation: str, body: bytes, parsed: dict[str, Any]) -> None:
    assert parse_body(operation, body) == parsed
