"""Octavia load balancer: one listener + pool + TCP health monitor per forwarded port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from .floating_ips import FloatingIp


@dataclass(frozen=True)
class Forward:
    port: int
    member_port: int


@dataclass
class Member:
    name: str
    address: pulumi.Input[str]


class LoadBalancer(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        subnet_id: pulumi.Input[str],
        forwards: list[Forward],
        members: list[Member],
        allowed_cidrs: Optional[list[str]] = None,
        floating_ip_pool: Optional[str] = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("coprs:cloud:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.lb = openstack.loadbalancer.LoadBalancer(
            name, name=name, vip_subnet_id=subnet_id, description=f"coprs {name}", opts=child
        )
        self.vip_address: pulumi.Output[str] = self.lb.vip_address
        self.members: list[openstack.loadbalancer.Member] = []
        for f in forwards:
            listener = openstack.loadbalancer.Listener(
                f"{name}-{f.port}",
                name=f"{name}-{f.port}",
                loadbalancer_id=self.lb.id,
                protocol="TCP",
                protocol_port=f.port,
                allowed_cidrs=allowed_cidrs,
                opts=child,
            )
            pool = openstack.loadbalancer.Pool(
                f"{name}-{f.port}-pool",
                name=f"{name}-{f.port}-pool",
                listener_id=listener.id,
                protocol="TCP",
                lb_method="ROUND_ROBIN",
                opts=pulumi.ResourceOptions(parent=listener),
            )
            openstack.loadbalancer.Monitor(
                f"{name}-{f.port}-monitor",
                name=f"{name}-{f.port}-monitor",
                pool_id=pool.id,
                type="TCP",
                delay=10,
                timeout=5,
                max_retries=5,
                opts=pulumi.ResourceOptions(parent=pool),
            )
            for m in members:
                self.members.append(
                    openstack.loadbalancer.Member(
                        f"{name}-{f.port}-{m.name}",
                        name=m.name,
                        pool_id=pool.id,
                        address=m.address,
                        protocol_port=f.member_port,
                        subnet_id=subnet_id,
                        opts=pulumi.ResourceOptions(parent=pool),
                    )
                )
        self.public_ip: Optional[pulumi.Output[str]] = None
        if floating_ip_pool:
            self.public_ip = FloatingIp(f"{name}-fip", floating_ip_pool, self.lb.vip_port_id, opts=child).address
        self.register_outputs({"vipAddress": self.vip_address, "publicIp": self.public_ip})
