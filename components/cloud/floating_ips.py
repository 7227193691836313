"""Public addresses. Only bastions, egress nodes and the ingress load balancer's VIP get one."""

from __future__ import annotations

import pulumi
import pulumi_openstack as openstack


class FloatingIp(pulumi.ComponentResource):
    """A floating IP from the external pool, associated with one port."""

    def __init__(self, name: str, pool: str, port_id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("coprs:cloud:FloatingIp", name, None, opts)
        self.ip = openstack.networking.FloatingIp(
            name, pool=pool, description=f"coprs {name}", opts=pulumi.ResourceOptions(parent=self)
        )
        self.association = openstack.networking.FloatingIpAssociate(
            f"{name}-assoc", floating_ip=self.ip.address, port_id=port_id, opts=pulumi.ResourceOptions(parent=self)
        )
        self.address: pulumi.Output[str] = self.ip.address
        self.register_outputs({"address": self.address})
