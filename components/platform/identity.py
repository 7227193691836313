"""The platform's identity model: the OIDC client claim, the groups and their Kubernetes rights, the realm document.

- `OidcClient` is the claim of an app that does its own OAuth (Grafana, SCDF): the identity app registers a
  confidential client `client_id` whose redirect URIs are exactly `https://<host>.<domain><path>` and
  hands its generated secret to the app as Secret `secret` (keys `client-id`, `client-secret`, `issuer`).
  UI routes behind the gateway's OIDC plugin need no claim: `Platform.oidc_clients` lists them.
- `GROUPS`: the 2023 groups (admin, operator, security, networking, readonly), the Kubernetes rights each
  group gets when it signs in with kubectl (groups claim → `<groupsPrefix><group>`), and
  `realm_document` the realm as keycloak-config-cli imports it (secrets only as `$(env:NAME)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Optional

from ..config import StackConfig
from .claims import Claim

IDENTITY = "identity"
KUBELOGIN_REDIRECTS = ("http://localhost:8000", "http://localhost:18000")  # kubelogin's default listen ports
SCDF_SCOPES = ("dataflow.view", "dataflow.create", "dataflow.manage", "dataflow.deploy", "dataflow.destroy",
               "dataflow.modify", "dataflow.schedule")
PASSWORD_POLICY = ("length(12) and lowerCase(1) and upperCase(1) and digits(1) and specialChars(1) and notUsername"
                   " and notEmail and passwordHistory(3) and forceExpiredPasswordChange(90)")
SECURITY_EVENTS = ("LOGIN", "LOGIN_ERROR", "LOGOUT", "LOGOUT_ERROR", "CODE_TO_TOKEN_ERROR", "CLIENT_LOGIN_ERROR",
                   "REFRESH_TOKEN_ERROR", "UPDATE_PASSWORD", "UPDATE_PASSWORD_ERROR", "REGISTER")


@dataclass(frozen=True, kw_only=True)
class OidcClient(Claim):
    """Claim: a confidential Keycloak client for an app doing its own OAuth (served by the identity app)."""

    role: ClassVar[str] = IDENTITY
    client_id: str
    host: str  # UI sub-domain: redirect URIs are https://<host>.<domain><path>
    redirect_paths: tuple[str, ...]
    secret: str = ""  # default: oidc-<client_id> (keys client-id, client-secret, issuer)
    scopes: tuple[str, ...] = ()  # extra default client scopes (e.g. SCDF_SCOPES)

    def __post_init__(self) -> None:
        if not self.secret:
            object.__setattr__(self, "secret", f"oidc-{self.client_id}")


@dataclass(frozen=True)
class Group:
    name: str
    description: str
    cluster_role: Optional[str] = None  # ClusterRoleBinding to this ClusterRole
    namespace_role: Optional[str] = None  # RoleBinding to this ClusterRole in each of `namespaces`
    namespaces: tuple[str, ...] = ()


GROUPS: tuple[Group, ...] = (
    Group("admin", "platform administrators", cluster_role="cluster-admin"),
    Group("operator", "operators of the processing and data services", namespace_role="admin",
          namespaces=("database", "infra", "logging", "monitoring", "processing", "rook-ceph")),
    Group("security", "security officers", namespace_role="admin", namespaces=("security", "iam", "falco")),
    Group("networking", "network administrators", namespace_role="admin", namespaces=("networking",)),
    Group("readonly", "every user: read-only view of the cluster", cluster_role="view"),
)
DEFAULT_GROUP = "readonly"


@dataclass(frozen=True)
class RealmClient:
    """One confidential client of the realm, as the realm document declares it."""

    client_id: str
    redirect_uris: tuple[str, ...]
    web_origins: tuple[str, ...]
    secret_env: str  # env var of the import Job holding the generated secret
    scopes: tuple[str, ...] = ()


def secret_env(client_id: str) -> str:
    return "CLIENT_SECRET_" + re.sub(r"[^A-Z0-9]", "_", client_id.upper())


def _origin(uri: str) -> str:
    m = re.match(r"^(https?://[^/]+)", uri)
    assert m, uri
    return m.group(1)


def realm_client(client_id: str, redirect_uris: Iterable[str], scopes: Iterable[str] = ()) -> RealmClient:
    uris = tuple(sorted(set(redirect_uris)))
    return RealmClient(client_id, uris, tuple(sorted({_origin(u) for u in uris})), secret_env(client_id), tuple(scopes))


@dataclass(frozen=True)
class LdapFederation:
    url: str
    bind_dn: str
    users_dn: str
    groups_dn: str
    bind_password_env: str


def _confidential(c: RealmClient) -> dict:
    return {
        "clientId": c.client_id,
        "name": c.client_id,
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": f"$(env:{c.secret_env})",
        "redirectUris": list(c.redirect_uris),
        "webOrigins": list(c.web_origins),
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "frontchannelLogout": True,
        "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "+"},
        "defaultClientScopes": ["profile", "email", "roles", "groups", *c.scopes],
        "optionalClientScopes": ["offline_access"],
    }


def kubectl_client(cfg: StackConfig) -> dict:
    """The public client kubectl (kubelogin) signs in with: PKCE, the claims the API server's OIDC flags read."""
    oidc = cfg.cluster.oidc
    mappers = [{
        "name": "username",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-property-mapper",
        "config": {"user.attribute": "username", "claim.name": oidc.username_claim, "jsonType.label": "String",
                   "id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true"},
    }]
    return {
        "clientId": oidc.client_id,
        "name": "kubectl",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": True,
        "redirectUris": list(KUBELOGIN_REDIRECTS),
        "webOrigins": [],
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "+"},
        "protocolMappers": mappers,
        "defaultClientScopes": ["profile", "email", "groups"],
        "optionalClientScopes": ["offline_access"],
    }


