"""The judge of the differential test: what our planner makes of one aws-auth document, against what
aws-iam-authenticator makes of it (the Go oracle of conftest.py). Pure: the oracle comes in as a function.

Our side runs exactly as `aws-auth-migrate plan --offline --aws-auth-file F --cluster c` does: the file's
bytes through `parse_aws_auth`, `offline_snapshot` (CONFIG_MAP, no region, no account), `build_plan` with
the CLI's default options, and the plan written out (plan file, JSON, text) as the CLI writes it. Outcomes:

- REFUSED: an error of the project's hierarchy with exit code 2 (`file:line: what`). Allowed: a smaller
  accepted language is fine. Nothing more is checked.
- CRASH: any other exception (exit 1, or another exit code where 2 was due), or no answer within the
  time limit.
- a plan, compared with the oracle. Every entry's principal is probed (lower-cased; roles without their
  path, as the authenticator sees them; users with it):
  - WIDENING: an entry for a principal the authenticator maps to nobody (or a document it cannot decode).
  - MISMATCH: an entry whose identity is not the authenticator's: the username (no username only where
    the authenticator's is "" and the plan says EMPTY_USERNAME), the groups as a set (plus system:masters
    for AmazonEKSClusterAdminPolicy at cluster scope), `{{AccountID}}` rendered with the principal's account;
    a node entry where the authenticator gives its type's node username and groups (system:bootstrappers
    aside); an entry for a principal whose answer is random (several candidates, different identities).
  - LOSS: a principal the authenticator maps through mapRoles or mapUsers (a role key that is a role ARN
    without a path, a user ARN with or without one, an account root) that has neither an entry nor a
    blocker finding naming it. mapAccounts is left out: the planner blocks it with MAP_ACCOUNTS.
- OK otherwise.
"""

from __future__ import annotations

import io
import json
import re
import signal
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from types import FrameType
from typing import Any, Protocol

from rich.console import Console

from migrator.awsauth import parse_aws_auth
from migrator.cli.render.plan import plan_json, print_plan
from migrator.errors import MigratorError
from migrator.model import AuthMode, EntryAction, EntryType, Plan, PlannedEntry, ScopeType, Severity
from migrator.plan.planfile import dump_plan
from migrator.plan.planner import PlanOptions, build_plan
from migrator.plan.snapshot import offline_snapshot
from migrator.rules.identity import BOOTSTRAPPERS_GROUP, MASTERS_GROUP, NODE_IDENTITIES

__all__ = [
    "FAILURES",
    "Oracle",
    "Ours",
    "Outcome",
    "Problem",
    "Verdict",
    "judge",
    "judge_document",
    "judge_documents",
    "mapped_keys",
    "plan_offline",
    "probe_key",
    "probes",
    "report",
    "request",
]

FILE = "aws-auth.yaml"
CLUSTER = "c"
TIME_LIMIT = 20.0  # seconds one document may take in our reader and planner before it counts as a crash
CLUSTER_ADMIN_SUFFIX = ":cluster-access-policy/AmazonEKSClusterAdminPolicy"
EC2_NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
# Templates the authenticator renders per session and an access entry cannot hold: in a group at all, in a
# STANDARD entry's username these two (eks-facts.md section 5: TEMPLATED_GROUP, UNSUPPORTED_TEMPLATE).
_SESSION_TEMPLATE_RE = re.compile(r"\{\{(EC2PrivateDNSName|SessionName|SessionNameRaw|AccessKeyID|AccountID)\}\}")
_UNSUPPORTED_IN_USERNAME = ("{{AccessKeyID}}", "{{EC2PrivateDNSName}}")
# A principal a caller can be: what aws-iam-authenticator compares aws-auth's lower-cased keys with.
_PARTITIONS = "aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc"
_NAME = r"[\w+=,.@-]{1,128}"
_CALLER_RE = re.compile(
    rf"arn:(?:{_PARTITIONS}):iam::\d{{12}}:(?:role/{_NAME}|user/(?:[\x21-\x2e\x30-\x7e]{{1,512}}/)*{_NAME}|root)",
    re.ASCII,
)
_ROLE_PREFIX_RE = re.compile(r"(arn:[^:]*:iam::[^:]*:role/)(.*)", re.DOTALL)


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    CRASH = "crash"
    WIDENING = "widening"
    MISMATCH = "mismatch"
    LOSS = "loss"


