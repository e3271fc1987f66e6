"""Usage evidence end to end: the sandbox logs every authentication in the authenticator's format to
CloudWatch Logs (seeded sign-ins too), and `plan --usage-since` reads it back through boto3."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from migrator.rules.permissions import plan_reads
from migrator.rules.signins import parse_line
from migrator.sandbox.scenario import parse_scenario
from migrator.sandbox.server import Sandbox
from migrator.wiring.probe import PROBE_SESSION_NAME, IdentityProbe
from tests.cli.conftest import run_cli
from tests.integration.conftest import REGION, SandboxFactory, client
from tests.support.arns import ACCOUNT, OTHER_ACCOUNT
from tests.support.scenarios import aws_auth_config_map, indent, scenario_yaml

pytestmark = pytest.mark.integration

ROLE = f"arn:aws:iam::{ACCOUNT}:role"
ADMIN, DEV, UNUSED = f"{ROLE}/Admin", f"{ROLE}/Dev", f"{ROLE}/Unused"
PATHY = f"{ROLE}/teams/x/Pathy"
CONTRACTOR = f"arn:aws:iam::{OTHER_ACCOUNT}:role/Contractor"
BOB = f"arn:aws:iam::{OTHER_ACCOUNT}:user/bob"

AWS_AUTH = (
    aws_auth_config_map(
        map_roles=f"""\
- rolearn: {ADMIN}
  username: admin
  groups: [system:masters]
- rolearn: {DEV}
  username: dev:{{{{SessionName}}}}
  groups: [developers]
- rolearn: {UNUSED}
  username: unused
  groups: [viewers]
- rolearn: {PATHY}
  username: pathy
  groups: [viewers]
