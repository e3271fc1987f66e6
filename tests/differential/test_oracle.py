"""The oracle itself reads aws-auth like aws-iam-authenticator: each expectation here is written by hand from
eks-facts.md section 4 and the authenticator's code (pkg/mapper/configmap, pkg/config/mapper.go at 81b1dab),
never taken from the oracle's own output."""

from __future__ import annotations

from typing import Any

from tests.differential.conftest import Authenticator

ACCOUNT = "111122223333"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
DEV = f"arn:aws:iam::{ACCOUNT}:role/Dev"
BOB = f"arn:aws:iam::{ACCOUNT}:user/Bob"

USERS = f"- userarn: {BOB}\n  username: bob\n  groups: [viewers]\n"


def configmap(**data: str) -> str:
    """A ConfigMap document with these data keys, each a literal block."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: aws-auth, namespace: kube-system}", "data:"]
    for key, text in data.items():
        lines.append(f"  {key}: |")
        lines.extend(f"    {line}" for line in text.splitlines())
    return "\n".join(lines) + "\n"


def role(state: dict[str, Any], key: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in state["roles"] if r["key"] == key]
    assert len(found) == 1, state["roles"]
    return found[0]


def test_a_plain_configmap_maps_roles_then_users_then_accounts(authenticator: Authenticator) -> None:
    roles = f"- rolearn: {ADMIN}\n  username: admin:{{{{SessionName}}}}\n  groups: [system:masters]\n"
    other = "444455556666"
    state = authenticator.state(
        configmap(mapRoles=roles, mapUsers=USERS, mapAccounts=f"- {other}\n"),
        probes=[ADMIN.upper().replace("ARN:AWS:IAM", "arn:aws:iam"), f"arn:aws:iam::{other}:role/Any", DEV],
    )
    assert state["error"] is None
    assert {name: s["status"] for name, s in state["sections"].items()} == {
        "mapRoles": "ok",
        "mapUsers": "ok",
        "mapAccounts": "ok",
    }
    assert role(state, ADMIN.lower())["username"] == "admin:{{SessionName}}"
    lookup = state["lookup"]
    # Case-insensitive compare; the probe's own case does not matter.
    assert lookup[f"arn:aws:iam::{ACCOUNT}:ROLE/ADMIN"]["via"] == "mapRoles"
    assert lookup[BOB.lower()] == {
        "via": "mapUsers",
        "candidates": [{"key": BOB, "username": "bob", "groups": ["viewers"]}],
    }
    # mapAccounts: the canonical ARN as given, no groups.
    assert lookup[f"arn:aws:iam::{other}:role/Any"] == {
        "via": "mapAccounts",
        "candidates": [{"username": f"arn:aws:iam::{other}:role/Any", "groups": []}],
    }
    assert lookup[DEV] == {"via": "none", "candidates": []}


def test_long_s_folds_to_s_in_field_names(authenticator: Authenticator) -> None:
    # encoding/json matches field names with Unicode simple folding: U+017F LATIN SMALL LETTER LONG S is `s`.
    state = authenticator.data_state(
        {"mapRoles": f"- rolearn: {ADMIN}\n  u\u017fername: admin\n  group\u017f: [ops]\n"}
    )
    assert state["sections"]["mapRoles"]["error"] == ""
    assert role(state, ADMIN.lower())["username"] == "admin"
    assert role(state, ADMIN.lower())["groups"] == ["ops"]


def test_a_question_mark_in_a_flow_plain_scalar_drops_maproles_but_keeps_mapusers(
    authenticator: Authenticator,
) -> None:
    # yaml.v2 will not take `?` inside a flow plain scalar; the YAML error drops the whole section.
    state = authenticator.state(
        configmap(mapRoles=f"- {{rolearn: {ADMIN}, username: a?b}}\n- rolearn: {DEV}\n", mapUsers=USERS),
        probes=[ADMIN, BOB],
    )
    assert state["sections"]["mapRoles"]["status"] == "yaml_error"
    assert state["sections"]["mapRoles"]["error"]
    assert state["roles"] == []
    assert state["lookup"][ADMIN]["via"] == "none"
    assert state["sections"]["mapUsers"]["status"] == "ok"
    assert state["lookup"][BOB]["via"] == "mapUsers"


def test_text_whose_first_non_space_is_a_brace_is_json_and_never_a_list(authenticator: Authenticator) -> None:
    state = authenticator.data_state({"mapRoles": f'  \n {{"rolearn": "{ADMIN}", "username": "admin"}}'})
    section = state["sections"]["mapRoles"]
    assert section["status"] == "json"
    assert "cannot unmarshal object" in section["decode_error"]
    assert state["roles"] == []
    # unicode.IsSpace skips a no-break space too; JSON does not, so the text is then not even JSON.
    state = authenticator.data_state({"mapRoles": f'\u00a0{{"rolearn": "{ADMIN}"}}'})
    assert state["sections"]["mapRoles"]["status"] == "json"
    assert state["sections"]["mapRoles"]["decode_error"]
    # A JSON list does not start with a brace: it goes through YAML and loads.
    state = authenticator.data_state({"mapRoles": f'[{{"rolearn": "{ADMIN}", "username": "admin"}}]'})
    assert state["sections"]["mapRoles"]["status"] == "ok"
    assert role(state, ADMIN.lower())["username"] == "admin"


def test_a_number_username_is_a_type_error_that_blanks_the_field_and_keeps_the_mapping(
    authenticator: Authenticator,
) -> None:
    state = authenticator.data_state(
        {"mapRoles": f"- rolearn: {ADMIN}\n  username: 123\n  groups: [ops]\n- rolearn: {DEV}\n  username: dev\n"}
    )
    section = state["sections"]["mapRoles"]
    assert section["status"] == "ok"
    assert "username" in section["decode_error"]
    assert section["dropped"] == 0
    assert role(state, ADMIN.lower())["username"] == ""
    assert role(state, ADMIN.lower())["groups"] == ["ops"]  # the rest of the entry still decodes
    assert role(state, DEV.lower())["username"] == "dev"


def test_mapusers_keys_keep_their_case_so_case_variants_are_two_entries(authenticator: Authenticator) -> None:
    lower = BOB.replace("Bob", "bob")
    state = authenticator.data_state(
        {"mapUsers": f"- userarn: {BOB}\n  username: one\n- userarn: {lower}\n  username: two\n"}
    )
    assert [u["key"] for u in state["users"]] == [BOB, lower]
    # Either may answer: the authenticator ranges over a Go map.
    assert state["lookup"][lower]["via"] == "mapUsers"
    assert sorted(c["username"] for c in state["lookup"][lower]["candidates"]) == ["one", "two"]


def test_maproles_duplicates_are_keyed_lower_cased_and_the_last_wins(authenticator: Authenticator) -> None:
    state = authenticator.data_state(
        {"mapRoles": f"- rolearn: {ADMIN}\n  username: first\n- rolearn: {ADMIN.upper()}\n  username: last\n"}
    )
    assert [(r["key"], r["username"]) for r in state["roles"]] == [(ADMIN.lower(), "last")]


def test_yaml_1_1_scalars(authenticator: Authenticator) -> None:
    texts = ["0X1F", "0x1F", "0o17", "0b101", "1_000", ".5e3", "yes", "no", "on", "off", "y", "n", "2001-12-14"]
    kinds = ["int", "int", "int", "int", "int", "float", "bool", "bool", "bool", "bool", "bool", "bool", "str"]
    assert authenticator.resolve(texts) == kinds
    assert authenticator.resolve(["~", "null", "", "'yes'", "a: b"]) == [
        "null",
        "null",
        "null",
        "str",
        "other:map[interface {}]interface {}",
    ]


def test_yes_and_numbers_under_maproles_are_not_strings_but_mapaccounts_keeps_the_text(
    authenticator: Authenticator,
) -> None:
    state = authenticator.data_state(
        {
            "mapRoles": f"- rolearn: {ADMIN}\n  username: yes\n",
            "mapAccounts": "- 011122223333\n- 0x1F\n",
        },
        probes=["arn:aws:iam::011122223333:role/X"],
    )
    assert "bool" in state["sections"]["mapRoles"]["decode_error"]
    assert role(state, ADMIN.lower())["username"] == ""
    assert state["accounts"] == ["011122223333", "0x1F"]
    assert state["lookup"]["arn:aws:iam::011122223333:role/X"]["via"] == "mapAccounts"


def test_only_the_first_yaml_document_counts_and_merge_keys_apply(authenticator: Authenticator) -> None:
    state = authenticator.data_state({"mapRoles": f"- rolearn: {ADMIN}\n---\n- rolearn: {DEV}\n"})
    assert [r["key"] for r in state["roles"]] == [ADMIN.lower()]
    state = authenticator.data_state(
        {"mapRoles": f"- &base {{rolearn: {ADMIN}, username: a, groups: [g]}}\n- <<: *base\n  rolearn: {DEV}\n"}
    )
    assert role(state, DEV.lower())["username"] == "a"
    assert role(state, DEV.lower())["groups"] == ["g"]


def test_yaml_v2_rejects_what_other_parsers_accept(authenticator: Authenticator) -> None:
    escaped = ADMIN.replace("/", "\\/")  # JSON's `\/`, not a YAML escape
    for text in (
        f"%YAML 1.2\n---\n- rolearn: {ADMIN}\n",
        f'- rolearn: "{escaped}"\n',
        f"- rolearn: {ADMIN}\u2028x\n",
    ):
        state = authenticator.data_state({"mapRoles": text, "mapUsers": USERS})
        assert state["sections"]["mapRoles"]["status"] == "yaml_error", text
        assert state["sections"]["mapUsers"]["status"] == "ok"


def test_validate_drops_only_the_bad_entry(authenticator: Authenticator) -> None:
    state = authenticator.data_state(
        {
            "mapRoles": f"- username: nobody\n- rolearn: {ADMIN}\n",
            "mapUsers": f"- username: nobody\n{USERS}",
        }
    )
    assert state["sections"]["mapRoles"]["dropped"] == 1
    assert state["sections"]["mapUsers"]["dropped"] == 1
    assert [r["key"] for r in state["roles"]] == [ADMIN.lower()]
    assert [u["key"] for u in state["users"]] == [BOB]


def test_skippable_and_absent_sections(authenticator: Authenticator) -> None:
    state = authenticator.data_state({"mapRoles": ' "" ', "mapUsers": "``", "mapAccounts": "\n''\n"})
    assert {name: s["status"] for name, s in state["sections"].items()} == {
        "mapRoles": "skipped",
        "mapUsers": "skipped",
        "mapAccounts": "skipped",
    }
    state = authenticator.data_state({})
    assert {s["status"] for s in state["sections"].values()} == {"absent"}


def test_role_matching_is_exact_a_user_under_maproles_wins_and_sso_entries_are_dead(
    authenticator: Authenticator,
) -> None:
    with_path = f"arn:aws:iam::{ACCOUNT}:role/team/Dev"
    sso = f"- sso: {{permissionSetName: Admin, accountID: '{ACCOUNT}'}}\n  username: sso\n"
    state = authenticator.data_state(
        {
            "mapRoles": f"- rolearn: {with_path}\n  username: dev\n- rolearn: {BOB}\n  username: as-role\n{sso}",
            "mapUsers": USERS,
        },
        probes=[DEV, BOB, f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Admin_0123456789abcdef"],
    )
    assert state["lookup"][DEV]["via"] == "none"  # a path in rolearn never matches
    assert state["lookup"][BOB] == {
        "via": "mapRoles",
        "candidates": [{"key": BOB.lower(), "username": "as-role", "groups": None}],
    }
    assert role(state, f"arn:aws:iam::{ACCOUNT}:role/awsreservedsso_admin_*")["username"] == "sso"
    assert state["lookup"][f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Admin_0123456789abcdef"]["via"] == "none"


def test_a_document_that_does_not_decode_is_an_error(authenticator: Authenticator) -> None:
    answer = authenticator.state("data: [\n")
    assert answer["error"]
    assert set(answer) == {"id", "error"}


def test_a_json_document(authenticator: Authenticator) -> None:
    document = '{"kind": "ConfigMap", "data": {"mapRoles": "- rolearn: ' + ADMIN + '\\n  username: admin\\n"}}'
    state = authenticator.state(document, probes=[ADMIN])
    assert state["error"] is None
    assert state["lookup"][ADMIN]["candidates"][0]["username"] == "admin"


def test_a_bad_request_is_answered_and_the_oracle_goes_on(authenticator: Authenticator) -> None:
    bad, good = authenticator.run([{"id": "bad", "neither": 1}, {"id": "good", "resolve": ["x"]}])
    assert bad["id"] == "bad" and "bad request" in bad["error"]
    assert good == {"id": "good", "kinds": ["str"]}
