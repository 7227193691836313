"""The directory: pinned images, LDAPS from the internal CA, replication in prod, generated passwords, backup,
read-only federation into the realm."""

from __future__ import annotations

from components.platform.apps import openldap
from tests.components.platform.apps.test_keycloak import realm_of
from tests.components.platform.helpers import ancestors, releases

MUTABLE = {"latest", "main", "master", ""}


def _images(values: dict) -> list[tuple[str, str]]:
    out = []

    def walk(node, path):
        if isinstance(node, dict):
            if "repository" in node and "tag" in node:
                out.append((".".join(path), node["tag"]))
            for k, v in node.items():
                walk(v, [*path, k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, [*path, str(i)])
    walk(values, [])
    return out


def test_every_image_is_pinned_and_extras_are_off(any_stack):
    v = releases(any_stack)["openldap"].inputs["values"]
    images = dict(_images(v))
    # the chart's helper images (debian:latest, alpine/openssl:latest) are replaced by the pinned server image
    assert set(images) >= {"image", "initSchema.image", "initTLSSecret.image"}
    assert set(images.values()) == {"2.6.9-fix"} and not MUTABLE & set(images.values())
    assert {v["initSchema"]["image"]["repository"], v["initTLSSecret"]["image"]["repository"]} == {"jpgouin/openldap"}
    assert v["ltb-passwd"] == {"enabled": False} and v["phpldapadmin"] == {"enabled": False}
    assert v["volumePermissions"] == {"enabled": False} and v["test"] == {"enabled": False}
    assert "sidecars" not in v  # the exporter needs the monitor backend (settings.metrics)


def test_ldaps_from_the_internal_ca(any_stack):
    v = releases(any_stack)["openldap"].inputs["values"]
    assert v["initTLSSecret"]["tls_enabled"] is True and v["initTLSSecret"]["secret"] == openldap.TLS_SECRET
    assert v["env"]["LDAP_REQUIRE_TLS"] == "true" and v["env"]["LDAPTLS_REQCERT"] == "demand"
    [cert] = [c for c in any_stack.of_type("kubernetes:cert-manager.io/v1:Certificate")
              if c.inputs["metadata"]["name"] == openldap.TLS_SECRET]
    spec = cert.inputs["spec"]
    assert spec["issuerRef"]["name"] == "internal-ca" and spec["secretName"] == openldap.TLS_SECRET
    assert "openldap.iam.svc.cluster.local" in spec["dnsNames"]
    assert "*.openldap-headless.iam.svc.cluster.local" in spec["dnsNames"]
    assert cert.urn in ancestors(any_stack, releases(any_stack)["openldap"])


def test_replication_in_prod_only(dev, prod):
    d, p = (releases(r)["openldap"].inputs["values"] for r in (dev, prod))
    assert d["replicaCount"] == 1 and d["replication"]["enabled"] is False
    assert p["replicaCount"] == 3 and p["replication"]["enabled"] is True and p["pdb"]["enabled"] is True
    assert p["replication"]["starttls"] == "critical" and p["replication"]["tls_reqcert"] == "demand"


def test_passwords_are_generated_and_the_bind_user_reads_only(any_stack):
    v = releases(any_stack)["openldap"].inputs["values"]
    assert v["global"]["existingSecret"] == openldap.ADMIN_SECRET
    assert "adminPassword" not in v["global"] and "configPassword" not in v["global"]
    secrets = {s.inputs["metadata"]["name"]: s.inputs["stringData"] for s in any_stack.of_type("kubernetes:core/v1:Secret")
               if s.inputs["metadata"]["namespace"] == "iam"}
    assert set(secrets[openldap.ADMIN_SECRET]) == {"LDAP_ADMIN_PASSWORD", "LDAP_CONFIG_ADMIN_PASSWORD"}
    assert v["extraEnvVarsSecret"] == openldap.BIND_SECRET and v["env"]["LDAP_USERS"] == openldap.BIND_USER
    bind_password = secrets[openldap.BIND_SECRET]["LDAP_PASSWORDS"]
    assert bind_password == secrets["keycloak-realm-secrets"]["LDAP_BIND_PASSWORD"]
    acls = v["customAcls"]
    assert 'by dn="cn=keycloak-bind,ou=users,dc=cluster,dc=local" read' in acls
    assert "to attrs=userPassword" in acls.split("olcAccess: {2}")[0]  # hashes are guarded before the read rule


def test_realm_federates_the_directory_read_only(any_stack):
    realm, _ = realm_of(any_stack)
    [ldap] = realm["components"]["org.keycloak.storage.UserStorageProvider"]
    c = ldap["config"]
    assert c["editMode"] == ["READ_ONLY"] and c["connectionUrl"] == ["ldaps://openldap.iam.svc.cluster.local:636"]
    assert c["bindDn"] == ["cn=keycloak-bind,ou=users,dc=cluster,dc=local"]
    assert c["bindCredential"] == ["$(env:LDAP_BIND_PASSWORD)"] and c["useTruststoreSpi"] == ["always"]
    [groups] = ldap["subComponents"]["org.keycloak.storage.ldap.mappers.LDAPStorageMapper"]
    assert groups["providerId"] == "group-ldap-mapper" and groups["config"]["mode"] == ["READ_ONLY"]
    # Keycloak trusts the internal CA that issued the LDAPS certificate
    kc = releases(any_stack)["keycloak"].inputs["values"]
    assert "internal-ca" in kc["extraVolumes"] and openldap.TLS_SECRET in kc["extraVolumes"]
    assert "KC_TRUSTSTORE_PATHS" in kc["extraEnv"] and "/opt/keycloak/conf/truststores" in kc["extraVolumeMounts"]


def test_backup_is_declared(any_stack):
    [schedule] = [s for s in any_stack.of_type("kubernetes:velero.io/v1:Schedule")
                  if s.inputs["metadata"]["labels"].get("backup.coprs.esa.int/app") == "openldap"]
    template = schedule.inputs["spec"]["template"]
    assert template["includedNamespaces"] == ["iam"] and template["defaultVolumesToFsBackup"] is True
    assert template["labelSelector"] == {"matchLabels": openldap.PODS}


def test_security_contexts_are_restricted(any_stack):
    v = releases(any_stack)["openldap"].inputs["values"]
    c = v["containerSecurityContext"]
    assert c["enabled"] and c["runAsNonRoot"] and c["allowPrivilegeEscalation"] is False
    assert c["capabilities"] == {"drop": ["ALL"]} and c["seccompProfile"] == {"type": "RuntimeDefault"}
    assert v["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
