"""`make plan`: preview one stack offline under the mocked-run harness.

Prints a one-screen summary (resource count, layers, capacity, apps, critical path, policy result, the
secrets the stack needs, where the JSON is); with `--verbose` (`make plan VERBOSE=1`) every section:
counts per layer, namespace and type, stack outputs with secrets masked, waves, namespaces, buckets.
Writes the plan JSON: `{"stack", "counts", "resources": [{"urn", "type", "name", "parent", "inputs",
"protect", "dependencies", "options"}], "outputs"}` (later sections are added by other tools, never removed).
A secret given in clear in the stack file stops it (exit 2) before anything runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional

from components.config import ConfigError

from .gc_pause import one_shot_process, paused_gc
from .harness import run_stack
from .output import emit
from .recorded import RunResult
from .render import add_chart_args, apply_chart_args
from .stack_input import read_stack_file
from .tables import text_table


def layer_of(result: RunResult) -> dict[str, str]:
    """urn → layer: the middle part of the nearest `coprs:<layer>:<Name>` ancestor (or itself)."""
    by_urn = result.by_urn()
    out: dict[str, str] = {}
    for r in result.resources:
        node: Optional[Any] = r
        layer = "stack"
        while node is not None:
            if node.type.startswith("coprs:"):
                layer = node.type.split(":")[1]
            node = by_urn.get(node.parent) if node.parent else None
        out[r.urn] = layer
    return out


def namespace_of(inputs: dict[str, Any]) -> Optional[str]:
    meta = inputs.get("metadata") if isinstance(inputs.get("metadata"), dict) else {}
    if inputs.get("namespace"):
        return str(inputs["namespace"])
    if meta.get("namespace"):
        return str(meta["namespace"])
    return None


def extensions() -> list[Any]:
    """Further plan sections, each `(result, plan) -> summary lines`; each may add keys to the plan."""
    from .audit import plan_section as policy_summary
    from .capacity import plan_section as capacity
    from .diff import plan_section as diff_fields
    from .object_storage import plan_section as object_storage
    from .platform_plan import plan_section as platform_layer
    from .waves import plan_section as waves_and_critical_path

    return [diff_fields, capacity, waves_and_critical_path, platform_layer, object_storage, policy_summary]


def build_sections(result: RunResult) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The plan JSON and each extension's summary lines, by the extension's module name."""
    with paused_gc():
        return _build_sections(result)


def _build_sections(result: RunResult) -> tuple[dict[str, Any], dict[str, list[str]]]:
    plan = result.plan()
    plan["fakedSecrets"] = result.faked_secrets
    plan["secrets"] = {"needed": result.needed_secrets, "missing": result.faked_secrets}
    sections: dict[str, list[str]] = {}
    for section in extensions():
        sections[section.__module__.rsplit(".", 1)[-1]] = section(result, plan)
    return plan, sections


def build_plan(result: RunResult) -> tuple[dict[str, Any], list[str]]:
    plan, sections = build_sections(result)
    lines: list[str] = []
    for section_lines in sections.values():
        if section_lines:
            lines += ["", *section_lines]
    return plan, lines


def _short(value: Any, limit: int = 100) -> str:
    """One line, whatever the value (a multi-line string shows as its JSON string)."""
    text = value if isinstance(value, str) and "\n" not in value else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def count_line(result: RunResult) -> str:
    c = result.counts()
    return (f"Stack {result.stack}: {c['resources']} resources ({c['custom']} cloud and Kubernetes objects, "
            f"{c['components']} components); offline preview under mocks: nothing was contacted")


def secrets_lines(result: RunResult) -> list[str]:
    """The secrets this stack needs, and which the stack file lacks (faked for this offline run only)."""
    if not result.needed_secrets:
        return ["Secrets: this stack needs none"]
    out = [f"Secrets this stack needs (set each with `pulumi config set --secret KEY --stack {result.stack}`):"]
    width = max(map(len, result.needed_secrets))
    for key, why in result.needed_secrets.items():
        state = "MISSING, faked offline" if key in result.faked_secrets else "set (encrypted)"
        out.append(f"  {key:<{width}}  {state:<22}  {why}")
    if result.faked_secrets:
        out.append(f"  `pulumi preview` and `pulumi up` stop while any is missing: "
                   f"{len(result.faked_secrets)} of {len(result.needed_secrets)} are")
    return out


