"""aws-auth ownership (AWS_AUTH_MANAGED): who re-applies aws-auth, as its metadata says; the finding; the
removal step it blocks until --accept-managed-aws-auth; the plan file. Hand-written metadata throughout."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from migrator.app import ClusterPorts, PlanRun, RunSettings, apply_plan
from migrator.awsauth import object_meta, parse_aws_auth
from migrator.errors import ConflictError, InputError, PlanIntegrityError, SourceError, StalePlanError
from migrator.model import (
    AuthMode,
    AwsAuth,
    ClusterRef,
    FieldManager,
    ObjectMeta,
    Plan,
    RemoveAwsAuth,
    SetMode,
    Severity,
    Snapshot,
)
from migrator.plan.planfile import body_sha256, plan_from_dict, plan_to_dict
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import live_snapshot
from migrator.rules.ownership import Owner, OwnerKind, owners_of
from migrator.run.observer import RunResult, StepStatus
from migrator.state.files import FileStore
from tests.support.arns import ACCOUNT
from tests.unit.fake_cluster import CREATED_AT, FakeCluster, FakeIam, make_plan, small_cluster
from tests.unit.runner import Runner

BOTH = frozenset({AuthMode.API_AND_CONFIG_MAP, AuthMode.API})
TRACKING = "argocd.argoproj.io/tracking-id"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
INSTANCE = "app.kubernetes.io/instance"
MANAGED_BY = "app.kubernetes.io/managed-by"


def meta(
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    managers: tuple[tuple[str, str], ...] = (),
) -> ObjectMeta:
    return ObjectMeta(
        tuple(sorted((labels or {}).items())),
        tuple(sorted((annotations or {}).items())),
        tuple(FieldManager(m, o) for m, o in managers),
    )


# --- detection ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (
            meta(annotations={TRACKING: "platform:/ConfigMap:kube-system/aws-auth"}),
            [Owner(OwnerKind.ARGO_CD, "application platform", (f"annotation {TRACKING}",))],
        ),
        (  # apps in any namespace: the tracking id's application is `<namespace>_<name>`
            meta(annotations={TRACKING: "argocd_platform:/ConfigMap:kube-system/aws-auth"}, labels={INSTANCE: "x"}),
            [Owner(OwnerKind.ARGO_CD, "application argocd_platform", (f"annotation {TRACKING}",))],
        ),
        (
            meta(labels={INSTANCE: "platform"}),
            [
                Owner(
                    OwnerKind.ARGO_CD,
                    "application platform",
                    (f"label {INSTANCE} (Argo CD's label tracking, or another tool that sets it)",),
                )
            ],
        ),
        (  # Argo CD's client-side sync writes last-applied-configuration too: it is Argo CD's, not a pipeline's
            meta(annotations={TRACKING: "platform:/ConfigMap:kube-system/aws-auth", LAST_APPLIED: "{}"}),
            [
                Owner(
                    OwnerKind.ARGO_CD,
                    "application platform",
                    (f"annotation {TRACKING}", f"annotation {LAST_APPLIED}"),
                )
            ],
        ),
        (
            meta(
                labels={
                    "kustomize.toolkit.fluxcd.io/name": "infra",
                    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
                    "helm.toolkit.fluxcd.io/name": "auth",
                },
                managers=(("kustomize-controller", "Apply"),),
            ),
            [
                Owner(
                    OwnerKind.FLUX,
                    "Kustomization flux-system/infra",
                    ("label kustomize.toolkit.fluxcd.io/name", "field manager kustomize-controller (Apply)"),
                ),
                Owner(OwnerKind.FLUX, "HelmRelease auth", ("label helm.toolkit.fluxcd.io/name",)),
            ],
        ),
        (  # a Helm chart's own instance label names its release: no Argo CD guess from it
            meta(
                labels={MANAGED_BY: "Helm", INSTANCE: "auth"},
                annotations={"meta.helm.sh/release-name": "auth", "meta.helm.sh/release-namespace": "kube-system"},
                managers=(("helm", "Update"),),
            ),
            [
                Owner(
                    OwnerKind.HELM,
                    "release kube-system/auth",
                    (
                        "annotation meta.helm.sh/release-name",
                        f"label {MANAGED_BY}: Helm",
                        "field manager helm (Update)",
                    ),
                )
            ],
        ),
        (  # the kubernetes provider: server-side apply as "Terraform", kubernetes_config_map by its User-Agent
            meta(managers=(("HashiCorp", "Update"), ("Terraform", "Apply"))),
            [
                Owner(
                    OwnerKind.TERRAFORM,
                    None,
                    ("field manager HashiCorp (Update)", "field manager Terraform (Apply)"),
                )
            ],
        ),
        (  # terraform-aws-eks v17
            meta(labels={MANAGED_BY: "Terraform", "terraform.io/module": "terraform-aws-modules.eks.aws"}),
            [
                Owner(
                    OwnerKind.TERRAFORM,
                    None,
                    (f"label {MANAGED_BY}: Terraform", "label terraform.io/module: terraform-aws-modules.eks.aws"),
                )
            ],
        ),
        (
            meta(managers=(("eksctl", "Update"), ("eksctl.exe", "Update"))),
            [Owner(OwnerKind.EKSCTL, None, ("field manager eksctl (Update)", "field manager eksctl.exe (Update)"))],
        ),
        (  # how the AWS docs have people create aws-auth: kubectl apply -f aws-auth-cm.yaml
            meta(annotations={LAST_APPLIED: "{}"}, managers=(("kubectl-client-side-apply", "Update"),)),
            [
                Owner(
                    OwnerKind.KUBECTL_APPLY,
                    None,
                    ("field manager kubectl-client-side-apply (Update)", f"annotation {LAST_APPLIED}"),
                )
            ],
        ),
        (
            meta(managers=(("kubectl", "Apply"),)),
            [Owner(OwnerKind.KUBECTL_APPLY, None, ("field manager kubectl (Apply)",))],
        ),
        (
            meta(labels={MANAGED_BY: "pulumi"}),
            [Owner(OwnerKind.OTHER, "pulumi", (f"label {MANAGED_BY}: pulumi",))],
        ),
        (  # people editing it, EKS adding node roles, controllers that do not own it: no owner
            meta(
                labels={"team": "platform", MANAGED_BY: " "},
                annotations={"note": "argocd"},
                managers=(("kubectl-edit", "Update"), ("kubectl", "Update"), ("eks", "Update"), ("", "Update")),
            ),
            [],
        ),
    ],
)
def test_owners_are_read_from_labels_annotations_and_field_managers(
    metadata: ObjectMeta, expected: list[Owner]
) -> None:
    assert list(owners_of(metadata)) == expected


def test_an_owner_says_who_and_what_to_do_first() -> None:
    [owner] = owners_of(meta(annotations={TRACKING: "platform:/ConfigMap:kube-system/aws-auth"}))
    assert owner.describe() == f"Argo CD (application platform), by annotation {TRACKING}"
    assert "argocd.argoproj.io/sync-options: Prune=false" in owner.first_step
    for kind in OwnerKind:
        assert Owner(kind, None, ("x",)).first_step  # every kind says what to do


# --- reading the metadata ----------------------------------------------------------------------------------

EXPORTED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
  labels:
    app.kubernetes.io/managed-by: Helm
  annotations:
    meta.helm.sh/release-name: auth
  managedFields:
  - manager: helm
    operation: Update
    fieldsV1: {f:data: {f:mapRoles: {}}}
  - manager: Terraform
    operation: Apply
data:
  mapRoles: |
    - rolearn: arn:aws:iam::111122223333:role/Admin
      username: admin
      groups: [system:masters]
"""


