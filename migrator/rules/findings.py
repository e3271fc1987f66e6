"""The catalogue of finding codes: stable identifiers users grep for and tools read from the JSON.

Add codes, never rename them. Every code has a default severity, a one-line meaning and what the user
should do; the table in docs/reference/finding-codes.md is checked against this catalogue by a test.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.model import Finding, Severity, SourceRef


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    meaning: str
    action: str


_B, _W, _I = Severity.BLOCKER, Severity.WARNING, Severity.INFO

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("NODE_EXTRA_GROUPS", _B, "a node mapping carries groups a node entry cannot have",
             "move the extra permissions to an RBAC binding for system:nodes, or map the role as STANDARD"),
        Rule("NODE_MISSING_GROUPS", _B, "the node entry type would add groups the node mapping does not have",
             "add the groups to the mapping if the nodes need them, or map the role as STANDARD"),
        Rule("CROSS_ACCOUNT_NODE", _B, "a node mapping names a role in another account; node entries must be "
             "in the cluster's account", "create node roles in the cluster's account"),
        Rule("SYSTEM_GROUP", _B, "a group starting with system: (other than system:masters) cannot be put in "
             "an access entry", "bind the permissions to a group without the system: prefix in RBAC first"),
        Rule("TEMPLATED_GROUP", _B, "a group contains a template; access entries take only literal groups",
             "replace the templated group with literal groups"),
        Rule("RESERVED_USERNAME", _B, "the username starts with a prefix EKS reserves (system:, eks:, aws:, "
             "amazon:, iam:)", "choose a username without the reserved prefix and update RBAC subjects"),
        Rule("SESSION_TEMPLATE_COLON", _B, "{{SessionName}} or {{SessionNameRaw}} is used with no ':' before it, "
             "which EKS rejects", "prefix the username, e.g. 'name:{{SessionName}}', and update RBAC subjects"),
        Rule("UNSUPPORTED_TEMPLATE", _B, "{{AccessKeyID}} or {{EC2PrivateDNSName}} in a STANDARD username",
             "use a username without that template"),
        Rule("IDENTITY_WHITESPACE", _B, "the username or a group has whitespace around it or a control "
             "character; the authenticator uses it verbatim, what EKS does with it is undocumented",
             "remove the whitespace from the mapping (and from RBAC subjects naming it) first"),
        Rule("ACCOUNT_ID_TEMPLATE", _I, "{{AccountID}} is rendered to the principal's account id",
             "nothing: the rendered value is what the principal gets today"),
        Rule("EMPTY_USERNAME", _W, "the mapping has no username; today the identity's username is \"\", the "
             "entry gets EKS's default username", "check RBAC bindings do not depend on the empty username"),
        Rule("DEAD_ROLE_PATH", _W, "the rolearn includes an IAM path, so aws-auth never matches it; creating "
             "an entry would grant new access", "nothing to migrate; remove the mapping, or map the pathless ARN"),
        Rule("DEAD_STS_ARN", _W, "the ARN is an STS assumed-role session ARN, which aws-auth never matches",
             "nothing to migrate; map the role ARN instead if access was intended"),
        Rule("DEAD_SSO_BLOCK", _W, "the sso: form works only behind an alpha feature gate that EKS keeps off",
             "nothing to migrate; map the SSO role's ARN (without its path) if access was intended"),
        Rule("DEAD_SECTION", _W, "the authenticator reads no mapping at all from mapRoles or mapUsers (it is "
             "JSON, or no YAML list), so nobody in it has access today", "nothing to migrate; rewrite the section "
             "as a YAML list of mappings if access was intended"),
        Rule("DEAD_ARN_WHITESPACE", _W, "the ARN has whitespace (a space, a newline) around it; aws-auth compares "
             "the whole ARN, so it never matches", "nothing to migrate; remove the whitespace if access was intended"),
        Rule("PATH_UNRESOLVED", _W, "the principal's IAM path could not be looked up", "plan against the "
             "cluster with IAM access to the principal's account (offline plans cannot check this)"),
        Rule("DEAD_USER_PATH", _W, "the userarn differs from the user's real ARN (its IAM path); aws-auth compares "
             "the whole ARN, so it never matches", "nothing to migrate; fix the ARN if access was intended"),
        Rule("PRINCIPAL_NOT_FOUND", _W, "IAM says the principal does not exist, so the mapping is dead",
             "nothing to migrate; remove the mapping"),
        Rule("SERVICE_LINKED_ROLE", _B, "service-linked roles cannot have access entries",
             "grant what the service needs another way before switching to API"),
        Rule("ROOT_PRINCIPAL", _B, "the account root cannot have an access entry",
             "use an IAM role instead of the root user"),
        Rule("DUPLICATE_ARN", _W, "another mapping for the same principal wins; this one has no effect",
             "remove the losing mapping"),
        Rule("AMBIGUOUS_DUPLICATE", _B, "mappings for the same principal differ only in case; which one wins is "
             "undefined", "keep exactly one mapping for the principal"),
        Rule("USER_IN_MAP_ROLES", _W, "an IAM user ARN under mapRoles (it matches there, ahead of mapUsers)",
             "move it to mapUsers; it is migrated as a user"),
        Rule("ROLE_IN_MAP_USERS", _W, "an IAM role ARN under mapUsers (it still matches by ARN)",
             "move it to mapRoles; it is migrated as a role"),
        Rule("UNKNOWN_KEY", _W, "the mapping has a key aws-iam-authenticator ignores", "remove or fix the key"),
        Rule("MAP_ACCOUNTS", _B, "every principal of a mapAccounts account is authenticated today; access "
             "entries cannot express that", "map the principals that need access explicitly first"),
        Rule("SHADOWED_BY_ENTRY", _I, "the principal already has an access entry, which EKS uses instead of "
             "aws-auth: the entry is kept as it is", "if the entry differs, decide which identity is right"),
        Rule("WINDOWS_NODE_ENTRY_TYPE", _W, "EKS gives Windows managed node group roles EC2_LINUX entries, "
             "which breaks Windows nodes", "the plan repairs it: delete and re-create as EC2_WINDOWS"),
        Rule("UNMAPPED_ENTRY", _W, "an access entry for a principal aws-auth does not map (or maps with a mapping "
             "that is not migrated): the entry gives access aws-auth does not, e.g. left by an earlier run after "
             "aws-auth revoked it", "delete the entry if that access was revoked; keep it if it is an operator's "
             "or the admin entry EKS made for the cluster creator"),
        Rule("EKS_CREATES_ENTRY", _I, "EKS creates this entry itself when the mode switches",
             "nothing: the plan adopts it"),
        Rule("QUOTA", _B, "more than 3,000 access entries would be needed (a fixed EKS quota)",
             "reduce the number of principals (use groups of roles) before migrating"),
        Rule("PLATFORM_VERSION", _B, "the cluster's platform version is below the minimum for access entries",
             "update the cluster to a supported platform version first"),
        Rule("SSO_ROLE", _I, "an IAM Identity Center role; its name changes when the permission set is "
             "re-provisioned", "prefer mapping permission sets by automation that follows the name"),
        Rule("CALLER_LOCKOUT", _B, "the principal running this tool would not keep cluster-admin through an "
             "access entry after the API switch", "map the caller with system:masters or add an admin entry"),
        Rule("NOT_EQUIVALENT", _B, "the planned entry would not give the principal the identity it has today",
             "report this: it is a gap in the translation rules"),
        Rule("NO_CALLER", _I, "the plan does not know who will run it, so it cannot check the caller keeps "
             "cluster-admin", "plan against the cluster; apply checks the caller before the API gate"),
        Rule("PARTITION_MISMATCH", _B, "the principal's ARN is in another AWS partition than the cluster "
             "(arn:aws-cn: on an aws cluster, ...); EKS rejects it as an access entry principal",
             "check --region (offline plans); map the principal's ARN in the cluster's partition, or remove the "
             "mapping"),
        Rule("PARTITION_INFERRED", _I, "an offline plan made without --region: the region is unknown and the "
             "cluster's partition was inferred from aws-auth's ARNs (the node roles', else the most common)",
             "check the partition; pass --region to state it, and plan against the cluster before applying"),
        Rule("ALREADY_API", _I, "the cluster already authenticates through access entries only; aws-auth is "
             "ignored", "nothing to migrate"),
        Rule("AWS_AUTH_MANAGED", _W, "aws-auth is written by a tool that re-applies it (Argo CD, Flux, Helm, "
             "Terraform, eksctl, a kubectl apply pipeline): deleting it is undone, or breaks that tool's next run; "
             "with --remove-aws-auth it blocks the removal step (never a mode switch)", "change the source first "
             "(the finding says how for its owner), then say so with --accept-managed-aws-auth (plan or apply)"),
        # RBAC review (--rbac, on by default in live plans): what the mapped identities are bound to.
        Rule("RBAC_UNAVAILABLE", _W, "the cluster's RBAC objects could not be read, so the plan says nothing "
             "about what the mapped usernames and groups are bound to", "grant the planner list on clusterroles, "
             "roles, clusterrolebindings and rolebindings, or plan with --no-rbac"),
        Rule("GROUP_UNBOUND", _I, "a mapped group is named by no RoleBinding or ClusterRoleBinding: it grants "
             "nothing through RBAC", "nothing, unless the group was meant to grant access: then bind it"),
        Rule("USERNAME_BINDING_CHANGES", _B, "a User subject of an RBAC binding matches the principal's username "
             "today or its username in the planned entry, and the two differ (e.g. an empty username becoming "
             "EKS's default): the binding would stop or start applying", "give the mapping the username the "
             "entry will have (and bind that), or change the binding's subject first"),
        Rule("MASTERS_GROUP_BOUND", _W, "an RBAC binding names the group system:masters, which an access entry "
             "cannot carry (the group becomes AmazonEKSClusterAdminPolicy): the binding no longer applies to the "
             "migrated principals", "bind what the binding grants to a group of your own, or rely on cluster-admin"),
        Rule("POLICY_CONVERSION", _I, "a group whose bindings are only to a built-in ClusterRole becomes the "
             "matching EKS access policy (--prefer-access-policies); the plan lists the rules gained and lost",
             "review the rules lost, if any"),
        Rule("POLICY_CONVERSION_NARROWS", _W, "the access policy grants less than the group's bindings: the rules "
             "listed would be lost; the conversion is made only with --accept-narrowing",
             "accept the listed loss with --accept-narrowing, or keep the group"),
        Rule("POLICY_CONVERSION_WIDENS", _W, "the access policy would grant more than the group's bindings; such "
             "a conversion is never made and the group is kept", "nothing: the group keeps its bindings"),
        # Usage evidence (--usage-since): what the authenticator's control-plane log says about sign-ins.
        Rule("USAGE_EVIDENCE_UNAVAILABLE", _W, "usage evidence unavailable: the authenticator control-plane log "
             "is off or its log group does not exist", "enable the authenticator control-plane log (aws eks "
             "update-cluster-config --logging ...) and plan again once it has covered the window"),
        Rule("UNUSED_MAPPING", _I, "nobody signed in through this mapping in the usage window",
             "check whether the mapping is still needed; the migration keeps it either way"),
        Rule("MAP_ACCOUNTS_SIGN_IN", _W, "a principal signed in only through mapAccounts in the usage window; "
             "access entries cannot express mapAccounts", "if it should keep access, paste the mapping the "
             "finding shows into aws-auth and plan again"),
        Rule("DEAD_MAPPING_SIGN_IN", _W, "a principal signed in that only a mapping this plan skips as dead "
             "could have matched", "report this: it is a gap in the translation rules"),
        Rule("USAGE_LOG_MALFORMED", _I, "some authenticator log lines could not be read",
             "nothing, unless there are many: then report the lines"),
    )
}  # fmt: skip

# Codes that come from usage evidence, not from the cluster's configuration: apply does not read the log
# when it plans again, so the plan comparison leaves them out; none of them may ever block a gate.
USAGE_CODES = frozenset(
    {"USAGE_EVIDENCE_UNAVAILABLE", "UNUSED_MAPPING", "MAP_ACCOUNTS_SIGN_IN", "DEAD_MAPPING_SIGN_IN",
     "USAGE_LOG_MALFORMED"}
)  # fmt: skip


def finding(
    code: str,
    message: str,
    *,
    principal_arn: str | None = None,
    source: SourceRef | None = None,
    severity: Severity | None = None,
) -> Finding:
    rule = RULES[code]
    return Finding(code, severity or rule.severity, message, principal_arn, source)
