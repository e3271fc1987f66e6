"""The aws-auth parser: what it accepts, and where (file:line) it points for everything it refuses.

Line numbers in the expectations are counted by hand from the documents written next to them; `doc()` puts a
six-line ConfigMap header in front, so the first data line is line 7.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest

from migrator.awsauth import (
    MAX_BYTES,
    data_sha256,
    load_aws_auth_file,
    parse_aws_auth,
    parse_configmap_object,
)
from migrator.errors import SourceError
from migrator.model import AccountMapping, AwsAuth, Mapping, Section, SourceRef

EXAMPLES = Path(__file__).resolve().parents[2] / "plans" / "examples"
F = "aws-auth.yaml"

HEAD = [
    "apiVersion: v1",  # 1
    "kind: ConfigMap",  # 2
    "metadata:",  # 3
    "  name: aws-auth",  # 4
    "  namespace: kube-system",  # 5
    "data:",  # 6
]


def doc(*lines: str) -> str:
    """A ConfigMap whose data section holds `lines`; the first of them is line 7."""
    return "\n".join([*HEAD, *lines]) + "\n"


ROLE_A = "arn:aws:iam::111122223333:role/A"
ROLE_B = "arn:aws:iam::111122223333:role/B"
USER_U = "arn:aws:iam::111122223333:user/u"


def summary(aws_auth: AwsAuth) -> list[tuple[Any, ...]]:
    """Each mapping as (section, index, line, arn, username, groups, unknown keys, sso)."""
    return [
        (m.section.value, m.source.index, m.source.line, m.arn, m.username, m.groups, m.unknown_keys, m.sso)
        for m in aws_auth.mappings
    ]


def accounts(aws_auth: AwsAuth) -> list[tuple[str, int, int | None]]:
    return [(a.account, a.source.index, a.source.line) for a in aws_auth.map_accounts]


# --- valid input ------------------------------------------------------------------------------------------

VALID: list[tuple[str, str, list[tuple[Any, ...]]]] = [
    (
        "block scalars, two sections",
        doc(
            "  mapRoles: |",  # 7
            f"    - rolearn: {ROLE_A}",  # 8
            "      username: a:{{SessionName}}",  # 9
            "      groups:",  # 10
            "        - system:masters",  # 11
            "        - ops",  # 12
            f"    - rolearn: {ROLE_B}",  # 13
            "  mapUsers: |",  # 14
            f"    - userarn: {USER_U}",  # 15
            "      username: u",  # 16
        ),
        [
            ("mapRoles", 0, 8, ROLE_A, "a:{{SessionName}}", ("system:masters", "ops"), (), False),
            ("mapRoles", 1, 13, ROLE_B, None, (), (), False),
            ("mapUsers", 0, 15, USER_U, "u", (), (), False),
        ],
    ),
    (
        "case-insensitive keys keep the ARN as written",
        doc(
            "  mapRoles: |",  # 7
            "    - RoleARN: arn:aws:iam::111122223333:role/MixedCase",  # 8
            "      UserName: m",  # 9
            "      GROUPS: [g]",  # 10
            "    - rOlEaRn: arn:aws:iam::111122223333:role/X",  # 11
        ),
        [
            ("mapRoles", 0, 8, "arn:aws:iam::111122223333:role/MixedCase", "m", ("g",), (), False),
            ("mapRoles", 1, 11, "arn:aws:iam::111122223333:role/X", None, (), (), False),
        ],
    ),
    (
        "unknown keys are kept, in order, not refused",
        doc(
            "  mapUsers: |",  # 7
            f"    - userarn: {USER_U}",  # 8
            "      userid: AIDAEXAMPLE",  # 9
            "      gruops: [ops]",  # 10
            "      groups: [dev]",  # 11
        ),
        [("mapUsers", 0, 8, USER_U, None, ("dev",), ("userid", "gruops"), False)],
    ),
    (
        "sso form",
        doc(
            "  mapRoles: |",  # 7
            "    - sso:",  # 8
            "        permissionSetName: Admin",  # 9
            '        accountID: "111122223333"',  # 10
            "        permissionSetPath: /x/",  # 11
            "      username: sso:{{SessionName}}",  # 12
            "      groups: [system:masters]",  # 13
            "    - SSO: {PermissionSetName: ReadOnly, AccountId: '444455556666', partition: aws}",  # 14
        ),
        [
            (
                "mapRoles",
                0,
                8,
                "sso:111122223333:Admin",
                "sso:{{SessionName}}",
                ("system:masters",),
                ("sso.permissionSetPath",),
                True,
            ),
            ("mapRoles", 1, 14, "sso:444455556666:ReadOnly", None, (), (), True),
        ],
    ),
    (
        "duplicates are kept in order (the translator decides who wins)",
        doc(
            "  mapRoles: |",  # 7
            f"    - rolearn: {ROLE_A}",  # 8
            "      groups: [one]",  # 9
            f"    - rolearn: {ROLE_A}",  # 10
            "      groups: [two]",  # 11
            "  mapUsers: |",  # 12
            "    - userarn: arn:aws:iam::111122223333:user/Bob",  # 13
            "    - userarn: arn:aws:iam::111122223333:user/bob",  # 14
        ),
        [
            ("mapRoles", 0, 8, ROLE_A, None, ("one",), (), False),
            ("mapRoles", 1, 10, ROLE_A, None, ("two",), (), False),
            ("mapUsers", 0, 13, "arn:aws:iam::111122223333:user/Bob", None, (), (), False),
            ("mapUsers", 1, 14, "arn:aws:iam::111122223333:user/bob", None, (), (), False),
        ],
    ),
    (
        "kinds the translator judges still parse: STS, root, user under mapRoles, path, other partition",
        doc(
            "  mapRoles: |",  # 7
            "    - rolearn: arn:aws:sts::111122223333:assumed-role/Admin/alice",  # 8
            "    - rolearn: arn:aws:iam::111122223333:user/u",  # 9
            "    - rolearn: arn:aws:iam::111122223333:role/teams/dev/Dev",  # 10
            "    - rolearn: arn:aws-cn:iam::111122223333:role/cn",  # 11
            "  mapUsers: |",  # 12
            "    - userarn: arn:aws:iam::111122223333:root",  # 13
            "    - userarn: arn:aws:iam::111122223333:role/R",  # 14
        ),
        [
            ("mapRoles", 0, 8, "arn:aws:sts::111122223333:assumed-role/Admin/alice", None, (), (), False),
            ("mapRoles", 1, 9, "arn:aws:iam::111122223333:user/u", None, (), (), False),
            ("mapRoles", 2, 10, "arn:aws:iam::111122223333:role/teams/dev/Dev", None, (), (), False),
            ("mapRoles", 3, 11, "arn:aws-cn:iam::111122223333:role/cn", None, (), (), False),
            ("mapUsers", 0, 13, "arn:aws:iam::111122223333:root", None, (), (), False),
            ("mapUsers", 1, 14, "arn:aws:iam::111122223333:role/R", None, (), (), False),
        ],
    ),
    (
        "empty username is kept, null username and null groups are absent, quoted scalars",
        doc(
            "  mapRoles: |",  # 7
            f"    - rolearn: '{ROLE_A}'",  # 8
            '      username: ""',  # 9
            "      groups: []",  # 10
            f'    - rolearn: "{ROLE_B}"',  # 11
            "      username:",  # 12
            "      groups: ~",  # 13
            f"    - rolearn: {ROLE_B}",  # 14
            "      groups: ['on', \"yes\", '12']",  # 15
        ),
        [
            ("mapRoles", 0, 8, ROLE_A, "", (), (), False),
            ("mapRoles", 1, 11, ROLE_B, None, (), (), False),
            ("mapRoles", 2, 14, ROLE_B, None, ("on", "yes", "12"), (), False),
        ],
    ),
    (
        "blank lines and comments inside a block keep their lines",
        doc(
            "  mapRoles: |+",  # 7
            "",  # 8
            "    # first the nodes",  # 9
            "    -",  # 10
            f"      rolearn: {ROLE_A}",  # 11
            "",  # 12
            f"    - {{rolearn: {ROLE_B}, groups: [a, b]}}",  # 13
        ),
        [
            ("mapRoles", 0, 11, ROLE_A, None, (), (), False),
            ("mapRoles", 1, 13, ROLE_B, None, ("a", "b"), (), False),
        ],
    ),
    (
        "a quoted value (kubectl prints one when a line has trailing spaces) points at its key",
        doc(
            f'  mapRoles: "- rolearn: {ROLE_A}\\n  groups: [a]   \\n- rolearn: {ROLE_B}\\n"',  # 7
            "  mapUsers: |-",  # 8
            f"    - userarn: {USER_U}",  # 9
        ),
        [
            ("mapRoles", 0, 7, ROLE_A, None, ("a",), (), False),
            ("mapRoles", 1, 7, ROLE_B, None, (), (), False),
            ("mapUsers", 0, 9, USER_U, None, (), (), False),
        ],
    ),
    (
        "the data key before the block does not matter, nor does a flow sequence",
        doc(
            "  other: x",  # 7
            "  mapUsers: |",  # 8
            f"    [{{userarn: {USER_U}, username: u, groups: [g1, g2]}}]",  # 9
        ),
        [("mapUsers", 0, 9, USER_U, "u", ("g1", "g2"), (), False)],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in VALID], ids=[i for i, _, _ in VALID])
def test_valid(text: str, expected: list[tuple[Any, ...]]) -> None:
    aws_auth = parse_aws_auth(text, F)
    assert summary(aws_auth) == expected
    assert all(m.source.file == F for m in aws_auth.mappings)
    assert aws_auth.file == F


@pytest.mark.parametrize(
    ("data", "roles", "users", "accounts"),
    [
        ("  mapRoles: ''", 0, 0, 0),
        ("  mapRoles:", 0, 0, 0),  # null: what the API server stores as ""
        ("  mapRoles: '[]'", 0, 0, 0),
        ("  mapRoles: |\n    # nothing yet", 0, 0, 0),
        ("  mapRoles: '``'\n  mapUsers: '\"\"'\n  mapAccounts: '  '", 0, 0, 0),
        ("  mapAccounts: '~'", 0, 0, 0),
    ],
)
def test_empty_sections(data: str, roles: int, users: int, accounts: int) -> None:
    aws_auth = parse_aws_auth(doc(data), F)
    assert (len(aws_auth.map_roles), len(aws_auth.map_users), len(aws_auth.map_accounts)) == (roles, users, accounts)


@pytest.mark.parametrize("data", ["", "data:\n", "data: {}\n"])
def test_configmap_without_data_is_empty(data: str) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n" + data
    assert parse_aws_auth(text, F) == AwsAuth(sha256=data_sha256({}), file=F)


def test_map_accounts_reads_the_text_as_written() -> None:
    # yaml.v2 decodes a scalar into a Go string as its raw text: unquoted ids work in the cluster.
    text = doc(
        "  mapAccounts: |",  # 7
        "    - 111122223333",  # 8
        '    - "444455556666"',  # 9
        "    - 012345678901",  # 10 (YAML 1.2 would read the number 12345678901)
        "    - '777788889999'",  # 11
    )
    assert accounts(parse_aws_auth(text, F)) == [
        ("111122223333", 0, 8),
        ("444455556666", 1, 9),
        ("012345678901", 2, 10),
        ("777788889999", 3, 11),
    ]


def test_metadata_noise_and_hash() -> None:
    plain = doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "  extra: kept")
    noisy = plain.replace(
        "  namespace: kube-system\n",
        "  namespace: kube-system\n"
        "  resourceVersion: '777'\n"
        "  uid: 6f1c3c1e\n"
        "  annotations:\n"
        "    kubectl.kubernetes.io/last-applied-configuration: |\n"
        '      {"apiVersion":"v1","data":{"mapRoles":"- rolearn: x\\n"},"kind":"ConfigMap"}\n'
        "  managedFields:\n"
        "  - manager: kubectl-client-side-apply\n"
        "    fieldsV1: {f:data: {.: {}, f:mapRoles: {}}}\n",
    )
    a, b = parse_aws_auth(plain, F), parse_aws_auth(noisy, F)
    assert a.sha256 == b.sha256 == data_sha256({"mapRoles": f"- rolearn: {ROLE_A}\n"})
    assert [m.arn for m in b.mappings] == [ROLE_A]
    assert (a.resource_version, b.resource_version) == (None, "777")
    # raw_data holds every data key verbatim (sorted); only the three mapping keys count for the hash
    assert b.raw_data == (("extra", "kept"), ("mapRoles", f"- rolearn: {ROLE_A}\n"))
    assert parse_aws_auth(plain.replace("kept", "changed"), F).sha256 == a.sha256
    assert parse_aws_auth(plain.replace("role/A", "role/C"), F).sha256 != a.sha256


def kubectl_json(data: dict[str, str], **metadata: Any) -> str:
    obj = {
        "apiVersion": "v1",
        "data": data,
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system", **metadata},
    }
    return json.dumps(obj, indent=4)


def test_json_input_matches_yaml_input() -> None:
    yaml_text = (EXAMPLES / "aws-auth-small.yaml").read_text()
    from_yaml = parse_aws_auth(yaml_text, "small.yaml")
    json_text = kubectl_json(dict(from_yaml.raw_data), resourceVersion="1184")
    from_json = parse_aws_auth(json_text, "small.json")
    assert from_json.sha256 == from_yaml.sha256
    assert from_json.raw_data == from_yaml.raw_data
    assert from_json.resource_version == "1184"
    strip = [(m.section, m.arn, m.username, m.groups) for m in from_json.mappings]
    assert strip == [(m.section, m.arn, m.username, m.groups) for m in from_yaml.mappings]
    # lines point at the data key: `{` 1, `"apiVersion"` 2, `"data": {` 3, `"mapRoles"` 4, `"mapUsers"` 5
    assert [m.source.line for m in from_json.mappings] == [4, 4, 4, 5]


def test_a_yaml_flow_mapping_document_is_json_to_kubernetes_tools_and_refused() -> None:
    # kubectl and the authenticator's YAML helpers commit to JSON at a leading '{'.
    data = "{mapUsers: '- userarn: " + USER_U + "'}"
    text = "{apiVersion: v1, kind: ConfigMap, metadata: {name: aws-auth}, data: " + data + "}"
    with pytest.raises(SourceError, match="invalid JSON"):
        parse_aws_auth(text, F)


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode(),
        lambda s: codecs.BOM_UTF8 + s.encode(),
        lambda s: codecs.BOM_UTF16_LE + s.encode("utf-16-le"),  # Windows PowerShell's `>`
        lambda s: s.replace("\n", "\r\n").encode(),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-powershell", "crlf"],
)
def test_encodings(encode: Any) -> None:
    text = doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "      groups: [g]")
    aws_auth = parse_aws_auth(encode(text), F)
    assert summary(aws_auth) == [("mapRoles", 0, 8, ROLE_A, None, ("g",), (), False)]
    assert aws_auth.sha256 == parse_aws_auth(text, F).sha256


def test_live_object_counts_lines_inside_each_block() -> None:
    data = {"mapRoles": f"- rolearn: {ROLE_A}\n- rolearn: {ROLE_B}\n", "mapAccounts": "\n- '111122223333'\n"}
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system", "resourceVersion": "42"},
        "data": data,
    }
    aws_auth = parse_configmap_object(obj, "kube-system/aws-auth")
    assert [(m.arn, m.source.line) for m in aws_auth.map_roles] == [(ROLE_A, 1), (ROLE_B, 2)]
    assert accounts(aws_auth) == [("111122223333", 0, 2)]
    assert aws_auth.resource_version == "42"
    assert aws_auth.file == "kube-system/aws-auth"
    assert aws_auth.sha256 == data_sha256(data)


def test_live_object_from_the_python_client() -> None:
    # V1ConfigMap.to_dict() has no kind and spells resourceVersion in snake case
    obj = {"metadata": {"name": "aws-auth", "resource_version": "7"}, "data": {"mapUsers": f"- userarn: {USER_U}"}}
    aws_auth = parse_configmap_object(obj, "live")
    assert [m.arn for m in aws_auth.mappings] == [USER_U]
    assert aws_auth.resource_version == "7"


def test_load_file_uses_the_path_as_given(tmp_path: Path) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text(doc("  mapUsers: |", f"    - userarn: {USER_U}"))
    aws_auth = load_aws_auth_file(str(path))
    assert aws_auth.file == str(path)
    assert aws_auth.map_users[0].source == SourceRef(Section.MAP_USERS, 0, 8, str(path))
    assert load_aws_auth_file(path).file == str(path)


# --- the examples -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "roles", "users", "accounts"),
    [("aws-auth-small.yaml", 3, 1, 0), ("aws-auth-large.yaml", 22, 6, 0), ("aws-auth-problems.yaml", 17, 4, 2)],
)
def test_examples_parse(name: str, roles: int, users: int, accounts: int) -> None:
    aws_auth = load_aws_auth_file(EXAMPLES / name)
    assert (len(aws_auth.map_roles), len(aws_auth.map_users), len(aws_auth.map_accounts)) == (roles, users, accounts)
    assert aws_auth.resource_version is not None


def test_small_example_in_detail() -> None:
    aws_auth = load_aws_auth_file(EXAMPLES / "aws-auth-small.yaml")
    assert aws_auth.map_roles[0] == Mapping(
        Section.MAP_ROLES,
        "arn:aws:iam::111122223333:role/eks-node-group-role",
        "system:node:{{EC2PrivateDNSName}}",
        ("system:bootstrappers", "system:nodes"),
        SourceRef(Section.MAP_ROLES, 0, 4, str(EXAMPLES / "aws-auth-small.yaml")),
    )
    assert [m.source.line for m in aws_auth.mappings] == [4, 9, 13, 18]


def test_problems_example_holds_the_cases_it_promises() -> None:
    aws_auth = load_aws_auth_file(EXAMPLES / "aws-auth-problems.yaml")
    arns = [m.arn for m in aws_auth.mappings]
    assert "arn:aws:iam::111122223333:role/teams/dev/Dev" in arns
    assert "arn:aws:sts::111122223333:assumed-role/Admin/alice" in arns
    assert "arn:aws:iam::111122223333:root" in arns
    assert any(m.sso for m in aws_auth.map_roles)
    assert any(m.unknown_keys == ("gruops",) for m in aws_auth.map_roles)
    assert any(m.username is None for m in aws_auth.map_roles)
    assert [a.account for a in aws_auth.map_accounts] == ["111122223333", "777788889999"]
    assert aws_auth.map_accounts[0] == AccountMapping(
        "111122223333", SourceRef(Section.MAP_ACCOUNTS, 0, 113, str(EXAMPLES / "aws-auth-problems.yaml"))
    )


# --- malformed input --------------------------------------------------------------------------------------

INVALID: list[tuple[str, str | bytes, int | None, str]] = [
    # the file itself
    ("empty", "", None, "the file is empty"),
    ("blank", "  \n\n", None, "the file is empty"),
    ("only comments", "# aws-auth\n", None, "found nothing (null)"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 3, "binary file"),
    ("not utf-8", b"apiVersion: v1\nkind: Config\xe9Map\n", 2, "not UTF-8"),
    ("5 MB", b"a: b\n" * 1_000_000, None, "larger than 1 MiB"),
    ("control character", "apiVersion: v1\nkind: ConfigMap\x07\n", 2, "U+0007 is not allowed"),
    ("bad yaml", "apiVersion: v1\nkind: [ConfigMap\nmetadata: {}\n", 3, "a ':' with no key before it"),
    ("bad yaml", "apiVersion: v1\nkind: [ConfigMap\nmetadata\n", 4, "invalid YAML: expected ',' or ']'"),
    ("tab indentation", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: aws-auth\n", 4, "indented with a tab"),
    ("duplicate key", "kind: ConfigMap\nmetadata: {name: aws-auth}\nkind: Secret\n", 3, "duplicate key 'kind'"),
    ("two documents", "kind: ConfigMap\n---\nkind: ConfigMap\n", 2, "another document"),
    ("a list", "\n- kind: ConfigMap\n", 2, "found a list"),
    ("a scalar", "aws-auth\n", None, "found the string 'aws-auth'"),
    # the ConfigMap around the data
    ("wrong kind", "apiVersion: v1\nkind: Secret\nmetadata: {name: aws-auth}\n", 2, "expected kind: ConfigMap"),
    ("no kind", "apiVersion: v1\nmetadata: {name: aws-auth}\n", None, "found no kind"),
    ("a List", "apiVersion: v1\nkind: List\nitems: []\n", 2, "holds a List"),
    ("apiVersion", "apiVersion: v2\nkind: ConfigMap\nmetadata: {name: aws-auth}\n", 1, "expected apiVersion: v1"),
    ("other ConfigMap", doc().replace("name: aws-auth", "name: coredns"), 4, "is named 'coredns'"),
    ("no name", "kind: ConfigMap\nmetadata:\n  namespace: kube-system\n", 2, "has no name"),
    ("no metadata", "kind: ConfigMap\ndata: {}\n", None, "needs metadata"),
    ("namespace", doc().replace("kube-system", "default"), 5, "namespace the string 'default'"),
    (
        "resourceVersion",
        doc().replace("kube-system\n", "kube-system\n  resourceVersion: [1]\n"),
        6,
        "resourceVersion must be",
    ),
    ("data is a list", doc("  - mapRoles"), 6, "data must be a mapping"),
    ("mapRoles without |", doc("  mapRoles:", f"    - rolearn: {ROLE_A}"), 7, "write `mapRoles: |`"),
    ("data value a number", doc("  other: 12"), 7, "data.other must be a string"),
    # inside a literal block: lines map one to one into the outer file
    (
        "yaml error in the 2nd entry",
        doc(
            "  mapRoles: |",  # 7
            f"    - rolearn: {ROLE_A}",  # 8
            "      groups: [a]",  # 9
            f"    - rolearn: {ROLE_B}",  # 10
            "      groups: [b]]",  # 11
            "      username: b",  # 12
        ),
        11,
        "mapRoles: invalid YAML",
    ),
    (
        "tab in a block",
        doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "    \tgroups: [a]"),
        9,
        "not accepted: the line is indented with a tab",
    ),
    ("duplicate key in an entry", doc("  mapUsers: |", f"    - userarn: {USER_U}", "      userarn: x"), 9, "duplicate"),
    ("entry is a string", doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", f"    - {ROLE_B}"), 9, "must be a mapping"),
    (
        "2nd entry has no rolearn",
        doc(
            "  mapRoles: |",  # 7
            f"    - rolearn: {ROLE_A}",  # 8
            "    - username: b",  # 9
            "      groups: [b]",  # 10
        ),
        9,
        "mapRoles[1] has no rolearn",
    ),
    ("userarn under mapRoles", doc("  mapRoles: |", f"    - userarn: {USER_U}"), 8, "userarn belongs under mapUsers"),
    ("rolearn under mapUsers", doc("  mapUsers: |", f"    - rolearn: {ROLE_A}"), 8, "rolearn belongs under mapRoles"),
    ("empty rolearn", doc("  mapRoles: |", "    - rolearn:", "      groups: [a]"), 8, "rolearn must be a string"),
    (
        "invalid ARN",
        doc("  mapRoles: |", "    - groups: [a]", "      rolearn: arn:aws:iam::1111:role/A"),
        9,
        "mapRoles[0].rolearn: 'arn:aws:iam::1111:role/A' is not an IAM ARN",
    ),
    ("wildcard ARN", doc("  mapRoles: |", "    - rolearn: arn:aws:iam::111122223333:role/*"), 8, "invalid role name"),
    ("not an ARN", doc("  mapUsers: |", "    - userarn: alice"), 8, "'alice' is not an ARN"),
    (
        "ARN is a number",
        doc("  mapUsers: |", "    - userarn: 111122223333"),
        8,
        "'111122223333' is a number to YAML 1.1",
    ),
    ("groups a string", doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "      groups: ops"), 9, "must be a list"),
    (
        "a group is a number",
        doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "      groups:", "        - a", "        - 42"),
        11,
        "mapRoles: not accepted: '42' is a number to YAML 1.1 (the authenticator reads aws-auth with it), not text: "
        "quote it if it is text",
    ),
    (
        "a group is a YAML 1.1 boolean",
        doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "      groups:", "        - on"),
        10,
        "'on' is a boolean to YAML 1.1",
    ),
    (
        "a group is a date",
        doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "      groups: [2024-01-01]"),
        9,
        "timestamp",
    ),
    ("username a list", doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "      username: [a]"), 9, "found a list"),
    ("username yes", doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "      username: yes"), 9, "'yes' is a boolean"),
    (
        "keys that differ in case only",
        doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", f"      RoleArn: {ROLE_B}"),
        9,
        "has both 'rolearn' and 'RoleArn'",
    ),
    ("a key that is a number", doc("  mapRoles: |", f"    - rolearn: {ROLE_A}", "      1: x"), 9, "'1' is a number"),
    (
        "rolearn and sso",
        doc(
            "  mapRoles: |", f"    - rolearn: {ROLE_A}", "      sso: {permissionSetName: A, accountID: '111122223333'}"
        ),
        8,
        "both rolearn and sso",
    ),
    (
        "sso account unquoted",
        doc("  mapRoles: |", "    - sso:", "        permissionSetName: A", "        accountID: 111122223333"),
        10,
        "'111122223333' is a number to YAML 1.1",
    ),
    ("sso without account", doc("  mapRoles: |", "    - sso: {permissionSetName: A}"), 8, "has no accountID"),
    ("sso not a mapping", doc("  mapRoles: |", "    - sso: Admin"), 8, "must be a mapping"),
    (
        "sso bad name",
        doc("  mapRoles: |", "    - sso:", "        permissionSetName: 'a b'", "        accountID: '111122223333'"),
        9,
        "not a permission set name",
    ),
    (
        "sso bad partition",
        doc("  mapRoles: |", "    - sso: {permissionSetName: A, accountID: '111122223333', partition: mars}"),
        8,
        "'mars' is not one of",
    ),
    # mapAccounts
    (
        "account id too short",
        doc("  mapAccounts: |", "    - '111122223333'", "    - 11112222333"),
        9,
        "mapAccounts[1]: '11112222333' is not a 12-digit AWS account id",
    ),
    ("account id empty", doc("  mapAccounts: |", "    - ~"), 8, "an empty value is not a 12-digit"),
    ("account id a mapping", doc("  mapAccounts: |", "    - id: '111122223333'"), 8, "found a mapping"),
    ("accounts not a list", doc("  mapAccounts: |", "    '111122223333'"), 8, "must be a YAML list of account ids"),
    ("accounts bad yaml", doc("  mapAccounts: |", "    - '1", "    - 2"), 8, "mapAccounts: invalid YAML"),
    # quoted or folded values: the key's line, and the line inside the value in the message
    (
        "quoted value",
        doc(f'  mapRoles: "- rolearn: {ROLE_A}\\n- rolearn: nope\\n"'),
        7,
        "mapRoles[1].rolearn: 'nope' is not an ARN (expected arn:<partition>:iam::<12-digit account>:...) (line 2 of",
    ),
    ("folded value", doc("  mapUsers: >", "    - userarn: x"), 7, "not accepted: a folded block scalar (>)"),
    # explicit YAML tags: the authenticator (Go's YAML) would read them otherwise. An `!!omap` list built a
    # mapping (system:masters aws-auth never granted), and a tag's `%XX` escapes are decoded once, as ruamel
    # and Go do: `!!%256fmap` is no `!!omap`, and `!!%2569nt` no `!!int`.
    (
        "omap entry",
        doc("  mapRoles: |", f"    - !!omap [{{rolearn: {ROLE_A}}}, {{username: a}}, {{groups: [system:masters]}}]"),
        8,
        "mapRoles: not accepted: YAML tags (!!omap) are not allowed in aws-auth",
    ),
    (
        "escaped omap entry",
        doc("  mapRoles: |", f"    - !!%256fmap [{{rolearn: {ROLE_A}}}, {{username: a}}]"),
        8,
        "YAML tags (!!%256fmap) are not allowed",
    ),
    ("str tag", doc("  mapRoles: |", f"    - rolearn: !!str {ROLE_A}"), 8, "YAML tags (!!str) are not allowed"),
    ("local tag", doc("  mapUsers: |", f"    - userarn: !arn {USER_U}"), 8, "YAML tags (!arn) are not allowed"),
    ("set in the configmap", doc("  mapRoles: !!set {a}"), 7, "YAML tags (!!set) are not allowed"),
    (
        "escaped int in the metadata",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  resourceVersion: !!%2569nt 12\n",
        4,
        "YAML tags (!!%2569nt) are not allowed",
    ),
    # JSON
    ("json syntax", '{\n  "kind": "ConfigMap",\n  "data": {,}\n}\n', 3, "invalid JSON: Expecting property name"),
    ("json duplicate", '{\n  "kind": "ConfigMap",\n  "kind": "ConfigMap"\n}\n', 3, "duplicate key 'kind'"),
    ("json truncated", '{"kind": "ConfigMap",\n"data": {', 2, "invalid JSON"),
    (
        "json embedded error",
        kubectl_json({"mapUsers": f"- userarn: {USER_U}\n- userarn: 12\n"}),
        4,  # `{` 1, `"apiVersion"` 2, `"data": {` 3, `"mapUsers"` 4
        "mapUsers: not accepted: '12' is a number to YAML 1.1",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "message"), [(t, ln, m) for _, t, ln, m in INVALID], ids=[i for i, _, _, _ in INVALID]
)
def test_invalid(text: str | bytes, line: int | None, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_aws_auth(text, F)
    error = caught.value
    assert (error.file, error.line) == (F, line), str(error)
    assert message in error.detail
    location = F if line is None else f"{F}:{line}"
    assert str(error).startswith(f"{location}: ")


def test_message_for_the_json_embedded_error_names_the_inner_line() -> None:
    with pytest.raises(SourceError) as caught:
        parse_aws_auth(kubectl_json({"mapUsers": f"- userarn: {USER_U}\n- userarn: 12\n"}), F)
    assert str(caught.value) == (
        f"{F}:4: mapUsers: not accepted: '12' is a number to YAML 1.1 (the authenticator reads aws-auth with it), "
        "not text: quote it if it is text (line 2 of mapUsers)"
    )


def test_str_input_over_the_limit() -> None:
    with pytest.raises(SourceError, match="larger than 1 MiB"):
        parse_aws_auth("#" * (MAX_BYTES + 1), F)


def test_live_object_errors_name_the_line_inside_the_block() -> None:
    obj = {"metadata": {"name": "aws-auth"}, "data": {"mapRoles": f"- rolearn: {ROLE_A}\n- groups: [a]\n"}}
    with pytest.raises(SourceError) as caught:
        parse_configmap_object(obj, "kube-system/aws-auth")
    assert caught.value.line is None
    assert str(caught.value) == (
        "kube-system/aws-auth: mapRoles[1] has no rolearn; the authenticator skips such an entry (line 2 of mapRoles)"
    )


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"kind": "Secret", "metadata": {"name": "aws-auth"}}, "expected kind: ConfigMap"),
        ({"metadata": {"name": "other"}}, "is named 'other'"),
        ({"metadata": {"name": "aws-auth"}, "data": {"mapRoles": 5}}, "data.mapRoles must be a string"),
        ({"metadata": {"name": "aws-auth"}, "data": ["x"]}, "data must be a mapping"),
        ({"data": {"mapAccounts": "- 1234"}}, "'1234' is not a 12-digit AWS account id"),
    ],
)
def test_live_object_invalid(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_configmap_object(obj, "live")


def test_live_object_not_a_mapping() -> None:
    with pytest.raises(SourceError, match="found a list"):
        parse_configmap_object([], "live")  # type: ignore[arg-type]


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_load_file_errors(tmp_path: Path, make: str) -> None:
    path = tmp_path / "aws-auth.yaml"
    if make == "directory":
        path.mkdir()
    with pytest.raises(SourceError) as caught:
        load_aws_auth_file(path)
    assert caught.value.file == str(path)
    assert caught.value.line is None


def test_load_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (5 * 1024 * 1024))
    with pytest.raises(SourceError, match="larger than 1 MiB"):
        load_aws_auth_file(path)
