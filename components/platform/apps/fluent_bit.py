"""Fluent Bit (logging): the node log shipper, on every node (fluent chart 0.58.1, Fluent Bit 5.1.1).

Reads the container logs, the systemd journal and auditd's log; enriches container records with
Kubernetes metadata; sends them to Loki (native `loki` output, tenant `coprs`, labels node, namespace,
pod, container, image, syslog identifier) and the security and trace streams to the Kafka topics of the
log pipeline (`fluentbit.*`, native `kafka` output over SASL_SSL / SCRAM-SHA-512 with the KafkaUser
`fluent-bit`'s Secret `kafka-fluent-bit` and its CA: a `KafkaAccess` claim writing those topics). With Kafka
disabled the security streams go to Loki as well, so nothing is dropped. Filesystem buffers under /var/log/flb-storage.

Loki is reached inside the mesh (the logging namespace is meshed: Linkerd mTLS and identity); Kafka
is TLS + SCRAM end to end. Reading node logs through hostPath is why `logging` is PSA privileged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..app import App, AppContext, Chart, ChartRelease
from ..claims import KafkaAccess
from ..placement import Resources
from .loki import HTTP_PORT as LOKI_PORT, NAMESPACE, PUSH_SERVICE, TENANT

CHART = Chart("fluent-bit", "https://fluent.github.io/helm-charts", "0.58.1")
KAFKA_APP = "kafka"
KAFKA_USER = "fluent-bit"
KAFKA_CA = "/fluent-bit/kafka/ca.crt"
STORAGE = "/var/log/flb-storage/"
PODS = {"app.kubernetes.io/name": "fluent-bit"}


@dataclass(frozen=True)
class Stream:
    """A security or trace stream: which records, and the Kafka topic that carries them."""

    tag: str
    topic: str
    path: Optional[str] = None  # a file of its own (tail input)
    grep: Optional[str] = None  # `key regex` selecting the records
    containers: Optional[str] = None  # glob of /var/log/containers files of its own


# The 2023 pipeline's topics (coprs-2023-implementation §3.3); Wazuh is not part of the platform.
STREAMS = (
    Stream("security.auditd", "fluentbit.auditd", path="/var/log/audit/audit.log"),
    Stream("security.falco", "fluentbit.falco", containers="/var/log/containers/*_falco_*.log"),
    Stream("security.ingress", "fluentbit.ingress", containers="/var/log/containers/apisix-*_networking_*.log"),
    Stream("security.keycloak", "fluentbit.keycloak", containers="/var/log/containers/keycloak-*_iam_*.log",
           grep=r"log type=(LOGIN|LOGIN_ERROR)"),
    # REPORT records are JSON lines: the kubernetes filter merges them, so `type` is a top-level key.
    Stream("trace", "fluentbit.trace", grep="type ^REPORT$"),
)
# Writes the streams' topics only (optional: see APP).
KAFKA = KafkaAccess(KAFKA_USER, write=tuple(s.topic for s in STREAMS), optional=True)
KAFKA_SECRET = KAFKA.secret  # served by the kafka app
OWN_CONTAINER_FILES = [s.containers for s in STREAMS if s.containers] + ["/var/log/containers/fluent-bit-*_logging_*.log"]
LOKI_LABELS = ("job=fluent-bit, node=$kubernetes['host'], namespace=$kubernetes['namespace_name'], "
               "pod=$kubernetes['pod_name'], container=$kubernetes['container_name'], "
               "container_image=$kubernetes['container_image']")


def _section(kind: str, *pairs: tuple[str, object], **keys: object) -> str:
    """One classic-mode section; `pairs` for keys that repeat (Allowlist_key)."""
    items = [*pairs, *keys.items()]
    width = max(len(k) for k, _ in items) + 1
    lines = [f"[{kind}]"] + [f"    {k.ljust(width)}{v}" for k, v in items if v is not None]
    return "\n".join(lines) + "\n"


def inputs() -> str:
    out = [
        _section("INPUT", Name="tail", Tag="kube.*", Path="/var/log/containers/*.log",
                 Exclude_Path=",".join(OWN_CONTAINER_FILES), **{"multiline.parser": "cri"},
                 DB="/var/log/flb-storage/tail-containers.db", Mem_Buf_Limit="50MB", Skip_Long_Lines="On",
                 **{"storage.type": "filesystem"}),
        _section("INPUT", Name="systemd", Tag="host.*", DB="/var/log/flb-storage/systemd.db", Read_From_Tail="On",
                 Strip_Underscores="On", **{"storage.type": "filesystem"}),
    ]
    for s in STREAMS:
        path = s.path or s.containers
        if path:
            out.append(_section("INPUT", Name="tail", Tag=s.tag, Path=path,
                                DB=f"/var/log/flb-storage/tail-{s.tag}.db",
                                **({"multiline.parser": "cri"} if s.containers else {}),
                                Mem_Buf_Limit="20MB", Skip_Long_Lines="On", **{"storage.type": "filesystem"}))
    return "\n".join(out)


def filters() -> str:
    out = [
        _section("FILTER", Name="kubernetes", Match="kube.*", Merge_Log="On", Keep_Log="Off",
                 **{"K8S-Logging.Parser": "On", "K8S-Logging.Exclude": "On"}),
        # Only what Loki indexes or shows of the journal.
        _section("FILTER", ("Name", "record_modifier"), ("Match", "host.*"),
                 *(("Allowlist_key", k) for k in ("MESSAGE", "HOSTNAME", "SYSLOG_IDENTIFIER"))),
    ]
    for s in STREAMS:
        if s.grep and s.containers:
            out.append(_section("FILTER", Name="grep", Match=s.tag, Regex=s.grep))
        elif s.grep:
            # A copy of the matching container records goes to the stream; the original stays in Loki.
            out.append(_section("FILTER", Name="rewrite_tag", Match="kube.*", Rule=f"${s.grep} {s.tag} true",
                                Emitter_Name=f"re_emitted_{s.tag.replace('.', '_')}",
                                **{"Emitter_Storage.type": "filesystem"}))
    return "\n".join(out)


def outputs(kafka: bool) -> str:
    loki_match = "kube.*|host.*" if kafka else "kube.*|host.*|security.*"
    out = [_section("OUTPUT", Name="loki", Match_Regex=f"^({loki_match.replace('.', '[.]').replace('*', '.*')})$",
                    Host=f"{PUSH_SERVICE}.{NAMESPACE}.svc.cluster.local", Port=LOKI_PORT, tenant_id=TENANT,
                    labels=LOKI_LABELS, line_format="json", Retry_Limit="False",
                    **{"storage.total_limit_size": "5G"})]
    if kafka:
        for s in STREAMS:
            out.append(_section(
                "OUTPUT", Name="kafka", Match=s.tag, Brokers="${KAFKA_BOOTSTRAP_SERVERS}", Topics=s.topic,
                Format="json", Retry_Limit="False",
                **{"rdkafka.security.protocol": "SASL_SSL", "rdkafka.sasl.mechanism": "SCRAM-SHA-512",
                   "rdkafka.sasl.username": "${KAFKA_USERNAME}", "rdkafka.sasl.password": "${KAFKA_PASSWORD}",
                   "rdkafka.ssl.ca.location": KAFKA_CA,
                   "rdkafka.ssl.endpoint.identification.algorithm": "https",
                   "storage.total_limit_size": "5G"}))
    return "\n".join(out)


def values(ctx: AppContext) -> dict:
    kafka = ctx.enabled(KAFKA_APP)
    env = []
    volumes = [{"name": "varlog", "hostPath": {"path": "/var/log"}},
               {"name": "etcmachineid", "hostPath": {"path": "/etc/machine-id", "type": "File"}}]
    mounts = [{"name": "varlog", "mountPath": "/var/log"},
              {"name": "etcmachineid", "mountPath": "/etc/machine-id", "readOnly": True}]
    if kafka:
        env = [{"name": name, "valueFrom": {"secretKeyRef": {"name": KAFKA_SECRET, "key": key}}}
               for name, key in (("KAFKA_BOOTSTRAP_SERVERS", "bootstrap.servers"), ("KAFKA_USERNAME", "username"),
                                 ("KAFKA_PASSWORD", "password"))]
        volumes.append({"name": "kafka-ca", "secret": {"secretName": KAFKA_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]}})
        mounts.append({"name": "kafka-ca", "mountPath": "/fluent-bit/kafka", "readOnly": True})
    return {
        "kind": "DaemonSet",
        # Every node, tainted ones included (control plane, Ceph, processing).
        "tolerations": [{"operator": "Exists"}],
        "priorityClassName": "system-node-critical",
        # Root without capabilities: the node's log files are root-owned.
        "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "resources": ctx.resources("fluentBit", Resources("25m", "64Mi", memory_limit="512Mi")).render(),
        "env": env,
        "daemonSetVolumes": volumes,
        "daemonSetVolumeMounts": mounts,
        "serviceMonitor": {"enabled": ctx.service_monitors, "interval": "2m"},
        "config": {
            "service": _section("SERVICE", Daemon="Off", Flush="{{ .Values.flush }}", Log_Level="{{ .Values.logLevel }}",
                                Parsers_File="/fluent-bit/etc/parsers.conf", HTTP_Server="On", HTTP_Listen="0.0.0.0",
                                HTTP_Port="{{ .Values.metricsPort }}", Health_Check="On",
                                **{"storage.path": STORAGE, "storage.sync": "normal", "storage.backlog.mem_limit": "50M",
                                   "storage.metrics": "On"}),
            "inputs": inputs(),
            "filters": filters(),
            "outputs": outputs(kafka),
            "customParsers": "",
        },
    }


APP = App(
    name="fluent-bit",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values),),
    # Without Kafka (disabled) the node logs still go to Loki; the claim's flow reaches the brokers (or the
    # managed Kafka's CIDRs in external mode) on their TLS/SCRAM listener only.
    claims=(KAFKA,),
    depends_on=("loki",),
    description="node log shipper → Loki, security/trace streams → Kafka",
)
