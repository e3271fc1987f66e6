"""The Terraform export, parsed back with an HCL parser and checked against hand-written expectations."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from migrator.errors import InputError
from migrator.export import export_terraform, hcl, select_entries
from migrator.export.naming import logical_ids, principal_words, terraform_name, terraform_names
from migrator.model import (
    AccessEntrySpec,
    AccessScope,
    AuthMode,
    ClusterRef,
    EntryAction,
    EntryType,
    Finding,
    Fingerprint,
    Plan,
    PlannedEntry,
    PolicyAssociation,
    ScopeType,
    Severity,
)
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT, role, user
from tests.support.exports import parse_terraform

CLUSTER = ClusterRef("prod", "eu-west-1", ACCOUNT, "aws")
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN = PolicyAssociation(ADMIN_POLICY)
VIEW_DEV = PolicyAssociation(VIEW_POLICY, AccessScope(ScopeType.NAMESPACE, ("dev", "team-*")))
ENTRY, ASSOC = "aws_eks_access_entry", "aws_eks_access_policy_association"


def planned(spec: AccessEntrySpec, action: EntryAction = EntryAction.CREATE) -> PlannedEntry:
    current = spec if action is not EntryAction.CREATE else None
    if action is EntryAction.REPAIR_NODE_TYPE:
        current = AccessEntrySpec(spec.principal_arn, EntryType.EC2_LINUX)
    return PlannedEntry(spec, action, None, current)


def make_plan(*entries: PlannedEntry, cluster: ClusterRef = CLUSTER, findings: tuple[Finding, ...] = ()) -> Plan:
    fingerprint = Fingerprint("sha", "1", AuthMode.CONFIG_MAP, "sha", offline=False)
    return Plan(cluster, AuthMode.CONFIG_MAP, AuthMode.API, fingerprint, tuple(entries), findings, ())


def eks_creates(arn: str) -> Finding:
    return Finding("EKS_CREATES_ENTRY", Severity.INFO, "EKS creates it", arn)


# One plan with every kind of entry: created (with and without policies), adopted (namespace scope),
# repaired (Windows node role), made by EKS (node group), skipped, a user and a cross-account role.
PLAN = make_plan(
    planned(AccessEntrySpec(role("Admin"), username="admin:{{SessionName}}", groups=("oncall",), policies=(ADMIN,))),
    planned(AccessEntrySpec(role("Dev"), username="dev:{{SessionName}}", groups=("developers", "readers"))),
    planned(AccessEntrySpec(user("maria"), username="maria")),
    planned(AccessEntrySpec(role("Deployer", OTHER_ACCOUNT), policies=(ADMIN,))),
    planned(AccessEntrySpec(role("teams/Viewer"), policies=(VIEW_DEV,)), EntryAction.ADOPT),
    planned(AccessEntrySpec(role("WinNodes"), EntryType.EC2_WINDOWS), EntryAction.REPAIR_NODE_TYPE),
    planned(AccessEntrySpec(role("Nodes"), EntryType.EC2_LINUX), EntryAction.ADOPT),
    planned(AccessEntrySpec(role("Dead"), username="x"), EntryAction.SKIP),
    findings=(eks_creates(role("Nodes")),),
)


def terraform(plan: Plan = PLAN, **options: object) -> tuple[str, str]:
    include = bool(options.pop("include_eks_managed", False))
    exported = export_terraform(select_entries(plan, include_eks_managed=include), **options)  # type: ignore[arg-type]
    return exported.entries_tf, exported.imports_tf


def test_every_entry_and_association_is_a_resource_with_an_import_block_in_the_providers_id_format() -> None:
    entries_tf, imports_tf = terraform()
    resources, imports = parse_terraform(entries_tf + imports_tf)
    assert resources[ENTRY] == {
        "role_admin": {
            "cluster_name": "prod",
            "principal_arn": role("Admin"),
            "type": "STANDARD",
            "user_name": "admin:{{SessionName}}",
            "kubernetes_groups": ["oncall"],
        },
        "role_dev": {
            "cluster_name": "prod",
            "principal_arn": role("Dev"),
            "type": "STANDARD",
            "user_name": "dev:{{SessionName}}",
            "kubernetes_groups": ["developers", "readers"],
        },
        "user_maria": {
            "cluster_name": "prod",
            "principal_arn": user("maria"),
            "type": "STANDARD",
            "user_name": "maria",
        },
        f"role_deployer_{OTHER_ACCOUNT}": {
            "cluster_name": "prod",
            "principal_arn": role("Deployer", OTHER_ACCOUNT),
            "type": "STANDARD",
        },
        "role_viewer": {"cluster_name": "prod", "principal_arn": role("teams/Viewer"), "type": "STANDARD"},
        "role_winnodes": {"cluster_name": "prod", "principal_arn": role("WinNodes"), "type": "EC2_WINDOWS"},
    }
    assert resources[ASSOC] == {
        "role_admin__cluster_admin": {
            "cluster_name": "prod",
            "principal_arn": "${aws_eks_access_entry.role_admin.principal_arn}",
            "policy_arn": ADMIN_POLICY,
            "access_scope": [{"type": "cluster"}],
        },
        f"role_deployer_{OTHER_ACCOUNT}__cluster_admin": {
            "cluster_name": "prod",
            "principal_arn": f"${{aws_eks_access_entry.role_deployer_{OTHER_ACCOUNT}.principal_arn}}",
            "policy_arn": ADMIN_POLICY,
            "access_scope": [{"type": "cluster"}],
        },
        "role_viewer__view": {
            "cluster_name": "prod",
            "principal_arn": "${aws_eks_access_entry.role_viewer.principal_arn}",
            "policy_arn": VIEW_POLICY,
            "access_scope": [{"type": "namespace", "namespaces": ["dev", "team-*"]}],
        },
    }
    assert imports == {
        "aws_eks_access_entry.role_admin": f"prod:{role('Admin')}",
        "aws_eks_access_entry.role_dev": f"prod:{role('Dev')}",
        "aws_eks_access_entry.user_maria": f"prod:{user('maria')}",
        f"aws_eks_access_entry.role_deployer_{OTHER_ACCOUNT}": f"prod:{role('Deployer', OTHER_ACCOUNT)}",
        "aws_eks_access_entry.role_viewer": f"prod:{role('teams/Viewer')}",
        "aws_eks_access_entry.role_winnodes": f"prod:{role('WinNodes')}",
        "aws_eks_access_policy_association.role_admin__cluster_admin": f"prod#{role('Admin')}#{ADMIN_POLICY}",
        f"aws_eks_access_policy_association.role_deployer_{OTHER_ACCOUNT}__cluster_admin": (
            f"prod#{role('Deployer', OTHER_ACCOUNT)}#{ADMIN_POLICY}"
        ),
        "aws_eks_access_policy_association.role_viewer__view": f"prod#{role('teams/Viewer')}#{VIEW_POLICY}",
    }


def test_entries_eks_manages_are_listed_in_a_comment_unless_asked_for() -> None:
    entries_tf, _ = terraform()
    assert f"#   {role('Nodes')} (EC2_LINUX)" in entries_tf
    resources, imports = parse_terraform("\n".join(terraform(include_eks_managed=True)))
    assert resources[ENTRY]["role_nodes"] == {
        "cluster_name": "prod",
        "principal_arn": role("Nodes"),
        "type": "EC2_LINUX",
    }
    assert imports["aws_eks_access_entry.role_nodes"] == f"prod:{role('Nodes')}"
    assert "--include-eks-managed to manage" not in terraform(include_eks_managed=True)[0]


def test_the_same_plan_gives_the_same_bytes_whatever_the_order_of_aws_auth() -> None:
    first = terraform()
    assert terraform() == first
    shuffled = dataclasses.replace(PLAN, entries=tuple(reversed(PLAN.entries)))
    assert terraform(shuffled) == first


def test_the_cluster_name_expression_goes_into_resources_and_import_ids_keep_the_literal_name() -> None:
    resources, imports = parse_terraform("\n".join(terraform(cluster_name_expr="module.eks.cluster_name")))
    names = {args["cluster_name"] for named in resources.values() for args in named.values()}
    assert names == {"${module.eks.cluster_name}"}
    assert all(i.startswith("prod:") or i.startswith("prod#") for i in imports.values())


@pytest.mark.parametrize(
    "expression",
    ["module.eks.cluster_name", "var.cluster_name", "aws_eks_cluster.this[0].name", 'module.eks["a"].cluster_name'],
)
def test_references_are_accepted_as_cluster_name_expressions(expression: str) -> None:
    resources, _ = parse_terraform(terraform(cluster_name_expr=expression)[0])
    assert resources[ENTRY]["role_admin"]["cluster_name"] == "${" + expression + "}"


@pytest.mark.parametrize(
    "expression",
    ["prod", '"prod"', "module.eks.cluster_name\n}", "lower(var.name)", "var.x # y", "${var.x}", "", "var..x", "1a.b"],
)
def test_anything_but_a_reference_is_refused_as_cluster_name_expression(expression: str) -> None:
    with pytest.raises(InputError, match="not a Terraform reference"):
        terraform(cluster_name_expr=expression)


def test_a_name_sanitising_changes_carries_its_arns_hash_and_a_plain_one_stays_plain() -> None:
    alike = [role("ci.bot"), role("ci-bot"), role("ci_bot"), role("CI+Bot")]
    plan = make_plan(*(planned(AccessEntrySpec(arn, policies=(ADMIN,))) for arn in [*alike, role("Dev")]))
    resources, imports = parse_terraform("\n".join(terraform(plan)))
    by_arn = {args["principal_arn"]: name for name, args in resources[ENTRY].items()}
    assert len(set(by_arn.values())) == 5 and by_arn[role("Dev")] == "role_dev"
    assert (by_arn[role("ci_bot")], by_arn[role("ci-bot")]) == ("role_ci_bot", "role_ci-bot")  # they read back
    for lossy in (role("ci.bot"), role("CI+Bot")):
        assert by_arn[lossy] == "role_ci_bot_" + hashlib.sha256(lossy.encode()).hexdigest()[:8]
    assert len(resources[ASSOC]) == 5 and len(imports) == 10


def test_adding_a_principal_that_sanitises_alike_renames_nobody() -> None:
    """Issue 20 #12: `role/ci.bot` was `role_ci_bot` until `role/ci-bot` joined; then both got a hash, and
    Terraform would have destroyed and re-created ci.bot's entry and association."""
    before = make_plan(planned(AccessEntrySpec(role("ci.bot"), policies=(ADMIN,))))
    after = make_plan(*(planned(AccessEntrySpec(role(n), policies=(ADMIN,))) for n in ("ci.bot", "ci-bot", "ci_bot")))
    old, _ = parse_terraform(terraform(before)[0])
    new, _ = parse_terraform(terraform(after)[0])
    assert set(old[ENTRY]) <= set(new[ENTRY]) and set(old[ASSOC]) <= set(new[ASSOC])
    assert len(new[ENTRY]) == 3


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        (role("x_444455556666"), None),  # would be the other account's role x
        (role("x", OTHER_ACCOUNT), f"role_x_{OTHER_ACCOUNT}"),
        (role("build_0a1b2c3d"), None),  # looks like another name's hash suffix
        (role("0a1b2c3d"), None),  # so does a whole name (a name that sanitises to nothing gets role_<hash>)
        (role("AWSReservedSSO_Admin_0123456789abcdef"), "role_awsreservedsso_admin_0123456789abcdef"),
        (role("teams/platform/Admin"), "role_admin"),  # IAM names are unique per account, whatever the path
        (role("a__b"), None),
        (role("-a"), None),
        (user("maria@example.com"), None),
    ],
)
def test_which_names_are_plain(arn: str, name: str | None) -> None:
    expected = name or f"{terraform_name(principal_words(arn, ACCOUNT))}_{hashlib.sha256(arn.encode()).hexdigest()[:8]}"
    assert terraform_names([arn], ACCOUNT) == {arn: expected}


