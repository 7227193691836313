"""Strimzi (infra): the Kafka operator 1.2.0 (KRaft only, API `kafka.strimzi.io/v1`).

- chart `strimzi-kafka-operator` 1.2.0 (Chart.yaml holds a placeholder; the release stamps the tag); its
  CRDs sit in crds/, which Helm installs once and never upgrades, so they come from the release's
  `strimzi-crds-1.2.0.yaml` as a CRD bundle and the chart skips them;
- watches its own namespace (the `kafka` cluster, its node pools, users and topics live in infra);
- every pod it creates is PSS restricted: `STRIMZI_POD_SECURITY_PROVIDER_CLASS=restricted`, and the
  Kafka CRs set their templates' security contexts explicitly too (kafka.py);
- no generated NetworkPolicies (the platform's default deny and flows own the network), no webhook.
"""

from __future__ import annotations

from ..app import App, AppContext, Chart, ChartRelease, CrdBundle
from ..datastore import RESTRICTED_POD, restricted_container
from ..placement import Resources

VERSION = "1.2.0"
CHART = Chart("strimzi-kafka-operator", "https://strimzi.io/charts/", VERSION)
CRD_URL = f"https://github.com/strimzi/strimzi-kafka-operator/releases/download/{VERSION}/strimzi-crds-{VERSION}.yaml"
NAMESPACE = "infra"
CRDS = ("kafka.strimzi.io", "core.strimzi.io")
OPERATOR_PODS = {"name": "strimzi-cluster-operator", "strimzi.io/kind": "cluster-operator"}


def values(ctx: AppContext) -> dict:
    return {
        "replicas": 1,
        "watchNamespaces": [],
        "watchAnyNamespace": False,
        "generateNetworkPolicy": False,
        "extraEnvs": [{"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"}],
        "podSecurityContext": RESTRICTED_POD,
        "securityContext": restricted_container(readOnlyRootFilesystem=True),
        "resources": ctx.resources("operator", Resources("100m", "512Mi", "500m", "1Gi")).render(),
        "affinity": ctx.affinity(),
        "podDisruptionBudget": {"enabled": False},
        "dashboards": {"enabled": False},
    }


def objects(ctx: AppContext) -> None:
    # the cluster operator's metrics (container port `http`, /metrics)
    ctx.monitor("strimzi-cluster-operator", OPERATOR_PODS, {"port": "http", "path": "/metrics", "interval": "2m"},
                depends_on=(ctx.releases["strimzi"],))


APP = App(
    name="strimzi",
    namespace=NAMESPACE,
    crd_bundles=(CrdBundle("strimzi-crds", CRD_URL, CRDS),),
    releases=(ChartRelease(CHART, values, name="strimzi", skip_crds=True),),
    objects=objects,
    description="Kafka operator (Strimzi, KRaft)",
)
