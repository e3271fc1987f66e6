"""The EKS bearer token, made the way `aws eks get-token` and aws-iam-authenticator make it.

A token is a presigned STS GetCallerIdentity GET URL with the cluster name signed in as the
`x-k8s-aws-id` header, base64url-encoded without padding behind `k8s-aws-v1.`. The authenticator replays
the URL against STS with that header, so a token only works for the cluster it names. STS accepts the URL
for 15 minutes after X-Amz-Date whatever X-Amz-Expires says; 60 is what every client sends.

`python -m migrator.aws.token --cluster-name NAME [--region R]` prints an ExecCredential for a kubeconfig
exec plugin, in the apiVersion the client announces in KUBERNETES_EXEC_INFO (v1beta1 when it says none).
The STS endpoint follows boto3's resolution, so AWS_ENDPOINT_URL (the sandbox) and regional STS endpoints
are honoured.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
URL_EXPIRES_SECONDS = 60
# The URL is good for 15 minutes; clients refresh a minute early (aws-cli's TOKEN_EXPIRATION_MINS).
TOKEN_LIFETIME = timedelta(minutes=14)
EXEC_CREDENTIAL_API_VERSION = "client.authentication.k8s.io/v1beta1"
EXEC_CREDENTIAL_API_VERSIONS = frozenset(
    f"client.authentication.k8s.io/{version}" for version in ("v1alpha1", "v1beta1", "v1")
)
# The global STS endpoint signs for us-east-1; with an endpoint override botocore needs a region to sign.
FALLBACK_REGION = "us-east-1"


def presigned_url(session: boto3.Session, cluster_name: str, *, region: str | None = None) -> str:
    """The presigned GetCallerIdentity URL with `x-k8s-aws-id: cluster_name` among its signed headers."""
    if not cluster_name:
        raise ValueError("cluster_name is required")
    region_name = region or session.region_name
    sts = session.client("sts", region_name=region_name)
    if sts.meta.region_name is None:
        sts = session.client("sts", region_name=FALLBACK_REGION)

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    # The header must exist before signing so that it lands in X-Amz-SignedHeaders (aws-cli does the same).
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url: str = sts.generate_presigned_url(
        "get_caller_identity", Params={}, ExpiresIn=URL_EXPIRES_SECONDS, HttpMethod="GET"
    )
    return url


def encode_token(url: str) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


def get_token(session: boto3.Session, cluster_name: str, *, region: str | None = None) -> str:
    """A bearer token for `cluster_name`, signed with the session's credentials."""
    return encode_token(presigned_url(session, cluster_name, region=region))


def exec_api_version(exec_info: str | None) -> str:
    """The apiVersion to answer in: the one the client announced in KUBERNETES_EXEC_INFO, as aws-cli does.

    Clients refuse an ExecCredential whose apiVersion differs from their kubeconfig's `exec.apiVersion`.
    """
    try:
        announced = json.loads(exec_info or "{}").get("apiVersion")
    except (ValueError, AttributeError):
        announced = None
    return announced if announced in EXEC_CREDENTIAL_API_VERSIONS else EXEC_CREDENTIAL_API_VERSION


def exec_credential(
    token: str, now: datetime | None = None, api_version: str = EXEC_CREDENTIAL_API_VERSION
) -> dict[str, Any]:
    """The ExecCredential object a kubeconfig `exec` plugin prints."""
    expires = (now or datetime.now(UTC)) + TOKEN_LIFETIME
    return {
        "kind": "ExecCredential",
        "apiVersion": api_version,
        "spec": {},
        "status": {"expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "token": token},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m migrator.aws.token", description="Print an EKS ExecCredential (like aws eks get-token)."
    )
    parser.add_argument("--cluster-name", required=True)
    parser.add_argument("--region", default=None)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args(argv)
    try:
        token = get_token(boto3.Session(profile_name=args.profile), args.cluster_name, region=args.region)
    except Exception as error:  # an exec plugin reports on stderr and exits non-zero, never a traceback
        print(f"could not make a token for cluster {args.cluster_name!r}: {error}", file=sys.stderr)
        return 1
    api_version = exec_api_version(os.environ.get("KUBERNETES_EXEC_INFO"))
    json.dump(exec_credential(token, api_version=api_version), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
