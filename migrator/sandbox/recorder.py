"""What the sandbox was asked: one record per request, AWS operations and Kubernetes verbs alike, so that a
test can hold a run's real calls against what the plan declared (rules/permissions.py) without touching
boto3. The server records every request before answering it; `Sandbox.calls()` reads the records.

AWS requests are named by their SigV4 credential scope (the service) and the operation: for EKS (rest-json)
from the method and path, for S3 (rest-xml, path-style: the sandbox is an IP address) from the method, whether
the path names a bucket or an object, and the subresource in the query; for the query-protocol services (STS,
IAM) from the `Action` parameter.
"""

from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote

from migrator.sandbox.eks.ext import ROUTES

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

_CREDENTIAL_RE = re.compile(r"Credential=(?P<key>[^/,\s]+)/[^/]+/(?P<region>[^/]+)/(?P<service>[^/]+)/")

# EKS operations moto answers on its own (the extension passes them through): named for the record only.
PASS_THROUGH_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/clusters", "ListClusters"),
    ("GET", "/clusters/{name}/node-groups", "ListNodegroups"),
    ("GET", "/clusters/{name}/node-groups/{nodegroupName}", "DescribeNodegroup"),
    ("GET", "/clusters/{name}/fargate-profiles", "ListFargateProfiles"),
    ("GET", "/clusters/{name}/fargate-profiles/{fargateProfileName}", "DescribeFargateProfile"),
)

_KUBE_VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete", "POST": "create"}


@dataclass(frozen=True)
class Call:
    """One request. AWS: service ("eks", "sts", "iam"), operation, and the cluster and principal it names; S3:
    the path-style path (`/bucket/key`) with its query (a listing's `prefix`). Kubernetes: service "kubernetes",
    the verb as RBAC names it, and the path below the cluster's prefix."""

    service: str
    operation: str
    account: str = ""
    region: str = ""
    cluster: str = ""
    principal_arn: str = ""
    path: str = ""

    @property
    def iam_action(self) -> str | None:
        """The IAM action that authorizes this call (EKS, STS and IAM actions are named as the operation; S3's
        mostly, but listing a bucket is s3:ListBucket and a HEAD is authorized as the GET)."""
        if self.service == "kubernetes":
            return None
        if self.service == "s3":
            return f"s3:{_S3_ACTIONS.get(self.operation, self.operation)}"
        return f"{self.service}:{self.operation}"


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


def _raw_path(environ: WSGIEnvironment) -> str:
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", ""))
    raw = raw.split("?", 1)[0]
    if "://" in raw:
        raw = "/" + raw.split("://", 1)[1].split("/", 1)[-1]
    return raw


def _read_body(environ: WSGIEnvironment) -> bytes:
    """The request body, put back so the application still sees it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _body_principal(environ: WSGIEnvironment) -> str:
    """CreateAccessEntry names its principal in the JSON body, not the path (the benchmark counts calls per
    principal)."""
    try:
        document = json.loads(_read_body(environ) or b"{}")
    except ValueError:
        return ""
    principal = document.get("principalArn") if isinstance(document, dict) else None
    return principal if isinstance(principal, str) else ""


def _query_action(environ: WSGIEnvironment) -> str:
    """The `Action` of a query-protocol request, from the query string or the form body (the body is read
    and put back, so the application still sees it)."""
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    if "Action" in query:
        return query["Action"][-1]
    form = parse_qs(_read_body(environ).decode("utf-8", "replace"))
    return form.get("Action", ["?"])[-1]


# S3 operations by (method, whether the path names an object); a bucket's subresources are left unnamed.
_S3_OPERATIONS = {
    ("GET", False): "ListObjects",  # ListObjectsV2 with list-type=2
    ("PUT", False): "CreateBucket",
    ("HEAD", False): "HeadBucket",
    ("DELETE", False): "DeleteBucket",
    ("GET", True): "GetObject",
    ("PUT", True): "PutObject",  # CopyObject with x-amz-copy-source
    ("HEAD", True): "HeadObject",
    ("DELETE", True): "DeleteObject",
}
# Query parameters of those operations; any other names a subresource (`?versioning`, `?uploads`, ...).
_S3_PARAMETERS = frozenset(
    {"list-type", "prefix", "delimiter", "max-keys", "marker", "start-after", "continuation-token", "encoding-type",
     "fetch-owner", "versionId", "x-id"}
)  # fmt: skip
_S3_ACTIONS = {"ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket",
               "HeadObject": "GetObject", "CopyObject": "PutObject",
               "GetBucketEncryption": "GetEncryptionConfiguration"}  # fmt: skip


def _s3_operation(environ: WSGIEnvironment, method: str, path: str) -> str:
    """The S3 operation of a path-style request (`/bucket` or `/bucket/key`), or `METHOD path?subresources`
    when it is none of the common ones (a subresource such as `?versioning`, a multipart upload, ListBuckets)."""
    bucket, _, key = path.strip("/").partition("/")
    query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    if bucket and not key and method == "GET" and set(query) == {"encryption"}:
        return "GetBucketEncryption"
    operation = _S3_OPERATIONS.get((method, bool(key))) if bucket else None
    if operation is None or not _S3_PARAMETERS.issuperset(query):
        return f"{method} {path}" + (f"?{'&'.join(sorted(query))}" if query else "")
    if operation == "ListObjects" and query.get("list-type") == ["2"]:
        return "ListObjectsV2"
    if operation == "PutObject" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
        return "CopyObject"
    return operation


def identify(environ: WSGIEnvironment) -> Call:
    path = _raw_path(environ)
    method = str(environ.get("REQUEST_METHOD", "GET"))
    if path.startswith("/k8s/"):
        _, _, account, region, cluster, *rest = path.split("/")
        return Call("kubernetes", _KUBE_VERBS.get(method, method.lower()), account, region, cluster,
                    path="/" + "/".join(rest))  # fmt: skip
    credential = _CREDENTIAL_RE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if credential is None:
        return Call("unsigned", f"{method} {path}")
    service, region = credential.group("service"), credential.group("region")
    if target := str(environ.get("HTTP_X_AMZ_TARGET", "")):  # JSON-protocol services (CloudWatch Logs)
        return Call(service, target.rsplit(".", 1)[-1], region=region)
    if service == "s3":
        query = str(environ.get("QUERY_STRING", ""))
        return Call(
            service, _s3_operation(environ, method, path), region=region, path=f"{path}?{query}" if query else path
        )
    if service != "eks":
        return Call(service, _query_action(environ), region=region)
    segments = path.strip("/").split("/")
    for route_method, pattern, operation in (*ROUTES, *PASS_THROUGH_ROUTES):
        labels = _match(pattern, segments) if route_method == method else None
        if labels is not None:
            return Call(
                "eks",
                operation,
                region=region,
                cluster=labels.get("name", ""),
                principal_arn=labels.get("principalArn", "")
                or (_body_principal(environ) if operation == "CreateAccessEntry" else ""),
            )
    return Call("eks", f"{method} {path}", region=region)


class Recorder:
    """The calls the sandbox was asked, in order (thread-safe: the server answers on many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def record(self, environ: WSGIEnvironment) -> None:
        call = identify(environ)
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
