"""Backups: how a stateful app declares its backup, and the stack-level check that every one did.

A stateful app says so in its app module and declares its `Backup` (what, how often, how long) there; the
app framework declares it (app and namespace default to the app's)::

    APP = App(name="openldap", namespace="iam", ..., stateful=True,
              backups=(Backup(selector={"app.kubernetes.io/name": "openldap"}),))

- `method="velero"` (default): a Velero `Schedule` in the Velero namespace backing up the app's namespace
  (optionally only the objects matching `selector`) with its pod volumes (Kopia file-system backup) to
  the backups bucket, kept `retention_days`.
- an app-native method (`cnpg-barman`, `elasticsearch-snapshot`, ...): the app configures its own tool
  (CNPG ScheduledBackup to the backups bucket, an Elasticsearch SLM policy on its snapshot bucket); the
  declaration is then a record ConfigMap in the app's namespace saying what runs, when, how long and how
  to restore, so operators and the check see it.

Every declaration carries the label `backup.coprs.esa.int/app: <app>`; `missing_backups()` compares them
with the stateful apps deployed in the stack (the apps whose module says `stateful=True`: their
`coprs:platform:App` component carries `stateful: true`), on recorded resources or on what the policy
pack sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Optional, Protocol

import pulumi
import pulumi_kubernetes as k8s

VELERO_NAMESPACE = "velero"
VELERO_GROUP = "velero.io"
VELERO_API = f"{VELERO_GROUP}/v1"
SCHEDULE_TYPE = "kubernetes:velero.io/v1:Schedule"
CONFIG_MAP_TYPE = "kubernetes:core/v1:ConfigMap"
APP_COMPONENT_TYPE = "coprs:platform:App"
STORAGE_LOCATION = "default"
LABEL = "backup.coprs.esa.int/app"
DEFAULT_SCHEDULE = "0 4 * * *"  # daily 04:00, the 2023 default (ICD backup interface)
DEFAULT_RETENTION_DAYS = 30

Method = Literal["velero", "cnpg-barman", "elasticsearch-snapshot", "export"]
CRON = re.compile(r"^(@(daily|hourly|weekly|monthly)|(\S+\s+){4}\S+)$")


@dataclass(frozen=True)
class Backup:
    """What a stateful app keeps, how often and for how long."""

    app: str = ""  # default: the declaring app
    namespace: str = ""  # default: the declaring app's namespace
    method: Method = "velero"
    schedule: str = DEFAULT_SCHEDULE
    retention_days: int = DEFAULT_RETENTION_DAYS
    selector: Mapping[str, str] = field(default_factory=dict)  # velero: objects to include (empty: whole namespace)
    volumes: bool = True  # velero: file-system backup of the pods' volumes (Kopia)
    bucket: str = "backups"  # bucket suffix the data goes to
    restore: str = ""  # one line: how to restore (the README runbook has the steps)

    def __post_init__(self) -> None:
        if not CRON.match(self.schedule):
            raise ValueError(f"backup of {self.app}: schedule {self.schedule!r} is not a cron expression")
        if self.retention_days < 1:
            raise ValueError(f"backup of {self.app}: retention_days must be >= 1")

    @property
    def ttl(self) -> str:
        return f"{self.retention_days * 24}h0m0s"

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: self.app, "app.kubernetes.io/part-of": "coprs"}

    @property
    def annotations(self) -> dict[str, str]:
        return {
            "backup.coprs.esa.int/method": self.method,
            "backup.coprs.esa.int/schedule": self.schedule,
            "backup.coprs.esa.int/retention-days": str(self.retention_days),
        }


def schedule_spec(b: Backup, storage_location: str = STORAGE_LOCATION) -> dict[str, Any]:
    """The Velero `Schedule.spec` (velero.io/v1, Velero 1.18) for a backup."""
    template: dict[str, Any] = {
        "includedNamespaces": [b.namespace],
        "ttl": b.ttl,
        "storageLocation": storage_location,
        "defaultVolumesToFsBackup": b.volumes,
        # No CSI/cloud snapshots: volumes go to the object store with Kopia, off the cluster's own Ceph.
        "snapshotVolumes": False,
    }
    if b.selector:
        template["labelSelector"] = {"matchLabels": dict(b.selector)}
    return {"schedule": b.schedule, "useOwnerReferencesInBackup": False, "template": template}


def record_data(b: Backup, bucket: str) -> dict[str, str]:
    """The record ConfigMap of an app-native backup."""
    return {
        "app": b.app,
        "method": b.method,
        "schedule": b.schedule,
        "retentionDays": str(b.retention_days),
        "bucket": bucket,
        "restore": b.restore,
    }


class AppContextLike(Protocol):
    """What `declare_backup` needs from the platform's AppContext."""

    cfg: Any

    def custom_resource(self, name: str, api_version: str, kind: str, spec: Any, *, namespace: Optional[str] = None,
                        cluster_scoped: bool = False, labels: Optional[dict] = None,
                        depends_on: tuple = ()) -> pulumi.Resource: ...

    def opts(self, *, namespace: Optional[str] = None, depends_on: tuple = (), crd_group: Optional[str] = None,
             **kw: Any) -> pulumi.ResourceOptions: ...


