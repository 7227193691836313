"""Elasticsearch + Kibana "processing" (database) and "security" (security): two ECK clusters, one recipe.

Each cluster (`Elasticsearch` and `Kibana` 9.5.0, the eck-stack default at ECK v3.5.0):
- node sets of 2023: `coordinating` ×2 (`node.roles: []`) and `node` ×3 (all roles) in prod, one
  all-role node in dev; required pod anti-affinity across all its pods, infra nodes; mmap stays on
  (`vm.max_map_count` is set by the nodes' cloud-init, no privileged init container);
- security on, HTTP TLS on with a certificate cert-manager issues from the cluster's own CA (pulumi-tls)
  so clients get `ca.crt`; no anonymous access (2023: anonymous = superuser, TLS off); file-realm users
  generated: `operator` with the 2023 roles (monitoring_user, reporting_user, kibana_admin; stack
  output) and one per `ElasticsearchUser` claim;
- pod templates restricted (uid 1000, seccomp, no capabilities) for Elasticsearch, Kibana and ECK's
  init containers;
- snapshots: the S3 repository `s3-repository` on the cluster's own bucket (`<prefix>-es-processing` /
  `<prefix>-es-security`) with the keystore credentials of the storage layer's Secret, and an SLM policy
  (daily; retention from `settings.snapshotRetentionDays`: processing keeps everything as in 2023,
  security 180 days), both applied by the settings Job (datastore.settings_job);
- metrics: prometheus-elasticsearch-exporter 7.4.0 (v1.11.0) per cluster, TLS with the cluster's CA, its
  own user `coprs-monitor` (monitor privileges only), ServiceMonitor when the monitoring stack runs;
- Kibana at https://processing.<domain>/kibana and https://security.<domain>/kibana behind Keycloak
  OIDC (APISIX, https upstream); the Elasticsearch API is never routed outside the cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlparse

import yaml
from pydantic import Field

from ...config import NAMESPACE as CONFIG_NS, ConfigError
from ...storage.backups import Backup
from ..app import App, AppContext, AppSettings, Bucket, Chart, ChartRelease, UiRoute, before_releases
from ..claims import ELASTICSEARCH_NAMESPACES, ELASTICSEARCH_PORT, ElasticsearchUser, claimed, serve
from ..datastore import (InternalCa, cert_manager_server_tls, credentials, password, pod_anti_affinity,
                         restricted_container, restricted_pod, secret, settings_job, storage_gb)
from ..flows import WORLD, Flow, Port, pods
from ..placement import Resources

VERSION = "9.5.0"
ES_API = "elasticsearch.k8s.elastic.co/v1"
KB_API = "kibana.k8s.elastic.co/v1"
ES_UID = 1000
REPOSITORY = "s3-repository"
SLM_POLICY = "daily-snapshots"
SNAPSHOT_SCHEDULE = "0 30 1 * * ?"  # ES cron (seconds first): daily 01:30
OPERATOR_USER = "operator"
OPERATOR_ROLES = ("monitoring_user", "reporting_user", "kibana_admin")  # 2023
SETTINGS_USER = "coprs-settings"
SETTINGS_ROLE = "coprs_settings"
# Least privilege of the settings Job: the snapshot repository and SLM, nothing else.
MONITOR_USER = "coprs-monitor"
MONITOR_ROLE = "coprs_monitor"
ROLES_YML = {
    SETTINGS_ROLE: {"cluster": ["manage_slm", "cluster:admin/repository/*", "monitor"]},
    # What the exporter reads: cluster, node, index and snapshot/SLM statistics, no document.
    MONITOR_ROLE: {"cluster": ["monitor", "read_slm"],
                   "indices": [{"names": ["*"], "privileges": ["monitor", "view_index_metadata"],
                                "allow_restricted_indices": True}]},
}
EXPORTER = Chart("prometheus-elasticsearch-exporter", "https://prometheus-community.github.io/helm-charts", "7.4.0")
ES_INIT = ("elastic-internal-init-filesystem", "elastic-internal-suspend", "elastic-internal-init-keystore")
KB_INIT = ("elastic-internal-init",)
KIBANA_PORT = 5601
KIBANA_PATH = "/kibana"


@dataclass(frozen=True)
class Flavour:
    name: str  # the Elasticsearch cluster (and the app)
    namespace: str
    kibana: str
    host: str  # UI host: https://<host>.<domain>/kibana
    bucket: str  # bucket suffix
    retention_days: Optional[int]  # SLM expiry; None keeps every snapshot
    coordinating_cpu_limit: str

    @property
    def labels(self) -> dict[str, str]:
        return {"elasticsearch.k8s.elastic.co/cluster-name": self.name}

    @property
    def keystore_secret(self) -> str:
        return f"{self.bucket}-s3-keystore"

    @property
    def service(self) -> str:
        return f"{self.name}-es-http"

    @property
    def url(self) -> str:
        return f"https://{self.service}.{self.namespace}.svc:{ELASTICSEARCH_PORT}"


PROCESSING = Flavour("elasticsearch-processing", ELASTICSEARCH_NAMESPACES["elasticsearch-processing"],
                     "kibana-processing", "processing", "es-processing", None, "500m")
SECURITY = Flavour("elasticsearch-security", ELASTICSEARCH_NAMESPACES["elasticsearch-security"],
                   "kibana-security", "security", "es-security", 180, "400m")


class Settings(AppSettings):
    snapshot_retention_days: Optional[int] = Field(None, ge=1, le=36500)  # default: the flavour's
    version: str = Field(VERSION, pattern=r"^9\.\d+\.\d+$")


def _flavour(ctx: AppContext) -> Flavour:
    return ctx.state["flavour"]


def _es_pod(ctx: AppContext, f: Flavour, res: Resources) -> dict:
    return {"spec": {
        "securityContext": restricted_pod(ES_UID),
        "affinity": {**ctx.affinity(), **pod_anti_affinity(f.labels, ctx.prod)},
        "containers": [{"name": "elasticsearch", "resources": res.render(), "securityContext": restricted_container()}],
        "initContainers": [{"name": n, "securityContext": restricted_container()} for n in ES_INIT],
        "automountServiceAccountToken": False,
    }}


def _volume(size: str) -> list[dict]:
    return [{"metadata": {"name": "elasticsearch-data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}]


def s3_client_config(ctx: AppContext) -> dict:
    store = ctx.cfg.object_storage
    if store is None:
        raise ConfigError([f"{CONFIG_NS}:objectStorage is required while platform.apps.{ctx.app.name} is enabled "
                           "(snapshots go to its bucket)"])
    url = urlparse(store.endpoint)
    return {
        "s3.client.default.endpoint": url.netloc,
        "s3.client.default.protocol": url.scheme,
        "s3.client.default.path_style_access": store.addressing_style == "path",
        "s3.client.default.region": store.region,
    }


def node_sets(ctx: AppContext, f: Flavour) -> list[dict]:
    s3 = s3_client_config(ctx)
    data_size = storage_gb(ctx, 250 if ctx.prod else 20)
    node_res = ctx.resources("node", Resources("100m", "4Gi" if ctx.prod else "2Gi", "2", "8Gi" if ctx.prod else "2Gi"))
    count = ctx.replicas(3, 1)
    nodes = {"name": "node", "count": count, "config": {**s3}, "podTemplate": _es_pod(ctx, f, node_res),
             "volumeClaimTemplates": _volume(data_size)}
    if not ctx.prod or count < 3:
        return [nodes]
    coord_res = ctx.resources("coordinating", Resources("100m", "4Gi", f.coordinating_cpu_limit, "6Gi"))
    coordinating = {"name": "coordinating", "count": 2, "config": {"node.roles": [], **s3},
                    "podTemplate": _es_pod(ctx, f, coord_res), "volumeClaimTemplates": _volume("1Gi")}
    return [coordinating, nodes]


def es_spec(ctx: AppContext, f: Flavour, file_realm: list[str], tls_secret: str) -> dict:
    """The Elasticsearch CR: TLS by our certificate, file-realm users, our roles, the S3 keystore."""
    return {
        "version": ctx.settings.version,
        "http": {"tls": {"certificate": {"secretName": tls_secret}}},
        "auth": {"fileRealm": [{"secretName": s} for s in file_realm], "roles": [{"secretName": f"{f.name}-roles"}]},
        "secureSettings": [{"secretName": f.keystore_secret}],
        "nodeSets": node_sets(ctx, f),
        "volumeClaimDeletePolicy": "DeleteOnScaledownOnly",
    }


def kibana_spec(ctx: AppContext, f: Flavour) -> dict:
    return {
        "version": ctx.settings.version,
        "count": ctx.replicas(1, 1),
        "elasticsearchRef": {"name": f.name},
        "config": {
            "server.basePath": KIBANA_PATH,
            "server.rewriteBasePath": True,
            "server.publicBaseUrl": f"https://{ctx.hostname(f.host)}{KIBANA_PATH}",
            "telemetry.optIn": False,
            "telemetry.allowChangingOptInStatus": False,
        },
        "podTemplate": {"spec": {
            "securityContext": restricted_pod(ES_UID),
            "affinity": ctx.affinity(),
            "containers": [{"name": "kibana", "securityContext": restricted_container(),
                            "resources": ctx.resources("kibana", Resources("100m", "1Gi", "1", "2Gi")).render()}],
            "initContainers": [{"name": n, "securityContext": restricted_container()} for n in KB_INIT],
            "automountServiceAccountToken": False,
        }},
    }


def snapshot_retention(ctx: AppContext, f: Flavour) -> Optional[int]:
    return ctx.settings.snapshot_retention_days or f.retention_days


def snapshot_settings(ctx: AppContext, f: Flavour) -> tuple[dict, dict]:
    """The repository and SLM policy bodies (PUT _snapshot/<repo>, PUT _slm/policy/<policy>)."""
    store = ctx.cfg.object_storage
    repo = {"type": "s3", "settings": {"client": "default", "bucket": store.bucket(f.bucket), "base_path": f.name}}
    days = snapshot_retention(ctx, f)
    slm: dict = {"schedule": SNAPSHOT_SCHEDULE, "name": "<daily-{now/d}>", "repository": REPOSITORY,
                 "config": {"indices": ["*"], "include_global_state": True}}
    if days:
        slm["retention"] = {"expire_after": f"{days}d", "min_count": 7}
    return repo, slm


SETTINGS_SCRIPT = """\
auth="$ES_USER:$ES_PASSWORD"
until curl -fsS --cacert /tls/ca.crt -u "$auth" "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=30s" >/dev/null; do
  echo "waiting for $ES_URL"; sleep 10
