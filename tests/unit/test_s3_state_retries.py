"""A conditional PUT that botocore retried (its first response lost to a reset or a timeout) can fail its
precondition against the object its own first attempt stored: S3Store tells that from a real conflict by the
object's bytes, so a run neither reports its own journal record as a fork nor its own lock as someone else's.
The S3 client is a stub here (the sandbox does not lose S3 responses); tests/contract/test_state_store.py
runs the store against the sandbox through the real boto3."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migrator.aws.s3state import S3Store, _Root
from migrator.errors import WriteConflict
from migrator.state.location import S3Location


class LostResponse:
    """put_object stores the object and then answers 412, as the retry of a PUT whose first attempt stored it
    does (`retries` 0: the 412 came at the first attempt, someone else's object)."""

    def __init__(self, stored: bytes, retries: int) -> None:
        self.stored = stored
        self.retries = retries
        self.puts: list[dict[str, Any]] = []

    def put_object(self, **params: Any) -> dict[str, Any]:
        self.puts.append(params)
        error = {"Code": "PreconditionFailed", "Message": "At least one of the pre-conditions did not hold"}
        raise ClientError({"Error": error, "ResponseMetadata": {"RetryAttempts": self.retries}}, "PutObject")

    def get_object(self, **params: Any) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.stored), "ETag": '"stored-etag"'}

    def get_bucket_encryption(self, **params: Any) -> dict[str, Any]:
        return {
            "ServerSideEncryptionConfiguration": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
        }


def store(client: LostResponse) -> S3Store:
    return S3Store(_Root(client, S3Location("state", "runs"), None, marked=True), "")


@pytest.mark.parametrize("condition", [{"if_none_match": True}, {"if_match": '"before"'}])
def test_a_retried_write_whose_first_attempt_stored_it_is_ours(condition: dict[str, Any]) -> None:
    client = LostResponse(b"record 3", retries=1)
    assert store(client).put("prod/plan.journal/000000003.json", b"record 3", **condition) == '"stored-etag"'
    assert client.puts[0]["Key"] == "runs/prod/plan.journal/000000003.json"


@pytest.mark.parametrize("condition", [{"if_none_match": True}, {"if_match": '"before"'}])
def test_a_retried_write_that_finds_other_bytes_is_a_conflict(condition: dict[str, Any]) -> None:
    with pytest.raises(WriteConflict):
        store(LostResponse(b"another runner's record 3", retries=2)).put("prod/x.json", b"record 3", **condition)


def test_a_precondition_failed_at_the_first_attempt_is_a_conflict_whatever_is_there() -> None:
    with pytest.raises(WriteConflict):
        store(LostResponse(b"record 3", retries=0)).put("prod/x.json", b"record 3", if_none_match=True)
