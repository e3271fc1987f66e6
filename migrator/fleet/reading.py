"""Reading a batch report back (`batch report`, `batch report --merge`): strictly, as the report a batch
command wrote, or refused.

A report file is input like any other, and CI passes them between jobs: every field must have the JSON type
the writer gives it (a bool is a JSON bool, never the string "false"; an index is a JSON integer in range,
never 1e999), no key is unknown or given twice, nesting is bounded, and what the writer derives (`ok`,
`exitCode`, `summary`, each cluster's `ok`) must agree with the clusters. Anything else is an InputError
(exit 2), `FILE: FIELD: what is wrong`: never a traceback, never a guess.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from migrator.errors import InputError, SourceError
from migrator.fleet.inventory import ACCOUNT_RE, REGION_RE
from migrator.fleet.report import (
    BATCH_REPORT_SCHEMA,
    BatchReport,
    ClusterResult,
    ErrorInfo,
    FleetSet,
    Outcome,
    Timing,
)
from migrator.fleet.selection import SHARD_RE
from migrator.model import AuthMode, Severity
from migrator.rules.limits import CLUSTER_NAME_RE

COMMANDS = ("plan", "apply", "status", "rollback")
MAX_DEPTH = 8  # a report nests 5 deep (report > clusters > cluster > verified > counts)
MAX_INDEX = 999_999  # inventory positions and clusters per fleet
MAX_STEPS = 999_999
HINT = "pass the JSON reports that batch commands write (--report, or -o json), unedited"
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]")
_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
_ERROR_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")
_T = TypeVar("_T")

REPORT_KEYS = (
    "schema", "command", "inventory", "shard", "mergedFrom", "ok", "exitCode", "interrupted", "summary", "clusters",
)  # fmt: skip
CLUSTER_KEYS = (
    "name", "account", "region", "index", "outcome", "ok", "message", "planFile", "planId", "mode", "target",
    "stepsDone", "stepsTotal", "gatesPassed", "findings", "blockers", "canary", "skipped", "verified", "error",
    "timing",
)  # fmt: skip


class _Wrong(Exception):
    """What is wrong, and where in the document (`clusters[2].index`); InputError once the file is known."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(f"{path}: {what}" if path else what)


class _WrongValue(ValueError):
    """Raised from inside json.loads (a key twice, NaN): what is wrong, no position."""


def read_report(text: str, where: str) -> BatchReport:
    """The report in `text` (read from `where`); InputError (exit 2) `where: what is wrong` for anything else."""
    try:
        if _depth(text) > MAX_DEPTH:
            raise _Wrong("", f"nested deeper than a batch report ({MAX_DEPTH} levels)")
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        except RecursionError:
            raise _Wrong("", f"nested deeper than a batch report ({MAX_DEPTH} levels)") from None
        except _WrongValue as error:
            raise _Wrong("", str(error)) from None
        except json.JSONDecodeError as error:
            raise SourceError(where, error.lineno, f"not JSON: {error.msg} (column {error.colno})", hint=HINT) from None
        except ValueError as error:  # e.g. an integer of more digits than Python converts
            raise _Wrong("", f"not JSON: {error}") from None
        return _report(data)
    except _Wrong as wrong:
        raise InputError(f"{where}: {wrong}", hint=HINT) from None


def report_from_dict(data: Any, where: str) -> BatchReport:
    """The report in parsed JSON `data`, checked as `read_report` checks it."""
    try:
        return _report(data)
    except _Wrong as wrong:
        raise InputError(f"{where}: {wrong}", hint=HINT) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _WrongValue(f"key {key[:40]!r} is given twice")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise _WrongValue(f"{name} is not a JSON number")


def _depth(text: str) -> int:
    """How deep the brackets nest, outside strings: checked before parsing, so that a deep document costs
    neither a RecursionError nor a deep walk."""
    depth = deepest = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


# --- the document ------------------------------------------------------------------------------------------


