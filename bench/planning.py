"""`make bench`, planning figures (issue 12, items 5 and 6): plan size, load time, start-up, IAM reads and how
soon a finished mode switch is seen. Ratios within one run, never timed tests.

- offline plan of a 1 MiB aws-auth (2,900 mappings, as `kubectl get cm aws-auth -o yaml` prints it after a
  `kubectl apply`: the last-applied annotation repeats the data) vs. the bare ruamel load of that file *and*
  of the mapRoles document it holds (what any reader of aws-auth must parse); the outer load alone is shown
  too. "Offline plan" is the use case: read and check aws-auth, plan, write the plan file. Best of 3.
- plan file size / input size, for that plan.
- load + hash of a plan file (load_plan: read, check, hash, rebuild) at 2,900 vs. 290 mappings: linear when
  the ratio is about 10.
- live plan of 1,000 principals whose roles have IAM paths, in two accounts (the second read through
  `--iam-role`): IAM calls (the sandbox's recorder) vs. distinct principals (target: no more; a ListRoles
  page answers up to 1,000 of an account's), IAM clients made (aws.session.clients_made) vs. accounts.
- mode-switch detection delay: the sandbox (its own process) marks the update Successful at
  `updateSeconds` after it starts; the figure is how long after that the executor, with the default
  polling (app.update_polling), reports the set-mode step done. The worst of three switch durations.
- `aws-auth-migrate --help` wall time (a fresh interpreter, best of 5), and the peak RSS of a fresh process
  that plans 2,900 mappings offline and loads the plan back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402

from bench.sandbox_process import peak_rss_kb, sandbox_process  # noqa: E402
from migrator.app import ClusterAccess, PlanOptions, PlanRun, RunSettings, apply_plan, connect_cluster  # noqa: E402
from migrator.app.planning import plan_live, plan_offline  # noqa: E402
from migrator.aws.session import clients_made  # noqa: E402
from migrator.model import AnyStep, AuthMode, SetMode  # noqa: E402
from migrator.plan.planfile import load_plan, write_plan  # noqa: E402
from migrator.run.observer import StepStatus  # noqa: E402
from migrator.state.files import FileStore  # noqa: E402

ACCOUNT, OTHER = "111122223333", "444455556666"
READER = f"arn:aws:iam::{OTHER}:role/aws-auth-migrate-iam-reader"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
MAPPINGS, FEW = 2900, 290
LIVE_PRINCIPALS = 1000
CLUSTER = "planning"  # not bench/run.py's "bench": a run of that may hold its machine-wide lock
SWITCH_SECONDS = (2.5, 7.3, 13.1)  # not multiples of the poll waits, so the delays differ


# --- inputs --------------------------------------------------------------------------------------------


def _mapping(i: int) -> tuple[str, str, list[str]]:
    arn = f"arn:aws:iam::{ACCOUNT}:role/platform-{'p' if i % 2 else 'n'}-{i:04d}-wl"
    groups = ["readers", f"team-{i % 40:02d}-developers", *(["system:masters"] if i % 2 else [])]
    return arn, f"team-{i % 40:02d}:bench-{i:04d}:{{{{SessionName}}}}", groups


def aws_auth_text(mappings: int) -> str:
    """aws-auth as `kubectl get -o yaml` prints it after `kubectl apply`: 2,900 mappings are about 1 MiB."""
    rows = [_mapping(i) for i in range(mappings)]
    map_roles = "".join(
        f"- rolearn: {arn}\n  username: {user}\n  groups:\n" + "".join(f"  - {g}\n" for g in groups)
        for arn, user, groups in rows
    )
    applied = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system", "annotations": {}},
            "data": {"mapRoles": map_roles},
        },
        separators=(",", ":"),
    )
    body = "".join(f"    {line}\n" for line in map_roles.splitlines())
    return (
        f"apiVersion: v1\ndata:\n  mapRoles: |\n{body}kind: ConfigMap\nmetadata:\n  annotations:\n"
        f"    kubectl.kubernetes.io/last-applied-configuration: |\n      {applied}\n"
        '  creationTimestamp: "2026-01-05T10:00:00Z"\n  name: aws-auth\n  namespace: kube-system\n'
        '  resourceVersion: "123456"\n  uid: 0b3c7d9e-1a2b-4c5d-8e9f-0a1b2c3d4e5f\n'
    )


def live_scenario(principals: int, update_seconds: float = 2.0) -> str:
    """Roles with IAM paths, every other one in a second account (read through its reader role)."""
    roles = [(f"arn:aws:iam::{OTHER if i % 2 else ACCOUNT}:role", f"bench-{i:04d}") for i in range(principals)]
    mappings = "".join(
        f"          - rolearn: {prefix}/{name}\n            username: {name}\n            groups: [bench]\n"
        for prefix, name in roles
    )
    iam = "".join(f"    - arn: {prefix}/teams/t{i % 10}/{name}\n" for i, (prefix, name) in enumerate(roles))
    return (
        "schema: aws-auth-migrate/scenario/v1\nclusters:\n  - name: planning\n    region: us-east-1\n"
        f'    account: "{ACCOUNT}"\n    version: "1.31"\n    authenticationMode: CONFIG_MAP\n'
        "    awsAuth: |\n      apiVersion: v1\n      kind: ConfigMap\n"
        "      metadata: {name: aws-auth, namespace: kube-system}\n      data:\n        mapRoles: |\n"
        f"          - rolearn: {ADMIN}\n            username: admin\n            groups: [system:masters]\n"
        f"{mappings}iam:\n  roles:\n{iam}    - arn: {ADMIN}\n    - arn: {READER}\n"
        f"caller: {ADMIN}\nsimulation:\n  updateSeconds: {update_seconds}\n"
    )


# --- the sandbox in its own process --------------------------------------------------------------------


def _serve(scenario_text: str, pipe: Connection) -> None:
    """As bench/sandbox_process.py, and `updates` answers when each mode update finishes (epoch seconds)."""
    from collections import Counter

    from migrator.sandbox.scenario import parse_scenario
    from migrator.sandbox.server import Sandbox

    with Sandbox(parse_scenario(scenario_text, "bench-planning.yaml")) as sandbox:
        pipe.send(sandbox.env())
        while (command := pipe.recv()) != "stop":
            if command == "calls":
                pipe.send(dict(Counter(f"{c.service}:{c.operation}" for c in sandbox.calls())))
            elif command == "updates":
                updates = [u for c in sandbox.world.clusters.values() for u in c.updates.values()]
                pipe.send([u.finishes_at for u in updates])
        pipe.send("bye")


def _sandbox(text: str) -> AbstractContextManager[Connection]:
    return sandbox_process(text, _serve)


def _ask(pipe: Connection, command: str) -> Any:
    pipe.send(command)
    return pipe.recv()


# --- figures -------------------------------------------------------------------------------------------


def _best(times: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _offline(path: Path, out: Path) -> None:
    options = PlanOptions(target=AuthMode.API_AND_CONFIG_MAP, created_at="2026-01-01T00:00:00Z")
    plan = plan_offline(
        path, cluster=CLUSTER, region="us-east-1", account=None, mode=AuthMode.CONFIG_MAP, options=options
    )
    write_plan(plan, out)


def _bare_load(text: str) -> tuple[float, float]:
    def outer() -> Any:
        return YAML(typ="safe", pure=True).load(text)

    def with_map_roles() -> None:
        YAML(typ="safe", pure=True).load(outer()["data"]["mapRoles"])

    return _best(3, outer), _best(3, with_map_roles)


def offline_figures(folder: Path) -> dict[str, object]:
    text = aws_auth_text(MAPPINGS)
    source, plan_file = folder / "aws-auth.yaml", folder / "bench.plan.yaml"
    source.write_text(text)
    outer, bare = _bare_load(text)
    offline = _best(3, lambda: _offline(source, plan_file))
    few_source, few_plan = folder / "aws-auth-few.yaml", folder / "few.plan.yaml"
    few_source.write_text(aws_auth_text(FEW))
    _offline(few_source, few_plan)
    load_many = _best(3, lambda: load_plan(plan_file))
    load_few = _best(3, lambda: load_plan(few_plan))
    return {
        "mappings": MAPPINGS,
        "inputBytes": len(text.encode()),
        "bareYamlLoadSeconds": round(bare, 3),
        "bareOuterYamlLoadSeconds": round(outer, 3),
        "offlinePlanSeconds": round(offline, 3),
        "offlinePlanOverBareLoad": round(offline / bare, 2),
        "planBytes": plan_file.stat().st_size,
        "planOverInput": round(plan_file.stat().st_size / len(text.encode()), 2),
        "loadSeconds": round(load_many, 3),
        "loadSecondsAtFew": round(load_few, 3),
        "fewMappings": FEW,
        "loadLinearity": round(load_many / load_few / (MAPPINGS / FEW), 2),  # 1.0 = linear
    }


def live_plan_figures() -> dict[str, object]:
    with _sandbox(live_scenario(LIVE_PRINCIPALS)) as pipe:
        before = clients_made().get("iam", 0)
        access = ClusterAccess("us-east-1", iam_roles={OTHER: READER})
        started = time.perf_counter()
        plan = plan_live(CLUSTER, access, PlanOptions(target=AuthMode.API_AND_CONFIG_MAP), rbac=False)
        seconds = time.perf_counter() - started
        calls = _ask(pipe, "calls")
    with_path = sum(1 for e in plan.entries if "/teams/" in e.spec.principal_arn)
    iam_calls = sum(n for op, n in calls.items() if op.startswith("iam:"))
    return {
        "principals": LIVE_PRINCIPALS + 1,  # and the admin
        "entriesWithPath": with_path,
        "iamCalls": iam_calls,
        "iamCallsByOperation": {op: n for op, n in sorted(calls.items()) if op.startswith("iam:")},
        "iamClients": clients_made().get("iam", 0) - before,
        "accounts": 2,
        "seconds": round(seconds, 1),
    }


class _SwitchSeen:
    """Observer: when (epoch seconds) the executor reports the set-mode step done."""

    def __init__(self) -> None:
        self.at: float | None = None

    def on_start(self, total_steps: int) -> None:
        pass

    def on_step(self, step: AnyStep, status: StepStatus) -> None:
        if isinstance(step, SetMode) and status is StepStatus.DONE:
            self.at = time.time()

    def on_message(self, text: str) -> None:
        pass


def switch_delay(update_seconds: float) -> float:
    with _sandbox(live_scenario(4, update_seconds)) as pipe, tempfile.TemporaryDirectory() as folder:
        os.environ["AWS_AUTH_MIGRATE_LOCK_DIR"] = f"{folder}/locks"  # this run's own (the sandbox restores env)
        access = ClusterAccess("us-east-1", iam_roles={OTHER: READER})
        plan = plan_live(CLUSTER, access, PlanOptions(target=AuthMode.API_AND_CONFIG_MAP), rbac=False)
        gate = next(s for s in plan.steps if isinstance(s, SetMode))
        seen = _SwitchSeen()
        settings = RunSettings(approvals=frozenset({AuthMode.API_AND_CONFIG_MAP}), until=gate.id)  # default polling
        apply_plan(PlanRun.of(plan, FileStore(Path(folder))), connect_cluster(plan, access), settings, observer=seen)
        (finished,) = _ask(pipe, "updates")
    if seen.at is None:
        raise SystemExit("bench: the mode switch was not reported done")
    return seen.at - float(finished)


def help_seconds() -> float:
    command = [sys.executable, "-m", "migrator", "--help"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return _best(5, lambda: subprocess.run(command, env=env, capture_output=True, check=True))


def peak_rss_mb(folder: Path) -> float:
    """A fresh process plans 2,900 mappings offline and loads the plan back: its peak RSS."""
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from bench.planning import _offline; from bench.sandbox_process import peak_rss_kb; "
        "from migrator.plan.planfile import load_plan; "
        "_offline(Path(sys.argv[2]), Path(sys.argv[3])); load_plan(Path(sys.argv[3])); print(peak_rss_kb())"
    )
    source, out = folder / "rss-aws-auth.yaml", folder / "rss.plan.yaml"
    source.write_text(aws_auth_text(MAPPINGS))
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), str(source), str(out)], capture_output=True, text=True, check=True
    )
    return round(int(done.stdout.strip()) / 1024, 1)


def measure_planning() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        figures: dict[str, object] = {"offline": offline_figures(folder)}
        figures["livePlan"] = live_plan_figures()
        delays = [switch_delay(seconds) for seconds in SWITCH_SECONDS]
        figures["modeSwitchSeenAfterSeconds"] = {
            "worst": round(max(delays), 2),
            "bySwitchSeconds": {str(s): round(d, 2) for s, d in zip(SWITCH_SECONDS, delays, strict=True)},
        }
        figures["helpSeconds"] = round(help_seconds(), 3)
        figures["offlinePlanPeakRssMb"] = peak_rss_mb(folder)
    return figures


def print_planning(figures: dict[str, Any]) -> None:
    offline, live, switch = figures["offline"], figures["livePlan"], figures["modeSwitchSeenAfterSeconds"]
    mib = offline["inputBytes"] / 2**20
    print(f"planning ({offline['mappings']} mappings, {mib:.2f} MiB aws-auth):")
    ratio, seconds = offline["offlinePlanOverBareLoad"], offline["offlinePlanSeconds"]
    print(
        f"  offline plan / bare YAML load   {ratio:>6}x  ({seconds} s vs {offline['bareYamlLoadSeconds']} s;"
        f" the outer document alone {offline['bareOuterYamlLoadSeconds']} s)"
    )
    print(f"  plan file / input               {offline['planOverInput']:>6}x  ({offline['planBytes']} bytes)")
    print(
        f"  load+hash linearity             {offline['loadLinearity']:>6}   ({offline['loadSeconds']} s at "
        f"{offline['mappings']}, {offline['loadSecondsAtFew']} s at {offline['fewMappings']}; 1.0 = linear)"
    )
    print(
        f"  live plan, {live['principals']} principals     IAM calls {live['iamCalls']} for {live['principals']} "
        f"principals, IAM clients {live['iamClients']} for {live['accounts']} accounts ({live['seconds']} s)"
    )
    print(f"  mode switch seen after          {switch['worst']:>6} s  (worst of {switch['bySwitchSeconds']})")
    print(f"  --help                          {figures['helpSeconds']:>6} s")
    print(f"  peak RSS, offline plan + load   {figures['offlinePlanPeakRssMb']:>6} MB")


if __name__ == "__main__":
    measured = measure_planning()
    print_planning(measured)
    peak = peak_rss_kb() / 1024
    print(json.dumps({**measured, "benchProcessPeakRssMb": round(peak, 1)}, indent=2))
