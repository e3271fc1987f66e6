"""Sandbox scenario files (`schema: aws-auth-migrate/scenario/v1`): load, validate, dump.

A scenario is the whole simulated world: IAM principals (with paths, in any account), clusters (mode,
versions, node groups, Fargate profiles, existing access entries, aws-auth, RBAC) and who the tool runs as.
Every problem is a `SourceError` naming the file and line. The rules EKS enforces on access entries are
applied to the entries a scenario says exist (`eks_rules`), since EKS would never have stored others.

Scenario entries, node groups and Fargate profiles are taken as they are written: loading a cluster in
API_AND_CONFIG_MAP mode does not invent the entries EKS would have made when it switched.

This module is the public API and the file's top level (schema, iam, caller, simulation). The rest:
- `scenario_model`: the `Scenario` and `ScenarioCluster` values and the format's defaults;
- `migrator.awsauth.yamlsource`: typed access to the YAML tree, with the file and line in every error
  (shared with the fleet inventory);
- `scenario_clusters`: one item of `clusters[]`, with its access entries, aws-auth and RBAC;
- `scenario_writer`: `dump_scenario`, the YAML `parse_scenario` reads back.
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from migrator.awsauth.yamlsource import YamlReader
from migrator.errors import SourceError
from migrator.rules.arn import ArnError, PrincipalKind, parse_arn
from migrator.sandbox.scenario.clusters import read_cluster
from migrator.sandbox.scenario.model import (
    DEFAULT_AMI_TYPE,
    DEFAULT_VERSION,
    SCENARIO_SCHEMA,
    Scenario,
    ScenarioCluster,
)
from migrator.sandbox.scenario.writer import dump_scenario
from migrator.sandbox.state import SimulationSettings

__all__ = [
    "DEFAULT_AMI_TYPE",
    "DEFAULT_VERSION",
    "SCENARIO_SCHEMA",
    "Scenario",
    "ScenarioCluster",
    "dump_scenario",
    "load_scenario",
    "parse_scenario",
]


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
    reader = YamlReader(file)
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
        cluster = read_cluster(reader, node, line, index, known, Path(base_dir))
        if (cluster.account, cluster.region, cluster.name) in seen:
            raise reader.error(line, f"cluster {cluster.name} appears twice in {cluster.account}/{cluster.region}")
        seen.add((cluster.account, cluster.region, cluster.name))
        clusters.append(cluster)
    return Scenario(tuple(clusters), tuple(roles), tuple(users), caller, _simulation(reader, top), file)


def _iam(reader: YamlReader, top: CommentedMap) -> tuple[list[str], list[str]]:
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


def _simulation(reader: YamlReader, top: CommentedMap) -> SimulationSettings:
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
