"""`make diff BASE=old.json HEAD=new.json`: what changes between two offline plans, resource by resource.

Resources are matched by URN. A resource only in HEAD is added, only in BASE removed; one in both with
different inputs is changed (the changed input paths are listed; plans hold secrets as "[secret]", so a
secret's value never shows). A change is a replacement when a changed path is one the provider replaces
on (the tables of `replacements.py`, checked in each provider's source) or one the resource lists in
`replaceOnChanges`.
A removed and an added resource of the same type with the same inputs (and, for components, the same
children) are one resource renamed or re-parented: an alias keeps it. Resources whose inputs are the same
but that now wait for other resources are listed apart: Pulumi does not touch them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from .recorded import RunResult
from .replacements import is_replacement
from .tables import markdown_table, md_text

Path_ = tuple  # an input path: keys (str) and list indices (int)

# ---------------------------------------------------------------------------------------------
# comparing two plans


def changed_paths(old: Any, new: Any, prefix: Path_ = ()) -> list[Path_]:
    """The deepest paths where two input values differ (a list of another length counts as a whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Path_] = []
        for k in sorted(set(old) | set(new), key=str):
            if k not in old or k not in new:
                out.append(prefix + (k,))
            elif old[k] != new[k]:
                out += changed_paths(old[k], new[k], prefix + (k,))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            if a != b:
                out += changed_paths(a, b, prefix + (i,))
        return out
    return [prefix] if old != new else []


def path_text(path: Path_) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p and all(c.isalnum() or c in "_-" for c in p):
            out += f".{p}" if out else p
        else:
            out += f"[{json.dumps(p)}]"
    return out or "(all inputs)"


@dataclass
class Change:
    urn: str
    type: str
    name: str
    paths: list[Path_]
    replace: list[Path_]
    protect: bool
    old_parent: Optional[str] = None  # set when the parent changed but the URN did not

    @property
    def replaced(self) -> bool:
        return bool(self.replace)


@dataclass
class Move:
    old_urn: str
    new_urn: str
    type: str
    old_name: str
    new_name: str
    old_parent: Optional[str]
    new_parent: Optional[str]

    @property
    def renamed(self) -> bool:
        return self.old_name != self.new_name

    @property
    def reparented(self) -> bool:
        return self.old_parent != self.new_parent

    def alias(self) -> str:
        args = []
        if self.renamed:
            args.append(f"name={json.dumps(self.old_name)}")
        if self.reparented:
            args.append(f"parent={json.dumps(self.old_parent)}" if self.old_parent else "parent=pulumi.ROOT_STACK_RESOURCE")
        return f"aliases=[pulumi.Alias({', '.join(args)})]"


@dataclass
class Rewire:
    urn: str
    type: str
    name: str
    now_waits_for: list[str]
    no_longer_waits_for: list[str]


@dataclass
class PlanDiff:
    base_stack: str
    head_stack: str
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    moved: list[Move] = field(default_factory=list)
    rewired: list[Rewire] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # key → "added" | "removed" | "changed"
    critical_path: Optional[tuple[float, float]] = None  # seconds, base → head

    @property
    def replaced(self) -> list[Change]:
        return [c for c in self.changed if c.replaced]

    @property
    def updated(self) -> list[Change]:
        return [c for c in self.changed if not c.replaced]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved or self.rewired or self.outputs)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _signatures(resources: list[dict]) -> dict[str, str]:
    """urn → what the resource is regardless of its name and parent: type + inputs (+ children, for components)."""
    kids: dict[str, list[str]] = {}
    for r in resources:
        if r.get("parent"):
            kids.setdefault(r["parent"], []).append(r["urn"])
    out: dict[str, str] = {}
    for r in reversed(resources):  # children are registered after their parent
        parts = [r["type"], _canonical(r.get("inputs"))]
        if kids.get(r["urn"]) and not _is_custom(r):
            parts += sorted(out.get(k, k) for k in kids[r["urn"]])
        out[r["urn"]] = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return out


def _is_custom(r: dict) -> bool:
    return r.get("custom", not r["type"].startswith("coprs:"))


