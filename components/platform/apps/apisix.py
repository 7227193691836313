"""APISIX (networking): the gateway behind the cloud ingress load balancer, and its ingress controller.

- NodePorts 32080 (HTTP → HTTPS redirect per route) and 32443 (TLS) match the ingress load balancer;
- no bundled etcd (the chart's bitnami etcd runs an unmaintained `:latest` image): APISIX runs in
  API-driven standalone mode (`config_provider: yaml`) and the ingress controller pushes the whole
  configuration through the Admin API (`provider.type: apisix-standalone`), as documented upstream;
- the Admin API key is generated (Secret `apisix-admin`) and read by APISIX and by the controller's
  GatewayProxy through secret references;
- TLS: ApisixTls for `*.<domain>` serving the cert-manager wildcard certificate (`ingress-tls`);
- CRDs: the controller chart ships them in crds/ (never upgraded by Helm, and bundled with an old
  experimental Gateway API); the apisix.apache.org CRDs are applied from the pinned chart tag instead,
  and the Gateway API CRDs stay with the cluster layer;
- the embedded Admin UI is published at https://apisix.<domain> behind Keycloak OIDC;
- it plays the "gateway": it reaches every platform namespace, and once every app is declared it publishes
  their UI routes (`routes.py`: TLS, OIDC) and collects the OIDC clients for the identity app.
"""

from __future__ import annotations

import ipaddress

import pulumi

from ..app import App, AppContext, Chart, ChartRelease, CrdBundle, GeneratedSecret, MeshInbound, UiRoute, Webhook
from ..flows import HOSTS, MANAGED, WORLD, Flow, Port, pods, tcp
from ..placement import Resources
from ..routes import ui_route
from .cert_manager import WILDCARD_SECRET

VERSION = "2.14.0"
CHART = Chart("apisix", "https://apache.github.io/apisix-helm-chart", VERSION)
CRDS = "apisix.apache.org"
CRD_URL = (
    f"https://raw.githubusercontent.com/apache/apisix-helm-chart/apisix-{VERSION}/"
    "charts/apisix-ingress-controller/crds/apisixic-crds.yaml"
)
NAMESPACE = "networking"
RELEASE = "apisix"
ADMIN_SECRET = "apisix-admin"
ADMIN_SERVICE = f"{RELEASE}-admin"
HTTP_NODE_PORT, HTTPS_NODE_PORT = 32080, 32443
HTTP_PORT, HTTPS_PORT, ADMIN_PORT = 9080, 9443, 9180
# The gateway's own service account: its mesh identity is what trusted-header backends accept.
GATEWAY_SERVICE_ACCOUNT = "apisix-gateway"
GATEWAY_PODS = {"app.kubernetes.io/name": "apisix", "app.kubernetes.io/instance": RELEASE}
CONTROLLER_PODS = {"app.kubernetes.io/name": "apisix-ingress-controller", "app.kubernetes.io/instance": RELEASE}


def _resolver(ctx: AppContext) -> str:
    if ctx.cfg.platform.node_local_dns:
        return ctx.cfg.platform.node_local_dns
    return str(ipaddress.ip_network(ctx.cfg.cluster.service_cidr)[3])  # Kubespray's CoreDNS service address


