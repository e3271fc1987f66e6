"""build_plan(snapshot, options) -> Plan. Pure: no I/O, no clock; the same input gives the same plan.

The translator handles one mapping at a time; here live the rules that need the whole picture: which of
several mappings for a principal wins, what existing and EKS-created entries mean, the quota, the platform
version, whether the caller keeps admin, and the ordered steps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from migrator import __version__
from migrator.errors import InputError
from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    EntryAction,
    EntryType,
    Finding,
    Fingerprint,
    IamAnswer,
    LookupStatus,
    Plan,
    PlannedEntry,
    PrincipalLookup,
    Section,
    Severity,
    Snapshot,
    SourceRef,
)
from migrator.plan.build_steps import build_steps
from migrator.plan.rbac_review import ReviewOptions, review
from migrator.plan.translate import Translation, TranslationContext, translate
from migrator.plan.usage import usage_findings
from migrator.rules import identity
from migrator.rules.arn import ArnError, mapping_arn, parse_arn
from migrator.rules.findings import finding
from migrator.rules.fingerprint import entries_digest
from migrator.rules.limits import MAX_ENTRIES_PER_CLUSTER, MIN_PLATFORM_VERSION
from migrator.rules.ownership import owners_of


@dataclass(frozen=True)
class PlanOptions:
    target: AuthMode = AuthMode.API_AND_CONFIG_MAP
    remove_aws_auth: bool = False
    created_at: str = ""
    tool_version: str = __version__
    prefer_access_policies: bool = False  # needs the cluster's RBAC (a live plan with --rbac)
    accept_narrowing: bool = False
    accept_managed_aws_auth: bool = False  # the owner's source no longer holds aws-auth: remove it all the same


def build_plan(snapshot: Snapshot, options: PlanOptions) -> Plan:
    if options.target.rank < snapshot.mode.rank:
        raise InputError(
            f"cluster {snapshot.cluster.name} is already in {snapshot.mode.value}; EKS cannot go back to "
            f"{options.target.value}",
            hint=f"use --target {snapshot.mode.value} or later",
        )
    if options.remove_aws_auth and options.target is not AuthMode.API:
        raise InputError("--remove-aws-auth needs --target API: aws-auth still authenticates principals before that")
    if options.accept_narrowing and not options.prefer_access_policies:
        raise InputError("--accept-narrowing goes with --prefer-access-policies")
    if options.accept_managed_aws_auth and not options.remove_aws_auth:
        raise InputError("--accept-managed-aws-auth goes with --remove-aws-auth: only deleting aws-auth needs it")
    if options.prefer_access_policies and (snapshot.rbac is None or not snapshot.rbac.available):
        raise InputError(
            "--prefer-access-policies compares groups with access policies through the cluster's RBAC, which "
            + ("this plan did not read" if snapshot.rbac is None else f"could not be read ({snapshot.rbac.reason})"),
            hint="plan against the cluster with --rbac and list permission on RBAC objects",
        )
    findings: list[Finding] = []
    keys = _PrincipalKeys()
    ctx = TranslationContext(
        cluster=snapshot.cluster,
        iam=snapshot.iam,
        offline=snapshot.offline,
        pod_execution_roles=frozenset(keys(p.pod_execution_role) for p in snapshot.fargate_profiles),
        uses_hybrid_nodes=snapshot.uses_hybrid_nodes,
    )
    translations = [translate(m, ctx) for m in snapshot.aws_auth.mappings]
    keys.learn(translations)
    for translation in translations:
        findings.extend(translation.findings)
    winners = _winners(translations, findings)
    entries = _planned_entries(snapshot, translations, winners, findings, keys)
    entries, reviewed = review(
        snapshot, translations, entries, ReviewOptions(options.prefer_access_policies, options.accept_narrowing)
    )
    findings.extend(reviewed)
    for account in snapshot.aws_auth.map_accounts:
        findings.append(
            finding(
                "MAP_ACCOUNTS",
                f"mapAccounts lets every principal of account {account.account} in; only principals with "
                "explicit mappings are migrated",
                source=account.source,
            )
        )
    for ignored in snapshot.aws_auth.ignored_sections:
        where = f" ({ignored.file}:{ignored.line})" if ignored.file and ignored.line else ""
        findings.append(
            finding(
                "DEAD_SECTION",
                f"the authenticator reads nobody from {ignored.section.value}{where}: {ignored.why}; nobody in it "
                "has access today, and nothing in it is migrated",
            )
        )
    findings.extend(_cluster_findings(snapshot, entries, options, keys))
    if snapshot.cluster.region is None:
        findings.append(
            finding(
                "PARTITION_INFERRED",
                f"no --region: the cluster's partition {snapshot.cluster.partition} is inferred from aws-auth's ARNs "
                "and the plan records no region",
            )
        )
    if snapshot.mode is AuthMode.API:
        findings.append(finding("ALREADY_API", f"{snapshot.cluster.name} is already in API mode: aws-auth is ignored"))
    findings.extend(ownership_findings(snapshot, options))
    findings.extend(usage_findings(snapshot, translations, winners))
    findings = _unique(findings)
    steps = build_steps(snapshot, options.target, options.remove_aws_auth, entries)
    return Plan(
        cluster=snapshot.cluster,
        current_mode=snapshot.mode,
        target=options.target,
        fingerprint=fingerprint_of(snapshot),
        entries=tuple(entries),
        findings=tuple(findings),
        steps=steps,
        remove_aws_auth=options.remove_aws_auth,
        caller_arn=snapshot.caller_arn,
        created_at=options.created_at,
        tool_version=options.tool_version,
        usage=snapshot.usage,
        rbac=snapshot.rbac is not None,
        prefer_access_policies=options.prefer_access_policies,
        accept_narrowing=options.accept_narrowing,
        accept_managed_aws_auth=options.accept_managed_aws_auth,
        iam=iam_answers(snapshot),
    )


def iam_answers(snapshot: Snapshot) -> tuple[IamAnswer, ...]:
    """IAM's answer for each principal aws-auth names, in aws-auth's order, where it is not "found, at the ARN
    aws-auth names": the plan's own record of what IAM said, for an apply that cannot ask IAM again. Offline
    plans asked nobody (their findings say so) and are never applied."""
    if snapshot.offline:
        return ()
    answers: dict[str, IamAnswer] = {}
    for mapping in snapshot.aws_auth.mappings:
        try:
            arn = mapping_arn(mapping)
        except ArnError:
            continue
        lookup = snapshot.iam.get(arn.lookup_key)
        if lookup is None or arn.lookup_key in answers:
            continue
        if lookup.status is not LookupStatus.FOUND or lookup.arn != str(arn):
            answers[arn.lookup_key] = IamAnswer(str(arn), PrincipalLookup(lookup.status, lookup.arn))
    return tuple(answers.values())


def ownership_findings(snapshot: Snapshot, options: PlanOptions) -> list[Finding]:
    """AWS_AUTH_MANAGED for each tool that re-applies aws-auth: a blocker of the removal step (only) while a
    plan that removes aws-auth has not been told the owner's source was changed."""
    blocks = options.remove_aws_auth and not options.accept_managed_aws_auth
    if blocks:
        then = "the remove-aws-auth step is refused until you have done so and say it with --accept-managed-aws-auth"
    elif options.remove_aws_auth:
        then = "--accept-managed-aws-auth says this is done: the remove-aws-auth step deletes aws-auth"
    else:
        then = "only then delete aws-auth (--remove-aws-auth with --target API, or by hand)"
    return [
        finding(
            "AWS_AUTH_MANAGED",
            f"aws-auth is written by {owner.describe()}; it would re-apply a deleted aws-auth. First "
            f"{owner.first_step}; {then}",
            severity=Severity.BLOCKER if blocks else None,
        )
        for owner in owners_of(snapshot.aws_auth.meta)
    ]


