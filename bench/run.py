"""`make bench`: how fast apply migrates principals, as ratios measured in one run (never lone times).

Each measurement starts a fresh sandbox whose EKS answers after a simulated network round trip, plans the
cluster live, and times the apply use case for the entry phase (the cluster already reads entries, so no mode
switch pads the numbers). Reported:
- ours (bounded concurrency) vs sequential (--max-concurrency 1);
- ours vs the rate-limit floor: with a per-operation rate limit, no client can create N entries faster
  than N / tps seconds, however concurrent it is.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migrator.app import (  # noqa: E402
    ClusterAccess,
    PlanOptions,
    PlanRun,
    RunSettings,
    apply_plan,
    connect_cluster,
    plan_live,
)
from migrator.model import AuthMode  # noqa: E402
from migrator.run.steps import PollPolicy  # noqa: E402
from migrator.sandbox.scenario import parse_scenario  # noqa: E402

ACCOUNT = "111122223333"
PRINCIPALS = 120
LATENCY_MS = 25


def scenario_text(principals: int, simulation: str) -> str:
    roles = [f"arn:aws:iam::{ACCOUNT}:role/bench-{i:03d}" for i in range(principals)]
    entry = (
        "          - rolearn: {arn}\n            username: bench-{i}:{{{{SessionName}}}}\n            groups: [bench]\n"
    )
    mappings = "".join(entry.format(arn=arn, i=i) for i, arn in enumerate(roles))
    admin = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    text = (
        "schema: aws-auth-migrate/scenario/v1\nclusters:\n  - name: bench\n    region: us-east-1\n"
        f'    account: "{ACCOUNT}"\n    version: "1.31"\n    authenticationMode: API_AND_CONFIG_MAP\n'
        f"    accessEntries:\n      - principalArn: {admin}\n        policies: "
        "[{policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy'}]\n"
        "    awsAuth: |\n      apiVersion: v1\n      kind: ConfigMap\n"
        "      metadata: {name: aws-auth, namespace: kube-system}\n      data:\n        mapRoles: |\n"
        f"{mappings}iam:\n  roles:\n" + "".join(f"    - arn: {arn}\n" for arn in [*roles, admin]) + f"caller: {admin}\n"
        f"simulation:\n  {simulation}\n"
    )
    parse_scenario(text, "bench-scenario.yaml")  # fail here, clearly, if the generator breaks
    return text


def timed_apply(text: str, concurrency: int) -> tuple[float, Counter[str]]:
    """Seconds the apply took, and its successful EKS calls per operation. The sandbox runs in its own
    process, as a real EKS would, so it does not share this process's interpreter lock."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as folder:
        scenario_file, pid_file = Path(folder) / "scenario.yaml", Path(folder) / "sandbox.pid"
        scenario_file.write_text(text)
        serve = [sys.executable, "-m", "migrator", "sandbox", "serve", str(scenario_file), "--background"]
        exports = subprocess.run([*serve, "--pid-file", str(pid_file)], capture_output=True, text=True, check=True)
        try:
            for line in exports.stdout.splitlines():
                key, _, value = line.removeprefix("export ").partition("=")
                os.environ[key] = shlex.split(value)[0]
            access = ClusterAccess("us-east-1")
            plan = plan_live("bench", access, PlanOptions(target=AuthMode.API_AND_CONFIG_MAP))
            ports = connect_cluster(plan, access)
            calls: Counter[str] = Counter()
            # botocore's public event hooks: count each operation that succeeded (retries are not calls).
            eks_client = ports.eks._eks  # type: ignore[attr-defined]
            eks_client.meta.events.register("after-call.eks", lambda model, **_: calls.update([model.name]))
            settings = RunSettings(max_concurrency=concurrency, poll=PollPolicy())
            started = time.perf_counter()
            report = apply_plan(PlanRun.of(plan, Path(folder)), ports, settings)
            elapsed = time.perf_counter() - started
        finally:
            os.environ.clear()
            os.environ.update(saved)
            subprocess.run([sys.executable, "-m", "migrator", "sandbox", "stop", "--pid-file", str(pid_file)],
                           capture_output=True, check=False)  # fmt: skip
    if report.result.value != "completed":
        raise SystemExit(f"bench: the apply did not complete: {report.message}")
    return elapsed, calls


def main() -> None:
    latency = f"latencyMs: {LATENCY_MS}"
    sequential, _ = timed_apply(scenario_text(PRINCIPALS, latency), 1)
    ours, _ = timed_apply(scenario_text(PRINCIPALS, latency), 8)
    tps, burst = 10, 10
    limited = f"{latency}\n  rateLimit: {{tps: {tps}, burst: {burst}}}"
    ours_limited, calls = timed_apply(scenario_text(PRINCIPALS, limited), 8)
    # The sandbox limits each operation separately: the busiest one sets the floor (its burst is free).
    busiest, count = calls.most_common(1)[0]
    floor = max(count - burst, 0) / tps
    print(f"bench: {PRINCIPALS} principals, EKS round trip {LATENCY_MS} ms, {os.cpu_count()} cores")
    print(f"  ours (concurrency 8) vs sequential:           {sequential / ours:5.2f}x faster")
    print(
        f"  ours under {tps} tps per operation vs the floor: {ours_limited / floor:5.2f}x the floor "
        f"(1.00 is ideal; the floor is {count} {busiest} calls at {tps}/s)"
    )


if __name__ == "__main__":
    main()
