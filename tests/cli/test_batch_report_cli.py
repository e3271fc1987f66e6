"""`batch report` and `batch report --merge` through the real CLI, on reports the CLI itself wrote (`batch
status` of an out-dir without plans: no AWS or Kubernetes call): a merge proves the shards make one whole
batch, and a malformed report is exit 2 `FILE: what is wrong`, never a traceback, never exit 1 or 130."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migrator.app.state import StateAccess
from migrator.cli.batch import _check_outputs
from migrator.errors import InputError
from tests.cli.conftest import run_cli

Cli = Callable[..., subprocess.CompletedProcess[str]]

# Eight clusters: the three shards of 3 each hold some (sha256 of account/region/name, see --shard).
INVENTORY = "schema: aws-auth-migrate/inventory/v1\ndefaults: {region: eu-west-1, account: '111122223333'}\n" + (
    "clusters:\n" + "".join(f"  - {{name: c{i}}}\n" for i in range(8))
)


@pytest.fixture(scope="module")
def shard_reports(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Written once for the module (read-only for the tests)."""
    folder = tmp_path_factory.mktemp("shards")
    (folder / "fleet.yaml").write_text(INVENTORY)
    paths = []
    for index in (1, 2, 3):
        path = folder / f"status-{index}.json"
        result = run_cli("batch", "status", "fleet.yaml", "--shard", f"{index}/3", "--report", str(path), cwd=folder)
        assert result.returncode == 0, result.stderr
        assert json.loads(path.read_text())["clusters"], "every shard holds a cluster"
        paths.append(path)
    return paths


def test_a_merge_of_every_shard_is_the_fleet(cli: Cli, shard_reports: list[Path]) -> None:
    merged = cli("batch", "report", "--merge", *map(str, reversed(shard_reports)), "-o", "json")
    assert merged.returncode == 5, merged.stderr  # the fleet's exit code: clusters without plans are failed
    report = json.loads(merged.stdout)
    assert report["exitCode"] == 5 and report["fleet"]["clusters"] == 8
    assert report["mergedFrom"] == ["1/3", "2/3", "3/3"]
    assert sorted(c["name"] for c in report["clusters"]) == [f"c{i}" for i in range(8)]


def test_a_merge_with_a_shard_missing_is_refused(cli: Cli, shard_reports: list[Path]) -> None:
    merged = cli("batch", "report", "--merge", str(shard_reports[1]), str(shard_reports[2]))
    assert merged.returncode == 2, merged.stdout
    assert "error: shard(s) 1/3 missing: the reports given hold 2 of 3 shards" in merged.stderr
    assert merged.stdout == ""


def test_a_merge_with_a_shard_twice_is_refused(cli: Cli, shard_reports: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy.json"
    shutil.copy(shard_reports[1], copy)
    merged = cli("batch", "report", "--merge", *map(str, shard_reports), str(copy))
    assert merged.returncode == 2, merged.stdout
    assert f"error: {copy}: " in merged.stderr and "also in" in merged.stderr


def test_a_merge_of_shards_of_two_fleets_is_refused(cli: Cli, shard_reports: list[Path], tmp_path: Path) -> None:
    # Shard 1/3 again, of the same inventory with a cluster more: another fleet, whatever its shard holds.
    (tmp_path / "bigger.yaml").write_text(INVENTORY + "  - {name: c8}\n")
    other = tmp_path / "other-1.json"
    assert cli("batch", "status", "bigger.yaml", "--shard", "1/3", "--report", str(other)).returncode == 0
    merged = cli("batch", "report", "--merge", str(other), *map(str, shard_reports[1:]))
    assert merged.returncode == 2, merged.stdout
    assert f"error: {shard_reports[1]} is a shard of another fleet (8 cluster(s), sha256 " in merged.stderr
    assert f"than {other} (9 cluster(s), sha256 " in merged.stderr


def _mutated(path: Path, change: Callable[[dict[str, Any]], Any], folder: Path) -> Path:
    data = json.loads(path.read_text())
    change(data)
    out = folder / "mutated.json"
    out.write_text(json.dumps(data))
    return out


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda data: data.__setitem__(key, value)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_set("clusters", ["a string"]), "clusters[0]: must be a mapping, not a string ('a string')"),
        (_set("interrupted", "false"), "interrupted: must be true or false (a JSON bool), not a string ('false')"),
    ],
    ids=["string-for-mapping", "string-for-bool"],
)
def test_a_malformed_report_is_exit_2_naming_the_file_and_field(
    cli: Cli, shard_reports: list[Path], tmp_path: Path, change: Callable[[dict[str, Any]], Any], words: str
) -> None:
    bad = _mutated(shard_reports[0], change, tmp_path)
    shown = cli("batch", "report", "--merge", str(bad), *map(str, shard_reports[1:]))
    assert shown.returncode == 2, shown.stderr
    assert f"error: {bad}: {words}" in shown.stderr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"index": 1e999', "clusters[0].index: must be a JSON integer from 0 to 999999, not a number (inf)"),
        ('"verified": ' + "[" * 100_000 + "]" * 100_000, "nested deeper than a batch report (8 levels)"),
    ],
    ids=["huge-number", "deep-nesting"],
)
def test_a_report_that_json_alone_does_not_refuse_is_exit_2(
    cli: Cli, shard_reports: list[Path], tmp_path: Path, text: str, words: str
) -> None:
    written = shard_reports[0].read_text()
    field = "verified" if "verified" in text else "index"
    start = written.index(f'"{field}": ')
    end = written.index("\n", start)
    bad = tmp_path / "bad.json"
    bad.write_text(written[:start] + text + ("," if written[end - 1] == "," else "") + written[end:])
    shown = cli("batch", "report", str(bad))
    assert shown.returncode == 2, shown.stderr
    assert f"error: {bad}: {words}" in shown.stderr


@pytest.mark.parametrize("command", ["status", "report"])
def test_the_report_option_of_status_and_report_says_no_report_is_written_without_it(
    cli: Cli, shard_reports: list[Path], tmp_path: Path, command: str
) -> None:
    helped = cli("batch", command, "--help", env={"COLUMNS": "200"})
    flat = " ".join(helped.stdout.replace("│", " ").split())  # rich wraps help in a box
    assert "none is written without it" in flat and "default: <state>/batch-" not in flat
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    args = ("fleet.yaml",) if command == "status" else (str(shard_reports[0]),)
    assert cli("batch", command, *args).returncode in (0, 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.yaml"]  # as it says: no report, no plans/ folder


@pytest.mark.parametrize(
    "ref",
    [
        "plans/111122223333/us-east-1/prod/lock.json",
        "plans/batch.current",
        "aws-auth-migrate-state.json",
        "plans/prod/p-1.journal.jsonl",
        "plans/prod/p-1.aws-auth.backup.json",
        "plans/prod/p-1.plan.yaml",
        "s3://fleet-state/runs/111122223333/us-east-1/prod/p-1.journal/000000001.json",
    ],
)
def test_a_report_or_dashboard_over_an_object_of_the_run_state_is_refused(ref: str) -> None:
    # Written over a lock, a journal record or the state's marker, a report would destroy what a run must remember.
    for report, html in ((ref, None), (None, ref)):
        with pytest.raises(InputError, match="names an object of the run state"):
            _check_outputs(StateAccess(), report, html)
    _check_outputs(StateAccess(), "reports/batch-apply.json", "reports/fleet.html")  # a file of its own is fine
