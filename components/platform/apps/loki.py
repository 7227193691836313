"""Loki (logging): log storage for Fluent Bit, read by Grafana (grafana-community chart 18.11.0, Loki 3.7.6).

- Distributed mode: distributor, ingester (StatefulSet on ceph-block, WAL), querier, query-frontend,
  query-scheduler, index gateway, compactor; 3 replicas each in prod (replication factor 3), 1 in dev;
- object storage: the platform's Loki bucket (created by the storage layer), keys from its Secret
  `loki-s3-credentials` read as environment (the chart runs `-config.expand-env=true`), TSDB index, schema v13;
- retention by the compactor: `settings.retentionDays` (the 2023 default: 60 days); the bucket never
  expires current objects on its own;
- multi-tenant (`auth_enabled`): writers and readers send the tenant `X-Scope-OrgID: coprs`; the
  writers are authenticated by the mesh: a Linkerd Server + AuthorizationPolicy lets only the Fluent Bit
  and Prometheus service-account identities (MeshTLSAuthentication) reach the distributors' HTTP port. The chart's own alternative, basic
  auth on its nginx gateway, would put a clear-text password into the values: gateway off;
- memcached caches (chunks, results) in prod; the canary and the Helm test off (they push unauthenticated).
"""

from __future__ import annotations

from urllib.parse import urlparse

from pydantic import Field

from ...config import NAMESPACE as CONFIG_NS, ConfigError
from ..app import App, AppContext, AppSettings, Bucket, Chart, ChartRelease
from ..flows import WORLD, Flow, Port, pods
from ..placement import Resources

CHART = Chart("loki", "https://grafana-community.github.io/helm-charts", "18.11.0")
NAMESPACE = "logging"
RELEASE = "loki"
TENANT = "coprs"
HTTP_PORT = 3100
PUSH_SERVICE = f"{RELEASE}-distributor"
QUERY_URL = f"http://{RELEASE}-query-frontend.{NAMESPACE}.svc.cluster.local:{HTTP_PORT}"
S3_SECRET = "loki-s3-credentials"  # storage layer Consumer (components/storage/storage.py)
LOKI_PODS = {"app.kubernetes.io/name": "loki"}
COMPONENTS = ("distributor", "ingester", "querier", "queryFrontend", "queryScheduler", "indexGateway", "compactor")


POLICY = "policy.linkerd.io"
# Who may call the distributor's HTTP port (push API and /metrics) inside the mesh: the log shippers and
# Prometheus, by their Linkerd identity (service accounts).
WRITERS = (("fluent-bit", NAMESPACE), ("kube-prometheus-stack-prometheus", "monitoring"))
DISTRIBUTOR_PODS = {**LOKI_PODS, "app.kubernetes.io/component": "distributor"}


class Settings(AppSettings):
    retention_days: int = Field(default=60, ge=1, le=3650)


def storage(ctx: AppContext) -> dict:
    store = ctx.cfg.object_storage
    if store is None:
        raise ConfigError([f"{CONFIG_NS}:objectStorage is required while platform.apps.loki is enabled "
                           "(Loki keeps chunks and index on its bucket)"])
    bucket = store.bucket("loki")
    url = urlparse(store.endpoint)
    s3: dict = {
        "endpoint": url.netloc,
        "region": store.region,
        "s3ForcePathStyle": store.addressing_style == "path",
        "insecure": url.scheme == "http",
        # Expanded from the environment (the storage layer's Secret), never written into values.
        "accessKeyId": "${AWS_ACCESS_KEY_ID}",
        "secretAccessKey": "${AWS_SECRET_ACCESS_KEY}",
    }
    if not store.verify_tls:
        s3["http_config"] = {"insecure_skip_verify": True}
    return {"type": "s3", "bucketNames": {"chunks": bucket, "ruler": bucket, "admin": bucket}, "s3": s3}


def _component(ctx: AppContext, name: str, replicas: int, res: Resources, volume_gb: int = 0) -> dict:
    out: dict = {"replicas": replicas, "affinity": ctx.affinity(),
                 "resources": ctx.resources(name, res).render()}
    if volume_gb:
        out["persistence"] = {"enabled": True, "claims": [
            {"name": "data", "accessModes": ["ReadWriteOnce"], "size": f"{volume_gb}Gi", "storageClass": "ceph-block"}]}
    return out


