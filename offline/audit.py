"""`make audit`: run the coprs-security policy pack offline over the resources of a mocked run.

The same rule objects `pulumi preview --policy-pack policies` loads run here: resource rules once per
recorded resource (inputs wrapped like the engine wraps them), stack rules once over the whole graph
(outputs, parents, dependencies and property dependencies resolved). The stack's policy config
(`policies/config/<stack>.json`) sets each rule's enforcement and allow-lists. Prints a table, writes
JSON, SARIF 2.1.0 and Markdown reports, and exits 1 on any mandatory violation.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from pulumi_policy import (
    PolicyCustomTimeouts, PolicyProviderResource, PolicyResource, PolicyResourceOptions, ResourceValidationArgs,
    ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from components.config import ConfigError
from policies.coprs_policies.base import ResourceRule, StackRule
from policies.coprs_policies.registry import PACK_NAME, RULES

from . import policy_config
from .gc_pause import one_shot_process
from .harness import PROJECT, run_stack
from .output import emit
from .render import add_chart_args, apply_chart_args
from .recorded import Recorded, RunResult
from .stack_input import ROOT, load_stack_input, read_stack_file
from .tables import markdown_table, md_text, text_table

CONFIG_DIR = ROOT / "policies" / "config"
LEVELS = policy_config.LEVELS
SARIF_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning"}
NOT_RENDERED = "HELM-22"  # the advisory rule that lists what could not be rendered
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass
class Finding:
    rule: str
    severity: str
    enforcement: str
    domain: str
    message: str
    urn: Optional[str] = None
    name: Optional[str] = None
    type: Optional[str] = None
    template: Optional[str] = None  # inside a Helm release: the chart's template path of the rendered object


def _finding(rule, level: str, message: str, urn: Optional[str], name: Optional[str], typ: Optional[str]) -> Finding:
    """A finding; a message about a rendered object (rendered.RenderedMessage) brings its release and template."""
    template = getattr(message, "template", None)
    return Finding(rule.rule_id, rule.severity_name, level, rule.domain, str(message), urn,
                   getattr(message, "release", None) or name, typ, template)


@dataclass
class AuditReport:
    stack: str
    config_path: str
    findings: list[Finding] = field(default_factory=list)
    not_applicable: dict[str, list[str]] = field(default_factory=dict)  # rule → reasons (stack rules, exemptions)
    checked: dict[str, int] = field(default_factory=dict)  # rule → resources (or 1 for stack rules) evaluated
    levels: dict[str, str] = field(default_factory=dict)  # rule → enforcement used

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.enforcement in ("mandatory", "remediate")]

    @property
    def advisory(self) -> list[Finding]:
        return [f for f in self.findings if f.enforcement == "advisory"]


# ---------------------------------------------------------------------------------------------
# config


def config_path(stack: str) -> Path:
    return CONFIG_DIR / f"{stack}.json"


def load_config(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError([f"no policy config {path}"]) from None
    except (OSError, ValueError) as err:
        raise ConfigError([f"policy config {path} is not valid JSON: {err}"]) from None
    if not isinstance(doc, dict):
        raise ConfigError([f"policy config {path} must be a JSON object"])
    problems = policy_config.check(doc, RULES)
    if problems:
        raise policy_config.PolicyConfigError(path, problems)
    return doc


def _level_of(entry: Any) -> Optional[str]:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        return entry.get("enforcementLevel")
    return None


def enforcement(rule, config: dict[str, Any]) -> str:
    """What `pulumi preview --policy-pack-config` would use: the rule's entry, else `all`, else the rule default."""
    level = _level_of(config.get(rule.rule_id)) or _level_of(config.get("all")) or rule.enforcement_level.value
    if level not in LEVELS:
        raise ConfigError([f"policy config: {rule.rule_id} enforcementLevel {level!r} is not one of {', '.join(LEVELS)}"])
    return level


def rule_config(rule, config: dict[str, Any]) -> dict[str, Any]:
    entry = config.get(rule.rule_id)
    return {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, dict) else {}


# ---------------------------------------------------------------------------------------------
# the recorded resources, as the engine would hand them over


def _ref_urn(ref: Optional[str]) -> Optional[str]:
    return ref.rsplit("::", 1)[0] if ref else None


def default_providers(result: RunResult) -> dict[str, dict[str, Any]]:
    """Default providers are not registered under mocks; the engine builds them from `<pkg>:*` config."""
    si = load_stack_input(result.stack)
    explicit = {r.type for r in result.resources if r.type.startswith("pulumi:providers:")}
    out: dict[str, dict[str, Any]] = {}
    for pkg in sorted({r.type.split(":")[0] for r in result.resources if r.custom and r.provider is None}):
        if f"pulumi:providers:{pkg}" in explicit or pkg in ("pulumi", "coprs", "pulumi-python"):
            continue
        props = {k.split(":", 1)[1]: v for k, v in si.values.items() if k.startswith(pkg + ":")}
        if props:
            out[pkg] = props
    return out


