"""Network flows: the connections a namespace baseline allows, as edges between peers.

Every platform namespace denies all ingress and all egress by default. A `Flow` allows one kind of
connection from a source peer to a target peer on some ports; it becomes an egress NetworkPolicy in
the source namespace and an ingress NetworkPolicy in the target namespace (when those namespaces are
the platform's). Special peers stand for what only the config knows: `CLUSTER_HOSTS` (API server,
kubelets, NodePort traffic), `INTERNET` (public addresses) and `MESHED` (every meshed namespace).

Linkerd proxies talk to each other on the inbound proxy port 4143 (transport header), so a
port-restricted flow into a meshed namespace also opens 4143.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Optional

LINKERD_INBOUND_PORT = 4143
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")

# Peer kinds resolved by the platform at render time.
CLUSTER_HOSTS = "cluster-hosts"
INTERNET = "internet"
MESHED = "*meshed"


@dataclass(frozen=True)
class Port:
    port: int
    protocol: str = "TCP"
    end_port: Optional[int] = None

    def render(self) -> dict:
        out: dict = {"port": self.port, "protocol": self.protocol}
        if self.end_port is not None:
            out["endPort"] = self.end_port
        return out


def tcp(*ports: int) -> tuple[Port, ...]:
    return tuple(Port(p) for p in ports)


@dataclass(frozen=True)
class Peer:
    """Pods of a namespace (`pods` labels, `pod_keys` labels that must exist), IP ranges, or a special peer."""

    namespace: Optional[str] = None
    pods: Mapping[str, str] = field(default_factory=dict)
    pod_keys: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()
    special: Optional[str] = None

    def pod_selector(self) -> dict:
        sel: dict = {}
        if self.pods:
            sel["matchLabels"] = dict(self.pods)
        if self.pod_keys:
            sel["matchExpressions"] = [{"key": k, "operator": "Exists"} for k in self.pod_keys]
        return sel


def pods(namespace: str, labels: Optional[Mapping[str, str]] = None, *, keys: tuple[str, ...] = ()) -> Peer:
    return Peer(namespace=namespace, pods=dict(labels or {}), pod_keys=keys)


HOSTS = Peer(special=CLUSTER_HOSTS)
WORLD = Peer(special=INTERNET)


@dataclass(frozen=True)
class Flow:
    name: str
    source: Peer
    target: Peer
    ports: tuple[Port, ...] = ()  # empty: every port
    why: str = ""


@dataclass(frozen=True)
class FlowEnvironment:
    """What special peers resolve to for one stack."""

    managed: frozenset[str]  # namespaces with a baseline (default deny)
    meshed: frozenset[str]
    cluster_host_cidrs: tuple[str, ...]


def expand(flows: Iterable[Flow], env: FlowEnvironment) -> list[Flow]:
    """Replace MESHED targets/sources by one flow per meshed namespace."""
    out: list[Flow] = []
    for f in flows:
        if f.target.namespace == MESHED:
            out += [replace(f, target=replace(f.target, namespace=ns)) for ns in sorted(env.meshed)]
        elif f.source.namespace == MESHED:
            out += [replace(f, source=replace(f.source, namespace=ns)) for ns in sorted(env.meshed)]
        else:
            out.append(f)
    return out


def _peer_rule(peer: Peer, env: FlowEnvironment) -> list[dict]:
    if peer.special == CLUSTER_HOSTS:
        return [{"ipBlock": {"cidr": c}} for c in env.cluster_host_cidrs]
    if peer.special == INTERNET:
        return [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}]
    if peer.cidrs:
        return [{"ipBlock": {"cidr": c}} for c in peer.cidrs]
    rule: dict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": peer.namespace}}}
    rule["podSelector"] = peer.pod_selector()
    return [rule]


def _ports(flow: Flow, env: FlowEnvironment) -> list[dict]:
    if not flow.ports:
        return []
    ports = [p.render() for p in flow.ports]
    if flow.target.namespace in env.meshed and all(p.port != LINKERD_INBOUND_PORT for p in flow.ports):
        ports.append(Port(LINKERD_INBOUND_PORT).render())
    return ports


def _policy_name(flow: Flow, direction: str, peer: Peer, namespace: str) -> str:
    if peer.namespace and peer.namespace != namespace:
        return f"allow-{flow.name}-{'to' if direction == 'egress' else 'from'}-{peer.namespace}"
    return f"allow-{flow.name}-{'out' if direction == 'egress' else 'in'}"


def policies_for(namespace: str, flows: Iterable[Flow], env: FlowEnvironment) -> list[tuple[str, dict]]:
    """(name, NetworkPolicy spec) pairs that a namespace needs for the given flows (identical ones once)."""
    out: dict[str, dict] = {}

    def add(name: str, spec: dict) -> None:
        if name in out and out[name] != spec:
            raise ValueError(f"two different network flows named {name!r} in namespace {namespace}")
        out[name] = spec

    for f in flows:
        ports = _ports(f, env)
        if f.source.namespace == namespace:
            rule: dict = {"to": _peer_rule(f.target, env)}
            if ports:
                rule["ports"] = ports
            add(_policy_name(f, "egress", f.target, namespace),
                {"podSelector": f.source.pod_selector(), "policyTypes": ["Egress"], "egress": [rule]})
        if f.target.namespace == namespace:
            rule = {"from": _peer_rule(f.source, env)}
            if ports:
                rule["ports"] = ports
            add(_policy_name(f, "ingress", f.source, namespace),
                {"podSelector": f.target.pod_selector(), "policyTypes": ["Ingress"], "ingress": [rule]})
    return sorted(out.items())


def baseline_flows(namespace: str, env: FlowEnvironment, *, dns_ip: Optional[str], gateway: Optional[Peer],
                   monitoring: Peer, mesh_control_plane: Optional[Peer]) -> list[Flow]:
    """The flows every platform namespace allows, whatever runs in it."""
    here = pods(namespace)
    flows = [
        Flow("same-namespace", here, here, why="pods of one namespace talk freely"),
        Flow("dns", here, pods("kube-system", {"k8s-app": "kube-dns"}), (Port(53, "UDP"), Port(53, "TCP")), "CoreDNS"),
        Flow("scrape", monitoring, here, why="Prometheus (its pods only) scrapes every namespace"),
    ]
    if dns_ip:
        flows.append(Flow("node-local-dns", here, Peer(cidrs=(f"{dns_ip}/32",)), (Port(53, "UDP"), Port(53, "TCP")), "nodelocaldns"))
    if gateway is not None and gateway.namespace != namespace:
        flows.append(Flow("gateway", gateway, here, why="the APISIX gateway reaches the UIs and APIs it routes to"))
    if mesh_control_plane is not None and namespace in env.meshed and mesh_control_plane.namespace != namespace:
        flows.append(
            Flow("mesh-control-plane", here, mesh_control_plane, tcp(8080, 8086, 8090),
                 "proxies get identity (8080), destinations (8086) and policies (8090)")
        )
    return flows
