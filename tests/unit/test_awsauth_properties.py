"""Property tests of the aws-auth parser.

1. Whatever it is given (any text, any bytes, any damage to a real file), it returns an AwsAuth or raises
   SourceError: never another exception, so the CLI never shows a traceback for a bad file.
2. A valid aws-auth rendered from generated mappings parses back to those mappings, with the lines of the
   rendered file, and the YAML, JSON and live-object forms agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.awsauth import parse_aws_auth, parse_configmap_object
from migrator.errors import SourceError
from migrator.model import AwsAuth, Section
from migrator.rules.arn import PARTITIONS

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "plans" / "examples").glob("*.yaml"))
EXAMPLE_BYTES = [path.read_bytes() for path in EXAMPLES]
HEADER = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n"

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_refuses(content: str | bytes) -> AwsAuth | None:
    """The parser's whole contract on bad input: a result or a SourceError with a sane location."""
    try:
        return parse_aws_auth(content, "f.yaml")
    except SourceError as error:
        assert error.file == "f.yaml"
        assert error.line is None or error.line >= 1
        assert str(error).startswith("f.yaml")
        return None


# --- 1. never anything but AwsAuth or SourceError -------------------------------------------------------


@SETTINGS
@given(st.text())
def test_any_text(text: str) -> None:
    parses_or_refuses(text)


@SETTINGS
@given(st.binary())
def test_any_bytes(data: bytes) -> None:
    parses_or_refuses(data)


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("-:|>[]{}'\"#&*!%@`,? \t\n\r\\~0123456789abcnoy")), max_size=200))
def test_yaml_punctuation_inside_every_section(body: str) -> None:
    # Random text in the outer file is mostly refused at once; inside a block it reaches the embedded parser.
    indented = "".join("    " + line + "\n" for line in body.split("\n"))
    for key in ("mapRoles", "mapUsers", "mapAccounts"):
        parses_or_refuses(f"{HEADER}  {key}: |\n{indented}")
        parses_or_refuses(f"{HEADER}  {key}: {json.dumps(body)}\n")


@SETTINGS
@given(st.sampled_from(EXAMPLE_BYTES), st.data())
def test_byte_mutations_of_the_examples(original: bytes, data: st.DataObject) -> None:
    content = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(content) - 1))
        content[index] = data.draw(st.integers(0, 255))
    parses_or_refuses(bytes(content))


@SETTINGS
@given(st.sampled_from(EXAMPLE_BYTES), st.data())
def test_line_deletion_and_duplication_of_the_examples(original: bytes, data: st.DataObject) -> None:
    lines = original.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(lines) - 1))
        if data.draw(st.booleans()):
            del lines[index]
        else:
            lines.insert(index, lines[index])
        if not lines:
            break
    parses_or_refuses(b"".join(lines))


@SETTINGS
@given(st.sampled_from(EXAMPLE_BYTES), st.data())
def test_text_insertion_into_the_examples(original: bytes, data: st.DataObject) -> None:
    text = original.decode()
    index = data.draw(st.integers(0, len(text)))
    inserted = data.draw(st.text(max_size=8))
    parses_or_refuses(text[:index] + inserted + text[index:])


# --- 2. round trip -----------------------------------------------------------------------------------------

NAME = st.from_regex(r"[A-Za-z0-9+=,.@_-]{1,40}", fullmatch=True)
PATH = st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True), max_size=2).map(
    lambda parts: "".join(part + "/" for part in parts)
)
ACCOUNT = st.from_regex(r"[0-9]{12}", fullmatch=True)
# Any printable text: the renderer quotes every scalar, so YAML-significant words stay strings.
FREE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), max_codepoint=0x2FFF), max_size=30)


@dataclass(frozen=True)
class Generated:
    section: Section
    arn: str
    username: str | None
    groups: tuple[str, ...]
    key_case: str  # how the keys are spelled: the parser must not care


@st.composite
def generated_mapping(draw: st.DrawFn, section: Section) -> Generated:
    kind = "role" if section is Section.MAP_ROLES else "user"
    partition = draw(st.sampled_from(PARTITIONS))
    arn = f"arn:{partition}:iam::{draw(ACCOUNT)}:{kind}/{draw(PATH)}{draw(NAME)}"
    username = draw(st.none() | FREE_TEXT)
    groups = tuple(draw(st.lists(FREE_TEXT, max_size=4)))
    return Generated(section, arn, username, groups, draw(st.sampled_from(["lower", "upper", "title"])))


