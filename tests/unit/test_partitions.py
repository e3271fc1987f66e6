"""Regions and partitions agree with botocore's endpoints data, which the rules copy (they stay pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore
import pytest

from migrator.rules.arn import DEFAULT_PARTITION, PARTITIONS, REGION_PATTERNS, partition_of_region


def _botocore_partitions() -> list[dict[str, Any]]:
    path = Path(botocore.__file__).parent / "data" / "partitions.json"
    partitions: list[dict[str, Any]] = json.loads(path.read_text())["partitions"]
    return partitions


def _strip_anchors(pattern: str) -> str:
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    return pattern[1:-1]


def test_the_region_patterns_are_botocores() -> None:
    ours = {partition: pattern.pattern for partition, pattern in REGION_PATTERNS}
    theirs = {p["id"]: _strip_anchors(p["regionRegex"]) for p in _botocore_partitions()}
    assert ours == theirs


def test_partitions_are_botocores() -> None:
    assert set(PARTITIONS) == {p["id"] for p in _botocore_partitions()}


def _listed_regions() -> list[tuple[str, str]]:
    # "aws-global", "aws-cn-global", ...: botocore's pseudo-regions for global endpoints, not cluster regions.
    return [
        (region, p["id"]) for p in _botocore_partitions() for region in p["regions"] if not region.endswith("-global")
    ]


@pytest.mark.parametrize(("region", "partition"), _listed_regions())
def test_every_region_botocore_lists_is_in_its_partition(region: str, partition: str) -> None:
    assert partition_of_region(region) == partition


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("eusc-de-east-1", "aws-eusc"),  # European Sovereign Cloud
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-isob-east-1", "aws-iso-b"),
        ("us-iso-west-1", "aws-iso"),
        ("us-isof-south-1", "aws-iso-f"),
        ("eu-isoe-west-1", "aws-iso-e"),
        ("eu-west-1", "aws"),
        ("mx-central-1", "aws"),
        ("eusc-de-east-1\n", DEFAULT_PARTITION),  # whole match only
        ("xx-fake-1", DEFAULT_PARTITION),  # unknown: botocore's default too
    ],
)
def test_hand_written_regions(region: str, partition: str) -> None:
    assert partition_of_region(region) == partition
