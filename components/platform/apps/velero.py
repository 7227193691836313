"""Velero (namespace `velero`): scheduled backups of namespaces and their volumes to the backups bucket.

- chart vmware-tanzu `velero` 12.1.0 (Velero v1.18.1), CRDs from the chart plus its upgrade-CRDs hook Job;
- AWS object-store plugin v1.14.0 (the release line for Velero 1.18, velero-plugin-for-aws README on
  branch release-1.14), as an init container;
- one BackupStorageLocation `default` on `<bucketPrefix>-backups` (created by the storage layer, never by
  Velero), path-style with the endpoint as s3Url, `checksumAlgorithm: ""` (Ceph RGW and other S3-compatible
  stores reject the SDK's default checksums); credentials from the Secret `velero-s3-credentials` (key
  `cloud`) that the storage layer serves for the app's `Bucket` claim (the release waits for it; without
  object storage Velero is off: "needs object-storage");
- the node agent (DaemonSet) for Kopia file-system backups of pod volumes: it reads
  /var/lib/kubelet/pods through hostPath as root, hence its own privileged namespace;
- the Kopia repository password is generated (pulumi-random, protected: losing it loses every backup)
  into `velero-repo-credentials` before Velero starts, instead of Velero's built-in static default; it is
  in the stack's `credentials` output (needed for a restore on a new cluster).

It plays "backups": stateful apps declare their `backups` in their own module and come after Velero.
"""

from __future__ import annotations

from ...storage.backups import DEFAULT_RETENTION_DAYS, STORAGE_LOCATION, VELERO_NAMESPACE
from ..app import App, AppContext, Bucket, Chart, ChartRelease, GeneratedSecret
from ..flows import WORLD, Flow, Port, pods
from ..placement import Resources

CHART = Chart("velero", "https://vmware-tanzu.github.io/helm-charts", "12.1.0")
IMAGE = {"repository": "docker.io/velero/velero", "tag": "v1.18.1"}
AWS_PLUGIN = "docker.io/velero/velero-plugin-for-aws:v1.14.0"
REPOSITORY_SECRET = "velero-repo-credentials"  # the name Velero 1.18 reads (pkg/repository/keys)
REPOSITORY_KEY = "repository-password"
VELERO_CREDENTIALS = "velero-s3-credentials"
BUCKET_PREFIX = "velero"  # Velero's objects under velero/ in the backups bucket (room for others, e.g. CNPG)
SERVER_PODS = {"app.kubernetes.io/name": "velero", "name": "velero"}
NODE_AGENT_PODS = {"name": "node-agent"}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}


def backup_storage_location(ctx: AppContext) -> dict:
    store = ctx.cfg.object_storage
    assert store is not None  # the Bucket claim keeps Velero off without object storage
    config = {
        "region": store.region,
        "s3ForcePathStyle": str(store.addressing_style == "path").lower(),
        "s3Url": store.endpoint.rstrip("/"),
        "checksumAlgorithm": "",
    }
    if not store.verify_tls:
        config["insecureSkipTLSVerify"] = "true"
    return {
        "name": STORAGE_LOCATION,
        "provider": "aws",
        "bucket": store.bucket("backups"),
        "prefix": BUCKET_PREFIX,
        "default": True,
        "accessMode": "ReadWrite",
        "validationFrequency": "1h",
        "credential": {"name": VELERO_CREDENTIALS, "key": "cloud"},
        "config": config,
    }


def values(ctx: AppContext) -> dict:
    return {
        "image": IMAGE,
        "initContainers": [{
            "name": "velero-plugin-for-aws",
            "image": AWS_PLUGIN,
            "imagePullPolicy": "IfNotPresent",
            "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
            "securityContext": RESTRICTED_CONTAINER,
            "resources": ctx.resources("awsPlugin", Resources("10m", "32Mi", memory_limit="128Mi")).render(),
        }],
        "credentials": {"useSecret": True, "existingSecret": VELERO_CREDENTIALS},
        "backupsEnabled": True,
        # No volume snapshot provider: volumes are backed up by the node agent (Kopia) to the bucket.
        "snapshotsEnabled": False,
        "configuration": {
            "backupStorageLocation": [backup_storage_location(ctx)],
            "volumeSnapshotLocation": [],
            "uploaderType": "kopia",
            "defaultVolumesToFsBackup": True,
            "defaultBackupTTL": f"{DEFAULT_RETENTION_DAYS * 24}h",
            "logFormat": "json",
        },
        "upgradeCRDs": True,
        "upgradeJobResources": ctx.resources("upgradeCrds", Resources("10m", "64Mi", memory_limit="256Mi")).render(),
        "deployNodeAgent": True,
        "nodeAgent": {
            "podVolumePath": "/var/lib/kubelet/pods",
            # Pod volumes live on every worker, tainted ones included.
            "tolerations": [{"operator": "Exists"}],
            "resources": ctx.resources("nodeAgent", Resources("100m", "256Mi", memory_limit="2Gi")).render(),
        },
        "podSecurityContext": {"runAsNonRoot": True, "runAsUser": 1002, "runAsGroup": 1000, "fsGroup": 1000,
                               "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": RESTRICTED_CONTAINER,
        "resources": ctx.resources("velero", Resources("100m", "128Mi", memory_limit="512Mi")).render(),
        "affinity": ctx.affinity(),
        "metrics": {
            "enabled": True,
            "serviceMonitor": {"enabled": ctx.service_monitors, "autodetect": False},
            "nodeAgentPodMonitor": {"enabled": ctx.service_monitors, "autodetect": False},
        },
    }


APP = App(
    name="velero",
    namespace=VELERO_NAMESPACE,
    releases=(ChartRelease(CHART, values, crds=("velero.io",)),),
    roles=("backups",),
    claims=(Bucket(suffix="backups", secret=VELERO_CREDENTIALS, format="aws-credentials-file"),),
    # The Kopia repository password: generated once, kept in state, needed for every restore.
    secrets=(GeneratedSecret(REPOSITORY_SECRET, (REPOSITORY_KEY,), length=48, protect=True),),
    flows=(
        # HTTPS to the object store (outside the cluster: OBS, or RGW/MinIO behind their own endpoint).
        Flow("velero-object-store", pods(VELERO_NAMESPACE), WORLD, (Port(443),), "Velero and node agents → S3"),
    ),
    description="scheduled backups of namespaces and volumes (Kopia) to the backups bucket",
)
