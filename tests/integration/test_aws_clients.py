"""boto3 clients are made once per account, region and service and shared by threads: an IAM lookup per
principal must not build a client (or assume a role) per principal. Counted with botocore's public
`creating-client-class` event, which fires once for every client a session builds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from migrator.aws.iam import BotoIamDirectory
from migrator.model import LookupStatus
from migrator.rules.arn import parse_arn
from migrator.sandbox.server import Sandbox
from migrator.wiring.connect import ConnectOptions, connect
from tests.integration.conftest import ADMIN, REGION, SandboxFactory, scenario

pytestmark = pytest.mark.integration

HOME = "111122223333"
OTHER = "444455556666"


def counted_session(sandbox: Sandbox, made: list[str]) -> boto3.Session:
    credentials = sandbox.caller_credentials()
    session = boto3.Session(
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
        region_name=REGION,
    )
    session.events.register("creating-client-class", lambda class_attributes, **_: made.append("client"))
    return session


def test_iam_lookups_build_one_client_and_one_session_per_account(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)  # the sandbox, for sessions made here
    home_clients: list[str] = []
    other_clients: list[str] = []
    other_sessions: list[str] = []
    other = counted_session(sandbox, other_clients)

    def session_for_account(account: str) -> boto3.Session:
        other_sessions.append(account)
        return other

    directory = BotoIamDirectory(HOME, counted_session(sandbox, home_clients), session_for_account)
    arns = [parse_arn(f"arn:aws:iam::{account}:role/Lookup{i}") for account in (HOME, OTHER) for i in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(directory.lookup, arns))

    assert {f.status for f in found} <= {LookupStatus.FOUND, LookupStatus.NOT_FOUND}  # every one was asked
    assert len(home_clients) == 1 and len(other_clients) == 1  # one IAM client per account, 20 lookups each
    assert other_sessions == [OTHER]  # one session (one AssumeRole) for the other account


def _describe_many(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, count: int) -> int:
    """`count` DescribeAccessEntry calls from 8 threads through the real gateway; how many requests EKS got."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)  # configuration of the real client, not a patch of it
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    eks = connect("modern", ConnectOptions(region=REGION)).eks
    sandbox.clear_calls()
    with ThreadPoolExecutor(max_workers=16) as pool:
        found = list(pool.map(lambda _: eks.describe_entry(ADMIN), range(count)))
    assert all(entry is not None for entry in found)  # every call got its answer in the end
    return sum(1 for c in sandbox.calls() if c.operation == "DescribeAccessEntry")


def test_a_rate_limited_operation_is_paced_at_the_limit_instead_of_bouncing_off_it(
    make_sandbox: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16 threads against 40 requests/s for DescribeAccessEntry (burst 10): after the first throttles the
    # pacer sends at about the rate EKS answers, so few requests are refused. A count, not a time: a slower
    # (loaded) machine sends more slowly still, and is throttled less.
    sandbox = make_sandbox(scenario(rateLimit="{tps: 40, burst: 10}"))
    sent = _describe_many(sandbox, monkeypatch, 240)
    # Measured on 2 cores: 12 to 29 throttled retries paced, 97 to 149 with the pacer taken out.
    assert sent - 240 <= 60, f"{sent - 240} throttled retries for 240 calls"


def test_many_principals_of_one_account_are_read_with_one_listing(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    session = counted_session(sandbox, [])
    iam = session.client("iam")
    for i in range(60):
        iam.create_role(RoleName=f"Listed{i}", Path="/team/", AssumeRolePolicyDocument="{}")
    asked = [parse_arn(f"arn:aws:iam::{HOME}:role/Listed{i}") for i in range(60)]
    asked += [parse_arn(f"arn:aws:iam::{HOME}:role/Missing"), parse_arn(f"arn:aws:iam::{HOME}:role/LISTED7x")]
    directory = BotoIamDirectory(HOME, session, lambda account: None)
    sandbox.clear_calls()
    directory.prefetch(asked)
    found = {arn.name: directory.lookup(arn) for arn in asked}

    assert all(found[f"Listed{i}"].arn == f"arn:aws:iam::{HOME}:role/team/Listed{i}" for i in range(60))
    assert found["Missing"].status is LookupStatus.NOT_FOUND
    assert found["LISTED7x"].status is LookupStatus.NOT_FOUND
    # One listing for the 60, and a GetRole only for the names it did not hold exactly (IAM decides what
    # GetRole makes of them, as without a listing).
    assert sorted(c.operation for c in sandbox.calls() if c.service == "iam") == ["GetRole", "GetRole", "ListRoles"]