def values(ctx: AppContext) -> dict:
    s: Settings = ctx.settings
    n = ctx.replicas(3, 1)
    monitors = ctx.service_monitors
    caches = {"enabled": ctx.prod, "allocatedMemory": 2048, "affinity": ctx.affinity()}
    return {
        "deploymentMode": "Distributed",
        "loki": {
            "auth_enabled": True,
            "commonConfig": {"replication_factor": n},
            "schemaConfig": {"configs": [{"from": "2026-01-01", "store": "tsdb", "object_store": "s3", "schema": "v13",
                                          "index": {"prefix": "loki_index_", "period": "24h"}}]},
            "storage": storage(ctx),
            "limits_config": {"retention_period": f"{s.retention_days * 24}h", "reject_old_samples": True,
                              "reject_old_samples_max_age": "168h", "max_cache_freshness_per_query": "10m"},
            "compactor": {"retention_enabled": True, "delete_request_store": "s3", "compaction_interval": "10m",
                          "retention_delete_delay": "2h", "retention_delete_worker_count": 150},
            "ingester": {"chunk_encoding": "snappy"},
        },
        # The chart runs every component with -config.expand-env=true: the keys come from this environment.
        "defaults": {"extraEnvFrom": [{"secretRef": {"name": S3_SECRET}}]},
        "distributor": _component(ctx, "distributor", n, Resources("100m", "128Mi", memory_limit="512Mi")),
        "ingester": {**_component(ctx, "ingester", n, Resources("100m", "512Mi", memory_limit="2Gi"),
                                  ctx.storage_gb(250 if ctx.prod else 10)),
                     "zoneAwareReplication": {"enabled": False}},
        "querier": _component(ctx, "querier", n, Resources("50m", "128Mi", memory_limit="2Gi")),
        "queryFrontend": _component(ctx, "queryFrontend", ctx.replicas(2, 1), Resources("40m", "64Mi", memory_limit="256Mi")),
        "queryScheduler": _component(ctx, "queryScheduler", ctx.replicas(2, 1), Resources("20m", "64Mi", memory_limit="256Mi")),
        "indexGateway": _component(ctx, "indexGateway", ctx.replicas(2, 1), Resources("50m", "128Mi", memory_limit="1Gi"), 10),
        "compactor": _component(ctx, "compactor", 1, Resources("20m", "64Mi", memory_limit="1Gi"), 10),
        "ruler": {"enabled": False},  # alerts come from Prometheus and the Thanos ruler
        "singleBinary": {"replicas": 0},
        "write": {"replicas": 0},
        "read": {"replicas": 0},
        "backend": {"replicas": 0},
        "gateway": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "chunksCache": caches,
        "resultsCache": {**caches, "allocatedMemory": 512},
        "monitoring": {
            "serviceMonitor": {"enabled": monitors},
            "rules": {"enabled": monitors},
            # The chart's dashboards as GrafanaDashboards for the grafana-operator instance.
            "dashboards": {"enabled": ctx.enabled("grafana"),
                           "grafanaOperator": {"enabled": ctx.enabled("grafana"), "folder": "Loki",
                                               "instanceSelector": {"matchLabels": {"dashboards": "grafana"}}}},
        },
    }


def writers_only(ctx: AppContext) -> None:
    """Linkerd authorization of the push API: only the writers' mesh identities reach the distributors."""
    if not ctx.enabled("linkerd"):
        return
    release = ctx.releases[RELEASE]
    server = ctx.custom_resource("loki-distributor-http", f"{POLICY}/v1beta3", "Server",
                                 {"podSelector": {"matchLabels": DISTRIBUTOR_PODS}, "port": HTTP_PORT},
                                 depends_on=(release,))
    auth = ctx.custom_resource("loki-writers", f"{POLICY}/v1alpha1", "MeshTLSAuthentication",
                               {"identityRefs": [{"kind": "ServiceAccount", "name": n, "namespace": ns} for n, ns in WRITERS]})
    ctx.custom_resource("loki-distributor-http", f"{POLICY}/v1alpha1", "AuthorizationPolicy", {
        "targetRef": {"group": POLICY, "kind": "Server", "name": "loki-distributor-http"},
        "requiredAuthenticationRefs": [{"group": POLICY, "kind": "MeshTLSAuthentication", "name": "loki-writers"}],
    }, depends_on=(server, auth))


APP = App(
    name="loki",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values, timeout=1200),),
    flows=(
        Flow("loki-object-store", pods(NAMESPACE, LOKI_PODS), WORLD, (Port(443),), "Loki → the S3 endpoint"),
    ),
    roles=("logs",),
    claims=(Bucket(suffix="loki", secret=S3_SECRET, format="aws-env"),),
    optional=("grafana",),
    objects=writers_only,
    settings=Settings,
    description="log storage (distributed, S3)",
)
