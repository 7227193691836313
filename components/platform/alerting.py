"""Alert rules as data: one `Alert` per rule, with its runbook line, rendered for Prometheus or the Thanos ruler.

The same shape serves the `PrometheusRule` objects (evaluated by Prometheus) and the Thanos ruler's
rule files (evaluated over the deduplicated, long-term view of Thanos Query).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal

Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    summary: str
    runbook: str  # one line: what the operator does first
    severity: Severity = "warning"
    for_: str = "10m"
    needs_standby: bool = False  # meaningful only when the service has replicas (PostgreSQL standbys)

    def render(self) -> dict:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "runbook": self.runbook},
        }


def rule_group(name: str, alerts: Iterable[Alert], interval: str = "") -> dict:
    group: dict = {"name": name, "rules": [a.render() for a in alerts]}
    if interval:
        group["interval"] = interval
    return group


# The platform's rules beyond kube-prometheus-stack's defaults, by concern (one PrometheusRule each).
# Metric names: Rook/Ceph mgr exporter, Strimzi Kafka JMX and Kafka exporter, prometheus elasticsearch
# exporter, CloudNativePG, cert-manager, Velero, blackbox exporter, Fluent Bit, Loki.
PLATFORM_RULES: dict[str, tuple[Alert, ...]] = {
    "ceph": (
        Alert("CephHealthError", "max(ceph_health_status) == 2", "Ceph reports HEALTH_ERR: volumes may stop serving I/O",
              "Run `ceph health detail` in the rook-ceph-tools pod and fix the first error it lists (OSD down, full pool, ...).",
              "critical", "5m"),
        Alert("CephHealthWarning", "max(ceph_health_status) == 1", "Ceph reports HEALTH_WARN",
              "Run `ceph health detail` in the rook-ceph-tools pod; most warnings name the OSD, PG or pool to look at.",
              "warning", "30m"),
    ),
    "kafka": (
        Alert("KafkaUnderReplicatedPartitions", "sum(kafka_server_replicamanager_underreplicatedpartitions) > 0",
              "Kafka has under-replicated partitions: a broker is down or lagging",
              "Check the kafka-* broker pods in infra and their disks; `kafka-topics.sh --describe --under-replicated-partitions`.",
              "warning", "10m"),
        Alert("KafkaConsumerGroupLagGrowing",
              'sum by (consumergroup, topic) (kafka_consumergroup_lag{topic=~"fluentbit.*"}) > 100000',
              "The log pipeline's consumers fall behind (Fluentd or Graylog)",
              "Check the Fluentd/Graylog pods and their Elasticsearch; the topic keeps the records meanwhile.", "warning", "30m"),
    ),
    "elasticsearch": (
        Alert("ElasticsearchClusterRed", 'max by (cluster) (elasticsearch_cluster_health_status{color="red"}) == 1',
              "An Elasticsearch cluster is red: some primary shards are unassigned",
              "GET _cluster/allocation/explain on the cluster; restore the missing node or the index from its snapshot.",
              "critical", "5m"),
        Alert("ElasticsearchClusterYellow", 'max by (cluster) (elasticsearch_cluster_health_status{color="yellow"}) == 1',
              "An Elasticsearch cluster is yellow: replicas are unassigned",
              "GET _cluster/allocation/explain; usually a node is down or the disk watermark is reached.", "warning", "30m"),
    ),
    "postgresql": (
        Alert("PostgreSQLReplicationLag", "max by (pod) (cnpg_pg_replication_lag) > 300",
              "A PostgreSQL standby is more than 5 minutes behind its primary",
              "kubectl cnpg status postgresql -n database; check the standby's disk and network, then its logs.",
              "warning", "10m"),
        Alert("PostgreSQLNotReplicating", "max(cnpg_pg_replication_streaming_replicas) < 1",
              "The PostgreSQL primary has no streaming standby", "kubectl cnpg status postgresql -n database; restart the failed instance.",
              "critical", "10m", needs_standby=True),
    ),
    "certificates": (
        Alert("CertificateExpiresSoon", "(certmanager_certificate_expiration_timestamp_seconds - time()) < 14 * 86400",
              "A certificate expires in less than 14 days and was not renewed",
              "kubectl describe certificate <name> -n <namespace>; check its Issuer (ACME DNS01 credentials, CA) and cert-manager logs.",
              "warning", "1h"),
        Alert("CertificateNotReady", 'max by (name, namespace) (certmanager_certificate_ready_status{condition="False"}) == 1',
              "A certificate is not ready", "kubectl describe certificate <name> -n <namespace> and its CertificateRequest.",
              "warning", "30m"),
    ),
    "backups": (
        Alert("VeleroBackupFailed", "sum by (schedule) (increase(velero_backup_failure_total[24h])) > 0",
              "A Velero backup failed in the last 24 hours",
              "velero -n velero backup describe <backup> --details and velero backup logs <backup>; fix, then run the schedule again.",
              "critical", "5m"),
        Alert("VeleroBackupTooOld",
              "time() - max by (schedule) (velero_backup_last_successful_timestamp{schedule!=\"\"}) > 2 * 86400",
              "A scheduled backup has not succeeded for 2 days",
              "velero -n velero schedule get; check the backup storage location (velero backup-location get).", "critical", "30m"),
    ),
    "probes": (
        Alert("EndpointDown", 'probe_success{job="ui-endpoints"} == 0', "A UI does not answer through the gateway",
              "Open {{ $labels.targetUrl }}; check its ApisixRoute, the app's pods and the probe's token (probe_http_status_code).",
              "critical", "5m"),
        Alert("EndpointCertificateExpiresSoon", 'probe_ssl_earliest_cert_expiry{job="ui-endpoints"} - time() < 14 * 86400',
              "The certificate served for a UI expires in less than 14 days",
              "Check the wildcard Certificate ingress-tls in networking and its Issuer.", "warning", "1h"),
    ),
    "logs": (
        Alert("FluentBitOutputErrors", "sum by (name) (rate(fluentbit_output_errors_total[15m])) > 0",
              "Fluent Bit cannot deliver logs to an output (Loki or Kafka)",
              "Read the fluent-bit pod logs in logging; records wait in /var/log/flb-storage meanwhile.", "warning", "15m"),
        Alert("LokiRequestErrors",
              'sum(rate(loki_request_duration_seconds_count{status_code=~"5.."}[5m])) / sum(rate(loki_request_duration_seconds_count[5m])) > 0.05',
              "More than 5% of Loki's requests fail", "Check the loki-* pods in logging (ingesters, object store access).",
              "warning", "15m"),
    ),
}

# The apps whose metrics each group reads: a group is declared only when one of them is deployed.
RULE_APPS: dict[str, tuple[str, ...]] = {
    "ceph": ("rook-ceph",), "kafka": ("kafka",), "elasticsearch": ("elasticsearch-processing", "elasticsearch-security"),
    "postgresql": ("postgresql",), "certificates": ("cert-manager",), "backups": ("velero",),
    "probes": ("blackbox-exporter",), "logs": ("fluent-bit", "loki"),
}


def platform_rules(cfg: Any, enabled: Callable[[str], bool]) -> dict[str, tuple[Alert, ...]]:
    """The groups of PLATFORM_RULES this stack can evaluate: their apps deployed (the Kafka group needs our
    brokers, not a managed Kafka), the standby alerts only where PostgreSQL has standbys."""
    from .apps.postgresql import instances
    from .claims import kafka_external

    out: dict[str, tuple[Alert, ...]] = {}
    for group, alerts in PLATFORM_RULES.items():
        if not any(enabled(a) for a in RULE_APPS[group]) or (group == "kafka" and kafka_external(cfg)):
            continue
        kept = tuple(a for a in alerts if not a.needs_standby or instances(cfg) > 1)
        if kept:
            out[group] = kept
    return out
