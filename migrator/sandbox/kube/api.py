"""The sandbox's Kubernetes API: what the unmodified `kubernetes` Python client needs, for every cluster.

Each cluster is served under `/k8s/{account}/{region}/{cluster}`; point a client's `host` there and it
appends `/api/v1/...` itself. Served: discovery (`/version`, `/api`, `/apis`, resource lists), core/v1
ConfigMaps, rbac.authorization.k8s.io/v1 Roles, RoleBindings, ClusterRoles and ClusterRoleBindings,
coordination.k8s.io/v1 Leases (get, list, create, replace, patch, delete; semantics, resourceVersion conflicts
included, in `kube_store`), authentication.k8s.io SelfSubjectReview, and the authorization.k8s.io/v1 access
reviews (`kube_reviews`: SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview,
SelfSubjectRulesReview).

Authentication is EKS's (see `kube_auth`): an `Authorization: Bearer k8s-aws-v1...` token, checked and
resolved through moto's STS/IAM, then `identity.authenticate` with the cluster's *current* mode, access
entries and stored aws-auth, so a mode change or an aws-auth edit counts from the next request on. Missing
or bad tokens get 401; only /version and the health endpoints answer anonymous requests.

Every request is authorized as on EKS (`kube_authorize`): RBAC over the stored Roles, ClusterRoles (with
aggregation), RoleBindings and ClusterRoleBindings, then the access policies of the caller's access entry
within their scopes; either may allow. Reads need get/list/watch like writes need create/update/patch/delete,
discovery needs GET on its path (/api, /apis/..., /version), and an anonymous request is decided as
system:anonymous in system:unauthenticated. Each cluster holds the API server's bootstrap RBAC
(`kube_bootstrap`: cluster-admin for system:masters, discovery and self-reviews for system:authenticated,
admin/edit/view). A "no" is the API server's 403 Status with its message.

Every request runs under `World.lock`; every error is a Kubernetes `Status` object, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from migrator.errors import InputError
from migrator.rules.identity import Identity
from migrator.rules.rbac import NonResourceRequest, ResourceRequest
from migrator.sandbox.kube import authlog
from migrator.sandbox.kube import fields as kube_fields
from migrator.sandbox.kube import reviews as kube_reviews
from migrator.sandbox.kube import schema as kube_schema
from migrator.sandbox.kube import store as kube_store
from migrator.sandbox.kube import watch as kube_watch
from migrator.sandbox.kube.auth import TokenRejected, identify, resolve_caller
from migrator.sandbox.kube.authorize import authorize, resource_request
from migrator.sandbox.kube.bootstrap import ensure_bootstrap
from migrator.sandbox.kube.store import RESOURCES, KubeError, Resource
from migrator.sandbox.state import SimCluster, World

_log = logging.getLogger(__name__)

AUTHENTICATION = "authentication.k8s.io"
REVIEW_VERSIONS = ("v1", "v1beta1")
ANONYMOUS_ENDPOINTS = frozenset({"version", "health"})
DISCOVERY_ENDPOINTS = frozenset({"core_versions", "groups", "group", "resources", "openapi_index", "openapi"})
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

_PREFIX = "/k8s/<account>/<region>/<cluster>"
_ROUTES = Map(
    [
        Rule(f"{_PREFIX}/version", endpoint="version"),
        Rule(f"{_PREFIX}/healthz", endpoint="health"),
        Rule(f"{_PREFIX}/livez", endpoint="health"),
        Rule(f"{_PREFIX}/readyz", endpoint="health"),
        Rule(f"{_PREFIX}/openapi/v3", endpoint="openapi_index"),
        Rule(f"{_PREFIX}/openapi/v3/<path:group_version>", endpoint="openapi"),
        Rule(f"{_PREFIX}/api", endpoint="core_versions"),
        Rule(f"{_PREFIX}/apis", endpoint="groups"),
        Rule(f"{_PREFIX}/api/<version>", endpoint="resources", defaults={"group": ""}),
        Rule(f"{_PREFIX}/apis/<group>", endpoint="group"),
        Rule(f"{_PREFIX}/apis/<group>/<version>", endpoint="resources"),
        Rule(f"{_PREFIX}/api/<version>/<plural>", endpoint="collection", defaults={"group": "", "namespace": None}),
        Rule(f"{_PREFIX}/apis/<group>/<version>/<plural>", endpoint="collection", defaults={"namespace": None}),
        Rule(f"{_PREFIX}/api/<version>/namespaces/<namespace>/<plural>", endpoint="collection", defaults={"group": ""}),
        Rule(f"{_PREFIX}/apis/<group>/<version>/namespaces/<namespace>/<plural>", endpoint="collection"),
        Rule(f"{_PREFIX}/api/<version>/<plural>/<name>", endpoint="item", defaults={"group": "", "namespace": ""}),
        Rule(f"{_PREFIX}/apis/<group>/<version>/<plural>/<name>", endpoint="item", defaults={"namespace": ""}),
        Rule(
            f"{_PREFIX}/api/<version>/namespaces/<namespace>/<plural>/<name>", endpoint="item", defaults={"group": ""}
        ),
        Rule(f"{_PREFIX}/apis/<group>/<version>/namespaces/<namespace>/<plural>/<name>", endpoint="item"),
    ],
    strict_slashes=False,
)

UNKNOWN_PATH = KubeError(404, "NotFound", "the server could not find the requested resource", {})


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, sort_keys=False) + "\n", status=status, mimetype="application/json")


def _client(request: Request) -> str:
    return f"{request.remote_addr}:{request.environ.get('REMOTE_PORT', 0)}"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _body(request: Request) -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise kube_store.bad_request(f"the request body is not JSON: {error}") from error


def _apply_body(request: Request) -> Any:
    """A server-side apply configuration: YAML (JSON is YAML too), as `application/apply-patch+yaml` says."""
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        return YAML(typ="safe").load(raw.decode("utf-8"))
    except (YAMLError, UnicodeDecodeError) as error:
        raise kube_store.bad_request(f"the apply configuration is not YAML: {error}") from error


def _manager(request: Request, *, required: bool = False) -> str:
    """The request's field manager: its `fieldManager`, else the User-Agent before its first '/' (the API
    server's default; not for server-side apply, which must name one)."""
    explicit = request.args.get("fieldManager")
    if explicit:
        if (problem := kube_fields.invalid_manager(explicit)) is not None:
            raise KubeError(422, "Invalid", f"fieldManager: Invalid value: {json.dumps(explicit)}: {problem}")
        return explicit
    if required:
        message = 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
        raise KubeError(422, "Invalid", message)
    return kube_fields.manager_from_user_agent(request.headers.get("User-Agent", ""))


