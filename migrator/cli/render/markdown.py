"""GitHub-flavoured Markdown of a plan (`show PLAN --output markdown`) and of a batch plan (`batch plan
--summary markdown`), for pull-request comments and CI job summaries. Pure functions of plans and reports.

Everything that comes from a cluster or a file (ARNs, usernames, groups, namespaces, finding messages, errors,
paths) is attacker-influenced text. It is shown only in code spans, where GitHub reads no Markdown, no HTML, no
autolink, no @mention and no emoji, after `clean` has written every control character as an escape (so no
newline can end a table row or a block), with a fence longer than any run of backticks in it, and with `|`
escaped inside table cells. The `<summary>` lines are HTML and HTML-escaped. Our own words go through `_text`,
which backslash-escapes what could mean something to Markdown mid-line.

Size: GitHub refuses a comment longer than 65,536 characters. The whole output stays under BUDGET, counted in
UTF-8 bytes (never fewer than characters, however they are counted). Each cluster gets a fair share of it; a
cluster over its share shows fewer entry rows and finding occurrences, and says how many it left out and that
its plan file has them. A fleet too large for even that loses its last clusters' details (the overview table
still names them), and says so.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from migrator.cli.render import clean
from migrator.cli.render.plan import short_principal
from migrator.fleet.report import BatchReport, ClusterResult
from migrator.model import (
    EntryAction,
    Finding,
    Plan,
    PlannedEntry,
    PolicyAssociation,
    RemoveAwsAuth,
    ScopeType,
    SetMode,
    Severity,
)
from migrator.plan.planfile import plan_name
from migrator.rules.findings import RULES
from migrator.rules.usage import iso

COMMENT_LIMIT = 65_536  # GitHub's limit on the body of an issue or pull-request comment, in characters
BUDGET = 60_000  # what the output fills: room under the limit for a heading or marker a CI step adds
# The order entries are listed in: what changes access first, what is kept as it is last.
ENTRY_ORDER = (EntryAction.CREATE, EntryAction.REPAIR_NODE_TYPE, EntryAction.SKIP, EntryAction.ADOPT)
ENTRY_COLUMNS = ("principal", "type", "username", "groups", "policies", "action")
# Occurrences shown per finding code when a cluster is over its budget, tried in turn, each with as many entry
# rows as then fit.
OCCURRENCE_STEPS = (10, 3, 1, 0)
# What can start Markdown, HTML, an entity, a table cell or math inside a line (CommonMark lets any ASCII
# punctuation be escaped; these are the ones that can mean something where `_text` puts words).
_SIGNIFICANT = frozenset("\\`*_[]<>&|~!$")
_BACKTICKS = re.compile(r"`+")


def size(text: str) -> int:
    """What `text` counts against GitHub's limit, at most: its UTF-8 bytes."""
    return len(text.encode("utf-8"))


# --- escaping ----------------------------------------------------------------------------------------------


def _text(words: str) -> str:
    """Our own words as Markdown text, mid-line: what could mean something to Markdown backslash-escaped."""
    return "".join(f"\\{char}" if char in _SIGNIFICANT else char for char in clean(words))


def code(data: object, *, cell: bool = False) -> str:
    """`data` as a code span: nothing in it is read as Markdown or HTML. In a table cell `|` is escaped (GFM
    splits cells before it reads code spans, and unescapes `\\|` inside them)."""
    shown = clean(data)
    if not shown:
        return "*(empty)*"
    if cell:
        shown = shown.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(shown)), default=0) + 1)
    if shown[0] in "` " or shown[-1] in "` ":  # a space each side: the reader strips them, and keeps the data's
        return f"{fence} {shown} {fence}"
    return f"{fence}{shown}{fence}"


def _html(data: object) -> str:
    return html.escape(clean(data), quote=True)


