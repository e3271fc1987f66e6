"""Every finding code in the catalogue is produced by some input: none is dead text in the docs' reference."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from migrator.awsauth import load_aws_auth_file, parse_aws_auth
from migrator.model import (
    AccessEntrySpec,
    AuthMode,
    AwsAuth,
    EntryType,
    FargateProfile,
    LookupStatus,
    Mapping,
    NodeGroup,
    PrincipalLookup,
    PrincipalUsage,
    Section,
    Snapshot,
    SourceRef,
    UsageEvidence,
)
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import offline_snapshot
from migrator.rules.findings import RULES

EXAMPLES = Path(__file__).resolve().parents[2] / "plans" / "examples"
ACCOUNT = "111122223333"
# NOT_EQUIVALENT is the translator's safety net: it fires only if the rules above it have a gap.
SAFETY_NETS = {"NOT_EQUIVALENT"}


def codes(snapshot: Snapshot, target: AuthMode = AuthMode.API) -> set[str]:
    return {f.code for f in build_plan(snapshot, PlanOptions(target=target)).findings}


def test_every_code_can_be_produced() -> None:
    problems = offline_snapshot(
        load_aws_auth_file(EXAMPLES / "aws-auth-problems.yaml"), cluster="c", region="us-east-1", account=ACCOUNT
    )
    large = offline_snapshot(
        load_aws_auth_file(EXAMPLES / "aws-auth-large.yaml"), cluster="c", region="us-east-1", account=ACCOUNT
    )
    extra = (
        Mapping(Section.MAP_USERS, f"arn:aws:iam::{ACCOUNT}:role/Ops", "ops", (), SourceRef(Section.MAP_USERS, 9)),
        Mapping(Section.MAP_ROLES, f"arn:aws:iam::{ACCOUNT}:role/AWSServiceRoleForX", "x", (),
                SourceRef(Section.MAP_ROLES, 9)),
        Mapping(Section.MAP_ROLES, f"arn:aws:iam::{ACCOUNT}:role/fp", "system:node:{{SessionName}}",
                ("system:nodes",), SourceRef(Section.MAP_ROLES, 10)),
        Mapping(Section.MAP_ROLES, f"arn:aws:iam::{ACCOUNT}:role/Padded\n", "p", (), SourceRef(Section.MAP_ROLES, 11)),
        Mapping(Section.MAP_ROLES, f"arn:aws:iam::{ACCOUNT}:role/Spaced", "s ", ("g\n",),
                SourceRef(Section.MAP_ROLES, 12)),
    )  # fmt: skip
    crafted = dataclasses.replace(problems, aws_auth=AwsAuth(map_roles=extra[1:], map_users=extra[:1]))
    seen = codes(problems) | codes(large) | codes(crafted)
    role = f"arn:aws:iam::{ACCOUNT}:role"
    live = dataclasses.replace(
        large,
        offline=False,
        caller_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Nobody/s",
        kubernetes_version="1.28",
        platform_version="eks.5",
        nodegroups=(
            NodeGroup("linux", f"{role}/eks-platform-prod-general-node-role"),
            NodeGroup("win", f"{role}/eks-platform-prod-windows-node-role", "WINDOWS_CORE_2022_x86_64"),
        ),
        fargate_profiles=(FargateProfile("fp", f"{role}/eks-platform-prod-fargate-pod-execution-role"),),
        iam={
            **large.iam,
            f"aws:{ACCOUNT}:user:dave": PrincipalLookup(LookupStatus.FOUND, f"arn:aws:iam::{ACCOUNT}:user/x/dave"),
            f"aws:{ACCOUNT}:role:kubecost-reader": PrincipalLookup(LookupStatus.NOT_FOUND),
        },
    )
    seen |= codes(live)
    in_between = dataclasses.replace(
        live, mode=AuthMode.API_AND_CONFIG_MAP, entries=(AccessEntrySpec(f"{role}/sre-oncall", EntryType.STANDARD),)
    )
    seen |= codes(in_between)
    seen |= codes(dataclasses.replace(live, mode=AuthMode.API))
    many = tuple(AccessEntrySpec(f"{role}/r{i}") for i in range(3001))
    seen |= codes(dataclasses.replace(in_between, entries=many))
    china = Mapping(
        Section.MAP_ROLES, f"arn:aws-cn:iam::{ACCOUNT}:role/Ops", "ops", (), SourceRef(Section.MAP_ROLES, 1)
    )
    seen |= codes(offline_snapshot(AwsAuth(map_roles=(china, *extra[:1])), cluster="c", region=None, account=None))
    seen |= _usage_codes()
    json_roles = parse_aws_auth(
        'kind: ConfigMap\nmetadata: {name: aws-auth}\ndata:\n  mapRoles: \'{"rolearn": "x"}\'\n'
        f"  mapUsers: '- userarn: arn:aws:iam::{ACCOUNT}:user/u'\n",
        "aws-auth.yaml",
    )
    seen |= codes(offline_snapshot(json_roles, cluster="c", region=None, account=None))
    seen |= _rbac_codes()
    assert seen >= set(RULES) - SAFETY_NETS, sorted(set(RULES) - SAFETY_NETS - seen)


def _usage_codes() -> set[str]:
    aws_auth = parse_aws_auth(
        f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: aws-auth, namespace: kube-system}}
data:
  mapRoles: |
    - {{rolearn: "arn:aws:iam::{ACCOUNT}:role/teams/Pathy", username: p}}
    - {{rolearn: "arn:aws:iam::{ACCOUNT}:role/Quiet", username: q}}
  mapAccounts: |
    - "444455556666"
""",
        file="aws-auth.yaml",
    )
    snapshot = offline_snapshot(aws_auth, cluster="c", region="us-east-1", account=ACCOUNT)
    day = datetime(2026, 11, 1, tzinfo=UTC)
    outsider = "arn:aws:iam::444455556666:role/Outsider"
    signed_in = (
        PrincipalUsage(f"arn:aws:iam::{ACCOUNT}:role/teams/Pathy", day, day, 1, ("p",), ()),
        PrincipalUsage(outsider, day, day, 1, (outsider,), ()),
    )
    usage = UsageEvidence(day, day, True, principals=signed_in, lines=3, malformed=1)
    return codes(dataclasses.replace(snapshot, usage=usage)) | codes(
        dataclasses.replace(snapshot, usage=UsageEvidence(day, day, False, "logging is off"))
    )


def _rbac_codes() -> set[str]:
    """The RBAC review's codes, from the review's own cases (tests/support/rbac.py)."""
    from migrator.model import RbacObjects
    from tests.support.rbac import CASE_BINDINGS, MAP_ROLES, TRIMMED_ADMIN, live_objects, rbac_objects
    from tests.support.scenarios import aws_auth_config_map

    aws_auth = parse_aws_auth(aws_auth_config_map(MAP_ROLES, ""), file="aws-auth.yaml")
    live = dataclasses.replace(
        offline_snapshot(aws_auth, cluster="c", region="us-east-1", account=ACCOUNT), offline=False
    )
    objects = rbac_objects(live_objects(TRIMMED_ADMIN, *CASE_BINDINGS))
    reviewed = dataclasses.replace(live, rbac=objects)
    return (
        {f.code for f in build_plan(reviewed, PlanOptions(prefer_access_policies=True)).findings}
        | codes(reviewed)
        | codes(dataclasses.replace(live, rbac=RbacObjects(available=False, reason="HTTP 403")))
    )
