"""What the runner of a plan may call, per step kind, for apply and for rollback: IAM actions and the
Kubernetes verbs on kube-system/aws-auth. Pure data and pure functions (no boto3): the planner stores each
step's actions in the plan, and `show --iam-policy` turns a plan into a least-privilege IAM policy and a
Kubernetes Role.

The tables are read off the handlers (migrator/run/steps/*.py), the executor and rollback, and the EKS
gateway methods they call (migrator/aws/eks.py): `describe_entry` is DescribeAccessEntry plus
ListAssociatedAccessPolicies, `list_entries` is ListAccessPolicies and ListAccessEntries (also filtered per
policy) plus a describe_entry per entry (its policy listing only when it holds one),
`in_progress_updates` is ListUpdates plus DescribeUpdate per update. An integration test
(tests/integration/test_permissions_cli.py) records every call of a full apply and a rollback at the sandbox
and fails on any the plan's policy does not allow, so a handler that starts calling something new fails there
until it is declared here.

Resource types follow the Service Authorization Reference for Amazon EKS ("Actions, resources, and condition
keys for Amazon Elastic Kubernetes Service"): the cluster-level actions take the `cluster` resource, the
per-entry actions the `access-entry` resource, AssociateAccessPolicy takes the `access-entry` resource and the
condition key `eks:policyArn`; sts:GetCallerIdentity and eks:ListAccessPolicies (the policies AWS offers,
no cluster's) have no resource-level permission ("*").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from migrator.model import AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, AssociatePolicy, ClusterRef, Plan, StepKind
from migrator.rules.state_permissions import StateGrant, state_permissions

RUNNER_ROLE_NAME = "aws-auth-migrate-runner"
RBAC_READER_NAME = "aws-auth-migrate-rbac-reader"
# A live plan with --rbac (the default), and apply planning such a plan again before its first step, list the
# four RBAC resources cluster-wide (migrator/kube/client.py read_rbac, paginated). `get` is declared with
# `list` so that a reader of one object by name (kubectl get clusterrole view) needs nothing more.
RBAC_READ_RESOURCES = ("clusterrolebindings", "clusterroles", "rolebindings", "roles")
RBAC_READ_VERBS = ("get", "list")
# The cluster lock of apply and rollback (migrator/run/lease.py): kube-system/aws-auth-migrate, a Lease.
LEASE_NAME = "aws-auth-migrate"
LEASE_VERBS = ("get", "update", "delete")  # read, take over or renew, release; `create` cannot be narrowed

# What the gateway methods cost in IAM actions (each one API operation per action).
DESCRIBE_ENTRY = ("eks:DescribeAccessEntry", "eks:ListAssociatedAccessPolicies")
LIST_ENTRIES = ("eks:ListAccessEntries", "eks:ListAccessPolicies", *DESCRIBE_ENTRY)
IN_PROGRESS_UPDATES = ("eks:ListUpdates", "eks:DescribeUpdate")
CALLER_IDENTITY = "sts:GetCallerIdentity"


@dataclass(frozen=True)
class StepPermissions:
    """Everything one step kind's handler may call: IAM actions and verbs on aws-auth, to apply it (check,
    apply, read back, and the executor's compensation) and to undo it (rollback)."""

    apply: tuple[str, ...] = ()
    undo: tuple[str, ...] = ()
    kube_apply: tuple[str, ...] = ()
    kube_undo: tuple[str, ...] = ()

    @property
    def actions(self) -> tuple[str, ...]:
        """The IAM actions of apply and rollback together, sorted: what the plan file records per step."""
        return tuple(sorted({*self.apply, *self.undo}))


