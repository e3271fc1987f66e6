"""What an installed user meets first: `--version`, shell completion, and a sandbox command without the
`sandbox` extra. A missing module is simulated by a `None` in `sys.modules` (what `import` treats as "not
installed"); tests/integration/test_wheel_install.py checks the same in a real venv without the extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from migrator import __version__
from tests.cli.conftest import EXAMPLES, REPO, inherited_env

INSTALL_HINT = "hint: pip install 'aws-auth-migrate[sandbox]'"
# The console script's entry point, as the installed `aws-auth-migrate` runs it, with some modules "not installed".
ENTRY = "import sys; sys.modules.update(dict.fromkeys(filter(None, sys.argv.pop(1).split(',')))); "
ENTRY += "sys.argv[0] = 'aws-auth-migrate'; from migrator.cli import main; main()"


def run_without(
    missing: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with the comma-separated modules `missing` made unimportable."""
    return subprocess.run(
        [sys.executable, "-c", ENTRY, missing, *args],
        cwd=cwd,
        env={**inherited_env(), "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version_option_prints_what_the_version_command_prints(tmp_path: Path) -> None:
    option = run_without("", "--version", cwd=tmp_path)
    command = run_without("", "version", cwd=tmp_path)
    assert (option.returncode, option.stdout, option.stderr) == (0, f"{__version__}\n", "")
    assert (command.returncode, command.stdout) == (0, option.stdout)
    # Eager: it answers before a command's own checks run.
    assert run_without("", "--version", "plan", cwd=tmp_path).stdout == option.stdout
    assert "--version" in run_without("", "--help", cwd=tmp_path).stdout


def test_shell_completion_is_offered_and_completes_commands(tmp_path: Path) -> None:
    helped = run_without("", "--help", cwd=tmp_path)
    assert "--install-completion" in helped.stdout and "--show-completion" in helped.stdout
    no_detection = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}  # a shell named, not guessed
    script = run_without("", "--show-completion", "bash", cwd=tmp_path, env=no_detection)
    assert script.returncode == 0, script.stderr
    assert "_AWS_AUTH_MIGRATE_COMPLETE=complete_bash" in script.stdout
    assert script.stdout.rstrip().endswith("aws-auth-migrate")  # `complete ... -F FUNCTION aws-auth-migrate`
    completing = {
        "_AWS_AUTH_MIGRATE_COMPLETE": "complete_bash",
        "COMP_WORDS": "aws-auth-migrate sand",
        "COMP_CWORD": "1",
    }
    completed = run_without("", cwd=tmp_path, env=completing)
    assert (completed.returncode, completed.stdout.split()) == (0, ["sandbox"])


SCENARIO = str(EXAMPLES / "scenario-small.yaml")
NO_EXTRA = "moto,werkzeug,flask,cryptography"  # as in a venv without the extra


@pytest.mark.parametrize(
    ("missing", "args"),
    [
        (NO_EXTRA, ("serve", SCENARIO)),
        (NO_EXTRA, ("serve", SCENARIO, "--background", "--pid-file", "sandbox.pid")),
        (NO_EXTRA, ("demo", SCENARIO)),
        ("moto", ("demo", SCENARIO)),
        ("flask", ("serve", SCENARIO)),  # moto without its [server] extra
        ("cryptography", ("serve", SCENARIO)),
    ],
    ids=["serve", "serve-background", "demo", "demo-moto", "serve-flask", "serve-cryptography"],
)
def test_a_sandbox_command_without_the_extra_names_it_exit_2(
    missing: str, args: tuple[str, ...], tmp_path: Path
) -> None:
    result = run_without(missing, "sandbox", *args, cwd=tmp_path)
    if (tmp_path / "sandbox.pid").exists():  # a server started after all: stop it before failing
        run_without("", "sandbox", "stop", "--pid-file", "sandbox.pid", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert (
        f"error: `aws-auth-migrate sandbox {args[0]}` needs the sandbox extra, which is not installed" in result.stderr
    )
    assert result.stderr.rstrip().endswith(INSTALL_HINT)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not (tmp_path / "sandbox.pid").exists()  # nothing was started


def test_a_missing_module_of_our_own_is_still_a_bug(tmp_path: Path) -> None:
    result = run_without(
        "migrator.sandbox.server", "sandbox", "serve", str(EXAMPLES / "scenario-small.yaml"), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "internal error: ModuleNotFoundError" in result.stderr
    assert "[sandbox]" not in result.stderr


def test_sandbox_commands_that_need_no_extra_run_without_it(tmp_path: Path) -> None:
    missing = NO_EXTRA
    assert run_without(missing, "sandbox", "--help", cwd=tmp_path).returncode == 0
    assert run_without(missing, "sandbox", "export", "--help", cwd=tmp_path).returncode == 0
    stopped = run_without(missing, "sandbox", "stop", "--pid-file", "absent.pid", cwd=tmp_path)
    assert (stopped.returncode, "cannot read the pid file" in stopped.stderr) == (2, True)
    assert "[sandbox]" not in stopped.stderr


def test_demo_without_a_scenario_outside_a_clone_says_where_the_example_is(tmp_path: Path) -> None:
    result = run_without("", "sandbox", "demo", cwd=tmp_path)
    assert result.returncode == 2
    assert "error: plans/examples/scenario-large.yaml: no such scenario file" in result.stderr
    assert "hint: " in result.stderr and "SCENARIO" in result.stderr
