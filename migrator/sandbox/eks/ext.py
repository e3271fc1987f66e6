"""A WSGI layer in front of moto's server that adds the EKS operations moto lacks.

EKS requests (SigV4 credential scope service `eks`) whose route we own are answered here, in botocore's
rest-json shapes; the cluster, node group and Fargate profile operations go to moto, some with a hook
before or after (CreateCluster learns `accessConfig`, DescribeCluster gains it, UpdateClusterConfig returns
an `update`); every other request goes to moto untouched.

Every EKS request gets an AWS-shaped answer, whoever serves it: the region, the body (`eks_params`) and the
cluster a path names are checked first, and an HTML page or an exception from moto becomes EKS's JSON error.

Simulation (from `World.settings`) applies to the EKS operations this module *handles* (the `HANDLED`
table, including the wrapped cluster operations), not to STS, IAM or plain pass-through calls (S3, a run's
state, gets the same `latency_ms` in server.py's dispatcher):
- `latency_ms`: sleep before answering;
- rate limit: a token bucket per (account, region, operation) -> HTTP 429 ThrottlingException;
- faults, drawn from one RNG seeded with `fault_seed`: `throttle` (429 ThrottlingException),
  `serverError` (500 ServerException), `connectionReset` (the socket is closed with no response; half of
  them, drawn from the same RNG, happen *after* the operation ran, as when a response is lost in transit).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import random
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.eks.models import eks_backends
from moto.iam.models import get_account_id_from

from migrator.model import EntryType
from migrator.sandbox.eks import access as eks_access
from migrator.sandbox.eks import clusters as eks_clusters
from migrator.sandbox.eks import params as eks_params
from migrator.sandbox.eks.access import EksError, RequestContext
from migrator.sandbox.eks.requests import check_max_results
from migrator.sandbox.state import World

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Handler = Callable[[World, RequestContext, dict[str, Any]], dict[str, Any]]

_CREDENTIAL_RE = re.compile(r"Credential=(?P<key>[^/,\s]+)/[^/]+/(?P<region>[^/]+)/(?P<service>[^/]+)/")

# (method, path pattern, operation). "{x}" matches one path segment, percent-decoded.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/clusters/{name}/access-entries", "CreateAccessEntry"),
    ("GET", "/clusters/{name}/access-entries", "ListAccessEntries"),
    ("GET", "/clusters/{name}/access-entries/{principalArn}", "DescribeAccessEntry"),
    ("POST", "/clusters/{name}/access-entries/{principalArn}", "UpdateAccessEntry"),
    ("DELETE", "/clusters/{name}/access-entries/{principalArn}", "DeleteAccessEntry"),
    ("POST", "/clusters/{name}/access-entries/{principalArn}/access-policies", "AssociateAccessPolicy"),
    ("GET", "/clusters/{name}/access-entries/{principalArn}/access-policies", "ListAssociatedAccessPolicies"),
    (
        "DELETE",
        "/clusters/{name}/access-entries/{principalArn}/access-policies/{policyArn}",
        "DisassociateAccessPolicy",
    ),
    ("GET", "/access-policies", "ListAccessPolicies"),
    ("POST", "/clusters/{name}/update-config", "UpdateClusterConfig"),
    ("GET", "/clusters/{name}/updates/{updateId}", "DescribeUpdate"),
    ("GET", "/clusters/{name}/updates", "ListUpdates"),
    ("POST", "/clusters", "CreateCluster"),
    ("GET", "/clusters/{name}", "DescribeCluster"),
    ("DELETE", "/clusters/{name}", "DeleteCluster"),
    ("POST", "/clusters/{name}/node-groups", "CreateNodegroup"),
    ("POST", "/clusters/{name}/fargate-profiles", "CreateFargateProfile"),
)

# Operations answered entirely here.
HANDLERS: dict[str, Handler] = {
    "CreateAccessEntry": eks_access.create_access_entry,
    "ListAccessEntries": eks_access.list_access_entries,
    "DescribeAccessEntry": eks_access.describe_access_entry,
    "UpdateAccessEntry": eks_access.update_access_entry,
    "DeleteAccessEntry": eks_access.delete_access_entry,
    "AssociateAccessPolicy": eks_access.associate_access_policy,
    "ListAssociatedAccessPolicies": eks_access.list_associated_access_policies,
    "DisassociateAccessPolicy": eks_access.disassociate_access_policy,
    "ListAccessPolicies": eks_access.list_access_policies,
    "DescribeUpdate": eks_clusters.describe_update,
    "ListUpdates": eks_clusters.list_updates,
}
HANDLED = frozenset(op for _, _, op in ROUTES)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> dict[str, Any]:
        loaded = json.loads(self.body or b"{}")
        return loaded if isinstance(loaded, dict) else {}


@dataclass
class _Request:
    environ: WSGIEnvironment
    operation: str
    params: dict[str, Any]
    body: bytes
    ctx: RequestContext
    extra: dict[str, Any] = field(default_factory=dict)


class _DropConnection(Exception):
    pass


def _match(pattern: str, segments: list[str]) -> dict[str, str] | None:
    parts = pattern.strip("/").split("/")
    if len(parts) != len(segments):
        return None
    labels: dict[str, str] = {}
    for part, segment in zip(parts, segments, strict=True):
        if part.startswith("{"):
            labels[part[1:-1]] = unquote(segment)
        elif part != segment:
            return None
    return labels


def _route(method: str, segments: list[str]) -> tuple[str, dict[str, str]] | None:
    for route_method, pattern, operation in ROUTES:
        labels = _match(pattern, segments) if route_method == method else None
        if labels is not None:
            return operation, labels
    return None


def request_account(environ: WSGIEnvironment, access_key: str) -> str:
    """The caller's account, decided as moto decides it for every other service (env, header, access key)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return str(header)
    return str(get_account_id_from(access_key))


