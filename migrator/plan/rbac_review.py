"""The RBAC-aware review (`--rbac`, and `--prefer-access-policies [--accept-narrowing]`). Pure: the snapshot's
RBAC objects and the planned entries in, findings and (with conversions) changed entries out.

Only entries the plan creates are reviewed: an adopted entry is already the principal's identity, node entries
have fixed identities. What is reviewed, per winning mapping, against today's identity (aws-auth) and the
planned entry's:
- GROUP_UNBOUND: a mapped group no binding names;
- USERNAME_BINDING_CHANGES: the usernames differ and a User subject matches either of them (a template such
  as `{{SessionName}}` matches any session, so a subject `dev:alice` matches `dev:{{SessionName}}`);
- MASTERS_GROUP_BOUND: a binding names system:masters (other than the bootstrap cluster-admin binding),
  while a migrated mapping carries the group;
- conversions (rules.privilege): exact ones are made, narrowing ones only with `accept_narrowing`, widening
  ones never. The converted entry lacks the group and has the policy from its creation on: the policy is
  associated right after the entry is created, so the principal never holds more than either identity.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from migrator.model import (
    EntryAction,
    EntryType,
    Finding,
    GroupConversion,
    PlannedEntry,
    RbacObjects,
    ScopeType,
    Snapshot,
)
from migrator.plan.translate import Translation
from migrator.rules import identity
from migrator.rules.findings import finding
from migrator.rules.privilege import candidate, describe_rules
from migrator.rules.rbac import Binding, RbacPolicy

MASTERS_GROUP = "system:masters"
TEMPLATE_RE = re.compile(r"\{\{\w+\}\}")


def rbac_policy(objects: RbacObjects) -> RbacPolicy:
    return RbacPolicy.from_objects(
        objects.cluster_roles, objects.roles, objects.cluster_role_bindings, objects.role_bindings
    )


def username_matches(template: str, name: str) -> bool:
    """Whether a username as a mapping or an entry writes it (templates unrendered) can be `name`."""
    parts = TEMPLATE_RE.split(template)
    pattern = ".*".join(re.escape(p) for p in parts)
    return re.fullmatch(pattern, name, flags=re.DOTALL) is not None


def _scope_text(conversion: GroupConversion) -> str:
    scope = conversion.policy.scope
    if scope.type is ScopeType.CLUSTER:
        return "cluster scope"
    return f"namespace scope {', '.join(scope.namespaces)}"


def _binding_text(binding: Binding) -> str:
    name = f"{binding.namespace}/{binding.name}" if binding.namespace else binding.name
    return f"{binding.kind} {name} ({binding.role_kind} {binding.role_name})"


@dataclasses.dataclass(frozen=True)
class ReviewOptions:
    prefer_access_policies: bool = False
    accept_narrowing: bool = False


def review(
    snapshot: Snapshot,
    translations: Sequence[Translation],
    entries: Sequence[PlannedEntry],
    options: ReviewOptions,
) -> tuple[list[PlannedEntry], list[Finding]]:
    """The entries (converted where the options say so) and the review's findings."""
    if snapshot.rbac is None:
        return list(entries), []
    if not snapshot.rbac.available:
        return list(entries), [
            finding("RBAC_UNAVAILABLE", f"RBAC was not reviewed: {snapshot.rbac.reason}; the plan goes on without it")
        ]
    rbac = rbac_policy(snapshot.rbac)
    bindings = (*rbac.cluster_bindings, *rbac.role_bindings)
    findings: list[Finding] = []
    reviewed = list(entries)
    masters_mapped = False
    # The planner makes one planned entry per translation, in order; later ones (Windows repairs) have none.
    for index, (translation, planned) in enumerate(zip(translations, entries, strict=False)):
        if planned.action is not EntryAction.CREATE or planned.spec.type is not EntryType.STANDARD:
            continue
        mapping = translation.mapping
        arn = planned.spec.principal_arn
        today = identity.from_mapping(mapping, snapshot.cluster.account)
        masters_mapped = masters_mapped or today.cluster_admin
        for group in sorted(today.groups):
            if not group.startswith("system:") and not any(
                s.kind == "Group" and s.name == group for b in bindings for s in b.subjects
            ):
                findings.append(
                    finding(
                        "GROUP_UNBOUND",
                        f"group {group} of {arn} is named by no RoleBinding or ClusterRoleBinding",
                        principal_arn=arn,
                        source=mapping.source,
                    )
                )
        planned_username = identity.from_entry(planned.spec).username
        if today.username != planned_username:
            touched = sorted(
                {
                    f"{_binding_text(b)} names User {s.name}"
                    for b in bindings
                    for s in b.subjects
                    if s.kind == "User"
                    and (username_matches(today.username, s.name) or username_matches(planned_username, s.name))
                }
            )
            if touched:
                findings.append(
                    finding(
                        "USERNAME_BINDING_CHANGES",
                        f"{arn}'s username {today.username!r} becomes {planned_username!r} in its entry, and "
                        f"{'; '.join(touched)}",
                        principal_arn=arn,
                        source=mapping.source,
                    )
                )
        if options.prefer_access_policies:
            reviewed[index] = _convert(snapshot, rbac, planned, options, findings)
    if masters_mapped:
        for binding in bindings:
            if binding.kind == "ClusterRoleBinding" and binding.role_name == "cluster-admin":
                continue  # what AmazonEKSClusterAdminPolicy grants anyway (the bootstrap binding)
            if any(s.kind == "Group" and s.name == MASTERS_GROUP for s in binding.subjects):
                findings.append(
                    finding(
                        "MASTERS_GROUP_BOUND",
                        f"{_binding_text(binding)} names {MASTERS_GROUP}; the migrated principals mapped with "
                        f"{MASTERS_GROUP} get AmazonEKSClusterAdminPolicy instead of the group",
                    )
                )
    return reviewed, findings