"""
    )
    + f'  mapAccounts: |\n    - "{OTHER_ACCOUNT}"\n'
)


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def usage_scenario() -> str:
    clusters = f"""\
  - name: usage
    region: {REGION}
    account: "{ACCOUNT}"
    logging: {{authenticator: true}}
    signIns:
      - {{arn: {DEV}, at: "{_at(timedelta(days=2))}", count: 3}}
      - {{arn: {CONTRACTOR}, at: "{_at(timedelta(days=1))}", count: 2, session: ci-run}}
      - {{arn: {UNUSED}, at: "{_at(timedelta(days=40))}"}}
    awsAuth: |
{indent(AWS_AUTH, 6)}
  - name: quiet
    region: {REGION}
    account: "{ACCOUNT}"
    awsAuth: |
{indent(AWS_AUTH, 6)}
"""
    return scenario_yaml(clusters, roles=[ADMIN, DEV, UNUSED, PATHY, CONTRACTOR], users=[BOB], caller=ADMIN)


def plan(sandbox: Sandbox, cwd: Path, cluster: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli("plan", "--cluster", cluster, "-o", "json", *args, cwd=cwd, env=sandbox.env())
    assert "Traceback" not in result.stderr, result.stderr
    return result


def findings(data: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in data["findings"] if f["code"] == code]


def sign_in_as(sandbox: Sandbox, arn: str) -> None:
    probe = IdentityProbe(
        sandbox.credentials_for(arn, PROBE_SESSION_NAME),
        cluster="usage",
        region=REGION,
        endpoint=f"{sandbox.kube_endpoint_url}/k8s/{ACCOUNT}/{REGION}/usage",
        ca_data=sandbox.ca_data,
    )
    assert probe.review() is not None


def test_seeded_and_real_sign_ins_name_unused_mappings_and_map_accounts_principals(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(parse_scenario(usage_scenario(), "usage.yaml"))
    sign_in_as(sandbox, BOB)  # a real sign-in through mapAccounts
    sandbox.clear_calls()

    result = plan(sandbox, tmp_path, "usage", "--usage-since", "30d")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [f["principalArn"] for f in findings(data, "UNUSED_MAPPING")] == [UNUSED]  # its sign-in is 40 days old
    assert "no sign-in by" in findings(data, "UNUSED_MAPPING")[0]["message"]
    by_arn = {f["principalArn"]: f["message"] for f in findings(data, "MAP_ACCOUNTS_SIGN_IN")}
    assert sorted(by_arn) == sorted([CONTRACTOR, BOB])
    assert f'mapRoles: - {{rolearn: "{CONTRACTOR}", username: "{CONTRACTOR}", groups: []}}' in by_arn[CONTRACTOR]
    assert f'mapUsers: - {{userarn: "{BOB}", username: "{BOB}", groups: []}}' in by_arn[BOB]
    assert not findings(data, "USAGE_EVIDENCE_UNAVAILABLE")
    usage = {p["principalArn"]: p for p in data["usage"]["principals"]}
    assert usage[DEV]["count"] == 3
    assert usage[DEV]["usernames"] == [f"dev:{'i-0a1b2c3d4e5f60718'}"]
    assert usage[DEV]["groups"] == ["developers"]
    assert usage[CONTRACTOR]["usernames"] == [CONTRACTOR] and usage[CONTRACTOR]["groups"] == []
    assert usage[ADMIN]["count"] >= 1  # the plan itself read aws-auth as the caller
    assert data["usage"]["available"] is True and data["usage"]["malformedLines"] == 0

    actions = {c.iam_action for c in sandbox.calls() if c.iam_action}
    assert "logs:FilterLogEvents" in actions
    assert actions <= set(plan_reads(usage=True)), sorted(actions - set(plan_reads(usage=True)))


def test_the_text_plan_shows_the_evidence_and_apply_takes_a_plan_made_with_it(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(parse_scenario(usage_scenario(), "usage.yaml"))
    out = tmp_path / "usage.plan.yaml"

    made = run_cli("plan", "--cluster", "usage", "--usage-since", "7d", "--out", str(out), cwd=tmp_path,
                   env=sandbox.env())  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "Usage evidence (" in made.stdout and "MAP_ACCOUNTS_SIGN_IN" in made.stdout
    assert "role/Dev" in made.stdout and "dev:i-0a1b2c3d4e5f60718" in made.stdout

    # apply plans the cluster again without reading the log: the usage findings must not make it stale
    dry = run_cli("apply", str(out), "--dry-run", "--yes", cwd=tmp_path, env=sandbox.env())
    assert dry.returncode == 0, dry.stderr


def test_every_authentication_is_one_line_in_the_authenticators_format(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(parse_scenario(usage_scenario(), "usage.yaml"))
    sign_in_as(sandbox, BOB)
    logs = client(sandbox, "logs")

    described = client(sandbox).describe_cluster(name="usage")["cluster"]["logging"]["clusterLogging"]
    assert {"types": ["authenticator"], "enabled": True} in described
    streams = logs.describe_log_streams(logGroupName="/aws/eks/usage/cluster")["logStreams"]
    assert [s["logStreamName"].split("-")[0] for s in streams] == ["authenticator"]
    events = logs.filter_log_events(logGroupName="/aws/eks/usage/cluster")["events"]
    assert len(events) == 3 + 2 + 1 + 1
    last = events[-1]["message"]
    assert last.startswith('time="') and ' level=info msg="access granted" arn="' + BOB + '" client="127.0.0.1:' in last
    assert f' method=POST path=/authenticate uid="aws-iam-authenticator:{OTHER_ACCOUNT}:' in last
    event = parse_line(last)
    assert event is not None and event.granted and (event.username, event.groups) == (BOB, ())


def test_a_cluster_without_the_authenticator_log_gives_usage_unavailable(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(parse_scenario(usage_scenario(), "usage.yaml"))

    result = plan(sandbox, tmp_path, "quiet", "--usage-since", "2026-01-01" if _is_after_2026() else "12h")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    unavailable = findings(data, "USAGE_EVIDENCE_UNAVAILABLE")
    assert len(unavailable) == 1 and "enable the authenticator control-plane log" in unavailable[0]["message"]
    assert not findings(data, "UNUSED_MAPPING")
    assert "/aws/eks/quiet/cluster" not in {
        g["logGroupName"] for g in client(sandbox, "logs").describe_log_groups()["logGroups"]
    }


def _is_after_2026() -> bool:
    return datetime.now(UTC) > datetime(2026, 1, 2, tzinfo=UTC)


def test_turning_the_authenticator_log_on_later_logs_from_then_on(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(parse_scenario(usage_scenario(), "usage.yaml"))
    eks, logs = client(sandbox), client(sandbox, "logs")
    probe = IdentityProbe(
        sandbox.credentials_for(ADMIN, PROBE_SESSION_NAME),
        cluster="quiet",
        region=REGION,
        endpoint=f"{sandbox.kube_endpoint_url}/k8s/{ACCOUNT}/{REGION}/quiet",
        ca_data=sandbox.ca_data,
    )
    assert probe.review() is not None  # logging is off: nothing is written, no log group is made

    eks.update_cluster_config(name="quiet", logging={"clusterLogging": [{"types": ["authenticator"], "enabled": True}]})
    assert probe.review() is not None

    events = logs.filter_log_events(logGroupName="/aws/eks/quiet/cluster")["events"]
    assert [parse_line(e["message"]) is not None and "access granted" in e["message"] for e in events] == [True]
    assert f'arn="{ADMIN}"' in events[0]["message"] and "username=admin" in events[0]["message"]


def test_a_line_no_go_program_could_log_is_counted_malformed_not_a_crash(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    """Issue 20 #8: `\\U00110000` (past the last code point), `\\ud800` (a surrogate, as an escape in the line
    and as the lone surrogate json.loads makes of CloudWatch's own `\\ud800`) and `\\xff` (not UTF-8)."""
    sandbox = make_sandbox(parse_scenario(usage_scenario(), "usage.yaml"))
    logs = client(sandbox, "logs")
    stream = logs.describe_log_streams(logGroupName="/aws/eks/usage/cluster")["logStreams"][0]["logStreamName"]
    now = datetime.now(UTC)
    granted = f'time="{_at(timedelta(hours=1))}" level=info msg="access granted" arn="{DEV}" groups="[]" username='
    bad = [granted + '"\\U00110000"', granted + '"\\ud800"', granted + '"a\ud800"', granted + '"\\xff"']
    logs.put_log_events(
        logGroupName="/aws/eks/usage/cluster",
        logStreamName=stream,
        logEvents=[
            {"timestamp": int(now.timestamp() * 1000) - 1000 + i, "message": line} for i, line in enumerate(bad)
        ],
    )

    result = plan(sandbox, tmp_path, "usage", "--usage-since", "30d")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["usage"]["malformedLines"] == len(bad)
    assert [f["message"].split(" of ")[0] for f in findings(data, "USAGE_LOG_MALFORMED")] == [str(len(bad))]
    assert {p["principalArn"]: p["count"] for p in data["usage"]["principals"]}[DEV] == 3  # the seeded ones
