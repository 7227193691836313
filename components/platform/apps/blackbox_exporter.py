"""Endpoint probes (monitoring): the blackbox exporter (prometheus-blackbox-exporter 11.17.2, v0.28.0) and one `Probe` per UI.

Every UI route of the enabled apps (`UiRoute`s, https://<host>.<domain>/<prefix>) gets a `Probe` every
60 s through the gateway, with the seed's labels `targetName` and `targetUrl` on every `probe_*` series.
Routes behind the gateway's OIDC are probed with a bearer token from Keycloak's client-credentials flow
(client `blackbox-exporter`, its secret generated into `oidc-blackbox-exporter` for the realm to register
and mounted into the exporter as a file); UIs that do their own OAuth are probed on their public health
path. A failing probe raises `EndpointDown` (apps/alert_rules.py).
"""

from __future__ import annotations

from ...config import oidc_issuer
from ..app import App, AppContext, Chart, ChartRelease, UiRoute
from ..flows import HOSTS, WORLD, Flow, Port, pods
from ..placement import Resources
from ..routes import own_oauth_client
from .kube_prometheus_stack import MONITORING_APP, MONITORING_CRDS, NAMESPACE

CHART = Chart("prometheus-blackbox-exporter", "https://prometheus-community.github.io/helm-charts", "11.17.2")
RELEASE = "prometheus-blackbox-exporter"
PORT = 9115
PROBER = f"{RELEASE}.{NAMESPACE}.svc:{PORT}"
CLIENT = "blackbox-exporter"
SECRET = f"oidc-{CLIENT}"
SECRET_DIR = "/etc/blackbox/oauth"
PODS = {"app.kubernetes.io/name": "prometheus-blackbox-exporter"}
INTERVAL = "60s"
PUBLIC, PROTECTED = "http_2xx", "http_2xx_oauth2"


def modules(ctx: AppContext) -> dict:
    http = {"preferred_ip_protocol": "ip4", "valid_status_codes": [200], "follow_redirects": False,
            "fail_if_not_ssl": True, "tls_config": {"insecure_skip_verify": False}}
    return {
        PUBLIC: {"prober": "http", "timeout": "10s", "http": http},
        PROTECTED: {"prober": "http", "timeout": "10s", "http": {**http, "oauth2": {
            "client_id": CLIENT,
            "client_secret_file": f"{SECRET_DIR}/client-secret",
            "token_url": f"{oidc_issuer(ctx.cfg)}/protocol/openid-connect/token",
            "scopes": ["openid"],
        }}},
    }


def targets(ctx: AppContext) -> list[tuple[str, str, UiRoute]]:
    """(targetName, targetUrl, route) for every UI of the enabled apps."""
    out = []
    for app in ctx.registry.enabled.values():
        for r in app.routes:
            out.append((r.name, f"https://{r.host}.{ctx.domain}{r.probe.format(realm=ctx.cfg.cluster.oidc.realm)}", r))
    return sorted(out, key=lambda t: t[0])


def client_secret(ctx: AppContext) -> None:
    own_oauth_client(ctx, CLIENT)


def values(ctx: AppContext) -> dict:
    return {
        "config": {"modules": modules(ctx)},
        "extraSecretMounts": [{"name": "oauth", "mountPath": SECRET_DIR, "secretName": SECRET, "readOnly": True,
                               "defaultMode": 0o440}],
        "podSecurityContext": {"runAsNonRoot": True, "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "affinity": ctx.affinity(),
        "resources": ctx.resources("blackboxExporter", Resources("10m", "32Mi", memory_limit="128Mi")).render(),
        "serviceMonitor": {"selfMonitor": {"enabled": ctx.service_monitors}},
    }


def probes(ctx: AppContext) -> None:
    for name, url, route in targets(ctx):
        ctx.custom_resource(
            f"ui-{name}", f"{MONITORING_CRDS}/v1", "Probe",
            {
                "jobName": "ui-endpoints",
                "interval": INTERVAL,
                "module": PROTECTED if route.oidc_client else PUBLIC,
                "prober": {"url": PROBER, "scheme": "http", "path": "/probe"},
                "targets": {"staticConfig": {"static": [url], "labels": {"targetName": name, "targetUrl": url}}},
            },
            depends_on=tuple(ctx.releases.values()),
        )


APP = App(
    name="blackbox-exporter",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values, name=RELEASE),),
    flows=(
        # The UIs' public names resolve to the ingress load balancer (node network) or its floating IP.
        Flow("probes-gateway", pods(NAMESPACE, PODS), HOSTS, (Port(443),), "probes → the gateway's load balancer"),
        Flow("probes-gateway-public", pods(NAMESPACE, PODS), WORLD, (Port(443),), "probes → the gateway's public address"),
    ),
    depends_on=(MONITORING_APP,),
    before=client_secret,
    objects=probes,
    description="endpoint probes of every UI (probe_*{targetName,targetUrl})",
)
