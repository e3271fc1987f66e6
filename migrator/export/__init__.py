"""Plan -> Terraform or CloudFormation text, so the entries a migration made (and the ones it adopted) can be
handed to infrastructure as code without a fight: resources that describe them exactly, plus the import
blocks (Terraform) or the ResourcesToImport list (CloudFormation) that adopt them without a change.

Pure: no file, network or clock. The CLI reads the plan and writes what these functions return.
"""

from migrator.export.cloudformation import CloudFormationExport, CloudFormationPart, export_cloudformation
from migrator.export.entries import ExportedEntry, ExportSet, Origin, select_entries
from migrator.export.terraform import TerraformExport, check_cluster_name_expr, export_terraform

__all__ = [
    "CloudFormationExport",
    "CloudFormationPart",
    "ExportSet",
    "ExportedEntry",
    "Origin",
    "TerraformExport",
    "check_cluster_name_expr",
    "export_cloudformation",
    "export_terraform",
    "select_entries",
]
