"""Kafka (infra): the Strimzi cluster `kafka` in KRaft mode, serving every `KafkaAccess` claim.

- KRaft: a 3-node controller quorum (`KafkaNodePool` `controllers`) takes over the four roles
  ZooKeeper had in 2023 (controller election, topic configuration, ACLs, cluster membership), and
  3 brokers (`brokers`) in prod; one combined node (`dual`) in dev. Kafka 4.3.1, metadata 4.3-IV0;
- the 2023 broker settings, with safe replication in prod (default RF 3, min ISR 2, offsets and
  transaction logs RF 3) where 2023 ran RF 1 / min ISR 1;
- one listener, `tls` on 9093: TLS + SCRAM-SHA-512 (2023: plaintext 9092, no auth), simple
  authorization; the cluster CA is ours (pulumi-tls, RSA 4096, 10 years) so each client Secret carries
  `ca.crt`; one `KafkaUser` per claim with ACLs (read: Read+Describe, write: Write+Describe, groups:
  Read), its password generated; an admin user `coprs-admin` (superuser, stack output);
- the log pipeline's `KafkaTopic`s of 2023 (`fluentbit.*`, plus the production `processing`/`system`);
- every pod restricted (Strimzi's restricted provider and explicit templates), required anti-affinity,
  Kafka Exporter, Strimzi Metrics Reporter, PodMonitors when the monitoring stack runs;
- **external mode** (`settings.external`): no broker; the claims' Secrets carry the managed service's
  bootstrap servers, SASL mechanism, CA and the credentials of secret config `coprs:kafkaExternalCredentials`
  (JSON: user → {username, password}); the clients' egress goes to `external.cidrs` only.
"""

from __future__ import annotations

from typing import Literal, Optional

import pulumi
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ...config import NAMESPACE as CONFIG_NS, ConfigError
from ...storage.backups import Backup
from ..app import App, AppContext, AppSettings, logical
from ..claims import KAFKA, KAFKA_BOOTSTRAP, KAFKA_NAMESPACE, KAFKA_PORT, KafkaAccess, claimed, serve
from ..datastore import InternalCa, credentials, password, restricted_container, restricted_pod, secret, storage_gb
from ..placement import Resources
from .strimzi import CRDS

API = f"{CRDS[0]}/v1"
KAFKA_VERSION = "4.3.1"
METADATA_VERSION = "4.3-IV0"
ADMIN_USER = "coprs-admin"
EXTERNAL_CREDENTIALS = "kafkaExternalCredentials"
CLUSTER_LABEL = {"strimzi.io/cluster": KAFKA}

# The 2023 log topics (coprs-2023-implementation §3.3): security streams and the trace stream.
SECURITY_TOPIC = {"retention.bytes": 715827882, "retention.ms": -1, "segment.bytes": 178956970}
TRACE_TOPIC = {"retention.bytes": -1, "retention.ms": 604800000, "segment.bytes": 89478485}
TOPICS: dict[str, dict] = {
    **{f"fluentbit.{t}": SECURITY_TOPIC for t in ("auditd", "falco", "ingress", "keycloak", "wazuh", "processing", "system")},
    "fluentbit.trace": TRACE_TOPIC,
}
TOPIC_PARTITIONS = 6


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class External(_Model):
    """A managed Kafka service instead of the Strimzi cluster."""

    bootstrap_servers: str = Field(pattern=r"^[A-Za-z0-9.-]+:\d+(,[A-Za-z0-9.-]+:\d+)*$")
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    security_protocol: Literal["SASL_SSL"] = "SASL_SSL"
    ca_cert: str = ""  # PEM of the service's CA (public); empty: the system trust store
    cidrs: list[str] = Field(min_length=1)  # where the brokers are (the clients' egress)


class Settings(AppSettings):
    external: Optional[External] = None
    topic_partitions: int = Field(TOPIC_PARTITIONS, ge=1, le=1000)


