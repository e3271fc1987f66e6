"""The privilege comparison of `--prefer-access-policies` and `verify`, with differences written out by hand.

Kubernetes RBAC (`RuleAllows`): a rule without resourceNames grants every name; a rule with resourceNames
grants exactly those names, and `""` is a name like any other (it matches only requests that name no object:
list, watch, create, deletecollection). An empty list of verbs, API groups, resources or non-resource URLs
grants nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from migrator.awsauth import parse_aws_auth
from migrator.model import AccessEntrySpec, AccessScope, AuthMode, PolicyAssociation, PolicyRule, ScopeType
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.rbac_review import rbac_policy
from migrator.proof.verify import Category, ClusterState, verify
from migrator.rules.access_policies import policy_rules
from migrator.rules.privilege import atoms, candidate, compact, diff
from migrator.rules.rbac import RbacPolicy
from tests.support.arns import role
from tests.support.rbac import CASE_BINDINGS, MAP_ROLES, TRIMMED_ADMIN, live_objects, rbac_objects
from tests.support.scenarios import aws_auth_config_map
from tests.unit.test_rbac_review import snapshot

GET_SECRETS = PolicyRule(("get",), ("",), ("secrets",))
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"


def named(rule: PolicyRule, *names: str) -> PolicyRule:
    return dataclasses.replace(rule, resource_names=names)


# --- atoms and their comparison --------------------------------------------------------------------------


def test_a_rule_without_names_grants_any_name_and_the_empty_name_is_one_name() -> None:
    assert atoms([GET_SECRETS]) == {("get", "", "secrets", None)}
    assert atoms([named(GET_SECRETS, "")]) == {("get", "", "secrets", "")}
    assert atoms([named(GET_SECRETS, "a", "")]) == {("get", "", "secrets", "a"), ("get", "", "secrets", "")}


def test_resource_names_empty_string_does_not_stand_for_every_name() -> None:
    gained, lost = diff([named(GET_SECRETS, "")], [GET_SECRETS])
    assert gained == (GET_SECRETS,)  # every secret, which the group's rule never granted
    assert lost == ()  # the request without a name is still allowed by the rule without names


def test_named_rules_cover_only_their_names() -> None:
    assert diff([named(GET_SECRETS, "a")], [named(GET_SECRETS, "b")]) == (
        (named(GET_SECRETS, "b"),),
        (named(GET_SECRETS, "a"),),
    )
    assert diff([named(GET_SECRETS, "a")], [GET_SECRETS]) == ((GET_SECRETS,), ())
    assert diff([GET_SECRETS], [named(GET_SECRETS, "a")]) == ((), (GET_SECRETS,))
    # Two names never add up to "every name".
    assert diff([named(GET_SECRETS, "a", "b")], [GET_SECRETS])[0] == (GET_SECRETS,)
    # The same names on both sides: nothing gained, nothing lost.
    assert diff([named(GET_SECRETS, "", "a")], [named(GET_SECRETS, "a"), named(GET_SECRETS, "")]) == ((), ())


def test_empty_lists_grant_nothing() -> None:
    nothing = [
        PolicyRule((), ("",), ("secrets",)),
        PolicyRule(("get",), (), ("secrets",)),
        PolicyRule(("get",), ("",), ()),
        PolicyRule(("get",), non_resource_urls=()),
    ]
    assert atoms(nothing) == frozenset()
    assert diff(nothing, [GET_SECRETS]) == ((GET_SECRETS,), ())
    assert diff([GET_SECRETS], nothing) == ((), (GET_SECRETS,))


def test_empty_resource_names_in_an_object_mean_every_name_and_a_name_that_is_no_string_grants_nothing() -> None:
    base: dict[str, Any] = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
    assert PolicyRule.from_object(base) == GET_SECRETS
    assert PolicyRule.from_object({**base, "resourceNames": []}) == GET_SECRETS
    assert PolicyRule.from_object({**base, "resourceNames": [""]}) == named(GET_SECRETS, "")
    # The API server refuses these; read anyway, they must never become "every name".
    for names in ([5], ["a", None], "abc", {"a": 1}):
        assert atoms([PolicyRule.from_object({**base, "resourceNames": names})]) == frozenset(), names


def test_compact_keeps_the_empty_name_apart_from_no_names() -> None:
    pieces = {("get", "", "secrets", None), ("list", "", "secrets", ""), ("get", "", "pods", "")}
    assert compact(pieces) == (
        PolicyRule(("get",), ("",), ("pods",), ("",)),
        PolicyRule(("get",), ("",), ("secrets",)),
        PolicyRule(("list",), ("",), ("secrets",), ("",)),
    )
    assert PolicyRule.from_object(named(GET_SECRETS, "").to_object()) == named(GET_SECRETS, "")
    assert named(GET_SECRETS, "").describe() == 'get core/secrets (names "")'


# --- the regression: an `edit` whose every rule names only "" --------------------------------------------


def _emptied_edit() -> dict[str, Any]:
    """`edit` as somebody rewrote it: the Edit policy's rules, each limited to the resource name ""."""
    rules = [named(rule, "").to_object() for rule in policy_rules("AmazonEKSEditPolicy") or ()]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "edit", "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}},
        "rules": rules,
    }


def _objects() -> Any:
    return rbac_objects(live_objects(TRIMMED_ADMIN, _emptied_edit(), *CASE_BINDINGS))


def test_a_cluster_role_whose_rules_all_name_the_empty_string_is_no_match_for_the_edit_policy() -> None:
    objects = _objects()
    rbac = RbacPolicy.from_objects(
        objects.cluster_roles, objects.roles, objects.cluster_role_bindings, objects.role_bindings
    )
    found = candidate(rbac, "editors", "aws")
    assert found.conversion is not None and found.widens
    assert found.conversion.lost == ()  # every request it allowed, Edit allows too
    # Edit's every rule on every name: updating any secret among them.
    assert atoms(found.conversion.gained) == atoms(policy_rules("AmazonEKSEditPolicy") or ())
    assert ("update", "", "secrets", None) in atoms(found.conversion.gained)


def test_prefer_access_policies_does_not_convert_it_even_when_narrowing_is_accepted() -> None:
    plan = build_plan(snapshot(_objects()), PlanOptions(prefer_access_policies=True, accept_narrowing=True))
    editor = next(e for e in plan.entries if e.spec.principal_arn == role("Editor"))
    assert (editor.spec.groups, editor.spec.policies, editor.conversions) == (("editors",), (), ())
    assert any(f.code == "POLICY_CONVERSION_WIDENS" and f.principal_arn == role("Editor") for f in plan.findings)


def test_verify_does_not_call_an_edit_policy_in_its_place_equivalent() -> None:
    aws_auth = parse_aws_auth(aws_auth_config_map(MAP_ROLES, ""), file="aws-auth.yaml")
    # The entry a plan made before the fix: the group replaced by Edit, scoped to its RoleBindings' namespaces.
    scope = AccessScope(ScopeType.NAMESPACE, ("dev", "stage"))
    converted = AccessEntrySpec(
        role("Editor"), username="editor:{{SessionName}}", policies=(PolicyAssociation(EDIT, scope),)
    )
    state = ClusterState(AuthMode.API, None, (converted,), rbac=rbac_policy(_objects()))
    verdict = next(v for v in verify(aws_auth, state).verdicts if v.principal == role("Editor"))
    assert verdict.category is Category.DIFFERS
    assert verdict.note == ""
