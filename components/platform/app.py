"""The app framework: an app is a small module of data; the mechanics live here, once.

Shape of an app module (`components/platform/apps/<app>.py`), e.g.::

    CHART = Chart("keda", "https://kedacore.github.io/charts", "2.20.2")

    class Settings(AppSettings):            # typed per-app config: coprs:platform.apps.keda.settings
        watch_namespace: str = ""

    def values(ctx: AppContext) -> dict:     # chart values built from typed config
        return {"affinity": ctx.affinity(), "resources": ctx.resources("operator", Resources("100m", "100Mi")).render()}

    APP = App(
        name="keda", namespace="infra",
        releases=(ChartRelease(CHART, values, crds=("keda.sh",)),),   # installed in this order
        flows=(apiserver("infra"),),                                # extra network flows (flows.py)
        mesh_inbound=(MeshInbound("webhooks", {...}, 9443),),      # unmeshed callers of meshed pods
        depends_on=("cert-manager",),                               # hard: removed when that app is disabled
        settings=Settings,
    )

and one line in `apps/__init__.py` (`APPS`). What the framework does with it:
- validates `coprs:platform.apps.<app>.settings` with the app's `Settings` (one-line errors naming the key);
- generates every `GeneratedSecret` with pulumi-random and creates it as a Kubernetes Secret before the
  releases; values refer to it by name (`existingSecret`-style), never by value;
- installs each `ChartRelease` as a `helm.v3.Release` (hooks run) with the shared defaults: explicit
  `name`, `atomic`, `cleanup_on_fail`, timeout, max history, `create_namespace=False` (the program owns
  namespaces), pinned version and https/oci repository; a release depends on the previous one of its
  app, on the apps the app depends on, and on the providers of the CRDs it uses (CRD-first ordering);
- creates custom resources through `ctx.custom_resource(...)`, which depends on the release (or CRD
  bundle) that provides the CRD's API group;
- adds the app's flows to the namespace baselines, its UI routes to APISIX (TLS, OIDC) and Linkerd
  authorizations for its unmeshed callers (`Platform`);
- node placement (`ctx.affinity()`: required affinity on the infra node label), resources with per-app
  overrides (`settings.resources.<component>`), ServiceMonitor switches (`ctx.service_monitors`).
Disabling an app (`coprs:platform.apps.<app>.enabled: false`) removes it and every app that depends on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ..config import AppConfig, StackConfig
from .flows import HOSTS, Flow, Peer, Port
from .placement import Resources, node_affinity

if TYPE_CHECKING:
    from .platform import Platform

# The app whose release provides the Prometheus Operator CRDs (ServiceMonitor, PodMonitor).
MONITORING_APP = "kube-prometheus-stack"
MONITORING_CRDS = "monitoring.coreos.com"
RELEASE_TIMEOUT = 900
MAX_HISTORY = 5


@dataclass(frozen=True)
class Chart:
    name: str
    repository: str  # https:// repository or oci:// registry
    version: str  # exact chart version, as published


@dataclass(frozen=True)
class ChartRelease:
    chart: Chart
    values: Callable[["AppContext"], dict]
    name: Optional[str] = None  # Helm release name; default: the chart name
    namespace: Optional[str] = None  # default: the app's namespace
    crds: tuple[str, ...] = ()  # API groups whose CRDs this release installs
    uses_crds: tuple[str, ...] = ()  # API groups of custom resources the chart renders
    skip_crds: bool = False  # for charts shipping crds/ that a CrdBundle manages instead
    timeout: int = RELEASE_TIMEOUT

    @property
    def release_name(self) -> str:
        return self.name or self.chart.name


@dataclass(frozen=True)
class CrdBundle:
    """CRDs applied from a pinned upstream manifest (charts whose crds/ Helm would never upgrade)."""

    name: str
    url: str
    crds: tuple[str, ...]


@dataclass(frozen=True)
class GeneratedSecret:
    name: str
    keys: tuple[str, ...]  # each key gets its own random value
    length: int = 32
    namespace: Optional[str] = None


@dataclass(frozen=True)
class MeshInbound:
    """Meshed pods that unmeshed clients (API server webhooks, NodePort traffic) must reach."""

    name: str
    pods: Mapping[str, str]
    port: int
    clients: str = "cluster-hosts"


@dataclass(frozen=True)
class UiRoute:
    """A UI published at https://<host>.<domain> through APISIX."""

    host: str
    service: str
    port: int
    oidc_client: Optional[str]  # Keycloak client; None when the app does its own OAuth
    path: str = "/*"
    websocket: bool = False
    namespace: Optional[str] = None  # of the Service; default: the app's namespace