def _rf(ctx: AppContext) -> tuple[int, int]:
    """(replication factor, min ISR) of the cluster: 3/2 with 3+ brokers, else 1/1."""
    return (3, 2) if _brokers(ctx) >= 3 else (1, 1)


def _brokers(ctx: AppContext) -> int:
    return ctx.replicas(3, 1)


def broker_config(ctx: AppContext) -> dict:
    rf, isr = _rf(ctx)
    return {
        "default.replication.factor": rf,
        "min.insync.replicas": isr,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "num.partitions": 1,
        "log.retention.hours": 168,
        "log.segment.bytes": 1073741824,
        "auto.create.topics.enable": False,
        "delete.topic.enable": True,
        "unclean.leader.election.enable": False,
    }


def _pod_template(ctx: AppContext, labels: dict, container: str) -> dict:
    """Pod + container templates: restricted, infra nodes, one pod per node (prod)."""
    term = {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}
    anti = ({"requiredDuringSchedulingIgnoredDuringExecution": [term]} if ctx.prod else
            {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]})
    return {
        "pod": {"securityContext": restricted_pod(), "affinity": {**ctx.affinity(), "podAntiAffinity": anti}},
        container: {"securityContext": restricted_container()},
    }


def node_pool_specs(ctx: AppContext) -> dict[str, dict]:
    def pool(name: str, roles: list[str], replicas: int, size: str, res: Resources) -> dict:
        return {
            "replicas": replicas,
            "roles": roles,
            "storage": {"type": "jbod", "volumes": [{"id": 0, "type": "persistent-claim", "size": size,
                                                     "deleteClaim": False, "kraftMetadata": "shared"}]},
            "resources": ctx.resources(name, res).render(),
            "template": _pod_template(ctx, {**CLUSTER_LABEL, "strimzi.io/pool-name": name}, "kafkaContainer"),
        }

    broker_res = Resources("500m", "3Gi", "2", "6Gi") if ctx.prod else Resources("200m", "2Gi", "1", "4Gi")
    if ctx.replicas(3, 1) == 1 and not ctx.prod:
        return {"dual": pool("dual", ["controller", "broker"], 1, storage_gb(ctx, 50), broker_res)}
    return {
        "controllers": pool("controllers", ["controller"], 3, "20Gi", Resources("200m", "1Gi", "1", "2Gi")),
        "brokers": pool("brokers", ["broker"], _brokers(ctx), storage_gb(ctx, 200), broker_res),
    }


def kafka_spec(ctx: AppContext) -> dict:
    small = lambda name: ctx.resources(name, Resources("50m", "200Mi", "200m", "400Mi")).render()  # noqa: E731
    eo_template = {
        "pod": {"securityContext": restricted_pod(), "affinity": ctx.affinity()},
        "topicOperatorContainer": {"securityContext": restricted_container()},
        "userOperatorContainer": {"securityContext": restricted_container()},
    }
    return {
        "kafka": {
            "version": KAFKA_VERSION,
            "metadataVersion": METADATA_VERSION,
            "listeners": [{"name": "tls", "port": KAFKA_PORT, "type": "internal", "tls": True,
                           "authentication": {"type": "scram-sha-512"}}],
            "authorization": {"type": "simple", "superUsers": [f"User:{ADMIN_USER}"]},
            "config": broker_config(ctx),
            "metricsConfig": {"type": "strimziMetricsReporter"},
            "template": {"pod": {"securityContext": restricted_pod()},
                         "kafkaContainer": {"securityContext": restricted_container()}},
        },
        "clusterCa": {"generateCertificateAuthority": False},
        "entityOperator": {
            "topicOperator": {"resources": small("topicOperator")},
            "userOperator": {"resources": small("userOperator")},
            "template": eo_template,
        },
        "kafkaExporter": {
            "topicRegex": ".*",
            "groupRegex": ".*",
            "resources": ctx.resources("kafkaExporter", Resources("40m", "32Mi", "200m", "128Mi")).render(),
            "template": {"pod": {"securityContext": restricted_pod(), "affinity": ctx.affinity()},
                         "container": {"securityContext": restricted_container()}},
        },
    }