def _checked_fields(request: Request, resource: Resource, body: Any) -> Any:
    """`fieldValidation=Strict` (what kubectl sends): a field the kind does not have is refused, not dropped."""
    if request.args.get("fieldValidation") == "Strict" and (unknown := kube_schema.unknown_fields(resource.kind, body)):
        raise kube_store.bad_request(
            f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
            f"strict decoding error: {', '.join(unknown)}"
        )
    return body


def _version(cluster: SimCluster) -> dict[str, Any]:
    major, minor, patch = [*cluster.kubernetes_version.lstrip("v").split("."), "0", "0"][:3]
    return {
        "major": major,
        "minor": f"{minor}+",
        "gitVersion": f"v{major}.{minor}.{patch}-eks-sandbox",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "go1.22.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _group_versions() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        if resource.group:
            groups.setdefault(resource.group, []).append(resource.version)
    groups[AUTHENTICATION] = list(REVIEW_VERSIONS)
    groups[kube_reviews.AUTHORIZATION] = [kube_reviews.VERSION]
    return {name: sorted(set(versions), key=versions.index) for name, versions in groups.items()}


def _group_info(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def _resource_list(group: str, version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [
        {
            "name": r.plural,
            "singularName": r.kind.lower(),
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS,
        }
        | ({"shortNames": list(r.short_names)} if r.short_names else {})
        for r in RESOURCES
        if (r.group, r.version) == (group, version)
    ]
    if group == AUTHENTICATION and version in REVIEW_VERSIONS:
        resources.append(
            {
                "name": "selfsubjectreviews",
                "singularName": "",
                "namespaced": False,
                "kind": "SelfSubjectReview",
                "verbs": ["create"],
            }
        )
    if (group, version) == (kube_reviews.AUTHORIZATION, kube_reviews.VERSION):
        resources.extend(kube_reviews.discovery_resources())
    if not resources:
        raise UNKNOWN_PATH
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def self_subject_review(identity: Identity, version: str) -> dict[str, Any]:
    extra: dict[str, list[str]] = {}
    for key, value in identity.extra:
        extra.setdefault(key, []).append(value)
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": f"{AUTHENTICATION}/{version}",
        "metadata": {"creationTimestamp": None},
        "status": {
            "userInfo": {
                "username": identity.username,
                "uid": identity.uid,
                "groups": list(identity.groups),
                "extra": extra,
            }
        },
    }


class KubeApp:
    """The WSGI application; one per World."""

    def __init__(self, world: World) -> None:
        self.world = world

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except KubeError as error:
            response = _json(error.status(), error.code)
        except HTTPException as error:
            code = error.code or 500
            reason = {404: "NotFound", 405: "MethodNotAllowed"}.get(code, "BadRequest")
            message = UNKNOWN_PATH.message if code == 404 else (error.description or error.name)
            response = _json(KubeError(code, reason, message, {} if code == 404 else None).status(), code)
        except Exception as error:  # the API answers with a Status even when the simulator itself is wrong
            response = _json(
                KubeError(500, "InternalError", f"sandbox error: {type(error).__name__}: {error}").status(), 500
            )
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def dispatch(self, request: Request) -> Response:
        endpoint, matched = _ROUTES.bind_to_environ(request.environ).match()
        args = dict(matched)
        prefix = f"/k8s/{args['account']}/{args['region']}/{args['cluster']}"
        with self.world.lock:
            cluster = self.world.cluster(args.pop("account"), args.pop("region"), args.pop("cluster"))
            if cluster is None:
                raise KubeError(404, "NotFound", "no such cluster in the sandbox", {})
            ensure_bootstrap(cluster)  # clusters made through CreateCluster get theirs on first use
            identity = self._authenticate(request, cluster, anonymous_ok=endpoint in ANONYMOUS_ENDPOINTS)
            if endpoint in ANONYMOUS_ENDPOINTS or endpoint in DISCOVERY_ENDPOINTS:
                path = request.path.removeprefix(prefix) or "/"
                authorize(cluster, identity, NonResourceRequest(request.method.lower(), path))
            if endpoint == "version":
                return _json(_version(cluster))
            if endpoint == "health":
                return Response("ok", mimetype="text/plain")
            assert identity is not None
            return self._serve(request, cluster, identity, endpoint, args)

    def _authenticate(self, request: Request, cluster: SimCluster, *, anonymous_ok: bool) -> Identity | None:
        token = _bearer(request)
        if token is None and anonymous_ok:
            return None
        if token is None:
            raise KubeError(401, "Unauthorized", "Unauthorized")
        try:
            caller = resolve_caller(token, cluster)
        except TokenRejected as error:
            # The API server tells the client nothing more than "Unauthorized"; the reason goes to the log.
            _log.info("%s: token rejected: %s", cluster.name, error)
            authlog.record_refused(cluster, _client(request), str(error))
            raise KubeError(401, "Unauthorized", "Unauthorized") from None
        identity = identify(cluster, caller)
        authlog.record(cluster, _client(request), caller, identity)
        if identity is None:
            _log.info("%s: %s is not mapped in mode %s", cluster.name, caller.arn, cluster.mode.value)
            raise KubeError(401, "Unauthorized", "Unauthorized")
        return identity

    def _serve(
        self, request: Request, cluster: SimCluster, identity: Identity, endpoint: str, args: dict[str, Any]
    ) -> Response:
        if endpoint == "core_versions":
            return _json(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}],
                }
            )
        if endpoint == "groups":
            groups = [_group_info(name, versions) for name, versions in _group_versions().items()]
            return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if endpoint == "group":
            versions = _group_versions().get(args["group"])
            if versions is None:
                raise UNKNOWN_PATH
            return _json({"kind": "APIGroup", "apiVersion": "v1"} | _group_info(args["group"], versions))
        if endpoint == "resources":
            return _json(_resource_list(args["group"], args["version"]))
        if endpoint == "openapi_index":
            return _json(kube_schema.index(request.script_root + request.path.removesuffix("/openapi/v3")))
        if endpoint == "openapi":
            document = kube_schema.group_version_document(args["group_version"])
            if document is None:
                raise UNKNOWN_PATH
            return _json(document)
        group, version, plural = args["group"], args["version"], args["plural"]
        # As in the API server, authorization comes before routing: an unknown resource is a 403 for
        # those who may not touch it and a 404 for those who may.
        authorize(cluster, identity, _resource_request(request, endpoint, args))
        if group == AUTHENTICATION and version in REVIEW_VERSIONS and plural == "selfsubjectreviews":
            if endpoint != "collection" or request.method != "POST":
                raise KubeError(405, "MethodNotAllowed", f"{request.method} is not supported on selfsubjectreviews")
            return _json(self_subject_review(identity, version), 201)
        if (group, version) == (kube_reviews.AUTHORIZATION, kube_reviews.VERSION) and plural in kube_reviews.REVIEWS:
            return self._review(request, cluster, identity, endpoint, args)
        resource = kube_store.find_resource(group, version, plural)
        if resource is None or (endpoint == "item" and resource.namespaced != bool(args["namespace"])):
            raise UNKNOWN_PATH
        if endpoint == "collection" and not resource.namespaced and args["namespace"] is not None:
            raise UNKNOWN_PATH
        if endpoint == "collection":
            return self._collection(request, cluster, identity, resource, args["namespace"])
        return self._item(request, cluster, identity, resource, args["namespace"], args["name"])

    def _review(
        self, request: Request, cluster: SimCluster, identity: Identity, endpoint: str, args: dict[str, Any]
    ) -> Response:
        plural, namespace = args["plural"], args["namespace"]
        _, namespaced = kube_reviews.REVIEWS[plural]
        if endpoint != "collection" or request.method != "POST" or namespaced != bool(namespace):
            raise KubeError(405, "MethodNotAllowed", f"{request.method} is not supported on {plural} here")
        body = _body(request)
        if plural == "selfsubjectaccessreviews":
            return _json(kube_reviews.self_subject_access_review(cluster, identity, body), 201)
        if plural == "selfsubjectrulesreviews":
            return _json(kube_reviews.self_subject_rules_review(cluster, identity, body), 201)
        return _json(kube_reviews.subject_access_review(cluster, body, namespace or ""), 201)

    def _collection(
        self, request: Request, cluster: SimCluster, identity: Identity, resource: Resource, namespace: str | None
    ) -> Response:
        if request.method == "GET":
            if request.args.get("watch") in ("1", "true"):
                watch = kube_watch.WatchRequest.from_args(resource, namespace, dict(request.args.items()))
                events = kube_watch.start(cluster, watch, self.world.lock, self.world.closed)
                return Response(events, mimetype="application/json", direct_passthrough=True)
            fields = kube_watch.FieldSelector.parse(request.args.get("fieldSelector"))
            listed = kube_store.list_objects(cluster, resource, namespace, request.args.get("labelSelector"))
            listed["items"] = [item for item in listed["items"] if fields.matches(item)]
            return _json(listed)
        if request.method == "POST":
            if namespace is None and resource.namespaced:
                raise KubeError(405, "MethodNotAllowed", f"create {resource.plural} in a namespace")
            dry_run = request.args.get("dryRun") == "All"
            body = _checked_fields(request, resource, _body(request))
            created = kube_store.create(
                cluster, resource, namespace or "", body, dry_run=dry_run, manager=_manager(request)
            )
            return _json(created, 201)
        raise KubeError(405, "MethodNotAllowed", f"{request.method} is not supported on a collection here")

    def _item(
        self, request: Request, cluster: SimCluster, identity: Identity, resource: Resource, namespace: str, name: str
    ) -> Response:
        dry_run = request.args.get("dryRun") == "All"
        if request.method == "GET":
            return _json(kube_store.get(cluster, resource, namespace, name))
        verb = {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(request.method)
        if verb is None:
            raise KubeError(405, "MethodNotAllowed", f"{request.method} is not supported here")
        if verb == "update":
            body = _checked_fields(request, resource, _body(request))
            manager = _manager(request)
            return _json(kube_store.replace(cluster, resource, namespace, name, body, dry_run=dry_run, manager=manager))
        if verb == "patch":
            content_type = (request.mimetype or "").lower()
            if content_type == kube_store.APPLY_PATCH:
                body = _checked_fields(request, resource, _apply_body(request))
                existed = kube_store.exists_at(cluster, resource, namespace, name)
                result = kube_store.apply_patch(
                    cluster,
                    resource,
                    namespace,
                    name,
                    body,
                    manager=_manager(request, required=True),
                    force=request.args.get("force") == "true",
                    dry_run=dry_run,
                )
                return _json(result, 200 if existed else 201)
            body = _body(request)
            if content_type != "application/json-patch+json":
                _checked_fields(request, resource, body)
            result = kube_store.patch(
                cluster, resource, namespace, name, body, content_type, dry_run=dry_run, manager=_manager(request)
            )
            return _json(result)
        return _json(kube_store.delete(cluster, resource, namespace, name, _body(request), dry_run=dry_run))


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def _resource_request(request: Request, endpoint: str, args: dict[str, Any]) -> ResourceRequest:
    """The authorizer attributes of a request for an object or a collection (the API server's RequestInfo)."""
    namespace, name = args["namespace"] or "", args.get("name", "")
    if request.method in _VERBS:
        verb = _VERBS[request.method]
    elif request.method == "DELETE":
        verb = "delete" if endpoint == "item" else "deletecollection"
    elif endpoint == "item":
        verb = "get"
    else:
        verb = "watch" if request.args.get("watch") in ("1", "true") else "list"
    if args["plural"] == "namespaces" and endpoint == "item" and not namespace:
        namespace = name  # a namespace is in itself, as far as RBAC is concerned
    return resource_request(verb, args["group"], args["plural"], namespace, name)


def make_kube_app(world: World) -> KubeApp:
    """The WSGI app serving the Kubernetes API of every cluster in `world`."""
    return KubeApp(world)


def seed_cluster(world: World, cluster: SimCluster, aws_auth_text: str | None, rbac_text: str | None) -> None:
    """Store the bootstrap RBAC, then the aws-auth ConfigMap and RBAC objects (YAML as `kubectl get -o yaml`
    prints them) in `cluster`.

    Server-made metadata (resourceVersion, uid, managedFields, ...) is dropped and assigned afresh. Both texts
    may hold one object, several YAML documents, or a `kind: List`.
    """
    with world.lock:
        ensure_bootstrap(cluster)  # first, so that the scenario's objects of the same name replace them
        if aws_auth_text is not None:
            objects = kube_store.load_objects(aws_auth_text, "aws-auth")
            if len(objects) != 1 or objects[0].get("kind") != "ConfigMap":
                raise InputError("the aws-auth text must hold exactly one ConfigMap")
            metadata = objects[0].setdefault("metadata", {})
            if (metadata.setdefault("namespace", "kube-system"), metadata.setdefault("name", "aws-auth")) != (
                "kube-system",
                "aws-auth",
            ):
                where = f"{metadata['namespace']}/{metadata['name']}"
                raise InputError(f"the aws-auth ConfigMap is named {where}, not kube-system/aws-auth")
            kube_store.seed(cluster, objects)
        if rbac_text is not None:
            kube_store.seed(cluster, kube_store.load_objects(rbac_text, "RBAC"))
