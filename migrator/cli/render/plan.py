"""Human and machine renderings of a plan. Pure functions of the plan; the CLI picks the console."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from migrator.cli.render import clean
from migrator.model import EntryAction, Plan, PlannedEntry, RemoveAwsAuth, SetMode, Severity
from migrator.plan.planfile import plan_to_dict
from migrator.rules.findings import RULES
from migrator.rules.usage import iso

SEVERITY_STYLE = {Severity.BLOCKER: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
ACTION_TITLES = {
    EntryAction.ADOPT: "Kept as they are (already there, or created by EKS at the mode switch)",
    EntryAction.REPAIR_NODE_TYPE: "Repaired right after the mode switch",
    EntryAction.CREATE: "Created, each with its policies right after it",
    EntryAction.SKIP: "Not migrated (dead today or blocked: see findings)",
}


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False)


def summary_line(plan: Plan) -> str:
    actions = Counter(e.action for e in plan.entries)
    severities = Counter(f.severity for f in plan.findings)
    action_text = ", ".join(f"{actions.get(a, 0)} {a.value}" for a in EntryAction)
    severity_text = ", ".join(f"{severities.get(s, 0)} {s.value}" for s in Severity)
    return f"entries: {action_text}; findings: {severity_text}"


def short_principal(principal_arn: str, account: str) -> str:
    """`role/path/Name` for the cluster's own account, the whole ARN for any other."""
    prefix = f":{account}:"
    if prefix in principal_arn and principal_arn.startswith("arn:"):
        return principal_arn.split(prefix, 1)[1]
    return principal_arn


def _entry_row(entry: PlannedEntry, account: str) -> tuple[Text, ...]:
    spec = entry.spec
    entry_type = "-" if entry.action is EntryAction.SKIP else spec.type.value
    if spec.type.is_node:
        username, groups = "(node identity)", "-"
    else:
        username = spec.username if spec.username is not None else "(EKS default)"
        groups = ", ".join(spec.groups) or "-"
    policies = ", ".join(p.policy_name for p in spec.policies) or "-"
    line = f"{entry.source.section.value}:{entry.source.line}" if entry.source and entry.source.line else "-"
    row = (short_principal(spec.principal_arn, account), entry_type, username, groups, policies, line)
    return tuple(Text(clean(cell)) for cell in row)  # Text: data is never read as rich markup


def _entries_tables(plan: Plan) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for action in (EntryAction.ADOPT, EntryAction.REPAIR_NODE_TYPE, EntryAction.CREATE, EntryAction.SKIP):
        group = [e for e in plan.entries if e.action is action]
        if not group:
            continue
        table = Table(title=f"{ACTION_TITLES[action]} ({len(group)})", title_justify="left", expand=False)
        table.add_column(f"principal (account {plan.cluster.account} unless shown)", overflow="fold", ratio=3)
        for column in ("type", "username", "groups", "policies", "source"):
            table.add_column(column, overflow="fold")
        for entry in group:
            table.add_row(*_entry_row(entry, plan.cluster.account))
        parts.append(table)
    return parts


def _findings_block(plan: Plan) -> list[RenderableType]:
    """Findings grouped by code, most severe first: the rule and what to do once, then each occurrence."""
    if not plan.findings:
        return [Text("No findings.")]
    parts: list[RenderableType] = [Text("Findings", style="bold")]
    codes = sorted({f.code for f in plan.findings}, key=lambda c: (list(Severity).index(RULES[c].severity), c))
    for code in codes:
        occurrences = [f for f in plan.findings if f.code == code]
        severity = occurrences[0].severity
        heading = Text()
        heading.append(f"  {severity.value.upper():8}", style=SEVERITY_STYLE[severity])
        heading.append(f"{code}", style="bold")
        heading.append(f" ({len(occurrences)}): {RULES[code].meaning}")
        parts.append(heading)
        parts.append(Text(f"           what to do: {RULES[code].action}", style="dim"))
        for found in occurrences:
            where = (
                f"{found.source.section.value}[{found.source.index}] line {found.source.line}: " if found.source else ""
            )
            parts.append(Text(clean(f"           - {where}{found.message}")))
    return parts


