"""The app framework: an app is a small module of data; the mechanics live here, once.

Shape of an app module (`components/platform/apps/<app>.py`), e.g.::

    CHART = Chart("keda", "https://kedacore.github.io/charts", "2.20.2")
    WEBHOOK_PODS = {"app.kubernetes.io/name": "keda-admission-webhooks"}

    class Settings(AppSettings):            # typed per-app config: coprs:platform.apps.keda.settings
        watch_namespace: str = ""

    def values(ctx: AppContext) -> dict:     # chart values built from typed config
        return {"affinity": ctx.affinity(), "resources": ctx.resources("operator", Resources("100m", "100Mi")).render(),
                "prometheus": {"enabled": ctx.service_monitors}}

    APP = App(
        name="keda", namespace="infra",
        releases=(ChartRelease(CHART, values, crds=("keda.sh",)),),   # installed in this order
        webhooks=(Webhook("webhooks", WEBHOOK_PODS, 9443),),      # API server → pods: flow + mesh authorization
        settings=Settings,
    )

plus one line in `apps/__init__.py` (`APPS`) and its test module `tests/components/platform/apps/test_keda.py`.

An app that needs something another app or layer serves claims it, e.g. Loki's bucket (the storage layer
creates the Secret `loki-s3-credentials` in Loki's namespace, the releases wait for it)::

    claims=(Bucket(suffix="loki", secret="loki-s3-credentials", format="aws-env"),)

Optional pieces: `roles` (what the app plays for the others: "gateway", "mesh", "monitoring", "identity",
"backups", ...), `secrets` (`GeneratedSecret`), `flows` (extra network flows, `flows.py`), `routes` (UIs
through the gateway), `depends_on` (hard: the app is off when one is off) and `optional` (order only),
`validate`/`before`/`objects`/`after_apps` hooks, `stateful` + `backups`, `endpoints`.

What the framework does with it:
- validates `coprs:platform.apps.<app>.settings` with the app's `Settings`, then calls `validate(ctx)`,
  before any resource of the stack is declared (one-line errors: `ctx.config_error(key, value, allowed)`);
- claims: an app whose claim no enabled app (or layer) plays the role of is off ("needs <role>"), unless
  the claim is `optional`; the consumer is ordered after the app serving it, whose hook calls
  `ctx.claims(Type)` and `ctx.serve(consumer, claim, *resources)`; the consumer's releases wait for them;
- one secret builder, `ctx.secret(name, keys, protect=..., from_config=...)`: pulumi-random values (or a
  secret config key) in a Kubernetes Secret before the releases; values refer to it by name, never by value;
  generated values go to the stack's `credentials` output;
- installs each `ChartRelease` as a `helm.v3.Release` (hooks run) with the shared defaults: explicit `name`,
  `atomic`, `cleanup_on_fail`, timeout, max history, `create_namespace=False` (the program owns namespaces),
  pinned version and https/oci repository; a release depends on the previous one of its app, on the apps the
  app comes after, on served claims, and on the providers of the CRDs it uses (CRD-first ordering);
- creates custom resources through `ctx.custom_resource(...)`, ordered after the release (or CRD bundle)
  that provides the CRD's API group;
- network flows: API-server egress for the namespace (unless `apiserver=False`), each `Webhook` (flow from
  the cluster hosts and, when meshed, the mesh's authorization), the app's own `flows`;
- monitoring on by default: `ctx.service_monitors` is true when an app plays "monitoring" (ordered before
  this one), unless `monitoring=False`; meshed apps start after the mesh so they are injected at birth;
- `ctx.storage_gb(default)` honours `platform.apps.<app>.storageGb` (an error when the app has no volume);
- node placement (`ctx.affinity()`), resources with per-app overrides (`settings.resources.<component>`);
- a stateful app's `backups` are declared for it (a Velero Schedule once an app plays "backups").
Disabling an app (`coprs:platform.apps.<app>.enabled: false`) removes it and every app that depends on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, NoReturn, Optional, Sequence, Type, TypeVar

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ..config import NAMESPACE as CONFIG_NS, AppConfig, ConfigError, StackConfig
from ..storage.backups import VELERO_GROUP, Backup, declare_backup
from .claims import Bucket, Claim
from .flows import HOSTS, Flow, Peer, Port, pods, tcp
from .placement import Resources, node_affinity

if TYPE_CHECKING:
    from .registry import Registry

__all__ = [
    "App", "AppContext", "AppDeployment", "AppSettings", "Backup", "Bucket", "Chart", "ChartRelease", "Claim",
    "CrdBundle", "GeneratedSecret", "MeshInbound", "UiRoute", "Webhook", "apiserver", "before_releases",
    "build_secret", "logical",
]

RELEASE_TIMEOUT = 900
MAX_HISTORY = 5
C = TypeVar("C", bound=Claim)


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
    protect: bool = False  # a value whose loss loses data (a repository password): never replaced


@dataclass(frozen=True)
class MeshInbound:
    """Meshed pods that unmeshed clients from the cluster hosts (NodePort traffic, the API server) must reach."""

    name: str
    pods: Mapping[str, str]
    port: int


@dataclass(frozen=True)
class Webhook(MeshInbound):
    """Pods the API server calls (admission webhook, aggregated API): the flow from the cluster hosts too."""

    why: str = "API server → webhook"


@dataclass(frozen=True)
class UiRoute:
    """A UI published at https://<host>.<domain> through the gateway."""

    host: str
    service: str
    port: int
    oidc_client: Optional[str]  # Keycloak client; None when the app does its own OAuth
    path: str = "/*"  # may name the realm: "/realms/{realm}/*"
    websocket: bool = False
    namespace: Optional[str] = None  # of the Service; default: the app's namespace
    extra_paths: tuple[str, ...] = ()  # more paths of the same route (same placeholders)
    plugins: tuple[Mapping[str, Any], ...] = ()  # more gateway plugins (e.g. proxy-rewrite headers)
    strip_prefix: bool = False  # drop the path prefix before the backend (apps that only know an external prefix)
    route_name: Optional[str] = None  # ApisixRoute name; default from host and path prefix
    probe_path: Optional[str] = None  # what the endpoint probe fetches; default: the prefix's root

    @property
    def prefix(self) -> str:
        """`/thanos/*` → `/thanos`; `/*` → ``."""
        return self.path.rstrip("*").rstrip("/")

    @property
    def name(self) -> str:
        """ApisixRoute name: unique per host and path prefix (several UIs share https://monitoring.<domain>)."""
        if self.route_name:
            return self.route_name
        return logical(self.host, self.prefix.strip("/")) if self.prefix else self.host

    @property
    def probe(self) -> str:
        return self.probe_path or f"{self.prefix}/"


