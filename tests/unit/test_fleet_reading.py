"""Reading batch reports back: the JSON the writer makes reads back as the same report, and anything else, a
field of the wrong type, a number out of range, deep nesting, a mutated or truncated file, is an InputError
(exit 2) naming the file and the field, never another exception."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from migrator.cli.render.batch import print_batch
from migrator.errors import InputError
from migrator.fleet.reading import MAX_DEPTH, read_report
from migrator.fleet.report import BatchReport, ClusterResult, ErrorInfo, FleetSet, Outcome, Timing

WHERE = "r.json"


def _report() -> BatchReport:
    """A report with every kind of field set somewhere."""
    clusters = (
        ClusterResult(
            "alpha", "111122223333", "eu-west-1", 0, Outcome.COMPLETED, message="every step is done",
            plan_file="plans/a.plan.yaml", plan_id="abc", mode="API", target="API", steps_done=4, steps_total=4,
            gates_passed=("API_AND_CONFIG_MAP", "API"), findings={"warning": 2, "info": 1}, canary=True,
            verified={"ok": True, "counts": {"equivalent": 3}}, timing=Timing("2026-01-01T00:00:00Z", 1.5),
        ),
        ClusterResult(
            "bravo", None, "us-west-2", 1, Outcome.STALE, message="changed", steps_total=3, blockers=("SYSTEM_GROUP",),
            error=ErrorInfo("StalePlanError", 3, "the cluster changed"), verified={"ok": False, "error": "no"},
        ),
        ClusterResult("charlie", None, "us-east-1", 2, Outcome.NOT_RUN, skipped=True),
    )  # fmt: skip
    fleet = FleetSet.of(c.identity for c in clusters)
    return BatchReport("apply", clusters, inventory="fleet.yaml", shard="2/3", fleet=fleet)


VALID = json.loads(_report().to_json())


def _read(data: Any) -> BatchReport:
    return read_report(json.dumps(data), WHERE)


def test_a_written_report_reads_back_as_itself() -> None:
    report = _report()
    assert read_report(report.to_json(), WHERE) == report
    assert read_report(report.to_json(), WHERE).to_json() == report.to_json()


def test_a_report_of_an_older_version_without_a_fleet_reads() -> None:
    older = {k: v for k, v in VALID.items() if k != "fleet"}
    assert _read(older).fleet is None


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(VALID))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("clusters", 0), "alpha", "clusters[0]: must be a mapping, not a string ('alpha')"),
        (("clusters",), {"a": 1}, "clusters: must be a list, not a mapping"),
        (("interrupted",), "false", "interrupted: must be true or false (a JSON bool), not a string ('false')"),
        (("interrupted",), 0, "interrupted: must be true or false (a JSON bool), not a number (0)"),
        (("clusters", 0, "canary"), "true", "clusters[0].canary: must be true or false"),
        (("clusters", 0, "index"), 1.0, "clusters[0].index: must be a JSON integer from 0 to 999999, not a number"),
        (("clusters", 0, "index"), -1, "clusters[0].index: must be a JSON integer from 0 to 999999"),
        (("clusters", 0, "index"), 10**30, "clusters[0].index: must be a JSON integer from 0 to 999999"),
        (("clusters", 0, "stepsDone"), 5, "clusters[0].stepsDone: must be a JSON integer from 0 to 4, not a number"),
        (("clusters", 0, "outcome"), "done", "clusters[0].outcome: must be one of planned, completed"),
        (("clusters", 0, "mode"), "CONFIGMAP", "clusters[0].mode: must be one of CONFIG_MAP, API_AND_CONFIG_MAP, API"),
        (("clusters", 0, "account"), 111122223333, "clusters[0].account: must be 12 digits, not a number"),
        (("clusters", 0, "name"), "", "clusters[0].name: must be an EKS cluster name"),
        (("clusters", 0, "findings"), {"severe": 1}, "clusters[0].findings.severe: unknown key"),
        (("clusters", 0, "verified"), {"ok": "yes"}, "clusters[0].verified.ok: must be true or false"),
        (("clusters", 0, "verified"), [[["deep"]]], "clusters[0].verified: must be a mapping, not a list"),
        (("clusters", 1, "error", "exitCode"), 1e300, "clusters[1].error.exitCode: must be a JSON integer from 0"),
        (("clusters", 0, "timing", "seconds"), "1.5", "clusters[0].timing.seconds: must be a number of seconds"),
        (("clusters", 0, "colour"), "red", "clusters[0].colour: unknown key"),
        (("shard",), "4/3", "shard: must be a shard I/N with 1 <= I <= N, not a string ('4/3')"),
        (("mergedFrom",), ["1/3"], "mergedFrom: a report is of one shard or merged from shards, not both"),
        (("fleet", "sha256"), "x", "fleet.sha256: must be 64 lowercase hex digits"),
        (("ok",), True, "ok: says true, but its clusters make it false"),
        (("exitCode",), 0, "exitCode: says 0, but its clusters make it 5"),
        (("clusters", 0, "ok"), False, "clusters[0].ok: says false, but its clusters make it true"),
        (("command",), None, "command: must be one of plan, apply, status, rollback, not null"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_or_range_is_bad_input_naming_it(
    path: tuple[str | int, ...], value: Any, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        _read(_with(path, value))
    assert str(caught.value).startswith(f"{WHERE}: {words}")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "not JSON: Expecting value (column 1)"),
        ('{\n  "schema": }', "r.json:2: not JSON: Expecting value (column 13)"),
        ("[" * 100_000 + "]" * 100_000, f"nested deeper than a batch report ({MAX_DEPTH} levels)"),
        ('{"a": ' * 50 + "1" + "}" * 50, "nested deeper"),
        ('{"schema": "aws-auth-migrate/batch-report/v1", "schema": "x"}', "key 'schema' is given twice"),
        ('{"index": Infinity}', "Infinity is not a JSON number"),
        ('"[[[[[[[[[[[[[[[[[["', "not a aws-auth-migrate/batch-report/v1 report"),  # brackets in a string
    ],
)
def test_text_that_is_no_report_is_bad_input(text: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        read_report(text, WHERE)
    assert str(caught.value).startswith(WHERE) and words in str(caught.value)


def test_an_odd_key_is_quoted_and_cut_short() -> None:
    with pytest.raises(InputError) as caught:
        _read(_with(("clusters", 0, "a\nb" * 30), 1))
    cut = repr("a\nb" * 12 + "a")  # the first 37 characters
    assert str(caught.value) == f"{WHERE}: clusters[0][{cut}...]: unknown key"


def test_a_missing_field_is_named() -> None:
    data = json.loads(json.dumps(VALID))
    del data["clusters"][2]["timing"]
    with pytest.raises(InputError, match=r"^r\.json: clusters\[2\]\.timing: missing$"):
        _read(data)


# --- mutated reports (property) ------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "false", "true", "1/3", "API", "completed", "111122223333", "eu-west-1", "1e999"])
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


PATHS = _paths(VALID)[1:]


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    data = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            kind = draw(st.sampled_from(["replace", "delete", "add"]))
            if kind == "replace":
                parent[last] = draw(JSON_VALUES)
            elif kind == "delete":
                del parent[last]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(JSON_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped this path
    text = json.dumps(data, indent=draw(st.sampled_from([None, 2])))
    if draw(st.booleans()):  # and sometimes the bytes too: cut, or a character in
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(st.sampled_from(["", "{", "[", '"', "1e999", "NaN", ",", "\x00"])) + text[at:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_texts())
def test_a_mutated_report_reads_as_a_report_or_is_bad_input_naming_the_file(text: str) -> None:
    try:
        report = read_report(text, WHERE)
    except InputError as error:
        assert str(error).startswith(f"{WHERE}:") and error.exit_code == 2  # `r.json: ` or `r.json:LINE: `
        assert "\n" not in str(error)
        return
    # What is read is a report like any written one: it writes back as itself and renders.
    assert read_report(report.to_json(), WHERE) == report
    print_batch(report, Console(file=io.StringIO(), width=200))