_IAM_NAME = st.text(st.sampled_from("abcAB019_-.+=,@"), min_size=1, max_size=12)
_PRINCIPALS = st.lists(
    st.builds(
        lambda kind, name, account: f"arn:aws:iam::{account}:{kind}/{name}",
        st.sampled_from(["role", "user"]),
        _IAM_NAME | st.sampled_from(["a_0a1b2c3d", "a", "0a1b2c3d", f"a_{OTHER_ACCOUNT}", "a.b", "a-b", "a_b", "A"]),
        st.sampled_from([ACCOUNT, OTHER_ACCOUNT]),
    ),
    max_size=12,
)


def _one_per_iam_principal(arns: list[str]) -> list[str]:
    """IAM names are unique per account and kind regardless of case: one spelling each."""
    first: dict[str, str] = {}
    for arn in arns:
        first.setdefault(arn.lower(), arn)
    return list(first.values())


@given(_PRINCIPALS, _PRINCIPALS)
@settings(max_examples=300, deadline=None)
def test_adding_principals_never_renames_the_ones_there(existing: list[str], added: list[str]) -> None:
    existing = _one_per_iam_principal(existing)
    both = _one_per_iam_principal(existing + added)
    for names in (terraform_names, logical_ids):
        before, after = names(existing, ACCOUNT), names(both, ACCOUNT)
        assert {arn: after[arn] for arn in existing} == before
        assert len({name.lower() for name in after.values()}) == len(after)  # unique, case aside
        assert all(name == names([arn], ACCOUNT)[arn] for arn, name in after.items())  # from the principal alone
    assert all(
        re.fullmatch(r"[a-z][a-z0-9_-]*", name) and "__" not in name for name in terraform_names(both, ACCOUNT).values()
    )
    assert all(re.fullmatch(r"[A-Za-z0-9]+", name) for name in logical_ids(both, ACCOUNT).values())


