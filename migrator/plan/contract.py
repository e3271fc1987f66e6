"""Access entries and policies as the JSON contract spells them (plan files, step params, `--output json`)."""

from __future__ import annotations

from typing import Any

from migrator.model import AccessEntrySpec, PolicyAssociation


def policy_to_dict(policy: PolicyAssociation) -> dict[str, Any]:
    return {
        "policyArn": policy.policy_arn,
        "accessScope": {"type": policy.scope.type.value, "namespaces": list(policy.scope.namespaces)},
    }


def entry_to_dict(spec: AccessEntrySpec) -> dict[str, Any]:
    return {
        "principalArn": spec.principal_arn,
        "type": spec.type.value,
        "username": spec.username,
        "kubernetesGroups": list(spec.groups),
        "policies": [policy_to_dict(p) for p in spec.policies],
    }
