"""Fluentd: Kafka topics → Elasticsearch processing/security, TLS and credentials everywhere, persistent buffers."""

from __future__ import annotations

import re

from components.platform.apps import fluentd
from components.platform.placement import Resources, node_affinity
from components.platform.apps import APPS
from components.platform.registry import enabled_apps


class _Ctx:
    """What fluentd.values reads (the app is off until the data issue's apps exist)."""

    service_monitors = True
    prod = True

    def replicas(self, prod, dev=1):
        return prod

    def affinity(self):
        return node_affinity("node-role.kubernetes.io/infra")

    def resources(self, component, default: Resources) -> Resources:
        return default

    def storage_gb(self, default):
        return default


def _blocks(text: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", text, re.S)


def test_off_until_kafka_and_elasticsearch_exist(any_stack):
    on, off = enabled_apps(any_stack.config, APPS, {"object-storage": "storage"})
    names = {a.name for a in on}
    if not {"kafka", "elasticsearch-processing", "elasticsearch-security"} <= names:
        assert off["fluentd"].startswith("needs ")


def test_every_kafka_source_uses_tls_and_scram():
    sources = [b for b in _blocks(fluentd.sources(), "source") if "rdkafka_group" in b]
    assert len(sources) == 2
    topics = set()
    for s in sources:
        assert '"security.protocol": "SASL_SSL"' in s and '"sasl.mechanisms": "SCRAM-SHA-512"' in s
        assert "#{ENV['KAFKA_PASSWORD']}" in s and '"ssl.ca.location": "/etc/fluentd-tls/kafka/ca.crt"' in s
        assert "consumer_group fluentd" in s
        topics |= set(re.search(r"topics (\S+)", s).group(1).split(","))
    assert topics == {"fluentbit.trace", "fluentbit.auditd", "fluentbit.falco", "fluentbit.ingress", "fluentbit.keycloak"}


def test_every_elasticsearch_output_verifies_tls_and_never_drops():
    matches = _blocks(fluentd.outputs(), "match")
    assert len(matches) == 2
    for m in matches:
        assert "@type elasticsearch" in m and "ssl_verify true" in m and "ca_file /etc/fluentd-tls/elasticsearch-" in m
        assert re.search(r'password "#\{ENV\[\'ES_\w+_PASSWORD\'\]\}"', m)
        assert "@type file" in m and "retry_forever true" in m and "overflow_action block" in m
    assert "logstash_prefix processing_trace" in fluentd.outputs()


def test_values_mount_the_claims_and_keep_buffers_on_volumes():
    v = fluentd.values(_Ctx())
    assert v["kind"] == "StatefulSet" and v["replicaCount"] == 2
    assert v["persistence"] == {"enabled": True, "storageClass": "ceph-block", "size": "10Gi"}
    secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in v["env"]}
    assert secrets == {"kafka-fluentd", "elasticsearch-fluentd", "elasticsearch-security-fluentd"}
    assert v["image"]["tag"].startswith("v1.19.3-debian-kafka2-") and v["plugins"] == ["fluent-plugin-elasticsearch --version 6.0.0"]
    assert v["mountVarLogDirectory"] is False and v["metrics"]["serviceMonitor"]["enabled"] is True
