"""`batch report --html s3://BUCKET/KEY` puts the dashboard into S3 (the CLI against the sandbox's S3, through the
real boto3): the object is the page a file target gets, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.sandbox.server import Sandbox
from tests.cli.test_batch_report_cli import INVENTORY
from tests.integration.conftest import client
from tests.integration.test_apply_cli import cli

pytestmark = pytest.mark.integration


def test_the_dashboard_goes_to_an_s3_object_as_it_goes_to_a_file(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    assert cli(sandbox, tmp_path, "batch", "status", "fleet.yaml", "--report", "status.json").returncode == 0
    s3 = client(sandbox, "s3")
    s3.create_bucket(Bucket="fleet-pages")
    url = "s3://fleet-pages/rollout/fleet.html"
    to_s3 = cli(sandbox, tmp_path, "batch", "report", "status.json", "--html", url)
    assert to_s3.returncode == 5, to_s3.stderr  # the report's own exit code: no cluster has a plan
    assert f"Dashboard written to {url}" in to_s3.stderr
    assert cli(sandbox, tmp_path, "batch", "report", "status.json", "--html", "fleet.html").returncode == 5
    stored = s3.get_object(Bucket="fleet-pages", Key="rollout/fleet.html")["Body"].read()
    assert stored == (tmp_path / "fleet.html").read_bytes() and b"<td>c7</td>" in stored
    bucket_only = cli(sandbox, tmp_path, "batch", "report", "status.json", "--html", "s3://fleet-pages")
    assert (
        bucket_only.returncode == 2 and "--html: 's3://fleet-pages' names a bucket, not an object" in bucket_only.stderr
    )
