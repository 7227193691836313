"""Linkerd viz (networking): the mesh dashboard, tap and metrics API, on the platform's Prometheus.

The chart's own Prometheus is off; metrics come from the app that plays "monitoring" (PodMonitor of the
proxies; its `endpoints["prometheus"]`, by default where kube-prometheus-stack serves it). The chart ships the Servers/AuthorizationPolicies of its own
API-server-facing endpoints (tap, tap-injector), so it uses the policy.linkerd.io CRDs.
"""

from __future__ import annotations

from ..app import App, AppContext, Chart, ChartRelease, UiRoute
from ..flows import HOSTS, MESHED, Flow, Peer, Port, pods, tcp
from ..placement import Resources
from .linkerd import NAMESPACE, REPO, VERSION

CHART = Chart("linkerd-viz", REPO, VERSION)
PROMETHEUS_URL = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
VIZ = {"linkerd.io/extension": "viz"}
TAP_PODS = {**VIZ, "component": "tap"}


def values(ctx: AppContext) -> dict:
    r = ctx.replicas(2, 1)
    monitoring = ctx.registry.app_for("monitoring")

    def res(component: str, default: Resources) -> dict:
        return ctx.resources(component, default).linkerd()

    return {
        "linkerdNamespace": NAMESPACE,
        "prometheus": {"enabled": False},
        "prometheusUrl": (monitoring.endpoints.get("prometheus") if monitoring else None) or PROMETHEUS_URL,
        "nodeSelector": ctx.node_selector(),
        "enablePodAntiAffinity": ctx.prod,
        "enablePodDisruptionBudget": ctx.prod,
        "dashboard": {
            "replicas": r,
            # The dashboard answers only under its public host name (DNS rebinding protection).
            "enforcedHostRegexp": "^" + ctx.hostname("linkerd").replace(".", r"\.") + "$",
            "resources": res("web", Resources("5m", "32Mi", memory_limit="128Mi")),
        },
        "metricsAPI": {"replicas": r, "resources": res("metricsAPI", Resources("5m", "64Mi", memory_limit="256Mi"))},
        "tap": {"replicas": r, "resources": res("tap", Resources("10m", "100Mi", memory_limit="250Mi"))},
        "tapInjector": {"replicas": r, "resources": res("tapInjector", Resources("5m", "20Mi", memory_limit="64Mi"))},
    }


APP = App(
    name="linkerd-viz",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values, uses_crds=("policy.linkerd.io",)),),
    flows=(
        Flow("linkerd-tap-api", HOSTS, pods(NAMESPACE, TAP_PODS), tcp(8089), "API server → tap (aggregated API)"),
        Flow("linkerd-tap-injector", HOSTS, pods(NAMESPACE, {**VIZ, "component": "tap-injector"}), tcp(8443), "API server → webhook"),
        Flow("linkerd-tap", pods(NAMESPACE, TAP_PODS), pods(MESHED), (Port(4190),), "tap reads every proxy"),
        Flow("linkerd-viz-prometheus", pods(NAMESPACE, {**VIZ, "component": "metrics-api"}), Peer(role="monitoring"),
             tcp(9090), "metrics API queries Prometheus"),
    ),
    routes=(UiRoute("linkerd", "web", 8084, oidc_client="linkerd", websocket=True),),
    depends_on=("linkerd",),
    description="mesh dashboard",
)