def _usage_block(plan: Plan) -> list[RenderableType]:
    """Who signed in during the --usage-since window, per principal, from the authenticator log."""
    usage = plan.usage
    if usage is None:
        return []
    window = f"{iso(usage.since)} to {iso(usage.until)}"
    if not usage.available:
        return [Text(clean(f"Usage evidence ({window}): unavailable, {usage.reason}"), style="yellow")]
    heading = f"Usage evidence ({window}): {len(usage.principals)} principals in {usage.lines} log lines"
    if usage.malformed:
        heading += f", {usage.malformed} unreadable"
    if usage.refused:
        heading += f", {usage.refused} refused tokens"
    table = Table(title=heading, title_justify="left", expand=False)
    table.add_column(f"principal (account {plan.cluster.account} unless shown)", overflow="fold", ratio=3)
    for column in ("sign-ins", "denied", "first seen", "last seen", "usernames", "groups"):
        table.add_column(column, overflow="fold")
    for principal in usage.principals:
        row = (
            short_principal(principal.arn, plan.cluster.account),
            str(principal.count),
            str(principal.denied),
            iso(principal.first_seen),
            iso(principal.last_seen),
            ", ".join(principal.usernames) or "-",
            ", ".join(principal.groups) or "-",
        )
        table.add_row(*(Text(clean(cell)) for cell in row))
    return [table]


def _conversions_block(plan: Plan) -> list[RenderableType]:
    """Per converted principal (--prefer-access-policies): which group became which policy, and the rules
    gained and lost by it (none, for an exact conversion)."""
    converted = [e for e in plan.entries if e.conversions]
    if not converted:
        return []
    parts: list[RenderableType] = [Text("Groups replaced by access policies", style="bold")]
    for entry in converted:
        parts.append(Text(clean(f"  {short_principal(entry.spec.principal_arn, plan.cluster.account)}")))
        for c in entry.conversions:
            scope = c.policy.scope
            where = "cluster" if not scope.namespaces else f"namespaces {', '.join(scope.namespaces)}"
            parts.append(
                Text(clean(f"    group {c.group} (ClusterRole {c.cluster_role}) -> {c.policy.policy_name}, {where}"))
            )
            for label, rules in (("gained", c.gained), ("lost", c.lost)):
                shown = "; ".join(r.describe() for r in rules) or "none"
                parts.append(Text(clean(f"      rules {label}: {shown}"), style="yellow" if rules else ""))
    return parts


def _steps_block(plan: Plan) -> list[RenderableType]:
    parts: list[RenderableType] = [Text("Steps", style="bold")]
    if not plan.steps:
        parts.append(Text("  none: nothing to migrate"))
    for step in plan.steps:
        line = Text(f"  {step.id}  ")
        line.append(clean(step.describe()))
        parts.append(line)
        if isinstance(step, SetMode):
            gate = Text("        GATE, irreversible: ", style="bold magenta")
            gate.append(clean(step.consequence()))
            parts.append(gate)
            if blockers := plan.gate_blockers(step):
                reasons = sorted({f.code for f in blockers})
                parts.append(Text(f"        BLOCKED by {', '.join(reasons)}", style="bold red"))
        elif isinstance(step, RemoveAwsAuth) and (blockers := plan.gate_blockers(step)):
            codes = ", ".join(sorted({f.code for f in blockers}))
            parts.append(
                Text(
                    f"        BLOCKED by {codes}: refused until --accept-managed-aws-auth (plan or apply)",
                    style="bold red",
                )
            )
    return parts


def _where(plan: Plan) -> str:
    if plan.cluster.region is None:
        return f"region unknown, partition {plan.cluster.partition} inferred from aws-auth"
    return plan.cluster.region


def plan_renderable(plan: Plan) -> RenderableType:
    data: dict[str, Any] = plan_to_dict(plan)
    header = Text()
    header.append(f"Plan {data['planId']}", style="bold")
    header.append(
        clean(
            f" for cluster {plan.cluster.name} ({_where(plan)}, account {plan.cluster.account}): "
            f"{plan.current_mode.value} -> {plan.target.value}"
        )
    )
    parts: list[RenderableType] = [header]
    if plan.offline:
        parts.append(
            Text(
                "Offline plan, for review only: IAM paths and existing entries were not checked; "
                "apply needs a plan made against the cluster.",
                style="yellow",
            )
        )
    parts.append(Text(summary_line(plan)))
    parts.extend(_entries_tables(plan))
    parts.extend(_usage_block(plan))
    parts.extend(_conversions_block(plan))
    parts.extend(_findings_block(plan))
    parts.extend(_steps_block(plan))
    return Group(*parts)


def print_plan(plan: Plan, console: Console) -> None:
    console.print(plan_renderable(plan))
