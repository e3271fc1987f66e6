"""The RBAC review at plan time: privilege differences written out by hand, against the live roles built from
the bootstrap pieces (aggregation included), the findings, the conversions, and the plan file round trip."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from migrator.awsauth import parse_aws_auth
from migrator.errors import InputError
from migrator.model import (
    AccessScope,
    AuthMode,
    EntryAction,
    Plan,
    PolicyAssociation,
    PolicyRule,
    RbacObjects,
    ScopeType,
    Snapshot,
)
from migrator.plan.compare import plan_differences
from migrator.plan.planfile import plan_from_dict, plan_to_dict
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.rbac_review import rbac_policy, username_matches
from migrator.plan.snapshot import offline_snapshot
from migrator.proof.verify import Category, ClusterState, verify
from migrator.rules.access_policies import policy_rules
from migrator.rules.privilege import candidate, diff
from migrator.rules.rbac import RbacPolicy
from tests.support.arns import ACCOUNT, role
from tests.support.rbac import (
    CASE_BINDINGS,
    MAP_ROLES,
    TRIMMED_ADMIN,
    cluster_binding,
    live_objects,
    rbac_objects,
    role_binding,
)
from tests.support.scenarios import aws_auth_config_map

POLICY = "arn:aws:eks::aws:cluster-access-policy/"
READ = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


def live_policy() -> RbacPolicy:
    objects = rbac_objects(live_objects())
    return RbacPolicy.from_objects(objects.cluster_roles, objects.roles, (), ())


# --- the privilege difference against the live roles -----------------------------------------------------


def test_view_is_exactly_the_live_view_role() -> None:
    assert diff(live_policy().cluster_roles["view"], policy_rules("AmazonEKSViewPolicy") or ()) == ((), ())


def test_cluster_admin_is_exactly_the_live_cluster_admin_role() -> None:
    assert diff(live_policy().cluster_roles["cluster-admin"], policy_rules("AmazonEKSClusterAdminPolicy") or ()) == (
        (),
        (),
    )


def test_edit_loses_leases_service_account_tokens_and_evictions() -> None:
    gained, lost = diff(live_policy().cluster_roles["edit"], policy_rules("AmazonEKSEditPolicy") or ())
    assert gained == ()
    assert lost == (
        PolicyRule(("create",), ("",), ("pods/eviction", "serviceaccounts/token")),
        PolicyRule(ALL_VERBS, ("coordination.k8s.io",), ("leases",)),
    )


def test_admin_view_would_widen_view_to_every_resource() -> None:
    gained, lost = diff(live_policy().cluster_roles["view"], policy_rules("AmazonEKSAdminViewPolicy") or ())
    assert gained == (PolicyRule(READ, ("*",), ("*",)),)
    assert lost == ()


def test_a_crd_aggregated_into_view_is_lost_by_view() -> None:
    crd_reader = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}],
    }
    objects = rbac_objects(live_objects(crd_reader))
    rbac = RbacPolicy.from_objects(objects.cluster_roles, (), (), ())
    assert diff(rbac.cluster_roles["view"], policy_rules("AmazonEKSViewPolicy") or ()) == (
        (),
        (PolicyRule(("get", "list"), ("example.com",), ("widgets",)),),
    )


def test_role_bindings_give_a_namespace_scope_with_exactly_their_namespaces() -> None:
    objects = rbac_objects(
        live_objects(
            role_binding("stage", "b", "edit", ("Group", "editors")),
            role_binding("dev", "a", "edit", ("Group", "editors")),
            role_binding("dev", "c", "edit", ("Group", "editors")),
        )
    )
    rbac = RbacPolicy.from_objects(
        objects.cluster_roles, objects.roles, objects.cluster_role_bindings, objects.role_bindings
    )
    found = candidate(rbac, "editors", "aws").conversion
    assert found is not None
    assert found.policy == PolicyAssociation(
        POLICY + "AmazonEKSEditPolicy", AccessScope(ScopeType.NAMESPACE, ("dev", "stage"))
    )


def test_a_group_bound_to_other_roles_or_to_two_roles_is_not_a_candidate() -> None:
    objects = rbac_objects(
        live_objects(
            cluster_binding("a", "view", ("Group", "mixed")),
            role_binding("dev", "b", "edit", ("Group", "mixed")),
            cluster_binding("c", "system:basic-user", ("Group", "basic")),
        )
    )
    rbac = RbacPolicy.from_objects(
        objects.cluster_roles, objects.roles, objects.cluster_role_bindings, objects.role_bindings
    )
    assert candidate(rbac, "mixed", "aws").conversion is None
    assert candidate(rbac, "basic", "aws").conversion is None
    assert candidate(rbac, "nobody", "aws").conversion is None


@pytest.mark.parametrize(
    ("template", "name", "matches"),
    [
        ("dev:{{SessionName}}", "dev:alice", True),
        ("dev:{{SessionName}}", "ops:alice", False),
        ("arn:aws:sts::1:assumed-role/R/{{SessionName}}", "arn:aws:sts::1:assumed-role/R/x", True),
        ("alice", "alice", True),
        ("alice", "alice2", False),
        ("a.b", "axb", False),  # literal text is literal
    ],
)
def test_usernames_with_templates_match_any_session(template: str, name: str, matches: bool) -> None:
    assert username_matches(template, name) is matches


# --- the plan ---------------------------------------------------------------------------------------------


def snapshot(objects: RbacObjects | None) -> Snapshot:
    aws_auth = parse_aws_auth(aws_auth_config_map(MAP_ROLES, ""), file="aws-auth.yaml")
    base = offline_snapshot(aws_auth, cluster="c", region="us-east-1", account=ACCOUNT)
    return dataclasses.replace(base, offline=False, rbac=objects)


def make(options: PlanOptions, objects: RbacObjects | None = None) -> Plan:
    found = objects if objects is not None else rbac_objects(live_objects(TRIMMED_ADMIN, *CASE_BINDINGS))
    return build_plan(snapshot(found), options)


def codes(plan: Plan) -> set[tuple[str, str]]:
    return {(f.code, (f.principal_arn or "").rsplit("/", 1)[-1]) for f in plan.findings}


def entry(plan: Plan, name: str) -> tuple[tuple[str, ...], tuple[PolicyAssociation, ...]]:
    found = next(e for e in plan.entries if e.spec.principal_arn == role(name))
    return found.spec.groups, found.spec.policies


def test_the_review_without_conversions_finds_each_case() -> None:
    plan = make(PlanOptions())
    review = {c for c in codes(plan) if c[0] in {"GROUP_UNBOUND", "USERNAME_BINDING_CHANGES", "MASTERS_GROUP_BOUND"}}
    assert review == {("GROUP_UNBOUND", "Mixed"), ("USERNAME_BINDING_CHANGES", "Blank"), ("MASTERS_GROUP_BOUND", "")}
    assert entry(plan, "Viewer") == (("viewers",), ())
    assert plan.rbac and not plan.prefer_access_policies


def test_prefer_access_policies_makes_exact_conversions_only() -> None:
    plan = make(PlanOptions(prefer_access_policies=True))
    assert entry(plan, "Viewer") == ((), (PolicyAssociation(POLICY + "AmazonEKSViewPolicy"),))
    assert entry(plan, "Platform") == ((), (PolicyAssociation(POLICY + "AmazonEKSClusterAdminPolicy"),))
    assert entry(plan, "Editor") == (("editors",), ())  # narrowing, not accepted
    assert entry(plan, "Auditor") == (("auditors",), ())  # widening: never
    assert entry(plan, "Mixed") == (("mixed", "lonely"), ())
    found = codes(plan)
    assert {("POLICY_CONVERSION", "Viewer"), ("POLICY_CONVERSION", "Platform"), ("POLICY_CONVERSION", "Blank")} <= found
    assert ("POLICY_CONVERSION_NARROWS", "Editor") in found
    assert ("POLICY_CONVERSION_WIDENS", "Auditor") in found
    widens = next(f for f in plan.findings if f.code == "POLICY_CONVERSION_WIDENS")
    assert "get,list,watch" in widens.message and "the group is kept" in widens.message
    viewer = next(e for e in plan.entries if e.spec.principal_arn == role("Viewer"))
    assert [(c.group, c.cluster_role, c.gained, c.lost) for c in viewer.conversions] == [("viewers", "view", (), ())]
    # the policy follows its entry at once
    kinds = [(s.kind.value, s.principal_arn) for s in plan.steps if s.principal_arn == role("Viewer")]
    assert kinds == [("create-entry", role("Viewer")), ("associate-policy", role("Viewer"))]


def test_accept_narrowing_converts_the_narrowing_group_with_the_rules_lost() -> None:
    plan = make(PlanOptions(prefer_access_policies=True, accept_narrowing=True))
    scope = AccessScope(ScopeType.NAMESPACE, ("dev", "stage"))
    assert entry(plan, "Editor") == ((), (PolicyAssociation(POLICY + "AmazonEKSEditPolicy", scope),))
    editor = next(e for e in plan.entries if e.spec.principal_arn == role("Editor"))
    assert editor.conversions[0].lost == (
        PolicyRule(("create",), ("",), ("pods/eviction", "serviceaccounts/token")),
        PolicyRule(ALL_VERBS, ("coordination.k8s.io",), ("leases",)),
    )
    assert entry(plan, "Auditor") == (("auditors",), ())  # still never
    data = json.loads(json.dumps(plan_to_dict(plan)))
    converted = next(e for e in data["entries"] if e["principalArn"] == role("Editor"))
    assert converted["conversions"][0]["rulesLost"][1] == {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": list(ALL_VERBS),
    }
    assert data["rbacReview"] == {"preferAccessPolicies": True, "acceptNarrowing": True}
    loaded = plan_from_dict(data)
    assert plan_to_dict(loaded) == data
    assert [e.conversions for e in loaded.entries] == [e.conversions for e in plan.entries]
    assert plan_differences(loaded, make(PlanOptions(prefer_access_policies=True, accept_narrowing=True))) == []


def test_a_binding_that_does_not_change_the_plan_keeps_it_fresh_and_one_that_does_makes_it_stale() -> None:
    options = PlanOptions(prefer_access_policies=True)
    plan = make(options)
    unrelated = cluster_binding("someone", "view", ("User", "someone"))
    assert (
        plan_differences(plan, make(options, rbac_objects(live_objects(TRIMMED_ADMIN, *CASE_BINDINGS, unrelated))))
        == []
    )
    # viewers now also get edit in dev: the group is no longer convertible
    more = role_binding("dev", "viewers-edit", "edit", ("Group", "viewers"))
    changed = plan_differences(plan, make(options, rbac_objects(live_objects(TRIMMED_ADMIN, *CASE_BINDINGS, more))))
    assert any(role("Viewer") in line for line in changed)


def test_plans_without_rbac_are_as_before_and_refuse_conversions() -> None:
    plan = build_plan(snapshot(None), PlanOptions())
    data = plan_to_dict(plan)
    assert "rbacReview" not in data and all("conversions" not in e for e in data["entries"])
    assert plan_from_dict(json.loads(json.dumps(data))).rbac is False
    with pytest.raises(InputError, match="RBAC"):
        build_plan(snapshot(None), PlanOptions(prefer_access_policies=True))
    with pytest.raises(InputError, match="--accept-narrowing"):
        build_plan(snapshot(None), PlanOptions(accept_narrowing=True))


def test_unreadable_rbac_is_a_finding_and_the_plan_goes_on() -> None:
    plan = build_plan(snapshot(RbacObjects(available=False, reason="HTTP 403")), PlanOptions())
    assert ("RBAC_UNAVAILABLE", "") in codes(plan)
    assert any(e.action is EntryAction.CREATE for e in plan.entries)


# --- verify recognises a conversion from the live RBAC, never from a plan ----------------------------------


def _verdicts(plan: Plan, objects: RbacObjects) -> dict[str, Any]:
    aws_auth = parse_aws_auth(aws_auth_config_map(MAP_ROLES, ""), file="aws-auth.yaml")
    entries = tuple(e.spec for e in plan.entries if e.action is EntryAction.CREATE)
    state = ClusterState(AuthMode.API, None, entries, rbac=rbac_policy(objects))
    return {v.principal.rsplit("/", 1)[-1]: v for v in verify(aws_auth, state).verdicts}


def test_verify_takes_an_exact_conversion_as_equivalent_and_a_narrowing_one_as_a_difference() -> None:
    objects = rbac_objects(live_objects(TRIMMED_ADMIN, *CASE_BINDINGS))
    verdicts = _verdicts(make(PlanOptions(prefer_access_policies=True, accept_narrowing=True)), objects)
    assert verdicts["Viewer"].category is Category.EQUIVALENT
    assert "group viewers replaced by AmazonEKSViewPolicy" in verdicts["Viewer"].note
    assert verdicts["Platform"].category is Category.EQUIVALENT  # cluster-admin group -> ClusterAdmin policy
    assert verdicts["Editor"].category is Category.DIFFERS
    assert "leases" in verdicts["Editor"].note
    assert verdicts["Auditor"].category is Category.EQUIVALENT  # kept as a group


def test_verify_does_not_accept_a_conversion_the_live_rbac_no_longer_explains() -> None:
    plan = make(PlanOptions(prefer_access_policies=True))
    # viewers are now also bound to edit in dev: a View policy no longer stands for the group
    more = role_binding("dev", "viewers-edit", "edit", ("Group", "viewers"))
    verdicts = _verdicts(plan, rbac_objects(live_objects(TRIMMED_ADMIN, *CASE_BINDINGS, more)))
    assert verdicts["Viewer"].category is Category.DIFFERS
    assert verdicts["Viewer"].note == ""
