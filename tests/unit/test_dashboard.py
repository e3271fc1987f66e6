"""The fleet dashboard's HTML, read with a parser: nothing in it can fetch anything, its CSP allows exactly its
own style and script (hashes computed here), everything from a report is text (markup, quotes and control
characters included), and the script is a constant no report can write into. The browser half is
tests/browser/test_dashboard_browser.py."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

from migrator.cli.render.dashboard import SCRIPT, STYLE, render_dashboard
from migrator.fleet.report import BatchReport, ClusterResult, ErrorInfo, Outcome

HOSTILE = "x\"'><script>alert(1)</script><img src=//evil.example/a onerror=alert(2)>&amp;</td></tr></table>"
TERMINAL = "\x1b]0;title\x07\x1b[2J"


@dataclass
class _Page(HTMLParser):
    """Every tag with its attributes, the text of each <td>, and the contents of <style> and <script>."""

    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    raw: dict[str, list[str]] = field(default_factory=lambda: {"style": [], "script": []})
    _in: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self.cells.append("")
        if tag not in ("br", "meta", "input", "progress"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if "td" in self._in:
            self.cells[-1] += data
        if self._in and self._in[-1] in self.raw:
            self.raw[self._in[-1]].append(data)


def _parsed(report: BatchReport) -> _Page:
    page = _Page()
    page.feed(render_dashboard(report))
    page.close()
    return page


def _report(*clusters: ClusterResult) -> BatchReport:
    return BatchReport("apply", clusters, inventory="fleet.yaml")


HOSTILE_REPORT = _report(
    ClusterResult(
        HOSTILE, "111122223333", "eu-west-1", 0, Outcome.FAILED, message=f"note {HOSTILE}",
        error=ErrorInfo("RemoteError", 5, f"{HOSTILE}\n{TERMINAL}"), gates_passed=(HOSTILE,), blockers=(HOSTILE,),
        verified={"ok": False, "error": HOSTILE},
    ),
    ClusterResult("calm", None, "us-east-1", 1, Outcome.COMPLETED, mode="API", target="API", steps_done=3,
                  steps_total=3, verified={"ok": True, "counts": {"equivalent": 2}}),
)  # fmt: skip


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_has_nothing_that_could_fetch() -> None:
    page = _parsed(HOSTILE_REPORT)
    names = Counter(tag for tag, _ in page.tags)
    assert names["script"] == 1 and names["style"] == 1
    assert not {"img", "link", "iframe", "object", "embed", "a", "form", "base", "audio", "video"} & set(names)
    attributes = {name for _, attrs in page.tags for name in attrs}
    assert not {"src", "href", "srcset", "action", "formaction", "poster", "style"} & attributes
    assert not [name for name in attributes if name.startswith("on")]
    assert "url(" not in STYLE and "@import" not in STYLE
    assert "fetch(" not in SCRIPT and "XMLHttpRequest" not in SCRIPT and "innerHTML" not in SCRIPT


def test_the_csp_forbids_every_request_and_allows_only_the_pages_own_style_and_script() -> None:
    page = _parsed(HOSTILE_REPORT)
    metas = [attrs for tag, attrs in page.tags if tag == "meta" and attrs.get("http-equiv")]
    assert metas[0]["http-equiv"] == "Content-Security-Policy"
    assert page.tags[:2] == [("html", {"lang": "en"}), ("head", {})] and page.tags[3][1] is metas[0]  # after charset
    (style,), (script,) = page.raw["style"], page.raw["script"]
    assert metas[0]["content"] == (
        f"default-src 'none'; style-src {_sha256(style)}; script-src {_sha256(script)}; base-uri 'none'; "
        "form-action 'none'"
    )


def test_text_from_the_report_is_text() -> None:
    page = _parsed(HOSTILE_REPORT)
    hostile_row = page.cells[:11]
    assert hostile_row[1] == HOSTILE and hostile_row[6] == HOSTILE and hostile_row[7] == HOSTILE
    assert hostile_row[8] == f"DIFFERS\ncould not verify: {HOSTILE}"
    assert hostile_row[9] == f"exit 5 (RemoteError): {HOSTILE}\n\\x1b]0;title\\x07\\x1b[2J"  # no raw control character
    assert hostile_row[10] == f"note {HOSTILE}"  # a message the error does not already say
    assert page.cells[11:13] == ["2", "calm"] and page.cells[16].strip() == "3/3"
    assert ("progress", {"max": "3", "value": "3"}) in page.tags
    assert "\x1b" not in render_dashboard(HOSTILE_REPORT) and "\x07" not in render_dashboard(HOSTILE_REPORT)
    rows = [attrs for tag, attrs in page.tags if tag == "tr" and "data-outcome" in attrs]
    assert [(r["data-outcome"], r["data-ok"]) for r in rows] == [("failed", "false"), ("completed", "true")]


def test_the_script_is_the_same_whatever_the_report() -> None:
    calm = _parsed(_report(ClusterResult("calm", None, "us-east-1", 0, Outcome.PLANNED)))
    assert calm.raw["script"] == _parsed(HOSTILE_REPORT).raw["script"] == [SCRIPT]
    assert render_dashboard(HOSTILE_REPORT) == render_dashboard(HOSTILE_REPORT)  # no clock, no environment


def test_the_outcome_filter_offers_the_outcomes_present_with_their_counts() -> None:
    page = _parsed(_report(*(ClusterResult(f"c{i}", None, "eu-west-1", i, Outcome.STALE) for i in range(3))))
    options = [attrs["value"] for tag, attrs in page.tags if tag == "option"]
    assert options == ["", "stale"]
    assert '<option value="stale">stale (3)</option>' in render_dashboard(
        _report(*(ClusterResult(f"c{i}", None, "eu-west-1", i, Outcome.STALE) for i in range(3)))
    )
