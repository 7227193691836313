"""Fluentd: Kafka topics → Elasticsearch processing/security, TLS and credentials everywhere, persistent buffers."""

from __future__ import annotations

import re

from components.platform.apps import fluentd
from components.platform.placement import Resources, node_affinity


class _Ctx:
    """What fluentd.values reads."""

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


def test_deployed_after_the_secrets_its_claims_are_served():
    from tests.components.platform.helpers import ancestors, releases
    from tests.conftest import stack_run

    for stack in ("dev", "prod"):
        r = stack_run(stack)
        assert "fluentd" not in r.outputs["platform"]["disabledApps"]
        release = releases(r)["fluentd"]
        served = {x.inputs["metadata"]["name"]: x for x in r.of_type("kubernetes:core/v1:Secret")
                  if x.inputs["metadata"]["namespace"] == "logging"}
        for secret in ("kafka-fluentd", "elasticsearch-fluentd", "elasticsearch-security-fluentd"):
            assert served[secret].urn in ancestors(r, release), secret  # the release waits for it


def test_writes_are_append_only_as_its_users_allow():
    # bulk `create` is what create_doc permits (the `index` default would need the index privilege)
    assert all("write_operation create" in m for m in _blocks(fluentd.outputs(), "match"))
    for sink in fluentd.SINKS:
        name, body = sink.claim.index_role
        assert body["indices"] == [{"names": [f"{sink.index}-*"],
                                    "privileges": ["create_index", "create_doc", "view_index_metadata", "auto_configure"]}]


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
