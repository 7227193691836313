"""UI routes through APISIX: https://<ui>.<domain>, TLS only, behind Keycloak's OIDC unless the app does its own.

`oidc_plugin` is the one place the openid-connect plugin is configured (Keycloak arrives with a later
app; its realm clients take their secrets from `Platform.oidc_clients`). The client secret and the
session secret are generated and handed to the plugin through a Secret (`secretRef`), never inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..config import StackConfig
from .app import App, UiRoute, logical

INGRESS_CLASS = "apisix"
APISIX_API = "apisix.apache.org/v2"
OIDC_SECRET_KEYS = ("client_secret", "session.secret")


def oidc_issuer(cfg: StackConfig) -> str:
    """Keycloak realm of the platform: https://iam.<domain>/realms/<realm> unless config names another issuer."""
    oidc = cfg.cluster.oidc
    return (oidc.issuer_url or f"https://iam.{cfg.domain}/realms/{oidc.realm}").rstrip("/")


def oidc_plugin(cfg: StackConfig, client_id: str, host: str, secret_name: str, prefix: str = "") -> dict:
    """The openid-connect plugin of a route: browser login against Keycloak, secrets from `secret_name`."""
    return {
        "name": "openid-connect",
        "enable": True,
        "secretRef": secret_name,
        "config": {
            "client_id": client_id,
            "discovery": f"{oidc_issuer(cfg)}/.well-known/openid-configuration",
            "realm": cfg.cluster.oidc.realm,
            "scope": "openid profile email",
            "bearer_only": False,
            "redirect_uri": f"https://{host}{prefix}/redirect_uri",
            "logout_path": "/logout",
            "introspection_endpoint_auth_method": "client_secret_post",
            "set_userinfo_header": False,
            "ssl_verify": True,
        },
    }


@dataclass
class OidcClient:
    """What the Keycloak realm needs to register one client."""

    client_id: str
    redirect_uri: str
    namespace: str
    secret: pulumi.Output[str]


def ui_route(cfg: StackConfig, app: App, route: UiRoute, opts: pulumi.ResourceOptions,
             provider_opts: pulumi.ResourceOptions) -> tuple[k8s.apiextensions.CustomResource, Optional[OidcClient]]:
    """An ApisixRoute for one UI (plus its OIDC Secret); `provider_opts` orders it after the APISIX CRDs."""
    ns = route.namespace or app.namespace
    host = f"{route.host}.{cfg.domain}"
    plugins = [{"name": "redirect", "enable": True, "config": {"http_to_https": True}}]
    client: Optional[OidcClient] = None
    deps = list(provider_opts.depends_on or [])
    if route.oidc_client:
        secret_name = f"{route.oidc_client}-oidc"
        values = {
            key: random.RandomPassword(logical(app.name, route.oidc_client, "oidc", key), length=40, special=False,
                                       opts=pulumi.ResourceOptions(parent=opts.parent)).result
            for key in OIDC_SECRET_KEYS
        }
        secret = k8s.core.v1.Secret(
            logical(app.name, "oidc", ns, route.oidc_client),
            metadata={"name": secret_name, "namespace": ns, "labels": {"app.kubernetes.io/part-of": "coprs"}},
            type="Opaque",
            string_data=values,
            opts=opts,
        )
        deps.append(secret)
        # A UI under a path prefix (https://processing.<domain>/kibana) gets its callback under it too.
        prefix = route.path.rstrip("*").rstrip("/")
        plugins.append(oidc_plugin(cfg, route.oidc_client, host, secret_name, prefix))
        client = OidcClient(route.oidc_client, f"https://{host}{prefix}/redirect_uri", ns, values["client_secret"])
    spec = {
        "ingressClassName": INGRESS_CLASS,
        "http": [
            {
                "name": route.host,
                "match": {"hosts": [host], "paths": [route.path]},
                "backends": [{"serviceName": route.service, "servicePort": route.port}],
                "websocket": route.websocket,
                "plugins": plugins,
            }
        ],
    }
    resource = k8s.apiextensions.CustomResource(
        logical(app.name, "route", route.host),
        api_version=APISIX_API,
        kind="ApisixRoute",
        metadata={"name": route.host, "namespace": ns},
        spec=spec,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=deps)),
    )
    return resource, client
