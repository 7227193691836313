"""OpenStack rules (OS-01..OS-34): provider, security groups, instances, network, storage, load balancers.

Checkov's five CKV_OPENSTACK checks and Trivy's five AVD-OPNSTK checks are all here, plus the COPRS
minimal-exposure model (security-rules-reference §1.6 A and §3.6). The few rules that need to join
resources (server groups, floating IPs, load balancer pools) are stack rules in this same domain.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from . import credentials as cred
from .base import (
    Cfg, Res, ResourceRule, StackRule, Violation, as_list, elements, falsy, flag, get, has, is_map, items, meta,
    number, opt, strings, truthy, urn_name,
)
from .netsec import never_public_hits, network, public_range, sg_rule, within

PROVIDER = "pulumi:providers:openstack"
SG = "openstack:networking/secGroup:SecGroup"
SGR = "openstack:networking/secGroupRule:SecGroupRule"
INSTANCE = "openstack:compute/instance:Instance"
SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
KEYPAIR = "openstack:compute/keypair:Keypair"
FW_RULE = "openstack:firewall/ruleV2:RuleV2"
NETWORK = "openstack:networking/network:Network"
PORT = "openstack:networking/port:Port"
SUBNET = "openstack:networking/subnet:Subnet"
ROUTER = "openstack:networking/router:Router"
FIP = "openstack:networking/floatingIp:FloatingIp"
FIP_ASSOC = "openstack:networking/floatingIpAssociate:FloatingIpAssociate"
VOLUME = "openstack:blockstorage/volume:Volume"
CONTAINER = "openstack:objectstorage/container:Container"
IMAGE = "openstack:images/image:Image"
LB = "openstack:loadbalancer/loadBalancer:LoadBalancer"
LISTENER = "openstack:loadbalancer/listener:Listener"
POOL = "openstack:loadbalancer/pool:Pool"
MONITOR = "openstack:loadbalancer/monitor:Monitor"
MEMBER = "openstack:loadbalancer/member:Member"
DYNAMIC_PREFIX = "pulumi-python:dynamic"  # `pulumi-python:dynamic:Resource` or `pulumi-python:dynamic/<module>:<Name>`

ADMIN_CIDRS = strings("CIDRs of the administrators (SSH to the bastions, Kubernetes API)")
INTERNAL_CIDRS = strings("internal CIDRs allowed to reach the API (node subnet, load balancer VIP subnet)")
RULES: list = []


def rule(m, types, check, **kw) -> None:
    RULES.append(ResourceRule(m, "openstack", types, check, **kw))


def stack_rule(m, check, subjects=()) -> None:
    RULES.append(StackRule(m, "openstack", check, subjects=subjects))


# ---------------------------------------------------------------------------------------------
# buckets: the storage layer's S3 buckets are dynamic resources; recognise them by their props


def is_bucket(res: Res) -> bool:
    if not res.type.startswith("pulumi-python:dynamic"):
        return False
    return res.type.endswith(":Bucket") or any(has(res.props, k) for k in ("bucket", "bucketName"))


def bucket_name(res: Res) -> str:
    return str(opt(res.props, "bucket") or opt(res.props, "bucketName") or opt(res.props, "name") or res.name)


# ---------------------------------------------------------------------------------------------
# OS-01, OS-02: provider


def _os01(res: Res, cfg: Cfg) -> Iterator[str]:
    for key in ("password", "token", "applicationCredentialSecret"):
        if has(res.props, key):
            yield (f"the OpenStack provider is given `{key}` inline; use a clouds.yaml `cloud` entry or OS_* "
                   "environment variables (a policy cannot tell a Pulumi secret from a literal)")


rule(meta("OS-01", "medium", "OpenStack provider credentials are not set inline",
          ["CKV_OPENSTACK_1"], "Remove password/token/applicationCredentialSecret from the provider; set `cloud` "
          "(clouds.yaml) or export OS_PASSWORD / OS_APPLICATION_CREDENTIAL_SECRET in the deployment environment."),
     [PROVIDER], _os01)


def _os02(res: Res, cfg: Cfg) -> Iterator[str]:
    if res.type.startswith(DYNAMIC_PREFIX):
        if not is_bucket(res):
            return
        url = get(res.props, "endpoint")
        if falsy(get(res.props, "verifyTls")):
            yield f"bucket {bucket_name(res)} talks to the object store without verifying its certificate"
    else:
        if truthy(get(res.props, "insecure")):
            yield "the OpenStack provider disables TLS verification (`insecure: true`)"
        url = get(res.props, "authUrl")
    if isinstance(url, str) and url and not url.lower().startswith("https://"):
        yield f"the endpoint {url} is not https"


rule(meta("OS-02", "high", "OpenStack and object-store APIs are reached over verified TLS", ["NSA:encrypt-in-transit"],
          "Use https endpoints with verification on (give `cacertFile` for a private CA; keep the bucket's `verifyTls`)."),
     [PROVIDER], _os02, applies=lambda t: t.startswith(DYNAMIC_PREFIX))


# ---------------------------------------------------------------------------------------------
# OS-03 .. OS-15: security groups


def group_name(rule_res: Res) -> str:
    """Name of the security group a rule belongs to (its parent, when the rule is declared under it)."""
    if rule_res.parent_urn and "networking/secGroup:SecGroup::" in rule_res.parent_urn:
        return urn_name(rule_res.parent_urn)
    return ""


def _world_port(port: int):
    def check(res: Res, cfg: Cfg) -> Iterator[str]:
        r = sg_rule(res.props)
        if r.direction == "ingress" and r.world and r.covers("tcp", port, port):
            yield f"security group rule opens port {port} to the world: {r.describe()}"
    return check


rule(meta("OS-03", "critical", "No SSH (22) ingress from the world, including no-protocol, no-source and 0/0-port rules",
          ["CKV_OPENSTACK_2", "AVD-OPNSTK-0003", "NSA:network-separation"],
          "Restrict the rule to tcp/22 from `remoteGroupId` = the bastion group (nodes) or the admin CIDRs (bastions)."),
     [SGR], _world_port(22))
rule(meta("OS-04", "high", "No RDP (3389) ingress from the world", ["CKV_OPENSTACK_3"],
          "Remove the rule or restrict its source to the admin CIDRs."), [SGR], _world_port(3389))


def _os05(res: Res, cfg: Cfg) -> Iterator[str]:
    if has(res.props, "adminPass"):
        yield "the instance sets an admin password (`adminPass`); log in with a key pair only"


rule(meta("OS-05", "high", "Instances have no admin password", ["CKV_OPENSTACK_4", "AVD-OPNSTK-0001"],
          "Remove `adminPass`; give `keyPair` and disable password login in cloud-init."), [INSTANCE], _os05)


def _os06(res: Res, cfg: Cfg) -> Iterator[str]:
    if falsy(opt(res.props, "enabled", True)) or str(get(res.props, "action") or "").lower() != "allow":
        return
    dst, src = get(res.props, "destinationIpAddress"), get(res.props, "sourceIpAddress")
    if not dst or str(dst) in ("0.0.0.0/0", "0.0.0.0", "::/0"):
        yield "firewall rule allows traffic to any destination"
    if not src or public_range(str(src)):
        yield "firewall rule allows traffic from any or a public source"


rule(meta("OS-06", "medium", "FWaaS allow rules name their source and destination", ["CKV_OPENSTACK_5", "AVD-OPNSTK-0002"],
          "Set `destinationIpAddress` and `sourceIpAddress` to the narrowest CIDRs."), [FW_RULE], _os06)


def _os07(res: Res, cfg: Cfg) -> Iterator[str]:
    r = sg_rule(res.props)
    if r.direction != "ingress" or not r.prefix or not public_range(r.prefix):
        return
    if within(r.prefix, cfg["adminCidrs"]):
        return
    for allowed in cfg["worldIngress"]:
        if re.search(allowed.get("group") or "$^", group_name(res)) and r.protocol in ("tcp", "udp") and r.low == r.high \
                and r.low in allowed.get("ports", []):
            return
    yield f"ingress from the public range {r.prefix}: {r.describe()}"


rule(meta("OS-07", "high", "No ingress from public CIDRs except admin CIDRs and allow-listed world ports",
          ["AVD-OPNSTK-0003", "NSA:network-separation"],
          "Restrict the source to the admin CIDRs or a security group; for a public service put it behind the "
          "ingress load balancer and allow-list it in `worldIngress`.",
          {"adminCidrs": ADMIN_CIDRS,
           "worldIngress": {"type": "array", "default": [], "description": "security groups (name regex) allowed single public ports",
                            "items": {"type": "object", "properties": {"group": {"type": "string"},
                                                                       "ports": {"type": "array", "items": {"type": "integer"}}}}}}),
     [SGR], _os07)


def _os08(res: Res, cfg: Cfg) -> Iterator[str]:
    r = sg_rule(res.props)
    if r.direction == "egress" and r.prefix and r.prefix.strip() in ("0.0.0.0/0", "::/0"):
        if not any(re.search(g, group_name(res)) for g in cfg["allowedGroups"]):
            yield f"egress to the whole Internet ({r.describe()}); only egress/NAT nodes should have it"


rule(meta("OS-08", "low", "World egress only from egress/NAT security groups", ["AVD-OPNSTK-0004"],
          "Limit egress to the registries, mirrors and API endpoints the nodes need, or route it through the egress nodes.",
          {"allowedGroups": strings("name regexes of security groups allowed world egress", ["egress", "gateway", "nat"])}),
     [SGR], _os08)


def _os09(res: Res, cfg: Cfg) -> Iterator[str]:
    if not has(res.props, "description"):
        yield "security group has no description"


rule(meta("OS-09", "low", "Security groups are described", ["AVD-OPNSTK-0005"],
          "Give every security group a `description` saying what it is for."), [SG], _os09)


def _os10(res: Res, cfg: Cfg) -> Iterator[str]:
    if not truthy(get(res.props, "deleteDefaultRules")):
        yield "security group keeps Neutron's default allow-all egress rules (`deleteDefaultRules` is not true)"


rule(meta("OS-10", "medium", "Security groups delete Neutron's default rules", ["Kubespray:contrib/terraform/openstack"],
          "Set `deleteDefaultRules: true` and declare every egress rule explicitly."), [SG], _os10)


def _os11(res: Res, cfg: Cfg) -> Iterator[str]:
    r = sg_rule(res.props)
    if r.direction == "ingress" and r.world:
        hits = [h for h in never_public_hits(r) if not any(h.startswith(a) for a in cfg["allowedServices"])]
        if hits:
            yield f"world ingress covers never-public ports: {', '.join(hits[:6])}{' ...' if len(hits) > 6 else ''}"


rule(meta("OS-11", "critical", "Control-plane, CNI, storage, database and broker ports never face the world",
          ["NSA:control-plane-firewall", "k8s:ports-and-protocols", "CIS-5.3"],
          "Remove the world source; let nodes reach each other through the cluster security group (`remoteGroupId`).",
          {"allowedServices": strings("never-public services (by name) tolerated from the world", [])}),
     [SGR], _os11)


def _os12(res: Res, cfg: Cfg) -> Iterator[str]:
    r = sg_rule(res.props)
    if r.direction != "ingress" or not r.covers("tcp", 22, 22) or r.remote_group or r.remote_address_group:
        return
    if r.prefix and within(r.prefix, cfg["adminCidrs"]):
        return
    yield f"SSH is reachable from outside the bastion group and the admin CIDRs ({r.describe()})"


rule(meta("OS-12", "high", "SSH only from the bastion group or the admin CIDRs", ["NSA:network-separation", "COPRS:bastion"],
          "Allow tcp/22 on nodes only from `remoteGroupId` = bastion, and on bastions only from the admin CIDRs.",
          {"adminCidrs": ADMIN_CIDRS}), [SGR], _os12)


def _os13(res: Res, cfg: Cfg) -> Iterator[str]:
    r = sg_rule(res.props)
    if r.direction != "ingress" or not r.covers("tcp", 6443, 6443) or r.remote_group or r.remote_address_group:
        return
    if r.prefix and within(r.prefix, cfg["adminCidrs"] + cfg["internalCidrs"]):
        return
    yield f"the Kubernetes API (6443) is reachable from outside the admin and internal CIDRs ({r.describe()})"


rule(meta("OS-13", "high", "Kubernetes API (6443) only from admin CIDRs, internal CIDRs or security groups",
          ["NSA:api-server-not-exposed", "CIS-1.2"],
          "Restrict 6443 to the admin CIDRs, the load balancer subnet and the cluster security group.",
          {"adminCidrs": ADMIN_CIDRS, "internalCidrs": INTERNAL_CIDRS}), [SGR], _os13)


def _os14(res: Res, cfg: Cfg) -> Iterator[str]:
    r = sg_rule(res.props)
    if r.direction == "ingress" and r.all_ports and not r.remote_group and not r.remote_address_group:
        yield f"ingress opens every {'protocol' if r.protocol is None else 'port'} to a CIDR source ({r.describe()})"


rule(meta("OS-14", "high", "All-protocol / all-port ingress only from a security group (intra-cluster)", ["COPRS:minimal-exposure"],
          "Name the protocol and ports, or use `remoteGroupId` for node-to-node traffic."), [SGR], _os14)


def _os15(res: Res, cfg: Cfg) -> Iterator[str]:
    r = sg_rule(res.props)
    net = network(r.prefix or "")
    if net is not None and r.ethertype and r.ethertype != f"IPv{net.version}":
        yield f"ethertype {r.ethertype} does not match the IPv{net.version} remote prefix {r.prefix}"


rule(meta("OS-15", "low", "Security group rule ethertype matches its remote prefix", ["COPRS:correctness"],
          "Set `ethertype` to IPv4 for IPv4 prefixes and IPv6 for IPv6 prefixes."), [SGR], _os15)


# ---------------------------------------------------------------------------------------------
# OS-16 .. OS-21: network and instances


def _os16(res: Res, cfg: Cfg) -> Iterator[str]:
    if falsy(get(res.props, "portSecurityEnabled")):
        yield "port security is disabled"
    if res.type == PORT:
        if truthy(get(res.props, "noSecurityGroups")):
            yield "the port has `noSecurityGroups: true`"
        elif not has(res.props, "securityGroupIds") and not falsy(get(res.props, "portSecurityEnabled")):
            yield "the port names no security group (it gets the project's `default` group)"


rule(meta("OS-16", "high", "Ports and networks keep port security and carry explicit security groups", ["COPRS:minimal-exposure"],
          "Keep `portSecurityEnabled` true and give every port its `securityGroupIds`."), [NETWORK, PORT], _os16)


def _os17(res: Res, cfg: Cfg) -> Iterator[str]:
    for pair in elements(get(res.props, "allowedAddressPairs")):
        ip = opt(pair, "ipAddress")
        if not isinstance(ip, str):
            continue
        if ip.strip() in ("0.0.0.0/0", "::/0") or not within(ip, cfg["allowedCidrs"]):
            yield f"allowed address pair {ip} is outside the pod/service CIDRs and declared VIPs"


rule(meta("OS-17", "high", "Allowed address pairs only for pod/service CIDRs and declared VIPs", ["Kubespray:docs/cloud_controllers/openstack.md"],
          "Limit `allowedAddressPairs` to the pod CIDR, the service CIDR and the VIPs you declare.",
          {"allowedCidrs": strings("CIDRs address pairs may cover", ["10.244.0.0/16", "10.96.0.0/12"])}), [PORT], _os17)


def _os18(res: Res, cfg: Cfg) -> Iterator[str]:
    nets = as_list(get(res.props, "networks"))
    if nets and all(has(n, "port") for n in nets):
        return
    groups = [g for g in elements(get(res.props, "securityGroups")) if isinstance(g, str)]
    if not groups or groups == ["default"]:
        yield "the instance attaches networks without pre-created ports and has no security group but `default`"


rule(meta("OS-18", "medium", "Instances without pre-created ports name their security groups", ["COPRS:minimal-exposure"],
          "Pre-create ports with security groups (preferred) or set `securityGroups`."), [INSTANCE], _os18)


def _os19(res: Res, cfg: Cfg) -> Iterator[str]:
    if not has(res.props, "keyPair"):
        yield "the instance has no key pair (password login)"


rule(meta("OS-19", "medium", "Instances boot with a key pair", ["AVD-OPNSTK-0001"],
          "Set `keyPair` to a key generated with pulumi-tls and uploaded as a Keypair."), [INSTANCE], _os19)


def _os20(res: Res, cfg: Cfg) -> Iterator[str]:
    ud = get(res.props, "userData")
    if isinstance(ud, str):
        if cred.PRIVATE_KEY.search(ud):
            yield "user data holds a PEM private key"
        keys = cred.embedded_credentials(ud)
        if keys:
            yield f"user data sets credential keys in clear: {', '.join(sorted(set(keys))[:5])}"
    for key, value in items(get(res.props, "metadata")):
        if isinstance(value, str) and (cred.secret_shaped(value) or (cred.sensitive_key(key) and cred.literal(value))):
            yield f"instance metadata key '{key}' holds {cred.describe(value)}"
    for i, p in enumerate(elements(get(res.props, "personalities"))):
        if cred.secret_shaped(opt(p, "content")):
            yield f"personalities[{i}] injects {cred.describe(opt(p, 'content'))}"


rule(meta("OS-20", "high", "Nothing secret in instance user data, metadata or injected files", ["kubescape:C-0012", "NSA:secrets"],
          "Keep user data and metadata free of keys and passwords (anything on the VM can read the metadata service); "
          "deliver secrets with Ansible over SSH or from a secret store."), [INSTANCE], _os20)


# ---------------------------------------------------------------------------------------------
# OS-22 .. OS-30: addresses, networks, routers, subnets, storage, images


def _os23(res: Res, cfg: Cfg) -> Iterator[str]:
    if truthy(get(res.props, "shared")):
        yield "the tenant network is shared with other projects"
    if truthy(get(res.props, "external")):
        yield "the tenant network is marked external"


rule(meta("OS-23", "medium", "Tenant networks are neither shared nor external", ["COPRS:minimal-exposure"],
          "Remove `shared`/`external`; only the provider's external network carries floating IPs."), [NETWORK], _os23)


def _os24(res: Res, cfg: Cfg) -> Iterator[str]:
    if (has(res.props, "externalNetworkId") or truthy(get(res.props, "enableSnat"))) and \
            not any(re.search(p, res.name) for p in cfg["edgeRouters"]):
        yield "a router other than the designated edge router has an external gateway or SNAT"


rule(meta("OS-24", "low", "Only the edge router reaches the external network", ["COPRS:minimal-exposure"],
          "Route all egress through the one edge router; list it in `edgeRouters`.",
          {"edgeRouters": strings("name regexes of the edge routers", ["router"])}), [ROUTER], _os24)


def _os25(res: Res, cfg: Cfg) -> Iterator[str]:
    cidr = get(res.props, "cidr")
    net = network(cidr) if isinstance(cidr, str) else None
    if net is not None:
        for other in cfg["clusterCidrs"]:
            o = network(other)
            if o is not None and o.version == net.version and net.overlaps(o):
                yield f"subnet {cidr} overlaps the cluster CIDR {other}"
    if falsy(get(res.props, "enableDhcp")):
        yield "DHCP is disabled on the subnet (nodes would need fixed addresses everywhere)"


rule(meta("OS-25", "medium", "Node subnets do not overlap pod/service CIDRs and keep DHCP", ["COPRS:correctness"],
          "Choose a node CIDR outside the pod and service CIDRs; keep `enableDhcp: true`.",
          {"clusterCidrs": strings("pod and service CIDRs", ["10.244.0.0/16", "10.96.0.0/12"])}), [SUBNET], _os25)


def _os26(res: Res, cfg: Cfg) -> Iterator[str]:
    if res.type.startswith(DYNAMIC_PREFIX):
        if is_bucket(res) and falsy(get(res.props, "encryption")):
            yield f"bucket {bucket_name(res)} turns server-side encryption off"
        return
    vt = get(res.props, "volumeType")
    meta_ = get(res.props, "metadata")
    if vt in cfg["encryptedVolumeTypes"] or str(opt(meta_, "__system__encrypted") or "") == "1":
        return
    yield f"volume type {vt or '(default)'} is not an encrypted type and no encryption metadata is set"


rule(meta("OS-26", "medium", "Volumes and buckets are encrypted at rest", ["NSA:encrypt-at-rest"],
          "Use a volume type from `encryptedVolumeTypes` or, on Flexible Engine EVS, metadata "
          "`__system__encrypted: \"1\"` with `__system__cmkid`; keep bucket server-side encryption on.",
          {"encryptedVolumeTypes": strings("volume types encrypted at rest by the cloud")}), [VOLUME], _os26,
     applies=lambda t: t.startswith(DYNAMIC_PREFIX))


def _os27(res: Res, cfg: Cfg) -> Iterator[str]:
    if res.type.startswith(DYNAMIC_PREFIX) and not is_bucket(res):
        return
    if not res.protect:
        yield "data-holding resource is not protected (`protect=True`)"
    if truthy(opt(res.props, "forceDestroy")) and not cfg["allowForceDestroy"]:
        yield "forceDestroy would delete the data with the resource"


rule(meta("OS-27", "medium", "Data volumes and buckets are protected and never force-destroyed",
          ["COPRS:data-protection"], "Declare data volumes and buckets with `protect=True`; drop `forceDestroy` (prod).",
          {"allowForceDestroy": flag("tolerate forceDestroy (dev stacks with disposable buckets)", False)}),
     [VOLUME, CONTAINER], _os27, applies=lambda t: t.startswith(DYNAMIC_PREFIX))


def _os28(res: Res, cfg: Cfg) -> Iterator[str]:
    if res.type == CONTAINER:
        read = str(get(res.props, "containerRead") or "")
        write = str(get(res.props, "containerWrite") or "")
        if ".r:*" in read or ".rlistings" in read:
            yield "the container is publicly readable (containerRead)"
        if "*" in write or ".r:" in write:
            yield "the container is publicly writable (containerWrite)"
        return
    if not is_bucket(res):
        return
    acl = str(opt(res.props, "acl") or "")
    if acl.startswith("public"):
        yield f"the bucket ACL is {acl}"
    for key in ("publicAccessBlock", "blockPublicAccess"):
        if falsy(opt(res.props, key)):
            yield f"the bucket turns {key} off"


rule(meta("OS-28", "high", "Containers and buckets are never public", ["COPRS:data-protection", "AVD-AWS-0086"],
          "Remove public ACLs; keep the public access block on."), [CONTAINER], _os28,
     applies=lambda t: t.startswith(DYNAMIC_PREFIX))


def _versioned(value: Any) -> bool:
    if is_map(value):
        return truthy(opt(value, "enabled")) or str(opt(value, "status") or "").lower() == "enabled"
    return truthy(value) or str(value).lower() == "enabled"


def _os29(res: Res, cfg: Cfg) -> Iterator[str]:
    if res.type == CONTAINER:
        if not truthy(get(res.props, "versioning")) and not has(res.props, "versioningLegacy"):
            yield "the container has no versioning"
        return
    if is_bucket(res) and not _versioned(opt(res.props, "versioning")):
        yield f"bucket {bucket_name(res)} has no versioning"


rule(meta("OS-29", "medium", "Backup, state and log buckets are versioned", ["COPRS:data-protection"],
          "Enable versioning (and a lifecycle rule expiring non-current versions)."),
     [CONTAINER], _os29, applies=lambda t: t.startswith(DYNAMIC_PREFIX))


def _os30(res: Res, cfg: Cfg) -> Iterator[str]:
    if str(get(res.props, "visibility") or "") == "public":
        yield "the image is public"
    if falsy(get(res.props, "verifyChecksum")):
        yield "the image checksum is not verified"
    url = get(res.props, "imageSourceUrl")
    if isinstance(url, str) and url and not url.startswith("https://"):
        yield "the image is downloaded without TLS"
    if has(res.props, "imageSourcePassword"):
        yield "the image source password is set inline"


rule(meta("OS-30", "medium", "Images are private, checksummed and fetched over https", ["COPRS:supply-chain"],
          "Keep images private, verify checksums and fetch them over https with credentials from the environment."),
     [IMAGE], _os30)


def _os34(res: Res, cfg: Cfg) -> Iterator[str]:
    if not has(res.props, "publicKey"):
        yield "the key pair has no public key: OpenStack generates it and the private key ends up in the state"


rule(meta("OS-34", "medium", "Key pairs are imported, never generated by OpenStack", ["COPRS:secrets"],
          "Generate the key with pulumi-tls and pass its `publicKeyOpenssh` as `publicKey`."), [KEYPAIR], _os34)


# ---------------------------------------------------------------------------------------------
# graph helpers (also used by the stack rules)


_BY_TYPE: dict = {"of": None, "size": -1, "index": {}}


def by_type(resources: list[Res], *types: str) -> list[Res]:
    """The resources of these types, in order. Indexed once per resource list: the stack rules ask per
    instance and per security group, which would be quadratic in the node count."""
    if _BY_TYPE["of"] is not resources or _BY_TYPE["size"] != len(resources):
        index: dict[str, list[Res]] = {}
        for r in resources:
            index.setdefault(r.type, []).append(r)
        _BY_TYPE.update(of=resources, size=len(resources), index=index)
    if len(types) == 1:
        return list(_BY_TYPE["index"].get(types[0], ()))
    return [r for r in resources if r.type in types]


def instance_groups(inst: Res) -> set[str]:
    md = opt(inst.props, "metadata") or {}
    groups = {g.strip() for g in str(opt(md, "kubespray_groups") or "").split(",") if g.strip()}
    if opt(md, "node_group"):
        groups.add(str(opt(md, "node_group")))
    return groups


def instance_ports(inst: Res) -> list[Res]:
    return [d for d in inst.deps("networks") if d.type == PORT]


def port_owner(port: Res, resources: list[Res]) -> Optional[Res]:
    for inst in by_type(resources, INSTANCE):
        if any(p.urn == port.urn for p in instance_ports(inst)):
            return inst
    return None


def groups_of_port(port: Res) -> list[Res]:
    return [d for d in port.deps("securityGroupIds") if d.type == SG]


def groups_of_instance(inst: Res, resources: list[Res]) -> list[Res]:
    out = {g.urn: g for p in instance_ports(inst) for g in groups_of_port(p)}
    names = {n for n in elements(opt(inst.props, "securityGroups")) if isinstance(n, str)}
    for sg in by_type(resources, SG):
        if opt(sg.props, "name") in names:
            out[sg.urn] = sg
    return list(out.values())


def rules_of_group(sg: Res, resources: list[Res]) -> list[Res]:
    out = []
    for r in by_type(resources, SGR):
        owners = r.deps("securityGroupId")
        if any(o.urn == sg.urn for o in owners) or (not owners and r.parent_urn == sg.urn):
            out.append(r)
    return out


def fip_targets(resources: list[Res]) -> list[tuple[Res, Optional[Res]]]:
    """(floating IP or association, what its port belongs to: Instance, LoadBalancer, Port or None)."""
    out = []
    for f in by_type(resources, FIP_ASSOC, FIP):
        if f.type == FIP and not has(f.props, "portId"):
            continue
        target = None
        for d in f.deps("portId"):
            if d.type == PORT:
                target = port_owner(d, resources) or d
            elif d.type == LB:
                target = d
        out.append((f, target))
    return out


# ---------------------------------------------------------------------------------------------
# stack rules of the OpenStack domain


def _os21(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    insts = [i for i in by_type(resources, INSTANCE) if instance_groups(i) & set(cfg["spreadGroups"])]
    if not insts:
        return
    for inst in insts:
        hint_groups = [d for d in inst.deps("schedulerHints") if d.type == SERVER_GROUP]
        if not hint_groups:
            yield Violation(f"instance {inst.name} ({', '.join(sorted(instance_groups(inst) & set(cfg['spreadGroups'])))}) "
                            "has no scheduler hint to a server group", inst)
            continue
        for sg in hint_groups:
            pol = opt(sg.props, "policies")
            pols = [pol] if isinstance(pol, str) else [p for p in elements(pol) if isinstance(p, str)]
            if not set(pols) & {"anti-affinity", "soft-anti-affinity"}:
                yield Violation(f"instance {inst.name} is in server group {sg.name} whose policy is "
                                f"{pols or 'unset'}, not anti-affinity", inst)


stack_rule(meta("OS-21", "medium", "Control plane, etcd and bastion instances sit in anti-affinity server groups",
                ["Kubespray:use_server_groups", "COPRS:ha"],
                "Create a ServerGroup with policy anti-affinity (or soft-anti-affinity) per group and set "
                "`schedulerHints[].group` on each instance.",
                {"spreadGroups": strings("Kubespray/node groups that must be spread", ["kube_control_plane", "etcd", "bastion"])}),
           _os21, (INSTANCE, SERVER_GROUP))


def _os22(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    for f, target in fip_targets(resources):
        if target is None:
            yield Violation(f"floating IP {f.name} is bound to a port the program does not declare", f)
        elif target.type == INSTANCE:
            if not instance_groups(target) & set(cfg["allowedGroups"]):
                yield Violation(f"floating IP {f.name} is on instance {target.name}, which is neither a bastion "
                                "nor an egress node", f)
        elif target.type == LB:
            if not any(re.search(p, target.name) for p in cfg["allowedLoadBalancers"]):
                yield Violation(f"floating IP {f.name} is on load balancer {target.name}, which is not the ingress "
                                "load balancer", f)
        else:
            yield Violation(f"floating IP {f.name} is on port {target.name}, which belongs to no allowed instance", f)


stack_rule(meta("OS-22", "high", "Floating IPs only on bastions, egress nodes and the ingress load balancer",
                ["COPRS:minimal-exposure", "NSA:network-separation"],
                "Remove the floating IP; reach the node through the bastion or publish it through the ingress load balancer.",
                {"allowedGroups": strings("node groups allowed a floating IP", ["bastion", "egress"]),
                 "allowedLoadBalancers": strings("load balancer name regexes allowed a floating IP", ["ingress"])}),
           _os22, (FIP, FIP_ASSOC, PORT, LB))


ADMIN_PORTS = [22, 2379, 2380, 6443, 10250, 10257, 10259, 3389, 9180]


def _os31(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    public_lbs = {t.urn for _, t in fip_targets(resources) if t is not None and t.type == LB}
    for lst in by_type(resources, LISTENER):
        port = number(opt(lst.props, "protocolPort"))
        lbs = [d.urn for d in lst.deps("loadbalancerId")]
        if port is not None and int(port) in cfg["adminPorts"] and set(lbs) & public_lbs:
            cidrs = [c for c in elements(opt(lst.props, "allowedCidrs")) if isinstance(c, str)]
            if not cidrs or any(c.strip() in ("0.0.0.0/0", "::/0") for c in cidrs):
                yield Violation(f"listener {lst.name} publishes admin port {int(port)} with no `allowedCidrs` restriction", lst)
        if str(opt(lst.props, "protocol") or "") == "TERMINATED_HTTPS":
            old = [v for v in elements(opt(lst.props, "tlsVersions")) if v in ("TLSv1", "TLSv1.1", "SSLv3")]
            if old:
                yield Violation(f"listener {lst.name} accepts {', '.join(old)}", lst)


stack_rule(meta("OS-31", "high", "Public load balancer listeners on admin ports are CIDR-filtered; TLS ≥ 1.2",
                ["NSA:api-server-not-exposed", "COPRS:minimal-exposure"],
                "Set `allowedCidrs` to the admin CIDRs on any admin-port listener of a public load balancer; "
                "set `tlsVersions` to TLSv1.2/TLSv1.3.",
                {"adminPorts": {"type": "array", "items": {"type": "integer"}, "default": ADMIN_PORTS,
                                "description": "listener ports that are administrative"}}),
           _os31, (LISTENER, LB))


def _os32(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    monitored = {d.urn for m in by_type(resources, MONITOR) for d in m.deps("poolId")}
    monitored |= {m.parent_urn for m in by_type(resources, MONITOR) if m.parent_urn}
    for pool in by_type(resources, POOL):
        if pool.urn not in monitored:
            yield Violation(f"pool {pool.name} has no health monitor", pool)


stack_rule(meta("OS-32", "low", "Every load balancer pool has a health monitor", ["COPRS:reliability"],
                "Add a Monitor (TCP or HTTP) to the pool."), _os32, (POOL, MONITOR))


def _os33(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    public_lbs = {t.urn: f for f, t in fip_targets(resources) if t is not None and t.type == LB}
    for lb in by_type(resources, LB):
        api = any(number(opt(lst.props, "protocolPort")) == 6443 for lst in by_type(resources, LISTENER)
                  if any(d.urn == lb.urn for d in lst.deps("loadbalancerId")))
        if api and lb.urn in public_lbs and not cfg["exposeApiPublicly"]:
            yield Violation(f"the API load balancer {lb.name} has a floating IP but `exposeApiPublicly` is false", lb)


stack_rule(meta("OS-33", "medium", "The API load balancer stays private unless exposure is configured", ["NSA:api-server-not-exposed"],
                "Drop the floating IP of the API VIP or set `exposeApiPublicly` (then OS-31 requires `allowedCidrs`).",
                {"exposeApiPublicly": flag("the API VIP may carry a floating IP", False)}), _os33, (LB, LISTENER))
