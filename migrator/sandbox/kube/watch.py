"""Watches: `GET <collection>?watch=1`, a stream of `{"type": ..., "object": ...}` lines, as kubectl -w reads it.

Every write the store makes is remembered in `SimCluster.kube_events` (a bounded history, like etcd's before
compaction). A watch from resourceVersion R sends the changes after R; a watch without one (or "0") first
sends the current objects as ADDED, as the API server does. A resourceVersion older than the history gets
one ERROR event with a 410 Expired Status, which is what makes client-go informers relist.

The stream ends after `timeoutSeconds` (30 minutes when not given; the API server picks 30 to 60) or when
the sandbox stops. It polls the history every 50 ms without holding the world's lock between polls.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from migrator.sandbox.kube.store import KubeError, Resource, bad_request, list_objects, selector_matches
from migrator.sandbox.state import KubeEvent, SimCluster

DEFAULT_TIMEOUT_SECONDS = 30 * 60
POLL_SECONDS = 0.05
FIELD_LABELS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class FieldSelector:
    """Equality terms on metadata.name and metadata.namespace, the field labels every resource supports."""

    terms: tuple[tuple[str, bool, str], ...]  # (field label, must equal?, value)

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        terms = []
        for term in filter(None, (t.strip() for t in (text or "").split(","))):
            if "!=" in term:
                label, value = term.split("!=", 1)
                equal = False
            elif "=" in term:
                label, value = term.replace("==", "=").split("=", 1)
                equal = True
            else:
                raise bad_request(f'invalid field selector: "{term}": no operator')
            if label.strip() not in FIELD_LABELS:
                raise bad_request(f"field label not supported: {label.strip()}")
            terms.append((label.strip(), equal, value.strip()))
        return cls(tuple(terms))

    def matches(self, body: dict[str, Any]) -> bool:
        metadata = body.get("metadata") or {}
        fields = {"metadata.name": metadata.get("name", ""), "metadata.namespace": metadata.get("namespace", "")}
        return all((fields[label] == value) == equal for label, equal, value in self.terms)


@dataclass(frozen=True)
class WatchRequest:
    resource: Resource
    namespace: str | None  # None: every namespace (or a cluster-scoped resource)
    resource_version: str | None
    label_selector: str | None
    field_selector: FieldSelector
    timeout_seconds: float

    @classmethod
    def from_args(cls, resource: Resource, namespace: str | None, args: dict[str, str]) -> WatchRequest:
        timeout = args.get("timeoutSeconds")
        if timeout is not None and not timeout.isdigit():
            raise bad_request(f"timeoutSeconds must be a whole number of seconds, not {timeout!r}")
        version = args.get("resourceVersion") or None
        if version is not None and not version.isdigit():
            raise bad_request(f'invalid resource version "{version}"')
        return cls(
            resource=resource,
            namespace=namespace,
            resource_version=version,
            label_selector=args.get("labelSelector") or None,
            field_selector=FieldSelector.parse(args.get("fieldSelector")),
            timeout_seconds=float(timeout) if timeout else DEFAULT_TIMEOUT_SECONDS,
        )

    def wants(self, event: KubeEvent) -> bool:
        api_version, plural, namespace, _ = event.key
        if (api_version, plural) != (self.resource.api_version, self.resource.plural):
            return False
        if self.namespace is not None and self.resource.namespaced and namespace != self.namespace:
            return False
        return self._matches(event.body)

    def _matches(self, body: dict[str, Any]) -> bool:
        labels = (body.get("metadata") or {}).get("labels") or {}
        if self.label_selector and not selector_matches(self.label_selector, labels):
            return False
        return self.field_selector.matches(body)


def _line(kind: str, body: dict[str, Any]) -> bytes:
    return (json.dumps({"type": kind, "object": body}) + "\n").encode("utf-8")


def _expired(version: str, oldest: int) -> dict[str, Any]:
    return KubeError(410, "Expired", f"too old resource version: {version} ({oldest})").status()


def start(
    cluster: SimCluster,
    request: WatchRequest,
    lock: threading.RLock,
    closed: threading.Event,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[bytes]:
    """The initial events (computed now, under `lock`, which the caller holds) and a generator for the rest."""
    initial: list[bytes] = []
    history = cluster.kube_events
    if request.resource_version in (None, "0"):
        listed = list_objects(cluster, request.resource, request.namespace, request.label_selector)
        for item in listed["items"]:
            body = {"kind": request.resource.kind, "apiVersion": request.resource.api_version, **item}
            if request.field_selector.matches(body):
                initial.append(_line("ADDED", body))
        since = cluster.resource_version
    else:
        since = int(request.resource_version)
        if history.maxlen is not None and len(history) == history.maxlen and since < history[0].resource_version - 1:
            initial.append(_line("ERROR", _expired(request.resource_version, history[0].resource_version)))
            return iter(initial)
    return _stream(cluster, request, lock, closed, clock, initial, since)


def _stream(
    cluster: SimCluster,
    request: WatchRequest,
    lock: threading.RLock,
    closed: threading.Event,
    clock: Callable[[], float],
    initial: list[bytes],
    since: int,
) -> Iterator[bytes]:
    yield b""  # sends the response headers now: the client waits for them before it reads events
    yield from initial
    deadline = clock() + request.timeout_seconds
    while not closed.is_set() and clock() < deadline:
        with lock:
            fresh = [event for event in cluster.kube_events if event.resource_version > since]
        for event in fresh:
            since = event.resource_version
            if request.wants(event):
                yield _line(event.type, event.body)
        if not fresh:
            closed.wait(POLL_SECONDS)
