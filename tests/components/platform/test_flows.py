"""Flows → NetworkPolicies: both sides of a cross-namespace flow, special peers, the Linkerd proxy port."""

from __future__ import annotations

import pytest

from components.platform.flows import (HOSTS, LINKERD_INBOUND_PORT, MESHED, WORLD, Flow, FlowEnvironment, Port,
                                       expand, pods, policies_for, tcp)

ENV = FlowEnvironment(frozenset({"a", "b", "c"}), frozenset({"b", "c"}), ("192.168.0.0/16", "10.244.0.0/16"))


def test_a_cross_namespace_flow_opens_both_ends():
    f = Flow("db", pods("a", {"app": "x"}), pods("b", {"app": "pg"}), tcp(5432))
    (a_name, a_spec), = policies_for("a", [f], ENV)
    (b_name, b_spec), = policies_for("b", [f], ENV)
    assert a_name == "allow-db-to-b" and b_name == "allow-db-from-a"
    assert a_spec["policyTypes"] == ["Egress"] and a_spec["podSelector"] == {"matchLabels": {"app": "x"}}
    assert a_spec["egress"][0]["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}},
                                          "podSelector": {"matchLabels": {"app": "pg"}}}]
    # b is meshed: the client proxy connects to the inbound proxy port.
    assert [p["port"] for p in b_spec["ingress"][0]["ports"]] == [5432, LINKERD_INBOUND_PORT]
    assert policies_for("c", [f], ENV) == []


def test_special_peers():
    hosts = policies_for("a", [Flow("webhook", HOSTS, pods("a"), tcp(9443))], ENV)[0][1]
    assert hosts["ingress"][0]["from"] == [{"ipBlock": {"cidr": c}} for c in ENV.cluster_host_cidrs]
    world = policies_for("a", [Flow("acme", pods("a"), WORLD, (Port(443),))], ENV)[0][1]
    block = world["egress"][0]["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in block["except"] and "169.254.0.0/16" in block["except"]


def test_meshed_peers_expand_to_every_meshed_namespace():
    flows = expand([Flow("tap", pods("a"), pods(MESHED), (Port(4190),))], ENV)
    assert [f.target.namespace for f in flows] == ["b", "c"]


def test_port_ranges_and_conflicting_names():
    spec = policies_for("a", [Flow("osd", HOSTS, pods("a"), (Port(6800, end_port=7568),))], ENV)[0][1]
    assert spec["ingress"][0]["ports"] == [{"port": 6800, "protocol": "TCP", "endPort": 7568}]
    same = Flow("x", pods("a"), pods("b"), tcp(1))
    assert len(policies_for("a", [same, same], ENV)) == 1  # declared by two apps: one policy
    with pytest.raises(ValueError, match="two different network flows"):
        policies_for("a", [same, Flow("x", pods("a"), pods("b"), tcp(2))], ENV)
