"""The sandbox's EKS extension, driven over HTTP by real boto3 clients (botocore's validation on).

Every operation the extension implements, every validation error with EKS's code and message, pagination,
the update lifecycle and its side effects, throttling and faults, and several accounts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from migrator.model import AccessEntrySpec
from migrator.rules.arn import parse_arn
from migrator.sandbox.server import Sandbox
from migrator.sandbox.state import SimEntry
from tests.integration.conftest import (
    ACCOUNT,
    ADMIN,
    OTHER_ACCOUNT,
    REGION,
    SCENARIO,
    SandboxFactory,
    client,
    end_updates,
    hold_updates,
    scenario,
)

pytestmark = pytest.mark.integration

CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
DEV = f"arn:aws:iam::{ACCOUNT}:role/Dev"
PATHY = f"arn:aws:iam::{ACCOUNT}:role/teams/x/Pathy"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/people/alice"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/NodeRole"
WIN_NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole"
POD_EXEC = f"arn:aws:iam::{ACCOUNT}:role/PodExec"
MODE_MESSAGE = (
    "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."
)


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def wait_update(eks: Any, cluster: str, update_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Polls the server: a generous deadline, since CI is a loaded 2-core machine."""
    deadline = time.monotonic() + timeout
    while True:
        update: dict[str, Any] = eks.describe_update(name=cluster, updateId=update_id)["update"]
        if update["status"] != "InProgress" or time.monotonic() > deadline:
            return update
        time.sleep(0.05)


def all_entries(eks: Any, cluster: str, **kwargs: Any) -> list[str]:
    pages = eks.get_paginator("list_access_entries").paginate(clusterName=cluster, **kwargs)
    return [arn for page in pages for arn in page["accessEntries"]]


# --- clusters ---------------------------------------------------------------------------------------