def test_an_exported_aws_auth_carries_its_labels_annotations_and_field_managers() -> None:
    parsed = parse_aws_auth(EXPORTED, "aws-auth.yaml")
    assert parsed.meta == meta(
        labels={MANAGED_BY: "Helm"},
        annotations={"meta.helm.sh/release-name": "auth"},
        managers=(("helm", "Update"), ("Terraform", "Apply")),
    )
    as_served = {"metadata": {"labels": {"a": "b"}, "managedFields": [{"manager": "eksctl", "operation": "Update"}]}}
    assert object_meta(as_served, "live") == meta(labels={"a": "b"}, managers=(("eksctl", "Update"),))


@pytest.mark.parametrize(
    ("replaced", "by", "line", "message"),
    [
        (
            "    app.kubernetes.io/managed-by: Helm\n",
            "    tier: 3\n",
            7,
            "metadata.labels: the string 'tier' must map to a string",
        ),
        ("  labels:\n    app.kubernetes.io/managed-by: Helm\n", "  labels: [a]\n", 6, "metadata.labels must map"),
        ("  - manager: Terraform\n    operation: Apply\n", "  - Terraform\n", 10, "metadata.managedFields[1]"),
        ("  labels:\n", "  Labels:\n", 6, "the key 'Labels' is 'labels' to some readers"),
    ],
)
def test_malformed_ownership_metadata_is_refused_with_its_line(replaced: str, by: str, line: int, message: str) -> None:
    assert replaced in EXPORTED
    with pytest.raises(SourceError) as refused:
        parse_aws_auth(EXPORTED.replace(replaced, by), "aws-auth.yaml")
    assert refused.value.file == "aws-auth.yaml" and refused.value.line == line
    assert message in refused.value.detail


