"""`aws-auth-migrate export` through the real entry point: files, modes, stdout, and bad input as exit 2."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from migrator.model import AccessEntrySpec, AuthMode, NodeGroup, PolicyAssociation
from migrator.plan.planfile import write_plan
from migrator.plan.planner import PlanOptions, build_plan
from tests.support.arns import role
from tests.support.exports import parse_terraform
from tests.unit.test_export_terraform import ADMIN_POLICY, make_plan, planned
from tests.unit.test_planner import SMALL, snapshot

Cli = Callable[..., CompletedProcess[str]]


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    """A plan as `plan` makes it against a cluster (not offline): a node group, an admin, a developer, a user."""
    made = build_plan(
        snapshot(SMALL, nodegroups=(NodeGroup("ng", role("nodes")),)),
        PlanOptions(target=AuthMode.API, created_at="2026-01-01T00:00:00Z"),
    )
    path = tmp_path / "prod.plan.yaml"
    write_plan(made, path)
    return path


def test_terraform_goes_into_two_private_files_in_the_directory(cli: Cli, plan_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "tf"
    out.mkdir()
    result = cli("export", str(plan_file), "--format", "terraform", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["access_entries.tf", "imports.tf"]
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in out.iterdir())
    resources, imports = parse_terraform((out / "access_entries.tf").read_text() + (out / "imports.tf").read_text())
    assert sorted(resources["aws_eks_access_entry"]) == ["role_admin", "role_dev", "user_alice"]
    assert len(imports) == 4 and result.stdout == ""
    assert "1 entries EKS manages" in result.stderr and "(4 import blocks)" in result.stderr


def test_without_out_terraform_is_printed_and_stays_the_same(cli: Cli, plan_file: Path) -> None:
    first = cli("export", str(plan_file), "--format", "terraform", "--cluster-name-expr", "var.cluster_name")
    assert first.returncode == 0, first.stderr
    resources, _ = parse_terraform(first.stdout)
    assert resources["aws_eks_access_entry"]["role_dev"]["cluster_name"] == "${var.cluster_name}"
    again = cli("export", str(plan_file), "--format", "terraform", "--cluster-name-expr", "var.cluster_name")
    assert again.stdout == first.stdout


def test_cloudformation_writes_the_template_and_the_import_list_next_to_it(
    cli: Cli, plan_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "access-entries.json"
    result = cli("export", str(plan_file), "--format", "cloudformation", "--out", str(out), "--include-eks-managed")
    assert result.returncode == 0, result.stderr
    template = json.loads(out.read_text())
    to_import = json.loads((tmp_path / "access-entries.resources-to-import.json").read_text())
    assert len(template["Resources"]) == len(to_import) == 4  # the node group's entry too
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert "--change-set-type IMPORT" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "pulumi"), "pulumi"),
        (("--format", "terraform", "--cluster-name-expr", "x\n}"), "not a Terraform reference"),
        (("--format", "cloudformation", "--cluster-name-expr", "var.x"), "is for --format terraform"),
        (("--format", "terraform", "--out", "missing-dir"), "no such directory"),
    ],
)
def test_bad_options_are_exit_2_without_a_traceback(
    cli: Cli, plan_file: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli("export", str(plan_file), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stdout == ""


def test_an_edited_plan_is_refused_with_its_file_name(cli: Cli, plan_file: Path) -> None:
    plan_file.write_text(plan_file.read_text().replace("dev:{{SessionName}}", "dev2:{{SessionName}}"))
    result = cli("export", str(plan_file), "--format", "terraform")
    assert result.returncode == 2 and f"{plan_file}: the plan was edited" in result.stderr
    assert result.stdout == ""


def test_a_file_that_is_not_a_plan_is_refused_with_file_and_line(cli: Cli, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.yaml"
    bogus.write_text("schema: x\nentries: [\n")
    result = cli("export", str(bogus), "--format", "cloudformation")
    assert result.returncode == 2 and f"{bogus}:" in result.stderr and "not a plan file" in result.stderr


def test_an_offline_plan_is_refused(cli: Cli, tmp_path: Path) -> None:
    aws_auth = Path(__file__).resolve().parents[2] / "plans" / "examples" / "aws-auth-small.yaml"
    out = tmp_path / "offline.plan.yaml"
    made = cli("plan", "--cluster", "team", "--offline", "--aws-auth-file", str(aws_auth), "--out", str(out))
    assert made.returncode == 0, made.stderr
    result = cli("export", str(out), "--format", "terraform")
    assert result.returncode == 2 and "offline plan" in result.stderr


def test_help_explains_the_adoption_workflow(cli: Cli) -> None:
    result = cli("export", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for phrase in ("terraform plan", "shows only imports", "terraform apply", "IMPORT", "--include-eks-managed"):
        assert phrase in text, phrase


def test_a_planted_symlink_or_a_device_is_refused_not_followed(cli: Cli, plan_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "tf"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (out / "imports.tf").symlink_to(victim)
    planted = cli("export", str(plan_file), "--format", "terraform", "--out", str(out))
    assert planted.returncode == 2 and "symbolic link" in planted.stderr and victim.read_text() == "keep"
    assert not (out / "access_entries.tf").exists()  # nothing half written
    device = cli("export", str(plan_file), "--format", "cloudformation", "--out", "/dev/full")
    assert device.returncode == 2 and "/dev/full" in device.stderr
    not_a_directory = cli("export", str(plan_file), "--format", "terraform", "--out", str(victim))
    assert not_a_directory.returncode == 2 and "is not a directory" in not_a_directory.stderr


def test_a_large_cloudformation_export_is_templates_cloudformation_takes_with_commands_that_work(
    cli: Cli, tmp_path: Path
) -> None:
    """Issue 20 #9: one template of every entry, and a --template-body command that fails from ~100 entries."""
    groups = tuple(f"group-{i:05d}-{'x' * 40}" for i in range(1200))  # one entry past what goes inline
    entries = [planned(AccessEntrySpec(role("Huge"), username="huge", groups=groups))]
    entries += [
        planned(AccessEntrySpec(role(f"team-{i}"), username=f"t{i}", policies=(PolicyAssociation(ADMIN_POLICY),)))
        for i in range(260)
    ]
    plan_file = tmp_path / "big.plan.yaml"
    write_plan(make_plan(*entries), plan_file)
    out = tmp_path / "cfn" / "access-entries.json"
    out.parent.mkdir()

    result = cli("export", str(plan_file), "--format", "cloudformation", "--out", str(out))

    assert result.returncode == 0, result.stderr
    assert not out.exists()  # parts only: FILE-part-<bits>.json
    templates = sorted(out.parent.glob("access-entries-part-*[01].json"))
    assert len(templates) > 2
    commands = [line.strip() for line in result.stderr.splitlines() if "create-change-set" in line]
    assert len(commands) == len(templates)
    arns: list[str] = []
    for template in templates:
        bits = template.name.removeprefix("access-entries-part-").removesuffix(".json")
        resources = json.loads(template.read_text())["Resources"]
        to_import = json.loads(template.with_name(f"access-entries-part-{bits}.resources-to-import.json").read_text())
        assert sorted(r["LogicalResourceId"] for r in to_import) == sorted(resources) and len(resources) <= 200
        arns += [r["Properties"]["PrincipalArn"] for r in resources.values()]
        [command] = [c for c in commands if f"--stack-name STACK-part-{bits} " in c]
        assert (
            f"--resources-to-import file://{template.with_name(template.stem + '.resources-to-import.json')}" in command
        )
        if len(template.read_bytes()) <= 51_200:
            assert f"--template-body file://{template} " in command
        else:
            assert role("Huge") in template.read_text() and len(resources) == 1
            assert "--template-body" not in command and "--template-url https://" in command
            assert f"{template} is " in result.stderr and "upload it to an S3 bucket" in result.stderr
    assert sorted(arns) == sorted(e.spec.principal_arn for e in entries)
