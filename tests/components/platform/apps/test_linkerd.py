"""Linkerd: pinned charts, identity from pulumi-tls and cert-manager, the mesh role (control-plane flows,
authorizations of unmeshed callers), and nothing meshed without it."""

from __future__ import annotations

from tests.components.platform.helpers import (NO_MESH, INFRA_AFFINITY, NAMESPACE, NETWORK_POLICY, ancestors, in_namespace, pinned,
                                               platform_run, policy_names, releases)

REPO, VERSION = "https://helm.linkerd.io/edge", "2026.8.3"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"


def test_pinned_charts(any_stack):
    assert pinned(any_stack, "linkerd-crds") == (REPO, "linkerd-crds", VERSION, "networking")
    assert pinned(any_stack, "linkerd-cni") == (REPO, "linkerd2-cni", VERSION, "kube-system")
    assert pinned(any_stack, "linkerd-control-plane") == (REPO, "linkerd-control-plane", VERSION, "networking")
    assert releases(any_stack)["linkerd-control-plane"].inputs["values"]["nodeAffinity"] == INFRA_AFFINITY


def test_identity_comes_from_pulumi_tls_and_cert_manager(any_stack):
    cp = releases(any_stack)["linkerd-control-plane"].inputs["values"]
    anchor = next(r for r in any_stack.of_type("tls:index/selfSignedCert:SelfSignedCert") if r.name == "linkerd-trust-anchor")
    assert cp["identityTrustAnchorsPEM"] == anchor.outputs["certPem"]
    assert cp["identity"]["issuer"]["scheme"] == "kubernetes.io/tls"
    assert "tls" not in cp["identity"]["issuer"]
    assert cp["proxy"]["defaultInboundPolicy"] == "all-authenticated"
    assert cp["proxy"]["capabilities"] == {"drop": ["ALL"]} and cp["cniEnabled"] is True
    issuer = next(c for c in any_stack.of_type(CERTIFICATE) if c.inputs["metadata"]["name"] == "linkerd-identity-issuer")
    assert issuer.inputs["spec"]["secretName"] == "linkerd-identity-issuer" and issuer.inputs["spec"]["isCA"] is True
    assert issuer.urn in ancestors(any_stack, releases(any_stack)["linkerd-control-plane"])


def test_unmeshed_callers_are_authorized_explicitly(any_stack):
    servers = any_stack.of_type("kubernetes:policy.linkerd.io/v1beta3:Server")
    ports = {(s.inputs["metadata"]["namespace"], s.inputs["spec"]["port"]) for s in servers}
    assert {("infra", 10250), ("infra", 9443), ("infra", 6443), ("networking", 9080), ("networking", 9443)} <= ports
    policies = any_stack.of_type("kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy")
    assert {p.inputs["spec"]["targetRef"]["name"] for p in policies} == {s.inputs["metadata"]["name"] for s in servers}
    probe = releases(any_stack)["linkerd-control-plane"].inputs["values"]["policyController"]["probeNetworks"]
    assert probe == [any_stack.config.network.cidr, any_stack.config.cluster.pod_cidr]


def test_meshed_namespaces_reach_the_control_plane_and_open_the_proxy_port(dev):
    infra = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in in_namespace(dev, NETWORK_POLICY, "infra")}
    to_cp = infra["allow-mesh-control-plane-to-networking"]["egress"][0]
    assert [p["port"] for p in to_cp["ports"]] == [8080, 8086, 8090, 4143]
    webhook = infra["allow-cert-manager-webhook-in"]["ingress"][0]
    assert {p["port"] for p in webhook["ports"]} == {10250, 4143}
    networking = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in in_namespace(dev, NETWORK_POLICY, "networking")}
    hooks = networking["allow-linkerd-webhooks-in"]
    assert hooks["podSelector"] == {"matchExpressions": [{"key": "linkerd.io/control-plane-component", "operator": "Exists"}]}
    assert {p["port"] for p in hooks["ingress"][0]["ports"]} >= {8443, 9443}
    assert "allow-mesh-control-plane-to-networking" not in policy_names(dev, "rook-ceph")  # not meshed
    assert "allow-mesh-control-plane-out" not in networking  # the control plane's own namespace: same-namespace


def test_without_linkerd_nothing_is_meshed():
    r = platform_run("dev", NO_MESH)
    for ns in r.of_type(NAMESPACE):
        assert ns.inputs["metadata"]["annotations"]["linkerd.io/inject"] == "disabled"
    names = {p.inputs["metadata"]["name"] for p in r.of_type(NETWORK_POLICY)}
    assert not any("mesh-control-plane" in n for n in names)
    assert not r.of_type("kubernetes:policy.linkerd.io/v1beta3:Server")