class AppSettings(BaseModel):
    """Base of every app's typed settings (`coprs:platform.apps.<app>.settings`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)
    # Per container: {cpu, memory, cpuLimit, memoryLimit} over the app's defaults.
    resources: dict[str, dict[str, str]] = {}


@dataclass(frozen=True)
class App:
    name: str
    namespace: str
    releases: tuple[ChartRelease, ...] = ()
    crd_bundles: tuple[CrdBundle, ...] = ()
    secrets: tuple[GeneratedSecret, ...] = ()
    flows: tuple[Flow, ...] = ()
    mesh_inbound: tuple[MeshInbound, ...] = ()
    routes: tuple[UiRoute, ...] = ()
    depends_on: tuple[str, ...] = ()  # removed when one of these is disabled
    optional: tuple[str, ...] = ()  # deployed after these when they are enabled
    claims: tuple = ()  # needs served by another app (`..claims`: Database, KafkaAccess, MongoUser, ElasticsearchUser)
    settings: type[AppSettings] = AppSettings
    before: Optional[Callable[["AppContext"], None]] = None  # objects the releases need (Secrets, Certificates)
    objects: Optional[Callable[["AppContext"], None]] = None  # custom resources after the releases
    description: str = ""


def logical(*parts: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


@dataclass
class AppContext:
    """What an app's builders see: typed config, placement, secrets, and helpers to declare objects."""

    platform: "Platform"
    cfg: StackConfig
    app: App
    app_cfg: AppConfig
    settings: Any
    component: pulumi.ComponentResource
    secrets: dict[str, k8s.core.v1.Secret] = field(default_factory=dict)
    # The generated values behind `secrets` (secret Outputs), for the stack's credentials output.
    secret_values: dict[str, dict[str, pulumi.Output[str]]] = field(default_factory=dict)
    releases: dict[str, k8s.helm.v3.Release] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)  # what one hook of the app hands to the next
    prerequisites: list[pulumi.Resource] = field(default_factory=list)  # what the releases wait for

    @property
    def namespace(self) -> str:
        return self.app.namespace

    @property
    def prod(self) -> bool:
        return self.cfg.environment == "prod"

    @property
    def domain(self) -> str:
        return self.cfg.domain

    def hostname(self, sub: str) -> str:
        return f"{sub}.{self.cfg.domain}"

    def enabled(self, app: str) -> bool:
        return self.platform.is_enabled(app)

    @property
    def service_monitors(self) -> bool:
        """ServiceMonitor/PodMonitor switches: on once the monitoring stack (and its CRDs) is deployed."""
        return MONITORING_APP in self.app.optional and self.enabled(MONITORING_APP)

    def replicas(self, prod: int, dev: int = 1) -> int:
        if self.app_cfg.replicas is not None:
            return self.app_cfg.replicas
        return prod if self.prod else dev

    def affinity(self, label: Optional[str] = None) -> dict:
        return node_affinity(label or self.cfg.platform.infra_node_label)

    def node_selector(self) -> dict:
        """For charts that only take a nodeSelector: node-role labels carry an empty value."""
        return {self.cfg.platform.infra_node_label: ""}

    def resources(self, component: str, default: Resources) -> Resources:
        return default.override(self.settings.resources.get(component))

    def opts(self, *, namespace: Optional[str] = None, depends_on: tuple = (), crd_group: Optional[str] = None,
             **kw: Any) -> pulumi.ResourceOptions:
        """Options for an object of this app: parent, its namespace baseline, CRD provider."""
        deps = list(depends_on)
        ns = namespace if namespace is not None else self.namespace
        if ns in self.platform.namespaces:
            deps.append(self.platform.namespaces[ns])
        if crd_group:
            deps.append(self.platform.crd_provider(crd_group, self.app.name))
        return pulumi.ResourceOptions(parent=self.component, depends_on=deps, **kw)

    def custom_resource(self, name: str, api_version: str, kind: str, spec: Any, *, namespace: Optional[str] = None,
                        cluster_scoped: bool = False, labels: Optional[dict] = None,
                        depends_on: tuple = ()) -> k8s.apiextensions.CustomResource:
        """A custom resource, ordered after the release that installs its CRD."""
        meta: dict[str, Any] = {"name": name}
        ns = None if cluster_scoped else (namespace or self.namespace)
        if ns:
            meta["namespace"] = ns
        if labels:
            meta["labels"] = labels
        group = api_version.split("/")[0]
        return k8s.apiextensions.CustomResource(
            logical(self.app.name, kind, ns or "", name),
            api_version=api_version,
            kind=kind,
            metadata=meta,
            spec=spec,
            opts=self.opts(namespace=ns or "", depends_on=depends_on, crd_group=group),
        )