def test_describe_cluster_reports_access_config_versions_and_simulator_endpoint(sandbox: Sandbox, eks: Any) -> None:
    cluster = eks.describe_cluster(name="legacy")["cluster"]
    assert cluster["accessConfig"] == {
        "authenticationMode": "CONFIG_MAP",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    assert (cluster["version"], cluster["platformVersion"], cluster["status"]) == ("1.30", "eks.8", "ACTIVE")
    assert cluster["endpoint"] == f"{sandbox.kube_endpoint_url}/k8s/{ACCOUNT}/{REGION}/legacy"
    assert cluster["certificateAuthority"]["data"] == sandbox.ca_data
    assert cluster["arn"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/legacy"
    assert sorted(eks.list_clusters()["clusters"]) == ["legacy", "modern", "old-platform"]
    assert eks.list_nodegroups(clusterName="legacy")["nodegroups"] == ["linux", "windows"]
    assert eks.describe_nodegroup(clusterName="legacy", nodegroupName="windows")["nodegroup"]["amiType"] == (
        "WINDOWS_CORE_2022_x86_64"
    )
    assert eks.list_fargate_profiles(clusterName="legacy")["fargateProfileNames"] == ["fp"]


def test_unknown_cluster_is_resource_not_found(eks: Any) -> None:
    for call, kwargs in (
        (eks.describe_cluster, {"name": "nope"}),
        (eks.list_access_entries, {"clusterName": "nope"}),
        (eks.create_access_entry, {"clusterName": "nope", "principalArn": DEV}),
        (eks.update_cluster_config, {"name": "nope", "accessConfig": {"authenticationMode": "API"}}),
        (eks.list_updates, {"name": "nope"}),
    ):
        code, message, status = error_of(call, **kwargs)
        assert (code, status) == ("ResourceNotFoundException", 404)
        assert message == "No cluster found for name: nope."


def test_create_cluster_with_access_config(sandbox: Sandbox, eks: Any) -> None:
    vpc = {"subnetIds": ["subnet-1", "subnet-2"]}
    role = f"arn:aws:iam::{ACCOUNT}:role/eks-service"
    code, message, _ = error_of(
        eks.create_cluster,
        name="bad",
        roleArn=role,
        resourcesVpcConfig=vpc,
        accessConfig={"authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": False},
    )
    assert code == "InvalidParameterException"
    assert message == (
        "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP"
    )

    created = eks.create_cluster(name="plain", roleArn=role, resourcesVpcConfig=vpc)["cluster"]
    assert created["accessConfig"]["authenticationMode"] == "CONFIG_MAP"  # the API's default

    created = eks.create_cluster(
        name="fresh",
        version="1.31",
        roleArn=role,
        resourcesVpcConfig=vpc,
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True},
    )["cluster"]
    assert created["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert created["endpoint"].endswith(f"/k8s/{ACCOUNT}/{REGION}/fresh")
    # The creator (the caller's role, with its path) gets an admin entry at once.
    assert all_entries(eks, "fresh") == [ADMIN]
    policies = eks.list_associated_access_policies(clusterName="fresh", principalArn=ADMIN)
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [CLUSTER_ADMIN]

    # Node groups and Fargate profiles made on a cluster that reads entries get theirs right away.
    eks.create_nodegroup(
        clusterName="fresh",
        nodegroupName="w",
        nodeRole=WIN_NODE_ROLE,
        subnets=["subnet-1"],
        amiType="WINDOWS_FULL_2022_x86_64",
    )
    eks.create_fargate_profile(
        clusterName="fresh", fargateProfileName="f", podExecutionRoleArn=POD_EXEC, selectors=[{"namespace": "default"}]
    )
    types = {
        a: eks.describe_access_entry(clusterName="fresh", principalArn=a)["accessEntry"]["type"]
        for a in all_entries(eks, "fresh")
    }
    assert types == {ADMIN: "STANDARD", WIN_NODE_ROLE: "EC2_WINDOWS", POD_EXEC: "FARGATE_LINUX"}

    eks.delete_fargate_profile(clusterName="fresh", fargateProfileName="f")
    eks.delete_nodegroup(clusterName="fresh", nodegroupName="w")
    assert eks.delete_cluster(name="fresh")["cluster"]["name"] == "fresh"
    assert error_of(eks.list_access_entries, clusterName="fresh")[0] == "ResourceNotFoundException"
    assert sandbox.world.cluster(ACCOUNT, REGION, "fresh") is None


# --- authentication mode updates --------------------------------------------------------------------


def test_mode_update_lifecycle_and_side_effects(sandbox: Sandbox, eks: Any) -> None:
    hold_updates(sandbox)  # the checks below run while the update is InProgress, however slow the machine
    update = eks.update_cluster_config(name="legacy", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})[
        "update"
    ]
    assert update["status"] == "InProgress"
    assert update["type"] == "AccessConfigUpdate"
    assert update["params"] == [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}]
    assert update["errors"] == []
    assert eks.describe_cluster(name="legacy")["cluster"]["status"] == "UPDATING"
    # Still CONFIG_MAP until the update is done.
    assert error_of(eks.list_access_entries, clusterName="legacy")[1] == MODE_MESSAGE

    code, message, status = error_of(
        eks.update_cluster_config, name="legacy", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}
    )
    assert (code, status) == ("ResourceInUseException", 409)
    assert message == f"Cluster legacy currently has update {update['id']} in progress."
    code, _, _ = error_of(eks.update_cluster_config, name="legacy", logging={"clusterLogging": []})
    assert code == "ResourceInUseException"

    end_updates(sandbox, "legacy")
    assert wait_update(eks, "legacy", update["id"])["status"] == "Successful"
    cluster = eks.describe_cluster(name="legacy")["cluster"]
    assert (cluster["status"], cluster["accessConfig"]["authenticationMode"]) == ("ACTIVE", "API_AND_CONFIG_MAP")
    assert eks.list_updates(name="legacy")["updateIds"] == [update["id"]]

    entries = {
        arn: eks.describe_access_entry(clusterName="legacy", principalArn=arn)["accessEntry"]
        for arn in all_entries(eks, "legacy")
    }
    assert set(entries) == {ADMIN, NODE_ROLE, WIN_NODE_ROLE, POD_EXEC}
    # EKS's defect: the Windows node group's role gets EC2_LINUX too.
    assert entries[WIN_NODE_ROLE]["type"] == "EC2_LINUX"
    assert entries[NODE_ROLE]["type"] == "EC2_LINUX"
    assert entries[NODE_ROLE]["username"] == "system:node:{{EC2PrivateDNSName}}"
    assert entries[NODE_ROLE]["kubernetesGroups"] == ["system:nodes"]
    assert entries[POD_EXEC]["type"] == "FARGATE_LINUX"
    assert entries[POD_EXEC]["username"] == "system:node:{{SessionName}}"
    assert entries[ADMIN]["type"] == "STANDARD"
    assert entries[ADMIN]["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/{{{{SessionName}}}}"
    admin_policies = eks.list_associated_access_policies(clusterName="legacy", principalArn=ADMIN)
    assert admin_policies["associatedAccessPolicies"][0]["policyArn"] == CLUSTER_ADMIN
    assert admin_policies["associatedAccessPolicies"][0]["accessScope"] == {"type": "cluster", "namespaces": []}

    # The repair the migration tool makes: delete + create with the right type.
    eks.delete_access_entry(clusterName="legacy", principalArn=WIN_NODE_ROLE)
    repaired = eks.create_access_entry(clusterName="legacy", principalArn=WIN_NODE_ROLE, type="EC2_WINDOWS")
    assert repaired["accessEntry"]["kubernetesGroups"] == ["eks:kube-proxy-windows", "system:nodes"]

    # No way back, no repeat; then on to API.
    for current, target in (("API_AND_CONFIG_MAP", "CONFIG_MAP"), ("API_AND_CONFIG_MAP", "API_AND_CONFIG_MAP")):
        code, message, status = error_of(
            eks.update_cluster_config, name="legacy", accessConfig={"authenticationMode": target}
        )
        assert (code, status) == ("InvalidParameterException", 400)
        assert message == f"Unsupported authentication mode update from {current} to {target}"
    final = eks.update_cluster_config(name="legacy", accessConfig={"authenticationMode": "API"})["update"]
    end_updates(sandbox, "legacy")
    assert wait_update(eks, "legacy", final["id"])["status"] == "Successful"
    assert eks.describe_cluster(name="legacy")["cluster"]["accessConfig"]["authenticationMode"] == "API"
    assert eks.list_updates(name="legacy")["updateIds"] == [update["id"], final["id"]]
    code, message, _ = error_of(eks.update_cluster_config, name="legacy", accessConfig={"authenticationMode": "API"})
    assert message == "Unsupported authentication mode update from API to API"


def test_mode_update_rejects_skipping_and_old_platforms(eks: Any) -> None:
    code, message, _ = error_of(eks.update_cluster_config, name="legacy", accessConfig={"authenticationMode": "API"})
    assert (code, message) == (
        "InvalidParameterException",
        "Unsupported authentication mode update from CONFIG_MAP to API",
    )
    code, message, _ = error_of(
        eks.update_cluster_config, name="old-platform", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}
    )
    assert code == "InvalidRequestException"
    assert "platform version eks.5" in message
    code, message, _ = error_of(
        eks.update_cluster_config,
        name="legacy",
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
        logging={"clusterLogging": []},
    )
    assert (code, message) == ("InvalidParameterException", "Only one type of update can be allowed.")


