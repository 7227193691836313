"""App framework behaviour: disabling, typed settings, routes with OIDC, the core services' key settings."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from components.platform.app import AppSettings
from components.platform.apps import APPS
from components.platform.platform import enabled_apps
from components.platform.routes import oidc_issuer
from tests.components.platform.helpers import ancestors, platform_run, releases

ROUTE = "kubernetes:apisix.apache.org/v2:ApisixRoute"
CLUSTER_ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"


def _app_names(result) -> set[str]:
    return {r.name for r in result.of_type("coprs:platform:App")}


def test_all_core_apps_are_on_by_default(any_stack):
    assert {"gateway-api", "cert-manager", "linkerd", "linkerd-viz", "apisix", "rook-ceph", "metrics-server",
            "keda"} <= _app_names(any_stack)
    assert any_stack.outputs["platform"]["disabledApps"] == {}


def test_disabling_an_app_removes_it_and_what_depends_on_it():
    r = platform_run("dev", {"coprs:platform.apps.cert-manager.enabled": False})
    names = _app_names(r)
    assert not {"cert-manager", "linkerd", "linkerd-viz", "apisix"} & names
    assert {"rook-ceph", "metrics-server", "keda", "gateway-api"} <= names
    assert not r.of_type(CLUSTER_ISSUER) and not r.of_type(ROUTE)
    assert {"rook-ceph", "rook-ceph-cluster", "metrics-server", "keda"} <= set(releases(r))
    off = r.outputs["platform"]["disabledApps"]
    assert off["cert-manager"] == "disabled in config" and off["linkerd-viz"] == "needs linkerd"
    assert len(r.of_type("coprs:platform:Namespace")) >= 10  # namespaces stay


def test_disabling_a_leaf_removes_only_it():
    r = platform_run("dev", {"coprs:platform.apps.linkerd-viz.enabled": False})
    assert "linkerd-viz" not in releases(r) and "linkerd-control-plane" in releases(r)
    assert {x.inputs["metadata"]["name"] for x in r.of_type(ROUTE)} == {"apisix", "ceph", "processing", "security"}


def test_optional_dependencies_only_order():
    r = platform_run("dev", {"coprs:platform.apps.gateway-api.enabled": False})
    assert "linkerd-control-plane" in releases(r) and "apisix" in releases(r)
    bundles = {x.name for x in r.of_type("kubernetes:yaml/v2:ConfigFile")}
    assert "gateway-api-gateway-api-crds" not in bundles and "apisix-apisix-crds" in bundles
    full = platform_run("dev")
    gateway = next(x for x in full.of_type("kubernetes:yaml/v2:ConfigFile") if x.name == "gateway-api-gateway-api-crds")
    assert gateway.inputs["file"].endswith("/v1.5.1/standard-install.yaml")
    assert gateway.urn in ancestors(full, releases(full)["linkerd-crds"])


def test_without_the_gateway_no_routes_and_no_gateway_flows():
    r = platform_run("dev", {"coprs:platform.apps.apisix.enabled": False})
    assert not r.of_type(ROUTE)
    policies = {p.inputs["metadata"]["name"] for p in r.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert not any(n.startswith("allow-gateway") for n in policies)


def test_unknown_apps_and_settings_give_one_line_errors():
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.graphana is not a known app"):
        platform_run("dev", {"coprs:platform.apps.graphana.enabled": False})
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.rook-ceph\.settings\.blockPoolReplica is not a known setting"):
        platform_run("dev", {"coprs:platform.apps.rook-ceph.settings.blockPoolReplica": 2})
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.rook-ceph\.settings\.blockPoolReplicas = 5: more replicas"):
        platform_run("dev", {"coprs:platform.apps.rook-ceph.settings.blockPoolReplicas": 5})


def test_app_registry_is_consistent():
    names = [a.name for a in APPS]
    assert len(names) == len(set(names))
    for a in APPS:
        assert set(a.depends_on) | set(a.optional) <= set(names) | {"kube-prometheus-stack"}, a.name
        assert issubclass(a.settings, AppSettings)
        for r in a.releases:
            assert r.chart.version and r.chart.repository.startswith(("https://", "oci://"))


def test_a_dependency_cycle_is_reported(dev):
    from dataclasses import replace

    cycle = tuple(replace(a, depends_on=("keda",)) if a.name == "cert-manager" else
                  replace(a, depends_on=("linkerd",)) if a.name == "keda" else a for a in APPS)
    with pytest.raises(RuntimeError, match="dependency cycle"):
        enabled_apps(dev.config, cycle)


def test_ui_routes_are_tls_only_and_behind_oidc(any_stack):
    routes = {r.inputs["metadata"]["name"]: r for r in any_stack.of_type(ROUTE)}
    assert set(routes) == {"apisix", "ceph", "linkerd", "processing", "security"}
    domain = any_stack.config.domain
    secrets = {(s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s
               for s in any_stack.of_type("kubernetes:core/v1:Secret")}
    for name, r in routes.items():
        rule = r.inputs["spec"]["http"][0]
        assert rule["match"]["hosts"] == [f"{name}.{domain}"]
        plugins = {p["name"]: p for p in rule["plugins"]}
        assert plugins["redirect"]["config"] == {"http_to_https": True}
        oidc = plugins["openid-connect"]
        assert oidc["config"]["discovery"] == f"https://iam.{domain}/realms/coprs/.well-known/openid-configuration"
        assert "client_secret" not in oidc["config"]
        prefix = rule["match"]["paths"][0].rstrip("*").rstrip("/")
        assert oidc["config"]["redirect_uri"] == f"https://{name}.{domain}{prefix}/redirect_uri"
        secret = secrets[(r.inputs["metadata"]["namespace"], oidc["secretRef"])]
        assert set(secret.inputs["stringData"]) == {"client_secret", "session.secret"}
        assert r.inputs["spec"]["ingressClassName"] == "apisix"
    tls = any_stack.of_type("kubernetes:apisix.apache.org/v2:ApisixTls")
    assert [t.inputs["spec"]["hosts"] for t in tls] == [[f"*.{domain}"]]
    assert oidc_issuer(any_stack.config) == f"https://iam.{domain}/realms/coprs"


def test_wildcard_certificate_and_issuers(dev, prod):
    for r, issuer in ((dev, "internal-ca"), (prod, "public")):
        wildcard = next(c for c in r.of_type(CERTIFICATE) if c.inputs["metadata"]["name"] == "ingress-tls")
        spec = wildcard.inputs["spec"]
        assert wildcard.inputs["metadata"]["namespace"] == "networking"
        assert spec["dnsNames"] == [f"*.{r.config.domain}"] and spec["secretName"] == "ingress-tls"
        assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer}
    public = next(c for c in prod.of_type(CLUSTER_ISSUER) if c.inputs["metadata"]["name"] == "public")
    solver = public.inputs["spec"]["acme"]["solvers"][0]["dns01"]["rfc2136"]
    assert solver["tsigSecretSecretRef"] == {"name": "acme-dns-credentials", "key": "credentials"}
    creds = next(s for s in prod.of_type("kubernetes:core/v1:Secret") if s.inputs["metadata"]["name"] == "acme-dns-credentials")
    assert creds.masked_inputs["stringData"] in ("[secret]", {"credentials": "[secret]"})


def test_acme_issuer_needs_email_and_dns01():
    with pytest.raises(ConfigError, match=r"coprs:platform\.issuer: an ACME issuer needs email and dns01"):
        platform_run("dev", {"coprs:platform.issuer": {"type": "acme"}})


def test_linkerd_identity_comes_from_pulumi_tls_and_cert_manager(any_stack):
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
    servers = {(s.inputs["metadata"]["namespace"], s.inputs["spec"]["port"])
               for s in any_stack.of_type("kubernetes:policy.linkerd.io/v1beta3:Server")}
    assert {("infra", 10250), ("infra", 9443), ("infra", 6443), ("networking", 9080), ("networking", 9443)} <= servers
    policies = any_stack.of_type("kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy")
    server_names = {s.inputs["metadata"]["name"] for s in any_stack.of_type("kubernetes:policy.linkerd.io/v1beta3:Server")}
    assert {p.inputs["spec"]["targetRef"]["name"] for p in policies} == server_names
    probe = releases(any_stack)["linkerd-control-plane"].inputs["values"]["policyController"]["probeNetworks"]
    assert probe == [any_stack.config.network.cidr, any_stack.config.cluster.pod_cidr]


def test_apisix_gateway_matches_the_ingress_load_balancer(any_stack):
    v = releases(any_stack)["apisix"].inputs["values"]
    assert v["service"]["type"] == "NodePort"
    assert (v["service"]["http"]["nodePort"], v["service"]["tls"]["nodePort"]) == (32080, 32443)
    assert v["apisix"]["ssl"]["enabled"] is True
    assert v["etcd"]["enabled"] is False
    assert v["apisix"]["deployment"]["role_traditional"]["config_provider"] == "yaml"
    assert v["ingress-controller"]["config"]["provider"]["type"] == "apisix-standalone"
    assert releases(any_stack)["apisix"].inputs["skipCrds"] is True


def test_rook_ceph_storage(dev, prod):
    for r, size in ((dev, 1), (prod, 3)):
        v = releases(r)["rook-ceph-cluster"].inputs["values"]
        pool = v["cephBlockPools"][0]
        assert pool["spec"]["replicated"] == {"size": size, "requireSafeReplicaSize": size > 1}
        assert pool["storageClass"]["name"] == "ceph-block" and pool["storageClass"]["isDefault"] is True
        fs = v["cephFileSystems"][0]
        assert fs["name"] == "ceph-fs" and fs["storageClass"]["name"] == "ceph-fs"
        for sc in (pool["storageClass"], fs["storageClass"]):
            assert sc["reclaimPolicy"] == "Retain"
        assert v["cephObjectStores"] == []
        placement = v["cephClusterSpec"]["placement"]["all"]
        term = placement["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
        assert term["matchExpressions"][0]["key"] == "node-role.kubernetes.io/rook_ceph"
        assert placement["tolerations"] == [{"key": "node-role.kubernetes.io/rook_ceph", "operator": "Exists",
                                             "effect": "NoSchedule"}]


def test_platform_services_are_pinned_to_infra_nodes(any_stack):
    rel = releases(any_stack)
    infra = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "node-role.kubernetes.io/infra", "operator": "Exists"}]}]}}
    for name in ("cert-manager", "apisix", "metrics-server", "keda"):
        assert rel[name].inputs["values"]["affinity"]["nodeAffinity"] == infra, name
    assert rel["linkerd-control-plane"].inputs["values"]["nodeAffinity"] == infra
    assert rel["linkerd-viz"].inputs["values"]["nodeSelector"] == {"node-role.kubernetes.io/infra": ""}


def test_resources_can_be_overridden_per_component():
    r = platform_run("dev", {"coprs:platform.apps.keda.settings.resources": {"operator": {"memoryLimit": "2Gi"}}})
    res = releases(r)["keda"].inputs["values"]["resources"]
    assert res["operator"]["limits"]["memory"] == "2Gi" and res["webhooks"]["limits"]["memory"] == "1000Mi"


def test_service_monitors_wait_for_the_monitoring_stack(any_stack):
    # No monitoring app yet: every switch is off, so no release needs the ServiceMonitor CRDs.
    rel = releases(any_stack)
    assert rel["cert-manager"].inputs["values"]["prometheus"]["servicemonitor"]["enabled"] is False
    assert rel["keda"].inputs["values"]["prometheus"]["operator"]["serviceMonitor"]["enabled"] is False
