"""The package as a user gets it: `python -m build` makes an sdist and, from it, a wheel that `twine check`
accepts; the wheel installed into a fresh venv WITHOUT extras runs `--help`, `--version` and an offline plan, and
a sandbox command says which extra it needs (exit 2).

Built once per module from a copy of the package's files (the work tree gets no build/ or egg-info). The
dependencies come from the package index, pinned to the versions this venv holds (tested versions, pip's cache);
the installer is this venv's pip (`pip --python`), so the new venv holds the wheel and its dependencies only.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path

import pytest

from migrator import __version__
from tests.cli.conftest import EXAMPLES, REPO, inherited_env

pytestmark = pytest.mark.integration

# What `python -m build` reads from a checkout: the package and the files pyproject.toml and MANIFEST.in name.
SOURCES = ("pyproject.toml", "MANIFEST.in", "README.md", "LICENSE", "CHANGELOG.md", "migrator")
INSTALL_HINT = "hint: pip install 'aws-auth-migrate[sandbox]'"


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class Installed:
    venv: Path
    workdir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The installed console script, from a folder outside the repository, with no PYTHONPATH."""
        env = {key: value for key, value in inherited_env().items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        result = subprocess.run(
            [str(self.venv / "bin" / "aws-auth-migrate"), *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result


def _checked(command: list[str], cwd: Path, timeout: float) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)
    # Without --sdist/--wheel, build makes the sdist and then the wheel from the unpacked sdist: a file the sdist
    # lacks fails the wheel.
    _checked([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)], cwd=work, timeout=600)
    (sdist,) = (work / "dist").glob("*.tar.gz")
    (wheel,) = (work / "dist").glob("*.whl")
    return Built(sdist, wheel)


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("venv")
    venv = work / "venv"
    _checked([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work, timeout=120)
    pins = work / "constraints.txt"
    pins.write_text(
        "".join(
            f"{dist.metadata['Name']}=={dist.version}\n"
            for dist in distributions()
            if dist.metadata["Name"] and dist.metadata["Name"] != "aws-auth-migrate"
        )
    )
    install = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-input"]
    install += ["--no-compile", "--disable-pip-version-check", "--constraint", str(pins), str(built.wheel)]
    _checked(install, cwd=work, timeout=900)
    workdir = work / "user"
    workdir.mkdir()
    return Installed(venv, workdir)


def test_the_sdist_and_the_wheel_pass_twine_check(built: Built) -> None:
    _checked(
        [sys.executable, "-m", "twine", "check", "--strict", str(built.sdist), str(built.wheel)],
        built.sdist.parent,
        120,
    )


def test_the_sdist_carries_the_readme_license_and_changelog(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml", "PKG-INFO", "migrator/cli/__init__.py"} <= names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_the_wheel_holds_every_module_its_metadata_and_license(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        info = f"aws_auth_migrate-{__version__}.dist-info"
        metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
    package = {path.relative_to(REPO).as_posix() for path in (REPO / "migrator").rglob("*") if path.is_file()}
    assert {name for name in package if "__pycache__" not in name} <= names  # data files included, if any
    assert f"{info}/licenses/LICENSE" in names
    assert not any(name.startswith(("tests/", "bench/", "plans/")) for name in names)
    assert (metadata["Name"], metadata["Version"], metadata["License-Expression"]) == (
        "aws-auth-migrate",
        __version__,
        "Apache-2.0",
    )
    assert metadata.get_all("Project-URL") and metadata.get_all("Classifier") and metadata["Keywords"]
    assert 'extra == "sandbox"' in " ".join(metadata.get_all("Requires-Dist") or [])


def test_installed_without_extras_it_helps_answers_its_version_and_plans_offline(installed: Installed) -> None:
    python = installed.venv / "bin" / "python"
    # `sandbox export` reads a real cluster: its modules need no extra.
    code = "import importlib.util, migrator.sandbox.export as m; print(m.__file__, importlib.util.find_spec('moto'))"
    where = subprocess.run(
        [str(python), "-c", code], cwd=installed.workdir, capture_output=True, text=True, timeout=60, check=True
    )
    assert where.stdout.startswith(str(installed.venv)) and where.stdout.split()[-1] == "None"  # no extra

    helped = installed.run("--help")
    assert helped.returncode == 0, helped.stderr
    assert "Usage: aws-auth-migrate" in helped.stdout and "--install-completion" in helped.stdout
    assert (installed.run("--version").stdout, installed.run("version").stdout) == (f"{__version__}\n",) * 2

    args = ("plan", "--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"), "--cluster", "x")
    planned = installed.run(*args, "--out", "x.plan.yaml", "--output", "json")
    assert planned.returncode == 0, planned.stderr
    assert '"schema": "aws-auth-migrate/plan/v3"' in planned.stdout
    assert (installed.workdir / "x.plan.yaml").is_file()
    shown = installed.run("show", "x.plan.yaml")
    assert shown.returncode == 0, shown.stderr


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_installed_without_the_sandbox_extra_a_sandbox_command_says_which_extra(
    installed: Installed, command: str
) -> None:
    result = installed.run("sandbox", command, str(EXAMPLES / "scenario-small.yaml"))
    assert result.returncode == 2, result.stderr
    assert f"`aws-auth-migrate sandbox {command}` needs the sandbox extra" in result.stderr
    assert result.stderr.rstrip().endswith(INSTALL_HINT)
    assert "internal error" not in result.stderr