# --- the finding and the removal step it blocks ------------------------------------------------------------

OWNED = meta(annotations={TRACKING: "platform:/ConfigMap:kube-system/aws-auth"})


def snapshot(owned: ObjectMeta = OWNED) -> Snapshot:
    aws_auth = parse_aws_auth(EXPORTED, "aws-auth.yaml")
    return Snapshot(
        cluster=ClusterRef("prod", "us-east-1", ACCOUNT),
        mode=AuthMode.CONFIG_MAP,
        aws_auth=dataclasses.replace(aws_auth, meta=owned),
        caller_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/me",
    )


def plan_of(*, remove: bool, accept: bool = False, owned: ObjectMeta = OWNED) -> Plan:
    target = AuthMode.API if remove else AuthMode.API_AND_CONFIG_MAP
    return build_plan(snapshot(owned), PlanOptions(target, remove, accept_managed_aws_auth=accept))


def managed(plan: Plan) -> list[tuple[Severity, str]]:
    return [(f.severity, f.message) for f in plan.findings if f.code == "AWS_AUTH_MANAGED"]


def test_a_managed_aws_auth_is_a_warning_naming_its_owner_and_what_to_do_first() -> None:
    [(severity, message)] = managed(plan_of(remove=False))
    assert severity is Severity.WARNING
    assert message.startswith(f"aws-auth is written by Argo CD (application platform), by annotation {TRACKING}")
    assert "First annotate aws-auth with argocd.argoproj.io/sync-options: Prune=false" in message
    assert managed(plan_of(remove=False, owned=ObjectMeta())) == []


def test_with_remove_aws_auth_it_blocks_the_removal_step_and_no_mode_switch() -> None:
    plan = plan_of(remove=True)
    [(severity, message)] = managed(plan)
    assert severity is Severity.BLOCKER and "refused until" in message and "--accept-managed-aws-auth" in message
    [removal] = [s for s in plan.steps if isinstance(s, RemoveAwsAuth)]
    assert [f.code for f in plan.gate_blockers(removal)] == ["AWS_AUTH_MANAGED"]
    assert [f.code for f in plan.blockers] == ["AWS_AUTH_MANAGED"]
    for gate in (s for s in plan.steps if isinstance(s, SetMode)):
        assert plan.gate_blockers(gate) == ()
    assert plan.api_blockers == ()
    assert [s["blocked"] for s in plan_to_dict(plan)["steps"] if s["kind"] == "set-mode"] == [False, False]


def test_accept_managed_aws_auth_makes_it_a_warning_and_is_kept_in_the_plan_file() -> None:
    plan = plan_of(remove=True, accept=True)
    [(severity, message)] = managed(plan)
    assert severity is Severity.WARNING and "--accept-managed-aws-auth says this is done" in message
    removal = next(s for s in plan.steps if isinstance(s, RemoveAwsAuth))
    assert plan.gate_blockers(removal) == ()
    data = json.loads(json.dumps(plan_to_dict(plan)))
    assert data["acceptManagedAwsAuth"] is True
    read = plan_from_dict(data)
    assert read.accept_managed_aws_auth and plan_to_dict(read) == plan_to_dict(plan)
    assert "acceptManagedAwsAuth" not in plan_to_dict(plan_of(remove=True))  # other plan files stay as they were
    with pytest.raises(InputError, match="goes with --remove-aws-auth"):
        plan_of(remove=False, accept=True)


def test_a_plan_file_whose_acceptance_is_not_a_boolean_is_refused() -> None:
    data = json.loads(json.dumps(plan_to_dict(plan_of(remove=True, accept=True))))
    data["acceptManagedAwsAuth"] = "yes"
    data["integrity"]["sha256"] = body_sha256(data)
    with pytest.raises(PlanIntegrityError, match="acceptManagedAwsAuth is 'yes'"):
        plan_from_dict(data)


# --- apply: the removal step reads the owners again right before it deletes aws-auth -----------------------


def owned_by(fake: FakeCluster, metadata: dict[str, object]) -> None:
    """aws-auth gains ownership marks without another resourceVersion (as only a test can arrange: the API
    server would give it a new one, which the stale check sees first)."""
    assert fake.config_map is not None
    raw = {**fake.config_map.raw, "metadata": {**fake.config_map.raw["metadata"], **metadata}}
    fake.config_map = dataclasses.replace(fake.config_map, raw=raw)


