"""kube-prometheus-stack (monitoring): the Prometheus Operator, Prometheus ×2 with the Thanos sidecar, Alertmanager.

- CRDs from the separate `prometheus-operator-crds` chart (same operator version, v0.93.1) as their own
  app, so Helm upgrades them (the stack's own `crds/` never would) and every app with ServiceMonitors
  starts after the CRDs only, while the stack itself starts after the mesh (its pods injected at birth);
- Prometheus: the seed's figures (scrape every 30 s, keep 2 days), replicas on the `prometheus` node
  group with required anti-affinity; every ServiceMonitor, PodMonitor, Probe, ScrapeConfig and
  PrometheusRule of the cluster is selected (nil selectors: no release-label games); the Thanos sidecar
  uploads 30-minute blocks (the seed's consolidation) to the Thanos bucket with the storage layer's
  `thanos-objstore` Secret; UI at https://monitoring.<domain>/prometheus/ behind OIDC;
- Alertmanager (2 in prod, gossiping), receivers from `settings.alertReceivers`, UI at /alertmanager/;
- node-exporter in its own privileged, unmeshed namespace `monitoring-node` (host network, PID and
  filesystem), kube-state-metrics, and the control plane as Kubespray v2.31.0 configures it: API server,
  etcd metrics on 2381 (`etcd_metrics_port`), controller manager 10257 and scheduler 10259 (secure ports,
  bound to all addresses), kube-proxy 10249 (`kube_proxy_metrics_bind_address`), CoreDNS, kubelet with
  cAdvisor and probes; default rules on; Grafana off (grafana-operator instance instead).
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ...config_types import Email, HostPort, HttpsUrl, LabelKey, pattern
from ..alerting import platform_rules, rule_group
from ...storage.backups import Backup
from ..app import App, AppContext, AppSettings, Bucket, Chart, ChartRelease, UiRoute, Webhook
from ..flows import HOSTS, WORLD, Flow, pods, tcp
from ..placement import Resources, node_affinity, toleration

REPO = "https://prometheus-community.github.io/helm-charts"
CHART = Chart("kube-prometheus-stack", REPO, "88.5.3")
CRDS_CHART = Chart("prometheus-operator-crds", REPO, "31.0.1")
NAMESPACE = "monitoring"
MONITORING_APP = "kube-prometheus-stack"
MONITORING_CRDS_APP = "prometheus-operator-crds"
MONITORING_CRDS = "monitoring.coreos.com"
NODE_NAMESPACE = "monitoring-node"
NODE_GROUP = "prometheus"
RELEASE = "kube-prometheus-stack"
PROMETHEUS_SERVICE = f"{RELEASE}-prometheus"
ALERTMANAGER_SERVICE = f"{RELEASE}-alertmanager"
THANOS_DISCOVERY = f"{RELEASE}-thanos-discovery"  # headless Service of the sidecars (gRPC 10901)
THANOS_OBJSTORE = ("thanos-objstore", "objstore.yml")  # storage layer's Secret (components/storage/storage.py)
REPLICA_LABEL = "prometheus_replica"
SCRAPE_INTERVAL = "30s"  # the seed: "metrics are updated approximately every 30 seconds"
RETENTION = "2d"  # the seed: "Prometheus is keeping metrics for 2 days"
BLOCK_DURATION = "30m"  # the seed: "stored on the object storage after a 30 minutes consolidation"
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
OPERATOR_PODS = {"app": "kube-prometheus-stack-operator"}
ALERTMANAGER_PODS = {"app.kubernetes.io/name": "alertmanager"}
NODE_EXPORTER_PORT = 9100
# Ports Prometheus scrapes on the nodes themselves (host network): node-exporter, kubelet, etcd metrics,
# kube-proxy, controller manager, scheduler (the API server is reached through its Service, 6443).
HOST_METRICS_PORTS = (NODE_EXPORTER_PORT, 10250, 2381, 10249, 10257, 10259)
Duration = pattern("a Prometheus duration like 30s, 2d or 1h30m", r"(?:[0-9]{1,6}(?:ms|s|m|h|d|w|y)){1,4}", 32)
ReceiverName = pattern("lower-case letters, digits or '-', starting with a letter or digit", r"[a-z0-9][a-z0-9-]*", 63)
Severity = pattern("critical, warning or info", r"critical|warning|info", 8)
GRAFANA_APP = "grafana"
# The chart's dashboard ConfigMaps (`<release>-<name>`, key `<name>.json`, templates/grafana/dashboards-1.14).
DASHBOARDS = ("alertmanager-overview", "apiserver", "cluster-total", "controller-manager", "etcd", "k8s-coredns",
              "k8s-resources-cluster", "k8s-resources-namespace", "k8s-resources-node", "k8s-resources-nodes-overview",
              "k8s-resources-pod", "k8s-resources-workload", "k8s-resources-workloads-namespace", "kubelet",
              "namespace-by-pod", "namespace-by-workload", "node-cluster-rsrc-use", "node-rsrc-use", "nodes",
              "persistentvolumesusage", "pod-total", "prometheus", "proxy", "scheduler", "workload-total")
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}}
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 2000, "fsGroup": 2000,
                  "seccompProfile": {"type": "RuntimeDefault"}}


class AlertReceiver(BaseModel):
    """One Alertmanager receiver: a webhook (chat bridge, incident tool) and/or e-mail addresses."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)
    name: ReceiverName
    webhook_url: Optional[HttpsUrl] = None
    email_to: list[Email] = []
    severities: list[Severity] = []  # empty: every alert


