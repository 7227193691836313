"""The platform layer (`coprs:platform:Platform`): namespace baselines, then the enabled apps in dependency order.

Takes the Kubernetes provider of the cluster layer (provision or existing mode) and passes it down to
every object, and the storage layer (built before it), which serves the apps' `Bucket` claims. Which apps
run, in which order, and what they know of each other is the registry's (`registry.py`); this module
only imports the list of apps. Apps without a dependency between them are independent in the graph, so
Pulumi deploys them in parallel. Once every app is declared, the apps that serve the others do
(`after_apps`: the gateway's UI routes, the mesh's authorizations of unmeshed callers).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from ..config import NamespaceConfig, StackConfig
from .app import App, AppDeployment
from .apps import APPS
from ..storage.backups import declare_backup
from .claims import Bucket
from .claims import claim_flows
from .flows import PRIVATE_RANGES, Flow, FlowEnvironment, baseline_flows, expand
from .namespace import NAMESPACES, Namespace
from .registry import Registry, enabled_apps, select

if TYPE_CHECKING:
    from ..storage.storage import Storage

__all__ = ["Platform", "cluster_host_cidrs", "enabled_apps", "layer_roles"]


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


def layer_roles(cfg: StackConfig) -> dict[str, str]:
    """The roles the layers below the platform play: the storage layer serves object storage."""
    return {Bucket.role: "storage"} if cfg.object_storage is not None else {}


def _serve_buckets(registry: Registry, storage: "Storage") -> None:
    for consumer, claim in registry.claims(Bucket):
        ns = claim.namespace or consumer.namespace
        secret = storage.credentials_secret(consumer.name, ns, claim.secret, claim.suffix, claim.format,
                                            depends_on=registry.namespace_deps(ns))
        registry.serve(consumer, claim, secret)


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: StackConfig, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None,
                 *, storage: Optional["Storage"] = None, apps: tuple[App, ...] = APPS,
                 registry: Optional[Registry] = None):
        # Apps, settings and their `validate` hooks before the first resource of the layer.
        registry = registry or select(cfg, apps, layer_roles(cfg) if storage is not None else {})
        super().__init__(
            "coprs:platform:Platform", name, None,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers=[provider])),
        )
        self.cfg, self.registry = cfg, registry
        registry.parent = self
        self.enabled, self.disabled = registry.enabled, registry.disabled
        for app, why in sorted(self.disabled.items()):
            pulumi.log.info(f"platform app {app} is off: {why}")

        mesh = registry.has_role("mesh")
        self.env = registry.env = FlowEnvironment(
            managed=frozenset(s.name for s in NAMESPACES),
            meshed=frozenset(s.name for s in NAMESPACES if s.meshed and mesh),
            cluster_host_cidrs=cluster_host_cidrs(cfg),
            roles={role: registry.enabled[app].namespace for role, app in registry.players.items()},
        )
        flows: list[Flow] = []
        for s in NAMESPACES:
            flows += baseline_flows(s.name, dns_ip=cfg.platform.node_local_dns)
        for a in self.enabled.values():
            flows += a.network_flows
            flows += claim_flows(a, cfg, registry.has_role)
        self.flows = expand(flows, self.env)

        child = pulumi.ResourceOptions(parent=self)
        self.namespaces: dict[str, Namespace] = {
            s.name: Namespace(s, cfg.platform.namespaces.get(s.name, NamespaceConfig()), self.flows, self.env, mesh, opts=child)
            for s in NAMESPACES
        }
        registry.namespaces.update(self.namespaces)
        if storage is not None:
            _serve_buckets(registry, storage)
        self.apps: dict[str, AppDeployment] = {}
        for a in self.enabled.values():
            deps = [self.apps[d] for d in sorted(registry.after[a.name])]
            self.apps[a.name] = AppDeployment(registry.contexts[a.name], deps, opts=child)
        # Schedules of apps deployed before the backups player, declared by it (a child of the app would make
        # the player, which waits for the app, wait for a Schedule that needs the player's CRDs: a cycle).
        for _, backup in registry.deferred_backups:
            declare_backup(registry.contexts[registry.players["backups"]], backup)
        for a in self.enabled.values():
            if a.after_apps:
                a.after_apps(registry.contexts[a.name])
        registry.close_access()
        self.register_outputs({"namespaces": list(self.namespaces), "apps": list(self.enabled)})

    @property
    def oidc_clients(self) -> dict[str, Any]:
        """The OIDC clients the routes use (client id → routes.RouteClient), for the identity app's realm."""
        return self.registry.oidc_clients

    @property
    def urls(self) -> dict[str, str]:
        """Stack output: every UI published through the gateway."""
        if not self.registry.has_role("gateway"):
            return {}
        return {r.name: f"https://{r.host}.{self.cfg.domain}{r.prefix}/" if r.prefix else f"https://{r.host}.{self.cfg.domain}"
                for a in self.enabled.values() for r in a.routes}

    @property
    def credentials(self) -> pulumi.Output[dict[str, dict[str, str]]]:
        """Stack output (secret): the generated credentials, as `<app>/<secret>` → key → value."""
        values = {f"{name}/{secret}": keys for name, d in self.apps.items() for secret, keys in d.ctx.secret_values.items()}
        return pulumi.Output.secret(values)

    @property
    def summary(self) -> dict[str, Any]:
        """Stack output: namespaces with their levels, apps (in dependency order) with their charts."""
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
                    "after": sorted(self.registry.after[a.name]),
                }
                for a in self.enabled.values()
            ],
            "disabledApps": dict(sorted(self.disabled.items())),
        }