def _report(data: Any) -> BatchReport:
    if not isinstance(data, dict) or data.get("schema") != BATCH_REPORT_SCHEMA:
        raise _Wrong("", f"not a {BATCH_REPORT_SCHEMA} report")
    _keys(data, "", REPORT_KEYS, ("fleet",))
    clusters = tuple(_cluster(item, f"clusters[{i}]") for i, item in enumerate(_list(data["clusters"], "clusters")))
    report = BatchReport(
        command=_choice(data["command"], "command", COMMANDS),
        clusters=clusters,
        inventory=_text(data["inventory"], "inventory"),
        shard=_optional(data["shard"], "shard", _shard),
        merged_from=tuple(_shard(s, f"mergedFrom[{i}]") for i, s in enumerate(_list(data["mergedFrom"], "mergedFrom"))),
        interrupted=_bool(data["interrupted"], "interrupted"),
        fleet=_optional(data.get("fleet"), "fleet", _fleet),
    )
    if report.shard is not None and report.merged_from:
        raise _Wrong("mergedFrom", "a report is of one shard or merged from shards, not both")
    _agrees(_bool(data["ok"], "ok"), report.ok, "ok")
    _agrees(_integer(data["exitCode"], "exitCode", 0, 255), report.exit_code, "exitCode")
    summary = {k: _integer(v, _at("summary", k), 1, MAX_INDEX) for k, v in _mapping(data["summary"], "summary").items()}
    _agrees(summary, report.summary(), "summary")
    return report


def _cluster(data: Any, path: str) -> ClusterResult:
    node = _mapping(data, path)
    _keys(node, path, CLUSTER_KEYS)

    def at(key: str) -> str:
        return f"{path}.{key}"

    steps_total = _integer(node["stepsTotal"], at("stepsTotal"), 0, MAX_STEPS)
    result = ClusterResult(
        name=_matching(node["name"], at("name"), CLUSTER_NAME_RE, "an EKS cluster name"),
        account=_optional(node["account"], at("account"), lambda v, p: _matching(v, p, ACCOUNT_RE, "12 digits")),
        region=_matching(node["region"], at("region"), REGION_RE, "an AWS region name"),
        index=_integer(node["index"], at("index"), 0, MAX_INDEX),
        outcome=Outcome(_choice(node["outcome"], at("outcome"), tuple(o.value for o in Outcome))),
        message=_text(node["message"], at("message")),
        plan_file=_optional(node["planFile"], at("planFile"), _text),
        plan_id=_optional(node["planId"], at("planId"), _text),
        mode=_optional(node["mode"], at("mode"), _mode),
        target=_optional(node["target"], at("target"), _mode),
        steps_done=_integer(node["stepsDone"], at("stepsDone"), 0, steps_total),
        steps_total=steps_total,
        gates_passed=tuple(
            _mode(g, f"{at('gatesPassed')}[{i}]") for i, g in enumerate(_list(node["gatesPassed"], at("gatesPassed")))
        ),
        findings=_counts(node["findings"], at("findings"), tuple(s.value for s in Severity)),
        blockers=tuple(
            _matching(b, f"{at('blockers')}[{i}]", _CODE, "a finding code")
            for i, b in enumerate(_list(node["blockers"], at("blockers")))
        ),
        canary=_bool(node["canary"], at("canary")),
        skipped=_bool(node["skipped"], at("skipped")),
        verified=_optional(node["verified"], at("verified"), _verified),
        error=_optional(node["error"], at("error"), _error),
        timing=_optional(node["timing"], at("timing"), _timing),
    )
    _agrees(_bool(node["ok"], at("ok")), result.ok, at("ok"))
    return result


def _verified(data: Any, path: str) -> dict[str, Any]:
    node = _mapping(data, path)
    _keys(node, path, ("ok",), ("counts", "error"))
    verified: dict[str, Any] = {"ok": _bool(node["ok"], f"{path}.ok")}
    if "counts" in node:
        verified["counts"] = _counts(node["counts"], f"{path}.counts")
    if "error" in node:
        verified["error"] = _text(node["error"], f"{path}.error")
    return verified


