"""Cluster-level EKS behaviour moto lacks: authentication-mode updates, DescribeUpdate/ListUpdates, and the
hooks around moto's cluster, node group and Fargate profile operations.

An update becomes Successful the first time anyone looks after `finishes_at` (`settle`), with the side
effects EKS has at that moment, so there are no background threads. Callers hold `world.lock`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from moto.eks.models import eks_backends

from migrator.model import AuthMode, EntryType
from migrator.sandbox.eks import rules as eks_rules
from migrator.sandbox.eks.access import (
    EksError,
    RequestContext,
    bootstrap_creator,
    ensure_entry,
    get_cluster,
    page_payload,
    paginate,
)
from migrator.sandbox.state import SimCluster, SimUpdate, World

# --- time -------------------------------------------------------------------------------------------


def settle(world: World, now: float | None = None) -> None:
    """Finish every update whose time has come, with EKS's side effects. Cheap; call it on every request."""
    now = time.time() if now is None else now
    with world.lock:
        for cluster in world.clusters.values():
            for update in sorted(cluster.updates.values(), key=lambda u: u.created_at):
                if update.status == "InProgress" and update.finishes_at <= now:
                    update.status = "Successful"
                    if update.target_mode is not None:
                        previous, cluster.mode = cluster.mode, update.target_mode
                        if previous is AuthMode.CONFIG_MAP:
                            _entries_enabled(cluster, update.finishes_at)


def _entries_enabled(cluster: SimCluster, at: float) -> None:
    """What EKS does once a cluster starts reading access entries: entries for the roles it manages.

    Managed node groups get EC2_LINUX whatever their AMI: EKS's real defect for Windows node groups
    (eks-facts.md §1), which the migration tool must repair.
    """
    moto_cluster = eks_backends[cluster.account][cluster.region].clusters.get(cluster.name)
    if moto_cluster is not None:
        for name in sorted(moto_cluster.nodegroups):
            ensure_entry(cluster, moto_cluster.nodegroups[name].node_role, EntryType.EC2_LINUX, at)
        for name in sorted(moto_cluster.fargate_profiles):
            role = moto_cluster.fargate_profiles[name].pod_execution_role_arn
            ensure_entry(cluster, role, EntryType.FARGATE_LINUX, at)
    bootstrap_creator(cluster, at)


# --- cluster updates --------------------------------------------------------------------------------

# UpdateClusterConfig keys -> (update type, param type). Only one kind of update per call.
UPDATE_KINDS: dict[str, tuple[str, str]] = {
    "accessConfig": ("AccessConfigUpdate", "AuthenticationMode"),
    "logging": ("LoggingUpdate", "ClusterLogging"),
    "resourcesVpcConfig": ("VpcConfigUpdate", "Subnets"),
    "upgradePolicy": ("UpgradePolicyUpdate", "UpgradePolicy"),
    "zonalShiftConfig": ("ZonalShiftConfigUpdate", "ZonalShiftConfig"),
    "computeConfig": ("AutoModeUpdate", "ComputeConfig"),
    "storageConfig": ("AutoModeUpdate", "StorageConfig"),
    "kubernetesNetworkConfig": ("AutoModeUpdate", "KubernetesNetworkConfig"),
    "remoteNetworkConfig": ("RemoteNetworkConfigUpdate", "RemoteNetworkConfig"),
    "deletionProtection": ("DeletionProtectionUpdate", "DeletionProtection"),
    "controlPlaneScalingConfig": ("ControlPlaneScalingConfigUpdate", "UpdatedTier"),
}


def update_json(update: SimUpdate) -> dict[str, Any]:
    return {
        "id": update.id,
        "status": update.status,
        "type": update.type,
        "params": [dict(p) for p in update.params],
        "createdAt": update.created_at,
        "errors": [dict(e) for e in update.errors],
    }


def update_kind(params: dict[str, Any]) -> str | None:
    """The one update key of an UpdateClusterConfig request (None when it asks for nothing)."""
    present = [key for key in UPDATE_KINDS if params.get(key) is not None]
    if len(present) > 1:
        raise EksError("InvalidParameterException", "Only one type of update can be allowed.")
    return present[0] if present else None


def retried_update(cluster: SimCluster, params: dict[str, Any]) -> SimUpdate | None:
    token = params.get("clientRequestToken")
    return next((u for u in cluster.updates.values() if token and u.client_request_token == token), None)


def check_no_update_in_progress(cluster: SimCluster) -> None:
    for update in cluster.updates.values():
        if update.status == "InProgress":
            raise EksError(
                "ResourceInUseException", f"Cluster {cluster.name} currently has update {update.id} in progress."
            )


def start_update(
    world: World, cluster: SimCluster, kind: str, params: dict[str, Any], target: AuthMode | None = None
) -> SimUpdate:
    """Record an update that finishes after `settings.update_seconds` (lazily, see `settle`)."""
    update_type, param_type = UPDATE_KINDS[kind]
    value = params[kind]
    if kind == "accessConfig":
        text = str(value.get("authenticationMode"))
    else:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    now = time.time()
    update = SimUpdate(
        id=str(uuid.uuid4()),
        type=update_type,
        params=[{"type": param_type, "value": text}],
        created_at=now,
        finishes_at=now + world.settings.update_seconds,
        target_mode=target,
        client_request_token=params.get("clientRequestToken"),
    )
    cluster.updates[update.id] = update
    return update


