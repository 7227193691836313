"""Linkerd viz: pinned chart, its dashboard route, and Prometheus from the app that plays "monitoring"."""

from __future__ import annotations

from tests.components.platform.helpers import policy_names, releases
from tests.components.platform.sample_apps import MONITORING, extended_run


def test_pinned_chart_on_the_infra_nodes(any_stack):
    v = releases(any_stack)["linkerd-viz"].inputs
    assert (v["repositoryOpts"]["repo"], v["chart"], v["version"]) == ("https://helm.linkerd.io/edge", "linkerd-viz", "2026.8.3")
    assert v["values"]["nodeSelector"] == {"node-role.kubernetes.io/infra": ""}
    assert v["values"]["prometheus"] == {"enabled": False}


def test_dashboard_answers_only_under_its_host(dev):
    web = releases(dev)["linkerd-viz"].inputs["values"]["dashboard"]
    assert web["enforcedHostRegexp"] == "^linkerd\\." + dev.config.domain.replace(".", "\\.") + "$"
    assert dev.outputs["urls"]["linkerd"] == f"https://linkerd.{dev.config.domain}"


def test_prometheus_comes_from_the_monitoring_app(dev):
    assert "allow-linkerd-viz-prometheus-to-monitoring" not in policy_names(dev, "networking")
    with_monitoring = extended_run()
    values = releases(with_monitoring)["linkerd-viz"].inputs["values"]
    assert values["prometheusUrl"] == MONITORING.endpoints["prometheus"]
    assert "allow-linkerd-viz-prometheus-to-monitoring" in policy_names(with_monitoring, "networking")
    assert "allow-linkerd-viz-prometheus-from-networking" in policy_names(with_monitoring, "monitoring")