def diff_plans(base: dict, head: dict) -> PlanDiff:
    old = {r["urn"]: r for r in base.get("resources", [])}
    new = {r["urn"]: r for r in head.get("resources", [])}
    d = PlanDiff(base.get("stack", "?"), head.get("stack", "?"))

    gone = [r for u, r in old.items() if u not in new]
    born = [r for u, r in new.items() if u not in old]
    moved: dict[str, str] = {}  # old urn → new urn
    sig_old, sig_new = _signatures(list(old.values())), _signatures(list(new.values()))
    candidates: dict[str, list[dict]] = {}
    for r in gone:
        candidates.setdefault(sig_old[r["urn"]], []).append(r)
    for r in born:
        pool = candidates.get(sig_new[r["urn"]], [])
        if not pool:
            continue
        parent_of = lambda o: moved.get(o.get("parent"), o.get("parent"))  # noqa: E731
        pick = (
            next((o for o in pool if o["name"] == r["name"]), None)
            or next((o for o in pool if parent_of(o) == r.get("parent")), None)
            or (pool[0] if len(pool) == 1 else None)
        )
        if pick is None:
            continue
        pool.remove(pick)
        moved[pick["urn"]] = r["urn"]
        d.moved.append(
            Move(pick["urn"], r["urn"], r["type"], pick["name"], r["name"], pick.get("parent"), r.get("parent"))
        )
    for m in d.moved:  # a parent that was itself moved is no re-parenting of its children
        if m.old_parent in moved and moved[m.old_parent] == m.new_parent:
            m.old_parent = m.new_parent
    d.moved = [m for m in d.moved if m.renamed or m.reparented]
    d.removed = [r for r in gone if r["urn"] not in moved]
    d.added = [r for r in born if r["urn"] not in moved.values()]

    for urn, n in new.items():
        o = old.get(urn)
        if o is None:
            continue
        paths = changed_paths(o.get("inputs") or {}, n.get("inputs") or {})
        old_parent = o.get("parent") if moved.get(o.get("parent"), o.get("parent")) != n.get("parent") else None
        if paths or old_parent:
            options = n.get("replaceOnChanges") or ()
            d.changed.append(
                Change(urn, n["type"], n["name"], paths, [p for p in paths if is_replacement(n["type"], p, options)],
                       bool(o.get("protect")), old_parent)
            )
            continue
        before = {moved.get(u, u) for u in o.get("dependencies") or []}
        after = set(n.get("dependencies") or [])
        if before != after:
            d.rewired.append(Rewire(urn, n["type"], n["name"], sorted(after - before), sorted(before - after)))

    bo, ho = base.get("outputs") or {}, head.get("outputs") or {}
    for k in sorted(set(bo) | set(ho)):
        if k not in bo:
            d.outputs[k] = "added"
        elif k not in ho:
            d.outputs[k] = "removed"
        elif bo[k] != ho[k]:
            d.outputs[k] = "changed"
    cb, ch = base.get("criticalPath"), head.get("criticalPath")
    if cb and ch:
        d.critical_path = (float(cb["seconds"]), float(ch["seconds"]))
    return d


# ---------------------------------------------------------------------------------------------
# rendering


def _label(r: dict) -> str:
    return f"{r['type']}  {r['name']}"


def _paths(paths: Iterable[Path_], limit: int = 8) -> str:
    texts = [path_text(p) for p in paths]
    more = f", +{len(texts) - limit} more" if len(texts) > limit else ""
    return ", ".join(texts[:limit]) + more


def _counts(d: PlanDiff) -> str:
    return (
        f"{len(d.added)} to add, {len(d.updated)} to update, {len(d.replaced)} to replace, "
        f"{len(d.removed)} to delete, {len(d.moved)} renamed or re-parented (alias), "
        f"{len(d.rewired)} with new dependencies only"
    )


def _duration(seconds: float) -> str:
    from .waves import duration_text

    return duration_text(seconds)


def _warnings(d: PlanDiff) -> list[str]:
    out = [f"protected resource would be replaced (Pulumi refuses): {c.type} {c.name}" for c in d.replaced if c.protect]
    out += [f"protected resource would be deleted (Pulumi refuses): {_label(r)}" for r in d.removed if r.get("protect")]
    return out


def render_text(d: PlanDiff) -> str:
    if d.empty:
        return f"Plan diff {d.base_stack} → {d.head_stack}: no changes."
    out = [f"Plan diff {d.base_stack} → {d.head_stack}: {_counts(d)}"]
    out += [f"WARNING: {w}" for w in _warnings(d)]
    if d.added:
        out += ["", f"Added: {_by_type(r['type'] for r in d.added)}"] + [f"  + {_label(r)}" for r in d.added]
    if d.removed:
        out += ["", f"Removed: {_by_type(r['type'] for r in d.removed)}"] + [f"  - {_label(r)}" for r in d.removed]
    if d.replaced:
        out += ["", "Replaced (delete and create)"]
        out += [f"  ± {c.type}  {c.name}: {_paths(c.paths)} (replaces on: {_paths(c.replace)})" for c in d.replaced]
    if d.updated:
        out += ["", "Updated in place"]
        for c in d.updated:
            what = _paths(c.paths) if c.paths else ""
            parent = f"parent {c.old_parent} → new parent" if c.old_parent else ""
            out.append(f"  ~ {c.type}  {c.name}: {'; '.join(x for x in (what, parent) if x)}")
    if d.moved:
        out += ["", "Renamed or re-parented (keep them with an alias, else Pulumi deletes and recreates)"]
        for m in d.moved:
            out.append(f"  → {m.type}  {m.old_name} → {m.new_name}  {m.alias()}")
    if d.rewired:
        out += ["", "Same inputs, new dependencies (not touched, only ordered differently)"]
        for w in d.rewired:
            out.append(f"  · {w.type}  {w.name}: now waits for {len(w.now_waits_for)} more, {len(w.no_longer_waits_for)} fewer")
    if d.outputs:
        out += ["", "Stack outputs: " + ", ".join(f"{k} ({v})" for k, v in d.outputs.items())]
    if d.critical_path:
        b, h = d.critical_path
        out += ["", f"Critical path: {_duration(b)} → {_duration(h)}"]
    return "\n".join(out)


