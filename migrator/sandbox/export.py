"""`sandbox export`: a real cluster's authentication state as a scenario to rehearse on. Read-only.

What EKS does not expose cannot be exported: the cluster creator (so `creator` is left out) and IAM
unique ids. Secrets never leave: only aws-auth, entries, node groups, Fargate profiles, RBAC and ARNs.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from ruamel.yaml import YAML

from migrator.errors import InputError
from migrator.model import AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, LookupStatus
from migrator.plan.snapshot import live_snapshot
from migrator.rules.arn import ArnError, PrincipalKind, canonical_caller_arn, parse_arn
from migrator.sandbox.scenario import Scenario, ScenarioCluster
from migrator.wiring.connect import Connection

NOISY_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


def _yaml_text(documents: list[dict[str, Any]]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump_all(documents, out)
    return out.getvalue()


def export_scenario(connection: Connection, *, reader_roles: Iterable[str] = ()) -> Scenario:
    """`reader_roles` (the --iam-role roles) are kept so the rehearsal can be planned with the same flags."""
    snapshot = live_snapshot(
        connection.eks, connection.kube, connection.iam, aws_auth_label=f"{connection.info.name}:aws-auth"
    )
    config_map = connection.kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
    aws_auth_text = None
    if config_map is not None:
        raw = dict(config_map.raw)
        raw["metadata"] = {k: v for k, v in raw.get("metadata", {}).items() if k not in NOISY_METADATA}
        aws_auth_text = _yaml_text([raw])
    list_rbac = getattr(connection.kube, "list_rbac_objects", None)
    rbac_objects: list[dict[str, Any]] = list_rbac() if callable(list_rbac) else []

    roles: set[str] = set()
    users: set[str] = set()

    def add(arn_text: str) -> None:
        try:
            arn = parse_arn(arn_text)
        except ArnError:
            return
        if arn.kind is PrincipalKind.ROLE:
            roles.add(str(arn))
        elif arn.kind is PrincipalKind.USER:
            users.add(str(arn))

    for lookup in snapshot.iam.values():
        if lookup.status is LookupStatus.FOUND and lookup.arn:
            add(lookup.arn)
    for entry in snapshot.entries:
        add(entry.principal_arn)
    for nodegroup in snapshot.nodegroups:
        add(nodegroup.node_role)
    for profile in snapshot.fargate_profiles:
        add(profile.pod_execution_role)
    caller_lookup = connection.iam.lookup(canonical_caller_arn(parse_arn(connection.eks.caller_arn())))
    if caller_lookup.arn is None:
        raise InputError(f"cannot find the caller {snapshot.caller_arn} in IAM to name it in the scenario")
    add(caller_lookup.arn)
    for role in reader_roles:
        add(role)
    info = connection.info
    cluster = ScenarioCluster(
        name=info.name,
        region=info.region,
        account=info.account,
        version=info.kubernetes_version or "",
        platform_version=info.platform_version or "",
        mode=info.mode,
        bootstrap_admin=bool(info.bootstrap_admin) if info.bootstrap_admin is not None else True,
        nodegroups=snapshot.nodegroups,
        fargate_profiles=snapshot.fargate_profiles,
        access_entries=snapshot.entries,
        aws_auth_text=aws_auth_text,
        rbac_text=_yaml_text(rbac_objects) if rbac_objects else None,
    )
    return Scenario(
        clusters=(cluster,), roles=tuple(sorted(roles)), users=tuple(sorted(users)), caller=caller_lookup.arn
    )
