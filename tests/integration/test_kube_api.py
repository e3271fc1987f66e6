"""The sandbox's Kubernetes API driven by the real `kubernetes` client with real EKS tokens against moto.

moto runs as a server (ThreadedMotoServer); roles, users and sessions are made through boto3 over HTTP;
tokens come from `migrator.aws.token.get_token`; the identities asserted here are written out by hand.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from migrator.aws.token import get_token
from migrator.model import AccessEntrySpec, AuthMode, EntryType
from migrator.rules.arn import parse_arn
from migrator.sandbox.kube.api import make_kube_app, seed_cluster
from migrator.sandbox.kube.auth import TokenRejected, decode_token, expected_signature, resolve_caller
from migrator.sandbox.state import SimCluster, SimEntry, World

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # moto's default account: where keys it does not know land
PARTNER = "444455556666"
REGION = "us-east-1"
CLUSTER = "demo"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_DNS = "ip-10-0-75-25.ec2.internal"  # sha256("i-0abc1234def567890")[:2] == (75, 25); us-east-1's domain

AWS_AUTH_YAML = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  creationTimestamp: "2023-01-01T00:00:00Z"
  managedFields:
  - apiVersion: v1
    manager: eksctl
    operation: Update
  name: aws-auth
  namespace: kube-system
  resourceVersion: "4242"
  uid: 0d0e8c77-0000-0000-0000-000000000000
data:
  mapRoles: |
    - rolearn: arn:aws:iam::{ACCOUNT}:role/Dev
      username: dev:{{{{SessionName}}}}
      groups:
        - developers
    - rolearn: arn:aws:iam::{ACCOUNT}:role/NodeRole
      username: system:node:{{{{EC2PrivateDNSName}}}}
      groups:
        - system:bootstrappers
        - system:nodes
    - rolearn: arn:aws:iam::{ACCOUNT}:role/Admin
      username: admin:{{{{SessionName}}}}
      groups:
        - system:masters
  mapUsers: |
    - userarn: arn:aws:iam::{ACCOUNT}:user/people/bob
      username: bob
      groups:
        - viewers
  mapAccounts: |
    - "{PARTNER}"
"""