def test_mode_update_does_not_duplicate_existing_entries(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox()
    eks = client(sandbox)
    hold_updates(sandbox)  # the hand-made entries below go in while the update is InProgress
    update = eks.update_cluster_config(name="legacy", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    # Someone adds the node role's entry by hand before EKS gets to it; EKS leaves it alone.
    with sandbox.world.lock:
        cluster = sandbox.world.cluster(ACCOUNT, REGION, "legacy")
        assert cluster is not None
        for arn in (NODE_ROLE, ADMIN):
            cluster.entries[parse_arn(arn).principal_key] = SimEntry(AccessEntrySpec(arn), "arn:x", 1.0, 1.0)
    end_updates(sandbox, "legacy")
    wait_update(eks, "legacy", update["update"]["id"])
    described = eks.describe_access_entry(clusterName="legacy", principalArn=NODE_ROLE)["accessEntry"]
    assert described["type"] == "STANDARD"
    # Not even the creator's existing entry gets the admin policy.
    policies = eks.list_associated_access_policies(clusterName="legacy", principalArn=ADMIN)
    assert policies["associatedAccessPolicies"] == []


def test_update_retried_with_the_same_token_returns_the_same_update(eks: Any) -> None:
    first = eks.update_cluster_config(
        name="legacy", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}, clientRequestToken="tok-1"
    )["update"]
    again = eks.update_cluster_config(
        name="legacy", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}, clientRequestToken="tok-1"
    )["update"]
    assert again["id"] == first["id"]


def test_other_cluster_updates_pass_through_to_moto_and_return_an_update(eks: Any) -> None:
    logging = {"clusterLogging": [{"types": ["audit"], "enabled": True}]}
    update = eks.update_cluster_config(name="modern", logging=logging)["update"]
    assert (update["type"], update["status"]) == ("LoggingUpdate", "InProgress")
    assert wait_update(eks, "modern", update["id"])["status"] == "Successful"
    assert eks.describe_cluster(name="modern")["cluster"]["logging"] == logging
    code, message, _ = error_of(eks.describe_update, name="modern", updateId="no-such-update")
    assert (code, message) == ("ResourceNotFoundException", "No update found for ID: no-such-update.")


