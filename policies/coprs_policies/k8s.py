"""Kubernetes facts every Kubernetes, Helm and stack rule shares: type tokens, namespaces, pod specs,
images and Pod Security Admission levels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from .base import Res, as_list, dotted, get, is_map, opt, strings, walk

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART = "kubernetes:helm.sh/v4:Chart"
HELM_TYPES = (HELM_RELEASE, HELM_CHART)
NON_OBJECT_MODULES = {"helm.sh", "yaml", "kustomize", "providers"}

CLUSTER_SCOPED = {
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "PriorityClass", "RuntimeClass", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "IngressClass", "GatewayClass", "VolumeSnapshotClass", "CertificateSigningRequest", "FlowSchema",
    "PriorityLevelConfiguration", "ComponentStatus", "IPAddress", "ServiceCIDR",
}
SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease", "default"]

LEVELS = ("privileged", "baseline", "restricted")
DEFAULT_LEVELS = {
    "kube-system": "privileged",
    "rook-ceph": "privileged",
    "logging": "privileged",
    "falco": "privileged",
    "velero": "privileged",  # the node agent reads pod volumes through hostPath (Kopia file-system backups)
    "networking": "baseline",
    "infra": "restricted",
    "database": "restricted",
    "monitoring": "restricted",
    "processing": "restricted",
    # Graylog 7's chart 1.0.0 has no security-context values and its Data Node starts as root (then drops to its user)
    "security": "baseline",
    "iam": "restricted",
}
LEVELS_SCHEMA = {
    "namespaceLevels": {
        "type": "object",
        "description": "Pod Security level each namespace enforces (the rule applies where the level asks for it)",
        "additionalProperties": {"type": "string", "enum": list(LEVELS)},
        "default": DEFAULT_LEVELS,
    },
    "defaultLevel": {"type": "string", "enum": list(LEVELS), "default": "restricted",
                     "description": "level of a namespace missing from namespaceLevels"},
}


def module_of(t: str) -> str:
    parts = t.split(":")
    return parts[1].split("/")[0] if len(parts) == 3 else ""


def kind_of(t: str) -> Optional[str]:
    """`kubernetes:apps/v1:DeploymentPatch` → `Deployment`; None for providers, Helm and YAML components."""
    parts = t.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or module_of(t) in NON_OBJECT_MODULES:
        return None
    kind = parts[2]
    return kind[: -len("Patch")] if kind.endswith("Patch") and len(kind) > 5 else kind


def is_kind(t: str, *kinds: str, group: Optional[str] = None) -> bool:
    return kind_of(t) in kinds and (group is None or module_of(t) == group)


def cluster_scoped(t: str) -> bool:
    kind = kind_of(t) or ""
    # ClusterRole, ClusterIssuer, ... but not CloudNativePG's namespaced `Cluster`
    return kind in CLUSTER_SCOPED or (kind.startswith("Cluster") and kind[7:8].isupper())


def namespace_of(res: Res) -> Optional[str]:
    """Namespace of a namespaced object or Helm release (explicit, else the provider's, else `default`)."""
    if res.type in HELM_TYPES:
        ns = opt(res.props, "namespace")
    elif kind_of(res.type) is None or cluster_scoped(res.type):
        return None
    else:
        ns = opt(res.props, "metadata.namespace")
    if not ns and res.provider_props is not None:
        ns = opt(res.provider_props, "namespace")
    return ns if isinstance(ns, str) and ns else "default"


def scope_of(res: Res) -> Optional[str]:
    """The namespace exemptions match: the object's namespace, or a Namespace's own name."""
    return name_of(res) if is_kind(res.type, "Namespace", group="core") else namespace_of(res)


def name_of(res: Res) -> str:
    n = opt(res.props, "metadata.name") if kind_of(res.type) else opt(res.props, "name")
    return n if isinstance(n, str) and n else res.name


def level_of(namespace: Optional[str], cfg: dict) -> str:
    levels = cfg.get("namespaceLevels") or {}
    return levels.get(namespace or "default", cfg.get("defaultLevel", "restricted"))


def at_least(level: str, floor: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(floor)


# ---------------------------------------------------------------------------------------------
# pod specs


POD_PATHS = {
    "Pod": ("spec", "metadata"),
    "Deployment": ("spec.template.spec", "spec.template.metadata"),
    "StatefulSet": ("spec.template.spec", "spec.template.metadata"),
    "DaemonSet": ("spec.template.spec", "spec.template.metadata"),
    "ReplicaSet": ("spec.template.spec", "spec.template.metadata"),
    "ReplicationController": ("spec.template.spec", "spec.template.metadata"),
    "Job": ("spec.template.spec", "spec.template.metadata"),
    "CronJob": ("spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata"),
    "PodTemplate": ("template.spec", "template.metadata"),
}
WORKLOAD_GROUPS = {"core", "apps", "batch"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass
class PodSpec:
    spec: Any
    meta: Any
    where: str  # path of the pod spec inside the resource, for messages
    partial: bool  # an operator's pod template (ECK, Strimzi): the operator fills in what is left unset


def typed_workload(t: str) -> bool:
    return kind_of(t) in POD_PATHS and module_of(t) in WORKLOAD_GROUPS


def has_pods(t: str) -> bool:
    group = module_of(t)
    return typed_workload(t) or (kind_of(t) is not None and (
        group.endswith("k8s.elastic.co") or (group == "kafka.strimzi.io" and kind_of(t) in ("Kafka", "KafkaNodePool"))
    ))


def _strimzi(template: Any, where: str, container: str) -> Optional[PodSpec]:
    if not is_map(template):
        return None
    pod = get(template, "pod") or {}
    ctr = get(template, f"{container}Container") or {}
    spec = {"securityContext": get(pod, "securityContext") or {},
            "containers": [{"name": container, "securityContext": get(ctr, "securityContext") or {},
                            "env": get(ctr, "env") or []}]}
    return PodSpec(spec, get(pod, "metadata"), where, True)


def pod_specs(res: Res) -> list[PodSpec]:
    kind, group, p = kind_of(res.type), module_of(res.type), res.props
    out: list[PodSpec] = []
    if typed_workload(res.type):
        spath, mpath = POD_PATHS[kind]
        spec = get(p, spath)
        if is_map(spec):
            out.append(PodSpec(spec, get(p, mpath), spath, False))
    elif group.endswith("k8s.elastic.co"):
        for i, ns in enumerate(as_list(get(p, "spec.nodeSets"))):
            spec = get(ns, "podTemplate.spec")
            if is_map(spec):
                out.append(PodSpec(spec, get(ns, "podTemplate.metadata"), f"spec.nodeSets[{i}].podTemplate.spec", True))
        for path in ("spec.podTemplate", "spec.deployment.podTemplate", "spec.daemonSet.podTemplate"):
            spec = get(p, path + ".spec")
            if is_map(spec):
                out.append(PodSpec(spec, get(p, path + ".metadata"), path + ".spec", True))
    elif group == "kafka.strimzi.io":
        base = "spec.kafka.template" if kind == "Kafka" else "spec.template"
        hit = _strimzi(get(p, base), base, "kafka")
        if hit:
            out.append(hit)
    return out


def containers(pod: PodSpec) -> Iterator[tuple[str, Any]]:
    """(`containers[0] 'app'`, container) for init, regular and ephemeral containers."""
    for lst in CONTAINER_LISTS:
        for i, c in enumerate(as_list(get(pod.spec, lst))):
            if is_map(c):
                name = opt(c, "name") or "?"
                yield f"{lst}[{i}] '{name}'", c


def pod_labels(pod: PodSpec) -> dict:
    labels = opt(pod.meta, "labels") if pod.meta is not None else None
    return {k: v for k, v in (labels or {}).items()} if is_map(labels) else {}


# ---------------------------------------------------------------------------------------------
# images

MUTABLE_TAGS = {"latest", "stable", "main", "master", "edge", "dev", "nightly", "head", "develop"}


@dataclass
class Image:
    ref: str
    registry: str
    repository: str
    tag: Optional[str]
    digest: Optional[str]


def parse_image(ref: str) -> Image:
    name, _, digest = ref.partition("@")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
    return Image(ref, registry, path, tag or None, digest or None)


def image_refs(res: Res) -> Iterator[tuple[str, str]]:
    """(where, image) for every container image of a workload and every `image`/`imageName` of a CR spec."""
    for pod in pod_specs(res):
        for where, c in containers(pod):
            img = opt(c, "image")
            if isinstance(img, str) and img:
                yield f"{pod.where}.{where}", img
    if kind_of(res.type) and not typed_workload(res.type) and module_of(res.type) not in WORKLOAD_GROUPS:
        for path, value in walk(get(res.props, "spec"), ("spec",)):
            if path and path[-1] in ("image", "imageName") and isinstance(value, str) and value:
                if not any(isinstance(x, str) and x in CONTAINER_LISTS for x in path):
                    yield dotted(path), value


def registries_schema() -> dict:
    return strings(
        "registries images may come from (prefix match on registry/repository)",
        ["docker.io", "quay.io", "ghcr.io", "registry.k8s.io", "docker.elastic.co", "cr.fluentbit.io",
         "cr.l5d.io", "apache", "ghcr.io/cloudnative-pg", "ghcr.io/grafana", "public.ecr.aws", "gcr.io"],
    )


def registry_allowed(img: Image, allowed: list[str]) -> bool:
    full = f"{img.registry}/{img.repository}"
    return any(full == a or full.startswith(a.rstrip("/") + "/") or img.registry == a for a in allowed)


def selector_matches(selector: Any, labels: dict) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels; `{}` selects everything."""
    if not is_map(selector):
        return selector is None
    for k, v in (opt(selector, "matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in as_list(opt(selector, "matchExpressions")):
        key, op, values = opt(e, "key"), opt(e, "operator"), list(opt(e, "values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


HOST_RE = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def host_covered(host: str, names: list[str]) -> bool:
    for n in names:
        if n == host:
            return True
        if n.startswith("*.") and host.count(".") == n.count(".") and host.endswith(n[1:]):
            return True
    return False

