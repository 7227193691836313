"""The platform's registry: what an app may know of the others, instead of the `Platform` itself.

It holds the enabled apps (in dependency order) and why the others are off, the roles they play (and the
roles layers play, e.g. the storage layer's "object-storage"), the namespaces and the flow environment,
the CRD providers, the claims apps make and what was served for them, and the app deployments.

`select` decides which apps run, in which order, and validates their settings and config (each app's
`validate` hook) before any resource is declared:
- an app is off when it is disabled in config, when an app it `depends_on` is off, or when one of its
  non-optional claims names a role no enabled app or layer plays ("needs <role>");
- an app comes after the apps it depends on (hard or `optional`), after the app serving each of its
  claims, after the mesh app when its namespace is meshed (injected at birth), after the monitoring app
  unless it opts out (`monitoring=False`), and after the backups app when it declares a Velero backup;
  the role apps themselves, and what they depend on, are not held back by the last three rules; every app
  with monitors comes after the app of the "monitoring-crds" role (the Prometheus Operator CRDs).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional, Type, TypeVar

import pulumi
from pydantic import ValidationError

from ..config import NAMESPACE, ConfigError, StackConfig, oidc_issuer
from .app import App, AppContext, AppDeployment
from .claims import Claim
from .flows import FlowEnvironment
from .namespace import NAMESPACES

C = TypeVar("C", bound=Claim)


class AppAccess(pulumi.ComponentResource):
    """How an app is reached: its UI routes and the mesh authorizations of its unmeshed callers."""

    def __init__(self, app: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("coprs:platform:AppAccess", f"{app}-access", None, opts)


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


def role_players(apps: Iterable[App]) -> dict[str, str]:
    """role → the app that plays it (two apps may not play one role)."""
    out: dict[str, str] = {}
    for a in apps:
        for role in a.roles:
            if role in out:
                raise RuntimeError(f"platform apps {out[role]} and {a.name} both play the role {role}")
            out[role] = a.name
    return out


def _off(registry: tuple[App, ...], cfg: StackConfig, layer_roles: Iterable[str]) -> dict[str, str]:
    off = {a.name: "disabled in config" for a in registry if not cfg.platform.app(a.name).enabled}
    known = {a.name for a in registry}
    changed = True
    while changed:
        changed = False
        roles = set(layer_roles) | set(role_players(a for a in registry if a.name not in off))
        for a in registry:
            if a.name in off:
                continue
            # An app the program does not have yet counts as off: its consumers wait for it.
            missing = [d for d in a.depends_on if d in off or d not in known]
            missing += sorted({c.role for c in a.claims if not c.optional and c.role not in roles})
            if missing:
                off[a.name] = f"needs {', '.join(missing)}"
                changed = True
    return off


def ordering(on: Mapping[str, App]) -> dict[str, set[str]]:
    """app → the enabled apps it comes after (see the module docstring)."""
    players = role_players(on.values())
    after = {n: {d for d in (*a.depends_on, *a.optional) if d in on} for n, a in on.items()}
    for n, a in on.items():
        after[n] |= {players[c.role] for c in a.claims if c.role in players and players[c.role] != n}

    def follow(role: str, wants: Callable[[App], bool]) -> None:
        player = players.get(role)
        if player is None:
            return
        upstream, todo = set(), [player]
        while todo:
            for d in after[todo.pop()]:
                if d not in upstream:
                    upstream.add(d)
                    todo.append(d)
        for n, a in on.items():
            if n != player and n not in upstream and wants(a):
                after[n].add(player)

    meshed = {s.name for s in NAMESPACES if s.meshed}
    # The monitoring CRDs first (their app has no pods): the mesh ships PodMonitors before the monitoring
    # app itself, which starts after the mesh.
    follow("monitoring-crds", lambda a: a.monitoring)
    follow("mesh", lambda a: a.namespace in meshed)
    follow("monitoring", lambda a: a.monitoring)
    follow("backups", lambda a: any(b.method == "velero" for b in a.backups))
    return after


def _in_order(on: dict[str, App], after: dict[str, set[str]]) -> list[App]:
    order: list[App] = []
    placed: set[str] = set()
    while len(order) < len(on):
        ready = [a for a in on.values() if a.name not in placed and after[a.name] <= placed]
        if not ready:
            raise RuntimeError(f"dependency cycle among platform apps: {sorted(set(on) - placed)}")
        for a in ready:
            order.append(a)
            placed.add(a.name)
    return order


def enabled_apps(cfg: StackConfig, apps: tuple[App, ...], layer_roles: Iterable[str] = ()) -> tuple[list[App], dict[str, str]]:
    """Apps to deploy, in dependency order, and why the others are off (app → reason)."""
    known = {a.name: a for a in apps}
    if len(known) != len(apps):
        raise RuntimeError("two platform apps share a name")
    unknown = sorted(set(cfg.platform.apps) - set(known))
    if unknown:
        raise ConfigError(
            [f"{NAMESPACE}:platform.apps.{u} is not a known app; known apps: {', '.join(known)}" for u in unknown]
        )
    off = _off(apps, cfg, layer_roles)
    on = {a.name: a for a in apps if a.name not in off}
    return _in_order(on, ordering(on)), off


class Registry:
    """The enabled apps and their roles, namespaces, flow environment, CRD providers and claims."""

    def __init__(self, cfg: StackConfig, order: list[App], disabled: dict[str, str], layer_roles: Mapping[str, str]):
        self.cfg = cfg
        self.enabled: dict[str, App] = {a.name: a for a in order}
        self.disabled = disabled
        self.after = ordering(self.enabled)
        self.layer_roles = dict(layer_roles)  # role → the layer that plays it
        self.players = role_players(order)  # role → app
        self.contexts: dict[str, AppContext] = {}
        self.namespaces: dict[str, pulumi.Resource] = {}
        self.env: Optional[FlowEnvironment] = None  # once the platform resolved it (before any app is deployed)
        self.deployments: dict[str, AppDeployment] = {}
        self.oidc_clients: dict[str, Any] = {}  # client id → what the identity app registers (routes.RouteClient)
        self.parent: Optional[pulumi.Resource] = None  # the platform component
        self._crds: dict[str, pulumi.Resource] = {}
        # Velero Schedules of apps deployed before the backups player (whose CRDs they need): declared by the
        # platform once every app is (an app the monitoring stack orders first, e.g. Alertmanager's silences).
        self.deferred_backups: list[tuple[str, Any]] = []  # (declaring app, Backup)
        self._served: dict[str, list[pulumi.Resource]] = {}
        self._access: dict[str, AppAccess] = {}

    # apps and roles
    def is_enabled(self, app: str) -> bool:
        return app in self.enabled

    def has_role(self, role: str) -> bool:
        return role in self.players or role in self.layer_roles

    def app_for(self, role: str) -> Optional[App]:
        """The enabled app that plays `role` (None when none does, or when a layer plays it)."""
        name = self.players.get(role)
        return self.enabled[name] if name else None

    @property
    def oidc_issuer(self) -> str:
        return oidc_issuer(self.cfg)

    # namespaces and CRDs
    def namespace_deps(self, namespace: str) -> list[pulumi.Resource]:
        return [self.namespaces[namespace]] if namespace in self.namespaces else []

    def register_crds(self, group: str, provider: pulumi.Resource) -> None:
        self._crds[group] = provider

    def has_crds(self, group: str) -> bool:
        return group in self._crds

    def crd_provider(self, group: str, for_app: str) -> pulumi.Resource:
        if group not in self._crds:
            raise RuntimeError(
                f"platform app {for_app} uses {group} custom resources but no app deployed before it provides "
                "their CRDs: add the provider to its depends_on"
            )
        return self._crds[group]

    # claims
    def claims(self, kind: Type[C]) -> list[tuple[App, C]]:
        return [(a, c) for a in self.enabled.values() for c in a.claims if isinstance(c, kind)]

    def serve(self, consumer: App, claim: Claim, *resources: pulumi.Resource) -> None:
        if consumer.name in self.deployments:
            raise RuntimeError(f"{claim.role} served {consumer.name}'s claim after its releases were declared")
        self._served.setdefault(consumer.name, []).extend(resources)

    def served(self, app: str) -> list[pulumi.Resource]:
        return list(self._served.get(app, ()))

    # access (routes, authorizations): one component per app, under the platform
    def access(self, app: str) -> AppAccess:
        if app not in self._access:
            self._access[app] = AppAccess(app, opts=pulumi.ResourceOptions(parent=self.parent))
        return self._access[app]

    def close_access(self) -> None:
        for access in self._access.values():
            access.register_outputs({})


def select(cfg: StackConfig, apps: tuple[App, ...], layer_roles: Optional[Mapping[str, str]] = None) -> Registry:
    """The registry of a stack: enabled apps in order, their settings validated and their `validate` hooks run."""
    layer_roles = layer_roles or {}
    order, off = enabled_apps(cfg, apps, layer_roles)
    registry = Registry(cfg, order, off, layer_roles)
    for a in order:
        app_cfg = cfg.platform.app(a.name)
        ctx = AppContext(registry, cfg, a, app_cfg, _settings(a, app_cfg.settings))
        if a.validate:
            a.validate(ctx)
        registry.contexts[a.name] = ctx
    return registry
