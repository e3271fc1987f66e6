"""`--state`: where a run keeps its state. `s3://BUCKET/PREFIX` (shared by every machine that can reach the
bucket) or a local directory (this machine's files, the default)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrator.errors import InputError
from migrator.state.keys import check_key, join

STATE_ENV = "AWS_AUTH_MIGRATE_STATE"
STATE_SCHEMA = "aws-auth-migrate/state/v1"
MARKER_KEY = "aws-auth-migrate-state.json"  # at the root of an S3 state: says the prefix is ours, and its layout
# S3's bucket naming rules (general purpose buckets): 3-63 of a-z 0-9 . -, starting and ending alphanumeric.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""  # no leading or trailing '/'

    def object_key(self, key: str) -> str:
        return join(self.prefix, key)

    def url(self, key: str = "") -> str:
        path = join(self.prefix, key)
        return f"s3://{self.bucket}/{path}" if path else f"s3://{self.bucket}"

    def url_of(self, object_key: str) -> str:
        return f"s3://{self.bucket}/{object_key}"


def parse_s3_url(text: str, label: str = "--state") -> S3Location:
    """`s3://BUCKET[/PREFIX]`; InputError (exit 2) for anything else."""
    rest = text.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InputError(f"{label}: {text!r}: not an S3 bucket name", hint="--state s3://BUCKET/PREFIX")
    if prefix:
        try:
            check_key(prefix)
        except InputError:
            raise InputError(
                f"{label}: {text!r}: the prefix must be plain names separated by '/'", hint="--state s3://BUCKET/PREFIX"
            ) from None
    return S3Location(bucket, prefix)


def is_s3_url(text: str) -> bool:
    return text.startswith("s3://")


# A URL's scheme and its first slash (RFC 3986: a letter, then letters, digits, + - .): `S3://`, `s3:/`, `gs://`;
# and S3's scheme without its slashes (`s3:bucket/prefix`).
_URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:/|[Ss]3:")


def refuse_url_like(text: str, label: str) -> None:
    """InputError when `text`, not an s3:// URL, looks like a URL: taken as a local path it would quietly make
    a folder named `S3:` and keep the state on this machine, which a runner of a CI job loses with it."""
    if not is_s3_url(text) and _URL_LIKE.match(text):
        raise InputError(
            f"{label}: {text!r} looks like a URL, but only s3://BUCKET/PREFIX (lower-case s3, two slashes) names "
            "a remote state",
            hint="write it as s3://BUCKET/PREFIX, or ./PATH for a local folder whose name has a colon",
        )
