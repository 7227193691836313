"""Keycloak (namespace `iam`, role "identity"): the platform's identity provider and its realm as code.

- chart codecentric `keycloakx` 7.1.11 (Keycloak 26.5.6, Quarkus), `http.relativePath: /` so the issuer is
  `https://iam.<domain>/realms/<realm>` (the API server's `kube_oidc_url`, the gateway's OIDC discovery);
- database: the CNPG database `keycloak` through the `Database("keycloak")` claim of the data layer —
  Secret `keycloak-postgresql` (keys host, port, dbname, user, password, ca.crt), TLS verify-full;
- 2 replicas in prod, Infinispan with the `jdbc-ping` stack (members discover each other through the
  database: no multicast, no Kubernetes API access), a PodDisruptionBudget;
- the bootstrap admin's password is generated (Secret `keycloak-admin`, stack output `credentials`);
- proxy headers (`xforwarded`) are trusted only from the gateway: with the mesh, the HTTP port admits only
  the gateway's mesh identity (and this namespace: the realm import Job), so every request reaches
  Keycloak through the local proxy (127.0.0.1, the only trusted address); without the mesh, the network
  policies let only the gateway in from outside the namespace;
- published at https://iam.<domain> with only the realm's public paths (`/realms/<realm>/…` and the
  static `/resources/…`). The admin console and the master realm are NOT routed: administrators use
  `kubectl -n iam port-forward svc/keycloak-http 8080:80` (see the README);
- root filesystem writable (K-19 exemption): the stock image re-augments at `start` (db, health and metrics
  are build options) into /opt/keycloak/lib/quarkus; read-only needs an optimized image (follow-up);
- metrics and health on the management port 9000 (ServiceMonitor); JSON logs, security events
  (LOGIN, LOGIN_ERROR, …) logged for Fluent Bit → Kafka `fluentbit.keycloak`;
- the realm: a ConfigMap with the realm document (no secret in it: `$(env:…)` placeholders) imported by
  keycloak-config-cli 6.5.0 (built against Keycloak 26.5.4) in a Job whose name carries the document's
  hash, so every change of the realm re-runs the import in place (remote state: what the tool created and
  no longer declares is removed, nothing else);
- clients: one per UI route behind the gateway's OIDC plugin (`Platform.oidc_clients`, secrets generated
  by the routes), one per `OidcClient` claim (secrets generated here, handed over as Secrets), and the
  public `kubectl` client (PKCE); the groups of `identity.GROUPS` with their (Cluster)RoleBindings.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

from ...config import oidc_issuer
from ..claims import Database
from ..app import App, AppContext, AppSettings, Backup, Chart, ChartRelease, GeneratedSecret, UiRoute, logical
from ..apps.apisix import GATEWAY_SERVICE_ACCOUNT, NAMESPACE as GATEWAY_NAMESPACE
from ..identity import GROUPS, IDENTITY, LdapFederation, OidcClient, RealmClient, realm_client, realm_document
from ..jobs import ConfigJob, config_job
from ..mesh import authorize_identities
from ..placement import Resources

CHART = Chart("keycloakx", "https://codecentric.github.io/helm-charts", "7.1.11")
IMAGE = {"repository": "quay.io/keycloak/keycloak", "tag": "26.5.6"}
CONFIG_CLI_IMAGE = "docker.io/adorsys/keycloak-config-cli:6.5.0-26.5.4"  # built against Keycloak 26.5.4
NAMESPACE = "iam"
RELEASE = "keycloak"
SERVICE = f"{RELEASE}-http"
HTTP_PORT, MANAGEMENT_PORT = 8080, 9000
PODS = {"app.kubernetes.io/name": RELEASE, "app.kubernetes.io/instance": RELEASE}
REALM_JOB_PODS = {"app.kubernetes.io/name": "keycloak-realm", "app.kubernetes.io/instance": RELEASE}
ADMIN_SECRET = "keycloak-admin"
ADMIN_USER = "admin"
DB_NAME = "keycloak"
DATABASE = Database(DB_NAME, clients=tuple(PODS.items()))  # the database, its role and their Secret
DB_SECRET = DATABASE.secret  # served by the "database" role
REALM_SECRETS = "keycloak-realm-secrets"
REALM_IMPORT = "keycloak-realm-import"
REALM_LABEL = "coprs.esa.int/realm"
TRUSTSTORE = "/opt/keycloak/conf/truststores"
RESTRICTED_CONTAINER = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"}}


class Settings(AppSettings):
    log_level: Literal["INFO", "WARN", "ERROR"] = "INFO"  # no DEBUG (2023 weakness): it logs tokens


def _env(ctx: AppContext) -> list[dict]:
    secret = lambda name, key: {"valueFrom": {"secretKeyRef": {"name": name, "key": key}}}  # noqa: E731
    meshed = NAMESPACE in ctx.registry.env.meshed
    trusted = "127.0.0.1/32" if meshed else ctx.cfg.cluster.pod_cidr
    env = [
        {"name": "KC_HOSTNAME", "value": f"https://{ctx.hostname('iam')}"},
        {"name": "KC_HOSTNAME_BACKCHANNEL_DYNAMIC", "value": "true"},
        {"name": "KC_PROXY_TRUSTED_ADDRESSES", "value": trusted},
        {"name": "KC_BOOTSTRAP_ADMIN_USERNAME", "value": ADMIN_USER},
        {"name": "KC_BOOTSTRAP_ADMIN_PASSWORD", **secret(ADMIN_SECRET, "password")},
        {"name": "KC_DB_URL_HOST", **secret(DB_SECRET, "host")},
        {"name": "KC_DB_URL_PORT", **secret(DB_SECRET, "port")},
        {"name": "KC_DB_URL_DATABASE", **secret(DB_SECRET, "dbname")},
        {"name": "KC_DB_USERNAME", **secret(DB_SECRET, "user")},
        {"name": "KC_DB_PASSWORD", **secret(DB_SECRET, "password")},
        {"name": "KC_DB_URL_PROPERTIES", "value": "?sslmode=verify-full&sslrootcert=/opt/keycloak/db-ca/ca.crt"},
        {"name": "KC_LOG_LEVEL", "value": ctx.settings.log_level},
        {"name": "KC_LOG_CONSOLE_OUTPUT", "value": "json"},
        {"name": "JAVA_OPTS_APPEND", "value": "-XX:MaxRAMPercentage=70"},
    ]
    if ctx.registry.app_for("directory") is not None:  # trust the internal CA of the directory's LDAPS
        env.append({"name": "KC_TRUSTSTORE_PATHS", "value": TRUSTSTORE})
    return env


def _volumes(ctx: AppContext) -> tuple[list[dict], list[dict]]:
    volumes = [{"name": "db-ca", "secret": {"secretName": DB_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
    mounts = [{"name": "db-ca", "mountPath": "/opt/keycloak/db-ca", "readOnly": True}]
    ldap = ctx.registry.app_for("directory")
    if ldap is not None:  # the directory's LDAPS certificate is issued by the internal CA
        from .openldap import TLS_SECRET

        volumes.append({"name": "internal-ca", "secret": {"secretName": TLS_SECRET,
                                                          "items": [{"key": "ca.crt", "path": "internal-ca.pem"}]}})
        mounts.append({"name": "internal-ca", "mountPath": TRUSTSTORE, "readOnly": True})
    return volumes, mounts


def values(ctx: AppContext) -> dict:
    volumes, mounts = _volumes(ctx)
    affinity = {**ctx.affinity(), "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100,
        "podAffinityTerm": {"labelSelector": {"matchLabels": PODS}, "topologyKey": "kubernetes.io/hostname"}}]}}
    return {
        "nameOverride": RELEASE,
        "fullnameOverride": RELEASE,
        "image": IMAGE,
        "replicas": ctx.replicas(2, 1),
        "podDisruptionBudget": {"maxUnavailable": 1} if ctx.prod else {},
        "args": ["start"],
        "http": {"relativePath": "/"},
        "cache": {"stack": "default"},
        "proxy": {"enabled": True, "mode": "xforwarded", "http": {"enabled": True}},
        "database": {"vendor": "postgres"},
        "dbchecker": {"enabled": False},
        "metrics": {"enabled": True},
        "health": {"enabled": True},
        "serviceMonitor": {"enabled": ctx.service_monitors, "interval": "2m"},
        "extraEnv": yaml.safe_dump(_env(ctx), sort_keys=False),
        "extraVolumes": yaml.safe_dump(volumes, sort_keys=False),
        "extraVolumeMounts": yaml.safe_dump(mounts, sort_keys=False),
        "affinity": yaml.safe_dump(affinity, sort_keys=False),
        "resources": ctx.resources("keycloak", Resources("250m", "1Gi", memory_limit="2Gi")).render(),
        "podSecurityContext": {"runAsNonRoot": True, "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {**RESTRICTED_CONTAINER, "runAsUser": 1000},
        "serviceAccount": {"automountServiceAccountToken": False},
        "service": {"httpsPort": 0},  # no TLS listener: TLS ends at the gateway, the mesh carries mTLS
    }


def _ldap(ctx: AppContext) -> Optional[tuple[LdapFederation, pulumi.Output[str]]]:
    """The directory's federation settings and bind password, when a directory app is deployed."""
    if ctx.registry.app_for("directory") is None:
        return None
    from .openldap import federation

    return federation(ctx)


