"""Fluentd (logging): the aggregator from Kafka to Elasticsearch (fluent chart 0.6.0, Fluentd 1.19.3).

- a StatefulSet of 2 (1 in dev) consuming the log pipeline's topics with consumer group `fluentd`
  (`rdkafka_group`: librdkafka, since ruby-kafka cannot join groups on Kafka 4), over SASL_SSL /
  SCRAM-SHA-512 with the KafkaUser `fluentd`'s Secret `kafka-fluentd` (KafkaAccess claim) and its CA;
- `fluentbit.trace` (REPORTS) → Elasticsearch processing, daily index `processing_trace-YYYY.MM.DD`
  (bulk `create`, append only: its users may create those indices and add documents, nothing else);
  the security topics → Elasticsearch security, one daily index per stream; both with the
  `ElasticsearchUser` Secrets of the data issue (url, user, password, CA; certificates verified);
- file buffers on a ceph-block volume per replica, retried forever and blocking the input when full, so
  a slow Elasticsearch never drops a record (Kafka keeps the rest);
- image: `fluent/fluentd-kubernetes-daemonset` debian-kafka2 variant (rdkafka + fluent-plugin-kafka,
  pinned by tag) with fluent-plugin-elasticsearch 6.0.0 installed at start (the chart's `plugins`): no
  published image carries both librdkafka and the Elasticsearch output. A mirrored image with both is the
  production fix (README, "what is missing").

Needs the Kafka and both Elasticsearch apps (its claims): with any of them disabled it is off.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..app import App, AppContext, Chart, ChartRelease
from ..claims import ElasticsearchUser, KafkaAccess
from ..placement import Resources
from .fluent_bit import STREAMS
from .loki import NAMESPACE

CHART = Chart("fluentd", "https://fluent.github.io/helm-charts", "0.6.0")
IMAGE = {"repository": "docker.io/fluent/fluentd-kubernetes-daemonset", "tag": "v1.19.3-debian-kafka2-1.1"}
ES_PLUGIN = "fluent-plugin-elasticsearch --version 6.0.0"
GROUP = "fluentd"
CA_DIR = "/etc/fluentd-tls"
BUFFERS = "/var/log/fluent"  # the chart mounts the persistent volume here
PODS = {"app.kubernetes.io/name": "fluentd"}


@dataclass(frozen=True)
class Sink:
    """One Elasticsearch cluster, the topics that go to it, and the Secret of its ElasticsearchUser."""

    name: str  # app name (and role) of the Elasticsearch cluster
    namespace: str
    topics: tuple[str, ...]
    index: str  # logstash prefix


    @property
    def claim(self) -> ElasticsearchUser:
        """Its user: creates the sink's daily indices and appends to them, nothing else."""
        make = ElasticsearchUser.security if self.name == "elasticsearch-security" else ElasticsearchUser
        return make("fluentd", write=(f"{self.index}-*",))

    @property
    def secret(self) -> str:
        return self.claim.secret


SINKS = (
    Sink("elasticsearch-processing", "database", tuple(s.topic for s in STREAMS if s.tag == "trace"), "processing_trace"),
    Sink("elasticsearch-security", "security", tuple(s.topic for s in STREAMS if s.tag.startswith("security.")), "security"),
)

KAFKA = KafkaAccess("fluentd", read=tuple(t for s in SINKS for t in s.topics), groups=(GROUP,))
KAFKA_SECRET = KAFKA.secret

def _env(sink: Sink) -> str:
    return sink.name.split("-")[-1].upper()


