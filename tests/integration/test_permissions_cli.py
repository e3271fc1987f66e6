"""The printed runner policy is true (cloud-custodian's test_iamgen, against real calls): a full apply and a
rollback through the CLI against the sandbox, every request recorded by the sandbox, each one held against
the plan's `show --iam-policy` (IAM action and resource) and its Kubernetes Role (verb and object). With the
run's state in S3, its S3 requests too (object ARN; a listing's `s3:prefix`).

The sandbox enforces no IAM (moto's IAM authorization is off; nothing in migrator/sandbox evaluates a policy):
the check is this recording, held against the printed policy here, so it proves the policy covers every call
as this test evaluates policies (actions, resource globs, the `s3:prefix` condition), not what AWS would say."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest

from migrator.rules.permissions import RESOURCE_OF, Resource
from migrator.sandbox.recorder import Call
from migrator.sandbox.scenario import load_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import EXAMPLES, run_cli
from tests.integration.conftest import SandboxFactory, client
from tests.integration.test_apply_cli import BOTH_GATES, FAST, cli, make_plan

pytestmark = pytest.mark.integration

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CLUSTER = "team"
AWS_AUTH_PATH = "/api/v1/namespaces/kube-system/configmaps/aws-auth"
CONFIG_MAPS_PATH = "/api/v1/namespaces/kube-system/configmaps"
LEASES_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"


def declared(plan: Path) -> dict[str, Any]:
    result = run_cli("show", str(plan), "--iam-policy", "-o", "json")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def resource_of(call: Call) -> str:
    """The ARN IAM would authorize the call against (the access entry's UUID part stands in as `x`)."""
    kind = RESOURCE_OF.get(call.iam_action or "", Resource.ANY)
    prefix = f"arn:aws:eks:{call.region}:{ACCOUNT}"
    if kind is Resource.CLUSTER:
        return f"{prefix}:cluster/{call.cluster}"
    if kind is Resource.ACCESS_ENTRY:
        return f"{prefix}:access-entry/{call.cluster}/x"
    if kind in (Resource.NODEGROUP, Resource.FARGATE_PROFILE):
        return f"{prefix}:{kind.value}/{call.cluster}/x"
    if kind in (Resource.IAM_ROLE, Resource.IAM_USER):
        return f"arn:aws:iam::{ACCOUNT}:{kind.value}/x"
    return "*"


def iam_allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    return any(
        action in statement["Action"] and any(fnmatch.fnmatchcase(resource, r) for r in statement["Resource"])
        for statement in policy["Statement"]
    )


RBAC_PATH = "/apis/rbac.authorization.k8s.io/v1/"


def rbac_reads_allowed(cluster_role: dict[str, Any] | None, verb: str, path: str) -> bool:
    """A cluster-wide list of one of the four RBAC resources (the RBAC review's reads), by the ClusterRole."""
    if cluster_role is None or not path.startswith(RBAC_PATH):
        return False
    resource = path.removeprefix(RBAC_PATH)
    return any(verb in r["verbs"] and resource in r["resources"] for r in cluster_role["rules"])


def rbac_allows(role: dict[str, Any], verb: str, path: str) -> bool:
    collections = {"configmaps": CONFIG_MAPS_PATH, "leases": LEASES_PATH}
    for rule in role["rules"]:
        [resource] = rule["resources"]
        if verb not in rule["verbs"] or resource not in collections:
            continue
        names = rule.get("resourceNames")
        if names is not None and path in {f"{collections[resource]}/{name}" for name in names}:
            return True
        if names is None and path == collections[resource] and verb == "create":
            return True
    return False


def policy_allows(policy: dict[str, Any], action: str, resource: str, prefix: str | None = None) -> bool:
    """An Allow statement for `action` on `resource`, whose `s3:prefix` condition (if any) matches `prefix`."""
    for statement in policy["Statement"]:
        if action not in statement["Action"] or not any(
            fnmatch.fnmatchcase(resource, r) for r in statement["Resource"]
        ):
            continue
        condition = statement.get("Condition")
        if condition is None:
            return True
        assert set(condition) == {"StringLike"} and set(condition["StringLike"]) == {"s3:prefix"}, condition
        if prefix is not None and any(fnmatch.fnmatchcase(prefix, p) for p in condition["StringLike"]["s3:prefix"]):
            return True
    return False


def s3_allows(policy: dict[str, Any], call: Call) -> bool:
    """An S3 request by the policy: an object by its ARN, a listing by the bucket and its `prefix`. A GetObject
    needs the key listable as well: S3 answers a missing key 404 only to whoever may list it (else 403)."""
    path, _, query = call.path.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    action = call.iam_action or ""
    if action == "s3:ListBucket":
        prefix = parse_qs(query, keep_blank_values=True).get("prefix", [None])[0]
        return policy_allows(policy, action, f"arn:aws:s3:::{bucket}", prefix)
    if not key:  # a request on the bucket itself (GetBucketEncryption)
        return policy_allows(policy, action, f"arn:aws:s3:::{bucket}")
    listable = action != "s3:GetObject" or policy_allows(policy, "s3:ListBucket", f"arn:aws:s3:::{bucket}", key)
    return listable and policy_allows(policy, action, f"arn:aws:s3:::{bucket}/{key}")


def undeclared(calls: list[Call], permissions: dict[str, Any]) -> list[str]:
    """Every recorded request the declared policy or Role does not allow, as a readable line."""
    missing: list[str] = []
    for call in calls:
        if call.service == "kubernetes":
            allowed = rbac_allows(permissions["kubernetesRole"], call.operation, call.path) or rbac_reads_allowed(
                permissions.get("kubernetesClusterRole"), call.operation, call.path
            )
            if call.cluster != CLUSTER or not allowed:
                missing.append(f"kubernetes {call.operation} {call.path} on {call.cluster}")
        elif call.service == "s3":
            if not s3_allows(permissions["iamPolicy"], call):
                missing.append(f"{call.iam_action} {call.path}")
        elif call.iam_action is None or call.service == "unsigned":
            missing.append(f"unrecognised request {call}")
        elif not iam_allows(permissions["iamPolicy"], call.iam_action, resource_of(call)):
            missing.append(f"{call.iam_action} on {resource_of(call)}")
    return sorted(set(missing))


def run_and_record(sandbox: Sandbox, cwd: Path, *args: str) -> list[Call]:
    sandbox.clear_calls()
    result = cli(sandbox, cwd, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return sandbox.calls()


def test_a_full_apply_and_its_rollback_call_nothing_the_plan_does_not_declare(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, CLUSTER, REGION, "--target", "API", "--remove-aws-auth")
    permissions = declared(plan)

    applied = run_and_record(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert {c.iam_action for c in applied} >= {"eks:UpdateClusterConfig", "eks:CreateAccessEntry"}
    assert ("delete", AWS_AUTH_PATH) in {(c.operation, c.path) for c in applied}
    # apply plans again before its first step, RBAC review included: a cluster-wide list, declared apart
    assert any(c.path == RBAC_PATH + "clusterroles" for c in applied)  # the recorder names collection GETs `get`
    assert permissions["kubernetesClusterRole"]["kind"] == "ClusterRole"
    assert undeclared(applied, permissions) == []

    # In API mode rollback keeps the entries and restores aws-auth (a Kubernetes create).
    rolled_back = run_and_record(sandbox, tmp_path, "rollback", str(plan), "--yes")
    assert ("create", CONFIG_MAPS_PATH) in {(c.operation, c.path) for c in rolled_back}
    assert undeclared(rolled_back, permissions) == []


def test_rolling_back_before_the_api_gate_calls_nothing_the_plan_does_not_declare(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, CLUSTER, REGION, "--target", "API")
    permissions = declared(plan)
    config_map_rules = [r for r in permissions["kubernetesRole"]["rules"] if r["resources"] == ["configmaps"]]
    assert "delete" not in json.dumps(config_map_rules)  # no remove-aws-auth planned

    applied = run_and_record(
        sandbox, tmp_path, "apply", str(plan), "--yes", *FAST, "--approve-gate", "API_AND_CONFIG_MAP"
    )
    assert undeclared(applied, permissions) == []

    rolled_back = run_and_record(sandbox, tmp_path, "rollback", str(plan), "--yes")
    assert "eks:DeleteAccessEntry" in {c.iam_action for c in rolled_back}
    assert "eks:DisassociateAccessPolicy" not in {c.iam_action for c in rolled_back}  # dropped with the entry
    assert undeclared(rolled_back, permissions) == []


STATE_BUCKET = "run-state"


def test_an_apply_and_rollback_with_s3_state_call_nothing_the_printed_policy_does_not_allow(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    """The plan is made into one S3 state (in the cluster's folder, `<account>/<region>/<name>/`), downloaded, and
    its file run with another state, still empty (no marker yet): the runner checks and marks the new state, and
    keeps the journal, backup and lock in the cluster's folder there."""
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    s3 = client(sandbox, "s3")
    s3.create_bucket(Bucket=STATE_BUCKET)
    planned = cli(sandbox, tmp_path, "plan", "--cluster", CLUSTER, "--region", REGION, "--target", "API",
                  "--remove-aws-auth", "--state", f"s3://{STATE_BUCKET}/plans")  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    folder = f"{ACCOUNT}/{REGION}/{CLUSTER}"
    [plan_key] = [o["Key"] for o in s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=f"plans/{folder}/")["Contents"]]
    plan = tmp_path / "team.plan.yaml"
    plan.write_bytes(s3.get_object(Bucket=STATE_BUCKET, Key=plan_key)["Body"].read())
    state = f"s3://{STATE_BUCKET}/runs"
    shown = cli(sandbox, tmp_path, "show", str(plan), "--iam-policy", "-o", "json", "--state", state)
    assert shown.returncode == 0, shown.stderr
    permissions = json.loads(shown.stdout)
    assert {s["Sid"] for s in permissions["iamPolicy"]["Statement"]} >= {"StateObjects", "StateListing"}

    applied = run_and_record(sandbox, tmp_path, "apply", str(plan), "--state", state, "--yes", *BOTH_GATES, *FAST)
    s3_calls = {(c.iam_action, unquote(c.path)) for c in applied if c.service == "s3"}
    assert ("s3:ListBucket", f"/{STATE_BUCKET}?list-type=2&prefix=runs/&max-keys=2&encoding-type=url") in s3_calls
    written = {path.removeprefix(f"/{STATE_BUCKET}/") for action, path in s3_calls if action == "s3:PutObject"}
    assert "runs/aws-auth-migrate-state.json" in written and f"runs/{folder}/lock.json" in written
    assert any(k.startswith(f"runs/{folder}/") and k.endswith(".aws-auth.backup.json") for k in written)
    assert any(".journal/" in k for k in written)
    assert undeclared(applied, permissions) == []

    rolled_back = run_and_record(sandbox, tmp_path, "rollback", str(plan), "--state", state, "--yes")
    assert any(c.service == "s3" for c in rolled_back)
    assert undeclared(rolled_back, permissions) == []
    assert "s3:DeleteObject" not in {c.iam_action for c in applied + rolled_back}  # runs never delete state
