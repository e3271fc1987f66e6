"""The authenticator's control-plane log of a sandbox cluster: one line per authentication, in the format of
aws-iam-authenticator (`rules.signins`), in moto's CloudWatch Logs, where EKS would put it.

EKS sends a cluster's control-plane logs, per type that is turned on, to the log group
`/aws/eks/<cluster>/cluster` in the cluster's account and region, creating the group if needed; the
authenticator's streams are named `authenticator-<hex>`. Whether the type is on is what DescribeCluster says
(moto's cluster `logging`, from the scenario's `logging:` or an UpdateClusterConfig), read at each sign-in, as
EKS does: off (the default), nothing is written.

Not simulated: delivery delay (EKS takes minutes, "best effort"; here a line is there before the response),
the token cache of the API server (EKS authenticates a token again only after a while; here every request
is logged), and the "STS response" line before each grant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from moto.eks.models import eks_backends
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends

from migrator.rules.arn import Arn, PrincipalKind, parse_arn
from migrator.rules.identity import AUTHENTICATED_GROUP, Caller, Identity
from migrator.rules.signins import DENIED, GRANTED, NOT_MAPPED, format_line, go_list
from migrator.sandbox.kube.auth import ec2_private_dns_name, identify
from migrator.sandbox.scenario.model import SeededSignIn
from migrator.sandbox.state import SimCluster

AUTHENTICATE_PATH = "/authenticate"  # the authenticator's webhook endpoint, which the API server POSTs to
SEED_CLIENT = "127.0.0.1:21362"  # the API server calls the authenticator over localhost


def log_group_name(cluster: SimCluster) -> str:
    return f"/aws/eks/{cluster.name}/cluster"


def stream_name(cluster: SimCluster) -> str:
    digest = hashlib.sha256(f"{cluster.account}/{cluster.region}/{cluster.name}".encode()).hexdigest()
    return f"authenticator-{digest[:32]}"


def logging_enabled(cluster: SimCluster) -> bool:
    """DescribeCluster's answer: is the authenticator log type enabled?"""
    model = eks_backends[cluster.account][cluster.region].clusters.get(cluster.name)
    logging: dict[str, Any] = getattr(model, "logging", None) or {}
    return any(
        group.get("enabled") and "authenticator" in (group.get("types") or [])
        for group in logging.get("clusterLogging") or []
    )


def logging_config(types: Sequence[str]) -> dict[str, Any]:
    """DescribeCluster's `logging` for these enabled types (the rest disabled), as EKS groups them."""
    all_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    groups = [{"types": [t for t in all_types if t in types], "enabled": True}] if types else []
    disabled = [t for t in all_types if t not in types]
    if disabled:
        groups.append({"types": disabled, "enabled": False})
    return {"clusterLogging": groups}


def _write(cluster: SimCluster, lines: Sequence[tuple[datetime, str]]) -> None:
    backend = logs_backends[cluster.account][cluster.region]
    group_name, stream = log_group_name(cluster), stream_name(cluster)
    if group_name not in backend.groups:
        backend.create_log_group(group_name, {})
    group = backend.groups[group_name]
    if stream not in group.streams:
        group.create_log_stream(stream)
    # The group's own put_log_events: the backend's refuses events older than 14 days, and seeded
    # sign-ins are meant to be as old as the scenario says (EKS delivered them when they happened).
    group.put_log_events(stream, [{"timestamp": int(at.timestamp() * 1000), "message": text} for at, text in lines])


def _line(at: datetime, client: str, caller: Caller, identity: Identity | None) -> str:
    fields = {"arn": str(caller.canonical_arn), "client": client, "method": "POST", "path": AUTHENTICATE_PATH}
    if identity is None:
        return format_line(at, "warning", DENIED, fields | {"error": NOT_MAPPED})
    groups = [g for g in identity.groups if g != AUTHENTICATED_GROUP]  # the API server adds it, not the log
    granted = {"username": identity.username, "uid": identity.uid, "groups": go_list(groups)}
    return format_line(at, "info", GRANTED, fields | granted)


def record(cluster: SimCluster, client: str, caller: Caller, identity: Identity | None) -> None:
    """Log one authentication of `caller` (granted with `identity`, or denied when it is None)."""
    if logging_enabled(cluster):
        now = datetime.now(UTC)
        _write(cluster, [(now, _line(now, client, caller, identity))])


def record_refused(cluster: SimCluster, client: str, reason: str) -> None:
    """Log a token that authenticates nobody: no ARN is known, only why."""
    if logging_enabled(cluster):
        now = datetime.now(UTC)
        fields = {"client": client, "method": "POST", "path": AUTHENTICATE_PATH, "error": reason}
        _write(cluster, [(now, format_line(now, "warning", DENIED, fields))])


def _iam_id(arn: Arn) -> str | None:
    """The principal's unique id in moto's IAM (what EKS keys its entry on), when it exists."""
    iam = iam_backends[arn.account][arn.partition]
    found = iam.roles.values() if arn.kind is PrincipalKind.ROLE else iam.users.values()
    for principal in found:
        if str(principal.name).lower() == arn.name.lower():
            return str(principal.id)
    return None


def seeded_caller(sign_in: SeededSignIn, cluster: SimCluster) -> Caller:
    """The STS identity a seeded sign-in stands for: an assumed-role session of a role, or the user."""
    arn = parse_arn(sign_in.arn)
    unique = hashlib.sha256(sign_in.arn.lower().encode()).hexdigest()[:17].upper()
    if arn.kind is PrincipalKind.USER:
        return Caller(arn=arn, user_id=_iam_id(arn) or f"AIDA{unique}", access_key_id=f"AKIA{unique[:16]}")
    session = parse_arn(f"arn:{arn.partition}:sts::{arn.account}:assumed-role/{arn.name}/{sign_in.session}")
    return Caller(
        arn=session,
        user_id=f"{_iam_id(arn) or 'AROA' + unique}:{sign_in.session}",
        access_key_id=f"ASIA{unique[:16]}",
        ec2_private_dns_name=ec2_private_dns_name(sign_in.session, cluster.region),
    )


def seed(cluster: SimCluster, log_types: Sequence[str], sign_ins: Sequence[SeededSignIn]) -> None:
    """Turn the scenario's log types on (in moto's cluster) and write its past sign-ins, each with the
    identity the cluster gives the principal as seeded (mode, entries and aws-auth at start)."""
    model = eks_backends[cluster.account][cluster.region].clusters[cluster.name]
    model.logging = logging_config(log_types)
    if not logging_enabled(cluster):
        return
    lines = []
    for sign_in in sign_ins:
        caller = seeded_caller(sign_in, cluster)
        line = _line(sign_in.at, SEED_CLIENT, caller, identify(cluster, caller))
        lines.extend([(sign_in.at, line)] * sign_in.count)
    _write(cluster, lines)
