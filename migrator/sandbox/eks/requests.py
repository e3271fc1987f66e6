"""What every EKS operation of the sandbox shares: the error it raises, who is asking, the cluster and
access entry a request names, and how list operations read their parameters and page their results.

`EksError` carries EKS's error code; the HTTP layer (`eks_ext`) turns it into EKS's error response with
the status EKS uses for that code. Callers hold `world.lock`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from dataclasses import dataclass
from typing import Any

from migrator.rules.arn import ArnError, parse_arn, partition_of_region
from migrator.sandbox.eks import rules as eks_rules
from migrator.sandbox.eks.rules import RuleViolation
from migrator.sandbox.state import SimCluster, SimEntry, World

ERROR_STATUS: dict[str, int] = {
    "InvalidParameterException": 400,
    "InvalidRequestException": 400,
    "SerializationException": 400,
    "UnknownOperationException": 404,
    "ClientException": 400,
    "ResourceLimitExceededException": 400,
    "ResourceNotFoundException": 404,
    "ResourceInUseException": 409,
    "InvalidSignatureException": 403,
    "ThrottlingException": 429,
    "ServerException": 500,
}


class EksError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return ERROR_STATUS.get(self.code, 400)

    @classmethod
    def of(cls, violation: RuleViolation) -> EksError:
        return cls(violation.code, violation.message)


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, where: the account comes from the access key, the region from the signature."""

    account: str
    region: str
    access_key: str = ""

    @property
    def partition(self) -> str:
        return partition_of_region(self.region)


# --- what a request names ---------------------------------------------------------------------------


def get_cluster(world: World, ctx: RequestContext, name: str) -> SimCluster:
    cluster = world.cluster(ctx.account, ctx.region, name)
    if cluster is None:
        raise EksError("ResourceNotFoundException", f"No cluster found for name: {name}.")
    return cluster


def entries_cluster(world: World, ctx: RequestContext, name: str) -> SimCluster:
    """The named cluster, for an access-entry operation: EKS refuses those while the mode is CONFIG_MAP."""
    cluster = get_cluster(world, ctx, name)
    if not cluster.mode.reads_entries:
        raise EksError("InvalidRequestException", eks_rules.CONFIG_MAP_ONLY_MESSAGE)
    return cluster


def find_entry(cluster: SimCluster, principal_arn: str) -> SimEntry:
    """The entry of exactly this principal ARN (path included), as EKS looks it up."""
    try:
        key = parse_arn(principal_arn).principal_key
    except ArnError:
        key = None
    entry = cluster.entries.get(key) if key else None
    if entry is None or entry.spec.principal_arn != principal_arn:
        raise EksError(
            "ResourceNotFoundException",
            "The specified principalArn could not be found. You can view your available access entries with "
            "'list-access-entries'.",
        )
    return entry


# --- parameters and pages ---------------------------------------------------------------------------


def string_list(params: dict[str, Any], key: str) -> list[str] | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EksError("InvalidParameterException", f"{key} must be a list of strings.")
    return list(value)


def check_max_results(params: dict[str, Any]) -> int:
    """The page size a list request asks for (every EKS list operation takes 1 to 100; default 100)."""
    raw_max = params.get("maxResults")
    try:
        max_results = 100 if raw_max is None else int(raw_max)
    except ValueError:
        raise EksError("InvalidParameterException", "maxResults must be an integer between 1 and 100.") from None
    if not 1 <= max_results <= 100:
        raise EksError("InvalidParameterException", "maxResults must be an integer between 1 and 100.")
    return max_results


def paginate(keys: list[str], params: dict[str, Any]) -> tuple[list[str], str | None]:
    """One page of sorted `keys`. The token names the next key, so a page survives deletions before it."""
    max_results = check_max_results(params)
    keys = sorted(keys)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
            start = bisect.bisect_left(keys, after)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise EksError("InvalidParameterException", "The nextToken is invalid.") from None
    page = keys[start : start + max_results]
    more = start + max_results < len(keys)
    next_token = base64.urlsafe_b64encode(keys[start + max_results].encode()).decode() if more else None
    return page, next_token


def page_payload(payload: dict[str, Any], next_token: str | None) -> dict[str, Any]:
    if next_token:
        payload["nextToken"] = next_token
    return payload
