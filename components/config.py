"""Stack configuration: one pydantic model per section of the `coprs` config namespace.

Everything is validated before any resource is declared. A bad value raises `ConfigError`, whose
message names the key path (`coprs:nodeGroups.infra.count`), the value and what is allowed, on one
line. `ConfigError` is a `pulumi.RunError`, so `pulumi up` prints it without a traceback.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from typing import Annotated, Any, Literal, Mapping, Optional, Union

import pulumi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model, field_validator, model_validator
from pydantic.alias_generators import to_camel

from . import config_input
from .config_types import (
    AnsibleGroup, BucketPrefix, ClusterName, DnsName, Email, HostPort, HttpsUrl, HttpUrl, Ipv4Address,
    Ipv4Network, IssuerUrl, KeycloakRealm, KubernetesVersion, KubesprayVersion, LabelKey, LabelValue, LocalPath,
    OidcClaim, OidcClientId, OidcPrefix, OpenStackName, Quantity, Region, StackRef, Taint, UnixUser, pattern,
)

NAMESPACE = "coprs"

# Secret keys the program reads (set with `pulumi config set --secret`). The offline harness fakes
# the ones a stack file does not hold, and says so.
SECRET_KEYS: dict[str, str] = {
    "openstack:password": "OpenStack password of the deployment account (provider config)",
    "coprs:s3AccessKey": "access key of the S3-compatible object store",
    "coprs:s3SecretKey": "secret key of the S3-compatible object store",
    "coprs:kubeconfig": "kubeconfig of an existing cluster (cluster.mode: existing, without kubeconfigFromStack)",
    "coprs:acmeDnsCredentials": "credentials of the DNS01 solver of the public certificate issuer (ACME only)",
    "coprs:scdfRegistryPassword": "password of the container registry of SCDF's stream and task images (with scdf settings.registry)",
    "coprs:openstackExporterCredential": "secret of the read-only application credential of the OpenStack exporter (opt-in)",
    "coprs:kafkaExternalCredentials": "JSON user → {username, password} of a managed Kafka (platform.apps.kafka.settings.external only)",
}

# Config namespaces a stack file may use: this program's and those of the providers it runs with.
ANSIBLE_GROUP = re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII)  # fullmatch
HOST_LABEL_MAX = 63  # a node's host name is one DNS label
# Every host the platform derives is `<label>.<domain>`, a label of up to 63: the domain leaves room for it.
DOMAIN_MAX = 253 - 64
KNOWN_NAMESPACES = ("coprs", "openstack", "kubernetes", "command", "random", "tls", "pulumi")
# Kubespray releases the program knows (checked in kubernetes-sigs/kubespray at the tag): the tag's commit,
# its default Kubernetes version and, per supported minor, the newest patch it has checksums for.
KUBESPRAY_RELEASES: dict[str, dict[str, Any]] = {
    "v2.31.0": {
        "commit": "1c9add48975060f45396b34d8e022c30d7f80dab",
        "kubernetes": "1.35.4",
        "supported": {"1.33": 11, "1.34": 7, "1.35": 4},
    },
}
# Kubespray's own reserved group names: a node group may not reuse them.
RESERVED_GROUPS = {"all", "ungrouped", "k8s_cluster", "kube_node", "etcd", "calico_rr", "no_floating"}

# Kubespray's kube_network_node_prefix: each node's pod block of the pod CIDR (cluster/inventory.py).
NODE_PREFIX = 24
# kube-apiserver refuses a service range of more than 20 host bits (/12 for IPv4); the platform's Services
# (and Kubespray's fixed addresses .1 and .3) need a /24 at least.
SERVICE_PREFIX_MIN, SERVICE_PREFIX_MAX = 12, 24
# Addresses of the node network that are no node's: network and broadcast, the gateway (router interface)
# and 8 service ports (DHCP, the load balancers' VIPs and amphorae).
RESERVED_ADDRESSES = 11

BASTION = "bastion"
CONTROL_PLANE = "kube_control_plane"


class ConfigError(pulumi.RunError):
    """One clear message about a bad stack configuration, on one line whatever the problems hold."""

    def __init__(self, problems: list[str]):
        self.problems = [_one_line(p) for p in problems]
        problems = self.problems
        super().__init__("invalid stack configuration: " + "; ".join(problems))


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


# ---------------------------------------------------------------------------------------------
# network


class NetworkConfig(Model):
    cidr: Ipv4Network = "192.168.0.0/16"
    external_network: OpenStackName
    dns_nameservers: list[Ipv4Address] = Field(default=["1.1.1.1", "1.0.0.1"], max_length=8)
    admin_cidrs: list[Ipv4Network] = Field(min_length=1, max_length=64)
    availability_zones: list[OpenStackName] = Field(default=[], max_length=16)
    ingress_floating_ip: bool = True
    ingress_node_group: AnsibleGroup = "infra"

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        if ipaddress.ip_network(v).prefixlen > 28:
            raise ValueError("must be an IPv4 network of /28 or larger, e.g. 192.168.0.0/16")
        return v


# ---------------------------------------------------------------------------------------------
# node groups


class DataVolumeConfig(Model):
    size_gb: int = Field(gt=0, le=16384)
    type: OpenStackName = "SSD"


MAX_NODES_PER_GROUP = 1000


class AutoscalingConfig(Model):
    min_count: int = Field(ge=0, le=MAX_NODES_PER_GROUP)
    max_count: int = Field(ge=1, le=MAX_NODES_PER_GROUP)

    @model_validator(mode="after")
    def _bounds(self) -> "AutoscalingConfig":
        if self.min_count > self.max_count:
            raise ValueError(f"minCount {self.min_count} must not exceed maxCount {self.max_count}")
        return self


ServerGroupPolicy = Literal["anti-affinity", "soft-anti-affinity", "affinity", "soft-affinity"]


class NodeGroupConfig(Model):
    count: int = Field(ge=0, le=MAX_NODES_PER_GROUP)
    flavor: OpenStackName
    image: OpenStackName
    root_volume_gb: int = Field(default=40, ge=10, le=4096)
    root_volume_type: Optional[OpenStackName] = None
    data_volume: Optional[DataVolumeConfig] = None
    labels: dict[LabelKey, LabelValue] = Field(default={}, max_length=64)
    taints: list[Taint] = Field(default=[], max_length=32)
    server_group_policy: ServerGroupPolicy = "soft-anti-affinity"
    floating_ip: bool = False
    autoscaling: Optional[AutoscalingConfig] = None

    @property
    def max_nodes(self) -> int:
        """The most nodes the group can have: its count or, when autoscaled, its maxCount."""
        return max(self.count, self.autoscaling.max_count if self.autoscaling else 0)


def node_role(group: str) -> str:
    """bastion groups are SSH jump hosts, the control plane runs etcd, every other group is workers."""
    if group == BASTION:
        return "bastion"
    if group == CONTROL_PLANE:
        return "control-plane"
    return "worker"


# ---------------------------------------------------------------------------------------------
# cluster


class KubesprayConfig(Model):
    version: KubesprayVersion = "v2.31.0"
    # `git clone` source of the release: https only (the commit is checked after the clone).
    repository: HttpsUrl = "https://github.com/kubernetes-sigs/kubespray"
    cache_dir: LocalPath = "~/.cache/coprs/kubespray"
    ansible_forks: int = Field(default=20, ge=1, le=500)


class OidcConfig(Model):
    enabled: bool = True
    client_id: OidcClientId = "kubernetes"
    username_claim: OidcClaim = "preferred_username"
    groups_claim: OidcClaim = "groups"
    username_prefix: OidcPrefix = "oidc:"
    groups_prefix: OidcPrefix = "oidc:"
    # Defaults to the Keycloak realm of the platform: https://iam.<domain>/realms/<realm>
    issuer_url: Optional[IssuerUrl] = None
    realm: KeycloakRealm = "coprs"


class ApiLoadBalancerConfig(Model):
    enabled: bool = True
    public: bool = False

    @model_validator(mode="after")
    def _public_needs_enabled(self) -> "ApiLoadBalancerConfig":
        if self.public and not self.enabled:
            raise ValueError("public: true needs enabled: true (there is no load balancer to make public)")
        return self


class ClusterConfig(Model):
    mode: Literal["provision", "existing"] = "provision"
    name: ClusterName = "coprs"
    kubespray: KubesprayConfig = KubesprayConfig()
    kubernetes_version: KubernetesVersion = "1.35.4"
    pod_cidr: Ipv4Network = "10.244.0.0/16"
    service_cidr: Ipv4Network = "10.96.0.0/12"
    ssh_user: UnixUser = "ubuntu"
    oidc: OidcConfig = OidcConfig()
    api_load_balancer: ApiLoadBalancerConfig = ApiLoadBalancerConfig()
    audit_log_max_age_days: int = Field(default=30, ge=1, le=3650)
    kubeconfig_from_stack: Optional[StackRef] = None

    @field_validator("pod_cidr")
    @classmethod
    def _pods(cls, v: str) -> str:
        if ipaddress.ip_network(v).prefixlen > NODE_PREFIX:
            raise ValueError(f"must be /{NODE_PREFIX} or larger: each node gets a /{NODE_PREFIX} block of it")
        return v

    @field_validator("service_cidr")
    @classmethod
    def _services(cls, v: str) -> str:
        prefix = ipaddress.ip_network(v).prefixlen
        if not SERVICE_PREFIX_MIN <= prefix <= SERVICE_PREFIX_MAX:
            raise ValueError(
                f"must be /{SERVICE_PREFIX_MIN} to /{SERVICE_PREFIX_MAX}: kube-apiserver refuses a range larger "
                f"than /{SERVICE_PREFIX_MIN}, and the platform's Services need at least /{SERVICE_PREFIX_MAX}"
            )
        return v


# ---------------------------------------------------------------------------------------------
# object storage


# The platform's buckets, by suffix: `<bucketPrefix>-<suffix>` (architecture §6).
BUCKETS = ("thanos", "loki", "es-processing", "es-security", "backups")


class ObjectStorageConfig(Model):
    endpoint: HttpUrl
    region: Region = "eu-west-0"
    bucket_prefix: BucketPrefix
    # Buckets (by suffix, e.g. "loki") that `pulumi destroy` may empty and delete.
    force_destroy: list[Literal[BUCKETS]] = []  # type: ignore[valid-type]
    addressing_style: Literal["path", "virtual"] = "path"
    verify_tls: bool = True

    def bucket(self, suffix: str) -> str:
        """The name of one of the platform's buckets: `<bucketPrefix>-<suffix>`."""
        return f"{self.bucket_prefix}-{suffix}"