# --- one cluster ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeftOut:
    """What a rendering did not show to stay within its budget."""

    entries: int = 0
    occurrences: int = 0
    clusters: int = 0  # clusters whose details (or overview row) were not shown at all

    def __add__(self, other: LeftOut) -> LeftOut:
        return LeftOut(
            self.entries + other.entries, self.occurrences + other.occurrences, self.clusters + other.clusters
        )

    @property
    def anything(self) -> bool:
        return bool(self.entries or self.occurrences or self.clusters)


@dataclass(frozen=True)
class _Rendered:
    text: str
    left_out: LeftOut = LeftOut()


@dataclass(frozen=True)
class _FindingGroup:
    heading: str
    occurrences: tuple[str, ...]


@dataclass(frozen=True)
class _Section:
    """One cluster's `<details>` block, in parts: the entry rows and finding occurrences are what a budget cuts."""

    summary: str  # HTML
    opened: bool
    head: tuple[str, ...]  # Markdown blocks before the findings
    findings: tuple[_FindingGroup, ...]
    entries_heading: str
    rows: tuple[str, ...]
    row_actions: tuple[EntryAction, ...]
    tail: tuple[str, ...]  # Markdown blocks after the entries
    plan_ref: str | None

    def render(self, rows: int | None = None, occurrences: int | None = None) -> _Rendered:
        shown_rows = self.rows if rows is None else self.rows[:rows]
        blocks = list(self.head)
        occurrences_left = 0
        if not self.entries_heading:  # no plan: nothing but what head and tail say
            return self._wrap([*blocks, *self.tail], LeftOut())
        if self.findings:
            lines = ["**Findings**, most severe first:", ""]
            for group in self.findings:
                kept = group.occurrences if occurrences is None else group.occurrences[:occurrences]
                lines.append(group.heading)
                lines.extend(f"  - {line}" for line in kept)
                if left := len(group.occurrences) - len(kept):
                    occurrences_left += left
                    lines.append(f"  - *{left} more not shown: see the plan file*")
            blocks.append("\n".join(lines))
        else:
            blocks.append("No findings.")
        blocks.append(self.entries_heading)
        if shown_rows:
            header = "| " + " | ".join(ENTRY_COLUMNS) + " |\n|" + " --- |" * len(ENTRY_COLUMNS)
            blocks.append(header + "\n" + "\n".join(shown_rows))
        rows_left = len(self.rows) - len(shown_rows)
        if rows_left:
            not_shown = Counter(a.value for a in self.row_actions[len(shown_rows) :])
            counts = _counted(not_shown, [a.value for a in ENTRY_ORDER])
            more = f"{rows_left} more {_plural(rows_left, 'entry', 'entries')}"
            blocks.append(f"*{more} not shown ({counts}): see the plan file.*")
        blocks.extend(self.tail)
        return self._wrap(blocks, LeftOut(rows_left, occurrences_left))

    def _wrap(self, blocks: Sequence[str], left_out: LeftOut) -> _Rendered:
        opened = " open" if self.opened else ""
        body = "\n\n".join(blocks)
        return _Rendered(f"<details{opened}><summary>{self.summary}</summary>\n\n{body}\n\n</details>\n\n", left_out)

    def minimal(self) -> _Rendered:
        """The headline alone, for a cluster whose share of the budget holds nothing more."""
        occurrences = sum(len(g.occurrences) for g in self.findings)
        see = f"see the plan file {code(self.plan_ref)}" if self.plan_ref else "see the plan file"
        text = (
            f"<details><summary>{self.summary}</summary>\n\n*Details not shown, to stay under GitHub's comment "
            f"limit: {see}.*\n\n</details>\n\n"
        )
        return _Rendered(text, LeftOut(len(self.rows), occurrences, clusters=1))

    def fit(self, budget: int) -> _Rendered:
        """The fullest rendering within `budget`: every row and occurrence, else occurrences capped and as many
        rows as fit, else fewer occurrences and no rows, else the headline alone."""
        whole = self.render()
        if size(whole.text) <= budget:
            return whole
        for occurrences in OCCURRENCE_STEPS:
            fitted = self._most_rows(occurrences, budget)
            if fitted is not None:
                return fitted
        return self.minimal()

    def _most_rows(self, occurrences: int, budget: int) -> _Rendered | None:
        low, high, best = 0, len(self.rows), None
        while low <= high:  # the size grows with the rows shown: binary search for the most that fit
            middle = (low + high) // 2
            rendered = self.render(middle, occurrences)
            if size(rendered.text) <= budget:
                best, low = rendered, middle + 1
            else:
                high = middle - 1
        return best


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _counted(counts: Counter[str], order: Sequence[str]) -> str:
    return ", ".join(f"{counts[key]} {key}" for key in order if counts[key])


