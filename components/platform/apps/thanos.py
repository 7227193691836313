"""Thanos (monitoring): long-term, deduplicated metrics on the Thanos bucket (stevehipwell chart 1.24.1, Thanos 0.42.4).

- query: the Prometheus sidecars (DNS SRV of kube-prometheus-stack's discovery Service), the store
  gateway and the ruler; deduplication over `prometheus_replica` (the two Prometheus replicas), auto
  downsampling; Grafana's default datasource; UI at https://monitoring.<domain>/thanos/ behind OIDC;
- store gateway and compactor on the storage layer's `thanos-objstore` Secret (never a bucket of their
  own); the compactor applies the seed's retention: raw 1 month, 5-minute downsampling 4 months, 1-hour
  downsampling kept long (10 years by default), each configurable; the bucket never expires current
  objects (components/storage: the compactor owns retention);
- ruler: the platform's global-view alerts evaluated through Thanos Query, sent to every Alertmanager
  replica; UI at https://monitoring.<domain>/ruler/ behind OIDC.
"""

from __future__ import annotations

import hashlib
import re

import yaml
from pydantic import Field

from ...config import NAMESPACE as CONFIG_NS, ConfigError
from ...config_types import pattern
from ..alerting import Alert, rule_group
from ..app import App, AppContext, AppSettings, Chart, ChartRelease, UiRoute
from ..flows import WORLD, Flow, Port, pods
from ..placement import Resources
from .kube_prometheus_stack import MONITORING_APP, NAMESPACE, REPLICA_LABEL, THANOS_DISCOVERY, THANOS_OBJSTORE

CHART = Chart("thanos", "https://stevehipwell.github.io/helm-charts", "1.24.1")
RELEASE = "thanos"
QUERY_SERVICE = f"{RELEASE}-query"
RULE_SERVICE = f"{RELEASE}-rule"
HTTP_PORT = 10902
QUERY_URL = f"http://{QUERY_SERVICE}.{NAMESPACE}.svc.cluster.local:{HTTP_PORT}"
DAYS = {"d": 1, "w": 7, "y": 365}
Retention = pattern("a retention in days, weeks or years like 30d, 4w or 10y (0d: forever)", r"[0-9]{1,5}[dwy]", 8)

# Alerts that need the global view (both Prometheus replicas, the bucket), evaluated by the ruler.
RULER_ALERTS = (
    Alert("PrometheusAllReplicasDown", 'absent(up{job="kube-prometheus-stack-prometheus"} == 1)',
          "No Prometheus replica answers: no metric is collected",
          "Check the prometheus-kube-prometheus-stack-prometheus-* pods in monitoring and their nodes (kubectl -n monitoring describe pod).",
          "critical", "5m"),
    Alert("ThanosCompactHalted", "max(thanos_compact_halted) == 1",
          "The Thanos compactor halted: retention and downsampling stopped",
          "Read the thanos-compact logs; fix the overlapping or corrupt block it names (thanos tools bucket verify), then restart it.",
          "critical", "5m"),
    Alert("ThanosSidecarUploadsFailing",
          'sum by (pod) (rate(thanos_objstore_bucket_operation_failures_total{job=~".*prometheus.*"}[15m])) > 0',
          "A Thanos sidecar fails to upload blocks: metrics older than 2 days will be lost",
          "Check the object-store endpoint and the thanos-objstore Secret (keys, bucket); see the sidecar container logs.",
          "critical", "30m"),
    Alert("ThanosStoreGatewayBucketErrors",
          'sum(rate(thanos_objstore_bucket_operation_failures_total{job=~".*store.*"}[15m])) > 0',
          "The store gateway cannot read the Thanos bucket: long-term queries are incomplete",
          "Check the object-store endpoint and credentials; restart thanos-store-gateway once the bucket answers."),
)


class Settings(AppSettings):
    # The seed: raw 1 month, 5-minute resolution 4 months, 1-hour resolution after that.
    retention_raw: Retention = "30d"
    retention_5m: Retention = Field(default="120d", alias="retention5m")
    retention_1h: Retention = Field(default="10y", alias="retention1h")  # 0d: forever


def days(value: str) -> float:
    """Length of a retention in days; Thanos reads 0 as "keep forever"."""
    n, unit = re.fullmatch(r"([0-9]+)([dwy])", value).groups()
    return int(n) * DAYS[unit] or float("inf")


