"""Reading aws-iam-authenticator's log lines (logrus text format, as EKS ships them to CloudWatch Logs), with
lines written by hand the way the authenticator writes them, malformed ones included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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


def test_written_lines_read_back_and_quote_as_logrus_does() -> None:
    at = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    fields = {"arn": "arn:aws:iam::1:role/A", "method": "POST", "path": "/authenticate", "username": 'x "y"'}
    line = format_line(at, "info", "access granted", fields | {"groups": "[]"})
    assert line == (
        'time="2026-10-01T12:00:00Z" level=info msg="access granted" arn="arn:aws:iam::1:role/A" groups="[]" '
        'method=POST path=/authenticate username="x \\"y\\""'
    )
    assert fields_of(line)["username"] == 'x "y"'
