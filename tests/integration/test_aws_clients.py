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
from tests.integration.conftest import REGION

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