RBAC_YAML = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: developers-view
  resourceVersion: "77"
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: developers
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: team-edit
  namespace: team
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: edit
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: team
"""


@dataclass
class KubeSandbox:
    world: World
    cluster: SimCluster
    moto_url: str
    kube_url: str
    roles: dict[str, str]  # role name -> RoleId (AROA...)
    bob: boto3.Session
    bob_user_id: str
    root: boto3.Session

    @property
    def host(self) -> str:
        return f"{self.kube_url}/k8s/{ACCOUNT}/{REGION}/{CLUSTER}"

    def session(self, role_arn: str, session_name: str, base: boto3.Session | None = None) -> boto3.Session:
        sts = (base or self.root).client("sts", region_name=REGION)
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=REGION,
        )

    def token(self, role: str, session_name: str) -> str:
        return get_token(self.session(f"arn:aws:iam::{ACCOUNT}:role/{role}", session_name), CLUSTER)

    def api(self, token: str) -> k8s.ApiClient:
        configuration = k8s.Configuration(host=self.host, api_key={"authorization": f"Bearer {token}"})
        return k8s.ApiClient(configuration)


def _serve(app: Callable[..., Any]) -> tuple[str, Callable[[], None]]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join()
        server.server_close()

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeSandbox]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    world = World()
    kube_url, stop_kube = _serve(make_kube_app(world))
    try:
        with pytest.MonkeyPatch.context() as env:
            # Token-making must find the sandbox's STS the way a user's environment points boto3 at it.
            env.setenv("AWS_ENDPOINT_URL", moto_url)
            for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_IAM"):
                env.delenv(name, raising=False)
            requests.post(f"{moto_url}/moto-api/reset", timeout=60)
            yield _build(world, moto_url, kube_url)
    finally:
        stop_kube()
        moto.stop()


def _build(world: World, moto_url: str, kube_url: str) -> KubeSandbox:
    root = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    iam = root.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    roles = {}
    for name in ("Dev", "NodeRole", "Admin", "Creator", "Stranger", "EntryRole"):
        roles[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["RoleId"]
    user = iam.create_user(UserName="bob", Path="/people/")["User"]
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    bob = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    cluster = SimCluster(
        name=CLUSTER,
        region=REGION,
        account=ACCOUNT,
        partition="aws",
        mode=AuthMode.CONFIG_MAP,
        kubernetes_version="1.29",
        platform_version="eks.8",
        bootstrap_admin=True,
        creator_arn=f"arn:aws:iam::{ACCOUNT}:role/Creator",
    )
    world.add_cluster(cluster)
    seed_cluster(world, cluster, AWS_AUTH_YAML, RBAC_YAML)
    return KubeSandbox(world, cluster, moto_url, kube_url, roles, bob, user["UserId"], root)


@pytest.fixture
def restore_mode(kube: KubeSandbox) -> Iterator[None]:
    yield
    with kube.world.lock:
        kube.cluster.mode = AuthMode.CONFIG_MAP
        kube.cluster.entries.clear()


def review(kube: KubeSandbox, token: str) -> dict[str, Any]:
    result = k8s.AuthenticationV1Api(kube.api(token)).create_self_subject_review(k8s.V1SelfSubjectReview())
    info = result.status.user_info
    return {"username": info.username, "uid": info.uid, "groups": info.groups, "extra": info.extra}


def add_entry(kube: KubeSandbox, spec: AccessEntrySpec, *policies: str, principal_id: str = "") -> None:
    entry = SimEntry(
        spec=spec,
        entry_arn=f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/{CLUSTER}/x",
        created_at=0.0,
        modified_at=0.0,
        associations={p: {"accessScope": {"type": "cluster"}} for p in policies},
        principal_id=principal_id,
    )
    with kube.world.lock:
        kube.cluster.entries[parse_arn(spec.principal_arn).principal_key] = entry


def status_of(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


# --- identities ------------------------------------------------------------------------------------------


def test_role_mapped_in_config_map_mode(kube: KubeSandbox) -> None:
    token = kube.token("Dev", "alice@example.com")
    dev_id = kube.roles["Dev"]
    assert review(kube, token) == {
        "username": "dev:alice-example.com",
        "uid": f"aws-iam-authenticator:{ACCOUNT}:{dev_id}",
        "groups": ["developers", "system:authenticated"],
        "extra": {
            "accessKeyId": [access_key_of(token)],
            "arn": [f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/alice@example.com"],
            "canonicalArn": [f"arn:aws:iam::{ACCOUNT}:role/Dev"],
            "principalId": [dev_id],
            "sessionName": ["alice@example.com"],
        },
    }


def access_key_of(token: str) -> str:
    """The access key id inside a token, read independently of the server's code."""
    encoded = token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[0]


def test_user_in_map_users(kube: KubeSandbox) -> None:
    token = get_token(kube.bob, CLUSTER)
    assert review(kube, token) == {
        "username": "bob",
        "uid": f"aws-iam-authenticator:{ACCOUNT}:{kube.bob_user_id}",
        "groups": ["system:authenticated", "viewers"],
        "extra": {
            "accessKeyId": [access_key_of(token)],
            "arn": [f"arn:aws:iam::{ACCOUNT}:user/people/bob"],
            "canonicalArn": [f"arn:aws:iam::{ACCOUNT}:user/people/bob"],
            "principalId": [kube.bob_user_id],
            "sessionName": [""],
        },
    }


def test_map_accounts_principal(kube: KubeSandbox) -> None:
    # A role in the partner account: assume a bootstrap role there (moto allows it), create Partner, assume it.
    bootstrap = kube.session(f"arn:aws:iam::{PARTNER}:role/Bootstrap", "setup")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    partner_id = bootstrap.client("iam").create_role(RoleName="Partner", AssumeRolePolicyDocument=trust)["Role"][
        "RoleId"
    ]
    session = kube.session(f"arn:aws:iam::{PARTNER}:role/Partner", "someone", base=bootstrap)
    identity = review(kube, get_token(session, CLUSTER))
    assert (identity["username"], identity["groups"], identity["uid"]) == (
        f"arn:aws:iam::{PARTNER}:role/Partner",
        ["system:authenticated"],
        f"aws-iam-authenticator:{PARTNER}:{partner_id}",
    )


