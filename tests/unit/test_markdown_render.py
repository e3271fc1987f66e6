"""The Markdown for pull requests (`show -o markdown`, `batch plan --summary markdown`), read back with a
CommonMark/GFM parser (markdown-it-py's "gfm-like" preset: tables, strikethrough, and linkify for GitHub's bare
autolinks): it parses into intact tables, stays under GitHub's comment limit while saying what it left out, and
shows hostile aws-auth text as text: no HTML tag of its own, no link, no broken table."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from functools import cache

from migrator.cli.render.markdown import BUDGET, COMMENT_LIMIT, ENTRY_COLUMNS, batch_plan_markdown, code, plan_markdown
from migrator.fleet.report import BatchReport, ClusterResult, ErrorInfo, Outcome
from migrator.model import (
    AccessEntrySpec,
    EntryAction,
    Finding,
    Plan,
    PlannedEntry,
    Section,
    Severity,
    SourceRef,
)
from tests.support.markdown import assert_only_text_from_data, table_rows, tables, tokens
from tests.unit.fake_cluster import big_cluster, make_plan, small_cluster

# Markdown, HTML, links, a table row of its own, a terminal escape, a bidi override, a mention and an emoji.
HOSTILE = (
    "evil|`x`` <script>alert(1)</script> [link](http://x.example) ![i](http://x.example/i.png) **b** _i_ &amp;"
    "\n| --- | --- |\n<img src=x onerror=alert(1)>\x1b[2J\u202e @octocat :smile: $x$ http://y.example www.z.example"
)
HOSTILE_ARN = f"arn:aws:iam::111122223333:role/{HOSTILE}"


@cache
def fleet_plans() -> tuple[Plan, ...]:
    """40 clusters of 40 to 75 principals each: far more than one comment holds (8 plans made, each under 5
    names: planning is what takes time here)."""
    made = [make_plan(big_cluster(40 + 5 * size)) for size in range(8)]
    return tuple(named(made[i % 8], f"c{i:02d}") for i in range(40))


def named(plan: Plan, name: str) -> Plan:
    return dataclasses.replace(plan, cluster=dataclasses.replace(plan.cluster, name=name))


def planned(plan: Plan, index: int) -> ClusterResult:
    blockers = tuple(sorted({f.code for f in plan.blockers}))
    return ClusterResult(
        plan.cluster.name,
        plan.cluster.account,
        plan.cluster.region or "us-east-1",
        index,
        Outcome.PLANNED,
        plan_file=f"plans/{plan.cluster.account}/us-east-1/{plan.cluster.name}/p.plan.yaml",
        mode=plan.current_mode.value,
        target=plan.target.value,
        blockers=blockers,
    )


def fleet(plans: Sequence[Plan]) -> tuple[BatchReport, dict[str, Plan]]:
    results = [planned(p, i) for i, p in enumerate(plans)]
    return BatchReport("plan", tuple(results), "fleet.yaml"), {
        r.identity: p for r, p in zip(results, plans, strict=True)
    }


def hostile_plan() -> Plan:
    """A plan whose aws-auth named a hostile principal, username and group (the parser is not relied on)."""
    plan = make_plan(small_cluster())
    source = SourceRef(Section.MAP_ROLES, 9, 42)
    entry = PlannedEntry(AccessEntrySpec(HOSTILE_ARN, username=HOSTILE, groups=(HOSTILE, "ok")), EntryAction.SKIP)
    finding = Finding("SYSTEM_GROUP", Severity.BLOCKER, f"group {HOSTILE!s} of {HOSTILE_ARN}", HOSTILE_ARN, source)
    return dataclasses.replace(plan, entries=(entry, *plan.entries), findings=(finding, *plan.findings))


def test_a_40_cluster_fleet_parses_stays_under_the_limit_and_says_what_it_left_out() -> None:
    plans = list(fleet_plans())
    report, by_identity = fleet(plans)
    markdown = batch_plan_markdown(report, by_identity, report_ref="plans/batch-plan.json")

    assert len(markdown) < COMMENT_LIMIT and len(markdown.encode()) <= BUDGET
    overview, *entry_tables = tables(markdown)
    assert [row[0] for row in overview[1:]] == [f"`c{i:02d}`" for i in range(40)]  # none with blockers: inventory order
    assert all(len(row) == 6 for row in overview)
    assert len(entry_tables) == 40  # every cluster shows some of its entries
    for table in entry_tables:
        assert table[0] == list(ENTRY_COLUMNS)
        assert all(len(row) == len(ENTRY_COLUMNS) for row in table)
    shown = sum(len(t) - 1 for t in entry_tables)
    total = sum(len(p.entries) for p in plans)
    notes = [int(n) for n in re.findall(r"\*(\d+) more entries not shown \(", markdown)]
    assert len(notes) == 40 and shown + sum(notes) == total  # every row is shown or counted as left out
    assert "file `plans/111122223333/us-east-1/c00/p.plan.yaml`." in markdown  # where each cluster's plan is
    assert f"leaves out {total - shown:,} entry rows;" in markdown
    assert "the batch report `plans/batch-plan.json`" in markdown
    assert markdown.count("<details><summary><code>c") == 40
    assert_only_text_from_data(markdown)


def test_a_small_plan_is_shown_whole_next_to_large_ones() -> None:
    small = make_plan(small_cluster(name="small"))
    report, by_identity = fleet([*fleet_plans()[:20], small])
    markdown = batch_plan_markdown(report, by_identity)
    section = markdown[markdown.index("<summary><code>small</code>") :]
    assert "not shown" not in section
    assert "leaves out" in markdown  # the large ones are cut


def test_a_fleet_that_fits_leaves_nothing_out() -> None:
    report, by_identity = fleet([make_plan(small_cluster(name=f"s{i}")) for i in range(3)])
    markdown = batch_plan_markdown(report, by_identity)
    assert "not shown" not in markdown and "leaves out" not in markdown
    assert len(table_rows(markdown)) == 4 + 3 * 7  # the overview (header + 3) and 3 x (header + 6 entries)


def test_clusters_that_fell_short_or_have_blockers_come_first() -> None:
    clean, blocked = make_plan(small_cluster(name="clean")), named(hostile_plan(), "blocked")
    results = [planned(clean, 0), planned(blocked, 1)]
    failed = dataclasses.replace(
        results[0], name="down", index=2, outcome=Outcome.FAILED, error=ErrorInfo("RemoteError", 5, HOSTILE)
    )
    report = BatchReport("plan", (*results, failed), "fleet.yaml")
    markdown = batch_plan_markdown(report, {results[0].identity: clean, results[1].identity: blocked})
    assert [row[0] for row in table_rows(markdown)[1:4]] == ["`down`", "`blocked`", "`clean`"]
    assert "<b>1 blocker</b> (SYSTEM_GROUP)" in markdown
    assert "<code>down</code> 111122223333/us-east-1: <b>failed</b> (exit 5)" in markdown
    assert_only_text_from_data(markdown)


def test_hostile_names_usernames_and_groups_stay_text() -> None:
    markdown = plan_markdown(hostile_plan(), "plans/prod/p.plan.yaml")
    assert "\x1b" not in markdown and "\u202e" not in markdown
    assert_only_text_from_data(markdown)
    (entries,) = tables(markdown)
    assert all(len(row) == len(ENTRY_COLUMNS) for row in entries) and len(entries) == 1 + 7
    codes = [t.content for t in tokens(markdown) if t.type == "code_inline"]
    shown = HOSTILE.replace("\n", "\\x0a").replace("\x1b", "\\x1b").replace("\u202e", "\\u202e")
    # In a table cell `|` is written `\|` and GFM unescapes it: the cell's code span is the text exactly.
    assert codes.count(shown) == 2  # the username and the group, each one code span
    assert f"role/{shown}" in codes  # the principal
    assert any(shown in c and c.startswith("mapRoles[9] line 42: group ") for c in codes)  # the finding


def test_a_cluster_name_in_a_headline_is_html_escaped() -> None:
    plan = make_plan(small_cluster())
    markdown = plan_markdown(named(plan, "<img src=x>\n\n# x"))
    assert "<code>&lt;img src=x&gt;\\x0a\\x0a# x</code>" in markdown
    assert_only_text_from_data(markdown)


def test_a_code_span_shows_its_text_exactly_whatever_backticks_it_holds() -> None:
    for text in ("a", "`", "a`b", "``a", "b``", " x ", "a``b`c", "x|y"):
        (inline,) = [t for t in tokens(code(text)) if t.type == "code_inline"]
        assert inline.content == text, text


def test_a_fleet_of_hundreds_drops_details_before_the_limit_and_says_so() -> None:
    plans = [*fleet_plans()] * 12  # 480 clusters (the same plans under new names)
    report, by_identity = fleet([named(p, f"n{i:03d}") for i, p in enumerate(plans)])
    markdown = batch_plan_markdown(report, by_identity, report_ref="r.json")
    assert len(markdown.encode()) <= BUDGET
    assert re.search(r"\*\d+ more clusters not shown in this table: see the batch report `r.json`\.\*", markdown)
    assert re.search(r"leaves out .*the details of \d+ clusters", markdown)
    assert all(len(row) == 6 for row in table_rows(markdown))
