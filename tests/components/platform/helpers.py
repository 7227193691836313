"""Shared helpers of the platform tests: manifests from recorded inputs, platform-only runs, graph walks."""

from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from offline.harness import Recorded, RunResult, run_stack

PLATFORM = "coprs:platform:Platform"
RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMITS = "kubernetes:core/v1:LimitRange"
# Core API groups kubernetes-validate has schemas for; everything else is a custom resource.
CORE_GROUPS = {
    "core", "apps", "batch", "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "autoscaling", "scheduling.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io", "certificates.k8s.io", "apiregistration.k8s.io",
}


def api_of(type_token: str) -> tuple[str, str, str]:
    """`kubernetes:networking.k8s.io/v1:NetworkPolicy` → (group, apiVersion, kind)."""
    _, gv, kind = type_token.split(":")
    group, _, version = gv.partition("/")
    return group, (version if group == "core" else gv), kind


def is_k8s_object(r: Recorded) -> bool:
    """A Kubernetes API object (not a provider, a Helm release or a manifest-file component)."""
    return (r.custom and r.type.startswith("kubernetes:") and "/" in r.type.split(":")[1]
            and not r.type.startswith(("kubernetes:helm.sh/", "kubernetes:yaml/")))


def is_custom_resource(r: Recorded) -> bool:
    return is_k8s_object(r) and api_of(r.type)[0] not in CORE_GROUPS


def _ints(value: Any) -> Any:
    """The RPC layer turns every number into a float; Kubernetes integers are integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def manifest(r: Recorded) -> dict:
    """The object as the API server would receive it, from the recorded inputs and the type token."""
    _, api_version, kind = api_of(r.type)
    body = {k: v for k, v in r.inputs.items() if k not in ("apiVersion", "kind")}
    return _ints({"apiVersion": api_version, "kind": kind, **body})


def platform_objects(result: RunResult) -> list[Recorded]:
    roots = [r.urn for r in result.of_type(PLATFORM)]
    seen: list[Recorded] = []
    for root in roots:
        seen += result.descendants(root)
    return seen


def ancestors(result: RunResult, r: Recorded) -> set[str]:
    """Every URN this resource transitively depends on (explicit and implicit dependencies)."""
    by = result.by_urn()
    out: set[str] = set()
    todo = list(r.dependencies) + [u for deps in r.property_dependencies.values() for u in deps]
    while todo:
        u = todo.pop()
        if u in out:
            continue
        out.add(u)
        if u in by:
            d = by[u]
            todo += d.dependencies + [x for deps in d.property_dependencies.values() for x in deps]
    return out


_PLATFORM_RUNS: dict[str, RunResult] = {}


def platform_run(stack: str, overrides: Optional[dict] = None) -> RunResult:
    """The platform layer alone on a stand-in provider (fast variants: disabled apps, settings)."""
    key = stack + json.dumps(overrides or {}, sort_keys=True)
    if key not in _PLATFORM_RUNS:
        def program() -> None:
            from components.config import load_stack_config
            from components.platform import Platform

            cfg = load_stack_config()
            provider = k8s.Provider("k8s", kubeconfig="offline", cluster_identifier="test")
            pulumi.export("platform", Platform("platform", cfg, provider).summary)

        _PLATFORM_RUNS[key] = run_stack(stack, overrides, program=program)
    return _PLATFORM_RUNS[key]


def releases(result: RunResult) -> dict[str, Recorded]:
    return {r.inputs["name"]: r for r in result.of_type(RELEASE)}


# One platform variant for the identity/security tests: another realm, no API-server OIDC, a new taint.
IDENTITY_VARIANT = {
    "coprs:cluster.oidc.realm": "rs",
    "coprs:cluster.oidc.enabled": False,
    "coprs:nodeGroups.processing.taints": ["coprs.esa.int/processing=batch:NoExecute"],
}

_SERVED: dict[str, RunResult] = {}


def served_run(stack: str = "dev") -> RunResult:
    """The platform of IDENTITY_VARIANT with stand-ins playing the data roles (kafka, mongodb) and an app
    claiming its own OIDC client, so the consumers of claims (Graylog, OidcClient) are deployed before the
    data services exist. One run serves every variant test of the identity and security apps."""
    if stack not in _SERVED:
        import dataclasses

        from components.platform import platform as platform_module
        from components.platform.apps import APPS, keda, metrics_server
        from components.platform.identity import OidcClient

        claims = (OidcClient("grafana", "monitoring", ("/login/generic_oauth",), scopes=("dataflow.view",)),)
        registry = tuple(
            dataclasses.replace(a, claims=claims) if a.name == keda.APP.name
            else dataclasses.replace(a, roles=("kafka", "mongodb")) if a.name == metrics_server.APP.name
            else a
            for a in APPS
        )

        def program() -> None:
            from components.config import load_stack_config

            defaults = platform_module.enabled_apps.__defaults__
            platform_module.enabled_apps.__defaults__ = (registry,)
            try:
                provider = k8s.Provider("k8s", kubeconfig="offline", cluster_identifier="test")
                pulumi.export("platform", platform_module.Platform("platform", load_stack_config(), provider).summary)
            finally:
                platform_module.enabled_apps.__defaults__ = defaults

        _SERVED[stack] = run_stack(stack, IDENTITY_VARIANT, program=program)
    return _SERVED[stack]
