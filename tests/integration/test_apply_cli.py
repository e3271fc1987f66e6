"""The executor through the real CLI, as subprocesses, against the sandbox over HTTP: gates, continuity of
every principal's identity, SIGKILL and resume, faults, staleness, conflicts, rollback, the cluster lock."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from migrator.model import AssociatePolicy, ClusterRef, CreateEntry, PolicyAssociation
from migrator.plan.planfile import body_sha256, load_plan, plan_to_dict, write_plan
from migrator.ports import KubeGateway, LeaseState
from migrator.run.lease import LEASE_NAME, LEASE_NAMESPACE, LeaseHolder
from migrator.run.lock import ClusterLock, lock_path, read_holder
from migrator.sandbox.recorder import identify
from migrator.sandbox.scenario import Scenario, load_scenario, parse_scenario
from migrator.sandbox.server import Sandbox
from migrator.wiring.connect import ConnectOptions, connect
from migrator.wiring.probe import PROBE_SESSION_NAME, IdentityProbe, observed, same_identity
from tests.cli.conftest import EXAMPLES, inherited_env, run_cli
from tests.integration.conftest import SandboxFactory, client
from tests.support.arns import ACCOUNT, role
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml
from tests.support.waiting import DEADLINE, wait_until

pytestmark = pytest.mark.integration

FAST = ("--poll-seconds", "0.2")
DEVELOPER = f"arn:aws:iam::{ACCOUNT}:role/Developer"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/ClusterAdmin"
BOTH_GATES = ("--approve-gate", "API_AND_CONFIG_MAP", "--approve-gate", "API")


def cli(sandbox: Sandbox, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args, cwd=cwd, env=sandbox.env())
    assert "Traceback" not in result.stderr, result.stderr
    return result


def make_plan(sandbox: Sandbox, cwd: Path, cluster: str, region: str, *extra: str) -> Path:
    path = cwd / "plans" / cluster / "test.plan.yaml"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # --out names a file in an existing folder
    result = cli(sandbox, cwd, "plan", "--cluster", cluster, "--region", region, "--out", str(path), *extra)
    assert result.returncode == 0, result.stderr
    return path


def plan_steps(plan: Path) -> list[dict[str, Any]]:
    result = run_cli("show", str(plan), "-o", "json")
    steps: list[dict[str, Any]] = json.loads(result.stdout)["steps"]
    return steps


def started(plan: Path, step_id: str) -> bool:
    """Has the journal recorded that `step_id` started? (A torn last line just means: not yet.)"""
    for journal in plan.parent.glob("*.journal.jsonl"):
        for line in journal.read_text().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("event") == "step-started" and record.get("step") == step_id:
                    return True
    return False


def journal_records(plan: Path) -> list[dict[str, Any]]:
    [journal] = plan.parent.glob("*.journal.jsonl")
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def live_entries(sandbox: Sandbox, cluster: str, region: str) -> dict[str, tuple[Any, ...]]:
    eks = client(sandbox, region=region)
    found: dict[str, tuple[Any, ...]] = {}
    for page in eks.get_paginator("list_access_entries").paginate(clusterName=cluster):
        for arn in page["accessEntries"]:
            entry = eks.describe_access_entry(clusterName=cluster, principalArn=arn)["accessEntry"]
            policies = eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)
            found[arn] = (
                entry["type"],
                entry.get("username"),
                tuple(sorted(entry.get("kubernetesGroups", []))),
                tuple(sorted((p["policyArn"], p["accessScope"]["type"]) for p in policies["associatedAccessPolicies"])),
            )
    return found


def mode_of(sandbox: Sandbox, cluster: str, region: str) -> str:
    described = client(sandbox, region=region).describe_cluster(name=cluster)["cluster"]
    return str(described["accessConfig"]["authenticationMode"])


# --- a generated cluster with many principals ----------------------------------------------------------


def many_principals(count: int, *, simulation: str = "updateSeconds: 1", rbac: str = "") -> Scenario:
    roles = [role(f"team-{i:02d}") for i in range(count)]
    mappings = [
        f"- rolearn: {role('Admin')}\n  username: admin:{{{{SessionName}}}}\n  groups: [system:masters]\n",
        f"- rolearn: {role('nodes')}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
        "  groups: [system:bootstrappers, system:nodes]\n",
    ]
    for i, arn in enumerate(roles):
        groups = "[system:masters, oncall]" if i % 10 == 0 else f"[team-{i % 7}]"
        mappings.append(f"- rolearn: {arn}\n  username: team-{i:02d}:{{{{SessionName}}}}\n  groups: {groups}\n")
    clusters = (
        f'  - name: big\n    region: us-east-1\n    account: "{ACCOUNT}"\n    version: "1.31"\n'
        f"    authenticationMode: CONFIG_MAP\n    nodegroups: [{{name: ng, nodeRole: '{role('nodes')}'}}]\n"
        f"    awsAuth: |\n{indent(aws_auth_config_map(''.join(mappings)), 6)}"
    )
    if rbac:
        clusters += f"    rbac: |\n{indent(rbac, 6)}"
    lines = "\n".join(line.strip() for line in simulation.splitlines())  # callers indent continuation lines
    text = scenario_yaml(clusters, roles=[*roles, role("Admin"), role("nodes")], caller=role("Admin"), simulation=lines)
    return parse_scenario(text, "generated.yaml")


CALLER_ENTRY_ADMIN = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: caller-entry-cluster-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "admin:aws-auth-migrate"}]
"""