# --- access entries ---------------------------------------------------------------------------------


def test_access_entry_operations_need_an_access_entry_mode(eks: Any) -> None:
    calls: tuple[tuple[Any, dict[str, Any]], ...] = (
        (eks.create_access_entry, {"principalArn": DEV}),
        (eks.describe_access_entry, {"principalArn": DEV}),
        (eks.list_access_entries, {}),
        (eks.update_access_entry, {"principalArn": DEV, "kubernetesGroups": ["g"]}),
        (eks.delete_access_entry, {"principalArn": DEV}),
        (eks.associate_access_policy, {"principalArn": DEV, "policyArn": VIEW, "accessScope": {"type": "cluster"}}),
        (eks.disassociate_access_policy, {"principalArn": DEV, "policyArn": VIEW}),
        (eks.list_associated_access_policies, {"principalArn": DEV}),
    )
    for call, kwargs in calls:
        assert error_of(call, clusterName="legacy", **kwargs) == ("InvalidRequestException", MODE_MESSAGE, 400)
    # ListAccessPolicies is not about a cluster.
    assert len(eks.list_access_policies()["accessPolicies"]) > 5


def test_access_entry_crud(eks: Any) -> None:
    created = eks.create_access_entry(
        clusterName="modern", principalArn=PATHY, kubernetesGroups=["developers"], tags={"team": "x"}
    )["accessEntry"]
    assert created["principalArn"] == PATHY
    assert created["type"] == "STANDARD"
    # Default username: the role name without its path.
    assert created["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Pathy/{{{{SessionName}}}}"
    assert created["kubernetesGroups"] == ["developers"]
    assert created["tags"] == {"team": "x"}
    assert created["accessEntryArn"].startswith(
        f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/modern/role/{ACCOUNT}/Pathy/"
    )
    user = eks.create_access_entry(clusterName="modern", principalArn=ALICE, username="alice")["accessEntry"]
    assert user["username"] == "alice"
    default_user = eks.describe_access_entry(clusterName="modern", principalArn=ALICE)["accessEntry"]
    assert default_user == user

    updated = eks.update_access_entry(
        clusterName="modern", principalArn=PATHY, username="dev:{{SessionName}}", kubernetesGroups=["a", "b"]
    )["accessEntry"]
    assert (updated["username"], updated["kubernetesGroups"]) == ("dev:{{SessionName}}", ["a", "b"])
    assert updated["createdAt"] == created["createdAt"]
    assert updated["modifiedAt"] >= created["modifiedAt"]
    kept = eks.update_access_entry(clusterName="modern", principalArn=PATHY, kubernetesGroups=[])["accessEntry"]
    assert (kept["username"], kept["kubernetesGroups"]) == ("dev:{{SessionName}}", [])

    first = eks.associate_access_policy(
        clusterName="modern",
        principalArn=PATHY,
        policyArn=VIEW,
        accessScope={"type": "namespace", "namespaces": ["dev-*"]},
    )
    assert first["clusterName"] == "modern"
    assert first["principalArn"] == PATHY
    assert first["associatedAccessPolicy"]["accessScope"] == {"type": "namespace", "namespaces": ["dev-*"]}
    # Associating the same policy again replaces its scope.
    eks.associate_access_policy(
        clusterName="modern", principalArn=PATHY, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    eks.associate_access_policy(
        clusterName="modern",
        principalArn=PATHY,
        policyArn=EDIT,
        accessScope={"type": "namespace", "namespaces": ["a", "b"]},
    )
    listed = eks.list_associated_access_policies(clusterName="modern", principalArn=PATHY)
    assert [(p["policyArn"], p["accessScope"]["type"]) for p in listed["associatedAccessPolicies"]] == [
        (EDIT, "namespace"),
        (VIEW, "cluster"),
    ]
    assert all_entries(eks, "modern", associatedPolicyArn=VIEW) == [PATHY]
    assert all_entries(eks, "modern", associatedPolicyArn=CLUSTER_ADMIN) == [ADMIN]
    assert sorted(all_entries(eks, "modern")) == sorted([ADMIN, PATHY, ALICE])

    eks.disassociate_access_policy(clusterName="modern", principalArn=PATHY, policyArn=VIEW)
    code, _, status = error_of(eks.disassociate_access_policy, clusterName="modern", principalArn=PATHY, policyArn=VIEW)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert all_entries(eks, "modern", associatedPolicyArn=VIEW) == []

    assert (
        eks.delete_access_entry(clusterName="modern", principalArn=PATHY)["ResponseMetadata"]["HTTPStatusCode"] == 200
    )
    code, message, status = error_of(eks.describe_access_entry, clusterName="modern", principalArn=PATHY)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == (
        "The specified principalArn could not be found. You can view your available access entries with "
        "'list-access-entries'."
    )
    # Deleting dropped the associations: a new entry starts with none.
    eks.create_access_entry(clusterName="modern", principalArn=PATHY)
    assert (
        eks.list_associated_access_policies(clusterName="modern", principalArn=PATHY)["associatedAccessPolicies"] == []
    )


def test_create_retried_with_the_same_token_returns_the_entry(eks: Any) -> None:
    first = eks.create_access_entry(clusterName="modern", principalArn=DEV, clientRequestToken="t-1")["accessEntry"]
    again = eks.create_access_entry(clusterName="modern", principalArn=DEV, clientRequestToken="t-1")["accessEntry"]
    assert again == first
    code, message, status = error_of(eks.create_access_entry, clusterName="modern", principalArn=DEV)
    assert (code, status) == ("ResourceInUseException", 409)
    assert message == "The specified access entry resource is already in use on this cluster."


def test_a_described_entry_needs_its_exact_arn(eks: Any) -> None:
    eks.create_access_entry(clusterName="modern", principalArn=PATHY)
    without_path = f"arn:aws:iam::{ACCOUNT}:role/Pathy"
    assert error_of(eks.describe_access_entry, clusterName="modern", principalArn=without_path)[0] == (
        "ResourceNotFoundException"
    )


SERVICE_LINKED = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
INVALID_PRINCIPAL = "The specified principalArn is invalid: invalid principal."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": f"{prefix}x"}, f"The username must not begin with {prefix}")
        for prefix in ("system:", "eks:", "aws:", "amazon:", "iam:")
    ]
    + [
        (
            {"username": "dev-{{SessionName}}"},
            "The username dev-{{SessionName}} is invalid: {{SessionName}} must be preceded by a ':' (inferred)",
        ),
        (
            {"username": "{{SessionNameRaw}}:x"},
            "The username {{SessionNameRaw}}:x is invalid: {{SessionNameRaw}} must be preceded by a ':' (inferred)",
        ),
        (
            {"kubernetesGroups": ["ok", "system:masters"]},
            "The kubernetes group name system:masters is invalid, it cannot start with system:",
        ),
        (
            {"type": "EC2_LINUX", "principalArn": NODE_ROLE, "kubernetesGroups": ["nodes"]},
            "The username and kubernetesGroups parameters are not supported for type EC2_LINUX.",
        ),
        (
            {"type": "FARGATE_LINUX", "principalArn": POD_EXEC, "username": "pod"},
            "The username and kubernetesGroups parameters are not supported for type FARGATE_LINUX.",
        ),
        (
            {"type": "EC2_WINDOWS", "principalArn": ALICE},
            "The principalArn of an access entry of type EC2_WINDOWS must be an IAM role.",
        ),
        (
            {"type": "EC2_LINUX", "principalArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/CrossNode"},
            "The principalArn of an access entry of type EC2_LINUX must be in the cluster's account.",
        ),
        (
            {"type": "LINUX"},
            "The access entry type LINUX is invalid. Valid types are "
            "[STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, EC2, HYBRID_LINUX, HYPERPOD_LINUX].",
        ),
        (
            {"principalArn": SERVICE_LINKED},
            "The caller is not allowed to modify access entries with a principalArn value of a Service Linked Role",
        ),
        ({"principalArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/me"}, INVALID_PRINCIPAL),
        ({"principalArn": f"arn:aws:iam::{ACCOUNT}:root"}, INVALID_PRINCIPAL),
        ({"principalArn": f"arn:aws:iam::{ACCOUNT}:role/DoesNotExist"}, INVALID_PRINCIPAL),
        ({"principalArn": f"arn:aws:iam::{ACCOUNT}:role/Pathy"}, INVALID_PRINCIPAL),  # the path is missing
        ({"principalArn": f"arn:aws:iam::{ACCOUNT}:role/other/path/Dev"}, INVALID_PRINCIPAL),
        ({"principalArn": "not-an-arn"}, INVALID_PRINCIPAL),
    ],
)
def test_create_access_entry_validation(eks: Any, kwargs: dict[str, Any], message: str) -> None:
    request = {"clusterName": "modern", "principalArn": DEV} | kwargs
    assert error_of(eks.create_access_entry, **request) == ("InvalidParameterException", message, 400)


