"""A plan file is input: whatever it holds, loading it is exit 2 with file:line, fast, and builds nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from migrator.errors import InputError
from migrator.plan.planfile import load_plan

BOMB = "schema: aws-auth-migrate/plan/v3\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
)


def load(tmp_path: Path, text: str) -> InputError:
    path = tmp_path / "p.plan.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as refused:
        load_plan(path)
    assert refused.value.exit_code == 2
    assert str(refused.value).startswith(f"{path}")
    return refused.value


def test_a_billion_laughs_plan_is_refused_fast_without_expanding(tmp_path: Path) -> None:
    started = time.monotonic()
    error = load(tmp_path, BOMB)
    assert time.monotonic() - started < 1
    assert "anchors and aliases are not allowed" in str(error)
    assert str(error).startswith(f"{tmp_path / 'p.plan.yaml'}:2: ")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    error = load(tmp_path, "schema: x\ndeep: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nested deeper than" in str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema: aws-auth-migrate/plan/v3\n? [a, b]\n: 1\n", "key that is not a string"),
        ("schema: aws-auth-migrate/plan/v3\n1: 2\n", "key that is not a string"),
        ("schema: aws-auth-migrate/plan/v3\ncreatedAt: 2026-01-01\n", "createdAt is a date"),
        ("schema: [aws-auth-migrate/plan/v3]\n", "schema is not a string"),
        ("schema: !!binary aGk=\n", "tags"),
        ("- 1\n- 2\n", "no schema key"),
        ("schema: aws-auth-migrate/plan/v3\nx: 1\n---\ny: 2\n", "invalid YAML"),
    ],
)
def test_malformed_plan_content_is_exit_2(tmp_path: Path, text: str, message: str) -> None:
    assert message in str(load(tmp_path, text))
