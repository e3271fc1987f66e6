"""Hostile input through the real CLI: it must neither widen access, nor write where it should not, nor
print terminal escapes, nor crash (exit 1) on malformed files."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]
PINNED = ("--created-at", "2026-01-01T00:00:00Z")
HEADER = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n"


def aws_auth(tmp_path: Path, map_roles: str) -> Path:
    path = tmp_path / "aws-auth.yaml"
    body = "".join("    " + line + "\n" for line in map_roles.splitlines())
    path.write_text(HEADER + "  mapRoles: |\n" + body)
    return path


def test_a_rolearn_with_a_trailing_newline_gets_no_entry(cli: Cli, tmp_path: Path) -> None:
    source = aws_auth(
        tmp_path,
        '- rolearn: "arn:aws:iam::111122223333:role/Developer\\n"\n  username: dev\n  groups: [devs]\n'
        "- rolearn: arn:aws:iam::111122223333:role/Admin\n  username: admin\n  groups: [system:masters]",
    )
    result = cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(source), "--output", "json", *PINNED)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    created = [e["principalArn"] for e in plan["entries"] if e["action"] != "skip"]
    assert created == ["arn:aws:iam::111122223333:role/Admin"]
    codes = {f["code"]: f for f in plan["findings"]}
    assert codes["DEAD_ARN_WHITESPACE"]["severity"] == "warning"
    assert codes["DEAD_ARN_WHITESPACE"]["principalArn"] == "arn:aws:iam::111122223333:role/Developer\n"


def test_a_username_or_group_with_surrounding_whitespace_blocks(cli: Cli, tmp_path: Path) -> None:
    source = aws_auth(
        tmp_path, '- rolearn: arn:aws:iam::111122223333:role/Developer\n  username: "dev "\n  groups: ["devs\\n"]'
    )
    result = cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(source), "--output", "json", *PINNED)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [e["action"] for e in plan["entries"]] == ["skip"]
    assert [f["code"] for f in plan["findings"] if f["severity"] == "blocker"] == ["IDENTITY_WHITESPACE"]