def test_valid_usernames_and_cross_account_standard_entries(sandbox: Sandbox, eks: Any) -> None:
    eks.create_access_entry(clusterName="modern", principalArn=DEV, username="dev:{{SessionName}}")
    eks.create_access_entry(clusterName="modern", principalArn=ALICE, username="a:b:{{SessionNameRaw}}")
    deployer = f"arn:aws:iam::{OTHER_ACCOUNT}:role/Deployer"
    entry = eks.create_access_entry(clusterName="modern", principalArn=deployer)["accessEntry"]
    assert entry["username"] == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/Deployer/{{{{SessionName}}}}"
    with sandbox.world.lock:
        stored = sandbox.world.cluster(ACCOUNT, REGION, "modern")
        assert stored is not None
        assert stored.entries[parse_arn(deployer).principal_key].principal_id.startswith("AROA")


def test_update_and_policy_validation(eks: Any) -> None:
    eks.create_access_entry(clusterName="modern", principalArn=NODE_ROLE, type="EC2_LINUX")
    code, message, _ = error_of(
        eks.update_access_entry, clusterName="modern", principalArn=NODE_ROLE, username="system:node:x"
    )
    assert (code, message) == ("InvalidParameterException", "The username must not begin with system:")
    code, message, _ = error_of(
        eks.update_access_entry, clusterName="modern", principalArn=NODE_ROLE, kubernetesGroups=["x"]
    )
    assert message == "The username and kubernetesGroups parameters are not supported for type EC2_LINUX."
    # An empty group list is no change, and EKS accepts it for node entries.
    eks.update_access_entry(clusterName="modern", principalArn=NODE_ROLE, kubernetesGroups=[])
    code, message, _ = error_of(
        eks.associate_access_policy,
        clusterName="modern",
        principalArn=NODE_ROLE,
        policyArn=VIEW,
        accessScope={"type": "cluster"},
    )
    assert message == "Access policies cannot be associated with access entries of type EC2_LINUX."
    code, _, _ = error_of(
        eks.update_access_entry, clusterName="modern", principalArn=ADMIN, kubernetesGroups=["system:x"]
    )
    assert code == "InvalidParameterException"
    code, _, _ = error_of(eks.update_access_entry, clusterName="modern", principalArn=DEV, kubernetesGroups=["x"])
    assert code == "ResourceNotFoundException"

    for policy, scope, expected in (
        ("arn:aws:eks::aws:cluster-access-policy/NoSuchPolicy", {"type": "cluster"}, "ResourceNotFoundException"),
        (
            "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
            {"type": "cluster"},
            "InvalidParameterException",  # another partition's policy (tests/integration/test_sandbox_errors.py)
        ),
        (VIEW, {"type": "namespace"}, "InvalidParameterException"),
        (VIEW, {"type": "cluster", "namespaces": ["a"]}, "InvalidParameterException"),
    ):
        code, _, _ = error_of(
            eks.associate_access_policy, clusterName="modern", principalArn=ADMIN, policyArn=policy, accessScope=scope
        )
        assert code == expected, (policy, scope)