done
curl -fsS --cacert /tls/ca.crt -u "$auth" -X PUT -H 'Content-Type: application/json' \\
  "$ES_URL/_snapshot/$REPOSITORY?verify=true" -d "$REPOSITORY_BODY"
curl -fsS --cacert /tls/ca.crt -u "$auth" -X PUT -H 'Content-Type: application/json' \\
  "$ES_URL/_slm/policy/$SLM_POLICY" -d "$SLM_BODY"
echo "snapshot repository and SLM policy applied"
"""


def _user_secret(ctx: AppContext, f: Flavour, user: str, roles: tuple[str, ...], protect: bool = False):
    pw = password(ctx, f"user-{user}", protect=protect)
    res = secret(ctx, f"{f.name}-user-{user}", {"username": user, "password": pw, "roles": ",".join(roles)},
                 type_="kubernetes.io/basic-auth")
    return pw, res


def roles_yml(ctx: AppContext) -> dict:
    """The platform's roles and those the claims' index patterns make (each claimed user gets its own)."""
    out = dict(ROLES_YML)
    for consumer, claim in claimed(ctx, ElasticsearchUser):
        if claim.index_role:
            name, body = claim.index_role
            if out.get(name, body) != body:
                raise ConfigError([f"{consumer.name} claims Elasticsearch user {claim.user} with other index rights "
                                   "than another claim of that user"])
            out[name] = body
    return out


def base(ctx: AppContext, f: Flavour) -> None:
    """Before the exporter release: the HTTP certificate, the roles and the platform's own users."""
    ctx.state["flavour"] = f
    ca = InternalCa(ctx, "http", f"coprs {f.name} HTTP CA")
    svc = f.service
    cert = cert_manager_server_tls(ctx, f.name, ca, [f"{svc}.{f.namespace}.svc", svc, f"{svc}.{f.namespace}",
                                                     f"{svc}.{f.namespace}.svc.cluster.local"])
    op_pw, op_secret = _user_secret(ctx, f, OPERATOR_USER, OPERATOR_ROLES, protect=True)
    credentials(ctx, f"{f.name}-user-{OPERATOR_USER}", {"username": OPERATOR_USER, "password": op_pw, "url": f.url})
    _, job_secret = _user_secret(ctx, f, SETTINGS_USER, (SETTINGS_ROLE,))
    _, monitor_secret = _user_secret(ctx, f, MONITOR_USER, (MONITOR_ROLE,))
    roles = secret(ctx, f"{f.name}-roles", {"roles.yml": yaml.safe_dump(roles_yml(ctx), sort_keys=True)})
    ctx.state["ca"] = ca
    ctx.state["deps"] = [cert, op_secret, job_secret, monitor_secret, roles]
    before_releases(ctx, cert, monitor_secret)


