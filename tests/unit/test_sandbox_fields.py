"""The sandbox's managedFields, as the API server keeps them: the default manager from the User-Agent, who owns
what after create/update/patch, and server-side apply (conflicts, force, shared fields, removal)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from migrator.sandbox.kube import fields

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"


@pytest.mark.parametrize(
    ("user_agent", "manager"),
    [
        ("HashiCorp/1.0 Terraform/1.9.8", "HashiCorp"),  # the kubernetes provider's kubernetes_config_map
        ("eksctl/v0.0.0 (linux/amd64) kubernetes/$Format", "eksctl"),  # client-go's default: the binary's name
        ("kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd", "kubectl"),
        ("OpenAPI-Generator/31.0.0/python", "OpenAPI-Generator"),
        ("no-slash at all", "no-slash at all"),
        ("tab\there\x00/1", "tabhere"),  # unprintable characters are dropped
        ("", ""),
        ("é" * 100 + "/1", "é" * 64),  # cut at 128 bytes, never inside a character
    ],
)
def test_the_default_manager_is_the_user_agent_up_to_its_first_slash(user_agent: str, manager: str) -> None:
    assert fields.manager_from_user_agent(user_agent) == manager


def test_an_explicit_field_manager_must_be_printable_and_short() -> None:
    assert fields.invalid_manager("Terraform") is None
    assert fields.invalid_manager("x" * 129) == "must be no more than 128 characters"
    assert fields.invalid_manager("a\nb") == "must only contain printable characters"


def config_map(data: dict[str, str], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system", "resourceVersion": "7", **metadata},
        "data": data,
    }


def owners(body: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [(e.manager, e.operation, sorted(".".join(p) for p in e.fields)) for e in fields.entries_of(body)]


def test_create_then_updates_move_each_changed_field_to_its_writer() -> None:
    created = config_map({"mapRoles": "a", "mapUsers": "b"})
    fields.track_update(None, created, "eksctl", "v1", NOW)
    assert owners(created) == [("eksctl", "Update", ["data.mapRoles", "data.mapUsers"])]
    assert created["metadata"]["managedFields"][0] == {
        "manager": "eksctl",
        "operation": "Update",
        "apiVersion": "v1",
        "time": NOW,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:mapRoles": {}, "f:mapUsers": {}}},
    }

    labelled = copy.deepcopy(created)
    labelled["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
    labelled["data"]["mapRoles"] = "changed"
    fields.track_update(created, labelled, "kubectl-edit", "v1", LATER)
    assert owners(labelled) == [
        ("eksctl", "Update", ["data.mapUsers"]),
        ("kubectl-edit", "Update", ["data.mapRoles", "metadata.labels.app.kubernetes.io/managed-by"]),
    ]

    emptied = copy.deepcopy(labelled)
    del emptied["data"]["mapUsers"]
    fields.track_update(labelled, emptied, "someone", "v1", LATER)
    assert owners(emptied) == [
        ("kubectl-edit", "Update", ["data.mapRoles", "metadata.labels.app.kubernetes.io/managed-by"])
    ]  # a removed field is nobody's; an entry owning nothing is dropped; a write that set nothing adds none

    unchanged = copy.deepcopy(emptied)
    fields.track_update(emptied, unchanged, "another", "v1", "2027-01-01T00:00:00Z")
    assert unchanged == emptied  # nothing changed: nothing recorded, not even a time


def test_server_side_apply_owns_its_configuration_and_conflicts_with_other_owners() -> None:
    live = config_map({"mapRoles": "a"})
    fields.track_update(None, live, "kubectl-create", "v1", NOW)

    same = fields.applied(live, config_map({"mapRoles": "a"}), "Terraform", force=False, api_version="v1", now=NOW)
    assert owners(same) == [
        ("kubectl-create", "Update", ["data.mapRoles"]),
        ("Terraform", "Apply", ["data.mapRoles"]),
    ]  # the same value: shared

    with pytest.raises(fields.ApplyConflict) as conflict:
        fields.applied(live, config_map({"mapRoles": "b"}), "Terraform", force=False, api_version="v1", now=NOW)
    assert str(conflict.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .data.mapRoles'
    )

    forced = fields.applied(live, config_map({"mapRoles": "b"}), "Terraform", force=True, api_version="v1", now=NOW)
    assert forced["data"] == {"mapRoles": "b"}
    assert owners(forced) == [("Terraform", "Apply", ["data.mapRoles"])]


def test_a_field_an_applier_stops_applying_is_removed_unless_someone_else_owns_it() -> None:
    live = config_map({"mapRoles": "a"})
    fields.created_by_apply(live, "Terraform", "v1", NOW)
    two = fields.applied(
        live, config_map({"mapRoles": "a", "mapUsers": "u"}), "Terraform", force=False, api_version="v1", now=NOW
    )
    assert owners(two) == [("Terraform", "Apply", ["data.mapRoles", "data.mapUsers"])]
    one = fields.applied(two, config_map({"mapRoles": "a"}), "Terraform", force=False, api_version="v1", now=LATER)
    assert one["data"] == {"mapRoles": "a"}

    shared = copy.deepcopy(two)
    shared["metadata"]["labels"] = {"x": "y"}
    fields.track_update(two, shared, "kubectl-label", "v1", LATER)
    nothing = {key: value for key, value in config_map({}).items() if key != "data"}
    kept = fields.applied(shared, nothing, "Terraform", force=False, api_version="v1", now=LATER)
    assert "data" not in kept and owners(kept) == [("kubectl-label", "Update", ["metadata.labels.x"])]
    assert kept["metadata"]["labels"] == {"x": "y"}  # the label was never Terraform's
