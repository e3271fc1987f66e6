"""Plan -> Terraform: `aws_eks_access_entry` and `aws_eks_access_policy_association` resources describing the
entries exactly as they are after apply, and `import` blocks (Terraform >= 1.5) adopting each of them.

Checked against hashicorp/terraform-provider-aws:
- website/docs/r/eks_access_entry.html.markdown: arguments `cluster_name`, `principal_arn` (required),
  `kubernetes_groups`, `type` (default STANDARD), `user_name`, `tags`; import ID `<cluster_name>:<principal_arn>`.
- website/docs/r/eks_access_policy_association.html.markdown: `cluster_name`, `policy_arn`, `principal_arn`,
  an `access_scope` block with `type` (`namespace` or `cluster`) and `namespaces`; import ID
  `<cluster_name>#<principal_arn>#<policy_arn>`.
- internal/service/eks/access_entry.go: the ID separator is ":" (split into 2 parts, so the ARN's own colons
  are fine); `cluster_name`, `principal_arn` and `type` are ForceNew; `kubernetes_groups` and `user_name` are
  Optional+Computed (left out, they take what EKS has: EKS's default username, a node type's groups).
- internal/service/eks/access_policy_association.go: the separator is "#"; every argument is ForceNew, so
  changing a scope or policy later is destroy-then-create, and the principal lacks that policy in between.

Import IDs always name the cluster literally (the plan knows its name, and an import ID must be known when
Terraform plans); `--cluster-name-expr` replaces the literal in the resources' `cluster_name` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrator.errors import InputError
from migrator.export import hcl
from migrator.export.entries import ExportedEntry, ExportSet, Origin
from migrator.export.naming import association_name, terraform_names, unique_names
from migrator.model import EntryType, PolicyAssociation, ScopeType

ENTRY = "aws_eks_access_entry"
ASSOCIATION = "aws_eks_access_policy_association"
ENTRIES_FILE = "access_entries.tf"
IMPORTS_FILE = "imports.tf"

# A reference such as module.eks.cluster_name, var.cluster_name, aws_eks_cluster.this[0].name: identifiers
# joined by `.` with optional index keys. Anything else (a function call, a string, a newline) is refused:
# the expression is pasted into the file as it is.
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_-]*"
_INDEX = r'\[(?:[0-9]+|"[A-Za-z0-9_.-]+")\]'
_REFERENCE_RE = re.compile(rf"{_IDENTIFIER}(?:{_INDEX})*(?:\.{_IDENTIFIER}(?:{_INDEX})*)+", re.ASCII)

ASSOCIATION_NOTE = (
    "Every argument of an aws_eks_access_policy_association forces replacement: changing policy_arn or\n"
    "access_scope later is destroy-then-create, and the principal lacks this policy in between. EKS itself\n"
    "replaces a scope in place (AssociateAccessPolicy again); to avoid the gap, associate the new scope\n"
    "outside Terraform first, or accept a short loss of access."
)


@dataclass(frozen=True)
class TerraformExport:
    """Two files: the resources, and the import blocks (which may be deleted once `terraform apply` has
    imported everything; leaving them is harmless)."""

    entries_tf: str
    imports_tf: str
    resources: int
    imports: int

    def files(self) -> dict[str, str]:
        return {ENTRIES_FILE: self.entries_tf, IMPORTS_FILE: self.imports_tf}

    def combined(self) -> str:
        """Both files as one document, for stdout."""
        return f"{self.entries_tf}\n{self.imports_tf}"


def check_cluster_name_expr(expression: str) -> str:
    if _REFERENCE_RE.fullmatch(expression):
        return expression
    raise InputError(
        f"--cluster-name-expr {expression!r} is not a Terraform reference",
        hint="pass a reference such as module.eks.cluster_name, var.cluster_name or aws_eks_cluster.this.name",
    )


def export_terraform(selected: ExportSet, *, cluster_name_expr: str | None = None) -> TerraformExport:
    cluster = selected.cluster
    cluster_value = (
        hcl.string(cluster.name) if cluster_name_expr is None else check_cluster_name_expr(cluster_name_expr)
    )
    names = terraform_names((e.spec.principal_arn for e in selected.entries), cluster.account)
    pairs = [(e, p) for e in selected.entries for p in e.spec.policies]
    association_names = unique_names(
        (_pair_key(e, p) for e, p in pairs),
        lambda key: association_name(names[key.split("#", 1)[0]], key.split("#", 1)[1]),
        lambda base, digest: f"{base}_{digest}",
    )
    blocks = [_header(selected)]
    imports = [_imports_header(selected)]
    for entry in selected.entries:
        name = names[entry.spec.principal_arn]
        blocks.append(_entry_block(entry, name, cluster_value))
        imports.append(_import(ENTRY, name, f"{cluster.name}:{entry.spec.principal_arn}"))
        for policy in entry.spec.policies:
            pair_name = association_names[_pair_key(entry, policy)]
            blocks.append(_association_block(entry, policy, name, pair_name, cluster_value))
            imports.append(
                _import(ASSOCIATION, pair_name, f"{cluster.name}#{entry.spec.principal_arn}#{policy.policy_arn}")
            )
    if selected.eks_managed:
        blocks.append(_eks_managed_comment(selected.eks_managed))
    return TerraformExport(
        "\n\n".join(blocks) + "\n",
        "\n\n".join(imports) + "\n",
        resources=len(selected.entries) + len(pairs),
        imports=len(imports) - 1,
    )


def _pair_key(entry: ExportedEntry, policy: PolicyAssociation) -> str:
    return f"{entry.spec.principal_arn}#{policy.policy_arn}"


def _header(selected: ExportSet) -> str:
    cluster = selected.cluster
    return hcl.comment(
        f"Access entries of EKS cluster {cluster.name} ({cluster.partition}, {cluster.region}, account "
        f"{cluster.account}),\nexported by aws-auth-migrate from its migration plan. {IMPORTS_FILE} adopts "
        "them: after the migration\n`terraform plan` shows only imports, no change.\n\n" + ASSOCIATION_NOTE
    )


def _imports_header(selected: ExportSet) -> str:
    return hcl.comment(
        "Import blocks (Terraform >= 1.5) for every resource of "
        f"{ENTRIES_FILE}, in the provider's ID formats:\n"
        "access entry <cluster>:<principal_arn>, policy association <cluster>#<principal_arn>#<policy_arn>.\n"
        "The entries must exist: export after `aws-auth-migrate apply` has finished. Once `terraform apply`\n"
        "has imported them, this file can be deleted."
    )


def _origin_note(entry: ExportedEntry) -> str:
    spec = entry.spec
    notes = {
        Origin.CREATED: "created by the migration (aws-auth-migrate apply).",
        Origin.ADOPTED: "existed before the migration, which kept it as it is.",
        Origin.REPAIRED: (
            "a Windows managed node group role: EKS gave it an EC2_LINUX entry, the migration replaced it\n"
            "with EC2_WINDOWS. If the node group is re-created, check that EKS did not make EC2_LINUX again."
        ),
        Origin.EKS_MANAGED: "EKS made it for a managed node group or Fargate profile and deletes it with them.",
        Origin.CREATOR: (
            "the cluster creator's admin entry, made by EKS at the first switch and kept by the\n"
            "migration (the creator was cluster-admin before, through EKS's hidden bootstrap mapping)."
        ),
    }
    lines = [f"{spec.principal_arn}: {notes[entry.origin]}"]
    if spec.type.is_node:
        lines.append(f"{spec.type.value} entries take no user_name, kubernetes_groups or policies.")
    lines.append("type and principal_arn force replacement (EKS entry types cannot change).")
    if spec.username is None and not spec.type.is_node:
        lines.append("user_name is left to EKS's default (the provider reads it back; no diff).")
    return hcl.comment("\n".join(lines))


def _entry_block(entry: ExportedEntry, name: str, cluster_value: str) -> str:
    spec = entry.spec
    arguments = [("cluster_name", cluster_value), ("principal_arn", hcl.string(spec.principal_arn))]
    arguments.append(("type", hcl.string(spec.type.value)))
    if spec.type is EntryType.STANDARD and spec.username is not None:
        arguments.append(("user_name", hcl.string(spec.username)))
    if spec.type is EntryType.STANDARD and spec.groups:
        arguments.append(("kubernetes_groups", hcl.string_list(spec.groups)))
    return f"{_origin_note(entry)}\nresource {hcl.string(ENTRY)} {hcl.string(name)} {{\n{_aligned(arguments)}\n}}"


def _association_block(
    entry: ExportedEntry, policy: PolicyAssociation, entry_name: str, name: str, cluster_value: str
) -> str:
    arguments = [
        ("cluster_name", cluster_value),
        ("principal_arn", f"{ENTRY}.{entry_name}.principal_arn"),
        ("policy_arn", hcl.string(policy.policy_arn)),
    ]
    scope = [("type", hcl.string(policy.scope.type.value))]
    if policy.scope.type is ScopeType.NAMESPACE:
        scope.append(("namespaces", hcl.string_list(policy.scope.namespaces)))
    scope_block = "  access_scope {\n" + _aligned(scope, indent="    ") + "\n  }"
    note = hcl.comment(
        f"{policy.policy_name} ({policy.scope.type.value} scope) for {entry.spec.principal_arn}.\n"
        "Any change to this resource replaces it (destroy, then create): see the note at the top."
    )
    return (
        f"{note}\nresource {hcl.string(ASSOCIATION)} {hcl.string(name)} {{\n{_aligned(arguments)}\n\n{scope_block}\n}}"
    )


def _import(resource_type: str, name: str, resource_id: str) -> str:
    return f"import {{\n  to = {resource_type}.{name}\n  id = {hcl.string(resource_id)}\n}}"


def _eks_managed_comment(entries: tuple[ExportedEntry, ...]) -> str:
    lines = [
        "Entries EKS manages itself (managed node groups and Fargate profiles): it creates them with the node",
        "group or profile and deletes them with it, so they are not exported as resources. Export with",
        "--include-eks-managed to manage them here as well:",
        *(f"  {e.spec.principal_arn} ({e.spec.type.value})" for e in entries),
    ]
    return hcl.comment("\n".join(lines))


def _aligned(arguments: list[tuple[str, str]], indent: str = "  ") -> str:
    """`terraform fmt` style: the `=` of consecutive arguments in one column."""
    width = max(len(key) for key, _ in arguments)
    return "\n".join(f"{indent}{key.ljust(width)} = {value}" for key, value in arguments)