FAILURES = frozenset({Outcome.CRASH, Outcome.WIDENING, Outcome.MISMATCH, Outcome.LOSS})
_SEVERITY = (Outcome.CRASH, Outcome.WIDENING, Outcome.MISMATCH, Outcome.LOSS)  # which names a verdict first


class Oracle(Protocol):
    """The `authenticator` fixture, as far as the judge needs it."""

    def run(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...


# --- our side ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ours:
    """What `plan --offline` makes of one document: a plan, a refusal (exit 2), or a crash."""

    plan: Plan | None
    refusal: str = ""
    crash: str = ""


class _TimeLimit(BaseException):  # not an Exception: the code under test must not catch it
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """SIGALRM after `seconds`, in the main thread (elsewhere: no limit)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def plan_offline(document: str, *, time_limit: float = TIME_LIMIT) -> Ours:
    """Our reader and planner on `document`, as `aws-auth-migrate plan --offline` runs them (in-process)."""
    try:
        with _time_limit(time_limit):
            aws_auth = parse_aws_auth(document.encode("utf-8"), FILE)
            snapshot = offline_snapshot(aws_auth, cluster=CLUSTER, region=None, account=None, mode=AuthMode.CONFIG_MAP)
            plan = build_plan(snapshot, PlanOptions(created_at="2026-01-01T00:00:00Z"))
            # What the CLI writes: the plan file, and the plan on stdout (text by default, or JSON).
            dump_plan(plan).encode("utf-8")
            plan_json(plan).encode("utf-8")
            out = io.StringIO()
            print_plan(plan, Console(file=out, width=180, soft_wrap=False, color_system=None))
            out.getvalue().encode("utf-8")
    except MigratorError as error:
        if error.exit_code == 2:
            return Ours(None, refusal=str(error))
        return Ours(None, crash=f"exit {error.exit_code} where bad input is exit 2: {error}")
    except _TimeLimit:
        return Ours(None, crash=f"no answer within {time_limit:g} s")
    except Exception:
        return Ours(None, crash=traceback.format_exc(limit=-8))
    return Ours(plan)


def _entries(plan: Plan) -> list[PlannedEntry]:
    """The entries the plan makes or keeps (a `skip` entry is only a placeholder for a finding)."""
    return [entry for entry in plan.entries if entry.action is not EntryAction.SKIP]


def probe_key(arn: str) -> str:
    """How the authenticator sees the principal of an ARN: lower-cased, a role without its path."""
    lowered = arn.lower()
    match = _ROLE_PREFIX_RE.fullmatch(lowered)
    if match is not None:
        return match.group(1) + match.group(2).rsplit("/", 1)[-1]
    return lowered


def probes(ours: Ours) -> list[str]:
    """The principals to ask the oracle about: those of our plan's entries."""
    if ours.plan is None:
        return []
    return sorted({probe_key(entry.spec.principal_arn) for entry in _entries(ours.plan)})


def request(request_id: str, document: str, ours: Ours) -> dict[str, Any]:
    return {"id": request_id, "document": document, "probes": probes(ours)}


# --- the comparison ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: Outcome
    principal: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value.upper()} {self.principal}: {self.detail}"


