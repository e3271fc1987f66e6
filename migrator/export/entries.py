"""Which entries of a plan an export describes, and where each comes from.

How the plan records them (migrator/plan/planner.py): every mapping aws-auth has is a `PlannedEntry` with an
action. `create` entries are made by apply; `adopt` entries exist already (made by a person, an earlier run,
or EKS at the switch out of CONFIG_MAP: then the plan carries an `EKS_CREATES_ENTRY` finding naming the
principal); `repair-node-type` entries are a Windows node group role's EC2_LINUX entry that apply replaces by
an EC2_WINDOWS one; `skip` mappings get no entry at all. After a finished apply every entry but the skipped
ones exists exactly as its `spec` says, which is what an export describes.

Entries EKS makes itself for managed node groups and Fargate profiles are EKS's to keep: it creates them with
the node group or profile (terraform-aws-eks docs/security/cluster-access.md: "EKS will automatically create
an access entry for the IAM role(s) used by managed node group(s) and Fargate profile(s)"), so they are
listed apart and exported only when asked.

The cluster creator's admin entry is not in a plan: EKS does not say who created a cluster. When the
creator is mapped in aws-auth, the plan creates an entry for it, but EKS makes one at the first switch and
apply keeps that one instead (journaled as `eksCreated`, docs/safety.md, "The cluster creator"). The caller passes
those principals from the journal (`creator_entries`); their entry is exported as EKS makes it (STANDARD,
EKS's default username, no groups, AmazonEKSClusterAdminPolicy at cluster scope), which is what is live.

The plan was checked when it was read (integrity and each step's kind); this module checks again what ends
up inside Terraform or JSON strings, so an edited-and-rehashed plan cannot smuggle text into them: principal
ARNs parse as IAM role or user ARNs of the cluster's partition, and policy ARNs are EKS access policies of
that partition (arn:<partition>:eks::aws:cluster-access-policy/<Name>, eks-facts.md section 2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from migrator.errors import InputError
from migrator.model import (
    AccessEntrySpec,
    ClusterRef,
    EntryAction,
    EntryType,
    Plan,
    PlannedEntry,
    PolicyAssociation,
    ScopeType,
)
from migrator.rules import identity
from migrator.rules.arn import ArnError, PrincipalKind, parse_arn
from migrator.rules.limits import check_cluster_name

EKS_CREATES_ENTRY = "EKS_CREATES_ENTRY"
_POLICY_NAME_RE = re.compile(r"[A-Za-z0-9]{1,128}", re.ASCII)
# Kubernetes namespace names (DNS labels), with the wildcards EKS allows in access scopes (`dev-*`).
_NAMESPACE_RE = re.compile(r"[a-z0-9*-]{1,63}", re.ASCII)


class Origin(StrEnum):
    CREATED = "created"  # apply creates it (create-entry and its associate-policy steps)
    ADOPTED = "adopted"  # it existed before the plan and is kept as it is
    REPAIRED = "repaired"  # a Windows node role's EC2_LINUX entry, re-created as EC2_WINDOWS by apply
    EKS_MANAGED = "eks-managed"  # EKS makes it at the switch for a managed node group or Fargate profile
    CREATOR = "creator"  # EKS made it for the cluster creator at the first switch, and apply kept it


@dataclass(frozen=True)
class ExportedEntry:
    spec: AccessEntrySpec
    origin: Origin


@dataclass(frozen=True)
class ExportSet:
    """`entries` become resources, sorted by principal ARN; `eks_managed` are only listed (empty when they
    are exported too); `skipped` counts the mappings that get no entry (dead or blocked)."""

    cluster: ClusterRef
    entries: tuple[ExportedEntry, ...]
    eks_managed: tuple[ExportedEntry, ...]
    skipped: int


def select_entries(
    plan: Plan, *, include_eks_managed: bool = False, creator_entries: frozenset[str] = frozenset()
) -> ExportSet:
    if plan.offline:
        raise InputError(
            "the plan is an offline plan: its principal ARNs were not checked against IAM and apply refuses it, "
            "so there is nothing to import",
            hint="plan against the cluster, apply that plan, then export it",
        )
    check_cluster_name(plan.cluster.name, where="the plan's cluster name")
    made_by_eks = {f.principal_arn for f in plan.findings if f.code == EKS_CREATES_ENTRY}
    chosen: dict[str, ExportedEntry] = {}
    for planned in plan.entries:
        if planned.action is EntryAction.SKIP:
            continue
        exported = ExportedEntry(planned.spec, _origin(planned, made_by_eks))
        if planned.action is EntryAction.CREATE and planned.spec.principal_arn in creator_entries:
            exported = ExportedEntry(creator_entry(planned.spec.principal_arn, plan.cluster), Origin.CREATOR)
        check_entry(exported.spec, plan.cluster)
        _add_once(chosen, exported)
    ordered = sorted(chosen.values(), key=lambda e: e.spec.principal_arn)
    if include_eks_managed:
        return ExportSet(plan.cluster, tuple(ordered), (), _skipped(plan.entries))
    return ExportSet(
        plan.cluster,
        tuple(e for e in ordered if e.origin is not Origin.EKS_MANAGED),
        tuple(e for e in ordered if e.origin is Origin.EKS_MANAGED),
        _skipped(plan.entries),
    )


def creator_entry(principal_arn: str, cluster: ClusterRef) -> AccessEntrySpec:
    """The admin entry EKS makes for the cluster creator (eks-facts.md sections 1 and 5b)."""
    admin = PolicyAssociation(identity.policy_arn(cluster.partition, identity.CLUSTER_ADMIN_POLICY))
    return AccessEntrySpec(principal_arn, EntryType.STANDARD, None, (), (admin,))


def _origin(planned: PlannedEntry, made_by_eks: set[str | None]) -> Origin:
    if planned.action is EntryAction.CREATE:
        return Origin.CREATED
    if planned.action is EntryAction.REPAIR_NODE_TYPE:
        return Origin.REPAIRED
    if planned.spec.principal_arn in made_by_eks and planned.spec.type.is_node:
        return Origin.EKS_MANAGED
    return Origin.ADOPTED


def _skipped(entries: Iterable[PlannedEntry]) -> int:
    return sum(1 for e in entries if e.action is EntryAction.SKIP)


def _add_once(chosen: dict[str, ExportedEntry], exported: ExportedEntry) -> None:
    """One resource per principal: two entries for one principal would be two resources with one import ID."""
    arn = exported.spec.principal_arn
    if arn in chosen and chosen[arn].spec != exported.spec:
        raise InputError(f"the plan has two different entries for {arn}; a plan made by `plan` never does")
    chosen[arn] = exported


def check_entry(spec: AccessEntrySpec, cluster: ClusterRef) -> None:
    """What goes into the exported text is what a plan can hold, nothing else (InputError otherwise)."""
    arn = spec.principal_arn
    try:
        parsed = parse_arn(arn)
    except ArnError as error:
        raise InputError(f"the plan's entry {arn!r} is not an IAM principal: {error}") from None
    if parsed.kind not in (PrincipalKind.ROLE, PrincipalKind.USER) or parsed.partition != cluster.partition:
        raise InputError(
            f"the plan's entry {arn} is not an IAM role or user of partition {cluster.partition}, the cluster's"
        )
    prefix = f"arn:{cluster.partition}:eks::aws:cluster-access-policy/"
    for policy in spec.policies:
        name = policy.policy_arn.removeprefix(prefix)
        if not policy.policy_arn.startswith(prefix) or not _POLICY_NAME_RE.fullmatch(name):
            raise InputError(
                f"the plan associates {policy.policy_arn!r} with {arn}, which is not an EKS access policy of "
                f"partition {cluster.partition} ({prefix}<Name>)"
            )
        bad = [n for n in policy.scope.namespaces if not _NAMESPACE_RE.fullmatch(n)]
        if bad or (policy.scope.type is ScopeType.NAMESPACE and not policy.scope.namespaces):
            raise InputError(f"the plan scopes {policy.policy_name} of {arn} to invalid namespaces {bad!r}")
