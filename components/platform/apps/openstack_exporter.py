"""Machine usage (monitoring): the OpenStack exporter (openstack-exporter v1.7.0) for servers, volumes and quotas.

The seed's FinOps "machine usage" exporter: instances, flavors, volumes, floating IPs and the project's
quotas from the cloud's APIs, scraped every 5 minutes. No maintained chart exists (the exporter's
chart repository stopped in 2023), so the Deployment, Service and ServiceMonitor are declared here.

Opt-in with a read-only OpenStack application credential: `settings.applicationCredentialId` and its
secret in `pulumi config set --secret coprs:openstackExporterCredential ...`; the auth URL and region
come from the provider config (`openstack:authUrl`, `openstack:region`). Without an id nothing is
deployed (the deployment account's password never goes into the cluster).
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

from ...config import NAMESPACE as CONFIG_NS, ConfigError
from ...config_types import pattern
from ..app import App, AppContext, AppSettings, logical
from ..flows import WORLD, Flow, Port, pods
from ..placement import Resources
from .kube_prometheus_stack import NAMESPACE

NAME = "openstack-exporter"
IMAGE = "ghcr.io/openstack-exporter/openstack-exporter:1.7.0"
PORT = 9180
CLOUD = "coprs"
SECRET = "openstack-exporter-clouds"
SECRET_KEY = "openstackExporterCredential"  # coprs:openstackExporterCredential (secret config)
PODS = {"app.kubernetes.io/name": NAME}

CredentialId = pattern("an OpenStack application credential id (hexadecimal)", r"[0-9a-fA-F-]{16,64}", 64)


class Settings(AppSettings):
    application_credential_id: Optional[CredentialId] = None


def clouds_yaml(auth_url: str, region: Optional[str], credential_id: str, secret: str) -> str:
    cloud = {"auth_type": "v3applicationcredential",
             "auth": {"auth_url": auth_url, "application_credential_id": credential_id,
                      "application_credential_secret": secret},
             "interface": "public", "identity_api_version": 3}
    if region:
        cloud["region_name"] = region
    return yaml.safe_dump({"clouds": {CLOUD: cloud}}, sort_keys=False)


def deploy(ctx: AppContext) -> None:
    s: Settings = ctx.settings
    if s.application_credential_id is None:
        pulumi.log.info("openstack-exporter: no settings.applicationCredentialId, machine usage is not exported")
        return
    provider = pulumi.Config("openstack")
    auth_url = provider.get("authUrl")
    if not auth_url:
        raise ConfigError([f"openstack:authUrl is required by {CONFIG_NS}:platform.apps.{NAME} (the exporter's identity endpoint)"])
    credential = pulumi.Config(CONFIG_NS).get_secret(SECRET_KEY)
    if credential is None:
        raise ConfigError([f"{CONFIG_NS}:{SECRET_KEY} is required with platform.apps.{NAME}.settings.applicationCredentialId "
                           f"(pulumi config set --secret {CONFIG_NS}:{SECRET_KEY} ...)"])
    labels = {**PODS, "app.kubernetes.io/part-of": "coprs"}
    secret = k8s.core.v1.Secret(
        logical(NAME, "secret", NAMESPACE, SECRET),
        metadata={"name": SECRET, "namespace": NAMESPACE, "labels": labels},
        type="Opaque",
        string_data={"clouds.yaml": pulumi.Output.secret(credential.apply(
            lambda c: clouds_yaml(auth_url, provider.get("region"), s.application_credential_id, c)))},
        opts=ctx.opts(),
    )
    container = {
        "name": NAME,
        "image": IMAGE,
        "args": ["--os-client-config=/etc/openstack/clouds.yaml", "--endpoint-type=public",
                 f"--web.listen-address=:{PORT}", CLOUD],
        "ports": [{"name": "metrics", "containerPort": PORT}],
        "readinessProbe": {"tcpSocket": {"port": "metrics"}, "periodSeconds": 30},
        "resources": ctx.resources("exporter", Resources("20m", "64Mi", memory_limit="256Mi")).render(),
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "runAsUser": 65534, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "clouds", "mountPath": "/etc/openstack", "readOnly": True}],
    }
    deployment = k8s.apps.v1.Deployment(
        logical(NAME, "deployment"),
        metadata={"name": NAME, "namespace": NAMESPACE, "labels": labels},
        spec={
            "replicas": 1,
            "selector": {"matchLabels": PODS},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "affinity": ctx.affinity(),
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [{"name": "clouds", "secret": {"secretName": SECRET}}],
                },
            },
        },
        opts=ctx.opts(depends_on=(secret,)),
    )
    service = k8s.core.v1.Service(
        logical(NAME, "service"),
        metadata={"name": NAME, "namespace": NAMESPACE, "labels": labels},
        spec={"selector": PODS, "ports": [{"name": "metrics", "port": PORT, "targetPort": "metrics"}]},
        opts=ctx.opts(depends_on=(deployment,)),
    )
    # The APIs are slow to list a whole project: every 5 minutes, 2 minutes to answer.
    ctx.monitor(NAME, PODS, {"port": "metrics", "interval": "5m", "scrapeTimeout": "2m"}, service=True,
                depends_on=(service,))


APP = App(
    name=NAME,
    namespace=NAMESPACE,
    flows=(Flow("openstack-exporter-apis", pods(NAMESPACE, PODS), WORLD, (Port(443),), "the cloud's public API endpoints"),),
    settings=Settings,
    objects=deploy,
    description="machine usage: OpenStack servers, volumes and quotas (opt-in, application credential)",
)