class AppSettings(BaseModel):
    """Base of every app's typed settings (`coprs:platform.apps.<app>.settings`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)
    # Per container: {cpu, memory, cpuLimit, memoryLimit} over the app's defaults.
    resources: dict[str, dict[str, str]] = {}


Hook = Callable[["AppContext"], None]


@dataclass(frozen=True)
class App:
    name: str
    namespace: str
    releases: tuple[ChartRelease, ...] = ()
    crd_bundles: tuple[CrdBundle, ...] = ()
    secrets: tuple[GeneratedSecret, ...] = ()
    flows: tuple[Flow, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    mesh_inbound: tuple[MeshInbound, ...] = ()  # other unmeshed callers (NodePort traffic)
    routes: tuple[UiRoute, ...] = ()
    roles: tuple[str, ...] = ()  # what this app plays for the others
    claims: tuple[Claim, ...] = ()  # what other apps (or layers) serve this one
    depends_on: tuple[str, ...] = ()  # removed when one of these is disabled
    optional: tuple[str, ...] = ()  # deployed after these when they are enabled
    monitoring: bool = True  # ServiceMonitors once an app plays "monitoring"
    apiserver: bool = True  # its namespace may reach the Kubernetes API
    settings: type[AppSettings] = AppSettings
    validate: Optional[Hook] = None  # config checks, before any resource of the stack
    before: Optional[Hook] = None  # objects the releases need (Secrets, Certificates)
    objects: Optional[Hook] = None  # custom resources after the releases
    after_apps: Optional[Hook] = None  # what this app does for the others once all are declared (routes, authorizations)
    stateful: bool = False  # holds data: must declare its backups
    backups: tuple[Backup, ...] = ()
    # Days its backups are kept when its settings say so (e.g. settings.backupRetentionDays): the backup
    # records then carry what the app really configures, not the declaration's default.
    backup_retention: Optional[Callable[["AppContext"], Optional[int]]] = None
    endpoints: Mapping[str, str] = field(default_factory=dict)  # addresses other apps use, e.g. {"prometheus": url}
    description: str = ""

    @property
    def network_flows(self) -> tuple[Flow, ...]:
        """Every flow the app needs: API-server egress, its webhooks, its own flows."""
        api = (apiserver(self.namespace),) if self.apiserver else ()
        hooks = tuple(Flow(f"{self.name}-{w.name}", HOSTS, pods(self.namespace, w.pods), tcp(w.port), w.why)
                      for w in self.webhooks)
        return (*api, *hooks, *self.flows)

    @property
    def unmeshed_callers(self) -> tuple[MeshInbound, ...]:
        """Ports of meshed pods whose callers are not meshed: the webhooks and the declared ones."""
        return (*self.webhooks, *self.mesh_inbound)

    def backup_declarations(self) -> tuple[Backup, ...]:
        return tuple(replace(b, app=b.app or self.name, namespace=b.namespace or self.namespace) for b in self.backups)


def logical(*parts: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def build_secret(owner: str, name: str, keys: Sequence[str], namespace: str, opts: pulumi.ResourceOptions, *,
                 protect: bool = False, from_config: Optional[str] = None, length: int = 32,
                 aliases: Sequence[str] = (),
                 ) -> tuple[k8s.core.v1.Secret, dict[str, pulumi.Output[str]]]:
    """The one secret builder: a Kubernetes Secret `namespace/name` whose keys are pulumi-random passwords
    (children of `opts.parent`, protected if asked) or, with `from_config`, the value of that secret config
    key. Returns the Secret and its values (secret Outputs)."""
    if from_config is not None:
        if len(keys) != 1:
            raise ValueError(f"{owner}: a Secret from config key {from_config} has exactly one key")
        value = pulumi.Config(CONFIG_NS).get_secret(from_config)
        if value is None:
            raise ConfigError([f"{CONFIG_NS}:{from_config} is required by {owner} "
                               f"(pulumi config set --secret {CONFIG_NS}:{from_config} ...)"])
        data = {keys[0]: value}
    else:
        data = {
            key: random.RandomPassword(
                logical(owner, name) if len(keys) == 1 else logical(owner, name, key), length=length, special=False,
                opts=pulumi.ResourceOptions(parent=opts.parent, protect=protect),
            ).result
            for key in keys
        }
    secret = k8s.core.v1.Secret(
        logical(owner, "secret", namespace, name),
        metadata={"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "coprs"}},
        type="Opaque",
        string_data=data,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=a) for a in aliases])),
    )
    return secret, data


@dataclass
class AppContext:
    """What an app's builders see: typed config, the platform's registry, placement, secrets, claims."""

    registry: "Registry"
    cfg: StackConfig
    app: App
    app_cfg: AppConfig
    settings: Any
    component: Optional[pulumi.ComponentResource] = None  # set once the app is deployed (not in `validate`)
    secrets: dict[str, k8s.core.v1.Secret] = field(default_factory=dict)
    # The generated values behind `secrets` (secret Outputs), for the stack's credentials output.
    secret_values: dict[str, dict[str, pulumi.Output[str]]] = field(default_factory=dict)
    releases: dict[str, k8s.helm.v3.Release] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)  # what one hook of the app hands to the next
    prerequisites: list[pulumi.Resource] = field(default_factory=list)  # what the releases wait for
    sized_volumes: bool = False  # `storage_gb` was asked

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
        return self.registry.is_enabled(app)

    @property
    def service_monitors(self) -> bool:
        """ServiceMonitor/PodMonitor switches: on once an app plays "monitoring" (and brings the CRDs)."""
        return self.app.monitoring and self.registry.has_role("monitoring")

    def replicas(self, prod: int, dev: int = 1) -> int:
        if self.app_cfg.replicas is not None:
            return self.app_cfg.replicas
        return prod if self.prod else dev

    def storage_gb(self, default: int) -> int:
        """Size of the app's volume in GiB: `platform.apps.<app>.storageGb`, else `default`."""
        self.sized_volumes = True
        return self.app_cfg.storage_gb if self.app_cfg.storage_gb is not None else default

    def config_error(self, key: str, value: Any, allowed: str) -> NoReturn:
        """Stop with one line naming `coprs:platform.apps.<app>.settings.<key>`, its value and what is allowed."""
        raise ConfigError([f"{CONFIG_NS}:platform.apps.{self.app.name}.settings.{key} = {value!r}: {allowed}"])

    def affinity(self, label: Optional[str] = None) -> dict:
        return node_affinity(label or self.cfg.platform.infra_node_label)

    def node_selector(self) -> dict:
        """For charts that only take a nodeSelector: node-role labels carry an empty value."""
        return {self.cfg.platform.infra_node_label: ""}

    def resources(self, component: str, default: Resources) -> Resources:
        return default.override(self.settings.resources.get(component))

    def secret(self, name: str, keys: Sequence[str], *, protect: bool = False, from_config: Optional[str] = None,
               namespace: Optional[str] = None, length: int = 32, aliases: Sequence[str] = ()) -> k8s.core.v1.Secret:
        """A Secret of this app (see `build_secret`); releases declared after it wait for it."""
        ns = namespace or self.namespace
        secret, values = build_secret(self.app.name, name, keys, ns, self.opts(namespace=ns), protect=protect,
                                      from_config=from_config, length=length, aliases=aliases)
        self.secrets[name] = secret
        if from_config is None:
            self.secret_values[name] = values
        return secret

    def password(self, *parts: str, length: int = 32) -> pulumi.Output[str]:
        """A generated password (pulumi-random, letters and digits) for a Secret with other, derived keys."""
        return random.RandomPassword(logical(self.app.name, *parts), length=length, special=False,
                                     opts=pulumi.ResourceOptions(parent=self.component)).result

    def secret_object(self, name: str, data: Mapping[str, Any], *, namespace: Optional[str] = None,
                      labels: Optional[Mapping[str, str]] = None) -> k8s.core.v1.Secret:
        """A Secret of this app whose values are built (generated Outputs, hashes, non-secret settings)."""
        ns = namespace or self.namespace
        return k8s.core.v1.Secret(
            logical(self.app.name, "secret", ns, name),
            metadata={"name": name, "namespace": ns, "labels": {"app.kubernetes.io/part-of": "coprs", **(labels or {})}},
            type="Opaque",
            string_data=dict(data),
            opts=self.opts(namespace=ns),
        )

    def claims(self, kind: Type[C]) -> list[tuple[App, C]]:
        """Every claim of type `kind` made by an enabled app, with the app (the server's side)."""
        return self.registry.claims(kind)

    def serve(self, consumer: App, claim: Claim, *resources: pulumi.Resource) -> None:
        """What this app created for `consumer`'s claim: the consumer's releases wait for it."""
        self.registry.serve(consumer, claim, *resources)

    def opts(self, *, namespace: Optional[str] = None, depends_on: tuple = (), crd_group: Optional[str] = None,
             **kw: Any) -> pulumi.ResourceOptions:
        """Options for an object of this app: parent, its namespace baseline, what was served for its claims (an
        operator's CR names those Secrets as a release's values do), CRD provider."""
        ns = namespace if namespace is not None else self.namespace
        deps = [*depends_on, *self.registry.namespace_deps(ns), *self.registry.served(self.app.name)]
        if crd_group:
            deps.append(self.registry.crd_provider(crd_group, self.app.name))
        return pulumi.ResourceOptions(parent=self.component, depends_on=deps, **kw)

    def monitor(self, name: str, pods: Mapping[str, str], *endpoints: Mapping[str, Any], service: bool = False,
                depends_on: tuple = ()) -> Optional[k8s.apiextensions.CustomResource]:
        """A PodMonitor of this app's pods (a ServiceMonitor with `service`: `pods` then selects its Service) with
        these scrape endpoints, once an app plays "monitoring"; nothing before (no CRD, nobody to scrape)."""
        if not self.service_monitors:
            return None
        kind, key = ("ServiceMonitor", "endpoints") if service else ("PodMonitor", "podMetricsEndpoints")
        return self.custom_resource(name, "monitoring.coreos.com/v1", kind,
                                    {"selector": {"matchLabels": dict(pods)}, key: [dict(e) for e in endpoints]},
                                    depends_on=depends_on)

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


