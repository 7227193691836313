"""Network flows: the connections a namespace baseline allows, as edges between peers.

Every platform namespace denies all ingress and all egress by default. A `Flow` allows one kind of
connection from a source peer to a target peer on some ports; it becomes an egress NetworkPolicy in
the source namespace and an ingress NetworkPolicy in the target namespace (when those namespaces are
the platform's). Special peers stand for what only the config knows: `CLUSTER_HOSTS` (API server,
kubelets, NodePort traffic), `INTERNET` (public addresses), `MESHED` (every meshed namespace), `MANAGED`
(every platform namespace) and role peers (`Peer(role="monitoring")`: the namespace of the app that plays
the role; the flow is dropped while no enabled app plays it).

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
MANAGED = "*managed"


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
    """Pods of a namespace (`pods` labels, `pod_keys` labels that must exist), IP ranges, or a special peer.

    `role` instead of `namespace`: the pods of the app that plays that role (gateway, monitoring, ...)."""

    namespace: Optional[str] = None
    pods: Mapping[str, str] = field(default_factory=dict)
    pod_keys: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()
    special: Optional[str] = None
    role: Optional[str] = None

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
    across: bool = False  # with a MESHED/MANAGED peer: only the namespaces other than the other end's


@dataclass(frozen=True)
class FlowEnvironment:
    """What special peers resolve to for one stack."""

    managed: frozenset[str]  # namespaces with a baseline (default deny)
    meshed: frozenset[str]
    cluster_host_cidrs: tuple[str, ...]
    roles: Mapping[str, str] = field(default_factory=dict)  # role → namespace of the app that plays it


def _resolve(peer: Peer, env: FlowEnvironment) -> Optional[Peer]:
    if peer.role is None:
        return peer
    namespace = env.roles.get(peer.role)
    return None if namespace is None else replace(peer, role=None, namespace=namespace)


def expand(flows: Iterable[Flow], env: FlowEnvironment) -> list[Flow]:
    """Resolve role peers (dropping flows to absent roles); replace MESHED/MANAGED peers by one flow per namespace."""
    groups = {MESHED: env.meshed, MANAGED: env.managed}
    out: list[Flow] = []
    for f in flows:
        source, target = _resolve(f.source, env), _resolve(f.target, env)
        if source is None or target is None:
            continue
        f = replace(f, source=source, target=target)
        if target.namespace in groups:
            out += [replace(f, target=replace(target, namespace=ns)) for ns in sorted(groups[target.namespace])
                    if not (f.across and ns == source.namespace)]
        elif source.namespace in groups:
            out += [replace(f, source=replace(source, namespace=ns)) for ns in sorted(groups[source.namespace])
                    if not (f.across and ns == target.namespace)]
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


def baseline_flows(namespace: str, *, dns_ip: Optional[str]) -> list[Flow]:
    """The flows every platform namespace allows, whatever runs in it (what the gateway and the mesh need,
    their apps declare: flows to or from MANAGED/MESHED)."""
    here = pods(namespace)
    flows = [
        Flow("same-namespace", here, here, why="pods of one namespace talk freely"),
        Flow("dns", here, pods("kube-system", {"k8s-app": "kube-dns"}), (Port(53, "UDP"), Port(53, "TCP")), "CoreDNS"),
        Flow("scrape", Peer(role="monitoring"), here, why="Prometheus scrapes every namespace"),
    ]
    if dns_ip:
        flows.append(Flow("node-local-dns", here, Peer(cidrs=(f"{dns_ip}/32",)), (Port(53, "UDP"), Port(53, "TCP")), "nodelocaldns"))
    return flows
