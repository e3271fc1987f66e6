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

The second figure (`measure_one_account`) is the fleet under EKS's rate limit, which is per account and
region: 4 clusters of 60 principals in one account and region, 10 requests/s per operation (burst 20), as one
batch, against one cluster of that account holding all their principals (243 and its migrator role: as many
entries) applied alone. The account's limit bounds both alike, so 1.0 is ideal; what it shows is whether the
clusters share the account's pace or fight over it (440 s against 53 s before they shared it).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.sandbox_process import sandbox_process
from migrator.app.batch import BatchSettings, batch_apply, batch_plan
from migrator.aws.budget import forget_budgets
from migrator.fleet.inventory import InventoryCluster, parse_inventory
from migrator.fleet.report import BatchReport
from migrator.model import AuthMode
from migrator.run.settings import RunSettings
from migrator.run.steps import PollPolicy
from migrator.state.files import FileStore

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


def _aws_auth(account: str, principals: int = PRINCIPALS) -> str:
    migrator = f"arn:aws:iam::{account}:role/migrator"
    lines = [f"- rolearn: {migrator}\n  username: migrator:{{{{SessionName}}}}\n  groups: [system:masters]\n"]
    for i in range(principals):  # odd principals carry system:masters: one policy each
        arn = f"arn:aws:iam::{account}:role/bench-{i:03d}"
        groups = "bench, system:masters" if i % 2 else "bench"
        lines.append(f"- rolearn: {arn}\n  username: bench-{i}:{{{{SessionName}}}}\n  groups: [{groups}]\n")
    body = "".join(lines)
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n" + (
        "  mapRoles: |\n" + "".join(f"    {line}\n" for line in body.splitlines())
    )


# (name, account, region, principals) of each cluster a scenario holds
_Placed = tuple[str, str, str, int]


def _fleet() -> list[_Placed]:
    return [(name, *_placement(i), PRINCIPALS) for copy in ("alone", "batch") for i, name in enumerate(_names(copy))]


def _scenario(clusters: list[_Placed], simulation: str = "") -> str:
    text = ""
    for name, account, region, principals in clusters:
        aws_auth = "".join(f"      {line}\n" for line in _aws_auth(account, principals).splitlines())
        text += (
            f'  - name: {name}\n    region: {region}\n    account: "{account}"\n    version: "1.31"\n'
            f"    authenticationMode: CONFIG_MAP\n    awsAuth: |\n{aws_auth}"
        )
    most = max(principals for *_, principals in clusters)
    roles = [f"arn:aws:iam::{a}:role/{n}" for a in ACCOUNTS for n in ("migrator", *_bench_roles(most))]
    return (
        f"schema: aws-auth-migrate/scenario/v1\nclusters:\n{text}iam:\n  roles:\n"
        + "".join(f"    - arn: {arn}\n" for arn in [*roles, CALLER])
        + f"caller: {CALLER}\nsimulation:\n  updateSeconds: {UPDATE_SECONDS}\n  latencyMs: {LATENCY_MS}\n"
        + simulation
    )


def scenario_text() -> str:
    return _scenario(_fleet())


def _bench_roles(count: int) -> list[str]:
    return [f"bench-{i:03d}" for i in range(count)]


def _inventory(clusters: list[_Placed]) -> tuple[InventoryCluster, ...]:
    lines = "".join(
        f'  - {{name: {name}, account: "{account}", region: {region}}}\n' for name, account, region, _ in clusters
    )
    text = (
        "schema: aws-auth-migrate/inventory/v1\n"
        'defaults: {target: API_AND_CONFIG_MAP, roleArn: "arn:aws:iam::{account}:role/migrator"}\n'
        f"clusters:\n{lines}"
    )
    return parse_inventory(text, "bench-fleet.yaml").clusters


def inventory() -> tuple[InventoryCluster, ...]:
    return _inventory(_fleet())