def _secret(ctx: AppContext, s: GeneratedSecret) -> k8s.core.v1.Secret:
    ns = s.namespace or ctx.namespace
    data = {}
    for key in s.keys:
        pw = random.RandomPassword(logical(ctx.app.name, s.name, key), length=s.length, special=False,
                                   opts=pulumi.ResourceOptions(parent=ctx.component))
        data[key] = pw.result
    ctx.secret_values[s.name] = data
    return k8s.core.v1.Secret(
        logical(ctx.app.name, "secret", ns, s.name),
        metadata={"name": s.name, "namespace": ns, "labels": {"app.kubernetes.io/part-of": "coprs"}},
        type="Opaque",
        string_data=data,
        opts=ctx.opts(namespace=ns),
    )


class AppDeployment(pulumi.ComponentResource):
    """One platform app: its secrets, CRD bundles, releases in order, and custom resources."""

    def __init__(self, platform: "Platform", app: App, settings: Any, depends_on: list[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("coprs:platform:App", app.name, None, opts)
        cfg = platform.cfg
        ctx = AppContext(platform, cfg, app, cfg.platform.app(app.name), settings, self)
        self.ctx = ctx
        upstream = list(depends_on)
        for s in app.secrets:
            ctx.secrets[s.name] = _secret(ctx, s)
        self.crd_bundles: dict[str, k8s.yaml.v2.ConfigFile] = {}
        for b in app.crd_bundles:
            bundle = k8s.yaml.v2.ConfigFile(
                logical(app.name, b.name), file=b.url, opts=pulumi.ResourceOptions(parent=self, depends_on=upstream)
            )
            self.crd_bundles[b.name] = bundle
            for group in b.crds:
                platform.register_crds(group, bundle)
        if app.before:
            app.before(ctx)
        previous: list[pulumi.Resource] = list(self.crd_bundles.values())
        for r in app.releases:
            deps = [*upstream, *previous, *ctx.secrets.values(), *ctx.prerequisites]
            ns = r.namespace or app.namespace
            if ns in platform.namespaces:
                deps.append(platform.namespaces[ns])
            for group in r.uses_crds:
                deps.append(platform.crd_provider(group, app.name))
            if ctx.service_monitors:
                deps.append(platform.crd_provider(MONITORING_CRDS, app.name))
            release = k8s.helm.v3.Release(
                r.release_name,
                name=r.release_name,
                chart=r.chart.name,
                version=r.chart.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=r.chart.repository),
                namespace=ns,
                create_namespace=False,
                atomic=True,
                cleanup_on_fail=True,
                timeout=r.timeout,
                max_history=MAX_HISTORY,
                skip_crds=r.skip_crds,
                values=r.values(ctx),
                opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
            )
            ctx.releases[r.release_name] = release
            for group in r.crds:
                platform.register_crds(group, release)
            previous = [release]
        if app.objects:
            app.objects(ctx)
        self.releases = ctx.releases
        self.register_outputs({"releases": {n: r.status for n, r in ctx.releases.items()}})


def before_releases(ctx: AppContext, *resources: pulumi.Resource) -> None:
    """Make the app's releases wait for objects declared in its `before` hook."""
    ctx.prerequisites.extend(resources)


def apiserver(namespace: str) -> Flow:
    """Egress to the Kubernetes API (operators, controllers, webhooks' informers) of a whole namespace."""
    return Flow("apiserver", Peer(namespace=namespace), HOSTS, (Port(6443),), "the Kubernetes API (post-DNAT)")
