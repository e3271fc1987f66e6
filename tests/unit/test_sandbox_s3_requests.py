"""The sandbox's S3 as a run's state meets it: S3 answers after the scenario's simulated round trip (`latencyMs`,
as EKS does; without it an S3 state looked free next to files, bench/state.py), slept outside the write lock so
writes of different keys still overlap; and the recorder names S3 requests by operation (they were all `?`), so
the bench can count a run's PutObjects and the permission tests can map each to its IAM action."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest
from werkzeug.test import EnvironBuilder

from migrator.sandbox import server
from migrator.sandbox.recorder import Recorder, identify
from migrator.sandbox.server import _Dispatcher
from migrator.sandbox.state import World

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def signed(service: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20250301/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0"
    )


def environ(method: str, path: str, service: str = "s3", query: str = "", **headers: str) -> WSGIEnvironment:
    built = EnvironBuilder(
        method=method,
        path=path,
        query_string=query,
        headers=[("Authorization", signed(service)), *headers.items()],
        data=b"x" if method in ("PUT", "POST") else None,
    )
    return built.get_environ()


# --- the round trip --------------------------------------------------------------------------------------


def sleeps_of(request: WSGIEnvironment, latency_ms: int, monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, bool]]:
    """The sleeps the dispatcher takes while answering `request`: (seconds, whether the S3 write lock was held)."""

    def moto(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    world = World()
    world.settings = dataclasses.replace(world.settings, latency_ms=latency_ms)
    dispatcher = _Dispatcher(world, moto, moto, Recorder())
    slept: list[tuple[float, bool]] = []
    monkeypatch.setattr(server.time, "sleep", lambda seconds: slept.append((seconds, dispatcher.s3_writes.locked())))
    assert b"".join(dispatcher(request, lambda status, headers, exc_info=None: lambda data: None)) == b"ok"
    return slept


@pytest.mark.parametrize(
    "request_",
    [
        environ("PUT", "/state/prod/plan.journal/000000001.json", **{"If-None-Match": "*"}),
        environ("GET", "/state/prod/lock.json"),
        environ("GET", "/state", query="list-type=2&prefix=prod%2F"),
    ],
)
def test_s3_answers_after_the_round_trip_outside_the_write_lock(
    request_: WSGIEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sleeps_of(request_, 50, monkeypatch) == [(0.05, False)]


def test_without_latency_s3_answers_at_once_and_other_services_are_not_slept_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert sleeps_of(environ("PUT", "/state/prod/lock.json"), 0, monkeypatch) == []
    assert sleeps_of(environ("POST", "/", "sts"), 50, monkeypatch) == []  # STS, IAM: never simulated


# --- the recorder's names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "operation", "action"),
    [
        (environ("PUT", "/state/prod/plan.journal/000000001.json", **{"If-None-Match": "*"}), "PutObject", "PutObject"),
        (environ("GET", "/state/prod/lock.json"), "GetObject", "GetObject"),
        (environ("HEAD", "/state/prod/lock.json"), "HeadObject", "GetObject"),
        (environ("DELETE", "/state/prod/lock.json"), "DeleteObject", "DeleteObject"),
        (environ("GET", "/state", query="list-type=2&prefix=prod%2F&encoding-type=url"), "ListObjectsV2", "ListBucket"),
        (environ("GET", "/state", query="encoding-type=url"), "ListObjects", "ListBucket"),
        (environ("PUT", "/state"), "CreateBucket", "CreateBucket"),
        (environ("PUT", "/state/b.json", **{"x-amz-copy-source": "/state/a.json"}), "CopyObject", "PutObject"),
        (environ("GET", "/state", query="versioning"), "GET /state?versioning", "GET /state?versioning"),
    ],
)
def test_s3_requests_are_named_by_operation(request_: WSGIEnvironment, operation: str, action: str) -> None:
    call = identify(request_)
    assert (call.service, call.operation, call.iam_action) == ("s3", operation, f"s3:{action}")
