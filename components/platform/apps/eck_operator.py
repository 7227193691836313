"""ECK (infra): the Elastic Cloud on Kubernetes operator 3.5.0 (Elasticsearch and Kibana 8.x/9.x only).

- chart `eck-operator` 3.5.0 with its `eck-operator-crds` subchart (`installCRDs`: templates, upgraded);
- manages only the namespaces of the two clusters (`managedNamespaces`: database, security);
- restricted: the chart's security contexts plus seccomp; `setDefaultSecurityContext` stays on for the
  pods it creates and the Elasticsearch/Kibana pod templates set theirs explicitly (elasticsearch.py);
- webhook on 9443 (API server → operator through the default deny and the mesh); the operator calls
  the Elasticsearch APIs (9200) of the clusters it manages; metrics on 9115 (PodMonitor), no telemetry.
"""

from __future__ import annotations

from ..app import App, AppContext, Chart, ChartRelease, Webhook
from ..claims import ELASTICSEARCH_NAMESPACES, ELASTICSEARCH_PORT
from ..datastore import RESTRICTED_POD, restricted_container
from ..flows import Flow, pods, tcp
from ..placement import Resources

CHART = Chart("eck-operator", "https://helm.elastic.co", "3.5.0")
NAMESPACE = "infra"
CRDS = ("elasticsearch.k8s.elastic.co", "kibana.k8s.elastic.co")
OPERATOR_PODS = {"app.kubernetes.io/name": "elastic-operator", "app.kubernetes.io/instance": "eck-operator"}
METRICS_PORT = 9115


def values(ctx: AppContext) -> dict:
    return {
        "installCRDs": True,
        "replicaCount": 1,  # leader election: one active operator; a restart is harmless to the clusters
        "managedNamespaces": sorted(set(ELASTICSEARCH_NAMESPACES.values())),
        "resources": ctx.resources("operator", Resources("100m", "150Mi", memory_limit="512Mi")).render(),
        "podSecurityContext": RESTRICTED_POD,
        "securityContext": restricted_container(readOnlyRootFilesystem=True),
        "affinity": ctx.affinity(),
        "webhook": {"enabled": True, "failurePolicy": "Fail" if ctx.prod else "Ignore"},
        "telemetry": {"disabled": True},
        "config": {"metrics": {"port": str(METRICS_PORT)}, "setDefaultSecurityContext": "true"},
        "podMonitor": {"enabled": ctx.service_monitors, "interval": "2m"},
        "serviceMonitor": {"enabled": False},
    }


APP = App(
    name="eck-operator",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values, crds=CRDS),),
    webhooks=(Webhook("webhook", OPERATOR_PODS, 9443, "API server → ECK webhook"),),
    flows=(
        *(Flow("eck-elasticsearch", pods(NAMESPACE, OPERATOR_PODS),
               pods(ns, {"common.k8s.elastic.co/type": "elasticsearch"}), tcp(ELASTICSEARCH_PORT),
               "operator → Elasticsearch API of the clusters it manages")
          for ns in sorted(set(ELASTICSEARCH_NAMESPACES.values()))),
    ),
    description="Elasticsearch and Kibana operator (ECK)",
)