def test_a_china_plan_keeps_its_partition_in_every_arn() -> None:
    china = ClusterRef("prod", "cn-north-1", ACCOUNT, "aws-cn")
    admin_cn = "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    admin_role = f"arn:aws-cn:iam::{ACCOUNT}:role/Admin"
    plan = make_plan(planned(AccessEntrySpec(admin_role, policies=(PolicyAssociation(admin_cn),))), cluster=china)
    resources, imports = parse_terraform("\n".join(terraform(plan)))
    assert resources[ASSOC]["role_admin__cluster_admin"]["policy_arn"] == admin_cn
    assert imports == {
        "aws_eks_access_entry.role_admin": f"prod:{admin_role}",
        "aws_eks_access_policy_association.role_admin__cluster_admin": f"prod#{admin_role}#{admin_cn}",
    }
    assert "arn:aws:" not in "\n".join(terraform(plan))


def test_a_policy_of_another_partition_is_refused() -> None:
    china = ClusterRef("prod", "cn-north-1", ACCOUNT, "aws-cn")
    plan = make_plan(planned(AccessEntrySpec(f"arn:aws-cn:iam::{ACCOUNT}:role/A", policies=(ADMIN,))), cluster=china)
    with pytest.raises(InputError, match="not an EKS access policy of partition aws-cn"):
        terraform(plan)


