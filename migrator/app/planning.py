"""Use cases of planning: make a plan (offline from a file, or live against a cluster), save it, open it."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from migrator.awsauth import load_aws_auth_file
from migrator.files import private_dir
from migrator.model import AuthMode, Plan
from migrator.plan.planfile import default_plan_path, load_plan, plan_to_dict, write_plan
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.rbac_file import load_rbac_file
from migrator.plan.snapshot import live_snapshot, offline_snapshot
from migrator.plan.usage import read_usage


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach one cluster: region, credentials, and where its Kubernetes API is."""

    region: str
    profile: str | None = None
    role_arn: str | None = None  # assume this role in the cluster's account
    kube_context: str | None = None  # use this kubeconfig context instead of DescribeCluster + an EKS token
    kubeconfig: str | None = None
    iam_roles: Mapping[str, str] = field(default_factory=dict)  # account -> role ARN for IAM path lookups
    # Fleet runs: (account key, limit) of the EKS call budget this cluster shares with its account's others.
    eks_budget: tuple[str, int] | None = None


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def plan_offline(
    aws_auth_file: Path,
    *,
    cluster: str,
    region: str | None,
    account: str | None,
    mode: AuthMode,
    options: PlanOptions,
    rbac_file: Path | None = None,
) -> Plan:
    """A plan for review from an aws-auth file (and an RBAC export, with `rbac_file`): no AWS or Kubernetes
    call."""
    aws_auth = load_aws_auth_file(aws_auth_file)
    snapshot = offline_snapshot(aws_auth, cluster=cluster, region=region, account=account, mode=mode)
    if rbac_file is not None:
        snapshot = dataclasses.replace(snapshot, rbac=load_rbac_file(rbac_file))
    return build_plan(snapshot, options)


@dataclass(frozen=True)
class UsageWindow:
    """`--usage-since`: read who signed in over [since, until] from the authenticator log (until: when it is
    read, after the plan's own reads, which sign in too)."""

    since: datetime.datetime
    until: datetime.datetime | None = None


def plan_live(
    cluster: str, access: ClusterAccess, options: PlanOptions, usage: UsageWindow | None = None, *, rbac: bool = True
) -> Plan:
    """A plan from the cluster's state, read once with read-only calls (and the sign-ins, with `usage`; the
    RBAC objects, with `rbac`)."""
    from migrator.wiring.connect import ConnectOptions, connect

    connection = connect(
        cluster,
        ConnectOptions(
            access.region,
            access.profile,
            access.role_arn,
            access.kube_context,
            access.kubeconfig,
            access.iam_roles,
            eks_budget=access.eks_budget,
        ),
    )
    snapshot = live_snapshot(
        connection.eks, connection.kube, connection.iam, aws_auth_label=f"{cluster}:kube-system/aws-auth", rbac=rbac
    )
    if usage is not None:
        evidence = read_usage(
            connection.sign_ins,
            logging_enabled=connection.info.authenticator_logging,
            cluster=cluster,
            since=usage.since,
            until=usage.until or datetime.datetime.now(datetime.UTC),
        )
        snapshot = dataclasses.replace(snapshot, usage=evidence)
    return build_plan(snapshot, options)


def save_plan(plan: Plan, out: Path | None, plans_dir: Path) -> Path:
    """Write the plan to `out`, or to `<plans_dir>/<cluster>/<planId>.plan.yaml`."""
    if out is not None:
        return write_plan(plan, out)
    path = default_plan_path(plans_dir, plan)
    private_dir(path.parent)
    return write_plan(plan, path)


def open_plan(path: Path) -> Plan:
    """Read a plan file, refusing an edited, foreign or older one (InputError, exit 2)."""
    return load_plan(path)


def plan_id_of(plan: Plan) -> str:
    return str(plan_to_dict(plan)["planId"])