# sections the one-screen summary shows in its own way (or not at all: their figures are in the JSON)
SHORT_SECTIONS = {"diff", "capacity", "waves", "platform_plan", "object_storage", "audit"}


def render_short(result: RunResult, plan: dict[str, Any], sections: dict[str, list[str]]) -> str:
    """One screen: count, layers, capacity, apps, critical path, policy result, secrets."""
    layers = layer_of(result)
    per_layer = Counter(layers[r.urn] for r in result.resources if r.custom)
    out = [count_line(result), "Layers: " + ", ".join(f"{k} {n}" for k, n in sorted(per_layer.items()))]
    out += ["", *sections.get("capacity", [])]
    platform = plan.get("platform")
    if platform:
        apps = [a["name"] for a in platform["apps"]]
        out += ["", f"Apps ({len(apps)}, in order): {', '.join(apps)}"]
        out += [f"  off: {name} ({why})" for name, why in platform["disabledApps"].items()]
    else:
        out += ["", "Platform layer: off (platform.enabled is false)"]
    cp = plan.get("criticalPath")
    if cp:
        from .waves import duration_text

        out.append(f"Critical path of a parallel `pulumi up`: {duration_text(cp['seconds'])} over "
                   f"{len(plan.get('waves', []))} dependency waves")
    # any other section (one a later tool adds) shows its headline
    out += [lines[0] for name, lines in sections.items() if lines and name not in SHORT_SECTIONS]
    out += ["", *sections.get("audit", [])]
    out += ["", *secrets_lines(result)]
    return "\n".join(out)


def render_summary(result: RunResult, extra: list[str], verbose: bool = True,
                   plan: Optional[dict[str, Any]] = None, sections: Optional[dict[str, list[str]]] = None) -> str:
    if not verbose and plan is not None and sections is not None:
        return render_short(result, plan, sections)
    layers = layer_of(result)
    custom = [r for r in result.resources if r.custom]
    out = [count_line(result)]
    per_layer = Counter(layers[r.urn] for r in custom)
    out += ["", "Resources per layer", text_table(sorted(per_layer.items()), ("layer", "count"))]
    per_ns = Counter(ns for r in custom if (ns := namespace_of(r.inputs)))
    if per_ns:
        out += ["", "Kubernetes objects per namespace", text_table(sorted(per_ns.items()), ("namespace", "count"))]
    per_type = Counter((layers[r.urn], r.type) for r in custom)
    out += ["", "Resources per type", text_table([(l, t, n) for (l, t), n in sorted(per_type.items())], ("layer", "type", "count"))]
    protected = sum(1 for r in result.resources if r.protect)
    out += ["", f"Protected resources: {protected}"]
    out += ["", "Stack outputs (secrets masked)"]
    out += [f"  {k}: {_short(v)}" for k, v in sorted(result.outputs.items())]
    out += ["", *secrets_lines(result)]
    return "\n".join(out + extra)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="make plan", description=__doc__.splitlines()[0])
    ap.add_argument("--stack", default="dev")
    ap.add_argument("--out", default=None, help="plan JSON path (default plan-<stack>.json)")
    ap.add_argument("--stack-file", default=None, help="read the stack config from this file instead of Pulumi.<stack>.yaml")
    ap.add_argument("--verbose", action="store_true", help="every section, not the one-screen summary")
    ap.add_argument("--require-secrets", action="store_true", default=None,
                    help="a needed secret the stack file lacks is an error, not faked (the default once it holds any)")
    add_chart_args(ap)
    args = ap.parse_args(argv)
    apply_chart_args(args)
    try:
        document = read_stack_file(Path(args.stack_file)) if args.stack_file else None
        result = run_stack(args.stack, document=document, require_secrets=args.require_secrets)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    plan, sections = build_sections(result)
    extra = [line for lines in sections.values() if lines for line in ["", *lines]]
    out = Path(args.out or f"plan-{args.stack}.json")
    out.write_text(json.dumps(plan, indent=1, sort_keys=False, default=str) + "\n")
    text = render_summary(result, extra, verbose=args.verbose, plan=plan, sections=sections)
    more = "" if args.verbose else "; every section: make plan VERBOSE=1"
    emit(f"{text}\n\nPlan written to {out}{more}")
    return 0


if __name__ == "__main__":
    one_shot_process()
    sys.exit(main())