def _opts(r: Recorded) -> PolicyResourceOptions:
    return PolicyResourceOptions(r.protect, list(r.ignore_changes), r.delete_before_replace, list(r.aliases),
                                 PolicyCustomTimeouts(0, 0, 0), list(r.additional_secret_outputs), r.parent)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@dataclass
class Subject:
    """One resource as `Analyze` receives it: inputs wrapped in the unknown-checking proxy, options, provider."""

    type: str
    urn: str
    name: str
    props: Any
    opts: PolicyResourceOptions
    provider: Optional[PolicyProviderResource]

    def args(self, config: dict[str, Any]) -> ResourceValidationArgs:
        return ResourceValidationArgs(self.type, self.props, self.urn, self.name, self.opts, self.provider, config)


def subjects(result: RunResult) -> list[Subject]:
    """Every recorded resource, plus the default providers the engine would build from `<package>:*` config."""
    by_urn = result.by_urn()
    out: list[Subject] = []
    defaults: dict[str, PolicyProviderResource] = {}
    for pkg, props in default_providers(result).items():
        urn = f"urn:pulumi:{result.stack}::{PROJECT}::pulumi:providers:{pkg}::default"
        defaults[pkg] = PolicyProviderResource(f"pulumi:providers:{pkg}", unknown_checking_proxy(_copy(props)), urn, "default")
        out.append(Subject(f"pulumi:providers:{pkg}", urn, "default", unknown_checking_proxy(_copy(props)),
                           PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None), None))
    for r in result.resources:
        prov = by_urn.get(_ref_urn(r.provider) or "")
        provider = (PolicyProviderResource(prov.type, unknown_checking_proxy(_copy(prov.inputs)), prov.urn, prov.name)
                    if prov else defaults.get(r.type.split(":")[0]))
        out.append(Subject(r.type, r.urn, r.name, unknown_checking_proxy(_copy(r.inputs)), _opts(r), provider))
    return out


def stack_resources(result: RunResult) -> list[PolicyResource]:
    """The graph `AnalyzeStack` gets: outputs, with parent, dependencies and property dependencies resolved."""
    by_urn = result.by_urn()
    nodes: dict[str, PolicyResource] = {}
    for r in result.resources:
        prov = by_urn.get(_ref_urn(r.provider) or "")
        provider = PolicyProviderResource(prov.type, unknown_checking_proxy(_copy(prov.inputs)), prov.urn, prov.name) if prov else None
        props = r.outputs or r.inputs
        nodes[r.urn] = PolicyResource(r.type, unknown_checking_proxy(_copy(props)), r.urn, r.name, _opts(r), provider, None, [], {})
    for r in result.resources:
        node = nodes[r.urn]
        node.parent = nodes.get(r.parent) if r.parent else None
        node.dependencies = [nodes[d] for d in r.dependencies if d in nodes]
        node.property_dependencies = {k: [nodes[d] for d in v if d in nodes] for k, v in r.property_dependencies.items()}
    return list(nodes.values())


# ---------------------------------------------------------------------------------------------
# running the pack


def _run(policy, args) -> tuple[list[tuple[str, Optional[str]]], Optional[str]]:
    """(violations as (message, urn), not-applicable reason) through the policy's own `validate`, as the analyzer calls it."""
    found: list[tuple[str, Optional[str]]] = []
    try:
        result = policy.validate(args, lambda message, urn=None: found.append((message, urn)))
        if inspect.isawaitable(result):
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(result)
            finally:
                loop.close()
    except _NotApplicableError as na:
        return found, na.reason or "not applicable"
    except UnknownValueError as err:
        return found, f"a value it needs is unknown during preview ({err.message})"
    return found, None


