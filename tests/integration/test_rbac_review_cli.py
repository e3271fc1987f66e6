"""The RBAC review through the real CLI against the sandbox: a cluster with one principal per case (an exact
View conversion, an exact ClusterAdmin one, Edit on two namespaces that narrows, an `admin` ClusterRole an
operator trimmed so that AmazonEKSAdminPolicy would widen it, a group bound to two roles, an unbound group,
a username that changes under a User binding, a binding naming system:masters). The plan gives the findings
and the exact conversions and refuses the widening one; apply makes them; SelfSubjectAccessReviews (what
`kubectl auth can-i` asks), made as each principal with its own EKS token, show that a converted principal
can do exactly what it could before, except the rules the plan listed as lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from kubernetes import client as k8s

from migrator.aws.session import assume_role_credentials, session_from_credentials
from migrator.aws.token import get_token
from migrator.kube.client import api_client_for_eks
from migrator.sandbox.scenario import parse_scenario
from migrator.sandbox.server import Sandbox
from tests.integration.conftest import SandboxFactory, client
from tests.integration.test_apply_cli import FAST, cli, make_plan
from tests.support.arns import ACCOUNT, role
from tests.support.rbac import CASE_BINDINGS, CASE_ROLES, MAP_ROLES, TRIMMED_ADMIN
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml

pytestmark = pytest.mark.integration

CLUSTER = "rbac"
PINNED = ("--created-at", "2026-11-30T00:00:00Z")
REGION = "us-east-1"
POLICY = "arn:aws:eks::aws:cluster-access-policy/"

# (verb, API group, resource, subresource, namespace): what `kubectl auth can-i` would ask.
Question = tuple[str, str, str, str, str]
QUESTIONS: tuple[Question, ...] = (
    ("get", "", "pods", "", "dev"),
    ("list", "", "pods", "", ""),
    ("get", "", "pods", "", "prod"),
    ("create", "", "configmaps", "", "dev"),
    ("create", "", "configmaps", "", "prod"),
    ("get", "", "secrets", "", "dev"),
    ("list", "", "namespaces", "", ""),
    ("get", "", "nodes", "", ""),
    ("create", "rbac.authorization.k8s.io", "rolebindings", "", "dev"),
    ("delete", "coordination.k8s.io", "leases", "", "dev"),
    ("get", "coordination.k8s.io", "leases", "", "stage"),
    ("create", "", "serviceaccounts", "token", "dev"),
    ("create", "", "pods", "eviction", "stage"),
    ("get", "apps", "deployments", "", "stage"),
)
# What the Edit policy lacks of `edit` (the plan lists them as lost): these answers turn False for Editor.
EDIT_LOST = {
    ("delete", "coordination.k8s.io", "leases", "", "dev"),
    ("get", "coordination.k8s.io", "leases", "", "stage"),
    ("create", "", "serviceaccounts", "token", "dev"),
    ("create", "", "pods", "eviction", "stage"),
}


def _scenario() -> str:
    rbac = "---\n".join(json.dumps(o) + "\n" for o in (TRIMMED_ADMIN, *CASE_BINDINGS))
    cluster = (
        f'  - name: {CLUSTER}\n    region: {REGION}\n    account: "{ACCOUNT}"\n    version: "1.31"\n'
        "    authenticationMode: CONFIG_MAP\n"
        f"    awsAuth: |\n{indent(aws_auth_config_map(MAP_ROLES, ''), 6)}"
        f"    rbac: |\n{indent(rbac, 6)}"
    )
    roles = [role(name) for name in CASE_ROLES]
    return scenario_yaml(cluster, roles=roles, caller=role("Admin"), simulation="updateSeconds: 1")


def _can_i(sandbox: Sandbox, name: str, monkeypatch: pytest.MonkeyPatch) -> dict[Question, bool]:
    """SelfSubjectAccessReviews as the role `name` (session `tester`), with its own EKS token."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    described = client(sandbox, region=REGION).describe_cluster(name=CLUSTER)["cluster"]
    caller = boto3.Session(region_name=REGION)
    credentials = assume_role_credentials(caller, role(name), "tester")
    assert isinstance(credentials, dict), credentials
    session = session_from_credentials(credentials, REGION)
    api = api_client_for_eks(
        described["endpoint"], described["certificateAuthority"]["data"], lambda: get_token(session, CLUSTER)
    )
    authz = k8s.AuthorizationV1Api(api)
    answers: dict[Question, bool] = {}
    for question in QUESTIONS:
        verb, group, resource, subresource, namespace = question
        attributes = k8s.V1ResourceAttributes(
            verb=verb, group=group, resource=resource, subresource=subresource or None, namespace=namespace or None
        )
        review = k8s.V1SelfSubjectAccessReview(spec=k8s.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
        answers[question] = bool(authz.create_self_subject_access_review(review).status.allowed)
    return answers


def _entries(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["principalArn"].rsplit("/", 1)[-1]: e for e in plan["entries"]}


def test_an_rbac_scenario_gives_the_findings_and_the_exact_conversions(
    make_sandbox: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = make_sandbox(parse_scenario(_scenario(), "rbac.yaml"))
    converted = ("Viewer", "Platform", "Editor")
    kept = ("Auditor", "Mixed")
    before = {name: _can_i(sandbox, name, monkeypatch) for name in (*converted, *kept)}
    # Hand-written anchors, so the comparison below cannot pass on two wrong answers.
    assert before["Viewer"][("get", "", "pods", "", "dev")] is True
    assert before["Viewer"][("get", "", "secrets", "", "dev")] is False
    assert before["Editor"][("delete", "coordination.k8s.io", "leases", "", "dev")] is True
    assert before["Editor"][("create", "", "configmaps", "", "prod")] is False
    assert before["Platform"][("get", "", "nodes", "", "")] is True
    assert before["Auditor"][("get", "", "secrets", "", "dev")] is False  # the trimmed admin

    # Without --accept-narrowing: the exact conversions only; the narrowing and widening ones are findings.
    path = make_plan(
        sandbox, tmp_path, CLUSTER, REGION, "--prefer-access-policies", "--created-at", "2026-11-30T00:00:00Z"
    )
    plan = json.loads(cli(sandbox, tmp_path, "show", str(path), "-o", "json").stdout)
    entries = _entries(plan)
    assert (entries["Viewer"]["kubernetesGroups"], entries["Viewer"]["policies"]) == (
        [],
        [{"policyArn": POLICY + "AmazonEKSViewPolicy", "accessScope": {"type": "cluster", "namespaces": []}}],
    )
    assert entries["Editor"]["kubernetesGroups"] == ["editors"] and entries["Editor"]["policies"] == []
    assert entries["Auditor"]["kubernetesGroups"] == ["auditors"] and entries["Auditor"]["policies"] == []
    found = {(f["code"], (f["principalArn"] or "").rsplit("/", 1)[-1]) for f in plan["findings"]}
    assert {
        ("POLICY_CONVERSION", "Viewer"),
        ("POLICY_CONVERSION", "Platform"),
        ("POLICY_CONVERSION_NARROWS", "Editor"),
        ("POLICY_CONVERSION_WIDENS", "Auditor"),
        ("GROUP_UNBOUND", "Mixed"),
        ("USERNAME_BINDING_CHANGES", "Blank"),
        ("MASTERS_GROUP_BOUND", ""),
    } <= found
    text = cli(sandbox, tmp_path, "show", str(path)).stdout
    assert "group viewers (ClusterRole view) -> AmazonEKSViewPolicy, cluster" in text

    # With --accept-narrowing: Editor too, namespace-scoped to exactly dev and stage, with the rules lost.
    path = make_plan(
        sandbox,
        tmp_path,
        CLUSTER,
        REGION,
        "--prefer-access-policies",
        "--accept-narrowing",
        "--created-at",
        "2026-11-30T00:00:00Z",
    )
    plan = json.loads(cli(sandbox, tmp_path, "show", str(path), "-o", "json").stdout)
    editor = _entries(plan)["Editor"]
    assert editor["policies"] == [
        {
            "policyArn": POLICY + "AmazonEKSEditPolicy",
            "accessScope": {"type": "namespace", "namespaces": ["dev", "stage"]},
        }
    ]
    assert editor["conversions"][0]["rulesGained"] == []
    assert {r["resources"][0] for r in editor["conversions"][0]["rulesLost"]} == {"leases", "pods/eviction"}
    assert _entries(plan)["Viewer"]["conversions"][0]["rulesLost"] == []

    applied = cli(sandbox, tmp_path, "apply", str(path), "--yes", "--approve-gate", "API_AND_CONFIG_MAP", *FAST)
    assert applied.returncode == 0, applied.stderr

    after = {name: _can_i(sandbox, name, monkeypatch) for name in (*converted, *kept)}
    for name in ("Viewer", "Platform", *kept):
        assert after[name] == before[name], name
    assert {q for q in QUESTIONS if after["Editor"][q] != before["Editor"][q]} == EDIT_LOST
    assert not any(after["Editor"][q] for q in EDIT_LOST)

    # verify proves the exact conversions from the live RBAC and reports the narrowed one as a difference.
    result = cli(sandbox, tmp_path, "verify", "--cluster", CLUSTER, "--region", REGION, "-o", "json")
    assert result.returncode == 8, result.stderr
    verdicts = {p["principal"].rsplit("/", 1)[-1]: p for p in json.loads(result.stdout)["principals"]}
    assert verdicts["Viewer"]["category"] == "equivalent"
    assert verdicts["Platform"]["category"] == "equivalent"
    assert verdicts["Editor"]["category"] == "differs"
