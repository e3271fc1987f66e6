"""Fleet runs through the real CLI against ONE sandbox serving six clusters in two regions and two accounts:
a clean cluster per region and account, one with a blocker (stops in front of the API gate while the others
go on), one whose aws-auth is edited after planning (refused as stale, exit 3 for it), one with an access
entry planted where its plan will write (a conflict after the first gate, rolled back), canaries, a second run
that changes nothing, `batch status` and `batch rollback`, and shards 1/3..3/3 merged equal to the whole."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from migrator.model import AccessEntrySpec, EntryType
from migrator.sandbox.eks.access import seed_entry
from migrator.sandbox.scenario import Scenario, parse_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import inherited_env
from tests.integration.conftest import SandboxFactory, client, end_updates, hold_updates
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT, role
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

EAST, WEST = "us-east-1", "eu-west-1"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# name -> (account, region, has a blocker)
CLUSTERS = {
    "alpha": (ACCOUNT, EAST, False),
    "bravo": (ACCOUNT, WEST, False),
    "charlie": (OTHER_ACCOUNT, EAST, False),
    "delta": (OTHER_ACCOUNT, WEST, True),
    "echo": (ACCOUNT, EAST, False),
    "foxtrot": (ACCOUNT, WEST, False),
}
INVENTORY = f"""\
schema: aws-auth-migrate/inventory/v1
defaults: {{region: {EAST}, account: "{ACCOUNT}", target: API, roleArn: "arn:aws:iam::{{account}}:role/migrator"}}
clusters:
  - {{name: alpha}}
  - {{name: bravo, region: {WEST}, labels: {{tier: prod}}}}
  - {{name: charlie, account: "{OTHER_ACCOUNT}"}}
  - {{name: delta, account: "{OTHER_ACCOUNT}", region: {WEST}}}
  - {{name: echo, labels: {{tier: prod}}}}
  - {{name: foxtrot, region: {WEST}}}
"""
BOTH_GATES = ("--approve-gate", "API_AND_CONFIG_MAP", "--approve-gate", "API")
FAST = ("--poll-seconds", "0.2")


def _aws_auth(account: str, blocker: bool) -> str:
    mappings = (
        f"- rolearn: {role('migrator', account)}\n  username: migrator:{{{{SessionName}}}}\n"
        "  groups: [system:masters]\n"
        f"- rolearn: {role('nodes', account)}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
        "  groups: [system:bootstrappers, system:nodes]\n"
        f"- rolearn: {role('Dev', account)}\n  username: dev:{{{{SessionName}}}}\n  groups: [developers]\n"
    )
    if blocker:  # another system: group cannot be expressed as an entry: SYSTEM_GROUP keeps it from API
        mappings += f"- rolearn: {role('Ops', account)}\n  username: ops\n  groups: [system:monitoring]\n"
    return aws_auth_config_map(mappings)


def fleet_scenario() -> Scenario:
    clusters = "".join(
        f'  - name: {name}\n    region: {region}\n    account: "{account}"\n    version: "1.31"\n'
        f"    authenticationMode: CONFIG_MAP\n    nodegroups: [{{name: ng, nodeRole: '{role('nodes', account)}'}}]\n"
        f"    awsAuth: |\n{indent(_aws_auth(account, blocker), 6)}"
        for name, (account, region, blocker) in CLUSTERS.items()
    )
    roles = [role(n, a) for a in (ACCOUNT, OTHER_ACCOUNT) for n in ("migrator", "nodes", "Dev", "Ops")]
    text = scenario_yaml(clusters, roles=[*roles, role("Admin")], caller=role("Admin"), simulation="updateSeconds: 1")
    return parse_scenario(text, "fleet.yaml")


def batch(sandbox: Sandbox, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess; a generous timeout (a fleet on a loaded 2-core machine), never a measure."""
    environment = inherited_env()
    environment.update(sandbox.env())
    result = subprocess.run(
        [sys.executable, "-m", "migrator", "batch", *args],
        capture_output=True, text=True, cwd=cwd, env=environment, timeout=900, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result


def report_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["schema"] == "aws-auth-migrate/batch-report/v1"
    return report


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["clusters"]}


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between runs of the same thing: where it came from and timings."""
    kept = {k: v for k, v in report.items() if k not in ("mergedFrom", "shard")}
    kept["clusters"] = [{k: v for k, v in c.items() if k != "timing"} for c in report["clusters"]]
    return kept


def edit_aws_auth(sandbox: Sandbox, name: str) -> None:
    account, region, _ = CLUSTERS[name]
    cluster = sandbox.world.cluster(account, region, name)
    assert cluster is not None
    with sandbox.world.lock:
        stored = cluster.objects[("v1", "configmaps", "kube-system", "aws-auth")].body
        stored["data"]["mapRoles"] = stored["data"]["mapRoles"].replace("[developers]", "[developers, ops]")
        stored["metadata"]["resourceVersion"] = cluster.next_resource_version()


def plant_entry(sandbox: Sandbox, name: str) -> None:
    """An entry for Dev that differs from its mapping, stored while the cluster is still in CONFIG_MAP (where
    no API shows it): the plan cannot see it, and apply meets it after the first gate."""
    account, region, _ = CLUSTERS[name]
    cluster = sandbox.world.cluster(account, region, name)
    assert cluster is not None
    spec = AccessEntrySpec(role("Dev", account), EntryType.STANDARD, "someone-else", ("admins",))
    with sandbox.world.lock:
        seed_entry(cluster, spec, time.time())


def eks_of(sandbox: Sandbox, name: str) -> Any:
    """A boto3 EKS client in the cluster's own account and region (as its migrator role)."""
    account, region, _ = CLUSTERS[name]
    credentials = sandbox.credentials_for(role("migrator", account), "test-oracle")
    return client(sandbox, region=region, credentials=credentials)


