"""The sandbox server: moto (IAM, STS, EKS, S3) plus our EKS extension and Kubernetes API, on two local ports.

    with Sandbox(load_scenario("plans/examples/demo.yaml")) as sandbox:
        env = sandbox.env()   # AWS_ENDPOINT_URL, credentials of the scenario's caller, region, KUBECONFIG

The AWS APIs answer plain http on one port (AWS_ENDPOINT_URL, honoured by boto3 and the AWS CLI). The
Kubernetes API answers https on another, under `/k8s/{account}/{region}/{cluster}`, with a CA made for the
run (`tls.py`) that DescribeCluster returns and the printed kubeconfig carries, as EKS does: kubectl and
client-go send no credentials to an http server. The AWS port refuses Kubernetes paths, so no client can
send a bearer token in the clear by mistake. Everything else goes to the EKS extension, which answers
what it implements and passes the rest to moto's own server app. S3 (a run's `--state s3://...`) is moto's,
with its conditional writes made atomic as S3's are (`_Dispatcher.s3_writes`).

moto keeps its state in process-wide globals, so one process runs one sandbox at a time: `start()`
resets moto and refuses while another sandbox of this process is running.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

from moto.eks.models import Cluster as MotoCluster
from moto.eks.models import FargateProfile as MotoFargateProfile
from moto.eks.models import Nodegroup as MotoNodegroup
from moto.eks.models import eks_backends
from moto.iam.models import iam_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.sts.models import sts_backends
from ruamel.yaml import YAML
from werkzeug.serving import BaseWSGIServer, make_server

from migrator.errors import InputError
from migrator.files import atomic_write
from migrator.rules.arn import PrincipalKind, parse_arn
from migrator.sandbox.eks import access as eks_access
from migrator.sandbox.eks import clusters as eks_clusters
from migrator.sandbox.eks.ext import EksExtension
from migrator.sandbox.kube import authlog
from migrator.sandbox.kube.api import make_kube_app, seed_cluster
from migrator.sandbox.recorder import Call, Recorder
from migrator.sandbox.scenario import Scenario, ScenarioCluster
from migrator.sandbox.state import SimCluster, World
from migrator.sandbox.tls import ServerTls, make_server_tls

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

TRUST_ANYONE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}],
    }
)
CALLER_SESSION_NAME = "aws-auth-migrate"
SUBNETS = ("subnet-0a1b2c3d", "subnet-4e5f6a7b")
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
WHOAMI_PATH = "/__aws-auth-migrate/sandbox"


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without a log line per request (the sandbox serves many)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _Dispatcher:
    """The WSGI app of both ports: finishes due cluster updates, then routes by path and port."""

    def __init__(
        self, world: World, kube: WSGIApplication, aws: WSGIApplication, recorder: Recorder, token: str = ""
    ) -> None:
        self.token = token
        self.world = world
        self.kube = kube
        self.aws = aws
        self.recorder = recorder
        # moto checks an S3 precondition (If-None-Match: *, If-Match: <ETag>) and then writes, without a lock,
        # so two conditional PUTs to one key could both succeed; S3 lets exactly one win. Every S3 request that
        # writes or carries a precondition runs under this lock, one at a time.
        self.s3_writes = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == WHOAMI_PATH:
            # `sandbox stop` asks before signalling: the pid in a pid file must be this very server.
            body = json.dumps({"pid": os.getpid(), "token": self.token}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        is_kube = str(environ.get("PATH_INFO", "")).startswith("/k8s/")
        if is_kube != (environ.get("wsgi.url_scheme") == "https"):
            return _wrong_port(environ, start_response, self.world.kube_base_url if is_kube else "")
        self.recorder.record(environ)
        # Updates finish lazily; settling first means the Kubernetes side sees a mode as soon as EKS does.
        eks_clusters.settle(self.world)
        if is_kube:
            return self.kube(environ, start_response)
        if not _is_s3(environ):
            return self.aws(environ, start_response)
        # S3 answers after the same simulated round trip as EKS (`latencyMs`): a run's state in S3 costs round
        # trips too, and a state that answered at once would hide them (bench/state.py compares it with files).
        # Slept before the write lock: S3 serves writes of different keys side by side.
        if self.world.settings.latency_ms:
            time.sleep(self.world.settings.latency_ms / 1000)
        if _s3_write_or_conditional(environ):
            with self.s3_writes:
                return _whole(self.aws(environ, start_response))  # the body too: the write is done inside
        return self.aws(environ, start_response)


_S3_SCOPE = re.compile(r"Credential=[^/,\s]+/[^/]+/[^/]+/s3/")
_S3_PRECONDITIONS = ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH")


def _is_s3(environ: WSGIEnvironment) -> bool:
    """An S3 request: SigV4 scope service `s3`, in the header or a presigned URL."""
    scope = f"{environ.get('HTTP_AUTHORIZATION', '')} {unquote(str(environ.get('QUERY_STRING', '')))}"
    return _S3_SCOPE.search(scope) is not None


def _s3_write_or_conditional(environ: WSGIEnvironment) -> bool:
    """Whether an S3 request (`_is_s3`) writes or has a precondition."""
    writes = environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE")
    return writes or any(environ.get(header) for header in _S3_PRECONDITIONS)


def _whole(response: Iterable[bytes]) -> list[bytes]:
    """A WSGI response read to its end (and closed), so nothing of the request runs after it returns."""
    try:
        return [b"".join(response)]
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()


def _wrong_port(environ: WSGIEnvironment, start_response: StartResponse, kube_base_url: str) -> Iterable[bytes]:
    """The AWS port refuses Kubernetes paths (a token must not travel in the clear), the https port AWS's."""
    if kube_base_url:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "BadRequest",
            "code": 400,
            "message": f"the sandbox serves the Kubernetes API over https only: use {kube_base_url}"
            + str(environ.get("PATH_INFO", "")),
        }
        headers = [("Content-Type", "application/json")]
    else:
        body = {"message": "this port serves the Kubernetes API only; AWS requests go to AWS_ENDPOINT_URL"}
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InvalidRequestException")]
    data = json.dumps(body).encode()
    start_response("400 Bad Request", [*headers, ("Content-Length", str(len(data)))])
    return [data]


