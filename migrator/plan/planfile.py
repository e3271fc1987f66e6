"""Plan <-> plain data <-> YAML file, with a schema tag and a SHA-256 over the body.

The plain-data form is the public JSON contract (`--output json` prints it), and the YAML file is the same
data. The integrity hash is over canonical JSON of everything but the `integrity` key, so re-indenting the
YAML does not break it but changing any value does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping as MappingABC
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from migrator.errors import InputError, PlanIntegrityError
from migrator.files import atomic_write
from migrator.model import (
    PLAN_SCHEMA,
    AccessEntrySpec,
    AuthMode,
    ClusterRef,
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
    SourceRef,
)
from migrator.plan.contract import (
    PlannedEntries,
    conversion_from_dict,
    conversion_to_dict,
    entry_to_dict,
    policy_from_dict,
    step_from_dict,
    step_kinds_to_dict,
    step_to_dict,
    usage_from_dict,
    usage_to_dict,
)
from migrator.plan.yamlread import read_yaml
from migrator.plan.yamltext import dump_yaml
from migrator.rules.findings import RULES, USAGE_CODES
from migrator.rules.limits import check_cluster_name
from migrator.rules.permissions import preflight_permissions

MAX_PLAN_BYTES = 64 * 1024 * 1024
# Plans of earlier versions are refused, not guessed: v1 carried untyped step params and trusted each step's
# gate/blocked flags; v2 repeated each step's kind facts (gate, irreversible, permissions), description and
# principal on every step, 5x the aws-auth it came from (v3 writes what a kind decides once, in `stepKinds`).
OLDER_SCHEMAS = frozenset({"aws-auth-migrate/plan/v1", "aws-auth-migrate/plan/v2"})
WRITTEN_STEP_KEYS = ("description", "blocked")  # what a step's kind and the plan's findings decide


# --- Plan -> data ----------------------------------------------------------------------------------------


def _source(ref: SourceRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"section": ref.section.value, "index": ref.index, "line": ref.line}


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as the JSON contract, with `integrity` last."""
    body: dict[str, Any] = {
        "schema": plan.schema,
        "planId": "",
        "createdAt": plan.created_at,
        "toolVersion": plan.tool_version,
        "cluster": {
            "name": plan.cluster.name,
            "region": plan.cluster.region,
            "account": plan.cluster.account,
            "partition": plan.cluster.partition,
            "authenticationMode": plan.current_mode.value,
        },
        "target": plan.target.value,
        "removeAwsAuth": plan.remove_aws_auth,
        # only in plans made with --accept-managed-aws-auth, so every other plan file stays as it was
        **({"acceptManagedAwsAuth": True} if plan.accept_managed_aws_auth else {}),
        "callerArn": plan.caller_arn,
        "fingerprint": {
            "awsAuthSha256": plan.fingerprint.aws_auth_sha256,
            "awsAuthResourceVersion": plan.fingerprint.aws_auth_resource_version,
            "authenticationMode": plan.fingerprint.authentication_mode.value,
            "entriesSha256": plan.fingerprint.entries_sha256,
            "offline": plan.fingerprint.offline,
        },
        "entries": [
            {
                **entry_to_dict(e.spec),
                "action": e.action.value,
                "source": _source(e.source),
                "current": entry_to_dict(e.current) if e.current is not None else None,
                **({"conversions": [conversion_to_dict(c) for c in e.conversions]} if e.conversions else {}),
            }
            for e in plan.entries
        ],
        "findings": [
            {
                "code": f.code,
                "severity": f.severity.value,
                "message": f.message,
                "principalArn": f.principal_arn,
                "source": _source(f.source),
            }
            for f in plan.findings
        ],
        "preflightPermissions": preflight_permissions(),
        "stepKinds": step_kinds_to_dict(plan.steps),
        "steps": [step_to_dict(plan, s) for s in plan.steps],
    }
    if plan.usage is not None:
        body["usage"] = usage_to_dict(plan.usage)
    if plan.rbac:  # only plans that reviewed RBAC carry it, so every other plan file stays as it was
        body["rbacReview"] = {
            "preferAccessPolicies": plan.prefer_access_policies,
            "acceptNarrowing": plan.accept_narrowing,
        }
    if plan.iam:  # only plans with paths, other accounts or unknown principals carry it
        body["iamAnswers"] = [
            {"principalArn": a.principal_arn, "status": a.lookup.status.value, "arn": a.lookup.arn} for a in plan.iam
        ]
    body["planId"] = plan_id(body)
    body["integrity"] = {"sha256": body_sha256(body)}
    return body


