"""The stack input of a mocked run: `Pulumi.<stack>.yaml` (plus overrides) as the string map
`set_all_config` needs, with deterministic dummies for secret keys (and which ones were faked).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from components.config import NAMESPACE, ConfigError, StackConfig, parse_stack_config
from components.secret_config import offline_secrets

ROOT = Path(__file__).resolve().parent.parent


def stack_names(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _set_path(doc: dict, path: str, value: Any) -> None:
    """`coprs:nodeGroups.infra.count` → doc['coprs:nodeGroups']['infra']['count'] = value."""
    head, _, rest = path.partition(".")
    if not rest:
        if value is None:
            doc.pop(head, None)
        else:
            doc[head] = value
        return
    node = doc.setdefault(head, {})
    parts = rest.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


@dataclass
class StackInput:
    stack: str
    values: dict[str, Any]  # key → decoded value (objects as dicts)
    secret_keys: list[str]
    faked_secrets: list[str]
    needed_missing: dict[str, str] = field(default_factory=dict)  # needed secret → why, faked for this run

    def config_map(self) -> dict[str, str]:
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.values.items()}

    def coprs_sections(self) -> dict[str, Any]:
        prefix = NAMESPACE + ":"
        return {k[len(prefix) :]: v for k, v in self.values.items() if k.startswith(prefix)}


def load_stack_input(
    stack: str,
    overrides: Optional[dict[str, Any]] = None,
    root: Path = ROOT,
    document: Optional[dict] = None,
    require_secrets: Optional[bool] = None,
) -> StackInput:
    """Read `Pulumi.<stack>.yaml` (or a given document), apply overrides, fake secrets."""
    if document is None:
        path = root / f"Pulumi.{stack}.yaml"
        if not path.exists():
            raise ConfigError([f"no stack file {path.name}; known stacks: {', '.join(stack_names(root)) or 'none'}"])
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError([f"{path.name} is not valid YAML: {err}".replace("\n", " ")]) from None
    file_config = document.get("config") or {}
    values: dict[str, Any] = copy.deepcopy(file_config)
    for key, value in (overrides or {}).items():
        _set_path(values, key, copy.deepcopy(value))
    # plaintext secrets stop the run; encrypted and missing needed ones get dummies (secret_config.py)
    secret_keys, missing = offline_secrets(file_config, values, stack, f"Pulumi.{stack}.yaml", require_secrets)
    return StackInput(stack, values, secret_keys, list(missing), missing)


def validate(si: StackInput) -> StackConfig:
    return parse_stack_config(si.coprs_sections())
