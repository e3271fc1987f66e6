"""`aws-auth-migrate verify`: is every identity still the one aws-auth gave? Exit 8 when not."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migrator.app import ClusterAccess
from migrator.app.state import StateAccess, open_object
from migrator.app.verifying import CreatorSource, Reference, verify_cluster
from migrator.cli import (
    IamRoleOption,
    KubeconfigOption,
    KubeContextOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    RoleArnOption,
    app,
)
from migrator.cli.render.verify import verify_json, verify_text
from migrator.cli.state import StateOption, state_store
from migrator.errors import InputError, VerificationFailed
from migrator.ports import StateStore
from migrator.rules.limits import check_cluster_name
from migrator.run.backup import BackupSlot
from migrator.run.journal import FileJournal, Journal, ObjectJournal
from migrator.state.keys import check_key
from migrator.state.location import is_s3_url


@app.command()
def verify(
    cluster: Annotated[str, typer.Option(help="EKS cluster name.")],
    region: Annotated[
        str, typer.Option(envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], help="The cluster's AWS region.")
    ] = "us-east-1",
    aws_auth_file: Annotated[
        Path | None,
        typer.Option(help="Compare with this aws-auth (kubectl get cm aws-auth -o yaml) instead of the cluster's."),
    ] = None,
    backup: Annotated[
        str | None,
        typer.Option(
            help="Compare with the aws-auth backup apply wrote (<planId>.aws-auth.backup.json), e.g. "
            "after aws-auth was deleted: a file, an s3://BUCKET/KEY object, or with --state a key in the state.",
            show_default=False,
        ),
    ] = None,
    creator: Annotated[
        str | None,
        typer.Option(
            help="The IAM role or user ARN that created the cluster. EKS does not say who did, and anybody can "
            "make an admin entry of the shape EKS gives the creator's; only the one of this principal is "
            "reported eks-made (without --creator or --journal, any such entry is extra)."
        ),
    ] = None,
    journal: Annotated[
        str | None,
        typer.Option(
            help="The journal of the apply that switched the cluster from CONFIG_MAP (<planId>.journal.jsonl "
            "next to the plan; in an S3 state the folder <planId>.journal): it records which entry EKS made for "
            "the creator at that switch. Instead of --creator.",
            show_default=False,
        ),
    ] = None,
    state: StateOption = None,
    probe: Annotated[
        bool,
        typer.Option(
            help="Also sign in as each role the caller may assume (session aws-auth-migrate-probe) and ask the "
            "cluster who it is. Users and roles that cannot be assumed are reported not-probed."
        ),
    ] = False,
    output: OutputOption = OutputFormat.TEXT,
    profile: ProfileOption = None,
    role_arn: RoleArnOption = None,
    kube_context: KubeContextOption = None,
    kubeconfig: KubeconfigOption = None,
    iam_role: IamRoleOption = None,
) -> None:
    """Compare each principal's identity now with the one aws-auth gives it: equivalent, missing, differs,
    extra, or made by EKS itself (node roles; the cluster creator's admin entry, with --creator or --journal).
    Works in every mode, and after aws-auth was deleted (--backup). Read-only. Exit 0 when everything is
    equivalent or made by EKS, 8 when anything differs; run it from CI on a schedule to catch entries changed
    out of band.
    """
    check_cluster_name(cluster, where="--cluster")
    from migrator.wiring.connect import parse_iam_roles

    access = ClusterAccess(region, profile, role_arn, kube_context, kubeconfig, parse_iam_roles(iam_role or []))
    store = state_store(state, None, profile=profile, region=region)
    backup_slot = BackupSlot(*_state_object(backup, store, profile, region, "--backup")) if backup is not None else None
    run_journal = _journal(journal, store, profile, region) if journal is not None else None
    report = verify_cluster(
        cluster, access, Reference(aws_auth_file, backup_slot), probe=probe, creator=CreatorSource(creator, run_journal)
    )
    print(verify_json(report) if output is OutputFormat.JSON else verify_text(report))
    if not report.ok:
        counts = report.counts()
        wrong = ", ".join(f"{counts[name]} {name}" for name in ("missing", "differs", "extra") if counts.get(name))
        disagreeing = counts.get("probe-disagrees", 0)
        if disagreeing:
            wrong = ", ".join(filter(None, (wrong, f"{disagreeing} probe(s) disagree")))
        raise VerificationFailed(f"verify: identities differ from aws-auth ({wrong})")


def _state_object(
    ref: str, store: StateStore | None, profile: str | None, region: str, option: str
) -> tuple[StateStore, str]:
    """A file, an s3:// object, or (with --state) a key in the state: its folder's store and its name. A file
    that exists is that file, even with a state (AWS_AUTH_MIGRATE_STATE may be set for every command)."""
    if store is not None and not is_s3_url(ref) and not Path(ref).exists():
        try:
            check_key(ref)
        except InputError:
            raise InputError(f"{option}: {ref!r}: no such file, and not a key in the state {store.location}") from None
        folder, _, name = ref.rpartition("/")
        return (store.child(folder) if folder else store), name
    return open_object(ref, StateAccess(profile, region))


def _journal(ref: str, store: StateStore | None, profile: str | None, region: str) -> Journal:
    """The journal `--journal` names: a `.journal.jsonl` file, or the record folder of an S3 state."""
    folder, name = _state_object(ref, store, profile, region, "--journal")
    if folder.shared:
        return ObjectJournal(folder, name, name.removesuffix(".journal"))
    return FileJournal(Path(folder.where(name)), name.removesuffix(".journal.jsonl"))
