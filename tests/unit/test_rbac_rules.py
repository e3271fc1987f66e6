"""The pure RBAC evaluator: rule matching as upstream `RuleAllows`, aggregation as the clusterrole-aggregation
controller, bindings to users, groups and service accounts. Expectations are written out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.rules.rbac import (
    ClusterRole,
    LabelRequirement,
    LabelSelector,
    NonResourceRequest,
    PolicyRule,
    RbacPolicy,
    ResourceRequest,
    aggregate,
    rule_allows,
)
from migrator.sandbox.kube.bootstrap import bootstrap_objects

CORE_CONFIGMAPS_GET = PolicyRule(verbs=("get",), api_groups=("",), resources=("configmaps",))


def get(resource: str, group: str = "", namespace: str = "ns", name: str = "x", sub: str = "") -> ResourceRequest:
    return ResourceRequest("get", group, resource, namespace, name, sub)


@pytest.mark.parametrize(
    ("rule", "request_", "allowed"),
    [
        (CORE_CONFIGMAPS_GET, get("configmaps"), True),
        (CORE_CONFIGMAPS_GET, ResourceRequest("list", "", "configmaps", "ns"), False),  # verb
        (CORE_CONFIGMAPS_GET, get("configmaps", group="apps"), False),  # "" is the core group only
        (CORE_CONFIGMAPS_GET, get("secrets"), False),
        (CORE_CONFIGMAPS_GET, NonResourceRequest("get", "/api"), False),  # resource rules grant no paths
        # "*" matches any verb, group and resource, subresources included
        (PolicyRule(("*",), ("*",), ("*",)), get("pods", sub="exec"), True),
        (PolicyRule(("*",), ("*",), ("*",)), ResourceRequest("deletecollection", "batch", "jobs", "x"), True),
        # a resource names itself only, not its subresources
        (PolicyRule(("get",), ("",), ("pods",)), get("pods", sub="log"), False),
        (PolicyRule(("get",), ("",), ("pods/log",)), get("pods", sub="log"), True),
        (PolicyRule(("get",), ("",), ("pods/log",)), get("pods"), False),
        # "*/status" is the status subresource of anything, and only that
        (PolicyRule(("get",), ("apps",), ("*/status",)), get("deployments", "apps", sub="status"), True),
        (PolicyRule(("get",), ("apps",), ("*/status",)), get("deployments", "apps"), False),
        (PolicyRule(("get",), ("apps",), ("*/status",)), get("deployments", "apps", sub="scale"), False),
        # resourceNames limit by name; a request without a name (list, create) is not covered
        (PolicyRule(("get", "list"), ("",), ("configmaps",), ("aws-auth",)), get("configmaps", name="aws-auth"), True),
        (PolicyRule(("get", "list"), ("",), ("configmaps",), ("aws-auth",)), get("configmaps", name="other"), False),
        (
            PolicyRule(("get", "list"), ("",), ("configmaps",), ("aws-auth",)),
            ResourceRequest("list", "", "configmaps", "kube-system"),
            False,
        ),
        # non-resource URLs: exact, or a prefix when the rule ends in "*"
        (PolicyRule(("get",), non_resource_urls=("/version",)), NonResourceRequest("get", "/version"), True),
        (PolicyRule(("get",), non_resource_urls=("/version",)), NonResourceRequest("get", "/version/"), False),
        (PolicyRule(("get",), non_resource_urls=("/apis/*",)), NonResourceRequest("get", "/apis/rbac/v1"), True),
        (PolicyRule(("get",), non_resource_urls=("/apis/*",)), NonResourceRequest("get", "/apis/"), True),
        (PolicyRule(("get",), non_resource_urls=("/apis/*",)), NonResourceRequest("get", "/apis"), False),
        (PolicyRule(("get",), non_resource_urls=("/apis/*",)), NonResourceRequest("post", "/apis/x"), False),
        (PolicyRule(("*",), non_resource_urls=("*",)), NonResourceRequest("delete", "/anything"), True),
        (PolicyRule(("*",), non_resource_urls=("*",)), get("configmaps"), False),  # paths grant no objects
    ],
)
def test_rule_allows(rule: PolicyRule, request_: ResourceRequest | NonResourceRequest, allowed: bool) -> None:
    assert rule_allows(request_, rule) is allowed


def test_rule_round_trips_through_its_object_form() -> None:
    body = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["aws-auth"], "verbs": ["get"]}
    assert PolicyRule.from_object(body) == PolicyRule(("get",), ("",), ("configmaps",), ("aws-auth",))
    assert PolicyRule.from_object(body).to_object() == body
    assert PolicyRule.from_object({"nonResourceURLs": ["/api"], "verbs": ["get"]}).to_object() == {
        "nonResourceURLs": ["/api"],
        "verbs": ["get"],
    }


# --- aggregation ---------------------------------------------------------------------------------------------


def bootstrap_policy(*extra: dict[str, Any]) -> RbacPolicy:
    objects = [*bootstrap_objects(), *extra]
    return RbacPolicy.from_objects(
        [o for o in objects if o["kind"] == "ClusterRole"],
        [o for o in objects if o["kind"] == "Role"],
        [o for o in objects if o["kind"] == "ClusterRoleBinding"],
        [o for o in objects if o["kind"] == "RoleBinding"],
    )


def role_allows(policy: RbacPolicy, role: str, request: ResourceRequest) -> bool:
    return any(rule_allows(request, rule) for rule in policy.cluster_roles[role])


def test_bootstrap_view_edit_admin_are_aggregated_and_nest() -> None:
    policy = bootstrap_policy()
    configmaps_get = get("configmaps")
    secrets_get = get("secrets")
    token_create = ResourceRequest("create", "", "serviceaccounts", "ns", "sa", "token")
    leases_update = ResourceRequest("update", "coordination.k8s.io", "leases", "ns", "l")
    rolebinding_create = ResourceRequest("create", "rbac.authorization.k8s.io", "rolebindings", "ns")
    # (view, edit, admin) for each request, from upstream's cluster-roles.yaml
    expected = {
        configmaps_get: (True, True, True),
        secrets_get: (False, True, True),
        token_create: (False, True, True),
        leases_update: (False, True, True),
        rolebinding_create: (False, False, True),
    }
    for request, answers in expected.items():
        assert tuple(role_allows(policy, r, request) for r in ("view", "edit", "admin")) == answers, request


def test_a_custom_role_labelled_aggregate_to_view_reaches_view_edit_and_admin() -> None:
    crontabs = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "crontab-reader", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["stable.example.com"], "resources": ["crontabs"], "verbs": ["get"]}],
    }
    policy = bootstrap_policy(crontabs)
    request = get("crontabs", "stable.example.com")
    assert [role_allows(policy, r, request) for r in ("view", "edit", "admin", "cluster-admin")] == [True] * 4
    assert role_allows(bootstrap_policy(), "admin", request) is False


def test_aggregation_by_match_expressions_skips_itself_and_drops_duplicates() -> None:
    rule = PolicyRule(("get",), ("",), ("pods",))
    roles = [
        ClusterRole(
            "all-readers",
            rules=(PolicyRule(("delete",), ("",), ("pods",)),),  # replaced: the controller owns `rules`
            labels=(("tier", "reader"),),
            aggregation=(LabelSelector(match_expressions=(LabelRequirement("tier", "In", ("reader",)),)),),
        ),
        ClusterRole("b", rules=(rule,), labels=(("tier", "reader"),)),
        ClusterRole("a", rules=(rule,), labels=(("tier", "reader"),)),
        ClusterRole("c", rules=(PolicyRule(("list",), ("",), ("pods",)),), labels=(("tier", "writer"),)),
    ]
    assert aggregate(roles)["all-readers"] == (rule,)


# --- bindings -----------------------------------------------------------------------------------------------


def binding(kind: str, name: str, role_kind: str, role: str, *subjects: tuple[str, str], namespace: str = "") -> Any:
    body: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name} | ({"namespace": namespace} if namespace else {}),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": k, "name": n} for k, n in subjects],
    }
    return body


def test_cluster_role_binding_to_a_user_and_to_a_group() -> None:
    policy = bootstrap_policy(
        binding("ClusterRoleBinding", "alice-view", "ClusterRole", "view", ("User", "alice")),
        binding("ClusterRoleBinding", "ops-edit", "ClusterRole", "edit", ("Group", "ops")),
    )
    request = ResourceRequest("list", "", "configmaps", "kube-system")
    assert policy.decide("alice", ["system:authenticated"], request).allowed
    assert not policy.decide("alice2", ["alice"], request).allowed  # a group named like the user is not the user
    assert policy.decide("bob", ["ops", "system:authenticated"], request).allowed
    assert not policy.decide("ops", ["system:authenticated"], request).allowed  # a user named like the group
    decision = policy.decide("bob", ["ops"], ResourceRequest("create", "", "configmaps", "kube-system"))
    assert decision.reason == 'RBAC: allowed by ClusterRoleBinding "ops-edit" of ClusterRole "edit" to Group "ops"'


def test_role_binding_grants_only_in_its_namespace_and_may_name_a_cluster_role() -> None:
    policy = bootstrap_policy(
        binding("RoleBinding", "team-edit", "ClusterRole", "edit", ("Group", "team"), namespace="team"),
    )
    create = ResourceRequest("create", "", "configmaps", "team")
    assert policy.decide("u", ["team"], create).allowed
    assert not policy.decide("u", ["team"], ResourceRequest("create", "", "configmaps", "other")).allowed
    assert not policy.decide("u", ["team"], ResourceRequest("list", "", "configmaps", "")).allowed  # all namespaces


def test_role_binding_to_a_role_and_to_a_service_account() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "lease-writer", "namespace": "kube-system"},
        "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "update"]}],
    }
    policy = bootstrap_policy(
        role,
        binding("RoleBinding", "rb", "Role", "lease-writer", ("ServiceAccount", "runner"), namespace="kube-system"),
    )
    request = ResourceRequest("create", "coordination.k8s.io", "leases", "kube-system")
    assert policy.decide("system:serviceaccount:kube-system:runner", [], request).reason == (
        'RBAC: allowed by RoleBinding "rb/kube-system" of Role "lease-writer" to ServiceAccount "runner/kube-system"'
    )
    assert not policy.decide("system:serviceaccount:default:runner", [], request).allowed
    assert not policy.decide("runner", [], request).allowed


def test_binding_to_a_missing_role_grants_nothing_and_says_so() -> None:
    policy = bootstrap_policy(binding("ClusterRoleBinding", "ghostly", "ClusterRole", "ghost", ("User", "u")))
    decision = policy.decide("u", [], get("configmaps"))
    assert (decision.allowed, decision.reason) == (
        False,
        'RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found',
    )


def test_bootstrap_bindings() -> None:
    policy = bootstrap_policy()
    authenticated = ["system:authenticated"]
    assert policy.decide(
        "anyone", authenticated, NonResourceRequest("get", "/apis/rbac.authorization.k8s.io/v1")
    ).allowed
    assert policy.decide(
        "anyone", authenticated, ResourceRequest("create", "authorization.k8s.io", "selfsubjectaccessreviews")
    ).allowed
    assert not policy.decide(
        "anyone", authenticated, ResourceRequest("create", "authorization.k8s.io", "subjectaccessreviews")
    ).allowed
    assert not policy.decide("anyone", authenticated, get("configmaps")).allowed
    assert policy.decide("system:anonymous", ["system:unauthenticated"], NonResourceRequest("get", "/version")).allowed
    assert not policy.decide("system:anonymous", ["system:unauthenticated"], NonResourceRequest("get", "/api")).allowed
    assert policy.decide(
        "root", ["system:masters"], ResourceRequest("delete", "", "configmaps", "kube-system", "a")
    ).allowed
