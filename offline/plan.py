"""`make plan`: preview one stack offline under the mocked-run harness.

Prints a readable summary (resource counts per layer, namespace and type; stack outputs with secrets
masked; which secret config keys were faked) and writes the plan JSON:
`{"stack", "resources": [{"urn", "type", "name", "parent", "inputs", "protect", "dependencies"}],
"outputs"}` (later sections are added by other tools, never removed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional

from components.config import ConfigError

from .harness import run_stack
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
    from .diff import plan_section as diff_fields
    from .object_storage import plan_section as object_storage
    from .platform_plan import plan_section as platform_layer
    from .waves import plan_section as waves_and_critical_path

    return [diff_fields, waves_and_critical_path, platform_layer, object_storage, policy_summary]


def build_plan(result: RunResult) -> tuple[dict[str, Any], list[str]]:
    plan = result.plan()
    plan["fakedSecrets"] = result.faked_secrets
    lines: list[str] = []
    for section in extensions():
        lines += ["", *section(result, plan)]
    return plan, lines


def _short(value: Any, limit: int = 100) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_summary(result: RunResult, extra: list[str]) -> str:
    layers = layer_of(result)
    custom = [r for r in result.resources if r.custom]
    out = [f"Stack {result.stack}: {len(custom)} resources in {len(result.resources) - len(custom)} components "
           f"(offline preview under mocks: nothing was contacted)"]
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
    if result.faked_secrets:
        out += ["", "Secret config keys faked for this offline run (set them with `pulumi config set --secret`): "
                + ", ".join(result.faked_secrets)]
    return "\n".join(out + extra)


def _read_stack_file(path: str) -> Any:
    return read_stack_file(Path(path))


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="make plan", description=__doc__.splitlines()[0])
    ap.add_argument("--stack", default="dev")
    ap.add_argument("--out", default=None, help="plan JSON path (default plan-<stack>.json)")
    ap.add_argument("--stack-file", default=None, help="read the stack config from this file instead of Pulumi.<stack>.yaml")
    add_chart_args(ap)
    args = ap.parse_args(argv)
    apply_chart_args(args)
    try:
        document = _read_stack_file(args.stack_file) if args.stack_file else None
        result = run_stack(args.stack, document=document)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    plan, extra = build_plan(result)
    out = Path(args.out or f"plan-{args.stack}.json")
    print(render_summary(result, extra))
    out.write_text(json.dumps(plan, indent=1, sort_keys=False, default=str) + "\n")
    print(f"\nPlan written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
