"""The sandbox serves S3 conditional writes one at a time: moto checks If-None-Match / If-Match and then writes,
without a lock, so two conditional PUTs of one key could both succeed, which S3 never allows. The dispatcher
runs every S3 request that writes or carries a precondition under one lock (to its last byte); the rest, and
every other service, run concurrently as before."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest
from werkzeug.test import EnvironBuilder

from migrator.sandbox.recorder import Recorder
from migrator.sandbox.server import _Dispatcher
from migrator.sandbox.state import World

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def signed(service: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20250301/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0"
    )


class Moto:
    """Stands for moto's app: says, for each request and each byte of its answer, whether the lock was held."""

    def __init__(self) -> None:
        self.dispatcher: _Dispatcher | None = None
        self.held: list[bool] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        self.held.append(self._locked())
        return self._body()

    def _body(self) -> Iterable[bytes]:
        self.held.append(self._locked())  # a lazy body: what it does happens after the app returned
        yield b"ok"

    def _locked(self) -> bool:
        assert self.dispatcher is not None
        return self.dispatcher.s3_writes.locked()


def serve(method: str, path: str, headers: dict[str, str], query: str = "") -> list[bool]:
    moto = Moto()
    dispatcher = _Dispatcher(World(), moto, moto, Recorder())
    moto.dispatcher = dispatcher
    environ = EnvironBuilder(
        method=method, path=path, headers=list(headers.items()), query_string=query, data=b"x"
    ).get_environ()
    body = b"".join(dispatcher(environ, lambda status, headers, exc_info=None: lambda data: None))
    assert body == b"ok"
    return moto.held


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("PUT", {"If-None-Match": "*"}),
        ("PUT", {"If-Match": '"abc"'}),
        ("DELETE", {"If-Match": '"abc"'}),
        ("PUT", {}),
        ("DELETE", {}),
        ("GET", {"If-Match": '"abc"'}),
    ],
)
def test_s3_writes_and_conditional_requests_run_under_the_lock(method: str, headers: dict[str, str]) -> None:
    assert serve(method, "/state/prod/lock.json", {"Authorization": signed("s3"), **headers}) == [True, True]


def test_a_presigned_s3_write_runs_under_the_lock_too() -> None:
    query = "X-Amz-Credential=AKIAEXAMPLE%2F20250301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0"
    assert serve("PUT", "/state/prod/lock.json", {"If-None-Match": "*"}, query) == [True, True]


@pytest.mark.parametrize(
    ("method", "path", "service", "headers"),
    [
        ("GET", "/state/prod/lock.json", "s3", {}),  # plain reads stay concurrent
        ("GET", "/state", "s3", {}),
        ("POST", "/clusters/prod/access-entries", "eks", {"If-Match": "x"}),  # other services: as before
        ("POST", "/", "sts", {}),
    ],
)
def test_other_requests_run_without_it(method: str, path: str, service: str, headers: dict[str, str]) -> None:
    assert serve(method, path, {"Authorization": signed(service), **headers}) == [False, False]
