"""One error hierarchy. Each class carries the exit code the CLI returns for it.

The CLI prints `str(error)` on one line (plus `hint` when set) and exits with `exit_code`; nothing else
in the tool decides exit codes. The table is documented in docs/reference/exit-codes.md (checked by a test).
"""

from __future__ import annotations


class MigratorError(Exception):
    """Base of every error the tool reports to a user. Never shown with a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(MigratorError):
    """Bad input: a malformed file, a wrong option value, a plan that is not a plan."""

    exit_code = 2


class SourceError(InputError):
    """A problem at a place in an input file: rendered as `FILE:LINE: message`."""

    def __init__(self, file: str, line: int | None, message: str, *, hint: str | None = None) -> None:
        self.file = file
        self.line = line
        self.detail = message
        location = f"{file}:{line}" if line is not None else file
        super().__init__(f"{location}: {message}", hint=hint)


class PlanIntegrityError(InputError):
    """The plan file was edited after it was written, or is of an unknown schema."""


class StalePlanError(MigratorError):
    """The cluster changed since the plan was made (or since the journaled steps ran)."""

    exit_code = 3


class LockoutError(MigratorError):
    """A gate would lock a principal out (or widen access); the run refuses to pass it."""

    exit_code = 4


class RemoteError(MigratorError):
    """AWS or Kubernetes refused or failed a call after the retries we allow."""

    exit_code = 5


class NotAuthenticatedError(RemoteError):
    """The cluster did not recognise the caller (HTTP 401)."""


class ForbiddenError(RemoteError):
    """The cluster recognised the caller but its RBAC does not allow the call (HTTP 403)."""


class UpdateInProgressError(RemoteError):
    """EKS refused a cluster update because another one (ours, a person's, or EKS patching) is running."""


class ConflictError(MigratorError):
    """Someone else's change stands where the plan wants to write: an entry that differs, an aws-auth that
    changed since it was backed up."""

    exit_code = 6


class WriteConflict(ConflictError):
    """A conditional write to the run state failed: the object exists (if-none-match) or changed (if-match)."""


class ClusterLockedError(MigratorError):
    """Another run holds this cluster's lock."""

    exit_code = 7


class RunInProgressError(ClusterLockedError):
    """A run of the cluster's current plan has not finished (at a gate, interrupted, failed) nor been rolled
    back: `batch plan` keeps that plan rather than orphan what the run did."""


class VerificationFailed(MigratorError):
    """verify found a principal whose identity is not the one aws-auth gave it (or a probe disagreed)."""

    exit_code = 8


EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "success (also: a run that stopped in front of an unapproved gate)"),
    (1, "internal error: a bug in aws-auth-migrate; please report it"),
    (
        2,
        "bad input: malformed aws-auth, scenario or plan file, edited plan, invalid option; a command whose extra "
        "is not installed",
    ),
    (3, "stale plan: the cluster changed since the plan was made"),
    (4, "lockout refused: passing the gate would cost someone access"),
    (5, "AWS or Kubernetes API error after retries; batch runs: a cluster did not reach what was approved"),
    (6, "conflict: someone else's change (an access entry, aws-auth) stands where the plan would write"),
    (
        7,
        "cluster locked: another run is applying a plan to this cluster (or took this run's lease); batch runs: "
        "every cluster that did not reach what was approved is held by another run",
    ),
    (8, "verify found a difference: an identity is not what aws-auth gave (missing, differs, extra)"),
    (130, "interrupted (Ctrl-C); the journal holds where the run stopped"),
)
