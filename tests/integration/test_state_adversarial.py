"""Adversarial tests of S3 run state (issue 21) against the sandbox's S3 (moto's, through the real boto3; one
sandbox for the module, a bucket per test): what `status` and `batch status` may touch, a journal damaged in
the bucket, and server-side encryption as a platform team configures it (a bucket whose default is SSE-KMS, a
state made with --state-kms-key)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from migrator.aws.s3state import open_s3_store
from migrator.errors import InputError
from migrator.model import AuthMode
from migrator.plan.planfile import dump_plan, plan_name
from migrator.plan.planner import PlanOptions
from migrator.run.journal import Event, ObjectJournal
from migrator.run.lease import LeaseHolder
from migrator.sandbox.server import Sandbox
from migrator.state.location import STATE_ENV, S3Location
from tests.cli.conftest import EXAMPLES, inherited_env
from tests.integration.test_state_s3 import INVENTORY as FLEET_INVENTORY
from tests.integration.test_state_s3 import STATE as FLEET_STATE
from tests.integration.test_state_s3 import WEST, Runner, StateBucket, fleet_scenario
from tests.support.arns import ACCOUNT, role

REGION = "us-east-1"
PREFIX = "fleet"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
INVENTORY = f"""\
schema: aws-auth-migrate/inventory/v1
defaults: {{region: {REGION}, account: "{ACCOUNT}", target: API}}
clusters:
  - {{name: prod}}
