"""The policy pack's config (`policies/config/<stack>.json`) checked the way the engine checks it.

`pulumi preview --policy-pack-config` validates each rule's entry against that rule's config schema
(`validatePolicyConfig`: JSON Schema, draft 7) and refuses the run otherwise. Offline the same check
runs before any rule, stricter on two points the engine lets through silently: an entry naming no
rule of the pack (a typo like `OS-99` would otherwise configure nothing) and a key the rule's schema
does not declare. Every problem names the rule and the key.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable

import pulumi
from jsonschema import Draft7Validator

from components.config import ConfigError

LEVELS = ("mandatory", "advisory", "remediate", "disabled")
ALL = "all"  # the entry setting every rule's enforcement level at once


class PolicyConfigError(ConfigError):
    """A policy config the engine (or the pack) would refuse: one line, every problem named."""

    def __init__(self, path: Any, problems: list[str]):
        self.problems = problems
        pulumi.RunError.__init__(self, f"invalid policy config {path}: " + "; ".join(problems))


def _value(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(rule_id: str, path: Iterable[Any]) -> str:
    out = rule_id
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _unknown_rule(rule_id: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(rule_id, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"{rule_id} is not a rule of the pack (`all` or a rule id from docs/policy-pack.md){hint}"


def _level_problem(where: str, level: Any) -> list[str]:
    if level in LEVELS:
        return []
    return [f"{where}.enforcementLevel = {_value(level)}: must be one of {', '.join(LEVELS)}"]


def check(doc: dict[str, Any], rules: Iterable[Any]) -> list[str]:
    """Problems of a policy config (one line each); empty when the engine and the pack would accept it."""
    by_id = {r.rule_id: r for r in rules}
    problems: list[str] = []
    for rule_id, entry in doc.items():
        if rule_id == ALL:
            level = entry.get("enforcementLevel") if isinstance(entry, dict) else entry
            problems += _level_problem(ALL, level)
            if isinstance(entry, dict) and set(entry) - {"enforcementLevel"}:
                extra = ", ".join(sorted(set(entry) - {"enforcementLevel"}))
                problems.append(f"all.{extra}: `all` only takes enforcementLevel")
            continue
        rule = by_id.get(rule_id)
        if rule is None:
            problems.append(_unknown_rule(rule_id, by_id))
            continue
        if isinstance(entry, str):
            problems += _level_problem(rule_id, entry)
            continue
        if not isinstance(entry, dict):
            problems.append(f"{rule_id} = {_value(entry)}: must be an enforcement level or an object")
            continue
        if "enforcementLevel" in entry:
            problems += _level_problem(rule_id, entry["enforcementLevel"])
        schema = rule.config_schema
        props = dict(schema.properties or {}) if schema else {}
        for key in sorted(k for k in entry if k != "enforcementLevel" and k not in props):
            allowed = ", ".join(["enforcementLevel", *props])
            problems.append(f"{rule_id}.{key} is not a config key of {rule_id}; allowed: {allowed}")
        given = {k: v for k, v in entry.items() if k in props}
        validator = Draft7Validator({"type": "object", "properties": props, "required": list(schema.required or [])}
                                    if schema else {"type": "object"})
        for err in sorted(validator.iter_errors(given), key=lambda e: [str(p) for p in e.absolute_path]):
            problems.append(f"{_where(rule_id, err.absolute_path)} = {_value(err.instance)}: {err.message}")
    return problems
