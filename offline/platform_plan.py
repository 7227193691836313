"""Plan section of the platform layer: each namespace with its baseline, each app with its charts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .recorded import RunResult
from .tables import text_table

ENFORCE = "pod-security.kubernetes.io/enforce"


def namespaces(result: RunResult) -> list[dict[str, Any]]:
    in_ns = lambda type_: Counter(r.inputs["metadata"].get("namespace") for r in result.of_type(type_))  # noqa: E731
    policies = in_ns("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    quotas = {r.inputs["metadata"]["namespace"]: r.inputs["spec"]["hard"] for r in result.of_type("kubernetes:core/v1:ResourceQuota")}
    limits = in_ns("kubernetes:core/v1:LimitRange")
    deny = {r.inputs["metadata"]["namespace"] for r in result.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if r.inputs["metadata"]["name"] == "default-deny"}
    out = []
    for ns in result.of_type("kubernetes:core/v1:Namespace"):
        meta = ns.inputs["metadata"]
        name = meta["name"]
        q = quotas.get(name, {})
        out.append({
            "name": name,
            "podSecurity": meta.get("labels", {}).get(ENFORCE),
            "meshed": meta.get("annotations", {}).get("linkerd.io/inject") == "enabled",
            "defaultDeny": name in deny,
            "networkPolicies": policies[name],
            "quota": {k: q[k] for k in ("requests.cpu", "requests.memory", "limits.memory", "pods") if k in q},
            "limitRange": limits[name] > 0,
        })
    return out


def plan_section(result: RunResult, plan: dict[str, Any]) -> list[str]:
    summary = result.outputs.get("platform")
    if not isinstance(summary, dict):
        return ["Platform layer: off (platform.enabled is false)"]
    ns = namespaces(result)
    plan["platform"] = {"namespaces": ns, "apps": summary["apps"], "disabledApps": summary["disabledApps"]}
    ns_rows = [(n["name"], n["podSecurity"], "yes" if n["meshed"] else "no", "yes" if n["defaultDeny"] else "NO",
                n["networkPolicies"], n["quota"].get("requests.cpu", "-"), n["quota"].get("requests.memory", "-"),
                "yes" if n["limitRange"] else "NO") for n in ns]
    app_rows = [(a["name"], a["namespace"], "; ".join(a["charts"]) or "(CRD bundle)", ", ".join(a["after"]) or "-")
                for a in summary["apps"]]
    lines = ["Platform namespaces (baseline: PSA enforce, Linkerd injection, default deny in+out, quota, limits)",
             text_table(ns_rows, ("namespace", "psa", "meshed", "deny", "policies", "cpu", "memory", "limits")),
             "", "Platform apps (dependency order)",
             text_table(app_rows, ("app", "namespace", "releases (in order)", "after"))]
    for name, why in summary["disabledApps"].items():
        lines.append(f"  off: {name} ({why})")
    return lines
