"""The IAM principals behind EKS requests, looked up in moto's IAM and STS.

EKS only stores an access entry for a principal IAM has, under exactly the ARN IAM gives it (path
included), and names a cluster's creator by the IAM ARN of whoever signed CreateCluster.
"""

from __future__ import annotations

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from migrator.rules.arn import Arn, ArnError, PrincipalKind, parse_arn


def principal_id(arn: Arn) -> str | None:
    """IAM's id of the principal named by exactly this ARN (path included), or None when IAM has none."""
    backend = iam_backends[arn.account][arn.partition]
    if arn.kind is PrincipalKind.ROLE:
        for role in list(backend.get_roles()):
            if role.arn == str(arn):
                return str(role.id)
        return None
    if arn.kind is PrincipalKind.USER:
        user = backend.users.get(arn.name)
        return str(user.id) if user is not None and user.arn == str(arn) else None
    return None


def caller_arn(access_key: str, account: str) -> str | None:
    """The IAM ARN (with path) of whoever owns `access_key`: the assumed role, or the IAM user."""
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        assumed = sts_backends[account][partition].get_assumed_role_from_access_key(access_key)
        if assumed is not None:
            try:
                name = parse_arn(assumed.role_arn).name
            except ArnError:
                return None
            for role in list(iam_backends[account][partition].get_roles()):
                if role.name == name:
                    return str(role.arn)
            return str(assumed.role_arn)
        user = iam_backends[account][partition].get_user_from_access_key_id(access_key)
        if user is not None:
            return str(user.arn)
    return None
