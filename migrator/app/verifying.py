"""The verify use case: read the cluster once (read-only), compare with aws-auth, optionally probe.

The reference aws-auth is the cluster's own, or a file, or a run's backup (once the migration deleted
aws-auth). The cluster is read through the same ports the planner uses: DescribeCluster, ListAccessEntries
(+ their policies), node groups and Fargate profiles, IAM lookups of the mapped principals, a GET of
kube-system/aws-auth. `--probe` then signs in as each role the caller may assume.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from migrator.app.planning import ClusterAccess
from migrator.awsauth import load_aws_auth_file, parse_configmap_object
from migrator.errors import InputError
from migrator.model import AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, AwsAuth, ClusterRef
from migrator.plan.rbac_review import rbac_policy
from migrator.plan.snapshot import lookup_principals, read_rbac
from migrator.ports import EksGateway, IamDirectory, IdentityProber, KubeGateway, ProbeObservation
from migrator.proof.probes import ProbeVerdict, cannot_probe, judge
from migrator.proof.report import VerifyReport
from migrator.proof.verify import ClusterState, CreatorEvidence, Verdict, verify
from migrator.rules.arn import ArnError, PrincipalKind, parse_arn
from migrator.rules.rbac import RbacPolicy
from migrator.run.backup import BackupSlot, parse_backup
from migrator.run.journal import Journal, read_state
from migrator.run.steps.mode import journaled_first_switch

PROBE_CONCURRENCY = 4  # each probe is an AssumeRole plus one Kubernetes request


@dataclass(frozen=True)
class CreatorSource:
    """Who created the cluster, as the operator tells verify: `--creator ARN`, or `--journal` (the journal of
    the apply that made the first switch records the entry EKS made for the creator then). EKS does not say,
    and an entry of the creator's shape is easy to make: without either, such an entry is `extra`."""

    arn: str | None = None
    journal: Journal | None = None

    def evidence(self, cluster: str, region: str) -> CreatorEvidence | None:
        """Read and checked before any call; InputError (exit 2) saying what is wrong."""
        if self.arn is not None and self.journal is not None:
            raise InputError("give --creator or --journal, not both")
        if self.arn is not None:
            return CreatorEvidence(_creator_arn(self.arn), "--creator")
        if self.journal is not None:
            return _journal_evidence(self.journal, cluster, region)
        return None


def _creator_arn(text: str) -> str:
    try:
        kind = parse_arn(text).kind
    except ArnError as error:
        raise InputError(f"--creator: {error}") from None
    if kind not in (PrincipalKind.ROLE, PrincipalKind.USER, PrincipalKind.ASSUMED_ROLE):
        raise InputError(f"--creator: {text} is not an IAM role or user ARN")
    return text


def _journal_evidence(journal: Journal, cluster: str, region: str) -> CreatorEvidence:
    path = journal.where
    if not journal.exists():
        raise InputError(f"{path}: cannot read the journal: there is none")
    try:
        state = read_state(journal)
    except OSError as error:
        raise InputError(f"{path}: cannot read the journal: {error.strerror or error}") from None
    switch = journaled_first_switch(state)
    if switch is None:
        raise InputError(
            f"{path}: the journal records no first switch (CONFIG_MAP -> API_AND_CONFIG_MAP) that its run saw "
            "finish, so it cannot say which entry EKS made for the cluster creator",
            hint="give the journal of the apply that made the first switch, or --creator ARN",
        )
    if (switch.cluster.get("name"), switch.cluster.get("region")) != (cluster, region):
        raise InputError(
            f"{path}: the journal is of cluster {switch.cluster.get('name')} ({switch.cluster.get('region')}), "
            f"not {cluster} ({region})"
        )
    return CreatorEvidence(switch.creator_arn, f"apply's journal {path}", _journal_account(switch.cluster))


def _journal_account(cluster: MappingABC[str, str]) -> str | None:
    account = cluster.get("account")
    return account if isinstance(account, str) else None


def journal_creator(run_journal: Journal) -> CreatorEvidence | None:
    """What a plan's own journal says of the creator's entry (batch apply's verify); None when the plan made
    no first switch, so the journal knows nothing of it."""
    switch = journaled_first_switch(read_state(run_journal))
    return None if switch is None else CreatorEvidence(switch.creator_arn, f"apply's journal {run_journal.where}")


