"""The plan file's YAML writer and reader: whatever JSON-shaped data is written, ruamel's safe loader, our
one-pass reader and PyYAML (a reviewer's script, YAML 1.1) read back exactly that data; and the reader
makes of any plain YAML what ruamel's safe loader makes of it."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import yaml as pyyaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from migrator.errors import PlanIntegrityError
from migrator.plan.yamlread import read_yaml
from migrator.plan.yamltext import dump_yaml, scalar

TRICKY = st.sampled_from(
    [
        "",
        " ",
        "-",
        "- x",
        "?",
        ":",
        "a:",
        "a: b",
        "#x",
        "a #b",
        "*x",
        "&x",
        "!x",
        "|",
        ">",
        "'",
        '"',
        "%x",
        "@x",
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "N",
        "null",
        "~",
        "Null",
        "true",
        "False",
        "1",
        "-1",
        "+1",
        "0o17",
        "0x1f",
        "1_000",
        "1e3",
        ".5",
        ".inf",
        "-.inf",
        ".nan",
        "12:30",
        "1:2:3",
        "2026-11-30",
        "2026-11-30T17:13:47Z",
        "111122223333",
        "0001-backup-aws-auth",
        "arn:aws:iam::111122223333:role/a/b",
        "dev:{{SessionName}}",
        "[a]",
        "{a: b}",
        "a,b",
        "a\nb",
        "a\rb",
        "\t",
        "a\u2028b",
        "\u0085",
        "\ufeff",
        "\x7f",
        "\x00",
        "é",
        "😀",
        "...",
        "---",
        "a b",
        " a",
        "a ",
        "=",
        "<<",
        "*",
        "system:masters",
        "a::",
        "::a",
    ]
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(), TRICKY)
KEYS = st.one_of(st.text(), TRICKY)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=30,
)


def _ruamel(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, DATA, max_size=5))
def test_ruamel_and_our_reader_read_back_what_was_written(data: dict[str, Any]) -> None:
    text = dump_yaml(data)
    assert _ruamel(text) == (data or None)
    assert read_yaml(text, "p") == (data or None)


HAND_WRITTEN = [
    "a: 1\nb: -0x1f\nc: 0o17\nd: 1_000\ne: 1.5e3\nf: .inf\ng: ~\nh: null\ni: True\nj: FALSE\nk: yes\n",
    "a: '1'\nb: \"x\\ty\"\nc: |\n  two\n  lines\nd: >\n  folded\n  text\ne: 2026-01-01\n",
    "- [a, {b: c}, []]\n- {}\n- - x\n  - y\n-\n",
    "{a: [1, 2], 'b': {c: d}}\n",
    "",
    "just a string\n",
]


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_our_reader_makes_of_plain_yaml_what_ruamel_makes_of_it(text: str) -> None:
    assert read_yaml(text, "p") == _ruamel(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "p:2: duplicate key 'a'"),
        ("a: {b: 1}\n<<: {c: 2}\n", "merge keys"),
        ("a: &x 1\nb: *x\n", "anchors and aliases"),
        ("a: !!str 1\n", "tags"),
        ("a: 1\n---\nb: 2\n", "one YAML document"),
        ("? [a]\n: 1\n", "key that is not a string"),
        ("a: " + "[" * 40 + "]" * 40 + "\n", "nested deeper than"),
    ],
)
def test_our_reader_refuses_what_a_plan_never_holds(text: str, message: str) -> None:
    with pytest.raises(PlanIntegrityError, match=re.escape(message)):
        read_yaml(text, "p")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, DATA, min_size=1, max_size=5))
def test_pyyaml_reads_back_what_was_written(data: dict[str, Any]) -> None:
    assert pyyaml.safe_load(dump_yaml(data)) == data


@pytest.mark.parametrize("text", ["yes", "no", "on", "12:30", "111122223333", "2026-11-30T17:13:47Z", "a: b"])
def test_strings_another_reader_would_take_for_something_else_are_quoted(text: str) -> None:
    assert scalar(text).startswith('"')


def test_a_plan_like_document_reads_as_a_person_would_write_it() -> None:
    data = {
        "schema": "aws-auth-migrate/plan/v3",
        "entries": [
            {
                "principalArn": "arn:aws:iam::111122223333:role/Dev",
                "kubernetesGroups": ["dev", "system:masters"],
                "policies": [
                    {
                        "policyArn": "arn:aws:eks::aws:cluster-access-policy/X",
                        "accessScope": {"type": "cluster", "namespaces": []},
                    }
                ],
                "current": None,
            }
        ],
        "steps": [{"id": "01-create-entry", "params": {"principalArn": "arn:aws:iam::111122223333:role/Dev"}}],
    }
    assert dump_yaml(data) == (
        "schema: aws-auth-migrate/plan/v3\n"
        "entries:\n"
        "- principalArn: arn:aws:iam::111122223333:role/Dev\n"
        "  kubernetesGroups: [dev, system:masters]\n"
        "  policies:\n"
        "  - policyArn: arn:aws:eks::aws:cluster-access-policy/X\n"
        "    accessScope: {type: cluster, namespaces: []}\n"
        "  current: null\n"
        "steps:\n"
        "- id: 01-create-entry\n"
        "  params: {principalArn: arn:aws:iam::111122223333:role/Dev}\n"
    )
