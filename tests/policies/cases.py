"""Fixture cases of the policy pack: YAML files per domain (rule id → cases; `kubernetes/` holds one file per
concern, like the rule package) and the builders they use.

A case is either one resource (`type` + `props`, or `kind` + `pod` for a workload built from a pod spec
that passes every rule) or, for stack rules, a list of `resources` joined by name (`parent`, `deps`).
`UNKNOWN` stands for a value unknown during preview.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.coprs_policies.base import NotApplicable, Res, ResourceRule, wrap
from policies.coprs_policies.registry import BY_ID

FIXTURES = Path(__file__).parent / "fixtures"
SECURITY_GROUP = "openstack:networking/secGroup:SecGroup"

# A pod spec every pod rule accepts, even in a restricted namespace.
COMPLIANT_POD: dict[str, Any] = {
    "serviceAccountName": "app",
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{
        "name": "app",
        "image": "ghcr.io/coprs/app:1.2.3",
        "imagePullPolicy": "Always",
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
        "readinessProbe": {"tcpSocket": {"port": 8080}},
        "livenessProbe": {"tcpSocket": {"port": 8080}},
        "ports": [{"containerPort": 8080}],
    }],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}
TEMPLATE_PATHS = {
    "Pod": ("core/v1", []),
    "Deployment": ("apps/v1", ["spec", "template"]),
    "StatefulSet": ("apps/v1", ["spec", "template"]),
    "DaemonSet": ("apps/v1", ["spec", "template"]),
    "ReplicaSet": ("apps/v1", ["spec", "template"]),
    "Job": ("batch/v1", ["spec", "template"]),
    "CronJob": ("batch/v1", ["spec", "jobTemplate", "spec", "template"]),
}


def merge(base: Any, patch: Any) -> Any:
    """Deep merge: dicts by key (None deletes), lists element by element, anything else replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        out = [merge(base[i], p) if i < len(base) else copy.deepcopy(p) for i, p in enumerate(patch)]
        return out + copy.deepcopy(base[len(patch):])
    return copy.deepcopy(patch)


def unknowns(value: Any) -> Any:
    if value == "UNKNOWN":
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unknowns(v) for v in value]
    return value


def workload(kind: str, name: str, namespace: str, pod_patch: Optional[dict] = None, pod_meta: Optional[dict] = None,
             patch: Optional[dict] = None, patch_token: bool = False) -> tuple[str, dict]:
    """(type token, props) of a workload whose pod spec is COMPLIANT_POD with `pod_patch` merged in."""
    api, path = TEMPLATE_PATHS[kind]
    pod = merge(COMPLIANT_POD, pod_patch or {})
    meta = merge({"labels": {"app": name}}, pod_meta or {})
    if kind == "Pod":
        props: dict[str, Any] = {"metadata": {**merge(meta, {}), "name": name, "namespace": namespace}, "spec": pod}
    else:
        props = {"metadata": {"name": name, "namespace": namespace}, "spec": {}}
        node = props
        for p in path:
            node = node.setdefault(p, {})
        node.update({"metadata": meta, "spec": pod})
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
            props["spec"]["selector"] = {"matchLabels": {"app": name}}
    props = merge(props, patch or {})
    return f"kubernetes:{api}:{kind}{'Patch' if patch_token else ''}", props


def resource_of(data: dict, default_name: str) -> tuple[str, dict, str]:
    name = data.get("name_override") or data.get("name", default_name)
    if "type" in data:
        return data["type"], unknowns(copy.deepcopy(data.get("props") or {})), name
    typ, props = workload(data.get("kind", "Deployment"), data.get("object_name", "app"), data.get("namespace", "processing"),
                          data.get("pod"), data.get("podMeta"), data.get("patch"), data.get("patchToken", False))
    return typ, unknowns(props), name


def urn(typ: str, name: str) -> str:
    return f"urn:pulumi:test::coprs::{typ}::{name}"


def _opts(protect: bool, parent: Optional[str] = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


@dataclass
class Case:
    rule_id: str
    name: str
    expect: str
    data: dict

    @property
    def id(self) -> str:
        return f"{self.rule_id}:{self.expect}:{self.name}"


def load_cases() -> list[Case]:
    out = []
    for path in sorted([*FIXTURES.glob("*.yaml"), *FIXTURES.glob("kubernetes/*.yaml")]):
        for rule_id, cases in (yaml.safe_load(path.read_text()) or {}).items():
            if rule_id.startswith("x-"):  # YAML anchors shared by the cases below
                continue
            for c in cases:
                out.append(Case(rule_id, c["name"], c["expect"], c))
    return out


def graph(resources: list[dict]) -> list[Res]:
    nodes: dict[str, PolicyResource] = {}
    for i, data in enumerate(resources):
        typ, props, name = resource_of(data, f"r{i}")
        nodes[name] = PolicyResource(typ, unknown_checking_proxy(props), urn(typ, name), name, _opts(bool(data.get("protect"))),
                                     None, None, [], {})
    for i, data in enumerate(resources):
        node = nodes[resource_of(data, f"r{i}")[2]]
        if data.get("parent"):
            node.parent = nodes[data["parent"]]
        for prop, names in (data.get("deps") or {}).items():
            node.property_dependencies[prop] = [nodes[n] for n in names]
            node.dependencies += [nodes[n] for n in names if nodes[n] not in node.dependencies]
    return [wrap(n) for n in nodes.values()]


def run(case: Case) -> tuple[str, list[str]]:
    """('pass' | 'fail' | 'na', messages) of a case through its rule."""
    rule = BY_ID[case.rule_id]
    config = case.data.get("config")
    try:
        if isinstance(rule, ResourceRule):
            typ, props, name = resource_of(case.data, case.name)
            parent = urn(SECURITY_GROUP, case.data["group"]) if case.data.get("group") else None
            res = Res(typ, unknown_checking_proxy(props), name, urn(typ, name), bool(case.data.get("protect")), parent,
                      unknown_checking_proxy(case.data["provider"]) if case.data.get("provider") else None)
            if not rule.applies_to(typ):
                return "na", [f"rule does not apply to {typ}"]
            messages = rule.evaluate(res, config)
        else:
            messages = [v.message for v in rule.evaluate(graph(case.data["resources"]), config)]
    except NotApplicable as na:
        return "na", [na.reason]
    return ("fail" if messages else "pass"), messages


def secrets_of(case: Case) -> list[str]:
    s = case.data.get("secret")
    return [s] if isinstance(s, str) else list(s or [])


def dump(value: Any) -> str:
    return json.dumps(value, default=str)
