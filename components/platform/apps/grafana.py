"""Grafana (monitoring): grafana-operator v5.24.0 (OCI chart) and one `Grafana` instance with its datasources and dashboards.

- the operator watches `monitoring` and `logging` (Loki's chart ships its dashboards as GrafanaDashboards
  there); its CRDs are chart templates (`crds.immutable: false`) so Helm upgrades them;
- the instance (Grafana 13.0.1, the operator's default, pinned) does its own OAuth against Keycloak
  (generic OAuth, client `grafana`, roles from the token's `roles` claim: admin → GrafanaAdmin,
  editor → Editor, else Viewer, strict), login form off; published at https://monitoring.<domain>/
  (no APISIX OIDC in front). Its client is an `OidcClient` claim: the identity app registers it in the
  realm (redirect `/login/generic_oauth`) and hands its secret over as `oidc-grafana`;
- its database: PostgreSQL (`Database` claim, Secret `grafana-postgresql`, TLS verify-full), backed up with the
  cluster by Barman Cloud; no volume, so 2 replicas in prod (Keycloak, which Grafana signs in with, needs
  PostgreSQL too);
- datasources: Thanos Query (default), Loki (tenant header), Elasticsearch processing (REPORTS / traces,
  its `ElasticsearchUser` Secret, TLS) when that app is deployed;
- dashboards as `GrafanaDashboard` resources: kube-prometheus-stack's own (nodes, Kubernetes, etcd,
  CoreDNS, API server, Prometheus, Alertmanager) through its `grafana.operator` switch, Loki's from its
  chart, and the others from their projects' pinned tags (Ceph, Strimzi Kafka, Elasticsearch exporter,
  CloudNativePG, APISIX, Linkerd).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import oidc_issuer
from ..app import App, AppContext, Chart, ChartRelease, UiRoute
from ..claims import Database, ElasticsearchUser
from ..flows import WORLD, Flow, Port, pods
from ..placement import Resources
from ..identity import OidcClient
from .kube_prometheus_stack import DASHBOARDS as KPS_DASHBOARDS, MONITORING_APP, NAMESPACE, RELEASE as KPS
from .loki import QUERY_URL as LOKI_URL, TENANT
from .thanos import QUERY_URL as THANOS_URL

CHART = Chart("grafana-operator", "oci://ghcr.io/grafana/helm-charts", "5.24.0")
API = "grafana.integreatly.org/v1beta1"
GROUP = "grafana.integreatly.org"
GRAFANA_VERSION = "13.0.1"  # grafana-operator v5.24.0 controllers/config/operator_constants.go
INSTANCE = "grafana"
INSTANCE_LABELS = {"dashboards": INSTANCE}
SERVICE = f"{INSTANCE}-service"
PORT = 3000
OIDC_CLIENT = "grafana"
OIDC_SECRET = f"oidc-{OIDC_CLIENT}"
OPERATOR_PODS = {"app.kubernetes.io/name": "grafana-operator"}
GRAFANA_PODS = {"app": INSTANCE}
ES_APP = "elasticsearch-processing"
DATABASE = Database("grafana", clients=tuple(GRAFANA_PODS.items()))
DATABASE_SECRET = DATABASE.secret
# Reads the REPORTS indices Fluentd writes (processing_trace-YYYY.MM.DD).
ES_USER = ElasticsearchUser("grafana", read=("processing_trace-*",), optional=True, clients=tuple(GRAFANA_PODS.items()))
ES_SECRET = ES_USER.secret
ROLE_PATH = ("contains(roles[*], 'admin') && 'GrafanaAdmin' || contains(roles[*], 'editor') && 'Editor' || 'Viewer'")


@dataclass(frozen=True)
class Dashboard:
    name: str
    url: str
    inputs: tuple[str, ...] = ("DS_PROMETHEUS",)  # the dashboard's datasource inputs, all mapped to Thanos


RAW = "https://raw.githubusercontent.com"
# Tags pinned to the versions the platform deploys (see the chart fact sheets).
DASHBOARDS = (
    Dashboard("ceph-cluster", f"{RAW}/ceph/ceph/v20.2.4/monitoring/ceph-mixin/dashboards_out/ceph-cluster.json", ()),
    Dashboard("kafka", f"{RAW}/strimzi/strimzi-kafka-operator/1.2.0/examples/metrics/grafana-dashboards/strimzi-kafka.json"),
    Dashboard("kafka-kraft", f"{RAW}/strimzi/strimzi-kafka-operator/1.2.0/examples/metrics/grafana-dashboards/strimzi-kraft.json"),
    Dashboard("kafka-exporter",
              f"{RAW}/strimzi/strimzi-kafka-operator/1.2.0/examples/metrics/grafana-dashboards/strimzi-kafka-exporter.json"),
    Dashboard("elasticsearch", f"{RAW}/prometheus-community/elasticsearch_exporter/v1.11.0/examples/grafana/dashboard.json"),
    Dashboard("postgresql",
              f"{RAW}/cloudnative-pg/charts/cloudnative-pg-v0.29.0/charts/cloudnative-pg/monitoring/grafana-dashboard.json", ()),
    Dashboard("apisix", f"{RAW}/apache/apisix/3.16.0/docs/assets/other/json/apisix-grafana-dashboard.json"),
    Dashboard("linkerd-top-line", f"{RAW}/linkerd/linkerd2/edge-26.8.3/grafana/dashboards/top-line.json", ()),
    Dashboard("linkerd-control-plane", f"{RAW}/linkerd/linkerd2/edge-26.8.3/grafana/dashboards/control-plane.json", ()),
)


def operator_values(ctx: AppContext) -> dict:
    return {
        "crds": {"immutable": False},
        "watchNamespaces": f"{NAMESPACE},logging",
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
        "affinity": ctx.affinity(),
        "resources": ctx.resources("operator", Resources("100m", "256Mi", memory_limit="512Mi")).render(),
        "serviceMonitor": {"enabled": ctx.service_monitors},
    }


def _env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def grafana_config(ctx: AppContext) -> dict[str, dict[str, str]]:
    issuer = oidc_issuer(ctx.cfg)
    root = f"https://{ctx.hostname('monitoring')}/"
    cfg: dict[str, dict[str, str]] = {
        "server": {"root_url": root, "domain": ctx.hostname("monitoring")},
        "auth": {"disable_login_form": "true", "oauth_auto_login": "true", "signout_redirect_url":
                 f"{issuer}/protocol/openid-connect/logout?post_logout_redirect_uri={root}&client_id={OIDC_CLIENT}"},
        "auth.anonymous": {"enabled": "false"},
        "auth.basic": {"enabled": "false"},
        "auth.generic_oauth": {
            "enabled": "true", "name": "Keycloak", "allow_sign_up": "true",
            "client_id": OIDC_CLIENT, "client_secret": "$__env{GF_OAUTH_CLIENT_SECRET}",
            "scopes": "openid profile email roles", "use_pkce": "true", "use_refresh_token": "true",
            "auth_url": f"{issuer}/protocol/openid-connect/auth",
            "token_url": f"{issuer}/protocol/openid-connect/token",
            "api_url": f"{issuer}/protocol/openid-connect/userinfo",
            "role_attribute_path": ROLE_PATH, "role_attribute_strict": "true", "allow_assign_grafana_admin": "true",
            "tls_skip_verify_insecure": "false",
        },
        "analytics": {"reporting_enabled": "false", "check_for_updates": "false", "check_for_plugin_updates": "false"},
        "security": {"cookie_secure": "true", "disable_gravatar": "true"},
        "users": {"allow_sign_up": "false"},
    }
    cfg["database"] = {
        "type": "postgres", "host": "$__env{GF_DB_HOST}:$__env{GF_DB_PORT}", "name": "$__env{GF_DB_NAME}",
        "user": "$__env{GF_DB_USER}", "password": "$__env{GF_DB_PASSWORD}",
        "ssl_mode": "verify-full", "ca_cert_path": "/etc/grafana-db/ca.crt",
    }
    return cfg


def grafana_spec(ctx: AppContext) -> dict:
    env = [_env("GF_OAUTH_CLIENT_SECRET", OIDC_SECRET, "client-secret")]
    env += [_env(f"GF_DB_{k.upper()}", DATABASE_SECRET, k) for k in ("host", "port", "user", "password")]
    env.append(_env("GF_DB_NAME", DATABASE_SECRET, "dbname"))
    volumes = [{"name": "db-ca", "secret": {"secretName": DATABASE_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
    mounts = [{"name": "db-ca", "mountPath": "/etc/grafana-db", "readOnly": True}]
    container = {
        "name": "grafana",
        "env": env,
        "volumeMounts": mounts,
        "resources": ctx.resources("grafana", Resources("200m", "256Mi", memory_limit="1Gi")).render(),
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    spec: dict = {
        "version": GRAFANA_VERSION,
        "config": grafana_config(ctx),
        "deployment": {"spec": {
            "replicas": ctx.replicas(2, 1),
            "template": {"spec": {
                "affinity": ctx.affinity(),
                "securityContext": {"runAsNonRoot": True, "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
                "volumes": volumes,
            }},
        }},
    }
    return spec


def datasources(ctx: AppContext) -> list[tuple[str, dict]]:
    selector = {"matchLabels": INSTANCE_LABELS}
    out = [
        ("thanos", {"instanceSelector": selector, "datasource": {
            "name": "Thanos", "type": "prometheus", "uid": "thanos", "access": "proxy", "url": THANOS_URL,
            "isDefault": True, "jsonData": {"timeInterval": "30s", "prometheusType": "Thanos"}}}),
        ("loki", {"instanceSelector": selector, "datasource": {
            "name": "Loki", "type": "loki", "uid": "loki", "access": "proxy", "url": LOKI_URL,
            "jsonData": {"httpHeaderName1": "X-Scope-OrgID"}, "secureJsonData": {"httpHeaderValue1": TENANT}}}),
    ]
    if ctx.enabled(ES_APP):
        ref = lambda key: {"secretKeyRef": {"name": ES_SECRET, "key": key}}  # noqa: E731
        out.append(("elasticsearch-processing", {
            "instanceSelector": selector,
            "valuesFrom": [
                {"targetPath": "url", "valueFrom": ref("url")},
                {"targetPath": "basicAuthUser", "valueFrom": ref("username")},
                {"targetPath": "secureJsonData.basicAuthPassword", "valueFrom": ref("password")},
                {"targetPath": "secureJsonData.tlsCACert", "valueFrom": ref("ca.crt")},
            ],
            "datasource": {
                "name": "Elasticsearch processing", "type": "elasticsearch", "uid": "elasticsearch-processing",
                "access": "proxy", "url": "${url}", "basicAuth": True, "basicAuthUser": "${username}",
                "jsonData": {"index": "[processing_trace-]YYYY.MM.DD", "interval": "Daily", "timeField": "@timestamp",
                             "tlsAuthWithCACert": True},
                "secureJsonData": {"basicAuthPassword": "${password}", "tlsCACert": "${ca.crt}"},
            }}))
    return out


def objects(ctx: AppContext) -> None:
    release = ctx.releases["grafana-operator"]
    instance = ctx.custom_resource(INSTANCE, API, "Grafana", grafana_spec(ctx), labels=INSTANCE_LABELS,
                                   depends_on=(release,))
    for name, spec in datasources(ctx):
        ctx.custom_resource(name, API, "GrafanaDatasource", {"resyncPeriod": "10m", **spec}, depends_on=(instance,))
    for d in DASHBOARDS:
        spec: dict = {"instanceSelector": {"matchLabels": INSTANCE_LABELS}, "folder": "Platform", "url": d.url,
                      "resyncPeriod": "24h"}
        if d.inputs:
            spec["datasources"] = [{"inputName": i, "datasourceName": "Thanos"} for i in d.inputs]
        ctx.custom_resource(d.name, API, "GrafanaDashboard", spec, depends_on=(instance,))
    if ctx.enabled(MONITORING_APP):  # nodes, Kubernetes, control plane, Prometheus: the stack's own ConfigMaps
        for name in KPS_DASHBOARDS:
            ctx.custom_resource(f"{KPS}-{name}", API, "GrafanaDashboard", {
                "instanceSelector": {"matchLabels": INSTANCE_LABELS}, "folder": "Kubernetes", "resyncPeriod": "24h",
                "configMapRef": {"name": f"{KPS}-{name}", "key": f"{name}.json"}}, depends_on=(instance,))
    # Grafana's own metrics (/metrics on its HTTP port, container port "grafana-http"); the operator has its
    # chart's ServiceMonitor.
    ctx.monitor(INSTANCE, GRAFANA_PODS, {"port": "grafana-http", "path": "/metrics", "interval": "60s"},
                depends_on=(instance,))


APP = App(
    name=INSTANCE,
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, operator_values, crds=(GROUP,)),),
    flows=(
        Flow("grafana-dashboards-download", pods(NAMESPACE, OPERATOR_PODS), WORLD, (Port(443),),
             "the operator fetches the pinned dashboards (raw.githubusercontent.com)"),
        Flow("grafana-oauth", pods(NAMESPACE, GRAFANA_PODS), WORLD, (Port(443),),
             "token and userinfo calls to Keycloak's public issuer URL"),
        Flow("grafana-loki", pods(NAMESPACE, GRAFANA_PODS), pods("logging", {"app.kubernetes.io/name": "loki"}),
             (Port(3100),), "Loki datasource (query frontend)"),
    ),
    routes=(UiRoute("monitoring", SERVICE, PORT, oidc_client=None, websocket=True, route_name=INSTANCE,
                    probe_path="/api/health"),),
    claims=(OidcClient(client_id=OIDC_CLIENT, host="monitoring", redirect_paths=("/login/generic_oauth",),
                       secret=OIDC_SECRET),
            DATABASE, ES_USER),  # without Elasticsearch processing, no such datasource
    objects=objects,
    description="Grafana (operator v5) with its own Keycloak OAuth, datasources Thanos/Loki/Elasticsearch, dashboards",
)

