"""--shard I/N: a stable subset by cluster identity (sha256 of account/region/name, not list position), the
shards partition the fleet, and merged shard reports are the report of the whole fleet."""

from __future__ import annotations

import json

import pytest

from migrator.errors import InputError
from migrator.fleet.inventory import parse_inventory
from migrator.fleet.report import BatchReport, ClusterResult, ErrorInfo, Outcome, merge_reports, report_from_dict
from migrator.fleet.selection import Shard, parse_shard, select, shard_of
from tests.unit.test_fleet_inventory import FILE, VALID


def test_shard_of_is_the_sha256_of_the_identity_modulo_n() -> None:
    # Worked out with `printf %s ID | sha256sum`: the first 8 bytes as a big-endian integer, modulo N.
    assert shard_of("111122223333/eu-west-1/prod-eu", 3) == 2  # 0x55bb47a1be662a31 % 3
    assert shard_of("111122223333/us-west-2/prod-us", 3) == 0  # 0x6eb2d4d7be60214f % 3
    assert shard_of("444455556666/eu-west-1/dev-eu", 3) == 2  # 0x8e53fc56126bad77 % 3
    assert shard_of("111122223333/eu-west-1/prod-eu", 2) == 1


def test_shards_partition_the_fleet_whatever_the_list_order() -> None:
    inventory = parse_inventory(VALID, FILE)
    picked = {i: [c.name for c in select(inventory, shard=Shard(i, 3))] for i in (1, 2, 3)}
    assert picked == {1: ["prod-us"], 2: [], 3: ["prod-eu", "dev-eu"]}
    lines = VALID.splitlines(keepends=True)
    reordered = parse_inventory("".join(lines[:4] + lines[6:] + lines[4:6]), FILE)  # dev-eu first now
    assert [c.name for c in select(reordered, shard=Shard(3, 3))] == ["dev-eu", "prod-eu"]


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "1/3 ", "1-3", "", "1/3/4"])
def test_a_bad_shard_is_bad_input(text: str) -> None:
    with pytest.raises(InputError, match="expected I/N"):
        parse_shard(text)


def _result(name: str, index: int, outcome: Outcome = Outcome.COMPLETED) -> ClusterResult:
    return ClusterResult(name, "111122223333", "eu-west-1", index, outcome, message=f"{name} done", steps_done=3,
                         steps_total=3, gates_passed=("API_AND_CONFIG_MAP",), findings={"warning": 1})  # fmt: skip


def test_merged_shard_reports_are_the_whole_report_in_inventory_order() -> None:
    failed = ClusterResult("c", None, "us-west-2", 2, Outcome.STALE, error=ErrorInfo("StalePlanError", 3, "changed"))
    whole = BatchReport("apply", (_result("a", 0), _result("b", 1), failed), inventory="fleet.yaml")
    one = BatchReport("apply", (failed, _result("a", 0)), inventory="fleet.yaml", shard="1/2")
    two = BatchReport("apply", (_result("b", 1),), inventory="fleet.yaml", shard="2/2")
    # Through JSON, as the files are read back.
    merged = merge_reports([(n, report_from_dict(json.loads(r.to_json()), n)) for n, r in (("1", one), ("2", two))])
    assert merged.clusters == whole.clusters
    assert merged.merged_from == ("1/2", "2/2")
    assert (merged.exit_code, merged.summary()) == (5, {"completed": 2, "stale": 1})
    assert {k: v for k, v in merged.to_dict().items() if k not in ("mergedFrom",)} == {
        k: v for k, v in whole.to_dict().items() if k not in ("mergedFrom",)
    }


def test_merging_overlapping_or_foreign_reports_is_bad_input() -> None:
    one = BatchReport("apply", (_result("a", 0),), shard="1/2")
    with pytest.raises(InputError, match="also in"):
        merge_reports([("x.json", one), ("y.json", one)])
    with pytest.raises(InputError, match="different commands"):
        merge_reports([("x.json", one), ("y.json", BatchReport("plan", (_result("b", 1),)))])
    with pytest.raises(InputError, match=r"z\.json: not a aws-auth-migrate/batch-report/v1 report"):
        report_from_dict({"schema": "aws-auth-migrate/verify/v1"}, "z.json")


def test_an_interrupted_batch_exits_130_and_its_merged_report_stays_interrupted() -> None:
    stopped = ClusterResult(
        "a", "111122223333", "eu-west-1", 0, Outcome.INTERRUPTED,
        error=ErrorInfo("Interrupted", 130, "interrupted"),
    )  # fmt: skip
    fine = ClusterResult("b", "111122223333", "eu-west-1", 1, Outcome.COMPLETED)
    interrupted = BatchReport("apply", (stopped,), shard="1/2", interrupted=True)
    whole = BatchReport("apply", (fine,), shard="2/2")
    assert (interrupted.exit_code, interrupted.ok, whole.exit_code) == (130, False, 0)
    data = json.loads(interrupted.to_json())
    assert data["interrupted"] is True and data["clusters"][0]["outcome"] == "interrupted"
    merged = merge_reports([("s1", report_from_dict(data, "s1")), ("s2", whole)])
    assert merged.interrupted and merged.exit_code == 130


def test_sigterm_during_a_fleet_apply_is_ctrl_c() -> None:
    import os
    import signal

    from migrator.app.batch import interrupts_stop

    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), interrupts_stop() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is previous