def values(ctx: AppContext) -> dict:
    admin_ref = {"secretKeyRef": {"name": ADMIN_SECRET, "key": "admin"}}
    return {
        "replicaCount": ctx.replicas(3, 1),
        "serviceAccount": {"create": True, "name": GATEWAY_SERVICE_ACCOUNT},  # its own account (the mesh identity Keycloak and Graylog admit)
        "podDisruptionBudget": {"enabled": ctx.prod, "minAvailable": None, "maxUnavailable": 1},
        "affinity": ctx.affinity(),
        "resources": ctx.resources("apisix", Resources("100m", "256Mi", memory_limit="512Mi")).render(),
        "service": {
            "type": "NodePort",
            "externalTrafficPolicy": "Cluster",
            "http": {"enabled": True, "servicePort": 80, "containerPort": HTTP_PORT, "nodePort": HTTP_NODE_PORT},
            "tls": {"servicePort": 443, "nodePort": HTTPS_NODE_PORT},
        },
        "apisix": {
            "deployment": {"mode": "traditional", "role": "traditional", "role_traditional": {"config_provider": "yaml"}},
            "ssl": {"enabled": True, "containerPort": HTTPS_PORT},
            "admin": {
                "enabled": True,
                "type": "ClusterIP",
                "port": ADMIN_PORT,
                "servicePort": ADMIN_PORT,
                "credentials": {"secretName": ADMIN_SECRET, "secretAdminKey": "admin", "secretViewerKey": "viewer"},
            },
            "dns": {"resolvers": [_resolver(ctx)]},
            "prometheus": {"enabled": True},
        },
        "metrics": {"serviceMonitor": {"enabled": ctx.service_monitors, "interval": "2m"}},
        "etcd": {"enabled": False},
        "ingress-controller": {
            "enabled": True,
            "labelsOverride": dict(CONTROLLER_PODS),
            "config": {"provider": {"type": "apisix-standalone"}, "kubernetes": {"ingressClass": "apisix"}},
            "deployment": {
                "replicas": ctx.replicas(2, 1),
                "affinity": ctx.affinity(),
                "resources": ctx.resources("ingressController", Resources("20m", "64Mi", memory_limit="256Mi")).render(),
            },
            "gatewayProxy": {
                "createDefault": True,
                "provider": {
                    "type": "ControlPlane",
                    "controlPlane": {
                        "service": {"name": ADMIN_SERVICE, "port": ADMIN_PORT},
                        "auth": {"type": "AdminKey", "adminKey": {"valueFrom": admin_ref}},
                    },
                },
            },
            "apisix": {"adminService": {"namespace": NAMESPACE, "name": ADMIN_SERVICE, "port": ADMIN_PORT}},
            "serviceMonitor": {"enabled": ctx.service_monitors, "namespace": NAMESPACE, "interval": "2m"},
        },
    }


def objects(ctx: AppContext) -> None:
    ctx.custom_resource(
        "wildcard", f"{CRDS}/v2", "ApisixTls",
        {"ingressClassName": "apisix", "hosts": [f"*.{ctx.domain}"],
         "secret": {"name": WILDCARD_SECRET, "namespace": NAMESPACE}},
    )


def publish_routes(ctx: AppContext) -> None:
    """The UI routes of every enabled app, each after the app and the ApisixRoute CRDs."""
    reg = ctx.registry
    for consumer in reg.enabled.values():
        for r in consumer.routes:
            access = reg.access(consumer.name)
            _, client = ui_route(
                ctx.cfg, consumer, r,
                pulumi.ResourceOptions(parent=access, depends_on=reg.namespace_deps(r.namespace or consumer.namespace)),
                pulumi.ResourceOptions(depends_on=[reg.crd_provider(CRDS, consumer.name), reg.deployments[consumer.name]]),
            )
            if client:
                reg.oidc_clients[client.client_id] = client


APP = App(
    name="apisix",
    namespace=NAMESPACE,
    crd_bundles=(CrdBundle("apisix-crds", CRD_URL, (CRDS,)),),
    releases=(ChartRelease(CHART, values, name=RELEASE, skip_crds=True, uses_crds=(CRDS,)),),
    secrets=(GeneratedSecret(ADMIN_SECRET, ("admin", "viewer")),),
    roles=("gateway",),
    flows=(
        Flow("gateway", pods(NAMESPACE, GATEWAY_PODS), pods(MANAGED), across=True,
             why="the gateway reaches the UIs and APIs it routes to"),
        Flow("gateway-nodeports", HOSTS, pods(NAMESPACE, GATEWAY_PODS), tcp(HTTP_PORT, HTTPS_PORT),
             "ingress load balancer → NodePorts → gateway (kube-proxy SNATs to node addresses)"),
        Flow("gateway-oidc", pods(NAMESPACE, GATEWAY_PODS), WORLD, (Port(443),),
             "OIDC discovery and token calls to https://iam.<domain> (public address)"),
    ),
    webhooks=(Webhook("controller-webhook", CONTROLLER_PODS, 9443),),
    mesh_inbound=(
        MeshInbound("gateway-http", GATEWAY_PODS, HTTP_PORT),
        MeshInbound("gateway-https", GATEWAY_PODS, HTTPS_PORT),
    ),
    routes=(UiRoute("apisix", ADMIN_SERVICE, ADMIN_PORT, oidc_client="apisix"),),
    depends_on=("cert-manager",),
    optional=("gateway-api",),
    objects=objects,
    after_apps=publish_routes,
    description="API gateway and ingress controller",
)
