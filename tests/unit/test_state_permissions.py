"""Where `show --iam-policy` finds a run's S3 state (app/state.py state_grant: the run directory as PlanRun.open
finds it), and the statements that state gets (rules/state_permissions.py), with hand-written expectations.
tests/cli/test_show_permissions_cli.py covers the same through the CLI; tests/integration/test_permissions_cli.py
holds the statements against the S3 calls of a real apply and rollback."""

from __future__ import annotations

import dataclasses

import pytest

from migrator.app.state import state_grant
from migrator.errors import InputError
from migrator.rules.state_permissions import S3Place, StateGrant, check_kms_key, state_permissions
from tests.unit.test_permissions import make_plan

PLAN_URL = "s3://fleet-state/runs/team-a/team/8d4bbe3e8989.plan.yaml"


def test_a_plan_named_by_its_url_runs_in_its_own_folder() -> None:
    grant = state_grant(PLAN_URL, make_plan(), None, None)
    assert grant == StateGrant(run_dir=S3Place("fleet-state", "runs/team-a/team"))
    statements = state_permissions(grant, "aws").statements
    # the plan is inside the run dir; the bucket's default encryption is asked once (no --state-kms-key)
    assert [s["Sid"] for s in statements] == ["StateObjects", "StateListing", "StateBucketEncryption"]
    assert statements[0]["Resource"] == ["arn:aws:s3:::fleet-state/runs/team-a/team/*"]
    assert statements[1]["Condition"] == {"StringLike": {"s3:prefix": ["runs/team-a/team/*"]}}


def test_a_plan_file_with_an_s3_state_runs_in_its_clusters_folder_account_region_and_name() -> None:
    grant = state_grant("plan.yaml", make_plan(), "s3://other-state/p", None)
    assert grant == StateGrant(
        run_dir=S3Place("other-state", "p/111122223333/eu-west-1/team"),
        marker=S3Place("other-state", "p/aws-auth-migrate-state.json"),
    )
    by_sid = {s["Sid"]: s for s in state_permissions(grant, "aws").statements}
    assert by_sid["StateObjects"]["Resource"] == [
        "arn:aws:s3:::other-state/p/111122223333/eu-west-1/team/*",
        "arn:aws:s3:::other-state/p/aws-auth-migrate-state.json",
    ]
    assert by_sid["StateListing"]["Condition"] == {
        "StringLike": {"s3:prefix": ["p/", "p/111122223333/eu-west-1/team/*", "p/aws-auth-migrate-state.json"]}
    }


def test_a_plan_url_in_the_state_runs_in_its_own_folder_and_the_states_marker_is_read() -> None:
    for state in ("s3://fleet-state/runs", "s3://fleet-state/runs/team-a/team", "s3://fleet-state"):
        grant = state_grant(PLAN_URL, make_plan(), state, None)
        assert grant is not None and grant.run_dir == S3Place("fleet-state", "runs/team-a/team"), state
        assert grant.marker is not None and grant.marker.key.endswith("aws-auth-migrate-state.json")


@pytest.mark.parametrize(
    "state", ["s3://other-state/runs", "s3://fleet-state/ru", "s3://fleet-state/runs/team-a/team/x", "plans"]
)
def test_a_plan_url_with_a_state_that_does_not_hold_it_is_refused(state: str) -> None:
    with pytest.raises(InputError, match=f"{PLAN_URL}: not in the state {state}") as refused:
        state_grant(PLAN_URL, make_plan(), state, None)
    assert refused.value.exit_code == 2


def test_a_plan_without_a_region_has_no_folder_in_an_s3_state() -> None:
    offline = make_plan()
    offline = dataclasses.replace(offline, cluster=dataclasses.replace(offline.cluster, region=None))
    with pytest.raises(InputError, match="names no region"):
        state_grant("plan.yaml", offline, "s3://fleet-state/runs", None)


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
        state_grant("plans/team/x.plan.yaml", make_plan(), "plans", "alias/state")


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