# ---------------------------------------------------------------------------------------------
# platform


class ResourcesOverride(Model):
    """`settings.resources.<component>` of an app: requests and limits over the app's defaults."""

    cpu: Optional[Quantity] = None
    memory: Optional[Quantity] = None
    cpu_limit: Optional[Quantity] = None
    memory_limit: Optional[Quantity] = None


class AppConfig(Model):
    """Per-app overrides; apps read the keys they know from `settings` (their own typed models)."""

    enabled: bool = True
    replicas: Optional[int] = Field(default=None, ge=0, le=100)
    storage_gb: Optional[int] = Field(default=None, ge=1, le=65536)
    settings: dict[str, Any] = {}


# Every app's `settings.resources` has this closed shape (checked with the stack, before any app runs).
ComponentName = pattern("a component name: letters, digits, '-' or '_'", r"[A-Za-z0-9][A-Za-z0-9_-]*", 63)
RESOURCES = TypeAdapter(dict[ComponentName, ResourcesOverride])  # type: ignore[valid-type]


# cert-manager's built-in DNS01 solvers and the field of each that takes coprs:acmeDnsCredentials.
DNS01_SECRET_FIELDS: dict[str, str] = {
    "cloudflare": "apiTokenSecretRef",
    "route53": "secretAccessKeySecretRef",
    "rfc2136": "tsigSecretSecretRef",
    "digitalocean": "tokenSecretRef",
    "acmeDNS": "accountSecretRef",
    "cloudDNS": "serviceAccountSecretRef",
}


