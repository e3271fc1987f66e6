"""Read an export back: Terraform through python-hcl2 (an HCL parser from PyPI), CloudFormation as JSON."""

from __future__ import annotations

from typing import Any

import hcl2
from hcl2 import SerializationOptions

Resources = dict[str, dict[str, dict[str, Any]]]  # type -> name -> arguments


def _unescape(value: Any) -> Any:
    """python-hcl2 decodes `\\"`, `\\\\`, `\\n` and `\\uNNNN` but leaves HCL's template escapes (`$${`, `%%{`)."""
    if isinstance(value, str):
        return value.replace("$${", "${").replace("%%{", "%{")
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items() if k != "__is_block__"}
    return value


def parse_terraform(text: str) -> tuple[Resources, dict[str, str]]:
    """(resources by type and name, import ids by target address). References stay `${...}`."""
    data = hcl2.loads(text, serialization_options=SerializationOptions(strip_string_quotes=True, with_comments=False))
    resources: Resources = {}
    for block in data.get("resource", []):
        for resource_type, named in block.items():
            for name, arguments in named.items():
                assert name not in resources.setdefault(resource_type, {}), f"{resource_type}.{name} twice"
                resources[resource_type][name] = _unescape(arguments)
    imports: dict[str, str] = {}
    for block in data.get("import", []):
        target = block["to"].removeprefix("${").removesuffix("}")
        assert target not in imports, f"two import blocks for {target}"
        imports[target] = _unescape(block["id"])
    return resources, imports
