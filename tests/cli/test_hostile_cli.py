"""Hostile input through the real CLI: it must neither widen access, nor write where it should not, nor
print terminal escapes, nor crash (exit 1) on malformed files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import run_cli

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


SMALL = str(Path(__file__).resolve().parents[2] / "plans" / "examples" / "aws-auth-small.yaml")


def offline(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("plan", "--offline", "--aws-auth-file", SMALL, *PINNED, *args)


@pytest.mark.parametrize("name", ["../../etc", "/tmp/abs", "", "a" * 300, "demo\n", "-x", "a/b", "..", "d\x1b[2J"])
def test_plan_refuses_a_cluster_name_eks_would_refuse(cli: Cli, tmp_path: Path, name: str) -> None:
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    result = run_cli("plan", "--cluster", name, "--offline", "--aws-auth-file", SMALL, cwd=work)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "cluster name" in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep", "er"]
    assert "\x1b" not in result.stderr


def test_plan_files_are_private_in_a_private_folder(cli: Cli, tmp_path: Path) -> None:
    assert offline(cli, "--cluster", "prod").returncode == 0
    (written,) = (tmp_path / "plans" / "prod").iterdir()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "plans" / "prod").stat().st_mode) == 0o700
    assert offline(cli, "--cluster", "prod", "--out", "p.yaml").returncode == 0
    assert stat.S_IMODE((tmp_path / "p.yaml").stat().st_mode) == 0o600


def test_out_is_never_a_device_fifo_directory_or_symlink(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "link.yaml").symlink_to(victim)
    (tmp_path / "folder").mkdir()
    for target, kind in (("fifo", "a fifo"), ("link.yaml", "a symbolic link"), ("folder", "a directory")):
        result = offline(cli, "--cluster", "prod", "--out", target)
        assert result.returncode == 2, result.stderr
        assert f"{target}: is {kind}" in result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert (tmp_path / "link.yaml").is_symlink()
    assert victim.read_text() == "keep"


def test_a_symlink_planted_at_the_temporary_name_is_not_followed(cli: Cli, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "p.yaml.tmp").symlink_to(victim)
    result = offline(cli, "--cluster", "prod", "--out", "p.yaml")
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "keep"
    assert (tmp_path / "p.yaml").read_text().startswith("schema:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml", "p.yaml.tmp", "victim"]


def test_out_into_a_missing_folder_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    result = offline(cli, "--cluster", "prod", "--out", "nowhere/p.yaml")
    assert result.returncode == 2
    assert "nowhere does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_into_a_read_only_folder_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    result = offline(cli, "--cluster", "prod", "--out", "ro/p.yaml")
    assert result.returncode == 2
    assert "Permission denied" in result.stderr


def test_terminal_escapes_in_aws_auth_are_shown_escaped(cli: Cli, tmp_path: Path) -> None:
    source = aws_auth(
        tmp_path,
        '- rolearn: arn:aws:iam::111122223333:role/Developer\n  username: "dev\\e]0;pwned\\a"\n'
        '  groups: ["g\\e[2J", "[bold]x[/]", "\\u009b31m"]',
    )
    planned = cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(source), "--out", "p.yaml")
    assert planned.returncode == 0, planned.stderr
    for shown in (planned, cli("show", "p.yaml")):
        assert shown.returncode == 0, shown.stderr
        for raw in ("\x1b", "\x07", "\x9b"):
            assert raw not in shown.stdout + shown.stderr
        assert "dev\\x1b]0;pwned\\x07" in shown.stdout
        assert "[bold]x[/]" in shown.stdout  # data is never rich markup
    as_json = cli("show", "p.yaml", "--output", "json")
    assert "\\u001b" in as_json.stdout and "\x1b" not in as_json.stdout


def test_an_error_naming_hostile_text_is_escaped(cli: Cli) -> None:
    result = offline(cli, "--cluster", "prod", "--out", "\x1b]0;pwned\x07/p.yaml")
    assert result.returncode == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert result.stderr.startswith("error: \\x1b]0;pwned\\x07/p.yaml: cannot write")


def test_show_refuses_an_alias_bomb_plan_fast(cli: Cli, tmp_path: Path) -> None:
    from tests.unit.test_planfile_hostile import BOMB

    (tmp_path / "bomb.plan.yaml").write_text(BOMB)
    for command in (("show", "bomb.plan.yaml"), ("status", "bomb.plan.yaml")):
        result = cli(*command)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: bomb.plan.yaml:2: YAML anchors and aliases are not allowed")


@pytest.mark.parametrize("port", ["-1", "99999", "65536"])
def test_sandbox_serve_refuses_a_port_out_of_range(cli: Cli, port: str) -> None:
    scenario = str(Path(SMALL).with_name("scenario-small.yaml"))
    result = cli("sandbox", "serve", scenario, "--port", port)
    assert result.returncode == 2
    assert "Invalid value for '--port'" in result.stderr