def audit(result: RunResult, config: dict[str, Any], config_label: str = "") -> AuditReport:
    report = AuditReport(result.stack, config_label)
    by_urn = result.by_urn()
    resources: Optional[list[Subject]] = None
    types: set[str] = set()
    graph: Optional[list[PolicyResource]] = None
    for rule in RULES:
        level = enforcement(rule, config)
        report.levels[rule.rule_id] = level
        if level == "disabled":
            continue
        cfg = rule_config(rule, config)
        finding = lambda message, urn, name, typ: _finding(rule, level, message, urn, name, typ)  # noqa: E731
        if isinstance(rule, ResourceValidationPolicy):
            if resources is None:
                resources = subjects(result)
                types = {sub.type for sub in resources}
            wanted = {t for t in types if rule.applies_to(t)}  # asked once per type, not per resource
            for sub in resources:
                if sub.type not in wanted:
                    continue
                report.checked[rule.rule_id] = report.checked.get(rule.rule_id, 0) + 1
                found, na = _run(rule, sub.args(cfg))
                if na:
                    report.not_applicable.setdefault(rule.rule_id, []).append(f"{sub.name}: {na}")
                report.findings += [finding(m, sub.urn, sub.name, sub.type) for m, _ in found]
        elif isinstance(rule, StackValidationPolicy):
            graph = graph if graph is not None else stack_resources(result)
            report.checked[rule.rule_id] = 1
            found, na = _run(rule, StackValidationArgs(graph, cfg))
            if na:
                report.not_applicable.setdefault(rule.rule_id, []).append(na)
            for m, urn in found:
                rec = by_urn.get(urn or "")
                report.findings.append(finding(m, urn, rec.name if rec else None, rec.type if rec else None))
    report.findings.sort(key=lambda f: (f.enforcement != "mandatory", SEVERITY_ORDER[f.severity], f.rule, f.urn or ""))
    return report


def run_audit(stack: str, config_file: Optional[Path] = None, result: Optional[RunResult] = None) -> AuditReport:
    path = config_file or config_path(stack)
    config = load_config(path)  # a bad policy config stops before the (longer) run
    return audit(result or run_stack(stack), config, str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path))


# ---------------------------------------------------------------------------------------------
# reports


def summary(report: AuditReport) -> dict[str, Any]:
    return {
        "stack": report.stack,
        "config": report.config_path,
        "rules": len(RULES),
        "rulesRun": sum(1 for lvl in report.levels.values() if lvl != "disabled"),
        "mandatoryViolations": len(report.mandatory),
        "advisoryViolations": len(report.advisory),
        "notApplicable": sorted(report.not_applicable),
        "notRendered": sum(1 for f in report.findings if f.rule == NOT_RENDERED),
    }


def summary_lines(report: AuditReport, limit: int = 10) -> list[str]:
    s = summary(report)
    lines = [f"Policy pack {PACK_NAME} ({s['rulesRun']} rules, config {s['config']}): "
             f"{s['mandatoryViolations']} mandatory, {s['advisoryViolations']} advisory violation(s)"]
    for f in report.mandatory[:limit]:
        lines.append(f"  MANDATORY {f.rule} [{f.severity}] {f.name or report.stack}: {f.message}")
    if len(report.mandatory) > limit:
        lines.append(f"  ... {len(report.mandatory) - limit} more (make audit STACK={report.stack})")
    if s["notRendered"]:
        lines.append(f"  {s['notRendered']} Helm release(s) or CRD bundle(s) not rendered, so not judged inside "
                     f"(HELM-22, one line each in make audit / make render STACK={report.stack})")
    return lines


def render_table(report: AuditReport) -> str:
    rows = [(f.rule, f.severity, f.enforcement, f.name or "(stack)", f.message) for f in report.findings]
    out = [f"Policy report for stack {report.stack} ({PACK_NAME}, config {report.config_path})", ""]
    out.append(text_table(rows, ("rule", "severity", "enforcement", "resource", "message")) if rows else "No violation.")
    s = summary(report)
    na = [f"{k} ({report.not_applicable[k][0]})" for k in sorted(report.not_applicable)
          if not any(isinstance(r, ResourceRule) and r.rule_id == k for r in RULES)]
    out += ["", f"{s['rulesRun']} rules run; {s['mandatoryViolations']} mandatory and {s['advisoryViolations']} advisory violation(s)."]
    if na:
        out.append("Stack rules not applicable: " + "; ".join(na))
    return "\n".join(out)


def _rule_doc(rule) -> dict[str, Any]:
    return {
        "id": rule.rule_id,
        "domain": rule.domain,
        "description": rule.description,
        "severity": rule.severity_name,
        "defaultEnforcement": rule.enforcement_level.value,
        "references": list(rule.references),
        "remediation": rule.remediation_steps,
        "kind": "stack" if isinstance(rule, StackRule) else "resource",
    }


def to_json(report: AuditReport) -> dict[str, Any]:
    return {
        "pack": PACK_NAME,
        "summary": summary(report),
        "rules": [{**_rule_doc(r), "enforcement": report.levels.get(r.rule_id)} for r in RULES],
        "violations": [asdict(f) for f in report.findings],
        "notApplicable": report.not_applicable,
    }


