"""verify's comparison, on plain data, with identities written out by hand."""

from __future__ import annotations

from migrator.awsauth import parse_aws_auth
from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AuthMode,
    EntryType,
    LookupStatus,
    PolicyAssociation,
    PrincipalLookup,
    ScopeType,
)
from migrator.proof.verify import Category, ClusterState, CreatorEvidence, Difference, verify
from tests.support.arns import ACCOUNT

NODE = f"arn:aws:iam::{ACCOUNT}:role/NodeRole"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
DEV = f"arn:aws:iam::{ACCOUNT}:role/Dev"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ADMIN_POLICY = PolicyAssociation("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"

AWS_AUTH = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: aws-auth, namespace: kube-system}}
data:
  mapRoles: |
    - rolearn: {NODE}
      username: system:node:{{{{EC2PrivateDNSName}}}}
      groups: [system:bootstrappers, system:nodes]
    - rolearn: {ADMIN}
      username: admin:{{{{SessionName}}}}
      groups: [system:masters, platform]
    - rolearn: {DEV}
      username: dev:{{{{SessionName}}}}
      groups: [developers]
    - rolearn: arn:aws:iam::{ACCOUNT}:role/teams/Pathy
      username: pathy
      groups: [developers]
  mapUsers: |
    - userarn: {ALICE}
      username: alice
      groups: [viewers]
