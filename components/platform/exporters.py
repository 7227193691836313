"""The seed's exporter tables ("Generic prometheus exporters", "Specific Prometheus Exporters") as data.

Each row names the platform app that runs the component and what scrapes it: a chart switch (a values
path of one of the app's releases that must be true) or a monitor the app declares itself (a custom
resource of `monitoring.coreos.com`). Components the design replaced map to their replacement
(ZooKeeper → the KRaft controllers of Kafka, Stash → Velero, Kibana → its UI's endpoint probe). Rows with
no app say why nothing scrapes them. `tests/.../test_exporters.py`
maps every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union


@dataclass(frozen=True)
class Switch:
    """A chart's own ServiceMonitor/PodMonitor: `path` in the values of `release` is true."""

    release: str
    path: str


@dataclass(frozen=True)
class Declared:
    """A monitor the app declares (`kind` in monitoring.coreos.com; `name` empty: any of that kind)."""

    kind: str
    name: str = ""


Monitor = Union[Switch, Declared]
KPS = "kube-prometheus-stack"


@dataclass(frozen=True)
class Row:
    exporter: str  # as the seed names it
    number: str  # the seed's "Number" column
    app: Optional[str]  # the platform app that runs it; None: not deployed (see note)
    monitors: tuple[Monitor, ...] = ()  # what scrapes it (every deployed row names one)
    replaced_by: str = ""  # the component of our design that replaces the seed's
    note: str = ""
    opt_in: bool = False  # the app deploys its exporter only once its settings say so


def _kps(path: str) -> tuple[Monitor, ...]:
    return (Switch(KPS, path),)