def _where(plan: Plan) -> str:
    return f"{plan.cluster.account}/{plan.cluster.region or 'region unknown'}"


def _headline(plan: Plan) -> str:
    """`name account/region: MODE -> TARGET · blockers · other findings · entries`, as HTML for `<summary>`."""
    parts = [f"<code>{_html(plan.cluster.name)}</code> {_html(_where(plan))}: "]
    parts.append(f"{_html(plan.current_mode.value)} -&gt; {_html(plan.target.value)}")
    blockers = sorted({f.code for f in plan.blockers})
    if blockers:
        count = len(plan.blockers)
        parts.append(f" · <b>{count} {_plural(count, 'blocker', 'blockers')}</b> ({_html(', '.join(blockers))})")
    else:
        parts.append(" · no blockers")
    severities = Counter(f.severity.value for f in plan.findings)
    if others := _counted(severities, [Severity.WARNING.value, Severity.INFO.value]):
        parts.append(f" · {_html(others)}")
    actions = Counter(e.action.value for e in plan.entries)
    entries = _counted(actions, [a.value for a in ENTRY_ORDER]) or "no entries"
    parts.append(f" · entries: {_html(entries)}")
    if plan.offline:
        parts.append(" · offline")
    return "".join(parts)


def _policy(policy: PolicyAssociation, *, cell: bool = False) -> str:
    if policy.scope.type is ScopeType.CLUSTER:
        return code(policy.policy_name, cell=cell)
    return f"{code(policy.policy_name, cell=cell)} in {code(', '.join(policy.scope.namespaces), cell=cell)}"


def _row(entry: PlannedEntry, account: str) -> str:
    spec = entry.spec
    entry_type = "-" if entry.action is EntryAction.SKIP else code(spec.type.value, cell=True)
    if spec.type.is_node:
        username, groups = "*(node identity)*", "-"
    else:
        username = code(spec.username, cell=True) if spec.username is not None else "*(EKS default)*"
        groups = ", ".join(code(g, cell=True) for g in spec.groups) or "-"
    policies = ", ".join(_policy(p, cell=True) for p in spec.policies) or "-"
    principal = code(short_principal(spec.principal_arn, account), cell=True)
    return f"| {principal} | {entry_type} | {username} | {groups} | {policies} | {entry.action.value} |"


def _gates(plan: Plan) -> str:
    """One paragraph: each gate into a mode (irreversible) open or blocked, and the removal of aws-auth."""
    modes = []
    removal = ""
    for step in plan.steps:
        blockers = ", ".join(code(c) for c in sorted({f.code for f in plan.gate_blockers(step)}))
        if isinstance(step, SetMode):
            modes.append(f"into {code(step.mode.value)} " + (f"**blocked** by {blockers}" if blockers else "open"))
        elif isinstance(step, RemoveAwsAuth):
            state = f"**blocked** by {blockers} until `--accept-managed-aws-auth`" if blockers else "planned"
            removal = f" Deleting {code(f'{step.namespace}/{step.name}')} (restorable from the backup): {state}."
    if not modes:
        return "**Gates**: none, the plan switches no mode." + removal
    return (
        "**Gates**, each irreversible and approved on its own (`--approve-gate MODE`): "
        + "; ".join(modes)
        + "."
        + removal
    )


