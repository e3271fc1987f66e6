"""`batch plan --summary markdown` through the real CLI against the sandbox (two clusters): the plans and the
JSON report are written as without it, stdout carries the Markdown alone (no table), built from the plans the
batch wrote, with the cluster that has a blocker first and its hostile username shown as text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from migrator.sandbox.scenario import parse_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import inherited_env
from tests.integration.conftest import SandboxFactory
from tests.support.arns import ACCOUNT, role
from tests.support.markdown import assert_only_text_from_data, tables, tokens
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml

pytestmark = pytest.mark.integration

PINNED = ("--created-at", "2026-01-01T00:00:00Z")
HOSTILE = "ops|`x` <script>alert(1)</script> [l](http://x.example)"
INVENTORY = f"""\
schema: aws-auth-migrate/inventory/v1
defaults: {{region: us-east-1, account: "{ACCOUNT}", target: API}}
clusters:
  - {{name: clean}}
  - {{name: blocked}}
"""


def _scenario(sandbox_factory: SandboxFactory) -> Sandbox:
    common = (
        f"- rolearn: {role('nodes')}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
        "  groups: [system:bootstrappers, system:nodes]\n"
        f"- rolearn: {role('Admin')}\n  username: admin:{{{{SessionName}}}}\n  groups: [system:masters]\n"
    )
    # A system: group cannot be put in an entry: SYSTEM_GROUP keeps the API gate shut.
    blocker = f"- rolearn: {role('Ops')}\n  username: '{HOSTILE}'\n  groups: [system:monitoring]\n"
    clusters = "".join(
        f'  - name: {name}\n    region: us-east-1\n    account: "{ACCOUNT}"\n    version: "1.31"\n'
        f"    authenticationMode: CONFIG_MAP\n    nodegroups: [{{name: ng, nodeRole: '{role('nodes')}'}}]\n"
        f"    awsAuth: |\n{indent(aws_auth_config_map(mappings), 6)}"
        for name, mappings in (("clean", common), ("blocked", common + blocker))
    )
    text = scenario_yaml(clusters, roles=[role("nodes"), role("Admin"), role("Ops")], caller=role("Admin"))
    return sandbox_factory(parse_scenario(text, "summary.yaml"))


def test_batch_plan_prints_a_markdown_summary_of_the_plans_it_wrote(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = _scenario(make_sandbox)
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    environment = inherited_env()
    environment.update(sandbox.env())
    result = subprocess.run(
        [sys.executable, "-m", "migrator", "batch", "plan", "fleet.yaml", "--summary", "markdown", *PINNED],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr

    report = json.loads((tmp_path / "plans" / "batch-plan.json").read_text())  # written as without --summary
    assert [c["outcome"] for c in report["clusters"]] == ["planned", "planned"]
    for cluster in report["clusters"]:
        assert (tmp_path / cluster["planFile"]).is_file()
    assert "2 cluster(s): 2 planned" in result.stderr  # the table's last line, as a message

    markdown = result.stdout
    assert markdown.startswith("## aws-auth-migrate batch plan\n") and "┃" not in markdown  # no rich table
    overview, *entries = tables(markdown)
    assert [row[0] for row in overview[1:]] == ["`blocked`", "`clean`"]  # the cluster with a blocker first
    assert overview[1][4] == "`SYSTEM_GROUP`" and len(entries) == 2
    assert all(len(row) == 6 for table in (overview, *entries) for row in table)
    blocked_plan = next(c["planFile"] for c in report["clusters"] if c["name"] == "blocked")
    assert f"file `{blocked_plan}`" in markdown  # read back from the plan file the batch wrote
    assert "into `API` **blocked** by `SYSTEM_GROUP`" in markdown
    assert HOSTILE in [t.content for t in tokens(markdown) if t.type == "code_inline"]
    assert_only_text_from_data(markdown)
