"""The recorded-run model: every resource the mocked run registered (`Recorded`) and the run (`RunResult`).

Inputs are kept twice: with secrets unwrapped (as a policy sees them) and masked as "[secret]".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import pulumi
from pulumi.runtime import rpc

from components.config import StackConfig

SECRET = "[secret]"
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig


def strip_secrets(value: Any, mask: bool) -> Any:
    """A wire value with secrets unwrapped, or replaced by SECRET when `mask`."""
    if isinstance(value, dict):
        if value.get(_SIG) == _SECRET_SIG:
            return SECRET if mask else strip_secrets(value.get("value"), mask)
        return {k: strip_secrets(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_secrets(v, mask) for v in value]
    if isinstance(value, pulumi.Resource):
        return "[resource]"
    return value


@dataclass
class Recorded:
    urn: str
    type: str
    name: str
    custom: bool
    parent: Optional[str]
    provider: Optional[str]
    inputs: dict[str, Any]  # secrets unwrapped, like a policy sees them
    masked_inputs: dict[str, Any]  # secrets replaced by "[secret]"
    outputs: dict[str, Any] = field(default_factory=dict)
    id: Optional[str] = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    @property
    def provider_urn(self) -> Optional[str]:
        return self.provider.split("::", 4)[0] + "::" + "::".join(self.provider.split("::")[1:4]) if self.provider else None

    def plan_entry(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.masked_inputs,
            "protect": self.protect,
            "dependencies": self.dependencies,
        }


@dataclass
class RunResult:
    stack: str
    config: StackConfig
    resources: list[Recorded]
    outputs: dict[str, Any]  # masked
    raw_outputs: dict[str, Any]
    faked_secrets: list[str]
    stack_urn: str

    def of_type(self, *types: str) -> list[Recorded]:
        return [r for r in self.resources if r.type in types]

    def named(self, name: str, type_: Optional[str] = None) -> Recorded:
        hits = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} resources named {name!r} of type {type_}")
        return hits[0]

    def by_urn(self) -> dict[str, Recorded]:
        return {r.urn: r for r in self.resources}

    def children(self, urn: str) -> list[Recorded]:
        return [r for r in self.resources if r.parent == urn]

    def descendants(self, urn: str) -> list[Recorded]:
        out, todo = [], [urn]
        while todo:
            u = todo.pop()
            kids = self.children(u)
            out += kids
            todo += [k.urn for k in kids]
        return out

    def plan(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.plan_entry() for r in self.resources],
            "outputs": self.outputs,
        }


def iter_values(value: Any) -> Iterable[Any]:
    """Every scalar inside a nested value (used to look for leaked secrets)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from iter_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_values(v)
    else:
        yield value
