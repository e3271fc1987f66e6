"""The command line. Commands declare options, build objects, call the core and render; nothing more.

Data goes to stdout, messages to stderr. Every MigratorError becomes one line on stderr and its exit code
(see errors.EXIT_CODES); nothing a user can cause prints a traceback.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from migrator import __version__
from migrator.app import ClusterAccess, PlanOptions, now_iso, plan_live, plan_offline
from migrator.app.planning import UsageWindow
from migrator.app.state import StateAccess, cluster_folder, load_plan_ref, state_grant, write_plan_to
from migrator.cli.render import clean
from migrator.cli.render.markdown import plan_markdown
from migrator.cli.render.permissions import permissions_json, permissions_text
from migrator.cli.render.plan import plan_json, print_plan
from migrator.cli.state import (
    StateKmsKeyOption,
    StateOption,
    StateProfileOption,
    StateRegionOption,
    on_the_command_line,
    state_for_plan,
    state_store,
)
from migrator.errors import EXIT_CODES, InputError, MigratorError
from migrator.model import AuthMode, Plan
from migrator.plan.planfile import write_plan
from migrator.ports import StateStore
from migrator.rules.limits import check_cluster_name
from migrator.rules.state_permissions import state_permissions
from migrator.rules.usage import parse_since
from migrator.state.files import FileStore
from migrator.state.location import is_s3_url

# Piped output is for reading in files and reviews: wide enough for ARNs, not the 80 columns of a pipe.
stdout = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 180)
stderr = Console(stderr=True)

EXIT_CODE_HELP = "\n\n".join(f"{code}: {meaning}" for code, meaning in EXIT_CODES)

app = typer.Typer(
    name="aws-auth-migrate",
    help="Move an EKS cluster from the aws-auth ConfigMap to access entries without losing or widening access."
    f"\n\nExit codes:\n\n{EXIT_CODE_HELP}",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    # No docstring: the app's help above is the one --help shows.
    pass


DEFAULT_LIVE_REGION = "us-east-1"  # what a live plan asks when neither --region nor AWS_REGION says


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ShowFormat(StrEnum):
    """`show`'s own choice: it alone prints a plan as Markdown (the other commands have no Markdown form)."""

    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


class Target(StrEnum):
    API_AND_CONFIG_MAP = "API_AND_CONFIG_MAP"
    API = "API"


ProfileOption = Annotated[str | None, typer.Option(envvar="AWS_PROFILE", help="AWS profile to use.")]
RoleArnOption = Annotated[str | None, typer.Option(help="Role to assume in the cluster's account before any call.")]
KubeContextOption = Annotated[
    str | None,
    typer.Option(help="kubeconfig context for the cluster (default: endpoint from EKS plus an EKS token)."),
]
KubeconfigOption = Annotated[str | None, typer.Option(envvar="KUBECONFIG", help="kubeconfig file with --kube-context.")]
IamRoleOption = Annotated[
    list[str] | None,
    typer.Option(help="ACCOUNT=ROLE_ARN: role to read IAM paths in another account (repeatable)."),
]
OutputOption = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="text for people, json for tools (a documented contract).")
]


