"""MongoDB Controllers for Kubernetes (infra): the MCK operator 1.9.1 (successor of the deprecated community operator).

- chart `mongodb-kubernetes` 1.9.1 (mongodb/helm-charts); CRDs in crds/ (never upgraded by Helm), so
  they come from the tag's `public/crds.yaml` as a CRD bundle and the chart skips them;
- watches `database` (the `mongodb` replica set); operator restricted (uid 2000, seccomp);
  `managedSecurityContext: false` keeps the operator's restricted defaults for the pods it creates,
  and the MongoDBCommunity CR sets its pod template's security contexts explicitly (mongodb.py);
- its webhook (port 1993, registered by the operator itself) is reached through the default deny and
  the mesh; telemetry collection and sending off.
"""

from __future__ import annotations

from ..app import App, AppContext, Chart, ChartRelease, CrdBundle, Webhook
from ..claims import MONGODB_NAMESPACE
from ..datastore import RESTRICTED_POD, restricted_container
from ..placement import Resources

VERSION = "1.9.1"
CHART = Chart("mongodb-kubernetes", "https://mongodb.github.io/helm-charts", VERSION)
CRD_URL = f"https://raw.githubusercontent.com/mongodb/mongodb-kubernetes/{VERSION}/public/crds.yaml"
NAMESPACE = "infra"
CRDS = ("mongodbcommunity.mongodb.com", "mongodb.com")
OPERATOR_NAME = "mongodb-kubernetes-operator"
OPERATOR_PODS = {"app.kubernetes.io/name": OPERATOR_NAME}
OFF = {"enabled": False}


def values(ctx: AppContext) -> dict:
    return {
        "managedSecurityContext": False,
        "operator": {
            "replicas": 1,
            "watchNamespace": MONGODB_NAMESPACE,
            "watchedResources": ["mongodbcommunity"],
            "enableClusterMongoDBRoles": False,  # no ClusterMongoDBRole is used: no cluster-wide role for them
            "affinity": ctx.affinity(),
            "resources": ctx.resources("operator", Resources("100m", "200Mi", memory_limit="1Gi")).render(),
            "podSecurityContext": {**RESTRICTED_POD, "runAsUser": 2000},
            "securityContext": restricted_container(readOnlyRootFilesystem=True),
            "telemetry": {"enabled": False, "collection": {"clusters": OFF, "deployments": OFF, "operators": OFF},
                          "send": OFF},
        },
    }


APP = App(
    name="mongodb-kubernetes",
    namespace=NAMESPACE,
    crd_bundles=(CrdBundle("mck-crds", CRD_URL, CRDS),),
    releases=(ChartRelease(CHART, values, skip_crds=True),),
    webhooks=(Webhook("webhook", OPERATOR_PODS, 1993, "API server → MCK webhook"),),
    description="MongoDB operator (MongoDB Controllers for Kubernetes)",
)
