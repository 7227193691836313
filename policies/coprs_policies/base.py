"""The rule mechanics shared by every domain: metadata, config with defaults, exemptions, unknowns.

A rule is a real `pulumi_policy` policy (so `PolicyPack` takes it as is) that also carries the
catalogue metadata the offline runner and the reports need (`rule_id`, `domain`, `references`).
Checks are plain functions that yield messages; the wrappers here turn an unknown preview value into
"not applicable" and drop violations that the stack's config exempts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

SEVERITIES = {"low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH, "critical": Severity.CRITICAL}
FRAMEWORK = PolicyComplianceFramework(
    name="coprs-security",
    version="2026.11",
    reference="shared/reference/security-rules-reference.md",
    specification="PSS, CIS Kubernetes 1.12, checkov 3.3.30, NSA/CISA Kubernetes Hardening 1.2",
)

EXEMPTIONS_SCHEMA = {
    "type": "array",
    "description": "resources this rule skips, each with the reason (regexes on name/urn and namespace)",
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string"},
            "namespace": {"type": "string"},
            "reason": {"type": "string", "minLength": 1},
        },
        "required": ["reason"],
        "additionalProperties": False,
    },
    "default": [],
}


class NotApplicable(Exception):
    """Raised by a check when the rule cannot judge this resource (or stack)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# reading props (plain dicts or the engine's unknown-checking proxies)


def raw(value: Any) -> Any:
    """The proxied container itself: read keys without tripping on unknown values."""
    if isinstance(value, (Mapping, Sequence)) and not isinstance(value, (str, bytes)):
        try:
            return value["__target"]
        except (KeyError, TypeError, IndexError, UnknownValueError):
            return value
    return value


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def has(m: Any, key: str) -> bool:
    """Whether `key` is present and not null/empty (an unknown value counts as present)."""
    if not is_map(m):
        return False
    v = raw(m).get(key)
    return v not in (None, "", [], {})


def get(m: Any, path: str, default: Any = None) -> Any:
    """`get(props, "spec.template.spec")`; raises UnknownValueError if a step is unknown."""
    node = m
    for part in path.split("."):
        if is_map(node):
            if part not in raw(node):
                return default
            node = node[part]
        elif is_list(node) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return default
        if node is None:
            return default
    return node


def key(m: Any, name: str, default: Any = None) -> Any:
    """One key that may itself contain dots (`pod-security.kubernetes.io/enforce`); unknown reads as `default`."""
    if not is_map(m) or name not in raw(m):
        return default
    try:
        value = m[name]
    except UnknownValueError:
        return default
    return default if value is None else value


def opt(m: Any, path: str, default: Any = None) -> Any:
    """Like `get`, but an unknown value reads as `default` (for fields that only refine a verdict)."""
    try:
        return get(m, path, default)
    except UnknownValueError:
        return default


def items(m: Any) -> Iterator[tuple[str, Any]]:
    """Key/value pairs, skipping unknown values."""
    if not is_map(m):
        return
    for k in list(raw(m)):
        try:
            yield k, m[k]
        except UnknownValueError:
            continue


def elements(seq: Any) -> Iterator[Any]:
    """List elements, skipping unknown ones; a non-list yields nothing."""
    if not is_list(seq):
        return
    for i in range(len(seq)):
        try:
            yield seq[i]
        except UnknownValueError:
            continue


