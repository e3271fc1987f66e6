"""What a Kubernetes group's RBAC bindings grant, compared with the EKS access policy that could replace it.
Pure; shared by the planner (`--prefer-access-policies`) and `verify` (which must recognise a conversion).

A group is convertible when every binding that names it (as a `Group` subject) points at one and the same
built-in user-facing ClusterRole: `cluster-admin`, `admin`, `edit` or `view`. ClusterRoleBindings make the
policy cluster-scoped; RoleBindings alone make it namespace-scoped with exactly their namespaces. Both sides
then grant one rule set in one scope, so the privilege difference is a difference of rules:

- the group side is the live cluster's ClusterRole after aggregation (`rules.rbac.aggregate`, as the
  controller writes it), never a fixed table: a CRD aggregated into `view` is part of it;
- the policy side is the access policy reference (`rules.access_policies`);
- rules are cut into atoms (one verb, one API group, one resource or subresource, one resource name or
  any name; or one verb and one non-resource URL), and an atom is kept by the other side when the other side's
  rules allow it as the RBAC authorizer would (`rule_allows`). A `*` in an atom is taken literally: only a
  `*` covers it. So `*` on one side against a list of every verb on the other counts as a difference: a
  conversion may be refused or called narrowing although it is exact, never the other way round.
- resource names are exact, as in `RuleAllows`: a rule without resourceNames grants any name (`ANY_NAME`,
  covered only by another rule without names: no list of names adds up to all of them); a rule with
  resourceNames grants those names only, and `""` is one of them (it matches the requests that name no
  object: list, watch, create, deletecollection), never "any name". An empty list of verbs, API groups,
  resources or URLs grants nothing, so it makes no atom.

The difference is per group: a rule the principal also gets through another of its groups still counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from migrator.model import AccessScope, GroupConversion, PolicyAssociation, PolicyRule, ScopeType
from migrator.rules.access_policies import policy_rules
from migrator.rules.identity import policy_arn
from migrator.rules.rbac import Binding, NonResourceRequest, RbacPolicy, ResourceRequest, rule_allows, rules_allow

# The built-in user-facing ClusterRoles and the access policy that stands for each (eks-facts.md section 2).
POLICY_FOR_ROLE = {
    "cluster-admin": "AmazonEKSClusterAdminPolicy",
    "admin": "AmazonEKSAdminPolicy",
    "edit": "AmazonEKSEditPolicy",
    "view": "AmazonEKSViewPolicy",
}

ANY_NAME = None  # the resource name of an atom from a rule without resourceNames

# (verb, apiGroup, resource, resourceName or ANY_NAME) or (verb, url): the smallest piece of a rule.
Atom = tuple[str, str, str, str | None] | tuple[str, str]


def atoms(rules: Iterable[PolicyRule]) -> frozenset[Atom]:
    found: set[Atom] = set()
    for rule in rules:
        names: tuple[str | None, ...] = rule.resource_names or (ANY_NAME,)
        for verb in rule.verbs:
            for url in rule.non_resource_urls:
                found.add((verb, url))
            for group in rule.api_groups:
                for resource in rule.resources:
                    for name in names:
                        found.add((verb, group, resource, name))
    return frozenset(found)


def _allowed(atom: Atom, by: Sequence[PolicyRule]) -> bool:
    if len(atom) == 2:
        return rules_allow(NonResourceRequest(atom[0], atom[1]), by)
    verb, group, resource, name = atom
    base, _, sub = resource.partition("/")
    if name is ANY_NAME:  # every name at once: only a rule that names none grants them all
        request = ResourceRequest(verb, group, base, subresource=sub)
        return any(not rule.resource_names and rule_allows(request, rule) for rule in by)
    return rules_allow(ResourceRequest(verb, group, base, name=name, subresource=sub), by)


def not_covered(have: Iterable[PolicyRule], by: Sequence[PolicyRule]) -> tuple[PolicyRule, ...]:
    """The parts of `have` that `by` does not allow, as compact rules."""
    return compact(a for a in atoms(have) if not _allowed(a, by))


def compact(pieces: Iterable[Atom]) -> tuple[PolicyRule, ...]:
    """Atoms back into rules: one rule per API group, resource name and set of verbs, listing its resources
    (or one per set of verbs, listing its URLs). Sorted, so the same difference reads the same."""
    verbs_of: dict[tuple[str, str, str | None] | tuple[str], set[str]] = defaultdict(set)
    for atom in pieces:
        verbs_of[(atom[1], atom[2], atom[3]) if len(atom) == 4 else (atom[1],)].add(atom[0])
    by_verbs: dict[tuple[tuple[str, ...], str, str | None], list[str]] = defaultdict(list)
    urls_by_verbs: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for key, verbs in verbs_of.items():
        ordered = tuple(sorted(verbs))
        if len(key) == 1:
            urls_by_verbs[ordered].append(key[0])
        else:
            group, resource, name = key
            by_verbs[(ordered, group, name)].append(resource)
    rules = [
        PolicyRule(verbs, (group,), tuple(sorted(resources)), () if name is ANY_NAME else (name,))
        for (verbs, group, name), resources in by_verbs.items()
    ]
    rules += [PolicyRule(verbs, non_resource_urls=tuple(sorted(urls))) for verbs, urls in urls_by_verbs.items()]
    return tuple(
        sorted(rules, key=lambda r: (r.api_groups, r.resources, r.resource_names, r.non_resource_urls, r.verbs))
    )


def diff(group_rules: Sequence[PolicyRule], policy: Sequence[PolicyRule]) -> tuple[tuple[PolicyRule, ...], ...]:
    """(gained, lost): what the policy grants that the group's rules do not, and the reverse."""
    return not_covered(policy, group_rules), not_covered(group_rules, policy)


