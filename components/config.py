"""Stack configuration: one pydantic model per section of the `coprs` config namespace.

Everything is validated before any resource is declared. A bad value raises `ConfigError`, whose
message names the key path (`coprs:nodeGroups.infra.count`), the value and what is allowed, on one
line. `ConfigError` is a `pulumi.RunError`, so `pulumi up` prints it without a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Literal, Mapping, Optional

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

NAMESPACE = "coprs"

# Secret keys the program reads (set with `pulumi config set --secret`). The offline harness fakes
# the ones a stack file does not hold, and says so.
SECRET_KEYS: dict[str, str] = {
    "openstack:password": "OpenStack password of the deployment account (provider config)",
    "coprs:s3AccessKey": "access key of the S3-compatible object store",
    "coprs:s3SecretKey": "secret key of the S3-compatible object store",
    "coprs:kubeconfig": "kubeconfig of an existing cluster (cluster.mode: existing, without kubeconfigFromStack)",
    "coprs:acmeDnsCredentials": "credentials of the DNS01 solver of the public certificate issuer (ACME only)",
    "coprs:kafkaExternalCredentials": "JSON user → {username, password} of a managed Kafka (platform.apps.kafka.settings.external only)",
}

ANSIBLE_GROUP = re.compile(r"^[a-z][a-z0-9_]*$")
DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
TAINT = re.compile(r"^[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
KUBESPRAY_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
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

BASTION = "bastion"
CONTROL_PLANE = "kube_control_plane"


class ConfigError(pulumi.RunError):
    """One clear message about a bad stack configuration."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration: " + "; ".join(problems))


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


# ---------------------------------------------------------------------------------------------
# network


class NetworkConfig(Model):
    cidr: str = "192.168.0.0/16"
    external_network: str = Field(min_length=1)
    dns_nameservers: list[str] = ["1.1.1.1", "1.0.0.1"]
    admin_cidrs: list[str] = Field(min_length=1)
    availability_zones: list[str] = []
    ingress_floating_ip: bool = True
    ingress_node_group: str = "infra"

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        net = ipaddress.ip_network(v, strict=True)
        if net.version != 4 or net.prefixlen > 28:
            raise ValueError("must be an IPv4 network of /28 or larger, e.g. 192.168.0.0/16")
        return v

    @field_validator("admin_cidrs")
    @classmethod
    def _admin(cls, v: list[str]) -> list[str]:
        for c in v:
            ipaddress.ip_network(c, strict=True)
        return v

    @field_validator("dns_nameservers")
    @classmethod
    def _dns(cls, v: list[str]) -> list[str]:
        for a in v:
            ipaddress.ip_address(a)
        return v


# ---------------------------------------------------------------------------------------------
# node groups


class DataVolumeConfig(Model):
    size_gb: int = Field(gt=0, le=16384)
    type: str = Field(default="SSD", min_length=1)


class AutoscalingConfig(Model):
    min_count: int = Field(ge=0)
    max_count: int = Field(ge=1)


ServerGroupPolicy = Literal["anti-affinity", "soft-anti-affinity", "affinity", "soft-affinity"]


