"""A differential oracle: aws-auth read the way aws-iam-authenticator reads it, in Go.

`authenticator/main.go` is our own small program (no authenticator code in it) that re-states the
authenticator's reading of aws-auth (pkg/mapper/configmap at 81b1dab, eks-facts.md section 4) on top of the
real Go YAML libraries: Debian's `golang-k8s-sigs-yaml-dev` (sigs.k8s.io/yaml) and `golang-gopkg-yaml.v2-dev`
(gopkg.in/yaml.v2), built in GOPATH mode with Debian's `golang-go`, with no network and no module proxy.

The `authenticator` fixture builds it once a session and keeps one process open; each request is one JSON
line on its stdin, each answer one JSON line on its stdout:

- `{"id", "document": "<ConfigMap YAML or JSON>", "probes": [ARN, ...]}`: the state the authenticator would
  hold, and what each probe (and every role and user key) would be mapped to; or `{"id", "error": "..."}` when
  the document itself does not decode.
- `{"id", "data": {"mapRoles": ..., ...}, "probes": [...]}`: the same from the data strings directly.
- `{"id", "resolve": [text, ...]}`: `{"id", "kinds": [...]}`, the Go type yaml.v2 gives each plain text
  (`str`, `int`, `uint`, `float`, `bool`, `null`, `other:<type>`, `error:<message>`).

A state answer has `data`, `sections` (per section: `status` absent/skipped/json/yaml_error/ok, `error`,
`errors`, `decode_error`, `dropped`), `roles` and `users` (saveMap's final maps, sorted by key), `accounts`,
and `lookup` (probe -> `via` mapRoles/mapUsers/mapAccounts/none and every matching candidate: the
authenticator ranges over a Go map, so any of them may answer).

No Go or no Debian sources: the tests skip, unless AWS_AUTH_MIGRATE_REQUIRE_GO=1 (`.ci/run` sets it once it
has installed them), when they fail. A build failure always fails.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import pytest

SOURCE = Path(__file__).parent / "authenticator" / "main.go"
GOPATH = Path("/usr/share/gocode")  # where Debian's golang-*-dev packages put their sources
GO_PACKAGES = {
    "sigs.k8s.io/yaml": "golang-k8s-sigs-yaml-dev",
    "gopkg.in/yaml.v2": "golang-gopkg-yaml.v2-dev",
}
REQUIRE_GO_ENV = "AWS_AUTH_MIGRATE_REQUIRE_GO"
BUILD_TIMEOUT = 300  # seconds: a cold build takes about one on this machine
ANSWER_TIMEOUT = 60  # seconds one answer may take before the oracle is taken for hung


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when this run requires the oracle."""
    if os.environ.get(REQUIRE_GO_ENV) == "1":
        pytest.fail(f"{reason}, and this run requires it ({REQUIRE_GO_ENV}=1)", pytrace=False)
    pytest.skip(reason)


class Authenticator:
    """One oracle process for the session, restarted when it dies."""

    def __init__(self, binary: Path, stderr_path: Path) -> None:
        self.binary = binary
        self.stderr_path = stderr_path
        self._process: subprocess.Popen[bytes] | None = None
        self._next_id = 0

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            with self.stderr_path.open("wb") as stderr:  # a file, never a pipe nobody reads
                self._process = subprocess.Popen(
                    [str(self.binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
                )
        return self._process

    def _died(self, request: Mapping[str, Any], what: str) -> NoReturn:
        process = self._process
        self._process = None
        if process is not None:
            process.kill()
            process.wait()
        stderr = self.stderr_path.read_text(errors="replace")
        pytest.fail(
            f"the Go oracle {what} on this request:\n{json.dumps(request, ensure_ascii=False)}\n{stderr}",
            pytrace=False,
        )

    def _round_trip(self, request: Mapping[str, Any]) -> dict[str, Any]:
        process = self._start()
        stdin: IO[bytes] | None = process.stdin
        stdout: IO[bytes] | None = process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except BrokenPipeError:
            self._died(request, "was gone")
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(ANSWER_TIMEOUT):
                self._died(request, f"gave no answer within {ANSWER_TIMEOUT} s")
        line = stdout.readline()
        if not line.endswith(b"\n"):
            self._died(request, "died")
        answer: dict[str, Any] = json.loads(line)
        if answer.get("panic"):
            pytest.fail(
                f"the Go oracle panicked on this request:\n{json.dumps(request, ensure_ascii=False)}\n"
                f"{answer['panic']}",
                pytrace=False,
            )
        if answer.get("id") != request["id"]:
            self._died(request, f"answered for id {answer.get('id')!r}")
        return answer

    def run(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One answer per request, in order; a request without an `id` gets one."""
        answers = []
        for request in requests:
            if "id" not in request:
                self._next_id += 1
                request = {**request, "id": self._next_id}
            answers.append(self._round_trip(request))
        return answers

    def state(self, document: str, probes: Iterable[str] = ()) -> dict[str, Any]:
        """The authenticator's state for a whole ConfigMap document (an `error` answer when it does not decode)."""
        return self.run([{"document": document, "probes": list(probes)}])[0]

    def data_state(self, data: Mapping[str, str], probes: Iterable[str] = ()) -> dict[str, Any]:
        """The authenticator's state for these data strings (a key left out is an absent section)."""
        return self.run([{"data": dict(data), "probes": list(probes)}])[0]

    def resolve(self, texts: Iterable[str]) -> list[str]:
        """The Go type yaml.v2 gives each text read on its own: `str`, `int`, `bool`, `null`, ..."""
        kinds: list[str] = self.run([{"resolve": list(texts)}])[0]["kinds"]
        return kinds

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # EOF: the oracle exits by itself
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def build(directory: Path) -> Path:
    """Build the oracle into `directory` with Debian's Go and sources, in GOPATH mode, offline."""
    go = shutil.which("go")
    if go is None:
        unavailable("go is not installed (Debian: golang-go)")
    for package, debian in GO_PACKAGES.items():
        if not (GOPATH / "src" / package).is_dir():
            unavailable(f"the Go package {package} is not under {GOPATH}/src (Debian: {debian})")
    binary = directory / "authenticator"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOCACHE": str(directory / "go-build"),
        "CGO_ENABLED": "0",
    }
    result = subprocess.run(
        [go, "build", "-o", str(binary), SOURCE.name],
        cwd=SOURCE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"building the Go oracle failed ({go} build):\n{result.stdout}{result.stderr}", pytrace=False)
    return binary


@pytest.fixture(scope="session")
def authenticator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authenticator]:
    directory = tmp_path_factory.mktemp("authenticator")
    oracle = Authenticator(build(directory), directory / "stderr")
    try:
        yield oracle
    finally:
        oracle.close()
