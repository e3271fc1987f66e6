"""Usage evidence: who signed in to a cluster, as the authenticator's control-plane log says, summarised per
principal ARN over a time window. Plain frozen data; `rules.signins` parses the log lines and
`rules.usage` builds these, `plan.usage` turns them into findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SignInEvent:
    """One authentication the authenticator logged ("access granted" or "access denied")."""

    at: datetime  # aware, UTC
    granted: bool
    arn: str | None  # the canonical ARN (role ARNs without path or session); None when the token was refused
    username: str | None = None
    groups: tuple[str, ...] = ()
    uid: str | None = None
    error: str | None = None  # why access was denied


@dataclass(frozen=True)
class PrincipalUsage:
    """One principal's sign-ins in the window: granted ones counted, denied ones apart."""

    arn: str
    first_seen: datetime
    last_seen: datetime
    count: int
    usernames: tuple[str, ...]  # every username it was given, sorted
    groups: tuple[str, ...]  # every group it was given, sorted
    denied: int = 0


@dataclass(frozen=True)
class UsageEvidence:
    """What the authenticator log says about [since, until]. `available` False: there is no log to read
    (logging off, no log group), and `reason` says why; then nothing may be concluded from silence."""

    since: datetime
    until: datetime
    available: bool
    reason: str = ""
    principals: tuple[PrincipalUsage, ...] = ()
    lines: int = 0  # log lines read
    malformed: int = 0  # lines that look like the authenticator's but could not be read
    refused: int = 0  # denied sign-ins with no ARN (a bad or expired token)

    def used(self, arn: str) -> PrincipalUsage | None:
        """The usage of `arn`, compared as the authenticator compares ARNs: case-insensitively."""
        key = arn.lower()
        for principal in self.principals:
            if principal.arn.lower() == key and principal.count:
                return principal
        return None
