"""`plan --offline` and `show` through the real CLI."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import EXAMPLES

Cli = Callable[..., subprocess.CompletedProcess[str]]
PINNED = ("--created-at", "2026-01-01T00:00:00Z")


def offline_plan(cli: Cli, example: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(EXAMPLES / example), *extra)


def test_json_output_follows_the_contract(cli: Cli, tmp_path: Path) -> None:
    result = offline_plan(
        cli, "aws-auth-large.yaml", "--target", "API", "--output", "json", "--region", "us-east-1", *PINNED
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["schema"] == "aws-auth-migrate/plan/v3"
    assert plan["cluster"] == {
        "name": "prod",
        "region": "us-east-1",
        "account": "111122223333",
        "partition": "aws",
        "authenticationMode": "CONFIG_MAP",
    }
    assert plan["target"] == "API"
    assert set(plan["fingerprint"]) >= {"awsAuthSha256", "authenticationMode", "entriesSha256"}
    entry = plan["entries"][0]
    assert set(entry) >= {"principalArn", "type", "username", "kubernetesGroups", "policies", "action", "source"}
    assert set(entry["source"]) == {"section", "index", "line"}
    assert all({"id", "kind", "params"} <= set(step) for step in plan["steps"])
    # An entry's steps name it; the other steps say what they do, and a gate whether it is blocked.
    for step in plan["steps"]:
        entry_step = step["kind"] in ("create-entry", "associate-policy")
        assert ("description" in step) is not entry_step
        assert ("blocked" in step) is (step["kind"] == "set-mode")
    assert plan["stepKinds"]["set-mode"]["gate"] is True and plan["stepKinds"]["set-mode"]["irreversible"] is True
    assert list(plan["stepKinds"]) == list(dict.fromkeys(s["kind"] for s in plan["steps"]))
    modes = [s["params"]["mode"] for s in plan["steps"] if s["kind"] == "set-mode"]
    assert modes == ["API_AND_CONFIG_MAP", "API"]
    written = tmp_path / "plans" / "prod" / f"{plan['planId']}.plan.yaml"
    assert written.is_file()
    assert f"Plan written to plans/prod/{plan['planId']}.plan.yaml" in result.stderr


def test_same_input_gives_a_byte_identical_plan_file(cli: Cli, tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        assert offline_plan(cli, "aws-auth-large.yaml", "--out", name, *PINNED).returncode == 0
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()
    assert offline_plan(cli, "aws-auth-large.yaml", "--out", "c.yaml").returncode == 0
    differing = [
        (a, c)
        for a, c in zip(
            (tmp_path / "a.yaml").read_text().splitlines(), (tmp_path / "c.yaml").read_text().splitlines(), strict=True
        )
        if a != c
    ]
    assert [a.split(":")[0] for a, _ in differing] == ["createdAt", "  sha256"]


def test_show_renders_text_and_json(cli: Cli) -> None:
    assert offline_plan(cli, "aws-auth-problems.yaml", "--target", "API", "--out", "p.yaml", *PINNED).returncode == 0
    text = cli("show", "p.yaml")
    assert text.returncode == 0, text.stderr
    assert "BLOCKED by" in text.stdout
    assert "after this step there is no way back to CONFIG_MAP" in text.stdout
    assert "MAP_ACCOUNTS" in text.stdout
    shown = json.loads(cli("show", "p.yaml", "--output", "json").stdout)
    blocked = [s["blocked"] for s in shown["steps"] if s["kind"] == "set-mode"]
    assert blocked == [False, True]


def test_an_edited_plan_is_refused(cli: Cli, tmp_path: Path) -> None:
    assert offline_plan(cli, "aws-auth-small.yaml", "--out", "p.yaml", *PINNED).returncode == 0
    path = tmp_path / "p.yaml"
    path.write_text(path.read_text().replace("developers", "cluster-admins", 1))
    result = cli("show", "p.yaml")
    assert result.returncode == 2
    assert "p.yaml: the plan was edited after it was written" in result.stderr
    assert result.stdout == ""


def test_malformed_aws_auth_is_file_line_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "aws-auth.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n"
        "  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/A\n      groups: admins\n"
    )
    result = cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}:9: ")
    assert not (tmp_path / "plans").exists()


HEADER = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\n"


@pytest.mark.parametrize(
    "data",
    ["data: {}\n", "", 'data:\n  mapRoles: ""\n', "data:\n  mapRoles: |\n    []\n", 'data:\n  mapUsers: "[]"\n'],
    ids=["empty-data", "no-data", "empty-mapRoles", "empty-list-mapRoles", "empty-list-mapUsers"],
)
def test_an_aws_auth_without_mappings_is_named_with_a_hint_for_account(cli: Cli, tmp_path: Path, data: str) -> None:
    """Issue 20: these said "cannot tell the cluster's account" without saying of which file."""
    empty = tmp_path / "empty-aws-auth.yaml"
    empty.write_text(HEADER + data)
    result = cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(empty))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {empty}: cannot tell the cluster's account"), result.stderr
    assert "--account" in result.stderr
    assert not (tmp_path / "plans").exists()
    planned = cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(empty), "--account", "111122223333",
                  "-o", "json", "--out", str(tmp_path / "p.plan.yaml"))  # fmt: skip
    assert planned.returncode == 0, planned.stderr


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert offline_plan(cli, "aws-auth-small.yaml", "--remove-aws-auth").returncode == 2
    assert cli("plan", "--cluster", "prod", "--offline").returncode == 2
    assert cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", "missing.yaml").returncode == 2
    assert cli("plan", "--target", "NOPE", "--cluster", "x").returncode == 2
    assert cli("show", "missing.plan.yaml").returncode == 2


def test_help_lists_exit_codes(cli: Cli) -> None:
    result = cli("--help")
    assert result.returncode == 0
    assert "Exit codes" in result.stdout
    assert "stale plan" in result.stdout


CHINA_AWS_AUTH = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: aws-auth, namespace: kube-system}
data:
  mapRoles: |
    - rolearn: arn:aws-cn:iam::111122223333:role/NodeRole
      username: system:node:{{EC2PrivateDNSName}}
      groups: [system:bootstrappers, system:nodes]
    - rolearn: arn:aws-cn:iam::111122223333:role/Admin
      username: admin
      groups: [system:masters, ops]
  mapUsers: |
    - userarn: arn:aws-cn:iam::111122223333:user/alice
      username: alice
      groups: [system:masters]
"""
CN_ADMIN = "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def test_a_china_aws_auth_plans_offline_without_region_in_aws_cn(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "cn.yaml").write_text(CHINA_AWS_AUTH)
    args = ("plan", "--cluster", "prod", "--offline", "--aws-auth-file", "cn.yaml", "--target", "API")
    result = cli(*args, "--output", "json", "--out", "cn.plan.yaml", *PINNED)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["cluster"] == {
        "name": "prod",
        "region": None,
        "account": "111122223333",
        "partition": "aws-cn",
        "authenticationMode": "CONFIG_MAP",
    }
    policies = {
        e["principalArn"]: [p["policyArn"] for p in e["policies"]] for e in plan["entries"] if e["action"] == "create"
    }
    assert policies == {
        "arn:aws-cn:iam::111122223333:role/NodeRole": [],
        "arn:aws-cn:iam::111122223333:role/Admin": [CN_ADMIN],
        "arn:aws-cn:iam::111122223333:user/alice": [CN_ADMIN],
    }
    associated = [s["params"]["policyArn"] for s in plan["steps"] if s["kind"] == "associate-policy"]
    assert associated == [CN_ADMIN, CN_ADMIN]
    assert "arn:aws:" not in result.stdout
    assert [f["code"] for f in plan["findings"] if f["code"].startswith("PARTITION")] == ["PARTITION_INFERRED"]
    assert not [f for f in plan["findings"] if f["severity"] == "blocker" and f["code"] != "CALLER_LOCKOUT"]

    text = cli("show", "cn.plan.yaml")
    assert text.returncode == 0, text.stderr
    assert "region unknown, partition aws-cn inferred from aws-auth" in text.stdout
    policy = cli("show", "cn.plan.yaml", "--iam-policy", "--output", "json")
    assert policy.returncode == 0, policy.stderr
    assert "arn:aws-cn:eks:*:111122223333:cluster/prod" in policy.stdout
    assert "arn:aws:" not in policy.stdout
    refused = cli("apply", "cn.plan.yaml", "--yes")
    assert refused.returncode == 2
    assert "offline plan is for review only" in refused.stderr


