"""The inventory file (`schema: aws-auth-migrate/inventory/v1`): which clusters a fleet run covers and how
to reach each one. Read with ruamel so that every problem names `FILE:LINE` (exit 2, nothing run).

```yaml
schema: aws-auth-migrate/inventory/v1
defaults: {region: eu-west-1, target: API, profile: ops, roleArn: "arn:aws:iam::{account}:role/migrator"}
clusters:
  - {name: prod-eu, account: "111122223333"}
  - {name: prod-us, account: "111122223333", region: us-west-2, labels: {tier: prod}}
```
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from migrator.awsauth.yamlsource import YamlReader
from migrator.errors import InputError
from migrator.model import AuthMode
from migrator.rules.limits import check_cluster_name

INVENTORY_SCHEMA = "aws-auth-migrate/inventory/v1"
SETTING_KEYS = (
    "region",
    "account",
    "profile",
    "roleArn",
    "target",
    "removeAwsAuth",
    "acceptManagedAwsAuth",
    "maxConcurrency",
)
CLUSTER_KEYS = ("name", "labels", *SETTING_KEYS)
ACCOUNT_RE = re.compile(r"[0-9]{12}")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
LABEL_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")
ROLE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}|\{account\}):role/[\w+=,.@/-]+")
TARGETS = (AuthMode.API_AND_CONFIG_MAP.value, AuthMode.API.value)
# The folder part of a cluster the inventory gives no account (its credentials decide which account it is).
NO_ACCOUNT = "no-account"


@dataclass(frozen=True)
class InventoryCluster:
    """One cluster of the fleet with its defaults applied. `index` is its position in the file (reports keep
    that order); `line` where it is written."""

    name: str
    region: str
    account: str | None
    profile: str | None
    role_arn: str | None  # `{account}` already filled in
    target: AuthMode
    remove_aws_auth: bool
    max_concurrency: int
    accept_managed_aws_auth: bool = False  # plan's --accept-managed-aws-auth: the owner's source no longer has it
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    index: int = 0
    line: int | None = None
    label: str = ""  # how people see it: its name, qualified when another cluster of the inventory has it too

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)  # frozen: the default label is the name

    @property
    def identity(self) -> str:
        """What a cluster is, wherever it is listed: sharding hashes this, never the list position."""
        return f"{self.account or ''}/{self.region}/{self.name}"

    @property
    def directory(self) -> str:
        """Where its plans, journals and backups live under the out-dir: `<account>/<region>/<name>`, from its
        identity alone. The same name in two accounts or regions cannot collide, and a cluster's folder never
        moves because another cluster was added, removed or reordered (only editing its own account would)."""
        return f"{self.account or NO_ACCOUNT}/{self.region}/{self.name}"


@dataclass(frozen=True)
class Inventory:
    file: str
    clusters: tuple[InventoryCluster, ...]


def parse_inventory(text: str, file: str) -> Inventory:
    """The inventory in `text` (read from `file`); a SourceError (exit 2) at the first problem."""
    reader = YamlReader(file)
    try:
        document = YAML(typ="rt").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise reader.error(mark.line + 1 if mark is not None else None, f"not valid YAML: {problem}") from None
    root = reader.mapping(document, 1, "the inventory", ("schema", "defaults", "clusters"))
    schema = root.get("schema")
    if schema != INVENTORY_SCHEMA:
        raise reader.error(
            reader.line(root, "schema") if "schema" in root else 1,
            f"schema must be {INVENTORY_SCHEMA!r}, not {schema!r}",
            hint=f"start the file with: schema: {INVENTORY_SCHEMA}",
        )
    defaults = reader.mapping(
        root.get("defaults", CommentedMap()), reader.line(root, "defaults"), "defaults", SETTING_KEYS
    )
    items = root.get("clusters")
    if not isinstance(items, CommentedSeq) or not items:
        raise reader.error(
            reader.line(root, "clusters") if "clusters" in root else 1, "clusters must be a non-empty list"
        )
    clusters: list[InventoryCluster] = []
    same_place: dict[tuple[str, str], list[InventoryCluster]] = {}  # name and region -> the entries so far
    for index, item in enumerate(items):
        cluster = _cluster(reader, item, reader.line(items, index), defaults, index)
        earlier = same_place.setdefault((cluster.name, cluster.region), [])
        _refuse_twice(reader, cluster, earlier)
        earlier.append(cluster)
        clusters.append(cluster)
    return Inventory(file, _labelled(clusters))


def known_account(cluster: InventoryCluster) -> str | None:
    """The account the cluster is in, as far as the inventory tells: its `account`, else the account of its
    `roleArn` (EKS answers for the caller's own account only, so a role of account A reaches A's clusters).
    None when its profile or the default credentials decide."""
    if cluster.account is not None:
        return cluster.account
    match = ROLE_ARN_RE.fullmatch(cluster.role_arn or "")
    return match[1] if match is not None else None


def _refuse_twice(reader: YamlReader, cluster: InventoryCluster, earlier: list[InventoryCluster]) -> None:
    """Two entries that can be one cluster would run it twice, with two journals (one of them stale forever):
    of `earlier` (same name and region), one with the same account, or where either account is unknown (the
    credentials decide it). Two entries without an account are refused even with roles of two accounts: they
    would share the `no-account` folder."""
    for other in earlier:
        mine, theirs = known_account(cluster), known_account(other)
        if cluster.identity == other.identity:
            where = f"account {cluster.account}" if cluster.account else "no account"
            raise reader.error(
                cluster.line,
                f"cluster {cluster.name!r} in {cluster.region} ({where}) is listed twice (first at line {other.line})",
                hint="a cluster is its account, region and name: give each same-named cluster its account",
            )
        if mine is None or theirs is None or mine == theirs:
            raise reader.error(
                cluster.line,
                f"cluster {cluster.name!r} in {cluster.region} can be listed twice: this entry has "
                f"{_account_words(cluster)}, line {other.line} has {_account_words(other)}",
                hint="give both entries their account (two accounts make two clusters), or remove one of them",
            )


def _account_words(cluster: InventoryCluster) -> str:
    account = known_account(cluster)
    if cluster.account is not None:
        return f"account {cluster.account}"
    if account is not None:
        return f"no account, but a roleArn in account {account}"
    return "no account (its credentials decide which account it is)"


def _labelled(clusters: list[InventoryCluster]) -> tuple[InventoryCluster, ...]:
    """Each cluster's label: its name, or `name (account/region)` when the inventory has the name twice."""
    names = Counter(c.name for c in clusters)
    return tuple(
        replace(c, label=c.name if names[c.name] == 1 else f"{c.name} ({c.account or NO_ACCOUNT}/{c.region})")
        for c in clusters
    )


