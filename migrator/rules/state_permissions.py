"""What a run's S3 state costs in IAM: the statements `show --iam-policy` adds for a plan whose run keeps its
state in S3 (`--state s3://BUCKET/PREFIX`, or a plan named by its `s3://` URL). Pure data and functions.

The calls are those of migrator/aws/s3state.py: GetObject, PutObject (If-None-Match / If-Match: conditional
writes need no permission of their own) and ListObjectsV2 (IAM action s3:ListBucket, narrowed by the request's
`s3:prefix`). No DeleteObject: a run never deletes a state object (the lock object is emptied, not deleted).
The run directory (a cluster's folder `<account>/<region>/<name>` of the state, or the folder of a plan named by
its URL) holds the plan, the journal's record objects, the aws-auth backup and `lock.json`; a run that opens a
`--state` also reads the state's marker at its root (and lists the root's first keys when the marker
is missing, then writes it with its first object).

ListBucket's `s3:prefix` condition also decides GetObject's answer for a key that does not exist (the lock
object before the first run, the backup before it is written): S3 answers 404 only to a caller allowed to
list that key, evaluating s3:ListBucket with the requested key as `s3:prefix` (ceph/ceph#68577 matches AWS
on this); otherwise 403, which the store must take for "access denied". So every object a run reads is also
covered by the listing condition.

SSE-KMS (`--state-kms-key`): PutObject needs kms:GenerateDataKey on the key, GetObject kms:Decrypt. A key ARN
is named as given; an alias is matched by the condition key `kms:ResourceAliases` (an alias cannot be a
policy's resource), and a bare key id by a resource of any region and account (key ids are unique).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from migrator.errors import InputError

STATE_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject")
STATE_LIST_ACTIONS = ("s3:ListBucket",)
STATE_KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
STATE_ENCRYPTION_ACTIONS = ("s3:GetEncryptionConfiguration",)

_PARTITION = r"aws(?:-[a-z]+)*"
_REGION = r"[a-z]{2}(?:-[a-z0-9]+)+-[0-9]{1,2}"
_KEY_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
_ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"
_KEY_ARN = re.compile(rf"arn:{_PARTITION}:kms:{_REGION}:[0-9]{{12}}:key/(?:{_KEY_ID})", re.ASCII)
_ALIAS_ARN = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):kms:(?P<region>{_REGION}):(?P<account>[0-9]{{12}}):(?P<alias>{_ALIAS})",
    re.ASCII,
)
_ALIAS_NAME = re.compile(_ALIAS, re.ASCII)
_BARE_KEY_ID = re.compile(_KEY_ID, re.ASCII)


@dataclass(frozen=True)
class S3Place:
    """An object (`key`) or a folder (`key` its prefix, without the trailing '/'; "" the bucket's root)."""

    bucket: str
    key: str


@dataclass(frozen=True)
class StateGrant:
    """The S3 state a plan's apply and rollback reach: the run directory (read and written; it holds the plan
    when the plan is an object), the marker of the `--state` the run opens (read; written by the state's first
    run), and the KMS key the objects are encrypted with (None: SSE-S3, no KMS permission)."""

    run_dir: S3Place
    marker: S3Place | None = None
    kms_key: str | None = None


@dataclass(frozen=True)
class StatePermissions:
    """The statements, and what to tell the reader (how to name a KMS key the policy could only match)."""

    statements: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()


def check_kms_key(key: str) -> str:
    """`key` when it is a KMS key id, key ARN, alias name or alias ARN (matched whole); InputError otherwise."""
    if any(p.fullmatch(key) for p in (_KEY_ARN, _ALIAS_ARN, _ALIAS_NAME, _BARE_KEY_ID)):
        return key
    raise InputError(
        f"--state-kms-key: {key!r} is not a KMS key id, key ARN, alias name (alias/NAME) or alias ARN",
        hint="aws kms describe-key --key-id KEY --query KeyMetadata.Arn --output text prints the key ARN",
    )


def _object_arn(partition: str, bucket: str, key: str) -> str:
    return f"arn:{partition}:s3:::{bucket}/{key}"


def _folder_objects(folder: S3Place) -> str:
    return f"{folder.key}/*" if folder.key else "*"


def _statement(sid: str, actions: tuple[str, ...], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def _listing(sid: str, partition: str, bucket: str, prefixes: list[str]) -> dict[str, Any]:
    return _statement(
        sid,
        STATE_LIST_ACTIONS,
        [f"arn:{partition}:s3:::{bucket}"],
        Condition={"StringLike": {"s3:prefix": sorted(set(prefixes))}},
    )


def kms_statement(key: str, partition: str) -> StatePermissions:
    """kms:GenerateDataKey (PutObject) and kms:Decrypt (GetObject) on the state's key, as precisely as `key`
    names it, and a note on how to name it more precisely when it is not a key ARN."""
    check_kms_key(key)
    if _KEY_ARN.fullmatch(key):
        return StatePermissions((_statement("StateKmsKey", STATE_KMS_ACTIONS, [key]),))
    if alias := _ALIAS_ARN.fullmatch(key):
        return _by_alias(
            key, alias["alias"], f"arn:{alias['partition']}:kms:{alias['region']}:{alias['account']}:key/*"
        )
    if _ALIAS_NAME.fullmatch(key):
        return _by_alias(key, key, f"arn:{partition}:kms:*:*:key/*")
    statement = _statement("StateKmsKey", STATE_KMS_ACTIONS, [f"arn:{partition}:kms:*:*:key/{key}"])
    note = f"--state-kms-key {key} is a key id: the policy names it in any region and account; {_name_it(key)}"
    return StatePermissions((statement,), (note,))


def _by_alias(key: str, alias: str, keys: str) -> StatePermissions:
    """The keys `alias` names (condition kms:ResourceAliases): an alias cannot be a policy's resource."""
    condition = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}}
    statement = _statement("StateKmsKey", STATE_KMS_ACTIONS, [keys], Condition=condition)
    note = (
        f"--state-kms-key {key} is an alias: the policy allows the key it names now (condition "
        f"kms:ResourceAliases); {_name_it(key)}"
    )
    return StatePermissions((statement,), (note,))


