"""Namespace baselines: PSA labels, Linkerd injection, default deny for both directions plus flows, quota, limits."""

from __future__ import annotations

import pytest

from components.platform.namespace import NAMESPACES, PSA_VERSION
from tests.components.platform.helpers import LIMITS, NAMESPACE, NETWORK_POLICY, QUOTA, platform_run

EXPECTED = {
    "infra": "restricted", "networking": "baseline", "rook-ceph": "privileged", "database": "restricted",
    "monitoring": "restricted", "logging": "privileged", "processing": "restricted", "security": "baseline",
    "falco": "privileged", "iam": "restricted",
}


def _in(result, type_, ns):
    return [r for r in result.of_type(type_) if r.inputs["metadata"].get("namespace") == ns]


def test_the_namespaces_of_the_spec_each_have_one_baseline(any_stack):
    names = {r.inputs["metadata"]["name"] for r in any_stack.of_type(NAMESPACE)}
    assert set(EXPECTED) <= names
    baselines = {r.name for r in any_stack.of_type("coprs:platform:Namespace")}
    assert baselines == {s.name for s in NAMESPACES}
    for ns in any_stack.of_type(NAMESPACE):
        parent = any_stack.by_urn()[ns.parent]
        assert parent.type == "coprs:platform:Namespace"
        assert sum(1 for r in any_stack.of_type(NAMESPACE) if r.inputs["metadata"]["name"] == ns.inputs["metadata"]["name"]) == 1


@pytest.mark.parametrize("ns,level", sorted(EXPECTED.items()))
def test_psa_labels(dev, ns, level):
    labels = next(r for r in dev.of_type(NAMESPACE) if r.inputs["metadata"]["name"] == ns).inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == level
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == PSA_VERSION
    assert PSA_VERSION == "v" + ".".join(dev.config.cluster.kubernetes_version.split(".")[:2])


def test_weaker_levels_say_why():
    for s in NAMESPACES:
        if s.pod_security != "restricted" or not s.meshed:
            assert s.why, s.name


def test_every_namespace_has_default_deny_quota_and_limits(any_stack):
    for s in NAMESPACES:
        policies = _in(any_stack, NETWORK_POLICY, s.name)
        deny = [p for p in policies if p.inputs["metadata"]["name"] == "default-deny"]
        assert len(deny) == 1
        spec = deny[0].inputs["spec"]
        assert spec["podSelector"] == {} and set(spec["policyTypes"]) == {"Ingress", "Egress"}
        assert "ingress" not in spec and "egress" not in spec
        names = {p.inputs["metadata"]["name"] for p in policies}
        assert {"allow-same-namespace-in", "allow-same-namespace-out", "allow-dns-to-kube-system",
                "allow-node-local-dns-out"} <= names, s.name
        assert not any("scrape" in n for n in names), s.name  # no app plays "monitoring" yet (test_app)
        quota = _in(any_stack, QUOTA, s.name)
        assert len(quota) == 1
        assert {"requests.cpu", "requests.memory", "limits.memory", "pods"} <= set(quota[0].inputs["spec"]["hard"])
        limits = _in(any_stack, LIMITS, s.name)
        assert len(limits) == 1
        default = limits[0].inputs["spec"]["limits"][0]
        assert default["type"] == "Container" and "memory" in default["default"] and "cpu" in default["defaultRequest"]
        assert "cpu" not in default["default"]  # a default CPU limit under a chart's request would reject its pods


def test_baseline_objects_wait_for_their_namespace(dev):
    by = dev.by_urn()
    for type_ in (NETWORK_POLICY, QUOTA, LIMITS):
        for r in dev.of_type(type_):
            if by[r.parent].type != "coprs:platform:Namespace":
                continue
            ns_urns = {u for u in r.dependencies if by[u].type == NAMESPACE}
            assert ns_urns, r.name


def test_meshed_namespaces_are_annotated(any_stack):
    for s in NAMESPACES:
        ann = next(r for r in any_stack.of_type(NAMESPACE) if r.inputs["metadata"]["name"] == s.name).inputs["metadata"]["annotations"]
        assert ann["linkerd.io/inject"] == ("enabled" if s.meshed else "disabled"), s.name
        if s.meshed:
            assert ann["config.linkerd.io/default-inbound-policy"] == "all-authenticated"


def test_quota_sizes_come_from_config(dev):
    q = _in(dev, QUOTA, "processing")[0].inputs["spec"]["hard"]
    assert q["requests.cpu"] == "8" and q["requests.memory"] == "32Gi" and q["limits.memory"] == "64Gi"
    assert q["pods"] == "500"  # unset keys keep the namespace default
    r = platform_run("dev", {"coprs:platform.namespaces.iam.limits.defaultMemory": "1Gi"})
    lr = _in(r, LIMITS, "iam")[0].inputs["spec"]["limits"][0]
    assert lr["default"]["memory"] == "1Gi"


def test_network_policies_never_allow_everything(any_stack):
    for p in any_stack.of_type(NETWORK_POLICY):
        spec = p.inputs["spec"]
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            peers = rule.get("from", []) + rule.get("to", [])
            assert peers, p.name  # an empty peer list would mean "everyone"
            for peer in peers:
                block = peer.get("ipBlock")
                if block and block["cidr"] == "0.0.0.0/0":
                    assert "169.254.0.0/16" in block["except"] and rule.get("ports"), p.name
                assert peer.get("namespaceSelector") != {}, p.name