STEP_PERMISSIONS: dict[StepKind, StepPermissions] = {
    # Reads aws-auth and writes the backup file; nothing on EKS. Its undo does nothing.
    StepKind.BACKUP_AWS_AUTH: StepPermissions(kube_apply=("get",)),
    # check/read_back: DescribeCluster; apply: the entries before and after the switch (and a describe of each
    # entry EKS made at the first one, to tell the creator's apart), waiting for running
    # updates, UpdateClusterConfig, polling DescribeUpdate; the API gate's lockout check lists the entries and
    # asks who the caller is. Undo keeps the mode (EKS is one way): no call.
    StepKind.SET_MODE: StepPermissions(
        apply=(
            "eks:DescribeCluster",
            *IN_PROGRESS_UPDATES,
            "eks:UpdateClusterConfig",
            *LIST_ENTRIES,
            CALLER_IDENTITY,
        ),
    ),
    # check/read_back: describe_entry; apply: CreateAccessEntry; the executor deletes the entry again when
    # its policies cannot follow. Undo: describe, DeleteAccessEntry, describe until gone.
    StepKind.CREATE_ENTRY: StepPermissions(
        apply=("eks:CreateAccessEntry", *DESCRIBE_ENTRY, "eks:DeleteAccessEntry"),
        undo=(*DESCRIBE_ENTRY, "eks:DeleteAccessEntry"),
    ),
    # check/read_back: describe_entry; apply: AssociateAccessPolicy. Undo: describe, DisassociateAccessPolicy.
    StepKind.ASSOCIATE_POLICY: StepPermissions(
        apply=("eks:AssociateAccessPolicy", *DESCRIBE_ENTRY),
        undo=(*DESCRIBE_ENTRY, "eks:DisassociateAccessPolicy"),
    ),
    # Entry types are immutable: describe, delete, create, read back. Undo keeps it: no call.
    StepKind.REPAIR_NODE_ENTRY: StepPermissions(
        apply=(*DESCRIBE_ENTRY, "eks:DeleteAccessEntry", "eks:CreateAccessEntry"),
    ),
    StepKind.VERIFY: StepPermissions(apply=LIST_ENTRIES),
    # Reads aws-auth, deletes it with a resourceVersion precondition, reads back. Undo re-creates it from
    # the backup (after reading whether someone re-created it).
    StepKind.REMOVE_AWS_AUTH: StepPermissions(kube_apply=("get", "delete"), kube_undo=("get", "create")),
}

# Before any step: `connect` and the executor describe the cluster (same cluster? which mode?), the executor
# reads aws-auth and, outside CONFIG_MAP, every entry (is the plan stale?). Declared for every plan: a plan
# made in CONFIG_MAP whose cluster has since moved on lists the entries before it can say it is stale.
# Before a plan's first step apply also plans the cluster again (app/replan.py): the planner's reads, node
# groups, Fargate profiles, IAM paths in the cluster's account and who the caller is.
REPLAN_READS = (
    "eks:ListNodegroups",
    "eks:DescribeNodegroup",
    "eks:ListFargateProfiles",
    "eks:DescribeFargateProfile",
    "iam:GetRole",
    "iam:GetUser",
    "iam:ListRoles",  # aws/iam.py: one listing instead of a GetRole each, from 50 principals of an account
    "iam:ListUsers",
    CALLER_IDENTITY,
)
APPLY_PREFLIGHT = ("eks:DescribeCluster", *LIST_ENTRIES, *REPLAN_READS)
APPLY_PREFLIGHT_KUBE = ("get",)
# Before undoing: `connect` and rollback describe the cluster (same cluster? API mode?).
ROLLBACK_PREFLIGHT = ("eks:DescribeCluster",)


# What `plan` reads (live): the cluster, its entries, node groups and Fargate profiles, IAM paths, the caller;
# with --usage-since also the authenticator log (migrator/aws/logs.py: FilterLogEvents on the log group
# /aws/eks/<cluster>/cluster, nothing else). An integration test checks a live plan's calls against these.
PLAN_READS = ("eks:DescribeCluster", *LIST_ENTRIES, *REPLAN_READS)
USAGE_READS = ("logs:FilterLogEvents",)


def plan_reads(*, usage: bool) -> tuple[str, ...]:
    """The IAM actions of a live `plan` (with `--usage-since` when `usage`), sorted."""
    return tuple(sorted({*PLAN_READS, *(USAGE_READS if usage else ())}))


def preflight_permissions() -> dict[str, list[str]]:
    """The reads apply and rollback make before any step, as the plan file declares them."""
    return {"apply": sorted(APPLY_PREFLIGHT), "rollback": sorted(ROLLBACK_PREFLIGHT)}


