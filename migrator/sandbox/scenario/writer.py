"""Writing a scenario file: `dump_scenario` turns a `Scenario` (a hand-made one, or an export of real
clusters) into YAML that `parse_scenario` reads back to an equal Scenario.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from migrator.model import AccessEntrySpec
from migrator.sandbox.scenario.model import SCENARIO_SCHEMA, Scenario, ScenarioCluster


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
    if cluster.log_types:
        data["logging"] = {kind: True for kind in cluster.log_types}
    if cluster.sign_ins:
        data["signIns"] = [
            {"arn": s.arn, "at": s.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "count": s.count, "session": s.session}
            for s in cluster.sign_ins
        ]
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