# The non-secret fields of each solver (cert-manager v1.21.1, pkg/apis/acme/v1/types_issuer.go).
class _Dns01Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CloudflareSettings(_Dns01Settings):
    email: Optional[Email] = None


class Route53Settings(_Dns01Settings):
    accessKeyID: Optional[pattern("an AWS access key id", r"[A-Z0-9]+", 128)] = None  # type: ignore[valid-type]
    role: Optional[pattern("an IAM role ARN", r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+", 2048)] = None  # type: ignore[valid-type]
    hostedZoneID: Optional[pattern("a Route 53 hosted zone id", r"[A-Z0-9]+", 32)] = None  # type: ignore[valid-type]
    region: Optional[Region] = None


class Rfc2136Settings(_Dns01Settings):
    nameserver: HostPort
    tsigKeyName: Optional[pattern("a TSIG key name", r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9.])?", 253)] = None  # type: ignore[valid-type]
    tsigAlgorithm: Optional[Literal["HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"]] = None
    protocol: Optional[Literal["TCP", "UDP"]] = None


class DigitalOceanSettings(_Dns01Settings):
    pass


class AcmeDnsSettings(_Dns01Settings):
    host: HttpsUrl


class CloudDnsSettings(_Dns01Settings):
    project: pattern("a Google Cloud project id", r"[a-z][a-z0-9-]{4,28}[a-z0-9]", 30)  # type: ignore[valid-type]
    hostedZoneName: Optional[pattern("a Cloud DNS zone name", r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", 63)] = None  # type: ignore[valid-type]


def _dns01(provider: str, settings: type[_Dns01Settings], required: bool = False) -> type[Model]:
    fields: dict[str, Any] = {
        "provider": (Literal[provider], ...),  # type: ignore[valid-type]
        # Non-secret fields of the provider's solver (the secret one is set from coprs:acmeDnsCredentials).
        "settings": (settings, ...) if required else (settings, settings()),
    }
    return create_model(f"Dns01{provider[0].upper()}{provider[1:]}", __base__=Model, **fields)


DNS01_PROVIDERS = {
    "cloudflare": _dns01("cloudflare", CloudflareSettings),
    "route53": _dns01("route53", Route53Settings),
    "rfc2136": _dns01("rfc2136", Rfc2136Settings, required=True),
    "digitalocean": _dns01("digitalocean", DigitalOceanSettings),
    "acmeDNS": _dns01("acmeDNS", AcmeDnsSettings, required=True),
    "cloudDNS": _dns01("cloudDNS", CloudDnsSettings, required=True),
}
Dns01Config = Annotated[Union[tuple(DNS01_PROVIDERS.values())], Field(discriminator="provider")]  # type: ignore[valid-type]


def dns01_solver(dns01: Any, secret_ref: dict[str, str]) -> dict[str, Any]:
    """The cert-manager solver of a DNS01 config: its settings plus the credentials Secret reference."""
    return {**dns01.settings.model_dump(exclude_none=True), DNS01_SECRET_FIELDS[dns01.provider]: secret_ref}


class CertificateIssuerConfig(Model):
    """Issuer of the public wildcard certificate: ACME with a DNS01 solver, or the platform's internal CA."""

    type: Literal["acme", "ca"] = "ca"
    server: HttpsUrl = "https://acme-v02.api.letsencrypt.org/directory"
    email: Optional[Email] = None
    dns01: Optional[Dns01Config] = None


class QuotaConfig(Model):
    """Overrides of a namespace's ResourceQuota (unset keys keep the namespace's default)."""

    requests_cpu: Optional[Quantity] = None
    requests_memory: Optional[Quantity] = None
    limits_memory: Optional[Quantity] = None
    requests_storage: Optional[Quantity] = None
    pods: Optional[int] = Field(default=None, ge=1, le=100000)
    persistent_volume_claims: Optional[int] = Field(default=None, ge=0, le=10000)


class ContainerLimitsConfig(Model):
    """Overrides of a namespace's LimitRange defaults for containers that set no resources.

    No default CPU limit: a default limit below a chart's own request would make its pods invalid.
    """

    default_request_cpu: Optional[Quantity] = None
    default_request_memory: Optional[Quantity] = None
    default_memory: Optional[Quantity] = None


class NamespaceConfig(Model):
    quota: QuotaConfig = QuotaConfig()
    limits: ContainerLimitsConfig = ContainerLimitsConfig()


class PlatformConfig(Model):
    enabled: bool = True
    apps: dict[str, AppConfig] = {}
    issuer: CertificateIssuerConfig = CertificateIssuerConfig()
    namespaces: dict[str, NamespaceConfig] = {}
    # Platform services are pinned (required node affinity) to nodes carrying this label.
    infra_node_label: LabelKey = "node-role.kubernetes.io/infra"
    # Where the API server, kubelets and NodePort traffic come from (webhooks, gateway). Default: the node
    # network plus the pod CIDR (Calico VXLAN tunnel addresses); in existing mode the private ranges.
    cluster_host_cidrs: list[Ipv4Network] = Field(default=[], max_length=64)
    # Kubespray's nodelocaldns address (DNS egress is allowed to it and to CoreDNS).
    node_local_dns: Optional[Ipv4Address] = "169.254.25.10"

    def app(self, name: str) -> AppConfig:
        return self.apps.get(name, AppConfig())


# ---------------------------------------------------------------------------------------------
# prices (read only by `make plan` / `make diff`: the monthly estimate of the capacity figures)


Currency = pattern("a currency code like EUR", r"[A-Z]{3}", 3, 3)
# a volume type, or `default` for volumes that name none
VolumeType = OpenStackName


class PricesConfig(Model):
    currency: Currency = "EUR"  # type: ignore[valid-type]
    hours_per_month: float = Field(default=730, gt=0, le=744)
    flavors_per_hour: dict[OpenStackName, float] = {}  # type: ignore[valid-type]
    volume_gb_per_month: dict[VolumeType, float] = {}  # type: ignore[valid-type]
    floating_ip_per_month: float = Field(default=0, ge=0)
    load_balancer_per_month: float = Field(default=0, ge=0)

    @field_validator("flavors_per_hour", "volume_gb_per_month")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if x < 0]
        if bad:
            raise ValueError(f"prices must be 0 or more (check {', '.join(bad)})")
        return v


# ---------------------------------------------------------------------------------------------
# the whole stack


class StackConfig(Model):
    environment: Literal["dev", "prod"]
    domain: DnsName
    network: Optional[NetworkConfig] = None
    node_groups: dict[str, NodeGroupConfig] = {}
    cluster: ClusterConfig = ClusterConfig()
    object_storage: Optional[ObjectStorageConfig] = None
    platform: PlatformConfig = PlatformConfig()
    prices: Optional[PricesConfig] = None

    @property
    def provisions_cloud(self) -> bool:
        return self.cluster.mode == "provision"


def oidc_issuer(cfg: StackConfig) -> str:
    """The OIDC issuer of the API server and the gateway alike: the platform's Keycloak realm,
    https://iam.<domain>/realms/<realm>, unless the config names another issuer (no trailing `/`)."""
    oidc = cfg.cluster.oidc
    return (oidc.issuer_url or f"https://iam.{cfg.domain}/realms/{oidc.realm}").rstrip("/")


SECTIONS = {
    "environment": "environment",
    "domain": "domain",
    "network": "network",
    "nodeGroups": "node_groups",
    "cluster": "cluster",
    "objectStorage": "object_storage",
    "platform": "platform",
    "prices": "prices",
}
# Sections that are plain strings: the engine passes them as they are written, not as JSON.
PLAIN_SECTIONS = ("environment", "domain")


def _fmt_value(v: Any) -> str:
    text = json.dumps(v, default=str) if not isinstance(v, str) else ascii(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _key(loc: tuple) -> str:
    parts = []
    for i, p in enumerate(loc):
        if isinstance(p, str) and (p.startswith("function-") or p == "[key]"):
            continue
        if i and loc[i - 1] == "dns01" and p in DNS01_PROVIDERS:
            continue  # the tag of the discriminated union: the provider is already in the config
        parts.append(p)
    return f"{NAMESPACE}:" + config_input.key_path(parts)


def _pydantic_problems(err: ValidationError, prefix: tuple = ()) -> list[str]:
    problems = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        loc = (*prefix, *e["loc"])
        if e["type"] == "missing":
            problems.append(f"{_key(loc)} is required")
        elif e["type"] == "extra_forbidden":
            problems.append(f"{_key(loc)} is not a known key (check its spelling)")
        elif e["type"] == "union_tag_not_found":
            problems.append(f"{_key((*loc, 'provider'))} is required")
        elif e["type"] == "union_tag_invalid":
            problems.append(f"{_key((*loc, 'provider'))} = {_fmt_value(e['ctx']['tag'])}: must be one of "
                            f"{e['ctx']['expected_tags']}")
        else:
            problems.append(f"{_key(loc)} = {_fmt_value(e.get('input'))}: {msg}")
    return problems


def _overlaps(a: str, b: str) -> bool:
    return ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))


def _kubespray_rules(c: ClusterConfig) -> list[str]:
    """The Kubespray release must be one the program pins, and support the Kubernetes version."""
    if c.mode == "existing":
        return []
    ns = NAMESPACE
    release = KUBESPRAY_RELEASES.get(c.kubespray.version)
    if release is None:
        return [
            f"{ns}:cluster.kubespray.version = {c.kubespray.version!r}: not a Kubespray release this program pins; "
            "known: " + ", ".join(KUBESPRAY_RELEASES)
        ]
    major_minor, _, patch = c.kubernetes_version.rpartition(".")
    newest = release["supported"].get(major_minor)
    if newest is None or int(patch) > newest:
        ranges = ", ".join(f"{m}.0-{m}.{n}" for m, n in release["supported"].items())
        return [
            f"{ns}:cluster.kubernetesVersion = {c.kubernetes_version!r}: Kubespray {c.kubespray.version} "
            f"supports {ranges} (default {release['kubernetes']})"
        ]
    return []


def node_name(cluster: str, group: str, index: int) -> str:
    """Host (and instance) name of a group's node: `<cluster>-<group with - for _>-<index + 1>`."""
    return f"{cluster}-{group.replace('_', '-')}-{index + 1}"


def _platform_rules(cfg: StackConfig) -> list[str]:
    """Closed key sets below the platform: namespaces are the platform's, app resources have one shape."""
    from .platform.namespace import NAMESPACES  # the platform layer imports this module

    p: list[str] = []
    known = [n.name for n in NAMESPACES]
    for name in cfg.platform.namespaces:
        if name not in known:
            p.append(f"{NAMESPACE}:platform.namespaces.{config_input.show(name)} is not a namespace of the "
                     f"platform{_did_you_mean(name, known)}; known: {', '.join(known)}")
    for app, app_cfg in cfg.platform.apps.items():
        try:
            RESOURCES.validate_python(app_cfg.settings.get("resources", {}))
        except ValidationError as err:
            p += _pydantic_problems(err, ("platform", "apps", app, "settings", "resources"))
    return p


def _capacity_rules(cfg: StackConfig, net: NetworkConfig) -> list[str]:
    """The node network holds every node (at the groups' largest size); each node gets a pod block."""
    p: list[str] = []
    nodes = sum(g.max_nodes for g in cfg.node_groups.values())
    network = ipaddress.ip_network(net.cidr)
    room = network.num_addresses - RESERVED_ADDRESSES
    if nodes > room:
        fits = next(b for b in range(network.prefixlen, 0, -1) if 2 ** (32 - b) - RESERVED_ADDRESSES >= nodes)
        p.append(
            f"{NAMESPACE}:network.cidr = {net.cidr!r}: room for {max(room, 0)} nodes ({RESERVED_ADDRESSES} addresses "
            f"are the network's, the gateway's, DHCP's and the load balancers'), but the node groups reach {nodes} "
            f"(counts and autoscaling maxCount); use /{fits} or larger"
        )
    pods = ipaddress.ip_network(cfg.cluster.pod_cidr)
    blocks = 2 ** (NODE_PREFIX - pods.prefixlen)
    k8s_nodes = sum(g.max_nodes for name, g in cfg.node_groups.items() if node_role(name) != "bastion")
    if k8s_nodes > blocks:
        fits = next(b for b in range(pods.prefixlen, 0, -1) if 2 ** (NODE_PREFIX - b) >= k8s_nodes)
        p.append(
            f"{NAMESPACE}:cluster.podCidr = {cfg.cluster.pod_cidr!r}: {blocks} pod blocks of /{NODE_PREFIX} "
            f"(Kubespray's kube_network_node_prefix), but the cluster reaches {k8s_nodes} nodes; use /{fits} or larger"
        )
    return p


def _did_you_mean(word: str, known: list[str]) -> str:
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]}?)" if close else ""


