"""Issue 11's "done means": ONE sandbox serving twenty clusters over two regions and two accounts, migrated in
two phases through the real CLI (`batch plan`, `batch apply` as subprocesses).

- three clusters have a blocker (SYSTEM_GROUP): they stop in front of the API gate while the others go on;
- one cluster's first mode switch fails at EKS while it runs (the sandbox ends its update `Failed` once its
  journal says the switch started): that cluster fails alone in phase 1, and phase 2 resumes it to the end;
- one cluster's aws-auth is edited after planning: refused as stale (exit 3 for it), untouched, every time;
- phase 2 is SIGKILLed while switches are in flight (synchronised on the journals) and run again: it resumes.

Then: every cluster is in the expected mode with the expected entries, each cluster's identities are verified
(the verify use case, against the live aws-auth), the JSON report says what happened per cluster, a second run
makes no mutating call, and shards 1/3..3/3 merged equal the unsharded report.

Every wait ends on an event (a journal record, a process exit), with generous deadlines: no sleep decides
anything. Mode updates are held by the sandbox while the test needs them in flight, and short otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from migrator.app.planning import ClusterAccess, open_plan
from migrator.app.verifying import Reference, verify_cluster
from migrator.model import AuthMode, SetMode
from migrator.sandbox.scenario import Scenario, parse_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import inherited_env
from tests.integration.conftest import SandboxFactory, client, hold_updates
from tests.integration.test_batch_cli import by_name, comparable, mutating, report_of
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT, role
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

EAST, WEST = "us-east-1", "eu-west-1"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NAMES = tuple(f"fleet-{i:02d}" for i in range(1, 21))
FAULTY = "fleet-01"  # first in the inventory, so phase 1 starts it at once
STALE = "fleet-09"
BLOCKED = frozenset({"fleet-06", "fleet-11", "fleet-17"})
# Among the first clusters phase 2 starts (max-parallel 8, inventory order), clean ones: the kill lands while
# their API switches are in flight.
KILLED_IN_FLIGHT = ("fleet-02", "fleet-03", "fleet-04")


def placement(name: str) -> tuple[str, str]:
    """(account, region): alternate accounts, and regions every two clusters: five per account and region."""
    index = NAMES.index(name)
    return (ACCOUNT if index % 2 == 0 else OTHER_ACCOUNT), (EAST if (index // 2) % 2 == 0 else WEST)


def _aws_auth(account: str, blocker: bool) -> str:
    mappings = (
        f"- rolearn: {role('migrator', account)}\n  username: migrator:{{{{SessionName}}}}\n"
        "  groups: [system:masters]\n"
        f"- rolearn: {role('nodes', account)}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
        "  groups: [system:bootstrappers, system:nodes]\n"
        f"- rolearn: {role('Dev', account)}\n  username: dev:{{{{SessionName}}}}\n  groups: [developers]\n"
    )
    if blocker:  # a system: group cannot be expressed as an entry: SYSTEM_GROUP keeps the cluster from API
        mappings += f"- rolearn: {role('Ops', account)}\n  username: ops\n  groups: [system:monitoring]\n"
    return aws_auth_config_map(mappings)


def twenty_scenario() -> Scenario:
    clusters = ""
    for name in NAMES:
        account, region = placement(name)
        clusters += (
            f'  - name: {name}\n    region: {region}\n    account: "{account}"\n    version: "1.31"\n'
            "    authenticationMode: CONFIG_MAP\n"
            f"    nodegroups: [{{name: ng, nodeRole: '{role('nodes', account)}'}}]\n"
            f"    awsAuth: |\n{indent(_aws_auth(account, name in BLOCKED), 6)}"
        )
    roles = [role(n, a) for a in (ACCOUNT, OTHER_ACCOUNT) for n in ("migrator", "nodes", "Dev", "Ops")]
    text = scenario_yaml(clusters, roles=[*roles, role("Admin")], caller=role("Admin"), simulation="updateSeconds: 0.5")
    return parse_scenario(text, "twenty.yaml")


def inventory() -> str:
    lines = "".join(f'  - {{name: {n}, account: "{placement(n)[0]}", region: {placement(n)[1]}}}\n' for n in NAMES)
    return (
        "schema: aws-auth-migrate/inventory/v1\n"
        'defaults: {target: API, roleArn: "arn:aws:iam::{account}:role/migrator"}\n'
        f"clusters:\n{lines}"
    )


def environment(sandbox: Sandbox) -> dict[str, str]:
    return {**inherited_env(), **sandbox.env()}


def batch(sandbox: Sandbox, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess; the timeout is a safety net for a hung test, never a measure."""
    result = subprocess.run(
        [sys.executable, "-m", "migrator", "batch", *args],
        capture_output=True, text=True, cwd=cwd, env=environment(sandbox), timeout=900, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result


def started(sandbox: Sandbox, cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    """The CLI in the background, its output in files (a pipe nobody reads could fill and stall it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "migrator", "batch", *args],
        cwd=cwd, env=environment(sandbox),
        stdout=(cwd / "background.out").open("wb"), stderr=(cwd / "background.err").open("wb"),
    )  # fmt: skip


def plan_dir(out_dir: Path, name: str) -> Path:
    """A cluster's folder under the out-dir: `<account>/<region>/<name>`."""
    account, region = placement(name)
    return out_dir / account / region / name


def switch_id(out_dir: Path, name: str, mode: AuthMode) -> str:
    """The id of the cluster's step that switches it into `mode`, from its current plan."""
    folder = plan_dir(out_dir, name)
    plan = open_plan(folder / (folder / "batch.current").read_text().strip())
    return next(s.id for s in plan.steps if isinstance(s, SetMode) and s.mode is mode)


def journal_count(out_dir: Path, name: str, event: str, step: str) -> int:
    """How many `event` records the cluster's journals hold for `step` (a torn last line is not one yet)."""
    count = 0
    for journal in plan_dir(out_dir, name).glob("*.journal.jsonl"):
        for line in journal.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            count += record.get("event") == event and record.get("step") == step
    return count


def release_updates(sandbox: Sandbox) -> None:
    """Updates are short again, and every one held in flight ends now (the next look sees it done)."""
    with sandbox.world.lock:
        sandbox.world.settings.update_seconds = 0.5
        for cluster in sandbox.world.clusters.values():
            for update in cluster.updates.values():
                update.finishes_at = min(update.finishes_at, time.time())


def updating(sandbox: Sandbox, name: str) -> bool:
    """Has EKS an update of the cluster in flight? (The journal says a switch started before its call.)"""
    cluster = sandbox.world.cluster(*placement(name), name)
    assert cluster is not None
    with sandbox.world.lock:
        return any(u.status == "InProgress" for u in cluster.updates.values())


def fail_update(sandbox: Sandbox, name: str) -> None:
    """EKS gives up the cluster's update in flight, as it does when it cannot complete one."""
    cluster = sandbox.world.cluster(*placement(name), name)
    assert cluster is not None
    with sandbox.world.lock:
        running = [u for u in cluster.updates.values() if u.status == "InProgress"]
        assert len(running) == 1, running
        running[0].status = "Failed"
        running[0].errors = [{"errorCode": "Unknown", "errorMessage": "injected: the control plane did not answer"}]


def edit_aws_auth(sandbox: Sandbox, name: str) -> None:
    cluster = sandbox.world.cluster(*placement(name), name)
    assert cluster is not None
    with sandbox.world.lock:
        stored = cluster.objects[("v1", "configmaps", "kube-system", "aws-auth")].body
        stored["data"]["mapRoles"] = stored["data"]["mapRoles"].replace("[developers]", "[developers, ops]")
        stored["metadata"]["resourceVersion"] = cluster.next_resource_version()


def eks_of(sandbox: Sandbox, name: str) -> Any:
    account, region = placement(name)
    credentials = sandbox.credentials_for(role("migrator", account), "test-oracle")
    return client(sandbox, region=region, credentials=credentials)


def mode_of(sandbox: Sandbox, name: str) -> str:
    return str(eks_of(sandbox, name).describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"])


def live_entries(sandbox: Sandbox, name: str) -> dict[str, tuple[Any, ...]]:
    """principalArn -> (type, username, groups, policies with scope type)."""
    eks = eks_of(sandbox, name)
    found: dict[str, tuple[Any, ...]] = {}
    for arn in eks.list_access_entries(clusterName=name, maxResults=100)["accessEntries"]:
        entry = eks.describe_access_entry(clusterName=name, principalArn=arn)["accessEntry"]
        policies = eks.list_associated_access_policies(clusterName=name, principalArn=arn)["associatedAccessPolicies"]
        found[arn] = (
            entry["type"],
            entry.get("username"),
            tuple(sorted(entry.get("kubernetesGroups", []))),
            tuple(sorted((p["policyArn"], p["accessScope"]["type"]) for p in policies)),
        )
    return found


def expected_entries(name: str) -> dict[str, tuple[Any, ...]]:
    """Written by hand from aws-auth: the migrator keeps cluster-admin as the policy, Dev its username and
    group, the node role gets EKS's EC2_LINUX entry; Ops (blocked clusters only) stays on aws-auth."""
    account, _ = placement(name)
    return {
        role("migrator", account): ("STANDARD", "migrator:{{SessionName}}", (), ((ADMIN_POLICY, "cluster"),)),
        role("Dev", account): ("STANDARD", "dev:{{SessionName}}", ("developers",), ()),
        role("nodes", account): ("EC2_LINUX", "system:node:{{EC2PrivateDNSName}}", ("system:nodes",), ()),
    }


BOTH_GATES = ("--approve-gate", "API_AND_CONFIG_MAP", "--approve-gate", "API")
FAST = ("--poll-seconds", "0.1", "--max-parallel", "8")


def test_twenty_clusters_two_phases_a_fault_a_stale_plan_a_kill_and_shards(
    make_sandbox: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = make_sandbox(twenty_scenario())
    out = tmp_path / "plans"
    (tmp_path / "fleet.yaml").write_text(inventory())
    planned = batch(sandbox, tmp_path, "plan", "fleet.yaml", "-o", "json")
    assert planned.returncode == 0, planned.stderr
    plans = by_name(report_of(planned))
    assert {n: (c["outcome"], c["blockers"]) for n, c in plans.items()} == {
        n: ("planned", ["SYSTEM_GROUP"] if n in BLOCKED else []) for n in NAMES
    }
    assert {(c["account"], c["region"]) for c in plans.values()} == {
        (a, r) for a in (ACCOUNT, OTHER_ACCOUNT) for r in (EAST, WEST)
    }
    edit_aws_auth(sandbox, STALE)  # after planning: its apply must refuse it, and only it

    # Phase 1: every cluster to API_AND_CONFIG_MAP. The faulty cluster's switch fails at EKS while in flight.
    hold_updates(sandbox)
    first_switch = switch_id(out, FAULTY, AuthMode.API_AND_CONFIG_MAP)
    phase1 = ("apply", "fleet.yaml", "--yes", "--approve-gate", "API_AND_CONFIG_MAP", *FAST, "-o", "json")
    process = started(sandbox, tmp_path, *phase1)
    try:
        wait_for(
            "the faulty cluster's switch", lambda: journal_count(out, FAULTY, "step-started", first_switch) > 0, process
        )
        wait_for("the faulty cluster's update", lambda: updating(sandbox, FAULTY), process)
        fail_update(sandbox, FAULTY)
        release_updates(sandbox)
        assert process.wait(timeout=900) == 5, (tmp_path / "background.err").read_text()
    finally:
        process.kill()
        process.wait()
    one = by_name(json.loads((tmp_path / "background.out").read_text()))
    assert {n: c["outcome"] for n, c in one.items()} == {
        n: "failed" if n == FAULTY else "stale" if n == STALE else "at-gate" for n in NAMES
    }
    assert one[FAULTY]["error"]["exitCode"] == 5 and "injected" in one[FAULTY]["error"]["message"]
    assert (one[FAULTY]["mode"], one[FAULTY]["gatesPassed"], one[FAULTY]["stepsDone"]) == ("CONFIG_MAP", [], 1)
    assert one[STALE]["error"]["exitCode"] == 3 and one[STALE]["stepsDone"] == 0
    for name in set(NAMES) - {FAULTY, STALE}:
        assert (one[name]["mode"], one[name]["gatesPassed"], one[name]["error"]) == (
            "API_AND_CONFIG_MAP", ["API_AND_CONFIG_MAP"], None
        ), one[name]  # fmt: skip
        assert one[name]["verified"]["ok"] is True, one[name]
        assert ("blocked by SYSTEM_GROUP" in one[name]["message"]) == (name in BLOCKED)

    # Phase 2: both gates. SIGKILL while the API switches of the first clusters are in flight.
    hold_updates(sandbox)
    phase2 = ("apply", "fleet.yaml", "--yes", *BOTH_GATES, *FAST, "-o", "json")
    gates = {n: switch_id(out, n, AuthMode.API) for n in KILLED_IN_FLIGHT}
    process = started(sandbox, tmp_path, *phase2)
    try:
        wait_for(
            "switches in flight",
            lambda: all(journal_count(out, n, "step-started", gates[n]) for n in KILLED_IN_FLIGHT),
            process,
        )
    finally:
        process.kill()
        process.wait()
    release_updates(sandbox)
    sandbox.clear_calls()
    status = by_name(report_of(batch(sandbox, tmp_path, "status", "fleet.yaml", "-o", "json")))
    assert sandbox.calls() == []  # status reads the journals only
    assert all(status[n]["outcome"] == "interrupted" for n in KILLED_IN_FLIGHT), status

    resumed = batch(sandbox, tmp_path, *phase2)
    assert resumed.returncode == 5, resumed.stderr  # blocked and stale clusters fall short of API
    report = report_of(resumed)
    two = by_name(report)
    assert report["summary"] == {"completed": 16, "blocked": 3, "stale": 1}
    for name in NAMES:
        entry = two[name]
        if name == STALE:
            assert (entry["outcome"], entry["mode"], entry["error"]["exitCode"]) == ("stale", "CONFIG_MAP", 3)
            assert "aws-auth" in entry["error"]["message"]
            continue
        gates_passed = ["API_AND_CONFIG_MAP"] if name in BLOCKED else ["API_AND_CONFIG_MAP", "API"]
        assert (entry["outcome"], entry["mode"], entry["gatesPassed"], entry["error"]) == (
            "blocked" if name in BLOCKED else "completed", gates_passed[-1], gates_passed, None
        ), entry  # fmt: skip
        # A blocked cluster had nothing left to do since phase 1 (it was verified then): skipped, no call.
        assert entry["skipped"] == (name in BLOCKED), entry
        assert entry["verified"] is None if name in BLOCKED else entry["verified"]["ok"] is True, entry
        assert entry["stepsDone"] == (entry["stepsTotal"] - 1 if name in BLOCKED else entry["stepsTotal"]), entry

    # The cluster as EKS says it is, and every identity as verify finds it (read-only, against aws-auth).
    for name in NAMES:
        want = {"stale": "CONFIG_MAP", "blocked": "API_AND_CONFIG_MAP"}.get(
            "stale" if name == STALE else "blocked" if name in BLOCKED else "", "API"
        )
        assert mode_of(sandbox, name) == want, name
        if name != STALE:
            assert live_entries(sandbox, name) == expected_entries(name), name
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)

    def verified(name: str) -> tuple[str, bool, dict[str, int]]:
        account, region = placement(name)
        access = ClusterAccess(region, None, role("migrator", account))
        verdict = verify_cluster(name, access, Reference(), probe=False)
        return name, verdict.ok, {k: v for k, v in verdict.counts().items() if v}

    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(verified, NAMES))
    for name, ok, counts in verdicts:
        assert ok, (name, counts)
        assert set(counts) <= {"equivalent", "eks-made"}, (name, counts)

    # The same command again: nothing changes anywhere (the stale cluster is refused again, reading only).
    sandbox.clear_calls()
    again = batch(sandbox, tmp_path, *phase2)
    assert again.returncode == 5, again.stderr
    assert mutating(sandbox.calls()) == []
    whole = report_of(again)
    assert {n: c["outcome"] for n, c in by_name(whole).items()} == {n: c["outcome"] for n, c in two.items()}
    assert all(c["skipped"] for n, c in by_name(whole).items() if n != STALE)
    assert {c.cluster for c in sandbox.calls() if c.cluster} == {STALE}  # (the others: STS and IAM, unnamed)

    # Shards 1/3..3/3 of the same command, merged, are the unsharded report.
    shard_files = []
    for index in (1, 2, 3):
        path = tmp_path / f"shard-{index}.json"
        result = batch(sandbox, tmp_path, *phase2, "--shard", f"{index}/3", "--report", str(path))
        assert result.returncode in (0, 5), result.stderr
        shard_files.append(str(path))
    merged = report_of(batch(sandbox, tmp_path, "report", "--merge", *shard_files, "-o", "json"))
    assert merged["mergedFrom"] == ["1/3", "2/3", "3/3"]
    assert comparable(merged) == comparable(whole)
    assert mutating(sandbox.calls()) == []
