"""Usage evidence: the --usage-since window, the per-principal summary, and the findings a plan draws from it,
with hand-written expected values."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from migrator.aws.logs import received_time
from migrator.awsauth import parse_aws_auth
from migrator.errors import InputError
from migrator.model import Finding, PrincipalUsage, Severity, SignInEvent, UsageEvidence
from migrator.plan.compare import plan_differences
from migrator.plan.planfile import plan_from_dict, plan_to_dict
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import offline_snapshot
from migrator.rules.usage import evidence, parse_since, summarise

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
A = "111122223333"
OTHER = "444455556666"


@pytest.mark.parametrize(
    ("text", "since"),
    [
        ("30d", datetime(2026, 10, 31, 12, 0, tzinfo=UTC)),
        ("12h", datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
        ("2026-10-01", datetime(2026, 10, 1, tzinfo=UTC)),
        ("2026-10-01T06:30:00Z", datetime(2026, 10, 1, 6, 30, tzinfo=UTC)),
        ("2026-10-01T06:30:00+02:00", datetime(2026, 10, 1, 4, 30, tzinfo=UTC)),
    ],
)
def test_usage_since_accepts_durations_dates_and_times(text: str, since: datetime) -> None:
    assert parse_since(text, NOW) == since


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("30", "neither a duration nor a date"),
        ("0d", "neither a duration nor a date"),
        ("-3d", "neither a duration nor a date"),
        ("30 days", "neither a duration nor a date"),
        ("٣d", "neither a duration nor a date"),  # non-ASCII digits
        ("30d\n", "neither a duration nor a date"),
        ("2026-13-01", "not a real date"),
        ("2026-12-01", "not in the past"),
        ("4000d", "more than 10 years"),
        ("2001-01-01", "more than 10 years"),
    ],
)
def test_usage_since_refuses_what_names_no_window(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        parse_since(text, NOW)


def _event(
    day: int, arn: str | None, *, granted: bool = True, username: str = "u", groups: tuple[str, ...] = ()
) -> SignInEvent:
    return SignInEvent(datetime(2026, 11, day, tzinfo=UTC), granted, arn, username if granted else None, groups)


def test_the_summary_counts_granted_sign_ins_per_principal_ignoring_case() -> None:
    dev = f"arn:aws:iam::{A}:role/Dev"
    events = [
        _event(3, dev, username="dev:a", groups=("developers",)),
        _event(5, dev.upper().replace("ARN:AWS:IAM", "arn:aws:iam"), username="dev:b", groups=("developers", "x")),
        _event(4, dev, granted=False),
        _event(1, f"arn:aws:iam::{A}:role/Old"),  # before the window
        _event(6, None, granted=False),  # a refused token: nobody to credit
    ]
    summary = summarise(events, datetime(2026, 11, 2, tzinfo=UTC), NOW)
    assert summary == (
        PrincipalUsage(
            arn=dev,
            first_seen=datetime(2026, 11, 3, tzinfo=UTC),
            last_seen=datetime(2026, 11, 5, tzinfo=UTC),
            count=2,
            usernames=("dev:a", "dev:b"),
            groups=("developers", "x"),
            denied=1,
        ),
    )


def test_evidence_counts_lines_malformed_ones_and_refused_tokens() -> None:
    lines = [
        (NOW, 'time="2026-11-29T00:00:00Z" level=info msg="access granted" arn="arn:aws:iam::1:role/A" groups="[]"'),
        (NOW, 'time="2026-11-29T00:00:01Z" level=warning msg="access denied" error="bad token"'),
        (NOW, 'time="2026-11-29T00:00:02Z" level=info msg="STS response" arn="x"'),
        (NOW, "garbage"),
    ]
    found = evidence(lines, datetime(2026, 11, 1, tzinfo=UTC), NOW)
    assert (found.available, found.lines, found.malformed, found.refused) == (True, 4, 1, 1)
    assert [(p.arn, p.count) for p in found.principals] == [("arn:aws:iam::1:role/A", 1)]


def test_events_the_service_garbled_are_counted_malformed_and_a_line_keeps_its_own_time() -> None:
    granted = 'level=info msg="access granted" arn="arn:aws:iam::1:role/A" groups="[]"'
    lines: list[tuple[datetime | None, str | None]] = [
        (NOW, None),  # a message that was not text
        (None, granted),  # no time of its own, and CloudWatch's timestamp was unusable
        (None, 'time="2026-11-29T00:00:00Z" ' + granted),
        (NOW, 'time="2026-11-29T00:00:00Z" ' + granted.replace("role/A", "role/\udc80")),  # a lone surrogate
    ]
    found = evidence(lines, datetime(2026, 11, 1, tzinfo=UTC), NOW)
    assert (found.lines, found.malformed) == (4, 3)
    assert [(p.arn, p.count) for p in found.principals] == [("arn:aws:iam::1:role/A", 1)]


@pytest.mark.parametrize(
    ("millis", "moment"),
    [
        (1_796_040_000_000, datetime(2026, 11, 30, 12, 0, tzinfo=UTC)),
        (1_796_040_000_000.0, datetime(2026, 11, 30, 12, 0, tzinfo=UTC)),
        (None, None),
        ("1796040000000", None),
        (True, None),
        (float("inf"), None),
        (float("nan"), None),
        (10**30, None),
        (-(10**30), None),
        ([1], None),
    ],
)
def test_a_cloudwatch_timestamp_is_a_time_or_none(millis: object, moment: datetime | None) -> None:
    assert received_time(millis) == moment


AWS_AUTH = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: aws-auth, namespace: kube-system}}
data:
  mapRoles: |
    - rolearn: arn:aws:iam::{A}:role/Dev
      username: dev
      groups: [developers]
    - rolearn: arn:aws:iam::{A}:role/Quiet
      username: quiet
      groups: [viewers]
    - rolearn: arn:aws:iam::{A}:role/teams/x/Pathy
      username: pathy
  mapUsers: |
    - userarn: arn:aws:iam::{A}:user/alice
      username: alice
  mapAccounts: |
    - "{OTHER}"
"""
SINCE = datetime(2026, 11, 1, tzinfo=UTC)


