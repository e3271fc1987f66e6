"""The full rehearsal behind `make demo`: serve a scenario, plan, apply through both gates with the real CLI,
and prove with identity probes that every mapped principal is who it was before.

The CLI runs as subprocesses against the sandbox over HTTP, exactly as a user would run it; the probes
authenticate as each principal (credentials only a simulator can mint for users) and ask the cluster.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import RemoteError
from migrator.files import private_dir
from migrator.rules.arn import ArnError, PrincipalKind, parse_arn
from migrator.rules.identity import EC2_NODE_USERNAME, SESSION_NODE_USERNAME
from migrator.sandbox.scenario import Scenario, ScenarioCluster
from migrator.sandbox.server import Sandbox
from migrator.wiring.probe import PROBE_SESSION_NAME, IdentityProbe, ObservedIdentity, observed, same_identity


@dataclass(frozen=True)
class WhoIsWho:
    principal_arn: str
    before: ObservedIdentity | None  # None: not authenticated
    after: ObservedIdentity | None
    node: bool
    # The cluster creator, mapped in aws-auth too: its hidden bootstrap mapping (cluster-admin) won over aws-auth,
    # and at the switch EKS gives it an admin entry of its own, which apply keeps (docs/reference/apply.md).
    creator: bool = False

    @property
    def same(self) -> bool:
        return same_identity(self.before, self.after, node=self.node)

    @property
    def kept(self) -> bool:
        """The same identity; for the creator, cluster-admin before and after (EKS chose its new username)."""
        if self.creator:
            return bool(self.before and self.after and self.before.cluster_admin and self.after.cluster_admin)
        return self.same


@dataclass(frozen=True)
class DemoResult:
    rows: tuple[WhoIsWho, ...]
    plan_file: Path
    workdir: Path

    @property
    def all_same(self) -> bool:
        return all(row.kept for row in self.rows)


def mapped_principals(cluster: ScenarioCluster, scenario: Scenario) -> list[tuple[str, bool]]:
    """(real ARN, is a node mapping) for every aws-auth mapping whose principal exists in the scenario's IAM."""
    known = {parse_arn(arn).lookup_key: arn for arn in (*scenario.roles, *scenario.users)}
    found: dict[str, tuple[str, bool]] = {}
    for mapping in cluster.aws_auth.mappings if cluster.aws_auth else ():
        try:
            arn = parse_arn(mapping.arn)
        except ArnError:
            continue
        if mapping.sso or arn.kind not in (PrincipalKind.ROLE, PrincipalKind.USER) or arn.lookup_key not in known:
            continue
        node = mapping.username in (EC2_NODE_USERNAME, SESSION_NODE_USERNAME)
        found.setdefault(arn.lookup_key, (known[arn.lookup_key], node))
    return sorted(found.values())


def probes_for(
    sandbox: Sandbox, cluster: ScenarioCluster, principals: Sequence[tuple[str, bool]]
) -> list[IdentityProbe]:
    return [
        IdentityProbe(
            sandbox.credentials_for(arn, PROBE_SESSION_NAME),
            cluster=cluster.name,
            region=cluster.region,
            endpoint=sandbox.kube_url(cluster),
            ca_data=sandbox.ca_data,
        )
        for arn, _node in principals
    ]


def probe_all(
    sandbox: Sandbox,
    cluster: ScenarioCluster,
    principals: Sequence[tuple[str, bool]],
    probes: Sequence[IdentityProbe],
) -> list[ObservedIdentity | None]:
    """Each principal's identity as the cluster reports it now, access policies counted."""
    from migrator.aws.eks import BotoEksGateway
    from migrator.aws.session import session_from_credentials

    eks = BotoEksGateway(session_from_credentials(sandbox.caller_credentials(), cluster.region), cluster.name)
    reads_entries = eks.describe_cluster().mode.reads_entries
    results: list[ObservedIdentity | None] = []
    for (arn, _node), probe in zip(principals, probes, strict=True):
        review = probe.review()
        entry = eks.describe_entry(arn) if reads_entries and review is not None else None
        results.append(observed(review, entry.policies if entry else ()) if review is not None else None)
    return results


@contextlib.contextmanager
def _pointed_at(sandbox: Sandbox) -> Iterator[None]:
    """Point this process (the probes) and its children (the CLI) at the sandbox, as `eval "$(sandbox serve)"`
    points a shell; the environment is restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(sandbox.env())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_demo(
    scenario: Scenario,
    *,
    cluster_name: str | None,
    workdir: Path,
    iam_role_args: Sequence[str] = (),  # `--iam-role ACCOUNT=ROLE` pairs, for plan and apply alike
    say: Callable[[str], None] = print,
    show: Callable[[str], None] = print,
) -> DemoResult:
    cluster = scenario.cluster(cluster_name) if cluster_name else scenario.clusters[0]
    principals = mapped_principals(cluster, scenario)
    with Sandbox(scenario) as sandbox, _pointed_at(sandbox):
        env = dict(os.environ)

        def cli(*args: str) -> str:
            command = [sys.executable, "-m", "migrator", *args]
            say(f"$ aws-auth-migrate {' '.join(args)}")
            done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, check=False)
            if done.stderr:
                say(done.stderr.rstrip())
            if done.returncode != 0:
                raise RemoteError(f"`aws-auth-migrate {args[0]}` exited {done.returncode}")
            return done.stdout

        say(f"sandbox: cluster {cluster.name} ({cluster.mode.value}) on {sandbox.endpoint_url}")
        say(f"probing {len(principals)} mapped principals before the migration (SelfSubjectReview as each)")
        probes = probes_for(sandbox, cluster, principals)
        before = probe_all(sandbox, cluster, principals, probes)
        region = ("--region", cluster.region)
        plan_file = private_dir(workdir / "plans" / cluster.name) / "demo.plan.yaml"
        show(cli("plan", "--cluster", cluster.name, *region, "--target", "API", "--out", str(plan_file),
                 *iam_role_args))  # fmt: skip
        cli("apply", str(plan_file), "--yes", "--approve-gate", "API_AND_CONFIG_MAP", "--approve-gate", "API",
            *iam_role_args)  # fmt: skip
        show(cli("status", str(plan_file)))
        say("probing the same principals after the migration")
        after = probe_all(sandbox, cluster, principals, probes)
    creator = parse_arn(cluster.creator).lookup_key if cluster.creator and cluster.bootstrap_admin else None
    rows = tuple(
        WhoIsWho(arn, b, a, node, creator=parse_arn(arn).lookup_key == creator)
        for (arn, node), b, a in zip(principals, before, after, strict=True)
    )
    return DemoResult(rows, plan_file, workdir)


def iam_reader_args(scenario: Scenario, cluster: ScenarioCluster) -> list[str]:
    """`--iam-role` for every other account that has a role named like our IAM reader, as a user would pass."""
    args: list[str] = []
    for role in scenario.roles:
        arn = parse_arn(role)
        if arn.account != cluster.account and arn.name == "aws-auth-migrate-iam-reader":
            args += ["--iam-role", f"{arn.account}={role}"]
    return args
