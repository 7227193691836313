"""One baseline per platform namespace (`coprs:platform:Namespace`).

A baseline is: the Namespace object (the program is its single owner: Helm releases never create
namespaces), Pod Security Admission labels (enforce at the namespace's level, audit and warn at
`restricted` so anything weaker shows up), Linkerd injection where meshed, a default-deny NetworkPolicy
for ingress AND egress plus the allowed flows (see `flows.py`), a ResourceQuota and a LimitRange.

The namespaces and their levels are those of architecture §5 / components.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

import pulumi
import pulumi_kubernetes as k8s

from ..config import NamespaceConfig
from .flows import Flow, FlowEnvironment, policies_for

PodSecurity = Literal["restricted", "baseline", "privileged"]
PSA_VERSION = "v1.35"  # pinned to the cluster's minor version so a cluster upgrade never tightens silently


@dataclass(frozen=True)
class Quota:
    requests_cpu: str
    requests_memory: str
    limits_memory: str
    requests_storage: str
    pods: int
    persistent_volume_claims: int


@dataclass(frozen=True)
class ContainerDefaults:
    default_request_cpu: str = "50m"
    default_request_memory: str = "64Mi"
    default_memory: str = "512Mi"


@dataclass(frozen=True)
class NamespaceSpec:
    name: str
    kind: str  # the seed's namespace kind: main, backend, monitoring, processing, security
    pod_security: PodSecurity
    meshed: bool
    quota: Quota
    why: str = ""  # why the level is weaker than restricted, or why it is not meshed


def _q(cpu: str, mem: str, lmem: str, storage: str, pods: int, pvcs: int) -> Quota:
    return Quota(cpu, mem, lmem, storage, pods, pvcs)


NAMESPACES: tuple[NamespaceSpec, ...] = (
    NamespaceSpec("infra", "main", "restricted", True, _q("8", "16Gi", "48Gi", "2Ti", 200, 50)),
    NamespaceSpec("networking", "main", "baseline", True, _q("6", "8Gi", "24Gi", "100Gi", 100, 20),
                  "APISIX's image is not restricted-ready; the mesh itself uses linkerd2-cni"),
    NamespaceSpec("rook-ceph", "main", "privileged", False, _q("32", "96Gi", "160Gi", "100Gi", 200, 50),
                  "Ceph OSDs and CSI plugins need raw devices and host mounts; Ceph has its own TLS-free wire protocol, not meshed"),
    NamespaceSpec("database", "backend", "restricted", True, _q("16", "64Gi", "128Gi", "4Ti", 100, 50)),
    NamespaceSpec("monitoring", "monitoring", "restricted", True, _q("16", "64Gi", "128Gi", "2Ti", 150, 50)),
    NamespaceSpec("logging", "monitoring", "privileged", True, _q("16", "32Gi", "64Gi", "2Ti", 200, 50),
                  "Fluent Bit reads node logs through hostPath"),
    NamespaceSpec("processing", "processing", "restricted", True, _q("32", "128Gi", "256Gi", "2Ti", 500, 100)),
    NamespaceSpec("security", "security", "baseline", True, _q("16", "48Gi", "96Gi", "2Ti", 100, 50),
                  "the Graylog chart 1.0.0 has no security-context values and its Data Node image starts as root "
                  "(chown, then setpriv --init-groups to its user); audit/warn stay at restricted"),
    NamespaceSpec("falco", "security", "privileged", False, _q("8", "8Gi", "16Gi", "10Gi", 100, 5),
                  "Falco loads an eBPF probe on every node; a host sensor, not meshed"),
    NamespaceSpec("iam", "security", "restricted", True, _q("8", "16Gi", "32Gi", "200Gi", 50, 20)),
    NamespaceSpec("velero", "main", "privileged", False, _q("4", "10Gi", "64Gi", "10Gi", 60, 5),
                  "Velero's node agent reads pod volumes through hostPath as root (file-system backups); a host agent, not meshed"),
)


def spec_of(name: str) -> NamespaceSpec:
    return next(s for s in NAMESPACES if s.name == name)


def _quota_spec(spec: NamespaceSpec, cfg: NamespaceConfig) -> dict:
    q = cfg.quota
    pick = lambda over, default: default if over is None else over  # noqa: E731
    return {
        "hard": {
            "requests.cpu": pick(q.requests_cpu, spec.quota.requests_cpu),
            "requests.memory": pick(q.requests_memory, spec.quota.requests_memory),
            "limits.memory": pick(q.limits_memory, spec.quota.limits_memory),
            "requests.storage": pick(q.requests_storage, spec.quota.requests_storage),
            "pods": str(pick(q.pods, spec.quota.pods)),
            "persistentvolumeclaims": str(pick(q.persistent_volume_claims, spec.quota.persistent_volume_claims)),
        }
    }


def _limit_range_spec(cfg: NamespaceConfig) -> dict:
    d, c = ContainerDefaults(), cfg.limits
    return {
        "limits": [
            {
                "type": "Container",
                "defaultRequest": {
                    "cpu": c.default_request_cpu or d.default_request_cpu,
                    "memory": c.default_request_memory or d.default_request_memory,
                },
                "default": {"memory": c.default_memory or d.default_memory},
            }
        ]
    }


class Namespace(pulumi.ComponentResource):
    """A platform namespace with its baseline: PSA, mesh, default deny + flows, quota, limits."""

    def __init__(
        self,
        spec: NamespaceSpec,
        cfg: NamespaceConfig,
        flows: Iterable[Flow],
        env: FlowEnvironment,
        mesh: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("coprs:platform:Namespace", spec.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        name = spec.name
        labels = {
            "pod-security.kubernetes.io/enforce": spec.pod_security,
            "pod-security.kubernetes.io/enforce-version": PSA_VERSION,
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/audit-version": PSA_VERSION,
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": PSA_VERSION,
            "app.kubernetes.io/part-of": "coprs",
            "coprs.esa.int/namespace-kind": spec.kind,
        }
        annotations = {"linkerd.io/inject": "enabled" if (mesh and spec.meshed) else "disabled"}
        if mesh and spec.meshed:
            # Meshed pods only accept mTLS-authenticated clients unless a Server/AuthorizationPolicy says otherwise.
            annotations["config.linkerd.io/default-inbound-policy"] = "all-authenticated"
        self.namespace = k8s.core.v1.Namespace(
            name, metadata={"name": name, "labels": labels, "annotations": annotations}, opts=child
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        meta = lambda n: {"name": n, "namespace": name}  # noqa: E731
        self.policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-default-deny",
                metadata=meta("default-deny"),
                spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                opts=in_ns,
            )
        ]
        for policy_name, policy in policies_for(name, flows, env):
            self.policies.append(
                k8s.networking.v1.NetworkPolicy(f"{name}-{policy_name}", metadata=meta(policy_name), spec=policy, opts=in_ns)
            )
        self.quota = k8s.core.v1.ResourceQuota(f"{name}-quota", metadata=meta("platform-quota"), spec=_quota_spec(spec, cfg), opts=in_ns)
        self.limits = k8s.core.v1.LimitRange(f"{name}-limits", metadata=meta("platform-limits"), spec=_limit_range_spec(cfg), opts=in_ns)
        self.name = name
        self.register_outputs({"name": name})