"""
REFERENCE = parse_aws_auth(AWS_AUTH, "aws-auth.yaml")

MIGRATED = (
    AccessEntrySpec(NODE, EntryType.EC2_LINUX),
    AccessEntrySpec(ADMIN, username="admin:{{SessionName}}", groups=("platform",), policies=(ADMIN_POLICY,)),
    AccessEntrySpec(DEV, username="dev:{{SessionName}}", groups=("developers",)),
    AccessEntrySpec(ALICE, username="alice", groups=("viewers",)),
)


def _by_principal(entries: tuple[AccessEntrySpec, ...], mode: AuthMode = AuthMode.API, **state: object) -> dict:
    result = verify(REFERENCE, ClusterState(mode=mode, live_aws_auth=None, entries=entries, **state))  # type: ignore[arg-type]
    return {v.principal: v for v in result.verdicts}


def _replace(entries: tuple[AccessEntrySpec, ...], arn: str, entry: AccessEntrySpec | None) -> tuple:
    return tuple(e for e in entries if e.principal_arn != arn) + ((entry,) if entry is not None else ())


def test_a_complete_migration_in_api_mode_is_equivalent_principal_by_principal() -> None:
    result = verify(REFERENCE, ClusterState(AuthMode.API, None, MIGRATED))
    assert result.ok
    by = {v.principal: v for v in result.verdicts}
    assert {p: v.category for p, v in by.items()} == {
        NODE: Category.EQUIVALENT,  # system:bootstrappers is not needed by node entries
        ADMIN: Category.EQUIVALENT,
        DEV: Category.EQUIVALENT,
        ALICE: Category.EQUIVALENT,
        f"arn:aws:iam::{ACCOUNT}:role/teams/Pathy": Category.EQUIVALENT,  # dead before, nobody now
    }
    assert "dead mapping" in by[f"arn:aws:iam::{ACCOUNT}:role/teams/Pathy"].note
    assert by[ADMIN].expected_via == "aws-auth mapRoles[1]" and by[ADMIN].actual_via == "access entry"


def test_config_map_mode_reads_the_live_aws_auth_and_an_edit_shows_as_a_difference() -> None:
    live = parse_aws_auth(AWS_AUTH.replace("groups: [developers]\n    - rolearn", "groups: [ops]\n    - rolearn"), "x")
    # aws-auth deleted in CONFIG_MAP: every live mapping is missing.
    gone = _by_principal((), AuthMode.CONFIG_MAP)
    assert {p for p, v in gone.items() if v.category is Category.MISSING} == {NODE, ADMIN, DEV, ALICE}
    result = verify(REFERENCE, ClusterState(AuthMode.CONFIG_MAP, live, ()))
    by = {v.principal: v for v in result.verdicts}
    assert by[DEV].category is Category.DIFFERS
    assert by[DEV].differences == (Difference("groups", "developers", "ops"),)
    assert by[ADMIN].category is Category.EQUIVALENT


def test_each_kind_of_drift_is_named_precisely() -> None:
    missing = _by_principal(_replace(MIGRATED, DEV, None))[DEV]
    assert (missing.category, missing.actual) == (Category.MISSING, None)

    wrong_group = _by_principal(_replace(MIGRATED, DEV, AccessEntrySpec(DEV, username="dev:{{SessionName}}",
                                                                        groups=("ops",))))[DEV]  # fmt: skip
    assert wrong_group.differences == (Difference("groups", "developers", "ops"),)

    no_admin = _by_principal(_replace(MIGRATED, ADMIN, AccessEntrySpec(ADMIN, username="admin:{{SessionName}}",
                                                                       groups=("platform",))))[ADMIN]  # fmt: skip
    assert no_admin.differences == (Difference("cluster-admin", "yes", "no"),)

    namespaced = PolicyAssociation(ADMIN_POLICY.policy_arn, AccessScope(ScopeType.NAMESPACE, ("prod",)))
    rescoped = _by_principal(_replace(MIGRATED, ADMIN, AccessEntrySpec(ADMIN, username="admin:{{SessionName}}",
                                      groups=("platform",), policies=(namespaced,))))[ADMIN]  # fmt: skip
    assert rescoped.differences == (
        Difference("cluster-admin", "yes", "no"),
        Difference("policies", "none", "AmazonEKSClusterAdminPolicy (namespaces prod)"),
    )

    renamed = _by_principal(_replace(MIGRATED, ALICE, AccessEntrySpec(ALICE, groups=("viewers",))))[ALICE]
    assert renamed.differences == (Difference("username", "'alice'", f"'{ALICE}'"),)  # EKS's default username

    viewer = AccessEntrySpec(ALICE, username="alice", groups=("viewers",), policies=(PolicyAssociation(VIEW_POLICY),))
    widened = _by_principal(_replace(MIGRATED, ALICE, viewer))[ALICE]
    assert widened.differences == (Difference("policies", "none", "AmazonEKSViewPolicy (cluster)"),)
    assert all(v.category is Category.DIFFERS for v in (wrong_group, no_admin, rescoped, renamed, widened))


def test_extra_entries_are_reported_and_the_ones_eks_makes_are_recognised() -> None:
    stranger = f"arn:aws:iam::{ACCOUNT}:role/Stranger"
    fargate = f"arn:aws:iam::{ACCOUNT}:role/PodExec"
    creator = f"arn:aws:iam::{ACCOUNT}:role/Creator"
    entries = (
        *MIGRATED,
        AccessEntrySpec(stranger, username="s", groups=("developers",)),
        AccessEntrySpec(fargate, EntryType.FARGATE_LINUX),
        AccessEntrySpec(creator, policies=(ADMIN_POLICY,)),
        AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/teams/Pathy", username="pathy", groups=("developers",)),
    )
    node_roles = frozenset({f"aws:{ACCOUNT}:role:podexec"})
    evidence = CreatorEvidence(creator, "--creator")  # EKS does not say who created the cluster
    by = _by_principal(entries, node_roles=node_roles, bootstrap_admin=True, creator=evidence)
    assert by[stranger].category is Category.EXTRA
    assert by[fargate].category is Category.EKS_MADE
    assert by[creator].category is Category.EKS_MADE and "creator" in by[creator].note
    # A role mapped with its path never signed in through aws-auth: an entry for it is new access.
    assert by[f"arn:aws:iam::{ACCOUNT}:role/teams/Pathy"].category is Category.EXTRA
    # EKS reports the default username of an entry made without one; it is still the creator's shape.
    reported = AccessEntrySpec(creator, username=f"arn:aws:sts::{ACCOUNT}:assumed-role/Creator/{{{{SessionName}}}}",
                               policies=(ADMIN_POLICY,))  # fmt: skip
    as_listed = _by_principal((*MIGRATED, reported), node_roles=node_roles, bootstrap_admin=True, creator=evidence)
    assert as_listed[creator].category is Category.EKS_MADE
    # Without bootstrapClusterCreatorAdminPermissions an admin entry of that shape is somebody's.
    assert _by_principal(entries, bootstrap_admin=False, creator=evidence)[creator].category is Category.EXTRA


def test_iam_decides_which_user_mappings_are_dead() -> None:
    real_alice = f"arn:aws:iam::{ACCOUNT}:user/people/alice"
    iam = {f"aws:{ACCOUNT}:user:alice": PrincipalLookup(LookupStatus.FOUND, real_alice)}
    by = _by_principal(_replace(MIGRATED, ALICE, None), iam=iam)
    # alice signs in as user/people/alice, which `userarn: user/alice` never matched: nothing to miss.
    assert by[ALICE].category is Category.EQUIVALENT and "not the ARN the principal signs in with" in by[ALICE].note
    gone = {f"aws:{ACCOUNT}:role:dev": PrincipalLookup(LookupStatus.NOT_FOUND)}
    assert "does not exist" in _by_principal(_replace(MIGRATED, DEV, None), iam=gone)[DEV].note


def test_api_and_config_map_falls_back_to_the_live_aws_auth_for_principals_without_an_entry() -> None:
    live = parse_aws_auth(AWS_AUTH.replace("username: alice", "username: alice2"), "live")
    result = verify(REFERENCE, ClusterState(AuthMode.API_AND_CONFIG_MAP, live, _replace(MIGRATED, ALICE, None)))
    by = {v.principal: v for v in result.verdicts}
    assert by[ALICE].actual_via == "aws-auth mapUsers[0]"
    assert by[ALICE].differences == (Difference("username", "'alice'", "'alice2'"),)
    assert not result.ok


def test_map_accounts_is_missing_once_the_mode_stops_reading_aws_auth() -> None:
    with_accounts = parse_aws_auth(AWS_AUTH + '  mapAccounts: |\n    - "444455556666"\n', "aws-auth.yaml")
    api = verify(with_accounts, ClusterState(AuthMode.API, None, MIGRATED))
    assert {v.principal: v.category for v in api.verdicts}["mapAccounts:444455556666"] is Category.MISSING
    both = verify(with_accounts, ClusterState(AuthMode.API_AND_CONFIG_MAP, with_accounts, MIGRATED))
    assert {v.principal: v.category for v in both.verdicts}["mapAccounts:444455556666"] is Category.EQUIVALENT
