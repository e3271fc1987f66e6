"""A parsed IAM/STS principal ARN: plain frozen data, so the model can carry it (a mapping keeps the parse its
reader made). Parsing text into one is a rule: `migrator.rules.arn.parse_arn`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SERVICE_LINKED_PATH_PREFIX = "aws-service-role/"
SSO_PATH_PREFIX = "aws-reserved/sso.amazonaws.com/"
SSO_ROLE_NAME_PREFIX = "AWSReservedSSO_"


class PrincipalKind(StrEnum):
    ROLE = "role"
    USER = "user"
    ROOT = "root"
    ASSUMED_ROLE = "assumed-role"


@dataclass(frozen=True)
class Arn:
    """A parsed IAM/STS principal ARN. `path` is "" or ends with "/" (IAM's own convention minus the lead)."""

    partition: str
    service: str
    account: str
    kind: PrincipalKind
    name: str
    path: str = ""
    session: str | None = None

    def __str__(self) -> str:
        if self.kind is PrincipalKind.ROOT:
            return f"arn:{self.partition}:iam::{self.account}:root"
        if self.kind is PrincipalKind.ASSUMED_ROLE:
            return f"arn:{self.partition}:sts::{self.account}:assumed-role/{self.name}/{self.session}"
        return f"arn:{self.partition}:iam::{self.account}:{self.kind.value}/{self.path}{self.name}"

    @property
    def has_path(self) -> bool:
        return bool(self.path)

    @property
    def is_service_linked(self) -> bool:
        return self.kind is PrincipalKind.ROLE and self.path.startswith(SERVICE_LINKED_PATH_PREFIX)

    @property
    def is_sso_role(self) -> bool:
        return self.kind is PrincipalKind.ROLE and (
            self.path.startswith(SSO_PATH_PREFIX) or self.name.startswith(SSO_ROLE_NAME_PREFIX)
        )

    def without_path(self) -> Arn:
        return Arn(self.partition, self.service, self.account, self.kind, self.name, "", self.session)

    @property
    def principal_key(self) -> tuple[str, str, str, str]:
        """Who this is, whatever the path: IAM role and user names are unique per account, case-insensitively."""
        kind = PrincipalKind.ROLE if self.kind is PrincipalKind.ASSUMED_ROLE else self.kind
        return (self.partition, self.account, kind.value, self.name.lower())

    @property
    def lookup_key(self) -> str:
        """`principal_key` as one string: how IAM lookups are keyed in a snapshot."""
        return ":".join(self.principal_key)
