"""Run state that outlives the runner (issue 21): fleets run through the real CLI, as subprocesses, against one
sandbox whose S3 (moto's, through the real boto3) holds `--state s3://BUCKET/PREFIX`.

Each runner is another machine as far as the tool can tell: an empty working directory of its own, its own
machine lock directory (AWS_AUTH_MIGRATE_LOCK_DIR), HOME, XDG directories and TMPDIR; they share only the
inventory (outside every runner's directory), the sandbox and the bucket.

- runner A is SIGKILLed inside the first mode switch of every cluster (the sandbox holds the switches in
  progress until the test ends them); its directory is deleted; runner B resumes every cluster to the gate from
  the state alone; runner C rolls back what is reversible; `verify` of each cluster, with the backup and the
  journal named as keys in the state, finds every identity as aws-auth gives it; every journal is one history
  of three runs (A's, B's, C's), its objects numbered without gaps, and no runner left a file behind;
- two runners of one shard at once (separate machine locks): the second is exit 7, naming the first as the
  holder of the cluster's lock object, and writes no journal record; `status` of a plan named by its s3:// URL,
  and `batch status`, show the holder meanwhile;
- bad `--state`: a missing bucket, or a prefix holding another tool's objects, is exit 2, with nothing written.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migrator.run.lock import LOCK_DIR_ENV
from migrator.sandbox.scenario import Scenario, parse_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import inherited_env
from tests.integration.conftest import SandboxFactory, client, end_updates, hold_updates
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT, role
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

EAST, WEST = "us-east-1", "eu-west-1"
CLUSTERS = {"alpha": (ACCOUNT, EAST), "bravo": (OTHER_ACCOUNT, WEST), "charlie": (ACCOUNT, WEST)}
INVENTORY = f"""\
schema: aws-auth-migrate/inventory/v1
defaults: {{region: {EAST}, account: "{ACCOUNT}", target: API, roleArn: "arn:aws:iam::{{account}}:role/migrator"}}
clusters:
  - {{name: alpha}}
  - {{name: bravo, account: "{OTHER_ACCOUNT}", region: {WEST}}}
  - {{name: charlie, region: {WEST}}}
"""
BUCKET = "fleet-state"
PREFIX = "runs/team-a"
STATE = f"s3://{BUCKET}/{PREFIX}"
FIRST_GATE = ("--approve-gate", "API_AND_CONFIG_MAP")
FAST = ("--poll-seconds", "0.2")
MARKER = "aws-auth-migrate-state.json"
HOST = socket.gethostname()


def fleet_scenario() -> Scenario:
    def aws_auth(account: str) -> str:
        return aws_auth_config_map(
            f"- rolearn: {role('migrator', account)}\n  username: migrator:{{{{SessionName}}}}\n"
            "  groups: [system:masters]\n"
            f"- rolearn: {role('nodes', account)}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
            "  groups: [system:bootstrappers, system:nodes]\n"
            f"- rolearn: {role('Dev', account)}\n  username: dev:{{{{SessionName}}}}\n  groups: [developers]\n"
        )

    clusters = "".join(
        f'  - name: {name}\n    region: {region}\n    account: "{account}"\n    version: "1.31"\n'
        f"    authenticationMode: CONFIG_MAP\n    nodegroups: [{{name: ng, nodeRole: '{role('nodes', account)}'}}]\n"
        f"    awsAuth: |\n{indent(aws_auth(account), 6)}"
        for name, (account, region) in CLUSTERS.items()
    )
    roles = [role(n, a) for a in (ACCOUNT, OTHER_ACCOUNT) for n in ("migrator", "nodes", "Dev")]
    text = scenario_yaml(clusters, roles=[*roles, role("Admin")], caller=role("Admin"), simulation="updateSeconds: 1")
    return parse_scenario(text, "state-fleet.yaml")


def folder(name: str) -> str:
    """The cluster's folder in the state: `<account>/<region>/<name>`."""
    account, region = CLUSTERS[name]
    return f"{account}/{region}/{name}"