class Resource(StrEnum):
    CLUSTER = "cluster"
    ACCESS_ENTRY = "access-entry"
    NODEGROUP = "nodegroup"
    FARGATE_PROFILE = "fargateprofile"
    IAM_ROLE = "role"
    IAM_USER = "user"
    ANY = "*"


# The resource type each action authorizes against (Service Authorization Reference for EKS).
RESOURCE_OF: dict[str, Resource] = {
    "eks:DescribeCluster": Resource.CLUSTER,
    "eks:UpdateClusterConfig": Resource.CLUSTER,
    "eks:ListUpdates": Resource.CLUSTER,
    "eks:DescribeUpdate": Resource.CLUSTER,
    "eks:ListAccessEntries": Resource.CLUSTER,
    "eks:ListAccessPolicies": Resource.ANY,
    "eks:CreateAccessEntry": Resource.CLUSTER,
    "eks:DescribeAccessEntry": Resource.ACCESS_ENTRY,
    "eks:ListAssociatedAccessPolicies": Resource.ACCESS_ENTRY,
    "eks:DeleteAccessEntry": Resource.ACCESS_ENTRY,
    "eks:AssociateAccessPolicy": Resource.ACCESS_ENTRY,
    "eks:DisassociateAccessPolicy": Resource.ACCESS_ENTRY,
    "eks:ListNodegroups": Resource.CLUSTER,
    "eks:DescribeNodegroup": Resource.NODEGROUP,
    "eks:ListFargateProfiles": Resource.CLUSTER,
    "eks:DescribeFargateProfile": Resource.FARGATE_PROFILE,
    "iam:GetRole": Resource.IAM_ROLE,
    "iam:GetUser": Resource.IAM_USER,
    "iam:ListRoles": Resource.ANY,  # a listing names no single role: no resource-level permission to narrow it
    "iam:ListUsers": Resource.ANY,
    CALLER_IDENTITY: Resource.ANY,
}


@dataclass(frozen=True)
class RequiredPermissions:
    """What running one plan needs, split by when: before the steps, the steps, and rollback."""

    preflight: frozenset[str]
    steps: frozenset[str]
    rollback: frozenset[str]
    kube_verbs: frozenset[str]

    @property
    def actions(self) -> frozenset[str]:
        return self.preflight | self.steps | self.rollback


def _union(groups: Iterable[Iterable[str]]) -> frozenset[str]:
    return frozenset(item for group in groups for item in group)


def required_permissions(plan: Plan) -> RequiredPermissions:
    tables = [STEP_PERMISSIONS[kind] for kind in sorted({step.kind for step in plan.steps})]
    return RequiredPermissions(
        preflight=frozenset((*APPLY_PREFLIGHT, *ROLLBACK_PREFLIGHT)),
        steps=_union(p.apply for p in tables),
        rollback=_union(p.undo for p in tables),
        kube_verbs=frozenset(APPLY_PREFLIGHT_KUBE)
        | _union(p.kube_apply for p in tables)
        | _union(p.kube_undo for p in tables),
    )


# --- IAM policy -------------------------------------------------------------------------------------------


def _eks_arn_prefix(cluster: ClusterRef) -> str:
    # An offline plan made without --region does not know the region: its policy (for review) says any.
    return f"arn:{cluster.partition}:eks:{cluster.region or '*'}:{cluster.account}"


def cluster_arn(cluster: ClusterRef) -> str:
    return f"{_eks_arn_prefix(cluster)}:cluster/{cluster.name}"


def access_entries_arn(cluster: ClusterRef) -> str:
    return f"{_eks_arn_prefix(cluster)}:access-entry/{cluster.name}/*"


def resource_arn(kind: Resource, cluster: ClusterRef) -> str:
    """The resources of `kind` this plan's runner may touch: this cluster's, or IAM principals of its account
    (IAM paths are read in the principal's own account; other accounts through their own reader roles)."""
    eks = _eks_arn_prefix(cluster)
    return {
        Resource.CLUSTER: f"{eks}:cluster/{cluster.name}",
        Resource.ACCESS_ENTRY: f"{eks}:access-entry/{cluster.name}/*",
        Resource.NODEGROUP: f"{eks}:nodegroup/{cluster.name}/*",
        Resource.FARGATE_PROFILE: f"{eks}:fargateprofile/{cluster.name}/*",
        Resource.IAM_ROLE: f"arn:{cluster.partition}:iam::{cluster.account}:role/*",
        Resource.IAM_USER: f"arn:{cluster.partition}:iam::{cluster.account}:user/*",
        Resource.ANY: "*",
    }[kind]


