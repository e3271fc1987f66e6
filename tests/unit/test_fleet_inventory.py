"""The inventory file: defaults and overrides, `{account}` in roleArn, and every error as FILE:LINE."""

from __future__ import annotations

import pytest

from migrator.errors import InputError, SourceError
from migrator.fleet.inventory import parse_inventory
from migrator.fleet.selection import select
from migrator.model import AuthMode

FILE = "fleet.yaml"

# Line numbers matter below: keep this text's layout in step with the tests.
VALID = """\
schema: aws-auth-migrate/inventory/v1
defaults: {region: eu-west-1, target: API, profile: ops, roleArn: "arn:aws:iam::{account}:role/migrator",
           account: "111122223333"}
clusters:
  - {name: prod-eu}
  - {name: prod-us, region: us-west-2, labels: {tier: prod}}
  - name: dev-eu
    account: "444455556666"
    target: API_AND_CONFIG_MAP
    profile: dev
    maxConcurrency: 2
    labels: {tier: dev, team: web}
"""


def test_defaults_apply_to_every_cluster_and_each_may_override_them() -> None:
    inventory = parse_inventory(VALID, FILE)
    eu, us, dev = inventory.clusters
    assert (eu.name, eu.region, eu.account, eu.profile, eu.target, eu.max_concurrency, eu.remove_aws_auth) == (
        "prod-eu", "eu-west-1", "111122223333", "ops", AuthMode.API, 8, False,
    )  # fmt: skip
    assert eu.role_arn == "arn:aws:iam::111122223333:role/migrator"
    assert (us.region, dict(us.labels), us.line, us.index) == ("us-west-2", {"tier": "prod"}, 6, 1)
    assert dev.role_arn == "arn:aws:iam::444455556666:role/migrator"  # {account} is the cluster's own
    assert (dev.target, dev.profile, dev.max_concurrency) == (AuthMode.API_AND_CONFIG_MAP, "dev", 2)
    assert dev.identity == "444455556666/eu-west-1/dev-eu"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("schema: aws-auth-migrate/inventory/v2\nclusters: [{name: a, region: eu-west-1}]\n", 1, "schema must be"),
        ("schema: aws-auth-migrate/inventory/v1\nclusters: []\n", 2, "non-empty list"),
        ("schema: aws-auth-migrate/inventory/v1\nclusters:\n  - {name: a}\n", 3, "has no region"),
        (
            "schema: aws-auth-migrate/inventory/v1\nclusters:\n  - name: a\n    region: eu-west-1\n    colour: red\n",
            5,
            "unknown key 'colour'",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\ndefaults: {region: eu-west-1}\nclusters:\n  - {name: a}\n"
            "  - {name: b}\n  - {name: a}\n",
            6,
            "listed twice (first at line 4)",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\ndefaults:\n  region: eu-west-1\n  account: 111122223333\n"
            "clusters: [{name: a}]\n",
            4,
            "must be a string",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\ndefaults:\n  region: eu-west-1\n"
            "  roleArn: 'arn:aws:iam::{account}:role/m'\nclusters: [{name: a}]\n",
            4,
            "no account",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\nclusters:\n  - name: a\n    region: eu-west-1\n"
            "    target: CONFIG_MAP\n",
            5,
            "target must be one of",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\nclusters:\n  - name: -bad\n    region: eu-west-1\n",
            3,
            "not an EKS cluster name",
        ),
        ("schema: aws-auth-migrate/inventory/v1\nclusters:\n  - name: a\n    region: Europe\n", 4, "not an AWS region"),
        (
            "schema: aws-auth-migrate/inventory/v1\nclusters:\n  - name: a\n    region: eu-west-1\n"
            "    removeAwsAuth: true\n",
            5,
            "needs target API",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\nclusters:\n  - name: a\n    region: eu-west-1\n"
            "    target: API\n    acceptManagedAwsAuth: true\n",
            6,
            "acceptManagedAwsAuth needs removeAwsAuth: true",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\nclusters:\n  - name: a\n    region: eu-west-1\n"
            "    acceptManagedAwsAuth: yes-please\n",
            5,
            "acceptManagedAwsAuth must be true or false",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\nclusters:\n  - name: a\n    region: eu-west-1\n"
            "    labels: {tier: 1}\n",
            5,
            "must be a string",
        ),
        (
            "schema: aws-auth-migrate/inventory/v1\ndefaults: {region: eu-west-1, maxConcurrency: 0}\n"
            "clusters: [{name: a}]\n",
            2,
            "maxConcurrency",
        ),
        ("schema: aws-auth-migrate/inventory/v1\nclusters:\n  - {name: a, region: [eu\n", 4, "not valid YAML"),
    ],
)
def test_a_bad_inventory_names_the_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_inventory(text, FILE)
    assert caught.value.line == line, caught.value
    assert str(caught.value).startswith(f"{FILE}:{line}: ")
    assert words in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("selectors", "names"),
    [
        ((), ["prod-eu", "prod-us", "dev-eu"]),
        (("prod-*",), ["prod-eu", "prod-us"]),
        (("tier=prod",), ["prod-us"]),
        (("tier=*",), ["prod-us", "dev-eu"]),
        (("*-eu", "team=web"), ["prod-eu", "dev-eu"]),
    ],
)
def test_select_picks_by_name_glob_or_label_in_inventory_order(selectors: tuple[str, ...], names: list[str]) -> None:
    assert [c.name for c in select(parse_inventory(VALID, FILE), selectors)] == names


def test_a_selector_that_matches_nothing_is_bad_input() -> None:
    with pytest.raises(InputError, match="matches no cluster"):
        select(parse_inventory(VALID, FILE), ("staging-*",))


