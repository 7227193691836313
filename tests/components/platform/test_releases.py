"""Helm releases: pinned, from https/oci, shared defaults, no generated secret in values, CRD-first ordering."""

from __future__ import annotations

import re

from components.platform.app import logical
from components.platform.apps import APPS
from offline.harness import SECRET, iter_values
from tests.components.platform.helpers import (CONFIG_FILE, RELEASE, ancestors, api_of, is_custom_resource, waiting_apps,
                                               platform_objects, releases)
from tests.conftest import stack_run

SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


def _declared_releases() -> dict[str, object]:
    waiting = waiting_apps()
    return {r.release_name: r for a in APPS if a.name not in waiting for r in a.releases}


def _crd_providers() -> dict[str, str]:
    """CRD API group → the release or CRD bundle (ConfigFile) that installs it, as the app modules declare."""
    out = {g: r.release_name for a in APPS for r in a.releases for g in r.crds}
    out.update({g: logical(a.name, b.name) for a in APPS for b in a.crd_bundles for g in b.crds})
    return out


def test_every_declared_release_is_deployed_as_pinned(any_stack):
    rel = releases(any_stack)
    for name, declared in _declared_releases().items():
        i = rel[name].inputs
        assert (i["repositoryOpts"]["repo"], i["chart"], i["version"]) == (
            declared.chart.repository, declared.chart.name, declared.chart.version), name


def test_every_release_is_pinned_and_uses_the_shared_defaults(any_stack):
    rel = any_stack.of_type(RELEASE)
    assert len(rel) >= len(_declared_releases())
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


def _provider_urns(result) -> dict[str, str]:
    out = {r.name: r.urn for r in result.of_type(RELEASE)}
    out.update({r.name: r.urn for r in result.of_type(CONFIG_FILE)})
    return out


def test_crd_providers_precede_their_custom_resources(any_stack):
    providers, by_group = _provider_urns(any_stack), _crd_providers()
    crs = [r for r in platform_objects(any_stack) if is_custom_resource(r)]
    assert crs
    for r in crs:
        group = api_of(r.type)[0]
        assert group in by_group, group
        assert providers[by_group[group]] in ancestors(any_stack, r), r.name


def test_releases_rendering_custom_resources_follow_their_crds(any_stack):
    providers, by_group = _provider_urns(any_stack), _crd_providers()
    rel = releases(any_stack)
    for name, declared in _declared_releases().items():
        needs = {providers[by_group[g]] for g in declared.uses_crds}
        assert needs <= ancestors(any_stack, rel[name]), name


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
    assert set(_declared_releases()) <= set(rel)
    provider = {x.provider_urn for x in rel.values()}
    assert len(provider) == 1 and "pulumi:providers:kubernetes" in provider.pop()
    auth = [x for x in r.of_type("kubernetes:policy.linkerd.io/v1alpha1:NetworkAuthentication")]
    cidrs = {n["cidr"] for a in auth for n in a.inputs["spec"]["networks"]}
    assert cidrs == {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}  # private ranges, pod CIDR inside


def test_every_platform_object_uses_the_cluster_provider(any_stack):
    providers = {r.provider_urn for r in platform_objects(any_stack) if r.custom and r.type.startswith("kubernetes:")}
    assert len(providers) == 1
    assert providers.pop().endswith("cluster-k8s")
