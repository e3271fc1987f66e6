"""Chaos: a migration interrupted and disturbed at seeded points, checked against an identity oracle.

Each seed is one bounded story on a small cluster (two node groups, one Windows; Fargate; the creator mapped
with system:masters; a second system:masters role; a developer role; a role of another account read through
`--iam-role`; two IAM users). The real CLI runs as subprocesses against the sandbox over HTTP, segment by
segment (`apply --until <unit boundary>`), and at seeded points the story does one of:

- `sigkill` / `sigint`: the segment is signalled once the journal says its step started (a mode switch is
  held in progress by the sandbox until the signal is sent, so it lands inside the switch);
- `edit-aws-auth`: an operator edits aws-auth (grants a principal a group, revokes a principal, or maps a
  newcomer), between runs or while a mode switch is held in progress;
- `create-entry` / `delete-entry`: an operator makes an access entry (one equal to aws-auth's mapping, or a
  foreign one) or deletes one, with boto3;
- `fault`: the sandbox injects throttling, 500s and connection resets into EKS for the next segments.

After an interruption the run is resumed or rolled back (seeded); a stale refusal (exit 3) is answered by
planning again, as the tool says. After every run the oracle (`check_identities`) asks the cluster, as each
principal (SelfSubjectReview), who it is. Failing seeds print themselves; keep them in `REGRESSION_SEEDS`.
`AWS_AUTH_MIGRATE_CHAOS_SEEDS="1,2,3"` (or `"100-140"`) runs other seeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from migrator.sandbox.scenario import parse_scenario
from migrator.sandbox.server import Sandbox
from migrator.sandbox.state import SimCluster
from migrator.wiring.probe import PROBE_SESSION_NAME, IdentityProbe, ObservedIdentity, observed, same_identity
from tests.cli.conftest import inherited_env, run_cli
from tests.integration.conftest import SandboxFactory, client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACCOUNT = "111122223333"
OTHER = "444455556666"
REGION = "us-east-1"
CLUSTER = "chaos"
SESSION = PROBE_SESSION_NAME
FAST = ("--poll-seconds", "0.2")
BOTH_GATES = ("--approve-gate", "API_AND_CONFIG_MAP", "--approve-gate", "API")
AWS_AUTH_KEY = ("v1", "configmaps", "kube-system", "aws-auth")
CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def _role(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def _user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


NODE = _role("NodeRole")
WINDOWS = _role("WinNodeRole")
FARGATE = _role("PodExec")
CREATOR = _role("Admin")  # created the cluster, and mapped with system:masters
BREAK_GLASS = _role("BreakGlass")
DEVELOPER = _role("Developer")
OBSERVER = _role("Observer", OTHER)  # another account: its IAM is read through --iam-role
ALICE = _user("alice")
BOB = _user("bob")
NEWCOMER = _role("Newcomer")  # in IAM, mapped only when an edit maps it
IAM_READER = _role("aws-auth-migrate-iam-reader", OTHER)
CALLER = CREATOR


@dataclass(frozen=True)
class Mapping:
    arn: str
    username: str
    groups: tuple[str, ...]

    @property
    def section(self) -> str:
        return "mapUsers" if ":user/" in self.arn else "mapRoles"

    def yaml(self) -> str:
        key = "userarn" if self.section == "mapUsers" else "rolearn"
        return f"- {key}: {self.arn}\n  username: {self.username}\n  groups: [{', '.join(self.groups)}]\n"


EC2_NODE = "system:node:{{EC2PrivateDNSName}}"
MAPPINGS = (
    Mapping(NODE, EC2_NODE, ("system:bootstrappers", "system:nodes")),
    Mapping(WINDOWS, EC2_NODE, ("system:bootstrappers", "system:nodes", "eks:kube-proxy-windows")),
    Mapping(FARGATE, "system:node:{{SessionName}}", ("system:bootstrappers", "system:nodes", "system:node-proxier")),
    Mapping(CREATOR, "admin:{{SessionName}}", ("system:masters",)),
    Mapping(BREAK_GLASS, "break-glass:{{SessionName}}", ("system:masters", "platform-admins")),
    Mapping(DEVELOPER, "developer:{{SessionName}}", ("developers",)),
    Mapping(OBSERVER, "observability:{{SessionName}}", ("observability-readers",)),
    Mapping(ALICE, "alice", ("developers",)),
    Mapping(BOB, "bob", ("view-only",)),
)
NODES = frozenset({NODE, WINDOWS, FARGATE})
PEOPLE = (BREAK_GLASS, DEVELOPER, OBSERVER, ALICE, BOB)  # what operators edit, map and unmap
PRINCIPALS = (*(m.arn for m in MAPPINGS), NEWCOMER)


def aws_auth_data(mappings: tuple[Mapping, ...]) -> dict[str, str]:
    return {
        section: "".join(m.yaml() for m in mappings if m.section == section) for section in ("mapRoles", "mapUsers")
    }


def scenario_text() -> str:
    data = aws_auth_data(MAPPINGS)
    aws_auth = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n"
    for section, text in data.items():
        aws_auth += f"  {section}: |\n" + "".join(f"    {line}" for line in text.splitlines(keepends=True))
    indented = "".join(f"      {line}" for line in aws_auth.splitlines(keepends=True))
    roles = [NODE, WINDOWS, FARGATE, CREATOR, BREAK_GLASS, DEVELOPER, OBSERVER, NEWCOMER, IAM_READER]
    return (
        "schema: aws-auth-migrate/scenario/v1\nclusters:\n"
        f"  - name: {CLUSTER}\n    region: {REGION}\n    account: \"{ACCOUNT}\"\n    version: \"1.31\"\n"
        "    platformVersion: eks.8\n    authenticationMode: CONFIG_MAP\n"
        f"    bootstrapClusterCreatorAdminPermissions: true\n    creator: {CREATOR}\n"
        "    nodegroups:\n"
        f"      - {{name: linux, nodeRole: \"{NODE}\", amiType: AL2023_x86_64_STANDARD}}\n"
        f"      - {{name: windows, nodeRole: \"{WINDOWS}\", amiType: WINDOWS_CORE_2022_x86_64}}\n"
        f"    fargateProfiles:\n      - {{name: kube-system, podExecutionRole: \"{FARGATE}\"}}\n"
        f"    awsAuth: |\n{indented}"
        "iam:\n  roles:\n" + "".join(f"    - arn: {arn}\n" for arn in roles)
        + f"  users:\n    - arn: {ALICE}\n    - arn: {BOB}\n"
        f"caller: {CALLER}\nsimulation:\n  updateSeconds: 1\n"
    )  # fmt: skip


def expected_identity(mapping: Mapping | None, node_name: str) -> ObservedIdentity | None:
    """What aws-auth gives `mapping`'s principal, rendered by hand for the probe's session (not the tool's
    identity model): {{SessionName}} is the probe's session name, {{EC2PrivateDNSName}} `node_name`."""
    if mapping is None:
        return None
    username = mapping.username.replace("{{SessionName}}", SESSION).replace("{{EC2PrivateDNSName}}", node_name)
    groups = frozenset(mapping.groups)
    return ObservedIdentity(username, groups - {"system:masters"}, "system:masters" in groups)