def exporter_values(ctx: AppContext) -> dict:
    """prometheus-elasticsearch-exporter: TLS to the cluster with its CA, its own read-only monitoring user."""
    f = _flavour(ctx)
    user = f"{f.name}-user-{MONITOR_USER}"
    return {
        "es": {"uri": f.url, "all": True, "indices": True, "shards": True, "snapshots": True, "slm": True,
               "ssl": {"enabled": True, "useExistingSecrets": True, "ca": {"path": "/ssl/ca.crt"},
                       "client": {"enabled": False}}},
        "extraEnvSecrets": {"ES_USERNAME": {"secret": user, "key": "username"},
                            "ES_PASSWORD": {"secret": user, "key": "password"}},
        "secretMounts": [{"name": "ssl", "secretName": f"{f.name}-tls", "path": "/ssl"}],
        # its own account, no API token: it only talks to Elasticsearch
        "serviceAccount": {"create": True, "name": f"{f.name}-exporter", "automountServiceAccountToken": False},
        "podSecurityContext": restricted_pod(65534),
        "securityContext": restricted_container(readOnlyRootFilesystem=True),
        "resources": ctx.resources("exporter", Resources("50m", "128Mi", "100m", "256Mi")).render(),
        "affinity": ctx.affinity(),
        "serviceMonitor": {"enabled": ctx.service_monitors, "interval": "2m", "scrapeTimeout": "30s"},
    }


