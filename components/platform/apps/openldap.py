"""OpenLDAP (namespace `iam`, role "directory"): the platform's user store, federated read-only into the realm.

- chart jp-gouin `openldap-stack-ha` 4.3.3 (its last release, February 2025), OpenLDAP 2.6.9 in the
  chart's own image `jpgouin/openldap:2.6.9-fix`. Every image is pinned: the chart's `:latest` helper
  images (debian for the schema copy, alpine/openssl for the TLS copy) are replaced by that same OpenLDAP
  image (both helpers only run `sh`/`cp`/`sed`), phpldapadmin and ltb-passwd are off, the test hook is off;
- LDAPS with a certificate of the internal CA (cert-manager `Certificate` → Secret `openldap-tls` with
  `ca.crt`), TLS required (`LDAP_REQUIRE_TLS`), peers' certificates verified (`LDAPTLS_REQCERT demand`,
  2023 had `never`), replication over StartTLS (critical);
- prod: 3 multi-master replicas (syncrepl) with a PodDisruptionBudget; dev: 1;
- admin and config passwords generated (Secret `openldap-admin`), and a read-only bind user
  `cn=keycloak-bind,ou=users,<base>` whose generated password Keycloak's LDAP federation uses; the ACLs
  give it read access to the tree and nobody but the admin access to password hashes;
- backup: a Velero schedule of the directory's pods and volumes (daily, 30 days);
- security contexts: the chart hands `podSecurityContext` / `containerSecurityContext` over whole (less
  `enabled`), one container context for every container; the root filesystem stays writable (the image
  writes under /opt/bitnami/openldap/share and var at start: K-19 exemption), and the replication LDIFs'
  `credentials=` are the chart's `%%…%%` placeholders filled from `openldap-admin` (K-29 exemption);
- metrics: the slapd monitor backend is not enabled by this image; `settings.metrics` adds the
  OpenLDAP exporter sidecar (ghcr.io/maximewewer/openldap_prometheus_exporter 2026.6.4) once the
  monitor database is configured (off by default: unverified on this image).
"""

from __future__ import annotations

import pulumi

from ..app import App, AppContext, AppSettings, Backup, Chart, ChartRelease, GeneratedSecret, before_releases
from ..identity import LdapFederation
from ..placement import Resources

CHART = Chart("openldap-stack-ha", "https://jp-gouin.github.io/helm-openldap/", "4.3.3")
IMAGE = {"repository": "jpgouin/openldap", "tag": "2.6.9-fix", "pullPolicy": "IfNotPresent"}
EXPORTER_IMAGE = "ghcr.io/maximewewer/openldap_prometheus_exporter:2026.6.4"
NAMESPACE = "iam"
RELEASE = "openldap"
PODS = {"app.kubernetes.io/name": RELEASE, "app.kubernetes.io/instance": RELEASE}
ADMIN_SECRET = "openldap-admin"
BIND_SECRET = "openldap-bind"
BIND_USER = "keycloak-bind"
TLS_SECRET = "openldap-tls"
LDAPS_PORT = 636
DIRECTORY = "directory"
SECURITY = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}}


class Settings(AppSettings):
    domain: str = "cluster.local"  # base DN dc=cluster,dc=local (2023)
    metrics: bool = False


def base_dn(ctx: AppContext) -> str:
    return ",".join(f"dc={p}" for p in ctx.settings.domain.split("."))


def _acls(base: str) -> str:
    admin, bind = f"cn=admin,{base}", f"cn={BIND_USER},ou=users,{base}"
    return "\n".join([
        "dn: olcDatabase={2}mdb,cn=config",
        "changetype: modify",
        "replace: olcAccess",
        "olcAccess: {0}to *",
        "  by dn.exact=gidNumber=0+uidNumber=1001,cn=peercred,cn=external,cn=auth manage",
        "  by * break",
        "olcAccess: {1}to attrs=userPassword,shadowLastChange",
        "  by self write",
        f'  by dn="{admin}" write',
        "  by anonymous auth by * none",
        "olcAccess: {2}to *",
        f'  by dn="{admin}" write',
        f'  by dn="{bind}" read',
        "  by self read",
        "  by * none",
    ])


def _service_dns(ctx: AppContext) -> list[str]:
    svc = [RELEASE, f"{RELEASE}-headless"]
    return [n for s in svc for n in (s, f"{s}.{NAMESPACE}", f"{s}.{NAMESPACE}.svc", f"{s}.{NAMESPACE}.svc.cluster.local")] + [
        f"*.{RELEASE}-headless.{NAMESPACE}.svc.cluster.local"]


def prerequisites(ctx: AppContext) -> None:
    """The LDAPS certificate (internal CA) and the bind user's password, before the release."""
    cert = ctx.custom_resource(
        TLS_SECRET, "cert-manager.io/v1", "Certificate",
        {
            "secretName": TLS_SECRET,
            "commonName": f"{RELEASE}.{NAMESPACE}.svc",
            "dnsNames": _service_dns(ctx),
            "duration": "2160h",
            "renewBefore": "360h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "internal-ca"},
        },
    )
    password = ctx.password(BIND_SECRET, "password")
    ctx.secret_values[BIND_SECRET] = {"password": password}
    # The image creates the LDAP_USERS (in ou=users) with these passwords at first start.
    bind = ctx.secret_object(BIND_SECRET, {"LDAP_PASSWORDS": password})
    before_releases(ctx, cert, bind)