def test_unmapped_principal_is_unauthorized(kube: KubeSandbox) -> None:
    with pytest.raises(ApiException) as caught:
        review(kube, kube.token("Stranger", "someone"))
    assert caught.value.status == 401
    assert status_of(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_entry_wins_over_aws_auth_in_api_and_config_map(kube: KubeSandbox, restore_mode: None) -> None:
    add_entry(
        kube,
        AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/Dev", username="entry:{{SessionName}}", groups=("entry-group",)),
    )
    kube.cluster.mode = AuthMode.API_AND_CONFIG_MAP
    identity = review(kube, kube.token("Dev", "alice"))
    assert (identity["username"], identity["groups"]) == ("entry:alice", ["entry-group", "system:authenticated"])


def test_entry_of_a_recreated_role_matches_no_one(kube: KubeSandbox, restore_mode: None) -> None:
    spec = AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/EntryRole", username="entry-role")
    add_entry(kube, spec, principal_id="AROAOLDROLEOLDROLE000")
    kube.cluster.mode = AuthMode.API
    token = kube.token("EntryRole", "someone")
    with pytest.raises(ApiException) as caught:
        review(kube, token)
    assert caught.value.status == 401
    add_entry(kube, spec, principal_id=kube.roles["EntryRole"])
    assert review(kube, token)["username"] == "entry-role"


def test_api_mode_without_entry_is_unauthorized_even_if_mapped(kube: KubeSandbox, restore_mode: None) -> None:
    token = kube.token("Dev", "alice")
    assert review(kube, token)["username"] == "dev:alice"
    kube.cluster.mode = AuthMode.API
    with pytest.raises(ApiException) as caught:
        review(kube, token)
    assert caught.value.status == 401


def test_mode_change_is_seen_on_the_next_request(kube: KubeSandbox, restore_mode: None) -> None:
    token = kube.token("Creator", "ci")
    api = kube.api(token)
    assert review(kube, token)["username"] == "kubernetes-admin"
    with kube.world.lock:
        kube.cluster.mode = AuthMode.API_AND_CONFIG_MAP
    with pytest.raises(ApiException) as caught:  # the creator is implicit only in CONFIG_MAP
        k8s.CoreV1Api(api).read_namespaced_config_map("aws-auth", "kube-system")
    assert caught.value.status == 401
    add_entry(kube, AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/Creator"), ADMIN_POLICY)
    identity = review(kube, token)
    assert (identity["username"], identity["groups"]) == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Creator/ci",
        ["system:authenticated"],
    )
    # cluster-admin through the policy: writes are allowed
    k8s.CoreV1Api(api).patch_namespaced_config_map("aws-auth", "kube-system", {"metadata": {"labels": {"x": "y"}}})


def test_node_role_with_ec2_private_dns_name(kube: KubeSandbox, restore_mode: None) -> None:
    identity = review(kube, kube.token("NodeRole", "i-0abc1234def567890"))
    assert (identity["username"], identity["groups"]) == (
        f"system:node:{NODE_DNS}",
        ["system:authenticated", "system:bootstrappers", "system:nodes"],
    )
    with pytest.raises(ApiException) as caught:  # not an instance id: the template cannot render
        review(kube, kube.token("NodeRole", "laptop"))
    assert caught.value.status == 401
    add_entry(kube, AccessEntrySpec(f"arn:aws:iam::{ACCOUNT}:role/NodeRole", EntryType.EC2_LINUX))
    kube.cluster.mode = AuthMode.API
    identity = review(kube, kube.token("NodeRole", "i-0abc1234def567890"))
    assert (identity["username"], identity["groups"]) == (
        f"system:node:{NODE_DNS}",
        ["system:authenticated", "system:nodes"],
    )


def test_creator_in_config_map_mode(kube: KubeSandbox) -> None:
    identity = review(kube, kube.token("Creator", "ci"))
    assert (identity["username"], identity["groups"], identity["uid"]) == (
        "kubernetes-admin",
        ["system:authenticated", "system:masters"],
        f"aws-iam-authenticator:{ACCOUNT}:{kube.roles['Creator']}",
    )


def test_aws_auth_edit_is_seen_on_the_next_request(kube: KubeSandbox) -> None:
    admin = k8s.CoreV1Api(kube.api(kube.token("Admin", "ops")))
    dev_token = kube.token("Dev", "alice")
    original = admin.read_namespaced_config_map("aws-auth", "kube-system")
    try:
        broken = original.data["mapRoles"].replace("developers", "developers\n  - [broken")
        admin.patch_namespaced_config_map("aws-auth", "kube-system", {"data": {"mapRoles": broken}})
        with pytest.raises(ApiException) as caught:  # a YAML error in mapRoles drops every role...
            review(kube, dev_token)
        assert caught.value.status == 401
        assert review(kube, get_token(kube.bob, CLUSTER))["username"] == "bob"  # ...but users still load
    finally:
        with kube.world.lock:  # the admin role is a mapRoles entry too: restore behind the API's back
            stored = kube.cluster.objects[("v1", "configmaps", "kube-system", "aws-auth")]
            stored.body["data"] = original.data
    assert review(kube, dev_token)["username"] == "dev:alice"


# --- tokens ----------------------------------------------------------------------------------------------


def test_token_is_bound_to_its_cluster_and_expires(kube: KubeSandbox) -> None:
    session = kube.session(f"arn:aws:iam::{ACCOUNT}:role/Dev", "alice")
    other = SimCluster("other", REGION, ACCOUNT, "aws", AuthMode.CONFIG_MAP, "1.29", "eks.8", True, None)
    token = get_token(session, CLUSTER)
    with kube.world.lock:
        assert str(resolve_caller(token, kube.cluster).arn) == f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/alice"
        with pytest.raises(TokenRejected, match="SignatureDoesNotMatch"):
            resolve_caller(token, other)
        with pytest.raises(TokenRejected, match="expired"):
            resolve_caller(token, kube.cluster, now=datetime.now(UTC) + timedelta(minutes=16))
        with pytest.raises(TokenRejected, match="prefix"):
            resolve_caller(token.removeprefix("k8s-aws-v1."), kube.cluster)
    with pytest.raises(ApiException) as caught:
        review(kube, token[:-4] + "AAAA")
    assert caught.value.status == 401


def test_exec_plugin_prints_an_exec_credential(kube: KubeSandbox) -> None:
    creds = kube.root.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Dev", RoleSessionName="kubectl")[
        "Credentials"
    ]
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
        AWS_SESSION_TOKEN=creds["SessionToken"],
        AWS_ENDPOINT_URL=kube.moto_url,
    )
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "migrator.aws.token", "--cluster-name", CLUSTER, "--region", REGION],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    credential = json.loads(done.stdout)
    assert (credential["kind"], credential["apiVersion"]) == ("ExecCredential", "client.authentication.k8s.io/v1beta1")
    expires = datetime.strptime(credential["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(minutes=13) < expires - datetime.now(UTC) <= timedelta(minutes=14)
    assert review(kube, credential["status"]["token"])["username"] == "dev:kubectl"

    # The same command as a kubeconfig exec plugin, in the v1 API the client announces.
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": {"server": kube.host}}],
        "users": [
            {
                "name": "dev",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": sys.executable,
                        "args": ["-m", "migrator.aws.token", "--cluster-name", CLUSTER, "--region", REGION],
                        "env": [{"name": k, "value": env[k]} for k in sorted(env) if k.startswith("AWS_")],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": "dev", "context": {"cluster": CLUSTER, "user": "dev"}}],
        "current-context": "dev",
    }
    api = k8s_config.new_client_from_config_dict(kubeconfig)
    result = k8s.AuthenticationV1Api(api).create_self_subject_review(k8s.V1SelfSubjectReview())
    assert result.status.user_info.username == "dev:kubectl"


# --- ConfigMaps ------------------------------------------------------------------------------------------


def test_seeded_aws_auth_has_fresh_metadata(kube: KubeSandbox) -> None:
    core = k8s.CoreV1Api(kube.api(kube.token("Dev", "alice")))
    stored = core.read_namespaced_config_map("aws-auth", "kube-system")
    assert stored.metadata.resource_version != "4242"
    assert stored.metadata.uid != "0d0e8c77-0000-0000-0000-000000000000"
    # the seeded managedFields (eksctl's) are gone; earlier tests' writes through the API have their own
    assert "eksctl" not in {m.manager for m in stored.metadata.managed_fields or []}
    assert stored.data["mapAccounts"] == f'- "{PARTNER}"\n'


def test_configmap_crud(kube: KubeSandbox) -> None:
    core = k8s.CoreV1Api(kube.api(kube.token("Admin", "ops")))
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="backup", labels={"app": "migrator"}), data={"a": "1"})
    created = core.create_namespaced_config_map("kube-system", body)
    assert created.metadata.uid and created.metadata.creation_timestamp and created.metadata.resource_version
    assert created.metadata.namespace == "kube-system"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("kube-system", body)
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"

    names = [c.metadata.name for c in core.list_namespaced_config_map("kube-system").items]
    assert names == ["aws-auth", "backup"]
    everywhere = core.list_config_map_for_all_namespaces(label_selector="app=migrator")
    assert [(c.metadata.namespace, c.metadata.name) for c in everywhere.items] == [("kube-system", "backup")]

    first_rv = created.metadata.resource_version
    created.data = {"a": "2"}
    replaced = core.replace_namespaced_config_map("backup", "kube-system", created)
    assert replaced.data == {"a": "2"} and replaced.metadata.resource_version != first_rv
    assert replaced.metadata.uid == created.metadata.uid

    stale = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="backup", resource_version=first_rv), data={"a": "3"})
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("backup", "kube-system", stale)
    assert caught.value.status == 409
    assert status_of(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Operation cannot be fulfilled on configmaps "backup": the object has been modified; please '
        "apply your changes to the latest version and try again",
        "reason": "Conflict",
        "details": {"name": "backup", "kind": "configmaps"},
        "code": 409,
    }

    patched = core.patch_namespaced_config_map("backup", "kube-system", {"data": {"b": "x"}})  # strategic merge
    assert patched.data == {"a": "2", "b": "x"}
    patched = core.patch_namespaced_config_map(
        "backup", "kube-system", {"data": {"a": None}}, _content_type="application/merge-patch+json"
    )
    assert patched.data == {"b": "x"}
    patched = core.patch_namespaced_config_map(
        "backup", "kube-system", [{"op": "replace", "path": "/data/b", "value": "y"}]
    )
    assert patched.data == {"b": "y"}
    unchanged = core.patch_namespaced_config_map("backup", "kube-system", {"data": {"b": "y"}})
    assert unchanged.metadata.resource_version == patched.metadata.resource_version  # no-op writes keep it
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "backup", "kube-system", {"metadata": {"resourceVersion": first_rv}, "data": {"b": "z"}}
        )
    assert caught.value.status == 409

    wrong = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(resource_version=first_rv))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_config_map("backup", "kube-system", body=wrong)
    assert caught.value.status == 409
    assert status_of(caught.value)["message"] == (
        'Operation cannot be fulfilled on configmaps "backup": Precondition failed: ResourceVersion in '
        f"precondition: {first_rv}, ResourceVersion in object meta: {patched.metadata.resource_version}"
    )
    right = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(resource_version=patched.metadata.resource_version))
    deleted = core.delete_namespaced_config_map("backup", "kube-system", body=right)
    # kubernetes 37 types DELETE responses as `object`: the Status arrives as a plain dict
    assert (deleted["status"], deleted["details"]["name"], deleted["details"]["kind"]) == (
        "Success",
        "backup",
        "configmaps",
    )

    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("backup", "kube-system")
    assert caught.value.status == 404
    assert status_of(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "backup" not found',
        "reason": "NotFound",
        "details": {"name": "backup", "kind": "configmaps"},
        "code": 404,
    }


