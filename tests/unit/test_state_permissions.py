"""Where `show --iam-policy` finds a run's S3 state (app/state.py state_grant: the run directory as PlanRun.open
finds it), and the statements that state gets (rules/state_permissions.py), with hand-written expectations.
tests/cli/test_show_permissions_cli.py covers the same through the CLI; tests/integration/test_permissions_cli.py
holds the statements against the S3 calls of a real apply and rollback."""

from __future__ import annotations

import pytest

from migrator.app.state import state_grant
from migrator.errors import InputError
from migrator.rules.state_permissions import S3Place, StateGrant, check_kms_key, state_permissions
from tests.unit.test_permissions import make_plan

PLAN_URL = "s3://fleet-state/runs/team-a/team/8d4bbe3e8989.plan.yaml"


def test_a_plan_named_by_its_url_runs_in_its_own_folder() -> None:
    grant = state_grant(PLAN_URL, make_plan(), None, None)
    assert grant == StateGrant(
        run_dir=S3Place("fleet-state", "runs/team-a/team"),
        plan=S3Place("fleet-state", "runs/team-a/team/8d4bbe3e8989.plan.yaml"),
    )
    statements = state_permissions(grant, "aws").statements
    assert [s["Sid"] for s in statements] == ["StateObjects", "StateListing"]  # the plan is inside the run dir
    assert statements[0]["Resource"] == ["arn:aws:s3:::fleet-state/runs/team-a/team/*"]
    assert statements[1]["Condition"] == {"StringLike": {"s3:prefix": ["runs/team-a/team/*"]}}


def test_with_state_the_run_directory_is_the_clusters_folder_of_the_state_and_the_plan_is_read_where_it_is() -> None:
    grant = state_grant(PLAN_URL, make_plan(), "s3://other-state/p", None)
    assert grant == StateGrant(
        run_dir=S3Place("other-state", "p/team"),
        marker=S3Place("other-state", "p/aws-auth-migrate-state.json"),
        plan=S3Place("fleet-state", "runs/team-a/team/8d4bbe3e8989.plan.yaml"),
    )
    by_sid = {s["Sid"]: s for s in state_permissions(grant, "aws").statements}
    assert by_sid["StatePlanObject"]["Action"] == ["s3:GetObject"]
    assert by_sid["StatePlanObject"]["Resource"] == ["arn:aws:s3:::fleet-state/runs/team-a/team/8d4bbe3e8989.plan.yaml"]
    assert by_sid["StateListing"]["Resource"] == ["arn:aws:s3:::other-state"]
    assert by_sid["StateListing2"]["Resource"] == ["arn:aws:s3:::fleet-state"]
    # the plan's key is listable: S3 answers a missing plan 404 (no such plan), not 403 (access denied)
    assert by_sid["StateListing2"]["Condition"] == {
        "StringLike": {"s3:prefix": ["runs/team-a/team/8d4bbe3e8989.plan.yaml"]}
    }


def test_a_plan_url_with_a_local_state_is_only_read() -> None:
    grant = state_grant(PLAN_URL, make_plan(), "plans", None)
    assert grant == StateGrant(plan=S3Place("fleet-state", "runs/team-a/team/8d4bbe3e8989.plan.yaml"))
    actions = {a for s in state_permissions(grant, "aws").statements for a in s["Action"]}
    assert actions == {"s3:GetObject", "s3:ListBucket"}


def test_a_plan_at_the_buckets_root_runs_in_the_whole_bucket() -> None:
    grant = state_grant("s3://fleet-state/8d4bbe3e8989.plan.yaml", make_plan(), None, None)
    assert grant is not None and grant.run_dir == S3Place("fleet-state", "")
    statements = state_permissions(grant, "aws").statements
    assert statements[0]["Resource"] == ["arn:aws:s3:::fleet-state/*"]
    assert statements[1]["Condition"] == {"StringLike": {"s3:prefix": ["*"]}}


def test_local_files_need_nothing_and_a_kms_key_needs_an_s3_run_directory() -> None:
    assert state_grant("plans/team/x.plan.yaml", make_plan(), None, None) is None
    assert state_grant("plans/team/x.plan.yaml", make_plan(), "plans", None) is None
    with pytest.raises(InputError, match="--state-kms-key encrypts an S3 state"):
        state_grant(PLAN_URL, make_plan(), "plans", "alias/state")


def test_a_bare_key_id_is_named_in_any_region_and_account_with_a_note() -> None:
    key = "mrk-1234abcd12ab34cd56ef1234567890ab"
    permissions = state_permissions(StateGrant(run_dir=S3Place("b-1", "p"), kms_key=key), "aws-us-gov")
    assert permissions.statements[-1]["Resource"] == [f"arn:aws-us-gov:kms:*:*:key/{key}"]
    assert "put its ARN in the statement's Resource" in permissions.notes[0]


@pytest.mark.parametrize(
    "key",
    [
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-cn:kms:cn-north-1:111122223333:alias/state",
        "alias/aws-auth-migrate/state_1",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
    ],
)
def test_kms_keys_in_every_form_kms_takes_are_accepted(key: str) -> None:
    assert check_kms_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "state",
        "alias/",
        "alias/a b",
        "alias/x\n",
        "1234abcd-12ab-34cd-56ef-1234567890ab\n",
        "arn:aws:kms:eu-west-1:111122223333:key/not-a-key-id",
        "arn:aws:s3:::bucket",
    ],
)
def test_anything_else_is_bad_input(key: str) -> None:
    with pytest.raises(InputError, match="is not a KMS key id"):
        check_kms_key(key)