def _usage(*principals: PrincipalUsage, available: bool = True, malformed: int = 0) -> UsageEvidence:
    return UsageEvidence(SINCE, NOW, available, "" if available else "no log group", principals, 10, malformed)


def _seen(arn: str, username: str, groups: tuple[str, ...] = ()) -> PrincipalUsage:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    return PrincipalUsage(arn, day, day, 4, (username,), groups)


def _plan(usage: UsageEvidence | None) -> list[Finding]:
    snapshot = offline_snapshot(
        parse_aws_auth(AWS_AUTH, file="aws-auth.yaml"), cluster="c", region="us-east-1", account=A
    )
    plan = build_plan(dataclasses.replace(snapshot, usage=usage), PlanOptions())
    return [f for f in plan.findings if f.code in {"UNUSED_MAPPING", "MAP_ACCOUNTS_SIGN_IN", "DEAD_MAPPING_SIGN_IN",
                                                    "USAGE_EVIDENCE_UNAVAILABLE", "USAGE_LOG_MALFORMED"}]  # fmt: skip


def test_findings_name_unused_mappings_map_accounts_principals_and_dead_mapping_sign_ins() -> None:
    contractor = f"arn:aws:iam::{OTHER}:role/Contractor"
    found = _plan(
        _usage(
            _seen(f"arn:aws:iam::{A}:role/dev", "dev", ("developers",)),  # case differs: still Dev's mapping
            _seen(f"arn:aws:iam::{A}:user/alice", "alice"),
            _seen(contractor, contractor),
            _seen(f"arn:aws:iam::{OTHER}:role/Mapped", "someone", ("g",)),  # not mapAccounts' identity
            _seen(f"arn:aws:iam::{A}:role/teams/x/Pathy", "pathy"),
        )
    )
    assert [(f.code, f.severity, f.principal_arn) for f in found] == [
        ("UNUSED_MAPPING", Severity.INFO, f"arn:aws:iam::{A}:role/Quiet"),
        ("MAP_ACCOUNTS_SIGN_IN", Severity.WARNING, contractor),
        ("DEAD_MAPPING_SIGN_IN", Severity.WARNING, f"arn:aws:iam::{A}:role/teams/x/Pathy"),
    ]
    assert found[0].message == (
        f"no sign-in by arn:aws:iam::{A}:role/Quiet from 2026-11-01T00:00:00Z to 2026-11-30T12:00:00Z"
    )
    assert found[1].message == (
        f"{contractor} signed in 4 times through mapAccounts only (last 2026-11-20T00:00:00Z); to keep its access, "
        f'add to aws-auth mapRoles: - {{rolearn: "{contractor}", username: "{contractor}", groups: []}}'
    )


