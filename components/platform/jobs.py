"""Configuration Jobs: an app's settings applied through its API by a one-shot Job, again whenever they change.

`config_job` declares, in the app's namespace: a ConfigMap of the settings (mounted at /config), a
ServiceAccount of its own (its mesh identity; no Kubernetes API token) and a Job named
`<name>-<hash of the settings and the image>`, so a change of either replaces the Job (Pulumi waits for it
to complete) and an unchanged configuration runs nothing. The pod is restricted (non-root, no
capabilities, read-only root filesystem) and, in meshed namespaces, its proxy is a native sidecar so the
Job can complete. Used by the realm import (Keycloak) and Graylog's inputs and login settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pulumi_kubernetes as k8s

from .app import AppContext, logical

NATIVE_SIDECAR = "config.beta.linkerd.io/proxy-enable-native-sidecar"
CONFIG_DIR = "/config"


@dataclass(frozen=True)
class ConfigJob:
    name: str  # of the ServiceAccount, and prefix of the Job
    image: str
    config_map: str  # name of the settings ConfigMap
    data: Mapping[str, str]  # its files
    env: tuple[Mapping[str, Any], ...] = ()
    env_from_secrets: tuple[str, ...] = ()
    command: Optional[tuple[str, ...]] = None
    secret_files: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # mount dir → (Secret, key)
    labels: Mapping[str, str] = field(default_factory=dict)  # of the ConfigMap (e.g. the realm label)
    user: int = 65534
    deadline_seconds: int = 1800


def config_job(ctx: AppContext, job: ConfigJob, depends_on: tuple = ()) -> k8s.batch.v1.Job:
    labels = {"app.kubernetes.io/part-of": "coprs", "app.kubernetes.io/name": job.name}
    config = k8s.core.v1.ConfigMap(
        logical(ctx.app.name, "config", job.config_map),
        metadata={"name": job.config_map, "namespace": ctx.namespace, "labels": {**labels, **job.labels}},
        data=dict(job.data),
        opts=ctx.opts(),
    )
    account = k8s.core.v1.ServiceAccount(
        logical(ctx.app.name, "job-sa", job.name),
        metadata={"name": job.name, "namespace": ctx.namespace, "labels": labels},
        automount_service_account_token=False,
        opts=ctx.opts(),
    )
    digest = hashlib.sha256(json.dumps([dict(job.data), job.image], sort_keys=True).encode()).hexdigest()[:10]
    mounts = [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}, {"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict] = [{"name": "config", "configMap": {"name": job.config_map}},
                           {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    for i, (path, (secret, key)) in enumerate(sorted(job.secret_files.items())):
        volumes.append({"name": f"secret-{i}", "secret": {"secretName": secret, "items": [{"key": key, "path": key}]}})
        mounts.append({"name": f"secret-{i}", "mountPath": path, "readOnly": True})
    container: dict[str, Any] = {
        "name": job.name,
        "image": job.image,
        "imagePullPolicy": "Always",
        "env": [dict(e) for e in job.env],
        "envFrom": [{"secretRef": {"name": s}} for s in job.env_from_secrets],
        "volumeMounts": mounts,
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if job.command:
        container["command"] = list(job.command)
    spec = {
        "backoffLimit": 4,
        "activeDeadlineSeconds": job.deadline_seconds,
        "template": {
            "metadata": {"labels": labels, "annotations": {NATIVE_SIDECAR: "true"}},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": job.name,
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": job.user, "runAsGroup": job.user,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
                "volumes": volumes,
            },
        },
    }
    return k8s.batch.v1.Job(
        logical(ctx.app.name, "job", job.name),
        metadata={"name": f"{job.name}-{digest}", "namespace": ctx.namespace, "labels": labels},
        spec=spec,
        opts=ctx.opts(depends_on=(config, account, *depends_on, *ctx.releases.values()), delete_before_replace=True),
    )