def to_sarif(report: AuditReport) -> dict[str, Any]:
    index = {r.rule_id: i for i, r in enumerate(RULES)}
    rules = [{
        "id": r.rule_id,
        "name": r.rule_id.replace("-", ""),
        "shortDescription": {"text": r.description},
        "fullDescription": {"text": f"{r.description} ({', '.join(r.references)})"},
        "help": {"text": r.remediation_steps, "markdown": f"**Remediation:** {r.remediation_steps}"},
        "defaultConfiguration": {"level": SARIF_LEVEL.get(report.levels.get(r.rule_id, "advisory"), "none")},
        "properties": {"tags": ["security", r.domain, *r.references], "severity": r.severity_name,
                       "security-severity": {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}[r.severity_name]},
    } for r in RULES]
    results = []
    for f in report.findings:
        fingerprint = hashlib.sha256(f"{f.rule}|{f.urn}|{f.message}".encode()).hexdigest()
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": SARIF_LEVEL[f.enforcement],
            "message": {"text": f"{f.message} [{f.name or 'stack ' + report.stack}]"},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": f"Pulumi.{report.stack}.yaml"}, "region": {"startLine": 1}},
                "logicalLocations": [{"name": f.name or report.stack, "fullyQualifiedName": f.urn or report.stack,
                                      "kind": "resource"},
                                     *([{"name": f.template, "fullyQualifiedName": f"{f.name}/{f.template}",
                                         "kind": "module"}] if f.template else [])],
            }],
            "partialFingerprints": {"coprsViolation/v1": fingerprint},
            "properties": {"severity": f.severity, "enforcement": f.enforcement, "resourceType": f.type,
                           **({"template": f.template} if f.template else {})},
        })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": PACK_NAME, "version": "0.1.0", "informationUri":
                                "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/", "rules": rules}},
            "automationDetails": {"id": f"coprs-audit/{report.stack}/"},
            "results": results,
        }],
    }


def to_markdown(report: AuditReport) -> str:
    s = summary(report)
    status = "❌" if s["mandatoryViolations"] else "✅"
    out = [f"## {status} Policy report: stack `{report.stack}`", "",
           f"Pack `{PACK_NAME}`, {s['rulesRun']} rules, config `{report.config_path}`: "
           f"**{s['mandatoryViolations']} mandatory**, {s['advisoryViolations']} advisory violation(s).", ""]
    if report.findings:
        out += markdown_table([(f.rule, f.severity, f.enforcement, f"`{f.name or '(stack)'}`", f.message) for f in report.findings],
                              ("Rule", "Severity", "Enforcement", "Resource", "Message"))
    else:
        out.append("No violation.")
    stack_na = {k: v for k, v in report.not_applicable.items() if any(isinstance(r, StackRule) and r.rule_id == k for r in RULES)}
    if stack_na:
        out += ["", "Stack rules not applicable:", *[f"- {k}: {md_text(v[0])}" for k, v in sorted(stack_na.items())]]
    return "\n".join(out) + "\n"


def write_reports(report: AuditReport, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "audit.json", "sarif": out_dir / "audit.sarif", "markdown": out_dir / "audit.md"}
    paths["json"].write_text(json.dumps(to_json(report), indent=1) + "\n")
    paths["sarif"].write_text(json.dumps(to_sarif(report), indent=1) + "\n")
    paths["markdown"].write_text(to_markdown(report))
    return paths


def plan_section(result: RunResult, plan: dict[str, Any]) -> list[str]:
    """`make plan` extension: the policy summary of the same run (and `policy` in the plan JSON)."""
    try:
        report = run_audit(result.stack, result=result)
    except ConfigError as err:
        return [f"Policy pack {PACK_NAME}: not run ({err})"]
    except Exception as err:  # noqa: BLE001 - a broken rule must not take `make plan` down with it
        return [f"Policy pack {PACK_NAME}: failed ({type(err).__name__}: {err}); run `make audit STACK={result.stack}`"]
    plan["policy"] = {**summary(report), "violations": [asdict(f) for f in report.mandatory]}
    return summary_lines(report)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="make audit", description=__doc__.splitlines()[0])
    ap.add_argument("--stack", default="dev")
    ap.add_argument("--config", default=None, help="policy config JSON (default policies/config/<stack>.json)")
    ap.add_argument("--out", default=None, help="report directory (default audit-<stack>/)")
    ap.add_argument("--stack-file", default=None, help="read the stack config from this file instead of Pulumi.<stack>.yaml")
    add_chart_args(ap)
    args = ap.parse_args(argv)
    apply_chart_args(args)
    try:
        config_file = Path(args.config) if args.config else None
        load_config(config_file or config_path(args.stack))  # a bad policy config stops before the (longer) run
        result = run_stack(args.stack, document=read_stack_file(Path(args.stack_file))) if args.stack_file else None
        report = run_audit(args.stack, config_file, result)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = write_reports(report, Path(args.out or f"audit-{args.stack}"))
    emit(render_table(report) + "\n\nReports: " + ", ".join(str(p) for p in paths.values()))
    return 1 if report.mandatory else 0


if __name__ == "__main__":
    one_shot_process()
    sys.exit(main())
