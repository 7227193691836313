"""Neutron security-group rule semantics, shared by the OpenStack and stack rules.

What checkov gets wrong and we must not: protocol unset = every protocol; ports unset or 0/0 = every
port; no remoteIpPrefix, remoteGroupId or remoteAddressGroupId = any source.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Optional

from .base import get, has, number

WORLD = {"0.0.0.0/0", "::/0", "::0/0", "0.0.0.0", "::"}
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "4": "ipip", "ipencap": "ipip", "132": "sctp",
                  "any": None, "": None}

# Ports that must never face the world (security-rules-reference §3.6).
NEVER_PUBLIC: list[tuple[str, int, int, str]] = [
    ("tcp", 2379, 2381, "etcd"), ("tcp", 6443, 6443, "Kubernetes API"), ("tcp", 10248, 10260, "kubelet / controllers"),
    ("tcp", 179, 179, "Calico BGP"), ("udp", 4789, 4789, "VXLAN"), ("tcp", 5473, 5473, "Calico Typha"),
    ("udp", 51820, 51821, "WireGuard"), ("ipip", 0, 0, "IP-in-IP"), ("tcp", 3300, 3300, "Ceph mon"),
    ("tcp", 6789, 6789, "Ceph mon"), ("tcp", 6800, 7300, "Ceph OSD/MGR"), ("tcp", 9100, 9100, "node-exporter"),
    ("tcp", 30000, 32767, "NodePorts"), ("udp", 30000, 32767, "NodePorts"), ("tcp", 9180, 9180, "APISIX admin"),
    ("tcp", 5432, 5432, "PostgreSQL"), ("tcp", 27017, 27017, "MongoDB"), ("tcp", 9200, 9200, "Elasticsearch"),
    ("tcp", 9300, 9300, "Elasticsearch transport"), ("tcp", 9092, 9094, "Kafka"), ("tcp", 2181, 2181, "ZooKeeper"),
]


@dataclass
class SgRule:
    direction: str
    protocol: Optional[str]  # None: every protocol
    low: int
    high: int
    prefix: Optional[str]
    remote_group: bool
    remote_address_group: bool
    ethertype: Optional[str]

    @property
    def all_ports(self) -> bool:
        return self.protocol is None or (self.protocol in ("tcp", "udp", "sctp") and self.low <= 1 and self.high >= 65535)

    @property
    def world(self) -> bool:
        if self.prefix:
            return self.prefix.strip() in WORLD
        return not self.remote_group and not self.remote_address_group

    def covers(self, proto: str, low: int, high: int) -> bool:
        if self.protocol is None:
            return True
        if proto == "ipip":
            return self.protocol == "ipip"
        return self.protocol == proto and self.low <= high and low <= self.high

    def describe(self) -> str:
        proto = self.protocol or "any protocol"
        ports = "all ports" if self.all_ports else (str(self.low) if self.low == self.high else f"{self.low}-{self.high}")
        if self.prefix:
            src = self.prefix
        elif self.remote_group:
            src = "a security group"
        elif self.remote_address_group:
            src = "an address group"
        else:
            src = "any source (no remote set)"
        return f"{self.direction} {proto} {ports} from {src}" if self.direction == "ingress" else f"{self.direction} {proto} {ports} to {src}"


def sg_rule(props: Any) -> SgRule:
    proto = get(props, "protocol")
    proto = None if proto is None else PROTOCOL_NAMES.get(str(proto).lower(), str(proto).lower())
    low, high = number(get(props, "portRangeMin")), number(get(props, "portRangeMax"))
    if proto in ("tcp", "udp", "sctp"):
        if not low and not high:
            low, high = 1, 65535
        low, high = int(low or high), int(high or low)
    else:
        low, high = 0, 0
    return SgRule(
        direction=str(get(props, "direction") or "ingress"),
        protocol=proto,
        low=low,
        high=high,
        prefix=get(props, "remoteIpPrefix") or None,
        remote_group=has(props, "remoteGroupId"),
        remote_address_group=has(props, "remoteAddressGroupId"),
        ethertype=get(props, "ethertype"),
    )


def network(cidr: str) -> Optional[ipaddress._BaseNetwork]:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except (ValueError, AttributeError):
        return None


def within(cidr: Optional[str], allowed: list[str]) -> bool:
    net = network(cidr or "")
    if net is None:
        return False
    for a in allowed:
        other = network(a)
        if other is not None and other.version == net.version and net.subnet_of(other):
            return True
    return False


def public_range(cidr: Optional[str]) -> bool:
    """A public CIDR holding more than one address (Trivy AVD-OPNSTK-0003)."""
    net = network(cidr or "")
    if net is None:
        return False
    if str(net) in ("0.0.0.0/0", "::/0"):
        return True
    return net.num_addresses > 1 and not (net.is_private or net.is_loopback or net.is_link_local)


def never_public_hits(rule: SgRule) -> list[str]:
    return [f"{name} ({proto}/{lo}{'' if lo == hi else f'-{hi}'})" if proto != "ipip" else name
            for proto, lo, hi, name in NEVER_PUBLIC if rule.covers(proto, lo, hi)]
