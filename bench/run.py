"""`make bench`: how close apply gets to what the migration needs, as ratios measured in one run.

Each measurement starts a fresh sandbox in its own process (bench/sandbox_process.py) whose EKS answers
after a simulated round trip, plans the cluster live, and times the apply use case from CONFIG_MAP to
API_AND_CONFIG_MAP: the first mode switch, then one entry per principal (half of them with one policy:
their aws-auth groups hold system:masters), then verify. Reported per size:

- ours / floor under a per-operation rate limit. The floor counts only the calls the migration *needs*:
  one CreateAccessEntry per entry and one AssociateAccessPolicy per policy (each operation has its own
  budget in the sandbox, as in EKS, so the busiest sets the pace; its burst is free), plus the mode
  switch's own duration. Nothing we add (describes, listings, retries) is in the floor.
- sequential / ours without a rate limit (what bounded concurrency buys);
- calls per principal by operation, from the sandbox's recorder (what it was asked, not what we think we
  sent), for principals without and with a policy, in the run without a rate limit (no throttled retries);
- peak RSS of the client (this process, so it grows with the sizes run before) and of the sandbox.

Then the state figure (bench/state.py): the rate-limited apply with its run state in S3 / in a local folder, at
1,000 principals (issue 21: <= 1.1x), and the S3 calls per principal.

`--quick` runs 100 principals only (a couple of minutes); `--sizes` picks others (default 100, 1,000 and 2,900;
`--sizes ''` none: with `--no-planning --no-fleet`, the state figure alone), `--state-principals` the state
figure's size. bench/results.json gets the figures, the machine, the date and the commit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fleet import describe as describe_fleet  # noqa: E402
from bench.fleet import describe_one_account, measure_fleet, measure_one_account  # noqa: E402
from bench.planning import measure_planning, print_planning  # noqa: E402
from bench.sandbox_process import peak_rss_kb, sandbox_process  # noqa: E402
from bench.state import StateMaker, describe_state, file_state, measure_state  # noqa: E402
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
from migrator.run.journal import Record  # noqa: E402
from migrator.run.steps import PollPolicy  # noqa: E402

ACCOUNT = "111122223333"
LATENCY_MS = 50
TPS, BURST = 10, 20
UPDATE_SECONDS = 2.0
CONCURRENCY = 8
RESULTS = ROOT / "bench" / "results.json"


def _role(i: int) -> str:
    # Odd principals carry system:masters: one policy each (AmazonEKSClusterAdminPolicy).
    return f"arn:aws:iam::{ACCOUNT}:role/bench-{'p' if i % 2 else 'n'}-{i:04d}"


def scenario_text(principals: int, simulation: str) -> str:
    roles = [_role(i) for i in range(principals)]
    mappings = "".join(
        f"          - rolearn: {arn}\n            username: bench-{i}:{{{{SessionName}}}}\n"
        f"            groups: [bench{', system:masters' if i % 2 else ''}]\n"
        for i, arn in enumerate(roles)
    )
    admin = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    return (
        "schema: aws-auth-migrate/scenario/v1\nclusters:\n  - name: bench\n    region: us-east-1\n"
        f'    account: "{ACCOUNT}"\n    version: "1.31"\n    authenticationMode: CONFIG_MAP\n'
        "    awsAuth: |\n      apiVersion: v1\n      kind: ConfigMap\n"
        "      metadata: {name: aws-auth, namespace: kube-system}\n      data:\n        mapRoles: |\n"
        f"          - rolearn: {admin}\n            username: admin\n            groups: [system:masters]\n"
        f"{mappings}iam:\n  roles:\n" + "".join(f"    - arn: {arn}\n" for arn in [*roles, admin]) + f"caller: {admin}\n"
        f"simulation:\n  updateSeconds: {UPDATE_SECONDS}\n  {simulation}\n"
    )


@dataclass(frozen=True)
class Measured:
    seconds: float
    calls: dict[tuple[str, str, str], int]
    sandbox_rss_kb: int
    phases: dict[str, float]  # seconds of each part of apply, from its journal


def phases_of(records: Sequence[Record], started: float, ended: float) -> dict[str, float]:
    """Where apply's time went, from the journal's timestamps: before the first step (the lock, and planning
    the cluster again: aws-auth, IAM paths), the mode switch, the entries (every principal's unit), verify."""

    def at(record: Record) -> float:
        return datetime.fromisoformat(record.at.replace("Z", "+00:00")).timestamp()

    def span(part: str) -> tuple[float, float]:
        times = [at(r) for r in records if part in (r.step or "")]
        return min(times), max(times)

    switch, verify = span("-set-mode"), span("-verify")
    first_step = min(at(r) for r in records if r.step)
    return {
        "beforeTheFirstStep": round(first_step - started, 2),
        "modeSwitch": round(switch[1] - switch[0], 2),
        "entries": round(verify[0] - switch[1], 2),
        "verify": round(verify[1] - verify[0], 2),
        "after": round(ended - verify[1], 2),
    }


def timed_apply(text: str, concurrency: int, state: StateMaker = file_state) -> Measured:
    """`state`: where the run keeps its journal, backup (and, in S3, the cluster's lock object)."""
    with sandbox_process(text) as pipe, tempfile.TemporaryDirectory() as folder:
        access = ClusterAccess("us-east-1")
        plan = plan_live("bench", access, PlanOptions(target=AuthMode.API_AND_CONFIG_MAP))
        ports = connect_cluster(plan, access)
        store = state(Path(folder))
        pipe.send("calls")
        pipe.recv()  # the plan's reads are not apply's
        # Poll the mode update as often as EKS could answer: the wait itself is in the floor.
        settings = RunSettings(
            approvals=frozenset({AuthMode.API_AND_CONFIG_MAP}),
            max_concurrency=concurrency,
            poll=PollPolicy(initial_seconds=1.0, max_seconds=2.0),
        )
        started, wall = time.perf_counter(), time.time()
        run = PlanRun.of(plan, store)
        report = apply_plan(run, ports, settings)
        elapsed, ended = time.perf_counter() - started, time.time()
        pipe.send("calls")
        calls = pipe.recv()  # before the journal is read back for the phases (S3: GETs that are not apply's)
        phases = phases_of(run.journal.read().records, wall, ended)
        pipe.send("rss")
        rss = pipe.recv()
    if report.result.value != "completed":
        raise SystemExit(f"bench: the apply did not complete: {report.message}")
    return Measured(elapsed, calls, rss, phases)


def per_principal(calls: dict[tuple[str, str, str], int], principals: int) -> dict[str, dict[str, float]]:
    """Calls per principal by operation, for principals without (`n`) and with one policy (`p`). Calls that
    name no bench principal (the mode switch, listings, aws-auth reads) are spread over all principals."""
    groups: dict[str, Counter[str]] = {"withoutPolicy": Counter(), "withOnePolicy": Counter(), "shared": Counter()}
    for (service, operation, principal), count in calls.items():
        name = f"{service}:{operation}"
        if "/bench-n-" in principal:
            groups["withoutPolicy"][name] += count
        elif "/bench-p-" in principal:
            groups["withOnePolicy"][name] += count
        else:
            groups["shared"][name] += count
    without, with_policy = (principals + 1) // 2, principals // 2
    return {
        "withoutPolicy": {k: round(v / without, 2) for k, v in sorted(groups["withoutPolicy"].items())},
        "withOnePolicy": {k: round(v / max(with_policy, 1), 2) for k, v in sorted(groups["withOnePolicy"].items())},
        "sharedPerPrincipal": {k: round(v / principals, 3) for k, v in sorted(groups["shared"].items())},
    }


def floor_seconds(principals: int) -> float:
    """What no client can beat under the rate limit: the mode switch's duration, then the busiest needed
    operation's calls beyond its burst at TPS (creates and associations have separate budgets)."""
    needed = {"CreateAccessEntry": principals, "AssociateAccessPolicy": principals // 2}
    return UPDATE_SECONDS + max(max(count - BURST, 0) / TPS for count in needed.values())


LIMITED = f"latencyMs: {LATENCY_MS}\n  rateLimit: {{tps: {TPS}, burst: {BURST}}}"


def measure(principals: int) -> dict[str, object]:
    latency = f"latencyMs: {LATENCY_MS}"
    sequential = timed_apply(scenario_text(principals, latency), 1)
    ours = timed_apply(scenario_text(principals, latency), CONCURRENCY)
    ours_limited = timed_apply(scenario_text(principals, LIMITED), CONCURRENCY)
    floor = floor_seconds(principals)
    recorded_limited = sum(ours_limited.calls.values())
    return {
        "principals": principals,
        "oursLimitedSeconds": round(ours_limited.seconds, 1),
        "floorSeconds": round(floor, 1),
        "oursOverFloor": round(ours_limited.seconds / floor, 2),
        "sequentialSeconds": round(sequential.seconds, 1),
        "oursSeconds": round(ours.seconds, 1),
        "sequentialOverOurs": round(sequential.seconds / ours.seconds, 2),
        # The part concurrency can speed up: every principal's unit, between the switch and verify.
        "entriesSequentialOverOurs": round(sequential.phases["entries"] / ours.phases["entries"], 2),
        "phases": {"sequential": sequential.phases, "ours": ours.phases, "oursLimited": ours_limited.phases},
        "callsPerPrincipal": per_principal(ours.calls, principals),
        "throttledRetries": recorded_limited - sum(ours.calls.values()),
        "clientPeakRssMb": round(peak_rss_kb() / 1024, 1),
        "sandboxPeakRssMb": round(ours_limited.sandbox_rss_kb / 1024, 1),
    }


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def _print(row: dict[str, object]) -> None:
    print(f"{row['principals']} principals (round trip {LATENCY_MS} ms, {TPS} req/s per operation, burst {BURST}):")
    limited, floor = row["oursLimitedSeconds"], row["floorSeconds"]
    print(f"  ours / floor        {row['oursOverFloor']:>6}x  ({limited} s vs {floor} s)")
    sequential, ours = row["sequentialSeconds"], row["oursSeconds"]
    print(f"  sequential / ours   {row['sequentialOverOurs']:>6}x  ({sequential} s vs {ours} s)")
    print(f"    entries alone     {row['entriesSequentialOverOurs']:>6}x")
    phases = row["phases"]
    assert isinstance(phases, dict)
    for name, parts in phases.items():
        print(f"    {name:<17} " + ", ".join(f"{part} {seconds} s" for part, seconds in parts.items()))
    calls = row["callsPerPrincipal"]
    assert isinstance(calls, dict)
    for group, by_operation in calls.items():
        total = sum(by_operation.values())
        listed = ", ".join(f"{op.split(':')[1]} {n}" for op, n in by_operation.items())
        print(f"  calls/principal {group:<18} {total:5.2f}  ({listed})")
    print(f"  throttled retries   {row['throttledRetries']}")
    print(f"  peak RSS            client {row['clientPeakRssMb']} MB, sandbox {row['sandboxPeakRssMb']} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 principals only (a couple of minutes)")
    parser.add_argument("--sizes", default="100,1000,2900", help="comma-separated principal counts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--planning", action=argparse.BooleanOptionalAction, default=True, help="bench/planning.py")
    parser.add_argument("--fleet", action=argparse.BooleanOptionalAction, default=True, help="the fleet figure")
    parser.add_argument("--state", action=argparse.BooleanOptionalAction, default=True, help="bench/state.py")
    parser.add_argument("--state-principals", type=int, default=1000, help="the state figure's size (--quick: 100)")
    args = parser.parse_args()
    sizes = [100] if args.quick else sorted(int(s) for s in args.sizes.split(",") if s.strip())
    rows = []
    for size in sizes:
        rows.append(measure(size))
        _print(rows[-1])
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": asdict(_Settings()),
        "sizes": rows,
        "fleet": measure_fleet() if args.fleet else None,  # bench/fleet.py: batch time / slowest cluster
        # bench/fleet.py: one account's clusters under its rate limit / one cluster with all their principals
        "fleetOneAccount": measure_one_account() if args.fleet else None,
        # bench/state.py: the rate-limited apply with S3 state / with file state
        "state": measure_state_at(100 if args.quick else args.state_principals) if args.state else None,
    }
    if args.planning:
        results["planning"] = measure_planning()
        print_planning(results["planning"])
    if results["fleet"]:
        print(describe_fleet(results["fleet"]))
        print(describe_one_account(results["fleetOneAccount"]))
    if results["state"]:
        print(describe_state(results["state"]))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"bench: wrote {args.out}")


def measure_state_at(principals: int) -> dict[str, object]:
    text = scenario_text(principals, LIMITED)
    return measure_state(principals, lambda state: timed_apply(text, CONCURRENCY, state), cluster="bench")


@dataclass(frozen=True)
class _Settings:
    latencyMs: int = LATENCY_MS
    tps: int = TPS
    burst: int = BURST
    updateSeconds: float = UPDATE_SECONDS
    concurrency: int = CONCURRENCY


if __name__ == "__main__":
    main()
