"""`aws-auth-migrate sandbox ...`: serve a rehearsal world on 127.0.0.1, stop it, export a real cluster.

The sandbox modules (and moto) are imported inside the commands, so the rest of the CLI works without the
`sandbox` extra installed; a command that needs it says so (exit 2) instead of failing on the import.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from migrator.errors import InputError, RemoteError
from migrator.files import atomic_write
from migrator.rules.limits import check_cluster_name

_PID_RE = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)  # a positive pid: never 0 or -1 (a process group, everyone)
_TOKEN_RE = re.compile(r"[0-9a-f]{32}", re.ASCII)
_ENDPOINT_RE = re.compile(r"http://127\.0\.0\.1:[0-9]{1,5}", re.ASCII)
# Kept in step with migrator.sandbox.server (not imported here: the sandbox extra may be missing).
WHOAMI_PATH = "/__aws-auth-migrate/sandbox"
TOKEN_ENV = "AWS_AUTH_MIGRATE_SANDBOX_TOKEN"

sandbox_app = typer.Typer(
    help="A local EKS + IAM + STS + Kubernetes simulator to rehearse migrations on (127.0.0.1 only).",
    no_args_is_help=True,
)

READY_TIMEOUT_SECONDS = 60.0
DEMO_SCENARIO = Path("plans/examples/scenario-large.yaml")  # relative: the example of a repository clone

SANDBOX_EXTRA_INSTALL = "pip install 'aws-auth-migrate[sandbox]'"
# The top-level modules the sandbox extra brings that the tool's own dependencies do not: moto and what
# moto[server] requires (tests/unit/test_sandbox_extra.py holds the list to the installed packages' metadata).
# Only these mean "the extra is not installed"; a missing module of our own, or of a core dependency, is a bug.
SANDBOX_EXTRA_MODULES = frozenset(
    {
        "antlr4",
        "aws_xray_sdk",
        "cfnlint",
        "cryptography",
        "docker",
        "flask",
        "flask_cors",
        "graphql",
        "joserfc",
        "jsonpath_ng",
        "moto",
        "openapi_spec_validator",
        "py_partiql_parser",
        "pyparsing",
        "responses",
        "werkzeug",
        "xmltodict",
    }
)


@contextmanager
def _needs_sandbox_extra(command: str) -> Iterator[None]:
    """Around the imports of `sandbox COMMAND`: a module of the sandbox extra that is missing is exit 2 naming
    the extra (not an internal error)."""
    try:
        yield
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in SANDBOX_EXTRA_MODULES:
            raise
        raise InputError(
            f"`aws-auth-migrate sandbox {command}` needs the sandbox extra, which is not installed "
            f"(no module named {missing!r})",
            hint=SANDBOX_EXTRA_INSTALL,
        ) from None


def _exports(env: dict[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in sorted(env.items()))


@sandbox_app.command()
def serve(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (schema aws-auth-migrate/scenario/v1).")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one.")] = 0,
    background: Annotated[
        bool, typer.Option(help="Serve from a background process, print the exports and return.")
    ] = False,
    pid_file: Annotated[
        Path | None, typer.Option(help="With --background: where to write the server's pid (for `sandbox stop`).")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="Where to write the kubeconfig (default: a temporary file).")
    ] = None,
    ready_file: Annotated[Path | None, typer.Option(hidden=True)] = None,
) -> None:
    """Serve SCENARIO and print `export AWS_ENDPOINT_URL=... KUBECONFIG=...` lines for the tool to use.

    In the foreground it runs until Ctrl-C. For scripts:
    eval "$(aws-auth-migrate sandbox serve SCENARIO --background --pid-file sandbox.pid)"
    """
    with _needs_sandbox_extra("serve"):  # also in the background: its server process would fail on it
        from migrator.sandbox.server import Sandbox
    if background:
        _serve_in_background(scenario, port, pid_file, kubeconfig)
        return
    from migrator.sandbox.scenario import load_scenario

    loaded = load_scenario(scenario)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Sandbox(loaded, port=port, token=os.environ.pop(TOKEN_ENV, "")) as sandbox:
        if kubeconfig is not None:
            sandbox.write_kubeconfig(kubeconfig)
        env = sandbox.env()
        if ready_file is not None:
            atomic_write(ready_file, json.dumps(env).encode())
        else:
            sys.stdout.write(_exports(env))
            sys.stdout.flush()
        print(
            f"sandbox: {len(loaded.clusters)} cluster(s); AWS on {sandbox.endpoint_url}, Kubernetes on "
            f"{sandbox.kube_endpoint_url} (https, the CA is in the kubeconfig); Ctrl-C to stop",
            file=sys.stderr,
        )
        stop.wait()
    print("sandbox: stopped", file=sys.stderr)


def _serve_in_background(scenario: Path, port: int, pid_file: Path | None, kubeconfig: Path | None) -> None:
    from migrator.sandbox.scenario import load_scenario

    load_scenario(scenario)  # bad scenarios fail here, in the caller's terminal, with file:line
    if pid_file is not None and (running := _running_pid(pid_file)) is not None:
        raise InputError(
            f"{pid_file}: the sandbox it names (process {running}) is still running",
            hint=f"stop it first: aws-auth-migrate sandbox stop --pid-file {pid_file}",
        )
    workdir = Path(tempfile.mkdtemp(prefix="aws-auth-migrate-sandbox-"))
    ready, log = workdir / "ready.json", workdir / "server.log"
    command = [sys.executable, "-m", "migrator", "sandbox", "serve", str(scenario), "--port", str(port)]
    command += ["--ready-file", str(ready)]
    if kubeconfig is not None:
        command += ["--kubeconfig", str(kubeconfig)]
    token = secrets.token_hex(16)
    with log.open("wb") as log_handle:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_handle,
            start_new_session=True,
            env={**os.environ, TOKEN_ENV: token},
        )
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RemoteError(f"the sandbox did not start; its log says:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
    env = json.loads(ready.read_text())
    if pid_file is not None:
        atomic_write(pid_file, f"{process.pid}\n{token}\n{env['AWS_ENDPOINT_URL']}\n".encode())
    sys.stdout.write(_exports(env))
    print(f"sandbox: serving in process {process.pid} on {env['AWS_ENDPOINT_URL']} (log: {log})", file=sys.stderr)


def _read_pid_file(pid_file: Path) -> tuple[int, str, str]:
    """pid, token and endpoint as `serve --background` wrote them; InputError for anything else."""
    try:
        lines = pid_file.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{pid_file}: cannot read the pid file ({error})") from None
    if len(lines) != 4 or lines[3] or not _PID_RE.fullmatch(lines[0]) or not _TOKEN_RE.fullmatch(lines[1]):
        raise InputError(f"{pid_file}: not a pid file written by `sandbox serve --background`")
    if not _ENDPOINT_RE.fullmatch(lines[2]):
        raise InputError(f"{pid_file}: names endpoint {lines[2]!r}, not a local sandbox (http://127.0.0.1:PORT)")
    return int(lines[0]), lines[1], lines[2]


def _running_pid(pid_file: Path) -> int | None:
    try:
        pid = _read_pid_file(pid_file)[0]
        os.kill(pid, 0)
    except (OSError, InputError):
        return None
    return pid


def _is_our_sandbox(pid: int, token: str, endpoint: str) -> str | None:
    """None when `pid` is the sandbox server that wrote the pid file; otherwise why it is not."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self/cmdline").exists():
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            return f"process {pid} does not exist"
        if not (b"migrator" in args and b"sandbox" in args and b"serve" in args):
            return f"process {pid} is not a sandbox server (its command line is not `migrator sandbox serve`)"
    try:
        with urllib.request.urlopen(endpoint + WHOAMI_PATH, timeout=5) as response:
            answer = json.loads(response.read(4096))
    except (OSError, ValueError):
        return f"nothing that knows the pid file's token answers on {endpoint}"
    if not isinstance(answer, dict) or answer.get("pid") != pid or answer.get("token") != token:
        return f"the sandbox on {endpoint} is not process {pid} of this pid file"
    return None


