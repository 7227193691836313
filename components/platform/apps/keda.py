"""KEDA (infra): event-driven autoscaling (ScaledObject/ScaledJob) and the external metrics API."""

from __future__ import annotations

from ..app import App, AppContext, Chart, ChartRelease, Webhook
from ..placement import Resources

CHART = Chart("keda", "https://kedacore.github.io/charts", "2.20.2")
NAMESPACE = "infra"
WEBHOOK_PODS = {"app.kubernetes.io/name": "keda-admission-webhooks"}
METRICS_API_PODS = {"app.kubernetes.io/name": "keda-operator-metrics-apiserver"}
OPERATOR_PODS = {"app.kubernetes.io/name": "keda-operator"}  # the scalers run here (they reach the event sources)


def values(ctx: AppContext) -> dict:
    r = ctx.replicas(2, 1)
    res = Resources("100m", "100Mi", memory_limit="1000Mi")
    monitor = {"enabled": ctx.service_monitors, "serviceMonitor": {"enabled": ctx.service_monitors, "interval": "2m"}}
    return {
        "crds": {"install": True},
        "operator": {"replicaCount": r},
        "metricsServer": {"replicaCount": r},
        "webhooks": {"enabled": True, "replicaCount": r},
        "podDisruptionBudget": {c: {"maxUnavailable": 1} for c in ("operator", "metricServer", "webhooks")} if ctx.prod else {},
        "affinity": ctx.affinity(),
        "resources": {
            "operator": ctx.resources("operator", res).render(),
            "metricServer": ctx.resources("metricServer", res).render(),
            "webhooks": ctx.resources("webhooks", res).render(),
        },
        "prometheus": {"operator": monitor, "metricServer": monitor, "webhooks": monitor},
    }


APP = App(
    name="keda",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values, crds=("keda.sh", "eventing.keda.sh")),),
    webhooks=(
        Webhook("webhooks", WEBHOOK_PODS, 9443, "API server → admission webhooks"),
        Webhook("metrics-api", METRICS_API_PODS, 6443, "API server → external metrics API"),
    ),
    description="event-driven autoscaling",
)