@dataclass(frozen=True)
class Verdict:
    id: str
    document: str
    kind: Outcome
    problems: tuple[Problem, ...] = ()
    message: str = ""  # the refusal, or the crash's traceback
    entries: int = 0  # how many entries the plan makes
    oracle: Mapping[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.kind in FAILURES

    def explain(self) -> str:
        """A readable account: what went wrong, what each side made of the document, and the document."""
        lines = [f"{self.kind.value.upper()}: document {self.id}"]
        lines += [f"  - {problem}" for problem in self.problems]
        if self.message:
            lines += ["  " + line for line in self.message.rstrip().splitlines()]
        if self.oracle is not None:
            lines.append("  the authenticator: " + _oracle_summary(self.oracle))
        lines += ["  the document (as JSON, then as text):", "  " + json.dumps(self.document, ensure_ascii=True)]
        lines += ["    | " + line for line in self.document.split("\n")]
        return "\n".join(lines)


def _oracle_summary(answer: Mapping[str, Any]) -> str:
    if answer.get("error") is not None:
        return f"cannot decode the ConfigMap: {answer['error']}"
    sections = answer.get("sections") or {}
    parts = []
    for name, section in sorted(sections.items()):
        status = section.get("status")
        if status == "absent":
            continue
        problem = section.get("error") or ""
        parts.append(f"{name} {status}" + (f" ({problem})" if problem else ""))
    roles = [f"{r['key']} -> {r.get('username')!r} {r.get('groups')}" for r in answer.get("roles") or []]
    users = [f"{u['key']} -> {u.get('username')!r} {u.get('groups')}" for u in answer.get("users") or []]
    return "; ".join(parts) + f"; roles {roles}; users {users}; accounts {answer.get('accounts')}"


def _render_account(text: str, account: str) -> str:
    return text.replace("{{AccountID}}", account)


def _identity(candidates: Sequence[Mapping[str, Any]], account: str) -> tuple[str, frozenset[str]] | str:
    """The authenticator's identity for a principal, or why there is none to compare with."""
    identities = {
        (
            _render_account(str(c.get("username") or ""), account),
            frozenset(_render_account(str(g), account) for g in c.get("groups") or ()),
        )
        for c in candidates
    }
    if len(identities) > 1:
        shown = "; ".join(f"{u!r} {sorted(g)}" for u, g in sorted(identities, key=repr))
        return f"the authenticator's answer is random (it ranges over a Go map): {shown}"
    if not identities:
        return "the authenticator gives no candidate"
    return identities.pop()


def _entry_problem(entry: PlannedEntry, username: str, groups: frozenset[str], plan: Plan) -> str | None:
    spec = entry.spec
    today = f"today {username!r} {sorted(groups)}"
    if spec.type is not EntryType.STANDARD:
        node = NODE_IDENTITIES.get(spec.type)
        if node is None:
            return f"a {spec.type.value} entry, which the judge does not know; {today}"
        node_username, node_groups = node
        if username != node_username or groups - {BOOTSTRAPPERS_GROUP} != node_groups:
            return f"a {spec.type.value} entry ({node_username!r} {sorted(node_groups)}), but {today}"
        return None
    planned = set(spec.groups)
    for policy in spec.policies:
        if policy.policy_arn.endswith(CLUSTER_ADMIN_SUFFIX) and policy.scope.type is ScopeType.CLUSTER:
            planned.add(MASTERS_GROUP)
        else:
            return f"the entry has access policy {policy.policy_arn} ({policy.scope.type.value}); {today}"
    if spec.username is None:
        empty_noted = any(
            f.code == "EMPTY_USERNAME"
            and f.principal_arn
            and probe_key(f.principal_arn) == probe_key(spec.principal_arn)
            for f in plan.findings
        )
        if username != "" or not empty_noted:
            why = "no EMPTY_USERNAME finding" if username == "" else "EKS's default username"
            return f"the entry has no username ({why}); {today}"
    elif spec.username != username:
        return f"entry username {spec.username!r}, {today}"
    elif any(template in spec.username for template in _UNSUPPORTED_IN_USERNAME):
        return f"entry username {spec.username!r} holds a template an access entry does not render"
    if planned != groups:
        return f"entry groups {sorted(planned)}, {today}"
    if templated := sorted(g for g in planned if _SESSION_TEMPLATE_RE.search(g)):
        return f"entry groups {templated} hold a template, which the authenticator renders and an entry cannot"
    return None


def mapped_keys(answer: Mapping[str, Any]) -> list[str]:
    """The principals the authenticator maps through mapRoles or mapUsers: its role and user keys that are
    ARNs a caller can have (a role without a path, a user with or without one, an account root)."""
    keys = {str(r["key"]).lower() for r in answer.get("roles") or ()}
    keys |= {str(u["key"]).lower() for u in answer.get("users") or ()}
    lookup = answer.get("lookup") or {}
    return sorted(
        key
        for key in keys
        if _CALLER_RE.fullmatch(key) and (lookup.get(key) or {}).get("via") in ("mapRoles", "mapUsers")
    )


def judge(request_id: str, document: str, ours: Ours, answer: Mapping[str, Any] | None) -> Verdict:
    """The verdict on one document; `answer` is the oracle's (None when we made no plan: not needed)."""
    if ours.plan is None:
        if ours.crash:
            return Verdict(request_id, document, Outcome.CRASH, message=ours.crash)
        return Verdict(request_id, document, Outcome.REFUSED, message=ours.refusal)
    plan = ours.plan
    entries = _entries(plan)
    assert answer is not None, "a plan needs the oracle's answer"
    problems: list[Problem] = []
    decoded = answer.get("error") is None
    lookup: Mapping[str, Any] = answer.get("lookup") or {}
    seen: dict[str, int] = {}
    for entry in entries:
        key = probe_key(entry.spec.principal_arn)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            problems.append(Problem(Outcome.MISMATCH, key, "the plan has more than one entry for this principal"))
        found = lookup.get(key) if decoded else None
        if found is None or found.get("via") in (None, "none"):
            why = f"the authenticator cannot decode the ConfigMap ({answer.get('error')})" if not decoded else ""
            problems.append(Problem(Outcome.WIDENING, key, why or "the authenticator maps this principal to nobody"))
            continue
        account = key.split(":")[4] if key.count(":") >= 4 else ""
        identity = _identity(found.get("candidates") or (), account)
        if isinstance(identity, str):
            problems.append(Problem(Outcome.MISMATCH, key, f"an entry, but {identity}"))
            continue
        if (detail := _entry_problem(entry, *identity, plan)) is not None:
            problems.append(Problem(Outcome.MISMATCH, key, f"{detail} (via {found.get('via')})"))
    if decoded:
        covered = set(seen)
        covered |= {
            probe_key(f.principal_arn) for f in plan.findings if f.severity is Severity.BLOCKER and f.principal_arn
        }
        for key in mapped_keys(answer):
            if key not in covered:
                candidates = (lookup.get(key) or {}).get("candidates") or ()
                shown = "; ".join(f"{c.get('username')!r} {c.get('groups')}" for c in candidates)
                problems.append(
                    Problem(
                        Outcome.LOSS,
                        key,
                        f"the authenticator maps it via {lookup[key].get('via')} ({shown}); no entry, no blocker",
                    )
                )
    kind = next((k for k in _SEVERITY if any(p.kind is k for p in problems)), Outcome.OK)
    return Verdict(request_id, document, kind, tuple(problems), entries=len(entries), oracle=answer)


# --- many documents ---------------------------------------------------------------------------------------


def judge_documents(
    documents: Sequence[tuple[str, str]], oracle: Oracle, *, batch: int = 250, time_limit: float = TIME_LIMIT
) -> list[Verdict]:
    """Verdicts on (id, document) pairs; the oracle is asked in batches, and only about planned documents."""
    ours = [plan_offline(document, time_limit=time_limit) for _, document in documents]
    requests = [
        request(request_id, document, mine)
        for (request_id, document), mine in zip(documents, ours, strict=True)
        if mine.plan is not None
    ]
    answers: dict[str, dict[str, Any]] = {}
    for start in range(0, len(requests), batch):
        for answer in oracle.run(requests[start : start + batch]):
            answers[str(answer.get("id"))] = answer
    return [
        judge(request_id, document, mine, answers.get(request_id))
        for (request_id, document), mine in zip(documents, ours, strict=True)
    ]


def judge_document(document: str, oracle: Oracle, request_id: str = "doc") -> Verdict:
    return judge_documents([(request_id, document)], oracle)[0]


def report(verdicts: Sequence[Verdict], *, limit: int | None = None) -> str:
    """Counts per outcome, then each failure explained (the first `limit` of them)."""
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict.kind.value] = counts.get(verdict.kind.value, 0) + 1
    entries = sum(v.entries for v in verdicts if v.kind is Outcome.OK)
    head = ", ".join(f"{counts.get(k.value, 0)} {k.value}" for k in Outcome)
    failures = [v for v in verdicts if v.failed]
    shown = failures if limit is None else failures[:limit]
    parts = [f"{len(verdicts)} documents: {head} ({entries} entries in OK plans)"]
    parts += [verdict.explain() for verdict in shown]
    if len(shown) < len(failures):
        parts.append(f"... and {len(failures) - len(shown)} more failures")
    return "\n\n".join(parts)
