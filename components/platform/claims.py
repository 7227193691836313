"""Claims: what an app needs another app (or the storage layer) to serve it, declared in the app's module.

A claim names the role that serves it (`role`, a class attribute) and the Secret the server creates in the
consumer's namespace (`secret`); the consumer's values reference that Secret by name. The framework disables
a consumer whose claim no enabled app or layer can serve ("needs <role>", unless `optional`), orders it
after the app that serves it, and makes its releases wait for what was served (`AppContext.serve`).

Subclass with `@dataclass(frozen=True, kw_only=True)` and give the role::

    @dataclass(frozen=True, kw_only=True)
    class Database(Claim):
        role: ClassVar[str] = "database"
        name: str
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from .flows import Flow, Peer, Port, pods

if TYPE_CHECKING:
    from .app import App, AppContext


@dataclass(frozen=True, kw_only=True)
class Claim:
    role: ClassVar[str] = ""
    secret: str  # the Secret the server creates for the consumer
    namespace: Optional[str] = None  # where that Secret goes; default: the consumer's namespace
    optional: bool = False  # not served (instead of disabling the consumer) when no one plays the role
    # Labels of the consumer's pods that connect (the claim's flow starts there); default every pod of its namespace.
    clients: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Bucket(Claim):
    """Object storage: credentials for the bucket `<bucketPrefix>-<suffix>` in the format the app reads.

    Served by the storage layer; formats: "thanos-objstore" (objstore.yml), "aws-env" (AWS_* variables),
    "eck-keystore" (ECK secureSettings entries), "aws-credentials-file" (key `cloud`, Velero).
    """

    role: ClassVar[str] = "object-storage"
    suffix: str
    format: str

# ---------------------------------------------------------------------------------------------
# data claims (issue 12): served by postgresql ("database"), kafka, mongodb, elasticsearch-processing/-security.
# Secret keys (the consumer's values reference them by name):
# - Database: host, port, dbname, user, password, uri, jdbc-uri, ca.crt (TLS required, verify-full);
# - KafkaAccess: bootstrap.servers, security.protocol (SASL_SSL), sasl.mechanism (SCRAM-SHA-512), username,
#   password, sasl.jaas.config, ca.crt;
# - MongoUser: uri, username, password (+ ca.crt: TLS only);
# - ElasticsearchUser: url, username, password, ca.crt.
# A claim opens one flow: the consumer's namespace → the server's pods on the service port (claim_flows).

# Where each role's server lives; the server modules import these.
POSTGRESQL = "postgresql"
POSTGRESQL_NAMESPACE = "database"
POSTGRESQL_HOST = f"{POSTGRESQL}-rw.{POSTGRESQL_NAMESPACE}.svc"
POSTGRESQL_PORT = 5432
POSTGRESQL_PODS = {"cnpg.io/cluster": POSTGRESQL}

KAFKA = "kafka"
KAFKA_NAMESPACE = "infra"
KAFKA_PORT = 9093
KAFKA_BOOTSTRAP = f"{KAFKA}-kafka-bootstrap.{KAFKA_NAMESPACE}.svc:{KAFKA_PORT}"
KAFKA_BROKER_PODS = {"strimzi.io/cluster": KAFKA, "strimzi.io/broker-role": "true"}

MONGODB = "mongodb"
MONGODB_NAMESPACE = "database"
MONGODB_PORT = 27017
MONGODB_PODS = {"app": f"{MONGODB}-svc"}  # MCK labels the replica set's pods `app: <name>-svc`

ELASTICSEARCH_PORT = 9200

PG_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # an unquoted PostgreSQL identifier (not reserved by CNPG)
ES_INDEX = re.compile(r"^[a-z0-9_][a-z0-9_.*-]{0,254}$")  # an index name or pattern (no wildcard-only `*`)
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # KafkaUser / Secret names, usernames


def _check(claim: Any, field: str, pattern: re.Pattern, what: str) -> None:
    value = getattr(claim, field)
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"{type(claim).__name__}.{field} = {value!r}: must be {what}")


def _default_secret(claim: Any, value: str) -> None:
    if not claim.secret:
        object.__setattr__(claim, "secret", value)
    _check(claim, "secret", K8S_NAME, "a Kubernetes object name")


@dataclass(frozen=True)
class Database(Claim):
    """A PostgreSQL database and its owner role, both named `name`, in the CNPG cluster `postgresql`."""

    role: ClassVar[str] = "database"
    name: str
    secret: str = field(default="", kw_only=True)  # default f"{name}-postgresql"

    def __post_init__(self) -> None:
        _check(self, "name", PG_NAME, "a lower-case PostgreSQL identifier")
        if self.name in ("postgres", "coprs_admin", "streaming_replica"):
            raise ValueError(f"Database.name = {self.name!r}: reserved by the cluster")
        _default_secret(self, f"{self.name}-postgresql")


@dataclass(frozen=True)
class KafkaAccess(Claim):
    """A KafkaUser (SCRAM-SHA-512) with ACLs: topics it reads and writes, consumer groups it joins."""

    role: ClassVar[str] = "kafka"
    user: str
    secret: str = field(default="", kw_only=True)  # default f"kafka-{user}"
    read: tuple[str, ...] = ()  # topic names, or prefixes ending with `*`
    write: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    create: tuple[str, ...] = ()  # topics it creates itself (the brokers never auto-create)
    describe: tuple[str, ...] = ()  # topics and consumer groups it only describes (lag, offsets: KEDA's scaler)

    def __post_init__(self) -> None:
        _check(self, "user", K8S_NAME, "a Kubernetes object name (the KafkaUser)")
        _default_secret(self, f"kafka-{self.user}")


@dataclass(frozen=True)
class MongoUser(Claim):
    """A MongoDB user owning (readWrite, dbAdmin) one database of the replica set `mongodb`."""

    role: ClassVar[str] = "mongodb"
    user: str
    database: str
    secret: str = field(default="", kw_only=True)  # default f"mongodb-{user}"
    # False: a client whose driver cannot be given our CA (a JVM without a truststore it can be handed) connects
    # without TLS of its own, inside the mesh, whose mTLS encrypts and authenticates the hop; the replica set then
    # accepts both (preferTLS). Every other client, and the members among themselves, use TLS.
    tls: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        _check(self, "user", K8S_NAME, "a Kubernetes object name")
        _default_secret(self, f"mongodb-{self.user}")


@dataclass(frozen=True)
class ElasticsearchUser(Claim):
    """A file-realm user of one Elasticsearch cluster with the given (built-in or declared) roles.

    `role` (the serving app) is "elasticsearch-processing" by default; `ElasticsearchUser.security(...)`
    claims a user of the security cluster.
    """

    role: ClassVar[str] = "elasticsearch-processing"
    user: str
    roles: tuple[str, ...] = ()
    read: tuple[str, ...] = ()  # index patterns it searches (read, view_index_metadata)
    write: tuple[str, ...] = ()  # index patterns it creates and appends documents to (no update, no delete)
    secret: str = field(default="", kw_only=True)  # default f"elasticsearch-{user}"

    def __post_init__(self) -> None:
        _check(self, "user", K8S_NAME, "a Kubernetes object name")
        _default_secret(self, f"elasticsearch-{self.user}")
        for pattern in (*self.read, *self.write):
            if not isinstance(pattern, str) or not ES_INDEX.match(pattern):
                raise ValueError(f"{type(self).__name__}.read/write = {pattern!r}: must be a lower-case index pattern")

    @property
    def index_role(self) -> Optional[tuple[str, dict]]:
        """The role its `read`/`write` patterns make (name, roles.yml body), or None."""
        if not (self.read or self.write):
            return None
        indices = []
        if self.read:
            indices.append({"names": list(self.read), "privileges": ["read", "view_index_metadata"]})
        if self.write:
            indices.append({"names": list(self.write),
                            "privileges": ["create_index", "create_doc", "view_index_metadata", "auto_configure"]})
        # `monitor`: GET / (version check of clients such as fluent-plugin-elasticsearch), cluster health
        return f"coprs_{self.user.replace('-', '_')}", {"cluster": ["monitor"], "indices": indices}

    @property
    def all_roles(self) -> tuple[str, ...]:
        own = self.index_role
        return (*self.roles, own[0]) if own else self.roles

    @property
    def cluster(self) -> str:
        return type(self).role

    @staticmethod
    def security(user: str, roles: tuple[str, ...] = (), **kw: Any) -> "ElasticsearchUser":
        return SecurityElasticsearchUser(user, roles, **kw)


@dataclass(frozen=True)
class SecurityElasticsearchUser(ElasticsearchUser):
    role: ClassVar[str] = "elasticsearch-security"

    def __post_init__(self) -> None:
        _check(self, "user", K8S_NAME, "a Kubernetes object name")
        _default_secret(self, f"elasticsearch-security-{self.user}")

# ---------------------------------------------------------------------------------------------
# the servers' side of the data claims


def claimed(ctx: "AppContext", kind: type) -> list[tuple["App", Any]]:
    """`ctx.claims(kind)` restricted to the roles this app plays (two Elasticsearch apps, one claim type)."""
    return [(a, c) for a, c in ctx.claims(kind) if c.role in ctx.app.roles]


def consumer_namespace(app: "App", claim: Claim) -> str:
    return claim.namespace or app.namespace


def serve(ctx: "AppContext", consumer: "App", claim: Claim, data: Mapping[str, Any],
          depends_on: Iterable[pulumi.Resource] = ()) -> k8s.core.v1.Secret:
    """The claim's Secret in the consumer's namespace; the consumer's releases wait for it (`ctx.serve`)."""
    ns = consumer_namespace(consumer, claim)
    secret = k8s.core.v1.Secret(
        f"{ctx.app.name}-serves-{consumer.name}-{ns}-{claim.secret}",
        metadata={
            "name": claim.secret,
            "namespace": ns,
            "labels": {"app.kubernetes.io/part-of": "coprs", "coprs.esa.int/served-by": ctx.app.name,
                       "coprs.esa.int/consumer": consumer.name},
        },
        type="Opaque",
        string_data=pulumi.Output.secret(dict(data)),
        opts=ctx.opts(namespace=ns, depends_on=tuple(depends_on)),
    )
    ctx.serve(consumer, claim, secret)
    return secret