# --- identity continuity ---------------------------------------------------------------------------------


_PROBES: dict[tuple[int, str], IdentityProbe] = {}


def probe_all(sandbox: Sandbox, cluster: str, region: str, principals: list[str]) -> dict[str, Any]:
    """Each principal's identity as the cluster reports it (SelfSubjectReview as that principal), with the
    access policies of its entry counted."""
    from migrator.aws.eks import policies_from

    eks = client(sandbox, region=region)
    reads_entries = mode_of(sandbox, cluster, region) != "CONFIG_MAP"
    seen: dict[str, Any] = {}
    for arn in principals:
        key = (id(sandbox), arn)
        if key not in _PROBES:
            _PROBES[key] = IdentityProbe(
                sandbox.credentials_for(arn, PROBE_SESSION_NAME),
                cluster=cluster,
                region=region,
                endpoint=f"{sandbox.kube_endpoint_url}/k8s/{ACCOUNT}/{region}/{cluster}",
                ca_data=sandbox.ca_data,
            )
        review = _PROBES[key].review()
        policies = ()
        if review is not None and reads_entries:
            try:
                associated = eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)
                policies = policies_from(associated["associatedAccessPolicies"])
            except eks.exceptions.ResourceNotFoundException:
                pass
        seen[arn] = observed(review, policies) if review is not None else None
    return seen


def test_every_principal_keeps_its_identity_at_every_step_boundary_of_the_demo_migration(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    from migrator.sandbox.demo import iam_reader_args, mapped_principals

    scenario = load_scenario(EXAMPLES / "scenario-large.yaml")
    sandbox = make_sandbox(scenario)
    cluster, region = "demo", "us-east-1"
    mapped = mapped_principals(scenario.clusters[0], scenario)
    principals = [arn for arn, _ in mapped]
    node = {arn for arn, is_node in mapped if is_node}
    windows = f"arn:aws:iam::{ACCOUNT}:role/eks-platform-prod-windows-node-role"
    before = probe_all(sandbox, cluster, region, principals)
    assert all(before.values()) and len(principals) == 27
    plan = make_plan(
        sandbox, tmp_path, cluster, region, "--target", "API", *iam_reader_args(scenario, scenario.clusters[0])
    )
    steps = plan_steps(plan)
    first_gate = next(s["id"] for s in steps if s["kind"] == "set-mode")
    assert steps[steps.index(next(s for s in steps if s["id"] == first_gate)) + 1]["kind"] == "repair-node-entry"
    # A principal's entry and its policies are one unit: the boundaries are between units.
    boundaries = [
        s["id"] for i, s in enumerate(steps) if i + 1 == len(steps) or steps[i + 1]["kind"] != "associate-policy"
    ]
    for boundary in boundaries:
        result = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST, "--until", boundary)
        assert result.returncode == 0, result.stderr
        now = probe_all(sandbox, cluster, region, principals)
        changed = [arn for arn in principals if not same_identity(before[arn], now[arn], node=arn in node)]
        # EKS itself gives the Windows node role an EC2_LINUX entry when it leaves CONFIG_MAP (its defect);
        # the plan's very next step repairs it. No other principal may differ at any boundary.
        expected = [windows] if boundary == first_gate else []
        assert changed == expected, f"after {boundary}: {[(a, before[a], now[a]) for a in changed]}"
    assert mode_of(sandbox, cluster, region) == "API"
    final = cli(sandbox, tmp_path, "status", str(plan), "-o", "json")
    assert json.loads(final.stdout)["result"] == "completed"


# --- crashes ------------------------------------------------------------------------------------------------


def _kill_when(process: subprocess.Popen[bytes], plan: Path, done_records: int | None, delay: float | None) -> bool:
    """SIGKILL the run once the journal holds `done_records` step-done records, or after `delay` seconds.
    True when the process was killed, False when it finished first."""
    deadline = time.monotonic() + 120
    started = time.monotonic()
    while process.poll() is None and time.monotonic() < deadline:
        if delay is not None and time.monotonic() - started >= delay:
            break
        if done_records is not None:
            journals = list(plan.parent.glob("*.journal.jsonl"))
            if journals and journals[0].read_text().count('"step-done"') >= done_records:
                break
        time.sleep(0.005)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def _final_state(sandbox: Sandbox) -> tuple[str, dict[str, tuple[Any, ...]]]:
    return mode_of(sandbox, "big", "us-east-1"), live_entries(sandbox, "big", "us-east-1")


