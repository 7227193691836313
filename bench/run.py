"""`make bench`: how long the offline preview takes and how much memory it needs, as the platform grows.

Cases: the dev and prod stacks, and prod-shaped stacks with 50 to 2,000 infra workers (prod's config
with the infra node group's count overridden in memory: no stack file is written). Each run is a fresh
Python process (`--one CASE`) that imports the program, runs it under the mocks, builds the plan (waves
and critical path included), renders the summary and serializes the plan JSON, then reports its phase
times (wall clock and CPU: the machine is shared), its peak resident memory (getrusage) and the size of
the plan JSON, in all and per worker node. Each case runs several times; the median is reported.
`prod-rendered` is prod with every Helm release rendered and judged from warm charts (`--charts DIR`, else the
chart cache); every other case renders nothing (an empty chart directory: one "not rendered" line per release,
never a pull), so prod-rendered minus prod is what the rendered checks add to `make plan STACK=prod`.
Prints a table and the scale goals, and writes the figures as JSON (bench/results.json, not committed).
Figures, not asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from components.config import MAX_NODES_PER_GROUP, NODE_PREFIX
from offline.gc_pause import one_shot_process

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKERS = (50, 100, 200, 500, 1000, 2000)
GROUP = "infra"
OVERFLOW_GROUP = "processing"  # takes the workers past a group's maximum (MAX_NODES_PER_GROUP)
# The goals of issue 16, at 1,000 infra workers against 100.
GOALS = {"at": 1000, "base": 100, "previewSeconds": 15.0, "peakRssMb": 1024.0, "timeRatio": 11.0, "bytesPerWorkerRatio": 1.2}
RENDERED = "prod-rendered"
RENDER_BUDGET_SECONDS = 10.0


def cases(workers: tuple[int, ...] = DEFAULT_WORKERS) -> dict[str, tuple[str, dict[str, Any]]]:
    """case name → (stack, config overrides)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {"dev": ("dev", {}), "prod": ("prod", {}), RENDERED: ("prod", {})}
    for n in workers:
        infra, rest = min(n, MAX_NODES_PER_GROUP), n - min(n, MAX_NODES_PER_GROUP)
        if rest > MAX_NODES_PER_GROUP:
            raise ValueError(f"at most {2 * MAX_NODES_PER_GROUP} workers in a prod-shaped case, not {n}")
        overrides: dict[str, Any] = {f"coprs:nodeGroups.{GROUP}.count": infra, f"coprs:nodeGroups.{GROUP}.autoscaling.maxCount": infra}
        if rest:
            overrides |= {f"coprs:nodeGroups.{OVERFLOW_GROUP}.count": rest,
                          f"coprs:nodeGroups.{OVERFLOW_GROUP}.autoscaling": {"minCount": rest, "maxCount": rest}}
        # Each node takes a /24 of the pod CIDR: past ~240 nodes prod's /16 is too small.
        prefix = min(16, NODE_PREFIX - (n + 32 - 1).bit_length())
        if prefix < 16:
            overrides["coprs:cluster.podCidr"] = f"10.{256 - 2 ** (16 - prefix)}.0.0/{prefix}"
        out[f"prod-{n}"] = ("prod", overrides)
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(stack: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """One offline preview in this process: phase times (s), peak memory (MB) and plan figures."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from components.config import node_role
    from offline.harness import run_stack
    from offline.plan import build_plan, render_summary

    imported_rss = _rss_mb()
    t1, c1 = time.perf_counter(), time.process_time()
    result = run_stack(stack, overrides)
    t2 = time.perf_counter()
    plan, extra = build_plan(result)
    render_summary(result, extra)
    plan_bytes = len(json.dumps(plan, indent=1, default=str).encode())  # what `make plan` writes
    t3, c3 = time.perf_counter(), time.process_time()
    cp = plan.get("criticalPath", {})
    workers = sum(g.count for name, g in result.config.node_groups.items() if node_role(name) == "worker")
    return {
        "importSeconds": t1 - t0,
        "programSeconds": t2 - t1,
        "planSeconds": t3 - t2,
        "previewSeconds": t3 - t1,
        "previewCpuSeconds": c3 - c1,
        "peakRssMb": _rss_mb(),
        "importRssMb": imported_rss,
        "workers": workers,
        "planBytes": plan_bytes,
        "planBytesPerWorker": plan_bytes / workers if workers else None,
        "resources": result.counts()["resources"],
        "customResources": result.counts()["custom"],
        "waves": len(plan.get("waves", [])),
        "criticalPathSeconds": cp.get("seconds"),
        "serialSeconds": cp.get("serialSeconds"),
        "criticalPathRatio": cp.get("ratio"),
    }


def case_env(name: str, charts: Optional[str], empty: str) -> dict[str, str]:
    """The child's environment: warm charts for prod-rendered, an empty chart directory for every other case."""
    env = {k: v for k, v in os.environ.items() if k != "COPRS_CHARTS"}
    if name != RENDERED:
        env["COPRS_CHARTS"] = empty
    elif charts:
        env["COPRS_CHARTS"] = str(Path(charts).resolve())
    return env


def run_case(name: str, runs: int, charts: Optional[str] = None) -> dict[str, Any]:
    """Runs one case `runs` times, each in a fresh process; returns every run and the medians."""
    samples = []
    empty = tempfile.mkdtemp(prefix="coprs-bench-no-charts-")
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.run", "--one", name], cwd=ROOT, capture_output=True, text=True, check=False,
            env=case_env(name, charts, empty),
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return {"error": tail, "runs": samples}
        sample = json.loads(proc.stdout.strip().splitlines()[-1])
        sample["processSeconds"] = wall
        samples.append(sample)
    return {"runs": samples, "median": median_of(samples)}


def median_of(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in samples[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {k: statistics.median(s[k] for s in samples if s.get(k) is not None) for k in keys if all(s.get(k) is not None for s in samples)}


def summarize(results: dict[str, dict[str, Any]], workers: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lo, hi = f"prod-{min(workers)}", f"prod-{max(workers)}"
    ok = {name: res for name, res in results.items() if "error" not in res}
    if len(workers) > 1 and lo in ok and hi in ok:
        a, b = results[lo]["median"], results[hi]["median"]
        out["scaling"] = {
            "from": lo,
            "to": hi,
            "workersRatio": max(workers) / min(workers),
            "resourcesRatio": b["resources"] / a["resources"],
            "previewSecondsRatio": b["previewSeconds"] / a["previewSeconds"],
            "peakRssRatio": b["peakRssMb"] / a["peakRssMb"],
        }
    at, base = f"prod-{GOALS['at']}", f"prod-{GOALS['base']}"
    if at in ok and base in ok:
        a, b = ok[base]["median"], ok[at]["median"]
        out["goals"] = {
            "case": at,
            "previewSeconds": b["previewSeconds"],
            "previewCpuSeconds": b["previewCpuSeconds"],
            "peakRssMb": b["peakRssMb"],
            "timeRatio": b["previewSeconds"] / a["previewSeconds"],
            "cpuTimeRatio": b["previewCpuSeconds"] / a["previewCpuSeconds"],
            "bytesPerWorkerRatio": b["planBytesPerWorker"] / a["planBytesPerWorker"],
            # what one more worker costs, without the fixed part (platform layer, control plane...)
            "marginalBytesPerWorker": (b["planBytes"] - a["planBytes"]) / (b["workers"] - a["workers"]),
        }
    if "prod" in ok and RENDERED in ok:
        added = ok[RENDERED]["median"]["previewSeconds"] - ok["prod"]["median"]["previewSeconds"]
        out["renderedChecks"] = {"addedSeconds": added, "budgetSeconds": RENDER_BUDGET_SECONDS,
                                 "withinBudget": added <= RENDER_BUDGET_SECONDS}
    if "prod" in ok:
        m = ok["prod"]["median"]
        out["prodCriticalPath"] = {
            "seconds": m.get("criticalPathSeconds"),
            "serialSeconds": m.get("serialSeconds"),
            "ratio": m.get("criticalPathRatio"),
        }
    return out


def render(results: dict[str, dict[str, Any]], summary: dict[str, Any], runs: int) -> str:
    headers = ("case", "workers", "resources", "preview s", "cpu s", "program s", "plan s", "peak MB", "plan MB",
               "plan B/worker", "waves", "critical path")
    rows = []
    for name, res in results.items():
        if "error" in res:
            rows.append((name, "failed", *[""] * (len(headers) - 2)))
            continue
        m = res["median"]
        cp = m.get("criticalPathSeconds")
        fig = lambda key, fmt, scale=1.0: format(m[key] / scale, fmt) if m.get(key) is not None else "-"  # noqa: E731
        rows.append(
            (
                name,
                fig("workers", ".0f"),
                fig("resources", ".0f"),
                fig("previewSeconds", ".2f"),
                fig("previewCpuSeconds", ".2f"),
                fig("programSeconds", ".2f"),
                fig("planSeconds", ".2f"),
                fig("peakRssMb", ".0f"),
                fig("planBytes", ".1f", 1e6),
                fig("planBytesPerWorker", ",.0f"),
                fig("waves", ".0f"),
                f"{cp / 60:.1f} min" if cp else "-",
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda row: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
    out = [f"Offline preview benchmark (median of {runs} runs, each in a fresh process)", line(headers)]
    out += [line(tuple("-" * w for w in widths)), *map(line, rows)]
    out += [f"{name} failed: {res['error']}" for name, res in results.items() if "error" in res]
    if "scaling" in summary:
        s = summary["scaling"]
        out += [
            "",
            f"{s['to']} / {s['from']}: {s['workersRatio']:.0f}x the workers, {s['resourcesRatio']:.1f}x the resources, "
            f"{s['previewSecondsRatio']:.1f}x the preview time, {s['peakRssRatio']:.1f}x the peak memory",
        ]
    if "goals" in summary:
        g, want = summary["goals"], GOALS
        mark = lambda ok: "met" if ok else "NOT met"  # noqa: E731
        out += [
            "",
            f"Goals at {g['case']} (against prod-{want['base']}):",
            f"  preview {g['previewSeconds']:.1f} s (cpu {g['previewCpuSeconds']:.1f} s), goal <= {want['previewSeconds']:.0f} s: "
            f"{mark(g['previewSeconds'] <= want['previewSeconds'])}",
            f"  peak memory {g['peakRssMb']:.0f} MB, goal <= {want['peakRssMb']:.0f} MB: {mark(g['peakRssMb'] <= want['peakRssMb'])}",
            f"  time ratio {g['timeRatio']:.1f}x (cpu {g['cpuTimeRatio']:.1f}x), goal <= {want['timeRatio']:.0f}x: "
            f"{mark(g['timeRatio'] <= want['timeRatio'])}",
            f"  plan bytes per worker ratio {g['bytesPerWorkerRatio']:.2f}x, goal <= {want['bytesPerWorkerRatio']}x: "
            f"{mark(g['bytesPerWorkerRatio'] <= want['bytesPerWorkerRatio'])} "
            f"(each worker past prod-{want['base']} adds {g['marginalBytesPerWorker']:,.0f} bytes)",
        ]
    if "renderedChecks" in summary:
        r = summary["renderedChecks"]
        out.append(f"rendered checks on prod (prod-rendered - prod): {r['addedSeconds']:+.2f} s, "
                   f"{'within' if r['withinBudget'] else 'OVER'} the {r['budgetSeconds']:.0f} s budget")
    if "prodCriticalPath" in summary and summary["prodCriticalPath"]["seconds"]:
        c = summary["prodCriticalPath"]
        out.append(
            f"prod critical path {c['seconds'] / 60:.1f} min, all steps one after another {c['serialSeconds'] / 60:.1f} min: "
            f"ratio {c['ratio']:.1f}x (duration model: offline/durations.yaml)"
        )
    return "\n".join(out)


def _workers(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--workers takes counts like 100,1000,2000, not {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("--workers needs at least one count of 1 or more")
    return values


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per case (median reported); default 3")
    ap.add_argument("--workers", type=_workers, default=DEFAULT_WORKERS, help="infra worker counts of the prod-shaped cases")
    ap.add_argument("--cases", default=None, help="comma-separated subset of the cases (default: all)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    ap.add_argument("--charts", default=None, help="warm charts for prod-rendered (default: COPRS_CHARTS, else the chart cache)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child process: one run, JSON on stdout
    args = ap.parse_args(argv)

    if args.one:
        known = cases(_workers(args.one.split("-", 1)[1]) if args.one.startswith("prod-") and args.one != RENDERED else ())
        stack, overrides = known[args.one]
        print(json.dumps(measure(stack, overrides)))
        return 0

    all_cases = cases(args.workers)
    chosen = [c.strip() for c in args.cases.split(",")] if args.cases else list(all_cases)
    unknown = [c for c in chosen if c not in all_cases]
    if unknown:
        print(f"error: unknown case {', '.join(unknown)}; known: {', '.join(all_cases)}", file=sys.stderr)
        return 2
    if args.runs < 1:
        print("error: --runs must be 1 or more", file=sys.stderr)
        return 2
    results = {}
    for name in chosen:
        print(f"  {name}: {args.runs} run(s)...", file=sys.stderr, flush=True)
        results[name] = run_case(name, args.runs, args.charts or os.environ.get("COPRS_CHARTS"))
    summary = summarize(results, args.workers)
    print(render(results, summary, args.runs))
    doc = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": args.runs,
        "cases": {name: {"stack": all_cases[name][0], "overrides": all_cases[name][1], **res} for name, res in results.items()},
        "summary": summary,
    }
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\nFigures written to {args.out}")
    failed = [name for name, res in results.items() if "error" in res]
    if failed:
        print(f"error: benchmark case(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    one_shot_process()
    sys.exit(main())
