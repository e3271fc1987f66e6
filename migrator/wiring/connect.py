"""Wire the real gateways for one cluster: a session per cluster (and per foreign account for IAM), the
EKS gateway, and a Kubernetes client from a kubeconfig context or from DescribeCluster plus an EKS token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from migrator.aws.budget import shared_budget
from migrator.aws.eks import BotoEksGateway
from migrator.aws.iam import BotoIamDirectory
from migrator.aws.logs import CloudWatchSignInLog
from migrator.aws.session import AwsTarget, Session, make_session
from migrator.aws.token import get_token
from migrator.errors import InputError
from migrator.kube.client import KubernetesGateway, api_client_for_eks, api_client_from_kubeconfig
from migrator.ports import ClusterInfo, EksGateway, IamDirectory, IdentityProber, KubeGateway, SignInLog
from migrator.wiring.probe import AssumeRoleProber


@dataclass(frozen=True)
class ConnectOptions:
    region: str
    profile: str | None = None
    role_arn: str | None = None  # assume this role for the cluster's account
    kube_context: str | None = None  # use this kubeconfig context instead of DescribeCluster + token
    kubeconfig: str | None = None
    iam_roles: Mapping[str, str] = field(default_factory=dict)  # account -> role ARN for IAM path lookups
    eks_budget: tuple[str, int] | None = None  # (account key, limit): EKS calls shared with its other clusters


@dataclass(frozen=True)
class Connection:
    info: ClusterInfo
    eks: EksGateway
    kube: KubeGateway
    iam: IamDirectory
    prober: IdentityProber  # makes no call until asked to probe
    sign_ins: SignInLog


def parse_iam_roles(values: list[str]) -> dict[str, str]:
    """`ACCOUNT=ROLE_ARN` pairs from the command line."""
    roles: dict[str, str] = {}
    for value in values:
        account, separator, role_arn = value.partition("=")
        if not separator or len(account) != 12 or not account.isdigit() or not role_arn.startswith("arn:"):
            raise InputError(f"--iam-role {value!r}: expected ACCOUNT=ROLE_ARN, e.g. 444455556666=arn:aws:iam::...")
        roles[account] = role_arn
    return roles


def connect(cluster_name: str, options: ConnectOptions) -> Connection:
    session = make_session(AwsTarget(options.region, options.profile, options.role_arn))
    budget = shared_budget(options.eks_budget[0], options.region, options.eks_budget[1]) if options.eks_budget else None
    eks = BotoEksGateway(session, cluster_name, budget=budget)
    info = eks.describe_cluster()

    def session_for_account(account: str) -> Session | None:
        role_arn = options.iam_roles.get(account)
        if role_arn is None:
            return None
        return make_session(AwsTarget(options.region, options.profile, role_arn))

    iam = BotoIamDirectory(info.account, session, session_for_account)
    if options.kube_context is not None:
        api_client = api_client_from_kubeconfig(options.kube_context, options.kubeconfig)
    else:
        if not info.endpoint:
            raise InputError(f"cluster {cluster_name} reports no endpoint", hint="pass --kube-context")
        api_client = api_client_for_eks(
            info.endpoint, info.certificate_authority, lambda: get_token(session, cluster_name)
        )
    prober = AssumeRoleProber(
        session,
        cluster=cluster_name,
        region=options.region,
        endpoint=info.endpoint,
        ca_data=info.certificate_authority,
    )
    return Connection(
        info=info,
        eks=eks,
        kube=KubernetesGateway(api_client),
        iam=iam,
        prober=prober,
        sign_ins=CloudWatchSignInLog(session, cluster_name),
    )
