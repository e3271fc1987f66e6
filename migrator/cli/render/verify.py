"""`verify` output: a table per category for people, the verify/v1 JSON for tools. Pure functions."""

from __future__ import annotations

import json

from migrator.cli.render import clean
from migrator.proof.probes import ProbeVerdict
from migrator.proof.report import VerifyReport, report_to_dict
from migrator.proof.verify import Category, Verdict
from migrator.rules.identity import MASTERS_GROUP, IdentityTemplate

ORDER = (Category.MISSING, Category.DIFFERS, Category.EXTRA, Category.EKS_MADE, Category.EQUIVALENT)


def verify_json(report: VerifyReport) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)


def _identity(template: IdentityTemplate | None) -> str:
    if template is None:
        return "(no access)"
    groups = sorted(template.groups | ({MASTERS_GROUP} if template.cluster_admin else set()))
    policies = sorted(p.policy_name for p in template.other_policies)
    extra = f" + {', '.join(policies)}" if policies else ""
    return f"{template.username or '(empty username)'} [{', '.join(groups) or 'no groups'}]{extra}"


def _probe_line(probe: ProbeVerdict | None) -> str:
    if probe is None:
        return ""
    detail = "; ".join(probe.differences) or probe.reason
    return f"    probe: {probe.status.value}" + (f": {detail}" if detail else "")


def _lines(verdict: Verdict, probe: ProbeVerdict | None) -> list[str]:
    lines = [f"  {verdict.principal}"]
    if verdict.category is Category.EQUIVALENT and verdict.expected is not None:
        lines[0] += f"  {_identity(verdict.actual)}  via {verdict.actual_via}"
    else:
        if verdict.expected is not None or verdict.category is not Category.EQUIVALENT:
            via = f"  ({verdict.expected_via})" if verdict.expected_via else ""
            lines.append(f"    aws-auth gives: {_identity(verdict.expected)}{via}")
            via = f"  ({verdict.actual_via})" if verdict.actual_via else ""
            lines.append(f"    cluster gives:  {_identity(verdict.actual)}{via}")
        lines += [f"    - {d.describe()}" for d in verdict.differences]
    if verdict.note:
        lines.append(f"    note: {verdict.note}")
    if line := _probe_line(probe):
        lines.append(line)
    return lines


def verify_text(report: VerifyReport) -> str:
    cluster = report.cluster
    out = [
        f"verify {cluster.name} ({cluster.account}, {cluster.region}), mode {report.mode.value}",
        f"expected identities from {report.reference}; the cluster's as it answers now",
        "",
    ]
    for category in ORDER:
        verdicts = [v for v in report.result.verdicts if v.category is category]
        if not verdicts:
            continue
        out.append(f"{category.value} ({len(verdicts)}):")
        for verdict in verdicts:
            out += _lines(verdict, report.probes.get(verdict.principal))
        out.append("")
    counts = ", ".join(f"{n} {name}" for name, n in report.counts().items() if n)
    out.append(f"{'OK' if report.ok else 'DIFFERENCES FOUND'}: {counts or 'nothing to compare'}")
    return clean("\n".join(out), keep_newlines=True)