def fingerprint_of(snapshot: Snapshot) -> Fingerprint:
    return Fingerprint(
        aws_auth_sha256=snapshot.aws_auth.sha256,
        aws_auth_resource_version=snapshot.aws_auth.resource_version,
        authentication_mode=snapshot.mode,
        entries_sha256=entries_digest(snapshot.entries),
        offline=snapshot.offline,
    )


def _key(arn_text: str) -> str:
    try:
        return parse_arn(arn_text).lookup_key
    except ArnError:
        return arn_text.lower()


class _PrincipalKeys:
    """The lookup key of each principal ARN one plan meets, each text parsed once at most: the entries the
    translator made come with their principal parsed (from the mapping's own parse, or IAM's ARN); EKS's
    entries, node roles and the caller are parsed when first asked for."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def learn(self, translations: Iterable[Translation]) -> None:
        for translation in translations:
            if translation.spec is not None and translation.entry_principal is not None:
                self._known[translation.spec.principal_arn] = translation.entry_principal.lookup_key

    def __call__(self, arn_text: str) -> str:
        key = self._known.get(arn_text)
        if key is None:
            key = self._known[arn_text] = _key(arn_text)
        return key


def _winners(translations: Sequence[Translation], findings: list[Finding]) -> set[int]:
    """Indexes of the translations whose mapping the authenticator actually uses (eks-facts.md section 4).

    mapRoles is searched before mapUsers; within mapRoles the last duplicate wins; within mapUsers identical
    duplicates resolve to the last, but entries differing only in case have an undefined winner.
    """
    by_arn: dict[str, list[int]] = defaultdict(list)
    for index, translation in enumerate(translations):
        if not translation.dead:
            by_arn[translation.mapping.arn_key].append(index)
    winners: set[int] = set()
    for indexes in by_arn.values():
        roles = [i for i in indexes if translations[i].mapping.section is Section.MAP_ROLES]
        users = [i for i in indexes if translations[i].mapping.section is Section.MAP_USERS]
        candidates = roles or users
        winner = candidates[-1]
        if not roles and len({translations[i].mapping.arn for i in users}) > 1:
            identities = {(translations[i].mapping.username, translations[i].mapping.groups) for i in users}
            if len(identities) > 1:
                for i in users:
                    mapping = translations[i].mapping
                    findings.append(
                        finding(
                            "AMBIGUOUS_DUPLICATE",
                            f"{mapping.arn} is mapped {len(users)} times with different case and different "
                            "identities; the authenticator may use any of them, so none is migrated",
                            principal_arn=mapping.arn,
                            source=mapping.source,
                        )
                    )
                continue
        winners.add(winner)
        winning = translations[winner].mapping
        for loser in indexes:
            if loser != winner:
                mapping = translations[loser].mapping
                findings.append(
                    finding(
                        "DUPLICATE_ARN",
                        f"{mapping.arn} at {mapping.source.where()} is shadowed by the mapping at "
                        f"{winning.source.where()}; not migrated",
                        principal_arn=mapping.arn,
                        source=mapping.source,
                    )
                )
    return winners


def _eks_created_entries(snapshot: Snapshot, keys: _PrincipalKeys) -> dict[str, AccessEntrySpec]:
    """Entries EKS itself creates when the cluster leaves CONFIG_MAP (node groups as EC2_LINUX: the defect)."""
    if snapshot.mode is not AuthMode.CONFIG_MAP:
        return {}
    created: dict[str, AccessEntrySpec] = {}
    for nodegroup in snapshot.nodegroups:
        created.setdefault(keys(nodegroup.node_role), AccessEntrySpec(nodegroup.node_role, EntryType.EC2_LINUX))
    for profile in snapshot.fargate_profiles:
        created.setdefault(
            keys(profile.pod_execution_role), AccessEntrySpec(profile.pod_execution_role, EntryType.FARGATE_LINUX)
        )
    return created


def _planned_entries(
    snapshot: Snapshot,
    translations: Sequence[Translation],
    winners: set[int],
    findings: list[Finding],
    keys: _PrincipalKeys,
) -> list[PlannedEntry]:
    existing = {keys(e.principal_arn): e for e in snapshot.entries}
    eks_created = _eks_created_entries(snapshot, keys)
    windows_roles = {keys(ng.node_role) for ng in snapshot.nodegroups if ng.is_windows}
    planned: list[PlannedEntry] = []
    covered: set[str] = set()
    for index, translation in enumerate(translations):
        mapping = translation.mapping
        spec = translation.spec
        if index not in winners or spec is None:
            placeholder = AccessEntrySpec(mapping.arn, EntryType.STANDARD, mapping.username, mapping.groups)
            planned.append(PlannedEntry(placeholder, EntryAction.SKIP, mapping.source))
            continue
        key = keys(spec.principal_arn)
        covered.add(key)
        current = existing.get(key)
        if current is not None:
            planned.append(_against_existing(spec, current, mapping.source, findings))
        elif key in eks_created:
            planned.append(_against_eks_created(spec, eks_created[key], mapping.source, findings))
        else:
            planned.append(PlannedEntry(spec, EntryAction.CREATE, mapping.source))
    # Windows node group roles that aws-auth does not map still get (or have) EKS's EC2_LINUX entry.
    for key in sorted(windows_roles - covered):
        current = existing.get(key) or eks_created.get(key)
        if current is not None and current.type is EntryType.EC2_LINUX:
            spec = AccessEntrySpec(current.principal_arn, EntryType.EC2_WINDOWS)
            planned.append(_repair(spec, current, None, findings))
    for key, entry in sorted(existing.items()):
        if key not in covered and not entry.type.is_node:
            findings.append(
                finding(
                    "UNMAPPED_ENTRY",
                    f"{entry.principal_arn} has an access entry although aws-auth gives it no identity to migrate: "
                    "the entry alone decides its access, now and after the switch to API",
                    principal_arn=entry.principal_arn,
                )
            )
    return planned


def _against_existing(
    spec: AccessEntrySpec, current: AccessEntrySpec, ref: SourceRef | None, findings: list[Finding]
) -> PlannedEntry:
    if current.type is EntryType.EC2_LINUX and spec.type is EntryType.EC2_WINDOWS:
        return _repair(spec, current, ref, findings)
    gaps = identity.differences(identity.from_entry(spec), identity.from_entry(current))
    if gaps:
        findings.append(
            finding(
                "SHADOWED_BY_ENTRY",
                f"{current.principal_arn} already has an access entry, which EKS uses instead of its aws-auth "
                f"mapping; the entry is kept as it is, although compared with the mapping it {'; '.join(gaps)}",
                principal_arn=current.principal_arn,
                source=ref,
                severity=Severity.WARNING,
            )
        )
    else:
        findings.append(
            finding(
                "SHADOWED_BY_ENTRY",
                f"{current.principal_arn} already has an equivalent access entry; it is adopted",
                principal_arn=current.principal_arn,
                source=ref,
            )
        )
    return PlannedEntry(current, EntryAction.ADOPT, ref, current)


def _against_eks_created(
    spec: AccessEntrySpec, created: AccessEntrySpec, ref: SourceRef | None, findings: list[Finding]
) -> PlannedEntry:
    if spec.type is created.type:
        findings.append(
            finding(
                "EKS_CREATES_ENTRY",
                f"EKS creates the {created.type.value} entry for {spec.principal_arn} when the mode switches; "
                "the plan adopts it",
                principal_arn=spec.principal_arn,
                source=ref,
            )
        )
        return PlannedEntry(spec, EntryAction.ADOPT, ref, created)
    return _repair(spec, created, ref, findings)


def _repair(
    spec: AccessEntrySpec, current: AccessEntrySpec, ref: SourceRef | None, findings: list[Finding]
) -> PlannedEntry:
    """EKS made (or will make) an entry of the wrong type; types are immutable, so delete and re-create."""
    code = "WINDOWS_NODE_ENTRY_TYPE" if spec.type is EntryType.EC2_WINDOWS else "SHADOWED_BY_ENTRY"
    findings.append(
        finding(
            code,
            f"the {current.type.value} entry EKS gives {spec.principal_arn} is replaced by one of type "
            f"{spec.type.value} (delete and re-create, right after the mode switch)",
            principal_arn=spec.principal_arn,
            source=ref,
            severity=Severity.WARNING,
        )
    )
    return PlannedEntry(spec, EntryAction.REPAIR_NODE_TYPE, ref, current)


def _cluster_findings(
    snapshot: Snapshot, entries: Sequence[PlannedEntry], options: PlanOptions, keys: _PrincipalKeys
) -> list[Finding]:
    found: list[Finding] = []
    total = len(
        {keys(e.spec.principal_arn) for e in entries if e.action is not EntryAction.SKIP}
        | {keys(e.principal_arn) for e in snapshot.entries}
        | set(_eks_created_entries(snapshot, keys))
    )
    if total > MAX_ENTRIES_PER_CLUSTER:
        found.append(
            finding(
                "QUOTA",
                f"the cluster would need {total} access entries; EKS allows {MAX_ENTRIES_PER_CLUSTER} per cluster",
            )
        )
    if (problem := platform_version_problem(snapshot.kubernetes_version, snapshot.platform_version)) is not None:
        found.append(finding("PLATFORM_VERSION", problem))
    if options.target is AuthMode.API:
        found.extend(_caller_findings(snapshot, entries, keys))
    return found


def platform_version_problem(kubernetes_version: str | None, platform_version: str | None) -> str | None:
    """Why this cluster version cannot use access entries, or None (also when the versions are unknown)."""
    if not kubernetes_version or not platform_version:
        return None
    try:
        major, minor = (int(part) for part in kubernetes_version.split(".")[:2])
        platform = int(platform_version.removeprefix("eks."))
    except ValueError:
        return None
    if (major, minor) < (1, 23):
        return f"Kubernetes {kubernetes_version} has no access entries; update to 1.23 or later"
    minimum = MIN_PLATFORM_VERSION.get(f"{major}.{minor}")
    if minimum is not None and platform < minimum:
        return (
            f"Kubernetes {kubernetes_version} platform version {platform_version} is below eks.{minimum}, the "
            "first with access entries"
        )
    return None


def _caller_findings(snapshot: Snapshot, entries: Sequence[PlannedEntry], keys: _PrincipalKeys) -> list[Finding]:
    if snapshot.caller_arn is None:
        return [finding("NO_CALLER", "the caller is unknown (offline plan); apply checks it before the API gate")]
    caller = keys(snapshot.caller_arn)
    final = {keys(e.principal_arn): e for e in snapshot.entries}
    final.update({keys(e.spec.principal_arn): e.spec for e in entries if e.action is not EntryAction.SKIP})
    entry = final.get(caller)
    if entry is not None and identity.from_entry(entry).cluster_admin:
        return []
    if snapshot.mode is AuthMode.CONFIG_MAP and snapshot.bootstrap_admin:
        # EKS does not say who created the cluster; if it was the caller, EKS gives it an admin entry at the
        # first switch. Apply checks the caller live before the API gate, so this cannot lock anyone out.
        return [
            finding(
                "CALLER_LOCKOUT",
                f"the caller {snapshot.caller_arn} gets cluster-admin through an access entry only if it created "
                "the cluster (EKS then adds one at the first switch); apply checks this before the API gate",
                principal_arn=snapshot.caller_arn,
                severity=Severity.WARNING,
            )
        ]
    return [
        finding(
            "CALLER_LOCKOUT",
            f"the caller {snapshot.caller_arn} would not have cluster-admin through an access entry in API mode",
            principal_arn=snapshot.caller_arn,
        )
    ]


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
