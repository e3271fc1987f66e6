"""IAM and STS ARNs as aws-auth and access entries use them. Pure parsing, no I/O."""

from __future__ import annotations

import re

from migrator.model import Mapping

# Arn and PrincipalKind are model data (a mapping carries its parsed ARN); re-exported, as they always were here.
from migrator.model.arn import Arn as Arn
from migrator.model.arn import PrincipalKind as PrincipalKind

PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")

_ACCOUNT = r"\d{12}"
_NAME = r"[\w+=,.@-]{1,128}"
_ARN_RE = re.compile(
    r"arn:(?P<partition>[a-z-]+):(?P<service>iam|sts)::(?P<account>" + _ACCOUNT + r"):(?P<resource>.+)", re.ASCII
)
_PATH_SEGMENT_RE = re.compile(r"[\x21-\x7e]{1,512}", re.ASCII)
_NAME_RE = re.compile(_NAME, re.ASCII)


class ArnError(ValueError):
    """The text is not an IAM or STS principal ARN."""


def parse_arn(text: str) -> Arn:
    """Parse an IAM role/user/root ARN or an STS assumed-role ARN; raise ArnError saying what is wrong."""
    match = _ARN_RE.fullmatch(text)
    if match is None:
        if not text.startswith("arn:"):
            raise ArnError(f"{text!r} is not an ARN (expected arn:<partition>:iam::<12-digit account>:...)")
        raise ArnError(
            f"{text!r} is not an IAM ARN (expected arn:<partition>:iam::<12-digit account>:role/... or user/...)"
        )
    partition, service, account, resource = match.group("partition", "service", "account", "resource")
    if partition not in PARTITIONS:
        raise ArnError(f"{text!r} names unknown partition {partition!r} (known: {', '.join(PARTITIONS)})")
    if service == "sts":
        parts = resource.split("/")
        if len(parts) != 3 or parts[0] != "assumed-role" or not all(parts[1:]):
            raise ArnError(f"{text!r} is not an STS assumed-role ARN (assumed-role/<role>/<session>)")
        return Arn(partition, service, account, PrincipalKind.ASSUMED_ROLE, parts[1], "", parts[2])
    if resource == "root":
        return Arn(partition, service, account, PrincipalKind.ROOT, "root")
    kind_text, _, rest = resource.partition("/")
    if kind_text not in ("role", "user") or not rest:
        raise ArnError(f"{text!r} is neither an IAM role nor an IAM user ARN")
    *path_parts, name = rest.split("/")
    if not _NAME_RE.fullmatch(name):
        raise ArnError(f"{text!r} has an invalid {kind_text} name {name!r}")
    if any(not _PATH_SEGMENT_RE.fullmatch(part) for part in path_parts):
        raise ArnError(f"{text!r} has an empty or invalid path segment")
    path = "".join(part + "/" for part in path_parts)
    return Arn(partition, service, account, PrincipalKind(kind_text), name, path)


def mapping_arn(mapping: Mapping) -> Arn:
    """The mapping's ARN, parsed: the parse aws-auth's reader kept, else (a mapping built by hand) parsed now.
    ArnError when it is no IAM or STS ARN (an sso: entry, a padded ARN), as `parse_arn(mapping.arn)`."""
    if mapping.parsed_arn is not None:
        return mapping.parsed_arn
    return parse_arn(mapping.arn)


def is_padded_arn(text: str) -> bool:
    """A valid ARN with whitespace (a newline, a space) before or after it.

    aws-iam-authenticator compares the lower-cased ARN exactly, so such a mapping matches nobody.
    """
    stripped = text.strip()
    if stripped == text or not stripped:
        return False
    try:
        parse_arn(stripped)
    except ArnError:
        return False
    return True


def canonical_caller_arn(arn: Arn) -> Arn:
    """What aws-iam-authenticator compares against aws-auth: assumed-role -> role ARN without a path."""
    if arn.kind is PrincipalKind.ASSUMED_ROLE:
        return Arn(arn.partition, "iam", arn.account, PrincipalKind.ROLE, arn.name)
    return arn


# Each partition's `regionRegex` from botocore's endpoints data (botocore/data/partitions.json), in its
# order; tests/unit/test_partitions.py compares this table with the installed botocore. Copied, not read:
# the rules stay pure, and a new partition must be a reviewed change (PARTITIONS, ARNs, findings).
REGION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (partition, re.compile(pattern, re.ASCII))
    for partition, pattern in (
        ("aws", r"(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+"),
        ("aws-cn", r"cn\-\w+\-\d+"),
        ("aws-eusc", r"eusc\-(de)\-\w+\-\d+"),
        ("aws-iso", r"us\-iso\-\w+\-\d+"),
        ("aws-iso-b", r"us\-isob\-\w+\-\d+"),
        ("aws-iso-e", r"eu\-isoe\-\w+\-\d+"),
        ("aws-iso-f", r"us\-isof\-\w+\-\d+"),
        ("aws-us-gov", r"us\-gov\-\w+\-\d+"),
    )
)
DEFAULT_PARTITION = "aws"


def partition_of_region(region: str) -> str:
    """The partition a region belongs to, as botocore decides it; `aws` for a region no pattern knows.

    The patterns do not overlap (`\\w` has no `-`, so `us-gov-west-1` is not an `aws` region).
    """
    for partition, pattern in REGION_PATTERNS:
        if pattern.fullmatch(region):
            return partition
    return DEFAULT_PARTITION


def entry_key(principal_arn: str) -> str:
    """Who an ARN names, whatever its path or case (what EKS keys entries by)."""
    try:
        return parse_arn(principal_arn).lookup_key
    except ArnError:
        return principal_arn.lower()