def _name_it(key: str) -> str:
    return (
        "to name the key itself, put its ARN in the statement's Resource (aws kms describe-key --key-id "
        f"{key} --query KeyMetadata.Arn --output text), or give it as --state-kms-key"
    )


def state_permissions(grant: StateGrant, partition: str) -> StatePermissions:
    """The statements of the S3 state `grant` describes, in the plan's partition."""
    statements: list[dict[str, Any]] = []
    listings: dict[str, list[str]] = {}
    objects: list[str] = []
    run_dir = grant.run_dir
    objects.append(_object_arn(partition, run_dir.bucket, _folder_objects(run_dir)))
    listings.setdefault(run_dir.bucket, []).append(_folder_objects(run_dir))
    if (marker := grant.marker) is not None:
        objects.append(_object_arn(partition, marker.bucket, marker.key))
        # Opening a state without its marker lists the first keys of the state's root (ListObjectsV2
        # Prefix=`root/`, or no prefix at the bucket's root) to refuse another tool's objects.
        root = marker.key.rpartition("/")[0]
        listings.setdefault(marker.bucket, []).extend([f"{root}/" if root else "", marker.key])
    statements.append(_statement("StateObjects", STATE_OBJECT_ACTIONS, objects))
    for index, (bucket, prefixes) in enumerate(listings.items()):
        statements.append(
            _listing("StateListing" if index == 0 else f"StateListing{index + 1}", partition, bucket, prefixes)
        )
    written = sorted({place.bucket for place in (grant.run_dir, grant.marker) if place is not None})
    if grant.kms_key is None and written:
        # Without --state-kms-key a store asks for its bucket's default encryption once, to name it on every
        # write (a bucket whose default is SSE-KMS keeps it): GetBucketEncryption, IAM s3:GetEncryptionConfiguration.
        buckets = [f"arn:{partition}:s3:::{bucket}" for bucket in written]
        statements.append(_statement("StateBucketEncryption", STATE_ENCRYPTION_ACTIONS, buckets))
    notes: tuple[str, ...] = ()
    if grant.kms_key is not None:
        kms = kms_statement(grant.kms_key, partition)
        statements.extend(kms.statements)
        notes = kms.notes
    return StatePermissions(tuple(statements), notes)
