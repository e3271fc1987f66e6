"""Authorization in the sandbox's Kubernetes API, driven by the real `kubernetes` client with real EKS tokens:
RBAC (bootstrap roles, aggregation, bindings written through the API) union the access policies of the
caller's entry within their scopes, the API server's 403s, and the authorization.k8s.io reviews behind
`kubectl auth can-i`. Every expected answer is written out by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.aws.token import get_token
from migrator.model import AccessEntrySpec, AuthMode
from migrator.rules.arn import parse_arn
from migrator.sandbox.state import SimEntry
from tests.integration.test_kube_api import ACCOUNT, CLUSTER, REGION, KubeSandbox, kube  # noqa: F401

pytestmark = pytest.mark.integration

EDIT_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
ENTRY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/EntryRole"
RBAC = "rbac.authorization.k8s.io"


def forbidden_status(error: ApiException) -> dict[str, Any]:
    assert error.status == 403
    body: dict[str, Any] = json.loads(error.body)
    return body


@pytest.fixture
def entry_with_edit_on_dev(kube: KubeSandbox) -> Iterator[str]:  # noqa: F811
    """EntryRole gets an entry (username entry-role, no groups) with AmazonEKSEditPolicy on `dev-*`, in
    API_AND_CONFIG_MAP; yields a token of it."""
    entry = SimEntry(
        spec=AccessEntrySpec(ENTRY_ROLE, username="entry-role"),
        entry_arn=f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/{CLUSTER}/x",
        created_at=0.0,
        modified_at=0.0,
        associations={EDIT_POLICY: {"accessScope": {"type": "namespace", "namespaces": ["dev-*"]}}},
        principal_id=kube.roles["EntryRole"],
    )
    with kube.world.lock:
        kube.cluster.entries[parse_arn(ENTRY_ROLE).principal_key] = entry
        kube.cluster.mode = AuthMode.API_AND_CONFIG_MAP
    try:
        yield kube.token("EntryRole", "probe")
    finally:
        with kube.world.lock:
            kube.cluster.mode = AuthMode.CONFIG_MAP
            kube.cluster.entries.clear()


def config_map(name: str) -> k8s.V1ConfigMap:
    return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data={"a": "1"})


# --- RBAC ----------------------------------------------------------------------------------------------------


def test_reads_need_rbac_too_and_403s_are_the_api_servers(kube: KubeSandbox) -> None:  # noqa: F811
    bob = k8s.CoreV1Api(kube.api(get_token(kube.bob, CLUSTER)))  # mapped with group viewers, bound to nothing
    with pytest.raises(ApiException) as caught:
        bob.read_namespaced_config_map("aws-auth", "kube-system")
    assert forbidden_status(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "aws-auth" is forbidden: User "bob" cannot get resource "configmaps" in API group "" '
        'in the namespace "kube-system"',
        "reason": "Forbidden",
        "details": {"name": "aws-auth", "kind": "configmaps"},
        "code": 403,
    }
    with pytest.raises(ApiException) as caught:
        bob.list_config_map_for_all_namespaces()
    assert forbidden_status(caught.value)["message"] == (
        'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" at the cluster scope'
    )
    # discovery and the self reviews are for every authenticated user (system:discovery, system:basic-user)
    assert [r.name for r in bob.get_api_resources().resources] == ["configmaps"]
    who = k8s.AuthenticationV1Api(kube.api(get_token(kube.bob, CLUSTER))).create_self_subject_review(
        k8s.V1SelfSubjectReview()
    )
    assert who.status.user_info.username == "bob"


def test_a_group_bound_to_view_reads_configmaps_but_not_rbac(kube: KubeSandbox) -> None:  # noqa: F811
    api = kube.api(kube.token("Dev", "alice"))  # group developers: ClusterRoleBinding developers-view
    assert k8s.CoreV1Api(api).read_namespaced_config_map("aws-auth", "kube-system").metadata.name == "aws-auth"
    with pytest.raises(ApiException) as caught:
        k8s.RbacAuthorizationV1Api(api).list_cluster_role()
    assert forbidden_status(caught.value)["message"] == (
        f'clusterroles.{RBAC} is forbidden: User "dev:alice" cannot list resource "clusterroles" in API group '
        f'"{RBAC}" at the cluster scope'
    )


def test_a_binding_written_through_the_api_counts_from_the_next_request(kube: KubeSandbox) -> None:  # noqa: F811
    admin = k8s.RbacAuthorizationV1Api(kube.api(kube.token("Admin", "ops")))  # system:masters
    bob = k8s.CoreV1Api(kube.api(get_token(kube.bob, CLUSTER)))
    binding = k8s.V1RoleBinding(
        metadata=k8s.V1ObjectMeta(name="bob-view", namespace="kube-system"),
        role_ref=k8s.V1RoleRef(api_group=RBAC, kind="ClusterRole", name="view"),
        subjects=[k8s.RbacV1Subject(api_group=RBAC, kind="User", name="bob")],
    )
    admin.create_namespaced_role_binding("kube-system", binding)
    try:
        assert bob.read_namespaced_config_map("aws-auth", "kube-system").metadata.name == "aws-auth"
        with pytest.raises(ApiException) as caught:  # a RoleBinding grants in its own namespace only
            bob.list_namespaced_config_map("default")
        assert caught.value.status == 403
    finally:
        admin.delete_namespaced_role_binding("bob-view", "kube-system")
    with pytest.raises(ApiException) as caught:
        bob.read_namespaced_config_map("aws-auth", "kube-system")
    assert caught.value.status == 403


def test_aggregation_follows_the_labels_of_stored_cluster_roles(kube: KubeSandbox) -> None:  # noqa: F811
    admin = k8s.RbacAuthorizationV1Api(kube.api(kube.token("Admin", "ops")))
    dev = k8s.CoordinationV1Api(kube.api(kube.token("Dev", "alice")))  # bound to view, which has no leases
    with pytest.raises(ApiException) as caught:
        dev.list_namespaced_lease("kube-system")
    assert caught.value.status == 403
    leases = k8s.V1ClusterRole(
        metadata=k8s.V1ObjectMeta(name="lease-reader", labels={f"{RBAC}/aggregate-to-view": "true"}),
        rules=[k8s.V1PolicyRule(api_groups=["coordination.k8s.io"], resources=["leases"], verbs=["list"])],
    )
    admin.create_cluster_role(leases)
    try:
        view = admin.read_cluster_role("view")
        assert view.aggregation_rule.cluster_role_selectors[0].match_labels == {f"{RBAC}/aggregate-to-view": "true"}
        assert {"leases"} in [set(r.resources or []) for r in view.rules]  # filled, as the controller does
        assert dev.list_namespaced_lease("kube-system").items == []
    finally:
        admin.delete_cluster_role("lease-reader")
    with pytest.raises(ApiException) as caught:
        dev.list_namespaced_lease("kube-system")
    assert caught.value.status == 403


# --- access policies -----------------------------------------------------------------------------------------


def test_a_namespace_scoped_access_policy_grants_in_its_namespaces_only(
    kube: KubeSandbox,  # noqa: F811
    entry_with_edit_on_dev: str,
) -> None:
    core = k8s.CoreV1Api(kube.api(entry_with_edit_on_dev))
    created = core.create_namespaced_config_map("dev-a", config_map("settings"))
    assert created.metadata.namespace == "dev-a"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("prod", config_map("settings"))
    assert forbidden_status(caught.value)["message"] == (
        'configmaps is forbidden: User "entry-role" cannot create resource "configmaps" in API group "" in the '
        'namespace "prod"'
    )
    with pytest.raises(ApiException) as caught:  # not at cluster scope either
        core.list_config_map_for_all_namespaces()
    assert caught.value.status == 403


def test_can_i_counts_access_policies_but_can_i_list_does_not(
    kube: KubeSandbox,  # noqa: F811
    entry_with_edit_on_dev: str,
) -> None:
    authz = k8s.AuthorizationV1Api(kube.api(entry_with_edit_on_dev))

    def can_i(verb: str, resource: str, namespace: str) -> bool:
        attributes = k8s.V1ResourceAttributes(verb=verb, resource=resource, namespace=namespace)
        review = k8s.V1SelfSubjectAccessReview(spec=k8s.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
        allowed: bool = authz.create_self_subject_access_review(review).status.allowed
        return allowed

    assert can_i("create", "configmaps", "dev-b") is True
    assert can_i("get", "secrets", "dev-b") is True
    assert can_i("create", "configmaps", "prod") is False
    assert can_i("delete", "leases", "dev-b") is False  # Edit has no leases, unlike upstream edit

    rules = authz.create_self_subject_rules_review(
        k8s.V1SelfSubjectRulesReview(spec=k8s.V1SelfSubjectRulesReviewSpec(namespace="dev-a"))
    ).status
    assert rules.incomplete is False
    assert [(r.api_groups, r.resources, r.verbs) for r in rules.resource_rules] == [
        (["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
        (["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
    ]
    assert [r.non_resource_urls for r in rules.non_resource_rules] == [
        ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version",
         "/version/"],
        ["/healthz", "/livez", "/readyz", "/version", "/version/"],
    ]  # fmt: skip


def test_subject_access_review_of_another_user(kube: KubeSandbox, entry_with_edit_on_dev: str) -> None:  # noqa: F811
    admin = k8s.AuthorizationV1Api(kube.api(kube.token("Admin", "ops")))

    def review(user: str, groups: list[str], namespace: str, extra: dict[str, list[str]] | None = None) -> Any:
        attributes = k8s.V1ResourceAttributes(verb="create", resource="configmaps", namespace=namespace)
        spec = k8s.V1SubjectAccessReviewSpec(user=user, groups=groups, extra=extra, resource_attributes=attributes)
        return admin.create_subject_access_review(k8s.V1SubjectAccessReview(spec=spec)).status

    status = review("dev:alice", ["developers"], "kube-system")
    assert (status.allowed, status.reason) == (False, None)  # view cannot create
    status = review("bob", ["team"], "team")
    assert (status.allowed, status.reason) == (
        True,
        'RBAC: allowed by RoleBinding "team-edit/team" of ClusterRole "edit" to Group "team"',
    )
    # The EKS authorizer finds the access entry through the authenticator's extra fields, and only so.
    assert review("entry-role", [], "dev-a").allowed is False
    arn = {"arn": [f"arn:aws:sts::{ACCOUNT}:assumed-role/EntryRole/probe"]}
    status = review("entry-role", [], "dev-a", arn)
    assert (status.allowed, status.reason) == (
        True,
        "EKS: allowed by access policy AmazonEKSEditPolicy (namespaces dev-*)",
    )
    assert review("entry-role", [], "prod", arn).allowed is False
    assert review("entry-role", [], "dev-a", arn | {"principalId": ["AROAOTHERROLEOTHER000"]}).allowed is False

    dev = k8s.AuthorizationV1Api(kube.api(kube.token("Dev", "alice")))
    attributes = k8s.V1ResourceAttributes(verb="get", resource="configmaps", namespace="kube-system")
    spec = k8s.V1SubjectAccessReviewSpec(user="x", resource_attributes=attributes)
    with pytest.raises(ApiException) as caught:  # creating a SubjectAccessReview needs RBAC of its own
        dev.create_subject_access_review(k8s.V1SubjectAccessReview(spec=spec))
    assert forbidden_status(caught.value)["message"] == (
        'subjectaccessreviews.authorization.k8s.io is forbidden: User "dev:alice" cannot create resource '
        '"subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope'
    )


def test_authorization_group_is_discoverable(kube: KubeSandbox) -> None:  # noqa: F811
    api = kube.api(kube.token("Dev", "alice"))
    resources = k8s.AuthorizationV1Api(api).get_api_resources().resources
    assert sorted((r.name, r.namespaced, r.verbs[0]) for r in resources) == [
        ("localsubjectaccessreviews", True, "create"),
        ("selfsubjectaccessreviews", False, "create"),
        ("selfsubjectrulesreviews", False, "create"),
        ("subjectaccessreviews", False, "create"),
    ]
    # anonymous: /version is public (system:public-info-viewer), everything else needs a token
    assert requests.get(f"{kube.host}/version", timeout=60).status_code == 200
    assert requests.get(f"{kube.host}/apis", timeout=60).status_code == 401


def test_local_subject_access_review_is_bound_to_its_namespace(kube: KubeSandbox) -> None:  # noqa: F811
    admin = k8s.AuthorizationV1Api(kube.api(kube.token("Admin", "ops")))

    def local(namespace: str, in_spec: str) -> Any:
        attributes = k8s.V1ResourceAttributes(verb="create", resource="configmaps", namespace=in_spec)
        spec = k8s.V1SubjectAccessReviewSpec(user="bob", groups=["team"], resource_attributes=attributes)
        return admin.create_namespaced_local_subject_access_review(
            namespace, k8s.V1LocalSubjectAccessReview(metadata=k8s.V1ObjectMeta(namespace=namespace), spec=spec)
        )

    assert local("team", "team").status.allowed is True
    assert local("other", "other").status.allowed is False
    with pytest.raises(ApiException) as caught:
        local("team", "other")
    assert caught.value.status == 422
    assert json.loads(caught.value.body)["message"].endswith(
        "spec.resourceAttributes.namespace: must match namespace: team"
    )
