"""aws-auth is read as the authenticator reads it (yaml.v2, then encoding/json), or refused: one named test per
class of disagreement that a run of the authenticator's own code found (issue 19). Expectations are written
by hand from the authenticator's behaviour; tests/differential checks the same against the real Go libraries.
"""

from __future__ import annotations

import json

import pytest

from migrator.awsauth import parse_aws_auth
from migrator.awsauth.golang import FieldMatch, Yaml11Kind, json_field, taken_as_json, yaml11_kind
from migrator.errors import SourceError
from migrator.model import AwsAuth, Section

F = "aws-auth.yaml"
ROLE = "arn:aws:iam::111122223333:role/A"
USER = "arn:aws:iam::111122223333:user/u"


def configmap(**sections: str) -> str:
    """A ConfigMap whose data keys hold `sections` as literal blocks; the first block line is line 8."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: aws-auth", "  namespace: kube-system", "data:"]
    for key, text in sections.items():
        lines.append(f"  {key}: |")
        lines.extend(f"    {line}" for line in text.split("\n"))
    return "\n".join(lines) + "\n"


def refused(text: str) -> SourceError:
    with pytest.raises(SourceError) as caught:
        parse_aws_auth(text, F)
    return caught.value


def read(text: str) -> AwsAuth:
    return parse_aws_auth(text, F)


# --- class 1: what yaml.v2 rejects (the whole section is dropped today) is refused, never migrated -----------


def test_a_question_mark_in_an_unquoted_flow_value_is_refused() -> None:
    error = refused(configmap(mapRoles=f"- {{rolearn: {ROLE}, username: who?, groups: [system:masters]}}"))
    assert error.line == 8
    assert "'who?': a '?' in an unquoted value inside [ ] or { } ends the value for yaml.v2" in error.detail


def test_a_question_mark_in_a_block_value_is_text_to_both() -> None:
    assert read(configmap(mapRoles=f"- rolearn: {ROLE}\n  username: who?")).map_roles[0].username == "who?"


def test_the_json_slash_escape_is_refused_in_yaml_and_in_json() -> None:
    assert "the escape \\/ in a double-quoted value" in refused(configmap(mapRoles=f'- rolearn: "{ROLE}\\/x"')).detail
    document = json.dumps({"kind": "ConfigMap", "metadata": {"name": "aws-auth"}, "data": {"mapUsers": "- a/b"}})
    assert "the escape \\/" in refused(document.replace("a/b", "a\\/b")).detail


@pytest.mark.parametrize("directive", ["%YAML 1.2", "%YAML 1.1", "%TAG !e! tag:example.com,2000:"])
def test_yaml_directives_are_refused(directive: str) -> None:
    text = configmap(mapRoles="PLACEHOLDER").replace(
        "    PLACEHOLDER", f"    {directive}\n    ---\n    - rolearn: {ROLE}"
    )
    assert "a YAML directive" in refused(text).detail


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029", "\xa0"])
def test_unicode_line_separators_and_spaces_in_a_plain_value_are_refused(separator: str) -> None:
    error = refused(configmap(mapRoles=f"- rolearn: {ROLE}\n  username: a{separator}b"))
    assert error.line == 9
    assert f"U+{ord(separator):04X}" in error.detail


def test_an_alias_bomb_under_an_ignored_key_is_refused() -> None:
    bomb = "\n".join(
        [f"- rolearn: {ROLE}", "  ignored:", "    a: &a [x, x, x, x]", "    b: &b [*a, *a, *a, *a]", "    c: [*b, *b]"]
    )
    assert "YAML anchors and aliases" in refused(configmap(mapRoles=bomb)).detail


def test_a_document_end_marker_and_a_second_document_are_refused() -> None:
    assert "document end marker" in refused(configmap(mapRoles=f"- rolearn: {ROLE}\n...")).detail
    refused(configmap(mapRoles=f"- rolearn: {ROLE}\n---\n- rolearn: {ROLE}"))


# --- class 2: keys are matched to fields as encoding/json matches them ----------------------------------------


def test_keys_that_fold_to_a_field_are_that_field() -> None:
    # U+017F (long s) folds to s in every Go version's encoding/json.
    aws_auth = read(
        configmap(
            mapRoles=f"- rolearn: {ROLE}\n  u\u017fername: admin\n  group\u017f: [ops]",
            mapUsers=f"- u\u017ferarn: {USER}\n  USERNAME: u",
        )
    )
    role, user = aws_auth.map_roles[0], aws_auth.map_users[0]
    assert (role.arn, role.username, role.groups, role.unknown_keys) == (ROLE, "admin", ("ops",), ())
    assert (user.arn, user.username, user.unknown_keys) == (USER, "u", ())


def test_a_folded_sso_key_is_the_sso_block() -> None:
    aws_auth = read(configmap(mapRoles="- \u017fso: {permissionSetName: Admin, accountID: '111122223333'}"))
    assert aws_auth.map_roles[0].sso


def test_two_keys_that_fold_to_one_field_are_refused() -> None:
    error = refused(configmap(mapRoles=f"- rolearn: {ROLE}\n  username: a\n  u\u017fername: b"))
    assert error.line == 10
    assert "has both 'username' and 'u\u017fername'" in error.detail


def test_a_key_that_only_newer_go_folds_to_a_field_is_refused() -> None:
    # Go 1.21+ folds the dotless i (U+0131) to I, older versions do not: the field depends on the build.
    error = refused(configmap(mapRoles="- sso: {permissionSetName: Admin, account\u0131D: '111122223333'}"))
    assert "depending on the Go version" in error.detail


# --- class 3: merge keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        f"- <<: {{rolearn: {ROLE}, groups: [system:masters]}}\n  username: a",
        f"- &base {{rolearn: {ROLE}, username: a}}\n- <<: *base\n  rolearn: {ROLE}",
    ],
    ids=["inline", "anchored"],
)
def test_merge_keys_are_refused(entry: str) -> None:
    detail = refused(configmap(mapRoles=entry)).detail
    assert "merge key" in detail or "anchors and aliases" in detail


# --- class 4: YAML 1.1 scalars that are no text to yaml.v2 -------------------------------------------------


@pytest.mark.parametrize("value", ["0X1F", "0x1F", "0O17", "0o17", "0B101", ".5e3", "1e5_", "1_000", "+12", "012", "08",
                                   ".inf", "y", "Yes", "off", "2001-12-14", "2001-12-14T21:59:43Z"])  # fmt: skip
def test_yaml11_non_text_is_refused_as_a_username_and_a_group(value: str) -> None:
    error = refused(configmap(mapRoles=f"- rolearn: {ROLE}\n  username: {value}"))
    assert error.line == 9
    assert "quote it" in error.detail
    refused(configmap(mapUsers=f"- userarn: {USER}\n  groups: [a, {value}]"))


def test_yaml11_non_text_under_an_unknown_key_is_refused() -> None:
    # `.nan` is a float that sigs.k8s.io/yaml cannot turn into JSON: the whole section would be dropped.
    refused(configmap(mapRoles=f"- rolearn: {ROLE}\n  note: .nan"))


@pytest.mark.parametrize("value", ["123-team", "0x", "1e", "2023-team", "1.2.3", "_1", "0b2", "v1.5"])
def test_text_that_only_looks_numeric_stays_text(value: str) -> None:
    assert read(configmap(mapRoles=f"- rolearn: {ROLE}\n  username: {value}")).map_roles[0].username == value


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("0X1F", Yaml11Kind.INT), ("0o17", Yaml11Kind.INT), ("0B101", Yaml11Kind.INT), ("0b-101", Yaml11Kind.INT),
        ("-0b1", Yaml11Kind.INT), ("1_0", Yaml11Kind.INT), ("08", Yaml11Kind.FLOAT), (".5e3", Yaml11Kind.FLOAT),
        ("1e5_", Yaml11Kind.FLOAT), ("+.INF", Yaml11Kind.FLOAT), ("ON", Yaml11Kind.BOOL), ("n", Yaml11Kind.BOOL),
        ("~", Yaml11Kind.NULL), ("<<", Yaml11Kind.MERGE), ("2001-1-2", Yaml11Kind.TIMESTAMP),
        ("yEs", Yaml11Kind.STR), ("0x", Yaml11Kind.STR), ("._", Yaml11Kind.FLOAT), (".e5", Yaml11Kind.STR),
        ("1e", Yaml11Kind.STR), ("arn:aws:iam::1:role/x", Yaml11Kind.STR),
    ],
)  # fmt: skip
def test_yaml11_kind(text: str, kind: Yaml11Kind) -> None:
    assert yaml11_kind(text) is kind


# --- class 5: escapes yaml.v2 rejects (a crash before) ----------------------------------------------------


@pytest.mark.parametrize("escape", ["\\ud83d\\ude00", "\\ud800", "\\U00110000", "\\UD800DC00"])
def test_surrogate_and_out_of_range_escapes_are_refused(escape: str) -> None:
    error = refused(configmap(mapRoles=f'- rolearn: {ROLE}\n  username: "a{escape}"'))
    assert "yaml.v2 rejects surrogates" in error.detail


def test_surrogate_escapes_in_json_are_refused() -> None:
    document = json.dumps({"kind": "ConfigMap", "metadata": {"name": "aws-auth"}, "data": {"mapUsers": "- 😀"}})
    assert "the escape \\ud83d" in refused(document).detail


def test_non_surrogate_escapes_are_read_as_both_readers_read_them() -> None:
    aws_auth = read(configmap(mapRoles=f'- rolearn: {ROLE}\n  username: "a\\u00e9\\x41\\U0001F600"'))
    assert aws_auth.map_roles[0].username == "aéA😀"


# --- sections the authenticator reads nobody from -----------------------------------------------------------


def test_a_section_that_starts_with_a_brace_is_json_to_the_authenticator_and_gives_nobody_access() -> None:
    aws_auth = read(
        configmap(mapRoles=f'{{"rolearn": "{ROLE}", "groups": ["system:masters"]}}', mapUsers=f"- userarn: {USER}")
    )
    assert aws_auth.map_roles == ()
    assert [m.arn for m in aws_auth.map_users] == [USER]
    (ignored,) = aws_auth.ignored_sections
    assert (ignored.section, ignored.line) == (Section.MAP_ROLES, 8)
    assert "decodes it as JSON" in ignored.why


@pytest.mark.parametrize(("text", "found"), [(f"rolearn: {ROLE}", "a mapping"), ("hello", "the string 'hello'")])
def test_a_section_that_is_no_list_gives_nobody_access(text: str, found: str) -> None:
    (ignored,) = read(configmap(mapRoles=text)).ignored_sections
    assert ignored.why.startswith(f"it is {found}, not a YAML list")


def test_json_sniffing_skips_go_spaces_only() -> None:
    assert taken_as_json("\u2003 \n{")
    assert not taken_as_json("\x1c{")
    assert not taken_as_json("[{")


def test_json_field_matching() -> None:
    fields = ("rolearn", "username")
    assert json_field("RoleARN", fields) == (FieldMatch.FIELD, "rolearn")
    assert json_field("u\u017fername", fields) == (FieldMatch.FIELD, "username")
    assert json_field("user_name", fields) == (FieldMatch.NONE, None)
    assert json_field("account\u0131d", ("accountID",)) == (FieldMatch.GO_VERSION_DEPENDENT, "accountID")


@pytest.mark.parametrize(("plain", "folded"), [("\ndata:", "\nData:"), ("\ndata:", "\nDATA:"), ("kind:", "Kind:"),
                                               ("apiVersion:", "apiversion:")])  # fmt: skip
def test_configmap_keys_a_go_reader_folds_must_be_spelled_plainly(plain: str, folded: str) -> None:
    text = configmap(mapRoles=f"- rolearn: {ROLE}").replace(plain, folded, 1)
    assert f"spell it {plain.strip()[:-1]!r}" in refused(text).detail


def test_metadata_keys_a_go_reader_folds_must_be_spelled_plainly() -> None:
    assert "spell it 'namespace'" in refused(configmap().replace("namespace:", "Namespace:")).detail


# --- found by an adversarial review: each was planned while the authenticator read nobody ------------------

ADMIN = f"- rolearn: {ROLE}\n  username: admin\n  groups: [system:masters]"


@pytest.mark.parametrize("value", ["{~: x}", "{[a]: x}", "{a: {null: b}}"], ids=["null", "list", "nested null"])
def test_a_key_that_is_no_text_is_refused_even_under_an_ignored_key(value: str) -> None:
    # sigs.k8s.io/yaml cannot make JSON of a null key, and yaml.v2 rejects a list as a key: the section is dropped.
    assert "is no text" in refused(configmap(mapRoles=f"{ADMIN}\n  extra: {value}")).detail


@pytest.mark.parametrize("extra", ["extra: {: x}", "extra:\n    : x"], ids=["flow", "block"])
def test_a_value_with_no_key_is_refused(extra: str) -> None:
    assert "no key before it" in refused(configmap(mapRoles=f"{ADMIN}\n  {extra}")).detail


def test_the_outer_document_has_the_same_key_rules() -> None:
    assert "is no text" in refused(configmap(mapRoles=ADMIN) + "extra: {~: x}\n").detail
    assert "starting with ':'" in refused(configmap(mapRoles=ADMIN) + "extra: [:x]\n").detail


@pytest.mark.parametrize("value", [".inf", "-.Inf", "[.NaN]", "{x: .inf}"])
def test_a_value_json_cannot_hold_is_refused_in_the_outer_document(value: str) -> None:
    assert "JSON cannot hold" in refused(configmap(mapRoles=ADMIN) + f"extra: {value}\n").detail


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_go_rejects_are_refused(constant: str) -> None:
    document = json.dumps({"kind": "ConfigMap", "metadata": {"name": "aws-auth"}, "data": {"mapRoles": ADMIN}})
    assert f"{constant} is not JSON" in refused(document[:-1] + f', "x": {constant}}}').detail


def test_a_document_that_starts_with_a_brace_is_json_only() -> None:
    # Kubernetes tools commit to JSON at a leading '{': a YAML flow mapping or broken JSON is not read as YAML.
    error = refused("{apiVersion: v1, kind: ConfigMap, metadata: {name: aws-auth}, data: {}}\n")
    assert error.detail.startswith("invalid JSON")
    document = json.dumps({"kind": "ConfigMap", "metadata": {"name": "aws-auth"}, "data": {"mapRoles": ADMIN}})
    assert refused(document[:-1] + ",}").detail.startswith("invalid JSON")


def test_json_after_a_byte_order_mark_is_refused() -> None:
    # Go's space test does not skip U+FEFF, so a Go reader reads what follows as YAML.
    document = json.dumps({"kind": "ConfigMap", "metadata": {"name": "aws-auth"}, "data": {"mapRoles": ADMIN}})
    assert "byte order mark before JSON" in refused(b"\xef\xbb\xbf" + document.encode()).detail
    assert read(b"\xef\xbb\xbf" + configmap(mapRoles=ADMIN).encode()).map_roles[0].arn == ROLE


def test_the_value_indicator_of_yaml11_is_refused_with_its_own_words() -> None:
    assert "YAML 1.1 gives it a meaning of its own" in refused(configmap(mapRoles=f"{ADMIN}\n  extra: =")).detail
