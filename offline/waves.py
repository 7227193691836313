"""Dependency waves and the critical path of a plan, with the duration model in `offline/durations.yaml`.

How a parallel `pulumi up` orders steps (and so how the graph is built):
- a resource waits for every resource in its `dependencies` (explicit `depends_on` plus property
  dependencies: the SDK records both in RegisterResource, with components already expanded to their
  custom children), for its explicit provider, and for its parent: the SDK sends a child's
  registration only once the parent's URN is known, i.e. once a custom parent is created or a
  component parent is registered (which itself waits for the component's own dependencies);
- a component is *registered* when its dependencies are done (0 s) and *done* when all its children are,
  so depending on a component means waiting for its whole subtree;
- every step runs as soon as it can (unbounded parallelism).
Waves are the topological levels of the custom resources (components do no work, so they are in no
wave); the critical path is the longest chain of step durations.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from .recorded import RunResult

DURATIONS = Path(__file__).with_name("durations.yaml")


@dataclass(frozen=True)
class Step:
    """One registered resource, as far as ordering is concerned."""

    urn: str
    type: str
    name: str
    custom: bool = True
    parent: Optional[str] = None
    dependencies: tuple[str, ...] = ()
    provider: Optional[str] = None  # provider URN (without the `::id`)
    inputs: Any = field(default=None, compare=False, hash=False)


def steps_of(result: RunResult) -> list[Step]:
    return [
        Step(
            urn=r.urn,
            type=r.type,
            name=r.name,
            custom=r.custom,
            parent=r.parent,
            dependencies=tuple(r.dependencies),
            provider=r.provider.rsplit("::", 1)[0] if r.provider else None,
            inputs=r.inputs,
        )
        for r in result.resources
    ]


# ---------------------------------------------------------------------------------------------
# duration model


@dataclass(frozen=True)
class Rule:
    type: str
    seconds: float
    name: str = "*"
    inputs: tuple[tuple[str, str], ...] = ()

    def matches(self, step: Step) -> bool:
        if not fnmatch.fnmatchcase(step.type, self.type) or not fnmatch.fnmatchcase(step.name, self.name):
            return False
        return all(fnmatch.fnmatchcase(_text(_lookup(step.inputs, path)), glob) for path, glob in self.inputs)


def _lookup(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class DurationModel:
    rules: tuple[Rule, ...]
    default: float

    def seconds(self, step: Step) -> float:
        if not step.custom:
            return 0.0
        return next((r.seconds for r in self.rules if r.matches(step)), self.default)

    @classmethod
    def from_document(cls, doc: dict) -> "DurationModel":
        rules = tuple(
            Rule(
                type=r["type"],
                seconds=float(r["seconds"]),
                name=r.get("name", "*"),
                inputs=tuple(sorted((r.get("inputs") or {}).items())),
            )
            for r in doc.get("rules") or []
        )
        return cls(rules, float(doc.get("default", 5)))


@lru_cache(maxsize=None)
def load_model(path: Path = DURATIONS) -> DurationModel:
    return DurationModel.from_document(yaml.safe_load(path.read_text()) or {})


# ---------------------------------------------------------------------------------------------
# schedule


class CycleError(ValueError):
    pass


@dataclass
class Schedule:
    waves: list[list[str]]  # custom resource URNs per wave, wave 1 first
    seconds: dict[str, float]  # step duration per URN
    start: dict[str, float]
    finish: dict[str, float]
    critical_path: list[str]  # custom resource URNs, first to last
    critical_seconds: float
    serial_seconds: float

    @property
    def ratio(self) -> float:
        return self.serial_seconds / self.critical_seconds if self.critical_seconds else 1.0

    def wave_of(self) -> dict[str, int]:
        return {urn: i for i, wave in enumerate(self.waves, 1) for urn in wave}


def schedule(steps: Iterable[Step], model: Optional[DurationModel] = None) -> Schedule:
    """Earliest start/finish of every step under unbounded parallelism, the waves and the critical path."""
    model = model or load_model()
    steps = list(steps)
    by_urn = {s.urn: s for s in steps}
    children: dict[str, list[str]] = {}
    for s in steps:
        if s.parent in by_urn:
            children.setdefault(s.parent, []).append(s.urn)

    def ancestors(urn: str) -> set[str]:
        out, cur = set(), by_urn[urn].parent
        while cur in by_urn and cur not in out:
            out.add(cur)
            cur = by_urn[cur].parent
        return out

    # Nodes: ("step", urn) for every resource, ("done", urn) for every component (its subtree finished).
    preds: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for s in steps:
        p: list[tuple[str, str]] = []
        lineage = None
        for d in dict.fromkeys(s.dependencies):
            dep = by_urn.get(d)
            if dep is None or d == s.urn:
                continue
            if dep.custom:
                p.append(("step", d))
            else:
                lineage = ancestors(s.urn) if lineage is None else lineage
                p.append(("step", d) if d in lineage else ("done", d))
        for owner in (s.parent, s.provider):
            if owner in by_urn:
                p.append(("step", owner))
        preds[("step", s.urn)] = p
        if not s.custom:
            kids = children.get(s.urn, [])
            preds[("done", s.urn)] = [("step", s.urn)] + [("step" if by_urn[k].custom else "done", k) for k in kids]

    order = _topological(preds)
    finish: dict[tuple[str, str], float] = {}
    level: dict[tuple[str, str], int] = {}
    via: dict[tuple[str, str], Optional[tuple[str, str]]] = {}
    seconds = {s.urn: model.seconds(s) for s in steps}
    for node in order:
        best, best_t, lvl = None, 0.0, 0
        for q in preds[node]:
            if best is None or finish[q] > best_t:
                best, best_t = q, finish[q]
            lvl = max(lvl, level[q])
        kind, urn = node
        work = kind == "step" and by_urn[urn].custom
        finish[node] = best_t + (seconds[urn] if work else 0.0)
        level[node] = lvl + (1 if work else 0)
        via[node] = best

    waves: list[list[str]] = []
    for s in steps:
        if s.custom:
            lvl = level[("step", s.urn)]
            while len(waves) < lvl:
                waves.append([])
            waves[lvl - 1].append(s.urn)

    end = max(finish, key=lambda n: (finish[n], n[0] == "step"), default=None)
    chain: list[str] = []
    node = end
    while node is not None:
        if node[0] == "step" and by_urn[node[1]].custom:
            chain.append(node[1])
        node = via[node]
    chain.reverse()
    return Schedule(
        waves=waves,
        seconds=seconds,
        start={s.urn: finish[("step", s.urn)] - seconds[s.urn] for s in steps},
        finish={s.urn: finish[("step", s.urn)] for s in steps},
        critical_path=chain,
        critical_seconds=finish[end] if end else 0.0,
        serial_seconds=sum(seconds.values()),
    )


def _topological(preds: dict[tuple[str, str], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Kahn's algorithm in declaration order; a cycle is an error naming one resource on it."""
    succs: dict[tuple[str, str], list[tuple[str, str]]] = {n: [] for n in preds}
    missing = {n: 0 for n in preds}
    for n, ps in preds.items():
        for q in ps:
            succs[q].append(n)
            missing[n] += 1
    ready = [n for n in preds if missing[n] == 0]
    order: list[tuple[str, str]] = []
    while ready:
        n = ready.pop()
        order.append(n)
        for m in succs[n]:
            missing[m] -= 1
            if missing[m] == 0:
                ready.append(m)
    if len(order) != len(preds):
        stuck = next(n for n in preds if missing[n] > 0)
        raise CycleError(f"dependency cycle through {stuck[1]}")
    return order


