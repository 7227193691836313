"""MongoDB (database): the MCK `MongoDBCommunity` replica set `mongodb`, serving every `MongoUser` claim.

- 3 members + 1 arbiter in prod (the 2023 shape), 1 member in dev; MongoDB 7.0 (the line Graylog 7's
  chart runs with MCK); required anti-affinity (arbiter included), infra nodes;
- SCRAM authentication on; TLS required (2023: none): the server certificate is issued and rotated by
  cert-manager from the service's own CA (pulumi-tls), whose certificate goes into the clients' Secrets;
- users generated: `coprs-admin` (userAdminAnyDatabase, clusterAdmin; stack output) and one per claim
  (readWrite + dbAdmin on its database, e.g. `graylog` on db `graylog`);
- restricted pod template (mongod, agent, init containers) set explicitly;
- metrics: the agent's Prometheus endpoint (basic auth, generated) with a ServiceMonitor when the
  monitoring stack runs;
- backup: MongoDB Community has no built-in S3 backup, so a Velero schedule takes the replica set's
  objects and volumes (Kopia file-system backup, WiredTiger journal: crash-consistent) daily,
  kept 30 days (the platform's backup default).
"""

from __future__ import annotations

from pydantic import Field

from ...storage.backups import Backup
from ...config import ConfigError
from ..app import App, AppContext, AppSettings
from ..claims import MONGODB, MONGODB_NAMESPACE, MONGODB_PODS, MONGODB_PORT, MongoUser, claimed, serve
from ..datastore import (InternalCa, cert_manager_server_tls, credentials, password, pod_anti_affinity,
                         restricted_container, restricted_pod, secret, storage_gb)
from ..placement import Resources
from .mongodb_operator import CRDS

API = f"{CRDS[0]}/v1"
VERSION = "7.0.25"
ADMIN_USER = "coprs-admin"
SERVICE = f"{MONGODB}-svc"
TLS_SECRET = f"{MONGODB}-tls"
PROMETHEUS_SECRET = f"{MONGODB}-prometheus"
MONGO_UID = 2000  # MCK's default for the database pods


class Settings(AppSettings):
    version: str = Field(VERSION, pattern=r"^\d+\.\d+\.\d+$")


def hosts(members: int) -> list[str]:
    return [f"{MONGODB}-{i}.{SERVICE}.{MONGODB_NAMESPACE}.svc:{MONGODB_PORT}" for i in range(members)]


def stateful_set(ctx: AppContext) -> dict:
    containers = [
        {"name": "mongod", "resources": ctx.resources("mongod", Resources("100m", "512Mi", "2" if ctx.prod else "300m", "2Gi")).render(),
         "securityContext": restricted_container()},
        {"name": "mongodb-agent", "resources": ctx.resources("agent", Resources("20m", "64Mi", memory_limit="256Mi")).render(),
         "securityContext": restricted_container()},
    ]
    return {"spec": {
        "template": {"spec": {
            "securityContext": restricted_pod(MONGO_UID),
            "affinity": {**ctx.affinity(), **pod_anti_affinity(MONGODB_PODS, ctx.prod)},
            "containers": containers,
            "initContainers": [{"name": n, "securityContext": restricted_container()}
                               for n in ("mongod-posthook", "mongodb-agent-readinessprobe")],
        }},
        "volumeClaimTemplates": [
            {"metadata": {"name": "data-volume"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage_gb(ctx, 30)}}}},
            {"metadata": {"name": "logs-volume"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}},
        ],
    }}


