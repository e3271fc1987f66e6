"""A verify run's report, and its JSON contract (`schema: aws-auth-migrate/verify/v1`).

The JSON is for tools (CI jobs on a schedule, dashboards): keys are stable, new keys may be added, none
renamed. Every principal appears once with its category, both identities, and the exact differences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from migrator.model import AuthMode, ClusterRef, ScopeType
from migrator.proof.probes import ProbeStatus, ProbeVerdict
from migrator.proof.verify import Category, Verdict, VerifyResult
from migrator.rules.identity import IdentityTemplate

VERIFY_SCHEMA = "aws-auth-migrate/verify/v1"


@dataclass(frozen=True)
class VerifyReport:
    cluster: ClusterRef
    mode: AuthMode
    reference: str  # where the expected identities came from: the live aws-auth, a file, a backup
    result: VerifyResult
    probes: Mapping[str, ProbeVerdict] = field(default_factory=dict)  # principal -> what its probe found
    probed: bool = False

    @property
    def ok(self) -> bool:
        """Exit 0: every identity is what aws-auth gave, and no probe contradicts the model."""
        return self.result.ok and not any(p.status is ProbeStatus.DISAGREES for p in self.probes.values())

    def counts(self) -> dict[str, int]:
        counts = {category.value: self.result.count(category) for category in Category}
        if self.probed:
            for status in ProbeStatus:
                counts[f"probe-{status.value}"] = sum(p.status is status for p in self.probes.values())
        return counts


def _identity(template: IdentityTemplate | None) -> dict[str, Any] | None:
    if template is None:
        return None
    return {
        "username": template.username,
        "groups": sorted(template.groups),
        "clusterAdmin": template.cluster_admin,
        "policies": [
            {
                "policyArn": p.policy_arn,
                "accessScope": {"type": p.scope.type.value}
                | ({"namespaces": list(p.scope.namespaces)} if p.scope.type is ScopeType.NAMESPACE else {}),
            }
            for p in sorted(template.other_policies, key=lambda p: (p.policy_arn, p.scope.namespaces))
        ],
    }


def _probe(verdict: ProbeVerdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    seen = verdict.observation
    return {
        "status": verdict.status.value,
        "authenticated": seen.authenticated if seen.probed else None,
        "username": seen.username if seen.authenticated else None,
        "groups": list(seen.groups) if seen.authenticated else None,
        "differences": list(verdict.differences),
        "reason": verdict.reason or None,
    }


def _principal(verdict: Verdict, probe: ProbeVerdict | None) -> dict[str, Any]:
    return {
        "principal": verdict.principal,
        "category": verdict.category.value,
        "expected": _identity(verdict.expected),
        "expectedVia": verdict.expected_via or None,
        "actual": _identity(verdict.actual),
        "actualVia": verdict.actual_via or None,
        "differences": [{"field": d.field, "expected": d.expected, "actual": d.actual} for d in verdict.differences],
        "note": verdict.note or None,
        "probe": _probe(probe),
    }


def report_to_dict(report: VerifyReport) -> dict[str, Any]:
    cluster = report.cluster
    return {
        "schema": VERIFY_SCHEMA,
        "cluster": {"name": cluster.name, "region": cluster.region, "account": cluster.account},
        "authenticationMode": report.mode.value,
        "reference": report.reference,
        "ok": report.ok,
        "counts": report.counts(),
        "principals": [_principal(v, report.probes.get(v.principal)) for v in report.result.verdicts],
    }