def topic_spec(ctx: AppContext, config: dict) -> dict:
    rf, isr = _rf(ctx)
    return {"partitions": ctx.settings.topic_partitions, "replicas": rf,
            "config": {**config, "min.insync.replicas": isr, "cleanup.policy": "delete",
                       "unclean.leader.election.enable": False}}


def _resource(kind: str, name: str) -> dict:
    if name == "*":  # every topic or group: Kafka's literal wildcard (an empty prefix is refused)
        return {"type": kind, "name": "*", "patternType": "literal"}
    if name.endswith("*"):
        return {"type": kind, "name": name[:-1], "patternType": "prefix"}
    return {"type": kind, "name": name, "patternType": "literal"}


def acls(claim: KafkaAccess) -> list[dict]:
    out = [{"type": "allow", "resource": _resource("topic", t), "operations": ["Read", "Describe"]} for t in claim.read]
    out += [{"type": "allow", "resource": _resource("topic", t), "operations": ["Write", "Describe"]} for t in claim.write]
    out += [{"type": "allow", "resource": _resource("topic", t), "operations": ["Create", "Describe"]} for t in claim.create]
    out += [{"type": "allow", "resource": _resource("group", g), "operations": ["Read"]} for g in claim.groups]
    out += [{"type": "allow", "resource": _resource(kind, d), "operations": ["Describe"]}
            for d in claim.describe for kind in ("topic", "group")]
    return out


def _users(ctx: AppContext) -> dict[str, tuple[KafkaAccess, list]]:
    """user → (merged claim, consumers); one user claimed twice must ask for the same rights."""
    users: dict[str, tuple[KafkaAccess, list]] = {}
    for consumer, claim in claimed(ctx, KafkaAccess):
        if claim.user in users and (users[claim.user][0].read, users[claim.user][0].write, users[claim.user][0].groups, users[claim.user][0].create, users[claim.user][0].describe) \
                != (claim.read, claim.write, claim.groups, claim.create, claim.describe):
            raise ConfigError([f"two apps claim Kafka user {claim.user} with different ACLs "
                               f"({users[claim.user][1][0][0].name}, {consumer.name}): give each its own user"])
        users.setdefault(claim.user, (claim, []))[1].append((consumer, claim))
    return users


def client_secret(bootstrap: str, protocol: str, mechanism: str, user, pw, ca) -> dict:
    module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mechanism == "PLAIN"
              else "org.apache.kafka.common.security.scram.ScramLoginModule")
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": protocol,
        "sasl.mechanism": mechanism,
        "username": user,
        "password": pw,
        "sasl.jaas.config": pulumi.Output.concat(module, ' required username="', user, '" password="', pw, '";'),
        "ca.crt": ca,
    }


def _external(ctx: AppContext, ext: External) -> None:
    key = f"{CONFIG_NS}:{EXTERNAL_CREDENTIALS}"
    try:
        raw = pulumi.Config(CONFIG_NS).get_object(EXTERNAL_CREDENTIALS) or {}
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raise ConfigError([f"{key} must be a JSON object: user → {{username, password}}"])
    for user, (_, consumers) in sorted(_users(ctx).items()):
        entry = raw.get(user)
        if not isinstance(entry, dict) or not entry.get("username") or not entry.get("password"):
            raise ConfigError([f"{key} has no {{username, password}} for Kafka user {user} (claimed by "
                               f"{', '.join(c.name for c, _ in consumers)}); set it with pulumi config set --secret"])
        pw = pulumi.Output.secret(entry["password"])
        for consumer, claim in consumers:
            serve(ctx, consumer, claim, client_secret(ext.bootstrap_servers, ext.security_protocol, ext.sasl_mechanism,
                                                      entry["username"], pw, ext.ca_cert))


