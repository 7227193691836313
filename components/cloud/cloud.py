"""The cloud layer: wires network, security groups, node groups and load balancers.

Its `nodes` (name, group, role, private IP, labels, taints) are the input of the cluster layer.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_openstack as openstack
import pulumi_tls as tls

from ..config import StackConfig, node_role
from .load_balancer import Forward, LoadBalancer, Member
from .network import Network
from .node_group import Node, NodeGroup, NodeGroupArgs
from .security_groups import API_PORT, INGRESS_NODE_PORTS, SecurityGroups

__all__ = ["Cloud", "Node"]


def _security_groups_for(group: str, ingress_group: str) -> list[str]:
    role = node_role(group)
    if role == "bastion":
        return ["bastion"]
    names = ["cluster"]
    if role == "control-plane":
        names.append("control-plane")
    if group == ingress_group:
        names.append("ingress")
    return names


class Cloud(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("coprs:cloud:Cloud", name, None, opts)
        assert cfg.network is not None  # guaranteed by config validation in provision mode
        net_cfg, cluster = cfg.network, cfg.cluster
        child = pulumi.ResourceOptions(parent=self)
        prefix = cluster.name

        self.network = Network(prefix, net_cfg, opts=child)
        self.security_groups = SecurityGroups(prefix, net_cfg.admin_cidrs, net_cfg.cidr, opts=child)
        # The SSH key Ansible uses; its private half only ever leaves as a secret output.
        self.ssh_key = tls.PrivateKey(f"{prefix}-ssh", algorithm="ED25519", opts=child)
        self.keypair = openstack.compute.Keypair(
            f"{prefix}-keypair", name=f"{prefix}-keypair", public_key=self.ssh_key.public_key_openssh, opts=child
        )

        self.node_groups: dict[str, NodeGroup] = {}
        # Sorted: the order of nodeGroups in the stack file changes nothing (node table, inventory, triggers).
        for group, g in sorted(cfg.node_groups.items()):
            self.node_groups[group] = NodeGroup(
                f"{prefix}-{group}",
                NodeGroupArgs(
                    cluster_name=prefix,
                    group=group,
                    cfg=g,
                    network_id=self.network.network.id,
                    subnet_id=self.network.subnet.id,
                    security_group_ids=self.security_groups.ids(*_security_groups_for(group, net_cfg.ingress_node_group)),
                    key_pair=self.keypair.name,
                    ssh_user=cluster.ssh_user,
                    availability_zones=net_cfg.availability_zones,
                    floating_ip_pool=net_cfg.external_network,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.network.router_interface]),
            )
        self.nodes: list[Node] = [n for ng in self.node_groups.values() for n in ng.nodes]
        control_plane = [n for n in self.nodes if n.role == "control-plane"]
        ingress_nodes = self.node_groups[net_cfg.ingress_node_group].nodes

        self.api_lb: Optional[LoadBalancer] = None
        if cluster.api_load_balancer.enabled:
            self.api_lb = LoadBalancer(
                f"{prefix}-api",
                self.network.subnet.id,
                [Forward(API_PORT, API_PORT)],
                [Member(n.name, n.private_ip) for n in control_plane],
                allowed_cidrs=[*net_cfg.admin_cidrs, net_cfg.cidr] if cluster.api_load_balancer.public else None,
                floating_ip_pool=net_cfg.external_network if cluster.api_load_balancer.public else None,
                opts=child,
            )
        self.ingress_lb = LoadBalancer(
            f"{prefix}-ingress",
            self.network.subnet.id,
            [Forward(80, INGRESS_NODE_PORTS[0]), Forward(443, INGRESS_NODE_PORTS[1])],
            [Member(n.name, n.private_ip) for n in ingress_nodes],
            floating_ip_pool=net_cfg.external_network if net_cfg.ingress_floating_ip else None,
            opts=child,
        )

        # The endpoint the kubeconfig points at: the API VIP (public when configured), else the first master.
        if self.api_lb is not None:
            self.api_endpoint: pulumi.Output[str] = self.api_lb.public_ip or self.api_lb.vip_address
        else:
            self.api_endpoint = control_plane[0].private_ip
        self.bastion_addresses = [n.public_ip for n in self.nodes if n.role == "bastion" and n.public_ip is not None]
        self.ingress_address = self.ingress_lb.public_ip or self.ingress_lb.vip_address
        # One Output over every node's addresses and one apply building the rows: an Output.all over
        # per-node Outputs of dicts would unwrap each row deeply (dozens of Outputs a node at 1,000 nodes).
        addresses = pulumi.Output.all(*(ip for n in self.nodes for ip in (n.private_ip, n.public_ip)))
        self.node_table: pulumi.Output[list[dict]] = addresses.apply(
            lambda ips: [
                {
                    "name": n.name,
                    "group": n.group,
                    "role": n.role,
                    "privateIp": ips[2 * i],
                    "publicIp": ips[2 * i + 1],
                    "labels": dict(n.labels),
                    "taints": list(n.taints),
                }
                for i, n in enumerate(self.nodes)
            ]
        )
        self.register_outputs(
            {"nodes": self.node_table, "apiEndpoint": self.api_endpoint, "ingressAddress": self.ingress_address}
        )

    @property
    def lb_members(self) -> list[pulumi.Resource]:
        return [*(self.api_lb.members if self.api_lb else []), *self.ingress_lb.members]
