"""Grafana: operator v5, its own Keycloak OAuth, Thanos as the default datasource, dashboards as resources, backed up."""

from __future__ import annotations

from components.platform.apps import grafana
from components.platform.apps.kube_prometheus_stack import DASHBOARDS as KPS_DASHBOARDS
from tests.components.platform.helpers import releases

API = "kubernetes:grafana.integreatly.org/v1beta1"


def _of(result, kind):
    return {r.inputs["metadata"]["name"]: r.inputs for r in result.of_type(f"{API}:{kind}")}


def test_operator_from_its_oci_chart_with_upgradable_crds(any_stack):
    r = releases(any_stack)["grafana-operator"]
    assert (r.inputs["chart"], r.inputs["version"]) == ("oci://ghcr.io/grafana/helm-charts/grafana-operator", "5.24.0")
    v = r.inputs["values"]
    assert v["crds"]["immutable"] is False and v["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_own_oauth_against_keycloak_with_roles_from_the_token(any_stack):
    g = _of(any_stack, "Grafana")["grafana"]
    cfg = g["spec"]["config"]
    issuer = f"https://iam.{any_stack.config.domain}/realms/coprs"
    oauth = cfg["auth.generic_oauth"]
    assert oauth["enabled"] == "true" and oauth["client_id"] == "grafana"
    assert oauth["token_url"] == f"{issuer}/protocol/openid-connect/token"
    assert "roles[*]" in oauth["role_attribute_path"] and oauth["role_attribute_strict"] == "true"
    assert oauth["client_secret"] == "$__env{GF_OAUTH_CLIENT_SECRET}"  # from the Secret, never in the CR
    assert cfg["auth"]["disable_login_form"] == "true" and cfg["auth.anonymous"]["enabled"] == "false"
    assert g["spec"]["version"] == "13.0.1"
    secret = next(s for s in any_stack.of_type("kubernetes:core/v1:Secret") if s.inputs["metadata"]["name"] == "oidc-grafana")
    assert set(secret.inputs["stringData"]) == {"client-id", "client-secret", "issuer"}
    route = next(r for r in any_stack.of_type("kubernetes:apisix.apache.org/v2:ApisixRoute")
                 if r.inputs["metadata"]["name"] == "grafana")
    assert "openid-connect" not in {p["name"] for p in route.inputs["spec"]["http"][0]["plugins"]}


def test_datasources_thanos_default_and_loki_with_tenant(any_stack):
    ds = {n: s["spec"]["datasource"] for n, s in _of(any_stack, "GrafanaDatasource").items()}
    assert ds["thanos"]["isDefault"] is True and ds["thanos"]["url"].startswith("http://thanos-query.monitoring.svc")
    assert ds["loki"]["url"].startswith("http://loki-query-frontend.logging.svc")
    assert ds["loki"]["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID" and ds["loki"]["secureJsonData"]["httpHeaderValue1"] == "coprs"
    assert sum(1 for d in ds.values() if d.get("isDefault")) == 1


def test_platform_dashboards_as_resources(any_stack):
    dash = _of(any_stack, "GrafanaDashboard")
    assert set(dash) == {d.name for d in grafana.DASHBOARDS} | {f"kube-prometheus-stack-{n}" for n in KPS_DASHBOARDS}
    assert all(d["spec"]["instanceSelector"] == {"matchLabels": {"dashboards": "grafana"}} for d in dash.values())
    # nodes/Kubernetes from kube-prometheus-stack's ConfigMaps, Loki's from its chart.
    assert releases(any_stack)["kube-prometheus-stack"].inputs["values"]["grafana"]["forceDeployDashboards"] is True
    assert dash["kube-prometheus-stack-nodes"]["spec"]["configMapRef"] == {"name": "kube-prometheus-stack-nodes",
                                                                           "key": "nodes.json"}
    loki = releases(any_stack)["loki"].inputs["values"]["monitoring"]["dashboards"]
    assert loki["grafanaOperator"]["enabled"] is True
    topics = " ".join(d.url for d in grafana.DASHBOARDS)
    for needle in ("ceph", "strimzi", "elasticsearch_exporter", "cloudnative-pg", "apisix", "linkerd2"):
        assert needle in topics


def test_state_in_postgresql_verified_tls_and_ha_in_prod(any_stack):
    assert grafana.DATABASE in grafana.APP.claims and not grafana.DATABASE.optional  # Keycloak needs it anyway
    g = _of(any_stack, "Grafana")["grafana"]["spec"]
    db = g["config"]["database"]
    assert db["type"] == "postgres" and db["ssl_mode"] == "verify-full" and "persistentVolumeClaim" not in g
    assert g["deployment"]["spec"]["replicas"] == (2 if any_stack.stack == "prod" else 1)
    env = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in g["deployment"]["spec"]["template"]["spec"]
           ["containers"][0]["env"] if "valueFrom" in e}
    assert env["GF_DB_PASSWORD"] == grafana.DATABASE_SECRET == "grafana-postgresql"
    served = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in any_stack.of_type("kubernetes:core/v1:Secret")}
    assert ("monitoring", grafana.DATABASE_SECRET) in served and ("monitoring", grafana.ES_SECRET) in served
