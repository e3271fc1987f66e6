"""`batch report --merge`: the shard reports of one batch joined into the report of the whole fleet.

A merge vouches for the fleet, so it must prove the shards make one whole batch, or refuse (InputError, exit
2): every report is of the same command and of the same fleet (the clusters the inventory and `--select`
gave, before sharding: `fleet` in each report), the shards are I/N of one N, each once, none missing, each
cluster is in the shard that holds it and in no other report, and together they hold every cluster of the
fleet. A merge that said ok with shard 1/3 missing would pass a CI pipeline whose first job never reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from migrator.errors import InputError
from migrator.fleet.report import BatchReport, FleetSet, ordered
from migrator.fleet.selection import shard_of

HINT = "merge the reports of shards 1/N .. N/N of one batch (the same inventory, --select and N), each once"


def merge_reports(reports: Sequence[tuple[str, BatchReport]]) -> BatchReport:
    """The shard reports (each with where it came from) as one: every cluster once, in inventory order."""
    if not reports:
        raise InputError("batch report --merge needs at least one report")
    commands = {r.command for _, r in reports}
    if len(commands) > 1:
        raise InputError(f"the reports are of different commands ({', '.join(sorted(commands))}): merge one kind")
    fleet = _one_fleet(reports)
    count, held_by = _shards(reports)
    seen: dict[str, str] = {}
    for where, report in reports:
        for cluster in report.clusters:
            if cluster.identity in seen:
                raise InputError(f"{where}: cluster {cluster.identity} is also in {seen[cluster.identity]}", hint=HINT)
            shard = shard_of(cluster.identity, count) + 1
            if held_by[shard] != where:
                raise InputError(
                    f"{where}: cluster {cluster.identity} belongs to shard {shard}/{count}, which this report is not",
                    hint=HINT,
                )
            seen[cluster.identity] = where
    if len(seen) != fleet.clusters:
        raise InputError(
            f"the shard reports hold {len(seen)} cluster(s), but their fleet has {fleet.clusters}: a report was "
            "cut short or edited",
            hint=HINT,
        )
    if FleetSet.of(seen) != fleet:
        raise InputError(
            "the shard reports hold other clusters than their fleet (as many, not the same ones): a report was edited",
            hint=HINT,
        )
    first = reports[0][1]
    return replace(
        first,
        clusters=ordered(c for _, r in reports for c in r.clusters),
        shard=None,
        merged_from=tuple(f"{i}/{count}" for i in range(1, count + 1)),
        interrupted=any(r.interrupted for _, r in reports),
    )


def _one_fleet(reports: Sequence[tuple[str, BatchReport]]) -> FleetSet:
    first_where, first = reports[0]
    for where, report in reports:
        if report.fleet is None:
            raise InputError(
                f"{where}: names no fleet (written by an older aws-auth-migrate): cannot tell which batch it is a "
                "shard of",
                hint="run the shards again with this version, then merge their reports",
            )
        if report.fleet != first.fleet:
            raise InputError(
                f"{where} is a shard of another fleet ({_fleet_words(report.fleet)}) than {first_where} "
                f"({_fleet_words(first.fleet)}): another inventory or --select",
                hint=HINT,
            )
    assert first.fleet is not None  # checked above, for the first report too
    return first.fleet


def _fleet_words(fleet: FleetSet | None) -> str:
    return "?" if fleet is None else f"{fleet.clusters} cluster(s), sha256 {fleet.sha256[:12]}"


def _shards(reports: Sequence[tuple[str, BatchReport]]) -> tuple[int, dict[int, str]]:
    """N, and which report holds each shard 1..N; InputError unless each shard is in exactly one report."""
    held_by: dict[int, str] = {}
    count: int | None = None
    for where, report in reports:
        shards = report.merged_from or ((report.shard,) if report.shard else ())
        if not shards:
            raise InputError(
                f"{where}: a report of the whole fleet (run without --shard), not a shard: nothing to merge it with",
                hint="show it with: batch report FILE",
            )
        for shard in shards:
            index, of = (int(part) for part in shard.split("/"))
            if count is None:
                count = of
            if of != count:
                raise InputError(f"{where}: shard {shard} is not one of {count} shards, as the others are", hint=HINT)
            if index in held_by:
                raise InputError(f"{where}: shard {shard} is also in {held_by[index]}", hint=HINT)
            held_by[index] = where
    assert count is not None  # every report names a shard
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in held_by]
    if missing:
        raise InputError(
            f"shard(s) {', '.join(missing)} missing: the reports given hold {len(held_by)} of {count} shards, and a "
            "merge must cover the whole fleet",
            hint=HINT,
        )
    return count, held_by