def _rules(cfg: StackConfig) -> list[str]:
    """Cross-field rules of the 2023 implementation and of the architecture."""
    p: list[str] = []
    ns = NAMESPACE
    c = cfg.cluster
    p += _kubespray_rules(c) + _platform_rules(cfg)
    if len(cfg.domain) > DOMAIN_MAX:
        p.append(
            f"{ns}:domain = {_fmt_value(cfg.domain)}: {len(cfg.domain)} characters; at most {DOMAIN_MAX}, so that "
            "every host name the platform derives (<name>.<domain>) stays within 253"
        )
    if _overlaps(c.pod_cidr, c.service_cidr):
        p.append(f"{ns}:cluster.podCidr = {c.pod_cidr!r}: must not overlap cluster.serviceCidr {c.service_cidr}")
    issuer = cfg.platform.issuer
    if issuer.type == "acme" and (issuer.email is None or issuer.dns01 is None):
        p.append(
            f"{ns}:platform.issuer: an ACME issuer needs email and dns01 {{provider, settings}} "
            "(HTTP01 does not work behind APISIX); or use type: ca"
        )
    if c.mode == "existing":
        return p
    if cfg.network is None:
        p.append(f"{ns}:network is required when cluster.mode is 'provision'")
        return p
    net = cfg.network
    for key, cidr in (("podCidr", c.pod_cidr), ("serviceCidr", c.service_cidr)):
        if _overlaps(net.cidr, cidr):
            p.append(
                f"{ns}:cluster.{key} = {cidr!r}: must not overlap the node network "
                f"(network.cidr {net.cidr})"
            )
    if cfg.environment == "prod":
        for i, a in enumerate(net.admin_cidrs):
            if ipaddress.ip_network(a).prefixlen == 0:
                p.append(
                    f"{ns}:network.adminCidrs[{i}] = {a!r}: the whole Internet is not allowed in prod; "
                    "give the operators' own ranges"
                )
    groups = cfg.node_groups
    for name, g in groups.items():
        key = f"{ns}:nodeGroups.{config_input.show(name)}"
        if not ANSIBLE_GROUP.fullmatch(name) or name in RESERVED_GROUPS:
            p.append(
                f"{key} = {ascii(name)}: a node group name must be a valid Ansible group name "
                "(up to 32 lower-case letters, digits, '_', starting with a letter) and not one of "
                + ", ".join(sorted(RESERVED_GROUPS))
            )
            continue
        if g.autoscaling and node_role(name) != "worker":
            p.append(f"{key}.autoscaling: only worker groups are autoscaled, not the {name} group")
        longest = node_name(c.name, name, g.max_nodes - 1)
        if g.max_nodes and len(longest) > HOST_LABEL_MAX:
            p.append(
                f"{key}: its node names (like {longest}) are {len(longest)} characters; a host name allows "
                f"{HOST_LABEL_MAX}: shorten the group name or cluster.name"
            )
        if g.data_volume and g.autoscaling:
            p.append(f"{key}.autoscaling: groups with data volumes are not autoscaled; remove autoscaling or dataVolume")
        if g.autoscaling and not (g.autoscaling.min_count <= g.count <= g.autoscaling.max_count):
            p.append(
                f"{key}.count = {g.count}: must lie within autoscaling minCount..maxCount "
                f"({g.autoscaling.min_count}..{g.autoscaling.max_count})"
            )
        if node_role(name) != "worker" and g.data_volume:
            p.append(f"{key}.dataVolume: the {name} group cannot have a data volume")
    cp = groups.get(CONTROL_PLANE)
    if cp is None:
        p.append(f"{ns}:nodeGroups.{CONTROL_PLANE} is required when cluster.mode is 'provision'")
    else:
        if cp.count not in (1, 3, 5, 7):
            p.append(
                f"{ns}:nodeGroups.{CONTROL_PLANE}.count = {cp.count}: the control plane (and etcd) "
                "needs an odd count: 1, 3, 5 or 7"
            )
        if cp.server_group_policy not in ("anti-affinity", "soft-anti-affinity"):
            p.append(
                f"{ns}:nodeGroups.{CONTROL_PLANE}.serverGroupPolicy = {cp.server_group_policy!r}: "
                "the control plane must be spread: anti-affinity or soft-anti-affinity"
            )
        if cp.floating_ip:
            p.append(f"{ns}:nodeGroups.{CONTROL_PLANE}.floatingIp = true: only bastions and egress nodes get floating IPs")
    if cfg.environment == "prod" and cp is not None and cp.count < 3:
        p.append(f"{ns}:nodeGroups.{CONTROL_PLANE}.count = {cp.count}: prod needs 3 or more (HA)")
    bastion = groups.get(BASTION)
    if bastion is None or bastion.count < 1:
        p.append(f"{ns}:nodeGroups.{BASTION}.count: at least one bastion is required to reach the private network")
    for name, g in groups.items():
        if g.floating_ip and name not in (BASTION, "egress"):
            p.append(
                f"{ns}:nodeGroups.{name}.floatingIp = true: only the bastion and egress groups get floating IPs"
            )
    ceph_enabled = cfg.platform.app("rook-ceph").enabled and cfg.platform.enabled
    rook = groups.get("rook_ceph")
    if ceph_enabled:
        if rook is None or rook.count < 3:
            p.append(
                f"{ns}:nodeGroups.rook_ceph.count = {rook.count if rook else 0}: Ceph needs at least 3 "
                "rook_ceph nodes (or disable platform.apps.rook-ceph)"
            )
        elif rook.data_volume is None:
            p.append(f"{ns}:nodeGroups.rook_ceph.dataVolume is required: Ceph OSDs need a raw data volume per node")
    p += _capacity_rules(cfg, net)
    label = cfg.platform.infra_node_label
    if cfg.platform.enabled and not any(label in g.labels and g.max_nodes for g in groups.values()):
        p.append(
            f"{ns}:platform.infraNodeLabel = {label!r}: no node group carries this label, so no node could run "
            "the platform services; add it to a group's labels"
        )
    ingress = groups.get(net.ingress_node_group)
    if ingress is None or ingress.count < 1 or node_role(net.ingress_node_group) != "worker":
        p.append(
            f"{ns}:network.ingressNodeGroup = {net.ingress_node_group!r}: must name a worker node group "
            "with at least one node (the ingress load balancer's members)"
        )
    return p