def test_without_a_log_nothing_is_concluded_about_unused_mappings() -> None:
    found = _plan(_usage(available=False))
    assert [(f.code, f.message) for f in found] == [
        (
            "USAGE_EVIDENCE_UNAVAILABLE",
            "usage evidence unavailable: no log group; enable the authenticator control-plane log",
        )
    ]


def test_unreadable_lines_are_counted() -> None:
    found = _plan(_usage(*(_seen(f"arn:aws:iam::{A}:{p}", "x") for p in ("role/Dev", "role/Quiet", "user/alice")),
                         malformed=2))  # fmt: skip
    assert [(f.code, f.message) for f in found] == [
        ("USAGE_LOG_MALFORMED", "2 of 10 authenticator log lines were unreadable")
    ]


def test_plans_without_usage_have_no_usage_findings_and_no_usage_key() -> None:
    snapshot = offline_snapshot(
        parse_aws_auth(AWS_AUTH, file="aws-auth.yaml"), cluster="c", region="us-east-1", account=A
    )
    plan = build_plan(snapshot, PlanOptions(created_at="2026-11-30T12:00:00Z"))
    assert _plan(None) == []
    assert "usage" not in plan_to_dict(plan)


def test_usage_round_trips_through_the_plan_file_and_is_left_out_of_the_replan_comparison() -> None:
    snapshot = offline_snapshot(
        parse_aws_auth(AWS_AUTH, file="aws-auth.yaml"), cluster="c", region="us-east-1", account=A
    )
    with_usage = build_plan(
        dataclasses.replace(snapshot, usage=_usage()), PlanOptions(created_at="2026-11-30T12:00:00Z")
    )
    data = plan_to_dict(with_usage)
    assert data["usage"]["since"] == "2026-11-01T00:00:00Z" and data["usage"]["available"] is True
    loaded = plan_from_dict(data)
    assert loaded.usage == with_usage.usage
    assert [(f.code, f.message) for f in loaded.findings] == [(f.code, f.message) for f in with_usage.findings]
    without = build_plan(snapshot, PlanOptions(created_at="2026-11-30T12:00:00Z"))
    assert plan_differences(with_usage, without) == []


def test_a_usage_finding_edited_into_a_blocker_is_refused() -> None:
    from migrator.errors import PlanIntegrityError

    snapshot = offline_snapshot(
        parse_aws_auth(AWS_AUTH, file="aws-auth.yaml"), cluster="c", region="us-east-1", account=A
    )
    data = plan_to_dict(build_plan(dataclasses.replace(snapshot, usage=_usage()), PlanOptions()))
    unused = next(f for f in data["findings"] if f["code"] == "UNUSED_MAPPING")
    unused["severity"] = "blocker"
    with pytest.raises(PlanIntegrityError, match="UNUSED_MAPPING says blocker"):
        plan_from_dict(data)


def test_usage_windows_are_relative_to_now() -> None:
    assert NOW - parse_since("1h", NOW) == timedelta(hours=1)