def sources() -> str:
    out = []
    for sink in SINKS:
        opts = ", ".join(f'"{k}": "{v}"' for k, v in (
            ("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "#{ENV['KAFKA_USERNAME']}"), ("sasl.password", "#{ENV['KAFKA_PASSWORD']}"),
            ("ssl.ca.location", f"{CA_DIR}/kafka/ca.crt"), ("ssl.endpoint.identification.algorithm", "https"),
            ("enable.auto.commit", "true")))
        out.append(f"""<source>
  @type rdkafka_group
  @id kafka_{_env(sink).lower()}
  @label @{_env(sink)}
  brokers "#{{ENV['KAFKA_BOOTSTRAP_SERVERS']}}"
  topics {",".join(sink.topics)}
  consumer_group {GROUP}
  format json
  add_prefix kafka
  rdkafka_options {{{opts}}}
</source>""")
    out.append("""<source>
  @type prometheus
  bind 0.0.0.0
  port 24231
  metrics_path /metrics
</source>
<source>
  @type prometheus_output_monitor
</source>""")
    return "\n".join(out) + "\n"


def outputs() -> str:
    out = []
    for sink in SINKS:
        e = _env(sink)
        out.append(f"""<label @{e}>
  <match **>
    @type elasticsearch
    @id es_{e.lower()}
    hosts "#{{ENV['ES_{e}_URL']}}"
    user "#{{ENV['ES_{e}_USERNAME']}}"
    password "#{{ENV['ES_{e}_PASSWORD']}}"
    ssl_verify true
    ca_file {CA_DIR}/{sink.name}/ca.crt
    logstash_format true
    logstash_prefix {sink.index}
    logstash_dateformat %Y.%m.%d
    include_tag_key true
    verify_es_version_at_startup true
    suppress_type_name true
    write_operation create
    <buffer tag, time>
      @type file
      path {BUFFERS}/{sink.name}
      timekey 1h
      flush_mode interval
      flush_interval 10s
      flush_thread_count 2
      retry_forever true
      retry_max_interval 60s
      chunk_limit_size 8MB
      total_limit_size 8GB
      overflow_action block
    </buffer>
  </match>
</label>""")
    return "\n".join(out) + "\n"


def _ref(secret: str, key: str) -> dict:
    return {"secretKeyRef": {"name": secret, "key": key}}


def values(ctx: AppContext) -> dict:
    env = [{"name": n, "valueFrom": _ref(KAFKA_SECRET, k)} for n, k in (
        ("KAFKA_BOOTSTRAP_SERVERS", "bootstrap.servers"), ("KAFKA_USERNAME", "username"), ("KAFKA_PASSWORD", "password"))]
    volumes = [{"name": "kafka-ca", "secret": {"secretName": KAFKA_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
    mounts = [{"name": "kafka-ca", "mountPath": f"{CA_DIR}/kafka", "readOnly": True}]
    for sink in SINKS:
        e = _env(sink)
        env += [{"name": f"ES_{e}_{k.upper()}", "valueFrom": _ref(sink.secret, k)} for k in ("url", "username", "password")]
        volumes.append({"name": sink.name, "secret": {"secretName": sink.secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]}})
        mounts.append({"name": sink.name, "mountPath": f"{CA_DIR}/{sink.name}", "readOnly": True})
    return {
        "kind": "StatefulSet",
        "replicaCount": ctx.replicas(2, 1),
        "image": IMAGE,
        "plugins": [ES_PLUGIN],
        "mountVarLogDirectory": False,
        "mountDockerContainersDirectory": False,
        "podSecurityPolicy": {"enabled": False},
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "affinity": ctx.affinity(),
        "resources": ctx.resources("fluentd", Resources("100m", "256Mi", memory_limit="1Gi")).render(),
        "persistence": {"enabled": True, "storageClass": "ceph-block", "size": f"{ctx.storage_gb(10)}Gi"},
        "env": env,
        "volumes": volumes,
        "volumeMounts": mounts,
        "metrics": {"serviceMonitor": {"enabled": ctx.service_monitors, "additionalLabels": {}}},
        "dashboards": {"enabled": False},
        "fileConfigs": {"01_sources.conf": sources(), "02_filters.conf": "", "03_dispatch.conf": "",
                        "04_outputs.conf": outputs()},
    }


APP = App(
    name="fluentd",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values),),
    # Each claim opens its one flow: fluentd → the brokers' TLS listener, → each Elasticsearch on 9200.
    claims=(KAFKA, *(s.claim for s in SINKS)),
    description="aggregator: Kafka → Elasticsearch processing (REPORTS) and security",
)