class Sandbox:
    """A running simulation of the scenario's AWS accounts and EKS clusters. Use as a context manager."""

    _running: ClassVar[Sandbox | None] = None
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self, scenario: Scenario, host: str = "127.0.0.1", port: int = 0, token: str = "", kube_port: int = 0
    ) -> None:
        self.token = token  # answered on WHOAMI_PATH, so `sandbox stop` knows the pid is this server
        self.scenario = scenario
        self.host = host
        self._requested_port = port
        self._requested_kube_port = kube_port
        self.world = World(settings=dataclasses.replace(scenario.simulation))  # a copy tests may change
        self._server: BaseWSGIServer | None = None
        self._kube_server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._tls: ServerTls | None = None
        self._credentials: dict[str, str] | None = None
        self._probe_credentials: dict[tuple[str, str], dict[str, str]] = {}
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._kubeconfig: Path | None = None
        self.recorder = Recorder()

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        with Sandbox._running_lock:
            if Sandbox._running is not None:
                raise RuntimeError("another sandbox is running in this process (moto's state is process-wide)")
            Sandbox._running = self
        try:
            self._seed()
            # Private (0700) for the run: the kubeconfig and the server's TLS key live here.
            self._tempdir = tempfile.TemporaryDirectory(prefix="aws-auth-migrate-sandbox-")
            self._tls = make_server_tls(Path(self._tempdir.name), self.host)
            app = _Dispatcher(
                self.world,
                make_kube_app(self.world),
                EksExtension(self.world, DomainDispatcherApplication(create_backend_app)),
                self.recorder,
                self.token,
            )
            self._server = make_server(
                self.host, self._requested_port, app, threaded=True, request_handler=_QuietHandler
            )
            self._kube_server = make_server(
                self.host,
                self._requested_kube_port,
                app,
                threaded=True,
                request_handler=_QuietHandler,
                ssl_context=self._tls.context,
            )
            self.world.kube_base_url = self.kube_endpoint_url
            self.world.kube_ca_data = self._tls.ca_data
            for name, server in (("sandbox-aws", self._server), ("sandbox-kube", self._kube_server)):
                # A short poll interval makes stop() quick; serve_forever checks for shutdown at each poll.
                thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.world.closed.set()
        for server in (self._server, self._kube_server):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._server = self._kube_server = None
        self._threads = []
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
        with Sandbox._running_lock:
            if Sandbox._running is self:
                Sandbox._running = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def calls(self) -> list[Call]:
        """Every request the sandbox was asked since it started (or since `clear_calls`), in order."""
        return self.recorder.calls()

    def clear_calls(self) -> None:
        self.recorder.clear()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_port)

    @property
    def endpoint_url(self) -> str:
        """The AWS endpoint (http): what AWS_ENDPOINT_URL names."""
        return f"http://{self.host}:{self.port}"

    @property
    def kube_endpoint_url(self) -> str:
        """The Kubernetes API's base (https); each cluster is under /k8s/{account}/{region}/{name}."""
        if self._kube_server is None:
            raise RuntimeError("the sandbox is not running")
        return f"https://{self.host}:{self._kube_server.server_port}"

    @property
    def ca_data(self) -> str:
        """The run's CA, base64 of the PEM, as DescribeCluster returns it."""
        if self._tls is None:
            raise RuntimeError("the sandbox is not running")
        return self._tls.ca_data

    @property
    def region(self) -> str:
        return self.scenario.clusters[0].region

    # --- seeding --------------------------------------------------------------------------------------

    def _seed(self) -> None:
        # The sandbox simulates no EC2 images; loading moto's defaults costs ~0.3 s per account and region.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        moto_api_backend.reset()
        for text in self.scenario.roles:
            arn = parse_arn(text)
            iam_backends[arn.account][arn.partition].create_role(
                role_name=arn.name,
                assume_role_policy_document=TRUST_ANYONE,
                path="/" + arn.path,
                permissions_boundary=None,
                description="",
                tags=[],
                max_session_duration=None,
            )
        for text in self.scenario.users:
            arn = parse_arn(text)
            iam_backends[arn.account][arn.partition].create_user(self.region, arn.name, "/" + arn.path)
        now = time.time()
        with self.world.lock:
            for cluster in self.scenario.clusters:
                self._seed_cluster(cluster, now)

    def _seed_cluster(self, spec: ScenarioCluster, now: float) -> None:
        try:
            backend = eks_backends[spec.account][spec.region]
        except KeyError:
            raise InputError(f"cluster {spec.name}: moto does not know region {spec.region}") from None
        # moto's models are built directly rather than through EKSBackend.create_*: those validate each role
        # ARN with a fresh boto3 Session (about 0.15 s apiece), and the scenario loader checked them already.
        cluster_model = MotoCluster(
            name=spec.name,
            role_arn=f"arn:{spec.partition}:iam::{spec.account}:role/eks-cluster-service-role",
            resources_vpc_config={
                "subnetIds": list(SUBNETS),
                "securityGroupIds": [],
                "endpointPublicAccess": True,
                "endpointPrivateAccess": False,
            },
            version=spec.version,
            account_id=spec.account,
            region_name=spec.region,
            aws_partition=spec.partition,
        )
        backend.clusters[spec.name] = cluster_model
        backend.cluster_count += 1
        for nodegroup in spec.nodegroups:
            cluster_model.nodegroups[nodegroup.name] = MotoNodegroup(
                cluster_name=spec.name,
                node_role=nodegroup.node_role,
                nodegroup_name=nodegroup.name,
                subnets=list(SUBNETS),
                ami_type=nodegroup.ami_type,
                version=spec.version,
                account_id=spec.account,
                region_name=spec.region,
                aws_partition=spec.partition,
            )
            cluster_model.nodegroup_count += 1
        for profile in spec.fargate_profiles:
            cluster_model.fargate_profiles[profile.name] = MotoFargateProfile(
                cluster_name=spec.name,
                fargate_profile_name=profile.name,
                pod_execution_role_arn=profile.pod_execution_role,
                selectors=[{"namespace": "default"}],
                subnets=list(SUBNETS),
                account_id=spec.account,
                region_name=spec.region,
                aws_partition=spec.partition,
            )
            cluster_model.fargate_profile_count += 1
        cluster = SimCluster(
            name=spec.name,
            region=spec.region,
            account=spec.account,
            partition=spec.partition,
            mode=spec.mode,
            kubernetes_version=spec.version,
            platform_version=spec.platform_version,
            bootstrap_admin=spec.bootstrap_admin,
            creator_arn=spec.creator,
        )
        self.world.add_cluster(cluster)
        for entry in spec.access_entries:
            eks_access.seed_entry(cluster, entry, now)
        seed_cluster(self.world, cluster, spec.aws_auth_text, spec.rbac_text)
        authlog.seed(cluster, spec.log_types, spec.sign_ins)

    # --- what clients need ----------------------------------------------------------------------------

    def caller_credentials(self) -> dict[str, str]:
        """Credentials of the scenario's caller that moto maps to the caller's account, minted once per run.

        A role is assumed through moto's STS (session name `aws-auth-migrate`); a user gets an access key.
        """
        if self._credentials is None:
            self._credentials = self.credentials_for(self.scenario.caller, CALLER_SESSION_NAME)
        return dict(self._credentials)

    def credentials_for(self, principal_arn: str, session_name: str) -> dict[str, str]:
        """Fresh credentials for any IAM principal of the scenario, to ask the cluster who it is (a probe).

        Only a simulator can do this for users (an access key; IAM allows two, so they are minted once per
        principal and run); for roles it is an ordinary AssumeRole.
        """
        cached = self._probe_credentials.get((principal_arn, session_name))
        if cached is None:
            cached = self._probe_credentials[(principal_arn, session_name)] = self._mint(principal_arn, session_name)
        return dict(cached)

    def _mint(self, principal_arn: str, session_name: str) -> dict[str, str]:
        arn = parse_arn(principal_arn)
        if arn.kind is PrincipalKind.ROLE:
            assumed = sts_backends[arn.account][arn.partition].assume_role(
                region_name=self.region,
                role_session_name=session_name,
                role_arn=principal_arn,
                policy="",
                duration=43200,
                external_id="",
            )
            return {
                "AWS_ACCESS_KEY_ID": assumed.access_key_id,
                "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
                "AWS_SESSION_TOKEN": assumed.session_token,
            }
        key = iam_backends[arn.account][arn.partition].create_access_key(arn.name)
        return {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key}

    def env(self) -> dict[str, str]:
        """Environment variables for a client of this sandbox (boto3, the kubernetes client, the CLI)."""
        if self._kubeconfig is None:
            if self._tempdir is None:
                raise RuntimeError("the sandbox is not running")
            self.write_kubeconfig(Path(self._tempdir.name) / "kubeconfig")
        assert self._kubeconfig is not None
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "KUBECONFIG": str(self._kubeconfig),
            **self.caller_credentials(),
        }

    def context_name(self, cluster: ScenarioCluster) -> str:
        """The kubeconfig context of a cluster: its name, or account/region/name when the name repeats."""
        if sum(c.name == cluster.name for c in self.scenario.clusters) == 1:
            return cluster.name
        return f"{cluster.account}/{cluster.region}/{cluster.name}"

    def kube_url(self, cluster: ScenarioCluster) -> str:
        return f"{self.kube_endpoint_url}/k8s/{cluster.account}/{cluster.region}/{cluster.name}"

    def write_kubeconfig(self, path: str | Path) -> Path:
        """A kubeconfig with one context per cluster, trusting the run's CA; tokens come from
        `python -m migrator.aws.token` (the same as `aws eks get-token`)."""
        clusters: list[dict[str, Any]] = []
        contexts: list[dict[str, Any]] = []
        users: list[dict[str, Any]] = []
        for cluster in self.scenario.clusters:
            name = self.context_name(cluster)
            server = {"server": self.kube_url(cluster), "certificate-authority-data": self.ca_data}
            clusters.append({"name": name, "cluster": server})
            contexts.append({"name": name, "context": {"cluster": name, "user": name}})
            exec_config = {
                "apiVersion": EXEC_API_VERSION,
                "command": sys.executable,
                "args": ["-m", "migrator.aws.token", "--cluster-name", cluster.name, "--region", cluster.region],
                "env": [{"name": "AWS_ENDPOINT_URL", "value": self.endpoint_url}],
                "interactiveMode": "Never",
            }
            users.append({"name": name, "user": {"exec": exec_config}})
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": clusters,
            "contexts": contexts,
            "users": users,
            "current-context": contexts[0]["name"],
            "preferences": {},
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False  # block style, and no folded lines: as kubectl writes kubeconfigs
        yaml.width = 1 << 16
        yaml.dump(config, text)
        atomic_write(target, text.getvalue().encode("utf-8"))
        self._kubeconfig = target
        return target