def objects(ctx: AppContext) -> None:
    f = _flavour(ctx)
    ca = ctx.state["ca"]
    realm = [f"{f.name}-user-{u}" for u in (OPERATOR_USER, SETTINGS_USER, MONITOR_USER)]
    deps, served = list(ctx.state["deps"]), []
    users: dict[str, tuple] = {}
    for consumer, claim in claimed(ctx, ElasticsearchUser):
        if claim.user in (OPERATOR_USER, SETTINGS_USER, MONITOR_USER, "elastic"):
            raise ConfigError([f"{consumer.name} claims the reserved Elasticsearch user {claim.user}"])
        if claim.user not in users:
            users[claim.user] = _user_secret(ctx, f, claim.user, claim.all_roles)
            realm.append(f"{f.name}-user-{claim.user}")
            deps.append(users[claim.user][1])
        served.append((consumer, claim))
    es = ctx.custom_resource(f.name, ES_API, "Elasticsearch", es_spec(ctx, f, realm, f"{f.name}-tls"),
                             labels={"app.kubernetes.io/part-of": "coprs"}, depends_on=tuple(deps))
    ctx.custom_resource(f.kibana, KB_API, "Kibana", kibana_spec(ctx, f), depends_on=(es,))
    for consumer, claim in served:
        serve(ctx, consumer, claim, {"url": f.url, "username": claim.user, "password": users[claim.user][0],
                                     "ca.crt": ca.cert_pem}, depends_on=(es,))

    repo, slm = snapshot_settings(ctx, f)
    env = [
        {"name": "ES_URL", "value": f.url},
        {"name": "ES_USER", "value": SETTINGS_USER},
        {"name": "ES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{f.name}-user-{SETTINGS_USER}", "key": "password"}}},
        {"name": "REPOSITORY", "value": REPOSITORY},
        {"name": "REPOSITORY_BODY", "value": json.dumps(repo, sort_keys=True)},
        {"name": "SLM_POLICY", "value": SLM_POLICY},
        {"name": "SLM_BODY", "value": json.dumps(slm, sort_keys=True)},
    ]
    settings_job(ctx, f"{f.name}-settings", SETTINGS_SCRIPT, env=env,
                 volumes=[{"name": "tls", "secret": {"secretName": f"{f.name}-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}],
                 mounts=[{"name": "tls", "mountPath": "/tls", "readOnly": True}],
                 inputs={"repository": repo, "slm": slm}, depends_on=(es,))
    if ctx.enabled("apisix"):
        ctx.custom_resource(f"{f.kibana}-kb-http", "apisix.apache.org/v2", "ApisixUpstream",
                            {"ingressClassName": "apisix", "scheme": "https"})


def _before(f: Flavour):
    return lambda ctx: base(ctx, f)


def app(f: Flavour) -> App:
    return App(
        name=f.name,
        namespace=f.namespace,
        releases=(ChartRelease(EXPORTER, exporter_values, name=f"{f.name}-exporter"),),
        flows=(Flow(f"{f.name}-object-store", pods(f.namespace, f.labels), WORLD, (Port(443),),
                    "snapshots → S3"),),
        routes=(UiRoute(f.host, f"{f.kibana}-kb-http", KIBANA_PORT, oidc_client=f.kibana, path=f"{KIBANA_PATH}*"),),
        roles=(f.name,),
        claims=(Bucket(suffix=f.bucket, secret=f.keystore_secret, format="eck-keystore"),),
        stateful=True,
        apiserver=False,  # Elasticsearch, Kibana, the exporter and the settings Job never call the Kubernetes API
        backup_retention=lambda ctx: snapshot_retention(ctx, f),
        backups=(Backup(method="elasticsearch-snapshot", bucket=f.bucket, schedule="30 1 * * *",
                        retention_days=f.retention_days or 36500,  # no expiry: "lifetime" (2023)
                        restore=f"POST _snapshot/{REPOSITORY}/<snapshot>/_restore; SLM retention "
                                "settings.snapshotRetentionDays (README: Restore)"),),
        depends_on=("eck-operator", "cert-manager"),
        optional=("apisix",),
        settings=Settings,
        before=_before(f),
        objects=objects,
        description=f"Elasticsearch + Kibana \"{f.host}\" (ECK)",
    )


PROCESSING_APP = app(PROCESSING)
SECURITY_APP = app(SECURITY)