def _checked(report: BatchReport) -> BatchReport:
    failed = [f"{c.name}: {c.outcome.value} {c.message}" for c in report.clusters if not c.ok]
    if failed:
        raise SystemExit("bench: fleet clusters did not reach API_AND_CONFIG_MAP:\n" + "\n".join(failed))
    return report


def _settings(folder: str) -> BatchSettings:
    return BatchSettings(
        state=FileStore(Path(folder)),
        # as bench/run.py: the wait is EKS's
        run=RunSettings(
            approvals=frozenset({AuthMode.API_AND_CONFIG_MAP}), poll=PollPolicy(initial_seconds=1.0, max_seconds=2.0)
        ),
        max_parallel=MAX_PARALLEL,
        account_budget=ACCOUNT_BUDGET,
    )


def measure_fleet() -> dict[str, object]:
    clusters = inventory()
    alone = [c for c in clusters if c.name.startswith("alone-")]
    fleet = [c for c in clusters if c.name.startswith("batch-")]
    with sandbox_process(scenario_text()), tempfile.TemporaryDirectory() as folder:
        settings = _settings(folder)
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


SHARING, SHARED_PRINCIPALS, TPS, BURST = 4, 60, 10, 20


def one_account_clusters() -> tuple[list[_Placed], _Placed]:
    """4 clusters of one account and region, and one cluster of that account with all their principals."""
    account, region = ACCOUNTS[0], REGIONS[0]
    shared = [(f"shared-{i}", account, region, SHARED_PRINCIPALS) for i in range(SHARING)]
    together = ("together", account, region, SHARING * SHARED_PRINCIPALS + SHARING - 1)  # and 1 migrator role
    return shared, together


def one_account_scenario() -> str:
    shared, together = one_account_clusters()
    return _scenario([*shared, together], f"  rateLimit: {{tps: {TPS}, burst: {BURST}}}\n")


def measure_one_account() -> dict[str, object]:
    shared, together = one_account_clusters()
    clusters = _inventory([*shared, together])
    with sandbox_process(one_account_scenario()), tempfile.TemporaryDirectory() as folder:
        settings = _settings(folder)
        _checked(batch_plan(clusters, settings))
        # Each timed run starts as a fresh process would: every operation's burst back at the sandbox, and
        # no pace learned by the client (the account's budget is process-wide, and outlives a run).
        time.sleep(BURST / TPS)
        forget_budgets()
        started = time.perf_counter()
        _checked(batch_apply([c for c in clusters if c.name == "together"], settings))
        one_seconds = time.perf_counter() - started
        time.sleep(BURST / TPS)
        forget_budgets()
        started = time.perf_counter()
        _checked(batch_apply([c for c in clusters if c.name != "together"], settings))
        batch_seconds = time.perf_counter() - started
    return {
        "clusters": SHARING,
        "principalsPerCluster": SHARED_PRINCIPALS,
        "oneClusterPrincipals": together[3],
        "tps": TPS,
        "burst": BURST,
        "batchSeconds": round(batch_seconds, 1),
        "oneClusterSeconds": round(one_seconds, 1),
        "ratio": round(batch_seconds / one_seconds, 2),
    }


def describe_one_account(row: dict[str, object]) -> str:
    return (
        f"fleet, one account at {row['tps']} req/s per operation: {row['clusters']} clusters x "
        f"{row['principalsPerCluster']} principals / one cluster of {row['oneClusterPrincipals']}: {row['ratio']}x "
        f"({row['batchSeconds']} s vs {row['oneClusterSeconds']} s)"
    )


def describe(row: dict[str, object]) -> str:
    return (
        f"fleet: {row['clusters']} clusters x {row['principalsPerCluster']} principals, --max-parallel "
        f"{row['maxParallel']}: batch / slowest cluster {row['ratio']}x ({row['batchSeconds']} s vs "
        f"{row['slowestClusterSeconds']} s)"
    )
