"""Typed steps: one frozen dataclass per step kind, with typed fields, the one source every handler reads.

What makes a step safe to pass is a property of its *kind*, never a field a plan file could carry: a
`SetMode` is always an irreversible gate, whatever a (re-hashed) plan file says. Each reversible step
declares its inverse (alembic's lesson): rollback and the compensation after a failed policy association
run those inverses through the executor's one loop, with the same checks, journal and report.

Plan steps: backup-aws-auth, set-mode, create-entry, associate-policy, repair-node-entry, verify,
remove-aws-auth. Inverse steps (never written to a plan file): delete-entry, disassociate-policy,
restore-aws-auth. An inverse step's `undoes` names the plan step it undoes; the journal records it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from migrator.model.domain import AccessEntrySpec, AuthMode, EntryType, PolicyAssociation, ScopeType

AWS_AUTH_NAMESPACE = "kube-system"
AWS_AUTH_NAME = "aws-auth"


class StepKind(StrEnum):
    BACKUP_AWS_AUTH = "backup-aws-auth"
    SET_MODE = "set-mode"
    CREATE_ENTRY = "create-entry"
    ASSOCIATE_POLICY = "associate-policy"
    REPAIR_NODE_ENTRY = "repair-node-entry"
    VERIFY = "verify"
    REMOVE_AWS_AUTH = "remove-aws-auth"
    # inverse steps: built by rollback and compensation from the journal, never planned
    DELETE_ENTRY = "delete-entry"
    DISASSOCIATE_POLICY = "disassociate-policy"
    RESTORE_AWS_AUTH = "restore-aws-auth"


def describe_scope(policy: PolicyAssociation) -> str:
    if policy.scope.type is ScopeType.CLUSTER:
        return "cluster scope"
    return f"namespaces {', '.join(policy.scope.namespaces)}"


def describe_identity(spec: AccessEntrySpec) -> str:
    if spec.type.is_node:
        return spec.type.value
    username = spec.username if spec.username is not None else "EKS default username"
    groups = f"groups {', '.join(spec.groups)}" if spec.groups else "no groups"
    return f"{spec.type.value}, username {username}, {groups}"


def gate_consequence(mode: AuthMode) -> str:
    """What passing the gate into `mode` means, in one sentence a person approves."""
    if mode is AuthMode.API_AND_CONFIG_MAP:
        return "after this step there is no way back to CONFIG_MAP (entries then take precedence over aws-auth)"
    return "after this step there is no way back to API_AND_CONFIG_MAP: aws-auth is ignored for good"


@dataclass(frozen=True)
class BaseStep:
    """What every step has. `id` is stable within a plan ("07-create-entry"); `describe()` is the one line a
    person reads in the plan, the progress display and the journal."""

    id: str

    kind: ClassVar[StepKind]
    gate: ClassVar[bool] = False  # needs approval: --approve-gate MODE, or the cluster name typed
    irreversible: ClassVar[bool] = False  # EKS offers no way back

    @property
    def principal_arn(self) -> str | None:
        return None

    @property
    def undoes(self) -> str | None:
        """For an inverse step: the id of the plan step it undoes (where the journal records it)."""
        return None

    @property
    def record_id(self) -> str:
        """The plan step whose state this step changes in the journal and the report."""
        return self.undoes or self.id

    def describe(self) -> str:
        raise NotImplementedError

    def inverse(self) -> InverseStep | None:
        """The step that undoes this one, or None when there is nothing to undo or it cannot be undone."""
        return None

    def kept_because(self) -> str | None:
        """Why rollback leaves this step's change in place although it has one (None: nothing to keep)."""
        return None


# --- plan steps ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupAwsAuth(BaseStep):
    sha256: str
    namespace: str = AWS_AUTH_NAMESPACE
    name: str = AWS_AUTH_NAME
    kind: ClassVar[StepKind] = StepKind.BACKUP_AWS_AUTH

    def describe(self) -> str:
        return f"Back up {self.namespace}/{self.name} (sha256 {self.sha256[:12]}) next to the journal"


@dataclass(frozen=True)
class SetMode(BaseStep):
    mode: AuthMode
    kind: ClassVar[StepKind] = StepKind.SET_MODE
    gate: ClassVar[bool] = True
    irreversible: ClassVar[bool] = True

    @property
    def previous(self) -> AuthMode:
        return next(m for m in AuthMode if m.next is self.mode)

    def describe(self) -> str:
        why = {
            AuthMode.API_AND_CONFIG_MAP: "EKS never returns to CONFIG_MAP",
            AuthMode.API: "aws-auth is ignored from then on",
        }.get(self.mode, "EKS cannot switch back")
        return f"Switch authentication mode {self.previous.value} -> {self.mode.value} (one way: {why})"

    def consequence(self) -> str:
        return gate_consequence(self.mode)

    def kept_because(self) -> str | None:
        return f"EKS cannot leave {self.mode.value}: mode switches are one way"


