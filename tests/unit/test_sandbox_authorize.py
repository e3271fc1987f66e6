"""The sandbox's authorizer over a simulated cluster's stored objects, without HTTP: RBAC union access
policies, the 403 messages of the API server, and the aggregation the store keeps filled in."""

from __future__ import annotations

from migrator.model import AccessScope, AuthMode, PolicyAssociation, ScopeType
from migrator.rules.identity import Identity
from migrator.rules.rbac import NonResourceRequest, ResourceRequest
from migrator.sandbox.kube import store as kube_store
from migrator.sandbox.kube.authorize import Subject, decide, forbidden
from migrator.sandbox.kube.bootstrap import ensure_bootstrap
from migrator.sandbox.state import SimCluster

VIEW = PolicyAssociation("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", AccessScope())
ADMIN_ON_TEAM = PolicyAssociation(
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy", AccessScope(ScopeType.NAMESPACE, ("team",))
)


def cluster() -> SimCluster:
    made = SimCluster("c", "eu-west-1", "111122223333", "aws", AuthMode.API, "1.31", "eks.1", True, None)
    ensure_bootstrap(made)
    return made


def identity(*policies: PolicyAssociation, groups: tuple[str, ...] = ("system:authenticated",)) -> Identity:
    return Identity("someone", groups, "uid", policies=policies)


def test_rbac_then_access_policies_either_may_allow() -> None:
    sim = cluster()
    read = ResourceRequest("get", "", "configmaps", "kube-system", "aws-auth")
    rolebinding = ResourceRequest("create", "rbac.authorization.k8s.io", "rolebindings", "team")
    assert not decide(sim, Subject.of(identity()), read).allowed
    assert decide(sim, Subject.of(identity(VIEW)), read).reason == (
        "EKS: allowed by access policy AmazonEKSViewPolicy (cluster scope)"
    )
    assert decide(sim, Subject.of(identity(VIEW, ADMIN_ON_TEAM)), rolebinding).allowed
    elsewhere = ResourceRequest("create", "rbac.authorization.k8s.io", "rolebindings", "prod")
    assert not decide(sim, Subject.of(identity(VIEW, ADMIN_ON_TEAM)), elsewhere).allowed
    masters = decide(sim, Subject.of(identity(groups=("system:authenticated", "system:masters"))), read)
    assert masters.reason == (
        'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"'
    )


def test_anonymous_reads_the_version_only() -> None:
    sim = cluster()
    anonymous = Subject.of(None)
    assert (anonymous.user, anonymous.groups) == ("system:anonymous", ("system:unauthenticated",))
    assert decide(sim, anonymous, NonResourceRequest("get", "/version")).allowed
    assert not decide(sim, anonymous, NonResourceRequest("get", "/apis")).allowed


def test_forbidden_messages() -> None:
    assert forbidden("bob", NonResourceRequest("get", "/apis")).status()["message"] == (
        'forbidden: User "bob" cannot get path "/apis"'
    )
    error = forbidden("bob", ResourceRequest("list", "rbac.authorization.k8s.io", "clusterroles"), "RBAC: x")
    assert (error.code, error.message, error.details) == (
        403,
        'clusterroles.rbac.authorization.k8s.io is forbidden: User "bob" cannot list resource "clusterroles" in '
        'API group "rbac.authorization.k8s.io" at the cluster scope: RBAC: x',
        {"kind": "clusterroles", "group": "rbac.authorization.k8s.io"},
    )
    subresource = forbidden("bob", ResourceRequest("create", "", "serviceaccounts", "ns", "sa", "token"))
    assert subresource.message == (
        'serviceaccounts "sa" is forbidden: User "bob" cannot create resource "serviceaccounts/token" in API group '
        '"" in the namespace "ns"'
    )


def test_the_store_fills_aggregated_rules_after_each_cluster_role_write() -> None:
    sim = cluster()
    view_key = ("rbac.authorization.k8s.io/v1", "clusterroles", "", "view")
    before = sim.objects[view_key].body["metadata"]["resourceVersion"]
    extra = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "crontabs", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["stable.example.com"], "resources": ["crontabs"], "verbs": ["get"]}],
    }
    kube_store.create(sim, kube_store.CLUSTERROLES, "", extra)
    view = sim.objects[view_key].body
    # matched roles are taken by name, as the controller sorts them: "crontabs" before "system:aggregate-to-view"
    assert view["rules"][0] == {"apiGroups": ["stable.example.com"], "resources": ["crontabs"], "verbs": ["get"]}
    assert view["metadata"]["resourceVersion"] != before
    kube_store.delete(sim, kube_store.CLUSTERROLES, "", "crontabs", None)
    assert all("crontabs" not in rule.get("resources", []) for rule in sim.objects[view_key].body["rules"])


def test_bootstrap_keeps_what_is_there_and_runs_once() -> None:
    sim = SimCluster("c", "eu-west-1", "111122223333", "aws", AuthMode.API, "1.31", "eks.1", True, None)
    own_view = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "view"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    kube_store.seed(sim, [own_view])
    ensure_bootstrap(sim)
    assert sim.objects[("rbac.authorization.k8s.io/v1", "clusterroles", "", "view")].body["rules"] == own_view["rules"]
    kube_store.delete(sim, kube_store.CLUSTERROLEBINDINGS, "", "cluster-admin", None)
    ensure_bootstrap(sim)  # a deleted bootstrap object stays deleted
    assert ("rbac.authorization.k8s.io/v1", "clusterrolebindings", "", "cluster-admin") not in sim.objects
