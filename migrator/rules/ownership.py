"""Who else writes aws-auth: GitOps controllers, Helm, Terraform, eksctl or a `kubectl apply` pipeline.

Such an owner re-applies aws-auth: deleting it (`--remove-aws-auth`) is undone minutes later by the
controller, and Terraform's next apply recreates it or fails. The evidence is in the object's metadata,
as each tool leaves it (eks-facts.md section 4b; names looked up in the tools' sources):

- Argo CD: annotation `argocd.argoproj.io/tracking-id` (`<app>:<group>/<kind>:<namespace>/<name>`), or in
  label tracking mode the label `app.kubernetes.io/instance: <app>`; field manager `argocd-controller`
  (server-side apply syncs, `common.ArgoCDSSAManager`) or `argocd-application-controller` *(inferred)*.
- Flux: labels `kustomize.toolkit.fluxcd.io/name|namespace` and `helm.toolkit.fluxcd.io/name|namespace`;
  field managers `kustomize-controller` and `helm-controller`.
- Helm: label `app.kubernetes.io/managed-by: Helm`, annotations `meta.helm.sh/release-name|namespace`; field
  manager `helm` (Helm uses its binary's name, `pkg/kube/client.go` getManagedFieldsManager).
- Terraform's kubernetes provider: field manager `Terraform` (the default `field_manager` of its server-side
  apply resources: kubernetes_config_map_v1_data, kubernetes_labels, kubernetes_annotations,
  kubernetes_manifest) or `HashiCorp` (kubernetes_config_map sets no manager; the API server takes the
  User-Agent up to its first '/', and the provider's is `HashiCorp/1.0 Terraform/<version>`); the
  terraform-aws-eks module (v17) labels it `app.kubernetes.io/managed-by: Terraform`, `terraform.io/module`.
- eksctl: field manager `eksctl` (it sets no manager nor User-Agent: client-go's default User-Agent starts
  with the binary's name).
- `kubectl apply`: field manager `kubectl-client-side-apply` (or `kubectl` with operation Apply for
  `--server-side`), annotation `kubectl.kubernetes.io/last-applied-configuration`: someone applies it from
  a file, by hand or from a pipeline.
- Anything else that says so in `app.kubernetes.io/managed-by` (pulumi, ...).

Detection only adds caution: an aws-auth without any of these may still be owned by something that leaves
no trace, and the absence of evidence is never taken as evidence of anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from migrator.model import ObjectMeta


class OwnerKind(StrEnum):
    ARGO_CD = "Argo CD"
    FLUX = "Flux"
    HELM = "Helm"
    TERRAFORM = "Terraform"
    EKSCTL = "eksctl"
    KUBECTL_APPLY = "kubectl apply"
    OTHER = "another tool"


# What to do before aws-auth can be deleted for good, per kind: change the source without letting the
# controller delete aws-auth itself before the migration is through (a prune would be a lockout in
# CONFIG_MAP or API_AND_CONFIG_MAP).
FIRST_STEPS: dict[OwnerKind, str] = {
    OwnerKind.ARGO_CD: "annotate aws-auth with argocd.argoproj.io/sync-options: Prune=false (so that Argo CD does "
    "not delete it), then remove it from the application's source",
    OwnerKind.FLUX: "annotate aws-auth with kustomize.toolkit.fluxcd.io/prune: disabled (so that Flux does not "
    "delete it), then remove it from the Kustomization's or HelmRelease's source",
    OwnerKind.HELM: "annotate aws-auth with helm.sh/resource-policy: keep (so that Helm does not delete it), then "
    "remove it from the chart",
    OwnerKind.TERRAFORM: "remove aws-auth from the Terraform configuration without destroying it (terraform state "
    "rm, or a removed block with destroy = false); with terraform-aws-eks, stop managing aws-auth there",
    OwnerKind.EKSCTL: "stop writing aws-auth with eksctl (create iamidentitymapping, node groups made in "
    "CONFIG_MAP mode): after the switch, eksctl manages access entries",
    OwnerKind.KUBECTL_APPLY: "remove aws-auth from the files and pipelines that kubectl apply it (if it was "
    "applied once by hand, there is nothing to change)",
    OwnerKind.OTHER: "stop that tool from applying aws-auth",
}


@dataclass(frozen=True)
class Owner:
    """One writer of aws-auth: its kind, what the evidence names (an Argo CD application, a Flux
    Kustomization, a Helm release, a field manager), and the evidence itself."""

    kind: OwnerKind
    name: str | None
    evidence: tuple[str, ...]

    def describe(self) -> str:
        named = f" ({self.name})" if self.name else ""
        return f"{self.kind.value}{named}, by {'; '.join(self.evidence)}"

    @property
    def first_step(self) -> str:
        return FIRST_STEPS[self.kind]


ARGO_TRACKING_ID = "argocd.argoproj.io/tracking-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
HELM_RELEASE_NAME = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
TERRAFORM_MODULE_LABEL = "terraform.io/module"
FLUX_LABELS: tuple[tuple[str, str], ...] = (
    ("kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace"),
    ("helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace"),
)
MANAGED_BY_KINDS = {"helm": OwnerKind.HELM, "terraform": OwnerKind.TERRAFORM, "eksctl": OwnerKind.EKSCTL}
# Field managers, lower-cased (matched without case: more caution is fine), ".exe" left off (Windows binaries).
MANAGER_KINDS: dict[str, OwnerKind] = {
    "argocd-controller": OwnerKind.ARGO_CD,
    "argocd-application-controller": OwnerKind.ARGO_CD,
    "kustomize-controller": OwnerKind.FLUX,
    "helm-controller": OwnerKind.FLUX,
    "helm": OwnerKind.HELM,
    "terraform": OwnerKind.TERRAFORM,
    "hashicorp": OwnerKind.TERRAFORM,
    "eksctl": OwnerKind.EKSCTL,
    "kubectl-client-side-apply": OwnerKind.KUBECTL_APPLY,
}


class _Found:
    """Owners as the evidence accumulates: one per kind and name, in the order first seen."""

    def __init__(self) -> None:
        self._owners: dict[tuple[OwnerKind, str | None], list[str]] = {}

    def add(self, kind: OwnerKind, name: str | None, evidence: str) -> None:
        self._owners.setdefault((kind, name), []).append(evidence)

    def add_to_kind(self, kind: OwnerKind, evidence: str) -> None:
        """Evidence that names no instance (a field manager): the first owner of that kind, else a new one."""
        key = next((k for k in self._owners if k[0] is kind), (kind, None))
        self._owners.setdefault(key, []).append(evidence)

    def has(self, kind: OwnerKind) -> bool:
        return any(k[0] is kind for k in self._owners)

    def owners(self) -> tuple[Owner, ...]:
        return tuple(Owner(kind, name, tuple(evidence)) for (kind, name), evidence in self._owners.items())


def owners_of(meta: ObjectMeta) -> tuple[Owner, ...]:
    """Everything the metadata says writes the object, one Owner per tool and instance (no evidence: none)."""
    labels, annotations = dict(meta.labels), dict(meta.annotations)
    found = _Found()
    _argo_cd(labels, annotations, found)
    _flux(labels, found)
    _helm_and_managed_by(labels, annotations, found)
    for manager in meta.managers:
        _field_manager(manager.manager, manager.operation, found)
    if LAST_APPLIED in annotations:
        # Argo CD's default (client-side) sync writes it too: then it is Argo CD's doing.
        kind = OwnerKind.ARGO_CD if found.has(OwnerKind.ARGO_CD) else OwnerKind.KUBECTL_APPLY
        found.add_to_kind(kind, f"annotation {LAST_APPLIED}")
    return found.owners()


def _argo_cd(labels: dict[str, str], annotations: dict[str, str], found: _Found) -> None:
    tracking = annotations.get(ARGO_TRACKING_ID)
    if tracking is not None:
        found.add(OwnerKind.ARGO_CD, f"application {tracking.split(':', 1)[0]}", f"annotation {ARGO_TRACKING_ID}")
        return
    instance = labels.get(INSTANCE_LABEL)
    if instance is None or instance == annotations.get(HELM_RELEASE_NAME):
        return  # a Helm chart's own instance label names its release: Helm's evidence says that already
    found.add(
        OwnerKind.ARGO_CD,
        f"application {instance}",
        f"label {INSTANCE_LABEL} (Argo CD's label tracking, or another tool that sets it)",
    )


def _flux(labels: dict[str, str], found: _Found) -> None:
    for name_label, namespace_label in FLUX_LABELS:
        name = labels.get(name_label)
        if name is None:
            continue
        what = "Kustomization" if name_label.startswith("kustomize") else "HelmRelease"
        namespace = labels.get(namespace_label)
        found.add(OwnerKind.FLUX, f"{what} {namespace + '/' if namespace else ''}{name}", f"label {name_label}")


def _helm_and_managed_by(labels: dict[str, str], annotations: dict[str, str], found: _Found) -> None:
    release = annotations.get(HELM_RELEASE_NAME)
    if release is not None:
        namespace = annotations.get(HELM_RELEASE_NAMESPACE)
        found.add(
            OwnerKind.HELM,
            f"release {namespace + '/' if namespace else ''}{release}",
            f"annotation {HELM_RELEASE_NAME}",
        )
    managed_by = labels.get(MANAGED_BY_LABEL)
    if managed_by is not None and managed_by.strip():
        kind = MANAGED_BY_KINDS.get(managed_by.strip().lower(), OwnerKind.OTHER)
        evidence = f"label {MANAGED_BY_LABEL}: {managed_by}"
        if kind is OwnerKind.OTHER:
            found.add(kind, managed_by, evidence)
        else:
            found.add_to_kind(kind, evidence)
    module = labels.get(TERRAFORM_MODULE_LABEL)
    if module is not None:
        found.add_to_kind(OwnerKind.TERRAFORM, f"label {TERRAFORM_MODULE_LABEL}: {module}")


def _field_manager(manager: str, operation: str, found: _Found) -> None:
    key = manager.strip().lower().removesuffix(".exe")
    kind = MANAGER_KINDS.get(key)
    if kind is None and key == "kubectl" and operation == "Apply":
        kind = OwnerKind.KUBECTL_APPLY  # `kubectl apply --server-side` (its default field manager)
    if kind is not None:
        found.add_to_kind(kind, f"field manager {manager} ({operation or 'no operation'})")
