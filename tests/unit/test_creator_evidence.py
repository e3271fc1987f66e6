"""The cluster creator's admin entry is the creator's only on evidence, and one entry at most.

EKS does not say who created a cluster; at the first switch it gives the creator an entry of a shape anybody
can make (STANDARD, cluster-admin, EKS's default username, no groups). verify calls an entry the creator's
(`eks-made`) only when apply's journal recorded EKS making it at the switch, or the operator names the
creator; otherwise it is `extra` ("admin, possibly the creator's") and verify fails. apply keeps an entry
that differs from the plan only when it is the one its first switch told apart as the creator's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.app.planning import plan_id_of
from migrator.app.verifying import CreatorSource, journal_creator
from migrator.awsauth import parse_aws_auth, parse_configmap_object
from migrator.errors import ConflictError, InputError
from migrator.model import AccessEntrySpec, AuthMode, AwsAuth, EntryType, PolicyAssociation, SetMode, StepKind
from migrator.proof.verify import Category, ClusterState, CreatorEvidence, Verdict, verify
from migrator.run.journal import FileJournal, read_state
from migrator.run.observer import RunResult
from tests.support.arns import ACCOUNT, role, user
from tests.support.scenarios import aws_auth_config_map
from tests.unit.fake_cluster import ADMIN_POLICY, FakeCluster, aws_auth_data, key, make_plan, small_cluster
from tests.unit.test_executor import BOTH, FIRST, executor, journal_of

ADMIN = role("Admin")
CREATOR = role("Creator")
INTRUDER = role("Intruder")
OTHER = role("Other")
ADMIN_ASSOCIATION = PolicyAssociation("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")

AWS_AUTH = parse_aws_auth(
    aws_auth_config_map(f"- rolearn: {ADMIN}\n  username: admin:{{{{SessionName}}}}\n  groups: [system:masters]\n"),
    "aws-auth.yaml",
)
MIGRATED = AccessEntrySpec(ADMIN, username="admin:{{SessionName}}", policies=(ADMIN_ASSOCIATION,))


def creator_shaped(arn: str) -> AccessEntrySpec:
    """What EKS makes for the creator, and what anybody can make: cluster-admin, default username, no groups."""
    return AccessEntrySpec(arn, policies=(ADMIN_ASSOCIATION,))


def verdicts(*entries: AccessEntrySpec, reference: object = AWS_AUTH, **state: object) -> dict[str, Verdict]:
    cluster = ClusterState(AuthMode.API, None, (MIGRATED, *entries), bootstrap_admin=True, **state)  # type: ignore[arg-type]
    result = verify(reference, cluster)  # type: ignore[arg-type]
    return {v.principal: v for v in result.verdicts}


def ok(*entries: AccessEntrySpec, **state: object) -> bool:
    cluster = ClusterState(AuthMode.API, None, (MIGRATED, *entries), bootstrap_admin=True, **state)  # type: ignore[arg-type]
    return verify(AWS_AUTH, cluster).ok


# --- verify ------------------------------------------------------------------------------------------------


def test_an_out_of_band_admin_entry_of_the_creators_shape_fails_verify_without_evidence() -> None:
    found = verdicts(creator_shaped(INTRUDER))[INTRUDER]
    assert found.category is Category.EXTRA
    assert found.note.startswith("aws-auth gives it nothing; admin, possibly the creator's")
    assert "--creator" in found.note
    assert not ok(creator_shaped(INTRUDER))


def test_two_entries_of_the_creators_shape_are_never_both_the_creators() -> None:
    both = (creator_shaped(CREATOR), creator_shaped(INTRUDER))
    unproven = verdicts(*both)
    assert (unproven[CREATOR].category, unproven[INTRUDER].category) == (Category.EXTRA, Category.EXTRA)
    named = verdicts(*both, creator=CreatorEvidence(CREATOR, "--creator"))
    assert named[CREATOR].category is Category.EKS_MADE
    assert named[CREATOR].note == (
        "the cluster creator's admin entry, which EKS makes at the first switch (the creator per --creator)"
    )
    assert named[INTRUDER].category is Category.EXTRA
    assert named[INTRUDER].note.endswith(f"but the creator is {CREATOR} (per --creator)")
    assert not ok(*both, creator=CreatorEvidence(CREATOR, "--creator"))
    assert ok(creator_shaped(CREATOR), creator=CreatorEvidence(CREATOR, "--creator"))


def test_with_the_creator_mapped_and_holding_its_own_entry_an_admin_entry_of_that_shape_is_somebodys() -> None:
    # The creator (Admin) is mapped in aws-auth and has its migrated entry; Intruder's is an admin entry of the
    # creator's shape that nobody mapped.
    for evidence in (None, CreatorEvidence(ADMIN, "--creator")):
        found = verdicts(creator_shaped(INTRUDER), creator=evidence)
        assert found[ADMIN].category is Category.EQUIVALENT
        assert found[INTRUDER].category is Category.EXTRA, evidence
        assert not ok(creator_shaped(INTRUDER), creator=evidence)


def test_the_mapped_creators_entry_eks_made_passes_on_evidence_only() -> None:
    # Apply keeps the admin entry EKS made for a creator that aws-auth maps: its hidden bootstrap mapping
    # (cluster-admin) won over aws-auth until then. Without evidence it is a difference like any other.
    kept = creator_shaped(ADMIN)
    cluster = ClusterState(AuthMode.API, None, (kept,), bootstrap_admin=True)
    assert verify(AWS_AUTH, cluster).verdicts[0].category is Category.DIFFERS
    journal = CreatorEvidence(ADMIN, "apply's journal j.jsonl")
    cluster = ClusterState(AuthMode.API, None, (kept,), bootstrap_admin=True, creator=journal)
    [found] = verify(AWS_AUTH, cluster).verdicts
    assert found.category is Category.EKS_MADE and verify(AWS_AUTH, cluster).ok
    assert [d.field for d in found.differences] == ["username"]
    assert "(the creator per apply's journal j.jsonl)" in found.note
    # Changed since EKS made it (a group added): not the entry EKS made any more.
    changed = AccessEntrySpec(ADMIN, groups=("ops",), policies=(ADMIN_ASSOCIATION,))
    cluster = ClusterState(AuthMode.API, None, (changed,), bootstrap_admin=True, creator=journal)
    assert verify(AWS_AUTH, cluster).verdicts[0].category is Category.DIFFERS


def test_a_journal_that_recorded_no_creators_entry_is_evidence_too() -> None:
    found = verdicts(creator_shaped(INTRUDER), creator=CreatorEvidence(None, "apply's journal j.jsonl"))[INTRUDER]
    assert found.category is Category.EXTRA
    assert found.note.endswith("but apply's journal j.jsonl records none")


# --- apply records the evidence at the first switch and goes by it ------------------------------------------


def test_the_first_switch_journals_the_creators_entry_and_verify_accepts_the_journal(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    assert report.result is RunResult.COMPLETED, report.message
    first, second = (s for s in plan.steps if isinstance(s, SetMode))
    detail = report.step(first.id).detail
    assert detail["creatorEntry"] == CREATOR
    assert detail["cluster"] == {"name": plan.cluster.name, "region": plan.cluster.region, "account": ACCOUNT}
    assert sorted(detail["eksCreatedEntries"]) == sorted(
        [CREATOR, role("nodes"), role("win-nodes"), role("fargate-pods")]
    )
    assert "creatorEntry" not in report.step(second.id).detail  # EKS makes entries at the first switch only

    evidence = journal_creator(journal_of(plan, tmp_path))
    assert evidence is not None and evidence.principal_arn == CREATOR
    found = {
        v.principal: v
        for v in verify(
            live_aws_auth(fake),
            ClusterState(fake.mode, None, tuple(fake.list_entries()), bootstrap_admin=True, creator=evidence),
        ).verdicts
    }
    assert found[CREATOR].category is Category.EKS_MADE
    # The operator's --journal: the same file, checked against the cluster verify is asked about.
    path = journal_of(plan, tmp_path).path
    source = CreatorSource(journal=FileJournal(path, plan_id_of(plan))).evidence(plan.cluster.name, plan.cluster.region)
    assert source == CreatorEvidence(CREATOR, f"apply's journal {path}", ACCOUNT)
    with pytest.raises(InputError, match="the journal is of cluster"):
        CreatorSource(journal=FileJournal(path, plan_id_of(plan))).evidence("another", plan.cluster.region)


def live_aws_auth(fake: FakeCluster) -> AwsAuth:
    assert fake.config_map is not None
    body = {"metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": dict(fake.config_map.data)}
    return parse_configmap_object(body, "aws-auth")


def test_two_standard_entries_appearing_at_the_switch_leave_neither_taken_for_the_creators(tmp_path: Path) -> None:
    # Somebody makes an admin entry of the creator's shape for a mapped principal while the switch runs.
    roles = [
        (ADMIN, "admin:{{SessionName}}", ["system:masters"]),
        (CREATOR, "creator:{{SessionName}}", ["system:masters", "ops"]),
        (role("Dev"), "dev:{{SessionName}}", ["developers"]),
    ]
    fake = small_cluster(aws_auth=aws_auth_data(roles), nodegroups=(), fargate_profiles=())
    plan = make_plan(fake)
    fake.hook("start_mode_update", 1, lambda: fake.put_entry(creator_shaped(role("Dev"))), after=True)
    report = executor(plan, fake, tmp_path, approvals=FIRST, max_concurrency=1).apply()
    first = next(s for s in plan.steps if isinstance(s, SetMode))
    assert report.step(first.id).detail["creatorEntry"] is None
    assert isinstance(report.error, ConflictError) and report.exit_code == 6
    creates = [s for s in plan.steps if s.kind is StepKind.CREATE_ENTRY]
    assert not any(report.step(s.id).detail.get("eksCreated") for s in creates)
    # Nothing was overwritten, and the journal gives verify no creator either.
    assert fake.entries[key(role("Dev"))].policies == (ADMIN_POLICY,)
    assert journal_creator(journal_of(plan, tmp_path)) == CreatorEvidence(
        None, f"apply's journal {journal_of(plan, tmp_path).path}"
    )
    assert read_state(journal_of(plan, tmp_path)).of(first.id).done


def test_an_entry_of_another_type_among_those_eks_made_is_not_the_creators(tmp_path: Path) -> None:
    fake = small_cluster(creator_arn=None)
    plan = make_plan(fake)
    report = executor(plan, fake, tmp_path, approvals=FIRST).apply()
    first = next(s for s in plan.steps if isinstance(s, SetMode))
    assert report.step(first.id).detail["creatorEntry"] is None  # only node-role and Fargate entries
    assert fake.entries[key(role("nodes"))].type is EntryType.EC2_LINUX


# --- the operator's word -------------------------------------------------------------------------------------


def test_creator_and_journal_options_are_checked_before_anything_is_read(tmp_path: Path) -> None:
    assert CreatorSource().evidence("c", "r") is None
    assert CreatorSource(CREATOR).evidence("c", "r") == CreatorEvidence(CREATOR, "--creator")
    assert CreatorSource(user("alice")).evidence("c", "r") == CreatorEvidence(user("alice"), "--creator")
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/Creator/someone"
    assert CreatorSource(session).evidence("c", "r") == CreatorEvidence(session, "--creator")
    for bad, why in (
        ("Creator", "--creator"),
        (f"arn:aws:iam::{ACCOUNT}:root", "is not an IAM role or user ARN"),
    ):
        with pytest.raises(InputError, match=why):
            CreatorSource(bad).evidence("c", "r")
    with pytest.raises(InputError, match="not both"):
        CreatorSource(CREATOR, FileJournal(tmp_path / "j.jsonl", "j")).evidence("c", "r")
    with pytest.raises(InputError, match="cannot read the journal"):
        CreatorSource(journal=FileJournal(tmp_path / "missing.jsonl", "missing")).evidence("c", "r")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match="records no first switch"):
        CreatorSource(journal=FileJournal(empty, "empty")).evidence("c", "r")
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("not json\n{}\n")
    with pytest.raises(InputError, match=r"damaged\.jsonl:1"):
        CreatorSource(journal=FileJournal(damaged, "damaged")).evidence("c", "r")


def test_without_bootstrap_admin_permissions_no_entry_is_journaled_as_the_creators(tmp_path: Path) -> None:
    # Review of issue 20: a cluster created with bootstrapClusterCreatorAdminPermissions off gets no creator
    # entry from EKS, so an entry of the creator's shape appearing at the switch is somebody else's.
    fake = small_cluster()
    fake.bootstrap_admin = False
    plan = make_plan(fake)
    report = executor(plan, fake, tmp_path, approvals=BOTH).apply()
    first = next(s for s in plan.steps if isinstance(s, SetMode))
    assert report.step(first.id).detail["creatorEntry"] is None
    evidence = journal_creator(journal_of(plan, tmp_path))
    assert evidence is not None and evidence.principal_arn is None
