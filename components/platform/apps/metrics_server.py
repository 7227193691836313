"""metrics-server (kube-system): resource metrics for `kubectl top` and the HPA; KEDA serves external metrics."""

from __future__ import annotations

from ..app import App, AppContext, Chart, ChartRelease
from ..placement import Resources

CHART = Chart("metrics-server", "https://kubernetes-sigs.github.io/metrics-server/", "3.13.1")


def values(ctx: AppContext) -> dict:
    return {
        "replicas": ctx.replicas(2, 1),
        "podDisruptionBudget": {"enabled": ctx.prod, "maxUnavailable": 1},
        "affinity": ctx.affinity(),
        "resources": ctx.resources("metrics-server", Resources("100m", "200Mi", memory_limit="400Mi")).render(),
        # Kubelet serving certificates are signed by the cluster CA (kubelet-csr-approver), so no insecure TLS.
        "metrics": {"enabled": True},
        "serviceMonitor": {"enabled": ctx.service_monitors, "interval": "2m"},
    }


APP = App(
    name="metrics-server",
    namespace="kube-system",
    releases=(ChartRelease(CHART, values),),
    description="resource metrics API (metrics.k8s.io)",
)
