"""IAM ARN builders for the test account (or another one)."""

from __future__ import annotations

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"


def role(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def user(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:user/{name}"