# --- observing the cluster --------------------------------------------------------------------------------


def eks_client(sandbox: Sandbox) -> Any:
    """The operator's (and the oracle's) boto3 client: patient, since injected faults hit it too."""
    return client(sandbox, region=REGION, attempts=10)


def mode_of(sandbox: Sandbox) -> str:
    described = eks_client(sandbox).describe_cluster(name=CLUSTER)["cluster"]
    return str(described["accessConfig"]["authenticationMode"])


def live_entries(sandbox: Sandbox) -> dict[str, tuple[Any, ...]]:
    eks = eks_client(sandbox)
    found: dict[str, tuple[Any, ...]] = {}
    if mode_of(sandbox) == "CONFIG_MAP":
        return found
    for page in eks.get_paginator("list_access_entries").paginate(clusterName=CLUSTER):
        for arn in page["accessEntries"]:
            entry = eks.describe_access_entry(clusterName=CLUSTER, principalArn=arn)["accessEntry"]
            policies = eks.list_associated_access_policies(clusterName=CLUSTER, principalArn=arn)
            found[arn] = (
                entry["type"],
                entry.get("username"),
                tuple(sorted(entry.get("kubernetesGroups", []))),
                tuple(sorted(p["policyArn"] for p in policies["associatedAccessPolicies"])),
            )
    return found


