"""Fluent Bit: node logs → Loki with Kubernetes labels; security/trace streams → Kafka, never without TLS and credentials."""

from __future__ import annotations

import re

from components.platform.apps import fluent_bit
from components.platform.apps import APPS
from components.platform.registry import enabled_apps
from tests.components.platform.helpers import releases


def sections(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    """Classic-mode config → [(kind, {key: [values]})]."""
    out: list[tuple[str, dict[str, list[str]]]] = []
    for line in text.splitlines():
        if m := re.match(r"^\[(\w+)\]$", line.strip()):
            out.append((m.group(1), {}))
        elif line.strip():
            key, _, value = line.strip().partition(" ")
            out[-1][1].setdefault(key, []).append(value.strip())
    return out


def _values(result):
    return releases(result)["fluent-bit"].inputs["values"]


def _assert_outputs_are_protected(text: str, kafka_expected: bool, result) -> None:
    outs = [keys for kind, keys in sections(text) if kind == "OUTPUT"]
    assert outs
    meshed = {r.inputs["metadata"]["name"] for r in result.of_type("kubernetes:core/v1:Namespace")
              if r.inputs["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"}
    kafka = [o for o in outs if o["Name"] == ["kafka"]]
    assert bool(kafka) == kafka_expected
    for o in outs:
        if o["Name"] == ["kafka"]:
            assert o["rdkafka.security.protocol"] == ["SASL_SSL"] and o["rdkafka.sasl.mechanism"] == ["SCRAM-SHA-512"]
            assert o["rdkafka.sasl.username"] == ["${KAFKA_USERNAME}"] and o["rdkafka.sasl.password"] == ["${KAFKA_PASSWORD}"]
            assert o["rdkafka.ssl.ca.location"] == [fluent_bit.KAFKA_CA]
            assert o["rdkafka.ssl.endpoint.identification.algorithm"] == ["https"]
        else:
            # Loki inside the mesh: both ends meshed (Linkerd mTLS + workload identity), tenant set.
            assert o["Name"] == ["loki"] and o["tenant_id"] == ["coprs"]
            host = o["Host"][0]
            assert host.endswith(".svc.cluster.local") and host.split(".")[1] in meshed and "logging" in meshed


def test_every_output_has_tls_and_credentials(any_stack):
    v = _values(any_stack)
    kafka_on = "kafka" in {a.name for a in enabled_apps(any_stack.config, APPS, {"object-storage": "storage"})[0]}
    _assert_outputs_are_protected(v["config"]["outputs"], kafka_on, any_stack)
    # The Kafka wiring itself (served by the data issue's KafkaAccess claim), checked on its own.
    _assert_outputs_are_protected(fluent_bit.outputs(kafka=True), True, any_stack)


def test_streams_reach_their_topics():
    outs = {o["Match"][0]: o["Topics"][0] for k, o in sections(fluent_bit.outputs(kafka=True)) if o.get("Name") == ["kafka"]}
    assert outs == {"security.auditd": "fluentbit.auditd", "security.falco": "fluentbit.falco",
                    "security.ingress": "fluentbit.ingress", "security.keycloak": "fluentbit.keycloak",
                    "trace": "fluentbit.trace"}
    loki = next(o for k, o in sections(fluent_bit.outputs(kafka=True)) if o.get("Name") == ["loki"])
    assert not re.match(loki["Match_Regex"][0], "security.auditd")  # security streams: Kafka only when it is there
    loki_alone = next(o for k, o in sections(fluent_bit.outputs(kafka=False)) if o.get("Name") == ["loki"])
    assert re.match(loki_alone["Match_Regex"][0], "security.auditd")  # else Loki, nothing dropped


def test_reads_container_journal_and_audit_logs_on_every_node(any_stack):
    v = _values(any_stack)
    ins = [o for k, o in sections(v["config"]["inputs"]) if k == "INPUT"]
    paths = {p for o in ins for p in o.get("Path", [])}
    assert {"/var/log/containers/*.log", "/var/log/audit/audit.log"} <= paths
    assert any(o["Name"] == ["systemd"] for o in ins)
    assert v["tolerations"] == [{"operator": "Exists"}] and v["kind"] == "DaemonSet"
    labels = next(o for k, o in sections(v["config"]["outputs"]) if o.get("Name") == ["loki"])["labels"][0]
    for key in ("namespace", "pod", "container", "node"):
        assert f"{key}=$kubernetes[" in labels
    assert "storage.path" in v["config"]["service"]
