"""Building the planner's input: offline from an aws-auth file, or live through the gateways (read-only)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from migrator.awsauth import parse_configmap_object
from migrator.errors import ForbiddenError, SourceError
from migrator.model import (
    AWS_AUTH_NAME,
    AWS_AUTH_NAMESPACE,
    AuthMode,
    AwsAuth,
    ClusterRef,
    LookupStatus,
    Mapping,
    PrincipalLookup,
    RbacObjects,
    Snapshot,
)
from migrator.ports import EksGateway, IamDirectory, KubeGateway
from migrator.rules.arn import DEFAULT_PARTITION, Arn, ArnError, PrincipalKind, mapping_arn, partition_of_region

IAM_LOOKUP_CONCURRENCY = 4  # IAM's request rate is low and account-wide; stay well under it


def _infer(aws_auth: AwsAuth, part: Callable[[Arn], str], partition: str | None = None) -> str | None:
    """The most common `part` of the mapped ARNs (of `partition`, if given): node roles must live in the
    cluster's account and partition, so they decide first."""
    node_counts: Counter[str] = Counter()
    all_counts: Counter[str] = Counter()
    for mapping in aws_auth.mappings:
        try:
            arn = mapping_arn(mapping)
        except ArnError:
            continue
        if partition is not None and arn.partition != partition:
            continue
        all_counts[part(arn)] += 1
        if (mapping.username or "").startswith("system:node:"):
            node_counts[part(arn)] += 1
    for counter in (node_counts, all_counts):
        if counter:
            return counter.most_common(1)[0][0]
    return None


def infer_partition(aws_auth: AwsAuth) -> str | None:
    """The cluster's partition, guessed from aws-auth like its account (mappings of other partitions are
    PARTITION_MISMATCH blockers)."""
    return _infer(aws_auth, lambda arn: arn.partition)


def infer_account(aws_auth: AwsAuth, partition: str | None = None) -> str | None:
    """The cluster's account, guessed from aws-auth's mappings in the cluster's partition."""
    return _infer(aws_auth, lambda arn: arn.account, partition)


def offline_snapshot(
    aws_auth: AwsAuth,
    *,
    cluster: str,
    region: str | None,
    account: str | None,
    mode: AuthMode = AuthMode.CONFIG_MAP,
) -> Snapshot:
    """No AWS or Kubernetes call: IAM paths are unknown (PATH_UNRESOLVED info) and no entries exist.

    Without a region the partition comes from the ARNs (`aws` for an aws-auth without any) and the plan
    records no region: it is for review, and apply needs a live plan.
    """
    partition = partition_of_region(region) if region is not None else infer_partition(aws_auth) or DEFAULT_PARTITION
    resolved_account = account or infer_account(aws_auth, partition) or infer_account(aws_auth)
    if resolved_account is None:
        raise SourceError(
            aws_auth.file or "aws-auth",
            None,
            "cannot tell the cluster's account: this aws-auth maps no IAM role or user whose ARN names it",
            hint="pass --account with the cluster's 12-digit AWS account ID",
        )
    iam: dict[str, PrincipalLookup] = {}
    for mapping in aws_auth.mappings:
        try:
            key = mapping_arn(mapping).lookup_key
        except ArnError:
            continue
        iam[key] = PrincipalLookup(LookupStatus.UNRESOLVED, reason="offline plan")
    return Snapshot(
        cluster=ClusterRef(cluster, region, resolved_account, partition),
        mode=mode,
        aws_auth=aws_auth,
        iam=iam,
        offline=True,
    )


def lookup_principals(iam: IamDirectory, mappings: Iterable[Mapping]) -> dict[str, PrincipalLookup]:
    """What IAM says of each role and user the mappings name, keyed by lookup key: one read per principal, a
    few at a time (thousands of mappings must not take minutes)."""
    principals: dict[str, Arn] = {}
    for mapping in mappings:
        try:
            arn = mapping_arn(mapping)
        except ArnError:
            continue
        if arn.kind in (PrincipalKind.ROLE, PrincipalKind.USER):
            principals.setdefault(arn.lookup_key, arn)
    iam.prefetch(list(principals.values()))  # one listing per account can answer thousands of lookups
    with ThreadPoolExecutor(max_workers=IAM_LOOKUP_CONCURRENCY, thread_name_prefix="iam") as pool:
        return dict(zip(principals, pool.map(iam.lookup, principals.values()), strict=True))


def read_rbac(kube: KubeGateway) -> RbacObjects:
    """The cluster's RBAC objects; a caller that may not list them gets a plan that says so (RBAC_UNAVAILABLE)
    rather than no plan: the review is advice, the migration does not depend on it."""
    try:
        return kube.read_rbac()
    except ForbiddenError as error:
        return RbacObjects(available=False, reason=str(error))


def live_snapshot(
    eks: EksGateway, kube: KubeGateway, iam: IamDirectory, *, aws_auth_label: str, rbac: bool = False
) -> Snapshot:
    """Read everything the planner needs from the cluster, once (RBAC with `rbac`). Read-only calls only."""
    info = eks.describe_cluster()
    config_map = kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
    aws_auth = (
        parse_configmap_object(config_map.raw, aws_auth_label)
        if config_map is not None
        else AwsAuth(file=aws_auth_label)
    )
    entries = tuple(eks.list_entries()) if info.mode.reads_entries else ()
    lookups = lookup_principals(iam, aws_auth.mappings)
    return Snapshot(
        cluster=ClusterRef(info.name, info.region, info.account, info.partition),
        mode=info.mode,
        aws_auth=aws_auth,
        entries=entries,
        nodegroups=tuple(eks.list_nodegroups()),
        fargate_profiles=tuple(eks.list_fargate_profiles()),
        iam=lookups,
        kubernetes_version=info.kubernetes_version,
        platform_version=info.platform_version,
        caller_arn=eks.caller_arn(),
        offline=False,
        uses_hybrid_nodes=info.uses_hybrid_nodes,
        bootstrap_admin=info.bootstrap_admin,
        rbac=read_rbac(kube) if rbac else None,
    )
