"""The private network of the cluster: network, subnet, router to the external network with SNAT."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_openstack as openstack

from ..config import NetworkConfig


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: NetworkConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("coprs:cloud:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        external = openstack.networking.get_network_output(name=cfg.external_network, opts=pulumi.InvokeOutputOptions(parent=self))
        self.external_network_id = external.id
        self.network = openstack.networking.Network(
            f"{name}-net", name=f"{name}-net", admin_state_up=True, port_security_enabled=True, opts=child
        )
        net = ipaddress.ip_network(cfg.cidr)
        self.cidr = cfg.cidr
        self.gateway_ip = str(net.network_address + 1)
        self.subnet = openstack.networking.Subnet(
            f"{name}-subnet",
            name=f"{name}-subnet",
            network_id=self.network.id,
            cidr=cfg.cidr,
            ip_version=4,
            gateway_ip=self.gateway_ip,
            enable_dhcp=True,
            dns_nameservers=cfg.dns_nameservers,
            opts=child,
        )
        self.router = openstack.networking.Router(
            f"{name}-router",
            name=f"{name}-router",
            external_network_id=external.id,
            enable_snat=True,
            admin_state_up=True,
            opts=child,
        )
        self.router_interface = openstack.networking.RouterInterface(
            f"{name}-router-interface", router_id=self.router.id, subnet_id=self.subnet.id, opts=child
        )
        self.register_outputs(
            {"networkId": self.network.id, "subnetId": self.subnet.id, "routerId": self.router.id}
        )
