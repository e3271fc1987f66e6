"""The fleet benchmark's inputs (bench/fleet.py), checked without running it: its scenario loads, the two
copies of the fleet are alike, and every account and region holds two clusters of each copy (so that the
per-account budget of 16 in flight fits two clusters of 8 principals at once)."""

from __future__ import annotations

from collections import Counter

from bench.fleet import ACCOUNT_BUDGET, CLUSTERS, MAX_PARALLEL, PRINCIPALS, inventory, scenario_text
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
