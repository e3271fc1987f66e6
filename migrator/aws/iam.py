"""IamDirectory over boto3: a principal's real ARN (with its path) from IAM in the principal's own account.

aws-auth role ARNs carry no path but access entries need it. The lookup happens in the account that owns
the principal: the cluster's own session for its account, an assumed role for any other. When neither is
possible the answer is UNRESOLVED with the reason, never a guess from a same-named role elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import Lock

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from migrator.aws.session import client, error_code, error_message
from migrator.errors import MigratorError
from migrator.model import LookupStatus, PrincipalLookup
from migrator.rules.arn import Arn, PrincipalKind


class BotoIamDirectory:
    def __init__(
        self,
        home_account: str,
        home_session: boto3.Session,
        session_for_account: Callable[[str], boto3.Session | None],
    ) -> None:
        """`session_for_account(account)` returns a session able to read IAM there, or None when none is set up."""
        self._home_account = home_account
        self._home_session = home_session
        self._session_for_account = session_for_account
        self._cache: dict[str, PrincipalLookup] = {}
        self._lock = Lock()
        # Sessions per other account, made once (an AssumeRole each), not once per principal.
        self._sessions: dict[str, boto3.Session | None] = {home_account: home_session}
        self._sessions_lock = Lock()

    def lookup(self, arn: Arn) -> PrincipalLookup:
        with self._lock:
            cached = self._cache.get(arn.lookup_key)
        if cached is not None:
            return cached
        found = self._lookup(arn)  # outside the lock: lookups of different principals run in parallel
        with self._lock:
            return self._cache.setdefault(arn.lookup_key, found)

    def _session(self, account: str) -> boto3.Session | None:
        """The account's session, made at its first lookup; a failure is not kept (the next lookup retries)."""
        with self._sessions_lock:
            if account not in self._sessions:
                self._sessions[account] = self._session_for_account(account)
            return self._sessions[account]

    def _lookup(self, arn: Arn) -> PrincipalLookup:
        if arn.kind not in (PrincipalKind.ROLE, PrincipalKind.USER):
            return PrincipalLookup(LookupStatus.UNRESOLVED, reason=f"{arn.kind.value} is not looked up")
        try:
            session = self._session(arn.account)
        except MigratorError as error:
            return PrincipalLookup(LookupStatus.UNRESOLVED, reason=f"cannot reach account {arn.account}: {error}")
        if session is None:
            return PrincipalLookup(
                LookupStatus.UNRESOLVED,
                reason=f"no IAM access to account {arn.account} (pass --iam-role {arn.account}=ROLE_ARN)",
            )
        iam = client(session, "iam")  # shared: one IAM client per account, whatever the number of principals
        try:
            if arn.kind is PrincipalKind.ROLE:
                found = iam.get_role(RoleName=arn.name)["Role"]["Arn"]
            else:
                found = iam.get_user(UserName=arn.name)["User"]["Arn"]
        except ClientError as error:
            if error_code(error) == "NoSuchEntity":
                return PrincipalLookup(LookupStatus.NOT_FOUND, reason=error_message(error))
            return PrincipalLookup(LookupStatus.UNRESOLVED, reason=f"{error_code(error)}: {error_message(error)}")
        except BotoCoreError as error:
            return PrincipalLookup(LookupStatus.UNRESOLVED, reason=str(error))
        # IAM answers with the ARN as stored; keep the partition and account we asked about.
        return PrincipalLookup(LookupStatus.FOUND, arn=str(found))