def walk(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) in a nested tree, mappings and lists included; unknown leaves are skipped."""
    yield path, value
    if is_map(value):
        for k, v in items(value):
            yield from walk(v, path + (k,))
    elif is_list(value):
        for i, v in enumerate(elements(value)):
            yield from walk(v, path + (i,))


def dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def plain(value: Any) -> Any:
    """A plain-Python copy (unknowns stay as their sentinel strings)."""
    value = raw(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if is_list(value):
        return [plain(raw(value)[i]) for i in range(len(value))]
    return value


def as_list(value: Any) -> list:
    return list(elements(value)) if is_list(value) else []


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"))


def falsy(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() in ("false", "no", "0", "off"))


def number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def urn_name(urn: Optional[str]) -> str:
    return urn.split("::")[-1] if urn else ""


# ---------------------------------------------------------------------------------------------
# what a check sees


@dataclass
class Res:
    """One resource as a check sees it: type, props (inputs for resource rules, outputs for stack rules)."""

    type: str
    props: Any
    name: str
    urn: str
    protect: bool = False
    parent_urn: Optional[str] = None
    provider_props: Any = None
    node: Optional[PolicyResource] = None  # stack rules: the engine's resource with parent and dependencies

    def deps(self, prop: Optional[str] = None) -> list["Res"]:
        """Resources this one depends on (all, or through one input property)."""
        if self.node is None:
            return []
        nodes = self.node.dependencies if prop is None else self.node.property_dependencies.get(prop, [])
        return [wrap(n) for n in nodes]


def wrap(node: PolicyResource) -> Res:
    return Res(
        node.resource_type,
        node.props,
        node.name,
        node.urn,
        bool(getattr(node.opts, "protect", False)),
        node.parent.urn if node.parent is not None else None,
        node.provider.props if node.provider is not None else None,
        node,
    )


class Cfg(dict):
    """A rule's config: schema defaults overlaid with the stack's policy config."""


@dataclass
class Violation:
    message: str
    res: Optional[Res] = None  # stack rules: the resource at fault (None: the stack)


Check = Callable[[Res, Cfg], Iterable[str]]
StackCheck = Callable[[list[Res], Cfg], Iterable[Violation]]


# ---------------------------------------------------------------------------------------------
# rules


@dataclass
class Meta:
    rule_id: str
    description: str
    severity: str
    references: list[str]
    remediation: str
    config: dict[str, dict] = field(default_factory=dict)
    enforcement: Optional[str] = None


def _level(meta: Meta) -> EnforcementLevel:
    if meta.enforcement:
        return EnforcementLevel(meta.enforcement)
    return EnforcementLevel.MANDATORY if meta.severity in ("high", "critical") else EnforcementLevel.ADVISORY


def _schema(meta: Meta) -> PolicyConfigSchema:
    return PolicyConfigSchema({**meta.config, "exemptions": EXEMPTIONS_SCHEMA})


def effective_config(schema: Optional[PolicyConfigSchema], given: Optional[Mapping]) -> Cfg:
    cfg = Cfg()
    for key, spec in ((schema.properties if schema else {}) or {}).items():
        if "default" in spec:
            cfg[key] = plain(spec["default"])
    for key, value in (given or {}).items():
        if key != "enforcementLevel":
            cfg[key] = plain(value)
    return cfg


def exempt(cfg: Cfg, name: str, urn: str, namespace: Optional[str]) -> Optional[str]:
    """The reason of the first exemption matching this resource, if any."""
    for ex in cfg.get("exemptions") or []:
        r, n = ex.get("resource"), ex.get("namespace")
        if r and not (re.fullmatch(r, name or "") or re.search(r, urn or "")):
            continue
        if n and not re.fullmatch(n, namespace or ""):
            continue
        if r or n:
            return ex.get("reason", "exempted")
    return None


def _policy_args(meta: Meta) -> dict:
    """What pulumi_policy's resource and stack policies both take from a rule's metadata."""
    return {
        "name": meta.rule_id,
        "description": meta.description,
        "enforcement_level": _level(meta),
        "config_schema": _schema(meta),
        "severity": SEVERITIES[meta.severity],
        "framework": FRAMEWORK,
        "tags": list(meta.references),
        "remediation_steps": meta.remediation,
    }


class _RuleMixin:
    meta: Meta
    domain: str

    @property
    def rule_id(self) -> str:
        return self.meta.rule_id

    @property
    def references(self) -> list[str]:
        return self.meta.references

    @property
    def severity_name(self) -> str:
        return self.meta.severity


NamespaceOf = Callable[[Res], Optional[str]]


def _no_namespace(res: Res) -> Optional[str]:
    return None


class ResourceRule(_RuleMixin, ResourceValidationPolicy):
    """A rule run once per resource of the given type tokens (or for which `applies` says yes)."""

    def __init__(
        self,
        meta: Meta,
        domain: str,
        types: Optional[Iterable[str]],
        check: Check,
        applies: Optional[Callable[[str], bool]] = None,
        namespace_of: NamespaceOf = _no_namespace,
    ):
        self.meta, self.domain = meta, domain
        self.types = frozenset(types or ())
        self._applies = applies
        self._check = check
        self._namespace_of = namespace_of
        super().__init__(**_policy_args(meta), validate=self._validate)

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.types or bool(self._applies and self._applies(resource_type))

    def evaluate(self, res: Res, config: Optional[Mapping] = None) -> list[str]:
        """Messages for one resource; raises NotApplicable (unknown values, exemptions, ...)."""
        if not self.applies_to(res.type):
            return []
        cfg = effective_config(self.config_schema, config)
        try:
            reason = exempt(cfg, res.name, res.urn, self._namespace_of(res))
            if reason:
                raise NotApplicable(f"exempted: {reason}")
            return list(self._check(res, cfg))
        except UnknownValueError as err:
            raise NotApplicable(f"a value it needs is unknown during preview ({err.message})") from None

    def _validate(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not self.applies_to(args.resource_type):
            return
        res = Res(
            args.resource_type,
            args.props,
            args.name,
            args.urn,
            bool(getattr(args.opts, "protect", False)),
            getattr(args.opts, "parent", None),
            args.provider.props if args.provider is not None else None,
        )
        try:
            messages = self.evaluate(res, args.get_config())
        except NotApplicable as na:
            args.not_applicable(na.reason)
            return
        for m in messages:
            report(m, None)


class StackRule(_RuleMixin, StackValidationPolicy):
    """A rule over the whole graph (resources with parents, dependencies and property dependencies)."""

    def __init__(self, meta: Meta, domain: str, check: StackCheck, namespace_of: NamespaceOf = _no_namespace,
                 subjects: Iterable[str] = ()):
        self.meta, self.domain = meta, domain
        self.subjects = frozenset(subjects)  # the type tokens the rule judges (documentation and coverage tests)
        self._check = check
        self._namespace_of = namespace_of
        super().__init__(**_policy_args(meta), validate=self._validate)

    def evaluate(self, resources: list[Res], config: Optional[Mapping] = None) -> list[Violation]:
        cfg = effective_config(self.config_schema, config)
        try:
            found = list(self._check(resources, cfg))
        except UnknownValueError as err:
            raise NotApplicable(f"a value it needs is unknown during preview ({err.message})") from None
        return [
            v for v in found
            if v.res is None or not exempt(cfg, v.res.name, v.res.urn, self._namespace_of(v.res))
        ]

    def _validate(self, args: StackValidationArgs, report: ReportViolation) -> None:
        try:
            found = self.evaluate([wrap(r) for r in args.resources], args.get_config())
        except NotApplicable as na:
            args.not_applicable(na.reason)
            return
        for v in found:
            report(v.message, v.res.urn if v.res is not None else None)


def meta(
    rule_id: str,
    severity: str,
    description: str,
    references: list[str],
    remediation: str,
    config: Optional[dict[str, dict]] = None,
    enforcement: Optional[str] = None,
) -> Meta:
    return Meta(rule_id, description, severity, references, remediation, config or {}, enforcement)


def strings(description: str, default: Optional[list] = None) -> dict:
    return {"type": "array", "items": {"type": "string"}, "description": description, "default": default or []}


def flag(description: str, default: bool) -> dict:
    return {"type": "boolean", "description": description, "default": default}