def mode_of(sandbox: Sandbox, name: str) -> str:
    return str(eks_of(sandbox, name).describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"])


def live_entries(sandbox: Sandbox, name: str) -> dict[str, tuple[Any, ...]]:
    """principalArn -> (username, groups, policies with scope type)."""
    eks = eks_of(sandbox, name)
    found: dict[str, tuple[Any, ...]] = {}
    for arn in eks.list_access_entries(clusterName=name, maxResults=100)["accessEntries"]:
        entry = eks.describe_access_entry(clusterName=name, principalArn=arn)["accessEntry"]
        policies = eks.list_associated_access_policies(clusterName=name, principalArn=arn)["associatedAccessPolicies"]
        found[arn] = (
            entry.get("username"),
            tuple(sorted(entry.get("kubernetesGroups", []))),
            tuple(sorted((p["policyArn"], p["accessScope"]["type"]) for p in policies)),
        )
    return found


def calls_to(sandbox: Sandbox, names: set[str]) -> list[Any]:
    return [c for c in sandbox.calls() if c.cluster in names]


def mutating(calls: list[Any]) -> list[Any]:
    """Calls that change what the migration is about: EKS writes and Kubernetes writes, other than the run's
    own Lease (the cluster-wide lock every apply takes and deletes again)."""
    reads = ("Describe", "List", "Get")
    return [
        c for c in calls
        if (c.service == "kubernetes" and c.operation not in ("get", "list", "watch") and "/leases" not in c.path)
        or (c.service == "eks" and not c.operation.startswith(reads))
    ]  # fmt: skip


def test_a_fleet_run_isolates_each_cluster_resumes_and_merges_shards(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(fleet_scenario())
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    planned = batch(sandbox, tmp_path, "plan", "fleet.yaml", "--created-at", "2026-01-01T00:00:00Z", "-o", "json")
    assert planned.returncode == 0, planned.stderr
    plans = by_name(report_of(planned))
    assert {n: c["outcome"] for n, c in plans.items()} == dict.fromkeys(CLUSTERS, "planned")
    assert plans["delta"]["blockers"] == ["SYSTEM_GROUP"] and plans["alpha"]["blockers"] == []
    assert (plans["charlie"]["account"], plans["delta"]["region"]) == (OTHER_ACCOUNT, WEST)
    assert (tmp_path / "plans" / "batch-plan.json").exists()

    edit_aws_auth(sandbox, "echo")
    plant_entry(sandbox, "foxtrot")
    sandbox.clear_calls()
    applied = batch(sandbox, tmp_path, "apply", "fleet.yaml", "--yes", *BOTH_GATES, *FAST, "--canary", "1",
                    "--max-parallel", "3", "--rollback-on-failure", "-o", "json")  # fmt: skip
    assert applied.returncode == 5, applied.stderr
    report = report_of(applied)
    clusters = by_name(report)
    assert {n: c["outcome"] for n, c in clusters.items()} == {
        "alpha": "completed",
        "bravo": "completed",
        "charlie": "completed",
        "delta": "blocked",
        "echo": "stale",
        "foxtrot": "rolled-back",
    }
    assert report["summary"] == {"completed": 3, "blocked": 1, "stale": 1, "rolled-back": 1}
    assert clusters["alpha"]["canary"] and not clusters["bravo"]["canary"]
    for name in ("alpha", "bravo", "charlie"):
        assert clusters[name]["gatesPassed"] == ["API_AND_CONFIG_MAP", "API"]
        assert clusters[name]["verified"]["ok"] is True, clusters[name]
        assert clusters[name]["error"] is None
        assert mode_of(sandbox, name) == "API"
    assert live_entries(sandbox, "charlie")[role("migrator", OTHER_ACCOUNT)][2] == ((ADMIN_POLICY, "cluster"),)
    # The blocked cluster passed the first gate and stopped in front of the API gate; aws-auth still serves Ops.
    assert clusters["delta"]["gatesPassed"] == ["API_AND_CONFIG_MAP"] and clusters["delta"]["error"] is None
    assert "SYSTEM_GROUP" in clusters["delta"]["message"] and clusters["delta"]["verified"]["ok"] is True
    assert mode_of(sandbox, "delta") == "API_AND_CONFIG_MAP"
    # The stale cluster: refused before any step, exit 3 for it, untouched.
    assert clusters["echo"]["error"]["exitCode"] == 3 and clusters["echo"]["stepsDone"] == 0
    # ... and its entry still says where it stands (a refusal is not a loss of what the journal knows)
    assert (clusters["echo"]["mode"], clusters["echo"]["planId"]) == ("CONFIG_MAP", plans["echo"]["planId"])
    assert mode_of(sandbox, "echo") == "CONFIG_MAP"
    assert not mutating(calls_to(sandbox, {"echo"}))
    # The conflict: exit 6, then what this plan made was undone; the planted entry was never overwritten.
    assert clusters["foxtrot"]["error"]["exitCode"] == 6
    foxtrot = live_entries(sandbox, "foxtrot")
    assert foxtrot[role("Dev")][0:2] == ("someone-else", ("admins",))
    assert role("migrator") not in foxtrot  # created by this run, deleted by the rollback

    # A second run: the finished and the blocked clusters are skipped without a single call; the stale one is
    # refused again with reads only; the failed one is tried again (it resumes) and fails the same way.
    sandbox.clear_calls()
    again = batch(sandbox, tmp_path, "apply", "fleet.yaml", "--yes", *BOTH_GATES, *FAST, "--rollback-on-failure",
                  "-o", "json")  # fmt: skip
    assert again.returncode == 5, again.stderr
    second = by_name(report_of(again))
    assert {n: c["outcome"] for n, c in second.items()} == {n: c["outcome"] for n, c in clusters.items()}
    assert all(second[n]["skipped"] for n in ("alpha", "bravo", "charlie", "delta"))
    assert calls_to(sandbox, {"alpha", "bravo", "charlie", "delta"}) == []
    assert not mutating(calls_to(sandbox, {"echo"}))

    # Status from the journals alone; the shards of the inventory merge into exactly the whole status.
    sandbox.clear_calls()
    whole = report_of(batch(sandbox, tmp_path, "status", "fleet.yaml", "-o", "json"))
    assert {n: c["outcome"] for n, c in by_name(whole).items()} == {
        "alpha": "completed", "bravo": "completed", "charlie": "completed", "delta": "blocked",
        "echo": "not-started", "foxtrot": "rolled-back",
    }  # fmt: skip
    shard_files = []
    for index in (1, 2, 3):
        path = tmp_path / f"shard-{index}.json"
        result = batch(sandbox, tmp_path, "status", "fleet.yaml", "--shard", f"{index}/3", "--report", str(path))
        assert result.returncode == 0, result.stderr
        shard_files.append(str(path))
    assert sandbox.calls() == []
    merged = report_of(batch(sandbox, tmp_path, "report", "--merge", *shard_files, "-o", "json"))
    assert merged["mergedFrom"] == ["1/3", "2/3", "3/3"]
    assert comparable(merged) == comparable(whole)


def test_a_failed_canary_holds_the_fleet_and_batch_rollback_undoes_what_the_batch_did(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(fleet_scenario())
    bad = INVENTORY.replace("  - {name: echo,", "  - {name: echo, colour: red,")
    (tmp_path / "bad.yaml").write_text(bad)
    refused = batch(sandbox, tmp_path, "plan", "bad.yaml")
    assert refused.returncode == 2
    assert "error: bad.yaml:8: unknown key 'colour' in clusters[4]" in refused.stderr
    assert sandbox.calls() == [] and not (tmp_path / "plans").exists()

    # Shards 1/3..3/3 of batch plan, merged, are the unsharded report (plans are deterministic: same files).
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    pinned = ("--created-at", "2026-01-01T00:00:00Z")
    whole = report_of(batch(sandbox, tmp_path, "plan", "fleet.yaml", *pinned, "-o", "json"))
    for index in (1, 2, 3):
        result = batch(sandbox, tmp_path, "plan", "fleet.yaml", *pinned, "--shard", f"{index}/3")
        assert result.returncode == 0, result.stderr
    shards = [str(tmp_path / "plans" / f"batch-plan-shard-{i}-of-3.json") for i in (1, 2, 3)]
    merged = report_of(batch(sandbox, tmp_path, "report", "--merge", *shards, "-o", "json"))
    assert comparable(merged) == comparable(whole)

    # The canary (alpha, first in the inventory) is stale: nobody else starts.
    edit_aws_auth(sandbox, "alpha")
    sandbox.clear_calls()
    held = batch(sandbox, tmp_path, "apply", "fleet.yaml", "--yes", *BOTH_GATES, *FAST, "--canary", "1", "-o", "json")
    assert held.returncode == 5, held.stderr
    outcomes = {n: c["outcome"] for n, c in by_name(report_of(held)).items()}
    assert outcomes == {"alpha": "stale", **dict.fromkeys(["bravo", "charlie", "delta", "echo", "foxtrot"], "not-run")}
    assert calls_to(sandbox, {"bravo", "charlie", "delta", "echo", "foxtrot"}) == []

    # The first phase for three selected clusters: all stop in front of the API gate, which nobody approved;
    # delta's blocker keeps that gate shut, but in this phase it reached what was approved too (exit 0).
    first = batch(sandbox, tmp_path, "apply", "fleet.yaml", "--yes", "--approve-gate", "API_AND_CONFIG_MAP", *FAST,
                  "--select", "bravo", "--select", "charlie", "--select", "delta", "-o", "json")  # fmt: skip
    assert first.returncode == 0, first.stderr
    phase = by_name(report_of(first))
    assert {n: (c["outcome"], c["mode"], c["verified"]["ok"]) for n, c in phase.items()} == {
        "bravo": ("at-gate", "API_AND_CONFIG_MAP", True),
        "charlie": ("at-gate", "API_AND_CONFIG_MAP", True),
        "delta": ("at-gate", "API_AND_CONFIG_MAP", True),
    }
    assert "blocked by SYSTEM_GROUP" in phase["delta"]["message"]
    assert role("Dev", OTHER_ACCOUNT) in live_entries(sandbox, "charlie")

    # batch rollback: what the batch did on bravo and charlie is undone; the others are left alone.
    sandbox.clear_calls()
    undone = batch(sandbox, tmp_path, "rollback", "fleet.yaml", "--yes", "-o", "json")
    assert undone.returncode == 0, undone.stderr
    rolled = by_name(report_of(undone))
    assert {n: c["outcome"] for n, c in rolled.items()} == {
        "alpha": "not-started", "bravo": "rolled-back", "charlie": "rolled-back",
        "delta": "rolled-back", "echo": "not-started", "foxtrot": "not-started",
    }  # fmt: skip
    assert calls_to(sandbox, {"alpha", "echo", "foxtrot"}) == []
    for name in ("bravo", "charlie", "delta"):
        account = CLUSTERS[name][0]
        assert set(live_entries(sandbox, name)) == {role("nodes", account)}  # only the one EKS made at the switch
        assert mode_of(sandbox, name) == "API_AND_CONFIG_MAP"  # one way

    text = batch(sandbox, tmp_path, "status", "fleet.yaml")
    assert text.returncode == 0
    assert "rolled-back" in text.stdout and "6 cluster(s): 3 not-started, 3 rolled-back" in text.stdout
    assert batch(sandbox, tmp_path, "apply", "fleet.yaml").returncode == 2  # no --yes: batch runs never prompt


def folder_of(out_dir: Path, name: str) -> Path:
    """A cluster's folder under the out-dir: `<account>/<region>/<name>`."""
    account, region, _ = CLUSTERS[name]
    return out_dir / account / region / name


def _journal_shows(out_dir: Path, cluster: str, event: str, step_part: str) -> bool:
    """Has the cluster's journal recorded `event` for a step whose id contains `step_part`? (A torn last line
    just means: not yet.)"""
    for journal in folder_of(out_dir, cluster).glob("*.journal.jsonl"):
        for line in journal.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == event and step_part in str(record.get("step")):
                return True
    return False


def test_a_batch_killed_mid_switch_resumes_every_cluster_from_its_journal(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(fleet_scenario())
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    picked = ("--select", "alpha", "--select", "charlie", "--select", "foxtrot")
    assert batch(sandbox, tmp_path, "plan", "fleet.yaml", *picked).returncode == 0
    hold_updates(sandbox)  # every mode switch now lasts until the test ends it: the kill lands inside it
    environment = {**inherited_env(), **sandbox.env()}
    args = ["apply", "fleet.yaml", "--yes", *BOTH_GATES, *FAST, *picked, "-o", "json"]
    process = subprocess.Popen(
        [sys.executable, "-m", "migrator", "batch", *args],
        cwd=tmp_path, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        names = ("alpha", "charlie", "foxtrot")
        wait_for(
            "every cluster's first switch",
            lambda: all(_journal_shows(tmp_path / "plans", n, "step-started", "set-mode") for n in names),
            process,
        )
    finally:
        process.kill()
        process.wait()
    with sandbox.world.lock:
        sandbox.world.settings.update_seconds = 1.0
    for name in ("alpha", "charlie", "foxtrot"):
        account, region, _ = CLUSTERS[name]
        end_updates(sandbox, name, region, account)

    status = by_name(report_of(batch(sandbox, tmp_path, "status", "fleet.yaml", *picked, "-o", "json")))
    assert {n: c["outcome"] for n, c in status.items()} == dict.fromkeys(["alpha", "charlie", "foxtrot"], "interrupted")
    resumed = batch(sandbox, tmp_path, *args)
    assert resumed.returncode == 0, resumed.stderr
    report = by_name(report_of(resumed))
    for name in ("alpha", "charlie", "foxtrot"):
        assert (report[name]["outcome"], report[name]["verified"]["ok"]) == ("completed", True), report[name]
        assert mode_of(sandbox, name) == "API"


def test_the_clusters_of_one_account_share_a_call_budget_and_its_pace(make_sandbox: SandboxFactory) -> None:
    """Real boto3 clients of two clusters of one account, through one budget: when EKS throttles one of them,
    the other's next request of that operation waits for the account's pace; every slot is given back."""
    from migrator.aws.budget import AccountBudget
    from migrator.aws.pacing import OperationPace, OperationPacer
    from tests.support.clock import FakeTime
    from tests.unit.test_account_budget import _full

    sandbox = make_sandbox(fleet_scenario())
    time_ = FakeTime()  # the pace is observed, not waited for
    pacer = OperationPacer(sleep=time_.sleep, make_pace=lambda: OperationPace(probe=0.0, clock=time_.clock))
    budget = AccountBudget(2, pacer=pacer)
    # attempts=0: botocore makes exactly one attempt (its max_attempts counts retries)
    alpha, echo = client(sandbox, region=EAST, attempts=0), client(sandbox, region=EAST, attempts=0)
    for eks in (alpha, echo):  # as aws.session.client(session, "eks", budget) does
        budget.attach(eks)
    with sandbox.world.lock:
        sandbox.world.settings.throttle = 1.0  # EKS throttles every request now
    with pytest.raises(Exception, match="Throttling"):
        alpha.describe_cluster(name="alpha")
    with sandbox.world.lock:
        sandbox.world.settings.throttle = 0.0
    assert (budget.throttles, pacer.throttles(), time_.slept) == (1, {"DescribeCluster": 1}, [])
    assert echo.list_updates(name="echo")["updateIds"] is not None
    assert time_.slept == []  # another operation is not held back
    assert echo.describe_cluster(name="echo")["cluster"]["name"] == "echo"
    assert time_.slept == [pytest.approx(0.2)]  # echo's describe waited for the pace alpha's throttle set
    assert not _full(budget) and budget._slots.acquire(blocking=False) and budget._slots.acquire(blocking=False)


def _updating(sandbox: Sandbox, name: str) -> bool:
    account, region, _ = CLUSTERS[name]
    cluster = sandbox.world.cluster(account, region, name)
    assert cluster is not None
    with sandbox.world.lock:
        return any(u.status == "InProgress" for u in cluster.updates.values())


def _half_done_principals(out_dir: Path, name: str) -> list[str]:
    """Principals whose entry the journal says was made while one of its policies was not associated."""
    from migrator.app.planning import open_plan
    from migrator.model import AssociatePolicy, CreateEntry

    folder = folder_of(out_dir, name)
    plan = open_plan(folder / (folder / "batch.current").read_text().strip())
    done = {s.id for s in plan.steps if _journal_shows(out_dir, name, "step-done", s.id)}
    created = {s.principal_arn for s in plan.steps if isinstance(s, CreateEntry) and s.id in done}
    return sorted(
        {s.principal_arn for s in plan.steps if isinstance(s, AssociatePolicy) and s.id not in done} & created
    )


def test_ctrl_c_stops_each_cluster_in_flight_after_its_principal_and_a_rerun_finishes(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(fleet_scenario())
    # removeAwsAuth: a step after the API switch, so that a cluster the interrupt finds inside its (held)
    # switch still has a step left to be stopped in front of.
    (tmp_path / "fleet.yaml").write_text(INVENTORY.replace("target: API,", "target: API, removeAwsAuth: true,"))
    names = ("alpha", "charlie", "foxtrot")
    picked = tuple(arg for n in names for arg in ("--select", n))
    assert batch(sandbox, tmp_path, "plan", "fleet.yaml", *picked).returncode == 0
    out = tmp_path / "plans"
    hold_updates(sandbox)  # every update lasts until the test ends it
    args = ["apply", "fleet.yaml", "--yes", *BOTH_GATES, *FAST, *picked, "--max-parallel", "3", "-o", "json"]
    stdout, stderr = tmp_path / "apply.out", tmp_path / "apply.err"
    process = subprocess.Popen(
        [sys.executable, "-m", "migrator", "batch", *args],
        cwd=tmp_path, env={**inherited_env(), **sandbox.env()}, stdout=stdout.open("wb"), stderr=stderr.open("wb"),
    )  # fmt: skip

    try:
        # Each first switch ends as soon as EKS has it; the API switches stay held: no cluster can finish.
        for name in names:
            wait_for(f"{name}'s first switch", lambda: _updating(sandbox, name), process)  # noqa: B023
            account, region, _ = CLUSTERS[name]
            end_updates(sandbox, name, region, account)
        for name in names:
            wait_for(f"{name}'s entries", lambda: _journal_shows(out, name, "step-started", "create-entry"), process)  # noqa: B023
        process.send_signal(signal.SIGINT)
        wait_for("the batch to stop its clusters", lambda: "interrupted:" in stderr.read_text(), process)
        with sandbox.world.lock:
            sandbox.world.settings.update_seconds = 1.0
        for name in names:
            account, region, _ = CLUSTERS[name]
            end_updates(sandbox, name, region, account)
        assert process.wait(timeout=600) == 130, stderr.read_text()
    finally:
        process.kill()
        process.wait()
    report = json.loads(stdout.read_text())
    assert (report["interrupted"], report["exitCode"], report["ok"]) == (True, 130, False)
    clusters = by_name(report)
    for name in names:
        entry = clusters[name]
        assert (entry["outcome"], entry["error"]["exitCode"]) == ("interrupted", 130), entry
        assert entry["stepsDone"] < entry["stepsTotal"] and "resume" in entry["message"]
        assert _half_done_principals(out, name) == [], name
        migrator = live_entries(sandbox, name).get(role("migrator", CLUSTERS[name][0]))
        assert migrator is None or migrator[2] == ((ADMIN_POLICY, "cluster"),), migrator  # never a bare entry
    status = by_name(report_of(batch(sandbox, tmp_path, "status", "fleet.yaml", *picked, "-o", "json")))
    assert {n: c["outcome"] for n, c in status.items()} == dict.fromkeys(names, "interrupted")

    resumed = batch(sandbox, tmp_path, *args)
    assert resumed.returncode == 0, resumed.stderr
    again = by_name(report_of(resumed))
    for name in names:
        assert (again[name]["outcome"], again[name]["verified"]["ok"]) == ("completed", True), again[name]
        assert mode_of(sandbox, name) == "API"


TWINS = ((ACCOUNT, EAST), (OTHER_ACCOUNT, EAST), (ACCOUNT, WEST))  # three clusters named "twin"
TWIN_INVENTORY = f"""\
schema: aws-auth-migrate/inventory/v1
defaults: {{region: {EAST}, account: "{ACCOUNT}", target: API, roleArn: "arn:aws:iam::{{account}}:role/migrator"}}
clusters:
  - {{name: twin}}
  - {{name: twin, account: "{OTHER_ACCOUNT}"}}
  - {{name: twin, region: {WEST}}}
"""


def test_the_same_cluster_name_in_two_accounts_and_two_regions_runs_as_three_clusters(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    clusters = "".join(
        f'  - name: twin\n    region: {region}\n    account: "{account}"\n    version: "1.31"\n'
        f"    authenticationMode: CONFIG_MAP\n    nodegroups: [{{name: ng, nodeRole: '{role('nodes', account)}'}}]\n"
        f"    awsAuth: |\n{indent(_aws_auth(account, False), 6)}"
        for account, region in TWINS
    )
    roles = [role(n, a) for a in (ACCOUNT, OTHER_ACCOUNT) for n in ("migrator", "nodes", "Dev")]
    text = scenario_yaml(clusters, roles=[*roles, role("Admin")], caller=role("Admin"), simulation="updateSeconds: 1")
    sandbox = make_sandbox(parse_scenario(text, "twins.yaml"))
    (tmp_path / "fleet.yaml").write_text(TWIN_INVENTORY)
    out = tmp_path / "plans"

    planned = report_of(batch(sandbox, tmp_path, "plan", "fleet.yaml", "-o", "json"))
    assert [(c["account"], c["region"], c["outcome"]) for c in planned["clusters"]] == [
        (account, region, "planned") for account, region in TWINS
    ]
    folders = [out / account / region / "twin" for account, region in TWINS]
    assert [c["planFile"] for c in planned["clusters"]] == [
        f"plans/{account}/{region}/twin/{c['planId']}.plan.yaml"
        for (account, region), c in zip(TWINS, planned["clusters"], strict=True)
    ]
    assert all((folder / "batch.current").exists() for folder in folders)
    assert len({c["planId"] for c in planned["clusters"]}) == 3  # three plans, none overwrote another

    applied = batch(sandbox, tmp_path, "apply", "fleet.yaml", "--yes", "--approve-gate", "API_AND_CONFIG_MAP", *FAST,
                    "-o", "json")  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    report = report_of(applied)
    assert [(c["outcome"], c["mode"], c["verified"]["ok"]) for c in report["clusters"]] == [
        ("at-gate", "API_AND_CONFIG_MAP", True)
    ] * 3
    for account, region in TWINS:  # each twin got its own account's principals, in its own region
        eks = client(sandbox, region=region, credentials=sandbox.credentials_for(role("migrator", account), "oracle"))
        listed = set(eks.list_access_entries(clusterName="twin")["accessEntries"])
        assert listed == {role(n, account) for n in ("migrator", "nodes", "Dev")}
    assert all(list(folder.glob("*.journal.jsonl")) for folder in folders)
    assert f"twin ({OTHER_ACCOUNT}/{EAST}): at-gate" in applied.stderr  # live lines tell the twins apart

    # status, shards and their merge, rollback: all by the same identity
    whole = report_of(batch(sandbox, tmp_path, "status", "fleet.yaml", "-o", "json"))
    assert [c["outcome"] for c in whole["clusters"]] == ["at-gate"] * 3
    shard_files = []
    for index in (1, 2, 3):
        path = tmp_path / f"shard-{index}.json"
        assert (
            batch(sandbox, tmp_path, "status", "fleet.yaml", "--shard", f"{index}/3", "--report", str(path)).returncode
            == 0
        )
        shard_files.append(str(path))
    merged = report_of(batch(sandbox, tmp_path, "report", "--merge", *shard_files, "-o", "json"))
    assert comparable(merged) == comparable(whole)
    undone = batch(sandbox, tmp_path, "rollback", "fleet.yaml", "--yes", "--select", "twin", "-o", "json")
    assert undone.returncode == 0, undone.stderr
    assert [c["outcome"] for c in report_of(undone)["clusters"]] == ["rolled-back"] * 3
    text = batch(sandbox, tmp_path, "status", "fleet.yaml")
    assert "twin (444455556666/us-east-1)" not in text.stdout  # the table has a column for where it is
    assert text.stdout.count("twin") == 3


def test_batch_plan_keeps_a_plan_whose_run_is_in_progress_and_plans_the_others(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(fleet_scenario())
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    out = tmp_path / "plans"
    picked = ("--select", "alpha", "--select", "bravo")
    assert batch(sandbox, tmp_path, "plan", "fleet.yaml", *picked).returncode == 0
    first = batch(sandbox, tmp_path, "apply", "fleet.yaml", "--yes", "--approve-gate", "API_AND_CONFIG_MAP", *FAST,
                  "--select", "alpha", "-o", "json")  # fmt: skip
    assert first.returncode == 0, first.stderr
    run = by_name(report_of(first))["alpha"]
    assert (run["outcome"], run["gatesPassed"]) == ("at-gate", ["API_AND_CONFIG_MAP"])
    pointer = (folder_of(out, "alpha") / "batch.current").read_text()

    # Planning again would orphan alpha's run (its entries made, the API gate ahead): alpha keeps its plan, with
    # a message saying what to do; bravo, never applied, is planned again; the batch exits 5.
    sandbox.clear_calls()
    again = batch(sandbox, tmp_path, "plan", "fleet.yaml", *picked, "-o", "json")
    assert again.returncode == 5, again.stderr
    clusters = by_name(report_of(again))
    assert clusters["bravo"]["outcome"] == "planned"
    alpha = clusters["alpha"]
    assert (alpha["outcome"], alpha["error"]["type"], alpha["error"]["exitCode"]) == ("failed", "RunInProgressError", 7)
    assert (alpha["planId"], alpha["gatesPassed"], alpha["mode"]) == (
        run["planId"],
        ["API_AND_CONFIG_MAP"],
        "API_AND_CONFIG_MAP",
    )
    assert alpha["message"].startswith(f"cluster alpha: not planned again: the run of its plan {run['planId']} ")
    assert "finish it with batch apply, or undo it with batch rollback" in alpha["message"]
    assert (folder_of(out, "alpha") / "batch.current").read_text() == pointer
    assert calls_to(sandbox, {"alpha"}) == []  # refused from its journal alone
    assert "alpha: failed" in again.stderr

    # status and rollback still find alpha's run; once it is rolled back, alpha plans again.
    status = by_name(report_of(batch(sandbox, tmp_path, "status", "fleet.yaml", "--select", "alpha", "-o", "json")))
    assert status["alpha"]["outcome"] == "at-gate"
    undone = batch(sandbox, tmp_path, "rollback", "fleet.yaml", "--yes", "--select", "alpha", "-o", "json")
    assert undone.returncode == 0, undone.stderr
    assert by_name(report_of(undone))["alpha"]["outcome"] == "rolled-back"
    assert set(live_entries(sandbox, "alpha")) == {role("nodes")}  # only the entry EKS made at the switch
    replanned = batch(sandbox, tmp_path, "plan", "fleet.yaml", "--select", "alpha", "-o", "json")
    assert replanned.returncode == 0, replanned.stderr
    assert by_name(report_of(replanned))["alpha"]["planId"] != run["planId"]
    assert (folder_of(out, "alpha") / "batch.current").read_text() != pointer
