"""Linkerd (networking): mTLS between platform pods.

Releases, in order: CRDs, the CNI plugin (kube-system; it replaces the NET_ADMIN proxy-init container so
meshed namespaces can stay PSA restricted), the control plane. Identity: the trust anchor is a
pulumi-tls self-signed CA (its key lives only in the Pulumi state, as a secret, and in the cluster), which
backs a cert-manager CA Issuer; cert-manager issues and rotates the identity issuer certificate into the
`linkerd-identity-issuer` Secret that the control plane reads (`identity.issuer.scheme: kubernetes.io/tls`).
Meshed pods default to `all-authenticated`; kubelet probes are authorized from the cluster hosts.
It plays the "mesh": every meshed namespace reaches its control plane, and once every app is declared it
authorizes the unmeshed callers (webhooks, NodePort traffic) of every meshed app (`mesh.py`).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from ..app import App, AppContext, Chart, ChartRelease, before_releases, logical
from ..flows import HOSTS, MESHED, Flow, pods, tcp
from ..mesh import POLICY_GROUP, authorize_unmeshed
from ..placement import Resources

REPO = "https://helm.linkerd.io/edge"
VERSION = "2026.8.3"
NAMESPACE = "networking"
CNI_NAMESPACE = "kube-system"
TRUST_ANCHOR = "linkerd-trust-anchor"
IDENTITY_ISSUER = "linkerd-identity-issuer"
CONTROL_PLANE_PODS = ("linkerd.io/control-plane-component",)
CERT_API = "cert-manager.io/v1"


def crds_values(ctx: AppContext) -> dict:
    return {"installGatewayAPI": False}  # Gateway API CRDs have one owner: the cluster layer


def cni_values(ctx: AppContext) -> dict:
    # The CNI DaemonSet runs on every node, including tainted ones (rook_ceph).
    return {
        "tolerations": [{"operator": "Exists"}],
        "priorityClassName": "system-node-critical",
        "resources": {"cpu": {"request": "10m", "limit": ""}, "memory": {"request": "32Mi", "limit": "64Mi"}},
    }


def control_plane_values(ctx: AppContext) -> dict:
    return {
        "identityTrustAnchorsPEM": ctx.state["trust_anchor"].cert_pem,
        "identity": {"issuer": {"scheme": "kubernetes.io/tls"}},
        "cniEnabled": True,
        "disableHeartBeat": True,
        "controllerReplicas": ctx.replicas(3, 1),
        "enablePodAntiAffinity": ctx.prod,
        "enablePodDisruptionBudget": ctx.prod,
        "webhookFailurePolicy": "Fail" if ctx.prod else "Ignore",
        "nodeAffinity": ctx.affinity()["nodeAffinity"],
        "policyController": {
            "probeNetworks": list(ctx.registry.env.cluster_host_cidrs),
            "resources": ctx.resources("policy", Resources("10m", "64Mi", memory_limit="256Mi")).linkerd(),
        },
        "proxy": {
            "defaultInboundPolicy": "all-authenticated",
            # PSA restricted: every container drops all capabilities.
            "capabilities": {"drop": ["ALL"]},
            "resources": ctx.resources("proxy", Resources("50m", "32Mi", memory_limit="250Mi")).linkerd(),
        },
        "destinationResources": ctx.resources("destination", Resources("10m", "100Mi", memory_limit="250Mi")).linkerd(),
        "spValidatorResources": ctx.resources("spValidator", Resources("10m", "32Mi", memory_limit="128Mi")).linkerd(),
        "identityResources": ctx.resources("identity", Resources("10m", "32Mi", memory_limit="64Mi")).linkerd(),
        "proxyInjectorResources": ctx.resources("proxyInjector", Resources("10m", "72Mi", memory_limit="144Mi")).linkerd(),
        "podMonitor": {"enabled": ctx.service_monitors},
    }


def identity(ctx: AppContext) -> None:
    """Trust anchor (pulumi-tls) → CA Issuer → identity issuer Certificate (cert-manager)."""
    child = pulumi.ResourceOptions(parent=ctx.component)
    key = tls.PrivateKey(logical(TRUST_ANCHOR, "key"), algorithm="ECDSA", ecdsa_curve="P256", opts=child)
    anchor = tls.SelfSignedCert(
        TRUST_ANCHOR,
        private_key_pem=key.private_key_pem,
        is_ca_certificate=True,
        validity_period_hours=87600,
        early_renewal_hours=8760,
        allowed_uses=["cert_signing", "crl_signing"],
        subject={"common_name": "root.linkerd.cluster.local"},
        opts=child,
    )
    ctx.state["trust_anchor"] = anchor
    secret = k8s.core.v1.Secret(
        logical("linkerd", "secret", TRUST_ANCHOR),
        metadata={"name": TRUST_ANCHOR, "namespace": NAMESPACE},
        type="kubernetes.io/tls",
        string_data={"tls.crt": anchor.cert_pem, "tls.key": key.private_key_pem},
        opts=ctx.opts(),
    )
    issuer = ctx.custom_resource(TRUST_ANCHOR, CERT_API, "Issuer", {"ca": {"secretName": TRUST_ANCHOR}},
                                 depends_on=(secret,))
    cert = ctx.custom_resource(
        IDENTITY_ISSUER, CERT_API, "Certificate",
        {
            "secretName": IDENTITY_ISSUER,
            "duration": "48h",
            "renewBefore": "25h",
            "isCA": True,
            "commonName": "identity.linkerd.cluster.local",
            "dnsNames": ["identity.linkerd.cluster.local"],
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["cert sign", "crl sign", "server auth", "client auth"],
            "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": TRUST_ANCHOR},
        },
        depends_on=(issuer,),
    )
    before_releases(ctx, cert)


def authorize_callers(ctx: AppContext) -> None:
    """Server + AuthorizationPolicy for the unmeshed callers of every meshed app, after the policy CRDs."""
    reg = ctx.registry
    for consumer in reg.enabled.values():
        callers, ns = consumer.unmeshed_callers, consumer.namespace
        if not callers or ns not in reg.env.meshed:
            continue
        access = reg.access(consumer.name)
        authorize_unmeshed(
            consumer.name, ns, callers, reg.env.cluster_host_cidrs,
            lambda access=access, ns=ns, name=consumer.name: pulumi.ResourceOptions(
                parent=access, depends_on=[*reg.namespace_deps(ns), reg.crd_provider(POLICY_GROUP, name)]),
        )


APP = App(
    name="linkerd",
    namespace=NAMESPACE,
    releases=(
        ChartRelease(Chart("linkerd-crds", REPO, VERSION), crds_values,
                     crds=("policy.linkerd.io", "linkerd.io", "workload.linkerd.io")),
        ChartRelease(Chart("linkerd2-cni", REPO, VERSION), cni_values, name="linkerd-cni", namespace=CNI_NAMESPACE),
        ChartRelease(Chart("linkerd-control-plane", REPO, VERSION), control_plane_values,
                     uses_crds=("policy.linkerd.io",)),
    ),
    roles=("mesh",),
    flows=(
        Flow("linkerd-webhooks", HOSTS, pods(NAMESPACE, keys=CONTROL_PLANE_PODS), tcp(8443, 9443),
             "API server → proxy injector, service-profile and policy validators"),
        Flow("mesh-control-plane", pods(MESHED), pods(NAMESPACE, keys=CONTROL_PLANE_PODS), tcp(8080, 8086, 8090),
             "proxies get identity (8080), destinations (8086) and policies (8090)", across=True),
    ),
    depends_on=("cert-manager",),
    optional=("gateway-api",),
    before=identity,
    after_apps=authorize_callers,
    description="service mesh: mTLS identity and authorization policy",
)