@sandbox_app.command()
def stop(
    pid_file: Annotated[Path, typer.Option(help="The pid file `sandbox serve --background` wrote.")],
) -> None:
    """Stop a background sandbox and remove its pid file.

    The process is signalled only if it is the sandbox that wrote the pid file: its command line is our
    `sandbox serve` and it answers the pid file's random token on its endpoint. Otherwise exit 2, nothing signalled.
    """
    pid, token, endpoint = _read_pid_file(pid_file)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        print(f"sandbox: process {pid} was not running; pid file removed", file=sys.stderr)
        return
    except OSError:
        pass  # exists, owned by someone else: the checks below decide
    why_not = _is_our_sandbox(pid, token, endpoint)
    if why_not is not None:
        raise InputError(f"{pid_file}: {why_not}; nothing was signalled", hint="remove the stale pid file")
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)
    print(f"sandbox: process {pid} stopped", file=sys.stderr)


@sandbox_app.command()
def demo(
    scenario: Annotated[Path, typer.Argument(help="Scenario to rehearse on.")] = DEMO_SCENARIO,
    cluster: Annotated[str | None, typer.Option(help="Cluster of the scenario (default: its first).")] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Where the plan, journal and backup go (default: a new temporary folder).")
    ] = None,
) -> None:
    """A full migration on the sandbox: plan, apply through both gates, verify, and who is who before/after.

    Exits 1 if any mapped principal's identity changed (the tool's promise is that none does). The cluster
    creator, if mapped, only has to stay cluster-admin: EKS replaces its hidden bootstrap identity at the switch.
    """
    from rich.table import Table
    from rich.text import Text

    from migrator.cli import stdout
    from migrator.cli.render import clean
    from migrator.sandbox.scenario import load_scenario

    with _needs_sandbox_extra("demo"):
        from migrator.sandbox.demo import iam_reader_args, run_demo
    if scenario == DEMO_SCENARIO and not scenario.exists():
        raise InputError(
            f"{scenario}: no such scenario file",
            hint="without SCENARIO, the demo rehearses that example of a clone of the repository (run it from the "
            "clone's top folder); or pass a SCENARIO file (`sandbox export` writes one from a real cluster)",
        )
    loaded = load_scenario(scenario)
    target = loaded.cluster(cluster) if cluster else loaded.clusters[0]
    folder = workdir or Path(tempfile.mkdtemp(prefix="aws-auth-migrate-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = run_demo(
        loaded,
        cluster_name=target.name,
        workdir=folder,
        iam_role_args=iam_reader_args(loaded, target),
        say=lambda text: print(text, file=sys.stderr),
        show=lambda text: print(text, end=""),
    )
    table = Table(title=f"Who is who on {target.name}: before (CONFIG_MAP) and after (API)", title_justify="left")
    for column in ("principal", "before", "after", "same"):
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(
            Text(clean(row.principal_arn)),
            Text(clean(row.before.describe() if row.before else "(not authenticated)")),
            Text(clean(row.after.describe() if row.after else "(not authenticated)")),
            Text("yes") if row.same else Text("admin (EKS)") if row.kept else Text("NO", style="bold red"),
        )
    stdout.print(table)
    elapsed = time.monotonic() - started
    same = sum(row.kept for row in result.rows)
    print(
        f"demo: {same}/{len(result.rows)} principals kept their identity; {elapsed:.0f}s; plan, journal and "
        f"backup in {result.plan_file.parent}",
        file=sys.stderr,
    )
    if not result.all_same:
        raise typer.Exit(1)


@sandbox_app.command("export")
def export_command(
    cluster: Annotated[str, typer.Option(help="EKS cluster to snapshot.")],
    out: Annotated[Path, typer.Option(help="Scenario file to write.")],
    region: Annotated[
        str, typer.Option(envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], help="The cluster's region.")
    ] = "us-east-1",
    profile: Annotated[str | None, typer.Option(envvar="AWS_PROFILE", help="AWS profile.")] = None,
    role_arn: Annotated[str | None, typer.Option(help="Role to assume in the cluster's account.")] = None,
    kube_context: Annotated[str | None, typer.Option(help="kubeconfig context (default: EKS endpoint).")] = None,
    iam_role: Annotated[
        list[str] | None, typer.Option(help="ACCOUNT=ROLE_ARN for IAM lookups in another account (repeatable).")
    ] = None,
) -> None:
    """Snapshot a cluster's authentication state (aws-auth, mode, entries, node groups, Fargate profiles,
    IAM paths, RBAC) into a scenario to rehearse on. Read-only."""
    from migrator.sandbox.export import export_scenario
    from migrator.sandbox.scenario import dump_scenario
    from migrator.wiring.connect import ConnectOptions, connect, parse_iam_roles

    check_cluster_name(cluster, where="--cluster")
    readers = parse_iam_roles(iam_role or [])
    connection = connect(cluster, ConnectOptions(region, profile, role_arn, kube_context, None, readers))
    scenario = export_scenario(connection, reader_roles=readers.values())
    atomic_write(out, dump_scenario(scenario).encode("utf-8"))  # 0600: it names every principal
    print(f"Scenario written to {out}", file=sys.stderr)
