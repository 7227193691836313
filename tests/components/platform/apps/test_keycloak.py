"""Keycloak and the realm as code: clients for every route and claim, kubectl, groups, RBAC, no literal secret."""

from __future__ import annotations

import json

import pytest
import yaml

from components.platform.apps import keycloak
from components.platform.identity import GROUPS, KUBELOGIN_REDIRECTS, SCDF_SCOPES, OidcClient
from tests.components.platform.helpers import NO_MESH, platform_run, releases, served_run

ROUTE = "kubernetes:apisix.apache.org/v2:ApisixRoute"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
JOB = "kubernetes:batch/v1:Job"


def realm_of(run) -> tuple[dict, object]:
    [cm] = [r for r in run.of_type(CONFIG_MAP) if "coprs.esa.int/realm" in r.inputs["metadata"].get("labels", {})]
    [text] = cm.inputs["data"].values()
    return json.loads(text), cm


def _secrets(run) -> dict[tuple[str, str], dict]:
    return {(s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s.inputs.get("stringData", {})
            for s in run.of_type(SECRET)}


def _oidc_routes(run) -> dict[str, dict]:
    out = {}
    for r in run.of_type(ROUTE):
        for p in r.inputs["spec"]["http"][0]["plugins"]:
            if p["name"] == "openid-connect":
                out[p["config"]["client_id"]] = {"route": r, "plugin": p}
    return out


def _claimed_clients(run) -> dict[str, tuple[str, str]]:
    """client id → (namespace, Secret) of every OidcClient claim of the apps the run deploys."""
    from components.platform.apps import APPS

    off = run.outputs["platform"]["disabledApps"]
    return {c.client_id: (c.namespace or a.namespace, c.secret) for a in APPS if a.name not in off
            for c in a.claims if isinstance(c, OidcClient)}


def test_one_confidential_client_per_oidc_route_with_exact_redirects(any_stack):
    realm, _ = realm_of(any_stack)
    routes = _oidc_routes(any_stack)
    clients = {c["clientId"]: c for c in realm["clients"] if not c["publicClient"]}
    claimed = _claimed_clients(any_stack)
    assert not set(routes) & set(claimed) and {"grafana", "blackbox-exporter"} <= set(claimed)
    assert set(clients) == set(routes) | set(claimed) and {"apisix", "ceph", "linkerd"} <= set(routes)
    for cid, c in clients.items():
        if cid in claimed:
            continue  # test_an_app_with_its_own_oauth_gets_a_client_and_a_secret
        redirect = routes[cid]["plugin"]["config"]["redirect_uri"]
        host = routes[cid]["route"].inputs["spec"]["http"][0]["match"]["hosts"][0]
        prefix = redirect[len(f"https://{host}"):-len("/redirect_uri")]  # UIs sharing a host sit under a path prefix
        assert c["redirectUris"] == [redirect] == [f"https://{host}{prefix}/redirect_uri"]
        assert c["webOrigins"] == [f"https://{host}"]
        assert c["clientAuthenticatorType"] == "client-secret" and not c["directAccessGrantsEnabled"]
        assert not c["implicitFlowEnabled"] and not c["serviceAccountsEnabled"]
    for c in realm["clients"]:
        assert not any("*" in u for u in c["redirectUris"]), c["clientId"]


def test_client_secrets_are_generated_and_handed_over_by_reference(any_stack):
    realm, cm = realm_of(any_stack)
    secrets = _secrets(any_stack)
    imported = secrets[("iam", keycloak.REALM_SECRETS)]
    generated = {r.outputs.get("result") for r in any_stack.of_type("random:index/randomPassword:RandomPassword")
                 if r.inputs.get("length", 0) >= 32}
    for c in realm["clients"]:
        if c["publicClient"]:
            assert "secret" not in c
            continue
        env = c["secret"].removeprefix("$(env:").removesuffix(")")
        assert c["secret"] == f"$(env:{env})"
        claimed = _claimed_clients(any_stack)
        if c["clientId"] in claimed:  # the app's own Secret carries the realm's value
            assert imported[env] == secrets[claimed[c["clientId"]]]["client-secret"]
        else:
            route = _oidc_routes(any_stack)[c["clientId"]]
            ns = route["route"].inputs["metadata"]["namespace"]
            # the gateway's Secret and the realm's import Secret carry the same generated value
            assert imported[env] == secrets[(ns, route["plugin"]["secretRef"])]["client_secret"]
        assert imported[env] in generated  # a pulumi-random result, never a literal
    # the realm document itself holds no secret value
    assert not any(v in cm.inputs["data"][f"{realm['realm']}.json"] for v in imported.values())


def test_realm_policies(any_stack):
    realm, _ = realm_of(any_stack)
    assert realm["realm"] == any_stack.config.cluster.oidc.realm == "coprs"
    assert realm["bruteForceProtected"] and realm["failureFactor"] == 5 and not realm["permanentLockout"]
    policy = realm["passwordPolicy"]
    assert "length(12)" in policy and "notUsername" in policy and "passwordHistory(3)" in policy
    assert realm["sslRequired"] == "external" and not realm["registrationAllowed"]
    assert realm["eventsEnabled"] and {"LOGIN", "LOGIN_ERROR"} <= set(realm["enabledEventTypes"])
    assert [g["name"] for g in realm["groups"]] == [g.name for g in GROUPS]
    assert {"admin", "operator", "security"} <= {g["name"] for g in realm["groups"]}
    assert {s["name"] for s in realm["clientScopes"]} >= {"groups", *SCDF_SCOPES}


def test_kubectl_client_is_public_pkce_with_the_api_server_claims(any_stack):
    realm, _ = realm_of(any_stack)
    oidc = any_stack.config.cluster.oidc
    [kubectl] = [c for c in realm["clients"] if c["publicClient"]]
    assert kubectl["clientId"] == oidc.client_id
    assert kubectl["attributes"]["pkce.code.challenge.method"] == "S256"
    assert kubectl["redirectUris"] == list(KUBELOGIN_REDIRECTS)
    assert kubectl["standardFlowEnabled"] and not kubectl["directAccessGrantsEnabled"]
    [username] = kubectl["protocolMappers"]
    assert username["config"]["claim.name"] == oidc.username_claim and username["config"]["id.token.claim"] == "true"
    assert "groups" in kubectl["defaultClientScopes"]
    [groups] = [s for s in realm["clientScopes"] if s["name"] == "groups"]
    mapper = groups["protocolMappers"][0]
    assert mapper["protocolMapper"] == "oidc-group-membership-mapper"
    assert mapper["config"]["claim.name"] == oidc.groups_claim and mapper["config"]["full.path"] == "false"
    # the kube-apiserver flags read the same client and claims (cluster layer)
    inventory = yaml.safe_load(any_stack.outputs["inventoryGroupVars"]["group_vars/k8s_cluster/k8s-cluster.yml"]) \
        if "inventoryGroupVars" in any_stack.outputs else None
    if inventory is not None:
        assert inventory["kube_oidc_client_id"] == kubectl["clientId"]
        assert inventory["kube_oidc_groups_claim"] == mapper["config"]["claim.name"]
        assert inventory["kube_oidc_username_claim"] == username["config"]["claim.name"]


def test_groups_get_their_kubernetes_rights(any_stack):
    prefix = any_stack.config.cluster.oidc.groups_prefix
    crbs = {r.inputs["metadata"]["name"]: r.inputs for r in any_stack.of_type(
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding") if r.name.startswith("oidc-")}
    rbs = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs for r in any_stack.of_type(
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding") if r.name.startswith("oidc-")}
    assert crbs["oidc-admin"]["roleRef"]["name"] == "cluster-admin"
    assert crbs["oidc-admin"]["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                                               "name": f"{prefix}admin"}]
    assert crbs["oidc-readonly"]["roleRef"]["name"] == "view"
    for ns in ("database", "infra", "logging", "monitoring", "processing", "rook-ceph"):
        assert rbs[(ns, "oidc-operator")]["roleRef"]["name"] == "admin"
    for ns in ("security", "iam", "falco"):
        assert rbs[(ns, "oidc-security")]["subjects"][0]["name"] == f"{prefix}security"
    assert not any(b["roleRef"]["name"] == "cluster-admin" for b in rbs.values())


def test_keycloak_release(dev, prod):
    for run, replicas in ((dev, 1), (prod, 2)):
        v = releases(run)["keycloak"].inputs["values"]
        assert v["replicas"] == replicas and v["cache"] == {"stack": "default"}  # Infinispan over jdbc-ping
        assert v["image"] == {"repository": "quay.io/keycloak/keycloak", "tag": "26.5.6"}
        assert v["http"] == {"relativePath": "/"} and v["proxy"]["mode"] == "xforwarded"
        env = {e["name"]: e for e in yaml.safe_load(v["extraEnv"])}
        assert env["KC_HOSTNAME"]["value"] == f"https://iam.{run.config.domain}"
        assert env["KC_PROXY_TRUSTED_ADDRESSES"]["value"] == "127.0.0.1/32"  # meshed: only via the local proxy
        assert env["KC_BOOTSTRAP_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == keycloak.ADMIN_SECRET
        for key in ("KC_DB_URL_HOST", "KC_DB_USERNAME", "KC_DB_PASSWORD"):
            assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "keycloak-postgresql"
        assert "sslmode=verify-full" in env["KC_DB_URL_PROPERTIES"]["value"]
        assert env["KC_LOG_LEVEL"]["value"] == "INFO"
        assert v["serviceMonitor"]["enabled"] is False or v["metrics"]["enabled"]
        assert v["securityContext"]["allowPrivilegeEscalation"] is False
    assert releases(prod)["keycloak"].inputs["values"]["podDisruptionBudget"] == {"maxUnavailable": 1}


def test_only_the_gateway_may_send_proxy_headers(prod):
    by_kind = {}
    for r in prod.of_type("kubernetes:policy.linkerd.io/v1alpha1:MeshTLSAuthentication",
                          "kubernetes:policy.linkerd.io/v1beta3:Server"):
        if r.inputs["metadata"]["name"] == "keycloak-http":
            by_kind[r.type.rsplit(":", 1)[1]] = r.inputs["spec"]
    assert by_kind["Server"] == {"podSelector": {"matchLabels": keycloak.PODS}, "port": keycloak.HTTP_PORT}
    assert by_kind["MeshTLSAuthentication"]["identityRefs"] == [
        {"kind": "ServiceAccount", "name": "apisix-gateway", "namespace": "networking"},
        {"kind": "Namespace", "name": "iam"},
    ]
    gateway = releases(prod)["apisix"].inputs["values"]["serviceAccount"]
    assert gateway == {"create": True, "name": "apisix-gateway"}


def test_without_the_mesh_proxies_are_the_pod_network():
    r = platform_run("dev", NO_MESH)
    env = {e["name"]: e for e in yaml.safe_load(releases(r)["keycloak"].inputs["values"]["extraEnv"])}
    assert env["KC_PROXY_TRUSTED_ADDRESSES"]["value"] == r.config.cluster.pod_cidr


def test_only_the_realm_public_paths_are_routed(any_stack):
    [iam] = [r for r in any_stack.of_type(ROUTE) if r.inputs["metadata"]["name"] == "iam"]
    rule = iam.inputs["spec"]["http"][0]
    assert rule["match"]["paths"] == ["/realms/coprs/*", "/resources/*"]
    assert rule["backends"] == [{"serviceName": "keycloak-http", "servicePort": 80}]
    plugins = {p["name"]: p for p in rule["plugins"]}
    assert "openid-connect" not in plugins
    assert plugins["proxy-rewrite"]["config"]["headers"]["set"]["X-Forwarded-Port"] == "443"


def test_realm_import_job_reruns_when_the_realm_changes(dev):
    def realm_job(run):
        [job] = [j for j in run.of_type(JOB) if j.inputs["metadata"]["name"].startswith(keycloak.REALM_IMPORT + "-")]
        return job

    job, other = realm_job(dev), served_run("dev")
    job2 = realm_job(other)
    assert job.inputs["metadata"]["name"] != job2.inputs["metadata"]["name"]
    assert job.delete_before_replace
    realm, _ = realm_of(other)
    assert realm["realm"] == "rs"
    [iam] = [r for r in other.of_type(ROUTE) if r.inputs["metadata"]["name"] == "iam"]
    assert iam.inputs["spec"]["http"][0]["match"]["paths"][0] == "/realms/rs/*"
    spec = job.inputs["spec"]["template"]["spec"]
    [c] = spec["containers"]
    assert c["image"] == keycloak.CONFIG_CLI_IMAGE
    env = {e["name"]: e for e in c["env"]}
    assert env["KEYCLOAK_URL"]["value"] == "http://keycloak-http.iam.svc:80"
    assert env["IMPORT_VARSUBSTITUTION_ENABLED"]["value"] == "true" and env["IMPORT_REMOTESTATE_ENABLED"]["value"] == "true"
    assert env["KEYCLOAK_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": keycloak.ADMIN_SECRET, "key": "password"}
    assert c["envFrom"] == [{"secretRef": {"name": keycloak.REALM_SECRETS}}]
    assert spec["serviceAccountName"] == keycloak.REALM_IMPORT and spec["automountServiceAccountToken"] is False
    assert job.inputs["spec"]["template"]["metadata"]["annotations"][
        "config.beta.linkerd.io/proxy-enable-native-sidecar"] == "true"
    deps = set(job.dependencies)
    assert releases(dev)["keycloak"].urn in deps


def test_no_kubectl_client_or_bindings_without_oidc():
    r = served_run("dev")
    realm, _ = realm_of(r)
    assert not [c for c in realm["clients"] if c["publicClient"]]
    assert not [b for b in r.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding") if b.name.startswith("oidc-")]


def test_log_level_debug_is_refused():
    from components.config import ConfigError
    from components.platform.registry import _settings

    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.keycloak\.settings\.logLevel = 'DEBUG'"):
        _settings(keycloak.APP, {"logLevel": "DEBUG"})


def test_an_app_with_its_own_oauth_gets_a_client_and_a_secret():
    """OidcClient claims (Grafana's browser login, the probes' client credentials): a realm client with exactly
    its redirect URIs and grants, and the Secret handed to the app."""
    r = served_run("dev")
    realm, _ = realm_of(r)
    clients = {c["clientId"]: c for c in realm["clients"]}
    grafana, probes = clients["grafana"], clients["blackbox-exporter"]
    assert grafana["redirectUris"] == [f"https://monitoring.{r.config.domain}/login/generic_oauth"]
    assert grafana["standardFlowEnabled"] and not grafana["serviceAccountsEnabled"]
    assert probes["redirectUris"] == [] and probes["serviceAccountsEnabled"] and not probes["standardFlowEnabled"]
    for cid, ns_secret in (("grafana", ("monitoring", "oidc-grafana")),
                           ("blackbox-exporter", ("monitoring", "oidc-blackbox-exporter"))):
        handed = _secrets(r)[ns_secret]
        assert handed["client-id"] == cid and handed["issuer"] == f"https://iam.{r.config.domain}/realms/rs"
        assert handed["client-secret"] == _secrets(r)[("iam", keycloak.REALM_SECRETS)][clients[cid]["secret"][6:-1]]