GENERIC: tuple[Row, ...] = (
    Row("Node", "One/node", KPS, _kps("nodeExporter.enabled")),
    Row("Kubernetes", "One", KPS, _kps("kubeStateMetrics.enabled"), replaced_by="kube-state-metrics"),
    Row("Api server", "One/master", KPS, _kps("kubeApiServer.enabled")),
    Row("Core DNS", "Two", KPS, _kps("coreDns.enabled")),
    Row("Etcd (Kubernetes)", "One/master", KPS, _kps("kubeEtcd.enabled"), note="Kubespray etcd_metrics_port 2381"),
    Row("Kube Controller Manager", "One/master", KPS, _kps("kubeControllerManager.enabled"), note="secure port 10257"),
    Row("Kube Proxy", "One/node", KPS, _kps("kubeProxy.enabled"), note="kube_proxy_metrics_bind_address 0.0.0.0:10249"),
    Row("Kube scheduler", "One/master", KPS, _kps("kubeScheduler.enabled"), note="secure port 10259"),
    Row("Kubelet", "One/node", KPS, _kps("kubelet.enabled")),
    Row("Kubelet cAdivsor", "One/node", KPS, _kps("kubelet.serviceMonitor.cAdvisor")),
    Row("Kubelet Probes", "One/node", KPS, _kps("kubelet.serviceMonitor.probes")),
    Row("Keda Operator", "One/Replica", "keda", (Switch("keda", "prometheus.operator.serviceMonitor.enabled"),)),
    Row("Keda Metrics API Server", "One/Replica", "keda", (Switch("keda", "prometheus.metricServer.serviceMonitor.enabled"),)),
    Row("Apisix", "One/Replica", "apisix", (Switch("apisix", "metrics.serviceMonitor.enabled"),)),
    Row("Apisix Ingress Controller", "One/Replica", "apisix", (Switch("apisix", "ingress-controller.serviceMonitor.enabled"),)),
    Row("Etcd (Apisix)", "One/Replica", None, replaced_by="APISIX standalone mode (configuration pushed by the controller)",
        note="no etcd in our design: nothing to scrape"),
    Row("Linkerd Controller", "One/Replica", "linkerd", (Switch("linkerd-control-plane", "podMonitor.enabled"),
                                                         Switch("linkerd-control-plane", "podMonitor.controller.enabled"))),
    Row("Linkerd Proxy", "One/Pod", "linkerd", (Switch("linkerd-control-plane", "podMonitor.enabled"),
                                                Switch("linkerd-control-plane", "podMonitor.proxy.enabled"))),
    Row("Keycloak", "One/Replica", "keycloak", (Switch("keycloak", "serviceMonitor.enabled"),), note="management port 9000"),
    Row("OpenLDAP", "One", "openldap", (Declared("PodMonitor", "openldap"),), note="opt-in: settings.metrics (the image enables no slapd monitor backend by default)",
        opt_in=True),
    Row("cert-manager", "One/Replica", "cert-manager", (Switch("cert-manager", "prometheus.servicemonitor.enabled"),)),
    Row("Rook Ceph Operator", "One", "rook-ceph", (Switch("rook-ceph", "monitoring.enabled"),
                                                  Switch("rook-ceph-cluster", "monitoring.enabled"))),
    Row("Kafka Cluster Operator", "One", "strimzi", (Declared("PodMonitor", "strimzi-cluster-operator"),)),
    Row("Kafka Entity Operator", "One", "kafka", (Declared("PodMonitor", "kafka-entity-operator"),)),
    Row("Kafka", "One/Replica", "kafka", (Declared("PodMonitor", "kafka-brokers"),), note="Strimzi Metrics Reporter"),
    Row("Zookeeper", "One/Replica", "kafka", (Declared("PodMonitor", "kafka-brokers"),),
        replaced_by="KRaft controllers (KafkaNodePool, Kafka 4 has no ZooKeeper): the same monitor selects them"),
    Row("Kafka Exporter", "One", "kafka", (Declared("PodMonitor", "kafka-exporter"),)),
    Row("Fluentbit", "One/Node", "fluent-bit", (Switch("fluent-bit", "serviceMonitor.enabled"),)),
    Row("Fluentd", "One/Replica", "fluentd", (Switch("fluentd", "metrics.serviceMonitor.enabled"),)),
    Row("Prometheus Operator", "One", KPS, _kps("prometheusOperator.serviceMonitor.selfMonitor")),
    Row("Prometheus", "One/Replica", KPS, _kps("prometheus.serviceMonitor.selfMonitor")),
    Row("Prometheus AlertManager", "One/Replica", KPS, _kps("alertmanager.serviceMonitor.selfMonitor")),
    Row("Thanos Compactor", "One/Replica", "thanos", (Switch("thanos", "serviceMonitor.enabled"),)),
    Row("Thanos Query", "One/Replica", "thanos", (Switch("thanos", "serviceMonitor.enabled"),)),
    Row("Thanos Store Gateway", "One/Replica", "thanos", (Switch("thanos", "serviceMonitor.enabled"),)),
    Row("Elastic Operator", "One", "eck-operator", (Switch("eck-operator", "podMonitor.enabled"),)),
    Row("Elasticsearch Processing", "One", "elasticsearch-processing",
        (Switch("elasticsearch-processing-exporter", "serviceMonitor.enabled"),), replaced_by="prometheus-elasticsearch-exporter"),
    Row("Elasticsearch Security", "One", "elasticsearch-security",
        (Switch("elasticsearch-security-exporter", "serviceMonitor.enabled"),), replaced_by="prometheus-elasticsearch-exporter"),
    Row("Loki", "One", "loki", (Switch("loki", "monitoring.serviceMonitor.enabled"),)),
    Row("Grafana", "One", "grafana", (Declared("PodMonitor", "grafana"),)),
    Row("Grafana Operator", "One", "grafana", (Switch("grafana-operator", "serviceMonitor.enabled"),)),
    Row("Kibana Processing", "One", "blackbox-exporter", (Declared("Probe"),), replaced_by="the endpoint probe of its UI",
        note="Kibana has no Prometheus endpoint (its status API needs a Kibana user): probed at /kibana"),
    Row("Kibana Security", "One", "blackbox-exporter", (Declared("Probe"),), replaced_by="the endpoint probe of its UI",
        note="Kibana has no Prometheus endpoint (its status API needs a Kibana user): probed at /kibana"),
    Row("PostgreSQL", "TBD", "postgresql", (Declared("PodMonitor", "postgresql"),), note="CNPG instance metrics, port 9187"),
    Row("MongoDB", "One/Replica", "mongodb", (Declared("ServiceMonitor", "mongodb"),), note="the agent's endpoint, basic auth"),
    Row("Spring Cloud Data Flow", "One", "scdf", (Declared("PodMonitor", "scdf-server"), Declared("PodMonitor", "skipper"))),
    Row("Stash Operator", "One", "velero", (Switch("velero", "metrics.serviceMonitor.enabled"),), replaced_by="Velero server"),
    Row("Stash PushGateway", "One", "velero", (Switch("velero", "metrics.nodeAgentPodMonitor.enabled"),),
        replaced_by="Velero node agents (their own metrics, no push gateway)"),
    Row("Graylog", "One/Replica", "graylog", (Declared("ServiceMonitor", "graylog"),)),
    Row("Falco", "One/Node", "falco", (Switch("falco", "serviceMonitor.create"),)),
)

SPECIFIC: tuple[Row, ...] = (
    Row("Machine-usage", "One", "openstack-exporter", (Declared("ServiceMonitor", "openstack-exporter"),),
        replaced_by="openstack-exporter v1.7.0 (servers, volumes, quotas)",
        note="opt-in: settings.applicationCredentialId + secret coprs:openstackExporterCredential", opt_in=True),
    Row("Object-storage", "One", None,
        note="no maintained open-source exporter of bucket usage for OBS/S3; the COPRS finops exporter is unmaintained"),
    Row("Endpoint", "One", "blackbox-exporter", (Declared("Probe"),), note="probe_*{targetName,targetUrl} per UI"),
)

TABLE = GENERIC + SPECIFIC
