"""The fleet dashboard (`batch status --html`, `batch report --html`): a batch report as one self-contained HTML
page, to open from a CI artifact or a bucket and watch a rollout on.

- Self-contained: inline CSS and one small inline script; nothing to fetch (no CDN, script, stylesheet, font or
  image). A Content-Security-Policy meta forbids every request (`default-src 'none'`) and allows only this
  module's own style and script, by hash: "no request leaves the page" holds by construction, even if some
  day a cluster's text slipped through unescaped.
- Readable without JavaScript: the whole table is in the HTML, in inventory order. The script only sorts (click
  a column header) and filters (a text box, an outcome, "needs attention"); it is a constant: it reads what it
  needs from the DOM and no data is ever written into it.
- Everything taken from a report (cluster names, messages, errors: a report file is input, an error message can
  quote an aws-auth) goes through `clean` (control characters) and then `html.escape` (markup and quotes).

Pure: the same report gives the same bytes (no clock, no environment).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from html import escape

from migrator.cli.render import clean
from migrator.fleet.report import BatchReport, ClusterResult, Outcome

STYLE = """
:root { color-scheme: light dark; --line: #8884; --muted: #888; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
dl.about { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem; margin: 0 0 1rem; }
dl.about dt { color: var(--muted); }
dl.about dd { margin: 0; }
ul.summary { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .3rem .8rem; }
#controls { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: 0 0 .8rem; }
#controls[hidden], tr[hidden] { display: none !important; }
#filter { min-width: 18rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { position: sticky; top: 0; background: Canvas; white-space: nowrap; }
th button { font: inherit; font-weight: bold; color: inherit; background: none; border: 0; padding: 0; }
th button { cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
td.text { white-space: pre-wrap; overflow-wrap: break-word; }
td.long { overflow-wrap: anywhere; min-width: 12rem; max-width: 40rem; }
td.nowrap { white-space: nowrap; }
td.number { text-align: right; }
progress { width: 5rem; vertical-align: middle; }
tr.attention td:first-child { box-shadow: inset 3px 0 #d33; }
.outcome { font-weight: bold; white-space: nowrap; }
.outcome-completed, .outcome-planned { color: #2a2; }
.outcome-at-gate, .outcome-in-progress { color: #29c; }
.outcome-blocked, .outcome-interrupted { color: #c90; }
.outcome-failed, .outcome-stale, .outcome-not-run { color: #d33; }
.outcome-rolled-back { color: #b4b; }
.outcome-not-started, .none { color: var(--muted); }
"""

SCRIPT = """
"use strict";
(() => {
  const table = document.getElementById("clusters");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const filter = document.getElementById("filter");
  const outcome = document.getElementById("outcome");
  const attention = document.getElementById("attention");
  const shown = document.getElementById("shown");

  const key = (row, column) => {
    const cell = row.cells[column];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  };
  const compare = (a, b) => {
    const x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && Number.isFinite(x) && Number.isFinite(y)) return x - y;
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  };
  const sortBy = (header, column) => {
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    for (const th of table.tHead.rows[0].cells) th.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const order = rows.map((row, position) => ({ row, position, key: key(row, column) }));
    order.sort((a, b) => (ascending ? 1 : -1) * compare(a.key, b.key) || a.position - b.position);
    for (const item of order) body.appendChild(item.row);
  };
  const apply = () => {
    const words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let count = 0;
    for (const row of rows) {
      const text = row.textContent.toLowerCase();
      const visible = (!outcome.value || row.dataset.outcome === outcome.value)
        && (!attention.checked || row.dataset.ok === "false")
        && words.every((word) => text.includes(word));
      row.hidden = !visible;
      if (visible) count += 1;
    }
    shown.textContent = `${count} of ${rows.length} cluster(s) shown`;
  };

  Array.from(table.tHead.rows[0].cells).forEach((th, column) => {
    const button = document.createElement("button");
    button.type = "button";
    button.title = "Sort by this column (click again to reverse)";
    button.textContent = th.textContent;
    button.addEventListener("click", () => sortBy(th, column));
    th.replaceChildren(button);
  });
  filter.addEventListener("input", apply);
  outcome.addEventListener("change", apply);
  attention.addEventListener("change", apply);
  document.getElementById("controls").hidden = false;
  apply();
})();
"""


def csp_source(text: str) -> str:
    """The CSP source expression allowing exactly this inline `<style>` or `<script>` content."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# default-src covers every fetch (scripts, styles, images, fonts, connections, frames, objects, media, manifests,
# workers); base-uri and form-action are not fetches and need their own. A meta cannot set frame-ancestors.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src {csp_source(STYLE)}",
        f"script-src {csp_source(SCRIPT)}",
        "base-uri 'none'",
        "form-action 'none'",
    )
)

COLUMNS = (
    "#",
    "Cluster",
    "Account/region",
    "Outcome",
    "Mode → target",
    "Steps",
    "Gates passed",
    "Blockers",
    "Verified",
    "Last error",
    "Note",
)


def _text(value: object) -> str:
    """Text from a report, safe in HTML content and in a quoted attribute."""
    return escape(clean(value, keep_newlines=True), quote=True)


def _cell(content: str, *, sort: str | None = None, kind: str | None = None) -> str:
    """A cell of already-escaped `content`; `sort` is the key the script sorts by when the text is not it."""
    attributes = (f' class="{kind}"' if kind else "") + (f' data-sort="{_text(sort)}"' if sort is not None else "")
    return f"<td{attributes}>{content}</td>"


def _none() -> str:
    return '<span class="none">-</span>'


def _steps(result: ClusterResult) -> str:
    done, total = result.steps_done, result.steps_total
    sort = f"{done / total:.6f}" if total else "-1"
    bar = f'<progress max="{total}" value="{min(done, total)}"></progress> ' if total else ""
    return _cell(f"{bar}{done}/{total}", sort=sort, kind="nowrap")


def _mode(result: ClusterResult) -> str:
    if result.mode is None and result.target is None:
        return _cell(_none(), sort="")
    return _cell(f"{_text(result.mode or '?')} → {_text(result.target or '?')}")


def _listed(items: Iterable[str]) -> str:
    shown = ", ".join(items)
    return _cell(_text(shown) if shown else _none(), sort=shown)


def _verified(result: ClusterResult) -> str:
    verified = result.verified
    if verified is None:
        return _cell(_none(), sort="")
    word = "ok" if verified.get("ok") else "DIFFERS"
    details = [f"{name} {count}" for name, count in dict(verified.get("counts") or {}).items()]
    if verified.get("error"):
        details.append(f"could not verify: {verified['error']}")
    suffix = f"\n{_text('; '.join(details))}" if details else ""
    return _cell(f"<strong>{word}</strong>{suffix}", sort=word, kind="text")


def _error(result: ClusterResult) -> str:
    error = result.error
    if error is None:
        return _cell(_none(), sort="")
    return _cell(_text(f"exit {error.exit_code} ({error.type}): {error.message}"), kind="text long")


def _note(result: ClusterResult) -> str:
    said_by_error = result.error is not None and result.error.message.startswith(result.message)
    note = "" if said_by_error else result.message
    return _cell(_text(note), kind="text long")


def _row(result: ClusterResult) -> str:
    outcome = result.outcome.value
    cells = (
        _cell(str(result.index + 1), kind="number"),
        _cell(_text(result.shown) + ("" if result.shown == result.name else f"<br>{_text(result.name)}")),
        _cell(_text(f"{result.account or '-'}/{result.region}"), kind="nowrap"),
        _cell(f'<span class="outcome outcome-{_text(outcome)}">{_text(outcome)}</span>'),
        _mode(result),
        _steps(result),
        _listed(result.gates_passed),
        _listed(result.blockers),
        _verified(result),
        _error(result),
        _note(result),
    )
    attention = "" if result.ok else ' class="attention"'
    data = f' data-outcome="{_text(outcome)}" data-ok="{"true" if result.ok else "false"}"'
    return f"<tr{attention}{data}>{''.join(cells)}</tr>"


def _about(report: BatchReport) -> str:
    facts = [("Command", f"batch {report.command}"), ("Inventory", report.inventory or "-")]
    if report.shard:
        facts.append(("Shard", report.shard))
    if report.merged_from:
        facts.append(("Merged from shards", ", ".join(report.merged_from)))
    facts.append(("Clusters", str(len(report.clusters))))
    if report.fleet is not None and report.fleet.clusters != len(report.clusters):
        held = f"{report.fleet.clusters} cluster(s), of which this report holds {len(report.clusters)}"
        facts.append(("Fleet", held))
    verdict = "every cluster reached what was approved" if report.ok else "some clusters need attention"
    if report.interrupted:
        verdict = "interrupted (Ctrl-C or SIGTERM)"
    facts.append(("Result", f"exit {report.exit_code}: {verdict}"))
    rows = "".join(f"<dt>{_text(name)}</dt><dd>{_text(value)}</dd>" for name, value in facts)
    return f'<dl class="about">{rows}</dl>'


def _summary(report: BatchReport) -> str:
    items = "".join(
        f'<li><span class="outcome outcome-{_text(outcome)}">{_text(outcome)}</span> {count}</li>'
        for outcome, count in report.summary().items()
    )
    return f'<ul class="summary" aria-label="Clusters by outcome">{items}</ul>'


def _controls(report: BatchReport) -> str:
    counts = report.summary()
    options = "".join(
        f'<option value="{_text(o.value)}">{_text(o.value)} ({counts[o.value]})</option>'
        for o in Outcome
        if o.value in counts
    )
    return (
        '<div id="controls" hidden>'
        '<input id="filter" type="search" placeholder="Filter: words the row must contain" '
        'aria-label="Filter clusters" autocomplete="off">'
        f'<select id="outcome" aria-label="Outcome"><option value="">every outcome</option>{options}</select>'
        '<label><input id="attention" type="checkbox"> needs attention only</label>'
        '<span id="shown" aria-live="polite"></span>'
        "</div>"
    )


def render_dashboard(report: BatchReport) -> str:
    """The dashboard page of `report`: one HTML document, nothing to fetch."""
    title = f"aws-auth-migrate: batch {report.command}" + (f" ({report.inventory})" if report.inventory else "")
    header = "".join(f'<th scope="col">{_text(name)}</th>' for name in COLUMNS)
    rows = "\n".join(_row(result) for result in report.clusters)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CONTENT_SECURITY_POLICY, quote=True)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{_text(title)}</h1>\n{_about(report)}\n{_summary(report)}\n"
        "<noscript><p>Sorting and filtering need JavaScript; the table below is complete without it.</p></noscript>\n"
        f"{_controls(report)}\n"
        f'<table id="clusters">\n<thead><tr>{header}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>\n'
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
