"""Resource names: stable, readable, deterministic and unique.

A principal's name is a function of that principal alone, never of its position or of the other principals,
so adding or removing a principal renames nobody (a rename is a destroy-and-create in Terraform, a failed
import in CloudFormation):

- A name that reads back as the principal keeps its plain form: `role_developer`, `user_maria`, and the
  account appended for a principal of another account (`role_deployer_444455556666`). Terraform names use
  [a-z0-9_-] and keep a role name's letters, digits, `-` and single `_` (lowercased: IAM names are unique
  regardless of case); CloudFormation logical IDs are alphanumeric, so only a name of letters and digits
  reads back there (`RoleDeveloper`).
- Any other name (one sanitising changes: `ci.bot`, `ci+bot`, `a__b`; for CloudFormation also `ci-bot` and
  `ci_bot`), and a plain name that ends the way a suffix below does (8 hex digits, or an account's 12
  digits, which another principal's name could end with), gets `_` + the first 8 hex digits of the SHA-256
  of its exact ARN: `role_ci_bot_1f0e9a7c` for `ci.bot`, whatever else is exported.

Two principals can then share a name only when they are the same IAM principal spelled in two cases, or
by a 32-bit hash coincidence; those alone fall back to longer hashes (the one case where names depend on
the set, and the same on every run).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable

from migrator.rules.arn import parse_arn

_NOT_NAME = re.compile(r"[^a-z0-9]+", re.ASCII)
_CAMEL_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", re.ASCII)
_HASH_LENGTHS = (8, 16, 64)
PRINCIPAL_HASH_LENGTH = 8
# IAM names that survive as they are (case aside): Terraform keeps `-` and single `_`, CloudFormation neither.
_TERRAFORM_PLAIN = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*", re.ASCII)
_LOGICAL_PLAIN = re.compile(r"[A-Za-z0-9]+", re.ASCII)
# What a suffix looks like: a hash (8 hex digits) or an account (12 digits). A logical ID has no separator,
# so there a name's last 8 characters are checked: an account's last 8 digits are hex digits too.
_SUFFIX_LIKE = re.compile(r"[0-9a-fA-F]{8}|[0-9]{12}", re.ASCII)


def _snake(text: str) -> str:
    return _NOT_NAME.sub("_", text.lower()).strip("_")


def principal_words(principal_arn: str, cluster_account: str) -> list[str]:
    """`role`, the name, and the account when it is not the cluster's (IAM names are unique per account)."""
    arn = parse_arn(principal_arn)
    words = [arn.kind.value, arn.name]
    if arn.account != cluster_account:
        words.append(arn.account)
    return words


def policy_words(policy_arn: str) -> list[str]:
    """`AmazonEKSClusterAdminPolicy` -> `cluster admin`: what differs between EKS's policy names."""
    name = policy_arn.rsplit("/", 1)[-1]
    trimmed = name.removeprefix("AmazonEKS").removesuffix("Policy") or name
    return [word.lower() for word in _CAMEL_WORD.findall(trimmed)] or [name.lower()]


def terraform_name(words: Iterable[str]) -> str:
    return _snake("_".join(words)) or "entry"


def logical_id(words: Iterable[str]) -> str:
    """CamelCase of the words' alphanumeric runs: `RoleDeveloper`."""
    parts = [part for word in words for part in re.split(r"[^A-Za-z0-9]+", word) if part]
    return "".join(part[:1].upper() + part[1:] for part in parts) or "Entry"


def unique_names(
    keys: Iterable[str],
    base: Callable[[str], str],
    suffix: Callable[[str, str], str],
    *,
    lengths: tuple[int, ...] = _HASH_LENGTHS,
) -> dict[str, str]:
    """`key -> name`: `base(key)` where that is unique (compared case-insensitively), else `suffix(base, hash)`
    for every key that shares the base, with a longer hash in the (astronomical) case that is not enough."""
    names = {key: base(key) for key in dict.fromkeys(keys)}
    for length in lengths:
        groups: dict[str, list[str]] = defaultdict(list)
        for key, name in names.items():
            groups[name.lower()].append(key)
        clashing = [key for members in groups.values() if len(members) > 1 for key in members]
        if not clashing:
            return names
        for key in clashing:
            names[key] = suffix(base(key), hashlib.sha256(key.encode()).hexdigest()[:length])
    raise AssertionError("distinct keys with one SHA-256")  # pragma: no cover


def principal_hash(principal_arn: str, length: int = PRINCIPAL_HASH_LENGTH) -> str:
    return hashlib.sha256(principal_arn.encode()).hexdigest()[:length]


def terraform_entry_name(principal_arn: str, cluster_account: str) -> str:
    """The Terraform name of one principal's entry, from that principal alone."""
    arn = parse_arn(principal_arn)
    words = principal_words(principal_arn, cluster_account)
    foreign = arn.account != cluster_account
    last = arn.name.rsplit("_", 1)[-1]
    if _TERRAFORM_PLAIN.fullmatch(arn.name) and (foreign or not _SUFFIX_LIKE.fullmatch(last)):
        return "_".join([_snake(words[0]), arn.name.lower(), *words[2:]])
    return f"{terraform_name(words)}_{principal_hash(principal_arn)}"


def entry_logical_id(principal_arn: str, cluster_account: str) -> str:
    """The CloudFormation logical ID of one principal's entry, from that principal alone."""
    arn = parse_arn(principal_arn)
    words = principal_words(principal_arn, cluster_account)
    foreign = arn.account != cluster_account
    if _LOGICAL_PLAIN.fullmatch(arn.name) and (foreign or not _SUFFIX_LIKE.fullmatch(arn.name[-8:])):
        return logical_id(words)
    return f"{logical_id(words)}{principal_hash(principal_arn)}"


def _distinct(
    principals: Iterable[str], name: Callable[[str], str], longer: Callable[[str, str], str]
) -> dict[str, str]:
    """`name` of each principal; the few that still share one (see the module's doc) get longer hashes."""
    names = {arn: name(arn) for arn in dict.fromkeys(principals)}
    return unique_names(names, lambda arn: names[arn], longer, lengths=_HASH_LENGTHS[1:])


def terraform_names(principals: Iterable[str], cluster_account: str) -> dict[str, str]:
    return _distinct(principals, lambda arn: terraform_entry_name(arn, cluster_account), lambda name, h: f"{name}_{h}")


def logical_ids(principals: Iterable[str], cluster_account: str) -> dict[str, str]:
    return _distinct(principals, lambda arn: entry_logical_id(arn, cluster_account), lambda name, h: f"{name}{h}")


def association_name(entry_name: str, policy_arn: str) -> str:
    """`<entry>__<policy>`: entry names never hold `__` (sanitising collapses runs), so two pairs cannot meet."""
    return f"{entry_name}__{terraform_name(policy_words(policy_arn))}"
