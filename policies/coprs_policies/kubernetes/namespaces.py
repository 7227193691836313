"""Namespaces: placement (K-27), Pod Security labels, disruption budgets, quotas (K-43 .. K-45)."""

from __future__ import annotations

import re
from typing import Iterator

from ..base import Cfg, Res, StackRule, Violation, elements, get, has, items, key, meta, number, opt, strings
from ..k8s import (
    LEVELS, LEVELS_SCHEMA, at_least, cluster_scoped, has_pods, is_kind, kind_of, level_of, name_of, namespace_of, pod_labels,
    pod_specs, scope_of, selector_matches,
)

from .common import RULES, kinds, rule


# ---------------------------------------------------------------------------------------------
# placement (K-27)

def _k27(res: Res, cfg: Cfg) -> Iterator[str]:
    ns = namespace_of(res)
    if ns == "default":
        yield f"{kind_of(res.type)} {name_of(res)} is in the default namespace"
    elif ns in ("kube-system", "kube-public", "kube-node-lease") and has_pods(res.type) and \
            not any(re.fullmatch(p, name_of(res)) for p in cfg["allowedSystemWorkloads"]):
        yield f"workload {name_of(res)} runs in {ns}, which is reserved for the cluster's own components"


rule(meta("K-27", "medium", "Nothing in `default`; no user workloads in kube-system",
          ["CIS-5.6.4", "CKV_K8S_21", "kube-linter:use-namespace"],
          "Set `metadata.namespace` to the app's namespace (the provider's default namespace is `default`).",
          {"allowedSystemWorkloads": strings("workload name regexes allowed in kube-system (the charts HELM-14 allows there)",
                                             ["metrics-server", "linkerd-cni"])}),
     _k27, applies=lambda t: kind_of(t) is not None and not cluster_scoped(t))




# ---------------------------------------------------------------------------------------------
# namespaces, disruption budgets, quotas (K-43 .. K-45)

PSA = "pod-security.kubernetes.io/"


def _k43(res: Res, cfg: Cfg) -> Iterator[str]:
    name = name_of(res)
    labels = get(res.props, "metadata.labels") or {}
    level = key(labels, PSA + "enforce")
    want = level_of(name, cfg)
    if level is None:
        yield f"namespace {name} has no {PSA}enforce label (expected {want})"
    elif level not in LEVELS:
        yield f"namespace {name} enforces an unknown level {level}"
    elif not at_least(level, want):
        yield f"namespace {name} enforces {level}, weaker than its expected level {want}"


rule(meta("K-43", "high", "Every namespace enforces its Pod Security level", ["CIS-5.2.1", "NSA:pod-security", "PSS"],
          "Label the namespace `pod-security.kubernetes.io/enforce` with its level (restricted unless the namespace "
          "is allow-listed in `namespaceLevels`).", dict(LEVELS_SCHEMA)),
     _k43, applies=kinds("Namespace", group="core"))


def pdbs(resources: list[Res]) -> list[Res]:
    return [r for r in resources if is_kind(r.type, "PodDisruptionBudget", group="policy")]


def _k44(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    budgets = pdbs(resources)
    for w in resources:
        if not is_kind(w.type, "Deployment", "StatefulSet", group="apps"):
            continue
        replicas = number(opt(w.props, "spec.replicas"))
        if replicas is None or replicas < 2:
            continue
        ns = namespace_of(w)
        labels = next((pod_labels(p) for p in pod_specs(w)), {})
        if not any(namespace_of(b) == ns and selector_matches(opt(b.props, "spec.selector") or {}, labels) for b in budgets):
            yield Violation(f"{kind_of(w.type)} {ns}/{name_of(w)} runs {int(replicas)} replicas without a PodDisruptionBudget", w)


RULES.append(StackRule(
    meta("K-44", "low", "Multi-replica workloads have a PodDisruptionBudget",
         ["kube-score:deployment-has-poddisruptionbudget", "Polaris:missingPodDisruptionBudget"],
         "Add a PodDisruptionBudget (maxUnavailable: 1) selecting the workload's pods."),
    "kubernetes", _k44, namespace_of=scope_of, subjects=("kubernetes:policy/v1:PodDisruptionBudget",)))


def _k45(res: Res, cfg: Cfg) -> Iterator[str]:
    if kind_of(res.type) == "ResourceQuota":
        hard = {k for k, _ in items(get(res.props, "spec.hard"))}
        for what in ("cpu", "memory"):
            if not hard & {what, f"requests.{what}", f"limits.{what}"}:
                yield f"the ResourceQuota sets no {what} cap"
    else:
        ok = False
        for lim in elements(get(res.props, "spec.limits")):
            if opt(lim, "type") == "Container" and has(lim, "default") and has(lim, "defaultRequest"):
                ok = True
        if not ok:
            yield "the LimitRange gives containers no default requests and limits"


rule(meta("K-45", "medium", "Quotas cap CPU and memory; LimitRanges give containers default requests and limits",
          ["NSA:appendix-F", "NSA:appendix-G", "KSV-0039", "KSV-0040"],
          "Set cpu/memory in the ResourceQuota's spec.hard and a Container item with default/defaultRequest in the LimitRange."),
     _k45, applies=lambda t: is_kind(t, "ResourceQuota", "LimitRange", group="core"))
