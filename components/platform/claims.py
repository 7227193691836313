"""Data claims: what an app needs from the backend data services (INTERFACES.md), and how they are served.

A consumer app declares its needs in `App.claims`::

    from ..claims import Database, KafkaAccess
    APP = App(name="keycloak", ..., claims=(Database("keycloak"),))

The app playing the claim's role (`postgresql` plays "database", `kafka` "kafka", `mongodb` "mongodb",
`elasticsearch-processing` / `elasticsearch-security` their own roles) creates the database / user /
ACLs and one Secret named `claim.secret` in the consumer's namespace, before the consumer's releases
(the consumer is ordered after the server). A required claim on a role no enabled app plays disables
the consumer ("needs <role>"); an optional one is simply not served. Each claim also opens the one
network flow it needs: the consumer's namespace to the server's pods on the service port.

Secret keys (the consumer's values reference them by name):
- `Database`: host, port, dbname, user, password, uri, jdbc-uri, ca.crt (TLS required, verify-full);
- `KafkaAccess`: bootstrap.servers, security.protocol (SASL_SSL), sasl.mechanism (SCRAM-SHA-512),
  username, password, sasl.jaas.config, ca.crt;
- `MongoUser`: uri, username, password (+ ca.crt: the replica set speaks TLS only);
- `ElasticsearchUser`: url, username, password, ca.crt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from .flows import Flow, Peer, Port, pods

if TYPE_CHECKING:
    from .app import App, AppContext

try:  # the framework's base once issue 10 lands
    from .app import Claim  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - until then, the same shape here

    @dataclass(frozen=True, kw_only=True)
    class Claim:  # type: ignore[no-redef]
        role: ClassVar[str] = ""
        secret: str = ""
        namespace: Optional[str] = None  # default: the consumer app's namespace
        optional: bool = False


# Where each role's server lives (INTERFACES.md "Names"); the server modules import these.
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

# Until `App.roles` exists: the app that plays each role.
ROLE_APPS: dict[str, str] = {
    "database": POSTGRESQL,
    "kafka": KAFKA,
    "mongodb": MONGODB,
    "elasticsearch-processing": "elasticsearch-processing",
    "elasticsearch-security": "elasticsearch-security",
}


PG_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # an unquoted PostgreSQL identifier (not reserved by CNPG)
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
    read: tuple[str, ...] = ()  # topic names, or prefixes ending with `*`
    write: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self, "user", K8S_NAME, "a Kubernetes object name (the KafkaUser)")
        _default_secret(self, f"kafka-{self.user}")


@dataclass(frozen=True)
class MongoUser(Claim):
    """A MongoDB user owning (readWrite, dbAdmin) one database of the replica set `mongodb`."""

    role: ClassVar[str] = "mongodb"
    user: str
    database: str

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

    def __post_init__(self) -> None:
        _check(self, "user", K8S_NAME, "a Kubernetes object name")
        _default_secret(self, f"elasticsearch-{self.user}")

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
# the framework side (moves into app.py / platform.py with issue 10)


def app_roles(app: "App") -> tuple[str, ...]:
    roles = tuple(getattr(app, "roles", ()) or ())
    return roles or tuple(r for r, name in ROLE_APPS.items() if name == app.name)


def claims(app: "App") -> tuple[Claim, ...]:
    return tuple(getattr(app, "claims", ()) or ())


def server_of(role: str, apps: Iterable["App"]) -> Optional[str]:
    """The enabled app playing a role, if any."""
    return next((a.name for a in apps if role in app_roles(a)), None)


def unserved(app: "App", apps: Iterable["App"]) -> list[str]:
    """Roles of the app's required claims that no app in `apps` plays."""
    apps = list(apps)
    return sorted({c.role for c in claims(app) if not c.optional and server_of(c.role, apps) is None})


def servers(app: "App", apps: Iterable["App"]) -> set[str]:
    """The apps serving this app's claims (it is ordered after them)."""
    apps = list(apps)
    return {s for c in claims(app) if (s := server_of(c.role, apps)) and s != app.name}


def claimed(ctx: "AppContext", kind: type) -> list[tuple["App", Any]]:
    """(consumer app, claim) of every enabled app claiming `kind` from this app (`ctx.claims(kind)`)."""
    mine = set(app_roles(ctx.app))
    return [(a, c) for a in ctx.platform.enabled.values() for c in claims(a)
            if isinstance(c, kind) and c.role in mine]


def consumer_namespace(app: "App", claim: Claim) -> str:
    return claim.namespace or app.namespace


def serve(ctx: "AppContext", consumer: "App", claim: Claim, data: Mapping[str, Any],
          depends_on: Iterable[pulumi.Resource] = ()) -> k8s.core.v1.Secret:
    """The claim's Secret in the consumer's namespace (`ctx.serve(consumer, claim, secret)`)."""
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
    if hasattr(ctx, "serve"):
        ctx.serve(consumer, claim, secret)  # type: ignore[attr-defined]
    ctx.state.setdefault("served", []).append(secret)
    return secret


def claim_flows(app: "App", cfg: Any, enabled: Iterable["App"]) -> list[Flow]:
    """The one flow each served claim needs: the consumer's namespace → the server's pods, service port."""
    enabled = list(enabled)
    out: list[Flow] = []
    for c in claims(app):
        if server_of(c.role, enabled) is None:
            continue
        ns = consumer_namespace(app, c)
        src = pods(ns)
        if isinstance(c, Database):
            out.append(Flow("postgresql-client", src, pods(POSTGRESQL_NAMESPACE, POSTGRESQL_PODS),
                            (Port(POSTGRESQL_PORT),), f"{app.name} → PostgreSQL"))
        elif isinstance(c, KafkaAccess):
            external = _kafka_external(cfg)
            if external is None:
                out.append(Flow("kafka-client", src, pods(KAFKA_NAMESPACE, KAFKA_BROKER_PODS),
                                (Port(KAFKA_PORT),), f"{app.name} → Kafka brokers (TLS, SCRAM)"))
            else:
                out.append(Flow("kafka-external", src, Peer(cidrs=tuple(external["cidrs"])),
                                tuple(Port(p) for p in external["ports"]), f"{app.name} → the managed Kafka"))
        elif isinstance(c, MongoUser):
            out.append(Flow("mongodb-client", src, pods(MONGODB_NAMESPACE, MONGODB_PODS), (Port(MONGODB_PORT),),
                            f"{app.name} → MongoDB"))
        elif isinstance(c, ElasticsearchUser):
            es = c.cluster
            es_ns = ELASTICSEARCH_NAMESPACES[es]
            out.append(Flow(f"{es}-client", src, pods(es_ns, {"elasticsearch.k8s.elastic.co/cluster-name": es}),
                            (Port(ELASTICSEARCH_PORT),), f"{app.name} → {es}"))
    return out


ELASTICSEARCH_NAMESPACES = {"elasticsearch-processing": "database", "elasticsearch-security": "security"}


def _kafka_external(cfg: Any) -> Optional[dict]:
    """The external Kafka's egress (CIDRs and ports) when `platform.apps.kafka.settings.external` is set."""
    ext = (cfg.platform.app(KAFKA).settings or {}).get("external")
    if not ext:
        return None
    ports = sorted({int(s.rsplit(":", 1)[1]) for s in str(ext.get("bootstrapServers", "")).split(",") if ":" in s})
    return {"cidrs": ext.get("cidrs") or [], "ports": ports or [KAFKA_PORT]}