def planned_policy_arns(plan: Plan) -> tuple[str, ...]:
    return tuple(sorted({s.policy.policy_arn for s in plan.steps if isinstance(s, AssociatePolicy)}))


def _statement(sid: str, actions: Iterable[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def iam_policy(plan: Plan, state: StateGrant | None = None) -> dict[str, Any]:
    """The least-privilege IAM policy of the runner of this plan's apply and rollback; with `state`, also the
    S3 (and KMS) actions of its run state in S3 (rules/state_permissions.py)."""
    actions = required_permissions(plan).actions
    by_resource = {kind: {a for a in actions if RESOURCE_OF[a] is kind} for kind in Resource}
    associate = {"eks:AssociateAccessPolicy"} & by_resource[Resource.ACCESS_ENTRY]
    entry_actions = by_resource[Resource.ACCESS_ENTRY] - associate
    statements: list[dict[str, Any]] = []
    if by_resource[Resource.CLUSTER]:
        statements.append(_statement("EksCluster", by_resource[Resource.CLUSTER], [cluster_arn(plan.cluster)]))
    if entry_actions:
        statements.append(_statement("EksAccessEntries", entry_actions, [access_entries_arn(plan.cluster)]))
    if associate:
        statements.append(
            _statement(
                "EksAssociatePlannedAccessPolicies",
                associate,
                [access_entries_arn(plan.cluster)],
                Condition={"ArnEquals": {"eks:policyArn": list(planned_policy_arns(plan))}},
            )
        )
    readers = (
        ("EksNodegroups", Resource.NODEGROUP),
        ("EksFargateProfiles", Resource.FARGATE_PROFILE),
        ("IamRolePaths", Resource.IAM_ROLE),
        ("IamUserPaths", Resource.IAM_USER),
    )
    for sid, kind in readers:
        if by_resource[kind]:
            statements.append(_statement(sid, by_resource[kind], [resource_arn(kind, plan.cluster)]))
    if by_resource[Resource.ANY]:
        statements.append(_statement("NoResourceLevel", by_resource[Resource.ANY], ["*"]))
    if state is not None:
        statements.extend(state_permissions(state, plan.cluster.partition).statements)
    return {"Version": "2012-10-17", "Statement": statements}


# --- Kubernetes RBAC --------------------------------------------------------------------------------------


def kube_role(plan: Plan) -> dict[str, Any]:
    """The Role in kube-system the runner needs for aws-auth and for its Lease (the cluster lock). `create`
    cannot be narrowed by resourceNames (the name is not known to RBAC before the object exists), so it gets a
    rule of its own."""
    verbs = required_permissions(plan).kube_verbs
    named = sorted(verbs - {"create"})
    rules: list[dict[str, Any]] = [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [AWS_AUTH_NAME], "verbs": named}
    ]
    if "create" in verbs:
        rules.append({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]})
    rules += [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [LEASE_NAME],
            "verbs": sorted(LEASE_VERBS),
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": RUNNER_ROLE_NAME, "namespace": AWS_AUTH_NAMESPACE},
        "rules": rules,
    }


def rbac_reader_rules() -> list[dict[str, Any]]:
    """What reading the cluster's RBAC needs (plan --rbac, and apply's re-plan of such a plan)."""
    return [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": list(RBAC_READ_RESOURCES),
         "verbs": list(RBAC_READ_VERBS)}
    ]  # fmt: skip


def kube_cluster_role(plan: Plan) -> dict[str, Any] | None:
    """The ClusterRole the runner needs to read RBAC cluster-wide, for a plan that reviewed RBAC; else None.
    A Role cannot grant it: ClusterRoles and ClusterRoleBindings are cluster-scoped, and the review reads the
    RoleBindings of every namespace."""
    if not plan.rbac:
        return None
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": RBAC_READER_NAME},
        "rules": rbac_reader_rules(),
    }
