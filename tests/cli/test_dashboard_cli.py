"""`batch status --html` and `batch report --html` through the real CLI (`batch status` of a state without plans:
no AWS or Kubernetes call): the dashboard file is written 0600 next to the usual output, with every cluster,
and a target that cannot be written is exit 2 naming it."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.cli.test_batch_report_cli import INVENTORY

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_batch_status_writes_the_dashboard_as_well_as_its_table(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    result = cli("batch", "status", "fleet.yaml", "--html", "fleet.html")
    assert result.returncode == 0, result.stderr
    assert "Dashboard written to fleet.html" in result.stderr and "8 cluster(s): 8 failed" in result.stdout
    page = tmp_path / "fleet.html"
    assert stat.S_IMODE(page.stat().st_mode) == 0o600  # it names every cluster
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<title>aws-auth-migrate: batch status (fleet.yaml)</title>" in text
    assert text.count('<tr class="attention" data-outcome="failed"') == 8
    assert all(f"<td>c{i}</td>" in text for i in range(8))


def test_batch_report_writes_the_dashboard_of_the_merged_fleet_and_keeps_its_exit_code(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    shards = [f"status-{i}.json" for i in (1, 2, 3)]
    for index, name in enumerate(shards, 1):
        assert cli("batch", "status", "fleet.yaml", "--shard", f"{index}/3", "--report", name).returncode == 0
    merged = cli("batch", "report", "--merge", *shards, "--html", "fleet.html", "-o", "json")
    assert merged.returncode == 5, merged.stderr  # the fleet's, as without --html: no cluster has a plan
    assert json.loads(merged.stdout)["mergedFrom"] == ["1/3", "2/3", "3/3"]  # stdout is still the JSON alone
    text = (tmp_path / "fleet.html").read_text(encoding="utf-8")
    assert "<dt>Merged from shards</dt><dd>1/3, 2/3, 3/3</dd>" in text
    assert all(f"<td>c{i}</td>" in text for i in range(8))


def test_a_dashboard_target_that_cannot_be_written_is_exit_2_naming_it(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    missing = cli("batch", "status", "fleet.yaml", "--html", "nowhere/fleet.html")
    assert missing.returncode == 2, missing.stderr
    assert "error: nowhere/fleet.html: cannot write: the directory nowhere does not exist" in missing.stderr
    (tmp_path / "target").write_text("someone else's file")
    (tmp_path / "fleet.html").symlink_to(tmp_path / "target")  # a planted link is refused, never followed
    planted = cli("batch", "status", "fleet.yaml", "--html", "fleet.html")
    assert planted.returncode == 2 and "fleet.html: is a symbolic link; refusing to write over it" in planted.stderr
    assert (tmp_path / "target").read_text() == "someone else's file"
