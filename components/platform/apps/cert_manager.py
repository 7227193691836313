"""cert-manager (infra): certificates for the platform.

- an internal CA (cert-manager selfSigned bootstrap → CA Certificate → ClusterIssuer `internal-ca`); its
  key never leaves the cluster;
- the public issuer from `coprs:platform.issuer`: ACME with a DNS01 solver (HTTP01 cannot work behind
  APISIX) whose credentials come from the secret config `coprs:acmeDnsCredentials`, or the internal CA;
- the wildcard certificate `*.<domain>` into Secret `networking/ingress-tls`, which APISIX serves.
"""

from __future__ import annotations

from ...config import dns01_solver
from ..app import App, AppContext, Chart, ChartRelease, Webhook, logical
from ..flows import WORLD, Flow, Port, pods
from ..placement import Resources

CHART = Chart("cert-manager", "https://charts.jetstack.io", "v1.21.1")
NAMESPACE = "infra"
API = "cert-manager.io/v1"
INTERNAL_CA = "internal-ca"
PUBLIC_ISSUER = "public"
WILDCARD_SECRET = "ingress-tls"
WILDCARD_NAMESPACE = "networking"
DNS_CREDENTIALS_SECRET = "acme-dns-credentials"
CONTROLLER_PODS = {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/instance": "cert-manager"}
WEBHOOK_PODS = {"app.kubernetes.io/name": "webhook", "app.kubernetes.io/instance": "cert-manager"}


def values(ctx: AppContext) -> dict:
    r = ctx.replicas(2, 1)
    affinity = ctx.affinity()
    return {
        "crds": {"enabled": True, "keep": True},
        "global": {"leaderElection": {"namespace": NAMESPACE}},
        "replicaCount": r,
        "podDisruptionBudget": {"enabled": ctx.prod},
        "resources": ctx.resources("controller", Resources("20m", "64Mi", memory_limit="256Mi")).render(),
        "affinity": affinity,
        # DNS01 self-checks go through the cluster resolvers (egress on 53 is only open to DNS).
        "dns01RecursiveNameserversOnly": True,
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": ctx.service_monitors, "interval": "2m"}},
        "webhook": {
            "replicaCount": r,
            "podDisruptionBudget": {"enabled": ctx.prod},
            "resources": ctx.resources("webhook", Resources("10m", "32Mi", memory_limit="64Mi")).render(),
            "affinity": affinity,
        },
        "cainjector": {
            "replicaCount": r,
            "podDisruptionBudget": {"enabled": ctx.prod},
            "resources": ctx.resources("cainjector", Resources("10m", "128Mi", memory_limit="256Mi")).render(),
            "affinity": affinity,
        },
        "startupapicheck": {
            "resources": ctx.resources("startupapicheck", Resources("10m", "32Mi", memory_limit="64Mi")).render(),
            "affinity": affinity,
        },
    }


def _public_issuer(ctx: AppContext) -> str:
    issuer = ctx.cfg.platform.issuer
    if issuer.type == "ca":
        return INTERNAL_CA
    assert issuer.dns01 is not None  # config rule: ACME needs dns01
    secret = ctx.secret(DNS_CREDENTIALS_SECRET, ("credentials",), from_config="acmeDnsCredentials",
                        aliases=(logical("cert-manager", DNS_CREDENTIALS_SECRET),))
    solver = dns01_solver(issuer.dns01, {"name": DNS_CREDENTIALS_SECRET, "key": "credentials"})
    ctx.custom_resource(
        PUBLIC_ISSUER, API, "ClusterIssuer",
        {
            "acme": {
                "server": issuer.server,
                "email": issuer.email,
                "privateKeySecretRef": {"name": "public-issuer-account"},
                "solvers": [{"dns01": {issuer.dns01.provider: solver}}],
            }
        },
        cluster_scoped=True, depends_on=(secret,),
    )
    return PUBLIC_ISSUER


def objects(ctx: AppContext) -> None:
    bootstrap = ctx.custom_resource("selfsigned-bootstrap", API, "ClusterIssuer", {"selfSigned": {}}, cluster_scoped=True)
    ca_cert = ctx.custom_resource(
        INTERNAL_CA, API, "Certificate",
        {
            "isCA": True,
            "commonName": f"coprs internal CA {ctx.cfg.cluster.name}",
            "secretName": INTERNAL_CA,
            "duration": "87600h",
            "renewBefore": "720h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Never"},
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "selfsigned-bootstrap"},
        },
        depends_on=(bootstrap,),
    )
    internal = ctx.custom_resource(INTERNAL_CA, API, "ClusterIssuer", {"ca": {"secretName": INTERNAL_CA}},
                                   cluster_scoped=True, depends_on=(ca_cert,))
    public = _public_issuer(ctx)
    ctx.custom_resource(
        WILDCARD_SECRET, API, "Certificate",
        {
            "secretName": WILDCARD_SECRET,
            "dnsNames": [f"*.{ctx.domain}"],
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["digital signature", "key encipherment", "server auth"],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": public},
        },
        namespace=WILDCARD_NAMESPACE, depends_on=(internal,),
    )


APP = App(
    name="cert-manager",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values, crds=("cert-manager.io", "acme.cert-manager.io")),),
    flows=(
        Flow("cert-manager-acme", pods(NAMESPACE, CONTROLLER_PODS), WORLD,
             (Port(443), Port(53, "UDP"), Port(53, "TCP")), "ACME server and DNS01 provider APIs"),
    ),
    webhooks=(Webhook("webhook", WEBHOOK_PODS, 10250),),
    objects=objects,
    description="certificates: internal CA, public wildcard",
)