def serve_oidc_claims(ctx: AppContext) -> None:
    """Before the releases: a generated secret per `OidcClient` claim, handed to its app as a Secret."""
    issuer = oidc_issuer(ctx.cfg)
    clients: list[tuple[RealmClient, pulumi.Output[str]]] = []
    for app, claim in ctx.claims(OidcClient):
        ns = claim.namespace or app.namespace
        value = ctx.password("oidc", claim.client_id, length=40)
        secret = ctx.secret_object(claim.secret, {"client-id": claim.client_id, "client-secret": value,
                                                  "issuer": issuer}, namespace=ns)
        ctx.serve(app, claim, secret)
        uris = [f"https://{ctx.hostname(claim.host)}{p}" for p in claim.redirect_paths]
        clients.append((realm_client(claim.client_id, uris, claim.scopes, claim.service_account), value))
    ctx.state["claim_clients"] = clients


def rbac(ctx: AppContext) -> None:
    """What each realm group may do with kubectl: the API server maps the groups claim to `<prefix><group>`."""
    oidc = ctx.cfg.cluster.oidc
    if not oidc.enabled:
        return
    for g in GROUPS:
        subject = [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": f"{oidc.groups_prefix}{g.name}"}]
        labels = {"app.kubernetes.io/part-of": "coprs", "coprs.esa.int/oidc-group": g.name}
        if g.cluster_role:
            k8s.rbac.v1.ClusterRoleBinding(
                logical("oidc", g.name),
                metadata={"name": f"oidc-{g.name}", "labels": labels},
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": g.cluster_role},
                subjects=subject,
                opts=pulumi.ResourceOptions(parent=ctx.component),
            )
        for ns in g.namespaces:
            k8s.rbac.v1.RoleBinding(
                logical("oidc", g.name, ns),
                metadata={"name": f"oidc-{g.name}", "namespace": ns, "labels": labels},
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": g.namespace_role},
                subjects=subject,
                opts=ctx.opts(namespace=ns),
            )


def objects(ctx: AppContext) -> None:
    rbac(ctx)
    if NAMESPACE in ctx.registry.env.meshed:
        ctx.state["authorization"] = authorize_identities(
            RELEASE, NAMESPACE, "http", PODS, HTTP_PORT,
            [{"kind": "ServiceAccount", "name": GATEWAY_SERVICE_ACCOUNT, "namespace": GATEWAY_NAMESPACE},
             {"kind": "Namespace", "name": NAMESPACE}],
            lambda: ctx.opts(crd_group="policy.linkerd.io"),
        )


def realm(ctx: AppContext) -> None:
    """After every route: the realm document, its secrets, and the import Job (re-run when the document changes)."""
    route_clients = [(realm_client(c.client_id, [c.redirect_uri]), c.secret)
                     for c in ctx.registry.oidc_clients.values()]
    clients = [*route_clients, *ctx.state.get("claim_clients", [])]
    ids = [c.client_id for c, _ in clients]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates or ctx.cfg.cluster.oidc.client_id in ids:
        raise RuntimeError(f"OIDC client ids declared twice (routes, claims, kubectl): {duplicates or ids}")
    directory = _ldap(ctx)
    ldap = directory[0] if directory else None
    doc = realm_document(ctx.cfg, [c for c, _ in clients], ldap)
    text = json.dumps(doc, indent=2, sort_keys=True)
    realm_name = ctx.cfg.cluster.oidc.realm
    secret_values: dict[str, Any] = {c.secret_env: value for c, value in clients}
    if directory is not None:
        secret_values[directory[0].bind_password_env] = directory[1]
    secrets = ctx.secret_object(REALM_SECRETS, secret_values, labels={REALM_LABEL: realm_name})
    env = {
        "KEYCLOAK_URL": f"http://{SERVICE}.{NAMESPACE}.svc:80",
        "KEYCLOAK_USER": ADMIN_USER,
        "KEYCLOAK_AVAILABILITYCHECK_ENABLED": "true",
        "KEYCLOAK_AVAILABILITYCHECK_TIMEOUT": "300s",
        "IMPORT_FILES_LOCATIONS": "/config/*.json",
        "IMPORT_VARSUBSTITUTION_ENABLED": "true",
        "IMPORT_REMOTESTATE_ENABLED": "true",
        "IMPORT_VALIDATE": "true",
        "LOGGING_LEVEL_ROOT": "info",
    }
    config_job(ctx, ConfigJob(
        name=REALM_IMPORT,
        image=CONFIG_CLI_IMAGE,
        config_map=f"keycloak-realm-{realm_name}",
        data={f"{realm_name}.json": text},
        labels={REALM_LABEL: realm_name},
        env=(*({"name": k, "value": v} for k, v in env.items()),
             {"name": "KEYCLOAK_PASSWORD", "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "password"}}}),
        env_from_secrets=(REALM_SECRETS,),
        deadline_seconds=1200,
    ), depends_on=(secrets, *ctx.state.get("authorization", [])))


APP = App(
    name="keycloak",
    namespace=NAMESPACE,
    roles=(IDENTITY,),
    releases=(ChartRelease(CHART, values, name=RELEASE),),
    secrets=(GeneratedSecret(ADMIN_SECRET, ("password",)),),
    routes=(
        UiRoute("iam", SERVICE, 80, oidc_client=None, path="/realms/{realm}/*", extra_paths=("/resources/*",), route_name="iam",
                plugins=({"name": "proxy-rewrite", "enable": True,
                          "config": {"headers": {"set": {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}}}},)),
    ),
    claims=(DATABASE,),
    depends_on=("cert-manager",),
    optional=("apisix", "openldap"),  # the realm reads the routes the gateway published
    stateful=True,
    # Keycloak keeps no volume: the realm is code (re-imported by the Job), the rest is in its database.
    backups=(Backup(method="export", restore="restore the CNPG database keycloak (Barman), then re-run the "
                                             "realm import Job"),),
    settings=Settings,
    before=serve_oidc_claims,
    objects=objects,
    after_apps=realm,
    description="identity provider: realm as code, OIDC clients for every UI and kubectl",
)
