"""Rook-Ceph (rook-ceph): the operator, then the Ceph cluster on the rook_ceph nodes' raw data volumes.

Every Ceph daemon is placed on the rook_ceph nodes (required affinity on their label, toleration of
their taint); OSDs take every empty device there (the data volume of the node group). Storage classes:
`ceph-block` (RBD, default class) and `ceph-fs` (CephFS, RWX), both `reclaimPolicy: Retain`. Replica
counts come from `settings` (3 unless the stack says otherwise; a size of 1 needs Ceph's explicit
consent, `requireSafeReplicaSize: false`). No object store: S3 is the cloud's. The dashboard is
published at https://ceph.<domain> behind Keycloak OIDC.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from ..app import App, AppContext, AppSettings, Chart, ChartRelease, UiRoute
from ..flows import HOSTS, Flow, Port, pods
from ..placement import Resources, node_affinity, toleration

REPO = "https://charts.rook.io/release"
VERSION = "v1.20.6"
NAMESPACE = "rook-ceph"
NODE_GROUP = "rook_ceph"
DASHBOARD_PORT = 7000
CEPH_GROUPS = ("ceph.rook.io", "objectbucket.io", "csi.ceph.io")


class Settings(AppSettings):
    block_pool_replicas: int = Field(default=3, ge=1, le=7)
    filesystem_replicas: int = Field(default=3, ge=1, le=7)
    node_label: str = "node-role.kubernetes.io/rook_ceph"
    # Taint of the Ceph nodes (key[=value]:Effect); default: the rook_ceph node group's own taints.
    node_taints: Optional[list[str]] = None


def _placement(ctx: AppContext) -> dict:
    s: Settings = ctx.settings
    group = ctx.cfg.node_groups.get(NODE_GROUP)
    taints = s.node_taints if s.node_taints is not None else (group.taints if group else [f"{s.node_label}:NoSchedule"])
    return {**node_affinity(s.node_label), "tolerations": [toleration(t) for t in taints]}


def _replicated(size: int) -> dict:
    return {"size": size, "requireSafeReplicaSize": size > 1}


def check_replicas(ctx: AppContext) -> None:
    s: Settings = ctx.settings
    group = ctx.cfg.node_groups.get(NODE_GROUP)
    if group is None:
        return
    for key, n in (("blockPoolReplicas", s.block_pool_replicas), ("filesystemReplicas", s.filesystem_replicas)):
        if n > group.count:
            ctx.config_error(key, n, f"more replicas than rook_ceph nodes ({group.count}); failure domain is the host")


def _csi_secrets(kind: str) -> dict:
    prov, node = f"rook-csi-{kind}-provisioner", f"rook-csi-{kind}-node"
    return {
        "csi.storage.k8s.io/provisioner-secret-name": prov,
        "csi.storage.k8s.io/provisioner-secret-namespace": NAMESPACE,
        "csi.storage.k8s.io/controller-expand-secret-name": prov,
        "csi.storage.k8s.io/controller-expand-secret-namespace": NAMESPACE,
        "csi.storage.k8s.io/controller-publish-secret-name": prov,
        "csi.storage.k8s.io/controller-publish-secret-namespace": NAMESPACE,
        "csi.storage.k8s.io/node-stage-secret-name": node,
        "csi.storage.k8s.io/node-stage-secret-namespace": NAMESPACE,
        "csi.storage.k8s.io/fstype": "ext4",
    }


def operator_values(ctx: AppContext) -> dict:
    return {
        "crds": {"enabled": True},
        "nodeSelector": ctx.node_selector(),
        "resources": ctx.resources("operator", Resources("200m", "128Mi", memory_limit="512Mi")).render(),
        "monitoring": {"enabled": ctx.service_monitors},
        "csi": {"serviceMonitor": {"enabled": ctx.service_monitors, "interval": "2m"}},
    }


def cluster_values(ctx: AppContext) -> dict:
    s: Settings = ctx.settings
    placement = _placement(ctx)
    storage_class = {"enabled": True, "reclaimPolicy": "Retain", "allowVolumeExpansion": True,
                     "volumeBindingMode": "Immediate"}
    return {
        "operatorNamespace": NAMESPACE,
        "clusterName": NAMESPACE,
        "toolbox": {"enabled": True, "affinity": ctx.affinity(),
                    "resources": ctx.resources("toolbox", Resources("10m", "64Mi", memory_limit="256Mi")).render()},
        "monitoring": {"enabled": ctx.service_monitors, "createPrometheusRules": ctx.service_monitors},
        "cephClusterSpec": {
            "mon": {"count": 3, "allowMultiplePerNode": False},
            "mgr": {"count": 2, "allowMultiplePerNode": False, "modules": [{"name": "pg_autoscaler", "enabled": True}]},
            # Plain HTTP inside the cluster: APISIX terminates TLS for https://ceph.<domain>.
            "dashboard": {"enabled": True, "ssl": False, "port": DASHBOARD_PORT},
            "placement": {"all": placement},
            "storage": {"useAllNodes": True, "useAllDevices": True},
            "resources": {
                "mgr": ctx.resources("mgr", Resources("500m", "512Mi", memory_limit="1Gi")).render(),
                "mon": ctx.resources("mon", Resources("250m", "512Mi", memory_limit="2Gi")).render(),
                "osd": ctx.resources("osd", Resources("500m", "2Gi", memory_limit="6Gi")).render(),
            },
        },
        "cephBlockPools": [
            {
                "name": "ceph-blockpool",
                "spec": {"failureDomain": "host", "replicated": _replicated(s.block_pool_replicas)},
                "storageClass": {**storage_class, "name": "ceph-block", "isDefault": True,
                                 "parameters": {"imageFormat": "2", "imageFeatures": "layering", **_csi_secrets("rbd")}},
            }
        ],
        "cephFileSystems": [
            {
                "name": "ceph-fs",
                "spec": {
                    "metadataPool": {"replicated": _replicated(s.filesystem_replicas)},
                    "dataPools": [{"name": "replicated", "failureDomain": "host",
                                   "replicated": _replicated(s.filesystem_replicas)}],
                    "preserveFilesystemOnDelete": True,
                    "metadataServer": {
                        "activeCount": 1,
                        "activeStandby": True,
                        "placement": placement,
                        "priorityClassName": "system-cluster-critical",
                        "resources": ctx.resources("mds", Resources("500m", "2Gi", memory_limit="4Gi")).render(),
                    },
                },
                "storageClass": {**storage_class, "name": "ceph-fs", "isDefault": False, "pool": "replicated",
                                 "parameters": _csi_secrets("cephfs")},
            }
        ],
        "cephObjectStores": [],
    }


APP = App(
    name="rook-ceph",
    namespace=NAMESPACE,
    releases=(
        ChartRelease(Chart("rook-ceph", REPO, VERSION), operator_values, crds=CEPH_GROUPS),
        ChartRelease(Chart("rook-ceph-cluster", REPO, VERSION), cluster_values, uses_crds=("ceph.rook.io",)),
    ),
    flows=(
        Flow("ceph-clients", HOSTS, pods(NAMESPACE),
             (Port(3300), Port(6789), Port(6800, end_port=7568)),
             "kernel RBD/CephFS clients and CSI node plugins (host network) → mons and OSDs/MDS"),
    ),
    routes=(UiRoute("ceph", "rook-ceph-mgr-dashboard", DASHBOARD_PORT, oidc_client="ceph"),),
    settings=Settings,
    validate=check_replicas,
    description="Ceph block and file storage",
)