class Settings(AppSettings):
    retention: Duration = RETENTION
    scrape_interval: Duration = SCRAPE_INTERVAL
    # Label of the Prometheus nodes; default: the `prometheus` node group's role label when the stack has
    # that group, else the infra label.
    node_label: Optional[LabelKey] = None
    alert_receivers: list[AlertReceiver] = []
    smtp_smarthost: Optional[HostPort] = None
    smtp_from: Optional[Email] = None


def node_label(ctx: AppContext) -> str:
    s: Settings = ctx.settings
    if s.node_label:
        return s.node_label
    if NODE_GROUP in ctx.cfg.node_groups:
        return f"node-role.kubernetes.io/{NODE_GROUP}"
    return ctx.cfg.platform.infra_node_label


def _tolerations(ctx: AppContext) -> list[dict]:
    group = ctx.cfg.node_groups.get(NODE_GROUP)
    return [toleration(t) for t in group.taints] if group else []


def _url(ctx: AppContext, prefix: str) -> str:
    return f"https://{ctx.hostname('monitoring')}{prefix}/"


def alertmanager_config(ctx: AppContext) -> dict:
    s: Settings = ctx.settings
    receivers: list[dict] = [{"name": "null"}]
    routes: list[dict] = [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}]
    for r in s.alert_receivers:
        rec: dict = {"name": r.name}
        if r.webhook_url:
            rec["webhook_configs"] = [{"url": r.webhook_url, "send_resolved": True}]
        if r.email_to:
            rec["email_configs"] = [{"to": ", ".join(r.email_to), "send_resolved": True}]
        receivers.append(rec)
        route: dict = {"receiver": r.name, "continue": True}
        if r.severities:
            route["matchers"] = [f'severity =~ "{"|".join(r.severities)}"']
        routes.append(route)
    glob: dict = {"resolve_timeout": "5m"}
    if s.smtp_smarthost:
        glob.update(smtp_smarthost=s.smtp_smarthost, smtp_require_tls=True)
        if s.smtp_from:
            glob["smtp_from"] = s.smtp_from
    return {
        "global": glob,
        "route": {"group_by": ["namespace", "alertname"], "group_wait": "30s", "group_interval": "5m",
                  "repeat_interval": "12h", "receiver": "null", "routes": routes},
        "receivers": receivers,
        "inhibit_rules": [{"source_matchers": ['severity = "critical"'], "target_matchers": ['severity =~ "warning|info"'],
                           "equal": ["namespace", "alertname"]}],
    }


def crds_values(ctx: AppContext) -> dict:
    return {}  # every CRD of the operator (the chart's defaults)


