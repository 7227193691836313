"""Shared mechanics of the backend data services (PostgreSQL, Kafka, MongoDB, Elasticsearch) and their operators.

- Pod Security `restricted` contexts for the pods the operators create (set explicitly in every CR);
- required pod anti-affinity across a service's pods (prod), storage sizes honouring `storageGb`;
- generated passwords (pulumi-random) and the Secrets holding them (never a literal);
- an internal CA per service (pulumi-tls: its certificate goes into the clients' Secrets as `ca.crt`)
  handed to the operator (CNPG, Strimzi) or to a cert-manager CA Issuer that issues and rotates the
  server certificate (Elasticsearch, MongoDB);
- the in-cluster "settings" Job: idempotent API calls (curl) in a pinned, restricted image, re-run when
  its definition changes (the Job's name carries a hash of its script and inputs).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from .app import AppContext, logical

RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": RUNTIME_DEFAULT}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": RUNTIME_DEFAULT,
}
CERT_API = "cert-manager.io/v1"
# curl in a pinned, small, non-root image (curlimages/curl runs as uid 100 "curl_user").
CURL_IMAGE = "docker.io/curlimages/curl:8.17.0"
CURL_UID = 100
NATIVE_SIDECAR = "config.beta.linkerd.io/proxy-enable-native-sidecar"


def restricted_container(**extra: Any) -> dict:
    return {**RESTRICTED_CONTAINER, **extra}


def restricted_pod(uid: Optional[int] = None, **extra: Any) -> dict:
    ctx = dict(RESTRICTED_POD)
    if uid is not None:
        ctx.update(runAsUser=uid, runAsGroup=uid, fsGroup=uid)
    return {**ctx, **extra}


def pod_anti_affinity(labels: Mapping[str, str], required: bool = True) -> dict:
    """One pod of the set per node: required in prod (2023: required anti-affinity on every data service)."""
    term = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": "kubernetes.io/hostname"}
    if required:
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]}}


def placement(ctx: AppContext, labels: Mapping[str, str]) -> dict:
    """Infra nodes, and one pod per node when there is more than one replica in prod."""
    return {**ctx.affinity(), **(pod_anti_affinity(labels, ctx.prod))}


def storage_gb(ctx: AppContext, default: int) -> str:
    """`platform.apps.<app>.storageGb` over the app's default (`ctx.storage_gb`), as a quantity."""
    return f"{ctx.storage_gb(default)}Gi"


def password(ctx: AppContext, name: str, *, length: int = 32, protect: bool = False) -> pulumi.Output[str]:
    return random.RandomPassword(
        logical(ctx.app.name, name), length=length, special=False,
        opts=pulumi.ResourceOptions(parent=ctx.component, protect=protect),
    ).result


def secret(ctx: AppContext, name: str, data: Mapping[str, Any], *, namespace: Optional[str] = None,
           type_: str = "Opaque", labels: Optional[Mapping[str, str]] = None,
           annotations: Optional[Mapping[str, str]] = None, depends_on: tuple = ()) -> k8s.core.v1.Secret:
    ns = namespace or ctx.namespace
    meta: dict[str, Any] = {"name": name, "namespace": ns,
                            "labels": {"app.kubernetes.io/part-of": "coprs", **(labels or {})}}
    if annotations:
        meta["annotations"] = dict(annotations)
    return k8s.core.v1.Secret(
        logical(ctx.app.name, "secret", ns, name),
        metadata=meta,
        type=type_,
        string_data=pulumi.Output.secret(dict(data)),
        opts=ctx.opts(namespace=ns, depends_on=depends_on),
    )


def credentials(ctx: AppContext, name: str, values: Mapping[str, Any]) -> None:
    """Record admin credentials for the stack's `credentials` output (secret)."""
    ctx.secret_values[name] = dict(values)


