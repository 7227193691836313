"""Gateway API CRDs: one pinned bundle, before the apps that use them, which only order after it."""

from __future__ import annotations

from tests.components.platform.helpers import CONFIG_FILE, ancestors, platform_run, releases


def test_pinned_bundle_before_linkerd():
    full = platform_run("dev")
    (gateway,) = [x for x in full.of_type(CONFIG_FILE) if x.name == "gateway-api-gateway-api-crds"]
    assert gateway.inputs["file"] == ("https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/"
                                      "standard-install.yaml")
    assert gateway.urn in ancestors(full, releases(full)["linkerd-crds"])


def test_the_apps_that_use_it_only_order_after_it():
    r = platform_run("dev", {"coprs:platform.apps.gateway-api.enabled": False})
    assert "linkerd-control-plane" in releases(r) and "apisix" in releases(r)
    bundles = {x.name for x in r.of_type(CONFIG_FILE)}
    assert "gateway-api-gateway-api-crds" not in bundles and "apisix-apisix-crds" in bundles
