"""`make bench`'s fleet figure: how long a batch of clusters takes against its slowest cluster run alone.

One sandbox in its own process (as EKS is: it must not share our interpreter lock), EKS answering after
50 ms, mode updates of 2 s, serves two copies of an 8-cluster fleet (two accounts, two regions, ~50
principals per cluster, half of them with one access policy). Every cluster is planned first (not timed).
Then each cluster of the first copy is applied alone, through the same batch use case with one cluster
(plan check, first mode switch, entries, verify), and the second copy is applied as one batch with
`--max-parallel 8`. Two identical copies keep every run on clusters nobody touched before.

- `batchSeconds`: the whole batch, wall clock;
- `slowestClusterSeconds`: the slowest of the clusters applied alone;
- `ratio`: batch / slowest. 1.0 is ideal: the fleet takes as long as its slowest member. What it adds is
  this client's own cost of running the clusters side by side (one interpreter for all of them) and the
  per-account EKS budget (`--account-budget`, 16 requests in flight per account) the clusters of an account
  share.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.sandbox_process import sandbox_process
from migrator.app.batch import BatchSettings, batch_apply, batch_plan
from migrator.fleet.inventory import InventoryCluster, parse_inventory
from migrator.fleet.report import BatchReport
from migrator.model import AuthMode
from migrator.run.steps import PollPolicy

ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("us-east-1", "eu-west-1")
CLUSTERS = 8
PRINCIPALS = 50
LATENCY_MS = 50
UPDATE_SECONDS = 2.0
MAX_PARALLEL = 8
ACCOUNT_BUDGET = 16
CALLER = f"arn:aws:iam::{ACCOUNTS[0]}:role/Admin"


def _placement(index: int) -> tuple[str, str]:
    """Clusters spread evenly: alternate accounts, regions every two clusters."""
    return ACCOUNTS[index % 2], REGIONS[(index // 2) % 2]


def _names(copy: str) -> list[str]:
    return [f"{copy}-{i:02d}" for i in range(CLUSTERS)]


def _aws_auth(account: str) -> str:
    migrator = f"arn:aws:iam::{account}:role/migrator"
    lines = [f"- rolearn: {migrator}\n  username: migrator:{{{{SessionName}}}}\n  groups: [system:masters]\n"]
    for i in range(PRINCIPALS):  # odd principals carry system:masters: one policy each
        arn = f"arn:aws:iam::{account}:role/bench-{i:03d}"
        groups = "bench, system:masters" if i % 2 else "bench"
        lines.append(f"- rolearn: {arn}\n  username: bench-{i}:{{{{SessionName}}}}\n  groups: [{groups}]\n")
    body = "".join(lines)
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n" + (
        "  mapRoles: |\n" + "".join(f"    {line}\n" for line in body.splitlines())
    )


def scenario_text() -> str:
    clusters = ""
    for copy in ("alone", "batch"):
        for index, name in enumerate(_names(copy)):
            account, region = _placement(index)
            aws_auth = "".join(f"      {line}\n" for line in _aws_auth(account).splitlines())
            clusters += (
                f'  - name: {name}\n    region: {region}\n    account: "{account}"\n    version: "1.31"\n'
                f"    authenticationMode: CONFIG_MAP\n    awsAuth: |\n{aws_auth}"
            )
    roles = [f"arn:aws:iam::{a}:role/{n}" for a in ACCOUNTS for n in ("migrator", *_bench_roles())]
    return (
        f"schema: aws-auth-migrate/scenario/v1\nclusters:\n{clusters}iam:\n  roles:\n"
        + "".join(f"    - arn: {arn}\n" for arn in [*roles, CALLER])
        + f"caller: {CALLER}\nsimulation:\n  updateSeconds: {UPDATE_SECONDS}\n  latencyMs: {LATENCY_MS}\n"
    )


def _bench_roles() -> list[str]:
    return [f"bench-{i:03d}" for i in range(PRINCIPALS)]


def inventory() -> tuple[InventoryCluster, ...]:
    lines = "".join(
        f'  - {{name: {name}, account: "{_placement(i)[0]}", region: {_placement(i)[1]}}}\n'
        for copy in ("alone", "batch")
        for i, name in enumerate(_names(copy))
    )
    text = (
        "schema: aws-auth-migrate/inventory/v1\n"
        'defaults: {target: API_AND_CONFIG_MAP, roleArn: "arn:aws:iam::{account}:role/migrator"}\n'
        f"clusters:\n{lines}"
    )
    return parse_inventory(text, "bench-fleet.yaml").clusters


def _checked(report: BatchReport) -> BatchReport:
    failed = [f"{c.name}: {c.outcome.value} {c.message}" for c in report.clusters if not c.ok]
    if failed:
        raise SystemExit("bench: fleet clusters did not reach API_AND_CONFIG_MAP:\n" + "\n".join(failed))
    return report


def measure_fleet() -> dict[str, object]:
    clusters = inventory()
    alone = [c for c in clusters if c.name.startswith("alone-")]
    fleet = [c for c in clusters if c.name.startswith("batch-")]
    with sandbox_process(scenario_text()), tempfile.TemporaryDirectory() as folder:
        settings = BatchSettings(
            out_dir=Path(folder),
            approvals=frozenset({AuthMode.API_AND_CONFIG_MAP}),
            max_parallel=MAX_PARALLEL,
            account_budget=ACCOUNT_BUDGET,
            poll=PollPolicy(initial_seconds=1.0, max_seconds=2.0),  # as bench/run.py: the wait is EKS's
        )
        _checked(batch_plan(clusters, settings))
        singles = []
        for cluster in alone:
            started = time.perf_counter()
            _checked(batch_apply([cluster], settings))
            singles.append(time.perf_counter() - started)
        started = time.perf_counter()
        _checked(batch_apply(fleet, settings))
        batch_seconds = time.perf_counter() - started
    slowest = max(singles)
    return {
        "clusters": CLUSTERS,
        "principalsPerCluster": PRINCIPALS,
        "accounts": len(ACCOUNTS),
        "regions": len(REGIONS),
        "maxParallel": MAX_PARALLEL,
        "accountBudget": ACCOUNT_BUDGET,
        "latencyMs": LATENCY_MS,
        "updateSeconds": UPDATE_SECONDS,
        "batchSeconds": round(batch_seconds, 1),
        "slowestClusterSeconds": round(slowest, 1),
        "clusterSeconds": [round(s, 1) for s in singles],
        "ratio": round(batch_seconds / slowest, 2),
    }


def describe(row: dict[str, object]) -> str:
    return (
        f"fleet: {row['clusters']} clusters x {row['principalsPerCluster']} principals, --max-parallel "
        f"{row['maxParallel']}: batch / slowest cluster {row['ratio']}x ({row['batchSeconds']} s vs "
        f"{row['slowestClusterSeconds']} s)"
    )