def test_list_access_policies(eks: Any) -> None:
    policies = eks.list_access_policies()["accessPolicies"]
    by_name = {p["name"]: p["arn"] for p in policies}
    for name in (
        "AmazonEKSClusterAdminPolicy",
        "AmazonEKSAdminPolicy",
        "AmazonEKSEditPolicy",
        "AmazonEKSViewPolicy",
        "AmazonEKSAdminViewPolicy",
        "AmazonEKSSecretReaderPolicy",
    ):
        assert by_name[name] == f"arn:aws:eks::aws:cluster-access-policy/{name}"
    page = eks.list_access_policies(maxResults=5)
    assert len(page["accessPolicies"]) == 5 and page["nextToken"]
    paged = [
        p
        for pg in eks.get_paginator("list_access_policies").paginate(PaginationConfig={"PageSize": 5})
        for p in pg["accessPolicies"]
    ]
    assert paged == policies


def test_pagination_over_more_than_100_entries(sandbox: Sandbox, eks: Any) -> None:
    iam = client(sandbox, "iam")
    arns = [PATHY]
    for i in range(150):
        role = iam.create_role(RoleName=f"r{i:03d}", Path="/bulk/", AssumeRolePolicyDocument="{}")["Role"]
        eks.create_access_entry(clusterName="modern", principalArn=role["Arn"])
        arns.append(role["Arn"])
    eks.create_access_entry(clusterName="modern", principalArn=PATHY)
    first = eks.list_access_entries(clusterName="modern")
    assert len(first["accessEntries"]) == 100 and first["nextToken"]
    second = eks.list_access_entries(clusterName="modern", nextToken=first["nextToken"])
    assert len(second["accessEntries"]) == 52 and "nextToken" not in second
    listed = first["accessEntries"] + second["accessEntries"]
    assert sorted(listed) == sorted([*arns, ADMIN]) and len(set(listed)) == 152
    assert sorted(all_entries(eks, "modern", PaginationConfig={"PageSize": 7})) == sorted(listed)
    code, message, _ = error_of(eks.list_access_entries, clusterName="modern", nextToken="%%%")
    assert (code, message) == ("InvalidParameterException", "The nextToken is invalid.")
    # botocore checks only the minimum of maxResults; the server checks the maximum.
    with pytest.raises(botocore.exceptions.ParamValidationError):
        eks.list_access_entries(clusterName="modern", maxResults=0)
    code, message, _ = error_of(eks.list_access_entries, clusterName="modern", maxResults=101)
    assert (code, message) == ("InvalidParameterException", "maxResults must be an integer between 1 and 100.")