def _emit_plan(plan: Plan, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print(plan_json(plan))
    else:
        print_plan(plan, stdout)


def _usage_window(usage_since: str | None, offline: bool) -> UsageWindow | None:
    """Checked before anything is read: a bad --usage-since is exit 2 with no call made."""
    if usage_since is None:
        return None
    if offline:
        raise InputError(
            "--usage-since reads the cluster's authenticator log; an --offline plan makes no AWS call",
            hint="drop --usage-since, or plan against the cluster",
        )
    return UsageWindow(parse_since(usage_since, datetime.now(UTC).replace(microsecond=0)))


def _plan_store(
    ctx: typer.Context,
    out: Path | None,
    state: str | None,
    plans_dir: Path | None,
    profile: str | None,
    region: str | None,
    kms_key: str | None,
) -> StateStore | None:
    """Where `plan` writes: None for --out (the file itself), else the state (default plans/). --out wins over
    AWS_AUTH_MIGRATE_STATE/AWS_AUTH_MIGRATE_PLANS from the environment (a CI job sets them for every command);
    only --state/--plans-dir given on the command line beside it are refused."""
    if out is None:
        return state_store(state, plans_dir, profile=profile, region=region, kms_key=kms_key) or FileStore(
            Path("plans")
        )
    if any(on_the_command_line(ctx, name) for name in ("state", "plans_dir")):
        raise InputError("--out names the plan file itself: give it, or --state/--plans-dir, not both")
    if kms_key is not None:
        raise InputError("--state-kms-key encrypts an S3 state: give --state s3://BUCKET/PREFIX instead of --out")
    return None


@app.command()
def plan(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Option(help="EKS cluster name (also the folder under --plans-dir).")],
    aws_auth_file: Annotated[
        Path | None,
        typer.Option(help="aws-auth ConfigMap as `kubectl get cm aws-auth -n kube-system -o yaml` (or -o json)."),
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Make no AWS or Kubernetes call: plan from --aws-auth-file alone, for review.")
    ] = False,
    target: Annotated[
        Target,
        typer.Option(help="Where to stop: API_AND_CONFIG_MAP keeps aws-auth as a fallback; API ends its use."),
    ] = Target.API_AND_CONFIG_MAP,
    remove_aws_auth: Annotated[
        bool, typer.Option(help="With --target API: delete aws-auth at the end (restorable from the backup).")
    ] = False,
    current_mode: Annotated[
        AuthMode, typer.Option(help="Offline only: the cluster's authentication mode today.")
    ] = AuthMode.CONFIG_MAP,
    region: Annotated[
        str | None,
        typer.Option(
            envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
            help=f"The cluster's AWS region; it decides the partition (aws, aws-cn, aws-us-gov, ...). Live default: "
            f"{DEFAULT_LIVE_REGION}. Offline without it: the plan records no region and takes the partition from "
            "aws-auth's ARNs (the node roles', else the most common).",
            show_default=False,
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(help="Offline only: the cluster's account id (default: inferred from the node roles)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the plan file.")] = None,
    plans_dir: Annotated[
        Path | None,
        typer.Option(envvar="AWS_AUTH_MIGRATE_PLANS", help="Default home of plans and journals (default: plans)."),
    ] = None,
    state: StateOption = None,
    state_kms_key: StateKmsKeyOption = None,
    created_at: Annotated[
        str | None, typer.Option(help="Pin the plan's createdAt (ISO 8601) for byte-identical plans.")
    ] = None,
    output: OutputOption = OutputFormat.TEXT,
    profile: ProfileOption = None,
    role_arn: RoleArnOption = None,
    kube_context: KubeContextOption = None,
    kubeconfig: KubeconfigOption = None,
    iam_role: IamRoleOption = None,
    usage_since: Annotated[
        str | None,
        typer.Option(
            help="Live only: read who signed in since then (30d, 12h, 2026-10-01) from the cluster's "
            "authenticator log in CloudWatch Logs, and add it to the plan's findings."
        ),
    ] = None,
    rbac: Annotated[
        bool,
        typer.Option(
            help="Live only: read the cluster's RBAC (roles and bindings) and review what the mapped usernames "
            "and groups are bound to. Offline plans have none."
        ),
    ] = True,
    rbac_file: Annotated[
        Path | None,
        typer.Option(
            help="Offline only: the cluster's RBAC as `kubectl get clusterroles,roles,clusterrolebindings,"
            "rolebindings -A -o yaml`, to review it (and allow --prefer-access-policies) in an offline plan."
        ),
    ] = None,
    prefer_access_policies: Annotated[
        bool,
        typer.Option(
            help="Replace a group bound only to the built-in cluster-admin, admin, edit or view ClusterRole with "
            "the matching EKS access policy, when that grants exactly the same (needs --rbac)."
        ),
    ] = False,
    accept_narrowing: Annotated[
        bool,
        typer.Option(help="With --prefer-access-policies: also convert when the policy grants less (listed)."),
    ] = False,
    accept_managed_aws_auth: Annotated[
        bool,
        typer.Option(
            help="With --remove-aws-auth: you have changed the source of the tool that writes aws-auth (Argo CD, "
            "Flux, Helm, Terraform, eksctl, a kubectl apply pipeline; AWS_AUTH_MANAGED), so deleting it will not be "
            "undone. Without it the remove-aws-auth step is refused while such an owner is found."
        ),
    ] = False,
) -> None:
    """Read aws-auth (and, live, the cluster's mode, entries, node groups and IAM paths) and write a plan.

    Live planning makes read-only calls: EKS Describe/List, IAM GetRole/GetUser, STS GetCallerIdentity, a
    Kubernetes GET of kube-system/aws-auth and (with --rbac, the default) lists of the RBAC objects.
    """
    check_cluster_name(cluster, where="--cluster")
    usage = _usage_window(usage_since, offline)
    if offline and region is None and out is None and state is not None and is_s3_url(state):
        raise InputError(
            "an offline plan made without --region names no region, and in an S3 state a cluster's folder is "
            "<account>/<region>/<name>",
            hint="give --region (and --account, unless aws-auth's ARNs name it), or write the plan to --out FILE",
        )
    store = _plan_store(ctx, out, state, plans_dir, profile, region, state_kms_key)
    if accept_narrowing and not prefer_access_policies:
        raise InputError("--accept-narrowing goes with --prefer-access-policies")
    if accept_managed_aws_auth and not remove_aws_auth:
        raise InputError("--accept-managed-aws-auth goes with --remove-aws-auth: only deleting aws-auth needs it")
    if rbac_file is not None and not offline:
        raise InputError("--rbac-file is for --offline plans; a live plan reads RBAC from the cluster")
    if prefer_access_policies and not (rbac_file if offline else rbac):
        raise InputError(
            "--prefer-access-policies needs the cluster's RBAC: a live plan with --rbac, or --offline --rbac-file",
            hint="drop --no-rbac, add --rbac-file, or drop --prefer-access-policies",
        )
    options = PlanOptions(
        target=AuthMode(target.value),
        remove_aws_auth=remove_aws_auth,
        created_at=created_at or now_iso(),
        prefer_access_policies=prefer_access_policies,
        accept_narrowing=accept_narrowing,
        accept_managed_aws_auth=accept_managed_aws_auth,
    )
    if offline:
        if aws_auth_file is None:
            raise InputError("--offline needs --aws-auth-file FILE")
        built = plan_offline(aws_auth_file, cluster=cluster, region=region, account=account, mode=current_mode,
                             options=options, rbac_file=rbac_file)  # fmt: skip
    else:
        if aws_auth_file is not None:
            raise InputError(
                "--aws-auth-file is for --offline plans; a live plan reads aws-auth from the cluster",
                hint="drop --aws-auth-file, or add --offline",
            )
        from migrator.wiring.connect import parse_iam_roles

        access = ClusterAccess(
            region or DEFAULT_LIVE_REGION, profile, role_arn, kube_context, kubeconfig, parse_iam_roles(iam_role or [])
        )
        built = plan_live(cluster, access, options, usage, rbac=rbac)
    if out is not None:
        where = str(write_plan(built, out))
    else:
        assert store is not None  # _plan_store gives a store whenever there is no --out
        where = write_plan_to(cluster_folder(store, built.cluster), built)
    _emit_plan(built, output)
    stderr.print(Text(clean(f"Plan written to {where}")), highlight=False)
    if built.offline:
        stderr.print("This offline plan is for review; apply needs a plan made against the cluster.")


@app.command()
def show(
    ctx: typer.Context,
    plan_file: Annotated[
        str, typer.Argument(help="A plan written by `plan`: a file, or an s3://BUCKET/KEY object.", show_default=False)
    ],
    output: Annotated[
        ShowFormat,
        typer.Option(
            "--output",
            "-o",
            help="text for people, json for tools (a documented contract), markdown (GitHub-flavoured) for a "
            "pull-request comment or a CI job summary: headline, gates, findings and entries, kept under GitHub's "
            "65,536-character comment limit (what it leaves out, it says).",
        ),
    ] = ShowFormat.TEXT,
    iam_policy: Annotated[
        bool,
        typer.Option(
            "--iam-policy",
            help="Instead of the plan, print what its runner needs for apply and rollback: a least-privilege IAM "
            "policy (JSON), then `---` and the Kubernetes Role for kube-system/aws-auth (YAML). With -o json: one "
            'object {"iamPolicy": ..., "kubernetesRole": ...}. A run whose state is in S3 (PLAN an s3:// object, '
            "or --state s3://BUCKET/PREFIX as apply will be given) also gets S3 actions on its run directory, and "
            "KMS actions on --state-kms-key.",
        ),
    ] = False,
    state: StateOption = None,
    state_kms_key: StateKmsKeyOption = None,
    profile: StateProfileOption = None,
    region: StateRegionOption = None,
) -> None:
    """Show a plan file (after checking it was not edited), or with --iam-policy the permissions it needs."""
    if iam_policy and output is ShowFormat.MARKDOWN:
        raise InputError("--iam-policy prints text or JSON; -o markdown is for the plan itself")
    if iam_policy:  # where the run will keep its state, refused before the plan is read
        state, _ = state_for_plan(ctx, plan_file, state)
    loaded, _, _ = load_plan_ref(plan_file, StateAccess(profile, region))
    if output is ShowFormat.MARKDOWN:
        print(plan_markdown(loaded, plan_file), end="")
        return
    if not iam_policy:
        _emit_plan(loaded, OutputFormat(output.value))
        return
    grant = state_grant(plan_file, loaded, state, state_kms_key)
    print(permissions_json(loaded, grant) if output is ShowFormat.JSON else permissions_text(loaded, grant))
    for note in state_permissions(grant, loaded.cluster.partition).notes if grant is not None else ():
        print(clean(f"note: {note}"), file=sys.stderr)  # one unwrapped line: it holds a command to copy


@app.command()
def version() -> None:
    """Print the tool's version."""
    print(__version__)


def print_error(error: MigratorError) -> None:
    """Plain prints, not rich: one unwrapped line a tool can parse (`error: FILE:LINE: message`)."""
    print(clean(f"error: {error}", keep_newlines=True), file=sys.stderr)
    if error.hint:
        print(clean(f"hint: {error.hint}", keep_newlines=True), file=sys.stderr)


def print_internal_error(error: BaseException) -> None:
    print(
        clean(f"internal error: {type(error).__name__}: {error}") + "\n"
        "This is a bug in aws-auth-migrate. Re-run with AWS_AUTH_MIGRATE_DEBUG=1 for the traceback.",
        file=sys.stderr,
    )


def _register_subcommands() -> None:
    # Imported for their side effect: they register apply, status, rollback, verify and export on `app`.
    import migrator.cli.export
    import migrator.cli.run
    import migrator.cli.verify  # noqa: F401
    from migrator.cli.batch import batch_app
    from migrator.cli.sandbox import sandbox_app

    app.add_typer(sandbox_app, name="sandbox")
    app.add_typer(batch_app, name="batch")


_register_subcommands()


def main() -> None:
    """Entry point: run the app and turn errors into one line and an exit code."""
    try:
        result = app(standalone_mode=False)
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as error:  # usage errors: bad option values, missing arguments
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            print(f"error: {error}", file=sys.stderr)
        sys.exit(InputError.exit_code)
    except MigratorError as error:
        print_error(error)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:  # a bug: say so briefly; the traceback only on request
        if os.environ.get("AWS_AUTH_MIGRATE_DEBUG"):
            raise
        print_internal_error(error)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