def parse_config_map(config: Mapping[str, Any]) -> StackConfig:
    """THE loader: validate a whole stack config map (`namespace:key` → value) as the engine passes it
    (strings, objects as JSON) or decoded. Every `coprs:` key is read; unknown keys and namespaces are
    refused. Used by `pulumi up` (`load_stack_config`) and the offline harness alike. Raises ConfigError."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for key in sorted(config, key=str):
        ns, colon, name = key.partition(":") if isinstance(key, str) else ("", "", "")
        shown = config_input.show(key)
        if not colon or not ns or not name:
            problems.append(f"{shown} is not a config key of the form namespace:key (e.g. {NAMESPACE}:domain)")
        elif ns not in KNOWN_NAMESPACES:
            problems.append(
                f"{shown}: unknown config namespace {config_input.show(ns)}{_did_you_mean(ns, list(KNOWN_NAMESPACES))}; "
                f"known: {', '.join(KNOWN_NAMESPACES)}"
            )
        elif ns != NAMESPACE or key in SECRET_KEYS:
            continue
        elif name not in SECTIONS:
            problems.append(f"{shown} is not a known key{_did_you_mean(name, list(SECTIONS))}; allowed: "
                            + ", ".join([*SECTIONS, *(k.partition(':')[2] for k in SECRET_KEYS if k.startswith(NAMESPACE))]))
        else:
            value, bad = config_input.decode(key, config[key], plain=name in PLAIN_SECTIONS)
            problems += bad
            sections[name] = value
    if problems:
        raise ConfigError(problems)
    try:
        cfg = StackConfig.model_validate(sections)
    except ValidationError as err:
        raise ConfigError(_pydantic_problems(err)) from None
    problems = _rules(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def runtime_config() -> dict[str, Any]:
    """Every config value the engine passes the program (`pulumi.runtime`), secrets decrypted."""
    from pulumi.runtime import config as runtime

    return {**runtime.get_config_env(), **runtime.CONFIG.get()}


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's whole configuration (every `coprs:` key)."""
    return parse_config_map(runtime_config())