"""


@dataclass
class SandboxS3:
    sandbox: Sandbox
    s3: Any
    buckets: Iterator[int]

    def new_bucket(self) -> str:
        name = f"adversarial-{next(self.buckets)}"
        self.s3.create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str) -> dict[str, tuple[str, str]]:
        """Every object: key -> (ETag, LastModified), to tell that nothing was written, not even the same bytes."""
        listed = self.s3.list_objects_v2(Bucket=bucket).get("Contents", ())
        return {str(o["Key"]): (str(o["ETag"]), str(o["LastModified"])) for o in listed}

    def cli(self, cwd: Path, *args: str, env: str | None = None) -> subprocess.CompletedProcess[str]:
        """The CLI as a subprocess on the sandbox; `env`: AWS_AUTH_MIGRATE_STATE, as a CI job exports it."""
        state = {STATE_ENV: env} if env is not None else {}
        result = subprocess.run(
            [sys.executable, "-m", "migrator", *args],
            capture_output=True, text=True, cwd=cwd, env={**inherited_env(), **self.sandbox.env(), **state},
            timeout=300, check=False,
        )  # fmt: skip
        assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture(scope="module")
def sandbox_s3() -> Iterator[SandboxS3]:
    """One sandbox (moto's state is process-wide): test_state_s3's fleet, whose clusters one test plans and applies."""
    with Sandbox(fleet_scenario()) as sandbox, pytest.MonkeyPatch.context() as env:
        for name, value in sandbox.env().items():
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.delenv(name, raising=False)
        yield SandboxS3(sandbox, boto3.client("s3", region_name=REGION), itertools.count(1))


@dataclass(frozen=True)
class Fleet:
    """A state holding one cluster's batch plan, a run of it (a journal) and its lock held by a live-looking run
    on another machine, as `batch plan` and `batch apply` leave them; and the inventory naming the cluster."""

    bucket: str
    plan_url: str
    journal: str  # the journal's folder, as a key of the bucket
    inventory: Path

    @property
    def state(self) -> str:
        return f"s3://{self.bucket}/{PREFIX}"


def make_fleet(sandbox_s3: SandboxS3, tmp_path: Path) -> Fleet:
    from migrator.app.planning import plan_offline

    bucket = sandbox_s3.new_bucket()
    plan = plan_offline(
        EXAMPLES / "aws-auth-small.yaml",
        cluster="prod",
        region=REGION,
        account=ACCOUNT,
        mode=AuthMode.CONFIG_MAP,
        options=PlanOptions(target=AuthMode.API, created_at="2025-03-01T12:00:00Z"),
    )
    folder = open_s3_store(S3Location(bucket, PREFIX), region=REGION, profile=None, kms_key=None).child(
        f"{ACCOUNT}/{REGION}/prod"
    )
    folder.put(plan_name(plan), dump_plan(plan).encode())
    folder.put("batch.current", f"{plan_name(plan)}\n".encode())
    plan_id = plan_name(plan).removesuffix(".plan.yaml")
    journal = ObjectJournal(folder, f"{plan_id}.journal", plan_id)
    journal.append(Event.RUN_STARTED, operation="apply", pid=77, host="ci-runner-7")
    journal.append(Event.STEP_STARTED, plan.steps[0].id)
    journal.append(Event.STEP_DONE, plan.steps[0].id, sha256="x")
    holder = LeaseHolder("ci-runner-7", 77, plan_id, "bob").identity()
    lock = {"schema": "aws-auth-migrate/lock/v1", "holderIdentity": holder, "leaseDurationSeconds": 60}
    folder.put("lock.json", json.dumps(lock).encode())
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(INVENTORY)
    base = f"{PREFIX}/{ACCOUNT}/{REGION}/prod"
    return Fleet(bucket, f"s3://{bucket}/{base}/{plan_name(plan)}", f"{base}/{plan_id}.journal", inventory)


def test_status_and_batch_status_of_an_s3_state_read_s3_and_nothing_else(sandbox_s3: SandboxS3, tmp_path: Path) -> None:
    fleet = make_fleet(sandbox_s3, tmp_path)
    before = sandbox_s3.objects(fleet.bucket)
    sandbox_s3.sandbox.clear_calls()
    one = sandbox_s3.cli(tmp_path, "status", fleet.plan_url, "-o", "json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["result"] == "in-progress" and "ci-runner-7" in json.loads(one.stdout)["message"]
    fleet_status = sandbox_s3.cli(
        tmp_path, "batch", "status", str(fleet.inventory), "--state", fleet.state, "-o", "json"
    )
    assert fleet_status.returncode == 0, fleet_status.stderr
    (cluster,) = json.loads(fleet_status.stdout)["clusters"]
    assert cluster["outcome"] == "in-progress" and cluster["stepsDone"] == 1, cluster
    assert {call.service for call in sandbox_s3.sandbox.calls()} == {"s3"}
    assert sandbox_s3.objects(fleet.bucket) == before  # nothing written, not even the same bytes again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.yaml"]


def test_a_batch_plan_named_by_its_url_with_the_state_in_the_environment_shows_the_batch_run(
    sandbox_s3: SandboxS3, tmp_path: Path
) -> None:
    # A plan named inside the state (a batch plan's URL) with --state or AWS_AUTH_MIGRATE_STATE (the CI examples
    # export it for every command) ran in <state>/<name>/ instead of its own folder: status said not-started while
    # the batch run was in progress, rollback "nothing to undo", apply a second journal and lock object.
    fleet = make_fleet(sandbox_s3, tmp_path)
    other = f"s3://{sandbox_s3.new_bucket()}/elsewhere"  # the environment's state, not the plan's: set aside
    for given, env in ((("--state", fleet.state), fleet.state), ((), fleet.state), ((), other)):
        result = sandbox_s3.cli(tmp_path, "status", fleet.plan_url, *given, "-o", "json", env=env)
        assert result.returncode == 0, result.stderr
        shown = json.loads(result.stdout)
        assert shown["result"] == "in-progress" and "ci-runner-7" in shown["message"], (given, env, result.stdout)


def test_a_plan_named_by_its_url_with_another_state_on_the_command_line_is_exit_2_with_nothing_read(
    sandbox_s3: SandboxS3, tmp_path: Path
) -> None:
    fleet = make_fleet(sandbox_s3, tmp_path)
    other = f"s3://{sandbox_s3.new_bucket()}/elsewhere"
    sandbox_s3.sandbox.clear_calls()
    commands = (("status",), ("rollback", "--yes"), ("apply", "--yes"), ("export", "--format", "terraform"))
    states = (other, str(tmp_path / "plans"), f"s3://{fleet.bucket}/fle", f"{fleet.state}/{ACCOUNT}/{REGION}/x")
    for command, state in zip(commands, states, strict=True):
        result = sandbox_s3.cli(tmp_path, command[0], fleet.plan_url, *command[1:], "--state", state)
        assert result.returncode == 2, (command, state, result.stdout + result.stderr)
        assert f"{fleet.plan_url}: not in the state {state}" in result.stderr, result.stderr
    assert sandbox_s3.sandbox.calls() == []  # refused before anything was read
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.yaml"]


def test_a_single_apply_of_a_local_plan_and_a_batch_apply_of_its_cluster_meet_the_same_lock_object(
    sandbox_s3: SandboxS3, tmp_path: Path
) -> None:
    # In an S3 state a single run kept its journal and lock object in <state>/<name>/, a batch run in
    # <state>/<account>/<region>/<name>/: the two did not exclude each other through the lock object (the lock that
    # keeps out runs that may not write the Lease), and same-named clusters of two accounts shared one.
    bucket = sandbox_s3.new_bucket()
    state = f"s3://{bucket}/{PREFIX}"
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(FLEET_INVENTORY)
    planned = sandbox_s3.cli(tmp_path, "batch", "plan", str(inventory), "--state", state, "--select", "charlie", "-o",
                             "json")  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    (entry,) = json.loads(planned.stdout)["clusters"]
    base = f"{PREFIX}/{ACCOUNT}/{WEST}/charlie"
    assert entry["planFile"] == f"s3://{bucket}/{base}/{entry['planId']}.plan.yaml"
    local = tmp_path / "charlie.plan.yaml"  # the batch's plan as a CI job downloads it
    local.write_bytes(sandbox_s3.s3.get_object(Bucket=bucket, Key=f"{base}/{entry['planId']}.plan.yaml")["Body"].read())
    # A batch apply of the cluster has started and holds its lock object (for longer than a run waits: refused
    # without waiting).
    folder = open_s3_store(S3Location(bucket, base), region=REGION, profile=None, kms_key=None, check=False)
    ObjectJournal(folder, f"{entry['planId']}.journal", entry["planId"]).append(
        Event.RUN_STARTED, operation="apply", pid=77, host="ci-runner-7"
    )
    holder = LeaseHolder("ci-runner-7", 77, entry["planId"], "bob").identity()
    lock = {"schema": "aws-auth-migrate/lock/v1", "holderIdentity": holder, "leaseDurationSeconds": 3600}
    sandbox_s3.s3.put_object(Bucket=bucket, Key=f"{base}/lock.json", Body=json.dumps(lock).encode())
    before = sandbox_s3.objects(bucket)
    sandbox_s3.sandbox.clear_calls()

    applied = sandbox_s3.cli(tmp_path, "apply", str(local), "--state", state, "--yes", "--role-arn",
                             role("migrator", ACCOUNT))  # fmt: skip
    assert applied.returncode == 7, applied.stdout + applied.stderr
    assert f"(lock object s3://{bucket}/{base}/lock.json)" in applied.stderr and "ci-runner-7" in applied.stderr
    shown = sandbox_s3.cli(tmp_path, "status", str(local), "--state", state, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["result"] == "in-progress" and "ci-runner-7" in shown.stdout, shown.stdout
    eks = {c.operation for c in sandbox_s3.sandbox.calls() if c.service == "eks"}
    assert all(operation.startswith(("Describe", "List")) for operation in eks), eks
    assert sandbox_s3.objects(bucket) == before  # no journal, no lock object of its own


def test_batch_plan_plans_again_a_cluster_whose_run_stopped_at_a_gate_rather_than_take_its_own_lock_for_a_run(
    sandbox_s3: SandboxS3, tmp_path: Path
) -> None:
    # batch plan holds the cluster's lock object while it decides whether the current plan's run is unfinished;
    # it read its own hold as "a run is in progress: pid <its own pid> (plan batch-plan)" and refused every cluster
    # that had a run (exit 5), in an S3 state only (a local state has no lock object to hold).
    sandbox = sandbox_s3.sandbox
    StateBucket(sandbox)
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(FLEET_INVENTORY)
    runner = Runner.make(tmp_path, "runner")
    batch = (str(inventory), "--state", FLEET_STATE, "--select", "alpha", "-o", "json")
    assert runner.run(sandbox, "batch", "plan", *batch).returncode == 0
    applied = runner.run(sandbox, "batch", "apply", *batch, "--yes", "--poll-seconds", "0.2")
    assert [c["outcome"] for c in json.loads(applied.stdout)["clusters"]] == ["at-gate"], applied.stderr
    again = runner.run(sandbox, "batch", "plan", *batch)
    (cluster,) = json.loads(again.stdout)["clusters"]
    assert (again.returncode, cluster["outcome"]) == (0, "planned"), cluster["message"]


DAMAGE = [
    pytest.param("000000002.json", b'{"at":"x","event":"step-started","planId":"p","step":["01"]}', id="a-step-edited"),
    pytest.param("000000002.json", b"", id="a-record-emptied"),
    pytest.param("notes.txt", b"who ran this?", id="another-object-in-its-folder"),
    pytest.param("000000007.json", b'{"at":"x","event":"run-finished","planId":"p"}', id="a-record-beyond-a-gap"),
]


@pytest.mark.parametrize(("name", "body"), DAMAGE)
def test_a_journal_damaged_in_the_bucket_is_exit_2_for_status_and_its_cluster_in_batch_status_and_nothing_is_written(
    sandbox_s3: SandboxS3, tmp_path: Path, name: str, body: bytes
) -> None:
    fleet = make_fleet(sandbox_s3, tmp_path)
    sandbox_s3.s3.put_object(Bucket=fleet.bucket, Key=f"{fleet.journal}/{name}", Body=body)
    before = sandbox_s3.objects(fleet.bucket)
    one = sandbox_s3.cli(tmp_path, "status", fleet.plan_url)
    assert one.returncode == 2, one.stdout + one.stderr
    assert f"{fleet.journal}/" in one.stderr and "the journal was edited or damaged" in one.stderr, one.stderr
    fleet_status = sandbox_s3.cli(
        tmp_path, "batch", "status", str(fleet.inventory), "--state", fleet.state, "-o", "json"
    )
    (cluster,) = json.loads(fleet_status.stdout)["clusters"]
    assert cluster["outcome"] == "failed" and cluster["error"]["exitCode"] == 2, cluster
    assert sandbox_s3.objects(fleet.bucket) == before


# --- encryption -------------------------------------------------------------------------------------------------


def test_a_bucket_whose_default_encryption_is_sse_kms_keeps_it_for_state_objects_written_without_a_key(
    sandbox_s3: SandboxS3,
) -> None:
    bucket = sandbox_s3.new_bucket()
    default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}
    sandbox_s3.s3.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]}
    )
    store = open_s3_store(S3Location(bucket, PREFIX), region=REGION, profile=None, kms_key=None)
    store.put("prod/x.aws-auth.backup.json", b"{}")
    head = sandbox_s3.s3.head_object(Bucket=bucket, Key=f"{PREFIX}/prod/x.aws-auth.backup.json")
    assert (head["ServerSideEncryption"], head.get("SSEKMSKeyId")) == ("aws:kms", KEY_ARN)


def test_a_state_made_with_a_kms_key_is_not_written_without_it_by_a_later_command(sandbox_s3: SandboxS3) -> None:
    bucket = sandbox_s3.new_bucket()
    location = S3Location(bucket, PREFIX)
    open_s3_store(location, region=REGION, profile=None, kms_key=KEY_ARN).put("prod/plan.yaml", b"x")
    try:
        later = open_s3_store(location, region=REGION, profile=None, kms_key=None)
        later.put("prod/x.aws-auth.backup.json", b"{}")
    except InputError:
        return  # refused: fine
    head = sandbox_s3.s3.head_object(Bucket=bucket, Key=f"{PREFIX}/prod/x.aws-auth.backup.json")
    assert (head["ServerSideEncryption"], head.get("SSEKMSKeyId")) == ("aws:kms", KEY_ARN)