def _error(data: Any, path: str) -> ErrorInfo:
    node = _mapping(data, path)
    _keys(node, path, ("type", "exitCode", "message"))
    return ErrorInfo(
        _matching(node["type"], f"{path}.type", _ERROR_TYPE, "an error type name"),
        _integer(node["exitCode"], f"{path}.exitCode", 0, 255),
        _text(node["message"], f"{path}.message"),
    )


def _timing(data: Any, path: str) -> Timing:
    node = _mapping(data, path)
    _keys(node, path, ("startedAt", "seconds"))
    seconds = node["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        raise _Wrong(f"{path}.seconds", f"must be a number of seconds, not {_shown(seconds)}")
    return Timing(_text(node["startedAt"], f"{path}.startedAt"), float(seconds))


def _fleet(data: Any, path: str) -> FleetSet:
    node = _mapping(data, path)
    _keys(node, path, ("clusters", "sha256"))
    return FleetSet(
        _integer(node["clusters"], f"{path}.clusters", 0, MAX_INDEX),
        _matching(node["sha256"], f"{path}.sha256", _SHA256, "64 lowercase hex digits"),
    )


def _shard(value: Any, path: str) -> str:
    text = _text(value, path)
    match = SHARD_RE.fullmatch(text)
    if match is None or int(match[1]) > int(match[2]):
        raise _Wrong(path, f"must be a shard I/N with 1 <= I <= N, not {_shown(value)}")
    return text


def _mode(value: Any, path: str) -> str:
    return _choice(value, path, tuple(m.value for m in AuthMode))


def _counts(data: Any, path: str, names: tuple[str, ...] | None = None) -> dict[str, int]:
    node = _mapping(data, path)
    if names is not None:
        _keys(node, path, (), names)
    return {key: _integer(value, _at(path, key), 0, MAX_STEPS) for key, value in node.items()}


# --- values ------------------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    kinds = {bool: "a bool", str: "a string", int: "a number", float: "a number", list: "a list", dict: "a mapping"}
    if value is None:
        return "null"
    kind = kinds.get(type(value), type(value).__name__)
    if isinstance(value, list | dict):
        return kind
    shown = repr(value)
    return f"{kind} ({shown if len(shown) <= 40 else shown[:37] + '...'})"


def _at(path: str, key: str) -> str:
    """The path of `key` under `path`: `a.b` for a plain key, `a['odd key']` (quoted, cut short) for others."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    shown = repr(key) if len(key) <= 40 else repr(key[:37]) + "..."
    return f"{path}[{shown}]"


def _keys(node: Mapping[str, Any], path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    for key in node:
        if key not in required and key not in optional:
            raise _Wrong(_at(path, key), "unknown key")
    for key in required:
        if key not in node:
            raise _Wrong(_at(path, key), "missing")


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Wrong(path, f"must be a mapping, not {_shown(value)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Wrong(path, f"must be a list, not {_shown(value)}")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _Wrong(path, f"must be a string, not {_shown(value)}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Wrong(path, f"must be true or false (a JSON bool), not {_shown(value)}")
    return value


def _integer(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Wrong(path, f"must be a JSON integer from {low} to {high}, not {_shown(value)}")
    return value


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _Wrong(path, f"must be one of {', '.join(choices)}, not {_shown(value)}")
    return value


def _matching(value: Any, path: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _Wrong(path, f"must be {what}, not {_shown(value)}")
    return value


def _optional(value: Any, path: str, read: Callable[[Any, str], _T]) -> _T | None:
    return None if value is None else read(value, path)


def _agrees(written: Any, derived: Any, path: str) -> None:
    if written != derived:
        raise _Wrong(path, f"says {json.dumps(written)}, but its clusters make it {json.dumps(derived)}")
