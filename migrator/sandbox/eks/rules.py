"""EKS's validation rules for access entries, as pure functions (no moto, no I/O).

The sandbox's EKS extension answers with these, and the scenario loader applies the same rules to the
entries a scenario says already exist (EKS would never have stored anything else). Messages copy what EKS
says where we have seen it (issue trackers); the others are marked *(inferred)* and are plausible wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrator.model import AccessScope, EntryType, ScopeType
from migrator.rules.arn import Arn, ArnError, PrincipalKind, parse_arn
from migrator.rules.limits import CLUSTER_NAME_RE, MIN_PLATFORM_VERSION, RESERVED_USERNAME_PREFIXES

SESSION_TEMPLATES = ("{{SessionName}}", "{{SessionNameRaw}}")
DEFAULT_KUBERNETES_VERSION = "1.31"
CONFIG_MAP_ONLY_MESSAGE = (
    "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."
)

# What ListAccessPolicies returns (names only; the ARN depends on the partition).
ACCESS_POLICY_NAMES: tuple[str, ...] = (
    "AmazonAIOpsAssistantPolicy",
    "AmazonARCRegionSwitchScalingPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSHybridPolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSSecretReaderPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEMRJobPolicy",
    "AmazonSagemakerHyperpodClusterPolicy",
    "AmazonSagemakerHyperpodControllerPolicy",
    "AmazonSagemakerHyperpodSystemNamespacePolicy",
)

_POLICY_ARN_RE = re.compile(r"arn:(?P<partition>[a-z-]+):eks::aws:cluster-access-policy/(?P<name>[A-Za-z0-9]+)")


@dataclass(frozen=True)
class RuleViolation(Exception):
    """One rule EKS enforces, broken. `code` is the EKS error code the API answers with."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def invalid(message: str) -> RuleViolation:
    return RuleViolation("InvalidParameterException", message)


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


def supports_access_entries(kubernetes_version: str, platform_version: str) -> bool:
    minimum = MIN_PLATFORM_VERSION.get(kubernetes_version)
    if minimum is None:
        return _version_tuple(kubernetes_version) > _version_tuple(max(MIN_PLATFORM_VERSION, key=_version_tuple))
    match = re.fullmatch(r"eks\.(\d+)", platform_version)
    return match is not None and int(match.group(1)) >= minimum


def default_platform_version(kubernetes_version: str) -> str:
    """The platform version a new cluster gets: the first one that supports access entries, or eks.1."""
    return f"eks.{MIN_PLATFORM_VERSION.get(kubernetes_version, 1)}"


def valid_cluster_name(name: str) -> bool:
    return bool(CLUSTER_NAME_RE.fullmatch(name))


def policy_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{name}"


def check_policy_arn(text: str, partition: str) -> str:
    """The policy's name, or RuleViolation: InvalidParameterException for an access policy ARN of another
    partition than the cluster's (wording inferred), ResourceNotFoundException for one EKS does not have."""
    match = _POLICY_ARN_RE.fullmatch(text)
    if match and match.group("partition") != partition:
        raise invalid(
            f"The specified policyArn {text} is invalid: its partition {match.group('partition')} is not the "
            f"cluster's partition {partition}."
        )
    if not match or match.group("name") not in ACCESS_POLICY_NAMES:
        raise RuleViolation("ResourceNotFoundException", f"The specified policyArn {text} could not be found.")
    return match.group("name")


def check_scope(scope_type: str, namespaces: list[str] | tuple[str, ...]) -> AccessScope:
    try:
        kind = ScopeType(scope_type)
    except ValueError:
        raise invalid(
            f"The access scope type {scope_type!r} is invalid; valid types are cluster and namespace."
        ) from None
    if kind is ScopeType.CLUSTER and namespaces:
        raise invalid("Namespaces cannot be specified for an access scope of type cluster.")
    if kind is ScopeType.NAMESPACE and not namespaces:
        raise invalid("At least one namespace must be specified for an access scope of type namespace.")
    return AccessScope(kind, tuple(namespaces))


def check_entry_type(text: str) -> EntryType:
    try:
        return EntryType(text)
    except ValueError:
        valid = ", ".join(t.value for t in EntryType)
        raise invalid(f"The access entry type {text} is invalid. Valid types are [{valid}].") from None


def check_username(username: str) -> None:
    for prefix in RESERVED_USERNAME_PREFIXES:
        if username.startswith(prefix):
            raise invalid(f"The username must not begin with {prefix}")
    for template in SESSION_TEMPLATES:
        position = username.find(template)
        if position >= 0 and ":" not in username[:position]:
            raise invalid(f"The username {username} is invalid: {template} must be preceded by a ':' (inferred)")


def check_groups(groups: list[str] | tuple[str, ...]) -> None:
    for group in groups:
        if group.startswith("system:"):
            raise invalid(f"The kubernetes group name {group} is invalid, it cannot start with system:")


def check_identity_fields(
    entry_type: EntryType, username: str | None, groups: list[str] | tuple[str, ...] | None
) -> None:
    """Username and groups: allowed for STANDARD only; the prefix checks run first, as EKS's do."""
    if username is not None:
        check_username(username)
    if groups:
        check_groups(groups)
    if entry_type is not EntryType.STANDARD and (username is not None or groups):
        raise invalid(f"The username and kubernetesGroups parameters are not supported for type {entry_type.value}.")


def check_principal_shape(text: str, entry_type: EntryType, cluster_account: str, cluster_partition: str) -> Arn:
    """Everything EKS checks about a principal ARN before asking IAM whether it exists."""
    try:
        arn = parse_arn(text)
    except ArnError:
        raise invalid("The specified principalArn is invalid: invalid principal.") from None
    if arn.kind in (PrincipalKind.ASSUMED_ROLE, PrincipalKind.ROOT):
        raise invalid("The specified principalArn is invalid: invalid principal.")
    if arn.partition != cluster_partition:  # wording inferred: EKS's prefix, then which partitions differ
        raise invalid(
            f"The specified principalArn is invalid: its partition {arn.partition} is not the cluster's partition "
            f"{cluster_partition}."
        )
    if arn.is_service_linked:
        raise invalid(
            "The caller is not allowed to modify access entries with a principalArn value of a Service Linked Role"
        )
    if entry_type is not EntryType.STANDARD:
        if arn.kind is not PrincipalKind.ROLE:
            raise invalid(f"The principalArn of an access entry of type {entry_type.value} must be an IAM role.")
        if arn.account != cluster_account:
            raise invalid(
                f"The principalArn of an access entry of type {entry_type.value} must be in the cluster's account."
            )
    return arn


def check_policy_allowed(entry_type: EntryType) -> None:
    if entry_type is not EntryType.STANDARD:
        raise invalid(f"Access policies cannot be associated with access entries of type {entry_type.value}.")
