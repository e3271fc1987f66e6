"""The README documents every finding code (with its severity) and every exit code the tool uses."""

from __future__ import annotations

from pathlib import Path

from migrator.errors import EXIT_CODES
from migrator.rules.findings import RULES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_finding_code_is_documented_with_its_severity() -> None:
    missing = [c for c, r in RULES.items() if f"| `{c}` | {r.severity.value} | {r.meaning} |" not in README]
    assert missing == []


def test_every_exit_code_is_documented() -> None:
    missing = [code for code, meaning in EXIT_CODES if f"| {code} | {meaning} |" not in README]
    assert missing == []


def test_the_two_commands_come_first() -> None:
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
