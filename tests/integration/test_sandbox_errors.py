"""The sandbox answers what EKS refuses as EKS does: rest-json errors (status, `x-amzn-ErrorType`, a JSON
`message`) that botocore turns into a ClientError with the right code, never an HTML page or a traceback.

Bodies botocore would never send (not JSON, wrong types) are put on the wire by a `before-sign` hook, so
the request is still signed and the answer still parsed by botocore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config

from migrator.sandbox.scenario import parse_scenario
from migrator.sandbox.server import Sandbox
from tests.integration.conftest import ACCOUNT, ADMIN, REGION, SandboxFactory, client

pytestmark = pytest.mark.integration

DEV = f"arn:aws:iam::{ACCOUNT}:role/Dev"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
CN_VIEW = "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def refusal(call: Callable[..., Any], **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/json"
    assert headers["x-amzn-errortype"] == response["Error"]["Code"]
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def with_body(eks: Any, operation: str, body: bytes) -> None:
    """From now on `operation` sends `body` instead of what botocore serialized."""

    def replace(request: AWSRequest, **_: Any) -> None:
        request.data = body
        request.headers["Content-Length"] = str(len(body))

    eks.meta.events.register(f"before-sign.eks.{operation}", replace)


def with_path(eks: Any, operation: str, path: str) -> None:
    """From now on `operation` goes to `path` (a route EKS does not have)."""

    def replace(request: AWSRequest, **_: Any) -> None:
        request.url = request.url.split("/clusters", 1)[0] + path

    eks.meta.events.register(f"before-sign.eks.{operation}", replace)


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("describe_cluster", {"name": "nope"}),
        ("delete_cluster", {"name": "nope"}),
        ("list_nodegroups", {"clusterName": "nope"}),  # moto: KeyError, an HTML 500
        ("describe_nodegroup", {"clusterName": "nope", "nodegroupName": "x"}),
        ("list_fargate_profiles", {"clusterName": "nope"}),
        ("list_updates", {"name": "nope"}),
        ("list_access_entries", {"clusterName": "nope"}),
        ("update_cluster_config", {"name": "nope", "accessConfig": {"authenticationMode": "API"}}),
    ],
)
def test_an_unknown_cluster_is_a_404_resource_not_found(eks: Any, operation: str, kwargs: dict[str, Any]) -> None:
    assert refusal(getattr(eks, operation), **kwargs) == (
        "ResourceNotFoundException",
        404,
        "No cluster found for name: nope.",
    )


def test_an_unknown_region_is_a_403_for_moto_routes_too(sandbox: Sandbox) -> None:
    eks = client(sandbox, region="xx-fake-1", attempts=1)
    code, status, _ = refusal(eks.list_nodegroups, clusterName="modern")
    assert (code, status) == ("InvalidSignatureException", 403)


@pytest.mark.parametrize(
    ("operation", "kwargs", "body", "code", "message"),
    [
        ("create_access_entry", {"clusterName": "modern", "principalArn": DEV}, b"not json",
         "SerializationException", "The request body is not valid JSON."),
        ("create_access_entry", {"clusterName": "modern", "principalArn": DEV}, b'["a"]',
         "SerializationException", "The request body must be a JSON object."),
        ("create_access_entry", {"clusterName": "modern", "principalArn": DEV},
         b'{"principalArn": "' + DEV.encode() + b'", "username": 5}',
         "SerializationException", "Cannot deserialize username: expected string, got int."),
        ("create_access_entry", {"clusterName": "modern", "principalArn": DEV},
         b'{"principalArn": "' + DEV.encode() + b'", "kubernetesGroups": "devs"}',
         "SerializationException", "Cannot deserialize kubernetesGroups: expected list<string>, got str."),
        ("create_access_entry", {"clusterName": "modern", "principalArn": DEV}, b"{}",
         "InvalidParameterException", "Missing required parameter: principalArn."),
        ("update_access_entry", {"clusterName": "modern", "principalArn": ADMIN}, b'{"username": ["a"]}',
         "SerializationException", "Cannot deserialize username: expected string, got list."),
        ("associate_access_policy",
         {"clusterName": "modern", "principalArn": ADMIN, "policyArn": VIEW, "accessScope": {"type": "cluster"}},
         b'{"policyArn": "' + VIEW.encode() + b'", "accessScope": "cluster"}',
         "SerializationException", "Cannot deserialize accessScope: expected structure, got str."),
        ("associate_access_policy",
         {"clusterName": "modern", "principalArn": ADMIN, "policyArn": VIEW, "accessScope": {"type": "cluster"}},
         b'{"policyArn": "' + VIEW.encode() + b'"}',
         "InvalidParameterException", "Missing required parameter: accessScope."),
        ("update_cluster_config", {"name": "modern", "accessConfig": {"authenticationMode": "API"}},
         b'{"accessConfig": "API"}',
         "SerializationException", "Cannot deserialize accessConfig: expected structure, got str."),
        ("create_cluster", {"name": "x", "roleArn": ADMIN, "resourcesVpcConfig": {}}, b"{oops",
         "SerializationException", "The request body is not valid JSON."),
        ("create_cluster", {"name": "x", "roleArn": ADMIN, "resourcesVpcConfig": {}}, b'{"name": "x"}',
         "InvalidParameterException", "Missing required parameter: resourcesVpcConfig."),
        ("create_nodegroup",
         {"clusterName": "legacy", "nodegroupName": "n", "subnets": ["s"], "nodeRole": ADMIN}, b"not json",
         "SerializationException", "The request body is not valid JSON."),
    ],
)  # fmt: skip
def test_a_malformed_body_is_a_400_with_the_protocols_code(
    eks: Any, operation: str, kwargs: dict[str, Any], body: bytes, code: str, message: str
) -> None:
    with_body(eks, eks.meta.method_to_api_mapping[operation], body)
    assert refusal(getattr(eks, operation), **kwargs) == (code, 400, message)


def test_wrong_field_types_from_a_client_without_validation_are_refused(sandbox: Sandbox) -> None:
    creds = sandbox.caller_credentials()
    loose = boto3.client(
        "eks",
        endpoint_url=sandbox.endpoint_url,
        region_name=REGION,
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds.get("AWS_SESSION_TOKEN"),
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    assert refusal(loose.create_access_entry, clusterName="modern", principalArn=DEV, username=5) == (
        "SerializationException",
        400,
        "Cannot deserialize username: expected string, got int.",
    )
    assert refusal(loose.create_access_entry, clusterName="modern", principalArn=7) == (
        "SerializationException",
        400,
        "Cannot deserialize principalArn: expected string, got int.",
    )


@pytest.mark.parametrize(
    ("query", "operation"),
    [("maxResults=abc", "list_clusters"), ("maxResults=0", "list_nodegroups"), ("maxResults=101", "list_updates")],
)
def test_a_bad_page_size_is_a_400_even_where_moto_answers(eks: Any, query: str, operation: str) -> None:
    def replace(request: AWSRequest, **_: Any) -> None:
        request.url = request.url.split("?", 1)[0] + "?" + query

    eks.meta.events.register(f"before-sign.eks.{eks.meta.method_to_api_mapping[operation]}", replace)
    kwargs = {"list_clusters": {}, "list_nodegroups": {"clusterName": "legacy"}, "list_updates": {"name": "legacy"}}
    code, status, message = refusal(getattr(eks, operation), **kwargs[operation])
    assert (code, status, message) == (
        "InvalidParameterException",
        400,
        "maxResults must be an integer between 1 and 100.",
    )


def test_a_path_eks_does_not_have_is_a_404_unknown_operation(eks: Any) -> None:
    with_path(eks, "ListClusters", "/no-such-operation")
    assert refusal(eks.list_clusters)[:2] == ("UnknownOperationException", 404)


@pytest.mark.parametrize(
    ("policy", "scope", "code", "status"),
    [
        ("arn:aws:eks::aws:cluster-access-policy/AmazonEKSNoSuchPolicy", {"type": "cluster"},
         "ResourceNotFoundException", 404),
        ("arn:aws:eks::aws:cluster-access-policy/", {"type": "cluster"}, "ResourceNotFoundException", 404),
        (CN_VIEW, {"type": "cluster"}, "InvalidParameterException", 400),
        (VIEW, {"type": "bogus"}, "InvalidParameterException", 400),
        (VIEW, {"type": "namespace"}, "InvalidParameterException", 400),
        (VIEW, {"type": "cluster", "namespaces": ["a"]}, "InvalidParameterException", 400),
    ],
)  # fmt: skip
def test_unknown_policies_and_bad_scopes(eks: Any, policy: str, scope: dict[str, Any], code: str, status: int) -> None:
    kwargs = {"clusterName": "modern", "principalArn": ADMIN, "policyArn": policy, "accessScope": scope}
    assert refusal(eks.associate_access_policy, **kwargs)[:2] == (code, status)


CHINA = f"""\
schema: aws-auth-migrate/scenario/v1
clusters:
  - name: china
    region: cn-north-1
    account: "{ACCOUNT}"
    version: "1.31"
    authenticationMode: API_AND_CONFIG_MAP
    creator: arn:aws-cn:iam::{ACCOUNT}:role/Admin
