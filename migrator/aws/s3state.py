"""The StateStore over S3: plans, journals, backups, pointers, reports and lock objects of runs on any machine.

Every write is one PutObject with server-side encryption (SSE-S3, or SSE-KMS with a key): backups and plans name
principals. Conditional writes are S3's own: `If-None-Match: *` creates only, `If-Match: <ETag>` replaces only
the version read; a 412 (or a 409 from a concurrent conditional write) is WriteConflict, unless botocore
retried the PUT and the object holds exactly our bytes (the first attempt stored it). Bad input is refused
before anything is written: no such bucket (exit 2), no access (exit 5), and a prefix that holds objects but no
marker of ours (another tool's objects, exit 2) or the marker of a newer state layout (exit 2). The marker
(`aws-auth-migrate-state.json` at the root) is written with the first write of a run, never by a read.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from migrator import __version__
from migrator.aws.session import AwsTarget, client, error_code, error_message, make_session
from migrator.aws.session import call as aws_call
from migrator.errors import InputError, RemoteError, WriteConflict
from migrator.ports import StateStore, StoredObject
from migrator.state.keys import check_key, join
from migrator.state.location import MARKER_KEY, STATE_SCHEMA, S3Location

_CONFLICTS = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


@dataclass(frozen=True)
class Encryption:
    """What every PutObject of a store asks for, explicitly (a bucket policy may deny writes that name none):
    SSE-KMS with `kms_key` (None: the account's AWS managed key), or SSE-S3."""

    kms: bool = False
    kms_key: str | None = None

    @property
    def params(self) -> dict[str, str]:
        if not self.kms:
            return {"ServerSideEncryption": "AES256"}
        return {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": self.kms_key} if self.kms_key else {})}


@dataclass
class _Root:
    """What the stores of one location share: the client, where it is, whether the marker is written, and the
    encryption its writes ask for (decided before the first write: see `S3Store._encryption`)."""

    client: Any
    location: S3Location
    kms_key: str | None
    marked: bool = False
    # Reentrant: writing the marker (under it) asks for the encryption (under it too) on a root's first write.
    lock: threading.RLock = field(default_factory=threading.RLock)
    encryption: Encryption | None = None


class S3Store:
    """Keys under `s3://bucket/prefix/`; made by `open_s3_store`, which checks the location first."""

    shared = True

    def __init__(self, root: _Root, prefix: str) -> None:
        self._root = root
        self._prefix = prefix  # relative to the location's prefix

    @property
    def location(self) -> str:
        return self._root.location.url(self._prefix)

    def where(self, key: str) -> str:
        return self._root.location.url(join(self._prefix, check_key(key)))

    def child(self, prefix: str) -> StateStore:
        return S3Store(self._root, join(self._prefix, check_key(prefix)))

    def local_path(self, key: str) -> Path | None:
        return None

    def _key(self, key: str) -> str:
        return self._root.location.object_key(join(self._prefix, check_key(key)))

    def get(self, key: str) -> StoredObject | None:
        name = self._key(key)
        try:
            response = aws_call("GetObject", lambda: self._raw_get(name))
        except _Missing:
            return None
        return response

    def _raw_get(self, name: str) -> StoredObject:
        try:
            response = self._root.client.get_object(Bucket=self._root.location.bucket, Key=name)
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                raise _Missing from None
            raise self._failure("GetObject", name, error) from None
        return StoredObject(response["Body"].read(), str(response["ETag"]))

    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        name = self._key(key)  # a bad key is refused before anything is written, the marker included
        self._mark()
        return self._put(name, data, if_none_match=if_none_match, if_match=if_match)

    def _put(self, name: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self._root.location.bucket, "Key": name, "Body": data}
        params.update(self._encryption().params)
        if if_none_match:
            params["IfNoneMatch"] = "*"
        if if_match is not None:
            params["IfMatch"] = if_match

        def put() -> str:
            try:
                return str(self._root.client.put_object(**params)["ETag"])
            except ClientError as error:
                if error_code(error) in _CONFLICTS or (if_match is not None and error_code(error) == "NoSuchKey"):
                    ours = self._written_by_an_earlier_attempt(name, data, error)
                    if ours is not None:
                        return ours
                    raise WriteConflict(f"{self._root.location.url_of(name)}: {_condition(if_none_match)}") from None
                raise self._failure("PutObject", name, error) from None

        return aws_call("PutObject", put)

    def _written_by_an_earlier_attempt(self, name: str, data: bytes, error: ClientError) -> str | None:
        """The object's version when a precondition failed only against this very write: botocore retried the
        PUT (its response lost to a reset or a timeout) and the first attempt had stored it. Its bytes, ours to
        the byte, say so (a journal record carries its time, a lock its holder); otherwise None, a conflict."""
        if not error.response.get("ResponseMetadata", {}).get("RetryAttempts"):
            return None  # answered at the first attempt: nothing of ours can be there
        try:
            current = self._raw_get(name)
        except _Missing:
            return None
        return current.version if current.data == data else None

    def _encryption(self) -> Encryption:
        """--state-kms-key (or the key the state's marker records); else the bucket's own default, asked for
        explicitly: a bucket whose default is SSE-KMS keeps it (naming SSE-S3 would override it), and one whose
        default is SSE-S3 (every bucket's base level since 2023) or that may not be asked gets SSE-S3."""
        root = self._root
        if root.encryption is None:
            with root.lock:
                if root.encryption is None:
                    root.encryption = (
                        Encryption(True, root.kms_key) if root.kms_key is not None else self._bucket_default()
                    )
        return root.encryption

    def _bucket_default(self) -> Encryption:
        bucket = self._root.location.bucket

        def ask() -> Encryption:
            try:
                answer = self._root.client.get_bucket_encryption(Bucket=bucket)
            except ClientError:  # none configured (SSE-S3 then), or not allowed to ask: SSE-S3 named explicitly
                return Encryption()
            for rule in answer.get("ServerSideEncryptionConfiguration", {}).get("Rules", ()):
                default = rule.get("ApplyServerSideEncryptionByDefault") or {}
                if str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
                    return Encryption(True, default.get("KMSMasterKeyID") or None)
            return Encryption()

        return aws_call("GetBucketEncryption", ask)

    def _mark(self) -> None:
        """Write the marker before the first object of this process (once; a marker there already is fine)."""
        root = self._root
        if root.marked:
            return
        with root.lock:
            if root.marked:
                return
            marker = {"schema": STATE_SCHEMA, "writtenBy": f"aws-auth-migrate {__version__}", "kmsKey": root.kms_key}
            body = json.dumps(marker).encode()
            with contextlib.suppress(WriteConflict):  # another run wrote it first (checked when opened)
                self._put(root.location.object_key(MARKER_KEY), body, if_none_match=True)
            root.marked = True

    def list(self, prefix: str = "") -> Sequence[str]:
        base = self._root.location.object_key(self._prefix)  # this store's folder ("": the bucket's root)
        folder = join(base, check_key(prefix) if prefix else "")
        query = folder + "/" if folder else ""
        strip = len(base) + 1 if base else 0
        marker = self._root.location.object_key(MARKER_KEY)  # the location's own object, no key of a store

        def pages() -> list[str]:
            keys: list[str] = []
            paginator = self._root.client.get_paginator("list_objects_v2")
            try:
                for page in paginator.paginate(Bucket=self._root.location.bucket, Prefix=query):
                    keys.extend(str(item["Key"])[strip:] for item in page.get("Contents", ()) if item["Key"] != marker)
            except ClientError as error:
                raise self._failure("ListObjectsV2", query, error) from None
            return keys

        return sorted(aws_call("ListObjectsV2", pages))

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        name = self._key(key)
        params: dict[str, Any] = {"Bucket": self._root.location.bucket, "Key": name}
        if if_match is not None:
            params["IfMatch"] = if_match

        def delete() -> None:
            try:
                self._root.client.delete_object(**params)
            except ClientError as error:
                if error_code(error) in ("NoSuchKey", "404"):
                    return
                if error_code(error) in _CONFLICTS:
                    raise WriteConflict(f"{self._root.location.url_of(name)}: changed since it was read") from None
                raise self._failure("DeleteObject", name, error) from None

        aws_call("DeleteObject", delete)

    def _failure(self, operation: str, name: str, error: ClientError) -> Exception:
        return s3_failure(operation, self._root.location.url_of(name), error)


class _Missing(Exception):
    pass


def _condition(if_none_match: bool) -> str:
    return "exists already (written by another run)" if if_none_match else "changed since it was read (by another run)"


def s3_failure(operation: str, where: str, error: ClientError) -> Exception:
    """An S3 error as the tool's own: a missing bucket is bad input, a refusal names what to grant."""
    code = error_code(error)
    if code == "NoSuchBucket":
        bucket = "/".join(where.split("/", 3)[:3])  # s3://BUCKET, not the object that was asked for
        return InputError(
            f"{bucket}: no such bucket", hint="create the state bucket first (its settings: docs/run-state.md)"
        )
    if code in ("AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return RemoteError(
            f"{operation} {where}: access denied ({error_message(error) or code})",
            hint="grant the S3 actions `show --iam-policy` prints for a plan made with this --state",
        )
    return RemoteError(f"{operation} {where}: {code}: {error_message(error)}")


def open_s3_store(
    location: S3Location, *, region: str, profile: str | None, kms_key: str | None, check: bool = True
) -> S3Store:
    """The store at `location`, after checking it is ours (read-only: the marker is written with the first
    object). InputError/RemoteError (nothing written) when the bucket is missing, unreadable, another tool's,
    or of a newer layout. `check` False: a folder inside a state (a plan named by its URL), taken as it is."""
    s3 = client(make_session(AwsTarget(region, profile)), "s3")
    store = S3Store(_Root(s3, location, kms_key, marked=not check), "")
    if not check:
        return store
    marker = store.get(MARKER_KEY)
    if marker is None:
        foreign = [key for key in _first_keys(s3, location) if key != MARKER_KEY]
        if foreign:
            raise InputError(
                f"{location.url()}: holds objects that aws-auth-migrate did not write (e.g. {foreign[0]}) and no "
                f"{MARKER_KEY}",
                hint="give the state its own prefix: --state s3://BUCKET/PREFIX",
            )
        return store
    try:
        recorded = json.loads(marker.data)
        schema, state_key = recorded["schema"], recorded.get("kmsKey")
    except (ValueError, KeyError, TypeError, AttributeError):
        schema, state_key = None, None
    if schema != STATE_SCHEMA:
        raise InputError(
            f"{location.url(MARKER_KEY)}: state layout {schema!r}, this version of aws-auth-migrate ({__version__}) "
            f"reads {STATE_SCHEMA}",
            hint="run the version of aws-auth-migrate that wrote this state (or a newer one)",
        )
    if isinstance(state_key, str):
        # The state was made with --state-kms-key: every later write uses that key, so that a command run without
        # it (a rollback from a laptop) never writes the state's backups and journals with weaker encryption.
        if kms_key is not None and kms_key != state_key:
            raise InputError(
                f"{location.url()}: the state is encrypted with KMS key {state_key}, not {kms_key}",
                hint="drop --state-kms-key (the state's own key is used) or give that key",
            )
        store._root.kms_key = state_key
    store._root.marked = True
    return store


def _first_keys(s3: Any, location: S3Location) -> list[str]:
    prefix = location.object_key("") + "/" if location.prefix else ""

    def first() -> list[str]:
        try:
            page = s3.list_objects_v2(Bucket=location.bucket, Prefix=prefix, MaxKeys=2)
        except ClientError as error:
            raise s3_failure("ListObjectsV2", location.url(), error) from None
        return [str(item["Key"])[len(prefix) :] for item in page.get("Contents", ())]

    return aws_call("ListObjectsV2", first)
