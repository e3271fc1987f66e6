"""Clients nobody here wrote, against the sandbox: the AWS CLI (PyPI `awscli`) and kubectl.

What a user does to rehearse: `sandbox serve`, then the AWS CLI and kubectl with the printed environment.
kubectl only sends credentials to an https server it trusts, so these tests are also the proof that the
sandbox's TLS, CA hand-out (DescribeCluster, kubeconfig) and EKS token checks are what real clients need.

kubectl comes from the machine (`.ci/run` installs Debian's `kubernetes-client` when there is none and sets
AWS_AUTH_MIGRATE_REQUIRE_KUBECTL=1, so CI never skips these). Debian's kubectl is 1.20: it has no
`auth whoami` (1.27+) and validates `apply` against the OpenAPI v2 document, which the sandbox does not
serve; for such a kubectl the tests ask the same questions the old way (`create --raw` of a
SelfSubjectReview created as an object, `apply --validate=false`).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from ruamel.yaml import YAML

from migrator.sandbox.scenario import parse_scenario
from migrator.sandbox.server import Sandbox
from tests.integration.conftest import SandboxFactory, hold_updates
from tests.support.arns import ACCOUNT

REGION = "eu-west-1"
CLUSTER = "rehearsal"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
DEVELOPER = f"arn:aws:iam::{ACCOUNT}:role/Developer"
AUDITOR = f"arn:aws:iam::{ACCOUNT}:role/Auditor"
MODERN = "modern"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
DEADLINE = 120  # seconds a single CLI call may take on a loaded machine before the test gives up
REQUIRE_KUBECTL_ENV = "AWS_AUTH_MIGRATE_REQUIRE_KUBECTL"

SCENARIO = f"""\
schema: aws-auth-migrate/scenario/v1
clusters:
  - name: {CLUSTER}
    region: {REGION}
    account: "{ACCOUNT}"
    version: "1.31"
    platformVersion: eks.3
    authenticationMode: CONFIG_MAP
    awsAuth: |
      apiVersion: v1
      kind: ConfigMap
      metadata: {{name: aws-auth, namespace: kube-system}}
      data:
        mapRoles: |
          - rolearn: {ADMIN}
            username: admin:{{{{SessionName}}}}
            groups: [system:masters]
          - rolearn: {DEVELOPER}
            username: dev:{{{{SessionName}}}}
            groups: [developers]
    rbac: |
      apiVersion: rbac.authorization.k8s.io/v1
      kind: RoleBinding
      metadata: {{name: developers-edit, namespace: dev}}
      roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}
      subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: developers}}]
  - name: {MODERN}
    region: {REGION}
    account: "{ACCOUNT}"
    version: "1.31"
    authenticationMode: API_AND_CONFIG_MAP
    accessEntries:
      - principalArn: {ADMIN}
        policies: [{{policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}}]
      - principalArn: {AUDITOR}
        username: auditor
        policies: [{{policyArn: "{VIEW_POLICY}"}}]
iam:
  roles:
    - arn: {ADMIN}
    - arn: {DEVELOPER}
    - arn: {AUDITOR}
caller: {ADMIN}
simulation:
  updateSeconds: 1
