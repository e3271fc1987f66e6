"""A principal ARN is parsed where its text enters (aws-auth's reader, the plan file, STS, IAM), never again on
the way through the planner and apply's re-plan (issue 21): the reader keeps its parse on the mapping
(`Mapping.parsed_arn`), and what it keeps is only a cache, never another answer."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path

import pytest

from migrator.app.replan import refuse_unless_replanned
from migrator.awsauth import load_aws_auth_file
from migrator.model import AuthMode, AwsAuth, Mapping, Section, SourceRef
from migrator.plan.planfile import dump_plan
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import live_snapshot, offline_snapshot
from migrator.rules import arn as arn_rules
from migrator.rules.arn import mapping_arn, parse_arn
from tests.support.arns import role
from tests.unit.fake_cluster import CREATED_AT, FakeIam, big_cluster, make_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "plans" / "examples"
PRINCIPALS = 30  # big_cluster(30): a node role, an admin and 29 more roles


class CountingPattern:
    """Stands in for parse_arn's ARN pattern, which it matches exactly once per call, from any thread."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.texts: list[str] = []

    def fullmatch(self, text: str) -> re.Match[str] | None:
        self.texts.append(text)  # list.append is atomic: IAM lookups run in a thread pool
        return self.pattern.fullmatch(text)

    def parsed(self) -> Counter[str]:
        return Counter(self.texts)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> CountingPattern:
    counting = CountingPattern(arn_rules._ARN_RE)
    monkeypatch.setattr(arn_rules, "_ARN_RE", counting)
    return counting


def test_a_live_plan_parses_each_mapping_arn_once_and_iam_s_arn_only_where_it_has_a_path(
    parses: CountingPattern,
) -> None:
    fake = big_cluster(PRINCIPALS)
    pathed = {parse_arn(role(f"r{n:03d}")).lookup_key: role(f"teams/r{n:03d}") for n in range(0, PRINCIPALS - 1, 3)}
    parses.texts.clear()
    snapshot = live_snapshot(fake, fake, FakeIam(pathed), aws_auth_label="kube-system/aws-auth")
    build_plan(snapshot, PlanOptions(target=AuthMode.API, created_at=CREATED_AT))

    mapped = [mapping.arn for mapping in snapshot.aws_auth.mappings]
    assert len(mapped) == PRINCIPALS + 1
    expected = Counter({**dict.fromkeys(mapped, 1), **dict.fromkeys(pathed.values(), 1), fake.caller: 1})
    assert parses.parsed() == expected, f"parsed more than once: {parses.parsed() - expected}"


def test_apply_s_replan_parses_each_mapping_arn_once_as_read_and_once_as_the_plan_recorded_it(
    parses: CountingPattern,
) -> None:
    fake = big_cluster(PRINCIPALS)
    plan = make_plan(fake)
    parses.texts.clear()
    refuse_unless_replanned(plan, fake, fake, FakeIam())

    mapped = [entry.spec.principal_arn for entry in plan.entries]
    assert len(mapped) == PRINCIPALS + 1
    # aws-auth read again from the cluster (the reader), the plan's entries (PlannedIam's record), the caller
    expected = Counter({**dict.fromkeys(mapped, 2), fake.caller: 1})
    assert parses.parsed() == expected, f"parsed more than that: {parses.parsed() - expected}"


def test_the_reader_keeps_its_parse_of_each_arn_and_none_for_text_that_is_no_arn() -> None:
    aws_auth = load_aws_auth_file(EXAMPLES / "aws-auth-problems.yaml")
    for mapping in aws_auth.mappings:
        if mapping.sso or mapping.arn != mapping.arn.strip():
            assert mapping.parsed_arn is None, mapping.arn
        else:
            assert mapping.parsed_arn == parse_arn(mapping.arn), mapping.arn
    assert any(m.parsed_arn is None for m in aws_auth.mappings)  # the example has sso: and padded ARNs


def test_the_kept_parse_changes_neither_equality_hash_nor_repr_of_a_mapping() -> None:
    text = role("Dev")
    bare = Mapping(Section.MAP_ROLES, text, "dev", ("g",), SourceRef(Section.MAP_ROLES, 0))
    kept = dataclasses.replace(bare, parsed_arn=parse_arn(text))
    assert kept == bare and hash(kept) == hash(bare) and repr(kept) == repr(bare)
    assert mapping_arn(kept) is kept.parsed_arn
    assert mapping_arn(bare) == parse_arn(text)  # a mapping built by hand is parsed when asked


@pytest.mark.parametrize("target", [AuthMode.API_AND_CONFIG_MAP, AuthMode.API])
def test_mappings_without_the_reader_s_parse_plan_to_the_same_plan_file(target: AuthMode) -> None:
    read = load_aws_auth_file(EXAMPLES / "aws-auth-problems.yaml")
    by_hand = dataclasses.replace(
        read,
        map_roles=tuple(dataclasses.replace(m, parsed_arn=None) for m in read.map_roles),
        map_users=tuple(dataclasses.replace(m, parsed_arn=None) for m in read.map_users),
    )
    assert any(m.parsed_arn is not None for m in read.mappings)
    assert all(m.parsed_arn is None for m in by_hand.mappings)
    options = PlanOptions(target=target, created_at=CREATED_AT)

    def planned(aws_auth: AwsAuth) -> str:
        snapshot = offline_snapshot(aws_auth, cluster="prod", region="us-east-1", account=None)
        return dump_plan(build_plan(snapshot, options))

    assert planned(read) == planned(by_hand)
