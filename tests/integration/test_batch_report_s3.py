"""`batch report` reads reports named by their s3:// URLs, as the shards of a CI matrix leave them in the state
(`<state>/batch-<command>-shard-I-of-N.json`): the CLI against the sandbox's S3, through the real boto3. A
--report or --html that names no object is refused (exit 2) before the batch asks any cluster anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator.sandbox.server import Sandbox
from tests.cli.test_batch_report_cli import INVENTORY
from tests.integration.conftest import REGION, client
from tests.integration.test_apply_cli import cli
from tests.support.arns import ACCOUNT

pytestmark = pytest.mark.integration

BUCKET = "fleet-state"
PREFIX = "runs/team-a"


def shard_reports_in_s3(sandbox: Sandbox, tmp_path: Path) -> list[str]:
    """`batch status` of each shard of three (no plans: no AWS or Kubernetes call) into the sandbox's bucket."""
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    s3 = client(sandbox, "s3")
    s3.create_bucket(Bucket=BUCKET)
    urls = []
    for index in (1, 2, 3):
        local = tmp_path / f"shard-{index}.json"
        status = cli(
            sandbox, tmp_path, "batch", "status", "fleet.yaml", "--shard", f"{index}/3", "--report", str(local)
        )
        assert status.returncode == 0, status.stderr
        key = f"{PREFIX}/batch-status-shard-{index}-of-3.json"
        s3.put_object(Bucket=BUCKET, Key=key, Body=local.read_bytes())
        urls.append(f"s3://{BUCKET}/{key}")
    return urls


def test_shard_reports_in_s3_are_merged_from_their_urls(sandbox: Sandbox, tmp_path: Path) -> None:
    urls = shard_reports_in_s3(sandbox, tmp_path)
    merged = cli(sandbox, tmp_path, "batch", "report", "--merge", *reversed(urls), "-o", "json")
    assert merged.returncode == 5, merged.stderr  # the fleet's exit code: clusters without plans are failed
    report = json.loads(merged.stdout)
    assert report["mergedFrom"] == ["1/3", "2/3", "3/3"] and report["fleet"]["clusters"] == 8
    assert sorted(c["name"] for c in report["clusters"]) == [f"c{i}" for i in range(8)]

    one = cli(sandbox, tmp_path, "batch", "report", urls[0], "-o", "json")
    assert json.loads(one.stdout)["shard"] == "1/3"


def test_a_missing_report_object_is_exit_2_naming_it(sandbox: Sandbox, tmp_path: Path) -> None:
    urls = shard_reports_in_s3(sandbox, tmp_path)
    missing = f"s3://{BUCKET}/{PREFIX}/batch-status-shard-4-of-3.json"
    result = cli(sandbox, tmp_path, "batch", "report", "--merge", *urls[:2], missing)
    assert result.returncode == 2, result.stdout
    assert f"error: {missing}: no such report" in result.stderr and result.stdout == ""
    bad = cli(sandbox, tmp_path, "batch", "report", f"s3://{BUCKET}")
    assert bad.returncode == 2 and "names a bucket, not an object" in bad.stderr


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (("--report", f"s3://{BUCKET}"), f"--report: 's3://{BUCKET}' names a bucket, not an object"),
        (("--report", "s3://Fleet_State/r.json"), "--report: 's3://Fleet_State/r.json': not an S3 bucket name"),
        (("--report", "S3://fleet-state/r.json"), "--report: 'S3://fleet-state/r.json' looks like a URL"),
    ],
)
def test_a_bad_report_destination_is_exit_2_before_any_cluster_is_asked_or_planned(
    sandbox: Sandbox, tmp_path: Path, output: tuple[str, str], message: str
) -> None:
    legacy = f'{{name: legacy, region: {REGION}, account: "{ACCOUNT}"}}'  # a cluster of the sandbox
    (tmp_path / "fleet.yaml").write_text(f"schema: aws-auth-migrate/inventory/v1\nclusters:\n  - {legacy}\n")
    sandbox.clear_calls()
    result = cli(sandbox, tmp_path, "batch", "plan", "fleet.yaml", "--state", "state", *output)
    assert result.returncode == 2, result.stderr
    assert f"error: {message}" in result.stderr
    assert sandbox.calls() == []  # not one call to the cluster, EKS, IAM or S3
    assert not (tmp_path / "state").exists()  # and no plan written


def test_a_bad_report_destination_is_exit_2_before_the_dashboard_is_written(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    result = cli(sandbox, tmp_path, "batch", "status", "fleet.yaml", "--html", "d.html", "--report", f"s3://{BUCKET}")
    assert result.returncode == 2 and f"--report: 's3://{BUCKET}' names a bucket" in result.stderr, result.stderr
    assert not (tmp_path / "d.html").exists()
