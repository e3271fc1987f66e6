"""SignInLog over boto3: the cluster's authenticator log streams in CloudWatch Logs, read-only.

EKS control-plane logging writes to the log group `/aws/eks/<cluster>/cluster`, one stream per log type and
API server instance, named `<type>-<hex>`; the authenticator's are `authenticator-<hex>`. FilterLogEvents
reads them all at once by stream-name prefix, paginated (`nextToken`), and is the only call: the policy of
`plan --usage-since` needs just `logs:FilterLogEvents` on that log group.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from migrator.aws.session import botocore_failures_are_remote_errors, client, error_code, error_message
from migrator.errors import RemoteError

AUTHENTICATOR_STREAM_PREFIX = "authenticator-"


def log_group_name(cluster: str) -> str:
    return f"/aws/eks/{cluster}/cluster"


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_NO_TIME = datetime.min.replace(tzinfo=UTC)


def received_time(millis: object) -> datetime | None:
    """An event's `timestamp` (ms since the epoch) as a time; None for what the service should not have sent
    (not a number, not finite, out of range): the line's own time must then stand, or the line is malformed."""
    if isinstance(millis, bool) or not isinstance(millis, int | float):
        return None
    try:
        return datetime.fromtimestamp(millis / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        return None


@botocore_failures_are_remote_errors
class CloudWatchSignInLog:
    def __init__(self, session: boto3.Session, cluster_name: str) -> None:
        self.cluster_name = cluster_name
        self._logs: Any = client(session, "logs")

    def authenticator_events(
        self, since: datetime, until: datetime
    ) -> Sequence[tuple[datetime | None, str | None]] | None:
        paginator = self._logs.get_paginator("filter_log_events")
        pages = paginator.paginate(
            logGroupName=log_group_name(self.cluster_name),
            logStreamNamePrefix=AUTHENTICATOR_STREAM_PREFIX,
            startTime=_millis(since),
            endTime=_millis(until),
        )
        events: list[tuple[datetime | None, str | None]] = []
        try:
            for page in pages:
                for event in page.get("events") or []:
                    if not isinstance(event, dict):
                        events.append((None, None))  # counted as a malformed line
                        continue
                    if not str(event.get("logStreamName", AUTHENTICATOR_STREAM_PREFIX)).startswith(
                        AUTHENTICATOR_STREAM_PREFIX
                    ):
                        continue  # the prefix asked for it already; a service that ignores it is not trusted
                    message = event.get("message")
                    events.append(
                        (received_time(event.get("timestamp")), message if isinstance(message, str) else None)
                    )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise RemoteError(f"FilterLogEvents: {error_code(error)}: {error_message(error)}") from error
        # Streams are read one after another; the summary wants time order (events without a time first).
        return sorted(events, key=lambda item: item[0] or _NO_TIME)