@pytest.mark.parametrize(
    "spec",
    [
        AccessEntrySpec('arn:aws:iam::111122223333:role/x"\n}'),
        AccessEntrySpec("arn:aws:sts::111122223333:assumed-role/Admin/me"),
        AccessEntrySpec(role("A"), policies=(PolicyAssociation('arn:aws:eks::aws:cluster-access-policy/X"'),)),
        AccessEntrySpec(
            role("A"), policies=(PolicyAssociation(ADMIN_POLICY, AccessScope(ScopeType.NAMESPACE, ("a b",))),)
        ),
    ],
)
def test_what_a_plan_cannot_hold_is_refused_not_rendered(spec: AccessEntrySpec) -> None:
    with pytest.raises(InputError):
        terraform(make_plan(planned(spec)))


def test_usernames_and_groups_survive_hcl_escaping() -> None:
    username = 'a"b\\c ${d} %{e} $${f} {{SessionName}}\nx'
    groups = ("g${h}", 'q"', "tab\there")
    plan = make_plan(planned(AccessEntrySpec(role("Odd"), username=username, groups=groups)))
    resources, _ = parse_terraform(terraform(plan)[0])
    assert resources[ENTRY]["role_odd"]["user_name"] == username
    assert resources[ENTRY]["role_odd"]["kubernetes_groups"] == list(groups)


def test_an_offline_plan_is_refused() -> None:
    offline = dataclasses.replace(PLAN, fingerprint=dataclasses.replace(PLAN.fingerprint, offline=True))
    with pytest.raises(InputError, match="offline plan"):
        select_entries(offline)


def test_every_association_carries_the_replacement_note() -> None:
    entries_tf, _ = terraform()
    assert "forces replacement" in entries_tf and "destroy-then-create" in entries_tf
    assert entries_tf.count("Any change to this resource replaces it (destroy, then create)") == 3


def test_a_planned_entry_apply_kept_as_eks_made_it_for_the_creator_is_exported_as_eks_made_it() -> None:
    exported = export_terraform(select_entries(PLAN, creator_entries=frozenset({role("Admin")})))
    resources, imports = parse_terraform(exported.combined())
    # STANDARD, EKS's default username (left out: the provider reads it back), no groups, cluster-admin only.
    assert resources[ENTRY]["role_admin"] == {
        "cluster_name": "prod",
        "principal_arn": role("Admin"),
        "type": "STANDARD",
    }
    assert resources[ASSOC]["role_admin__cluster_admin"]["policy_arn"] == ADMIN_POLICY
    assert imports["aws_eks_access_entry.role_admin"] == f"prod:{role('Admin')}"
    assert "the cluster creator's admin entry" in exported.entries_tf


TRICKY = st.text(alphabet='${}%\\"\n\r\t\x00\x7f\x85 a:', max_size=20)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


# python-hcl2 reads `$${...}` and `%%{...}` as one token (its grammar: /\$\$\{[^}]*\}/): it needs the `}` and
# does not decode escapes inside; HCL itself does both (hashicorp/hcl scan_tokens.rl: TemplateNotInterp =
# '$' (^'{' | TemplateInterp), then ordinary literal characters). Such strings are left to the examples above.
_HCL2_LIMITS = re.compile(r'[$%]\{(?:[^}]*[\\"\x00-\x1f\x7f-\x9f]|[^}]*\Z)')


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.one_of(TRICKY, ANY_TEXT))
def test_any_string_reads_back_from_hcl_as_written(text: str) -> None:
    assume(not _HCL2_LIMITS.search(text))
    resources, _ = parse_terraform(f'resource "t" "n" {{\n  x = {hcl.string(text)}\n}}\n')
    assert resources["t"]["n"]["x"] == text