def claim_flows(app: "App", cfg: Any, has_role: Callable[[str], bool]) -> list[Flow]:
    """The one flow each served data claim needs: the consumer's namespace → the server's pods, service port."""
    out: list[Flow] = []
    for c in app.claims:
        if not has_role(c.role):
            continue
        ns = consumer_namespace(app, c)
        src = pods(ns, dict(c.clients))
        # Flows are named per namespace; claims limited to some pods of it are named apart (SCDF's two databases).
        own = f"-{c.secret}" if c.clients else ""
        if isinstance(c, Database):
            out.append(Flow(f"postgresql-client{own}", src, pods(POSTGRESQL_NAMESPACE, POSTGRESQL_PODS),
                            (Port(POSTGRESQL_PORT),), f"{app.name} → PostgreSQL"))
        elif isinstance(c, KafkaAccess):
            external = _kafka_external(cfg)
            if external is None:
                out.append(Flow(f"kafka-client{own}", src, pods(KAFKA_NAMESPACE, KAFKA_BROKER_PODS),
                                (Port(KAFKA_PORT),), f"{app.name} → Kafka brokers (TLS, SCRAM)"))
            else:
                out.append(Flow(f"kafka-external{own}", src, Peer(cidrs=tuple(external["cidrs"])),
                                tuple(Port(p) for p in external["ports"]), f"{app.name} → the managed Kafka"))
        elif isinstance(c, MongoUser):
            out.append(Flow(f"mongodb-client{own}", src, pods(MONGODB_NAMESPACE, MONGODB_PODS), (Port(MONGODB_PORT),),
                            f"{app.name} → MongoDB"))
        elif isinstance(c, ElasticsearchUser):
            es = c.cluster
            out.append(Flow(f"{es}-client{own}", src, pods(ELASTICSEARCH_NAMESPACES[es], {"elasticsearch.k8s.elastic.co/cluster-name": es}),
                            (Port(ELASTICSEARCH_PORT),), f"{app.name} → {es}"))
    return out


ELASTICSEARCH_NAMESPACES = {"elasticsearch-processing": "database", "elasticsearch-security": "security"}


def kafka_external(cfg: Any) -> Optional[Mapping[str, Any]]:
    """`platform.apps.kafka.settings.external` (the managed Kafka the clients use instead of ours), or None."""
    return (cfg.platform.app(KAFKA).settings or {}).get("external") or None


def _kafka_external(cfg: Any) -> Optional[dict]:
    """The external Kafka's egress (CIDRs and ports) when `platform.apps.kafka.settings.external` is set."""
    ext = kafka_external(cfg)
    if not ext:
        return None
    ports = sorted({int(s.rsplit(":", 1)[1]) for s in str(ext.get("bootstrapServers", "")).split(",") if ":" in s})
    return {"cidrs": ext.get("cidrs") or [], "ports": ports or [KAFKA_PORT]}
