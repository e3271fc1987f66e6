"""Who is calling the sandbox's Kubernetes API: EKS bearer tokens checked the way aws-iam-authenticator and STS do.

aws-iam-authenticator decodes the token into a presigned STS GetCallerIdentity URL, checks its shape
(action, the signed `x-k8s-aws-id` header, X-Amz-Date not older than 15 minutes; X-Amz-Expires is ignored
beyond 0..900), then replays it against STS with `x-k8s-aws-id: <cluster>`. STS checks the signature, so a
token only works for the cluster it was made for. Here the replay is done in-process: the access key is
looked up in moto's IAM and STS backends (as moto's own GetCallerIdentity does), the SigV4 signature is
recomputed with the key's secret and the cluster name, and a temporary key must come with its session token
and be unexpired.

Not simulated: the allow-list of STS host names (the sandbox's STS is local), and EC2 for
`{{EC2PrivateDNSName}}`: a session name that looks like an instance id gets a made-up, stable private DNS
name in the cluster's region; any other session name cannot render it, and the request is denied.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import PARTITION_NAMES, get_partition

from migrator import awsauth
from migrator.errors import SourceError
from migrator.model import AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, AccessEntrySpec, AwsAuth, Section
from migrator.rules.arn import ArnError, parse_arn
from migrator.rules.identity import Caller, Identity, authenticate
from migrator.sandbox.kube import store as kube_store
from migrator.sandbox.state import SimCluster

TOKEN_PREFIX = "k8s-aws-v1."
MAX_TOKEN_BYTES = 4096
CLUSTER_ID_HEADER = "x-k8s-aws-id"
TOKEN_LIFETIME = timedelta(minutes=15)
CLOCK_SKEW = timedelta(minutes=5)
ALLOWED_PARAMETERS = frozenset(
    {
        "action",
        "version",
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-signedheaders",
    }
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
INSTANCE_ID_RE = re.compile(r"i-[0-9a-f]{8}(?:[0-9a-f]{9})?")


class TokenRejected(Exception):
    """The bearer token does not authenticate anyone (the API server answers 401; the reason is logged only)."""


@dataclass(frozen=True)
class PresignedRequest:
    url: str
    host: str
    path: str
    params: tuple[tuple[str, str], ...]  # as sent, minus X-Amz-Signature
    access_key_id: str
    scope_date: str
    region: str
    service: str
    amz_date: str
    signed_headers: tuple[str, ...]
    signature: str
    security_token: str | None


def decode_token(token: str, *, now: datetime) -> PresignedRequest:
    """The presigned URL inside `token`, checked as aws-iam-authenticator checks it before calling STS."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRejected("token is too large")
    if not token.startswith(TOKEN_PREFIX):
        raise TokenRejected(f"token is missing the {TOKEN_PREFIX!r} prefix")
    encoded = token[len(TOKEN_PREFIX) :]
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise TokenRejected(f"token is not base64url: {error}") from error
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TokenRejected(f"unexpected scheme or host in pre-signed URL {parts.scheme}://{parts.netloc}")
    if parts.path != "/":
        raise TokenRejected("unexpected path in pre-signed URL")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    lower: dict[str, str] = {}
    for key, value in pairs:
        if key.lower() not in ALLOWED_PARAMETERS:
            raise TokenRejected(f"non-whitelisted query parameter {key!r}")
        if key.lower() in lower:
            raise TokenRejected("query parameter with multiple values not supported")
        lower[key.lower()] = value
    if lower.get("action") != "GetCallerIdentity":
        raise TokenRejected("unexpected action parameter in pre-signed URL")
    signed_headers = tuple(h.lower() for h in lower.get("x-amz-signedheaders", "").split(";") if h)
    if CLUSTER_ID_HEADER not in signed_headers:
        raise TokenRejected(f"client did not sign the {CLUSTER_ID_HEADER} header in the pre-signed URL")
    expires = lower.get("x-amz-expires", "")
    if not expires.isdigit() or int(expires) > 900:
        raise TokenRejected(f"invalid X-Amz-Expires parameter in pre-signed URL: {expires}")
    try:
        date = datetime.strptime(lower.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as error:
        raise TokenRejected("X-Amz-Date parameter is missing or malformed") from error
    if now > date + TOKEN_LIFETIME:
        raise TokenRejected(f"X-Amz-Date parameter is expired (15 minute expiration) {date}")
    if date > now + CLOCK_SKEW:
        raise TokenRejected("X-Amz-Date parameter is in the future")
    credential = lower.get("x-amz-credential", "").split("/")
    if len(credential) != 5 or credential[4] != "aws4_request" or lower.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise TokenRejected("malformed X-Amz-Credential or X-Amz-Algorithm")
    default_port = {"https": 443, "http": 80}[parts.scheme]
    host = parts.hostname if parts.port in (None, default_port) else f"{parts.hostname}:{parts.port}"
    return PresignedRequest(
        url=url,
        host=host,
        path=parts.path,
        params=tuple((k, v) for k, v in pairs if k.lower() != "x-amz-signature"),
        access_key_id=credential[0],
        scope_date=credential[1],
        region=credential[2],
        service=credential[3],
        amz_date=lower["x-amz-date"],
        signed_headers=signed_headers,
        signature=lower.get("x-amz-signature", ""),
        security_token=lower.get("x-amz-security-token"),
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def expected_signature(request: PresignedRequest, secret_key: str, cluster_name: str) -> str:
    """SigV4 of the GET that the authenticator replays: host and x-k8s-aws-id headers, empty body."""
    header_values = {"host": request.host, CLUSTER_ID_HEADER: cluster_name}
    if any(h not in header_values for h in request.signed_headers):
        raise TokenRejected(f"signed headers {request.signed_headers} include one the authenticator does not send")
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in request.params)
    canonical = "\n".join(
        [
            "GET",
            quote(request.path, safe="/~"),
            "&".join(f"{k}={v}" for k, v in encoded),
            "".join(f"{h}:{' '.join(header_values[h].split())}\n" for h in request.signed_headers),
            ";".join(request.signed_headers),
            EMPTY_SHA256,
        ]
    )
    scope = f"{request.scope_date}/{request.region}/{request.service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", request.amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), request.scope_date)
    for part in (request.region, request.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def ec2_private_dns_name(session_name: str, region: str) -> str | None:
    """A stable stand-in for what EC2 would say about the instance a node role's session is named after."""
    if not INSTANCE_ID_RE.fullmatch(session_name):
        return None
    digest = hashlib.sha256(session_name.encode("utf-8")).digest()
    # EC2's default private DNS: us-east-1 has its own domain (eks-facts.md section 5b).
    domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-10-0-{digest[0]}-{digest[1]}.{domain}"


def _find_access_key(access_key_id: str, partition: str) -> tuple[str, object] | None:
    """(account, moto AccessKey) for a key known to moto's IAM in `partition`."""
    if partition not in PARTITION_NAMES:
        return None
    for account_id, backends in list(iam_backends.items()):
        key = backends[partition].access_keys.get(access_key_id)
        if key is not None:
            return account_id, key
    return None


def resolve_caller(token: str, cluster: SimCluster, *, now: datetime | None = None) -> Caller:
    """The STS identity behind `token`, valid for `cluster` only; raises TokenRejected otherwise."""
    now = now or datetime.now(UTC)
    request = decode_token(token, now=now)
    if request.service != "sts":
        raise TokenRejected(f"the URL is signed for {request.service!r}, not sts")
    partition = get_partition(request.region)
    found = _find_access_key(request.access_key_id, partition)
    if found is None:
        raise TokenRejected(f"InvalidClientTokenId: access key {request.access_key_id} is not known")
    account, key = found
    if getattr(key, "status", "Active") != "Active":
        raise TokenRejected(f"InvalidClientTokenId: access key {request.access_key_id} is inactive")
    secret = str(getattr(key, "secret_access_key", ""))
    if not hmac.compare_digest(expected_signature(request, secret, cluster.name), request.signature):
        raise TokenRejected("SignatureDoesNotMatch (a token made for another cluster, or tampered with)")
    assumed = sts_backends[account][partition].get_assumed_role_from_access_key(request.access_key_id)
    if assumed is not None:
        if request.security_token != assumed.session_token:
            raise TokenRejected("InvalidClientTokenId: temporary credentials without their session token")
        if now.replace(tzinfo=None) > assumed.expiration:
            raise TokenRejected("ExpiredToken: the assumed-role session has expired")
        user_id, arn_text = assumed.user_id, assumed.arn
    else:
        user = iam_backends[account][partition].get_user_from_access_key_id(request.access_key_id)
        if user is None:
            raise TokenRejected(f"access key {request.access_key_id} belongs to no user or role session")
        user_id, arn_text = user.id, user.arn
    try:
        arn = parse_arn(arn_text)
    except ArnError as error:
        raise TokenRejected(f"STS returned an ARN the authenticator cannot canonicalise: {error}") from error
    dns_name = ec2_private_dns_name(arn.session or "", cluster.region)
    return Caller(arn=arn, user_id=user_id, access_key_id=request.access_key_id, ec2_private_dns_name=dns_name)


def current_aws_auth(cluster: SimCluster) -> AwsAuth | None:
    """The stored aws-auth as the authenticator loads it: a section that does not parse contributes nothing.

    The authenticator drops a whole section on a YAML error and keeps the others; it skips single bad
    entries, where we drop their section too (our parser is strict).
    """
    try:
        body = kube_store.get(cluster, kube_store.CONFIGMAPS, AWS_AUTH_NAMESPACE, AWS_AUTH_NAME)
    except kube_store.KubeError:
        return None
    data = body.get("data") or {}
    version = body.get("metadata", {}).get("resourceVersion")
    return _loaded(version, tuple(sorted((k, v) for k, v in data.items() if isinstance(v, str))))


@functools.lru_cache(maxsize=64)
def _loaded(resource_version: str | None, data: tuple[tuple[str, str], ...]) -> AwsAuth:
    """Parsed once per content, as the authenticator does (it watches the ConfigMap and reloads it on a
    change), not on every request: a 3,000-mapping aws-auth takes a good part of a second to parse. Keyed by
    the content itself, so two sandboxes in one process can never share a stale parse."""
    sections: dict[str, AwsAuth] = {}
    for section in Section:
        text = dict(data).get(section.value)
        if text is None:
            continue
        alone = {
            "metadata": {"name": AWS_AUTH_NAME, "namespace": AWS_AUTH_NAMESPACE, "resourceVersion": resource_version},
            "data": {section.value: text},
        }
        try:
            sections[section.value] = awsauth.parse_configmap_object(alone, f"{AWS_AUTH_NAMESPACE}/{AWS_AUTH_NAME}")
        except SourceError:
            continue
    empty = AwsAuth()
    return AwsAuth(
        map_roles=sections.get(Section.MAP_ROLES.value, empty).map_roles,
        map_users=sections.get(Section.MAP_USERS.value, empty).map_users,
        map_accounts=sections.get(Section.MAP_ACCOUNTS.value, empty).map_accounts,
        resource_version=resource_version,
    )


def live_entries(cluster: SimCluster, caller: Caller) -> list[AccessEntrySpec]:
    """The entries that can match `caller`: EKS keys an entry on the principal's IAM id, not its ARN, so an
    entry made for a principal that was since deleted and recreated under the same ARN matches no one."""
    key = caller.canonical_arn.principal_key
    stale = any(
        entry_key == key and entry.principal_id and entry.principal_id != caller.principal_id
        for entry_key, entry in cluster.entries.items()
    )
    specs = cluster.entry_specs()
    if not stale:
        return specs
    return [spec for spec in specs if _principal_key(spec.principal_arn) != key]


def _principal_key(arn: str) -> tuple[str, str, str, str] | None:
    try:
        return parse_arn(arn).principal_key
    except ArnError:
        return None


def identify(cluster: SimCluster, caller: Caller) -> Identity | None:
    """The identity `cluster` gives `caller` now (mode, entries and aws-auth as they are), None for 401."""
    creator = cluster.creator_arn if cluster.bootstrap_admin else None
    entries = live_entries(cluster, caller)
    return authenticate(caller, cluster.mode, current_aws_auth(cluster), entries, creator_arn=creator)