def _groups_scope(cfg: StackConfig) -> dict:
    return {
        "name": "groups",
        "description": "group names (the API server's groups claim)",
        "protocol": "openid-connect",
        "attributes": {"include.in.token.scope": "true", "display.on.consent.screen": "false"},
        "protocolMappers": [{
            "name": "groups",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-group-membership-mapper",
            "config": {"claim.name": cfg.cluster.oidc.groups_claim, "full.path": "false", "id.token.claim": "true",
                       "access.token.claim": "true", "userinfo.token.claim": "true"},
        }],
    }


def _scope(name: str) -> dict:
    return {"name": name, "protocol": "openid-connect", "description": f"SCDF authority {name}",
            "attributes": {"include.in.token.scope": "true", "display.on.consent.screen": "false"}}


def _ldap(f: LdapFederation) -> dict:
    one = lambda v: [v]  # noqa: E731 (component config values are lists of strings)
    return {
        "name": "ldap",
        "providerId": "ldap",
        "subComponents": {
            "org.keycloak.storage.ldap.mappers.LDAPStorageMapper": [{
                "name": "groups",
                "providerId": "group-ldap-mapper",
                "subComponents": {},
                "config": {
                    "groups.dn": one(f.groups_dn), "group.name.ldap.attribute": one("cn"),
                    "group.object.classes": one("groupOfNames"), "membership.ldap.attribute": one("member"),
                    "membership.attribute.type": one("DN"), "membership.user.ldap.attribute": one("uid"),
                    "mode": one("READ_ONLY"), "user.roles.retrieve.strategy": one("LOAD_GROUPS_BY_MEMBER_ATTRIBUTE"),
                    "preserve.group.inheritance": one("false"), "ignore.missing.groups": one("true"),
                    "drop.non.existing.groups.during.sync": one("false"), "groups.path": one("/"),
                },
            }],
        },
        "config": {
            "enabled": one("true"), "vendor": one("other"), "editMode": one("READ_ONLY"),
            "connectionUrl": one(f.url), "startTls": one("false"), "useTruststoreSpi": one("always"),
            "authType": one("simple"), "bindDn": one(f.bind_dn), "bindCredential": one(f"$(env:{f.bind_password_env})"),
            "usersDn": one(f.users_dn), "searchScope": one("1"), "usernameLDAPAttribute": one("uid"),
            "rdnLDAPAttribute": one("uid"), "uuidLDAPAttribute": one("entryUUID"),
            "userObjectClasses": one("inetOrgPerson, posixAccount"), "importEnabled": one("true"),
            "syncRegistrations": one("false"), "pagination": one("true"), "connectionPooling": one("true"),
            "fullSyncPeriod": one("86400"), "changedSyncPeriod": one("3600"), "trustEmail": one("false"),
            "validatePasswordPolicy": one("false"), "allowKerberosAuthentication": one("false"),
        },
    }


def realm_document(cfg: StackConfig, clients: Iterable[RealmClient], ldap: Optional[LdapFederation]) -> dict[str, Any]:
    """The realm as keycloak-config-cli imports it, updated in place at every change of this document."""
    clients = sorted(clients, key=lambda c: c.client_id)
    scopes = sorted({s for c in clients for s in c.scopes} | set(SCDF_SCOPES))
    doc: dict[str, Any] = {
        "realm": cfg.cluster.oidc.realm,
        "enabled": True,
        "displayName": f"COPRS {cfg.environment}",
        "sslRequired": "external",
        "registrationAllowed": False,
        "resetPasswordAllowed": False,
        "rememberMe": False,
        "loginWithEmailAllowed": False,
        "duplicateEmailsAllowed": False,
        "bruteForceProtected": True,
        "permanentLockout": False,
        "failureFactor": 5,
        "waitIncrementSeconds": 60,
        "maxFailureWaitSeconds": 900,
        "minimumQuickLoginWaitSeconds": 60,
        "quickLoginCheckMilliSeconds": 1000,
        "maxDeltaTimeSeconds": 43200,
        "passwordPolicy": PASSWORD_POLICY,
        "accessTokenLifespan": 300,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "eventsEnabled": True,
        "eventsListeners": ["jboss-logging"],
        "enabledEventTypes": list(SECURITY_EVENTS),
        "eventsExpiration": 7 * 86400,
        "adminEventsEnabled": True,
        "adminEventsDetailsEnabled": False,
        "groups": [{"name": g.name, "attributes": {"description": [g.description]}} for g in GROUPS],
        "defaultGroups": [f"/{DEFAULT_GROUP}"],
        "clientScopes": [_groups_scope(cfg), *(_scope(s) for s in scopes)],
        "clients": [*(_confidential(c) for c in clients)],
    }
    if cfg.cluster.oidc.enabled:
        doc["clients"].append(kubectl_client(cfg))
    if ldap is not None:
        doc["components"] = {"org.keycloak.storage.UserStorageProvider": [_ldap(ldap)]}
    return doc
