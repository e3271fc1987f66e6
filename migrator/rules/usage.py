"""Usage evidence from the authenticator's log: the window `--usage-since` names, and the per-principal summary
of the sign-ins in it. Pure: the lines come in as text, the clock as an argument."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from migrator.errors import InputError
from migrator.model.usage import PrincipalUsage, SignInEvent, UsageEvidence
from migrator.rules.signins import MalformedLine, parse_line

_DURATION_RE = re.compile(r"([1-9][0-9]{0,5})([dh])", re.ASCII)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})", re.ASCII
)
MAX_WINDOW = timedelta(days=3653)  # CloudWatch keeps logs at most 10 years
SINCE_HINT = "use a duration (30d, 12h), a date (2026-10-01) or a UTC time (2026-10-01T12:00:00Z)"


def parse_since(text: str, now: datetime) -> datetime:
    """The start of the window `--usage-since TEXT` names, at `now` (aware); InputError when it names none."""
    value = text
    if match := _DURATION_RE.fullmatch(value):
        amount, unit = int(match.group(1)), match.group(2)
        span = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
        if span > MAX_WINDOW:
            raise InputError(f"--usage-since {text!r} reaches back more than 10 years", hint=SINCE_HINT)
        return now - span
    if _DATE_RE.fullmatch(value) or _DATETIME_RE.fullmatch(value):
        try:
            since = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"--usage-since {text!r} is not a real date", hint=SINCE_HINT) from None
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        if since >= now:
            raise InputError(f"--usage-since {text!r} is not in the past", hint=SINCE_HINT)
        if now - since > MAX_WINDOW:
            raise InputError(f"--usage-since {text!r} reaches back more than 10 years", hint=SINCE_HINT)
        return since
    raise InputError(f"--usage-since {text!r} is neither a duration nor a date", hint=SINCE_HINT)


def read_events(lines: Iterable[tuple[datetime | None, str | None]]) -> tuple[list[SignInEvent], int, int]:
    """The sign-ins among (received, message) log events, with the number of lines and of malformed ones
    (a message that is not text among them)."""
    events: list[SignInEvent] = []
    count = malformed = 0
    for received, message in lines:
        count += 1
        if not isinstance(message, str):
            malformed += 1
            continue
        try:
            event = parse_line(message, received=received)
        except MalformedLine:
            malformed += 1
            continue
        if event is not None:
            events.append(event)
    return events, count, malformed


def summarise(events: Iterable[SignInEvent], since: datetime, until: datetime) -> tuple[PrincipalUsage, ...]:
    """Per principal ARN (as logged; ARNs differing only in case are one principal, as the authenticator
    compares them), sorted by ARN: first and last granted sign-in, how many, and every username and group."""
    by_arn: dict[str, list[SignInEvent]] = defaultdict(list)
    spelling: dict[str, str] = {}
    for event in events:
        if event.arn is None or not since <= event.at <= until:
            continue
        key = event.arn.lower()
        spelling.setdefault(key, event.arn)
        by_arn[key].append(event)
    summary = []
    for key, seen in by_arn.items():
        granted = [e for e in seen if e.granted]
        times = [e.at for e in granted] or [e.at for e in seen]
        summary.append(
            PrincipalUsage(
                arn=spelling[key],
                first_seen=min(times),
                last_seen=max(times),
                count=len(granted),
                usernames=tuple(sorted({e.username for e in granted if e.username is not None})),
                groups=tuple(sorted({g for e in granted for g in e.groups})),
                denied=len(seen) - len(granted),
            )
        )
    return tuple(sorted(summary, key=lambda p: p.arn.lower()))


def evidence(lines: Iterable[tuple[datetime | None, str | None]], since: datetime, until: datetime) -> UsageEvidence:
    """The usage evidence of the log lines read for [since, until]."""
    events, count, malformed = read_events(lines)
    refused = sum(1 for e in events if e.arn is None and since <= e.at <= until)
    principals = summarise(events, since, until)
    return UsageEvidence(since, until, True, principals=principals, lines=count, malformed=malformed, refused=refused)


def unavailable(since: datetime, until: datetime, reason: str) -> UsageEvidence:
    return UsageEvidence(since, until, False, reason=reason)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
