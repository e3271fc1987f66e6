"""EksGateway over boto3: one cluster, paginators everywhere, EKS errors turned into the tool's own."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.exceptions import ClientError

from migrator.aws.budget import AccountBudget
from migrator.aws.session import botocore_failures_are_remote_errors, call, client, error_code, error_message
from migrator.errors import ConflictError, RemoteError, UpdateInProgressError
from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AuthMode,
    EntryType,
    FargateProfile,
    NodeGroup,
    PolicyAssociation,
    ScopeType,
)
from migrator.ports import ClusterInfo, ModeUpdate
from migrator.rules.arn import entry_key


def _pages(paginator_client: Any, operation: str, key: str, **params: Any) -> Iterator[Any]:
    paginator = paginator_client.get_paginator(operation)
    for page in call(operation, lambda: list(paginator.paginate(**params))):
        yield from page.get(key, [])


def _logs_authenticator(logging: dict[str, Any]) -> bool:
    """DescribeCluster's `logging.clusterLogging`: groups of log types, each enabled or not."""
    return any(
        group.get("enabled") and "authenticator" in (group.get("types") or [])
        for group in logging.get("clusterLogging") or []
    )


def policies_from(associated: Sequence[dict[str, Any]]) -> tuple[PolicyAssociation, ...]:
    return tuple(
        sorted(
            (
                PolicyAssociation(
                    item["policyArn"],
                    AccessScope(
                        ScopeType(item["accessScope"]["type"]), tuple(item["accessScope"].get("namespaces") or ())
                    ),
                )
                for item in associated
            ),
            key=lambda p: p.policy_arn,
        )
    )


def entry_from(entry: dict[str, Any], policies: tuple[PolicyAssociation, ...]) -> AccessEntrySpec:
    entry_type = EntryType(entry.get("type", "STANDARD"))
    return AccessEntrySpec(
        principal_arn=entry["principalArn"],
        type=entry_type,
        # EKS reports the username and groups it filled in for node types; their identity is fixed by type.
        username=None if entry_type.is_node else entry.get("username"),
        groups=() if entry_type.is_node else tuple(sorted(entry.get("kubernetesGroups") or ())),
        policies=policies,
    )