# ---------------------------------------------------------------------------------------------
# `make plan` section


def duration_text(seconds: float) -> str:
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}h {m:02d}m {sec:02d}s" if h else f"{m}m {sec:02d}s" if m else f"{sec}s"


def _short_type(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def plan_section(result: RunResult, plan: dict[str, Any]) -> list[str]:
    """Adds `waves` and `criticalPath` to the plan JSON; returns the summary lines."""
    sched = schedule(steps_of(result))
    by_urn = result.by_urn()
    plan["waves"] = sched.waves
    plan["criticalPath"] = {
        "seconds": sched.critical_seconds,
        "serialSeconds": sched.serial_seconds,
        "ratio": round(sched.ratio, 2),
        "chain": [
            {"urn": u, "type": by_urn[u].type, "seconds": sched.seconds[u], "startsAt": sched.start[u]}
            for u in sched.critical_path
        ],
        "durationModel": str(DURATIONS.relative_to(DURATIONS.parent.parent)),
    }
    lines = [f"Dependency waves of a parallel `pulumi up`: {len(sched.waves)} (duration model: offline/durations.yaml)"]
    for i, wave in enumerate(sched.waves, 1):
        counts: dict[str, int] = {}
        for u in wave:
            t = _short_type(by_urn[u].type)
            counts[t] = counts.get(t, 0) + 1
        kinds = ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"  wave {i:>2}: {len(wave):>4}  {kinds}")
    lines += [
        "",
        f"Critical path: {duration_text(sched.critical_seconds)} ({sched.critical_seconds:.0f} s); "
        f"all steps one after another: {duration_text(sched.serial_seconds)} ({sched.serial_seconds:.0f} s); "
        f"ratio (serial ÷ critical path) {sched.ratio:.1f}×",
    ]
    for u in sched.critical_path:
        r = by_urn[u]
        lines.append(f"  at {duration_text(sched.start[u]):>11}  +{sched.seconds[u]:>5.0f} s  {r.type}  {r.name}")
    return lines