# --- the runners: one machine each ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runner:
    """A machine of its own: working directory, machine locks, HOME/XDG and TMPDIR under `root`."""

    root: Path

    @staticmethod
    def make(base: Path, name: str) -> Runner:
        runner = Runner(base / name)
        for path in (runner.work, runner.locks, runner.home, runner.tmp):
            path.mkdir(parents=True)
        return runner

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def env(self, sandbox: Sandbox) -> dict[str, str]:
        return {
            **inherited_env(),
            **sandbox.env(),
            LOCK_DIR_ENV: str(self.locks),
            "HOME": str(self.home),
            "XDG_STATE_HOME": str(self.home / "state"),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "TMPDIR": str(self.tmp),
        }

    def run(self, sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI as a subprocess; a generous timeout (a loaded 2-core machine), never a measure."""
        result = subprocess.run(
            [sys.executable, "-m", "migrator", *args],
            capture_output=True, text=True, cwd=self.work, env=self.env(sandbox), timeout=600, check=False,
        )  # fmt: skip
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def start(self, sandbox: Sandbox, *args: str) -> subprocess.Popen[bytes]:
        """The CLI in the background; its stdout and stderr go to files beside (not inside) the runner."""
        with self._output("out").open("wb") as stdout, self._output("err").open("wb") as stderr:
            return subprocess.Popen(
                [sys.executable, "-m", "migrator", *args],
                cwd=self.work, env=self.env(sandbox), stdout=stdout, stderr=stderr,
            )  # fmt: skip

    def _output(self, kind: str) -> Path:
        return self.root.parent / f"{self.root.name}.{kind}"

    def stdout(self) -> str:
        return self._output("out").read_text()

    def stderr(self) -> str:
        return self._output("err").read_text()

    def left_behind(self, *, killed: bool = False) -> list[str]:
        """Every file the runner's processes left under its root, but the machine's flock files (one per
        cluster, naming no principal: they keep two runs of this machine apart, they remember nothing) and, after
        a SIGKILL, the temp copies of the clusters' public CA certificates the kubernetes client reads (a killed
        process cannot remove them; a run that ends does)."""
        found = sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if not p.is_dir())
        return [
            p
            for p in found
            if not (p.startswith("locks/") and p.endswith(".lock"))
            and not (killed and p.startswith("tmp/aws-auth-migrate-ca-") and p.endswith(".crt"))
        ]


# --- the state, as S3 holds it ------------------------------------------------------------------------------


class StateBucket:
    """The state's bucket through a raw boto3 client of the sandbox, to look behind the tool."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.s3 = client(sandbox, "s3")
        self.s3.create_bucket(Bucket=BUCKET)

    def listed(self, under: str = "") -> list[str]:
        """Keys below PREFIX/`under`, relative to it."""
        base = f"{PREFIX}/{under}".rstrip("/") + "/"
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=base):
            found += [str(item["Key"]).removeprefix(base) for item in page.get("Contents", ())]
        return sorted(found)

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")["Body"].read())

    def plan_id(self, name: str) -> str:
        return self.read(f"{folder(name)}/batch.current").decode().strip().removesuffix(".plan.yaml")

    def journal(self, name: str) -> list[dict[str, Any]]:
        """The records of the cluster's journal, in order; asserts its objects are numbered 1..N without a gap
        (an object holds one record, or the group of records appended while the one before was written, one
        JSON object per line)."""
        plan_id = self.plan_id(name)
        names = self.listed(f"{folder(name)}/{plan_id}.journal")
        assert names == [f"{n:09d}.json" for n in range(1, len(names) + 1)], names
        objects = [self.read(f"{folder(name)}/{plan_id}.journal/{key}").decode() for key in names]
        return [json.loads(line) for text in objects for line in text.split("\n")]

    def lock_holder(self, name: str) -> dict[str, Any] | None:
        """Who the cluster's lock object names (None: free, or no lock object yet)."""
        try:
            body = json.loads(self.read(f"{folder(name)}/lock.json"))
        except self.s3.exceptions.NoSuchKey:
            return None
        holder = body["holderIdentity"]
        return json.loads(holder) if holder else None


