"""Kafka (Strimzi, KRaft): node pools per stack, safe replication, TLS+SCRAM only, users/ACLs per claim, external mode."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from components.platform.claims import KAFKA_BOOTSTRAP
from components.platform.apps.fluent_bit import STREAMS
from tests.components.platform.apps.data import (VARIANT, assert_no_literal_password, assert_schema_valid, claims_run,
                                                 of_kind, one, secret, variant_run)
from tests.components.platform.helpers import ancestors

KINDS = ("Kafka", "KafkaNodePool", "KafkaUser", "KafkaTopic")


def test_kraft_node_pools_per_stack():
    prod = {x.inputs["metadata"]["name"]: x.inputs["spec"] for x in of_kind(claims_run("prod"), "KafkaNodePool")}
    assert {n: (s["replicas"], s["roles"]) for n, s in prod.items()} == \
        {"controllers": (3, ["controller"]), "brokers": (3, ["broker"])}
    assert prod["brokers"]["storage"]["volumes"][0]["size"] == "200Gi"
    anti = prod["brokers"]["template"]["pod"]["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in anti
    dev = {x.inputs["metadata"]["name"]: x.inputs["spec"] for x in of_kind(claims_run("dev"), "KafkaNodePool")}
    assert {n: (s["replicas"], s["roles"]) for n, s in dev.items()} == {"dual": (1, ["controller", "broker"])}


def test_safe_replication_in_prod_and_tls_scram_only():
    spec = one(claims_run("prod"), "Kafka", "kafka")["spec"]["kafka"]
    c = spec["config"]
    assert (c["default.replication.factor"], c["min.insync.replicas"], c["offsets.topic.replication.factor"]) == (3, 2, 3)
    assert c["auto.create.topics.enable"] is False and c["unclean.leader.election.enable"] is False
    assert spec["listeners"] == [{"name": "tls", "port": 9093, "type": "internal", "tls": True,
                                  "authentication": {"type": "scram-sha-512"}}]
    assert spec["authorization"]["type"] == "simple"
    assert one(claims_run("dev"), "Kafka", "kafka")["spec"]["kafka"]["config"]["min.insync.replicas"] == 1


def test_the_2023_log_topics():
    topics = {x.inputs["spec"]["topicName"]: x.inputs["spec"] for x in of_kind(claims_run("prod"), "KafkaTopic")}
    assert {"fluentbit.auditd", "fluentbit.falco", "fluentbit.ingress", "fluentbit.keycloak", "fluentbit.wazuh",
            "fluentbit.trace"} <= set(topics)
    assert topics["fluentbit.trace"]["config"]["retention.ms"] == 604800000
    assert (topics["fluentbit.falco"]["partitions"], topics["fluentbit.falco"]["replicas"]) == (6, 3)
    assert topics["fluentbit.falco"]["config"]["min.insync.replicas"] == 2


def test_one_user_per_claim_with_its_acls_and_secret_before_the_client():
    r = claims_run("prod")
    users = {x.inputs["metadata"]["name"]: x for x in of_kind(r, "KafkaUser")}
    assert set(users) == {"coprs-admin", "scdf", "graylog", "fluentd", "fluent-bit", "keda-scdf"}

    def rights(user):
        return {(a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], tuple(a["operations"]))
                for a in users[user].inputs["spec"]["authorization"]["acls"]}

    topics = {s.topic for s in STREAMS}
    assert rights("fluentd") == {("topic", t, "literal", ("Read", "Describe")) for t in topics} | \
        {("group", "fluentd", "literal", ("Read",))}
    assert rights("fluent-bit") == {("topic", t, "literal", ("Write", "Describe")) for t in topics}  # nothing to read
    # SCDF names its topics after streams: every topic and group, and it creates them (no broker auto-creation)
    assert ("topic", "*", "literal", ("Create", "Describe")) in rights("scdf")
    assert all(a[1] == "*" and a[2] == "literal" for a in rights("scdf"))
    assert users["scdf"].inputs["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]["name"] == "kafka-user-scdf"
    s = secret(r, "logging", "kafka-fluentd")
    d = s.inputs["stringData"]
    assert (d["bootstrap.servers"], d["security.protocol"], d["sasl.mechanism"], d["username"]) == \
        (KAFKA_BOOTSTRAP, "SASL_SSL", "SCRAM-SHA-512", "fluentd")
    assert d["sasl.jaas.config"].startswith("org.apache.kafka.common.security.scram.ScramLoginModule required")
    assert users["fluentd"].urn in ancestors(r, s)


def test_crs_match_the_strimzi_crds_and_hold_no_password():
    for stack in ("dev", "prod"):
        assert_schema_valid(claims_run(stack), KINDS)
        assert_no_literal_password(claims_run(stack), KINDS)


def test_external_mode_deploys_no_broker_and_serves_the_same_secret_shape():
    r = variant_run()
    assert not of_kind(r, "Kafka", "kafka.strimzi.io") and not of_kind(r, "KafkaNodePool") and not of_kind(r, "KafkaUser")
    d = secret(r, "security", "kafka-graylog").inputs["stringData"]
    assert d["bootstrap.servers"] == "kafka-1.managed.example:9094,kafka-2.managed.example:9094"
    assert (d["username"], d["password"], d["security.protocol"]) == ("u-gl", "p-gl", "SASL_SSL")
    assert d["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    egress = {p.inputs["metadata"]["name"]: p for p in of_kind(r, "NetworkPolicy")
              if p.inputs["metadata"]["namespace"] == "security" and "kafka" in p.inputs["metadata"]["name"]}
    assert set(egress) == {"allow-kafka-external-kafka-graylog-out"}  # Graylog's server pods only, no broker flow
    spec = egress["allow-kafka-external-kafka-graylog-out"].inputs["spec"]
    rule = spec["egress"][0]
    assert rule["to"] == [{"ipBlock": {"cidr": "198.51.100.0/24"}}] and [p["port"] for p in rule["ports"]] == [9094]
    from components.platform.apps.graylog import SERVER_PODS
    assert spec["podSelector"] == {"matchLabels": SERVER_PODS}


def test_external_mode_names_the_missing_credentials():
    with pytest.raises(ConfigError, match="kafkaExternalCredentials has no .* for Kafka user"):
        claims_run("dev", {**VARIANT, "coprs:kafkaExternalCredentials": '{"graylog": {"username": "u", "password": "p"}}'})
