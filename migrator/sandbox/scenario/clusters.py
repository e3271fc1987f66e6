"""Reading one cluster of a scenario file (`clusters[]`): its identity, versions and mode, node groups and
Fargate profiles, the access entries it already has, its aws-auth ConfigMap and RBAC objects.

The rules EKS enforces on access entries are applied to the entries a scenario says exist (`eks_rules`),
since EKS would never have stored others; principals must be among the scenario's IAM roles and users.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from migrator.awsauth import parse_aws_auth
from migrator.awsauth.yamlsource import YamlReader
from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    EntryType,
    FargateProfile,
    NodeGroup,
    PolicyAssociation,
    ScopeType,
)
from migrator.rules.arn import ArnError, PrincipalKind, parse_arn, partition_of_region
from migrator.rules.identity import NODE_IDENTITIES
from migrator.rules.limits import MAX_ENTRIES_PER_CLUSTER
from migrator.sandbox.eks import rules as eks_rules
from migrator.sandbox.kube.store import resource_for_kind
from migrator.sandbox.scenario.model import (
    DEFAULT_AMI_TYPE,
    DEFAULT_VERSION,
    SEED_SESSION_NAME,
    ScenarioCluster,
    SeededSignIn,
)

_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", re.ASCII)
_ACCOUNT_RE = re.compile(r"\d{12}", re.ASCII)
_VERSION_RE = re.compile(r"\d+\.\d+", re.ASCII)
_PLATFORM_RE = re.compile(r"eks\.\d+", re.ASCII)
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_SESSION_RE = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)  # STS RoleSessionName

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
    "logging",
    "signIns",
)
# EKS control-plane log types (DescribeCluster `logging.clusterLogging[].types`).
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
MAX_SEEDED_PER_ITEM = 10_000


def read_cluster(
    reader: YamlReader,
    raw: Any,
    line: int | None,
    index: int,
    known: dict[tuple[str, str, str, str], str],
    base_dir: Path,
) -> ScenarioCluster:
    """`clusters[index]`, checked; `known` maps principal keys to the IAM ARNs under `iam` (paths included)."""
    what = f"clusters[{index}]"
    node = reader.mapping(raw, line, what, _CLUSTER_KEYS)
    name = reader.text(node, "name", what)
    if not eks_rules.valid_cluster_name(name):
        raise reader.error(reader.line(node, "name"), f"{name!r} is not a valid EKS cluster name")
    region = reader.text(node, "region", what)
    if not _REGION_RE.fullmatch(region):
        raise reader.error(reader.line(node, "region"), f"{region!r} is not an AWS region name")
    account = reader.text(node, "account", what)
    if not _ACCOUNT_RE.fullmatch(account):
        raise reader.error(reader.line(node, "account"), f"account {account!r} is not a 12-digit AWS account id")
    partition = partition_of_region(region)
    version = reader.text(node, "version", what, DEFAULT_VERSION)
    if not _VERSION_RE.fullmatch(version):
        raise reader.error(reader.line(node, "version"), f"version {version!r} is not a Kubernetes version like 1.30")
    platform = reader.text(node, "platformVersion", what, eks_rules.default_platform_version(version))
    if not _PLATFORM_RE.fullmatch(platform):
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
        entry = _access_entry(reader, item, at, f"{what}.accessEntries[{i}]", account, partition)
        principal(entry.principal_arn, at, role_only=False, same_account=False)
        key = parse_arn(entry.principal_arn).principal_key
        if key in keys:
            raise reader.error(at, f"{entry.principal_arn} has two access entries")
        keys.add(key)
        entries.append(entry)
    if len(entries) > MAX_ENTRIES_PER_CLUSTER:
        raise reader.error(line, f"{what} has more than {MAX_ENTRIES_PER_CLUSTER} access entries")

    aws_auth_text = _aws_auth_text(reader, node, what, base_dir)
    aws_auth = None
    if aws_auth_text is not None:
        aws_auth = parse_aws_auth(aws_auth_text, file=f"{reader.file}:{what}.awsAuth")
    rbac = reader.optional_text(node, "rbac", what)
    if rbac is not None:
        _check_rbac(reader, rbac, reader.line(node, "rbac"))
    log_types = _log_types(reader, node, what)
    sign_ins = _sign_ins(reader, node, what, partition)
    if sign_ins and "authenticator" not in log_types:
        raise reader.error(
            reader.line(node, "signIns"),
            f"{what} seeds signIns but does not send the authenticator log anywhere",
            hint="add logging: {authenticator: true}",
        )
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
        log_types=log_types,
        sign_ins=sign_ins,
    )


def _log_types(reader: YamlReader, node: CommentedMap, what: str) -> tuple[str, ...]:
    """`logging: {authenticator: true, ...}`: the control-plane log types turned on (EKS's default: none)."""
    raw = node.get("logging")
    if raw is None:
        return ()
    label = f"{what}.logging"
    logging = reader.mapping(raw, reader.line(node, "logging"), label, LOG_TYPES)
    return tuple(kind for kind in LOG_TYPES if reader.flag(logging, kind, label, False))


def _moment(reader: YamlReader, node: CommentedMap, label: str) -> datetime:
    value = node.get("at")
    at = reader.line(node, "at") or reader.line(node)
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if _DAY_RE.fullmatch(value) else datetime.fromisoformat(value)
        except ValueError:
            raise reader.error(at, f"{label}.at {value!r} is not a time like 2026-10-01T12:00:00Z") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise reader.error(at, f"{label}.at has no time zone", hint="end it with Z for UTC")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise reader.error(at, f"{label} needs 'at', a time like 2026-10-01T12:00:00Z")


def _sign_ins(reader: YamlReader, node: CommentedMap, what: str, partition: str) -> tuple[SeededSignIn, ...]:
    """`signIns[]`: past sign-ins {arn, at, count, session} the cluster's authenticator log starts with."""
    seeded = []
    for i, (item, line) in enumerate(reader.seq(node, "signIns", what)):
        label = f"{what}.signIns[{i}]"
        entry = reader.mapping(item, line, label, ("arn", "at", "count", "session"))
        text = reader.text(entry, "arn", label)
        try:
            arn = parse_arn(text)
        except ArnError as exc:
            raise reader.error(reader.line(entry, "arn"), str(exc)) from None
        if arn.kind not in (PrincipalKind.ROLE, PrincipalKind.USER) or arn.partition != partition:
            raise reader.error(
                reader.line(entry, "arn"), f"{label}.arn must be an IAM role or user ARN in partition {partition}"
            )
        count = reader.integer(entry, "count", label, 1)
        if not 1 <= count <= MAX_SEEDED_PER_ITEM:
            raise reader.error(reader.line(entry, "count"), f"{label}.count must be 1 to {MAX_SEEDED_PER_ITEM}")
        session = reader.text(entry, "session", label, SEED_SESSION_NAME)
        if not _SESSION_RE.fullmatch(session):
            raise reader.error(reader.line(entry, "session"), f"{label}.session {session!r} is not an STS session name")
        seeded.append(SeededSignIn(text, _moment(reader, entry, label), count, session))
    return tuple(sorted(seeded, key=lambda s: s.at))


def _access_entry(
    reader: YamlReader, raw: Any, at: int | None, what: str, account: str, partition: str
) -> AccessEntrySpec:
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


def _aws_auth_text(reader: YamlReader, node: CommentedMap, what: str, base_dir: Path) -> str | None:
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


def _check_rbac(reader: YamlReader, text: str, key_line: int | None) -> None:
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