"""


# --- the tools ----------------------------------------------------------------------------------------------


def _kubectl_path() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if os.environ.get(REQUIRE_KUBECTL_ENV) == "1":
            pytest.fail("kubectl is not installed, and this run requires it (AWS_AUTH_MIGRATE_REQUIRE_KUBECTL=1)")
        pytest.skip("kubectl is not installed (CI installs Debian's kubernetes-client)")
    return found


def _aws_path() -> str:
    aws = Path(sys.executable).with_name("aws")
    assert aws.exists(), "the AWS CLI (PyPI awscli, a dev dependency) is missing from the virtualenv: make setup"
    return str(aws)


class Tools:
    """kubectl and the AWS CLI with the environment `sandbox serve` prints, and nothing of the user's."""

    def __init__(self, sandbox: Sandbox, home: Path) -> None:
        self.sandbox = sandbox
        self.kubectl_path = _kubectl_path()
        self.aws_path = _aws_path()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE"))}
        # A home of the test's own: kubectl caches discovery under ~/.kube/cache by host and port, and a port
        # can come back in another test with another server behind it.
        self.env = {**inherited, "HOME": str(home), **sandbox.env()}

    def run(self, command: list[str], *, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
        return subprocess.run(
            command,
            input=stdin,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )

    def kubectl(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
        return self.run([self.kubectl_path, *args], stdin=stdin, env=env)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.kubectl(*args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return str(done.stdout)

    def aws(self, *args: str) -> Any:
        return self.run([self.aws_path, *args, "--region", REGION, "--output", "json"])

    def aws_json(self, *args: str) -> Any:
        done = self.aws(*args)
        assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout)

    def minor_version(self) -> int:
        version = json.loads(self.ok("version", "--client", "-o", "json"))["clientVersion"]
        return int("".join(ch for ch in version["minor"] if ch.isdigit()))

    def whoami(self, *flags: str) -> dict[str, Any]:
        """The caller's userInfo, as `kubectl auth whoami` shows it (or the same request by hand)."""
        if self.minor_version() >= 27:
            return dict(json.loads(self.ok("auth", "whoami", "-o", "json", *flags))["status"]["userInfo"])
        # Old kubectl's `create --raw` drops the server URL's path, so create the review as an object instead.
        review = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        created = self.ok("create", "--validate=false", "-f", "-", "-o", "json", *flags, stdin=review)
        return dict(json.loads(created)["status"]["userInfo"])


@pytest.fixture
def world(make_sandbox: SandboxFactory, tmp_path: Path) -> Iterator[Tools]:
    sandbox = make_sandbox(parse_scenario(SCENARIO, "real-clients.yaml"))
    yield Tools(sandbox, tmp_path)


def _token(tools: Tools, credentials: dict[str, str] | None = None, cluster: str = CLUSTER) -> str:
    env = {**tools.env, **(credentials or {})}
    if credentials is not None and "AWS_SESSION_TOKEN" not in credentials:
        env.pop("AWS_SESSION_TOKEN", None)
    done = tools.run([tools.aws_path, "eks", "get-token", "--cluster-name", cluster, "--region", REGION], env=env)
    assert done.returncode == 0, done.stderr
    token = json.loads(done.stdout)["status"]["token"]
    assert token.startswith("k8s-aws-v1.")
    return str(token)


def _flags(tools: Tools, token: str, ca_file: Path, cluster: str = CLUSTER) -> list[str]:
    """kubectl with no kubeconfig at all: server, token and CA on the command line."""
    server = tools.sandbox.kube_url(tools.sandbox.scenario.cluster(cluster))
    return ["--kubeconfig", os.devnull, "--server", server, "--token", token, "--certificate-authority", str(ca_file)]


# --- the AWS CLI --------------------------------------------------------------------------------------------


def test_the_aws_cli_describes_the_cluster_with_its_mode_endpoint_and_ca(world: Tools) -> None:
    cluster = world.aws_json("eks", "describe-cluster", "--name", CLUSTER)["cluster"]
    assert cluster["accessConfig"]["authenticationMode"] == "CONFIG_MAP"
    assert cluster["endpoint"].startswith("https://127.0.0.1:")
    pem = base64.b64decode(cluster["certificateAuthority"]["data"])
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    kubeconfig = YAML(typ="safe").load(Path(world.env["KUBECONFIG"]).read_text())
    assert kubeconfig["clusters"][0]["cluster"] == {
        "server": cluster["endpoint"],
        "certificate-authority-data": cluster["certificateAuthority"]["data"],
    }


def test_the_aws_cli_is_refused_access_entries_in_config_map_mode_as_eks_refuses_them(world: Tools) -> None:
    done = world.aws("eks", "list-access-entries", "--cluster-name", CLUSTER)
    assert done.returncode != 0
    assert "InvalidRequestException" in done.stderr
    assert "authentication mode must be set to one of [API, API_AND_CONFIG_MAP]" in done.stderr


def test_a_second_mode_update_while_one_runs_is_refused_with_resource_in_use(world: Tools) -> None:
    hold_updates(world.sandbox)
    access = "authenticationMode=API_AND_CONFIG_MAP"
    first = world.aws_json("eks", "update-cluster-config", "--name", CLUSTER, "--access-config", access)
    assert first["update"]["status"] == "InProgress"
    second = world.aws("eks", "update-cluster-config", "--name", CLUSTER, "--access-config", access)
    assert second.returncode != 0
    assert "ResourceInUseException" in second.stderr


# --- kubectl ------------------------------------------------------------------------------------------------


def test_kubectl_with_the_printed_kubeconfig_reads_aws_auth_and_rbac_and_names_the_caller(world: Tools) -> None:
    aws_auth = json.loads(world.ok("get", "cm", "aws-auth", "-n", "kube-system", "-o", "json"))
    assert ADMIN in aws_auth["data"]["mapRoles"]
    binding = json.loads(world.ok("get", "rolebinding", "developers-edit", "-n", "dev", "-o", "json"))
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "developers"}]
    user = world.whoami()
    assert user["username"] == "admin:aws-auth-migrate"
    assert set(user["groups"]) == {"system:masters", "system:authenticated"}
    assert user["extra"]["canonicalArn"] == [ADMIN]


