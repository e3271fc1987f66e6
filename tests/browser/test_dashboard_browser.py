"""The fleet dashboard (`batch status|report --html`) in a real headless Chromium: it renders with its own style
and script (allowed by their CSP hashes), shows every cluster of a 30-cluster fleet with hostile text as text,
filters and sorts, is whole without JavaScript, and asks the network for nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from migrator.cli.render.dashboard import render_dashboard
from migrator.fleet.report import BatchReport, ClusterResult, ErrorInfo, FleetSet, Outcome
from tests.browser.conftest import console_errors, page_requests

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver

GROUPS = ("prod", "stage", "dev")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")
HOSTILE_AT = 7
# What a report file (input) or an error quoting an aws-auth could carry: markup, quotes, a would-be request.
HOSTILE_NAME = 'evil"><script>window.pwned=1</script><img src="http://127.0.0.1:9/name.png">'
HOSTILE_ERROR = "</script><script>window.pwned=2</script><img src=x onerror=\"window.pwned=3\"> it's 'quoted' & <b>"
MESSAGES = {
    Outcome.COMPLETED: "every step is done",
    Outcome.AT_GATE: "waiting for approval of the next gate",
    Outcome.BLOCKED: "blocker findings keep the gate shut",
    Outcome.NOT_STARTED: "a plan, no run yet",
}


def _cluster(index: int) -> ClusterResult:
    outcome = list(Outcome)[index % len(Outcome)]
    total = 3 + index % 5
    done = total if outcome is Outcome.COMPLETED else index % total
    failed = outcome in (Outcome.FAILED, Outcome.STALE, Outcome.NOT_RUN)
    error = ErrorInfo("InputError" if index == HOSTILE_AT else "RemoteError", 2 if index == HOSTILE_AT else 5, "")
    return ClusterResult(
        HOSTILE_NAME if index == HOSTILE_AT else f"{GROUPS[index % 3]}-{REGIONS[index // 3 % 3][:2]}-{index:02d}",
        f"11112222{index % 4:04d}",
        REGIONS[index // 3 % 3],
        index,
        outcome,
        message=MESSAGES.get(outcome, ""),
        mode="API_AND_CONFIG_MAP" if done else "CONFIG_MAP",
        target="API",
        steps_done=done,
        steps_total=total,
        gates_passed=("API_AND_CONFIG_MAP",) if done else (),
        blockers=("SYSTEM_GROUP_MAPPING",) if outcome is Outcome.BLOCKED else (),
        verified={"ok": index % 2 == 0, "counts": {"equivalent": 4}} if outcome is Outcome.COMPLETED else None,
        error=ErrorInfo(error.type, error.exit_code, HOSTILE_ERROR if index == HOSTILE_AT else "EKS said no")
        if failed or index == HOSTILE_AT
        else None,
    )


CLUSTERS = tuple(_cluster(i) for i in range(30))
REPORT = BatchReport(
    "status", CLUSTERS, inventory="fleet.yaml", fleet=FleetSet.of(c.identity for c in CLUSTERS)
)  # fmt: skip
NAMES = [c.name for c in CLUSTERS]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboard") / "fleet.html"
    path.write_text(render_dashboard(REPORT), encoding="utf-8")
    return path


@pytest.fixture
def page(browser: WebDriver, dashboard: Path) -> Iterator[WebDriver]:
    """The dashboard freshly loaded, the logs read empty first."""
    page_requests(browser)
    console_errors(browser)
    browser.get(dashboard.as_uri())
    yield browser


def _visible_names(driver: WebDriver) -> list[str]:
    """The cluster column of the rows the browser lays out (a hidden row has no box), top to bottom."""
    names: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#clusters tbody tr'))"
        ".filter((row) => row.getClientRects().length > 0).map((row) => row.cells[1].textContent)"
    )
    return names


def _shown(driver: WebDriver) -> str:
    text: str = driver.find_element("css selector", "#shown").text
    return text


def _click_header(driver: WebDriver, column: str) -> None:
    for button in driver.find_elements("css selector", "#clusters thead th button"):
        if button.text == column:
            button.click()
            return
    raise AssertionError(f"no sortable header {column!r}")


def test_the_page_renders_with_its_own_style_and_script(page: WebDriver) -> None:
    assert page.title == "aws-auth-migrate: batch status (fleet.yaml)"
    # The style and the script are allowed by their hashes in the CSP: a mismatch would leave the table unstyled,
    # the controls hidden, and a violation in the console.
    assert page.execute_script("return getComputedStyle(document.getElementById('clusters')).borderCollapse") == (
        "collapse"
    )
    assert page.find_element("css selector", "#controls").is_displayed()
    assert _shown(page) == "30 of 30 cluster(s) shown"
    assert console_errors(page) == []


def test_the_table_shows_every_cluster_with_hostile_text_as_text(page: WebDriver) -> None:
    assert _visible_names(page) == NAMES
    outcomes = page.execute_script(
        "return Array.from(document.querySelectorAll('#clusters tbody tr')).map((row) => row.dataset.outcome)"
    )
    assert outcomes == [c.outcome.value for c in CLUSTERS]
    row = page.find_elements("css selector", "#clusters tbody tr")[HOSTILE_AT]
    cells = row.find_elements("css selector", "td")
    assert cells[1].text == HOSTILE_NAME
    assert cells[5].text == f"{CLUSTERS[HOSTILE_AT].steps_done}/{CLUSTERS[HOSTILE_AT].steps_total}"
    assert cells[9].text == f"exit 2 (InputError): {HOSTILE_ERROR}"
    # Nothing of the hostile text became markup: the page's one script, no image, nothing ran.
    assert page.execute_script("return [document.scripts.length, document.images.length, window.pwned]") == [
        1,
        0,
        None,
    ]
    assert console_errors(page) == []


def test_typing_in_the_filter_box_hides_the_rows_without_every_word(page: WebDriver) -> None:
    box = page.find_element("css selector", "#filter")
    box.send_keys("PROD")
    prod = [c.name for c in CLUSTERS if c.name.startswith("prod-")]
    assert _visible_names(page) == prod and 0 < len(prod) < len(NAMES)
    assert _shown(page) == f"{len(prod)} of 30 cluster(s) shown"
    box.send_keys(" us-east-1")
    assert _visible_names(page) == [c.name for c in CLUSTERS if c.name.startswith("prod-") and c.region == "us-east-1"]
    box.clear()
    box.send_keys("window.pwned=2")  # the hostile error, found as the text it is
    assert _visible_names(page) == [HOSTILE_NAME]
    box.clear()
    box.send_keys(" ")  # an input event with nothing to match: every row again
    assert _visible_names(page) == NAMES


def test_the_outcome_and_attention_filters_hide_the_other_rows(page: WebDriver) -> None:
    page.find_element("css selector", '#outcome option[value="failed"]').click()
    failed = [c.name for c in CLUSTERS if c.outcome is Outcome.FAILED]
    assert _visible_names(page) == failed and failed
    page.find_element("css selector", '#outcome option[value=""]').click()
    page.find_element("css selector", "#attention").click()
    assert _visible_names(page) == [c.name for c in CLUSTERS if not c.ok]
    assert len(_visible_names(page)) < len(NAMES)


def test_clicking_a_header_sorts_by_it_and_again_reverses(page: WebDriver) -> None:
    def progress(c: ClusterResult) -> float:
        return c.steps_done / c.steps_total if c.steps_total else -1

    _click_header(page, "Steps")
    assert _visible_names(page) == [c.name for c in sorted(CLUSTERS, key=lambda c: (progress(c), c.index))]
    _click_header(page, "Steps")
    assert _visible_names(page) == [c.name for c in sorted(CLUSTERS, key=lambda c: (-progress(c), c.index))]
    assert page.find_element("css selector", "#clusters th[aria-sort]").text.startswith("Steps")
    _click_header(page, "Cluster")  # the names differ in a letter or digit before anything else: no locale matters
    assert _visible_names(page) == sorted(NAMES)
    _click_header(page, "#")
    _click_header(page, "#")
    assert _visible_names(page) == NAMES[::-1]
    # A filter applies to the sorted rows and keeps their order.
    page.find_element("css selector", "#filter").send_keys("stage")
    assert _visible_names(page) == [n for n in NAMES[::-1] if n.startswith("stage-")]


def test_without_javascript_the_whole_table_is_there(browser: WebDriver, dashboard: Path) -> None:
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(dashboard.as_uri())
        rows = browser.find_elements("css selector", "#clusters tbody tr")
        assert [row.find_elements("css selector", "td")[1].text for row in rows] == NAMES
        assert all(row.is_displayed() for row in rows)
        assert not browser.find_element("css selector", "#controls").is_displayed()  # useless without the script
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_no_request_leaves_the_page(page: WebDriver, dashboard: Path) -> None:
    page.find_element("css selector", "#filter").send_keys("prod")
    _click_header(page, "Verified")
    page.find_element("css selector", "#attention").click()
    assert page_requests(page) == [dashboard.as_uri()]  # the file itself, and nothing else
    assert console_errors(page) == []


def test_the_request_check_sees_a_request_an_escaping_bug_would_make(
    browser: WebDriver, dashboard: Path, tmp_path: Path
) -> None:
    """The check above can fail: the same page with one unescaped image (what a missed escape would make) is
    seen asking for it, even though its CSP blocks it."""
    broken = tmp_path / "broken.html"
    leak = "http://127.0.0.1:9/leak.png"
    text = dashboard.read_text(encoding="utf-8")
    broken.write_text(text.replace("<h1>", f'<img src="{leak}"><h1>', 1), encoding="utf-8")
    page_requests(browser)
    console_errors(browser)
    browser.get(broken.as_uri())
    requests: list[Any] = page_requests(browser)
    assert requests == [broken.as_uri(), leak]
    assert any("Content Security Policy" in e for e in console_errors(browser))