def spell(key: str, case: str) -> str:
    return {"lower": key, "upper": key.upper(), "title": key.title()}[case]


def render_block(mappings: list[Generated], first_line: int) -> tuple[str, list[int]]:
    """The block's YAML (indented for `key: |`) and the outer line of each entry."""
    lines: list[str] = []
    starts: list[int] = []
    for mapping in mappings:
        arn_key = "rolearn" if mapping.section is Section.MAP_ROLES else "userarn"
        starts.append(first_line + len(lines))
        lines.append(f"    - {spell(arn_key, mapping.key_case)}: {json.dumps(mapping.arn)}")
        if mapping.username is not None:
            lines.append(f"      {spell('username', mapping.key_case)}: {json.dumps(mapping.username)}")
        if mapping.groups or mapping.key_case == "title":
            lines.append(f"      {spell('groups', mapping.key_case)}:")
            lines.extend(f"        - {json.dumps(group)}" for group in mapping.groups)
    return "".join(line + "\n" for line in lines), starts


def render(roles: list[Generated], users: list[Generated], accounts: list[str]) -> tuple[str, list[int]]:
    """A kubectl-like ConfigMap and the outer line of each role, user and account entry, in that order."""
    text = HEADER
    lines: list[int] = []
    for key, mappings in (("mapRoles", roles), ("mapUsers", users)):
        if mappings:
            text += f"  {key}: |\n"
            block, starts = render_block(mappings, text.count("\n") + 1)
            text += block
            lines += starts
    if accounts:
        text += "  mapAccounts: |\n"
        for account in accounts:
            lines.append(text.count("\n") + 1)
            text += f"    - {account}\n"  # unquoted on purpose: the authenticator reads the text as written
    return text, lines


def expected(mappings: list[Generated]) -> list[tuple[Section, int, str, str | None, tuple[str, ...]]]:
    return [(m.section, i, m.arn, m.username, m.groups) for i, m in enumerate(mappings)]


def actual(aws_auth: AwsAuth, section: Section) -> list[tuple[Section, int, str, str | None, tuple[str, ...]]]:
    mappings = aws_auth.map_roles if section is Section.MAP_ROLES else aws_auth.map_users
    return [(m.section, m.source.index, m.arn, m.username, m.groups) for m in mappings]


@SETTINGS
@given(
    st.lists(generated_mapping(Section.MAP_ROLES), max_size=5),
    st.lists(generated_mapping(Section.MAP_USERS), max_size=5),
    st.lists(ACCOUNT, max_size=3),
)
def test_round_trip(roles: list[Generated], users: list[Generated], accounts: list[str]) -> None:
    text, lines = render(roles, users, accounts)
    parsed = parse_aws_auth(text, "gen.yaml")

    assert actual(parsed, Section.MAP_ROLES) == expected(roles)
    assert actual(parsed, Section.MAP_USERS) == expected(users)
    assert [a.account for a in parsed.map_accounts] == accounts
    found_lines = [m.source.line for m in parsed.mappings] + [a.source.line for a in parsed.map_accounts]
    assert found_lines == lines
    assert all(not m.unknown_keys and not m.sso for m in parsed.mappings)

    # the same ConfigMap as `kubectl -o json` and as the API object: same mappings, same hash
    obj = {
        "apiVersion": "v1",
        "data": dict(parsed.raw_data),
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
    }
    for other in (parse_aws_auth(json.dumps(obj, indent=2), "gen.json"), parse_configmap_object(obj, "live")):
        assert other.sha256 == parsed.sha256
        assert other.raw_data == parsed.raw_data
        for section in (Section.MAP_ROLES, Section.MAP_USERS):
            assert actual(other, section) == actual(parsed, section)
        assert other.map_accounts == tuple(
            type(a)(a.account, type(a.source)(a.source.section, a.source.index, b.source.line, other.file))
            for a, b in zip(parsed.map_accounts, other.map_accounts, strict=True)
        )
