"""The custom resources, Secrets and provider the platform declares (K-46 .. K-52)."""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from .. import credentials as cred
from ..base import Cfg, Res, as_list, elements, falsy, flag, get, has, is_map, items, key, meta, number, opt, strings, truthy
from ..k8s import is_kind, kind_of, module_of, name_of, namespace_of

from .common import kinds, rule


# ---------------------------------------------------------------------------------------------
# the custom resources and Secrets the platform declares (K-46 .. K-51, beyond the reference table)


def _k46(res: Res, cfg: Cfg) -> Iterator[str]:
    annotations = opt(res.props, "metadata.annotations") or {}
    if get(res.props, "type") == "kubernetes.io/service-account-token" or key(annotations, "kubernetes.io/service-account.name"):
        yield f"Secret {namespace_of(res)}/{name_of(res)} is a long-lived service account token"


rule(meta("K-46", "high", "No long-lived service account token Secrets", ["NSA:short-lived-tokens", "CIS-5.1.6", "KSV-0036"],
          "Use projected, bound tokens (the default) or the TokenRequest API; delete legacy token Secrets."),
     _k46, applies=kinds("Secret", group="core"))

RSA_MIN, EC_MIN = 2048, 256


def _duration_hours(value: Any) -> Optional[float]:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", str(value or ""))
    if not m or not any(m.groups()):
        return None
    h, mi, s = (int(x or 0) for x in m.groups())
    return h + mi / 60 + s / 3600


def _k47(res: Res, cfg: Cfg) -> Iterator[str]:
    spec = get(res.props, "spec") or {}
    if kind_of(res.type) == "Certificate":
        algo = str(opt(spec, "privateKey.algorithm") or "RSA").upper()
        size = number(opt(spec, "privateKey.size"))
        if algo == "RSA" and size is not None and size < RSA_MIN:
            yield f"the certificate key is RSA {int(size)} (minimum {RSA_MIN})"
        if algo == "ECDSA" and size is not None and size < EC_MIN:
            yield f"the certificate key is ECDSA {int(size)} (minimum {EC_MIN})"
        ca = truthy(opt(spec, "isCA"))
        hours = _duration_hours(opt(spec, "duration"))
        limit = cfg["maxCaDurationHours"] if ca else cfg["maxDurationHours"]
        if hours is not None and hours > limit:
            yield f"the {'CA ' if ca else ''}certificate lasts {int(hours)}h (maximum {limit}h)"
        if not ca and opt(spec, "privateKey.rotationPolicy") == "Never":
            yield "the certificate never rotates its private key"
    else:
        acme = opt(spec, "acme")
        if is_map(acme):
            server = str(opt(acme, "server") or "")
            if not server.startswith("https://"):
                yield f"the ACME server {server or '(unset)'} is not https"
            if truthy(opt(acme, "skipTLSVerify")):
                yield "the issuer skips TLS verification of the ACME server"
        if truthy(opt(spec, "vault.skipTLSVerify")):
            yield "the issuer skips TLS verification of Vault"


rule(meta("K-47", "medium", "Certificates use strong, rotated keys and bounded lifetimes; issuers verify TLS",
          ["NSA:encrypt-in-transit", "cert-manager:best-practice"],
          "Use RSA ≥ 2048 or ECDSA ≥ 256 keys, rotationPolicy Always for leaf certificates, durations within the "
          "limits, and https ACME servers with verification on.",
          {"maxDurationHours": {"type": "integer", "minimum": 1, "default": 8760, "description": "longest leaf certificate"},
           "maxCaDurationHours": {"type": "integer", "minimum": 1, "default": 87600, "description": "longest CA certificate"}}),
     _k47, applies=lambda t: is_kind(t, "Certificate", "Issuer", "ClusterIssuer", group="cert-manager.io"))


def _k48(res: Res, cfg: Cfg) -> Iterator[str]:
    spec = get(res.props, "spec") or {}
    if not opt(spec, "objectStorage.bucket"):
        yield "the backup storage location names no bucket"
    url = opt(spec, "config.s3Url")
    if isinstance(url, str) and url and not url.startswith("https://"):
        yield f"the backup storage location reaches {url} without TLS"
    if truthy(opt(spec, "config.insecureSkipTLSVerify")):
        yield "the backup storage location skips TLS verification"