def test_a_china_aws_auth_with_a_region_of_another_partition_is_blocked(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "cn.yaml").write_text(CHINA_AWS_AUTH)
    result = cli(
        "plan", "--cluster", "prod", "--offline", "--aws-auth-file", "cn.yaml", "--region", "eu-west-1", "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert (plan["cluster"]["region"], plan["cluster"]["partition"]) == ("eu-west-1", "aws")
    mismatched = sorted(f["principalArn"] for f in plan["findings"] if f["code"] == "PARTITION_MISMATCH")
    assert mismatched == [
        "arn:aws-cn:iam::111122223333:role/Admin",
        "arn:aws-cn:iam::111122223333:role/NodeRole",
        "arn:aws-cn:iam::111122223333:user/alice",
    ]
    assert {f["severity"] for f in plan["findings"] if f["code"] == "PARTITION_MISMATCH"} == {"blocker"}
    assert all(e["action"] == "skip" for e in plan["entries"])


def test_plan_help_says_what_an_offline_plan_without_region_records(cli: Cli) -> None:
    result = cli("plan", "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0
    flat = " ".join(result.stdout.replace("│", " ").split())  # rich wraps help in a box
    assert "Offline without it: the plan records no region" in flat


def test_out_wins_over_a_state_from_the_environment_and_is_refused_beside_one_on_the_command_line(
    cli: Cli, tmp_path: Path
) -> None:
    # A CI job sets AWS_AUTH_MIGRATE_STATE / AWS_AUTH_MIGRATE_PLANS for every command: `plan --out` still writes there.
    for name, value in (("AWS_AUTH_MIGRATE_STATE", "s3://fleet-state/runs"), ("AWS_AUTH_MIGRATE_PLANS", "elsewhere")):
        args = ("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"))
        result = cli(*args, "--out", f"{name}.yaml", env={name: value})
        assert result.returncode == 0, result.stderr
        assert (tmp_path / f"{name}.yaml").is_file() and not (tmp_path / "elsewhere").exists()
    for given in (("--state", "state"), ("--plans-dir", "state")):
        refused = offline_plan(cli, "aws-auth-small.yaml", "--out", "x.yaml", *given)
        assert refused.returncode == 2 and "--out names the plan file itself" in refused.stderr, refused.stderr
    assert not (tmp_path / "x.yaml").exists() and not (tmp_path / "state").exists()


@pytest.mark.parametrize("url", ["S3://fleet-state/runs", "s3:/fleet-state/runs", "gs://fleet-state/runs"])
def test_a_state_that_looks_like_a_url_but_is_no_s3_url_is_refused_not_made_a_local_folder(
    cli: Cli, tmp_path: Path, url: str
) -> None:
    result = offline_plan(cli, "aws-auth-small.yaml", "--state", url)
    assert result.returncode == 2, result.stderr
    assert f"--state: {url!r} looks like a URL" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no `S3:` folder holding the state on this machine