def test_kubectl_with_server_token_and_ca_flags_and_a_token_from_aws_eks_get_token(
    world: Tools, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(base64.b64decode(world.sandbox.ca_data))
    flags = _flags(world, _token(world), ca_file)
    aws_auth = json.loads(world.ok("get", "configmap", "aws-auth", "-n", "kube-system", "-o", "json", *flags))
    assert DEVELOPER in aws_auth["data"]["mapRoles"]
    assert "developers-edit" in world.ok("get", "rolebindings", "-n", "dev", "-o", "name", *flags)
    assert world.whoami(*flags)["username"] == "admin:aws-auth-migrate"
    # Another principal's token from the same CLI: the cluster tells them apart.
    developer = world.sandbox.credentials_for(DEVELOPER, "dana")
    developer_flags = _flags(world, _token(world, developer), ca_file)
    assert world.whoami(*developer_flags)["username"] == "dev:dana"


def test_kubectl_refuses_a_server_whose_certificate_it_cannot_verify(world: Tools, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.crt"
    from migrator.sandbox.tls import make_server_tls

    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    other_ca.write_bytes(make_server_tls(keys, "127.0.0.1").ca_pem)
    done = world.kubectl("get", "cm", "-n", "kube-system", *_flags(world, _token(world), other_ca))
    assert done.returncode != 0
    assert "certificate" in done.stderr and "aws-auth" not in done.stdout


def _presigned_token(credentials: dict[str, str], endpoint: str, signed_at: datetime.datetime) -> str:
    """An EKS token made by hand (SigV4 query signing of STS GetCallerIdentity) at a chosen time."""
    host = endpoint.split("://", 1)[1].rstrip("/")
    amz_date, day = signed_at.strftime("%Y%m%dT%H%M%SZ"), signed_at.strftime("%Y%m%d")
    scope = f"{day}/{REGION}/sts/aws4_request"
    params = {
        "Action": "GetCallerIdentity",
        "Version": "2011-06-15",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{credentials['AWS_ACCESS_KEY_ID']}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": "60",
        "X-Amz-SignedHeaders": "host;x-k8s-aws-id",
    }
    if "AWS_SESSION_TOKEN" in credentials:
        params["X-Amz-Security-Token"] = credentials["AWS_SESSION_TOKEN"]
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
    canonical = (
        f"GET\n/\n{query}\nhost:{host}\nx-k8s-aws-id:{CLUSTER}\n\nhost;x-k8s-aws-id\n{hashlib.sha256(b'').hexdigest()}"
    )
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + credentials["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, REGION, "sts", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    url = f"{endpoint.rstrip('/')}/?{query}&X-Amz-Signature={signature}"
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def test_a_forged_or_expired_token_is_refused(world: Tools, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(base64.b64decode(world.sandbox.ca_data))
    credentials = world.sandbox.caller_credentials()
    now = datetime.datetime.now(datetime.UTC)
    fresh = _presigned_token(credentials, world.sandbox.endpoint_url, now)
    # The hand-made token is right: signed now, it authenticates.
    assert world.whoami(*_flags(world, fresh, ca_file))["username"] == "admin:aws-auth-migrate"
    expired = _presigned_token(credentials, world.sandbox.endpoint_url, now - datetime.timedelta(minutes=16))
    forged_secret = dict(credentials, AWS_SECRET_ACCESS_KEY="not-the-secret")
    forged = _presigned_token(forged_secret, world.sandbox.endpoint_url, now)
    for token in (expired, forged, "k8s-aws-v1.bm90LWEtdXJs", "not-an-eks-token"):
        done = world.kubectl("get", "cm", "-n", "kube-system", *_flags(world, token, ca_file))
        assert done.returncode != 0, token
        assert "You must be logged in to the server" in done.stderr, done.stderr  # HTTP 401


def test_kubectl_apply_of_an_aws_auth_edit_changes_it_and_strict_validation_refuses_a_typo(world: Tools) -> None:
    current = json.loads(world.ok("get", "cm", "aws-auth", "-n", "kube-system", "-o", "json"))
    metadata = current["metadata"]
    edited = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": metadata["name"], "namespace": metadata["namespace"], "labels": {"edited": "yes"}},
        "data": current["data"] | {"mapUsers": "[]\n"},
    }
    old_kubectl = ["--validate=false"] if world.minor_version() < 27 else []
    world.ok("apply", *old_kubectl, "-f", "-", stdin=json.dumps(edited))
    after = json.loads(world.ok("get", "cm", "aws-auth", "-n", "kube-system", "-o", "json"))
    assert after["metadata"]["labels"] == {"edited": "yes"}
    assert after["data"]["mapUsers"] == "[]\n"
    assert after["data"]["mapRoles"] == current["data"]["mapRoles"]
    # A second apply is a three-way merge against the last applied configuration: the label goes away.
    edited["metadata"].pop("labels")
    world.ok("apply", *old_kubectl, "-f", "-", stdin=json.dumps(edited))
    assert "labels" not in json.loads(world.ok("get", "cm", "aws-auth", "-n", "kube-system", "-o", "json"))["metadata"]
    if not old_kubectl:
        typo = dict(edited, date=edited["data"])  # `date:` for `data:`
        done = world.kubectl("apply", "-f", "-", stdin=json.dumps(typo))
        assert done.returncode != 0
        assert 'strict decoding error: unknown field "date"' in done.stderr


def test_kubectl_watch_sees_an_aws_auth_edit(world: Tools) -> None:
    process = subprocess.Popen(
        [world.kubectl_path, "get", "cm", "aws-auth", "-n", "kube-system", "-w", "-o", "json", "--output-watch-events"],
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True)
    reader.start()
    try:
        events = _events(lines)
        first = next(events)
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "aws-auth")
        world.ok("label", "cm", "aws-auth", "-n", "kube-system", "watched=yes")
        second = next(events)
        assert second["type"] == "MODIFIED"
        assert second["object"]["metadata"]["labels"] == {"watched": "yes"}
    finally:
        process.kill()
        process.wait(timeout=DEADLINE)
        reader.join(timeout=DEADLINE)


def _events(lines: queue.Queue[str]) -> Iterator[dict[str, Any]]:
    """Whole JSON documents from kubectl's `-o json` stream (pretty-printed, one after another)."""
    decoder = json.JSONDecoder()
    buffer = ""
    while True:
        try:
            buffer += lines.get(timeout=DEADLINE)
        except queue.Empty:
            pytest.fail(f"kubectl printed no complete event within {DEADLINE} s; it printed: {buffer!r}")
        text = buffer.lstrip()
        try:
            event, end = decoder.raw_decode(text)
        except ValueError:
            continue
        buffer = text[end:]
        yield event


def _can_i(tools: Tools, flags: list[str], *question: str) -> bool:
    """`kubectl auth can-i`: exit 0 and "yes", or exit 1 and "no" (anything else is an error)."""
    done = tools.kubectl("auth", "can-i", *question, *flags)
    assert (done.returncode, done.stdout.strip()) in ((0, "yes"), (1, "no")), (question, done.stdout, done.stderr)
    return done.returncode == 0


def test_kubectl_auth_can_i_answers_per_rbac_and_access_policies(world: Tools, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(base64.b64decode(world.sandbox.ca_data))
    # RBAC: the developers group is bound to the upstream `edit` ClusterRole in namespace dev only.
    developer = world.sandbox.credentials_for(DEVELOPER, "dana")
    dev = _flags(world, _token(world, developer), ca_file)
    assert _can_i(world, dev, "create", "configmaps", "-n", "dev")
    assert _can_i(world, dev, "get", "secrets", "-n", "dev")
    assert not _can_i(world, dev, "create", "configmaps", "-n", "prod")
    assert not _can_i(world, dev, "create", "rolebindings", "-n", "dev")  # edit does not grant RBAC writes
    assert not _can_i(world, dev, "list", "clusterroles")
    listed = world.ok("auth", "can-i", "--list", "-n", "dev", *dev)
    assert "configmaps" in listed and "selfsubjectreviews.authentication.k8s.io" in listed
    # Access policies: the auditor has no RBAC binding, only AmazonEKSViewPolicy at cluster scope.
    auditor = world.sandbox.credentials_for(AUDITOR, "audit")
    audit = _flags(world, _token(world, auditor, MODERN), ca_file, MODERN)
    assert _can_i(world, audit, "list", "pods", "--all-namespaces")
    assert _can_i(world, audit, "get", "configmaps", "-n", "kube-system")
    assert not _can_i(world, audit, "get", "secrets", "-n", "kube-system")  # View excludes Secrets
    assert not _can_i(world, audit, "create", "configmaps", "-n", "default")
    # As on EKS, `--list` shows RBAC rules only: the policy's rules are not in it.
    listed = world.ok("auth", "can-i", "--list", "-n", "default", *audit)
    assert "pods" not in listed and "selfsubjectaccessreviews.authorization.k8s.io" in listed
    # The cluster-admin through RBAC (system:masters) may do anything, including on the cluster scope.
    admin = _flags(world, _token(world), ca_file)
    assert _can_i(world, admin, "delete", "clusterrolebindings")
    assert "cluster-admin" in world.ok("get", "clusterrolebindings", "-o", "name", *admin)
