"""One set of expectations for EksGateway and KubeGateway (migrator/ports.py), run against the in-memory fake
and against the sandbox through the real adapters, so the fake the unit tests trust cannot drift from what
the tool meets over HTTP. Expected values are written by hand from eks-facts.md, never taken from either side.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from migrator.errors import ConflictError, RemoteError, UpdateInProgressError
from migrator.model import AccessEntrySpec, AccessScope, AuthMode, EntryType, PolicyAssociation, ScopeType
from migrator.plan.rbac_review import rbac_policy
from migrator.rules.arn import entry_key, parse_arn
from migrator.rules.rbac import Binding, Subject
from tests.contract.conftest import ADMIN, AWS_AUTH, CLUSTER, NODES, REGION, MakeHarness
from tests.support.arns import ACCOUNT, role, user
from tests.support.rbac import live_objects, rbac_objects

DEV = role("Dev")
OPS = role("Ops")
PATHY = role("teams/x/Pathy")
ALICE = user("alice")
POLICY = "arn:aws:eks::aws:cluster-access-policy/"
ADMIN_POLICY = PolicyAssociation(POLICY + "AmazonEKSClusterAdminPolicy", AccessScope())
VIEW = PolicyAssociation(POLICY + "AmazonEKSViewPolicy", AccessScope())
EDIT_IN_DEV = PolicyAssociation(POLICY + "AmazonEKSEditPolicy", AccessScope(ScopeType.NAMESPACE, ("dev", "qa")))
MIXED = AuthMode.API_AND_CONFIG_MAP
SESSION = "{{SessionName}}"


def by_arn(entries: Iterable[AccessEntrySpec]) -> dict[str, AccessEntrySpec]:
    return {e.principal_arn: e for e in entries}


def with_sorted_policies(entry: AccessEntrySpec | None) -> AccessEntrySpec | None:
    if entry is None:
        return None
    return AccessEntrySpec(
        entry.principal_arn,
        entry.type,
        entry.username,
        tuple(entry.groups),
        tuple(sorted(entry.policies, key=lambda p: p.policy_arn)),
    )


# --- the cluster -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [AuthMode.CONFIG_MAP, MIXED, AuthMode.API])
def test_describe_cluster_names_the_cluster_and_its_mode(make: MakeHarness, mode: AuthMode) -> None:
    info = make(mode).eks.describe_cluster()
    assert (info.name, info.region, info.account, info.partition, info.mode) == (
        CLUSTER,
        REGION,
        ACCOUNT,
        "aws",
        mode,
    )


def test_the_caller_is_the_admin_role_session(make: MakeHarness) -> None:
    caller = parse_arn(make(MIXED).eks.caller_arn())
    assert caller.principal_key == parse_arn(ADMIN).principal_key


def test_node_groups_are_listed_with_their_role(make: MakeHarness) -> None:
    [group] = make(AuthMode.CONFIG_MAP).eks.list_nodegroups()
    assert (group.name, group.node_role) == ("linux", NODES)


# --- access entries --------------------------------------------------------------------------------------


def test_access_entry_calls_are_refused_in_config_map(make: MakeHarness) -> None:
    eks = make(AuthMode.CONFIG_MAP).eks
    with pytest.raises(RemoteError, match="InvalidRequestException"):
        eks.list_entries()
    with pytest.raises(RemoteError, match="InvalidRequestException"):
        eks.describe_entry(DEV)
    with pytest.raises(RemoteError, match="InvalidRequestException"):
        eks.create_entry(AccessEntrySpec(DEV, username="dev", groups=("developers",)))
    with pytest.raises(RemoteError, match="InvalidRequestException"):
        eks.associate_policy(DEV, VIEW)


def test_a_created_entry_is_described_and_listed_as_stored(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    assert list(eks.list_entries()) == []
    assert eks.describe_entry(DEV) is None
    eks.create_entry(AccessEntrySpec(DEV, username="dev:{{SessionName}}", groups=("developers", "oncall")))
    eks.create_entry(AccessEntrySpec(PATHY))  # no username: EKS stores its default
    eks.create_entry(AccessEntrySpec(ALICE, groups=("viewers",)))
    expected = {
        DEV: AccessEntrySpec(DEV, EntryType.STANDARD, "dev:{{SessionName}}", ("developers", "oncall")),
        PATHY: AccessEntrySpec(
            PATHY, EntryType.STANDARD, f"arn:aws:sts::{ACCOUNT}:assumed-role/Pathy/{{{{SessionName}}}}"
        ),
        ALICE: AccessEntrySpec(ALICE, EntryType.STANDARD, ALICE, ("viewers",)),
    }
    assert {arn: eks.describe_entry(arn) for arn in expected} == expected
    assert by_arn(eks.list_entries()) == expected


def test_a_node_entry_is_stored_with_its_type(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    eks.create_entry(AccessEntrySpec(NODES, EntryType.EC2_WINDOWS))
    entry = eks.describe_entry(NODES)
    assert entry is not None and entry.type is EntryType.EC2_WINDOWS and entry.groups == () and not entry.policies


def test_creating_an_existing_entry_is_a_conflict_and_changes_nothing(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    eks.create_entry(AccessEntrySpec(DEV, username="dev", groups=("developers",)))
    with pytest.raises(ConflictError):
        eks.create_entry(AccessEntrySpec(DEV, username="someone-else", groups=("other",)))
    assert eks.describe_entry(DEV) == AccessEntrySpec(DEV, EntryType.STANDARD, "dev", ("developers",))


def test_a_deleted_entry_is_gone_and_deleting_again_is_not_an_error(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    eks.create_entry(AccessEntrySpec(DEV, username="dev"))
    eks.create_entry(AccessEntrySpec(OPS, username="ops"))
    eks.delete_entry(DEV)
    assert eks.describe_entry(DEV) is None
    assert list(by_arn(eks.list_entries())) == [OPS]
    eks.delete_entry(DEV)  # already gone: the goal of a delete
    assert list(by_arn(eks.list_entries())) == [OPS]


# --- access policies -------------------------------------------------------------------------------------


def test_policies_are_associated_with_their_scope_and_reassociating_replaces_the_scope(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    eks.create_entry(AccessEntrySpec(DEV, username="dev"))
    eks.associate_policy(DEV, VIEW)
    eks.associate_policy(DEV, EDIT_IN_DEV)
    entry = with_sorted_policies(eks.describe_entry(DEV))
    assert entry is not None and entry.policies == (EDIT_IN_DEV, VIEW)
    eks.associate_policy(DEV, PolicyAssociation(EDIT_IN_DEV.policy_arn, AccessScope()))
    entry = with_sorted_policies(eks.describe_entry(DEV))
    assert entry is not None and entry.policies == (PolicyAssociation(EDIT_IN_DEV.policy_arn, AccessScope()), VIEW)
    assert with_sorted_policies(by_arn(eks.list_entries())[DEV]) == entry


def test_describe_entries_reads_the_named_entries_and_lists_policies_only_where_asked(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    eks.create_entry(AccessEntrySpec(DEV, username="dev"))
    eks.create_entry(AccessEntrySpec(OPS, username="ops"))
    eks.associate_policy(DEV, VIEW)
    eks.associate_policy(OPS, VIEW)
    read = by_arn(eks.describe_entries([DEV, OPS, ALICE], with_policies={entry_key(DEV)}))
    assert read == {  # ALICE has no entry: left out; OPS's policy was not asked for
        DEV: AccessEntrySpec(DEV, EntryType.STANDARD, "dev", policies=(VIEW,)),
        OPS: AccessEntrySpec(OPS, EntryType.STANDARD, "ops"),
    }


def test_a_disassociated_policy_is_gone_and_disassociating_again_is_not_an_error(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    eks.create_entry(AccessEntrySpec(DEV, username="dev"))
    eks.associate_policy(DEV, VIEW)
    eks.associate_policy(DEV, ADMIN_POLICY)
    eks.disassociate_policy(DEV, VIEW.policy_arn)
    entry = eks.describe_entry(DEV)
    assert entry is not None and entry.policies == (ADMIN_POLICY,)
    eks.disassociate_policy(DEV, VIEW.policy_arn)
    entry = eks.describe_entry(DEV)
    assert entry is not None and entry.policies == (ADMIN_POLICY,)


def test_a_policy_needs_an_entry_and_a_node_entry_takes_none(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    with pytest.raises(RemoteError, match="ResourceNotFoundException"):
        eks.associate_policy(DEV, VIEW)
    eks.create_entry(AccessEntrySpec(NODES, EntryType.EC2_LINUX))
    with pytest.raises(RemoteError, match="InvalidParameterException"):
        eks.associate_policy(NODES, VIEW)


def test_deleting_an_entry_removes_its_policies(make: MakeHarness) -> None:
    eks = make(MIXED).eks
    eks.create_entry(AccessEntrySpec(DEV, username="dev"))
    eks.associate_policy(DEV, VIEW)
    eks.delete_entry(DEV)
    eks.create_entry(AccessEntrySpec(DEV, username="dev"))
    entry = eks.describe_entry(DEV)
    assert entry is not None and entry.policies == ()


# --- mode updates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "target"),
    [
        (AuthMode.CONFIG_MAP, AuthMode.API),
        (AuthMode.CONFIG_MAP, AuthMode.CONFIG_MAP),
        (MIXED, MIXED),
        (MIXED, AuthMode.CONFIG_MAP),
        (AuthMode.API, MIXED),
        (AuthMode.API, AuthMode.API),
    ],
)
def test_only_the_next_mode_can_be_asked_for(make: MakeHarness, mode: AuthMode, target: AuthMode) -> None:
    harness = make(mode)
    message = f"Unsupported authentication mode update from {mode.value} to {target.value}"
    with pytest.raises(RemoteError, match=f"InvalidParameterException.*{message}"):
        harness.eks.start_mode_update(target)
    assert list(harness.eks.in_progress_updates()) == []
    assert harness.eks.describe_cluster().mode is mode


def test_a_mode_update_is_in_progress_blocks_others_then_switches_the_mode(make: MakeHarness) -> None:
    harness = make(AuthMode.CONFIG_MAP)
    eks = harness.eks
    started = eks.start_mode_update(MIXED)
    assert started.status == "InProgress"
    assert [u.id for u in eks.in_progress_updates()] == [started.id]
    assert eks.describe_update(started.id).status == "InProgress"
    assert eks.describe_cluster().mode is AuthMode.CONFIG_MAP
    with pytest.raises(UpdateInProgressError):
        eks.start_mode_update(MIXED)
    done = harness.finish(started.id)
    assert (done.id, done.status, done.errors) == (started.id, "Successful", ())
    assert list(eks.in_progress_updates()) == []
    assert eks.describe_cluster().mode is MIXED


def test_leaving_config_map_creates_entries_for_the_node_role_and_the_creator(make: MakeHarness) -> None:
    harness = make(AuthMode.CONFIG_MAP)
    harness.finish(harness.eks.start_mode_update(MIXED).id)
    entries = by_arn(harness.eks.list_entries())
    assert sorted(entries) == sorted([NODES, ADMIN])
    assert entries[NODES].type is EntryType.EC2_LINUX and entries[NODES].policies == ()
    assert entries[ADMIN].type is EntryType.STANDARD and entries[ADMIN].policies == (ADMIN_POLICY,)


def test_an_unknown_update_is_an_error(make: MakeHarness) -> None:
    with pytest.raises(RemoteError, match="ResourceNotFoundException"):
        make(MIXED).eks.describe_update("00000000-0000-0000-0000-000000000000")


# --- the aws-auth ConfigMap ------------------------------------------------------------------------------


def test_aws_auth_is_read_with_its_data_and_a_resource_version(make: MakeHarness) -> None:
    kube = make(AuthMode.CONFIG_MAP).kube
    state = kube.read_config_map("kube-system", "aws-auth")
    assert state is not None
    assert (state.namespace, state.name, state.data) == ("kube-system", "aws-auth", AWS_AUTH)
    assert state.resource_version
    assert state.raw["metadata"]["resourceVersion"] == state.resource_version
    assert kube.read_config_map("kube-system", "not-there") is None


def test_deleting_aws_auth_needs_the_current_resource_version(make: MakeHarness) -> None:
    kube = make(AuthMode.CONFIG_MAP).kube
    state = kube.read_config_map("kube-system", "aws-auth")
    assert state is not None
    kube.delete_config_map(state)
    written = kube.create_config_map("kube-system", "aws-auth", {**AWS_AUTH, "mapUsers": ""})  # someone else's
    assert written.resource_version != state.resource_version
    with pytest.raises(ConflictError):
        kube.delete_config_map(state)  # against the version read before: never deletes what it did not read
    assert kube.read_config_map("kube-system", "aws-auth") is not None
    kube.delete_config_map(written)
    assert kube.read_config_map("kube-system", "aws-auth") is None
    kube.delete_config_map(written)  # already gone: the goal of a delete


def test_aws_auth_can_be_created_again_but_not_twice(make: MakeHarness) -> None:
    kube = make(AuthMode.CONFIG_MAP).kube
    state = kube.read_config_map("kube-system", "aws-auth")
    assert state is not None
    kube.delete_config_map(state)
    created = kube.create_config_map("kube-system", "aws-auth", AWS_AUTH)
    assert (created.namespace, created.name, created.data) == ("kube-system", "aws-auth", AWS_AUTH)
    assert created.resource_version
    with pytest.raises(ConflictError):
        kube.create_config_map("kube-system", "aws-auth", {"mapRoles": ""})
    read = kube.read_config_map("kube-system", "aws-auth")
    assert read is not None and read.data == AWS_AUTH and read.resource_version == created.resource_version


def test_in_api_mode_the_kubernetes_api_answers_only_a_caller_whose_entry_has_cluster_admin(make: MakeHarness) -> None:
    harness = make(AuthMode.API)
    with pytest.raises(RemoteError, match="401"):
        harness.kube.read_config_map("kube-system", "aws-auth")
    harness.eks.create_entry(AccessEntrySpec(ADMIN))
    harness.eks.associate_policy(ADMIN, ADMIN_POLICY)
    state = harness.kube.read_config_map("kube-system", "aws-auth")
    assert state is not None and state.data == AWS_AUTH  # EKS never deletes aws-auth; it is just not read


def test_rbac_is_read_with_the_bootstrap_roles_aggregated_and_the_bindings(make: MakeHarness) -> None:
    objects = make(AuthMode.CONFIG_MAP).kube.read_rbac()
    assert objects.available
    rbac = rbac_policy(objects)
    assert [b for b in rbac.role_bindings if b.name == "viewers-view"] == [
        Binding("viewers-view", "dev", "ClusterRole", "view", (Subject("Group", "viewers"),))
    ]
    assert any(b.name == "cluster-admin" and b.role_name == "cluster-admin" for b in rbac.cluster_bindings)
    expected = rbac_objects(live_objects())
    assert rbac.cluster_roles["view"] == rbac_policy(expected).cluster_roles["view"]  # aggregated by the reader
