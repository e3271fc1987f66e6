"""Plan file: round trip, determinism, integrity, schema; property-tested over generated aws-auth."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.errors import InputError, PlanIntegrityError
from migrator.model import (
    AccountMapping,
    AuthMode,
    AwsAuth,
    CreateEntry,
    EntryAction,
    Mapping,
    Section,
    SetMode,
    SourceRef,
)
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
    path.write_text(path.read_text().replace("schema: aws-auth-migrate/plan/v3", "schema: aws-auth-migrate/plan/v9"))
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


def _rehashed(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """A self-consistent edit: change the data, then recompute the integrity hash as an attacker would."""
    from migrator.plan.planfile import body_sha256

    data = json.loads(json.dumps(plan_to_dict(load_plan(path))))
    edit(data)
    data["integrity"] = {"sha256": body_sha256(data)}
    path.write_text(json.dumps(data))  # JSON is YAML


def _blocked_plan(tmp_path: Path) -> Path:
    aws_auth = AwsAuth(
        (Mapping(Section.MAP_ROLES, "arn:aws:iam::111122223333:role/A", "a", ("g",), SourceRef(Section.MAP_ROLES, 0)),),
        map_accounts=(AccountMapping("444455556666", SourceRef(Section.MAP_ACCOUNTS, 0)),),
    )
    return write_plan(plan_for(aws_auth), tmp_path / "p.plan.yaml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("blocked", False, "`blocked` says False"),
        ("description", "Switch nothing", "`description` says 'Switch nothing'"),
        ("gate", False, "has keys a plan step does not have: gate"),
        ("permissions", [], "has keys a plan step does not have: permissions"),
    ],
)
def test_a_rehashed_edit_cannot_change_what_a_step_kind_decides(
    tmp_path: Path, key: str, value: object, said: str
) -> None:
    path = _blocked_plan(tmp_path)
    assert [s["blocked"] for s in plan_to_dict(load_plan(path))["steps"] if s["kind"] == "set-mode"] == [False, True]

    def edit(data: dict[str, Any]) -> None:
        api_gate = [s for s in data["steps"] if s["kind"] == "set-mode"][-1]
        api_gate[key] = value

    _rehashed(path, edit)
    with pytest.raises(PlanIntegrityError, match=re.escape(said)) as refused:
        load_plan(path)
    assert refused.value.exit_code == 2 and str(path) in str(refused.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [("gate", False), ("irreversible", False), ("permissions", [])],
)
def test_a_rehashed_edit_of_the_step_kinds_table_is_refused(tmp_path: Path, key: str, value: object) -> None:
    path = _blocked_plan(tmp_path)
    _rehashed(path, lambda data: data["stepKinds"]["set-mode"].update({key: value}))
    with pytest.raises(PlanIntegrityError, match="`stepKinds` says") as refused:
        load_plan(path)
    assert refused.value.exit_code == 2


def test_an_associate_policy_step_takes_its_scope_from_the_entry_and_names_only_a_planned_policy(
    tmp_path: Path,
) -> None:
    aws_auth = AwsAuth(
        (
            Mapping(
                Section.MAP_ROLES,
                "arn:aws:iam::111122223333:role/A",
                "a",
                ("system:masters",),
                SourceRef(Section.MAP_ROLES, 0),
            ),
        )
    )
    path = write_plan(plan_for(aws_auth), tmp_path / "p.plan.yaml")  # type: ignore[arg-type]
    written = [s for s in plan_to_dict(load_plan(path))["steps"] if s["kind"] == "associate-policy"]
    assert [s["params"] for s in written] == [
        {
            "principalArn": "arn:aws:iam::111122223333:role/A",
            "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        }
    ]
    other = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"

    def name_another_policy(data: dict[str, Any]) -> None:
        next(s for s in data["steps"] if s["kind"] == "associate-policy")["params"]["policyArn"] = other

    _rehashed(path, name_another_policy)
    with pytest.raises(PlanIntegrityError, match=r"has no policy .*AmazonEKSViewPolicy"):
        load_plan(path)


def test_the_blocked_gate_comes_from_the_findings_not_the_step(tmp_path: Path) -> None:
    path = _blocked_plan(tmp_path)

    def drop_the_blocker_but_keep_the_flag(data: dict[str, Any]) -> None:
        data["findings"] = [f for f in data["findings"] if f["code"] != "MAP_ACCOUNTS"]

    _rehashed(path, drop_the_blocker_but_keep_the_flag)
    with pytest.raises(PlanIntegrityError, match="`blocked` says True"):
        load_plan(path)


@pytest.mark.parametrize("schema", ["aws-auth-migrate/plan/v1", "aws-auth-migrate/plan/v2"])
def test_a_plan_of_a_previous_schema_is_refused_with_a_replan_hint(tmp_path: Path, schema: str) -> None:
    path = _blocked_plan(tmp_path)
    _rehashed(path, lambda data: data.update(schema=schema))
    with pytest.raises(PlanIntegrityError, match="written by an earlier version") as refused:
        load_plan(path)
    assert refused.value.exit_code == 2 and "re-plan with this version" in (refused.value.hint or "")


def test_steps_are_typed_and_a_create_entry_step_names_its_principal_once(tmp_path: Path) -> None:
    plan = load_plan(_blocked_plan(tmp_path))
    creates = [s for s in plan.steps if isinstance(s, CreateEntry)]
    assert [s.entry for s in creates] == [e.spec for e in plan.entries if e.action is EntryAction.CREATE]
    written = [s for s in plan_to_dict(plan)["steps"] if s["kind"] == "create-entry"]
    assert [s["params"] for s in written] == [{"principalArn": "arn:aws:iam::111122223333:role/A"}]
    gates = [s for s in plan.steps if isinstance(s, SetMode)]
    assert [(s.gate, s.irreversible, s.mode) for s in gates] == [
        (True, True, AuthMode.API_AND_CONFIG_MAP),
        (True, True, AuthMode.API),
    ]


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda d: d["entries"][0].update(principalArn=["arn:aws:iam::111122223333:role/A"]), "entry.principalArn"),
        (lambda d: d.update(callerArn=7), "plan.callerArn is 7"),
        (lambda d: d["fingerprint"].update(awsAuthResourceVersion=1000), "fingerprint.awsAuthResourceVersion"),
        (lambda d: d["cluster"].update(account=111122223333), "cluster.account"),
    ],
)
def test_a_rehashed_edit_with_wrong_types_is_refused_at_load_not_at_apply(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], said: str
) -> None:
    # Review finding: a list where an ARN belongs loaded fine and crashed apply with a traceback (exit 1).
    path = _blocked_plan(tmp_path)
    _rehashed(path, edit)
    with pytest.raises(PlanIntegrityError, match=re.escape(said)) as refused:
        load_plan(path)
    assert refused.value.exit_code == 2


def test_an_offline_plan_without_region_keeps_its_null_region_and_a_live_plan_needs_one(tmp_path: Path) -> None:
    aws_auth = AwsAuth(
        (
            Mapping(
                Section.MAP_ROLES, "arn:aws-cn:iam::111122223333:role/A", "a", ("g",), SourceRef(Section.MAP_ROLES, 0)
            ),
        )
    )
    snapshot = offline_snapshot(aws_auth, cluster="c", region=None, account=None)
    plan = build_plan(snapshot, PlanOptions(created_at="2026-01-01T00:00:00Z"))
    path = write_plan(plan, tmp_path / "p.plan.yaml")
    assert "  region: null\n" in path.read_text()
    loaded = load_plan(path)
    assert (loaded.cluster.region, loaded.cluster.partition) == (None, "aws-cn")

    def live(data: dict[str, Any]) -> None:
        data["fingerprint"]["offline"] = False

    _rehashed(path, live)
    with pytest.raises(PlanIntegrityError, match=r"cluster.region is None: a plan file holds a string there"):
        load_plan(path)
