"""Reading aws-iam-authenticator's log lines (logrus text format, as EKS ships them to CloudWatch Logs), with
lines written by hand the way the authenticator writes them, malformed ones included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.model import SignInEvent
from migrator.rules.signins import MalformedLine, fields_of, format_line, parse_line

GRANTED_ROLE = (
    'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn="arn:aws:iam::111122223333:role/Dev" '
    'client="127.0.0.1:50372" groups="[developers viewers]" method=POST path=/authenticate '
    'uid="aws-iam-authenticator:111122223333:AROAEXAMPLEEXAMPLE" username="dev:i-0a1b2c3d4e5f60718"'
)
GRANTED_MAP_ACCOUNTS = (
    'time="2026-10-02T08:30:15+02:00" level=info msg="access granted" arn="arn:aws:iam::444455556666:user/ci/bob" '
    'client="127.0.0.1:50380" groups="[]" method=POST path=/authenticate '
    'uid="aws-iam-authenticator:444455556666:AIDAEXAMPLE" username="arn:aws:iam::444455556666:user/ci/bob"'
)
DENIED_NOT_MAPPED = (
    'time="2026-10-03T00:00:01Z" level=warning msg="access denied" arn="arn:aws:iam::999988887777:role/Stranger" '
    'client="127.0.0.1:50390" error="identity is not mapped" method=POST path=/authenticate'
)
DENIED_BAD_TOKEN = (
    'time="2026-10-03T00:00:02Z" level=warning msg="access denied" client="127.0.0.1:50391" '
    'error="input token was not properly formatted: X-Amz-Date parameter is expired (15 minute expiration)" '
    "method=POST path=/authenticate"
)
STS_RESPONSE = (
    'time="2026-10-01T12:00:00Z" level=info msg="STS response" accesskeyid=ASIAEXAMPLE accountid=111122223333 '
    'arn="arn:aws:sts::111122223333:assumed-role/Dev/i-0a1b2c3d4e5f60718" client="127.0.0.1:50372" method=POST '
    "path=/authenticate session=i-0a1b2c3d4e5f60718 userid=AROAEXAMPLEEXAMPLE"
)


def test_a_granted_role_sign_in() -> None:
    assert parse_line(GRANTED_ROLE) == SignInEvent(
        at=datetime(2026, 10, 1, 12, 0, 0, tzinfo=UTC),
        granted=True,
        arn="arn:aws:iam::111122223333:role/Dev",
        username="dev:i-0a1b2c3d4e5f60718",
        groups=("developers", "viewers"),
        uid="aws-iam-authenticator:111122223333:AROAEXAMPLEEXAMPLE",
    )


def test_a_map_accounts_sign_in_has_no_groups_and_its_time_is_read_in_utc() -> None:
    event = parse_line(GRANTED_MAP_ACCOUNTS)
    assert event is not None
    assert event.at == datetime(2026, 10, 2, 6, 30, 15, tzinfo=UTC)
    assert (event.username, event.groups) == ("arn:aws:iam::444455556666:user/ci/bob", ())


def test_denials_with_and_without_an_arn() -> None:
    assert parse_line(DENIED_NOT_MAPPED) == SignInEvent(
        datetime(2026, 10, 3, 0, 0, 1, tzinfo=UTC),
        False,
        "arn:aws:iam::999988887777:role/Stranger",
        error="identity is not mapped",
    )
    refused = parse_line(DENIED_BAD_TOKEN)
    assert refused is not None and refused.arn is None and not refused.granted
    assert refused.error is not None and refused.error.startswith("input token was not properly formatted")


def test_other_authenticator_lines_are_not_sign_ins() -> None:
    assert parse_line(STS_RESPONSE) is None
    assert parse_line('time="2026-10-01T12:00:00Z" level=info msg="listening on https://127.0.0.1:21362/"') is None


def test_quoted_values_are_go_escapes() -> None:
    line = r'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn="arn:aws:iam::1:role/A" ' + (
        r'groups="[]" username="say \"hi\"\t\\ \x41\u00e9"'
    )
    event = parse_line(line)
    assert event is not None and event.username == 'say "hi"\t\\ A\u00e9'


def test_the_time_falls_back_to_the_events_timestamp() -> None:
    received = datetime(2026, 10, 5, tzinfo=UTC)
    line = 'level=info msg="access granted" arn="arn:aws:iam::1:role/A" groups="[a]" username=a'
    event = parse_line(line, received=received)
    assert event is not None and event.at == received


@pytest.mark.parametrize(
    "line",
    [
        "not a log line at all",
        'time="2026-10-01T12:00:00Z" level=info msg="access granted',  # quote never closed
        'time="2026-10-01T12:00:00Z" level=info msg="access granted" groups="[a]" username=a',  # no arn
        'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn=x username=a',  # no groups
        'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn=x groups=a username=a',  # not a list
        'time="yesterday" level=info msg="access granted" arn=x groups="[]"',
        'time="2026-10-01T12:00:00" level=info msg="access granted" arn=x groups="[]"',  # no zone
        'level=info msg="access granted" arn=x groups="[]"',  # no time, no event timestamp
        'time="2026-10-01T12:00:00Z" msg="access granted" msg="access denied" arn=x groups="[]"',
        r'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn=x groups="[]" username="\q"',
        r'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn=x groups="[]" username="\x4"',
        'time="2026-10-01T12:00:00Z" level=info msg="access granted" =x',
    ],
)
def test_malformed_lines_are_refused(line: str) -> None:
    with pytest.raises(MalformedLine):
        parse_line(line)


GRANTED_TO = 'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn="arn:aws:iam::1:role/A" groups="[]" '


@pytest.mark.parametrize(
    "line",
    [
        GRANTED_TO + r'username="\U00110000"',  # past the last code point: chr() refused it, exit 1
        GRANTED_TO + r'username="\ud800"',  # a surrogate: strconv.Unquote refuses it, UTF-8 cannot hold it
        GRANTED_TO + r'username="\uDFFF"',
        GRANTED_TO + 'username="a\ud800b"',  # a lone surrogate in the text, as json.loads makes of "\ud800"
        GRANTED_TO.replace("role/A", "role/\udc80") + "username=a",  # unquoted, in the arn
        GRANTED_TO + "username=\udfff",
        GRANTED_TO + r'username="\xff"',  # Go's %q of a byte that is not UTF-8: no text to credit
        GRANTED_TO + r'username="\xc3"',  # half a character
        GRANTED_TO.replace("2026-10-01T12:00:00Z", "0001-01-01T00:00:00+01:00") + "username=a",  # before UTC's first
        GRANTED_TO.replace("2026-10-01T12:00:00Z", "9999-12-31T23:59:59-01:00") + "username=a",  # after its last
    ],
)
def test_a_line_go_could_not_have_written_is_malformed_not_a_crash(line: str) -> None:
    with pytest.raises(MalformedLine):
        parse_line(line)


def test_hex_escapes_are_bytes_as_in_go() -> None:
    event = parse_line(GRANTED_TO + r'username="caf\xc3\xa9 \u00e9 \U0001F600" uid="\x41"')
    assert event is not None and (event.username, event.uid) == ("caf\u00e9 \u00e9 \U0001f600", "A")


def test_groups_are_split_where_go_joined_them_with_a_space() -> None:
    event = parse_line(GRANTED_TO.replace('groups="[]"', 'groups="[a\u00a0b c]"') + "username=a")
    assert event is not None and event.groups == ("a\u00a0b", "c")


# Any text: the parser returns or raises MalformedLine, and what it returns is text that UTF-8 can hold.
_GO_ESCAPES = ["\\x", "\\u", "\\U", "\\", '"', "d8", "00", "ff", "0011", "0010FFFF", "DFFF", "c3", " ", "=", "A"]
_GO_ESCAPES += ["\\ud800", "\\U00110000", "\\xff", "\\xc3\\xa9", "\udc80"]  # the known ways in, kept likely
_CHARACTERS = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from(list('"\\= []\t\r\n0123456789abcdefxuU')),
)
_VALUES = st.lists(st.one_of(st.sampled_from(_GO_ESCAPES), st.text(_CHARACTERS, max_size=4)), max_size=8).map("".join)
_TIMES = st.one_of(
    st.just("2026-10-01T12:00:00Z"),
    st.just("2026-10-01T12:00:00Z"),
    st.datetimes(timezones=st.timezones() | st.none()).map(lambda moment: moment.isoformat()),
    _VALUES,
)


def _logfmt(fields: dict[str, str]) -> str:
    return " ".join(f'{key}="{value}"' for key, value in fields.items())


@given(
    st.one_of(
        st.text(_CHARACTERS, max_size=200),
        st.builds(
            lambda time, message, arn, groups, username: _logfmt(
                {"time": time, "level": "info", "msg": message, "arn": arn, "groups": groups, "username": username}
            ),
            _TIMES,
            st.sampled_from(["access granted", "access granted", "access denied", "STS response"]) | _VALUES,
            _VALUES,
            _VALUES.map(lambda text: f"[{text}]"),
            _VALUES,
        ),
    ),
    st.none() | st.datetimes(timezones=st.just(UTC)),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_line_is_a_sign_in_another_line_or_malformed(line: str, received: datetime | None) -> None:
    try:
        event = parse_line(line, received=received)
    except MalformedLine:
        return
    if event is None:
        return
    texts = [event.arn or "", event.username or "", event.uid or "", event.error or "", *event.groups]
    for text in texts:
        text.encode("utf-8")  # a lone surrogate would fail here, and later when the plan is written
    assert event.at.tzinfo is not None and event.at.utcoffset() == timedelta(0)


def test_written_lines_read_back_and_quote_as_logrus_does() -> None:
    at = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    fields = {"arn": "arn:aws:iam::1:role/A", "method": "POST", "path": "/authenticate", "username": 'x "y"'}
    line = format_line(at, "info", "access granted", fields | {"groups": "[]"})
    assert line == (
        'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn="arn:aws:iam::1:role/A" groups="[]" '
        'method=POST path=/authenticate username="x \\"y\\""'
    )
    assert fields_of(line)["username"] == 'x "y"'