def _finding_groups(plan: Plan) -> tuple[_FindingGroup, ...]:
    """Grouped by code, blockers first: the rule and what to do once, then each occurrence."""
    rank = list(Severity)
    codes = sorted({f.code for f in plan.findings}, key=lambda c: (rank.index(RULES[c].severity), c))
    groups = []
    for finding_code in codes:
        found = [f for f in plan.findings if f.code == finding_code]
        rule = RULES[finding_code]
        heading = (
            f"- **{found[0].severity.value.upper()}** {code(finding_code)} ({len(found)}): {_text(rule.meaning)}. "
            f"*What to do:* {_text(rule.action)}."
        )
        occurrences = tuple(code(_occurrence(f)) for f in found)
        groups.append(_FindingGroup(heading, occurrences))
    return tuple(groups)


def _occurrence(finding: Finding) -> str:
    source = finding.source
    if source is None:
        return finding.message
    line = f" line {source.line}" if source.line else ""
    return f"{source.section.value}[{source.index}]{line}: {finding.message}"


def _conversions(plan: Plan) -> tuple[str, ...]:
    lines = []
    for entry in (e for e in plan.entries if e.conversions):
        for c in entry.conversions:
            change = "exact" if c.exact else f"gains {len(c.gained)} rules, loses {len(c.lost)} rules"
            lines.append(
                f"- {code(short_principal(entry.spec.principal_arn, plan.cluster.account))}: group {code(c.group)} "
                f"(ClusterRole {code(c.cluster_role)}) -> {_policy(c.policy)}: {change}"
            )
    if not lines:
        return ()
    return (
        "**Groups replaced by access policies** (the plan file lists the rules gained and lost):\n\n"
        + "\n".join(lines),
    )


def _usage(plan: Plan) -> tuple[str, ...]:
    usage = plan.usage
    if usage is None:
        return ()
    window = f"{iso(usage.since)} to {iso(usage.until)}"
    if not usage.available:
        return (f"**Usage evidence** ({_text(window)}): unavailable, {code(usage.reason)}",)
    signed_in = sum(1 for p in usage.principals if p.count)
    return (
        f"**Usage evidence** ({_text(window)}): {signed_in} {_plural(signed_in, 'principal', 'principals')} signed in, "
        f"{usage.lines} log lines read ({usage.malformed} unreadable, {usage.refused} refused tokens).",
    )


def _section(plan: Plan, plan_ref: str | None, *, opened: bool) -> _Section:
    plan_id = plan_name(plan).removesuffix(".plan.yaml")
    steps = f"{len(plan.steps)} {_plural(len(plan.steps), 'step', 'steps')}"
    about = f"Plan {code(plan_id)} ({steps}), made {code(plan.created_at)}" + (
        f", file {code(plan_ref)}." if plan_ref else "."
    )
    head = [about]
    if plan.offline:
        head.append(
            "*Offline plan, for review only: IAM paths and existing entries were not checked; apply needs a plan "
            "made against the cluster.*"
        )
    head.append(_gates(plan))
    entries = sorted(plan.entries, key=lambda e: ENTRY_ORDER.index(e.action))  # stable: plan order within one
    actions = Counter(e.action.value for e in plan.entries)
    entries_heading = f"**Entries** ({len(entries)}: {_counted(actions, [a.value for a in ENTRY_ORDER]) or 'none'})"
    return _Section(
        summary=_headline(plan),
        opened=opened,
        head=tuple(head),
        findings=_finding_groups(plan),
        entries_heading=entries_heading,
        rows=tuple(_row(e, plan.cluster.account) for e in entries),
        row_actions=tuple(e.action for e in entries),
        tail=_conversions(plan) + _usage(plan),
        plan_ref=plan_ref,
    )


