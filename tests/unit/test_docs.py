"""The docs site stays true to the code, and the README stays a short front page.

Every finding code of the catalogue and every exit code has its row in the reference (and the reference names no
other), every command and option of the CLI is on its reference page (and no page documents an option its command
lacks), the README and the getting-started page show the two commands first, and every relative link in the README
and the docs resolves. `make lint` builds the site with `mkdocs build --strict`, which checks the docs' links too;
these checks need no build.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from migrator.cli import app
from migrator.errors import EXIT_CODES
from migrator.rules.findings import RULES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
NOT_COMMAND_PAGES = {"index.md", "finding-codes.md", "exit-codes.md", "json-contracts.md"}
README_MAX_LINES = 150


def _rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row (separator rows left out); `\\|` inside a cell is not a border."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[\s:|-]+\|", line):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


def _commands() -> dict[str, Any]:
    """Every command the CLI runs, by its name as typed ("plan", "batch apply", ...)."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                if not sub.hidden:
                    walk(sub, (*path, name))
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()


def _page(command: str) -> Path:
    return REFERENCE / f"{command.replace(' ', '-')}.md"


def _options_in_help(command: Any) -> set[str]:
    """What `--help` lists: every visible option's names, and --help itself."""
    params = [p for p in command.params if p.param_type_name == "option" and not p.hidden]
    return {name for p in params for name in (*p.opts, *p.secondary_opts)} | {"--help"}


def _documented(page: str, kind: str) -> set[str]:
    """The names in the first column of the page's option (`--x`) or argument (`NAME`) tables."""
    pattern = r"`(-{1,2}[A-Za-z][\w-]*)`" if kind == "option" else r"`([A-Z][A-Z0-9_]*)`"
    tables = [row for row in _rows(page) if len(row) >= 2]
    return {name for row in tables for name in re.findall(pattern, row[0])}


# --- finding codes and exit codes --------------------------------------------------------------------------------


def test_every_finding_code_has_its_row_with_severity_meaning_and_what_to_do() -> None:
    lines = (REFERENCE / "finding-codes.md").read_text().splitlines()
    missing = [c for c, r in RULES.items() if f"| `{c}` | {r.severity.value} | {r.meaning} | {r.action} |" not in lines]
    assert missing == []


def test_the_finding_code_reference_names_each_code_once_and_no_code_the_catalogue_lacks() -> None:
    rows = _rows((REFERENCE / "finding-codes.md").read_text())
    documented = [row[0].strip("`") for row in rows if re.fullmatch(r"`[A-Z][A-Z0-9_]*`", row[0])]
    assert sorted(set(documented) - set(RULES)) == []
    assert len(documented) == len(set(documented))


def test_every_exit_code_has_its_row_with_its_meaning() -> None:
    lines = (REFERENCE / "exit-codes.md").read_text().splitlines()
    missing = [code for code, meaning in EXIT_CODES if f"| {code} | {meaning} |" not in lines]
    assert missing == []


def test_the_exit_code_reference_lists_no_code_the_tool_does_not_use() -> None:
    rows = _rows((REFERENCE / "exit-codes.md").read_text())
    documented = [int(row[0]) for row in rows if row[0].isdigit()]
    assert sorted(documented) == sorted(code for code, _ in EXIT_CODES)


# --- the command reference ---------------------------------------------------------------------------------------


def test_the_cli_has_the_commands_the_reference_expects() -> None:
    """A guard for the checks below: if the walk over the CLI found nothing, they would pass on nothing."""
    assert {"plan", "apply", "verify", "sandbox serve", "batch apply", "batch report"} <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_reference_page_with_each_option_of_its_help(command: str) -> None:
    page = _page(command).read_text()
    assert page.startswith(f"# {command}\n")
    documented = _documented(page, "option")
    expected = _options_in_help(COMMANDS[command])
    assert sorted(expected - documented) == [], f"{_page(command).name} lacks options of `{command} --help`"
    assert sorted(documented - expected) == [], f"{_page(command).name} documents options `{command}` lacks"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_argument_of_a_command_is_on_its_reference_page(command: str) -> None:
    arguments = {p.name.upper() for p in COMMANDS[command].params if p.param_type_name == "argument"}
    assert arguments == _documented(_page(command).read_text(), "argument")


def test_the_command_index_lists_every_command_and_the_global_options() -> None:
    index = (REFERENCE / "index.md").read_text()
    missing = [c for c in COMMANDS if f"[`{c}`]({_page(c).name})" not in index]
    assert missing == []
    root = typer.main.get_command(app)
    assert _options_in_help(root) <= _documented(index, "option")


def test_every_reference_page_is_of_a_command_the_cli_has() -> None:
    pages = {p.name for p in REFERENCE.glob("*.md")} - NOT_COMMAND_PAGES
    assert sorted(pages - {_page(c).name for c in COMMANDS}) == []


# --- the README and the getting-started page ---------------------------------------------------------------------


def _first_code_block(text: str) -> str:
    return text.split("```")[1]


def test_the_readme_is_a_short_front_page() -> None:
    assert len(README.read_text().splitlines()) <= README_MAX_LINES


@pytest.mark.parametrize("path", [README, DOCS / "getting-started.md", DOCS / "index.md"], ids=lambda p: p.name)
def test_the_two_commands_come_first(path: Path) -> None:
    text = path.read_text()
    first_block = _first_code_block(text)
    assert "make demo" in first_block and "make test" in first_block
    assert text.index("```") < text.index("\n## ")  # before any section: the title, then the two commands


# --- links ---------------------------------------------------------------------------------------------------------


def _prose(text: str) -> str:
    """The text outside fenced code blocks and code spans, where a link is a link."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"(`+).+?\1", "", text, flags=re.S)


def _slug(heading: str) -> str:
    """The anchor MkDocs' toc gives a heading (Python-Markdown's default slugify, on the heading's text)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").replace("**", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+?)\s*$", text, flags=re.M)}


def _broken_links(path: Path) -> list[str]:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(path.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.is_file() or (anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved)):
            broken.append(target)
    return broken


DOC_FILES = sorted(DOCS.rglob("*.md"))


@pytest.mark.parametrize("path", [README, *DOC_FILES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert _broken_links(path) == []


def test_the_readme_links_to_the_docs_pages() -> None:
    linked = {t.partition("#")[0] for t in re.findall(r"\]\((docs/[^)\s]+)\)", README.read_text())}
    pages = {"getting-started", "concepts", "reference/index", "reference/finding-codes", "reference/exit-codes"}
    assert {f"docs/{page}.md" for page in pages | {"reference/json-contracts", "run-state", "safety"}} <= linked


def test_a_broken_link_is_caught(tmp_path: Path) -> None:
    """The link check can fail: a missing page and a missing anchor are both reported."""
    (tmp_path / "a.md").write_text("# A\n\n## Here\n\n[ok](a.md#here) [gone](b.md#here) [no anchor](a.md#there)\n")
    assert _broken_links(tmp_path / "a.md") == ["b.md#here", "a.md#there"]


# --- the site builds offline -------------------------------------------------------------------------------------


def test_the_site_fetches_nothing_at_build_time() -> None:
    """No web fonts, no social cards, no privacy plugin: plugins that download at build time break offline CI."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["name"] == "material" and config["theme"]["font"] is False
    assert [p if isinstance(p, str) else next(iter(p)) for p in config.get("plugins", [])] == ["search"]