def _check_retention(ctx: AppContext) -> None:
    s: Settings = ctx.settings
    order = (("retentionRaw", s.retention_raw), ("retention5m", s.retention_5m), ("retention1h", s.retention_1h))
    for (key_a, a), (key_b, b) in zip(order, order[1:]):
        if days(b) < days(a):
            raise ConfigError([f"{CONFIG_NS}:platform.apps.thanos.settings.{key_b} = {b!r}: shorter than {key_a} ({a}); "
                               "a downsampled resolution must be kept at least as long as the finer one"])


def compactor_args(s: Settings) -> list[str]:
    return [
        f"--retention.resolution-raw={s.retention_raw}",
        f"--retention.resolution-5m={s.retention_5m}",
        f"--retention.resolution-1h={s.retention_1h}",
        "--delete-delay=48h",
    ]


def _volume(ctx: AppContext, size: int) -> dict:
    return {"enabled": True, "storageClass": "ceph-block", "size": f"{size}Gi"}


def alertmanagers_config() -> str:
    target = f"dnssrv+_http-web._tcp.alertmanager-operated.{NAMESPACE}.svc.cluster.local"
    return yaml.safe_dump({"alertmanagers": [{"static_configs": [target], "scheme": "http",
                                               "path_prefix": "/alertmanager", "api_version": "v2"}]}, sort_keys=False)


def ruler_rules() -> str:
    return yaml.safe_dump({"groups": [rule_group("thanos-global-view", RULER_ALERTS)]}, sort_keys=False)


def values(ctx: AppContext) -> dict:
    _check_retention(ctx)
    s: Settings = ctx.settings
    infra = ctx.affinity()
    res = lambda c, d: ctx.resources(c, d).render()  # noqa: E731
    base = Resources("100m", "512Mi", memory_limit="2Gi")
    return {
        "objstoreConfig": {"create": False, "name": THANOS_OBJSTORE[0], "key": THANOS_OBJSTORE[1]},
        "serviceMonitor": {"enabled": ctx.service_monitors},
        "additionalReplicaLabels": [REPLICA_LABEL],
        "additionalEndpoints": [f"dnssrv+_grpc._tcp.{THANOS_DISCOVERY}.{NAMESPACE}.svc.cluster.local"],
        "query": {
            "replicas": ctx.replicas(2, 1),
            "podDisruptionBudget": {"enabled": ctx.prod, "maxUnavailable": 1},
            "extraArgs": ["--query.auto-downsampling", "--web.external-prefix=/thanos"],
            "affinity": infra,
            "resources": res("query", Resources("100m", "512Mi", memory_limit="4Gi") if ctx.prod else base),
        },
        "storeGateway": {
            "affinity": infra,
            "persistence": _volume(ctx, 10),
            "resources": res("storeGateway", base),
        },
        "compact": {
            "enabled": True,
            "extraArgs": compactor_args(s),
            "affinity": infra,
            "persistence": _volume(ctx, ctx.storage_gb(100 if ctx.prod else 20)),
            "resources": res("compact", base),
        },
        "rule": {
            "enabled": True,
            "replicas": ctx.replicas(2, 1),
            "evalInterval": "1m",
            "alertmanagersConfig": {"value": alertmanagers_config()},
            "rules": {"value": ruler_rules()},
            # The chart's configmap-reload sidecar has no security context (PSA restricted rejects it): off, and
            # a rules change rolls the ruler instead.
            "configReloader": {"enabled": False},
            "podAnnotations": {"checksum/rules": hashlib.sha256(ruler_rules().encode()).hexdigest()},
            "extraArgs": ["--web.external-prefix=/ruler"],
            "affinity": infra,
            "persistence": _volume(ctx, 10),
            "resources": res("rule", base),
        },
    }


APP = App(
    name="thanos",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values),),
    flows=(
        Flow("thanos-object-store", pods(NAMESPACE, {"app.kubernetes.io/name": "thanos"}), WORLD, (Port(443),),
             "store gateway, compactor and ruler → the S3 endpoint"),
        Flow("prometheus-object-store", pods(NAMESPACE, {"app.kubernetes.io/name": "prometheus"}), WORLD, (Port(443),),
             "Thanos sidecars upload blocks to the S3 endpoint"),
    ),
    routes=(
        UiRoute("monitoring", QUERY_SERVICE, HTTP_PORT, oidc_client="thanos", path="/thanos/*", strip_prefix=True,
                probe_path="/thanos/-/ready"),
        UiRoute("monitoring", RULE_SERVICE, HTTP_PORT, oidc_client="thanos-ruler", path="/ruler/*", strip_prefix=True,
                probe_path="/ruler/-/ready"),
    ),
    depends_on=(MONITORING_APP,),
    settings=Settings,
    description="Thanos query, store gateway, compactor (seed retention), ruler",
)