def _footer(left_out: LeftOut, report_ref: str | None) -> str:
    if not left_out.anything:
        return ""
    parts = []
    if left_out.entries:
        parts.append(f"{left_out.entries:,} entry {_plural(left_out.entries, 'row', 'rows')}")
    if left_out.occurrences:
        parts.append(f"{left_out.occurrences:,} finding {_plural(left_out.occurrences, 'occurrence', 'occurrences')}")
    if left_out.clusters:
        parts.append(f"the details of {left_out.clusters:,} {_plural(left_out.clusters, 'cluster', 'clusters')}")
    where = f"the plan files and the batch report {code(report_ref)}" if report_ref else "the plan files"
    return (
        f"\n---\n\n*To stay under GitHub's {COMMENT_LIMIT:,}-character comment limit, this summary leaves out "
        f"{' and '.join(parts)}; each place says what it left out. Everything is in {where}.*\n"
    )


def plan_markdown(plan: Plan, plan_ref: str | None = None, *, budget: int = BUDGET) -> str:
    """One plan, for a pull request: its headline, gates, findings and entries in an open `<details>` block."""
    title = f"### aws-auth-migrate plan for {code(plan.cluster.name)}\n\n"
    reserve = size(title) + size(_footer(LeftOut(10**9, 10**9), None))
    rendered = _section(plan, plan_ref, opened=True).fit(budget - reserve)
    return title + rendered.text + _footer(rendered.left_out, None)


# --- a fleet ------------------------------------------------------------------------------------------------


def _attention(result: ClusterResult) -> tuple[int, int]:
    """Clusters that fell short first, then those with blockers, then the rest; inventory order within each."""
    return (0 if not result.ok else 1 if result.blockers else 2, result.index)


def _overview_row(result: ClusterResult) -> str:
    findings = ", ".join(f"{count} {severity}" for severity, count in sorted(result.findings.items())) or "-"
    blockers = ", ".join(code(b, cell=True) for b in result.blockers) or "-"
    mode = f"{code(result.mode or '-', cell=True)} -> {code(result.target or '-', cell=True)}"
    outcome = result.outcome.value if result.ok else f"**{result.outcome.value}**"
    where = code(f"{result.account or '-'}/{result.region}", cell=True)
    return f"| {code(result.name, cell=True)} | {where} | {outcome} | {mode} | {blockers} | {_text(findings)} |"


def _overview(results: Sequence[ClusterResult], budget: int, report_ref: str | None) -> _Rendered:
    header = "| cluster | account/region | outcome | mode -> target | blockers | findings |\n|" + " --- |" * 6
    rows: list[str] = []
    used = size(header) + 200 + size(code(report_ref))  # room for the note of clusters not shown
    for result in results:
        row = _overview_row(result)
        if used + size(row) + 1 > budget:
            break
        rows.append(row)
        used += size(row) + 1
    text = header + "\n" + "\n".join(rows) + "\n"
    if left := len(results) - len(rows):
        where = f"the batch report {code(report_ref)}" if report_ref else "the batch report"
        text += f"\n*{left} more {_plural(left, 'cluster', 'clusters')} not shown in this table: see {where}.*\n"
    return _Rendered(text, LeftOut(clusters=left))


def _unplanned(result: ClusterResult, why: str) -> _Section:
    """A cluster without a plan to show: failed, kept for an unfinished run, or its plan unreadable."""
    where = f"{result.account or '-'}/{result.region}"
    summary = f"<code>{_html(result.name)}</code> {_html(where)}: <b>{_html(result.outcome.value)}</b>" + (
        f" (exit {result.error.exit_code})" if result.error is not None else ""
    )
    return _Section(summary, False, (why,), (), "", (), (), (), result.plan_file)


