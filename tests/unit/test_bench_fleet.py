"""The fleet benchmark's inputs (bench/fleet.py), checked without running it: its scenario loads, the two
copies of the fleet are alike, and every account and region holds two clusters of each copy (so that the
per-account budget of 16 in flight fits two clusters of 8 principals at once)."""

from __future__ import annotations

from collections import Counter

from bench.fleet import (
    ACCOUNT_BUDGET,
    BURST,
    CLUSTERS,
    MAX_PARALLEL,
    PRINCIPALS,
    SHARED_PRINCIPALS,
    SHARING,
    TPS,
    inventory,
    one_account_clusters,
    one_account_scenario,
    scenario_text,
)
from migrator.sandbox.scenario import parse_scenario


def test_the_fleet_bench_scenario_and_inventory_describe_two_alike_copies_of_the_fleet() -> None:
    scenario = parse_scenario(scenario_text(), "bench-fleet.yaml")
    clusters = inventory()
    assert len(scenario.clusters) == len(clusters) == 2 * CLUSTERS
    assert {(c.name, c.account, c.region) for c in scenario.clusters} == {
        (c.name, c.account, c.region) for c in clusters
    }
    for copy in ("alone", "batch"):
        places = Counter((c.account, c.region) for c in clusters if c.name.startswith(f"{copy}-"))
        assert set(places.values()) == {2} and len(places) == 4
    mapped = next(c for c in scenario.clusters if c.name == "batch-00").aws_auth
    assert mapped is not None and len(mapped.map_roles) == PRINCIPALS + 1  # and the migrator role
    assert ACCOUNT_BUDGET >= 2 * 8 and MAX_PARALLEL == CLUSTERS


def test_the_one_account_figure_compares_its_clusters_with_one_cluster_of_as_many_entries() -> None:
    shared, together = one_account_clusters()
    scenario = parse_scenario(one_account_scenario(), "bench-fleet-one-account.yaml")
    assert {(c.account, c.region) for c in scenario.clusters} == {(together[1], together[2])}  # one account, region
    mapped = {c.name: c.aws_auth for c in scenario.clusters}
    entries = {name: len(aws_auth.map_roles) for name, aws_auth in mapped.items() if aws_auth is not None}
    assert sum(entries[name] for name, *_ in shared) == entries["together"] == SHARING * (SHARED_PRINCIPALS + 1)
    assert scenario.simulation.rate_limit_tps == TPS and scenario.simulation.rate_limit_burst == BURST
