"""The platform layer (`coprs:platform:Platform`): namespace baselines, then the enabled apps in dependency order.

Takes the Kubernetes provider of the cluster layer (provision or existing mode) and passes it down to
every object. Apps without a dependency between them are independent in the graph, so Pulumi deploys
them in parallel. After the apps: their UI routes (when APISIX is enabled) and the Linkerd
authorizations of their unmeshed callers (when Linkerd is enabled).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import ValidationError

from ..config import NAMESPACE, ConfigError, NamespaceConfig, StackConfig
from .app import App, AppDeployment
from .apps import APPS
from .apps.apisix import APP as APISIX, CRDS as APISIX_CRDS, GATEWAY_PODS
from .apps.linkerd import APP as LINKERD, CONTROL_PLANE_PODS
from .claims import claim_flows, servers, unserved
from .flows import PRIVATE_RANGES, Flow, FlowEnvironment, Peer, baseline_flows, expand
from .mesh import POLICY_GROUP, authorize_unmeshed
from .namespace import NAMESPACES, Namespace
from .routes import OidcClient, ui_route

MONITORING_NAMESPACE = "monitoring"


def _settings(app: App, raw: dict) -> Any:
    try:
        return app.settings.model_validate(raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"])
            where = f"{NAMESPACE}:platform.apps.{app.name}.settings.{key}"
            if e["type"] == "extra_forbidden":
                problems.append(f"{where} is not a known setting of {app.name}")
            else:
                problems.append(f"{where} = {e.get('input')!r}: {e['msg']}")
        raise ConfigError(problems) from None


def enabled_apps(cfg: StackConfig, registry: tuple[App, ...] = APPS) -> tuple[list[App], dict[str, str]]:
    """Apps to deploy, in dependency order, and why the others are off (app → reason)."""
    known = {a.name: a for a in registry}
    unknown = sorted(set(cfg.platform.apps) - set(known))
    if unknown:
        raise ConfigError(
            [f"{NAMESPACE}:platform.apps.{u} is not a known app; known apps: {', '.join(known)}" for u in unknown]
        )
    off = {n: "disabled in config" for n in known if not cfg.platform.app(n).enabled}
    changed = True
    while changed:
        changed = False
        for a in registry:
            if a.name not in off:
                missing = [d for d in a.depends_on if d in off]
                missing += unserved(a, [b for b in registry if b.name not in off])
                if missing:
                    off[a.name] = f"needs {', '.join(missing)}"
                    changed = True
    on = {a.name: a for a in registry if a.name not in off}
    after = _ordering(on)
    order: list[App] = []
    placed: set[str] = set()
    while len(order) < len(on):
        ready = [a for a in on.values() if a.name not in placed and after[a.name] <= placed]
        if not ready:
            raise RuntimeError(f"dependency cycle among platform apps: {sorted(set(on) - placed)}")
        for a in ready:
            order.append(a)
            placed.add(a.name)
    return order, off


def _ordering(on: dict[str, App]) -> dict[str, set[str]]:
    """Hard and optional dependencies, plus: meshed apps start after Linkerd so they are injected at birth."""
    after = {n: {d for d in (*a.depends_on, *a.optional, *servers(a, on.values())) if d in on} for n, a in on.items()}
    if LINKERD.name in on:
        upstream, todo = set(), [LINKERD.name]
        while todo:
            for d in after[todo.pop()]:
                if d not in upstream:
                    upstream.add(d)
                    todo.append(d)
        meshed = {s.name for s in NAMESPACES if s.meshed}
        for n, a in on.items():
            if a.namespace in meshed and n != LINKERD.name and n not in upstream:
                after[n].add(LINKERD.name)
    return after


def cluster_host_cidrs(cfg: StackConfig) -> tuple[str, ...]:
    if cfg.platform.cluster_host_cidrs:
        return tuple(cfg.platform.cluster_host_cidrs)
    if cfg.network is not None:
        return (cfg.network.cidr, cfg.cluster.pod_cidr)
    private = [c for c in PRIVATE_RANGES[:3]]
    pod = ipaddress.ip_network(cfg.cluster.pod_cidr)
    if not any(pod.subnet_of(ipaddress.ip_network(c)) for c in private):
        private.append(cfg.cluster.pod_cidr)
    return tuple(private)


class AppAccess(pulumi.ComponentResource):
    """How an app is reached: its UI routes and the Linkerd authorizations of its unmeshed callers."""

    def __init__(self, app: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("coprs:platform:AppAccess", f"{app}-access", None, opts)


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: StackConfig, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            "coprs:platform:Platform", name, None,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers=[provider])),
        )
        self.cfg = cfg
        order, self.disabled = enabled_apps(cfg)
        self.settings = {a.name: _settings(a, cfg.platform.app(a.name).settings) for a in order}
        self.enabled = {a.name: a for a in order}
        for app, why in sorted(self.disabled.items()):
            pulumi.log.info(f"platform app {app} is off: {why}")

        mesh = LINKERD.name in self.enabled
        self.env = FlowEnvironment(
            managed=frozenset(s.name for s in NAMESPACES),
            meshed=frozenset(s.name for s in NAMESPACES if s.meshed and mesh),
            cluster_host_cidrs=cluster_host_cidrs(cfg),
        )
        gateway = Peer(namespace=APISIX.namespace, pods=GATEWAY_PODS) if APISIX.name in self.enabled else None
        control_plane = Peer(namespace=LINKERD.namespace, pod_keys=CONTROL_PLANE_PODS) if mesh else None
        flows: list[Flow] = []
        for s in NAMESPACES:
            flows += baseline_flows(s.name, self.env, dns_ip=cfg.platform.node_local_dns, gateway=gateway,
                                    monitoring=MONITORING_NAMESPACE, mesh_control_plane=control_plane)
        for a in order:
            flows += a.flows
            flows += claim_flows(a, cfg, order)
        self.flows = expand(flows, self.env)

        child = pulumi.ResourceOptions(parent=self)
        self.namespaces: dict[str, Namespace] = {
            s.name: Namespace(s, cfg.platform.namespaces.get(s.name, NamespaceConfig()), self.flows, self.env, mesh, opts=child)
            for s in NAMESPACES
        }
        self._crds: dict[str, pulumi.Resource] = {}
        self.apps: dict[str, AppDeployment] = {}
        for a in order:
            deps = [self.apps[d] for d in (*a.depends_on, *a.optional, *servers(a, order)) if d in self.apps]
            if mesh and a.name != LINKERD.name and LINKERD.name in self.apps and a.namespace in self.env.meshed:
                deps.append(self.apps[LINKERD.name])
            self.apps[a.name] = AppDeployment(self, a, self.settings[a.name], deps, opts=child)

        self.oidc_clients: dict[str, OidcClient] = {}
        self.routes: list[k8s.apiextensions.CustomResource] = []
        self.authorizations: list[k8s.apiextensions.CustomResource] = []
        for a in order:
            expose = APISIX.name in self.enabled and a.routes
            authorize = mesh and a.namespace in self.env.meshed and a.mesh_inbound
            if not (expose or authorize):
                continue
            access = AppAccess(a.name, opts=child)
            if expose:
                for r in a.routes:
                    route, client = ui_route(
                        cfg, a, r,
                        pulumi.ResourceOptions(parent=access, depends_on=self._ns_deps(r.namespace or a.namespace)),
                        pulumi.ResourceOptions(depends_on=[self.crd_provider(APISIX_CRDS, a.name), self.apps[a.name]]),
                    )
                    self.routes.append(route)
                    if client:
                        self.oidc_clients[client.client_id] = client
            if authorize:
                self.authorizations += authorize_unmeshed(
                    a.name, a.namespace, a.mesh_inbound, self.env.cluster_host_cidrs,
                    lambda access=access, ns=a.namespace, name=a.name: pulumi.ResourceOptions(
                        parent=access, depends_on=[*self._ns_deps(ns), self.crd_provider(POLICY_GROUP, name)]
                    ),
                )
            access.register_outputs({})
        self.register_outputs({"namespaces": list(self.namespaces), "apps": [a.name for a in order]})

    def _ns_deps(self, namespace: str) -> list[pulumi.Resource]:
        return [self.namespaces[namespace]] if namespace in self.namespaces else []

    def is_enabled(self, app: str) -> bool:
        return app in self.enabled

    def register_crds(self, group: str, provider: pulumi.Resource) -> None:
        self._crds[group] = provider

    def crd_provider(self, group: str, for_app: str) -> pulumi.Resource:
        if group not in self._crds:
            raise RuntimeError(
                f"platform app {for_app} uses {group} custom resources but no app deployed before it provides "
                "their CRDs: add the provider to its depends_on"
            )
        return self._crds[group]

    @property
    def urls(self) -> dict[str, str]:
        """Stack output: every UI published through APISIX."""
        if APISIX.name not in self.enabled:
            return {}
        return {r.host: f"https://{r.host}.{self.cfg.domain}" for a in self.enabled.values() for r in a.routes}

    @property
    def credentials(self) -> pulumi.Output[dict[str, dict[str, str]]]:
        """Stack output (secret): the generated credentials, as `<app>/<secret>` → key → value."""
        values = {f"{name}/{secret}": keys for name, d in self.apps.items() for secret, keys in d.ctx.secret_values.items()}
        return pulumi.Output.secret(values)

    @property
    def summary(self) -> dict[str, Any]:
        """Stack output: namespaces with their levels, apps (in dependency order) with their charts."""
        after = _ordering(self.enabled)
        return {
            "namespaces": {s.name: {"podSecurity": s.pod_security, "meshed": s.name in self.env.meshed} for s in NAMESPACES},
            "apps": [
                {
                    "name": a.name,
                    "namespace": a.namespace,
                    "charts": [
                        f"{r.release_name}{'' if r.release_name == r.chart.name else f' ({r.chart.name})'} {r.chart.version}"
                        for r in a.releases
                    ],
                    "after": sorted(after[a.name]),
                }
                for a in self.enabled.values()
            ],
            "disabledApps": dict(sorted(self.disabled.items())),
        }