@botocore_failures_are_remote_errors
class BotoEksGateway:
    def __init__(
        self,
        session: boto3.Session,
        cluster_name: str,
        *,
        read_concurrency: int = 8,
        budget: AccountBudget | None = None,
    ) -> None:
        """`read_concurrency` bounds the parallel Describe calls of `list_entries` (one round trip per entry
        and per policy listing would otherwise make reading 3,000 entries take minutes). `budget`: the EKS
        calls of every cluster of this account and region share it (fleet runs)."""
        self.cluster_name = cluster_name
        self.read_concurrency = read_concurrency
        self.region = str(session.region_name)
        self._eks = client(session, "eks", budget)
        self._sts = client(session, "sts")
        self._caller: str | None = None

    # --- cluster --------------------------------------------------------------------------------------

    def describe_cluster(self) -> ClusterInfo:
        try:
            cluster = self._eks.describe_cluster(name=self.cluster_name)["cluster"]
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise RemoteError(
                    f"no EKS cluster {self.cluster_name!r} in {self.region} for this account: {error_message(error)}"
                ) from None
            raise RemoteError(f"DescribeCluster: {error_code(error)}: {error_message(error)}") from error
        arn = cluster["arn"].split(":")
        access = cluster.get("accessConfig") or {}
        return ClusterInfo(
            name=cluster["name"],
            region=arn[3],
            account=arn[4],
            partition=arn[1],
            mode=AuthMode(access.get("authenticationMode", AuthMode.CONFIG_MAP.value)),
            kubernetes_version=cluster.get("version"),
            platform_version=cluster.get("platformVersion"),
            bootstrap_admin=access.get("bootstrapClusterCreatorAdminPermissions"),
            endpoint=cluster.get("endpoint"),
            certificate_authority=(cluster.get("certificateAuthority") or {}).get("data"),
            uses_hybrid_nodes=bool((cluster.get("remoteNetworkConfig") or {}).get("remoteNodeNetworks")),
            authenticator_logging=_logs_authenticator(cluster.get("logging") or {}),
        )

    def list_nodegroups(self) -> Sequence[NodeGroup]:
        names = list(_pages(self._eks, "list_nodegroups", "nodegroups", clusterName=self.cluster_name))
        groups = []
        for name in names:
            described = self._describe("DescribeNodegroup", "describe_nodegroup", "nodegroup", nodegroupName=name)
            groups.append(NodeGroup(name, described["nodeRole"], described.get("amiType", "")))
        return groups

    def _describe(self, operation: str, method: str, key: str, **params: Any) -> dict[str, Any]:
        response = call(operation, lambda: getattr(self._eks, method)(clusterName=self.cluster_name, **params))
        return dict(response[key])

    def list_fargate_profiles(self) -> Sequence[FargateProfile]:
        names = list(_pages(self._eks, "list_fargate_profiles", "fargateProfileNames", clusterName=self.cluster_name))
        profiles = []
        for name in names:
            described = self._describe(
                "DescribeFargateProfile", "describe_fargate_profile", "fargateProfile", fargateProfileName=name
            )
            profiles.append(FargateProfile(name, described["podExecutionRoleArn"]))
        return profiles

    def caller_arn(self) -> str:
        if self._caller is None:
            self._caller = str(call("GetCallerIdentity", self._sts.get_caller_identity)["Arn"])
        return self._caller

    # --- access entries ----------------------------------------------------------------------------------

    def _policies(self, principal_arn: str) -> tuple[PolicyAssociation, ...]:
        return policies_from(
            list(
                _pages(
                    self._eks,
                    "list_associated_access_policies",
                    "associatedAccessPolicies",
                    clusterName=self.cluster_name,
                    principalArn=principal_arn,
                )
            )
        )

    def list_entry_arns(self) -> Sequence[str]:
        return list(_pages(self._eks, "list_access_entries", "accessEntries", clusterName=self.cluster_name))

    def policy_holders(self) -> dict[str, frozenset[str]]:
        """Which entries hold each access policy EKS offers: ListAccessPolicies, then ListAccessEntries
        filtered by `associatedPolicyArn` per policy, a few pages for the whole cluster instead of one
        ListAssociatedAccessPolicies per entry. Keys are entry keys (lower-cased ARNs)."""
        offered = [p["arn"] for p in _pages(self._eks, "list_access_policies", "accessPolicies")]

        def holding(policy_arn: str) -> frozenset[str]:
            pages = _pages(
                self._eks,
                "list_access_entries",
                "accessEntries",
                clusterName=self.cluster_name,
                associatedPolicyArn=policy_arn,
            )
            return frozenset(entry_key(arn) for arn in pages)

        # One listing per policy EKS offers (a score of them): in parallel, as the describes of list_entries.
        with ThreadPoolExecutor(max_workers=self.read_concurrency, thread_name_prefix="holders") as pool:
            return dict(zip(offered, pool.map(holding, offered), strict=True))

    def list_entries(self) -> Sequence[AccessEntrySpec]:
        """Every entry with its policies: one describe per entry, and a policy listing only for the entries
        that hold a policy at all. An association made while this runs may be missed, as it could be by a
        describe and listing per entry; the next read sees it."""
        holders = self.policy_holders()
        holding = frozenset().union(*holders.values()) if holders else frozenset()
        return self.describe_entries(self.list_entry_arns(), holding)

    def describe_entries(
        self, principal_arns: Sequence[str], with_policies: Collection[str]
    ) -> Sequence[AccessEntrySpec]:
        listing = frozenset(with_policies)

        def read(arn: str) -> AccessEntrySpec | None:
            return self._describe_entry(arn, with_policies=entry_key(arn) in listing)

        with ThreadPoolExecutor(max_workers=self.read_concurrency, thread_name_prefix="describe") as pool:
            described = list(pool.map(read, principal_arns))
        return [entry for entry in described if entry is not None]  # None: deleted between list and describe

    def describe_entry(self, principal_arn: str) -> AccessEntrySpec | None:
        return self._describe_entry(principal_arn, with_policies=True)

    def _describe_entry(self, principal_arn: str, *, with_policies: bool) -> AccessEntrySpec | None:
        try:
            entry = self._eks.describe_access_entry(clusterName=self.cluster_name, principalArn=principal_arn)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise RemoteError(f"DescribeAccessEntry: {error_code(error)}: {error_message(error)}") from error
        return entry_from(entry["accessEntry"], self._policies(principal_arn) if with_policies else ())

    def create_entry(self, spec: AccessEntrySpec) -> AccessEntrySpec:
        params: dict[str, Any] = {
            "clusterName": self.cluster_name,
            "principalArn": spec.principal_arn,
            "type": spec.type.value,
        }
        if not spec.type.is_node:
            params["kubernetesGroups"] = list(spec.groups)
            if spec.username is not None:
                params["username"] = spec.username
        try:
            response = self._eks.create_access_entry(**params)
        except ClientError as error:
            if error_code(error) == "ResourceInUseException":
                raise ConflictError(
                    f"{spec.principal_arn} already has an access entry that this run did not create"
                ) from None
            raise RemoteError(f"CreateAccessEntry {spec.principal_arn}: {error_code(error)}: "
                              f"{error_message(error)}") from error  # fmt: skip
        return entry_from(response["accessEntry"], ())  # EKS answers with the entry it stored

    def delete_entry(self, principal_arn: str) -> None:
        try:
            self._eks.delete_access_entry(clusterName=self.cluster_name, principalArn=principal_arn)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return  # already gone: the goal of a delete
            raise RemoteError(f"DeleteAccessEntry {principal_arn}: {error_code(error)}: "
                              f"{error_message(error)}") from error  # fmt: skip

    def associate_policy(self, principal_arn: str, policy: PolicyAssociation) -> PolicyAssociation:
        scope: dict[str, Any] = {"type": policy.scope.type.value}
        if policy.scope.type is ScopeType.NAMESPACE:
            scope["namespaces"] = list(policy.scope.namespaces)
        response = call(
            "AssociateAccessPolicy",
            lambda: self._eks.associate_access_policy(
                clusterName=self.cluster_name,
                principalArn=principal_arn,
                policyArn=policy.policy_arn,
                accessScope=scope,
            ),
        )
        return policies_from([response["associatedAccessPolicy"]])[0]  # the association EKS stored

    def disassociate_policy(self, principal_arn: str, policy_arn: str) -> None:
        try:
            self._eks.disassociate_access_policy(
                clusterName=self.cluster_name, principalArn=principal_arn, policyArn=policy_arn
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return
            raise RemoteError(f"DisassociateAccessPolicy: {error_code(error)}: {error_message(error)}") from error

    # --- mode updates --------------------------------------------------------------------------------------

    def start_mode_update(self, mode: AuthMode) -> ModeUpdate:
        try:
            response = self._eks.update_cluster_config(
                name=self.cluster_name, accessConfig={"authenticationMode": mode.value}
            )
        except ClientError as error:
            if error_code(error) == "ResourceInUseException":
                raise UpdateInProgressError(f"UpdateClusterConfig: {error_message(error)}") from None
            raise RemoteError(f"UpdateClusterConfig: {error_code(error)}: {error_message(error)}") from error
        return _update(response["update"])

    def describe_update(self, update_id: str) -> ModeUpdate:
        response = call("DescribeUpdate", lambda: self._eks.describe_update(name=self.cluster_name, updateId=update_id))
        return _update(response["update"])

    def in_progress_updates(self) -> Sequence[ModeUpdate]:
        ids = list(_pages(self._eks, "list_updates", "updateIds", name=self.cluster_name))
        updates = [self.describe_update(update_id) for update_id in ids]
        return [u for u in updates if u.status == "InProgress"]


def _update(update: dict[str, Any]) -> ModeUpdate:
    errors = tuple(f"{e.get('errorCode', '')}: {e.get('errorMessage', '')}" for e in update.get("errors") or ())
    return ModeUpdate(update["id"], update["status"], errors)