def _by_type(types: Iterable[str]) -> str:
    """`Namespace ×11, Release ×3, Port`: what a long list is made of, most frequent first."""
    counts: dict[str, int] = {}
    for t in types:
        short = t.rsplit(":", 1)[-1]
        counts[short] = counts.get(short, 0) + 1
    return ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _md_section(title: str, rows: list[tuple], headers: tuple, open_: bool = False) -> list[str]:
    table = markdown_table(rows, headers)
    kinds = md_text(_by_type(str(row[0]).strip("`") for row in rows))
    summary = f"{title} ({len(rows)}): {kinds}"
    return ["", f"<details{' open' if open_ else ''}><summary>{summary}</summary>", "", *table, "", "</details>"]


def render_markdown(d: PlanDiff) -> str:
    out = [f"### Offline plan diff: `{d.base_stack}`"]
    if d.empty:
        return "\n".join(out + ["", "No resource changes."])
    out += ["", *markdown_table([(len(d.added), len(d.updated), len(d.replaced), len(d.removed), len(d.moved), len(d.rewired))],
                                ("add", "update", "replace", "delete", "alias", "new dependencies only"))]
    out += [f"\n> [!WARNING]\n> {md_text(w)}" for w in _warnings(d)]
    if d.replaced:
        out += _md_section("Replaced", [(f"`{c.type}`", c.name, _paths(c.paths), _paths(c.replace)) for c in d.replaced],
                           ("type", "name", "changed", "replaces on"), open_=True)
    if d.removed:
        out += _md_section("Removed", [(f"`{r['type']}`", r["name"], "yes" if r.get("protect") else "") for r in d.removed],
                           ("type", "name", "protected"), open_=True)
    if d.added:
        out += _md_section("Added", [(f"`{r['type']}`", r["name"]) for r in d.added], ("type", "name"))
    if d.updated:
        rows = [(f"`{c.type}`", c.name, _paths(c.paths) + (" (parent changed)" if c.old_parent else "")) for c in d.updated]
        out += _md_section("Updated in place", rows, ("type", "name", "changed"))
    if d.moved:
        rows = [(f"`{m.type}`", m.old_name, m.new_name, f"`{m.alias()}`") for m in d.moved]
        out += _md_section("Renamed or re-parented", rows, ("type", "was", "now", "keep it with"), open_=True)
    if d.rewired:
        rows = [(f"`{w.type}`", w.name, len(w.now_waits_for), len(w.no_longer_waits_for)) for w in d.rewired]
        out += _md_section("Same inputs, new dependencies (not touched)", rows, ("type", "name", "waits for more", "fewer"))
    if d.outputs:
        out += ["", "Stack outputs: " + ", ".join(f"`{k}` ({v})" for k, v in d.outputs.items())]
    if d.critical_path:
        b, h = d.critical_path
        out += ["", f"Critical path (offline duration model): {_duration(b)} → {_duration(h)}"]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# plan section and entry point


def plan_section(result: RunResult, plan: dict[str, Any]) -> list[str]:
    """Carries what the diff needs into the plan JSON: custom or component, the replaceOnChanges option."""
    for entry, r in zip(plan["resources"], result.resources):
        entry["custom"] = r.custom
        if r.replace_on_changes:
            entry["replaceOnChanges"] = list(r.replace_on_changes)
    return []


def _load(path: str) -> dict:
    try:
        plan = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: cannot read plan {path}: {err}".replace("\n", " "))
    if not isinstance(plan, dict) or not isinstance(plan.get("resources"), list):
        raise SystemExit(f"error: {path} is not a plan JSON (no resources list); write one with `make plan`")
    return plan


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="make diff", description=__doc__.splitlines()[0])
    ap.add_argument("base", help="plan JSON before the change")
    ap.add_argument("head", help="plan JSON after the change")
    ap.add_argument("--format", choices=("text", "markdown"), default="text")
    ap.add_argument("--out", default=None, help="also write the diff to this file")
    args = ap.parse_args(argv)
    d = diff_plans(_load(args.base), _load(args.head))
    text = render_markdown(d) if args.format == "markdown" else render_text(d)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