def declare_backup(ctx: AppContextLike, b: Backup) -> pulumi.Resource:
    """Declare an app's backup: a Velero Schedule, or the record of its app-native backup."""
    if b.method == "velero":
        return ctx.custom_resource(f"backup-{b.app}", VELERO_API, "Schedule", schedule_spec(b),
                                   namespace=VELERO_NAMESPACE, labels=b.labels)
    store = ctx.cfg.object_storage
    bucket = store.bucket(b.bucket) if store else f"<bucketPrefix>-{b.bucket}"
    return k8s.core.v1.ConfigMap(
        f"{b.app}-backup-record",
        metadata={"name": f"backup-{b.app}", "namespace": b.namespace, "labels": b.labels,
                  "annotations": b.annotations},
        data=record_data(b, bucket),
        opts=ctx.opts(namespace=b.namespace),
    )


# ---------------------------------------------------------------------------------------------
# the stack-level check


@dataclass(frozen=True)
class Seen:
    """A resource as the check sees it: from the mocked-run harness or from the policy pack."""

    type: str
    name: str
    props: Mapping[str, Any]


def seen(resources: Iterable[Any]) -> list[Seen]:
    """Adapt harness `Recorded` (type, name, inputs) or policy `PolicyResource` (resource_type, name, props)."""
    out = []
    for r in resources:
        if isinstance(r, Seen):
            out.append(r)
        elif hasattr(r, "resource_type"):
            out.append(Seen(r.resource_type, r.name, r.props or {}))
        else:
            out.append(Seen(r.type, r.name, r.inputs or {}))
    return out


def declared_backups(resources: Iterable[Any]) -> dict[str, Seen]:
    """app → its backup declaration (a Velero Schedule or a record ConfigMap with the backup label)."""
    found: dict[str, Seen] = {}
    for r in seen(resources):
        if r.type not in (SCHEDULE_TYPE, CONFIG_MAP_TYPE):
            continue
        labels = ((r.props.get("metadata") or {}).get("labels") or {})
        if isinstance(labels, dict) and labels.get(LABEL):
            found[labels[LABEL]] = r
    return found


def stateful_apps(resources: Iterable[Any], stateful: Optional[Iterable[str]] = None) -> set[str]:
    """The stateful apps deployed in the stack: `coprs:platform:App` components marked `stateful` (or named
    in `stateful`)."""
    wanted = set(stateful) if stateful is not None else None
    return {r.name for r in seen(resources) if r.type == APP_COMPONENT_TYPE
            and (r.name in wanted if wanted is not None else r.props.get("stateful") is True)}


def missing_backups(resources: Iterable[Any], stateful: Optional[Iterable[str]] = None) -> list[str]:
    """Stateful apps deployed without a backup declaration (empty when every one declared it)."""
    items = seen(resources)
    return sorted(stateful_apps(items, stateful) - set(declared_backups(items)))