def federation(identity_ctx: AppContext) -> tuple[LdapFederation, pulumi.Output[str]]:
    """What the realm needs to federate the directory (read-only), and the bind password."""
    d = identity_ctx.registry.contexts[APP.name]
    base = base_dn(d)
    users = f"ou=users,{base}"
    fed = LdapFederation(
        url=f"ldaps://{RELEASE}.{NAMESPACE}.svc.cluster.local:{LDAPS_PORT}",
        bind_dn=f"cn={BIND_USER},{users}",
        users_dn=users,
        groups_dn=users,  # the image keeps groups (groupOfNames) beside the users
        bind_password_env="LDAP_BIND_PASSWORD",
    )
    return fed, d.secret_values[BIND_SECRET]["password"]


def values(ctx: AppContext) -> dict:
    replicas = ctx.replicas(3, 1)
    res = ctx.resources("openldap", Resources("50m", "128Mi", memory_limit="512Mi")).render()
    helper = {"image": {"repository": IMAGE["repository"], "tag": IMAGE["tag"], "pullPolicy": "IfNotPresent"}}
    out = {
        "nameOverride": RELEASE,
        "fullnameOverride": RELEASE,
        "image": IMAGE,
        "global": {"ldapDomain": ctx.settings.domain, "adminUser": "admin", "configUser": "admin",
                   "existingSecret": ADMIN_SECRET},
        "replicaCount": replicas,
        "replication": {"enabled": replicas > 1, "starttls": "critical", "tls_reqcert": "demand"},
        "pdb": {"enabled": replicas > 1, "minAvailable": 1},
        "persistence": {"enabled": True, "size": f"{ctx.app_cfg.storage_gb or 8}Gi"},
        "resources": res,
        "env": {
            "BITNAMI_DEBUG": "false",
            "LDAP_LOGLEVEL": "256",
            "LDAP_REQUIRE_TLS": "true",
            "LDAPTLS_REQCERT": "demand",
            "LDAP_ENABLE_TLS": "yes",
            "LDAP_SKIP_DEFAULT_TREE": "no",
            "LDAP_ALLOW_ANON_BINDING": "no",
            "LDAP_USERS": BIND_USER,
        },
        "extraEnvVarsSecret": BIND_SECRET,
        "customAcls": _acls(base_dn(ctx)),
        "initSchema": helper,
        "initTLSSecret": {**helper, "tls_enabled": True, "secret": TLS_SECRET, "resources": res},
        "volumePermissions": {"enabled": False},
        "podSecurityContext": {"enabled": True, "fsGroup": 1001, "runAsNonRoot": True,
                               "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {"enabled": True, "runAsUser": 1001, **SECURITY},
        "affinity": {**ctx.affinity(), "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {"labelSelector": {"matchLabels": PODS}, "topologyKey": "kubernetes.io/hostname"}}]}},
        "serviceAccount": {"create": True, "name": RELEASE, "automountServiceAccountToken": False},
        "test": {"enabled": False},
        "ltb-passwd": {"enabled": False},
        "phpldapadmin": {"enabled": False},
    }
    if ctx.settings.metrics:
        out["sidecars"] = [{
            "name": "exporter",
            "image": EXPORTER_IMAGE,
            "env": [{"name": "LDAP_URL", "value": "ldaps://localhost:1636"},
                    {"name": "LDAP_USERNAME", "value": "cn=admin,cn=config"},
                    {"name": "LDAP_PASSWORD", "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET,
                                                                            "key": "LDAP_CONFIG_ADMIN_PASSWORD"}}},
                    {"name": "LDAP_TLS", "value": "true"},
                    {"name": "LDAP_TLS_CA", "value": "/opt/bitnami/openldap/certs/ca.crt"}],
            "ports": [{"name": "metrics", "containerPort": 9330}],
            "volumeMounts": [{"name": "certs", "mountPath": "/opt/bitnami/openldap/certs", "readOnly": True}],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
            "securityContext": {**SECURITY, "readOnlyRootFilesystem": True},
        }]
    return out


def objects(ctx: AppContext) -> None:
    if ctx.settings.metrics:
        ctx.monitor(RELEASE, PODS, {"port": "metrics", "interval": "2m"})


APP = App(
    name="openldap",
    namespace=NAMESPACE,
    roles=(DIRECTORY,),
    releases=(ChartRelease(CHART, values, name=RELEASE),),
    secrets=(GeneratedSecret(ADMIN_SECRET, ("LDAP_ADMIN_PASSWORD", "LDAP_CONFIG_ADMIN_PASSWORD")),),
    depends_on=("cert-manager",),
    settings=Settings,
    stateful=True,
    backups=(Backup(selector=PODS, restore="velero restore create --from-schedule backup-openldap"),),
    before=prerequisites,
    objects=objects,
    description="directory (OpenLDAP): LDAPS, replication in prod, federated read-only into the realm",
)
