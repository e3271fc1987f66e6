"""Sandbox scenario YAML assembled in tests: indentation of embedded documents and the common skeleton."""

from __future__ import annotations

from collections.abc import Sequence

SCHEMA = "schema: aws-auth-migrate/scenario/v1\n"


def indent(text: str, spaces: int) -> str:
    """`text` with every non-blank line indented, to embed a document in a YAML block scalar."""
    return "".join(" " * spaces + line if line.strip() else line for line in text.splitlines(keepends=True))


def aws_auth_config_map(map_roles: str = "", map_users: str = "") -> str:
    """An aws-auth ConfigMap manifest whose mapRoles/mapUsers are the given YAML lists (verbatim)."""
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n"
    if map_roles:
        text += "  mapRoles: |\n" + indent(map_roles, 4)
    if map_users:
        text += "  mapUsers: |\n" + indent(map_users, 4)
    return text


def scenario_yaml(
    clusters: str, *, roles: Sequence[str] = (), users: Sequence[str] = (), caller: str, simulation: str = ""
) -> str:
    """A whole scenario: `clusters` is the YAML list under `clusters:` (indented two spaces), `simulation`
    the lines under `simulation:` (without their indentation)."""
    text = SCHEMA + "clusters:\n" + clusters
    if roles or users:
        text += "iam:\n"
        if roles:
            text += "  roles:\n" + "".join(f"    - arn: {arn}\n" for arn in roles)
        if users:
            text += "  users:\n" + "".join(f"    - arn: {arn}\n" for arn in users)
    text += f"caller: {caller}\n"
    if simulation:
        text += "simulation:\n" + indent(simulation.rstrip("\n") + "\n", 2)
    return text