def objects(ctx: AppContext) -> None:
    members = ctx.replicas(3, 1)
    ca = InternalCa(ctx, "server", "coprs MongoDB CA")
    dns = [f"*.{SERVICE}.{MONGODB_NAMESPACE}.svc.cluster.local", f"*.{SERVICE}.{MONGODB_NAMESPACE}.svc",
           f"{SERVICE}.{MONGODB_NAMESPACE}.svc.cluster.local", f"{SERVICE}.{MONGODB_NAMESPACE}.svc"]
    cert = cert_manager_server_tls(ctx, MONGODB, ca, dns)

    users, deps = [], [cert]

    def user(name: str, roles: list[dict], protect: bool = False):
        pw = password(ctx, f"user-{name}", protect=protect)
        deps.append(secret(ctx, f"mongodb-user-{name}", {"password": pw}))
        users.append({"name": name, "db": "admin", "passwordSecretRef": {"name": f"mongodb-user-{name}", "key": "password"},
                      "roles": roles, "scramCredentialsSecretName": f"{MONGODB}-{name}"})
        return pw

    admin = user(ADMIN_USER, [{"name": r, "db": "admin"} for r in ("userAdminAnyDatabase", "clusterAdmin",
                                                                    "readWriteAnyDatabase")], protect=True)
    credentials(ctx, f"mongodb-user-{ADMIN_USER}", {"username": ADMIN_USER, "password": admin})
    consumers = claimed(ctx, MongoUser)
    plain = sorted({c.name for c, claim in consumers if not claim.tls})
    if plain and not ctx.registry.has_role("mesh"):
        raise ConfigError([f"{', '.join(plain)} reach MongoDB inside the mesh (mTLS) because their drivers cannot be given "
                           "its CA: enable the linkerd app, or disable them"])
    passwords = {}
    for _, claim in consumers:
        if claim.user not in passwords:
            passwords[claim.user] = user(claim.user, [{"name": "readWrite", "db": claim.database},
                                                      {"name": "dbAdmin", "db": claim.database}])
    metrics_pw = password(ctx, "prometheus")
    deps.append(secret(ctx, PROMETHEUS_SECRET, {"username": "prometheus", "password": metrics_pw}))

    spec = {
        "type": "ReplicaSet",
        "members": members,
        "arbiters": 1 if ctx.prod and members >= 2 else 0,
        "version": ctx.settings.version,
        "security": {
            "authentication": {"modes": ["SCRAM"], "ignoreUnknownUsers": False},
            "tls": {"enabled": True, "optional": any(not c.tls for _, c in consumers),
                    "certificateKeySecretRef": {"name": TLS_SECRET},
                    "caCertificateSecretRef": {"name": TLS_SECRET}},
        },
        "users": users,
        "additionalMongodConfig": {"storage.wiredTiger.engineConfig.journalCompressor": "zlib"},
        "prometheus": {"username": "prometheus", "passwordSecretRef": {"name": PROMETHEUS_SECRET}},
        "statefulSet": stateful_set(ctx),
    }
    rs = ctx.custom_resource(MONGODB, API, "MongoDBCommunity", spec, depends_on=tuple(deps))
    servers = ",".join(hosts(members))
    for consumer, claim in consumers:
        pw = passwords[claim.user]
        tls = "&tls=true" if claim.tls else ""
        uri = f"@{servers}/{claim.database}?replicaSet={MONGODB}{tls}&authSource=admin"
        serve(ctx, consumer, claim, {
            "uri": pw.apply(lambda p, u=claim.user, rest=uri: f"mongodb://{u}:{p}{rest}"),
            "username": claim.user, "password": pw, "ca.crt": ca.cert_pem,
        }, depends_on=(rs,))
    ctx.monitor(MONGODB, {"app": SERVICE}, {
        "port": "prometheus", "interval": "2m", "scheme": "http",
        "basicAuth": {"username": {"name": PROMETHEUS_SECRET, "key": "username"},
                      "password": {"name": PROMETHEUS_SECRET, "key": "password"}}}, service=True)


APP = App(
    name=MONGODB,
    namespace=MONGODB_NAMESPACE,
    roles=("mongodb",),
    stateful=True,
    backups=(Backup(selector={"app": SERVICE}, restore="Velero restore of the mongodb objects and volumes (README: Restore)"),),
    depends_on=("mongodb-kubernetes", "cert-manager"),
    settings=Settings,
    objects=objects,
    description="MongoDB replica set + arbiter (MCK) for Graylog and every MongoUser claim",
)