@pytest.mark.slow
def test_sigkill_anywhere_then_resume_equals_an_uninterrupted_run(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    # A kill between the caller's own create-entry and its associate-policy leaves the caller with a bare
    # entry, which on EKS grants no Kubernetes access: the resume could not read aws-auth (a known gap, see
    # test_resume_after_a_kill_inside_the_callers_own_unit). Here the caller's entry username is bound to
    # cluster-admin, so this test checks resume everywhere else.
    scenario = many_principals(50, simulation="updateSeconds: 1\n  latencyMs: 15", rbac=CALLER_ENTRY_ADMIN)
    reference = make_sandbox(scenario)
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    plan = make_plan(reference, reference_dir, "big", "us-east-1", "--target", "API")
    done = cli(reference, reference_dir, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert done.returncode == 0, done.stderr
    expected = _final_state(reference)

    crashed = make_sandbox(scenario)
    work = tmp_path / "crashed"
    work.mkdir()
    plan = make_plan(crashed, work, "big", "us-east-1", "--target", "API")
    total = len(plan_steps(plan))
    env = {**inherited_env(), **crashed.env()}
    rng = random.Random(20261122)
    # Kill at chosen step boundaries (after the backup, around the first gate, among the entries, before the
    # last gate) and at random moments inside steps, then once more resume to the end.
    plan_points: list[tuple[int | None, float | None]] = [(1, None), (2, None), (5, None), (20, None)]
    plan_points += [(None, rng.uniform(0.05, 1.5)) for _ in range(6)] + [(total - 1, None)]
    kills = 0
    for done_records, delay in [*plan_points, *[(None, None)] * 3]:
        command = [sys.executable, "-m", "migrator", "apply", str(plan), "--yes", *BOTH_GATES, *FAST]
        process = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done_records is None and delay is None:
            _, stderr = process.communicate(timeout=180)
            assert process.returncode == 0, stderr.decode()
            break
        kills += _kill_when(process, plan, done_records, delay)
    assert kills >= 5
    assert _final_state(crashed) == expected

    records = journal_records(plan)
    done_steps = [r["step"] for r in records if r["event"] == "step-done"]
    assert sorted(set(done_steps)) == sorted(s["id"] for s in plan_steps(plan))
    for step in set(done_steps):  # done again only after an undo (a kill inside the caller's own unit)
        events = [r["event"] for r in records if r.get("step") == step and r["event"] in ("step-done", "step-undone")]
        assert all(a != b for a, b in itertools.pairwise(events)), f"{step} was done twice: {events}"
    creates = [r for r in records if r["event"] == "step-done" and r["step"].endswith("create-entry")]
    assert not [r for r in creates if r.get("detail", {}).get("adopted")], "one of our own creates was adopted"


def test_resume_after_a_kill_inside_the_callers_own_unit(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    # Regression: a kill between the caller's create-entry and associate-policy left it a bare entry, which
    # grants no Kubernetes access on EKS; the resume read aws-auth first (403) and could never finish the unit.
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))  # caller: ClusterAdmin, system:masters
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    steps = {s["id"]: s for s in plan_steps(plan)}
    admin = f"arn:aws:iam::{ACCOUNT}:role/ClusterAdmin"
    assert (
        steps["04-create-entry"]["params"]["principalArn"],
        steps["05-associate-policy"]["params"]["principalArn"],
    ) == (
        admin,
        admin,
    )
    first = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST, "--until", "05-associate-policy")
    assert first.returncode == 0, first.stderr
    # Make it as if SIGKILL came right after 04's record: 05 never started, its association never made.
    [journal] = plan.parent.glob("*.journal.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    kept = [r for r in records if r.get("step") != "05-associate-policy" and r["event"] != "run-finished"]
    journal.write_text("".join(json.dumps(r, separators=(",", ":"), sort_keys=True) + "\n" for r in kept))
    client(sandbox, region="eu-west-1").disassociate_access_policy(
        clusterName="team", principalArn=admin, policyArn=steps["05-associate-policy"]["params"]["policyArn"]
    )
    resumed = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert resumed.returncode == 0, resumed.stderr
    said = " ".join(resumed.stderr.split())  # the console wraps long lines
    assert "first deleting the entries of 1 principal(s) a killed run left with an entry but without its" in said
    assert mode_of(sandbox, "team", "eu-west-1") == "API"
    policies = client(sandbox, region="eu-west-1").list_associated_access_policies(
        clusterName="team", principalArn=admin
    )
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [
        steps["05-associate-policy"]["params"]["policyArn"]
    ]


@pytest.mark.parametrize("then", ["apply", "rollback", "apply-after-an-aws-auth-edit"])
def test_a_kill_while_the_callers_own_create_entry_is_in_flight_is_recovered_by_resume_and_rollback(
    make_sandbox: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str
) -> None:
    # Regression (issue 20, defect 1): SIGKILL while the caller's own CreateAccessEntry was in flight. EKS made
    # the entry, the journal said only "started"; the caller, now authenticated by its bare entry, got 403 from
    # Kubernetes, and apply and rollback both exited 5 for good ("get configmap aws-auth 403").
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))  # caller: ClusterAdmin, system:masters
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    steps = plan_steps(plan)
    create = next(s["id"] for s in steps if s["kind"] == "create-entry" and s["params"]["principalArn"] == ADMIN)
    command = [sys.executable, "-m", "migrator", "apply", str(plan), "--yes", *BOTH_GATES, *FAST]
    env = {**inherited_env(), **sandbox.env()}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    record = sandbox.recorder.record

    def kill_on_the_callers_create(environ: Any) -> None:
        record(environ)
        call = identify(environ)
        if call.operation == "CreateAccessEntry" and call.principal_arn == ADMIN:
            # The request has arrived whole: the sandbox makes the entry once this returns, answering nobody.
            process.kill()
            process.wait()

    monkeypatch.setattr(sandbox.recorder, "record", kill_on_the_callers_create)
    assert process.wait(timeout=DEADLINE) == -signal.SIGKILL
    eks = client(sandbox, region="eu-west-1")
    # The sandbox makes the entry after the killing hook returns, on its own request thread.
    wait_until("the sandbox to make the caller's entry", lambda: ADMIN in live_entries(sandbox, "team", "eu-west-1"))
    assert live_entries(sandbox, "team", "eu-west-1")[ADMIN][3] == ()  # a bare entry: no policy yet
    events = {(r["event"], r.get("step")) for r in journal_records(plan)}
    assert ("step-started", create) in events and ("step-done", create) not in events
    monkeypatch.undo()

    planned = [
        s["params"]["policyArn"]
        for s in steps
        if s["kind"] == "associate-policy" and s["params"]["principalArn"] == ADMIN
    ]
    if then == "apply":
        resumed = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
        assert resumed.returncode == 0, resumed.stderr
        assert "first deleting the entries of" in " ".join(resumed.stderr.split())
        assert mode_of(sandbox, "team", "eu-west-1") == "API"
        policies = eks.list_associated_access_policies(clusterName="team", principalArn=ADMIN)
        assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == planned
        records = journal_records(plan)
        assert ("step-undone", create) in {(r["event"], r.get("step")) for r in records}
        done = [r for r in records if r["event"] == "step-done" and r["step"] == create][-1]
        assert done["detail"].get("created") and not done["detail"].get("adopted")  # ours: rollback undoes it
    elif then == "apply-after-an-aws-auth-edit":
        # An admin edits aws-auth before the resume: nothing planned may be granted before aws-auth is read
        # (the reviewer's widening), and the resume stops as stale with the caller back on its mapping.
        cluster = sandbox.world.cluster(ACCOUNT, "eu-west-1", "team")
        assert cluster is not None
        with sandbox.world.lock:  # an operator edits aws-auth (the Kubernetes store, as kubectl would)
            stored = cluster.objects[("v1", "configmaps", "kube-system", "aws-auth")].body
            stored["data"]["mapUsers"] += f"- userarn: arn:aws:iam::{ACCOUNT}:user/late\n  username: late\n"
            stored["metadata"]["resourceVersion"] = cluster.next_resource_version()
        resumed = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
        assert resumed.returncode == 3, resumed.stderr
        assert ADMIN not in live_entries(sandbox, "team", "eu-west-1")
        assert mode_of(sandbox, "team", "eu-west-1") == "API_AND_CONFIG_MAP"
        admin = probe_all(sandbox, "team", "eu-west-1", [ADMIN])[ADMIN]
        assert admin is not None and admin.cluster_admin  # on its aws-auth mapping, as before the unit
    else:
        undone = cli(sandbox, tmp_path, "rollback", str(plan), "--yes")
        assert undone.returncode == 0, undone.stderr
        assert "first deleting the entries of" in " ".join(undone.stderr.split())  # the console wraps lines
        assert ("step-undone", create) in {(r["event"], r.get("step")) for r in journal_records(plan)}
        assert ADMIN not in live_entries(sandbox, "team", "eu-west-1")
        assert mode_of(sandbox, "team", "eu-west-1") == "API_AND_CONFIG_MAP"
        admin = probe_all(sandbox, "team", "eu-west-1", [ADMIN])[ADMIN]
        assert admin is not None and admin.cluster_admin  # back on its aws-auth mapping (system:masters)


