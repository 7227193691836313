"""KEDA: pinned chart, its webhooks and external metrics API reached by the API server, resource overrides."""

from __future__ import annotations

from tests.components.platform.helpers import INFRA_AFFINITY, authorized_ports, pinned, platform_run, policy_names, releases


def test_pinned_chart_on_the_infra_nodes(any_stack):
    assert pinned(any_stack, "keda") == ("https://kedacore.github.io/charts", "keda", "2.20.2", "infra")
    assert releases(any_stack)["keda"].inputs["values"]["affinity"]["nodeAffinity"] == INFRA_AFFINITY


def test_webhooks_are_reachable_and_authorized(dev):
    assert {"allow-keda-webhooks-in", "allow-keda-metrics-api-in"} <= policy_names(dev, "infra")
    assert {9443, 6443} <= authorized_ports(dev, "infra")


def test_resources_can_be_overridden_per_component():
    r = platform_run("dev", {"coprs:platform.apps.keda.settings.resources": {"operator": {"memoryLimit": "2Gi"}}})
    res = releases(r)["keda"].inputs["values"]["resources"]
    assert res["operator"]["limits"]["memory"] == "2Gi" and res["webhooks"]["limits"]["memory"] == "1000Mi"