def test_the_documented_inventory_example_is_a_valid_inventory() -> None:
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "fleet.md").read_text()
    example = next(block for block in guide.split("```yaml\n")[1:] if "inventory/v1" in block).split("```")[0]
    clusters = parse_inventory(example, "docs/fleet.md").clusters
    assert [(c.name, c.region, c.account, c.role_arn) for c in clusters] == [
        ("prod-eu", "eu-west-1", "111122223333", "arn:aws:iam::111122223333:role/migrator"),
        ("prod-us", "us-west-2", "111122223333", "arn:aws:iam::111122223333:role/migrator"),
        ("data-eu", "eu-west-1", "444455556666", "arn:aws:iam::444455556666:role/migrator"),
    ]


TWINS = """\
schema: aws-auth-migrate/inventory/v1
defaults: {region: eu-west-1, account: "111122223333"}
clusters:
  - {name: prod}
  - {name: prod, account: "444455556666"}
  - {name: prod, region: us-east-1}
  - {name: solo}
"""


def test_the_same_name_in_two_accounts_or_regions_is_two_clusters_with_their_own_folders() -> None:
    clusters = parse_inventory(TWINS, FILE).clusters
    assert [c.directory for c in clusters] == [
        "111122223333/eu-west-1/prod",
        "444455556666/eu-west-1/prod",
        "111122223333/us-east-1/prod",
        "111122223333/eu-west-1/solo",
    ]
    assert [c.label for c in clusters] == [
        "prod (111122223333/eu-west-1)",
        "prod (444455556666/eu-west-1)",
        "prod (111122223333/us-east-1)",
        "solo",
    ]
    assert len({c.identity for c in clusters}) == 4


def test_a_clusters_folder_depends_on_its_identity_alone_not_on_the_rest_of_the_inventory() -> None:
    alone = parse_inventory(TWINS.replace("  - {name: prod}\n", ""), FILE).clusters
    reordered = parse_inventory(
        TWINS.replace("  - {name: solo}\n", "").replace("clusters:\n", "clusters:\n  - {name: solo}\n"), FILE
    ).clusters
    folders = {c.identity: c.directory for c in parse_inventory(TWINS, FILE).clusters}
    for cluster in (*alone, *reordered):
        assert cluster.directory == folders[cluster.identity]
    alone_without_account = TWINS.replace(', account: "111122223333"', "").replace(
        '  - {name: prod, account: "444455556666"}\n', ""
    )
    no_account = parse_inventory(alone_without_account, FILE).clusters[0]
    assert no_account.directory == "no-account/eu-west-1/prod"


def test_the_same_account_region_and_name_twice_is_refused() -> None:
    text = TWINS + '  - {name: prod, account: "444455556666"}\n'
    with pytest.raises(SourceError) as caught:
        parse_inventory(text, FILE)
    assert "fleet.yaml:8: cluster 'prod' in eu-west-1 (account 444455556666) is listed twice (first at line 5)" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("entries", "line", "words"),
    [
        # once with its account, once without (its credentials decide which account it is): the same cluster
        (
            '  - {name: prod, account: "111122223333"}\n  - {name: prod}\n',
            5,
            "this entry has no account (its credentials decide which account it is), line 4 has account 111122223333",
        ),
        (
            '  - {name: prod}\n  - {name: prod, account: "111122223333"}\n',
            5,
            "this entry has account 111122223333, line 4 has no account",
        ),
        ('  - {name: prod, account: "111122223333"}\n  - {name: prod, profile: other}\n', 5, "has no account"),
        # without an account, but with a role in that account: it can only be that account's cluster
        (
            '  - {name: prod, account: "111122223333"}\n'
            '  - {name: prod, roleArn: "arn:aws:iam::111122223333:role/m"}\n',
            5,
            "no account, but a roleArn in account 111122223333, line 4 has account 111122223333",
        ),
    ],
    ids=["with-then-without", "without-then-with", "without-with-a-profile", "without-with-its-role"],
)
def test_two_entries_that_can_be_the_same_cluster_are_refused(entries: str, line: int, words: str) -> None:
    text = f"schema: aws-auth-migrate/inventory/v1\ndefaults: {{region: eu-west-1}}\nclusters:\n{entries}"
    with pytest.raises(SourceError) as caught:
        parse_inventory(text, FILE)
    assert str(caught.value).startswith(f"{FILE}:{line}: cluster 'prod' in eu-west-1 ")
    assert words in str(caught.value) and caught.value.exit_code == 2
    assert caught.value.hint is not None and "account" in caught.value.hint


def test_entries_without_an_account_whose_roles_are_in_other_accounts_are_other_clusters() -> None:
    text = (
        "schema: aws-auth-migrate/inventory/v1\ndefaults: {region: eu-west-1}\nclusters:\n"
        '  - {name: prod, account: "111122223333"}\n'
        '  - {name: prod, roleArn: "arn:aws:iam::444455556666:role/m"}\n'
        "  - {name: prod, region: us-east-1}\n"
    )
    clusters = parse_inventory(text, FILE).clusters
    assert [c.directory for c in clusters] == [
        "111122223333/eu-west-1/prod",
        "no-account/eu-west-1/prod",
        "no-account/us-east-1/prod",
    ]


def test_accept_managed_aws_auth_reaches_the_cluster_from_the_defaults() -> None:
    text = (
        "schema: aws-auth-migrate/inventory/v1\n"
        "defaults: {region: eu-west-1, target: API, removeAwsAuth: true, acceptManagedAwsAuth: true}\n"
        "clusters: [{name: a}, {name: b, acceptManagedAwsAuth: false}]\n"
    )
    assert [c.accept_managed_aws_auth for c in parse_inventory(text, FILE).clusters] == [True, False]
