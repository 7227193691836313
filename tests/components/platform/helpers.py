"""Shared helpers of the platform tests: manifests from recorded inputs, platform-only runs, graph walks."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from offline.harness import Recorded, RunResult
from tests.conftest import apps_key, cached_run

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


def platform_run(stack: str, overrides: Optional[dict] = None, apps: Optional[tuple] = None) -> RunResult:
    """The storage and platform layers alone on a stand-in provider (fast variants: disabled apps, settings,
    another registry of apps)."""
    def program() -> None:
        from components.config import load_stack_config
        from components.platform import Platform
        from components.platform.apps import APPS
        from components.storage.storage import Storage, credentials_from_config

        cfg = load_stack_config()
        provider = k8s.Provider("k8s", kubeconfig="offline", cluster_identifier="test")
        storage = (Storage("storage", cfg.object_storage, credentials_from_config(), k8s_provider=provider)
                   if cfg.object_storage is not None else None)
        platform = Platform("platform", cfg, provider, storage=storage, apps=apps or APPS)
        pulumi.export("platform", platform.summary)
        pulumi.export("credentials", platform.credentials)

    return cached_run(f"platform[{apps_key(apps)}]", stack, program, overrides)


def releases(result: RunResult) -> dict[str, Recorded]:
    return {r.inputs["name"]: r for r in result.of_type(RELEASE)}


def pinned(result: RunResult, release: str) -> tuple[str, str, str, str]:
    """(repository, chart, version, namespace) of a release, as the app module pins it."""
    i = releases(result)[release].inputs
    return i["repositoryOpts"]["repo"], i["chart"], i["version"], i["namespace"]


INFRA_AFFINITY = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "node-role.kubernetes.io/infra", "operator": "Exists"}]}]}}


def in_namespace(result: RunResult, type_: str, namespace: str) -> list[Recorded]:
    return [r for r in result.of_type(type_) if r.inputs["metadata"].get("namespace") == namespace]


def policy_names(result: RunResult, namespace: str) -> set[str]:
    return {p.inputs["metadata"]["name"] for p in in_namespace(result, NETWORK_POLICY, namespace)}


def authorized_ports(result: RunResult, namespace: str) -> set[int]:
    """Ports of the Linkerd Servers (authorized for unmeshed callers) in a namespace."""
    return {int(s.inputs["spec"]["port"]) for s in in_namespace(result, "kubernetes:policy.linkerd.io/v1beta3:Server", namespace)}



def waiting_apps(apps: Optional[tuple] = None) -> set[str]:
    """Apps of the registry with a required claim on a role no app of it (nor the storage layer) plays: they
    wait, off, until an app serving that role exists (e.g. Graylog before the data services)."""
    from components.platform.apps import APPS

    apps = apps or APPS
    played = {r for a in apps for r in a.roles} | {"object-storage"}
    return {a.name for a in apps if any(not c.optional and c.role not in played for c in a.claims)}


# Without the mesh (Graylog reaches MongoDB through the mesh's mTLS only: off too).
NO_MESH = {"coprs:platform.apps.linkerd.enabled": False, "coprs:platform.apps.graylog.enabled": False}


# One platform variant for the identity/security tests: another realm, no API-server OIDC, a new taint.
IDENTITY_VARIANT = {
    "coprs:cluster.oidc.realm": "rs",
    "coprs:cluster.oidc.enabled": False,
    "coprs:nodeGroups.processing.taints": ["coprs.esa.int/processing=batch:NoExecute"],
}


def served_run(stack: str = "dev") -> RunResult:
    """IDENTITY_VARIANT with every app: the data services serve Graylog's and Keycloak's claims, Grafana and the
    endpoint probes claim their own OIDC clients. One run serves every variant test of the identity and security
    apps."""
    return platform_run(stack, IDENTITY_VARIANT)
