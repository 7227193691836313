"""`make render [STACK=...] [CHARTS=dir]`: render every Helm release of a stack's offline run with the real Helm
engine and write what the cluster would receive.

Each release is rendered with its exact chart version, values, release name and namespace (secret values of
the run stand in as "[secret]" placeholders, never real values) into `render-<stack>/<release>.yaml`
(`# Source: <template path>` before each object, as `helm template` writes), and the objects are counted
by kind per release. Charts come from `--charts DIR` (archives `<chart>-<version>.tgz` or chart folders),
else the chart cache (`COPRS_CHART_CACHE`, default ~/.cache/coprs/charts), filled once from each chart's
repository; a chart that cannot be had gets one line, and the count of those closes the output.
The checks on these objects run in `make audit` and `make plan` (rules HELM-18 .. HELM-22 and every K-* rule).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import yaml

from components.config import ConfigError
from policies.coprs_policies.base import Res
from policies.coprs_policies.k8s import HELM_TYPES
from policies.coprs_policies.rendered import release_input
from policies.coprs_policies.rendering import charts
from policies.coprs_policies.rendering.render import Rendered, render

from .gc_pause import one_shot_process
from .harness import run_stack
from .recorded import RunResult


def add_chart_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--charts", default=None, metavar="DIR",
                    help="chart archives (<chart>-<version>.tgz) or chart folders to render from, instead of the chart cache")


def apply_chart_args(args: argparse.Namespace) -> None:
    """`--charts DIR` for this process and the rules it runs (the pack reads COPRS_CHARTS too)."""
    if getattr(args, "charts", None):
        os.environ[charts.CHARTS_ENV] = str(Path(args.charts).resolve())
        charts.use(None)


def rendered_releases(result: RunResult, masked: bool = True) -> list[Rendered]:
    """Every release of the run, rendered (with secret values masked unless `masked` is False)."""
    out = []
    for rec in result.resources:
        if rec.type in HELM_TYPES:
            out.append(render(release_input(Res(rec.type, rec.masked_inputs if masked else rec.inputs, rec.name, rec.urn))))
    return out


def manifest(r: Rendered) -> str:
    docs = []
    for obj in r.all_objects():
        docs.append(f"# Source: {obj.template}\n" + yaml.safe_dump(obj.doc, sort_keys=False, default_flow_style=False))
    return "---\n" + "---\n".join(docs) if docs else ""


def kinds_line(r: Rendered) -> str:
    counts = Counter(o.kind for o in r.all_objects())
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def report(rendered: list[Rendered], out_dir: Path) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    unavailable = [r for r in rendered if r.unavailable]
    for r in rendered:
        rel = r.release
        head = f"{rel.name} ({rel.chart.label}, namespace {rel.namespace})"
        if r.unavailable:
            lines.append(f"{head}: {r.unavailable}")
            continue
        if r.schema_error or r.error:
            lines.append(f"{head}: FAILED: {r.schema_error and 'values.schema.json: ' + r.schema_error or r.error}")
            continue
        path = out_dir / f"{rel.name}.yaml"
        path.write_text(manifest(r))
        lines.append(f"{head}: {len(r.all_objects())} objects → {path}")
        lines.append(f"  {kinds_line(r)}")
    failed = sum(1 for r in rendered if r.schema_error or r.error)
    lines.append("")
    lines.append(f"{len(rendered) - len(unavailable) - failed} of {len(rendered)} releases rendered"
                 f"; {failed} failed to render; {len(unavailable)} not rendered (chart not reachable)"
                 f" [{charts.source().where}]")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="make render", description=__doc__.splitlines()[0])
    ap.add_argument("--stack", default="dev")
    ap.add_argument("--out", default=None, help="output directory (default render-<stack>/)")
    add_chart_args(ap)
    args = ap.parse_args(argv)
    apply_chart_args(args)
    try:
        result = run_stack(args.stack)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rendered = rendered_releases(result)
    print("\n".join(report(rendered, Path(args.out or f"render-{args.stack}"))))
    return 1 if any(r.schema_error or r.error for r in rendered) else 0


if __name__ == "__main__":
    one_shot_process()
    sys.exit(main())