# --- faults, staleness, conflicts ----------------------------------------------------------------------------


def test_twenty_percent_faults_do_not_stop_the_run(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    faults = "updateSeconds: 1\n  faults: {seed: 7, throttle: 0.08, serverError: 0.06, connectionReset: 0.06}"
    sandbox = make_sandbox(many_principals(12, simulation=faults))
    plan = make_plan(sandbox, tmp_path, "big", "us-east-1", "--target", "API")
    result = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert result.returncode == 0, result.stderr
    assert mode_of(sandbox, "big", "us-east-1") == "API"
    stats = sandbox.world.stats
    injected = sum(v for k, v in stats.items() if k.startswith("fault:"))
    assert injected >= 10
    # Bounded retries: each fault costs one more request, never a storm.
    assert stats["requests"] <= 2 * (stats["requests"] - injected) + injected


def test_aws_auth_edited_after_planning_makes_the_plan_stale(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    cluster = sandbox.world.cluster(ACCOUNT, "eu-west-1", "team")
    assert cluster is not None
    with sandbox.world.lock:  # an operator edits aws-auth (the Kubernetes store, as kubectl would)
        stored = cluster.objects[("v1", "configmaps", "kube-system", "aws-auth")].body
        stored["data"]["mapUsers"] += "- userarn: arn:aws:iam::111122223333:user/new\n  username: new\n"
        stored["metadata"]["resourceVersion"] = cluster.next_resource_version()
    result = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert result.returncode == 3, result.stderr
    assert "aws-auth" in result.stderr
    assert mode_of(sandbox, "team", "eu-west-1") == "CONFIG_MAP"


def test_aws_auth_edited_during_a_run_stops_it_in_front_of_the_api_gate(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # Regression (issue 8, defect 3): aws-auth edited during a run was not seen before the one-way API gate,
    # and the role mapped meanwhile got 401 in API mode. The first switch is held in
    # progress until the test has edited aws-auth, so the edit lands mid-run whatever the machine's load.
    text = (EXAMPLES / "scenario-small.yaml").read_text().replace("updateSeconds: 1", "updateSeconds: 3600")
    sandbox = make_sandbox(parse_scenario(text, "held-update.yaml", base_dir=EXAMPLES))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    cluster = sandbox.world.cluster(ACCOUNT, "eu-west-1", "team")
    assert cluster is not None
    env = {**inherited_env(), **sandbox.env()}
    command = [sys.executable, "-m", "migrator", "apply", str(plan), "--yes", *BOTH_GATES, *FAST]
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _first_update(sandbox, "team", "eu-west-1", run)  # the switch has started and is held in progress
        newcomer = f"arn:aws:iam::{ACCOUNT}:role/Newcomer"
        with sandbox.world.lock:
            stored = cluster.objects[("v1", "configmaps", "kube-system", "aws-auth")].body
            stored["data"]["mapRoles"] += f"- groups:\n  - system:masters\n  rolearn: {newcomer}\n  username: new\n"
            stored["metadata"]["resourceVersion"] = cluster.next_resource_version()
            for update in cluster.updates.values():
                update.finishes_at = 0.0  # EKS finishes the switch now
            sandbox.world.settings = dataclasses.replace(sandbox.world.settings, update_seconds=1.0)
        _, stderr = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 3, stderr
    # seen before the first entry is made from the plan's mappings (and, had it come later, at the gate)
    assert "aws-auth" in stderr and "refusing to create access entries" in stderr
    assert mode_of(sandbox, "team", "eu-west-1") == "API_AND_CONFIG_MAP"
    assert newcomer not in live_entries(sandbox, "team", "eu-west-1")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_on_the_sequential_path_finishes_the_principal_in_flight(
    make_sandbox: SandboxFactory, tmp_path: Path, signum: int
) -> None:
    # Regression (issue 8, defect 4): Ctrl-C right after a create-entry started left the system:masters
    # principal with a bare entry (no ClusterAdmin policy): it lost admin. EKS answers slowly here, and the
    # signal is sent once the journal says the admin's create-entry started, so it lands inside that unit.
    slow = (
        (EXAMPLES / "scenario-small.yaml").read_text().replace("updateSeconds: 1", "updateSeconds: 1\n  latencyMs: 400")
    )
    sandbox = make_sandbox(parse_scenario(slow, "slow.yaml", base_dir=EXAMPLES))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    creates = {s["params"]["principalArn"]: s["id"] for s in plan_steps(plan) if s["kind"] == "create-entry"}
    admin_step = creates[ADMIN]
    env = {**inherited_env(), **sandbox.env()}
    command = [
        sys.executable, "-m", "migrator", "apply", str(plan), "--yes", *FAST,
        "--approve-gate", "API_AND_CONFIG_MAP", "--max-concurrency", "1",
    ]  # fmt: skip
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while run.poll() is None and time.monotonic() < deadline and not started(plan, admin_step):
            time.sleep(0.02)  # waiting for an event (the admin's create-entry started), not for a duration
        assert run.poll() is None, "the run finished before the admin's create-entry started"
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130, stderr
    entries = live_entries(sandbox, "team", "eu-west-1")
    admin_policy = ("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "cluster")
    assert ADMIN in entries and entries[ADMIN][3] == (admin_policy,)  # the unit in flight finished
    states = {r.get("step"): r["event"] for r in journal_records(plan)}
    assert states[admin_step] == "step-done"  # and was journaled before exiting
    resumed = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *FAST, "--approve-gate", "API_AND_CONFIG_MAP")
    assert resumed.returncode == 0, resumed.stderr
    assert live_entries(sandbox, "team", "eu-west-1")[ADMIN][3] == (admin_policy,)


def test_resume_after_a_kill_during_the_first_switch_keeps_the_entry_eks_made_for_the_mapped_creator(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # Regression (issue 8, defect 7): the entries EKS made at the switch were known only to the process that
    # saw it finish; resumed after a SIGKILL, the run took the creator's admin entry for a conflict (exit 6).
    text = (EXAMPLES / "scenario-small.yaml").read_text().replace("updateSeconds: 1", "updateSeconds: 3600")
    text = text.replace(
        "    authenticationMode: CONFIG_MAP\n", f"    authenticationMode: CONFIG_MAP\n    creator: {DEVELOPER}\n"
    )
    sandbox = make_sandbox(parse_scenario(text, "creator-mapped.yaml", base_dir=EXAMPLES))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    cluster = sandbox.world.cluster(ACCOUNT, "eu-west-1", "team")
    assert cluster is not None
    env = {**inherited_env(), **sandbox.env()}
    command = [
        sys.executable,
        "-m",
        "migrator",
        "apply",
        str(plan),
        "--yes",
        *FAST,
        "--approve-gate",
        "API_AND_CONFIG_MAP",
    ]
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _first_update(sandbox, "team", "eu-west-1", run)  # the switch has started and is held in progress
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    with sandbox.world.lock:
        for update in cluster.updates.values():
            update.finishes_at = 0.0  # EKS finishes the switch after the run died
        sandbox.world.settings = dataclasses.replace(sandbox.world.settings, update_seconds=1.0)
    resumed = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *FAST, "--approve-gate", "API_AND_CONFIG_MAP")
    assert resumed.returncode == 0, resumed.stderr
    entry = live_entries(sandbox, "team", "eu-west-1")[DEVELOPER]
    assert entry[3] == (("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "cluster"),)
    records = journal_records(plan)
    switch = [r for r in records if r.get("step") == "02-set-mode" and r["event"] == "step-done"][-1]
    assert switch["detail"]["eksCreatedEntries"] == [DEVELOPER] and switch["detail"]["recovered"] is True


def test_an_entry_deleted_between_runs_is_made_again_and_the_run_reaches_api(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # Regression (issue 8, defect 8): a deleted entry made every re-run stop at the API gate (exit 4).
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    first = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *FAST, "--approve-gate", "API_AND_CONFIG_MAP")
    assert first.returncode == 0, first.stderr
    before = live_entries(sandbox, "team", "eu-west-1")
    client(sandbox, region="eu-west-1").delete_access_entry(clusterName="team", principalArn=ADMIN)
    again = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *FAST, *BOTH_GATES)
    assert again.returncode == 0, again.stderr
    assert "making it again" in again.stderr and ADMIN in again.stderr
    assert mode_of(sandbox, "team", "eu-west-1") == "API"
    assert live_entries(sandbox, "team", "eu-west-1")[ADMIN] == before[ADMIN]


def test_a_self_consistent_plan_edit_with_a_recomputed_hash_is_refused(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # Regression (issue 8, defect 5): an edit that recomputes the integrity hash was obeyed: gates turned off,
    # or a developer made cluster-admin (which then even passed verify, since verify compared with the plan).
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    path = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    plan = load_plan(path)

    gates_off = json.loads(json.dumps(plan_to_dict(plan)))
    gates_off["stepKinds"]["set-mode"]["gate"] = False
    gates_off["integrity"] = {"sha256": body_sha256(gates_off)}
    edited = tmp_path / "gates-off.plan.yaml"
    edited.write_text(json.dumps(gates_off))
    refused = cli(sandbox, tmp_path, "apply", str(edited), "--yes", *FAST)
    assert refused.returncode == 2, refused.stderr
    assert "`stepKinds` says" in refused.stderr

    admin = PolicyAssociation("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
    entries = tuple(
        dataclasses.replace(e, spec=dataclasses.replace(e.spec, policies=(admin,)))
        if e.spec.principal_arn == DEVELOPER
        else e
        for e in plan.entries
    )
    steps: list[Any] = []
    for step in plan.steps:
        if isinstance(step, CreateEntry) and step.principal_arn == DEVELOPER:
            spec = next(e.spec for e in entries if e.spec.principal_arn == DEVELOPER)
            steps += [CreateEntry(step.id, spec), AssociatePolicy(step.id + "b", DEVELOPER, admin)]
        else:
            steps.append(step)
    widened = write_plan(dataclasses.replace(plan, entries=entries, steps=tuple(steps)), tmp_path / "widened.yaml")
    assert cli(sandbox, tmp_path, "show", str(widened)).returncode == 0  # a valid, self-consistent plan file
    refused = cli(sandbox, tmp_path, "apply", str(widened), "--yes", *BOTH_GATES, *FAST)
    assert refused.returncode == 3, refused.stderr
    assert f"the entry of {DEVELOPER} differs in policies" in refused.stderr
    assert mode_of(sandbox, "team", "eu-west-1") == "CONFIG_MAP"


def test_a_conflicting_entry_made_mid_run_stops_the_run_and_is_not_overwritten(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    first = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST, "--until", "02-set-mode")
    assert first.returncode == 0, first.stderr
    developer = f"arn:aws:iam::{ACCOUNT}:role/Developer"
    client(sandbox, region="eu-west-1").create_access_entry(
        clusterName="team", principalArn=developer, username="someone-else", kubernetesGroups=["other"]
    )
    result = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert result.returncode == 6, result.stderr
    assert developer in result.stderr
    assert live_entries(sandbox, "team", "eu-west-1")[developer][1:3] == ("someone-else", ("other",))


# --- rollback, lock, dry run --------------------------------------------------------------------------------


def test_rollback_deletes_what_it_created_and_refuses_after_the_api_gate(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    first = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *FAST, "--approve-gate", "API_AND_CONFIG_MAP")
    assert first.returncode == 0, first.stderr
    assert "--approve-gate API" in first.stdout  # stopped in front of the unapproved gate, saying how to go on
    created = set(live_entries(sandbox, "team", "eu-west-1"))
    assert f"arn:aws:iam::{ACCOUNT}:role/Developer" in created
    checked = cli(sandbox, tmp_path, "rollback", str(plan), "--dry-run", "-o", "json")  # checks only
    assert checked.returncode == 0, checked.stderr
    preview = json.loads(checked.stdout)
    assert preview["dryRun"] is True and "would be undone" in preview["message"]
    statuses = {s["id"]: s["status"] for s in preview["steps"]}
    assert statuses["02-set-mode"] == "kept" and "would-run" in statuses.values()
    assert set(live_entries(sandbox, "team", "eu-west-1")) == created
    undone = cli(sandbox, tmp_path, "rollback", str(plan), "--yes")
    assert undone.returncode == 0, undone.stderr
    left = set(live_entries(sandbox, "team", "eu-west-1"))
    assert left < created and f"arn:aws:iam::{ACCOUNT}:role/Developer" not in left
    assert mode_of(sandbox, "team", "eu-west-1") == "API_AND_CONFIG_MAP"  # gates are one way

    again = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert again.returncode == 0, again.stderr
    assert mode_of(sandbox, "team", "eu-west-1") == "API"
    refused = cli(sandbox, tmp_path, "rollback", str(plan), "--yes")
    assert "API" in refused.stdout + refused.stderr
    assert f"arn:aws:iam::{ACCOUNT}:role/Developer" in live_entries(sandbox, "team", "eu-west-1")


def test_rollback_keeps_each_entry_whose_principal_aws_auth_no_longer_maps(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # Regression: rollback deleted every entry it had made although aws-auth was gone, locking out the caller
    # and every migrated principal (401). It must prove the principal keeps its identity without the entry.
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    first = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *FAST, "--approve-gate", "API_AND_CONFIG_MAP")
    assert first.returncode == 0, first.stderr
    created = live_entries(sandbox, "team", "eu-west-1")
    people = [ADMIN, DEVELOPER, f"arn:aws:iam::{ACCOUNT}:user/maria"]
    assert set(people) <= set(created)
    cluster = sandbox.world.cluster(ACCOUNT, "eu-west-1", "team")
    assert cluster is not None
    with sandbox.world.lock:  # somebody deletes aws-auth (as `kubectl delete cm aws-auth` would)
        del cluster.objects[("v1", "configmaps", "kube-system", "aws-auth")]

    undone = cli(sandbox, tmp_path, "rollback", str(plan), "--yes", "-o", "json")
    assert undone.returncode == 0, undone.stderr
    report = {s["id"]: s for s in json.loads(undone.stdout)["steps"]}
    kept = [s for s in report.values() if s["kind"] == "create-entry" and s["status"] == "kept"]
    assert len(kept) == len([s for s in report.values() if s["kind"] == "create-entry"])
    assert all("aws-auth is gone" in s["detail"]["reason"] for s in kept)
    assert live_entries(sandbox, "team", "eu-west-1") == created
    assert all(probe_all(sandbox, "team", "eu-west-1", people).values())  # nobody gets 401


def test_remove_aws_auth_keeps_a_private_backup_and_rollback_restores_it(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    cluster = sandbox.world.cluster(ACCOUNT, "eu-west-1", "team")
    assert cluster is not None
    key = ("v1", "configmaps", "kube-system", "aws-auth")
    original = dict(cluster.objects[key].body["data"])
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API", "--remove-aws-auth")
    assert cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST).returncode == 0
    assert key not in cluster.objects
    [backup] = plan.parent.glob("*.aws-auth.backup.json")
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert cli(sandbox, tmp_path, "rollback", str(plan), "--yes").returncode == 0
    assert cluster.objects[key].body["data"] == original


def sandbox_kube(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, cluster: str, region: str) -> KubeGateway:
    """The tool's own Kubernetes gateway to a sandbox cluster, as the scenario's caller (another machine)."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    return connect(cluster, ConnectOptions(region)).kube


def other_machines_lease(renewed: datetime.datetime, duration: int) -> LeaseState:
    holder = LeaseHolder("ci-runner-7", 77, "plan-theirs", "bob").identity()
    return LeaseState(LEASE_NAMESPACE, LEASE_NAME, holder, duration, renewed, renewed)


def test_the_same_plan_copied_into_two_directories_cannot_run_at_once(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    copy = tmp_path / "elsewhere" / plan.name
    copy.parent.mkdir()
    shutil.copy(plan, copy)
    # This process holds the machine's lock on the cluster, as a running apply of either copy would.
    with ClusterLock(lock_path(ClusterRef("team", "eu-west-1", ACCOUNT)), "team", "held-by-the-test"):
        for path in (plan, copy):
            refused = cli(sandbox, tmp_path, "apply", str(path), "--yes", *BOTH_GATES, *FAST)
            assert refused.returncode == 7, refused.stderr
            assert f"pid {os.getpid()}" in refused.stderr and "plan held-by-the-test" in refused.stderr
    assert mode_of(sandbox, "team", "eu-west-1") == "CONFIG_MAP"  # nothing was done
    assert not list(copy.parent.glob("*.journal.jsonl")) and not list(plan.parent.glob("*.journal.jsonl"))
    done = cli(sandbox, tmp_path, "apply", str(copy), "--yes", *BOTH_GATES, *FAST)
    assert done.returncode == 0, done.stderr


def test_a_lease_held_by_another_machine_refuses_and_an_expired_one_is_taken_over(
    make_sandbox: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    kube = sandbox_kube(sandbox, monkeypatch, "team", "eu-west-1")
    now = datetime.datetime.now(datetime.UTC)
    held = kube.create_lease(other_machines_lease(now, 3600))

    refused = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert refused.returncode == 7, refused.stderr
    assert "pid 77 on ci-runner-7 (plan plan-theirs, user bob)" in refused.stderr
    assert mode_of(sandbox, "team", "eu-west-1") == "CONFIG_MAP"
    assert kube.read_lease(LEASE_NAMESPACE, LEASE_NAME) == held  # untouched

    # The other machine died: its lease (of one second, so the watch is short) goes unrenewed while the run
    # watches it. Its renewTime, by its own clock, says nothing either way.
    kube.update_lease(
        dataclasses.replace(
            other_machines_lease(now + datetime.timedelta(hours=2), 1), resource_version=held.resource_version
        )
    )
    taken = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
    assert taken.returncode == 0, taken.stderr
    said = " ".join(taken.stderr.split())  # the console wraps long lines
    assert "watching it for up to 1 s" in said
    assert "took over an expired lease on cluster team" in said and "ci-runner-7" in said
    assert mode_of(sandbox, "team", "eu-west-1") == "API_AND_CONFIG_MAP"  # the plan's target
    assert kube.read_lease(LEASE_NAMESPACE, LEASE_NAME) is None  # released at the end


def _first_update(sandbox: Sandbox, cluster: str, region: str, process: subprocess.Popen[Any]) -> str:
    """The id of the first update started on the cluster, once `process` has started it (it must not exit first).

    Waits on a subprocess, so a generous deadline: CI is a loaded 2-core machine."""
    sim = sandbox.world.cluster(ACCOUNT, region, cluster)
    assert sim is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sandbox.world.lock:
            if sim.updates:
                return next(iter(sim.updates))
        assert process.poll() is None, "the first run ended before it started its mode update"
        time.sleep(0.05)
    raise AssertionError("the first run never started its mode update")


def _finish_updates(sandbox: Sandbox, cluster: str, region: str) -> None:
    """EKS finishes every update of the cluster now (the next request that looks sees it Successful)."""
    sim = sandbox.world.cluster(ACCOUNT, region, cluster)
    assert sim is not None
    with sandbox.world.lock:
        for update in sim.updates.values():
            update.finishes_at = min(update.finishes_at, time.time())


def test_two_applies_on_one_cluster_cannot_run_at_once(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    # The first run's mode update would take an hour: the run sits in its poll loop, holding the cluster lock
    # (taken before its first step), until the test ends the update. So the second run meets the held lock
    # however slow the machine is; no timing is involved.
    scenario = load_scenario(EXAMPLES / "scenario-small.yaml")
    sandbox = make_sandbox(replace(scenario, simulation=replace(scenario.simulation, update_seconds=3600.0)))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    env = {**inherited_env(), **sandbox.env()}
    command = [sys.executable, "-m", "migrator", "apply", str(plan), "--yes", *BOTH_GATES, *FAST]
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _first_update(sandbox, "team", "eu-west-1", first)
        holder = read_holder(lock_path(ClusterRef("team", "eu-west-1", ACCOUNT)))
        assert holder is not None and holder.pid == first.pid
        second = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST)
        assert second.returncode == 7, second.stderr
        assert str(first.pid) in second.stderr
    finally:
        _finish_updates(sandbox, "team", "eu-west-1")
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr.decode()


def test_dry_run_changes_nothing(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    result = cli(sandbox, tmp_path, "apply", str(plan), "--dry-run", "-o", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dryRun"] is True
    assert mode_of(sandbox, "team", "eu-west-1") == "CONFIG_MAP"
    assert not list(plan.parent.glob("*.journal.jsonl"))


def test_the_api_gate_is_refused_when_the_caller_would_lose_cluster_admin(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    # The caller is a developer; the cluster was created by ClusterAdmin, so the plan can only warn.
    text = (EXAMPLES / "scenario-small.yaml").read_text()
    text = text.replace("caller: arn:aws:iam::111122223333:role/ClusterAdmin", "caller: " + DEVELOPER)
    text = text.replace(
        "    authenticationMode: CONFIG_MAP\n", "    authenticationMode: CONFIG_MAP\n    creator: " + ADMIN + "\n"
    )
    # What a non-admin runner needs in Kubernetes (aws-auth and the Lease in kube-system): upstream `edit`.
    text = text.replace(
        "    awsAuthFile: aws-auth-small.yaml\n",
        "    awsAuthFile: aws-auth-small.yaml\n    rbac: |\n"
        + indent(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
            "metadata: {name: developers-edit, namespace: kube-system}\n"
            "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}\n"
            "subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: app-developers}]\n",
            6,
        ),
    )
    sandbox = make_sandbox(parse_scenario(text, "caller-not-admin.yaml", base_dir=EXAMPLES))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1", "--target", "API")
    shown = json.loads(run_cli("show", str(plan), "-o", "json").stdout)
    # A developer may not list RBAC: the plan says so and goes on (apply's re-plan meets the same 403).
    assert [(f["code"], f["severity"]) for f in shown["findings"]] == [
        ("RBAC_UNAVAILABLE", "warning"),
        ("CALLER_LOCKOUT", "warning"),
    ]

    # The lockout check runs in front of the API gate even before asking for its approval.
    refused = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *FAST, "--approve-gate", "API_AND_CONFIG_MAP")
    assert refused.returncode == 4, refused.stderr
    assert "refusing to switch team to API" in refused.stderr
    assert "Developer" in refused.stderr
    assert mode_of(sandbox, "team", "eu-west-1") == "API_AND_CONFIG_MAP"


def test_rollback_on_failure_undoes_what_the_run_created(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    eks = client(sandbox, region="eu-west-1")
    steps = plan_steps(plan)
    maria = f"arn:aws:iam::{ACCOUNT}:user/maria"
    before_maria = next(s["id"] for s in steps if s["params"].get("principalArn") == maria)
    previous = steps[[s["id"] for s in steps].index(before_maria) - 1]["id"]
    first = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST, "--until", previous)
    assert first.returncode == 0, first.stderr
    ours = set(live_entries(sandbox, "team", "eu-west-1"))
    eks.create_access_entry(clusterName="team", principalArn=maria, username="not-maria")
    failed = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, *FAST, "--rollback-on-failure")
    assert failed.returncode == 6, failed.stderr
    left = live_entries(sandbox, "team", "eu-west-1")
    developer = f"arn:aws:iam::{ACCOUNT}:role/Developer"
    assert developer in ours and developer not in left  # created by this plan: undone
    assert left[maria][1] == "not-maria"  # someone else's: untouched