def runs_of(records: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The journal cut into runs (each starts with its run-started); checks it is one history: it starts with a
    run, and no run records one event for one step twice."""
    runs: list[list[dict[str, Any]]] = []
    for record in records:
        if record["event"] == "run-started":
            runs.append([])
        assert runs, f"a record before any run started: {record}"
        runs[-1].append(record)
    for run in runs:
        seen = [(r["event"], r.get("step")) for r in run]
        assert len(seen) == len(set(seen)), f"a record twice in one run: {seen}"
    return runs


def shows(records: Iterable[dict[str, Any]], event: str, step_part: str) -> bool:
    return any(r["event"] == event and step_part in str(r.get("step")) for r in records)


# --- the sandbox's clusters ----------------------------------------------------------------------------------


def updating(sandbox: Sandbox, name: str) -> bool:
    """EKS has a mode switch of the cluster in progress."""
    account, region = CLUSTERS[name]
    cluster = sandbox.world.cluster(account, region, name)
    assert cluster is not None
    with sandbox.world.lock:
        return any(u.status == "InProgress" for u in cluster.updates.values())


def release_updates(sandbox: Sandbox) -> None:
    with sandbox.world.lock:
        sandbox.world.settings.update_seconds = 1.0
    for name, (account, region) in CLUSTERS.items():
        end_updates(sandbox, name, region, account)


def eks_of(sandbox: Sandbox, name: str) -> Any:
    account, region = CLUSTERS[name]
    return client(sandbox, region=region, credentials=sandbox.credentials_for(role("migrator", account), "oracle"))


def mode_of(sandbox: Sandbox, name: str) -> str:
    return str(eks_of(sandbox, name).describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"])


def entries_of(sandbox: Sandbox, name: str) -> set[str]:
    return set(eks_of(sandbox, name).list_access_entries(clusterName=name)["accessEntries"])


def report_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["schema"] == "aws-auth-migrate/batch-report/v1"
    return report


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["clusters"]}


# --- the tests --------------------------------------------------------------------------------------------------


def test_a_fleet_killed_on_one_runner_is_resumed_and_rolled_back_from_others_through_the_s3_state(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(fleet_scenario())
    bucket = StateBucket(sandbox)
    inventory = tmp_path / "inventory" / "fleet.yaml"
    inventory.parent.mkdir()
    inventory.write_text(INVENTORY)
    names = tuple(CLUSTERS)
    a, b, c = (Runner.make(tmp_path, name) for name in ("runner-a", "runner-b", "runner-c"))
    state = ("--state", STATE)

    planned = a.run(sandbox, "batch", "plan", str(inventory), *state, "-o", "json")
    assert planned.returncode == 0, planned.stderr
    plans = by_name(report_of(planned))
    assert {n: p["outcome"] for n, p in plans.items()} == dict.fromkeys(names, "planned")
    for name in names:
        assert plans[name]["planFile"] == f"{STATE}/{folder(name)}/{plans[name]['planId']}.plan.yaml"
        assert bucket.plan_id(name) == plans[name]["planId"]

    # Runner A: SIGKILLed while EKS has every cluster's first switch in progress (held until the test ends it).
    hold_updates(sandbox)
    apply = ("batch", "apply", str(inventory), "--yes", *FIRST_GATE, *FAST, *state, "-o", "json")
    process = a.start(sandbox, *apply)
    try:
        wait_for("every cluster's first switch", lambda: all(updating(sandbox, n) for n in names), process)
    finally:
        process.kill()
        process.wait()
    killed = process.pid
    for name in names:
        records = bucket.journal(name)
        assert [r["detail"]["pid"] for r in records if r["event"] == "run-started"] == [killed]
        assert shows(records, "step-started", "set-mode") and not shows(records, "step-done", "set-mode"), records
        assert records[-1]["event"] == "step-started" and "set-mode" in records[-1]["step"], records[-1]
        holder = bucket.lock_holder(name)  # never released
        assert holder is not None and (holder["pid"], holder["host"]) == (killed, HOST), holder
    release_updates(sandbox)
    assert a.left_behind(killed=True) == [], "runner A kept state outside S3"
    shutil.rmtree(a.root)  # nothing of A's can be read by B or C

    # Runner B: status from the state alone says interrupted (the lock objects name a process of this host that
    # is gone, not a run in progress), then the same apply finishes every cluster (to the unapproved gate).
    status = by_name(report_of(b.run(sandbox, "batch", "status", str(inventory), *state, "-o", "json")))
    assert {n: s["outcome"] for n, s in status.items()} == dict.fromkeys(names, "interrupted"), status
    one = b.run(sandbox, "status", f"{STATE}/{folder('alpha')}/{bucket.plan_id('alpha')}.plan.yaml", "-o", "json")
    assert (one.returncode, json.loads(one.stdout)["result"]) == (0, "interrupted"), one.stdout + one.stderr
    resumed = b.run(sandbox, *apply)
    assert resumed.returncode == 0, resumed.stderr
    report = by_name(report_of(resumed))
    for name in names:
        entry = report[name]
        assert (entry["outcome"], entry["mode"], entry["verified"]["ok"]) == ("at-gate", "API_AND_CONFIG_MAP", True)
        assert mode_of(sandbox, name) == "API_AND_CONFIG_MAP"
        account = CLUSTERS[name][0]
        assert entries_of(sandbox, name) == {role(n, account) for n in ("migrator", "nodes", "Dev")}
        assert bucket.lock_holder(name) is None  # released
    assert f"pid {killed} on {HOST}" in resumed.stderr  # the dead holder, taken over at once, is named
    assert b.left_behind() == [], "runner B kept state outside S3"
    shutil.rmtree(b.root)

    # Runner C: rolls back what the batch did (the entries; the first switch is one way).
    undone = c.run(sandbox, "batch", "rollback", str(inventory), "--yes", *state, "-o", "json")
    assert undone.returncode == 0, undone.stderr
    assert {n: r["outcome"] for n, r in by_name(report_of(undone)).items()} == dict.fromkeys(names, "rolled-back")
    for name in names:
        account, region = CLUSTERS[name]
        assert mode_of(sandbox, name) == "API_AND_CONFIG_MAP"
        assert entries_of(sandbox, name) == {role("nodes", account)}  # the one EKS made at the switch
        plan_id = bucket.plan_id(name)
        checked = c.run(
            sandbox, "verify", "--cluster", name, "--region", region, "--role-arn", role("migrator", account), *state,
            "--backup", f"{folder(name)}/{plan_id}.aws-auth.backup.json", "--journal",
            f"{folder(name)}/{plan_id}.journal", "-o", "json",
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr
        verdicts = {p["principal"]: p["category"] for p in json.loads(checked.stdout)["principals"]}
        assert verdicts == dict.fromkeys((role(n, account) for n in ("migrator", "nodes", "Dev")), "equivalent")
    assert c.left_behind() == [], "runner C kept state outside S3"

    # One history per journal: A's apply (cut short), B's apply, C's rollback, its objects numbered 1..N.
    for name in names:
        runs = runs_of(bucket.journal(name))
        started = [(run[0]["detail"]["operation"], run[0]["detail"]["pid"]) for run in runs]
        assert [operation for operation, _ in started] == ["apply", "apply", "rollback"]
        assert started[0][1] == killed and len({pid for _, pid in started}) == 3
        assert [run[-1]["event"] for run in runs] == ["step-started", "run-finished", "run-finished"]
    # Everything is in the bucket: the marker, the reports, and per cluster its plan, pointer, backup, lock, journal.
    assert [k for k in bucket.listed() if "/" not in k] == sorted(
        [MARKER, "batch-apply.json", "batch-plan.json", "batch-rollback.json"]
    )
    for name in names:
        plan_id = bucket.plan_id(name)
        kept = {k for k in bucket.listed(folder(name)) if not k.startswith(f"{plan_id}.journal/")}
        assert kept == {
            f"{plan_id}.plan.yaml",
            "batch.current",
            f"{plan_id}.aws-auth.backup.json",
            "lock.json",
        }, kept


def test_two_runners_of_one_shard_at_once_one_is_exit_7_naming_the_holder_and_the_journals_keep_one_history(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(fleet_scenario())
    bucket = StateBucket(sandbox)
    inventory = tmp_path / "inventory" / "fleet.yaml"
    inventory.parent.mkdir()
    inventory.write_text(INVENTORY)
    first, second = Runner.make(tmp_path, "runner-1"), Runner.make(tmp_path, "runner-2")
    shard = ("--state", STATE, "--shard", "2/2")  # alpha and bravo: two accounts

    planned = first.run(sandbox, "batch", "plan", str(inventory), *shard, "-o", "json")
    assert planned.returncode == 0, planned.stderr
    names = tuple(by_name(report_of(planned)))
    assert names == ("alpha", "bravo")

    hold_updates(sandbox)  # runner 1 stays inside each first switch until the test ends it
    apply = ("batch", "apply", str(inventory), "--yes", *FIRST_GATE, *FAST, *shard, "-o", "json")
    process = first.start(sandbox, *apply)
    try:
        wait_for("runner 1's first switches", lambda: all(updating(sandbox, n) for n in names), process)
        for name in names:
            holder = bucket.lock_holder(name)
            assert holder is not None and (holder["pid"], holder["host"]) == (process.pid, HOST), holder
        holder_text = f"pid {process.pid} on {HOST}"

        # While runner 1 holds the clusters, status (a plan named by its URL; the batch) says who holds them.
        plan_url = f"{STATE}/{folder(names[0])}/{bucket.plan_id(names[0])}.plan.yaml"
        one = second.run(sandbox, "status", plan_url, "-o", "json")
        assert one.returncode == 0, one.stderr
        shown = json.loads(one.stdout)
        assert shown["result"] == "in-progress" and holder_text in shown["message"], shown
        fleet = by_name(report_of(second.run(sandbox, "batch", "status", str(inventory), *shard, "-o", "json")))
        for name in names:
            assert fleet[name]["outcome"] == "in-progress" and holder_text in fleet[name]["message"], fleet[name]

        # Runner 2 (its own machine lock): the lock objects keep it out; it sees runner 1 renew them.
        refused = second.run(sandbox, *apply)
        assert refused.returncode == 7, refused.stdout + refused.stderr
        report = report_of(refused)
        assert report["exitCode"] == 7
        for entry in report["clusters"]:
            assert entry["error"]["exitCode"] == 7 and holder_text in entry["message"], entry
            assert f"lock object {STATE}/{folder(entry['name'])}/lock.json" in entry["message"], entry
        assert holder_text in refused.stderr
        assert "Report not written: the clusters are held by another run" in refused.stderr  # runner 1's is kept
        assert process.poll() is None  # runner 1 went on all along

        release_updates(sandbox)
        assert process.wait(timeout=600) == 0, first.stderr()
    finally:
        release_updates(sandbox)
        process.kill()
        process.wait()
    finished = by_name(json.loads(first.stdout()))
    assert {n: e["outcome"] for n, e in finished.items()} == dict.fromkeys(names, "at-gate"), finished

    for name in names:
        records = bucket.journal(name)  # numbered 1..N without a gap
        assert len({json.dumps(r, sort_keys=True) for r in records}) == len(records)  # no record twice
        (run,) = runs_of(records)  # one history: runner 1's run, whole
        assert (run[0]["detail"]["pid"], run[-1]["event"], run[-1]["detail"]["result"]) == (
            process.pid,
            "run-finished",
            "stopped-at-gate",
        ), run[-1]
        assert bucket.lock_holder(name) is None
    assert first.left_behind() == [] and second.left_behind() == []


def test_a_bad_state_is_exit_2_with_nothing_written(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    sandbox = make_sandbox(fleet_scenario())
    bucket = StateBucket(sandbox)
    bucket.s3.put_object(Bucket=BUCKET, Key="terraform/prod.tfstate", Body=b"{}")  # another tool's prefix
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(INVENTORY)
    runner = Runner.make(tmp_path, "runner")
    buckets_before = [b["Name"] for b in bucket.s3.list_buckets()["Buckets"]]
    objects_before = bucket.s3.list_objects_v2(Bucket=BUCKET)["Contents"]

    cases = {
        "s3://no-such-bucket/x": "s3://no-such-bucket: no such bucket",
        f"s3://{BUCKET}/terraform": f"s3://{BUCKET}/terraform: holds objects that aws-auth-migrate did not write "
        f"(e.g. prod.tfstate) and no {MARKER}",
        "s3://No_Such/x": "--state: 's3://No_Such/x': not an S3 bucket name",
    }
    for url, message in cases.items():
        for command in (("batch", "plan", str(inventory)), ("batch", "apply", str(inventory), "--yes", *FIRST_GATE)):
            sandbox.clear_calls()
            result = runner.run(sandbox, *command, "--state", url)
            assert result.returncode == 2, (command, url, result.stderr)
            assert f"error: {message}" in result.stderr, result.stderr
            assert {call.service for call in sandbox.calls()} <= {"s3"}  # refused before any cluster was asked
        refused = runner.run(sandbox, "status", f"{url}/{folder('alpha')}/x.plan.yaml", "--state", url)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr

    assert [b["Name"] for b in bucket.s3.list_buckets()["Buckets"]] == buckets_before  # no bucket made
    assert bucket.s3.list_objects_v2(Bucket=BUCKET)["Contents"] == objects_before  # no marker, no object
    assert runner.left_behind() == []
