"""IamDirectory over boto3: a principal's real ARN (with its path) from IAM in the principal's own account.

aws-auth role ARNs carry no path but access entries need it. The lookup happens in the account that owns
the principal: the cluster's own session for its account, an assumed role for any other. When neither is
possible the answer is UNRESOLVED with the reason, never a guess from a same-named role elsewhere.

Thousands of mappings in one account are read with ListRoles / ListUsers (a page holds up to 1,000) rather
than one GetRole / GetUser each (`prefetch`). The listing only answers a name it holds exactly; anything else
(a name it lacks, one that differs only in case, a listing refused or failed) is still read one by one, so a
lookup answers the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from threading import Lock

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from migrator.aws.session import client, error_code, error_message
from migrator.errors import MigratorError
from migrator.model import LookupStatus, PrincipalLookup
from migrator.rules.arn import Arn, PrincipalKind

# Below this many principals of one kind in one account, one read each costs no more than listing the account.
LIST_FROM = 50
_LISTINGS = {
    PrincipalKind.ROLE: ("list_roles", "Roles", "RoleName"),
    PrincipalKind.USER: ("list_users", "Users", "UserName"),
}


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

    def prefetch(self, arns: Sequence[Arn]) -> None:
        """List the roles (users) of each account that has at least LIST_FROM of them to look up, and keep what
        the listing says of those names; the rest are looked up one by one when asked."""
        wanted: dict[tuple[str, PrincipalKind], list[Arn]] = {}
        for arn in arns:
            if arn.kind in _LISTINGS:
                wanted.setdefault((arn.account, arn.kind), []).append(arn)
        for (account, kind), group in wanted.items():
            if len(group) < LIST_FROM:
                continue
            listed = self._listing(account, kind)
            if listed is None:
                continue
            with self._lock:
                for arn in group:
                    if arn.name in listed:
                        self._cache.setdefault(
                            arn.lookup_key, PrincipalLookup(LookupStatus.FOUND, arn=listed[arn.name])
                        )

    def _listing(self, account: str, kind: PrincipalKind) -> dict[str, str] | None:
        """Name -> ARN as stored, of every role (user) of the account; None when it cannot be listed."""
        try:
            session = self._session(account)
        except MigratorError:
            return None
        if session is None:
            return None
        operation, key, name = _LISTINGS[kind]
        try:
            pages = client(session, "iam").get_paginator(operation).paginate(PaginationConfig={"PageSize": 1000})
            return {item[name]: str(item["Arn"]) for page in pages for item in page[key]}
        except (ClientError, BotoCoreError):
            return None  # e.g. no iam:ListRoles: one read per principal, as without a listing

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
