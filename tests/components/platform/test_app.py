"""The app framework (`app.py`): a new app added through a registry tuple gets its flows, mesh authorizations,
secrets, served claims, monitoring, volume size and backups from the mechanism alone."""

from __future__ import annotations


import pytest

from components.config import ConfigError
from components.platform.app import App, build_secret
from components.platform.apps import APPS
from components.platform.registry import select
from components.storage.backups import missing_backups
from offline.harness import run_stack
from tests.components.platform.helpers import (NETWORK_POLICY, ancestors, authorized_ports, in_namespace, platform_run,
                                               policy_names, releases)
from tests.components.platform.sample_apps import CORE_APPS, MONITORING, SAMPLES, extended_run

SECRET = "kubernetes:core/v1:Secret"


@pytest.fixture(scope="module")
def extended():
    return extended_run()


def _secret(run, namespace, name):
    (s,) = [r for r in in_namespace(run, SECRET, namespace) if r.inputs["metadata"]["name"] == name]
    return s


def test_a_new_app_is_its_module_and_one_registry_entry(extended):
    sample = releases(extended)["sample"]
    i = sample.inputs
    assert (i["chart"], i["version"], i["namespace"], i["repositoryOpts"]["repo"]) == (
        "sample", "1.2.3", "processing", "https://charts.example.org")
    assert i["atomic"] is True and i["createNamespace"] is False
    assert {a["name"] for a in extended.outputs["platform"]["apps"]} >= {"sample", "sample-queue"}
    # API-server egress and the webhook: the flow from the cluster hosts and the mesh authorization
    assert {"allow-apiserver-out", "allow-sample-webhook-in"} <= policy_names(extended, "processing")
    assert 8443 in authorized_ports(extended, "processing")
    # its generated secret before the release, and in the credentials output
    admin = _secret(extended, "processing", "sample-admin")
    assert admin.urn in sample.dependencies
    assert set(extended.raw_outputs["credentials"]["sample/sample-admin"]) == {"password"}


def test_claims_are_served_before_the_consumers_releases(extended):
    sample = releases(extended)["sample"]
    bucket = _secret(extended, "processing", "sample-s3")
    assert extended.by_urn()[bucket.parent].type == "coprs:storage:Storage"
    assert bucket.inputs["metadata"]["labels"]["coprs.esa.int/consumer"] == "sample"
    queue = _secret(extended, "processing", "sample-queue")
    assert extended.by_urn()[queue.parent].name == "sample-queue"  # created by the app that plays "queue"
    assert {bucket.urn, queue.urn} <= set(sample.dependencies)
    assert releases(extended)["sample-queue"].urn in ancestors(extended, sample)


def test_monitoring_is_on_by_default_once_an_app_plays_it(dev, extended):
    # no monitoring app: every switch is off, and nothing scrapes
    dev = platform_run("dev", {"coprs:platform.apps.kube-prometheus-stack.enabled": False})
    rel = releases(dev)
    assert rel["cert-manager"].inputs["values"]["prometheus"]["servicemonitor"]["enabled"] is False
    assert rel["keda"].inputs["values"]["prometheus"]["operator"]["serviceMonitor"]["enabled"] is False
    assert not any("scrape" in p.inputs["metadata"]["name"] for p in dev.of_type(NETWORK_POLICY))
    rel = releases(extended)
    assert rel["sample"].inputs["values"]["serviceMonitor"]["enabled"] is True
    assert rel["keda"].inputs["values"]["prometheus"]["operator"]["serviceMonitor"]["enabled"] is True
    assert rel["sample-monitoring"].urn in ancestors(extended, rel["keda"])
    assert "allow-scrape-from-monitoring" in policy_names(extended, "processing")
    assert "allow-scrape-to-processing" in policy_names(extended, "monitoring")


def test_monitoring_and_api_server_access_are_opt_out(extended):
    assert releases(extended)["sample-quiet"].inputs["values"]["serviceMonitor"]["enabled"] is False
    # The namespace's egress to the API is there only for the other apps of `security` that need it (Graylog).
    others = [a for a in APPS if a.namespace == "security" and a.apiserver and a.name != "sample-quiet"]
    assert ("allow-apiserver-out" not in policy_names(extended, "security")) or others
    assert "sample-monitoring" not in {a["name"]: a for a in extended.outputs["platform"]["apps"]}["sample-quiet"]["after"]


def test_storage_gb_is_honoured_and_refused_where_there_is_no_volume(extended):
    r = platform_run("dev", {"coprs:platform.apps.sample.storageGb": 50}, apps=CORE_APPS + SAMPLES)
    assert releases(r)["sample"].inputs["values"]["persistence"]["size"] == "50Gi"
    assert releases(extended)["sample"].inputs["values"]["persistence"]["size"] == "20Gi"
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.keda\.storageGb = 5: keda has no volume to size"):
        platform_run("dev", {"coprs:platform.apps.keda.storageGb": 5})


def test_validate_runs_before_any_resource_and_config_errors_name_the_key(dev):
    seen = []

    def validate(ctx):
        seen.append(ctx.component)
        ctx.config_error("mode", "fast", "one of safe, slow")

    with pytest.raises(ConfigError, match=r"^invalid stack configuration: coprs:platform\.apps\.checked\.settings\.mode = "
                                          r"'fast': one of safe, slow$"):
        select(dev.config, CORE_APPS + (App(name="checked", namespace="infra", validate=validate),))
    assert seen == [None]  # no component yet: nothing of the app (or the stack) is declared


def test_a_secret_from_config_needs_its_key():
    def program():
        import pulumi
        build_secret("sample", "token", ("token",), "infra", pulumi.ResourceOptions(), from_config="sampleToken")

    with pytest.raises(ConfigError, match=r"coprs:sampleToken is required by sample \(pulumi config set --secret"):
        run_stack("dev", program=program)


def test_a_stateful_app_without_the_backups_app_is_reported():
    r = platform_run("dev", {"coprs:platform.apps.velero.enabled": False}, apps=CORE_APPS + SAMPLES)
    assert not r.of_type("kubernetes:velero.io/v1:Schedule")
    assert [m for m in missing_backups(r.resources) if m in {a.name for a in SAMPLES}] == ["sample"]
    assert MONITORING.name in {a["name"] for a in r.outputs["platform"]["apps"]}
