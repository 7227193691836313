"""APISIX: pinned chart, the gateway behind the ingress load balancer, and the gateway role: it reaches every
namespace and publishes the UI routes (TLS only, behind OIDC) of every app."""

from __future__ import annotations

from components.config import oidc_issuer
from tests.components.platform.helpers import INFRA_AFFINITY, NETWORK_POLICY, pinned, platform_run, policy_names, releases

ROUTE = "kubernetes:apisix.apache.org/v2:ApisixRoute"


def test_pinned_chart_on_the_infra_nodes(any_stack):
    assert pinned(any_stack, "apisix") == ("https://apache.github.io/apisix-helm-chart", "apisix", "2.14.0", "networking")
    assert releases(any_stack)["apisix"].inputs["values"]["affinity"]["nodeAffinity"] == INFRA_AFFINITY


def test_gateway_matches_the_ingress_load_balancer(any_stack):
    v = releases(any_stack)["apisix"].inputs["values"]
    assert v["service"]["type"] == "NodePort"
    assert (v["service"]["http"]["nodePort"], v["service"]["tls"]["nodePort"]) == (32080, 32443)
    assert v["apisix"]["ssl"]["enabled"] is True
    assert v["etcd"]["enabled"] is False
    assert v["apisix"]["deployment"]["role_traditional"]["config_provider"] == "yaml"
    assert v["ingress-controller"]["config"]["provider"]["type"] == "apisix-standalone"
    assert releases(any_stack)["apisix"].inputs["skipCrds"] is True


def test_values_reference_the_generated_admin_key_by_name(any_stack):
    apisix = releases(any_stack)["apisix"].inputs["values"]
    assert apisix["apisix"]["admin"]["credentials"]["secretName"] == "apisix-admin"
    ref = apisix["ingress-controller"]["gatewayProxy"]["provider"]["controlPlane"]["auth"]["adminKey"]["valueFrom"]
    assert ref == {"secretKeyRef": {"name": "apisix-admin", "key": "admin"}}
    names = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
             for r in any_stack.of_type("kubernetes:core/v1:Secret")}
    assert ("networking", "apisix-admin") in names
    assert set(any_stack.raw_outputs["credentials"]["apisix/apisix-admin"]) == {"admin", "viewer"}


def test_ui_routes_are_tls_only_and_behind_oidc(any_stack):
    routes = {r.inputs["metadata"]["name"]: r for r in any_stack.of_type(ROUTE)}
    assert set(routes) == {"apisix", "ceph", "linkerd", "iam", "security", "processing-kibana", "security-kibana"}
    routes.pop("iam")  # the identity provider's own pages (test_keycloak)
    domain = any_stack.config.domain
    secrets = {(s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s
               for s in any_stack.of_type("kubernetes:core/v1:Secret")}
    for name, r in routes.items():
        rule = r.inputs["spec"]["http"][0]
        assert rule["match"]["hosts"] == [f"{rule['name']}.{domain}"]
        plugins = {p["name"]: p for p in rule["plugins"]}
        assert plugins["redirect"]["config"] == {"http_to_https": True}
        oidc = plugins["openid-connect"]
        assert oidc["config"]["discovery"] == f"{oidc_issuer(any_stack.config)}/.well-known/openid-configuration"
        assert "client_secret" not in oidc["config"]
        secret = secrets[(r.inputs["metadata"]["namespace"], oidc["secretRef"])]
        assert set(secret.inputs["stringData"]) == {"client_secret", "session.secret"}
        assert secret.urn in r.dependencies
        assert r.inputs["spec"]["ingressClassName"] == "apisix"
    tls = any_stack.of_type("kubernetes:apisix.apache.org/v2:ApisixTls")
    assert [t.inputs["spec"]["hosts"] for t in tls] == [[f"*.{domain}"]]
    assert oidc_issuer(any_stack.config) == f"https://iam.{domain}/realms/coprs"
    assert set(any_stack.outputs["urls"]) == {r.inputs["spec"]["http"][0]["name"] for r in routes.values()} | {"iam"}


def test_the_gateway_reaches_every_other_namespace(dev):
    networking = policy_names(dev, "networking")
    for ns in ("infra", "rook-ceph", "velero", "iam"):
        assert f"allow-gateway-to-{ns}" in networking
        assert "allow-gateway-from-networking" in policy_names(dev, ns)
    assert "allow-gateway-out" not in networking


def test_without_the_gateway_no_routes_and_no_gateway_flows():
    r = platform_run("dev", {"coprs:platform.apps.apisix.enabled": False})
    assert not r.of_type(ROUTE)
    assert not any(p.inputs["metadata"]["name"].startswith("allow-gateway") for p in r.of_type(NETWORK_POLICY))