def _convert(
    snapshot: Snapshot, rbac: RbacPolicy, planned: PlannedEntry, options: ReviewOptions, findings: list[Finding]
) -> PlannedEntry:
    spec = planned.spec
    arn = spec.principal_arn
    made: list[GroupConversion] = []
    taken = {p.policy_name for p in spec.policies}
    for group in spec.groups:
        found = candidate(rbac, group, snapshot.cluster.partition)
        conversion = found.conversion
        if conversion is None or conversion.policy.policy_name in taken:
            continue  # not bound to one built-in role only; or the entry has that policy (one per entry)
        what = f"group {group} of {arn} as {conversion.policy.policy_name} ({_scope_text(conversion)})"
        if found.widens:
            findings.append(
                finding(
                    "POLICY_CONVERSION_WIDENS",
                    f"{what} would grant more than ClusterRole {conversion.cluster_role} as this cluster has it: "
                    f"{describe_rules(conversion.gained)}; the group is kept",
                    principal_arn=arn,
                    source=planned.source,
                )
            )
            continue
        if found.narrows:
            accepted = options.accept_narrowing
            findings.append(
                finding(
                    "POLICY_CONVERSION_NARROWS",
                    f"{what} would lose what ClusterRole {conversion.cluster_role} grants beyond it: "
                    f"{describe_rules(conversion.lost)}; "
                    + ("converted (--accept-narrowing)" if accepted else "the group is kept (--accept-narrowing)"),
                    principal_arn=arn,
                    source=planned.source,
                )
            )
            if not accepted:
                continue
        else:
            findings.append(
                finding(
                    "POLICY_CONVERSION",
                    f"{what}: exactly what ClusterRole {conversion.cluster_role} grants",
                    principal_arn=arn,
                    source=planned.source,
                )
            )
        made.append(conversion)
        taken.add(conversion.policy.policy_name)
    if not made:
        return planned
    converted = {c.group for c in made}
    new_spec = dataclasses.replace(
        spec,
        groups=tuple(g for g in spec.groups if g not in converted),
        policies=(*spec.policies, *(c.policy for c in made)),
    )
    return dataclasses.replace(planned, spec=new_spec, conversions=tuple(made))