def _canonical(data: MappingABC[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def body_sha256(data: MappingABC[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in data.items() if k != "integrity"})).hexdigest()


def plan_id(data: MappingABC[str, Any]) -> str:
    """Deterministic: the same cluster state and options give the same id, whenever the plan is made."""
    content = {k: v for k, v in data.items() if k not in ("integrity", "createdAt", "planId")}
    return hashlib.sha256(_canonical(content)).hexdigest()[:12]


# --- data -> Plan ----------------------------------------------------------------------------------------


def _ref(data: Any) -> SourceRef | None:
    if data is None:
        return None
    return SourceRef(Section(data["section"]), int(data["index"]), data.get("line"))


def _text(data: MappingABC[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    """A string field (or null, where `optional`): a re-hashed edit may put anything in a plan file, and a
    list where an ARN belongs must be refused here, not crash apply."""
    value = data[key]
    if isinstance(value, str) or (optional and value is None):
        return value
    raise PlanIntegrityError(f"{where}.{key} is {value!r}: a plan file holds a string there")


def _texts(data: MappingABC[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = data[key]
    if isinstance(values, list) and all(isinstance(v, str) for v in values):
        return tuple(values)
    raise PlanIntegrityError(f"{where}.{key} is {values!r}: a plan file holds a list of strings there")


def _entry(data: MappingABC[str, Any]) -> AccessEntrySpec:
    return AccessEntrySpec(
        principal_arn=_text(data, "principalArn", "entry"),
        type=EntryType(data["type"]),
        username=_text(data, "username", "entry", optional=True),
        groups=_texts(data, "kubernetesGroups", "entry"),
        policies=tuple(policy_from_dict(p) for p in data["policies"]),
    )


def _iam_answer(data: Any) -> IamAnswer:
    if not isinstance(data, MappingABC):
        raise PlanIntegrityError(f"iamAnswers holds {data!r}: a plan file holds a mapping there")
    status = LookupStatus(data["status"])
    found = _text(data, "arn", "iamAnswers[]", optional=status is not LookupStatus.FOUND)
    return IamAnswer(_text(data, "principalArn", "iamAnswers[]"), PrincipalLookup(status, found))


def _iam_answers(data: MappingABC[str, Any]) -> tuple[IamAnswer, ...]:
    answers = data.get("iamAnswers", [])
    if not isinstance(answers, list):
        raise PlanIntegrityError(f"iamAnswers is {answers!r}: a plan file holds a list there")
    return tuple(_iam_answer(a) for a in answers)


def _accept_managed(data: MappingABC[str, Any]) -> bool:
    value = data.get("acceptManagedAwsAuth", False)
    if not isinstance(value, bool):
        raise PlanIntegrityError(f"acceptManagedAwsAuth is {value!r}: a plan file holds true there, or nothing")
    return value


def plan_from_dict(data: MappingABC[str, Any]) -> Plan:
    """Rebuild a plan. Each step is rebuilt from its kind and typed params; what the kind decides (gate,
    irreversible, permissions, description, blocked) is re-derived and must equal what the file says, so a
    self-consistent edit that re-hashes the file still cannot turn a gate off."""
    cluster, fingerprint = data["cluster"], data["fingerprint"]
    try:
        check_cluster_name(cluster["name"], where="cluster.name")  # it names the run directory
    except InputError as error:
        raise PlanIntegrityError(str(error)) from None
    entries = tuple(
        PlannedEntry(
            _entry(e),
            EntryAction(e["action"]),
            _ref(e["source"]),
            _entry(e["current"]) if e.get("current") else None,
            tuple(conversion_from_dict(c) for c in e.get("conversions") or ()),
        )
        for e in data["entries"]
    )
    review = data.get("rbacReview")
    if review is not None and not isinstance(review, MappingABC):
        raise PlanIntegrityError(f"rbacReview is {review!r}: a plan file holds a mapping there")
    planned = PlannedEntries(entries)
    steps = tuple(step_from_dict(s, planned) for s in data["steps"])
    plan = Plan(
        cluster=ClusterRef(
            _text(cluster, "name", "cluster"),
            _text(cluster, "region", "cluster", optional=bool(fingerprint["offline"])),  # offline: maybe unknown
            _text(cluster, "account", "cluster"),
            _text(cluster, "partition", "cluster"),
        ),
        current_mode=AuthMode(cluster["authenticationMode"]),
        target=AuthMode(data["target"]),
        fingerprint=Fingerprint(
            aws_auth_sha256=_text(fingerprint, "awsAuthSha256", "fingerprint"),
            aws_auth_resource_version=_text(fingerprint, "awsAuthResourceVersion", "fingerprint", optional=True),
            authentication_mode=AuthMode(fingerprint["authenticationMode"]),
            entries_sha256=_text(fingerprint, "entriesSha256", "fingerprint"),
            offline=bool(fingerprint["offline"]),
        ),
        entries=entries,
        findings=tuple(
            Finding(
                _text(f, "code", "finding"),
                Severity(f["severity"]),
                _text(f, "message", "finding"),
                _text(f, "principalArn", "finding", optional=True),
                _ref(f["source"]),
            )
            for f in data["findings"]
        ),
        steps=steps,
        remove_aws_auth=bool(data["removeAwsAuth"]),
        accept_managed_aws_auth=_accept_managed(data),
        caller_arn=_text(data, "callerArn", "plan", optional=True),
        created_at=data["createdAt"],
        tool_version=data["toolVersion"],
        schema=data["schema"],
        usage=usage_from_dict(data["usage"]) if data.get("usage") is not None else None,
        rbac=review is not None,
        prefer_access_policies=review is not None and review["preferAccessPolicies"] is True,
        accept_narrowing=review is not None and review["acceptNarrowing"] is True,
        iam=_iam_answers(data),
    )
    for found in plan.findings:
        if found.code in USAGE_CODES and found.severity is not RULES[found.code].severity:
            # Usage findings are left out when apply plans again; a blocker among them would be unchecked.
            raise PlanIntegrityError(
                f"finding {found.code} says {found.severity.value}; it is always {RULES[found.code].severity.value}"
            )
    if data.get("preflightPermissions") != preflight_permissions():
        raise PlanIntegrityError(
            f"`preflightPermissions` says {data.get('preflightPermissions')!r}, but this version's apply and "
            f"rollback read {preflight_permissions()!r} before any step",
            hint="plans are reviewed as written; make a new plan instead of editing one",
        )
    _check_derived(plan, data)
    return plan


def _check_derived(plan: Plan, data: MappingABC[str, Any]) -> None:
    """What the step kinds and the findings decide must be what the file says (a reviewer read the file)."""
    kinds, derived_kinds = data.get("stepKinds"), step_kinds_to_dict(plan.steps)
    if kinds != derived_kinds:
        raise PlanIntegrityError(
            f"`stepKinds` says {kinds!r}, but this plan's steps are {derived_kinds!r}",
            hint="plans are reviewed as written; make a new plan instead of editing one",
        )
    for step, written in zip(plan.steps, data["steps"], strict=True):
        derived = step_to_dict(plan, step)
        for key in WRITTEN_STEP_KEYS:
            if written.get(key) != derived.get(key):
                raise PlanIntegrityError(
                    f"step {step.id}: `{key}` says {written.get(key)!r}, but a {step.kind.value} step of this plan "
                    f"has {derived.get(key)!r}",
                    hint="plans are reviewed as written; make a new plan instead of editing one",
                )


# --- files -----------------------------------------------------------------------------------------------


def dump_plan(plan: Plan) -> str:
    return dump_yaml(plan_to_dict(plan))


def default_plan_path(plans_dir: Path, plan: Plan) -> Path:
    return plans_dir / plan.cluster.name / plan_name(plan)


def plan_name(plan: Plan) -> str:
    """The plan's file (or object) name: `<planId>.plan.yaml`."""
    return f"{plan_to_dict(plan)['planId']}.plan.yaml"


def write_plan(plan: Plan, path: Path) -> Path:
    """Atomically (a reader never sees half a plan), 0600: a plan names every principal with access."""
    atomic_write(path, dump_plan(plan).encode("utf-8"))
    return path


def _check_plain_data(value: Any, label: str, path: str) -> None:
    """Only what JSON has: string keys; strings, numbers, booleans, null, lists and mappings as values."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PlanIntegrityError(f"{label}: {path or 'the top level'} has a key that is not a string: {key!r}")
            _check_plain_data(item, label, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain_data(item, label, f"{path}[{index}]")
    elif not (value is None or isinstance(value, str | int | float)):
        shown = type(value).__name__
        raise PlanIntegrityError(f"{label}: {path} is a {shown}, which a plan file never holds (quote it?)")


def load_plan(path: Path) -> Plan:
    """Read, check integrity and schema, and rebuild a plan; every failure is an InputError naming the file."""
    label = str(path)
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise InputError(f"{label}: is larger than {MAX_PLAN_BYTES // (1024 * 1024)} MiB; not a plan file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{label}: no such plan file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{label}: cannot read the plan file ({error})") from None
    return parse_plan(text, label)


def parse_plan_bytes(raw: bytes, label: str) -> Plan:
    """A plan from the bytes of a stored object (the run state), checked as `load_plan` checks a file."""
    if len(raw) > MAX_PLAN_BYTES:
        raise InputError(f"{label}: is larger than {MAX_PLAN_BYTES // (1024 * 1024)} MiB; not a plan file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{label}: cannot read the plan file ({error})") from None
    return parse_plan(text, label)


def parse_plan(text: str, label: str) -> Plan:
    """Check integrity and schema, and rebuild a plan; every failure is an InputError naming `label`."""
    try:
        data = read_yaml(text, label)  # an alias bomb is refused at its first anchor, before anything is built
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{label}{line}: not a plan file (invalid YAML)") from None
    if not isinstance(data, dict) or "schema" not in data:
        raise InputError(f"{label}: not a plan file (no schema key)")
    _check_plain_data(data, label, "")
    if not isinstance(data["schema"], str):
        raise InputError(f"{label}: not a plan file (schema is not a string)")
    if data["schema"] in OLDER_SCHEMAS:
        raise PlanIntegrityError(
            f"{label}: the plan was written by an earlier version of aws-auth-migrate ({data['schema']}); "
            f"this version reads {PLAN_SCHEMA}",
            hint="re-plan with this version: aws-auth-migrate plan ...",
        )
    if data["schema"] != PLAN_SCHEMA:
        raise PlanIntegrityError(f"{label}: unknown plan schema {data['schema']!r}; this tool reads {PLAN_SCHEMA}")
    recorded = (data.get("integrity") or {}).get("sha256") if isinstance(data.get("integrity"), dict) else None
    if recorded != body_sha256(data):
        raise PlanIntegrityError(
            f"{label}: the plan was edited after it was written (integrity check failed)",
            hint="plans are reviewed as written; make a new plan with `aws-auth-migrate plan` instead of editing",
        )
    try:
        return plan_from_dict(data)
    except PlanIntegrityError as error:
        raise PlanIntegrityError(f"{label}: {error}", hint=error.hint) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise PlanIntegrityError(f"{label}: the plan's content is not valid ({error!r})") from None
