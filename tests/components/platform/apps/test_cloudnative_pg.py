"""CloudNativePG operator + Barman Cloud plugin: pinned charts, restricted pods, webhook through deny and mesh."""

from __future__ import annotations

from components.platform.apps import cloudnative_pg
from tests.components.platform.apps.data import assert_restricted_pod, claims_run, render_pods
from tests.components.platform.helpers import manifest, releases


def test_releases_in_order_after_cert_manager():
    r = claims_run("prod")
    rel = releases(r)
    assert rel["cloudnative-pg"].inputs["version"] == "0.29.0"
    assert rel["plugin-barman-cloud"].inputs["version"] == "0.7.0"
    assert rel["cloudnative-pg"].urn in rel["plugin-barman-cloud"].dependencies
    assert rel["cloudnative-pg"].inputs["values"]["crds"] == {"create": True}


def test_webhook_reachable_through_default_deny_and_mesh():
    r = claims_run("prod")
    names = {(x.type.split(":")[-1], x.inputs["metadata"]["name"]) for x in r.resources if x.type.startswith("kubernetes:") and "metadata" in x.inputs}
    assert ("NetworkPolicy", "allow-cloudnative-pg-webhook-in") in names
    assert ("Server", "cloudnative-pg-webhook") in names and ("AuthorizationPolicy", "cloudnative-pg-webhook") in names
    server = next(manifest(x) for x in r.resources if x.type.endswith(":Server") and x.inputs["metadata"]["name"] == "cloudnative-pg-webhook")
    assert server["spec"]["port"] == 9443


def test_rendered_operator_pods_are_restricted():
    r = claims_run("prod")
    for chart, release in (("cloudnative-pg-0.29.0", "cloudnative-pg"), ("plugin-barman-cloud-0.7.0", "plugin-barman-cloud")):
        for pod in render_pods(chart, releases(r)[release].inputs["values"]):
            assert_restricted_pod(pod)
    assert cloudnative_pg.PLUGIN_NAME == "barman-cloud.cloudnative-pg.io"
