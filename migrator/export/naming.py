"""Resource names: stable, readable, deterministic and unique.

A name comes from the principal, never from its position: `role_developer`, `user_maria`, with the account
appended for a principal of another account (`role_deployer_444455556666`), so adding or removing another
principal does not rename this one (a rename is a destroy-and-create in Terraform). Sanitising can make two
principals look alike (`ci.bot` and `ci-bot` both give `role_ci_bot`): then every one of them gets a suffix
of the SHA-256 of its ARN, the same on every run. Terraform names use [a-z0-9_] and start with a letter;
CloudFormation logical IDs are alphanumeric ([A-Za-z0-9]).
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


def unique_names(keys: Iterable[str], base: Callable[[str], str], suffix: Callable[[str, str], str]) -> dict[str, str]:
    """`key -> name`: `base(key)` where that is unique (compared case-insensitively), else `suffix(base, hash)`
    for every key that shares the base, with a longer hash in the (astronomical) case that is not enough."""
    names = {key: base(key) for key in dict.fromkeys(keys)}
    for length in _HASH_LENGTHS:
        groups: dict[str, list[str]] = defaultdict(list)
        for key, name in names.items():
            groups[name.lower()].append(key)
        clashing = [key for members in groups.values() if len(members) > 1 for key in members]
        if not clashing:
            return names
        for key in clashing:
            names[key] = suffix(base(key), hashlib.sha256(key.encode()).hexdigest()[:length])
    raise AssertionError("distinct keys with one SHA-256")  # pragma: no cover


def terraform_names(principals: Iterable[str], cluster_account: str) -> dict[str, str]:
    return unique_names(
        principals, lambda arn: terraform_name(principal_words(arn, cluster_account)), lambda b, h: f"{b}_{h}"
    )


def logical_ids(principals: Iterable[str], cluster_account: str) -> dict[str, str]:
    return unique_names(
        principals, lambda arn: logical_id(principal_words(arn, cluster_account)), lambda b, h: f"{b}{h}"
    )


def association_name(entry_name: str, policy_arn: str) -> str:
    """`<entry>__<policy>`: entry names never hold `__` (sanitising collapses runs), so two pairs cannot meet."""
    return f"{entry_name}__{terraform_name(policy_words(policy_arn))}"
