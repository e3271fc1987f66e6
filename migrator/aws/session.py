"""AWS sessions and clients: one session per cluster (and per account for IAM lookups), retries configured
once, and service errors turned into the tool's own.

botocore's standard retry mode retries throttling, 5xx and connection resets with backoff, and every client
paces each API operation on its own learned rate (aws/pacing.py; shared by the clusters of one account in a
fleet run, aws/budget.py); tenacity is used only where botocore does not retry (waiting out a cluster
update).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from migrator import __version__
from migrator.aws.budget import AccountBudget, release_held
from migrator.aws.pacing import OperationPacer
from migrator.errors import InputError, RemoteError

RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10},  # the pacing is ours: per operation
    user_agent_extra=f"aws-auth-migrate/{__version__}",
    connect_timeout=10,
    read_timeout=60,
    # One client serves every worker thread: a pool at least as large as the widest concurrency we run
    # (--max-concurrency, the parallel describes of a listing) keeps connections reused, not re-opened.
    max_pool_connections=64,  # = the largest --max-concurrency
)
SESSION_NAME = "aws-auth-migrate"

T = TypeVar("T")
Session = boto3.Session  # re-exported so wiring code can name the type without importing boto3


@dataclass(frozen=True)
class AwsTarget:
    """How to reach one account/region: a profile, and optionally a role to assume there."""

    region: str
    profile: str | None = None
    role_arn: str | None = None


def make_session(target: AwsTarget) -> boto3.Session:
    try:
        base = boto3.Session(profile_name=target.profile, region_name=target.region)
    except BotoCoreError as error:  # e.g. ProfileNotFound
        raise InputError(f"AWS profile {target.profile!r}: {error}") from None
    if target.role_arn is None:
        return base
    response = call(
        "AssumeRole",
        lambda: base.client("sts", config=RETRY_CONFIG).assume_role(
            RoleArn=target.role_arn, RoleSessionName=SESSION_NAME
        ),
    )
    credentials = response["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=target.region,
    )


# One client per (session, service, region), made once: a client costs milliseconds of CPU to build (its
# service model, endpoint rules, credential chain) and, unlike its session, is safe to share across threads.
# A session stands for one account's credentials, so this is one client per account, region and service
# (and per budget: a fleet run's clusters of one account share its slots and pace each operation together).
_ClientKey = tuple[str, str, AccountBudget | None]  # service, region, the account's budget if any
_CLIENTS: weakref.WeakKeyDictionary[boto3.Session, dict[_ClientKey, Any]] = weakref.WeakKeyDictionary()
_CLIENTS_LOCK = threading.Lock()
_MADE: Counter[str] = Counter()  # clients made so far, per service: what `make bench` reads


def clients_made() -> dict[str, int]:
    """How many clients this process has made, per service (IAM clients should equal the accounts read)."""
    with _CLIENTS_LOCK:
        return dict(_MADE)


def client(session: boto3.Session, service: str, budget: AccountBudget | None = None) -> Any:
    """The session's shared client for `service` in the session's region, paced per operation by a pacer of
    its own, or, with `budget` (the clusters of one account in a fleet run), by the budget's shared pacer and
    slots. Made under a lock: building clients from one session in several threads at once is not safe."""
    with _CLIENTS_LOCK:
        made = _CLIENTS.setdefault(session, {})
        key = (service, str(session.region_name), budget)
        if key not in made:
            made[key] = session.client(service, config=RETRY_CONFIG)
            if budget is None:
                OperationPacer().attach(made[key])
            else:
                budget.attach(made[key])
            _MADE[service] += 1
        return made[key]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


C = TypeVar("C", bound=type)


def botocore_failures_are_remote_errors(cls: C) -> C:
    """Every public method of a gateway turns what botocore raises after its retries (connection errors,
    timeouts) into RemoteError; service errors are handled method by method, where their meaning is known."""
    for name, function in list(vars(cls).items()):
        if name.startswith("_") or not callable(function):
            continue

        def wrapped(*args: Any, __function: Callable[..., Any] = function, **kwargs: Any) -> Any:
            with _botocore_failures(__function.__name__):
                return __function(*args, **kwargs)

        wrapped.__name__ = function.__name__
        wrapped.__doc__ = function.__doc__
        setattr(cls, name, wrapped)
    return cls


@contextlib.contextmanager
def _botocore_failures(operation: str) -> Iterator[None]:
    try:
        yield
    except NoCredentialsError:
        raise InputError(
            "no AWS credentials found", hint="set AWS_PROFILE or credentials, or point at the sandbox"
        ) from None
    except BotoCoreError as error:
        raise RemoteError(f"{operation}: {error}") from error
    finally:
        release_held()  # a per-account budget's slot never outlives the call that took it


def call(operation: str, function: Callable[[], T]) -> T:
    """Run one AWS call; botocore has already retried what is retryable, so what is left is our error."""
    with _botocore_failures(operation):
        try:
            return function()
        except ClientError as error:
            raise RemoteError(f"{operation}: {error_code(error)}: {error_message(error)}") from error


def session_from_credentials(credentials: dict[str, str], region: str) -> boto3.Session:
    """A session from explicit credentials (an assumed role's, a probe's), ignoring the environment's."""
    return boto3.Session(
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
        region_name=region,
    )


def assume_role_credentials(session: boto3.Session, role_arn: str, session_name: str) -> dict[str, str] | str:
    """Credentials of `role_arn` assumed from `session`, or why not (the role's trust policy, SCPs, ...)."""
    try:
        with _botocore_failures("AssumeRole"):
            response = client(session, "sts").assume_role(
                RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=900
            )
    except ClientError as error:
        return f"AssumeRole: {error_code(error)}: {error_message(error)}"
    credentials = response["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