@dataclass(frozen=True)
class CreateEntry(BaseStep):
    """The principal's entry as planned, policies included (a live entry with other policies is somebody
    else's); the create call itself carries no policies: each is an AssociatePolicy step right after."""

    entry: AccessEntrySpec
    kind: ClassVar[StepKind] = StepKind.CREATE_ENTRY

    @property
    def principal_arn(self) -> str:
        return self.entry.principal_arn

    def describe(self) -> str:
        return f"Create access entry for {self.entry.principal_arn} ({describe_identity(self.entry)})"

    def inverse(self) -> DeleteEntry:
        return DeleteEntry(f"undo-{self.id}", self.id, self.entry)


@dataclass(frozen=True)
class AssociatePolicy(BaseStep):
    principal: str
    policy: PolicyAssociation
    kind: ClassVar[StepKind] = StepKind.ASSOCIATE_POLICY

    @property
    def principal_arn(self) -> str:
        return self.principal

    def describe(self) -> str:
        return f"Associate {self.policy.policy_name} ({describe_scope(self.policy)}) with {self.principal}"

    def inverse(self) -> DisassociatePolicy:
        return DisassociatePolicy(f"undo-{self.id}", self.id, self.principal, self.policy)


@dataclass(frozen=True)
class RepairNodeEntry(BaseStep):
    """EKS made a node role's entry with the wrong type (Windows node groups get EC2_LINUX); entry types are
    immutable, so the repair deletes it and creates the right one."""

    principal: str
    type: EntryType
    current_type: EntryType
    kind: ClassVar[StepKind] = StepKind.REPAIR_NODE_ENTRY

    @property
    def principal_arn(self) -> str:
        return self.principal

    def describe(self) -> str:
        return (
            f"Replace the {self.current_type.value} entry of {self.principal} with {self.type.value} "
            "(entry types cannot change)"
        )

    def kept_because(self) -> str | None:
        return f"not undone: an {self.current_type.value} entry would break the Windows nodes again"


@dataclass(frozen=True)
class Verify(BaseStep):
    principals: int
    kind: ClassVar[StepKind] = StepKind.VERIFY

    def describe(self) -> str:
        return f"Verify that {self.principals} principal(s) have entries equivalent to their aws-auth identity"


@dataclass(frozen=True)
class RemoveAwsAuth(BaseStep):
    namespace: str = AWS_AUTH_NAMESPACE
    name: str = AWS_AUTH_NAME
    kind: ClassVar[StepKind] = StepKind.REMOVE_AWS_AUTH

    def describe(self) -> str:
        return f"Delete {self.namespace}/{self.name} (restorable from the backup)"

    def inverse(self) -> RestoreAwsAuth:
        return RestoreAwsAuth(f"undo-{self.id}", self.id, self.namespace, self.name)


# --- inverse steps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteEntry(BaseStep):
    """Undo a CreateEntry. `dropped` are the ids of its AssociatePolicy steps that EKS removes together
    with the entry (DeleteAccessEntry drops its associations)."""

    undone: str
    entry: AccessEntrySpec
    dropped: tuple[str, ...] = ()
    kind: ClassVar[StepKind] = StepKind.DELETE_ENTRY

    @property
    def undoes(self) -> str:
        return self.undone

    @property
    def principal_arn(self) -> str:
        return self.entry.principal_arn

    def describe(self) -> str:
        return f"Delete the access entry of {self.entry.principal_arn} (it falls back to its aws-auth mapping)"


@dataclass(frozen=True)
class DisassociatePolicy(BaseStep):
    undone: str
    principal: str
    policy: PolicyAssociation
    kind: ClassVar[StepKind] = StepKind.DISASSOCIATE_POLICY

    @property
    def undoes(self) -> str:
        return self.undone

    @property
    def principal_arn(self) -> str:
        return self.principal

    def describe(self) -> str:
        return f"Disassociate {self.policy.policy_name} from {self.principal}"


@dataclass(frozen=True)
class RestoreAwsAuth(BaseStep):
    undone: str
    namespace: str = AWS_AUTH_NAMESPACE
    name: str = AWS_AUTH_NAME
    kind: ClassVar[StepKind] = StepKind.RESTORE_AWS_AUTH

    @property
    def undoes(self) -> str:
        return self.undone

    def describe(self) -> str:
        return f"Re-create {self.namespace}/{self.name} from the backup"


Step = BackupAwsAuth | SetMode | CreateEntry | AssociatePolicy | RepairNodeEntry | Verify | RemoveAwsAuth
InverseStep = DeleteEntry | DisassociatePolicy | RestoreAwsAuth
AnyStep = Step | InverseStep

PLAN_STEP_KINDS: tuple[StepKind, ...] = (
    StepKind.BACKUP_AWS_AUTH,
    StepKind.SET_MODE,
    StepKind.CREATE_ENTRY,
    StepKind.ASSOCIATE_POLICY,
    StepKind.REPAIR_NODE_ENTRY,
    StepKind.VERIFY,
    StepKind.REMOVE_AWS_AUTH,
)