def values(ctx: AppContext) -> dict:
    s: Settings = ctx.settings
    infra = ctx.affinity()
    select_all = {f"{kind}SelectorNilUsesHelmValues": False
                  for kind in ("serviceMonitor", "podMonitor", "probe", "rule", "scrapeConfig")}
    default_prom = Resources("2", "12Gi", memory_limit="20Gi") if ctx.prod else Resources("200m", "1Gi", memory_limit="4Gi")
    return {
        "crds": {"enabled": False},  # the prometheus-operator-crds release owns them
        "defaultRules": {"create": True},
        # No Grafana of its own; its dashboards as ConfigMaps, which the Grafana app's GrafanaDashboards
        # reference (so this release needs no grafana-operator CRD and Grafana can start after it).
        "grafana": {"enabled": False, "forceDeployDashboards": ctx.enabled(GRAFANA_APP)},
        "windowsMonitoring": {"enabled": False},
        "prometheusOperator": {
            # Admission webhook certificates from cert-manager: no certgen hook Jobs.
            "admissionWebhooks": {"certManager": {"enabled": ctx.enabled("cert-manager")},
                                  "patch": {"enabled": not ctx.enabled("cert-manager")}},
            "affinity": infra,
            "resources": ctx.resources("operator", Resources("10m", "128Mi", memory_limit="256Mi")).render(),
            "serviceMonitor": {"selfMonitor": True},
            "prometheusConfigReloader": {
                "resources": ctx.resources("configReloader", Resources("10m", "64Mi", memory_limit="64Mi")).render()},
        },
        "prometheus": {
            "thanosService": {"enabled": True},
            "thanosServiceMonitor": {"enabled": True},
            "serviceMonitor": {"selfMonitor": True},
            "prometheusSpec": {
                "replicas": ctx.replicas(2, 1),
                "scrapeInterval": s.scrape_interval,
                "evaluationInterval": s.scrape_interval,
                "retention": s.retention,
                **select_all,
                "replicaExternalLabelName": REPLICA_LABEL,
                "externalLabels": {"cluster": f"{ctx.cfg.cluster.name}-{ctx.cfg.environment}"},
                "externalUrl": _url(ctx, "/prometheus"),
                "routePrefix": "/prometheus/",
                "affinity": node_affinity(node_label(ctx)),
                "podAntiAffinity": "hard",
                "podAntiAffinityTopologyKey": "kubernetes.io/hostname",
                "tolerations": _tolerations(ctx),
                "resources": ctx.resources("prometheus", default_prom).render(),
                "securityContext": RESTRICTED_POD,
                "storageSpec": {"volumeClaimTemplate": {"spec": {
                    "storageClassName": "ceph-block", "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{ctx.storage_gb(150 if ctx.prod else 20)}Gi"}}}}},
                "thanos": {
                    "blockSize": BLOCK_DURATION,
                    "objectStorageConfig": {"existingSecret": {"name": THANOS_OBJSTORE[0], "key": THANOS_OBJSTORE[1]}},
                    "resources": ctx.resources("thanosSidecar", Resources("25m", "512Mi", memory_limit="2Gi")).render(),
                },
            },
        },
        "alertmanager": {
            "serviceMonitor": {"selfMonitor": True},
            "config": alertmanager_config(ctx),
            "alertmanagerSpec": {
                "replicas": ctx.replicas(2, 1),
                "externalUrl": _url(ctx, "/alertmanager"),
                "routePrefix": "/alertmanager/",
                "affinity": infra,
                "podAntiAffinity": "hard" if ctx.prod else "",
                "securityContext": RESTRICTED_POD,
                "resources": ctx.resources("alertmanager", Resources("10m", "64Mi", memory_limit="128Mi")).render(),
                "storage": {"volumeClaimTemplate": {"spec": {
                    "storageClassName": "ceph-block", "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}}}},
            },
        },
        "kube-state-metrics": {
            "affinity": infra,
            "resources": ctx.resources("kubeStateMetrics", Resources("10m", "64Mi", memory_limit="256Mi")).render(),
        },
        "prometheus-node-exporter": {
            "namespaceOverride": NODE_NAMESPACE,
            # Every node, tainted ones included.
            "tolerations": [{"operator": "Exists"}],
            "resources": ctx.resources("nodeExporter", Resources("15m", "30Mi", memory_limit="60Mi")).render(),
        },
        # The control plane as Kubespray configures it (every switch explicit: the exporter table maps to them).
        "kubeApiServer": {"enabled": True},
        "kubeControllerManager": {"enabled": True},
        "kubeScheduler": {"enabled": True},
        "coreDns": {"enabled": True},
        "kubeEtcd": {"enabled": True, "service": {"port": 2381, "targetPort": 2381}},
        "kubeProxy": {"enabled": True, "service": {"port": 10249, "targetPort": 10249}},
        "kubelet": {"enabled": True, "serviceMonitor": {"cAdvisor": True, "probes": True}},
        "kubeStateMetrics": {"enabled": True},
        "nodeExporter": {"enabled": True},
    }


def objects(ctx: AppContext) -> None:
    """The platform's alert rules (beyond the chart's defaults)."""
    release = ctx.releases[RELEASE]
    for name, alerts in platform_rules(ctx.cfg, ctx.enabled).items():
        ctx.custom_resource(f"platform-{name}", f"{MONITORING_CRDS}/v1", "PrometheusRule",
                            {"groups": [rule_group(f"platform-{name}", alerts)]},
                            labels={"app.kubernetes.io/part-of": "coprs"}, depends_on=(release,))


CRDS_APP = App(
    name=MONITORING_CRDS_APP,
    namespace=NAMESPACE,
    releases=(ChartRelease(CRDS_CHART, crds_values, crds=(MONITORING_CRDS,)),),
    # Every app with monitors starts after this one (registry ordering); it has no pods.
    roles=("monitoring-crds",),
    monitoring=False,
    apiserver=False,
    description="Prometheus Operator CRDs (ServiceMonitor, PodMonitor, Probe, PrometheusRule, ...)",
)

APP = App(
    name=MONITORING_APP,
    namespace=NAMESPACE,
    # Ordered after cert-manager (optional) for the webhook's Certificate when that app is on.
    releases=(ChartRelease(CHART, values, uses_crds=(MONITORING_CRDS,)),),
    flows=(
        Flow("prometheus-hosts", pods(NAMESPACE, PROMETHEUS_PODS), HOSTS, tcp(*HOST_METRICS_PORTS),
             "Prometheus scrapes node-exporter, kubelets and the control plane on the nodes"),
        Flow("alertmanager-receivers", pods(NAMESPACE, ALERTMANAGER_PODS), WORLD, tcp(443, 587),
             "notifications: webhook receivers (HTTPS) and the SMTP smarthost (submission)"),
    ),
    webhooks=(Webhook("operator-webhook", OPERATOR_PODS, 10250,
                      "API server → the operator's admission webhook (PrometheusRule validation)"),),
    routes=(
        UiRoute("monitoring", PROMETHEUS_SERVICE, 9090, oidc_client="prometheus", path="/prometheus/*",
                probe_path="/prometheus/-/ready"),
        UiRoute("monitoring", ALERTMANAGER_SERVICE, 9093, oidc_client="alertmanager", path="/alertmanager/*",
                probe_path="/alertmanager/-/ready"),
    ),
    roles=("monitoring",),
    claims=(Bucket(suffix="thanos", secret=THANOS_OBJSTORE[0], format="thanos-objstore"),),
    endpoints={"prometheus": f"http://{PROMETHEUS_SERVICE}.{NAMESPACE}.svc.cluster.local:9090/prometheus"},
    depends_on=(MONITORING_CRDS_APP,),
    optional=("cert-manager",),
    objects=objects,
    settings=Settings,
    # Alertmanager's silences and notification log live on its volumes (Prometheus' data is in Thanos' bucket).
    stateful=True,
    backups=(Backup(selector=ALERTMANAGER_PODS, schedule="45 3 * * *", retention_days=7,
                    restore="velero restore of the alertmanager pods and their volumes (silences); the rest is code"),),
    description="Prometheus ×2 + Thanos sidecar, Alertmanager, node-exporter, kube-state-metrics, default rules",
)
