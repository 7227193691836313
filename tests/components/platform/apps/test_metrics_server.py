"""metrics-server: pinned chart in kube-system, on the infra nodes, kubelet TLS verified."""

from __future__ import annotations

from tests.components.platform.helpers import INFRA_AFFINITY, pinned, releases


def test_pinned_chart_on_the_infra_nodes(any_stack):
    assert pinned(any_stack, "metrics-server") == (
        "https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.13.1", "kube-system")
    values = releases(any_stack)["metrics-server"].inputs["values"]
    assert values["affinity"]["nodeAffinity"] == INFRA_AFFINITY
    assert not any("insecure" in str(a) for a in values.get("args", []))
    assert values["podDisruptionBudget"]["enabled"] is (any_stack.config.environment == "prod")
