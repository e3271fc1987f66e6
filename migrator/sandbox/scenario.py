"""Sandbox scenario files (`schema: aws-auth-migrate/scenario/v1`): load, validate, dump.

A scenario is the whole simulated world: IAM principals (with paths, in any account), clusters (mode,
versions, node groups, Fargate profiles, existing access entries, aws-auth, RBAC) and who the tool runs as.
Every problem is a `SourceError` naming the file and line. The rules EKS enforces on access entries are
applied to the entries a scenario says exist (`eks_rules`), since EKS would never have stored others.

Scenario entries, node groups and Fargate profiles are taken as they are written: loading a cluster in
API_AND_CONFIG_MAP mode does not invent the entries EKS would have made when it switched.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from migrator.arn import ArnError, PrincipalKind, parse_arn, partition_of_region
from migrator.awsauth import parse_aws_auth
from migrator.errors import SourceError
from migrator.identity import NODE_IDENTITIES
from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    AwsAuth,
    ClusterRef,
    EntryType,
    FargateProfile,
    NodeGroup,
    PolicyAssociation,
    ScopeType,
)
from migrator.sandbox import eks_rules
from migrator.sandbox.kube_store import resource_for_kind
from migrator.sandbox.state import SimulationSettings

SCENARIO_SCHEMA = "aws-auth-migrate/scenario/v1"
DEFAULT_VERSION = "1.30"
DEFAULT_AMI_TYPE = "AL2023_x86_64_STANDARD"
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_VERSION_RE = re.compile(r"^\d+\.\d+$")
_PLATFORM_RE = re.compile(r"^eks\.\d+$")


@dataclass(frozen=True)
class ScenarioCluster:
    name: str
    region: str
    account: str
    version: str = DEFAULT_VERSION
    platform_version: str = ""
    mode: AuthMode = AuthMode.CONFIG_MAP
    bootstrap_admin: bool = True
    creator: str | None = None
    nodegroups: tuple[NodeGroup, ...] = ()
    fargate_profiles: tuple[FargateProfile, ...] = ()
    access_entries: tuple[AccessEntrySpec, ...] = ()
    aws_auth_text: str | None = None  # the ConfigMap as written; the Kubernetes simulator stores it
    rbac_text: str | None = None
    aws_auth: AwsAuth | None = field(default=None, compare=False)  # parsed (positions are file-specific)

    @property
    def partition(self) -> str:
        return partition_of_region(self.region)

    @property
    def ref(self) -> ClusterRef:
        return ClusterRef(self.name, self.region, self.account, self.partition)


@dataclass(frozen=True)
class Scenario:
    clusters: tuple[ScenarioCluster, ...]
    roles: tuple[str, ...]  # IAM role ARNs, paths included
    users: tuple[str, ...]
    caller: str
    simulation: SimulationSettings = field(default_factory=SimulationSettings)
    file: str = field(default="", compare=False)

    def cluster(self, name: str, account: str | None = None, region: str | None = None) -> ScenarioCluster:
        matches = [
            c for c in self.clusters if c.name == name and account in (None, c.account) and region in (None, c.region)
        ]
        if len(matches) != 1:
            raise KeyError(name)
        return matches[0]


# --- reading ----------------------------------------------------------------------------------------


class _Reader:
    """Typed access to a ruamel round-trip tree, with 1-based lines for every error."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, line: int | None, message: str, hint: str | None = None) -> SourceError:
        return SourceError(self.file, line, message, hint=hint)

    @staticmethod
    def line(node: Any, key: Any = None) -> int | None:
        try:
            if key is None:
                return int(node.lc.line) + 1
            if isinstance(node, CommentedSeq):
                return int(node.lc.item(key)[0]) + 1
            return int(node.lc.key(key)[0]) + 1
        except (AttributeError, KeyError, IndexError, TypeError):
            return None

    def mapping(self, node: Any, line: int | None, what: str, allowed: Iterable[str]) -> CommentedMap:
        if not isinstance(node, CommentedMap):
            raise self.error(line, f"{what} must be a mapping")
        allowed = tuple(allowed)
        for key in node:
            if key not in allowed:
                raise self.error(
                    self.line(node, key), f"unknown key {key!r} in {what}", hint=f"known keys: {', '.join(allowed)}"
                )
        return node

    def seq(self, node: CommentedMap, key: str, what: str) -> list[tuple[Any, int | None]]:
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, CommentedSeq):
            raise self.error(self.line(node, key), f"{what}.{key} must be a list")
        return [(item, self.line(value, i) or self.line(node, key)) for i, item in enumerate(value)]

    def text(self, node: CommentedMap, key: str, what: str, default: str | None = None) -> str:
        value = node.get(key)
        if value is None:
            if default is None:
                raise self.error(self.line(node), f"{what} needs {key!r}")
            return default
        if not isinstance(value, str):
            # YAML reads 012345678901 as a number and 1.30 as 1.3: both need quotes.
            number = isinstance(value, int | float) and not isinstance(value, bool)
            hint = (
                f'put the value in quotes, e.g. {key}: "..."; unquoted, YAML reads it as a number' if number else None
            )
            raise self.error(self.line(node, key), f"{what}.{key} must be a string, not {value!r}", hint=hint)
        return value

    def optional_text(self, node: CommentedMap, key: str, what: str) -> str | None:
        return self.text(node, key, what) if node.get(key) is not None else None

    def flag(self, node: CommentedMap, key: str, what: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            raise self.error(self.line(node, key), f"{what}.{key} must be true or false")
        return value

    def number(self, node: CommentedMap, key: str, what: str, default: float, *, upper: float | None = None) -> float:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error(self.line(node, key), f"{what}.{key} must be a number >= 0")
        if upper is not None and value > upper:
            raise self.error(self.line(node, key), f"{what}.{key} must be at most {upper}")
        return float(value)

    def integer(self, node: CommentedMap, key: str, what: str, default: int) -> int:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(self.line(node, key), f"{what}.{key} must be a whole number >= 0")
        return value


def load_scenario(path: str | Path) -> Scenario:
    label = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(label, None, "no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(label, None, f"cannot read the scenario: {exc}") from None
    return parse_scenario(text, label, base_dir=Path(path).parent)


def parse_scenario(text: str, file: str, *, base_dir: str | Path = ".") -> Scenario:
    """Parse a scenario; `awsAuthFile` paths are relative to `base_dir`."""
    reader = _Reader(file)
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise reader.error(mark.line + 1 if mark else None, f"not valid YAML: {exc.problem or exc}") from None
    except YAMLError as exc:
        raise reader.error(None, f"not valid YAML: {exc}") from None
    top = reader.mapping(root, 1, "the scenario", ("schema", "clusters", "iam", "caller", "simulation"))
    schema = top.get("schema")
    if schema != SCENARIO_SCHEMA:
        raise reader.error(reader.line(top, "schema") or 1, f"schema must be {SCENARIO_SCHEMA!r}, not {schema!r}")
    roles, users = _iam(reader, top)
    known = {parse_arn(a).principal_key: a for a in roles + users}
    caller = reader.text(top, "caller", "the scenario")
    if caller not in known.values():
        raise reader.error(reader.line(top, "caller"), f"caller {caller} is not among iam.roles or iam.users")
    clusters: list[ScenarioCluster] = []
    seen: set[tuple[str, str, str]] = set()
    items = reader.seq(top, "clusters", "the scenario")
    if not items:
        raise reader.error(reader.line(top, "clusters") or 1, "the scenario needs at least one cluster")
    for index, (node, line) in enumerate(items):
        cluster = _cluster(reader, node, line, index, known, Path(base_dir))
        if (cluster.account, cluster.region, cluster.name) in seen:
            raise reader.error(line, f"cluster {cluster.name} appears twice in {cluster.account}/{cluster.region}")
        seen.add((cluster.account, cluster.region, cluster.name))
        clusters.append(cluster)
    return Scenario(tuple(clusters), tuple(roles), tuple(users), caller, _simulation(reader, top), file)


def _iam(reader: _Reader, top: CommentedMap) -> tuple[list[str], list[str]]:
    node = reader.mapping(top.get("iam", CommentedMap()), reader.line(top, "iam"), "iam", ("roles", "users"))
    found: dict[tuple[str, str, str, str], str] = {}
    result: dict[str, list[str]] = {"roles": [], "users": []}
    for key, kind in (("roles", PrincipalKind.ROLE), ("users", PrincipalKind.USER)):
        for item, line in reader.seq(node, key, "iam"):
            entry = reader.mapping(item, line, f"an iam.{key} item", ("arn",))
            text = reader.text(entry, "arn", f"iam.{key}[]")
            try:
                arn = parse_arn(text)
            except ArnError as exc:
                raise reader.error(line, str(exc)) from None
            if arn.kind is not kind:
                raise reader.error(line, f"{text} is not an IAM {kind.value} ARN (iam.{key} holds {kind.value}s)")
            if arn.principal_key in found:
                raise reader.error(line, f"{text} names the same {kind.value} as {found[arn.principal_key]}")
            found[arn.principal_key] = text
            result[key].append(text)
    return result["roles"], result["users"]


_CLUSTER_KEYS = (
    "name",
    "region",
    "account",
    "version",
    "platformVersion",
    "authenticationMode",
    "bootstrapClusterCreatorAdminPermissions",
    "creator",
    "nodegroups",
    "fargateProfiles",
    "accessEntries",
    "awsAuth",
    "awsAuthFile",
    "rbac",
)


def _cluster(
    reader: _Reader,
    raw: Any,
    line: int | None,
    index: int,
    known: dict[tuple[str, str, str, str], str],
    base_dir: Path,
) -> ScenarioCluster:
    what = f"clusters[{index}]"
    node = reader.mapping(raw, line, what, _CLUSTER_KEYS)
    name = reader.text(node, "name", what)
    if not eks_rules.valid_cluster_name(name):
        raise reader.error(reader.line(node, "name"), f"{name!r} is not a valid EKS cluster name")
    region = reader.text(node, "region", what)
    if not _REGION_RE.match(region):
        raise reader.error(reader.line(node, "region"), f"{region!r} is not an AWS region name")
    account = reader.text(node, "account", what)
    if not _ACCOUNT_RE.match(account):
        raise reader.error(reader.line(node, "account"), f"account {account!r} is not a 12-digit AWS account id")
    partition = partition_of_region(region)
    version = reader.text(node, "version", what, DEFAULT_VERSION)
    if not _VERSION_RE.match(version):
        raise reader.error(reader.line(node, "version"), f"version {version!r} is not a Kubernetes version like 1.30")
    platform = reader.text(node, "platformVersion", what, eks_rules.default_platform_version(version))
    if not _PLATFORM_RE.match(platform):
        raise reader.error(reader.line(node, "platformVersion"), f"platformVersion {platform!r} is not like eks.8")
    mode_text = reader.text(node, "authenticationMode", what, AuthMode.CONFIG_MAP.value)
    try:
        mode = AuthMode(mode_text)
    except ValueError:
        valid = ", ".join(m.value for m in AuthMode)
        raise reader.error(reader.line(node, "authenticationMode"), f"unknown mode {mode_text!r} ({valid})") from None
    bootstrap = reader.flag(node, "bootstrapClusterCreatorAdminPermissions", what, True)
    if not bootstrap and mode is AuthMode.CONFIG_MAP:
        raise reader.error(
            reader.line(node, "bootstrapClusterCreatorAdminPermissions"),
            "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is CONFIG_MAP",
        )

    def principal(text: str, at: int | None, *, role_only: bool, same_account: bool) -> str:
        try:
            arn = parse_arn(text)
        except ArnError as exc:
            raise reader.error(at, str(exc)) from None
        if role_only and arn.kind is not PrincipalKind.ROLE:
            raise reader.error(at, f"{text} must be an IAM role")
        if same_account and arn.account != account:
            raise reader.error(at, f"{text} must be in the cluster's account {account}")
        if arn.partition != partition:
            raise reader.error(at, f"{text} is not in the cluster's partition {partition}")
        if known.get(arn.principal_key) != text:
            raise reader.error(at, f"{text} is not in iam.roles/iam.users (with exactly this path)")
        return text

    creator_text = reader.optional_text(node, "creator", what)
    creator = None
    if creator_text is not None:
        creator = principal(creator_text, reader.line(node, "creator"), role_only=False, same_account=False)
    nodegroups = []
    for i, (item, at) in enumerate(reader.seq(node, "nodegroups", what)):
        ng = reader.mapping(item, at, f"{what}.nodegroups[{i}]", ("name", "nodeRole", "amiType"))
        role = principal(reader.text(ng, "nodeRole", "a node group"), at, role_only=True, same_account=True)
        ami = reader.text(ng, "amiType", "a node group", DEFAULT_AMI_TYPE)
        nodegroups.append(NodeGroup(reader.text(ng, "name", "a node group"), role, ami))
    profiles = []
    for i, (item, at) in enumerate(reader.seq(node, "fargateProfiles", what)):
        fp = reader.mapping(item, at, f"{what}.fargateProfiles[{i}]", ("name", "podExecutionRole"))
        role = principal(
            reader.text(fp, "podExecutionRole", "a Fargate profile"), at, role_only=True, same_account=True
        )
        profiles.append(FargateProfile(reader.text(fp, "name", "a Fargate profile"), role))
    for group, label in ((nodegroups, "node group"), (profiles, "Fargate profile")):
        names = [g.name for g in group]
        if len(set(names)) != len(names):
            raise reader.error(line, f"{what} has two {label}s with the same name")

    entries: list[AccessEntrySpec] = []
    keys: set[tuple[str, str, str, str]] = set()
    for i, (item, at) in enumerate(reader.seq(node, "accessEntries", what)):
        if mode is AuthMode.CONFIG_MAP:
            raise reader.error(at, f"{what} is in CONFIG_MAP mode, which has no access entries")
        entry = _entry(reader, item, at, f"{what}.accessEntries[{i}]", account, partition)
        principal(entry.principal_arn, at, role_only=False, same_account=False)
        key = parse_arn(entry.principal_arn).principal_key
        if key in keys:
            raise reader.error(at, f"{entry.principal_arn} has two access entries")
        keys.add(key)
        entries.append(entry)
    if len(entries) > eks_rules.MAX_ENTRIES_PER_CLUSTER:
        raise reader.error(line, f"{what} has more than {eks_rules.MAX_ENTRIES_PER_CLUSTER} access entries")

    aws_auth_text = _aws_auth_text(reader, node, what, base_dir)
    aws_auth = None
    if aws_auth_text is not None:
        aws_auth = parse_aws_auth(aws_auth_text, file=f"{reader.file}:{what}.awsAuth")
    rbac = reader.optional_text(node, "rbac", what)
    if rbac is not None:
        _check_rbac(reader, rbac, reader.line(node, "rbac"))
    return ScenarioCluster(
        name=name,
        region=region,
        account=account,
        version=version,
        platform_version=platform,
        mode=mode,
        bootstrap_admin=bootstrap,
        creator=creator,
        nodegroups=tuple(nodegroups),
        fargate_profiles=tuple(profiles),
        access_entries=tuple(entries),
        aws_auth_text=aws_auth_text,
        rbac_text=rbac,
        aws_auth=aws_auth,
    )


def _entry(reader: _Reader, raw: Any, at: int | None, what: str, account: str, partition: str) -> AccessEntrySpec:
    node = reader.mapping(raw, at, what, ("principalArn", "type", "username", "kubernetesGroups", "policies"))
    principal = reader.text(node, "principalArn", what)
    username = reader.optional_text(node, "username", what)
    groups: list[str] = []
    for group, line in reader.seq(node, "kubernetesGroups", what):
        if not isinstance(group, str):
            raise reader.error(line, f"{what}.kubernetesGroups holds {group!r}, which is not a string")
        groups.append(group)
    policy_items = reader.seq(node, "policies", what)
    try:
        entry_type = eks_rules.check_entry_type(reader.text(node, "type", what, EntryType.STANDARD.value))
        if entry_type.is_node:
            # What DescribeAccessEntry reports for a node entry (its fixed identity) may be copied in as is.
            fixed_username, fixed_groups = NODE_IDENTITIES[entry_type]
            username = None if username == fixed_username else username
            groups = [] if set(groups) <= fixed_groups else groups
        eks_rules.check_principal_shape(principal, entry_type, account, partition)
        eks_rules.check_identity_fields(entry_type, username, groups)
        if policy_items:
            eks_rules.check_policy_allowed(entry_type)
    except eks_rules.RuleViolation as violation:
        raise reader.error(at, f"{what}: {violation.message}") from None
    policies: list[PolicyAssociation] = []
    for i, (item, line) in enumerate(policy_items):
        label = f"{what}.policies[{i}]"
        policy = reader.mapping(item, line, label, ("policyArn", "accessScope"))
        scope_node = reader.mapping(
            policy.get("accessScope", CommentedMap(type="cluster")),
            line,
            f"{label}.accessScope",
            ("type", "namespaces"),
        )
        namespaces = [str(n) for n, _ in reader.seq(scope_node, "namespaces", f"{label}.accessScope")]
        policy_arn = reader.text(policy, "policyArn", label)
        try:
            eks_rules.check_policy_arn(policy_arn, partition)
            scope = eks_rules.check_scope(reader.text(scope_node, "type", label, ScopeType.CLUSTER.value), namespaces)
        except eks_rules.RuleViolation as violation:
            raise reader.error(line, f"{label}: {violation.message}") from None
        if any(p.policy_arn == policy_arn for p in policies):
            raise reader.error(line, f"{label}: {policy_arn} is associated twice (one association per policy)")
        policies.append(PolicyAssociation(policy_arn, scope))
    return AccessEntrySpec(principal, entry_type, username, tuple(groups), tuple(policies))


def _aws_auth_text(reader: _Reader, node: CommentedMap, what: str, base_dir: Path) -> str | None:
    inline = reader.optional_text(node, "awsAuth", what)
    file_name = reader.optional_text(node, "awsAuthFile", what)
    if inline is not None and file_name is not None:
        raise reader.error(reader.line(node, "awsAuthFile"), f"{what} has both awsAuth and awsAuthFile; keep one")
    if file_name is None:
        return inline
    path = base_dir / file_name
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
        raise reader.error(reader.line(node, "awsAuthFile"), f"awsAuthFile {os.fspath(path)}: {reason}") from None


def _check_rbac(reader: _Reader, text: str, key_line: int | None) -> None:
    # The block's first line is the one below its key (`rbac: |`), so block line n is file line key + n.
    offset = key_line or 0
    try:
        documents = list(YAML(typ="rt").load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise reader.error(offset + 1 + (mark.line if mark else 0), f"rbac is not valid YAML: {exc.problem}") from None

    def at(node: Any, key: str | None = None) -> int | None:
        inner = reader.line(node, key) if key is not None and key in node else reader.line(node)
        return offset + inner if inner is not None else key_line

    for document in documents:
        if document is None:
            continue
        is_list = isinstance(document, CommentedMap) and document.get("kind") == "List"
        items = document.get("items") if is_list else None
        for obj in items if isinstance(items, CommentedSeq) else [document]:
            if not isinstance(obj, CommentedMap) or "kind" not in obj or "apiVersion" not in obj:
                where = at(obj) if isinstance(obj, CommentedMap | CommentedSeq) else key_line
                raise reader.error(where, "rbac holds something that is not a Kubernetes object (apiVersion, kind)")
            if resource_for_kind(str(obj["apiVersion"]), str(obj["kind"])) is None:
                raise reader.error(
                    at(obj, "kind"), f"rbac: the sandbox does not serve {obj['apiVersion']} {obj['kind']}"
                )
            metadata = obj.get("metadata")
            if not isinstance(metadata, CommentedMap) or not metadata.get("name"):
                raise reader.error(at(obj, "metadata"), f"rbac: a {obj['kind']} needs metadata.name")


def _simulation(reader: _Reader, top: CommentedMap) -> SimulationSettings:
    keys = ("latencyMs", "updateSeconds", "rateLimit", "faults")
    node = reader.mapping(top.get("simulation", CommentedMap()), reader.line(top, "simulation"), "simulation", keys)
    tps: float | None = None
    burst: int | None = None
    if node.get("rateLimit") is not None:
        rate = reader.mapping(
            node["rateLimit"], reader.line(node, "rateLimit"), "simulation.rateLimit", ("tps", "burst")
        )
        tps = reader.number(rate, "tps", "simulation.rateLimit", 0.0)
        if tps <= 0:
            raise reader.error(reader.line(rate, "tps") or reader.line(rate), "simulation.rateLimit.tps must be > 0")
        burst = reader.integer(rate, "burst", "simulation.rateLimit", max(1, int(tps)))
        if burst < 1:
            raise reader.error(reader.line(rate, "burst"), "simulation.rateLimit.burst must be at least 1")
    fault_keys = ("seed", "throttle", "serverError", "connectionReset")
    faults = reader.mapping(
        node.get("faults", CommentedMap()), reader.line(node, "faults"), "simulation.faults", fault_keys
    )
    what = "simulation.faults"
    throttle = reader.number(faults, "throttle", what, 0.0, upper=1.0)
    server_error = reader.number(faults, "serverError", what, 0.0, upper=1.0)
    reset = reader.number(faults, "connectionReset", what, 0.0, upper=1.0)
    if throttle + server_error + reset > 1.0:
        raise reader.error(reader.line(node, "faults"), "the fault probabilities add up to more than 1")
    return SimulationSettings(
        latency_ms=reader.integer(node, "latencyMs", "simulation", 0),
        update_seconds=reader.number(node, "updateSeconds", "simulation", 2.0),
        rate_limit_tps=tps,
        rate_limit_burst=burst,
        fault_seed=reader.integer(faults, "seed", what, 0),
        throttle=throttle,
        server_error=server_error,
        connection_reset=reset,
    )


# --- writing ----------------------------------------------------------------------------------------


def _block(text: str) -> LiteralScalarString | str:
    return LiteralScalarString(text) if "\n" in text else text


def _entry_data(entry: AccessEntrySpec) -> dict[str, Any]:
    data: dict[str, Any] = {"principalArn": entry.principal_arn, "type": entry.type.value}
    # A node entry's identity is fixed by its type; snapshots may carry what EKS reports for it.
    if entry.username is not None and not entry.type.is_node:
        data["username"] = entry.username
    if entry.groups and not entry.type.is_node:
        data["kubernetesGroups"] = list(entry.groups)
    if entry.policies:
        data["policies"] = [
            {
                "policyArn": p.policy_arn,
                "accessScope": {"type": p.scope.type.value}
                | ({"namespaces": list(p.scope.namespaces)} if p.scope.namespaces else {}),
            }
            for p in entry.policies
        ]
    return data


def _cluster_data(cluster: ScenarioCluster) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": cluster.name,
        "region": cluster.region,
        "account": cluster.account,
        "version": cluster.version,
        "platformVersion": cluster.platform_version,
        "authenticationMode": cluster.mode.value,
        "bootstrapClusterCreatorAdminPermissions": cluster.bootstrap_admin,
    }
    # Unknown versions (an export that could not read them) are left to the loader's defaults.
    data = {key: value for key, value in data.items() if value != ""}
    if cluster.creator:
        data["creator"] = cluster.creator
    if cluster.nodegroups:
        data["nodegroups"] = [
            {"name": n.name, "nodeRole": n.node_role, "amiType": n.ami_type} for n in cluster.nodegroups
        ]
    if cluster.fargate_profiles:
        data["fargateProfiles"] = [
            {"name": f.name, "podExecutionRole": f.pod_execution_role} for f in cluster.fargate_profiles
        ]
    if cluster.access_entries:
        data["accessEntries"] = [_entry_data(e) for e in cluster.access_entries]
    if cluster.aws_auth_text is not None:
        data["awsAuth"] = _block(cluster.aws_auth_text)
    if cluster.rbac_text is not None:
        data["rbac"] = _block(cluster.rbac_text)
    return data


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as YAML that `parse_scenario` reads back to an equal Scenario (aws-auth inlined)."""
    sim = scenario.simulation
    simulation: dict[str, Any] = {"latencyMs": sim.latency_ms, "updateSeconds": sim.update_seconds}
    if sim.rate_limit_tps is not None:
        simulation["rateLimit"] = {"tps": sim.rate_limit_tps, "burst": sim.rate_limit_burst}
    simulation["faults"] = {
        "seed": sim.fault_seed,
        "throttle": sim.throttle,
        "serverError": sim.server_error,
        "connectionReset": sim.connection_reset,
    }
    document = {
        "schema": SCENARIO_SCHEMA,
        "clusters": [_cluster_data(c) for c in scenario.clusters],
        "iam": {"roles": [{"arn": a} for a in scenario.roles], "users": [{"arn": a} for a in scenario.users]},
        "caller": scenario.caller,
        "simulation": simulation,
    }
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()