def _fleet_section(result: ClusterResult, plans: Mapping[str, Plan], unreadable: Mapping[str, str]) -> _Section:
    plan = plans.get(result.identity)
    if plan is not None:
        return _section(plan, result.plan_file, opened=False)
    if result.identity in unreadable:
        return _unplanned(result, f"Planned, but its plan could not be read back: {code(unreadable[result.identity])}")
    detail = result.error.message if result.error is not None else result.message
    return _unplanned(result, f"{_text(result.outcome.value.capitalize())}: {code(detail or 'no detail')}")


def _shares(sizes: Sequence[int], budget: int) -> list[int]:
    """Each cluster's budget: those smaller than an equal share keep their size, the rest split what is left."""
    shares = [0] * len(sizes)
    left, count = budget, len(sizes)
    for index in sorted(range(len(sizes)), key=lambda i: sizes[i]):
        share = left // count if count else 0
        shares[index] = min(sizes[index], share)
        left -= shares[index]
        count -= 1
    return shares


def batch_plan_markdown(
    report: BatchReport,
    plans: Mapping[str, Plan],
    *,
    report_ref: str | None = None,
    unreadable: Mapping[str, str] | None = None,
    budget: int = BUDGET,
) -> str:
    """A batch plan for a pull request: a headline, an overview table, then each cluster in a `<details>`
    block, clusters that fell short and clusters with blockers first. `plans` maps a cluster's identity
    (ClusterResult.identity) to the plan it wrote; `unreadable` to why its plan could not be read back."""
    results = sorted(report.clusters, key=_attention)
    outcomes = Counter(r.outcome.value for r in results)
    blocked = sum(1 for r in results if r.blockers)
    scope = f"inventory {code(report.inventory)}" if report.inventory else "the inventory"
    if report.shard:
        scope += f", shard {code(report.shard)}"
    title = (
        f"## aws-auth-migrate batch {_text(report.command)}\n\n**{len(results)} "
        f"{_plural(len(results), 'cluster', 'clusters')}** of {scope}: {_text(_counted(outcomes, sorted(outcomes)))}; "
        f"**{blocked} with blockers** (a blocker keeps a gate shut until it is fixed).\n\n"
    )
    reserve = size(title) + size(_footer(LeftOut(10**9, 10**9, 10**9), report_ref)) + 100
    overview = _overview(results, (budget - reserve) // 3, report_ref)
    sections = [
        _fleet_section(r, plans, unreadable or {}) for r in results[: len(results) - overview.left_out.clusters]
    ]
    room = budget - reserve - size(overview.text) - size("\n### Clusters\n\n")
    rendered = _fitted_sections(sections, room)
    left_out = overview.left_out + sum((r.left_out for r in rendered), LeftOut())
    not_detailed = len(sections) - len(rendered)
    body = "".join(r.text for r in rendered)
    if not_detailed:
        body += (
            f"\n*The details of {not_detailed} more {_plural(not_detailed, 'cluster', 'clusters')} are not shown.*\n"
        )
        left_out += LeftOut(clusters=not_detailed)
    return title + overview.text + "\n### Clusters\n\n" + body + _footer(left_out, report_ref)


def _fitted_sections(sections: Sequence[_Section], room: int) -> list[_Rendered]:
    """Each section within its share of `room`; when even their headlines do not fit, the last ones are dropped."""
    room -= 100  # the note of the clusters dropped
    minimal = [size(s.minimal().text) for s in sections]
    wholes = [s.render() for s in sections]
    kept = len(sections)
    while kept and sum(minimal[:kept]) > room:
        kept -= 1
    while kept:
        shares = _shares([size(w.text) for w in wholes[:kept]], room)
        fitted = [
            whole if size(whole.text) <= share else section.fit(share)
            for section, whole, share in zip(sections[:kept], wholes[:kept], shares, strict=True)
        ]
        if sum(size(f.text) for f in fitted) <= room:
            return fitted
        kept -= 1  # a share smaller than a headline: give the others the room
    return []