@dataclass(frozen=True)
class Reference:
    """Where the expected identities come from: the cluster's aws-auth (both None), a file, or a backup."""

    aws_auth_file: Path | None = None
    backup: BackupSlot | None = None

    def load(self) -> tuple[AwsAuth | None, str]:
        if self.aws_auth_file is not None and self.backup is not None:
            raise InputError("give --aws-auth-file or --backup, not both")
        if self.aws_auth_file is not None:
            return load_aws_auth_file(self.aws_auth_file), f"file {self.aws_auth_file}"
        if self.backup is not None:
            where = self.backup.where
            stored = self.backup.store.get(self.backup.key)  # read once: an S3 backup is one GET
            if stored is None:
                raise InputError(f"{where}: no such backup")
            backup = parse_backup(stored.data)
            if backup is None:
                raise InputError(f"{where}: not an aws-auth backup written by apply, or edited since")
            if backup.data is None:
                raise InputError(f"{where}: the backup records that aws-auth did not exist: nothing to verify")
            body = {"metadata": {"name": backup.name, "namespace": backup.namespace}, "data": dict(backup.data)}
            return parse_configmap_object(body, where), f"backup {where}"
        return None, "the cluster's aws-auth"


def _live_rbac(kube: KubeGateway) -> RbacPolicy | None:
    """The cluster's RBAC, to recognise groups a plan replaced by access policies; None when it may not be
    read (such principals are then reported as they are: `differs`)."""
    objects = read_rbac(kube)
    return rbac_policy(objects) if objects.available else None


def verify_ports(
    eks: EksGateway,
    kube: KubeGateway,
    iam: IamDirectory,
    reference: Reference,
    *,
    prober: IdentityProber | None = None,
    creator: CreatorEvidence | None = None,
) -> VerifyReport:
    """Read-only calls only; the probes assume roles and ask the cluster who they are, nothing more."""
    expected, label = reference.load()  # bad input fails before any call
    info = eks.describe_cluster()
    if creator is not None and creator.account is not None and creator.account != info.account:
        # The same name and region in another account is another cluster: its creator tells nothing here.
        raise InputError(
            f"{creator.source} is of cluster {info.name} in account {creator.account}, not in {info.account}",
            hint="give the journal of this cluster's first switch, or --creator ARN",
        )
    config_map = kube.read_config_map(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
    live = (
        parse_configmap_object(config_map.raw, f"{info.name}:{AWS_AUTH_NAMESPACE}/{AWS_AUTH_NAME}")
        if config_map is not None
        else None
    )
    if expected is None:
        if live is None:
            raise InputError(
                "the cluster has no aws-auth ConfigMap to compare with",
                hint="pass --backup with the backup apply wrote, or --aws-auth-file",
            )
        expected = live
    entries = tuple(eks.list_entries()) if info.mode.reads_entries else ()
    node_roles = {group.node_role for group in eks.list_nodegroups()}
    node_roles |= {profile.pod_execution_role for profile in eks.list_fargate_profiles()}
    state = ClusterState(
        mode=info.mode,
        live_aws_auth=live,
        entries=entries,
        node_roles=frozenset(key for arn in node_roles if (key := _key(arn)) is not None),
        bootstrap_admin=info.bootstrap_admin,
        iam=lookup_principals(iam, (*expected.mappings, *(live.mappings if live is not None else ()))),
        rbac=_live_rbac(kube),
        partition=info.partition,
        creator=creator,
    )
    result = verify(expected, state)
    probes: dict[str, ProbeVerdict] = {}
    if prober is not None:
        probes = _probe_all(prober, result.verdicts)
    cluster = ClusterRef(info.name, info.region, info.account, info.partition)
    return VerifyReport(cluster, info.mode, label, result, probes, probed=prober is not None)


def _key(arn: str) -> str | None:
    try:
        return parse_arn(arn).lookup_key
    except ArnError:
        return None


def _probe_all(prober: IdentityProber, verdicts: Iterable[Verdict]) -> dict[str, ProbeVerdict]:
    wanted: list[Verdict] = []
    found: dict[str, ProbeVerdict] = {}
    for verdict in verdicts:
        if verdict.expected is None and verdict.actual is None:
            continue  # a dead mapping: nobody to ask about
        if why := cannot_probe(verdict):
            found[verdict.principal] = judge(verdict, ProbeObservation(reason=why))
        else:
            wanted.append(verdict)
    with ThreadPoolExecutor(max_workers=PROBE_CONCURRENCY, thread_name_prefix="probe") as pool:
        observations = list(pool.map(lambda v: prober.probe(v.principal), wanted))
    for verdict, observation in zip(wanted, observations, strict=True):
        found[verdict.principal] = judge(verdict, observation)
    return found


def verify_cluster(
    cluster: str,
    access: ClusterAccess,
    reference: Reference,
    *,
    probe: bool,
    creator: CreatorSource = CreatorSource(),
) -> VerifyReport:
    """Connect to the cluster (as `plan` does) and verify it."""
    from migrator.wiring.connect import ConnectOptions, connect

    reference.load()  # refuse bad input before connecting
    evidence = creator.evidence(cluster, access.region)
    connection = connect(
        cluster,
        ConnectOptions(
            access.region, access.profile, access.role_arn, access.kube_context, access.kubeconfig, access.iam_roles
        ),
    )
    return verify_ports(
        connection.eks,
        connection.kube,
        connection.iam,
        reference,
        prober=connection.prober if probe else None,
        creator=evidence,
    )