def objects(ctx: AppContext) -> None:
    if ctx.settings.external is not None:
        _external(ctx, ctx.settings.external)
        return
    if not ctx.enabled("strimzi"):
        raise ConfigError([f"{CONFIG_NS}:platform.apps.kafka needs platform.apps.strimzi (the operator) "
                           "unless settings.external names a managed Kafka"])
    ca = InternalCa(ctx, "cluster", "coprs Kafka cluster CA", algorithm="RSA")
    ca_labels = {**CLUSTER_LABEL, "strimzi.io/kind": "Kafka"}
    ca_secrets = (
        secret(ctx, f"{KAFKA}-cluster-ca-cert", {"ca.crt": ca.cert_pem}, labels=ca_labels,
               annotations={"strimzi.io/ca-cert-generation": "0"}),
        secret(ctx, f"{KAFKA}-cluster-ca", {"ca.key": ca.key_pkcs8}, labels=ca_labels,
               annotations={"strimzi.io/ca-key-generation": "0"}),
    )
    pools = [ctx.custom_resource(name, API, "KafkaNodePool", spec, labels=CLUSTER_LABEL)
             for name, spec in node_pool_specs(ctx).items()]
    cluster = ctx.custom_resource(KAFKA, API, "Kafka", kafka_spec(ctx), depends_on=(*ca_secrets, *pools))
    for topic, config in TOPICS.items():
        ctx.custom_resource(topic.replace(".", "-"), API, "KafkaTopic", {"topicName": topic, **topic_spec(ctx, config)},
                            labels=CLUSTER_LABEL, depends_on=(cluster,))

    users = {ADMIN_USER: (None, [])} | _users(ctx)
    for user, (claim, consumers) in users.items():
        pw = password(ctx, f"user-{user}", protect=user == ADMIN_USER)
        pw_secret = secret(ctx, f"kafka-user-{user}", {"password": pw})
        spec: dict = {"authentication": {"type": "scram-sha-512", "password": {
            "valueFrom": {"secretKeyRef": {"name": f"kafka-user-{user}", "key": "password"}}}}}
        if claim is not None:
            spec["authorization"] = {"type": "simple", "acls": acls(claim)}
        kafka_user = ctx.custom_resource(user, API, "KafkaUser", spec, labels=CLUSTER_LABEL,
                                         depends_on=(cluster, pw_secret))
        if user == ADMIN_USER:
            credentials(ctx, f"kafka-user-{user}", {"username": user, "password": pw, "bootstrap": KAFKA_BOOTSTRAP})
        for consumer, c in consumers:
            serve(ctx, consumer, c, client_secret(KAFKA_BOOTSTRAP, "SASL_SSL", "SCRAM-SHA-512", user, pw, ca.cert_pem),
                  depends_on=(kafka_user,))

    metrics = {"port": "tcp-prometheus", "interval": "2m"}
    ctx.monitor(logical(KAFKA, "brokers"), {**CLUSTER_LABEL, "strimzi.io/kind": "Kafka"}, metrics)
    # the topic and user operators (Strimzi's own example monitor: port `healthcheck`, /metrics)
    ctx.monitor(logical(KAFKA, "entity-operator"), {**CLUSTER_LABEL, "app.kubernetes.io/name": "entity-operator"},
                {"port": "healthcheck", "path": "/metrics", "interval": "2m"})
    ctx.monitor(logical(KAFKA, "exporter"), {**CLUSTER_LABEL, "strimzi.io/name": f"{KAFKA}-kafka-exporter"}, metrics)


APP = App(
    name=KAFKA,
    namespace=KAFKA_NAMESPACE,
    roles=("kafka",),
    stateful=True,
    # Topics are buffers of the log pipeline; their volumes are backed up like any other (Velero, Kopia).
    # In external mode the Schedule selects nothing: the managed service keeps its own data.
    backups=(Backup(selector=CLUSTER_LABEL, restore="Velero restore of the kafka objects and volumes (README: Restore)"),),
    optional=("strimzi",),
    settings=Settings,
    objects=objects,
    description="Kafka in KRaft mode (Strimzi node pools), or the endpoint of a managed Kafka",
)
