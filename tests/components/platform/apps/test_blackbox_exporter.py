"""Endpoint probes: every UI of the stack probed with the seed's targetName/targetUrl labels, OIDC ones with a token."""

from __future__ import annotations

from tests.components.platform.helpers import releases

PROBE = "kubernetes:monitoring.coreos.com/v1:Probe"
ROUTE = "kubernetes:apisix.apache.org/v2:ApisixRoute"


def test_every_ui_is_probed_with_the_seeds_labels(any_stack):
    probes = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in any_stack.of_type(PROBE)}
    routes = {r.inputs["metadata"]["name"]: r.inputs["spec"]["http"][0] for r in any_stack.of_type(ROUTE)}
    assert set(probes) == {f"ui-{n}" for n in routes}
    domain = any_stack.config.domain
    for name, rule in routes.items():
        spec = probes[f"ui-{name}"]
        static = spec["targets"]["staticConfig"]
        url = static["static"][0]
        assert static["labels"] == {"targetName": name, "targetUrl": url}
        assert url.startswith(f"https://{rule['match']['hosts'][0]}/") and url.split("/")[2].endswith(domain)
        assert rule["match"]["paths"][0].rstrip("*") in url
        protected = any(p["name"] == "openid-connect" for p in rule["plugins"])
        assert spec["module"] == ("http_2xx_oauth2" if protected else "http_2xx"), name
        assert spec["prober"]["url"] == "prometheus-blackbox-exporter.monitoring.svc:9115"


def test_protected_uis_use_client_credentials_from_a_generated_secret(any_stack):
    v = releases(any_stack)["prometheus-blackbox-exporter"].inputs["values"]
    oauth = v["config"]["modules"]["http_2xx_oauth2"]["http"]["oauth2"]
    assert oauth["client_id"] == "blackbox-exporter" and "client_secret" not in oauth
    assert oauth["client_secret_file"] == "/etc/blackbox/oauth/client-secret"
    assert oauth["token_url"] == f"https://iam.{any_stack.config.domain}/realms/coprs/protocol/openid-connect/token"
    assert v["extraSecretMounts"][0]["secretName"] == "oidc-blackbox-exporter"
    assert v["config"]["modules"]["http_2xx"]["http"]["tls_config"]["insecure_skip_verify"] is False
    secret = next(s for s in any_stack.of_type("kubernetes:core/v1:Secret") if s.inputs["metadata"]["name"] == "oidc-blackbox-exporter")
    assert set(secret.inputs["stringData"]) == {"client-id", "client-secret", "issuer"}
