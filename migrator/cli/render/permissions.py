"""`show --iam-policy`: the runner's IAM policy and Kubernetes Role of a plan, as text. Pure functions.

Text output is one YAML stream of two documents: the IAM policy as JSON (JSON is YAML, so the stream stays
valid YAML and the first document pastes as is into IAM), then `---`, then the Role as YAML for `kubectl
apply -f`. JSON output is one object: {"iamPolicy": ..., "kubernetesRole": ...}. A plan that reviewed RBAC
(`plan --rbac`, the default) adds a third document, the ClusterRole that reads RBAC (apply plans again before
its first step, so it reads RBAC too): `kubernetesClusterRole` in JSON. A run whose state is in S3 adds the S3
(and KMS) statements of that state to the IAM policy (migrator/rules/state_permissions.py).
"""

from __future__ import annotations

import io
import json

from ruamel.yaml import YAML

from migrator.model import Plan
from migrator.rules.permissions import iam_policy, kube_cluster_role, kube_role
from migrator.rules.state_permissions import StateGrant

DOCUMENT_SEPARATOR = "---"


def permissions_text(plan: Plan, state: StateGrant | None = None) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    role = io.StringIO()
    yaml.dump(kube_role(plan), role)
    text = f"{json.dumps(iam_policy(plan, state), indent=2)}\n{DOCUMENT_SEPARATOR}\n{role.getvalue().rstrip()}"
    if (cluster_role := kube_cluster_role(plan)) is not None:
        reader = io.StringIO()
        yaml.dump(cluster_role, reader)
        text += f"\n{DOCUMENT_SEPARATOR}\n{reader.getvalue().rstrip()}"
    return text


def permissions_json(plan: Plan, state: StateGrant | None = None) -> str:
    data = {"iamPolicy": iam_policy(plan, state), "kubernetesRole": kube_role(plan)}
    if (cluster_role := kube_cluster_role(plan)) is not None:
        data["kubernetesClusterRole"] = cluster_role
    return json.dumps(data, indent=2)
