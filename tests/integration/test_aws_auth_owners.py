"""aws-auth owned by a tool that re-applies it (AWS_AUTH_MANAGED), end to end: the marks each tool leaves are
written with the real kubectl and the real kubernetes client (their field managers from --field-manager or
from the User-Agent, as the API server derives them), a live plan names every owner, and apply refuses to
delete a managed aws-auth until --accept-managed-aws-auth, without holding back either mode switch."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from kubernetes import client as k8s

from migrator.app import ClusterAccess, PlanOptions, now_iso, plan_live
from migrator.aws.token import get_token
from migrator.kube.client import api_client_for_eks
from migrator.model import AuthMode
from migrator.plan.planfile import write_plan
from migrator.sandbox.scenario import load_scenario
from migrator.sandbox.server import Sandbox
from tests.cli.conftest import EXAMPLES, run_cli
from tests.integration.conftest import SandboxFactory, client
from tests.support.arns import ACCOUNT

pytestmark = pytest.mark.integration

CLUSTER, REGION = "team", "eu-west-1"
BOTH_GATES = ("--approve-gate", "API_AND_CONFIG_MAP", "--approve-gate", "API", "--poll-seconds", "0.2")
TRACKING = "argocd.argoproj.io/tracking-id=platform:/ConfigMap:kube-system/aws-auth"


class Kubectl:
    """The machine's kubectl (CI installs it) as the scenario's caller: server, EKS token and CA on the
    command line (one token for all calls: the kubeconfig's exec plugin would start Python for each)."""

    def __init__(self, sandbox: Sandbox, home: Path) -> None:
        found = shutil.which("kubectl")
        if found is None:
            if os.environ.get("AWS_AUTH_MIGRATE_REQUIRE_KUBECTL") == "1":
                pytest.fail("kubectl is not installed, and this run requires it (AWS_AUTH_MIGRATE_REQUIRE_KUBECTL=1)")
            pytest.skip("kubectl is not installed (CI installs Debian's kubernetes-client)")
        self.path = found
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE"))}
        self.env = {**inherited, "HOME": str(home)}
        ca_file = home / "sandbox-ca.crt"
        ca_file.write_bytes(base64.b64decode(sandbox.ca_data))
        token = get_token(boto3.Session(region_name=REGION), CLUSTER)  # the caller's, from the environment
        server = sandbox.kube_url(sandbox.scenario.cluster(CLUSTER))
        self.flags = ["--kubeconfig", os.devnull, "--server", server, "--token", token]
        self.flags += ["--certificate-authority", str(ca_file)]
        version = json.loads(self("version", "--client", "-o", "json"))["clientVersion"]
        # kubectl before 1.27 validates against the OpenAPI v2 document, which the sandbox does not serve.
        self.no_validation = (
            ["--validate=false"] if int("".join(c for c in version["minor"] if c.isdigit())) < 27 else []
        )

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [self.path, *args, *getattr(self, "flags", [])],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def on_aws_auth(self, verb: str, *args: str) -> None:
        self(verb, "configmap", "aws-auth", "-n", "kube-system", *args)

    def apply(self, body: dict[str, Any], *flags: str) -> None:
        self("apply", *self.no_validation, *flags, "-f", "-", stdin=json.dumps(body))


def core_api(sandbox: Sandbox, user_agent: str) -> k8s.CoreV1Api:
    """The kubernetes client as the scenario's caller, introducing itself as another tool does."""
    described = client(sandbox, region=REGION).describe_cluster(name=CLUSTER)["cluster"]
    session = boto3.Session(region_name=REGION)
    api = api_client_for_eks(
        described["endpoint"], described["certificateAuthority"]["data"], lambda: get_token(session, CLUSTER)
    )
    api.user_agent = user_agent
    return k8s.CoreV1Api(api)


def as_applied(live: dict[str, Any], **data: str) -> dict[str, Any]:
    """A manifest of aws-auth, as a tool's source holds it: the live data (changed by `data`), no server fields."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {**live["data"], **data},
    }


def started(make_sandbox: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)  # configuration of the real clients (the caller's), not a patch of them
    return sandbox


def test_a_live_plan_names_every_tool_that_writes_aws_auth(
    make_sandbox: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = started(make_sandbox, monkeypatch)
    kubectl = Kubectl(sandbox, tmp_path)
    # Argo CD and Helm leave annotations, Flux and Helm labels (as their controllers write them).
    kubectl.on_aws_auth(
        "annotate", TRACKING, "meta.helm.sh/release-name=auth", "meta.helm.sh/release-namespace=kube-system"
    )
    kubectl.on_aws_auth(
        "label",
        "kustomize.toolkit.fluxcd.io/name=infra",
        "kustomize.toolkit.fluxcd.io/namespace=flux-system",
        "app.kubernetes.io/managed-by=Helm",
    )
    eksctl = core_api(sandbox, "eksctl/v0.190.0 (linux/amd64) kubernetes/$Format")
    live = eksctl.api_client.sanitize_for_serialization(eksctl.read_namespaced_config_map("aws-auth", "kube-system"))
    # Terraform's kubernetes_config_map_v1_data: server-side apply with its default field manager.
    kubectl.apply(as_applied(live), "--server-side", "--field-manager=Terraform")
    # eksctl and Terraform's kubernetes_config_map name no manager: the API server takes their User-Agent's.
    eksctl.patch_namespaced_config_map(
        "aws-auth", "kube-system", {"data": {"mapUsers": live["data"]["mapUsers"] + "# eksctl\n"}}
    )
    terraform = core_api(sandbox, "HashiCorp/1.0 Terraform/1.9.8")
    terraform.patch_namespaced_config_map("aws-auth", "kube-system", {"metadata": {"labels": {"team": "platform"}}})
    # Someone's pipeline: kubectl apply -f aws-auth.yaml (client-side).
    kubectl.apply(as_applied(live, mapUsers=live["data"]["mapUsers"] + "# eksctl\n"))

    served = eksctl.read_namespaced_config_map("aws-auth", "kube-system")
    managers = {(m.manager, m.operation) for m in served.metadata.managed_fields}
    assert {
        ("Terraform", "Apply"),
        ("eksctl", "Update"),
        ("HashiCorp", "Update"),
        ("kubectl-client-side-apply", "Update"),
    } <= managers

    plan = plan_live(CLUSTER, ClusterAccess(REGION), PlanOptions(AuthMode.API, remove_aws_auth=True), rbac=False)
    owners = sorted(f.message.split("; it would")[0] for f in plan.findings if f.code == "AWS_AUTH_MANAGED")
    assert owners == [
        "aws-auth is written by Argo CD (application platform), by annotation argocd.argoproj.io/tracking-id; "
        "annotation kubectl.kubernetes.io/last-applied-configuration",
        "aws-auth is written by Flux (Kustomization flux-system/infra), by label kustomize.toolkit.fluxcd.io/name",
        "aws-auth is written by Helm (release kube-system/auth), by annotation meta.helm.sh/release-name; label "
        "app.kubernetes.io/managed-by: Helm",
        "aws-auth is written by Terraform, by field manager Terraform (Apply); field manager HashiCorp (Update)",
        "aws-auth is written by eksctl, by field manager eksctl (Update)",
        "aws-auth is written by kubectl apply, by field manager kubectl-client-side-apply (Update)",
    ]
    assert {f.severity.value for f in plan.findings if f.code == "AWS_AUTH_MANAGED"} == {"blocker"}


def cli(sandbox: Sandbox, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args, cwd=cwd, env=sandbox.env())
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_apply_keeps_a_managed_aws_auth_until_the_acceptance_and_passes_both_gates(
    make_sandbox: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = started(make_sandbox, monkeypatch)
    Kubectl(sandbox, tmp_path).on_aws_auth("annotate", TRACKING)
    options = PlanOptions(AuthMode.API, remove_aws_auth=True, created_at=now_iso())
    made = plan_live(CLUSTER, ClusterAccess(REGION), options, rbac=False)
    assert [f.severity.value for f in made.findings if f.code == "AWS_AUTH_MANAGED"] == ["blocker"]
    plan = write_plan(made, tmp_path / "owned.plan.yaml")

    refused = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES)
    assert refused.returncode == 6, refused.stderr
    assert "refusing to delete aws-auth: it is written by Argo CD (application platform)" in refused.stderr
    described = client(sandbox, region=REGION).describe_cluster(name=CLUSTER)["cluster"]
    assert described["accessConfig"]["authenticationMode"] == "API"  # neither gate was held back
    cluster = sandbox.world.cluster(ACCOUNT, REGION, CLUSTER)
    assert cluster is not None
    aws_auth = ("v1", "configmaps", "kube-system", "aws-auth")
    assert aws_auth in cluster.objects

    done = cli(sandbox, tmp_path, "apply", str(plan), "--yes", *BOTH_GATES, "--accept-managed-aws-auth")
    assert done.returncode == 0, done.stderr
    assert aws_auth not in cluster.objects