def test_create_with_a_resource_version_is_refused(kube: KubeSandbox) -> None:
    core = k8s.CoreV1Api(kube.api(kube.token("Admin", "ops")))
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="restored", resource_version="12"), data={})
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("kube-system", body)
    assert caught.value.status == 500
    assert status_of(caught.value)["message"] == "resourceVersion should not be set on objects to be created"


def test_writes_need_cluster_admin(kube: KubeSandbox) -> None:
    core = k8s.CoreV1Api(kube.api(kube.token("Dev", "alice")))
    assert core.read_namespaced_config_map("aws-auth", "kube-system").metadata.name == "aws-auth"
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": {"mapUsers": ""}})
    assert caught.value.status == 403
    body = status_of(caught.value)
    assert body["reason"] == "Forbidden"
    assert body["message"].startswith(
        'configmaps "aws-auth" is forbidden: User "dev:alice" cannot patch resource "configmaps" in API group "" '
        'in the namespace "kube-system"'
    )


# --- RBAC ------------------------------------------------------------------------------------------------


def test_rbac_crud(kube: KubeSandbox) -> None:
    rbac = k8s.RbacAuthorizationV1Api(kube.api(kube.token("Admin", "ops")))
    seeded = rbac.read_cluster_role_binding("developers-view")
    assert seeded.subjects[0].name == "developers" and seeded.metadata.resource_version != "77"
    assert [b.metadata.name for b in rbac.list_role_binding_for_all_namespaces().items] == ["team-edit"]

    role = k8s.V1ClusterRole(
        metadata=k8s.V1ObjectMeta(name="reader"),
        rules=[k8s.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get"])],
    )
    created = rbac.create_cluster_role(role)
    assert created.rules[0].verbs == ["get"]
    created.rules[0].verbs = ["get", "list"]
    assert rbac.replace_cluster_role("reader", created).rules[0].verbs == ["get", "list"]
    binding = k8s.V1ClusterRoleBinding(
        metadata=k8s.V1ObjectMeta(name="reader"),
        role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="reader"),
        subjects=[k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="Group", name="readers")],
    )
    rbac.create_cluster_role_binding(binding)
    assert {b.metadata.name for b in rbac.list_cluster_role_binding().items} == {
        "cluster-admin",  # the API server's bootstrap bindings are in every cluster
        "developers-view",
        "reader",
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
    }

    ns_role = k8s.V1Role(
        metadata=k8s.V1ObjectMeta(name="cm", namespace="team"),
        rules=[k8s.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["*"])],
    )
    rbac.create_namespaced_role("team", ns_role)
    assert [r.metadata.name for r in rbac.list_namespaced_role("team").items] == ["cm"]
    ns_binding = rbac.read_namespaced_role_binding("team-edit", "team")
    ns_binding.subjects[0].name = "team-2"
    assert rbac.replace_namespaced_role_binding("team-edit", "team", ns_binding).subjects[0].name == "team-2"

    for delete in (
        lambda: rbac.delete_cluster_role("reader"),
        lambda: rbac.delete_cluster_role_binding("reader"),
        lambda: rbac.delete_namespaced_role("cm", "team"),
    ):
        assert delete()["status"] == "Success"
    with pytest.raises(ApiException) as caught:
        rbac.read_cluster_role("reader")
    assert caught.value.status == 404
    assert status_of(caught.value)["details"] == {
        "name": "reader",
        "kind": "clusterroles",
        "group": "rbac.authorization.k8s.io",
    }
    assert status_of(caught.value)["message"] == 'clusterroles.rbac.authorization.k8s.io "reader" not found'