def group_bindings(rbac: RbacPolicy, group: str) -> tuple[Binding, ...]:
    """Every ClusterRoleBinding and RoleBinding naming `group` as a Group subject."""
    return tuple(
        b
        for b in (*rbac.cluster_bindings, *rbac.role_bindings)
        if any(s.kind == "Group" and s.name == group for s in b.subjects)
    )


@dataclass(frozen=True)
class Candidate:
    """What converting a group would do; `conversion` None with `reason` when it cannot be converted."""

    group: str
    conversion: GroupConversion | None = None
    reason: str = ""

    @property
    def widens(self) -> bool:
        return self.conversion is not None and bool(self.conversion.gained)

    @property
    def narrows(self) -> bool:
        return self.conversion is not None and not self.conversion.gained and bool(self.conversion.lost)


def candidate(rbac: RbacPolicy, group: str, partition: str) -> Candidate:
    """The access policy and scope that could replace `group`, with the privilege difference."""
    bindings = group_bindings(rbac, group)
    if not bindings:
        return Candidate(group, reason="no binding names it")
    roles = {(b.role_kind, b.role_name) for b in bindings}
    if len(roles) != 1:
        return Candidate(group, reason="its bindings name more than one role")
    kind, role = next(iter(roles))
    if kind != "ClusterRole" or role not in POLICY_FOR_ROLE:
        return Candidate(group, reason=f"its bindings name {kind} {role}, not a built-in user-facing ClusterRole")
    role_rules = rbac.cluster_roles.get(role)
    if role_rules is None:
        return Candidate(group, reason=f"ClusterRole {role} does not exist")
    policy_name = POLICY_FOR_ROLE[role]
    if any(not b.namespace for b in bindings):
        scope = AccessScope(ScopeType.CLUSTER)
    else:
        scope = AccessScope(ScopeType.NAMESPACE, tuple(sorted({b.namespace for b in bindings})))
    gained, lost = diff(role_rules, policy_rules(policy_name) or ())
    association = PolicyAssociation(policy_arn(partition, policy_name), scope)
    return Candidate(group, GroupConversion(group, role, association, gained, lost))


def describe_rules(rules: Iterable[PolicyRule]) -> str:
    return "; ".join(rule.describe() for rule in rules) or "none"
