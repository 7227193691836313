"""Helm releases: pinned, from https/oci, shared defaults, no generated secret in values, CRD-first ordering."""

from __future__ import annotations

import re

from offline.harness import SECRET, iter_values
from tests.components.platform.helpers import (CONFIG_FILE, RELEASE, ancestors, api_of, is_custom_resource,
                                               platform_objects, releases)
from tests.conftest import stack_run

SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
# Chart versions checked in each chart's own repository (tags named in README "Platform layer").
PINNED = {
    "cert-manager": ("https://charts.jetstack.io", "cert-manager", "v1.21.1", "infra"),
    "linkerd-crds": ("https://helm.linkerd.io/edge", "linkerd-crds", "2026.8.3", "networking"),
    "linkerd-cni": ("https://helm.linkerd.io/edge", "linkerd2-cni", "2026.8.3", "kube-system"),
    "linkerd-control-plane": ("https://helm.linkerd.io/edge", "linkerd-control-plane", "2026.8.3", "networking"),
    "linkerd-viz": ("https://helm.linkerd.io/edge", "linkerd-viz", "2026.8.3", "networking"),
    "apisix": ("https://apache.github.io/apisix-helm-chart", "apisix", "2.14.0", "networking"),
    "rook-ceph": ("https://charts.rook.io/release", "rook-ceph", "v1.20.6", "rook-ceph"),
    "rook-ceph-cluster": ("https://charts.rook.io/release", "rook-ceph-cluster", "v1.20.6", "rook-ceph"),
    "metrics-server": ("https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.13.1", "kube-system"),
    "keda": ("https://kedacore.github.io/charts", "keda", "2.20.2", "infra"),
    # issue 12 (notes/charts-*.md): chart repositories at the pinned tags
    "cloudnative-pg": ("https://cloudnative-pg.github.io/charts", "cloudnative-pg", "0.29.0", "infra"),
    "plugin-barman-cloud": ("https://cloudnative-pg.github.io/charts", "plugin-barman-cloud", "0.7.0", "infra"),
    "eck-operator": ("https://helm.elastic.co", "eck-operator", "3.5.0", "infra"),
    "strimzi": ("https://strimzi.io/charts/", "strimzi-kafka-operator", "1.2.0", "infra"),
    "mongodb-kubernetes": ("https://mongodb.github.io/helm-charts", "mongodb-kubernetes", "1.9.1", "infra"),
}
# CRD API group → the release or CRD bundle (ConfigFile) that installs it.
CRD_PROVIDERS = {
    "cert-manager.io": "cert-manager",
    "policy.linkerd.io": "linkerd-crds",
    "apisix.apache.org": "apisix-apisix-crds",
    "postgresql.cnpg.io": "cloudnative-pg",
    "barmancloud.cnpg.io": "plugin-barman-cloud",
    "elasticsearch.k8s.elastic.co": "eck-operator",
    "kibana.k8s.elastic.co": "eck-operator",
    "kafka.strimzi.io": "strimzi-strimzi-crds",
    "mongodbcommunity.mongodb.com": "mongodb-kubernetes-mck-crds",
    "velero.io": "velero",
}
# Releases that render custom resources of another release's CRDs.
RELEASE_NEEDS = {
    "linkerd-control-plane": {"linkerd-crds"},
    "linkerd-viz": {"linkerd-crds"},
    "rook-ceph-cluster": {"rook-ceph"},
    "apisix": {"apisix-apisix-crds"},
}


def test_the_core_services_are_pinned_as_verified(any_stack):
    rel = releases(any_stack)
    for name, (repo, chart, version, ns) in PINNED.items():
        r = rel[name]
        assert (r.inputs["repositoryOpts"]["repo"], r.inputs["chart"], r.inputs["version"], r.inputs["namespace"]) == \
            (repo, chart, version, ns), name


def test_every_release_is_pinned_and_uses_the_shared_defaults(any_stack):
    rel = any_stack.of_type(RELEASE)
    assert len(rel) >= len(PINNED)
    for r in rel:
        i = r.inputs
        assert SEMVER.match(i["version"]), r.name
        assert i["repositoryOpts"]["repo"].startswith(("https://", "oci://")), r.name
        assert i["name"] == r.name
        assert i.get("createNamespace") is False, r.name
        assert i["atomic"] is True and i["cleanupOnFail"] is True, r.name
        assert i["timeout"] > 0 and i["maxHistory"] > 0, r.name
        assert i["namespace"] not in ("", "default"), r.name