# --- discovery and errors --------------------------------------------------------------------------------


def test_discovery(kube: KubeSandbox) -> None:
    api = kube.api(kube.token("Dev", "alice"))
    version = k8s.VersionApi(api).get_code()
    assert (version.git_version, version.major, version.minor) == ("v1.29.0-eks-sandbox", "1", "29+")
    assert k8s.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name for g in k8s.ApisApi(api).get_api_versions().groups}
    assert groups == {
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
    }
    resources = k8s.CoreV1Api(api).get_api_resources().resources
    assert [(r.name, r.kind, r.namespaced) for r in resources] == [("configmaps", "ConfigMap", True)]


def test_raw_http_errors_are_status_objects(kube: KubeSandbox) -> None:
    unauthenticated = requests.get(f"{kube.host}/api/v1/namespaces/kube-system/configmaps", timeout=60)
    assert unauthenticated.status_code == 401 and unauthenticated.json()["reason"] == "Unauthorized"
    anonymous_version = requests.get(f"{kube.host}/version", timeout=60)
    assert anonymous_version.status_code == 200 and anonymous_version.json()["gitVersion"] == "v1.29.0-eks-sandbox"
    headers = {"Authorization": f"Bearer {kube.token('Admin', 'ops')}"}
    unknown = requests.get(f"{kube.host}/api/v1/secrets", headers=headers, timeout=60)
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "NotFound")
    no_cluster = requests.get(f"{kube.kube_url}/k8s/{ACCOUNT}/{REGION}/nope/api", headers=headers, timeout=60)
    assert (no_cluster.status_code, no_cluster.json()["kind"]) == (404, "Status")
    not_json = requests.post(
        f"{kube.host}/api/v1/namespaces/default/configmaps", headers=headers, data=b"{", timeout=60
    )
    assert (not_json.status_code, not_json.json()["reason"]) == (400, "BadRequest")
    elsewhere = requests.get(f"{kube.kube_url}/nothing", timeout=60)
    assert elsewhere.status_code == 404 and elsewhere.json()["kind"] == "Status"