class Prober:
    """SelfSubjectReview as each principal, with its own credentials and an EKS token (migrator.wiring.probe)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._probes: dict[str, IdentityProbe] = {}

    def identities(self, entries: dict[str, tuple[Any, ...]]) -> dict[str, ObservedIdentity | None]:
        from migrator.model import PolicyAssociation

        seen: dict[str, ObservedIdentity | None] = {}
        for arn in PRINCIPALS:
            if arn not in self._probes:
                self._probes[arn] = IdentityProbe(
                    self.sandbox.credentials_for(arn, SESSION),
                    cluster=CLUSTER,
                    region=REGION,
                    endpoint=f"{self.sandbox.kube_endpoint_url}/k8s/{ACCOUNT}/{REGION}/{CLUSTER}",
                    ca_data=self.sandbox.ca_data,
                )
            review = self._probes[arn].review()
            policies = [PolicyAssociation(p) for p in entries[arn][3]] if arn in entries else []
            seen[arn] = observed(review, policies) if review is not None else None
        return seen


# --- the story's world: what aws-auth says, who was told what -------------------------------------------------


@dataclass
class Story:
    seed: int
    sandbox: Sandbox
    cluster: SimCluster
    work: Path
    node_names: dict[str, str]
    mappings: dict[str, Mapping] = field(default_factory=lambda: {m.arn: m for m in MAPPINGS})
    log: list[str] = field(default_factory=list)
    # principal -> why the tool (or EKS, documented) may show it otherwise than aws-auth does
    excused: dict[str, str] = field(default_factory=dict)
    foreign: set[str] = field(default_factory=set)  # principals holding an entry an operator made
    edited_after_entry: set[str] = field(default_factory=set)  # aws-auth changed while it had an entry
    prober: Prober | None = None
    plan: Path | None = None
    plans_made: int = 0
    runs: int = 0
    last_code: int = 0
    refused: bool = False  # the last run was refused by a gate or the verification (exit 4)

    def say(self, line: str) -> None:
        self.log.append(line)

    def context(self) -> str:
        return f"seed {self.seed} (rerun: AWS_AUTH_MIGRATE_CHAOS_SEEDS={self.seed})\n  " + "\n  ".join(self.log)

    def expected(self, arn: str) -> ObservedIdentity | None:
        return expected_identity(self.mappings.get(arn), self.node_names.get(arn, ""))


def check_identities(story: Story, when: str, *, after_kill: bool = False) -> None:
    """The identity oracle, at one observation point. The cluster is asked as each principal who it is
    (SelfSubjectReview, with the policies of its entry for cluster-admin), and compared with what aws-auth,
    as the story last edited it, gives that principal (rendered by hand, `expected_identity`):

    (a) nobody has MORE: no group, no cluster-admin and no authentication that aws-auth does not give;
    (b) nobody has LESS: no 401, no lost group, no lost cluster-admin, the same username.

    Documented exceptions, and only these:
    - node roles do not carry system:bootstrappers in an entry (`same_identity(node=True)`);
    - the Windows node role may hold EKS's EC2_LINUX entry between the first switch and the plan's repair;
    - the creator: EKS's hidden bootstrap mapping (kubernetes-admin) wins over aws-auth, and the tool keeps the
      admin entry EKS makes for it at the first switch: only its username may differ;
    - a principal in `story.excused`: the tool stopped and named it (a foreign entry stands in its way, an
      entry made before aws-auth was edited that EKS prefers, ...); the reason is in the message.
    Right after a SIGKILL (`after_kill`) the run may be inside a unit, so only (a) is checked there; (b) is
    checked at the next observation, after a resume or a rollback.
    """
    entries = live_entries(story.sandbox)
    story.prober = story.prober or Prober(story.sandbox)
    seen = story.prober.identities(entries)
    mode = mode_of(story.sandbox)
    problems: list[str] = []
    for arn in PRINCIPALS:
        want, got = story.expected(arn), seen[arn]
        if arn in story.excused:
            continue
        if same_identity(want, got, node=arn in NODES):
            continue
        if arn == WINDOWS and got is not None and entries.get(WINDOWS, ("",))[0] == "EC2_LINUX":
            continue  # EKS's defect right after the switch; the repair step follows
        if arn == CREATOR and want and got and (got.groups, got.cluster_admin) == (want.groups, want.cluster_admin):
            continue
        more = got is not None and (
            want is None or bool(got.groups - want.groups) or (got.cluster_admin and not want.cluster_admin)
        )
        if after_kill and not more:
            continue
        problems.append(f"{arn}: aws-auth gives {describe(want)}, the cluster says {describe(got)} ({mode})")
    assert not problems, f"{when}: identities differ from aws-auth\n  " + "\n  ".join(problems) + "\n" + story.context()


def describe(identity: ObservedIdentity | None) -> str:
    return "401 (not authenticated)" if identity is None else identity.describe()


# --- the operator's actions ----------------------------------------------------------------------------------


def edit_aws_auth(story: Story, rng: random.Random) -> None:
    """An operator edits aws-auth: grants a principal a group, revokes a principal, or maps a newcomer."""
    kind = rng.choice(["grant", "revoke", "newcomer"])
    entries = live_entries(story.sandbox)
    if kind == "newcomer" and NEWCOMER not in story.mappings:
        target, changed = NEWCOMER, Mapping(NEWCOMER, "newcomer:{{SessionName}}", ("view-only",))
    else:
        kind = "revoke" if kind == "newcomer" else kind
        target = rng.choice([p for p in PEOPLE if p in story.mappings])
        old = story.mappings[target]
        changed = dataclasses.replace(old, groups=(*old.groups, "oncall")) if kind == "grant" else None
    if changed is None:
        del story.mappings[target]
    else:
        story.mappings[target] = changed
    with story.sandbox.world.lock:
        stored = story.cluster.objects[AWS_AUTH_KEY].body
        stored["data"] = aws_auth_data(tuple(story.mappings.values()))
        stored["metadata"]["resourceVersion"] = story.cluster.next_resource_version()
    if target in entries:
        story.edited_after_entry.add(target)
        # EKS prefers the entry to aws-auth; the tool made it from the aws-auth of its time and must stop at
        # the next gate (exit 3) and flag the principal when planning again.
        story.excused[target] = "aws-auth edited after its entry was made (EKS prefers the entry)"
    story.say(f"edit-aws-auth: {kind} {target} (had an entry: {target in entries})")


def create_entry(story: Story, rng: random.Random) -> None:
    """An operator makes an entry for a principal that has none: equal to its mapping, or a foreign one."""
    target = rng.choice([p for p in PEOPLE if p in story.mappings])
    foreign = rng.random() < 0.5
    eks = eks_client(story.sandbox)
    mapping = story.mappings[target]
    groups = [g for g in mapping.groups if g != "system:masters"]
    kwargs: dict[str, Any] = (
        {"username": "someone-else", "kubernetesGroups": ["other"]}
        if foreign
        else {"username": mapping.username, "kubernetesGroups": groups}
    )
    try:
        eks.create_access_entry(clusterName=CLUSTER, principalArn=target, **kwargs)
        if not foreign and "system:masters" in mapping.groups:
            eks.associate_access_policy(
                clusterName=CLUSTER, principalArn=target, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"}
            )
    except (eks.exceptions.ResourceInUseException, eks.exceptions.InvalidRequestException) as error:
        story.say(f"create-entry {target}: refused by EKS ({error.response['Error']['Code']}), nothing made")
        return
    if foreign:
        story.foreign.add(target)
        story.excused[target] = "an operator's foreign entry"
    story.say(f"create-entry: {'foreign' if foreign else 'equal'} entry for {target}")


def delete_entry(story: Story, rng: random.Random) -> None:
    """An operator deletes an entry (ours, EKS's, or its own) while aws-auth is still read (not in API)."""
    entries = live_entries(story.sandbox)
    if mode_of(story.sandbox) != "API_AND_CONFIG_MAP" or not entries:
        story.say("delete-entry: skipped (the cluster does not read aws-auth next to entries)")
        return
    target = rng.choice(sorted(entries))
    eks_client(story.sandbox).delete_access_entry(clusterName=CLUSTER, principalArn=target)
    story.foreign.discard(target)
    story.edited_after_entry.discard(target)
    story.excused.pop(target, None)  # it falls back to aws-auth: exactly what aws-auth gives
    story.say(f"delete-entry: {target}")


def set_faults(story: Story, rate: float) -> None:
    with story.sandbox.world.lock:
        story.sandbox.world.settings = dataclasses.replace(
            story.sandbox.world.settings, throttle=rate, server_error=rate, connection_reset=rate / 2
        )


# --- running the tool ----------------------------------------------------------------------------------------


def cli(story: Story, *args: str) -> subprocess.CompletedProcess[str]:
    story.runs += 1
    result = run_cli(*args, cwd=story.work, env=story.sandbox.env())
    assert "Traceback" not in result.stderr, result.stderr + "\n" + story.context()
    return result


def make_plan(story: Story) -> Path:
    story.plans_made += 1
    path = story.work / "plans" / f"plan-{story.plans_made}" / "chaos.plan.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)  # --out writes only into a folder that exists
    iam = ("--iam-role", f"{OTHER}={IAM_READER}")
    result = cli(story, "plan", "--cluster", CLUSTER, "--region", REGION, "--target", "API", "--out", str(path), *iam)
    assert result.returncode == 0, result.stderr + "\n" + story.context()
    story.say(f"plan {path.parent.name}: {len(plan_steps(path))} steps")
    story.plan = path
    return path


_STEPS: dict[Path, list[dict[str, Any]]] = {}


def plan_steps(plan: Path) -> list[dict[str, Any]]:
    if plan not in _STEPS:
        _STEPS[plan] = json.loads(run_cli("show", str(plan), "-o", "json").stdout)["steps"]
    return _STEPS[plan]


def plan_findings(plan: Path) -> dict[str, str]:
    """principal -> `CODE: message` of the plan's warnings and blockers about it."""
    shown = json.loads(run_cli("show", str(plan), "-o", "json").stdout)
    return {
        f["principalArn"]: f"{f['code']}: {f['message']}"
        for f in shown["findings"]
        if f.get("principalArn") and f["severity"] in ("warning", "blocker")
    }


def boundaries(plan: Path) -> list[str]:
    """Step ids after which a principal's unit (its entry and its policies) is complete."""
    steps = plan_steps(plan)
    return [s["id"] for i, s in enumerate(steps) if i + 1 == len(steps) or steps[i + 1]["kind"] != "associate-policy"]


def journal_events(plan: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for journal in plan.parent.glob("*.journal.jsonl"):
        for line in journal.read_text().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                found.append((str(record.get("event")), str(record.get("step"))))
    return found


def status(story: Story) -> dict[str, Any]:
    assert story.plan is not None
    result = cli(story, "status", str(story.plan), "-o", "json")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def run_segment(
    story: Story, until: str, *, signum: int | None = None, during: Callable[[], None] | None = None, watch: str = ""
) -> tuple[int, str]:
    """`apply --until` as a subprocess. With `signum` or `during`, once the journal says `watch` started the
    run is signalled or `during` is done (an operator's edit). A mode switch is held in progress by the
    sandbox until then, so both land inside it, whatever the machine's load; other steps are slowed down."""
    assert story.plan is not None
    story.runs += 1
    command = [sys.executable, "-m", "migrator", "apply", str(story.plan), "--yes", *BOTH_GATES, *FAST]
    command += ["--until", until]
    env = {**inherited_env(), **story.sandbox.env()}
    world = story.sandbox.world
    meddle = signum is not None or during is not None
    held = meddle and watch.endswith("set-mode")
    if meddle:
        with world.lock:
            world.settings = dataclasses.replace(world.settings, latency_ms=150, update_seconds=3600 if held else 1)
    updates = len(story.cluster.updates)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = subprocess.Popen(command, cwd=story.work, env=env, text=True, **pipes)
    try:
        if meddle:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if ("step-started", watch) in journal_events(story.plan) and (
                    not held or len(story.cluster.updates) > updates
                ):
                    break
                time.sleep(0.01)
            landed = "inside it" if process.poll() is None else "after the run ended"
            if during is not None:
                during()
                story.say(f"  (that edit was made once {watch} started, {landed})")
            if signum is not None:
                if process.poll() is None:
                    process.send_signal(signum)
                story.say(f"  {signal.Signals(signum).name} once {watch} started, {landed}")
            with world.lock:
                for update in story.cluster.updates.values():
                    update.finishes_at = 0.0  # a held switch finishes (EKS goes on, with or without the tool)
                world.settings = dataclasses.replace(world.settings, latency_ms=0, update_seconds=1)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        with world.lock:
            for update in story.cluster.updates.values():
                update.finishes_at = 0.0
            world.settings = dataclasses.replace(world.settings, latency_ms=0, update_seconds=1)
    assert "Traceback" not in stderr, stderr + "\n" + story.context()
    return process.returncode, stderr


# --- one seed ---------------------------------------------------------------------------------------------

ACTIONS = ("sigkill", "sigint", "edit-aws-auth", "create-entry", "delete-entry", "fault")
MAX_RUNS = 30


def chaos(make_sandbox: SandboxFactory, tmp_path: Path, seed: int) -> Story:
    rng = random.Random(seed)
    sandbox = make_sandbox(parse_scenario(scenario_text(), f"chaos-{seed}.yaml"))
    cluster = sandbox.world.cluster(ACCOUNT, REGION, CLUSTER)
    assert cluster is not None
    story = Story(seed, sandbox, cluster, tmp_path, node_names={})
    # The probe's node name is the sandbox's made-up private DNS name; it is the only thing not hand-written.
    before = Prober(sandbox).identities({})
    for arn in (NODE, WINDOWS):
        got = before[arn]
        assert got is not None and got.username.startswith("system:node:ip-"), (arn, got)
        story.node_names[arn] = got.username.removeprefix("system:node:")
    check_identities(story, "before any change")

    plan = make_plan(story)
    units = boundaries(plan)
    # A few actions, each at a unit of the first plan's step list (later plans keep the same positions).
    schedule: dict[int, list[str]] = {}
    for action in rng.sample(ACTIONS, k=rng.randint(2, 4)):
        schedule.setdefault(rng.randrange(len(units)), []).append(action)
    story.say(f"schedule: {sorted(schedule.items())}")
    fault_segments = 0
    position = 0
    while story.runs < MAX_RUNS:
        assert story.plan is not None
        units = boundaries(story.plan)
        last = dict((step, event) for event, step in journal_events(story.plan) if event.startswith("step-"))
        done = {step for step, event in last.items() if event == "step-done"}
        todo = [u for u in units if u not in done]
        if not todo:
            break
        until = todo[0]
        steps = [s["id"] for s in plan_steps(story.plan)]
        first_of_segment = next(s for s in steps if s not in done)
        actions = schedule.pop(position, [])
        position += 1
        signum: int | None = None
        during: Callable[[], None] | None = None
        for action in actions:
            if action == "edit-aws-auth" and first_of_segment.endswith("set-mode"):
                during = functools.partial(edit_aws_auth, story, rng)  # while the switch is in progress
            elif action == "edit-aws-auth":
                edit_aws_auth(story, rng)
            elif action == "create-entry":
                create_entry(story, rng)
            elif action == "delete-entry":
                delete_entry(story, rng)
            elif action == "fault":
                set_faults(story, 0.05)
                fault_segments = 2
                story.say("fault: 5% throttling, 5% 500s, 2.5% connection resets for two segments")
            else:
                signum = signal.SIGKILL if action == "sigkill" else signal.SIGINT
        if during is not None:  # the edit lands inside a run that goes on to the API gate, as a real one would
            until = next(u for u in reversed(todo) if not u.endswith("set-mode"))
        clock = time.monotonic()
        code, stderr = run_segment(story, until, signum=signum, during=during, watch=first_of_segment)
        took = time.monotonic() - clock
        story.say(f"apply --until {until}: exit {code} ({took:.1f}s)" + (f": {last_line(stderr)}" if code else ""))
        if fault_segments:
            fault_segments -= 1
            if not fault_segments:
                set_faults(story, 0.0)
        recover(story, rng, code, stderr)
        clock = time.monotonic()
        check_identities(story, f"after apply --until {until} (exit {code})", after_kill=code == -signal.SIGKILL)
        story.say(f"  oracle {time.monotonic() - clock:.1f}s")
    set_faults(story, 0.0)
    finish(story)
    return story


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(nothing on stderr)"


def recover(story: Story, rng: random.Random, code: int, stderr: str) -> None:
    """What an operator does after the tool stopped: what the tool told them to. After an interruption or
    an API error, resume (the next segment) or, for some seeds, roll back first."""
    story.last_code = code
    story.refused = False if code != 4 else story.refused
    if code in (0, -signal.SIGKILL, 130, 5):
        if code != 0 and rng.random() < 0.3:
            rollback(story)
        return
    if code == 3:
        assert "aws-auth" in stderr or "changed" in stderr, stderr + "\n" + story.context()
        plan = make_plan(story)
        flagged = plan_findings(plan)
        for arn in story.edited_after_entry:
            # The new plan must say that the entry, not aws-auth, gives this principal its identity; the
            # principal is excused only while the tool has said so.
            if arn in flagged:
                story.excused[arn] = f"{plan.parent.name} flags it: {flagged[arn]}"
            else:
                story.excused.pop(arn, None)
                story.say(f"  {plan.parent.name} says nothing about {arn}, whose entry aws-auth no longer gives")
        return
    if code == 4:  # a gate or the verification refused: what is missing is named; re-run, then plan again
        assert "principal" in stderr or "refusing" in stderr, stderr + "\n" + story.context()
        if story.refused:
            make_plan(story)
        story.refused = True
        return
    if code == 6:
        named = [arn for arn in story.foreign if arn in stderr]
        assert named, "exit 6 without a foreign entry in its way: " + stderr + "\n" + story.context()
        eks = eks_client(story.sandbox)
        for arn in named:  # the operator removes their own entry, as the message says
            eks.delete_access_entry(clusterName=CLUSTER, principalArn=arn)
            story.foreign.discard(arn)
            story.excused.pop(arn, None)
            story.say(f"  operator deletes their entry for {arn}")
        return
    raise AssertionError(f"unexpected exit {code}: {stderr}\n{story.context()}")


def rollback(story: Story) -> None:
    assert story.plan is not None
    result = cli(story, "rollback", str(story.plan), "--yes")
    story.say(f"rollback: exit {result.returncode}")
    assert result.returncode in (0, 6), result.stderr + "\n" + story.context()
    check_identities(story, "after rollback")


def finish(story: Story) -> None:
    """The end: migrated (API, every step done) and everyone as aws-auth says, or stopped safely."""
    mode = mode_of(story.sandbox)
    report = status(story)
    story.say(f"end: {mode}, status {report.get('result')}")
    if mode == "API":
        assert report.get("result") == "completed", json.dumps(report)[:2000] + "\n" + story.context()
    else:  # not migrated: only where the tool refused and said why, in the mode where aws-auth still counts
        assert mode == "API_AND_CONFIG_MAP" and story.last_code in (3, 4, 6), story.context()
    check_identities(story, "at the end")


# --- the seeds --------------------------------------------------------------------------------------------

# Chosen to cover every action: SIGKILL then rollback, SIGINT inside a held switch and inside the Windows
# repair, aws-auth edits between runs and inside a switch, an operator's equal (adopted) and deleted entries
# (node and people), faults during entries, verification and the API switch. Seed 10 adds a foreign entry
# (exit 6, the operator removes it) and seed 27 an edit inside a switch; both show a defect (below).
DEFAULT_SEEDS = (5, 6, 13, 17, 37)
# Seeds that once failed. Each stays here; a known defect of the tool is a strict xfail until it is fixed.
REGRESSION_SEEDS: tuple[int, ...] = (10, 27)
# Fixed: 10 (aws-auth revoked a principal whose entry this plan had made; the new plan said nothing: now it
# names the entry, UNMAPPED_ENTRY) and 27 (aws-auth edited during the first switch was not re-read before the
# entries: apply re-reads it before making them). A seed whose defect is known stays a strict xfail until fixed.
KNOWN_DEFECTS: dict[int, str] = {}


def _seeds_from_env() -> tuple[int, ...]:
    text = os.environ.get("AWS_AUTH_MIGRATE_CHAOS_SEEDS", "").strip()
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    return tuple(seeds)


def _cases() -> list[Any]:
    seeds = _seeds_from_env() or tuple(dict.fromkeys((*DEFAULT_SEEDS, *REGRESSION_SEEDS)))
    return [
        pytest.param(seed, marks=pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[seed]))
        if seed in KNOWN_DEFECTS
        else seed
        for seed in seeds
    ]


@pytest.mark.parametrize("seed", _cases())
def test_nobody_gains_or_loses_access_whatever_happens_during_the_migration(
    make_sandbox: SandboxFactory, tmp_path: Path, seed: int
) -> None:
    started = time.monotonic()
    story = chaos(make_sandbox, tmp_path, seed)
    print(f"chaos seed {seed}: {story.runs} runs, {time.monotonic() - started:.1f}s\n  " + "\n  ".join(story.log))