@functools.cache
def _eks_regions() -> frozenset[str]:
    return frozenset(eks_backends[DEFAULT_ACCOUNT_ID].regions)


def _eks_credential(environ: WSGIEnvironment) -> re.Match[str] | None:
    """The SigV4 credential scope of an EKS request; None for every other service (moto's alone)."""
    credential = _CREDENTIAL_RE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return credential if credential is not None and credential.group("service") == "eks" else None


def _named_cluster(method: str, segments: list[str]) -> str | None:
    """The cluster a request path names (`/clusters/{name}...`); None for CreateCluster and ListClusters."""
    if len(segments) >= 2 and segments[0] == "clusters" and not (method == "POST" and len(segments) == 1):
        return unquote(segments[1])
    return None


def _raw_path(environ: WSGIEnvironment) -> str:
    # PATH_INFO is already percent-decoded, which makes an ARN's "/" ambiguous; werkzeug keeps the raw URI.
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if raw:
        raw = raw.split("?", 1)[0]
        if "://" in raw:
            raw = "/" + raw.split("://", 1)[1].split("/", 1)[-1]
        return raw
    return str(environ.get("PATH_INFO", ""))


class EksExtension:
    """WSGI app: EKS access entries, authentication modes and updates on `world`; the rest via `fallback`."""

    def __init__(self, world: World, fallback: WSGIApplication) -> None:
        self.world = world
        self.fallback = fallback
        self._rng = random.Random(world.settings.fault_seed)
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        credential = _eks_credential(environ)
        if credential is None:
            return self.fallback(environ, start_response)
        access_key, region = credential.group("key"), credential.group("region")
        ctx = RequestContext(request_account(environ, access_key), region, access_key)
        try:
            request = self._parse(environ, ctx)
        except EksError as error:
            return _send(start_response, _error(error))
        if request is None:
            return _send(start_response, self._unrouted(environ, ctx))
        try:
            response = self._serve(request)
        except _DropConnection:
            return self._drop(environ)
        return _send(start_response, response)

    # --- parsing --------------------------------------------------------------------------------------

    def _parse(self, environ: WSGIEnvironment, ctx: RequestContext) -> _Request | None:
        """The routed request, or None for an EKS path the extension does not route (moto's, or nobody's).

        Raises EksError, answered as EKS would before looking any further: a region EKS does not serve, a
        body that is not what the operation takes, a cluster that does not exist.
        """
        if ctx.region not in _eks_regions():
            # AWS answers a request signed for a region it does not serve with a 403 (moto: an HTML 500).
            raise EksError("InvalidSignatureException", f"Credential should be scoped to a valid region. "
                           f"'{ctx.region}' is not a region EKS serves.")  # fmt: skip
        method = str(environ.get("REQUEST_METHOD", "GET"))
        segments = _raw_path(environ).strip("/").split("/")
        query: dict[str, Any] = {k: v[-1] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
        check_max_results(query)  # moto's list operations crash on a bad one
        name = _named_cluster(method, segments)
        if name is not None:
            with self.world.lock:
                known = self.world.cluster(ctx.account, ctx.region, name) is not None
            if not known:
                raise EksError("ResourceNotFoundException", f"No cluster found for name: {name}.")
        route = _route(method, segments)
        if route is None:
            return None
        operation, labels = route
        body = _read_body(environ)
        params = {**query, **eks_params.parse_body(operation, body)}
        params.update(labels)
        return _Request(environ, operation, params, body, ctx)

    def _unrouted(self, environ: WSGIEnvironment, ctx: RequestContext) -> _Response:
        """An EKS request for moto (node groups, add-ons, ...), its answer kept AWS-shaped."""
        return self._moto(_Request(environ, "", {}, _read_body(environ), ctx))

    # --- simulation -----------------------------------------------------------------------------------

    def _serve(self, request: _Request) -> _Response:
        settings = self.world.settings
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000)
        eks_clusters.settle(self.world)
        with self.world.lock:
            throttled = not self._take_token(request)
            fault = self._draw_fault()
            self.world.stats["requests"] += 1
            self.world.stats["throttled"] += throttled
            if fault is not None:
                self.world.stats[f"fault:{fault}"] += 1
        if fault == "reset-before":
            raise _DropConnection
        if throttled or fault == "throttle":
            response = _error(EksError("ThrottlingException", "Rate exceeded"))
        elif fault == "server-error":
            response = _error(EksError("ServerException", "An internal error occurred. (injected fault)"))
        else:
            try:
                response = self._operation(request)
            except EksError as error:
                response = _error(error)
        if fault == "reset-after":
            raise _DropConnection
        return response

    def _draw_fault(self) -> str | None:
        """One fault or none; always two draws, so the sequence depends only on the seed and request order."""
        settings = self.world.settings
        draw, half = self._rng.random(), self._rng.random()
        if draw < settings.connection_reset:
            return "reset-after" if half < 0.5 else "reset-before"
        draw -= settings.connection_reset
        if draw < settings.throttle:
            return "throttle"
        draw -= settings.throttle
        return "server-error" if draw < settings.server_error else None

    def _take_token(self, request: _Request) -> bool:
        settings = self.world.settings
        if not settings.rate_limit_tps:
            return True
        key = (request.ctx.account, request.ctx.region, request.operation)
        burst = float(settings.rate_limit_burst or max(1, int(settings.rate_limit_tps)))
        now = time.monotonic()
        bucket = self._buckets.setdefault(key, _Bucket(burst, now))
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * settings.rate_limit_tps)
        bucket.stamp = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _drop(self, environ: WSGIEnvironment) -> Iterable[bytes]:
        sock = environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        # werkzeug treats ConnectionError as "client went away": no response, no traceback in the log.
        raise ConnectionResetError("sandbox fault: connection reset")

    # --- operations -----------------------------------------------------------------------------------

    def _operation(self, request: _Request) -> _Response:
        op, params, ctx = request.operation, request.params, request.ctx
        with self.world.lock:
            handler = HANDLERS.get(op)
            if handler is not None:
                return _ok(handler(self.world, ctx, params))
            if op == "UpdateClusterConfig":
                return self._update_cluster_config(request)
            if op == "CreateCluster":
                mode, bootstrap = eks_clusters.check_create_cluster(params)
                response = self._moto(request)
                if response.status == 200:
                    creator = eks_access.caller_arn(ctx.access_key, ctx.account)
                    version = params.get("version")
                    eks_clusters.register_cluster(self.world, ctx, params["name"], version, mode, bootstrap, creator)
                return self._with_cluster(request, response)
            if op in ("DescribeCluster", "DeleteCluster"):
                response = self._with_cluster(request, self._moto(request))
                if op == "DeleteCluster" and response.status == 200:
                    eks_clusters.forget_cluster(self.world, ctx, params["name"])
                return response
            response = self._moto(request)
            if response.status == 200 and op == "CreateNodegroup":
                windows = str(params.get("amiType") or "").upper().startswith("WINDOWS")
                entry_type = EntryType.EC2_WINDOWS if windows else EntryType.EC2_LINUX
                eks_clusters.node_role_created(self.world, ctx, params["name"], str(params.get("nodeRole")), entry_type)
            elif response.status == 200 and op == "CreateFargateProfile":
                role = str(params.get("podExecutionRoleArn"))
                eks_clusters.node_role_created(self.world, ctx, params["name"], role, EntryType.FARGATE_LINUX)
            return response

    def _update_cluster_config(self, request: _Request) -> _Response:
        kind = eks_clusters.update_kind(request.params)
        if kind == "accessConfig":
            return _ok(eks_clusters.update_access_config(self.world, request.ctx, request.params))
        if kind is None:
            raise EksError("InvalidParameterException", "No changes were requested in the update.")
        cluster = eks_access.get_cluster(self.world, request.ctx, request.params["name"])
        retried = eks_clusters.retried_update(cluster, request.params)
        if retried is not None:
            return _ok({"update": eks_clusters.update_json(retried)})
        eks_clusters.check_no_update_in_progress(cluster)
        # moto applies the change (and answers with the cluster); EKS answers with the update.
        response = self._moto(request)
        if response.status != 200:
            return response
        update = eks_clusters.start_update(self.world, cluster, kind, request.params)
        return _ok({"update": eks_clusters.update_json(update)})

    def _with_cluster(self, request: _Request, response: _Response) -> _Response:
        if response.status != 200:
            return response
        payload = response.json()
        if isinstance(payload.get("cluster"), dict):
            eks_clusters.augment_cluster(self.world, request.ctx, payload["cluster"])
        return _ok(payload)

    def _moto(self, request: _Request) -> _Response:
        environ = dict(request.environ)
        environ["wsgi.input"] = io.BytesIO(request.body)
        environ["CONTENT_LENGTH"] = str(len(request.body))
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        try:
            chunks = self.fallback(environ, start_response)
            try:
                body = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception as error:  # moto's bugs and KeyErrors: EKS would answer JSON, not a traceback
            return _error(EksError("ServerException", f"An internal error occurred: {type(error).__name__}."))
        return _aws_shaped(_Response(int(str(captured["status"]).split()[0]), list(captured["headers"]), body))


def _read_body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    body: bytes = stream.read(length) if length > 0 else b""
    if not body and environ.get("wsgi.input_terminated"):
        body = stream.read()
    return body


def _headers(body: bytes, extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        *extra,
    ]


def _ok(payload: dict[str, Any]) -> _Response:
    body = json.dumps(payload).encode()
    return _Response(200, _headers(body), body)


def _error(error: EksError) -> _Response:
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return _Response(error.status, _headers(body, [("x-amzn-ErrorType", error.code)]), body)


def _aws_shaped(response: _Response) -> _Response:
    """moto's answer, or the JSON error EKS would give where moto answers an HTML page (no route: 404)."""
    if response.status < 400 or _is_json_object(response.body):
        return response
    if response.status in (404, 405):  # no such route, or not with this method
        return _error(EksError("UnknownOperationException", "The requested operation is not supported."))
    return _error(EksError("ServerException", "An internal error occurred."))


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


def _send(start_response: StartResponse, response: _Response) -> Iterable[bytes]:
    start_response(f"{response.status} {_reason(response.status)}", response.headers)
    return [response.body]


def _reason(status: int) -> str:
    reasons = {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
    }
    return reasons.get(status, "Internal Server Error" if status >= 500 else "Error")
