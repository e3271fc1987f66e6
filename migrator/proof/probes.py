"""What a probe's answer means: does the cluster, asked as the principal, agree with the identity model?

verify predicts each principal's identity now (`Verdict.actual`). A probe signs in as the principal and
asks the cluster (SelfSubjectReview). They disagree when the prediction is wrong: most often an IAM role
deleted and re-created under the same ARN, which its old access entry no longer matches (EKS keys entries
by the role's unique id and does not show it). Access policies are not part of userInfo, so a probe checks
username and groups; system:masters shows only when it comes from aws-auth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from migrator.ports import ProbeObservation
from migrator.proof.verify import Verdict
from migrator.rules import identity

UNPROBEABLE_TEMPLATES = ("{{EC2PrivateDNSName}}", "{{AccessKeyID}}")


class ProbeStatus(StrEnum):
    AGREES = "agrees"
    DISAGREES = "disagrees"
    NOT_PROBED = "not-probed"


@dataclass(frozen=True)
class ProbeVerdict:
    status: ProbeStatus
    observation: ProbeObservation
    differences: tuple[str, ...] = ()
    reason: str = ""  # why not probed


def cannot_probe(verdict: Verdict) -> str:
    """Why probing this principal cannot tell anything, or "" when it can."""
    if verdict.principal.startswith("mapAccounts:"):
        return "mapAccounts names an account, not a principal"
    predicted = verdict.actual or verdict.expected
    if predicted is not None and any(t in predicted.username for t in UNPROBEABLE_TEMPLATES):
        return "its username needs an EC2 instance or the caller's access key id, which a probe session lacks"
    return ""


def _rendered(text: str, session_name: str) -> str:
    return text.replace("{{SessionNameRaw}}", session_name).replace("{{SessionName}}", session_name.replace("@", "-"))


def judge(verdict: Verdict, observation: ProbeObservation) -> ProbeVerdict:
    if not observation.probed:
        return ProbeVerdict(ProbeStatus.NOT_PROBED, observation, reason=observation.reason)
    predicted = verdict.actual
    if predicted is None:
        if observation.authenticated:
            return ProbeVerdict(ProbeStatus.DISAGREES, observation, ("the cluster authenticates it; the model says "
                                                                     "nothing should",))  # fmt: skip
        return ProbeVerdict(ProbeStatus.AGREES, observation)
    if not observation.authenticated:
        why = "the cluster does not authenticate it (a role re-created under the same ARN no longer matches its entry)"
        return ProbeVerdict(ProbeStatus.DISAGREES, observation, (why,))
    differences = []
    username = _rendered(predicted.username, observation.session_name)
    if observation.username != username:
        differences.append(f"username: expected {username!r}, the cluster says {observation.username!r}")
    groups = {_rendered(g, observation.session_name) for g in predicted.groups}
    if predicted.cluster_admin and verdict.actual_via != "access entry":
        groups.add(identity.MASTERS_GROUP)  # through aws-auth; through an entry it is a policy, not a group
    seen = set(observation.groups) - {identity.AUTHENTICATED_GROUP}
    if seen != groups:
        differences.append(f"groups: expected {sorted(groups)}, the cluster says {sorted(seen)}")
    status = ProbeStatus.DISAGREES if differences else ProbeStatus.AGREES
    return ProbeVerdict(status, observation, tuple(differences))
