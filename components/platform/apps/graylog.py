"""Graylog (namespace `security`): the SIEM, Graylog 7 Open with its Data Node, behind the gateway's OIDC.

- official chart `graylog` 1.0.0 (Graylog 7.0), `graylog.enterprise: false` (Graylog Open), images pinned
  to 7.0.0; the Data Node (managed OpenSearch, 3 in prod) is the search backend;
- MongoDB from the data layer: the `MongoUser(user="graylog", database="graylog")` claim's Secret
  `mongodb-graylog` (key `uri`) — the chart's own MongoDBCommunity resource is off;
- secrets generated here: the password pepper, the root password (its SHA-256 in the chart's Secret,
  the clear value only in `graylog-admin` and the stack output `credentials`);
- web UI at https://security.<domain>/ behind the gateway's OIDC (client `graylog`); after sign-in the
  gateway sets `Remote-User` to the user's `preferred_username` (overwriting whatever the browser sent)
  and Graylog's trusted-header login accepts it only from a trusted proxy: with the mesh every request
  arrives through the local proxy, so `trusted_proxies` is 127.0.0.1/32 and a Linkerd authorization
  admits on the web port only the gateway's identity (plus Graylog's own nodes and the configuration
  Job) — not the whole pod CIDR as in 2023. Only users that exist in Graylog get in (no mapping of
  every OIDC user to an admin, as in 2023);
- inputs: one Kafka input (TLS + SCRAM-SHA-512, KafkaUser `graylog` from the `KafkaAccess` claim's
  Secret `kafka-graylog`) on the security topics, 2 consumer threads, configured with the header login
  by an idempotent Job through Graylog's API (re-run when its settings change);
- metrics: Graylog's Prometheus exporter on 9833 (bound to the pod address) and a ServiceMonitor;
- backups: a Velero schedule of Graylog's pods and volumes (journal, Data Node indices).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi_kubernetes as k8s

from ..app import App, AppContext, AppSettings, Backup, Chart, ChartRelease, UiRoute, before_releases
from ..apps.apisix import GATEWAY_SERVICE_ACCOUNT, NAMESPACE as GATEWAY_NAMESPACE
from ..jobs import ConfigJob, config_job
from ..mesh import authorize_identities
from ..placement import Resources

from ..claims import KafkaAccess, MongoUser

CHART = Chart("graylog", "https://graylog2.github.io/graylog-helm", "1.0.0")
VERSION = "7.0.0"
CONFIG_IMAGE = "docker.io/library/python:3.13.1-alpine3.21"
NAMESPACE = "security"
RELEASE = "graylog"
SERVICE = f"{RELEASE}-svc"
SERVICE_ACCOUNT = f"{RELEASE}-sa"
WEB_PORT, METRICS_PORT = 9000, 9833
PODS = {"app.kubernetes.io/instance": RELEASE}
SERVER_PODS = {"app": "graylog-app"}
SECRET = "graylog"  # the chart's global.existingSecretName
ADMIN_SECRET = "graylog-admin"
KAFKA_USER = "graylog"
USERNAME_HEADER = "Remote-User"
SECURITY_TOPICS = ("fluentbit.falco", "fluentbit.keycloak", "fluentbit.ingress", "fluentbit.auditd", "fluentbit.wazuh")
# The claims' flows: the server and its data nodes → MongoDB; the server's Kafka input → the brokers.
# Graylog's JVMs (server, Data Node) trust only their JDK's CAs and chart 1.0.0 can mount them no truststore:
# they reach MongoDB without TLS of their own, through the mesh's mTLS (MongoUser.tls=False).
MONGO = MongoUser(user="graylog", database="graylog", clients=tuple(PODS.items()), tls=False)
KAFKA = KafkaAccess(user=KAFKA_USER, read=SECURITY_TOPICS, groups=(KAFKA_USER,), clients=tuple(SERVER_PODS.items()))
MONGO_SECRET, KAFKA_SECRET = MONGO.secret, KAFKA.secret
CONFIG_JOB = "graylog-config"
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "graylog_configure.py"
MANAGED_PREFIX = "coprs: "


class Settings(AppSettings):
    topics: tuple[str, ...] = SECURITY_TOPICS


def _env(ctx: AppContext) -> list[dict]:
    meshed = NAMESPACE in ctx.registry.env.meshed
    return [
        {"name": "GRAYLOG_MONGODB_URI", "valueFrom": {"secretKeyRef": {"name": MONGO_SECRET, "key": "uri"}}},
        {"name": "GRAYLOG_TRUSTED_PROXIES", "value": "127.0.0.1/32" if meshed else _gateway_only_fallback(ctx)},
        {"name": "GRAYLOG_PROMETHEUS_EXPORTER_BIND_ADDRESS", "value": f"0.0.0.0:{METRICS_PORT}"},
        {"name": "GRAYLOG_HTTP_EXTERNAL_URI", "value": f"https://{ctx.hostname('security')}/"},
    ]


def _gateway_only_fallback(ctx: AppContext) -> str:
    """Without the mesh no identity is checked: the pod network, with the network policy admitting only the gateway."""
    return ctx.cfg.cluster.pod_cidr


def values(ctx: AppContext) -> dict:
    prod = ctx.prod
    affinity = ctx.affinity()
    return {
        "fullnameOverride": RELEASE,
        "global": {"existingSecretName": SECRET},
        "graylog": {
            "enterprise": False,
            "replicas": ctx.replicas(2, 1),
            "image": {"repository": "graylog/graylog", "tag": VERSION},
            "service": {"metrics": {"enabled": True}},
            "inputs": [],
            "extraEnv": _env(ctx),
            "config": {
                "rootUsername": "admin",
                "serverJavaOpts": "-Xms1g -Xmx1g" if prod else "-Xms512m -Xmx512m",
                "contentPacksAutoInstall": "false",
                "selfSignedStartup": "true",
                "mongodb": {"versionProbeAttempts": "0"},
            },
            "resources": ctx.resources("graylog", Resources("500m", "2Gi", memory_limit="3Gi")).render(),
            "persistence": {"enabled": True, "size": f"{ctx.app_cfg.storage_gb or (100 if prod else 10)}Gi"},
            "podDisruptionBudget": {"enabled": prod, "minAvailable": 1},
            "affinity": affinity,
        },
        "datanode": {
            "replicas": ctx.replicas(3, 1),
            "image": {"repository": "graylog/graylog-datanode", "tag": VERSION},
            "config": {"opensearchHeap": "2g" if prod else "1g", "javaOpts": "-Xms1g -Xmx1g"},
            "resources": ctx.resources("datanode", Resources("500m", "4Gi", memory_limit="6Gi")).render(),
            "extraEnv": [{"name": "GRAYLOG_DATANODE_MONGODB_URI",
                          "valueFrom": {"secretKeyRef": {"name": MONGO_SECRET, "key": "uri"}}}],
            "podDisruptionBudget": {"enabled": prod, "minAvailable": 2 if prod else 0},
            "affinity": affinity,
        },
        "mongodb": {"communityResource": {"enabled": False}, "serviceAccount": {"create": False, "role": {"create": False}}},
        "ingress": {"enabled": False},
        "serviceAccount": {"create": True, "automount": False},
    }


def secrets(ctx: AppContext) -> None:
    """The pepper and the root password (the chart only takes the password's SHA-256)."""
    pepper = ctx.password("pepper", length=96)
    admin = ctx.password("admin")
    ctx.secret_values[ADMIN_SECRET] = {"password": admin}
    chart_secret = ctx.secret_object(SECRET, {
        "GRAYLOG_PASSWORD_SECRET": pepper,
        "GRAYLOG_ROOT_USERNAME": "admin",
        "GRAYLOG_ROOT_PASSWORD_SHA2": admin.apply(lambda p: hashlib.sha256(p.encode()).hexdigest()),
        # The chart's Data Node env reads this key; our later env entry (the MongoUser Secret's `uri`)
        # takes precedence (Kubernetes: the last definition of a name wins), so it stays empty here.
        "GRAYLOG_MONGODB_URI": "",
    })
    admin_secret = ctx.secret_object(ADMIN_SECRET, {"username": "admin", "password": admin})
    before_releases(ctx, chart_secret, admin_secret)


def settings_document(ctx: AppContext) -> dict:
    """What the configuration Job makes Graylog hold (Kafka credentials are filled in by the Job)."""
    topics = "|".join(t.replace(".", r"\.") for t in ctx.settings.topics)
    return {
        "managedPrefix": MANAGED_PREFIX,
        "headerAuth": {"usernameHeader": USERNAME_HEADER},
        "inputs": [{
            "title": f"{MANAGED_PREFIX}security topics",
            "type": "org.graylog2.inputs.raw.kafka.RawKafkaInput",
            "configuration": {
                "legacy_mode": False,
                "bootstrap_server": "$(kafka)",
                "topic_filter": f"^({topics})$",
                "group_id": KAFKA_USER,
                "threads": 2,
                "offset_reset": "largest",
                "fetch_min_bytes": 5,
                "fetch_wait_max": 100,
                "custom_properties": "$(kafka)",
            },
        }],
    }


def objects(ctx: AppContext) -> None:
    if NAMESPACE in ctx.registry.env.meshed:
        authorize_identities(
            RELEASE, NAMESPACE, "web", SERVER_PODS, WEB_PORT,
            [{"kind": "ServiceAccount", "name": GATEWAY_SERVICE_ACCOUNT, "namespace": GATEWAY_NAMESPACE},
             {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE},
             {"kind": "ServiceAccount", "name": CONFIG_JOB, "namespace": NAMESPACE}],
            lambda: ctx.opts(crd_group="policy.linkerd.io"),
        )
    ctx.monitor(RELEASE, {"app.kubernetes.io/instance": RELEASE},
                {"port": "metrics", "path": "/api/metrics/prometheus", "interval": "2m"}, service=True)
    configuration_job(ctx)


def configuration_job(ctx: AppContext) -> k8s.batch.v1.Job:
    ref = lambda name, key: {"valueFrom": {"secretKeyRef": {"name": name, "key": key}}}  # noqa: E731
    return config_job(ctx, ConfigJob(
        name=CONFIG_JOB,
        image=CONFIG_IMAGE,
        config_map=CONFIG_JOB,
        data={"configure.py": SCRIPT.read_text(),
              "settings.json": json.dumps(settings_document(ctx), indent=2, sort_keys=True)},
        command=("python3", "/config/configure.py"),
        env=(
            {"name": "GRAYLOG_URL", "value": f"http://{SERVICE}.{NAMESPACE}.svc:{WEB_PORT}"},
            {"name": "GRAYLOG_USERNAME", "value": "admin"},
            {"name": "GRAYLOG_PASSWORD", **ref(ADMIN_SECRET, "password")},
            {"name": "GRAYLOG_SETTINGS", "value": "/config/settings.json"},
            {"name": "KAFKA_BOOTSTRAP", **ref(KAFKA_SECRET, "bootstrap.servers")},
            {"name": "KAFKA_JAAS_CONFIG", **ref(KAFKA_SECRET, "sasl.jaas.config")},
            {"name": "KAFKA_CA_FILE", "value": "/kafka/ca.crt"},
        ),
        secret_files={"/kafka": (KAFKA_SECRET, "ca.crt")},
    ))


# After sign-in the gateway hands Graylog the user name, overwriting any header the client sent.
REMOTE_USER_PLUGIN = {
    "name": "serverless-post-function",
    "enable": True,
    "config": {
        "phase": "access",
        "functions": [
            "return function(conf, ctx) local core = require('apisix.core'); "
            "local user = ctx.external_user or {}; "
            f"core.request.set_header(ctx, '{USERNAME_HEADER}', user.preferred_username or ''); end"
        ],
    },
}

APP = App(
    name="graylog",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values, name=RELEASE),),
    claims=(MONGO, KAFKA),
    routes=(UiRoute("security", SERVICE, WEB_PORT, oidc_client="graylog", plugins=(REMOTE_USER_PLUGIN,)),),
    depends_on=("cert-manager",),
    settings=Settings,
    stateful=True,
    backups=(Backup(selector=PODS, restore="velero restore create --from-schedule backup-graylog"),),
    before=secrets,
    objects=objects,
    description="SIEM: Graylog 7 Open + Data Node, Kafka security topics, trusted-header login from the gateway",
)
