"""The four security groups of the cluster, all default rules deleted and every rule explicit.

- bastion:       TCP 22 from the admin CIDRs only.
- cluster:       everything from the cluster group itself (node to node, Calico VXLAN, ...),
                 SSH from the bastions.
- control-plane: TCP 6443 from the cluster group, the bastions, the subnet (API load balancer and its
                 health checks) and the admin CIDRs.
- ingress:       TCP 32080/32443 (APISIX NodePorts) from the subnet the ingress load balancer sits on.
No rule opens SSH, etcd, kubelet or the API to 0.0.0.0/0: config validation and the policy pack both
check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

API_PORT = 6443
INGRESS_NODE_PORTS = (32080, 32443)


@dataclass(frozen=True)
class Rule:
    group: str
    description: str
    protocol: Optional[str] = None  # None: every protocol
    ports: Optional[tuple[int, int]] = None
    remote_cidr: Optional[str] = None
    remote_group: Optional[str] = None
    direction: str = "ingress"


def rules(admin_cidrs: list[str], subnet_cidr: str) -> list[Rule]:
    """The whole rule set as data (pure, unit-tested)."""
    out = [Rule(g, "egress to anywhere (updates, registries, object store)", direction="egress", remote_cidr="0.0.0.0/0")
           for g in ("bastion", "cluster", "control-plane", "ingress")]
    for cidr in admin_cidrs:
        out.append(Rule("bastion", f"SSH from admin range {cidr}", "tcp", (22, 22), remote_cidr=cidr))
        out.append(Rule("control-plane", f"Kubernetes API from admin range {cidr}", "tcp", (API_PORT, API_PORT), remote_cidr=cidr))
    out += [
        Rule("cluster", "all traffic between cluster nodes", remote_group="cluster"),
        Rule("cluster", "SSH from the bastions (Ansible, operators)", "tcp", (22, 22), remote_group="bastion"),
        Rule("cluster", "ICMP from the bastions", "icmp", remote_group="bastion"),
        Rule("control-plane", "Kubernetes API from the cluster nodes", "tcp", (API_PORT, API_PORT), remote_group="cluster"),
        Rule("control-plane", "Kubernetes API from the bastions", "tcp", (API_PORT, API_PORT), remote_group="bastion"),
        Rule("control-plane", "Kubernetes API from the API load balancer (subnet)", "tcp", (API_PORT, API_PORT), remote_cidr=subnet_cidr),
    ]
    for port in INGRESS_NODE_PORTS:
        out.append(Rule("ingress", f"APISIX NodePort {port} from the ingress load balancer (subnet)", "tcp", (port, port), remote_cidr=subnet_cidr))
    return out


class SecurityGroups(pulumi.ComponentResource):
    def __init__(self, name: str, admin_cidrs: list[str], subnet_cidr: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("coprs:cloud:SecurityGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.groups: dict[str, openstack.networking.SecGroup] = {
            g: openstack.networking.SecGroup(
                f"{name}-{g}",
                name=f"{name}-{g}",
                description=f"coprs {g} nodes",
                delete_default_rules=True,
                opts=child,
            )
            for g in ("bastion", "cluster", "control-plane", "ingress")
        }
        self.rules = []
        seen: dict[str, int] = {}
        for r in rules(admin_cidrs, subnet_cidr):
            base = f"{name}-{r.group}-{r.direction}-{r.protocol or 'any'}-{r.ports[0] if r.ports else 'all'}"
            seen[base] = seen.get(base, 0) + 1
            rule_name = base if seen[base] == 1 else f"{base}-{seen[base]}"
            self.rules.append(
                openstack.networking.SecGroupRule(
                    rule_name,
                    description=r.description,
                    direction=r.direction,
                    ethertype="IPv4",
                    protocol=r.protocol,
                    port_range_min=r.ports[0] if r.ports else None,
                    port_range_max=r.ports[1] if r.ports else None,
                    remote_ip_prefix=r.remote_cidr,
                    remote_group_id=self.groups[r.remote_group].id if r.remote_group else None,
                    security_group_id=self.groups[r.group].id,
                    opts=pulumi.ResourceOptions(parent=self.groups[r.group]),
                )
            )
        self.register_outputs({g: sg.id for g, sg in self.groups.items()})

    def ids(self, *names: str) -> list[pulumi.Output[str]]:
        return [self.groups[n].id for n in names]