def test_more_than_3000_entries_is_a_resource_limit(sandbox: Sandbox, eks: Any) -> None:
    with sandbox.world.lock:
        cluster = sandbox.world.cluster(ACCOUNT, REGION, "modern")
        assert cluster is not None
        for i in range(3000 - len(cluster.entries)):
            arn = f"arn:aws:iam::{ACCOUNT}:role/filler{i}"
            cluster.entries[parse_arn(arn).principal_key] = SimEntry(AccessEntrySpec(arn), "arn:x", 1.0, 1.0)
    code, message, status = error_of(eks.create_access_entry, clusterName="modern", principalArn=DEV)
    assert (code, status) == ("ResourceLimitExceededException", 400)
    assert "3000" in message


# --- simulation -------------------------------------------------------------------------------------


def test_rate_limit_throttles_with_429(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(scenario(rateLimit="{tps: 0.5, burst: 2}"))
    eks = client(sandbox, attempts=1)
    eks.list_access_entries(clusterName="modern")
    eks.list_access_entries(clusterName="modern")
    code, message, status = error_of(eks.list_access_entries, clusterName="modern")
    assert (code, message, status) == ("ThrottlingException", "Rate exceeded", 429)
    # Per operation: another operation still has its own tokens.
    eks.describe_access_entry(clusterName="modern", principalArn=ADMIN)


def test_injected_faults(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(scenario(faults="{seed: 1, serverError: 1.0}"))
    code, _, status = error_of(client(sandbox, attempts=1).list_access_entries, clusterName="modern")
    assert (code, status) == ("ServerException", 500)
    # Only the operations the extension handles get faults: IAM, STS and plain EKS pass-through do not.
    client(sandbox, "sts").get_caller_identity()
    client(sandbox, attempts=1).list_clusters()

    settings = sandbox.world.settings
    settings.server_error, settings.throttle = 0.0, 1.0
    code, _, status = error_of(client(sandbox, attempts=1).list_access_entries, clusterName="modern")
    assert (code, status) == ("ThrottlingException", 429)

    settings.throttle, settings.connection_reset = 0.0, 1.0
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        client(sandbox, attempts=1).list_access_entries(clusterName="modern")


def test_faults_are_retried_by_botocore(make_sandbox: SandboxFactory) -> None:
    # Seed 44 draws: ok, ok, throttle, reset after the operation ran, reset before, ok. So the third create
    # is retried three times, and its last retry, carrying the same clientRequestToken, gets the entry that
    # the lost response had created, not a 409.
    sandbox = make_sandbox(scenario(faults="{seed: 44, throttle: 0.1, serverError: 0.1, connectionReset: 0.2}"))
    eks = client(sandbox, attempts=10)
    retries = [
        eks.create_access_entry(clusterName="modern", principalArn=p)["ResponseMetadata"]["RetryAttempts"]
        for p in (DEV, PATHY, ALICE)
    ]
    assert retries == [0, 0, 3]
    sandbox.world.settings.throttle = sandbox.world.settings.server_error = 0.0
    sandbox.world.settings.connection_reset = 0.0
    assert all_entries(eks, "modern") == sorted([ADMIN, DEV, PATHY, ALICE])


def test_latency(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(scenario(latencyMs=150))
    eks = client(sandbox)
    started = time.monotonic()
    eks.list_access_entries(clusterName="modern")
    assert time.monotonic() - started >= 0.15


# --- accounts ---------------------------------------------------------------------------------------


def test_several_accounts_through_sts(sandbox: Sandbox) -> None:
    sts = client(sandbox, "sts")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/aws-auth-migrate"
    assumed = sts.assume_role(RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/Deployer", RoleSessionName="cross")
    creds = assumed["Credentials"]
    other = {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
    remote = client(sandbox, region="eu-west-1", credentials=other)
    assert remote.list_clusters()["clusters"] == ["remote"]
    cluster = remote.describe_cluster(name="remote")["cluster"]
    assert cluster["arn"] == f"arn:aws:eks:eu-west-1:{OTHER_ACCOUNT}:cluster/remote"
    assert cluster["endpoint"].endswith(f"/k8s/{OTHER_ACCOUNT}/eu-west-1/remote")
    remote.create_access_entry(
        clusterName="remote", principalArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/CrossNode", type="EC2_LINUX"
    )
    # A STANDARD entry may name a principal of another account (the first account's Dev role).
    remote.create_access_entry(clusterName="remote", principalArn=DEV)
    assert len(remote.list_access_entries(clusterName="remote")["accessEntries"]) == 2
    # The first account sees none of this.
    home = client(sandbox, region="eu-west-1")
    assert home.list_clusters()["clusters"] == []
    assert error_of(home.describe_cluster, name="remote")[0] == "ResourceNotFoundException"


def test_user_caller_gets_an_access_key(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(scenario(SCENARIO.replace(f"caller: {ADMIN}", f"caller: {ALICE}")))
    creds = sandbox.caller_credentials()
    assert "AWS_SESSION_TOKEN" not in creds
    assert client(sandbox, "sts").get_caller_identity()["Arn"] == ALICE
    env = sandbox.env()
    assert env["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == creds["AWS_ACCESS_KEY_ID"]


KUBE_PROBE = """
import json, sys
from kubernetes import client, config
api = config.new_client_from_config(context=sys.argv[1])
review = client.AuthenticationV1Api(api).create_self_subject_review(
    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
)
print(json.dumps({"username": review.status.user_info.username, "groups": review.status.user_info.groups}))
"""


def kube_identity(sandbox: Sandbox, context: str) -> dict[str, Any]:
    """Who the sandbox's Kubernetes API says the caller is, asked the way kubectl would: kubeconfig + exec."""
    result = subprocess.run(
        [sys.executable, "-c", KUBE_PROBE, context],
        env=os.environ | sandbox.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    identity: dict[str, Any] = json.loads(result.stdout)
    return identity


def test_kubeconfig_reaches_the_kubernetes_simulator_and_sees_mode_changes(sandbox: Sandbox, eks: Any) -> None:
    kubeconfig = Path(sandbox.env()["KUBECONFIG"]).read_text()
    assert f"server: {sandbox.kube_endpoint_url}/k8s/{ACCOUNT}/{REGION}/legacy" in kubeconfig
    assert f"certificate-authority-data: {sandbox.ca_data}" in kubeconfig
    # CONFIG_MAP: the creator's hidden bootstrap mapping.
    assert kube_identity(sandbox, "legacy") == {
        "username": "kubernetes-admin",
        "groups": ["system:authenticated", "system:masters"],
    }
    update = eks.update_cluster_config(name="legacy", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    assert update["update"]["status"] == "InProgress"
    end_updates(sandbox, "legacy")  # EKS finishes it (the sandbox's world, not an EKS call)
    # No EKS call in between: the Kubernetes side alone must notice that the update is done.
    assert kube_identity(sandbox, "legacy") == {
        "username": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/aws-auth-migrate",
        "groups": ["system:authenticated"],
    }


@pytest.mark.parametrize("operation", ["list_clusters", "describe_cluster"])
def test_an_unknown_region_is_refused_as_aws_does_not_with_an_html_500(sandbox: Sandbox, operation: str) -> None:
    eks = client(sandbox, region="mars-1", attempts=1)
    kwargs = {"name": "demo"} if operation == "describe_cluster" else {}
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        getattr(eks, operation)(**kwargs)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert error["Error"]["Message"].startswith("Credential should be scoped to a valid region.")
    assert client(sandbox, region="us-west-2").list_clusters()["clusters"] == []  # a real, empty region works