class InternalCa:
    """A service's own CA (pulumi-tls, ECDSA P-256 or RSA 4096, 10 years): the key stays in the state (secret)
    and the cluster."""

    def __init__(self, ctx: AppContext, name: str, common_name: str, algorithm: str = "ECDSA"):
        child = pulumi.ResourceOptions(parent=ctx.component)
        key_args = {"ecdsa_curve": "P256"} if algorithm == "ECDSA" else {"rsa_bits": 4096}
        self.key = tls.PrivateKey(logical(ctx.app.name, name, "ca-key"), algorithm=algorithm, **key_args, opts=child)
        self.cert = tls.SelfSignedCert(
            logical(ctx.app.name, name, "ca"),
            private_key_pem=self.key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=87600,
            early_renewal_hours=8760,
            allowed_uses=["cert_signing", "crl_signing"],
            subject={"common_name": common_name, "organization": "coprs"},
            opts=child,
        )
        self.cert_pem: pulumi.Output[str] = self.cert.cert_pem
        self.key_pem: pulumi.Output[str] = self.key.private_key_pem
        self.key_pkcs8: pulumi.Output[str] = self.key.private_key_pem_pkcs8


def cert_manager_server_tls(ctx: AppContext, name: str, ca: InternalCa, dns_names: list[str],
                            namespace: Optional[str] = None) -> pulumi.Resource:
    """CA Secret → namespaced CA Issuer → server Certificate into Secret `<name>-tls` (tls.crt, tls.key, ca.crt)."""
    ns = namespace or ctx.namespace
    ca_secret = secret(ctx, f"{name}-ca", {"tls.crt": ca.cert_pem, "tls.key": ca.key_pem}, namespace=ns,
                       type_="kubernetes.io/tls")
    issuer = ctx.custom_resource(f"{name}-ca", CERT_API, "Issuer", {"ca": {"secretName": f"{name}-ca"}},
                                 namespace=ns, depends_on=(ca_secret,))
    return ctx.custom_resource(
        f"{name}-tls", CERT_API, "Certificate",
        {
            "secretName": f"{name}-tls",
            "commonName": dns_names[0],
            "dnsNames": dns_names,
            "duration": "2160h",
            "renewBefore": "360h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
            "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": f"{name}-ca"},
        },
        namespace=ns, depends_on=(issuer,),
    )


def settings_job(ctx: AppContext, name: str, script: str, *, env: list[dict], volumes: list[dict],
                 mounts: list[dict], inputs: Any, depends_on: tuple = ()) -> k8s.batch.v1.Job:
    """An idempotent in-cluster Job (PUTs are idempotent) whose name changes with its definition.

    Kubernetes Jobs are immutable: a new name per definition makes a changed script or input run again,
    and Pulumi replaces (deletes) the old one. Finished Jobs are kept a day for their logs.
    """
    digest = hashlib.sha256(json.dumps({"script": script, "inputs": inputs, "image": CURL_IMAGE},
                                       sort_keys=True).encode()).hexdigest()[:8]
    job = f"{name}-{digest}"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "coprs",
              "app.kubernetes.io/component": "settings"}
    account = k8s.core.v1.ServiceAccount(
        logical(ctx.app.name, "sa", name),
        metadata={"name": name, "namespace": ctx.namespace, "labels": labels},
        automount_service_account_token=False,
        opts=ctx.opts(),
    )
    return k8s.batch.v1.Job(
        logical(ctx.app.name, "job", name),
        metadata={"name": job, "namespace": ctx.namespace, "labels": labels},
        spec={
            "backoffLimit": 20,
            "activeDeadlineSeconds": 3600,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels,
                             # meshed (the servers only accept mTLS clients) with the proxy as a native
                             # sidecar, so the Job completes when its container does (Linkerd >= 2.19)
                             "annotations": {NATIVE_SIDECAR: "true"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "securityContext": restricted_pod(CURL_UID),
                    "affinity": ctx.affinity(),
                    "containers": [{
                        "name": "settings",
                        "image": CURL_IMAGE,
                        "imagePullPolicy": "Always",
                        "command": ["/bin/sh", "-ec", script],
                        "env": env,
                        "volumeMounts": mounts,
                        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                        "securityContext": restricted_container(readOnlyRootFilesystem=True),
                    }],
                    "volumes": volumes,
                },
            },
        },
        opts=ctx.opts(depends_on=(*depends_on, account), replace_on_changes=["*"], delete_before_replace=False),
    )