def test_signature_check_agrees_with_botocore_on_real_sts_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    session = boto3.Session(aws_access_key_id="AKIAEXAMPLEEXAMPLE01", aws_secret_access_key="secret/key+1")
    now = datetime.now(UTC)
    for region, host in ((None, "sts.amazonaws.com"), ("eu-west-1", "sts.eu-west-1.amazonaws.com")):
        request = decode_token(get_token(session, "prod-cluster", region=region), now=now)
        assert (request.host, request.region, request.signed_headers) == (
            host,
            region or "us-east-1",
            ("host", "x-k8s-aws-id"),
        )
        assert expected_signature(request, "secret/key+1", "prod-cluster") == request.signature
        assert expected_signature(request, "secret/key+1", "other-cluster") != request.signature


def test_validation_the_api_server_does(kube: KubeSandbox) -> None:
    headers = {"Authorization": f"Bearer {kube.token('Admin', 'ops')}", "Content-Type": "application/json"}
    url = f"{kube.host}/api/v1/namespaces/default/configmaps"
    number = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}, "data": {"a": 1}}
    assert requests.post(url, headers=headers, json=number, timeout=60).status_code == 400
    bad_key = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}, "data": {"a b": "1"}}
    assert requests.post(url, headers=headers, json=bad_key, timeout=60).status_code == 422
    dry = requests.post(f"{url}?dryRun=All", headers=headers, json={"metadata": {"name": "dry"}}, timeout=60)
    assert dry.status_code == 201 and dry.json()["metadata"]["name"] == "dry"
    assert requests.get(f"{url}/dry", headers=headers, timeout=60).status_code == 404

    rbac = k8s.RbacAuthorizationV1Api(kube.api(kube.token("Admin", "ops")))
    binding = rbac.read_cluster_role_binding("developers-view")
    binding.role_ref.name = "edit"
    with pytest.raises(ApiException) as caught:
        rbac.replace_cluster_role_binding("developers-view", binding)
    assert caught.value.status == 422
    assert status_of(caught.value)["message"].endswith("cannot change roleRef")
