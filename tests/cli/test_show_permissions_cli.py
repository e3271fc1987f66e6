"""`show --iam-policy` through the real CLI: text (IAM JSON, `---`, Role YAML) and JSON output, and the S3 and
KMS actions of a run whose state is in S3."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.cli.conftest import EXAMPLES

Cli = Callable[..., subprocess.CompletedProcess[str]]


def plan_file(cli: Cli, tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "p.plan.yaml"
    args = ("plan", "--cluster", "team", "--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"))
    assert cli(*args, "--out", str(path), *extra).returncode == 0
    return path


def test_text_output_is_the_iam_policy_then_the_role(cli: Cli, tmp_path: Path) -> None:
    result = cli("show", str(plan_file(cli, tmp_path, "--target", "API", "--remove-aws-auth")), "--iam-policy")
    assert result.returncode == 0, result.stderr
    policy_text, role_text = result.stdout.split("\n---\n")
    policy = json.loads(policy_text)
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert {"Sid", "Effect", "Action", "Resource"} <= set(statement)
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action) for action in statement["Action"])
    role = YAML(typ="safe", pure=True).load(role_text)
    assert role["kind"] == "Role" and "delete" in role["rules"][0]["verbs"]
    assert list(YAML(typ="safe", pure=True).load_all(result.stdout)) == [policy, role]  # one valid YAML stream


def test_json_output_is_one_object(cli: Cli, tmp_path: Path) -> None:
    result = cli("show", str(plan_file(cli, tmp_path)), "--iam-policy", "-o", "json")
    assert result.returncode == 0, result.stderr
    both = json.loads(result.stdout)
    assert set(both) == {"iamPolicy", "kubernetesRole"}
    assert "eks:UpdateClusterConfig" in json.dumps(both["iamPolicy"])
    assert both["kubernetesRole"]["rules"][0]["verbs"] == ["get"]


def test_help_explains_the_option(cli: Cli) -> None:
    result = cli("show", "--help")
    assert "--iam-policy" in result.stdout and "least-privilege" in result.stdout


# --- the run's state in S3 (--state s3://BUCKET/PREFIX, --state-kms-key) ----------------------------------


def policy_of(cli: Cli, plan: Path, *args: str) -> dict[str, Any]:
    result = cli("show", str(plan), "--iam-policy", "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    policy: dict[str, Any] = json.loads(result.stdout)["iamPolicy"]
    return policy


def state_statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"] if s["Sid"].startswith("State")}


def test_a_plan_run_with_local_state_gets_no_s3_or_kms_action(cli: Cli, tmp_path: Path) -> None:
    plan = plan_file(cli, tmp_path, "--region", "eu-west-1", "--account", "111122223333")
    for extra in ((), ("--state", str(tmp_path / "state"))):
        policy = policy_of(cli, plan, *extra)
        assert not [a for s in policy["Statement"] for a in s["Action"] if a.startswith(("s3:", "kms:"))]


def test_with_s3_state_the_run_directory_is_read_written_and_listed_and_the_marker_read_and_written(
    cli: Cli, tmp_path: Path
) -> None:
    plan = plan_file(cli, tmp_path, "--region", "eu-west-1", "--account", "111122223333")
    statements = state_statements(policy_of(cli, plan, "--state", "s3://fleet-state/runs/team-a"))
    assert statements == {
        "StateObjects": {
            "Sid": "StateObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [
                "arn:aws:s3:::fleet-state/runs/team-a/111122223333/eu-west-1/team/*",
                "arn:aws:s3:::fleet-state/runs/team-a/aws-auth-migrate-state.json",
            ],
        },
        "StateListing": {
            "Sid": "StateListing",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::fleet-state"],
            "Condition": {
                "StringLike": {
                    "s3:prefix": [
                        "runs/team-a/",
                        "runs/team-a/111122223333/eu-west-1/team/*",
                        "runs/team-a/aws-auth-migrate-state.json",
                    ]
                }
            },
        },
        "StateBucketEncryption": {  # without --state-kms-key: the bucket's default, named on every write
            "Sid": "StateBucketEncryption",
            "Effect": "Allow",
            "Action": ["s3:GetEncryptionConfiguration"],
            "Resource": ["arn:aws:s3:::fleet-state"],
        },
    }


def test_the_environment_names_the_state_as_state_does_and_text_output_carries_it_too(cli: Cli, tmp_path: Path) -> None:
    plan = plan_file(cli, tmp_path, "--region", "eu-west-1", "--account", "111122223333")
    result = cli("show", str(plan), "--iam-policy", env={"AWS_AUTH_MIGRATE_STATE": "s3://fleet-state"})
    assert result.returncode == 0, result.stderr
    policy, *_ = YAML(typ="safe", pure=True).load_all(result.stdout)
    statements = state_statements(policy)
    assert statements["StateObjects"]["Resource"] == [
        "arn:aws:s3:::fleet-state/111122223333/eu-west-1/team/*",
        "arn:aws:s3:::fleet-state/aws-auth-migrate-state.json",
    ]
    # a state at the bucket's root: its check lists the root (ListObjectsV2 with an empty prefix)
    assert statements["StateListing"]["Condition"]["StringLike"]["s3:prefix"] == [
        "",
        "111122223333/eu-west-1/team/*",
        "aws-auth-migrate-state.json",
    ]


def test_s3_arns_are_in_the_plans_partition(cli: Cli, tmp_path: Path) -> None:
    plan = plan_file(cli, tmp_path, "--region", "cn-north-1", "--account", "111122223333")
    statements = state_statements(policy_of(cli, plan, "--state", "s3://fleet-state/runs"))
    run_dir = "arn:aws-cn:s3:::fleet-state/runs/111122223333/cn-north-1/team/*"
    assert statements["StateObjects"]["Resource"][0] == run_dir
    assert statements["StateListing"]["Resource"] == ["arn:aws-cn:s3:::fleet-state"]


KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_a_kms_key_arn_is_the_resource_of_generate_data_key_and_decrypt(cli: Cli, tmp_path: Path) -> None:
    plan = plan_file(cli, tmp_path, "--region", "eu-west-1", "--account", "111122223333")
    result = cli("show", str(plan), "--iam-policy", "-o", "json", "--state", "s3://fleet-state/runs",
                 "--state-kms-key", KEY_ARN)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert state_statements(json.loads(result.stdout)["iamPolicy"])["StateKmsKey"] == {
        "Sid": "StateKmsKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": [KEY_ARN],
    }
    assert "note:" not in result.stderr


def test_a_kms_alias_is_matched_by_its_alias_and_the_output_says_how_to_name_the_key(cli: Cli, tmp_path: Path) -> None:
    plan = plan_file(cli, tmp_path, "--region", "eu-west-1", "--account", "111122223333")
    result = cli("show", str(plan), "--iam-policy", "--state", "s3://fleet-state/runs", "--state-kms-key",
                 "alias/fleet-state")  # fmt: skip
    assert result.returncode == 0, result.stderr
    policy, *_ = YAML(typ="safe", pure=True).load_all(result.stdout)  # stdout stays one YAML stream
    assert state_statements(policy)["StateKmsKey"] == {
        "Sid": "StateKmsKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": ["arn:aws:kms:*:*:key/*"],
        "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/fleet-state"]}},
    }
    assert "aws kms describe-key --key-id alias/fleet-state --query KeyMetadata.Arn" in result.stderr


def test_a_bad_kms_key_or_one_without_s3_state_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    plan = plan_file(cli, tmp_path, "--region", "eu-west-1", "--account", "111122223333")
    bad = cli("show", str(plan), "--iam-policy", "--state", "s3://fleet-state", "--state-kms-key", "alias/a b")
    assert bad.returncode == 2 and "is not a KMS key id" in bad.stderr and bad.stdout == ""
    alone = cli("show", str(plan), "--iam-policy", "--state-kms-key", KEY_ARN)
    assert alone.returncode == 2 and "give --state s3://BUCKET/PREFIX" in alone.stderr and alone.stdout == ""