class AppDeployment(pulumi.ComponentResource):
    """One platform app: its secrets, CRD bundles, releases in order, custom resources and backups."""

    def __init__(self, ctx: AppContext, depends_on: list[pulumi.Resource], opts: pulumi.ResourceOptions | None = None):
        app, registry = ctx.app, ctx.registry
        # A stateful app says so on its component: the stack-level backup check reads it (storage.backups).
        super().__init__("coprs:platform:App", app.name, {"stateful": True} if app.stateful else None, opts)
        ctx.component = self
        registry.deployments[app.name] = self
        self.ctx = ctx
        upstream = list(depends_on)
        for s in app.secrets:
            ctx.secret(s.name, s.keys, protect=s.protect, namespace=s.namespace, length=s.length)
        self.crd_bundles: dict[str, k8s.yaml.v2.ConfigFile] = {}
        for b in app.crd_bundles:
            bundle = k8s.yaml.v2.ConfigFile(
                logical(app.name, b.name), file=b.url, opts=pulumi.ResourceOptions(parent=self, depends_on=upstream)
            )
            self.crd_bundles[b.name] = bundle
            for group in b.crds:
                registry.register_crds(group, bundle)
        if app.before:
            app.before(ctx)
        previous: list[pulumi.Resource] = list(self.crd_bundles.values())
        for r in app.releases:
            ns = r.namespace or app.namespace
            deps = [*upstream, *previous, *ctx.secrets.values(), *ctx.prerequisites, *registry.served(app.name),
                    *registry.namespace_deps(ns), *(registry.crd_provider(g, app.name) for g in r.uses_crds)]
            # OCI registries are addressed by chart reference (Helm has no `--repo` for them).
            oci = r.chart.repository.startswith("oci://")
            release = k8s.helm.v3.Release(
                r.release_name,
                name=r.release_name,
                chart=f"{r.chart.repository.rstrip('/')}/{r.chart.name}" if oci else r.chart.name,
                version=r.chart.version,
                repository_opts=None if oci else k8s.helm.v3.RepositoryOptsArgs(repo=r.chart.repository),
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
                registry.register_crds(group, release)
            previous = [release]
        if app.objects:
            app.objects(ctx)
        days = app.backup_retention(ctx) if app.backup_retention else None
        for b in app.backup_declarations():
            if days:
                b = replace(b, retention_days=days)
            if b.method != "velero":
                declare_backup(ctx, b)
            elif registry.has_role("backups"):
                if registry.has_crds(VELERO_GROUP):
                    declare_backup(ctx, b)
                else:  # the backups player comes after this app: its Schedule once every app is declared
                    registry.deferred_backups.append((app.name, b))
        if ctx.app_cfg.storage_gb is not None and not ctx.sized_volumes:
            raise ConfigError([f"{CONFIG_NS}:platform.apps.{app.name}.storageGb = {ctx.app_cfg.storage_gb}: "
                               f"{app.name} has no volume to size"])
        self.releases = ctx.releases
        self.register_outputs({"releases": {n: r.status for n, r in ctx.releases.items()}})


def before_releases(ctx: AppContext, *resources: pulumi.Resource) -> None:
    """Make the app's releases wait for objects declared in its `before` hook."""
    ctx.prerequisites.extend(resources)


def apiserver(namespace: str) -> Flow:
    """Egress to the Kubernetes API (operators, controllers, webhooks' informers) of a whole namespace."""
    return Flow("apiserver", Peer(namespace=namespace), HOSTS, (Port(6443),), "the Kubernetes API (post-DNAT)")
