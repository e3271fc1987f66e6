"""`plan --remove-aws-auth` of an aws-auth that a tool re-applies, through the real CLI (offline: a file
exported with `kubectl get -o yaml` keeps the labels and annotations that name the owner)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]

HELM_OWNED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
  labels:
    app.kubernetes.io/managed-by: Helm
  annotations:
    meta.helm.sh/release-name: aws-auth
    meta.helm.sh/release-namespace: kube-system
data:
  mapRoles: |
    - rolearn: arn:aws:iam::111122223333:role/Admin
      username: admin:{{SessionName}}
      groups: [system:masters]
"""


def plan(cli: Cli, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exported = tmp_path / "aws-auth.yaml"
    exported.write_text(HELM_OWNED)
    return cli("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(exported), "--region", "us-east-1",
               "--target", "API", *extra)  # fmt: skip


def test_the_removal_step_is_shown_blocked_by_the_owner_and_no_gate_is(cli: Cli, tmp_path: Path) -> None:
    shown = plan(cli, tmp_path, "--remove-aws-auth")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("BLOCKED by") == 1
    assert "BLOCKED by AWS_AUTH_MANAGED: refused until --accept-managed-aws-auth" in shown.stdout
    assert "Helm (release kube-system/aws-auth)" in shown.stdout and "helm.sh/resource-policy: keep" in shown.stdout


def test_accept_managed_aws_auth_is_recorded_in_the_plan_and_needs_remove_aws_auth(cli: Cli, tmp_path: Path) -> None:
    accepted = plan(cli, tmp_path, "--remove-aws-auth", "--accept-managed-aws-auth", "-o", "json")
    assert accepted.returncode == 0, accepted.stderr
    written = json.loads(accepted.stdout)
    assert written["acceptManagedAwsAuth"] is True
    assert [f["severity"] for f in written["findings"] if f["code"] == "AWS_AUTH_MANAGED"] == ["warning"]
    alone = plan(cli, tmp_path, "--accept-managed-aws-auth")
    assert alone.returncode == 2
    assert "--accept-managed-aws-auth goes with --remove-aws-auth" in alone.stderr