def _generated_secrets(result) -> set[str]:
    out = set()
    for r in result.resources:
        if r.type in ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString"):
            out.add(r.outputs["result"])
        if r.type == "tls:index/privateKey:PrivateKey":
            out |= {r.outputs[k] for k in ("privateKeyPem", "privateKeyOpenssh", "privateKeyPemPkcs8")}
    return out


def test_no_release_value_holds_a_generated_secret(any_stack):
    secrets = _generated_secrets(any_stack)
    assert len(secrets) >= 8
    secret_config = {f"offline-dummy-{k.replace(':', '-')}" for k in ("coprs:acmeDnsCredentials",)}
    for r in any_stack.of_type(RELEASE):
        for v in iter_values(r.inputs.get("values", {})):
            if isinstance(v, str):
                assert not any(s in v for s in secrets | secret_config), r.name
                assert "PRIVATE KEY" not in v, r.name


def test_generated_secrets_reach_the_cluster_only_as_secrets(any_stack):
    secrets = _generated_secrets(any_stack)
    for r in platform_objects(any_stack):
        if r.type.startswith("kubernetes:") and r.type != "kubernetes:core/v1:Secret":
            for v in iter_values(r.inputs):
                assert not (isinstance(v, str) and v in secrets), r.name
    secret_objects = [r for r in any_stack.of_type("kubernetes:core/v1:Secret") if r in platform_objects(any_stack)]
    assert all(r.masked_inputs["stringData"] == SECRET or set(r.masked_inputs["stringData"].values()) == {SECRET}
               for r in secret_objects)


def test_values_reference_the_generated_secrets_by_name(any_stack):
    apisix = releases(any_stack)["apisix"].inputs["values"]
    assert apisix["apisix"]["admin"]["credentials"]["secretName"] == "apisix-admin"
    ref = apisix["ingress-controller"]["gatewayProxy"]["provider"]["controlPlane"]["auth"]["adminKey"]["valueFrom"]
    assert ref == {"secretKeyRef": {"name": "apisix-admin", "key": "admin"}}
    names = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
             for r in any_stack.of_type("kubernetes:core/v1:Secret")}
    assert ("networking", "apisix-admin") in names


def _provider_urns(result) -> dict[str, str]:
    out = {r.name: r.urn for r in result.of_type(RELEASE)}
    out.update({r.name: r.urn for r in result.of_type(CONFIG_FILE)})
    return out


def test_crd_providers_precede_their_custom_resources(any_stack):
    providers = _provider_urns(any_stack)
    crs = [r for r in platform_objects(any_stack) if is_custom_resource(r)]
    assert crs
    for r in crs:
        group = api_of(r.type)[0]
        assert group in CRD_PROVIDERS, group
        assert providers[CRD_PROVIDERS[group]] in ancestors(any_stack, r), r.name


def test_releases_rendering_custom_resources_follow_their_crds(any_stack):
    providers = _provider_urns(any_stack)
    rel = releases(any_stack)
    for name, needs in RELEASE_NEEDS.items():
        deps = ancestors(any_stack, rel[name])
        assert {providers[n] for n in needs} <= deps, name


def test_independent_apps_do_not_wait_for_each_other(any_stack):
    rel = releases(any_stack)
    by = any_stack.by_urn()

    def release_deps(name):
        return {by[u].name for u in ancestors(any_stack, rel[name]) if u in by and by[u].type == RELEASE}

    assert release_deps("cert-manager") == set()
    assert release_deps("metrics-server") == set()
    assert release_deps("rook-ceph") == set()
    assert "rook-ceph" not in release_deps("keda") and "keda" not in release_deps("rook-ceph-cluster")
    assert {"linkerd-crds", "linkerd-cni", "cert-manager"} <= release_deps("linkerd-control-plane")


def test_the_platform_plans_in_existing_cluster_mode():
    r = stack_run("dev", {"coprs:cluster.mode": "existing", "coprs:network": None, "coprs:nodeGroups": None})
    assert not r.of_type("openstack:compute/instance:Instance")
    rel = releases(r)
    assert set(PINNED) <= set(rel)
    provider = {x.provider_urn for x in rel.values()}
    assert len(provider) == 1 and "pulumi:providers:kubernetes" in provider.pop()
    auth = [x for x in r.of_type("kubernetes:policy.linkerd.io/v1alpha1:NetworkAuthentication")]
    cidrs = {n["cidr"] for a in auth for n in a.inputs["spec"]["networks"]}
    assert cidrs == {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}  # private ranges, pod CIDR inside


def test_every_platform_object_uses_the_cluster_provider(any_stack):
    providers = {r.provider_urn for r in platform_objects(any_stack) if r.custom and r.type.startswith("kubernetes:")}
    assert len(providers) == 1
    assert providers.pop().endswith("cluster-k8s")
