"""--shard I/N: a stable subset by cluster identity (sha256 of account/region/name, not list position), the
shards partition the fleet, and merged shard reports are the report of the whole fleet."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from migrator.errors import InputError
from migrator.fleet.inventory import parse_inventory
from migrator.fleet.merging import merge_reports
from migrator.fleet.reading import report_from_dict
from migrator.fleet.report import BatchReport, ClusterResult, ErrorInfo, FleetSet, Outcome
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


def _shard_of(result: ClusterResult, count: int) -> int:
    return shard_of(result.identity, count) + 1


def _sharded(command: str, results: list[ClusterResult], count: int, **fields: object) -> list[BatchReport]:
    """The reports of shards 1/count..count/count of a batch over `results`, as `--shard` would write them."""
    fleet = FleetSet.of(r.identity for r in results)
    return [
        BatchReport(
            command,
            tuple(r for r in results if _shard_of(r, count) == index),
            inventory="fleet.yaml",
            shard=f"{index}/{count}",
            fleet=fleet,
            **fields,  # type: ignore[arg-type]
        )
        for index in range(1, count + 1)
    ]


FLEET = [_result(name, index) for index, name in enumerate(["a", "b", "c", "d", "h", "j"])]


def test_the_fleet_of_this_test_has_a_cluster_in_each_of_three_shards() -> None:
    assert sorted({_shard_of(r, 3) for r in FLEET}) == [1, 2, 3]


def test_merged_shard_reports_are_the_whole_report_in_inventory_order() -> None:
    failed = ClusterResult("c", None, "us-west-2", 2, Outcome.STALE, error=ErrorInfo("StalePlanError", 3, "changed"))
    results = [_result("a", 0), _result("d", 1), failed]
    whole = BatchReport("apply", tuple(results), inventory="fleet.yaml", fleet=FleetSet.of(r.identity for r in results))
    one, two = _sharded("apply", results, 2)
    assert one.clusters and two.clusters
    # Through JSON, as the files are read back; in any order.
    merged = merge_reports([(n, report_from_dict(json.loads(r.to_json()), n)) for n, r in (("2", two), ("1", one))])
    assert merged.clusters == whole.clusters
    assert merged.merged_from == ("1/2", "2/2")
    assert (merged.exit_code, merged.summary()) == (5, {"completed": 2, "stale": 1})
    assert {k: v for k, v in merged.to_dict().items() if k not in ("mergedFrom",)} == {
        k: v for k, v in whole.to_dict().items() if k not in ("mergedFrom",)
    }


def test_a_merged_report_merges_again_with_the_shards_it_lacks() -> None:
    one, two, three = _sharded("status", FLEET, 3)
    again = merge_reports(
        [
            ("12", replace(one, shard=None, merged_from=("1/3", "2/3"), clusters=one.clusters + two.clusters)),
            ("3", three),
        ]
    )
    assert again.merged_from == ("1/3", "2/3", "3/3") and len(again.clusters) == 6


@pytest.mark.parametrize(
    ("pick", "words"),
    [
        (lambda s: [s[1], s[2]], "shard(s) 1/3 missing: the reports given hold 2 of 3 shards"),
        (lambda s: [s[0], s[2]], "shard(s) 2/3 missing"),
        (lambda s: [s[0], s[1], s[2], s[1]], "s3: shard 2/3 is also in s1"),
        (lambda s: [s[0], s[1], s[2], replace(s[1], clusters=())], "s3: shard 2/3 is also in s1"),
        (lambda s: [s[0], s[1], replace(s[2], shard="3/4")], "s2: shard 3/4 is not one of 3 shards"),
        (lambda s: [s[0], s[1], replace(s[2], shard=None)], "s2: a report of the whole fleet (run without --shard)"),
        (lambda s: [s[0], s[1], replace(s[2], fleet=None)], "s2: names no fleet (written by an older"),
        (
            lambda s: [s[0], s[1], replace(s[2], fleet=FleetSet.of(["111122223333/eu-west-1/z"]))],
            "s2 is a shard of another fleet (1 cluster(s), sha256 ",
        ),
        (lambda s: [s[0], s[1], replace(s[2], command="plan")], "different commands (apply, plan)"),
        (lambda s: [s[0], replace(s[1], clusters=s[1].clusters + s[2].clusters), s[2]], "s1: cluster "),
        (lambda s: [s[0], s[1], replace(s[2], clusters=s[2].clusters[1:])], "the shard reports hold 5 cluster(s)"),
    ],
    ids=[
        "first-missing", "middle-missing", "twice", "twice-empty", "other-count", "whole-report", "no-fleet",
        "other-fleet", "other-command", "cluster-in-a-shard-not-its-own", "cluster-left-out",
    ],
)  # fmt: skip
def test_shard_reports_that_do_not_make_one_whole_batch_are_bad_input(
    pick: Callable[[list[BatchReport]], list[BatchReport]], words: str
) -> None:
    reports = pick(_sharded("apply", FLEET, 3))
    with pytest.raises(InputError) as caught:
        merge_reports([(f"s{i}", r) for i, r in enumerate(reports)])
    assert words in str(caught.value) and caught.value.exit_code == 2


def test_a_merge_of_a_single_shard_of_one_is_the_fleet() -> None:
    (only,) = _sharded("status", FLEET, 1)
    assert merge_reports([("s", only)]).clusters == tuple(FLEET)


def test_reading_refuses_what_is_not_a_report() -> None:
    with pytest.raises(InputError, match=r"z\.json: not a aws-auth-migrate/batch-report/v1 report"):
        report_from_dict({"schema": "aws-auth-migrate/verify/v1"}, "z.json")


def test_an_interrupted_batch_exits_130_and_its_merged_report_stays_interrupted() -> None:
    stopped = ClusterResult(
        "a", "111122223333", "eu-west-1", 0, Outcome.INTERRUPTED,
        error=ErrorInfo("Interrupted", 130, "interrupted"),
    )  # fmt: skip
    fine = ClusterResult("b", "111122223333", "eu-west-1", 1, Outcome.COMPLETED)
    reports = [replace(r, interrupted=stopped in r.clusters) for r in _sharded("apply", [stopped, fine], 2)]
    interrupted = next(r for r in reports if r.interrupted)
    assert (interrupted.exit_code, interrupted.ok) == (130, False)
    data = json.loads(interrupted.to_json())
    assert data["interrupted"] is True and data["exitCode"] == 130
    merged = merge_reports(
        [(f"s{i}", report_from_dict(json.loads(r.to_json()), f"s{i}")) for i, r in enumerate(reports)]
    )
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


def test_a_shard_report_edited_to_hold_another_cluster_of_its_shard_is_refused() -> None:
    # Review of issue 20: the merge counted the clusters but did not check which ones they were.
    reports = _sharded("apply", FLEET, 3)
    victim = reports[0].clusters[0]
    shard = shard_of(victim.identity, 3)
    name = next(f"x{i}" for i in range(1000) if shard_of(_result(f"x{i}", 0).identity, 3) == shard)
    forged = replace(reports[0], clusters=(_result(name, victim.index), *reports[0].clusters[1:]))
    with pytest.raises(InputError, match="hold other clusters than their fleet") as caught:
        merge_reports([(f"s{i}", r) for i, r in enumerate([forged, *reports[1:]])])
    assert caught.value.exit_code == 2