def test_apply_refuses_to_delete_a_managed_aws_auth_until_accepted_at_apply(tmp_path: Path) -> None:
    fake = small_cluster()
    owned_by(fake, {"labels": {"kustomize.toolkit.fluxcd.io/name": "infra"}})
    plan = make_plan(fake, remove_aws_auth=True)
    assert [f.severity for f in plan.findings if f.code == "AWS_AUTH_MANAGED"] == [Severity.BLOCKER]

    refused = Runner(plan, fake, tmp_path, approvals=BOTH).apply()
    assert refused.result is RunResult.FAILED and refused.exit_code == ConflictError.exit_code
    assert isinstance(refused.error, ConflictError) and "Flux (Kustomization infra)" in str(refused.error)
    assert fake.mode is AuthMode.API and fake.config_map is not None  # both gates passed; aws-auth kept
    removal = next(s for s in plan.steps if isinstance(s, RemoveAwsAuth))
    assert {s.id: s.status for s in refused.steps}[removal.id] is StepStatus.FAILED

    done = Runner(plan, fake, tmp_path, approvals=BOTH, accept_managed_aws_auth=True).apply()
    assert done.result is RunResult.COMPLETED and fake.config_map is None


def test_apply_plans_again_and_sees_an_owner_that_came_after_the_plan(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, remove_aws_auth=True)  # nobody owned it then
    assert not [f for f in plan.findings if f.code == "AWS_AUTH_MANAGED"]
    owned_by(fake, {"managedFields": [{"manager": "eksctl", "operation": "Update"}]})
    with pytest.raises(StalePlanError, match="missing from the file: AWS_AUTH_MANAGED"):
        Runner(plan, fake, tmp_path, approvals=BOTH).apply()
    assert fake.mode is AuthMode.CONFIG_MAP and fake.mutating_calls() == []


def test_the_removal_step_reads_the_owners_of_aws_auth_again_right_before_deleting_it(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake, remove_aws_auth=True)  # nobody owned it then
    api_gate = next(s for s in plan.steps if isinstance(s, SetMode) and s.mode is AuthMode.API)
    first = Runner(plan, fake, tmp_path, approvals=BOTH, until=api_gate.id).apply()
    assert first.exit_code == 0 and fake.mode is AuthMode.API
    owned_by(fake, {"managedFields": [{"manager": "Terraform", "operation": "Apply"}]})
    refused = Runner(plan, fake, tmp_path, approvals=BOTH).apply()  # a resume: no plan again
    assert isinstance(refused.error, ConflictError) and "Terraform, by field manager Terraform" in str(refused.error)
    assert refused.error.hint is not None and "--accept-managed-aws-auth" in refused.error.hint
    assert fake.config_map is not None
    assert "delete_config_map" not in fake.ops()


def test_a_plan_made_with_the_acceptance_removes_a_managed_aws_auth(tmp_path: Path) -> None:
    fake = small_cluster()
    owned_by(fake, {"annotations": {LAST_APPLIED: "{}"}})
    made = build_plan(
        live_snapshot(fake, fake, FakeIam(), aws_auth_label="kube-system/aws-auth"),
        PlanOptions(AuthMode.API, remove_aws_auth=True, created_at=CREATED_AT, accept_managed_aws_auth=True),
    )
    plan = plan_from_dict(json.loads(json.dumps(plan_to_dict(made))))  # as apply reads it from the file
    fake.reset_calls()
    done = Runner(plan, fake, tmp_path, approvals=BOTH).apply()
    assert done.result is RunResult.COMPLETED and fake.config_map is None


def test_apply_refuses_the_acceptance_for_a_plan_that_removes_no_aws_auth(tmp_path: Path) -> None:
    fake = small_cluster()
    plan = make_plan(fake)
    with pytest.raises(InputError, match="this plan does not remove aws-auth"):
        apply_plan(
            PlanRun.of(plan, FileStore(tmp_path)),
            ClusterPorts(fake, fake, FakeIam()),
            RunSettings(accept_managed_aws_auth=True),
        )
    assert fake.mutating_calls() == []


def test_an_offline_plan_of_an_exported_file_names_each_owner_once() -> None:
    aws_auth: AwsAuth = parse_aws_auth(EXPORTED, "aws-auth.yaml")
    plan = build_plan(
        Snapshot(ClusterRef("prod", "us-east-1", ACCOUNT), AuthMode.CONFIG_MAP, aws_auth, offline=True),
        PlanOptions(),
    )
    messages = [message for _, message in managed(plan)]
    assert [m.split(";")[0] for m in messages] == [
        "aws-auth is written by Helm (release auth), by annotation meta.helm.sh/release-name",
        "aws-auth is written by Terraform, by field manager Terraform (Apply)",
    ]