def update_access_config(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = get_cluster(world, ctx, params["name"])
    retried = retried_update(cluster, params)
    if retried is not None:
        return {"update": update_json(retried)}
    requested = (params.get("accessConfig") or {}).get("authenticationMode")
    try:
        target = AuthMode(str(requested))
    except ValueError:
        raise EksError(
            "InvalidParameterException", f"The authentication mode {requested} is invalid (API, API_AND_CONFIG_MAP)."
        ) from None
    if cluster.mode.next is not target:
        raise EksError(
            "InvalidParameterException",
            f"Unsupported authentication mode update from {cluster.mode.value} to {target.value}",
        )
    check_no_update_in_progress(cluster)
    if not eks_rules.supports_access_entries(cluster.kubernetes_version, cluster.platform_version):
        # (inferred) wording; EKS documents the minimum platform versions, not this error's text
        raise EksError(
            "InvalidRequestException",
            f"Access entries are not supported on platform version {cluster.platform_version} of Kubernetes "
            f"{cluster.kubernetes_version}; update the cluster's platform version first.",
        )
    return {"update": update_json(start_update(world, cluster, "accessConfig", params, target))}


def describe_update(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = get_cluster(world, ctx, params["name"])
    update = cluster.updates.get(params["updateId"])
    # moto keeps no node group or add-on updates, so those are never found here.
    if update is None or params.get("nodegroupName") or params.get("addonName") or params.get("capabilityName"):
        raise EksError("ResourceNotFoundException", f"No update found for ID: {params['updateId']}.")
    return {"update": update_json(update)}


def list_updates(world: World, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cluster = get_cluster(world, ctx, params["name"])
    if params.get("nodegroupName") or params.get("addonName") or params.get("capabilityName"):
        return {"updateIds": []}
    ordered = sorted(cluster.updates.values(), key=lambda u: (u.created_at, u.id))
    # Token order must follow creation order, so page over zero-padded positions, then map back.
    keys = [f"{i:08d}" for i in range(len(ordered))]
    page, next_token = paginate(keys, params)
    return page_payload({"updateIds": [ordered[int(k)].id for k in page]}, next_token)


# --- clusters, node groups and Fargate profiles (hooks around moto) ---------------------------------


def check_create_cluster(params: dict[str, Any]) -> tuple[AuthMode, bool]:
    access = params.get("accessConfig") or {}
    requested = access.get("authenticationMode", AuthMode.CONFIG_MAP.value)
    try:
        mode = AuthMode(str(requested))
    except ValueError:
        raise EksError("InvalidParameterException", f"The authentication mode {requested} is invalid.") from None
    bootstrap = bool(access.get("bootstrapClusterCreatorAdminPermissions", True))
    if not bootstrap and mode is AuthMode.CONFIG_MAP:
        raise EksError(
            "InvalidParameterException",
            "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP",
        )
    return mode, bootstrap


def register_cluster(
    world: World,
    ctx: RequestContext,
    name: str,
    version: str | None,
    mode: AuthMode,
    bootstrap: bool,
    creator: str | None,
) -> SimCluster:
    kubernetes_version = version or eks_rules.DEFAULT_KUBERNETES_VERSION
    cluster = SimCluster(
        name=name,
        region=ctx.region,
        account=ctx.account,
        partition=ctx.partition,
        mode=mode,
        kubernetes_version=kubernetes_version,
        platform_version=eks_rules.default_platform_version(kubernetes_version),
        bootstrap_admin=bootstrap,
        creator_arn=creator,
    )
    world.add_cluster(cluster)
    if mode.reads_entries:
        bootstrap_creator(cluster, time.time())
    return cluster


def forget_cluster(world: World, ctx: RequestContext, name: str) -> None:
    world.clusters.pop((ctx.account, ctx.region, name), None)


def augment_cluster(world: World, ctx: RequestContext, cluster_json: dict[str, Any]) -> None:
    """Add to moto's cluster what moto does not know: access config, versions, the simulator endpoint and CA."""
    cluster = world.cluster(ctx.account, ctx.region, str(cluster_json.get("name")))
    if cluster is None:
        return
    cluster_json["accessConfig"] = {
        "authenticationMode": cluster.mode.value,
        "bootstrapClusterCreatorAdminPermissions": cluster.bootstrap_admin,
    }
    cluster_json["version"] = cluster.kubernetes_version
    cluster_json["platformVersion"] = cluster.platform_version
    if world.kube_base_url:
        cluster_json["endpoint"] = f"{world.kube_base_url}/k8s/{cluster.account}/{cluster.region}/{cluster.name}"
    if world.kube_ca_data:
        cluster_json["certificateAuthority"] = {"data": world.kube_ca_data}
    if any(u.status == "InProgress" for u in cluster.updates.values()):
        cluster_json["status"] = "UPDATING"


def node_role_created(
    world: World, ctx: RequestContext, cluster_name: str, role_arn: str, entry_type: EntryType
) -> None:
    """A node group or Fargate profile created while the cluster reads entries gets its entry at once.

    New Windows node groups get EC2_WINDOWS here: the EC2_LINUX defect is on the mode switch only.
    """
    cluster = world.cluster(ctx.account, ctx.region, cluster_name)
    if cluster is not None and cluster.mode.reads_entries:
        ensure_entry(cluster, role_arn, entry_type, time.time())
