"""Plan file: round trip, determinism, integrity, schema; property-tested over generated aws-auth."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.errors import InputError, PlanIntegrityError
from migrator.model import AuthMode, AwsAuth, Mapping, Section, SourceRef
from migrator.plan.planfile import dump_plan, load_plan, plan_from_dict, plan_to_dict, write_plan
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import offline_snapshot

ACCOUNTS = st.sampled_from(["111122223333", "444455556666"])
NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True)
GROUPS = st.lists(
    st.sampled_from(["system:masters", "developers", "viewers", "system:nodes", "system:bootstrappers", "ops"]),
    max_size=3,
    unique=True,
)
USERNAMES = st.one_of(
    st.none(),
    st.sampled_from(["admin", "dev:{{SessionName}}", "system:node:{{EC2PrivateDNSName}}", "ci:{{AccountID}}", "x"]),
)


@st.composite
def aws_auths(draw: st.DrawFn) -> AwsAuth:
    def mappings(section: Section, kind: str) -> tuple[Mapping, ...]:
        items = draw(st.lists(st.tuples(ACCOUNTS, NAMES, USERNAMES, GROUPS), max_size=6))
        return tuple(
            Mapping(section, f"arn:aws:iam::{a}:{kind}/{n}", u, tuple(g), SourceRef(section, i, i + 3, "f.yaml"))
            for i, (a, n, u, g) in enumerate(items)
        )

    return AwsAuth(mappings(Section.MAP_ROLES, "role"), mappings(Section.MAP_USERS, "user"), sha256="0" * 64)


def plan_for(aws_auth: AwsAuth, target: AuthMode = AuthMode.API) -> object:
    snapshot = offline_snapshot(aws_auth, cluster="c", region="eu-west-1", account="111122223333")
    return build_plan(snapshot, PlanOptions(target=target, created_at="2026-01-01T00:00:00Z"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aws_auths(), st.sampled_from([AuthMode.API_AND_CONFIG_MAP, AuthMode.API]))
def test_round_trip_through_yaml_is_lossless_and_deterministic(aws_auth: AwsAuth, target: AuthMode) -> None:
    from io import StringIO

    from ruamel.yaml import YAML

    plan = plan_for(aws_auth, target)
    text = dump_plan(plan)  # type: ignore[arg-type]
    assert text == dump_plan(plan_for(aws_auth, target))  # type: ignore[arg-type]
    data = YAML(typ="safe", pure=True).load(StringIO(text))
    assert data == plan_to_dict(plan)  # type: ignore[arg-type]
    assert plan_to_dict(plan_from_dict(data)) == data


def test_load_refuses_edits_unknown_schema_and_non_plans(tmp_path: Path) -> None:
    aws_auth = AwsAuth(
        (Mapping(Section.MAP_ROLES, "arn:aws:iam::111122223333:role/A", "a", ("g",), SourceRef(Section.MAP_ROLES, 0)),)
    )
    path = write_plan(plan_for(aws_auth), tmp_path / "p.plan.yaml")  # type: ignore[arg-type]
    assert plan_to_dict(load_plan(path)) == plan_to_dict(plan_for(aws_auth))  # type: ignore[arg-type]
    path.write_text(path.read_text().replace("schema: aws-auth-migrate/plan/v1", "schema: aws-auth-migrate/plan/v9"))
    with pytest.raises(PlanIntegrityError, match="unknown plan schema"):
        load_plan(path)
    path.write_text("just: [a, list")
    with pytest.raises(InputError, match=r"p.plan.yaml:\d+: not a plan file"):
        load_plan(path)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="not a plan file"):
        load_plan(path)
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(InputError, match="cannot read"):
        load_plan(path)