class NodeGroupConfig(Model):
    count: int = Field(ge=0, le=1000)
    flavor: str = Field(min_length=1)
    image: str = Field(min_length=1)
    root_volume_gb: int = Field(default=40, ge=10, le=4096)
    root_volume_type: Optional[str] = None
    data_volume: Optional[DataVolumeConfig] = None
    labels: dict[str, str] = {}
    taints: list[str] = []
    server_group_policy: ServerGroupPolicy = "soft-anti-affinity"
    floating_ip: bool = False
    autoscaling: Optional[AutoscalingConfig] = None

    @field_validator("flavor", "image")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @field_validator("taints")
    @classmethod
    def _taints(cls, v: list[str]) -> list[str]:
        for t in v:
            if not TAINT.match(t):
                raise ValueError(f"taint {t!r} must look like key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
        return v


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
    version: str = "v2.31.0"
    repository: str = "https://github.com/kubernetes-sigs/kubespray"
    cache_dir: str = "~/.cache/coprs/kubespray"
    ansible_forks: int = Field(default=20, ge=1, le=500)

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not KUBESPRAY_VERSION.match(v):
            raise ValueError("must be a Kubespray release tag like v2.31.0")
        return v


class OidcConfig(Model):
    enabled: bool = True
    client_id: str = "kubernetes"
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    username_prefix: str = "oidc:"
    groups_prefix: str = "oidc:"
    # Defaults to the Keycloak realm of the platform: https://iam.<domain>/realms/<realm>
    issuer_url: Optional[str] = None
    realm: str = "coprs"


class ApiLoadBalancerConfig(Model):
    enabled: bool = True
    public: bool = False


class ClusterConfig(Model):
    mode: Literal["provision", "existing"] = "provision"
    name: str = Field(default="coprs", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    kubespray: KubesprayConfig = KubesprayConfig()
    kubernetes_version: str = "1.35.4"
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    ssh_user: str = "ubuntu"
    oidc: OidcConfig = OidcConfig()
    api_load_balancer: ApiLoadBalancerConfig = ApiLoadBalancerConfig()
    audit_log_max_age_days: int = Field(default=30, ge=1, le=3650)
    kubeconfig_from_stack: Optional[str] = Field(default=None, pattern=r"^[^/\s]+/[^/\s]+/[^/\s]+$")

    @field_validator("kubernetes_version")
    @classmethod
    def _k8s(cls, v: str) -> str:
        if not SEMVER.match(v):
            raise ValueError("must be a Kubernetes version like 1.35.4 (no leading v)")
        return v

    @field_validator("pod_cidr", "service_cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        ipaddress.ip_network(v, strict=True)
        return v


# ---------------------------------------------------------------------------------------------
# object storage


# The platform's buckets, by suffix: `<bucketPrefix>-<suffix>` (architecture §6).
BUCKETS = ("thanos", "loki", "es-processing", "es-security", "backups")


class ObjectStorageConfig(Model):
    endpoint: str = Field(pattern=r"^https?://[^\s/]+(/.*)?$")
    region: str = "eu-west-0"
    bucket_prefix: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    # Buckets (by suffix, e.g. "loki") that `pulumi destroy` may empty and delete.
    force_destroy: list[str] = []
    addressing_style: Literal["path", "virtual"] = "path"
    verify_tls: bool = True

    @field_validator("force_destroy")
    @classmethod
    def _known_buckets(cls, v: list[str]) -> list[str]:
        unknown = [b for b in v if b not in BUCKETS]
        if unknown:
            raise ValueError(f"unknown bucket {', '.join(unknown)}; allowed: {', '.join(BUCKETS)}")
        return v


# ---------------------------------------------------------------------------------------------
# platform


class AppConfig(Model):
    """Per-app overrides; apps read the keys they know from `settings`."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )
    enabled: bool = True
    replicas: Optional[int] = Field(default=None, ge=0, le=100)
    storage_gb: Optional[int] = Field(default=None, ge=1, le=65536)
    settings: dict[str, Any] = {}


QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$")
# cert-manager's built-in DNS01 solvers and the field of each that takes coprs:acmeDnsCredentials.
DNS01_SECRET_FIELDS: dict[str, str] = {
    "cloudflare": "apiTokenSecretRef",
    "route53": "secretAccessKeySecretRef",
    "rfc2136": "tsigSecretSecretRef",
    "digitalocean": "tokenSecretRef",
    "acmeDNS": "accountSecretRef",
    "cloudDNS": "serviceAccountSecretRef",
}


class Dns01Config(Model):
    provider: Literal["cloudflare", "route53", "rfc2136", "digitalocean", "acmeDNS", "cloudDNS"]
    # Non-secret fields of the provider's solver, verbatim (e.g. route53 region/accessKeyID, rfc2136 nameserver).
    settings: dict[str, Any] = {}


class CertificateIssuerConfig(Model):
    """Issuer of the public wildcard certificate: ACME with a DNS01 solver, or the platform's internal CA."""

    type: Literal["acme", "ca"] = "ca"
    server: str = Field(default="https://acme-v02.api.letsencrypt.org/directory", pattern=r"^https://\S+$")
    email: Optional[str] = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    dns01: Optional[Dns01Config] = None


class QuotaConfig(Model):
    """Overrides of a namespace's ResourceQuota (unset keys keep the namespace's default)."""

    requests_cpu: Optional[str] = Field(default=None, pattern=QUANTITY.pattern)
    requests_memory: Optional[str] = Field(default=None, pattern=QUANTITY.pattern)
    limits_memory: Optional[str] = Field(default=None, pattern=QUANTITY.pattern)
    requests_storage: Optional[str] = Field(default=None, pattern=QUANTITY.pattern)
    pods: Optional[int] = Field(default=None, ge=1, le=100000)
    persistent_volume_claims: Optional[int] = Field(default=None, ge=0, le=10000)


class ContainerLimitsConfig(Model):
    """Overrides of a namespace's LimitRange defaults for containers that set no resources.

    No default CPU limit: a default limit below a chart's own request would make its pods invalid.
    """

    default_request_cpu: Optional[str] = Field(default=None, pattern=QUANTITY.pattern)
    default_request_memory: Optional[str] = Field(default=None, pattern=QUANTITY.pattern)
    default_memory: Optional[str] = Field(default=None, pattern=QUANTITY.pattern)


class NamespaceConfig(Model):
    quota: QuotaConfig = QuotaConfig()
    limits: ContainerLimitsConfig = ContainerLimitsConfig()


class PlatformConfig(Model):
    enabled: bool = True
    apps: dict[str, AppConfig] = {}
    issuer: CertificateIssuerConfig = CertificateIssuerConfig()
    namespaces: dict[str, NamespaceConfig] = {}
    # Platform services are pinned (required node affinity) to nodes carrying this label.
    infra_node_label: str = Field(default="node-role.kubernetes.io/infra", pattern=r"^[A-Za-z0-9./_-]+$")
    # Where the API server, kubelets and NodePort traffic come from (webhooks, gateway). Default: the node
    # network plus the pod CIDR (Calico VXLAN tunnel addresses); in existing mode the private ranges.
    cluster_host_cidrs: list[str] = []
    # Kubespray's nodelocaldns address (DNS egress is allowed to it and to CoreDNS).
    node_local_dns: Optional[str] = "169.254.25.10"

    @field_validator("cluster_host_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for c in v:
            ipaddress.ip_network(c, strict=True)
        return v

    @field_validator("node_local_dns")
    @classmethod
    def _dns_ip(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            ipaddress.ip_address(v)
        return v

    def app(self, name: str) -> AppConfig:
        return self.apps.get(name, AppConfig())


# ---------------------------------------------------------------------------------------------
# the whole stack


class StackConfig(Model):
    environment: Literal["dev", "prod"]
    domain: str
    network: Optional[NetworkConfig] = None
    node_groups: dict[str, NodeGroupConfig] = {}
    cluster: ClusterConfig = ClusterConfig()
    object_storage: Optional[ObjectStorageConfig] = None
    platform: PlatformConfig = PlatformConfig()

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        if not DNS_NAME.match(v):
            raise ValueError("must be a lower-case DNS domain like coprs.example.org")
        return v

    @property
    def provisions_cloud(self) -> bool:
        return self.cluster.mode == "provision"


SECTIONS = {
    "environment": "environment",
    "domain": "domain",
    "network": "network",
    "nodeGroups": "node_groups",
    "cluster": "cluster",
    "objectStorage": "object_storage",
    "platform": "platform",
}


def _fmt_value(v: Any) -> str:
    text = json.dumps(v, default=str) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _key(loc: tuple) -> str:
    parts = [str(p) for p in loc if not str(p).startswith("function-")]
    return f"{NAMESPACE}:" + ".".join(parts)


def _pydantic_problems(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            problems.append(f"{_key(e['loc'])} is required")
        elif e["type"] == "extra_forbidden":
            problems.append(f"{_key(e['loc'])} is not a known key (check its spelling)")
        else:
            problems.append(f"{_key(e['loc'])} = {_fmt_value(e.get('input'))}: {msg}")
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


def _rules(cfg: StackConfig) -> list[str]:
    """Cross-field rules of the 2023 implementation and of the architecture."""
    p: list[str] = []
    ns = NAMESPACE
    c = cfg.cluster
    p += _kubespray_rules(c)
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
        key = f"{ns}:nodeGroups.{name}"
        if not ANSIBLE_GROUP.match(name) or name in RESERVED_GROUPS:
            p.append(
                f"{key} = {name!r}: a node group name must be a valid Ansible group name "
                "(lower-case letters, digits, '_', starting with a letter) and not one of "
                + ", ".join(sorted(RESERVED_GROUPS))
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
    ingress = groups.get(net.ingress_node_group)
    if ingress is None or ingress.count < 1 or node_role(net.ingress_node_group) != "worker":
        p.append(
            f"{ns}:network.ingressNodeGroup = {net.ingress_node_group!r}: must name a worker node group "
            "with at least one node (the ingress load balancer's members)"
        )
    return p


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate the `coprs:*` section values (already JSON-decoded). Raises ConfigError."""
    unknown = sorted(k for k in raw if k not in SECTIONS and f"{NAMESPACE}:{k}" not in SECRET_KEYS)
    if unknown:
        raise ConfigError(
            [f"{NAMESPACE}:{k} is not a known key; allowed: " + ", ".join(SECTIONS) for k in unknown]
        )
    data = {k: v for k, v in raw.items() if k in SECTIONS}
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_pydantic_problems(err)) from None
    problems = _rules(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's `coprs` configuration."""
    conf = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for key in SECTIONS:
        text = conf.get(key)
        if text is None:
            continue
        try:
            raw[key] = json.loads(text) if key not in ("environment", "domain") else text
        except json.JSONDecodeError:
            raise ConfigError([f"{NAMESPACE}:{key} must be an object (set it with `pulumi config set --path`)"]) from None
    return parse_stack_config(raw)
