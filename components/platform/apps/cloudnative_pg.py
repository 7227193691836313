"""CloudNativePG (infra): the PostgreSQL operator and its Barman Cloud plugin.

- chart `cloudnative-pg` 0.29.0 (operator 1.30.0), CRDs as templates (`crds.create`, upgraded with the
  chart); cluster-wide, so the `postgresql` Cluster lives in `database`;
- chart `plugin-barman-cloud` 0.7.0 (plugin v0.13.0): WAL archiving and base backups to S3 through
  CNPG-I (the in-tree `barmanObjectStore` is being phased out since CNPG 1.26); its gRPC channel to the
  operator uses cert-manager certificates (hence after cert-manager);
- both run restricted (the charts' defaults, set explicitly here); the webhooks (9443) are reached by the
  API server through the default deny and the mesh; the operator reaches the instance managers (8000).
"""

from __future__ import annotations

from ..app import App, AppContext, Chart, ChartRelease, Webhook
from ..claims import POSTGRESQL_NAMESPACE
from ..datastore import RESTRICTED_POD, restricted_container
from ..flows import Flow, pods, tcp
from ..placement import Resources

REPO = "https://cloudnative-pg.github.io/charts"
OPERATOR = Chart("cloudnative-pg", REPO, "0.29.0")
PLUGIN = Chart("plugin-barman-cloud", REPO, "0.7.0")
NAMESPACE = "infra"
CRDS = "postgresql.cnpg.io"
PLUGIN_CRDS = "barmancloud.cnpg.io"
PLUGIN_NAME = "barman-cloud.cloudnative-pg.io"  # the plugin's CNPG-I name (Cluster.spec.plugins[].name)
OPERATOR_PODS = {"app.kubernetes.io/name": "cloudnative-pg", "app.kubernetes.io/instance": "cloudnative-pg"}
INSTANCE_PODS = {"cnpg.io/podRole": "instance"}
SECURITY = {"podSecurityContext": RESTRICTED_POD,
            "containerSecurityContext": restricted_container(readOnlyRootFilesystem=True, runAsUser=10001,
                                                             runAsGroup=10001)}


def operator_values(ctx: AppContext) -> dict:
    return {
        "replicaCount": ctx.replicas(2, 1),
        "crds": {"create": True},
        "config": {"clusterWide": True},
        **SECURITY,
        "resources": ctx.resources("operator", Resources("100m", "200Mi", memory_limit="512Mi")).render(),
        "affinity": ctx.affinity(),
        "monitoring": {"podMonitorEnabled": ctx.service_monitors, "grafanaDashboard": {"create": False}},
    }


def plugin_values(ctx: AppContext) -> dict:
    return {
        "replicaCount": 1,
        "crds": {"create": True},
        **SECURITY,
        "resources": ctx.resources("barmanCloud", Resources("50m", "64Mi", memory_limit="256Mi")).render(),
        "affinity": ctx.affinity(),
    }


APP = App(
    name="cloudnative-pg",
    namespace=NAMESPACE,
    releases=(
        ChartRelease(OPERATOR, operator_values, crds=(CRDS,)),
        ChartRelease(PLUGIN, plugin_values, crds=(PLUGIN_CRDS,), uses_crds=("cert-manager.io",)),
    ),
    webhooks=(Webhook("webhook", OPERATOR_PODS, 9443, "API server → CNPG webhooks"),),
    flows=(
        Flow("cnpg-instance-manager", pods(NAMESPACE, OPERATOR_PODS), pods(POSTGRESQL_NAMESPACE, INSTANCE_PODS),
             tcp(8000), "operator → instance managers (status, promotion)"),
    ),
    depends_on=("cert-manager",),
    description="PostgreSQL operator (CloudNativePG) and its Barman Cloud backup plugin",
)