rule(meta("K-48", "medium", "Backup storage locations name their bucket and use verified TLS", ["COPRS:data-protection",
                                                                                             "NSA:encrypt-in-transit"],
          "Point the BackupStorageLocation at the program's backups bucket over https with verification on."),
     _k48, applies=kinds("BackupStorageLocation", group="velero.io"))


def _k49(res: Res, cfg: Cfg) -> Iterator[str]:
    kind, spec = kind_of(res.type), get(res.props, "spec") or {}
    if kind == "Kafka":
        for i, lst in enumerate(elements(opt(spec, "kafka.listeners"))):
            name = opt(lst, "name")
            if opt(lst, "tls") is not True and name not in cfg["plainListeners"]:
                yield f"spec.kafka.listeners[{i}] '{name}' is not TLS"
            if not has(lst, "authentication"):
                yield f"spec.kafka.listeners[{i}] '{name}' has no authentication"
        if not has(opt(spec, "kafka") or {}, "authorization"):
            yield "spec.kafka has no authorization (any client may do anything)"
    elif kind == "KafkaNodePool":
        if str(opt(spec, "storage.type") or "") == "ephemeral":
            yield "the node pool keeps its log on ephemeral storage"
    elif kind in ("Elasticsearch", "Kibana"):
        if truthy(opt(spec, "http.tls.selfSignedCertificate.disabled")):
            yield f"the {kind} HTTP layer has TLS disabled"
        for i, ns in enumerate(elements(opt(spec, "nodeSets"))):
            conf = opt(ns, "config") or {}
            if falsy(key(conf, "xpack.security.enabled")):
                yield f"spec.nodeSets[{i}] turns security off"
            roles = key(conf, "xpack.security.authc.anonymous.roles")
            if roles:
                yield f"spec.nodeSets[{i}] gives anonymous users roles"
    elif kind == "Cluster":
        if truthy(opt(spec, "enableSuperuserAccess")):
            yield "the PostgreSQL superuser is reachable over the network"
        for line in elements(opt(spec, "postgresql.pg_hba")):
            if re.search(r"\btrust\b", str(line)):
                yield "pg_hba allows password-less (trust) connections"
    elif kind in ("MongoDBCommunity", "MongoDB"):
        if not as_list(opt(spec, "security.authentication.modes")) and not truthy(opt(spec, "security.authentication.enabled")):
            yield "MongoDB authentication is not configured"
        if falsy(opt(spec, "security.tls.enabled")):
            yield "MongoDB TLS is off"


DATA_CRS = {("kafka.strimzi.io", "Kafka"), ("kafka.strimzi.io", "KafkaNodePool"), ("elasticsearch.k8s.elastic.co", "Elasticsearch"),
            ("kibana.k8s.elastic.co", "Kibana"), ("postgresql.cnpg.io", "Cluster"),
            ("mongodbcommunity.mongodb.com", "MongoDBCommunity"), ("mongodb.com", "MongoDB")}


def _data_cr(t: str) -> bool:
    return (module_of(t), kind_of(t)) in DATA_CRS


rule(meta("K-49", "high", "Data services keep TLS, authentication and authorization on (Kafka, Elasticsearch, PostgreSQL, MongoDB)",
          ["NSA:encrypt-in-transit", "NSA:authn", "COPRS:data-protection"],
          "Kafka: TLS listeners with authentication and authorization; ECK: keep HTTP TLS and security on, no anonymous "
          "roles; CNPG: no superuser access, no trust in pg_hba; MongoDB: authentication and TLS on.",
          {"plainListeners": strings("Kafka listener names allowed without TLS (in-mesh traffic, with authentication)", [])}),
     _k49, applies=_data_cr)


def _k50(res: Res, cfg: Cfg) -> Iterator[str]:
    kind = kind_of(res.type)
    if kind == "NetworkAuthentication":
        for i, n in enumerate(elements(get(res.props, "spec.networks"))):
            if opt(n, "cidr") in ("0.0.0.0/0", "::/0") and not as_list(opt(n, "except")):
                yield f"spec.networks[{i}] authenticates every address ({opt(n, 'cidr')})"
    elif kind == "AuthorizationPolicy":
        if not as_list(get(res.props, "spec.requiredAuthenticationRefs")):
            yield f"AuthorizationPolicy {namespace_of(res)}/{name_of(res)} requires no authentication"
    elif kind == "Server":
        policy = opt(res.props, "spec.accessPolicy")
        if policy in ("all-unauthenticated", "cluster-unauthenticated") and \
                not any(re.fullmatch(p, f"{namespace_of(res)}/{name_of(res)}") for p in cfg["openServers"]):
            yield f"Server {namespace_of(res)}/{name_of(res)} admits {policy} clients"


