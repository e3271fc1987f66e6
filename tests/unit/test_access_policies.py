"""The EKS access policies' rules and scopes. Expectations are read off the EKS access policy reference
(access-policy-reference.adoc) and eks-facts.md section 2 by hand, not computed from the table."""

from __future__ import annotations

import pytest

from migrator.model import AccessScope, PolicyAssociation, ScopeType
from migrator.rules.access_policies import (
    POLICY_RULES,
    access_policies_allow,
    namespace_matches,
    policy_rules,
)
from migrator.rules.rbac import NonResourceRequest, Request, ResourceRequest, rules_allow

ARN = "arn:aws:eks::aws:cluster-access-policy/"


def allows(policy: str, request: Request) -> bool:
    rules = policy_rules(policy)
    assert rules is not None
    return rules_allow(request, rules)


def req(verb: str, resource: str, group: str = "", namespace: str = "apps", sub: str = "") -> ResourceRequest:
    return ResourceRequest(verb, group, resource, namespace, "x" if verb not in ("list", "create") else "", sub)


def test_the_table_has_the_policies_the_reference_gives_rules_for() -> None:
    assert set(POLICY_RULES) == {
        "AmazonEKSAdminPolicy",
        "AmazonEKSClusterAdminPolicy",
        "AmazonEKSAdminViewPolicy",
        "AmazonEKSEditPolicy",
        "AmazonEKSViewPolicy",
        "AmazonEKSSecretReaderPolicy",
        "AmazonEKSHybridPolicy",
    }
    assert policy_rules("AmazonEKSAutoNodePolicy") is None  # described in prose only


# (policy, request) -> allowed, one line per fact
CASES = [
    # View: the `view` base rules, no Secrets
    ("AmazonEKSViewPolicy", req("get", "configmaps"), True),
    ("AmazonEKSViewPolicy", req("get", "secrets"), False),
    ("AmazonEKSViewPolicy", req("list", "deployments", "apps"), True),
    ("AmazonEKSViewPolicy", req("get", "pods", sub="log"), True),
    ("AmazonEKSViewPolicy", req("create", "configmaps"), False),
    ("AmazonEKSViewPolicy", req("get", "leases", "coordination.k8s.io"), False),
    # AdminView: everything readable, Secrets included, nothing writable
    ("AmazonEKSAdminViewPolicy", req("get", "secrets"), True),
    ("AmazonEKSAdminViewPolicy", req("watch", "leases", "coordination.k8s.io"), True),
    ("AmazonEKSAdminViewPolicy", req("get", "clusterroles", "rbac.authorization.k8s.io", namespace=""), True),
    ("AmazonEKSAdminViewPolicy", req("update", "configmaps"), False),
    # Edit: less than upstream `edit`
    ("AmazonEKSEditPolicy", req("create", "configmaps"), True),
    ("AmazonEKSEditPolicy", req("get", "secrets"), True),
    ("AmazonEKSEditPolicy", req("create", "serviceaccounts", sub="token"), False),
    ("AmazonEKSEditPolicy", req("create", "pods", sub="eviction"), False),
    ("AmazonEKSEditPolicy", req("update", "leases", "coordination.k8s.io"), False),
    ("AmazonEKSEditPolicy", req("create", "rolebindings", "rbac.authorization.k8s.io"), False),
    ("AmazonEKSEditPolicy", req("impersonate", "serviceaccounts"), True),
    # Admin: Edit plus Roles/RoleBindings and LocalSubjectAccessReviews
    ("AmazonEKSAdminPolicy", req("create", "rolebindings", "rbac.authorization.k8s.io"), True),
    ("AmazonEKSAdminPolicy", req("create", "localsubjectaccessreviews", "authorization.k8s.io"), True),
    ("AmazonEKSAdminPolicy", req("create", "serviceaccounts", sub="token"), False),
    ("AmazonEKSAdminPolicy", req("get", "leases", "coordination.k8s.io"), False),
    # SecretReader: Secrets, read-only
    ("AmazonEKSSecretReaderPolicy", req("list", "secrets"), True),
    ("AmazonEKSSecretReaderPolicy", req("get", "configmaps"), False),
    ("AmazonEKSSecretReaderPolicy", req("delete", "secrets"), False),
    # ClusterAdmin: `cluster-admin` rule for rule
    ("AmazonEKSClusterAdminPolicy", req("delete", "clusterrolebindings", "rbac.authorization.k8s.io", ""), True),
    ("AmazonEKSClusterAdminPolicy", NonResourceRequest("get", "/metrics"), True),
    ("AmazonEKSViewPolicy", NonResourceRequest("get", "/api"), False),
]


@pytest.mark.parametrize(("policy", "request_", "allowed"), CASES)
def test_policy_rules(policy: str, request_: Request, allowed: bool) -> None:
    assert allows(policy, request_) is allowed


@pytest.mark.parametrize(
    ("pattern", "namespace", "matches"),
    [
        ("dev-*", "dev-a", True),
        ("dev-*", "dev-", True),
        ("dev-*", "dev", False),
        ("dev-*", "prod", False),
        ("dev-*", "my-dev-a", False),
        ("team", "team", True),
        ("team", "team-2", False),
        ("*", "anything", True),
    ],
)
def test_namespace_wildcards(pattern: str, namespace: str, matches: bool) -> None:
    assert namespace_matches(pattern, namespace) is matches


def association(policy: str, *namespaces: str) -> PolicyAssociation:
    scope = AccessScope(ScopeType.NAMESPACE, namespaces) if namespaces else AccessScope()
    return PolicyAssociation(ARN + policy, scope)


def test_edit_scoped_to_dev_star() -> None:
    edit = [association("AmazonEKSEditPolicy", "dev-*")]
    assert access_policies_allow(edit, req("create", "configmaps", namespace="dev-a")).allowed
    assert not access_policies_allow(edit, req("create", "configmaps", namespace="prod")).allowed
    # a namespace scope never reaches cluster scope: not a list across all namespaces, nor a path
    assert not access_policies_allow(edit, req("list", "configmaps", namespace="")).allowed
    assert not access_policies_allow(
        [association("AmazonEKSClusterAdminPolicy", "dev-*")], NonResourceRequest("get", "/api")
    ).allowed


def test_the_first_association_that_allows_is_named() -> None:
    view_everywhere = association("AmazonEKSViewPolicy")
    secrets_in_team = association("AmazonEKSSecretReaderPolicy", "team")
    both = [view_everywhere, secrets_in_team]
    assert access_policies_allow(both, req("get", "secrets", namespace="team")).association == secrets_in_team
    assert access_policies_allow(both, req("get", "configmaps", namespace="team")).association == view_everywhere
    assert not access_policies_allow(both, req("get", "secrets", namespace="other")).allowed
    assert not access_policies_allow([association("AmazonEKSNoSuchPolicy")], req("get", "configmaps")).allowed
