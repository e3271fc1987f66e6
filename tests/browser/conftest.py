"""A real headless browser for the HTML the tool writes: Debian's `chromium` and `chromium-driver`, driven by
selenium (the dev extra), started once per test module.

No chromium, chromedriver or selenium: the tests skip, unless AWS_AUTH_MIGRATE_REQUIRE_BROWSER=1 (`.ci/run` sets
it once it has installed them), when they fail. A browser that is there but does not start always fails.

The browser logs every DevTools Network event of the page (`goog:loggingPrefs` performance) and its console
(`browser`): `page_requests` is every URL the page asked for, a request Content-Security-Policy blocked included
(Chrome reports it as sent, then failed with blockedReason `csp`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver

REQUIRE_BROWSER_ENV = "AWS_AUTH_MIGRATE_REQUIRE_BROWSER"
CHROMIUM_NAMES = ("chromium", "chromium-browser")  # Debian's, then Ubuntu's name
CHROMEDRIVER = "chromedriver"  # Debian: chromium-driver


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when this run requires the browser."""
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{reason}, and this run requires it ({REQUIRE_BROWSER_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def _program(names: tuple[str, ...], debian: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    unavailable(f"{' or '.join(names)} is not installed (Debian: {debian})")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[dev]')")
    chromium = _program(CHROMIUM_NAMES, "chromium")
    driver_program = _program((CHROMEDRIVER,), "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium  # both given: selenium never looks for (or downloads) a browser itself
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespaces for Chrome's sandbox; the pages are our own
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_program))
    try:
        yield driver
    finally:
        driver.quit()


def page_requests(driver: WebDriver) -> list[str]:
    """The URL of every request the page made since the last call (the performance log is read, then empty)."""
    urls = []
    for entry in driver.get_log("performance"):
        message: dict[str, Any] = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def console_errors(driver: WebDriver) -> list[str]:
    """What the page logged as SEVERE since the last call: a CSP violation, a script error, a failed load."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
