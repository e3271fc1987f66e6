"""`show PLAN --output markdown` and `batch plan --summary markdown` through the real CLI: Markdown on stdout,
hostile aws-auth text shown as text, and Markdown offered only where it can be printed (exit 2 elsewhere)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support.markdown import assert_only_text_from_data, table_rows, tokens

Cli = Callable[..., subprocess.CompletedProcess[str]]
PINNED = ("--created-at", "2026-01-01T00:00:00Z")
HOSTILE = "dev|`x` <script>alert(1)</script> [l](http://x.example) @octocat"
AWS_AUTH = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: aws-auth, namespace: kube-system}}
data:
  mapRoles: |
    - rolearn: arn:aws:iam::111122223333:role/nodes
      username: system:node:{{{{EC2PrivateDNSName}}}}
      groups: [system:bootstrappers, system:nodes]
    - rolearn: arn:aws:iam::111122223333:role/Dev
      username: '{HOSTILE}'
      groups: ['{HOSTILE}']
    - rolearn: arn:aws:iam::111122223333:role/Ops
      username: ops
      groups: ["ops\\e[2J\\nmore"]
"""


def offline_plan(cli: Cli, tmp_path: Path) -> Path:
    (tmp_path / "aws-auth.yaml").write_text(AWS_AUTH)
    result = cli(
        "plan",
        "--cluster",
        "prod",
        "--offline",
        "--aws-auth-file",
        "aws-auth.yaml",
        "--out",
        "p.yaml",
        "--target",
        "API",
        *PINNED,
    )
    assert result.returncode == 0, result.stderr
    return tmp_path / "p.yaml"


def test_show_prints_a_plan_as_markdown_with_hostile_text_as_text(cli: Cli, tmp_path: Path) -> None:
    offline_plan(cli, tmp_path)
    shown = cli("show", "p.yaml", "--output", "markdown")
    assert shown.returncode == 0, shown.stderr
    markdown = shown.stdout
    assert markdown.startswith("### aws-auth-migrate plan for `prod`\n") and "<details open>" in markdown
    assert "\x1b" not in markdown
    assert_only_text_from_data(markdown)
    rows = table_rows(markdown)
    assert rows[0] == ["principal", "type", "username", "groups", "policies", "action"]
    assert len(rows) == 4 and all(len(row) == 6 for row in rows)
    codes = [t.content for t in tokens(markdown) if t.type == "code_inline"]
    assert codes.count(HOSTILE) == 2  # the username and the group of Dev, each as one code span
    assert "ops\\x1b[2J\\x0amore" in codes  # the control characters, written as escapes
    assert "**BLOCKER** `IDENTITY_WHITESPACE` (1)" in markdown and "into `API` **blocked** by" in markdown


def test_show_offers_markdown_for_the_plan_and_nothing_else(cli: Cli, tmp_path: Path) -> None:
    offline_plan(cli, tmp_path)
    policy = cli("show", "p.yaml", "--iam-policy", "-o", "markdown")
    assert policy.returncode == 2 and policy.stdout == ""
    assert "error: --iam-policy prints text or JSON; -o markdown is for the plan itself" in policy.stderr
    status = cli("status", "p.yaml", "-o", "markdown")
    assert status.returncode == 2 and "'markdown' is not one of 'text', 'json'" in status.stderr
    assert "markdown" in cli("show", "--help").stdout


def test_batch_plan_refuses_two_formats_on_stdout_before_anything(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(
        "schema: aws-auth-migrate/inventory/v1\ndefaults: {region: eu-west-1}\nclusters:\n  - {name: c1}\n"
    )
    result = cli("batch", "plan", "fleet.yaml", "--summary", "markdown", "-o", "json")
    assert result.returncode == 2 and result.stdout == ""
    assert "error: --summary markdown and -o json would both print on stdout: give one" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.yaml"]  # nothing planned, nothing written