iam:
  roles:
    - arn: arn:aws-cn:iam::{ACCOUNT}:role/Admin
    - arn: arn:aws-cn:iam::{ACCOUNT}:role/Dev
    - arn: arn:aws:iam::{ACCOUNT}:role/Dev
caller: arn:aws-cn:iam::{ACCOUNT}:role/Admin
"""


def test_a_china_cluster_refuses_principals_and_policies_of_another_partition(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(parse_scenario(CHINA, "china.yaml"))
    eks = client(sandbox, region="cn-north-1")
    assert eks.describe_cluster(name="china")["cluster"]["arn"].startswith("arn:aws-cn:eks:cn-north-1:")
    code, status, message = refusal(
        eks.create_access_entry, clusterName="china", principalArn=f"arn:aws:iam::{ACCOUNT}:role/Dev"
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == "The specified principalArn is invalid: its partition aws is not the cluster's partition aws-cn."
    dev = f"arn:aws-cn:iam::{ACCOUNT}:role/Dev"
    eks.create_access_entry(clusterName="china", principalArn=dev)
    code, status, message = refusal(
        eks.associate_access_policy,
        clusterName="china",
        principalArn=dev,
        policyArn=VIEW,
        accessScope={"type": "cluster"},
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == (
        f"The specified policyArn {VIEW} is invalid: its partition aws is not the cluster's partition aws-cn."
    )
    associated = eks.associate_access_policy(
        clusterName="china", principalArn=dev, policyArn=CN_VIEW, accessScope={"type": "cluster"}
    )
    assert associated["associatedAccessPolicy"]["policyArn"] == CN_VIEW
    arns = {p["arn"] for p in eks.list_access_policies()["accessPolicies"]}
    assert CN_VIEW in arns and all(a.startswith("arn:aws-cn:") for a in arns)
