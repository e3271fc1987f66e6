"""Usage evidence in a plan: read the authenticator log through the `SignInLog` port, and turn what it says
into findings next to the mappings they are about.

Silence is evidence only when the log exists: without it (logging off, no log group) the plan says so once
(USAGE_EVIDENCE_UNAVAILABLE) and concludes nothing about unused mappings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from migrator.model import Finding, PrincipalUsage, Snapshot, UsageEvidence
from migrator.plan.translate import Translation
from migrator.ports import SignInLog
from migrator.rules.arn import Arn, ArnError, PrincipalKind, parse_arn
from migrator.rules.findings import finding
from migrator.rules.usage import evidence, iso, unavailable

ENABLE_HINT = "enable the authenticator control-plane log"


def read_usage(
    log: SignInLog, *, logging_enabled: bool, cluster: str, since: datetime, until: datetime
) -> UsageEvidence:
    """The sign-ins of [since, until]; unavailable when the cluster does not log them."""
    if not logging_enabled:
        return unavailable(since, until, f"cluster {cluster} does not send the authenticator log to CloudWatch Logs")
    events = log.authenticator_events(since, until)
    if events is None:
        return unavailable(since, until, f"the log group /aws/eks/{cluster}/cluster does not exist")
    return evidence(events, since, until)


def _window(usage: UsageEvidence) -> str:
    return f"{iso(usage.since)} to {iso(usage.until)}"


def mapping_snippet(principal: PrincipalUsage, parsed: Arn) -> str | None:
    """The aws-auth mapping that gives `principal` (its ARN `parsed`) what mapAccounts gives it today
    (username = its ARN, no groups), one line of YAML to paste under mapRoles or mapUsers; None for an ARN that
    is neither."""
    if parsed.kind is PrincipalKind.ROLE:
        section, key = "mapRoles", "rolearn"
    elif parsed.kind is PrincipalKind.USER:
        section, key = "mapUsers", "userarn"
    else:
        return None
    arn = json.dumps(principal.arn)
    return f"{section}: - {{{key}: {arn}, username: {arn}, groups: []}}"


def _only_map_accounts(principal: PrincipalUsage) -> bool:
    """mapAccounts gives the canonical ARN as username and no group; anything else came another way."""
    return (
        principal.count > 0
        and not principal.groups
        and all(name.lower() == principal.arn.lower() for name in principal.usernames)
    )


def usage_findings(snapshot: Snapshot, translations: Sequence[Translation], winners: set[int]) -> list[Finding]:
    """What the evidence says about the mappings (`winners`: the translations the authenticator uses)."""
    usage = snapshot.usage
    if usage is None:
        return []
    if not usage.available:
        return [finding("USAGE_EVIDENCE_UNAVAILABLE", f"usage evidence unavailable: {usage.reason}; {ENABLE_HINT}")]
    found: list[Finding] = []
    if usage.malformed:
        unreadable = f"{usage.malformed} of {usage.lines} authenticator log lines were unreadable"
        found.append(finding("USAGE_LOG_MALFORMED", unreadable))
    for index in sorted(winners):
        mapping = translations[index].mapping
        if usage.used(mapping.arn) is None:
            found.append(
                finding(
                    "UNUSED_MAPPING",
                    f"no sign-in by {mapping.arn} from {_window(usage)}",
                    principal_arn=mapping.arn,
                    source=mapping.source,
                )
            )
    live = {t.mapping.arn_key for t in translations if not t.dead}
    dead = {t.mapping.arn_key: t for t in translations if t.dead}
    with_entries = {_key(e.principal_arn) for e in snapshot.entries}
    accounts = {a.account for a in snapshot.aws_auth.map_accounts}
    for principal in usage.principals:
        key = principal.arn.lower()
        if principal.count == 0 or key in live:
            continue
        if key in dead:
            mapping = dead[key].mapping
            found.append(
                finding(
                    "DEAD_MAPPING_SIGN_IN",
                    f"{principal.arn} signed in {principal.count} times (last {iso(principal.last_seen)}) although "
                    f"its mapping at {mapping.source.where()} is skipped as dead",
                    principal_arn=principal.arn,
                    source=mapping.source,
                )
            )
            continue
        arn = _parsed(principal.arn)  # once: the log's ARN is no mapping's, nobody parsed it before
        if (principal.arn.lower() if arn is None else arn.principal_key) in with_entries:
            continue
        if arn is None or not _only_map_accounts(principal):
            continue
        snippet = mapping_snippet(principal, arn)
        if snippet is not None and arn.account in accounts:
            found.append(
                finding(
                    "MAP_ACCOUNTS_SIGN_IN",
                    f"{principal.arn} signed in {principal.count} times through mapAccounts only (last "
                    f"{iso(principal.last_seen)}); to keep its access, add to aws-auth {snippet}",
                    principal_arn=principal.arn,
                )
            )
    return found


def _key(arn_text: str) -> tuple[str, str, str, str] | str:
    try:
        return parse_arn(arn_text).principal_key
    except ArnError:
        return arn_text.lower()


def _parsed(arn_text: str) -> Arn | None:
    try:
        return parse_arn(arn_text)
    except ArnError:
        return None