rule(meta("K-50", "medium", "Linkerd policy admits no unauthenticated clients from everywhere", ["NSA:network-separation",
                                                                                                 "NSA:encrypt-in-transit"],
          "Use MeshTLSAuthentication, or NetworkAuthentication limited to the node and pod CIDRs; allow-list a Server that "
          "must take unauthenticated traffic (kubelet probes, the gateway).",
          {"openServers": strings("Servers (`namespace/name` regexes) allowed an unauthenticated access policy", [])}),
     _k50, applies=lambda t: is_kind(t, "NetworkAuthentication", "Server", "AuthorizationPolicy", group="policy.linkerd.io"))

AUTH_PLUGINS = {"openid-connect", "jwt-auth", "key-auth", "basic-auth", "hmac-auth", "authz-keycloak", "forward-auth", "ldap-auth"}


def _k51(res: Res, cfg: Cfg) -> Iterator[str]:
    route = f"{namespace_of(res)}/{name_of(res)}"
    own_auth = any(re.fullmatch(p, route) for p in cfg["ownAuthentication"])
    for i, h in enumerate(elements(get(res.props, "spec.http"))):
        plugins = [p for p in elements(opt(h, "plugins")) if opt(p, "enable") is not False]
        names = {str(opt(p, "name")) for p in plugins}
        if not names & AUTH_PLUGINS and not own_auth:
            yield f"spec.http[{i}] '{opt(h, 'name')}' reaches its backend without authentication"
        for p in plugins:
            conf = opt(p, "config") or {}
            if falsy(opt(conf, "ssl_verify")):
                yield f"spec.http[{i}] plugin {opt(p, 'name')} does not verify TLS"
            for k, v in items(conf):
                if isinstance(v, str) and cred.sensitive_key(k) and cred.literal(v):
                    yield f"spec.http[{i}] plugin {opt(p, 'name')} holds `{k}` in clear (use secretRef)"


rule(meta("K-51", "high", "Gateway routes authenticate users (OIDC) and keep plugin secrets by reference",
          ["NSA:authn", "COPRS:ui-behind-oidc"],
          "Add the openid-connect plugin (Keycloak) with `secretRef`, or allow-list a route whose app does its own OAuth.",
          {"ownAuthentication": strings("ApisixRoutes (`namespace/name` regexes) whose app authenticates users itself "
                                        "(components.md: Grafana and SCDF do their own OAuth)",
                                        ["monitoring/grafana.*", "processing/(processing|scdf.*|dataflow.*|spring-cloud-dataflow.*)",
                                         # the identity provider's own realm pages (login, OIDC endpoints)
                                         "iam/iam"])}),
     _k51, applies=lambda t: is_kind(t, "ApisixRoute", group="apisix.apache.org"))


K8S_PROVIDER = "pulumi:providers:kubernetes"
_INSECURE_KUBECONFIG = re.compile(r"insecure-skip-tls-verify\s*:\s*true", re.I)


def _k52(res: Res, cfg: Cfg) -> Iterator[str]:
    kubeconfig = get(res.props, "kubeconfig")
    if isinstance(kubeconfig, str):
        if _INSECURE_KUBECONFIG.search(kubeconfig):
            yield "the kubeconfig skips verification of the API server certificate"
        if re.search(r"server:\s*http://", kubeconfig):
            yield "the kubeconfig reaches the API server over plain http"
    if not has(res.props, "clusterIdentifier") and cfg["requireClusterIdentifier"]:
        yield "the provider sets no clusterIdentifier (a rotated kubeconfig would replace every object)"


rule(meta("K-52", "high", "The Kubernetes provider verifies the API server and is pinned to its cluster",
          ["NSA:encrypt-in-transit", "COPRS:architecture-1"],
          "Keep certificate-authority-data in the kubeconfig (no insecure-skip-tls-verify) and set `clusterIdentifier`.",
          {"requireClusterIdentifier": flag("require clusterIdentifier on explicit providers", True)}),
     _k52, applies=lambda t: t == K8S_PROVIDER)
