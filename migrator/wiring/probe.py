"""Identity probes: ask the cluster, as a principal, who it is (SelfSubjectReview), and compare.

`kubectl --as` cannot verify a migration: impersonation bypasses access policies. A probe authenticates
for real, with the principal's own credentials and an EKS token, so it sees what the principal will see.
Cluster-admin through AmazonEKSClusterAdminPolicy is not in userInfo; the caller passes the entry's
policies so that it counts as system:masters, as everywhere else in the tool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from migrator.aws.session import Session, assume_role_credentials, session_from_credentials
from migrator.aws.token import get_token
from migrator.errors import NotAuthenticatedError
from migrator.kube.client import KubernetesGateway, api_client_for_eks
from migrator.model import PolicyAssociation
from migrator.ports import ProbeObservation
from migrator.rules import identity
from migrator.rules.arn import ArnError, PrincipalKind, parse_arn

# A session name that looks like an EC2 instance id, so node mappings ({{EC2PrivateDNSName}}) render too.
# Only a simulator can use it: on EKS the authenticator asks EC2 about that instance.
PROBE_SESSION_NAME = "i-0a1b2c3d4e5f60718"
VERIFY_SESSION_NAME = "aws-auth-migrate-probe"  # what `verify --probe` signs in as, for CloudTrail readers


@dataclass(frozen=True)
class ObservedIdentity:
    username: str
    groups: frozenset[str]  # without system:authenticated and system:masters
    cluster_admin: bool  # system:masters, or AmazonEKSClusterAdminPolicy at cluster scope

    def template(self) -> identity.IdentityTemplate:
        return identity.IdentityTemplate(self.username, self.groups, self.cluster_admin)

    def describe(self) -> str:
        groups = sorted(self.groups | ({identity.MASTERS_GROUP} if self.cluster_admin else set()))
        return f"{self.username or '(empty)'} [{', '.join(groups) or 'no groups'}]"


def observed(review: Mapping[str, Any], policies: Sequence[PolicyAssociation] = ()) -> ObservedIdentity:
    groups = frozenset(str(g) for g in review.get("groups") or ()) - {identity.AUTHENTICATED_GROUP}
    admin = identity.MASTERS_GROUP in groups or any(identity.is_cluster_admin(p) for p in policies)
    return ObservedIdentity(str(review.get("username", "")), groups - {identity.MASTERS_GROUP}, admin)


class IdentityProbe:
    """One principal's view of one cluster: its own credentials, an EKS token (refreshed before it expires)
    and a Kubernetes client, kept so that asking again costs one request."""

    def __init__(
        self, credentials: dict[str, str], *, cluster: str, region: str, endpoint: str, ca_data: str | None
    ) -> None:
        session = session_from_credentials(credentials, region)
        client = api_client_for_eks(endpoint, ca_data, lambda: get_token(session, cluster))
        self._gateway = KubernetesGateway(client)

    def review(self) -> Mapping[str, Any] | None:
        """userInfo of a SelfSubjectReview; None when the cluster does not authenticate the principal."""
        try:
            return self._gateway.self_subject_review()
        except NotAuthenticatedError:
            return None


def same_identity(before: ObservedIdentity | None, after: ObservedIdentity | None, *, node: bool) -> bool:
    """Equal, except that node entries do not carry system:bootstrappers (eks-facts.md section 2)."""
    if before is None or after is None:
        return before is after
    if node:  # either side may still come from aws-auth, so drop system:bootstrappers from both
        before, after = (
            ObservedIdentity(o.username, identity.node_groups_today(o.groups), o.cluster_admin) for o in (before, after)
        )
    return not identity.differences(before.template(), after.template())


class AssumeRoleProber:
    """`verify --probe`: for each role the caller may assume, assume it, make an EKS token, ask the cluster.

    IAM users cannot be signed in as without their keys, and roles whose trust policy does not let the caller
    in cannot be assumed: both are reported as not probed, with the reason.
    """

    def __init__(self, session: Session, *, cluster: str, region: str, endpoint: str | None, ca_data: str | None):
        self._session = session
        self._cluster = cluster
        self._region = region
        self._endpoint = endpoint
        self._ca_data = ca_data

    def probe(self, principal_arn: str) -> ProbeObservation:
        try:
            arn = parse_arn(principal_arn)
        except ArnError as error:
            return ProbeObservation(reason=f"not a principal ARN: {error}")
        if arn.kind is not PrincipalKind.ROLE:
            return ProbeObservation(reason="an IAM user: signing in as one needs its own access keys")
        if not self._endpoint:
            return ProbeObservation(reason="the cluster reports no Kubernetes endpoint")
        credentials = assume_role_credentials(self._session, principal_arn, VERIFY_SESSION_NAME)
        if isinstance(credentials, str):
            return ProbeObservation(reason=f"cannot assume the role: {credentials}")
        review = IdentityProbe(
            credentials, cluster=self._cluster, region=self._region, endpoint=self._endpoint, ca_data=self._ca_data
        ).review()
        if review is None:
            return ProbeObservation(authenticated=False, session_name=VERIFY_SESSION_NAME)
        return ProbeObservation(
            authenticated=True,
            username=str(review.get("username", "")),
            groups=tuple(sorted(str(g) for g in review.get("groups") or ())),
            session_name=VERIFY_SESSION_NAME,
        )