def _cluster(reader: YamlReader, item: Any, line: int | None, defaults: CommentedMap, index: int) -> InventoryCluster:
    what = f"clusters[{index}]"
    node = reader.mapping(item, line, what, CLUSTER_KEYS)
    name = reader.optional_text(node, "name", what)
    if name is None:
        raise reader.error(line, f"{what} needs 'name'")
    try:
        check_cluster_name(name, where=f"{what}.name")
    except InputError as error:
        raise reader.error(reader.line(node, "name"), error.message, hint=error.hint) from None

    def setting(key: str) -> tuple[CommentedMap, str]:
        """Where `key` is set for this cluster: its own entry wins over defaults."""
        return (node, f"{what}") if key in node else (defaults, "defaults")

    def text(key: str) -> tuple[str | None, int | None]:
        source, label = setting(key)
        return reader.optional_text(source, key, label), reader.line(source, key)

    region, region_line = text("region")
    if region is None:
        raise reader.error(line, f"{what} ({name}) has no region", hint="set region in defaults or on the cluster")
    if not REGION_RE.fullmatch(region):
        raise reader.error(region_line, f"region {region!r} is not an AWS region name (like eu-west-1)")
    account, account_line = text("account")
    if account is not None and not ACCOUNT_RE.fullmatch(account):
        raise reader.error(account_line, f"account {account!r} must be 12 digits, in quotes")
    role_arn, role_line = text("roleArn")
    if role_arn is not None:
        if not ROLE_ARN_RE.fullmatch(role_arn):
            raise reader.error(role_line, f"roleArn {role_arn!r} is not an IAM role ARN")
        if "{account}" in role_arn:
            if account is None:
                raise reader.error(
                    role_line, f"roleArn uses {{account}} but {what} ({name}) has no account", hint="set account"
                )
            role_arn = role_arn.replace("{account}", account)
    target_text, target_line = text("target")
    if target_text is not None and target_text not in TARGETS:
        raise reader.error(target_line, f"target must be one of {', '.join(TARGETS)}, not {target_text!r}")
    source, label = setting("removeAwsAuth")
    remove = source.get("removeAwsAuth", False)
    if not isinstance(remove, bool):
        raise reader.error(reader.line(source, "removeAwsAuth"), f"{label}.removeAwsAuth must be true or false")
    target = AuthMode(target_text or AuthMode.API_AND_CONFIG_MAP.value)
    if remove and target is not AuthMode.API:
        raise reader.error(reader.line(source, "removeAwsAuth"), f"removeAwsAuth needs target API ({name})")
    source, label = setting("acceptManagedAwsAuth")
    accept_managed = source.get("acceptManagedAwsAuth", False)
    if not isinstance(accept_managed, bool):
        raise reader.error(
            reader.line(source, "acceptManagedAwsAuth"), f"{label}.acceptManagedAwsAuth must be true or false"
        )
    if accept_managed and not remove:
        raise reader.error(
            reader.line(source, "acceptManagedAwsAuth"), f"acceptManagedAwsAuth needs removeAwsAuth: true ({name})"
        )
    source, label = setting("maxConcurrency")
    concurrency = source.get("maxConcurrency", 8)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 64:
        raise reader.error(
            reader.line(source, "maxConcurrency"), f"{label}.maxConcurrency must be a whole number 1..64"
        )
    profile, _ = text("profile")
    return InventoryCluster(
        name=name,
        region=region,
        account=account,
        profile=profile,
        role_arn=role_arn,
        target=target,
        remove_aws_auth=remove,
        max_concurrency=concurrency,
        accept_managed_aws_auth=accept_managed,
        labels=_labels(reader, node, what),
        index=index,
        line=line,
    )


def _labels(reader: YamlReader, node: CommentedMap, what: str) -> dict[str, str]:
    labels = node.get("labels")
    if labels is None:
        return {}
    if not isinstance(labels, CommentedMap):
        raise reader.error(reader.line(node, "labels"), f"{what}.labels must be a mapping of names to strings")
    found: dict[str, str] = {}
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_RE.fullmatch(key):
            raise reader.error(reader.line(labels, key), f"label name {key!r}: letters, digits, '-', '_', '.'")
        if not isinstance(value, str):
            raise reader.error(reader.line(labels, key), f"label {key} must be a string, not {value!r} (quote it)")
        found[key] = value
    return found
