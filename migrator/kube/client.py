"""KubeGateway over the kubernetes client: the aws-auth ConfigMap, the tool's Lease and SelfSubjectReview.

The API client comes from a kubeconfig context, or from DescribeCluster's endpoint and CA plus an EKS
token (what `aws eks get-token` gives kubectl), refreshed before it expires.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
import time
import weakref
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from migrator.errors import ConflictError, ForbiddenError, InputError, NotAuthenticatedError, RemoteError
from migrator.model import RbacObjects
from migrator.ports import ConfigMapState, LeaseState

TOKEN_REFRESH_SECONDS = 10 * 60  # EKS tokens live 15 minutes


def api_client_from_kubeconfig(context: str | None, config_file: str | None = None) -> k8s.ApiClient:
    try:
        api_client: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=config_file, context=context
        )
        return api_client
    except (ConfigException, FileNotFoundError, OSError) as error:
        raise InputError(f"kubeconfig context {context or '(current)'}: {error}") from None


def api_client_for_eks(endpoint: str, ca_data: str | None, token: Callable[[], str]) -> k8s.ApiClient:
    """A client for an EKS endpoint authenticated with EKS tokens made on demand.

    The endpoint must be https: the token is a bearer credential for the cluster. The server's certificate
    is verified against `ca_data` (DescribeCluster's certificateAuthority.data) when given, else against the
    system's trust store; never skipped.
    """
    if not endpoint.startswith("https://"):
        raise InputError(
            f"the cluster's Kubernetes endpoint {endpoint} is not https; an EKS token is not sent in the clear",
            hint="pass --kube-context with a kubeconfig for the cluster",
        )
    configuration = k8s.Configuration()
    configuration.host = endpoint
    configuration.verify_ssl = True
    ca_file = _private_ca_file(ca_data) if ca_data else None
    configuration.ssl_ca_cert = ca_file
    issued = {"at": -float("inf")}

    def refresh(config: k8s.Configuration) -> None:
        if time.monotonic() - issued["at"] > TOKEN_REFRESH_SECONDS:
            config.api_key["authorization"] = token()
            config.api_key_prefix["authorization"] = "Bearer"
            issued["at"] = time.monotonic()

    # The client consults the hook only once a key exists, so issue the first token now.
    refresh(configuration)
    configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]
    api_client = k8s.ApiClient(configuration)
    if ca_file is not None:
        # urllib3 reads the CA file at every new connection, so it lives as long as the client.
        weakref.finalize(api_client, _unlink_quietly, ca_file)
    return api_client


def _private_ca_file(ca_data: str) -> str:
    try:
        pem = base64.b64decode(ca_data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise RemoteError(f"the cluster's certificateAuthority.data is not base64: {error}") from None
    descriptor, path = tempfile.mkstemp(prefix="aws-auth-migrate-ca-", suffix=".crt")  # 0600, O_EXCL
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return path


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _remote(operation: str, error: ApiException | HTTPError) -> RemoteError:
    if isinstance(error, ApiException):
        reason = error.reason
        if error.status == 401:
            return NotAuthenticatedError(
                f"Kubernetes {operation}: HTTP 401 Unauthorized: the cluster does not recognise the caller "
                "(check credentials and context)"
            )
        if error.status == 403:
            return ForbiddenError(
                f"Kubernetes {operation}: HTTP 403 Forbidden: the caller lacks the Kubernetes permission"
            )
        return RemoteError(f"Kubernetes {operation}: HTTP {error.status} {reason}")
    return RemoteError(f"Kubernetes {operation}: {error}")


def _state(obj: Any) -> ConfigMapState:
    raw: dict[str, Any] = k8s.ApiClient().sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
    return ConfigMapState(
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        data=dict(obj.data or {}),
        resource_version=obj.metadata.resource_version,
        raw=raw,
    )


def _lease(obj: Any) -> LeaseState:
    spec = obj.spec or k8s.V1LeaseSpec()
    return LeaseState(
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        holder=spec.holder_identity,
        duration_seconds=spec.lease_duration_seconds,
        acquired_at=spec.acquire_time,
        renewed_at=spec.renew_time,
        transitions=spec.lease_transitions or 0,
        resource_version=obj.metadata.resource_version,
    )


def _lease_body(lease: LeaseState) -> k8s.V1Lease:
    return k8s.V1Lease(
        api_version="coordination.k8s.io/v1",
        kind="Lease",
        metadata=k8s.V1ObjectMeta(name=lease.name, namespace=lease.namespace, resource_version=lease.resource_version),
        spec=k8s.V1LeaseSpec(
            holder_identity=lease.holder,
            lease_duration_seconds=lease.duration_seconds,
            acquire_time=lease.acquired_at,
            renew_time=lease.renewed_at,
            lease_transitions=lease.transitions,
        ),
    )


RBAC_PAGE_SIZE = 500  # objects per list page (the API server's continue tokens carry on)


class KubernetesGateway:
    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._api_client = api_client
        self._core = k8s.CoreV1Api(api_client)
        self._coordination = k8s.CoordinationV1Api(api_client)
        self._authn = k8s.AuthenticationV1Api(api_client)

    def read_config_map(self, namespace: str, name: str) -> ConfigMapState | None:
        try:
            return _state(self._core.read_namespaced_config_map(name, namespace))
        except ApiException as error:
            if error.status == 404:
                return None
            raise _remote(f"get configmap {namespace}/{name}", error) from None
        except HTTPError as error:
            raise _remote(f"get configmap {namespace}/{name}", error) from None

    def create_config_map(self, namespace: str, name: str, data: dict[str, str]) -> ConfigMapState:
        body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name, namespace=namespace), data=data)
        try:
            return _state(self._core.create_namespaced_config_map(namespace, body))
        except ApiException as error:
            if error.status == 409:
                raise ConflictError(f"configmap {namespace}/{name} exists again: someone re-created it") from None
            raise _remote(f"create configmap {namespace}/{name}", error) from None
        except HTTPError as error:
            raise _remote(f"create configmap {namespace}/{name}", error) from None

    def delete_config_map(self, state: ConfigMapState) -> None:
        options = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(resource_version=state.resource_version))
        try:
            self._core.delete_namespaced_config_map(state.name, state.namespace, body=options)
        except ApiException as error:
            if error.status == 409:
                raise ConflictError(
                    f"configmap {state.namespace}/{state.name} changed since it was backed up; not deleted"
                ) from None
            if error.status == 404:
                return
            raise _remote(f"delete configmap {state.namespace}/{state.name}", error) from None
        except HTTPError as error:
            raise _remote(f"delete configmap {state.namespace}/{state.name}", error) from None

    def read_lease(self, namespace: str, name: str) -> LeaseState | None:
        try:
            return _lease(self._coordination.read_namespaced_lease(name, namespace))
        except ApiException as error:
            if error.status == 404:
                return None
            raise _remote(f"get lease {namespace}/{name}", error) from None
        except HTTPError as error:
            raise _remote(f"get lease {namespace}/{name}", error) from None

    def create_lease(self, lease: LeaseState) -> LeaseState:
        where = f"{lease.namespace}/{lease.name}"
        try:
            return _lease(self._coordination.create_namespaced_lease(lease.namespace, _lease_body(lease)))
        except ApiException as error:
            if error.status == 409:
                raise ConflictError(f"lease {where} exists: someone else created it first") from None
            raise _remote(f"create lease {where}", error) from None
        except HTTPError as error:
            raise _remote(f"create lease {where}", error) from None

    def update_lease(self, lease: LeaseState) -> LeaseState:
        where = f"{lease.namespace}/{lease.name}"
        try:
            return _lease(self._coordination.replace_namespaced_lease(lease.name, lease.namespace, _lease_body(lease)))
        except ApiException as error:
            if error.status in (404, 409):
                raise ConflictError(f"lease {where} changed or went away since it was read") from None
            raise _remote(f"update lease {where}", error) from None
        except HTTPError as error:
            raise _remote(f"update lease {where}", error) from None

    def delete_lease(self, lease: LeaseState) -> None:
        where = f"{lease.namespace}/{lease.name}"
        options = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(resource_version=lease.resource_version))
        try:
            self._coordination.delete_namespaced_lease(lease.name, lease.namespace, body=options)
        except ApiException as error:
            if error.status == 404:
                return
            if error.status == 409:
                raise ConflictError(f"lease {where} changed since it was read; not deleted") from None
            raise _remote(f"delete lease {where}", error) from None
        except HTTPError as error:
            raise _remote(f"delete lease {where}", error) from None

    def self_subject_review(self) -> dict[str, Any]:
        try:
            review = self._authn.create_self_subject_review(k8s.V1SelfSubjectReview())
        except (ApiException, HTTPError) as error:
            raise _remote("create selfsubjectreview", error) from None
        info = review.status.user_info if review.status is not None else None
        if info is None:
            raise RemoteError("Kubernetes selfsubjectreview: the answer has no userInfo")
        return {
            "username": info.username or "",
            "groups": sorted(info.groups or []),
            "uid": info.uid or "",
            "extra": {k: list(v) for k, v in (info.extra or {}).items()},
        }

    def read_rbac(self) -> RbacObjects:
        rbac = k8s.RbacAuthorizationV1Api(self._api_client)
        listings: tuple[tuple[str, Callable[..., Any]], ...] = (
            ("ClusterRole", rbac.list_cluster_role),
            ("Role", rbac.list_role_for_all_namespaces),
            ("ClusterRoleBinding", rbac.list_cluster_role_binding),
            ("RoleBinding", rbac.list_role_binding_for_all_namespaces),
        )
        found: list[tuple[dict[str, Any], ...]] = []
        for kind, list_function in listings:
            items: list[dict[str, Any]] = []
            token: str | None = None
            while True:  # every page: a cluster may have thousands of bindings
                try:
                    page = list_function(limit=RBAC_PAGE_SIZE, _continue=token)
                except (ApiException, HTTPError) as error:
                    raise _remote(f"list {kind}", error) from None
                for item in page.items or ():
                    body: dict[str, Any] = self._api_client.sanitize_for_serialization(item)  # type: ignore[no-untyped-call]
                    items.append(body)
                token = page.metadata._continue if page.metadata is not None else None
                if not token:
                    break
            found.append(tuple(items))
        cluster_roles, roles, cluster_role_bindings, role_bindings = found
        return RbacObjects(cluster_roles, roles, cluster_role_bindings, role_bindings)

    def list_rbac_objects(self) -> list[dict[str, Any]]:
        """RBAC bindings and the non-system roles they point at, as plain objects (for `sandbox export`)."""
        rbac = k8s.RbacAuthorizationV1Api(self._api_client)
        listings = (
            ("ClusterRole", rbac.list_cluster_role),
            ("ClusterRoleBinding", rbac.list_cluster_role_binding),
            ("Role", rbac.list_role_for_all_namespaces),
            ("RoleBinding", rbac.list_role_binding_for_all_namespaces),
        )
        objects: list[dict[str, Any]] = []
        for kind, list_function in listings:
            try:
                items = list_function().items
            except (ApiException, HTTPError) as error:
                raise _remote(f"list {kind}", error) from None
            for item in items:
                name = item.metadata.name if item.metadata is not None else None
                if not name or name.startswith(("system:", "eks:")):
                    continue  # the API server and EKS own these; a rehearsal cluster has its own
                body: dict[str, Any] = self._api_client.sanitize_for_serialization(item)  # type: ignore[no-untyped-call]
                body["apiVersion"], body["kind"] = "rbac.authorization.k8s.io/v1", kind
                metadata = body.get("metadata", {})
                body["metadata"] = {k: metadata[k] for k in ("name", "namespace", "labels") if k in metadata}
                objects.append(body)
        return objects
